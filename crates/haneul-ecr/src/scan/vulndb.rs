//! The vulnerability database scans match against: OSV records (https://ossf.github.io/osv-schema/)
//! from `--vuln-db`, a JSON file (one record or an array) or a directory of them. Only the
//! distributions' ecosystems are used: `Debian:<version>`, `Ubuntu:<version>`, `Alpine:v<x.y>`.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::packages::{Inventory, Manager, Package};
use super::version::{apk_cmp, dpkg_cmp};

/// The largest database file read.
const MAX_DB_FILE_BYTES: u64 = 512 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
pub struct OsvRecord {
    pub id: String,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub modified: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub severity: Vec<OsvSeverity>,
    #[serde(default)]
    pub affected: Vec<OsvAffected>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
    #[serde(default)]
    pub references: Vec<OsvReference>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OsvSeverity {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OsvReference {
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OsvAffected {
    pub package: OsvPackage,
    #[serde(default)]
    pub ranges: Vec<OsvRange>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub ecosystem_specific: Option<serde_json::Value>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OsvPackage {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OsvRange {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, thiserror::Error)]
pub enum VulnDbError {
    #[error("cannot read the vulnerability database {path}: {reason}")]
    Read { path: String, reason: String },
}

/// Records indexed by (ecosystem, package name).
#[derive(Debug, Default)]
pub struct VulnDb {
    records: Vec<OsvRecord>,
    by_package: HashMap<(String, String), Vec<(usize, usize)>>,
    /// The newest `modified` of any record (vulnerabilitySourceUpdatedAt), epoch seconds.
    pub updated_at_s: Option<f64>,
}

/// One vulnerable package of an image.
#[derive(Debug, Clone)]
pub struct Match<'a> {
    pub record: &'a OsvRecord,
    pub affected: &'a OsvAffected,
    pub package: Package,
}

impl VulnDb {
    pub fn open(path: &Path) -> Result<VulnDb, VulnDbError> {
        let err = |reason: String| VulnDbError::Read {
            path: path.display().to_string(),
            reason,
        };
        let mut records = Vec::new();
        let files: Vec<std::path::PathBuf> = if path.is_dir() {
            let mut v: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| err(e.to_string()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            v.sort();
            v
        } else {
            vec![path.to_path_buf()]
        };
        for file in files {
            let len = std::fs::metadata(&file).map_err(|e| err(e.to_string()))?.len();
            if len > MAX_DB_FILE_BYTES {
                return Err(err(format!(
                    "{} is larger than {MAX_DB_FILE_BYTES} bytes",
                    file.display()
                )));
            }
            let text = std::fs::read_to_string(&file).map_err(|e| err(format!("{}: {e}", file.display())))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| err(format!("{}: {e}", file.display())))?;
            let items = match value {
                serde_json::Value::Array(items) => items,
                one => vec![one],
            };
            for item in items {
                let record: OsvRecord = serde_json::from_value(item)
                    .map_err(|e| err(format!("{}: not an OSV record: {e}", file.display())))?;
                records.push(record);
            }
        }
        Ok(VulnDb::from_records(records))
    }

    pub fn from_records(records: Vec<OsvRecord>) -> VulnDb {
        let mut by_package: HashMap<(String, String), Vec<(usize, usize)>> = HashMap::new();
        for (r, record) in records.iter().enumerate() {
            for (a, affected) in record.affected.iter().enumerate() {
                let key = (affected.package.ecosystem.clone(), affected.package.name.clone());
                by_package.entry(key).or_default().push((r, a));
            }
        }
        let updated_at_s = records
            .iter()
            .filter_map(|r| r.modified.as_deref().and_then(haneul_wire::value::parse_timestamp))
            .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
        VulnDb {
            records,
            by_package,
            updated_at_s,
        }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The OSV ecosystem of an inventory (`Debian:12`, `Ubuntu:22.04`, `Alpine:v3.18`).
    pub fn ecosystem(inv: &Inventory) -> Option<String> {
        match (inv.os_id.as_str(), inv.manager) {
            ("debian", Manager::Dpkg) => Some(format!("Debian:{}", inv.os_version.split('.').next().unwrap_or(""))),
            ("ubuntu", Manager::Dpkg) => Some(format!("Ubuntu:{}", inv.os_version)),
            ("alpine", Manager::Apk) => {
                let mut parts = inv.os_version.split('.');
                let (major, minor) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                Some(format!("Alpine:v{major}.{minor}"))
            }
            _ => None,
        }
    }

    /// Every vulnerable package of `inv`, one match per (record, package).
    pub fn matches<'a>(&'a self, inv: &Inventory) -> Vec<Match<'a>> {
        let Some(ecosystem) = VulnDb::ecosystem(inv) else {
            return Vec::new();
        };
        let cmp = match inv.manager {
            Manager::Dpkg => dpkg_cmp,
            Manager::Apk => apk_cmp,
        };
        let mut out = Vec::new();
        for package in &inv.packages {
            let mut names = vec![package.source.as_str()];
            if package.name != package.source {
                names.push(package.name.as_str());
            }
            for name in names {
                let Some(hits) = self.by_package.get(&(ecosystem.clone(), name.to_string())) else {
                    continue;
                };
                for &(r, a) in hits {
                    let affected = &self.records[r].affected[a];
                    if is_affected(affected, &package.version, cmp) {
                        out.push(Match {
                            record: &self.records[r],
                            affected,
                            package: package.clone(),
                        });
                    }
                }
                break;
            }
        }
        out
    }
}

/// OSV's rule: listed versions, or an ECOSYSTEM range whose events put `version` at or after
/// an `introduced` and before the next `fixed` (or below a `last_affected` inclusive).
fn is_affected(a: &OsvAffected, version: &str, cmp: fn(&str, &str) -> std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    if a.versions.iter().any(|v| cmp(v, version) == Equal) {
        return true;
    }
    for range in a.ranges.iter().filter(|r| r.kind == "ECOSYSTEM") {
        let mut inside = false;
        for event in &range.events {
            let get = |k: &str| event.get(k).and_then(|v| v.as_str());
            if let Some(intro) = get("introduced") {
                if intro == "0" || cmp(version, intro) != Less {
                    inside = true;
                }
            } else if let Some(fixed) = get("fixed") {
                if inside && cmp(version, fixed) != Less {
                    inside = false;
                }
            } else if let Some(last) = get("last_affected") {
                if inside && cmp(version, last) == Greater {
                    inside = false;
                }
            }
        }
        if inside {
            return true;
        }
    }
    false
}

/// ECR basic scanning's severity of a match: the distribution's own rating when the record
/// carries one, else the CVSS v3 base score's rating.
pub fn severity(m: &Match<'_>) -> (String, Option<(String, f64)>) {
    let named = [
        m.affected.ecosystem_specific.as_ref(),
        m.affected.database_specific.as_ref(),
        m.record.database_specific.as_ref(),
    ]
    .into_iter()
    .flatten()
    .find_map(|v| v.get("severity").or_else(|| v.get("urgency")).and_then(|s| s.as_str()))
    .map(normalize);
    let cvss = m
        .record
        .severity
        .iter()
        .find(|s| s.kind == "CVSS_V3")
        .and_then(|s| cvss3_base_score(&s.score).map(|score| (s.score.clone(), score)));
    let rating = named
        .flatten()
        .or_else(|| cvss.as_ref().map(|(_, score)| rating(*score).to_string()))
        .unwrap_or_else(|| "UNDEFINED".to_string());
    (rating, cvss)
}

fn normalize(s: &str) -> Option<String> {
    let up = s.to_ascii_uppercase();
    match up.as_str() {
        "CRITICAL" | "HIGH" | "MEDIUM" | "LOW" => Some(up),
        "MODERATE" => Some("MEDIUM".into()),
        "NEGLIGIBLE" | "UNIMPORTANT" | "INFORMATIONAL" => Some("INFORMATIONAL".into()),
        _ => None,
    }
}

fn rating(score: f64) -> &'static str {
    match score {
        s if s >= 9.0 => "CRITICAL",
        s if s >= 7.0 => "HIGH",
        s if s >= 4.0 => "MEDIUM",
        s if s > 0.0 => "LOW",
        _ => "INFORMATIONAL",
    }
}

/// The CVSS v3.x base score of a vector (`CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H` → 9.8).
pub fn cvss3_base_score(vector: &str) -> Option<f64> {
    let mut m: HashMap<&str, &str> = HashMap::new();
    let mut parts = vector.split('/');
    if !parts.next()?.starts_with("CVSS:3") {
        return None;
    }
    for p in parts {
        let (k, v) = p.split_once(':')?;
        m.insert(k, v);
    }
    let changed = *m.get("S")? == "C";
    let av = match *m.get("AV")? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        _ => return None,
    };
    let ac = match *m.get("AC")? {
        "L" => 0.77,
        "H" => 0.44,
        _ => return None,
    };
    let pr = match (*m.get("PR")?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let ui = match *m.get("UI")? {
        "N" => 0.85,
        "R" => 0.62,
        _ => return None,
    };
    let cia = |k: &str| match m.get(k).copied() {
        Some("H") => Some(0.56),
        Some("L") => Some(0.22),
        Some("N") => Some(0.0),
        _ => None,
    };
    let iss = 1.0 - (1.0 - cia("C")?) * (1.0 - cia("I")?) * (1.0 - cia("A")?);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02f64).powi(15)
    } else {
        6.42 * iss
    };
    if impact <= 0.0 {
        return Some(0.0);
    }
    let exploitability = 8.22 * av * ac * pr * ui;
    let raw = if changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Some(round_up(raw))
}

/// CVSS's Roundup: the smallest one-decimal number ≥ x.
fn round_up(x: f64) -> f64 {
    let int = (x * 100_000.0).round() as i64;
    if int % 10_000 == 0 {
        int as f64 / 100_000.0
    } else {
        ((int / 10_000) + 1) as f64 / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss3_scores_match_nvd() {
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"),
            Some(6.1)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"),
            Some(5.5)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"),
            Some(0.0)
        );
        assert_eq!(cvss3_base_score("CVSS:2.0/AV:N"), None);
    }

    #[test]
    fn ranges_follow_osv() {
        let a: OsvAffected = serde_json::from_value(serde_json::json!({
            "package": {"ecosystem": "Debian:12", "name": "openssl"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u1"}]}]
        }))
        .unwrap();
        assert!(is_affected(&a, "3.0.9-1", dpkg_cmp));
        assert!(!is_affected(&a, "3.0.11-1~deb12u1", dpkg_cmp));
        assert!(!is_affected(&a, "3.0.11-1~deb12u2", dpkg_cmp));
    }
}

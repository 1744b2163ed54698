//! What an image has installed: its layers are read in order (gzip or plain tar), keeping the
//! last copy of `etc/os-release` (or `usr/lib/os-release`), dpkg's `var/lib/dpkg/status` (and
//! distroless `var/lib/dpkg/status.d/*`) and apk's `lib/apk/db/installed`; whiteouts remove them.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// The largest package database file read (a Debian desktop's status file is ~3 MiB).
const MAX_DB_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Most tar entries one layer may have before the scan gives up on it.
const MAX_ENTRIES_PER_LAYER: usize = 2_000_000;

/// An installed package.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    pub name: String,
    /// The source package (dpkg `Source:`, apk `o:`), which OSV records name.
    pub source: String,
    pub version: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Manager {
    Dpkg,
    Apk,
}

#[derive(Debug)]
pub struct Inventory {
    /// `ID` and `VERSION_ID` of os-release (`debian`, `12`).
    pub os_id: String,
    pub os_version: String,
    pub manager: Manager,
    pub packages: Vec<Package>,
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read layer {0}: {1}")]
    Layer(String, String),
    #[error("The operating system and/or package manager are not supported.")]
    Unsupported,
}

/// Files of interest, by path, as the top layer leaves them.
type Files = BTreeMap<String, Vec<u8>>;

fn interesting(path: &str) -> bool {
    path == "etc/os-release"
        || path == "usr/lib/os-release"
        || path == "var/lib/dpkg/status"
        || path.starts_with("var/lib/dpkg/status.d/")
        || path == "lib/apk/db/installed"
}

/// Reads the layers (bottom first) of an image.
pub fn inventory(layers: &[std::path::PathBuf]) -> Result<Inventory, InventoryError> {
    let mut files = Files::new();
    for layer in layers {
        read_layer(layer, &mut files).map_err(|e| InventoryError::Layer(layer.display().to_string(), e.to_string()))?;
    }
    let release = files
        .get("etc/os-release")
        .or_else(|| files.get("usr/lib/os-release"))
        .map(|b| os_release(&String::from_utf8_lossy(b)))
        .unwrap_or_default();
    let (os_id, os_version) = release;
    let mut packages = Vec::new();
    let manager = if let Some(db) = files.get("lib/apk/db/installed") {
        packages.extend(apk_installed(&String::from_utf8_lossy(db)));
        Manager::Apk
    } else {
        let mut any = false;
        for (path, body) in &files {
            if path == "var/lib/dpkg/status" || path.starts_with("var/lib/dpkg/status.d/") {
                any = true;
                packages.extend(dpkg_status(&String::from_utf8_lossy(body)));
            }
        }
        if !any {
            return Err(InventoryError::Unsupported);
        }
        Manager::Dpkg
    };
    if os_id.is_empty() {
        return Err(InventoryError::Unsupported);
    }
    Ok(Inventory {
        os_id,
        os_version,
        manager,
        packages,
    })
}

fn read_layer(path: &Path, files: &mut Files) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    drop(file);
    let file = std::fs::File::open(path)?;
    let reader: Box<dyn Read> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    let mut archive = tar::Archive::new(reader);
    for (count, entry) in archive.entries()?.enumerate() {
        if count >= MAX_ENTRIES_PER_LAYER {
            break;
        }
        let mut entry = entry?;
        let raw = entry.path()?.to_string_lossy().into_owned();
        let path = raw.trim_start_matches("./").trim_start_matches('/').to_string();
        let (dir, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if let Some(hidden) = base.strip_prefix(".wh.") {
            if hidden == ".wh..opq" {
                let prefix = format!("{dir}/");
                files.retain(|k, _| !k.starts_with(&prefix));
            } else {
                let gone = if dir.is_empty() {
                    hidden.to_string()
                } else {
                    format!("{dir}/{hidden}")
                };
                files.remove(&gone);
                let prefix = format!("{gone}/");
                files.retain(|k, _| !k.starts_with(&prefix));
            }
            continue;
        }
        if !interesting(&path) || !entry.header().entry_type().is_file() || entry.size() > MAX_DB_FILE_BYTES {
            continue;
        }
        let mut body = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut body)?;
        files.insert(path, body);
    }
    Ok(())
}

fn os_release(text: &str) -> (String, String) {
    let mut id = String::new();
    let mut version = String::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else { continue };
        let v = v.trim().trim_matches('"').to_string();
        match k.trim() {
            "ID" => id = v,
            "VERSION_ID" => version = v,
            _ => {}
        }
    }
    (id, version)
}

/// Installed packages of a dpkg status file.
pub fn dpkg_status(text: &str) -> Vec<Package> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        for line in para.lines() {
            if line.starts_with(' ') || line.starts_with('\t') {
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                fields.insert(k.trim(), v.trim());
            }
        }
        let installed = fields
            .get("Status")
            .is_none_or(|s| s.ends_with("installed") && !s.contains("not-installed"));
        let (Some(name), Some(version)) = (fields.get("Package"), fields.get("Version")) else {
            continue;
        };
        if !installed {
            continue;
        }
        // `Source: name (version)` when the source's version differs from the binary's.
        let source = fields
            .get("Source")
            .map(|s| s.split_whitespace().next().unwrap_or(name))
            .unwrap_or(name);
        out.push(Package {
            name: name.to_string(),
            source: source.to_string(),
            version: version.to_string(),
        });
    }
    out
}

/// Installed packages of apk's database.
pub fn apk_installed(text: &str) -> Vec<Package> {
    let mut out = Vec::new();
    for para in text.split("\n\n") {
        let (mut name, mut version, mut origin) = (None, None, None);
        for line in para.lines() {
            match line.split_once(':') {
                Some(("P", v)) => name = Some(v.to_string()),
                Some(("V", v)) => version = Some(v.to_string()),
                Some(("o", v)) => origin = Some(v.to_string()),
                _ => {}
            }
        }
        if let (Some(name), Some(version)) = (name, version) {
            out.push(Package {
                source: origin.unwrap_or_else(|| name.clone()),
                name,
                version,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dpkg_and_apk_databases() {
        let status = "Package: libssl3\nStatus: install ok installed\nSource: openssl\nVersion: 3.0.9-1\nDescription: x\n continued\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\n";
        let p = dpkg_status(status);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].source, "openssl");
        assert_eq!(p[1].source, "bash");
        let apk = "C:Q1x\nP:libcrypto3\nV:3.1.4-r0\no:openssl\n\nP:musl\nV:1.2.4-r2\n";
        let p = apk_installed(apk);
        assert_eq!(p[0].source, "openssl");
        assert_eq!(p[1].name, "musl");
        assert_eq!(
            os_release("ID=debian\nVERSION_ID=\"12\"\n"),
            ("debian".into(), "12".into())
        );
    }
}

//! Basic image scanning, as ECR's: the OS packages an image's layers install ([`packages`])
//! matched against OSV records ([`vulndb`], `--vuln-db`) by the distribution's own version
//! order ([`version`]). A scan runs in the background after StartImageScan or a push to a
//! repository with scanOnPush; its result is stored per image and read by
//! DescribeImageScanFindings and DescribeImages.

pub mod packages;
pub mod version;
pub mod vulndb;

use std::collections::BTreeMap;
use std::sync::Arc;

use haneul_store::{Scope, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::blobs::BlobStore;
use crate::model::{child_id, Image};
use vulndb::VulnDb;

/// One stored scan per image: `repo␁digest`.
pub const KIND_SCAN: &str = "ecr.scan";
/// StartImageScan may scan an image once in this long (ECR's quota).
pub const SCAN_QUOTA_S: f64 = 24.0 * 3600.0;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub name: String,
    pub description: Option<String>,
    pub uri: Option<String>,
    pub severity: String,
    pub attributes: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanRecord {
    pub status: String,
    pub description: String,
    pub started_at: f64,
    pub completed_at: Option<f64>,
    pub source_updated_at: Option<f64>,
    pub findings: Vec<Finding>,
}

impl ScanRecord {
    pub fn severity_counts(&self) -> BTreeMap<String, i64> {
        let mut counts = BTreeMap::new();
        for f in &self.findings {
            *counts.entry(f.severity.clone()).or_insert(0) += 1;
        }
        counts
    }
}

/// Runs scans; cheap to clone into a background task.
#[derive(Clone)]
pub struct Scanner {
    pub store: Store,
    pub blobs: Arc<BlobStore>,
    pub db: Option<Arc<VulnDb>>,
}

impl Scanner {
    /// Marks the scan IN_PROGRESS and runs it in the background.
    pub async fn start(&self, scope: Scope, repository: String, image: Image) -> Result<ScanRecord, StoreError> {
        let pending = ScanRecord {
            status: "IN_PROGRESS".into(),
            description: "The scan is in progress.".into(),
            started_at: crate::now_s(),
            completed_at: None,
            source_updated_at: None,
            findings: Vec::new(),
        };
        let id = child_id(&repository, &image.digest);
        let (s, i, p) = (scope.clone(), id.clone(), pending.clone());
        self.store.write(move |t| t.put(&s, KIND_SCAN, &i, &p)).await?;
        let scanner = self.clone();
        tokio::spawn(async move {
            let blobs = scanner.blobs.clone();
            let db = scanner.db.clone();
            let started = pending.started_at;
            let done = tokio::task::spawn_blocking(move || run(&blobs, db.as_deref(), &image, started))
                .await
                .unwrap_or_else(|e| failed(started, format!("the scan stopped: {e}")));
            let written = scanner
                .store
                .write(move |t| {
                    // The image may have been deleted meanwhile: then there is nothing to record.
                    if t.exists(&scope, KIND_SCAN, &id)? {
                        t.put(&scope, KIND_SCAN, &id, &done)?;
                    }
                    Ok::<_, StoreError>(())
                })
                .await;
            if let Err(e) = written {
                tracing::warn!(error = %e, "cannot store an image scan");
            }
        });
        Ok(pending)
    }
}

fn failed(started: f64, description: String) -> ScanRecord {
    ScanRecord {
        status: "FAILED".into(),
        description,
        started_at: started,
        completed_at: Some(crate::now_s()),
        source_updated_at: None,
        findings: Vec::new(),
    }
}

/// Scans one image manifest's layers.
fn run(blobs: &BlobStore, db: Option<&VulnDb>, image: &Image, started: f64) -> ScanRecord {
    let Some(db) = db else {
        return failed(
            started,
            "haneul has no vulnerability database: start it with --vuln-db <OSV file or directory>".into(),
        );
    };
    let manifest = match crate::manifest::parse(image.manifest.as_bytes(), Some(&image.media_type)) {
        Ok(m) => m,
        Err(e) => return failed(started, format!("the manifest cannot be read: {e}")),
    };
    let layers: Vec<std::path::PathBuf> = match &manifest.body {
        crate::manifest::Body::Image { layers, .. } => layers.iter().filter_map(|l| blobs.path(&l.digest)).collect(),
        crate::manifest::Body::Index { .. } => return failed(started, "a manifest list is not scanned itself".into()),
    };
    let inventory = match packages::inventory(&layers) {
        Ok(inv) => inv,
        Err(packages::InventoryError::Unsupported) => {
            return ScanRecord {
                status: "UNSUPPORTED_IMAGE".into(),
                description: packages::InventoryError::Unsupported.to_string(),
                completed_at: Some(crate::now_s()),
                ..failed(started, String::new())
            }
        }
        Err(e) => return failed(started, e.to_string()),
    };
    if VulnDb::ecosystem(&inventory).is_none() {
        return ScanRecord {
            status: "UNSUPPORTED_IMAGE".into(),
            description: packages::InventoryError::Unsupported.to_string(),
            ..failed(started, String::new())
        };
    }
    let mut findings: Vec<Finding> = Vec::new();
    for m in db.matches(&inventory) {
        let name = if m.record.id.starts_with("CVE-") {
            m.record.id.clone()
        } else {
            m.record
                .aliases
                .iter()
                .find(|a| a.starts_with("CVE-"))
                .cloned()
                .unwrap_or_else(|| m.record.id.clone())
        };
        if findings.iter().any(|f| {
            f.name == name
                && f.attributes
                    .iter()
                    .any(|(k, v)| k == "package_name" && *v == m.package.name)
        }) {
            continue;
        }
        let (severity, cvss) = vulndb::severity(&m);
        let mut attributes = vec![
            ("package_version".to_string(), m.package.version.clone()),
            ("package_name".to_string(), m.package.name.clone()),
        ];
        if let Some((vector, score)) = cvss {
            attributes.push(("CVSS3_VECTOR".into(), vector));
            attributes.push(("CVSS3_SCORE".into(), format!("{score:.1}")));
        }
        findings.push(Finding {
            name,
            description: m.record.details.clone().or_else(|| m.record.summary.clone()),
            uri: m
                .record
                .references
                .iter()
                .find_map(|r| r.url.clone())
                .or_else(|| Some(format!("https://osv.dev/vulnerability/{}", m.record.id))),
            severity,
            attributes,
        });
    }
    ScanRecord {
        status: "COMPLETE".into(),
        description: "The scan was completed successfully.".into(),
        started_at: started,
        completed_at: Some(crate::now_s()),
        source_updated_at: db.updated_at_s,
        findings,
    }
}

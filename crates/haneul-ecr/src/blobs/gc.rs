//! Garbage collection: expired uploads are dropped; a blob linked to a repository but used by
//! none of its images for [`GRACE_S`] is unlinked; a file no repository links, older than
//! [`GRACE_S`], is removed. The grace period keeps a blob alive between its upload and the
//! manifest push that uses it; the gc lock keeps collection apart from commits.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use haneul_store::{Scope, StoreError};

use crate::blobs::upload::UPLOAD_EXPIRY_S;
use crate::model::*;
use crate::Ecr;

/// How often the collector runs.
pub const GC_INTERVAL_S: u64 = 600;
/// How long an unused blob is kept (for the push that will reference it).
pub const GRACE_S: u64 = 3600;

/// What one pass did.
#[derive(Debug, Default, PartialEq)]
pub struct GcReport {
    pub uploads_expired: usize,
    pub links_removed: usize,
    pub blobs_removed: usize,
}

/// Runs [`collect`] every `housekeeping.gc_interval_s` (default [`GC_INTERVAL_S`]) with its
/// grace period (default [`GRACE_S`]) until the task is aborted.
pub async fn run(ecr: std::sync::Arc<Ecr>) {
    let every_s = ecr.housekeeping.gc_interval_s.max(1);
    let mut tick = tokio::time::interval(Duration::from_secs(every_s));
    tick.tick().await;
    loop {
        tick.tick().await;
        match collect(&ecr, ecr.housekeeping.gc_grace_s).await {
            Ok(r) if r != GcReport::default() => tracing::info!(?r, "ecr garbage collection"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "ecr garbage collection failed"),
        }
    }
}

/// One pass with the given grace period.
pub async fn collect(ecr: &Ecr, grace_s: u64) -> Result<GcReport, StoreError> {
    let mut report = GcReport {
        uploads_expired: ecr.uploads.expire(Duration::from_secs(UPLOAD_EXPIRY_S)),
        ..GcReport::default()
    };
    let _alone = ecr.gc_lock.write().await;
    let cutoff = crate::now_s() - grace_s as f64;
    let (linked, links_removed) = ecr
        .store
        .write(move |t| {
            let mut used: HashSet<(Scope, String)> = HashSet::new();
            t.for_each_all_scopes(KIND_IMAGE, |scope, id, image: Image| {
                let repo = id.split(SEP).next().unwrap_or("").to_string();
                for blob in image.blobs {
                    used.insert((scope.clone(), child_id(&repo, &blob)));
                }
                Ok(())
            })?;
            let links: Vec<(Scope, String, LayerLink)> = t.list_all_scopes(KIND_LAYER)?;
            let mut keep: HashSet<String> = HashSet::new();
            let mut removed = 0;
            for (scope, id, link) in links {
                if link.linked_at < cutoff && !used.contains(&(scope.clone(), id.clone())) {
                    t.delete(&scope, KIND_LAYER, &id)?;
                    removed += 1;
                } else if let Some((_, digest)) = id.split_once(SEP) {
                    keep.insert(digest.to_string());
                }
            }
            Ok::<_, StoreError>((keep, removed))
        })
        .await?;
    report.links_removed = links_removed;
    let blobs = ecr.blobs.clone();
    let removed = tokio::task::spawn_blocking(move || {
        let oldest = SystemTime::now() - Duration::from_secs(grace_s);
        let mut removed = 0;
        for (digest, modified) in blobs.list().unwrap_or_default() {
            if !linked.contains(&digest) && modified <= oldest && blobs.remove(&digest).unwrap_or(false) {
                removed += 1;
            }
        }
        removed
    })
    .await
    .unwrap_or(0);
    report.blobs_removed = removed;
    Ok(report)
}

//! # haneul-ecr: a real OCI registry behind ECR's API
//!
//! # Layout
//! - [`api`]: ECR's operations (json 1.1), one module per resource family.
//! - [`registry`]: the OCI distribution API under `/v2/` that docker and skopeo use.
//! - [`images`]: pushing and deleting images — the one path both of them share.
//! - [`blobs`]: content-addressed files on disk, streaming uploads, garbage collection.
//! - [`manifest`] (what a manifest references), [`names`] (what names, tags and digests may
//!   be), [`token`] (registry passwords), [`model`] (the stored records).
//!
//! **Architecture invariant:** a blob under `blobs/sha256/` is whole and has the digest it
//! is named by; manifests and tags live in the store and become visible in the transaction
//! that checks what they reference.

pub mod api;
pub mod blobs;
pub mod error;
/// Typed input/output structs, generated from the model (see `codegen.txt`).
#[rustfmt::skip]
pub mod generated;
pub mod images;
pub mod lifecycle;
pub mod manifest;
pub mod model;
pub mod names;
pub mod pullthrough;
pub mod registry;
pub mod scan;
pub mod token;

use std::path::Path;
use std::sync::{Arc, RwLock};

use haneul_store::{Scope, Store, StoreError};
use haneul_wire::{AwsError, BoxFuture, RequestContext, Service};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::blobs::upload::{TakeError, UploadSession, Uploads};
use crate::blobs::BlobStore;
use crate::error::EcrError;
use crate::images::{Incoming, PushError, Pushed};
use crate::token::TokenKey;

/// The botocore model this crate serves.
pub const MODEL: &str = include_str!("../../../models/ecr.json");
/// A manifest's lastRecordedPullTime is refreshed at most this often.
pub const PULL_TIME_REFRESH_S: f64 = 60.0;

#[derive(Debug, thiserror::Error)]
pub enum EcrStartError {
    #[error("cannot prepare the blob store: {0}")]
    Blobs(std::io::Error),
    #[error(transparent)]
    Token(#[from] token::TokenKeyError),
    #[error(transparent)]
    VulnDb(#[from] scan::vulndb::VulnDbError),
    #[error("cannot set up the pull-through cache's TLS client: {0}")]
    UpstreamTls(#[from] rustls::Error),
}

/// How ECR is set up.
pub struct EcrConfig {
    pub dev: bool,
    /// Where requests land when a credential names no account/region (dev mode).
    pub default_scope: Scope,
    /// `--registry-host`; `None`: the API address, once bound.
    pub registry_host: Option<String>,
    /// The registry's URL is `https://` (`--registry-tls`).
    pub https: bool,
    /// `--vuln-db`: OSV records image scans match against.
    pub vuln_db: Option<std::path::PathBuf>,
    /// Certificates pull-through upstreams may chain to besides the system's (haneul's CA).
    pub upstream_ca_pem: Option<String>,
    pub housekeeping: Housekeeping,
}

/// How often the background passes run.
#[derive(Debug, Clone, Copy)]
pub struct Housekeeping {
    pub lifecycle_interval_s: u64,
    pub gc_interval_s: u64,
    /// A blob no image references is collected once its link is this old.
    pub gc_grace_s: u64,
}

pub struct Ecr {
    pub store: Store,
    pub blobs: Arc<BlobStore>,
    pub uploads: Uploads,
    pub tokens: TokenKey,
    pub scanner: scan::Scanner,
    /// Fetches from pull-through cache upstreams.
    pub upstream: pullthrough::upstream::UpstreamClient,
    pub dev: bool,
    pub default_scope: Scope,
    pub housekeeping: Housekeeping,
    registry_host: RwLock<String>,
    https: bool,
    /// Uploads committing hold it shared; garbage collection holds it alone while it
    /// decides and deletes, so it never removes a blob a commit is linking.
    pub(crate) gc_lock: tokio::sync::RwLock<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("the upload's digest is {actual}, not {expected}")]
    DigestMismatch { expected: String, actual: String },
    #[error("cannot store the blob: {0}")]
    Io(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Now, in epoch seconds.
pub fn now_s() -> f64 {
    haneul_wire::value::now_epoch_s()
}

impl Ecr {
    pub fn open(store: Store, data_dir: &Path, config: EcrConfig) -> Result<Ecr, EcrStartError> {
        let blobs = Arc::new(BlobStore::open(data_dir).map_err(EcrStartError::Blobs)?);
        let db = match &config.vuln_db {
            Some(path) => Some(Arc::new(scan::vulndb::VulnDb::open(path)?)),
            None => None,
        };
        Ok(Ecr {
            scanner: scan::Scanner {
                store: store.clone(),
                blobs: blobs.clone(),
                db,
            },
            store,
            blobs,
            uploads: Uploads::default(),
            tokens: TokenKey::open_or_create(data_dir)?,
            upstream: pullthrough::upstream::UpstreamClient::new(config.upstream_ca_pem.as_deref())?,
            dev: config.dev,
            default_scope: config.default_scope,
            housekeeping: config.housekeeping,
            registry_host: RwLock::new(config.registry_host.unwrap_or_default()),
            https: config.https,
            gc_lock: tokio::sync::RwLock::new(()),
        })
    }

    /// Sets the registry host once the API address is known (unless `--registry-host` set it).
    pub fn default_registry_host(&self, host: &str) {
        let mut h = self.registry_host.write().unwrap_or_else(|p| p.into_inner());
        if h.is_empty() {
            *h = host.to_string();
        }
    }

    /// The host in repositoryUri (`<host>/<name>`).
    pub fn registry_host(&self) -> String {
        self.registry_host.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The registry's URL (GetAuthorizationToken's proxyEndpoint, the Basic realm).
    pub fn registry_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.registry_host())
    }

    pub fn begin_upload(&self, scope: &Scope, repository: &str) -> Result<(String, Box<UploadSession>), TakeError> {
        let blobs = self.blobs.clone();
        self.uploads
            .begin(scope.clone(), repository, |id| blobs.upload_path(id))
    }

    /// Finishes an upload taken out of [`Uploads`]: its digest must be `expected`; then the
    /// file moves into place and the blob is linked to the upload's repository. On a
    /// mismatch the bytes are removed: nothing of a wrong upload is kept.
    pub async fn commit_upload(&self, session: Box<UploadSession>, expected: &str) -> Result<u64, CommitError> {
        let UploadSession {
            scope,
            repository,
            path,
            data,
            ..
        } = *session;
        let finished = tokio::task::spawn_blocking(move || data.finish()).await;
        let (digest, len) = match finished {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => {
                let _ = std::fs::remove_file(&path);
                return Err(CommitError::Io(e));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(CommitError::Io(std::io::Error::other(e.to_string())));
            }
        };
        if digest != expected {
            let _ = std::fs::remove_file(&path);
            return Err(CommitError::DigestMismatch {
                expected: expected.to_string(),
                actual: digest,
            });
        }
        let _shared = self.gc_lock.read().await;
        let blobs = self.blobs.clone();
        let d = digest.clone();
        tokio::task::spawn_blocking(move || blobs.commit(&path, &d))
            .await
            .map_err(|e| CommitError::Io(std::io::Error::other(e.to_string())))?
            .map_err(CommitError::Io)?;
        self.store
            .write(move |t| images::link_blob(t, &scope, &repository, &digest, len, now_s()))
            .await?;
        Ok(len)
    }

    /// Links a blob already on disk to `repository` (a mount).
    pub async fn link(&self, scope: &Scope, repository: &str, digest: &str, size: u64) -> Result<(), StoreError> {
        let _shared = self.gc_lock.read().await;
        let (scope, repository, digest) = (scope.clone(), repository.to_string(), digest.to_string());
        self.store
            .write(move |t| images::link_blob(t, &scope, &repository, &digest, size, now_s()))
            .await
    }

    /// Links the blob `digest` to `repository` if the blob store holds it (a pull through
    /// then need not fetch it). Checked under the collector's lock, so it cannot vanish.
    pub async fn link_if_stored(&self, scope: &Scope, repository: &str, digest: &str) -> Result<bool, StoreError> {
        let _shared = self.gc_lock.read().await;
        let Some(size) = self.blobs.size(digest) else {
            return Ok(false);
        };
        let (scope, repository, digest) = (scope.clone(), repository.to_string(), digest.to_string());
        self.store
            .write(move |t| images::link_blob(t, &scope, &repository, &digest, size, now_s()))
            .await?;
        Ok(true)
    }

    /// Stores a pushed manifest in `repository` (registry PUT and PutImage).
    pub async fn push(
        &self,
        scope: &Scope,
        repository: &str,
        incoming: Incoming,
        tag: Option<&str>,
        expected_digest: Option<&str>,
    ) -> Result<Pushed, PushError> {
        let (s, r) = (scope.clone(), repository.to_string());
        let (tag, expected) = (tag.map(str::to_string), expected_digest.map(str::to_string));
        let (pushed, scan_on_push) = self
            .store
            .write(move |t| {
                let repo = images::load_repository(t, &s, &r)?
                    .ok_or_else(|| PushError::Invalid(format!("repository {r} does not exist")))?;
                let pushed =
                    images::put_manifest(t, &s, &repo, &incoming, tag.as_deref(), expected.as_deref(), now_s())?;
                Ok::<_, PushError>((pushed, repo.scan_on_push))
            })
            .await?;
        // Scan on push: a new image manifest (an index has no layers of its own to scan).
        if scan_on_push && !pushed.unchanged && !pushed.image.is_index() {
            let started = self
                .scanner
                .start(scope.clone(), repository.to_string(), pushed.image.clone())
                .await;
            if let Err(e) = started {
                tracing::warn!(error = %e, "cannot start the scan on push");
            }
        }
        Ok(pushed)
    }

    /// Notes that `image` was pulled (lastRecordedPullTime), in the background and at most
    /// every [`PULL_TIME_REFRESH_S`], so pulls never wait for a write.
    pub fn record_pull(&self, scope: &Scope, repository: &str, image: &model::Image) {
        let now = now_s();
        if image.last_pull.is_some_and(|t| now - t < PULL_TIME_REFRESH_S) {
            return;
        }
        let (store, scope, repo, digest) = (
            self.store.clone(),
            scope.clone(),
            repository.to_string(),
            image.digest.clone(),
        );
        tokio::spawn(async move {
            let written = store
                .write(move |t| {
                    if let Some(mut image) = images::load_image(t, &scope, &repo, &digest)? {
                        image.last_pull = Some(now);
                        t.put(&scope, model::KIND_IMAGE, &model::child_id(&repo, &digest), &image)?;
                    }
                    Ok::<_, StoreError>(())
                })
                .await;
            if let Err(e) = written {
                tracing::warn!(error = %e, "cannot record an image pull");
            }
        });
    }
}

/// ECR is regional.
pub fn scope(ctx: &RequestContext) -> Scope {
    Scope::new(ctx.account_id.clone(), ctx.region.clone())
}

pub(crate) fn parse<T: DeserializeOwned>(input: Value) -> Result<T, EcrError> {
    serde_json::from_value(input).map_err(|e| EcrError::InvalidParameter(format!("Invalid request: {e}")))
}

/// Serves ECR's API; the registry is reached through [`registry::handle`].
pub struct EcrService(pub Arc<Ecr>);

impl Service for EcrService {
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>> {
        Box::pin(async move { api::call(&self.0, ctx, operation, input).await.map_err(AwsError::from) })
    }
}

//! Pull-through cache: a pull of `<prefix>/<rest>` that the registry does not hold is
//! fetched from the rule's upstream registry (`<upstream prefix>/<rest>` there), stored
//! like a push — the repository created as ECR does, the blobs verified by digest, the
//! manifest through [`crate::images::put_manifest`] — and then served. A cached tag is
//! checked against the upstream at most every [`TAG_REFRESH_S`]; if the upstream cannot be
//! reached then, the cached image is served.
//!
//! - [`rules`]: the stored rules and how a repository name finds its rule.
//! - [`upstream`]: the client that talks to the upstream registry.

pub mod rules;
pub mod upstream;

use haneul_store::{Scope, StoreError};
use serde::{Deserialize, Serialize};

use crate::images::{Incoming, PushError};
use crate::manifest::MAX_MANIFEST_BYTES;
use crate::model::{child_id, Image, Repository, KIND_REPOSITORY};
use crate::names::Reference;
use crate::{now_s, CommitError, Ecr};
use rules::Rule;
use upstream::{Upstream, UpstreamError};

/// A cached tag is compared with the upstream's at most this often (ECR: once a day).
pub const TAG_REFRESH_S: f64 = 24.0 * 3600.0;
/// Manifests one index may list for a pull through (each is fetched too).
pub const MAX_INDEX_CHILDREN: usize = 128;

/// When a cached tag was last compared with the upstream: `repo␁tag`.
pub const KIND_TAG_SYNC: &str = "ecr.pull_through_tag_sync";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TagSync {
    pub checked_at: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("the upstream {url} has no manifest {reference} in {repository}")]
    NotFound {
        url: String,
        repository: String,
        reference: String,
    },
    #[error("pull through cache from {url}: {source}")]
    Upstream {
        url: String,
        #[source]
        source: UpstreamError,
    },
    #[error("pull through cache: the upstream's manifest is not one haneul can store: {0}")]
    Push(#[from] PushError),
    #[error("pull through cache: {0}")]
    Commit(#[from] CommitError),
    #[error("pull through cache: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The image `reference` of `repository` for a pull: the local one if it is there (and, for a
/// cached tag past its refresh time, still the upstream's), else fetched through the
/// repository's pull-through rule (`None`: not here and no rule). `local` is what the
/// registry found itself.
pub async fn resolve(
    ecr: &Ecr,
    scope: &Scope,
    repository: &str,
    reference: &Reference,
    local: Option<Image>,
) -> Result<Option<Image>, PullError> {
    // What is here is served without a look at the rules, unless it is a cached tag whose
    // check is due (a tag pushed here by hand has no sync record and is never replaced).
    let due_tag = match (&local, reference) {
        (None, _) => None,
        (Some(image), Reference::Digest(_)) => return Ok(Some(image.clone())),
        (Some(image), Reference::Tag(tag)) => {
            let (s, id) = (scope.clone(), child_id(repository, tag));
            let sync: Option<TagSync> = ecr.store.read(move |t| t.get(&s, KIND_TAG_SYNC, &id)).await?;
            if !sync.is_some_and(|s| now_s() - s.checked_at >= TAG_REFRESH_S) {
                return Ok(Some(image.clone()));
            }
            Some(tag.clone())
        }
    };
    let Some(rule) = rules::find(ecr, scope, repository).await? else {
        return Ok(local);
    };
    let upstream_repo = rule.upstream_repository(repository);
    let base = upstream::base_url(&rule.upstream_url).map_err(|source| PullError::Upstream {
        url: rule.upstream_url.clone(),
        source,
    })?;
    let upstream = Upstream::new(&ecr.upstream, base, upstream_repo.clone());
    let pull = Pull {
        ecr,
        scope,
        repository,
        rule: &rule,
        upstream: &upstream,
        upstream_repo: &upstream_repo,
    };
    match (local, due_tag) {
        (Some(image), Some(tag)) => Ok(Some(pull.refresh(&tag, image).await)),
        (Some(image), None) => Ok(Some(image)),
        (None, _) => pull.fetch(reference).await.map(Some),
    }
}

struct Pull<'a> {
    ecr: &'a Ecr,
    scope: &'a Scope,
    repository: &'a str,
    rule: &'a Rule,
    upstream: &'a Upstream<'a>,
    upstream_repo: &'a str,
}

impl Pull<'_> {
    fn upstream_error(&self, source: UpstreamError, reference: &str) -> PullError {
        if source.is_not_found() {
            return PullError::NotFound {
                url: self.rule.upstream_url.clone(),
                repository: self.upstream_repo.to_string(),
                reference: reference.to_string(),
            };
        }
        PullError::Upstream {
            url: self.rule.upstream_url.clone(),
            source,
        }
    }

    /// A cached tag whose check is due, compared with the upstream; the cached image
    /// whenever the upstream cannot say.
    async fn refresh(&self, tag: &str, cached: Image) -> Image {
        match self.upstream.manifest_digest(tag).await {
            Ok(Some(digest)) if digest == cached.digest => {
                if let Err(e) = self.note_synced(tag).await {
                    tracing::warn!(error = %e, "cannot record a pull-through tag check");
                }
                cached
            }
            Ok(_) => match self.fetch(&Reference::Tag(tag.to_string())).await {
                Ok(image) => image,
                Err(e) => {
                    tracing::warn!(error = %e, tag, "pull through cache: serving the cached tag");
                    cached
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, tag, "pull through cache: upstream unreachable, serving the cached tag");
                cached
            }
        }
    }

    async fn note_synced(&self, tag: &str) -> Result<(), StoreError> {
        let (scope, id) = (self.scope.clone(), child_id(self.repository, tag));
        let sync = TagSync { checked_at: now_s() };
        self.ecr
            .store
            .write(move |t| t.put(&scope, KIND_TAG_SYNC, &id, &sync))
            .await
    }

    /// Fetches `reference` and everything it needs from the upstream and stores it here.
    async fn fetch(&self, reference: &Reference) -> Result<Image, PullError> {
        let text = match reference {
            Reference::Tag(t) => t.clone(),
            Reference::Digest(d) => d.clone(),
        };
        let incoming = self.fetch_manifest(&text).await?;
        if let Reference::Digest(d) = reference {
            if &incoming.digest != d {
                return Err(PullError::Invalid(format!(
                    "the upstream sent {} for the manifest {d}",
                    incoming.digest
                )));
            }
        }
        self.ensure_repository().await?;
        let children = incoming.manifest.children();
        if children.len() > MAX_INDEX_CHILDREN {
            return Err(PullError::Invalid(format!(
                "the index lists {} manifests, more than the {MAX_INDEX_CHILDREN} a pull through takes",
                children.len()
            )));
        }
        for child in &children {
            if self.local_image(child).await?.is_some() {
                continue;
            }
            let child_incoming = self.fetch_manifest(child).await?;
            if &child_incoming.digest != child {
                return Err(PullError::Invalid(format!(
                    "the upstream sent {} for the manifest {child}",
                    child_incoming.digest
                )));
            }
            if !child_incoming.manifest.children().is_empty() {
                return Err(PullError::Invalid(format!(
                    "the index's manifest {child} is an index itself"
                )));
            }
            self.fetch_blobs(&child_incoming).await?;
            self.ecr
                .push(self.scope, self.repository, child_incoming, None, Some(child))
                .await?;
        }
        self.fetch_blobs(&incoming).await?;
        let tag = match reference {
            Reference::Tag(t) => Some(t.as_str()),
            Reference::Digest(_) => None,
        };
        let digest = incoming.digest.clone();
        let pushed = self
            .ecr
            .push(self.scope, self.repository, incoming, tag, Some(&digest))
            .await?;
        if let Some(tag) = tag {
            self.note_synced(tag).await?;
        }
        tracing::info!(repository = self.repository, reference = text, upstream = %self.rule.upstream_url, "pulled through the cache");
        Ok(pushed.image)
    }

    async fn fetch_manifest(&self, reference: &str) -> Result<Incoming, PullError> {
        let fetched = self
            .upstream
            .manifest(reference, MAX_MANIFEST_BYTES)
            .await
            .map_err(|e| self.upstream_error(e, reference))?;
        Ok(Incoming::parse(&fetched.bytes, fetched.content_type.as_deref())?)
    }

    async fn local_image(&self, digest: &str) -> Result<Option<Image>, StoreError> {
        let (scope, repo, digest) = (self.scope.clone(), self.repository.to_string(), digest.to_string());
        self.ecr
            .store
            .read(move |t| crate::images::load_image(t, &scope, &repo, &digest))
            .await
    }

    /// Every blob `incoming` references, here: linked if the blob store has it, else
    /// streamed from the upstream through the digest check.
    async fn fetch_blobs(&self, incoming: &Incoming) -> Result<(), PullError> {
        for digest in incoming.manifest.blobs() {
            if self.ecr.link_if_stored(self.scope, self.repository, &digest).await? {
                continue;
            }
            let body = self
                .upstream
                .blob(&digest)
                .await
                .map_err(|e| self.upstream_error(e, &digest))?;
            let (id, session) = self
                .ecr
                .begin_upload(self.scope, self.repository)
                .map_err(|e| PullError::Invalid(format!("cannot start storing {digest}: {e}")))?;
            // The session never goes back to the table: only this pull writes it.
            self.ecr.uploads.forget(&id);
            let (session, appended) =
                crate::blobs::upload::append(session, body, crate::blobs::upload::MAX_BLOB_BYTES).await;
            let session = match (session, appended) {
                (Some(s), Ok(())) => s,
                (session, result) => {
                    if let Some(s) = session {
                        let _ = std::fs::remove_file(&s.path);
                    }
                    let why = result
                        .err()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "the file was lost".into());
                    return Err(PullError::Invalid(format!("cannot fetch the blob {digest}: {why}")));
                }
            };
            self.ecr.commit_upload(session, &digest).await?;
        }
        Ok(())
    }

    /// The repository, created as a pull through cache creates it (ECR's defaults) if new.
    async fn ensure_repository(&self) -> Result<(), StoreError> {
        let repo = Repository {
            name: self.repository.to_string(),
            arn: format!(
                "arn:aws:ecr:{}:{}:repository/{}",
                self.scope.region, self.scope.account_id, self.repository
            ),
            registry_id: self.scope.account_id.clone(),
            created_at: now_s(),
            tag_mutability: "MUTABLE".into(),
            mutability_exclusions: Vec::new(),
            scan_on_push: false,
            encryption_type: "AES256".into(),
            kms_key: None,
            policy: None,
            lifecycle_policy: None,
            lifecycle_evaluated_at: None,
            tags: Vec::new(),
        };
        let scope = self.scope.clone();
        self.ecr
            .store
            .write(move |t| {
                if !t.exists(&scope, KIND_REPOSITORY, &repo.name)? {
                    t.put(&scope, KIND_REPOSITORY, &repo.name, &repo)?;
                }
                Ok(())
            })
            .await
    }
}

//! Pushing and deleting images: the one code path the registry (`PUT/DELETE
//! /v2/<name>/manifests/…`) and the API (PutImage, BatchDeleteImage) share, so both apply the
//! same checks — referenced blobs present, digests right, immutable tags kept — and write the
//! image, its tags and its referrer link in the caller's one transaction.

use haneul_store::{Scope, StoreError, Txn};

use crate::manifest::{self, Manifest};
use crate::model::*;
use crate::names::wildcard_match;

/// Images one repository may hold (ECR's quota).
pub const MAX_IMAGES_PER_REPOSITORY: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{0}")]
    Invalid(String),
    #[error("blob {0} is not in the repository")]
    BlobUnknown(String),
    #[error("manifest {0} referenced by the index is not in the repository")]
    ManifestUnknown(String),
    #[error("the manifest's digest is {actual}, not {expected}")]
    DigestMismatch { expected: String, actual: String },
    #[error("tag {0} is immutable")]
    TagImmutable(String),
    #[error("the repository already holds {MAX_IMAGES_PER_REPOSITORY} images")]
    LimitExceeded,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A pushed manifest, parsed and digested outside the transaction.
pub struct Incoming {
    pub bytes: String,
    pub manifest: Manifest,
    pub digest: String,
}

impl Incoming {
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Incoming, PushError> {
        let manifest = manifest::parse(bytes, content_type).map_err(PushError::Invalid)?;
        let text = std::str::from_utf8(bytes)
            .map_err(|_| PushError::Invalid("manifest is not UTF-8".into()))?
            .to_string();
        Ok(Incoming {
            digest: manifest::digest_of(bytes),
            bytes: text,
            manifest,
        })
    }
}

pub struct Pushed {
    pub digest: String,
    /// The image was already there (and already had the tag, if one was given).
    pub unchanged: bool,
    pub subject: Option<String>,
    /// The image as stored.
    pub image: Image,
}

/// Whether `tag` may not be moved to another image in `repo`.
pub fn tag_is_immutable(repo: &Repository, tag: &str) -> bool {
    let excluded = || {
        repo.mutability_exclusions
            .iter()
            .any(|f| wildcard_match(&f.filter, tag))
    };
    match repo.tag_mutability.as_str() {
        "IMMUTABLE" => true,
        "IMMUTABLE_WITH_EXCLUSION" => !excluded(),
        "MUTABLE_WITH_EXCLUSION" => excluded(),
        _ => false,
    }
}

pub fn load_repository(t: &Txn<'_>, scope: &Scope, name: &str) -> Result<Option<Repository>, StoreError> {
    t.get(scope, KIND_REPOSITORY, name)
}

pub fn load_image(t: &Txn<'_>, scope: &Scope, repo: &str, digest: &str) -> Result<Option<Image>, StoreError> {
    t.get(scope, KIND_IMAGE, &child_id(repo, digest))
}

pub fn tag_digest(t: &Txn<'_>, scope: &Scope, repo: &str, tag: &str) -> Result<Option<String>, StoreError> {
    Ok(t.get::<TagRef>(scope, KIND_TAG, &child_id(repo, tag))?
        .map(|r| r.digest))
}

/// Stores `incoming` in `repo`, tagged `tag` if given; `expected_digest` is the digest the
/// client pushed it under (registry PUT by digest, PutImage's imageDigest).
pub fn put_manifest(
    t: &mut Txn<'_>,
    scope: &Scope,
    repo: &Repository,
    incoming: &Incoming,
    tag: Option<&str>,
    expected_digest: Option<&str>,
    now_s: f64,
) -> Result<Pushed, PushError> {
    let digest = incoming.digest.clone();
    if let Some(expected) = expected_digest.filter(|e| *e != digest) {
        return Err(PushError::DigestMismatch {
            expected: expected.to_string(),
            actual: digest,
        });
    }
    let name = repo.name.as_str();
    let existing = load_image(t, scope, name, &digest)?;
    let previous_tag_digest = match tag {
        Some(tag) => tag_digest(t, scope, name, tag)?,
        None => None,
    };
    if let (Some(tag), Some(prev)) = (tag, &previous_tag_digest) {
        if *prev != digest && tag_is_immutable(repo, tag) {
            return Err(PushError::TagImmutable(tag.to_string()));
        }
    }
    let unchanged = existing.is_some() && (tag.is_none() || previous_tag_digest.as_deref() == Some(digest.as_str()));
    let mut image = match existing {
        Some(image) => image,
        None => new_image(t, scope, name, incoming, now_s)?,
    };
    if let Some(tag) = tag {
        if let Some(prev) = previous_tag_digest.filter(|p| *p != digest) {
            if let Some(mut old) = load_image(t, scope, name, &prev)? {
                old.tags.retain(|x| x != tag);
                t.put(scope, KIND_IMAGE, &child_id(name, &prev), &old)?;
            }
        }
        if !image.tags.iter().any(|x| x == tag) {
            image.tags.push(tag.to_string());
            image.tags.sort();
        }
        t.put(
            scope,
            KIND_TAG,
            &child_id(name, tag),
            &TagRef { digest: digest.clone() },
        )?;
    }
    if !unchanged {
        t.put(scope, KIND_IMAGE, &child_id(name, &digest), &image)?;
    }
    Ok(Pushed {
        digest,
        unchanged,
        subject: image.subject.clone(),
        image,
    })
}

/// A new image record: every referenced blob and child manifest checked, links written.
fn new_image(t: &mut Txn<'_>, scope: &Scope, repo: &str, incoming: &Incoming, now_s: f64) -> Result<Image, PushError> {
    let prefix = repository_prefix(repo);
    if t.count_prefix(scope, KIND_IMAGE, &prefix)? >= MAX_IMAGES_PER_REPOSITORY {
        return Err(PushError::LimitExceeded);
    }
    let m = &incoming.manifest;
    let blobs = m.blobs();
    for blob in &blobs {
        if !t.exists(scope, KIND_LAYER, &child_id(repo, blob))? {
            return Err(PushError::BlobUnknown(blob.clone()));
        }
    }
    let children = m.children();
    let mut size = m.image_size();
    for child in &children {
        let Some(mut c) = load_image(t, scope, repo, child)? else {
            return Err(PushError::ManifestUnknown(child.clone()));
        };
        size += c.size;
        if !c.parents.contains(&incoming.digest) {
            c.parents.push(incoming.digest.clone());
            t.put(scope, KIND_IMAGE, &child_id(repo, child), &c)?;
        }
    }
    if m.is_index() && children.is_empty() {
        size = incoming.bytes.len() as u64;
    }
    let subject = m.subject.as_ref().map(|s| s.digest.clone());
    if let Some(subject) = &subject {
        let id = child_id(repo, &format!("{subject}{SEP}{}", incoming.digest));
        t.put(scope, KIND_REFERRER, &id, &())?;
    }
    Ok(Image {
        digest: incoming.digest.clone(),
        manifest: incoming.bytes.clone(),
        media_type: m.media_type.clone(),
        artifact_media_type: m.artifact_media_type(),
        artifact_type: m.artifact_type.clone().or_else(|| m.artifact_media_type()),
        size,
        pushed_at: now_s,
        tags: Vec::new(),
        last_pull: None,
        subject,
        blobs,
        children,
        parents: Vec::new(),
        annotations: m.annotations.clone(),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error("image not found")]
    NotFound,
    #[error("the image is referenced by the manifest list {0}")]
    ReferencedByIndex(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Deletes the image `digest` and all its tags; the deleted image.
pub fn delete_image(t: &mut Txn<'_>, scope: &Scope, repo: &str, digest: &str) -> Result<Image, DeleteError> {
    let image = load_image(t, scope, repo, digest)?.ok_or(DeleteError::NotFound)?;
    if let Some(parent) = image.parents.first() {
        return Err(DeleteError::ReferencedByIndex(parent.clone()));
    }
    for tag in &image.tags {
        t.delete(scope, KIND_TAG, &child_id(repo, tag))?;
    }
    for child in &image.children {
        if let Some(mut c) = load_image(t, scope, repo, child)? {
            c.parents.retain(|p| p != digest);
            t.put(scope, KIND_IMAGE, &child_id(repo, child), &c)?;
        }
    }
    if let Some(subject) = &image.subject {
        t.delete(
            scope,
            KIND_REFERRER,
            &child_id(repo, &format!("{subject}{SEP}{digest}")),
        )?;
    }
    t.delete(scope, crate::scan::KIND_SCAN, &child_id(repo, digest))?;
    t.delete(scope, KIND_IMAGE, &child_id(repo, digest))?;
    Ok(image)
}

/// Removes `tag`; with `delete_untagged` the image goes too once it has no tag left (what
/// BatchDeleteImage does). The digest the tag pointed at.
pub fn untag(
    t: &mut Txn<'_>,
    scope: &Scope,
    repo: &str,
    tag: &str,
    delete_untagged: bool,
) -> Result<String, DeleteError> {
    let digest = tag_digest(t, scope, repo, tag)?.ok_or(DeleteError::NotFound)?;
    let mut image = load_image(t, scope, repo, &digest)?.ok_or(DeleteError::NotFound)?;
    if delete_untagged && image.tags.len() == 1 && image.parents.is_empty() {
        delete_image(t, scope, repo, &digest)?;
        return Ok(digest);
    }
    image.tags.retain(|x| x != tag);
    t.delete(scope, KIND_TAG, &child_id(repo, tag))?;
    t.put(scope, KIND_IMAGE, &child_id(repo, &digest), &image)?;
    Ok(digest)
}

/// Links a blob to a repository (an upload finished there, or it was mounted).
pub fn link_blob(
    t: &mut Txn<'_>,
    scope: &Scope,
    repo: &str,
    digest: &str,
    size: u64,
    now_s: f64,
) -> Result<(), StoreError> {
    let id = child_id(repo, digest);
    if t.exists(scope, KIND_LAYER, &id)? {
        return Ok(());
    }
    t.put(scope, KIND_LAYER, &id, &LayerLink { size, linked_at: now_s })
}

/// Everything of one repository (DeleteRepository with force): how many images went.
pub fn delete_repository_contents(t: &mut Txn<'_>, scope: &Scope, repo: &str) -> Result<usize, StoreError> {
    let prefix = repository_prefix(repo);
    let mut images = 0;
    t.delete(scope, KIND_LIFECYCLE_PREVIEW, repo)?;
    let kinds = [
        KIND_IMAGE,
        KIND_TAG,
        KIND_LAYER,
        KIND_REFERRER,
        crate::scan::KIND_SCAN,
        crate::pullthrough::KIND_TAG_SYNC,
    ];
    for kind in kinds {
        let ids: Vec<String> = t
            .list_prefix::<serde_json::Value>(scope, kind, &prefix)?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        if kind == KIND_IMAGE {
            images = ids.len();
        }
        for id in ids {
            t.delete(scope, kind, &id)?;
        }
    }
    Ok(images)
}

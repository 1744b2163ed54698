//! The API's push and pull path for layers: InitiateLayerUpload, UploadLayerPart,
//! CompleteLayerUpload, BatchCheckLayerAvailability, GetDownloadUrlForLayer. Uploads are the
//! registry's upload sessions ([`crate::blobs::upload`]), so both paths share one store.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use haneul_wire::RequestContext;
use serde_json::Value;

use super::{load, output, output_with_lists};
use crate::blobs::upload::{append_bytes, TakeError, UploadSession};
use crate::error::EcrError;
use crate::generated as api;
use crate::model::*;
use crate::names::valid_digest;
use crate::{parse, scope, CommitError, Ecr};

/// Every part but the last must be at least this big.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// How long a GetDownloadUrlForLayer URL works.
pub const DOWNLOAD_URL_LIFETIME_S: u64 = 3600;
/// The media type BatchCheckLayerAvailability reports (ECR reports Docker's layer type).
const LAYER_MEDIA_TYPE: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

async fn repository(
    ecr: &Ecr,
    ctx: &RequestContext,
    registry: Option<String>,
    name: String,
) -> Result<Repository, EcrError> {
    let scope = scope(ctx);
    let ctx2 = ctx.clone();
    ecr.store
        .read(move |t| load(t, &scope, &ctx2, registry.as_deref(), &name))
        .await
}

fn take(ecr: &Ecr, ctx: &RequestContext, repo: &Repository, upload_id: &str) -> Result<Box<UploadSession>, EcrError> {
    let unknown = || {
        EcrError::UploadNotFound(format!(
            "The upload with id '{upload_id}' does not exist in the repository with name '{}' in the registry with id '{}'",
            repo.name, repo.registry_id
        ))
    };
    if !crate::names::valid_upload_id(upload_id) {
        return Err(unknown());
    }
    ecr.uploads
        .take(upload_id, &scope(ctx), &repo.name)
        .map_err(|e| match e {
            TakeError::Busy => EcrError::InvalidLayerPart(format!(
                "Another part of upload '{upload_id}' is being uploaded; send parts one after another"
            )),
            _ => unknown(),
        })
}

pub async fn initiate(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::InitiateLayerUploadRequest = parse(input)?;
    let repo = repository(ecr, ctx, input.registry_id, input.repository_name).await?;
    let (id, session) = ecr.begin_upload(&scope(ctx), &repo.name).map_err(|e| match e {
        TakeError::FileCreate(why) => EcrError::Internal(format!("cannot start the upload: {why}")),
        _ => EcrError::LimitExceeded("Too many layer uploads are in progress".into()),
    })?;
    ecr.uploads.put_back(&id, session);
    output(&api::InitiateLayerUploadResponse {
        part_size: Some(MIN_PART_BYTES as i64),
        upload_id: Some(id),
    })
}

pub async fn upload_part(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::UploadLayerPartRequest = parse(input)?;
    let repo = repository(ecr, ctx, input.registry_id.clone(), input.repository_name.clone()).await?;
    let bytes = STANDARD
        .decode(&input.layer_part_blob)
        .map_err(|_| EcrError::InvalidParameter("Invalid parameter at 'layerPartBlob': not base64".into()))?;
    let session = take(ecr, ctx, &repo, &input.upload_id)?;
    let len = session.data.len;
    let first = input.part_first_byte;
    let last = input.part_last_byte;
    let refuse = |e: EcrError, session: Box<UploadSession>| {
        ecr.uploads.put_back(&input.upload_id, session);
        Err(e)
    };
    if first < 0 || first as u64 != len {
        return refuse(
            EcrError::InvalidLayerPart(format!(
                "The part's first byte {first} does not follow the last byte received; the upload has {len} bytes (send parts in order)"
            )),
            session,
        );
    }
    if last < first || (last - first + 1) as u64 != bytes.len() as u64 {
        return refuse(
            EcrError::InvalidLayerPart(format!(
                "partFirstByte {first} and partLastByte {last} do not span the {} bytes of layerPartBlob",
                bytes.len()
            )),
            session,
        );
    }
    if session.last_part_small {
        return refuse(
            EcrError::LayerPartTooSmall(format!(
                "Layer parts must be at least {MIN_PART_BYTES} bytes; only the last part may be smaller"
            )),
            session,
        );
    }
    let part_len = bytes.len() as u64;
    let (session, result) = append_bytes(session, Bytes::from(bytes)).await;
    let Some(mut session) = session else {
        ecr.uploads.forget(&input.upload_id);
        return Err(EcrError::Internal(format!(
            "cannot write the layer part: {}",
            result.err().map(|e| e.to_string()).unwrap_or_default()
        )));
    };
    session.last_part_small = part_len < MIN_PART_BYTES;
    let received = session.data.len;
    ecr.uploads.put_back(&input.upload_id, session);
    result.map_err(|e| EcrError::InvalidLayerPart(e.to_string()))?;
    output(&api::UploadLayerPartResponse {
        last_byte_received: Some(received as i64 - 1),
        registry_id: Some(repo.registry_id.clone()),
        repository_name: Some(repo.name.clone()),
        upload_id: Some(input.upload_id),
    })
}

pub async fn complete(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::CompleteLayerUploadRequest = parse(input)?;
    let repo = repository(ecr, ctx, input.registry_id.clone(), input.repository_name.clone()).await?;
    let [digest] = input.layer_digests.as_slice() else {
        return Err(EcrError::InvalidParameter(
            "Invalid parameter at 'layerDigests' failed to satisfy constraint: 'exactly one layer digest is required'"
                .into(),
        ));
    };
    if !valid_digest(digest) {
        return Err(EcrError::InvalidLayer(format!(
            "The layer digest '{digest}' is not a valid sha256 digest"
        )));
    }
    let session = take(ecr, ctx, &repo, &input.upload_id)?;
    if session.data.len == 0 {
        ecr.uploads.put_back(&input.upload_id, session);
        return Err(EcrError::EmptyUpload(format!(
            "The upload with id '{}' contains no layer parts",
            input.upload_id
        )));
    }
    let (scope, name, d) = (scope(ctx), repo.name.clone(), digest.clone());
    let exists = ecr
        .store
        .read(move |t| t.exists(&scope, KIND_LAYER, &child_id(&name, &d)))
        .await?;
    if exists {
        ecr.uploads.forget(&input.upload_id);
        let _ = std::fs::remove_file(&session.path);
        return Err(EcrError::LayerAlreadyExists(format!(
            "The layer '{digest}' already exists in the repository with name '{}' in registry with id '{}'",
            repo.name, repo.registry_id
        )));
    }
    ecr.uploads.forget(&input.upload_id);
    ecr.commit_upload(session, digest).await.map_err(|e| match e {
        CommitError::DigestMismatch { expected, actual } => EcrError::InvalidLayer(format!(
            "The layer digest calculated for the uploaded content, '{actual}', does not match the provided digest '{expected}'"
        )),
        CommitError::Io(e) => EcrError::Internal(format!("cannot store the layer: {e}")),
        CommitError::Store(e) => EcrError::Store(e),
    })?;
    output(&api::CompleteLayerUploadResponse {
        layer_digest: Some(digest.clone()),
        registry_id: Some(repo.registry_id.clone()),
        repository_name: Some(repo.name.clone()),
        upload_id: Some(input.upload_id),
    })
}

pub async fn check(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::BatchCheckLayerAvailabilityRequest = parse(input)?;
    let repo = repository(ecr, ctx, input.registry_id.clone(), input.repository_name.clone()).await?;
    let (scope, name, digests) = (scope(ctx), repo.name.clone(), input.layer_digests.clone());
    let links: Vec<(String, Option<LayerLink>)> = ecr
        .store
        .read(move |t| {
            digests
                .into_iter()
                .map(|d| {
                    let link = if valid_digest(&d) {
                        t.get(&scope, KIND_LAYER, &child_id(&name, &d))?
                    } else {
                        None
                    };
                    Ok((d, link))
                })
                .collect::<Result<Vec<_>, EcrError>>()
        })
        .await?;
    let mut layers = Vec::new();
    let mut failures = Vec::new();
    for (digest, link) in links {
        if !valid_digest(&digest) {
            failures.push(api::LayerFailure {
                failure_code: Some("InvalidLayerDigest".into()),
                failure_reason: Some(format!("Invalid layer digest: {digest}")),
                layer_digest: Some(digest),
            });
            continue;
        }
        layers.push(api::Layer {
            layer_availability: Some(if link.is_some() { "AVAILABLE" } else { "UNAVAILABLE" }.into()),
            layer_size: link.as_ref().map(|l| l.size as i64),
            media_type: link.is_some().then(|| LAYER_MEDIA_TYPE.to_string()),
            layer_digest: Some(digest),
        });
    }
    output_with_lists(
        &api::BatchCheckLayerAvailabilityResponse { failures, layers },
        &["failures", "layers"],
    )
}

pub async fn download_url(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::GetDownloadUrlForLayerRequest = parse(input)?;
    let repo = repository(ecr, ctx, input.registry_id.clone(), input.repository_name.clone()).await?;
    let digest = input.layer_digest.clone();
    let (scope, name, d) = (scope(ctx), repo.name.clone(), digest.clone());
    let linked = valid_digest(&digest)
        && ecr
            .store
            .read(move |t| t.exists(&scope, KIND_LAYER, &child_id(&name, &d)))
            .await?;
    if !linked {
        return Err(EcrError::LayersNotFound(format!(
            "The layer '{digest}' does not exist in the repository with name '{}' in the registry with id '{}'",
            repo.name, repo.registry_id
        )));
    }
    if ecr.blobs.size(&digest).is_none() {
        return Err(EcrError::LayerInaccessible(format!(
            "The layer '{digest}' is not accessible"
        )));
    }
    let expires = crate::now_s() as u64 + DOWNLOAD_URL_LIFETIME_S;
    let password = ecr.tokens.password(&crate::scope(ctx), expires);
    let url = format!(
        "{}/v2/{}/blobs/{digest}?{}={password}",
        ecr.registry_url(),
        repo.name,
        crate::registry::auth::URL_TOKEN_PARAM
    );
    output(&api::GetDownloadUrlForLayerResponse {
        download_url: Some(url),
        layer_digest: Some(digest),
    })
}

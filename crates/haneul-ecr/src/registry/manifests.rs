//! `/v2/<name>/manifests/<reference>`: GET/HEAD by tag or digest, PUT (through
//! [`crate::images::put_manifest`], the same checks PutImage applies), DELETE of an image by
//! digest or of a tag.

use bytes::Bytes;
use http::StatusCode;
use http_body::Body;

use super::{finish, response, store_error, Call, RegistryBody, RegistryError};
use crate::blobs::upload::{next_data, AppendError};
use crate::images::{self, DeleteError, Incoming, PushError};
use crate::manifest::MAX_MANIFEST_BYTES;
use crate::model::Image;
use crate::names::Reference;
use crate::pullthrough::{self, PullError};

fn reference(r: &str) -> Result<Reference, RegistryError> {
    match Reference::parse(r) {
        Some(r) => Ok(r),
        None if r.contains(':') => {
            super::blobs::check_digest(r)?;
            Err(RegistryError::DigestInvalid(r.to_string()))
        }
        None => Err(RegistryError::ManifestInvalid(format!(
            "'{r}' is not a valid tag or digest"
        ))),
    }
}

pub async fn get(call: &Call<'_>, name: &str, r: &str) -> Result<http::Response<RegistryBody>, RegistryError> {
    let repo = match call.repository(name).await {
        Ok(repo) => Some(repo),
        // It may be one a pull-through cache rule creates on its first pull.
        Err(RegistryError::NameUnknown(..)) => None,
        Err(e) => return Err(e),
    };
    let reference = reference(r)?;
    let local = match &repo {
        Some(repo) => lookup(call, &repo.name, reference.clone()).await?,
        None => None,
    };
    let image = match pullthrough::resolve(call.ecr, &call.scope, name, &reference, local).await {
        Ok(Some(image)) => image,
        Ok(None) if repo.is_none() => {
            return Err(RegistryError::NameUnknown(
                name.to_string(),
                call.scope.account_id.clone(),
            ))
        }
        Ok(None) | Err(PullError::NotFound { .. }) => return Err(RegistryError::ManifestUnknown(r.to_string())),
        Err(PullError::Store(e)) => return Err(store_error(e)),
        Err(e) => return Err(RegistryError::Upstream(e.to_string())),
    };
    let head = call.method == http::Method::HEAD;
    if !head {
        call.ecr.record_pull(&call.scope, name, &image);
    }
    let builder = response(StatusCode::OK)
        .header("content-type", image.media_type.as_str())
        .header("content-length", image.manifest.len())
        .header("docker-content-digest", image.digest.as_str())
        .header("etag", format!("\"{}\"", image.digest));
    let body = if head {
        RegistryBody::empty()
    } else {
        RegistryBody::bytes(image.manifest)
    };
    Ok(finish(builder, body))
}

/// The image a tag or digest names in `repository`, if it is there.
async fn lookup(call: &Call<'_>, repository: &str, reference: Reference) -> Result<Option<Image>, RegistryError> {
    let scope = call.scope.clone();
    let repo_name = repository.to_string();
    call.ecr
        .store
        .read(move |t| {
            let digest = match reference {
                Reference::Digest(d) => d,
                Reference::Tag(tag) => match images::tag_digest(t, &scope, &repo_name, &tag)? {
                    Some(d) => d,
                    None => return Ok(None),
                },
            };
            images::load_image(t, &scope, &repo_name, &digest)
        })
        .await
        .map_err(store_error)
}

pub async fn put<B>(
    call: &Call<'_>,
    name: &str,
    r: &str,
    body: B,
) -> Result<http::Response<RegistryBody>, RegistryError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let repo = call.repository(name).await?;
    let reference = reference(r)?;
    let bytes = read_manifest(body).await?;
    let incoming = Incoming::parse(&bytes, call.header("content-type")).map_err(|e| push_error(e, &repo.name))?;
    let (tag, expected) = match &reference {
        Reference::Tag(t) => (Some(t.clone()), None),
        Reference::Digest(d) => (None, Some(d.clone())),
    };
    let pushed = call
        .ecr
        .push(&call.scope, &repo.name, incoming, tag.as_deref(), expected.as_deref())
        .await
        .map_err(|e| push_error(e, &repo.name))?;
    let mut builder = response(StatusCode::CREATED)
        .header("location", format!("/v2/{}/manifests/{}", repo.name, pushed.digest))
        .header("docker-content-digest", pushed.digest.as_str())
        .header("content-length", 0);
    if let Some(subject) = &pushed.subject {
        builder = builder.header("oci-subject", subject.as_str());
    }
    Ok(finish(builder, RegistryBody::empty()))
}

/// The manifest body, at most [`MAX_MANIFEST_BYTES`], each part within the idle timeout.
async fn read_manifest<B>(mut body: B) -> Result<Vec<u8>, RegistryError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut out = Vec::new();
    loop {
        let data = match next_data(&mut body).await {
            Ok(Some(data)) => data,
            Ok(None) => return Ok(out),
            Err(AppendError::Timeout) => {
                return Err(RegistryError::ManifestInvalid(
                    "the manifest was not sent in time".into(),
                ))
            }
            Err(e) => {
                return Err(RegistryError::ManifestInvalid(format!(
                    "the manifest could not be read: {e}"
                )))
            }
        };
        if out.len() + data.len() > MAX_MANIFEST_BYTES {
            return Err(RegistryError::ManifestInvalid(format!(
                "the manifest is larger than {MAX_MANIFEST_BYTES} bytes"
            )));
        }
        out.extend_from_slice(&data);
    }
}

fn push_error(e: PushError, repository: &str) -> RegistryError {
    match e {
        PushError::Invalid(m) => RegistryError::ManifestInvalid(m),
        PushError::BlobUnknown(d) | PushError::ManifestUnknown(d) => RegistryError::ManifestBlobUnknown(d),
        PushError::DigestMismatch { expected, .. } => RegistryError::DigestInvalid(expected),
        PushError::TagImmutable(tag) => RegistryError::TagInvalid {
            tag,
            repository: repository.to_string(),
        },
        PushError::LimitExceeded => RegistryError::Denied(e.to_string()),
        PushError::Store(e) => store_error(e),
    }
}

pub async fn delete(call: &Call<'_>, name: &str, r: &str) -> Result<http::Response<RegistryBody>, RegistryError> {
    let repo = call.repository(name).await?;
    let reference = reference(r)?;
    let scope = call.scope.clone();
    let repo_name = repo.name.clone();
    let result = call
        .ecr
        .store
        .write(move |t| match &reference {
            Reference::Digest(d) => images::delete_image(t, &scope, &repo_name, d).map(|_| ()),
            Reference::Tag(tag) => images::untag(t, &scope, &repo_name, tag, false).map(|_| ()),
        })
        .await;
    match result {
        Ok(()) => Ok(finish(
            response(StatusCode::ACCEPTED).header("content-length", 0),
            RegistryBody::empty(),
        )),
        Err(DeleteError::NotFound) => Err(RegistryError::ManifestUnknown(r.to_string())),
        Err(DeleteError::ReferencedByIndex(parent)) => Err(RegistryError::Denied(format!(
            "the manifest {r} is referenced by the manifest list {parent}; delete that first"
        ))),
        Err(DeleteError::Store(e)) => Err(store_error(e)),
    }
}

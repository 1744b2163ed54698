//! Blob uploads: `POST /v2/<name>/blobs/uploads/` (a session, a monolithic upload with
//! `?digest=`, or a cross-repository mount with `?mount=&from=`), `PATCH` chunks, `PUT
//! ?digest=` to finish, `GET` for the status of a resumable upload, `DELETE` to cancel.

use bytes::Bytes;
use http::StatusCode;
use http_body::Body;

use super::blobs::{check_digest, linked_size};
use super::{finish, response, upload_range, Call, RegistryBody, RegistryError};
use crate::blobs::upload::{append, AppendError, TakeError, UploadSession, MAX_BLOB_BYTES};
use crate::names::{valid_repository_name, valid_upload_id};
use crate::CommitError;

fn location(name: &str, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

fn accepted(name: &str, id: &str, len: u64, status: StatusCode) -> http::Response<RegistryBody> {
    let builder = response(status)
        .header("location", location(name, id))
        .header("range", upload_range(len))
        .header("docker-upload-uuid", id)
        .header("content-length", 0);
    finish(builder, RegistryBody::empty())
}

fn created(name: &str, digest: &str) -> http::Response<RegistryBody> {
    let builder = response(StatusCode::CREATED)
        .header("location", format!("/v2/{name}/blobs/{digest}"))
        .header("docker-content-digest", digest)
        .header("content-length", 0);
    finish(builder, RegistryBody::empty())
}

fn take_error(e: TakeError, id: &str) -> RegistryError {
    match e {
        TakeError::Unknown => RegistryError::BlobUploadUnknown(id.to_string()),
        TakeError::Busy => RegistryError::BlobUploadInvalid(format!(
            "upload {id} is being written by another request; send its chunks one after another"
        )),
        TakeError::TooMany => RegistryError::TooManyRequests("too many blob uploads are in progress".into()),
        e @ TakeError::FileCreate(_) => RegistryError::Internal(e.to_string()),
    }
}

fn append_error(e: AppendError) -> RegistryError {
    match e {
        AppendError::TooLarge(_) => RegistryError::SizeInvalid(e.to_string()),
        AppendError::Write(_) => RegistryError::Internal(e.to_string()),
        AppendError::Timeout | AppendError::Body(_) => RegistryError::BlobUploadInvalid(e.to_string()),
    }
}

fn commit_error(e: CommitError) -> RegistryError {
    match e {
        CommitError::DigestMismatch { expected, .. } => RegistryError::DigestInvalid(expected),
        CommitError::Io(_) | CommitError::Store(_) => RegistryError::Internal(e.to_string()),
    }
}

pub async fn start<B>(call: &Call<'_>, name: &str, body: B) -> Result<http::Response<RegistryBody>, RegistryError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let repo = call.repository(name).await?;
    if let Some(digest) = call.query("mount") {
        check_digest(digest)?;
        let from = call.query("from").filter(|f| valid_repository_name(f));
        if let Some(from) = from {
            if let Some(size) = linked_size(call, from, digest).await? {
                call.ecr
                    .link(&call.scope, &repo.name, digest, size)
                    .await
                    .map_err(|e| RegistryError::Internal(e.to_string()))?;
                return Ok(created(&repo.name, digest));
            }
        }
        // Not mountable: the spec says to answer with a fresh upload session instead.
    }
    let expected = call.query("digest").map(str::to_string);
    if let Some(d) = &expected {
        check_digest(d)?;
    }
    let (id, session) = call
        .ecr
        .begin_upload(&call.scope, &repo.name)
        .map_err(|e| take_error(e, ""))?;
    let Some(expected) = expected else {
        call.ecr.uploads.put_back(&id, session);
        return Ok(accepted(&repo.name, &id, 0, StatusCode::ACCEPTED));
    };
    // Monolithic: the whole blob is this request's body.
    let session = write_body(call, &id, session, body).await?;
    call.ecr.uploads.forget(&id);
    call.ecr.commit_upload(session, &expected).await.map_err(commit_error)?;
    Ok(created(&repo.name, &expected))
}

/// Streams a request body into a taken session; on failure the session is handed back
/// (with what arrived) or, after a write error, forgotten.
async fn write_body<B>(
    call: &Call<'_>,
    id: &str,
    session: Box<UploadSession>,
    body: B,
) -> Result<Box<UploadSession>, RegistryError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let (session, result) = append(session, body, MAX_BLOB_BYTES).await;
    match (session, result) {
        (Some(s), Ok(())) => Ok(s),
        (Some(s), Err(e)) => {
            call.ecr.uploads.put_back(id, s);
            Err(append_error(e))
        }
        (None, result) => {
            call.ecr.uploads.forget(id);
            Err(result
                .err()
                .map(append_error)
                .unwrap_or_else(|| RegistryError::Internal("the upload was lost".into())))
        }
    }
}

fn take(call: &Call<'_>, name: &str, id: &str) -> Result<Box<UploadSession>, RegistryError> {
    if !valid_upload_id(id) {
        return Err(RegistryError::BlobUploadUnknown(id.to_string()));
    }
    call.ecr
        .uploads
        .take(id, &call.scope, name)
        .map_err(|e| take_error(e, id))
}

pub async fn patch<B>(
    call: &Call<'_>,
    name: &str,
    id: &str,
    body: B,
) -> Result<http::Response<RegistryBody>, RegistryError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let repo = call.repository(name).await?;
    let session = take(call, &repo.name, id)?;
    let len = session.data.len;
    if let Some(range) = call.header("content-range") {
        let start = range
            .trim()
            .trim_start_matches("bytes ")
            .split_once('-')
            .and_then(|(a, _)| a.trim().parse::<u64>().ok());
        if start != Some(len) {
            call.ecr.uploads.put_back(id, session);
            return Err(RegistryError::UploadRange {
                len,
                location: location(&repo.name, id),
                upload_id: id.to_string(),
            });
        }
    }
    let session = write_body(call, id, session, body).await?;
    let len = session.data.len;
    call.ecr.uploads.put_back(id, session);
    Ok(accepted(&repo.name, id, len, StatusCode::ACCEPTED))
}

pub async fn put<B>(
    call: &Call<'_>,
    name: &str,
    id: &str,
    body: B,
) -> Result<http::Response<RegistryBody>, RegistryError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let repo = call.repository(name).await?;
    let expected = call
        .query("digest")
        .ok_or_else(|| RegistryError::DigestInvalid(String::new()))?
        .to_string();
    check_digest(&expected)?;
    let session = take(call, &repo.name, id)?;
    let session = write_body(call, id, session, body).await?;
    call.ecr.uploads.forget(id);
    call.ecr.commit_upload(session, &expected).await.map_err(commit_error)?;
    Ok(created(&repo.name, &expected))
}

pub async fn status(call: &Call<'_>, name: &str, id: &str) -> Result<http::Response<RegistryBody>, RegistryError> {
    let repo = call.repository(name).await?;
    let status = valid_upload_id(id)
        .then(|| call.ecr.uploads.status(id, &call.scope, &repo.name))
        .flatten()
        .ok_or_else(|| RegistryError::BlobUploadUnknown(id.to_string()))?;
    Ok(accepted(&repo.name, id, status.len, StatusCode::NO_CONTENT))
}

pub async fn cancel(call: &Call<'_>, name: &str, id: &str) -> Result<http::Response<RegistryBody>, RegistryError> {
    let repo = call.repository(name).await?;
    if !valid_upload_id(id) {
        return Err(RegistryError::BlobUploadUnknown(id.to_string()));
    }
    call.ecr
        .uploads
        .cancel(id, &call.scope, &repo.name)
        .map_err(|e| take_error(e, id))?;
    Ok(finish(
        response(StatusCode::NO_CONTENT).header("content-length", 0),
        RegistryBody::empty(),
    ))
}

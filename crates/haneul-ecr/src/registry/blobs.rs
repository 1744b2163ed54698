//! `HEAD`/`GET /v2/<name>/blobs/<digest>`: a blob the repository holds, whole or a `Range`.

use http::StatusCode;

use super::{finish, response, store_error, Call, RegistryBody, RegistryError};
use crate::model::{child_id, LayerLink, KIND_LAYER};
use crate::names::{looks_like_digest, valid_digest};

/// Checks a digest from a path or query: DIGEST_INVALID when malformed, UNSUPPORTED when it
/// is another algorithm than sha256.
pub fn check_digest(digest: &str) -> Result<(), RegistryError> {
    if valid_digest(digest) {
        Ok(())
    } else if looks_like_digest(digest) && !digest.starts_with("sha256:") {
        Err(RegistryError::DigestUnsupported(digest.to_string()))
    } else {
        Err(RegistryError::DigestInvalid(digest.to_string()))
    }
}

/// Whether `repo` may serve `digest`: linked there and on disk. Its size.
pub async fn linked_size(call: &Call<'_>, repo: &str, digest: &str) -> Result<Option<u64>, RegistryError> {
    let scope = call.scope.clone();
    let id = child_id(repo, digest);
    let link: Option<LayerLink> = call
        .ecr
        .store
        .read(move |t| t.get(&scope, KIND_LAYER, &id))
        .await
        .map_err(store_error)?;
    Ok(link.and_then(|_| call.ecr.blobs.size(digest)))
}

pub async fn get(call: &Call<'_>, name: &str, digest: &str) -> Result<http::Response<RegistryBody>, RegistryError> {
    let repo = call.repository(name).await?;
    check_digest(digest)?;
    let size = linked_size(call, &repo.name, digest)
        .await?
        .ok_or_else(|| RegistryError::BlobUnknown(digest.to_string()))?;
    let path = call
        .ecr
        .blobs
        .path(digest)
        .ok_or_else(|| RegistryError::DigestInvalid(digest.to_string()))?;
    let head = call.method == http::Method::HEAD;
    let range = match call.header("range") {
        Some(r) => Some(parse_range(r, size).ok_or(RegistryError::RangeInvalid { size })?),
        None => None,
    };
    let (status, start, len) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        None => (StatusCode::OK, 0, size),
    };
    let mut builder = response(status)
        .header("content-type", "application/octet-stream")
        .header("content-length", len)
        .header("docker-content-digest", digest)
        .header("etag", format!("\"{digest}\""))
        .header("accept-ranges", "bytes")
        .header("cache-control", "max-age=31536000");
    if range.is_some() {
        builder = builder.header("content-range", format!("bytes {start}-{}/{size}", start + len - 1));
    }
    let body = if head || len == 0 {
        RegistryBody::empty()
    } else {
        RegistryBody::file(path, start, len)
    };
    Ok(finish(builder, body))
}

/// One `bytes=a-b`, `bytes=a-` or `bytes=-n` range within `size`, inclusive.
fn parse_range(header: &str, size: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.checked_sub(n.min(size))?, size - 1)
        }
        (a, "") => (a.parse().ok()?, size - 1),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(size - 1)),
    };
    (start <= end && start < size).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}

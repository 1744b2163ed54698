//! The distribution spec's error codes, with ECR's wording where ECR has its own.

use serde_json::json;

use super::body::RegistryBody;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("authentication required")]
    Unauthorized { realm: String, detail: String },
    #[error("The repository with name '{0}' does not exist in the registry with id '{1}'")]
    NameUnknown(String, String),
    #[error("invalid repository name")]
    NameInvalid(String),
    #[error("blob unknown to registry")]
    BlobUnknown(String),
    #[error("blob upload unknown to registry")]
    BlobUploadUnknown(String),
    #[error("blob upload invalid: {0}")]
    BlobUploadInvalid(String),
    #[error("provided digest did not match uploaded content")]
    DigestInvalid(String),
    #[error("The digest {0} uses an algorithm haneul does not store (only sha256)")]
    DigestUnsupported(String),
    #[error("manifest unknown")]
    ManifestUnknown(String),
    #[error("manifest invalid: {0}")]
    ManifestInvalid(String),
    #[error("blob unknown to registry")]
    ManifestBlobUnknown(String),
    #[error("The image tag '{tag}' already exists in the '{repository}' repository and cannot be overwritten because the repository is immutable.")]
    TagInvalid { tag: String, repository: String },
    #[error("requested range not satisfiable")]
    RangeInvalid { size: u64 },
    #[error("upload range out of order: the upload is at {len} bytes")]
    UploadRange {
        len: u64,
        location: String,
        upload_id: String,
    },
    #[error("{0}")]
    SizeInvalid(String),
    #[error("too many requests: {0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Denied(String),
    /// A pull through the cache failed at the upstream.
    #[error("{0}")]
    Upstream(String),
    #[error("{0}")]
    Internal(String),
}

impl RegistryError {
    fn code_status(&self) -> (&'static str, u16) {
        match self {
            RegistryError::Unauthorized { .. } => ("UNAUTHORIZED", 401),
            RegistryError::NameUnknown(..) => ("NAME_UNKNOWN", 404),
            RegistryError::NameInvalid(_) => ("NAME_INVALID", 400),
            RegistryError::BlobUnknown(_) => ("BLOB_UNKNOWN", 404),
            RegistryError::BlobUploadUnknown(_) => ("BLOB_UPLOAD_UNKNOWN", 404),
            RegistryError::BlobUploadInvalid(_) => ("BLOB_UPLOAD_INVALID", 400),
            RegistryError::DigestInvalid(_) => ("DIGEST_INVALID", 400),
            RegistryError::DigestUnsupported(_) => ("UNSUPPORTED", 400),
            RegistryError::ManifestUnknown(_) => ("MANIFEST_UNKNOWN", 404),
            RegistryError::ManifestInvalid(_) => ("MANIFEST_INVALID", 400),
            RegistryError::ManifestBlobUnknown(_) => ("MANIFEST_BLOB_UNKNOWN", 400),
            RegistryError::TagInvalid { .. } => ("TAG_INVALID", 400),
            RegistryError::RangeInvalid { .. } => ("BLOB_UPLOAD_INVALID", 416),
            RegistryError::UploadRange { .. } => ("BLOB_UPLOAD_INVALID", 416),
            RegistryError::SizeInvalid(_) => ("SIZE_INVALID", 400),
            RegistryError::TooManyRequests(_) => ("TOOMANYREQUESTS", 429),
            RegistryError::Unsupported(_) => ("UNSUPPORTED", 405),
            RegistryError::Denied(_) => ("DENIED", 403),
            RegistryError::Upstream(_) => ("UNKNOWN", 502),
            RegistryError::Internal(_) => ("UNKNOWN", 500),
        }
    }

    fn detail(&self) -> serde_json::Value {
        match self {
            RegistryError::Unauthorized { detail, .. } => json!(detail),
            RegistryError::NameUnknown(name, _) | RegistryError::NameInvalid(name) => json!({ "name": name }),
            RegistryError::BlobUnknown(d)
            | RegistryError::DigestInvalid(d)
            | RegistryError::DigestUnsupported(d)
            | RegistryError::ManifestBlobUnknown(d) => json!({ "digest": d }),
            RegistryError::BlobUploadUnknown(id) => json!({ "uuid": id }),
            RegistryError::ManifestUnknown(r) => json!({ "reference": r }),
            RegistryError::TagInvalid { tag, .. } => json!({ "tag": tag }),
            RegistryError::RangeInvalid { size } => json!({ "size": size }),
            _ => serde_json::Value::Null,
        }
    }

    pub fn into_response(self) -> http::Response<RegistryBody> {
        let (code, status) = self.code_status();
        let body = json!({ "errors": [{ "code": code, "message": self.to_string(), "detail": self.detail() }] });
        let mut builder = http::Response::builder()
            .status(status)
            .header("content-type", "application/json; charset=utf-8")
            .header("docker-distribution-api-version", "registry/2.0");
        match &self {
            RegistryError::Unauthorized { realm, .. } => {
                builder = builder.header(
                    "www-authenticate",
                    format!("Basic realm=\"{realm}\",service=\"ecr.amazonaws.com\""),
                );
            }
            RegistryError::RangeInvalid { size } => {
                builder = builder.header("content-range", format!("bytes */{size}"));
            }
            RegistryError::UploadRange {
                len,
                location,
                upload_id,
            } => {
                builder = builder
                    .header("location", location)
                    .header("range", super::upload_range(*len))
                    .header("docker-upload-uuid", upload_id);
            }
            _ => {}
        }
        let body = serde_json::to_vec(&body).unwrap_or_default();
        builder
            .header("content-length", body.len())
            .body(RegistryBody::bytes(body))
            .unwrap_or_else(|_| http::Response::new(RegistryBody::empty()))
    }
}

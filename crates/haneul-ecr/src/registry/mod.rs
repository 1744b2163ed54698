//! The OCI distribution API (v1.1) under `/v2/` on the API endpoint: what `docker push`,
//! `docker pull` and skopeo speak. The endpoint routes `/v2/` here before reading any body,
//! so uploads stream from the socket to disk ([`crate::blobs::upload`]).
//!
//! A request's life: [`handle`] → [`auth::authorize`] (the ECR token → account/region) →
//! [`route`] parses the path into a repository name and an operation → `blobs`, `uploads`,
//! `manifests` or `listing` does it and answers with the spec's status codes and headers.

pub mod auth;
pub mod blobs;
pub mod body;
pub mod errors;
pub mod listing;
pub mod manifests;
pub mod uploads;

use bytes::Bytes;
use haneul_store::Scope;
use http::{Method, StatusCode};
use http_body::Body;

pub use body::RegistryBody;
pub use errors::RegistryError;

use crate::model::Repository;
use crate::names::valid_repository_name;
use crate::Ecr;

/// The path prefix the endpoint hands to [`handle`].
pub const PREFIX: &str = "/v2";

/// Whether a request path belongs to the registry.
pub fn is_registry_path(path: &str) -> bool {
    path == PREFIX || path.starts_with("/v2/")
}

/// What a registry path asks for.
#[derive(Debug, PartialEq)]
pub enum Route<'a> {
    Base,
    Catalog,
    Blob(&'a str, &'a str),
    StartUpload(&'a str),
    Upload(&'a str, &'a str),
    Manifest(&'a str, &'a str),
    Tags(&'a str),
    Referrers(&'a str, &'a str),
}

/// Splits `/v2/<name>/<operation>`: the name is everything before the operation's segments,
/// which never contain a `/` of their own.
pub fn route(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix(PREFIX)?;
    if rest.is_empty() || rest == "/" {
        return Some(Route::Base);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Route::Tags(name));
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return Some(Route::StartUpload(name));
    }
    let (head, last) = rest.rsplit_once('/')?;
    let (name, kind) = head.rsplit_once('/')?;
    match kind {
        "manifests" => Some(Route::Manifest(name, last)),
        "blobs" => Some(Route::Blob(name, last)),
        "referrers" => Some(Route::Referrers(name, last)),
        "uploads" => name.strip_suffix("/blobs").map(|n| Route::Upload(n, last)),
        _ => None,
    }
}

/// One registry request, after authorization.
pub struct Call<'a> {
    pub ecr: &'a Ecr,
    pub scope: Scope,
    pub method: Method,
    pub query: Vec<(String, String)>,
    pub headers: http::HeaderMap,
}

impl Call<'_> {
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The repository `name` of the caller's registry, or NAME_INVALID / NAME_UNKNOWN.
    pub async fn repository(&self, name: &str) -> Result<Repository, RegistryError> {
        if !valid_repository_name(name) {
            return Err(RegistryError::NameInvalid(name.to_string()));
        }
        let scope = self.scope.clone();
        let owned = name.to_string();
        let found = self
            .ecr
            .store
            .read(move |t| crate::images::load_repository(t, &scope, &owned))
            .await
            .map_err(|e| RegistryError::Internal(e.to_string()))?;
        found.ok_or_else(|| RegistryError::NameUnknown(name.to_string(), self.scope.account_id.clone()))
    }
}

/// Serves one request under `/v2/`.
pub async fn handle<B>(ecr: &Ecr, req: http::Request<B>) -> http::Response<RegistryBody>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let route = route(path);
    let query: Vec<(String, String)> = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let blob_get =
        matches!(route, Some(Route::Blob(..))) && (parts.method == Method::GET || parts.method == Method::HEAD);
    let url_token = query
        .iter()
        .find(|(k, _)| blob_get && k == auth::URL_TOKEN_PARAM)
        .map(|(_, v)| v.as_str());
    let scope = match auth::authorize(ecr, &parts.headers, url_token) {
        Ok(scope) => scope,
        Err(e) => return e.into_response(),
    };
    let call = Call {
        ecr,
        scope,
        method: parts.method.clone(),
        query,
        headers: parts.headers.clone(),
    };
    let result = match route {
        None => Err(RegistryError::NameInvalid(path.to_string())),
        Some(route) => dispatch(&call, route, body).await,
    };
    result.unwrap_or_else(RegistryError::into_response)
}

async fn dispatch<B>(call: &Call<'_>, route: Route<'_>, body: B) -> Result<http::Response<RegistryBody>, RegistryError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let m = &call.method;
    let head_or_get = *m == Method::GET || *m == Method::HEAD;
    match route {
        Route::Base if head_or_get => Ok(json_response(StatusCode::OK, b"{}".to_vec(), *m == Method::HEAD)),
        Route::Catalog if *m == Method::GET => listing::catalog(call).await,
        Route::Tags(name) if *m == Method::GET => listing::tags(call, name).await,
        Route::Referrers(name, digest) if *m == Method::GET => listing::referrers(call, name, digest).await,
        Route::Blob(name, digest) if head_or_get => blobs::get(call, name, digest).await,
        Route::Blob(..) if *m == Method::DELETE => Err(RegistryError::Unsupported(
            "ECR does not delete blobs directly: delete the images that use them".into(),
        )),
        Route::StartUpload(name) if *m == Method::POST => uploads::start(call, name, body).await,
        Route::Upload(name, id) if *m == Method::PATCH => uploads::patch(call, name, id, body).await,
        Route::Upload(name, id) if *m == Method::PUT => uploads::put(call, name, id, body).await,
        Route::Upload(name, id) if *m == Method::GET => uploads::status(call, name, id).await,
        Route::Upload(name, id) if *m == Method::DELETE => uploads::cancel(call, name, id).await,
        Route::Manifest(name, reference) if head_or_get => manifests::get(call, name, reference).await,
        Route::Manifest(name, reference) if *m == Method::PUT => manifests::put(call, name, reference, body).await,
        Route::Manifest(name, reference) if *m == Method::DELETE => manifests::delete(call, name, reference).await,
        _ => Err(RegistryError::Unsupported(format!(
            "{m} is not supported on {}",
            route_name(&route)
        ))),
    }
}

fn route_name(route: &Route<'_>) -> &'static str {
    match route {
        Route::Base => "/v2/",
        Route::Catalog => "_catalog",
        Route::Blob(..) => "blobs",
        Route::StartUpload(_) | Route::Upload(..) => "blob uploads",
        Route::Manifest(..) => "manifests",
        Route::Tags(_) => "tags/list",
        Route::Referrers(..) => "referrers",
    }
}

/// The `Range` header of an upload that holds `len` bytes (`0-0` when empty, as the spec
/// and Docker expect).
pub fn upload_range(len: u64) -> String {
    format!("0-{}", len.saturating_sub(1))
}

pub fn response(status: StatusCode) -> http::response::Builder {
    http::Response::builder()
        .status(status)
        .header("docker-distribution-api-version", "registry/2.0")
}

pub fn json_response(status: StatusCode, body: Vec<u8>, head: bool) -> http::Response<RegistryBody> {
    let builder = response(status)
        .header("content-type", "application/json; charset=utf-8")
        .header("content-length", body.len());
    finish(
        builder,
        if head {
            RegistryBody::empty()
        } else {
            RegistryBody::bytes(body)
        },
    )
}

pub fn finish(builder: http::response::Builder, body: RegistryBody) -> http::Response<RegistryBody> {
    builder
        .body(body)
        .unwrap_or_else(|e| RegistryError::Internal(format!("cannot build the response: {e}")).into_response())
}

fn store_error(e: haneul_store::StoreError) -> RegistryError {
    RegistryError::Internal(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/v2/"), Some(Route::Base));
        assert_eq!(route("/v2"), Some(Route::Base));
        assert_eq!(route("/v2/_catalog"), Some(Route::Catalog));
        assert_eq!(route("/v2/team/app/tags/list"), Some(Route::Tags("team/app")));
        assert_eq!(route("/v2/a/b/blobs/uploads/"), Some(Route::StartUpload("a/b")));
        assert_eq!(route("/v2/a/blobs/uploads/x-y"), Some(Route::Upload("a", "x-y")));
        assert_eq!(route("/v2/a/blobs/sha256:00"), Some(Route::Blob("a", "sha256:00")));
        assert_eq!(
            route("/v2/team/blobs/app/manifests/v1"),
            Some(Route::Manifest("team/blobs/app", "v1"))
        );
        assert_eq!(
            route("/v2/a/referrers/sha256:00"),
            Some(Route::Referrers("a", "sha256:00"))
        );
        assert_eq!(route("/v2/a/other/x"), None);
        assert_eq!(route("/v3/a"), None);
    }
}

//! Content discovery: `tags/list` and `_catalog` (paged with `n`/`last` and a `Link` to the
//! next page) and the referrers API (an OCI index of the manifests whose `subject` is a
//! digest, filtered by `artifactType`).

use http::StatusCode;
use serde_json::json;

use super::{finish, json_response, response, store_error, Call, RegistryBody, RegistryError};
use crate::model::*;

/// Entries one listing page holds when the client names no `n`, and the most it may ask.
pub const DEFAULT_PAGE: usize = 1000;
pub const MAX_PAGE: usize = 10_000;

fn page_size(call: &Call<'_>) -> Result<usize, RegistryError> {
    match call.query("n") {
        None => Ok(DEFAULT_PAGE),
        Some(n) => n
            .parse::<usize>()
            .map(|n| n.min(MAX_PAGE))
            .map_err(|_| RegistryError::Unsupported(format!("n={n} is not a number"))),
    }
}

fn with_next_link(
    builder: http::response::Builder,
    path: &str,
    n: usize,
    more: bool,
    last: Option<&str>,
) -> http::response::Builder {
    match (more, last) {
        (true, Some(last)) => {
            let q: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("n", &n.to_string())
                .append_pair("last", last)
                .finish();
            builder.header("link", format!("<{path}?{q}>; rel=\"next\""))
        }
        _ => builder,
    }
}

pub async fn tags(call: &Call<'_>, name: &str) -> Result<http::Response<RegistryBody>, RegistryError> {
    let repo = call.repository(name).await?;
    let n = page_size(call)?;
    let last = call.query("last").unwrap_or("").to_string();
    let scope = call.scope.clone();
    let prefix = repository_prefix(&repo.name);
    let (tags, more) = call
        .ecr
        .store
        .read(move |t| {
            let from = format!("{prefix}{last}{SEP}");
            let rows = t.list_prefix_from::<TagRef>(&scope, KIND_TAG, &prefix, &from, n + 1)?;
            let mut tags: Vec<String> = rows.into_iter().map(|(id, _)| id[prefix.len()..].to_string()).collect();
            let more = tags.len() > n;
            tags.truncate(n);
            Ok::<_, haneul_store::StoreError>((tags, more))
        })
        .await
        .map_err(store_error)?;
    let body = serde_json::to_vec(&json!({ "name": repo.name, "tags": tags })).unwrap_or_default();
    let builder = response(StatusCode::OK)
        .header("content-type", "application/json; charset=utf-8")
        .header("content-length", body.len());
    let path = format!("/v2/{}/tags/list", repo.name);
    let builder = with_next_link(builder, &path, n, more, tags.last().map(String::as_str));
    Ok(finish(builder, RegistryBody::bytes(body)))
}

pub async fn catalog(call: &Call<'_>) -> Result<http::Response<RegistryBody>, RegistryError> {
    let n = page_size(call)?;
    let last = call.query("last").unwrap_or("").to_string();
    let scope = call.scope.clone();
    let (names, more) = call
        .ecr
        .store
        .read(move |t| {
            let from = if last.is_empty() {
                String::new()
            } else {
                format!("{last}{SEP}")
            };
            let rows = t.list_from::<serde_json::Value>(&scope, KIND_REPOSITORY, &from, n + 1)?;
            let mut names: Vec<String> = rows.into_iter().map(|(id, _)| id).collect();
            let more = names.len() > n;
            names.truncate(n);
            Ok::<_, haneul_store::StoreError>((names, more))
        })
        .await
        .map_err(store_error)?;
    let body = serde_json::to_vec(&json!({ "repositories": names })).unwrap_or_default();
    let builder = response(StatusCode::OK)
        .header("content-type", "application/json; charset=utf-8")
        .header("content-length", body.len());
    let builder = with_next_link(builder, "/v2/_catalog", n, more, names.last().map(String::as_str));
    Ok(finish(builder, RegistryBody::bytes(body)))
}

pub async fn referrers(
    call: &Call<'_>,
    name: &str,
    digest: &str,
) -> Result<http::Response<RegistryBody>, RegistryError> {
    let repo = call.repository(name).await?;
    super::blobs::check_digest(digest)?;
    let filter = call.query("artifactType").map(str::to_string);
    let scope = call.scope.clone();
    let repo_name = repo.name.clone();
    let prefix = child_id(&repo.name, &format!("{digest}{SEP}"));
    let images: Vec<Image> = call
        .ecr
        .store
        .read(move |t| {
            let mut out = Vec::new();
            for (id, ()) in t.list_prefix::<()>(&scope, KIND_REFERRER, &prefix)? {
                let referrer = &id[prefix.len()..];
                if let Some(image) = crate::images::load_image(t, &scope, &repo_name, referrer)? {
                    out.push(image);
                }
            }
            Ok::<_, haneul_store::StoreError>(out)
        })
        .await
        .map_err(store_error)?;
    let manifests: Vec<serde_json::Value> = images
        .iter()
        .filter(|i| filter.is_none() || i.artifact_type == filter)
        .map(descriptor)
        .collect();
    let body = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": crate::manifest::OCI_INDEX,
        "manifests": manifests,
    }))
    .unwrap_or_default();
    let mut resp = json_response(StatusCode::OK, body, false);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(crate::manifest::OCI_INDEX),
    );
    if filter.is_some() {
        resp.headers_mut()
            .insert("oci-filters-applied", http::HeaderValue::from_static("artifactType"));
    }
    Ok(resp)
}

/// An image as a descriptor in a referrers index.
pub fn descriptor(image: &Image) -> serde_json::Value {
    let mut d = json!({
        "mediaType": image.media_type,
        "digest": image.digest,
        "size": image.manifest.len(),
    });
    if let Some(a) = &image.artifact_type {
        d["artifactType"] = json!(a);
    }
    if let Some(a) = &image.annotations {
        d["annotations"] = json!(a);
    }
    d
}

//! ListImages, DescribeImages, BatchGetImage, BatchDeleteImage, PutImage, ListImageReferrers.

use haneul_store::{Scope, Txn};
use haneul_wire::RequestContext;
use serde_json::Value;

use super::{decode_token, encode_token, load, output, output_with_lists, page_size};
use crate::error::EcrError;
use crate::generated as api;
use crate::images::{self as core, DeleteError, Incoming, PushError};
use crate::model::*;
use crate::{parse, scope, Ecr};

/// ListImages' and DescribeImages' page size when none is asked for.
const DEFAULT_PAGE: usize = 100;

fn id_text(id: &api::ImageIdentifier) -> String {
    let show = |v: &Option<String>| {
        v.as_deref()
            .map(|s| format!("'{s}'"))
            .unwrap_or_else(|| "'null'".into())
    };
    format!(
        "{{imageDigest:{}, imageTag:{}}}",
        show(&id.image_digest),
        show(&id.image_tag)
    )
}

/// Why an image id names no image (BatchGetImage/BatchDeleteImage failures).
enum Lookup {
    Found(Box<Image>),
    Failed(&'static str, String),
}

fn lookup(t: &Txn<'_>, scope: &Scope, repo: &str, id: &api::ImageIdentifier) -> Result<Lookup, EcrError> {
    let tagged = match &id.image_tag {
        Some(tag) => match core::tag_digest(t, scope, repo, tag)? {
            Some(d) => Some(d),
            None => return Ok(Lookup::Failed("ImageNotFound", "Requested image not found".into())),
        },
        None => None,
    };
    let digest = match (&id.image_digest, tagged) {
        (None, None) => {
            return Ok(Lookup::Failed(
                "MissingDigestAndTag",
                "Invalid request parameters: both tag and digest cannot be null".into(),
            ))
        }
        (Some(d), Some(t)) if *d != t => {
            return Ok(Lookup::Failed(
                "ImageTagDoesNotMatchDigest",
                format!("Invalid request parameters: image tag digest '{t}' does not match digest '{d}'"),
            ))
        }
        (Some(d), _) if !crate::names::valid_digest(d) => {
            return Ok(Lookup::Failed(
                "InvalidImageDigest",
                format!("Invalid request parameters: image digest '{d}' is not valid"),
            ))
        }
        (Some(d), _) => d.clone(),
        (None, Some(t)) => t,
    };
    Ok(match core::load_image(t, scope, repo, &digest)? {
        Some(image) => Lookup::Found(Box::new(image)),
        None => Lookup::Failed("ImageNotFound", "Requested image not found".into()),
    })
}

pub fn detail(repo: &Repository, image: &Image) -> api::ImageDetail {
    api::ImageDetail {
        artifact_media_type: image.artifact_media_type.clone(),
        image_digest: Some(image.digest.clone()),
        image_manifest_media_type: Some(image.media_type.clone()),
        image_pushed_at: Some(image.pushed_at),
        image_size_in_bytes: Some(image.size as i64),
        image_status: Some("ACTIVE".into()),
        image_tags: image.tags.clone(),
        last_recorded_pull_time: image.last_pull,
        registry_id: Some(repo.registry_id.clone()),
        repository_name: Some(repo.name.clone()),
        subject_manifest_digest: image.subject.clone(),
        ..Default::default()
    }
}

fn tag_status_ok(status: Option<&str>, image: &Image) -> bool {
    match status {
        Some("TAGGED") => !image.tags.is_empty(),
        Some("UNTAGGED") => image.tags.is_empty(),
        _ => true,
    }
}

/// One page of a repository's images (ordered by digest) passing `keep`.
fn page(
    t: &Txn<'_>,
    scope: &Scope,
    repo: &str,
    after: Option<String>,
    n: usize,
    keep: impl Fn(&Image) -> bool,
) -> Result<(Vec<Image>, Option<String>), EcrError> {
    let prefix = repository_prefix(repo);
    let mut from = after
        .map(|a| format!("{prefix}{a}{SEP}"))
        .unwrap_or_else(|| prefix.clone());
    let mut out = Vec::new();
    loop {
        let rows: Vec<(String, Image)> = t.list_prefix_from(scope, KIND_IMAGE, &prefix, &from, n + 1)?;
        let exhausted = rows.len() <= n;
        for (id, image) in rows {
            from = format!("{id}{SEP}");
            if keep(&image) {
                if out.len() == n {
                    let last: &Image = &out[n - 1];
                    return Ok((out.clone(), Some(encode_token(&last.digest))));
                }
                out.push(image);
            }
        }
        if exhausted {
            return Ok((out, None));
        }
    }
}

pub async fn list(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::ListImagesRequest = parse(input)?;
    let scope = scope(ctx);
    let ctx2 = ctx.clone();
    let after = decode_token(input.next_token.as_deref())?;
    let n = page_size(input.max_results, DEFAULT_PAGE);
    let status = input.filter.and_then(|f| f.tag_status);
    let (images, next) = ecr
        .store
        .read(move |t| {
            let repo = load(t, &scope, &ctx2, input.registry_id.as_deref(), &input.repository_name)?;
            page(t, &scope, &repo.name, after, n, |i| tag_status_ok(status.as_deref(), i))
        })
        .await?;
    let mut ids = Vec::new();
    for image in &images {
        if image.tags.is_empty() {
            ids.push(api::ImageIdentifier {
                image_digest: Some(image.digest.clone()),
                image_tag: None,
            });
        }
        for tag in &image.tags {
            ids.push(api::ImageIdentifier {
                image_digest: Some(image.digest.clone()),
                image_tag: Some(tag.clone()),
            });
        }
    }
    output_with_lists(
        &api::ListImagesResponse {
            image_ids: ids,
            next_token: next,
        },
        &["imageIds"],
    )
}

pub async fn describe(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::DescribeImagesRequest = parse(input)?;
    let scope = scope(ctx);
    let ctx2 = ctx.clone();
    let after = decode_token(input.next_token.as_deref())?;
    let n = page_size(input.max_results, DEFAULT_PAGE);
    let status = input.filter.as_ref().and_then(|f| f.tag_status.clone());
    let (repo, images, next, scans) = ecr
        .store
        .read(move |t| {
            let repo = load(t, &scope, &ctx2, input.registry_id.as_deref(), &input.repository_name)?;
            let scans_of = |images: &[Image]| -> Result<Vec<Option<crate::scan::ScanRecord>>, EcrError> {
                images
                    .iter()
                    .map(|i| Ok(t.get(&scope, crate::scan::KIND_SCAN, &child_id(&repo.name, &i.digest))?))
                    .collect()
            };
            if input.image_ids.is_empty() {
                let (images, next) = page(t, &scope, &repo.name, after, n, |i| tag_status_ok(status.as_deref(), i))?;
                let scans = scans_of(&images)?;
                return Ok((repo, images, next, scans));
            }
            let mut images: Vec<Image> = Vec::new();
            for id in &input.image_ids {
                match lookup(t, &scope, &repo.name, id)? {
                    Lookup::Found(image) => {
                        if !images.iter().any(|i| i.digest == image.digest) {
                            images.push(*image);
                        }
                    }
                    Lookup::Failed(..) => {
                        return Err(EcrError::ImageNotFound(format!(
                            "The image with imageId {} does not exist within the repository with name '{}' in the registry with id '{}'",
                            id_text(id),
                            repo.name,
                            repo.registry_id
                        )))
                    }
                }
            }
            let scans = scans_of(&images)?;
            Ok::<_, EcrError>((repo, images, None, scans))
        })
        .await?;
    output_with_lists(
        &api::DescribeImagesResponse {
            image_details: images
                .iter()
                .zip(&scans)
                .map(|(i, scan)| {
                    let mut d = detail(&repo, i);
                    if let Some(scan) = scan {
                        d.image_scan_status = Some(super::scans::status_view(scan));
                        d.image_scan_findings_summary = super::scans::summary_view(scan);
                    }
                    d
                })
                .collect(),
            next_token: next,
        },
        &["imageDetails"],
    )
}

pub async fn batch_get(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::BatchGetImageRequest = parse(input)?;
    let scope = scope(ctx);
    let ctx2 = ctx.clone();
    let accepted = input.accepted_media_types.clone();
    let (repo, found) = ecr
        .store
        .read(move |t| {
            let repo = load(t, &scope, &ctx2, input.registry_id.as_deref(), &input.repository_name)?;
            let mut found = Vec::new();
            for id in input.image_ids {
                let result = lookup(t, &scope, &repo.name, &id)?;
                found.push((id, result));
            }
            Ok::<_, EcrError>((repo, found))
        })
        .await?;
    let mut images = Vec::new();
    let mut failures = Vec::new();
    for (id, result) in found {
        let result = match result {
            Lookup::Found(image) if !accepted.is_empty() && !accepted.contains(&image.media_type) => Lookup::Failed(
                "UnsupportedImageType",
                format!(
                    "The image's manifest media type {} is not among the accepted media types",
                    image.media_type
                ),
            ),
            other => other,
        };
        match result {
            Lookup::Found(image) => images.push(api::Image {
                image_id: Some(api::ImageIdentifier {
                    image_digest: Some(image.digest.clone()),
                    image_tag: id.image_tag.clone(),
                }),
                image_manifest: Some(image.manifest.clone()),
                image_manifest_media_type: Some(image.media_type.clone()),
                registry_id: Some(repo.registry_id.clone()),
                repository_name: Some(repo.name.clone()),
            }),
            Lookup::Failed(code, reason) => failures.push(api::ImageFailure {
                failure_code: Some(code.into()),
                failure_reason: Some(reason),
                image_id: Some(id),
            }),
        }
    }
    output_with_lists(
        &api::BatchGetImageResponse { failures, images },
        &["failures", "images"],
    )
}

pub async fn batch_delete(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::BatchDeleteImageRequest = parse(input)?;
    let scope = scope(ctx);
    let ctx2 = ctx.clone();
    let (deleted, failures) = ecr
        .store
        .write(move |t| {
            let repo = load(t, &scope, &ctx2, input.registry_id.as_deref(), &input.repository_name)?;
            let mut deleted = Vec::new();
            let mut failures = Vec::new();
            for id in input.image_ids {
                let fail = |code: &str, reason: String| api::ImageFailure {
                    failure_code: Some(code.into()),
                    failure_reason: Some(reason),
                    image_id: Some(id.clone()),
                };
                let image = match lookup(t, &scope, &repo.name, &id)? {
                    Lookup::Found(image) => image,
                    Lookup::Failed(code, reason) => {
                        failures.push(fail(code, reason));
                        continue;
                    }
                };
                let result = match (&id.image_digest, &id.image_tag) {
                    (None, Some(tag)) => {
                        core::untag(t, &scope, &repo.name, tag, true).map(|d| vec![(d, Some(tag.clone()))])
                    }
                    _ => core::delete_image(t, &scope, &repo.name, &image.digest).map(|gone| {
                        if gone.tags.is_empty() {
                            vec![(gone.digest, None)]
                        } else {
                            gone.tags
                                .iter()
                                .map(|tag| (gone.digest.clone(), Some(tag.clone())))
                                .collect()
                        }
                    }),
                };
                match result {
                    Ok(ids) => deleted.extend(ids.into_iter().map(|(d, tag)| api::ImageIdentifier {
                        image_digest: Some(d),
                        image_tag: tag,
                    })),
                    Err(DeleteError::NotFound) => {
                        failures.push(fail("ImageNotFound", "Requested image not found".into()))
                    }
                    Err(DeleteError::ReferencedByIndex(parent)) => failures.push(fail(
                        "ImageReferencedByManifestList",
                        format!("Requested image referenced by manifest list: [{parent}]"),
                    )),
                    Err(DeleteError::Store(e)) => return Err(EcrError::Store(e)),
                }
            }
            Ok::<_, EcrError>((deleted, failures))
        })
        .await?;
    output_with_lists(
        &api::BatchDeleteImageResponse {
            failures,
            image_ids: deleted,
        },
        &["failures", "imageIds"],
    )
}

pub async fn put(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::PutImageRequest = parse(input)?;
    let scope = scope(ctx);
    let ctx2 = ctx.clone();
    let registry = input.registry_id.clone();
    let name = input.repository_name.clone();
    let repo = ecr
        .store
        .read(move |t| load(t, &scope, &ctx2, registry.as_deref(), &name))
        .await?;
    if let Some(tag) = input.image_tag.as_deref().filter(|t| !crate::names::valid_tag(t)) {
        return Err(EcrError::InvalidParameter(format!(
            "Invalid parameter at 'imageTag' failed to satisfy constraint: 'Invalid image tag {tag}'"
        )));
    }
    let incoming = Incoming::parse(
        input.image_manifest.as_bytes(),
        input.image_manifest_media_type.as_deref(),
    )
    .map_err(|e| push_error(e, &repo))?;
    let media_type = incoming.manifest.media_type.clone();
    let pushed = ecr
        .push(
            &crate::scope(ctx),
            &repo.name,
            incoming,
            input.image_tag.as_deref(),
            input.image_digest.as_deref(),
        )
        .await
        .map_err(|e| push_error(e, &repo))?;
    if pushed.unchanged {
        return Err(EcrError::ImageAlreadyExists(format!(
            "Image with digest '{}' and tag '{}' already exists in the repository with name '{}' in registry with id '{}'",
            pushed.digest,
            input.image_tag.as_deref().unwrap_or("null"),
            repo.name,
            repo.registry_id
        )));
    }
    output(&api::PutImageResponse {
        image: Some(api::Image {
            image_id: Some(api::ImageIdentifier {
                image_digest: Some(pushed.digest),
                image_tag: input.image_tag,
            }),
            image_manifest: Some(input.image_manifest),
            image_manifest_media_type: Some(media_type),
            registry_id: Some(repo.registry_id.clone()),
            repository_name: Some(repo.name.clone()),
        }),
    })
}

fn push_error(e: PushError, repo: &Repository) -> EcrError {
    let (name, registry) = (&repo.name, &repo.registry_id);
    match e {
        PushError::Invalid(m) => EcrError::InvalidParameter(format!(
            "Invalid parameter at 'ImageManifest' failed to satisfy constraint: '{m}'"
        )),
        PushError::BlobUnknown(d) => EcrError::LayersNotFound(format!(
            "Layers with digests '[{d}]' required for pushing image into repository with name '{name}' in the registry with id '{registry}' do not exist"
        )),
        PushError::ManifestUnknown(d) => EcrError::ReferencedImagesNotFound(format!(
            "Manifest list references images that do not exist in repository '{name}': [{d}]"
        )),
        PushError::DigestMismatch { expected, actual } => EcrError::ImageDigestDoesNotMatch(format!(
            "Provided digest '{expected}' does not match the digest '{actual}' of the image manifest"
        )),
        PushError::TagImmutable(tag) => EcrError::ImageTagAlreadyExists(format!(
            "The image tag '{tag}' already exists in the '{name}' repository and cannot be overwritten because the repository is immutable."
        )),
        PushError::LimitExceeded => EcrError::LimitExceeded(format!(
            "The repository '{name}' already holds {} images, the most it may",
            core::MAX_IMAGES_PER_REPOSITORY
        )),
        PushError::Store(e) => EcrError::Store(e),
    }
}

pub async fn referrers(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::ListImageReferrersRequest = parse(input)?;
    let scope = scope(ctx);
    let ctx2 = ctx.clone();
    let subject = input.subject_id.image_digest.clone();
    let types: Vec<String> = input.filter.map(|f| f.artifact_types).unwrap_or_default();
    let images = ecr
        .store
        .read(move |t| {
            let repo = load(t, &scope, &ctx2, input.registry_id.as_deref(), &input.repository_name)?;
            let prefix = child_id(&repo.name, &format!("{subject}{SEP}"));
            let mut out = Vec::new();
            for (id, ()) in t.list_prefix::<()>(&scope, KIND_REFERRER, &prefix)? {
                if let Some(image) = core::load_image(t, &scope, &repo.name, &id[prefix.len()..])? {
                    out.push(image);
                }
            }
            Ok::<_, EcrError>(out)
        })
        .await?;
    let referrers = images
        .iter()
        .filter(|i| types.is_empty() || i.artifact_type.as_ref().is_some_and(|a| types.contains(a)))
        .map(|i| api::ImageReferrer {
            annotations: i
                .annotations
                .iter()
                .flatten()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect(),
            artifact_status: Some("ACTIVE".into()),
            artifact_type: i.artifact_type.clone(),
            digest: i.digest.clone(),
            media_type: i.media_type.clone(),
            size: i.manifest.len() as i64,
        })
        .collect();
    output_with_lists(
        &api::ListImageReferrersResponse {
            next_token: None,
            referrers,
        },
        &["referrers"],
    )
}

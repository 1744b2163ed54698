//! StartImageScan and DescribeImageScanFindings (ECR's basic scanning, see [`crate::scan`]).

use haneul_wire::RequestContext;
use serde_json::Value;

use super::{decode_token, encode_token, load, output, page_size};
use crate::error::EcrError;
use crate::generated as api;
use crate::model::*;
use crate::scan::{ScanRecord, KIND_SCAN, SCAN_QUOTA_S};
use crate::{parse, scope, Ecr};

/// DescribeImageScanFindings' page size when none is asked for.
const DEFAULT_PAGE: usize = 100;

fn not_found(id: &api::ImageIdentifier, repo: &Repository) -> EcrError {
    EcrError::ImageNotFound(format!(
        "The image with imageId {{imageDigest:'{}', imageTag:'{}'}} does not exist within the repository with name '{}' in the registry with id '{}'",
        id.image_digest.as_deref().unwrap_or("null"),
        id.image_tag.as_deref().unwrap_or("null"),
        repo.name,
        repo.registry_id
    ))
}

/// The image an identifier names (a tag, a digest, or both agreeing).
fn resolve(
    t: &haneul_store::Txn<'_>,
    scope: &haneul_store::Scope,
    repo: &Repository,
    id: &api::ImageIdentifier,
) -> Result<Image, EcrError> {
    let digest = match (&id.image_digest, &id.image_tag) {
        (Some(d), _) => d.clone(),
        (None, Some(tag)) => {
            crate::images::tag_digest(t, scope, &repo.name, tag)?.ok_or_else(|| not_found(id, repo))?
        }
        (None, None) => {
            return Err(EcrError::InvalidParameter(
                "Invalid parameter at 'imageId' failed to satisfy constraint: 'an image digest or tag is required'"
                    .into(),
            ))
        }
    };
    let image = crate::images::load_image(t, scope, &repo.name, &digest)?.ok_or_else(|| not_found(id, repo))?;
    if let Some(tag) = &id.image_tag {
        if !image.tags.contains(tag) {
            return Err(not_found(id, repo));
        }
    }
    Ok(image)
}

pub fn status_view(scan: &ScanRecord) -> api::ImageScanStatus {
    api::ImageScanStatus {
        description: Some(scan.description.clone()),
        status: Some(scan.status.clone()),
    }
}

pub fn summary_view(scan: &ScanRecord) -> Option<api::ImageScanFindingsSummary> {
    (scan.status == "COMPLETE").then(|| api::ImageScanFindingsSummary {
        finding_severity_counts: scan.severity_counts(),
        image_scan_completed_at: scan.completed_at,
        vulnerability_source_updated_at: scan.source_updated_at,
    })
}

pub async fn start(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::StartImageScanRequest = parse(input)?;
    let (scope, ctx2, id) = (scope(ctx), ctx.clone(), input.image_id.clone());
    let (repo, image, previous) = ecr
        .store
        .read(move |t| {
            let repo = load(t, &scope, &ctx2, input.registry_id.as_deref(), &input.repository_name)?;
            let image = resolve(t, &scope, &repo, &id)?;
            let previous: Option<ScanRecord> = t.get(&scope, KIND_SCAN, &child_id(&repo.name, &image.digest))?;
            Ok::<_, EcrError>((repo, image, previous))
        })
        .await?;
    if image.is_index() {
        return Err(EcrError::UnsupportedImageType(
            "The image is a manifest list; scan the images it lists".into(),
        ));
    }
    if previous.is_some_and(|p| p.status != "FAILED" && crate::now_s() - p.started_at < SCAN_QUOTA_S) {
        return Err(EcrError::LimitExceeded(
            "The scan quota per image has been exceeded. Wait and try again.".into(),
        ));
    }
    let digest = image.digest.clone();
    let scan = ecr.scanner.start(crate::scope(ctx), repo.name.clone(), image).await?;
    output(&api::StartImageScanResponse {
        image_id: Some(api::ImageIdentifier {
            image_digest: Some(digest),
            image_tag: input.image_id.image_tag,
        }),
        image_scan_status: Some(status_view(&scan)),
        registry_id: Some(repo.registry_id.clone()),
        repository_name: Some(repo.name.clone()),
    })
}

pub async fn describe_findings(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::DescribeImageScanFindingsRequest = parse(input)?;
    let (scope, ctx2, id) = (scope(ctx), ctx.clone(), input.image_id.clone());
    let after = decode_token(input.next_token.as_deref())?;
    let n = page_size(input.max_results, DEFAULT_PAGE);
    let (repo, image, scan) = ecr
        .store
        .read(move |t| {
            let repo = load(t, &scope, &ctx2, input.registry_id.as_deref(), &input.repository_name)?;
            let image = resolve(t, &scope, &repo, &id)?;
            let scan: Option<ScanRecord> = t.get(&scope, KIND_SCAN, &child_id(&repo.name, &image.digest))?;
            Ok::<_, EcrError>((repo, image, scan))
        })
        .await?;
    let scan = scan.ok_or_else(|| {
        EcrError::ScanNotFound(format!(
            "Image scan does not exist for the image with '{{imageDigest:'{}', imageTag:'{}'}}' in the repository with name '{}' in the registry with id '{}'",
            image.digest,
            input.image_id.image_tag.as_deref().unwrap_or("null"),
            repo.name,
            repo.registry_id
        ))
    })?;
    let start: usize = match after.as_deref() {
        Some(t) => t.parse().map_err(|_| {
            EcrError::InvalidParameter(
                "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid NextToken'".into(),
            )
        })?,
        None => 0,
    };
    let page: Vec<api::ImageScanFinding> = scan
        .findings
        .iter()
        .skip(start)
        .take(n)
        .map(|f| api::ImageScanFinding {
            attributes: f
                .attributes
                .iter()
                .map(|(k, v)| api::Attribute {
                    key: k.clone(),
                    value: Some(v.clone()),
                })
                .collect(),
            description: f.description.clone(),
            name: Some(f.name.clone()),
            severity: Some(f.severity.clone()),
            uri: f.uri.clone(),
        })
        .collect();
    let next = (start + n < scan.findings.len()).then(|| encode_token(&(start + n).to_string()));
    let findings = (scan.status == "COMPLETE").then(|| api::ImageScanFindings {
        finding_severity_counts: scan.severity_counts(),
        findings: page,
        image_scan_completed_at: scan.completed_at,
        vulnerability_source_updated_at: scan.source_updated_at,
        ..Default::default()
    });
    let mut out = output(&api::DescribeImageScanFindingsResponse {
        image_id: Some(api::ImageIdentifier {
            image_digest: Some(image.digest.clone()),
            image_tag: input.image_id.image_tag,
        }),
        image_scan_findings: findings,
        image_scan_status: Some(status_view(&scan)),
        next_token: next,
        registry_id: Some(repo.registry_id.clone()),
        repository_name: Some(repo.name.clone()),
    })?;
    if let Some(f) = out.get_mut("imageScanFindings").and_then(Value::as_object_mut) {
        f.entry("findings").or_insert_with(|| Value::Array(Vec::new()));
    }
    Ok(out)
}

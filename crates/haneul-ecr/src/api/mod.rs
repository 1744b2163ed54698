//! ECR's operations, one module per resource family. Each validates, then does all its
//! writes in one `Store::write`.

pub mod auth;
pub mod images;
pub mod layers;
pub mod policies;
pub mod pullthrough;
pub mod repositories;
pub mod scans;
pub mod tags;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use haneul_store::{Scope, Txn};
use haneul_wire::RequestContext;
use serde::Serialize;
use serde_json::Value;

use crate::error::EcrError;
use crate::model::Repository;
use crate::Ecr;

pub async fn call(ecr: &Ecr, ctx: &RequestContext, operation: &str, input: Value) -> Result<Value, EcrError> {
    match operation {
        "CreateRepository" => repositories::create(ecr, ctx, input).await,
        "DescribeRepositories" => repositories::describe(ecr, ctx, input).await,
        "DeleteRepository" => repositories::delete(ecr, ctx, input).await,
        "PutImageTagMutability" => repositories::put_tag_mutability(ecr, ctx, input).await,
        "PutImageScanningConfiguration" => repositories::put_scanning(ecr, ctx, input).await,
        "GetAuthorizationToken" => auth::get_authorization_token(ecr, ctx, input).await,
        "ListImages" => images::list(ecr, ctx, input).await,
        "DescribeImages" => images::describe(ecr, ctx, input).await,
        "BatchGetImage" => images::batch_get(ecr, ctx, input).await,
        "BatchDeleteImage" => images::batch_delete(ecr, ctx, input).await,
        "PutImage" => images::put(ecr, ctx, input).await,
        "ListImageReferrers" => images::referrers(ecr, ctx, input).await,
        "GetDownloadUrlForLayer" => layers::download_url(ecr, ctx, input).await,
        "InitiateLayerUpload" => layers::initiate(ecr, ctx, input).await,
        "UploadLayerPart" => layers::upload_part(ecr, ctx, input).await,
        "CompleteLayerUpload" => layers::complete(ecr, ctx, input).await,
        "BatchCheckLayerAvailability" => layers::check(ecr, ctx, input).await,
        "SetRepositoryPolicy" => policies::set_repository_policy(ecr, ctx, input).await,
        "GetRepositoryPolicy" => policies::get_repository_policy(ecr, ctx, input).await,
        "DeleteRepositoryPolicy" => policies::delete_repository_policy(ecr, ctx, input).await,
        "PutLifecyclePolicy" => policies::put_lifecycle_policy(ecr, ctx, input).await,
        "GetLifecyclePolicy" => policies::get_lifecycle_policy(ecr, ctx, input).await,
        "DeleteLifecyclePolicy" => policies::delete_lifecycle_policy(ecr, ctx, input).await,
        "StartLifecyclePolicyPreview" => policies::start_lifecycle_preview(ecr, ctx, input).await,
        "GetLifecyclePolicyPreview" => policies::get_lifecycle_preview(ecr, ctx, input).await,
        "PutRegistryPolicy" => policies::put_registry_policy(ecr, ctx, input).await,
        "GetRegistryPolicy" => policies::get_registry_policy(ecr, ctx, input).await,
        "DeleteRegistryPolicy" => policies::delete_registry_policy(ecr, ctx, input).await,
        "DescribeRegistry" => policies::describe_registry(ecr, ctx, input).await,
        "PutReplicationConfiguration" => policies::put_replication(ecr, ctx, input).await,
        "StartImageScan" => scans::start(ecr, ctx, input).await,
        "DescribeImageScanFindings" => scans::describe_findings(ecr, ctx, input).await,
        "TagResource" => tags::tag(ecr, ctx, input).await,
        "UntagResource" => tags::untag(ecr, ctx, input).await,
        "ListTagsForResource" => tags::list(ecr, ctx, input).await,
        "CreatePullThroughCacheRule" => pullthrough::create(ecr, ctx, input).await,
        "DescribePullThroughCacheRules" => pullthrough::describe(ecr, ctx, input).await,
        "DeletePullThroughCacheRule" => pullthrough::delete(ecr, ctx, input).await,
        "UpdatePullThroughCacheRule" => pullthrough::update(ecr, ctx, input).await,
        "ValidatePullThroughCacheRule" => pullthrough::validate(ecr, ctx, input).await,
        other => Err(EcrError::NotImplemented(other.to_string())),
    }
}

pub(crate) fn output<T: Serialize>(value: &T) -> Result<Value, EcrError> {
    serde_json::to_value(value).map_err(|e| EcrError::Internal(format!("cannot render the output: {e}")))
}

/// `output`, with the given list members present even when empty (ECR always sends them;
/// the CLI's queries such as `length(failures)` rely on it).
pub(crate) fn output_with_lists<T: Serialize>(value: &T, lists: &[&str]) -> Result<Value, EcrError> {
    Ok(haneul_wire::value::with_empty_lists(output(value)?, lists))
}

/// The caller's registry; another account's registry id names no repository it can reach.
pub(crate) fn registry_id(ctx: &RequestContext, given: Option<&str>) -> String {
    given.unwrap_or(&ctx.account_id).to_string()
}

/// ECR's check of a repository name (the model's pattern, matched whole).
pub(crate) fn check_name(name: &str) -> Result<(), EcrError> {
    if crate::names::valid_repository_name(name) {
        return Ok(());
    }
    Err(EcrError::InvalidParameter(format!(
        "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '{}''",
        crate::names::REPOSITORY_NAME_PATTERN
    )))
}

/// The repository `name` in the caller's scope, or RepositoryNotFoundException.
pub(crate) fn load(
    t: &Txn<'_>,
    scope: &Scope,
    ctx: &RequestContext,
    registry: Option<&str>,
    name: &str,
) -> Result<Repository, EcrError> {
    check_name(name)?;
    let registry = registry_id(ctx, registry);
    if registry != ctx.account_id {
        return Err(EcrError::RepositoryNotFound(name.to_string(), registry));
    }
    crate::images::load_repository(t, scope, name)?
        .ok_or_else(|| EcrError::RepositoryNotFound(name.to_string(), registry))
}

/// Paging: a nextToken is the last id of the page it ends.
pub(crate) fn encode_token(last_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_id)
}

pub(crate) fn decode_token(token: Option<&str>) -> Result<Option<String>, EcrError> {
    match token {
        None => Ok(None),
        Some(t) => URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| {
                EcrError::InvalidParameter(
                    "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid NextToken'".into(),
                )
            }),
    }
}

/// Page size: `maxResults` if given (1..1000 checked by the model), else `default`.
pub(crate) fn page_size(max_results: Option<i64>, default: usize) -> usize {
    max_results.map(|n| n.clamp(1, 1000) as usize).unwrap_or(default)
}

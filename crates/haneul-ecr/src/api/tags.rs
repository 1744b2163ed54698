//! TagResource, UntagResource, ListTagsForResource: tags on repositories, by ARN.

use haneul_wire::RequestContext;
use serde_json::Value;

use super::output;
use crate::error::EcrError;
use crate::generated as api;
use crate::model::*;
use crate::{parse, scope, Ecr};

/// Tags one repository may carry.
pub const MAX_TAGS: usize = 50;
const MAX_KEY_LEN: usize = 128;
const MAX_VALUE_LEN: usize = 256;

/// Tags as ECR accepts them, as stored pairs.
pub fn checked(tags: &[api::Tag]) -> Result<Vec<(String, String)>, EcrError> {
    if tags.len() > MAX_TAGS {
        return Err(EcrError::TooManyTags(format!(
            "A repository can have at most {MAX_TAGS} tags"
        )));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for t in tags {
        if t.key.is_empty() || t.key.len() > MAX_KEY_LEN || t.value.len() > MAX_VALUE_LEN {
            return Err(EcrError::InvalidTagParameter(format!(
                "Tag keys must be 1 to {MAX_KEY_LEN} characters and values at most {MAX_VALUE_LEN}: '{}'",
                t.key
            )));
        }
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(EcrError::InvalidTagParameter(format!(
                "Tag key '{}' uses the reserved prefix aws:",
                t.key
            )));
        }
        out.retain(|(k, _)| *k != t.key);
        out.push((t.key.clone(), t.value.clone()));
    }
    Ok(out)
}

/// The repository name in `arn:aws:ecr:<region>:<account>:repository/<name>` of the caller.
fn repository_of(ctx: &RequestContext, arn: &str) -> Result<String, EcrError> {
    let invalid = || {
        EcrError::InvalidParameter(format!(
            "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN {arn}'"
        ))
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return Err(invalid());
    };
    let name = resource.strip_prefix("repository/").ok_or_else(invalid)?;
    if *prefix != "arn" || !partition.starts_with("aws") || *service != "ecr" || name.is_empty() {
        return Err(invalid());
    }
    if *region != ctx.region || *account != ctx.account_id {
        return Err(EcrError::RepositoryNotFound(name.to_string(), account.to_string()));
    }
    Ok(name.to_string())
}

async fn change_tags(
    ecr: &Ecr,
    ctx: &RequestContext,
    arn: &str,
    change: impl FnOnce(&mut Vec<(String, String)>) -> Result<(), EcrError> + Send + 'static,
) -> Result<(), EcrError> {
    let name = repository_of(ctx, arn)?;
    super::repositories::update_repository(ecr, ctx, None, name, move |r| {
        change(&mut r.tags)?;
        if r.tags.len() > MAX_TAGS {
            return Err(EcrError::TooManyTags(format!(
                "A repository can have at most {MAX_TAGS} tags"
            )));
        }
        Ok(())
    })
    .await
    .map(|_| ())
}

pub async fn tag(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::TagResourceRequest = parse(input)?;
    let new = checked(&input.tags)?;
    change_tags(ecr, ctx, &input.resource_arn, move |tags| {
        for (k, v) in new {
            tags.retain(|(old, _)| *old != k);
            tags.push((k, v));
        }
        Ok(())
    })
    .await?;
    output(&api::TagResourceResponse::default())
}

pub async fn untag(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::UntagResourceRequest = parse(input)?;
    let keys = input.tag_keys.clone();
    change_tags(ecr, ctx, &input.resource_arn, move |tags| {
        tags.retain(|(k, _)| !keys.contains(k));
        Ok(())
    })
    .await?;
    output(&api::UntagResourceResponse::default())
}

pub async fn list(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::ListTagsForResourceRequest = parse(input)?;
    let name = repository_of(ctx, &input.resource_arn)?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    let repo: Repository = ecr
        .store
        .read(move |t| super::load(t, &scope, &ctx2, None, &name))
        .await?;
    super::output_with_lists(
        &api::ListTagsForResourceResponse {
            tags: repo
                .tags
                .iter()
                .map(|(k, v)| api::Tag {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
        },
        &["tags"],
    )
}

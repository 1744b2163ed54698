//! Tags on log groups, old style (TagLogGroup, by name) and new (TagResource, by ARN).

use std::collections::BTreeMap;

use haneul_wire::RequestContext;
use serde_json::{json, Value};

use super::groups::MAX_TAGS;
use super::load_group;
use crate::error::LogsError;
use crate::generated as api;
use crate::model::{group_from_identifier, KIND_GROUP};
use crate::{parse, scope, Logs};

/// Keys the caller may not set (AWS's own prefix).
fn check_key(key: &str) -> Result<(), LogsError> {
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(LogsError::InvalidParameter(format!(
            "Tag keys starting with 'aws:' are reserved: {key}"
        )));
    }
    Ok(())
}

pub(crate) fn check(tags: &BTreeMap<String, String>) -> Result<(), LogsError> {
    tags.keys().try_for_each(|k| check_key(k))?;
    if tags.len() > MAX_TAGS {
        return Err(LogsError::TooManyTags(format!(
            "A resource can have no more than {MAX_TAGS} tags"
        )));
    }
    Ok(())
}

/// The group an ARN names (only log groups carry tags here).
fn group_of_arn(arn: &str) -> Result<String, LogsError> {
    if !arn.starts_with("arn:") {
        return Err(LogsError::InvalidParameter(format!("'{arn}' is not an ARN")));
    }
    group_from_identifier(arn)
        .ok_or_else(|| LogsError::ResourceNotFound(format!("The specified resource '{arn}' does not exist.")))
}

/// Adds `add` and removes `remove` on the group's tags in one write; the tags after.
async fn change(
    logs: &Logs,
    ctx: &RequestContext,
    group: String,
    add: BTreeMap<String, String>,
    remove: Vec<String>,
) -> Result<BTreeMap<String, String>, LogsError> {
    check(&add)?;
    let scope = scope(ctx);
    logs.store
        .write(move |t| {
            let mut g = load_group(t, &scope, &group)?;
            for k in &remove {
                g.tags.remove(k);
            }
            g.tags.extend(add);
            if g.tags.len() > MAX_TAGS {
                return Err(LogsError::TooManyTags(format!(
                    "A resource can have no more than {MAX_TAGS} tags"
                )));
            }
            t.put(&scope, KIND_GROUP, &group, &g)?;
            Ok(g.tags)
        })
        .await
}

async fn tags_of(logs: &Logs, ctx: &RequestContext, group: String) -> Result<BTreeMap<String, String>, LogsError> {
    let scope = scope(ctx);
    logs.store
        .read(move |t| Ok::<_, LogsError>(load_group(t, &scope, &group)?.tags))
        .await
}

pub async fn tag_log_group(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::TagLogGroupRequest = parse(input)?;
    change(logs, ctx, input.log_group_name, input.tags, Vec::new()).await?;
    Ok(json!({}))
}

pub async fn untag_log_group(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::UntagLogGroupRequest = parse(input)?;
    change(logs, ctx, input.log_group_name, BTreeMap::new(), input.tags).await?;
    Ok(json!({}))
}

pub async fn list_tags_log_group(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::ListTagsLogGroupRequest = parse(input)?;
    let tags = tags_of(logs, ctx, input.log_group_name).await?;
    Ok(json!({ "tags": tags }))
}

pub async fn tag_resource(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::TagResourceRequest = parse(input)?;
    change(logs, ctx, group_of_arn(&input.resource_arn)?, input.tags, Vec::new()).await?;
    Ok(json!({}))
}

pub async fn untag_resource(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::UntagResourceRequest = parse(input)?;
    change(
        logs,
        ctx,
        group_of_arn(&input.resource_arn)?,
        BTreeMap::new(),
        input.tag_keys,
    )
    .await?;
    Ok(json!({}))
}

pub async fn list_tags_for_resource(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::ListTagsForResourceRequest = parse(input)?;
    let tags = tags_of(logs, ctx, group_of_arn(&input.resource_arn)?).await?;
    Ok(json!({ "tags": tags }))
}

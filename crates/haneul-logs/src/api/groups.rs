//! Create/Describe/DeleteLogGroup and retention policies.

use std::collections::HashMap;

use haneul_wire::RequestContext;
use serde_json::Value;

use super::{decode_token, load_group, output_with_lists, page, page_size};
use crate::error::LogsError;
use crate::generated as api;
use crate::model::{
    group_arn, group_from_identifier, group_prefix, new_key, now_ms, LogGroup, LogStream, KIND_GROUP,
    KIND_METRIC_FILTER, KIND_STREAM, KIND_SUBSCRIPTION_FILTER,
};
use crate::{parse, scope, Logs};

/// The retention periods PutRetentionPolicy takes, in days.
pub const RETENTION_DAYS: [i64; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];
/// Tags a log group may carry.
pub const MAX_TAGS: usize = 50;

pub async fn create(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::CreateLogGroupRequest = parse(input)?;
    crate::names::check_group_name(&input.log_group_name)?;
    super::tags::check(&input.tags)?;
    let group = LogGroup {
        name: input.log_group_name.clone(),
        key: new_key(),
        created_ms: now_ms(),
        retention_days: None,
        class: input.log_group_class.unwrap_or_else(|| "STANDARD".into()),
        kms_key: input.kms_key_id,
        deletion_protection: input.deletion_protection_enabled.unwrap_or(false),
        tags: input.tags,
    };
    let scope = scope(ctx);
    logs.store
        .write(move |t| {
            if t.exists(&scope, KIND_GROUP, &group.name)? {
                return Err(LogsError::ResourceAlreadyExists(
                    "The specified log group already exists".into(),
                ));
            }
            t.put(&scope, KIND_GROUP, &group.name, &group)?;
            Ok(())
        })
        .await?;
    Ok(Value::Object(Default::default()))
}

/// A group as DescribeLogGroups shows it.
pub(crate) fn view(ctx: &RequestContext, g: &LogGroup, metric_filters: i64, stored_bytes: i64) -> api::LogGroup {
    let arn = group_arn(&ctx.region, &ctx.account_id, &g.name);
    api::LogGroup {
        arn: Some(format!("{arn}:*")),
        creation_time: Some(g.created_ms),
        deletion_protection_enabled: Some(g.deletion_protection),
        kms_key_id: g.kms_key.clone(),
        log_group_arn: Some(arn),
        log_group_class: Some(g.class.clone()),
        log_group_name: Some(g.name.clone()),
        metric_filter_count: Some(metric_filters),
        retention_in_days: g.retention_days,
        stored_bytes: Some(stored_bytes),
        ..Default::default()
    }
}

pub async fn describe(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::DescribeLogGroupsRequest = parse(input)?;
    if input.log_group_name_prefix.is_some() && input.log_group_name_pattern.is_some() {
        return Err(LogsError::InvalidParameter(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.".into(),
        ));
    }
    let identifiers: Vec<String> = input
        .log_group_identifiers
        .iter()
        .map(|i| group_from_identifier(i).unwrap_or_default())
        .collect();
    if !identifiers.is_empty() && (input.log_group_name_prefix.is_some() || input.log_group_name_pattern.is_some()) {
        return Err(LogsError::InvalidParameter(
            "logGroupIdentifiers cannot be combined with a name prefix or pattern.".into(),
        ));
    }
    let after = decode_token(input.next_token.as_deref())?;
    let size = page_size(input.limit, 50);
    let s = scope(ctx);
    let (groups, filters): (Vec<LogGroup>, Vec<String>) = logs
        .store
        .read(move |t| {
            let groups: Vec<(String, LogGroup)> = t.list(&s, KIND_GROUP)?;
            let filters: Vec<(String, Value)> = t.list(&s, KIND_METRIC_FILTER)?;
            Ok::<_, LogsError>((
                groups.into_iter().map(|(_, g)| g).collect(),
                filters.into_iter().map(|(id, _)| id).collect(),
            ))
        })
        .await?;
    let pattern = input.log_group_name_pattern.as_deref().map(str::to_lowercase);
    let wanted: Vec<LogGroup> = groups
        .into_iter()
        .filter(|g| {
            input
                .log_group_name_prefix
                .as_deref()
                .is_none_or(|p| g.name.starts_with(p))
        })
        .filter(|g| pattern.as_deref().is_none_or(|p| g.name.to_lowercase().contains(p)))
        .filter(|g| identifiers.is_empty() || identifiers.contains(&g.name))
        .filter(|g| input.log_group_class.as_deref().is_none_or(|c| g.class == c))
        .collect();
    let (shown, next_token) = page(wanted, after.as_deref(), size, |g| g.name.as_str());
    let bytes = logs.events.group_bytes(shown.iter().map(|g| g.key).collect()).await?;
    let mut filter_counts: HashMap<&str, i64> = HashMap::new();
    for id in &filters {
        if let Some((group, _)) = id.split_once(crate::model::SEP) {
            *filter_counts.entry(group).or_default() += 1;
        }
    }
    let log_groups = shown
        .iter()
        .map(|g| {
            view(
                ctx,
                g,
                filter_counts.get(g.name.as_str()).copied().unwrap_or(0),
                bytes.get(&g.key).copied().unwrap_or(0),
            )
        })
        .collect();
    output_with_lists(
        &api::DescribeLogGroupsResponse { log_groups, next_token },
        &["logGroups"],
    )
}

pub async fn delete(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::DeleteLogGroupRequest = parse(input)?;
    let scope = scope(ctx);
    let name = input.log_group_name;
    let key = logs
        .store
        .write(move |t| {
            let group = load_group(t, &scope, &name)?;
            if group.deletion_protection {
                return Err(LogsError::InvalidOperation(format!(
                    "Log group {name} has deletion protection enabled; turn it off before deleting the group"
                )));
            }
            let prefix = group_prefix(&name);
            for kind in [KIND_STREAM, KIND_METRIC_FILTER, KIND_SUBSCRIPTION_FILTER] {
                let ids: Vec<String> = t
                    .list_prefix::<Value>(&scope, kind, &prefix)?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect();
                for id in ids {
                    t.delete(&scope, kind, &id)?;
                }
            }
            t.delete(&scope, KIND_GROUP, &name)?;
            Ok(group.key)
        })
        .await?;
    logs.forget_events(Some(key), Vec::new());
    Ok(Value::Object(Default::default()))
}

pub async fn put_retention(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::PutRetentionPolicyRequest = parse(input)?;
    let days = input.retention_in_days;
    if !RETENTION_DAYS.contains(&days) {
        let allowed: Vec<String> = RETENTION_DAYS.iter().map(|d| d.to_string()).collect();
        return Err(LogsError::InvalidParameter(format!(
            "1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        )));
    }
    set_retention(logs, ctx, input.log_group_name, Some(days)).await
}

pub async fn delete_retention(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::DeleteRetentionPolicyRequest = parse(input)?;
    set_retention(logs, ctx, input.log_group_name, None).await
}

async fn set_retention(logs: &Logs, ctx: &RequestContext, name: String, days: Option<i64>) -> Result<Value, LogsError> {
    let scope = scope(ctx);
    logs.store
        .write(move |t| {
            let mut group = load_group(t, &scope, &name)?;
            group.retention_days = days;
            t.put(&scope, KIND_GROUP, &name, &group)?;
            Ok::<_, LogsError>(())
        })
        .await?;
    Ok(Value::Object(Default::default()))
}

/// The streams of a group, in name order.
pub(crate) fn streams_of(
    t: &haneul_store::Txn<'_>,
    scope: &haneul_store::Scope,
    group: &str,
) -> Result<Vec<LogStream>, LogsError> {
    Ok(t.list_prefix::<LogStream>(scope, KIND_STREAM, &group_prefix(group))?
        .into_iter()
        .map(|(_, s)| s)
        .collect())
}

//! Metric filters and subscription filters: stored and described (their patterns checked
//! as FilterLogEvents reads them), and TestMetricFilter.

use haneul_wire::RequestContext;
use serde_json::{json, Value};

use super::{decode_token, load_group, output_with_lists, page, page_size};
use crate::error::LogsError;
use crate::generated as api;
use crate::model::{
    child_id, group_prefix, now_ms, MetricFilter, SubscriptionFilter, KIND_METRIC_FILTER, KIND_SUBSCRIPTION_FILTER, SEP,
};
use crate::pattern::Pattern;
use crate::{parse, scope, Logs};

/// Metric filters one log group may have.
pub const MAX_METRIC_FILTERS: usize = 100;
/// Subscription filters one log group may have.
pub const MAX_SUBSCRIPTION_FILTERS: usize = 2;

fn check_pattern(text: &str) -> Result<Pattern, LogsError> {
    Pattern::parse(text).map_err(|e| LogsError::InvalidParameter(e.to_string()))
}

/// Stores (or replaces) a filter of `kind` named `name` on `group`: at most `max` per group.
async fn put_filter<F: serde::Serialize + Send + 'static>(
    logs: &Logs,
    ctx: &RequestContext,
    kind: &'static str,
    max: usize,
    group: String,
    name: String,
    filter: F,
) -> Result<Value, LogsError> {
    let scope = scope(ctx);
    logs.store
        .write(move |t| {
            load_group(t, &scope, &group)?;
            let id = child_id(&group, &name);
            let existing = t.count_prefix(&scope, kind, &group_prefix(&group))? as usize;
            if !t.exists(&scope, kind, &id)? && existing >= max {
                return Err(LogsError::LimitExceeded("Resource limit exceeded.".into()));
            }
            t.put(&scope, kind, &id, &filter)?;
            Ok(())
        })
        .await?;
    Ok(json!({}))
}

pub async fn put_metric_filter(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::PutMetricFilterRequest = parse(input)?;
    check_pattern(&input.filter_pattern)?;
    let transformations =
        serde_json::to_value(&input.metric_transformations).map_err(|e| LogsError::Internal(e.to_string()))?;
    let filter = MetricFilter {
        name: input.filter_name.clone(),
        pattern: input.filter_pattern,
        transformations,
        created_ms: now_ms(),
        apply_on_transformed_logs: input.apply_on_transformed_logs.unwrap_or(false),
    };
    put_filter(
        logs,
        ctx,
        KIND_METRIC_FILTER,
        MAX_METRIC_FILTERS,
        input.log_group_name,
        filter.name.clone(),
        filter,
    )
    .await
}

pub async fn describe_metric_filters(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::DescribeMetricFiltersRequest = parse(input)?;
    if input.filter_name_prefix.is_some() && input.log_group_name.is_none() {
        return Err(LogsError::InvalidParameter(
            "If filterNamePrefix is specified, logGroupName must also be specified.".into(),
        ));
    }
    if input.metric_name.is_some() != input.metric_namespace.is_some() {
        return Err(LogsError::InvalidParameter(
            "metricName and metricNamespace must be specified together.".into(),
        ));
    }
    let after = decode_token(input.next_token.as_deref())?;
    let size = page_size(input.limit, 50);
    let scope = scope(ctx);
    let group = input.log_group_name.clone();
    let all: Vec<(String, MetricFilter)> = logs
        .store
        .read(move |t| match &group {
            Some(g) => {
                load_group(t, &scope, g)?;
                Ok::<_, LogsError>(t.list_prefix(&scope, KIND_METRIC_FILTER, &group_prefix(g))?)
            }
            None => Ok(t.list(&scope, KIND_METRIC_FILTER)?),
        })
        .await?;
    let wanted: Vec<(String, MetricFilter)> = all
        .into_iter()
        .filter(|(_, f)| {
            input
                .filter_name_prefix
                .as_deref()
                .is_none_or(|p| f.name.starts_with(p))
        })
        .filter(|(_, f)| match (&input.metric_name, &input.metric_namespace) {
            (Some(name), Some(ns)) => f.transformations.as_array().is_some_and(|ts| {
                ts.iter()
                    .any(|t| t["metricName"] == name.as_str() && t["metricNamespace"] == ns.as_str())
            }),
            _ => true,
        })
        .collect();
    let (shown, next_token) = page(wanted, after.as_deref(), size, |(id, _)| id.as_str());
    let metric_filters = shown
        .into_iter()
        .map(|(id, f)| {
            let group = id.split(SEP).next().unwrap_or("").to_string();
            Ok(api::MetricFilter {
                apply_on_transformed_logs: Some(f.apply_on_transformed_logs),
                creation_time: Some(f.created_ms),
                filter_name: Some(f.name),
                filter_pattern: Some(f.pattern),
                log_group_name: Some(group),
                metric_transformations: serde_json::from_value(f.transformations)
                    .map_err(|e| LogsError::Internal(e.to_string()))?,
                ..Default::default()
            })
        })
        .collect::<Result<Vec<_>, LogsError>>()?;
    output_with_lists(
        &api::DescribeMetricFiltersResponse {
            metric_filters,
            next_token,
        },
        &["metricFilters"],
    )
}

pub async fn delete_metric_filter(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::DeleteMetricFilterRequest = parse(input)?;
    delete_filter(
        logs,
        ctx,
        KIND_METRIC_FILTER,
        input.log_group_name,
        input.filter_name,
        "The specified metric filter does not exist.",
    )
    .await
}

async fn delete_filter(
    logs: &Logs,
    ctx: &RequestContext,
    kind: &'static str,
    group: String,
    name: String,
    missing: &'static str,
) -> Result<Value, LogsError> {
    let scope = scope(ctx);
    logs.store
        .write(move |t| {
            load_group(t, &scope, &group)?;
            if !t.delete(&scope, kind, &child_id(&group, &name))? {
                return Err(LogsError::ResourceNotFound(missing.into()));
            }
            Ok(())
        })
        .await?;
    Ok(json!({}))
}

pub async fn test_metric_filter(input: Value) -> Result<Value, LogsError> {
    let input: api::TestMetricFilterRequest = parse(input)?;
    let pattern = check_pattern(&input.filter_pattern)?;
    let matches = input
        .log_event_messages
        .iter()
        .enumerate()
        .filter(|(_, m)| pattern.matches(m))
        .map(|(i, m)| api::MetricFilterMatchRecord {
            event_message: Some(m.clone()),
            event_number: Some(i as i64 + 1),
            extracted_values: match &pattern {
                Pattern::Delimited(d) => d.extract(m).unwrap_or_default().into_iter().collect(),
                _ => Default::default(),
            },
        })
        .collect();
    output_with_lists(&api::TestMetricFilterResponse { matches }, &["matches"])
}

pub async fn put_subscription_filter(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::PutSubscriptionFilterRequest = parse(input)?;
    check_pattern(&input.filter_pattern)?;
    let filter = SubscriptionFilter {
        name: input.filter_name.clone(),
        pattern: input.filter_pattern,
        destination_arn: input.destination_arn,
        role_arn: input.role_arn,
        distribution: input.distribution.unwrap_or_else(|| "ByLogStream".into()),
        created_ms: now_ms(),
        apply_on_transformed_logs: input.apply_on_transformed_logs.unwrap_or(false),
    };
    put_filter(
        logs,
        ctx,
        KIND_SUBSCRIPTION_FILTER,
        MAX_SUBSCRIPTION_FILTERS,
        input.log_group_name,
        filter.name.clone(),
        filter,
    )
    .await
}

pub async fn describe_subscription_filters(
    logs: &Logs,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, LogsError> {
    let input: api::DescribeSubscriptionFiltersRequest = parse(input)?;
    let after = decode_token(input.next_token.as_deref())?;
    let size = page_size(input.limit, 50);
    let scope = scope(ctx);
    let group = input.log_group_name.clone();
    let all: Vec<(String, SubscriptionFilter)> = logs
        .store
        .read(move |t| {
            load_group(t, &scope, &group)?;
            Ok::<_, LogsError>(t.list_prefix(&scope, KIND_SUBSCRIPTION_FILTER, &group_prefix(&group))?)
        })
        .await?;
    let wanted: Vec<(String, SubscriptionFilter)> = all
        .into_iter()
        .filter(|(_, f)| {
            input
                .filter_name_prefix
                .as_deref()
                .is_none_or(|p| f.name.starts_with(p))
        })
        .collect();
    let (shown, next_token) = page(wanted, after.as_deref(), size, |(id, _)| id.as_str());
    let subscription_filters = shown
        .into_iter()
        .map(|(_, f)| api::SubscriptionFilter {
            apply_on_transformed_logs: Some(f.apply_on_transformed_logs),
            creation_time: Some(f.created_ms),
            destination_arn: Some(f.destination_arn),
            distribution: Some(f.distribution),
            filter_name: Some(f.name),
            filter_pattern: Some(f.pattern),
            log_group_name: Some(input.log_group_name.clone()),
            role_arn: f.role_arn,
            ..Default::default()
        })
        .collect();
    let out = api::DescribeSubscriptionFiltersResponse {
        next_token,
        subscription_filters,
    };
    output_with_lists(&out, &["subscriptionFilters"])
}

pub async fn delete_subscription_filter(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::DeleteSubscriptionFilterRequest = parse(input)?;
    delete_filter(
        logs,
        ctx,
        KIND_SUBSCRIPTION_FILTER,
        input.log_group_name,
        input.filter_name,
        "The specified subscription filter does not exist.",
    )
    .await
}

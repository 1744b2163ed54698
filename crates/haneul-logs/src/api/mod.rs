//! CloudWatch Logs' operations, one module per resource family. Each validates, then does
//! its resource writes in one `Store::write`; event writes go to the event store.

pub mod events;
pub mod filters;
pub mod groups;
pub mod queries;
pub mod streams;
pub mod tags;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use haneul_store::{Scope, Txn};
use haneul_wire::RequestContext;
use serde::Serialize;
use serde_json::Value;

use crate::error::LogsError;
use crate::model::{child_id, group_from_identifier, LogGroup, LogStream, KIND_GROUP, KIND_STREAM};
use crate::Logs;

pub async fn call(logs: &Logs, ctx: &RequestContext, operation: &str, input: Value) -> Result<Value, LogsError> {
    match operation {
        "CreateLogGroup" => groups::create(logs, ctx, input).await,
        "DescribeLogGroups" => groups::describe(logs, ctx, input).await,
        "DeleteLogGroup" => groups::delete(logs, ctx, input).await,
        "PutRetentionPolicy" => groups::put_retention(logs, ctx, input).await,
        "DeleteRetentionPolicy" => groups::delete_retention(logs, ctx, input).await,
        "CreateLogStream" => streams::create(logs, ctx, input).await,
        "DescribeLogStreams" => streams::describe(logs, ctx, input).await,
        "DeleteLogStream" => streams::delete(logs, ctx, input).await,
        "PutLogEvents" => events::put(logs, ctx, input).await,
        "GetLogEvents" => events::get(logs, ctx, input).await,
        "FilterLogEvents" => events::filter(logs, ctx, input).await,
        "TagLogGroup" => tags::tag_log_group(logs, ctx, input).await,
        "UntagLogGroup" => tags::untag_log_group(logs, ctx, input).await,
        "ListTagsLogGroup" => tags::list_tags_log_group(logs, ctx, input).await,
        "TagResource" => tags::tag_resource(logs, ctx, input).await,
        "UntagResource" => tags::untag_resource(logs, ctx, input).await,
        "ListTagsForResource" => tags::list_tags_for_resource(logs, ctx, input).await,
        "PutMetricFilter" => filters::put_metric_filter(logs, ctx, input).await,
        "DescribeMetricFilters" => filters::describe_metric_filters(logs, ctx, input).await,
        "DeleteMetricFilter" => filters::delete_metric_filter(logs, ctx, input).await,
        "TestMetricFilter" => filters::test_metric_filter(input).await,
        "PutSubscriptionFilter" => filters::put_subscription_filter(logs, ctx, input).await,
        "DescribeSubscriptionFilters" => filters::describe_subscription_filters(logs, ctx, input).await,
        "DeleteSubscriptionFilter" => filters::delete_subscription_filter(logs, ctx, input).await,
        "StartQuery" => queries::start(logs, ctx, input).await,
        "GetQueryResults" => queries::get_results(logs, ctx, input).await,
        "StopQuery" => queries::stop(logs, ctx, input).await,
        "DescribeQueries" => queries::describe(logs, ctx, input).await,
        other => Err(LogsError::NotImplemented(other.to_string())),
    }
}

pub(crate) fn output<T: Serialize>(value: &T) -> Result<Value, LogsError> {
    serde_json::to_value(value).map_err(|e| LogsError::Internal(format!("cannot render the output: {e}")))
}

/// `output`, with the given list members present even when empty (Logs always sends them).
pub(crate) fn output_with_lists<T: Serialize>(value: &T, lists: &[&str]) -> Result<Value, LogsError> {
    Ok(haneul_wire::value::with_empty_lists(output(value)?, lists))
}

/// The group a request names by `logGroupName` or `logGroupIdentifier` (exactly one).
pub(crate) fn group_name(name: Option<&str>, identifier: Option<&str>) -> Result<String, LogsError> {
    match (name, identifier) {
        (Some(_), Some(_)) => Err(LogsError::InvalidParameter(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.".into(),
        )),
        (Some(n), None) => Ok(n.to_string()),
        (None, Some(id)) => group_from_identifier(id)
            .ok_or_else(|| LogsError::InvalidParameter(format!("'{id}' is not a log group name or ARN"))),
        (None, None) => Err(LogsError::InvalidParameter(
            "Either logGroupName or logGroupIdentifier should be provided.".into(),
        )),
    }
}

pub(crate) fn load_group(t: &Txn<'_>, scope: &Scope, name: &str) -> Result<LogGroup, LogsError> {
    t.get(scope, KIND_GROUP, name)?.ok_or_else(LogsError::group_not_found)
}

pub(crate) fn load_stream(t: &Txn<'_>, scope: &Scope, group: &str, stream: &str) -> Result<LogStream, LogsError> {
    t.get(scope, KIND_STREAM, &child_id(group, stream))?
        .ok_or_else(LogsError::stream_not_found)
}

/// Paging over names: a token is the last name of the page it ends.
pub(crate) fn encode_token(last: &str) -> String {
    URL_SAFE_NO_PAD.encode(last)
}

pub(crate) fn decode_token(token: Option<&str>) -> Result<Option<String>, LogsError> {
    match token {
        None => Ok(None),
        Some(t) => URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| LogsError::InvalidParameter("The specified nextToken is invalid.".into())),
    }
}

/// Page size: `limit` if given (the model checked its range), else `default`.
pub(crate) fn page_size(limit: Option<i64>, default: usize) -> usize {
    limit.map(|n| n.max(1) as usize).unwrap_or(default)
}

/// One page of `items` (sorted by `key`) after the token's key; and the next token.
pub(crate) fn page<T>(
    items: Vec<T>,
    after: Option<&str>,
    size: usize,
    key: impl Fn(&T) -> &str,
) -> (Vec<T>, Option<String>) {
    let mut rest: Vec<T> = items.into_iter().filter(|i| after.is_none_or(|a| key(i) > a)).collect();
    let more = rest.len() > size;
    rest.truncate(size);
    let next = if more {
        rest.last().map(|i| encode_token(key(i)))
    } else {
        None
    };
    (rest, next)
}

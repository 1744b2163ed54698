//! StartQuery, GetQueryResults, StopQuery, DescribeQueries (Logs Insights).

use std::collections::HashMap;

use haneul_wire::RequestContext;
use serde_json::{json, Value};

use super::groups::streams_of;
use super::{load_group, output, output_with_lists};
use crate::error::LogsError;
use crate::generated as api;
use crate::insights::{self, QueryRun, Source};
use crate::model::{group_from_identifier, now_ms};
use crate::{parse, scope, Logs};

/// Queries one account may run at once (Logs' quota).
pub const MAX_CONCURRENT_QUERIES: usize = 30;
/// Log groups one query may name.
pub const MAX_QUERY_GROUPS: usize = 50;

pub async fn start(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::StartQueryRequest = parse(input)?;
    let mut names: Vec<String> = input.log_group_names.clone();
    names.extend(input.log_group_name.clone());
    for id in &input.log_group_identifiers {
        names.push(
            group_from_identifier(id)
                .ok_or_else(|| LogsError::InvalidParameter(format!("'{id}' is not a log group name or ARN")))?,
        );
    }
    if names.is_empty() {
        return Err(LogsError::InvalidParameter(
            "Specify logGroupName, logGroupNames or logGroupIdentifiers.".into(),
        ));
    }
    if names.len() > MAX_QUERY_GROUPS {
        return Err(LogsError::InvalidParameter(format!(
            "A query can name at most {MAX_QUERY_GROUPS} log groups."
        )));
    }
    if input.end_time < input.start_time {
        return Err(LogsError::InvalidParameter(
            "endTime must be greater than or equal to startTime".into(),
        ));
    }
    let commands = insights::parse::parse(&input.query_string).map_err(|e| LogsError::MalformedQuery(e.0))?;
    if logs.queries.running() >= MAX_CONCURRENT_QUERIES {
        return Err(LogsError::LimitExceeded(
            "The maximum number of concurrent queries has been reached.".into(),
        ));
    }
    let s = scope(ctx);
    let account = ctx.account_id.clone();
    let wanted = names.clone();
    let sources: Vec<Source> = logs
        .store
        .read(move |t| {
            wanted
                .iter()
                .map(|name| {
                    let group = load_group(t, &s, name)?;
                    let streams: HashMap<i64, String> = streams_of(t, &s, name)?
                        .into_iter()
                        .map(|st| (st.key, st.name))
                        .collect();
                    Ok(Source {
                        group_key: group.key,
                        group_label: format!("{account}:{name}"),
                        streams,
                    })
                })
                .collect::<Result<Vec<_>, LogsError>>()
        })
        .await?;
    let id = uuid::Uuid::new_v4().to_string();
    let created = now_ms();
    let run = QueryRun {
        id: id.clone(),
        query: input.query_string.clone(),
        groups: names,
        created_ms: created,
        status: "Running".into(),
        rows: Vec::new(),
        records_scanned: 0,
        records_matched: 0,
        bytes_scanned: 0,
        duration_ms: 0,
    };
    logs.queries.insert(run.clone());
    let (start_ms, end_ms) = (
        input.start_time.saturating_mul(1000),
        input.end_time.saturating_mul(1000) + 999,
    );
    let limit = input.limit.map(|l| l.max(1) as usize);
    let (events, queries) = (logs.events.clone(), logs.queries.clone());
    tokio::spawn(async move {
        let result = insights::run(&events, commands, sources, start_ms, end_ms, limit).await;
        let finished = match result {
            Ok((rows, scanned, matched, bytes)) => QueryRun {
                status: "Complete".into(),
                rows,
                records_scanned: scanned,
                records_matched: matched,
                bytes_scanned: bytes,
                duration_ms: now_ms() - created,
                ..run
            },
            Err(e) => {
                tracing::warn!(error = %e, "a Logs Insights query failed");
                QueryRun {
                    status: "Failed".into(),
                    duration_ms: now_ms() - created,
                    ..run
                }
            }
        };
        queries.finish(finished);
    });
    output(&api::StartQueryResponse { query_id: Some(id) })
}

fn query_not_found(id: &str) -> LogsError {
    LogsError::ResourceNotFound(format!("Query {id} does not exist."))
}

pub async fn get_results(logs: &Logs, _ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::GetQueryResultsRequest = parse(input)?;
    let run = logs
        .queries
        .get(&input.query_id)
        .ok_or_else(|| query_not_found(&input.query_id))?;
    let results: Vec<Vec<api::ResultField>> = run
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|(f, v)| api::ResultField {
                    field: Some(f.clone()),
                    value: Some(v.clone()),
                })
                .collect()
        })
        .collect();
    let out = api::GetQueryResultsResponse {
        results,
        statistics: Some(api::QueryStatistics {
            bytes_scanned: Some(run.bytes_scanned as f64),
            records_matched: Some(run.records_matched as f64),
            records_scanned: Some(run.records_scanned as f64),
            log_groups_scanned: Some(run.groups.len() as f64),
            ..Default::default()
        }),
        status: Some(run.status),
        query_language: Some("CWLI".into()),
        ..Default::default()
    };
    output_with_lists(&out, &["results"])
}

pub async fn stop(logs: &Logs, _ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::StopQueryRequest = parse(input)?;
    let stopped = logs
        .queries
        .stop(&input.query_id)
        .ok_or_else(|| query_not_found(&input.query_id))?;
    Ok(json!({ "success": stopped }))
}

pub async fn describe(logs: &Logs, _ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::DescribeQueriesRequest = parse(input)?;
    let max = input.max_results.map_or(1000, |m| m.max(1) as usize);
    let queries: Vec<api::QueryInfo> = logs
        .queries
        .all()
        .into_iter()
        .rev()
        .filter(|r| input.status.as_deref().is_none_or(|s| r.status == s))
        .filter(|r| {
            input
                .log_group_name
                .as_deref()
                .is_none_or(|g| r.groups.iter().any(|n| n == g))
        })
        .take(max)
        .map(|r| api::QueryInfo {
            bytes_scanned: Some(r.bytes_scanned as f64),
            create_time: Some(r.created_ms),
            log_group_name: r.groups.first().cloned(),
            query_duration: Some(r.duration_ms),
            query_id: Some(r.id),
            query_language: Some("CWLI".into()),
            query_string: Some(r.query),
            status: Some(r.status),
            user_identity: None,
        })
        .collect();
    output_with_lists(
        &api::DescribeQueriesResponse {
            next_token: None,
            queries,
        },
        &["queries"],
    )
}

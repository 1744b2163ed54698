//! Create/Describe/DeleteLogStream.

use haneul_wire::RequestContext;
use serde_json::Value;

use super::groups::streams_of;
use super::{group_name, load_group, load_stream, output_with_lists, page_size};
use crate::error::LogsError;
use crate::generated as api;
use crate::model::{child_id, new_key, now_ms, stream_arn, LogStream, KIND_STREAM};
use crate::{parse, scope, Logs};

pub async fn create(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::CreateLogStreamRequest = parse(input)?;
    crate::names::check_stream_name(&input.log_stream_name)?;
    let scope = scope(ctx);
    let stream = LogStream {
        name: input.log_stream_name,
        key: new_key(),
        created_ms: now_ms(),
    };
    let group = input.log_group_name;
    logs.store
        .write(move |t| {
            load_group(t, &scope, &group)?;
            let id = child_id(&group, &stream.name);
            if t.exists(&scope, KIND_STREAM, &id)? {
                return Err(LogsError::ResourceAlreadyExists(
                    "The specified log stream already exists".into(),
                ));
            }
            t.put(&scope, KIND_STREAM, &id, &stream)?;
            Ok(())
        })
        .await?;
    Ok(Value::Object(Default::default()))
}

pub async fn describe(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::DescribeLogStreamsRequest = parse(input)?;
    let group = group_name(input.log_group_name.as_deref(), input.log_group_identifier.as_deref())?;
    let by_last_event = input.order_by.as_deref() == Some("LastEventTime");
    if by_last_event && input.log_stream_name_prefix.is_some() {
        return Err(LogsError::InvalidParameter(
            "Cannot order by LastEventTime with a logStreamNamePrefix.".into(),
        ));
    }
    let offset = match input.next_token.as_deref() {
        None => 0,
        Some(t) => super::decode_token(Some(t))?
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| LogsError::InvalidParameter("The specified nextToken is invalid.".into()))?,
    };
    let size = page_size(input.limit, 50);
    let s = scope(ctx);
    let g = group.clone();
    let streams = logs
        .store
        .read(move |t| {
            load_group(t, &s, &g)?;
            streams_of(t, &s, &g)
        })
        .await?;
    let mut streams: Vec<LogStream> = streams
        .into_iter()
        .filter(|s| {
            input
                .log_stream_name_prefix
                .as_deref()
                .is_none_or(|p| s.name.starts_with(p))
        })
        .collect();
    let stats = logs
        .events
        .stream_stats(streams.iter().map(|s| s.key).collect())
        .await?;
    if by_last_event {
        // Streams without events sort first, as they have no last event time.
        streams.sort_by_key(|s| {
            (
                stats.get(&s.key).map_or(i64::MIN, |st| st.last_timestamp_ms),
                s.name.clone(),
            )
        });
    }
    if input.descending.unwrap_or(false) {
        streams.reverse();
    }
    let more = streams.len() > offset + size;
    let shown: Vec<api::LogStream> = streams
        .iter()
        .skip(offset)
        .take(size)
        .map(|st| {
            let stat = stats.get(&st.key);
            api::LogStream {
                arn: Some(stream_arn(&ctx.region, &ctx.account_id, &group, &st.name)),
                creation_time: Some(st.created_ms),
                first_event_timestamp: stat.map(|x| x.first_timestamp_ms),
                last_event_timestamp: stat.map(|x| x.last_timestamp_ms),
                last_ingestion_time: stat.map(|x| x.last_ingestion_ms),
                log_stream_name: Some(st.name.clone()),
                stored_bytes: Some(0),
                upload_sequence_token: None,
            }
        })
        .collect();
    let next_token = more.then(|| super::encode_token(&(offset + size).to_string()));
    output_with_lists(
        &api::DescribeLogStreamsResponse {
            log_streams: shown,
            next_token,
        },
        &["logStreams"],
    )
}

pub async fn delete(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::DeleteLogStreamRequest = parse(input)?;
    let scope = scope(ctx);
    let key = logs
        .store
        .write(move |t| {
            load_group(t, &scope, &input.log_group_name)?;
            let stream = load_stream(t, &scope, &input.log_group_name, &input.log_stream_name)?;
            t.delete(
                &scope,
                KIND_STREAM,
                &child_id(&input.log_group_name, &input.log_stream_name),
            )?;
            Ok::<_, LogsError>(stream.key)
        })
        .await?;
    logs.forget_events(None, vec![key]);
    Ok(Value::Object(Default::default()))
}

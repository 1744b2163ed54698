//! PutLogEvents, GetLogEvents, FilterLogEvents.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use haneul_store::events::{Cursor, EventRef, GroupScan, NewEvent, ScanEnd, StreamRead, Visit};
use haneul_wire::RequestContext;
use serde_json::Value;

use super::groups::streams_of;
use super::{group_name, load_group, load_stream, output, output_with_lists};
use crate::error::LogsError;
use crate::generated as api;
use crate::model::{now_ms, LogGroup, LogStream};
use crate::pattern::Pattern;
use crate::{parse, scope, Logs};

/// A PutLogEvents batch: at most this many bytes, counting [`EVENT_OVERHEAD_BYTES`] per event.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
pub const EVENT_OVERHEAD_BYTES: usize = 26;
/// One event's message may be at most this long.
pub const MAX_EVENT_BYTES: usize = MAX_BATCH_BYTES - EVENT_OVERHEAD_BYTES;
/// Events older than this are rejected (tooOldLogEventEndIndex).
pub const MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
/// Events further than this in the future are rejected (tooNewLogEventStartIndex).
pub const MAX_FUTURE_MS: i64 = 2 * 3600 * 1000;
/// A batch may span at most this much time.
pub const MAX_SPAN_MS: i64 = 24 * 3600 * 1000;
/// Events per GetLogEvents / FilterLogEvents page unless `limit` says fewer.
pub const DEFAULT_EVENTS_LIMIT: usize = 10_000;
/// A page of events stops growing past this many message bytes (Logs' 1 MB response).
pub const MAX_RESPONSE_BYTES: usize = 1_048_576;
/// Events one FilterLogEvents call looks at before it answers with a nextToken.
pub const MAX_SCANNED_PER_CALL: usize = 2_000_000;

pub async fn put(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::PutLogEventsRequest = parse(input)?;
    let events = input.log_events;
    let size: usize = events.iter().map(|e| e.message.len() + EVENT_OVERHEAD_BYTES).sum();
    if size > MAX_BATCH_BYTES {
        return Err(LogsError::InvalidParameter(format!(
            "Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )));
    }
    if let Some(e) = events.iter().find(|e| e.message.len() > MAX_EVENT_BYTES) {
        return Err(LogsError::InvalidParameter(format!(
            "Log event too large: {} bytes exceeds limit of {MAX_EVENT_BYTES}",
            e.message.len()
        )));
    }
    if events.windows(2).any(|w| w[1].timestamp < w[0].timestamp) {
        return Err(LogsError::InvalidParameter(
            "Log events in a single PutLogEvents request must be in chronological order.".into(),
        ));
    }
    if let (Some(first), Some(last)) = (events.first(), events.last()) {
        if last.timestamp - first.timestamp > MAX_SPAN_MS {
            return Err(LogsError::InvalidParameter(
                "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.".into(),
            ));
        }
    }
    let s = scope(ctx);
    let (group, stream) = (input.log_group_name, input.log_stream_name);
    let (group, stream): (LogGroup, LogStream) = logs
        .store
        .read(move |t| {
            let g = load_group(t, &s, &group)?;
            let st = load_stream(t, &s, &group, &stream)?;
            Ok::<_, LogsError>((g, st))
        })
        .await?;
    let now = now_ms();
    let expired_before = group.retention_days.map(|d| now - logs.retention_ms(d));
    let last_index = |pred: &dyn Fn(i64) -> bool| events.iter().rposition(|e| pred(e.timestamp));
    let too_old = last_index(&|ts| ts < now - MAX_AGE_MS);
    let expired = expired_before.and_then(|cut| last_index(&|ts| ts < cut));
    let too_new = events.iter().position(|e| e.timestamp > now + MAX_FUTURE_MS);
    let from = too_old.max(expired).map_or(0, |i| i + 1);
    let to = too_new.unwrap_or(events.len()).max(from);
    let accepted: Vec<NewEvent> = events[from..to]
        .iter()
        .map(|e| NewEvent {
            timestamp_ms: e.timestamp,
            message: e.message.clone(),
        })
        .collect();
    logs.events.append(group.key, stream.key, accepted, now).await?;
    let rejected = (too_old.is_some() || expired.is_some() || too_new.is_some()).then(|| api::RejectedLogEventsInfo {
        expired_log_event_end_index: expired.map(|i| i as i64),
        too_new_log_event_start_index: too_new.map(|i| i as i64),
        too_old_log_event_end_index: too_old.map(|i| i as i64),
    });
    output(&api::PutLogEventsResponse {
        next_sequence_token: Some(format!(
            "{:056}",
            now as u128 * 1_000_000 + u128::from(rand::random::<u16>())
        )),
        rejected_entity_info: None,
        rejected_log_events_info: rejected,
    })
}

/// `f/<timestamp>/<seq>` reads on after that event; `b/<timestamp>/<seq>` back before it.
fn parse_stream_token(token: &str) -> Result<(bool, Cursor), LogsError> {
    let bad = || LogsError::InvalidParameter("The specified nextToken is invalid.".into());
    let mut parts = token.splitn(3, '/');
    let forward = match parts.next() {
        Some("f") => true,
        Some("b") => false,
        _ => return Err(bad()),
    };
    let timestamp_ms = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let seq = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    Ok((forward, Cursor { timestamp_ms, seq }))
}

fn stream_token(forward: bool, c: Cursor) -> String {
    format!("{}/{}/{}", if forward { 'f' } else { 'b' }, c.timestamp_ms, c.seq)
}

pub async fn get(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::GetLogEventsRequest = parse(input)?;
    let group = group_name(input.log_group_name.as_deref(), input.log_group_identifier.as_deref())?;
    let s = scope(ctx);
    let stream_name = input.log_stream_name.clone();
    let stream = logs
        .store
        .read(move |t| {
            load_group(t, &s, &group)?;
            load_stream(t, &s, &group, &stream_name)
        })
        .await?;
    let token = input.next_token.as_deref().map(parse_stream_token).transpose()?;
    let forward = match token {
        Some((f, _)) => f,
        None => input.start_from_head.unwrap_or(false),
    };
    let limit = input.limit.map_or(DEFAULT_EVENTS_LIMIT, |l| l.max(1) as usize);
    let cursor = token.map(|(_, c)| c);
    let read = StreamRead {
        stream: stream.key,
        start_ms: input.start_time.unwrap_or(i64::MIN),
        end_ms: input.end_time.unwrap_or(i64::MAX),
        forward,
        after: if forward { cursor } else { None },
        before: if forward { None } else { cursor },
        limit,
    };
    let mut events = logs.events.read_stream(read).await?;
    cap_bytes(&mut events, forward, |e| e.message.len());
    let first = events.first().map(|e| Cursor {
        timestamp_ms: e.timestamp_ms,
        seq: e.seq,
    });
    let last = events.last().map(|e| Cursor {
        timestamp_ms: e.timestamp_ms,
        seq: e.seq,
    });
    // With nothing new, the token asked with comes back (how clients know they are done).
    let (next_forward, next_backward) = match (first, last, cursor) {
        (Some(f), Some(l), _) => (l, f),
        (_, _, Some(c)) if forward => (c, Cursor { seq: c.seq + 1, ..c }),
        (_, _, Some(c)) => (Cursor { seq: c.seq - 1, ..c }, c),
        _ => (
            Cursor {
                timestamp_ms: -1,
                seq: 0,
            },
            Cursor {
                timestamp_ms: i64::MAX,
                seq: 0,
            },
        ),
    };
    let out = api::GetLogEventsResponse {
        events: events
            .into_iter()
            .map(|e| api::OutputLogEvent {
                ingestion_time: Some(e.ingestion_ms),
                message: Some(e.message),
                timestamp: Some(e.timestamp_ms),
            })
            .collect(),
        next_backward_token: Some(stream_token(false, next_backward)),
        next_forward_token: Some(stream_token(true, next_forward)),
    };
    output_with_lists(&out, &["events"])
}

/// Drops events past [`MAX_RESPONSE_BYTES`]: the newest when reading forward, the oldest
/// when reading backward (the ones nearest the token are kept).
fn cap_bytes<T>(events: &mut Vec<T>, forward: bool, len: impl Fn(&T) -> usize) {
    let mut total = 0;
    let keep = if forward {
        events
            .iter()
            .take_while(|e| {
                total += len(e);
                total <= MAX_RESPONSE_BYTES
            })
            .count()
            .max(1)
    } else {
        events
            .iter()
            .rev()
            .take_while(|e| {
                total += len(e);
                total <= MAX_RESPONSE_BYTES
            })
            .count()
            .max(1)
    };
    if keep < events.len() {
        if forward {
            events.truncate(keep);
        } else {
            events.drain(..events.len() - keep);
        }
    }
}

fn filter_token(c: Cursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", c.timestamp_ms, c.seq))
}

fn parse_filter_token(token: &str) -> Result<Cursor, LogsError> {
    let bad = || LogsError::InvalidParameter("The specified nextToken is invalid.".into());
    let text = URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let (ts, seq) = text.split_once(':').ok_or_else(bad)?;
    Ok(Cursor {
        timestamp_ms: ts.parse().map_err(|_| bad())?,
        seq: seq.parse().map_err(|_| bad())?,
    })
}

/// A matched event, as the scan collects it.
struct Found {
    stream: i64,
    timestamp_ms: i64,
    seq: i64,
    ingestion_ms: i64,
    message: String,
}

struct Collect {
    pattern: Pattern,
    prefilter: Option<String>,
    found: Vec<Found>,
    bytes: usize,
    limit: usize,
}

impl Collect {
    fn visit(&mut self, e: &EventRef<'_>) -> Visit {
        if self.prefilter.as_deref().is_some_and(|p| !e.message.contains(p)) {
            return Visit::Continue;
        }
        if !self.pattern.matches(e.message) {
            return Visit::Continue;
        }
        self.bytes += e.message.len();
        self.found.push(Found {
            stream: e.stream,
            timestamp_ms: e.timestamp_ms,
            seq: e.seq,
            ingestion_ms: e.ingestion_ms,
            message: e.message.to_string(),
        });
        if self.found.len() >= self.limit || self.bytes >= MAX_RESPONSE_BYTES {
            Visit::Stop
        } else {
            Visit::Continue
        }
    }
}

pub async fn filter(logs: &Logs, ctx: &RequestContext, input: Value) -> Result<Value, LogsError> {
    let input: api::FilterLogEventsRequest = parse(input)?;
    let group = group_name(input.log_group_name.as_deref(), input.log_group_identifier.as_deref())?;
    if !input.log_stream_names.is_empty() && input.log_stream_name_prefix.is_some() {
        return Err(LogsError::InvalidParameter(
            "Cannot specify both logStreamNames and logStreamNamePrefix.".into(),
        ));
    }
    let pattern = Pattern::parse(input.filter_pattern.as_deref().unwrap_or(""))
        .map_err(|e| LogsError::InvalidParameter(e.to_string()))?;
    let after = input.next_token.as_deref().map(parse_filter_token).transpose()?;
    let s = scope(ctx);
    let (group, streams): (LogGroup, Vec<LogStream>) = logs
        .store
        .read(move |t| {
            let g = load_group(t, &s, &group)?;
            let streams = streams_of(t, &s, &g.name)?;
            Ok::<_, LogsError>((g, streams))
        })
        .await?;
    let streams: Vec<LogStream> = streams
        .into_iter()
        .filter(|st| input.log_stream_names.is_empty() || input.log_stream_names.contains(&st.name))
        .filter(|st| {
            input
                .log_stream_name_prefix
                .as_deref()
                .is_none_or(|p| st.name.starts_with(p))
        })
        .collect();
    let names: HashMap<i64, String> = streams.iter().map(|st| (st.key, st.name.clone())).collect();
    let prefilter = match &pattern {
        Pattern::Terms(t) => t.required_text().map(str::to_string),
        _ => None,
    };
    let collect = Collect {
        pattern,
        prefilter,
        found: Vec::new(),
        bytes: 0,
        limit: input.limit.map_or(DEFAULT_EVENTS_LIMIT, |l| l.max(1) as usize),
    };
    let scan = GroupScan {
        group: group.key,
        // Only live streams: events of a deleted one may linger until they are removed.
        streams: Some(streams.iter().map(|st| st.key).collect()),
        start_ms: input.start_time.unwrap_or(i64::MIN),
        end_ms: input.end_time.map_or(i64::MAX, |e| e.saturating_add(1)),
        after,
        max_rows: MAX_SCANNED_PER_CALL,
    };
    let (collected, end) = logs
        .events
        .scan_group(scan, collect, |c: &mut Collect, e: &EventRef<'_>| c.visit(e))
        .await?;
    let complete = end == ScanEnd::Done;
    let out = api::FilterLogEventsResponse {
        events: collected
            .found
            .into_iter()
            .map(|f| api::FilteredLogEvent {
                event_id: Some(format!("{:020}{:020}", f.timestamp_ms.max(0), f.seq)),
                ingestion_time: Some(f.ingestion_ms),
                log_stream_name: names.get(&f.stream).cloned(),
                message: Some(f.message),
                timestamp: Some(f.timestamp_ms),
            })
            .collect(),
        next_token: match end {
            ScanEnd::Done => None,
            ScanEnd::StoppedAt(c) => Some(filter_token(c)),
        },
        searched_log_streams: streams
            .iter()
            .map(|st| api::SearchedLogStream {
                log_stream_name: Some(st.name.clone()),
                searched_completely: Some(complete),
            })
            .collect(),
    };
    output_with_lists(&out, &["events", "searchedLogStreams"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_tokens_round_trip() {
        let c = Cursor {
            timestamp_ms: 1700000000000,
            seq: 42,
        };
        assert_eq!(parse_stream_token(&stream_token(true, c)).unwrap(), (true, c));
        assert_eq!(parse_stream_token(&stream_token(false, c)).unwrap(), (false, c));
        assert!(parse_stream_token("x/1/2").is_err());
        assert_eq!(parse_filter_token(&filter_token(c)).unwrap(), c);
    }

    #[test]
    fn byte_caps_keep_the_events_nearest_the_token() {
        let mut v = vec![MAX_RESPONSE_BYTES / 2; 4];
        cap_bytes(&mut v, true, |n| *n);
        assert_eq!(v.len(), 2);
        let mut v = vec![1, 2, MAX_RESPONSE_BYTES];
        cap_bytes(&mut v, false, |n| *n);
        assert_eq!(v, [MAX_RESPONSE_BYTES]);
    }
}

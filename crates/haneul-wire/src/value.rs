//! Helpers for the decoded request/response tree. Every protocol decodes into one
//! `serde_json::Value` keyed by the model's member names, and encodes from one.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A timestamp as ISO 8601 with milliseconds (`2026-11-25T10:00:00.000Z`), the form the
/// XML protocols use. `value` is epoch seconds (number) or already a string.
pub fn iso8601(value: &Value) -> String {
    match value {
        Value::Number(n) => {
            let secs = n.as_f64().unwrap_or(0.0);
            let nanos = (secs * 1e9) as i128;
            let t = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            )
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses a timestamp as a client sends it: epoch seconds or ISO 8601 / RFC 3339.
pub fn parse_timestamp(text: &str) -> Option<f64> {
    if let Ok(secs) = text.parse::<f64>() {
        return Some(secs);
    }
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

/// The current time as epoch seconds with millisecond precision, for `*Time` members.
pub fn now_epoch_s() -> f64 {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    (nanos / 1_000_000) as f64 / 1000.0
}

/// `cidrBlock` from `CidrBlock`: AWS validation messages name members in lower camel case.
pub fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `CidrBlock` from `cidrBlock`: EC2's query names capitalise the location name.
pub fn upper_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Now as SigV4's `X-Amz-Date`: `20261125T101500Z`.
pub fn amz_date_now() -> String {
    let t = OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `v` with each of `lists` present as a member, empty when it was missing (services that
/// always send their list members, even empty: CLI queries such as `length(x)` rely on it).
pub fn with_empty_lists(mut v: Value, lists: &[&str]) -> Value {
    if let Value::Object(map) = &mut v {
        for name in lists {
            map.entry(name.to_string()).or_insert_with(|| Value::Array(Vec::new()));
        }
    }
    v
}

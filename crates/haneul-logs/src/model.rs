//! What CloudWatch Logs keeps in the resource store. Groups are keyed by name, everything of
//! a group by `<group>␁<name>` so a prefix scan lists one group's streams or filters in
//! name order. Each group and stream has a numeric `key` the event store files its events
//! under; keys are random and never reused, so a deleted stream's events are unreachable
//! before they are removed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const KIND_GROUP: &str = "logs.group";
pub const KIND_STREAM: &str = "logs.stream";
pub const KIND_METRIC_FILTER: &str = "logs.metric_filter";
pub const KIND_SUBSCRIPTION_FILTER: &str = "logs.subscription_filter";

/// The separator inside composite ids (never valid in a log group name).
pub const SEP: char = '\u{1}';

pub fn child_id(group: &str, name: &str) -> String {
    format!("{group}{SEP}{name}")
}

pub fn group_prefix(group: &str) -> String {
    format!("{group}{SEP}")
}

/// A fresh key for the event store (positive, never 0).
pub fn new_key() -> i64 {
    (rand::random::<u64>() >> 1).max(1) as i64
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogGroup {
    pub name: String,
    pub key: i64,
    pub created_ms: i64,
    #[serde(default)]
    pub retention_days: Option<i64>,
    pub class: String,
    #[serde(default)]
    pub kms_key: Option<String>,
    #[serde(default)]
    pub deletion_protection: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogStream {
    pub name: String,
    pub key: i64,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricFilter {
    pub name: String,
    pub pattern: String,
    /// The metricTransformations as given (echoed back by DescribeMetricFilters).
    pub transformations: serde_json::Value,
    pub created_ms: i64,
    #[serde(default)]
    pub apply_on_transformed_logs: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubscriptionFilter {
    pub name: String,
    pub pattern: String,
    pub destination_arn: String,
    #[serde(default)]
    pub role_arn: Option<String>,
    pub distribution: String,
    pub created_ms: i64,
    #[serde(default)]
    pub apply_on_transformed_logs: bool,
}

pub fn group_arn(region: &str, account: &str, group: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{group}")
}

pub fn stream_arn(region: &str, account: &str, group: &str, stream: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}")
}

/// The group an ARN or name given as `logGroupIdentifier` names (an ARN may end in `:*`).
pub fn group_from_identifier(identifier: &str) -> Option<String> {
    if !identifier.starts_with("arn:") {
        return Some(identifier.to_string());
    }
    let rest = identifier.split_once(":log-group:")?.1;
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    (!name.is_empty() && !name.contains(':')).then(|| name.to_string())
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> i64 {
    (haneul_wire::value::now_epoch_s() * 1000.0) as i64
}

/// `ms` (epoch milliseconds) as ISO 8601 UTC with milliseconds: `2017-12-13T08:15:50.235Z`.
pub fn iso8601_ms(ms: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms.to_string();
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(group_from_identifier("/ecs/web").as_deref(), Some("/ecs/web"));
        assert_eq!(
            group_from_identifier("arn:aws:logs:us-east-1:000000000000:log-group:/ecs/web:*").as_deref(),
            Some("/ecs/web")
        );
        assert_eq!(
            group_from_identifier("arn:aws:logs:us-east-1:000000000000:log-group:/ecs/web").as_deref(),
            Some("/ecs/web")
        );
        assert_eq!(group_from_identifier("arn:aws:s3:::bucket"), None);
    }

    #[test]
    fn iso_times() {
        assert_eq!(iso8601_ms(1_513_152_950_235), "2017-12-13T08:15:50.235Z");
    }
}

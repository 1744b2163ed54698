//! Load balancer and target group attributes: ALB's keys with their defaults and value rules.
//! The store keeps them with the resource; deletion protection guards DeleteLoadBalancer now,
//! the proxy settings (idle timeout, HTTP/2, stickiness, algorithm, slow start, deregistration
//! delay) are what the data plane reads.

use std::collections::BTreeMap;

use haneul_store::Store;
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::api::{load_balancer, target_group};
use crate::error::ElbError;
use crate::generated as api_types;
use crate::model::{LoadBalancer, TargetGroup, KIND_LOAD_BALANCER, KIND_TARGET_GROUP};
use crate::{parse, scope};

enum Rule {
    Bool,
    Range(i64, i64),
    OneOf(&'static [&'static str]),
    Text,
    SlowStart,
}

/// An attribute: key, default, rule.
type Attribute = (&'static str, &'static str, Rule);

/// ALB's load balancer attributes.
const ATTRIBUTES: &[Attribute] = &[
    ("deletion_protection.enabled", "false", Rule::Bool),
    ("idle_timeout.timeout_seconds", "60", Rule::Range(1, 4000)),
    ("client_keep_alive.seconds", "3600", Rule::Range(60, 604_800)),
    ("routing.http2.enabled", "true", Rule::Bool),
    ("routing.http.drop_invalid_header_fields.enabled", "false", Rule::Bool),
    ("routing.http.preserve_host_header.enabled", "false", Rule::Bool),
    (
        "routing.http.x_amzn_tls_version_and_cipher_suite.enabled",
        "false",
        Rule::Bool,
    ),
    ("routing.http.xff_client_port.enabled", "false", Rule::Bool),
    (
        "routing.http.xff_header_processing.mode",
        "append",
        Rule::OneOf(&["append", "preserve", "remove"]),
    ),
    (
        "routing.http.desync_mitigation_mode",
        "defensive",
        Rule::OneOf(&["monitor", "defensive", "strictest"]),
    ),
    ("waf.fail_open.enabled", "false", Rule::Bool),
    ("zonal_shift.config.enabled", "false", Rule::Bool),
    ("access_logs.s3.enabled", "false", Rule::Bool),
    ("access_logs.s3.bucket", "", Rule::Text),
    ("access_logs.s3.prefix", "", Rule::Text),
    ("connection_logs.s3.enabled", "false", Rule::Bool),
    ("connection_logs.s3.bucket", "", Rule::Text),
    ("connection_logs.s3.prefix", "", Rule::Text),
];

/// ALB target groups' attributes (instance and ip targets).
const TARGET_GROUP_ATTRIBUTES: &[Attribute] = &[
    ("deregistration_delay.timeout_seconds", "300", Rule::Range(0, 3600)),
    ("stickiness.enabled", "false", Rule::Bool),
    (
        "stickiness.type",
        "lb_cookie",
        Rule::OneOf(&["lb_cookie", "app_cookie"]),
    ),
    (
        "stickiness.lb_cookie.duration_seconds",
        "86400",
        Rule::Range(1, 604_800),
    ),
    ("stickiness.app_cookie.cookie_name", "", Rule::Text),
    (
        "stickiness.app_cookie.duration_seconds",
        "86400",
        Rule::Range(1, 604_800),
    ),
    ("slow_start.duration_seconds", "0", Rule::SlowStart),
    (
        "load_balancing.algorithm.type",
        "round_robin",
        Rule::OneOf(&["round_robin", "least_outstanding_requests", "weighted_random"]),
    ),
    (
        "load_balancing.algorithm.anomaly_mitigation",
        "off",
        Rule::OneOf(&["on", "off"]),
    ),
    (
        "load_balancing.cross_zone.enabled",
        "use_load_balancer_configuration",
        Rule::OneOf(&["true", "false", "use_load_balancer_configuration"]),
    ),
];

fn check(table: &[Attribute], what: &str, key: &str, value: &str) -> Result<(), ElbError> {
    let Some((_, _, rule)) = table.iter().find(|(k, _, _)| *k == key) else {
        return Err(ElbError::Validation(format!(
            "{what} attribute key '{key}' is not recognized"
        )));
    };
    let ok = match rule {
        Rule::Bool => value == "true" || value == "false",
        Rule::Range(lo, hi) => value.parse::<i64>().is_ok_and(|v| (*lo..=*hi).contains(&v)),
        Rule::OneOf(allowed) => allowed.contains(&value),
        Rule::Text => true,
        // 0 (off) or 30–900 seconds.
        Rule::SlowStart => value.parse::<i64>().is_ok_and(|v| v == 0 || (30..=900).contains(&v)),
    };
    if !ok {
        return Err(ElbError::Validation(format!(
            "{what} attribute '{key}' cannot have the value '{value}'"
        )));
    }
    Ok(())
}

/// Every attribute of `table`: the stored values over the defaults.
fn merged(table: &[Attribute], stored: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    table
        .iter()
        .map(|(k, default, _)| {
            let v = stored.get(*k).cloned().unwrap_or_else(|| default.to_string());
            (k.to_string(), v)
        })
        .collect()
}

/// Every attribute of `lb`: its own values over the defaults.
pub fn effective(lb: &LoadBalancer) -> BTreeMap<String, String> {
    merged(ATTRIBUTES, &lb.attributes)
}

/// Every attribute of `tg`: its own values over the defaults.
pub fn effective_for_group(tg: &TargetGroup) -> BTreeMap<String, String> {
    merged(TARGET_GROUP_ATTRIBUTES, &tg.attributes)
}

fn attributes_output(attrs: BTreeMap<String, String>) -> Value {
    let attrs: Vec<Value> = attrs
        .into_iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    json!({ "Attributes": attrs })
}

fn output(lb: &LoadBalancer) -> Value {
    attributes_output(effective(lb))
}

/// `(key, value)` pairs as given, each checked against `table`.
fn checked(
    table: &[Attribute],
    what: &str,
    given: impl Iterator<Item = (Option<String>, Option<String>)>,
) -> Result<Vec<(String, String)>, ElbError> {
    given
        .map(|(k, v)| {
            let (key, value) = (k.unwrap_or_default(), v.unwrap_or_default());
            check(table, what, &key, &value)?;
            Ok((key, value))
        })
        .collect()
}

pub async fn describe_load_balancer_attributes(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, ElbError> {
    let input: api_types::DescribeLoadBalancerAttributesInput = parse(input)?;
    let scope = scope(ctx);
    let lb = store
        .read(move |t| load_balancer(t, &scope, &input.load_balancer_arn))
        .await?;
    Ok(output(&lb))
}

pub async fn modify_load_balancer_attributes(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, ElbError> {
    let input: api_types::ModifyLoadBalancerAttributesInput = parse(input)?;
    let changes = checked(
        ATTRIBUTES,
        "Load balancer",
        input.attributes.iter().map(|a| (a.key.clone(), a.value.clone())),
    )?;
    let scope = scope(ctx);
    let lb = store
        .write(move |t| {
            let mut lb = load_balancer(t, &scope, &input.load_balancer_arn)?;
            lb.attributes.extend(changes);
            t.put(&scope, KIND_LOAD_BALANCER, &lb.name, &lb)?;
            Ok::<_, ElbError>(lb)
        })
        .await?;
    Ok(output(&lb))
}

pub async fn describe_target_group_attributes(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, ElbError> {
    let input: api_types::DescribeTargetGroupAttributesInput = parse(input)?;
    let scope = scope(ctx);
    let tg = store
        .read(move |t| target_group(t, &scope, &input.target_group_arn))
        .await?;
    Ok(attributes_output(effective_for_group(&tg)))
}

pub async fn modify_target_group_attributes(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, ElbError> {
    let input: api_types::ModifyTargetGroupAttributesInput = parse(input)?;
    let changes = checked(
        TARGET_GROUP_ATTRIBUTES,
        "Target group",
        input.attributes.iter().map(|a| (a.key.clone(), a.value.clone())),
    )?;
    let scope = scope(ctx);
    let tg = store
        .write(move |t| {
            let mut tg = target_group(t, &scope, &input.target_group_arn)?;
            tg.attributes.extend(changes);
            if effective_for_group(&tg).get("stickiness.type").map(String::as_str) == Some("app_cookie")
                && effective_for_group(&tg)
                    .get("stickiness.app_cookie.cookie_name")
                    .is_none_or(|n| n.is_empty())
            {
                return Err(ElbError::Validation(
                    "Target group attribute 'stickiness.app_cookie.cookie_name' must be set for app_cookie stickiness"
                        .into(),
                ));
            }
            t.put(&scope, KIND_TARGET_GROUP, &tg.name, &tg)?;
            Ok::<_, ElbError>(tg)
        })
        .await?;
    Ok(attributes_output(effective_for_group(&tg)))
}

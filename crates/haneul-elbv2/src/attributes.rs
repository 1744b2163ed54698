//! Load balancer attributes: ALB's keys with their defaults and value rules. The store keeps
//! them with the load balancer; deletion protection guards DeleteLoadBalancer now, the proxy
//! settings (idle timeout, HTTP/2, header handling) are read by the data plane.

use std::collections::BTreeMap;

use haneul_store::Store;
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::error::ElbError;
use crate::generated as api_types;
use crate::model::{LoadBalancer, KIND_LOAD_BALANCER};
use crate::{parse, scope};

enum Rule {
    Bool,
    Range(i64, i64),
    OneOf(&'static [&'static str]),
    Text,
}

/// ALB's attributes: key, default, rule.
const ATTRIBUTES: &[(&str, &str, Rule)] = &[
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

fn check(key: &str, value: &str) -> Result<(), ElbError> {
    let Some((_, _, rule)) = ATTRIBUTES.iter().find(|(k, _, _)| *k == key) else {
        return Err(ElbError::Validation(format!(
            "Load balancer attribute key '{key}' is not recognized"
        )));
    };
    let ok = match rule {
        Rule::Bool => value == "true" || value == "false",
        Rule::Range(lo, hi) => value.parse::<i64>().is_ok_and(|v| (*lo..=*hi).contains(&v)),
        Rule::OneOf(allowed) => allowed.contains(&value),
        Rule::Text => true,
    };
    if !ok {
        return Err(ElbError::Validation(format!(
            "Load balancer attribute '{key}' cannot have the value '{value}'"
        )));
    }
    Ok(())
}

/// Every attribute of `lb`: its own values over the defaults.
pub fn effective(lb: &LoadBalancer) -> BTreeMap<String, String> {
    ATTRIBUTES
        .iter()
        .map(|(k, default, _)| {
            let v = lb.attributes.get(*k).cloned().unwrap_or_else(|| default.to_string());
            (k.to_string(), v)
        })
        .collect()
}

fn output(lb: &LoadBalancer) -> Value {
    let attrs: Vec<Value> = effective(lb)
        .into_iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    json!({ "Attributes": attrs })
}

fn find(t: &haneul_store::Txn<'_>, scope: &haneul_store::Scope, arn: &str) -> Result<LoadBalancer, ElbError> {
    t.list::<LoadBalancer>(scope, KIND_LOAD_BALANCER)?
        .into_iter()
        .map(|(_, lb)| lb)
        .find(|lb| lb.arn == arn)
        .ok_or_else(|| ElbError::LoadBalancerNotFound(arn.to_string()))
}

pub async fn describe_load_balancer_attributes(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, ElbError> {
    let input: api_types::DescribeLoadBalancerAttributesInput = parse(input)?;
    let scope = scope(ctx);
    let lb = store.read(move |t| find(t, &scope, &input.load_balancer_arn)).await?;
    Ok(output(&lb))
}

pub async fn modify_load_balancer_attributes(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, ElbError> {
    let input: api_types::ModifyLoadBalancerAttributesInput = parse(input)?;
    let mut changes = Vec::with_capacity(input.attributes.len());
    for a in &input.attributes {
        let (key, value) = (a.key.clone().unwrap_or_default(), a.value.clone().unwrap_or_default());
        check(&key, &value)?;
        changes.push((key, value));
    }
    let scope = scope(ctx);
    let lb = store
        .write(move |t| {
            let mut lb = find(t, &scope, &input.load_balancer_arn)?;
            lb.attributes.extend(changes);
            t.put(&scope, KIND_LOAD_BALANCER, &lb.name, &lb)?;
            Ok::<_, ElbError>(lb)
        })
        .await?;
    Ok(output(&lb))
}

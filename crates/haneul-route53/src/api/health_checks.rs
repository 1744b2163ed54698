//! CreateHealthCheck, GetHealthCheck, ListHealthChecks, UpdateHealthCheck, DeleteHealthCheck,
//! GetHealthCheckStatus, GetHealthCheckLastFailureReason.

use haneul_store::{Scope, Store, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::error::Route53Error;
use crate::generated::{self as api_types, HealthCheck, HealthCheckConfig};
use crate::health::checker::{DEFAULT_FAILURE_THRESHOLD, DEFAULT_INTERVAL_S};
use crate::health::HealthBoard;
use crate::model::*;
use crate::{parse, scope};

/// Most children a CALCULATED check may have.
pub const MAX_CHILD_HEALTH_CHECKS: usize = 256;
/// Page size for ListHealthChecks.
pub const DEFAULT_MAX_ITEMS: usize = 100;
/// Where haneul's checker probes from, as GetHealthCheckStatus reports it.
const CHECKER_REGION: &str = "us-east-1";
const CHECKER_IP: &str = "127.0.0.1";

fn invalid(message: impl Into<String>) -> Route53Error {
    Route53Error::InvalidInput(message.into())
}

/// Fills Route 53's defaults and checks the config for its type.
fn complete(mut c: HealthCheckConfig) -> Result<HealthCheckConfig, Route53Error> {
    let t = c.r#type.clone();
    match t.as_str() {
        "TCP" | "HTTP" | "HTTP_STR_MATCH" | "HTTPS" | "HTTPS_STR_MATCH" => {
            if c.ip_address.is_none() && c.fully_qualified_domain_name.is_none() {
                return Err(invalid(format!(
                    "A {t} health check needs an IPAddress or a FullyQualifiedDomainName."
                )));
            }
            if t == "TCP" && c.port.is_none() {
                return Err(invalid("A TCP health check needs a Port."));
            }
            if t.ends_with("_STR_MATCH") && c.search_string.as_deref().is_none_or(str::is_empty) {
                return Err(invalid(format!("An {t} health check needs a SearchString.")));
            }
            c.port.get_or_insert(if t.starts_with("HTTPS") { 443 } else { 80 });
            if t.starts_with("HTTPS") {
                c.enable_sni.get_or_insert(c.fully_qualified_domain_name.is_some());
            }
            c.request_interval.get_or_insert(DEFAULT_INTERVAL_S);
            c.failure_threshold.get_or_insert(DEFAULT_FAILURE_THRESHOLD);
        }
        "CALCULATED" => {
            if c.child_health_checks.len() > MAX_CHILD_HEALTH_CHECKS {
                return Err(invalid(format!(
                    "A CALCULATED health check can have at most {MAX_CHILD_HEALTH_CHECKS} children."
                )));
            }
            c.health_threshold.get_or_insert(1);
        }
        other => return Err(invalid(format!("haneul does not run {other} health checks."))),
    }
    c.inverted.get_or_insert(false);
    c.disabled.get_or_insert(false);
    c.measure_latency.get_or_insert(false);
    Ok(c)
}

fn check_children(txn: &Txn<'_>, scope: &Scope, c: &HealthCheckConfig) -> Result<(), Route53Error> {
    for child in &c.child_health_checks {
        if !txn.exists(scope, KIND_HEALTH_CHECK, child)? {
            return Err(Route53Error::NoSuchHealthCheck(child.clone()));
        }
    }
    Ok(())
}

pub fn load(txn: &Txn<'_>, scope: &Scope, id: &str) -> Result<HealthCheck, Route53Error> {
    txn.get(scope, KIND_HEALTH_CHECK, id)?
        .ok_or_else(|| Route53Error::NoSuchHealthCheck(id.to_string()))
}

fn to_value(check: &HealthCheck) -> Value {
    serde_json::to_value(check).unwrap_or(Value::Null)
}

pub async fn create_health_check(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::CreateHealthCheckRequest = parse(input)?;
    let config = complete(input.health_check_config)?;
    let scope = scope(ctx);
    let check = store
        .write(move |t| {
            if let Some(id) = t.get::<String>(&scope, KIND_HEALTH_CHECK_REFERENCE, &input.caller_reference)? {
                let existing = load(t, &scope, &id)?;
                if existing.health_check_config == config {
                    return Ok(existing);
                }
                return Err(Route53Error::HealthCheckAlreadyExists(input.caller_reference));
            }
            check_children(t, &scope, &config)?;
            let check = HealthCheck {
                id: uuid_v4(),
                caller_reference: input.caller_reference,
                health_check_config: config,
                health_check_version: 1,
                ..HealthCheck::default()
            };
            t.put(&scope, KIND_HEALTH_CHECK, &check.id, &check)?;
            t.put(&scope, KIND_HEALTH_CHECK_REFERENCE, &check.caller_reference, &check.id)?;
            Ok(check)
        })
        .await?;
    Ok(json!({
        "HealthCheck": to_value(&check),
        "Location": format!("https://route53.amazonaws.com/2013-04-01/healthcheck/{}", check.id),
    }))
}

fn uuid_v4() -> String {
    use rand::Rng;
    let b: [u8; 16] = rand::thread_rng().gen();
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-4{:01x}{:02x}-{:01x}{:01x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[0],
        b[1],
        b[2],
        b[3],
        b[4],
        b[5],
        b[6] & 0x0f,
        b[7],
        8 | (b[8] & 0x3),
        b[8] >> 4,
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

pub async fn get_health_check(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::GetHealthCheckRequest = parse(input)?;
    let scope = scope(ctx);
    let check = store.read(move |t| load(t, &scope, &input.health_check_id)).await?;
    Ok(json!({ "HealthCheck": to_value(&check) }))
}

pub async fn list_health_checks(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::ListHealthChecksRequest = parse(input)?;
    let max = input.max_items.as_deref().map_or(Ok(DEFAULT_MAX_ITEMS), |m| {
        m.parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(DEFAULT_MAX_ITEMS))
            .ok_or_else(|| invalid(format!("Invalid value for maxitems: {m}")))
    })?;
    let scope = scope(ctx);
    let marker = input.marker.clone().unwrap_or_default();
    let checks = store
        .read(move |t| {
            Ok::<_, Route53Error>(t.list_from::<HealthCheck>(&scope, KIND_HEALTH_CHECK, &marker, max + 1)?)
        })
        .await?;
    let next = checks.get(max).map(|(id, _)| id.clone());
    let page: Vec<Value> = checks.iter().take(max).map(|(_, c)| to_value(c)).collect();
    Ok(json!({
        "HealthChecks": page,
        "Marker": input.marker.unwrap_or_default(),
        "IsTruncated": next.is_some(),
        "NextMarker": next,
        "MaxItems": max.to_string(),
    }))
}

pub async fn update_health_check(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::UpdateHealthCheckRequest = parse(input)?;
    let scope = scope(ctx);
    let check = store
        .write(move |t| {
            let mut check = load(t, &scope, &input.health_check_id)?;
            if let Some(v) = input.health_check_version.filter(|v| *v != check.health_check_version) {
                let _ = v;
                return Err(Route53Error::HealthCheckVersionMismatch(check.health_check_version));
            }
            let mut c = check.health_check_config.clone();
            for element in &input.reset_elements {
                match element.as_str() {
                    "FullyQualifiedDomainName" => c.fully_qualified_domain_name = None,
                    "ResourcePath" => c.resource_path = None,
                    "ChildHealthChecks" => c.child_health_checks.clear(),
                    "Regions" => c.regions.clear(),
                    _ => {}
                }
            }
            macro_rules! take {
                ($($field:ident),*) => { $(if input.$field.is_some() { c.$field = input.$field.clone(); })* };
            }
            take!(
                ip_address,
                port,
                resource_path,
                fully_qualified_domain_name,
                search_string,
                failure_threshold,
                inverted,
                disabled,
                health_threshold,
                enable_sni,
                insufficient_data_health_status
            );
            if !input.child_health_checks.is_empty() {
                c.child_health_checks = input.child_health_checks.clone();
            }
            let c = complete(c)?;
            check_children(t, &scope, &c)?;
            check.health_check_config = c;
            check.health_check_version += 1;
            t.put(&scope, KIND_HEALTH_CHECK, &check.id, &check)?;
            Ok(check)
        })
        .await?;
    Ok(json!({ "HealthCheck": to_value(&check) }))
}

pub async fn delete_health_check(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::DeleteHealthCheckRequest = parse(input)?;
    let scope = scope(ctx);
    store
        .write(move |t| {
            let check = load(t, &scope, &input.health_check_id)?;
            let in_use = t
                .list::<ResourceRecordSet>(&scope, KIND_RRSET)?
                .iter()
                .any(|(_, r)| r.health_check_id.as_deref() == Some(check.id.as_str()));
            let is_child = t
                .list::<HealthCheck>(&scope, KIND_HEALTH_CHECK)?
                .iter()
                .any(|(_, c)| c.health_check_config.child_health_checks.contains(&check.id));
            if in_use || is_child {
                return Err(Route53Error::HealthCheckInUse(check.id));
            }
            t.delete(&scope, KIND_HEALTH_CHECK, &check.id)?;
            t.delete(&scope, KIND_HEALTH_CHECK_REFERENCE, &check.caller_reference)?;
            crate::api::tags::forget(t, &scope, "healthcheck", &check.id)?;
            Ok(())
        })
        .await?;
    Ok(json!({}))
}

async fn observations(
    store: &Store,
    board: &HealthBoard,
    ctx: &RequestContext,
    id: String,
    failures_only: bool,
) -> Result<Value, Route53Error> {
    let scope = scope(ctx);
    let check = store.read(move |t| load(t, &scope, &id)).await?;
    let status = board.status(&check.id);
    let report = match (&status, failures_only) {
        (Some(s), false) => s.report.clone().map(|r| (r, s.checked_at_s)),
        (Some(s), true) => s.last_failure.clone(),
        (None, _) => None,
    };
    let observations: Vec<Value> = report
        .into_iter()
        .map(|(text, at)| json!({ "Region": CHECKER_REGION, "IPAddress": CHECKER_IP, "StatusReport": { "Status": text, "CheckedTime": at } }))
        .collect();
    Ok(json!({ "HealthCheckObservations": observations }))
}

pub async fn get_health_check_status(
    store: &Store,
    board: &HealthBoard,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::GetHealthCheckStatusRequest = parse(input)?;
    observations(store, board, ctx, input.health_check_id, false).await
}

pub async fn get_health_check_last_failure_reason(
    store: &Store,
    board: &HealthBoard,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::GetHealthCheckLastFailureReasonRequest = parse(input)?;
    observations(store, board, ctx, input.health_check_id, true).await
}

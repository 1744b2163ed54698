//! RegisterTargets, DeregisterTargets, DescribeTargetHealth. Targets are IP addresses (target
//! type `ip`) or instances (type `instance`: the hosts that joined ECS as container instances,
//! reached at the private address they registered). A target group no load balancer uses reports its
//! targets `unused`, as ALB does; otherwise health is what the probes found. A deregistered
//! target of a group in use drains for the group's deregistration delay.

use haneul_store::{Scope, Store, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::api::target_group;
use crate::error::ElbError;
use crate::generated as api_types;
use crate::health::HealthTable;
use crate::model::{Target, TargetGroup, KIND_TARGET_GROUP};
use crate::{parse, scope};
use haneul_wire::value::now_epoch_s;

/// ALB's quota of targets per target group.
pub const MAX_TARGETS: usize = 1_000;

/// The target as given, with the group's port by default: an IPv4 address (type `ip`) or an
/// instance id (type `instance`; its address is found by [`resolve`]).
fn target(tg: &TargetGroup, d: &api_types::TargetDescription) -> Result<Target, ElbError> {
    match tg.target_type.as_str() {
        "ip" => {
            if d.id.parse::<std::net::Ipv4Addr>().is_err() {
                return Err(ElbError::InvalidTarget(format!(
                    "The IP address '{}' is not a valid IPv4 address",
                    d.id
                )));
            }
        }
        "instance" => {
            let hex = d.id.strip_prefix("i-").unwrap_or("");
            if !(hex.len() == 8 || hex.len() == 17) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ElbError::Validation(format!("The instance ID '{}' is not valid", d.id)));
            }
        }
        other => {
            return Err(ElbError::InvalidTarget(format!(
                "The target '{}' is not valid: haneul registers ip and instance targets, not target type '{other}'",
                d.id
            )))
        }
    }
    let port = d.port.or(tg.port).unwrap_or(80);
    if !(1..=65535).contains(&port) {
        return Err(ElbError::Validation(format!(
            "Port {port} of target '{}' is not between 1 and 65535",
            d.id
        )));
    }
    Ok(Target {
        id: d.id.clone(),
        port,
        availability_zone: d.availability_zone.clone(),
        draining_until_s: None,
        address: None,
    })
}

/// An instance target's private address, from the instance haneul knows by that id (a
/// container instance that joined with its address).
pub(crate) fn resolve(t: &Txn<'_>, scope: &Scope, target: &mut Target) -> Result<(), ElbError> {
    if !target.id.starts_with("i-") {
        return Ok(());
    }
    let instance: Option<haneul_ec2::model::Instance> = t.get(scope, haneul_ec2::model::KIND_INSTANCE, &target.id)?;
    match instance.filter(|i| i.state == "running") {
        Some(i) => {
            target.address = Some(i.private_ip_address);
            target.availability_zone.get_or_insert(i.availability_zone);
            Ok(())
        }
        None => Err(ElbError::InvalidTarget(
            "The specified target does not exist, is not in the same VPC as the target group, or has an unsupported instance type."
                .into(),
        )),
    }
}

/// The group's deregistration delay (attribute `deregistration_delay.timeout_seconds`).
pub fn deregistration_delay_s(tg: &TargetGroup) -> f64 {
    crate::attributes::effective_for_group(tg)
        .get("deregistration_delay.timeout_seconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(300.0)
}

/// Loads the group, applies `change`, stores it — one transaction.
async fn update_group(
    store: &Store,
    ctx: &RequestContext,
    arn: String,
    change: impl FnOnce(&Txn<'_>, &Scope, &mut TargetGroup) -> Result<(), ElbError> + Send + 'static,
) -> Result<(), ElbError> {
    let scope = scope(ctx);
    store
        .write(move |t| {
            let mut tg = target_group(t, &scope, &arn)?;
            let now_s = now_epoch_s();
            tg.targets.retain(|x| x.present(now_s));
            change(t, &scope, &mut tg)?;
            t.put(&scope, KIND_TARGET_GROUP, &tg.name, &tg)?;
            Ok(())
        })
        .await
}

pub async fn register_targets(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::RegisterTargetsInput = parse(input)?;
    update_group(store, ctx, input.target_group_arn, move |t, scope, tg| {
        for d in &input.targets {
            let mut target = target(tg, d)?;
            resolve(t, scope, &mut target)?;
            match tg
                .targets
                .iter_mut()
                .find(|x| x.id == target.id && x.port == target.port)
            {
                Some(existing) => existing.draining_until_s = None,
                None => tg.targets.push(target),
            }
        }
        if tg.targets.len() > MAX_TARGETS {
            return Err(ElbError::TooManyTargets(format!(
                "A target group can have at most {MAX_TARGETS} targets"
            )));
        }
        Ok(())
    })
    .await?;
    Ok(json!({}))
}

pub async fn deregister_targets(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::DeregisterTargetsInput = parse(input)?;
    update_group(store, ctx, input.target_group_arn, move |_, _, tg| {
        let delay_s = deregistration_delay_s(tg);
        let drains = delay_s > 0.0 && !tg.load_balancer_arns.is_empty();
        let until = now_epoch_s() + delay_s;
        for d in &input.targets {
            let target = target(tg, d)?;
            let position = tg
                .targets
                .iter()
                .position(|x| x.id == target.id && x.port == target.port && x.draining_until_s.is_none());
            let Some(i) = position else {
                return Err(ElbError::InvalidTarget(format!(
                    "The following targets are not registered in target group '{}': '{}:{}'",
                    tg.name, target.id, target.port
                )));
            };
            if drains {
                tg.targets[i].draining_until_s = Some(until);
            } else {
                tg.targets.remove(i);
            }
        }
        Ok(())
    })
    .await?;
    Ok(json!({}))
}

pub async fn describe_target_health(
    store: &Store,
    health_table: &HealthTable,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, ElbError> {
    let input: api_types::DescribeTargetHealthInput = parse(input)?;
    let scope = scope(ctx);
    let arn = input.target_group_arn.clone();
    let tg = store.read(move |t| target_group(t, &scope, &arn)).await?;
    let wanted: Vec<Target> = input.targets.iter().map(|d| target(&tg, d)).collect::<Result<_, _>>()?;
    let now_s = now_epoch_s();
    let present: Vec<&Target> = tg.targets.iter().filter(|x| x.present(now_s)).collect();
    let health = |x: &Target| {
        let registered = present.iter().find(|p| p.id == x.id && p.port == x.port);
        let (state, reason) = match registered {
            None => (
                "unavailable".to_string(),
                Some((
                    "Target.NotRegistered",
                    "Target is not registered to the target group".to_string(),
                )),
            ),
            Some(_) if tg.load_balancer_arns.is_empty() => (
                "unused".to_string(),
                Some((
                    "Target.NotInUse",
                    "Target group is not configured to receive traffic from the load balancer".to_string(),
                )),
            ),
            Some(p) if p.draining_until_s.is_some() => (
                "draining".to_string(),
                Some((
                    "Target.DeregistrationInProgress",
                    "Target deregistration is in progress".to_string(),
                )),
            ),
            Some(_) => match health_table.get(&(tg.arn.clone(), x.id.clone(), x.port)) {
                Some(s) => (s.state().name().to_string(), s.reason().describe()),
                None => (
                    "initial".to_string(),
                    Some((
                        "Elb.RegistrationInProgress",
                        "Target registration is in progress".to_string(),
                    )),
                ),
            },
        };
        json!({
            "Target": { "Id": x.id, "Port": x.port, "AvailabilityZone": x.availability_zone },
            "HealthCheckPort": if tg.health_check_port == "traffic-port" { x.port.to_string() } else { tg.health_check_port.clone() },
            "TargetHealth": {
                "State": state,
                "Reason": reason.as_ref().map(|r| r.0),
                "Description": reason.as_ref().map(|r| r.1.clone()),
            },
        })
    };
    let list: Vec<Value> = if wanted.is_empty() {
        present.iter().map(|x| health(x)).collect()
    } else {
        wanted.iter().map(health).collect()
    };
    Ok(json!({ "TargetHealthDescriptions": list }))
}

/// What ECS's service scheduler does with target groups, inside its own transactions.
pub mod internal {
    use haneul_store::{Scope, Txn};

    use super::{deregistration_delay_s, now_epoch_s, MAX_TARGETS};
    use crate::error::ElbError;
    use crate::health::HealthTable;
    use crate::model::{Target, TargetGroup, KIND_TARGET_GROUP};

    /// The target group with this ARN, or `TargetGroupNotFound`.
    pub fn target_group(t: &Txn<'_>, scope: &Scope, arn: &str) -> Result<TargetGroup, ElbError> {
        crate::api::target_group(t, scope, arn)
    }

    /// Registers `id:port` — an IP address, or an instance id in an `instance` group — again
    /// if it was draining.
    pub fn register_ip(
        t: &mut Txn<'_>,
        scope: &Scope,
        arn: &str,
        ip: &str,
        port: i64,
        zone: &str,
    ) -> Result<(), ElbError> {
        let mut tg = target_group(t, scope, arn)?;
        let now_s = now_epoch_s();
        tg.targets.retain(|x| x.present(now_s));
        match tg.targets.iter_mut().find(|x| x.id == ip && x.port == port) {
            Some(existing) => existing.draining_until_s = None,
            None => {
                let mut target = Target {
                    id: ip.to_string(),
                    port,
                    availability_zone: Some(zone.to_string()),
                    draining_until_s: None,
                    address: None,
                };
                super::resolve(t, scope, &mut target)?;
                tg.targets.push(target);
            }
        }
        if tg.targets.len() > MAX_TARGETS {
            return Err(ElbError::TooManyTargets(format!(
                "A target group can have at most {MAX_TARGETS} targets"
            )));
        }
        t.put(scope, KIND_TARGET_GROUP, &tg.name, &tg)?;
        Ok(())
    }

    /// Deregisters `ip:port`: it drains for the group's deregistration delay when a load
    /// balancer uses the group. Returns the delay (0 when it is gone at once, or was not
    /// registered).
    pub fn deregister_ip(t: &mut Txn<'_>, scope: &Scope, arn: &str, ip: &str, port: i64) -> Result<f64, ElbError> {
        let mut tg = target_group(t, scope, arn)?;
        let now_s = now_epoch_s();
        tg.targets.retain(|x| x.present(now_s));
        let delay_s = deregistration_delay_s(&tg);
        let drains = delay_s > 0.0 && !tg.load_balancer_arns.is_empty();
        let Some(i) = tg
            .targets
            .iter()
            .position(|x| x.id == ip && x.port == port && x.draining_until_s.is_none())
        else {
            return Ok(0.0);
        };
        if drains {
            tg.targets[i].draining_until_s = Some(now_s + delay_s);
        } else {
            tg.targets.remove(i);
        }
        t.put(scope, KIND_TARGET_GROUP, &tg.name, &tg)?;
        Ok(if drains { delay_s } else { 0.0 })
    }

    /// The probes' verdict on a registered target: `healthy`, `unhealthy`, `initial`, ….
    pub fn health(table: &HealthTable, arn: &str, ip: &str, port: i64) -> &'static str {
        match table.get(&(arn.to_string(), ip.to_string(), port)) {
            Some(s) => s.state().name(),
            None => "initial",
        }
    }
}

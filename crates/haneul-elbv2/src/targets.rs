//! RegisterTargets, DeregisterTargets, DescribeTargetHealth. Targets are IP addresses (target
//! type `ip`); instance targets wait for ECS. A target group no load balancer uses reports its
//! targets `unused`, as ALB does.

use haneul_store::Store;
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::api::target_group;
use crate::error::ElbError;
use crate::generated as api_types;
use crate::model::{Target, TargetGroup, KIND_TARGET_GROUP};
use crate::{parse, scope};

/// ALB's quota of targets per target group.
pub const MAX_TARGETS: usize = 1_000;

/// The target as given, with the group's port by default; IP targets must be IPv4 addresses.
fn target(tg: &TargetGroup, d: &api_types::TargetDescription) -> Result<Target, ElbError> {
    if tg.target_type != "ip" {
        return Err(ElbError::InvalidTarget(format!(
            "The target '{}' is not valid: haneul registers IP targets so far (target type 'ip'); instance targets come with ECS",
            d.id
        )));
    }
    if d.id.parse::<std::net::Ipv4Addr>().is_err() {
        return Err(ElbError::InvalidTarget(format!(
            "The IP address '{}' is not a valid IPv4 address",
            d.id
        )));
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
    })
}

/// Loads the group, applies `change`, stores it — one transaction.
async fn update_group(
    store: &Store,
    ctx: &RequestContext,
    arn: String,
    change: impl FnOnce(&mut TargetGroup) -> Result<(), ElbError> + Send + 'static,
) -> Result<(), ElbError> {
    let scope = scope(ctx);
    store
        .write(move |t| {
            let mut tg = target_group(t, &scope, &arn)?;
            change(&mut tg)?;
            t.put(&scope, KIND_TARGET_GROUP, &tg.name, &tg)?;
            Ok(())
        })
        .await
}

pub async fn register_targets(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::RegisterTargetsInput = parse(input)?;
    update_group(store, ctx, input.target_group_arn, move |tg| {
        for d in &input.targets {
            let target = target(tg, d)?;
            if !tg.targets.iter().any(|x| x.id == target.id && x.port == target.port) {
                tg.targets.push(target);
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
    update_group(store, ctx, input.target_group_arn, move |tg| {
        for d in &input.targets {
            let target = target(tg, d)?;
            let before = tg.targets.len();
            tg.targets.retain(|x| !(x.id == target.id && x.port == target.port));
            if tg.targets.len() == before {
                return Err(ElbError::InvalidTarget(format!(
                    "The following targets are not registered in target group '{}': '{}:{}'",
                    tg.name, target.id, target.port
                )));
            }
        }
        Ok(())
    })
    .await?;
    Ok(json!({}))
}

pub async fn describe_target_health(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::DescribeTargetHealthInput = parse(input)?;
    let scope = scope(ctx);
    let arn = input.target_group_arn.clone();
    let tg = store.read(move |t| target_group(t, &scope, &arn)).await?;
    let wanted: Vec<Target> = input.targets.iter().map(|d| target(&tg, d)).collect::<Result<_, _>>()?;
    let health = |x: &Target| {
        let registered = tg.targets.contains(x);
        let (state, reason, description) = match (registered, tg.load_balancer_arns.is_empty()) {
            (false, _) => (
                "unavailable",
                "Target.NotRegistered",
                "Target is not registered to the target group",
            ),
            (true, true) => (
                "unused",
                "Target.NotInUse",
                "Target group is not configured to receive traffic from the load balancer",
            ),
            (true, false) => (
                "initial",
                "Elb.RegistrationInProgress",
                "Target registration is in progress",
            ),
        };
        json!({
            "Target": { "Id": x.id, "Port": x.port, "AvailabilityZone": x.availability_zone },
            "HealthCheckPort": if tg.health_check_port == "traffic-port" { x.port.to_string() } else { tg.health_check_port.clone() },
            "TargetHealth": { "State": state, "Reason": reason, "Description": description },
        })
    };
    let list: Vec<Value> = if wanted.is_empty() {
        tg.targets.iter().map(health).collect()
    } else {
        wanted.iter().map(health).collect()
    };
    Ok(json!({ "TargetHealthDescriptions": list }))
}

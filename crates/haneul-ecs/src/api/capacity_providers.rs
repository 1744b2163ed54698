//! Capacity providers: FARGATE and FARGATE_SPOT (haneul's own host), and ones a user
//! creates (Create/Update/Delete/DescribeCapacityProviders). An Auto Scaling group provider's
//! group is accepted as given (there is no EC2 Auto Scaling here): its capacity is the
//! container instances whose agent joined with `--capacity-provider NAME`, and tasks placed
//! through it go only to those instances. Managed instances providers are refused (they need
//! EC2 to launch instances).

use haneul_store::{Scope, Txn};
use haneul_wire::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::clusters::FARGATE_PROVIDERS;
use crate::error::EcsError;
use crate::generated as api;
use crate::model::{Cluster, KIND_CLUSTER};
use crate::{parse, scope, Ecs};

pub const KIND_CAPACITY_PROVIDER: &str = "ecs.capacity_provider";
/// The attribute a container instance carries when its agent joined a capacity provider.
pub const PROVIDER_ATTRIBUTE: &str = "haneul.capacity-provider";
/// Capacity providers an account may have (ECS's quota).
const MAX_PROVIDERS: usize = 500;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapacityProvider {
    pub name: String,
    pub arn: String,
    /// ACTIVE or INACTIVE (deleted; still described).
    pub status: String,
    pub update_status: Option<String>,
    /// The AutoScalingGroupProvider as the API shows it, defaults filled in.
    pub auto_scaling_group_provider: Value,
    pub tags: Value,
}

fn invalid(msg: impl Into<String>) -> EcsError {
    EcsError::InvalidParameter(msg.into())
}

fn arn(ctx_region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:ecs:{ctx_region}:{account}:capacity-provider/{name}")
}

fn check_name(name: &str) -> Result<(), EcsError> {
    let lower = name.to_ascii_lowercase();
    if ["aws", "ecs", "fargate"].iter().any(|p| lower.starts_with(p)) {
        return Err(invalid(
            "The specified capacity provider name is invalid. Capacity provider names cannot be prefixed with \"aws\", \"ecs\", or \"fargate\". Specify a valid name and try again.",
        ));
    }
    if name.is_empty() || name.len() > 255 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(invalid(
            "The specified capacity provider name is invalid. Up to 255 characters are allowed, including letters (upper and lowercase), numbers, underscores, and hyphens.",
        ));
    }
    Ok(())
}

/// The group settings with ECS's defaults for what was not given.
fn group_provider(given: &api::AutoScalingGroupProvider) -> Result<Value, EcsError> {
    if !given.auto_scaling_group_arn.starts_with("arn:aws:autoscaling:") {
        return Err(invalid(
            "The specified Auto Scaling group ARN is invalid. Specify a valid Auto Scaling group ARN and try again.",
        ));
    }
    let mut v = serde_json::to_value(given).map_err(|e| invalid(e.to_string()))?;
    let scaling = v
        .get("managedScaling")
        .cloned()
        .unwrap_or_else(|| json!({ "status": "DISABLED" }));
    let mut scaling = scaling;
    for (k, d) in [
        ("status", json!("DISABLED")),
        ("targetCapacity", json!(100)),
        ("minimumScalingStepSize", json!(1)),
        ("maximumScalingStepSize", json!(10000)),
        ("instanceWarmupPeriod", json!(300)),
    ] {
        if scaling.get(k).is_none() {
            scaling[k] = d;
        }
    }
    let target = scaling["targetCapacity"].as_i64().unwrap_or(100);
    if !(1..=100).contains(&target) {
        return Err(invalid("targetCapacity must be between 1 and 100."));
    }
    v["managedScaling"] = scaling;
    if v.get("managedTerminationProtection").is_none() {
        v["managedTerminationProtection"] = json!("DISABLED");
    }
    if v.get("managedDraining").is_none() {
        v["managedDraining"] = json!("ENABLED");
    }
    if v["managedTerminationProtection"] == "ENABLED" && v["managedScaling"]["status"] != "ENABLED" {
        return Err(invalid(
            "The managed termination protection setting for the capacity provider is invalid. To enable managed termination protection for a capacity provider, the capacity provider must have managed scaling enabled.",
        ));
    }
    Ok(v)
}

fn view(p: &CapacityProvider, with_tags: bool) -> Value {
    let mut v = json!({
        "capacityProviderArn": p.arn,
        "name": p.name,
        "status": p.status,
        "type": "EC2_AUTOSCALING",
        "autoScalingGroupProvider": p.auto_scaling_group_provider,
    });
    if let Some(u) = &p.update_status {
        v["updateStatus"] = json!(u);
    }
    if with_tags {
        v["tags"] = p.tags.clone();
    }
    v
}

fn fargate_view(region: &str, account: &str, name: &str) -> Value {
    json!({
        "capacityProviderArn": arn(region, account, name),
        "name": name,
        "status": "ACTIVE",
        "type": name,
        "tags": [],
    })
}

/// Whether `name` is a capacity provider the account can use (FARGATE, FARGATE_SPOT, or an
/// ACTIVE one of its own).
pub fn exists(t: &Txn<'_>, scope: &Scope, name: &str) -> Result<bool, EcsError> {
    if FARGATE_PROVIDERS.contains(&name) {
        return Ok(true);
    }
    Ok(t.get::<CapacityProvider>(scope, KIND_CAPACITY_PROVIDER, name)?
        .is_some_and(|p| p.status == "ACTIVE"))
}

pub async fn create(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::CreateCapacityProviderRequest = parse(input)?;
    check_name(&input.name)?;
    if input.managed_instances_provider.is_some() {
        return Err(EcsError::UnsupportedFeature(
            "Managed instances capacity providers need EC2 to launch instances, which haneul does not have. Use an Auto Scaling group provider whose capacity is `haneul agent --capacity-provider`.".into(),
        ));
    }
    let group = input
        .auto_scaling_group_provider
        .as_ref()
        .ok_or_else(|| invalid("autoScalingGroupProvider is required."))?;
    let group = group_provider(group)?;
    let tags = serde_json::to_value(&input.tags).map_err(|e| invalid(e.to_string()))?;
    let provider = CapacityProvider {
        arn: arn(&ctx.region, &ctx.account_id, &input.name),
        name: input.name.clone(),
        status: "ACTIVE".into(),
        update_status: None,
        auto_scaling_group_provider: group,
        tags,
    };
    let scope = scope(ctx);
    let stored = ecs
        .store
        .write(move |t| {
            let all = t.list_prefix::<CapacityProvider>(&scope, KIND_CAPACITY_PROVIDER, "")?;
            if all.iter().any(|(_, p)| p.name == provider.name && p.status == "ACTIVE") {
                return Err(EcsError::Client(
                    "The specified capacity provider already exists. To change the configuration of an existing capacity provider, update the capacity provider.".into(),
                ));
            }
            let group_arn = provider.auto_scaling_group_provider["autoScalingGroupArn"].clone();
            if all
                .iter()
                .any(|(_, p)| p.status == "ACTIVE" && p.auto_scaling_group_provider["autoScalingGroupArn"] == group_arn)
            {
                return Err(EcsError::Client(
                    "The specified Auto Scaling group ARN is already being used by another capacity provider. Specify a unique Auto Scaling group ARN and try again.".into(),
                ));
            }
            if all.iter().filter(|(_, p)| p.status == "ACTIVE").count() >= MAX_PROVIDERS {
                return Err(EcsError::LimitExceeded(
                    "The maximum number of capacity providers has been reached.".into(),
                ));
            }
            t.put(&scope, KIND_CAPACITY_PROVIDER, &provider.name, &provider)?;
            Ok::<_, EcsError>(provider)
        })
        .await?;
    Ok(json!({ "capacityProvider": view(&stored, true) }))
}

fn given_name(given: &str) -> &str {
    given.rsplit('/').next().unwrap_or(given)
}

pub async fn update(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::UpdateCapacityProviderRequest = parse(input)?;
    let update = serde_json::to_value(&input.auto_scaling_group_provider).map_err(|e| invalid(e.to_string()))?;
    if input.managed_instances_provider.is_some() {
        return Err(EcsError::UnsupportedFeature(
            "Managed instances capacity providers are not supported.".into(),
        ));
    }
    let scope = scope(ctx);
    let name = given_name(&input.name).to_string();
    let stored = ecs
        .store
        .write(move |t| {
            let mut p: CapacityProvider = t
                .get(&scope, KIND_CAPACITY_PROVIDER, &name)?
                .filter(|p: &CapacityProvider| p.status == "ACTIVE")
                .ok_or_else(|| {
                    invalid(
                        "The specified capacity provider does not exist. Specify a valid name or ARN and try again.",
                    )
                })?;
            let mut merged = p.auto_scaling_group_provider.clone();
            if let Some(fields) = update.as_object() {
                for (k, v) in fields {
                    if k == "managedScaling" {
                        if let Some(scaling) = v.as_object() {
                            for (sk, sv) in scaling {
                                merged["managedScaling"][sk] = sv.clone();
                            }
                        }
                    } else {
                        merged[k] = v.clone();
                    }
                }
            }
            let typed: api::AutoScalingGroupProvider =
                serde_json::from_value(merged).map_err(|e| invalid(e.to_string()))?;
            p.auto_scaling_group_provider = group_provider(&typed)?;
            p.update_status = Some("UPDATE_COMPLETE".into());
            t.put(&scope, KIND_CAPACITY_PROVIDER, &name, &p)?;
            Ok::<_, EcsError>(p)
        })
        .await?;
    Ok(json!({ "capacityProvider": view(&stored, false) }))
}

pub async fn delete(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DeleteCapacityProviderRequest = parse(input)?;
    let scope = scope(ctx);
    let name = given_name(&input.capacity_provider).to_string();
    if FARGATE_PROVIDERS.contains(&name.as_str()) {
        return Err(invalid(
            "The FARGATE and FARGATE_SPOT capacity providers cannot be deleted.",
        ));
    }
    let stored = ecs
        .store
        .write(move |t| {
            let mut p: CapacityProvider = t
                .get(&scope, KIND_CAPACITY_PROVIDER, &name)?
                .filter(|p: &CapacityProvider| p.status == "ACTIVE")
                .ok_or_else(|| invalid("The specified capacity provider does not exist. Specify a valid name or ARN and try again."))?;
            for (_, c) in t.list_prefix::<Cluster>(&scope, KIND_CLUSTER, "")? {
                if c.status == "ACTIVE" && c.capacity_providers.contains(&name) {
                    return Err(EcsError::Client(format!(
                        "The specified capacity provider is in use and cannot be removed. Disassociate it from cluster {} and try again.",
                        c.name
                    )));
                }
            }
            p.status = "INACTIVE".into();
            p.update_status = Some("DELETE_COMPLETE".into());
            t.put(&scope, KIND_CAPACITY_PROVIDER, &name, &p)?;
            Ok::<_, EcsError>(p)
        })
        .await?;
    Ok(json!({ "capacityProvider": view(&stored, false) }))
}

pub async fn describe(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DescribeCapacityProvidersRequest = parse(input)?;
    let with_tags = input.include.iter().any(|i| i == "TAGS");
    let size = crate::api::task_definitions::max_results(input.max_results)?;
    let offset = crate::api::task_definitions::page_token(input.next_token.as_deref())?;
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    let (found, failures) = ecs
        .store
        .read(move |t| {
            let mut found = Vec::new();
            let mut failures = Vec::new();
            if input.capacity_providers.is_empty() {
                for name in FARGATE_PROVIDERS {
                    found.push(fargate_view(&region, &account, name));
                }
                for (_, p) in t.list_prefix::<CapacityProvider>(&scope, KIND_CAPACITY_PROVIDER, "")? {
                    if p.status == "ACTIVE" {
                        found.push(view(&p, with_tags));
                    }
                }
            } else {
                for given in &input.capacity_providers {
                    let name = given_name(given);
                    if FARGATE_PROVIDERS.contains(&name) {
                        found.push(fargate_view(&region, &account, name));
                        continue;
                    }
                    match t.get::<CapacityProvider>(&scope, KIND_CAPACITY_PROVIDER, name)? {
                        Some(p) => found.push(view(&p, with_tags)),
                        None => failures.push(json!({ "arn": arn(&region, &account, name), "reason": "MISSING" })),
                    }
                }
            }
            Ok::<_, EcsError>((found, failures))
        })
        .await?;
    let mut page = crate::api::paged("capacityProviders", &found, offset, size);
    page["failures"] = Value::Array(failures);
    Ok(page)
}

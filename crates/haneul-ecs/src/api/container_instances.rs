//! Container instances — the hosts of the EC2 and EXTERNAL launch types, registered by an
//! agent (`haneul agent`, `crate::agent`): RegisterContainerInstance (again
//! with its ARN: the same instance), DeregisterContainerInstance, DescribeContainerInstances,
//! ListContainerInstances (status and cluster query language filters), UpdateContainerInstancesState
//! (ACTIVE/DRAINING), Put/Delete/ListAttributes, DiscoverPollEndpoint (also the agent's
//! heartbeat), UpdateContainerAgent.

use std::collections::BTreeMap;

use haneul_store::{Scope, Txn};
use haneul_wire::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::tasks::load_active_cluster;
use crate::error::EcsError;
use crate::generated as api;
use crate::model::{Task, KIND_TASK, SEP};
use crate::scheduler::expression::{self, Subject};
use crate::scheduler::usage::{self, Usage};
use crate::{parse, scope, Ecs};

/// A container instance, keyed `cluster␁id`.
pub const KIND_CONTAINER_INSTANCE: &str = "ecs.container_instance";
/// Attributes a container instance may carry (ECS's quota).
pub const MAX_ATTRIBUTES: usize = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerInstance {
    pub id: String,
    pub arn: String,
    pub cluster: String,
    pub ec2_instance_id: String,
    /// ACTIVE, DRAINING or INACTIVE.
    pub status: String,
    pub registered_at: f64,
    /// The agent's last word (registration, DiscoverPollEndpoint): epoch seconds.
    pub last_seen_s: f64,
    /// The Resources as registered (API shape).
    pub resources: Value,
    pub version_info: Value,
    pub attributes: BTreeMap<String, Option<String>>,
    pub tags: Value,
    pub version: i64,
}

fn invalid(msg: impl Into<String>) -> EcsError {
    EcsError::InvalidParameter(msg.into())
}

fn instance_id(given: &str) -> &str {
    given.rsplit('/').next().unwrap_or(given)
}

/// The EC2 instance id of the container instance `arn` of `cluster`, when it is registered.
pub(crate) fn ec2_instance_of(
    t: &Txn<'_>,
    scope: &Scope,
    cluster: &str,
    arn: &str,
) -> Result<Option<String>, EcsError> {
    Ok(
        t.get::<ContainerInstance>(scope, KIND_CONTAINER_INSTANCE, &key(cluster, instance_id(arn)))?
            .map(|ci| ci.ec2_instance_id),
    )
}

fn key(cluster: &str, id: &str) -> String {
    format!("{cluster}{SEP}{id}")
}

/// How long an agent may stay silent before it counts as disconnected.
pub const AGENT_HEARTBEAT_TIMEOUT_S: f64 = 30.0;

impl ContainerInstance {
    /// Whether its agent has been heard from within [`AGENT_HEARTBEAT_TIMEOUT_S`] of `now_s`
    /// (a deregistered instance has none).
    pub fn agent_connected(&self, now_s: f64) -> bool {
        self.status != "INACTIVE" && now_s - self.last_seen_s < AGENT_HEARTBEAT_TIMEOUT_S
    }
}

/// The instance as DescribeContainerInstances shows it; `tasks`: (running, pending) on it;
/// `used`: what its live tasks take.
fn view(ci: &ContainerInstance, tasks: (i64, i64), used: Option<&Usage>, with_tags: bool) -> Value {
    let now = haneul_wire::value::now_epoch_s();
    let attributes: Vec<Value> = ci
        .attributes
        .iter()
        .map(|(name, value)| match value {
            Some(v) => json!({ "name": name, "value": v }),
            None => json!({ "name": name }),
        })
        .collect();
    let mut v = json!({
        "containerInstanceArn": ci.arn,
        "ec2InstanceId": ci.ec2_instance_id,
        "version": ci.version,
        "versionInfo": ci.version_info,
        "registeredResources": ci.resources,
        "remainingResources": crate::scheduler::placement::remaining(&ci.resources, used),
        "status": ci.status,
        "agentConnected": ci.agent_connected(now),
        "runningTasksCount": tasks.0,
        "pendingTasksCount": tasks.1,
        "attributes": attributes,
        "registeredAt": ci.registered_at,
        "attachments": [],
    });
    if let Some(Some(p)) = ci.attributes.get(crate::api::capacity_providers::PROVIDER_ATTRIBUTE) {
        v["capacityProviderName"] = json!(p);
    }
    if with_tags {
        v["tags"] = ci.tags.clone();
    }
    v
}

/// (running, pending) tasks placed on `arn`.
fn task_counts(t: &Txn<'_>, scope: &Scope, cluster: &str, arn: &str) -> Result<(i64, i64), EcsError> {
    let mut counts = (0, 0);
    for (_, task) in t.list_prefix::<Task>(scope, KIND_TASK, &format!("{cluster}{SEP}"))? {
        if task.host == arn && !task.is_stopped() {
            if task.last_status == "RUNNING" {
                counts.0 += 1;
            } else {
                counts.1 += 1;
            }
        }
    }
    Ok(counts)
}

fn default_attributes(zone: &str) -> BTreeMap<String, Option<String>> {
    let mut a = BTreeMap::new();
    for (k, v) in [
        ("ecs.os-type", Some("linux")),
        ("ecs.os-family", Some("LINUX")),
        ("ecs.cpu-architecture", Some("x86_64")),
        ("ecs.availability-zone", Some(zone)),
        ("ecs.instance-type", Some("haneul.host")),
        ("com.amazonaws.ecs.capability.docker-remote-api.1.40", None),
        ("com.amazonaws.ecs.capability.logging-driver.awslogs", None),
        ("ecs.capability.task-eni", None),
        ("ecs.capability.container-health-check", None),
        ("ecs.capability.container-ordering", None),
    ] {
        a.insert(k.to_string(), v.map(str::to_string));
    }
    a
}

pub async fn register(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::RegisterContainerInstanceRequest = parse(input)?;
    let document: Value = match &input.instance_identity_document {
        Some(d) => serde_json::from_str(d).map_err(|_| invalid("instanceIdentityDocument is not a JSON document."))?,
        None => json!({}),
    };
    let zone = document
        .get("availabilityZone")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}a", ctx.region));
    let ec2_id = document.get("instanceId").and_then(Value::as_str).map(str::to_string);
    // Where `instance` target groups reach it (an agent says its --address).
    let private_ip = document.get("privateIp").and_then(Value::as_str).map(str::to_string);
    if let Some(ip) = &private_ip {
        if ip.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(invalid(format!(
                "The instance identity document's privateIp '{ip}' is not an IPv4 address."
            )));
        }
    }
    let resources = serde_json::to_value(&input.total_resources).map_err(|e| invalid(e.to_string()))?;
    let version_info = input
        .version_info
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| invalid(e.to_string()))?;
    let given_attributes: Vec<(String, Option<String>)> = input
        .attributes
        .iter()
        .map(|a| (a.name.clone(), a.value.clone()))
        .collect();
    let tags = serde_json::to_value(&input.tags).map_err(|e| invalid(e.to_string()))?;
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    let reregister = input.container_instance_arn.clone();
    let ci = ecs
        .store
        .write(move |t| {
            let cluster = load_active_cluster(t, &scope, input.cluster.as_deref())?;
            let now = haneul_wire::value::now_epoch_s();
            let existing = match &reregister {
                Some(arn) => Some(
                    t.get::<ContainerInstance>(&scope, KIND_CONTAINER_INSTANCE, &key(&cluster.name, instance_id(arn)))?
                        .filter(|c| c.status != "INACTIVE")
                        .ok_or_else(|| {
                            invalid(format!(
                                "The container instance {arn} is not registered in the cluster."
                            ))
                        })?,
                ),
                None => None,
            };
            let mut ci = match existing {
                Some(mut ci) => {
                    ci.last_seen_s = now;
                    ci.version += 1;
                    ci
                }
                None => {
                    let id = uuid::Uuid::new_v4().simple().to_string();
                    ContainerInstance {
                        arn: format!(
                            "arn:aws:ecs:{region}:{account}:container-instance/{}/{id}",
                            cluster.name
                        ),
                        id,
                        cluster: cluster.name.clone(),
                        ec2_instance_id: ec2_id.clone().unwrap_or_else(|| {
                            format!(
                                "i-{}",
                                uuid::Uuid::new_v4().simple().to_string().get(..17).unwrap_or("0")
                            )
                        }),
                        status: "ACTIVE".into(),
                        registered_at: now,
                        last_seen_s: now,
                        resources: Value::Null,
                        version_info: Value::Null,
                        attributes: default_attributes(&zone),
                        tags: tags.clone(),
                        version: 1,
                    }
                }
            };
            ci.resources = resources;
            if let Some(v) = version_info {
                ci.version_info = v;
            }
            for (name, value) in given_attributes {
                ci.attributes.insert(name, value);
            }
            if let Some(Some(p)) = ci.attributes.get(crate::api::capacity_providers::PROVIDER_ATTRIBUTE) {
                if p.starts_with("FARGATE") || !crate::api::capacity_providers::exists(t, &scope, p)? {
                    return Err(invalid(format!(
                        "The specified capacity provider '{p}' does not exist. Specify a valid capacity provider and try again."
                    )));
                }
            }
            t.put(&scope, KIND_CONTAINER_INSTANCE, &key(&ci.cluster, &ci.id), &ci)?;
            if let Some(ip) = &private_ip {
                let instance = haneul_ec2::model::Instance {
                    instance_id: ci.ec2_instance_id.clone(),
                    private_ip_address: ip.clone(),
                    availability_zone: zone.clone(),
                    state: "running".into(),
                };
                t.put(&scope, haneul_ec2::model::KIND_INSTANCE, &instance.instance_id, &instance)?;
            }
            Ok::<_, EcsError>(ci)
        })
        .await?;
    Ok(json!({ "containerInstance": view(&ci, (0, 0), None, false) }))
}

pub async fn deregister(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DeregisterContainerInstanceRequest = parse(input)?;
    let scope = scope(ctx);
    let ci = ecs
        .store
        .write(move |t| {
            let cluster = load_active_cluster(t, &scope, input.cluster.as_deref())?;
            let k = key(&cluster.name, instance_id(&input.container_instance));
            let mut ci: ContainerInstance = t
                .get(&scope, KIND_CONTAINER_INSTANCE, &k)?
                .filter(|c: &ContainerInstance| c.status != "INACTIVE")
                .ok_or_else(|| invalid("The referenced container instance was not found."))?;
            let counts = task_counts(t, &scope, &cluster.name, &ci.arn)?;
            if counts.0 + counts.1 > 0 && !input.force.unwrap_or(false) {
                return Err(invalid(
                    "The container instance has tasks running on it: stop them, or deregister with force.",
                ));
            }
            ci.status = "INACTIVE".into();
            t.delete(&scope, haneul_ec2::model::KIND_INSTANCE, &ci.ec2_instance_id)?;
            ci.version += 1;
            t.put(&scope, KIND_CONTAINER_INSTANCE, &k, &ci)?;
            Ok::<_, EcsError>((ci, counts))
        })
        .await?;
    Ok(json!({ "containerInstance": view(&ci.0, ci.1, None, false) }))
}

pub async fn describe(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DescribeContainerInstancesRequest = parse(input)?;
    if input.container_instances.is_empty() || input.container_instances.len() > 100 {
        return Err(invalid("containerInstances must name between 1 and 100 instances."));
    }
    let tags = input.include.iter().any(|i| i == "TAGS");
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    ecs.store
        .read(move |t| {
            let cluster = load_active_cluster(t, &scope, input.cluster.as_deref())?;
            let used = usage::of_cluster(t, &scope, &cluster.name)?;
            let mut found = Vec::new();
            let mut failures = Vec::new();
            for given in &input.container_instances {
                let id = instance_id(given);
                match t.get::<ContainerInstance>(&scope, KIND_CONTAINER_INSTANCE, &key(&cluster.name, id))? {
                    Some(ci) => {
                        let counts = task_counts(t, &scope, &cluster.name, &ci.arn)?;
                        found.push(view(&ci, counts, used.get(&ci.arn), tags));
                    }
                    None => failures.push(json!({
                        "arn": format!("arn:aws:ecs:{region}:{account}:container-instance/{}/{id}", cluster.name),
                        "reason": "MISSING",
                    })),
                }
            }
            Ok::<_, EcsError>(json!({ "containerInstances": found, "failures": failures }))
        })
        .await
}

/// A ListContainerInstances filter: the cluster query language (see [`expression`]).
fn matches_filter(
    ci: &ContainerInstance,
    used: Option<&Usage>,
    groups: &BTreeMap<String, i64>,
    filter: &str,
) -> Result<bool, EcsError> {
    let subject = Subject {
        attributes: &ci.attributes,
        ec2_instance_id: &ci.ec2_instance_id,
        agent_connected: ci.agent_connected(haneul_wire::value::now_epoch_s()),
        running_tasks: used.map_or(0, |u| u.tasks),
        task_groups: groups,
    };
    expression::matches(filter, &subject).map_err(|e| invalid(e.0))
}

pub async fn list(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::ListContainerInstancesRequest = parse(input)?;
    let size = crate::api::task_definitions::max_results(input.max_results)?;
    let offset = crate::api::task_definitions::page_token(input.next_token.as_deref())?;
    let scope = scope(ctx);
    let arns: Vec<String> = ecs
        .store
        .read(move |t| {
            let cluster = load_active_cluster(t, &scope, input.cluster.as_deref())?;
            let used = match input.filter {
                Some(_) => usage::of_cluster(t, &scope, &cluster.name)?,
                None => Default::default(),
            };
            let mut out = Vec::new();
            for (_, ci) in
                t.list_prefix::<ContainerInstance>(&scope, KIND_CONTAINER_INSTANCE, &format!("{}{SEP}", cluster.name))?
            {
                let status_ok = match input.status.as_deref() {
                    Some(s) => ci.status == s,
                    None => ci.status != "INACTIVE",
                };
                let filter_ok = match input.filter.as_deref() {
                    Some(f) => {
                        let groups = if f.contains("task:group") {
                            usage::groups_of(t, &scope, &cluster.name, &ci.arn)?
                        } else {
                            BTreeMap::new()
                        };
                        matches_filter(&ci, used.get(&ci.arn), &groups, f)?
                    }
                    None => true,
                };
                if status_ok && filter_ok {
                    out.push(ci.arn);
                }
            }
            Ok::<_, EcsError>(out)
        })
        .await?;
    Ok(crate::api::paged("containerInstanceArns", &arns, offset, size))
}

pub async fn update_state(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::UpdateContainerInstancesStateRequest = parse(input)?;
    if !["ACTIVE", "DRAINING"].contains(&input.status.as_str()) {
        return Err(invalid("Container instances can only be set ACTIVE or DRAINING."));
    }
    let scope = scope(ctx);
    ecs.store
        .write(move |t| {
            let cluster = load_active_cluster(t, &scope, input.cluster.as_deref())?;
            let used = usage::of_cluster(t, &scope, &cluster.name)?;
            let mut found = Vec::new();
            let mut failures = Vec::new();
            for given in &input.container_instances {
                let k = key(&cluster.name, instance_id(given));
                match t
                    .get::<ContainerInstance>(&scope, KIND_CONTAINER_INSTANCE, &k)?
                    .filter(|c| c.status != "INACTIVE")
                {
                    Some(mut ci) => {
                        if ci.status != input.status {
                            ci.status = input.status.clone();
                            ci.version += 1;
                            t.put(&scope, KIND_CONTAINER_INSTANCE, &k, &ci)?;
                        }
                        let counts = task_counts(t, &scope, &cluster.name, &ci.arn)?;
                        found.push(view(&ci, counts, used.get(&ci.arn), false));
                    }
                    None => failures.push(json!({ "arn": given, "reason": "MISSING" })),
                }
            }
            Ok::<_, EcsError>(json!({ "containerInstances": found, "failures": failures }))
        })
        .await
}

/// The target an attribute names: a container instance of the cluster.
fn attribute_target(a: &api::Attribute) -> Result<&str, EcsError> {
    if a.target_type.as_deref().is_some_and(|t| t != "container-instance") {
        return Err(invalid("targetType must be container-instance."));
    }
    a.target_id
        .as_deref()
        .map(instance_id)
        .ok_or_else(|| invalid("targetId is required for an attribute."))
}

async fn change_attributes(
    ecs: &Ecs,
    ctx: &RequestContext,
    cluster: Option<String>,
    attributes: Vec<api::Attribute>,
    put: bool,
) -> Result<Value, EcsError> {
    if attributes.is_empty() || attributes.len() > 10 {
        return Err(invalid("attributes must name between 1 and 10 attributes."));
    }
    let scope = scope(ctx);
    ecs.store
        .write(move |t| {
            let cluster = load_active_cluster(t, &scope, cluster.as_deref())?;
            for a in &attributes {
                let target = attribute_target(a)?;
                let k = key(&cluster.name, target);
                let mut ci: ContainerInstance = t
                    .get(&scope, KIND_CONTAINER_INSTANCE, &k)?
                    .filter(|c: &ContainerInstance| c.status != "INACTIVE")
                    .ok_or_else(|| {
                        EcsError::TargetNotFound(format!("Could not find {}.", a.target_id.clone().unwrap_or_default()))
                    })?;
                if put {
                    ci.attributes.insert(a.name.clone(), a.value.clone());
                    let custom = ci
                        .attributes
                        .keys()
                        .filter(|k| !k.starts_with("ecs.") && !k.starts_with("com.amazonaws.ecs."))
                        .count();
                    if custom > MAX_ATTRIBUTES {
                        return Err(EcsError::AttributeLimitExceeded);
                    }
                } else {
                    ci.attributes.remove(&a.name);
                }
                ci.version += 1;
                t.put(&scope, KIND_CONTAINER_INSTANCE, &k, &ci)?;
            }
            let echoed = serde_json::to_value(&attributes).map_err(|e| invalid(e.to_string()))?;
            Ok::<_, EcsError>(json!({ "attributes": echoed }))
        })
        .await
}

pub async fn put_attributes(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::PutAttributesRequest = parse(input)?;
    change_attributes(ecs, ctx, input.cluster, input.attributes, true).await
}

pub async fn delete_attributes(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DeleteAttributesRequest = parse(input)?;
    change_attributes(ecs, ctx, input.cluster, input.attributes, false).await
}

pub async fn list_attributes(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::ListAttributesRequest = parse(input)?;
    if input.target_type != "container-instance" {
        return Err(invalid("targetType must be container-instance."));
    }
    let size = crate::api::task_definitions::max_results(input.max_results)?;
    let offset = crate::api::task_definitions::page_token(input.next_token.as_deref())?;
    let scope = scope(ctx);
    let all: Vec<Value> = ecs
        .store
        .read(move |t| {
            let cluster = load_active_cluster(t, &scope, input.cluster.as_deref())?;
            let mut out = Vec::new();
            for (_, ci) in
                t.list_prefix::<ContainerInstance>(&scope, KIND_CONTAINER_INSTANCE, &format!("{}{SEP}", cluster.name))?
            {
                if ci.status == "INACTIVE" {
                    continue;
                }
                for (name, value) in &ci.attributes {
                    if input.attribute_name.as_ref().is_some_and(|n| n != name) {
                        continue;
                    }
                    if input.attribute_value.is_some() && input.attribute_value.as_ref() != value.as_ref() {
                        continue;
                    }
                    let mut a = json!({ "name": name, "targetType": "container-instance", "targetId": ci.arn });
                    if let Some(v) = value {
                        a["value"] = json!(v);
                    }
                    out.push(a);
                }
            }
            Ok::<_, EcsError>(out)
        })
        .await?;
    Ok(crate::api::paged("attributes", &all, offset, size))
}

/// DiscoverPollEndpoint: where an agent talks to (this endpoint), and its heartbeat.
pub async fn discover_poll_endpoint(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DiscoverPollEndpointRequest = parse(input)?;
    if let Some(given) = input.container_instance.clone() {
        let scope = scope(ctx);
        let cluster = crate::model::cluster_name(input.cluster.as_deref()).to_string();
        ecs.store
            .write(move |t| {
                let k = key(&cluster, instance_id(&given));
                if let Some(mut ci) = t.get::<ContainerInstance>(&scope, KIND_CONTAINER_INSTANCE, &k)? {
                    ci.last_seen_s = haneul_wire::value::now_epoch_s();
                    t.put(&scope, KIND_CONTAINER_INSTANCE, &k, &ci)?;
                }
                Ok::<_, EcsError>(())
            })
            .await?;
    }
    let endpoint = ecs.endpoint_url();
    Ok(json!({ "endpoint": endpoint, "telemetryEndpoint": endpoint, "serviceConnectEndpoint": endpoint }))
}

pub async fn update_agent(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::UpdateContainerAgentRequest = parse(input)?;
    let scope = scope(ctx);
    ecs.store
        .read(move |t| {
            let cluster = load_active_cluster(t, &scope, input.cluster.as_deref())?;
            t.get::<ContainerInstance>(
                &scope,
                KIND_CONTAINER_INSTANCE,
                &key(&cluster.name, instance_id(&input.container_instance)),
            )?
            .ok_or_else(|| invalid("The referenced container instance was not found."))?;
            Ok::<_, EcsError>(())
        })
        .await?;
    Err(EcsError::NoUpdateAvailable)
}

//! Task sets of services with the EXTERNAL deployment controller (CreateTaskSet,
//! UpdateTaskSet, DeleteTaskSet, DescribeTaskSets, UpdateServicePrimaryTaskSet). Each task
//! set has its own definition, network, load balancers and scale (a percent of the service's
//! desired count); the scheduler keeps ⌈scale × desired⌉ of its tasks running as a deployment
//! of its own. A deleted task set drains (scale 0) and goes once its tasks have stopped.

use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::api::services::{definition, definition_arn, load_balancers, load_service};
use crate::api::tasks::network_choice;
use crate::error::EcsError;
use crate::generated as api;
use crate::model::{cluster_arn, service_key, Service, TaskSetRecord, KIND_SERVICE};
use crate::scheduler::plan::new_deployment;
use crate::{parse, scope, Ecs};

fn invalid(msg: impl Into<String>) -> EcsError {
    EcsError::InvalidParameter(msg.into())
}

/// A service that takes task sets.
fn external(s: &Service) -> Result<(), EcsError> {
    if s.status != "ACTIVE" {
        return Err(EcsError::ServiceNotActive);
    }
    if s.deployment_controller != "EXTERNAL" {
        return Err(invalid(
            "Amazon ECS only supports task set management on services configured to use external deployment controllers.",
        ));
    }
    Ok(())
}

fn scale_percent(scale: Option<&api::Scale>) -> Result<f64, EcsError> {
    let Some(scale) = scale else { return Ok(100.0) };
    if scale.unit.as_deref().is_some_and(|u| u != "PERCENT") {
        return Err(invalid("The scale unit must be PERCENT."));
    }
    let value = scale.value.unwrap_or(100.0);
    if !(0.0..=100.0).contains(&value) {
        return Err(invalid("The scale value must be between 0 and 100."));
    }
    Ok(value)
}

fn given_id(given: &str) -> &str {
    // `ecs-svc/123…` or an ARN ending in it.
    match given.rfind("ecs-svc/") {
        Some(at) => &given[at..],
        None => given,
    }
}

fn find(s: &Service, given: &str) -> Result<usize, EcsError> {
    let id = given_id(given);
    s.task_sets
        .iter()
        .position(|ts| ts.id == id)
        .ok_or(EcsError::TaskSetNotFound)
}

/// The task set as the API shows it.
pub fn view(s: &Service, ts: &TaskSetRecord, region: &str, account: &str, with_tags: bool) -> Value {
    let mut v = json!({
        "id": ts.id,
        "taskSetArn": ts.arn,
        "serviceArn": s.arn,
        "clusterArn": cluster_arn(region, account, &s.cluster),
        "status": ts.status,
        "taskDefinition": ts.task_definition,
        "computedDesiredCount": ts.computed_desired_count(s.desired_count),
        "pendingCount": ts.deployment.pending_count,
        "runningCount": ts.deployment.running_count,
        "createdAt": ts.created_at,
        "updatedAt": ts.updated_at,
        "capacityProviderStrategy": ts.capacity_provider_strategy,
        "platformFamily": "Linux",
        "loadBalancers": ts.load_balancers.iter().map(|l| json!({
            "targetGroupArn": l.target_group_arn, "containerName": l.container_name, "containerPort": l.container_port,
        })).collect::<Vec<_>>(),
        "serviceRegistries": [],
        "scale": { "value": ts.scale_percent, "unit": "PERCENT" },
        "stabilityStatus": ts.stability_status,
        "stabilityStatusAt": ts.stability_status_at,
    });
    let optional = [
        ("externalId", ts.external_id.clone().map(Value::from)),
        ("launchType", ts.launch_type.clone().map(Value::from)),
        ("platformVersion", ts.platform_version.clone().map(Value::from)),
        (
            "networkConfiguration",
            (!ts.network_configuration.is_null()).then(|| ts.network_configuration.clone()),
        ),
    ];
    for (k, value) in optional {
        if let Some(value) = value {
            v[k] = value;
        }
    }
    if with_tags {
        v["tags"] = ts.tags.clone();
    }
    v
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, EcsError> {
    serde_json::to_value(v).map_err(|e| invalid(e.to_string()))
}

pub async fn create(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::CreateTaskSetRequest = parse(input)?;
    if input.launch_type.is_some() && !input.capacity_provider_strategy.is_empty() {
        return Err(invalid(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.",
        ));
    }
    if input.external_id.as_ref().is_some_and(|e| e.len() > 255) {
        return Err(invalid("externalId can be at most 255 characters."));
    }
    let scale = scale_percent(input.scale.as_ref())?;
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    let (service, at) = ecs
        .store
        .write(move |t| {
            let mut s = load_service(t, &scope, Some(&input.cluster), &input.service)?;
            external(&s)?;
            let def = definition(t, &scope, &input.task_definition)?;
            let fargate = input.launch_type.as_deref() == Some("FARGATE")
                || input
                    .capacity_provider_strategy
                    .iter()
                    .any(|c| c.capacity_provider.starts_with("FARGATE"));
            if fargate && !crate::api::tasks::fargate_compatible(&def) {
                return Err(invalid("Task definition does not support launch_type FARGATE."));
            }
            let mode = def.network_mode().to_string();
            network_choice(t, &scope, &mode, input.network_configuration.as_ref())?;
            let lbs = load_balancers(t, &scope, &input.load_balancers, &def)?;
            let now = haneul_wire::value::now_epoch_s();
            let td = definition_arn(&def);
            let deployment = new_deployment(&td, 0, input.launch_type.clone(), now);
            let id = deployment.id.clone();
            let record = TaskSetRecord {
                arn: format!("arn:aws:ecs:{region}:{account}:task-set/{}/{}/{id}", s.cluster, s.name),
                id,
                external_id: input.external_id.clone(),
                status: "ACTIVE".into(),
                task_definition: td,
                launch_type: input.launch_type.clone(),
                capacity_provider_strategy: to_value(&input.capacity_provider_strategy)?,
                platform_version: input.platform_version.clone(),
                network_configuration: input
                    .network_configuration
                    .as_ref()
                    .map(to_value)
                    .transpose()?
                    .unwrap_or(Value::Null),
                load_balancers: lbs,
                scale_percent: scale,
                created_at: now,
                updated_at: now,
                stability_status: "STABILIZING".into(),
                stability_status_at: now,
                tags: to_value(&input.tags)?,
                deployment,
            };
            s.task_sets.push(record);
            s.revision += 1;
            t.put(&scope, KIND_SERVICE, &service_key(&s.cluster, &s.name), &s)?;
            let at = s.task_sets.len() - 1;
            Ok::<_, EcsError>((s, at))
        })
        .await?;
    Ok(json!({ "taskSet": view(&service, &service.task_sets[at], &ctx.region, &ctx.account_id, true) }))
}

/// Changes one task set of an EXTERNAL service in one write (`f` says where it is after);
/// answers with it.
async fn change(
    ecs: &Ecs,
    ctx: &RequestContext,
    cluster: String,
    service: String,
    task_set: String,
    f: impl FnOnce(&mut Service, usize) -> Result<usize, EcsError> + Send + 'static,
) -> Result<Value, EcsError> {
    let scope = scope(ctx);
    let (s, ts) = ecs
        .store
        .write(move |t| {
            let mut s = load_service(t, &scope, Some(&cluster), &service)?;
            external(&s)?;
            let at = find(&s, &task_set)?;
            let shown = f(&mut s, at)?;
            let ts = s.task_sets[shown].clone();
            s.revision += 1;
            t.put(&scope, KIND_SERVICE, &service_key(&s.cluster, &s.name), &s)?;
            Ok::<_, EcsError>((s, ts))
        })
        .await?;
    Ok(json!({ "taskSet": view(&s, &ts, &ctx.region, &ctx.account_id, false) }))
}

pub async fn update(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::UpdateTaskSetRequest = parse(input)?;
    let scale = scale_percent(Some(&input.scale))?;
    change(ecs, ctx, input.cluster, input.service, input.task_set, move |s, at| {
        let ts = &mut s.task_sets[at];
        if ts.status == "DRAINING" {
            return Err(invalid("The task set is being deleted and cannot be updated."));
        }
        let now = haneul_wire::value::now_epoch_s();
        ts.scale_percent = scale;
        ts.updated_at = now;
        ts.stability_status = "STABILIZING".into();
        ts.stability_status_at = now;
        Ok(at)
    })
    .await
}

pub async fn delete(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DeleteTaskSetRequest = parse(input)?;
    let force = input.force.unwrap_or(false);
    change(ecs, ctx, input.cluster, input.service, input.task_set, move |s, at| {
        let ts = &mut s.task_sets[at];
        if ts.status == "PRIMARY" && !force {
            return Err(invalid(
                "Cannot delete a task set that is the service's primary task set unless force is true.",
            ));
        }
        let now = haneul_wire::value::now_epoch_s();
        ts.status = "DRAINING".into();
        ts.scale_percent = 0.0;
        ts.updated_at = now;
        ts.stability_status = "STABILIZING".into();
        ts.stability_status_at = now;
        Ok(at)
    })
    .await
}

pub async fn update_primary(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::UpdateServicePrimaryTaskSetRequest = parse(input)?;
    change(
        ecs,
        ctx,
        input.cluster,
        input.service,
        input.primary_task_set,
        move |s, at| {
            if s.task_sets[at].status == "DRAINING" {
                return Err(invalid(
                    "A task set that is being deleted cannot be the primary task set.",
                ));
            }
            let now = haneul_wire::value::now_epoch_s();
            for (i, ts) in s.task_sets.iter_mut().enumerate() {
                let status = if i == at {
                    "PRIMARY"
                } else if ts.status == "DRAINING" {
                    "DRAINING"
                } else {
                    "ACTIVE"
                };
                if ts.status != status {
                    ts.status = status.into();
                    ts.updated_at = now;
                }
            }
            // The service shows its primary task set's definition.
            s.task_definition = s.task_sets[at].task_definition.clone();
            let primary = s.task_sets.remove(at);
            s.task_sets.insert(0, primary);
            Ok(0)
        },
    )
    .await
}

pub async fn describe(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DescribeTaskSetsRequest = parse(input)?;
    let with_tags = input.include.iter().any(|i| i == "TAGS");
    let scope = scope(ctx);
    let s = ecs
        .store
        .read(move |t| load_service(t, &scope, Some(&input.cluster), &input.service).map(|s| (s, input.task_sets)))
        .await?;
    let (s, wanted) = s;
    external(&s)?;
    let (region, account) = (ctx.region.as_str(), ctx.account_id.as_str());
    let mut found = Vec::new();
    let mut failures = Vec::new();
    if wanted.is_empty() {
        found.extend(s.task_sets.iter().map(|ts| view(&s, ts, region, account, with_tags)));
    } else {
        for given in &wanted {
            match find(&s, given) {
                Ok(at) => found.push(view(&s, &s.task_sets[at], region, account, with_tags)),
                Err(_) => failures.push(json!({
                    "arn": format!("arn:aws:ecs:{region}:{account}:task-set/{}/{}/{}", s.cluster, s.name, given_id(given)),
                    "reason": "MISSING",
                })),
            }
        }
    }
    Ok(json!({ "taskSets": found, "failures": failures }))
}

//! CreateService, UpdateService, DeleteService, DescribeServices, ListServices. The API only
//! writes the service's desired state and deployments; the scheduler (`scheduler/`) starts,
//! registers, drains and stops its tasks.

use haneul_store::{Scope, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::api::tasks::{load_active_cluster, network_choice};
use crate::error::EcsError;
use crate::generated as api;
use crate::model::{
    cluster_arn, cluster_name, service_arn, service_key, valid_cluster_name as valid_service_name, LoadBalancerRef,
    Service, TaskDefinition, KIND_CLUSTER, KIND_SERVICE, SEP,
};
use crate::scheduler::plan::{new_deployment, push_event, record_deployment};
use crate::{parse, scope, Ecs};

fn invalid(msg: impl Into<String>) -> EcsError {
    EcsError::InvalidParameter(msg.into())
}

/// The task definition a service names, which must be ACTIVE.
pub(crate) fn definition(t: &Txn<'_>, scope: &Scope, given: &str) -> Result<TaskDefinition, EcsError> {
    let d =
        crate::api::task_definitions::find_in(t, scope, given)?.ok_or_else(|| invalid("TaskDefinition not found."))?;
    if d.status != "ACTIVE" {
        return Err(invalid("TaskDefinition is inactive"));
    }
    Ok(d)
}

pub(crate) fn definition_arn(d: &TaskDefinition) -> String {
    d.definition["taskDefinitionArn"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// (container name, image) of a definition, for its service revision.
fn images(d: &TaskDefinition) -> Vec<(String, String)> {
    crate::runtime::spec::containers_of(&d.definition)
        .into_iter()
        .map(|c| {
            let field = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            (field("name"), field("image"))
        })
        .collect()
}

/// The service's load balancers, checked against the target groups and the definition.
pub(crate) fn load_balancers(
    t: &Txn<'_>,
    scope: &Scope,
    given: &[api::LoadBalancer],
    def: &TaskDefinition,
) -> Result<Vec<LoadBalancerRef>, EcsError> {
    let mode = def
        .definition
        .get("networkMode")
        .and_then(Value::as_str)
        .unwrap_or("bridge");
    let mut out = Vec::new();
    for lb in given {
        if lb.load_balancer_name.is_some() && lb.target_group_arn.is_none() {
            return Err(invalid(
                "Classic Load Balancers are not supported by haneul; use a target group (targetGroupArn).",
            ));
        }
        let arn = lb
            .target_group_arn
            .clone()
            .ok_or_else(|| invalid("targetGroupArn is required for a load balancer."))?;
        let tg = haneul_elbv2::targets::internal::target_group(t, scope, &arn)
            .map_err(|_| invalid(format!("Unable to find the target group with targetGroupArn {arn}.")))?;
        if tg.load_balancer_arns.is_empty() {
            return Err(invalid(format!(
                "The target group with targetGroupArn {arn} does not have an associated load balancer."
            )));
        }
        if mode == "awsvpc" && tg.target_type != "ip" {
            return Err(invalid(format!(
                "The provided target group {arn} has target type {}, which is incompatible with the awsvpc network mode specified in the task definition.",
                tg.target_type
            )));
        }
        let container = lb
            .container_name
            .clone()
            .ok_or_else(|| invalid("containerName is required for a load balancer."))?;
        let port = lb
            .container_port
            .ok_or_else(|| invalid("containerPort is required for a load balancer."))?;
        let def_container = crate::runtime::spec::containers_of(&def.definition)
            .into_iter()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(container.as_str()))
            .ok_or_else(|| {
                invalid(format!(
                    "The container {container} does not exist in the task definition."
                ))
            })?;
        let has_port = def_container
            .get("portMappings")
            .and_then(Value::as_array)
            .is_some_and(|pms| {
                pms.iter()
                    .any(|p| p.get("containerPort").and_then(Value::as_i64) == Some(port))
            });
        if !has_port {
            return Err(invalid(format!(
                "The container {container} did not have a container port {port} defined."
            )));
        }
        out.push(LoadBalancerRef {
            target_group_arn: arn,
            container_name: container,
            container_port: u16::try_from(port).map_err(|_| invalid("containerPort must be between 1 and 65535."))?,
        });
    }
    Ok(out)
}

struct Rollout {
    maximum_percent: i64,
    minimum_healthy_percent: i64,
    breaker: (bool, bool),
}

fn rollout(given: Option<&api::DeploymentConfiguration>, current: Option<&Service>) -> Result<Rollout, EcsError> {
    let max = given
        .and_then(|c| c.maximum_percent)
        .or(current.map(|s| s.maximum_percent))
        .unwrap_or(200);
    let min = given
        .and_then(|c| c.minimum_healthy_percent)
        .or(current.map(|s| s.minimum_healthy_percent))
        .unwrap_or(100);
    if !(0..=100).contains(&min) {
        return Err(invalid("minimumHealthyPercent must be between 0 and 100."));
    }
    if !(100..=200).contains(&max) {
        return Err(invalid("maximumPercent must be between 100 and 200."));
    }
    let breaker = match given.and_then(|c| c.deployment_circuit_breaker.as_ref()) {
        Some(b) => (b.enable, b.rollback),
        None => current.map_or((false, false), |s| {
            (s.circuit_breaker_enable, s.circuit_breaker_rollback)
        }),
    };
    Ok(Rollout {
        maximum_percent: max,
        minimum_healthy_percent: min,
        breaker,
    })
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, EcsError> {
    serde_json::to_value(v).map_err(|e| invalid(e.to_string()))
}

pub async fn create(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::CreateServiceRequest = parse(input)?;
    if !valid_service_name(&input.service_name) {
        return Err(invalid(
            "Service name must be up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores.",
        ));
    }
    let strategy = input.scheduling_strategy.clone().unwrap_or_else(|| "REPLICA".into());
    let controller = input
        .deployment_controller
        .as_ref()
        .map(|c| c.r#type.clone())
        .unwrap_or_else(|| "ECS".into());
    match controller.as_str() {
        "ECS" | "EXTERNAL" => {}
        "CODE_DEPLOY" => {
            return Err(EcsError::UnsupportedFeature(
                "The CODE_DEPLOY deployment controller needs CodeDeploy, which haneul does not have; use ECS, or EXTERNAL with task sets.".into(),
            ))
        }
        other => return Err(invalid(format!("Invalid deployment controller type: {other}"))),
    }
    let external = controller == "EXTERNAL";
    let desired = input.desired_count.unwrap_or(0);
    if desired < 0 {
        return Err(invalid("desiredCount must be 0 or more."));
    }
    if input.launch_type.is_some() && !input.capacity_provider_strategy.is_empty() {
        return Err(invalid(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.",
        ));
    }
    let fargate = input.launch_type.as_deref() == Some("FARGATE")
        || input
            .capacity_provider_strategy
            .iter()
            .any(|c| c.capacity_provider.starts_with("FARGATE"));
    if strategy == "DAEMON" && fargate {
        return Err(invalid(
            "The daemon scheduling strategy does not support the FARGATE launch type.",
        ));
    }
    {
        let constraints = crate::api::tasks::to_values(&input.placement_constraints)?;
        let strategy = crate::api::tasks::to_values(&input.placement_strategy)?;
        if fargate && !(constraints.is_empty() && strategy.is_empty()) {
            return Err(invalid(
                "Placement constraints and strategies are not supported with the FARGATE launch type.",
            ));
        }
        crate::scheduler::placement::validate(&constraints, &strategy)?;
    }
    if input.health_check_grace_period_seconds.is_some() && input.load_balancers.is_empty() {
        return Err(invalid(
            "Health check grace period is only valid for services configured to use load balancers",
        ));
    }
    if input
        .health_check_grace_period_seconds
        .is_some_and(|g| !(0..=2_147_483_647).contains(&g))
    {
        return Err(invalid("healthCheckGracePeriodSeconds must be 0 or more."));
    }
    let roll = rollout(input.deployment_configuration.as_ref(), None)?;
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    let service = ecs
        .store
        .write(move |t| {
            let cluster = load_active_cluster(t, &scope, input.cluster.as_deref())?;
            let key = service_key(&cluster.name, &input.service_name);
            if let Some(existing) = t.get::<Service>(&scope, KIND_SERVICE, &key)? {
                if existing.status != "INACTIVE" {
                    return Err(invalid("Creation of service was not idempotent."));
                }
            }
            // An EXTERNAL service's definition, network and load balancers are its task sets'.
            let (td, lbs, def) = if external {
                (String::new(), Vec::new(), None)
            } else {
                let given = input
                    .task_definition
                    .clone()
                    .ok_or_else(|| invalid("TaskDefinition must be specified."))?;
                let def = definition(t, &scope, &given)?;
                let compatible = !fargate || crate::api::tasks::fargate_compatible(&def);
                if !compatible {
                    return Err(invalid("Task definition does not support launch_type FARGATE."));
                }
                let mode = def.network_mode().to_string();
                network_choice(t, &scope, &mode, input.network_configuration.as_ref())?;
                let lbs = load_balancers(t, &scope, &input.load_balancers, &def)?;
                (definition_arn(&def), lbs, Some(def))
            };
            let now = haneul_wire::value::now_epoch_s();
            let mut service = Service {
                name: input.service_name.clone(),
                arn: service_arn(&region, &account, &cluster.name, &input.service_name),
                cluster: cluster.name.clone(),
                status: "ACTIVE".into(),
                desired_count: desired,
                task_definition: td.clone(),
                launch_type: input.launch_type.clone(),
                capacity_provider_strategy: to_value(&input.capacity_provider_strategy)?,
                platform_version: input.platform_version.clone().or_else(|| Some("LATEST".into())),
                network_configuration: input
                    .network_configuration
                    .as_ref()
                    .map(to_value)
                    .transpose()?
                    .unwrap_or(Value::Null),
                load_balancers: lbs,
                maximum_percent: roll.maximum_percent,
                minimum_healthy_percent: roll.minimum_healthy_percent,
                circuit_breaker_enable: roll.breaker.0,
                circuit_breaker_rollback: roll.breaker.1,
                deployment_configuration: input
                    .deployment_configuration
                    .as_ref()
                    .map(to_value)
                    .transpose()?
                    .unwrap_or(Value::Null),
                health_check_grace_period_s: input.health_check_grace_period_seconds,
                scheduling_strategy: strategy,
                placement_constraints: to_value(&input.placement_constraints)?,
                placement_strategy: to_value(&input.placement_strategy)?,
                enable_execute_command: input.enable_execute_command.unwrap_or(false),
                enable_ecs_managed_tags: input.enable_ecs_managed_tags.unwrap_or(false),
                propagate_tags: input.propagate_tags.clone(),
                role_arn: input.role.clone(),
                tags: to_value(&input.tags)?,
                created_at: now,
                created_by: format!("arn:aws:iam::{account}:root"),
                deployments: if external {
                    Vec::new()
                } else {
                    vec![new_deployment(&td, desired, input.launch_type.clone(), now)]
                },
                events: Vec::new(),
                last_completed_task_definition: None,
                consecutive_failures: 0,
                launch_after_s: 0.0,
                steady_reported_at: None,
                revision: 1,
                history: Vec::new(),
                revisions: Vec::new(),
                last_completed_revision: None,
                deployment_controller: controller.clone(),
                task_sets: Vec::new(),
            };
            if let (Some(first), Some(def)) = (service.deployments.first().cloned(), &def) {
                record_deployment(&mut service, &first, images(def), now);
            }
            if desired == 0 && !external {
                // Nothing to roll out: the first deployment is complete at once.
                if let Some(d) = service.deployments.first_mut() {
                    d.rollout_state = "COMPLETED".into();
                    d.rollout_state_reason = format!("ECS deployment {} completed.", d.id);
                }
                service.last_completed_task_definition = Some(td);
                let first = service
                    .deployments
                    .first()
                    .map(|d| crate::scheduler::plan::digits(&d.id).to_string());
                for h in &mut service.history {
                    h.status = "SUCCESSFUL".into();
                    h.finished_at = Some(now);
                }
                service.last_completed_revision = first;
            }
            t.put(&scope, KIND_SERVICE, &key, &service)?;
            Ok::<_, EcsError>(service)
        })
        .await?;
    Ok(json!({ "service": view(&service, &ctx.region, &ctx.account_id, false) }))
}

pub(crate) fn load_service(
    t: &Txn<'_>,
    scope: &Scope,
    cluster: Option<&str>,
    given: &str,
) -> Result<Service, EcsError> {
    let cluster = load_active_cluster(t, scope, cluster)?;
    let name = given.rsplit('/').next().unwrap_or(given);
    t.get::<Service>(scope, KIND_SERVICE, &service_key(&cluster.name, name))?
        .ok_or(EcsError::ServiceNotFound)
}

pub async fn update(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::UpdateServiceRequest = parse(input)?;
    if input.desired_count.is_some_and(|d| d < 0) {
        return Err(invalid("desiredCount must be 0 or more."));
    }
    let scope = scope(ctx);
    let service = ecs
        .store
        .write(move |t| {
            let mut s = load_service(t, &scope, input.cluster.as_deref(), &input.service)?;
            if s.status != "ACTIVE" {
                return Err(EcsError::ServiceNotActive);
            }
            if s.deployment_controller == "EXTERNAL" {
                let set_by_task_sets = input.task_definition.is_some()
                    || input.network_configuration.is_some()
                    || !input.load_balancers.is_empty()
                    || input.platform_version.is_some()
                    || !input.capacity_provider_strategy.is_empty()
                    || input.force_new_deployment == Some(true);
                if set_by_task_sets {
                    return Err(invalid(
                        "The service uses the EXTERNAL deployment controller: its task definition, network configuration, load balancers, capacity provider strategy and platform version are its task sets' (CreateTaskSet, UpdateTaskSet).",
                    ));
                }
                if let Some(d) = input.desired_count {
                    s.desired_count = d;
                }
                if let Some(e) = input.enable_execute_command {
                    s.enable_execute_command = e;
                }
                if let Some(p) = &input.propagate_tags {
                    s.propagate_tags = Some(p.clone());
                }
                s.revision += 1;
                t.put(&scope, KIND_SERVICE, &service_key(&s.cluster, &s.name), &s)?;
                return Ok(s);
            }
            let now = haneul_wire::value::now_epoch_s();
            let roll = rollout(input.deployment_configuration.as_ref(), Some(&s))?;
            s.maximum_percent = roll.maximum_percent;
            s.minimum_healthy_percent = roll.minimum_healthy_percent;
            (s.circuit_breaker_enable, s.circuit_breaker_rollback) = roll.breaker;
            if let Some(c) = &input.deployment_configuration {
                s.deployment_configuration = to_value(c)?;
            }
            let mut new_deployment_needed = input.force_new_deployment.unwrap_or(false);
            let def = match &input.task_definition {
                Some(given) => {
                    let d = definition(t, &scope, given)?;
                    if definition_arn(&d) != s.task_definition {
                        new_deployment_needed = true;
                    }
                    d
                }
                None => definition(t, &scope, &s.task_definition).or_else(|_| {
                    // The current definition may have been deregistered since: keep it.
                    crate::api::task_definitions::find_in(t, &scope, &s.task_definition)?
                        .ok_or_else(|| invalid("TaskDefinition not found."))
                })?,
            };
            if let Some(n) = &input.network_configuration {
                let mode = def.network_mode().to_string();
                network_choice(t, &scope, &mode, Some(n))?;
                s.network_configuration = to_value(n)?;
                new_deployment_needed = true;
            }
            if !input.load_balancers.is_empty() {
                s.load_balancers = load_balancers(t, &scope, &input.load_balancers, &def)?;
                new_deployment_needed = true;
            }
            if let Some(g) = input.health_check_grace_period_seconds {
                if s.load_balancers.is_empty() {
                    return Err(invalid(
                        "Health check grace period is only valid for services configured to use load balancers",
                    ));
                }
                s.health_check_grace_period_s = Some(g);
            }
            if let Some(d) = input.desired_count {
                s.desired_count = d;
            }
            if let Some(e) = input.enable_execute_command {
                s.enable_execute_command = e;
            }
            if let Some(p) = &input.platform_version {
                s.platform_version = Some(p.clone());
                new_deployment_needed = true;
            }
            if let Some(p) = &input.propagate_tags {
                s.propagate_tags = Some(p.clone());
            }
            if !input.placement_constraints.is_empty() || !input.placement_strategy.is_empty() {
                let constraints = crate::api::tasks::to_values(&input.placement_constraints)?;
                let strategy = crate::api::tasks::to_values(&input.placement_strategy)?;
                crate::scheduler::placement::validate(&constraints, &strategy)?;
                if !input.placement_constraints.is_empty() {
                    s.placement_constraints = Value::Array(constraints);
                }
                if !input.placement_strategy.is_empty() {
                    s.placement_strategy = Value::Array(strategy);
                }
                new_deployment_needed = true;
            }
            if new_deployment_needed {
                let td = definition_arn(&def);
                for d in &mut s.deployments {
                    d.status = "ACTIVE".into();
                }
                s.task_definition = td.clone();
                s.consecutive_failures = 0;
                s.launch_after_s = 0.0;
                s.steady_reported_at = None;
                let fresh = new_deployment(&td, s.desired_count, s.launch_type.clone(), now);
                s.deployments.insert(0, fresh.clone());
                record_deployment(&mut s, &fresh, images(&def), now);
            } else if let Some(primary) = s.deployments.first_mut() {
                primary.desired_count = s.desired_count;
                primary.updated_at = now;
            }
            s.revision += 1;
            t.put(&scope, KIND_SERVICE, &service_key(&s.cluster, &s.name), &s)?;
            Ok::<_, EcsError>(s)
        })
        .await?;
    Ok(json!({ "service": view(&service, &ctx.region, &ctx.account_id, false) }))
}

pub async fn delete(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DeleteServiceRequest = parse(input)?;
    let scope = scope(ctx);
    let service = ecs
        .store
        .write(move |t| {
            let mut s = load_service(t, &scope, input.cluster.as_deref(), &input.service)?;
            if s.status != "ACTIVE" {
                return Err(EcsError::ServiceNotActive);
            }
            if s.desired_count > 0 && !input.force.unwrap_or(false) {
                return Err(invalid("The service cannot be stopped while it is scaled above 0."));
            }
            s.status = "DRAINING".into();
            s.desired_count = 0;
            let now = haneul_wire::value::now_epoch_s();
            let name = s.name.clone();
            push_event(&mut s, now, format!("(service {name}) has been deleted."));
            s.revision += 1;
            t.put(&scope, KIND_SERVICE, &service_key(&s.cluster, &s.name), &s)?;
            Ok::<_, EcsError>(s)
        })
        .await?;
    Ok(json!({ "service": view(&service, &ctx.region, &ctx.account_id, false) }))
}

pub async fn describe(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DescribeServicesRequest = parse(input)?;
    if input.services.is_empty() {
        return Err(invalid("Services cannot be empty."));
    }
    if input.services.len() > 10 {
        return Err(invalid("Services can have at most 10 items."));
    }
    let tags = input.include.iter().any(|i| i == "TAGS");
    let scope = scope(ctx);
    let wanted = input.services.clone();
    let (cluster, found) = ecs
        .store
        .read(move |t| {
            let cname = cluster_name(input.cluster.as_deref()).to_string();
            if t.get::<crate::model::Cluster>(&scope, KIND_CLUSTER, &cname)?.is_none() {
                return Err(EcsError::ClusterNotFound);
            }
            let mut out = Vec::new();
            for given in &wanted {
                let name = given.rsplit('/').next().unwrap_or(given);
                out.push((
                    given.clone(),
                    t.get::<Service>(&scope, KIND_SERVICE, &service_key(&cname, name))?,
                ));
            }
            Ok::<_, EcsError>((cname, out))
        })
        .await?;
    let mut services = Vec::new();
    let mut failures = Vec::new();
    for (given, s) in found {
        match s {
            Some(s) => services.push(view(&s, &ctx.region, &ctx.account_id, tags)),
            None => {
                let arn = if given.starts_with("arn:") {
                    given
                } else {
                    service_arn(&ctx.region, &ctx.account_id, &cluster, &given)
                };
                failures.push(json!({ "arn": arn, "reason": "MISSING" }));
            }
        }
    }
    Ok(json!({ "services": services, "failures": failures }))
}

pub async fn list(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::ListServicesRequest = parse(input)?;
    let size = match input.max_results {
        None => 10,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(_) => return Err(invalid("maxResults must be between 1 and 100.")),
    };
    let offset = crate::api::task_definitions::page_token(input.next_token.as_deref())?;
    let scope = scope(ctx);
    let arns: Vec<String> = ecs
        .store
        .read(move |t| {
            let cluster = load_active_cluster(t, &scope, input.cluster.as_deref())?;
            let services = t.list_prefix::<Service>(&scope, KIND_SERVICE, &format!("{}{SEP}", cluster.name))?;
            Ok::<_, EcsError>(
                services
                    .into_iter()
                    .map(|(_, s)| s)
                    .filter(|s| s.status != "INACTIVE")
                    .filter(|s| input.launch_type.is_none() || s.launch_type == input.launch_type)
                    .filter(|s| {
                        input
                            .scheduling_strategy
                            .as_ref()
                            .is_none_or(|x| *x == s.scheduling_strategy)
                    })
                    .map(|s| s.arn)
                    .collect(),
            )
        })
        .await?;
    Ok(crate::api::paged("serviceArns", &arns, offset, size))
}

/// A service as DescribeServices shows it.
pub fn view(s: &Service, region: &str, account: &str, with_tags: bool) -> Value {
    let running: i64 = s.deployments.iter().map(|d| d.running_count).sum::<i64>()
        + s.task_sets.iter().map(|ts| ts.deployment.running_count).sum::<i64>();
    let pending: i64 = s.deployments.iter().map(|d| d.pending_count).sum::<i64>()
        + s.task_sets.iter().map(|ts| ts.deployment.pending_count).sum::<i64>();
    let mut deployment_configuration = if s.deployment_configuration.is_object() {
        s.deployment_configuration.clone()
    } else {
        json!({})
    };
    deployment_configuration["maximumPercent"] = json!(s.maximum_percent);
    deployment_configuration["minimumHealthyPercent"] = json!(s.minimum_healthy_percent);
    deployment_configuration["deploymentCircuitBreaker"] =
        json!({ "enable": s.circuit_breaker_enable, "rollback": s.circuit_breaker_rollback });
    let deployments: Vec<Value> = s
        .deployments
        .iter()
        .map(|d| {
            let mut v = json!({
                "id": d.id,
                "status": d.status,
                "taskDefinition": d.task_definition,
                "desiredCount": d.desired_count,
                "pendingCount": d.pending_count,
                "runningCount": d.running_count,
                "failedTasks": d.failed_tasks,
                "createdAt": d.created_at,
                "updatedAt": d.updated_at,
                "rolloutState": d.rollout_state,
                "rolloutStateReason": d.rollout_state_reason,
                "platformVersion": "1.4.0",
                "platformFamily": "Linux",
            });
            if let Some(lt) = &d.launch_type {
                v["launchType"] = json!(lt);
            }
            if !s.network_configuration.is_null() {
                v["networkConfiguration"] = s.network_configuration.clone();
            }
            v
        })
        .collect();
    let mut v = json!({
        "serviceArn": s.arn,
        "serviceName": s.name,
        "clusterArn": cluster_arn(region, account, &s.cluster),
        "loadBalancers": s.load_balancers.iter().map(|l| json!({
            "targetGroupArn": l.target_group_arn, "containerName": l.container_name, "containerPort": l.container_port,
        })).collect::<Vec<_>>(),
        "serviceRegistries": [],
        "status": s.status,
        "desiredCount": s.desired_count,
        "runningCount": running,
        "pendingCount": pending,
        "taskDefinition": s.task_definition,
        "deploymentConfiguration": deployment_configuration,
        "deployments": deployments,
        "events": s.events.iter().map(|e| json!({ "id": e.id, "createdAt": e.created_at, "message": e.message })).collect::<Vec<_>>(),
        "createdAt": s.created_at,
        "createdBy": s.created_by,
        "placementConstraints": s.placement_constraints,
        "placementStrategy": s.placement_strategy,
        "schedulingStrategy": s.scheduling_strategy,
        "deploymentController": { "type": s.deployment_controller },
        "enableECSManagedTags": s.enable_ecs_managed_tags,
        "enableExecuteCommand": s.enable_execute_command,
        "propagateTags": s.propagate_tags.clone().unwrap_or_else(|| "NONE".into()),
        "platformFamily": "Linux",
        "availabilityZoneRebalancing": "DISABLED",
    });
    if s.deployment_controller == "EXTERNAL" {
        v["taskSets"] = Value::Array(
            s.task_sets
                .iter()
                .map(|ts| crate::api::task_sets::view(s, ts, region, account, false))
                .collect(),
        );
    }
    let optional = [
        ("launchType", s.launch_type.clone().map(Value::from)),
        ("platformVersion", s.platform_version.clone().map(Value::from)),
        ("roleArn", s.role_arn.clone().map(Value::from)),
        (
            "healthCheckGracePeriodSeconds",
            s.health_check_grace_period_s.map(Value::from),
        ),
        (
            "networkConfiguration",
            (!s.network_configuration.is_null()).then(|| s.network_configuration.clone()),
        ),
    ];
    for (k, value) in optional {
        if let Some(value) = value {
            v[k] = value;
        }
    }
    if !s.capacity_provider_strategy.as_array().is_none_or(Vec::is_empty) {
        v["capacityProviderStrategy"] = s.capacity_provider_strategy.clone();
    }
    if let Some(current) = s.history.last() {
        v["currentServiceDeployment"] = json!(crate::api::service_deployments::deployment_arn(
            region,
            account,
            s,
            &current.digits
        ));
    }
    v["currentServiceRevisions"] = Value::Array(
        s.deployments
            .iter()
            .map(|d| {
                json!({
                    "arn": crate::api::service_deployments::revision_arn(region, account, s, crate::scheduler::plan::digits(&d.id)),
                    "requestedTaskCount": d.desired_count,
                    "runningTaskCount": d.running_count,
                    "pendingTaskCount": d.pending_count,
                })
            })
            .collect(),
    );
    if with_tags {
        v["tags"] = s.tags.clone();
    }
    v
}

//! RunTask, StopTask, DescribeTasks, ListTasks. RunTask writes the tasks (PROVISIONING,
//! desired RUNNING) in one transaction with their addresses; the host's drivers
//! (`runtime::host`) take them from there.

use haneul_store::{Scope, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::error::EcsError;
use crate::generated as api;
use crate::model::{
    cluster_arn, cluster_name, task_arn, task_key, Cluster, Task, TaskContainer, TaskDefinition, TaskNetwork,
    HOST_LOCAL, KIND_CLUSTER, KIND_TASK, SEP,
};
use crate::{parse, scope, Ecs};

/// The tasks placed on each container instance (an index for ListTasks by instance, which
/// every agent calls each poll), keyed `cluster␁instance id␁task id`; kept until the task is.
pub const KIND_TASK_ON_INSTANCE: &str = "ecs.task_on_instance";

/// A task's row in the tasks-by-instance index: enough to answer an agent's ListTasks
/// (by instance and desired status) without reading the task.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct OnInstance {
    pub id: String,
    pub desired_status: String,
    pub created_at: f64,
}

impl OnInstance {
    pub(crate) fn of(task: &Task) -> OnInstance {
        OnInstance {
            id: task.id.clone(),
            desired_status: task.desired_status.clone(),
            created_at: task.created_at,
        }
    }
}

pub(crate) fn on_instance_key(task: &Task) -> Option<String> {
    (task.host != HOST_LOCAL).then(|| {
        let instance = task.host.rsplit('/').next().unwrap_or(&task.host);
        format!("{}{SEP}{instance}{SEP}{}", task.cluster, task.id)
    })
}

/// RunTask starts at most this many tasks per call.
pub const MAX_RUN_COUNT: i64 = 10;
/// STOPPED tasks stay describable this long, as in ECS.
pub const STOPPED_TASK_KEEP_S: f64 = 3600.0;

fn invalid(msg: impl Into<String>) -> EcsError {
    EcsError::InvalidParameter(msg.into())
}

/// `chars` random lowercase hex digits (ids).
pub(crate) fn hex(chars: usize) -> String {
    (0..chars).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect()
}

pub(crate) fn load_active_cluster(t: &Txn<'_>, scope: &Scope, given: Option<&str>) -> Result<Cluster, EcsError> {
    t.get::<Cluster>(scope, KIND_CLUSTER, cluster_name(given))?
        .filter(|c| c.status == "ACTIVE")
        .ok_or(EcsError::ClusterNotFound)
}

/// Where a task runs and as what: (launchType, capacityProvider).
fn placement_kind(
    input: &api::RunTaskRequest,
    cluster: &Cluster,
) -> Result<(Option<String>, Option<String>), EcsError> {
    if input.launch_type.is_some() && !input.capacity_provider_strategy.is_empty() {
        return Err(invalid(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.",
        ));
    }
    if let Some(lt) = &input.launch_type {
        return Ok((Some(lt.clone()), None));
    }
    let strategy: Vec<(String, i64, i64)> = if input.capacity_provider_strategy.is_empty() {
        cluster
            .default_strategy
            .iter()
            .map(|s| (s.provider.clone(), s.base, s.weight))
            .collect()
    } else {
        input
            .capacity_provider_strategy
            .iter()
            .map(|s| (s.capacity_provider.clone(), s.base.unwrap_or(0), s.weight.unwrap_or(0)))
            .collect()
    };
    match strategy.iter().max_by_key(|(_, base, weight)| (*base, *weight)) {
        Some((provider, _, _)) => {
            if !cluster.capacity_providers.contains(provider) && !input.capacity_provider_strategy.is_empty() {
                return Err(invalid(format!(
                    "The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again. ({provider})"
                )));
            }
            Ok((None, Some(provider.clone())))
        }
        None => Ok((Some("EC2".into()), None)),
    }
}

pub(crate) struct NetworkChoice {
    /// (subnet id, availability zone), as given.
    pub subnets: Vec<(String, String)>,
}

/// awsvpc tasks need subnets (checked against EC2); other modes refuse a network configuration.
pub(crate) fn network_choice(
    t: &mut Txn<'_>,
    scope: &Scope,
    mode: &str,
    network: Option<&api::NetworkConfiguration>,
) -> Result<Option<NetworkChoice>, EcsError> {
    let vpc = network.and_then(|n| n.awsvpc_configuration.as_ref());
    if mode != "awsvpc" {
        if vpc.is_some() {
            return Err(invalid(
                "Network Configuration is not valid for the given networkMode of this task definition.",
            ));
        }
        return Ok(None);
    }
    let Some(vpc) = vpc else {
        return Err(invalid(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
        ));
    };
    if vpc.subnets.is_empty() {
        return Err(invalid("subnets can not be empty."));
    }
    if vpc.subnets.len() > 16 {
        return Err(invalid("subnets can have at most 16 items."));
    }
    if vpc.security_groups.len() > 5 {
        return Err(invalid("securityGroups can have at most 5 items."));
    }
    haneul_ec2::defaults::ensure_in(t, scope).map_err(|e| invalid(e.to_string()))?;
    let mut subnets = Vec::new();
    let mut vpc_id: Option<String> = None;
    for id in &vpc.subnets {
        let s: haneul_ec2::model::Subnet = t.get(scope, haneul_ec2::model::KIND_SUBNET, id)?.ok_or_else(|| {
            invalid(format!(
                "Error retrieving subnet information for [{id}]: The subnet ID '{id}' does not exist"
            ))
        })?;
        if vpc_id.as_ref().is_some_and(|v| *v != s.vpc_id) {
            return Err(invalid("The subnets must all belong to the same VPC."));
        }
        vpc_id = Some(s.vpc_id.clone());
        subnets.push((s.subnet_id, s.availability_zone));
    }
    for g in &vpc.security_groups {
        let found: Option<haneul_ec2::model::SecurityGroup> =
            t.get(scope, haneul_ec2::model::KIND_SECURITY_GROUP, g)?;
        match found {
            Some(sg) if Some(&sg.vpc_id) == vpc_id.as_ref() => {}
            Some(_) => {
                return Err(invalid(format!(
                    "Security group {g} does not belong to the subnets' VPC."
                )))
            }
            None => {
                return Err(invalid(format!(
                    "Error retrieving security group information for [{g}]: The security group '{g}' does not exist"
                )))
            }
        }
    }
    Ok(Some(NetworkChoice { subnets }))
}

pub(crate) fn fargate_compatible(d: &TaskDefinition) -> bool {
    ["requiresCompatibilities", "compatibilities"].iter().any(|k| {
        d.definition
            .get(*k)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("FARGATE")))
    })
}

fn mac() -> String {
    let b: Vec<String> = (0..5).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    format!("02:{}", b.join(":"))
}

/// What one new task is made of.
pub(crate) struct Launch<'a> {
    pub cluster: &'a str,
    pub def: &'a TaskDefinition,
    pub launch_type: Option<String>,
    pub capacity_provider: Option<String>,
    /// awsvpc: (subnet id, availability zone).
    pub subnet: Option<(String, String)>,
    pub group: String,
    pub started_by: Option<String>,
    pub overrides: Value,
    pub tags: Value,
    pub platform_version: Option<String>,
    pub enable_execute_command: bool,
    /// (service name, deployment id) for service tasks.
    pub service: Option<(String, String)>,
    /// Where it runs: [`HOST_LOCAL`] or a container instance's ARN.
    pub host: String,
}

/// Writes a new task (PROVISIONING, desired RUNNING) with its address, in `t`.
pub(crate) fn create_task(
    t: &mut Txn<'_>,
    scope: &Scope,
    cidr: &crate::runtime::addresses::TaskCidr,
    launch: &Launch<'_>,
) -> Result<Task, EcsError> {
    let (region, account) = (scope.region.as_str(), scope.account_id.as_str());
    let def = launch.def;
    let id = hex(32);
    let arn = task_arn(region, account, launch.cluster, &id);
    let (network, availability_zone) = match &launch.subnet {
        Some((subnet, az)) => {
            let ip = cidr.allocate(t, &arn).map_err(|e| match e {
                crate::runtime::addresses::AddressError::Store(s) => EcsError::Store(s),
                other => EcsError::Client(other.to_string()),
            })?;
            let n = TaskNetwork {
                attachment_id: uuid::Uuid::new_v4().to_string(),
                eni_id: format!("eni-{}", hex(17)),
                private_ip: ip,
                subnet_id: subnet.clone(),
                mac: mac(),
                status: "PRECREATED".into(),
            };
            (Some(n), az.clone())
        }
        None => (None, format!("{region}a")),
    };
    let containers = crate::runtime::spec::containers_of(&def.definition)
        .into_iter()
        .map(|c| TaskContainer {
            name: c.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
            arn: format!(
                "arn:aws:ecs:{region}:{account}:container/{}/{id}/{}",
                launch.cluster,
                uuid::Uuid::new_v4()
            ),
            image: c.get("image").and_then(Value::as_str).unwrap_or_default().to_string(),
            image_digest: None,
            runtime_id: None,
            last_status: "PENDING".into(),
            exit_code: None,
            reason: None,
            health_status: "UNKNOWN".into(),
            essential: c.get("essential").and_then(Value::as_bool).unwrap_or(true),
            network_bindings: Vec::new(),
            cpu: c.get("cpu").and_then(Value::as_i64),
            memory: c.get("memory").and_then(Value::as_i64),
            memory_reservation: c.get("memoryReservation").and_then(Value::as_i64),
        })
        .collect();
    let sized = |field: &str| {
        launch
            .overrides
            .get(field)
            .and_then(Value::as_str)
            .or_else(|| def.definition.get(field).and_then(Value::as_str))
            .map(str::to_string)
    };
    let task = Task {
        id: id.clone(),
        arn,
        cluster: launch.cluster.to_string(),
        task_definition_arn: def.definition["taskDefinitionArn"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        family: def.family.clone(),
        revision: def.revision,
        definition: serde_json::value::RawValue::from_string(def.definition.to_string())
            .map_err(|e| EcsError::Client(format!("cannot keep the task definition: {e}")))?,
        overrides: launch.overrides.clone(),
        launch_type: launch.launch_type.clone(),
        capacity_provider: launch.capacity_provider.clone(),
        platform_version: Some(
            launch
                .platform_version
                .clone()
                .filter(|p| p != "LATEST")
                .unwrap_or_else(|| "1.4.0".into()),
        ),
        group: Some(launch.group.clone()),
        started_by: launch.started_by.clone(),
        service: launch.service.as_ref().map(|(s, _)| s.clone()),
        deployment_id: launch.service.as_ref().map(|(_, d)| d.clone()),
        desired_status: "RUNNING".into(),
        last_status: "PROVISIONING".into(),
        health_status: "UNKNOWN".into(),
        created_at: haneul_wire::value::now_epoch_s(),
        pull_started_at: None,
        pull_stopped_at: None,
        started_at: None,
        connectivity_at: None,
        stopping_at: None,
        execution_stopped_at: None,
        stopped_at: None,
        stop_code: None,
        stopped_reason: None,
        containers,
        network,
        availability_zone,
        host_instance_id: if launch.host == HOST_LOCAL {
            None
        } else {
            crate::api::container_instances::ec2_instance_of(t, scope, launch.cluster, &launch.host)?
        },
        host: launch.host.clone(),
        cpu: sized("cpu"),
        memory: sized("memory"),
        enable_execute_command: launch.enable_execute_command,
        tags: launch.tags.clone(),
        version: 1,
        registered: false,
        was_healthy: false,
        draining_until_s: None,
        stop_seen: false,
        protection_expires_at: None,
        booked: None,
    };
    let mut task = task;
    crate::scheduler::usage::put_task(t, scope, &mut task)?;
    Ok(task)
}

pub async fn run(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::RunTaskRequest = parse(input)?;
    let count = input.count.unwrap_or(1);
    if !(1..=MAX_RUN_COUNT).contains(&count) {
        return Err(invalid(format!("count must be between 1 and {MAX_RUN_COUNT}.")));
    }
    if let Some(g) = &input.group {
        if g.len() > 255 {
            return Err(invalid("group can be at most 255 characters."));
        }
    }
    if input.started_by.as_ref().is_some_and(|s| s.len() > 128) {
        return Err(invalid("startedBy can be at most 128 characters."));
    }
    let scope = scope(ctx);
    let cidr = ecs.task_cidr.clone();
    let tasks = ecs
        .store
        .write(move |t| {
            let cluster = load_active_cluster(t, &scope, input.cluster.as_deref())?;
            let def = active_definition(t, &scope, &input.task_definition)?;
            let (launch_type, provider) = placement_kind(&input, &cluster)?;
            let fargate = launch_type.as_deref() == Some("FARGATE")
                || provider.as_deref().is_some_and(|p| p.starts_with("FARGATE"));
            if fargate && !fargate_compatible(&def) {
                return Err(invalid("Task definition does not support launch_type FARGATE."));
            }
            let constraints = to_values(&input.placement_constraints)?;
            let strategy = to_values(&input.placement_strategy)?;
            if fargate && !(constraints.is_empty() && strategy.is_empty()) {
                return Err(invalid(
                    "Placement constraints and strategies are not supported with the FARGATE launch type.",
                ));
            }
            crate::scheduler::placement::validate(&constraints, &strategy)?;
            let mode = def.network_mode().to_string();
            let network = network_choice(t, &scope, &mode, input.network_configuration.as_ref())?;
            let overrides = input
                .overrides
                .as_ref()
                .map(serde_json::to_value)
                .transpose()
                .map_err(|e| invalid(e.to_string()))?
                .unwrap_or_else(|| json!({}));
            let tags = serde_json::to_value(&input.tags).map_err(|e| invalid(e.to_string()))?;
            let group = input.group.clone().unwrap_or_else(|| format!("family:{}", def.family));
            let mut candidates = if fargate {
                Vec::new()
            } else {
                let all_groups = crate::scheduler::placement::needs_all_groups(&constraints);
                let c = crate::scheduler::placement::candidates(t, &scope, &cluster.name, &group, all_groups)?;
                if c.is_empty() {
                    return Err(invalid("No Container Instances were found in your cluster."));
                }
                c
            };
            let mut need = crate::scheduler::placement::need_of(
                &def.definition,
                overrides
                    .get("cpu")
                    .and_then(Value::as_str)
                    .or_else(|| def.definition.get("cpu").and_then(Value::as_str)),
                overrides
                    .get("memory")
                    .and_then(Value::as_str)
                    .or_else(|| def.definition.get("memory").and_then(Value::as_str)),
                &group,
            );
            need.capacity_provider = provider.clone().filter(|p| !p.starts_with("FARGATE"));
            let mut created = Vec::new();
            let mut failures = Vec::new();
            for i in 0..count as usize {
                let host = if fargate {
                    HOST_LOCAL.to_string()
                } else {
                    match crate::scheduler::placement::place(&mut candidates, &need, &constraints, &strategy) {
                        Ok(at) => candidates[at].arn.clone(),
                        Err(unplaced) => {
                            failures.push(json!({
                                "arn": unplaced.instance_arn.unwrap_or_else(|| cluster.arn.clone()),
                                "reason": unplaced.reason,
                            }));
                            continue;
                        }
                    }
                };
                let launch = Launch {
                    cluster: &cluster.name,
                    def: &def,
                    launch_type: launch_type.clone(),
                    capacity_provider: provider.clone(),
                    subnet: network.as_ref().map(|n| n.subnets[i % n.subnets.len()].clone()),
                    group: group.clone(),
                    started_by: input.started_by.clone(),
                    overrides: overrides.clone(),
                    tags: tags.clone(),
                    platform_version: input.platform_version.clone(),
                    enable_execute_command: input.enable_execute_command.unwrap_or(false),
                    service: None,
                    host,
                };
                created.push(create_task(t, &scope, &cidr, &launch)?);
            }
            Ok::<_, EcsError>((created, failures))
        })
        .await?;
    let (region, account) = (ctx.region.as_str(), ctx.account_id.as_str());
    let views: Vec<Value> = tasks.0.iter().map(|t| view(t, region, account, false)).collect();
    Ok(json!({ "tasks": views, "failures": tasks.1 }))
}

/// The ACTIVE task definition a RunTask or StartTask names.
pub(crate) fn active_definition(t: &Txn<'_>, scope: &Scope, given: &str) -> Result<TaskDefinition, EcsError> {
    let def =
        crate::api::task_definitions::find_in(t, scope, given)?.ok_or_else(|| invalid("TaskDefinition not found."))?;
    if def.status != "ACTIVE" {
        return Err(invalid("TaskDefinition is inactive"));
    }
    Ok(def)
}

pub(crate) fn to_values<T: serde::Serialize>(items: &[T]) -> Result<Vec<Value>, EcsError> {
    items
        .iter()
        .map(|i| serde_json::to_value(i).map_err(|e| invalid(e.to_string())))
        .collect()
}

/// The id of a task named by id or ARN.
pub(crate) fn task_id(given: &str) -> &str {
    given.rsplit('/').next().unwrap_or(given)
}

pub async fn stop(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::StopTaskRequest = parse(input)?;
    let scope = scope(ctx);
    let reason = input.reason.clone().unwrap_or_else(|| "Task stopped by user".into());
    if reason.len() > 255 {
        return Err(invalid("reason can be at most 255 characters."));
    }
    let task = ecs
        .store
        .write(move |t| {
            let cluster = load_active_cluster(t, &scope, input.cluster.as_deref())?;
            let key = task_key(&cluster.name, task_id(&input.task));
            let mut task: Task = t
                .get(&scope, KIND_TASK, &key)?
                .ok_or_else(|| invalid("The referenced task was not found."))?;
            if task.desired_status != "STOPPED" {
                task.desired_status = "STOPPED".into();
                task.stop_code = Some("UserInitiated".into());
                task.stopped_reason = Some(reason);
                task.stopping_at = Some(haneul_wire::value::now_epoch_s());
                task.version += 1;
                crate::scheduler::usage::put_task(t, &scope, &mut task)?;
            }
            Ok::<_, EcsError>(task)
        })
        .await?;
    Ok(json!({ "task": view(&task, &ctx.region, &ctx.account_id, false) }))
}

pub async fn describe(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DescribeTasksRequest = parse(input)?;
    if input.tasks.is_empty() {
        return Err(invalid("Tasks cannot be empty."));
    }
    if input.tasks.len() > 100 {
        return Err(invalid("Tasks can have at most 100 items."));
    }
    let tags = input.include.iter().any(|i| i == "TAGS");
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    let wanted = input.tasks.clone();
    let found = ecs
        .store
        .read(move |t| {
            let cluster = load_active_cluster(t, &scope, input.cluster.as_deref()).or_else(|e| {
                // A deleted cluster's tasks are still described.
                match t.get::<Cluster>(&scope, KIND_CLUSTER, cluster_name(input.cluster.as_deref()))? {
                    Some(c) => Ok(c),
                    None => Err(e),
                }
            })?;
            let mut out = Vec::new();
            for given in &wanted {
                out.push((
                    given.clone(),
                    t.get::<Task>(&scope, KIND_TASK, &task_key(&cluster.name, task_id(given)))?,
                ));
            }
            Ok::<_, EcsError>((cluster, out))
        })
        .await?;
    let (cluster, found) = found;
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for (given, task) in found {
        match task {
            Some(task) => tasks.push(view(&task, &region, &account, tags)),
            None => {
                let arn = if given.starts_with("arn:") {
                    given
                } else {
                    task_arn(&region, &account, &cluster.name, &given)
                };
                failures.push(json!({ "arn": arn, "reason": "MISSING" }));
            }
        }
    }
    Ok(json!({ "tasks": tasks, "failures": failures }))
}

pub async fn list(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::ListTasksRequest = parse(input)?;
    let size = crate::api::task_definitions::max_results(input.max_results)?;
    let offset = crate::api::task_definitions::page_token(input.next_token.as_deref())?;
    if input.family.is_some() && input.service_name.is_some() {
        return Err(invalid("family and serviceName cannot both be specified."));
    }
    if input.started_by.is_some() && input.service_name.is_some() {
        return Err(invalid("startedBy and serviceName cannot both be specified."));
    }
    let scope = scope(ctx);
    let desired = input.desired_status.clone().unwrap_or_else(|| "RUNNING".into());
    let arns: Vec<String> = ecs
        .store
        .read(move |t| {
            let cluster = load_active_cluster(t, &scope, input.cluster.as_deref())?;
            let only_by_instance = input.family.is_none()
                && input.started_by.is_none()
                && input.service_name.is_none()
                && input.launch_type.is_none();
            if let (Some(c), true) = (&input.container_instance, only_by_instance) {
                // An agent's poll: the index rows answer it.
                let instance = c.rsplit('/').next().unwrap_or(c);
                let prefix = format!("{}{SEP}{instance}{SEP}", cluster.name);
                let mut rows: Vec<OnInstance> = Vec::new();
                for (_, row) in t.list_prefix::<Value>(&scope, KIND_TASK_ON_INSTANCE, &prefix)? {
                    let row = match serde_json::from_value::<OnInstance>(row.clone()) {
                        Ok(r) => r,
                        // A row from before the index kept the status: read the task.
                        Err(_) => match row.as_str() {
                            Some(id) => match t.get::<Task>(&scope, KIND_TASK, &task_key(&cluster.name, id))? {
                                Some(task) => OnInstance::of(&task),
                                None => continue,
                            },
                            None => continue,
                        },
                    };
                    if row.desired_status == desired {
                        rows.push(row);
                    }
                }
                rows.sort_by(|a, b| a.created_at.total_cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
                return Ok::<_, EcsError>(
                    rows.into_iter()
                        .map(|r| task_arn(&scope.region, &scope.account_id, &cluster.name, &r.id))
                        .collect(),
                );
            }
            let tasks: Vec<Task> = match &input.container_instance {
                // An instance's tasks through the index, not the whole cluster's.
                Some(c) => {
                    let instance = c.rsplit('/').next().unwrap_or(c);
                    let prefix = format!("{}{SEP}{instance}{SEP}", cluster.name);
                    let mut found = Vec::new();
                    for (_, row) in t.list_prefix::<Value>(&scope, KIND_TASK_ON_INSTANCE, &prefix)? {
                        let Some(id) = row.get("id").and_then(Value::as_str).or_else(|| row.as_str()) else {
                            continue;
                        };
                        if let Some(task) = t.get::<Task>(&scope, KIND_TASK, &task_key(&cluster.name, id))? {
                            found.push(task);
                        }
                    }
                    found
                }
                None => t
                    .list_prefix::<Task>(&scope, KIND_TASK, &format!("{}{SEP}", cluster.name))?
                    .into_iter()
                    .map(|(_, task)| task)
                    .collect(),
            };
            let mut tasks: Vec<Task> = tasks
                .into_iter()
                .filter(|task| task.desired_status == desired)
                .filter(|task| input.family.as_ref().is_none_or(|f| *f == task.family))
                .filter(|task| input.started_by.is_none() || task.started_by == input.started_by)
                .filter(|task| {
                    input
                        .service_name
                        .as_ref()
                        .is_none_or(|s| task.service.as_deref() == Some(cluster_name(Some(s))))
                })
                .filter(|task| input.launch_type.is_none() || task.launch_type == input.launch_type)
                .filter(|task| {
                    input
                        .container_instance
                        .as_ref()
                        .is_none_or(|c| task.host == *c || task.host.ends_with(&format!("/{c}")))
                })
                .collect();
            tasks.sort_by(|a, b| a.created_at.total_cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
            Ok::<_, EcsError>(tasks.into_iter().map(|task| task.arn).collect())
        })
        .await?;
    Ok(crate::api::paged("taskArns", &arns, offset, size))
}

fn detail(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

/// A task as DescribeTasks shows it.
pub fn view(task: &Task, region: &str, account: &str, with_tags: bool) -> Value {
    let cluster_arn = cluster_arn(region, account, &task.cluster);
    let containers: Vec<Value> = task
        .containers
        .iter()
        .map(|c| {
            let mut v = json!({
                "containerArn": c.arn,
                "taskArn": task.arn,
                "name": c.name,
                "image": c.image,
                "lastStatus": c.last_status,
                "healthStatus": c.health_status,
                "networkBindings": c.network_bindings.iter().map(|b| json!({
                    "bindIP": b.bind_ip, "containerPort": b.container_port, "hostPort": b.host_port, "protocol": b.protocol,
                })).collect::<Vec<_>>(),
                "networkInterfaces": task.network.iter().map(|n| json!({
                    "attachmentId": n.attachment_id, "privateIpv4Address": n.private_ip,
                })).collect::<Vec<_>>(),
                "cpu": c.cpu.unwrap_or(0).to_string(),
            });
            if let Some(d) = &c.image_digest {
                v["imageDigest"] = json!(d);
            }
            if let Some(id) = &c.runtime_id {
                v["runtimeId"] = json!(id);
            }
            if task.enable_execute_command && c.runtime_id.is_some() {
                // The execute command agent is haneul itself: up while the container is.
                let mut agent = json!({
                    "name": "ExecuteCommandAgent",
                    "lastStatus": if c.last_status == "RUNNING" { "RUNNING" } else { "STOPPED" },
                });
                if let Some(at) = task.started_at {
                    agent["lastStartedAt"] = json!(at);
                }
                v["managedAgents"] = json!([agent]);
            }
            if let Some(code) = c.exit_code {
                v["exitCode"] = json!(code);
            }
            if let Some(r) = &c.reason {
                v["reason"] = json!(r);
            }
            if let Some(m) = c.memory {
                v["memory"] = json!(m.to_string());
            }
            if let Some(m) = c.memory_reservation {
                v["memoryReservation"] = json!(m.to_string());
            }
            v
        })
        .collect();
    let attachments: Vec<Value> = task
        .network
        .iter()
        .map(|n| {
            json!({
                "id": n.attachment_id,
                "type": "ElasticNetworkInterface",
                "status": n.status,
                "details": [
                    detail("subnetId", &n.subnet_id),
                    detail("networkInterfaceId", &n.eni_id),
                    detail("macAddress", &n.mac),
                    detail("privateDnsName", &format!("ip-{}.ec2.internal", n.private_ip.replace('.', "-"))),
                    detail("privateIPv4Address", &n.private_ip),
                ],
            })
        })
        .collect();
    let mut overrides = task.overrides.clone();
    if overrides.get("containerOverrides").is_none() {
        overrides["containerOverrides"] =
            Value::Array(task.containers.iter().map(|c| json!({ "name": c.name })).collect());
    }
    overrides["inferenceAcceleratorOverrides"] = overrides
        .get("inferenceAcceleratorOverrides")
        .cloned()
        .unwrap_or_else(|| json!([]));
    let mut v = json!({
        "taskArn": task.arn,
        "clusterArn": cluster_arn,
        "taskDefinitionArn": task.task_definition_arn,
        "attachments": attachments,
        "attributes": [{ "name": "ecs.cpu-architecture", "value": "x86_64" }],
        "availabilityZone": task.availability_zone,
        "containers": containers,
        "createdAt": task.created_at,
        "desiredStatus": task.desired_status,
        "lastStatus": task.last_status,
        "healthStatus": task.health_status,
        "enableExecuteCommand": task.enable_execute_command,
        "overrides": overrides,
        "version": task.version,
        "ephemeralStorage": { "sizeInGiB": 20 },
    });
    let optional = [
        ("launchType", task.launch_type.clone().map(Value::from)),
        ("capacityProviderName", task.capacity_provider.clone().map(Value::from)),
        ("platformVersion", task.platform_version.clone().map(Value::from)),
        (
            "platformFamily",
            task.platform_version.as_ref().map(|_| Value::from("Linux")),
        ),
        ("group", task.group.clone().map(Value::from)),
        ("startedBy", task.started_by.clone().map(Value::from)),
        ("cpu", task.cpu.clone().map(Value::from)),
        ("memory", task.memory.clone().map(Value::from)),
        ("pullStartedAt", task.pull_started_at.map(Value::from)),
        ("pullStoppedAt", task.pull_stopped_at.map(Value::from)),
        ("startedAt", task.started_at.map(Value::from)),
        ("connectivityAt", task.connectivity_at.map(Value::from)),
        ("connectivity", task.connectivity_at.map(|_| Value::from("CONNECTED"))),
        ("stoppingAt", task.stopping_at.map(Value::from)),
        ("executionStoppedAt", task.execution_stopped_at.map(Value::from)),
        ("stoppedAt", task.stopped_at.map(Value::from)),
        ("stopCode", task.stop_code.clone().map(Value::from)),
        ("stoppedReason", task.stopped_reason.clone().map(Value::from)),
    ];
    for (k, value) in optional {
        if let Some(value) = value {
            v[k] = value;
        }
    }
    if task.host != HOST_LOCAL {
        v["containerInstanceArn"] = json!(task.host);
    }
    if with_tags {
        v["tags"] = task.tags.clone();
    }
    v
}

/// Removes STOPPED tasks older than [`STOPPED_TASK_KEEP_S`] (a pass of the host loop).
pub fn expire_stopped(t: &mut Txn<'_>, now_s: f64) -> Result<usize, haneul_store::StoreError> {
    let mut old = Vec::new();
    t.for_each_all_scopes::<Task>(KIND_TASK, |scope, key, task| {
        if task.is_stopped() && task.stopped_at.is_some_and(|s| now_s - s > STOPPED_TASK_KEEP_S) {
            old.push((scope.clone(), key.to_string(), on_instance_key(&task)));
        }
        Ok(())
    })?;
    for (scope, key, index) in &old {
        t.delete(scope, KIND_TASK, key)?;
        if let Some(index) = index {
            t.delete(scope, KIND_TASK_ON_INSTANCE, index)?;
        }
    }
    Ok(old.len())
}

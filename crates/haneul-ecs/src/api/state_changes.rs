//! What agents report (SubmitTaskStateChange, SubmitContainerStateChange,
//! SubmitAttachmentStateChanges) and StartTask, which puts tasks on named container
//! instances. Only tasks placed on a container instance take reports: haneul's own host
//! writes its tasks itself.

use haneul_store::{Scope, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::agent::protocol;
use crate::api::tasks::{create_task, load_active_cluster, network_choice, task_id, to_values, Launch};
use crate::error::EcsError;
use crate::generated as api;
use crate::model::{task_key, Task, HOST_LOCAL, KIND_TASK, SEP};
use crate::{parse, scope, Ecs};

fn invalid(msg: impl Into<String>) -> EcsError {
    EcsError::InvalidParameter(msg.into())
}

/// The agent-hosted task a report names, as stored.
fn reported_task(t: &Txn<'_>, scope: &Scope, cluster: Option<&str>, task: &str) -> Result<Task, EcsError> {
    let cluster = load_active_cluster(t, scope, cluster)?;
    let key = task_key(&cluster.name, task_id(task));
    let found: Task = t
        .get(scope, KIND_TASK, &key)?
        .ok_or_else(|| invalid("The referenced task was not found."))?;
    if found.host == HOST_LOCAL {
        return Err(EcsError::AccessDenied(
            "State changes can be submitted only for tasks on container instances.".into(),
        ));
    }
    Ok(found)
}

fn store_report(
    t: &mut Txn<'_>,
    scope: &Scope,
    mut task: Task,
    change: impl FnOnce(&mut Task),
) -> Result<(), EcsError> {
    let was_stopped = task.is_stopped();
    change(&mut task);
    task.version += 1;
    if task.is_stopped() && !was_stopped {
        if let Some(n) = &mut task.network {
            crate::runtime::addresses::release(t, &n.private_ip, &task.arn)?;
            n.status = "DELETED".into();
        }
    }
    crate::scheduler::usage::put_task(t, scope, &mut task)?;
    Ok(())
}

pub async fn submit_task(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let typed: api::SubmitTaskStateChangeRequest = parse(input.clone())?;
    let task = typed.task.clone().ok_or_else(|| invalid("task is required."))?;
    let scope = scope(ctx);
    ecs.store
        .write(move |t| {
            let found = reported_task(t, &scope, typed.cluster.as_deref(), &task)?;
            let now = haneul_wire::value::now_epoch_s();
            store_report(t, &scope, found, |task| protocol::apply_state_change(task, &input, now))
        })
        .await?;
    Ok(json!({ "acknowledgment": "ACK" }))
}

pub async fn submit_container(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let typed: api::SubmitContainerStateChangeRequest = parse(input.clone())?;
    let task = typed.task.clone().ok_or_else(|| invalid("task is required."))?;
    let name = typed
        .container_name
        .clone()
        .ok_or_else(|| invalid("containerName is required."))?;
    let scope = scope(ctx);
    ecs.store
        .write(move |t| {
            let found = reported_task(t, &scope, typed.cluster.as_deref(), &task)?;
            if !found.containers.iter().any(|c| c.name == name) {
                return Err(invalid(format!("The task has no container named {name}.")));
            }
            store_report(t, &scope, found, |task| {
                if let Some(c) = task.containers.iter_mut().find(|c| c.name == name) {
                    protocol::apply_container_change(c, &input);
                }
            })
        })
        .await?;
    Ok(json!({ "acknowledgment": "ACK" }))
}

pub async fn submit_attachments(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let typed: api::SubmitAttachmentStateChangesRequest = parse(input)?;
    if typed.attachments.is_empty() {
        return Err(invalid("attachments can not be empty."));
    }
    let scope = scope(ctx);
    ecs.store
        .write(move |t| {
            let cluster = load_active_cluster(t, &scope, typed.cluster.as_deref())?;
            let mut tasks = t.list_prefix::<Task>(&scope, KIND_TASK, &format!("{}{SEP}", cluster.name))?;
            for a in &typed.attachments {
                let at = tasks.iter().position(|(_, task)| {
                    task.host != HOST_LOCAL
                        && task
                            .network
                            .as_ref()
                            .is_some_and(|n| a.attachment_arn.ends_with(&n.attachment_id))
                });
                let Some(at) = at else {
                    return Err(invalid(format!("The attachment {} was not found.", a.attachment_arn)));
                };
                let (_, task) = &mut tasks[at];
                if let Some(n) = &mut task.network {
                    n.status = a.status.clone();
                }
                task.version += 1;
                crate::scheduler::usage::put_task(t, &scope, task)?;
            }
            Ok::<_, EcsError>(())
        })
        .await?;
    Ok(json!({ "acknowledgment": "ACK" }))
}

/// StartTask: one task on each named container instance (no placement: the caller chose).
pub async fn start_task(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::StartTaskRequest = parse(input)?;
    if input.container_instances.is_empty() || input.container_instances.len() > 10 {
        return Err(invalid(
            "containerInstances must name between 1 and 10 container instances.",
        ));
    }
    let scope = scope(ctx);
    let cidr = ecs.task_cidr.clone();
    let (tasks, failures) = ecs
        .store
        .write(move |t| {
            let cluster = load_active_cluster(t, &scope, input.cluster.as_deref())?;
            let def = crate::api::tasks::active_definition(t, &scope, &input.task_definition)?;
            let mode = def.network_mode().to_string();
            let network = network_choice(t, &scope, &mode, input.network_configuration.as_ref())?;
            let overrides = input
                .overrides
                .as_ref()
                .map(serde_json::to_value)
                .transpose()
                .map_err(|e| invalid(e.to_string()))?
                .unwrap_or_else(|| json!({}));
            let tags = serde_json::to_value(to_values(&input.tags)?).map_err(|e| invalid(e.to_string()))?;
            let group = input.group.clone().unwrap_or_else(|| format!("family:{}", def.family));
            let mut candidates = crate::scheduler::placement::candidates(t, &scope, &cluster.name, &group, false)?;
            let need = crate::scheduler::placement::need_of(
                &def.definition,
                def.definition.get("cpu").and_then(Value::as_str),
                def.definition.get("memory").and_then(Value::as_str),
                &group,
            );
            let mut created = Vec::new();
            let mut failures = Vec::new();
            for (i, given) in input.container_instances.iter().enumerate() {
                let id = given.rsplit('/').next().unwrap_or(given);
                let Some(at) = candidates.iter().position(|c| c.arn.rsplit('/').next() == Some(id)) else {
                    failures.push(json!({ "arn": given, "reason": "MISSING" }));
                    continue;
                };
                // The named instance alone: its resources and agent still count.
                let mut only = vec![candidates[at].clone()];
                match crate::scheduler::placement::place(&mut only, &need, &[], &[]) {
                    Ok(_) => candidates[at] = only.remove(0),
                    Err(unplaced) => {
                        failures.push(json!({ "arn": candidates[at].arn, "reason": unplaced.reason }));
                        continue;
                    }
                }
                let launch = Launch {
                    cluster: &cluster.name,
                    def: &def,
                    launch_type: Some("EC2".into()),
                    capacity_provider: None,
                    subnet: network.as_ref().map(|n| n.subnets[i % n.subnets.len()].clone()),
                    group: group.clone(),
                    started_by: input.started_by.clone(),
                    overrides: overrides.clone(),
                    tags: tags.clone(),
                    platform_version: None,
                    enable_execute_command: input.enable_execute_command.unwrap_or(false),
                    service: None,
                    host: candidates[at].arn.clone(),
                };
                created.push(create_task(t, &scope, &cidr, &launch)?);
            }
            Ok::<_, EcsError>((created, failures))
        })
        .await?;
    let views: Vec<Value> = tasks
        .iter()
        .map(|t| crate::api::tasks::view(t, &ctx.region, &ctx.account_id, false))
        .collect();
    Ok(json!({ "tasks": views, "failures": failures }))
}

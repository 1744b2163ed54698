//! Daemons on their container instances: exactly one task of the daemon's current revision
//! on every ACTIVE, connected container instance of its capacity providers. A task of an
//! older revision, on an instance that left, or one too many is stopped first; the new one
//! starts once the instance has no task of the daemon still stopping. A deployment succeeds
//! when every instance runs the target revision; a deleted daemon goes once its tasks have
//! stopped.

use std::collections::HashMap;

use haneul_store::{Scope, Txn};

use crate::api::capacity_providers::PROVIDER_ATTRIBUTE;
use crate::api::container_instances::{ContainerInstance, KIND_CONTAINER_INSTANCE};
use crate::api::daemons::{task_definition_of, Daemon, KIND_DAEMON};
use crate::api::tasks::{create_task, Launch};
use crate::error::EcsError;
use crate::model::{task_key, Task, KIND_TASK, SEP};
use crate::runtime::addresses::TaskCidr;

/// Whether any daemon exists (the scheduler skips the write otherwise).
pub fn any(t: &Txn<'_>) -> Result<bool, EcsError> {
    let mut found = false;
    t.for_each_all_scopes::<Daemon>(KIND_DAEMON, |_, _, _| {
        found = true;
        Ok(())
    })?;
    Ok(found)
}

/// One pass over every daemon; returns how many records it wrote.
pub fn reconcile(t: &mut Txn<'_>, cidr: &TaskCidr) -> Result<usize, EcsError> {
    let mut daemons: Vec<(Scope, String, Daemon)> = Vec::new();
    t.for_each_all_scopes::<Daemon>(KIND_DAEMON, |scope, key, d| {
        daemons.push((scope.clone(), key.to_string(), d));
        Ok(())
    })?;
    let mut written = 0;
    for (scope, key, daemon) in daemons {
        written += reconcile_one(t, cidr, &scope, &key, daemon)?;
    }
    Ok(written)
}

fn reconcile_one(t: &mut Txn<'_>, cidr: &TaskCidr, scope: &Scope, key: &str, mut d: Daemon) -> Result<usize, EcsError> {
    let now = haneul_wire::value::now_epoch_s();
    let prefix = format!("{}{SEP}", d.cluster);
    let group = format!("daemon:{}", d.name);
    let mut written = 0;
    // The instances it belongs on, with the provider each joined.
    let eligible: HashMap<String, String> = if d.status == "ACTIVE" {
        t.list_prefix::<ContainerInstance>(scope, KIND_CONTAINER_INSTANCE, &prefix)?
            .into_iter()
            .filter(|(_, ci)| ci.status == "ACTIVE" && ci.agent_connected(now))
            .filter_map(|(_, ci)| {
                let provider = ci.attributes.get(PROVIDER_ATTRIBUTE).cloned().flatten()?;
                d.capacity_providers.contains(&provider).then_some((ci.arn, provider))
            })
            .collect()
    } else {
        HashMap::new()
    };
    let current = d.current_revision().cloned();
    let tasks: Vec<(String, Task)> = t
        .list_prefix::<Task>(scope, KIND_TASK, &prefix)?
        .into_iter()
        .filter(|(_, task)| task.group.as_deref() == Some(group.as_str()) && !task.is_stopped())
        .collect();
    // Per instance: the task kept (current revision, asked to run), and whether any is stopping.
    let mut kept: HashMap<String, bool> = HashMap::new();
    let mut stopping: HashMap<String, bool> = HashMap::new();
    for (_, mut task) in tasks {
        let on_eligible = eligible.contains_key(&task.host);
        let current_revision = current
            .as_ref()
            .is_some_and(|r| task.started_by.as_deref() == Some(r.arn.as_str()));
        if task.desired_status == "RUNNING" && on_eligible && current_revision && !kept.contains_key(&task.host) {
            kept.insert(task.host.clone(), task.last_status == "RUNNING");
            continue;
        }
        if task.desired_status == "RUNNING" {
            task.desired_status = "STOPPED".into();
            task.stop_code = Some("ServiceSchedulerInitiated".into());
            task.stopped_reason = Some(if d.status != "ACTIVE" {
                format!("Daemon {} is being deleted", d.name)
            } else if !on_eligible {
                format!("The container instance left daemon {}'s capacity providers", d.name)
            } else {
                format!(
                    "Daemon deployment {} replaced it",
                    d.deployments.last().map(|x| x.id.as_str()).unwrap_or("")
                )
            });
            task.stopping_at = Some(now);
            task.version += 1;
            super::usage::put_task(t, scope, &mut task)?;
            written += 1;
        }
        stopping.insert(task.host.clone(), true);
    }
    if d.status != "ACTIVE" {
        if stopping.is_empty() {
            t.delete(scope, KIND_DAEMON, key)?;
            written += 1;
        }
        return Ok(written);
    }
    let Some(revision) = current else { return Ok(written) };
    let Some(def) = task_definition_of(t, scope, &revision)? else {
        return Ok(written);
    };
    for (instance, provider) in &eligible {
        if kept.contains_key(instance) || stopping.contains_key(instance) {
            continue;
        }
        let launch = Launch {
            cluster: &d.cluster,
            def: &def,
            launch_type: None,
            capacity_provider: Some(provider.clone()),
            subnet: None,
            group: group.clone(),
            started_by: Some(revision.arn.clone()),
            overrides: serde_json::json!({}),
            tags: if revision.propagate_tags == "DAEMON" {
                d.tags.clone()
            } else {
                serde_json::json!([])
            },
            platform_version: None,
            enable_execute_command: revision.enable_execute_command,
            service: None,
            host: instance.clone(),
        };
        let task = create_task(t, scope, cidr, &launch)?;
        tracing::debug!(daemon = %d.name, task = %task_key(&d.cluster, &task.id), instance = %instance, "daemon task started");
        written += 1;
    }
    // The deployment in progress succeeds once every instance runs the target revision.
    let done = stopping.is_empty() && eligible.keys().all(|i| kept.get(i).copied().unwrap_or(false));
    if let Some(latest) = d.deployments.last_mut() {
        if latest.status == "IN_PROGRESS" && done {
            latest.status = "SUCCESSFUL".into();
            latest.status_reason = "The daemon runs its target revision on every container instance.".into();
            latest.finished_at = Some(now);
            d.updated_at = now;
            t.put(scope, KIND_DAEMON, key, &d)?;
            written += 1;
        }
    }
    Ok(written)
}

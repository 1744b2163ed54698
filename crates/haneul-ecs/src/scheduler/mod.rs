//! The service scheduler: a reconcile loop over every ACTIVE or DRAINING service. Each pass
//! runs [`plan::step`] for a service on what a read finds; when the step would change
//! anything, it runs again inside the service's write and its effects — new tasks, target
//! registrations — are carried out in that same transaction. Level-triggered and
//! idempotent: a restart continues from the store.

pub mod plan;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use haneul_elbv2::health::HealthTable;
use haneul_store::{Scope, Store, StoreError, Txn};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::api::tasks::{create_task, network_choice, Launch};
use crate::error::EcsError;
use crate::model::{Service, Task, KIND_SERVICE, KIND_TASK, SEP};
use crate::runtime::addresses::TaskCidr;
use plan::{Effect, GroupFacts, World};

/// A pass runs at least this often (health verdicts and drains change without a commit).
const PASS_INTERVAL_MS: u64 = 1000;
/// And at most this often, however busy the change feed is.
const MIN_PASS_GAP_MS: u64 = 100;

pub struct Scheduler {
    pub store: Store,
    pub health: Arc<HealthTable>,
    pub task_cidr: TaskCidr,
}

impl Scheduler {
    pub async fn run(self: Arc<Scheduler>, cancel: CancellationToken) {
        let mut changes = self.store.subscribe_kinds(&["ecs."]);
        loop {
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "ECS scheduler pass failed");
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                r = changes.changed() => if r.is_err() { return },
                () = tokio::time::sleep(Duration::from_millis(PASS_INTERVAL_MS)) => {}
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(MIN_PASS_GAP_MS)) => {}
            }
        }
    }

    /// One pass over every service that needs the scheduler.
    pub async fn pass(&self) -> Result<(), EcsError> {
        let services: Vec<(Scope, String)> = self
            .store
            .read(|t| {
                let mut out = Vec::new();
                t.for_each_all_scopes::<Service>(KIND_SERVICE, |scope, key, s| {
                    if s.status != "INACTIVE" {
                        out.push((scope.clone(), key.to_string()));
                    }
                    Ok(())
                })?;
                Ok::<_, StoreError>(out)
            })
            .await?;
        for (scope, key) in services {
            if let Err(e) = self.reconcile(&scope, &key).await {
                tracing::warn!(service = %key, error = %e, "cannot reconcile a service");
            }
        }
        Ok(())
    }

    /// One step for one service: planned on a read, redone and applied in a write only
    /// when it changes something.
    pub async fn reconcile(&self, scope: &Scope, key: &str) -> Result<(), EcsError> {
        let health = self.health.clone();
        let (s, k) = (scope.clone(), key.to_string());
        let needed = self
            .store
            .read(move |t| {
                let Some((mut service, mut tasks, groups)) = load(t, &s, &k)? else {
                    return Ok::<_, EcsError>(false);
                };
                let step = step(&health, &mut service, &mut tasks, &groups);
                Ok(step.service_changed || !step.changed_tasks.is_empty() || !step.effects.is_empty())
            })
            .await?;
        if !needed {
            return Ok(());
        }
        let health = self.health.clone();
        let cidr = self.task_cidr.clone();
        let (s, k) = (scope.clone(), key.to_string());
        self.store
            .write(move |t| {
                let Some((mut service, mut tasks, groups)) = load(t, &s, &k)? else {
                    return Ok(());
                };
                let step = step(&health, &mut service, &mut tasks, &groups);
                apply(t, &s, &cidr, &mut service, &mut tasks, step)?;
                Ok(())
            })
            .await
    }
}

/// Runs one step of `service` against the probes' verdicts and the clock.
fn step(
    health: &HealthTable,
    service: &mut Service,
    tasks: &mut [Task],
    groups: &HashMap<String, GroupFacts>,
) -> plan::Step {
    let verdict =
        |tg: &str, ip: &str, port: i64| haneul_elbv2::targets::internal::health(health, tg, ip, port).to_string();
    let world = World {
        now_s: haneul_wire::value::now_epoch_s(),
        health: &verdict,
        groups,
    };
    plan::step(service, tasks, &world)
}

type Loaded = (Service, Vec<Task>, HashMap<String, GroupFacts>);

/// The service, its tasks, and its target groups' facts.
fn load(t: &Txn<'_>, scope: &Scope, key: &str) -> Result<Option<Loaded>, EcsError> {
    let Some(service) = t.get::<Service>(scope, KIND_SERVICE, key)? else {
        return Ok(None);
    };
    if service.status == "INACTIVE" {
        return Ok(None);
    }
    let tasks: Vec<Task> = t
        .list_prefix::<Task>(scope, KIND_TASK, &format!("{}{SEP}", service.cluster))?
        .into_iter()
        .map(|(_, task)| task)
        .filter(|task| task.service.as_deref() == Some(service.name.as_str()))
        .collect();
    let mut groups = HashMap::new();
    for lb in &service.load_balancers {
        if let Ok(tg) = haneul_elbv2::targets::internal::target_group(t, scope, &lb.target_group_arn) {
            groups.insert(
                lb.target_group_arn.clone(),
                GroupFacts {
                    deregistration_delay_s: haneul_elbv2::targets::deregistration_delay_s(&tg),
                },
            );
        }
    }
    Ok(Some((service, tasks, groups)))
}

/// Carries out a step's effects and stores what it changed.
fn apply(
    t: &mut Txn<'_>,
    scope: &Scope,
    cidr: &TaskCidr,
    service: &mut Service,
    tasks: &mut [Task],
    step: plan::Step,
) -> Result<(), EcsError> {
    let now = haneul_wire::value::now_epoch_s();
    let mut service_changed = step.service_changed;
    for effect in &step.effects {
        match effect {
            Effect::Register {
                target_group,
                ip,
                port,
                zone,
                ..
            } => {
                if let Err(e) = haneul_elbv2::targets::internal::register_ip(t, scope, target_group, ip, *port, zone) {
                    tracing::warn!(target_group = %target_group, error = %e, "cannot register a service task");
                }
            }
            Effect::Deregister { target_group, ip, port } => {
                if let Err(e) = haneul_elbv2::targets::internal::deregister_ip(t, scope, target_group, ip, *port) {
                    tracing::debug!(target_group = %target_group, error = %e, "cannot deregister a service task");
                }
            }
            Effect::Launch {
                deployment,
                task_definition,
                count,
            } => {
                let started = launch(t, scope, cidr, service, tasks, deployment, task_definition, *count)?;
                if !started.is_empty() {
                    let list: Vec<String> = started.iter().map(|id| format!("(task {id})")).collect();
                    plan::push_event(
                        service,
                        now,
                        format!(
                            "(service {}) has started {} tasks: {}.",
                            service.name,
                            started.len(),
                            list.join(" ")
                        ),
                    );
                    service_changed = true;
                }
            }
        }
    }
    for i in step.changed_tasks {
        let task = &tasks[i];
        t.put(scope, KIND_TASK, &crate::model::task_key(&task.cluster, &task.id), task)?;
    }
    if service_changed {
        service.revision += 1;
        t.put(
            scope,
            KIND_SERVICE,
            &crate::model::service_key(&service.cluster, &service.name),
            service,
        )?;
    }
    Ok(())
}

/// Starts `count` tasks of a deployment, each in the zone with the fewest of the
/// service's live tasks. Returns their ids.
#[allow(clippy::too_many_arguments)]
fn launch(
    t: &mut Txn<'_>,
    scope: &Scope,
    cidr: &TaskCidr,
    service: &mut Service,
    tasks: &[Task],
    deployment: &str,
    task_definition: &str,
    count: usize,
) -> Result<Vec<String>, EcsError> {
    let Some(def) = crate::api::task_definitions::find_in(t, scope, task_definition)? else {
        let name = service.name.clone();
        plan::push_event(
            service,
            haneul_wire::value::now_epoch_s(),
            format!("(service {name}) failed to launch a task: the task definition {task_definition} does not exist."),
        );
        return Ok(Vec::new());
    };
    let mode = def
        .definition
        .get("networkMode")
        .and_then(Value::as_str)
        .unwrap_or("bridge")
        .to_string();
    let network: Option<crate::generated::NetworkConfiguration> =
        serde_json::from_value(service.network_configuration.clone()).ok();
    let choice = network_choice(t, scope, &mode, network.as_ref())?;
    let mut per_subnet: HashMap<String, usize> = HashMap::new();
    for task in tasks
        .iter()
        .filter(|t| t.desired_status == "RUNNING" && !t.is_stopped())
    {
        if let Some(n) = &task.network {
            *per_subnet.entry(n.subnet_id.clone()).or_default() += 1;
        }
    }
    let mut started = Vec::new();
    for _ in 0..count {
        let subnet = choice.as_ref().map(|c| {
            let pick = c
                .subnets
                .iter()
                .min_by_key(|(id, _)| per_subnet.get(id).copied().unwrap_or(0))
                .cloned()
                .unwrap_or_else(|| c.subnets[0].clone());
            *per_subnet.entry(pick.0.clone()).or_default() += 1;
            pick
        });
        let l = Launch {
            cluster: &service.cluster,
            def: &def,
            launch_type: service.launch_type.clone(),
            capacity_provider: service
                .capacity_provider_strategy
                .as_array()
                .and_then(|a| a.first())
                .and_then(|c| c.get("capacityProvider"))
                .and_then(Value::as_str)
                .map(str::to_string),
            subnet,
            group: format!("service:{}", service.name),
            started_by: Some(deployment.to_string()),
            overrides: serde_json::json!({}),
            tags: if service.propagate_tags.as_deref() == Some("SERVICE") {
                service.tags.clone()
            } else {
                Value::Array(Vec::new())
            },
            platform_version: service.platform_version.clone(),
            enable_execute_command: service.enable_execute_command,
            service: Some((service.name.clone(), deployment.to_string())),
        };
        started.push(create_task(t, scope, cidr, &l)?.id);
    }
    Ok(started)
}

//! The service scheduler: a reconcile loop over every ACTIVE or DRAINING service. Each pass
//! runs [`plan::step`] for every service on a cache of services and tasks kept current from
//! the change log; when a step would change anything, it runs again inside the service's
//! write (on the records as stored) and its effects — new tasks, target registrations — are
//! carried out in that same transaction. Level-triggered and idempotent: a restart
//! continues from the store.

pub mod daemons;
pub mod expression;
pub mod placement;
pub mod plan;
pub mod usage;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use haneul_elbv2::health::HealthTable;
use haneul_store::{Scope, Store, Txn};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::api::container_instances::{ContainerInstance, AGENT_HEARTBEAT_TIMEOUT_S, KIND_CONTAINER_INSTANCE};
use crate::api::tasks::{create_task, network_choice, Launch};
use crate::error::EcsError;
use crate::model::{Service, Task, KIND_SERVICE, KIND_TASK};
use crate::runtime::addresses::TaskCidr;
use plan::{Effect, GroupFacts, World};

/// A pass runs at least this often (health verdicts and drains change without a commit).
const PASS_INTERVAL_MS: u64 = 1000;
/// And at most this often, however busy the change feed is.
const MIN_PASS_GAP_MS: u64 = 100;

/// Service writes a pass keeps in flight at once (the store's group commit takes up to 128).
const CONCURRENT_RECONCILES: usize = 64;

/// How often container instances are checked for a lost agent.
const LOST_AGENT_CHECK_S: u64 = 5;

/// More changes than this since the last look: the cache is read again whole.
const MAX_FOLLOWED_CHANGES: usize = 10_000;

pub struct Scheduler {
    pub store: Store,
    pub health: Arc<HealthTable>,
    pub task_cidr: TaskCidr,
    cache: tokio::sync::Mutex<Cache>,
}

/// Services and their tasks as of `revision`, kept current from the change log, so a pass
/// plans in memory and reads only what changed (task definitions are left out: the scheduler
/// never needs them).
#[derive(Default)]
struct Cache {
    revision: Option<u64>,
    services: HashMap<(Scope, String), Service>,
    tasks: HashMap<(Scope, String), Task>,
}

fn slim(mut t: Task) -> Task {
    if let Ok(null) = serde_json::value::RawValue::from_string("null".into()) {
        t.definition = null;
    }
    t
}

impl Scheduler {
    pub fn new(store: Store, health: Arc<HealthTable>, task_cidr: TaskCidr) -> Scheduler {
        Scheduler {
            store,
            health,
            task_cidr,
            cache: tokio::sync::Mutex::new(Cache::default()),
        }
    }

    /// Brings the cache up to the latest commit: the changed records only, or everything
    /// after a gap.
    async fn refresh(&self, cache: &mut Cache) -> Result<(), EcsError> {
        if let Some(revision) = cache.revision {
            let changes = self.store.changes_since(revision, MAX_FOLLOWED_CHANGES + 1).await?;
            let Some(last) = changes.last().map(|c| c.revision) else {
                return Ok(());
            };
            if changes.len() <= MAX_FOLLOWED_CHANGES && changes.first().is_some_and(|c| c.revision == revision + 1) {
                let mut touched: Vec<(Scope, String, String)> = changes
                    .into_iter()
                    .filter(|c| c.kind == KIND_TASK || c.kind == KIND_SERVICE)
                    .map(|c| (c.scope, c.kind, c.id))
                    .collect();
                touched.sort_by(|a, b| {
                    (&a.0.account_id, &a.0.region, &a.1, &a.2).cmp(&(&b.0.account_id, &b.0.region, &b.1, &b.2))
                });
                touched.dedup();
                let found = self
                    .store
                    .read(move |t| {
                        let mut out = Vec::with_capacity(touched.len());
                        for (scope, kind, id) in touched {
                            let record = if kind == KIND_TASK {
                                Fresh::Task(t.get::<Task>(&scope, KIND_TASK, &id)?.map(|task| Box::new(slim(task))))
                            } else {
                                Fresh::Service(t.get::<Service>(&scope, KIND_SERVICE, &id)?.map(Box::new))
                            };
                            out.push((scope, id, record));
                        }
                        Ok::<_, EcsError>(out)
                    })
                    .await?;
                for (scope, id, record) in found {
                    match record {
                        Fresh::Task(Some(task)) => {
                            cache.tasks.insert((scope, id), *task);
                        }
                        Fresh::Task(None) => {
                            cache.tasks.remove(&(scope, id));
                        }
                        Fresh::Service(Some(service)) => {
                            cache.services.insert((scope, id), *service);
                        }
                        Fresh::Service(None) => {
                            cache.services.remove(&(scope, id));
                        }
                    }
                }
                cache.revision = Some(last);
                return Ok(());
            }
        }
        let (services, tasks, revision) = self
            .store
            .read(|t| {
                let mut services = HashMap::new();
                t.for_each_all_scopes::<Service>(KIND_SERVICE, |scope, key, s| {
                    services.insert((scope.clone(), key.to_string()), s);
                    Ok(())
                })?;
                let mut tasks = HashMap::new();
                t.for_each_all_scopes::<Task>(KIND_TASK, |scope, key, task| {
                    if task.service.is_some() {
                        tasks.insert((scope.clone(), key.to_string()), slim(task));
                    }
                    Ok(())
                })?;
                Ok::<_, EcsError>((services, tasks, t.seen_revision()?))
            })
            .await?;
        *cache = Cache {
            revision: Some(revision),
            services,
            tasks,
        };
        Ok(())
    }

    pub async fn run(self: Arc<Scheduler>, cancel: CancellationToken) {
        let mut changes = self.store.subscribe_kinds(&["ecs."]);
        // Placement reads the instances' usage rows: count them again from the tasks first.
        match self.store.write(usage::rebuild).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tasks = n, "recounted what tasks take on their container instances"),
            Err(e) => tracing::warn!(error = %e, "cannot recount container instances' usage"),
        }
        let mut agents_checked = tokio::time::Instant::now();
        loop {
            if agents_checked.elapsed() >= Duration::from_secs(LOST_AGENT_CHECK_S) {
                agents_checked = tokio::time::Instant::now();
                match self.stop_tasks_of_lost_agents().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(
                        tasks = n,
                        "stopped the tasks of container instances whose agent was lost"
                    ),
                    Err(e) => tracing::warn!(error = %e, "cannot look for lost agents"),
                }
            }
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "ECS scheduler pass failed");
            }
            if let Err(e) = self.reconcile_daemons().await {
                tracing::warn!(error = %e, "ECS daemon pass failed");
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

    /// Tasks on container instances whose agent has not been heard from for
    /// [`AGENT_HEARTBEAT_TIMEOUT_S`] are STOPPED (the agent cannot say so itself); services
    /// replace them on the instances still connected. Returns how many it stopped.
    pub async fn stop_tasks_of_lost_agents(&self) -> Result<usize, EcsError> {
        // Most passes find none: a read decides whether a write is needed.
        let any_lost = self
            .store
            .read(|t| {
                let now = haneul_wire::value::now_epoch_s();
                let mut lost = false;
                t.for_each_all_scopes::<ContainerInstance>(KIND_CONTAINER_INSTANCE, |_, _, ci| {
                    lost |= ci.status != "INACTIVE" && !ci.agent_connected(now);
                    Ok(())
                })?;
                Ok::<_, EcsError>(lost)
            })
            .await?;
        if !any_lost {
            return Ok(0);
        }
        self.store
            .write(|t| {
                let now = haneul_wire::value::now_epoch_s();
                let mut lost: Vec<(Scope, ContainerInstance)> = Vec::new();
                t.for_each_all_scopes::<ContainerInstance>(KIND_CONTAINER_INSTANCE, |scope, _, ci| {
                    if ci.status != "INACTIVE" && !ci.agent_connected(now) {
                        lost.push((scope.clone(), ci));
                    }
                    Ok(())
                })?;
                let mut stopped = 0;
                for (scope, ci) in lost {
                    let prefix = format!("{}{}", ci.cluster, crate::model::SEP);
                    for (_, mut task) in t.list_prefix::<Task>(&scope, KIND_TASK, &prefix)? {
                        if task.host != ci.arn || task.is_stopped() {
                            continue;
                        }
                        task.desired_status = "STOPPED".into();
                        task.last_status = "STOPPED".into();
                        if task.stop_code.is_none() {
                            task.stop_code = Some("TerminationNotice".into());
                            task.stopped_reason = Some(format!(
                                "Host EC2 (instance {}) lost: its agent has not been heard from in {} s.",
                                ci.ec2_instance_id, AGENT_HEARTBEAT_TIMEOUT_S as i64
                            ));
                        }
                        task.stopping_at.get_or_insert(now);
                        task.execution_stopped_at.get_or_insert(now);
                        task.stopped_at = Some(now);
                        for c in &mut task.containers {
                            c.last_status = "STOPPED".into();
                        }
                        if let Some(n) = &mut task.network {
                            crate::runtime::addresses::release(t, &n.private_ip, &task.arn)?;
                            n.status = "DELETED".into();
                        }
                        task.version += 1;
                        usage::put_task(t, &scope, &mut task)?;
                        stopped += 1;
                    }
                }
                Ok::<_, EcsError>(stopped)
            })
            .await
    }

    /// One pass over every daemon (a write only when there are daemons).
    pub async fn reconcile_daemons(&self) -> Result<usize, EcsError> {
        if !self.store.read(daemons::any).await? {
            return Ok(0);
        }
        let cidr = self.task_cidr.clone();
        self.store.write(move |t| daemons::reconcile(t, &cidr)).await
    }

    /// One pass over every service that needs the scheduler: planned in memory on the
    /// cache; only the services whose step changes something get a write.
    pub async fn pass(&self) -> Result<PassStats, EcsError> {
        let due: Vec<(Scope, String, Vec<String>)> = {
            let mut cache = self.cache.lock().await;
            self.refresh(&mut cache).await?;
            let mut tasks: HashMap<(Scope, String, String), Vec<Task>> = HashMap::new();
            for ((scope, _), task) in &cache.tasks {
                if let Some(service) = &task.service {
                    if !task.is_stopped() || !task.stop_seen {
                        tasks
                            .entry((scope.clone(), task.cluster.clone(), service.clone()))
                            .or_default()
                            .push(task.clone());
                    }
                }
            }
            let live: Vec<((Scope, String), Service)> = cache
                .services
                .iter()
                .filter(|(_, s)| s.status != "INACTIVE")
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect();
            drop(cache);
            let with_groups: Vec<(Scope, Service)> = live
                .iter()
                .filter(|(_, s)| !load_balancers_of(s).is_empty())
                .map(|((scope, _), s)| (scope.clone(), s.clone()))
                .collect();
            let groups: HashMap<String, HashMap<String, GroupFacts>> = self
                .store
                .read(move |t| {
                    Ok::<_, EcsError>(
                        with_groups
                            .iter()
                            .map(|(scope, s)| (s.arn.clone(), group_facts(t, scope, s)))
                            .collect(),
                    )
                })
                .await?;
            let none = HashMap::new();
            let mut due = Vec::new();
            for ((scope, key), mut service) in live {
                let mut mine = tasks
                    .remove(&(scope.clone(), service.cluster.clone(), service.name.clone()))
                    .unwrap_or_default();
                let facts = groups.get(&service.arn).unwrap_or(&none);
                if service.deployment_controller == "EXTERNAL" {
                    let steps = task_set_steps(&self.health, &service, &mine, facts);
                    if fold_task_sets(&mut service, &mine, &steps) || steps.iter().any(|s| s.step.touches()) {
                        let keys = mine
                            .iter()
                            .map(|task| crate::model::task_key(&task.cluster, &task.id))
                            .collect();
                        due.push((scope, key, keys));
                    }
                    continue;
                }
                let step = step(&self.health, &mut service, &mut mine, facts);
                if step.service_changed || !step.changed_tasks.is_empty() || !step.effects.is_empty() {
                    let keys = mine
                        .iter()
                        .map(|task| crate::model::task_key(&task.cluster, &task.id))
                        .collect();
                    due.push((scope, key, keys));
                }
            }
            due
        };
        let mut stats = PassStats {
            written: due.len(),
            ..PassStats::default()
        };
        // Services' writes are independent: in flight together, so the store commits them in
        // groups instead of one commit (and fsync) after another.
        let mut due = due.into_iter();
        loop {
            let chunk: Vec<(Scope, String, Vec<String>)> = due.by_ref().take(CONCURRENT_RECONCILES).collect();
            if chunk.is_empty() {
                break;
            }
            let results =
                futures_util::future::join_all(chunk.into_iter().map(|(scope, key, task_keys)| async move {
                    (self.reconcile(&scope, &key, task_keys).await, key)
                }))
                .await;
            for (result, key) in results {
                if let Err(e) = result {
                    stats.failed += 1;
                    tracing::warn!(service = %key, error = %e, "cannot reconcile a service");
                }
            }
        }
        Ok(stats)
    }

    /// One step for one service, redone and applied inside its write.
    async fn reconcile(&self, scope: &Scope, key: &str, task_keys: Vec<String>) -> Result<(), EcsError> {
        let health = self.health.clone();
        let cidr = self.task_cidr.clone();
        let (s, k) = (scope.clone(), key.to_string());
        self.store
            .write(move |t| {
                let Some(mut service) = t.get::<Service>(&s, KIND_SERVICE, &k)? else {
                    return Ok(());
                };
                if service.status == "INACTIVE" {
                    return Ok(());
                }
                let mut tasks = Vec::with_capacity(task_keys.len());
                for tk in &task_keys {
                    if let Some(task) = t.get::<Task>(&s, KIND_TASK, tk)? {
                        tasks.push(task);
                    }
                }
                let groups = group_facts(t, &s, &service);
                if service.deployment_controller == "EXTERNAL" {
                    let steps = task_set_steps(&health, &service, &tasks, &groups);
                    let mut changed = fold_task_sets(&mut service, &tasks, &steps);
                    for mut ts in steps {
                        changed |= apply(t, &s, &cidr, &mut ts.pseudo, &mut ts.tasks, ts.step)?;
                        // What apply added (launch events) goes to the service too.
                        changed |= fold_events(&mut service, &ts.pseudo);
                    }
                    if changed {
                        service.revision += 1;
                        t.put(&s, KIND_SERVICE, &k, &service)?;
                    }
                    return Ok(());
                }
                let step = step(&health, &mut service, &mut tasks, &groups);
                if apply(t, &s, &cidr, &mut service, &mut tasks, step)? {
                    service.revision += 1;
                    t.put(&s, KIND_SERVICE, &k, &service)?;
                }
                Ok(())
            })
            .await
    }
}

enum Fresh {
    Task(Option<Box<Task>>),
    Service(Option<Box<Service>>),
}

/// What one pass did (the benchmark reads it).
#[derive(Debug, Default, Clone, Copy)]
pub struct PassStats {
    /// Services whose step changed something and was written.
    pub written: usize,
    pub failed: usize,
}

/// The deregistration delays of a service's target groups.
fn group_facts(t: &Txn<'_>, scope: &Scope, service: &Service) -> HashMap<String, GroupFacts> {
    let mut groups = HashMap::new();
    for lb in &load_balancers_of(service) {
        if let Ok(tg) = haneul_elbv2::targets::internal::target_group(t, scope, &lb.target_group_arn) {
            groups.insert(
                lb.target_group_arn.clone(),
                GroupFacts {
                    deregistration_delay_s: haneul_elbv2::targets::deregistration_delay_s(&tg),
                    target_type: tg.target_type.clone(),
                },
            );
        }
    }
    groups
}

/// The target groups a service's tasks go to (an EXTERNAL service's: its task sets').
fn load_balancers_of(service: &Service) -> Vec<crate::model::LoadBalancerRef> {
    if service.deployment_controller == "EXTERNAL" {
        service
            .task_sets
            .iter()
            .flat_map(|ts| ts.load_balancers.iter().cloned())
            .collect()
    } else {
        service.load_balancers.clone()
    }
}

/// One task set of an EXTERNAL service, stepped as a service of its own: its definition,
/// network and load balancers, ⌈scale × desired⌉ tasks, one deployment (the task set's id).
struct TaskSetStep {
    pseudo: Service,
    tasks: Vec<Task>,
    step: plan::Step,
}

fn pseudo_service(service: &Service, ts: &crate::model::TaskSetRecord) -> Service {
    let mut p = service.clone();
    let desired = ts.computed_desired_count(service.desired_count);
    p.task_sets = Vec::new();
    p.deployment_controller = "ECS".into();
    p.task_definition = ts.task_definition.clone();
    p.launch_type = ts.launch_type.clone();
    p.capacity_provider_strategy = ts.capacity_provider_strategy.clone();
    p.platform_version = ts.platform_version.clone();
    p.network_configuration = ts.network_configuration.clone();
    p.load_balancers = ts.load_balancers.clone();
    p.desired_count = desired;
    let mut d = ts.deployment.clone();
    d.status = "PRIMARY".into();
    d.desired_count = desired;
    p.deployments = vec![d];
    p.events = Vec::new();
    p.history = Vec::new();
    p.revisions = Vec::new();
    p.circuit_breaker_enable = false;
    // Task sets report stability in stabilityStatus, not in steady-state events.
    p.steady_reported_at = Some(0.0);
    if p.status == "DRAINING" {
        p.status = "ACTIVE".into();
    }
    p
}

fn task_set_steps(
    health: &HealthTable,
    service: &Service,
    tasks: &[Task],
    groups: &HashMap<String, GroupFacts>,
) -> Vec<TaskSetStep> {
    service
        .task_sets
        .iter()
        .map(|ts| {
            let mut pseudo = pseudo_service(service, ts);
            let mut mine: Vec<Task> = tasks
                .iter()
                .filter(|t| t.deployment_id.as_deref() == Some(ts.id.as_str()))
                .cloned()
                .collect();
            let step = step(health, &mut pseudo, &mut mine, groups);
            TaskSetStep {
                pseudo,
                tasks: mine,
                step,
            }
        })
        .collect()
}

/// The events a task set's step said, onto the service (oldest first). True when any.
fn fold_events(service: &mut Service, pseudo: &Service) -> bool {
    let fresh: Vec<&crate::model::ServiceEvent> = pseudo
        .events
        .iter()
        .filter(|e| {
            !service
                .events
                .iter()
                .any(|x| x.created_at == e.created_at && x.message == e.message)
        })
        .collect();
    for e in fresh.iter().rev() {
        plan::push_event(service, e.created_at, e.message.clone());
    }
    !fresh.is_empty()
}

/// What the task sets' steps did, folded back into the service: each task set's deployment
/// counts and stability, their events, DRAINING task sets with no tasks left removed, a
/// deleted service with no tasks left INACTIVE. True when the service changed.
fn fold_task_sets(service: &mut Service, tasks: &[Task], steps: &[TaskSetStep]) -> bool {
    let before = serde_json::to_string(&(&service.task_sets, service.status.as_str())).unwrap_or_default();
    let now = haneul_wire::value::now_epoch_s();
    let mut events = false;
    for (i, st) in steps.iter().enumerate() {
        events |= fold_events(service, &st.pseudo);
        let desired = service.task_sets[i].computed_desired_count(service.desired_count);
        let ts = &mut service.task_sets[i];
        if let Some(d) = st.pseudo.deployments.first() {
            let mut d = d.clone();
            d.status = ts.deployment.status.clone();
            d.updated_at = ts.deployment.updated_at;
            ts.deployment = d;
        }
        let live = tasks
            .iter()
            .filter(|t| t.deployment_id.as_deref() == Some(ts.id.as_str()) && !t.is_stopped())
            .count() as i64;
        let stable = live == desired && ts.deployment.running_count == desired && ts.deployment.pending_count == 0;
        let status = if stable { "STEADY_STATE" } else { "STABILIZING" };
        if ts.stability_status != status {
            ts.stability_status = status.into();
            ts.stability_status_at = now;
        }
    }
    service.task_sets.retain(|ts| {
        ts.status != "DRAINING"
            || tasks
                .iter()
                .any(|t| t.deployment_id.as_deref() == Some(ts.id.as_str()) && !t.is_stopped())
    });
    if service.status == "DRAINING" && !tasks.iter().any(|t| !t.is_stopped()) {
        service.status = "INACTIVE".into();
    }
    let after = serde_json::to_string(&(&service.task_sets, service.status.as_str())).unwrap_or_default();
    events || before != after
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

/// Carries out a step's effects and stores what it changed.
fn apply(
    t: &mut Txn<'_>,
    scope: &Scope,
    cidr: &TaskCidr,
    service: &mut Service,
    tasks: &mut [Task],
    step: plan::Step,
) -> Result<bool, EcsError> {
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
                let newest_event = service.events.first().map(|e| e.id.clone());
                let started = launch(t, scope, cidr, service, tasks, deployment, task_definition, *count)?;
                // launch() says why it could not (an event) without writing the service.
                service_changed |= service.events.first().map(|e| &e.id) != newest_event.as_ref();
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
        usage::put_task(t, scope, &mut tasks[i])?;
    }
    Ok(service_changed)
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
    let mode = def.network_mode().to_string();
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
    let fargate = service.launch_type.as_deref() == Some("FARGATE")
        || service.capacity_provider_strategy.as_array().is_some_and(|a| {
            a.iter().any(|c| {
                c.get("capacityProvider")
                    .and_then(Value::as_str)
                    .is_some_and(|p| p.starts_with("FARGATE"))
            })
        });
    let group = format!("service:{}", service.name);
    let constraints: Vec<Value> = service.placement_constraints.as_array().cloned().unwrap_or_default();
    let strategy: Vec<Value> = service.placement_strategy.as_array().cloned().unwrap_or_default();
    let mut candidates = if fargate {
        Vec::new()
    } else {
        placement::candidates(
            t,
            scope,
            &service.cluster,
            &group,
            placement::needs_all_groups(&constraints),
        )?
    };
    let mut need = placement::need_of(
        &def.definition,
        def.definition.get("cpu").and_then(Value::as_str),
        def.definition.get("memory").and_then(Value::as_str),
        &group,
    );
    need.capacity_provider = service
        .capacity_provider_strategy
        .as_array()
        .and_then(|a| a.first())
        .and_then(|c| c.get("capacityProvider"))
        .and_then(Value::as_str)
        .filter(|p| !p.starts_with("FARGATE"))
        .map(str::to_string);
    let mut started = Vec::new();
    for _ in 0..count {
        let host = if fargate {
            crate::model::HOST_LOCAL.to_string()
        } else {
            match placement::place(&mut candidates, &need, &constraints, &strategy) {
                Ok(at) => candidates[at].arn.clone(),
                Err(unplaced) => {
                    let message = format!(
                        "(service {}) was unable to place a task because no container instance met all of its requirements. {} For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.",
                        service.name, unplaced.detail
                    );
                    // Said once, not on every pass while it stays so.
                    if service.events.first().map(|e| &e.message) != Some(&message) {
                        plan::push_event(service, haneul_wire::value::now_epoch_s(), message);
                    }
                    break;
                }
            }
        };
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
            group: group.clone(),
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
            host,
        };
        started.push(create_task(t, scope, cidr, &l)?.id);
    }
    Ok(started)
}

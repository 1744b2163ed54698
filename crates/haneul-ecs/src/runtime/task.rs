//! One task's life on a host: PROVISIONING → PENDING (pull, log groups) → RUNNING (containers
//! started in their dependency order) → STOPPING (containers stopped with their stopTimeout)
//! → STOPPED (exit codes, reasons; address released; containers removed). Each step is one
//! store write that reads the record inside it, so a StopTask meanwhile is never lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use haneul_store::Scope;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::host::Host;
use super::records::RecordsError;
use super::spec::{self, HostFacts};
use super::{awslogs, ContainerInfo, RuntimeError, LABEL_CONTAINER_NAME, LABEL_TASK_ARN};
use crate::model::{NetworkBinding, Task};

/// How often running containers' health checks are read.
const HEALTH_POLL_MS: u64 = 1000;
/// How often a container waiting on a dependency checks it.
const DEPENDENCY_POLL_MS: u64 = 250;
/// Longest wait for a container's dependencies (ECS's startTimeout default is 3 minutes).
const DEPENDENCY_TIMEOUT_S: u64 = 180;
/// Longest wait for a stopped container's last log lines to be written.
const LOG_DRAIN_TIMEOUT_S: u64 = 5;

pub fn now_s() -> f64 {
    haneul_wire::value::now_epoch_s()
}

/// Why a task stops, as ECS words it.
#[derive(Debug, Clone)]
pub struct StopCause {
    pub code: String,
    pub reason: String,
}

impl StopCause {
    fn failed_to_start(reason: String) -> StopCause {
        StopCause {
            code: "TaskFailedToStart".into(),
            reason,
        }
    }
}

/// A container of the task as this run knows it.
struct Running {
    name: String,
    runtime_id: String,
    essential: bool,
    stop_timeout_s: i64,
    has_health_check: bool,
}

/// Drives the task `key` until it is STOPPED (or `cancel`: then its containers keep running
/// and the next start adopts them). `wake` fires when the stored task changed.
pub async fn drive(
    host: Arc<Host>,
    scope: Scope,
    key: String,
    mut wake: watch::Receiver<()>,
    cancel: CancellationToken,
) {
    // Cancellation is honoured between engine calls and during waits, never inside a
    // create or start: a container the engine made is always one this run knows of.
    if let Err(Halt::Records(e)) = lifecycle(&host, &scope, &key, &mut wake, &cancel).await {
        tracing::warn!(task = %key, error = %e, "task lifecycle failed; will retry on the next pass");
    }
}

/// Why a lifecycle ended early.
enum Halt {
    Records(RecordsError),
    /// The host is stopping: the task's containers are left for the next run to adopt.
    Detached,
}

impl From<RecordsError> for Halt {
    fn from(e: RecordsError) -> Halt {
        Halt::Records(e)
    }
}

async fn lifecycle(
    host: &Arc<Host>,
    scope: &Scope,
    key: &str,
    wake: &mut watch::Receiver<()>,
    cancel: &CancellationToken,
) -> Result<(), Halt> {
    let Some(task) = host.records.load(scope, key).await? else {
        return Ok(());
    };
    if task.is_stopped() {
        return Ok(());
    }
    // What a previous run of this host left: containers labelled with this task.
    let existing = match host.runtime.list(LABEL_TASK_ARN, &task.arn).await {
        Ok(found) => found,
        Err(e) => {
            let cause = StopCause::failed_to_start(format!(
                "ResourceInitializationError: the container engine is unavailable: {e}"
            ));
            return Ok(finish(host, scope, key, &[], Some(cause)).await?);
        }
    };
    let running = if task.last_status == "RUNNING" || task.containers.iter().any(|c| c.runtime_id.is_some()) {
        match adopt(&task, &existing) {
            Some(r) => r,
            None => {
                let ids: Vec<String> = existing.iter().map(|c| c.id.clone()).collect();
                remove_all(host, &ids).await;
                let cause = StopCause {
                    code: "EssentialContainerExited".into(),
                    reason: "Essential container in task exited".into(),
                };
                return Ok(finish(host, scope, key, &[], Some(cause)).await?);
            }
        }
    } else {
        // Started before but not recorded: start again from nothing.
        let ids: Vec<String> = existing.iter().map(|c| c.id.clone()).collect();
        remove_all(host, &ids).await;
        if task.desired_status == "STOPPED" {
            return Ok(finish(host, scope, key, &[], None).await?);
        }
        match start(host, scope, key, &task, cancel).await? {
            Ok(r) => r,
            Err((started, cause)) => return Ok(finish(host, scope, key, &started, Some(cause)).await?),
        }
    };
    let cause = monitor(host, scope, key, &running, wake, cancel).await?;
    Ok(finish(host, scope, key, &running, cause).await?)
}

/// The containers of a task that a previous run started, if every one of them is still there.
fn adopt(task: &Task, existing: &[ContainerInfo]) -> Option<Vec<Running>> {
    let definition = task.definition();
    let defs = spec::containers_of(&definition);
    let mut out = Vec::new();
    for def in defs {
        let name = def.get("name").and_then(Value::as_str)?;
        let found = existing
            .iter()
            .find(|c| c.labels.get(LABEL_CONTAINER_NAME).map(String::as_str) == Some(name))?;
        let essential = def.get("essential").and_then(Value::as_bool).unwrap_or(true);
        if essential && !found.running {
            return None;
        }
        out.push(Running {
            name: name.to_string(),
            runtime_id: found.id.clone(),
            essential,
            stop_timeout_s: def
                .get("stopTimeout")
                .and_then(Value::as_i64)
                .unwrap_or(spec::DEFAULT_STOP_TIMEOUT_S),
            has_health_check: def.get("healthCheck").is_some(),
        });
    }
    Some(out)
}

type StartFailure = (Vec<Running>, StopCause);

/// PENDING → RUNNING: images, log groups, containers in dependency order.
async fn start(
    host: &Arc<Host>,
    scope: &Scope,
    key: &str,
    task: &Task,
    cancel: &CancellationToken,
) -> Result<Result<Vec<Running>, StartFailure>, Halt> {
    host.records
        .update(
            scope,
            key,
            Box::new(|t| {
                t.last_status = "PENDING".into();
                t.pull_started_at = Some(now_s());
                if let Some(n) = &mut t.network {
                    n.status = "ATTACHED".into();
                }
            }),
        )
        .await?;
    let definition = task.definition();
    let defs = spec::containers_of(&definition);
    let mut digests: HashMap<String, Option<String>> = HashMap::new();
    for def in &defs {
        let image = def.get("image").and_then(Value::as_str).unwrap_or_default();
        if digests.contains_key(image) {
            continue;
        }
        let (resolved, auth) = host.credentials.for_image(image, scope);
        let pulled = tokio::select! {
            r = host.runtime.ensure_image(&resolved, auth) => r,
            () = cancel.cancelled() => return Err(Halt::Detached),
        };
        match pulled {
            Ok(digest) => {
                digests.insert(image.to_string(), digest);
            }
            Err(e) => {
                let reason = match e {
                    RuntimeError::Pull(m) => format!("CannotPullContainerError: {m}"),
                    other => format!("CannotPullContainerError: {other}"),
                };
                return Ok(Err((Vec::new(), StopCause::failed_to_start(reason))));
            }
        }
    }
    // What the pulls found is written with RUNNING: one write fewer per task.
    let pull_stopped_at = now_s();
    let facts = HostFacts {
        instance_id: &host.instance_id,
        region: &scope.region,
        endpoint_url: host.endpoint_url.as_deref(),
        host_address: &host.host_address,
    };
    let mut running: Vec<Running> = Vec::new();
    let order = start_order(&defs);
    for index in order {
        let def = defs[index];
        let name = def.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        let ready = tokio::select! {
            r = wait_for_dependencies(host, def, &running) => r,
            () = cancel.cancelled() => return Err(Halt::Detached),
        };
        if cancel.is_cancelled() {
            return Err(Halt::Detached);
        }
        if let Err(reason) = ready {
            return Ok(Err((running, StopCause::failed_to_start(reason))));
        }
        let mut container = spec::container_spec(task, &definition, def, &facts);
        let (resolved, _) = host.credentials.for_image(&container.image, scope);
        container.image = resolved;
        let id = match host.runtime.create(&container).await {
            Ok(id) => id,
            Err(e) => {
                let reason = format!("CannotCreateContainerError: {e}");
                return Ok(Err((running, StopCause::failed_to_start(reason))));
            }
        };
        let essential = def.get("essential").and_then(Value::as_bool).unwrap_or(true);
        running.push(Running {
            name: name.clone(),
            runtime_id: id.clone(),
            essential,
            stop_timeout_s: container.stop_timeout_s,
            has_health_check: container.health_check.is_some(),
        });
        let logs = awslogs::destination(def, &scope.account_id, &scope.region, &name, &task.id, &id);
        if let Some(dest) = &logs {
            if let Err(reason) = awslogs::prepare(host.logs.as_ref(), dest).await {
                return Ok(Err((running, StopCause::failed_to_start(reason))));
            }
        }
        let started_s = haneul_wire::value::now_epoch_s() as i64 - 1;
        if let Err(e) = host.runtime.start(&id).await {
            let reason = format!("CannotStartContainerError: {e}");
            return Ok(Err((running, StopCause::failed_to_start(reason))));
        }
        // The engine ends a follow on a container not yet started at once: follow after
        // the start, from just before it.
        if let Some(dest) = logs {
            host.follow_logs(&id, dest, started_s);
        }
    }
    let mut bindings: HashMap<String, Vec<NetworkBinding>> = HashMap::new();
    for r in &running {
        if let Ok(info) = host.runtime.inspect(&r.runtime_id).await {
            bindings.insert(r.name.clone(), info.ports.iter().map(binding).collect());
        }
    }
    let ids: HashMap<String, String> = running.iter().map(|r| (r.name.clone(), r.runtime_id.clone())).collect();
    let updated = host
        .records
        .update(
            scope,
            key,
            Box::new(move |t| {
                let now = now_s();
                if t.last_status != "STOPPED" {
                    t.last_status = "RUNNING".into();
                }
                t.pull_stopped_at = Some(pull_stopped_at);
                t.started_at = Some(now);
                t.connectivity_at = Some(now);
                for c in &mut t.containers {
                    c.last_status = "RUNNING".into();
                    if let Some(d) = digests.get(&c.image) {
                        c.image_digest = d.clone();
                    }
                    if let Some(id) = ids.get(&c.name) {
                        c.runtime_id = Some(id.clone());
                    }
                    if let Some(b) = bindings.remove(&c.name) {
                        c.network_bindings = b;
                    }
                }
            }),
        )
        .await?;
    tracing::debug!(task = %key, found = updated.is_some(), "task running");
    Ok(Ok(running))
}

fn binding(p: &super::PortBinding) -> NetworkBinding {
    NetworkBinding {
        bind_ip: p.host_ip.clone(),
        container_port: p.container_port,
        host_port: p.host_port,
        protocol: p.protocol.clone(),
    }
}

/// Containers in an order where each comes after what it dependsOn (definition order
/// otherwise; a cycle was refused at registration, and is broken here by definition order).
fn start_order(defs: &[&Value]) -> Vec<usize> {
    let names: Vec<&str> = defs
        .iter()
        .map(|d| d.get("name").and_then(Value::as_str).unwrap_or(""))
        .collect();
    let deps = |i: usize| -> Vec<usize> {
        defs[i]
            .get("dependsOn")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.get("containerName").and_then(Value::as_str))
                    .filter_map(|n| names.iter().position(|x| *x == n))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut order = Vec::with_capacity(defs.len());
    let mut placed = vec![false; defs.len()];
    while order.len() < defs.len() {
        let next = (0..defs.len())
            .find(|&i| !placed[i] && deps(i).iter().all(|&d| placed[d] || d == i))
            .or_else(|| (0..defs.len()).find(|&i| !placed[i]));
        let Some(i) = next else { break };
        placed[i] = true;
        order.push(i);
    }
    order
}

/// Waits until every dependsOn condition of `def` holds (START, COMPLETE, SUCCESS, HEALTHY).
async fn wait_for_dependencies(host: &Arc<Host>, def: &Value, started: &[Running]) -> Result<(), String> {
    let Some(deps) = def.get("dependsOn").and_then(Value::as_array) else {
        return Ok(());
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(DEPENDENCY_TIMEOUT_S);
    for d in deps {
        let name = d.get("containerName").and_then(Value::as_str).unwrap_or_default();
        let condition = d.get("condition").and_then(Value::as_str).unwrap_or("START");
        let Some(dep) = started.iter().find(|r| r.name == name) else {
            continue;
        };
        loop {
            let info = host
                .runtime
                .inspect(&dep.runtime_id)
                .await
                .map_err(|e| format!("CannotStartContainerError: dependency {name}: {e}"))?;
            let holds = match condition {
                "START" => true,
                "COMPLETE" => !info.running,
                "SUCCESS" if !info.running => {
                    if info.exit_code == Some(0) {
                        true
                    } else {
                        return Err(format!(
                            "CannotStartContainerError: dependency {name} exited with code {} (condition SUCCESS)",
                            info.exit_code.unwrap_or(-1)
                        ));
                    }
                }
                "SUCCESS" => false,
                "HEALTHY" => match info.health.as_deref() {
                    Some("healthy") => true,
                    Some("unhealthy") => {
                        return Err(format!(
                            "CannotStartContainerError: dependency {name} is unhealthy (condition HEALTHY)"
                        ))
                    }
                    _ => false,
                },
                _ => true,
            };
            if holds {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("CannotStartContainerError: dependency {name} did not reach {condition} in {DEPENDENCY_TIMEOUT_S} s"));
            }
            tokio::time::sleep(Duration::from_millis(DEPENDENCY_POLL_MS)).await;
        }
    }
    Ok(())
}

/// RUNNING: until an essential container exits or the task is asked to stop.
async fn monitor(
    host: &Arc<Host>,
    scope: &Scope,
    key: &str,
    running: &[Running],
    wake: &mut watch::Receiver<()>,
    cancel: &CancellationToken,
) -> Result<Option<StopCause>, Halt> {
    let mut waits: JoinSet<(String, Result<i64, RuntimeError>)> = JoinSet::new();
    for r in running {
        let (runtime, id, name) = (host.runtime.clone(), r.runtime_id.clone(), r.name.clone());
        waits.spawn(async move { (name, runtime.wait(&id).await) });
    }
    let checks = running.iter().any(|r| r.has_health_check);
    let mut health_tick = tokio::time::interval(Duration::from_millis(HEALTH_POLL_MS));
    let mut last_health: HashMap<String, String> = HashMap::new();
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Err(Halt::Detached),
            done = waits.join_next() => {
                let Some(done) = done else { return Ok(None) };
                let Ok((name, exit)) = done else { continue };
                let exit_code = exit.ok();
                let essential = running.iter().any(|r| r.name == name && r.essential);
                if essential {
                    // Its exit code is written with the stop (one write fewer).
                    return Ok(Some(StopCause {
                        code: "EssentialContainerExited".into(),
                        reason: "Essential container in task exited".into(),
                    }));
                }
                let n = name.clone();
                host.records.update(scope, key, Box::new(move |t| {
                    if let Some(c) = t.containers.iter_mut().find(|c| c.name == n) {
                        c.last_status = "STOPPED".into();
                        c.exit_code = exit_code;
                    }
                })).await?;
            }
            changed = wake.changed() => {
                if changed.is_err() {
                    // The host is going away; cancellation follows.
                    std::future::pending::<()>().await;
                }
                match host.records.load(scope, key).await? {
                    None => return Ok(None),
                    Some(t) if t.desired_status == "STOPPED" => return Ok(None),
                    Some(_) => {}
                }
            }
            _ = health_tick.tick(), if checks => {
                let mut now: HashMap<String, String> = HashMap::new();
                for r in running.iter().filter(|r| r.has_health_check) {
                    if let Ok(info) = host.runtime.inspect(&r.runtime_id).await {
                        let status = match info.health.as_deref() {
                            Some("healthy") => "HEALTHY",
                            Some("unhealthy") => "UNHEALTHY",
                            _ => "UNKNOWN",
                        };
                        now.insert(r.name.clone(), status.to_string());
                    }
                }
                if now != last_health {
                    last_health = now.clone();
                    let essential: Vec<String> = running.iter().filter(|r| r.essential && r.has_health_check).map(|r| r.name.clone()).collect();
                    host.records.update(scope, key, Box::new(move |t| {
                        for c in &mut t.containers {
                            if let Some(s) = now.get(&c.name) {
                                c.health_status = s.clone();
                            }
                        }
                        let states: Vec<&str> = essential.iter().filter_map(|n| now.get(n).map(String::as_str)).collect();
                        t.health_status = if states.contains(&"UNHEALTHY") {
                            "UNHEALTHY"
                        } else if !states.is_empty() && states.iter().all(|s| *s == "HEALTHY") {
                            "HEALTHY"
                        } else {
                            "UNKNOWN"
                        }.into();
                    })).await?;
                }
            }
        }
    }
}

/// STOPPING → STOPPED: containers stopped (each with its stopTimeout), exit codes recorded,
/// address released, containers removed. `cause` None: the stop asked for (StopTask, the
/// service scheduler) already says why.
async fn finish(
    host: &Arc<Host>,
    scope: &Scope,
    key: &str,
    running: &[Running],
    cause: Option<StopCause>,
) -> Result<(), RecordsError> {
    let stopping_cause = cause.clone();
    host.records
        .update(
            scope,
            key,
            Box::new(move |t| {
                t.desired_status = "STOPPED".into();
                if t.last_status != "STOPPED" {
                    t.last_status = "STOPPING".into();
                }
                t.stopping_at.get_or_insert_with(now_s);
                if let Some(c) = stopping_cause {
                    if t.stop_code.is_none() {
                        t.stop_code = Some(c.code);
                        t.stopped_reason = Some(c.reason);
                    }
                }
                if let Some(n) = &mut t.network {
                    n.status = "DETACHING".into();
                }
            }),
        )
        .await?;
    let mut stops = JoinSet::new();
    for r in running {
        let (runtime, id, timeout_s) = (host.runtime.clone(), r.runtime_id.clone(), r.stop_timeout_s);
        stops.spawn(async move { runtime.stop(&id, timeout_s).await });
    }
    while stops.join_next().await.is_some() {}
    let mut exits: HashMap<String, (Option<i64>, Option<String>)> = HashMap::new();
    for r in running {
        if let Ok(info) = host.runtime.inspect(&r.runtime_id).await {
            let reason = info
                .oom_killed
                .then(|| "OutOfMemoryError: Container killed due to memory usage".to_string());
            exits.insert(r.name.clone(), (info.exit_code, reason));
        }
    }
    let ids: Vec<String> = running.iter().map(|r| r.runtime_id.clone()).collect();
    host.drain_logs(&ids, Duration::from_secs(LOG_DRAIN_TIMEOUT_S)).await;
    let failure = cause.filter(|c| c.code == "TaskFailedToStart").map(|c| c.reason);
    host.records
        .update(
            scope,
            key,
            Box::new(move |t| {
                let now = now_s();
                t.last_status = "STOPPED".into();
                t.execution_stopped_at.get_or_insert(now);
                t.stopped_at = Some(now);
                if t.stop_code.is_none() {
                    t.stop_code = Some("UserInitiated".into());
                }
                for c in &mut t.containers {
                    if let Some((code, reason)) = exits.remove(&c.name) {
                        c.exit_code = code.or(c.exit_code);
                        if reason.is_some() {
                            c.reason = reason;
                        }
                    } else if c.runtime_id.is_none() {
                        if let Some(f) = &failure {
                            c.reason.get_or_insert_with(|| f.clone());
                        }
                    }
                    // The bindings stay: the scheduler deregisters a bridge task's target by them.
                    c.last_status = "STOPPED".into();
                }
                if let Some(n) = &mut t.network {
                    n.status = "DELETED".into();
                }
            }),
        )
        .await?;
    remove_all(host, &ids).await;
    Ok(())
}

async fn remove_all(host: &Arc<Host>, ids: &[String]) {
    for id in ids {
        if let Err(e) = host.runtime.remove(id).await {
            tracing::warn!(container = %id, error = %e, "cannot remove a stopped task's container");
        }
    }
}

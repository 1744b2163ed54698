//! One reconcile step of one service, as a pure function: the service and its tasks as
//! stored, the clock and the target groups' verdicts in; the changed service and tasks and
//! the effects to carry out (launches, target registrations) out. The loop in
//! [`super`] runs it inside the service's write, so a step is all or nothing and a restart
//! simply continues from what is stored.

use std::collections::HashMap;

use crate::model::{Deployment, LoadBalancerRef, Service, ServiceEvent, Task, MAX_SERVICE_EVENTS};

/// The circuit breaker's threshold: max(3, min(200, ⌈0.5 × desired⌉)) failed launches.
pub fn circuit_breaker_threshold(desired: i64) -> i64 {
    let half = (desired + 1) / 2;
    half.clamp(0, 200).max(3)
}

/// Launch throttling after failures in a row: none for the first two, then 5 s doubling
/// up to 15 minutes (ECS throttles a crash-looping service in the same way).
pub fn throttle_s(consecutive_failures: i64) -> f64 {
    if consecutive_failures < 3 {
        return 0.0;
    }
    let steps = (consecutive_failures - 3).min(10) as u32;
    (5.0 * f64::from(2u32.pow(steps))).min(900.0)
}

/// A task with neither a target group nor a container health check counts as healthy once
/// it has kept running this long.
pub const UNCHECKED_SETTLE_S: f64 = 3.0;

/// What a step can change of a service, cheap to compare (events by the newest one's id: a
/// step only ever adds events).
#[derive(PartialEq)]
struct Fingerprint {
    status: String,
    task_definition: String,
    deployments: Vec<Deployment>,
    newest_event: Option<String>,
    last_completed: Option<String>,
    consecutive_failures: i64,
    launch_after_s: f64,
    steady_reported_at: Option<f64>,
    history: Vec<(String, String)>,
}

impl Fingerprint {
    fn of(s: &Service) -> Fingerprint {
        Fingerprint {
            status: s.status.clone(),
            task_definition: s.task_definition.clone(),
            deployments: s.deployments.clone(),
            newest_event: s.events.first().map(|e| e.id.clone()),
            last_completed: s.last_completed_task_definition.clone(),
            consecutive_failures: s.consecutive_failures,
            launch_after_s: s.launch_after_s,
            steady_reported_at: s.steady_reported_at,
            history: s.history.iter().map(|h| (h.digits.clone(), h.status.clone())).collect(),
        }
    }
}

/// What the step needs to know about one target group.
#[derive(Debug, Clone)]
pub struct GroupFacts {
    pub deregistration_delay_s: f64,
    /// `ip` or `instance`: how the group names a task's target.
    pub target_type: String,
}

/// The world outside the store: target health and the clock.
pub struct World<'a> {
    pub now_s: f64,
    /// (target group, ip, port) → `healthy`, `unhealthy`, `initial`, `draining`, ….
    pub health: &'a dyn Fn(&str, &str, i64) -> String,
    pub groups: &'a HashMap<String, GroupFacts>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start `count` tasks of `deployment`, spread over the subnets' zones.
    Launch {
        deployment: String,
        task_definition: String,
        count: usize,
    },
    Register {
        task_index: usize,
        target_group: String,
        ip: String,
        port: i64,
        zone: String,
    },
    Deregister {
        target_group: String,
        ip: String,
        port: i64,
    },
}

#[derive(Debug, Default)]
pub struct Step {
    pub effects: Vec<Effect>,
    /// Indexes of the tasks the step changed.
    pub changed_tasks: Vec<usize>,
    pub service_changed: bool,
}

impl Step {
    /// Whether carrying it out writes anything.
    pub fn touches(&self) -> bool {
        self.service_changed || !self.changed_tasks.is_empty() || !self.effects.is_empty()
    }
}

fn deployment_id() -> String {
    let digits: String = (0..19).map(|_| char::from(b'0' + rand::random::<u8>() % 10)).collect();
    format!("ecs-svc/{digits}")
}

/// A new PRIMARY deployment of `task_definition` for `desired` tasks.
pub fn new_deployment(task_definition: &str, desired: i64, launch_type: Option<String>, now_s: f64) -> Deployment {
    let id = deployment_id();
    Deployment {
        rollout_state_reason: format!("ECS deployment {id} in progress."),
        id,
        status: "PRIMARY".into(),
        task_definition: task_definition.to_string(),
        desired_count: desired,
        pending_count: 0,
        running_count: 0,
        failed_tasks: 0,
        created_at: now_s,
        updated_at: now_s,
        launch_type,
        rollout_state: "IN_PROGRESS".into(),
    }
}

/// The digits of a deployment id (`ecs-svc/123…` → `123…`): its service deployment's and
/// service revision's name.
pub fn digits(deployment_id: &str) -> &str {
    deployment_id.rsplit('/').next().unwrap_or(deployment_id)
}

/// Records the service deployment a new PRIMARY deployment `d` starts and the revision it
/// rolls out (`images`: the definition's containers); a deployment still in progress is
/// superseded.
pub fn record_deployment(s: &mut Service, d: &Deployment, images: Vec<(String, String)>, now: f64) {
    let sources: Vec<String> = s
        .deployments
        .iter()
        .filter(|x| x.id != d.id)
        .map(|x| digits(&x.id).to_string())
        .collect();
    for h in &mut s.history {
        if h.status == "IN_PROGRESS" || h.status == "PENDING" {
            h.status = "STOPPED".into();
            h.status_reason = "Superseded by a newer service deployment.".into();
            h.stopped_at = Some(now);
            h.updated_at = now;
        }
    }
    let id = digits(&d.id).to_string();
    s.revisions.push(crate::model::ServiceRevisionRecord {
        digits: id.clone(),
        created_at: now,
        task_definition: d.task_definition.clone(),
        launch_type: s.launch_type.clone(),
        platform_version: s.platform_version.clone(),
        network_configuration: s.network_configuration.clone(),
        load_balancers: s.load_balancers.clone(),
        images,
    });
    s.history.push(crate::model::ServiceDeploymentRecord {
        deployment_id: d.id.clone(),
        digits: id.clone(),
        created_at: now,
        updated_at: now,
        finished_at: None,
        stopped_at: None,
        status: "IN_PROGRESS".into(),
        status_reason: format!("ECS deployment {} in progress.", d.id),
        target_revision: id,
        source_revisions: sources,
        rollback_revision: None,
        rollback_deployment: None,
    });
    let keep = crate::model::MAX_SERVICE_HISTORY;
    if s.history.len() > keep {
        let extra = s.history.len() - keep;
        s.history.drain(..extra);
    }
    if s.revisions.len() > keep {
        let extra = s.revisions.len() - keep;
        s.revisions.drain(..extra);
    }
}

/// Stops the rollout of the PRIMARY deployment: rolled back to the last completed deployment
/// (`rollback`, when there is one) or left where it is.
pub fn stop_rollout(s: &mut Service, rollback: bool, reason: &str, now: f64) {
    let Some(failed) = s.deployments.first().cloned() else {
        return;
    };
    if let Some(d) = s.deployments.first_mut() {
        d.rollout_state = "FAILED".into();
        d.rollout_state_reason = reason.to_string();
        d.updated_at = now;
    }
    let name = s.name.clone();
    let target = s.last_completed_task_definition.clone().filter(|_| rollback);
    let Some(target) = target else {
        if let Some(h) = s.history.iter_mut().find(|h| h.deployment_id == failed.id) {
            h.status = "STOPPED".into();
            h.status_reason = reason.to_string();
            h.stopped_at = Some(now);
            h.updated_at = now;
        }
        return;
    };
    let mut back = new_deployment(&target, s.desired_count, s.launch_type.clone(), now);
    back.rollout_state_reason = format!(
        "ECS deployment circuit breaker: rolling back to deploymentId {}.",
        failed.id
    );
    if let Some(d) = s.deployments.first_mut() {
        d.status = "ACTIVE".into();
    }
    push_event(
        s,
        now,
        format!(
            "(service {name}) rolling back to deployment {} (task definition {target}).",
            back.id
        ),
    );
    let to_revision = s.last_completed_revision.clone();
    if let Some(h) = s.history.iter_mut().find(|h| h.deployment_id == failed.id) {
        h.status = "ROLLBACK_IN_PROGRESS".into();
        h.status_reason = reason.to_string();
        h.rollback_revision = to_revision;
        h.rollback_deployment = Some(back.id.clone());
        h.updated_at = now;
    }
    s.task_definition = target;
    s.consecutive_failures = 0;
    s.launch_after_s = 0.0;
    s.deployments.insert(0, back);
}

pub fn push_event(s: &mut Service, now_s: f64, message: String) {
    s.events.insert(
        0,
        ServiceEvent {
            id: uuid::Uuid::new_v4().to_string(),
            created_at: now_s,
            message,
        },
    );
    s.events.truncate(MAX_SERVICE_EVENTS);
}

/// The address and port a task is registered under in `lb`'s target group: its ENI's
/// address and the container port (awsvpc), or the host address and port the container
/// port is published on (bridge and host modes).
/// The target a task is in `lb`'s group: its ENI address and container port (awsvpc), or
/// its published host port on the host's address (`ip` groups) or the host's instance
/// (`instance` groups).
fn target_of(t: &Task, lb: &LoadBalancerRef, groups: &HashMap<String, GroupFacts>) -> Option<(String, i64)> {
    if let Some(n) = &t.network {
        return Some((n.private_ip.clone(), i64::from(lb.container_port)));
    }
    let binding = t
        .containers
        .iter()
        .find(|c| c.name == lb.container_name)?
        .network_bindings
        .iter()
        .find(|b| b.container_port == lb.container_port && b.host_port != 0)?;
    let by_instance = groups
        .get(&lb.target_group_arn)
        .is_some_and(|g| g.target_type == "instance");
    let id = if by_instance {
        t.host_instance_id.clone()?
    } else {
        binding.bind_ip.clone()
    };
    Some((id, i64::from(binding.host_port)))
}

fn is_live(t: &Task) -> bool {
    t.desired_status == "RUNNING" && !t.is_stopped()
}

/// Live and not being drained for a stop: what counts toward the desired count.
fn counts(t: &Task) -> bool {
    is_live(t) && t.draining_until_s.is_none()
}

fn stop(t: &mut Task, now_s: f64, reason: String) {
    t.desired_status = "STOPPED".into();
    t.stop_code = Some("ServiceSchedulerInitiated".into());
    t.stopped_reason = Some(reason);
    t.stopping_at.get_or_insert(now_s);
    t.version += 1;
}

/// A failed launch: stopped before it was ever healthy, for a reason of its own (not a
/// stop the scheduler or a user asked for, unless it was for failing health checks).
fn failed_launch(t: &Task) -> bool {
    if t.was_healthy {
        return false;
    }
    match t.stop_code.as_deref() {
        Some("TaskFailedToStart") | Some("EssentialContainerExited") => true,
        Some("ServiceSchedulerInitiated") => t
            .stopped_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("Task failed")),
        _ => false,
    }
}

/// One step for `s` over its tasks (every task of the service the store still has).
pub fn step(s: &mut Service, tasks: &mut [Task], w: &World<'_>) -> Step {
    let mut out = Step::default();
    let now = w.now_s;
    let name = s.name.clone();
    let before = Fingerprint::of(s);
    let grace_s = s.health_check_grace_period_s.unwrap_or(0) as f64;

    // 1. Tasks that stopped since the last step.
    for (i, t) in tasks.iter_mut().enumerate() {
        if !t.is_stopped() || t.stop_seen {
            continue;
        }
        t.stop_seen = true;
        out.changed_tasks.push(i);
        if t.registered {
            t.registered = false;
            for lb in &s.load_balancers {
                if let Some((ip, port)) = target_of(t, lb, w.groups) {
                    out.effects.push(Effect::Deregister {
                        target_group: lb.target_group_arn.clone(),
                        ip,
                        port,
                    });
                }
            }
        }
        if failed_launch(t) {
            if let Some(d) = s
                .deployments
                .iter_mut()
                .find(|d| Some(&d.id) == t.deployment_id.as_ref())
            {
                d.failed_tasks += 1;
            }
            s.consecutive_failures += 1;
            s.launch_after_s = now + throttle_s(s.consecutive_failures);
        }
    }

    // 2. Running tasks: register, judge health.
    let mut registered_per_group: HashMap<String, usize> = HashMap::new();
    let mut healthy: Vec<bool> = vec![false; tasks.len()];
    for (i, t) in tasks.iter_mut().enumerate() {
        if !counts(t) || t.last_status != "RUNNING" {
            continue;
        }
        let targets: Vec<(String, i64)> = s
            .load_balancers
            .iter()
            .filter_map(|lb| target_of(t, lb, w.groups))
            .collect();
        let reachable = targets.len() == s.load_balancers.len();
        if !s.load_balancers.is_empty() && !t.registered && reachable {
            for (lb, (ip, port)) in s.load_balancers.iter().zip(&targets) {
                out.effects.push(Effect::Register {
                    task_index: i,
                    target_group: lb.target_group_arn.clone(),
                    ip: ip.clone(),
                    port: *port,
                    zone: t.availability_zone.clone(),
                });
                *registered_per_group.entry(lb.target_group_arn.clone()).or_default() += 1;
            }
            t.registered = true;
            out.changed_tasks.push(i);
        }
        let verdicts: Vec<(String, String)> = if reachable && t.registered {
            s.load_balancers
                .iter()
                .zip(&targets)
                .map(|(lb, (ip, port))| (lb.target_group_arn.clone(), (w.health)(&lb.target_group_arn, ip, *port)))
                .collect()
        } else {
            Vec::new()
        };
        let lb_ok = s.load_balancers.is_empty() || (t.registered && verdicts.iter().all(|(_, v)| v == "healthy"));
        let container_ok = t.health_status != "UNHEALTHY";
        // With no health signal at all, a task of the deployment rolling out must keep
        // running a moment first: one that exits right after it started is a failed launch,
        // not capacity that lets older tasks go.
        let checked = !s.load_balancers.is_empty() || t.health_status == "HEALTHY";
        let rolling_out = s
            .deployments
            .first()
            .is_some_and(|d| Some(&d.id) == t.deployment_id.as_ref());
        let settled =
            checked || !rolling_out || t.started_at.is_some_and(|started| now - started >= UNCHECKED_SETTLE_S);
        healthy[i] = lb_ok && container_ok && settled;
        if healthy[i] && !t.was_healthy {
            t.was_healthy = true;
            out.changed_tasks.push(i);
            s.consecutive_failures = 0;
            s.launch_after_s = 0.0;
        }
        let in_grace = t.started_at.is_some_and(|started| now - started < grace_s);
        if in_grace {
            continue;
        }
        if let Some((group, _)) = verdicts.iter().find(|(_, v)| v == "unhealthy") {
            let reason = format!("Task failed ELB health checks in (target-group {group})");
            push_event(
                s,
                now,
                format!(
                    "(service {name}) (task {}) failed ELB health checks in (target-group {group})",
                    t.id
                ),
            );
            begin_stop(s, t, i, now, w, reason, &mut out);
            healthy[i] = false;
        } else if !container_ok {
            let reason = "Task failed container health checks".to_string();
            push_event(
                s,
                now,
                format!("(service {name}) (task {}) failed container health checks.", t.id),
            );
            begin_stop(s, t, i, now, w, reason, &mut out);
            healthy[i] = false;
        }
    }
    for (group, n) in registered_per_group {
        push_event(
            s,
            now,
            format!("(service {name}) registered {n} targets in (target-group {group})"),
        );
    }

    // 3. Drained tasks stop: the delay is over, or no target group is left to drain from.
    let groups_gone = !s.load_balancers.is_empty()
        && s.load_balancers
            .iter()
            .all(|lb| !w.groups.contains_key(&lb.target_group_arn));
    for (i, t) in tasks.iter_mut().enumerate() {
        if is_live(t) && t.draining_until_s.is_some_and(|until| now >= until || groups_gone) {
            let reason = t.stopped_reason.clone().unwrap_or_default();
            stop(t, now, reason);
            out.changed_tasks.push(i);
        }
    }

    // 4. Deployments: the circuit breaker, then what to start and stop.
    let desired = if s.status == "ACTIVE" { s.desired_count } else { 0 };
    if let Some(primary) = s.deployments.first().cloned() {
        if s.circuit_breaker_enable
            && primary.rollout_state == "IN_PROGRESS"
            && primary.failed_tasks >= circuit_breaker_threshold(desired)
        {
            trip_circuit_breaker(s, &primary, now);
        }
    }
    let Some(primary_id) = s.deployments.first().map(|d| d.id.clone()) else {
        finish_counts(s, tasks, &healthy, now, &mut out, before);
        return out;
    };
    let primary_failed = s.deployments[0].rollout_state == "FAILED";
    let max_total = desired * s.maximum_percent / 100;
    let min_healthy = (desired * s.minimum_healthy_percent + 99) / 100;
    let primary_live = tasks
        .iter()
        .filter(|t| counts(t) && t.deployment_id.as_deref() == Some(primary_id.as_str()))
        .count() as i64;
    let total_live = tasks.iter().filter(|t| counts(t)).count() as i64;
    let healthy_total = tasks
        .iter()
        .enumerate()
        .filter(|(i, t)| counts(t) && healthy[*i])
        .count() as i64;

    if s.status == "ACTIVE" && !primary_failed && now >= s.launch_after_s {
        let room = (max_total - total_live).max(0);
        let want = (desired - primary_live).max(0).min(room);
        if want > 0 {
            out.effects.push(Effect::Launch {
                deployment: primary_id.clone(),
                task_definition: s.deployments[0].task_definition.clone(),
                count: want as usize,
            });
        }
    }

    // Stop candidates: tasks of older deployments (or the primary's beyond the desired
    // count), not-healthy ones first; a healthy one only while min healthy still holds.
    let mut candidates: Vec<usize> = tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| counts(t) && t.deployment_id.as_deref() != Some(primary_id.as_str()))
        .map(|(i, _)| i)
        .collect();
    let excess = primary_live - desired;
    if excess > 0 {
        let mut primaries: Vec<usize> = tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| counts(t) && t.deployment_id.as_deref() == Some(primary_id.as_str()))
            .map(|(i, _)| i)
            .collect();
        primaries.sort_by(|a, b| {
            healthy[*a]
                .cmp(&healthy[*b])
                .then(tasks[*b].created_at.total_cmp(&tasks[*a].created_at))
        });
        candidates.extend(primaries.into_iter().take(excess as usize));
    }
    // Protected tasks are left alone until their protection ends.
    candidates.retain(|i| !tasks[*i].protection_expires_at.is_some_and(|until| until > now));
    candidates.sort_by_key(|i| healthy[*i]);
    let mut healthy_left = healthy_total;
    let mut stopped_ids = Vec::new();
    let mut drained = 0usize;
    for i in candidates {
        if healthy[i] {
            if healthy_left - 1 < min_healthy && desired > 0 {
                continue;
            }
            healthy_left -= 1;
        }
        let deployment = tasks[i].deployment_id.clone().unwrap_or_default();
        let reason = format!("Scaling activity initiated by (deployment {deployment})");
        let was_registered = tasks[i].registered;
        begin_stop(s, &mut tasks[i], i, now, w, reason, &mut out);
        if was_registered && tasks[i].draining_until_s.is_some() && is_live(&tasks[i]) {
            drained += 1;
        }
        stopped_ids.push(tasks[i].id.clone());
    }
    if drained > 0 {
        push_event(
            s,
            now,
            format!("(service {name}) has begun draining connections on {drained} tasks."),
        );
    }
    if !stopped_ids.is_empty() {
        let list: Vec<String> = stopped_ids.iter().map(|id| format!("(task {id})")).collect();
        push_event(
            s,
            now,
            format!(
                "(service {name}) has stopped {} running tasks: {}.",
                stopped_ids.len(),
                list.join(" ")
            ),
        );
    }
    finish_counts(s, tasks, &healthy, now, &mut out, before);
    out
}

/// Starts stopping a service task: deregistered and drained first when it is a target.
fn begin_stop(s: &Service, t: &mut Task, i: usize, now: f64, w: &World<'_>, reason: String, out: &mut Step) {
    out.changed_tasks.push(i);
    if t.registered {
        t.registered = false;
        let mut delay = 0.0f64;
        for lb in &s.load_balancers {
            let Some((ip, port)) = target_of(t, lb, w.groups) else {
                continue;
            };
            out.effects.push(Effect::Deregister {
                target_group: lb.target_group_arn.clone(),
                ip,
                port,
            });
            let d = w
                .groups
                .get(&lb.target_group_arn)
                .map_or(0.0, |g| g.deregistration_delay_s);
            delay = delay.max(d);
        }
        if delay > 0.0 {
            t.draining_until_s = Some(now + delay);
            t.stopped_reason = Some(reason);
            t.version += 1;
            return;
        }
    }
    stop(t, now, reason);
}

fn trip_circuit_breaker(s: &mut Service, failed: &Deployment, now: f64) {
    let name = s.name.clone();
    push_event(
        s,
        now,
        format!(
            "(service {name}) (deployment {}) deployment failed: tasks failed to start.",
            failed.id
        ),
    );
    let rollback = s.circuit_breaker_rollback;
    stop_rollout(
        s,
        rollback,
        "ECS deployment circuit breaker: tasks failed to start.",
        now,
    );
}

/// Counts per deployment, completion, steady state, drained deployments, a deleted service
/// becoming INACTIVE.
fn finish_counts(s: &mut Service, tasks: &[Task], healthy: &[bool], now: f64, out: &mut Step, before: Fingerprint) {
    let name = s.name.clone();
    for d in &mut s.deployments {
        let mine = |t: &&Task| t.deployment_id.as_deref() == Some(d.id.as_str()) && is_live(t);
        let running = tasks.iter().filter(mine).filter(|t| t.last_status == "RUNNING").count() as i64;
        let pending = tasks.iter().filter(mine).filter(|t| t.last_status != "RUNNING").count() as i64;
        if d.running_count != running || d.pending_count != pending {
            d.running_count = running;
            d.pending_count = pending;
            d.updated_at = now;
        }
    }
    let desired = if s.status == "ACTIVE" { s.desired_count } else { 0 };
    if let Some(primary) = s.deployments.first_mut() {
        primary.desired_count = desired;
    }
    // Older deployments leave the list once they have no tasks left (a FAILED one stays
    // until the deployment replacing it completes, as in ECS).
    let primary_completed = s.deployments.first().is_some_and(|d| d.rollout_state == "COMPLETED");
    let has_tasks = |id: &str| {
        tasks
            .iter()
            .any(|t| t.deployment_id.as_deref() == Some(id) && is_live(t))
    };
    let first = s.deployments.first().map(|d| d.id.clone());
    s.deployments.retain(|d| {
        Some(&d.id) == first.as_ref() || has_tasks(&d.id) || (d.rollout_state == "FAILED" && !primary_completed)
    });
    // Completion: no other deployment has tasks left, all the primary's are running and
    // healthy.
    let single = s.deployments.iter().skip(1).all(|d| !has_tasks(&d.id));
    let primary_healthy = s.deployments.first().map_or(0, |p| {
        tasks
            .iter()
            .enumerate()
            .filter(|(i, t)| counts(t) && t.deployment_id.as_deref() == Some(p.id.as_str()) && healthy[*i])
            .count() as i64
    });
    let draining = tasks.iter().any(|t| is_live(t) && t.draining_until_s.is_some());
    let mut completed_now = None;
    if let Some(p) = s.deployments.first_mut() {
        let done =
            single && p.running_count == desired && p.pending_count == 0 && primary_healthy == desired && !draining;
        if s.status == "ACTIVE" && p.rollout_state == "IN_PROGRESS" && done {
            p.rollout_state = "COMPLETED".into();
            p.rollout_state_reason = format!("ECS deployment {} completed.", p.id);
            p.updated_at = now;
            completed_now = Some((p.id.clone(), p.task_definition.clone()));
        }
    }
    if let Some((id, td)) = completed_now {
        push_event(
            s,
            now,
            format!("(service {name}) (deployment {id}) deployment completed."),
        );
        s.last_completed_task_definition = Some(td);
        s.deployments.truncate(1);
        let done = digits(&id).to_string();
        let rolled_back = s
            .history
            .iter()
            .position(|h| h.rollback_deployment.as_deref() == Some(id.as_str()));
        let entry = rolled_back.or_else(|| s.history.iter().position(|h| h.deployment_id == id));
        if let Some(h) = entry.and_then(|i| s.history.get_mut(i)) {
            h.status = if rolled_back.is_some() {
                "ROLLBACK_SUCCESSFUL"
            } else {
                "SUCCESSFUL"
            }
            .into();
            h.status_reason = format!("ECS deployment {id} completed.");
            h.finished_at = Some(now);
            h.updated_at = now;
        }
        if rolled_back.is_none() {
            s.last_completed_revision = Some(done);
        }
    }
    let steady = s.status == "ACTIVE"
        && s.deployments.len() == 1
        && s.deployments.first().is_some_and(|p| {
            p.rollout_state != "IN_PROGRESS"
                && p.running_count == desired
                && p.pending_count == 0
                && primary_healthy == desired
        })
        && !draining;
    match (steady, s.steady_reported_at) {
        (true, None) => {
            push_event(s, now, format!("(service {name}) has reached a steady state."));
            s.steady_reported_at = Some(now);
        }
        (false, Some(_)) => s.steady_reported_at = None,
        _ => {}
    }
    if s.status == "DRAINING" && !tasks.iter().any(is_live) {
        s.status = "INACTIVE".into();
        for d in &mut s.deployments {
            d.status = "INACTIVE".into();
        }
    }
    out.changed_tasks.sort_unstable();
    out.changed_tasks.dedup();
    out.service_changed = before != Fingerprint::of(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_and_backoff() {
        assert_eq!(circuit_breaker_threshold(1), 3);
        assert_eq!(circuit_breaker_threshold(2), 3);
        assert_eq!(circuit_breaker_threshold(10), 5);
        assert_eq!(circuit_breaker_threshold(1000), 200);
        assert_eq!(throttle_s(2), 0.0);
        assert_eq!(throttle_s(3), 5.0);
        assert_eq!(throttle_s(4), 10.0);
        assert_eq!(throttle_s(40), 900.0);
    }
}

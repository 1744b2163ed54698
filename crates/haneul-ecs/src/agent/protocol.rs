//! What an agent and the server say to each other about a task, both directions in one
//! place: the agent reads its tasks as DescribeTasks shows them ([`task_from_view`]) and
//! reports what its driver did as a SubmitTaskStateChange ([`state_change`]), which the
//! server applies to the stored task ([`apply_state_change`]).
//!
//! ECS's real agent sends container health over its telemetry connection; here it rides in
//! the same state change as `healthStatus` members (task and container), which the model's
//! shapes do not have and the server reads from the raw request.

use serde_json::{json, Value};

use crate::model::{NetworkBinding, Task, TaskContainer, TaskNetwork};

/// The order a task's lastStatus moves through; a report never moves it back.
const STATUS_ORDER: [&str; 8] = [
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
];

pub fn status_rank(status: &str) -> usize {
    STATUS_ORDER.iter().position(|s| *s == status).unwrap_or(0)
}

/// The SubmitTaskStateChange input that reports `task` as the agent's driver left it.
pub fn state_change(task: &Task) -> Value {
    let containers: Vec<Value> = task
        .containers
        .iter()
        .map(|c| {
            let mut v = json!({
                "containerName": c.name,
                "status": c.last_status,
                "healthStatus": c.health_status,
                "networkBindings": c.network_bindings.iter().map(|b| json!({
                    "bindIP": b.bind_ip, "containerPort": b.container_port, "hostPort": b.host_port, "protocol": b.protocol,
                })).collect::<Vec<_>>(),
            });
            if let Some(id) = &c.runtime_id {
                v["runtimeId"] = json!(id);
            }
            if let Some(code) = c.exit_code {
                v["exitCode"] = json!(code);
            }
            if let Some(r) = &c.reason {
                v["reason"] = json!(truncate(r, 255));
            }
            if let Some(d) = &c.image_digest {
                v["imageDigest"] = json!(d);
            }
            v
        })
        .collect();
    let mut v = json!({
        "cluster": task.cluster,
        "task": task.arn,
        "status": task.last_status,
        "healthStatus": task.health_status,
        "containers": containers,
    });
    if let Some(n) = &task.network {
        v["attachments"] = json!([{ "attachmentArn": n.attachment_id, "status": n.status }]);
    }
    if let Some(r) = &task.stopped_reason {
        v["reason"] = json!(truncate(r, 255));
    }
    for (k, t) in [
        ("pullStartedAt", task.pull_started_at),
        ("pullStoppedAt", task.pull_stopped_at),
        ("executionStoppedAt", task.execution_stopped_at),
    ] {
        if let Some(t) = t {
            v[k] = json!(t);
        }
    }
    v
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => text[..at].to_string(),
        None => text.to_string(),
    }
}

fn bindings(v: &Value) -> Option<Vec<NetworkBinding>> {
    let a = v.as_array()?;
    Some(
        a.iter()
            .map(|b| NetworkBinding {
                bind_ip: b.get("bindIP").and_then(Value::as_str).unwrap_or("0.0.0.0").to_string(),
                container_port: b.get("containerPort").and_then(Value::as_u64).unwrap_or(0) as u16,
                host_port: b.get("hostPort").and_then(Value::as_u64).unwrap_or(0) as u16,
                protocol: b.get("protocol").and_then(Value::as_str).unwrap_or("tcp").to_string(),
            })
            .collect(),
    )
}

/// Applies one container's reported state (SubmitContainerStateChange's fields, or one item
/// of SubmitTaskStateChange's containers).
pub fn apply_container_change(c: &mut TaskContainer, report: &Value) {
    let s = |k: &str| report.get(k).and_then(Value::as_str).map(str::to_string);
    if let Some(status) = s("status") {
        // A container never comes back from STOPPED.
        if c.last_status != "STOPPED" {
            c.last_status = status;
        }
    }
    if let Some(id) = s("runtimeId") {
        c.runtime_id = Some(id);
    }
    if let Some(code) = report.get("exitCode").and_then(Value::as_i64) {
        c.exit_code = Some(code);
    }
    if let Some(r) = s("reason") {
        c.reason = Some(r);
    }
    if let Some(d) = s("imageDigest") {
        c.image_digest = Some(d);
    }
    if let Some(h) = s("healthStatus") {
        c.health_status = h;
    }
    if let Some(b) = report.get("networkBindings").and_then(bindings) {
        if !b.is_empty() || c.network_bindings.is_empty() {
            c.network_bindings = b;
        }
    }
}

/// Applies a SubmitTaskStateChange (the raw input) to the stored task, at `now_s`.
/// lastStatus only moves forward; a task the agent stopped on its own gets ECS's stop code.
pub fn apply_state_change(task: &mut Task, report: &Value, now_s: f64) {
    let s = |k: &str| report.get(k).and_then(Value::as_str).map(str::to_string);
    let f = |k: &str| report.get(k).and_then(Value::as_f64);
    if let Some(status) = s("status").filter(|st| STATUS_ORDER.contains(&st.as_str())) {
        if status_rank(&status) > status_rank(&task.last_status) {
            task.last_status = status;
        }
    }
    if let Some(t) = f("pullStartedAt") {
        task.pull_started_at = Some(t);
    }
    if let Some(t) = f("pullStoppedAt") {
        task.pull_stopped_at = Some(t);
    }
    if let Some(h) = s("healthStatus") {
        task.health_status = h;
    }
    for item in report.get("containers").and_then(Value::as_array).into_iter().flatten() {
        let name = item.get("containerName").and_then(Value::as_str).unwrap_or_default();
        if let Some(c) = task.containers.iter_mut().find(|c| c.name == name) {
            apply_container_change(c, item);
        }
    }
    for a in report
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(n), Some(status)) = (&mut task.network, a.get("status").and_then(Value::as_str)) {
            let arn = a.get("attachmentArn").and_then(Value::as_str).unwrap_or_default();
            if arn.ends_with(&n.attachment_id) {
                n.status = status.to_string();
            }
        }
    }
    let rank = status_rank(&task.last_status);
    if rank >= status_rank("RUNNING") && task.started_at.is_none() && rank < status_rank("STOPPING") {
        task.started_at = Some(now_s);
        task.connectivity_at = Some(now_s);
    }
    if rank >= status_rank("STOPPING") {
        if task.desired_status != "STOPPED" {
            // The agent stopped it on its own: an essential container exited, or it never started.
            task.desired_status = "STOPPED".into();
            if task.stop_code.is_none() {
                let failed_to_start = task.started_at.is_none();
                task.stop_code = Some(
                    if failed_to_start {
                        "TaskFailedToStart"
                    } else {
                        "EssentialContainerExited"
                    }
                    .into(),
                );
                task.stopped_reason = Some(s("reason").unwrap_or_else(|| "Essential container in task exited".into()));
            }
        }
        task.stopping_at.get_or_insert(now_s);
    }
    if task.last_status == "STOPPED" {
        task.execution_stopped_at = Some(f("executionStoppedAt").unwrap_or(now_s));
        task.stopped_at.get_or_insert(now_s);
        for c in &mut task.containers {
            c.last_status = "STOPPED".into();
        }
    }
}

/// The task as an agent drives it, from DescribeTasks's view of it and its task definition
/// (DescribeTaskDefinition's `taskDefinition`). None when the view lacks what a task needs.
pub fn task_from_view(view: &Value, definition: &Value) -> Option<Task> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let f = |k: &str| view.get(k).and_then(Value::as_f64);
    let arn = s(view, "taskArn")?;
    // arn:aws:ecs:region:account:task/cluster/id
    let mut path = arn.rsplit('/');
    let id = path.next()?.to_string();
    let cluster = path.next()?.to_string();
    let defs = crate::runtime::spec::containers_of(definition);
    let containers = view
        .get("containers")
        .and_then(Value::as_array)?
        .iter()
        .map(|c| {
            let name = s(c, "name").unwrap_or_default();
            let def = defs
                .iter()
                .find(|d| d.get("name").and_then(Value::as_str) == Some(name.as_str()));
            let n = |k: &str| c.get(k).and_then(Value::as_str).and_then(|v| v.parse::<i64>().ok());
            TaskContainer {
                arn: s(c, "containerArn").unwrap_or_default(),
                image: s(c, "image").unwrap_or_default(),
                image_digest: s(c, "imageDigest"),
                runtime_id: s(c, "runtimeId"),
                last_status: s(c, "lastStatus").unwrap_or_else(|| "PENDING".into()),
                exit_code: c.get("exitCode").and_then(Value::as_i64),
                reason: s(c, "reason"),
                health_status: s(c, "healthStatus").unwrap_or_else(|| "UNKNOWN".into()),
                essential: def
                    .and_then(|d| d.get("essential").and_then(Value::as_bool))
                    .unwrap_or(true),
                network_bindings: c.get("networkBindings").and_then(bindings).unwrap_or_default(),
                cpu: n("cpu"),
                memory: n("memory"),
                memory_reservation: n("memoryReservation"),
                name,
            }
        })
        .collect();
    let network = view
        .get("attachments")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|x| x.get("type").and_then(Value::as_str) == Some("ElasticNetworkInterface"))
        })
        .map(|a| {
            let detail = |name: &str| {
                a.get("details")
                    .and_then(Value::as_array)
                    .and_then(|d| d.iter().find(|x| x.get("name").and_then(Value::as_str) == Some(name)))
                    .and_then(|x| x.get("value").and_then(Value::as_str))
                    .unwrap_or_default()
                    .to_string()
            };
            TaskNetwork {
                attachment_id: s(a, "id").unwrap_or_default(),
                eni_id: detail("networkInterfaceId"),
                private_ip: detail("privateIPv4Address"),
                subnet_id: detail("subnetId"),
                mac: detail("macAddress"),
                status: s(a, "status").unwrap_or_default(),
            }
        });
    let (family, revision) = (
        definition
            .get("family")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        definition.get("revision").and_then(Value::as_i64).unwrap_or(0),
    );
    let mut overrides = view.get("overrides").cloned().unwrap_or_else(|| json!({}));
    // The view lists every container in containerOverrides; only real overrides matter.
    if let Some(list) = overrides.get_mut("containerOverrides").and_then(Value::as_array_mut) {
        list.retain(|o| o.as_object().is_some_and(|m| m.len() > 1));
    }
    Some(Task {
        id,
        arn,
        cluster,
        task_definition_arn: s(view, "taskDefinitionArn").unwrap_or_default(),
        family,
        revision,
        definition: serde_json::value::RawValue::from_string(definition.to_string()).ok()?,
        overrides,
        launch_type: s(view, "launchType"),
        capacity_provider: s(view, "capacityProviderName"),
        platform_version: s(view, "platformVersion"),
        group: s(view, "group"),
        started_by: s(view, "startedBy"),
        service: None,
        deployment_id: None,
        desired_status: s(view, "desiredStatus").unwrap_or_else(|| "RUNNING".into()),
        last_status: s(view, "lastStatus").unwrap_or_else(|| "PROVISIONING".into()),
        health_status: s(view, "healthStatus").unwrap_or_else(|| "UNKNOWN".into()),
        created_at: f("createdAt").unwrap_or(0.0),
        pull_started_at: f("pullStartedAt"),
        pull_stopped_at: f("pullStoppedAt"),
        started_at: f("startedAt"),
        connectivity_at: f("connectivityAt"),
        stopping_at: f("stoppingAt"),
        execution_stopped_at: f("executionStoppedAt"),
        stopped_at: f("stoppedAt"),
        stop_code: s(view, "stopCode"),
        stopped_reason: s(view, "stoppedReason"),
        containers,
        network,
        availability_zone: s(view, "availabilityZone").unwrap_or_default(),
        host: s(view, "containerInstanceArn").unwrap_or_default(),
        cpu: s(view, "cpu"),
        memory: s(view, "memory"),
        enable_execute_command: view
            .get("enableExecuteCommand")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        tags: json!([]),
        version: view.get("version").and_then(Value::as_i64).unwrap_or(1),
        registered: false,
        was_healthy: false,
        draining_until_s: None,
        stop_seen: false,
        protection_expires_at: None,
        booked: None,
        host_instance_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_round_trips_and_never_moves_back() {
        let definition = json!({
            "family": "web", "revision": 3, "networkMode": "bridge",
            "containerDefinitions": [{ "name": "web", "image": "img", "essential": true }],
        });
        let view = json!({
            "taskArn": "arn:aws:ecs:us-east-1:000000000000:task/demo/abc",
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3",
            "desiredStatus": "RUNNING", "lastStatus": "PROVISIONING",
            "containerInstanceArn": "arn:aws:ecs:us-east-1:000000000000:container-instance/demo/ci1",
            "containers": [{ "name": "web", "image": "img", "lastStatus": "PENDING",
                             "containerArn": "arn:c", "networkBindings": [] }],
            "overrides": { "containerOverrides": [{ "name": "web" }] },
        });
        let mut agent = task_from_view(&view, &definition).unwrap();
        assert_eq!(
            (agent.cluster.as_str(), agent.id.as_str(), agent.revision),
            ("demo", "abc", 3)
        );
        assert_eq!(agent.overrides["containerOverrides"], json!([]));
        let mut server = agent.clone();
        agent.last_status = "RUNNING".into();
        agent.containers[0].runtime_id = Some("c1".into());
        agent.containers[0].network_bindings = vec![NetworkBinding {
            bind_ip: "127.0.0.9".into(),
            container_port: 80,
            host_port: 32768,
            protocol: "tcp".into(),
        }];
        apply_state_change(&mut server, &state_change(&agent), 100.0);
        assert_eq!(server.last_status, "RUNNING");
        assert_eq!(server.started_at, Some(100.0));
        assert_eq!(server.containers[0].network_bindings[0].host_port, 32768);
        apply_state_change(&mut server, &json!({ "status": "PENDING" }), 101.0);
        assert_eq!(server.last_status, "RUNNING");
        agent.last_status = "STOPPED".into();
        agent.stopped_reason = Some("Essential container in task exited".into());
        apply_state_change(&mut server, &state_change(&agent), 102.0);
        assert_eq!(server.desired_status, "STOPPED");
        assert_eq!(server.stop_code.as_deref(), Some("EssentialContainerExited"));
        assert_eq!(server.stopped_at, Some(102.0));
    }
}

//! The task metadata endpoint, version 4, as ECS serves it to a task's containers:
//! `${ECS_CONTAINER_METADATA_URI_V4}` (the container), `…/task` (the task and all its
//! containers). haneul serves it on the task endpoint (the host's address on the containers'
//! network), read from the store, so a task's containers see what DescribeTasks says.
//! The URI names the container: `/v4/<account>.<region>.<cluster>.<task id>.<container>`
//! (none of these contain a dot).

use haneul_store::{Scope, Store};
use serde_json::{json, Value};

use crate::model::{task_key, Task, TaskContainer, KIND_TASK};

/// The metadata URI for one container of a task, under the task endpoint `base`.
pub fn container_uri(base: &str, scope: &Scope, task: &Task, container: &str) -> String {
    format!(
        "{}/v4/{}.{}.{}.{}.{container}",
        base.trim_end_matches('/'),
        scope.account_id,
        scope.region,
        task.cluster,
        task.id
    )
}

fn iso(t: Option<f64>) -> Value {
    t.map(|s| Value::from(haneul_wire::value::iso8601(&json!(s))))
        .unwrap_or(Value::Null)
}

fn container_view(task: &Task, c: &TaskContainer, definition: &Value) -> Value {
    let def = crate::runtime::spec::containers_of(definition)
        .into_iter()
        .find(|d| d.get("name").and_then(Value::as_str) == Some(c.name.as_str()));
    let log = def.and_then(|d| d.get("logConfiguration"));
    let mut networks = Vec::new();
    match &task.network {
        Some(n) => networks.push(json!({
            "NetworkMode": "awsvpc",
            "IPv4Addresses": [n.private_ip],
            "AttachmentIndex": 0,
            "MACAddress": n.mac,
            "PrivateDNSName": format!("ip-{}.ec2.internal", n.private_ip.replace('.', "-")),
        })),
        None => networks.push(json!({
            "NetworkMode": definition.get("networkMode").and_then(Value::as_str).unwrap_or("bridge"),
            "IPv4Addresses": c.network_bindings.first().map(|b| vec![b.bind_ip.clone()]).unwrap_or_default(),
        })),
    }
    let mut v = json!({
        "DockerId": c.runtime_id,
        "Name": c.name,
        "DockerName": c.runtime_id.as_ref().map(|_| format!("ecs-{}-{}-{}", task.family, task.revision, c.name)),
        "Image": c.image,
        "ImageID": c.image_digest,
        "Labels": {
            "com.amazonaws.ecs.cluster": task.cluster,
            "com.amazonaws.ecs.container-name": c.name,
            "com.amazonaws.ecs.task-arn": task.arn,
            "com.amazonaws.ecs.task-definition-family": task.family,
            "com.amazonaws.ecs.task-definition-version": task.revision.to_string(),
        },
        "DesiredStatus": task.desired_status,
        "KnownStatus": c.last_status,
        "Limits": { "CPU": c.cpu.unwrap_or(0), "Memory": c.memory.or(c.memory_reservation).unwrap_or(0) },
        "CreatedAt": iso(Some(task.created_at)),
        "StartedAt": iso(task.started_at),
        "Type": "NORMAL",
        "ContainerARN": c.arn,
        "Networks": networks,
        "Ports": c.network_bindings.iter().map(|b| json!({
            "ContainerPort": b.container_port, "Protocol": b.protocol, "HostPort": b.host_port, "HostIp": b.bind_ip,
        })).collect::<Vec<_>>(),
    });
    if let Some(code) = c.exit_code {
        v["ExitCode"] = json!(code);
    }
    if c.health_status != "UNKNOWN" {
        v["Health"] = json!({ "status": c.health_status });
    }
    if let Some(log) = log {
        v["LogDriver"] = log.get("logDriver").cloned().unwrap_or(Value::Null);
        v["LogOptions"] = log.get("options").cloned().unwrap_or(Value::Null);
    }
    v
}

fn task_view(task: &Task, definition: &Value) -> Value {
    json!({
        "Cluster": task.cluster,
        "TaskARN": task.arn,
        "Family": task.family,
        "Revision": task.revision.to_string(),
        "DesiredStatus": task.desired_status,
        "KnownStatus": task.last_status,
        "Limits": {
            "CPU": task.cpu.as_deref().and_then(|c| c.parse::<f64>().ok()).map(|c| c / 1024.0),
            "Memory": task.memory.as_deref().and_then(|m| m.parse::<i64>().ok()),
        },
        "PullStartedAt": iso(task.pull_started_at),
        "PullStoppedAt": iso(task.pull_stopped_at),
        "ExecutionStoppedAt": iso(task.execution_stopped_at),
        "AvailabilityZone": task.availability_zone,
        "LaunchType": task.launch_type.clone().unwrap_or_else(|| "EC2".into()),
        "Containers": task.containers.iter().map(|c| container_view(task, c, definition)).collect::<Vec<_>>(),
        "ClockDrift": { "ClockErrorBound": 0.5, "ReferenceTimestamp": iso(Some(haneul_wire::value::now_epoch_s())), "ClockSynchronizationStatus": "SYNCHRONIZED" },
    })
}

/// Answers a metadata request (`path` under `/v4/`): status and JSON body. A container
/// reads its metadata as soon as it starts, before its task's RUNNING write lands: what the
/// store does not have yet (its Docker id and state) is asked of `runtime`, the engine that
/// runs it.
pub async fn answer(store: &Store, runtime: &dyn super::Runtime, path: &str) -> (u16, Value) {
    let not_found = |m: &str| (404, json!({ "message": m }));
    let Some(rest) = path.strip_prefix("/v4/") else {
        return not_found("not a task metadata path");
    };
    let (token, what) = match rest.split_once('/') {
        Some((t, w)) => (t, w.trim_end_matches('/')),
        None => (rest, ""),
    };
    let parts: Vec<&str> = token.split('.').collect();
    let [account, region, cluster, task_id, container] = parts[..] else {
        return not_found("unknown container");
    };
    let scope = Scope::new(account, region);
    let key = task_key(cluster, task_id);
    let mut task = match store.read(move |t| t.get::<Task>(&scope, KIND_TASK, &key)).await {
        Ok(Some(task)) => task,
        Ok(None) => return not_found("unknown container"),
        Err(e) => return (500, json!({ "message": e.to_string() })),
    };
    if !task.containers.iter().any(|c| c.name == container) {
        return not_found("unknown container");
    }
    if task.containers.iter().any(|c| c.runtime_id.is_none()) {
        if let Ok(found) = runtime.list(super::LABEL_TASK_ARN, &task.arn).await {
            for c in task.containers.iter_mut().filter(|c| c.runtime_id.is_none()) {
                let mine = found
                    .iter()
                    .find(|f| f.labels.get(super::LABEL_CONTAINER_NAME) == Some(&c.name));
                if let Some(f) = mine {
                    c.runtime_id = Some(f.id.clone());
                    if f.running {
                        c.last_status = "RUNNING".into();
                    }
                }
            }
        }
    }
    let Some(c) = task.containers.iter().find(|c| c.name == container) else {
        return not_found("unknown container");
    };
    let definition = task.definition();
    match what {
        "" => (200, container_view(&task, c, &definition)),
        "task" => (200, task_view(&task, &definition)),
        "stats" | "task/stats" => not_found("container statistics are not collected by haneul"),
        _ => not_found("unknown task metadata path"),
    }
}

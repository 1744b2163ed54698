//! From a task (its task definition snapshot and overrides) to the engine's container specs.

use std::collections::HashMap;

use serde_json::Value;

use super::{
    ContainerSpec, HealthCheck, PortBinding, Ulimit, LABEL_CLUSTER, LABEL_CONTAINER_NAME, LABEL_FAMILY, LABEL_INSTANCE,
    LABEL_TASK_ARN, LABEL_VERSION,
};
use crate::model::Task;

/// ECS's default stopTimeout (seconds between SIGTERM and SIGKILL).
pub const DEFAULT_STOP_TIMEOUT_S: i64 = 30;

/// What the host adds to every container's environment and labels.
pub struct HostFacts<'a> {
    pub instance_id: &'a str,
    pub region: &'a str,
    /// `--endpoint` for SDKs in the container, when it can reach haneul.
    pub endpoint_url: Option<&'a str>,
    /// Where bridge and host mode ports are published.
    pub host_address: &'a str,
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
}

fn name_values(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|kv| {
                    Some((
                        kv.get("name")?.as_str()?.to_string(),
                        kv.get("value")?.as_str().unwrap_or("").to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The container definitions of a task definition, in order.
pub fn containers_of(definition: &Value) -> Vec<&Value> {
    definition
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// The override for one container, if any.
fn container_override<'a>(task: &'a Task, name: &str) -> Option<&'a Value> {
    task.overrides
        .get("containerOverrides")?
        .as_array()?
        .iter()
        .find(|o| o.get("name").and_then(Value::as_str) == Some(name))
}

/// A definition's network mode (`awsvpc`, `bridge`, `host`, `none`); ECS's default is bridge.
pub fn network_mode(definition: &Value) -> &str {
    definition
        .get("networkMode")
        .and_then(Value::as_str)
        .unwrap_or("bridge")
}

/// A short random suffix for container names (as the agent's `ecs-<family>-<rev>-<name>-<hex>`).
fn suffix() -> String {
    (0..12).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect()
}

/// The engine spec of container `def` of `task`.
pub fn container_spec(task: &Task, definition: &Value, def: &Value, host: &HostFacts<'_>) -> ContainerSpec {
    let name = def.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let over = container_override(task, &name);
    let pick = |field: &str| {
        over.and_then(|o| o.get(field))
            .filter(|v| !v.is_null())
            .or_else(|| def.get(field))
    };
    let mode = network_mode(definition);
    let ip = task.network.as_ref().map(|n| n.private_ip.clone());
    let mut ports = Vec::new();
    for pm in def.get("portMappings").and_then(Value::as_array).into_iter().flatten() {
        let Some(container_port) = pm
            .get("containerPort")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
        else {
            continue;
        };
        let protocol = pm.get("protocol").and_then(Value::as_str).unwrap_or("tcp").to_string();
        let host_port = pm
            .get("hostPort")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0);
        match mode {
            "awsvpc" => ports.push(PortBinding {
                container_port,
                protocol,
                host_ip: ip.clone().unwrap_or_else(|| "127.0.0.1".into()),
                host_port: container_port,
            }),
            "bridge" => ports.push(PortBinding {
                container_port,
                protocol,
                host_ip: host.host_address.to_string(),
                host_port,
            }),
            // host mode: the container binds the host's ports itself.
            "host" => ports.push(PortBinding {
                container_port,
                protocol,
                host_ip: host.host_address.to_string(),
                host_port: container_port,
            }),
            _ => {}
        }
    }
    let mut env: Vec<(String, String)> = name_values(def.get("environment").unwrap_or(&Value::Null));
    if let Some(extra) = over.and_then(|o| o.get("environment")) {
        for (k, v) in name_values(extra) {
            env.retain(|(name, _)| *name != k);
            env.push((k, v));
        }
    }
    let fargate = task.launch_type.as_deref() == Some("FARGATE")
        || task
            .capacity_provider
            .as_deref()
            .is_some_and(|c| c.starts_with("FARGATE"));
    let mut injected = vec![
        ("AWS_REGION".to_string(), host.region.to_string()),
        ("AWS_DEFAULT_REGION".to_string(), host.region.to_string()),
        (
            "AWS_EXECUTION_ENV".to_string(),
            if fargate { "AWS_ECS_FARGATE" } else { "AWS_ECS_EC2" }.to_string(),
        ),
    ];
    if let Some(url) = host.endpoint_url {
        injected.push(("AWS_ENDPOINT_URL".to_string(), url.to_string()));
        let account = task.arn.split(':').nth(4).unwrap_or_default();
        let scope = haneul_store::Scope::new(account, host.region);
        injected.push((
            "ECS_CONTAINER_METADATA_URI_V4".to_string(),
            super::metadata::container_uri(url, &scope, task, &name),
        ));
    }
    for (k, v) in injected {
        if !env.iter().any(|(name, _)| *name == k) {
            env.push((k, v));
        }
    }
    let labels = HashMap::from([
        (LABEL_TASK_ARN.to_string(), task.arn.clone()),
        (LABEL_CONTAINER_NAME.to_string(), name.clone()),
        (LABEL_CLUSTER.to_string(), task.cluster.clone()),
        (LABEL_FAMILY.to_string(), task.family.clone()),
        (LABEL_VERSION.to_string(), task.revision.to_string()),
        (LABEL_INSTANCE.to_string(), host.instance_id.to_string()),
    ]);
    let mut labels = labels;
    if let Some(docker_labels) = def.get("dockerLabels").and_then(Value::as_object) {
        for (k, v) in docker_labels {
            if let Some(v) = v.as_str() {
                labels.entry(k.clone()).or_insert_with(|| v.to_string());
            }
        }
    }
    let health_check = def.get("healthCheck").and_then(|h| {
        let command = strings(h.get("command")?)?;
        Some(HealthCheck {
            test: command,
            interval_s: h.get("interval").and_then(Value::as_i64).unwrap_or(30),
            timeout_s: h.get("timeout").and_then(Value::as_i64).unwrap_or(5),
            retries: h.get("retries").and_then(Value::as_i64).unwrap_or(3),
            start_period_s: h.get("startPeriod").and_then(Value::as_i64).unwrap_or(0),
        })
    });
    let ulimits = def
        .get("ulimits")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|u| {
                    Some(Ulimit {
                        name: u.get("name")?.as_str()?.to_string(),
                        soft: u.get("softLimit")?.as_i64()?,
                        hard: u.get("hardLimit")?.as_i64()?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let volumes: HashMap<&str, &Value> = definition
        .get("volumes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| Some((v.get("name")?.as_str()?, v))).collect())
        .unwrap_or_default();
    let binds = def
        .get("mountPoints")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|m| {
                    let source = m.get("sourceVolume")?.as_str()?;
                    let path = m.get("containerPath")?.as_str()?;
                    let ro = m.get("readOnly").and_then(Value::as_bool).unwrap_or(false);
                    let volume = volumes.get(source)?;
                    let from = match volume
                        .get("host")
                        .and_then(|h| h.get("sourcePath"))
                        .and_then(Value::as_str)
                    {
                        Some(host_path) => host_path.to_string(),
                        // A Docker volume (named after the task for task-scoped ones).
                        None => match volume
                            .get("dockerVolumeConfiguration")
                            .and_then(|c| c.get("scope"))
                            .and_then(Value::as_str)
                        {
                            Some("shared") => source.to_string(),
                            _ => format!("ecs-{}-{}", task.id, source),
                        },
                    };
                    Some(if ro {
                        format!("{from}:{path}:ro")
                    } else {
                        format!("{from}:{path}")
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let int = |field: &str| pick(field).and_then(Value::as_i64);
    ContainerSpec {
        name: format!("ecs-{}-{}-{}-{}", task.family, task.revision, name, suffix()),
        image: def.get("image").and_then(Value::as_str).unwrap_or_default().to_string(),
        entrypoint: def.get("entryPoint").and_then(strings),
        command: pick("command").and_then(strings),
        env,
        labels,
        network_mode: match mode {
            "host" => "host",
            "none" => "none",
            _ => "bridge",
        }
        .to_string(),
        ports,
        memory_mib: int("memory"),
        memory_reservation_mib: int("memoryReservation"),
        cpu_shares: int("cpu").filter(|c| *c > 0),
        user: def.get("user").and_then(Value::as_str).map(str::to_string),
        working_dir: def.get("workingDirectory").and_then(Value::as_str).map(str::to_string),
        hostname: def.get("hostname").and_then(Value::as_str).map(str::to_string),
        stop_timeout_s: def
            .get("stopTimeout")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_STOP_TIMEOUT_S),
        ulimits,
        binds,
        health_check,
        extra_hosts: Vec::new(),
        read_only_root: def
            .get("readonlyRootFilesystem")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        init: def
            .get("linuxParameters")
            .and_then(|l| l.get("initProcessEnabled"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

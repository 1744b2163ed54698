//! ExecuteCommand: a session that runs a command in a task's container on a terminal. The
//! answer carries the session a Session Manager client opens (`aws ecs execute-command` hands
//! it to `session-manager-plugin`); haneul serves its data channel itself ([`crate::exec`]).

use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::api::tasks::{load_active_cluster, task_id};
use crate::error::EcsError;
use crate::generated as api;
use crate::model::{cluster_arn, task_key, Task, HOST_LOCAL, KIND_TASK};
use crate::{exec, parse, scope, Ecs};

const NOT_ENABLED: &str = "The execute command failed because execute command was not enabled when the task \
was run or the execute command agent isn't running. Wait and try again or run a new task with execute command \
enabled and try again.";

fn invalid(msg: impl Into<String>) -> EcsError {
    EcsError::InvalidParameter(msg.into())
}

pub async fn execute(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::ExecuteCommandRequest = parse(input)?;
    if !input.interactive {
        return Err(invalid("Interactive is the only mode supported currently."));
    }
    let command = exec::split_command(&input.command).map_err(invalid)?;
    if command.is_empty() {
        return Err(invalid("Command can not be blank."));
    }
    let scope = scope(ctx);
    let given_cluster = input.cluster.clone();
    let given_task = input.task.clone();
    let (cluster, task) = ecs
        .store
        .read(move |t| {
            let cluster = load_active_cluster(t, &scope, given_cluster.as_deref())?;
            let task: Option<Task> = t.get(&scope, KIND_TASK, &task_key(&cluster.name, task_id(&given_task)))?;
            Ok::<_, EcsError>((cluster, task))
        })
        .await?;
    let task = task.ok_or_else(|| invalid("The specified task was not found."))?;
    if !task.enable_execute_command || task.last_status != "RUNNING" || task.desired_status != "RUNNING" {
        return Err(invalid(NOT_ENABLED));
    }
    let container = match &input.container {
        Some(name) => task
            .containers
            .iter()
            .find(|c| &c.name == name)
            .ok_or_else(|| invalid(format!("The container {name} does not exist in the task.")))?,
        None if task.containers.len() == 1 => &task.containers[0],
        None => {
            return Err(invalid(
                "The container name must be specified when the task has more than one container.",
            ))
        }
    };
    let runtime_id = match (&container.runtime_id, container.last_status.as_str()) {
        (Some(id), "RUNNING") => id.clone(),
        _ => return Err(invalid(NOT_ENABLED)),
    };
    if task.host != HOST_LOCAL {
        return Err(EcsError::TargetNotConnected(format!(
            "The execute command failed because the task runs on container instance {} (a haneul agent), and \
             haneul serves execute command sessions only for tasks on its own host.",
            task.host
        )));
    }
    let (session_id, token) = ecs
        .exec_sessions
        .offer(&task.arn, &container.name, &runtime_id, command)
        .map_err(|e| EcsError::TargetNotConnected(format!("The execute command failed: {e}. Try again later.")))?;
    let endpoint = ecs.endpoint_url();
    let ws_base = endpoint
        .strip_prefix("https://")
        .map(|rest| format!("wss://{rest}"))
        .or_else(|| endpoint.strip_prefix("http://").map(|rest| format!("ws://{rest}")))
        .unwrap_or(endpoint);
    let stream_url = format!(
        "{ws_base}{}{session_id}?role=publish_subscribe&cell-number=1",
        exec::STREAM_PATH_PREFIX
    );
    Ok(json!({
        "clusterArn": cluster_arn(&ctx.region, &ctx.account_id, &cluster.name),
        "containerArn": container.arn,
        "containerName": container.name,
        "interactive": true,
        "taskArn": task.arn,
        "session": { "sessionId": session_id, "streamUrl": stream_url, "tokenValue": token },
    }))
}

//! The awslogs log driver, done by haneul: a container's stdout and stderr, followed through
//! the engine as they are written, appended to its log group in stream
//! `<awslogs-stream-prefix>/<container name>/<task id>`.

use std::sync::Arc;
use std::time::Duration;

use haneul_store::events::NewEvent;
use haneul_store::Scope;
use serde_json::Value;
use tokio::sync::mpsc;

use super::records::LogWriter;
use super::{LogLine, Runtime, LOG_CHANNEL_LINES};

/// Lines are written in batches of at most this many, or every [`FLUSH_MS`].
const BATCH_LINES: usize = 1000;
const FLUSH_MS: u64 = 200;

/// Where one container's output goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    pub scope: Scope,
    pub group: String,
    pub stream: String,
    pub create_group: bool,
}

/// The destination a container definition's logConfiguration names, when it is awslogs.
pub fn destination(
    def: &Value,
    account: &str,
    default_region: &str,
    container: &str,
    task_id: &str,
    runtime_id: &str,
) -> Option<Destination> {
    let config = def.get("logConfiguration")?;
    if config.get("logDriver")?.as_str()? != "awslogs" {
        return None;
    }
    let options = config.get("options")?;
    let opt = |k: &str| options.get(k).and_then(Value::as_str);
    let group = opt("awslogs-group")?.to_string();
    let region = opt("awslogs-region").unwrap_or(default_region);
    let stream = match opt("awslogs-stream-prefix") {
        Some(prefix) => format!("{prefix}/{container}/{task_id}"),
        // Without a prefix the agent names the stream after the container id.
        None => runtime_id.to_string(),
    };
    Some(Destination {
        scope: Scope::new(account, region),
        group,
        stream,
        create_group: opt("awslogs-create-group") == Some("true"),
    })
}

/// Checks (or creates) the group before the container starts; ECS's message when it is missing.
pub async fn prepare(logs: &dyn LogWriter, d: &Destination) -> Result<(), String> {
    match logs.ensure_group(&d.scope, &d.group, d.create_group).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. : exit status 1 (log group {})",
            d.group
        )),
        Err(e) => Err(format!("ResourceInitializationError: failed to validate logger args: {e}")),
    }
}

/// Follows `container` until it exits, writing what it prints.
pub async fn follow(
    runtime: Arc<dyn Runtime>,
    logs: Arc<dyn LogWriter>,
    container: String,
    since_s: i64,
    d: Destination,
) {
    let (tx, mut rx) = mpsc::channel::<LogLine>(LOG_CHANNEL_LINES);
    let reader = {
        let runtime = runtime.clone();
        let container = container.clone();
        tokio::spawn(async move { runtime.follow_logs(&container, since_s, tx).await })
    };
    let mut batch: Vec<NewEvent> = Vec::new();
    // When the oldest unwritten line arrived: a batch is written FLUSH_MS after that at
    // the latest, or as soon as it is full.
    let mut batch_since: Option<tokio::time::Instant> = None;
    loop {
        let line = match batch_since {
            Some(since) => tokio::time::timeout_at(since + Duration::from_millis(FLUSH_MS), rx.recv()).await,
            None => Ok(rx.recv().await),
        };
        let ended = match line {
            Ok(Some(line)) => {
                batch_since.get_or_insert_with(tokio::time::Instant::now);
                batch.push(NewEvent {
                    timestamp_ms: line.timestamp_ms,
                    message: line.message,
                });
                false
            }
            Ok(None) => true,
            Err(_elapsed) => false,
        };
        let due = batch_since.is_some_and(|since| since.elapsed() >= Duration::from_millis(FLUSH_MS));
        if (ended || due || batch.len() >= BATCH_LINES) && !batch.is_empty() {
            let mut events = std::mem::take(&mut batch);
            batch_since = None;
            events.sort_by_key(|e| e.timestamp_ms);
            if let Err(e) = logs.ingest(&d.scope, &d.group, &d.stream, events).await {
                tracing::warn!(group = %d.group, stream = %d.stream, error = %e, "cannot write a container's log lines");
            }
        }
        if ended {
            break;
        }
    }
    match reader.await {
        Ok(Err(e)) => tracing::debug!(container = %container, error = %e, "log follower ended"),
        Err(e) => tracing::warn!(container = %container, error = %e, "log follower failed"),
        Ok(Ok(())) => {}
    }
}

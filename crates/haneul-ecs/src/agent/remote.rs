//! The agent's side of the driver's seams, over the server's API: [`RemoteRecords`] keeps
//! the tasks it drives and reports each change with SubmitTaskStateChange; [`RemoteLogs`]
//! writes awslogs lines with CloudWatch Logs' API; [`RemoteCredentials`] pulls from the
//! server's registry with an ECR authorization token.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use haneul_store::events::NewEvent;
use haneul_store::Scope;
use haneul_wire::BoxFuture;
use serde_json::{json, Value};

use super::client::{Api, ApiClient, ClientError};
use super::protocol;
use crate::model::Task;
use crate::runtime::host::Credentials;
use crate::runtime::records::{LogWriter, RecordsError, TaskChange, TaskRecords};
use crate::runtime::RegistryAuth;

/// A report that finds no server is tried this often, this far apart, before the driver
/// gives up on the step (and the next poll starts it again).
const REPORT_ATTEMPTS: usize = 5;
const REPORT_RETRY_MS: u64 = 1000;

type TaskId = (Scope, String);

/// The tasks this agent drives, as it last knew or made them.
pub struct RemoteRecords {
    client: Arc<ApiClient>,
    tasks: Mutex<HashMap<TaskId, Task>>,
}

impl RemoteRecords {
    pub fn new(client: Arc<ApiClient>) -> RemoteRecords {
        RemoteRecords {
            client,
            tasks: Mutex::new(HashMap::new()),
        }
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, HashMap<TaskId, Task>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the server says of a task: new ones are taken whole; for one the agent already
    /// drives, only what the server decides (the stop asked for) is taken.
    pub fn learn(&self, scope: &Scope, key: &str, server: Task) {
        let mut tasks = self.tasks();
        match tasks.get_mut(&(scope.clone(), key.to_string())) {
            Some(mine) => {
                if server.desired_status == "STOPPED" && mine.desired_status != "STOPPED" {
                    mine.desired_status = "STOPPED".into();
                    mine.stop_code = mine.stop_code.take().or(server.stop_code);
                    mine.stopped_reason = mine.stopped_reason.take().or(server.stopped_reason);
                }
                if server.last_status == "STOPPED" {
                    // Stopped by the server (a lost agent's tasks): nothing left to report.
                    mine.last_status = "STOPPED".into();
                    mine.desired_status = "STOPPED".into();
                }
            }
            None => {
                tasks.insert((scope.clone(), key.to_string()), server);
            }
        }
    }

    pub fn forget(&self, scope: &Scope, key: &str) {
        self.tasks().remove(&(scope.clone(), key.to_string()));
    }

    pub fn known(&self) -> Vec<TaskId> {
        self.tasks().keys().cloned().collect()
    }

    /// The tasks it drives by ARN (no task is copied).
    pub fn known_arns(&self) -> Vec<(String, TaskId)> {
        self.tasks().iter().map(|(id, t)| (t.arn.clone(), id.clone())).collect()
    }

    pub fn get(&self, scope: &Scope, key: &str) -> Option<Task> {
        self.tasks().get(&(scope.clone(), key.to_string())).cloned()
    }

    async fn report(&self, task: &Task) -> Result<(), ClientError> {
        let input = protocol::state_change(task);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.client.call(Api::Ecs, "SubmitTaskStateChange", &input).await {
                Err(ClientError::Transport(e)) if attempt < REPORT_ATTEMPTS => {
                    tracing::debug!(task = %task.arn, error = %e, "cannot report a task's state yet; retrying");
                    tokio::time::sleep(Duration::from_millis(REPORT_RETRY_MS)).await;
                }
                other => return other.map(|_| ()),
            }
        }
    }
}

impl TaskRecords for RemoteRecords {
    fn load<'a>(&'a self, scope: &'a Scope, key: &'a str) -> BoxFuture<'a, Result<Option<Task>, RecordsError>> {
        Box::pin(async move { Ok(self.get(scope, key)) })
    }

    fn update<'a>(
        &'a self,
        scope: &'a Scope,
        key: &'a str,
        change: TaskChange,
    ) -> BoxFuture<'a, Result<Option<Task>, RecordsError>> {
        Box::pin(async move {
            let Some(mut task) = self.get(scope, key) else {
                return Ok(None);
            };
            change(&mut task);
            task.version += 1;
            self.tasks().insert((scope.clone(), key.to_string()), task.clone());
            match self.report(&task).await {
                Ok(()) => Ok(Some(task)),
                // The server no longer has it (a reset, a deleted cluster): nothing to drive.
                Err(e @ ClientError::Service { .. })
                    if matches!(e.code(), Some("InvalidParameterException" | "ClusterNotFoundException")) =>
                {
                    tracing::info!(task = %task.arn, error = %e, "the server no longer knows this task");
                    self.forget(scope, key);
                    Ok(None)
                }
                Err(e) => Err(RecordsError::Remote(e.to_string())),
            }
        })
    }
}

/// awslogs lines through CloudWatch Logs' API.
pub struct RemoteLogs {
    client: Arc<ApiClient>,
    /// (region, group, stream) made already.
    streams: Mutex<HashSet<(String, String, String)>>,
}

/// Streams remembered as made; past this the set starts over (a CreateLogStream again is harmless).
const MAX_REMEMBERED_STREAMS: usize = 10_000;

impl RemoteLogs {
    pub fn new(client: Arc<ApiClient>) -> RemoteLogs {
        RemoteLogs {
            client,
            streams: Mutex::new(HashSet::new()),
        }
    }
}

fn tolerate(result: Result<Value, ClientError>, already: &str) -> Result<(), String> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(already) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

impl LogWriter for RemoteLogs {
    fn ensure_group<'a>(
        &'a self,
        scope: &'a Scope,
        group: &'a str,
        create: bool,
    ) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            if create {
                let made = self
                    .client
                    .call_in(
                        &scope.region,
                        Api::Logs,
                        "CreateLogGroup",
                        &json!({ "logGroupName": group }),
                    )
                    .await;
                tolerate(made, "ResourceAlreadyExistsException")?;
                return Ok(true);
            }
            let found = self
                .client
                .call_in(
                    &scope.region,
                    Api::Logs,
                    "DescribeLogGroups",
                    &json!({ "logGroupNamePrefix": group, "limit": 50 }),
                )
                .await
                .map_err(|e| e.to_string())?;
            Ok(found["logGroups"]
                .as_array()
                .is_some_and(|a| a.iter().any(|g| g["logGroupName"].as_str() == Some(group))))
        })
    }

    fn ingest<'a>(
        &'a self,
        scope: &'a Scope,
        group: &'a str,
        stream: &'a str,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let id = (scope.region.clone(), group.to_string(), stream.to_string());
            let made = self.streams.lock().unwrap_or_else(|p| p.into_inner()).contains(&id);
            if !made {
                let created = self
                    .client
                    .call_in(
                        &scope.region,
                        Api::Logs,
                        "CreateLogStream",
                        &json!({ "logGroupName": group, "logStreamName": stream }),
                    )
                    .await;
                tolerate(created, "ResourceAlreadyExistsException")?;
                let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
                if streams.len() >= MAX_REMEMBERED_STREAMS {
                    streams.clear();
                }
                streams.insert(id);
            }
            let log_events: Vec<Value> = events
                .iter()
                .map(|e| json!({ "timestamp": e.timestamp_ms, "message": e.message }))
                .collect();
            self.client
                .call_in(
                    &scope.region,
                    Api::Logs,
                    "PutLogEvents",
                    &json!({ "logGroupName": group, "logStreamName": stream, "logEvents": log_events }),
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

/// Pull credentials for the server's registry, from ECR's GetAuthorizationToken.
pub struct RemoteCredentials {
    client: Arc<ApiClient>,
    /// (username, password) of the last token.
    token: Mutex<Option<(String, String)>>,
}

impl RemoteCredentials {
    pub fn new(client: Arc<ApiClient>) -> RemoteCredentials {
        RemoteCredentials {
            client,
            token: Mutex::new(None),
        }
    }

    /// Fetches a fresh token (at start and with every heartbeat).
    pub async fn refresh(&self) -> Result<(), ClientError> {
        let answer = self.client.call(Api::Ecr, "GetAuthorizationToken", &json!({})).await?;
        let encoded = answer["authorizationData"][0]["authorizationToken"]
            .as_str()
            .unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        if let Some((user, password)) = decoded.split_once(':') {
            *self.token.lock().unwrap_or_else(|p| p.into_inner()) = Some((user.to_string(), password.to_string()));
        }
        Ok(())
    }
}

impl Credentials for RemoteCredentials {
    fn for_image(&self, image: &str, _scope: &Scope) -> (String, Option<RegistryAuth>) {
        let host = self.client.authority();
        let (resolved, ours) = crate::runtime::host::resolve_image(image, &host);
        if !ours {
            return (resolved, None);
        }
        let token = self.token.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let auth = token.map(|(username, password)| RegistryAuth {
            username,
            password,
            server: host.clone(),
        });
        (resolved, auth)
    }
}

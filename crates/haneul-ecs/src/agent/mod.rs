//! `haneul agent`: a container instance for the EC2 and EXTERNAL launch types on another
//! host (or the same one). It talks to the server only through the public API, as ECS's
//! agent does: RegisterContainerInstance (again with its ARN after a restart, so it stays
//! the same instance), DiscoverPollEndpoint as its heartbeat, ListTasks / DescribeTasks /
//! DescribeTaskDefinition to learn the tasks placed on it, SubmitTaskStateChange to report
//! what it did with them, CloudWatch Logs for awslogs containers and ECR's authorization
//! token for pulls. The tasks run through the same driver as haneul's own host
//! ([`crate::runtime::task`]) on this host's Docker engine.
//!
//! Stopping the agent leaves its containers running; the next start adopts them. If it
//! stays away longer than the heartbeat timeout the server stops its tasks and services
//! place replacements on the instances still connected.

pub mod client;
pub mod protocol;
pub mod remote;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use haneul_store::Scope;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::model::{task_key, Task};
use crate::runtime::host::{Host, HostConfig};
use crate::runtime::Runtime;
use client::{Api, ApiClient, ClientError};
use remote::{RemoteCredentials, RemoteLogs, RemoteRecords};

/// DescribeTasks takes at most this many tasks.
const DESCRIBE_BATCH: usize = 100;
/// Every this many polls the agent also looks at its tasks asked to stop that it does not
/// drive (a stop it missed while it was down).
const FULL_POLL_EVERY: u64 = 10;
/// A fresh registry token every this many heartbeats (tokens last 12 hours).
const TOKEN_REFRESH_EVERY: u64 = 360;

pub struct AgentConfig {
    /// The server's API endpoint (`http://127.0.0.1:4566`).
    pub server: String,
    pub cluster: String,
    pub region: String,
    pub credentials: client::Credentials,
    /// The agent's own state: its container instance ARN and its identity on the engine.
    pub data_dir: PathBuf,
    /// The address bridge and host mode ports are published on (and targets registered by).
    pub host_address: String,
    pub cpu_units: i64,
    pub memory_mib: i64,
    pub availability_zone: Option<String>,
    pub attributes: Vec<(String, Option<String>)>,
    pub heartbeat_s: u64,
    pub poll_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot register with {server}: {source}")]
    Register { server: String, source: ClientError },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the agent's data dir: {0}")]
    DataDir(#[from] std::io::Error),
}

/// Whether a container on this host can reach `server` by its URL (not a loopback name).
fn reachable_from_containers(server: &str) -> bool {
    let host = server
        .split("://")
        .nth(1)
        .unwrap_or(server)
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    !(host.starts_with("127.") || host == "localhost" || host == "[::1]" || host.is_empty())
}

/// The agent's container instance ARN, kept across restarts.
fn arn_file(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("agent").join("container-instance-arn")
}

/// `arn:aws:ecs:<region>:<account>:task/<cluster>/<id>` → (scope, store key).
fn task_ref(arn: &str) -> Option<(Scope, String)> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, _, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let mut path = resource.split('/');
    let (_, cluster, id) = (path.next()?, path.next()?, path.next()?);
    Some((Scope::new(account, region), task_key(cluster, id)))
}

pub struct Agent {
    config: AgentConfig,
    client: Arc<ApiClient>,
    records: Arc<RemoteRecords>,
    credentials: Arc<RemoteCredentials>,
    host: Arc<Host>,
    instance_arn: String,
    /// Task definitions by ARN (they never change).
    definitions: HashMap<String, Value>,
}

impl Agent {
    /// Registers with the server (as the same instance after a restart) and prepares the host.
    pub async fn start(
        config: AgentConfig,
        runtime: Arc<dyn Runtime>,
        cancel: CancellationToken,
    ) -> Result<Agent, AgentError> {
        let client = Arc::new(ApiClient::new(
            &config.server,
            &config.region,
            config.credentials.clone(),
        )?);
        let credentials = Arc::new(RemoteCredentials::new(client.clone()));
        if let Err(e) = credentials.refresh().await {
            tracing::warn!(error = %e, "no registry token yet; pulls from the server's registry will fail until there is");
        }
        std::fs::create_dir_all(config.data_dir.join("agent"))?;
        let instance_arn = register(&client, &config).await?;
        std::fs::write(arn_file(&config.data_dir), &instance_arn)?;
        let records = Arc::new(RemoteRecords::new(client.clone()));
        let host = Host::new(
            records.clone(),
            runtime,
            Arc::new(RemoteLogs::new(client.clone())),
            credentials.clone(),
            HostConfig {
                instance_id: crate::runtime::host::instance_id(&config.data_dir)?,
                // Containers reach the server where the agent does, unless that is this
                // host's loopback (theirs is their own).
                endpoint_url: reachable_from_containers(&config.server).then(|| config.server.clone()),
                host_address: config.host_address.clone(),
            },
            cancel,
        );
        Ok(Agent {
            config,
            client,
            records,
            credentials,
            host,
            instance_arn,
            definitions: HashMap::new(),
        })
    }

    pub fn container_instance_arn(&self) -> &str {
        &self.instance_arn
    }

    /// Runs until `cancel`: heartbeats, polls, drivers. The containers keep running after.
    pub async fn run(mut self, cancel: CancellationToken) {
        match self.poll(true).await {
            Ok(()) => {
                let live: Vec<(Scope, String, Task)> = self
                    .records
                    .known()
                    .into_iter()
                    .filter_map(|(scope, key)| {
                        let task = self.records.get(&scope, &key)?;
                        Some((scope, key, task))
                    })
                    .collect();
                self.host.adopt_or_clean(&live).await;
                for (scope, key, _) in live {
                    self.host.drive(scope, key, false);
                }
            }
            Err(e) => tracing::warn!(error = %e, "the first poll failed; containers are adopted once one succeeds"),
        }
        let mut heartbeat = tokio::time::interval(Duration::from_secs(self.config.heartbeat_s.max(1)));
        let mut poll = tokio::time::interval(Duration::from_millis(self.config.poll_ms.max(100)));
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut beats, mut polls) = (0u64, 0u64);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = heartbeat.tick() => {
                    beats += 1;
                    let input = json!({ "containerInstance": self.instance_arn, "cluster": self.config.cluster });
                    if let Err(e) = self.client.call(Api::Ecs, "DiscoverPollEndpoint", &input).await {
                        tracing::warn!(error = %e, "heartbeat failed");
                    }
                    if beats % TOKEN_REFRESH_EVERY == 0 {
                        if let Err(e) = self.credentials.refresh().await {
                            tracing::warn!(error = %e, "cannot refresh the registry token");
                        }
                    }
                }
                _ = poll.tick() => {
                    polls += 1;
                    if let Err(e) = self.poll(polls % FULL_POLL_EVERY == 0).await {
                        tracing::warn!(error = %e, "poll failed");
                    }
                }
            }
        }
        self.host.wind_down().await;
    }

    /// ARNs of this instance's tasks with `desired` status.
    async fn list(&self, desired: &str) -> Result<Vec<String>, ClientError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut input = json!({
                "cluster": self.config.cluster,
                "containerInstance": self.instance_arn,
                "desiredStatus": desired,
                "maxResults": 100,
            });
            if let Some(t) = &token {
                input["nextToken"] = json!(t);
            }
            let page = self.client.call(Api::Ecs, "ListTasks", &input).await?;
            out.extend(
                page["taskArns"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_string)),
            );
            match page["nextToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => return Ok(out),
            }
        }
    }

    async fn definition(&mut self, arn: &str) -> Result<Value, ClientError> {
        if let Some(d) = self.definitions.get(arn) {
            return Ok(d.clone());
        }
        // A daemon's task runs its daemon task definition.
        let d = if arn.contains(":daemon-task-definition/") {
            let answer = self
                .client
                .call(
                    Api::Ecs,
                    "DescribeDaemonTaskDefinition",
                    &json!({ "daemonTaskDefinition": arn }),
                )
                .await?;
            crate::api::daemons::as_task_definition(&answer["daemonTaskDefinition"])
        } else {
            let answer = self
                .client
                .call(Api::Ecs, "DescribeTaskDefinition", &json!({ "taskDefinition": arn }))
                .await?;
            answer["taskDefinition"].clone()
        };
        self.definitions.insert(arn.to_string(), d.clone());
        Ok(d)
    }

    /// One look at the tasks placed here: new ones get drivers, ones asked to stop wake
    /// theirs, ones the server forgot are let go.
    async fn poll(&mut self, full: bool) -> Result<(), ClientError> {
        let running: HashSet<String> = self.list("RUNNING").await?.into_iter().collect();
        let known_arns: HashMap<String, (Scope, String)> = self.records.known_arns().into_iter().collect();
        let known: HashSet<(Scope, String)> = known_arns.values().cloned().collect();
        let mut wanted: Vec<String> = running
            .iter()
            .filter(|a| !known_arns.contains_key(*a))
            .cloned()
            .collect();
        // Known tasks that left the RUNNING list were asked to stop (or are gone).
        wanted.extend(known_arns.keys().filter(|a| !running.contains(*a)).cloned());
        if full {
            for arn in self.list("STOPPED").await? {
                if !known_arns.contains_key(&arn) {
                    wanted.push(arn);
                }
            }
        }
        let driven: HashSet<(Scope, String)> = self.host.driven().into_iter().collect();
        let mut seen: HashSet<String> = HashSet::new();
        for batch in wanted.chunks(DESCRIBE_BATCH) {
            let answer = self
                .client
                .call(
                    Api::Ecs,
                    "DescribeTasks",
                    &json!({ "cluster": self.config.cluster, "tasks": batch }),
                )
                .await?;
            for view in answer["tasks"].as_array().into_iter().flatten() {
                let Some(arn) = view["taskArn"].as_str() else { continue };
                let Some((scope, key)) = task_ref(arn) else { continue };
                seen.insert(arn.to_string());
                let definition_arn = view["taskDefinitionArn"].as_str().unwrap_or_default().to_string();
                let definition = self.definition(&definition_arn).await?;
                let Some(task) = protocol::task_from_view(view, &definition) else {
                    tracing::warn!(task = %arn, "cannot read a task the server placed here");
                    continue;
                };
                let mine = known.contains(&(scope.clone(), key.clone()));
                if !mine && task.last_status == "STOPPED" {
                    continue;
                }
                self.records.learn(&scope, &key, task);
                self.host.drive(scope, key, mine);
            }
        }
        // Known tasks the server no longer has, and finished ones: let go; a live one whose
        // driver gave up (the server was away) gets a new driver.
        for (arn, (scope, key)) in &known_arns {
            if running.contains(arn) && !driven.contains(&(scope.clone(), key.clone())) {
                self.host.drive(scope.clone(), key.clone(), false);
                continue;
            }
            let gone = !running.contains(arn) && !seen.contains(arn);
            let finished = !driven.contains(&(scope.clone(), key.clone()))
                && self.records.get(scope, key).is_some_and(|t| t.is_stopped());
            if gone {
                self.records.forget(scope, key);
                self.host.drive(scope.clone(), key.clone(), true);
            } else if finished {
                self.records.forget(scope, key);
            }
        }
        Ok(())
    }
}

/// RegisterContainerInstance: as the instance this data dir registered before when the
/// server still has it, otherwise as a new one.
async fn register(client: &ApiClient, config: &AgentConfig) -> Result<String, AgentError> {
    let zone = config
        .availability_zone
        .clone()
        .unwrap_or_else(|| format!("{}a", config.region));
    let attributes: Vec<Value> = config
        .attributes
        .iter()
        .map(|(name, value)| match value {
            Some(v) => json!({ "name": name, "value": v }),
            None => json!({ "name": name }),
        })
        .collect();
    let mut input = json!({
        "cluster": config.cluster,
        "instanceIdentityDocument": json!({
            "availabilityZone": zone,
            "region": config.region,
            "privateIp": config.host_address,
        })
        .to_string(),
        "totalResources": [
            { "name": "CPU", "type": "INTEGER", "integerValue": config.cpu_units },
            { "name": "MEMORY", "type": "INTEGER", "integerValue": config.memory_mib },
            { "name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22", "2375", "2376", "51678", "51679"] },
            { "name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": [] },
        ],
        "versionInfo": { "agentVersion": env!("CARGO_PKG_VERSION"), "agentHash": "haneul", "dockerVersion": "DockerVersion: engine API" },
        "attributes": attributes,
    });
    let before = std::fs::read_to_string(arn_file(&config.data_dir))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let failed = |source| AgentError::Register {
        server: config.server.clone(),
        source,
    };
    if let Some(arn) = before {
        let mut again = input.clone();
        again["containerInstanceArn"] = json!(arn);
        match client.call(Api::Ecs, "RegisterContainerInstance", &again).await {
            Ok(answer) => {
                return Ok(answer["containerInstance"]["containerInstanceArn"]
                    .as_str()
                    .unwrap_or(&arn)
                    .to_string())
            }
            Err(e) if e.code() == Some("InvalidParameterException") => {
                tracing::info!(arn = %arn, "the server no longer has this instance; registering anew");
            }
            Err(e) => return Err(failed(e)),
        }
    }
    input.as_object_mut().map(|o| o.remove("containerInstanceArn"));
    let answer = client
        .call(Api::Ecs, "RegisterContainerInstance", &input)
        .await
        .map_err(failed)?;
    answer["containerInstance"]["containerInstanceArn"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| {
            failed(ClientError::Transport(
                "RegisterContainerInstance answered without an ARN".into(),
            ))
        })
}

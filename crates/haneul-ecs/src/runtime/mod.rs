//! The container side: a [`Runtime`] runs containers (the Docker engine in [`docker`], one in memory for
//! benchmarks in [`simulated`]); [`task`] drives one ECS
//! task's containers through its lifecycle on a runtime, [`host`] runs every task placed on
//! this host and adopts the ones a previous run left running; [`awslogs`] follows a
//! container's output into CloudWatch Logs; [`addresses`] hands out awsvpc tasks' loopback
//! addresses.

pub mod addresses;
pub mod awslogs;
pub mod docker;
pub mod host;
pub mod metadata;
pub mod records;
pub mod simulated;
pub mod spec;
pub mod task;

use std::collections::HashMap;

use haneul_wire::BoxFuture;
use tokio::sync::mpsc;

/// Labels every task container carries, as the ECS agent sets them.
pub const LABEL_TASK_ARN: &str = "com.amazonaws.ecs.task-arn";
pub const LABEL_CONTAINER_NAME: &str = "com.amazonaws.ecs.container-name";
pub const LABEL_CLUSTER: &str = "com.amazonaws.ecs.cluster";
pub const LABEL_FAMILY: &str = "com.amazonaws.ecs.task-definition-family";
pub const LABEL_VERSION: &str = "com.amazonaws.ecs.task-definition-version";
/// Which haneul (data dir) started the container: a host adopts or removes only its own.
pub const LABEL_INSTANCE: &str = "dev.haneul.instance";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The image could not be pulled (the task stops with CannotPullContainerError).
    #[error("{0}")]
    Pull(String),
    /// The container does not exist (any more).
    #[error("no such container: {0}")]
    NotFound(String),
    /// The engine refused or failed the request.
    #[error("{0}")]
    Engine(String),
}

/// Credentials for an image's registry.
#[derive(Debug, Clone)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
    pub server: String,
}

/// One published port: `host_ip:host_port` → the container's port (`host_port` 0: any free
/// port, which [`Runtime::start`] reports).
#[derive(Debug, Clone, PartialEq)]
pub struct PortBinding {
    pub container_port: u16,
    pub protocol: String,
    pub host_ip: String,
    pub host_port: u16,
}

#[derive(Debug, Clone, Default)]
pub struct HealthCheck {
    /// Docker's form: `["CMD-SHELL", "…"]` or `["CMD", …]`.
    pub test: Vec<String>,
    pub interval_s: i64,
    pub timeout_s: i64,
    pub retries: i64,
    pub start_period_s: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// Everything the engine needs to create one container.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub entrypoint: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub labels: HashMap<String, String>,
    /// `bridge`, `host` or `none` (awsvpc tasks run on the bridge with their ports published
    /// on the task's own loopback address).
    pub network_mode: String,
    pub ports: Vec<PortBinding>,
    pub memory_mib: Option<i64>,
    pub memory_reservation_mib: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub hostname: Option<String>,
    pub stop_timeout_s: i64,
    pub ulimits: Vec<Ulimit>,
    /// `host_path:container_path[:ro]`, or `volume_name:container_path[:ro]`.
    pub binds: Vec<String>,
    pub health_check: Option<HealthCheck>,
    pub extra_hosts: Vec<String>,
    pub read_only_root: bool,
    pub init: bool,
}

/// A container as the engine reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    pub id: String,
    pub labels: HashMap<String, String>,
    pub running: bool,
    pub exit_code: Option<i64>,
    /// Docker's health status (`healthy`, `unhealthy`, `starting`) when it has a check.
    pub health: Option<String>,
    pub oom_killed: bool,
    /// The ports as published (dynamic host ports resolved).
    pub ports: Vec<PortBinding>,
    /// The image's digest when known (`sha256:…`).
    pub image_digest: Option<String>,
}

/// One line a container wrote.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub timestamp_ms: i64,
    pub message: String,
}

/// A command running in a container (ExecuteCommand): what it writes, and its stdin.
pub struct ExecProcess {
    /// The engine's id for this exec (to resize its terminal and read its exit code).
    pub exec_id: String,
    /// Its terminal's output, chunk by chunk, as it comes; ends when the command exits.
    pub output: std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<bytes::Bytes, RuntimeError>> + Send>>,
    /// Its terminal's input.
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// Bounded: a follower waits when the log writer falls behind.
pub const LOG_CHANNEL_LINES: usize = 4096;

/// The operations a host needs from a container engine.
pub trait Runtime: Send + Sync + 'static {
    /// Makes `image` present: pulls it (with `auth` for its registry), or, for an image
    /// from elsewhere, uses a local copy when there is one (this engine can pull nothing
    /// from outside). Returns the image's digest when known.
    fn ensure_image<'a>(
        &'a self,
        image: &'a str,
        auth: Option<RegistryAuth>,
    ) -> BoxFuture<'a, Result<Option<String>, RuntimeError>>;
    /// Creates the container; returns its id.
    fn create<'a>(&'a self, spec: &'a ContainerSpec) -> BoxFuture<'a, Result<String, RuntimeError>>;
    fn start<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;
    /// Waits until the container is not running; its exit code.
    fn wait<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<i64, RuntimeError>>;
    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<ContainerInfo, RuntimeError>>;
    /// SIGTERM, then SIGKILL after `timeout_s`.
    fn stop<'a>(&'a self, id: &'a str, timeout_s: i64) -> BoxFuture<'a, Result<(), RuntimeError>>;
    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;
    /// Every container (running or not) carrying `label=value`.
    fn list<'a>(&'a self, label: &'a str, value: &'a str) -> BoxFuture<'a, Result<Vec<ContainerInfo>, RuntimeError>>;
    /// Sends the container's stdout and stderr lines from `since_s` (epoch seconds) on,
    /// following until the container exits or `lines` closes.
    fn follow_logs<'a>(
        &'a self,
        id: &'a str,
        since_s: i64,
        lines: mpsc::Sender<LogLine>,
    ) -> BoxFuture<'a, Result<(), RuntimeError>>;
    /// Runs `command` in the running container `id` on a terminal, attached (ExecuteCommand).
    fn exec<'a>(&'a self, id: &'a str, command: &'a [String]) -> BoxFuture<'a, Result<ExecProcess, RuntimeError>> {
        let _ = (id, command);
        Box::pin(async {
            Err(RuntimeError::Engine(
                "this runtime cannot run commands in containers".into(),
            ))
        })
    }
    /// Sets the terminal size of a running exec.
    fn resize_exec<'a>(&'a self, exec_id: &'a str, cols: u16, rows: u16) -> BoxFuture<'a, Result<(), RuntimeError>> {
        let _ = (exec_id, cols, rows);
        Box::pin(async { Ok(()) })
    }
    /// An exec's exit code once it has exited.
    fn exec_exit_code<'a>(&'a self, exec_id: &'a str) -> BoxFuture<'a, Result<Option<i64>, RuntimeError>> {
        let _ = exec_id;
        Box::pin(async { Ok(None) })
    }
    /// The host's address on the network task containers are attached to (Docker's bridge
    /// gateway), where they can reach the task endpoint. None: there is none.
    fn host_gateway(&self) -> BoxFuture<'_, Option<std::net::IpAddr>> {
        Box::pin(async { None })
    }
}

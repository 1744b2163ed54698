//! The Docker Engine API (through bollard, on the engine's unix socket): how tasks really run.

use std::collections::HashMap;
use std::time::Duration;

use bollard::auth::DockerCredentials;
use bollard::models::{ContainerCreateBody, HealthConfig, HostConfig, ResourcesUlimits};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;
use haneul_wire::BoxFuture;
use tokio::sync::mpsc;

use super::{ContainerInfo, ContainerSpec, ExecProcess, LogLine, PortBinding, RegistryAuth, Runtime, RuntimeError};

/// Longest wait for one engine request's response head (long polls — wait, logs — answer
/// their head at once and then stream).
const ENGINE_REQUEST_TIMEOUT_S: u64 = 120;
/// Longest time an image pull may take.
const PULL_TIMEOUT_S: u64 = 600;
/// A log line longer than this is cut (CloudWatch Logs' event limit is 256 KiB).
const MAX_LOG_LINE_BYTES: usize = 256 * 1024 - 26;

pub struct DockerRuntime {
    docker: bollard::Docker,
}

impl DockerRuntime {
    /// The local engine (`DOCKER_HOST` or `/var/run/docker.sock`). Nothing is contacted
    /// until the first request.
    pub fn connect_local() -> Result<DockerRuntime, RuntimeError> {
        let docker = bollard::Docker::connect_with_local_defaults()
            .map_err(|e| RuntimeError::Engine(format!("cannot reach the Docker engine: {e}")))?
            .with_timeout(Duration::from_secs(ENGINE_REQUEST_TIMEOUT_S));
        Ok(DockerRuntime { docker })
    }

    /// Whether the engine answers.
    pub async fn ping(&self) -> Result<(), RuntimeError> {
        self.docker.ping().await.map(|_| ()).map_err(engine)
    }
}

fn engine(e: bollard::errors::Error) -> RuntimeError {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message,
        } => RuntimeError::NotFound(message),
        bollard::errors::Error::DockerResponseServerError { message, .. } => RuntimeError::Engine(message),
        other => RuntimeError::Engine(other.to_string()),
    }
}

/// `host/repo:tag` or `host/repo@sha256:…` → (`host/repo`, tag or digest); no tag is `latest`.
fn split_reference(image: &str) -> (&str, &str) {
    if let Some((name, digest)) = image.split_once('@') {
        return (name, digest);
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => (&image[..last_slash + i], &image[last_slash + i + 1..]),
        None => (image, "latest"),
    }
}

fn port_key(p: &PortBinding) -> String {
    format!("{}/{}", p.container_port, p.protocol)
}

fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let mut bindings: HashMap<String, Option<Vec<bollard::models::PortBinding>>> = HashMap::new();
    for p in &spec.ports {
        bindings
            .entry(port_key(p))
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(bollard::models::PortBinding {
                host_ip: Some(p.host_ip.clone()),
                host_port: Some(if p.host_port == 0 {
                    String::new()
                } else {
                    p.host_port.to_string()
                }),
            });
    }
    let mib = |m: i64| m.saturating_mul(1024 * 1024);
    let host_config = HostConfig {
        network_mode: Some(spec.network_mode.clone()),
        port_bindings: (!bindings.is_empty() && spec.network_mode == "bridge").then_some(bindings),
        memory: spec.memory_mib.map(mib),
        memory_reservation: spec.memory_reservation_mib.map(mib),
        cpu_shares: spec.cpu_shares.filter(|c| *c >= 2),
        ulimits: (!spec.ulimits.is_empty()).then(|| {
            spec.ulimits
                .iter()
                .map(|u| ResourcesUlimits {
                    name: Some(u.name.clone()),
                    soft: Some(u.soft),
                    hard: Some(u.hard),
                })
                .collect()
        }),
        binds: (!spec.binds.is_empty()).then(|| spec.binds.clone()),
        extra_hosts: (!spec.extra_hosts.is_empty()).then(|| spec.extra_hosts.clone()),
        readonly_rootfs: spec.read_only_root.then_some(true),
        init: spec.init.then_some(true),
        ..Default::default()
    };
    let seconds_ns = |s: i64| s.saturating_mul(1_000_000_000);
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        entrypoint: spec.entrypoint.clone(),
        cmd: spec.command.clone(),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(spec.labels.clone()),
        user: spec.user.clone(),
        working_dir: spec.working_dir.clone(),
        hostname: spec.hostname.clone(),
        exposed_ports: (!spec.ports.is_empty()).then(|| spec.ports.iter().map(port_key).collect()),
        stop_timeout: Some(spec.stop_timeout_s),
        healthcheck: spec.health_check.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: Some(seconds_ns(h.interval_s)),
            timeout: Some(seconds_ns(h.timeout_s)),
            retries: Some(h.retries),
            start_period: Some(seconds_ns(h.start_period_s)),
            start_interval: None,
        }),
        host_config: Some(host_config),
        ..Default::default()
    }
}

fn container_info(c: bollard::models::ContainerInspectResponse) -> ContainerInfo {
    let state = c.state.unwrap_or_default();
    let mut ports = Vec::new();
    if let Some(map) = c.network_settings.and_then(|n| n.ports) {
        for (key, published) in map {
            let (port, protocol) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
            let Ok(container_port) = port.parse::<u16>() else {
                continue;
            };
            for b in published.unwrap_or_default() {
                ports.push(PortBinding {
                    container_port,
                    protocol: protocol.to_string(),
                    host_ip: b.host_ip.unwrap_or_default(),
                    host_port: b.host_port.and_then(|p| p.parse().ok()).unwrap_or(0),
                });
            }
        }
    }
    ports.sort_by(|a, b| (a.container_port, &a.host_ip).cmp(&(b.container_port, &b.host_ip)));
    ContainerInfo {
        id: c.id.unwrap_or_default(),
        labels: c.config.and_then(|cfg| cfg.labels).unwrap_or_default(),
        running: state.running.unwrap_or(false),
        exit_code: state.exit_code,
        health: state
            .health
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty() && s != "none"),
        oom_killed: state.oom_killed.unwrap_or(false),
        ports,
        image_digest: c.image,
    }
}

/// Splits Docker's `2026-12-07T14:03:32.123456789Z message` into time and text.
fn timestamped(line: &str) -> LogLine {
    let now_ms = (haneul_wire::value::now_epoch_s() * 1000.0) as i64;
    match line.split_once(' ') {
        Some((ts, rest)) => match time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339) {
            Ok(t) => LogLine {
                timestamp_ms: (t.unix_timestamp_nanos() / 1_000_000) as i64,
                message: rest.to_string(),
            },
            Err(_) => LogLine {
                timestamp_ms: now_ms,
                message: line.to_string(),
            },
        },
        None => LogLine {
            timestamp_ms: now_ms,
            message: line.to_string(),
        },
    }
}

fn cut(mut s: String) -> String {
    if s.len() > MAX_LOG_LINE_BYTES {
        let mut end = MAX_LOG_LINE_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

impl Runtime for DockerRuntime {
    fn ensure_image<'a>(
        &'a self,
        image: &'a str,
        auth: Option<RegistryAuth>,
    ) -> BoxFuture<'a, Result<Option<String>, RuntimeError>> {
        Box::pin(async move {
            if auth.is_none() {
                // Not from haneul's registry: this engine reaches no other, so a local copy
                // is the only way (ECS's "prefer cached" pull behaviour).
                if let Ok(found) = self.docker.inspect_image(image).await {
                    return Ok(found.id);
                }
            }
            let (from, tag) = split_reference(image);
            let options = CreateImageOptionsBuilder::new().from_image(from).tag(tag).build();
            let credentials = auth.map(|a| DockerCredentials {
                username: Some(a.username),
                password: Some(a.password),
                serveraddress: Some(a.server),
                ..Default::default()
            });
            let pull = async {
                let mut progress = self.docker.create_image(Some(options), None, credentials);
                while let Some(step) = progress.next().await {
                    step.map_err(|e| RuntimeError::Pull(pull_message(image, e)))?;
                }
                Ok::<_, RuntimeError>(())
            };
            tokio::time::timeout(Duration::from_secs(PULL_TIMEOUT_S), pull)
                .await
                .map_err(|_| RuntimeError::Pull(format!("pull image {image}: timed out after {PULL_TIMEOUT_S} s")))??;
            let found = self.docker.inspect_image(image).await.map_err(engine)?;
            Ok(found
                .repo_digests
                .and_then(|d| d.into_iter().next())
                .and_then(|d| d.split_once('@').map(|(_, x)| x.to_string()))
                .or(found.id))
        })
    }

    fn create<'a>(&'a self, spec: &'a ContainerSpec) -> BoxFuture<'a, Result<String, RuntimeError>> {
        Box::pin(async move {
            let options = CreateContainerOptionsBuilder::new().name(&spec.name).build();
            let created = self
                .docker
                .create_container(Some(options), create_body(spec))
                .await
                .map_err(engine)?;
            Ok(created.id)
        })
    }

    fn start<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move { self.docker.start_container(id, None).await.map_err(engine) })
    }

    fn wait<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<i64, RuntimeError>> {
        Box::pin(async move {
            let options = WaitContainerOptionsBuilder::new().condition("not-running").build();
            let mut waiting = self.docker.wait_container(id, Some(options));
            match waiting.next().await {
                Some(Ok(done)) => Ok(done.status_code),
                // bollard reports a non-zero exit as an error carrying the code.
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
                Some(Err(e)) => Err(engine(e)),
                None => Err(RuntimeError::Engine(format!(
                    "the engine ended the wait for {id} without a status"
                ))),
            }
        })
    }

    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<ContainerInfo, RuntimeError>> {
        Box::pin(async move {
            let found = self.docker.inspect_container(id, None).await.map_err(engine)?;
            Ok(container_info(found))
        })
    }

    fn stop<'a>(&'a self, id: &'a str, timeout_s: i64) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            let t = i32::try_from(timeout_s.clamp(0, 3600)).unwrap_or(30);
            let options = StopContainerOptionsBuilder::new().t(t).build();
            match self.docker.stop_container(id, Some(options)).await {
                Ok(()) => Ok(()),
                // 304: already stopped.
                Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
                Err(e) => Err(engine(e)),
            }
        })
    }

    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            let options = RemoveContainerOptionsBuilder::new().force(true).v(true).build();
            match self.docker.remove_container(id, Some(options)).await {
                Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
                Err(e) => Err(engine(e)),
            }
        })
    }

    fn list<'a>(&'a self, label: &'a str, value: &'a str) -> BoxFuture<'a, Result<Vec<ContainerInfo>, RuntimeError>> {
        Box::pin(async move {
            let filters = HashMap::from([("label".to_string(), vec![format!("{label}={value}")])]);
            let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
            let found = self.docker.list_containers(Some(options)).await.map_err(engine)?;
            let mut out = Vec::with_capacity(found.len());
            for summary in found {
                let Some(id) = summary.id else { continue };
                match self.inspect(&id).await {
                    Ok(info) => out.push(info),
                    Err(RuntimeError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(out)
        })
    }

    fn exec<'a>(&'a self, id: &'a str, command: &'a [String]) -> BoxFuture<'a, Result<ExecProcess, RuntimeError>> {
        Box::pin(async move {
            let config = bollard::models::ExecConfig {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(true),
                cmd: Some(command.to_vec()),
                ..Default::default()
            };
            let created = self.docker.create_exec(id, config).await.map_err(engine)?;
            let options = bollard::exec::StartExecOptions {
                detach: false,
                tty: true,
                output_capacity: None,
            };
            match self
                .docker
                .start_exec(&created.id, Some(options))
                .await
                .map_err(engine)?
            {
                bollard::exec::StartExecResults::Attached { output, input } => Ok(ExecProcess {
                    exec_id: created.id,
                    output: Box::pin(output.map(|chunk| match chunk.map_err(engine)? {
                        bollard::container::LogOutput::StdOut { message }
                        | bollard::container::LogOutput::StdErr { message }
                        | bollard::container::LogOutput::Console { message }
                        | bollard::container::LogOutput::StdIn { message } => Ok(message),
                    })),
                    input,
                }),
                bollard::exec::StartExecResults::Detached => {
                    Err(RuntimeError::Engine("the engine started the command detached".into()))
                }
            }
        })
    }

    fn resize_exec<'a>(&'a self, exec_id: &'a str, cols: u16, rows: u16) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            let options = bollard::query_parameters::ResizeExecOptions {
                h: i32::from(rows),
                w: i32::from(cols),
            };
            self.docker.resize_exec(exec_id, options).await.map_err(engine)
        })
    }

    fn exec_exit_code<'a>(&'a self, exec_id: &'a str) -> BoxFuture<'a, Result<Option<i64>, RuntimeError>> {
        Box::pin(async move {
            let inspected = self.docker.inspect_exec(exec_id).await.map_err(engine)?;
            Ok(if inspected.running == Some(true) {
                None
            } else {
                inspected.exit_code
            })
        })
    }

    fn host_gateway(&self) -> BoxFuture<'_, Option<std::net::IpAddr>> {
        Box::pin(async move {
            let network = self.docker.inspect_network("bridge", None).await.ok()?;
            let config = network.ipam?.config?.into_iter().next()?;
            if let Some(gateway) = config.gateway.and_then(|g| g.parse().ok()) {
                return Some(gateway);
            }
            // No gateway listed: the bridge's is the subnet's first address.
            let subnet = config.subnet?;
            let base: std::net::Ipv4Addr = subnet.split('/').next()?.parse().ok()?;
            Some(std::net::IpAddr::V4(std::net::Ipv4Addr::from(u32::from(base) + 1)))
        })
    }

    fn follow_logs<'a>(
        &'a self,
        id: &'a str,
        since_s: i64,
        lines: mpsc::Sender<LogLine>,
    ) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            let since = i32::try_from(since_s.max(0)).unwrap_or(0);
            let options = LogsOptionsBuilder::new()
                .follow(true)
                .stdout(true)
                .stderr(true)
                .timestamps(true)
                .since(since)
                .build();
            let mut output = self.docker.logs(id, Some(options));
            // Docker frames output in chunks that need not end at a newline.
            let mut partial: HashMap<bool, String> = HashMap::new();
            while let Some(chunk) = output.next().await {
                let (is_err, bytes) = match chunk.map_err(engine)? {
                    bollard::container::LogOutput::StdErr { message } => (true, message),
                    bollard::container::LogOutput::StdOut { message }
                    | bollard::container::LogOutput::Console { message } => (false, message),
                    bollard::container::LogOutput::StdIn { .. } => continue,
                };
                let buffer = partial.entry(is_err).or_default();
                buffer.push_str(&String::from_utf8_lossy(&bytes));
                while let Some(end) = buffer.find('\n') {
                    let line: String = buffer.drain(..=end).collect();
                    let line = line.trim_end_matches(['\n', '\r']);
                    if lines.send(timestamped_cut(line)).await.is_err() {
                        return Ok(());
                    }
                }
                if buffer.len() > MAX_LOG_LINE_BYTES {
                    let line = std::mem::take(buffer);
                    if lines.send(timestamped_cut(&line)).await.is_err() {
                        return Ok(());
                    }
                }
            }
            for (_, rest) in partial {
                if !rest.is_empty() && lines.send(timestamped_cut(&rest)).await.is_err() {
                    return Ok(());
                }
            }
            Ok(())
        })
    }
}

fn timestamped_cut(line: &str) -> LogLine {
    let mut l = timestamped(line);
    l.message = cut(l.message);
    l
}

/// ECS's wording for a failed pull.
fn pull_message(image: &str, e: bollard::errors::Error) -> String {
    let why = match e {
        bollard::errors::Error::DockerStreamError { error } => error,
        bollard::errors::Error::DockerResponseServerError { message, .. } => message,
        other => other.to_string(),
    };
    format!("pull image manifest has been retried 1 time(s): failed to resolve ref {image}: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(split_reference("127.0.0.1:4566/web:v1"), ("127.0.0.1:4566/web", "v1"));
        assert_eq!(split_reference("127.0.0.1:4566/web"), ("127.0.0.1:4566/web", "latest"));
        assert_eq!(split_reference("busybox"), ("busybox", "latest"));
        assert_eq!(
            split_reference("127.0.0.1:4566/a/b@sha256:abc"),
            ("127.0.0.1:4566/a/b", "sha256:abc")
        );
    }

    #[test]
    fn docker_timestamps() {
        let l = timestamped("2026-12-07T14:03:32.123456789Z hello world");
        assert_eq!(l.message, "hello world");
        assert_eq!(l.timestamp_ms % 1000, 123);
    }
}

//! # haneul-testkit: a haneul for each test
//!
//! [`Haneul::start`] runs a dev-mode haneul in-process, on its own runtime thread, on an
//! ephemeral port with temp state; dropping it stops it. It hands out configured
//! aws-sdk-rust clients, runs the `aws` CLI against itself, and sends raw HTTP for
//! wire-level tests. Tests can be plain `#[test]` or `#[tokio::test]`.

pub mod backend;
pub mod docker;
pub mod mmdb;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_credential_types::Credentials;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Account and region every test client uses unless it says otherwise.
pub const ACCOUNT_ID: &str = "000000000000";
pub const REGION: &str = "us-east-1";
/// How long a raw request may take before the test fails.
const RAW_REQUEST_TIMEOUT_S: u64 = 30;

/// How [`Haneul::start_with`] starts haneul.
#[derive(Debug, Clone)]
pub struct Options {
    pub dev: bool,
    /// Existing state to open; `None`: a fresh temp dir.
    pub data_dir: Option<PathBuf>,
    /// `--geoip-db`.
    pub geoip_db: Option<PathBuf>,
    /// `--latency-table`.
    pub latency_table: Option<PathBuf>,
    /// `--acm-validity-s`.
    pub acm_validity_s: Option<u64>,
    /// `--acme-directory` and `--acme-ca-file`.
    pub acme_directory: Option<String>,
    pub acme_ca_file: Option<PathBuf>,
    /// `--dns-upstream`.
    pub dns_upstream: Option<SocketAddr>,
    /// `--vuln-db`.
    pub vuln_db: Option<PathBuf>,
    /// `--ecr-lifecycle-interval-s`, `--ecr-gc-interval-s`, `--ecr-gc-grace-s`.
    pub ecr_lifecycle_interval_s: Option<u64>,
    pub ecr_gc_interval_s: Option<u64>,
    pub ecr_gc_grace_s: Option<u64>,
    /// `--logs-retention-day-s`, `--logs-retention-interval-s`.
    pub logs_retention_day_s: Option<u64>,
    pub logs_retention_interval_s: Option<u64>,
    /// Leave ECS task containers running when this instance stops (a restart test that
    /// wants the next instance to adopt them removes them itself).
    pub keep_tasks_on_exit: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            dev: true,
            data_dir: None,
            geoip_db: None,
            latency_table: None,
            acm_validity_s: None,
            acme_directory: None,
            acme_ca_file: None,
            dns_upstream: None,
            vuln_db: None,
            ecr_lifecycle_interval_s: None,
            ecr_gc_interval_s: None,
            ecr_gc_grace_s: None,
            logs_retention_day_s: None,
            logs_retention_interval_s: None,
            keep_tasks_on_exit: false,
        }
    }
}

/// A running haneul; stops when dropped.
/// Each instance of a test process gets its own load balancer range (127.1.N.0/24), so load
/// balancers of tests running side by side never share an address.
/// and likewise its own ECS task range (127.2xx.N.0/24, by process id, so test processes
/// running side by side do not share task addresses either).
fn next_cidrs() -> (String, String) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let lb = format!("127.{}.{}.0/24", 1 + (n / 256) % 254, n % 256);
    let task = format!("127.{}.{}.0/24", 200 + std::process::id() % 50, n % 256);
    (lb, task)
}

pub struct Haneul {
    /// `--lb-cidr` of this instance.
    pub lb_cidr: String,
    /// `--task-cidr` of this instance.
    pub task_cidr: String,
    pub api_addr: SocketAddr,
    pub dns_addr: SocketAddr,
    pub data_dir: PathBuf,
    /// The root key (verified mode only).
    pub root_key: Option<(String, String)>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _temp: Option<tempfile::TempDir>,
}

/// What a raw HTTP request got back.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

/// What an `aws` CLI run printed.
#[derive(Debug)]
pub struct CliOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn json(&self) -> serde_json::Value {
        assert!(self.success, "aws CLI failed: {}", self.stderr);
        if self.stdout.trim().is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("aws CLI output is not JSON ({e}): {}", self.stdout))
    }
}

impl Haneul {
    /// Dev mode: any credentials, temp state.
    pub fn start() -> Haneul {
        Haneul::start_mode(true, None)
    }

    /// Verified mode (SigV4 checked against a fresh root key), temp state.
    pub fn start_verified() -> Haneul {
        Haneul::start_mode(false, None)
    }

    /// A haneul over an existing data dir (e.g. to restart on the same state).
    pub fn start_mode(dev: bool, data_dir: Option<&Path>) -> Haneul {
        Haneul::start_with(Options {
            dev,
            data_dir: data_dir.map(Path::to_path_buf),
            ..Options::default()
        })
    }

    /// A haneul with the given options.
    pub fn start_with(options: Options) -> Haneul {
        let Options {
            dev,
            data_dir,
            geoip_db,
            latency_table,
            acm_validity_s,
            acme_directory,
            acme_ca_file,
            dns_upstream,
            vuln_db,
            ecr_lifecycle_interval_s,
            ecr_gc_interval_s,
            ecr_gc_grace_s,
            logs_retention_day_s,
            logs_retention_interval_s,
            keep_tasks_on_exit,
        } = options;
        let data_dir = data_dir.as_deref();
        let (lb_cidr, task_cidr) = next_cidrs();
        let temp = match data_dir {
            Some(_) => None,
            None => Some(tempfile::tempdir().expect("temp dir for haneul state")),
        };
        let dir = data_dir
            .map(Path::to_path_buf)
            .unwrap_or_else(|| temp.as_ref().map(|t| t.path().to_path_buf()).unwrap_or_default());
        let config = haneul::Config {
            api_addr: "127.0.0.1:0".parse().expect("literal address"),
            dns_addr: "127.0.0.1:0".parse().expect("literal address"),
            lb_cidr: lb_cidr.clone(),
            task_cidr: task_cidr.clone(),
            ecs_remove_tasks_on_exit: !keep_tasks_on_exit,
            ecs_runtime: haneul::config::EcsRuntime::Docker,
            region: REGION.into(),
            account_id: ACCOUNT_ID.into(),
            data_dir: Some(dir.clone()),
            dev,
            geoip_db,
            latency_table,
            acm_validity_s,
            acme_directory,
            acme_email: None,
            acme_ca_file,
            dns_upstream,
            registry_host: None,
            registry_tls: None,
            vuln_db,
            ecr_lifecycle_interval_s,
            ecr_gc_interval_s,
            ecr_gc_grace_s,
            logs_retention_day_s,
            logs_retention_interval_s,
            runtime_files: Vec::new(),
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime for haneul");
            rt.block_on(async move {
                match haneul::start(config).await {
                    Ok(running) => {
                        let key = running
                            .root_key
                            .as_ref()
                            .map(|(k, _)| (k.access_key_id.clone(), k.secret_access_key.clone()));
                        let _ = ready_tx.send(Ok((running.api_addr, running.dns_addr, key)));
                        let _ = stop_rx.await;
                        running.shutdown().await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                    }
                }
            });
        });
        let (api_addr, dns_addr, root_key) = ready_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("haneul did not start within 30 s")
            .unwrap_or_else(|e| panic!("haneul failed to start: {e}"));
        Haneul {
            api_addr,
            dns_addr,
            lb_cidr,
            task_cidr,
            data_dir: dir,
            root_key,
            stop: Some(stop_tx),
            thread: Some(thread),
            _temp: temp,
        }
    }

    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// Credentials that work against this instance: the root key, or any key in dev mode.
    pub fn credentials(&self) -> (String, String) {
        self.root_key
            .clone()
            .unwrap_or_else(|| ("AKIDTESTKIT".into(), "testkit-secret".into()))
    }

    pub fn sts_config(&self) -> aws_sdk_sts::config::Builder {
        let (key, secret) = self.credentials();
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new(REGION))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(Credentials::new(key, secret, None, None, "haneul-testkit"))
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::from_conf(self.sts_config().build())
    }

    pub fn acm(&self) -> aws_sdk_acm::Client {
        let (key, secret) = self.credentials();
        let config = aws_sdk_acm::Config::builder()
            .behavior_version(aws_sdk_acm::config::BehaviorVersion::latest())
            .region(aws_sdk_acm::config::Region::new(REGION))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(Credentials::new(key, secret, None, None, "haneul-testkit"))
            .build();
        aws_sdk_acm::Client::from_conf(config)
    }

    pub fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        let (key, secret) = self.credentials();
        let config = aws_sdk_elasticloadbalancingv2::Config::builder()
            .behavior_version(aws_sdk_elasticloadbalancingv2::config::BehaviorVersion::latest())
            .region(aws_sdk_elasticloadbalancingv2::config::Region::new(REGION))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(Credentials::new(key, secret, None, None, "haneul-testkit"))
            .build();
        aws_sdk_elasticloadbalancingv2::Client::from_conf(config)
    }

    pub fn ecr(&self) -> aws_sdk_ecr::Client {
        let (key, secret) = self.credentials();
        let config = aws_sdk_ecr::Config::builder()
            .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
            .region(aws_sdk_ecr::config::Region::new(REGION))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(Credentials::new(key, secret, None, None, "haneul-testkit"))
            .build();
        aws_sdk_ecr::Client::from_conf(config)
    }

    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        let (key, secret) = self.credentials();
        let config = aws_sdk_ecs::Config::builder()
            .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
            .region(aws_sdk_ecs::config::Region::new(REGION))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(Credentials::new(key, secret, None, None, "haneul-testkit"))
            .build();
        aws_sdk_ecs::Client::from_conf(config)
    }

    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        let (key, secret) = self.credentials();
        let config = aws_sdk_cloudwatchlogs::Config::builder()
            .behavior_version(aws_sdk_cloudwatchlogs::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudwatchlogs::config::Region::new(REGION))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(Credentials::new(key, secret, None, None, "haneul-testkit"))
            .build();
        aws_sdk_cloudwatchlogs::Client::from_conf(config)
    }

    pub fn route53(&self) -> aws_sdk_route53::Client {
        let (key, secret) = self.credentials();
        let config = aws_sdk_route53::Config::builder()
            .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
            .region(aws_sdk_route53::config::Region::new(REGION))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(Credentials::new(key, secret, None, None, "haneul-testkit"))
            .build();
        aws_sdk_route53::Client::from_conf(config)
    }

    /// The environment that points the `aws` CLI (or boto3) at this instance.
    pub fn cli_env(&self) -> Vec<(String, String)> {
        let (key, secret) = self.credentials();
        vec![
            ("AWS_ACCESS_KEY_ID".into(), key),
            ("AWS_SECRET_ACCESS_KEY".into(), secret),
            ("AWS_DEFAULT_REGION".into(), REGION.into()),
            ("AWS_ENDPOINT_URL".into(), self.endpoint_url()),
            ("AWS_PAGER".into(), String::new()),
            ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
        ]
    }

    /// Runs `aws <args> --output json`. Fails the test loudly if the CLI is not installed.
    pub fn aws(&self, args: &[&str]) -> CliOutput {
        let out = Command::new("aws")
            .args(args)
            .args(["--output", "json"])
            .envs(self.cli_env())
            .output()
            .unwrap_or_else(|e| panic!("cannot run the aws CLI ({e}); install it with `pip install awscli`"));
        CliOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `aws <args>` that must succeed; its JSON output.
    pub fn aws_ok(&self, args: &[&str]) -> serde_json::Value {
        self.aws(args).json()
    }

    /// `aws <args>` that must fail with `code`; the CLI's error text.
    pub fn aws_err(&self, args: &[&str], code: &str) -> String {
        let out = self.aws(args);
        assert!(
            !out.success,
            "aws {args:?} should fail with {code} but succeeded: {}",
            out.stdout
        );
        assert!(
            out.stderr.contains(&format!("({code})")),
            "aws {args:?} should fail with {code}, got: {}",
            out.stderr
        );
        out.stderr
    }

    /// Sends one raw HTTP/1.1 request to the API endpoint.
    pub async fn raw(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> RawResponse {
        send_raw(self.api_addr, method, path_and_query, headers, body.into()).await
    }

    /// `raw` for plain `#[test]`s.
    pub fn raw_blocking(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> RawResponse {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(self.raw(method, path_and_query, headers, body))
    }
}

/// Sends one raw HTTP/1.1 request to `addr`.
pub async fn send_raw(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> RawResponse {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path_and_query}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(body)).expect("valid test request");
    let resp = tokio::time::timeout(Duration::from_secs(RAW_REQUEST_TIMEOUT_S), client.request(req))
        .await
        .expect("raw request timed out")
        .expect("raw request failed");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("response body").to_bytes();
    RawResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

impl Drop for Haneul {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

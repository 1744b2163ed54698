//! What `haneul up` runs with: addresses, data dir, account, region, mode.

use std::net::SocketAddr;
use std::path::PathBuf;

/// The defaults DESIGN.md fixes.
pub const DEFAULT_API_ADDR: &str = "127.0.0.1:4566";
pub const DEFAULT_DNS_ADDR: &str = "127.0.0.1:1053";
pub const DEFAULT_LB_CIDR: &str = "127.0.1.0/24";
pub const DEFAULT_TASK_CIDR: &str = haneul_ecs::runtime::addresses::DEFAULT_TASK_CIDR;
pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

#[derive(Debug, Clone)]
pub struct Config {
    pub api_addr: SocketAddr,
    pub dns_addr: SocketAddr,
    pub lb_cidr: String,
    /// `--task-cidr`: the loopback range awsvpc ECS tasks get their addresses from.
    pub task_cidr: String,
    pub region: String,
    pub account_id: String,
    /// `None` in dev mode without `--data-dir`: a temp dir that is removed on exit.
    pub data_dir: Option<PathBuf>,
    pub dev: bool,
    /// `--geoip-db`: a MaxMind-format database locating DNS clients (location-based routing).
    pub geoip_db: Option<PathBuf>,
    /// `--latency-table`: measured client-network → region latencies for latency routing.
    pub latency_table: Option<PathBuf>,
    /// `--acm-validity-s` (dev only): issued certificates live this long, so managed renewal
    /// and expiry can be watched.
    pub acm_validity_s: Option<u64>,
    /// `--acme-directory`: obtain certificates from this ACME CA (DNS-01 through haneul's zones).
    pub acme_directory: Option<String>,
    /// `--acme-email`: the ACME account's contact.
    pub acme_email: Option<String>,
    /// `--acme-ca-file`: PEM trust anchors for the ACME server's HTTPS (a test CA such as pebble's).
    pub acme_ca_file: Option<PathBuf>,
    /// `--dns-upstream`: where VPC resolvers forward names haneul holds no zone for.
    pub dns_upstream: Option<SocketAddr>,
    /// `--registry-host`: the host (and port) in ECR repository URIs and registry URLs, for
    /// users who reach haneul by another name; default: the API address.
    pub registry_host: Option<String>,
    /// `--registry-tls`: an HTTPS listener for the endpoint (registry included) with a
    /// certificate from haneul's CA; repository URIs then name it unless `--registry-host`.
    pub registry_tls: Option<SocketAddr>,
    /// `--vuln-db`: OSV records (a JSON file or a directory of them) ECR's image scans use.
    pub vuln_db: Option<PathBuf>,
    /// `--ecr-lifecycle-interval-s`: how often lifecycle policies are applied (default 600).
    pub ecr_lifecycle_interval_s: Option<u64>,
    /// `--ecr-gc-interval-s`: how often unreferenced blobs are collected (default 600).
    pub ecr_gc_interval_s: Option<u64>,
    /// `--ecr-gc-grace-s`: how long a blob no image uses is kept (default 3600).
    pub ecr_gc_grace_s: Option<u64>,
    /// `--logs-retention-day-s`: how long one day of a log retention policy lasts (86,400;
    /// tests shorten it).
    pub logs_retention_day_s: Option<u64>,
    /// `--logs-retention-interval-s`: how often expired log events are removed (default 60).
    pub logs_retention_interval_s: Option<u64>,
    /// Whether stopping haneul removes its ECS task containers (a dev instance on temp
    /// state, whose tasks no later run could adopt); otherwise they keep running and the
    /// next start adopts them.
    pub ecs_remove_tasks_on_exit: bool,
    /// `--ecs-runtime`: where ECS tasks run — the Docker engine, or a simulated engine in
    /// memory (benchmarks and demos without Docker: nothing is executed).
    pub ecs_runtime: EcsRuntime,
    /// Where to announce this instance for `haneul env` (written before the endpoint
    /// answers, removed on exit). Empty for in-process test instances.
    pub runtime_files: Vec<PathBuf>,
}

/// Which container engine ECS tasks run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EcsRuntime {
    #[default]
    Docker,
    Simulated,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--account-id must be 12 digits, got '{0}'")]
    AccountId(String),
    #[error("--lb-cidr must be an IPv4 CIDR such as 127.0.1.0/24, got '{0}'")]
    LbCidr(String),
    #[error("--task-cidr must be a loopback IPv4 CIDR of /8 to /30 such as 127.0.2.0/23, got '{0}'")]
    TaskCidr(String),
    #[error("--region must look like us-east-1, got '{0}'")]
    Region(String),
    #[error("--acm-validity-s shortens certificate lifetimes for tests and demos; it needs --dev")]
    ShortLifetimeOutsideDev,
}

impl Config {
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::AccountId(self.account_id.clone()));
        }
        let lb_ok = self
            .lb_cidr
            .split_once('/')
            .is_some_and(|(a, n)| a.parse::<std::net::Ipv4Addr>().is_ok() && n.parse::<u8>().is_ok_and(|n| n <= 32));
        if !lb_ok {
            return Err(ConfigError::LbCidr(self.lb_cidr.clone()));
        }
        if haneul_ecs::runtime::addresses::TaskCidr::parse(&self.task_cidr).is_err() {
            return Err(ConfigError::TaskCidr(self.task_cidr.clone()));
        }
        let region_ok = self.region.split('-').count() >= 3
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(ConfigError::Region(self.region.clone()));
        }
        if self.acm_validity_s.is_some() && !self.dev {
            return Err(ConfigError::ShortLifetimeOutsideDev);
        }
        Ok(())
    }
}

/// `$XDG_DATA_HOME/haneul`, else `~/.local/share/haneul`.
pub fn default_data_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("haneul");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/haneul")
}

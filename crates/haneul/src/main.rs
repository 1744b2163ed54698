//! The `haneul` command line: `up` runs everything, `env` prints the shell exports that
//! point AWS clients at a running instance.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use haneul::config::{self, Config};
use haneul::credentials::RootKey;
use haneul::runtime_file::{RuntimeInfo, DEV_RUNTIME_FILE, RUNTIME_FILE};

/// mimalloc: the proxy and DNS paths allocate small, short-lived buffers per request, where
/// glibc's malloc measured a few percent of CPU (BENCHMARKS.md, HTTP).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "haneul",
    version,
    about = "Route 53, ACM, ALB, ECS and ECR on your own machine, with the real AWS APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run haneul in the foreground until SIGINT/SIGTERM.
    Up(Box<UpArgs>),
    /// Print `export …` lines for the running instance: `eval "$(haneul env)"`.
    Env {
        /// The running instance's data dir (default: the persistent one, else the dev one).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Print the running instance's root CA certificate (PEM), to trust in curl, browsers, containers.
    Ca {
        /// The running instance's data dir (default: the persistent one, else the dev one).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Be a container instance of an ECS cluster on this host: register with the server,
    /// run the tasks it places here on the local Docker engine, report their state.
    Agent(Box<AgentArgs>),
    /// The Session Manager client `aws ecs execute-command` runs, for machines without AWS's
    /// (`ln -s "$(command -v haneul)" ~/.local/bin/session-manager-plugin`; under that name
    /// haneul is the plugin).
    SessionManagerPlugin {
        /// The plugin's arguments as the AWS CLI passes them.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// CloudWatch Logs from the command line.
    Logs {
        #[command(subcommand)]
        command: LogsCommand,
    },
}

#[derive(clap::Subcommand)]
enum LogsCommand {
    /// Print a log group's events (like AWS CLI v2's `aws logs tail`); --follow keeps going.
    Tail {
        /// The log group's name.
        group: String,
        /// Keep printing new events as they arrive.
        #[arg(long, short = 'f')]
        follow: bool,
        /// From how far back: 10m, 1h, 2d, 1w, or a time (2026-12-03T10:00:00Z).
        #[arg(long, default_value = "10m")]
        since: String,
        /// Only events that match this filter pattern.
        #[arg(long)]
        filter_pattern: Option<String>,
        #[arg(long, value_enum, default_value = "detailed")]
        format: haneul::logs_tail::Format,
        /// The running instance's data dir (default: the persistent one, else the dev one).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Another endpoint instead (credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY).
        #[arg(long)]
        endpoint_url: Option<String>,
    },
}

#[derive(clap::Args)]
struct AgentArgs {
    /// The server's API endpoint (`haneul up`'s `api` line).
    #[arg(long)]
    server: String,
    /// The ECS cluster to join.
    #[arg(long, default_value = "default")]
    cluster: String,
    /// The agent's own state (its container instance ARN, its identity on the engine);
    /// one per agent (default $XDG_DATA_HOME/haneul/agent-<cluster>).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The address this host's bridge and host mode task ports are published on and load
    /// balancers reach them by (a 127.x address keeps several agents on one machine apart).
    #[arg(long, default_value = "127.0.0.1")]
    address: String,
    /// CPU units offered to tasks (default 1024 per core).
    #[arg(long)]
    cpu_units: Option<i64>,
    /// Memory offered to tasks, MiB (default the machine's memory).
    #[arg(long)]
    memory_mib: Option<i64>,
    /// The instance's availability zone (default the region's `a` zone).
    #[arg(long)]
    availability_zone: Option<String>,
    /// A custom attribute, `name` or `name=value` (repeatable), for placement constraints.
    #[arg(long = "attribute")]
    attributes: Vec<String>,
    /// Join this capacity provider (CreateCapacityProvider): tasks launched through it are
    /// placed only on its agents.
    #[arg(long)]
    capacity_provider: Option<String>,
    /// Seconds between heartbeats (the server counts an agent lost after 30 s of silence).
    #[arg(long, default_value_t = 10)]
    heartbeat_s: u64,
    /// Milliseconds between looks at the tasks placed here.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    #[arg(long, env = "AWS_REGION", default_value = config::DEFAULT_REGION)]
    region: String,
}

#[derive(clap::Args)]
struct UpArgs {
    /// Where state, blobs and keys live (default $XDG_DATA_HOME/haneul; a temp dir with --dev).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The AWS API + registry endpoint. Port 0 picks a free port.
    #[arg(long, default_value = config::DEFAULT_API_ADDR)]
    api: SocketAddr,
    /// The DNS server's UDP+TCP address.
    #[arg(long, default_value = config::DEFAULT_DNS_ADDR)]
    dns: SocketAddr,
    /// Loopback range load balancers get their addresses from.
    #[arg(long, default_value = config::DEFAULT_LB_CIDR)]
    lb_cidr: String,
    /// Loopback range awsvpc ECS tasks get their addresses from (each task its own).
    #[arg(long, default_value = config::DEFAULT_TASK_CIDR)]
    task_cidr: String,
    /// Where ECS tasks run: the local Docker engine, or `simulated` (in memory, nothing is
    /// executed: for benchmarks and demos without Docker).
    #[arg(long, value_enum, default_value_t = config::EcsRuntime::Docker)]
    ecs_runtime: config::EcsRuntime,
    #[arg(long, default_value = config::DEFAULT_REGION)]
    region: String,
    #[arg(long, default_value = config::DEFAULT_ACCOUNT_ID)]
    account_id: String,
    /// Throw-away mode: any credentials, temp state (unless --data-dir), reset endpoint open.
    #[arg(long)]
    dev: bool,
    /// A MaxMind-format (.mmdb) database that locates DNS clients for latency, geolocation
    /// and geoproximity routing (GeoLite2-City or your own).
    #[arg(long)]
    geoip_db: Option<PathBuf>,
    /// JSON of client networks to region latencies in ms (`{"198.51.100.0/24": {"eu-west-1": 12}}`)
    /// that latency routing prefers to its distance estimate.
    #[arg(long)]
    latency_table: Option<PathBuf>,
    /// Dev mode only: issued ACM certificates live this many seconds (renewal starts in ACM's
    /// proportion, 60 of 395), so renewal and expiry can be watched.
    #[arg(long)]
    acm_validity_s: Option<u64>,
    /// Obtain ACM certificates from this ACME CA (e.g. Let's Encrypt's directory URL), solving
    /// DNS-01 in haneul's own hosted zones, instead of haneul's CA.
    #[arg(long)]
    acme_directory: Option<String>,
    /// Contact address for the ACME account.
    #[arg(long)]
    acme_email: Option<String>,
    /// Extra PEM trust anchors for the ACME server's HTTPS (a test CA such as pebble's).
    #[arg(long)]
    acme_ca_file: Option<PathBuf>,
    /// An upstream resolver the VPC resolvers forward other names to (off by default).
    #[arg(long)]
    dns_upstream: Option<SocketAddr>,
    /// The registry's host in ECR repository URIs (`<host>/<name>`) and login URLs, for users
    /// who reach haneul by another name (default: the API address).
    #[arg(long)]
    registry_host: Option<String>,
    /// Also serve the endpoint (and so the registry) over HTTPS here, with a certificate from
    /// haneul's CA, for Docker engines that reach haneul by another name than loopback.
    #[arg(long)]
    registry_tls: Option<SocketAddr>,
    /// OSV vulnerability records (a JSON file, or a directory of them) that ECR's image scans
    /// match installed packages against (Debian, Ubuntu and Alpine ecosystems).
    #[arg(long)]
    vuln_db: Option<PathBuf>,
    /// How often ECR applies repositories' lifecycle policies, in seconds (default 600).
    #[arg(long)]
    ecr_lifecycle_interval_s: Option<u64>,
    /// How often ECR collects blobs no image references, in seconds (default 600).
    #[arg(long)]
    ecr_gc_interval_s: Option<u64>,
    /// How long a blob no image references is kept before collection, in seconds (default
    /// 3600; it covers a push between its blobs and its manifest).
    #[arg(long)]
    ecr_gc_grace_s: Option<u64>,
    /// How long one day of a CloudWatch Logs retention policy lasts, in seconds (default
    /// 86400; shorter to watch retention work).
    #[arg(long)]
    logs_retention_day_s: Option<u64>,
    /// How often events past their log group's retention are removed, in seconds (default 60).
    #[arg(long)]
    logs_retention_interval_s: Option<u64>,
}

/// Under this program name haneul is the Session Manager plugin.
const SESSION_PLUGIN_NAME: &str = "session-manager-plugin";

fn main() -> anyhow::Result<()> {
    let mut argv = std::env::args();
    let program = argv.next().unwrap_or_default();
    if std::path::Path::new(&program)
        .file_name()
        .is_some_and(|n| n == SESSION_PLUGIN_NAME)
    {
        let args: Vec<String> = argv.collect();
        std::process::exit(haneul::session_plugin::run(&args)?);
    }
    let cli = Cli::parse();
    match cli.command {
        Command::SessionManagerPlugin { args } => std::process::exit(haneul::session_plugin::run(&args)?),
        Command::Up(args) => up(*args),
        Command::Agent(args) => agent(*args),
        Command::Env { data_dir } => env(data_dir),
        Command::Ca { data_dir } => ca(data_dir),
        Command::Logs {
            command:
                LogsCommand::Tail {
                    group,
                    follow,
                    since,
                    filter_pattern,
                    format,
                    data_dir,
                    endpoint_url,
                },
        } => {
            let (endpoint, access_key_id, secret_access_key, region) = match endpoint_url {
                Some(url) => {
                    let var = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_string());
                    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| var("AWS_DEFAULT_REGION", "us-east-1"));
                    (
                        url,
                        var("AWS_ACCESS_KEY_ID", "000000000000"),
                        var("AWS_SECRET_ACCESS_KEY", "haneul-dev"),
                        region,
                    )
                }
                None => {
                    let (info, key_id, secret) = instance_credentials(data_dir)?;
                    (format!("http://{}", info.api), key_id, secret, info.region)
                }
            };
            let now_ms = haneul::logs_tail::now_ms();
            let tail = haneul::logs_tail::Tail {
                endpoint,
                access_key_id,
                secret_access_key,
                region,
                group,
                since_ms: haneul::logs_tail::parse_since(&since, now_ms)?,
                filter_pattern,
                follow,
                format,
            };
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(tail.run(&mut std::io::stdout().lock()))
        }
    }
}

fn up(args: UpArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let data_dir = args.data_dir.or_else(|| (!args.dev).then(config::default_data_dir));
    // A persistent (or explicit) data dir names its instance; a dev instance on temp state
    // announces itself in the default data dir instead.
    let runtime_file = match &data_dir {
        Some(dir) => dir.join(RUNTIME_FILE),
        None => config::default_data_dir().join(DEV_RUNTIME_FILE),
    };
    let config = Config {
        api_addr: args.api,
        dns_addr: args.dns,
        lb_cidr: args.lb_cidr,
        task_cidr: args.task_cidr,
        ecs_runtime: args.ecs_runtime,
        ecs_remove_tasks_on_exit: data_dir.is_none(),
        region: args.region,
        account_id: args.account_id,
        data_dir,
        dev: args.dev,
        geoip_db: args.geoip_db,
        latency_table: args.latency_table,
        acm_validity_s: args.acm_validity_s,
        acme_directory: args.acme_directory,
        acme_email: args.acme_email,
        acme_ca_file: args.acme_ca_file,
        dns_upstream: args.dns_upstream,
        registry_host: args.registry_host,
        registry_tls: args.registry_tls,
        vuln_db: args.vuln_db,
        ecr_lifecycle_interval_s: args.ecr_lifecycle_interval_s,
        ecr_gc_interval_s: args.ecr_gc_interval_s,
        ecr_gc_grace_s: args.ecr_gc_grace_s,
        logs_retention_day_s: args.logs_retention_day_s,
        logs_retention_interval_s: args.logs_retention_interval_s,
        runtime_files: vec![runtime_file],
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let running = haneul::start(config.clone()).await?;
        announce(&running, &config)?;
        let fast = wait_for_signal().await?;
        if fast {
            tracing::info!("SIGINT: stopping now");
            running.stop_now().await;
        } else {
            tracing::info!("SIGTERM: finishing in-flight requests");
            running.shutdown().await;
        }
        Ok(())
    })
}

/// The machine's memory in MiB (/proc/meminfo), or 2048 when unreadable.
fn machine_memory_mib() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib / 1024)
        })
        .unwrap_or(2048)
}

fn agent(args: AgentArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let var = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_string());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(1);
    let mut attributes: Vec<(String, Option<String>)> = args
        .attributes
        .iter()
        .map(|a| match a.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (a.clone(), None),
        })
        .collect();
    if let Some(p) = &args.capacity_provider {
        attributes.push((
            haneul_ecs::api::capacity_providers::PROVIDER_ATTRIBUTE.to_string(),
            Some(p.clone()),
        ));
    }
    let config = haneul_ecs::agent::AgentConfig {
        server: args.server,
        data_dir: args
            .data_dir
            .unwrap_or_else(|| config::default_data_dir().join(format!("agent-{}", args.cluster))),
        cluster: args.cluster,
        region: args.region,
        credentials: haneul_ecs::agent::client::Credentials {
            access_key_id: var("AWS_ACCESS_KEY_ID", "000000000000"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY", "haneul-dev"),
        },
        host_address: args.address,
        cpu_units: args.cpu_units.unwrap_or(cores * 1024),
        memory_mib: args.memory_mib.unwrap_or_else(machine_memory_mib),
        availability_zone: args.availability_zone,
        attributes,
        heartbeat_s: args.heartbeat_s,
        poll_ms: args.poll_ms,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let engine = haneul_ecs::runtime::docker::DockerRuntime::connect_local()
            .map_err(|e| anyhow::anyhow!("the agent needs the local Docker engine: {e}"))?;
        let cancel = tokio_util::sync::CancellationToken::new();
        let agent = haneul_ecs::agent::Agent::start(config, std::sync::Arc::new(engine), cancel.child_token()).await?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "haneul agent {} registered", env!("CARGO_PKG_VERSION"))?;
            writeln!(out, "container-instance {}", agent.container_instance_arn())?;
            out.flush()?;
        }
        let running = tokio::spawn(agent.run(cancel.clone()));
        wait_for_signal().await?;
        tracing::info!("stopping; the tasks' containers keep running and are adopted on the next start");
        cancel.cancel();
        let _ = running.await;
        Ok(())
    })
}

fn announce(running: &haneul::Running, config: &Config) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mode = if config.dev {
        "dev mode: any credentials accepted, reset endpoint open"
    } else {
        "verified mode: SigV4 required"
    };
    writeln!(out, "haneul {} up ({mode})", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "api  http://{}", running.api_addr)?;
    writeln!(out, "dns  udp+tcp {}", running.dns_addr)?;
    writeln!(out, "lb   {}", config.lb_cidr)?;
    if let Some(addr) = running.task_endpoint_addr {
        writeln!(
            out,
            "task http://{addr} (task containers reach the API and their metadata here)"
        )?;
    }
    if let Some(addr) = running.registry_tls_addr {
        writeln!(out, "registry https://{addr} (trust `haneul ca`)")?;
    }
    writeln!(out, "data {}", running.data_dir.display())?;
    if let Some((key, true)) = &running.root_key {
        writeln!(
            out,
            "root access key created; the secret is shown once here (also kept 0600 in the data dir):"
        )?;
        writeln!(out, "  AWS_ACCESS_KEY_ID={}", key.access_key_id)?;
        writeln!(out, "  AWS_SECRET_ACCESS_KEY={}", key.secret_access_key)?;
    }
    writeln!(
        out,
        "ready: eval \"$(haneul env{})\"",
        if config.data_dir.is_some() && config.dev {
            format!(" --data-dir {}", running.data_dir.display())
        } else {
            String::new()
        }
    )?;
    out.flush()?;
    Ok(())
}

/// Waits for SIGINT (returns true: stop fast) or SIGTERM (false: graceful).
async fn wait_for_signal() -> anyhow::Result<bool> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => Ok(false),
        _ = int.recv() => Ok(true),
    }
}

/// The running instance `haneul env` / `haneul ca` talk about.
fn running_instance(data_dir: Option<PathBuf>) -> anyhow::Result<RuntimeInfo> {
    Ok(match &data_dir {
        Some(dir) => RuntimeInfo::read_live(&dir.join(RUNTIME_FILE)).with_context(|| {
            format!(
                "no running haneul uses {} (start one with `haneul up --data-dir {}`)",
                dir.display(),
                dir.display()
            )
        })?,
        None => {
            let default_dir = config::default_data_dir();
            match RuntimeInfo::read_live(&default_dir.join(RUNTIME_FILE))
                .or_else(|| RuntimeInfo::read_live(&default_dir.join(DEV_RUNTIME_FILE)))
            {
                Some(info) => info,
                None => bail!("no running haneul found (start one with `haneul up` or `haneul up --dev`)"),
            }
        }
    })
}

/// Prints the root certificate of the running instance's CA (what `/_haneul/ca.pem` serves).
fn ca(data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let info = running_instance(data_dir)?;
    let path = info.data_dir.join("ca").join("root.pem");
    let pem = std::fs::read_to_string(&path).with_context(|| format!("no CA at {}", path.display()))?;
    print!("{pem}");
    Ok(())
}

/// The running instance and the credentials to call it with (dev: any; else the root key).
fn instance_credentials(data_dir: Option<PathBuf>) -> anyhow::Result<(RuntimeInfo, String, String)> {
    let info = running_instance(data_dir)?;
    let (key_id, secret) = if info.dev {
        (info.account_id.clone(), "haneul-dev".to_string())
    } else {
        let key =
            RootKey::load(&info.data_dir)?.with_context(|| format!("no credentials in {}", info.data_dir.display()))?;
        (key.access_key_id, key.secret_access_key)
    };
    Ok((info, key_id, secret))
}

fn env(data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let (info, key_id, secret) = instance_credentials(data_dir)?;
    println!("export AWS_ACCESS_KEY_ID={key_id}");
    println!("export AWS_SECRET_ACCESS_KEY={secret}");
    println!("export AWS_DEFAULT_REGION={}", info.region);
    println!("export AWS_REGION={}", info.region);
    println!("export AWS_ENDPOINT_URL=http://{}", info.api);
    Ok(())
}

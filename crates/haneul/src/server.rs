//! Wiring: open the store, register every service with the wire layer, bind the API
//! endpoint and serve it until shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use haneul_store::Store;
use haneul_wire::api::MAX_API_BODY_BYTES;
use haneul_wire::{Api, ApiConfig, ApiRequest, ApiResponse, AuthMode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use haneul_route53::dns::server::{DnsConfig, DnsServer};
use haneul_route53::dns::DataPlane;

use crate::admin;
use crate::config::Config;
use crate::credentials::{KeyRing, RootKey};
use crate::runtime_file::RuntimeInfo;

/// Most API connections served at once; more wait in the kernel's accept queue.
pub const MAX_CONNECTIONS: usize = 4096;
/// A client must send a request's headers within this time (slowloris guard, idle keep-alive).
pub const HEADER_READ_TIMEOUT_S: u64 = 30;
/// A request body must arrive whole within this time.
pub const BODY_READ_TIMEOUT_S: u64 = 60;
/// On graceful shutdown, in-flight requests get this long to finish.
pub const GRACEFUL_SHUTDOWN_S: u64 = 10;
/// Longest pause between retries when `accept` fails (e.g. out of file descriptors).
const ACCEPT_BACKOFF_MAX_MS: u64 = 1000;

/// What every request handler shares.
pub struct State {
    pub api: Api,
    pub store: Store,
    pub config: Config,
    pub api_addr: SocketAddr,
    pub dns_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub keys: Option<Arc<KeyRing>>,
    /// What the DNS server serves (health shows its VPC resolvers).
    pub dns_plane: Arc<DataPlane>,
    /// The root certificate of haneul's CA (`/_haneul/ca.pem`).
    pub ca_pem: String,
    /// ACM's validation mails (`/_haneul/mail`, approval links).
    pub acm_mailbox: Arc<haneul_acm::mail::Mailbox>,
    /// ECR: the registry under `/v2/` is served from here.
    pub ecr: Arc<haneul_ecr::Ecr>,
    /// CloudWatch Logs (its event store is reset with the resource store).
    pub logs: Arc<haneul_logs::Logs>,
    /// ECS's tasks on this host (a reset removes their containers).
    pub ecs_host: Arc<haneul_ecs::runtime::host::Host>,
    /// ECS's service scheduler (benchmarks drive its passes).
    pub ecs_scheduler: Arc<haneul_ecs::scheduler::Scheduler>,
    /// ExecuteCommand's stream URLs (`/v1/data-channel/…`).
    pub ecs_exec: haneul_ecs::exec::endpoint::Endpoint,
    /// `--ecs-runtime simulated`: the engine in memory (benchmarks kill its containers).
    pub ecs_simulated: Option<Arc<haneul_ecs::runtime::simulated::SimulatedRuntime>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot open the log event store: {0}")]
    Logs(haneul_store::StoreError),
    #[error("cannot create a temp data dir: {0}")]
    TempDir(std::io::Error),
    #[error(transparent)]
    Store(#[from] haneul_store::StoreError),
    #[error(transparent)]
    Credentials(#[from] crate::credentials::CredentialsError),
    #[error("a bundled service model is broken: {0}")]
    Model(#[from] haneul_wire::model::ModelError),
    #[error(transparent)]
    Dns(#[from] haneul_route53::dns::server::DnsStartError),
    #[error(transparent)]
    Acm(#[from] haneul_acm::AcmStartError),
    #[error(transparent)]
    GeoDb(#[from] haneul_route53::geo::GeoDbError),
    #[error(transparent)]
    LatencyTable(#[from] haneul_route53::geo::latency::LatencyTableError),
    #[error(transparent)]
    Ecr(#[from] haneul_ecr::EcrStartError),
    #[error("cannot set up ECS's container runtime: {0}")]
    Ecs(String),
    #[error("cannot start the load balancers' worker threads: {0}")]
    Proxy(std::io::Error),
    #[error(transparent)]
    RegistryTls(#[from] crate::registry_tls::RegistryTlsError),
    #[error("cannot bind the API endpoint on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// A started haneul.
pub struct Running {
    pub api_addr: SocketAddr,
    /// `--registry-tls`: where the HTTPS listener is.
    pub registry_tls_addr: Option<SocketAddr>,
    /// Where task containers reach the API and their metadata (the Docker bridge's gateway).
    pub task_endpoint_addr: Option<SocketAddr>,
    task_endpoint: Option<JoinHandle<()>>,
    pub dns_addr: SocketAddr,
    pub data_dir: PathBuf,
    /// The root key in verified mode, and whether this start created it.
    pub root_key: Option<(RootKey, bool)>,
    pub state: Arc<State>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    registry_tls: Option<JoinHandle<()>>,
    dns: DnsServer,
    /// ACM's validation loop.
    validator: JoinHandle<()>,
    /// The load balancers' proxy (listeners, health checks).
    proxy: JoinHandle<()>,
    /// Background passes (ECR's blob garbage collection and lifecycle policies, Logs'
    /// retention).
    background_tasks: Vec<JoinHandle<()>>,
    /// ECS's host loop and what stops it.
    ecs_host: JoinHandle<()>,
    /// ECS's service scheduler.
    scheduler: JoinHandle<()>,
    cancel: tokio_util::sync::CancellationToken,
    runtime_files: Vec<PathBuf>,
    _temp_dir: Option<tempfile::TempDir>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish (bounded), and returns.
    pub async fn shutdown(self) {
        self.remove_runtime_files();
        self.shutdown.send_replace(true);
        let _ = self.task.await;
        if let Some(tls) = self.registry_tls {
            let _ = tls.await;
        }
        if let Some(t) = self.task_endpoint {
            let _ = t.await;
        }
        self.validator.abort();
        self.proxy.abort();
        self.background_tasks.iter().for_each(JoinHandle::abort);
        self.cancel.cancel();
        let _ = self.scheduler.await;
        if tokio::time::timeout(Duration::from_secs(GRACEFUL_SHUTDOWN_S), self.ecs_host)
            .await
            .is_err()
        {
            tracing::warn!("ECS's task drivers did not stop in time");
        }
        if self.state.config.ecs_remove_tasks_on_exit {
            self.state.ecs_host.remove_all_containers().await;
        }
        self.dns.stop().await;
    }

    /// Stops at once: open connections are dropped. Task containers stay for the next start
    /// to adopt, unless this instance removes them on exit (then that is the one wait).
    pub async fn stop_now(self) {
        let state = self.state.clone();
        self.abort();
        if state.config.ecs_remove_tasks_on_exit {
            state.ecs_host.remove_all_containers().await;
        }
    }

    /// Stops at once: open connections are dropped.
    pub fn abort(self) {
        self.remove_runtime_files();
        self.task.abort();
        if let Some(tls) = &self.registry_tls {
            tls.abort();
        }
        if let Some(t) = &self.task_endpoint {
            t.abort();
        }
        self.validator.abort();
        self.proxy.abort();
        self.background_tasks.iter().for_each(JoinHandle::abort);
        self.cancel.cancel();
        self.scheduler.abort();
        self.ecs_host.abort();
    }

    fn remove_runtime_files(&self) {
        for path in &self.runtime_files {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn open_data_dir(config: &Config) -> Result<(PathBuf, Option<tempfile::TempDir>), StartError> {
    match &config.data_dir {
        Some(dir) => Ok((dir.clone(), None)),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("haneul-dev.")
                .tempdir()
                .map_err(StartError::TempDir)?;
            Ok((temp.path().to_path_buf(), Some(temp)))
        }
    }
}

/// The container half's services, which the server also holds on to.
struct ContainerServices {
    ecr: Arc<haneul_ecr::Ecr>,
    logs: Arc<haneul_logs::Logs>,
    task_cidr: haneul_ecs::runtime::addresses::TaskCidr,
}

fn build_api(
    config: &Config,
    store: &Store,
    auth: AuthMode,
    dns_plane: Arc<DataPlane>,
    acm: Arc<haneul_acm::Acm>,
    lb_health: Arc<haneul_elbv2::health::HealthTable>,
    containers: ContainerServices,
) -> Result<(Api, Arc<haneul_ecs::Ecs>), StartError> {
    let mut api = Api::new(ApiConfig {
        default_account_id: config.account_id.clone(),
        default_region: config.region.clone(),
        auth,
    });
    api.register("sts", haneul_sts::MODEL, Some(Arc::new(haneul_sts::Sts)))?;
    api.register(
        "ec2",
        haneul_ec2::MODEL,
        Some(Arc::new(haneul_ec2::Ec2::new(store.clone()))),
    )?;
    let route53 = haneul_route53::Route53::new(store.clone(), dns_plane);
    api.register("route53", haneul_route53::MODEL, Some(Arc::new(route53)))?;
    api.register("acm", haneul_acm::MODEL, Some(acm))?;
    let elbv2 = Arc::new(haneul_elbv2::Elbv2::new(
        store.clone(),
        config.lb_cidr.clone(),
        lb_health,
    ));
    api.register("elbv2", haneul_elbv2::MODEL, Some(elbv2.clone()))?;
    let domains = haneul_route53domains::Route53Domains::new(store.clone());
    api.register("route53domains", haneul_route53domains::MODEL, Some(Arc::new(domains)))?;
    let ContainerServices { ecr, logs, task_cidr } = containers;
    api.register("ecr", haneul_ecr::MODEL, Some(Arc::new(haneul_ecr::EcrService(ecr))))?;
    api.register(
        "logs",
        haneul_logs::MODEL,
        Some(Arc::new(haneul_logs::LogsService(logs))),
    )?;
    let ecs = Arc::new(haneul_ecs::Ecs::new(store.clone(), task_cidr));
    ecs.set_elbv2(elbv2);
    api.register("ecs", haneul_ecs::MODEL, Some(ecs.clone()))?;
    Ok((api, ecs))
}

/// Opens state, binds the API endpoint and starts serving in the background.
pub async fn start(config: Config) -> Result<Running, StartError> {
    config.check()?;
    let (data_dir, temp_dir) = open_data_dir(&config)?;
    let store = Store::open(&data_dir.join("haneul.db"))?;
    let (auth, keys, root_key) = if config.dev {
        (AuthMode::Dev, None, None)
    } else {
        let (key, created) = match RootKey::load(&data_dir)? {
            Some(key) => (key, false),
            None => {
                let key = RootKey::generate(&config.account_id);
                key.save_new(&data_dir)?;
                (key, true)
            }
        };
        let ring = Arc::new(KeyRing::new(vec![key.clone()]));
        (AuthMode::Verified(ring.clone()), Some(ring), Some((key, created)))
    };
    let mut config = config;
    if let Some((key, _)) = &root_key {
        config.account_id = key.account_id.clone();
    }
    let geo = haneul_route53::geo::Geo {
        db: match &config.geoip_db {
            Some(path) => Some(haneul_route53::geo::GeoDb::open(path)?),
            None => None,
        },
        latency: match &config.latency_table {
            Some(path) => Some(haneul_route53::geo::latency::LatencyTable::open(path)?),
            None => None,
        },
    };
    let dns_plane = DataPlane::new(geo);
    let acm = Arc::new(haneul_acm::Acm::open(store.clone(), &data_dir)?);
    let lb_health = Arc::new(haneul_elbv2::health::HealthTable::default());
    let tls_listener = match config.registry_tls {
        Some(addr) => {
            let bind_err = |source| StartError::Bind { addr, source };
            let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
            let local = listener.local_addr().map_err(bind_err)?;
            let names = crate::registry_tls::names(local, config.registry_host.as_deref());
            Some((listener, crate::registry_tls::acceptor(&acm.ca, &names)?, local))
        }
        None => None,
    };
    let registry_tls_addr = tls_listener.as_ref().map(|(_, _, addr)| *addr);
    let ecr = Arc::new(haneul_ecr::Ecr::open(
        store.clone(),
        &data_dir,
        haneul_ecr::EcrConfig {
            dev: config.dev,
            default_scope: haneul_store::Scope::new(config.account_id.clone(), config.region.clone()),
            registry_host: config
                .registry_host
                .clone()
                .or_else(|| registry_tls_addr.map(|a| a.to_string())),
            https: registry_tls_addr.is_some(),
            vuln_db: config.vuln_db.clone(),
            upstream_ca_pem: Some(acm.ca.root_pem().to_string()),
            housekeeping: haneul_ecr::Housekeeping {
                lifecycle_interval_s: config
                    .ecr_lifecycle_interval_s
                    .unwrap_or(haneul_ecr::lifecycle::LIFECYCLE_INTERVAL_S),
                gc_interval_s: config.ecr_gc_interval_s.unwrap_or(haneul_ecr::blobs::gc::GC_INTERVAL_S),
                gc_grace_s: config.ecr_gc_grace_s.unwrap_or(haneul_ecr::blobs::gc::GRACE_S),
            },
        },
    )?);
    let logs = Arc::new(
        haneul_logs::Logs::open(
            store.clone(),
            &data_dir,
            haneul_logs::LogsConfig {
                retention_day_s: config.logs_retention_day_s.unwrap_or(86_400),
                retention_interval_s: config
                    .logs_retention_interval_s
                    .unwrap_or(haneul_logs::retention::RETENTION_INTERVAL_S),
            },
        )
        .map_err(StartError::Logs)?,
    );
    let (api, ecs_api) = build_api(
        &config,
        &store,
        auth,
        dns_plane.clone(),
        acm.clone(),
        lb_health.clone(),
        ContainerServices {
            ecr: ecr.clone(),
            logs: logs.clone(),
            task_cidr: haneul_ecs::runtime::addresses::TaskCidr::parse(&config.task_cidr)
                .map_err(|e| StartError::Ecs(e.to_string()))?,
        },
    )?;
    let scheduler = Arc::new(haneul_ecs::scheduler::Scheduler::new(
        store.clone(),
        lb_health.clone(),
        haneul_ecs::runtime::addresses::TaskCidr::parse(&config.task_cidr)
            .map_err(|e| StartError::Ecs(e.to_string()))?,
    ));
    let lb_plane = haneul_elbv2::proxy::Plane::new(lb_health).map_err(StartError::Proxy)?;
    let proxy = tokio::spawn(haneul_elbv2::proxy::run(
        store.clone(),
        lb_plane,
        acm.sealer.clone(),
        dns_plane.clone(),
    ));
    let validator = haneul_acm::validation::Validator {
        store: store.clone(),
        plane: dns_plane.clone(),
        ca: acm.ca.clone(),
        sealer: acm.sealer.clone(),
        upstream: config.dns_upstream,
        acme: config.acme_directory.as_ref().map(|url| {
            Arc::new(haneul_acm::acme::AcmeIssuer::new(
                haneul_acm::acme::AcmeConfig {
                    directory_url: url.clone(),
                    email: config.acme_email.clone(),
                    ca_file: config.acme_ca_file.clone(),
                },
                &data_dir,
                store.clone(),
                dns_plane.clone(),
            ))
        }),
        lifetime: match config.acm_validity_s {
            Some(seconds) => haneul_acm::ca::Lifetime::shortened(seconds),
            None => haneul_acm::ca::Lifetime::default(),
        },
    };
    let validator = tokio::spawn(validator.run());
    let dns_config = DnsConfig {
        addr: config.dns_addr,
        upstream: config.dns_upstream,
    };
    let dns = haneul_route53::dns::server::start(dns_config, store.clone(), dns_plane.clone()).await?;
    let dns_addr = dns.addr;
    let listener = TcpListener::bind(config.api_addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.api_addr,
            source,
        })?;
    let api_addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.api_addr,
        source,
    })?;
    acm.mailbox.set_base_url(format!("http://{api_addr}"));
    ecr.default_registry_host(&api_addr.to_string());
    ecs_api.set_endpoint_url(&format!("http://{api_addr}"));
    let background_tasks = vec![
        tokio::spawn(haneul_ecr::blobs::gc::run(ecr.clone())),
        tokio::spawn(haneul_ecr::lifecycle::run(ecr.clone())),
        tokio::spawn(haneul_logs::retention::run(logs.clone())),
        tokio::spawn(haneul_route53::dns::querylog::run(
            dns_plane.query_log.clone(),
            logs.clone(),
        )),
    ];
    let cancel = tokio_util::sync::CancellationToken::new();
    let ecs_simulated = (config.ecs_runtime == crate::config::EcsRuntime::Simulated)
        .then(haneul_ecs::runtime::simulated::SimulatedRuntime::new);
    let ecs_runtime: Arc<dyn haneul_ecs::runtime::Runtime> = match &ecs_simulated {
        Some(simulated) => simulated.clone(),
        None => Arc::new(
            haneul_ecs::runtime::docker::DockerRuntime::connect_local().map_err(|e| StartError::Ecs(e.to_string()))?,
        ),
    };
    // The task endpoint: the API (and the task metadata endpoint) where task containers can
    // reach it, on the host's address on their network.
    let task_listener = match ecs_runtime.host_gateway().await {
        Some(gateway) => match TcpListener::bind((gateway, 0)).await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(address = %gateway, error = %e, "cannot open the task endpoint; task containers will not reach haneul");
                None
            }
        },
        None => None,
    };
    let task_endpoint_addr = task_listener.as_ref().and_then(|l| l.local_addr().ok());
    let ecs_host = haneul_ecs::runtime::host::Host::new(
        Arc::new(haneul_ecs::runtime::records::StoreRecords(store.clone())),
        ecs_runtime,
        logs.clone(),
        Arc::new(haneul_ecs::runtime::host::EcrCredentials(ecr.clone())),
        haneul_ecs::runtime::host::HostConfig {
            instance_id: haneul_ecs::runtime::host::instance_id(&data_dir)
                .map_err(|e| StartError::Ecs(e.to_string()))?,
            endpoint_url: task_endpoint_addr.map(|a| format!("http://{a}")),
            host_address: "127.0.0.1".into(),
        },
        cancel.clone(),
    );
    let ecs_host_task = tokio::spawn(ecs_host.clone().run(store.clone()));
    let scheduler_task = tokio::spawn(scheduler.clone().run(cancel.clone()));
    announce_runtime(&config, api_addr, dns_addr, &data_dir);
    let runtime_files = config.runtime_files.clone();
    let state = Arc::new(State {
        api,
        store,
        config,
        api_addr,
        dns_addr,
        data_dir: data_dir.clone(),
        keys,
        dns_plane,
        ca_pem: acm.ca.root_pem().to_string(),
        acm_mailbox: acm.mailbox.clone(),
        ecr,
        logs,
        ecs_exec: haneul_ecs::exec::endpoint::Endpoint::new(ecs_api.clone(), ecs_host.runtime.clone()),
        ecs_host,
        ecs_scheduler: scheduler,
        ecs_simulated,
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let task = tokio::spawn(serve(listener, state.clone(), shutdown_rx.clone(), None));
    let task_endpoint = task_listener.map(|l| tokio::spawn(serve(l, state.clone(), shutdown_rx.clone(), None)));
    let registry_tls = tls_listener
        .map(|(listener, acceptor, _)| tokio::spawn(serve(listener, state.clone(), shutdown_rx, Some(acceptor))));
    Ok(Running {
        api_addr,
        task_endpoint_addr,
        task_endpoint,
        registry_tls_addr,
        registry_tls,
        dns_addr,
        data_dir,
        root_key,
        state,
        shutdown,
        task,
        dns,
        validator,
        proxy,
        background_tasks,
        ecs_host: ecs_host_task,
        scheduler: scheduler_task,
        cancel,
        runtime_files,
        _temp_dir: temp_dir,
    })
}

/// Writes `runtime.json` (for `haneul env`) before the endpoint answers its first request.
fn announce_runtime(config: &Config, api_addr: SocketAddr, dns_addr: SocketAddr, data_dir: &std::path::Path) {
    let info = RuntimeInfo {
        pid: std::process::id(),
        api: api_addr.to_string(),
        dns: Some(dns_addr.to_string()),
        region: config.region.clone(),
        account_id: config.account_id.clone(),
        dev: config.dev,
        data_dir: data_dir.to_path_buf(),
    };
    for path in &config.runtime_files {
        if let Err(e) = info.write(path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot write runtime file; `haneul env` will not find this instance");
        }
    }
}

/// Accepts on `listener` until shutdown; with `tls`, each connection's TLS handshake comes
/// first (the registry's HTTPS listener). Both serve the same endpoint.
async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut backoff_ms = 1;
    loop {
        let permit = tokio::select! {
            _ = shutdown.changed() => break,
            permit = connections.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                backoff_ms = 1;
                stream
            }
            Err(e) => {
                tracing::warn!(error = %e, backoff_ms, "accept failed");
                tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                backoff_ms = (backoff_ms * 2).min(ACCEPT_BACKOFF_MAX_MS);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let result = match tls {
                None => serve_connection(TokioIo::new(stream), state, watcher).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(Duration::from_secs(HEADER_READ_TIMEOUT_S), acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(tls_stream)) => serve_connection(TokioIo::new(tls_stream), state, watcher).await,
                        Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
                        Err(_) => Err("TLS handshake timed out".to_string()),
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(GRACEFUL_SHUTDOWN_S), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within {GRACEFUL_SHUTDOWN_S} s; dropping them");
    }
}

/// Serves one connection (HTTP/1.1 or HTTP/2) until it closes or shutdown drains it.
async fn serve_connection<I>(
    io: TokioIo<I>,
    state: Arc<State>,
    watcher: hyper_util::server::graceful::Watcher,
) -> Result<(), String>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(&state, req).await) }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(HEADER_READ_TIMEOUT_S));
    let conn = builder.serve_connection_with_upgrades(io, service).into_owned();
    watcher.watch(conn).await.map_err(|e| e.to_string())
}

/// Every response body the endpoint sends: API answers in memory, registry blobs streamed.
pub type ResponseBody = UnsyncBoxBody<Bytes, std::io::Error>;

fn full(bytes: Bytes) -> ResponseBody {
    Full::new(bytes).map_err(|never| match never {}).boxed_unsync()
}

fn to_http(resp: ApiResponse) -> http::Response<ResponseBody> {
    let mut builder = http::Response::builder().status(resp.status);
    for (k, v) in &resp.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder.body(full(resp.body)).unwrap_or_else(|_| {
        let mut r = http::Response::new(full(Bytes::from_static(b"invalid response header")));
        *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

fn plain(status: u16, text: &str) -> ApiResponse {
    ApiResponse {
        status,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: Bytes::from(text.to_string()),
    }
}

async fn handle(state: &Arc<State>, req: http::Request<Incoming>) -> http::Response<ResponseBody> {
    if haneul_ecs::exec::endpoint::Endpoint::is_stream_path(req.uri().path()) {
        return state
            .ecs_exec
            .handle(req)
            .map(|b| b.map_err(|never| match never {}).boxed_unsync());
    }
    if haneul_ecr::registry::is_registry_path(req.uri().path()) {
        // The registry reads its own bodies: blob uploads stream to disk, never collected.
        let started = std::time::Instant::now();
        let (method, path) = (req.method().clone(), req.uri().path().to_string());
        let response = haneul_ecr::registry::handle(&state.ecr, req).await;
        tracing::debug!(%method, path, status = response.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "registry request");
        return response.map(|b| b.boxed_unsync());
    }
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_API_BODY_BYTES) {
        return to_http(plain(413, "request body too large"));
    }
    let collected = tokio::time::timeout(
        Duration::from_secs(BODY_READ_TIMEOUT_S),
        Limited::new(body, MAX_API_BODY_BYTES).collect(),
    )
    .await;
    let body = match collected {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => return to_http(plain(413, "request body too large or broken")),
        Err(_) => return to_http(plain(408, "request body not received in time")),
    };
    let request = ApiRequest {
        method: parts.method.to_string(),
        raw_path: parts.uri.path().to_string(),
        raw_query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
    };
    let started = std::time::Instant::now();
    let path = request.raw_path.clone();
    let response = if path.starts_with(admin::PREFIX) {
        admin::handle(state, request).await
    } else if path.starts_with("/v4/") && request.method == "GET" {
        let (status, body) =
            haneul_ecs::runtime::metadata::answer(&state.store, state.ecs_host.runtime.as_ref(), &path).await;
        ApiResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(body.to_string()),
        }
    } else {
        state.api.handle(request).await
    };
    tracing::debug!(
        path,
        status = response.status,
        elapsed_us = started.elapsed().as_micros() as u64,
        "request"
    );
    to_http(response)
}

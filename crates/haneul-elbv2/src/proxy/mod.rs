//! The load balancer's data plane: each listener bound on its load balancer's address, every
//! request routed by a snapshot of the listeners' rules rebuilt from the store on change
//! (connections in flight keep going), forwarded to targets chosen by health and algorithm.

pub mod h1;
pub mod h1_client;
pub mod idle;
pub mod pages;
pub mod rules;
pub mod select;
pub mod serve;
pub mod snapshot;
pub mod tls;
pub mod tls_policy;
pub mod upstream;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use haneul_acm::seal::Sealer;
use haneul_store::Store;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::health::HealthTable;
use crate::proxy::idle::IdleIo;
use crate::proxy::serve::Conn;
use crate::proxy::snapshot::{ListenerPlan, Snapshot};

/// Most client connections the proxy holds open at once, across listeners.
pub const MAX_CONNECTIONS: usize = 50_000;
/// A TLS handshake must finish within this.
pub const TLS_HANDSHAKE_TIMEOUT_S: u64 = 10;
/// Largest request head (request line and headers) a client may send.
pub const MAX_REQUEST_HEAD_BYTES: usize = 64 * 1024;
/// ALB's limits on a request line and on one request header (name and value): larger is a 400.
pub const MAX_REQUEST_LINE_BYTES: usize = 16 * 1024;
pub const MAX_REQUEST_HEADER_BYTES: usize = 16 * 1024;
/// ALB's limit on a target's whole response head: larger is a 502.
pub const MAX_RESPONSE_HEAD_BYTES: usize = 32 * 1024;
/// A listener that could not be bound is tried again after this.
const BIND_RETRY_MS: u64 = 2_000;
/// Longest pause between retries when `accept` fails (e.g. out of file descriptors).
const ACCEPT_BACKOFF_MAX_MS: u64 = 1_000;
/// How often load balancers' health is handed to the DNS server (alias records).
const HEALTH_PUBLISH_MS: u64 = 1_000;
/// How often each worker closes idle target connections that expired or lost their target.
const POOL_SWEEP_S: u64 = 5;
/// Most change-feed entries looked at to decide whether a change concerns the proxy.
const MAX_CHANGES_INSPECTED: usize = 10_000;

/// What every connection shares.
pub struct Plane {
    pub snapshot: ArcSwap<Snapshot>,
    pub health: Arc<HealthTable>,
    /// Target connection pools, one per worker thread (a connection and its targets' connections
    /// live on one thread: no cross-thread wake-ups on the request path).
    pub upstreams: Vec<upstream::Upstream>,
    workers: Workers,
    /// The worker the next accepted connection goes to.
    next_worker: std::sync::atomic::AtomicUsize,
    connections: Arc<Semaphore>,
}

impl Plane {
    pub fn new(health: Arc<HealthTable>) -> std::io::Result<Arc<Plane>> {
        let workers = Workers::start()?;
        for handle in &workers.handles {
            let health = health.clone();
            handle.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(POOL_SWEEP_S));
                loop {
                    tick.tick().await;
                    h1::sweep_pool(&health.addresses());
                }
            });
        }
        Ok(Arc::new(Plane {
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            health,
            upstreams: (0..workers.handles.len()).map(|_| upstream::Upstream::new()).collect(),
            workers,
            next_worker: std::sync::atomic::AtomicUsize::new(0),
            connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        }))
    }
}

/// One single-threaded runtime per core; every worker accepts on each listening socket (one
/// socket, a descriptor per worker — not SO_REUSEPORT, which would let a second haneul on the
/// same address silently share the port). Dropping it stops the threads.
struct Workers {
    handles: Vec<tokio::runtime::Handle>,
    _stop: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Workers {
    fn start() -> std::io::Result<Workers> {
        let count = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut handles = Vec::with_capacity(count);
        let mut stop = Vec::with_capacity(count);
        for i in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            handles.push(runtime.handle().clone());
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            stop.push(tx);
            std::thread::Builder::new()
                .name(format!("haneul-lb-{i}"))
                .spawn(move || {
                    let _ = runtime.block_on(rx);
                })?;
        }
        Ok(Workers { handles, _stop: stop })
    }
}

/// Accept loops (one per worker) by address; dropping it stops them (connections already
/// accepted go on).
#[derive(Default)]
struct Bound(HashMap<SocketAddr, Vec<JoinHandle<()>>>);

impl Drop for Bound {
    fn drop(&mut self) {
        for task in self.0.values().flatten() {
            task.abort();
        }
    }
}

impl Bound {
    /// Binds listeners new in `snapshot`, stops those gone. Returns whether any bind failed.
    fn reconcile(&mut self, snapshot: &Snapshot, plane: &Arc<Plane>) -> bool {
        self.0.retain(|addr, tasks| {
            let keep = snapshot.listeners.contains_key(addr) && !tasks.iter().any(|t| t.is_finished());
            if !keep {
                tasks.iter().for_each(JoinHandle::abort);
            }
            keep
        });
        let mut failed = false;
        for addr in snapshot.listeners.keys() {
            if self.0.contains_key(addr) {
                continue;
            }
            let bound = bind(*addr).and_then(|socket| {
                plane
                    .workers
                    .handles
                    .iter()
                    .map(|_| socket.try_clone())
                    .collect::<std::io::Result<Vec<std::net::TcpListener>>>()
            });
            match bound {
                Ok(sockets) => {
                    let tasks = sockets
                        .into_iter()
                        .zip(&plane.workers.handles)
                        .enumerate()
                        .map(|(worker, (socket, handle))| {
                            handle.spawn(accept_loop(socket, *addr, worker, plane.clone()))
                        })
                        .collect();
                    self.0.insert(*addr, tasks);
                }
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "cannot bind a load balancer listener; retrying");
                    failed = true;
                }
            }
        }
        failed
    }
}

/// A listening socket (each worker registers its own descriptor of it with its runtime).
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(4096)?;
    // Leaves the current runtime: each worker registers its socket with its own reactor.
    listener.into_std()
}

/// Whether the changes since `revision` concern the proxy (None: cannot tell, rebuild).
async fn concerns_proxy(store: &Store, revision: u64) -> bool {
    match store.changes_since(revision, MAX_CHANGES_INSPECTED).await {
        Ok(changes) => {
            changes.len() >= MAX_CHANGES_INSPECTED
                || changes.first().is_some_and(|c| c.revision != revision + 1)
                || changes
                    .iter()
                    .any(|c| c.kind.starts_with("elbv2.") || c.kind.starts_with("acm."))
        }
        Err(_) => true,
    }
}

/// Follows the store until aborted: rebuilds the snapshot on every ELBv2/ACM change (and when a
/// draining period ends), then binds and unbinds listeners to match.
pub async fn run(store: Store, plane: Arc<Plane>, sealer: Arc<Sealer>, dns: Arc<haneul_route53::dns::DataPlane>) {
    let mut revisions = store.subscribe_kinds(&["elbv2.", "acm."]);
    let mut health_publish = tokio::time::interval(Duration::from_millis(HEALTH_PUBLISH_MS));
    let mut bound = Bound::default();
    let mut seen = store.revision();
    let mut rebuild = true;
    // When to rebuild without a change (bind retry, end of a draining period).
    let mut wake_at: Option<tokio::time::Instant> = None;
    loop {
        if rebuild {
            let mut retry_after: Option<Duration> = None;
            seen = store.revision();
            match snapshot::build(&store, &plane.health, &sealer).await {
                Ok(next) => {
                    let next = Arc::new(next);
                    plane.snapshot.store(next.clone());
                    if bound.reconcile(&next, &plane) {
                        retry_after = Some(Duration::from_millis(BIND_RETRY_MS));
                    }
                    if let Some(end) = next.next_drain_end_s {
                        let wait = (end - haneul_wire::value::now_epoch_s()).max(0.0) + 0.05;
                        let wait = Duration::from_secs_f64(wait);
                        retry_after = Some(retry_after.map_or(wait, |r| r.min(wait)));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "load balancer snapshot failed; retrying");
                    retry_after = Some(Duration::from_millis(BIND_RETRY_MS));
                }
            }
            wake_at = retry_after.map(|d| tokio::time::Instant::now() + d);
        }
        let timer = tokio::time::sleep_until(
            wake_at.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600)),
        );
        tokio::select! {
            changed = revisions.changed() => {
                if changed.is_err() {
                    return;
                }
                revisions.borrow_and_update();
                rebuild = concerns_proxy(&store, seen).await;
                if !rebuild {
                    seen = store.revision();
                }
            }
            _ = timer, if wake_at.is_some() => rebuild = true,
            _ = health_publish.tick() => {
                let unhealthy = plane.snapshot.load().unhealthy_load_balancers();
                dns.health.publish_load_balancer_health(unhealthy);
                rebuild = false;
            }
        }
    }
}

async fn accept_loop(listener: std::net::TcpListener, local: SocketAddr, worker: usize, plane: Arc<Plane>) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(%local, error = %e, "cannot register a load balancer listener");
            return;
        }
    };
    let mut backoff_ms = 5;
    loop {
        let permit = match plane.connections.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => return,
        };
        match listener.accept().await {
            Ok((stream, peer)) => {
                backoff_ms = 5;
                // Connections are dealt to the workers in turn: whichever worker wakes first
                // for a burst of connections would otherwise take them all.
                let handles = &plane.workers.handles;
                let chosen = plane.next_worker.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % handles.len();
                let plane = plane.clone();
                if chosen == worker {
                    tokio::spawn(async move {
                        serve_connection(stream, local, peer, worker, plane).await;
                        drop(permit);
                    });
                    continue;
                }
                let Ok(stream) = stream.into_std() else { continue };
                handles[chosen].clone().spawn(async move {
                    if let Ok(stream) = TcpStream::from_std(stream) {
                        serve_connection(stream, local, peer, chosen, plane).await;
                    }
                    drop(permit);
                });
            }
            Err(e) => {
                tracing::warn!(%local, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                backoff_ms = (backoff_ms * 2).min(ACCEPT_BACKOFF_MAX_MS);
            }
        }
    }
}

fn http1() -> hyper::server::conn::http1::Builder {
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .keep_alive(true)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .writev(true);
    b
}

async fn serve_connection(stream: TcpStream, local: SocketAddr, peer: SocketAddr, worker: usize, plane: Arc<Plane>) {
    let Some(plan) = plane.snapshot.load().listeners.get(&local).cloned() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let idle = plan.lb.idle_timeout;
    let conn = Arc::new(Conn::new(local, peer, plan.https, worker, plane.clone()));
    if plan.fast_h1 {
        h1::serve(stream, conn, idle).await;
        return;
    }
    // The hyper paths' connection states are boxed so that the task of every connection (most
    // take the HTTP/1.1 path above) stays as small as that path needs.
    let service = service_fn(move |req| serve::handle(conn.clone(), req));
    if !plan.https {
        let io = TokioIo::new(IdleIo::new(stream, idle));
        let serving = http1()
            .header_read_timeout(idle)
            .serve_connection(io, service)
            .with_upgrades();
        let _ = Box::pin(serving).await;
        return;
    }
    Box::pin(serve_tls(stream, &plan, service, idle)).await;
}

async fn serve_tls<S>(stream: TcpStream, plan: &ListenerPlan, service: S, idle: Duration)
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = pages::ProxyBody> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Some(config) = plan.tls.clone() else {
        return;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let handshake = tokio::time::timeout(Duration::from_secs(TLS_HANDSHAKE_TIMEOUT_S), acceptor.accept(stream)).await;
    let Ok(Ok(tls)) = handshake else {
        return;
    };
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let io = TokioIo::new(IdleIo::new(tls, idle));
    if h2 {
        let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        b.timer(TokioTimer::new())
            .max_header_list_size(MAX_REQUEST_HEAD_BYTES as u32);
        let _ = b.serve_connection(io, service).await;
    } else {
        let _ = http1()
            .header_read_timeout(idle)
            .serve_connection(io, service)
            .with_upgrades()
            .await;
    }
}

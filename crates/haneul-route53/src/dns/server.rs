//! The DNS server: UDP and TCP on one address, answering from the current snapshot, and the
//! task that rebuilds the snapshot when the store's revision moves.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use haneul_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::dns::answer::{respond, Transport};
use crate::dns::snapshot::{self, Snapshot};
use crate::health::{checker, HealthBoard};

/// Largest UDP datagram read; anything longer is not a DNS query we answer.
const UDP_BUFFER_BYTES: usize = 4096;
/// Tasks reading the UDP socket.
const UDP_WORKERS: usize = 2;
/// Most TCP connections served at once.
const MAX_TCP_CONNECTIONS: usize = 256;
/// A TCP client must send its next query within this time.
const TCP_IDLE_TIMEOUT_S: u64 = 10;
/// No TCP connection lives longer than this, busy or not.
const TCP_MAX_LIFETIME_S: u64 = 120;
/// Attempts to find a port free for both UDP and TCP when asked for port 0.
const BIND_ATTEMPTS: usize = 20;
/// Wait before retrying a snapshot build that failed.
const REBUILD_RETRY_MS: u64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum DnsStartError {
    #[error("cannot bind DNS on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot build the first zone snapshot: {0}")]
    Snapshot(#[from] haneul_store::StoreError),
}

/// A running DNS server.
pub struct DnsServer {
    pub addr: SocketAddr,
    tasks: JoinSet<()>,
}

impl DnsServer {
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }
}

async fn bind(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsStartError> {
    let bind_err = |source| DnsStartError::Bind { addr, source };
    let mut last = None;
    for _ in 0..BIND_ATTEMPTS {
        let udp = UdpSocket::bind(addr).await.map_err(bind_err)?;
        let bound = udp.local_addr().map_err(bind_err)?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            // Port 0 gave a UDP port whose TCP twin is taken: try another.
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(bind_err(e)),
        }
    }
    Err(bind_err(last.unwrap_or_else(|| std::io::Error::other("no free port"))))
}

/// Binds UDP+TCP on `addr`, builds the first snapshot, and serves until stopped.
/// Also runs the health checker, whose statuses the answers follow.
pub async fn start(
    addr: SocketAddr,
    store: Store,
    served_revision: Arc<AtomicU64>,
    health: Arc<HealthBoard>,
) -> Result<DnsServer, DnsStartError> {
    let (udp, tcp) = bind(addr).await?;
    let bound = udp
        .local_addr()
        .map_err(|source| DnsStartError::Bind { addr, source })?;
    let first = snapshot::build(&store).await?;
    served_revision.store(first.revision, Ordering::Release);
    let current = Arc::new(ArcSwap::from_pointee(first));
    let mut tasks = JoinSet::new();
    tasks.spawn(checker::run(store.clone(), health.clone()));
    tasks.spawn(follow_store(store, current.clone(), served_revision));
    let udp = Arc::new(udp);
    for _ in 0..UDP_WORKERS {
        tasks.spawn(serve_udp(udp.clone(), current.clone(), health.clone()));
    }
    tasks.spawn(serve_tcp(tcp, current, health));
    Ok(DnsServer { addr: bound, tasks })
}

/// Rebuilds the snapshot whenever the revision moves; changes that land during a build are
/// picked up by the next one.
async fn follow_store(store: Store, current: Arc<ArcSwap<Snapshot>>, served_revision: Arc<AtomicU64>) {
    let mut revisions: watch::Receiver<u64> = store.subscribe();
    loop {
        if revisions.changed().await.is_err() {
            return;
        }
        revisions.borrow_and_update();
        match snapshot::build(&store).await {
            Ok(next) => {
                let revision = next.revision;
                current.store(Arc::new(next));
                served_revision.store(revision, Ordering::Release);
            }
            Err(e) => {
                tracing::warn!(error = %e, "zone snapshot build failed; retrying");
                tokio::time::sleep(Duration::from_millis(REBUILD_RETRY_MS)).await;
                revisions.mark_changed();
            }
        }
    }
}

async fn serve_udp(socket: Arc<UdpSocket>, current: Arc<ArcSwap<Snapshot>>, health: Arc<HealthBoard>) {
    let mut buf = vec![0u8; UDP_BUFFER_BYTES];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "udp receive failed");
                continue;
            }
        };
        let snapshot = current.load();
        if let Some(reply) = respond(&snapshot, &health, &buf[..n], Transport::Udp) {
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener, current: Arc<ArcSwap<Snapshot>>, health: Arc<HealthBoard>) {
    let slots = Arc::new(Semaphore::new(MAX_TCP_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::debug!(error = %e, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let current = current.clone();
        let health = health.clone();
        tokio::spawn(async move {
            let lifetime = Duration::from_secs(TCP_MAX_LIFETIME_S);
            let _ = tokio::time::timeout(lifetime, serve_tcp_connection(stream, current, health)).await;
            drop(permit);
        });
    }
}

async fn serve_tcp_connection(mut stream: TcpStream, current: Arc<ArcSwap<Snapshot>>, health: Arc<HealthBoard>) {
    let idle = Duration::from_secs(TCP_IDLE_TIMEOUT_S);
    loop {
        let Ok(Ok(len)) = tokio::time::timeout(idle, stream.read_u16()).await else {
            return;
        };
        let mut message = vec![0u8; usize::from(len)];
        if !matches!(
            tokio::time::timeout(idle, stream.read_exact(&mut message)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        let Some(reply) = respond(&current.load(), &health, &message, Transport::Tcp) else {
            return;
        };
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

//! The DNS server: UDP and TCP on one address, answering from the current snapshot, and the
//! task that rebuilds the snapshot when the store's revision moves.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use haneul_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::dns::answer::{respond, Transport};
use crate::dns::snapshot;
use crate::dns::DataPlane;
use crate::health::checker;

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

/// Binds UDP+TCP on `addr`, builds the first snapshot into `plane`, and serves until
/// stopped. Also runs the health checker, whose statuses the answers follow.
pub async fn start(addr: SocketAddr, store: Store, plane: Arc<DataPlane>) -> Result<DnsServer, DnsStartError> {
    let (udp, tcp) = bind(addr).await?;
    let bound = udp
        .local_addr()
        .map_err(|source| DnsStartError::Bind { addr, source })?;
    let first = snapshot::build(&store).await?;
    let revision = first.revision;
    plane.snapshot.store(Arc::new(first));
    plane.served_revision.store(revision, Ordering::Release);
    let mut tasks = JoinSet::new();
    tasks.spawn(checker::run(store.clone(), plane.clone()));
    tasks.spawn(follow_store(store, plane.clone()));
    let udp = Arc::new(udp);
    for _ in 0..UDP_WORKERS {
        tasks.spawn(serve_udp(udp.clone(), plane.clone()));
    }
    tasks.spawn(serve_tcp(tcp, plane));
    Ok(DnsServer { addr: bound, tasks })
}

/// Rebuilds the snapshot whenever the revision moves; changes that land during a build are
/// picked up by the next one.
async fn follow_store(store: Store, plane: Arc<DataPlane>) {
    let mut revisions: watch::Receiver<u64> = store.subscribe();
    loop {
        if revisions.changed().await.is_err() {
            return;
        }
        revisions.borrow_and_update();
        match snapshot::build(&store).await {
            Ok(next) => {
                let revision = next.revision;
                plane.snapshot.store(Arc::new(next));
                plane.served_revision.store(revision, Ordering::Release);
            }
            Err(e) => {
                tracing::warn!(error = %e, "zone snapshot build failed; retrying");
                tokio::time::sleep(Duration::from_millis(REBUILD_RETRY_MS)).await;
                revisions.mark_changed();
            }
        }
    }
}

async fn serve_udp(socket: Arc<UdpSocket>, plane: Arc<DataPlane>) {
    let mut buf = vec![0u8; UDP_BUFFER_BYTES];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "udp receive failed");
                continue;
            }
        };
        let snapshot = plane.snapshot.load();
        if let Some(reply) = respond(&snapshot, &plane.health, &buf[..n], Transport::Udp) {
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener, plane: Arc<DataPlane>) {
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
        let plane = plane.clone();
        tokio::spawn(async move {
            let lifetime = Duration::from_secs(TCP_MAX_LIFETIME_S);
            let _ = tokio::time::timeout(lifetime, serve_tcp_connection(stream, plane)).await;
            drop(permit);
        });
    }
}

async fn serve_tcp_connection(mut stream: TcpStream, plane: Arc<DataPlane>) {
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
        let Some(reply) = respond(&plane.snapshot.load(), &plane.health, &message, Transport::Tcp) else {
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

//! The DNS server: UDP and TCP on one address, answering from the current snapshot; the
//! task that rebuilds the snapshot when the store's revision moves; and the same serving loop
//! behind each VPC's resolver address (see [`crate::dns::resolvers`]).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use haneul_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::dns::answer::{respond, Asker, Reply, Transport};
use crate::dns::resolvers::Resolvers;
use crate::dns::snapshot;
use crate::dns::udp::{self, UdpWorkers};
use crate::dns::DataPlane;
use crate::health::checker;

/// Largest UDP reply read from an upstream resolver.
const UDP_BUFFER_BYTES: usize = 4096;
/// Most TCP connections served at once (per address).
const MAX_TCP_CONNECTIONS: usize = 256;
/// A TCP client must send its next query within this time.
const TCP_IDLE_TIMEOUT_S: u64 = 10;
/// No TCP connection lives longer than this, busy or not.
const TCP_MAX_LIFETIME_S: u64 = 120;
/// Attempts to find a port free for both UDP and TCP when asked for port 0.
const BIND_ATTEMPTS: usize = 20;
/// Wait before retrying a snapshot build that failed.
const REBUILD_RETRY_MS: u64 = 200;
/// How long a VPC resolver waits for the upstream resolver.
const FORWARD_TIMEOUT_MS: u64 = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum DnsStartError {
    #[error("cannot bind DNS on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot build the first zone snapshot: {0}")]
    Snapshot(#[from] haneul_store::StoreError),
}

/// How the DNS data plane runs.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// The public (authoritative) address.
    pub addr: SocketAddr,
    /// Where VPC resolvers send names no zone of ours holds; `None`: they answer REFUSED.
    pub upstream: Option<SocketAddr>,
}

/// Which door a query came through.
#[derive(Debug, Clone, Default)]
pub struct Door {
    /// The VPC whose resolver this is; `None` for the public address.
    pub vpc: Option<String>,
    pub upstream: Option<SocketAddr>,
}

/// A running DNS server.
pub struct DnsServer {
    pub addr: SocketAddr,
    tasks: JoinSet<()>,
    udp_workers: UdpWorkers,
}

impl DnsServer {
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
        let workers = self.udp_workers;
        // Joining waits for the workers' next stop check; keep it off the runtime.
        let _ = tokio::task::spawn_blocking(move || drop(workers)).await;
    }
}

/// Binds UDP and TCP on the same address (for port 0, a port free for both).
pub async fn bind(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsStartError> {
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

/// Binds UDP+TCP on the configured address, builds the first snapshot into `plane`, starts
/// a resolver per VPC, and serves until stopped. Also runs the health checker, whose
/// statuses the answers follow.
pub async fn start(config: DnsConfig, store: Store, plane: Arc<DataPlane>) -> Result<DnsServer, DnsStartError> {
    let (udp, tcp) = bind(config.addr).await?;
    let bound = udp.local_addr().map_err(|source| DnsStartError::Bind {
        addr: config.addr,
        source,
    })?;
    let first = snapshot::build(&store).await?;
    let revision = first.revision;
    let mut resolvers = Resolvers::new(bound.ip(), config.upstream, plane.clone());
    resolvers.reconcile(&first.vpcs).await;
    plane.snapshot.store(Arc::new(first));
    plane.served_revision.store(revision, Ordering::Release);
    let mut tasks = JoinSet::new();
    tasks.spawn(checker::run(store.clone(), plane.clone()));
    tasks.spawn(follow_store(store, plane.clone(), resolvers));
    let door = Arc::new(Door {
        vpc: None,
        upstream: None,
    });
    let udp_workers = serve(&mut tasks, udp, tcp, udp::threads_for_cores(), plane, door)
        .map_err(|source| DnsStartError::Bind { addr: bound, source })?;
    Ok(DnsServer {
        addr: bound,
        tasks,
        udp_workers,
    })
}

/// Serves one address: UDP on worker threads (returned; they stop when dropped), TCP on
/// the runtime (spawned into `tasks`).
pub fn serve(
    tasks: &mut JoinSet<()>,
    udp: UdpSocket,
    tcp: TcpListener,
    udp_threads: usize,
    plane: Arc<DataPlane>,
    door: Arc<Door>,
) -> std::io::Result<UdpWorkers> {
    let workers = udp::spawn(
        udp.into_std()?,
        udp_threads,
        plane.clone(),
        door.clone(),
        tokio::runtime::Handle::current(),
    )?;
    tasks.spawn(serve_tcp(tcp, plane, door));
    Ok(workers)
}

/// Follows the store: record-set changes are applied to the served snapshot name by name;
/// anything else the snapshot holds (zones, VPCs, collections, domains), a gap in the change
/// feed, or a burst of changes rebuilds it whole. Changes that land meanwhile are picked up by
/// the next round. Keeps one resolver per VPC.
async fn follow_store(store: Store, plane: Arc<DataPlane>, mut resolvers: Resolvers) {
    let mut revisions: watch::Receiver<u64> = store.subscribe_kinds(&DNS_KINDS);
    loop {
        if revisions.changed().await.is_err() {
            return;
        }
        revisions.borrow_and_update();
        let current = plane.snapshot.load_full();
        let next = match incremental(&store, &current).await {
            Ok(Some(next)) => Ok(next),
            Ok(None) => snapshot::build(&store).await,
            Err(e) => Err(e),
        };
        match next {
            Ok(next) => {
                let revision = next.revision;
                if next.vpcs != current.vpcs {
                    resolvers.reconcile(&next.vpcs).await;
                }
                plane.snapshot.store(Arc::new(next));
                plane.served_revision.store(revision, Ordering::Release);
            }
            Err(e) => {
                tracing::warn!(error = %e, "zone snapshot update failed; retrying");
                tokio::time::sleep(Duration::from_millis(REBUILD_RETRY_MS)).await;
                revisions.mark_changed();
            }
        }
    }
}

/// The kinds a snapshot is built from: commits of other kinds never wake the DNS follower.
const DNS_KINDS: [&str; 4] = [
    "route53.",
    "route53domains.",
    haneul_ec2::model::KIND_VPC,
    crate::model::KIND_LB_ADDRESS,
];

fn concerns_dns(kind: &str) -> bool {
    DNS_KINDS.iter().any(|p| kind.starts_with(p))
}

/// Most change-feed entries applied one by one; more than this rebuilds instead.
const MAX_INCREMENTAL_CHANGES: usize = 20_000;

/// The kinds whose change needs a whole rebuild (they decide which zones exist and where).
fn needs_rebuild(kind: &str) -> bool {
    [
        crate::model::KIND_ZONE,
        crate::model::KIND_CIDR_COLLECTION,
        crate::model::KIND_DOMAIN,
        crate::model::KIND_LB_ADDRESS,
        crate::model::KIND_QUERY_LOGGING_CONFIG,
        haneul_ec2::model::KIND_VPC,
    ]
    .contains(&kind)
}

/// `current` with the record-set changes since its revision applied, or `None` when only a
/// rebuild will do.
async fn incremental(
    store: &Store,
    current: &snapshot::Snapshot,
) -> Result<Option<snapshot::Snapshot>, haneul_store::StoreError> {
    let changes = store
        .changes_since(current.revision, MAX_INCREMENTAL_CHANGES + 1)
        .await?;
    let contiguous = changes.first().is_some_and(|c| c.revision == current.revision + 1);
    let full = changes.len() > MAX_INCREMENTAL_CHANGES;
    let Some(revision) = changes.last().map(|c| c.revision) else {
        return Ok(None);
    };
    // Other services' changes in the feed are skipped, not counted.
    let changes: Vec<_> = changes.into_iter().filter(|c| concerns_dns(&c.kind)).collect();
    if !contiguous || full || changes.iter().any(|c| needs_rebuild(&c.kind)) {
        return Ok(None);
    }
    let mut touched: Vec<(haneul_store::Scope, String)> = changes
        .into_iter()
        .filter(|c| c.kind == crate::model::KIND_RRSET)
        .map(|c| (c.scope, snapshot::name_key(&c.id).to_string()))
        .collect();
    touched.sort_by(|a, b| (&a.0.account_id, &a.0.region, &a.1).cmp(&(&b.0.account_id, &b.0.region, &b.1)));
    touched.dedup();
    let updates = store
        .read(move |t| {
            let mut updates = Vec::with_capacity(touched.len());
            for (scope, prefix) in touched {
                let Some((zone_id, name)) = snapshot::parse_name_key(&prefix) else {
                    continue;
                };
                let sets = t
                    .list_prefix::<crate::model::ResourceRecordSet>(&scope, crate::model::KIND_RRSET, &prefix)?
                    .into_iter()
                    .map(|(_, r)| r)
                    .collect();
                updates.push((zone_id, name, sets));
            }
            Ok::<_, haneul_store::StoreError>(updates)
        })
        .await?;
    Ok(Some(current.with_names(revision, updates)))
}

/// The answer for one query through `door`, forwarded upstream when it is a VPC resolver's
/// and no zone of ours holds the name.
async fn answer(
    plane: &DataPlane,
    door: &Door,
    request: &[u8],
    peer: SocketAddr,
    transport: Transport,
) -> Option<Vec<u8>> {
    let reply = {
        let snapshot = plane.snapshot.load();
        let asker = Asker {
            vpc: door.vpc.as_deref(),
            source: Some(peer.ip()),
            geo: Some(&plane.geo),
            query_log: Some(&plane.query_log),
        };
        respond(&snapshot, &plane.health, asker, request, transport)?
    };
    match (reply, door.upstream) {
        (Reply::Answer(bytes), _) | (Reply::NotOurs(bytes), None) => Some(bytes),
        (Reply::NotOurs(refused), Some(upstream)) => {
            Some(forward_or_servfail(upstream, request, refused, transport).await)
        }
    }
}

/// The upstream's reply to `request`, or — when it does not answer — our REFUSED reply
/// turned into SERVFAIL.
pub(crate) async fn forward_or_servfail(
    upstream: SocketAddr,
    request: &[u8],
    mut refused: Vec<u8>,
    transport: Transport,
) -> Vec<u8> {
    match forward(upstream, request, transport).await {
        Some(bytes) => bytes,
        None => {
            if let Some(flags) = refused.get_mut(3) {
                *flags = (*flags & 0xF0) | 0x02; // SERVFAIL
            }
            refused
        }
    }
}

/// Sends `request` to the upstream resolver over the client's transport (also how ACM checks
/// names outside haneul's zones).
pub async fn forward(upstream: SocketAddr, request: &[u8], transport: Transport) -> Option<Vec<u8>> {
    let timeout = Duration::from_millis(FORWARD_TIMEOUT_MS);
    let exchange = async {
        match transport {
            Transport::Udp => {
                let local: SocketAddr = if upstream.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let socket = UdpSocket::bind(local).await.ok()?;
                socket.connect(upstream).await.ok()?;
                socket.send(request).await.ok()?;
                let mut buf = vec![0u8; UDP_BUFFER_BYTES];
                let n = socket.recv(&mut buf).await.ok()?;
                buf.truncate(n);
                Some(buf)
            }
            Transport::Tcp => {
                let mut stream = TcpStream::connect(upstream).await.ok()?;
                let len = u16::try_from(request.len()).ok()?;
                stream.write_all(&len.to_be_bytes()).await.ok()?;
                stream.write_all(request).await.ok()?;
                let n = stream.read_u16().await.ok()?;
                let mut buf = vec![0u8; usize::from(n)];
                stream.read_exact(&mut buf).await.ok()?;
                Some(buf)
            }
        }
    };
    tokio::time::timeout(timeout, exchange).await.ok().flatten()
}

async fn serve_tcp(listener: TcpListener, plane: Arc<DataPlane>, door: Arc<Door>) {
    let slots = Arc::new(Semaphore::new(MAX_TCP_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::debug!(error = %e, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let (plane, door) = (plane.clone(), door.clone());
        tokio::spawn(async move {
            let lifetime = Duration::from_secs(TCP_MAX_LIFETIME_S);
            let _ = tokio::time::timeout(lifetime, serve_tcp_connection(stream, peer, plane, door)).await;
            drop(permit);
        });
    }
}

async fn serve_tcp_connection(mut stream: TcpStream, peer: SocketAddr, plane: Arc<DataPlane>, door: Arc<Door>) {
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
        let Some(reply) = answer(&plane, &door, &message, peer, Transport::Tcp).await else {
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

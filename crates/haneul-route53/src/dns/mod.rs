//! The DNS data plane: snapshot → answer → UDP/TCP server.

pub mod answer;
pub mod entry;
pub mod mmsg;
pub mod pmap;
pub mod querylog;
pub mod resolvers;
pub mod sample;
pub mod server;
pub mod snapshot;
pub mod udp;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::dns::snapshot::Snapshot;
use crate::geo::Geo;
use crate::health::HealthBoard;

/// What the API and the DNS server share: the snapshot being served, its revision, the
/// health statuses answers follow, where clients are, and each VPC's resolver address.
/// Readers never block writers.
#[derive(Default)]
pub struct DataPlane {
    pub snapshot: ArcSwap<Snapshot>,
    /// The store revision `snapshot` was built from (GetChange reports INSYNC from it).
    pub served_revision: AtomicU64,
    pub health: HealthBoard,
    /// `--geoip-db` and `--latency-table`: place clients for the location-based policies.
    pub geo: Geo,
    /// VPC id → the address of its resolver (private zones, then public ones).
    pub vpc_resolvers: ArcSwap<BTreeMap<String, SocketAddr>>,
    /// Query log lines on their way to CloudWatch Logs (zones with a logging config).
    pub query_log: Arc<querylog::QueryLog>,
}

impl DataPlane {
    pub fn new(geo: Geo) -> Arc<DataPlane> {
        Arc::new(DataPlane {
            geo,
            ..DataPlane::default()
        })
    }
}

//! The DNS data plane: snapshot → answer → UDP/TCP server.

pub mod answer;
pub mod server;
pub mod snapshot;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::dns::snapshot::Snapshot;
use crate::health::HealthBoard;

/// What the API and the DNS server share: the snapshot being served, its revision, and the
/// health statuses answers follow. Readers never block writers.
#[derive(Default)]
pub struct DataPlane {
    pub snapshot: ArcSwap<Snapshot>,
    /// The store revision `snapshot` was built from (GetChange reports INSYNC from it).
    pub served_revision: AtomicU64,
    pub health: HealthBoard,
}

impl DataPlane {
    pub fn new() -> Arc<DataPlane> {
        Arc::new(DataPlane::default())
    }
}

//! Health checks as Route 53 runs them: real probes from haneul ([`probe`]), a reconcile loop
//! that runs each check on its interval and applies its failure threshold ([`checker`]), and
//! the board every reader (DNS answers, the status API) looks at without locking.

pub mod checker;
pub mod probe;
pub mod tls;

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

/// What haneul last observed of one health check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckStatus {
    pub healthy: bool,
    /// Route 53's status text (`Success: …` / `Failure: …`); `None` before the first result.
    pub report: Option<String>,
    pub checked_at_s: f64,
    /// The last failing result, for GetHealthCheckLastFailureReason.
    pub last_failure: Option<(String, f64)>,
}

/// Current statuses, swapped whole on every change; readers never block.
#[derive(Default)]
pub struct HealthBoard {
    statuses: ArcSwap<HashMap<String, CheckStatus>>,
    /// DNS names (lower case, final dot) of load balancers with no healthy target, as the load
    /// balancers' data plane last published them (alias records' EvaluateTargetHealth).
    unhealthy_load_balancers: ArcSwap<std::collections::HashSet<String>>,
}

impl HealthBoard {
    /// A check is healthy until its first result arrives, and when it is unknown.
    pub fn is_healthy(&self, id: &str) -> bool {
        self.statuses.load().get(id).is_none_or(|s| s.healthy)
    }

    pub fn status(&self, id: &str) -> Option<CheckStatus> {
        self.statuses.load().get(id).cloned()
    }

    pub fn snapshot(&self) -> Arc<HashMap<String, CheckStatus>> {
        self.statuses.load_full()
    }

    /// Whether the load balancer named `dns_name` (lower case, final dot) has a healthy target.
    pub fn load_balancer_healthy(&self, dns_name: &str) -> bool {
        !self.unhealthy_load_balancers.load().contains(dns_name)
    }

    /// Called by the load balancers' data plane whenever target health changes.
    pub fn publish_load_balancer_health(&self, unhealthy: std::collections::HashSet<String>) {
        if **self.unhealthy_load_balancers.load() != unhealthy {
            self.unhealthy_load_balancers.store(Arc::new(unhealthy));
        }
    }

    pub(crate) fn publish(&self, statuses: HashMap<String, CheckStatus>) {
        self.statuses.store(Arc::new(statuses));
    }
}

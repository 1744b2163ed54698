//! The health checker: a reconcile loop that probes every health check on its interval,
//! applies FailureThreshold, computes CALCULATED checks from their children, applies
//! Inverted/Disabled, and publishes statuses to the [`HealthBoard`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use haneul_store::Store;
use haneul_wire::value::now_epoch_s;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::dns::DataPlane;
use crate::generated::{HealthCheck, HealthCheckConfig};
use crate::health::probe::{self, Outcome, ProbeKind, Target};
use crate::health::CheckStatus;
use crate::model::KIND_HEALTH_CHECK;

/// How often the loop looks for due probes and finished ones.
const TICK_MS: u64 = 250;
/// Probes in flight at once, across all checks.
const MAX_PROBES_IN_FLIGHT: usize = 64;
/// Route 53's defaults.
pub const DEFAULT_INTERVAL_S: i64 = 30;
pub const DEFAULT_FAILURE_THRESHOLD: i64 = 3;

#[derive(Debug)]
struct State {
    healthy: bool,
    consecutive_ok: i64,
    consecutive_fail: i64,
    next_due: Instant,
    in_flight: bool,
    report: Option<String>,
    checked_at_s: f64,
    last_failure: Option<(String, f64)>,
}

impl State {
    fn new() -> State {
        State {
            healthy: true,
            consecutive_ok: 0,
            consecutive_fail: 0,
            next_due: Instant::now(),
            in_flight: false,
            report: None,
            checked_at_s: now_epoch_s(),
            last_failure: None,
        }
    }

    fn record(&mut self, outcome: Outcome, threshold: i64) {
        let now = now_epoch_s();
        if outcome.ok {
            self.consecutive_ok += 1;
            self.consecutive_fail = 0;
            if !self.healthy && self.consecutive_ok >= threshold {
                self.healthy = true;
            }
        } else {
            self.consecutive_fail += 1;
            self.consecutive_ok = 0;
            if self.healthy && self.consecutive_fail >= threshold {
                self.healthy = false;
            }
            self.last_failure = Some((outcome.report.clone(), now));
        }
        self.report = Some(outcome.report);
        self.checked_at_s = now;
    }
}

/// Where a check's probes go; `None` for CALCULATED and types haneul cannot probe.
async fn target_of(config: &HealthCheckConfig) -> Option<Target> {
    let kind = match config.r#type.as_str() {
        "TCP" => ProbeKind::Tcp,
        "HTTP" | "HTTP_STR_MATCH" => ProbeKind::Http,
        "HTTPS" | "HTTPS_STR_MATCH" => ProbeKind::Https,
        _ => return None,
    };
    let default_port = if kind == ProbeKind::Https { 443 } else { 80 };
    let port = u16::try_from(config.port.unwrap_or(default_port)).ok()?;
    let addr = match (&config.ip_address, &config.fully_qualified_domain_name) {
        (Some(ip), _) => SocketAddr::new(ip.parse::<IpAddr>().ok()?, port),
        (None, Some(fqdn)) => tokio::net::lookup_host((fqdn.as_str(), port)).await.ok()?.next()?,
        (None, None) => return None,
    };
    Some(Target {
        addr,
        kind,
        host: config
            .fully_qualified_domain_name
            .clone()
            .unwrap_or_else(|| addr.ip().to_string()),
        path: config
            .resource_path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into()),
        search: config.search_string.clone(),
        sni: config
            .enable_sni
            .unwrap_or(config.fully_qualified_domain_name.is_some()),
    })
}

async fn load_checks(store: &Store) -> HashMap<String, HealthCheck> {
    let result = store
        .read(|t| t.list_all_scopes::<HealthCheck>(KIND_HEALTH_CHECK))
        .await;
    match result {
        Ok(rows) => rows.into_iter().map(|(_, id, c)| (id, c)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read health checks");
            HashMap::new()
        }
    }
}

/// Runs until the task is dropped.
pub async fn run(store: Store, plane: Arc<DataPlane>) {
    let mut revisions = store.subscribe_kinds(&[crate::model::KIND_HEALTH_CHECK]);
    let mut checks = load_checks(&store).await;
    let mut states: HashMap<String, State> = HashMap::new();
    let mut probes: JoinSet<(String, Outcome)> = JoinSet::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(TICK_MS));
    loop {
        ticker.tick().await;
        if revisions.has_changed().unwrap_or(false) {
            revisions.borrow_and_update();
            checks = load_checks(&store).await;
            states.retain(|id, _| checks.contains_key(id));
        }
        while let Some(done) = probes.try_join_next() {
            let Ok((id, outcome)) = done else { continue };
            let threshold = checks
                .get(&id)
                .and_then(|c| c.health_check_config.failure_threshold)
                .unwrap_or(DEFAULT_FAILURE_THRESHOLD);
            if let Some(state) = states.get_mut(&id) {
                state.in_flight = false;
                state.record(outcome, threshold);
            }
        }
        let now = Instant::now();
        for (id, check) in &checks {
            let state = states.entry(id.clone()).or_insert_with(State::new);
            if state.in_flight || state.next_due > now || probes.len() >= MAX_PROBES_IN_FLIGHT {
                continue;
            }
            let config = &check.health_check_config;
            if config.r#type == "CALCULATED" {
                continue;
            }
            let interval = config.request_interval.unwrap_or(DEFAULT_INTERVAL_S).max(1) as u64;
            state.next_due = now + Duration::from_secs(interval);
            let Some(target) = target_of(config).await else {
                state.record(
                    Outcome {
                        ok: false,
                        report: "Failure: the endpoint could not be resolved".into(),
                    },
                    1,
                );
                continue;
            };
            state.in_flight = true;
            let id = id.clone();
            probes.spawn(async move { (id, probe::run(&target).await) });
        }
        plane.health.publish(evaluate(&checks, &states));
    }
}

/// Final statuses: probes as measured, CALCULATED from children, then Inverted and Disabled.
fn evaluate(checks: &HashMap<String, HealthCheck>, states: &HashMap<String, State>) -> HashMap<String, CheckStatus> {
    let mut out = HashMap::new();
    let measured = |id: &str| -> Option<bool> {
        let check = checks.get(id)?;
        let state = states.get(id)?;
        Some(adjust(&check.health_check_config, state.healthy))
    };
    for (id, check) in checks {
        let config = &check.health_check_config;
        let status = if config.r#type == "CALCULATED" {
            let healthy_children = config
                .child_health_checks
                .iter()
                .filter(|c| measured(c).unwrap_or(true))
                .count();
            let threshold = usize::try_from(config.health_threshold.unwrap_or(1)).unwrap_or(0);
            let healthy = adjust(config, healthy_children >= threshold);
            CheckStatus {
                healthy,
                report: Some(format!(
                    "{}: {healthy_children} of {} child health checks are healthy",
                    if healthy { "Success" } else { "Failure" },
                    config.child_health_checks.len()
                )),
                checked_at_s: now_epoch_s(),
                last_failure: None,
            }
        } else {
            let Some(state) = states.get(id) else { continue };
            CheckStatus {
                healthy: adjust(config, state.healthy),
                report: state.report.clone(),
                checked_at_s: state.checked_at_s,
                last_failure: state.last_failure.clone(),
            }
        };
        out.insert(id.clone(), status);
    }
    out
}

/// Disabled checks count as healthy; Inverted flips the result.
fn adjust(config: &HealthCheckConfig, healthy: bool) -> bool {
    if config.disabled == Some(true) {
        return true;
    }
    healthy != config.inverted.unwrap_or(false)
}

//! Target health: one state per (target group, target), shared by the proxy (which picks
//! healthy targets) and DescribeTargetHealth, and written by one probe task per target.
//! States and reasons as ALB reports them: a registered target is `initial` until it passes one
//! check, `unhealthy` after UnhealthyThresholdCount failures in a row, `healthy` again after
//! HealthyThresholdCount passes; `draining` after deregistration for the deregistration delay.

pub mod probe;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// A target's health state, as DescribeTargetHealth names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    Initial = 0,
    Healthy = 1,
    Unhealthy = 2,
    Draining = 3,
    Unavailable = 4,
}

impl State {
    fn from_u8(v: u8) -> State {
        match v {
            1 => State::Healthy,
            2 => State::Unhealthy,
            3 => State::Draining,
            4 => State::Unavailable,
            _ => State::Initial,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            State::Initial => "initial",
            State::Healthy => "healthy",
            State::Unhealthy => "unhealthy",
            State::Draining => "draining",
            State::Unavailable => "unavailable",
        }
    }
}

/// Why a target is not healthy, with ALB's reason codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    None,
    RegistrationInProgress,
    InitialHealthChecking,
    ResponseCodeMismatch(u16),
    Timeout,
    FailedHealthChecks,
    HealthCheckDisabled,
    DeregistrationInProgress,
}

impl Reason {
    /// (Reason code, description) for DescribeTargetHealth.
    pub fn describe(&self) -> Option<(&'static str, String)> {
        Some(match self {
            Reason::None => return None,
            Reason::RegistrationInProgress => (
                "Elb.RegistrationInProgress",
                "Target registration is in progress".into(),
            ),
            Reason::InitialHealthChecking => ("Elb.InitialHealthChecking", "Initial health checks in progress".into()),
            Reason::ResponseCodeMismatch(code) => (
                "Target.ResponseCodeMismatch",
                format!("Health checks failed with these codes: [{code}]"),
            ),
            Reason::Timeout => ("Target.Timeout", "Request timed out".into()),
            Reason::FailedHealthChecks => ("Target.FailedHealthChecks", "Health checks failed".into()),
            Reason::HealthCheckDisabled => ("Target.HealthCheckDisabled", "Health checks are disabled".into()),
            Reason::DeregistrationInProgress => (
                "Target.DeregistrationInProgress",
                "Target deregistration is in progress".into(),
            ),
        })
    }
}

/// One target of one group: where it is, its health, and the requests it is serving now.
#[derive(Debug)]
pub struct TargetState {
    pub addr: SocketAddr,
    /// `addr` as a URI authority (requests to the target are addressed with it).
    pub authority: http::uri::Authority,
    state: AtomicU8,
    reason: Mutex<Reason>,
    /// Requests sent to this target and not yet answered (least outstanding requests).
    pub in_flight: AtomicUsize,
    /// Milliseconds since `epoch` when the target last became healthy (slow start).
    healthy_since_ms: AtomicU64,
    epoch: Instant,
}

impl TargetState {
    pub fn new(addr: SocketAddr, checks_enabled: bool) -> TargetState {
        let (state, reason) = if checks_enabled {
            (State::Initial, Reason::RegistrationInProgress)
        } else {
            (State::Unavailable, Reason::HealthCheckDisabled)
        };
        TargetState {
            addr,
            authority: http::uri::Authority::try_from(addr.to_string().as_str())
                .unwrap_or(http::uri::Authority::from_static("0.0.0.0")),
            state: AtomicU8::new(state as u8),
            reason: Mutex::new(reason),
            in_flight: AtomicUsize::new(0),
            healthy_since_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    pub fn reason(&self) -> Reason {
        self.reason.lock().map(|r| r.clone()).unwrap_or(Reason::None)
    }

    pub fn set(&self, state: State, reason: Reason) {
        let before = self.state.swap(state as u8, Ordering::AcqRel);
        if state == State::Healthy && before != State::Healthy as u8 {
            let ms = self.epoch.elapsed().as_millis() as u64;
            self.healthy_since_ms.store(ms, Ordering::Release);
        }
        if let Ok(mut r) = self.reason.lock() {
            *r = reason;
        }
    }

    /// When the target last became healthy (for slow start), if it is healthy.
    pub fn healthy_since(&self) -> Option<Instant> {
        (self.state() == State::Healthy)
            .then(|| self.epoch + Duration::from_millis(self.healthy_since_ms.load(Ordering::Acquire)))
    }

    /// Deregistered and inside its deregistration delay: takes no new requests.
    pub fn is_draining(&self) -> bool {
        self.state() == State::Draining
    }
}

/// Health check settings of a group, as the probe uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSettings {
    pub https: bool,
    /// None: the traffic port.
    pub port: Option<u16>,
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    /// Matcher codes such as "200", "200,202", "200-299".
    pub matcher: String,
}

/// (target group ARN, target IP, port).
pub type TargetKey = (String, String, i64);

/// Every target's state and probe task.
#[derive(Default)]
pub struct HealthTable {
    targets: Mutex<HashMap<TargetKey, Entry>>,
}

struct Entry {
    state: Arc<TargetState>,
    probe: Option<(CheckSettings, JoinHandle<()>)>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some((_, task)) = &self.probe {
            task.abort();
        }
    }
}

/// What the table should hold after a configuration change: each target with its group's checks
/// (None: disabled), or draining.
pub struct Wanted {
    pub key: TargetKey,
    pub addr: SocketAddr,
    pub checks: Option<CheckSettings>,
    /// Deregistered, and still inside its deregistration delay.
    pub draining: bool,
}

impl HealthTable {
    /// Every address some target group has (registered or draining).
    pub fn addresses(&self) -> std::collections::HashSet<SocketAddr> {
        let targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        targets.values().map(|e| e.state.addr).collect()
    }

    pub fn get(&self, key: &TargetKey) -> Option<Arc<TargetState>> {
        self.targets.lock().ok()?.get(key).map(|e| e.state.clone())
    }

    /// Makes the table hold exactly `wanted`, starting, restarting and stopping probe tasks as
    /// settings change. Returns each wanted target's state.
    pub fn reconcile(&self, wanted: Vec<Wanted>) -> HashMap<TargetKey, Arc<TargetState>> {
        let Ok(mut table) = self.targets.lock() else {
            return HashMap::new();
        };
        let mut out = HashMap::with_capacity(wanted.len());
        let mut keep: Vec<TargetKey> = Vec::with_capacity(wanted.len());
        for w in wanted {
            let entry = table.entry(w.key.clone()).or_insert_with(|| Entry {
                state: Arc::new(TargetState::new(w.addr, w.checks.is_some())),
                probe: None,
            });
            if w.draining {
                if let Some((_, task)) = entry.probe.take() {
                    task.abort();
                }
                entry.state.set(State::Draining, Reason::DeregistrationInProgress);
                keep.push(w.key.clone());
                out.insert(w.key, entry.state.clone());
                continue;
            }
            if entry.state.is_draining() {
                // Registered again while draining: checked from the start.
                entry.state.set(State::Initial, Reason::RegistrationInProgress);
            }
            let same = match (&entry.probe, &w.checks) {
                (Some((s, _)), Some(c)) => s == c,
                (None, None) => true,
                _ => false,
            };
            if !same {
                if let Some((_, task)) = entry.probe.take() {
                    task.abort();
                }
                match w.checks {
                    Some(settings) => {
                        let task = tokio::spawn(probe::run(entry.state.clone(), settings.clone()));
                        entry.probe = Some((settings, task));
                    }
                    None => entry.state.set(State::Unavailable, Reason::HealthCheckDisabled),
                }
            }
            keep.push(w.key.clone());
            out.insert(w.key, entry.state.clone());
        }
        let keep: std::collections::HashSet<TargetKey> = keep.into_iter().collect();
        table.retain(|key, _| keep.contains(key));
        out
    }
}

//! What the proxy serves, built from the store: per bound address (load balancer address and
//! listener port) the listener's compiled rules and actions; per target group its targets
//! (with their shared health states), algorithm and stickiness. Swapped whole on any ELBv2 or
//! ACM change; connections in flight keep the plan they read.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use haneul_acm::seal::Sealer;
use haneul_store::{Store, StoreError};
use haneul_wire::value::now_epoch_s;

use crate::attributes::{effective, effective_for_group};
use crate::generated::RedirectActionConfig;
use crate::health::{CheckSettings, HealthTable, TargetState, Wanted};
use crate::model::*;
use crate::proxy::rules::Conditions;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RoundRobin,
    LeastOutstanding,
    WeightedRandom,
}

/// Target-level stickiness of a group.
#[derive(Debug, Clone)]
pub enum Stickiness {
    LbCookie { duration_s: u64 },
    AppCookie { cookie_name: String, duration_s: u64 },
}

/// A target group as the proxy uses it.
#[derive(Debug)]
pub struct GroupPlan {
    pub arn: String,
    /// Short id used in stickiness cookies.
    pub cookie_id: u64,
    /// Registered targets, then draining ones (which take no new requests).
    pub targets: Vec<Arc<TargetState>>,
    pub algorithm: Algorithm,
    pub stickiness: Option<Stickiness>,
    pub slow_start: Duration,
    /// Speak HTTP/2 to targets (protocol version HTTP2 or GRPC).
    pub http2: bool,
    pub https: bool,
    /// Round-robin position.
    pub next: AtomicUsize,
}

#[derive(Debug)]
pub struct ForwardPlan {
    pub groups: Vec<(Arc<GroupPlan>, u32)>,
    pub total_weight: u32,
    /// Group-level stickiness (weighted forward), seconds.
    pub group_stickiness_s: Option<u64>,
}

#[derive(Debug)]
pub enum ActionPlan {
    Forward(ForwardPlan),
    Redirect(RedirectActionConfig),
    Fixed {
        status: u16,
        content_type: Option<String>,
        body: Bytes,
    },
}

/// Load balancer attributes the proxy applies.
#[derive(Debug, Clone)]
pub struct LbSettings {
    pub idle_timeout: Duration,
    pub http2: bool,
    /// Drop request headers whose names are not letters, digits and hyphens.
    pub drop_invalid_headers: bool,
    /// append | preserve | remove
    pub xff_mode: String,
    pub xff_client_port: bool,
}

#[derive(Debug)]
pub struct ListenerPlan {
    pub arn: String,
    /// The load balancer's DNS name (lower case, final dot).
    pub lb_dns_name: String,
    pub https: bool,
    pub port: u16,
    pub rules: Vec<(Conditions, ActionPlan)>,
    pub default: ActionPlan,
    pub lb: LbSettings,
    /// HTTPS: certificate ARNs (default first) and the security policy.
    pub certificates: Vec<String>,
    pub ssl_policy: Option<String>,
    /// Plain HTTP whose target groups all speak HTTP/1.1 in the clear: served by `h1.rs`.
    pub fast_h1: bool,
    /// HTTPS: what handshakes use (None: no servable certificate; handshakes fail).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

#[derive(Default)]
pub struct Snapshot {
    /// Distinct for every snapshot built (0: the empty one at start): connections keep the
    /// plan they looked up until it changes.
    pub generation: u64,
    pub listeners: HashMap<SocketAddr, Arc<ListenerPlan>>,
    /// Earliest end of a draining period (a rebuild then drops the target).
    pub next_drain_end_s: Option<f64>,
}

/// Everything the snapshot is built from, read in one transaction.
struct Rows {
    lbs: Vec<LoadBalancer>,
    listeners: Vec<Listener>,
    groups: Vec<TargetGroup>,
}

async fn read_rows(store: &Store) -> Result<Rows, StoreError> {
    store
        .read(|t| {
            let lbs = t
                .list_all_scopes::<LoadBalancer>(KIND_LOAD_BALANCER)?
                .into_iter()
                .map(|r| r.2)
                .collect();
            let listeners = t
                .list_all_scopes::<Listener>(KIND_LISTENER)?
                .into_iter()
                .map(|r| r.2)
                .collect();
            let groups = t
                .list_all_scopes::<TargetGroup>(KIND_TARGET_GROUP)?
                .into_iter()
                .map(|r| r.2)
                .collect();
            Ok(Rows { lbs, listeners, groups })
        })
        .await
}

fn check_settings(tg: &TargetGroup) -> Option<CheckSettings> {
    tg.health_check_enabled.then(|| CheckSettings {
        https: tg.health_check_protocol.as_deref() == Some("HTTPS"),
        port: tg.health_check_port.parse::<u16>().ok(),
        path: tg.health_check_path.clone().unwrap_or_else(|| "/".into()),
        interval: Duration::from_secs(tg.health_check_interval_s.max(1) as u64),
        timeout: Duration::from_secs(tg.health_check_timeout_s.max(1) as u64),
        healthy_threshold: tg.healthy_threshold.max(1) as u32,
        unhealthy_threshold: tg.unhealthy_threshold.max(1) as u32,
        matcher: tg.matcher_http_code.clone().unwrap_or_else(|| "200".into()),
    })
}

fn target_addr(t: &Target) -> Option<SocketAddr> {
    Some(SocketAddr::new(
        t.address.as_deref().unwrap_or(&t.id).parse::<IpAddr>().ok()?,
        u16::try_from(t.port).ok()?,
    ))
}

fn cookie_id(arn: &str) -> u64 {
    // FNV-1a: stable across restarts, so stickiness cookies survive them.
    arn.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn group_plan(tg: &TargetGroup, states: &HashMap<crate::health::TargetKey, Arc<TargetState>>, now_s: f64) -> GroupPlan {
    let attrs = effective_for_group(tg);
    let get = |k: &str| attrs.get(k).map(String::as_str).unwrap_or("");
    let secs = |k: &str| get(k).parse::<u64>().unwrap_or(0);
    let stickiness = (get("stickiness.enabled") == "true").then(|| match get("stickiness.type") {
        "app_cookie" => Stickiness::AppCookie {
            cookie_name: get("stickiness.app_cookie.cookie_name").to_string(),
            duration_s: secs("stickiness.app_cookie.duration_seconds"),
        },
        _ => Stickiness::LbCookie {
            duration_s: secs("stickiness.lb_cookie.duration_seconds"),
        },
    });
    let mut targets: Vec<&Target> = tg.targets.iter().filter(|t| t.present(now_s)).collect();
    targets.sort_by_key(|t| t.draining_until_s.is_some());
    GroupPlan {
        arn: tg.arn.clone(),
        cookie_id: cookie_id(&tg.arn),
        targets: targets
            .iter()
            .filter_map(|t| states.get(&(tg.arn.clone(), t.id.clone(), t.port)).cloned())
            .collect(),
        algorithm: match get("load_balancing.algorithm.type") {
            "least_outstanding_requests" => Algorithm::LeastOutstanding,
            "weighted_random" => Algorithm::WeightedRandom,
            _ => Algorithm::RoundRobin,
        },
        stickiness,
        slow_start: Duration::from_secs(secs("slow_start.duration_seconds")),
        http2: matches!(tg.protocol_version.as_deref(), Some("HTTP2") | Some("GRPC")),
        https: tg.protocol.as_deref() == Some("HTTPS"),
        next: AtomicUsize::new(0),
    }
}

fn action_plan(actions: &[Action], groups: &HashMap<&str, Arc<GroupPlan>>) -> ActionPlan {
    let terminal = actions
        .iter()
        .rev()
        .find(|a| ["forward", "redirect", "fixed-response"].contains(&a.r#type.as_str()));
    let Some(action) = terminal else {
        return ActionPlan::Fixed {
            status: 503,
            content_type: None,
            body: Bytes::new(),
        };
    };
    if let Some(r) = &action.redirect_config {
        return ActionPlan::Redirect(r.clone());
    }
    if let Some(f) = &action.fixed_response_config {
        return ActionPlan::Fixed {
            status: f.status_code.parse().unwrap_or(503),
            content_type: f.content_type.clone(),
            body: Bytes::from(f.message_body.clone().unwrap_or_default()),
        };
    }
    let config = action.forward_config.as_ref();
    let chosen: Vec<(Arc<GroupPlan>, u32)> = config
        .map(|c| c.target_groups.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|g| {
            let plan = groups.get(g.target_group_arn.as_deref()?)?.clone();
            Some((plan, g.weight.unwrap_or(1).max(0) as u32))
        })
        .collect();
    let sticky = config
        .and_then(|c| c.target_group_stickiness_config.as_ref())
        .filter(|s| s.enabled == Some(true))
        .map(|s| s.duration_seconds.unwrap_or(3600).max(1) as u64);
    ActionPlan::Forward(ForwardPlan {
        total_weight: chosen.iter().map(|(_, w)| *w).sum(),
        groups: chosen,
        group_stickiness_s: sticky,
    })
}

fn lb_settings(lb: &LoadBalancer) -> LbSettings {
    let attrs = effective(lb);
    let get = |k: &str| attrs.get(k).cloned().unwrap_or_default();
    LbSettings {
        idle_timeout: Duration::from_secs(get("idle_timeout.timeout_seconds").parse().unwrap_or(60)),
        http2: get("routing.http2.enabled") != "false",
        drop_invalid_headers: get("routing.http.drop_invalid_header_fields.enabled") == "true",
        xff_mode: get("routing.http.xff_header_processing.mode"),
        xff_client_port: get("routing.http.xff_client_port.enabled") == "true",
    }
}

/// Builds the snapshot and brings the health table (and its probes) in line with it.
pub async fn build(store: &Store, health: &HealthTable, sealer: &Sealer) -> Result<Snapshot, StoreError> {
    let rows = read_rows(store).await?;
    let certs = if rows.listeners.iter().any(|l| l.protocol == "HTTPS") {
        crate::proxy::tls::load_certificates(store).await?
    } else {
        HashMap::new()
    };
    let now_s = now_epoch_s();
    let mut wanted = Vec::new();
    let mut next_drain_end_s: Option<f64> = None;
    for tg in rows.groups.iter().filter(|g| !g.load_balancer_arns.is_empty()) {
        let checks = check_settings(tg);
        for t in tg.targets.iter().filter(|t| t.present(now_s)) {
            let Some(addr) = target_addr(t) else { continue };
            if let Some(until) = t.draining_until_s {
                next_drain_end_s = Some(next_drain_end_s.map_or(until, |n: f64| n.min(until)));
            }
            wanted.push(Wanted {
                key: (tg.arn.clone(), t.id.clone(), t.port),
                addr,
                checks: checks.clone(),
                draining: t.draining_until_s.is_some(),
            });
        }
    }
    let states = health.reconcile(wanted);
    let plans: HashMap<&str, Arc<GroupPlan>> = rows
        .groups
        .iter()
        .map(|tg| (tg.arn.as_str(), Arc::new(group_plan(tg, &states, now_s))))
        .collect();
    let lbs: HashMap<&str, &LoadBalancer> = rows.lbs.iter().map(|lb| (lb.arn.as_str(), lb)).collect();
    let mut listeners = HashMap::new();
    for l in &rows.listeners {
        let Some(lb) = lbs.get(l.load_balancer_arn.as_str()) else {
            continue;
        };
        let (Ok(ip), Ok(port)) = (lb.address.parse::<IpAddr>(), u16::try_from(l.port)) else {
            continue;
        };
        let mut rules: Vec<&Rule> = l.rules.iter().collect();
        rules.sort_by_key(|r| r.priority);
        let mut plan = ListenerPlan {
            arn: l.arn.clone(),
            lb_dns_name: format!("{}.", lb.dns_name.trim_end_matches('.').to_ascii_lowercase()),
            https: l.protocol == "HTTPS",
            port,
            rules: rules
                .iter()
                .map(|r| (Conditions::compile(&r.conditions), action_plan(&r.actions, &plans)))
                .collect(),
            default: action_plan(&l.default_actions, &plans),
            lb: lb_settings(lb),
            certificates: l.certificates.clone(),
            ssl_policy: l.ssl_policy.clone(),
            tls: None,
            fast_h1: false,
        };
        plan.fast_h1 = !plan.https && plan.groups().all(|g| !g.http2 && !g.https);
        if plan.https {
            plan.tls = crate::proxy::tls::server_config(&plan, &certs, sealer);
        }
        listeners.insert(SocketAddr::new(ip, port), Arc::new(plan));
    }
    static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    Ok(Snapshot {
        generation: GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        listeners,
        next_drain_end_s,
    })
}

impl ActionPlan {
    fn groups(&self) -> impl Iterator<Item = &Arc<GroupPlan>> {
        let groups = match self {
            ActionPlan::Forward(f) => f.groups.as_slice(),
            _ => &[],
        };
        groups.iter().map(|(g, _)| g)
    }
}

impl ListenerPlan {
    /// Every target group the listener's rules and default action forward to.
    pub fn groups(&self) -> impl Iterator<Item = &Arc<GroupPlan>> {
        self.rules
            .iter()
            .flat_map(|(_, a)| a.groups())
            .chain(self.default.groups())
    }
}

impl Snapshot {
    /// DNS names of load balancers Route 53 should treat as unhealthy (alias records with
    /// EvaluateTargetHealth): those whose listeners forward to no registered target, or to a
    /// target group with targets none of which is healthy.
    pub fn unhealthy_load_balancers(&self) -> std::collections::HashSet<String> {
        use crate::health::State;
        let mut verdict: HashMap<&str, bool> = HashMap::new();
        for plan in self.listeners.values() {
            let groups = plan.groups();
            let entry = verdict.entry(plan.lb_dns_name.as_str()).or_insert(false);
            for g in groups {
                let live: Vec<_> = g.targets.iter().filter(|t| !t.is_draining()).collect();
                if live.is_empty() {
                    continue;
                }
                let healthy = live
                    .iter()
                    .any(|t| matches!(t.state(), State::Healthy | State::Unavailable));
                if !healthy {
                    *entry = false;
                    break;
                }
                *entry = true;
            }
        }
        verdict
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(name, _)| name.to_string())
            .collect()
    }
}

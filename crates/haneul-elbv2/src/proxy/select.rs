//! Choosing where a forwarded request goes: the target group (by weight, or the group cookie
//! AWSALBTG when group stickiness is on), then the target (the stickiness cookie AWSALB or
//! AWSALBAPP-0 when it names a usable target, else the group's algorithm over healthy targets,
//! failing open over all of them when none is healthy), and the cookies to set on the way back.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use http::header::HeaderValue;

use crate::health::{State, TargetState};
use crate::proxy::rules::Headers;
use crate::proxy::snapshot::{Algorithm, ForwardPlan, GroupPlan, Stickiness};

const LB_COOKIE: &str = "AWSALB";
const LB_COOKIE_CORS: &str = "AWSALBCORS";
const GROUP_COOKIE: &str = "AWSALBTG";
const GROUP_COOKIE_CORS: &str = "AWSALBTGCORS";
const APP_COOKIE: &str = "AWSALBAPP-0";

/// Where a request goes: the target group and the target in it.
pub struct Pick {
    pub group: Arc<GroupPlan>,
    pub target: Arc<TargetState>,
    /// Group-level stickiness duration when the forward weighs several groups (AWSALBTG).
    pub group_stickiness_s: Option<u64>,
}

fn cookie<'a>(headers: Headers<'a>, name: &str) -> Option<&'a str> {
    headers
        .get_all("cookie")
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// A target's cookie value: the group's id and the target's address, base64url.
fn target_token(group: &GroupPlan, target: &TargetState) -> String {
    let mut bytes = group.cookie_id.to_be_bytes().to_vec();
    bytes.extend(target.addr.to_string().as_bytes());
    b64().encode(bytes)
}

fn target_from_token(group: &GroupPlan, token: &str) -> Option<Arc<TargetState>> {
    let bytes = b64().decode(token).ok()?;
    let (id, addr) = bytes.split_at_checked(8)?;
    if u64::from_be_bytes(id.try_into().ok()?) != group.cookie_id {
        return None;
    }
    let addr: std::net::SocketAddr = std::str::from_utf8(addr).ok()?.parse().ok()?;
    group.targets.iter().find(|t| t.addr == addr).cloned()
}

fn group_from_token(plan: &ForwardPlan, token: &str) -> Option<Arc<GroupPlan>> {
    let bytes = b64().decode(token).ok()?;
    let id = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    plan.groups
        .iter()
        .find(|(g, w)| g.cookie_id == id && *w > 0)
        .map(|(g, _)| g.clone())
}

fn pick_group(plan: &ForwardPlan, headers: Headers<'_>) -> Option<Arc<GroupPlan>> {
    if plan.groups.len() == 1 {
        return Some(plan.groups[0].0.clone());
    }
    if plan.group_stickiness_s.is_some() {
        if let Some(g) = cookie(headers, GROUP_COOKIE).and_then(|t| group_from_token(plan, t)) {
            return Some(g);
        }
    }
    if plan.total_weight == 0 {
        return None;
    }
    let mut roll = rand::random::<u32>() % plan.total_weight;
    for (g, w) in &plan.groups {
        if roll < *w {
            return Some(g.clone());
        }
        roll -= w;
    }
    None
}

/// Healthy targets if any, else (fail open) every target not draining.
fn usable_filter(group: &GroupPlan) -> fn(&TargetState) -> bool {
    if group.targets.iter().any(|t| t.state() == State::Healthy) {
        |t| t.state() == State::Healthy
    } else {
        |t| !t.is_draining()
    }
}

/// Targets that turn healthy within this of each other turned healthy together (registered in
/// one call): none of them enters slow start because of the others.
const SLOW_START_TOGETHER_MS: u64 = 1_000;

/// Slow start as ALB applies it: a target that turns healthy while another healthy target is
/// out of slow start ramps up linearly over the window; the first targets of a group (and
/// targets that turned healthy together with them) take their full share at once.
fn warming(group: &GroupPlan, t: &TargetState) -> bool {
    let window = group.slow_start;
    if window.is_zero() {
        return false;
    }
    let Some(since) = t.healthy_since() else {
        return false;
    };
    let age = since.elapsed();
    if age >= window || !entered_slow_start(group, since) {
        return false;
    }
    rand::random::<f64>() > age.as_secs_f64() / window.as_secs_f64()
}

/// Whether a target that became healthy at `since` entered slow start: some target was
/// healthy before it and not in slow start then. Worked out in the order targets became
/// healthy (groups are small; only slow-start groups pay for it, only during a window).
fn entered_slow_start(group: &GroupPlan, since: std::time::Instant) -> bool {
    let together = Duration::from_millis(SLOW_START_TOGETHER_MS);
    let mut earlier: Vec<std::time::Instant> = group
        .targets
        .iter()
        .filter_map(|u| u.healthy_since())
        .filter(|u| *u + together <= since)
        .collect();
    earlier.sort_unstable();
    // entered[i]: whether earlier[i] entered slow start itself.
    let mut entered: Vec<bool> = Vec::with_capacity(earlier.len());
    for (i, at) in earlier.iter().enumerate() {
        let e = earlier[..i]
            .iter()
            .zip(&entered)
            .any(|(before, was)| *before + together <= *at && (!was || *before + group.slow_start <= *at));
        entered.push(e);
    }
    earlier
        .iter()
        .zip(&entered)
        .any(|(before, was)| !was || *before + group.slow_start <= since)
}

fn pick_target(group: &GroupPlan) -> Option<Arc<TargetState>> {
    let ok = usable_filter(group);
    let count = group.targets.iter().filter(|t| ok(t)).count();
    if count == 0 {
        return None;
    }
    let nth = |n: usize| group.targets.iter().filter(|t| ok(t)).nth(n % count).cloned();
    match group.algorithm {
        Algorithm::LeastOutstanding => group
            .targets
            .iter()
            .filter(|t| ok(t))
            .min_by_key(|t| t.in_flight.load(Ordering::Relaxed))
            .cloned(),
        Algorithm::WeightedRandom => nth(rand::random::<u32>() as usize),
        Algorithm::RoundRobin => {
            // A warming target passes its turn on to the next one (at most one full turn).
            for _ in 0..count {
                let t = nth(group.next.fetch_add(1, Ordering::Relaxed))?;
                if !warming(group, &t) {
                    return Some(t);
                }
            }
            nth(group.next.fetch_add(1, Ordering::Relaxed))
        }
    }
}

pub fn pick(plan: &ForwardPlan, headers: Headers<'_>) -> Option<Pick> {
    let group = pick_group(plan, headers)?;
    let sticky = match &group.stickiness {
        Some(Stickiness::LbCookie { .. }) => cookie(headers, LB_COOKIE).and_then(|t| target_from_token(&group, t)),
        Some(Stickiness::AppCookie { .. }) => cookie(headers, APP_COOKIE).and_then(|t| target_from_token(&group, t)),
        None => None,
    };
    let ok = usable_filter(&group);
    let target = match sticky.filter(|t| ok(t)) {
        Some(t) => t,
        None => pick_target(&group)?,
    };
    let group_stickiness_s = plan.group_stickiness_s.filter(|_| plan.groups.len() > 1);
    Some(Pick {
        group,
        target,
        group_stickiness_s,
    })
}

fn http_date(after: Duration) -> String {
    let at = time::OffsetDateTime::now_utc() + after;
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    at.format(&format).unwrap_or_default()
}

fn set_cookie(out: &mut Vec<HeaderValue>, name: &str, value: &str, duration_s: u64, cors: bool) {
    let expires = http_date(Duration::from_secs(duration_s));
    let extra = if cors { "; SameSite=None; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!("{name}={value}; Expires={expires}; Path=/{extra}")) {
        out.push(v);
    }
}

/// Stickiness cookies for the response: the group cookie for sticky weighted forwards, the
/// target cookie for lb_cookie groups, and the app cookie's companion when the target set its
/// own cookie (`target_set_cookie` says whether a Set-Cookie of the target starts with a prefix).
pub fn stick(pick: &Pick, target_set_cookie: &dyn Fn(&[u8]) -> bool) -> Vec<HeaderValue> {
    let mut out = Vec::new();
    if let Some(duration_s) = pick.group_stickiness_s {
        let token = b64().encode(pick.group.cookie_id.to_be_bytes());
        set_cookie(&mut out, GROUP_COOKIE, &token, duration_s, false);
        set_cookie(&mut out, GROUP_COOKIE_CORS, &token, duration_s, true);
    }
    match &pick.group.stickiness {
        Some(Stickiness::LbCookie { duration_s }) => {
            let token = target_token(&pick.group, &pick.target);
            set_cookie(&mut out, LB_COOKIE, &token, *duration_s, false);
            set_cookie(&mut out, LB_COOKIE_CORS, &token, *duration_s, true);
        }
        Some(Stickiness::AppCookie {
            cookie_name,
            duration_s,
        }) if target_set_cookie(format!("{cookie_name}=").as_bytes()) => {
            let token = target_token(&pick.group, &pick.target);
            set_cookie(&mut out, APP_COOKIE, &token, *duration_s, false);
        }
        _ => {}
    }
    out
}

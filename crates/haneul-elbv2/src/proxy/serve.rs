//! One request through the load balancer, in phases: check the request, pick the rule, act
//! (fixed response, redirect, or forward: pick a group and a target, rewrite, send, relay).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, Uri, Version};
use http_body_util::Either;
use hyper::body::Incoming;

use crate::generated::RedirectActionConfig;
use crate::proxy::h1_client;
use crate::proxy::pages::{error_page, own, redirect, ProxyBody, TargetBody};
use crate::proxy::rules::{Headers, RequestView};
use crate::proxy::snapshot::{ActionPlan, ForwardPlan, ListenerPlan};
use crate::proxy::{select, Plane, MAX_REQUEST_HEADER_BYTES, MAX_REQUEST_LINE_BYTES};

/// Headers that describe one hop and are not passed on (either way, and on both paths).
pub const HOP_HEADERS: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
];

/// Most X-Forwarded-For entries ALB accepts (more: 463).
pub const MAX_XFF_ENTRIES: usize = 30;

/// The connection a request arrived on.
pub struct Conn {
    pub local: SocketAddr,
    pub peer: SocketAddr,
    pub https: bool,
    /// The worker thread serving the connection (its pool of target connections).
    pub worker: usize,
    pub plane: Arc<Plane>,
    /// The client as X-Forwarded-For names it (address, address:port) and the listener port.
    pub peer_ip_text: HeaderValue,
    pub peer_text: HeaderValue,
    pub port_text: HeaderValue,
}

impl Conn {
    pub fn new(local: SocketAddr, peer: SocketAddr, https: bool, worker: usize, plane: Arc<Plane>) -> Conn {
        let text = |s: String| HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static(""));
        Conn {
            local,
            peer,
            https,
            worker,
            plane,
            peer_ip_text: text(peer.ip().to_string()),
            peer_text: text(peer.to_string()),
            port_text: HeaderValue::from(local.port()),
        }
    }
}

static X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

pub async fn handle(conn: Arc<Conn>, req: Request<Incoming>) -> Result<Response<ProxyBody>, std::convert::Infallible> {
    let listener = conn.plane.snapshot.load().listeners.get(&conn.local).cloned();
    let Some(listener) = listener else {
        return Ok(error_page(503));
    };
    if let Some(status) = reject(&req, &listener) {
        let mut response = error_page(status);
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Ok(response);
    }
    let action = route(&listener, &req, &conn);
    Ok(match action {
        ActionPlan::Fixed {
            status,
            content_type,
            body,
        } => own(*status, content_type.as_deref(), body.clone()),
        ActionPlan::Redirect(r) => redirect_to(r, &req, &conn, &listener),
        ActionPlan::Forward(f) => forward(&conn, &listener, f, req).await,
    })
}

/// Requests ALB refuses before routing: ambiguous framing (smuggling), too many forwarders.
fn reject(req: &Request<Incoming>, listener: &ListenerPlan) -> Option<u16> {
    let headers = req.headers();
    let target = req.uri().path_and_query().map_or(1, |p| p.as_str().len());
    if req.method().as_str().len() + target + " HTTP/1.1".len() + 1 > MAX_REQUEST_LINE_BYTES {
        return Some(400);
    }
    if headers
        .iter()
        .any(|(n, v)| n.as_str().len() + v.len() + 2 > MAX_REQUEST_HEADER_BYTES)
    {
        return Some(400);
    }
    if headers.contains_key(header::TRANSFER_ENCODING) && headers.contains_key(header::CONTENT_LENGTH) {
        return Some(400);
    }
    if headers.get_all(header::CONTENT_LENGTH).iter().count() > 1 {
        return Some(400);
    }
    if req.version() == Version::HTTP_11 && !headers.contains_key(header::HOST) {
        return Some(400);
    }
    let xff_entries: usize = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .map(|v| v.as_bytes().split(|b| *b == b',').count())
        .sum();
    if listener.lb.xff_mode == "append" && xff_entries >= MAX_XFF_ENTRIES {
        return Some(463);
    }
    None
}

fn host_of(req: &Request<Incoming>) -> &str {
    req.uri()
        .authority()
        .map(|a| a.as_str())
        .or_else(|| req.headers().get(header::HOST).and_then(|h| h.to_str().ok()))
        .unwrap_or("")
}

pub fn route_view<'a>(listener: &'a ListenerPlan, view: &RequestView<'_>) -> &'a ActionPlan {
    listener
        .rules
        .iter()
        .find(|(conditions, _)| conditions.matches(view))
        .map(|(_, action)| action)
        .unwrap_or(&listener.default)
}

fn route<'a>(listener: &'a ListenerPlan, req: &Request<Incoming>, conn: &Conn) -> &'a ActionPlan {
    if listener.rules.is_empty() {
        return &listener.default;
    }
    let view = RequestView {
        host: host_of(req),
        path: req.uri().path(),
        query: req.uri().query(),
        method: req.method().as_str(),
        headers: Headers::Map(req.headers()),
        client_ip: conn.peer.ip(),
    };
    route_view(listener, &view)
}

/// Redirects as the config says, the request's parts filling its `#{…}` placeholders.
fn redirect_to(
    r: &RedirectActionConfig,
    req: &Request<Incoming>,
    conn: &Conn,
    listener: &ListenerPlan,
) -> Response<ProxyBody> {
    let (status, location) = redirect_location(
        r,
        conn.https,
        host_of(req),
        req.uri().path(),
        req.uri().query().unwrap_or(""),
        listener.port,
    );
    redirect(status, &location)
}

/// (status, Location) of a redirect action for a request.
pub fn redirect_location(
    r: &RedirectActionConfig,
    https: bool,
    host: &str,
    path: &str,
    query: &str,
    port: u16,
) -> (u16, String) {
    let protocol_in = if https { "HTTPS" } else { "HTTP" };
    let host_in = host
        .rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    let path_in = path.trim_start_matches('/');
    let port_in = port.to_string();
    let fill = |template: &str| {
        template
            .replace("#{protocol}", protocol_in)
            .replace("#{host}", host_in)
            .replace("#{port}", &port_in)
            .replace("#{path}", path_in)
            .replace("#{query}", query)
    };
    let protocol = fill(r.protocol.as_deref().unwrap_or("#{protocol}")).to_ascii_lowercase();
    let host = fill(r.host.as_deref().unwrap_or("#{host}"));
    let port = fill(r.port.as_deref().unwrap_or("#{port}"));
    let path = fill(r.path.as_deref().unwrap_or("/#{path}"));
    let query = fill(r.query.as_deref().unwrap_or("#{query}"));
    let default_port = (protocol == "http" && port == "80") || (protocol == "https" && port == "443");
    let mut location = format!("{protocol}://{host}");
    if !default_port {
        location.push(':');
        location.push_str(&port);
    }
    location.push_str(&path);
    if !query.is_empty() {
        location.push('?');
        location.push_str(&query);
    }
    (if r.status_code == "HTTP_301" { 301 } else { 302 }, location)
}

/// A new trace id, `Root=1-<8 hex: epoch seconds>-<24 hex: random>`.
pub fn trace_id() -> [u8; 40] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let random: [u8; 12] = rand::random();
    let mut out = *b"Root=1-00000000-000000000000000000000000";
    for i in 0..8 {
        out[7 + i] = HEX[((now >> (28 - 4 * i)) & 0xf) as usize];
    }
    for (i, b) in random.iter().enumerate() {
        out[16 + 2 * i] = HEX[usize::from(b >> 4)];
        out[17 + 2 * i] = HEX[usize::from(b & 0xf)];
    }
    out
}

/// Headers that describe one hop and must not be passed on.
fn strip_hop_headers(headers: &mut HeaderMap, keep_upgrade: bool) {
    if headers.contains_key(header::CONNECTION) {
        strip_connection_listed(headers, keep_upgrade);
    }
    // `TE: trailers` is what gRPC needs passed on; other transfer codings are this hop's.
    let keep_te = headers.get(header::TE).is_some_and(|v| v.as_bytes() == b"trailers");
    for name in HOP_HEADERS {
        let kept = (keep_upgrade && (name == "connection" || name == "upgrade")) || (keep_te && name == "te");
        if !kept {
            headers.remove(name);
        }
    }
    headers.remove(header::TRANSFER_ENCODING);
}

/// Headers the Connection header names as hop-by-hop.
fn strip_connection_listed(headers: &mut HeaderMap, keep_upgrade: bool) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .filter(|name| !(keep_upgrade && name == header::UPGRADE))
        .collect();
    for name in listed {
        headers.remove(name);
    }
}

fn is_upgrade(req: &Request<Incoming>) -> bool {
    req.version() == Version::HTTP_11
        && req.headers().contains_key(header::UPGRADE)
        && req
            .headers()
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")))
}

/// X-Forwarded-For/-Proto/-Port and X-Amzn-Trace-Id, as the load balancer's settings say.
fn add_forwarding_headers(headers: &mut HeaderMap, conn: &Conn, listener: &ListenerPlan) {
    let client = if listener.lb.xff_client_port {
        &conn.peer_text
    } else {
        &conn.peer_ip_text
    };
    match listener.lb.xff_mode.as_str() {
        "remove" => {
            headers.remove(&X_FORWARDED_FOR);
        }
        "preserve" => {}
        _ => {
            let value = match headers.get(&X_FORWARDED_FOR) {
                Some(before) => HeaderValue::from_bytes(&[before.as_bytes(), b", ", client.as_bytes()].concat()),
                None => Ok(client.clone()),
            };
            if let Ok(v) = value {
                headers.insert(&X_FORWARDED_FOR, v);
            }
        }
    }
    let proto = if conn.https { "https" } else { "http" };
    headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    headers.insert(&X_FORWARDED_PORT, conn.port_text.clone());
    let mut trace = bytes::BytesMut::new();
    put_trace(headers.get(&X_AMZN_TRACE_ID).map(HeaderValue::as_bytes), &mut trace);
    if let Ok(v) = HeaderValue::from_maybe_shared(trace.freeze()) {
        headers.insert(&X_AMZN_TRACE_ID, v);
    }
}

/// The X-Amzn-Trace-Id value sent on: the client's with a `Self=` of ours when it carries a
/// `Root=`, else a new root.
pub fn put_trace(existing: Option<&[u8]>, out: &mut bytes::BytesMut) {
    let fresh = trace_id();
    match existing {
        Some(t) if t.windows(5).any(|w| w == b"Root=") => {
            out.extend_from_slice(t);
            out.extend_from_slice(b";Self=");
            out.extend_from_slice(&fresh[5..]);
        }
        _ => out.extend_from_slice(&fresh),
    }
}

/// A header name ALB passes on with `routing.http.drop_invalid_header_fields.enabled`:
/// letters, digits and hyphens only.
pub fn valid_header_name(name: &[u8]) -> bool {
    name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// Counts a request against its target until the response head arrives.
struct InFlight<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn forward(
    conn: &Conn,
    listener: &ListenerPlan,
    plan: &ForwardPlan,
    mut req: Request<Incoming>,
) -> Response<ProxyBody> {
    let Some(pick) = select::pick(plan, Headers::Map(req.headers())) else {
        return error_page(503);
    };
    let (group, target) = (&pick.group, &pick.target);
    let upgrade = is_upgrade(&req);
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let host = host_of(&req).to_string();
    let mut parts = std::mem::take(req.uri_mut()).into_parts();
    parts.scheme = Some(if group.https {
        http::uri::Scheme::HTTPS
    } else {
        http::uri::Scheme::HTTP
    });
    parts.authority = Some(target.authority.clone());
    if parts.path_and_query.is_none() {
        parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    let Ok(uri) = Uri::from_parts(parts) else {
        return error_page(400);
    };
    *req.uri_mut() = uri;
    let headers = req.headers_mut();
    strip_hop_headers(headers, upgrade);
    if !headers.contains_key(header::HOST) {
        if let Ok(v) = HeaderValue::from_str(&host) {
            headers.insert(header::HOST, v);
        }
    }
    if listener.lb.drop_invalid_headers {
        let invalid: Vec<HeaderName> = headers
            .keys()
            .filter(|n| !valid_header_name(n.as_str().as_bytes()))
            .cloned()
            .collect();
        for name in invalid {
            headers.remove(name);
        }
    }
    add_forwarding_headers(headers, conn, listener);
    *req.version_mut() = if group.http2 { Version::HTTP_2 } else { Version::HTTP_11 };
    if group.http2 {
        req.headers_mut().remove(header::HOST);
    }
    target.in_flight.fetch_add(1, Ordering::Relaxed);
    let counted = InFlight(&target.in_flight);
    let idle = listener.lb.idle_timeout;
    let sent = if group.https || group.http2 || client_upgrade.is_some() {
        // Boxed: this branch's state is large and most requests take the other one.
        let upstream = &conn.plane.upstreams[conn.worker];
        match tokio::time::timeout(idle, Box::pin(upstream.send(req, group.https, group.http2))).await {
            Err(_) => Err(504),
            Ok(Err(e)) => Err(upstream_error_status(&e)),
            Ok(Ok(r)) => Ok(r.map(TargetBody::Hyper)),
        }
    } else {
        // The target's connection times out on its own when it is idle this long (504).
        h1_client::send(target.addr, req, idle)
            .await
            .map(|r| r.map(TargetBody::Raw))
    };
    drop(counted);
    let mut response = match sent {
        Err(status) => return error_page(status),
        Ok(r) => r,
    };
    if response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_upgrade) = client_upgrade {
            let target_upgrade = hyper::upgrade::on(&mut response);
            tokio::spawn(relay_upgraded(client_upgrade, target_upgrade));
        }
    } else {
        strip_hop_headers(response.headers_mut(), false);
    }
    let cookies = {
        let set = response.headers().get_all(header::SET_COOKIE);
        select::stick(&pick, &|prefix| set.iter().any(|v| v.as_bytes().starts_with(prefix)))
    };
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response.map(Either::Left)
}

/// 504 when the target did not answer the connect in time, else 502 (refused, reset, bad reply).
pub fn upstream_error_status(e: &hyper_util::client::legacy::Error) -> u16 {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return 504;
            }
        }
        if s.to_string().contains("timed out") {
            return 504;
        }
        source = s.source();
    }
    502
}

/// Carries an upgraded connection (WebSocket) both ways until either side closes.
async fn relay_upgraded(client: hyper::upgrade::OnUpgrade, target: hyper::upgrade::OnUpgrade) {
    let (Ok(client), Ok(target)) = tokio::join!(client, target) else {
        return;
    };
    let mut client = hyper_util::rt::TokioIo::new(client);
    let mut target = hyper_util::rt::TokioIo::new(target);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut target).await;
}

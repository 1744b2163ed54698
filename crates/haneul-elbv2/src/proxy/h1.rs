//! The HTTP/1.1 path for plain listeners whose target groups speak HTTP/1.1 in the clear: the
//! request head parsed in place, routed, rewritten into the target's request, bodies relayed as
//! they come (Content-Length or chunked, scanned — never re-encoded), target connections pooled
//! per worker thread. Ambiguous framing is refused (400, closed), as ALB's desync mitigation.
//! HTTPS listeners and HTTP/2 or HTTPS target groups go through hyper instead (`serve.rs`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::proxy::idle::IdleIo;
use crate::proxy::pages::error_body;
use crate::proxy::rules::{Headers, RequestView};
use crate::proxy::serve::{
    put_trace, redirect_location, route_view, valid_header_name, Conn, HOP_HEADERS, MAX_XFF_ENTRIES,
};
use crate::proxy::snapshot::{ActionPlan, ListenerPlan};
use crate::proxy::{
    select, MAX_REQUEST_HEADER_BYTES, MAX_REQUEST_HEAD_BYTES, MAX_REQUEST_LINE_BYTES, MAX_RESPONSE_HEAD_BYTES,
};

/// Most headers one request or response may carry.
const MAX_HEADERS: usize = 128;

/// Room made for a read of a head (request or response): small, since idle keep-alive
/// connections keep their buffers.
const HEAD_READ_BYTES: usize = 4 * 1024;
/// Room made for a read of a body.
pub(super) const BODY_READ_BYTES: usize = 16 * 1024;
/// Idle connections kept per target and worker.
const POOL_MAX_IDLE_PER_TARGET: usize = 256;
/// A request head that has started arriving must be complete within this.
const HEAD_TIMEOUT_S: u64 = 60;

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Until the sender closes (responses only).
    Close,
}

/// Why a request could not be completed.
#[derive(Debug)]
pub(super) enum Failure {
    /// The client went away or broke the protocol: drop the connection.
    Client,
    /// Answer with this status (ALB's page) and close.
    Status(u16),
}

/// An idle connection to a target and when it went idle.
type IdleTarget = (std::time::Instant, IdleIo<TcpStream>);

thread_local! {
    /// Idle keep-alive connections to targets, per target, oldest first, each with when it
    /// went idle; each worker thread has its own.
    static POOL: RefCell<HashMap<SocketAddr, Vec<IdleTarget>>> = RefCell::new(HashMap::new());
}

/// An idle target connection is closed after this long unused.
const POOL_IDLE: Duration = Duration::from_secs(crate::proxy::upstream::POOL_IDLE_TIMEOUT_S);

fn checkout(addr: SocketAddr) -> Option<IdleIo<TcpStream>> {
    POOL.with(|p| {
        let mut pool = p.borrow_mut();
        let idle = pool.get_mut(&addr)?;
        // The newest is at the end; anything past the idle timeout is closed, not reused.
        let fresh = idle
            .pop()
            .filter(|(since, _)| since.elapsed() < POOL_IDLE)
            .map(|(_, s)| s);
        if fresh.is_none() || idle.is_empty() {
            idle.retain(|(since, _)| since.elapsed() < POOL_IDLE);
            if idle.is_empty() {
                pool.remove(&addr);
            }
        }
        fresh
    })
}

pub(super) fn checkin(addr: SocketAddr, stream: IdleIo<TcpStream>) {
    POOL.with(|p| {
        let mut pool = p.borrow_mut();
        let idle = pool.entry(addr).or_default();
        if idle.len() < POOL_MAX_IDLE_PER_TARGET {
            idle.push((std::time::Instant::now(), stream));
        }
    });
}

/// Closes this worker's idle target connections that are past the idle timeout or go to an
/// address no target group has any more (task addresses come and go).
pub(super) fn sweep_pool(live: &std::collections::HashSet<SocketAddr>) {
    POOL.with(|p| {
        let mut pool = p.borrow_mut();
        pool.retain(|addr, idle| {
            if !live.contains(addr) {
                return false;
            }
            idle.retain(|(since, _)| since.elapsed() < POOL_IDLE);
            !idle.is_empty()
        });
    });
}

/// Serves one client connection until it closes, fails, or its listener changes to something
/// this path does not serve.
pub async fn serve(stream: TcpStream, conn: Arc<Conn>, idle: Duration) {
    let mut client = IdleIo::new(stream, idle);
    let mut buf = BytesMut::new();
    let mut out = BytesMut::new();
    let mut scratch = Scratch::default();
    let mut plans = PlanCache::default();
    loop {
        if buf.is_empty() {
            // Between requests a connection holds no read buffer: wait for bytes first, then
            // take the room to read them (idle keep-alive connections cost only their state).
            release_spare(&mut buf, &mut out, &mut scratch);
            if client.readable().await.is_err() {
                return;
            }
        }
        // The head is parsed once and everything it decides is worked out before the next
        // await, so the parsed headers never become part of the connection's state.
        let next = read_request(&mut client, &mut buf, |req| {
            decide(req, &conn, plans.current(&conn), &mut out)
        })
        .await;
        let served = match next {
            Ok(Some(Next::Reply { keep })) => match client.write_all(&out).await {
                Ok(()) => Ok(keep),
                Err(_) => Err(Failure::Client),
            },
            Ok(Some(Next::Forward(forwarding))) => {
                forward(&mut client, &mut buf, &mut out, &mut scratch, &forwarding).await
            }
            Ok(None) => Ok(false),
            Err(e) => Err(e),
        };
        match served {
            Ok(true) => continue,
            Ok(false) | Err(Failure::Client) => return,
            Err(Failure::Status(code)) => {
                write_error_page(&mut client, &mut out, code).await;
                return;
            }
        }
    }
}

/// Gives back the buffers' room between requests: read buffers entirely (they are empty),
/// write buffers when a large message grew them.
fn release_spare(buf: &mut BytesMut, out: &mut BytesMut, scratch: &mut Scratch) {
    give_back(buf);
    if scratch.upstream.is_empty() {
        give_back(&mut scratch.upstream);
    }
    if out.capacity() > HEAD_READ_BYTES {
        *out = BytesMut::new();
    }
    if scratch.pending.capacity() > HEAD_READ_BYTES {
        scratch.pending = BytesMut::new();
    }
}

/// Read buffers a worker keeps for the next request of any of its connections (a connection
/// gives its buffers back between requests; reusing them saves an allocation per read).
const SPARE_BUFFERS_PER_WORKER: usize = 64;

thread_local! {
    static SPARE_BUFFERS: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// Takes an empty read buffer away from a connection, keeping it for reuse if it is head-sized.
fn give_back(buf: &mut BytesMut) {
    let mut spare = std::mem::take(buf);
    if spare.capacity() == 0 || !spare.is_empty() {
        return;
    }
    // Reclaims the room consumed reads left at the front (no allocation: the buffer is empty).
    spare.reserve(HEAD_READ_BYTES);
    if spare.capacity() > 2 * HEAD_READ_BYTES {
        return;
    }
    SPARE_BUFFERS.with(|s| {
        let mut spares = s.borrow_mut();
        if spares.len() < SPARE_BUFFERS_PER_WORKER {
            spares.push(spare);
        }
    });
}

/// Makes room for a read of `n` bytes, starting from a spare buffer when `buf` has none.
pub(super) fn make_room(buf: &mut BytesMut, n: usize) {
    if buf.capacity() == 0 {
        if let Some(spare) = SPARE_BUFFERS.with(|s| s.borrow_mut().pop()) {
            *buf = spare;
        }
    }
    buf.reserve(n);
}

/// The connection's listener plan, looked up again only when a new snapshot is in place.
#[derive(Default)]
struct PlanCache {
    generation: Option<u64>,
    plan: Option<Arc<ListenerPlan>>,
}

impl PlanCache {
    /// The plan as of the current snapshot (None: the listener is gone).
    fn current(&mut self, conn: &Conn) -> Option<&ListenerPlan> {
        let snapshot = conn.plane.snapshot.load();
        if self.generation != Some(snapshot.generation) {
            self.generation = Some(snapshot.generation);
            self.plan = snapshot.listeners.get(&conn.local).cloned();
        }
        self.plan.as_deref()
    }
}

/// Room for a head's parsed headers, left uninitialized: the parser writes only the slots it
/// fills (zeroing 128 slots per parse was a visible share of the per-request cost).
fn header_slots<'b>() -> [MaybeUninit<httparse::Header<'b>>; MAX_HEADERS] {
    [const { MaybeUninit::uninit() }; MAX_HEADERS]
}

/// Buffers a connection reuses from request to request.
#[derive(Default)]
struct Scratch {
    /// Reads from the target.
    upstream: BytesMut,
    /// The request head as sent (kept for a retry).
    pending: BytesMut,
}

/// Reads until `buf` starts with a whole request head, hands the parsed head to `decide`, and
/// consumes it. `None`: the client closed between requests.
async fn read_request<R, T>(
    io: &mut R,
    buf: &mut BytesMut,
    mut decide: impl FnMut(&httparse::Request<'_, '_>) -> Result<T, Failure>,
) -> Result<Option<T>, Failure>
where
    R: AsyncRead + Unpin,
{
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        if !buf.is_empty() {
            let decided = {
                let mut slots = header_slots();
                let mut req = httparse::Request::new(&mut []);
                match req.parse_with_uninit_headers(buf, &mut slots) {
                    Ok(httparse::Status::Complete(n)) => Some((n, decide(&req))),
                    Ok(httparse::Status::Partial) if buf.len() >= MAX_REQUEST_HEAD_BYTES => {
                        return Err(Failure::Status(400))
                    }
                    Ok(httparse::Status::Partial) => None,
                    Err(_) => return Err(Failure::Status(400)),
                }
            };
            if let Some((n, decided)) = decided {
                buf.advance(n);
                return decided.map(Some);
            }
            deadline.get_or_insert_with(|| tokio::time::Instant::now() + Duration::from_secs(HEAD_TIMEOUT_S));
        }
        make_room(buf, HEAD_READ_BYTES);
        let n = match deadline {
            None => io.read_buf(buf).await,
            Some(d) => match tokio::time::timeout_at(d, io.read_buf(buf)).await {
                Ok(r) => r,
                Err(_) => return Err(Failure::Status(408)),
            },
        }
        .map_err(|_| Failure::Client)?;
        if n == 0 {
            return if buf.is_empty() { Ok(None) } else { Err(Failure::Client) };
        }
    }
}

/// The comma-separated items of a header value, trimmed.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|b| *b == b',').map(<[u8]>::trim_ascii)
}

/// Whether a Transfer-Encoding value's last coding is chunked (what frames the body).
fn ends_chunked(value: &[u8]) -> bool {
    tokens(value).last().is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"))
}

/// What the proxy needs from a request head.
struct RequestFacts<'h> {
    host: &'h str,
    content_length: Option<u64>,
    chunked: bool,
    close: bool,
    upgrade: bool,
    xff_entries: usize,
    /// `Expect: 100-continue`: the client waits for a go-ahead before its body.
    expects_continue: bool,
}

fn facts<'h>(req: &httparse::Request<'h, '_>) -> Result<RequestFacts<'h>, Failure> {
    let mut f = RequestFacts {
        host: "",
        content_length: None,
        chunked: false,
        close: req.version == Some(0),
        upgrade: false,
        xff_entries: 0,
        expects_continue: false,
    };
    let mut transfer_encoding = false;
    let line = req.method.map_or(0, str::len) + req.path.map_or(0, str::len) + " HTTP/1.1".len() + 1;
    if line > MAX_REQUEST_LINE_BYTES {
        return Err(Failure::Status(400));
    }
    for h in req.headers.iter() {
        let v = h.value;
        if h.name.len() + v.len() + 2 > MAX_REQUEST_HEADER_BYTES {
            return Err(Failure::Status(400));
        }
        if h.name.eq_ignore_ascii_case("host") {
            f.host = std::str::from_utf8(v).map_err(|_| Failure::Status(400))?;
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or(Failure::Status(400))?;
            if f.content_length.is_some_and(|m| m != n) {
                return Err(Failure::Status(400));
            }
            f.content_length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            f.chunked = ends_chunked(v);
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in tokens(v) {
                if token.eq_ignore_ascii_case(b"close") {
                    f.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && req.version == Some(0) {
                    f.close = false;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    f.upgrade = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case("x-forwarded-for") {
            f.xff_entries += tokens(v).count();
        } else if h.name.eq_ignore_ascii_case("expect") {
            f.expects_continue = v.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        }
    }
    // Desync mitigation: both framings at once, or a transfer coding that is not chunked.
    if transfer_encoding && (f.content_length.is_some() || !f.chunked) {
        return Err(Failure::Status(400));
    }
    if req.version == Some(1) && f.host.is_empty() {
        return Err(Failure::Status(400));
    }
    f.upgrade = f.upgrade && req.headers.iter().any(|h| h.name.eq_ignore_ascii_case("upgrade"));
    Ok(f)
}

/// What to do with a request, decided while its head is parsed.
enum Next {
    /// `out` holds the load balancer's own whole response; whether the connection stays open.
    Reply { keep: bool },
    /// `out` holds the target's request head.
    Forward(Forwarding),
}

/// A request on its way to a target: what the rest of the exchange needs of its head.
struct Forwarding {
    pick: select::Pick,
    framing: Framing,
    head_only: bool,
    expects_continue: bool,
    upgrade: bool,
    /// The client asked to close after this request.
    close: bool,
    idle: Duration,
}

/// Routes a parsed request head: the load balancer's own response, or the target's request
/// head and what forwarding it needs.
fn decide(
    req: &httparse::Request<'_, '_>,
    conn: &Conn,
    listener: Option<&ListenerPlan>,
    out: &mut BytesMut,
) -> Result<Next, Failure> {
    let facts = facts(req)?;
    let Some(listener) = listener.filter(|l| l.fast_h1) else {
        return Err(Failure::Status(503));
    };
    if listener.lb.xff_mode == "append" && facts.xff_entries >= MAX_XFF_ENTRIES {
        return Err(Failure::Status(463));
    }
    let target = req.path.unwrap_or("/");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let action = if listener.rules.is_empty() {
        &listener.default
    } else {
        let view = RequestView {
            host: facts.host,
            path,
            query,
            method: req.method.unwrap_or("GET"),
            headers: Headers::Raw(req.headers),
            client_ip: conn.peer.ip(),
        };
        route_view(listener, &view)
    };
    let has_body = facts.chunked || facts.content_length.is_some_and(|n| n > 0);
    let keep = !facts.close && !has_body;
    match action {
        ActionPlan::Fixed {
            status,
            content_type,
            body,
        } => {
            own_response(out, *status, content_type.as_deref(), body, keep, None);
            Ok(Next::Reply { keep })
        }
        ActionPlan::Redirect(r) => {
            let (status, location) = redirect_location(r, false, facts.host, path, query.unwrap_or(""), listener.port);
            own_response(
                out,
                status,
                Some("text/html"),
                &error_body(status),
                keep,
                Some(&location),
            );
            Ok(Next::Reply { keep })
        }
        ActionPlan::Forward(plan) => {
            let pick = select::pick(plan, Headers::Raw(req.headers)).ok_or(Failure::Status(503))?;
            target_head(out, req, conn, listener, facts.upgrade);
            let framing = if facts.chunked {
                Framing::Chunked
            } else {
                facts.content_length.map_or(Framing::None, Framing::Length)
            };
            Ok(Next::Forward(Forwarding {
                pick,
                framing,
                head_only: req.method == Some("HEAD"),
                expects_continue: facts.expects_continue,
                upgrade: facts.upgrade,
                close: facts.close,
                idle: listener.lb.idle_timeout,
            }))
        }
    }
}

/// ALB's error page for `code`, closing the connection after it.
async fn write_error_page<C: AsyncWrite + Unpin>(client: &mut C, out: &mut BytesMut, code: u16) {
    own_response(out, code, Some("text/html"), &error_body(code), false, None);
    let _ = client.write_all(out).await;
}

/// A response the load balancer makes itself, into `out`.
fn own_response(
    out: &mut BytesMut,
    status: u16,
    content_type: Option<&str>,
    body: &Bytes,
    keep: bool,
    location: Option<&str>,
) {
    out.clear();
    let reason = crate::proxy::pages::reason(status);
    out.put_slice(
        format!(
            "HTTP/1.1 {status} {reason}\r\nServer: awselb/2.0\r\nContent-Length: {}\r\n",
            body.len()
        )
        .as_bytes(),
    );
    if let Some(ct) = content_type {
        out.put_slice(b"Content-Type: ");
        out.put_slice(ct.as_bytes());
        out.put_slice(b"\r\n");
    }
    if let Some(l) = location {
        out.put_slice(b"Location: ");
        out.put_slice(l.as_bytes());
        out.put_slice(b"\r\n");
    }
    if !keep {
        out.put_slice(b"Connection: close\r\n");
    }
    out.put_slice(b"\r\n");
    out.put_slice(body);
}

fn is_hop_header(name: &str) -> bool {
    HOP_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h))
}

/// The target's request head: the client's, minus hop-by-hop and forwarding headers, plus ALB's.
fn target_head(
    out: &mut BytesMut,
    req: &httparse::Request<'_, '_>,
    conn: &Conn,
    listener: &ListenerPlan,
    upgrade: bool,
) {
    out.clear();
    out.put_slice(req.method.unwrap_or("GET").as_bytes());
    out.put_u8(b' ');
    out.put_slice(req.path.unwrap_or("/").as_bytes());
    out.put_slice(b" HTTP/1.1\r\n");
    let mut xff: Option<&[u8]> = None;
    let mut trace: Option<&[u8]> = None;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("x-forwarded-for") {
            xff = Some(h.value);
            continue;
        }
        if name.eq_ignore_ascii_case("expect") {
            // Answered here (100 Continue) before the body is relayed.
            continue;
        }
        if name.eq_ignore_ascii_case("x-amzn-trace-id") {
            trace = Some(h.value);
            continue;
        }
        if is_hop_header(name) && !(upgrade && name.eq_ignore_ascii_case("upgrade"))
            || name.eq_ignore_ascii_case("x-forwarded-proto")
            || name.eq_ignore_ascii_case("x-forwarded-port")
        {
            continue;
        }
        if listener.lb.drop_invalid_headers && !valid_header_name(name.as_bytes()) {
            continue;
        }
        out.put_slice(name.as_bytes());
        out.put_slice(b": ");
        out.put_slice(h.value);
        out.put_slice(b"\r\n");
    }
    let client = if listener.lb.xff_client_port {
        &conn.peer_text
    } else {
        &conn.peer_ip_text
    };
    match (listener.lb.xff_mode.as_str(), xff) {
        ("remove", _) => {}
        ("preserve", Some(v)) => {
            out.put_slice(b"X-Forwarded-For: ");
            out.put_slice(v);
            out.put_slice(b"\r\n");
        }
        ("preserve", None) => {}
        (_, before) => {
            out.put_slice(b"X-Forwarded-For: ");
            if let Some(v) = before {
                out.put_slice(v);
                out.put_slice(b", ");
            }
            out.put_slice(client.as_bytes());
            out.put_slice(b"\r\n");
        }
    }
    out.put_slice(b"X-Forwarded-Proto: http\r\nX-Forwarded-Port: ");
    out.put_slice(conn.port_text.as_bytes());
    out.put_slice(b"\r\nX-Amzn-Trace-Id: ");
    put_trace(trace, out);
    out.put_slice(b"\r\n");
    if upgrade {
        out.put_slice(b"Connection: Upgrade\r\n");
    }
    out.put_slice(b"\r\n");
}

/// A connection to the target: pooled if one is idle, else new (ALB's 10 s connect timeout).
pub(super) async fn connect(
    addr: SocketAddr,
    pooled: bool,
    idle: Duration,
) -> Result<(IdleIo<TcpStream>, bool), Failure> {
    if pooled {
        if let Some(mut s) = checkout(addr) {
            s.reuse(idle);
            return Ok((s, true));
        }
    }
    let connecting = TcpStream::connect(addr);
    match tokio::time::timeout(
        Duration::from_secs(crate::proxy::upstream::CONNECT_TIMEOUT_S),
        connecting,
    )
    .await
    {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok((IdleIo::new(s, idle), false))
        }
        Ok(Err(_)) => Err(Failure::Status(502)),
        Err(_) => Err(Failure::Status(504)),
    }
}

async fn forward<C: AsyncRead + AsyncWrite + Unpin>(
    client: &mut C,
    buf: &mut BytesMut,
    out: &mut BytesMut,
    scratch: &mut Scratch,
    forwarding: &Forwarding,
) -> Result<bool, Failure> {
    if forwarding.expects_continue {
        client
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .map_err(|_| Failure::Client)?;
    }
    let in_flight = &forwarding.pick.target.in_flight;
    in_flight.fetch_add(1, Ordering::Relaxed);
    let result = exchange(client, buf, out, scratch, forwarding).await;
    in_flight.fetch_sub(1, Ordering::Relaxed);
    result
}

/// What the response's head decided for the rest of the exchange.
struct Reply {
    framing: Framing,
    /// The target keeps the connection open after this response.
    upstream_keep: bool,
    client_keep: bool,
    upgraded: bool,
}

/// Sends the request (its head in `out`) to the target and relays the response; retries once
/// on a fresh connection when a pooled one turns out closed before anything was answered
/// (bodiless requests only).
async fn exchange<C: AsyncRead + AsyncWrite + Unpin>(
    client: &mut C,
    buf: &mut BytesMut,
    out: &mut BytesMut,
    scratch: &mut Scratch,
    forwarding: &Forwarding,
) -> Result<bool, Failure> {
    let addr = forwarding.pick.target.addr;
    let Scratch {
        upstream: upstream_buf,
        pending,
    } = scratch;
    let mut attempt = 0;
    let (mut upstream, reply) = loop {
        attempt += 1;
        let (mut upstream, reused) = connect(addr, attempt == 1, forwarding.idle).await?;
        pending.clear();
        pending.extend_from_slice(out);
        relay_body(client, buf, &mut upstream, forwarding.framing, pending)
            .await
            .map_err(|e| match e {
                RelayError::From => Failure::Client,
                RelayError::To => Failure::Status(502),
            })?;
        upstream_buf.clear();
        let read = read_response(&mut upstream, upstream_buf, |res| respond(res, forwarding, out)).await;
        match read {
            Ok(Some(reply)) => break (upstream, reply),
            Err(ResponseError::TimedOut) => return Err(Failure::Status(504)),
            Ok(None) | Err(ResponseError::Closed) if reused && attempt == 1 && forwarding.framing == Framing::None => {
                continue;
            }
            _ => return Err(Failure::Status(502)),
        }
    };
    if reply.upgraded {
        out.put_slice(upstream_buf);
        upstream_buf.clear();
        client.write_all(out).await.map_err(|_| Failure::Client)?;
        if !buf.is_empty() {
            upstream.write_all(buf).await.map_err(|_| Failure::Client)?;
            buf.clear();
        }
        let _ = tokio::io::copy_bidirectional(client, &mut upstream).await;
        return Ok(false);
    }
    relay_body(&mut upstream, upstream_buf, client, reply.framing, out)
        .await
        .map_err(|_| Failure::Client)?;
    if reply.upstream_keep && reply.framing != Framing::Close && upstream_buf.is_empty() {
        checkin(addr, upstream);
    }
    Ok(reply.client_keep)
}

/// Works out a target's response from its parsed head and writes the client's head into `out`.
fn respond(res: &httparse::Response<'_, '_>, forwarding: &Forwarding, out: &mut BytesMut) -> Reply {
    let status = res.code.unwrap_or(502);
    let upgraded = status == 101 && forwarding.upgrade;
    let (framing, upstream_keep) = response_framing(res, status, forwarding.head_only);
    let client_keep = !forwarding.close && framing != Framing::Close && !upgraded;
    let cookies = {
        let sets = || res.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("set-cookie"));
        select::stick(&forwarding.pick, &|prefix| sets().any(|h| h.value.starts_with(prefix)))
    };
    client_head(out, res, status, &cookies, client_keep, upgraded);
    Reply {
        framing,
        upstream_keep,
        client_keep,
        upgraded,
    }
}

#[derive(Debug)]
pub(super) enum ResponseError {
    Closed,
    TimedOut,
}

/// Reads until `buf` starts with a whole response head (skipping interim 1xx responses), hands the
/// parsed head to `decide` and consumes it. `None`: closed before any byte.
pub(super) async fn read_response<U, T>(
    io: &mut U,
    buf: &mut BytesMut,
    mut decide: impl FnMut(&httparse::Response<'_, '_>) -> T,
) -> Result<Option<T>, ResponseError>
where
    U: AsyncRead + Unpin,
{
    loop {
        if !buf.is_empty() {
            let decided = {
                let mut slots = header_slots();
                let mut res = httparse::Response::new(&mut []);
                match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut res, buf, &mut slots) {
                    // Interim responses (100 Continue, 103 Early Hints) are not passed on.
                    Ok(httparse::Status::Complete(n))
                        if res.code.is_some_and(|c| (100..200).contains(&c) && c != 101) =>
                    {
                        Some((n, None))
                    }
                    Ok(httparse::Status::Complete(n)) if n <= MAX_RESPONSE_HEAD_BYTES => Some((n, Some(decide(&res)))),
                    Ok(httparse::Status::Partial) if buf.len() < MAX_RESPONSE_HEAD_BYTES => None,
                    _ => return Err(ResponseError::Closed),
                }
            };
            match decided {
                Some((n, Some(decided))) => {
                    buf.advance(n);
                    return Ok(Some(decided));
                }
                Some((n, None)) => {
                    buf.advance(n);
                    continue;
                }
                None => {}
            }
        }
        make_room(buf, HEAD_READ_BYTES);
        match io.read_buf(buf).await {
            Ok(0) if buf.is_empty() => return Ok(None),
            Ok(0) => return Err(ResponseError::Closed),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Err(ResponseError::TimedOut),
            Err(_) => return Err(ResponseError::Closed),
        }
    }
}

/// The response body's framing, and whether the target keeps the connection open after it.
pub(super) fn response_framing(res: &httparse::Response<'_, '_>, status: u16, head_only: bool) -> (Framing, bool) {
    let mut keep = res.version == Some(1);
    let mut length = None;
    let mut chunked = false;
    for h in res.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            for token in tokens(h.value) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = ends_chunked(h.value);
        }
    }
    let framing = if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::None
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        keep = false;
        Framing::Close
    };
    (framing, keep)
}

/// The client's response head: the target's, minus hop-by-hop headers, plus stickiness cookies.
fn client_head(
    out: &mut BytesMut,
    res: &httparse::Response<'_, '_>,
    status: u16,
    cookies: &[http::HeaderValue],
    keep: bool,
    upgraded: bool,
) {
    out.clear();
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(status.to_string().as_bytes());
    out.put_u8(b' ');
    out.put_slice(res.reason.unwrap_or("").as_bytes());
    out.put_slice(b"\r\n");
    for h in res.headers.iter() {
        if is_hop_header(h.name) && !(upgraded && h.name.eq_ignore_ascii_case("upgrade")) {
            continue;
        }
        out.put_slice(h.name.as_bytes());
        out.put_slice(b": ");
        out.put_slice(h.value);
        out.put_slice(b"\r\n");
    }
    for c in cookies {
        out.put_slice(b"Set-Cookie: ");
        out.put_slice(c.as_bytes());
        out.put_slice(b"\r\n");
    }
    if upgraded {
        out.put_slice(b"Connection: Upgrade\r\n");
    } else if !keep {
        out.put_slice(b"Connection: close\r\n");
    }
    out.put_slice(b"\r\n");
}

enum RelayError {
    /// Reading from the sender failed.
    From,
    /// Writing to the receiver failed.
    To,
}

/// Writes `pending` (a head) and then one body from `from` (whose first bytes may already be in
/// `buf`) to `to`, as framed — the head and the body bytes at hand in one write. Bytes after the
/// body stay in `buf`. A body that ends before its framing says is an error (`From`).
async fn relay_body<R, W>(
    from: &mut R,
    buf: &mut BytesMut,
    to: &mut W,
    framing: Framing,
    pending: &mut BytesMut,
) -> Result<(), RelayError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut scanner = Chunked::default();
    let mut remaining = match framing {
        Framing::None => 0,
        Framing::Length(n) => n,
        Framing::Chunked | Framing::Close => u64::MAX,
    };
    loop {
        if framing != Framing::None && !buf.is_empty() {
            let take = match framing {
                Framing::Length(_) => buf.len().min(usize::try_from(remaining).unwrap_or(usize::MAX)),
                Framing::Chunked => scanner.scan(buf).map_err(|_| RelayError::From)?,
                _ => buf.len(),
            };
            pending.extend_from_slice(&buf[..take]);
            buf.advance(take);
            remaining = remaining.saturating_sub(take as u64);
        }
        if !pending.is_empty() {
            to.write_all(pending).await.map_err(|_| RelayError::To)?;
            pending.clear();
        }
        let done = match framing {
            Framing::None => true,
            Framing::Length(_) => remaining == 0,
            Framing::Chunked => scanner.done(),
            Framing::Close => false,
        };
        if done {
            return Ok(());
        }
        make_room(buf, BODY_READ_BYTES);
        let n = from.read_buf(buf).await.map_err(|_| RelayError::From)?;
        if n == 0 {
            return if framing == Framing::Close {
                Ok(())
            } else {
                Err(RelayError::From)
            };
        }
    }
}

/// Finds where a chunked body ends without decoding it.
#[derive(Default)]
pub(super) struct Chunked {
    state: ChunkState,
    size: u64,
    size_digits: u8,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    EndLf,
    Done,
}

impl Chunked {
    pub(super) fn done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes from the front of `buf`: the next run of body data (consumed from `buf`), or
    /// `None` when `buf` holds no data yet (framing bytes before it are consumed) or the body ended.
    pub(super) fn next_data(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, ()> {
        loop {
            if self.state == ChunkState::Data {
                if buf.is_empty() {
                    return Ok(None);
                }
                let take = buf.len().min(usize::try_from(self.size).unwrap_or(usize::MAX));
                self.size -= take as u64;
                if self.size == 0 {
                    self.state = ChunkState::DataCr;
                }
                return Ok(Some(buf.split_to(take).freeze()));
            }
            if self.done() || buf.is_empty() {
                return Ok(None);
            }
            // One framing byte at a time up to the next data (sizes and CRLFs are short).
            let n = self.scan(&buf[..1])?;
            buf.advance(n);
        }
    }

    /// Consumes bytes of `data` up to the body's end; returns how many belong to the body.
    fn scan(&mut self, data: &[u8]) -> Result<usize, ()> {
        use ChunkState::*;
        let mut i = 0;
        while i < data.len() && self.state != Done {
            let b = data[i];
            match self.state {
                Size => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        let digit = (b as char).to_digit(16).ok_or(())? as u64;
                        self.size_digits += 1;
                        if self.size_digits > 15 {
                            return Err(());
                        }
                        self.size = self.size * 16 + digit;
                    }
                    b';' | b' ' | b'\t' => self.state = Extension,
                    b'\r' => self.state = SizeLf,
                    _ => return Err(()),
                },
                Extension => {
                    if b == b'\r' {
                        self.state = SizeLf;
                    }
                }
                SizeLf => {
                    if b != b'\n' || self.size_digits == 0 {
                        return Err(());
                    }
                    self.state = if self.size == 0 { TrailerStart } else { Data };
                }
                Data => {
                    let take = (data.len() - i).min(usize::try_from(self.size).unwrap_or(usize::MAX));
                    self.size -= take as u64;
                    i += take;
                    if self.size == 0 {
                        self.state = DataCr;
                    }
                    continue;
                }
                DataCr => {
                    if b != b'\r' {
                        return Err(());
                    }
                    self.state = DataLf;
                }
                DataLf => {
                    if b != b'\n' {
                        return Err(());
                    }
                    self.size_digits = 0;
                    self.state = Size;
                }
                TrailerStart => self.state = if b == b'\r' { EndLf } else { Trailer },
                Trailer => {
                    if b == b'\r' {
                        self.state = TrailerLf;
                    }
                }
                TrailerLf => {
                    if b != b'\n' {
                        return Err(());
                    }
                    self.state = TrailerStart;
                }
                EndLf => {
                    if b != b'\n' {
                        return Err(());
                    }
                    self.state = Done;
                }
                Done => {}
            }
            i += 1;
        }
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::Chunked;

    #[test]
    fn chunked_end_is_found_across_reads() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        for split in 0..=body.len() - 4 {
            let mut c = Chunked::default();
            let a = c.scan(&body[..split]).unwrap();
            assert_eq!(a, split);
            let b = c.scan(&body[split..]).unwrap();
            assert!(c.done());
            assert_eq!(a + b, body.len() - 4, "split at {split}");
        }
        let mut c = Chunked::default();
        assert!(c.scan(b"zz\r\n").is_err());
    }
}

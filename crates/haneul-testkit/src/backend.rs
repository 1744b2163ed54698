//! A target for load balancer tests: an HTTP server (HTTP/1.1, and HTTP/2 with prior knowledge)
//! on 127.0.0.1 that says who it is and what it was sent.
//!
//! - any path: 200, body = the backend's name; headers `x-backend` (name), `x-seen-<header>` for
//!   x-forwarded-for/-proto/-port, x-amzn-trace-id and host, `x-seen-cookie` (each Cookie line,
//!   joined by ` | `), `x-seen-version` (HTTP version),
//!   `x-seen-names` (every header name received);
//! - `/health`: the status set with [`Backend::set_health`] (200 at first);
//! - `/status/<code>`: that status;
//! - `/slow/<ms>`: answers after that many milliseconds;
//! - `/app-cookie`: sets `APPSESSION=<name>`;
//! - `/big-header/<n>`: a response header `x-big` of n bytes;
//! - `/echo`: the request body back (chunked when the request's was);
//! - `/ws`: a WebSocket-style upgrade (101), then echoes every byte back;
//! - `/grpc.Echo/Say` (gRPC, HTTP/2 only): the request's message back, then the trailers
//!   `grpc-status: 0` and `x-backend: <name>`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    state: Arc<Shared>,
    task: JoinHandle<()>,
}

struct Shared {
    name: String,
    health: AtomicU16,
    /// Requests served (health checks excluded).
    hits: AtomicUsize,
}

impl Backend {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start(name: &str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a backend port");
        Backend::serve(name, listener)
    }

    /// Starts again on a given address (after [`Backend::stop`]).
    pub async fn start_on(name: &str, addr: SocketAddr) -> Backend {
        let mut last = None;
        for _ in 0..50 {
            match TcpListener::bind(addr).await {
                Ok(l) => return Backend::serve(name, l),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot bind {addr} again: {last:?}");
    }

    fn serve(name: &str, listener: TcpListener) -> Backend {
        let addr = listener.local_addr().expect("backend address");
        let state = Arc::new(Shared {
            name: name.to_string(),
            health: AtomicU16::new(200),
            hits: AtomicUsize::new(0),
        });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(shared.clone(), req));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Backend {
            name: name.to_string(),
            addr,
            state,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The status `/health` answers with from now on.
    pub fn set_health(&self, status: u16) {
        self.state.health.store(status, Ordering::Relaxed);
    }

    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::Relaxed)
    }

    /// Stops listening (connections already open end with the test's runtime).
    pub fn stop(self) -> SocketAddr {
        self.task.abort();
        self.addr
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn seen(req: &Request<Incoming>, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// A body of one data frame and then trailers (what a unary gRPC response looks like).
pub struct WithTrailers {
    data: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
}

impl hyper::body::Body for WithTrailers {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(data))));
        }
        std::task::Poll::Ready(self.trailers.take().map(|t| Ok(hyper::body::Frame::trailers(t))))
    }
}

/// The request's whole body (empty if it broke off).
async fn body_bytes(req: Request<Incoming>) -> Bytes {
    use http_body_util::BodyExt;
    req.into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default()
}

type Reply = Response<http_body_util::Either<Full<Bytes>, WithTrailers>>;

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    if req.uri().path() == "/grpc.Echo/Say" {
        let te = seen(&req, "te");
        let message = body_bytes(req).await;
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        if let Ok(v) = http::HeaderValue::from_str(&shared.name) {
            trailers.insert("x-backend", v);
        }
        let body = WithTrailers {
            data: Some(message),
            trailers: Some(trailers),
        };
        let mut r = Response::new(http_body_util::Either::Right(body));
        r.headers_mut()
            .insert("content-type", http::HeaderValue::from_static("application/grpc"));
        if let Ok(v) = http::HeaderValue::from_str(&te) {
            r.headers_mut().insert("x-seen-te", v);
        }
        return Ok(r);
    }
    if req.uri().path() == "/echo" {
        shared.hits.fetch_add(1, Ordering::Relaxed);
        let had_length = req.headers().contains_key("content-length");
        let body = body_bytes(req).await;
        if had_length {
            return Ok(Response::new(http_body_util::Either::Left(Full::new(body))));
        }
        // No length given: the body goes back without one either (chunked over HTTP/1.1).
        let body = WithTrailers {
            data: Some(body),
            trailers: None,
        };
        return Ok(Response::new(http_body_util::Either::Right(body)));
    }
    Ok(handle_plain(shared, req).await?.map(http_body_util::Either::Left))
}

async fn handle_plain(shared: Arc<Shared>, mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    if path == "/health" {
        let status = StatusCode::from_u16(shared.health.load(Ordering::Relaxed)).unwrap_or(StatusCode::OK);
        let mut r = Response::new(Full::new(Bytes::from_static(b"health")));
        *r.status_mut() = status;
        return Ok(r);
    }
    shared.hits.fetch_add(1, Ordering::Relaxed);
    if path == "/ws" {
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                let mut io = TokioIo::new(upgraded);
                let mut buf = [0u8; 4096];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        let r = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .body(Full::new(Bytes::new()))
            .unwrap_or_default();
        return Ok(r);
    }
    let mut status = StatusCode::OK;
    if let Some(code) = path.strip_prefix("/status/") {
        status = code
            .parse()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::OK);
    }
    if let Some(ms) = path.strip_prefix("/slow/").and_then(|m| m.parse::<u64>().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let mut builder = Response::builder()
        .status(status)
        .header("x-backend", &shared.name)
        .header("x-seen-x-forwarded-for", seen(&req, "x-forwarded-for"))
        .header("x-seen-x-forwarded-proto", seen(&req, "x-forwarded-proto"))
        .header("x-seen-x-forwarded-port", seen(&req, "x-forwarded-port"))
        .header("x-seen-x-amzn-trace-id", seen(&req, "x-amzn-trace-id"))
        .header("x-seen-host", seen(&req, "host"))
        .header(
            "x-seen-cookie",
            req.headers()
                .get_all("cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(" | "),
        )
        .header("x-seen-version", format!("{:?}", req.version()))
        .header(
            "x-seen-names",
            req.headers().keys().map(|k| k.as_str()).collect::<Vec<_>>().join(","),
        );
    if path == "/app-cookie" {
        builder = builder.header("set-cookie", format!("APPSESSION={}; Path=/", shared.name));
    }
    if let Some(n) = path.strip_prefix("/big-header/").and_then(|n| n.parse::<usize>().ok()) {
        builder = builder.header("x-big", "b".repeat(n));
    }
    Ok(builder
        .body(Full::new(Bytes::from(shared.name.clone())))
        .unwrap_or_default())
}

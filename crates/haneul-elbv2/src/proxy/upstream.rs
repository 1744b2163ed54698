//! Connections to targets: pooled keep-alive clients for HTTP/1.1 and HTTP/2 (cleartext or
//! TLS; ALB does not verify target certificates), with ALB's 10 s connect timeout.

use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// ALB gives up connecting to a target after this long (504).
pub const CONNECT_TIMEOUT_S: u64 = 10;
/// Idle keep-alive connections to targets are closed after this long.
pub const POOL_IDLE_TIMEOUT_S: u64 = 60;
/// Idle connections kept per target.
pub const POOL_MAX_IDLE_PER_TARGET: usize = 512;

type Tls = hyper_rustls::HttpsConnector<HttpConnector>;

pub struct Upstream {
    h1: Client<HttpConnector, Incoming>,
    h2: Client<HttpConnector, Incoming>,
    tls_h1: Option<Client<Tls, Incoming>>,
    tls_h2: Option<Client<Tls, Incoming>>,
}

fn connector() -> HttpConnector {
    let mut c = HttpConnector::new();
    c.set_connect_timeout(Some(Duration::from_secs(CONNECT_TIMEOUT_S)));
    c.set_nodelay(true);
    c.enforce_http(false);
    c
}

fn builder(http2: bool) -> hyper_util::client::legacy::Builder {
    let mut b = Client::builder(TokioExecutor::new());
    b.pool_idle_timeout(Duration::from_secs(POOL_IDLE_TIMEOUT_S))
        .pool_max_idle_per_host(POOL_MAX_IDLE_PER_TARGET)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .set_host(false)
        .http2_only(http2);
    b
}

fn tls_connector(http2: bool) -> Option<Tls> {
    let config = haneul_route53::health::tls::client_config().ok()?;
    // The builder sets ALPN itself (h2 or http/1.1) from what is enabled.
    let mut config = (*config).clone();
    config.alpn_protocols.clear();
    let b = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only();
    let b = if http2 {
        b.enable_http2().wrap_connector(connector())
    } else {
        b.enable_http1().wrap_connector(connector())
    };
    Some(b)
}

impl Upstream {
    pub fn new() -> Upstream {
        Upstream {
            h1: builder(false).build(connector()),
            h2: builder(true).build(connector()),
            tls_h1: tls_connector(false).map(|c| builder(false).build(c)),
            tls_h2: tls_connector(true).map(|c| builder(true).build(c)),
        }
    }

    /// Sends `req` (its URI names the target) over a pooled connection.
    pub async fn send(
        &self,
        req: http::Request<Incoming>,
        https: bool,
        http2: bool,
    ) -> Result<http::Response<Incoming>, hyper_util::client::legacy::Error> {
        match (https, http2) {
            (false, false) => self.h1.request(req).await,
            (false, true) => self.h2.request(req).await,
            (true, false) => match &self.tls_h1 {
                Some(c) => c.request(req).await,
                None => self.h1.request(req).await,
            },
            (true, true) => match &self.tls_h2 {
                Some(c) => c.request(req).await,
                None => self.h2.request(req).await,
            },
        }
    }
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream::new()
    }
}

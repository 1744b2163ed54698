//! One target's health checks: every interval a fresh connection, `GET path` with ALB's
//! User-Agent, the status held against the matcher, the connection closed after.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{CheckSettings, Reason, State, TargetState};

/// Longest health check response head we read (status line and headers).
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(Reason),
}

/// Whether `code` is one of the matcher's codes ("200", "200,202", "200-299").
pub fn code_matches(matcher: &str, code: u16) -> bool {
    matcher
        .split(',')
        .map(str::trim)
        .any(|part| match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (lo.trim().parse::<u16>(), hi.trim().parse::<u16>());
                matches!((lo, hi), (Ok(lo), Ok(hi)) if (lo..=hi).contains(&code))
            }
            None => part.parse::<u16>() == Ok(code),
        })
}

/// One health check of `addr`.
pub async fn check(addr: SocketAddr, settings: &CheckSettings) -> Outcome {
    let attempt = async {
        let stream = TcpStream::connect(addr).await.map_err(|_| Reason::FailedHealthChecks)?;
        if settings.https {
            let connector = haneul_route53::health::tls::connector().map_err(|_| Reason::FailedHealthChecks)?;
            let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
            let tls = connector
                .connect(name, stream)
                .await
                .map_err(|_| Reason::FailedHealthChecks)?;
            request(TokioIo::new(tls), addr, settings).await
        } else {
            request(TokioIo::new(stream), addr, settings).await
        }
    };
    match tokio::time::timeout(settings.timeout, attempt).await {
        Err(_) => Outcome::Fail(Reason::Timeout),
        Ok(Err(reason)) => Outcome::Fail(reason),
        Ok(Ok(code)) if code_matches(&settings.matcher, code) => Outcome::Pass,
        Ok(Ok(code)) => Outcome::Fail(Reason::ResponseCodeMismatch(code)),
    }
}

async fn request<T>(io: TokioIo<T>, addr: SocketAddr, settings: &CheckSettings) -> Result<u16, Reason>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD_BYTES.max(8192))
        .handshake::<_, Empty<Bytes>>(io)
        .await
        .map_err(|_| Reason::FailedHealthChecks)?;
    let driver = tokio::spawn(connection);
    let req = http::Request::get(settings.path.as_str())
        .header(http::header::HOST, addr.to_string())
        .header(http::header::USER_AGENT, "ELB-HealthChecker/2.0")
        .header(http::header::CONNECTION, "close")
        .body(Empty::new())
        .map_err(|_| Reason::FailedHealthChecks)?;
    let result = sender.send_request(req).await;
    driver.abort();
    result
        .map(|r| r.status().as_u16())
        .map_err(|_| Reason::FailedHealthChecks)
}

/// Checks `target` every interval until aborted, moving its state by ALB's thresholds.
pub async fn run(target: Arc<TargetState>, settings: CheckSettings) {
    let addr = match settings.port {
        Some(port) => SocketAddr::new(target.addr.ip(), port),
        None => target.addr,
    };
    let (mut passes, mut failures) = (0u32, 0u32);
    let mut ticker = tokio::time::interval(settings.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let outcome = check(addr, &settings).await;
        let state = target.state();
        match outcome {
            Outcome::Pass => {
                passes += 1;
                failures = 0;
                // A new target needs one pass; an unhealthy one HealthyThresholdCount in a row.
                let needed = if state == State::Initial {
                    1
                } else {
                    settings.healthy_threshold
                };
                if state != State::Healthy && passes >= needed {
                    target.set(State::Healthy, Reason::None);
                }
            }
            Outcome::Fail(reason) => {
                failures += 1;
                passes = 0;
                if failures >= settings.unhealthy_threshold {
                    target.set(State::Unhealthy, reason);
                } else if state == State::Initial {
                    target.set(State::Initial, Reason::InitialHealthChecking);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::code_matches;

    #[test]
    fn matcher_codes() {
        assert!(code_matches("200", 200));
        assert!(!code_matches("200", 204));
        assert!(code_matches("200,204", 204));
        assert!(code_matches("200-299", 250));
        assert!(!code_matches("200-299", 300));
    }
}

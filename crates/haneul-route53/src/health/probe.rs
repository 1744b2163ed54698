//! One probe of a health check, with Route 53's timings: 4 s to connect, 2 s more for the
//! first response bytes, string matching in the first 5,120 bytes of the body.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::health::tls;

pub const CONNECT_TIMEOUT_S: u64 = 4;
pub const RESPONSE_TIMEOUT_S: u64 = 2;
/// Route 53 searches for the string in this much of the response body.
pub const STRING_MATCH_BYTES: usize = 5_120;
/// Response head bytes read at most (status line + headers).
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// What a probe targets, resolved from the health check's config.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub kind: ProbeKind,
    /// Host header (the FQDN when set, else the IP).
    pub host: String,
    pub path: String,
    pub search: Option<String>,
    /// HTTPS: send the host name in the TLS handshake (EnableSNI).
    pub sni: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Tcp,
    Http,
    Https,
}

/// A probe's outcome in Route 53's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    pub report: String,
}

fn failure(report: impl Into<String>) -> Outcome {
    Outcome {
        ok: false,
        report: format!("Failure: {}", report.into()),
    }
}

pub async fn run(target: &Target) -> Outcome {
    let connect = tokio::time::timeout(Duration::from_secs(CONNECT_TIMEOUT_S), TcpStream::connect(target.addr)).await;
    let stream = match connect {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return failure(format!("Connection refused or failed: {e}")),
        Err(_) => {
            return failure(format!(
                "Connection timed out. The endpoint did not respond within {CONNECT_TIMEOUT_S} seconds."
            ))
        }
    };
    match target.kind {
        ProbeKind::Tcp => Outcome {
            ok: true,
            report: "Success: TCP connection established".into(),
        },
        ProbeKind::Http => http(stream, target).await,
        ProbeKind::Https => {
            let handshake =
                tokio::time::timeout(Duration::from_secs(CONNECT_TIMEOUT_S), tls::connect(stream, target)).await;
            match handshake {
                Ok(Ok(tls_stream)) => http(tls_stream, target).await,
                Ok(Err(e)) => failure(format!("TLS handshake failed: {e}")),
                Err(_) => failure(format!("TLS handshake timed out after {CONNECT_TIMEOUT_S} seconds.")),
            }
        }
    }
}

async fn http<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, target: &Target) -> Outcome {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: Amazon-Route53-Health-Check-Service (haneul)\r\nConnection: close\r\n\r\n",
        target.path, target.host
    );
    if let Err(e) = stream.write_all(request.as_bytes()).await {
        return failure(format!("Could not send the request: {e}"));
    }
    let limit = MAX_HEAD_BYTES + STRING_MATCH_BYTES;
    let mut buf = Vec::with_capacity(4096);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(RESPONSE_TIMEOUT_S);
    loop {
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await;
        match read {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => return failure(format!("Read failed: {e}")),
            Err(_) if buf.is_empty() => {
                return failure(format!(
                    "Timeout: the endpoint did not respond within {RESPONSE_TIMEOUT_S} seconds."
                ))
            }
            Err(_) => break,
        }
        if buf.len() >= limit || head_and_enough_body(&buf, target.search.is_some()) {
            break;
        }
    }
    judge(&buf, target.search.as_deref())
}

fn split_head(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((&buf[..at], &buf[at + 4..]))
}

fn head_and_enough_body(buf: &[u8], needs_body: bool) -> bool {
    match split_head(buf) {
        Some((_, body)) => !needs_body || body.len() >= STRING_MATCH_BYTES,
        None => false,
    }
}

/// 2xx and 3xx are healthy; with a search string, it must appear in the first 5,120 body bytes.
fn judge(buf: &[u8], search: Option<&str>) -> Outcome {
    let Some((head, body)) = split_head(buf).or_else(|| (!buf.is_empty()).then_some((buf, &[][..]))) else {
        return failure("The endpoint closed the connection without a response.");
    };
    let status_line = String::from_utf8_lossy(head.split(|b| *b == b'\n').next().unwrap_or_default())
        .trim()
        .to_string();
    let code: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    if !(200..400).contains(&code) {
        return failure(format!("Resolved IP: HTTP Status Code {code}. Response: {status_line}"));
    }
    if let Some(needle) = search {
        let window = &body[..body.len().min(STRING_MATCH_BYTES)];
        let found = !needle.is_empty() && window.windows(needle.len()).any(|w| w == needle.as_bytes());
        if !found {
            return failure(format!(
                "HTTP Status Code {code}, but the response body did not contain the string '{needle}'"
            ));
        }
    }
    Outcome {
        ok: true,
        report: format!("Success: HTTP Status Code {code}, OK"),
    }
}

#[cfg(test)]
mod tests {
    use super::judge;

    #[test]
    fn judges_status_and_string_match() {
        assert!(judge(b"HTTP/1.1 200 OK\r\n\r\nhello", None).ok);
        assert!(judge(b"HTTP/1.1 302 Found\r\n\r\n", None).ok);
        assert!(!judge(b"HTTP/1.1 500 Oops\r\n\r\n", None).ok);
        assert!(judge(b"HTTP/1.1 200 OK\r\n\r\nall is well", Some("well")).ok);
        assert!(!judge(b"HTTP/1.1 200 OK\r\n\r\nall is well", Some("sick")).ok);
    }
}

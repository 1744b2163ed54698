//! The load balancer's own responses: ALB's error pages (same status, same body shape, `Server:
//! awselb/2.0`), fixed responses and redirects.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::Incoming;

/// What the proxy answers with: a target's streamed body or one of its own.
pub type ProxyBody = Either<TargetBody, Full<Bytes>>;

/// A target's response body: from hyper's client, or read off a pooled HTTP/1.1 connection.
pub enum TargetBody {
    Hyper(Incoming),
    Raw(crate::proxy::h1_client::RawBody),
}

impl hyper::body::Body for TargetBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            TargetBody::Hyper(b) => std::pin::Pin::new(b).poll_frame(cx).map_err(Into::into),
            TargetBody::Raw(b) => std::pin::Pin::new(b).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            TargetBody::Hyper(b) => b.is_end_stream(),
            TargetBody::Raw(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            TargetBody::Hyper(b) => b.size_hint(),
            TargetBody::Raw(b) => b.size_hint(),
        }
    }
}

const SERVER: &str = "awselb/2.0";

/// The reason phrase ALB puts in its status lines and pages.
pub fn reason(status: u16) -> &'static str {
    match status {
        460 | 463 => "",
        503 => "Service Temporarily Unavailable",
        504 => "Gateway Time-out",
        561 => "Unauthorized",
        s => StatusCode::from_u16(s)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or(""),
    }
}

/// ALB's HTML error page for `status` (400, 403, 404, 405, 408, 413, 414, 431, 460, 463, 500, 502, 503, 504, …).
pub fn error_page(status: u16) -> Response<ProxyBody> {
    own(status, Some("text/html"), error_body(status))
}

/// A response the load balancer makes itself.
pub fn own(status: u16, content_type: Option<&str>, body: Bytes) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Full::new(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let headers = response.headers_mut();
    headers.insert(header::SERVER, HeaderValue::from_static(SERVER));
    if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    response
}

/// A redirect to `location`.
pub fn redirect(status: u16, location: &str) -> Response<ProxyBody> {
    let mut response = own(status, Some("text/html"), error_body(status));
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// The HTML body of ALB's page for `status`.
pub fn error_body(status: u16) -> Bytes {
    let title = format!("{status} {}", reason(status)).trim_end().to_string();
    Bytes::from(format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    ))
}

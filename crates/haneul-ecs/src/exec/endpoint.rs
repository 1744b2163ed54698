//! The stream URL's HTTP side: a websocket upgrade on `/v1/data-channel/<session id>` becomes
//! a data channel ([`super::channel::serve`]) on its own task.

use std::sync::Arc;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use super::{channel, STREAM_PATH_PREFIX};
use crate::runtime::Runtime;
use crate::Ecs;

/// At most this many data channels are open at once; more are refused with 503.
pub const MAX_OPEN_CHANNELS: usize = 64;

/// Serves stream URLs; one per process.
pub struct Endpoint {
    ecs: Arc<Ecs>,
    runtime: Arc<dyn Runtime>,
    open_channels: Arc<Semaphore>,
}

fn status(code: u16, text: &'static str) -> http::Response<Empty<Bytes>> {
    let mut r = http::Response::new(Empty::new());
    *r.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::BAD_REQUEST);
    if let Ok(v) = http::HeaderValue::from_str(text) {
        r.headers_mut().insert("x-haneul-reason", v);
    }
    r
}

impl Endpoint {
    pub fn new(ecs: Arc<Ecs>, runtime: Arc<dyn Runtime>) -> Endpoint {
        Endpoint {
            ecs,
            runtime,
            open_channels: Arc::new(Semaphore::new(MAX_OPEN_CHANNELS)),
        }
    }

    pub fn is_stream_path(path: &str) -> bool {
        path.starts_with(STREAM_PATH_PREFIX)
    }

    /// Answers the upgrade (101) and serves the channel once the connection is handed over.
    pub fn handle<B: Send + 'static>(&self, mut req: http::Request<B>) -> http::Response<Empty<Bytes>> {
        let session_id = req.uri().path()[STREAM_PATH_PREFIX.len()..].to_string();
        if session_id.is_empty() || session_id.contains('/') {
            return status(404, "no such data channel");
        }
        let header = |name: http::header::HeaderName| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_ascii_lowercase)
                .unwrap_or_default()
        };
        let is_upgrade = req.method() == http::Method::GET
            && header(http::header::UPGRADE) == "websocket"
            && header(http::header::CONNECTION)
                .split(',')
                .any(|t| t.trim() == "upgrade");
        let Some(key) = req.headers().get(http::header::SEC_WEBSOCKET_KEY).cloned() else {
            return status(400, "a data channel is a websocket");
        };
        if !is_upgrade {
            return status(400, "a data channel is a websocket");
        }
        let Ok(permit) = self.open_channels.clone().try_acquire_owned() else {
            return status(503, "too many open data channels");
        };
        let (ecs, runtime) = (self.ecs.clone(), self.runtime.clone());
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let upgraded = match upgrade.await {
                Ok(u) => u,
                Err(e) => {
                    tracing::debug!(error = %e, "data channel upgrade failed");
                    return;
                }
            };
            let config = WebSocketConfig::default()
                .max_message_size(Some(channel::MAX_CLIENT_MESSAGE_BYTES))
                .max_frame_size(Some(channel::MAX_CLIENT_MESSAGE_BYTES));
            let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
            channel::serve(ws, &session_id, &ecs.exec_sessions, runtime.as_ref()).await;
            drop(permit);
        });
        let mut r = http::Response::new(Empty::new());
        *r.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
        let headers = r.headers_mut();
        headers.insert(http::header::UPGRADE, http::HeaderValue::from_static("websocket"));
        headers.insert(http::header::CONNECTION, http::HeaderValue::from_static("Upgrade"));
        if let Ok(accept) = http::HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
            headers.insert(http::header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        r
    }
}

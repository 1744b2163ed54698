//! One Session Manager data channel, the agent's side: the client opens the websocket and
//! sends its token; haneul starts the command in the container, asks for an interactive
//! session in the handshake, then carries keystrokes and terminal sizes in and the
//! terminal's output out, acknowledging every stream message, until the command exits
//! (a `channel_closed` message ends the client) or the client goes.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::message::{self, ClientMessage};
use super::{PendingSession, Sessions};
use crate::runtime::{ExecProcess, Runtime};

/// The client must send its token this soon after connecting.
const OPEN_TIMEOUT_S: u64 = 30;
/// …and answer the handshake this soon.
const HANDSHAKE_TIMEOUT_S: u64 = 30;
/// A session with no input and no output for this long ends (Session Manager's default
/// idle timeout).
const IDLE_TIMEOUT_S: u64 = 20 * 60;
/// Writing one message to the client may take this long.
const SEND_TIMEOUT_S: u64 = 30;
/// The version haneul reports as the agent's in the handshake.
const AGENT_VERSION: &str = "3.3.0.0";
/// Largest websocket message accepted from a client (its messages are keystrokes).
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
enum ChannelError {
    #[error("the client went away")]
    Gone,
    #[error("{0}")]
    Protocol(String),
}

/// Serves the data channel of session `session_id` on `ws` until it ends.
pub async fn serve<S>(ws: WebSocketStream<S>, session_id: &str, sessions: &Sessions, runtime: &dyn Runtime)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut channel = Channel {
        ws,
        session_id: session_id.to_string(),
        next_sequence: 0,
        expected_sequence: 0,
    };
    let session = match channel.open(sessions).await {
        Ok(s) => s,
        Err(reason) => {
            tracing::debug!(session_id, reason, "data channel refused");
            channel.close(CloseCode::Policy, &reason).await;
            return;
        }
    };
    let process = match runtime.exec(&session.runtime_id, &session.command).await {
        Ok(p) => p,
        Err(e) => {
            let text = format!("Cannot perform start session: {e}\r\n");
            let _ = channel.send_closed(&text).await;
            channel.close(CloseCode::Normal, "").await;
            return;
        }
    };
    tracing::info!(
        session_id,
        task = session.task_arn,
        container = session.container_name,
        "execute command session started"
    );
    let exec_id = process.exec_id.clone();
    let outcome = channel.run(process, runtime).await;
    let exit_code = runtime.exec_exit_code(&exec_id).await.ok().flatten();
    match outcome {
        Ok(()) => {
            let _ = channel.send_closed("").await;
            channel.close(CloseCode::Normal, "").await;
        }
        Err(ChannelError::Gone) => {}
        Err(ChannelError::Protocol(reason)) => {
            let _ = channel.send_closed(&format!("{reason}\r\n")).await;
            channel.close(CloseCode::Protocol, &reason).await;
        }
    }
    tracing::info!(session_id, exit_code, "execute command session ended");
}

struct Channel<S> {
    ws: WebSocketStream<S>,
    session_id: String,
    /// The next output_stream_data message's sequence number.
    next_sequence: i64,
    /// The input_stream_data sequence number to process next.
    expected_sequence: i64,
}

/// What the client sent, once read.
enum Incoming {
    /// A stream data message to act on, in order (already acknowledged).
    Data(ClientMessage),
    /// Nothing to act on (an acknowledgement, a duplicate, a ping).
    Nothing,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Channel<S> {
    /// Reads the client's OpenDataChannel text message and claims the session with its token.
    async fn open(&mut self, sessions: &Sessions) -> Result<PendingSession, String> {
        let first = tokio::time::timeout(Duration::from_secs(OPEN_TIMEOUT_S), self.ws.next())
            .await
            .map_err(|_| "no token within the open timeout".to_string())?;
        let text = match first {
            Some(Ok(Message::Text(t))) => t,
            _ => return Err("the first message must carry the session token".into()),
        };
        let open: Value =
            serde_json::from_str(text.as_str()).map_err(|_| "the open message is not JSON".to_string())?;
        let token = open.get("TokenValue").and_then(Value::as_str).unwrap_or("");
        sessions
            .claim(&self.session_id, token)
            .ok_or_else(|| "the session does not exist, has expired or was already opened".to_string())
    }

    async fn run(&mut self, mut process: ExecProcess, runtime: &dyn Runtime) -> Result<(), ChannelError> {
        self.handshake().await?;
        let idle = Duration::from_secs(IDLE_TIMEOUT_S);
        loop {
            tokio::select! {
                chunk = process.output.next() => match chunk {
                    Some(Ok(bytes)) => self.send_stream(message::PAYLOAD_OUTPUT, bytes.to_vec()).await?,
                    Some(Err(e)) => return Err(ChannelError::Protocol(format!("the command's output broke: {e}"))),
                    None => return Ok(()),
                },
                incoming = tokio::time::timeout(idle, self.receive()) => match incoming {
                    Err(_) => return Err(ChannelError::Protocol("Session terminated due to inactivity".into())),
                    Ok(incoming) => {
                        if let Incoming::Data(m) = incoming? {
                            if !self.act_on(m, &mut process, runtime).await? {
                                return Ok(());
                            }
                        }
                    }
                },
            }
        }
    }

    /// Asks the client for an interactive session and waits for its answer.
    async fn handshake(&mut self) -> Result<(), ChannelError> {
        let started = std::time::Instant::now();
        let request = json!({
            "AgentVersion": AGENT_VERSION,
            "RequestedClientActions": [{
                "ActionType": "SessionType",
                "ActionParameters": { "SessionType": "InteractiveCommands", "Properties": {} },
            }],
        });
        self.send_stream(message::PAYLOAD_HANDSHAKE_REQUEST, request.to_string().into_bytes())
            .await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(HANDSHAKE_TIMEOUT_S);
        loop {
            let incoming = tokio::time::timeout_at(deadline, self.receive())
                .await
                .map_err(|_| ChannelError::Protocol("the client did not answer the handshake".into()))??;
            let Incoming::Data(m) = incoming else { continue };
            if m.payload_type != message::PAYLOAD_HANDSHAKE_RESPONSE {
                continue;
            }
            let response: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
            let errors = response
                .get("Errors")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if !errors.is_empty() {
                return Err(ChannelError::Protocol(format!(
                    "the client refused the session: {errors:?}"
                )));
            }
            break;
        }
        let complete = json!({
            "HandshakeTimeToComplete": started.elapsed().as_nanos() as u64,
            "CustomerMessage": "",
        });
        self.send_stream(message::PAYLOAD_HANDSHAKE_COMPLETE, complete.to_string().into_bytes())
            .await
    }

    /// Acts on one stream data message; false when the client ended the session.
    async fn act_on(
        &mut self,
        m: ClientMessage,
        process: &mut ExecProcess,
        runtime: &dyn Runtime,
    ) -> Result<bool, ChannelError> {
        match m.payload_type {
            message::PAYLOAD_OUTPUT => {
                process
                    .input
                    .write_all(&m.payload)
                    .await
                    .map_err(|e| ChannelError::Protocol(format!("the command's input closed: {e}")))?;
                let _ = process.input.flush().await;
            }
            message::PAYLOAD_SIZE => {
                let size: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
                let dimension = |k: &str| size.get(k).and_then(Value::as_u64).and_then(|v| u16::try_from(v).ok());
                if let (Some(cols), Some(rows)) = (dimension("cols"), dimension("rows")) {
                    if cols > 0 && rows > 0 {
                        let _ = runtime.resize_exec(&process.exec_id, cols, rows).await;
                    }
                }
            }
            message::PAYLOAD_FLAG => {
                let flag = m.payload.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                if flag == Some(message::FLAG_TERMINATE_SESSION) {
                    return Ok(false);
                }
            }
            _ => {}
        }
        Ok(true)
    }

    /// Reads until one client message is in; acknowledges stream data and keeps it in
    /// sequence (a resent message is acknowledged again and dropped; one that skips ahead is
    /// dropped unacknowledged, so the client resends it in order).
    async fn receive(&mut self) -> Result<Incoming, ChannelError> {
        let frame = match self.ws.next().await {
            Some(Ok(frame)) => frame,
            Some(Err(_)) | None => return Err(ChannelError::Gone),
        };
        let bytes = match frame {
            Message::Binary(b) => b,
            Message::Close(_) => return Err(ChannelError::Gone),
            _ => return Ok(Incoming::Nothing),
        };
        let m =
            ClientMessage::decode(&bytes).map_err(|e| ChannelError::Protocol(format!("bad client message: {e}")))?;
        if m.message_type != message::INPUT_STREAM_DATA {
            return Ok(Incoming::Nothing);
        }
        if m.sequence_number > self.expected_sequence {
            return Ok(Incoming::Nothing);
        }
        self.send(ClientMessage::acknowledgement(&m)).await?;
        if m.sequence_number < self.expected_sequence {
            return Ok(Incoming::Nothing);
        }
        self.expected_sequence += 1;
        Ok(Incoming::Data(m))
    }

    async fn send_stream(&mut self, payload_type: u32, payload: Vec<u8>) -> Result<(), ChannelError> {
        let m = ClientMessage::new(message::OUTPUT_STREAM_DATA, self.next_sequence, payload_type, payload);
        self.next_sequence += 1;
        self.send(m).await
    }

    /// Tells the client the session is over (`output` is shown to the user).
    async fn send_closed(&mut self, output: &str) -> Result<(), ChannelError> {
        let mut m = ClientMessage::new(message::CHANNEL_CLOSED, 0, 0, Vec::new());
        m.payload = json!({
            "MessageId": m.message_id.to_string(),
            "CreatedDate": haneul_wire::value::iso8601(&json!(m.created_date_ms as f64 / 1000.0)),
            "DestinationId": self.session_id,
            "SessionId": self.session_id,
            "MessageType": message::CHANNEL_CLOSED,
            "SchemaVersion": 1,
            "Output": output,
        })
        .to_string()
        .into_bytes();
        self.send(m).await
    }

    async fn send(&mut self, m: ClientMessage) -> Result<(), ChannelError> {
        let sent = tokio::time::timeout(
            Duration::from_secs(SEND_TIMEOUT_S),
            self.ws.send(Message::Binary(m.encode().into())),
        )
        .await;
        match sent {
            Ok(Ok(())) => Ok(()),
            _ => Err(ChannelError::Gone),
        }
    }

    async fn close(&mut self, code: CloseCode, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: reason.chars().take(120).collect::<String>().into(),
        };
        let _ = tokio::time::timeout(Duration::from_secs(SEND_TIMEOUT_S), self.ws.close(Some(frame))).await;
    }
}

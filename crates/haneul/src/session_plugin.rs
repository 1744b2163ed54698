//! `haneul session-manager-plugin`: the Session Manager client `aws ecs execute-command`
//! runs, for machines without AWS's `session-manager-plugin` (link `haneul` under that name
//! on the PATH). It takes the same arguments (session JSON, region, `StartSession`, profile,
//! target JSON, endpoint), opens the session's data channel, answers the handshake, puts the
//! terminal in raw mode when it is one, and carries keystrokes, terminal sizes and output
//! until the session closes. Only plain `ws://` stream URLs (haneul's own) are spoken.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use haneul_ecs::exec::message::{self, ClientMessage};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;

/// What the real plugin prints when the AWS CLI checks that it is installed.
const INSTALLED: &str = "The Session Manager plugin was installed successfully. Use the AWS CLI to start a session.";
const CONNECT_TIMEOUT_S: u64 = 30;
/// Keystrokes are read (and sent) in chunks of at most this many bytes.
const INPUT_CHUNK_BYTES: usize = 1024;
const CLIENT_VERSION: &str = "1.2.707.0";

/// Runs the plugin with its arguments (without the program name); the process exit code.
pub fn run(args: &[String]) -> anyhow::Result<i32> {
    if args.is_empty() {
        println!("\n{INSTALLED}\n");
        return Ok(0);
    }
    if args.len() < 3 || args[2] != "StartSession" {
        bail!("usage: session-manager-plugin <session JSON> <region> StartSession [profile] [target JSON] [endpoint]");
    }
    let session: Value = serde_json::from_str(&args[0]).context("the session argument is not JSON")?;
    // Go's JSON decoding, which the real plugin uses, matches names in any case.
    let field = |name: &str| {
        session
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string)
    };
    let session_id = field("sessionId").context("the session has no SessionId")?;
    let stream_url = field("streamUrl").context("the session has no StreamUrl")?;
    let token = field("tokenValue").context("the session has no TokenValue")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the plugin's runtime")?;
    println!("\nStarting session with SessionId: {session_id}\n");
    let raw = RawTerminal::enter();
    let outcome = runtime.block_on(session_loop(&stream_url, &token));
    // A read of a terminal's stdin may still be waiting for a key: do not wait for it.
    runtime.shutdown_background();
    drop(raw);
    match outcome {
        Ok(output) => {
            if !output.is_empty() {
                print!("{output}");
            }
            println!("\n\nExiting session with sessionId: {session_id}.\n");
            Ok(0)
        }
        Err(e) => Err(e),
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn send(ws: &mut Socket, m: &ClientMessage) -> anyhow::Result<()> {
    ws.send(Message::Binary(m.encode().into()))
        .await
        .context("the data channel closed")
}

/// The session until the agent closes it; the closing message's output.
async fn session_loop(stream_url: &str, token: &str) -> anyhow::Result<String> {
    let authority = stream_url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .with_context(|| format!("haneul's plugin opens ws:// stream URLs only, not {stream_url}"))?;
    let tcp = tokio::time::timeout(
        Duration::from_secs(CONNECT_TIMEOUT_S),
        tokio::net::TcpStream::connect(authority),
    )
    .await
    .context("the stream URL did not answer in time")?
    .with_context(|| format!("cannot connect to {authority}"))?;
    let (mut ws, _) = tokio_tungstenite::client_async(stream_url, tcp)
        .await
        .context("the stream URL refused the websocket")?;
    let open = json!({
        "MessageSchemaVersion": "1.0",
        "RequestId": uuid::Uuid::new_v4().to_string(),
        "TokenValue": token,
        "ClientId": uuid::Uuid::new_v4().to_string(),
        "ClientVersion": CLIENT_VERSION,
    });
    ws.send(Message::Text(open.to_string().into()))
        .await
        .context("cannot send the session token")?;

    let mut stdin = tokio::io::stdin();
    let mut input = vec![0u8; INPUT_CHUNK_BYTES];
    let mut stdin_open = true;
    let mut ready = false;
    let mut next_sequence: i64 = 0;
    let mut expected_sequence: i64 = 0;
    let mut resized = window_changes();
    loop {
        tokio::select! {
            frame = ws.next() => {
                let bytes = match frame {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Close(frame))) => {
                        let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                        bail!("the data channel closed: {reason}");
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => bail!("the data channel broke: {e}"),
                    None => bail!("the data channel closed"),
                };
                let m = ClientMessage::decode(&bytes).context("a malformed data channel message")?;
                match m.message_type.as_str() {
                    message::CHANNEL_CLOSED => {
                        let closed: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
                        return Ok(closed.get("Output").and_then(Value::as_str).unwrap_or("").to_string());
                    }
                    message::OUTPUT_STREAM_DATA => {}
                    _ => continue,
                }
                send(&mut ws, &ClientMessage::acknowledgement(&m)).await?;
                if m.sequence_number != expected_sequence {
                    continue;
                }
                expected_sequence += 1;
                match m.payload_type {
                    message::PAYLOAD_HANDSHAKE_REQUEST => {
                        let response = handshake_response(&m.payload);
                        let reply = input_message(&mut next_sequence, message::PAYLOAD_HANDSHAKE_RESPONSE, response);
                        send(&mut ws, &reply).await?;
                    }
                    message::PAYLOAD_HANDSHAKE_COMPLETE => {
                        ready = true;
                        if let Some(size) = terminal_size() {
                            let m = input_message(&mut next_sequence, message::PAYLOAD_SIZE, size);
                            send(&mut ws, &m).await?;
                        }
                    }
                    message::PAYLOAD_OUTPUT => write_out(&mut std::io::stdout(), &m.payload),
                    message::PAYLOAD_STDERR => write_out(&mut std::io::stderr(), &m.payload),
                    _ => {}
                }
            }
            read = stdin.read(&mut input), if ready && stdin_open => {
                match read {
                    Ok(0) | Err(_) => stdin_open = false,
                    Ok(n) => {
                        let m = input_message(&mut next_sequence, message::PAYLOAD_OUTPUT, input[..n].to_vec());
                        send(&mut ws, &m).await?;
                    }
                }
            }
            _ = next_window_change(&mut resized), if ready => {
                if let Some(size) = terminal_size() {
                    let m = input_message(&mut next_sequence, message::PAYLOAD_SIZE, size);
                    send(&mut ws, &m).await?;
                }
            }
        }
    }
}

/// The next input_stream_data message (each takes the next sequence number).
fn input_message(next_sequence: &mut i64, payload_type: u32, payload: Vec<u8>) -> ClientMessage {
    let m = ClientMessage::new(message::INPUT_STREAM_DATA, *next_sequence, payload_type, payload);
    *next_sequence += 1;
    m
}

fn write_out(w: &mut impl Write, bytes: &[u8]) {
    let _ = w.write_all(bytes);
    let _ = w.flush();
}

/// Accepts the session type the agent asks for; any other action is unsupported.
fn handshake_response(request: &[u8]) -> Vec<u8> {
    let request: Value = serde_json::from_slice(request).unwrap_or(Value::Null);
    let actions = request
        .get("RequestedClientActions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut errors = Vec::new();
    let processed: Vec<Value> = actions
        .iter()
        .map(|a| {
            let kind = a.get("ActionType").and_then(Value::as_str).unwrap_or("");
            if kind == "SessionType" {
                json!({ "ActionType": kind, "ActionStatus": 1, "ActionResult": null, "Error": "" })
            } else {
                let error = format!("unsupported action: {kind}");
                errors.push(error.clone());
                json!({ "ActionType": kind, "ActionStatus": 3, "ActionResult": null, "Error": error })
            }
        })
        .collect();
    json!({ "ClientVersion": CLIENT_VERSION, "ProcessedClientActions": processed, "Errors": errors })
        .to_string()
        .into_bytes()
}

/// The terminal's size as a Size payload, when stdout is a terminal.
fn terminal_size() -> Option<Vec<u8>> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we pass; fd 1 is ours.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then(|| {
        json!({ "cols": size.ws_col, "rows": size.ws_row })
            .to_string()
            .into_bytes()
    })
}

fn window_changes() -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok()
}

async fn next_window_change(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// stdin in raw mode while the session runs (keystrokes go to the remote terminal as typed),
/// restored on drop; nothing when stdin is not a terminal.
struct RawTerminal {
    saved: Option<libc::termios>,
}

impl RawTerminal {
    fn enter() -> RawTerminal {
        // SAFETY: isatty only inspects fd 0.
        if unsafe { libc::isatty(libc::STDIN_FILENO) } != 1 {
            return RawTerminal { saved: None };
        }
        // SAFETY: a zeroed termios is a valid out-parameter for tcgetattr.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr fills `saved` for fd 0, a terminal (checked above).
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut saved) } != 0 {
            return RawTerminal { saved: None };
        }
        let mut raw = saved;
        // SAFETY: cfmakeraw edits the struct we own; tcsetattr applies it to fd 0.
        unsafe {
            libc::cfmakeraw(&mut raw);
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw);
        }
        RawTerminal { saved: Some(saved) }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores the attributes tcgetattr read from the same fd.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
            }
        }
    }
}

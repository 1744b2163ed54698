//! ExecuteCommand's data plane: the session ExecuteCommand hands out ([`Sessions`]) and the
//! Session Manager data channel a client (`session-manager-plugin`, which `aws ecs
//! execute-command` runs) opens on the session's stream URL ([`channel`]), carried over to a
//! command running in the task's container on the engine. Messages are the data channel's
//! binary form ([`message`]); [`endpoint`] turns a websocket upgrade into a channel.

pub mod channel;
pub mod endpoint;
pub mod message;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;

/// The path stream URLs have, as Session Manager's (`/v1/data-channel/<session id>`).
pub const STREAM_PATH_PREFIX: &str = "/v1/data-channel/";
/// A session nobody opened within this long is forgotten.
pub const UNCLAIMED_SESSION_TTL_S: u64 = 120;
/// At most this many sessions wait to be opened; ExecuteCommand refuses more.
pub const MAX_PENDING_SESSIONS: usize = 256;

/// What one ExecuteCommand session runs, until a client opens it.
#[derive(Debug, Clone)]
pub struct PendingSession {
    pub token: String,
    pub task_arn: String,
    pub container_name: String,
    /// The container's engine id.
    pub runtime_id: String,
    /// The command split into words (ECS runs it without a shell).
    pub command: Vec<String>,
    created: Instant,
}

#[derive(Debug, thiserror::Error)]
#[error("{MAX_PENDING_SESSIONS} execute command sessions are waiting to be opened")]
pub struct TooManySessions;

/// Sessions ExecuteCommand created that no client has opened yet. Each opens once.
#[derive(Default)]
pub struct Sessions {
    pending: Mutex<HashMap<String, PendingSession>>,
}

impl Sessions {
    /// Records a session; returns its id and token.
    pub fn offer(
        &self,
        task_arn: &str,
        container_name: &str,
        runtime_id: &str,
        command: Vec<String>,
    ) -> Result<(String, String), TooManySessions> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let ttl = Duration::from_secs(UNCLAIMED_SESSION_TTL_S);
        pending.retain(|_, s| s.created.elapsed() < ttl);
        if pending.len() >= MAX_PENDING_SESSIONS {
            return Err(TooManySessions);
        }
        let session_id = format!("ecs-execute-command-{}", crate::api::tasks::hex(18));
        let mut token = [0u8; 48];
        rand::thread_rng().fill_bytes(&mut token);
        let token = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, token);
        pending.insert(
            session_id.clone(),
            PendingSession {
                token: token.clone(),
                task_arn: task_arn.to_string(),
                container_name: container_name.to_string(),
                runtime_id: runtime_id.to_string(),
                command,
                created: Instant::now(),
            },
        );
        Ok((session_id, token))
    }

    /// The session `session_id` when `token` is its token and it has not expired; it can
    /// not be opened again.
    pub fn claim(&self, session_id: &str, token: &str) -> Option<PendingSession> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let session = pending.get(session_id)?;
        if !haneul_wire::sigv4::constant_time_eq(session.token.as_bytes(), token.as_bytes()) {
            return None;
        }
        let session = pending.remove(session_id)?;
        (session.created.elapsed() < Duration::from_secs(UNCLAIMED_SESSION_TTL_S)).then_some(session)
    }
}

/// Splits a command line into words as a POSIX shell would for plain words, single and
/// double quotes and backslashes (no expansions: ECS runs the command without a shell).
pub fn split_command(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(q) => word.push(q),
                        None => return Err("the command has an unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => word.push(e),
                            Some(other) => {
                                word.push('\\');
                                word.push(other);
                            }
                            None => return Err("the command has an unterminated double quote".into()),
                        },
                        Some(q) => word.push(q),
                        None => return Err("the command has an unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    word.push(e);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_like_a_shell_would() {
        assert_eq!(split_command("/bin/sh").unwrap(), vec!["/bin/sh"]);
        assert_eq!(
            split_command(r#"sh -c 'echo "a b" | wc -c'"#).unwrap(),
            vec!["sh", "-c", r#"echo "a b" | wc -c"#]
        );
        assert_eq!(
            split_command(r#"echo "x\"y" a\ b"#).unwrap(),
            vec!["echo", "x\"y", "a b"]
        );
        assert_eq!(split_command("  ls   -la ").unwrap(), vec!["ls", "-la"]);
        assert_eq!(split_command("echo ''").unwrap(), vec!["echo", ""]);
        assert!(split_command("echo 'open").is_err());
    }

    #[test]
    fn a_session_opens_once_and_only_with_its_token() {
        let sessions = Sessions::default();
        let (id, token) = sessions.offer("arn:task", "web", "abc", vec!["sh".into()]).unwrap();
        assert!(id.starts_with("ecs-execute-command-"));
        assert!(sessions.claim(&id, "wrong").is_none());
        let s = sessions.claim(&id, &token).unwrap();
        assert_eq!((s.container_name.as_str(), s.runtime_id.as_str()), ("web", "abc"));
        assert!(sessions.claim(&id, &token).is_none());
    }
}

//! The error every operation returns: an AWS error code, HTTP status and message. Each protocol
//! renders it in its own envelope (see `protocol::*::encode_error`).

/// An error as an AWS client sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} ({status}): {message}")]
pub struct AwsError {
    pub code: String,
    pub status: u16,
    pub message: String,
    /// `Sender` (client fault) or `Receiver` (server fault), used by the query envelopes.
    pub sender_fault: bool,
}

impl AwsError {
    pub fn new(code: impl Into<String>, status: u16, message: impl Into<String>) -> AwsError {
        AwsError {
            code: code.into(),
            status,
            message: message.into(),
            sender_fault: status < 500,
        }
    }

    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> AwsError {
        AwsError::new(code, 400, message)
    }

    pub fn not_found(code: impl Into<String>, message: impl Into<String>) -> AwsError {
        AwsError::new(code, 404, message)
    }

    pub fn internal(message: impl Into<String>) -> AwsError {
        AwsError::new("InternalFailure", 500, message)
    }

    pub fn not_implemented(service: &str, operation: &str) -> AwsError {
        AwsError::new(
            "NotImplemented",
            501,
            format!("haneul does not implement {service} {operation} yet"),
        )
    }
}

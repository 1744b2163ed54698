//! What goes wrong turning wire bytes into a request tree, before validation.

/// A request that does not fit its input shape (wrong type, bad number, bad XML/JSON).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    /// The member path in AWS's message form (`filters.1.member.name`).
    pub path: String,
    pub message: String,
}

impl DecodeError {
    pub fn new(path: &str, message: impl Into<String>) -> DecodeError {
        DecodeError {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// The path of a member below `parent`, in AWS's lower-camel message form.
pub fn child_path(parent: &str, member: &str) -> String {
    let name = crate::value::lower_camel(member);
    if parent.is_empty() {
        name
    } else {
        format!("{parent}.{name}")
    }
}

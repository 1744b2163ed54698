//! CloudWatch Logs filter patterns, as FilterLogEvents, metric filters and subscription
//! filters read them:
//! - [`terms`]: unstructured — `ERROR`, `"quoted phrase"`, `?alternative`, `-excluded`,
//!   `%regex%` (every plain term must appear; at least one `?` term if there are any);
//! - [`json`]: `{ $.field = value && ($.n > 3 || $.flag IS TRUE) }`;
//! - [`delimited`]: space-delimited `[ip, user, ..., status = 4*, bytes > 1000]`.
//!
//! [`value`] holds the comparisons the last two share (numbers, `*` wildcards, regexes).
//! A pattern is parsed once and then matched against every message.

pub mod delimited;
pub mod json;
pub mod terms;
pub mod value;

/// The longest filter pattern the API takes (the model's limit).
pub const MAX_PATTERN_CHARS: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("Invalid filter pattern: {0}")]
pub struct PatternError(pub String);

#[derive(Debug)]
pub enum Pattern {
    /// An empty pattern: every event.
    All,
    Terms(terms::Terms),
    Json(json::JsonExpr),
    Delimited(delimited::Delimited),
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let t = text.trim();
        if t.is_empty() || t == "\"\"" {
            return Ok(Pattern::All);
        }
        if t.starts_with('{') {
            return json::parse(t).map(Pattern::Json);
        }
        if t.starts_with('[') {
            return delimited::parse(t).map(Pattern::Delimited);
        }
        terms::parse(t).map(Pattern::Terms)
    }

    pub fn matches(&self, message: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Terms(t) => t.matches(message),
            Pattern::Json(j) => match serde_json::from_str::<serde_json::Value>(message.trim()) {
                Ok(v) => j.matches(&v),
                Err(_) => false,
            },
            Pattern::Delimited(d) => d.matches(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, msg: &str) -> bool {
        Pattern::parse(p).unwrap_or_else(|e| panic!("{p}: {e}")).matches(msg)
    }

    #[test]
    fn empty_matches_everything() {
        assert!(m("", "anything"));
        assert!(m("\"\"", "anything"));
    }

    #[test]
    fn dispatches_by_first_character() {
        assert!(m("{ $.level = \"ERROR\" }", r#"{"level":"ERROR"}"#));
        assert!(!m("{ $.level = \"ERROR\" }", "level ERROR"));
        assert!(m("[a, b = 2*]", "x 200"));
        assert!(m("ERROR", "an ERROR here"));
    }
}

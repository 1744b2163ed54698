//! Log group and stream names, checked whole against the model's patterns (the wire layer
//! only searches a pattern; Logs requires the whole name to match).

use crate::error::LogsError;

pub const GROUP_NAME_PATTERN: &str = r"[\.\-_/#A-Za-z0-9]+";
pub const STREAM_NAME_PATTERN: &str = "[^:*]*";

fn invalid(value: &str, member: &str, pattern: &str) -> LogsError {
    LogsError::InvalidParameter(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
    ))
}

pub fn check_group_name(name: &str) -> Result<(), LogsError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#'));
    if ok {
        Ok(())
    } else {
        Err(invalid(name, "logGroupName", GROUP_NAME_PATTERN))
    }
}

pub fn check_stream_name(name: &str) -> Result<(), LogsError> {
    if name.contains([':', '*']) {
        return Err(invalid(name, "logStreamName", STREAM_NAME_PATTERN));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_group_name("/ecs/web").is_ok());
        assert!(check_group_name("/aws/route53/example.com").is_ok());
        assert!(check_group_name("bad name!").is_err());
        assert!(check_stream_name("web/web/abc").is_ok());
        assert!(check_stream_name("a:b").is_err());
    }
}

//! DNS names as Route 53 keeps them: lower case, absolute (trailing dot), `*` for wildcards
//! inside and `\052` in API output, as Route 53 writes it.

/// Longest name DNS allows (RFC 1035), in presentation form with the trailing dot.
pub const MAX_NAME_CHARS: usize = 255;
pub const MAX_LABEL_CHARS: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("DNS name {0} is not a valid domain name")]
    Invalid(String),
}

/// `WWW.Example.test` → `www.example.test.`; `\052` and `\\052` → `*`. Other octal escapes
/// (`\ddd`) are decoded too.
pub fn normalize(name: &str) -> Result<String, NameError> {
    let bad = || NameError::Invalid(name.to_string());
    let mut out = String::with_capacity(name.len() + 1);
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && bytes
                .get(i + 1..i + 4)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        {
            // Route 53 escapes are octal (`\052` is `*`).
            let code = u32::from_str_radix(&name[i + 1..i + 4], 8).map_err(|_| bad())?;
            let c = char::from_u32(code).filter(|c| c.is_ascii()).ok_or_else(bad)?;
            out.push(c.to_ascii_lowercase());
            i += 4;
            continue;
        }
        out.push((bytes[i] as char).to_ascii_lowercase());
        i += 1;
    }
    if !out.ends_with('.') {
        out.push('.');
    }
    if out == "." {
        return Ok(out);
    }
    if out.len() > MAX_NAME_CHARS || out.starts_with('.') || out.contains("..") {
        return Err(bad());
    }
    if out
        .trim_end_matches('.')
        .split('.')
        .any(|l| l.is_empty() || l.len() > MAX_LABEL_CHARS)
    {
        return Err(bad());
    }
    Ok(out)
}

/// Route 53's output form: `*` written as `\052`.
pub fn for_output(name: &str) -> String {
    name.replace('*', "\\052")
}

/// Whether `name` is `zone` or below it (both normalized).
pub fn in_zone(name: &str, zone: &str) -> bool {
    name == zone || name.ends_with(&format!(".{zone}")) || zone == "."
}

/// `www.example.test.` → `test.example.www`: sorts names the way Route 53 lists them.
pub fn reversed(name: &str) -> String {
    let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
    labels.into_iter().rev().collect::<Vec<_>>().join(".")
}

/// The parent of a name (`a.b.` → `b.`), `None` at the root.
pub fn parent(name: &str) -> Option<&str> {
    if name == "." {
        return None;
    }
    match name.split_once('.') {
        Some((_, rest)) if !rest.is_empty() => Some(rest),
        _ => Some("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_dots_and_escapes() {
        assert_eq!(normalize("WWW.Example.test").unwrap(), "www.example.test.");
        assert_eq!(normalize("\\052.example.test.").unwrap(), "*.example.test.");
        assert_eq!(for_output("*.example.test."), "\\052.example.test.");
        assert!(normalize("a..b").is_err());
        assert!(in_zone("www.example.test.", "example.test."));
        assert!(!in_zone("www.badexample.test.", "example.test."));
        assert_eq!(reversed("www.example.test."), "test.example.www");
        assert_eq!(parent("www.example.test."), Some("example.test."));
        assert_eq!(parent("test."), Some("."));
    }
}

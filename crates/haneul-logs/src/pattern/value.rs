//! What a JSON or space-delimited condition compares a value with: a number, a string
//! (where `*` matches any run of characters), or a `%regex%`.

use super::PatternError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Op {
    /// The operator at the start of `s`, and its length.
    pub fn parse_prefix(s: &str) -> Option<(Op, usize)> {
        for (text, op) in [
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("=", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ] {
            if s.starts_with(text) {
                return Some((op, text.len()));
            }
        }
        None
    }
}

#[derive(Debug)]
pub enum Operand {
    Num(f64),
    /// Matched whole; `*` is a wildcard.
    Str(String),
    Regex(regex_lite::Regex),
}

impl Operand {
    /// A value as written: `"quoted"`, `%regex%`, a number, or a bare word.
    pub fn parse(text: &str, quoted: bool) -> Result<Operand, PatternError> {
        if quoted {
            return Ok(Operand::Str(text.to_string()));
        }
        if let Some(inner) = text.strip_prefix('%').and_then(|t| t.strip_suffix('%')) {
            return regex(inner).map(Operand::Regex);
        }
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Operand::Num(n)),
            _ => Ok(Operand::Str(text.to_string())),
        }
    }

    /// `actual` (a field's text; `is_number` when it came from a JSON number) against this.
    pub fn compare(&self, op: Op, actual: &str) -> bool {
        match self {
            Operand::Num(want) => match actual.trim().parse::<f64>() {
                Ok(got) => match op {
                    Op::Eq => got == *want,
                    Op::Ne => got != *want,
                    Op::Lt => got < *want,
                    Op::Gt => got > *want,
                    Op::Le => got <= *want,
                    Op::Ge => got >= *want,
                },
                // A value that is not a number differs from every number.
                Err(_) => op == Op::Ne,
            },
            Operand::Str(want) => match op {
                Op::Eq => glob(want, actual),
                Op::Ne => !glob(want, actual),
                _ => false,
            },
            Operand::Regex(re) => match op {
                Op::Eq => re.is_match(actual),
                Op::Ne => !re.is_match(actual),
                _ => false,
            },
        }
    }
}

pub fn regex(source: &str) -> Result<regex_lite::Regex, PatternError> {
    regex_lite::Regex::new(source).map_err(|e| PatternError(format!("invalid regular expression '{source}': {e}")))
}

/// Whether `text` matches `pattern` whole, `*` matching any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == text;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("4*", "404"));
        assert!(glob("*.html*", "GET /a.html?x"));
        assert!(!glob("4*", "500"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXc"));
        assert!(glob("*", ""));
        assert!(!glob("ab*ba", "aba"));
    }

    #[test]
    fn numbers_and_strings() {
        let n = Operand::parse("1000", false).unwrap();
        assert!(n.compare(Op::Gt, "1500"));
        assert!(!n.compare(Op::Gt, "999"));
        assert!(n.compare(Op::Ne, "abc"));
        let s = Operand::parse("ERROR", true).unwrap();
        assert!(s.compare(Op::Eq, "ERROR"));
        assert!(!s.compare(Op::Eq, "ERRORS"));
        let r = Operand::parse("%^5[0-9]{2}$%", false).unwrap();
        assert!(r.compare(Op::Eq, "503"));
    }
}

//! Unstructured patterns: terms separated by spaces. A plain term must appear, a `-term`
//! must not, and if there are `?term`s at least one of them must. A term is a word, a
//! `"quoted phrase"` (`\"` inside it), or a `%regex%`. Matching is case-sensitive.

use super::value::regex;
use super::PatternError;

#[derive(Debug)]
pub enum Term {
    Text(String),
    Regex(regex_lite::Regex),
}

impl Term {
    fn found_in(&self, message: &str) -> bool {
        match self {
            Term::Text(t) => message.contains(t.as_str()),
            Term::Regex(r) => r.is_match(message),
        }
    }
}

#[derive(Debug, Default)]
pub struct Terms {
    pub required: Vec<Term>,
    pub any_of: Vec<Term>,
    pub excluded: Vec<Term>,
}

impl Terms {
    pub fn matches(&self, message: &str) -> bool {
        self.required.iter().all(|t| t.found_in(message))
            && !self.excluded.iter().any(|t| t.found_in(message))
            && (self.any_of.is_empty() || self.any_of.iter().any(|t| t.found_in(message)))
    }

    /// A plain text every match contains (the longest), for a cheap first check.
    pub fn required_text(&self) -> Option<&str> {
        self.required
            .iter()
            .filter_map(|t| match t {
                Term::Text(s) => Some(s.as_str()),
                Term::Regex(_) => None,
            })
            .max_by_key(|s| s.len())
    }
}

pub fn parse(text: &str) -> Result<Terms, PatternError> {
    let mut terms = Terms::default();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let kind = chars[i];
        if (kind == '?' || kind == '-') && i + 1 < chars.len() && !chars[i + 1].is_whitespace() {
            i += 1;
        }
        let (term, next) = read_term(&chars, i)?;
        i = next;
        match kind {
            '?' => terms.any_of.push(term),
            '-' if !matches!(&term, Term::Text(t) if t.is_empty()) => terms.excluded.push(term),
            _ => terms.required.push(term),
        }
    }
    Ok(terms)
}

fn read_term(chars: &[char], start: usize) -> Result<(Term, usize), PatternError> {
    match chars[start] {
        '"' => {
            let mut out = String::new();
            let mut i = start + 1;
            while i < chars.len() {
                match chars[i] {
                    '\\' if i + 1 < chars.len() => {
                        out.push(chars[i + 1]);
                        i += 2;
                    }
                    '"' => return Ok((Term::Text(out), i + 1)),
                    c => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            Err(PatternError("a quoted term is not closed".into()))
        }
        '%' => {
            let end = chars[start + 1..]
                .iter()
                .position(|c| *c == '%')
                .ok_or_else(|| PatternError("a %regex% term is not closed".into()))?;
            let source: String = chars[start + 1..start + 1 + end].iter().collect();
            Ok((Term::Regex(regex(&source)?), start + end + 2))
        }
        _ => {
            let end = chars[start..]
                .iter()
                .position(|c| c.is_whitespace())
                .map_or(chars.len(), |p| start + p);
            let word: String = chars[start..end].iter().collect();
            Ok((Term::Text(word), end))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, msg: &str) -> bool {
        parse(p).unwrap().matches(msg)
    }

    #[test]
    fn terms_phrases_alternatives_exclusions() {
        assert!(m("ERROR", "ERROR disk full"));
        assert!(!m("ERROR", "error disk full"), "case-sensitive");
        assert!(m("ERROR disk", "ERROR disk full"));
        assert!(!m("ERROR disk", "ERROR connection reset"));
        assert!(m("\"reset by peer\"", "WARN connection reset by peer"));
        assert!(!m("\"reset by peer\"", "peer reset by"));
        assert!(m("?ERROR ?WARN", "WARN x"));
        assert!(!m("?ERROR ?WARN", "INFO x"));
        assert!(m("ERROR -Exiting", "ERROR retrying"));
        assert!(!m("ERROR -Exiting", "ERROR Exiting now"));
        assert!(m("\"GET /api\" ?ERROR ?WARN", "GET /api 500 ERROR"));
        assert!(!m("\"GET /api\" ?ERROR", "GET /api 200"));
        assert!(m("%user [0-9]+%", "login by user 42"));
        assert!(m("\"say \\\"hi\\\"\"", "they say \"hi\""));
    }

    #[test]
    fn unclosed_terms_are_errors() {
        assert!(parse("\"open").is_err());
        assert!(parse("%open").is_err());
    }
}

//! Space-delimited patterns: `[ip, user, ..., status = 4* || status = 5*, bytes > 1000]`.
//! The message splits at spaces, a `"quoted"` or `[bracketed]` run counting as one field;
//! the pattern names the fields in order (`...` stands for any number of them) and its
//! conditions must hold for the fields they name. Without `...` the counts must agree.

use super::value::{Op, Operand};
use super::PatternError;

#[derive(Debug)]
enum Element {
    Ellipsis,
    Field,
}

#[derive(Debug)]
enum Cond {
    /// `element` is the position in the pattern of the field the condition names.
    Compare {
        element: usize,
        op: Op,
        operand: Operand,
    },
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

impl Cond {
    fn holds(&self, bound: &[Option<&str>]) -> bool {
        match self {
            Cond::Compare { element, op, operand } => bound
                .get(*element)
                .copied()
                .flatten()
                .is_some_and(|v| operand.compare(*op, v)),
            Cond::And(a, b) => a.holds(bound) && b.holds(bound),
            Cond::Or(a, b) => a.holds(bound) || b.holds(bound),
        }
    }
}

#[derive(Debug)]
pub struct Delimited {
    elements: Vec<Element>,
    /// Each element's field name (empty for `...`).
    names: Vec<String>,
    conditions: Vec<Cond>,
}

/// Ellipses let this many assignments be tried before a message is given up on.
const MAX_STEPS: usize = 10_000;

impl Delimited {
    pub fn matches(&self, message: &str) -> bool {
        self.extract(message).is_some()
    }

    /// The named fields of a matching message (`$name` → value, as TestMetricFilter shows).
    pub fn extract(&self, message: &str) -> Option<Vec<(String, String)>> {
        let fields = split_fields(message);
        let mut bound = vec![None; self.elements.len()];
        let mut steps = 0;
        if !self.assign(0, &fields, 0, &mut bound, &mut steps) {
            return None;
        }
        Some(
            self.names
                .iter()
                .zip(bound)
                .filter_map(|(n, v)| v.map(|v| (format!("${n}"), v.to_string())))
                .collect(),
        )
    }

    /// Tries to give `elements[element..]` the fields `fields[at..]`.
    fn assign<'m>(
        &self,
        element: usize,
        fields: &[&'m str],
        at: usize,
        bound: &mut Vec<Option<&'m str>>,
        steps: &mut usize,
    ) -> bool {
        *steps += 1;
        if *steps > MAX_STEPS {
            return false;
        }
        let Some(e) = self.elements.get(element) else {
            return at == fields.len() && self.conditions.iter().all(|c| c.holds(bound));
        };
        match e {
            Element::Ellipsis => (at..=fields.len()).any(|k| self.assign(element + 1, fields, k, bound, steps)),
            Element::Field => {
                let Some(value) = fields.get(at) else { return false };
                bound[element] = Some(value);
                if self.assign(element + 1, fields, at + 1, bound, steps) {
                    return true;
                }
                bound[element] = None;
                false
            }
        }
    }
}

/// The message's fields: runs of non-spaces, `"…"` and `[…]` runs kept whole (without the
/// quotes or brackets).
pub fn split_fields(message: &str) -> Vec<&str> {
    let bytes = message.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let close = match bytes[i] {
            b'"' => Some(b'"'),
            b'[' => Some(b']'),
            _ => None,
        };
        if let Some(close) = close {
            if let Some(end) = bytes[i + 1..].iter().position(|b| *b == close) {
                out.push(&message[i + 1..i + 1 + end]);
                i += end + 2;
                continue;
            }
        }
        let end = bytes[i..]
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .map_or(bytes.len(), |p| i + p);
        out.push(&message[i..end]);
        i = end;
    }
    out
}

pub fn parse(text: &str) -> Result<Delimited, PatternError> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| PatternError("a space-delimited pattern must be enclosed in [ ]".into()))?;
    let mut elements = Vec::new();
    let mut names: Vec<(String, usize)> = Vec::new();
    let mut field_names = Vec::new();
    let mut pending = Vec::new();
    for (n, part) in split_top_level(inner).into_iter().enumerate() {
        let part = part.trim().to_string();
        if part == "..." {
            elements.push(Element::Ellipsis);
            field_names.push(String::new());
            continue;
        }
        let name_len = part
            .find(|c: char| c.is_whitespace() || "=!<>".contains(c))
            .unwrap_or(part.len());
        let name = &part[..name_len];
        if name.is_empty() {
            return Err(PatternError(format!("field {} has no name", n + 1)));
        }
        if !names.iter().any(|(n, _)| n == name) {
            names.push((name.to_string(), elements.len()));
        }
        let has_condition = !part[name_len..].trim().is_empty();
        elements.push(Element::Field);
        field_names.push(name.to_string());
        if has_condition {
            pending.push(part);
        }
    }
    if elements.is_empty() {
        return Err(PatternError(
            "a space-delimited pattern names at least one field".into(),
        ));
    }
    let conditions = pending
        .iter()
        .map(|part| parse_condition(part, &names))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Delimited {
        elements,
        names: field_names,
        conditions,
    })
}

/// Splits at commas outside quotes.
fn split_top_level(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in s.chars() {
        match c {
            ',' if !quoted => out.push(String::new()),
            _ => {
                if c == '"' {
                    quoted = !quoted;
                }
                if let Some(p) = out.last_mut() {
                    p.push(c);
                }
            }
        }
    }
    out
}

/// `a = 1 || b != x* && c > 3` (`&&` binds tighter).
fn parse_condition(s: &str, names: &[(String, usize)]) -> Result<Cond, PatternError> {
    let mut ors = Vec::new();
    for or_part in s.split("||") {
        let mut ands = Vec::new();
        for and_part in or_part.split("&&") {
            ands.push(parse_compare(and_part.trim(), names)?);
        }
        let first = ands.remove(0);
        ors.push(ands.into_iter().fold(first, |a, b| Cond::And(Box::new(a), Box::new(b))));
    }
    let first = ors.remove(0);
    Ok(ors.into_iter().fold(first, |a, b| Cond::Or(Box::new(a), Box::new(b))))
}

fn parse_compare(s: &str, names: &[(String, usize)]) -> Result<Cond, PatternError> {
    let at = s
        .find(|c: char| "=!<>".contains(c))
        .ok_or_else(|| PatternError(format!("'{s}' is not a condition")))?;
    let field = s[..at].trim().to_string();
    let (op, n) = Op::parse_prefix(&s[at..]).ok_or_else(|| PatternError(format!("'{s}' has no operator")))?;
    let value = s[at + n..].trim();
    if field.is_empty() || value.is_empty() {
        return Err(PatternError(format!("'{s}' is not a condition")));
    }
    let operand = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(q) => Operand::parse(q, true)?,
        None => Operand::parse(value, false)?,
    };
    let element = names
        .iter()
        .find(|(n, _)| *n == field)
        .map(|(_, i)| *i)
        .ok_or_else(|| PatternError(format!("the condition '{s}' names no field of the pattern")))?;
    Ok(Cond::Compare { element, op, operand })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, msg: &str) -> bool {
        parse(p).unwrap_or_else(|e| panic!("{p}: {e}")).matches(msg)
    }

    const LINE: &str = r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 1534"#;

    #[test]
    fn fields_and_conditions() {
        assert_eq!(split_fields(LINE).len(), 7);
        assert_eq!(split_fields(LINE)[4], "GET /apache_pb.gif HTTP/1.0");
        assert!(m("[ip, id, user, timestamp, request, status_code, bytes]", LINE));
        assert!(
            !m("[ip, id, user, timestamp, request, status_code]", LINE),
            "counts differ"
        );
        assert!(m("[ip, id, user, timestamp, request, status_code = 404, bytes]", LINE));
        assert!(m(
            "[ip, id, user, timestamp, request, status_code = 4*, bytes > 1000]",
            LINE
        ));
        assert!(!m("[ip, id, user, timestamp, request, status_code = 5*, bytes]", LINE));
        assert!(m("[..., status_code = 404 || status_code = 410, bytes]", LINE));
        assert!(m("[ip = 127.0.0.1, ...]", LINE));
        assert!(m("[ip, ..., request = *gif*, ...]", LINE));
        assert!(!m("[ip, ..., request = *png*, ...]", LINE));
        assert!(m(r#"[ip, id, user = "frank", ...]"#, LINE));
    }

    #[test]
    fn extracts_named_fields() {
        let d = parse("[ip, id, user, ..., status, bytes]").unwrap();
        let got = d.extract(LINE).unwrap();
        assert!(got.contains(&("$user".to_string(), "frank".to_string())));
        assert!(got.contains(&("$status".to_string(), "404".to_string())));
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn bad_patterns() {
        assert!(parse("[a, = 3]").is_err());
        assert!(parse("[a, b = ]").is_err());
        assert!(parse("[a, b = 1 || c = 2]").is_err(), "c names no field");
    }
}

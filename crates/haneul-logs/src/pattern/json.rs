//! JSON filter patterns: `{ SELECTOR OP VALUE }` conditions joined by `&&` and `||` (`&&`
//! binds tighter) with parentheses. A selector is `$.a.b`, `$.list[0]`, `$.list[*]` or
//! `$.*`; operators `= != < > <= >=`, or `IS TRUE`, `IS FALSE`, `IS NULL`, `NOT EXISTS`.
//! An event that is not a JSON object never matches.

use serde_json::Value;

use super::value::{Op, Operand};
use super::PatternError;

#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Key(String),
    Index(usize),
    /// `*` or `[*]`: every member.
    Any,
}

#[derive(Debug)]
pub enum Check {
    Compare(Op, Operand),
    IsTrue,
    IsFalse,
    IsNull,
    NotExists,
}

#[derive(Debug)]
pub enum JsonExpr {
    And(Box<JsonExpr>, Box<JsonExpr>),
    Or(Box<JsonExpr>, Box<JsonExpr>),
    Condition { path: Vec<Segment>, check: Check },
}

impl JsonExpr {
    pub fn matches(&self, event: &Value) -> bool {
        match self {
            JsonExpr::And(a, b) => a.matches(event) && b.matches(event),
            JsonExpr::Or(a, b) => a.matches(event) || b.matches(event),
            JsonExpr::Condition { path, check } => {
                let mut found = Vec::new();
                resolve(event, path, &mut found);
                match check {
                    Check::NotExists => found.is_empty(),
                    Check::IsTrue => found.iter().any(|v| **v == Value::Bool(true)),
                    Check::IsFalse => found.iter().any(|v| **v == Value::Bool(false)),
                    Check::IsNull => found.iter().any(|v| v.is_null()),
                    Check::Compare(op, operand) => found.iter().any(|v| match v {
                        Value::String(s) => operand.compare(*op, s),
                        Value::Number(n) => operand.compare(*op, &n.to_string()),
                        Value::Bool(b) => operand.compare(*op, if *b { "true" } else { "false" }),
                        Value::Null => operand.compare(*op, "null"),
                        Value::Array(_) | Value::Object(_) => false,
                    }),
                }
            }
        }
    }
}

fn resolve<'a>(v: &'a Value, path: &[Segment], out: &mut Vec<&'a Value>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(v);
        return;
    };
    match (first, v) {
        (Segment::Key(k), Value::Object(map)) => {
            if let Some(child) = map.get(k) {
                resolve(child, rest, out);
            }
        }
        (Segment::Index(i), Value::Array(items)) => {
            if let Some(child) = items.get(*i) {
                resolve(child, rest, out);
            }
        }
        (Segment::Any, Value::Array(items)) => items.iter().for_each(|c| resolve(c, rest, out)),
        (Segment::Any, Value::Object(map)) => map.values().for_each(|c| resolve(c, rest, out)),
        _ => {}
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Selector(Vec<Segment>),
    Op(Op),
    Word(String),
    Quoted(String),
}

/// `text` is the whole pattern, braces included.
pub fn parse(text: &str) -> Result<JsonExpr, PatternError> {
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| PatternError("a JSON pattern must be enclosed in { }".into()))?;
    let tokens = tokenize(inner)?;
    let mut p = Parser { tokens, at: 0 };
    let expr = p.or()?;
    if p.at != p.tokens.len() {
        return Err(PatternError(format!(
            "unexpected {:?} in the JSON pattern",
            p.tokens[p.at]
        )));
    }
    Ok(expr)
}

fn tokenize(s: &str) -> Result<Vec<Token>, PatternError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Token::Open);
            i += 1;
        } else if c == ')' {
            out.push(Token::Close);
            i += 1;
        } else if rest == "&&" {
            out.push(Token::And);
            i += 2;
        } else if rest == "||" {
            out.push(Token::Or);
            i += 2;
        } else if let Some((op, n)) = Op::parse_prefix(&rest) {
            out.push(Token::Op(op));
            i += n;
        } else if c == '$' {
            let (path, next) = selector(&chars, i)?;
            out.push(Token::Selector(path));
            i = next;
        } else if c == '"' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(PatternError("a quoted value is not closed".into())),
                    Some('\\') if i + 1 < chars.len() => {
                        text.push(chars[i + 1]);
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        text.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Token::Quoted(text));
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !"()&|=!<>".contains(chars[i]) {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        }
    }
    Ok(out)
}

fn selector(chars: &[char], start: usize) -> Result<(Vec<Segment>, usize), PatternError> {
    let mut i = start + 1;
    let mut path = Vec::new();
    let bad = |why: &str| PatternError(format!("invalid selector: {why}"));
    while i < chars.len() {
        match chars[i] {
            '.' => {
                i += 1;
                let s = i;
                while i < chars.len() && !chars[i].is_whitespace() && !".[()&|=!<>".contains(chars[i]) {
                    i += 1;
                }
                let name: String = chars[s..i].iter().collect();
                if name.is_empty() {
                    return Err(bad("an empty member name"));
                }
                path.push(if name == "*" { Segment::Any } else { Segment::Key(name) });
            }
            '[' => {
                let end = chars[i..]
                    .iter()
                    .position(|c| *c == ']')
                    .ok_or_else(|| bad("'[' is not closed"))?;
                let inside: String = chars[i + 1..i + end].iter().collect();
                path.push(if inside == "*" {
                    Segment::Any
                } else {
                    Segment::Index(inside.trim().parse().map_err(|_| bad("an index must be a number"))?)
                });
                i += end + 1;
            }
            _ => break,
        }
    }
    if path.is_empty() {
        return Err(bad("a selector starts with $."));
    }
    Ok((path, i))
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn or(&mut self) -> Result<JsonExpr, PatternError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            left = JsonExpr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<JsonExpr, PatternError> {
        let mut left = self.atom()?;
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            left = JsonExpr::And(Box::new(left), Box::new(self.atom()?));
        }
        Ok(left)
    }

    fn atom(&mut self) -> Result<JsonExpr, PatternError> {
        match self.next() {
            Some(Token::Open) => {
                let e = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(e),
                    _ => Err(PatternError("a '(' is not closed".into())),
                }
            }
            Some(Token::Selector(path)) => {
                let check = self.check()?;
                Ok(JsonExpr::Condition { path, check })
            }
            other => Err(PatternError(format!(
                "expected a selector such as $.field, found {other:?}"
            ))),
        }
    }

    fn check(&mut self) -> Result<Check, PatternError> {
        match self.next() {
            Some(Token::Op(op)) => match self.next() {
                Some(Token::Quoted(v)) => Ok(Check::Compare(op, Operand::parse(&v, true)?)),
                Some(Token::Word(v)) => Ok(Check::Compare(op, Operand::parse(&v, false)?)),
                other => Err(PatternError(format!(
                    "expected a value after the operator, found {other:?}"
                ))),
            },
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("IS") => match self.next() {
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("TRUE") => Ok(Check::IsTrue),
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("FALSE") => Ok(Check::IsFalse),
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("NULL") => Ok(Check::IsNull),
                other => Err(PatternError(format!(
                    "expected TRUE, FALSE or NULL after IS, found {other:?}"
                ))),
            },
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("NOT") => match self.next() {
                Some(Token::Word(v)) if v.eq_ignore_ascii_case("EXISTS") => Ok(Check::NotExists),
                other => Err(PatternError(format!("expected EXISTS after NOT, found {other:?}"))),
            },
            other => Err(PatternError(format!("expected an operator, found {other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, event: &str) -> bool {
        let v: Value = serde_json::from_str(event).unwrap();
        parse(p).unwrap_or_else(|e| panic!("{p}: {e}")).matches(&v)
    }

    #[test]
    fn conditions() {
        let e = r#"{"eventType":"UpdateTrail","latency":250,"ok":true,"user":{"name":"kim","roles":["admin","dev"]},"gone":null}"#;
        assert!(m(r#"{ $.eventType = "UpdateTrail" }"#, e));
        assert!(m(r#"{ $.eventType = Update* }"#, e));
        assert!(!m(r#"{ $.eventType != "UpdateTrail" }"#, e));
        assert!(m("{ $.latency > 200 && $.latency <= 250 }", e));
        assert!(!m("{ $.latency < 200 }", e));
        assert!(m("{ $.ok IS TRUE }", e));
        assert!(m("{ $.gone IS NULL }", e));
        assert!(m("{ $.missing NOT EXISTS }", e));
        assert!(!m("{ $.latency NOT EXISTS }", e));
        assert!(m(r#"{ $.user.name = "kim" }"#, e));
        assert!(m(r#"{ $.user.roles[1] = "dev" }"#, e));
        assert!(m(r#"{ $.user.roles[*] = "admin" }"#, e));
        assert!(m(r#"{ ($.latency > 1000 || $.ok IS TRUE) && $.user.name = "kim" }"#, e));
        assert!(m(r#"{ $.eventType = %^Update% }"#, e));
    }

    #[test]
    fn bad_patterns() {
        assert!(parse("{ $.a = }").is_err());
        assert!(parse("{ a = 1 }").is_err());
        assert!(parse("{ ($.a = 1 }").is_err());
        assert!(parse("{ $.a IS MAYBE }").is_err());
    }
}

//! The Logs Insights query subset: commands joined by `|` —
//! `fields a, b`, `filter <condition>`, `sort f [asc|desc], …`, `limit n`, and
//! `stats count(*)|count(f)|sum(f)|avg(f)|min(f)|max(f) [as name], … [by f, …]`.
//! Conditions: `= != < <= > >=`, `like /regex/` or `like "text"`, `not like`, `in [..]`,
//! `and`, `or`, `not`, parentheses. Fields are `@message`, `@timestamp`, `@logStream`,
//! `@log`, `@ingestionTime` and the members of JSON events (`status`, `req.path`).

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct QueryError(pub String);

#[derive(Debug)]
pub enum Command {
    Fields(Vec<String>),
    Filter(Expr),
    Sort(Vec<(String, bool)>),
    Limit(usize),
    Stats {
        aggregates: Vec<Aggregate>,
        by: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum AggFn {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

#[derive(Debug, Clone)]
pub struct Aggregate {
    pub func: AggFn,
    /// `None`: `count(*)` / `count()`.
    pub field: Option<String>,
    /// The result column (`as name`, else the call as written).
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug)]
pub enum Operand {
    Field(String),
    Str(String),
    Num(f64),
}

#[derive(Debug)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Operand, CmpOp, Operand),
    Like {
        field: String,
        regex: regex_lite::Regex,
    },
    In {
        field: String,
        values: Vec<Operand>,
    },
    /// A bare field: true when present and not empty / zero / false.
    Truthy(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Regex(String),
    Sym(&'static str),
}

pub fn parse(query: &str) -> Result<Vec<Command>, QueryError> {
    let mut commands = Vec::new();
    for part in split_pipes(query) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (word, rest) = part.split_once(char::is_whitespace).unwrap_or((part, ""));
        let toks = tokenize(rest)?;
        let mut p = Parser { toks, at: 0 };
        let command = match word.to_ascii_lowercase().as_str() {
            "fields" | "display" => Command::Fields(p.field_list()?),
            "filter" => Command::Filter(p.or()?),
            "sort" => Command::Sort(p.sort_list()?),
            "limit" => match p.next() {
                Some(Tok::Num(n)) if n >= 1.0 && n.fract() == 0.0 => Command::Limit(n as usize),
                other => {
                    return Err(QueryError(format!(
                        "limit needs a positive whole number, found {other:?}"
                    )))
                }
            },
            "stats" => p.stats()?,
            other => return Err(QueryError(format!("unsupported command '{other}'"))),
        };
        if p.at < p.toks.len() {
            return Err(QueryError(format!("unexpected {:?} in '{part}'", p.toks[p.at])));
        }
        commands.push(command);
    }
    Ok(commands)
}

/// Splits at `|` outside quotes and regexes.
fn split_pipes(q: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in q.chars() {
        if escaped {
            escaped = false;
            out.last_mut().into_iter().for_each(|s| s.push(c));
            continue;
        }
        match (quote, c) {
            (Some(_), '\\') => {
                escaped = true;
                out.last_mut().into_iter().for_each(|s| s.push(c));
            }
            (None, '|') => out.push(String::new()),
            (None, '"' | '\'' | '/' | '`') => {
                quote = Some(c);
                out.last_mut().into_iter().for_each(|s| s.push(c));
            }
            (Some(q), _) if q == c => {
                quote = None;
                out.last_mut().into_iter().for_each(|s| s.push(c));
            }
            _ => out.last_mut().into_iter().for_each(|s| s.push(c)),
        }
    }
    out
}

fn tokenize(s: &str) -> Result<Vec<Tok>, QueryError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        if let Some(sym) = ["!=", "<=", ">=", "=", "<", ">", "(", ")", ",", "[", "]", "*"]
            .into_iter()
            .find(|s| two.starts_with(*s))
        {
            out.push(Tok::Sym(sym));
            i += sym.len();
            continue;
        }
        if c == '"' || c == '\'' || c == '/' || c == '`' {
            // Up to the closing quote; a backslash keeps the next character (for a regex,
            // `\/` is a slash and other escapes stay for the regex engine).
            let mut text = String::new();
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err(QueryError(format!("{c} is not closed"))),
                    Some('\\') if j + 1 < chars.len() => {
                        let next = chars[j + 1];
                        if c == '/' && next != '/' {
                            text.push('\\');
                        }
                        text.push(next);
                        j += 2;
                    }
                    Some(x) if *x == c => break,
                    Some(x) => {
                        text.push(*x);
                        j += 1;
                    }
                }
            }
            out.push(match c {
                '/' => Tok::Regex(text),
                '`' => Tok::Ident(text),
                _ => Tok::Str(text),
            });
            i = j + 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || "@._-:$".contains(chars[i])) {
            i += 1;
        }
        if start == i {
            return Err(QueryError(format!("unexpected character '{c}'")));
        }
        let word: String = chars[start..i].iter().collect();
        out.push(match word.parse::<f64>() {
            Ok(n) if !word.starts_with('@') => Tok::Num(n),
            _ => Tok::Ident(word),
        });
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn eat_sym(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(s)) if *s == sym) {
            self.at += 1;
            return true;
        }
        false
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(word)) {
            self.at += 1;
            return true;
        }
        false
    }

    fn ident(&mut self) -> Result<String, QueryError> {
        match self.next() {
            Some(Tok::Ident(w)) => Ok(w),
            other => Err(QueryError(format!("expected a field name, found {other:?}"))),
        }
    }

    fn field_list(&mut self) -> Result<Vec<String>, QueryError> {
        let mut out = vec![self.ident()?];
        while self.eat_sym(",") {
            out.push(self.ident()?);
        }
        Ok(out)
    }

    fn sort_list(&mut self) -> Result<Vec<(String, bool)>, QueryError> {
        let mut out = Vec::new();
        loop {
            let field = self.ident()?;
            let desc = if self.eat_word("desc") {
                true
            } else {
                self.eat_word("asc");
                false
            };
            out.push((field, desc));
            if !self.eat_sym(",") {
                return Ok(out);
            }
        }
    }

    fn stats(&mut self) -> Result<Command, QueryError> {
        let mut aggregates = Vec::new();
        loop {
            let name = self.ident()?;
            let func = match name.to_ascii_lowercase().as_str() {
                "count" => AggFn::Count,
                "sum" => AggFn::Sum,
                "avg" => AggFn::Avg,
                "min" => AggFn::Min,
                "max" => AggFn::Max,
                other => return Err(QueryError(format!("unsupported stats function '{other}'"))),
            };
            if !self.eat_sym("(") {
                return Err(QueryError(format!("{name} needs (…)")));
            }
            let field = if self.eat_sym("*") || matches!(self.peek(), Some(Tok::Sym(")"))) {
                None
            } else {
                Some(self.ident()?)
            };
            if !self.eat_sym(")") {
                return Err(QueryError(format!("{name}( is not closed")));
            }
            if field.is_none() && func != AggFn::Count {
                return Err(QueryError(format!("{name} needs a field")));
            }
            let written = format!("{name}({})", field.as_deref().unwrap_or("*"));
            let name = if self.eat_word("as") { self.ident()? } else { written };
            aggregates.push(Aggregate { func, field, name });
            if !self.eat_sym(",") {
                break;
            }
        }
        let by = if self.eat_word("by") {
            self.field_list()?
        } else {
            Vec::new()
        };
        Ok(Command::Stats { aggregates, by })
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.eat_word("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.not()?;
        while self.eat_word("and") {
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, QueryError> {
        if self.eat_word("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }

    fn operand(&mut self) -> Result<Operand, QueryError> {
        match self.next() {
            Some(Tok::Ident(w)) => Ok(Operand::Field(w)),
            Some(Tok::Str(s)) => Ok(Operand::Str(s)),
            Some(Tok::Num(n)) => Ok(Operand::Num(n)),
            other => Err(QueryError(format!("expected a field or value, found {other:?}"))),
        }
    }

    fn cmp(&mut self) -> Result<Expr, QueryError> {
        if self.eat_sym("(") {
            let e = self.or()?;
            if !self.eat_sym(")") {
                return Err(QueryError("a '(' is not closed".into()));
            }
            return Ok(e);
        }
        let left = self.operand()?;
        let negated_like = matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("not"))
            && matches!(self.toks.get(self.at + 1), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("like"));
        if negated_like {
            self.at += 1;
        }
        if self.eat_word("like") {
            let Operand::Field(field) = left else {
                return Err(QueryError("like needs a field on its left".into()));
            };
            let regex = match self.next() {
                Some(Tok::Regex(r)) => super::super::pattern::value::regex(&r).map_err(|e| QueryError(e.0))?,
                Some(Tok::Str(s)) => super::super::pattern::value::regex(&escape(&s)).map_err(|e| QueryError(e.0))?,
                other => return Err(QueryError(format!("like needs /regex/ or \"text\", found {other:?}"))),
            };
            let e = Expr::Like { field, regex };
            return Ok(if negated_like { Expr::Not(Box::new(e)) } else { e });
        }
        if self.eat_word("in") {
            let Operand::Field(field) = left else {
                return Err(QueryError("in needs a field on its left".into()));
            };
            if !self.eat_sym("[") {
                return Err(QueryError("in needs [values]".into()));
            }
            let mut values = vec![self.operand()?];
            while self.eat_sym(",") {
                values.push(self.operand()?);
            }
            if !self.eat_sym("]") {
                return Err(QueryError("a '[' is not closed".into()));
            }
            return Ok(Expr::In { field, values });
        }
        let op = match self.peek() {
            Some(Tok::Sym("=")) => CmpOp::Eq,
            Some(Tok::Sym("!=")) => CmpOp::Ne,
            Some(Tok::Sym("<")) => CmpOp::Lt,
            Some(Tok::Sym("<=")) => CmpOp::Le,
            Some(Tok::Sym(">")) => CmpOp::Gt,
            Some(Tok::Sym(">=")) => CmpOp::Ge,
            _ => {
                return match left {
                    Operand::Field(f) => Ok(Expr::Truthy(f)),
                    _ => Err(QueryError("a condition needs a comparison".into())),
                }
            }
        };
        self.at += 1;
        let right = self.operand()?;
        Ok(Expr::Cmp(left, op, right))
    }
}

/// `text` as a regex that matches it literally.
fn escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_subset() {
        let q = parse(
            "fields @timestamp, @message | filter @message like /ERROR/ and status >= 500 | sort @timestamp desc | limit 20",
        )
        .unwrap();
        assert_eq!(q.len(), 4);
        assert!(matches!(&q[3], Command::Limit(20)));
        let q = parse("stats count(*) as n by @logStream").unwrap();
        let Command::Stats { aggregates, by } = &q[0] else {
            panic!()
        };
        assert_eq!(aggregates[0].name, "n");
        assert_eq!(by, &["@logStream"]);
        assert!(parse("filter a = 'x|y' | limit 1").is_ok(), "a pipe inside quotes");
        assert!(
            parse(r"filter @message like /\/api\/v[0-9]/ | limit 1").is_ok(),
            "escaped slashes"
        );
    }

    #[test]
    fn errors() {
        assert!(parse("explode everything").is_err());
        assert!(parse("limit zero").is_err());
        assert!(parse("filter (a = 1").is_err());
        assert!(parse("stats median(x)").is_err());
    }
}

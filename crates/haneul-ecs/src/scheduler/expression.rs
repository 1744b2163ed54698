//! ECS's cluster query language, the part placement constraints and ListContainerInstances
//! filters use: `subject operator [argument]` clauses joined by `and` / `or` (`&&`, `||`;
//! `and` binds tighter). Subjects: `attribute:NAME`, `ec2InstanceId`, `agentConnected`,
//! `runningTasksCount`, `task:group`. Operators: `==` `!=` `exists` `!exists` `in` `not_in`
//! `=~` (a `*` wildcard pattern) and, for numbers, `>` `>=` `<` `<=`.

use std::collections::BTreeMap;

/// What an expression is evaluated against: one container instance.
pub struct Subject<'a> {
    pub attributes: &'a BTreeMap<String, Option<String>>,
    pub ec2_instance_id: &'a str,
    pub agent_connected: bool,
    pub running_tasks: i64,
    /// The instance's live tasks per task group.
    pub task_groups: &'a BTreeMap<String, i64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct ExpressionError(pub String);

/// Whether `expression` holds for `s`.
pub fn matches(expression: &str, s: &Subject<'_>) -> Result<bool, ExpressionError> {
    let normalized = expression.replace("&&", " and ").replace("||", " or ");
    let text = normalized.trim();
    if text.is_empty() {
        return Err(ExpressionError("The expression is empty.".into()));
    }
    if text.len() > 2000 {
        return Err(ExpressionError("An expression can be at most 2000 characters.".into()));
    }
    let mut any = false;
    for alternative in split_words(text, "or") {
        let mut all = true;
        for clause in split_words(&alternative, "and") {
            if !clause_holds(clause.trim(), s)? {
                all = false;
            }
        }
        any |= all;
    }
    Ok(any)
}

/// Splits on a word surrounded by whitespace, outside `[...]` lists.
fn split_words(text: &str, word: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    let tokens: Vec<&str> = text.split_whitespace().collect();
    for token in tokens {
        depth += token.matches('[').count() as i32 - token.matches(']').count() as i32;
        if depth == 0 && token.eq_ignore_ascii_case(word) {
            out.push(std::mem::take(&mut current));
            continue;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(token);
    }
    out.push(current);
    out
}

const OPERATORS: [&str; 16] = [
    "not_exists",
    "!exists",
    "exists",
    "not_in",
    "!in",
    "in",
    "==",
    "equals",
    "!=",
    "not_equals",
    "=~",
    "matches",
    ">=",
    "<=",
    ">",
    "<",
];

fn clause_holds(clause: &str, s: &Subject<'_>) -> Result<bool, ExpressionError> {
    let bad = || ExpressionError(format!("The expression is not valid: {clause}"));
    let mut parts = clause.splitn(2, char::is_whitespace);
    let subject = parts.next().filter(|p| !p.is_empty()).ok_or_else(bad)?;
    let rest = parts.next().unwrap_or("").trim();
    let (operator, argument) = OPERATORS
        .iter()
        .find_map(|op| {
            let after = rest.strip_prefix(op)?;
            (after.is_empty() || after.starts_with(char::is_whitespace) || !op.chars().all(char::is_alphabetic))
                .then(|| (*op, after.trim()))
        })
        .ok_or_else(bad)?;
    let values: Vec<String> = match subject {
        "ec2InstanceId" => vec![s.ec2_instance_id.to_string()],
        "agentConnected" => vec![s.agent_connected.to_string()],
        "runningTasksCount" => vec![s.running_tasks.to_string()],
        "task:group" => s.task_groups.keys().cloned().collect(),
        other => match other.strip_prefix("attribute:") {
            Some(name) => match s.attributes.get(name) {
                Some(Some(v)) => vec![v.clone()],
                // An attribute without a value exists but equals nothing.
                Some(None) => vec![String::new()],
                None => Vec::new(),
            },
            None => {
                return Err(ExpressionError(format!(
                    "Unsupported subject in the expression: {other}"
                )))
            }
        },
    };
    let list = || -> Result<Vec<String>, ExpressionError> {
        let inner = argument
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .ok_or_else(bad)?;
        Ok(inner
            .split(',')
            .map(|v| v.trim().trim_matches('"').to_string())
            .filter(|v| !v.is_empty())
            .collect())
    };
    let arg = argument.trim_matches('"');
    let number = |v: &str| v.parse::<f64>().ok();
    Ok(match operator {
        "exists" => !values.is_empty(),
        "!exists" | "not_exists" => values.is_empty(),
        "==" | "equals" => values.iter().any(|v| v == arg),
        "!=" | "not_equals" => !values.iter().any(|v| v == arg),
        "in" => {
            let l = list()?;
            values.iter().any(|v| l.contains(v))
        }
        "!in" | "not_in" => {
            let l = list()?;
            !values.iter().any(|v| l.contains(v))
        }
        "=~" | "matches" => values.iter().any(|v| wildcard(arg, v)),
        cmp => {
            let want = number(arg).ok_or_else(bad)?;
            values.iter().filter_map(|v| number(v)).any(|v| match cmp {
                ">" => v > want,
                ">=" => v >= want,
                "<" => v < want,
                _ => v <= want,
            })
        }
    })
}

/// `*` matches any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject<'a>(attrs: &'a BTreeMap<String, Option<String>>, groups: &'a BTreeMap<String, i64>) -> Subject<'a> {
        Subject {
            attributes: attrs,
            ec2_instance_id: "i-1",
            agent_connected: true,
            running_tasks: 2,
            task_groups: groups,
        }
    }

    #[test]
    fn clauses_and_joins() {
        let mut a = BTreeMap::new();
        a.insert("ecs.availability-zone".to_string(), Some("us-east-1a".to_string()));
        a.insert("ecs.instance-type".to_string(), Some("t2.micro".to_string()));
        a.insert("flag".to_string(), None);
        let groups = BTreeMap::new();
        let s = subject(&a, &groups);
        let holds = |e: &str| matches(e, &s).unwrap();
        assert!(holds("attribute:ecs.availability-zone == us-east-1a"));
        assert!(holds("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"));
        assert!(!holds(
            "attribute:ecs.availability-zone not_in [us-east-1a, us-east-1b]"
        ));
        assert!(holds("attribute:ecs.instance-type =~ t2.*"));
        assert!(holds("attribute:flag exists and runningTasksCount < 3"));
        assert!(!holds("attribute:missing exists and runningTasksCount < 3"));
        assert!(holds("attribute:missing exists or ec2InstanceId == i-1"));
        assert!(holds("attribute:missing !exists && agentConnected == true"));
        assert!(matches("attribute:x", &s).is_err());
        assert!(matches("bogus == 1", &s).is_err());
    }
}

//! Model constraints on a decoded request: required members, enums, lengths and ranges.
//! Messages follow AWS's form: `Value null at 'cidrBlock' failed to satisfy constraint: …`.

use serde_json::Value;

use crate::decode_error::child_path;
use crate::model::{ServiceModel, Shape, ShapeType};

/// Most violations one message lists; AWS lists them all, we stop early on hostile input.
const MAX_VIOLATIONS: usize = 10;

#[derive(Debug, Clone, PartialEq)]
pub enum ViolationKind {
    Missing,
    NotInEnum(Vec<String>),
    TooShort(f64),
    TooLong(f64),
    TooSmall(f64),
    TooLarge(f64),
    NoPatternMatch(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// AWS's member path (`tags.1.member.key`).
    pub path: String,
    /// The member's own model name (`CidrBlock`), for EC2's messages.
    pub member: String,
    pub value: Option<Value>,
    pub kind: ViolationKind,
}

impl Violation {
    /// The constraint clause of AWS's message.
    pub fn constraint(&self) -> String {
        match &self.kind {
            ViolationKind::Missing => "Member must not be null".into(),
            ViolationKind::NotInEnum(values) => {
                format!("Member must satisfy enum value set: [{}]", values.join(", "))
            }
            ViolationKind::TooShort(n) => format!("Member must have length greater than or equal to {n}"),
            ViolationKind::TooLong(n) => format!("Member must have length less than or equal to {n}"),
            ViolationKind::TooSmall(n) => format!("Member must have value greater than or equal to {n}"),
            ViolationKind::TooLarge(n) => format!("Member must have value less than or equal to {n}"),
            ViolationKind::NoPatternMatch(p) => format!("Member must satisfy regular expression pattern: {p}"),
        }
    }

    fn shown_value(&self) -> String {
        match &self.value {
            None => "null".into(),
            Some(Value::String(s)) => format!("'{s}'"),
            Some(v) => format!("'{v}'"),
        }
    }
}

/// AWS's combined message: `2 validation errors detected: …; …`.
pub fn message(violations: &[Violation]) -> String {
    let n = violations.len();
    let parts: Vec<String> = violations
        .iter()
        .map(|v| {
            format!(
                "Value {} at '{}' failed to satisfy constraint: {}",
                v.shown_value(),
                v.path,
                v.constraint()
            )
        })
        .collect();
    let noun = if n == 1 { "error" } else { "errors" };
    format!("{n} validation {noun} detected: {}", parts.join("; "))
}

/// Checks `value` against shape `shape_name`; returns the violations found (at most ten).
pub fn validate(model: &ServiceModel, shape_name: &str, value: &Value) -> Vec<Violation> {
    let mut found = Vec::new();
    check(model, model.shape(shape_name), value, "", "", &mut found);
    found
}

fn check(model: &ServiceModel, shape: &Shape, value: &Value, path: &str, member: &str, found: &mut Vec<Violation>) {
    if found.len() >= MAX_VIOLATIONS {
        return;
    }
    let mut push = |kind: ViolationKind, found: &mut Vec<Violation>| {
        found.push(Violation {
            path: path.to_string(),
            member: member.to_string(),
            value: Some(value.clone()),
            kind,
        })
    };
    match shape.shape_type {
        ShapeType::Structure => {
            let Value::Object(fields) = value else { return };
            for name in &shape.required {
                if fields.get(name).is_none_or(Value::is_null) && found.len() < MAX_VIOLATIONS {
                    found.push(Violation {
                        path: child_path(path, name),
                        member: name.clone(),
                        value: None,
                        kind: ViolationKind::Missing,
                    });
                }
            }
            for (name, m) in &shape.members {
                if let Some(v) = fields.get(name).filter(|v| !v.is_null()) {
                    check(model, model.shape(&m.shape), v, &child_path(path, name), name, found);
                }
            }
        }
        ShapeType::List => {
            let Value::Array(items) = value else { return };
            check_length(shape, items.len(), &mut push, found);
            if let Some(m) = shape.member.as_deref() {
                let item_shape = model.shape(&m.shape);
                for (i, item) in items.iter().enumerate() {
                    check(
                        model,
                        item_shape,
                        item,
                        &format!("{path}.{}.member", i + 1),
                        member,
                        found,
                    );
                }
            }
        }
        ShapeType::Map => {
            let Value::Object(entries) = value else { return };
            check_length(shape, entries.len(), &mut push, found);
            if let Some(m) = shape.value.as_deref() {
                let value_shape = model.shape(&m.shape);
                for v in entries.values() {
                    check(model, value_shape, v, path, member, found);
                }
            }
        }
        ShapeType::String => {
            let Value::String(s) = value else { return };
            if !shape.enum_values.is_empty() && !shape.enum_values.iter().any(|e| e == s) {
                push(ViolationKind::NotInEnum(shape.enum_values.clone()), found);
                return;
            }
            let before = found.len();
            check_length(shape, s.chars().count(), &mut push, found);
            if found.len() > before {
                return;
            }
            // A pattern the engine gives up on (backtrack limit) counts as a match.
            let mismatch = shape
                .pattern_regex
                .as_ref()
                .is_some_and(|re| re.is_match(s).is_ok_and(|m| !m));
            if mismatch {
                push(
                    ViolationKind::NoPatternMatch(shape.pattern.clone().unwrap_or_default()),
                    found,
                );
            }
        }
        ShapeType::Blob => {
            let Value::String(s) = value else { return };
            // Base64 text: 4 characters per 3 bytes.
            check_length(shape, s.trim_end_matches('=').len() * 3 / 4, &mut push, found);
        }
        ShapeType::Integer | ShapeType::Long | ShapeType::Float | ShapeType::Double => {
            let Some(n) = value.as_f64() else { return };
            if let Some(min) = shape.min.filter(|min| n < *min) {
                push(ViolationKind::TooSmall(min), found);
            } else if let Some(max) = shape.max.filter(|max| n > *max) {
                push(ViolationKind::TooLarge(max), found);
            }
        }
        ShapeType::Boolean | ShapeType::Timestamp => {}
    }
}

fn check_length(
    shape: &Shape,
    len: usize,
    push: &mut impl FnMut(ViolationKind, &mut Vec<Violation>),
    found: &mut Vec<Violation>,
) {
    let len = len as f64;
    if let Some(min) = shape.min.filter(|min| len < *min) {
        push(ViolationKind::TooShort(min), found);
    } else if let Some(max) = shape.max.filter(|max| len > *max) {
        push(ViolationKind::TooLong(max), found);
    }
}

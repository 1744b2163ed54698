//! The JSON protocol (ACM, ECS, ECR, Route 53 Domains): `X-Amz-Target: Prefix.Operation`,
//! a JSON body in, JSON out, timestamps as epoch seconds.

use base64::Engine;
use serde_json::{Map, Value};

use crate::decode_error::{child_path, DecodeError};
use crate::error::AwsError;
use crate::model::{ServiceModel, Shape, ShapeType};
use crate::value::parse_timestamp;

/// Deepest nesting a JSON request may have; the models nest far less.
const MAX_DEPTH: usize = 32;

pub fn content_type(model: &ServiceModel) -> String {
    let version = model.metadata.json_version.as_deref().unwrap_or("1.1");
    format!("application/x-amz-json-{version}")
}

/// Decodes a JSON body into the input shape's tree; unknown members are ignored.
pub fn decode_input(model: &ServiceModel, input_shape: Option<&str>, body: &[u8]) -> Result<Value, DecodeError> {
    let parsed: Value = if body.iter().all(|b| b.is_ascii_whitespace()) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| DecodeError::new("", format!("Malformed JSON body: {e}")))?
    };
    let Some(shape_name) = input_shape else {
        return Ok(Value::Object(Map::new()));
    };
    let decoded = decode_value(model, model.shape(shape_name), &parsed, "", 0)?;
    Ok(decoded.unwrap_or_else(|| Value::Object(Map::new())))
}

fn decode_value(
    model: &ServiceModel,
    shape: &Shape,
    value: &Value,
    path: &str,
    depth: usize,
) -> Result<Option<Value>, DecodeError> {
    if value.is_null() {
        return Ok(None);
    }
    if depth > MAX_DEPTH {
        return Err(DecodeError::new(path, "Request nests too deeply"));
    }
    let mismatch = |expected: &str| {
        DecodeError::new(
            path,
            format!("Expected {expected} at '{}'", if path.is_empty() { "$" } else { path }),
        )
    };
    let decoded = match shape.shape_type {
        ShapeType::Structure => {
            let Value::Object(fields) = value else {
                return Err(mismatch("an object"));
            };
            let mut out = Map::new();
            for (name, member) in &shape.members {
                if let Some(v) = fields.get(name) {
                    let member_shape = model.shape(&member.shape);
                    let p = child_path(path, name);
                    if let Some(d) = decode_value(model, member_shape, v, &p, depth + 1)? {
                        out.insert(name.clone(), d);
                    }
                }
            }
            Value::Object(out)
        }
        ShapeType::List => {
            let Value::Array(items) = value else {
                return Err(mismatch("a list"));
            };
            let Some(member) = shape.member.as_deref() else {
                return Ok(None);
            };
            let item_shape = model.shape(&member.shape);
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}.{}.member", i + 1);
                if let Some(d) = decode_value(model, item_shape, item, &p, depth + 1)? {
                    out.push(d);
                }
            }
            Value::Array(out)
        }
        ShapeType::Map => {
            let Value::Object(entries) = value else {
                return Err(mismatch("a map"));
            };
            let Some(value_member) = shape.value.as_deref() else {
                return Ok(None);
            };
            let value_shape = model.shape(&value_member.shape);
            let mut out = Map::new();
            for (k, v) in entries {
                if let Some(d) = decode_value(model, value_shape, v, path, depth + 1)? {
                    out.insert(k.clone(), d);
                }
            }
            Value::Object(out)
        }
        ShapeType::String => match value {
            Value::String(_) => value.clone(),
            _ => return Err(mismatch("a string")),
        },
        ShapeType::Integer | ShapeType::Long => match value.as_i64() {
            Some(_) => value.clone(),
            None => return Err(mismatch("an integer")),
        },
        ShapeType::Float | ShapeType::Double => match value {
            Value::Number(_) => value.clone(),
            _ => return Err(mismatch("a number")),
        },
        ShapeType::Boolean => match value {
            Value::Bool(_) => value.clone(),
            _ => return Err(mismatch("a boolean")),
        },
        ShapeType::Timestamp => {
            let secs = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => parse_timestamp(s),
                _ => None,
            };
            match secs.and_then(serde_json::Number::from_f64) {
                Some(n) => Value::Number(n),
                None => return Err(mismatch("a timestamp")),
            }
        }
        ShapeType::Blob => match value {
            Value::String(s) if base64::engine::general_purpose::STANDARD.decode(s).is_ok() => value.clone(),
            _ => return Err(mismatch("base64 data")),
        },
    };
    Ok(Some(decoded))
}

/// Renders an output tree: members by model name, nulls dropped.
pub fn encode_output(model: &ServiceModel, output_shape: Option<&str>, output: &Value) -> String {
    match output_shape {
        Some(name) => encode_value(model, model.shape(name), output).to_string(),
        None => "{}".to_string(),
    }
}

fn encode_value(model: &ServiceModel, shape: &Shape, value: &Value) -> Value {
    match (shape.shape_type, value) {
        (ShapeType::Structure, Value::Object(fields)) => {
            let mut out = Map::new();
            for (name, member) in &shape.members {
                if let Some(v) = fields.get(name).filter(|v| !v.is_null()) {
                    out.insert(name.clone(), encode_value(model, model.shape(&member.shape), v));
                }
            }
            Value::Object(out)
        }
        (ShapeType::List, Value::Array(items)) => match shape.member.as_deref() {
            Some(m) => {
                let item_shape = model.shape(&m.shape);
                Value::Array(items.iter().map(|i| encode_value(model, item_shape, i)).collect())
            }
            None => Value::Array(Vec::new()),
        },
        (ShapeType::Map, Value::Object(entries)) => match shape.value.as_deref() {
            Some(m) => {
                let value_shape = model.shape(&m.shape);
                Value::Object(
                    entries
                        .iter()
                        .map(|(k, v)| (k.clone(), encode_value(model, value_shape, v)))
                        .collect(),
                )
            }
            None => Value::Object(Map::new()),
        },
        (ShapeType::Timestamp, Value::String(s)) => parse_timestamp(s)
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        _ => value.clone(),
    }
}

/// The JSON error envelope: `{"__type": code, "message": …}`.
pub fn encode_error(error: &AwsError) -> String {
    serde_json::json!({ "__type": error.code, "message": error.message }).to_string()
}

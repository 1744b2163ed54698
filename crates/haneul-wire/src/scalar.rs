//! Text → typed scalar, shared by the protocols that carry scalars as text (query, EC2,
//! rest-xml bodies, URI labels, query strings and headers).

use base64::Engine;
use serde_json::Value;

use crate::decode_error::DecodeError;
use crate::model::{Shape, ShapeType};
use crate::value::parse_timestamp;

pub fn scalar_from_text(shape: &Shape, text: &str, path: &str) -> Result<Value, DecodeError> {
    let bad = |what: &str| DecodeError::new(path, format!("Value '{text}' at '{path}' is not {what}"));
    match shape.shape_type {
        ShapeType::String => Ok(Value::String(text.to_string())),
        ShapeType::Integer | ShapeType::Long => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| bad("a valid integer")),
        ShapeType::Float | ShapeType::Double => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            .ok_or_else(|| bad("a valid number")),
        ShapeType::Boolean => match text.trim() {
            "true" | "True" | "TRUE" => Ok(Value::Bool(true)),
            "false" | "False" | "FALSE" => Ok(Value::Bool(false)),
            _ => Err(bad("a valid boolean")),
        },
        ShapeType::Timestamp => parse_timestamp(text.trim())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| bad("a valid timestamp")),
        ShapeType::Blob => base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map(|_| Value::String(text.trim().to_string()))
            .map_err(|_| bad("valid base64")),
        ShapeType::Structure | ShapeType::List | ShapeType::Map => Err(bad("a scalar value where one was expected")),
    }
}

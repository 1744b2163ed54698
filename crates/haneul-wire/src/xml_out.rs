//! Shape-driven XML output for the query, EC2 and rest-xml protocols.

use serde_json::Value;

use crate::model::{ServiceModel, Shape, ShapeType};
use crate::value::iso8601;

/// Escapes text for XML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// Appends XML to a string; elements are written in model order.
pub struct XmlWriter {
    out: String,
}

impl Default for XmlWriter {
    fn default() -> Self {
        XmlWriter::new()
    }
}

impl XmlWriter {
    pub fn new() -> XmlWriter {
        XmlWriter {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        }
    }

    pub fn open_with_ns(&mut self, name: &str, namespace: &str) {
        if namespace.is_empty() {
            self.open(name);
        } else {
            self.out.push_str(&format!("<{name} xmlns=\"{}\">", escape(namespace)));
        }
    }

    pub fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    pub fn leaf(&mut self, name: &str, text: &str) {
        self.open(name);
        self.out.push_str(&escape(text));
        self.close(name);
    }

    pub fn finish(self) -> String {
        self.out
    }

    /// Writes the members of a structure value (without an element for the structure).
    pub fn members(&mut self, model: &ServiceModel, shape: &Shape, value: &Value) {
        let Value::Object(fields) = value else {
            return;
        };
        for (name, member) in &shape.members {
            if member.location.is_some() {
                continue; // headers, status code: not in the body
            }
            let Some(v) = fields.get(name) else {
                continue;
            };
            if v.is_null() {
                continue;
            }
            let element = member.location_name.as_deref().unwrap_or(name);
            let member_shape = model.shape(&member.shape);
            let flattened = member.flattened || member_shape.flattened;
            self.element(model, element, member_shape, v, flattened);
        }
    }

    /// Writes `value` as the element `name` of shape `shape`.
    pub fn element(&mut self, model: &ServiceModel, name: &str, shape: &Shape, value: &Value, flattened: bool) {
        match shape.shape_type {
            ShapeType::Structure => {
                self.open(name);
                self.members(model, shape, value);
                self.close(name);
            }
            ShapeType::List => self.list(model, name, shape, value, flattened),
            ShapeType::Map => self.map(model, name, shape, value),
            ShapeType::Timestamp => self.leaf(name, &iso8601(value)),
            _ => self.leaf(name, &scalar_text(value)),
        }
    }

    fn list(&mut self, model: &ServiceModel, name: &str, shape: &Shape, value: &Value, flattened: bool) {
        let Some(member) = shape.member.as_deref() else {
            return;
        };
        let items: &[Value] = match value {
            Value::Array(items) => items,
            _ => &[],
        };
        let item_shape = model.shape(&member.shape);
        if flattened {
            let item_name = member.location_name.as_deref().unwrap_or(name);
            for item in items {
                self.element(model, item_name, item_shape, item, false);
            }
            return;
        }
        let item_name = member.location_name.as_deref().unwrap_or("member");
        self.open(name);
        for item in items {
            self.element(model, item_name, item_shape, item, false);
        }
        self.close(name);
    }

    fn map(&mut self, model: &ServiceModel, name: &str, shape: &Shape, value: &Value) {
        let (Some(key), Some(val)) = (shape.key.as_deref(), shape.value.as_deref()) else {
            return;
        };
        let Value::Object(entries) = value else {
            return;
        };
        let key_name = key.location_name.as_deref().unwrap_or("key");
        let value_name = val.location_name.as_deref().unwrap_or("value");
        let value_shape = model.shape(&val.shape);
        self.open(name);
        for (k, v) in entries {
            self.open("entry");
            self.leaf(key_name, k);
            self.element(model, value_name, value_shape, v, false);
            self.close("entry");
        }
        self.close(name);
    }
}

/// The text of a scalar value: strings as they are, numbers and booleans printed.
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

//! The query protocol (STS, ELBv2) and its EC2 dialect: form-encoded input
//! (`Filter.1.Value.1=x`), XML output.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::decode_error::{child_path, DecodeError};
use crate::error::AwsError;
use crate::model::{Member, ServiceModel, Shape, ShapeType};
use crate::scalar::scalar_from_text;
use crate::value::upper_first;
use crate::xml_out::{escape, XmlWriter};

/// Most parameters one request may carry; more is a hostile or broken client.
pub const MAX_PARAMS: usize = 10_000;
/// Highest list index a query request may use (`Name.member.N`).
pub const MAX_LIST_INDEX: usize = 10_000;

/// Form parameters arranged by their dotted names.
#[derive(Default, Debug)]
struct ParamNode {
    value: Option<String>,
    children: BTreeMap<String, ParamNode>,
}

impl ParamNode {
    fn build(params: &[(String, String)]) -> ParamNode {
        let mut root = ParamNode::default();
        for (name, value) in params {
            let mut node = &mut root;
            for part in name.split('.') {
                node = node.children.entry(part.to_string()).or_default();
            }
            node.value = Some(value.clone());
        }
        root
    }

    /// Children named `1`, `2`, … in numeric order.
    fn indexed(&self, path: &str) -> Result<Vec<&ParamNode>, DecodeError> {
        let mut items: Vec<(usize, &ParamNode)> = Vec::new();
        for (key, child) in &self.children {
            let Ok(index) = key.parse::<usize>() else {
                continue;
            };
            if index == 0 || index > MAX_LIST_INDEX {
                return Err(DecodeError::new(
                    path,
                    format!("List index {index} at '{path}' is out of range"),
                ));
            }
            items.push((index, child));
        }
        items.sort_by_key(|(i, _)| *i);
        Ok(items.into_iter().map(|(_, n)| n).collect())
    }
}

/// Which naming rules apply: plain query or EC2's dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Query,
    Ec2,
}

/// The wire name of a structure member in request parameters.
fn param_name(dialect: Dialect, name: &str, member: &Member) -> String {
    match dialect {
        Dialect::Query => member.location_name.clone().unwrap_or_else(|| name.to_string()),
        Dialect::Ec2 => member
            .query_name
            .clone()
            .or_else(|| member.location_name.as_deref().map(upper_first))
            .unwrap_or_else(|| name.to_string()),
    }
}

/// Decodes form parameters (minus `Action`/`Version`) into the input shape's tree.
pub fn decode_input(
    model: &ServiceModel,
    input_shape: Option<&str>,
    params: &[(String, String)],
    dialect: Dialect,
) -> Result<Value, DecodeError> {
    if params.len() > MAX_PARAMS {
        return Err(DecodeError::new("", "Too many request parameters"));
    }
    let Some(shape_name) = input_shape else {
        return Ok(Value::Object(Map::new()));
    };
    let root = ParamNode::build(params);
    let decoded = decode_node(model, model.shape(shape_name), &root, dialect, "")?;
    Ok(decoded.unwrap_or_else(|| Value::Object(Map::new())))
}

fn decode_node(
    model: &ServiceModel,
    shape: &Shape,
    node: &ParamNode,
    dialect: Dialect,
    path: &str,
) -> Result<Option<Value>, DecodeError> {
    match shape.shape_type {
        ShapeType::Structure => {
            let mut out = Map::new();
            for (name, member) in &shape.members {
                let key = param_name(dialect, name, member);
                if let Some(child) = node.children.get(&key) {
                    let member_path = child_path(path, name);
                    let member_shape = model.shape(&member.shape);
                    if let Some(v) = decode_node(model, member_shape, child, dialect, &member_path)? {
                        out.insert(name.clone(), v);
                    }
                }
            }
            Ok(Some(Value::Object(out)))
        }
        ShapeType::List => {
            let Some(member) = shape.member.as_deref() else {
                return Ok(None);
            };
            let holder = if dialect == Dialect::Ec2 || member.flattened || shape.flattened {
                Some(node)
            } else {
                node.children.get(member.location_name.as_deref().unwrap_or("member"))
            };
            let mut items = Vec::new();
            if let Some(holder) = holder {
                let item_shape = model.shape(&member.shape);
                for (i, child) in holder.indexed(path)?.into_iter().enumerate() {
                    let item_path = format!("{path}.{}.member", i + 1);
                    if let Some(v) = decode_node(model, item_shape, child, dialect, &item_path)? {
                        items.push(v);
                    }
                }
            }
            Ok(Some(Value::Array(items)))
        }
        ShapeType::Map => decode_map(model, shape, node, dialect, path),
        _ => match &node.value {
            Some(text) => scalar_from_text(shape, text, path).map(Some),
            None => Ok(None),
        },
    }
}

fn decode_map(
    model: &ServiceModel,
    shape: &Shape,
    node: &ParamNode,
    dialect: Dialect,
    path: &str,
) -> Result<Option<Value>, DecodeError> {
    let (Some(key_member), Some(value_member)) = (shape.key.as_deref(), shape.value.as_deref()) else {
        return Ok(None);
    };
    let holder = if shape.flattened {
        Some(node)
    } else {
        node.children.get("entry")
    };
    let key_name = key_member.location_name.as_deref().unwrap_or("key");
    let value_name = value_member.location_name.as_deref().unwrap_or("value");
    let mut out = Map::new();
    if let Some(holder) = holder {
        for entry in holder.indexed(path)? {
            let Some(key) = entry.children.get(key_name).and_then(|k| k.value.clone()) else {
                continue;
            };
            let value_shape = model.shape(&value_member.shape);
            let value = match entry.children.get(value_name) {
                Some(v) => decode_node(model, value_shape, v, dialect, path)?,
                None => None,
            };
            out.insert(key, value.unwrap_or(Value::Null));
        }
    }
    Ok(Some(Value::Object(out)))
}

/// Renders a successful response: `<OpResponse>` with the result (query wraps it in
/// `<OpResult>` and adds `ResponseMetadata`; EC2 puts `requestId` first).
pub fn encode_output(
    model: &ServiceModel,
    operation: &str,
    output: &Value,
    request_id: &str,
    dialect: Dialect,
) -> String {
    let op = model.operations.get(operation);
    let namespace = xml_namespace(model);
    let mut w = XmlWriter::new();
    w.open_with_ns(&format!("{operation}Response"), &namespace);
    if dialect == Dialect::Ec2 {
        w.leaf("requestId", request_id);
    }
    if let Some(out_ref) = op.and_then(|o| o.output.as_ref()) {
        let shape = model.shape(&out_ref.shape);
        let wrapper = match dialect {
            Dialect::Query => out_ref.result_wrapper.clone(),
            Dialect::Ec2 => None,
        };
        if let Some(wrapper) = &wrapper {
            w.open(wrapper);
        }
        w.members(model, shape, output);
        if let Some(wrapper) = &wrapper {
            w.close(wrapper);
        }
    }
    if dialect == Dialect::Query {
        w.open("ResponseMetadata");
        w.leaf("RequestId", request_id);
        w.close("ResponseMetadata");
    }
    w.close(&format!("{operation}Response"));
    w.finish()
}

fn xml_namespace(model: &ServiceModel) -> String {
    let ns = model.metadata.xml_namespace.clone().unwrap_or_default();
    if ns.is_empty() || ns.ends_with('/') {
        ns
    } else {
        format!("{ns}/")
    }
}

/// The error envelope: `<ErrorResponse>` for query, `<Response><Errors>` for EC2.
pub fn encode_error(model: &ServiceModel, error: &AwsError, request_id: &str, dialect: Dialect) -> String {
    let code = escape(&error.code);
    let message = escape(&error.message);
    match dialect {
        Dialect::Ec2 => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ),
        Dialect::Query => {
            let kind = if error.sender_fault { "Sender" } else { "Receiver" };
            let ns = escape(&xml_namespace(model));
            format!(
                "<ErrorResponse xmlns=\"{ns}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{code}</Code>\n    <Message>{message}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n"
            )
        }
    }
}

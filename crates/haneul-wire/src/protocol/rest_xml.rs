//! The rest-xml protocol (Route 53): the operation comes from method + URI template, members
//! from the URI, query string, headers and an XML body.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::decode_error::{child_path, DecodeError};
use crate::error::AwsError;
use crate::model::{Location, ServiceModel, Shape, ShapeType};
use crate::scalar::scalar_from_text;
use crate::xml_in::{self, Element};
use crate::xml_out::{escape, scalar_text, XmlWriter};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Label(String),
    Greedy(String),
}

/// One operation's `requestUri`, parsed once at start-up.
#[derive(Debug, Clone)]
struct UriTemplate {
    method: String,
    operation: String,
    segments: Vec<Segment>,
    /// Query parameters the template itself fixes (`?tagging`, `?type=x`).
    fixed_query: Vec<(String, Option<String>)>,
}

/// Method + path → operation, for one rest-xml service.
#[derive(Debug, Clone)]
pub struct Router {
    templates: Vec<UriTemplate>,
}

fn split_path(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

impl Router {
    pub fn new(model: &ServiceModel) -> Router {
        let mut templates: Vec<UriTemplate> = model
            .operations
            .values()
            .map(|op| {
                let (path, query) = match op.http.request_uri.split_once('?') {
                    Some((p, q)) => (p, q),
                    None => (op.http.request_uri.as_str(), ""),
                };
                let segments = split_path(path)
                    .into_iter()
                    .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(label) => match label.strip_suffix('+') {
                            Some(greedy) => Segment::Greedy(greedy.to_string()),
                            None => Segment::Label(label.to_string()),
                        },
                        None => Segment::Literal(s.to_string()),
                    })
                    .collect();
                let fixed_query = form_urlencoded::parse(query.as_bytes())
                    .map(|(k, v)| (k.into_owned(), (!v.is_empty()).then(|| v.into_owned())))
                    .collect();
                UriTemplate {
                    method: op.http.method.clone(),
                    operation: op.name.clone(),
                    segments,
                    fixed_query,
                }
            })
            .collect();
        // Most literal segments first, so `/hostedzone/{Id}/rrset` beats `/hostedzone/{Id}`.
        templates.sort_by_key(|t| {
            let literals = t.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
            (
                usize::MAX - t.fixed_query.len(),
                usize::MAX - literals,
                t.operation.clone(),
            )
        });
        Router { templates }
    }

    /// The operation and its URI labels (percent-decoded) for a request.
    pub fn route(
        &self,
        method: &str,
        raw_path: &str,
        query: &[(String, String)],
    ) -> Option<(String, HashMap<String, String>)> {
        let parts: Vec<String> = split_path(raw_path)
            .into_iter()
            .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        'templates: for t in &self.templates {
            if !t.method.eq_ignore_ascii_case(method) {
                continue;
            }
            for (k, v) in &t.fixed_query {
                let present = query
                    .iter()
                    .any(|(qk, qv)| qk == k && v.as_ref().is_none_or(|v| v == qv));
                if !present {
                    continue 'templates;
                }
            }
            let mut labels = HashMap::new();
            let mut i = 0;
            for seg in &t.segments {
                match seg {
                    Segment::Literal(lit) => {
                        if parts.get(i) != Some(lit) {
                            continue 'templates;
                        }
                        i += 1;
                    }
                    Segment::Label(name) => {
                        let Some(part) = parts.get(i) else {
                            continue 'templates;
                        };
                        labels.insert(name.clone(), part.clone());
                        i += 1;
                    }
                    Segment::Greedy(name) => {
                        if i >= parts.len() {
                            continue 'templates;
                        }
                        labels.insert(name.clone(), parts[i..].join("/"));
                        i = parts.len();
                    }
                }
            }
            if i == parts.len() {
                return Some((t.operation.clone(), labels));
            }
        }
        None
    }
}

/// What a rest-xml request carries besides its body.
pub struct RestRequest<'a> {
    pub labels: &'a HashMap<String, String>,
    pub query: &'a [(String, String)],
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

pub fn decode_input(
    model: &ServiceModel,
    input_shape: Option<&str>,
    req: &RestRequest<'_>,
) -> Result<Value, DecodeError> {
    let Some(shape_name) = input_shape else {
        return Ok(Value::Object(Map::new()));
    };
    let shape = model.shape(shape_name);
    let mut out = Map::new();
    let has_body = !req.body.iter().all(|b| b.is_ascii_whitespace());
    let root = if has_body {
        Some(xml_in::parse(req.body).map_err(|e| DecodeError::new("", e.to_string()))?)
    } else {
        None
    };
    for (name, member) in &shape.members {
        let member_shape = model.shape(&member.shape);
        let wire_name = member.location_name.as_deref().unwrap_or(name);
        let path = child_path("", name);
        let value = match member.location {
            Some(Location::Uri) => match req.labels.get(wire_name) {
                Some(text) => Some(scalar_from_text(member_shape, text, &path)?),
                None => None,
            },
            Some(Location::Querystring) => decode_query_member(member_shape, model, wire_name, req.query, &path)?,
            Some(Location::Header) => match req.headers.get(wire_name).and_then(|v| v.to_str().ok()) {
                Some(text) => Some(scalar_from_text(member_shape, text, &path)?),
                None => None,
            },
            Some(_) => None,
            None => match &root {
                Some(root) if shape.payload.as_deref() == Some(name) => {
                    decode_element(model, member_shape, root, &path)?
                }
                Some(root) => match root.child(wire_name) {
                    Some(el) => decode_element(model, member_shape, el, &path)?,
                    None if member_shape.shape_type == ShapeType::List && member.flattened => {
                        decode_flattened(model, member_shape, root, wire_name, &path)?
                    }
                    None => None,
                },
                None => None,
            },
        };
        if let Some(v) = value {
            out.insert(name.clone(), v);
        }
    }
    Ok(Value::Object(out))
}

fn decode_query_member(
    shape: &Shape,
    model: &ServiceModel,
    wire_name: &str,
    query: &[(String, String)],
    path: &str,
) -> Result<Option<Value>, DecodeError> {
    let mut values = query.iter().filter(|(k, _)| k == wire_name).map(|(_, v)| v);
    if shape.shape_type == ShapeType::List {
        let Some(member) = shape.member.as_deref() else {
            return Ok(None);
        };
        let item_shape = model.shape(&member.shape);
        let items: Result<Vec<Value>, DecodeError> = values.map(|v| scalar_from_text(item_shape, v, path)).collect();
        let items = items?;
        return Ok((!items.is_empty()).then_some(Value::Array(items)));
    }
    match values.next() {
        Some(text) => scalar_from_text(shape, text, path).map(Some),
        None => Ok(None),
    }
}

fn decode_flattened(
    model: &ServiceModel,
    shape: &Shape,
    parent: &Element,
    name: &str,
    path: &str,
) -> Result<Option<Value>, DecodeError> {
    let Some(member) = shape.member.as_deref() else {
        return Ok(None);
    };
    let item_shape = model.shape(&member.shape);
    let item_name = member.location_name.as_deref().unwrap_or(name);
    let mut items = Vec::new();
    for (i, el) in parent.children_named(item_name).enumerate() {
        let p = format!("{path}.{}.member", i + 1);
        if let Some(v) = decode_element(model, item_shape, el, &p)? {
            items.push(v);
        }
    }
    Ok(Some(Value::Array(items)))
}

fn decode_element(model: &ServiceModel, shape: &Shape, el: &Element, path: &str) -> Result<Option<Value>, DecodeError> {
    match shape.shape_type {
        ShapeType::Structure => {
            let mut out = Map::new();
            for (name, member) in &shape.members {
                let member_shape = model.shape(&member.shape);
                let wire_name = member.location_name.as_deref().unwrap_or(name);
                let p = child_path(path, name);
                let flattened = member.flattened || member_shape.flattened;
                let v = if flattened && member_shape.shape_type == ShapeType::List {
                    decode_flattened(model, member_shape, el, wire_name, &p)?
                } else {
                    match el.child(wire_name) {
                        Some(child) => decode_element(model, member_shape, child, &p)?,
                        None => None,
                    }
                };
                if let Some(v) = v {
                    out.insert(name.clone(), v);
                }
            }
            Ok(Some(Value::Object(out)))
        }
        ShapeType::List => {
            let Some(member) = shape.member.as_deref() else {
                return Ok(None);
            };
            let item_name = member.location_name.as_deref().unwrap_or("member");
            let item_shape = model.shape(&member.shape);
            let mut items = Vec::new();
            for (i, child) in el.children_named(item_name).enumerate() {
                let p = format!("{path}.{}.member", i + 1);
                if let Some(v) = decode_element(model, item_shape, child, &p)? {
                    items.push(v);
                }
            }
            Ok(Some(Value::Array(items)))
        }
        ShapeType::Map => {
            let (Some(key), Some(value)) = (shape.key.as_deref(), shape.value.as_deref()) else {
                return Ok(None);
            };
            let key_name = key.location_name.as_deref().unwrap_or("key");
            let value_name = value.location_name.as_deref().unwrap_or("value");
            let value_shape = model.shape(&value.shape);
            let mut out = Map::new();
            for entry in el.children_named("entry") {
                let Some(k) = entry.child(key_name) else { continue };
                let v = match entry.child(value_name) {
                    Some(v) => decode_element(model, value_shape, v, path)?,
                    None => None,
                };
                out.insert(k.text.clone(), v.unwrap_or(Value::Null));
            }
            Ok(Some(Value::Object(out)))
        }
        _ => scalar_from_text(shape, &el.text, path).map(Some),
    }
}

/// The namespace route53-style services put on their XML (from any operation's input).
pub fn namespace(model: &ServiceModel) -> String {
    model
        .operations
        .values()
        .find_map(|op| op.input.as_ref().and_then(|i| i.xml_namespace.as_ref()))
        .map(|ns| ns.uri.clone())
        .or_else(|| model.metadata.xml_namespace.clone())
        .unwrap_or_default()
}

/// A rendered response: status, headers and body.
pub struct RestResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

pub fn encode_output(model: &ServiceModel, operation: &str, output: &Value) -> RestResponse {
    let op = model.operations.get(operation);
    let status = op.and_then(|o| o.http.response_code).unwrap_or(200);
    let mut headers = Vec::new();
    let Some(out_ref) = op.and_then(|o| o.output.as_ref()) else {
        return RestResponse {
            status,
            headers,
            body: String::new(),
        };
    };
    let shape = model.shape(&out_ref.shape);
    let empty = Map::new();
    let fields = output.as_object().unwrap_or(&empty);
    for (name, member) in &shape.members {
        if member.location == Some(Location::Header) {
            if let Some(v) = fields.get(name).filter(|v| !v.is_null()) {
                let header = member.location_name.clone().unwrap_or_else(|| name.clone());
                headers.push((header, scalar_text(v)));
            }
        }
    }
    let mut w = XmlWriter::new();
    if let Some(payload) = &shape.payload {
        let Some(member) = shape.members.get(payload) else {
            return RestResponse {
                status,
                headers,
                body: String::new(),
            };
        };
        let Some(v) = fields.get(payload).filter(|v| !v.is_null()) else {
            return RestResponse {
                status,
                headers,
                body: String::new(),
            };
        };
        let name = member.location_name.as_deref().unwrap_or(payload);
        w.element(model, name, model.shape(&member.shape), v, false);
        return RestResponse {
            status,
            headers,
            body: w.finish(),
        };
    }
    let has_body_members = shape.members.values().any(|m| m.location.is_none());
    if !has_body_members {
        return RestResponse {
            status,
            headers,
            body: String::new(),
        };
    }
    let root = out_ref.location_name.clone().unwrap_or_else(|| out_ref.shape.clone());
    w.open_with_ns(&root, &namespace(model));
    w.members(model, shape, output);
    w.close(&root);
    RestResponse {
        status,
        headers,
        body: w.finish(),
    }
}

pub fn encode_error(model: &ServiceModel, error: &AwsError, request_id: &str) -> String {
    let kind = if error.sender_fault { "Sender" } else { "Receiver" };
    format!(
        "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"{}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        escape(&namespace(model)),
        escape(&error.code),
        escape(&error.message)
    )
}

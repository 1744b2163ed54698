//! The botocore `service-2.json` model: the source of truth for member names, wire locations,
//! types and constraints. Models are vendored (documentation stripped) under `models/`.

use std::collections::HashMap;

use serde::Deserialize;

/// The wire protocol a service speaks, from `metadata.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Protocol {
    #[serde(rename = "query")]
    Query,
    #[serde(rename = "ec2")]
    Ec2,
    #[serde(rename = "json")]
    Json,
    #[serde(rename = "rest-json")]
    RestJson,
    #[serde(rename = "rest-xml")]
    RestXml,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub api_version: String,
    pub endpoint_prefix: String,
    pub protocol: Protocol,
    #[serde(default)]
    pub signing_name: Option<String>,
    #[serde(default)]
    pub target_prefix: Option<String>,
    #[serde(default)]
    pub json_version: Option<String>,
    #[serde(default)]
    pub xml_namespace: Option<String>,
    pub service_id: String,
}

#[derive(Debug, Deserialize)]
pub struct HttpTrait {
    pub method: String,
    #[serde(rename = "requestUri")]
    pub request_uri: String,
    #[serde(rename = "responseCode", default)]
    pub response_code: Option<u16>,
}

#[derive(Debug, Deserialize)]
pub struct XmlNamespace {
    pub uri: String,
}

/// A reference from an operation to its input or output shape.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShapeRef {
    pub shape: String,
    #[serde(default)]
    pub location_name: Option<String>,
    #[serde(default)]
    pub result_wrapper: Option<String>,
    #[serde(default)]
    pub xml_namespace: Option<XmlNamespace>,
}

#[derive(Debug, Deserialize)]
pub struct Operation {
    pub name: String,
    pub http: HttpTrait,
    #[serde(default)]
    pub input: Option<ShapeRef>,
    #[serde(default)]
    pub output: Option<ShapeRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeType {
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Float,
    Double,
    Boolean,
    Timestamp,
    Blob,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    Uri,
    Querystring,
    Header,
    Headers,
    StatusCode,
}

/// A member of a structure, or the member/key/value of a list or map.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub shape: String,
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    pub location_name: Option<String>,
    #[serde(default)]
    pub query_name: Option<String>,
    #[serde(default)]
    pub flattened: bool,
    #[serde(default)]
    pub xml_attribute: bool,
    #[serde(default)]
    pub idempotency_token: bool,
    #[serde(default)]
    pub timestamp_format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorTrait {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub http_status_code: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    #[serde(rename = "type")]
    pub shape_type: ShapeType,
    /// Structure members in the model's order (XML output keeps it).
    #[serde(default)]
    pub members: indexmap::IndexMap<String, Member>,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub member: Option<Box<Member>>,
    #[serde(default)]
    pub key: Option<Box<Member>>,
    #[serde(default)]
    pub value: Option<Box<Member>>,
    #[serde(default)]
    pub flattened: bool,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default, rename = "enum")]
    pub enum_values: Vec<String>,
    /// The model's regular expression (not implicitly anchored, as Smithy defines it).
    #[serde(default)]
    pub pattern: Option<String>,
    /// `pattern` compiled at load; `None` when absent or not expressible here.
    #[serde(skip)]
    pub pattern_regex: Option<fancy_regex::Regex>,
    #[serde(default)]
    pub timestamp_format: Option<String>,
    #[serde(default)]
    pub location_name: Option<String>,
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub error: Option<ErrorTrait>,
    #[serde(default)]
    pub exception: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model {service} does not parse: {source}")]
    Parse { service: String, source: serde_json::Error },
    #[error("model {service}: shape {shape} is referenced but not defined")]
    MissingShape { service: String, shape: String },
}

#[derive(Debug, Deserialize)]
pub struct ServiceModel {
    pub metadata: Metadata,
    pub operations: HashMap<String, Operation>,
    pub shapes: HashMap<String, Shape>,
}

impl ServiceModel {
    /// Parses a model and checks that every shape reference resolves, so lookups after
    /// loading cannot fail.
    pub fn parse(service: &str, json: &str) -> Result<ServiceModel, ModelError> {
        let mut model: ServiceModel = serde_json::from_str(json).map_err(|source| ModelError::Parse {
            service: service.to_string(),
            source,
        })?;
        model.check_references(service)?;
        model.compile_patterns(service);
        Ok(model)
    }

    fn check_references(&self, service: &str) -> Result<(), ModelError> {
        let missing = |shape: &str| ModelError::MissingShape {
            service: service.to_string(),
            shape: shape.to_string(),
        };
        for op in self.operations.values() {
            for r in [&op.input, &op.output].into_iter().flatten() {
                if !self.shapes.contains_key(&r.shape) {
                    return Err(missing(&r.shape));
                }
            }
        }
        for shape in self.shapes.values() {
            let nested = shape.members.values().chain(
                [&shape.member, &shape.key, &shape.value]
                    .into_iter()
                    .flatten()
                    .map(|m| m.as_ref()),
            );
            for m in nested {
                if !self.shapes.contains_key(&m.shape) {
                    return Err(missing(&m.shape));
                }
            }
        }
        Ok(())
    }

    /// Compiles every `pattern`; one that does not compile is logged and left unchecked
    /// rather than rejecting valid requests.
    fn compile_patterns(&mut self, service: &str) {
        for (name, shape) in self.shapes.iter_mut() {
            let Some(pattern) = &shape.pattern else { continue };
            match fancy_regex::Regex::new(pattern) {
                Ok(re) => shape.pattern_regex = Some(re),
                Err(e) => tracing::warn!(service, shape = %name, pattern, error = %e, "model pattern not checked"),
            }
        }
    }

    /// The shape named `name`. Every name reachable from an operation was checked in
    /// [`ServiceModel::parse`], so a miss here is a programmer error.
    pub fn shape(&self, name: &str) -> &Shape {
        match self.shapes.get(name) {
            Some(s) => s,
            None => panic!("shape {name} not in model (references are checked at load)"),
        }
    }

    /// The name SigV4 credential scopes use for this service.
    pub fn signing_name(&self) -> &str {
        self.metadata
            .signing_name
            .as_deref()
            .unwrap_or(&self.metadata.endpoint_prefix)
    }
}

//! The API endpoint's request path: find the service and operation, authenticate, decode and
//! validate the input from the model, call the service, encode the answer or the error.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use crate::auth::{auth_error, AuthFailure, AuthMode};
use crate::context::RequestContext;
use crate::decode_error::DecodeError;
use crate::error::AwsError;
use crate::model::{ModelError, Protocol, ServiceModel};
use crate::protocol::query::Dialect;
use crate::protocol::{json, query, rest_xml};
use crate::sigv4::{self, SigV4Error, SignedRequest};
use crate::validate::{self, Violation, ViolationKind};

/// Largest API request body accepted; larger requests get 413 before they are read whole.
pub const MAX_API_BODY_BYTES: usize = 16 * 1024 * 1024;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A service's operations: plain async functions over the decoded, validated input tree.
pub trait Service: Send + Sync + 'static {
    /// Runs `operation`; an operation the service does not know yet returns
    /// `AwsError::not_implemented`.
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>>;
}

struct ServiceEntry {
    name: String,
    model: ServiceModel,
    handler: Option<Arc<dyn Service>>,
    router: Option<rest_xml::Router>,
}

/// A request, fully read.
pub struct ApiRequest {
    pub method: String,
    pub raw_path: String,
    pub raw_query: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// A response, fully rendered.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// Where requests go when nothing in them names an account or region.
#[derive(Clone)]
pub struct ApiConfig {
    pub default_account_id: String,
    pub default_region: String,
    pub auth: AuthMode,
}

/// Every registered AWS service behind the one endpoint.
pub struct Api {
    config: ApiConfig,
    services: Vec<ServiceEntry>,
}

/// What the request said about which service and operation it wants.
struct Target {
    service: usize,
    operation: Option<String>,
    /// rest-xml URI labels
    labels: std::collections::HashMap<String, String>,
}

impl Api {
    pub fn new(config: ApiConfig) -> Api {
        Api {
            config,
            services: Vec::new(),
        }
    }

    /// Adds a service by its model; `handler` None answers every valid request with
    /// `NotImplemented` (its wire validation still applies).
    pub fn register(
        &mut self,
        service: &str,
        model_json: &str,
        handler: Option<Arc<dyn Service>>,
    ) -> Result<(), ModelError> {
        let model = ServiceModel::parse(service, model_json)?;
        let router = (model.metadata.protocol == Protocol::RestXml).then(|| rest_xml::Router::new(&model));
        self.services.push(ServiceEntry {
            name: service.to_string(),
            model,
            handler,
            router,
        });
        Ok(())
    }

    pub fn config(&self) -> &ApiConfig {
        &self.config
    }

    /// Names of the registered services and whether each has operations behind it.
    pub fn services(&self) -> Vec<(String, bool)> {
        self.services
            .iter()
            .map(|s| (s.name.clone(), s.handler.is_some()))
            .collect()
    }

    pub async fn handle(&self, req: ApiRequest) -> ApiResponse {
        let request_id = uuid::Uuid::new_v4().to_string();
        let signed = SignedRequest {
            method: &req.method,
            raw_path: &req.raw_path,
            raw_query: &req.raw_query,
            headers: &req.headers,
            body: &req.body,
        };
        let signature = sigv4::parse(&signed);
        let params = form_params(&req);
        let scope_service = signature
            .as_ref()
            .ok()
            .and_then(|s| s.as_ref())
            .map(|s| s.service.clone());
        let Some(target) = self.find_target(&req, &params, scope_service.as_deref()) else {
            return unknown_service(&request_id);
        };
        let entry = &self.services[target.service];
        let ctx = match self.authenticate(&signed, signature, entry.model.metadata.protocol, &request_id) {
            Ok(ctx) => ctx,
            Err(e) => return render_error(entry, &e, &request_id),
        };
        match self.dispatch(entry, &target, &req, &params, &ctx).await {
            Ok((operation, output)) => render_output(entry, &operation, &output, &request_id),
            Err(e) => render_error(entry, &e, &request_id),
        }
    }

    fn find_target(
        &self,
        req: &ApiRequest,
        params: &[(String, String)],
        scope_service: Option<&str>,
    ) -> Option<Target> {
        let target_header = req.headers.get("x-amz-target").and_then(|v| v.to_str().ok());
        if let Some((prefix, op)) = target_header.and_then(|t| t.rsplit_once('.')) {
            let service = self
                .services
                .iter()
                .position(|s| s.model.metadata.target_prefix.as_deref() == Some(prefix))?;
            return Some(Target {
                service,
                operation: Some(op.to_string()),
                labels: Default::default(),
            });
        }
        let action = params.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.clone());
        if let Some(action) = action {
            let version = params.iter().find(|(k, _)| k == "Version").map(|(_, v)| v.as_str());
            let query_services = self
                .services
                .iter()
                .enumerate()
                .filter(|(_, s)| matches!(s.model.metadata.protocol, Protocol::Query | Protocol::Ec2));
            let mut fallback = None;
            for (i, s) in query_services {
                let by_scope = scope_service == Some(s.model.signing_name());
                let by_version = version == Some(s.model.metadata.api_version.as_str());
                if by_scope || (scope_service.is_none() && by_version) {
                    return Some(Target {
                        service: i,
                        operation: Some(action),
                        labels: Default::default(),
                    });
                }
                if fallback.is_none() && s.model.operations.contains_key(&action) {
                    fallback = Some(i);
                }
            }
            let service = fallback?;
            return Some(Target {
                service,
                operation: Some(action),
                labels: Default::default(),
            });
        }
        let query: Vec<(String, String)> = form_urlencoded::parse(req.raw_query.as_bytes()).into_owned().collect();
        for (i, s) in self.services.iter().enumerate() {
            let Some(router) = &s.router else { continue };
            if scope_service.is_some_and(|name| name != s.model.signing_name()) {
                continue;
            }
            if let Some((operation, labels)) = router.route(&req.method, &req.raw_path, &query) {
                return Some(Target {
                    service: i,
                    operation: Some(operation),
                    labels,
                });
            }
            if scope_service.is_some() {
                return Some(Target {
                    service: i,
                    operation: None,
                    labels: Default::default(),
                });
            }
        }
        None
    }

    fn authenticate(
        &self,
        req: &SignedRequest<'_>,
        signature: Result<Option<sigv4::Signature>, SigV4Error>,
        protocol: Protocol,
        request_id: &str,
    ) -> Result<RequestContext, AwsError> {
        let fail = |f: AuthFailure| auth_error(protocol, &f);
        let mut ctx = RequestContext {
            request_id: request_id.to_string(),
            account_id: self.config.default_account_id.clone(),
            region: self.config.default_region.clone(),
            access_key_id: String::new(),
            principal_arn: String::new(),
            principal_user_id: String::new(),
        };
        match &self.config.auth {
            AuthMode::Dev => {
                if let Ok(Some(sig)) = signature {
                    if sig.access_key_id.len() == 12 && sig.access_key_id.bytes().all(|b| b.is_ascii_digit()) {
                        ctx.account_id = sig.access_key_id.clone();
                    }
                    if !sig.region.is_empty() {
                        ctx.region = sig.region.clone();
                    }
                    ctx.access_key_id = sig.access_key_id;
                }
                ctx.principal_arn = format!("arn:aws:iam::{}:root", ctx.account_id);
                ctx.principal_user_id = ctx.account_id.clone();
                Ok(ctx)
            }
            AuthMode::Verified(lookup) => {
                let sig = signature
                    .map_err(|e| fail(AuthFailure::Signature(e)))?
                    .ok_or_else(|| fail(AuthFailure::Signature(SigV4Error::Missing)))?;
                let principal = lookup
                    .lookup(&sig.access_key_id)
                    .ok_or_else(|| fail(AuthFailure::UnknownKey))?;
                sigv4::check_time(&sig, time::OffsetDateTime::now_utc())
                    .map_err(|e| fail(AuthFailure::Signature(e)))?;
                sigv4::verify(req, &sig, &principal.secret_access_key).map_err(|e| fail(AuthFailure::Signature(e)))?;
                ctx.account_id = principal.account_id;
                ctx.region = sig.region.clone();
                ctx.access_key_id = sig.access_key_id;
                ctx.principal_arn = principal.arn;
                ctx.principal_user_id = principal.user_id;
                Ok(ctx)
            }
        }
    }

    async fn dispatch(
        &self,
        entry: &ServiceEntry,
        target: &Target,
        req: &ApiRequest,
        params: &[(String, String)],
        ctx: &RequestContext,
    ) -> Result<(String, Value), AwsError> {
        let model = &entry.model;
        let protocol = model.metadata.protocol;
        let operation = target
            .operation
            .as_deref()
            .and_then(|name| model.operations.get(name))
            .ok_or_else(|| unknown_operation(model, target.operation.as_deref().unwrap_or("")))?;
        let input_shape = operation.input.as_ref().map(|r| r.shape.as_str());
        let decoded = match protocol {
            Protocol::Query | Protocol::Ec2 => {
                let dialect = if protocol == Protocol::Ec2 {
                    Dialect::Ec2
                } else {
                    Dialect::Query
                };
                let rest: Vec<(String, String)> = params
                    .iter()
                    .filter(|(k, _)| k != "Action" && k != "Version")
                    .cloned()
                    .collect();
                query::decode_input(model, input_shape, &rest, dialect)
            }
            Protocol::Json | Protocol::RestJson => json::decode_input(model, input_shape, &req.body),
            Protocol::RestXml => {
                let query: Vec<(String, String)> =
                    form_urlencoded::parse(req.raw_query.as_bytes()).into_owned().collect();
                let rest = rest_xml::RestRequest {
                    labels: &target.labels,
                    query: &query,
                    headers: &req.headers,
                    body: &req.body,
                };
                rest_xml::decode_input(model, input_shape, &rest)
            }
        };
        let input = decoded.map_err(|e| decode_error(model, &e))?;
        if let Some(shape) = input_shape {
            let violations = validate::validate(model, shape, &input);
            if !violations.is_empty() {
                return Err(validation_error(model, shape, &violations));
            }
        }
        let Some(handler) = &entry.handler else {
            return Err(AwsError::not_implemented(&model.metadata.service_id, &operation.name));
        };
        let output = handler.call(ctx, &operation.name, input).await?;
        Ok((operation.name.clone(), output))
    }
}

/// Query parameters from the URL and, for form posts, the body.
fn form_params(req: &ApiRequest) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = form_urlencoded::parse(req.raw_query.as_bytes()).into_owned().collect();
    let content_type = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/x-www-form-urlencoded") {
        params.extend(form_urlencoded::parse(&req.body).into_owned());
    }
    params
}

fn unknown_operation(model: &ServiceModel, name: &str) -> AwsError {
    match model.metadata.protocol {
        Protocol::Ec2 => AwsError::bad_request(
            "InvalidAction",
            format!("The action {name} is not valid for this web service."),
        ),
        Protocol::Query => AwsError::bad_request(
            "InvalidAction",
            format!(
                "Could not find operation {name} for version {}",
                model.metadata.api_version
            ),
        ),
        Protocol::Json | Protocol::RestJson => {
            AwsError::bad_request("UnknownOperationException", format!("Unknown operation {name}"))
        }
        Protocol::RestXml => AwsError::not_found("UnknownOperationException", "The requested operation does not exist"),
    }
}

/// The code a service uses for model validation failures.
fn validation_code(model: &ServiceModel) -> &'static str {
    ["ValidationException", "InvalidInput", "InvalidParameterException"]
        .into_iter()
        .find(|c| model.shapes.get(*c).is_some_and(|s| s.exception))
        .unwrap_or("ValidationError")
}

fn validation_error(model: &ServiceModel, input_shape: &str, violations: &[Violation]) -> AwsError {
    if model.metadata.service_id == "ECR" {
        // ECR words model violations its own way, one at a time, as InvalidParameterException.
        let first = &violations[0];
        let constraint = first.constraint();
        let constraint = constraint.strip_prefix("Member ").unwrap_or(&constraint);
        return AwsError::bad_request(
            "InvalidParameterException",
            format!(
                "Invalid parameter at '{}' failed to satisfy constraint: '{constraint}'",
                first.path
            ),
        );
    }
    if model.metadata.service_id == "CloudWatch Logs" {
        // CloudWatch Logs reports model violations as InvalidParameterException.
        return AwsError::bad_request("InvalidParameterException", validate::message(violations));
    }
    if model.metadata.protocol != Protocol::Ec2 {
        return AwsError::bad_request(validation_code(model), validate::message(violations));
    }
    // EC2 names the first bad parameter the way the request spells it.
    let first = &violations[0];
    let shape = model.shape(input_shape);
    let wire_name = shape
        .members
        .get(&first.member)
        .and_then(|m| {
            m.query_name
                .clone()
                .or_else(|| m.location_name.as_deref().map(crate::value::upper_first))
        })
        .unwrap_or_else(|| first.member.clone());
    match &first.kind {
        ViolationKind::Missing => AwsError::bad_request(
            "MissingParameter",
            format!("The request must contain the parameter {wire_name}"),
        ),
        _ => {
            let shown = first
                .value
                .as_ref()
                .map(crate::xml_out::scalar_text)
                .unwrap_or_default();
            AwsError::bad_request(
                "InvalidParameterValue",
                format!(
                    "Value ({shown}) for parameter {wire_name} is invalid. {}",
                    first.constraint()
                ),
            )
        }
    }
}

fn decode_error(model: &ServiceModel, e: &DecodeError) -> AwsError {
    match model.metadata.protocol {
        Protocol::Ec2 => AwsError::bad_request("InvalidParameterValue", e.message.clone()),
        Protocol::Json | Protocol::RestJson => AwsError::bad_request("SerializationException", e.message.clone()),
        Protocol::RestXml | Protocol::Query => AwsError::bad_request(validation_code(model), e.message.clone()),
    }
}

fn request_id_headers(request_id: &str) -> Vec<(String, String)> {
    vec![
        ("x-amzn-RequestId".to_string(), request_id.to_string()),
        ("x-amz-request-id".to_string(), request_id.to_string()),
    ]
}

fn unknown_service(request_id: &str) -> ApiResponse {
    let mut headers = request_id_headers(request_id);
    headers.push(("content-type".into(), "text/xml".into()));
    let body = format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>UnknownService</Code><Message>The request names no service haneul serves (no SigV4 scope, X-Amz-Target, Action or known path)</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    );
    ApiResponse {
        status: 400,
        headers,
        body: Bytes::from(body),
    }
}

fn render_output(entry: &ServiceEntry, operation: &str, output: &Value, request_id: &str) -> ApiResponse {
    let model = &entry.model;
    let mut headers = request_id_headers(request_id);
    let op = model.operations.get(operation);
    let output_shape = op.and_then(|o| o.output.as_ref()).map(|r| r.shape.as_str());
    let (status, body) = match model.metadata.protocol {
        Protocol::Query => {
            headers.push(("content-type".into(), "text/xml".into()));
            (
                200,
                query::encode_output(model, operation, output, request_id, Dialect::Query),
            )
        }
        Protocol::Ec2 => {
            headers.push(("content-type".into(), "text/xml;charset=UTF-8".into()));
            (
                200,
                query::encode_output(model, operation, output, request_id, Dialect::Ec2),
            )
        }
        Protocol::Json | Protocol::RestJson => {
            headers.push(("content-type".into(), json::content_type(model)));
            (200, json::encode_output(model, output_shape, output))
        }
        Protocol::RestXml => {
            let rendered = rest_xml::encode_output(model, operation, output);
            headers.extend(rendered.headers);
            if !rendered.body.is_empty() {
                headers.push(("content-type".into(), "text/xml".into()));
            }
            (rendered.status, rendered.body)
        }
    };
    ApiResponse {
        status,
        headers,
        body: Bytes::from(body),
    }
}

fn render_error(entry: &ServiceEntry, error: &AwsError, request_id: &str) -> ApiResponse {
    let model = &entry.model;
    let mut headers = request_id_headers(request_id);
    let body = match model.metadata.protocol {
        Protocol::Query => query::encode_error(model, error, request_id, Dialect::Query),
        Protocol::Ec2 => query::encode_error(model, error, request_id, Dialect::Ec2),
        Protocol::RestXml => rest_xml::encode_error(model, error, request_id),
        Protocol::Json | Protocol::RestJson => {
            headers.push(("x-amzn-ErrorType".into(), error.code.clone()));
            json::encode_error(error)
        }
    };
    let content_type = match model.metadata.protocol {
        Protocol::Json | Protocol::RestJson => json::content_type(model),
        _ => "text/xml".to_string(),
    };
    headers.push(("content-type".into(), content_type));
    ApiResponse {
        status: error.status,
        headers,
        body: Bytes::from(body),
    }
}

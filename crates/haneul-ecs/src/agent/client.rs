//! A small json-1.1 AWS client for the agent: SigV4-signed POSTs to the server's one
//! endpoint (ECS, CloudWatch Logs and ECR all answer there), each with a timeout and a
//! bounded answer.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// Longest wait for one answer.
const REQUEST_TIMEOUT_S: u64 = 30;
/// Largest answer read.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The API an operation belongs to: its X-Amz-Target prefix and signing name.
#[derive(Debug, Clone, Copy)]
pub enum Api {
    Ecs,
    Logs,
    Ecr,
}

impl Api {
    fn target_prefix(self) -> &'static str {
        match self {
            Api::Ecs => "AmazonEC2ContainerServiceV20141113",
            Api::Logs => "Logs_20140328",
            Api::Ecr => "AmazonEC2ContainerRegistry_V20150921",
        }
    }

    fn signing_name(self) -> &'static str {
        match self {
            Api::Ecs => "ecs",
            Api::Logs => "logs",
            Api::Ecr => "ecr",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service answered with an error.
    #[error("{code}: {message}")]
    Service { code: String, message: String },
    /// No answer: connection refused, timed out, or not readable.
    #[error("{0}")]
    Transport(String),
}

impl ClientError {
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Service { code, .. } => Some(code),
            ClientError::Transport(_) => None,
        }
    }
}

#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

pub struct ApiClient {
    endpoint: http::Uri,
    region: String,
    credentials: Credentials,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl ApiClient {
    pub fn new(endpoint: &str, region: &str, credentials: Credentials) -> Result<ApiClient, ClientError> {
        let endpoint: http::Uri = format!("{}/", endpoint.trim_end_matches('/'))
            .parse()
            .map_err(|e| ClientError::Transport(format!("{endpoint} is not an endpoint URL: {e}")))?;
        if endpoint.scheme_str() != Some("http") {
            return Err(ClientError::Transport(format!(
                "{endpoint}: the agent speaks plain http to the server (its API endpoint)"
            )));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        Ok(ApiClient {
            endpoint,
            region: region.to_string(),
            credentials,
            http: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// `host:port` of the server (also its registry's host).
    pub fn authority(&self) -> String {
        self.endpoint.authority().map(|a| a.to_string()).unwrap_or_default()
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Calls `operation` in the agent's region.
    pub async fn call(&self, api: Api, operation: &str, input: &Value) -> Result<Value, ClientError> {
        self.call_in(&self.region, api, operation, input).await
    }

    /// Calls `operation` in `region` (a log group in another region, say).
    pub async fn call_in(&self, region: &str, api: Api, operation: &str, input: &Value) -> Result<Value, ClientError> {
        let body = input.to_string().into_bytes();
        let transport = |e: String| ClientError::Transport(e);
        let header = |v: &str| http::HeaderValue::from_str(v).map_err(|e| transport(e.to_string()));
        let mut headers = http::HeaderMap::new();
        headers.insert("host", header(&self.authority())?);
        headers.insert("x-amz-date", header(&haneul_wire::value::amz_date_now())?);
        headers.insert("x-amz-target", header(&format!("{}.{operation}", api.target_prefix()))?);
        headers.insert("content-type", header("application/x-amz-json-1.1")?);
        let signed = haneul_wire::sigv4::SignedRequest {
            method: "POST",
            raw_path: "/",
            raw_query: "",
            headers: &headers,
            body: &body,
        };
        let auth = haneul_wire::sigv4::sign(
            &signed,
            &self.credentials.access_key_id,
            &self.credentials.secret_access_key,
            region,
            api.signing_name(),
        )
        .map_err(|e| transport(format!("cannot sign the request: {e}")))?;
        let mut req = http::Request::builder().method("POST").uri(self.endpoint.clone());
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let req = req
            .header("authorization", auth)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| transport(e.to_string()))?;
        let exchange = async {
            let resp = self.http.request(req).await.map_err(|e| transport(e.to_string()))?;
            let status = resp.status();
            let bytes = http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| transport(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok::<_, ClientError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(Duration::from_secs(REQUEST_TIMEOUT_S), exchange)
            .await
            .map_err(|_| transport(format!("{} did not answer within {REQUEST_TIMEOUT_S} s", self.endpoint)))??;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            let code = v["__type"].as_str().unwrap_or("error");
            let code = code.rsplit('#').next().unwrap_or(code).to_string();
            let message = v["message"]
                .as_str()
                .or_else(|| v["Message"].as_str())
                .unwrap_or_default()
                .to_string();
            return Err(ClientError::Service { code, message });
        }
        Ok(v)
    }
}

//! The client a pull-through cache fetches from its upstream registry with: the distribution
//! API over HTTP or HTTPS, anonymous first, then the challenge's scheme — Basic (an ECR or
//! haneul registry) or a Bearer token from the challenge's realm (Docker Hub, Quay, GHCR).
//! Every wait is bounded: connecting, the response head, and each chunk of a body.

use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, Uri};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::blobs::upload::{next_data, AppendError};

pub const CONNECT_TIMEOUT_S: u64 = 10;
/// How long an upstream may take to send a response's head.
pub const RESPONSE_TIMEOUT_S: u64 = 30;
/// Redirects followed for one blob (registries hand blobs to a CDN this way).
pub const MAX_REDIRECTS: usize = 3;
/// A token endpoint's answer is small; more than this is refused.
const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// The system's trust anchors, for upstreams with public certificates.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The password sent when an upstream asks for Basic credentials. A `--dev` upstream takes
/// any; ECR-to-ECR credentials (an IAM role, a Secrets Manager secret) haneul cannot fetch.
const BASIC_PASSWORD: &str = "haneul-pull-through-cache";

/// Every manifest type haneul stores (see crate::manifest), indexes first.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("'{0}' is not a registry address")]
    BadUrl(String),
    #[error("cannot reach {0}: {1}")]
    Connect(String, String),
    #[error("{0} did not answer within {RESPONSE_TIMEOUT_S} s")]
    Timeout(String),
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{0} refused the credentials")]
    Unauthorized(String),
    #[error("{0}")]
    Invalid(String),
    #[error("reading {0}: {1}")]
    Body(String, AppendError),
}

impl UpstreamError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, UpstreamError::Status { status: 404, .. })
    }
}

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// One client for every upstream (a connection pool per host).
pub struct UpstreamClient {
    client: Client<Https, Empty<Bytes>>,
}

impl UpstreamClient {
    /// `extra_roots_pem`: certificates trusted besides the system's (haneul's own CA, so an
    /// upstream haneul with `--registry-tls` verifies).
    pub fn new(extra_roots_pem: Option<&str>) -> Result<UpstreamClient, rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        if let Ok(bundle) = std::fs::read(SYSTEM_CA_BUNDLE) {
            let certs = CertificateDer::pem_slice_iter(&bundle).filter_map(Result::ok);
            roots.add_parsable_certificates(certs);
        }
        if let Some(pem) = extra_roots_pem {
            let certs = CertificateDer::pem_slice_iter(pem.as_bytes()).filter_map(Result::ok);
            roots.add_parsable_certificates(certs);
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(Duration::from_secs(CONNECT_TIMEOUT_S)));
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(8)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(UpstreamClient { client })
    }
}

/// `upstreamRegistryUrl` as a base URL: an explicit scheme is kept; without one a loopback
/// host is reached over plain HTTP (as docker does) and any other over HTTPS.
pub fn base_url(upstream_url: &str) -> Result<String, UpstreamError> {
    let bad = || UpstreamError::BadUrl(upstream_url.to_string());
    let (scheme, rest) = match upstream_url.split_once("://") {
        Some((s, rest)) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {
            (Some(s.to_ascii_lowercase()), rest)
        }
        Some(_) => return Err(bad()),
        None => (None, upstream_url),
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(bad());
    }
    authority.parse::<http::uri::Authority>().map_err(|_| bad())?;
    let scheme = scheme.unwrap_or_else(|| {
        if is_loopback_host(authority) {
            "http".into()
        } else {
            "https".into()
        }
    });
    Ok(format!("{scheme}://{authority}"))
}

fn is_loopback_host(authority: &str) -> bool {
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// Talks to one repository of one upstream, remembering the credentials a challenge led to.
pub struct Upstream<'a> {
    client: &'a UpstreamClient,
    base: String,
    repository: String,
    auth: Mutex<Option<HeaderValue>>,
}

/// A fetched manifest.
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
}

impl<'a> Upstream<'a> {
    pub fn new(client: &'a UpstreamClient, base: String, repository: String) -> Upstream<'a> {
        Upstream {
            client,
            base,
            repository,
            auth: Mutex::new(None),
        }
    }

    fn auth(&self) -> Option<HeaderValue> {
        self.auth.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_auth(&self, value: HeaderValue) {
        *self.auth.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
    }

    async fn send(
        &self,
        method: http::Method,
        uri: &str,
        accept: Option<&str>,
        auth: Option<HeaderValue>,
    ) -> Result<http::Response<Incoming>, UpstreamError> {
        let parsed: Uri = uri.parse().map_err(|_| UpstreamError::BadUrl(uri.to_string()))?;
        let mut req = http::Request::builder().method(method).uri(parsed);
        if let Some(a) = accept {
            req = req.header(http::header::ACCEPT, a);
        }
        if let Some(a) = auth {
            req = req.header(http::header::AUTHORIZATION, a);
        }
        let req = req
            .header(http::header::USER_AGENT, "haneul-pull-through-cache")
            .body(Empty::new())
            .map_err(|e| UpstreamError::Invalid(e.to_string()))?;
        match tokio::time::timeout(Duration::from_secs(RESPONSE_TIMEOUT_S), self.client.client.request(req)).await {
            Err(_) => Err(UpstreamError::Timeout(self.base.clone())),
            Ok(Err(e)) => Err(UpstreamError::Connect(self.base.clone(), error_chain(&e))),
            Ok(Ok(resp)) => Ok(resp),
        }
    }

    /// `path` under the base URL, answering a 401 challenge once.
    async fn get(
        &self,
        method: http::Method,
        path: &str,
        accept: Option<&str>,
    ) -> Result<http::Response<Incoming>, UpstreamError> {
        let url = format!("{}{path}", self.base);
        let resp = self.send(method.clone(), &url, accept, self.auth()).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        drop(resp);
        let credentials = self.answer(&challenge).await?;
        self.set_auth(credentials.clone());
        let resp = self.send(method, &url, accept, Some(credentials)).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(UpstreamError::Unauthorized(self.base.clone()));
        }
        Ok(resp)
    }

    /// The Authorization a challenge asks for.
    async fn answer(&self, challenge: &str) -> Result<HeaderValue, UpstreamError> {
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            let encoded = STANDARD.encode(format!("AWS:{BASIC_PASSWORD}"));
            return HeaderValue::from_str(&format!("Basic {encoded}"))
                .map_err(|e| UpstreamError::Invalid(e.to_string()));
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(UpstreamError::Unauthorized(self.base.clone()));
        }
        let params = challenge_params(params);
        let param = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let realm = param("realm").ok_or_else(|| UpstreamError::Unauthorized(self.base.clone()))?;
        let url = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            if let Some(service) = param("service") {
                query.append_pair("service", service);
            }
            let scope = param("scope")
                .map(str::to_string)
                .or_else(|| (!self.repository.is_empty()).then(|| format!("repository:{}:pull", self.repository)));
            if let Some(scope) = scope {
                query.append_pair("scope", &scope);
            }
            let sep = if realm.contains('?') { '&' } else { '?' };
            format!("{realm}{sep}{}", query.finish())
        };
        let resp = self.send(http::Method::GET, &url, None, None).await?;
        if !resp.status().is_success() {
            return Err(UpstreamError::Unauthorized(self.base.clone()));
        }
        let body = read_small(resp.into_body(), MAX_TOKEN_BYTES, &url).await?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| UpstreamError::Invalid(format!("{url} sent no token")))?;
        let token = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| UpstreamError::Invalid(format!("{url} sent no token")))?;
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| UpstreamError::Invalid(e.to_string()))
    }

    /// `GET /v2/`: the upstream is reachable and takes our credentials.
    pub async fn check(&self) -> Result<(), UpstreamError> {
        let resp = self.get(http::Method::GET, "/v2/", None).await?;
        ok_status(&resp, &format!("{}/v2/", self.base))
    }

    /// The manifest `reference` (a tag or digest) as the upstream stores it, at most `max_bytes`.
    pub async fn manifest(&self, reference: &str, max_bytes: usize) -> Result<FetchedManifest, UpstreamError> {
        let path = format!("/v2/{}/manifests/{reference}", self.repository);
        let resp = self.get(http::Method::GET, &path, Some(MANIFEST_ACCEPT)).await?;
        ok_status(&resp, &format!("{}{path}", self.base))?;
        let content_type = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = read_small(resp.into_body(), max_bytes, &path).await?;
        Ok(FetchedManifest { bytes, content_type })
    }

    /// The digest the upstream's tag points at now (HEAD), if it says.
    pub async fn manifest_digest(&self, tag: &str) -> Result<Option<String>, UpstreamError> {
        let path = format!("/v2/{}/manifests/{tag}", self.repository);
        let resp = self.get(http::Method::HEAD, &path, Some(MANIFEST_ACCEPT)).await?;
        ok_status(&resp, &format!("{}{path}", self.base))?;
        Ok(resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string))
    }

    /// The blob `digest`'s body, redirects followed (without our credentials when they lead
    /// to another host).
    pub async fn blob(&self, digest: &str) -> Result<Incoming, UpstreamError> {
        let path = format!("/v2/{}/blobs/{digest}", self.repository);
        let mut resp = self.get(http::Method::GET, &path, None).await?;
        let mut url = format!("{}{path}", self.base);
        for _ in 0..MAX_REDIRECTS {
            if !resp.status().is_redirection() {
                break;
            }
            let Some(location) = resp
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
            else {
                break;
            };
            url = if location.starts_with('/') {
                format!("{}{location}", self.base)
            } else {
                location
            };
            let same_host = url.starts_with(&format!("{}/", self.base));
            let auth = if same_host { self.auth() } else { None };
            resp = self.send(http::Method::GET, &url, None, auth).await?;
        }
        ok_status(&resp, &url)?;
        Ok(resp.into_body())
    }
}

fn ok_status(resp: &http::Response<Incoming>, url: &str) -> Result<(), UpstreamError> {
    if resp.status().is_success() {
        return Ok(());
    }
    Err(UpstreamError::Status {
        url: url.to_string(),
        status: resp.status().as_u16(),
    })
}

/// A whole small body (a manifest, a token), refusing more than `max_bytes`.
async fn read_small(mut body: Incoming, max_bytes: usize, what: &str) -> Result<Vec<u8>, UpstreamError> {
    let mut out = Vec::new();
    while let Some(chunk) = next_data(&mut body)
        .await
        .map_err(|e| UpstreamError::Body(what.to_string(), e))?
    {
        if out.len() + chunk.len() > max_bytes {
            return Err(UpstreamError::Invalid(format!(
                "{what} is larger than {max_bytes} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// `realm="…",service="…",scope="…"` as (name, value) pairs.
fn challenge_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let name = name.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (quoted[..end].to_string(), &quoted[end + 1..]),
                None => (quoted.to_string(), ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (after[..end].trim().to_string(), &after[end..]),
                None => (after.trim().to_string(), ""),
            }
        };
        out.push((name, value));
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};

    #[test]
    fn base_urls() {
        assert_eq!(base_url("127.0.0.1:5000").unwrap(), "http://127.0.0.1:5000");
        assert_eq!(base_url("localhost:5000/").unwrap(), "http://localhost:5000");
        assert_eq!(base_url("quay.io").unwrap(), "https://quay.io");
        assert_eq!(base_url("https://127.0.0.2:4443").unwrap(), "https://127.0.0.2:4443");
        assert!(base_url("ftp://x").is_err());
        assert!(base_url("quay.io/team").is_err());
        assert!(base_url("").is_err());
    }

    #[test]
    fn bearer_challenge() {
        let p = challenge_params(
            r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(p[0], ("realm".into(), "https://auth.docker.io/token".into()));
        assert_eq!(p[1], ("service".into(), "registry.docker.io".into()));
        assert_eq!(p[2].1, "repository:library/busybox:pull");
    }

    #[test]
    fn accept_names_every_manifest_type() {
        for t in [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST] {
            assert!(MANIFEST_ACCEPT.contains(t));
        }
    }
}

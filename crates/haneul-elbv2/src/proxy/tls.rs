//! HTTPS listeners: ACM certificates (by ARN) as rustls keys, picked by SNI across the
//! listener's certificate list (exact name, then wildcard, then the default certificate), with
//! the protocol versions and suites of the listener's security policy. Built with each snapshot,
//! so a renewed certificate is served from the next handshake on.

use std::collections::HashMap;
use std::sync::Arc;

use haneul_acm::model::{Certificate as AcmCertificate, KIND_CERTIFICATE};
use haneul_acm::seal::Sealer;
use haneul_store::{Store, StoreError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use crate::proxy::snapshot::ListenerPlan;
use crate::proxy::tls_policy;

/// One certificate ready to serve, with the names it covers (lower case).
#[derive(Debug)]
struct Served {
    names: Vec<String>,
    key: Arc<CertifiedKey>,
}

#[derive(Debug)]
struct BySni {
    /// Default first.
    certs: Vec<Served>,
}

fn covers(name: &str, host: &str) -> bool {
    match name.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => name == host,
    }
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let default = self.certs.first().map(|s| s.key.clone());
        let Some(host) = hello.server_name().map(str::to_ascii_lowercase) else {
            return default;
        };
        let exact = self
            .certs
            .iter()
            .find(|s| s.names.iter().any(|n| !n.starts_with("*.") && *n == host));
        let wildcard = || self.certs.iter().find(|s| s.names.iter().any(|n| covers(n, &host)));
        exact.or_else(wildcard).map(|s| s.key.clone()).or(default)
    }
}

fn certified_key(cert: &AcmCertificate, sealer: &Sealer) -> Option<Served> {
    let pem = cert.certificate_pem.as_deref()?;
    let mut chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .collect();
    if let Some(extra) = cert.chain_pem.as_deref() {
        chain.extend(CertificateDer::pem_slice_iter(extra.as_bytes()).filter_map(Result::ok));
    }
    let key_pem = sealer.open(cert.sealed_key.as_deref()?).ok()?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).ok()?;
    let provider = rustls::crypto::ring::default_provider();
    let signing = provider.key_provider.load_private_key(key).ok()?;
    Some(Served {
        names: cert.names.iter().map(|n| n.to_ascii_lowercase()).collect(),
        key: Arc::new(CertifiedKey::new(chain, signing)),
    })
}

/// Every issued ACM certificate by ARN, read once per snapshot.
pub async fn load_certificates(store: &Store) -> Result<HashMap<String, AcmCertificate>, StoreError> {
    store
        .read(|t| {
            let mut out = HashMap::new();
            t.for_each_all_scopes::<AcmCertificate>(KIND_CERTIFICATE, |_, _, c| {
                if c.status == "ISSUED" && !c.in_use_by.is_empty() {
                    out.insert(c.arn.clone(), c);
                }
                Ok(())
            })?;
            Ok(out)
        })
        .await
}

/// The rustls configuration of an HTTPS listener; None when no certificate can be served.
pub fn server_config(
    plan: &ListenerPlan,
    certs: &HashMap<String, AcmCertificate>,
    sealer: &Sealer,
) -> Option<Arc<ServerConfig>> {
    let served: Vec<Served> = plan
        .certificates
        .iter()
        .filter_map(|arn| certified_key(certs.get(arn)?, sealer))
        .collect();
    if served.is_empty() {
        tracing::warn!(listener = %plan.arn, "no certificate of this HTTPS listener can be served");
        return None;
    }
    let policy = tls_policy::policy(
        plan.ssl_policy
            .as_deref()
            .unwrap_or(crate::listeners::DEFAULT_SSL_POLICY),
    )
    .or_else(|| tls_policy::policy(crate::listeners::DEFAULT_SSL_POLICY))?;
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = policy.rustls_suites();
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&policy.rustls_versions())
        .ok()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(BySni { certs: served }));
    config.alpn_protocols = if plan.lb.http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Some(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn wildcard_covers_one_label() {
        assert!(covers("*.example.com", "www.example.com"));
        assert!(!covers("*.example.com", "a.b.example.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(covers("example.com", "example.com"));
    }
}

//! `--registry-tls ADDR`: the endpoint (registry and API) over HTTPS, with a certificate from
//! haneul's CA, for Docker engines and tools that reach haneul by a name other than loopback
//! (Docker allows plain HTTP only to loopback registries). Trust `haneul ca` to use it.

use std::net::SocketAddr;
use std::sync::Arc;

use haneul_acm::ca::CertificateAuthority;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// How long the listener's certificate is good for; a new one is made at each start.
const CERTIFICATE_VALIDITY_DAYS: i64 = 395;

#[derive(Debug, thiserror::Error)]
pub enum RegistryTlsError {
    #[error("cannot issue the registry's certificate: {0}")]
    Issue(String),
    #[error("the registry's certificate does not load: {0}")]
    Load(String),
}

/// The names the certificate covers: the listener's address, `localhost`, and the host part
/// of `--registry-host`.
pub fn names(addr: SocketAddr, registry_host: Option<&str>) -> Vec<String> {
    let mut names = vec![addr.ip().to_string(), "localhost".to_string()];
    if let Some(host) = registry_host {
        let host = host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        if !names.contains(&host) {
            names.insert(0, host);
        }
    }
    names
}

pub fn acceptor(ca: &CertificateAuthority, names: &[String]) -> Result<tokio_rustls::TlsAcceptor, RegistryTlsError> {
    let issued = ca
        .issue(names, "EC_prime256v1", time::Duration::days(CERTIFICATE_VALIDITY_DAYS))
        .map_err(|e| RegistryTlsError::Issue(e.to_string()))?;
    let mut chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(issued.certificate_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| RegistryTlsError::Load(e.to_string()))?;
    chain.extend(
        CertificateDer::pem_slice_iter(issued.chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| RegistryTlsError::Load(e.to_string()))?,
    );
    let key = PrivateKeyDer::from_pem_slice(issued.private_key_pem.as_bytes())
        .map_err(|e| RegistryTlsError::Load(e.to_string()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| RegistryTlsError::Load(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| RegistryTlsError::Load(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

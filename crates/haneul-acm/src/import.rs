//! ImportCertificate: a certificate, its private key and chain brought from elsewhere — checked
//! (parses, key matches, not expired, chain parses), stored with the key sealed; re-importing to
//! an ARN replaces the certificate and keeps the ARN.

use base64::Engine;
use haneul_store::Store;
use haneul_wire::value::now_epoch_s;
use haneul_wire::RequestContext;
use rcgen::PublicKeyData;
use serde_json::{json, Value};
use x509_parser::prelude::*;

use crate::api::{check_tags, load, MAX_TAGS};
use crate::error::AcmError;
use crate::model::{Certificate, KIND_CERTIFICATE};
use crate::seal::Sealer;
use crate::{parse, scope};

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ImportRequest {
    #[serde(rename = "Certificate")]
    certificate: String,
    #[serde(rename = "PrivateKey")]
    private_key: String,
    #[serde(rename = "CertificateChain")]
    certificate_chain: Option<String>,
    #[serde(rename = "CertificateArn")]
    certificate_arn: Option<String>,
    #[serde(rename = "Tags")]
    tags: Vec<crate::generated::Tag>,
}

fn blob_text(field: &str, b64: &str) -> Result<String, AcmError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| AcmError::Validation(format!("{field} is not base64 data.")))?;
    String::from_utf8(bytes).map_err(|_| AcmError::Validation(format!("{field} must be PEM text.")))
}

/// What ACM records about an imported certificate.
pub(crate) struct Parsed {
    pub names: Vec<String>,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: f64,
    pub not_after: f64,
    pub key_algorithm: String,
    pub signature_algorithm: String,
    pub public_key: Vec<u8>,
}

pub(crate) fn parse_certificate(pem_text: &str) -> Result<Parsed, AcmError> {
    let bad = |why: &str| AcmError::Validation(format!("Could not parse the certificate: {why}."));
    let blocks: Vec<_> = Pem::iter_from_buffer(pem_text.as_bytes()).collect();
    if blocks.len() != 1 {
        return Err(AcmError::Validation(
            "The certificate field must contain exactly one PEM certificate; put the rest in CertificateChain.".into(),
        ));
    }
    let pem = blocks
        .into_iter()
        .next()
        .and_then(|b| b.ok())
        .ok_or_else(|| bad("not PEM"))?;
    let cert = pem.parse_x509().map_err(|e| bad(&e.to_string()))?;
    let subject = cert.subject().to_string();
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_string);
    let mut names: Vec<String> = cn.into_iter().collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let GeneralName::DNSName(d) = n {
                let d = d.to_ascii_lowercase();
                if !names.contains(&d) {
                    names.push(d);
                }
            }
        }
    }
    let key_algorithm = match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => format!("RSA_{}", rsa.key_size()),
        Ok(x509_parser::public_key::PublicKey::EC(_)) => {
            let curve = cert
                .public_key()
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            match curve.as_str() {
                "1.2.840.10045.3.1.7" => "EC_prime256v1".into(),
                "1.3.132.0.34" => "EC_secp384r1".into(),
                "1.3.132.0.35" => "EC_secp521r1".into(),
                other => return Err(bad(&format!("unsupported curve {other}"))),
            }
        }
        _ => {
            return Err(AcmError::Validation(
                "The certificate's key type is not supported.".into(),
            ))
        }
    };
    Ok(Parsed {
        names,
        subject,
        issuer: cert.issuer().to_string(),
        serial: cert.raw_serial_as_string(),
        not_before: cert.validity().not_before.timestamp() as f64,
        not_after: cert.validity().not_after.timestamp() as f64,
        key_algorithm,
        signature_algorithm: cert.signature_algorithm.algorithm.to_id_string(),
        public_key: cert.public_key().subject_public_key.data.to_vec(),
    })
}

/// The private key's public half, from PKCS#8 or PKCS#1 PEM.
fn key_public_bytes(pem_text: &str) -> Result<Vec<u8>, AcmError> {
    if pem_text.contains("ENCRYPTED PRIVATE KEY") {
        return Err(AcmError::Validation("The private key must not be encrypted.".into()));
    }
    if pem_text.contains("BEGIN EC PRIVATE KEY") {
        return Err(AcmError::Validation(
            "The private key is not supported: give EC keys as PKCS#8 (openssl pkcs8 -topk8 -nocrypt).".into(),
        ));
    }
    let pkcs8_pem = if pem_text.contains("BEGIN RSA PRIVATE KEY") {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem_text)
            .map_err(|_| AcmError::Validation("The private key is not a valid RSA key.".into()))?;
        key.to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| AcmError::Validation("The private key is not a valid RSA key.".into()))?
            .to_string()
    } else {
        pem_text.to_string()
    };
    let key = rcgen::KeyPair::from_pem(&pkcs8_pem)
        .map_err(|_| AcmError::Validation("The private key is not supported or not valid.".into()))?;
    Ok(key.der_bytes().to_vec())
}

pub async fn import_certificate(
    store: &Store,
    sealer: &Sealer,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AcmError> {
    let input: ImportRequest = parse(input)?;
    let certificate = blob_text("Certificate", &input.certificate)?;
    let private_key = blob_text("PrivateKey", &input.private_key)?;
    let chain = input
        .certificate_chain
        .as_deref()
        .map(|c| blob_text("CertificateChain", c))
        .transpose()?;
    let parsed = parse_certificate(&certificate)?;
    if key_public_bytes(&private_key)? != parsed.public_key {
        return Err(AcmError::Validation(
            "The private key does not match the public key in the certificate.".into(),
        ));
    }
    let now = now_epoch_s();
    if parsed.not_after < now {
        return Err(AcmError::Validation("The certificate has expired.".into()));
    }
    if parsed.not_before > now {
        return Err(AcmError::Validation("The certificate is not yet valid.".into()));
    }
    if let Some(chain) = &chain {
        for block in Pem::iter_from_buffer(chain.as_bytes()) {
            let ok = block.ok().is_some_and(|p| p.parse_x509().is_ok());
            if !ok {
                return Err(AcmError::Validation(
                    "The certificate chain could not be parsed.".into(),
                ));
            }
        }
    }
    check_tags(&input.tags)?;
    if input.tags.len() > MAX_TAGS {
        return Err(AcmError::TooManyTags(format!(
            "A certificate can have at most {MAX_TAGS} tags."
        )));
    }
    if input.certificate_arn.is_some() && !input.tags.is_empty() {
        return Err(AcmError::InvalidParameter(
            "You cannot add tags when you reimport a certificate.".into(),
        ));
    }
    let sealed = sealer
        .seal(&private_key)
        .map_err(|e| AcmError::Internal(e.to_string()))?;
    let scope = scope(ctx);
    let (ctx2, account, region) = (ctx.clone(), ctx.account_id.clone(), ctx.region.clone());
    let arn = store
        .write(move |t| {
            let mut cert = match &input.certificate_arn {
                Some(arn) => {
                    let existing = load(t, &scope, &ctx2, arn)?;
                    if existing.cert_type != "IMPORTED" {
                        return Err(AcmError::InvalidParameter(format!(
                            "Certificate {arn} was issued by ACM; only imported certificates can be reimported."
                        )));
                    }
                    existing
                }
                None => {
                    let id = uuid::Uuid::new_v4().to_string();
                    Certificate {
                        arn: format!("arn:aws:acm:{region}:{account}:certificate/{id}"),
                        id,
                        domain_name: String::new(),
                        names: Vec::new(),
                        key_algorithm: String::new(),
                        validation_method: String::new(),
                        status: "ISSUED".into(),
                        created_at: now,
                        issued_at: None,
                        not_before: None,
                        not_after: None,
                        serial: None,
                        signature_algorithm: None,
                        certificate_pem: None,
                        chain_pem: None,
                        sealed_key: None,
                        validations: Vec::new(),
                        transparency_logging: "DISABLED".into(),
                        tags: input.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect(),
                        in_use_by: Vec::new(),
                        failure_reason: None,
                        cert_type: "IMPORTED".into(),
                        imported_at: None,
                        subject: None,
                        issuer: None,
                        renewal: None,
                        renewal_requested: false,
                        exportable: false,
                    }
                }
            };
            cert.domain_name = parsed.names.first().cloned().unwrap_or_default();
            cert.names = parsed.names;
            cert.key_algorithm = parsed.key_algorithm;
            cert.status = "ISSUED".into();
            cert.imported_at = Some(now);
            cert.not_before = Some(parsed.not_before);
            cert.not_after = Some(parsed.not_after);
            cert.serial = Some(parsed.serial);
            cert.signature_algorithm = Some(parsed.signature_algorithm);
            cert.subject = Some(parsed.subject);
            cert.issuer = Some(parsed.issuer);
            cert.certificate_pem = Some(certificate);
            cert.chain_pem = chain;
            cert.sealed_key = Some(sealed);
            t.put(&scope, KIND_CERTIFICATE, &cert.id, &cert)?;
            Ok::<_, AcmError>(cert.arn)
        })
        .await?;
    Ok(json!({ "CertificateArn": arn }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(days_from_now: (i64, i64)) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["old.example.test".to_string()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "old.example.test");
        let now = ::time::OffsetDateTime::now_utc();
        params.not_before = now + ::time::Duration::days(days_from_now.0);
        params.not_after = now + ::time::Duration::days(days_from_now.1);
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    #[test]
    fn parses_names_keys_and_validity() {
        let (cert, key) = self_signed((-10, 10));
        let parsed = parse_certificate(&cert).unwrap();
        assert_eq!(parsed.names, ["old.example.test"]);
        assert_eq!(parsed.key_algorithm, "EC_prime256v1");
        assert_eq!(key_public_bytes(&key).unwrap(), parsed.public_key);
        let (expired, _) = self_signed((-30, -1));
        assert!(parse_certificate(&expired).unwrap().not_after < now_epoch_s());
        assert!(
            parse_certificate(&format!("{cert}{cert}")).is_err(),
            "one certificate only"
        );
        assert!(key_public_bytes("-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n").is_err());
    }
}

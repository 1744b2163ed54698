//! haneul's certificate authority: a root and an intermediate per data dir (ECDSA P-384,
//! keys in `ca/*.key.pem` with 0600 permissions, never in the database), and issuance of real
//! X.509 server certificates for ACM — SANs, key usages, ACM's 395-day validity, no AIA.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber, SignatureAlgorithm,
};
use time::{Duration, OffsetDateTime};

/// ACM's validity for the certificates it issues, and how long before expiry managed renewal
/// starts.
pub const VALIDITY_DAYS: i64 = 395;
pub const RENEW_BEFORE_DAYS: i64 = 60;

/// How long issued certificates live and when renewal starts (shortened with
/// `--acm-validity-s` in dev mode, so renewal can be watched).
#[derive(Debug, Clone, Copy)]
pub struct Lifetime {
    pub validity: Duration,
    pub renew_before: Duration,
}

impl Default for Lifetime {
    fn default() -> Self {
        Lifetime {
            validity: Duration::days(VALIDITY_DAYS),
            renew_before: Duration::days(RENEW_BEFORE_DAYS),
        }
    }
}

impl Lifetime {
    /// A shortened lifetime of `seconds`, renewing in the same proportion as ACM (60 of 395).
    pub fn shortened(seconds: u64) -> Lifetime {
        let validity = Duration::seconds(seconds.max(1) as i64);
        Lifetime {
            validity,
            renew_before: validity * RENEW_BEFORE_DAYS as f64 / VALIDITY_DAYS as f64,
        }
    }
}
const ROOT_VALIDITY_DAYS: i64 = 3650 * 2;
const INTERMEDIATE_VALIDITY_DAYS: i64 = 3650;
const ROOT_NAME: &str = "haneul Root CA";
const INTERMEDIATE_NAME: &str = "haneul Intermediate CA 1";

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("cannot use the CA files in {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("certificate generation failed: {0}")]
    Generate(String),
    #[error("the key algorithm {0} is not one haneul issues")]
    UnsupportedKey(String),
}

fn gen_err(e: impl std::fmt::Display) -> CaError {
    CaError::Generate(e.to_string())
}

/// The key algorithms RequestCertificate takes.
pub const ISSUABLE_KEYS: [&str; 5] = ["RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1"];

/// An issued certificate: its PEM, the chain above it, its private key (PKCS#8 PEM) and facts
/// DescribeCertificate shows.
#[derive(Debug, Clone)]
pub struct Issued {
    pub certificate_pem: String,
    pub chain_pem: String,
    pub private_key_pem: String,
    pub serial_hex: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub signature_algorithm: &'static str,
    /// The issuer's name when it is not haneul's CA (ACME mode).
    pub issuer: Option<String>,
}

pub struct CertificateAuthority {
    root_pem: String,
    intermediate_pem: String,
    intermediate_key: KeyPair,
    intermediate_params: CertificateParams,
}

fn name(common: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "haneul");
    dn.push(DnType::CommonName, common);
    dn
}

fn ca_params(common: &str, days: i64, path_len: Option<u8>) -> Result<CertificateParams, CaError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(gen_err)?;
    params.distinguished_name = name(common);
    params.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(days);
    Ok(params)
}

fn write_private(path: &Path, text: &str) -> Result<(), CaError> {
    haneul_store::secret_file::write_new(path, text.as_bytes()).map_err(|source| CaError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn read(path: &Path) -> Result<String, CaError> {
    std::fs::read_to_string(path).map_err(|source| CaError::Io {
        path: path.display().to_string(),
        source,
    })
}

impl CertificateAuthority {
    /// The CA of `data_dir`, created (root, intermediate, keys) on first use.
    pub fn open_or_create(data_dir: &Path) -> Result<CertificateAuthority, CaError> {
        let dir: PathBuf = data_dir.join("ca");
        let files = [
            dir.join("root.pem"),
            dir.join("root.key.pem"),
            dir.join("intermediate.pem"),
            dir.join("intermediate.key.pem"),
        ];
        if !files[3].exists() {
            std::fs::create_dir_all(&dir).map_err(|source| CaError::Io {
                path: dir.display().to_string(),
                source,
            })?;
            let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).map_err(gen_err)?;
            let root_params = ca_params(ROOT_NAME, ROOT_VALIDITY_DAYS, None)?;
            let root = root_params.self_signed(&root_key).map_err(gen_err)?;
            let inter_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).map_err(gen_err)?;
            let inter_params = ca_params(INTERMEDIATE_NAME, INTERMEDIATE_VALIDITY_DAYS, Some(0))?;
            let inter = inter_params
                .signed_by(&inter_key, &Issuer::from_params(&root_params, &root_key))
                .map_err(gen_err)?;
            // Keys first (0600), the intermediate key last: its presence means "complete".
            write_private(&files[1], &root_key.serialize_pem())?;
            std::fs::write(&files[0], root.pem()).map_err(|source| CaError::Io {
                path: files[0].display().to_string(),
                source,
            })?;
            std::fs::write(&files[2], inter.pem()).map_err(|source| CaError::Io {
                path: files[2].display().to_string(),
                source,
            })?;
            write_private(&files[3], &inter_key.serialize_pem())?;
        }
        let intermediate_key = KeyPair::from_pem(&read(&files[3])?).map_err(gen_err)?;
        let mut intermediate_params = ca_params(INTERMEDIATE_NAME, INTERMEDIATE_VALIDITY_DAYS, Some(0))?;
        intermediate_params.distinguished_name = name(INTERMEDIATE_NAME);
        Ok(CertificateAuthority {
            root_pem: read(&files[0])?,
            intermediate_pem: read(&files[2])?,
            intermediate_key,
            intermediate_params,
        })
    }

    /// The root certificate users trust (`/_haneul/ca.pem`, `haneul ca`).
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The chain above an issued certificate: the intermediate, then the root.
    pub fn chain_pem(&self) -> String {
        format!("{}{}", self.intermediate_pem, self.root_pem)
    }

    /// Issues a server certificate for `names` (the first is the subject's CN) with a new key
    /// of `key_algorithm`.
    pub fn issue(&self, names: &[String], key_algorithm: &str, validity: Duration) -> Result<Issued, CaError> {
        let (key, key_pem) = new_key(key_algorithm)?;
        let mut params = CertificateParams::new(names.to_vec()).map_err(gen_err)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names.first().cloned().unwrap_or_default());
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = if key_algorithm.starts_with("RSA") {
            vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment]
        } else {
            vec![KeyUsagePurpose::DigitalSignature]
        };
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let mut serial = [0u8; 16];
        rand::Rng::fill(&mut rand::thread_rng(), &mut serial[..]);
        serial[0] &= 0x7F; // a positive INTEGER
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::minutes(5);
        params.not_after = now + validity;
        let issuer = Issuer::from_params(&self.intermediate_params, &self.intermediate_key);
        let cert = params.signed_by(&key, &issuer).map_err(gen_err)?;
        Ok(Issued {
            certificate_pem: cert.pem(),
            chain_pem: self.chain_pem(),
            private_key_pem: key_pem,
            serial_hex: serial.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
            not_before: params.not_before,
            not_after: params.not_after,
            signature_algorithm: "SHA384WITHECDSA",
            issuer: None,
        })
    }
}

/// A new key pair of an ACM key algorithm, and its PKCS#8 PEM.
pub(crate) fn new_key(key_algorithm: &str) -> Result<(KeyPair, String), CaError> {
    let ec = |alg: &'static SignatureAlgorithm| -> Result<(KeyPair, String), CaError> {
        let key = KeyPair::generate_for(alg).map_err(gen_err)?;
        let pem = key.serialize_pem();
        Ok((key, pem))
    };
    // RSA keys come from aws-lc (fast, constant-time); rcgen signs with them through ring.
    let rsa = |size: aws_lc_rs::rsa::KeySize| -> Result<(KeyPair, String), CaError> {
        use aws_lc_rs::encoding::AsDer;
        let private = aws_lc_rs::rsa::KeyPair::generate(size).map_err(gen_err)?;
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&private).map_err(gen_err)?;
        let pkcs8 = rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_ref().to_vec());
        let key = KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).map_err(gen_err)?;
        let pem = key.serialize_pem();
        Ok((key, pem))
    };
    match key_algorithm {
        "EC_prime256v1" => ec(&rcgen::PKCS_ECDSA_P256_SHA256),
        "EC_secp384r1" => ec(&rcgen::PKCS_ECDSA_P384_SHA384),
        "RSA_2048" => rsa(aws_lc_rs::rsa::KeySize::Rsa2048),
        "RSA_3072" => rsa(aws_lc_rs::rsa::KeySize::Rsa3072),
        "RSA_4096" => rsa(aws_lc_rs::rsa::KeySize::Rsa4096),
        other => Err(CaError::UnsupportedKey(other.to_string())),
    }
}

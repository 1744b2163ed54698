//! ACM certificates as stored (regional: per account and region), keyed by certificate id.

use serde::{Deserialize, Serialize};

pub const KIND_CERTIFICATE: &str = "acm.certificate";
/// `token␁domain` → certificate id (RequestCertificate idempotency, one hour).
pub const KIND_IDEMPOTENCY: &str = "acm.idempotency";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Validation {
    pub domain_name: String,
    pub validation_domain: String,
    /// PENDING_VALIDATION, SUCCESS or FAILED.
    pub status: String,
    /// The CNAME ACM asks for: `_token.domain.` → `_token.xyz.acm-validations.aws.`.
    pub record_name: String,
    pub record_value: String,
    /// EMAIL validation: the token of the approval link sent for this name.
    #[serde(default)]
    pub approval_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Certificate {
    pub arn: String,
    pub id: String,
    pub domain_name: String,
    /// Every name on the certificate, the domain name first.
    pub names: Vec<String>,
    pub key_algorithm: String,
    pub validation_method: String,
    pub status: String,
    pub created_at: f64,
    pub issued_at: Option<f64>,
    pub not_before: Option<f64>,
    pub not_after: Option<f64>,
    pub serial: Option<String>,
    pub signature_algorithm: Option<String>,
    pub certificate_pem: Option<String>,
    pub chain_pem: Option<String>,
    /// The private key, sealed with the data dir's key (see `seal.rs`).
    pub sealed_key: Option<String>,
    pub validations: Vec<Validation>,
    pub transparency_logging: String,
    pub tags: Vec<(String, Option<String>)>,
    pub in_use_by: Vec<String>,
    pub failure_reason: Option<String>,
    /// AMAZON_ISSUED or IMPORTED.
    #[serde(default = "amazon_issued")]
    pub cert_type: String,
    #[serde(default)]
    pub imported_at: Option<f64>,
    /// Subject and issuer as the certificate names them (imported certificates).
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    /// Managed renewal's state (RenewalSummary), once a renewal has started.
    #[serde(default)]
    pub renewal: Option<Renewal>,
    /// RenewCertificate asked for a renewal now, whatever the window says.
    #[serde(default)]
    pub renewal_requested: bool,
    /// Requested with `Options.Export = ENABLED`: ExportCertificate hands out its key.
    #[serde(default)]
    pub exportable: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Renewal {
    /// PENDING_AUTO_RENEWAL, PENDING_VALIDATION, SUCCESS or FAILED.
    pub status: String,
    pub reason: Option<String>,
    pub updated_at: f64,
}

/// The account's ACM configuration (GetAccountConfiguration), keyed `account`.
pub const KIND_ACCOUNT_CONFIGURATION: &str = "acm.account-configuration";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountConfiguration {
    pub days_before_expiry: i64,
    pub idempotency_token: Option<String>,
}

fn amazon_issued() -> String {
    "AMAZON_ISSUED".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub certificate_id: String,
    pub created_at: f64,
}

//! Route 53 records as stored. Record sets are kept in the API's own shape
//! (`generated::ResourceRecordSet`, names normalized) under keys that sort the way
//! `ListResourceRecordSets` lists them.

use serde::{Deserialize, Serialize};

pub use crate::generated::ResourceRecordSet;
use crate::names;

pub const KIND_ZONE: &str = "route53.zone";
pub const KIND_RRSET: &str = "route53.rrset";
pub const KIND_CHANGE: &str = "route53.change";
pub const KIND_HEALTH_CHECK: &str = "route53.health-check";
/// Tags of a hosted zone or health check, keyed `hostedzone/Z…` / `healthcheck/<id>`.
pub const KIND_TAGS: &str = "route53.tags";
/// Maps a health check's CallerReference to its id (CreateHealthCheck idempotency).
pub const KIND_HEALTH_CHECK_REFERENCE: &str = "route53.health-check-reference";
/// Maps a CallerReference to the zone it created (CreateHostedZone idempotency).
pub const KIND_CALLER_REFERENCE: &str = "route53.caller-reference";

/// Separates the parts of an rrset key; sorts below every name character.
const KEY_SEP: char = '\u{1}';

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Zone {
    /// `Z…` without the `/hostedzone/` prefix.
    pub id: String,
    /// Normalized, with the trailing dot.
    pub name: String,
    pub caller_reference: String,
    pub comment: Option<String>,
    pub private_zone: bool,
    pub name_servers: Vec<String>,
    /// VPCs a private zone is associated with (at least one while it exists).
    #[serde(default)]
    pub vpcs: Vec<ZoneVpc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneVpc {
    pub vpc_id: String,
    pub vpc_region: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeRecord {
    pub id: String,
    pub submitted_at: f64,
    pub comment: Option<String>,
    /// The store revision that holds this change; INSYNC once DNS serves it.
    pub revision: u64,
}

/// The key of one record set: zone, name (reversed labels), type, set identifier.
pub fn rrset_key(zone_id: &str, name: &str, rtype: &str, set_identifier: Option<&str>) -> String {
    format!(
        "{zone_id}{KEY_SEP}{}{KEY_SEP}{rtype}{KEY_SEP}{}",
        names::reversed(name),
        set_identifier.unwrap_or("")
    )
}

/// The prefix every record set of one name in a zone shares.
pub fn name_prefix(zone_id: &str, name: &str) -> String {
    format!("{zone_id}{KEY_SEP}{}{KEY_SEP}", names::reversed(name))
}

/// The prefix every record set of a zone shares.
pub fn zone_prefix(zone_id: &str) -> String {
    format!("{zone_id}{KEY_SEP}")
}

pub fn rrset_key_of(zone_id: &str, rrset: &ResourceRecordSet) -> String {
    rrset_key(zone_id, &rrset.name, &rrset.r#type, rrset.set_identifier.as_deref())
}

/// CIDR collections (IP-based routing), keyed by collection id.
pub const KIND_CIDR_COLLECTION: &str = "route53.cidr-collection";

/// A query logging configuration (one per public zone), keyed by its id.
pub const KIND_QUERY_LOGGING_CONFIG: &str = "route53.query-logging-config";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueryLoggingConfig {
    pub id: String,
    pub zone_id: String,
    /// As given (CloudWatch Logs' ARN of the group, in us-east-1).
    pub log_group_arn: String,
    /// The group's name, and the account whose Logs holds it.
    pub log_group: String,
    pub account_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CidrCollection {
    /// A UUID, as Route 53 gives.
    pub id: String,
    pub name: String,
    pub caller_reference: String,
    /// Starts at 1; every ChangeCidrCollection adds one.
    pub version: i64,
    /// Location name → CIDR blocks (normalized text).
    pub locations: std::collections::BTreeMap<String, Vec<String>>,
}

impl CidrCollection {
    pub fn arn(&self) -> String {
        format!("arn:aws:route53:::cidrcollection/{}", self.id)
    }
}

/// Domains registered with haneul's local registrar (`route53domains`), keyed by name. The
/// DNS server serves each domain's TLD as a zone that delegates the domain to its name servers.
pub const KIND_DOMAIN: &str = "route53domains.domain";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisteredDomain {
    /// Normalized, without the trailing dot (as Route 53 Domains shows names).
    pub name: String,
    /// The TLD zone that delegates it (`test`, `co.uk`).
    pub tld: String,
    pub nameservers: Vec<DomainNameserver>,
    /// The hosted zone registration created.
    pub hosted_zone_id: Option<String>,
    pub auto_renew: bool,
    /// AdminContact, RegistrantContact, TechContact, BillingContact as given.
    pub contacts: serde_json::Value,
    /// AdminPrivacy, RegistrantPrivacy, TechPrivacy, BillingPrivacy.
    pub privacy: serde_json::Value,
    pub created_at: f64,
    pub updated_at: f64,
    pub expires_at: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainNameserver {
    pub name: String,
    #[serde(default)]
    pub glue_ips: Vec<String>,
}

/// Load balancer addresses (written by `haneul-elbv2`, keyed by IP): the DNS server serves each
/// load balancer's DNSName with its address.
pub const KIND_LB_ADDRESS: &str = "elbv2.address";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LbAddress {
    /// `web-1a2b3c4d5e.us-east-1.elb.amazonaws.com` (no trailing dot).
    pub dns_name: String,
    pub ip: String,
    pub load_balancer_arn: String,
}

/// ELB's Route 53 hosted zone id for application load balancers' DNS names in a region (what
/// alias records to a load balancer name as the target's zone).
pub fn elb_hosted_zone_id(region: &str) -> &'static str {
    match region {
        "us-east-2" => "Z3AADJGX6KTTL2",
        "us-west-1" => "Z368ELLRRE2KJ0",
        "us-west-2" => "Z1H1FL5HABSF5",
        "eu-west-1" => "Z32O12XQLNTSW2",
        "eu-central-1" => "Z215JYRZR1TBD5",
        "ap-northeast-1" => "Z14GRHDCWA56QT",
        "ap-northeast-2" => "ZWKZPGTI48KDX",
        _ => "Z35SXDOTRQ7X7K",
    }
}

/// Whether an alias target is a load balancer's DNS name with ELB's zone id for its region.
pub fn is_elb_alias(dns_name: &str, hosted_zone_id: &str) -> bool {
    let name = dns_name.trim_end_matches('.').to_ascii_lowercase();
    let Some(rest) = name.strip_suffix(".elb.amazonaws.com") else {
        return false;
    };
    let region = rest.rsplit('.').next().unwrap_or("");
    elb_hosted_zone_id(region) == hosted_zone_id
}

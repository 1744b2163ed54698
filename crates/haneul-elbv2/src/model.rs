//! Load balancers and target groups as stored (per account and region), keyed by name.

use serde::{Deserialize, Serialize};

pub const KIND_LOAD_BALANCER: &str = "elbv2.load-balancer";
pub const KIND_TARGET_GROUP: &str = "elbv2.target-group";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
    pub dns_name: String,
    pub scheme: String,
    pub vpc_id: String,
    /// (subnet id, availability zone).
    pub subnets: Vec<(String, String)>,
    pub security_groups: Vec<String>,
    pub ip_address_type: String,
    pub created_at: f64,
    /// The address the load balancer's listeners bind, from `--lb-cidr`.
    pub address: String,
    pub tags: Vec<(String, Option<String>)>,
    /// Attributes set with ModifyLoadBalancerAttributes (defaults in `attributes.rs`).
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetGroup {
    pub arn: String,
    pub name: String,
    pub protocol: Option<String>,
    pub port: Option<i64>,
    pub vpc_id: Option<String>,
    pub target_type: String,
    pub protocol_version: Option<String>,
    pub health_check_enabled: bool,
    pub health_check_protocol: Option<String>,
    pub health_check_port: String,
    pub health_check_path: Option<String>,
    pub health_check_interval_s: i64,
    pub health_check_timeout_s: i64,
    pub healthy_threshold: i64,
    pub unhealthy_threshold: i64,
    pub matcher_http_code: Option<String>,
    pub load_balancer_arns: Vec<String>,
    pub tags: Vec<(String, Option<String>)>,
    #[serde(default)]
    pub targets: Vec<Target>,
    /// Attributes set with ModifyTargetGroupAttributes (defaults in `attributes.rs`).
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// An IP address (target type `ip`) or an instance id (type `instance`).
    pub id: String,
    pub port: i64,
    pub availability_zone: Option<String>,
    /// Deregistered: draining (no new requests, in-flight ones finish) until this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draining_until_s: Option<f64>,
    /// An instance target: the instance's private address, found when it was registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Target {
    /// Still registered, or draining and inside its deregistration delay.
    pub fn present(&self, now_s: f64) -> bool {
        self.draining_until_s.is_none_or(|until| until > now_s)
    }
}

pub const KIND_LISTENER: &str = "elbv2.listener";

/// A listener with its rules (so a rule change and a priority swap are one record's write),
/// keyed by its ARN.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listener {
    pub arn: String,
    pub load_balancer_arn: String,
    pub protocol: String,
    pub port: i64,
    /// Certificates by ARN; the first is the default one (HTTPS).
    #[serde(default)]
    pub certificates: Vec<String>,
    pub ssl_policy: Option<String>,
    #[serde(default)]
    pub alpn_policy: Vec<String>,
    pub default_actions: Vec<Action>,
    /// The ARN DescribeRules shows for the default rule.
    pub default_rule_arn: String,
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub tags: Vec<(String, Option<String>)>,
}

/// A listener rule other than the default one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    pub arn: String,
    /// 1 to 50000; lower is evaluated first.
    pub priority: i64,
    pub conditions: Vec<RuleCondition>,
    pub actions: Vec<Action>,
    #[serde(default)]
    pub tags: Vec<(String, Option<String>)>,
}

pub use crate::generated::{Action, RuleCondition};

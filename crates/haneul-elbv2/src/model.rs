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
    /// An IP address (target type `ip`).
    pub id: String,
    pub port: i64,
    pub availability_zone: Option<String>,
}

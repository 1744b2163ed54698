//! What ECS keeps in the resource store (regional scope).

use serde::{Deserialize, Serialize};

/// A cluster, keyed by name. A deleted cluster stays, INACTIVE, as ECS shows it.
pub const KIND_CLUSTER: &str = "ecs.cluster";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cluster {
    pub name: String,
    pub arn: String,
    /// ACTIVE or INACTIVE.
    pub status: String,
    #[serde(default)]
    pub settings: Vec<(String, String)>,
    /// The configuration as given (execute command, managed storage), echoed back.
    #[serde(default)]
    pub configuration: Option<serde_json::Value>,
    #[serde(default)]
    pub service_connect_namespace: Option<String>,
    #[serde(default)]
    pub capacity_providers: Vec<String>,
    #[serde(default)]
    pub default_strategy: Vec<StrategyItem>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// One item of a capacity provider strategy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StrategyItem {
    pub provider: String,
    pub base: i64,
    pub weight: i64,
}

/// A task definition revision: `family␁0000000003` (zero-padded, so a prefix scan lists a
/// family's revisions in order). Kept in the API's own TaskDefinition shape.
pub const KIND_TASK_DEFINITION: &str = "ecs.task_definition";
/// A family's last revision number (revisions are never reused).
pub const KIND_FAMILY: &str = "ecs.task_definition_family";
pub const SEP: char = '\u{1}';

pub fn task_definition_id(family: &str, revision: i64) -> String {
    format!("{family}{SEP}{revision:010}")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskDefinition {
    pub family: String,
    pub revision: i64,
    /// ACTIVE, INACTIVE or DELETE_IN_PROGRESS.
    pub status: String,
    /// The TaskDefinition as DescribeTaskDefinition shows it.
    pub definition: serde_json::Value,
    /// The tags as given (a list of {key, value}).
    pub tags: serde_json::Value,
}

pub fn cluster_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:ecs:{region}:{account}:cluster/{name}")
}

/// The cluster a `cluster` parameter names: a name or an ARN; `None` is `default`.
pub fn cluster_name(given: Option<&str>) -> &str {
    let given = given.unwrap_or("default");
    match given.strip_prefix("arn:") {
        Some(_) => given.rsplit_once("cluster/").map_or(given, |(_, n)| n),
        None => given,
    }
}

/// ECS's cluster names: up to 255 letters, digits, hyphens and underscores.
pub fn valid_cluster_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns() {
        assert_eq!(cluster_name(None), "default");
        assert_eq!(
            cluster_name(Some("arn:aws:ecs:us-east-1:000000000000:cluster/demo")),
            "demo"
        );
        assert_eq!(cluster_name(Some("demo")), "demo");
        assert!(valid_cluster_name("demo_1-a"));
        assert!(!valid_cluster_name("demo 1"));
        assert!(!valid_cluster_name(&"a".repeat(256)));
    }
}

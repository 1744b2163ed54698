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

impl TaskDefinition {
    /// The definition's networkMode (ECS's default: bridge).
    pub fn network_mode(&self) -> &str {
        self.definition
            .get("networkMode")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("bridge")
    }
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

/// A task, keyed `cluster␁task id`, so a prefix scan lists one cluster's tasks.
pub const KIND_TASK: &str = "ecs.task";

pub fn task_key(cluster: &str, task_id: &str) -> String {
    format!("{cluster}{SEP}{task_id}")
}

pub fn task_arn(region: &str, account: &str, cluster: &str, task_id: &str) -> String {
    format!("arn:aws:ecs:{region}:{account}:task/{cluster}/{task_id}")
}

/// The host a task runs on: this haneul's own Docker engine, or an agent's container instance.
pub const HOST_LOCAL: &str = "local";

/// One task: what was asked (definition snapshot, overrides) and what the host observed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub arn: String,
    pub cluster: String,
    pub task_definition_arn: String,
    pub family: String,
    pub revision: i64,
    /// The task definition as it was when the task started (containerDefinitions, cpu, …),
    /// kept as its JSON text: the scheduler and the host read every task often and never
    /// need it; a driver parses it once ([`Task::definition`]).
    pub definition: Box<serde_json::value::RawValue>,
    /// The overrides as given (a TaskOverride).
    #[serde(default)]
    pub overrides: serde_json::Value,
    pub launch_type: Option<String>,
    pub capacity_provider: Option<String>,
    pub platform_version: Option<String>,
    pub group: Option<String>,
    pub started_by: Option<String>,
    /// The service and deployment that started it.
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub deployment_id: Option<String>,
    /// RUNNING or STOPPED.
    pub desired_status: String,
    /// PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED.
    pub last_status: String,
    /// HEALTHY, UNHEALTHY or UNKNOWN (from the essential containers' health checks).
    pub health_status: String,
    /// Epoch seconds.
    pub created_at: f64,
    pub pull_started_at: Option<f64>,
    pub pull_stopped_at: Option<f64>,
    pub started_at: Option<f64>,
    pub connectivity_at: Option<f64>,
    pub stopping_at: Option<f64>,
    pub execution_stopped_at: Option<f64>,
    pub stopped_at: Option<f64>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<TaskContainer>,
    /// awsvpc: the task's own loopback address and ENI.
    pub network: Option<TaskNetwork>,
    pub availability_zone: String,
    /// Where it runs: [`HOST_LOCAL`] or a container instance ARN.
    pub host: String,
    /// On a container instance: that instance's EC2 instance id (its `instance` targets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_instance_id: Option<String>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    #[serde(default)]
    pub enable_execute_command: bool,
    #[serde(default)]
    pub tags: serde_json::Value,
    /// Bumped on every change, as ECS's `version`.
    pub version: i64,
    /// Service tasks: registered in the service's target groups.
    #[serde(default)]
    pub registered: bool,
    /// Service tasks: was healthy (RUNNING and healthy in every target group) at least once.
    #[serde(default)]
    pub was_healthy: bool,
    /// Service tasks: being drained before the stop (epoch seconds when it stops).
    #[serde(default)]
    pub draining_until_s: Option<f64>,
    /// Service tasks: the scheduler has accounted for this task's stop.
    #[serde(default)]
    pub stop_seen: bool,
    /// UpdateTaskProtection: protected from scale-in and deployments until then (epoch s).
    #[serde(default)]
    pub protection_expires_at: Option<f64>,
    /// While live on a container instance: what it takes there, as counted in the
    /// instance's usage (`scheduler::usage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booked: Option<Booked>,
}

/// What one task booked on its container instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booked {
    pub instance: String,
    pub cpu: i64,
    pub memory: i64,
    pub host_ports: Vec<u16>,
    pub group: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskContainer {
    pub name: String,
    pub arn: String,
    pub image: String,
    pub image_digest: Option<String>,
    /// The engine's container id once created.
    pub runtime_id: Option<String>,
    /// PENDING, RUNNING or STOPPED.
    pub last_status: String,
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
    /// HEALTHY, UNHEALTHY or UNKNOWN.
    pub health_status: String,
    pub essential: bool,
    pub network_bindings: Vec<NetworkBinding>,
    pub cpu: Option<i64>,
    pub memory: Option<i64>,
    pub memory_reservation: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NetworkBinding {
    pub bind_ip: String,
    pub container_port: u16,
    pub host_port: u16,
    pub protocol: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskNetwork {
    pub attachment_id: String,
    pub eni_id: String,
    pub private_ip: String,
    pub subnet_id: String,
    pub mac: String,
    /// ATTACHING → ATTACHED → DETACHING → DELETED.
    pub status: String,
}

impl Task {
    pub fn is_stopped(&self) -> bool {
        self.last_status == "STOPPED"
    }

    /// The definition snapshot, parsed.
    pub fn definition(&self) -> serde_json::Value {
        serde_json::from_str(self.definition.get()).unwrap_or(serde_json::Value::Null)
    }

    /// Protected now (UpdateTaskProtection, not yet expired).
    pub fn protection_enabled(&self) -> bool {
        self.protection_expires_at
            .is_some_and(|until| until > haneul_wire::value::now_epoch_s())
    }
}

/// An awsvpc task's address, keyed by the address (global scope [`address_scope`]), so
/// addresses are unique across accounts on this host.
pub const KIND_TASK_ADDRESS: &str = "ecs.task_address";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskAddress {
    pub ip: String,
    pub task_arn: String,
}

pub fn address_scope() -> haneul_store::Scope {
    haneul_store::Scope::global("haneul")
}

/// A service, keyed `cluster␁name`. A deleted service stays, INACTIVE, for describes.
pub const KIND_SERVICE: &str = "ecs.service";

pub fn service_key(cluster: &str, name: &str) -> String {
    format!("{cluster}{SEP}{name}")
}

pub fn service_arn(region: &str, account: &str, cluster: &str, name: &str) -> String {
    format!("arn:aws:ecs:{region}:{account}:service/{cluster}/{name}")
}

/// A service's tie to a target group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoadBalancerRef {
    pub target_group_arn: String,
    pub container_name: String,
    pub container_port: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub arn: String,
    pub cluster: String,
    /// ACTIVE, DRAINING (deleted, tasks stopping) or INACTIVE.
    pub status: String,
    pub desired_count: i64,
    pub task_definition: String,
    pub launch_type: Option<String>,
    #[serde(default)]
    pub capacity_provider_strategy: serde_json::Value,
    pub platform_version: Option<String>,
    /// The NetworkConfiguration as given (API shape).
    #[serde(default)]
    pub network_configuration: serde_json::Value,
    pub load_balancers: Vec<LoadBalancerRef>,
    pub maximum_percent: i64,
    pub minimum_healthy_percent: i64,
    pub circuit_breaker_enable: bool,
    pub circuit_breaker_rollback: bool,
    /// The DeploymentConfiguration as given (alarms, strategy, …), echoed back.
    #[serde(default)]
    pub deployment_configuration: serde_json::Value,
    pub health_check_grace_period_s: Option<i64>,
    pub scheduling_strategy: String,
    #[serde(default)]
    pub placement_constraints: serde_json::Value,
    #[serde(default)]
    pub placement_strategy: serde_json::Value,
    #[serde(default)]
    pub enable_execute_command: bool,
    #[serde(default)]
    pub enable_ecs_managed_tags: bool,
    pub propagate_tags: Option<String>,
    pub role_arn: Option<String>,
    #[serde(default)]
    pub tags: serde_json::Value,
    pub created_at: f64,
    pub created_by: String,
    /// Newest first: the PRIMARY deployment, then older ones still draining.
    pub deployments: Vec<Deployment>,
    /// Newest first, at most [`MAX_SERVICE_EVENTS`].
    pub events: Vec<ServiceEvent>,
    /// The task definition of the last deployment that COMPLETED (the circuit breaker's
    /// rollback target).
    #[serde(default)]
    pub last_completed_task_definition: Option<String>,
    /// Task launches that failed in a row (the scheduler's throttling backoff).
    #[serde(default)]
    pub consecutive_failures: i64,
    /// No launch before this time (epoch seconds).
    #[serde(default)]
    pub launch_after_s: f64,
    /// When the service last reported "has reached a steady state." (epoch seconds).
    #[serde(default)]
    pub steady_reported_at: Option<f64>,
    #[serde(default)]
    pub revision: i64,
    /// Service deployments, oldest first (at most [`MAX_SERVICE_HISTORY`]).
    #[serde(default)]
    pub history: Vec<ServiceDeploymentRecord>,
    /// The configurations deployments rolled out, oldest first (at most [`MAX_SERVICE_HISTORY`]).
    #[serde(default)]
    pub revisions: Vec<ServiceRevisionRecord>,
    /// The service revision of the last deployment that completed.
    #[serde(default)]
    pub last_completed_revision: Option<String>,
    /// ECS (rolling deployments) or EXTERNAL (task sets).
    #[serde(default = "ecs_controller")]
    pub deployment_controller: String,
    /// An EXTERNAL service's task sets, the PRIMARY one first.
    #[serde(default)]
    pub task_sets: Vec<TaskSetRecord>,
}

fn ecs_controller() -> String {
    "ECS".into()
}

/// One task set of an EXTERNAL service: its tasks are scheduled as a deployment of their own
/// (`deployment`, whose id is the task set's) sized to the task set's scale.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskSetRecord {
    pub id: String,
    pub arn: String,
    pub external_id: Option<String>,
    /// PRIMARY, ACTIVE or DRAINING.
    pub status: String,
    pub task_definition: String,
    pub launch_type: Option<String>,
    pub capacity_provider_strategy: serde_json::Value,
    pub platform_version: Option<String>,
    pub network_configuration: serde_json::Value,
    pub load_balancers: Vec<LoadBalancerRef>,
    /// Percent of the service's desired count.
    pub scale_percent: f64,
    pub created_at: f64,
    pub updated_at: f64,
    /// STEADY_STATE or STABILIZING.
    pub stability_status: String,
    pub stability_status_at: f64,
    pub tags: serde_json::Value,
    pub deployment: Deployment,
}

impl TaskSetRecord {
    /// ⌈scale × desired / 100⌉, as ECS computes it.
    pub fn computed_desired_count(&self, service_desired: i64) -> i64 {
        (self.scale_percent * service_desired as f64 / 100.0 - 1e-9)
            .ceil()
            .max(0.0) as i64
    }
}

/// Service deployments and revisions kept per service.
pub const MAX_SERVICE_HISTORY: usize = 50;

/// One service deployment (ListServiceDeployments), named by the digits of its deployment id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceDeploymentRecord {
    /// The deployments[] id it stands for (`ecs-svc/…`).
    pub deployment_id: String,
    pub digits: String,
    pub created_at: f64,
    pub updated_at: f64,
    pub finished_at: Option<f64>,
    pub stopped_at: Option<f64>,
    /// PENDING, IN_PROGRESS, SUCCESSFUL, STOPPED, ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL, ….
    pub status: String,
    pub status_reason: String,
    pub target_revision: String,
    pub source_revisions: Vec<String>,
    /// Being (or been) rolled back: to this revision, by this deployments[] id.
    pub rollback_revision: Option<String>,
    pub rollback_deployment: Option<String>,
}

/// One service revision: the configuration a deployment rolls out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceRevisionRecord {
    pub digits: String,
    pub created_at: f64,
    pub task_definition: String,
    pub launch_type: Option<String>,
    pub platform_version: Option<String>,
    pub network_configuration: serde_json::Value,
    pub load_balancers: Vec<LoadBalancerRef>,
    /// (container name, image).
    pub images: Vec<(String, String)>,
}

/// ECS keeps a service's 100 newest events.
pub const MAX_SERVICE_EVENTS: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Deployment {
    /// `ecs-svc/` and 19 digits.
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    pub task_definition: String,
    pub desired_count: i64,
    pub pending_count: i64,
    pub running_count: i64,
    pub failed_tasks: i64,
    pub created_at: f64,
    pub updated_at: f64,
    pub launch_type: Option<String>,
    /// IN_PROGRESS, COMPLETED or FAILED.
    pub rollout_state: String,
    pub rollout_state_reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceEvent {
    pub id: String,
    pub created_at: f64,
    pub message: String,
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

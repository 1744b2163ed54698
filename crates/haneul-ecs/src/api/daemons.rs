//! ECS Managed Daemons: daemon task definitions (Register/Describe/List/DeleteDaemonTaskDefinition)
//! and daemons (Create/Update/Delete/Describe/ListDaemons, their deployments and revisions).
//! A daemon runs exactly one task on every container instance of its capacity providers;
//! `scheduler::daemons` keeps it so. ECS offers daemons on Managed Instances capacity
//! providers; here they run on the providers whose capacity is `haneul agent`s.

use haneul_store::{Scope, Txn};
use haneul_wire::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::capacity_providers::{CapacityProvider, KIND_CAPACITY_PROVIDER};
use crate::api::tasks::load_active_cluster;
use crate::error::EcsError;
use crate::generated as api;
use crate::model::{cluster_arn, SEP};
use crate::{parse, scope, Ecs};

pub const KIND_DAEMON_TASK_DEFINITION: &str = "ecs.daemon_task_definition";
pub const KIND_DAEMON: &str = "ecs.daemon";
/// Deployments and revisions kept per daemon.
const MAX_DAEMON_HISTORY: usize = 50;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonTaskDefinition {
    pub family: String,
    pub revision: i64,
    /// ACTIVE, DELETE_IN_PROGRESS or DELETED.
    pub status: String,
    /// The DaemonTaskDefinition as the API shows it.
    pub definition: Value,
    pub tags: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonRevisionRecord {
    pub id: String,
    pub arn: String,
    pub daemon_task_definition: String,
    pub created_at: f64,
    /// (container name, image).
    pub images: Vec<(String, String)>,
    pub enable_ecs_managed_tags: bool,
    pub enable_execute_command: bool,
    pub propagate_tags: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonDeploymentRecord {
    pub id: String,
    pub arn: String,
    /// IN_PROGRESS, SUCCESSFUL or STOPPED.
    pub status: String,
    pub status_reason: String,
    pub created_at: f64,
    pub started_at: f64,
    pub finished_at: Option<f64>,
    pub stopped_at: Option<f64>,
    pub target_revision: String,
    pub source_revisions: Vec<String>,
    pub deployment_configuration: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Daemon {
    pub name: String,
    pub arn: String,
    pub cluster: String,
    /// ACTIVE or DELETE_IN_PROGRESS (its tasks stopping; gone once they have).
    pub status: String,
    /// Capacity provider names.
    pub capacity_providers: Vec<String>,
    pub created_at: f64,
    pub updated_at: f64,
    pub tags: Value,
    /// Oldest first; the last is the current one.
    pub revisions: Vec<DaemonRevisionRecord>,
    /// Oldest first; the last is the latest.
    pub deployments: Vec<DaemonDeploymentRecord>,
}

impl Daemon {
    pub fn current_revision(&self) -> Option<&DaemonRevisionRecord> {
        self.revisions.last()
    }
}

fn invalid(msg: impl Into<String>) -> EcsError {
    EcsError::InvalidParameter(msg.into())
}

fn definition_key(family: &str, revision: i64) -> String {
    format!("{family}{SEP}{revision:010}")
}

fn definition_arn(region: &str, account: &str, family: &str, revision: i64) -> String {
    format!("arn:aws:ecs:{region}:{account}:daemon-task-definition/{family}:{revision}")
}

fn daemon_key(cluster: &str, name: &str) -> String {
    format!("{cluster}{SEP}{name}")
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `family`, `family:revision` or an ARN → the stored definition (the latest ACTIVE for a family).
fn find_definition(t: &Txn<'_>, scope: &Scope, given: &str) -> Result<Option<DaemonTaskDefinition>, EcsError> {
    let name = given.rsplit('/').next().unwrap_or(given);
    match name.rsplit_once(':') {
        Some((family, rev)) => {
            let revision: i64 = rev
                .parse()
                .map_err(|_| invalid(format!("Invalid revision number. Number: {rev}")))?;
            Ok(t.get(scope, KIND_DAEMON_TASK_DEFINITION, &definition_key(family, revision))?)
        }
        None => Ok(t
            .list_prefix::<DaemonTaskDefinition>(scope, KIND_DAEMON_TASK_DEFINITION, &format!("{name}{SEP}"))?
            .into_iter()
            .map(|(_, d)| d)
            .rfind(|d| d.status == "ACTIVE")),
    }
}

pub async fn register_definition(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let mut raw = input.clone();
    let input: api::RegisterDaemonTaskDefinitionRequest = parse(input)?;
    if !valid_name(&input.family) {
        return Err(invalid(
            "Family contains invalid characters: up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed.",
        ));
    }
    if input.container_definitions.is_empty() || input.container_definitions.len() > 10 {
        return Err(invalid(
            "A daemon task definition must have between 1 and 10 container definitions.",
        ));
    }
    let mut names = std::collections::HashSet::new();
    for (i, c) in input.container_definitions.iter().enumerate() {
        if c.image.trim().is_empty() {
            return Err(invalid("Container.image should not be null or empty."));
        }
        let name = c.name.clone().unwrap_or_else(|| format!("{}-{i}", input.family));
        if !names.insert(name) {
            return Err(invalid("Duplicate container names are not allowed."));
        }
    }
    for role in [&input.execution_role_arn, &input.task_role_arn].into_iter().flatten() {
        if !role.starts_with("arn:aws:iam::") {
            return Err(invalid(format!("Role is not valid: {role}")));
        }
    }
    // Every container has a name (the driver names containers by it).
    if let Some(list) = raw.get_mut("containerDefinitions").and_then(Value::as_array_mut) {
        for (i, c) in list.iter_mut().enumerate() {
            if c.get("name").is_none() {
                c["name"] = json!(format!("{}-{i}", input.family));
            }
            if c.get("essential").is_none() {
                c["essential"] = json!(true);
            }
        }
    }
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    let arn = ecs
        .store
        .write(move |t| {
            let revision = t
                .list_prefix::<DaemonTaskDefinition>(
                    &scope,
                    KIND_DAEMON_TASK_DEFINITION,
                    &format!("{}{SEP}", input.family),
                )?
                .into_iter()
                .map(|(_, d)| d.revision)
                .max()
                .unwrap_or(0)
                + 1;
            let arn = definition_arn(&region, &account, &input.family, revision);
            let mut definition = json!({
                "daemonTaskDefinitionArn": arn,
                "family": input.family,
                "revision": revision,
                "containerDefinitions": raw["containerDefinitions"],
                "volumes": raw.get("volumes").cloned().unwrap_or_else(|| json!([])),
                "status": "ACTIVE",
                "registeredAt": haneul_wire::value::now_epoch_s(),
                "registeredBy": format!("arn:aws:iam::{account}:root"),
            });
            for k in ["cpu", "memory", "executionRoleArn", "taskRoleArn"] {
                if let Some(v) = raw.get(k) {
                    definition[k] = v.clone();
                }
            }
            let d = DaemonTaskDefinition {
                family: input.family.clone(),
                revision,
                status: "ACTIVE".into(),
                definition,
                tags: raw.get("tags").cloned().unwrap_or_else(|| json!([])),
            };
            t.put(
                &scope,
                KIND_DAEMON_TASK_DEFINITION,
                &definition_key(&d.family, revision),
                &d,
            )?;
            Ok::<_, EcsError>(arn)
        })
        .await?;
    Ok(json!({ "daemonTaskDefinitionArn": arn }))
}

fn definition_view(d: &DaemonTaskDefinition) -> Value {
    let mut v = d.definition.clone();
    v["status"] = json!(d.status);
    v
}

pub async fn describe_definition(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DescribeDaemonTaskDefinitionRequest = parse(input)?;
    let scope = scope(ctx);
    let d = ecs
        .store
        .read(move |t| find_definition(t, &scope, &input.daemon_task_definition))
        .await?
        .ok_or_else(|| invalid("Unable to describe daemon task definition."))?;
    Ok(json!({ "daemonTaskDefinition": definition_view(&d) }))
}

pub async fn list_definitions(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::ListDaemonTaskDefinitionsRequest = parse(input)?;
    let size = crate::api::task_definitions::max_results(input.max_results)?;
    let offset = crate::api::task_definitions::page_token(input.next_token.as_deref())?;
    let scope = scope(ctx);
    let mut all: Vec<DaemonTaskDefinition> = ecs
        .store
        .read(move |t| {
            Ok::<_, EcsError>(
                t.list_prefix::<DaemonTaskDefinition>(&scope, KIND_DAEMON_TASK_DEFINITION, "")?
                    .into_iter()
                    .map(|(_, d)| d)
                    .collect(),
            )
        })
        .await?;
    let status = input.status.clone().unwrap_or_else(|| "ACTIVE".into());
    all.retain(|d| {
        d.status != "DELETED"
            && (status == "ALL" || d.status == status)
            && input.family.as_ref().is_none_or(|f| d.family == *f)
            && input
                .family_prefix
                .as_ref()
                .is_none_or(|p| d.family.starts_with(p.as_str()))
    });
    if input.revision.as_deref() == Some("LAST_REGISTERED") {
        let mut latest: std::collections::BTreeMap<String, DaemonTaskDefinition> = Default::default();
        for d in all {
            latest.insert(d.family.clone(), d);
        }
        all = latest.into_values().collect();
    }
    if input.sort.as_deref() == Some("DESC") {
        all.reverse();
    }
    let summaries: Vec<Value> = all
        .iter()
        .map(|d| {
            let mut v = json!({
                "arn": d.definition["daemonTaskDefinitionArn"],
                "registeredAt": d.definition["registeredAt"],
                "registeredBy": d.definition["registeredBy"],
                "status": d.status,
            });
            if let Some(at) = d.definition.get("deleteRequestedAt") {
                v["deleteRequestedAt"] = at.clone();
            }
            v
        })
        .collect();
    Ok(crate::api::paged("daemonTaskDefinitions", &summaries, offset, size))
}

pub async fn delete_definition(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DeleteDaemonTaskDefinitionRequest = parse(input)?;
    if !input.daemon_task_definition.contains(':') {
        return Err(invalid(
            "The daemon task definition must be named with its revision (family:revision or its ARN).",
        ));
    }
    let scope = scope(ctx);
    let arn = ecs
        .store
        .write(move |t| {
            let mut d = find_definition(t, &scope, &input.daemon_task_definition)?
                .filter(|d| d.status != "DELETED")
                .ok_or_else(|| invalid("The specified daemon task definition does not exist."))?;
            let arn = d.definition["daemonTaskDefinitionArn"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let in_use = t
                .list_prefix::<Daemon>(&scope, KIND_DAEMON, "")?
                .into_iter()
                .any(|(_, daemon)| {
                    daemon
                        .current_revision()
                        .is_some_and(|r| r.daemon_task_definition == arn)
                });
            d.status = if in_use { "DELETE_IN_PROGRESS" } else { "DELETED" }.into();
            d.definition["deleteRequestedAt"] = json!(haneul_wire::value::now_epoch_s());
            t.put(
                &scope,
                KIND_DAEMON_TASK_DEFINITION,
                &definition_key(&d.family, d.revision),
                &d,
            )?;
            Ok::<_, EcsError>(arn)
        })
        .await?;
    Ok(json!({ "daemonTaskDefinitionArn": arn }))
}

/// `arn:aws:ecs:<region>:<account>:daemon/<cluster>/<name>` → (cluster, name).
fn daemon_ref(arn: &str) -> Result<(String, String), EcsError> {
    let resource = arn.rsplit(':').next().unwrap_or(arn);
    let mut parts = resource.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("daemon"), Some(cluster), Some(name)) => Ok((cluster.to_string(), name.to_string())),
        _ => Err(invalid(format!("Invalid daemon ARN: {arn}"))),
    }
}

fn load_daemon(t: &Txn<'_>, scope: &Scope, arn: &str) -> Result<(String, Daemon), EcsError> {
    let (cluster, name) = daemon_ref(arn)?;
    let key = daemon_key(&cluster, &name);
    let d = t
        .get::<Daemon>(scope, KIND_DAEMON, &key)?
        .ok_or(EcsError::DaemonNotFound)?;
    Ok((key, d))
}

/// The capacity providers a daemon may use: named by name or ARN, each one backed by
/// container instances (not FARGATE) and associated with the cluster.
fn checked_providers(
    t: &Txn<'_>,
    scope: &Scope,
    cluster: &crate::model::Cluster,
    given: &[String],
) -> Result<Vec<String>, EcsError> {
    if given.is_empty() {
        return Err(invalid(
            "capacityProviderArns must name at least one capacity provider.",
        ));
    }
    let mut out = Vec::new();
    for g in given {
        let name = g.rsplit('/').next().unwrap_or(g).to_string();
        if name.starts_with("FARGATE") {
            return Err(invalid(
                "Daemons run only on capacity providers backed by container instances, not on FARGATE.",
            ));
        }
        let found: Option<CapacityProvider> = t.get(scope, KIND_CAPACITY_PROVIDER, &name)?;
        if found.is_none_or(|p| p.status != "ACTIVE") {
            return Err(invalid(format!(
                "The specified capacity provider '{name}' does not exist. Specify a valid capacity provider and try again."
            )));
        }
        if !cluster.capacity_providers.contains(&name) {
            return Err(invalid(format!(
                "The capacity provider {name} is not associated with the cluster {}.",
                cluster.name
            )));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

struct Settings {
    enable_ecs_managed_tags: bool,
    enable_execute_command: bool,
    propagate_tags: String,
    deployment_configuration: Value,
}

/// A new revision of `daemon` for `definition` and a deployment rolling it out (the one in
/// progress is stopped).
fn roll_out(daemon: &mut Daemon, definition: &DaemonTaskDefinition, settings: &Settings, region: &str, account: &str) {
    let now = haneul_wire::value::now_epoch_s();
    let images = crate::runtime::spec::containers_of(&definition.definition)
        .into_iter()
        .map(|c| {
            let f = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            (f("name"), f("image"))
        })
        .collect();
    let revision_id = id();
    let revision = DaemonRevisionRecord {
        arn: format!(
            "arn:aws:ecs:{region}:{account}:daemon-revision/{}/{}/{revision_id}",
            daemon.cluster, daemon.name
        ),
        id: revision_id,
        daemon_task_definition: definition.definition["daemonTaskDefinitionArn"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        created_at: now,
        images,
        enable_ecs_managed_tags: settings.enable_ecs_managed_tags,
        enable_execute_command: settings.enable_execute_command,
        propagate_tags: settings.propagate_tags.clone(),
    };
    let sources: Vec<String> = daemon.current_revision().map(|r| r.arn.clone()).into_iter().collect();
    for d in &mut daemon.deployments {
        if d.status == "IN_PROGRESS" {
            d.status = "STOPPED".into();
            d.status_reason = "Superseded by a newer deployment.".into();
            d.stopped_at = Some(now);
        }
    }
    let deployment_id = id();
    daemon.deployments.push(DaemonDeploymentRecord {
        arn: format!(
            "arn:aws:ecs:{region}:{account}:daemon-deployment/{}/{}/{deployment_id}",
            daemon.cluster, daemon.name
        ),
        id: deployment_id,
        status: "IN_PROGRESS".into(),
        status_reason: "Deployment in progress.".into(),
        created_at: now,
        started_at: now,
        finished_at: None,
        stopped_at: None,
        target_revision: revision.arn.clone(),
        source_revisions: sources,
        deployment_configuration: settings.deployment_configuration.clone(),
    });
    daemon.revisions.push(revision);
    let over = daemon.deployments.len().saturating_sub(MAX_DAEMON_HISTORY);
    daemon.deployments.drain(..over);
    let over = daemon.revisions.len().saturating_sub(MAX_DAEMON_HISTORY);
    daemon.revisions.drain(..over);
    daemon.updated_at = now;
}

fn deployment_configuration(given: Option<&api::DaemonDeploymentConfiguration>) -> Result<Value, EcsError> {
    let mut v = given
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| invalid(e.to_string()))?
        .unwrap_or_else(|| json!({}));
    if v.get("drainPercent").is_none() {
        v["drainPercent"] = json!(25.0);
    }
    if v.get("bakeTimeInMinutes").is_none() {
        v["bakeTimeInMinutes"] = json!(0);
    }
    let drain = v["drainPercent"].as_f64().unwrap_or(25.0);
    if !(0.0..=100.0).contains(&drain) {
        return Err(invalid("drainPercent must be between 0 and 100."));
    }
    Ok(v)
}

fn answer(d: &Daemon) -> Value {
    json!({
        "daemonArn": d.arn,
        "status": d.status,
        "createdAt": d.created_at,
        "updatedAt": d.updated_at,
        "deploymentArn": d.deployments.last().map(|x| x.arn.clone()),
    })
}

pub async fn create(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::CreateDaemonRequest = parse(input)?;
    if !valid_name(&input.daemon_name) {
        return Err(invalid(
            "The daemon name can contain up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores.",
        ));
    }
    let settings = Settings {
        enable_ecs_managed_tags: input.enable_ecs_managed_tags.unwrap_or(false),
        enable_execute_command: input.enable_execute_command.unwrap_or(false),
        propagate_tags: input.propagate_tags.clone().unwrap_or_else(|| "NONE".into()),
        deployment_configuration: deployment_configuration(input.deployment_configuration.as_ref())?,
    };
    let tags = serde_json::to_value(&input.tags).map_err(|e| invalid(e.to_string()))?;
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    let daemon = ecs
        .store
        .write(move |t| {
            let given_cluster = input.cluster_arn.as_deref().map(|c| c.rsplit('/').next().unwrap_or(c));
            let cluster = load_active_cluster(t, &scope, given_cluster)?;
            let providers = checked_providers(t, &scope, &cluster, &input.capacity_provider_arns)?;
            let definition = find_definition(t, &scope, &input.daemon_task_definition_arn)?
                .filter(|d| d.status == "ACTIVE")
                .ok_or_else(|| invalid("The specified daemon task definition does not exist or is not ACTIVE."))?;
            let key = daemon_key(&cluster.name, &input.daemon_name);
            if t.get::<Daemon>(&scope, KIND_DAEMON, &key)?.is_some() {
                return Err(EcsError::Client(format!(
                    "A daemon named {} already exists in the cluster {}.",
                    input.daemon_name, cluster.name
                )));
            }
            let now = haneul_wire::value::now_epoch_s();
            let mut daemon = Daemon {
                arn: format!(
                    "arn:aws:ecs:{region}:{account}:daemon/{}/{}",
                    cluster.name, input.daemon_name
                ),
                name: input.daemon_name.clone(),
                cluster: cluster.name.clone(),
                status: "ACTIVE".into(),
                capacity_providers: providers,
                created_at: now,
                updated_at: now,
                tags,
                revisions: Vec::new(),
                deployments: Vec::new(),
            };
            roll_out(&mut daemon, &definition, &settings, &region, &account);
            t.put(&scope, KIND_DAEMON, &key, &daemon)?;
            Ok::<_, EcsError>(daemon)
        })
        .await?;
    Ok(answer(&daemon))
}

pub async fn update(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::UpdateDaemonRequest = parse(input)?;
    let settings = Settings {
        enable_ecs_managed_tags: input.enable_ecs_managed_tags.unwrap_or(false),
        enable_execute_command: input.enable_execute_command.unwrap_or(false),
        propagate_tags: input.propagate_tags.clone().unwrap_or_else(|| "NONE".into()),
        deployment_configuration: deployment_configuration(input.deployment_configuration.as_ref())?,
    };
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    let daemon = ecs
        .store
        .write(move |t| {
            let (key, mut daemon) = load_daemon(t, &scope, &input.daemon_arn)?;
            if daemon.status != "ACTIVE" {
                return Err(EcsError::DaemonNotActive);
            }
            let cluster = load_active_cluster(t, &scope, Some(&daemon.cluster))?;
            daemon.capacity_providers = checked_providers(t, &scope, &cluster, &input.capacity_provider_arns)?;
            let definition = find_definition(t, &scope, &input.daemon_task_definition_arn)?
                .filter(|d| d.status == "ACTIVE")
                .ok_or_else(|| invalid("The specified daemon task definition does not exist or is not ACTIVE."))?;
            roll_out(&mut daemon, &definition, &settings, &region, &account);
            t.put(&scope, KIND_DAEMON, &key, &daemon)?;
            Ok::<_, EcsError>(daemon)
        })
        .await?;
    Ok(answer(&daemon))
}

pub async fn delete(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DeleteDaemonRequest = parse(input)?;
    let scope = scope(ctx);
    let daemon = ecs
        .store
        .write(move |t| {
            let (key, mut daemon) = load_daemon(t, &scope, &input.daemon_arn)?;
            if daemon.status != "ACTIVE" {
                return Err(EcsError::DaemonNotActive);
            }
            let now = haneul_wire::value::now_epoch_s();
            daemon.status = "DELETE_IN_PROGRESS".into();
            daemon.updated_at = now;
            for d in &mut daemon.deployments {
                if d.status == "IN_PROGRESS" {
                    d.status = "STOPPED".into();
                    d.status_reason = "The daemon is being deleted.".into();
                    d.stopped_at = Some(now);
                }
            }
            t.put(&scope, KIND_DAEMON, &key, &daemon)?;
            Ok::<_, EcsError>(daemon)
        })
        .await?;
    Ok(answer(&daemon))
}

/// What runs of a daemon, per revision and capacity provider: (revision ARN, provider, count).
pub type RunningCounts = Vec<(String, String, i64)>;

/// The daemon's running tasks by revision and provider.
fn running_counts(t: &Txn<'_>, scope: &Scope, daemon: &Daemon) -> Result<RunningCounts, EcsError> {
    let mut counts: std::collections::BTreeMap<(String, String), i64> = Default::default();
    let group = format!("daemon:{}", daemon.name);
    for (_, task) in
        t.list_prefix::<crate::model::Task>(scope, crate::model::KIND_TASK, &format!("{}{SEP}", daemon.cluster))?
    {
        if task.group.as_deref() != Some(group.as_str())
            || task.last_status != "RUNNING"
            || task.desired_status != "RUNNING"
        {
            continue;
        }
        let revision = task.started_by.clone().unwrap_or_default();
        let provider = task.capacity_provider.clone().unwrap_or_default();
        *counts.entry((revision, provider)).or_default() += 1;
    }
    Ok(counts.into_iter().map(|((r, p), n)| (r, p, n)).collect())
}

fn detail(d: &Daemon, counts: &RunningCounts, region: &str, account: &str) -> Value {
    let mut revisions: Vec<Value> = Vec::new();
    for r in d.revisions.iter().rev() {
        let mine: Vec<&(String, String, i64)> = counts.iter().filter(|(rev, _, _)| *rev == r.arn).collect();
        let current = d.current_revision().is_some_and(|c| c.id == r.id);
        if mine.is_empty() && !current {
            continue;
        }
        let providers: Vec<Value> = d
            .capacity_providers
            .iter()
            .map(|p| {
                let n: i64 = mine.iter().filter(|(_, cp, _)| cp == p).map(|(_, _, n)| n).sum();
                json!({ "arn": format!("arn:aws:ecs:{region}:{account}:capacity-provider/{p}"), "runningCount": n })
            })
            .collect();
        revisions.push(json!({
            "arn": r.arn,
            "capacityProviders": providers,
            "totalRunningCount": mine.iter().map(|(_, _, n)| n).sum::<i64>(),
        }));
    }
    json!({
        "daemonArn": d.arn,
        "clusterArn": cluster_arn(region, account, &d.cluster),
        "status": d.status,
        "createdAt": d.created_at,
        "updatedAt": d.updated_at,
        "deploymentArn": d.deployments.last().map(|x| x.arn.clone()),
        "currentRevisions": revisions,
    })
}

pub async fn describe(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DescribeDaemonRequest = parse(input)?;
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    ecs.store
        .read(move |t| {
            let (_, d) = load_daemon(t, &scope, &input.daemon_arn)?;
            let counts = running_counts(t, &scope, &d)?;
            Ok::<_, EcsError>(json!({ "daemon": detail(&d, &counts, &region, &account) }))
        })
        .await
}

pub async fn list(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::ListDaemonsRequest = parse(input)?;
    let size = crate::api::task_definitions::max_results(input.max_results)?;
    let offset = crate::api::task_definitions::page_token(input.next_token.as_deref())?;
    let scope = scope(ctx);
    let all: Vec<Value> = ecs
        .store
        .read(move |t| {
            let prefix = match &input.cluster_arn {
                Some(c) => {
                    let cluster = load_active_cluster(t, &scope, Some(c.rsplit('/').next().unwrap_or(c)))?;
                    format!("{}{SEP}", cluster.name)
                }
                None => String::new(),
            };
            let wanted: Vec<&str> = input
                .capacity_provider_arns
                .iter()
                .map(|p| p.rsplit('/').next().unwrap_or(p))
                .collect();
            Ok::<_, EcsError>(
                t.list_prefix::<Daemon>(&scope, KIND_DAEMON, &prefix)?
                    .into_iter()
                    .map(|(_, d)| d)
                    .filter(|d| wanted.is_empty() || d.capacity_providers.iter().any(|p| wanted.contains(&p.as_str())))
                    .map(|d| json!({ "daemonArn": d.arn, "status": d.status, "createdAt": d.created_at, "updatedAt": d.updated_at }))
                    .collect(),
            )
        })
        .await?;
    Ok(crate::api::paged("daemonSummariesList", &all, offset, size))
}

fn deployment_view(d: &Daemon, x: &DaemonDeploymentRecord, region: &str, account: &str) -> Value {
    let mut v = json!({
        "daemonDeploymentArn": x.arn,
        "clusterArn": cluster_arn(region, account, &d.cluster),
        "status": x.status,
        "statusReason": x.status_reason,
        "createdAt": x.created_at,
        "startedAt": x.started_at,
        "targetDaemonRevision": { "arn": x.target_revision },
        "sourceDaemonRevisions": x.source_revisions.iter().map(|r| json!({ "arn": r })).collect::<Vec<_>>(),
        "deploymentConfiguration": x.deployment_configuration,
        "circuitBreaker": { "status": "DISABLED", "failureCount": 0, "threshold": 0 },
    });
    if let Some(at) = x.finished_at {
        v["finishedAt"] = json!(at);
    }
    if let Some(at) = x.stopped_at {
        v["stoppedAt"] = json!(at);
    }
    v
}

pub async fn list_deployments(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::ListDaemonDeploymentsRequest = parse(input)?;
    let size = crate::api::task_definitions::max_results(input.max_results)?;
    let offset = crate::api::task_definitions::page_token(input.next_token.as_deref())?;
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    let d = ecs
        .store
        .read(move |t| load_daemon(t, &scope, &input.daemon_arn).map(|(_, d)| (d, input)))
        .await?;
    let (d, input) = d;
    let summaries: Vec<Value> =
        d.deployments
            .iter()
            .rev()
            .filter(|x| input.status.is_empty() || input.status.contains(&x.status))
            .filter(|x| {
                input.created_at.as_ref().is_none_or(|c| {
                    c.after.is_none_or(|a| x.created_at >= a) && c.before.is_none_or(|b| x.created_at <= b)
                })
            })
            .map(|x| {
                let mut v = json!({
                    "daemonDeploymentArn": x.arn,
                    "daemonArn": d.arn,
                    "clusterArn": cluster_arn(&region, &account, &d.cluster),
                    "status": x.status,
                    "statusReason": x.status_reason,
                    "createdAt": x.created_at,
                    "startedAt": x.started_at,
                    "targetDaemonRevisionArn": x.target_revision,
                });
                if let Some(at) = x.finished_at {
                    v["finishedAt"] = json!(at);
                }
                if let Some(at) = x.stopped_at {
                    v["stoppedAt"] = json!(at);
                }
                v
            })
            .collect();
    Ok(crate::api::paged("daemonDeployments", &summaries, offset, size))
}

/// The daemon a deployment or revision ARN belongs to: `…:daemon-x/<cluster>/<name>/<id>`.
fn owner(arn: &str) -> Option<(String, String)> {
    let resource = arn.rsplit(':').next()?;
    let mut parts = resource.split('/');
    let (_, cluster, name) = (parts.next()?, parts.next()?, parts.next()?);
    Some((cluster.to_string(), name.to_string()))
}

/// Describes up to 20 things a daemon holds (deployments, revisions), each named by an ARN
/// that names its daemon: `view` finds one in its daemon; the rest are MISSING failures.
async fn describe_in_daemons(
    ecs: &Ecs,
    ctx: &RequestContext,
    arns: Vec<String>,
    (what, noun): (&'static str, &'static str),
    field: &'static str,
    view: fn(&Daemon, &str, &str, &str) -> Option<Value>,
) -> Result<Value, EcsError> {
    if arns.is_empty() || arns.len() > 20 {
        return Err(invalid(format!("{what} must name between 1 and 20 {noun}.")));
    }
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    ecs.store
        .read(move |t| {
            let mut found = Vec::new();
            let mut failures = Vec::new();
            for arn in &arns {
                let hit = match owner(arn) {
                    Some((cluster, name)) => t
                        .get::<Daemon>(&scope, KIND_DAEMON, &daemon_key(&cluster, &name))?
                        .and_then(|d| view(&d, arn, &region, &account)),
                    None => None,
                };
                match hit {
                    Some(v) => found.push(v),
                    None => failures.push(json!({ "arn": arn, "reason": "MISSING" })),
                }
            }
            Ok::<_, EcsError>(json!({ field: found, "failures": failures }))
        })
        .await
}

pub async fn describe_deployments(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DescribeDaemonDeploymentsRequest = parse(input)?;
    describe_in_daemons(
        ecs,
        ctx,
        input.daemon_deployment_arns,
        ("daemonDeploymentArns", "deployments"),
        "daemonDeployments",
        |d, arn, region, account| {
            d.deployments
                .iter()
                .find(|x| x.arn == arn)
                .map(|x| deployment_view(d, x, region, account))
        },
    )
    .await
}

pub async fn describe_revisions(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DescribeDaemonRevisionsRequest = parse(input)?;
    describe_in_daemons(
        ecs,
        ctx,
        input.daemon_revision_arns,
        ("daemonRevisionArns", "revisions"),
        "daemonRevisions",
        |d, arn, region, account| {
            d.revisions.iter().find(|r| r.arn == arn).map(|r| {
                json!({
                    "daemonRevisionArn": r.arn,
                    "daemonArn": d.arn,
                    "clusterArn": cluster_arn(region, account, &d.cluster),
                    "daemonTaskDefinitionArn": r.daemon_task_definition,
                    "createdAt": r.created_at,
                    "containerImages": r.images.iter().map(|(n, i)| json!({ "containerName": n, "image": i })).collect::<Vec<_>>(),
                    "enableECSManagedTags": r.enable_ecs_managed_tags,
                    "enableExecuteCommand": r.enable_execute_command,
                    "propagateTags": r.propagate_tags,
                })
            })
        },
    )
    .await
}

/// The definition a revision runs, as the task driver reads a task definition.
pub fn task_definition_of(
    t: &Txn<'_>,
    scope: &Scope,
    revision: &DaemonRevisionRecord,
) -> Result<Option<crate::model::TaskDefinition>, EcsError> {
    let Some(d) = find_definition(t, scope, &revision.daemon_task_definition)? else {
        return Ok(None);
    };
    Ok(Some(crate::model::TaskDefinition {
        family: d.family.clone(),
        revision: d.revision,
        status: "ACTIVE".into(),
        definition: as_task_definition(&d.definition),
        tags: json!([]),
    }))
}

/// A daemon task definition (API shape) as the task driver reads a task definition: its
/// ARN as `taskDefinitionArn`, on the bridge network.
pub fn as_task_definition(daemon_definition: &Value) -> Value {
    let mut definition = daemon_definition.clone();
    definition["taskDefinitionArn"] = daemon_definition["daemonTaskDefinitionArn"].clone();
    definition["networkMode"] = json!("bridge");
    definition
}

//! Create/Describe/List/Delete/UpdateCluster, UpdateClusterSettings,
//! PutClusterCapacityProviders.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use haneul_store::{Scope, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use super::output;
use crate::error::EcsError;
use crate::generated as api;
use crate::model::{cluster_arn, cluster_name, valid_cluster_name, Cluster, StrategyItem, KIND_CLUSTER};
use crate::{parse, scope, Ecs};

/// The capacity providers every cluster may use without creating them.
pub const FARGATE_PROVIDERS: [&str; 2] = ["FARGATE", "FARGATE_SPOT"];
pub const MAX_TAGS: usize = 50;

/// What DescribeClusters' `include` asks for beyond the defaults.
#[derive(Default, Clone, Copy)]
struct Include {
    tags: bool,
    settings: bool,
    configurations: bool,
}

/// What a cluster holds: (active services, running tasks, pending tasks).
#[derive(Default, Clone, Copy)]
struct Counts {
    services: i64,
    running: i64,
    pending: i64,
    instances: i64,
}

fn counts(t: &haneul_store::Txn<'_>, scope: &haneul_store::Scope, cluster: &str) -> Result<Counts, EcsError> {
    let prefix = format!("{cluster}{}", crate::model::SEP);
    let mut c = Counts::default();
    for (_, s) in t.list_prefix::<crate::model::Service>(scope, crate::model::KIND_SERVICE, &prefix)? {
        if s.status != "INACTIVE" {
            c.services += 1;
        }
    }
    for (_, ci) in t.list_prefix::<crate::api::container_instances::ContainerInstance>(
        scope,
        crate::api::container_instances::KIND_CONTAINER_INSTANCE,
        &prefix,
    )? {
        if ci.status != "INACTIVE" {
            c.instances += 1;
        }
    }
    for (_, task) in t.list_prefix::<crate::model::Task>(scope, crate::model::KIND_TASK, &prefix)? {
        match task.last_status.as_str() {
            "STOPPED" => {}
            "RUNNING" => c.running += 1,
            _ => c.pending += 1,
        }
    }
    Ok(c)
}

fn view(c: &Cluster, include: Include) -> api::Cluster {
    view_counted(c, include, Counts::default())
}

fn view_counted(c: &Cluster, include: Include, n: Counts) -> api::Cluster {
    let configuration = if include.configurations {
        c.configuration.clone().and_then(|v| serde_json::from_value(v).ok())
    } else {
        None
    };
    api::Cluster {
        active_services_count: Some(n.services),
        capacity_providers: c.capacity_providers.clone(),
        cluster_arn: Some(c.arn.clone()),
        cluster_name: Some(c.name.clone()),
        configuration,
        default_capacity_provider_strategy: c
            .default_strategy
            .iter()
            .map(|s| api::CapacityProviderStrategyItem {
                base: Some(s.base),
                capacity_provider: s.provider.clone(),
                weight: Some(s.weight),
            })
            .collect(),
        pending_tasks_count: Some(n.pending),
        registered_container_instances_count: Some(n.instances),
        running_tasks_count: Some(n.running),
        service_connect_defaults: c
            .service_connect_namespace
            .clone()
            .map(|n| api::ClusterServiceConnectDefaults { namespace: Some(n) }),
        settings: if include.settings { settings_view(c) } else { Vec::new() },
        status: Some(c.status.clone()),
        tags: if include.tags {
            c.tags
                .iter()
                .map(|(k, v)| api::Tag {
                    key: Some(k.clone()),
                    value: Some(v.clone()),
                })
                .collect()
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

fn settings_view(c: &Cluster) -> Vec<api::ClusterSetting> {
    c.settings
        .iter()
        .map(|(n, v)| api::ClusterSetting {
            name: Some(n.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

fn checked_settings(given: &[api::ClusterSetting]) -> Result<Vec<(String, String)>, EcsError> {
    given
        .iter()
        .map(|s| {
            let name = s.name.clone().unwrap_or_default();
            let value = s.value.clone().unwrap_or_default();
            if name != "containerInsights" || !["enabled", "disabled", "enhanced"].contains(&value.as_str()) {
                return Err(EcsError::InvalidParameter(format!(
                    "The value '{value}' for the cluster setting '{name}' is not valid. Valid values: enabled, disabled, enhanced."
                )));
            }
            Ok((name, value))
        })
        .collect()
}

/// Every provider named exists (FARGATE, FARGATE_SPOT, or an ACTIVE one of the account's).
fn providers_exist(t: &Txn<'_>, scope: &Scope, providers: &[String]) -> Result<(), EcsError> {
    for p in providers {
        if !crate::api::capacity_providers::exists(t, scope, p)? {
            return Err(EcsError::InvalidParameter(format!(
                "The specified capacity provider '{p}' does not exist. Specify a valid capacity provider and try again."
            )));
        }
    }
    Ok(())
}

fn checked_providers(
    providers: &[String],
    strategy: &[api::CapacityProviderStrategyItem],
) -> Result<(Vec<String>, Vec<StrategyItem>), EcsError> {
    let mut out = Vec::new();
    for item in strategy {
        if !providers.contains(&item.capacity_provider) {
            return Err(EcsError::InvalidParameter(
                "The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.".into(),
            ));
        }
        let (base, weight) = (item.base.unwrap_or(0), item.weight.unwrap_or(0));
        if !(0..=100_000).contains(&base) || !(0..=1000).contains(&weight) {
            return Err(EcsError::InvalidParameter(
                "A capacity provider strategy item's base must be 0-100000 and its weight 0-1000.".into(),
            ));
        }
        out.push(StrategyItem {
            provider: item.capacity_provider.clone(),
            base,
            weight,
        });
    }
    if out.iter().filter(|s| s.base > 0).count() > 1 {
        return Err(EcsError::InvalidParameter(
            "Only one capacity provider in a strategy can have a base defined.".into(),
        ));
    }
    Ok((providers.to_vec(), out))
}

fn checked_tags(tags: &[api::Tag]) -> Result<Vec<(String, String)>, EcsError> {
    if tags.len() > MAX_TAGS {
        return Err(EcsError::InvalidParameter(format!(
            "A resource can have at most {MAX_TAGS} tags."
        )));
    }
    tags.iter()
        .map(|t| {
            let key = t.key.clone().unwrap_or_default();
            if key.is_empty() || key.to_ascii_lowercase().starts_with("aws:") {
                return Err(EcsError::InvalidParameter(format!("Tag key '{key}' is not valid.")));
            }
            Ok((key, t.value.clone().unwrap_or_default()))
        })
        .collect()
}

pub async fn create(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::CreateClusterRequest = parse(input)?;
    let name = input.cluster_name.clone().unwrap_or_else(|| "default".into());
    if !valid_cluster_name(&name) {
        return Err(EcsError::InvalidParameter(
            "Invalid cluster name. Up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.".into(),
        ));
    }
    let settings = checked_settings(&input.settings)?;
    let (providers, strategy) =
        checked_providers(&input.capacity_providers, &input.default_capacity_provider_strategy)?;
    let tags = checked_tags(&input.tags)?;
    let cluster = Cluster {
        arn: cluster_arn(&ctx.region, &ctx.account_id, &name),
        name,
        status: "ACTIVE".into(),
        settings,
        configuration: input
            .configuration
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .ok()
            .flatten(),
        service_connect_namespace: input.service_connect_defaults.map(|d| d.namespace),
        capacity_providers: providers,
        default_strategy: strategy,
        tags,
    };
    let scope = scope(ctx);
    let stored = ecs
        .store
        .write(move |t| {
            providers_exist(t, &scope, &cluster.capacity_providers)?;
            // Creating an ACTIVE cluster again answers with it, as ECS does.
            if let Some(existing) = t.get::<Cluster>(&scope, KIND_CLUSTER, &cluster.name)? {
                if existing.status == "ACTIVE" {
                    return Ok(existing);
                }
            }
            t.put(&scope, KIND_CLUSTER, &cluster.name, &cluster)?;
            Ok::<_, EcsError>(cluster)
        })
        .await?;
    let all = Include {
        tags: true,
        settings: true,
        configurations: true,
    };
    output(&api::CreateClusterResponse {
        cluster: Some(view(&stored, all)),
    })
}

pub async fn describe(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DescribeClustersRequest = parse(input)?;
    let include = Include {
        tags: input.include.iter().any(|i| i == "TAGS"),
        settings: input.include.iter().any(|i| i == "SETTINGS"),
        configurations: input.include.iter().any(|i| i == "CONFIGURATIONS"),
    };
    let wanted: Vec<String> = if input.clusters.is_empty() {
        vec!["default".into()]
    } else {
        input.clusters.clone()
    };
    let scope = scope(ctx);
    let names: Vec<(String, String)> = wanted
        .iter()
        .map(|w| (w.clone(), cluster_name(Some(w)).to_string()))
        .collect();
    let found: Vec<(String, Option<(Cluster, Counts)>)> = ecs
        .store
        .read(move |t| {
            names
                .into_iter()
                .map(|(given, name)| {
                    let found = match t.get::<Cluster>(&scope, KIND_CLUSTER, &name)? {
                        Some(c) => {
                            let n = counts(t, &scope, &c.name)?;
                            Some((c, n))
                        }
                        None => None,
                    };
                    Ok((given, found))
                })
                .collect::<Result<Vec<_>, EcsError>>()
        })
        .await?;
    let mut clusters = Vec::new();
    let mut failures = Vec::new();
    for (given, c) in found {
        match c {
            Some((c, n)) => clusters.push(view_counted(&c, include, n)),
            None => failures.push(api::Failure {
                arn: Some(if given.starts_with("arn:") {
                    given
                } else {
                    cluster_arn(&ctx.region, &ctx.account_id, &given)
                }),
                detail: None,
                reason: Some("MISSING".into()),
            }),
        }
    }
    Ok(json!({
        "clusters": output(&clusters)?,
        "failures": output(&failures)?,
    }))
}

pub async fn list(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::ListClustersRequest = parse(input)?;
    let size = match input.max_results {
        None => 100,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(_) => {
            return Err(EcsError::InvalidParameter(
                "maxResults must be between 1 and 100.".into(),
            ))
        }
    };
    let after = match input.next_token.as_deref() {
        None => None,
        Some(t) => Some(
            URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| EcsError::InvalidParameter("Invalid nextToken.".into()))?,
        ),
    };
    let scope = scope(ctx);
    let all: Vec<(String, Cluster)> = ecs.store.read(move |t| t.list(&scope, KIND_CLUSTER)).await?;
    let active: Vec<&Cluster> = all
        .iter()
        .map(|(_, c)| c)
        .filter(|c| c.status == "ACTIVE")
        .filter(|c| after.as_deref().is_none_or(|a| c.name.as_str() > a))
        .collect();
    let page: Vec<String> = active.iter().take(size).map(|c| c.arn.clone()).collect();
    let mut out = json!({ "clusterArns": page });
    if active.len() > size {
        out["nextToken"] = json!(URL_SAFE_NO_PAD.encode(&active[size - 1].name));
    }
    Ok(out)
}

/// Changes an ACTIVE cluster in one write and answers with it.
async fn change(
    ecs: &Ecs,
    ctx: &RequestContext,
    given: &str,
    include: Include,
    f: impl FnOnce(&Txn<'_>, &mut Cluster) -> Result<(), EcsError> + Send + 'static,
) -> Result<api::Cluster, EcsError> {
    let scope = scope(ctx);
    let name = cluster_name(Some(given)).to_string();
    let c = ecs
        .store
        .write(move |t| {
            let mut c: Cluster = t
                .get(&scope, KIND_CLUSTER, &name)?
                .filter(|c: &Cluster| c.status == "ACTIVE")
                .ok_or(EcsError::ClusterNotFound)?;
            f(t, &mut c)?;
            t.put(&scope, KIND_CLUSTER, &name, &c)?;
            Ok::<_, EcsError>(c)
        })
        .await?;
    Ok(view(&c, include))
}

pub async fn delete(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DeleteClusterRequest = parse(input)?;
    let scope = scope(ctx);
    let name = cluster_name(Some(&input.cluster)).to_string();
    let c = ecs
        .store
        .write(move |t| {
            let mut c: Cluster = t
                .get(&scope, KIND_CLUSTER, &name)?
                .filter(|c: &Cluster| c.status == "ACTIVE")
                .ok_or(EcsError::ClusterNotFound)?;
            let n = counts(t, &scope, &c.name)?;
            if n.services > 0 {
                return Err(EcsError::ClusterContainsServices);
            }
            if n.running + n.pending > 0 {
                return Err(EcsError::ClusterContainsTasks);
            }
            if n.instances > 0 {
                return Err(EcsError::ClusterContainsContainerInstances);
            }
            c.status = "INACTIVE".into();
            t.put(&scope, KIND_CLUSTER, &name, &c)?;
            Ok::<_, EcsError>(view(&c, Include::default()))
        })
        .await?;
    Ok(json!({ "cluster": output(&c)? }))
}

pub async fn update(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::UpdateClusterRequest = parse(input)?;
    let settings = checked_settings(&input.settings)?;
    let configuration = input
        .configuration
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .ok()
        .flatten();
    let namespace = input.service_connect_defaults.map(|d| d.namespace);
    let include = Include {
        tags: false,
        settings: true,
        configurations: true,
    };
    let c = change(ecs, ctx, &input.cluster, include, move |_, c| {
        merge_settings(c, settings);
        if configuration.is_some() {
            c.configuration = configuration;
        }
        if namespace.is_some() {
            c.service_connect_namespace = namespace;
        }
        Ok(())
    })
    .await?;
    Ok(json!({ "cluster": output(&c)? }))
}

fn merge_settings(c: &mut Cluster, settings: Vec<(String, String)>) {
    for (name, value) in settings {
        match c.settings.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => c.settings.push((name, value)),
        }
    }
}

pub async fn update_settings(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::UpdateClusterSettingsRequest = parse(input)?;
    let settings = checked_settings(&input.settings)?;
    let include = Include {
        settings: true,
        ..Include::default()
    };
    let c = change(ecs, ctx, &input.cluster, include, move |_, c| {
        merge_settings(c, settings);
        Ok(())
    })
    .await?;
    Ok(json!({ "cluster": output(&c)? }))
}

pub async fn put_capacity_providers(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::PutClusterCapacityProvidersRequest = parse(input)?;
    let (providers, strategy) =
        checked_providers(&input.capacity_providers, &input.default_capacity_provider_strategy)?;
    let account = scope(ctx);
    let c = change(ecs, ctx, &input.cluster, Include::default(), move |t, c| {
        providers_exist(t, &account, &providers)?;
        c.capacity_providers = providers;
        c.default_strategy = strategy;
        Ok(())
    })
    .await?;
    Ok(json!({ "cluster": output(&c)? }))
}

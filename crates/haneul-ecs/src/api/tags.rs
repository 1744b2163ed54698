//! TagResource, UntagResource, ListTagsForResource for the resources that exist so far
//! (clusters and task definitions).

use haneul_store::{Scope, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use super::clusters::MAX_TAGS;
use crate::error::EcsError;
use crate::generated as api;
use crate::model::{task_definition_id, Cluster, TaskDefinition, KIND_CLUSTER, KIND_TASK_DEFINITION};
use crate::{parse, scope, Ecs};

/// What an ARN names.
enum Resource {
    Cluster(String),
    TaskDefinition(String, i64),
}

fn resource(arn: &str) -> Result<Resource, EcsError> {
    let bad = || {
        EcsError::InvalidParameter(format!(
            "The ARN '{arn}' does not name an ECS resource haneul keeps tags on."
        ))
    };
    let rest = arn.strip_prefix("arn:").ok_or_else(bad)?;
    let path = rest.splitn(5, ':').nth(4).ok_or_else(bad)?;
    if let Some(name) = path.strip_prefix("cluster/") {
        return Ok(Resource::Cluster(name.to_string()));
    }
    if let Some(td) = path.strip_prefix("task-definition/") {
        let (family, rev) = td.rsplit_once(':').ok_or_else(bad)?;
        return Ok(Resource::TaskDefinition(
            family.to_string(),
            rev.parse().map_err(|_| bad())?,
        ));
    }
    Err(bad())
}

fn not_found() -> EcsError {
    EcsError::ResourceNotFound("The specified resource is not found.".into())
}

/// The resource's tags, changed by `f`, written back in the same transaction.
fn with_tags<T>(
    t: &mut Txn<'_>,
    scope: &Scope,
    r: &Resource,
    f: impl FnOnce(&mut Vec<(String, String)>) -> Result<T, EcsError>,
) -> Result<T, EcsError> {
    match r {
        Resource::Cluster(name) => {
            let mut c: Cluster = t
                .get(scope, KIND_CLUSTER, name)?
                .filter(|c: &Cluster| c.status == "ACTIVE")
                .ok_or(EcsError::ClusterNotFound)?;
            let out = f(&mut c.tags)?;
            t.put(scope, KIND_CLUSTER, name, &c)?;
            Ok(out)
        }
        Resource::TaskDefinition(family, rev) => {
            let id = task_definition_id(family, *rev);
            let mut d: TaskDefinition = t.get(scope, KIND_TASK_DEFINITION, &id)?.ok_or_else(not_found)?;
            let mut tags: Vec<(String, String)> = d
                .tags
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    (
                        t["key"].as_str().unwrap_or_default().to_string(),
                        t["value"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            let out = f(&mut tags)?;
            d.tags = json!(tags
                .iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect::<Vec<_>>());
            t.put(scope, KIND_TASK_DEFINITION, &id, &d)?;
            Ok(out)
        }
    }
}

pub async fn tag(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::TagResourceRequest = parse(input)?;
    let r = resource(&input.resource_arn)?;
    let new: Vec<(String, String)> = input
        .tags
        .iter()
        .map(|t| (t.key.clone().unwrap_or_default(), t.value.clone().unwrap_or_default()))
        .collect();
    if let Some((k, _)) = new
        .iter()
        .find(|(k, _)| k.is_empty() || k.to_ascii_lowercase().starts_with("aws:"))
    {
        return Err(EcsError::InvalidParameter(format!("Tag key '{k}' is not valid.")));
    }
    let scope = scope(ctx);
    ecs.store
        .write(move |t| {
            with_tags(t, &scope, &r, |tags| {
                for (k, v) in new {
                    match tags.iter_mut().find(|(key, _)| *key == k) {
                        Some(slot) => slot.1 = v,
                        None => tags.push((k, v)),
                    }
                }
                if tags.len() > MAX_TAGS {
                    return Err(EcsError::InvalidParameter(format!(
                        "A resource can have at most {MAX_TAGS} tags."
                    )));
                }
                Ok(())
            })
        })
        .await?;
    Ok(json!({}))
}

pub async fn untag(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::UntagResourceRequest = parse(input)?;
    let r = resource(&input.resource_arn)?;
    let scope = scope(ctx);
    ecs.store
        .write(move |t| {
            with_tags(t, &scope, &r, |tags| {
                tags.retain(|(k, _)| !input.tag_keys.contains(k));
                Ok(())
            })
        })
        .await?;
    Ok(json!({}))
}

pub async fn list(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::ListTagsForResourceRequest = parse(input)?;
    let r = resource(&input.resource_arn)?;
    let scope = scope(ctx);
    let tags: Vec<Value> = ecs
        .store
        .read(move |t| -> Result<Vec<Value>, EcsError> {
            match &r {
                Resource::Cluster(name) => Ok(t
                    .get::<Cluster>(&scope, KIND_CLUSTER, name)?
                    .filter(|c| c.status == "ACTIVE")
                    .ok_or(EcsError::ClusterNotFound)?
                    .tags
                    .iter()
                    .map(|(k, v)| json!({"key": k, "value": v}))
                    .collect::<Vec<_>>()),
                Resource::TaskDefinition(family, rev) => Ok(t
                    .get::<TaskDefinition>(&scope, KIND_TASK_DEFINITION, &task_definition_id(family, *rev))?
                    .ok_or_else(not_found)?
                    .tags
                    .as_array()
                    .cloned()
                    .unwrap_or_default()),
            }
        })
        .await?;
    Ok(json!({ "tags": tags }))
}

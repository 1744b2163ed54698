//! ChangeTagsForResource, ListTagsForResource, ListTagsForResources (hosted zones and health
//! checks).

use haneul_store::{Scope, Store, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::error::Route53Error;
use crate::generated::{self as api_types, Tag};
use crate::model::*;
use crate::{ids, parse, scope};

/// Route 53's limit on tags per resource.
pub const MAX_TAGS_PER_RESOURCE: usize = 50;

fn key(resource_type: &str, id: &str) -> String {
    format!("{resource_type}/{id}")
}

/// The resource's id without its path prefix, after checking that it exists.
fn resolve(txn: &Txn<'_>, scope: &Scope, resource_type: &str, raw_id: &str) -> Result<String, Route53Error> {
    match resource_type {
        "hostedzone" => {
            let id = ids::strip_prefix(raw_id, "hostedzone").to_string();
            if !txn.exists(scope, KIND_ZONE, &id)? {
                return Err(Route53Error::NoSuchHostedZone(id));
            }
            Ok(id)
        }
        _ => {
            if !txn.exists(scope, KIND_HEALTH_CHECK, raw_id)? {
                return Err(Route53Error::NoSuchHealthCheck(raw_id.to_string()));
            }
            Ok(raw_id.to_string())
        }
    }
}

/// Removes a resource's tags (when the resource is deleted).
pub fn forget(txn: &mut Txn<'_>, scope: &Scope, resource_type: &str, id: &str) -> Result<(), Route53Error> {
    txn.delete(scope, KIND_TAGS, &key(resource_type, id))?;
    Ok(())
}

pub async fn change_tags_for_resource(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::ChangeTagsForResourceRequest = parse(input)?;
    let scope = scope(ctx);
    store
        .write(move |t| {
            let id = resolve(t, &scope, &input.resource_type, &input.resource_id)?;
            let k = key(&input.resource_type, &id);
            let mut tags: Vec<Tag> = t.get(&scope, KIND_TAGS, &k)?.unwrap_or_default();
            tags.retain(|tag| !input.remove_tag_keys.contains(&tag.key.clone().unwrap_or_default()));
            for add in input.add_tags {
                match tags.iter_mut().find(|tag| tag.key == add.key) {
                    Some(existing) => existing.value = add.value,
                    None => tags.push(add),
                }
            }
            if tags.len() > MAX_TAGS_PER_RESOURCE {
                return Err(Route53Error::InvalidInput(format!(
                    "The number of tags exceeds the limit of {MAX_TAGS_PER_RESOURCE} for resource {id}"
                )));
            }
            t.put(&scope, KIND_TAGS, &k, &tags)?;
            Ok(())
        })
        .await?;
    Ok(json!({}))
}

fn tag_set(resource_type: &str, id: &str, tags: Vec<Tag>) -> Value {
    json!({ "ResourceType": resource_type, "ResourceId": id, "Tags": tags })
}

pub async fn list_tags_for_resource(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::ListTagsForResourceRequest = parse(input)?;
    let scope = scope(ctx);
    let resource_type = input.resource_type.clone();
    let (id, tags) = store
        .read(move |t| {
            let id = resolve(t, &scope, &input.resource_type, &input.resource_id)?;
            let tags: Vec<Tag> = t
                .get(&scope, KIND_TAGS, &key(&input.resource_type, &id))?
                .unwrap_or_default();
            Ok::<_, Route53Error>((id, tags))
        })
        .await?;
    Ok(json!({ "ResourceTagSet": tag_set(&resource_type, &id, tags) }))
}

pub async fn list_tags_for_resources(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::ListTagsForResourcesRequest = parse(input)?;
    let scope = scope(ctx);
    let resource_type = input.resource_type.clone();
    let sets = store
        .read(move |t| {
            let mut sets = Vec::new();
            for raw in &input.resource_ids {
                let id = resolve(t, &scope, &input.resource_type, raw)?;
                let tags: Vec<Tag> = t
                    .get(&scope, KIND_TAGS, &key(&input.resource_type, &id))?
                    .unwrap_or_default();
                sets.push((id, tags));
            }
            Ok::<_, Route53Error>(sets)
        })
        .await?;
    let sets: Vec<Value> = sets
        .into_iter()
        .map(|(id, tags)| tag_set(&resource_type, &id, tags))
        .collect();
    Ok(json!({ "ResourceTagSets": sets }))
}

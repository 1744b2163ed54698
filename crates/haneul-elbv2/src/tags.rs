//! AddTags, RemoveTags, DescribeTags for load balancers and target groups.

use haneul_store::{Scope, Store, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::api::{load_balancer, target_group};
use crate::error::ElbError;
use crate::generated as api_types;
use crate::model::{KIND_LOAD_BALANCER, KIND_TARGET_GROUP};
use crate::{parse, scope};

/// Tags one resource may carry.
pub const MAX_TAGS: usize = 50;

/// A resource's tags: (key, value).
type Tags = Vec<(String, Option<String>)>;
/// A change to a resource's tags.
type TagChange<'a> = &'a dyn Fn(&mut Tags) -> Result<(), ElbError>;

/// The tags of the resource `arn`, changed by `change` (and stored) when given.
fn with_tags(t: &mut Txn<'_>, scope: &Scope, arn: &str, change: Option<TagChange<'_>>) -> Result<Tags, ElbError> {
    if arn.contains(":loadbalancer/") {
        let mut lb = load_balancer(t, scope, arn)?;
        if let Some(change) = change {
            change(&mut lb.tags)?;
            t.put(scope, KIND_LOAD_BALANCER, &lb.name, &lb)?;
        }
        return Ok(lb.tags);
    }
    let mut tg = target_group(t, scope, arn)?;
    if let Some(change) = change {
        change(&mut tg.tags)?;
        t.put(scope, KIND_TARGET_GROUP, &tg.name, &tg)?;
    }
    Ok(tg.tags)
}

pub async fn add_tags(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::AddTagsInput = parse(input)?;
    let mut keys: Vec<&str> = input.tags.iter().map(|t| t.key.as_str()).collect();
    keys.sort();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(ElbError::DuplicateTagKeys(
            "A tag key was specified more than once".into(),
        ));
    }
    let scope = scope(ctx);
    store
        .write(move |t| {
            let add = |tags: &mut Tags| {
                for tag in &input.tags {
                    match tags.iter_mut().find(|(k, _)| *k == tag.key) {
                        Some(existing) => existing.1 = tag.value.clone(),
                        None => tags.push((tag.key.clone(), tag.value.clone())),
                    }
                }
                if tags.len() > MAX_TAGS {
                    return Err(ElbError::TooManyTags(format!(
                        "A resource can have at most {MAX_TAGS} tags"
                    )));
                }
                Ok(())
            };
            for arn in &input.resource_arns {
                with_tags(t, &scope, arn, Some(&add))?;
            }
            Ok::<_, ElbError>(())
        })
        .await?;
    Ok(json!({}))
}

pub async fn remove_tags(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::RemoveTagsInput = parse(input)?;
    let scope = scope(ctx);
    store
        .write(move |t| {
            let remove = |tags: &mut Tags| {
                tags.retain(|(k, _)| !input.tag_keys.contains(k));
                Ok(())
            };
            for arn in &input.resource_arns {
                with_tags(t, &scope, arn, Some(&remove))?;
            }
            Ok::<_, ElbError>(())
        })
        .await?;
    Ok(json!({}))
}

pub async fn describe_tags(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::DescribeTagsInput = parse(input)?;
    let scope = scope(ctx);
    let described = store
        .write(move |t| {
            input
                .resource_arns
                .iter()
                .map(|arn| Ok((arn.clone(), with_tags(t, &scope, arn, None)?)))
                .collect::<Result<Vec<_>, ElbError>>()
        })
        .await?;
    let out: Vec<Value> = described
        .into_iter()
        .map(|(arn, tags)| {
            json!({
                "ResourceArn": arn,
                "Tags": tags.into_iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(json!({ "TagDescriptions": out }))
}

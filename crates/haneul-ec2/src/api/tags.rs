//! CreateTags, DeleteTags, DescribeTags, and tags given at creation (TagSpecifications).

use haneul_store::{Scope, Store, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::error::Ec2Error;
use crate::filter::{self, Filterable};
use crate::generated as api_types;
use crate::ids;
use crate::model::*;
use crate::page::paginate;
use crate::{check_dry_run, defaults, describe, parse, scope};

/// EC2's limits on user tags.
pub const MAX_TAGS_PER_RESOURCE: usize = 50;
pub const MAX_TAG_KEY_CHARS: usize = 128;
pub const MAX_TAG_VALUE_CHARS: usize = 256;

pub use crate::generated::{Tag as TagInput, TagSpecification};

fn check_tag(key: &str, value: &str) -> Result<(), Ec2Error> {
    if key.is_empty() || key.chars().count() > MAX_TAG_KEY_CHARS {
        return Err(Ec2Error::invalid(format!(
            "Tag key must be between 1 and {MAX_TAG_KEY_CHARS} characters: '{key}'"
        )));
    }
    if value.chars().count() > MAX_TAG_VALUE_CHARS {
        return Err(Ec2Error::invalid(format!(
            "Tag value exceeds the maximum length of {MAX_TAG_VALUE_CHARS} characters"
        )));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(Ec2Error::invalid(
            "Tag keys starting with 'aws:' are reserved for internal use",
        ));
    }
    Ok(())
}

/// Adds or replaces tags on a resource's tag list, within EC2's limits.
pub fn merge_tags(existing: &mut Vec<Tag>, new: &[TagInput]) -> Result<(), Ec2Error> {
    for t in new {
        let key = t.key.clone().unwrap_or_default();
        let value = t.value.clone().unwrap_or_default();
        check_tag(&key, &value)?;
        match existing.iter_mut().find(|e| e.key == key) {
            Some(e) => e.value = value,
            None => existing.push(Tag { key, value }),
        }
    }
    if existing.len() > MAX_TAGS_PER_RESOURCE {
        return Err(Ec2Error::TagLimitExceeded {
            message: format!("The maximum number of tags per resource is {MAX_TAGS_PER_RESOURCE}"),
        });
    }
    Ok(())
}

/// The tags a create request gives for `resource_type`.
pub fn tags_for(specs: &[TagSpecification], resource_type: &str) -> Result<Vec<Tag>, Ec2Error> {
    let mut tags = Vec::new();
    for spec in specs {
        match spec.resource_type.as_deref() {
            Some(t) if t == resource_type => merge_tags(&mut tags, &spec.tags)?,
            Some(other) => {
                return Err(Ec2Error::invalid(format!(
                    "'{other}' is not a valid taggable resource type for this operation."
                )))
            }
            None => return Err(Ec2Error::invalid("The ResourceType in a TagSpecification is required")),
        }
    }
    Ok(tags)
}

/// The store kind and error family for a taggable id.
fn kind_of(id: &str) -> Result<(&'static str, &'static describe::Kind), Ec2Error> {
    match ids::resource_type(id) {
        Some("vpc") => Ok((KIND_VPC, &describe::VPC)),
        Some("subnet") => Ok((KIND_SUBNET, &describe::SUBNET)),
        Some("security-group") => Ok((KIND_SECURITY_GROUP, &describe::SECURITY_GROUP)),
        _ => Err(Ec2Error::InvalidId { id: id.to_string() }),
    }
}

/// Applies `edit` to the tag list of resource `id`, whatever its type.
fn edit_tags(
    txn: &mut Txn<'_>,
    scope: &Scope,
    id: &str,
    edit: &dyn Fn(&mut Vec<Tag>) -> Result<(), Ec2Error>,
) -> Result<(), Ec2Error> {
    let (store_kind, kind) = kind_of(id)?;
    match store_kind {
        KIND_VPC => {
            let mut r: Vpc = txn.get(scope, store_kind, id)?.ok_or_else(|| kind.not_found(id))?;
            edit(&mut r.tags)?;
            txn.put(scope, store_kind, id, &r)?;
        }
        KIND_SUBNET => {
            let mut r: Subnet = txn.get(scope, store_kind, id)?.ok_or_else(|| kind.not_found(id))?;
            edit(&mut r.tags)?;
            txn.put(scope, store_kind, id, &r)?;
        }
        _ => {
            let mut r: SecurityGroup = txn.get(scope, store_kind, id)?.ok_or_else(|| kind.not_found(id))?;
            edit(&mut r.tags)?;
            txn.put(scope, store_kind, id, &r)?;
        }
    }
    Ok(())
}

pub async fn create_tags(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Ec2Error> {
    let input: api_types::CreateTagsRequest = parse(input)?;
    let scope = scope(ctx);
    store
        .write(move |t| {
            defaults::ensure_in(t, &scope)?;
            for id in &input.resources {
                edit_tags(t, &scope, id, &|tags| merge_tags(tags, &input.tags))?;
            }
            check_dry_run(input.dry_run)
        })
        .await?;
    Ok(json!({}))
}

pub async fn delete_tags(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Ec2Error> {
    let input: api_types::DeleteTagsRequest = parse(input)?;
    let scope = scope(ctx);
    store
        .write(move |t| {
            defaults::ensure_in(t, &scope)?;
            for id in &input.resources {
                edit_tags(t, &scope, id, &|tags| {
                    if input.tags.is_empty() {
                        tags.retain(|tag| tag.key.starts_with("aws:"));
                    }
                    for del in &input.tags {
                        let key = del.key.clone().unwrap_or_default();
                        tags.retain(|tag| tag.key != key || del.value.as_ref().is_some_and(|v| v != &tag.value));
                    }
                    Ok(())
                })?;
            }
            check_dry_run(input.dry_run)
        })
        .await?;
    Ok(json!({}))
}

struct TagRow {
    resource_id: String,
    resource_type: &'static str,
    tag: Tag,
}

impl Filterable for TagRow {
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let v = match name {
            "key" => self.tag.key.clone(),
            "value" => self.tag.value.clone(),
            "resource-id" => self.resource_id.clone(),
            "resource-type" => self.resource_type.to_string(),
            _ => return None,
        };
        Some(vec![v])
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

pub async fn describe_tags(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Ec2Error> {
    let input: api_types::DescribeTagsRequest = parse(input)?;
    check_dry_run(input.dry_run)?;
    let scope = scope(ctx);
    defaults::ensure(store, &scope).await?;
    let rows = store
        .read(move |t| {
            let mut rows = Vec::new();
            let mut add = |id: String, resource_type: &'static str, tags: Vec<Tag>| {
                for tag in tags {
                    rows.push(TagRow {
                        resource_id: id.clone(),
                        resource_type,
                        tag,
                    });
                }
            };
            for (id, r) in t.list::<Vpc>(&scope, KIND_VPC)? {
                add(id, "vpc", r.tags);
            }
            for (id, r) in t.list::<Subnet>(&scope, KIND_SUBNET)? {
                add(id, "subnet", r.tags);
            }
            for (id, r) in t.list::<SecurityGroup>(&scope, KIND_SECURITY_GROUP)? {
                add(id, "security-group", r.tags);
            }
            Ok::<_, Ec2Error>(rows)
        })
        .await?;
    let mut chosen = Vec::new();
    for row in rows {
        if filter::matches(&row, &input.filters)? {
            chosen.push((format!("{}\u{1}{}", row.resource_id, row.tag.key), row));
        }
    }
    chosen.sort_by(|a, b| a.0.cmp(&b.0));
    let page = paginate(chosen, input.max_results, input.next_token.as_deref())?;
    let tags: Vec<Value> = page
        .items
        .into_iter()
        .map(|r| json!({"Key": r.tag.key, "Value": r.tag.value, "ResourceId": r.resource_id, "ResourceType": r.resource_type}))
        .collect();
    Ok(json!({ "Tags": tags, "NextToken": page.next_token }))
}

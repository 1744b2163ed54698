//! CIDR collections for IP-based routing: CreateCidrCollection, ListCidrCollections,
//! DeleteCidrCollection, ChangeCidrCollection, ListCidrBlocks, ListCidrLocations.

use std::collections::BTreeMap;

use haneul_store::{Scope, Store, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::cidr::IpNet;
use crate::error::Route53Error;
use crate::generated as api_types;
use crate::model::{CidrCollection, ResourceRecordSet, KIND_CIDR_COLLECTION, KIND_RRSET};
use crate::{parse, scope};

/// Route 53's quotas: collections per account, blocks per collection.
pub const MAX_COLLECTIONS: usize = 5;
pub const MAX_BLOCKS_PER_COLLECTION: usize = 1_000;
/// Page size when the request gives none.
pub const DEFAULT_MAX_RESULTS: usize = 100;

fn load(t: &Txn<'_>, scope: &Scope, id: &str) -> Result<CidrCollection, Route53Error> {
    t.get(scope, KIND_CIDR_COLLECTION, id)?
        .ok_or_else(|| Route53Error::NoSuchCidrCollection(format!("The CIDR collection with ID {id} does not exist.")))
}

fn summary(c: &CidrCollection) -> Value {
    json!({ "Arn": c.arn(), "Id": c.id, "Name": c.name, "Version": c.version })
}

/// Record sets of the account that route by `collection_id` (and `location`, when given).
fn users(t: &Txn<'_>, scope: &Scope, collection_id: &str, location: Option<&str>) -> Result<usize, Route53Error> {
    Ok(t.list::<ResourceRecordSet>(scope, KIND_RRSET)?
        .into_iter()
        .filter(|(_, r)| {
            r.cidr_routing_config
                .as_ref()
                .is_some_and(|c| c.collection_id == collection_id && location.is_none_or(|l| l == c.location_name))
        })
        .count())
}

/// The collection's location, or `NoSuchCidrLocationException` (`*` is always there).
pub fn check_location(t: &Txn<'_>, scope: &Scope, collection_id: &str, location: &str) -> Result<(), Route53Error> {
    let collection = load(t, scope, collection_id)?;
    if location != "*" && !collection.locations.contains_key(location) {
        return Err(Route53Error::NoSuchCidrLocation(format!(
            "The CIDR collection location {location} does not exist in collection {collection_id}."
        )));
    }
    Ok(())
}

fn page_size(raw: Option<&str>) -> Result<usize, Route53Error> {
    match raw {
        None => Ok(DEFAULT_MAX_RESULTS),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(DEFAULT_MAX_RESULTS))
            .ok_or_else(|| Route53Error::InvalidInput(format!("Invalid value for MaxResults: {text}"))),
    }
}

/// One page of `items` (already sorted by their token) after `next_token`.
fn paginate<T: Clone>(items: &[(String, T)], next_token: Option<&str>, max: usize) -> (Vec<T>, Option<String>) {
    let start = next_token.map_or(0, |tok| {
        items.iter().position(|(k, _)| k.as_str() > tok).unwrap_or(items.len())
    });
    let page: Vec<T> = items.iter().skip(start).take(max).map(|(_, v)| v.clone()).collect();
    let next = (start + max < items.len()).then(|| items[start + max - 1].0.clone());
    (page, next)
}

pub async fn create_cidr_collection(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::CreateCidrCollectionRequest = parse(input)?;
    let scope = scope(ctx);
    let collection = store
        .write(move |t| {
            let all = t.list::<CidrCollection>(&scope, KIND_CIDR_COLLECTION)?;
            if let Some((_, existing)) = all.iter().find(|(_, c)| c.name == input.name) {
                if existing.caller_reference == input.caller_reference {
                    return Ok(existing.clone());
                }
                return Err(Route53Error::CidrCollectionAlreadyExists(format!(
                    "A CIDR collection with the name {} already exists in this account.",
                    input.name
                )));
            }
            if all.len() >= MAX_COLLECTIONS {
                return Err(Route53Error::LimitsExceeded(format!(
                    "This account already has the maximum of {MAX_COLLECTIONS} CIDR collections."
                )));
            }
            let collection = CidrCollection {
                id: uuid::Uuid::new_v4().to_string(),
                name: input.name,
                caller_reference: input.caller_reference,
                version: 1,
                locations: BTreeMap::new(),
            };
            t.put(&scope, KIND_CIDR_COLLECTION, &collection.id, &collection)?;
            Ok(collection)
        })
        .await?;
    Ok(json!({
        "Collection": summary(&collection),
        "Location": format!("https://route53.amazonaws.com/2013-04-01/cidrcollection/{}", collection.id),
    }))
}

pub async fn list_cidr_collections(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::ListCidrCollectionsRequest = parse(input)?;
    let max = page_size(input.max_results.as_deref())?;
    let scope = scope(ctx);
    let mut all = store
        .read(move |t| Ok::<_, Route53Error>(t.list::<CidrCollection>(&scope, KIND_CIDR_COLLECTION)?))
        .await?;
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let items: Vec<(String, Value)> = all.iter().map(|(k, c)| (k.clone(), summary(c))).collect();
    let (page, next) = paginate(&items, input.next_token.as_deref(), max);
    Ok(json!({ "CidrCollections": page, "NextToken": next }))
}

pub async fn delete_cidr_collection(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::DeleteCidrCollectionRequest = parse(input)?;
    let scope = scope(ctx);
    store
        .write(move |t| {
            let collection = load(t, &scope, &input.id)?;
            if !collection.locations.is_empty() || users(t, &scope, &collection.id, None)? > 0 {
                return Err(Route53Error::CidrCollectionInUse(format!(
                    "This CIDR collection is in use, and isn't empty: {}",
                    collection.id
                )));
            }
            t.delete(&scope, KIND_CIDR_COLLECTION, &collection.id)?;
            Ok(())
        })
        .await?;
    Ok(json!({}))
}

pub async fn change_cidr_collection(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::ChangeCidrCollectionRequest = parse(input)?;
    let scope = scope(ctx);
    let id = store
        .write(move |t| {
            let mut collection = load(t, &scope, &input.id)?;
            if let Some(expected) = input.collection_version.filter(|v| *v != collection.version) {
                return Err(Route53Error::CidrCollectionVersionMismatch(format!(
                    "The CIDR collection version you provided, {expected}, doesn't match the one in the ChangeCidrCollection request, {}.",
                    collection.version
                )));
            }
            for change in &input.changes {
                let mut blocks = Vec::with_capacity(change.cidr_list.len());
                for text in &change.cidr_list {
                    let net = IpNet::parse(text)
                        .filter(IpNet::allowed_in_collection)
                        .ok_or_else(|| Route53Error::InvalidInput(format!("Invalid CIDR block: {text}. IPv4 blocks may be /0 to /24, IPv6 blocks /0 to /48, with no host bits set.")))?;
                    blocks.push(net.to_string());
                }
                let location = change.location_name.clone();
                match change.action.as_str() {
                    "PUT" => {
                        let entry = collection.locations.entry(location).or_default();
                        for b in blocks {
                            if !entry.contains(&b) {
                                entry.push(b);
                            }
                        }
                    }
                    _ => {
                        if let Some(entry) = collection.locations.get_mut(&location) {
                            entry.retain(|b| !blocks.contains(b));
                            if entry.is_empty() {
                                if users(t, &scope, &collection.id, Some(&location))? > 0 {
                                    return Err(Route53Error::CidrBlockInUse(format!(
                                        "The location {location} is used by a resource record set; its last CIDR block cannot be deleted."
                                    )));
                                }
                                collection.locations.remove(&location);
                            }
                        }
                    }
                }
            }
            check_blocks(&collection)?;
            collection.version += 1;
            t.put(&scope, KIND_CIDR_COLLECTION, &collection.id, &collection)?;
            Ok(collection.id)
        })
        .await?;
    Ok(json!({ "Id": id }))
}

/// A block belongs to one location only, and a collection holds at most its quota.
fn check_blocks(collection: &CidrCollection) -> Result<(), Route53Error> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (location, blocks) in &collection.locations {
        for b in blocks {
            if let Some(other) = seen.insert(b, location) {
                return Err(Route53Error::InvalidInput(format!(
                    "The CIDR block {b} is in both location {other} and location {location}; a block may be in one location only."
                )));
            }
        }
    }
    if seen.len() > MAX_BLOCKS_PER_COLLECTION {
        return Err(Route53Error::LimitsExceeded(format!(
            "A CIDR collection can hold at most {MAX_BLOCKS_PER_COLLECTION} CIDR blocks."
        )));
    }
    Ok(())
}

pub async fn list_cidr_blocks(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::ListCidrBlocksRequest = parse(input)?;
    let max = page_size(input.max_results.as_deref())?;
    let scope = scope(ctx);
    let (id, location) = (input.collection_id.clone(), input.location_name.clone());
    let collection = store.read(move |t| load(t, &scope, &id)).await?;
    if let Some(l) = location.as_deref().filter(|l| !collection.locations.contains_key(*l)) {
        return Err(Route53Error::NoSuchCidrLocation(format!(
            "The CIDR collection location {l} does not exist in collection {}.",
            collection.id
        )));
    }
    let items: Vec<(String, Value)> = collection
        .locations
        .iter()
        .filter(|(l, _)| location.as_ref().is_none_or(|want| want == *l))
        .flat_map(|(l, blocks)| {
            blocks
                .iter()
                .map(move |b| (format!("{l}\u{1}{b}"), json!({ "CidrBlock": b, "LocationName": l })))
        })
        .collect();
    let (page, next) = paginate(&items, input.next_token.as_deref(), max);
    Ok(json!({ "CidrBlocks": page, "NextToken": next }))
}

pub async fn list_cidr_locations(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::ListCidrLocationsRequest = parse(input)?;
    let max = page_size(input.max_results.as_deref())?;
    let scope = scope(ctx);
    let id = input.collection_id.clone();
    let collection = store.read(move |t| load(t, &scope, &id)).await?;
    let items: Vec<(String, Value)> = collection
        .locations
        .keys()
        .map(|l| (l.clone(), json!({ "LocationName": l })))
        .collect();
    let (page, next) = paginate(&items, input.next_token.as_deref(), max);
    Ok(json!({ "CidrLocations": page, "NextToken": next }))
}

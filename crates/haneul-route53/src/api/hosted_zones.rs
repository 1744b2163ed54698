//! CreateHostedZone, GetHostedZone, ListHostedZones, ListHostedZonesByName,
//! GetHostedZoneCount, UpdateHostedZoneComment, DeleteHostedZone.

use haneul_store::{Scope, Store, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::api::changes::{change_info, record_change};
use crate::error::Route53Error;
use crate::generated::{self as api_types, ResourceRecord};
use crate::model::*;
use crate::{ids, names, parse, scope};

/// Route 53's defaults for the records every zone starts with.
pub const SOA_TTL_S: i64 = 900;
pub const NS_TTL_S: i64 = 172_800;
/// Page size when the request gives none (and the most it may ask for).
pub const DEFAULT_MAX_ITEMS: usize = 100;

/// The four name servers haneul's delegation sets name, in AWS's style.
pub fn name_servers() -> Vec<String> {
    [
        "ns-1.haneul-dns.com",
        "ns-2.haneul-dns.net",
        "ns-3.haneul-dns.org",
        "ns-4.haneul-dns.co.uk",
    ]
    .into_iter()
    .map(str::to_string)
    .collect()
}

pub fn zone_output(zone: &Zone, rrset_count: usize) -> Value {
    json!({
        "Id": format!("/hostedzone/{}", zone.id),
        "Name": names::for_output(&zone.name),
        "CallerReference": zone.caller_reference,
        "Config": { "Comment": zone.comment, "PrivateZone": zone.private_zone },
        "ResourceRecordSetCount": rrset_count,
    })
}

fn delegation_set(zone: &Zone) -> Value {
    json!({ "NameServers": zone.name_servers })
}

/// The zone, or `NoSuchHostedZone`.
pub fn load_zone(txn: &Txn<'_>, scope: &Scope, raw_id: &str) -> Result<Zone, Route53Error> {
    let id = ids::strip_prefix(raw_id, "hostedzone");
    txn.get(scope, KIND_ZONE, id)?
        .ok_or_else(|| Route53Error::NoSuchHostedZone(id.to_string()))
}

pub fn rrset_count(txn: &Txn<'_>, scope: &Scope, zone_id: &str) -> Result<usize, Route53Error> {
    Ok(txn.count_prefix(scope, KIND_RRSET, &zone_prefix(zone_id))? as usize)
}

fn apex_records(zone: &Zone) -> [ResourceRecordSet; 2] {
    let primary = zone.name_servers.first().cloned().unwrap_or_default();
    let soa = ResourceRecordSet {
        name: zone.name.clone(),
        r#type: "SOA".into(),
        ttl: Some(SOA_TTL_S),
        resource_records: vec![ResourceRecord {
            value: format!("{primary}. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"),
        }],
        ..ResourceRecordSet::default()
    };
    let ns = ResourceRecordSet {
        name: zone.name.clone(),
        r#type: "NS".into(),
        ttl: Some(NS_TTL_S),
        resource_records: zone
            .name_servers
            .iter()
            .map(|n| ResourceRecord { value: format!("{n}.") })
            .collect(),
        ..ResourceRecordSet::default()
    };
    [soa, ns]
}

/// Writes a new zone with its SOA and NS records (the caller checks names and VPCs).
pub fn insert_zone(
    t: &mut Txn<'_>,
    scope: &Scope,
    name: String,
    caller_reference: String,
    comment: Option<String>,
    vpcs: Vec<ZoneVpc>,
) -> Result<Zone, Route53Error> {
    let zone = Zone {
        id: ids::new_id('Z'),
        name,
        caller_reference,
        comment,
        private_zone: !vpcs.is_empty(),
        name_servers: name_servers(),
        vpcs,
    };
    t.put(scope, KIND_ZONE, &zone.id, &zone)?;
    t.put(scope, KIND_CALLER_REFERENCE, &zone.caller_reference, &zone.id)?;
    for rrset in apex_records(&zone) {
        t.put(scope, KIND_RRSET, &rrset_key_of(&zone.id, &rrset), &rrset)?;
    }
    Ok(zone)
}

pub async fn create_hosted_zone(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::CreateHostedZoneRequest = parse(input)?;
    let name = names::normalize(&input.name)
        .map_err(|_| Route53Error::InvalidDomainName(format!("{} is not a valid domain name", input.name)))?;
    if name == "." {
        return Err(Route53Error::InvalidDomainName(
            "The root zone cannot be created".into(),
        ));
    }
    let config = input.hosted_zone_config.unwrap_or_default();
    let private_zone = input.vpc.is_some();
    if config.private_zone == Some(true) && !private_zone {
        return Err(Route53Error::InvalidInput(
            "When you're creating a private hosted zone (when you specify true for PrivateZone), you must also specify values for VPCId and VPCRegion.".into(),
        ));
    }
    let scope = scope(ctx);
    let account_id = ctx.account_id.clone();
    let vpc_input = input.vpc.clone();
    let (zone, change) = store
        .write(move |t| {
            if t.exists(&scope, KIND_CALLER_REFERENCE, &input.caller_reference)? {
                return Err(Route53Error::HostedZoneAlreadyExists(input.caller_reference));
            }
            let vpcs = match &vpc_input {
                Some(vpc) => {
                    let vpc = crate::api::vpcs::check_vpc(t, &account_id, vpc)?;
                    crate::api::vpcs::check_no_conflict(t, &scope, &name, &vpc)?;
                    vec![vpc]
                }
                None => Vec::new(),
            };
            let zone = insert_zone(t, &scope, name, input.caller_reference, config.comment, vpcs)?;
            let change = record_change(t, &scope, None)?;
            Ok((zone, change))
        })
        .await?;
    let mut out = json!({
        "HostedZone": zone_output(&zone, 2),
        "ChangeInfo": change_info(&change, "PENDING"),
        "DelegationSet": delegation_set(&zone),
        "Location": format!("https://route53.amazonaws.com/2013-04-01/hostedzone/{}", zone.id),
    });
    if let (Some(vpc), Some(obj)) = (input.vpc, out.as_object_mut()) {
        obj.insert(
            "VPC".into(),
            json!({ "VPCId": vpc.vpc_id, "VPCRegion": vpc.vpc_region }),
        );
    }
    Ok(out)
}

pub async fn get_hosted_zone(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::GetHostedZoneRequest = parse(input)?;
    let scope = scope(ctx);
    let (zone, count) = store
        .read(move |t| {
            let zone = load_zone(t, &scope, &input.id)?;
            let count = rrset_count(t, &scope, &zone.id)?;
            Ok::<_, Route53Error>((zone, count))
        })
        .await?;
    if zone.private_zone {
        return Ok(json!({ "HostedZone": zone_output(&zone, count), "VPCs": crate::api::vpcs::vpcs_output(&zone) }));
    }
    Ok(json!({ "HostedZone": zone_output(&zone, count), "DelegationSet": delegation_set(&zone) }))
}

fn max_items(raw: Option<&str>) -> Result<usize, Route53Error> {
    match raw {
        None => Ok(DEFAULT_MAX_ITEMS),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(DEFAULT_MAX_ITEMS))
            .ok_or_else(|| Route53Error::InvalidInput(format!("1 validation error detected: Value '{text}' at 'maxItems' failed to satisfy constraint: Member must be a positive integer"))),
    }
}

async fn all_zones(store: &Store, scope: Scope) -> Result<Vec<(Zone, usize)>, Route53Error> {
    store
        .read(move |t| {
            let zones = t.list::<Zone>(&scope, KIND_ZONE)?;
            zones
                .into_iter()
                .map(|(_, z)| {
                    let count = rrset_count(t, &scope, &z.id)?;
                    Ok((z, count))
                })
                .collect::<Result<Vec<_>, Route53Error>>()
        })
        .await
}

pub async fn list_hosted_zones(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::ListHostedZonesRequest = parse(input)?;
    let max = max_items(input.max_items.as_deref())?;
    let mut zones = all_zones(store, scope(ctx)).await?;
    if let Some(kind) = input.hosted_zone_type.as_deref() {
        zones.retain(|(z, _)| (kind == "PrivateHostedZone") == z.private_zone);
    }
    let marker = input
        .marker
        .as_deref()
        .map(|m| ids::strip_prefix(m, "hostedzone").to_string());
    let start = match &marker {
        Some(m) => zones
            .iter()
            .position(|(z, _)| &z.id == m)
            .ok_or_else(|| Route53Error::InvalidInput(format!("Invalid marker: {m}")))?,
        None => 0,
    };
    let page: Vec<Value> = zones
        .iter()
        .skip(start)
        .take(max)
        .map(|(z, c)| zone_output(z, *c))
        .collect();
    let next = zones.get(start + max).map(|(z, _)| z.id.clone());
    Ok(json!({
        "HostedZones": page,
        "Marker": marker.unwrap_or_default(),
        "IsTruncated": next.is_some(),
        "NextMarker": next,
        "MaxItems": max.to_string(),
    }))
}

pub async fn list_hosted_zones_by_name(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::ListHostedZonesByNameRequest = parse(input)?;
    let max = max_items(input.max_items.as_deref())?;
    let mut zones = all_zones(store, scope(ctx)).await?;
    zones.sort_by(|(a, _), (b, _)| (names::reversed(&a.name), &a.id).cmp(&(names::reversed(&b.name), &b.id)));
    let start_name = match input.dns_name.as_deref() {
        Some(n) => Some(names::normalize(n).map_err(|e| Route53Error::InvalidDomainName(e.to_string()))?),
        None => None,
    };
    let start_id = input
        .hosted_zone_id
        .as_deref()
        .map(|i| ids::strip_prefix(i, "hostedzone").to_string());
    let start = zones
        .iter()
        .position(|(z, _)| match &start_name {
            None => true,
            Some(n) => {
                let key = (names::reversed(&z.name), z.id.clone());
                key >= (names::reversed(n), start_id.clone().unwrap_or_default())
            }
        })
        .unwrap_or(zones.len());
    let page: Vec<Value> = zones
        .iter()
        .skip(start)
        .take(max)
        .map(|(z, c)| zone_output(z, *c))
        .collect();
    let next = zones.get(start + max);
    Ok(json!({
        "HostedZones": page,
        "DNSName": start_name.as_deref().map(names::for_output),
        "HostedZoneId": start_id,
        "IsTruncated": next.is_some(),
        "NextDNSName": next.map(|(z, _)| names::for_output(&z.name)),
        "NextHostedZoneId": next.map(|(z, _)| z.id.clone()),
        "MaxItems": max.to_string(),
    }))
}

pub async fn get_hosted_zone_count(store: &Store, ctx: &RequestContext) -> Result<Value, Route53Error> {
    let scope = scope(ctx);
    let count = store
        .read(move |t| Ok::<_, Route53Error>(t.list::<Zone>(&scope, KIND_ZONE)?.len()))
        .await?;
    Ok(json!({ "HostedZoneCount": count }))
}

pub async fn update_hosted_zone_comment(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::UpdateHostedZoneCommentRequest = parse(input)?;
    let scope = scope(ctx);
    let (zone, count) = store
        .write(move |t| {
            let mut zone = load_zone(t, &scope, &input.id)?;
            zone.comment = input.comment;
            t.put(&scope, KIND_ZONE, &zone.id, &zone)?;
            let count = rrset_count(t, &scope, &zone.id)?;
            Ok::<_, Route53Error>((zone, count))
        })
        .await?;
    Ok(json!({ "HostedZone": zone_output(&zone, count) }))
}

pub async fn delete_hosted_zone(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Route53Error> {
    let input: api_types::DeleteHostedZoneRequest = parse(input)?;
    let scope = scope(ctx);
    let change = store
        .write(move |t| {
            let zone = load_zone(t, &scope, &input.id)?;
            let rrsets = t.list_prefix::<ResourceRecordSet>(&scope, KIND_RRSET, &zone_prefix(&zone.id))?;
            let required = |r: &ResourceRecordSet| r.name == zone.name && (r.r#type == "SOA" || r.r#type == "NS");
            if rrsets.iter().any(|(_, r)| !required(r)) {
                return Err(Route53Error::HostedZoneNotEmpty);
            }
            for (key, _) in rrsets {
                t.delete(&scope, KIND_RRSET, &key)?;
            }
            t.delete(&scope, KIND_ZONE, &zone.id)?;
            crate::api::tags::forget(t, &scope, "hostedzone", &zone.id)?;
            record_change(t, &scope, None)
        })
        .await?;
    Ok(json!({ "ChangeInfo": change_info(&change, "PENDING") }))
}

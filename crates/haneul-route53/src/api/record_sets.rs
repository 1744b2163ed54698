//! ChangeResourceRecordSets (all or nothing, with Route 53's rules and messages) and
//! ListResourceRecordSets (Route 53's order and paging).

use std::collections::BTreeMap;

use haneul_store::{Scope, Store, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::api::changes::{change_info, record_change};
use crate::api::hosted_zones::load_zone;
use crate::error::Route53Error;
use crate::generated as api_types;
use crate::model::*;
use crate::policy::Policy;
use crate::{names, parse, rdata, scope};

/// Route 53's limits on one change batch.
pub const MAX_RECORDS_PER_BATCH: usize = 1_000;
pub const MAX_VALUE_CHARS_PER_BATCH: usize = 32_000;
pub const MAX_WEIGHT: i64 = 255;
/// Most record sets one ListResourceRecordSets page holds.
pub const MAX_LIST_ITEMS: usize = 300;

fn describe(r: &ResourceRecordSet) -> String {
    match &r.set_identifier {
        Some(id) => format!("[name='{}', type='{}', set-identifier='{id}']", r.name, r.r#type),
        None => format!("[name='{}', type='{}']", r.name, r.r#type),
    }
}

/// Checks one change on its own (InvalidInput for shape problems, messages for the batch).
fn check_change(
    zone: &Zone,
    action: &str,
    r: &mut ResourceRecordSet,
    messages: &mut Vec<String>,
) -> Result<(), Route53Error> {
    r.name = names::normalize(&r.name).map_err(|e| Route53Error::InvalidInput(e.to_string()))?;
    let (has_ttl, has_values) = (r.ttl.is_some(), !r.resource_records.is_empty());
    let alias = r.alias_target.is_some();
    let exactly_one = if alias {
        !has_ttl && !has_values
    } else {
        has_ttl && has_values
    };
    if !exactly_one {
        let found = if alias { "more than one" } else { "none" };
        return Err(Route53Error::InvalidInput(format!(
            "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found {found} in Change with [Action={action}, Name={}, Type={}, SetIdentifier={}]",
            r.name,
            r.r#type,
            r.set_identifier.as_deref().unwrap_or("null")
        )));
    }
    if let Some(target) = r.alias_target.as_mut() {
        target.dns_name = names::normalize(&target.dns_name).map_err(|e| Route53Error::InvalidInput(e.to_string()))?;
        let elb = crate::model::is_elb_alias(&target.dns_name, &target.hosted_zone_id);
        if !elb && crate::ids::strip_prefix(&target.hosted_zone_id, "hostedzone") != zone.id {
            messages.push(format!(
                "Tried to create an alias that targets {}, type {} in zone {}, but haneul resolves alias targets in the same hosted zone or at a load balancer only",
                target.dns_name, r.r#type, target.hosted_zone_id
            ));
        }
    }
    if !names::in_zone(&r.name, &zone.name) {
        messages.push(format!(
            "RRSet with DNS name {} is not permitted in zone {}",
            r.name, zone.name
        ));
    }
    for record in &r.resource_records {
        if let Err(m) = rdata::check_value(&r.r#type, &record.value) {
            messages.push(m);
        }
    }
    if r.r#type == "CNAME" && r.resource_records.len() > 1 {
        messages.push(format!(
            "RRSet of type CNAME with DNS name {} must have exactly one resource record",
            r.name
        ));
    }
    let policy = Policy::of(r);
    match (policy, &r.set_identifier) {
        (Policy::Simple, Some(_)) => messages.push(format!(
            "Invalid request: Missing field 'Weight', 'Failover', 'Region', 'GeoLocation', 'GeoProximityLocation', 'MultiValueAnswer' or 'CidrRoutingConfig' in RRSet {}",
            describe(r)
        )),
        (p, None) if p != Policy::Simple => {
            messages.push(format!("Invalid request: Missing field 'SetIdentifier' in {} RRSet {}", p.name(), describe(r)))
        }
        _ => {}
    }
    check_location_rules(r, messages);
    if let Some(w) = r.weight.filter(|w| !(0..=MAX_WEIGHT).contains(w)) {
        messages.push(format!(
            "Invalid request: Weight {w} of RRSet {} is not between 0 and {MAX_WEIGHT}",
            describe(r)
        ));
    }
    Ok(())
}

/// Continent codes Route 53 accepts in a GeoLocation.
pub const CONTINENT_CODES: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];

/// GeoLocation and GeoProximityLocation shapes: one place, well formed.
fn check_location_rules(r: &ResourceRecordSet, messages: &mut Vec<String>) {
    if let Some(geo) = &r.geo_location {
        match (&geo.continent_code, &geo.country_code, &geo.subdivision_code) {
            (Some(_), Some(_), _) | (None, None, _) => messages.push(format!(
                "Invalid request: GeoLocation of RRSet {} must specify exactly one of ContinentCode and CountryCode",
                describe(r)
            )),
            (Some(_), None, Some(_)) => messages.push(format!(
                "Invalid request: SubdivisionCode in RRSet {} requires a CountryCode",
                describe(r)
            )),
            (Some(c), None, None) if !CONTINENT_CODES.contains(&c.as_str()) => messages.push(format!(
                "Invalid request: Continent code {c} in RRSet {} is not valid",
                describe(r)
            )),
            (None, Some(country), _)
                if country != "*" && !(country.len() == 2 && country.chars().all(|c| c.is_ascii_uppercase())) =>
            {
                messages.push(format!(
                    "Invalid request: Country code {country} in RRSet {} is not valid",
                    describe(r)
                ))
            }
            _ => {}
        }
    }
    if let Some(p) = &r.geo_proximity_location {
        let places = usize::from(p.aws_region.is_some())
            + usize::from(p.local_zone_group.is_some())
            + usize::from(p.coordinates.is_some());
        if places != 1 {
            messages.push(format!(
                "Invalid request: GeoProximityLocation of RRSet {} must specify exactly one of AWSRegion, LocalZoneGroup and Coordinates",
                describe(r)
            ));
        } else if crate::dns::snapshot::proximity_point(p).is_none() {
            messages.push(format!(
                "Invalid request: the location of GeoProximityLocation in RRSet {} is not known",
                describe(r)
            ));
        }
    }
}

/// Applies one change to the zone's record sets, as they stand so far in the batch.
fn apply(
    zone: &Zone,
    action: &str,
    r: ResourceRecordSet,
    sets: &mut BTreeMap<String, ResourceRecordSet>,
    messages: &mut Vec<String>,
) {
    let key = rrset_key_of(&zone.id, &r);
    let apex_required = r.name == zone.name && (r.r#type == "SOA" || r.r#type == "NS");
    match action {
        "CREATE" if sets.contains_key(&key) => messages.push(format!(
            "Tried to create resource record set {} but it already exists",
            describe(&r)
        )),
        "DELETE" => match sets.get(&key) {
            None => messages.push(format!(
                "Tried to delete resource record set {} but it was not found",
                describe(&r)
            )),
            Some(_) if apex_required => messages.push(format!(
                "A HostedZone must contain at least one {} record for the zone itself.",
                r.r#type
            )),
            Some(existing) if existing != &r => messages.push(format!(
                "Tried to delete resource record set {} but the values provided do not match the current values",
                describe(&r)
            )),
            Some(_) => {
                sets.remove(&key);
            }
        },
        _ => {
            sets.insert(key, r);
        }
    }
}

/// Rules across record sets of one name: CNAME alone and not at the apex; one policy per
/// name and type.
fn check_names(
    zone: &Zone,
    sets: &BTreeMap<String, ResourceRecordSet>,
    touched: &[String],
    messages: &mut Vec<String>,
) {
    for name in touched {
        let at_name: Vec<&ResourceRecordSet> = sets.values().filter(|r| &r.name == name).collect();
        let has_cname = at_name.iter().any(|r| r.r#type == "CNAME");
        if has_cname && name == &zone.name {
            messages.push(format!(
                "RRSet of type CNAME with DNS name {name} is not permitted at apex in zone {}",
                zone.name
            ));
        } else if has_cname && at_name.iter().any(|r| r.r#type != "CNAME") {
            messages.push(format!(
                "RRSet of type CNAME with DNS name {name} is not permitted as it conflicts with other records with the same DNS name in zone {}",
                zone.name
            ));
        }
        let mut by_type: BTreeMap<&str, Vec<&ResourceRecordSet>> = BTreeMap::new();
        for r in &at_name {
            by_type.entry(r.r#type.as_str()).or_default().push(r);
        }
        for (rtype, group) in by_type {
            let first = Policy::of(group[0]);
            if group.iter().any(|r| Policy::of(r) != first) {
                messages.push(format!(
                    "RRSet with DNS name {name}, type {rtype} cannot be created because other RRSets with the same name and type use a different routing policy"
                ));
                continue;
            }
            let mut places: Vec<String> = group.iter().filter_map(|r| place_of(r)).collect();
            let count = places.len();
            places.sort();
            places.dedup();
            if places.len() != count {
                messages.push(format!(
                    "RRSet with DNS name {name}, type {rtype} cannot be created because another RRSet with the same name and type already uses the same {}",
                    first.name()
                ));
            }
        }
    }
}

/// What must be unique among the record sets of one name and type under a policy: the
/// failover role, latency region, geolocation, or CIDR location.
fn place_of(r: &ResourceRecordSet) -> Option<String> {
    if let Some(f) = &r.failover {
        return Some(f.clone());
    }
    if let Some(region) = &r.region {
        return Some(region.clone());
    }
    if let Some(g) = &r.geo_location {
        return Some(format!(
            "{:?}/{:?}/{:?}",
            g.continent_code, g.country_code, g.subdivision_code
        ));
    }
    r.cidr_routing_config
        .as_ref()
        .map(|c| format!("{}/{}", c.collection_id, c.location_name))
}

/// Every alias the batch writes must point at a record set of its own type in the zone.
fn check_alias_targets(
    zone: &Zone,
    sets: &BTreeMap<String, ResourceRecordSet>,
    touched: &[String],
    messages: &mut Vec<String>,
) {
    for r in sets.values().filter(|r| touched.contains(&r.name)) {
        let Some(target) = &r.alias_target else { continue };
        if crate::ids::strip_prefix(&target.hosted_zone_id, "hostedzone") != zone.id {
            continue; // reported by check_change
        }
        let found = sets.values().any(|t| t.name == target.dns_name && t.r#type == r.r#type);
        if !found {
            messages.push(format!(
                "Tried to create an alias that targets {}, type {} in zone {}, but that target was not found",
                target.dns_name, r.r#type, zone.id
            ));
        }
    }
}

fn check_batch_size(changes: &[api_types::Change]) -> Result<(), Route53Error> {
    let mut records = 0usize;
    let mut chars = 0usize;
    for c in changes {
        let weight = if c.action == "UPSERT" { 2 } else { 1 };
        records += weight * c.resource_record_set.resource_records.len().max(1);
        chars += weight
            * c.resource_record_set
                .resource_records
                .iter()
                .map(|r| r.value.len())
                .sum::<usize>();
    }
    if records > MAX_RECORDS_PER_BATCH {
        return Err(Route53Error::InvalidChangeBatch(vec![format!(
            "Number of records limit of {MAX_RECORDS_PER_BATCH} exceeded."
        )]));
    }
    if chars > MAX_VALUE_CHARS_PER_BATCH {
        return Err(Route53Error::InvalidChangeBatch(vec![format!(
            "Number of characters limit of {MAX_VALUE_CHARS_PER_BATCH} exceeded."
        )]));
    }
    Ok(())
}

fn change_batch(
    t: &mut Txn<'_>,
    scope: &Scope,
    input: api_types::ChangeResourceRecordSetsRequest,
) -> Result<ChangeRecord, Route53Error> {
    let zone = load_zone(t, scope, &input.hosted_zone_id)?;
    check_batch_size(&input.change_batch.changes)?;
    let mut messages = Vec::new();
    let mut checked = Vec::with_capacity(input.change_batch.changes.len());
    for change in input.change_batch.changes {
        let mut r = change.resource_record_set;
        check_change(&zone, &change.action, &mut r, &mut messages)?;
        checked.push((change.action, r));
    }
    // Only the names the batch touches (and its alias targets) take part in its rules, so
    // only their record sets are read: a batch costs the same in a huge zone.
    let mut involved: Vec<String> = checked
        .iter()
        .flat_map(|(_, r)| std::iter::once(r.name.clone()).chain(r.alias_target.as_ref().map(|a| a.dns_name.clone())))
        .collect();
    involved.sort();
    involved.dedup();
    let mut before: BTreeMap<String, ResourceRecordSet> = BTreeMap::new();
    for name in &involved {
        before.extend(t.list_prefix::<ResourceRecordSet>(scope, KIND_RRSET, &name_prefix(&zone.id, name))?);
    }
    let mut sets = before.clone();
    let mut touched = Vec::new();
    let mut seen_keys = std::collections::HashSet::new();
    for (action, r) in checked {
        if let Some(hc) = r.health_check_id.as_deref() {
            if action != "DELETE" && !t.exists(scope, KIND_HEALTH_CHECK, hc)? {
                return Err(Route53Error::NoSuchHealthCheck(hc.to_string()));
            }
        }
        if let (Some(cidr), false) = (&r.cidr_routing_config, action == "DELETE") {
            crate::api::cidr_collections::check_location(t, scope, &cidr.collection_id, &cidr.location_name)?;
        }
        let key = rrset_key_of(&zone.id, &r);
        if !seen_keys.insert(key) {
            messages.push(format!(
                "The request contains an invalid set of changes for a resource record set '{} {}'",
                r.r#type, r.name
            ));
            continue;
        }
        touched.push(r.name.clone());
        apply(&zone, &action, r, &mut sets, &mut messages);
    }
    touched.sort();
    touched.dedup();
    check_names(&zone, &sets, &touched, &mut messages);
    check_alias_targets(&zone, &sets, &touched, &mut messages);
    if !messages.is_empty() {
        return Err(Route53Error::InvalidChangeBatch(messages));
    }
    for (key, r) in &sets {
        if before.get(key) != Some(r) {
            t.put(scope, KIND_RRSET, key, r)?;
        }
    }
    for key in before.keys().filter(|k| !sets.contains_key(*k)) {
        t.delete(scope, KIND_RRSET, key)?;
    }
    record_change(t, scope, input.change_batch.comment)
}

pub async fn change_resource_record_sets(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::ChangeResourceRecordSetsRequest = parse(input)?;
    let scope = scope(ctx);
    let change = store.write(move |t| change_batch(t, &scope, input)).await?;
    Ok(json!({ "ChangeInfo": change_info(&change, "PENDING") }))
}

/// A record set as the API shows it (`*` written `\052`).
pub fn rrset_output(r: &ResourceRecordSet) -> Value {
    let mut out = r.clone();
    out.name = names::for_output(&out.name);
    serde_json::to_value(out).unwrap_or(Value::Null)
}

pub async fn list_resource_record_sets(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::ListResourceRecordSetsRequest = parse(input)?;
    let max = match input.max_items.as_deref() {
        None => MAX_LIST_ITEMS,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(MAX_LIST_ITEMS))
            .ok_or_else(|| Route53Error::InvalidInput(format!("Invalid value for maxitems: {text}")))?,
    };
    if input.start_record_type.is_some() && input.start_record_name.is_none() {
        return Err(Route53Error::InvalidInput(
            "The input contains a type but no name.".into(),
        ));
    }
    let start_name = match input.start_record_name.as_deref() {
        Some(n) => Some(names::normalize(n).map_err(|e| Route53Error::InvalidInput(e.to_string()))?),
        None => None,
    };
    let scope = scope(ctx);
    let sets = store
        .read(move |t| {
            let zone = load_zone(t, &scope, &input.hosted_zone_id)?;
            let start_key = start_name.map(|n| {
                rrset_key(
                    &zone.id,
                    &n,
                    input.start_record_type.as_deref().unwrap_or(""),
                    input.start_record_identifier.as_deref(),
                )
            });
            // One page and the first record of the next: never the whole zone.
            let sets = t.list_prefix_from::<ResourceRecordSet>(
                &scope,
                KIND_RRSET,
                &zone_prefix(&zone.id),
                start_key.as_deref().unwrap_or(""),
                max + 1,
            )?;
            Ok::<_, Route53Error>(sets)
        })
        .await?;
    let page: Vec<Value> = sets.iter().take(max).map(|(_, r)| rrset_output(r)).collect();
    let next = sets.get(max).map(|(_, r)| r);
    Ok(json!({
        "ResourceRecordSets": page,
        "IsTruncated": next.is_some(),
        "NextRecordName": next.map(|r| names::for_output(&r.name)),
        "NextRecordType": next.map(|r| r.r#type.clone()),
        "NextRecordIdentifier": next.and_then(|r| r.set_identifier.clone()),
        "MaxItems": max.to_string(),
    }))
}

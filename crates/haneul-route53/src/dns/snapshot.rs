//! An immutable view of every zone, built from the store at one revision: public zones,
//! each VPC's private zones, and the CIDR collections IP-based routing reads. The DNS server
//! answers only from a snapshot; a new one is built and swapped in when the store's revision
//! moves.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use haneul_store::{Store, StoreError};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::cidr::IpNet;
use crate::generated::GeoProximityLocation;
use crate::model::{
    CidrCollection, RegisteredDomain, ResourceRecordSet, Zone, KIND_CIDR_COLLECTION, KIND_DOMAIN, KIND_RRSET, KIND_ZONE,
};
use crate::policy::Policy;

/// A geolocation rule: continent, or country (optionally with a subdivision), or `*`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoRule {
    pub continent: Option<String>,
    pub country: Option<String>,
    pub subdivision: Option<String>,
}

/// One record set as the server needs it: routing facts and ready-made records.
#[derive(Debug, Clone)]
pub struct Entry {
    pub policy: Policy,
    pub weight: u32,
    pub failover_primary: bool,
    pub health_check_id: Option<String>,
    pub records: Vec<Record>,
    /// Alias target (normalized name) in the same zone.
    pub alias: Option<String>,
    pub evaluate_target_health: bool,
    /// Latency routing: the record's AWS region.
    pub region: Option<String>,
    pub geo: Option<GeoRule>,
    /// Geoproximity: the record's place (latitude, longitude) and bias.
    pub proximity: Option<((f64, f64), i64)>,
    /// IP-based routing: (collection id, location name).
    pub cidr: Option<(String, String)>,
}

#[derive(Debug, Default)]
pub struct ZoneView {
    pub id: String,
    pub origin: String,
    /// name → type → record sets (several under a routing policy).
    pub nodes: HashMap<String, HashMap<RecordType, Vec<Entry>>>,
    /// Every name that exists in the zone, empty non-terminals included.
    pub names: HashSet<String>,
}

impl ZoneView {
    pub fn entries(&self, name: &str, rtype: RecordType) -> Option<&Vec<Entry>> {
        self.nodes.get(name).and_then(|types| types.get(&rtype))
    }

    /// The zone's SOA record (for negative answers).
    pub fn soa(&self) -> Option<&Record> {
        self.entries(&self.origin, RecordType::SOA)?.first()?.records.first()
    }
}

/// Every zone at one store revision.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub revision: u64,
    /// Public zones: origin → zone. When several accounts create the same name, the lowest
    /// zone id serves.
    pub zones: BTreeMap<String, Arc<ZoneView>>,
    /// Private zones by the VPC they are associated with: VPC id → origin → zone.
    pub private: HashMap<String, BTreeMap<String, Arc<ZoneView>>>,
    /// Every VPC in the store (each gets a resolver), sorted.
    pub vpcs: Vec<String>,
    /// CIDR collection id → (block, location), most specific blocks first.
    pub cidr_tables: HashMap<String, Vec<(IpNet, String)>>,
}

/// The most specific zone of `zones` that `qname` (normalized) falls in.
fn most_specific<'s>(zones: &'s BTreeMap<String, Arc<ZoneView>>, qname: &str) -> Option<&'s ZoneView> {
    let mut name = qname;
    loop {
        if let Some(z) = zones.get(name) {
            return Some(z);
        }
        name = crate::names::parent(name)?;
    }
}

impl Snapshot {
    /// The most specific public zone that `qname` (normalized) falls in.
    pub fn zone_for(&self, qname: &str) -> Option<&ZoneView> {
        most_specific(&self.zones, qname)
    }

    /// The most specific private zone of `vpc_id` that `qname` falls in.
    pub fn private_zone_for(&self, vpc_id: &str, qname: &str) -> Option<&ZoneView> {
        most_specific(self.private.get(vpc_id)?, qname)
    }

    /// The zone with this id, public or private.
    pub fn zone_by_id(&self, id: &str) -> Option<&ZoneView> {
        self.zones
            .values()
            .chain(self.private.values().flat_map(|m| m.values()))
            .find(|z| z.id == id)
            .map(|z| z.as_ref())
    }

    /// The location of `ip` in a CIDR collection (longest prefix), if any block holds it.
    pub fn cidr_location(&self, collection_id: &str, ip: std::net::IpAddr) -> Option<&str> {
        self.cidr_tables
            .get(collection_id)?
            .iter()
            .find(|(net, _)| net.contains(ip))
            .map(|(_, l)| l.as_str())
    }
}

/// Where a geoproximity record is: its coordinates, or its region's (a Local Zone group is
/// placed at its parent region).
pub fn proximity_point(p: &GeoProximityLocation) -> Option<(f64, f64)> {
    if let Some(c) = &p.coordinates {
        let lat: f64 = c.latitude.parse().ok()?;
        let lon: f64 = c.longitude.parse().ok()?;
        return ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon));
    }
    if let Some(region) = &p.aws_region {
        return crate::geo::regions::coordinates(region);
    }
    let group = p.local_zone_group.as_deref()?;
    let parent: Vec<&str> = group.split('-').take(3).collect();
    crate::geo::regions::coordinates(&parent.join("-"))
}

/// Reads every zone and record set and builds the snapshot of `revision`.
pub async fn build(store: &Store) -> Result<Snapshot, StoreError> {
    let revision = store.revision();
    let contents = store
        .read(|t| {
            Ok::<_, StoreError>(Contents {
                zones: t
                    .list_all_scopes::<Zone>(KIND_ZONE)?
                    .into_iter()
                    .map(|(_, _, z)| z)
                    .collect(),
                rrsets: t
                    .list_all_scopes::<ResourceRecordSet>(KIND_RRSET)?
                    .into_iter()
                    .map(|(_, key, r)| (key, r))
                    .collect(),
                vpcs: t
                    .list_all_scopes::<serde_json::Value>(haneul_ec2::model::KIND_VPC)?
                    .into_iter()
                    .map(|(_, id, _)| id)
                    .collect(),
                collections: t
                    .list_all_scopes::<CidrCollection>(KIND_CIDR_COLLECTION)?
                    .into_iter()
                    .map(|(_, id, c)| (id, c))
                    .collect(),
                domains: t
                    .list_all_scopes::<RegisteredDomain>(KIND_DOMAIN)?
                    .into_iter()
                    .map(|(_, _, d)| d)
                    .collect(),
            })
        })
        .await?;
    Ok(assemble(revision, contents))
}

/// What a snapshot is built from, as read from the store (or made up by a fuzzer).
#[derive(Debug, Default)]
pub struct Contents {
    pub zones: Vec<Zone>,
    /// (store key `zone␁name␁type␁set`, record set).
    pub rrsets: Vec<(String, ResourceRecordSet)>,
    pub vpcs: Vec<String>,
    pub collections: Vec<(String, CidrCollection)>,
    pub domains: Vec<RegisteredDomain>,
}

/// Builds the snapshot of `revision` from the store's contents.
pub fn assemble(revision: u64, contents: Contents) -> Snapshot {
    let Contents {
        zones,
        rrsets,
        vpcs,
        collections,
        domains,
    } = contents;
    let mut snapshot = Snapshot {
        revision,
        vpcs,
        ..Snapshot::default()
    };
    snapshot.vpcs.sort();
    // Build every zone's view, then place it: public by name, private under each VPC.
    let mut views: HashMap<String, ZoneView> = zones
        .iter()
        .map(|zone| {
            let mut view = ZoneView {
                id: zone.id.clone(),
                origin: zone.name.clone(),
                ..ZoneView::default()
            };
            view.names.insert(zone.name.clone());
            (zone.id.clone(), view)
        })
        .collect();
    for (key, rrset) in rrsets {
        let zone_id = key.split('\u{1}').next().unwrap_or("");
        if let Some(view) = views.get_mut(zone_id) {
            add_rrset(view, &rrset);
        }
    }
    for zone in zones {
        let Some(view) = views.remove(&zone.id) else { continue };
        let view = Arc::new(view);
        if zone.private_zone {
            for vpc in &zone.vpcs {
                snapshot
                    .private
                    .entry(vpc.vpc_id.clone())
                    .or_default()
                    .insert(zone.name.clone(), view.clone());
            }
        } else if snapshot.zones.get(&zone.name).is_none_or(|z| z.id >= zone.id) {
            snapshot.zones.insert(zone.name.clone(), view);
        }
    }
    add_tld_zones(&mut snapshot, domains.into_iter());
    for (id, collection) in collections {
        let mut table: Vec<(IpNet, String)> = collection
            .locations
            .iter()
            .flat_map(|(l, blocks)| blocks.iter().filter_map(move |b| Some((IpNet::parse(b)?, l.clone()))))
            .collect();
        table.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix));
        snapshot.cidr_tables.insert(id, table);
    }
    snapshot
}

/// TTL of the registry's own SOA/NS and of its delegations (as the big TLDs use).
const TLD_TTL_S: i64 = 172_800;

/// The local registrar's TLD zones: each TLD with a registered domain becomes a zone (unless
/// a hosted zone of that name already serves) holding its SOA and NS and an NS delegation per
/// registered domain, to the name servers the registration names.
fn add_tld_zones(snapshot: &mut Snapshot, domains: impl Iterator<Item = RegisteredDomain>) {
    let mut tlds: BTreeMap<String, ZoneView> = BTreeMap::new();
    for d in domains {
        let origin = format!("{}.", d.tld);
        let view = tlds.entry(origin.clone()).or_insert_with(|| {
            let mut view = ZoneView {
                id: format!("registry:{}", d.tld),
                origin: origin.clone(),
                ..ZoneView::default()
            };
            view.names.insert(origin.clone());
            let servers = crate::api::hosted_zones::name_servers();
            let soa = format!(
                "{}. hostmaster.haneul-registry.invalid. 1 7200 900 1209600 86400",
                servers[0]
            );
            add_rrset(&mut view, &registry_rrset(&origin, "SOA", vec![soa]));
            let ns = servers.iter().map(|n| format!("{n}.")).collect();
            add_rrset(&mut view, &registry_rrset(&origin, "NS", ns));
            view
        });
        let ns: Vec<String> = d
            .nameservers
            .iter()
            .map(|n| format!("{}.", n.name.trim_end_matches('.')))
            .collect();
        if !ns.is_empty() {
            add_rrset(view, &registry_rrset(&format!("{}.", d.name), "NS", ns));
        }
    }
    for (origin, view) in tlds {
        snapshot.zones.entry(origin).or_insert_with(|| Arc::new(view));
    }
}

fn registry_rrset(name: &str, rtype: &str, values: Vec<String>) -> ResourceRecordSet {
    ResourceRecordSet {
        name: name.to_string(),
        r#type: rtype.to_string(),
        ttl: Some(TLD_TTL_S),
        resource_records: values
            .into_iter()
            .map(|value| crate::generated::ResourceRecord { value })
            .collect(),
        ..ResourceRecordSet::default()
    }
}

fn add_rrset(view: &mut ZoneView, r: &ResourceRecordSet) {
    let Ok(rtype) = RecordType::from_str(&r.r#type) else {
        return;
    };
    let Ok(owner) = Name::from_ascii(&r.name) else { return };
    let ttl = u32::try_from(r.ttl.unwrap_or(0)).unwrap_or(u32::MAX);
    let records = r
        .resource_records
        .iter()
        .filter_map(|v| rdata(rtype, &v.value))
        .map(|data| Record::from_rdata(owner.clone(), ttl, data))
        .collect();
    let entry = Entry {
        policy: Policy::of(r),
        weight: r.weight.and_then(|w| u32::try_from(w).ok()).unwrap_or(0),
        failover_primary: r.failover.as_deref() == Some("PRIMARY"),
        health_check_id: r.health_check_id.clone(),
        records,
        alias: r
            .alias_target
            .as_ref()
            .and_then(|a| crate::names::normalize(&a.dns_name).ok()),
        evaluate_target_health: r.alias_target.as_ref().is_some_and(|a| a.evaluate_target_health),
        region: r.region.clone(),
        geo: r.geo_location.as_ref().map(|g| GeoRule {
            continent: g.continent_code.clone(),
            country: g.country_code.clone(),
            subdivision: g.subdivision_code.clone(),
        }),
        proximity: r
            .geo_proximity_location
            .as_ref()
            .and_then(|p| Some((proximity_point(p)?, p.bias.unwrap_or(0)))),
        cidr: r
            .cidr_routing_config
            .as_ref()
            .map(|c| (c.collection_id.clone(), c.location_name.clone())),
    };
    view.nodes
        .entry(r.name.clone())
        .or_default()
        .entry(rtype)
        .or_default()
        .push(entry);
    // The name and every ancestor down to the origin exist (empty non-terminals).
    let mut name = r.name.as_str();
    while name != view.origin && crate::names::in_zone(name, &view.origin) {
        view.names.insert(name.to_string());
        match crate::names::parent(name) {
            Some(p) => name = p,
            None => break,
        }
    }
}

/// A name in a record value; Route 53 treats values as absolute with or without the dot.
fn name(text: &str) -> Option<Name> {
    let mut n = Name::from_ascii(text).ok()?;
    n.set_fqdn(true);
    Some(n)
}

/// `"a" "b c"` → `["a", "b c"]`.
fn quoted_strings(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut inside = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' if inside => {
                out.push(std::mem::take(&mut current));
                inside = false;
            }
            '"' => inside = true,
            '\\' if inside => current.extend(chars.next()),
            c if inside => current.push(c),
            _ => {}
        }
    }
    out
}

/// A record value in Route 53's text form → wire data. Types haneul cannot encode yet are
/// skipped (the API still stores them).
fn rdata(rtype: RecordType, value: &str) -> Option<RData> {
    let f: Vec<&str> = value.split_whitespace().collect();
    Some(match rtype {
        RecordType::A => RData::A(A(value.parse().ok()?)),
        RecordType::AAAA => RData::AAAA(AAAA(value.parse().ok()?)),
        RecordType::CNAME => RData::CNAME(CNAME(name(value)?)),
        RecordType::NS => RData::NS(NS(name(value)?)),
        RecordType::PTR => RData::PTR(PTR(name(value)?)),
        RecordType::MX => RData::MX(MX::new(f.first()?.parse().ok()?, name(f.get(1)?)?)),
        RecordType::TXT => RData::TXT(TXT::new(quoted_strings(value))),
        RecordType::SRV => RData::SRV(SRV::new(
            f.first()?.parse().ok()?,
            f.get(1)?.parse().ok()?,
            f.get(2)?.parse().ok()?,
            name(f.get(3)?)?,
        )),
        RecordType::SOA => RData::SOA(SOA::new(
            name(f.first()?)?,
            name(f.get(1)?)?,
            f.get(2)?.parse().ok()?,
            f.get(3)?.parse().ok()?,
            f.get(4)?.parse().ok()?,
            f.get(5)?.parse().ok()?,
            f.get(6)?.parse().ok()?,
        )),
        _ => return None,
    })
}

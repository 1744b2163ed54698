//! One record set as the DNS server keeps it — compact, because a zone may hold millions:
//! its type, TTL and values in wire form, plus (boxed, so a simple record set stays small) the
//! routing facts a policy needs. Records are made from it when an answer needs them.

use std::str::FromStr;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, BinEncodable, BinEncoder, Restrict};

use crate::generated::GeoProximityLocation;
use crate::model::ResourceRecordSet;
use crate::policy::Policy;

/// A geolocation rule: continent, or country (optionally with a subdivision), or `*`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoRule {
    pub continent: Option<String>,
    pub country: Option<String>,
    pub subdivision: Option<String>,
}

/// What a record set under a routing policy (or with a health check, or an alias) adds.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    pub weight: u32,
    pub failover_primary: bool,
    pub health_check_id: Option<String>,
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

#[derive(Debug, Clone)]
pub struct Entry {
    pub rtype: RecordType,
    pub policy: Policy,
    pub ttl: u32,
    /// Each value's wire-form rdata (uncompressed names), as a u16 length then the bytes.
    rdata: Box<[u8]>,
    routing: Option<Box<Routing>>,
}

/// The record sets of one name, ordered by type (a type's sets are next to each other).
pub type Node = [Entry];

impl Entry {
    /// The set's records, owned by `owner`.
    pub fn records<'a>(&'a self, owner: &'a Name) -> impl Iterator<Item = Record> + 'a {
        let mut rest: &[u8] = &self.rdata;
        std::iter::from_fn(move || loop {
            if rest.len() < 2 {
                return None;
            }
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let (value, tail) = rest[2..].split_at(len.min(rest.len() - 2));
            rest = tail;
            let mut decoder = BinDecoder::new(value);
            // Invariant: the bytes were written by `encode` from a valid RData; a value that
            // does not read back is skipped rather than served wrong.
            if let Ok(data) = RData::read(&mut decoder, self.rtype, Restrict::new(value.len() as u16)) {
                return Some(Record::from_rdata(owner.clone(), self.ttl, data));
            }
        })
    }

    fn routing(&self) -> Option<&Routing> {
        self.routing.as_deref()
    }
    pub fn weight(&self) -> u32 {
        self.routing().map_or(0, |r| r.weight)
    }
    pub fn failover_primary(&self) -> bool {
        self.routing().is_some_and(|r| r.failover_primary)
    }
    pub fn health_check_id(&self) -> Option<&str> {
        self.routing()?.health_check_id.as_deref()
    }
    pub fn alias(&self) -> Option<&str> {
        self.routing()?.alias.as_deref()
    }
    pub fn evaluate_target_health(&self) -> bool {
        self.routing().is_some_and(|r| r.evaluate_target_health)
    }
    pub fn region(&self) -> Option<&str> {
        self.routing()?.region.as_deref()
    }
    pub fn geo(&self) -> Option<&GeoRule> {
        self.routing()?.geo.as_ref()
    }
    pub fn proximity(&self) -> Option<((f64, f64), i64)> {
        self.routing()?.proximity
    }
    pub fn cidr(&self) -> Option<&(String, String)> {
        self.routing()?.cidr.as_ref()
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

/// The node of one name from its record sets (all of the same name), ordered by type.
pub fn node_from(rrsets: &[ResourceRecordSet]) -> Vec<Entry> {
    let mut node: Vec<Entry> = rrsets.iter().filter_map(entry_from).collect();
    node.sort_by_key(|e| u16::from(e.rtype));
    node
}

/// Values in wire form, each as a u16 length then the bytes.
fn encode(values: impl Iterator<Item = RData>) -> Box<[u8]> {
    let mut out = Vec::new();
    for data in values {
        let mut bytes = Vec::new();
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_canonical_names(true);
        if data.emit(&mut encoder).is_err() {
            continue;
        }
        let Ok(len) = u16::try_from(bytes.len()) else { continue };
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    out.into_boxed_slice()
}

fn entry_from(r: &ResourceRecordSet) -> Option<Entry> {
    let rtype = RecordType::from_str(&r.r#type).ok()?;
    let ttl = u32::try_from(r.ttl.unwrap_or(0)).unwrap_or(u32::MAX);
    let rdata = encode(r.resource_records.iter().filter_map(|v| rdata(rtype, &v.value)));
    let policy = Policy::of(r);
    let plain = policy == Policy::Simple && r.health_check_id.is_none() && r.alias_target.is_none();
    let routing = (!plain).then(|| {
        Box::new(Routing {
            weight: r.weight.and_then(|w| u32::try_from(w).ok()).unwrap_or(0),
            failover_primary: r.failover.as_deref() == Some("PRIMARY"),
            health_check_id: r.health_check_id.clone(),
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
        })
    });
    Some(Entry {
        rtype,
        policy,
        ttl,
        rdata,
        routing,
    })
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

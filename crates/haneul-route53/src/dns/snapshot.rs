//! An immutable view of every public zone, built from the store at one revision. The DNS
//! server answers only from a snapshot; a new one is built and swapped in when the store's
//! revision moves.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use haneul_store::{Store, StoreError};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::model::{ResourceRecordSet, Zone, KIND_RRSET, KIND_ZONE};
use crate::policy::Policy;

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

/// Every public zone at one store revision.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub revision: u64,
    /// origin → zone. When several accounts create the same name, the lowest zone id serves.
    pub zones: BTreeMap<String, ZoneView>,
}

impl Snapshot {
    /// The most specific zone that `qname` (normalized) falls in.
    pub fn zone_for(&self, qname: &str) -> Option<&ZoneView> {
        let mut name = qname;
        loop {
            if let Some(z) = self.zones.get(name) {
                return Some(z);
            }
            name = crate::names::parent(name)?;
        }
    }
}

/// Reads every zone and record set and builds the snapshot of `revision`.
pub async fn build(store: &Store) -> Result<Snapshot, StoreError> {
    let revision = store.revision();
    let (zones, rrsets) = store
        .read(|t| {
            let zones = t.list_all_scopes::<Zone>(KIND_ZONE)?;
            let rrsets = t.list_all_scopes::<ResourceRecordSet>(KIND_RRSET)?;
            Ok::<_, StoreError>((zones, rrsets))
        })
        .await?;
    let mut snapshot = Snapshot {
        revision,
        zones: BTreeMap::new(),
    };
    let mut served_ids: HashMap<String, String> = HashMap::new();
    for (_, _, zone) in zones.into_iter().filter(|(_, _, z)| !z.private_zone) {
        let taken = snapshot.zones.get(&zone.name).is_some_and(|z| z.id < zone.id);
        if taken {
            continue;
        }
        served_ids.insert(zone.id.clone(), zone.name.clone());
        let mut view = ZoneView {
            id: zone.id.clone(),
            origin: zone.name.clone(),
            ..ZoneView::default()
        };
        view.names.insert(zone.name.clone());
        snapshot.zones.insert(zone.name.clone(), view);
    }
    for (_, key, rrset) in rrsets {
        let zone_id = key.split('\u{1}').next().unwrap_or("");
        let Some(origin) = served_ids.get(zone_id) else {
            continue;
        };
        let Some(view) = snapshot.zones.get_mut(origin) else {
            continue;
        };
        add_rrset(view, &rrset);
    }
    Ok(snapshot)
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

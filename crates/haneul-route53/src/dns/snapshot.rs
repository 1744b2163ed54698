//! An immutable view of every zone, built from the store at one revision: public zones,
//! each VPC's private zones, the TLD zones of the local registrar, and the CIDR collections
//! IP-based routing reads. The DNS server answers only from a snapshot. When the store moves,
//! record-set changes are applied to a copy that shares everything else with the old
//! snapshot ([`Snapshot::with_names`]; zones are persistent maps, so the cost follows the
//! change, not the zone); other
//! changes (zones, VPCs, collections, domains) rebuild it whole ([`build`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use haneul_store::{Store, StoreError};
use hickory_proto::rr::{Name, Record, RecordType};

use crate::cidr::IpNet;
use crate::dns::entry::node_from;
pub use crate::dns::entry::{proximity_point, Entry, GeoRule, Node};
use crate::dns::pmap::PersistentMap;
use crate::dns::querylog::LogTarget;
use crate::model::{
    CidrCollection, LbAddress, QueryLoggingConfig, RegisteredDomain, ResourceRecordSet, Zone, KIND_CIDR_COLLECTION,
    KIND_DOMAIN, KIND_LB_ADDRESS, KIND_QUERY_LOGGING_CONFIG, KIND_RRSET, KIND_ZONE,
};

/// Separates the parts of an rrset key (see `model::rrset_key`).
const KEY_SEP: char = '\u{1}';

#[derive(Debug, Clone, Default)]
pub struct ZoneView {
    pub id: String,
    pub origin: String,
    /// `origin` as a wire name (negative answers' SOA owner), parsed once.
    origin_name: Name,
    /// name → record sets by type (several per type under a routing policy).
    nodes: PersistentMap<Arc<Node>>,
    /// Names with record-holding names below them (empty non-terminals among them), with
    /// how many; the origin is always here. A flat zone keeps only the origin.
    names: PersistentMap<u32>,
}

impl ZoneView {
    pub fn new(id: &str, origin: &str) -> ZoneView {
        let mut view = ZoneView {
            id: id.to_string(),
            origin: origin.to_string(),
            origin_name: Name::from_ascii(origin).unwrap_or_else(|_| Name::root()),
            ..ZoneView::default()
        };
        view.names.insert(origin, 1);
        view
    }

    /// The record sets of `rtype` at `name` (several under a routing policy).
    pub fn entries(&self, name: &str, rtype: RecordType) -> Option<&[Entry]> {
        let node = self.nodes.get(name)?;
        let start = node.iter().position(|e| e.rtype == rtype)?;
        let len = node[start..].iter().take_while(|e| e.rtype == rtype).count();
        Some(&node[start..start + len])
    }

    /// The record sets at `name`, by type.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.get(name).map(|n| n.as_ref())
    }

    /// Whether `name` exists (holds records, or has a descendant that does).
    pub fn exists(&self, name: &str) -> bool {
        self.nodes.contains_key(name) || self.names.contains_key(name)
    }

    /// How many names hold records.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The zone's SOA record (for negative answers).
    pub fn soa(&self) -> Option<Record> {
        let entry = self.entries(&self.origin, RecordType::SOA)?.first()?;
        entry.records(&self.origin_name).next()
    }

    /// Sets what `name` holds (an empty node removes it), keeping empty non-terminals right.
    pub fn set_node(&mut self, name: &str, node: Vec<Entry>) {
        let had = self.nodes.contains_key(name);
        let has = !node.is_empty();
        if has {
            self.nodes.insert(name, Arc::from(node));
        } else if had {
            self.nodes.remove(name);
        }
        if had == has || name == self.origin || !crate::names::in_zone(name, &self.origin) {
            return;
        }
        // Each ancestor below the origin counts one more (or one less) name with records
        // beneath it.
        let mut current = crate::names::parent(name);
        while let Some(n) = current.filter(|n| *n != self.origin.as_str()) {
            let count = self.names.get(n).copied().unwrap_or(0);
            if has {
                self.names.insert(n, count + 1);
            } else if count <= 1 {
                self.names.remove(n);
            } else {
                self.names.insert(n, count - 1);
            }
            current = crate::names::parent(n);
        }
    }
}

/// Every zone at one store revision. Cloning shares the zones.
#[derive(Debug, Clone, Default)]
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
    /// Public zone id → where its query log goes (zones with a query logging config).
    pub query_logs: Arc<HashMap<String, Arc<LogTarget>>>,
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

    fn served_zones(&self) -> impl Iterator<Item = &Arc<ZoneView>> {
        self.zones
            .values()
            .chain(self.private.values().flat_map(|m| m.values()))
    }

    /// The zone with this id, public or private.
    pub fn zone_by_id(&self, id: &str) -> Option<&ZoneView> {
        self.served_zones().find(|z| z.id == id).map(|z| z.as_ref())
    }

    /// The location of `ip` in a CIDR collection (longest prefix), if any block holds it.
    pub fn cidr_location(&self, collection_id: &str, ip: std::net::IpAddr) -> Option<&str> {
        self.cidr_tables
            .get(collection_id)?
            .iter()
            .find(|(net, _)| net.contains(ip))
            .map(|(_, l)| l.as_str())
    }

    /// This snapshot with the given names' record sets replaced (`(zone id, name, record
    /// sets now)`; none left removes the name), as of `revision`. Zones not served (shadowed)
    /// are skipped. Only the paths to the touched names of the touched zones are copied.
    pub fn with_names(&self, revision: u64, updates: Vec<(String, String, Vec<ResourceRecordSet>)>) -> Snapshot {
        let mut next = self.clone();
        next.revision = revision;
        let mut by_zone: HashMap<String, Vec<(String, Vec<ResourceRecordSet>)>> = HashMap::new();
        for (zone_id, name, sets) in updates {
            by_zone.entry(zone_id).or_default().push((name, sets));
        }
        for (zone_id, names) in by_zone {
            let Some(old) = next.served_zones().find(|z| z.id == zone_id).cloned() else {
                continue;
            };
            let mut view = (*old).clone();
            for (name, sets) in names {
                view.set_node(&name, node_from(&sets));
            }
            let view = Arc::new(view);
            for slot in next
                .zones
                .values_mut()
                .chain(next.private.values_mut().flat_map(|m| m.values_mut()))
            {
                if Arc::ptr_eq(slot, &old) {
                    *slot = view.clone();
                }
            }
        }
        next
    }
}

/// Reads the store and builds the snapshot of the revision the read sees. Record sets are
/// streamed into their zones a name at a time, never collected whole.
pub async fn build(store: &Store) -> Result<Snapshot, StoreError> {
    store
        .read(|t| {
            let revision = t.seen_revision()?;
            let zones: Vec<Zone> = t
                .list_all_scopes::<Zone>(KIND_ZONE)?
                .into_iter()
                .map(|(_, _, z)| z)
                .collect();
            let mut views: HashMap<String, ZoneView> = zones
                .iter()
                .map(|z| (z.id.clone(), ZoneView::new(&z.id, &z.name)))
                .collect();
            let mut group: Option<(String, Vec<ResourceRecordSet>)> = None;
            t.for_each_all_scopes::<ResourceRecordSet>(KIND_RRSET, |_, key, r| {
                let prefix = name_key(&key);
                if group.as_ref().is_some_and(|(p, _)| p.as_str() != prefix) {
                    flush(&mut views, group.take());
                }
                group.get_or_insert_with(|| (prefix.to_string(), Vec::new())).1.push(r);
                Ok(())
            })?;
            flush(&mut views, group.take());
            let contents = Contents {
                zones,
                rrsets: Vec::new(),
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
                lb_addresses: t
                    .list_all_scopes::<LbAddress>(KIND_LB_ADDRESS)?
                    .into_iter()
                    .map(|(_, _, a)| a)
                    .collect(),
                query_logs: t
                    .list_all_scopes::<QueryLoggingConfig>(KIND_QUERY_LOGGING_CONFIG)?
                    .into_iter()
                    .map(|(_, _, c)| c)
                    .collect(),
            };
            Ok(place(revision, contents, views))
        })
        .await
}

/// `zone␁reversed-name␁` of an rrset key: what all record sets of one name share.
pub fn name_key(key: &str) -> &str {
    let mut seps = key.match_indices(KEY_SEP).map(|(i, _)| i);
    let _zone_end = seps.next();
    match seps.next() {
        Some(end) => &key[..=end],
        None => key,
    }
}

/// Zone id and normalized name of a `name_key`.
pub fn parse_name_key(prefix: &str) -> Option<(String, String)> {
    let mut parts = prefix.trim_end_matches(KEY_SEP).split(KEY_SEP);
    let zone = parts.next()?;
    let reversed = parts.next()?;
    let labels: Vec<&str> = reversed.split('.').rev().collect();
    Some((zone.to_string(), format!("{}.", labels.join("."))))
}

fn flush(views: &mut HashMap<String, ZoneView>, group: Option<(String, Vec<ResourceRecordSet>)>) {
    let Some((prefix, sets)) = group else { return };
    let Some((zone_id, _)) = parse_name_key(&prefix) else {
        return;
    };
    let (Some(view), Some(first)) = (views.get_mut(&zone_id), sets.first()) else {
        return;
    };
    let name = first.name.clone();
    view.set_node(&name, node_from(&sets));
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
    pub lb_addresses: Vec<LbAddress>,
    pub query_logs: Vec<QueryLoggingConfig>,
}

/// Builds the snapshot of `revision` from contents held in memory.
pub fn assemble(revision: u64, mut contents: Contents) -> Snapshot {
    let mut views: HashMap<String, ZoneView> = contents
        .zones
        .iter()
        .map(|z| (z.id.clone(), ZoneView::new(&z.id, &z.name)))
        .collect();
    let mut rrsets = std::mem::take(&mut contents.rrsets);
    rrsets.sort_by(|a, b| a.0.cmp(&b.0));
    let mut group: Option<(String, Vec<ResourceRecordSet>)> = None;
    for (key, r) in rrsets {
        let prefix = name_key(&key).to_string();
        if group.as_ref().is_some_and(|(p, _)| *p != prefix) {
            flush(&mut views, group.take());
        }
        group.get_or_insert_with(|| (prefix, Vec::new())).1.push(r);
    }
    flush(&mut views, group.take());
    place(revision, contents, views)
}

/// Places built zone views (public by name, private under each VPC) and adds the registry's
/// TLD zones and the CIDR tables.
fn place(revision: u64, contents: Contents, mut views: HashMap<String, ZoneView>) -> Snapshot {
    let Contents {
        zones,
        vpcs,
        collections,
        domains,
        lb_addresses,
        query_logs,
        ..
    } = contents;
    let mut snapshot = Snapshot {
        revision,
        vpcs,
        ..Snapshot::default()
    };
    snapshot.vpcs.sort();
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
    snapshot.query_logs = Arc::new(
        query_logs
            .into_iter()
            .map(|c| {
                let target = LogTarget {
                    account_id: c.account_id,
                    log_group: c.log_group,
                };
                (c.zone_id, Arc::new(target))
            })
            .collect(),
    );
    add_tld_zones(&mut snapshot, domains.into_iter());
    add_lb_zone(&mut snapshot, &lb_addresses);
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
            let mut view = ZoneView::new(&format!("registry:{}", d.tld), &origin);
            let servers = crate::api::hosted_zones::name_servers();
            let soa = format!(
                "{}. hostmaster.haneul-registry.invalid. 1 7200 900 1209600 86400",
                servers[0]
            );
            let ns = servers.iter().map(|n| format!("{n}.")).collect();
            let apex = [
                registry_rrset(&origin, "SOA", vec![soa]),
                registry_rrset(&origin, "NS", ns),
            ];
            view.set_node(&origin, node_from(&apex));
            view
        });
        let ns: Vec<String> = d
            .nameservers
            .iter()
            .map(|n| format!("{}.", n.name.trim_end_matches('.')))
            .collect();
        if !ns.is_empty() {
            let name = format!("{}.", d.name);
            let delegation = [registry_rrset(&name, "NS", ns)];
            view.set_node(&name, node_from(&delegation));
        }
    }
    for (origin, view) in tlds {
        snapshot.zones.entry(origin).or_insert_with(|| Arc::new(view));
    }
}

/// Where load balancers' DNS names live (`<name>-<id>.<region>.elb.amazonaws.com`).
pub const LB_ZONE: &str = "elb.amazonaws.com.";
/// TTL ELB gives its A records.
const LB_TTL_S: i64 = 60;

/// The zone that answers load balancers' DNS names with their addresses (unless a hosted zone
/// of that name serves instead).
fn add_lb_zone(snapshot: &mut Snapshot, addresses: &[LbAddress]) {
    if addresses.is_empty() || snapshot.zones.contains_key(LB_ZONE) {
        return;
    }
    let mut view = ZoneView::new("elb", LB_ZONE);
    let servers = crate::api::hosted_zones::name_servers();
    let soa = format!("{}. hostmaster.haneul-elb.invalid. 1 7200 900 1209600 60", servers[0]);
    let ns = servers.iter().map(|n| format!("{n}.")).collect();
    let apex = [
        registry_rrset(LB_ZONE, "SOA", vec![soa]),
        registry_rrset(LB_ZONE, "NS", ns),
    ];
    view.set_node(LB_ZONE, node_from(&apex));
    for a in addresses {
        let name = format!("{}.", a.dns_name.trim_end_matches('.').to_ascii_lowercase());
        let mut set = registry_rrset(&name, "A", vec![a.ip.clone()]);
        set.ttl = Some(LB_TTL_S);
        view.set_node(&name, node_from(&[set]));
    }
    snapshot.zones.insert(LB_ZONE.to_string(), Arc::new(view));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generated::ResourceRecord;

    fn a(name: &str) -> Vec<ResourceRecordSet> {
        vec![ResourceRecordSet {
            name: name.into(),
            r#type: "A".into(),
            ttl: Some(60),
            resource_records: vec![ResourceRecord {
                value: "192.0.2.1".into(),
            }],
            ..ResourceRecordSet::default()
        }]
    }

    #[test]
    fn empty_non_terminals_come_and_go_with_the_names_below() {
        let mut zone = ZoneView::new("Z1", "example.test.");
        zone.set_node("x.a.b.example.test.", node_from(&a("x.a.b.example.test.")));
        zone.set_node("y.b.example.test.", node_from(&a("y.b.example.test.")));
        assert!(zone.exists("a.b.example.test.") && zone.exists("b.example.test."));
        zone.set_node("x.a.b.example.test.", Vec::new());
        assert!(!zone.exists("a.b.example.test.") && !zone.exists("x.a.b.example.test."));
        assert!(zone.exists("b.example.test."), "y.b still holds records");
        zone.set_node("y.b.example.test.", Vec::new());
        assert!(!zone.exists("b.example.test."));
        assert!(zone.exists("example.test."), "the origin always exists");
        assert_eq!(zone.node_count(), 0);
    }

    #[test]
    fn updates_leave_the_old_snapshot_as_it_was() {
        let old = crate::dns::sample::snapshot();
        let new = old.with_names(
            2,
            vec![
                ("ZPUBLIC".into(), "added.example.test.".into(), a("added.example.test.")),
                ("ZPUBLIC".into(), "txt.example.test.".into(), Vec::new()),
            ],
        );
        let (before, after) = (
            old.zone_for("example.test.").unwrap(),
            new.zone_for("example.test.").unwrap(),
        );
        assert!(!before.exists("added.example.test.") && after.exists("added.example.test."));
        assert!(before.exists("txt.example.test.") && !after.exists("txt.example.test."));
        assert_eq!(new.revision, 2);
        // The private zone of the same name is a different zone: untouched.
        assert!(!new
            .private_zone_for("vpc-1", "added.example.test.")
            .unwrap()
            .exists("added.example.test."));
    }

    #[test]
    fn name_keys_round_trip() {
        let key = crate::model::rrset_key("Z1", "www.example.test.", "A", Some("w1"));
        let prefix = name_key(&key);
        assert_eq!(prefix, crate::model::name_prefix("Z1", "www.example.test."));
        assert_eq!(
            parse_name_key(prefix),
            Some(("Z1".to_string(), "www.example.test.".to_string()))
        );
    }
}

//! One query → one response, from a snapshot: authoritative answers, CNAME chasing inside the
//! zone, wildcards, delegations, NXDOMAIN vs NODATA with the SOA, routing policies (the
//! location ones from the EDNS client subnet or the source address), private zones for a
//! VPC's resolver, REFUSED outside our zones.

use std::cell::{Cell, OnceCell};
use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::Rng;

use crate::dns::querylog::{LogTarget, QueryLog, QueryRecord};
use crate::dns::snapshot::{Entry, Snapshot, ZoneView};
use crate::geo::{Geo, Location};
use crate::health::HealthBoard;
use crate::names;
use crate::policy::Policy;

/// Who asked, and through which door.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asker<'a> {
    /// The VPC whose resolver took the query; `None` on the public DNS address.
    pub vpc: Option<&'a str>,
    /// The address the query came from.
    pub source: Option<IpAddr>,
    /// Where addresses are (`--geoip-db`, `--latency-table`), for the location-based policies.
    pub geo: Option<&'a Geo>,
    /// Where answers from zones with a query logging config are logged (the public door).
    pub query_log: Option<&'a QueryLog>,
}

/// A response, and whether it came from our zones (a VPC resolver forwards the others).
#[derive(Debug)]
pub enum Reply {
    Answer(Vec<u8>),
    /// REFUSED: no zone of ours holds the name.
    NotOurs(Vec<u8>),
}

/// What one query's answer may consult: the data, the health, and the client's place
/// (looked up once, on first need).
pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub health: &'a HealthBoard,
    geo: Option<&'a Geo>,
    /// The client subnet's address, else the source address.
    client_ip: Option<IpAddr>,
    location: OnceCell<Option<Location>>,
    /// Whether the answer depended on the client's address (sets the ECS scope).
    used_client: Cell<bool>,
}

impl<'a> Context<'a> {
    pub fn new(
        snapshot: &'a Snapshot,
        health: &'a HealthBoard,
        geo: Option<&'a Geo>,
        client_ip: Option<IpAddr>,
    ) -> Self {
        Context {
            snapshot,
            health,
            geo,
            client_ip,
            location: OnceCell::new(),
            used_client: Cell::new(false),
        }
    }

    fn client_ip(&self) -> Option<IpAddr> {
        self.used_client.set(true);
        self.client_ip
    }

    /// Measured latencies from the client's network (`--latency-table`), if it lists one.
    fn latency_row(&self) -> Option<&std::collections::HashMap<String, f64>> {
        let table = self.geo?.latency.as_ref()?;
        table.row(self.client_ip()?)
    }

    fn location(&self) -> Option<&Location> {
        self.used_client.set(true);
        self.location
            .get_or_init(|| {
                let db = self.geo.and_then(|g| g.db.as_ref());
                db.zip(self.client_ip).and_then(|(db, ip)| db.locate(ip))
            })
            .as_ref()
    }
}

/// UDP payload we advertise and accept (the DNS Flag Day 2020 value).
pub const EDNS_PAYLOAD_BYTES: u16 = 1232;
/// Classic DNS UDP limit without EDNS.
pub const PLAIN_UDP_BYTES: usize = 512;
/// CNAME hops followed inside a zone before giving up (loops end here).
pub const MAX_CNAME_HOPS: usize = 8;
/// Most record sets a multivalue answer returns.
pub const MAX_MULTIVALUE: usize = 8;

/// Over which transport the query came (decides truncation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Answers `request` (wire bytes). `None`: too broken to answer at all (drop it).
pub fn respond(
    snapshot: &Snapshot,
    health: &HealthBoard,
    asker: Asker<'_>,
    request: &[u8],
    transport: Transport,
) -> Option<Reply> {
    let query = match Message::from_vec(request) {
        Ok(m) => m,
        Err(_) => return formerr(request).map(Reply::Answer),
    };
    if query.message_type() != MessageType::Query {
        return None;
    }
    let mut response = Message::new();
    response
        .set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_recursion_desired(query.recursion_desired());
    let client_edns = query.extensions().clone();
    if let Some(edns) = &client_edns {
        let mut ours = Edns::new();
        ours.set_max_payload(EDNS_PAYLOAD_BYTES);
        ours.set_version(0);
        response.set_edns(ours);
        if edns.version() > 0 {
            response.set_response_code(ResponseCode::BADVERS);
            return response.to_vec().ok().map(Reply::Answer);
        }
    }
    if query.op_code() != OpCode::Query || query.queries().len() != 1 {
        response.set_response_code(if query.op_code() == OpCode::Query {
            ResponseCode::FormErr
        } else {
            ResponseCode::NotImp
        });
        return response.to_vec().ok().map(Reply::Answer);
    }
    let q = query.queries()[0].clone();
    response.add_query(q.clone());
    let client_subnet = client_edns.as_ref().and_then(|e| match e.option(EdnsCode::Subnet) {
        Some(EdnsOption::Subnet(subnet)) => Some(*subnet),
        _ => None,
    });
    let client_ip = match &client_subnet {
        Some(subnet) if subnet.source_prefix() > 0 => Some(subnet.addr()),
        _ => asker.source,
    };
    let ctx = Context::new(snapshot, health, asker.geo, client_ip);
    if asker.vpc.is_some() {
        response.set_recursion_available(true);
    }
    let answered_from = answer_query(&ctx, asker.vpc, &q, &mut response);
    let ours = answered_from.is_some();
    if let (Some(subnet), Some(edns)) = (client_subnet, response.extensions_mut().as_mut()) {
        // RFC 7871: echo the option; the scope says how much of the subnet the answer used.
        let scope = if ctx.used_client.get() {
            subnet.source_prefix()
        } else {
            0
        };
        let echoed = ClientSubnet::new(subnet.addr(), subnet.source_prefix(), scope);
        edns.options_mut().insert(EdnsOption::Subnet(echoed));
    }
    let wrap = if ours { Reply::Answer } else { Reply::NotOurs };
    let limit = match (transport, &client_edns) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, Some(e)) => usize::from(e.max_payload().clamp(PLAIN_UDP_BYTES as u16, EDNS_PAYLOAD_BYTES)),
        (Transport::Udp, None) => PLAIN_UDP_BYTES,
    };
    if let (Some(log), Some(zone), None) = (asker.query_log, answered_from, asker.vpc) {
        let target = snapshot.query_logs.get(&zone.id).filter(|_| log.has_room());
        if let Some(target) = target {
            log.offer(query_record(
                zone,
                target,
                &q,
                &response,
                transport,
                asker.source,
                client_subnet,
            ));
        }
    }
    let bytes = response.to_vec().ok()?;
    if bytes.len() <= limit {
        return Some(wrap(bytes));
    }
    // Too big for UDP: send the header and question with TC set; the client retries on TCP.
    response.take_answers();
    response.take_name_servers();
    response.take_additionals();
    response.set_truncated(true);
    response.to_vec().ok().map(wrap)
}

/// What the query log keeps of one answered query.
fn query_record(
    zone: &ZoneView,
    target: &std::sync::Arc<LogTarget>,
    q: &Query,
    response: &Message,
    transport: Transport,
    resolver: Option<IpAddr>,
    subnet: Option<ClientSubnet>,
) -> QueryRecord {
    QueryRecord {
        timestamp_ms: (haneul_wire::value::now_epoch_s() * 1000.0) as i64,
        zone_id: std::sync::Arc::from(zone.id.as_str()),
        target: target.clone(),
        qname: normalized_qname(q),
        qtype: q.query_type().to_string(),
        rcode: rcode_name(response.response_code()),
        tcp: transport == Transport::Tcp,
        resolver,
        client_subnet: subnet.map(|s| (s.addr(), s.source_prefix())),
    }
}

/// A response code as query logs spell it.
fn rcode_name(code: ResponseCode) -> String {
    match u16::from(code) {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        16 => "BADVERS".into(),
        other => other.to_string(),
    }
}

/// FORMERR for a request whose header we can read but whose body we cannot.
fn formerr(request: &[u8]) -> Option<Vec<u8>> {
    if request.len() < 12 {
        return None;
    }
    let mut bytes = request[..12].to_vec();
    bytes[2] = (bytes[2] | 0x80) & 0xF9; // QR=1, keep opcode and RD, clear AA and TC
    bytes[3] = 0x01; // RCODE=FORMERR
    bytes[4..12].fill(0); // no sections
    Some(bytes)
}

fn normalized_qname(q: &Query) -> String {
    let qname = q.name().to_lowercase().to_ascii();
    if qname.ends_with('.') {
        qname
    } else {
        format!("{qname}.")
    }
}

/// Answers from the zone that holds the name: for a VPC's resolver its most specific private
/// zone first (a private zone that lacks the name answers NXDOMAIN, no fall-through), then the
/// public zones. Returns the zone that answered; `None` (REFUSED) when no zone holds the name.
fn answer_query<'s>(ctx: &Context<'s>, vpc: Option<&str>, q: &Query, response: &mut Message) -> Option<&'s ZoneView> {
    let qname = normalized_qname(q);
    let zone = vpc
        .and_then(|v| ctx.snapshot.private_zone_for(v, &qname))
        .or_else(|| ctx.snapshot.zone_for(&qname));
    let Some(zone) = zone else {
        response.set_response_code(ResponseCode::Refused);
        return None;
    };
    answer_in_zone(ctx, zone, q, qname, response);
    Some(zone)
}

/// What haneul's public DNS answers for `q` (for haneul's own lookups, such as ACM checking
/// its validation records): the same path as a query on the public address.
pub fn resolve(snapshot: &Snapshot, health: &HealthBoard, q: &Query) -> Message {
    let mut response = Message::new();
    response
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query);
    response.add_query(q.clone());
    let ctx = Context::new(snapshot, health, None, None);
    answer_query(&ctx, None, q, &mut response);
    response
}

/// The response the DNS server gives for `q`, answered from one zone (TestDNSAnswer): the
/// same code path as [`respond`], minus the transport. REFUSED when the name is not in it.
pub fn answer_from_zone(ctx: &Context<'_>, zone: &ZoneView, q: &Query) -> Message {
    let mut response = Message::new();
    response
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query);
    response.add_query(q.clone());
    let qname = normalized_qname(q);
    if names::in_zone(&qname, &zone.origin) {
        answer_in_zone(ctx, zone, q, qname, &mut response);
    } else {
        response.set_response_code(ResponseCode::Refused);
    }
    response
}

fn answer_in_zone(ctx: &Context<'_>, zone: &ZoneView, q: &Query, qname: String, response: &mut Message) {
    if let Some((cut_name, cut)) = delegation(zone, &qname) {
        response.set_authoritative(false);
        let Ok(cut_name) = Name::from_ascii(cut_name) else {
            return;
        };
        let referral = select(ctx, zone, cut, &cut_name);
        for r in glue(zone, &referral) {
            response.add_additional(r);
        }
        for r in referral {
            response.add_name_server(r);
        }
        return;
    }
    response.set_authoritative(true);
    let mut q = q.clone();
    if q.query_type() == RecordType::ANY {
        // RFC 8482: answer one record set of the name instead of all of them (as Knot and
        // BIND's minimal-any do); a name with none gets the usual NXDOMAIN or NODATA.
        let (node_name, exists) = resolve_node(zone, &qname);
        let first_type = zone
            .node(&node_name)
            .filter(|_| exists)
            .and_then(|node| node.first().map(|e| e.rtype));
        match first_type {
            Some(t) => {
                q.set_query_type(t);
            }
            None if exists => {
                add_soa(zone, response);
                return;
            }
            None => {}
        }
    }
    let q = &q;
    let mut name = qname;
    let mut owner = q.name().clone();
    for _ in 0..MAX_CNAME_HOPS {
        let (node_name, exists) = resolve_node(zone, &name);
        if !exists {
            // RFC 6604: after a CNAME chain the code is the last name's.
            response.set_response_code(ResponseCode::NXDomain);
            add_soa(zone, response);
            return;
        }
        if let Some(entries) = zone.entries(&node_name, q.query_type()) {
            let records = records_for(ctx, zone, entries, q.query_type(), &owner);
            if records.is_empty() && response.answers().is_empty() {
                add_soa(zone, response); // no record for this client's place: NODATA
            }
            for r in records {
                response.add_answer(r);
            }
            return;
        }
        let Some(cname) = zone.entries(&node_name, RecordType::CNAME) else {
            add_soa(zone, response); // NODATA
            return;
        };
        let chosen = records_for(ctx, zone, cname, RecordType::CNAME, &owner);
        let target = chosen.iter().find_map(|r| match r.data() {
            RData::CNAME(c) => Some(c.0.clone()),
            _ => None,
        });
        for r in chosen {
            response.add_answer(r);
        }
        let Some(target) = target else { return };
        let target_text = target.to_lowercase().to_ascii();
        if !names::in_zone(&target_text, &zone.origin) {
            return; // outside this zone: the client's resolver follows it
        }
        name = target_text;
        owner = target;
    }
}

/// The node that answers for `name`: itself if it exists, else the wildcard at its closest
/// encloser. Returns (node name, whether anything answers).
fn resolve_node(zone: &ZoneView, name: &str) -> (String, bool) {
    if zone.exists(name) {
        return (name.to_string(), true);
    }
    let mut encloser = names::parent(name);
    while let Some(e) = encloser {
        if zone.exists(e) || e == zone.origin {
            let wildcard = format!("*.{e}");
            let exists = zone.node(&wildcard).is_some();
            return (wildcard, exists);
        }
        if !names::in_zone(e, &zone.origin) {
            break;
        }
        encloser = names::parent(e);
    }
    (name.to_string(), false)
}

/// Glue for a referral: the zone's A and AAAA records of name servers inside the zone.
fn glue(zone: &ZoneView, referral: &[Record]) -> Vec<Record> {
    let mut out = Vec::new();
    for ns in referral {
        let RData::NS(target) = ns.data() else { continue };
        let target_text = target.0.to_lowercase().to_ascii();
        if !names::in_zone(&target_text, &zone.origin) {
            continue;
        }
        for rtype in [RecordType::A, RecordType::AAAA] {
            if let Some(entries) = zone.entries(&target_text, rtype) {
                out.extend(entries.iter().flat_map(|e| e.records(&target.0)));
            }
        }
    }
    out
}

/// A zone cut between the origin and `name` (NS records below the apex): the highest one.
fn delegation<'z, 'n>(zone: &'z ZoneView, name: &'n str) -> Option<(&'n str, &'z [Entry])> {
    let mut current = Some(name);
    let mut cut = None;
    while let Some(n) = current {
        if n == zone.origin {
            break;
        }
        if let Some(ns) = zone.entries(n, RecordType::NS) {
            cut = Some((n, ns));
        }
        current = names::parent(n);
    }
    cut
}

fn add_soa(zone: &ZoneView, response: &mut Message) {
    if let Some(mut soa) = zone.soa() {
        if let RData::SOA(data) = soa.data() {
            // Negative answers are cached for min(SOA TTL, SOA minimum) (RFC 2308).
            let ttl = soa.ttl().min(data.minimum());
            soa.set_ttl(ttl);
        }
        response.add_name_server(soa);
    }
}

/// Records answering `rtype` from the record sets of one node, after the routing policy,
/// owned by `owner` (the query name, for wildcards and aliases).
fn records_for(ctx: &Context<'_>, zone: &ZoneView, entries: &[Entry], rtype: RecordType, owner: &Name) -> Vec<Record> {
    let mut out = Vec::new();
    for entry in choose(ctx, zone, entries, rtype) {
        if let Some(target) = &entry.alias() {
            let (target_zone, target) = alias_zone(ctx, zone, target);
            if let Some(target_entries) = target_zone.entries(target, rtype) {
                for e in choose(ctx, target_zone, target_entries, rtype) {
                    out.extend(e.records(owner));
                }
            }
        } else {
            out.extend(entry.records(owner));
        }
    }
    out
}

/// Where an alias target lives: the same hosted zone, or a load balancer's DNS name (with or
/// without the `dualstack.` prefix) in the load balancers' zone.
fn alias_zone<'z>(ctx: &Context<'z>, zone: &'z ZoneView, target: &'z str) -> (&'z ZoneView, &'z str) {
    if target.ends_with(crate::dns::snapshot::LB_ZONE) && !zone.origin.ends_with(crate::dns::snapshot::LB_ZONE) {
        if let Some(lb_zone) = ctx.snapshot.zones.get(crate::dns::snapshot::LB_ZONE) {
            return (lb_zone.as_ref(), target.strip_prefix("dualstack.").unwrap_or(target));
        }
    }
    (zone, target)
}

fn select(ctx: &Context<'_>, zone: &ZoneView, entries: &[Entry], owner: &Name) -> Vec<Record> {
    choose(ctx, zone, entries, RecordType::NS)
        .into_iter()
        .flat_map(|e| e.records(owner))
        .collect()
}

/// The record sets the routing policy answers with, as Route 53 decides with health:
/// weighted picks among healthy sets by weight (weight 0 only when every non-zero set is
/// unhealthy); failover answers the primary unless it is unhealthy and the secondary is not;
/// multivalue answers up to eight healthy sets; when every set is unhealthy, all count as
/// healthy. An alias with EvaluateTargetHealth is healthy while any set of its target is.
fn choose<'e>(ctx: &Context<'_>, zone: &ZoneView, entries: &'e [Entry], rtype: RecordType) -> Vec<&'e Entry> {
    let Some(first) = entries.first() else {
        return Vec::new();
    };
    let health = ctx.health;
    let own = |e: &Entry| e.health_check_id().is_none_or(|id| health.is_healthy(id));
    let healthy = |e: &Entry| {
        let target_ok = match (&e.alias(), e.evaluate_target_health()) {
            (Some(target), true) => {
                let (target_zone, target) = alias_zone(ctx, zone, target);
                let lb_ok = !target.ends_with(crate::dns::snapshot::LB_ZONE) || health.load_balancer_healthy(target);
                lb_ok && target_zone.entries(target, rtype).is_some_and(|t| t.iter().any(own))
            }
            _ => true,
        };
        own(e) && target_ok
    };
    let mut candidates: Vec<&Entry> = entries.iter().filter(|e| healthy(e)).collect();
    if candidates.is_empty() {
        candidates = entries.iter().collect();
    }
    let mut rng = rand::thread_rng();
    match first.policy {
        Policy::Weighted => {
            let total: u32 = candidates.iter().map(|e| e.weight()).sum();
            if total == 0 {
                return vec![candidates[rng.gen_range(0..candidates.len())]];
            }
            let mut pick = rng.gen_range(0..total);
            for e in &candidates {
                if pick < e.weight() {
                    return vec![e];
                }
                pick -= e.weight();
            }
            vec![candidates[0]]
        }
        Policy::Failover => {
            let primary = entries.iter().find(|e| e.failover_primary());
            let secondary = entries.iter().find(|e| !e.failover_primary());
            match (primary, secondary) {
                (Some(p), Some(s)) if !healthy(p) && healthy(s) => vec![s],
                (Some(p), _) => vec![p],
                (None, Some(s)) => vec![s],
                (None, None) => vec![first],
            }
        }
        Policy::MultiValue => {
            for i in (1..candidates.len()).rev() {
                candidates.swap(i, rng.gen_range(0..=i));
            }
            candidates.truncate(MAX_MULTIVALUE);
            candidates
        }
        Policy::Simple => vec![first],
        Policy::Latency => {
            // Measured latency first (`--latency-table`), else the distance estimate.
            let measured = ctx.latency_row().and_then(|row| {
                candidates
                    .iter()
                    .filter_map(|e| Some((*row.get(e.region()?)?, *e)))
                    .min_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, e)| e)
            });
            if let Some(e) = measured {
                return vec![e];
            }
            let client = ctx.location().and_then(|l| l.coordinates);
            nearest(&candidates, |e| {
                let region = crate::geo::regions::coordinates(e.region()?)?;
                Some(crate::geo::distance_km(client?, region))
            })
        }
        Policy::Geoproximity => {
            let client = ctx.location().and_then(|l| l.coordinates);
            nearest(&candidates, |e| {
                let (place, bias) = e.proximity()?;
                Some(crate::geo::biased_distance_km(
                    crate::geo::distance_km(client?, place),
                    bias,
                ))
            })
        }
        Policy::Geolocation => geolocation(ctx, entries, &healthy),
        Policy::IpBased => ip_based(ctx, entries, &healthy),
    }
}

/// The candidate with the smallest distance; without a client location (or any distance),
/// the first.
fn nearest<'e>(candidates: &[&'e Entry], distance: impl Fn(&Entry) -> Option<f64>) -> Vec<&'e Entry> {
    let best = candidates
        .iter()
        .filter_map(|e| Some((distance(e)?, *e)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, e)| e);
    best.or_else(|| candidates.first().copied()).into_iter().collect()
}

/// Geolocation: the most specific set that matches the client — subdivision, country,
/// continent, then `*` — skipping unhealthy ones; no match at all is NODATA.
fn geolocation<'e>(ctx: &Context<'_>, entries: &'e [Entry], healthy: &dyn Fn(&Entry) -> bool) -> Vec<&'e Entry> {
    let location = ctx.location().cloned().unwrap_or_default();
    let rank = |e: &Entry| -> Option<u8> {
        let g = e.geo()?;
        match (&g.continent, g.country.as_deref(), &g.subdivision) {
            (_, Some("*"), _) => Some(3),
            (_, Some(country), Some(sub)) => (location.country.as_deref() == Some(country)
                && location.subdivision.as_ref() == Some(sub))
            .then_some(0),
            (_, Some(country), None) => (location.country.as_deref() == Some(country)).then_some(1),
            (Some(continent), None, _) => (location.continent.as_ref() == Some(continent)).then_some(2),
            (None, None, _) => None,
        }
    };
    let mut matching: Vec<(u8, &Entry)> = entries.iter().filter_map(|e| Some((rank(e)?, e))).collect();
    matching.sort_by_key(|(r, _)| *r);
    let pick = matching
        .iter()
        .find(|(_, e)| healthy(e))
        .or_else(|| matching.first())
        .map(|(_, e)| *e);
    pick.into_iter().collect()
}

/// IP-based: the set for the CIDR location holding the client's address (longest prefix),
/// else the `*` set; an unhealthy match falls back to `*`; nothing matching is NODATA.
fn ip_based<'e>(ctx: &Context<'_>, entries: &'e [Entry], healthy: &dyn Fn(&Entry) -> bool) -> Vec<&'e Entry> {
    let Some((collection, _)) = entries.iter().find_map(|e| e.cidr()) else {
        return Vec::new();
    };
    let location = ctx
        .client_ip()
        .and_then(|ip| ctx.snapshot.cidr_location(collection, ip));
    let at = |name: &str| {
        entries
            .iter()
            .find(|e| e.cidr().as_ref().is_some_and(|(_, l)| l == name))
    };
    let matched = location.and_then(at);
    let fallback = at("*");
    let pick = match (matched, fallback) {
        (Some(m), _) if healthy(m) => Some(m),
        (Some(m), Some(f)) if !healthy(f) => Some(m),
        (_, Some(f)) => Some(f),
        (Some(m), None) => Some(m),
        (None, None) => None,
    };
    pick.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::rdata::opt::ClientSubnet;

    use super::*;
    use crate::dns::sample;

    fn query_bytes(name: &str, rtype: RecordType, edns: bool, subnet: Option<&str>) -> Vec<u8> {
        let mut m = Message::new();
        m.set_id(7)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query);
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
        if edns {
            let mut e = Edns::new();
            e.set_max_payload(EDNS_PAYLOAD_BYTES);
            if let Some(s) = subnet {
                let (addr, prefix) = s.split_once('/').unwrap();
                e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
                    addr.parse().unwrap(),
                    prefix.parse().unwrap(),
                    0,
                )));
            }
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    fn answer(reply: Option<Reply>) -> Message {
        match reply {
            Some(Reply::Answer(b)) | Some(Reply::NotOurs(b)) => Message::from_vec(&b).unwrap(),
            None => panic!("no reply"),
        }
    }

    #[test]
    fn the_sample_answers_by_door_and_place() {
        let snapshot = sample::snapshot();
        let health = HealthBoard::default();
        let public = Asker::default();
        let vpc = Asker {
            vpc: Some("vpc-1"),
            ..Asker::default()
        };
        let db = query_bytes("db.example.test.", RecordType::A, true, None);
        let outside = answer(respond(&snapshot, &health, public, &db, Transport::Udp));
        assert_eq!(outside.response_code(), ResponseCode::NXDomain);
        let inside = answer(respond(&snapshot, &health, vpc, &db, Transport::Udp));
        assert_eq!(inside.answers().len(), 1);
        let office = query_bytes("ip.example.test.", RecordType::A, true, Some("198.51.100.0/24"));
        assert_eq!(
            answer(respond(&snapshot, &health, public, &office, Transport::Udp))
                .answers()
                .len(),
            1
        );
        let tld = query_bytes("www.registered.test.", RecordType::A, true, None);
        let referral = answer(respond(&snapshot, &health, public, &tld, Transport::Udp));
        assert!(!referral.authoritative());
        assert_eq!(referral.name_servers()[0].record_type(), RecordType::NS);
    }

    /// xorshift64*: a fast deterministic stream of mutations.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn mutate(rng: &mut Rng, packet: &mut Vec<u8>) {
        for _ in 0..1 + rng.below(4) {
            match rng.below(6) {
                0 if !packet.is_empty() => {
                    let i = rng.below(packet.len());
                    packet[i] ^= 1 << rng.below(8);
                }
                1 => packet.truncate(rng.below(packet.len() + 1)),
                2 => packet.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
                3 if packet.len() >= 12 => {
                    // A huge section count.
                    let at = 4 + 2 * rng.below(4);
                    packet[at] = 0xFF;
                    packet[at + 1] = 0xFF;
                }
                4 if packet.len() > 13 => {
                    // A compression pointer to itself (a loop).
                    let at = 12 + rng.below(packet.len() - 13);
                    packet[at] = 0xC0 | ((at >> 8) as u8 & 0x3F);
                    packet[at + 1] = at as u8;
                }
                _ if !packet.is_empty() => {
                    let i = rng.below(packet.len());
                    packet[i] = rng.next() as u8;
                }
                _ => {}
            }
        }
    }

    #[test]
    fn hostile_packets_get_formerr_or_nothing_and_never_overflow() {
        let snapshot = sample::snapshot();
        let health = HealthBoard::default();
        let names = [
            "example.test.",
            "www.example.test.",
            "x.wild.example.test.",
            "a.sub.example.test.",
            "weighted.example.test.",
            "geo.example.test.",
            "ip.example.test.",
            "alias.example.test.",
            "db.example.test.",
            "nothere.registered.test.",
        ];
        let types = [
            RecordType::A,
            RecordType::TXT,
            RecordType::ANY,
            RecordType::NS,
            RecordType::MX,
        ];
        let mut bases = Vec::new();
        for name in names {
            for t in types {
                bases.push(query_bytes(name, t, false, None));
                bases.push(query_bytes(name, t, true, Some("198.51.100.7/32")));
            }
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let doors = [
            Asker::default(),
            Asker {
                vpc: Some("vpc-1"),
                ..Asker::default()
            },
        ];
        for round in 0..60_000 {
            let mut packet = if round % 10 == 0 {
                (0..rng.below(600)).map(|_| rng.next() as u8).collect()
            } else {
                bases[rng.below(bases.len())].clone()
            };
            mutate(&mut rng, &mut packet);
            let transport = if round % 2 == 0 { Transport::Udp } else { Transport::Tcp };
            let reply = respond(&snapshot, &health, doors[round % 2], &packet, transport);
            let bytes = match reply {
                None => continue,
                Some(Reply::Answer(b)) | Some(Reply::NotOurs(b)) => b,
            };
            let limit = match transport {
                Transport::Udp => usize::from(EDNS_PAYLOAD_BYTES),
                Transport::Tcp => usize::from(u16::MAX),
            };
            assert!(bytes.len() <= limit, "reply of {} bytes to {packet:?}", bytes.len());
            assert!(bytes.len() >= 12, "reply without a header to {packet:?}");
            assert_eq!(bytes[..2], packet[..2], "reply id must echo the query's");
        }
    }
}

//! TestDNSAnswer: what haneul's DNS server answers for a name in a zone — from the same
//! snapshot and the same answer function the server uses.

use std::str::FromStr;

use haneul_store::Store;
use haneul_wire::RequestContext;
use hickory_proto::op::{Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use serde_json::{json, Value};

use crate::api::hosted_zones::load_zone;
use crate::dns::answer::{answer_from_zone, Context};
use crate::dns::DataPlane;
use crate::error::Route53Error;
use crate::generated as api_types;
use crate::{names, parse, scope};

pub async fn test_dns_answer(
    store: &Store,
    plane: &DataPlane,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::TestDNSAnswerRequest = parse(input)?;
    let s = scope(ctx);
    let zone_id = input.hosted_zone_id.clone();
    let zone = store.read(move |t| load_zone(t, &s, &zone_id)).await?;
    let record_name = names::normalize(&input.record_name).map_err(|e| Route53Error::InvalidInput(e.to_string()))?;
    let rtype = RecordType::from_str(&input.record_type)
        .map_err(|_| Route53Error::InvalidInput(format!("Invalid record type {}", input.record_type)))?;
    let qname = Name::from_ascii(&record_name).map_err(|e| Route53Error::InvalidInput(e.to_string()))?;
    let client_ip = match (&input.edns0_client_subnet_ip, &input.resolver_ip) {
        (Some(ip), _) | (None, Some(ip)) => Some(
            ip.parse::<std::net::IpAddr>()
                .map_err(|_| Route53Error::InvalidInput(format!("Invalid IP address: {ip}")))?,
        ),
        (None, None) => None,
    };
    let snapshot = plane.snapshot.load();
    let Some(view) = snapshot.zone_by_id(&zone.id) else {
        return Err(Route53Error::InvalidInput(format!(
            "Hosted zone {} is not served by haneul's DNS yet (shadowed by another zone of the same name, or just created)",
            zone.id
        )));
    };
    let ctx = Context::new(&snapshot, &plane.health, Some(&plane.geo), client_ip);
    let response = answer_from_zone(&ctx, view, &Query::query(qname, rtype));
    let record_data: Vec<String> = response
        .answers()
        .iter()
        .filter(|r| r.record_type() == rtype)
        .map(|r| r.data().to_string())
        .collect();
    Ok(json!({
        "Nameserver": zone.name_servers.first().cloned().unwrap_or_default(),
        "RecordName": names::for_output(&record_name),
        "RecordType": input.record_type,
        "RecordData": record_data,
        "ResponseCode": rcode_name(response.response_code()),
        "Protocol": "UDP",
    }))
}

/// Route 53's spelling of a response code (`NOERROR`, `NXDOMAIN`, …).
fn rcode_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        other => other.to_str().to_uppercase().replace(' ', ""),
    }
}

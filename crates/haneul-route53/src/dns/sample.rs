//! A small store's worth of zones using every feature the answer path has (CNAME chains,
//! wildcards, delegation with glue, routing policies, aliases, a private zone, a registered
//! domain's TLD) — what the packet fuzzer (`fuzz/`) and the hostile-packet tests answer from.

use std::collections::BTreeMap;

use crate::dns::snapshot::{assemble, Contents, Snapshot};
use crate::generated::{AliasTarget, CidrRoutingConfig, GeoLocation, ResourceRecord};
use crate::model::{
    rrset_key_of, CidrCollection, DomainNameserver, RegisteredDomain, ResourceRecordSet, Zone, ZoneVpc,
};

fn set(name: &str, rtype: &str, values: &[&str]) -> ResourceRecordSet {
    ResourceRecordSet {
        name: name.into(),
        r#type: rtype.into(),
        ttl: Some(300),
        resource_records: values.iter().map(|v| ResourceRecord { value: (*v).into() }).collect(),
        ..ResourceRecordSet::default()
    }
}

fn zone(id: &str, name: &str, vpcs: Vec<ZoneVpc>) -> Zone {
    Zone {
        id: id.into(),
        name: name.into(),
        caller_reference: id.into(),
        comment: None,
        private_zone: !vpcs.is_empty(),
        name_servers: crate::api::hosted_zones::name_servers(),
        vpcs,
    }
}

/// The sample snapshot.
pub fn snapshot() -> Snapshot {
    let public = zone("ZPUBLIC", "example.test.", Vec::new());
    let private = zone(
        "ZPRIVATE",
        "example.test.",
        vec![ZoneVpc {
            vpc_id: "vpc-1".into(),
            vpc_region: "us-east-1".into(),
        }],
    );
    let mut sets = vec![
        set(
            "example.test.",
            "SOA",
            &["ns-1.haneul-dns.com. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"],
        ),
        set("example.test.", "NS", &["ns-1.haneul-dns.com.", "ns-2.haneul-dns.net."]),
        set("example.test.", "A", &["192.0.2.1"]),
        set("example.test.", "MX", &["10 mail.example.test."]),
        set("www.example.test.", "CNAME", &["api.example.test."]),
        set("api.example.test.", "CNAME", &["www.example.test."]),
        set("*.wild.example.test.", "A", &["192.0.2.50"]),
        set("sub.example.test.", "NS", &["ns1.sub.example.test."]),
        set("ns1.sub.example.test.", "A", &["192.0.2.53"]),
        set("txt.example.test.", "TXT", &["\"a\" \"b\""]),
    ];
    for (id, weight) in [("w1", 70), ("w2", 30)] {
        let mut s = set("weighted.example.test.", "A", &["192.0.2.10"]);
        s.set_identifier = Some(id.into());
        s.weight = Some(weight);
        sets.push(s);
    }
    for (id, country) in [("de", "DE"), ("default", "*")] {
        let mut s = set("geo.example.test.", "A", &["192.0.2.20"]);
        s.set_identifier = Some(id.into());
        s.geo_location = Some(GeoLocation {
            country_code: Some(country.into()),
            ..GeoLocation::default()
        });
        sets.push(s);
    }
    for location in ["office", "*"] {
        let mut s = set("ip.example.test.", "A", &["192.0.2.30"]);
        s.set_identifier = Some(location.into());
        s.cidr_routing_config = Some(CidrRoutingConfig {
            collection_id: "c1".into(),
            location_name: location.into(),
        });
        sets.push(s);
    }
    let mut alias = set("alias.example.test.", "A", &[]);
    alias.ttl = None;
    alias.alias_target = Some(AliasTarget {
        hosted_zone_id: "ZPUBLIC".into(),
        dns_name: "example.test.".into(),
        evaluate_target_health: true,
    });
    sets.push(alias);
    let mut rrsets: Vec<(String, ResourceRecordSet)> =
        sets.into_iter().map(|r| (rrset_key_of("ZPUBLIC", &r), r)).collect();
    let internal = set("db.example.test.", "A", &["10.0.0.5"]);
    rrsets.push((rrset_key_of("ZPRIVATE", &internal), internal));
    let collection = CidrCollection {
        id: "c1".into(),
        name: "offices".into(),
        caller_reference: "c1".into(),
        version: 2,
        locations: BTreeMap::from([("office".to_string(), vec!["198.51.100.0/24".to_string()])]),
    };
    let domain = RegisteredDomain {
        name: "registered.test".into(),
        tld: "test".into(),
        nameservers: vec![DomainNameserver {
            name: "ns1.elsewhere.net".into(),
            glue_ips: Vec::new(),
        }],
        hosted_zone_id: None,
        auto_renew: true,
        contacts: serde_json::Value::Null,
        privacy: serde_json::Value::Null,
        created_at: 0.0,
        updated_at: 0.0,
        expires_at: 0.0,
    };
    assemble(
        1,
        Contents {
            zones: vec![public, private],
            rrsets,
            vpcs: vec!["vpc-1".into()],
            collections: vec![("c1".into(), collection)],
            domains: vec![domain],
            lb_addresses: Vec::new(),
            query_logs: Vec::new(),
        },
    )
}

//! Private hosted zones: the VPC association API, and each VPC's resolver answering its
//! private zones first, then public zones, then the upstream resolver if one is configured.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use aws_sdk_route53::error::ProvideErrorMetadata;
use aws_sdk_route53::types::{ChangeAction, HostedZoneConfig, RrType, Vpc, VpcRegion};
use haneul_testkit::{Haneul, Options};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::route53::{apply, change, create_zone, rrset, wait_insync};
use crate::support::{answer_values, dns_tcp, dns_udp};

fn vpc(id: &str) -> Vpc {
    Vpc::builder().vpc_id(id).vpc_region(VpcRegion::UsEast1).build()
}

fn create_vpc(h: &Haneul, cidr: &str) -> String {
    let out = h.aws_ok(&["ec2", "create-vpc", "--cidr-block", cidr]);
    out["Vpc"]["VpcId"].as_str().unwrap().to_string()
}

async fn create_private_zone(h: &Haneul, name: &str, vpc_id: &str) -> String {
    let out = h
        .route53()
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("private-{name}-{vpc_id}"))
        .vpc(vpc(vpc_id))
        .hosted_zone_config(HostedZoneConfig::builder().private_zone(true).build())
        .send()
        .await
        .unwrap();
    wait_insync(h, out.change_info().unwrap().id()).await;
    out.hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string()
}

/// The resolver address `/_haneul/health` shows for `vpc_id` (resolvers start as VPCs appear).
async fn resolver(h: &Haneul, vpc_id: &str) -> SocketAddr {
    for _ in 0..100 {
        let health = h.raw("GET", "/_haneul/health", &[], "").await;
        let body: serde_json::Value = serde_json::from_str(&health.body).unwrap();
        let resolvers: HashMap<String, String> =
            serde_json::from_value(body["addresses"]["vpc_resolvers"].clone()).unwrap_or_default();
        if let Some(addr) = resolvers.get(vpc_id) {
            return addr.parse().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no resolver for {vpc_id} in /_haneul/health");
}

#[tokio::test]
async fn private_zones_answer_only_inside_their_vpcs() {
    let h = Haneul::start();
    let r53 = h.route53();
    let vpc_a = create_vpc(&h, "10.1.0.0/16");
    let vpc_b = create_vpc(&h, "10.2.0.0/16");

    // Split horizon: example.test is public, and private for VPC A; corp.internal is private.
    let public = create_zone(&h, "example.test").await;
    let split = create_private_zone(&h, "example.test", &vpc_a).await;
    let internal = create_private_zone(&h, "corp.internal", &vpc_a).await;
    for (zone, name, ip) in [
        (&public, "www.example.test", "192.0.2.1"),
        (&split, "db.example.test", "10.1.0.5"),
        (&internal, "api.corp.internal", "10.1.0.9"),
    ] {
        let id = apply(
            &h,
            zone,
            vec![change(ChangeAction::Create, rrset(name, RrType::A, 60, &[ip]))],
        )
        .await
        .unwrap();
        wait_insync(&h, &id).await;
    }
    let other_public = create_zone(&h, "other.test").await;
    let id = apply(
        &h,
        &other_public,
        vec![change(
            ChangeAction::Create,
            rrset("www.other.test", RrType::A, 60, &["192.0.2.7"]),
        )],
    )
    .await
    .unwrap();
    wait_insync(&h, &id).await;

    let in_a = resolver(&h, &vpc_a).await;
    let in_b = resolver(&h, &vpc_b).await;
    assert_ne!(in_a, in_b);
    assert_ne!(in_a, h.dns_addr);

    // The public address never shows private data.
    let outside = dns_udp(h.dns_addr, "api.corp.internal.", RecordType::A, None).await;
    assert_eq!(outside.response_code(), ResponseCode::Refused);
    let outside = dns_udp(h.dns_addr, "db.example.test.", RecordType::A, None).await;
    assert_eq!(outside.response_code(), ResponseCode::NXDomain);

    // VPC A: private first; a private zone without the name is NXDOMAIN (no fall-through);
    // names in no private zone come from the public ones.
    let reply = dns_udp(in_a, "api.corp.internal.", RecordType::A, None).await;
    assert_eq!(answer_values(&reply), ["10.1.0.9"]);
    assert!(reply.recursion_available());
    assert_eq!(
        answer_values(&dns_tcp(in_a, "db.example.test.", RecordType::A).await),
        ["10.1.0.5"]
    );
    let shadowed = dns_udp(in_a, "www.example.test.", RecordType::A, None).await;
    assert_eq!(shadowed.response_code(), ResponseCode::NXDomain);
    assert_eq!(
        answer_values(&dns_udp(in_a, "www.other.test.", RecordType::A, None).await),
        ["192.0.2.7"]
    );

    // VPC B sees only public zones until it is associated.
    assert_eq!(
        dns_udp(in_b, "api.corp.internal.", RecordType::A, None)
            .await
            .response_code(),
        ResponseCode::Refused
    );
    assert_eq!(
        answer_values(&dns_udp(in_b, "www.example.test.", RecordType::A, None).await),
        ["192.0.2.1"]
    );
    let assoc = r53
        .associate_vpc_with_hosted_zone()
        .hosted_zone_id(&internal)
        .vpc(vpc(&vpc_b))
        .send()
        .await
        .unwrap();
    wait_insync(&h, assoc.change_info().unwrap().id()).await;
    assert_eq!(
        answer_values(&dns_udp(in_b, "api.corp.internal.", RecordType::A, None).await),
        ["10.1.0.9"]
    );

    // The API's view of it.
    let got = r53.get_hosted_zone().id(&internal).send().await.unwrap();
    assert!(got.hosted_zone().unwrap().config().unwrap().private_zone());
    let ids: Vec<&str> = got.vpcs().iter().filter_map(|v| v.vpc_id()).collect();
    assert_eq!(ids, [vpc_a.as_str(), vpc_b.as_str()]);
    let by_vpc = r53
        .list_hosted_zones_by_vpc()
        .vpc_id(&vpc_a)
        .vpc_region(VpcRegion::UsEast1)
        .send()
        .await
        .unwrap();
    let mut names: Vec<&str> = by_vpc.hosted_zone_summaries().iter().map(|s| s.name()).collect();
    names.sort();
    assert_eq!(names, ["corp.internal.", "example.test."]);

    // Disassociating takes effect; the last VPC cannot go.
    let gone = r53
        .disassociate_vpc_from_hosted_zone()
        .hosted_zone_id(&internal)
        .vpc(vpc(&vpc_a))
        .send()
        .await
        .unwrap();
    wait_insync(&h, gone.change_info().unwrap().id()).await;
    assert_eq!(
        dns_udp(in_a, "api.corp.internal.", RecordType::A, None)
            .await
            .response_code(),
        ResponseCode::Refused
    );
    let last = r53
        .disassociate_vpc_from_hosted_zone()
        .hosted_zone_id(&internal)
        .vpc(vpc(&vpc_b))
        .send()
        .await
        .unwrap_err();
    assert_eq!(last.code(), Some("LastVPCAssociation"));
    let not_there = r53
        .disassociate_vpc_from_hosted_zone()
        .hosted_zone_id(&internal)
        .vpc(vpc(&vpc_a))
        .send()
        .await
        .unwrap_err();
    assert_eq!(not_there.code(), Some("VPCAssociationNotFound"));

    // Errors as Route 53 gives them.
    let public_assoc = r53
        .associate_vpc_with_hosted_zone()
        .hosted_zone_id(&public)
        .vpc(vpc(&vpc_a))
        .send()
        .await
        .unwrap_err();
    assert_eq!(public_assoc.code(), Some("PublicZoneVPCAssociation"));
    let conflict = r53
        .create_hosted_zone()
        .name("example.test")
        .caller_reference("second-private")
        .vpc(vpc(&vpc_a))
        .send()
        .await
        .unwrap_err();
    assert_eq!(conflict.code(), Some("ConflictingDomainExists"));
    let unknown = r53
        .create_hosted_zone()
        .name("nowhere.internal")
        .caller_reference("unknown-vpc")
        .vpc(vpc("vpc-0123456789abcdef0"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Some("InvalidVPCId"));
    let count = r53.get_hosted_zone_count().send().await.unwrap();
    assert_eq!(count.hosted_zone_count(), 4, "failed creates leave nothing behind");
}

#[tokio::test]
async fn vpc_resolvers_forward_other_names_upstream_when_configured() {
    // The upstream is another haneul with a public zone.
    let upstream = Haneul::start();
    let zone = create_zone(&upstream, "upstream.test").await;
    let id = apply(
        &upstream,
        &zone,
        vec![change(
            ChangeAction::Create,
            rrset("www.upstream.test", RrType::A, 60, &["192.0.2.55"]),
        )],
    )
    .await
    .unwrap();
    wait_insync(&upstream, &id).await;

    let h = Haneul::start_with(Options {
        dns_upstream: Some(upstream.dns_addr),
        ..Options::default()
    });
    let vpc_id = create_vpc(&h, "10.9.0.0/16");
    let in_vpc = resolver(&h, &vpc_id).await;
    assert_eq!(
        answer_values(&dns_udp(in_vpc, "www.upstream.test.", RecordType::A, None).await),
        ["192.0.2.55"]
    );
    assert_eq!(
        answer_values(&dns_tcp(in_vpc, "www.upstream.test.", RecordType::A).await),
        ["192.0.2.55"]
    );
    // The public address stays authoritative-only.
    assert_eq!(
        dns_udp(h.dns_addr, "www.upstream.test.", RecordType::A, None)
            .await
            .response_code(),
        ResponseCode::Refused
    );
}

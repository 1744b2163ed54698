//! Route 53's location-based routing through real DNS packets: latency, geolocation,
//! geoproximity (with bias) from a GeoIP database the test builds, and IP-based routing with
//! the CIDR collections API. Clients are placed by the EDNS client subnet they send, or by
//! their source address.

use aws_sdk_route53::error::ProvideErrorMetadata;
use aws_sdk_route53::types::{
    ChangeAction, CidrCollectionChange, CidrCollectionChangeAction, CidrRoutingConfig, Coordinates, GeoLocation,
    GeoProximityLocation, ResourceRecordSetRegion, RrType,
};
use haneul_testkit::mmdb::{self, Place};
use haneul_testkit::{Haneul, Options};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::RecordType;

use crate::route53::{apply, change, create_zone, rrset, wait_insync};
use crate::support::{answer_values, dns_udp, dns_udp_subnet};

const FRANKFURT: &str = "198.51.100.0/24";
const SAN_FRANCISCO: &str = "203.0.113.0/24";
const NEW_YORK: &str = "100.64.1.0/24";
const TOKYO: &str = "192.0.2.0/24";

/// A haneul whose GeoIP database places the test subnets (and loopback, in Seoul).
fn haneul_with_places() -> (Haneul, tempfile::TempDir) {
    let places = [
        (
            FRANKFURT,
            Place {
                continent: Some("EU"),
                country: Some("DE"),
                subdivision: Some("HE"),
                coordinates: Some((50.11, 8.68)),
            },
        ),
        (
            SAN_FRANCISCO,
            Place {
                continent: Some("NA"),
                country: Some("US"),
                subdivision: Some("CA"),
                coordinates: Some((37.77, -122.42)),
            },
        ),
        (
            NEW_YORK,
            Place {
                continent: Some("NA"),
                country: Some("US"),
                subdivision: Some("NY"),
                coordinates: Some((40.71, -74.0)),
            },
        ),
        (
            TOKYO,
            Place {
                continent: Some("AS"),
                country: Some("JP"),
                subdivision: None,
                coordinates: Some((35.68, 139.69)),
            },
        ),
        (
            "127.0.0.0/8",
            Place {
                continent: Some("AS"),
                country: Some("KR"),
                subdivision: None,
                coordinates: Some((37.57, 126.98)),
            },
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("places.mmdb");
    std::fs::write(&path, mmdb::build(&places)).unwrap();
    let h = Haneul::start_with(Options {
        geoip_db: Some(path),
        ..Options::default()
    });
    (h, dir)
}

fn host(subnet: &str) -> String {
    subnet.replace(".0/24", ".7/32")
}

async fn a_from(h: &Haneul, name: &str, subnet: &str) -> Vec<String> {
    answer_values(&dns_udp_subnet(h.dns_addr, name, RecordType::A, &host(subnet)).await)
}

/// `api.example.test` with latency records in us-west-1 (192.0.2.10), eu-central-1
/// (192.0.2.20) and ap-northeast-1 (192.0.2.30), served. Returns the zone id.
async fn latency_zone(h: &Haneul) -> String {
    let zone = create_zone(h, "example.test").await;
    let at = |region: ResourceRecordSetRegion, ip: &str| {
        rrset("api.example.test", RrType::A, 60, &[ip])
            .set_identifier(region.as_str())
            .region(region)
    };
    let id = apply(
        h,
        &zone,
        vec![
            change(ChangeAction::Create, at(ResourceRecordSetRegion::UsWest1, "192.0.2.10")),
            change(
                ChangeAction::Create,
                at(ResourceRecordSetRegion::EuCentral1, "192.0.2.20"),
            ),
            change(
                ChangeAction::Create,
                at(ResourceRecordSetRegion::ApNortheast1, "192.0.2.30"),
            ),
        ],
    )
    .await
    .unwrap();
    wait_insync(h, &id).await;
    zone
}

#[tokio::test]
async fn latency_routing_answers_the_nearest_region() {
    let (h, _geo) = haneul_with_places();
    let zone = latency_zone(&h).await;
    assert_eq!(a_from(&h, "api.example.test.", FRANKFURT).await, ["192.0.2.20"]);
    assert_eq!(a_from(&h, "api.example.test.", SAN_FRANCISCO).await, ["192.0.2.10"]);
    assert_eq!(a_from(&h, "api.example.test.", TOKYO).await, ["192.0.2.30"]);
    // No client subnet: the source address (loopback, placed in Seoul) decides.
    let plain = dns_udp(h.dns_addr, "api.example.test.", RecordType::A, Some(1232)).await;
    assert_eq!(answer_values(&plain), ["192.0.2.30"]);
    // The response echoes the client subnet with the scope the answer used.
    let reply = dns_udp_subnet(h.dns_addr, "api.example.test.", RecordType::A, "198.51.100.0/24").await;
    let Some(EdnsOption::Subnet(subnet)) = reply.extensions().as_ref().and_then(|e| e.option(EdnsCode::Subnet)) else {
        panic!("no client-subnet option in {reply:?}");
    };
    assert_eq!((subnet.source_prefix(), subnet.scope_prefix()), (24, 24));
    // TestDNSAnswer places the client the same way.
    let tested = h
        .route53()
        .test_dns_answer()
        .hosted_zone_id(&zone)
        .record_name("api.example.test")
        .record_type(RrType::A)
        .edns0_client_subnet_ip("203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(tested.record_data(), ["192.0.2.10"]);
}

#[tokio::test]
async fn geolocation_routing_goes_from_subdivision_to_default() {
    let (h, _geo) = haneul_with_places();
    let zone = create_zone(&h, "example.test").await;
    let geo = |id: &str, location: GeoLocation, ip: &str| {
        rrset("www.example.test", RrType::A, 60, &[ip])
            .set_identifier(id)
            .geo_location(location)
    };
    let default = geo(
        "default",
        GeoLocation::builder().country_code("*").build(),
        "192.0.2.99",
    );
    let id = apply(
        &h,
        &zone,
        vec![
            change(
                ChangeAction::Create,
                geo("de", GeoLocation::builder().country_code("DE").build(), "192.0.2.1"),
            ),
            change(
                ChangeAction::Create,
                geo("na", GeoLocation::builder().continent_code("NA").build(), "192.0.2.2"),
            ),
            change(
                ChangeAction::Create,
                geo(
                    "us-ca",
                    GeoLocation::builder().country_code("US").subdivision_code("CA").build(),
                    "192.0.2.3",
                ),
            ),
            change(ChangeAction::Create, default.clone()),
        ],
    )
    .await
    .unwrap();
    wait_insync(&h, &id).await;
    assert_eq!(
        a_from(&h, "www.example.test.", FRANKFURT).await,
        ["192.0.2.1"],
        "country"
    );
    assert_eq!(
        a_from(&h, "www.example.test.", SAN_FRANCISCO).await,
        ["192.0.2.3"],
        "subdivision"
    );
    assert_eq!(
        a_from(&h, "www.example.test.", NEW_YORK).await,
        ["192.0.2.2"],
        "continent"
    );
    assert_eq!(a_from(&h, "www.example.test.", TOKYO).await, ["192.0.2.99"], "default");

    // Without a default, a client no rule matches gets NODATA with the SOA.
    let id = apply(&h, &zone, vec![change(ChangeAction::Delete, default)])
        .await
        .unwrap();
    wait_insync(&h, &id).await;
    let reply = dns_udp_subnet(h.dns_addr, "www.example.test.", RecordType::A, &host(TOKYO)).await;
    assert_eq!(reply.response_code(), ResponseCode::NoError);
    assert!(reply.answers().is_empty());
    assert_eq!(reply.name_servers()[0].record_type(), RecordType::SOA);

    // Two sets for one place, or a malformed place, are refused.
    let err = apply(
        &h,
        &zone,
        vec![change(
            ChangeAction::Create,
            geo(
                "de-again",
                GeoLocation::builder().country_code("DE").build(),
                "192.0.2.5",
            ),
        )],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some("InvalidChangeBatch"));
    let err = apply(
        &h,
        &zone,
        vec![change(
            ChangeAction::Create,
            geo("bad", GeoLocation::builder().continent_code("XX").build(), "192.0.2.5"),
        )],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some("InvalidChangeBatch"));
    assert!(err.message().unwrap().contains("XX"), "{err:?}");
}

#[tokio::test]
async fn geoproximity_routing_measures_distance_with_bias() {
    let (h, _geo) = haneul_with_places();
    let zone = create_zone(&h, "example.test").await;
    let near = |id: &str, location: GeoProximityLocation, ip: &str| {
        rrset("app.example.test", RrType::A, 60, &[ip])
            .set_identifier(id)
            .geo_proximity_location(location)
    };
    let virginia = near(
        "virginia",
        GeoProximityLocation::builder().aws_region("us-east-1").build(),
        "192.0.2.1",
    );
    let dublin = |bias: i32| {
        near(
            "dublin",
            GeoProximityLocation::builder()
                .coordinates(
                    Coordinates::builder()
                        .latitude("53.35")
                        .longitude("-6.26")
                        .build()
                        .unwrap(),
                )
                .bias(bias)
                .build(),
            "192.0.2.2",
        )
    };
    let id = apply(
        &h,
        &zone,
        vec![
            change(ChangeAction::Create, virginia),
            change(ChangeAction::Create, dublin(0)),
        ],
    )
    .await
    .unwrap();
    wait_insync(&h, &id).await;
    assert_eq!(a_from(&h, "app.example.test.", NEW_YORK).await, ["192.0.2.1"]);
    assert_eq!(a_from(&h, "app.example.test.", FRANKFURT).await, ["192.0.2.2"]);
    // Bias 99 shrinks Dublin's distances a hundredfold: it now wins New York too.
    let id = apply(&h, &zone, vec![change(ChangeAction::Upsert, dublin(99))])
        .await
        .unwrap();
    wait_insync(&h, &id).await;
    assert_eq!(a_from(&h, "app.example.test.", NEW_YORK).await, ["192.0.2.2"]);
    // Bias −99 grows them a hundredfold: Virginia wins Frankfurt.
    let id = apply(&h, &zone, vec![change(ChangeAction::Upsert, dublin(-99))])
        .await
        .unwrap();
    wait_insync(&h, &id).await;
    assert_eq!(a_from(&h, "app.example.test.", FRANKFURT).await, ["192.0.2.1"]);
}

#[tokio::test]
async fn ip_based_routing_follows_cidr_collections() {
    let h = Haneul::start();
    let r53 = h.route53();
    let created = r53
        .create_cidr_collection()
        .name("offices")
        .caller_reference("c1")
        .send()
        .await
        .unwrap();
    let collection = created.collection().unwrap();
    let collection_id = collection.id().unwrap().to_string();
    assert_eq!(collection.version(), Some(1));
    let put = |location: &str, blocks: &[&str]| {
        CidrCollectionChange::builder()
            .location_name(location)
            .action(CidrCollectionChangeAction::Put)
            .set_cidr_list(Some(blocks.iter().map(|b| b.to_string()).collect()))
            .build()
            .unwrap()
    };
    r53.change_cidr_collection()
        .id(&collection_id)
        .collection_version(1)
        .changes(put("seoul", &["198.51.100.0/24", "2001:db8::/48"]))
        .changes(put("lab", &["203.0.113.0/24"]))
        .send()
        .await
        .unwrap();
    let stale = r53
        .change_cidr_collection()
        .id(&collection_id)
        .collection_version(1)
        .changes(put("lab", &["192.0.2.0/24"]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Some("CidrCollectionVersionMismatchException"));
    let bad = r53
        .change_cidr_collection()
        .id(&collection_id)
        .changes(put("lab", &["10.0.0.0/25"]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Some("InvalidInput"));
    let blocks = r53
        .list_cidr_blocks()
        .collection_id(&collection_id)
        .send()
        .await
        .unwrap();
    assert_eq!(blocks.cidr_blocks().len(), 3);
    let locations = r53
        .list_cidr_locations()
        .collection_id(&collection_id)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = locations
        .cidr_locations()
        .iter()
        .filter_map(|l| l.location_name())
        .collect();
    assert_eq!(names, ["lab", "seoul"]);

    let zone = create_zone(&h, "example.test").await;
    let by_ip = |location: &str, ip: &str| {
        rrset("svc.example.test", RrType::A, 60, &[ip])
            .set_identifier(location)
            .cidr_routing_config(
                CidrRoutingConfig::builder()
                    .collection_id(&collection_id)
                    .location_name(location)
                    .build()
                    .unwrap(),
            )
    };
    let missing = apply(
        &h,
        &zone,
        vec![change(ChangeAction::Create, by_ip("mars", "192.0.2.9"))],
    )
    .await
    .unwrap_err();
    assert_eq!(missing.code(), Some("NoSuchCidrLocationException"));
    let id = apply(
        &h,
        &zone,
        vec![
            change(ChangeAction::Create, by_ip("seoul", "192.0.2.1")),
            change(ChangeAction::Create, by_ip("lab", "192.0.2.2")),
            change(ChangeAction::Create, by_ip("*", "192.0.2.3")),
        ],
    )
    .await
    .unwrap();
    wait_insync(&h, &id).await;
    assert_eq!(a_from(&h, "svc.example.test.", "198.51.100.0/24").await, ["192.0.2.1"]);
    assert_eq!(a_from(&h, "svc.example.test.", "203.0.113.0/24").await, ["192.0.2.2"]);
    assert_eq!(a_from(&h, "svc.example.test.", "192.0.2.0/24").await, ["192.0.2.3"]);
    let v6 = dns_udp_subnet(h.dns_addr, "svc.example.test.", RecordType::A, "2001:db8:0:1::/64").await;
    assert_eq!(answer_values(&v6), ["192.0.2.1"]);

    let in_use = r53
        .delete_cidr_collection()
        .id(&collection_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(in_use.code(), Some("CidrCollectionInUseException"));
    let listed = r53.list_cidr_collections().send().await.unwrap();
    assert_eq!(listed.cidr_collections()[0].version(), Some(2));
}

#[tokio::test]
async fn a_latency_table_overrides_the_distance_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("latency.json");
    // Measured from Frankfurt's network: Tokyo is closest (whatever the map says); regions
    // the row does not list, and clients it does not hold, fall back to distance.
    std::fs::write(
        &table,
        format!(r#"{{"{FRANKFURT}": {{"ap-northeast-1": 5, "eu-central-1": 80}}}}"#),
    )
    .unwrap();
    let places = tempfile::tempdir().unwrap();
    let mmdb_path = places.path().join("places.mmdb");
    std::fs::write(
        &mmdb_path,
        mmdb::build(&[(
            SAN_FRANCISCO,
            Place {
                continent: Some("NA"),
                country: Some("US"),
                subdivision: Some("CA"),
                coordinates: Some((37.77, -122.42)),
            },
        )]),
    )
    .unwrap();
    let h = Haneul::start_with(Options {
        geoip_db: Some(mmdb_path),
        latency_table: Some(table),
        ..Options::default()
    });
    latency_zone(&h).await;
    assert_eq!(
        a_from(&h, "api.example.test.", FRANKFURT).await,
        ["192.0.2.30"],
        "measured"
    );
    assert_eq!(
        a_from(&h, "api.example.test.", SAN_FRANCISCO).await,
        ["192.0.2.10"],
        "distance"
    );
}

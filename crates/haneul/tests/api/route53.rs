//! Route 53 through aws-sdk-route53, and its DNS data plane through real DNS packets.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_route53::error::ProvideErrorMetadata;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, HealthCheckConfig, HealthCheckType, ResourceRecord,
    ResourceRecordSet, RrType,
};
use haneul_testkit::Haneul;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::support::{answer_values, dns_tcp, dns_udp};

pub(crate) fn rrset(
    name: &str,
    rtype: RrType,
    ttl: i64,
    values: &[&str],
) -> aws_sdk_route53::types::builders::ResourceRecordSetBuilder {
    let mut b = ResourceRecordSet::builder().name(name).r#type(rtype).ttl(ttl);
    for v in values {
        b = b.resource_records(ResourceRecord::builder().value(*v).build().unwrap());
    }
    b
}

pub(crate) fn change(action: ChangeAction, set: aws_sdk_route53::types::builders::ResourceRecordSetBuilder) -> Change {
    Change::builder()
        .action(action)
        .resource_record_set(set.build().unwrap())
        .build()
        .unwrap()
}

pub(crate) async fn create_zone(h: &Haneul, name: &str) -> String {
    let out = h
        .route53()
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("ref-{name}"))
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

pub(crate) async fn apply(
    h: &Haneul,
    zone: &str,
    changes: Vec<Change>,
) -> Result<
    String,
    aws_sdk_route53::error::SdkError<
        aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsError,
    >,
> {
    let batch = ChangeBatch::builder().set_changes(Some(changes)).build().unwrap();
    let out = h
        .route53()
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch)
        .send()
        .await?;
    Ok(out.change_info().unwrap().id().to_string())
}

pub(crate) async fn wait_insync(h: &Haneul, change_id: &str) {
    for _ in 0..100 {
        let out = h.route53().get_change().id(change_id).send().await.unwrap();
        if out.change_info().unwrap().status() == &ChangeStatus::Insync {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("change {change_id} never became INSYNC");
}

#[tokio::test]
async fn hosted_zone_lifecycle() {
    let h = Haneul::start();
    let r53 = h.route53();
    let created = r53
        .create_hosted_zone()
        .name("Example.Test")
        .caller_reference("c1")
        .send()
        .await
        .unwrap();
    let zone = created.hosted_zone().unwrap();
    assert_eq!(zone.name(), "example.test.");
    assert!(zone.id().starts_with("/hostedzone/Z"));
    assert_eq!(created.delegation_set().unwrap().name_servers().len(), 4);
    assert!(created.location().contains("/2013-04-01/hostedzone/Z"));
    assert_eq!(zone.resource_record_set_count(), Some(2));
    let id = zone.id().trim_start_matches("/hostedzone/").to_string();

    let again = r53
        .create_hosted_zone()
        .name("other.test")
        .caller_reference("c1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("HostedZoneAlreadyExists"));

    let records = r53
        .list_resource_record_sets()
        .hosted_zone_id(&id)
        .send()
        .await
        .unwrap();
    let types: Vec<&str> = records
        .resource_record_sets()
        .iter()
        .map(|r| r.r#type().as_str())
        .collect();
    assert_eq!(types, ["NS", "SOA"]);

    create_zone(&h, "b.test").await;
    create_zone(&h, "a.b.test").await;
    let by_name = r53.list_hosted_zones_by_name().send().await.unwrap();
    let names: Vec<&str> = by_name.hosted_zones().iter().map(|z| z.name()).collect();
    assert_eq!(
        names,
        ["b.test.", "a.b.test.", "example.test."],
        "sorted by reversed labels"
    );
    assert_eq!(r53.get_hosted_zone_count().send().await.unwrap().hosted_zone_count(), 3);
    let page = r53.list_hosted_zones().max_items(2).send().await.unwrap();
    assert!(page.is_truncated());
    let rest = r53
        .list_hosted_zones()
        .marker(page.next_marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.hosted_zones().len() + rest.hosted_zones().len(), 3);

    r53.update_hosted_zone_comment()
        .id(&id)
        .comment("edge")
        .send()
        .await
        .unwrap();
    let got = r53.get_hosted_zone().id(&id).send().await.unwrap();
    assert_eq!(got.hosted_zone().unwrap().config().unwrap().comment(), Some("edge"));

    apply(
        &h,
        &id,
        vec![change(
            ChangeAction::Create,
            rrset("www.example.test", RrType::A, 60, &["192.0.2.1"]),
        )],
    )
    .await
    .unwrap();
    let err = r53.delete_hosted_zone().id(&id).send().await.unwrap_err();
    assert_eq!(err.code(), Some("HostedZoneNotEmpty"));
    apply(
        &h,
        &id,
        vec![change(
            ChangeAction::Delete,
            rrset("www.example.test", RrType::A, 60, &["192.0.2.1"]),
        )],
    )
    .await
    .unwrap();
    r53.delete_hosted_zone().id(&id).send().await.unwrap();
    let err = r53.get_hosted_zone().id(&id).send().await.unwrap_err();
    assert_eq!(err.code(), Some("NoSuchHostedZone"));
}

#[tokio::test]
async fn change_batches_follow_route53_rules_and_are_all_or_nothing() {
    let h = Haneul::start();
    let zone = create_zone(&h, "example.test").await;
    let a = || rrset("www.example.test", RrType::A, 60, &["192.0.2.1"]);
    apply(&h, &zone, vec![change(ChangeAction::Create, a())]).await.unwrap();

    let expect = |err: Result<String, _>, code: &str, text: &str| {
        let err: aws_sdk_route53::error::SdkError<_> = err.unwrap_err();
        assert_eq!(err.code(), Some(code), "{err:?}");
        assert!(
            err.message().unwrap_or("").contains(text),
            "{:?} lacks {text}",
            err.message()
        );
    };
    expect(
        apply(&h, &zone, vec![change(ChangeAction::Create, a())]).await,
        "InvalidChangeBatch",
        "but it already exists",
    );
    expect(
        apply(
            &h,
            &zone,
            vec![change(
                ChangeAction::Delete,
                rrset("nope.example.test", RrType::A, 60, &["192.0.2.1"]),
            )],
        )
        .await,
        "InvalidChangeBatch",
        "but it was not found",
    );
    expect(
        apply(
            &h,
            &zone,
            vec![change(
                ChangeAction::Delete,
                rrset("www.example.test", RrType::A, 60, &["192.0.2.9"]),
            )],
        )
        .await,
        "InvalidChangeBatch",
        "do not match the current values",
    );
    expect(
        apply(
            &h,
            &zone,
            vec![change(
                ChangeAction::Create,
                rrset("www.example.test", RrType::Cname, 60, &["x.example.test"]),
            )],
        )
        .await,
        "InvalidChangeBatch",
        "conflicts with other records",
    );
    expect(
        apply(
            &h,
            &zone,
            vec![change(
                ChangeAction::Create,
                rrset("example.test", RrType::Cname, 60, &["x.example.test"]),
            )],
        )
        .await,
        "InvalidChangeBatch",
        "not permitted at apex",
    );
    expect(
        apply(
            &h,
            &zone,
            vec![change(
                ChangeAction::Create,
                rrset("www.elsewhere.test", RrType::A, 60, &["192.0.2.1"]),
            )],
        )
        .await,
        "InvalidChangeBatch",
        "is not permitted in zone",
    );
    expect(
        apply(
            &h,
            &zone,
            vec![change(
                ChangeAction::Create,
                rrset("bad.example.test", RrType::A, 60, &["not-an-ip"]),
            )],
        )
        .await,
        "InvalidChangeBatch",
        "ARRDATAIllegalIPv4Address",
    );
    let no_ttl = ResourceRecordSet::builder()
        .name("t.example.test")
        .r#type(RrType::A)
        .resource_records(ResourceRecord::builder().value("192.0.2.1").build().unwrap());
    expect(
        apply(&h, &zone, vec![change(ChangeAction::Create, no_ttl)]).await,
        "InvalidInput",
        "Expected exactly one of",
    );
    let heavy = rrset("w.example.test", RrType::A, 60, &["192.0.2.1"])
        .set_identifier("x")
        .weight(256);
    expect(
        apply(&h, &zone, vec![change(ChangeAction::Create, heavy)]).await,
        "InvalidInput",
        "less than or equal to 255",
    );
    // A batch with one bad change applies none of its good ones.
    let good = rrset("ok.example.test", RrType::A, 60, &["192.0.2.7"]);
    expect(
        apply(
            &h,
            &zone,
            vec![change(ChangeAction::Create, good), change(ChangeAction::Create, a())],
        )
        .await,
        "InvalidChangeBatch",
        "already exists",
    );
    let listed = h
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.resource_record_sets().len(), 3, "NS, SOA and www only");

    apply(
        &h,
        &zone,
        vec![change(
            ChangeAction::Upsert,
            rrset("www.example.test", RrType::A, 30, &["192.0.2.5"]),
        )],
    )
    .await
    .unwrap();
    let listed = h
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .start_record_name("www.example.test")
        .start_record_type(RrType::A)
        .send()
        .await
        .unwrap();
    let www = &listed.resource_record_sets()[0];
    assert_eq!((www.ttl(), www.resource_records()[0].value()), (Some(30), "192.0.2.5"));
}

#[tokio::test]
async fn dns_answers_follow_the_zone() {
    let h = Haneul::start();
    let zone = create_zone(&h, "example.test").await;
    let changes = vec![
        change(
            ChangeAction::Create,
            rrset("www.example.test", RrType::A, 60, &["192.0.2.1", "192.0.2.2"]),
        ),
        change(
            ChangeAction::Create,
            rrset("api.example.test", RrType::Cname, 300, &["www.example.test"]),
        ),
        change(
            ChangeAction::Create,
            rrset("*.apps.example.test", RrType::Txt, 300, &["\"wild\""]),
        ),
        change(
            ChangeAction::Create,
            rrset("deep.sub.example.test", RrType::A, 60, &["192.0.2.9"]),
        ),
        change(
            ChangeAction::Create,
            rrset("child.example.test", RrType::Ns, 3600, &["ns1.child.test."]),
        ),
    ];
    let id = apply(&h, &zone, changes).await.unwrap();
    wait_insync(&h, &id).await;
    let dns = h.dns_addr;

    let www = dns_udp(dns, "www.example.test.", RecordType::A, Some(1232)).await;
    assert!(www.authoritative());
    let mut values = answer_values(&www);
    values.sort();
    assert_eq!(values, ["192.0.2.1", "192.0.2.2"]);
    assert_eq!(www.answers()[0].ttl(), 60);

    let api = dns_udp(dns, "API.example.test.", RecordType::A, None).await;
    assert_eq!(answer_values(&api)[0], "www.example.test.", "CNAME first, then chased");
    assert_eq!(api.answers().len(), 3);

    let wild = dns_udp(dns, "x.apps.example.test.", RecordType::TXT, None).await;
    assert_eq!(wild.answers()[0].name().to_ascii(), "x.apps.example.test.");

    let nx = dns_udp(dns, "nope.example.test.", RecordType::A, None).await;
    assert_eq!(nx.response_code(), ResponseCode::NXDomain);
    assert_eq!(nx.name_servers()[0].record_type(), RecordType::SOA);
    assert!(nx.authoritative());

    let nodata = dns_udp(dns, "www.example.test.", RecordType::AAAA, None).await;
    assert_eq!(
        (nodata.response_code(), nodata.answers().len()),
        (ResponseCode::NoError, 0)
    );
    assert_eq!(nodata.name_servers()[0].record_type(), RecordType::SOA);
    let empty_non_terminal = dns_udp(dns, "sub.example.test.", RecordType::A, None).await;
    assert_eq!(empty_non_terminal.response_code(), ResponseCode::NoError);

    let referral = dns_udp(dns, "host.child.example.test.", RecordType::A, None).await;
    assert!(!referral.authoritative());
    assert_eq!(referral.name_servers()[0].record_type(), RecordType::NS);

    let refused = dns_udp(dns, "www.elsewhere.test.", RecordType::A, None).await;
    assert_eq!(refused.response_code(), ResponseCode::Refused);

    let tcp = dns_tcp(dns, "www.example.test.", RecordType::A).await;
    assert_eq!(tcp.answers().len(), 2);
}

#[tokio::test]
async fn large_answers_truncate_over_udp_and_come_whole_over_tcp() {
    let h = Haneul::start();
    let zone = create_zone(&h, "example.test").await;
    let values: Vec<String> = (0..40).map(|i| format!("\"{}-{i}\"", "x".repeat(60))).collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    let id = apply(
        &h,
        &zone,
        vec![change(
            ChangeAction::Create,
            rrset("big.example.test", RrType::Txt, 60, &refs),
        )],
    )
    .await
    .unwrap();
    wait_insync(&h, &id).await;
    let udp = dns_udp(h.dns_addr, "big.example.test.", RecordType::TXT, None).await;
    assert!(udp.truncated());
    assert_eq!(udp.answers().len(), 0);
    let tcp = dns_tcp(h.dns_addr, "big.example.test.", RecordType::TXT).await;
    assert_eq!(tcp.answers().len(), 40);
}

#[tokio::test]
async fn weighted_answers_split_by_weight() {
    let h = Haneul::start();
    let zone = create_zone(&h, "example.test").await;
    let w = |id: &str, weight: i64, ip: &str| {
        rrset("www.example.test", RrType::A, 60, &[ip])
            .set_identifier(id)
            .weight(weight)
    };
    let id = apply(
        &h,
        &zone,
        vec![
            change(ChangeAction::Create, w("a", 70, "192.0.2.1")),
            change(ChangeAction::Create, w("b", 30, "192.0.2.2")),
            change(ChangeAction::Create, w("z", 0, "192.0.2.3")),
        ],
    )
    .await
    .unwrap();
    wait_insync(&h, &id).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..1000 {
        let reply = dns_udp(h.dns_addr, "www.example.test.", RecordType::A, None).await;
        for v in answer_values(&reply) {
            *counts.entry(v).or_default() += 1;
        }
    }
    let a = counts.get("192.0.2.1").copied().unwrap_or(0);
    assert!((640..=760).contains(&a), "70/30 split gave {counts:?}");
    assert_eq!(
        counts.get("192.0.2.3"),
        None,
        "weight 0 only when all others are unhealthy"
    );
}

#[tokio::test]
async fn malformed_packets_get_formerr_or_nothing() {
    let h = Haneul::start();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // A header claiming one question, then garbage: FORMERR with the same id.
    let mut packet = vec![0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
    packet.extend_from_slice(&[0xc0, 0x0c, 0xc0, 0x0c]);
    socket.send_to(&packet, h.dns_addr).await.unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..2], &[0x12, 0x34]);
    assert_eq!(buf[3] & 0x0f, 1, "RCODE FORMERR");
    assert_eq!(n, 12);
    // Too short to have a header: dropped; the server keeps answering.
    socket.send_to(&[1, 2, 3], h.dns_addr).await.unwrap();
    create_zone(&h, "example.test").await;
    let soa = dns_udp(h.dns_addr, "example.test.", RecordType::SOA, None).await;
    assert_eq!(soa.answers().len(), 1);
}

/// A one-route HTTP server answering `body`, until the returned handle is aborted.
async fn http_backend(body: &'static str) -> (u16, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow end-to-end: waits for health check intervals"]
async fn slow_failover_and_weighted_follow_real_health_checks() {
    let h = Haneul::start();
    let r53 = h.route53();
    let (port, backend) = http_backend("status: all good").await;
    let config = HealthCheckConfig::builder()
        .r#type(HealthCheckType::HttpStrMatch)
        .ip_address("127.0.0.1")
        .port(port as i32)
        .resource_path("/health")
        .search_string("all good")
        .request_interval(10)
        .failure_threshold(1)
        .build()
        .unwrap();
    let hc = r53
        .create_health_check()
        .caller_reference("hc1")
        .health_check_config(config.clone())
        .send()
        .await
        .unwrap();
    let hc_id = hc.health_check().unwrap().id().to_string();
    let same = r53
        .create_health_check()
        .caller_reference("hc1")
        .health_check_config(config)
        .send()
        .await
        .unwrap();
    assert_eq!(
        same.health_check().unwrap().id(),
        hc_id,
        "same reference and settings: the same check"
    );

    let zone = create_zone(&h, "example.test").await;
    let fo = |id: &str, role: &str, ip: &str| {
        let set = rrset("app.example.test", RrType::A, 5, &[ip])
            .set_identifier(id)
            .failover(role.into());
        if role == "PRIMARY" {
            set.health_check_id(&hc_id)
        } else {
            set
        }
    };
    let id = apply(
        &h,
        &zone,
        vec![
            change(ChangeAction::Create, fo("p", "PRIMARY", "198.51.100.1")),
            change(ChangeAction::Create, fo("s", "SECONDARY", "198.51.100.2")),
        ],
    )
    .await
    .unwrap();
    wait_insync(&h, &id).await;

    let answer = || async { answer_values(&dns_udp(h.dns_addr, "app.example.test.", RecordType::A, None).await) };
    let mut status = String::new();
    for _ in 0..40 {
        let s = r53
            .get_health_check_status()
            .health_check_id(&hc_id)
            .send()
            .await
            .unwrap();
        status = s
            .health_check_observations()
            .first()
            .and_then(|o| o.status_report())
            .and_then(|r| r.status())
            .unwrap_or("")
            .to_string();
        if status.starts_with("Success: HTTP Status Code 200") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(status.starts_with("Success: HTTP Status Code 200"), "{status}");
    assert_eq!(answer().await, ["198.51.100.1"], "healthy primary answers");

    let err = r53
        .delete_health_check()
        .health_check_id(&hc_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("HealthCheckInUse"));

    backend.abort();
    let mut flipped = false;
    for _ in 0..30 {
        if answer().await == ["198.51.100.2"] {
            flipped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(flipped, "secondary answers once the primary's check fails");
    let reason = r53
        .get_health_check_last_failure_reason()
        .health_check_id(&hc_id)
        .send()
        .await
        .unwrap();
    let text = reason.health_check_observations()[0]
        .status_report()
        .unwrap()
        .status()
        .unwrap()
        .to_string();
    assert!(text.starts_with("Failure:"), "{text}");
}

#[tokio::test]
async fn test_dns_answer_matches_the_server_and_tags_are_kept() {
    let h = Haneul::start();
    let r53 = h.route53();
    let zone = create_zone(&h, "example.test").await;
    let id = apply(
        &h,
        &zone,
        vec![change(
            ChangeAction::Create,
            rrset("*.example.test", RrType::A, 60, &["192.0.2.44"]),
        )],
    )
    .await
    .unwrap();
    wait_insync(&h, &id).await;
    let out = r53
        .test_dns_answer()
        .hosted_zone_id(&zone)
        .record_name("anything.example.test")
        .record_type(RrType::A)
        .send()
        .await
        .unwrap();
    assert_eq!(out.record_data(), ["192.0.2.44"]);
    assert_eq!(out.response_code(), "NOERROR");
    assert_eq!(out.protocol(), "UDP");
    let dns = dns_udp(h.dns_addr, "anything.example.test.", RecordType::A, None).await;
    assert_eq!(answer_values(&dns), out.record_data(), "one code path for both");
    let nx = r53
        .test_dns_answer()
        .hosted_zone_id(&zone)
        .record_name("a.b.elsewhere.test")
        .record_type(RrType::A)
        .send()
        .await
        .unwrap();
    assert_eq!(nx.response_code(), "REFUSED");

    use aws_sdk_route53::types::{Tag, TagResourceType};
    r53.change_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(&zone)
        .add_tags(Tag::builder().key("team").value("edge").build())
        .send()
        .await
        .unwrap();
    let tags = r53
        .list_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(&zone)
        .send()
        .await
        .unwrap();
    let set = tags.resource_tag_set().unwrap();
    assert_eq!(set.tags()[0].key(), Some("team"));
    assert_eq!(set.resource_type(), Some(&TagResourceType::Hostedzone));
    let err = r53
        .list_tags_for_resource()
        .resource_type(TagResourceType::Healthcheck)
        .resource_id("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchHealthCheck"));
}

/// Polls GetHealthCheckStatus until its report starts with `prefix` (or gives up).
async fn wait_status(h: &Haneul, id: &str, prefix: &str) -> String {
    let mut status = String::new();
    for _ in 0..60 {
        let out = h
            .route53()
            .get_health_check_status()
            .health_check_id(id)
            .send()
            .await
            .unwrap();
        let report = out.health_check_observations().first().and_then(|o| o.status_report());
        status = report.and_then(|r| r.status()).unwrap_or("").to_string();
        if status.starts_with(prefix) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_health_checks_probe_a_real_tls_server() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=probe.test",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed for this test");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept", &port.to_string(), "-cert"])
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let h = Haneul::start();
    let config = HealthCheckConfig::builder()
        .r#type(HealthCheckType::HttpsStrMatch)
        .ip_address("127.0.0.1")
        .port(port as i32)
        .search_string("s_server")
        .request_interval(10)
        .failure_threshold(1)
        .build()
        .unwrap();
    let hc = h
        .route53()
        .create_health_check()
        .caller_reference("tls")
        .health_check_config(config)
        .send()
        .await
        .unwrap();
    let id = hc.health_check().unwrap().id().to_string();
    let status = wait_status(&h, &id, "Success: HTTP").await;
    let _ = server.kill();
    let _ = server.wait();
    assert!(status.starts_with("Success: HTTP Status Code 200"), "{status}");

    // A plain TCP check on a closed port fails on its first probe.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tcp = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Tcp)
        .ip_address("127.0.0.1")
        .port(closed as i32)
        .failure_threshold(1)
        .build()
        .unwrap();
    let hc = h
        .route53()
        .create_health_check()
        .caller_reference("tcp")
        .health_check_config(tcp)
        .send()
        .await
        .unwrap();
    let status = wait_status(&h, hc.health_check().unwrap().id(), "Failure").await;
    assert!(status.starts_with("Failure:"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_resolve_in_zone_and_evaluate_target_health() {
    use aws_sdk_route53::types::{AliasTarget, ResourceRecordSetFailover};
    let h = Haneul::start();
    let r53 = h.route53();
    let zone = create_zone(&h, "example.test").await;
    let alias = |name: &str, target: &str, evaluate: bool| {
        ResourceRecordSet::builder().name(name).r#type(RrType::A).alias_target(
            AliasTarget::builder()
                .hosted_zone_id(&zone)
                .dns_name(target)
                .evaluate_target_health(evaluate)
                .build()
                .unwrap(),
        )
    };
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tcp = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Tcp)
        .ip_address("127.0.0.1")
        .port(closed as i32)
        .failure_threshold(1)
        .build()
        .unwrap();
    let hc = r53
        .create_health_check()
        .caller_reference("dead")
        .health_check_config(tcp)
        .send()
        .await
        .unwrap();
    let hc_id = hc.health_check().unwrap().id().to_string();
    assert!(wait_status(&h, &hc_id, "Failure").await.starts_with("Failure"));

    let changes = vec![
        change(
            ChangeAction::Create,
            rrset("blue.example.test", RrType::A, 60, &["192.0.2.10"])
                .health_check_id(&hc_id)
                .set_identifier("b")
                .multi_value_answer(true),
        ),
        change(ChangeAction::Create, alias("example.test", "blue.example.test", false)),
        change(
            ChangeAction::Create,
            alias("app.example.test", "blue.example.test", true)
                .set_identifier("p")
                .failover(ResourceRecordSetFailover::Primary),
        ),
        change(
            ChangeAction::Create,
            rrset("app.example.test", RrType::A, 60, &["198.51.100.2"])
                .set_identifier("s")
                .failover(ResourceRecordSetFailover::Secondary),
        ),
    ];
    let id = apply(&h, &zone, changes).await.unwrap();
    wait_insync(&h, &id).await;
    let apex = dns_udp(h.dns_addr, "example.test.", RecordType::A, None).await;
    assert_eq!(answer_values(&apex), ["192.0.2.10"], "apex alias");
    assert_eq!(apex.answers()[0].name().to_ascii(), "example.test.");
    let app = dns_udp(h.dns_addr, "app.example.test.", RecordType::A, None).await;
    assert_eq!(
        answer_values(&app),
        ["198.51.100.2"],
        "the alias's target is unhealthy: secondary answers"
    );

    let err = apply(
        &h,
        &zone,
        vec![change(
            ChangeAction::Create,
            alias("x.example.test", "missing.example.test", false),
        )],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Some("InvalidChangeBatch"));
    assert!(
        err.message().unwrap().contains("but that target was not found"),
        "{err:?}"
    );
}

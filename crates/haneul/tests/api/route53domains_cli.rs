//! Route 53 Domains through the `aws` CLI: a local registrar whose TLD zones haneul's DNS
//! serves, delegating each registered name to its name servers.

use haneul_testkit::Haneul;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::support::{answer_values, dns_udp};

const CONTACT: &str = r#"{"FirstName":"Ada","LastName":"Lovelace","ContactType":"PERSON","AddressLine1":"1 Sky Road","City":"Seoul","CountryCode":"KR","ZipCode":"04524","PhoneNumber":"+82.212345678","Email":"ada@example.test"}"#;

fn register(h: &Haneul, name: &str, years: &str) -> Result<serde_json::Value, String> {
    let out = h.aws(&[
        "route53domains",
        "register-domain",
        "--domain-name",
        name,
        "--duration-in-years",
        years,
        "--admin-contact",
        CONTACT,
        "--registrant-contact",
        CONTACT,
        "--tech-contact",
        CONTACT,
    ]);
    if out.success {
        Ok(out.json())
    } else {
        Err(out.stderr)
    }
}

async fn wait_for_rcode(h: &Haneul, name: &str, rtype: RecordType, want: ResponseCode) -> hickory_proto::op::Message {
    for _ in 0..100 {
        let reply = dns_udp(h.dns_addr, name, rtype, None).await;
        if reply.response_code() == want {
            return reply;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{name} {rtype} never answered {want:?}");
}

#[tokio::test]
async fn registering_a_domain_creates_its_zone_and_delegates_it() {
    let h = Haneul::start();
    let available = h.aws_ok(&[
        "route53domains",
        "check-domain-availability",
        "--domain-name",
        "sky.test",
    ]);
    assert_eq!(available["Availability"], "AVAILABLE");

    let registered = register(&h, "sky.test", "1").unwrap();
    let op_id = registered["OperationId"].as_str().unwrap().to_string();
    let op = h.aws_ok(&["route53domains", "get-operation-detail", "--operation-id", &op_id]);
    assert_eq!(op["Status"], "SUCCESSFUL");
    assert_eq!(op["Type"], "REGISTER_DOMAIN");
    assert_eq!(op["DomainName"], "sky.test");

    let taken = h.aws_ok(&[
        "route53domains",
        "check-domain-availability",
        "--domain-name",
        "sky.test",
    ]);
    assert_eq!(taken["Availability"], "UNAVAILABLE");
    assert!(register(&h, "sky.test", "1").unwrap_err().contains("InvalidInput"));
    assert!(register(&h, "a.b.example.com", "1")
        .unwrap_err()
        .contains("UnsupportedTLD"));
    assert!(register(&h, "later.test", "11").unwrap_err().contains("InvalidInput"));

    // The hosted zone registration made, and the name servers the domain points at.
    let zones = h.aws_ok(&["route53", "list-hosted-zones-by-name", "--dns-name", "sky.test"]);
    let zone = &zones["HostedZones"][0];
    assert_eq!(zone["Name"], "sky.test.");
    assert_eq!(zone["Config"]["Comment"], "HostedZone created by Route53 Registrar");
    let zone_id = zone["Id"]
        .as_str()
        .unwrap()
        .trim_start_matches("/hostedzone/")
        .to_string();
    let delegation =
        h.aws_ok(&["route53", "get-hosted-zone", "--id", &zone_id])["DelegationSet"]["NameServers"].clone();
    let detail = h.aws_ok(&["route53domains", "get-domain-detail", "--domain-name", "sky.test"]);
    let servers: Vec<serde_json::Value> = detail["Nameservers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Name"].clone())
        .collect();
    assert_eq!(serde_json::Value::Array(servers), delegation);
    assert_eq!(detail["AdminContact"]["FirstName"], "Ada");
    assert!(detail["ExpirationDate"].as_f64().unwrap() > detail["CreationDate"].as_f64().unwrap());

    // DNS: the TLD is now a zone of the registry; unregistered names in it are NXDOMAIN.
    let soa = wait_for_rcode(&h, "test.", RecordType::SOA, ResponseCode::NoError).await;
    assert_eq!(soa.answers()[0].record_type(), RecordType::SOA);
    let missing = dns_udp(h.dns_addr, "nobody.test.", RecordType::A, None).await;
    assert_eq!(missing.response_code(), ResponseCode::NXDomain);
    assert_eq!(missing.name_servers()[0].name().to_ascii(), "test.");

    // New name servers: once the hosted zone is gone, the TLD refers resolvers to them.
    h.aws_ok(&[
        "route53domains",
        "update-domain-nameservers",
        "--domain-name",
        "sky.test",
        "--nameservers",
        "Name=ns1.elsewhere.net",
        "Name=ns2.elsewhere.net",
    ]);
    h.aws_ok(&["route53", "delete-hosted-zone", "--id", &zone_id]);
    let mut referral = None;
    for _ in 0..100 {
        let reply = dns_udp(h.dns_addr, "www.sky.test.", RecordType::A, None).await;
        if !reply.name_servers().is_empty() && reply.name_servers()[0].record_type() == RecordType::NS {
            referral = Some(reply);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let referral = referral.expect("a referral from the TLD zone");
    assert!(!referral.authoritative());
    let mut targets: Vec<String> = referral.name_servers().iter().map(|r| r.data().to_string()).collect();
    targets.sort();
    assert_eq!(targets, ["ns1.elsewhere.net.", "ns2.elsewhere.net."]);
    assert!(answer_values(&referral).is_empty());

    let listed = h.aws_ok(&["route53domains", "list-domains"]);
    assert_eq!(listed["Domains"][0]["DomainName"], "sky.test");
    let ops = h.aws_ok(&["route53domains", "list-operations"]);
    let kinds: Vec<&str> = ops["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["Type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["REGISTER_DOMAIN", "UPDATE_NAMESERVER"]);
    let bad_glue = h.aws(&[
        "route53domains",
        "update-domain-nameservers",
        "--domain-name",
        "sky.test",
        "--nameservers",
        "Name=ns1.elsewhere.net,GlueIps=192.0.2.1",
    ]);
    assert!(
        !bad_glue.success && bad_glue.stderr.contains("InvalidInput"),
        "{}",
        bad_glue.stderr
    );
    let unknown = h.aws(&["route53domains", "get-domain-detail", "--domain-name", "nobody.test"]);
    assert!(
        !unknown.success && unknown.stderr.contains("InvalidInput"),
        "{}",
        unknown.stderr
    );
}

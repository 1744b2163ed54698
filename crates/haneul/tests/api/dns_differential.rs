//! Differential test: the same zone loaded into haneul (through the Route 53 API) and into
//! Knot DNS (as a zone file), the same few thousand queries sent to both — existing, missing,
//! wildcard, CNAME, delegation, empty non-terminal, ANY, over UDP and TCP — and the responses
//! compared section by section. Needs `knotd` (Debian's `knot`); fails loudly without it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
use haneul_testkit::Haneul;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::route53::{create_zone, wait_insync};

const ORIGIN: &str = "example.test.";

/// (relative name, type, ttl, values in zone-file syntax — also Route 53's value syntax).
fn records() -> Vec<(String, &'static str, i64, Vec<String>)> {
    let mut out: Vec<(String, &'static str, i64, Vec<String>)> = vec![
        ("@".into(), "A", 300, vec!["192.0.2.1".into()]),
        ("@".into(), "AAAA", 300, vec!["2001:db8::1".into()]),
        (
            "@".into(),
            "MX",
            300,
            vec!["10 mail.example.test.".into(), "20 mail2.example.test.".into()],
        ),
        ("@".into(), "TXT", 300, vec!["\"v=spf1 -all\"".into()]),
        ("mail".into(), "A", 300, vec!["192.0.2.25".into()]),
        ("mail".into(), "AAAA", 300, vec!["2001:db8::25".into()]),
        ("mail2".into(), "A", 300, vec!["192.0.2.26".into()]),
        ("www".into(), "CNAME", 300, vec!["host0.example.test.".into()]),
        ("api".into(), "CNAME", 300, vec!["www.example.test.".into()]),
        ("loop1".into(), "CNAME", 300, vec!["loop2.example.test.".into()]),
        ("loop2".into(), "CNAME", 300, vec!["missing.example.test.".into()]),
        ("ext".into(), "CNAME", 300, vec!["www.elsewhere.invalid.".into()]),
        ("*.wild".into(), "A", 60, vec!["192.0.2.50".into()]),
        ("*.wild".into(), "TXT", 60, vec!["\"wildcard\"".into()]),
        ("deep.a.b".into(), "A", 300, vec!["192.0.2.60".into()]),
        (
            "sub".into(),
            "NS",
            3600,
            vec!["ns1.sub.example.test.".into(), "ns.elsewhere.invalid.".into()],
        ),
        ("ns1.sub".into(), "A", 3600, vec!["192.0.2.53".into()]),
        (
            "_sip._tcp".into(),
            "SRV",
            300,
            vec!["10 60 5060 sip.example.test.".into()],
        ),
        (
            "info".into(),
            "TXT",
            300,
            vec!["\"hello from example.test\" \"second string\"".into()],
        ),
    ];
    // Big enough to be truncated over UDP with a 1232-byte EDNS payload.
    let big: Vec<String> = (0..40).map(|i| format!("\"{i:02} {}\"", "x".repeat(60))).collect();
    out.push(("big".into(), "TXT", 300, big));
    for i in 0..200 {
        out.push((
            format!("host{i}"),
            "A",
            300,
            vec![format!("10.0.{}.{}", i / 256, i % 256)],
        ));
    }
    out
}

fn absolute(name: &str) -> String {
    if name == "@" {
        ORIGIN.to_string()
    } else {
        format!("{name}.{ORIGIN}")
    }
}

async fn load_into_haneul(h: &Haneul, zone: &str) {
    let mut changes = Vec::new();
    for (name, rtype, ttl, values) in records() {
        let mut set = ResourceRecordSet::builder()
            .name(absolute(&name))
            .r#type(RrType::from(rtype))
            .ttl(ttl);
        for v in values {
            set = set.resource_records(ResourceRecord::builder().value(v).build().unwrap());
        }
        changes.push(
            Change::builder()
                .action(ChangeAction::Create)
                .resource_record_set(set.build().unwrap())
                .build()
                .unwrap(),
        );
    }
    let out = h
        .route53()
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(ChangeBatch::builder().set_changes(Some(changes)).build().unwrap())
        .send()
        .await
        .unwrap();
    wait_insync(h, out.change_info().unwrap().id()).await;
}

/// The zone file: haneul's own SOA and NS (read back through the API), then every record.
async fn zone_file(h: &Haneul, zone: &str) -> String {
    let listed = h
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .unwrap();
    let mut text = format!("$ORIGIN {ORIGIN}\n");
    for set in listed.resource_record_sets() {
        if set.name() == ORIGIN && matches!(set.r#type(), RrType::Soa | RrType::Ns) {
            for r in set.resource_records() {
                text += &format!("@ {} IN {} {}\n", set.ttl().unwrap(), set.r#type().as_str(), r.value());
            }
        }
    }
    for (name, rtype, ttl, values) in records() {
        for v in values {
            text += &format!("{name} {ttl} IN {rtype} {v}\n");
        }
    }
    text
}

fn knotd() -> PathBuf {
    for candidate in ["/usr/sbin/knotd", "/usr/bin/knotd", "/usr/local/sbin/knotd"] {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!("the differential test needs Knot DNS: apt-get install knot (see .ci/run)");
}

struct Knot {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    // A port free for TCP, then checked for UDP too.
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

async fn start_knot(zone_text: &str) -> Knot {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("db")).unwrap();
    std::fs::write(d.join("example.test.zone"), zone_text).unwrap();
    let port = free_port();
    let conf = format!(
        "server:\n    rundir: \"{0}\"\n    listen: 127.0.0.1@{port}\nlog:\n  - target: stderr\n    any: warning\ndatabase:\n    storage: \"{0}/db\"\ntemplate:\n  - id: default\n    storage: \"{0}\"\n    semantic-checks: off\n    zonefile-sync: -1\n    journal-content: none\nzone:\n  - domain: {ORIGIN}\n    file: \"{0}/example.test.zone\"\n",
        d.display()
    );
    std::fs::write(d.join("knot.conf"), conf).unwrap();
    let child = Command::new(knotd())
        .arg("-c")
        .arg(d.join("knot.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("knotd starts");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let knot = Knot { child, addr, _dir: dir };
    for _ in 0..100 {
        if let Some(reply) = exchange(addr, &query("host1.example.test.", RecordType::A, true), false).await {
            if !reply.answers().is_empty() {
                return knot;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("knotd did not serve the zone");
}

fn query(name: &str, rtype: RecordType, edns: bool) -> Message {
    let mut m = Message::new();
    m.set_id(rand::random())
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        m.set_edns(e);
    }
    m
}

async fn exchange(server: SocketAddr, m: &Message, tcp: bool) -> Option<Message> {
    let bytes = m.to_vec().ok()?;
    let timeout = Duration::from_secs(2);
    let reply = if tcp {
        tokio::time::timeout(timeout, async {
            let mut s = tokio::net::TcpStream::connect(server).await.ok()?;
            s.write_u16(bytes.len() as u16).await.ok()?;
            s.write_all(&bytes).await.ok()?;
            let n = s.read_u16().await.ok()?;
            let mut buf = vec![0u8; usize::from(n)];
            s.read_exact(&mut buf).await.ok()?;
            Some(buf)
        })
        .await
        .ok()??
    } else {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.ok()?;
        socket.send_to(&bytes, server).await.ok()?;
        let mut buf = vec![0u8; 65535];
        let (n, _) = tokio::time::timeout(timeout, socket.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        buf.truncate(n);
        buf
    };
    Message::from_vec(&reply).ok()
}

fn section(records: &[hickory_proto::rr::Record]) -> Vec<String> {
    let mut out: Vec<String> = records
        .iter()
        .filter(|r| r.record_type() != RecordType::OPT)
        .map(|r| format!("{} {} {} {}", r.name(), r.ttl(), r.record_type(), r.data()).to_ascii_lowercase())
        .collect();
    out.sort();
    out
}

/// What must match: rcode, AA, TC, and the answer and authority sections (additional only
/// for referrals, where it holds the glue; Route 53 does no other additional processing).
fn comparable(m: &Message, rtype: RecordType) -> String {
    let referral = !m.authoritative() && m.name_servers().iter().any(|r| r.record_type() == RecordType::NS);
    let mut text = format!(
        "rcode={:?} aa={} tc={}\n",
        m.response_code(),
        m.authoritative(),
        m.truncated()
    );
    if m.truncated() {
        return text;
    }
    if rtype == RecordType::ANY {
        // RFC 8482 lets each server pick which record set(s) to give; the count must agree.
        text += &format!("any-answer-present={}\n", !m.answers().is_empty());
    } else {
        text += &format!("answer={:?}\n", section(m.answers()));
    }
    text += &format!("authority={:?}\n", section(m.name_servers()));
    if referral {
        text += &format!("additional={:?}\n", section(m.additionals()));
    }
    text
}

/// A deterministic mix of queries over the zone.
fn queries() -> Vec<(String, RecordType, bool)> {
    let types = [
        RecordType::A,
        RecordType::AAAA,
        RecordType::MX,
        RecordType::TXT,
        RecordType::NS,
        RecordType::SOA,
        RecordType::CNAME,
        RecordType::SRV,
        RecordType::ANY,
    ];
    let names = [
        "example.test.",
        "mail.example.test.",
        "www.example.test.",
        "api.example.test.",
        "loop1.example.test.",
        "ext.example.test.",
        "x.wild.example.test.",
        "a.b.wild.example.test.",
        "wild.example.test.",
        "deep.a.b.example.test.",
        "a.b.example.test.",
        "b.example.test.",
        "sub.example.test.",
        "host.sub.example.test.",
        "ns1.sub.example.test.",
        "_sip._tcp.example.test.",
        "_tcp.example.test.",
        "info.example.test.",
        "big.example.test.",
        "nothere.example.test.",
        "deeper.nothere.example.test.",
        "WwW.Example.TEST.",
    ];
    let mut out = Vec::new();
    let mut seed: u64 = 0x5eed;
    for i in 0..3000 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let pick = (seed >> 33) as usize;
        let name = if i % 4 == 0 {
            format!("host{}.example.test.", pick % 260) // 200..259 do not exist
        } else {
            names[pick % names.len()].to_string()
        };
        let rtype = types[(pick / 7) % types.len()];
        out.push((name, rtype, i % 10 == 0));
    }
    out
}

#[tokio::test]
#[ignore = "slow end-to-end: starts Knot DNS and sends 3,000 queries to each server"]
async fn answers_match_knot_section_by_section() {
    let h = Haneul::start();
    let zone = create_zone(&h, ORIGIN).await;
    load_into_haneul(&h, &zone).await;
    let knot = start_knot(&zone_file(&h, &zone).await).await;
    let mut mismatches = Vec::new();
    let mut seen_names = std::collections::HashSet::new();
    let all = queries();
    for (name, rtype, tcp) in &all {
        let m = query(name, *rtype, true);
        let ours = exchange(h.dns_addr, &m, *tcp).await.expect("haneul answers");
        let theirs = exchange(knot.addr, &m, *tcp).await.expect("knot answers");
        let (a, b) = (comparable(&ours, *rtype), comparable(&theirs, *rtype));
        if a != b && seen_names.insert(name.clone()) {
            mismatches.push(format!("{name} {rtype} tcp={tcp}\n haneul: {a}\n knot:   {b}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "haneul and Knot differ:\n{}",
        mismatches.join("\n")
    );
    // Truncation then TCP retry: the big answer comes whole over TCP from both.
    let m = query("big.example.test.", RecordType::TXT, true);
    assert!(exchange(h.dns_addr, &m, false).await.unwrap().truncated());
    assert_eq!(exchange(h.dns_addr, &m, true).await.unwrap().answers().len(), 40);
}

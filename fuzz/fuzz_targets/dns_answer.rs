//! Packet → answer: any bytes, as a UDP or TCP query through the public address or a VPC's
//! resolver, must give FORMERR, a bounded reply, or nothing — never a panic or a hang.
#![no_main]

use std::sync::OnceLock;

use haneul_route53::dns::answer::{respond, Asker, Reply, Transport, EDNS_PAYLOAD_BYTES};
use haneul_route53::dns::sample;
use haneul_route53::dns::snapshot::Snapshot;
use haneul_route53::health::HealthBoard;
use libfuzzer_sys::fuzz_target;

static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let snapshot = SNAPSHOT.get_or_init(sample::snapshot);
    let health = HealthBoard::default();
    let Some((&selector, packet)) = data.split_first() else { return };
    let transport = if selector & 1 == 0 { Transport::Udp } else { Transport::Tcp };
    let asker = Asker {
        vpc: (selector & 2 != 0).then_some("vpc-1"),
        source: Some(std::net::IpAddr::from([198, 51, 100, selector])),
        geo: None,
    };
    if let Some(Reply::Answer(bytes) | Reply::NotOurs(bytes)) = respond(snapshot, &health, asker, packet, transport) {
        if transport == Transport::Udp {
            assert!(bytes.len() <= usize::from(EDNS_PAYLOAD_BYTES));
        }
        assert!(bytes.len() >= 12);
    }
});

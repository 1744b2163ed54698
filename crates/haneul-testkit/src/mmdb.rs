//! A small MaxMind DB writer, so tests can build their own `--geoip-db` in which test subnets
//! map to known places (format: https://maxmind.github.io/MaxMind-DB/). IPv6 tree with IPv4
//! networks under `::/96`, 32-bit records, GeoIP2-City-shaped data.

use std::net::IpAddr;

/// One place the database maps a network to.
#[derive(Debug, Clone, Default)]
pub struct Place {
    pub continent: Option<&'static str>,
    pub country: Option<&'static str>,
    pub subdivision: Option<&'static str>,
    pub coordinates: Option<(f64, f64)>,
}

/// A data value, in the MaxMind DB data section's types.
enum Data {
    Str(String),
    Double(f64),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(String, Data)>),
    Array(Vec<Data>),
}

fn control(out: &mut Vec<u8>, type_id: u8, size: usize) {
    let (first, extended) = if type_id <= 7 {
        (type_id << 5, None)
    } else {
        (0, Some(type_id - 7))
    };
    let (size_bits, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, vec![]),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    out.push(first | size_bits);
    if let Some(e) = extended {
        out.push(e);
    }
    out.extend(extra);
}

fn encode(out: &mut Vec<u8>, data: &Data) {
    match data {
        Data::Str(s) => {
            control(out, 2, s.len());
            out.extend(s.as_bytes());
        }
        Data::Double(d) => {
            control(out, 3, 8);
            out.extend(d.to_be_bytes());
        }
        Data::U16(v) => {
            control(out, 5, 2);
            out.extend(v.to_be_bytes());
        }
        Data::U32(v) => {
            control(out, 6, 4);
            out.extend(v.to_be_bytes());
        }
        Data::U64(v) => {
            control(out, 9, 8);
            out.extend(v.to_be_bytes());
        }
        Data::Map(pairs) => {
            control(out, 7, pairs.len());
            for (k, v) in pairs {
                encode(out, &Data::Str(k.clone()));
                encode(out, v);
            }
        }
        Data::Array(items) => {
            control(out, 11, items.len());
            for item in items {
                encode(out, item);
            }
        }
    }
}

fn place_data(p: &Place) -> Data {
    let mut pairs = Vec::new();
    if let Some(c) = p.continent {
        pairs.push((
            "continent".into(),
            Data::Map(vec![("code".into(), Data::Str(c.into()))]),
        ));
    }
    if let Some(c) = p.country {
        pairs.push((
            "country".into(),
            Data::Map(vec![("iso_code".into(), Data::Str(c.into()))]),
        ));
    }
    if let Some(s) = p.subdivision {
        let sub = Data::Map(vec![("iso_code".into(), Data::Str(s.into()))]);
        pairs.push(("subdivisions".into(), Data::Array(vec![sub])));
    }
    if let Some((lat, lon)) = p.coordinates {
        pairs.push((
            "location".into(),
            Data::Map(vec![
                ("latitude".into(), Data::Double(lat)),
                ("longitude".into(), Data::Double(lon)),
            ]),
        ));
    }
    Data::Map(pairs)
}

#[derive(Clone, Copy)]
enum Child {
    Empty,
    Node(usize),
    Data(usize),
}

/// Networks (`"198.51.100.0/24"`) → places, written as a MaxMind DB file's bytes.
pub fn build(networks: &[(&str, Place)]) -> Vec<u8> {
    let mut nodes: Vec<[Child; 2]> = vec![[Child::Empty; 2]];
    let mut data_offsets = Vec::new();
    let mut data = Vec::new();
    for (i, (net, place)) in networks.iter().enumerate() {
        data_offsets.push(data.len());
        encode(&mut data, &place_data(place));
        let (addr, prefix) = net.split_once('/').expect("network as addr/prefix");
        let addr: IpAddr = addr.parse().expect("network address");
        let prefix: usize = prefix.parse().expect("network prefix");
        let (bits, depth) = match addr {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 96 + prefix),
            IpAddr::V6(v6) => (u128::from(v6), prefix),
        };
        let mut node = 0;
        for level in 0..depth {
            let bit = ((bits >> (127 - level)) & 1) as usize;
            if level + 1 == depth {
                nodes[node][bit] = Child::Data(i);
                break;
            }
            node = match nodes[node][bit] {
                Child::Node(n) => n,
                other => {
                    // An empty branch, or a wider network's data being split: push it down.
                    nodes.push([other; 2]);
                    let n = nodes.len() - 1;
                    nodes[node][bit] = Child::Node(n);
                    n
                }
            };
        }
    }
    let node_count = nodes.len();
    let record = |c: Child| -> u32 {
        match c {
            Child::Empty => node_count as u32,
            Child::Node(n) => n as u32,
            Child::Data(i) => (node_count + 16 + data_offsets[i]) as u32,
        }
    };
    let mut out = Vec::new();
    for [left, right] in &nodes {
        out.extend(record(*left).to_be_bytes());
        out.extend(record(*right).to_be_bytes());
    }
    out.extend([0u8; 16]);
    out.extend(&data);
    out.extend(b"\xAB\xCD\xEFMaxMind.com");
    let metadata = Data::Map(vec![
        ("binary_format_major_version".into(), Data::U16(2)),
        ("binary_format_minor_version".into(), Data::U16(0)),
        ("build_epoch".into(), Data::U64(1_700_000_000)),
        ("database_type".into(), Data::Str("haneul-test-City".into())),
        (
            "description".into(),
            Data::Map(vec![("en".into(), Data::Str("haneul test places".into()))]),
        ),
        ("ip_version".into(), Data::U16(6)),
        ("languages".into(), Data::Array(vec![Data::Str("en".into())])),
        ("node_count".into(), Data::U32(node_count as u32)),
        ("record_size".into(), Data::U16(32)),
    ]);
    encode(&mut out, &metadata);
    out
}

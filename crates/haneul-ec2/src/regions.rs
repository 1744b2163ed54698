//! The regions haneul knows and the three availability zones it gives each.

/// Regions that need no opt-in at AWS; haneul serves all of them.
pub const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
];

/// Availability zones per region.
pub const ZONES_PER_REGION: usize = 3;

pub struct Zone {
    pub name: String,
    pub id: String,
    pub region: String,
}

/// `use1` from `us-east-1`: the prefix of AWS's zone ids.
fn zone_id_prefix(region: &str) -> String {
    let mut parts = region.split('-');
    let area = parts.next().unwrap_or("");
    let direction = parts.next().unwrap_or("");
    let number = parts.next().unwrap_or("");
    let dir = match direction {
        "east" => "e",
        "west" => "w",
        "north" => "n",
        "south" => "s",
        "central" => "c",
        "northeast" => "ne",
        "northwest" => "nw",
        "southeast" => "se",
        "southwest" => "sw",
        other => other,
    };
    format!("{area}{dir}{number}")
}

pub fn zones(region: &str) -> Vec<Zone> {
    let prefix = zone_id_prefix(region);
    (0..ZONES_PER_REGION)
        .map(|i| Zone {
            name: format!("{region}{}", (b'a' + i as u8) as char),
            id: format!("{prefix}-az{}", i + 1),
            region: region.to_string(),
        })
        .collect()
}

pub fn zone_by_name(region: &str, name: &str) -> Option<Zone> {
    zones(region).into_iter().find(|z| z.name == name)
}

pub fn zone_by_id(region: &str, id: &str) -> Option<Zone> {
    zones(region).into_iter().find(|z| z.id == id)
}

//! EC2's id formats: a prefix and 17 lowercase hex digits (`vpc-0a1b2c3d4e5f67890`).

use rand::Rng;

pub fn new_id(prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    let digits: String = (0..17)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect();
    format!("{prefix}-{digits}")
}

/// The resource type EC2 names an id by (`vpc`, `subnet`, `security-group`), from its prefix.
pub fn resource_type(id: &str) -> Option<&'static str> {
    let (prefix, rest) = id.rsplit_once('-')?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match prefix {
        "vpc" => Some("vpc"),
        "subnet" => Some("subnet"),
        "sg" => Some("security-group"),
        _ => None,
    }
}

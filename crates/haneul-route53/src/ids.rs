//! Route 53's id formats: hosted zones `Z…`, changes `C…` (upper-case letters and digits).

use rand::Rng;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ID_CHARS: usize = 20;

pub fn new_id(prefix: char) -> String {
    let mut rng = rand::thread_rng();
    let body: String = (0..ID_CHARS)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{body}")
}

/// Accepts `Z123`, `/hostedzone/Z123` and `hostedzone/Z123`.
pub fn strip_prefix<'a>(id: &'a str, kind: &str) -> &'a str {
    let id = id.trim_start_matches('/');
    id.strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(id)
}

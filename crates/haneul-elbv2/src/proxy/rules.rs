//! Rule conditions compiled for the request path: ALB's wildcards (`*` any run, `?` one
//! character), case rules per field (paths case-sensitive; hosts, header values and query
//! strings not), regexes, CIDRs. Within a condition any value may match; every condition of a
//! rule must match.

use std::net::IpAddr;

use crate::model::RuleCondition;

/// An IPv4 or IPv6 CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let (ip, prefix) = text.split_once('/')?;
        let network: IpAddr = ip.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.network, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
            (_, ip) => ip,
        };
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// ALB's wildcard match: `*` any run of characters (also none), `?` exactly one.
pub fn wildcard_match(pattern: &[u8], text: &[u8], fold_case: bool) -> bool {
    let eq = |p: u8, t: u8| if fold_case { p.eq_ignore_ascii_case(&t) } else { p == t };
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || (pattern[p] != b'*' && eq(pattern[p], text[t]))) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Values one condition matches against: wildcards and regexes.
#[derive(Debug, Clone)]
struct Matcher {
    wildcards: Vec<String>,
    regexes: Vec<regex_lite::Regex>,
    fold_case: bool,
}

impl Matcher {
    fn new(values: &[String], regexes: &[String], fold_case: bool) -> Matcher {
        Matcher {
            wildcards: values.to_vec(),
            // Checked at CreateRule/ModifyRule; one that no longer compiles matches nothing.
            regexes: regexes.iter().filter_map(|r| regex_lite::Regex::new(r).ok()).collect(),
            fold_case,
        }
    }

    fn matches(&self, text: &str) -> bool {
        self.wildcards
            .iter()
            .any(|w| wildcard_match(w.as_bytes(), text.as_bytes(), self.fold_case))
            || self.regexes.iter().any(|r| r.is_match(text))
    }
}

#[derive(Debug, Clone)]
enum Condition {
    Host(Matcher),
    Path(Matcher),
    Header {
        /// Lower case.
        name: String,
        values: Matcher,
    },
    Method(Vec<String>),
    /// (key, value) pairs; a missing key matches any key.
    Query(Vec<(Option<String>, String)>),
    SourceIp(Vec<Cidr>),
}

/// A request's headers: parsed into a map (hyper) or as they came off the wire (HTTP/1.1 path).
#[derive(Clone, Copy)]
pub enum Headers<'a> {
    Map(&'a http::HeaderMap),
    Raw(&'a [httparse::Header<'a>]),
}

impl<'a> Headers<'a> {
    /// Every value of the header `name` (lower case).
    pub fn get_all<'s>(self, name: &'s str) -> Box<dyn Iterator<Item = &'a [u8]> + 's>
    where
        'a: 's,
    {
        match self {
            Headers::Map(m) => Box::new(m.get_all(name).iter().map(http::HeaderValue::as_bytes)),
            Headers::Raw(raw) => Box::new(
                raw.iter()
                    .filter(move |h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| h.value),
            ),
        }
    }
}

/// What a condition looks at in a request.
pub struct RequestView<'a> {
    pub host: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub method: &'a str,
    pub headers: Headers<'a>,
    pub client_ip: IpAddr,
}

impl Condition {
    fn compile(c: &RuleCondition) -> Option<Condition> {
        if let Some(h) = &c.host_header_config {
            return Some(Condition::Host(Matcher::new(&h.values, &h.regex_values, true)));
        }
        if let Some(p) = &c.path_pattern_config {
            return Some(Condition::Path(Matcher::new(&p.values, &p.regex_values, false)));
        }
        if let Some(h) = &c.http_header_config {
            let name = h.http_header_name.as_deref()?.to_ascii_lowercase();
            return Some(Condition::Header {
                name,
                values: Matcher::new(&h.values, &h.regex_values, true),
            });
        }
        if let Some(m) = &c.http_request_method_config {
            return Some(Condition::Method(m.values.clone()));
        }
        if let Some(q) = &c.query_string_config {
            let pairs = q
                .values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
                .collect();
            return Some(Condition::Query(pairs));
        }
        if let Some(s) = &c.source_ip_config {
            return Some(Condition::SourceIp(
                s.values.iter().filter_map(|v| Cidr::parse(v)).collect(),
            ));
        }
        None
    }

    fn matches(&self, r: &RequestView<'_>) -> bool {
        match self {
            Condition::Host(m) => {
                let host = r
                    .host
                    .rsplit_once(':')
                    .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
                    .map_or(r.host, |(h, _)| h);
                m.matches(host)
            }
            Condition::Path(m) => m.matches(r.path),
            Condition::Header { name, values } => r
                .headers
                .get_all(name)
                .any(|v| std::str::from_utf8(v).is_ok_and(|v| values.matches(v))),
            Condition::Method(methods) => methods.iter().any(|m| m == r.method),
            Condition::Query(pairs) => {
                let query = r.query.unwrap_or("");
                pairs.iter().any(|(key, value)| {
                    form_urlencoded::parse(query.as_bytes()).any(|(k, v)| {
                        key.as_ref()
                            .is_none_or(|key| wildcard_match(key.as_bytes(), k.as_bytes(), true))
                            && wildcard_match(value.as_bytes(), v.as_bytes(), true)
                    })
                })
            }
            Condition::SourceIp(cidrs) => cidrs.iter().any(|c| c.contains(r.client_ip)),
        }
    }
}

/// A rule's conditions, all of which must match.
#[derive(Debug, Clone)]
pub struct Conditions(Vec<Condition>);

impl Conditions {
    pub fn compile(conditions: &[RuleCondition]) -> Conditions {
        Conditions(conditions.iter().filter_map(Condition::compile).collect())
    }

    pub fn matches(&self, r: &RequestView<'_>) -> bool {
        self.0.iter().all(|c| c.matches(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_as_alb() {
        assert!(wildcard_match(b"/api/*", b"/api/x", false));
        assert!(wildcard_match(b"/api/*", b"/api/", false));
        assert!(!wildcard_match(b"/api/*", b"/api", false));
        assert!(!wildcard_match(b"/API/*", b"/api/x", false));
        assert!(wildcard_match(b"*.example.com", b"WWW.example.com", true));
        assert!(wildcard_match(b"/img/?.png", b"/img/a.png", false));
        assert!(!wildcard_match(b"/img/?.png", b"/img/ab.png", false));
        assert!(wildcard_match(b"*a*b*", b"xxaxxbxx", false));
        assert!(!wildcard_match(b"*a*b", b"xxaxxbxx", false));
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.1.2.3".parse().unwrap()));
        assert!(c.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("1.2.3.4".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
    }
}

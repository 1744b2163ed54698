//! IP networks (`198.51.100.0/24`, `2001:db8::/32`) for CIDR collections and IP-based routing.

use std::fmt;
use std::net::IpAddr;

/// Widest prefixes Route 53 accepts in a CIDR collection.
pub const MIN_IPV4_PREFIX: u8 = 0;
pub const MAX_IPV4_PREFIX: u8 = 24;
pub const MAX_IPV6_PREFIX: u8 = 48;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    /// The network address (host bits cleared).
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    /// Parses `addr/prefix`; host bits must be zero, as Route 53 requires.
    pub fn parse(text: &str) -> Option<IpNet> {
        let (addr, prefix) = text.split_once('/')?;
        let addr: IpAddr = addr.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > width {
            return None;
        }
        let net = IpNet { addr, prefix };
        (net.masked(addr) == bits(addr)).then_some(net)
    }

    /// Whether Route 53 takes this block into a collection (IPv4 up to /24, IPv6 up to /48).
    pub fn allowed_in_collection(&self) -> bool {
        match self.addr {
            IpAddr::V4(_) => (MIN_IPV4_PREFIX..=MAX_IPV4_PREFIX).contains(&self.prefix),
            IpAddr::V6(_) => self.prefix <= MAX_IPV6_PREFIX,
        }
    }

    fn masked(&self, ip: IpAddr) -> u128 {
        let width = if ip.is_ipv4() { 32 } else { 128 };
        let host_bits = u32::from(width - self.prefix);
        let value = bits(ip);
        if host_bits >= 128 {
            0
        } else {
            value >> host_bits << host_bits
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.addr.is_ipv4() == ip.is_ipv4() && self.masked(ip) == bits(self.addr)
    }

    pub fn overlaps(&self, other: &IpNet) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let net = IpNet::parse("198.51.100.0/24").unwrap();
        assert!(net.contains("198.51.100.7".parse().unwrap()));
        assert!(!net.contains("198.51.101.7".parse().unwrap()));
        assert!(IpNet::parse("198.51.100.1/24").is_none(), "host bits set");
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        let v6 = IpNet::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8::1".parse().unwrap()));
        assert!(!v6.contains("198.51.100.7".parse().unwrap()));
        assert!(!IpNet::parse("10.0.0.0/25").unwrap().allowed_in_collection());
    }
}

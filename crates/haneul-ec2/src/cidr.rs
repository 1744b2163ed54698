//! IPv4 CIDR blocks: parsing, containment and overlap.

use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub network: u32,
    pub prefix_len: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`; host bits must be zero, as EC2 requires for VPCs and subnets.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, len) = text.split_once('/')?;
        let addr: Ipv4Addr = addr.parse().ok()?;
        let prefix_len: u8 = len.parse().ok()?;
        if prefix_len > 32 {
            return None;
        }
        let network = u32::from(addr);
        let cidr = Cidr { network, prefix_len };
        (network & cidr.mask() == network).then_some(cidr)
    }

    pub fn mask(&self) -> u32 {
        if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix_len))
        }
    }

    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix_len))
    }

    pub fn contains(&self, other: &Cidr) -> bool {
        other.prefix_len >= self.prefix_len && other.network & self.mask() == self.network
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }

    pub fn contains_addr(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & self.mask() == self.network
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment_and_overlap() {
        let vpc = Cidr::parse("172.31.0.0/16").unwrap();
        let a = Cidr::parse("172.31.0.0/20").unwrap();
        let b = Cidr::parse("172.31.8.0/24").unwrap();
        assert!(vpc.contains(&a) && a.overlaps(&b) && !vpc.contains(&Cidr::parse("10.9.0.0/24").unwrap()));
        assert_eq!(Cidr::parse("10.0.0.1/16"), None);
        assert_eq!(a.size(), 4096);
    }
}

//! ELBSecurityPolicy-* names, their protocols and ciphers (as DescribeSSLPolicies lists them),
//! and what rustls serves for each: TLS 1.2 and 1.3 with AEAD suites. Policies that also allow
//! TLS 1.0/1.1 or CBC suites are served with their TLS 1.2+ AEAD part (rustls has no older ones).

/// One security policy.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub name: &'static str,
    pub protocols: &'static [&'static str],
    pub ciphers: &'static [&'static str],
}

const TLS13_SUITES: [&str; 3] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

const MODERN_12: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
];

const RESTRICTED_12: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
];

const LEGACY: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES128-SHA256",
    "AES128-SHA",
    "AES256-GCM-SHA384",
    "AES256-SHA256",
    "AES256-SHA",
];

const ALL_VERSIONS: &[&str] = &["TLSv1", "TLSv1.1", "TLSv1.2"];
const FROM_11: &[&str] = &["TLSv1.1", "TLSv1.2"];
const ONLY_12: &[&str] = &["TLSv1.2"];
const V12_13: &[&str] = &["TLSv1.2", "TLSv1.3"];
const ONLY_13: &[&str] = &["TLSv1.3"];
const ALL_13: &[&str] = &["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];
const FROM_11_13: &[&str] = &["TLSv1.1", "TLSv1.2", "TLSv1.3"];

pub const POLICIES: &[Policy] = &[
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-2-2021-06",
        protocols: V12_13,
        ciphers: MODERN_12,
    },
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
        protocols: V12_13,
        ciphers: RESTRICTED_12,
    },
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
        protocols: V12_13,
        ciphers: MODERN_12,
    },
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
        protocols: V12_13,
        ciphers: MODERN_12,
    },
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-1-2021-06",
        protocols: FROM_11_13,
        ciphers: MODERN_12,
    },
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-0-2021-06",
        protocols: ALL_13,
        ciphers: MODERN_12,
    },
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-3-2021-06",
        protocols: ONLY_13,
        ciphers: &TLS13_SUITES,
    },
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
        protocols: V12_13,
        ciphers: RESTRICTED_12,
    },
    Policy {
        name: "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
        protocols: ONLY_13,
        ciphers: &TLS13_SUITES,
    },
    Policy {
        name: "ELBSecurityPolicy-2016-08",
        protocols: ALL_VERSIONS,
        ciphers: LEGACY,
    },
    Policy {
        name: "ELBSecurityPolicy-TLS-1-1-2017-01",
        protocols: FROM_11,
        ciphers: LEGACY,
    },
    Policy {
        name: "ELBSecurityPolicy-TLS-1-2-2017-01",
        protocols: ONLY_12,
        ciphers: LEGACY,
    },
    Policy {
        name: "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
        protocols: ONLY_12,
        ciphers: LEGACY,
    },
    Policy {
        name: "ELBSecurityPolicy-FS-2018-06",
        protocols: ALL_VERSIONS,
        ciphers: LEGACY,
    },
    Policy {
        name: "ELBSecurityPolicy-FS-1-1-2019-08",
        protocols: FROM_11,
        ciphers: LEGACY,
    },
    Policy {
        name: "ELBSecurityPolicy-FS-1-2-2019-08",
        protocols: ONLY_12,
        ciphers: LEGACY,
    },
    Policy {
        name: "ELBSecurityPolicy-FS-1-2-Res-2019-08",
        protocols: ONLY_12,
        ciphers: RESTRICTED_12,
    },
    Policy {
        name: "ELBSecurityPolicy-FS-1-2-Res-2020-10",
        protocols: ONLY_12,
        ciphers: RESTRICTED_12,
    },
    Policy {
        name: "ELBSecurityPolicy-2015-05",
        protocols: ALL_VERSIONS,
        ciphers: LEGACY,
    },
];

pub fn policy(name: &str) -> Option<&'static Policy> {
    POLICIES.iter().find(|p| p.name == name)
}

impl Policy {
    /// The rustls protocol versions this policy serves.
    pub fn rustls_versions(&self) -> Vec<&'static rustls::SupportedProtocolVersion> {
        let mut v = Vec::new();
        if self.protocols.contains(&"TLSv1.3") {
            v.push(&rustls::version::TLS13);
        }
        if self.protocols.contains(&"TLSv1.2") {
            v.push(&rustls::version::TLS12);
        }
        v
    }

    /// The rustls cipher suites among this policy's ciphers.
    pub fn rustls_suites(&self) -> Vec<rustls::SupportedCipherSuite> {
        use rustls::crypto::ring::cipher_suite as cs;
        let map: [(&str, rustls::SupportedCipherSuite); 9] = [
            ("TLS_AES_128_GCM_SHA256", cs::TLS13_AES_128_GCM_SHA256),
            ("TLS_AES_256_GCM_SHA384", cs::TLS13_AES_256_GCM_SHA384),
            ("TLS_CHACHA20_POLY1305_SHA256", cs::TLS13_CHACHA20_POLY1305_SHA256),
            (
                "ECDHE-ECDSA-AES128-GCM-SHA256",
                cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            ),
            ("ECDHE-RSA-AES128-GCM-SHA256", cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
            (
                "ECDHE-ECDSA-AES256-GCM-SHA384",
                cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            ),
            ("ECDHE-RSA-AES256-GCM-SHA384", cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
            (
                "ECDHE-ECDSA-CHACHA20-POLY1305",
                cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            ),
            (
                "ECDHE-RSA-CHACHA20-POLY1305",
                cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            ),
        ];
        let mut suites: Vec<rustls::SupportedCipherSuite> = map
            .iter()
            .filter(|(name, _)| self.ciphers.contains(name))
            .map(|(_, s)| *s)
            .collect();
        // Legacy policies list TLS 1.3 nowhere but their listeners still negotiate 1.2 only.
        if self.protocols.contains(&"TLSv1.3") && !suites.iter().any(|s| s.version() == &rustls::version::TLS13) {
            suites.extend(map[..3].iter().map(|(_, s)| *s));
        }
        suites
    }
}

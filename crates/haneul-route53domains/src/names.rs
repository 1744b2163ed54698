//! Which names the local registrar takes: a label under a TLD (or under one of the common
//! two-label public suffixes), in letters, digits and hyphens.

use crate::error::DomainsError;

/// Second-level public suffixes registered under as if they were TLDs.
const TWO_LABEL_SUFFIXES: &[&str] = &[
    "co.uk", "org.uk", "me.uk", "com.au", "net.au", "org.au", "co.nz", "co.jp", "co.kr", "com.br", "com.mx",
];
/// Longest domain name Route 53 Domains accepts.
const MAX_NAME_CHARS: usize = 255;

/// A registrable name split into (normalized name, TLD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName {
    pub name: String,
    pub tld: String,
}

fn valid_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

pub fn parse(raw: &str) -> Result<DomainName, DomainsError> {
    let name = raw.trim_end_matches('.').to_ascii_lowercase();
    let invalid = || DomainsError::InvalidInput(format!("The domain name {raw} is not valid."));
    if name.is_empty() || name.len() > MAX_NAME_CHARS {
        return Err(invalid());
    }
    let labels: Vec<&str> = name.split('.').collect();
    if !labels.iter().all(|l| valid_label(l)) {
        return Err(invalid());
    }
    let tld = match labels.as_slice() {
        [_, tld] if tld.bytes().all(|b| b.is_ascii_alphabetic()) && tld.len() >= 2 => tld.to_string(),
        [_, second, top] if TWO_LABEL_SUFFIXES.contains(&format!("{second}.{top}").as_str()) => {
            format!("{second}.{top}")
        }
        [_] => {
            return Err(DomainsError::UnsupportedTld(format!(
                "{raw} is a top-level domain; register a name under it (example.{name})."
            )))
        }
        _ => {
            return Err(DomainsError::UnsupportedTld(format!(
            "Amazon Route 53 does not support the top-level domain of {raw}; register a second-level name such as {}.",
            labels[labels.len() - 2..].join(".")
        )))
        }
    };
    Ok(DomainName { name, tld })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names_into_tlds() {
        assert_eq!(parse("Example.TEST.").unwrap().tld, "test");
        assert_eq!(parse("shop.co.uk").unwrap().tld, "co.uk");
        assert!(matches!(parse("a.b.example.com"), Err(DomainsError::UnsupportedTld(_))));
        assert!(matches!(parse("-bad.test"), Err(DomainsError::InvalidInput(_))));
        assert!(matches!(parse("test"), Err(DomainsError::UnsupportedTld(_))));
    }
}

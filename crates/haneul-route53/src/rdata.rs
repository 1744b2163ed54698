//! Checks on record values per type, with Route 53's messages.

use std::net::{Ipv4Addr, Ipv6Addr};

fn fatal(problem: &str, detail: &str, value: &str) -> String {
    format!("Invalid Resource Record: 'FATAL problem: {problem} ({detail}) encountered with '{value}''")
}

/// Checks one value of a record of type `rtype`.
pub fn check_value(rtype: &str, value: &str) -> Result<(), String> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let ok = match rtype {
        "A" => value.parse::<Ipv4Addr>().is_ok(),
        "AAAA" => value.parse::<Ipv6Addr>().is_ok(),
        "TXT" | "SPF" => {
            if !(value.starts_with('"') && value.ends_with('"') && value.len() >= 2) {
                return Err(fatal(
                    "InvalidCharacterString",
                    "Value should be enclosed in quotation marks",
                    value,
                ));
            }
            true
        }
        "MX" => fields.len() == 2 && fields[0].parse::<u16>().is_ok(),
        "SRV" => fields.len() == 4 && fields[..3].iter().all(|f| f.parse::<u16>().is_ok()),
        "CAA" => fields.len() >= 3 && fields[0].parse::<u8>().is_ok(),
        "CNAME" | "NS" | "PTR" => !value.trim().is_empty() && !value.contains(' '),
        _ => !value.trim().is_empty(),
    };
    if ok {
        return Ok(());
    }
    let problem = match rtype {
        "A" => ("ARRDATAIllegalIPv4Address", "Value is not a valid IPv4 address"),
        "AAAA" => ("AAAARRDATAIllegalIPv6Address", "Value is not a valid IPv6 address"),
        "MX" => (
            "MXRRDATANotTwoFields",
            "Value should be two fields: priority and domain name",
        ),
        "SRV" => (
            "SRVRRDATANotFourFields",
            "Value should be four fields: priority, weight, port and target",
        ),
        _ => ("InvalidRRDATA", "Value is not valid for the record type"),
    };
    Err(fatal(problem.0, problem.1, value))
}

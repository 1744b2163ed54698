//! `--latency-table`: measured latencies that latency routing uses instead of distance.
//! A JSON object from client networks to the latency (ms) of each region seen from there:
//! `{"198.51.100.0/24": {"eu-central-1": 12, "us-east-1": 95}, "0.0.0.0/0": {"us-east-1": 40}}`.
//! The most specific network holding the client decides; regions it does not list (or a client
//! no network holds) fall back to the distance estimate.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use crate::cidr::IpNet;

#[derive(Debug, thiserror::Error)]
pub enum LatencyTableError {
    #[error("cannot read the latency table {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the latency table {path} is not a JSON object of networks to {{region: milliseconds}}: {message}")]
    Parse { path: String, message: String },
}

#[derive(Debug, Default)]
pub struct LatencyTable {
    /// (network, region → ms), most specific networks first.
    rows: Vec<(IpNet, HashMap<String, f64>)>,
}

impl LatencyTable {
    pub fn open(path: &Path) -> Result<LatencyTable, LatencyTableError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LatencyTableError::Read {
            path: shown.clone(),
            source,
        })?;
        LatencyTable::parse(&text).map_err(|message| LatencyTableError::Parse { path: shown, message })
    }

    pub fn parse(text: &str) -> Result<LatencyTable, String> {
        let raw: HashMap<String, HashMap<String, f64>> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut rows = Vec::with_capacity(raw.len());
        for (network, regions) in raw {
            let net =
                IpNet::parse(&network).ok_or_else(|| format!("{network} is not a network such as 198.51.100.0/24"))?;
            if let Some((region, ms)) = regions.iter().find(|(_, ms)| !ms.is_finite() || **ms < 0.0) {
                return Err(format!(
                    "{network}: {region} has latency {ms}, not a number of milliseconds"
                ));
            }
            rows.push((net, regions));
        }
        rows.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix));
        Ok(LatencyTable { rows })
    }

    /// The latencies seen from `ip`'s most specific network, if any network holds it.
    pub fn row(&self, ip: IpAddr) -> Option<&HashMap<String, f64>> {
        self.rows.iter().find(|(net, _)| net.contains(ip)).map(|(_, r)| r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_network_decides() {
        let table = LatencyTable::parse(r#"{"198.51.100.0/24": {"eu-central-1": 12}, "0.0.0.0/0": {"us-east-1": 40}}"#)
            .unwrap();
        assert_eq!(
            table.row("198.51.100.9".parse().unwrap()).unwrap()["eu-central-1"],
            12.0
        );
        assert!(table
            .row("192.0.2.1".parse().unwrap())
            .unwrap()
            .contains_key("us-east-1"));
        assert!(table.row("2001:db8::1".parse().unwrap()).is_none());
        assert!(LatencyTable::parse(r#"{"nonsense": {}}"#).is_err());
        assert!(LatencyTable::parse(r#"{"10.0.0.0/8": {"us-east-1": -1}}"#).is_err());
    }
}

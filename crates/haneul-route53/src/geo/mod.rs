//! Where a DNS client is: a MaxMind-format database (`--geoip-db`) maps an address (the EDNS
//! client subnet, else the query's source) to continent, country, subdivision and
//! coordinates; [`regions`] places AWS regions on the map so latency and geoproximity
//! routing can measure distances.

pub mod latency;
pub mod regions;

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum GeoDbError {
    #[error("cannot open the GeoIP database {path}: {source}")]
    Open {
        path: String,
        source: maxminddb::MaxMindDbError,
    },
}

/// Everything that places clients: the GeoIP database and the latency table, each optional.
#[derive(Debug, Default)]
pub struct Geo {
    pub db: Option<GeoDb>,
    pub latency: Option<latency::LatencyTable>,
}

/// A client's place, as far as the database knows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    /// Two-letter continent code (`EU`, `NA`, …).
    pub continent: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// ISO 3166-2 subdivision code without the country (`CA` for California).
    pub subdivision: Option<String>,
    /// (latitude, longitude) in degrees.
    pub coordinates: Option<(f64, f64)>,
}

/// A MaxMind DB (GeoIP2/GeoLite2 City or Country layout), read into memory once.
pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb")
            .field("database_type", &self.reader.metadata.database_type)
            .finish()
    }
}

#[derive(Deserialize)]
struct Code {
    code: Option<String>,
}

#[derive(Deserialize)]
struct Iso {
    iso_code: Option<String>,
}

#[derive(Deserialize)]
struct Coordinates {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[derive(Deserialize)]
struct Record {
    continent: Option<Code>,
    country: Option<Iso>,
    subdivisions: Option<Vec<Iso>>,
    location: Option<Coordinates>,
}

impl GeoDb {
    pub fn open(path: &Path) -> Result<GeoDb, GeoDbError> {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|source| GeoDbError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Ok(GeoDb { reader })
    }

    /// The place of `ip`, or `None` when the database has nothing for it.
    pub fn locate(&self, ip: IpAddr) -> Option<Location> {
        let ip = match ip {
            IpAddr::V6(v6) if self.reader.metadata.ip_version == 4 => IpAddr::V4(v6.to_ipv4_mapped()?),
            other => other,
        };
        let record: Record = self.reader.lookup(ip).ok()?.decode().ok()??;
        let coordinates = record.location.and_then(|l| Some((l.latitude?, l.longitude?)));
        Some(Location {
            continent: record.continent.and_then(|c| c.code),
            country: record.country.and_then(|c| c.iso_code),
            subdivision: record
                .subdivisions
                .and_then(|s| s.into_iter().next())
                .and_then(|s| s.iso_code),
            coordinates,
        })
    }
}

/// Mean Earth radius used for great-circle distances.
const EARTH_RADIUS_KM: f64 = 6371.0;

/// Great-circle distance between two (latitude, longitude) points, in kilometres.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// Route 53's geoproximity bias applied to a distance: a positive bias shrinks it
/// (`d × (1 − b/100)`), a negative one grows it (`d ÷ (1 + b/100)`).
pub fn biased_distance_km(distance_km: f64, bias: i64) -> f64 {
    let b = bias.clamp(-99, 99) as f64 / 100.0;
    if b >= 0.0 {
        distance_km * (1.0 - b)
    } else {
        distance_km / (1.0 + b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bias_follows_route53s_formulas() {
        assert_eq!(biased_distance_km(100.0, 0), 100.0);
        assert!((biased_distance_km(100.0, 50) - 50.0).abs() < 1e-9);
        assert!((biased_distance_km(100.0, -50) - 200.0).abs() < 1e-9);
    }

    #[test]
    fn distances_are_great_circle() {
        let london = (51.5, -0.12);
        let paris = (48.86, 2.35);
        let d = distance_km(london, paris);
        assert!((330.0..360.0).contains(&d), "{d}");
        assert_eq!(distance_km(paris, paris), 0.0);
    }
}

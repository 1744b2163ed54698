//! Routing policies: which one a record set uses, from the members it sets.

use crate::model::ResourceRecordSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Simple,
    Weighted,
    Failover,
    Latency,
    Geolocation,
    Geoproximity,
    MultiValue,
    IpBased,
}

impl Policy {
    pub fn of(r: &ResourceRecordSet) -> Policy {
        if r.weight.is_some() {
            Policy::Weighted
        } else if r.failover.is_some() {
            Policy::Failover
        } else if r.region.is_some() {
            Policy::Latency
        } else if r.geo_location.is_some() {
            Policy::Geolocation
        } else if r.geo_proximity_location.is_some() {
            Policy::Geoproximity
        } else if r.multi_value_answer.is_some() {
            Policy::MultiValue
        } else if r.cidr_routing_config.is_some() {
            Policy::IpBased
        } else {
            Policy::Simple
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Policy::Simple => "simple",
            Policy::Weighted => "weighted",
            Policy::Failover => "failover",
            Policy::Latency => "latency",
            Policy::Geolocation => "geolocation",
            Policy::Geoproximity => "geoproximity",
            Policy::MultiValue => "multivalue answer",
            Policy::IpBased => "IP-based",
        }
    }
}

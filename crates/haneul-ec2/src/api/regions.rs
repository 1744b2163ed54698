//! DescribeRegions, DescribeAvailabilityZones.

use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::error::Ec2Error;
use crate::filter::{self, Filterable};
use crate::generated as api_types;
use crate::model::Tag;
use crate::regions::{self, REGIONS};
use crate::{check_dry_run, parse};

struct RegionRow {
    name: String,
}

impl Filterable for RegionRow {
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "region-name" => Some(vec![self.name.clone()]),
            "endpoint" => Some(vec![format!("ec2.{}.amazonaws.com", self.name)]),
            "opt-in-status" => Some(vec!["opt-in-not-required".into()]),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

pub fn describe_regions(_ctx: &RequestContext, input: Value) -> Result<Value, Ec2Error> {
    let input: api_types::DescribeRegionsRequest = parse(input)?;
    check_dry_run(input.dry_run)?;
    for name in &input.region_names {
        if !REGIONS.contains(&name.as_str()) {
            return Err(Ec2Error::invalid(format!("Invalid region: {name}")));
        }
    }
    let mut out = Vec::new();
    for name in REGIONS {
        if !input.region_names.is_empty() && !input.region_names.iter().any(|n| n == name) {
            continue;
        }
        let row = RegionRow { name: name.to_string() };
        if filter::matches(&row, &input.filters)? {
            out.push(json!({
                "RegionName": name,
                "Endpoint": format!("ec2.{name}.amazonaws.com"),
                "OptInStatus": "opt-in-not-required",
            }));
        }
    }
    Ok(json!({ "Regions": out }))
}

impl Filterable for regions::Zone {
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let v = match name {
            "zone-name" => self.name.clone(),
            "zone-id" => self.id.clone(),
            "region-name" | "group-name" | "network-border-group" => self.region.clone(),
            "state" => "available".into(),
            "zone-type" => "availability-zone".into(),
            "opt-in-status" => "opt-in-not-required".into(),
            _ => return None,
        };
        Some(vec![v])
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

pub fn describe_availability_zones(ctx: &RequestContext, input: Value) -> Result<Value, Ec2Error> {
    let input: api_types::DescribeAvailabilityZonesRequest = parse(input)?;
    check_dry_run(input.dry_run)?;
    let region = &ctx.region;
    for name in &input.zone_names {
        if regions::zone_by_name(region, name).is_none() {
            return Err(Ec2Error::invalid(format!(
                "The zone '{name}' does not exist in the region"
            )));
        }
    }
    for id in &input.zone_ids {
        if regions::zone_by_id(region, id).is_none() {
            return Err(Ec2Error::invalid(format!(
                "The zone ID '{id}' does not exist in the region"
            )));
        }
    }
    let mut out = Vec::new();
    for zone in regions::zones(region) {
        let named = input.zone_names.is_empty() && input.zone_ids.is_empty()
            || input.zone_names.contains(&zone.name)
            || input.zone_ids.contains(&zone.id);
        if named && filter::matches(&zone, &input.filters)? {
            out.push(json!({
                "State": "available",
                "OptInStatus": "opt-in-not-required",
                "Messages": [],
                "RegionName": zone.region,
                "ZoneName": zone.name,
                "ZoneId": zone.id,
                "GroupName": zone.region,
                "NetworkBorderGroup": zone.region,
                "ZoneType": "availability-zone",
            }));
        }
    }
    Ok(json!({ "AvailabilityZones": out }))
}

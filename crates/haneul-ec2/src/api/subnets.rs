//! CreateSubnet, DescribeSubnets, DeleteSubnet.

use haneul_store::Store;
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::api::tags::tags_for;
use crate::api::vpcs::parse_block;
use crate::cidr::Cidr;
use crate::describe::{self, Query, SUBNET, VPC};
use crate::error::Ec2Error;
use crate::filter::Filterable;
use crate::generated as api_types;
use crate::model::*;
use crate::{check_dry_run, defaults, parse, regions, scope};

impl Filterable for Subnet {
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let one = |s: &str| Some(vec![s.to_string()]);
        let flag = |b: bool| Some(vec![b.to_string()]);
        match name {
            "subnet-id" => one(&self.subnet_id),
            "subnet-arn" => one(&self.subnet_arn),
            "vpc-id" => one(&self.vpc_id),
            "cidr" | "cidr-block" | "cidrBlock" => one(&self.cidr_block),
            "availability-zone" | "availabilityZone" => one(&self.availability_zone),
            "availability-zone-id" | "availabilityZoneId" => one(&self.availability_zone_id),
            "available-ip-address-count" => one(&self.available_ip_address_count.to_string()),
            "default-for-az" | "defaultForAz" => flag(self.default_for_az),
            "map-public-ip-on-launch" => flag(self.map_public_ip_on_launch),
            "state" => one(&self.state),
            "owner-id" => one(&self.owner_id),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

pub async fn create_subnet(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Ec2Error> {
    let input: api_types::CreateSubnetRequest = parse(input)?;
    VPC.check_id(&input.vpc_id)?;
    let Some(cidr_text) = input.cidr_block.clone() else {
        return Err(Ec2Error::invalid(
            "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.",
        ));
    };
    let cidr = parse_block(&cidr_text, "InvalidSubnet.Range", "cidrBlock")?;
    let tags = tags_for(&input.tag_specifications, "subnet")?;
    let zone = pick_zone(
        &ctx.region,
        input.availability_zone.as_deref(),
        input.availability_zone_id.as_deref(),
        &cidr,
    )?;
    let scope = scope(ctx);
    let subnet = store
        .write(move |t| {
            defaults::ensure_in(t, &scope)?;
            let vpc: Vpc = t
                .get(&scope, KIND_VPC, &input.vpc_id)?
                .ok_or_else(|| VPC.not_found(&input.vpc_id))?;
            let vpc_cidr = Cidr::parse(&vpc.cidr_block);
            if !vpc_cidr.is_some_and(|v| v.contains(&cidr)) {
                return Err(Ec2Error::InvalidRange {
                    code: "InvalidSubnet.Range",
                    cidr: cidr_text,
                });
            }
            let siblings = t.list::<Subnet>(&scope, KIND_SUBNET)?;
            let conflict = siblings
                .iter()
                .filter(|(_, s)| s.vpc_id == vpc.vpc_id)
                .any(|(_, s)| Cidr::parse(&s.cidr_block).is_some_and(|c| c.overlaps(&cidr)));
            if conflict {
                return Err(Ec2Error::SubnetConflict { cidr: cidr_text });
            }
            check_dry_run(input.dry_run)?;
            let mut subnet = defaults::new_subnet(&scope, &vpc.vpc_id, cidr, &zone, false);
            subnet.tags = tags;
            t.put(&scope, KIND_SUBNET, &subnet.subnet_id, &subnet)?;
            Ok(subnet)
        })
        .await?;
    Ok(json!({ "Subnet": subnet }))
}

/// The zone a subnet goes in: the one named, else one chosen from the CIDR (stable).
fn pick_zone(region: &str, name: Option<&str>, id: Option<&str>, cidr: &Cidr) -> Result<regions::Zone, Ec2Error> {
    let zones = regions::zones(region);
    let valid = || zones.iter().map(|z| z.name.clone()).collect::<Vec<_>>().join(", ");
    if let Some(name) = name {
        return regions::zone_by_name(region, name).ok_or_else(|| {
            Ec2Error::invalid(format!(
                "Value ({name}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: {}.",
                valid()
            ))
        });
    }
    if let Some(id) = id {
        return regions::zone_by_id(region, id)
            .ok_or_else(|| Ec2Error::invalid(format!("Value ({id}) for parameter availabilityZoneId is invalid.")));
    }
    let index = (cidr.network >> (32 - u32::from(cidr.prefix_len))) as usize % zones.len().max(1);
    zones
        .into_iter()
        .nth(index)
        .ok_or_else(|| Ec2Error::invalid(format!("No availability zones in region {region}")))
}

pub async fn describe_subnets(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Ec2Error> {
    let input: api_types::DescribeSubnetsRequest = parse(input)?;
    check_dry_run(input.dry_run)?;
    let query = Query {
        ids: &input.subnet_ids,
        filters: &input.filters,
        max_results: input.max_results,
        next_token: input.next_token.as_deref(),
    };
    let page = describe::read_and_select::<Subnet>(store, scope(ctx), KIND_SUBNET, &SUBNET, &query).await?;
    Ok(json!({ "Subnets": page.items, "NextToken": page.next_token }))
}

pub async fn delete_subnet(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Ec2Error> {
    let input: api_types::DeleteSubnetRequest = parse(input)?;
    SUBNET.check_id(&input.subnet_id)?;
    let scope = scope(ctx);
    store
        .write(move |t| {
            defaults::ensure_in(t, &scope)?;
            if !t.exists(&scope, KIND_SUBNET, &input.subnet_id)? {
                return Err(SUBNET.not_found(&input.subnet_id));
            }
            check_dry_run(input.dry_run)?;
            t.delete(&scope, KIND_SUBNET, &input.subnet_id)?;
            Ok(())
        })
        .await?;
    Ok(json!({}))
}

//! Private hosted zones and their VPCs: AssociateVPCWithHostedZone,
//! DisassociateVPCFromHostedZone, ListHostedZonesByVPC, and the VPC checks CreateHostedZone
//! shares. VPC ids are `haneul-ec2`'s: a VPC must exist in the account and region named.

use haneul_store::{Scope, Store, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::api::changes::{change_info, record_change};
use crate::api::hosted_zones::load_zone;
use crate::error::Route53Error;
use crate::generated::{self as api_types, VPC};
use crate::model::{Zone, ZoneVpc, KIND_ZONE};
use crate::{names, parse, scope};

/// Most VPCs one private zone may be associated with (AWS's default quota).
pub const MAX_VPCS_PER_ZONE: usize = 300;
/// Page size of ListHostedZonesByVPC when the request gives none.
pub const DEFAULT_MAX_RESULTS: usize = 100;

/// The VPC as given, checked to exist in `account`'s EC2 (its default VPC is made on first use,
/// as EC2 does, so an account's default VPC always resolves).
pub fn check_vpc(txn: &mut Txn<'_>, account_id: &str, vpc: &VPC) -> Result<ZoneVpc, Route53Error> {
    let (Some(vpc_id), Some(vpc_region)) = (vpc.vpc_id.clone(), vpc.vpc_region.clone()) else {
        return Err(Route53Error::InvalidInput(
            "When you're associating a VPC with a private hosted zone, you must specify values for VPCId and VPCRegion.".into(),
        ));
    };
    if !haneul_ec2::regions::REGIONS.contains(&vpc_region.as_str()) {
        return Err(Route53Error::InvalidVpcId(format!(
            "The region {vpc_region} is not available in this partition."
        )));
    }
    let ec2_scope = Scope::new(account_id.to_string(), vpc_region.clone());
    haneul_ec2::defaults::ensure_in(txn, &ec2_scope).map_err(|e| Route53Error::InvalidVpcId(e.to_string()))?;
    if !txn.exists(&ec2_scope, haneul_ec2::model::KIND_VPC, &vpc_id)? {
        return Err(Route53Error::InvalidVpcId(format!(
            "The VPC ID '{vpc_id}' does not exist in region {vpc_region}."
        )));
    }
    Ok(ZoneVpc { vpc_id, vpc_region })
}

/// `ConflictingDomainExists` when `vpc` is already associated with a private zone of `name`.
pub fn check_no_conflict(txn: &Txn<'_>, scope: &Scope, name: &str, vpc: &ZoneVpc) -> Result<(), Route53Error> {
    let taken = txn
        .list::<Zone>(scope, KIND_ZONE)?
        .into_iter()
        .any(|(_, z)| z.private_zone && z.name == name && z.vpcs.contains(vpc));
    if taken {
        return Err(Route53Error::ConflictingDomainExists(format!(
            "The VPC {} in region {} has already been associated with the hosted zone {} with the same domain name.",
            vpc.vpc_id,
            vpc.vpc_region,
            names::for_output(name)
        )));
    }
    Ok(())
}

pub fn vpcs_output(zone: &Zone) -> Vec<Value> {
    zone.vpcs
        .iter()
        .map(|v| json!({ "VPCRegion": v.vpc_region, "VPCId": v.vpc_id }))
        .collect()
}

pub async fn associate_vpc_with_hosted_zone(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::AssociateVPCWithHostedZoneRequest = parse(input)?;
    let scope = scope(ctx);
    let account_id = ctx.account_id.clone();
    let change = store
        .write(move |t| {
            let mut zone = load_zone(t, &scope, &input.hosted_zone_id)?;
            if !zone.private_zone {
                return Err(Route53Error::PublicZoneVpcAssociation(format!(
                    "The hosted zone {} is a public hosted zone; you can associate VPCs only with private hosted zones.",
                    zone.id
                )));
            }
            let vpc = check_vpc(t, &account_id, &input.vpc)?;
            check_no_conflict(t, &scope, &zone.name, &vpc)?;
            if zone.vpcs.len() >= MAX_VPCS_PER_ZONE {
                return Err(Route53Error::LimitsExceeded(format!(
                    "A hosted zone can be associated with at most {MAX_VPCS_PER_ZONE} VPCs."
                )));
            }
            zone.vpcs.push(vpc);
            t.put(&scope, KIND_ZONE, &zone.id, &zone)?;
            record_change(t, &scope, input.comment)
        })
        .await?;
    Ok(json!({ "ChangeInfo": change_info(&change, "PENDING") }))
}

pub async fn disassociate_vpc_from_hosted_zone(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::DisassociateVPCFromHostedZoneRequest = parse(input)?;
    let scope = scope(ctx);
    let change = store
        .write(move |t| {
            let mut zone = load_zone(t, &scope, &input.hosted_zone_id)?;
            let vpc_id = input.vpc.vpc_id.clone().unwrap_or_default();
            let region = input.vpc.vpc_region.clone();
            let position = zone
                .vpcs
                .iter()
                .position(|v| v.vpc_id == vpc_id && region.as_ref().is_none_or(|r| r == &v.vpc_region));
            let Some(position) = position else {
                return Err(Route53Error::VpcAssociationNotFound(vpc_id, zone.id));
            };
            if zone.vpcs.len() == 1 {
                return Err(Route53Error::LastVpcAssociation);
            }
            zone.vpcs.remove(position);
            t.put(&scope, KIND_ZONE, &zone.id, &zone)?;
            record_change(t, &scope, input.comment)
        })
        .await?;
    Ok(json!({ "ChangeInfo": change_info(&change, "PENDING") }))
}

pub async fn list_hosted_zones_by_vpc(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::ListHostedZonesByVPCRequest = parse(input)?;
    let max = match input.max_items.as_deref() {
        None => DEFAULT_MAX_RESULTS,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=DEFAULT_MAX_RESULTS).contains(n))
            .ok_or_else(|| {
                Route53Error::InvalidInput(format!("MaxItems must be between 1 and {DEFAULT_MAX_RESULTS}: {text}"))
            })?,
    };
    let scope = scope(ctx);
    let vpc = ZoneVpc {
        vpc_id: input.vpc_id.clone(),
        vpc_region: input.vpc_region.clone(),
    };
    let mut zones: Vec<Zone> = store
        .read(move |t| Ok::<_, Route53Error>(t.list::<Zone>(&scope, KIND_ZONE)?))
        .await?
        .into_iter()
        .map(|(_, z)| z)
        .filter(|z| z.vpcs.contains(&vpc))
        .collect();
    zones.sort_by(|a, b| a.id.cmp(&b.id));
    let start = match input.next_token.as_deref() {
        None => 0,
        Some(token) => zones
            .iter()
            .position(|z| z.id.as_str() >= token)
            .ok_or_else(|| Route53Error::InvalidInput(format!("The value of NextToken is not valid: {token}")))?,
    };
    let page: Vec<Value> = zones
        .iter()
        .skip(start)
        .take(max)
        .map(|z| {
            json!({
                "HostedZoneId": z.id,
                "Name": names::for_output(&z.name),
                "Owner": { "OwningAccount": ctx.account_id },
            })
        })
        .collect();
    Ok(json!({
        "HostedZoneSummaries": page,
        "MaxItems": max.to_string(),
        "NextToken": zones.get(start + max).map(|z| z.id.clone()),
    }))
}

//! # haneul-ec2: the minimal EC2 the other services stand on
//!
//! Regions and availability zones, the default VPC (created per account and region on first
//! use), VPCs, subnets, security groups with their rules, and tags — with EC2's id formats,
//! filters, pagination and error codes. Load balancers, private hosted zones and ECS tasks
//! reference these ids.
//!
//! Layout: `api/` has one module per resource family (the operation name finds the code),
//! [`model`] the stored records, [`defaults`] the default VPC, [`filter`] and [`page`] the
//! Describe* machinery. **API boundary:** inputs arrive as the wire's validated tree; this
//! crate never sees XML.

pub mod api;
pub mod cidr;
pub mod defaults;
pub mod describe;
pub mod error;
pub mod filter;
/// Typed input/output structs, generated from the model (see `codegen.txt`).
#[rustfmt::skip]
pub mod generated;
pub mod ids;
pub mod model;
pub mod page;
pub mod regions;

use haneul_store::{Scope, Store};
use haneul_wire::{AwsError, BoxFuture, RequestContext, Service};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Ec2Error;

/// The botocore model this crate serves.
pub const MODEL: &str = include_str!("../../../models/ec2.json");

pub struct Ec2 {
    store: Store,
}

impl Ec2 {
    pub fn new(store: Store) -> Ec2 {
        Ec2 { store }
    }
}

/// The account and region a request acts in.
pub fn scope(ctx: &RequestContext) -> Scope {
    Scope::new(ctx.account_id.clone(), ctx.region.clone())
}

/// Reads the validated input tree into an operation's input struct.
pub(crate) fn parse<T: DeserializeOwned>(input: Value) -> Result<T, Ec2Error> {
    serde_json::from_value(input).map_err(|e| Ec2Error::invalid(format!("Invalid request: {e}")))
}

/// `DryRun=true`: answer as EC2 does once permissions are checked, and change nothing.
pub(crate) fn check_dry_run(dry_run: Option<bool>) -> Result<(), Ec2Error> {
    match dry_run {
        Some(true) => Err(Ec2Error::DryRun),
        _ => Ok(()),
    }
}

impl Service for Ec2 {
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>> {
        Box::pin(async move {
            let store = &self.store;
            let result = match operation {
                "DescribeRegions" => api::regions::describe_regions(ctx, input),
                "DescribeAvailabilityZones" => api::regions::describe_availability_zones(ctx, input),
                "CreateVpc" => api::vpcs::create_vpc(store, ctx, input).await,
                "DescribeVpcs" => api::vpcs::describe_vpcs(store, ctx, input).await,
                "DeleteVpc" => api::vpcs::delete_vpc(store, ctx, input).await,
                "CreateSubnet" => api::subnets::create_subnet(store, ctx, input).await,
                "DescribeSubnets" => api::subnets::describe_subnets(store, ctx, input).await,
                "DeleteSubnet" => api::subnets::delete_subnet(store, ctx, input).await,
                "CreateSecurityGroup" => api::security_groups::create_security_group(store, ctx, input).await,
                "DescribeSecurityGroups" => api::security_groups::describe_security_groups(store, ctx, input).await,
                "DeleteSecurityGroup" => api::security_groups::delete_security_group(store, ctx, input).await,
                "DescribeSecurityGroupRules" => {
                    api::security_groups::describe_security_group_rules(store, ctx, input).await
                }
                "AuthorizeSecurityGroupIngress" => api::rules::authorize(store, ctx, input, false).await,
                "AuthorizeSecurityGroupEgress" => api::rules::authorize(store, ctx, input, true).await,
                "RevokeSecurityGroupIngress" => api::rules::revoke(store, ctx, input, false).await,
                "RevokeSecurityGroupEgress" => api::rules::revoke(store, ctx, input, true).await,
                "CreateTags" => api::tags::create_tags(store, ctx, input).await,
                "DeleteTags" => api::tags::delete_tags(store, ctx, input).await,
                "DescribeTags" => api::tags::describe_tags(store, ctx, input).await,
                other => return Err(AwsError::not_implemented("EC2", other)),
            };
            result.map_err(AwsError::from)
        })
    }
}

//! # haneul-elbv2: Application Load Balancers
//!
//! The ELBv2 API (query protocol) — so far load balancers (each with its own address from
//! `--lb-cidr`, its DNSName served by haneul's DNS) and target groups. Listeners, rules,
//! targets, health checks and the proxy data plane come next (see the note).

pub mod api;
pub mod attributes;
pub mod error;
/// Typed input/output structs, generated from the model (see `codegen.txt`).
#[rustfmt::skip]
pub mod generated;
pub mod model;
pub mod tags;
pub mod targets;

use haneul_store::{Scope, Store};
use haneul_wire::{AwsError, BoxFuture, RequestContext, Service};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ElbError;

/// The botocore model this crate serves.
pub const MODEL: &str = include_str!("../../../models/elbv2.json");

pub struct Elbv2 {
    store: Store,
    /// `--lb-cidr`: where load balancers' addresses come from.
    lb_cidr: String,
}

impl Elbv2 {
    pub fn new(store: Store, lb_cidr: String) -> Elbv2 {
        Elbv2 { store, lb_cidr }
    }
}

/// ELBv2 is regional.
pub fn scope(ctx: &RequestContext) -> Scope {
    Scope::new(ctx.account_id.clone(), ctx.region.clone())
}

pub(crate) fn parse<T: DeserializeOwned>(input: Value) -> Result<T, ElbError> {
    serde_json::from_value(input).map_err(|e| ElbError::Validation(format!("Invalid request: {e}")))
}

impl Service for Elbv2 {
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>> {
        Box::pin(async move {
            let store = &self.store;
            let result = match operation {
                "CreateLoadBalancer" => api::create_load_balancer(store, &self.lb_cidr, ctx, input).await,
                "DescribeLoadBalancers" => api::describe_load_balancers(store, ctx, input).await,
                "DeleteLoadBalancer" => api::delete_load_balancer(store, ctx, input).await,
                "CreateTargetGroup" => api::create_target_group(store, ctx, input).await,
                "DescribeTargetGroups" => api::describe_target_groups(store, ctx, input).await,
                "DeleteTargetGroup" => api::delete_target_group(store, ctx, input).await,
                "RegisterTargets" => targets::register_targets(store, ctx, input).await,
                "DeregisterTargets" => targets::deregister_targets(store, ctx, input).await,
                "DescribeTargetHealth" => targets::describe_target_health(store, ctx, input).await,
                "DescribeLoadBalancerAttributes" => {
                    attributes::describe_load_balancer_attributes(store, ctx, input).await
                }
                "ModifyLoadBalancerAttributes" => attributes::modify_load_balancer_attributes(store, ctx, input).await,
                "ModifyTargetGroup" => api::modify_target_group(store, ctx, input).await,
                "DescribeTargetGroupAttributes" => {
                    attributes::describe_target_group_attributes(store, ctx, input).await
                }
                "ModifyTargetGroupAttributes" => attributes::modify_target_group_attributes(store, ctx, input).await,
                "AddTags" => tags::add_tags(store, ctx, input).await,
                "RemoveTags" => tags::remove_tags(store, ctx, input).await,
                "DescribeTags" => tags::describe_tags(store, ctx, input).await,
                other => return Err(AwsError::not_implemented("Elastic Load Balancing", other)),
            };
            result.map_err(AwsError::from)
        })
    }
}

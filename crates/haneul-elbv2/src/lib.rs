//! # haneul-elbv2: Application Load Balancers
//!
//! The ELBv2 API (query protocol) — load balancers (each with its own address from
//! `--lb-cidr`, its DNSName served by haneul's DNS), listeners and rules, target groups and
//! targets — and the data plane: target health checks (`health/`) and the HTTP proxy bound on
//! each load balancer's address (`proxy/`).

pub mod actions;
pub mod api;
pub mod attributes;
pub mod error;
/// Typed input/output structs, generated from the model (see `codegen.txt`).
#[rustfmt::skip]
pub mod generated;
pub mod health;
pub mod listeners;
pub mod model;
pub mod proxy;
pub mod rules;
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
    /// Target health as the data plane's probes find it.
    health: std::sync::Arc<health::HealthTable>,
}

impl Elbv2 {
    pub fn new(store: Store, lb_cidr: String, health: std::sync::Arc<health::HealthTable>) -> Elbv2 {
        Elbv2 { store, lb_cidr, health }
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
                "DescribeTargetHealth" => targets::describe_target_health(store, &self.health, ctx, input).await,
                "CreateListener" => listeners::create_listener(store, ctx, input).await,
                "DescribeListeners" => listeners::describe_listeners(store, ctx, input).await,
                "ModifyListener" => listeners::modify_listener(store, ctx, input).await,
                "DeleteListener" => listeners::delete_listener(store, ctx, input).await,
                "AddListenerCertificates" => listeners::add_listener_certificates(store, ctx, input).await,
                "RemoveListenerCertificates" => listeners::remove_listener_certificates(store, ctx, input).await,
                "DescribeListenerCertificates" => listeners::describe_listener_certificates(store, ctx, input).await,
                "CreateRule" => rules::create_rule(store, ctx, input).await,
                "DescribeRules" => rules::describe_rules(store, ctx, input).await,
                "ModifyRule" => rules::modify_rule(store, ctx, input).await,
                "DeleteRule" => rules::delete_rule(store, ctx, input).await,
                "SetRulePriorities" => rules::set_rule_priorities(store, ctx, input).await,
                "DescribeSSLPolicies" => api::describe_ssl_policies(input),
                "DescribeAccountLimits" => api::describe_account_limits(input),
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

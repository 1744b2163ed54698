//! # haneul-route53: the Route 53 API and an authoritative DNS server
//!
//! Layout: `api/` one module per resource family (hosted zones, record sets, changes),
//! [`model`] the stored records (record sets in the API's own shape, keyed in Route 53's list
//! order), [`names`] DNS name rules, `dns/` the data plane: [`dns::snapshot`] builds an
//! immutable view of every zone from the store, [`dns::answer`] answers one query from it,
//! [`dns::server`] serves UDP and TCP.
//!
//! **Architecture invariant:** the DNS server answers only from a snapshot swapped in when the
//! store's revision moves; it shares no lock with the API. `GetChange` says INSYNC once the
//! snapshot being served holds the change's revision.

pub mod api;
pub mod cidr;
pub mod dns;
pub mod error;
pub mod geo;
/// Typed input/output structs, generated from the model (see `codegen.txt`).
#[rustfmt::skip]
pub mod generated;
pub mod health;
pub mod ids;
pub mod model;
pub mod names;
pub mod policy;
pub mod rdata;

use std::sync::Arc;

use haneul_store::{Scope, Store};
use haneul_wire::{AwsError, BoxFuture, RequestContext, Service};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::dns::DataPlane;
use crate::error::Route53Error;

/// The botocore model this crate serves.
pub const MODEL: &str = include_str!("../../../models/route53.json");

pub struct Route53 {
    store: Store,
    /// What the DNS server serves (shared with `dns::server`).
    plane: Arc<DataPlane>,
}

impl Route53 {
    pub fn new(store: Store, plane: Arc<DataPlane>) -> Route53 {
        Route53 { store, plane }
    }
}

/// Route 53 is global: an account's zones live in its region-less scope.
pub fn scope(ctx: &RequestContext) -> Scope {
    Scope::global(ctx.account_id.clone())
}

pub(crate) fn parse<T: DeserializeOwned>(input: Value) -> Result<T, Route53Error> {
    serde_json::from_value(input).map_err(|e| Route53Error::InvalidInput(format!("Invalid request: {e}")))
}

impl Service for Route53 {
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>> {
        Box::pin(async move {
            let store = &self.store;
            use api::{changes, health_checks as checks, hosted_zones as zones, record_sets};
            let board = &self.plane.health;
            let result = match operation {
                "CreateHostedZone" => zones::create_hosted_zone(store, ctx, input).await,
                "GetHostedZone" => zones::get_hosted_zone(store, ctx, input).await,
                "ListHostedZones" => zones::list_hosted_zones(store, ctx, input).await,
                "ListHostedZonesByName" => zones::list_hosted_zones_by_name(store, ctx, input).await,
                "GetHostedZoneCount" => zones::get_hosted_zone_count(store, ctx).await,
                "UpdateHostedZoneComment" => zones::update_hosted_zone_comment(store, ctx, input).await,
                "DeleteHostedZone" => zones::delete_hosted_zone(store, ctx, input).await,
                "ChangeResourceRecordSets" => record_sets::change_resource_record_sets(store, ctx, input).await,
                "ListResourceRecordSets" => record_sets::list_resource_record_sets(store, ctx, input).await,
                "GetChange" => changes::get_change(store, &self.plane.served_revision, ctx, input).await,
                "CreateHealthCheck" => checks::create_health_check(store, ctx, input).await,
                "GetHealthCheck" => checks::get_health_check(store, ctx, input).await,
                "ListHealthChecks" => checks::list_health_checks(store, ctx, input).await,
                "UpdateHealthCheck" => checks::update_health_check(store, ctx, input).await,
                "DeleteHealthCheck" => checks::delete_health_check(store, ctx, input).await,
                "GetHealthCheckStatus" => checks::get_health_check_status(store, board, ctx, input).await,
                "TestDNSAnswer" => api::test_dns_answer::test_dns_answer(store, &self.plane, ctx, input).await,
                "ChangeTagsForResource" => api::tags::change_tags_for_resource(store, ctx, input).await,
                "ListTagsForResource" => api::tags::list_tags_for_resource(store, ctx, input).await,
                "ListTagsForResources" => api::tags::list_tags_for_resources(store, ctx, input).await,
                "GetHealthCheckLastFailureReason" => {
                    checks::get_health_check_last_failure_reason(store, board, ctx, input).await
                }
                "AssociateVPCWithHostedZone" => api::vpcs::associate_vpc_with_hosted_zone(store, ctx, input).await,
                "DisassociateVPCFromHostedZone" => {
                    api::vpcs::disassociate_vpc_from_hosted_zone(store, ctx, input).await
                }
                "ListHostedZonesByVPC" => api::vpcs::list_hosted_zones_by_vpc(store, ctx, input).await,
                "CreateCidrCollection" => api::cidr_collections::create_cidr_collection(store, ctx, input).await,
                "ListCidrCollections" => api::cidr_collections::list_cidr_collections(store, ctx, input).await,
                "DeleteCidrCollection" => api::cidr_collections::delete_cidr_collection(store, ctx, input).await,
                "ChangeCidrCollection" => api::cidr_collections::change_cidr_collection(store, ctx, input).await,
                "ListCidrBlocks" => api::cidr_collections::list_cidr_blocks(store, ctx, input).await,
                "CreateQueryLoggingConfig" => api::query_logging::create_query_logging_config(store, ctx, input).await,
                "GetQueryLoggingConfig" => api::query_logging::get_query_logging_config(store, ctx, input).await,
                "ListQueryLoggingConfigs" => api::query_logging::list_query_logging_configs(store, ctx, input).await,
                "DeleteQueryLoggingConfig" => api::query_logging::delete_query_logging_config(store, ctx, input).await,
                "ListCidrLocations" => api::cidr_collections::list_cidr_locations(store, ctx, input).await,
                other => return Err(AwsError::not_implemented("Route 53", other)),
            };
            result.map_err(AwsError::from)
        })
    }
}

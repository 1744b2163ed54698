//! # haneul-route53domains: a local domain registrar
//!
//! Route 53 Domains' API (json 1.1) over haneul's own registry: a name registered here is
//! registered in this haneul only. Registering creates the public hosted zone (or adopts the
//! account's one zone of that name), and haneul's DNS serves the name's TLD as a zone that
//! delegates it to the registration's name servers (see `haneul_route53::dns::snapshot`).
//! Every operation completes at once and is listed as SUCCESSFUL.

pub mod api;
pub mod error;
/// Typed input/output structs, generated from the model (see `codegen.txt`).
#[rustfmt::skip]
pub mod generated;
pub mod names;

use haneul_store::{Scope, Store};
use haneul_wire::{AwsError, BoxFuture, RequestContext, Service};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::DomainsError;

/// The botocore model this crate serves.
pub const MODEL: &str = include_str!("../../../models/route53domains.json");

pub struct Route53Domains {
    store: Store,
}

impl Route53Domains {
    pub fn new(store: Store) -> Route53Domains {
        Route53Domains { store }
    }
}

/// Registrations belong to the account (Route 53 Domains is global).
pub fn scope(ctx: &RequestContext) -> Scope {
    Scope::global(ctx.account_id.clone())
}

pub(crate) fn parse<T: DeserializeOwned>(input: Value) -> Result<T, DomainsError> {
    serde_json::from_value(input).map_err(|e| DomainsError::InvalidInput(format!("Invalid request: {e}")))
}

impl Service for Route53Domains {
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>> {
        Box::pin(async move {
            let store = &self.store;
            let result = match operation {
                "CheckDomainAvailability" => api::check_domain_availability(store, input).await,
                "RegisterDomain" => api::register_domain(store, ctx, input).await,
                "ListDomains" => api::list_domains(store, ctx, input).await,
                "GetDomainDetail" => api::get_domain_detail(store, ctx, input).await,
                "UpdateDomainNameservers" => api::update_domain_nameservers(store, ctx, input).await,
                "DeleteDomain" => api::delete_domain(store, ctx, input).await,
                "GetOperationDetail" => api::get_operation_detail(store, ctx, input).await,
                "ListOperations" => api::list_operations(store, ctx, input).await,
                other => return Err(AwsError::not_implemented("Route 53 Domains", other)),
            };
            result.map_err(AwsError::from)
        })
    }
}

//! # haneul-sts: the Security Token Service operations haneul serves
//!
//! `GetCallerIdentity` answers from the authenticated request context: who signed the
//! request, in which account. **API boundary:** no state of its own.

/// Typed input/output structs, generated from the model (see `codegen.txt`).
#[rustfmt::skip]
pub mod generated;

use haneul_wire::{AwsError, BoxFuture, RequestContext, Service};
use serde_json::Value;

use crate::generated::GetCallerIdentityResponse;

/// The botocore model this crate serves.
pub const MODEL: &str = include_str!("../../../models/sts.json");

pub struct Sts;

impl Service for Sts {
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        _input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>> {
        Box::pin(async move {
            match operation {
                "GetCallerIdentity" => serde_json::to_value(get_caller_identity(ctx))
                    .map_err(|e| AwsError::internal(format!("encoding GetCallerIdentity: {e}"))),
                other => Err(AwsError::not_implemented("STS", other)),
            }
        })
    }
}

fn get_caller_identity(ctx: &RequestContext) -> GetCallerIdentityResponse {
    GetCallerIdentityResponse {
        user_id: Some(ctx.principal_user_id.clone()),
        account: Some(ctx.account_id.clone()),
        arn: Some(ctx.principal_arn.clone()),
    }
}

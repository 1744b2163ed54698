//! # haneul-sts: the Security Token Service operations haneul serves
//!
//! `GetCallerIdentity` answers from the authenticated request context: who signed the
//! request, in which account. **API boundary:** no state of its own.

use haneul_wire::{AwsError, BoxFuture, RequestContext, Service};
use serde_json::{json, Value};

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
                "GetCallerIdentity" => Ok(get_caller_identity(ctx)),
                other => Err(AwsError::not_implemented("STS", other)),
            }
        })
    }
}

fn get_caller_identity(ctx: &RequestContext) -> Value {
    json!({
        "UserId": ctx.principal_user_id,
        "Account": ctx.account_id,
        "Arn": ctx.principal_arn,
    })
}

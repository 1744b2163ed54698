//! GetAuthorizationToken: `AWS:<password>` in base64, good for 12 hours, for the registry at
//! proxyEndpoint.

use haneul_wire::RequestContext;
use serde_json::Value;

use super::output;
use crate::error::EcrError;
use crate::generated as api;
use crate::token::TOKEN_LIFETIME_S;
use crate::{now_s, parse, scope, Ecr};

pub async fn get_authorization_token(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let _input: api::GetAuthorizationTokenRequest = parse(input)?;
    let expires = now_s() as u64 + TOKEN_LIFETIME_S;
    output(&api::GetAuthorizationTokenResponse {
        authorization_data: vec![api::AuthorizationData {
            authorization_token: Some(ecr.tokens.authorization_token(&scope(ctx), expires)),
            expires_at: Some(expires as f64),
            proxy_endpoint: Some(ecr.registry_url()),
        }],
    })
}

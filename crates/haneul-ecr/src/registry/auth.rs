//! Who a registry request is for. Docker sends `Authorization: Basic base64(AWS:<password>)`
//! after the 401 challenge of `/v2/`; the password is a GetAuthorizationToken token, which
//! names the account and region. In `--dev` any credentials are accepted (a genuine token
//! still selects its account), but a request without any is challenged, as ECR does.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use haneul_store::Scope;

use super::RegistryError;
use crate::token::TokenError;
use crate::Ecr;

/// The query parameter a GetDownloadUrlForLayer URL carries its password in (blob GETs only).
pub const URL_TOKEN_PARAM: &str = "haneul-token";

/// `url_token`: the password of a download URL, for a blob GET that has no Authorization.
pub fn authorize(ecr: &Ecr, headers: &http::HeaderMap, url_token: Option<&str>) -> Result<Scope, RegistryError> {
    let challenge = |detail: &str| RegistryError::Unauthorized {
        realm: ecr.registry_url(),
        detail: detail.to_string(),
    };
    let header = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let (None, Some(password)) = (header, url_token) {
        return ecr
            .tokens
            .verify(password, crate::now_s() as u64)
            .map_err(|_| challenge("the download URL has expired or is not valid"));
    }
    let Some(value) = header else {
        return Err(challenge("no credentials: log in with `aws ecr get-login-password | docker login --username AWS --password-stdin <registry>`"));
    };
    let password = basic_password(value);
    if ecr.dev {
        let scope = password
            .and_then(|p| ecr.tokens.verify(&p, crate::now_s() as u64).ok())
            .unwrap_or_else(|| ecr.default_scope.clone());
        return Ok(scope);
    }
    let Some(password) = password else {
        return Err(challenge(
            "credentials must be Basic AWS:<token from GetAuthorizationToken>",
        ));
    };
    ecr.tokens
        .verify(&password, crate::now_s() as u64)
        .map_err(|e| match e {
            TokenError::Expired => {
                challenge("the authorization token has expired; get a new one with GetAuthorizationToken")
            }
            TokenError::Malformed | TokenError::BadSignature => challenge("the authorization token is not valid"),
        })
}

/// The password of `Basic base64(AWS:<password>)`; the user name must be `AWS`.
fn basic_password(header: &str) -> Option<String> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    (user == "AWS").then(|| password.to_string())
}

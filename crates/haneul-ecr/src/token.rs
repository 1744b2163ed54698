//! Registry passwords: what GetAuthorizationToken hands out (`AWS:<password>`, base64) and
//! the registry checks. A password names its account, region and expiry and carries an
//! HMAC-SHA256 over them with a key kept in the data dir (`ecr/token.key`, 0600), so any
//! haneul over the same data dir verifies it and nothing is stored per token.

use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use haneul_store::Scope;
use ring::hmac;

/// How long a token is good for, as ECR's.
pub const TOKEN_LIFETIME_S: u64 = 12 * 3600;
const PREFIX: &str = "hn1";

pub struct TokenKey {
    key: hmac::Key,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenKeyError {
    #[error("cannot read or create the registry token key {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Why a password was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
}

impl TokenKey {
    /// The key of `data_dir`, made on first use.
    pub fn open_or_create(data_dir: &Path) -> Result<TokenKey, TokenKeyError> {
        let path = data_dir.join("ecr").join("token.key");
        let io = |source| TokenKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut fresh = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut fresh);
                haneul_store::secret_file::write_new(&path, &fresh).map_err(io)?;
                fresh.to_vec()
            }
            Err(e) => return Err(io(e)),
        };
        Ok(TokenKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        })
    }

    /// A password for `scope` that expires at `expires_at_s` (epoch seconds).
    pub fn password(&self, scope: &Scope, expires_at_s: u64) -> String {
        let claims = format!("{}:{}:{expires_at_s}", scope.account_id, scope.region);
        let tag = hmac::sign(&self.key, claims.as_bytes());
        format!(
            "{PREFIX}.{}.{}",
            URL_SAFE_NO_PAD.encode(claims),
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// The `authorizationToken` GetAuthorizationToken returns: base64 of `AWS:<password>`.
    pub fn authorization_token(&self, scope: &Scope, expires_at_s: u64) -> String {
        STANDARD.encode(format!("AWS:{}", self.password(scope, expires_at_s)))
    }

    /// The scope a password was made for, if it is genuine and not expired at `now_s`.
    pub fn verify(&self, password: &str, now_s: u64) -> Result<Scope, TokenError> {
        let mut parts = password.split('.');
        let (Some(PREFIX), Some(claims), Some(tag), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let claims = URL_SAFE_NO_PAD.decode(claims).map_err(|_| TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Malformed)?;
        hmac::verify(&self.key, &claims, &tag).map_err(|_| TokenError::BadSignature)?;
        let claims = String::from_utf8(claims).map_err(|_| TokenError::Malformed)?;
        let mut fields = claims.split(':');
        let (Some(account), Some(region), Some(expires), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(TokenError::Malformed);
        };
        let expires: u64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        if now_s >= expires {
            return Err(TokenError::Expired);
        }
        Ok(Scope::new(account, region))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let key = TokenKey::open_or_create(dir.path()).unwrap();
        let scope = Scope::new("123456789012", "eu-west-1");
        let pw = key.password(&scope, 1000);
        assert_eq!(key.verify(&pw, 999), Ok(scope.clone()));
        assert_eq!(key.verify(&pw, 1000), Err(TokenError::Expired));
        let mut forged = pw.clone();
        forged.pop();
        forged.push(if pw.ends_with('A') { 'B' } else { 'A' });
        assert!(key.verify(&forged, 1).is_err());
        assert_eq!(key.verify("anything", 1), Err(TokenError::Malformed));
        let again = TokenKey::open_or_create(dir.path()).unwrap();
        assert_eq!(again.verify(&pw, 999), Ok(scope));
    }
}

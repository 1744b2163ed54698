//! Who may call: dev mode accepts any key; verified mode checks SigV4 against known keys.
//! The error codes differ by protocol, as AWS's do.

use std::sync::Arc;

use crate::error::AwsError;
use crate::model::Protocol;
use crate::sigv4::SigV4Error;

/// A principal a key belongs to.
#[derive(Debug, Clone)]
pub struct Principal {
    pub secret_access_key: String,
    pub account_id: String,
    pub arn: String,
    pub user_id: String,
}

/// Looks up the secret and owner of an access key.
pub trait CredentialLookup: Send + Sync {
    fn lookup(&self, access_key_id: &str) -> Option<Principal>;
}

/// How requests are authenticated.
#[derive(Clone)]
pub enum AuthMode {
    /// Any credentials (or none) are accepted; a 12-digit access key selects that account.
    Dev,
    /// Every request must carry a valid SigV4 signature by a known key.
    Verified(Arc<dyn CredentialLookup>),
}

/// The error a client gets when authentication fails, in the service's own terms.
pub fn auth_error(protocol: Protocol, failure: &AuthFailure) -> AwsError {
    let json = matches!(protocol, Protocol::Json | Protocol::RestJson);
    match failure {
        AuthFailure::UnknownKey => match protocol {
            Protocol::Ec2 => AwsError::new(
                "AuthFailure",
                401,
                "AWS was not able to validate the provided access credentials",
            ),
            _ if json => AwsError::new(
                "UnrecognizedClientException",
                400,
                "The security token included in the request is invalid.",
            ),
            _ => AwsError::new(
                "InvalidClientTokenId",
                403,
                "The security token included in the request is invalid.",
            ),
        },
        AuthFailure::Signature(SigV4Error::Missing) => match protocol {
            Protocol::Ec2 => AwsError::new(
                "AuthFailure",
                401,
                "AWS was not able to validate the provided access credentials",
            ),
            _ if json => AwsError::new(
                "MissingAuthenticationTokenException",
                400,
                "Missing Authentication Token",
            ),
            _ => AwsError::new(
                "MissingAuthenticationToken",
                403,
                "Request is missing Authentication Token",
            ),
        },
        AuthFailure::Signature(e @ (SigV4Error::Expired { .. } | SigV4Error::InFuture { .. })) => match protocol {
            Protocol::Ec2 => AwsError::new("RequestExpired", 400, "Request has expired."),
            _ if json => AwsError::new("InvalidSignatureException", 400, e.to_string()),
            _ => AwsError::new("SignatureDoesNotMatch", 403, e.to_string()),
        },
        AuthFailure::Signature(SigV4Error::PresignExpired) => match protocol {
            Protocol::Ec2 => AwsError::new("RequestExpired", 400, "Request has expired."),
            _ if json => AwsError::new("InvalidSignatureException", 400, "Signature expired"),
            _ => AwsError::new("AccessDenied", 403, "Request has expired"),
        },
        AuthFailure::Signature(e @ SigV4Error::Malformed(_)) => match protocol {
            Protocol::Ec2 => AwsError::new("AuthFailure", 401, e.to_string()),
            _ if json => AwsError::new("IncompleteSignatureException", 400, e.to_string()),
            _ => AwsError::new("IncompleteSignature", 400, e.to_string()),
        },
        AuthFailure::Signature(e @ SigV4Error::Mismatch) => match protocol {
            Protocol::Ec2 => AwsError::new(
                "AuthFailure",
                401,
                "AWS was not able to validate the provided access credentials",
            ),
            _ if json => AwsError::new("InvalidSignatureException", 400, e.to_string()),
            _ => AwsError::new("SignatureDoesNotMatch", 403, e.to_string()),
        },
    }
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    UnknownKey,
    Signature(SigV4Error),
}

//! Route 53 Domains' errors, each with the code, status and message it gives.

use haneul_route53::error::Route53Error;
use haneul_store::StoreError;
use haneul_wire::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum DomainsError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    UnsupportedTld(String),
    #[error("{0}")]
    DuplicateRequest(String),
    #[error(transparent)]
    Route53(#[from] Route53Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DomainsError> for AwsError {
    fn from(e: DomainsError) -> AwsError {
        let (code, status) = match &e {
            DomainsError::InvalidInput(_) => ("InvalidInput", 400),
            DomainsError::UnsupportedTld(_) => ("UnsupportedTLD", 400),
            DomainsError::DuplicateRequest(_) => ("DuplicateRequest", 400),
            DomainsError::Route53(inner) => return AwsError::from(Route53Error::InvalidInput(inner.to_string())),
            DomainsError::Store(_) => ("InternalFailure", 500),
        };
        AwsError::new(code, status, e.to_string())
    }
}

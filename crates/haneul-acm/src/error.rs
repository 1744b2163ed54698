//! ACM's errors, each with the code, status and message ACM gives.

use haneul_store::StoreError;
use haneul_wire::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum AcmError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidArn(String),
    #[error("Could not find certificate {0}.")]
    NotFound(String),
    #[error("Certificate {0} is not yet issued; its status is {1}.")]
    InProgress(String, String),
    #[error("Certificate {0} is in use by {1}.")]
    InUse(String, String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    TooManyTags(String),
    #[error("{0}")]
    InvalidTag(String),
    #[error("{0}")]
    InvalidDomainValidationOptions(String),
    /// What ACM answers for a certificate, key or chain it cannot import.
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidState(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl From<AcmError> for AwsError {
    fn from(e: AcmError) -> AwsError {
        let (code, status) = match &e {
            AcmError::InvalidParameter(_) => ("InvalidParameterException", 400),
            AcmError::InvalidArn(_) => ("InvalidArnException", 400),
            AcmError::NotFound(_) => ("ResourceNotFoundException", 400),
            AcmError::InProgress(..) => ("RequestInProgressException", 400),
            AcmError::InUse(..) => ("ResourceInUseException", 400),
            AcmError::LimitExceeded(_) => ("LimitExceededException", 400),
            AcmError::TooManyTags(_) => ("TooManyTagsException", 400),
            AcmError::InvalidTag(_) => ("InvalidTagException", 400),
            AcmError::InvalidDomainValidationOptions(_) => ("InvalidDomainValidationOptionsException", 400),
            AcmError::Validation(_) => ("ValidationException", 400),
            AcmError::Conflict(_) => ("ConflictException", 400),
            AcmError::InvalidState(_) => ("InvalidStateException", 400),
            AcmError::Store(_) | AcmError::Internal(_) => ("InternalFailure", 500),
        };
        AwsError::new(code, status, e.to_string())
    }
}

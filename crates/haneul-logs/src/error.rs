//! CloudWatch Logs' API errors, each with the code, status and message Logs gives.

use haneul_store::StoreError;
use haneul_wire::AwsError;

pub const GROUP_NOT_FOUND: &str = "The specified log group does not exist.";
pub const STREAM_NOT_FOUND: &str = "The specified log stream does not exist.";

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceAlreadyExists(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    InvalidOperation(String),
    #[error("{0}")]
    MalformedQuery(String),
    #[error("{0}")]
    TooManyTags(String),
    #[error("haneul does not implement CloudWatch Logs {0} yet")]
    NotImplemented(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl LogsError {
    pub fn group_not_found() -> LogsError {
        LogsError::ResourceNotFound(GROUP_NOT_FOUND.into())
    }

    pub fn stream_not_found() -> LogsError {
        LogsError::ResourceNotFound(STREAM_NOT_FOUND.into())
    }
}

impl From<LogsError> for AwsError {
    fn from(e: LogsError) -> AwsError {
        if let LogsError::NotImplemented(op) = &e {
            return AwsError::not_implemented("CloudWatch Logs", op);
        }
        let (code, status) = match &e {
            LogsError::InvalidParameter(_) => ("InvalidParameterException", 400),
            LogsError::ResourceNotFound(_) => ("ResourceNotFoundException", 400),
            LogsError::ResourceAlreadyExists(_) => ("ResourceAlreadyExistsException", 400),
            LogsError::LimitExceeded(_) => ("LimitExceededException", 400),
            LogsError::InvalidOperation(_) => ("InvalidOperationException", 400),
            LogsError::MalformedQuery(_) => ("MalformedQueryException", 400),
            LogsError::TooManyTags(_) => ("TooManyTagsException", 400),
            LogsError::NotImplemented(_) | LogsError::Store(_) | LogsError::Internal(_) => {
                ("ServiceUnavailableException", 500)
            }
        };
        AwsError::new(code, status, e.to_string())
    }
}

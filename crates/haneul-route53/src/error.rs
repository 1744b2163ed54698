//! Route 53's errors, each with the code, status and message Route 53 gives.

use haneul_store::StoreError;
use haneul_wire::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum Route53Error {
    #[error("No hosted zone found with ID: {0}")]
    NoSuchHostedZone(String),
    #[error("A change with the specified change ID does not exist.")]
    NoSuchChange,
    #[error("The hosted zone you are trying to create already exists. A hosted zone has already been created with the specified caller reference {0}.")]
    HostedZoneAlreadyExists(String),
    #[error("The specified hosted zone contains non-required resource record sets and so cannot be deleted.")]
    HostedZoneNotEmpty,
    #[error("{0}")]
    InvalidDomainName(String),
    /// AWS's form: the messages in brackets, comma separated.
    #[error("[{}]", .0.join(", "))]
    InvalidChangeBatch(Vec<String>),
    #[error("{0}")]
    InvalidInput(String),
    #[error("No health check exists with the specified ID {0}.")]
    NoSuchHealthCheck(String),
    #[error("A health check with the caller reference {0} already exists with different settings.")]
    HealthCheckAlreadyExists(String),
    #[error("Health check {0} is still referenced from one or more resource record sets.")]
    HealthCheckInUse(String),
    #[error("The value of HealthCheckVersion in the request doesn't match the current version {0}.")]
    HealthCheckVersionMismatch(i64),
    #[error("{0}")]
    InvalidVpcId(String),
    #[error("{0}")]
    PublicZoneVpcAssociation(String),
    #[error("{0}")]
    ConflictingDomainExists(String),
    #[error("The VPC that you're trying to disassociate from the private hosted zone is the last VPC that is associated with the hosted zone. Amazon Route 53 doesn't support disassociating the last VPC from a hosted zone.")]
    LastVpcAssociation,
    #[error("The specified VPC {0} and hosted zone {1} are not currently associated.")]
    VpcAssociationNotFound(String, String),
    #[error("{0}")]
    NoSuchCidrCollection(String),
    #[error("{0}")]
    CidrCollectionAlreadyExists(String),
    #[error("{0}")]
    CidrCollectionVersionMismatch(String),
    #[error("{0}")]
    CidrCollectionInUse(String),
    #[error("{0}")]
    CidrBlockInUse(String),
    #[error("{0}")]
    NoSuchCidrLocation(String),
    #[error("{0}")]
    LimitsExceeded(String),
    #[error("There is no CloudWatch Logs log group with the specified ARN.")]
    NoSuchCloudWatchLogsLogGroup,
    #[error("The hosted zone {0} already has a query logging configuration.")]
    QueryLoggingConfigAlreadyExists(String),
    #[error("There is no DNS query logging configuration with the specified ID.")]
    NoSuchQueryLoggingConfig,
    #[error("The specified pagination token is not valid.")]
    InvalidPaginationToken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Route53Error> for AwsError {
    fn from(e: Route53Error) -> AwsError {
        let (code, status) = match &e {
            Route53Error::NoSuchHostedZone(_) => ("NoSuchHostedZone", 404),
            Route53Error::NoSuchChange => ("NoSuchChange", 404),
            Route53Error::HostedZoneAlreadyExists(_) => ("HostedZoneAlreadyExists", 409),
            Route53Error::HostedZoneNotEmpty => ("HostedZoneNotEmpty", 400),
            Route53Error::InvalidDomainName(_) => ("InvalidDomainName", 400),
            Route53Error::InvalidChangeBatch(_) => ("InvalidChangeBatch", 400),
            Route53Error::InvalidInput(_) => ("InvalidInput", 400),
            Route53Error::NoSuchHealthCheck(_) => ("NoSuchHealthCheck", 404),
            Route53Error::HealthCheckAlreadyExists(_) => ("HealthCheckAlreadyExists", 409),
            Route53Error::HealthCheckInUse(_) => ("HealthCheckInUse", 400),
            Route53Error::HealthCheckVersionMismatch(_) => ("HealthCheckVersionMismatch", 409),
            Route53Error::InvalidVpcId(_) => ("InvalidVPCId", 400),
            Route53Error::PublicZoneVpcAssociation(_) => ("PublicZoneVPCAssociation", 400),
            Route53Error::ConflictingDomainExists(_) => ("ConflictingDomainExists", 400),
            Route53Error::LastVpcAssociation => ("LastVPCAssociation", 400),
            Route53Error::VpcAssociationNotFound(..) => ("VPCAssociationNotFound", 404),
            Route53Error::NoSuchCidrCollection(_) => ("NoSuchCidrCollectionException", 404),
            Route53Error::CidrCollectionAlreadyExists(_) => ("CidrCollectionAlreadyExistsException", 400),
            Route53Error::CidrCollectionVersionMismatch(_) => ("CidrCollectionVersionMismatchException", 409),
            Route53Error::CidrCollectionInUse(_) => ("CidrCollectionInUseException", 400),
            Route53Error::CidrBlockInUse(_) => ("CidrBlockInUseException", 400),
            Route53Error::NoSuchCidrLocation(_) => ("NoSuchCidrLocationException", 404),
            Route53Error::LimitsExceeded(_) => ("LimitsExceeded", 400),
            Route53Error::NoSuchCloudWatchLogsLogGroup => ("NoSuchCloudWatchLogsLogGroup", 404),
            Route53Error::QueryLoggingConfigAlreadyExists(_) => ("QueryLoggingConfigAlreadyExists", 409),
            Route53Error::NoSuchQueryLoggingConfig => ("NoSuchQueryLoggingConfig", 404),
            Route53Error::InvalidPaginationToken => ("InvalidPaginationToken", 400),
            Route53Error::Store(_) => ("InternalFailure", 500),
        };
        AwsError::new(code, status, e.to_string())
    }
}

//! EC2's errors, each with the code, status and message EC2 gives.

use haneul_store::StoreError;
use haneul_wire::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum Ec2Error {
    /// `InvalidVpcID.NotFound`, `InvalidSubnetID.NotFound`, `InvalidGroup.NotFound`, …
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    InvalidParameterValue { message: String },
    #[error("{message}")]
    InvalidParameterCombination { message: String },
    /// `InvalidVpc.Range`, `InvalidSubnet.Range`
    #[error("The CIDR '{cidr}' is invalid.")]
    InvalidRange { code: &'static str, cidr: String },
    #[error("The CIDR '{cidr}' conflicts with another subnet")]
    SubnetConflict { cidr: String },
    #[error("{message}")]
    DependencyViolation { message: String },
    #[error("The security group '{name}' already exists for VPC '{vpc_id}'")]
    GroupDuplicate { name: String, vpc_id: String },
    #[error("{message}")]
    GroupReserved { message: String },
    #[error("the specified group: \"{group_id}\" name: \"default\" cannot be deleted by a user")]
    CannotDelete { group_id: String },
    #[error("the specified rule \"{rule}\" already exists")]
    PermissionDuplicate { rule: String },
    #[error("The specified rule does not exist in this security group.")]
    PermissionNotFound,
    #[error("{message}")]
    TagLimitExceeded { message: String },
    #[error("The ID '{id}' is not valid")]
    InvalidId { id: String },
    #[error("No default VPC for this user")]
    NoDefaultVpc,
    #[error("Request would have succeeded, but DryRun flag is set.")]
    DryRun,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Ec2Error {
    pub fn invalid(message: impl Into<String>) -> Ec2Error {
        Ec2Error::InvalidParameterValue {
            message: message.into(),
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Ec2Error {
        Ec2Error::NotFound {
            code,
            message: message.into(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Ec2Error::NotFound { code, .. } | Ec2Error::InvalidRange { code, .. } => code,
            Ec2Error::InvalidParameterValue { .. } => "InvalidParameterValue",
            Ec2Error::InvalidParameterCombination { .. } => "InvalidParameterCombination",
            Ec2Error::SubnetConflict { .. } => "InvalidSubnet.Conflict",
            Ec2Error::DependencyViolation { .. } => "DependencyViolation",
            Ec2Error::GroupDuplicate { .. } => "InvalidGroup.Duplicate",
            Ec2Error::GroupReserved { .. } => "InvalidGroup.Reserved",
            Ec2Error::CannotDelete { .. } => "CannotDelete",
            Ec2Error::PermissionDuplicate { .. } => "InvalidPermission.Duplicate",
            Ec2Error::PermissionNotFound => "InvalidPermission.NotFound",
            Ec2Error::TagLimitExceeded { .. } => "TagLimitExceeded",
            Ec2Error::InvalidId { .. } => "InvalidID",
            Ec2Error::NoDefaultVpc => "VPCIdNotSpecified",
            Ec2Error::DryRun => "DryRunOperation",
            Ec2Error::Store(_) => "InternalError",
        }
    }
}

impl From<Ec2Error> for AwsError {
    fn from(e: Ec2Error) -> AwsError {
        let status = match &e {
            Ec2Error::DryRun => 412,
            Ec2Error::Store(_) => 500,
            _ => 400,
        };
        AwsError::new(e.code(), status, e.to_string())
    }
}

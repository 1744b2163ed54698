//! ELBv2's errors, each with the code, status and message ELBv2 gives.

use haneul_store::StoreError;
use haneul_wire::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum ElbError {
    #[error("{0}")]
    Validation(String),
    #[error("A load balancer with the same name '{0}' exists, but with different settings")]
    DuplicateLoadBalancerName(String),
    #[error("A target group with the same name '{0}' exists, but with different settings")]
    DuplicateTargetGroupName(String),
    #[error("The subnet ID '{0}' is not valid")]
    SubnetNotFound(String),
    #[error("{0}")]
    InvalidSubnet(String),
    #[error("{0}")]
    InvalidSecurityGroup(String),
    #[error("{0}")]
    InvalidConfigurationRequest(String),
    #[error("Load balancers '[{0}]' not found")]
    LoadBalancerNotFound(String),
    #[error("Target groups '[{0}]' not found")]
    TargetGroupNotFound(String),
    #[error("{0}")]
    ResourceInUse(String),
    #[error("{0}")]
    TooManyLoadBalancers(String),
    #[error("{0}")]
    InvalidTarget(String),
    #[error("{0}")]
    DuplicateTagKeys(String),
    #[error("{0}")]
    OperationNotPermitted(String),
    #[error("{0}")]
    TooManyTags(String),
    #[error("{0}")]
    TooManyTargets(String),
    #[error("{0}")]
    ListenerNotFound(String),
    #[error("{0}")]
    RuleNotFound(String),
    #[error("A listener already exists on port {0} of this load balancer")]
    DuplicateListener(i64),
    #[error("{0}")]
    PriorityInUse(String),
    #[error("{0}")]
    TooManyRules(String),
    #[error("{0}")]
    TooManyListeners(String),
    #[error("{0}")]
    TooManyActions(String),
    #[error("{0}")]
    TooManyCertificates(String),
    #[error("{0}")]
    TooManyTargetGroups(String),
    #[error("{0}")]
    InvalidLoadBalancerAction(String),
    #[error("{0}")]
    TargetGroupAssociationLimit(String),
    #[error("{0}")]
    IncompatibleProtocols(String),
    #[error("{0}")]
    UnsupportedProtocol(String),
    #[error("{0}")]
    CertificateNotFound(String),
    #[error("{0}")]
    SslPolicyNotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ElbError> for AwsError {
    fn from(e: ElbError) -> AwsError {
        let code = match &e {
            ElbError::Validation(_) => "ValidationError",
            ElbError::DuplicateLoadBalancerName(_) => "DuplicateLoadBalancerName",
            ElbError::DuplicateTargetGroupName(_) => "DuplicateTargetGroupName",
            ElbError::SubnetNotFound(_) => "SubnetNotFound",
            ElbError::InvalidSubnet(_) => "InvalidSubnet",
            ElbError::InvalidSecurityGroup(_) => "InvalidSecurityGroup",
            ElbError::InvalidConfigurationRequest(_) => "InvalidConfigurationRequest",
            ElbError::LoadBalancerNotFound(_) => "LoadBalancerNotFound",
            ElbError::TargetGroupNotFound(_) => "TargetGroupNotFound",
            ElbError::ResourceInUse(_) => "ResourceInUse",
            ElbError::TooManyLoadBalancers(_) => "TooManyLoadBalancers",
            ElbError::InvalidTarget(_) => "InvalidTarget",
            ElbError::DuplicateTagKeys(_) => "DuplicateTagKeys",
            ElbError::OperationNotPermitted(_) => "OperationNotPermitted",
            ElbError::TooManyTags(_) => "TooManyTags",
            ElbError::TooManyTargets(_) => "TooManyTargets",
            ElbError::ListenerNotFound(_) => "ListenerNotFound",
            ElbError::RuleNotFound(_) => "RuleNotFound",
            ElbError::DuplicateListener(_) => "DuplicateListener",
            ElbError::PriorityInUse(_) => "PriorityInUse",
            ElbError::TooManyRules(_) => "TooManyRules",
            ElbError::TooManyListeners(_) => "TooManyListeners",
            ElbError::TooManyActions(_) => "TooManyActions",
            ElbError::TooManyCertificates(_) => "TooManyCertificates",
            ElbError::TooManyTargetGroups(_) => "TooManyTargetGroups",
            ElbError::InvalidLoadBalancerAction(_) => "InvalidLoadBalancerAction",
            ElbError::TargetGroupAssociationLimit(_) => "TargetGroupAssociationLimit",
            ElbError::IncompatibleProtocols(_) => "IncompatibleProtocols",
            ElbError::UnsupportedProtocol(_) => "UnsupportedProtocol",
            ElbError::CertificateNotFound(_) => "CertificateNotFound",
            ElbError::SslPolicyNotFound(_) => "SSLPolicyNotFound",
            ElbError::Store(_) => return AwsError::new("InternalFailure", 500, e.to_string()),
        };
        AwsError::new(code, 400, e.to_string())
    }
}

//! ECS's API errors, each with the code, status and message ECS gives.

use haneul_store::StoreError;
use haneul_wire::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum EcsError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    Client(String),
    #[error("Cluster not found.")]
    ClusterNotFound,
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("Service not found.")]
    ServiceNotFound,
    #[error("{0}")]
    TargetNotFound(String),
    #[error("A container instance can carry at most 10 custom attributes.")]
    AttributeLimitExceeded,
    #[error("There is no update available for your container agent.")]
    NoUpdateAvailable,
    #[error("The service deployment was not found.")]
    ServiceDeploymentNotFound,
    #[error("{0}")]
    Conflict(String),
    /// Service Connect namespaces live in Cloud Map, which haneul does not have.
    #[error("Namespace not found.")]
    NamespaceNotFound,
    #[error("Service was not ACTIVE.")]
    ServiceNotActive,
    #[error("The Cluster cannot be deleted while Services are active.")]
    ClusterContainsServices,
    #[error("The Cluster cannot be deleted while Tasks are active.")]
    ClusterContainsTasks,
    #[error("The Cluster cannot be deleted while Container Instances are active or draining.")]
    ClusterContainsContainerInstances,
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    UnsupportedFeature(String),
    #[error("The specified task set does not exist.")]
    TaskSetNotFound,
    #[error("The specified daemon does not exist.")]
    DaemonNotFound,
    #[error("The specified daemon is not active.")]
    DaemonNotActive,
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    TargetNotConnected(String),
    #[error("haneul does not implement ECS {0} yet")]
    NotImplemented(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<EcsError> for AwsError {
    fn from(e: EcsError) -> AwsError {
        if let EcsError::NotImplemented(op) = &e {
            return AwsError::not_implemented("ECS", op);
        }
        let (code, status) = match &e {
            EcsError::InvalidParameter(_) => ("InvalidParameterException", 400),
            EcsError::Client(_) => ("ClientException", 400),
            EcsError::ClusterNotFound => ("ClusterNotFoundException", 400),
            EcsError::ResourceNotFound(_) => ("ResourceNotFoundException", 400),
            EcsError::ServiceNotFound => ("ServiceNotFoundException", 400),
            EcsError::TargetNotFound(_) => ("TargetNotFoundException", 400),
            EcsError::AttributeLimitExceeded => ("AttributeLimitExceededException", 400),
            EcsError::NoUpdateAvailable => ("NoUpdateAvailableException", 400),
            EcsError::ServiceDeploymentNotFound => ("ServiceDeploymentNotFoundException", 400),
            EcsError::Conflict(_) => ("ConflictException", 400),
            EcsError::AccessDenied(_) => ("AccessDeniedException", 400),
            EcsError::UnsupportedFeature(_) => ("UnsupportedFeatureException", 400),
            EcsError::TaskSetNotFound => ("TaskSetNotFoundException", 400),
            EcsError::DaemonNotFound => ("DaemonNotFoundException", 400),
            EcsError::DaemonNotActive => ("DaemonNotActiveException", 400),
            EcsError::LimitExceeded(_) => ("LimitExceededException", 400),
            EcsError::TargetNotConnected(_) => ("TargetNotConnectedException", 400),
            EcsError::NamespaceNotFound => ("NamespaceNotFoundException", 400),
            EcsError::ServiceNotActive => ("ServiceNotActiveException", 400),
            EcsError::ClusterContainsServices => ("ClusterContainsServicesException", 400),
            EcsError::ClusterContainsTasks => ("ClusterContainsTasksException", 400),
            EcsError::ClusterContainsContainerInstances => ("ClusterContainsContainerInstancesException", 400),
            EcsError::NotImplemented(_) | EcsError::Store(_) => ("ServerException", 500),
        };
        AwsError::new(code, status, e.to_string())
    }
}

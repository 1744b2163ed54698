//! ECR's API errors, each with the code, status and message ECR gives.

use haneul_store::StoreError;
use haneul_wire::AwsError;

#[derive(Debug, thiserror::Error)]
pub enum EcrError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("The repository with name '{0}' does not exist in the registry with id '{1}'")]
    RepositoryNotFound(String, String),
    #[error("The repository with name '{0}' already exists in the registry with id '{1}'")]
    RepositoryAlreadyExists(String, String),
    #[error(
        "The repository with name '{0}' in registry with id '{1}' cannot be deleted because it still contains images"
    )]
    RepositoryNotEmpty(String, String),
    #[error("{0}")]
    ImageNotFound(String),
    #[error("{0}")]
    ImageAlreadyExists(String),
    #[error("{0}")]
    ImageTagAlreadyExists(String),
    #[error("{0}")]
    ImageDigestDoesNotMatch(String),
    #[error("{0}")]
    LayersNotFound(String),
    #[error("{0}")]
    ReferencedImagesNotFound(String),
    #[error("{0}")]
    UploadNotFound(String),
    #[error("{0}")]
    InvalidLayerPart(String),
    #[error("{0}")]
    LayerPartTooSmall(String),
    #[error("{0}")]
    InvalidLayer(String),
    #[error("{0}")]
    LayerAlreadyExists(String),
    #[error("{0}")]
    EmptyUpload(String),
    #[error("{0}")]
    LayerInaccessible(String),
    #[error("{0}")]
    RepositoryPolicyNotFound(String),
    #[error("{0}")]
    LifecyclePolicyNotFound(String),
    #[error("{0}")]
    LifecyclePolicyPreviewNotFound(String),
    #[error("{0}")]
    RegistryPolicyNotFound(String),
    #[error("{0}")]
    InvalidTagParameter(String),
    #[error("{0}")]
    TooManyTags(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    ScanNotFound(String),
    #[error("{0}")]
    UnsupportedImageType(String),
    #[error("{0}")]
    PullThroughCacheRuleNotFound(String),
    #[error("{0}")]
    PullThroughCacheRuleAlreadyExists(String),
    #[error("{0}")]
    UnsupportedUpstreamRegistry(String),
    #[error("haneul does not implement ECR {0} yet")]
    NotImplemented(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl From<EcrError> for AwsError {
    fn from(e: EcrError) -> AwsError {
        if let EcrError::NotImplemented(op) = &e {
            return AwsError::not_implemented("ECR", op);
        }
        let code = match &e {
            EcrError::InvalidParameter(_) => "InvalidParameterException",
            EcrError::RepositoryNotFound(..) => "RepositoryNotFoundException",
            EcrError::RepositoryAlreadyExists(..) => "RepositoryAlreadyExistsException",
            EcrError::RepositoryNotEmpty(..) => "RepositoryNotEmptyException",
            EcrError::ImageNotFound(_) => "ImageNotFoundException",
            EcrError::ImageAlreadyExists(_) => "ImageAlreadyExistsException",
            EcrError::ImageTagAlreadyExists(_) => "ImageTagAlreadyExistsException",
            EcrError::ImageDigestDoesNotMatch(_) => "ImageDigestDoesNotMatchException",
            EcrError::LayersNotFound(_) => "LayersNotFoundException",
            EcrError::ReferencedImagesNotFound(_) => "ReferencedImagesNotFoundException",
            EcrError::UploadNotFound(_) => "UploadNotFoundException",
            EcrError::InvalidLayerPart(_) => "InvalidLayerPartException",
            EcrError::LayerPartTooSmall(_) => "LayerPartTooSmallException",
            EcrError::InvalidLayer(_) => "InvalidLayerException",
            EcrError::LayerAlreadyExists(_) => "LayerAlreadyExistsException",
            EcrError::EmptyUpload(_) => "EmptyUploadException",
            EcrError::LayerInaccessible(_) => "LayerInaccessibleException",
            EcrError::RepositoryPolicyNotFound(_) => "RepositoryPolicyNotFoundException",
            EcrError::LifecyclePolicyNotFound(_) => "LifecyclePolicyNotFoundException",
            EcrError::LifecyclePolicyPreviewNotFound(_) => "LifecyclePolicyPreviewNotFoundException",
            EcrError::RegistryPolicyNotFound(_) => "RegistryPolicyNotFoundException",
            EcrError::InvalidTagParameter(_) => "InvalidTagParameterException",
            EcrError::TooManyTags(_) => "TooManyTagsException",
            EcrError::LimitExceeded(_) => "LimitExceededException",
            EcrError::Validation(_) => "ValidationException",
            EcrError::ScanNotFound(_) => "ScanNotFoundException",
            EcrError::UnsupportedImageType(_) => "UnsupportedImageTypeException",
            EcrError::PullThroughCacheRuleNotFound(_) => "PullThroughCacheRuleNotFoundException",
            EcrError::PullThroughCacheRuleAlreadyExists(_) => "PullThroughCacheRuleAlreadyExistsException",
            EcrError::UnsupportedUpstreamRegistry(_) => "UnsupportedUpstreamRegistryException",
            EcrError::Store(_) | EcrError::Internal(_) | EcrError::NotImplemented(_) => "ServerException",
        };
        let status = if matches!(e, EcrError::Store(_) | EcrError::Internal(_)) {
            500
        } else {
            400
        };
        AwsError::new(code, status, e.to_string())
    }
}

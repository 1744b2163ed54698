//! What ECR keeps in the store. Records are keyed under the account/region scope; ids that
//! belong to a repository start with `<repository name>␁` so a prefix scan lists one
//! repository's images, tags, layers or referrers in order.

use serde::{Deserialize, Serialize};

pub const KIND_REPOSITORY: &str = "ecr.repository";
/// One manifest (image) in a repository: `repo␁digest`.
pub const KIND_IMAGE: &str = "ecr.image";
/// A tag pointing at an image: `repo␁tag`.
pub const KIND_TAG: &str = "ecr.tag";
/// A blob a repository may serve (uploaded or mounted there): `repo␁digest`.
pub const KIND_LAYER: &str = "ecr.layer";
/// A manifest whose `subject` is another manifest: `repo␁subject digest␁referrer digest`.
pub const KIND_REFERRER: &str = "ecr.referrer";
/// The last lifecycle policy preview of a repository: id = repository name.
pub const KIND_LIFECYCLE_PREVIEW: &str = "ecr.lifecycle_preview";
/// The registry's own settings (policy, replication): one record, id `registry`.
pub const KIND_REGISTRY: &str = "ecr.registry";

/// The separator inside composite ids (never valid in a repository name, tag or digest).
pub const SEP: char = '\u{1}';

pub fn child_id(repository: &str, rest: &str) -> String {
    format!("{repository}{SEP}{rest}")
}

/// The id prefix of everything of one repository.
pub fn repository_prefix(repository: &str) -> String {
    format!("{repository}{SEP}")
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExclusionFilter {
    pub filter_type: String,
    pub filter: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Repository {
    pub name: String,
    pub arn: String,
    pub registry_id: String,
    pub created_at: f64,
    pub tag_mutability: String,
    #[serde(default)]
    pub mutability_exclusions: Vec<ExclusionFilter>,
    pub scan_on_push: bool,
    pub encryption_type: String,
    #[serde(default)]
    pub kms_key: Option<String>,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub lifecycle_policy: Option<String>,
    #[serde(default)]
    pub lifecycle_evaluated_at: Option<f64>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Image {
    pub digest: String,
    /// The manifest exactly as pushed (manifests are JSON, so UTF-8).
    pub manifest: String,
    pub media_type: String,
    /// The config's media type, or an OCI manifest's `artifactType`.
    #[serde(default)]
    pub artifact_media_type: Option<String>,
    /// The manifest's own `artifactType` (OCI 1.1), for the referrers API.
    #[serde(default)]
    pub artifact_type: Option<String>,
    /// Layers + config for an image manifest; the manifest itself for an index.
    pub size: u64,
    pub pushed_at: f64,
    /// Kept in sync with the `KIND_TAG` records, sorted.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub last_pull: Option<f64>,
    #[serde(default)]
    pub subject: Option<String>,
    /// Blobs the manifest references (config and layers).
    #[serde(default)]
    pub blobs: Vec<String>,
    /// Manifests an index references.
    #[serde(default)]
    pub children: Vec<String>,
    /// Indexes in the repository that reference this manifest (it cannot be deleted first).
    #[serde(default)]
    pub parents: Vec<String>,
    #[serde(default)]
    pub annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Image {
    /// A manifest list / OCI index (it lists manifests, it has no layers of its own).
    pub fn is_index(&self) -> bool {
        self.media_type == crate::manifest::DOCKER_LIST || self.media_type == crate::manifest::OCI_INDEX
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TagRef {
    pub digest: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerLink {
    pub size: u64,
    pub linked_at: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RegistrySettings {
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub replication: Option<serde_json::Value>,
}

pub const REGISTRY_ID: &str = "registry";

/// One image a lifecycle preview would expire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreviewedImage {
    pub digest: String,
    pub tags: Vec<String>,
    pub pushed_at: f64,
    pub rule_priority: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LifecyclePreview {
    pub policy: String,
    pub expiring: Vec<PreviewedImage>,
}

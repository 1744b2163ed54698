//! Reading a pushed manifest: which kind it is (Docker schema 2, manifest list, OCI image
//! manifest, OCI index), what it references and what it says about itself.

use serde_json::Value;

use crate::names::valid_digest;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const SCHEMA1: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];
/// Layers the registry is not expected to hold (Windows base layers).
const FOREIGN_LAYERS: [&str; 3] = [
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
];
/// The largest manifest ECR accepts.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Descriptor {
    pub media_type: Option<String>,
    pub digest: String,
    pub size: u64,
}

#[derive(Debug)]
pub enum Body {
    Image {
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    Index {
        manifests: Vec<Descriptor>,
    },
}

#[derive(Debug)]
pub struct Manifest {
    pub media_type: String,
    pub body: Body,
    pub subject: Option<Descriptor>,
    pub artifact_type: Option<String>,
    pub annotations: Option<serde_json::Map<String, Value>>,
}

impl Manifest {
    /// Blobs the registry must hold for this manifest (config and distributable layers).
    pub fn blobs(&self) -> Vec<String> {
        match &self.body {
            Body::Image { config, layers } => std::iter::once(config)
                .chain(
                    layers
                        .iter()
                        .filter(|l| !l.media_type.as_deref().is_some_and(|m| FOREIGN_LAYERS.contains(&m))),
                )
                .map(|d| d.digest.clone())
                .collect(),
            Body::Index { .. } => Vec::new(),
        }
    }

    pub fn children(&self) -> Vec<String> {
        match &self.body {
            Body::Index { manifests } => manifests.iter().map(|d| d.digest.clone()).collect(),
            Body::Image { .. } => Vec::new(),
        }
    }

    /// ECR's artifactMediaType: the config's media type (an image's or an artifact's).
    pub fn artifact_media_type(&self) -> Option<String> {
        match &self.body {
            Body::Image { config, .. } => config.media_type.clone(),
            Body::Index { .. } => None,
        }
    }

    /// The image's size as ECR reports it: config + layers (an index: none of its own).
    pub fn image_size(&self) -> u64 {
        match &self.body {
            Body::Image { config, layers } => config.size + layers.iter().map(|l| l.size).sum::<u64>(),
            Body::Index { .. } => 0,
        }
    }

    pub fn is_index(&self) -> bool {
        matches!(self.body, Body::Index { .. })
    }
}

/// Parses `bytes`; `content_type` is what the client sent (the registry's Content-Type or
/// PutImage's imageManifestMediaType). The error is the reason, for MANIFEST_INVALID.
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest, String> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(format!("manifest is larger than {MAX_MANIFEST_BYTES} bytes"));
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("manifest is not valid JSON: {e}"))?;
    let Value::Object(obj) = &v else {
        return Err("manifest is not a JSON object".into());
    };
    let content_type = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| !c.is_empty() && *c != "application/json" && *c != "application/octet-stream");
    let declared = obj.get("mediaType").and_then(Value::as_str);
    if let Some(ct) = content_type.filter(|c| SCHEMA1.contains(c)) {
        return Err(format!("manifest media type {ct} (schema 1) is not supported"));
    }
    let media_type = match (declared, content_type) {
        (Some(d), Some(c)) if d != c => {
            return Err(format!(
                "the manifest's mediaType {d} does not match its content type {c}"
            ));
        }
        (Some(d), _) => d.to_string(),
        (None, Some(c)) => c.to_string(),
        (None, None) if obj.contains_key("manifests") => OCI_INDEX.to_string(),
        (None, None) => OCI_MANIFEST.to_string(),
    };
    if obj.get("schemaVersion").and_then(Value::as_i64) != Some(2) {
        return Err("schemaVersion must be 2".into());
    }
    let body = match media_type.as_str() {
        DOCKER_MANIFEST | OCI_MANIFEST => {
            let config = descriptor(obj.get("config").ok_or("manifest has no config")?, "config")?;
            let layers = match obj.get("layers") {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|l| descriptor(l, "layers"))
                    .collect::<Result<Vec<_>, _>>()?,
                None if media_type == OCI_MANIFEST => Vec::new(),
                _ => return Err("manifest has no layers list".into()),
            };
            Body::Image { config, layers }
        }
        DOCKER_LIST | OCI_INDEX => {
            let Some(Value::Array(items)) = obj.get("manifests") else {
                return Err("index has no manifests list".into());
            };
            let manifests = items
                .iter()
                .map(|m| descriptor(m, "manifests"))
                .collect::<Result<Vec<_>, _>>()?;
            Body::Index { manifests }
        }
        other => return Err(format!("manifest media type {other} is not supported")),
    };
    let subject = obj.get("subject").map(|s| descriptor(s, "subject")).transpose()?;
    let artifact_type = obj.get("artifactType").and_then(Value::as_str).map(str::to_string);
    let annotations = obj.get("annotations").and_then(Value::as_object).cloned();
    Ok(Manifest {
        media_type,
        body,
        subject,
        artifact_type,
        annotations,
    })
}

fn descriptor(v: &Value, field: &str) -> Result<Descriptor, String> {
    let Value::Object(o) = v else {
        return Err(format!("{field}: a descriptor must be an object"));
    };
    let digest = o
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{field}: descriptor has no digest"))?;
    if !valid_digest(digest) {
        return Err(format!("{field}: descriptor digest {digest} is not a sha256 digest"));
    }
    let size = o
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("{field}: descriptor {digest} has no size"))?;
    Ok(Descriptor {
        media_type: o.get("mediaType").and_then(Value::as_str).map(str::to_string),
        digest: digest.to_string(),
        size,
    })
}

/// `sha256:<hex>` of bytes.
pub fn digest_of(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn docker_manifest_and_index() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{}","size":10}},"layers":[{{"digest":"{}","size":5}}]}}"#,
            d('a'),
            d('b')
        );
        let parsed = parse(m.as_bytes(), Some(DOCKER_MANIFEST)).unwrap();
        assert_eq!(parsed.blobs(), vec![d('a'), d('b')]);
        assert_eq!(parsed.image_size(), 15);
        assert!(parse(m.as_bytes(), Some(OCI_MANIFEST)).is_err());
        let i = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"digest":"{}","size":3}}]}}"#,
            d('c')
        );
        let parsed = parse(i.as_bytes(), None).unwrap();
        assert_eq!(parsed.media_type, OCI_INDEX);
        assert_eq!(parsed.children(), vec![d('c')]);
        assert!(parse(b"{\"schemaVersion\":1}", None).is_err());
    }
}

//! ECR's API through the AWS SDK for Rust: repositories, the API's layer upload path,
//! PutImage's checks, images listed, fetched and deleted, policies, tags.

use aws_sdk_ecr::primitives::Blob;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageIdentifier, ImageScanningConfiguration, ImageTagMutability,
    ImageTagMutabilityExclusionFilter, ImageTagMutabilityExclusionFilterType, Tag, TagStatus,
};
use haneul_testkit::Haneul;
use sha2::{Digest, Sha256};

pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn code<E, R>(e: &aws_sdk_ecr::error::SdkError<E, R>) -> String
where
    E: aws_sdk_ecr::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .map(str::to_string)
        .unwrap_or_else(|| "<not a service error>".into())
}

fn message<E, R>(e: &aws_sdk_ecr::error::SdkError<E, R>) -> String
where
    E: aws_sdk_ecr::error::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|s| s.message()).unwrap_or("").to_string()
}

/// Uploads `bytes` as one layer through the API (InitiateLayerUpload → parts → Complete).
pub async fn upload_layer(ecr: &aws_sdk_ecr::Client, repo: &str, bytes: &[u8], part: usize) -> String {
    let d = digest(bytes);
    let up = ecr.initiate_layer_upload().repository_name(repo).send().await.unwrap();
    let id = up.upload_id().unwrap().to_string();
    for (i, chunk) in bytes.chunks(part).enumerate() {
        let first = (i * part) as i64;
        ecr.upload_layer_part()
            .repository_name(repo)
            .upload_id(&id)
            .part_first_byte(first)
            .part_last_byte(first + chunk.len() as i64 - 1)
            .layer_part_blob(Blob::new(chunk.to_vec()))
            .send()
            .await
            .unwrap();
    }
    let done = ecr
        .complete_layer_upload()
        .repository_name(repo)
        .upload_id(&id)
        .layer_digests(&d)
        .send()
        .await
        .unwrap();
    assert_eq!(done.layer_digest(), Some(d.as_str()));
    d
}

/// A Docker schema-2 manifest for a config and layers already in the repository.
pub fn manifest(config: (&str, usize), layers: &[(&str, usize)]) -> String {
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|(d, n)| {
            serde_json::json!({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": d, "size": n})
        })
        .collect();
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config.0, "size": config.1},
        "layers": layers,
    })
    .to_string()
}

/// The image config every test image uses.
pub const CONFIG: &[u8] = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;

/// A repository holding one config and one layer, and a manifest over them.
async fn repo_with_blobs(ecr: &aws_sdk_ecr::Client, repo: &str) -> (String, String) {
    ecr.create_repository().repository_name(repo).send().await.unwrap();
    let config = CONFIG;
    let layer = vec![7u8; 1000];
    let c = upload_layer(ecr, repo, config, 1 << 20).await;
    let l = upload_layer(ecr, repo, &layer, 1 << 20).await;
    (manifest((&c, config.len()), &[(&l, layer.len())]), l)
}

#[tokio::test]
async fn repositories_are_created_described_and_deleted_as_ecr_does() {
    let h = Haneul::start();
    let ecr = h.ecr();
    let created = ecr
        .create_repository()
        .repository_name("team/app")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .image_scanning_configuration(ImageScanningConfiguration::builder().scan_on_push(true).build())
        .encryption_configuration(
            EncryptionConfiguration::builder()
                .encryption_type(EncryptionType::Kms)
                .build()
                .unwrap(),
        )
        .tags(Tag::builder().key("team").value("web").build().unwrap())
        .send()
        .await
        .unwrap();
    let repo = created.repository().unwrap();
    assert_eq!(repo.repository_uri(), Some(format!("{}/team/app", h.api_addr).as_str()));
    assert_eq!(
        repo.repository_arn(),
        Some("arn:aws:ecr:us-east-1:000000000000:repository/team/app")
    );
    assert_eq!(repo.image_tag_mutability(), Some(&ImageTagMutability::Immutable));
    let enc = repo.encryption_configuration().unwrap();
    assert_eq!(enc.encryption_type(), &EncryptionType::Kms);
    assert!(enc
        .kms_key()
        .unwrap()
        .starts_with("arn:aws:kms:us-east-1:000000000000:"));

    let e = ecr
        .create_repository()
        .repository_name("team/app")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "RepositoryAlreadyExistsException");
    for bad in ["Team/App", "team//app", "-x", "a"] {
        let e = ecr.create_repository().repository_name(bad).send().await.unwrap_err();
        assert_eq!(code(&e), "InvalidParameterException", "{bad}");
        assert!(
            message(&e).starts_with("Invalid parameter at 'repositoryName' failed to satisfy constraint"),
            "{}",
            message(&e)
        );
    }
    let e = ecr
        .create_repository()
        .repository_name("x1")
        .image_tag_mutability(ImageTagMutability::ImmutableWithExclusion)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");

    for n in ["b-repo", "c-repo", "d-repo"] {
        ecr.create_repository().repository_name(n).send().await.unwrap();
    }
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = ecr
            .describe_repositories()
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.repositories().len() <= 2);
        names.extend(
            page.repositories()
                .iter()
                .map(|r| r.repository_name().unwrap().to_string()),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["b-repo", "c-repo", "d-repo", "team/app"]);
    let e = ecr
        .describe_repositories()
        .repository_names("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "RepositoryNotFoundException");
    assert_eq!(
        message(&e),
        "The repository with name 'nope' does not exist in the registry with id '000000000000'"
    );

    let (m, _) = repo_with_blobs(&ecr, "full").await;
    ecr.put_image()
        .repository_name("full")
        .image_manifest(&m)
        .image_tag("v1")
        .send()
        .await
        .unwrap();
    let e = ecr
        .delete_repository()
        .repository_name("full")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "RepositoryNotEmptyException");
    assert_eq!(
        ecr.list_images()
            .repository_name("full")
            .send()
            .await
            .unwrap()
            .image_ids()
            .len(),
        1
    );
    ecr.delete_repository()
        .repository_name("full")
        .force(true)
        .send()
        .await
        .unwrap();
    let e = ecr.list_images().repository_name("full").send().await.unwrap_err();
    assert_eq!(code(&e), "RepositoryNotFoundException");
    // A new repository of the same name starts empty.
    ecr.create_repository().repository_name("full").send().await.unwrap();
    assert!(ecr
        .list_images()
        .repository_name("full")
        .send()
        .await
        .unwrap()
        .image_ids()
        .is_empty());
}

#[tokio::test]
async fn the_api_push_path_checks_parts_layers_digests_and_tags() {
    let h = Haneul::start();
    let ecr = h.ecr();
    ecr.create_repository().repository_name("parts").send().await.unwrap();

    // Parts in order, every part but the last at least 5 MiB.
    let big: Vec<u8> = (0..(5 << 20) + 10).map(|i| (i % 251) as u8).collect();
    let d = upload_layer(&ecr, "parts", &big, 5 << 20).await;
    let avail = ecr
        .batch_check_layer_availability()
        .repository_name("parts")
        .layer_digests(&d)
        .layer_digests(digest(b"absent"))
        .send()
        .await
        .unwrap();
    let states: Vec<_> = avail
        .layers()
        .iter()
        .map(|l| l.layer_availability().unwrap().as_str().to_string())
        .collect();
    assert_eq!(states, ["AVAILABLE", "UNAVAILABLE"]);
    assert_eq!(avail.layers()[0].layer_size(), Some(big.len() as i64));

    let up = ecr
        .initiate_layer_upload()
        .repository_name("parts")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = |first: i64, bytes: Vec<u8>| {
        ecr.upload_layer_part()
            .repository_name("parts")
            .upload_id(id)
            .part_first_byte(first)
            .part_last_byte(first + bytes.len() as i64 - 1)
            .layer_part_blob(Blob::new(bytes))
            .send()
    };
    let e = part(10, vec![1; 10]).await.unwrap_err();
    assert_eq!(code(&e), "InvalidLayerPartException");
    part(0, vec![1; 10]).await.unwrap();
    let e = part(10, vec![1; 10]).await.unwrap_err();
    assert_eq!(code(&e), "LayerPartTooSmallException");
    let e = ecr
        .complete_layer_upload()
        .repository_name("parts")
        .upload_id(id)
        .layer_digests(digest(b"something else"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidLayerException");
    let e = ecr
        .complete_layer_upload()
        .repository_name("parts")
        .upload_id(id)
        .layer_digests(digest(&[1; 10]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UploadNotFoundException", "a refused upload is gone: {e:?}");

    // PutImage: layers must be there; same checks as a registry push.
    let missing = manifest((&digest(b"no config"), 9), &[]);
    let e = ecr
        .put_image()
        .repository_name("parts")
        .image_manifest(&missing)
        .image_tag("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "LayersNotFoundException");
    let e = ecr
        .put_image()
        .repository_name("parts")
        .image_manifest("{not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");

    let (m, _) = repo_with_blobs(&ecr, "imm").await;
    ecr.put_image_tag_mutability()
        .repository_name("imm")
        .image_tag_mutability(ImageTagMutability::ImmutableWithExclusion)
        .image_tag_mutability_exclusion_filters(
            ImageTagMutabilityExclusionFilter::builder()
                .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
                .filter("latest*")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let put = ecr
        .put_image()
        .repository_name("imm")
        .image_manifest(&m)
        .image_tag("v1")
        .send()
        .await
        .unwrap();
    let d1 = put
        .image()
        .unwrap()
        .image_id()
        .unwrap()
        .image_digest()
        .unwrap()
        .to_string();
    assert_eq!(d1, digest(m.as_bytes()));
    let e = ecr
        .put_image()
        .repository_name("imm")
        .image_manifest(&m)
        .image_tag("v1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ImageAlreadyExistsException");
    let e = ecr
        .put_image()
        .repository_name("imm")
        .image_manifest(&m)
        .image_digest(digest(b"other"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ImageDigestDoesNotMatchException");
    // Another image (same blobs, other layer order of keys) under v1 is refused; `latest` is excluded.
    let m2 = m.replacen("{", "{ ", 1);
    let e = ecr
        .put_image()
        .repository_name("imm")
        .image_manifest(&m2)
        .image_tag("v1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ImageTagAlreadyExistsException");
    assert_eq!(
        message(&e),
        "The image tag 'v1' already exists in the 'imm' repository and cannot be overwritten because the repository is immutable."
    );
    ecr.put_image()
        .repository_name("imm")
        .image_manifest(&m)
        .image_tag("latest")
        .send()
        .await
        .unwrap();
    ecr.put_image()
        .repository_name("imm")
        .image_manifest(&m2)
        .image_tag("latest")
        .send()
        .await
        .unwrap();
    let v1 = ecr
        .describe_images()
        .repository_name("imm")
        .image_ids(ImageIdentifier::builder().image_tag("v1").build())
        .send()
        .await
        .unwrap();
    assert_eq!(v1.image_details()[0].image_digest(), Some(d1.as_str()));
    assert_eq!(
        v1.image_details()[0].image_tags(),
        ["v1"],
        "latest moved to the second image"
    );
}

#[tokio::test]
async fn images_are_listed_described_fetched_and_deleted() {
    let h = Haneul::start();
    let ecr = h.ecr();
    let (m, layer) = repo_with_blobs(&ecr, "imgs").await;
    let m_untagged = m.replacen("{", "{\n", 1);
    ecr.put_image()
        .repository_name("imgs")
        .image_manifest(&m)
        .image_tag("v1")
        .send()
        .await
        .unwrap();
    ecr.put_image()
        .repository_name("imgs")
        .image_manifest(&m)
        .image_tag("v2")
        .send()
        .await
        .unwrap();
    ecr.put_image()
        .repository_name("imgs")
        .image_manifest(&m_untagged)
        .send()
        .await
        .unwrap();
    let d = digest(m.as_bytes());
    let du = digest(m_untagged.as_bytes());

    let all = ecr.list_images().repository_name("imgs").send().await.unwrap();
    assert_eq!(all.image_ids().len(), 3, "one id per tag, one for the untagged image");
    let untagged = ecr
        .list_images()
        .repository_name("imgs")
        .filter(
            aws_sdk_ecr::types::ListImagesFilter::builder()
                .tag_status(TagStatus::Untagged)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(untagged.image_ids().len(), 1);
    assert_eq!(untagged.image_ids()[0].image_digest(), Some(du.as_str()));
    let page = ecr
        .describe_images()
        .repository_name("imgs")
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.image_details().len(), 1);
    let rest = ecr
        .describe_images()
        .repository_name("imgs")
        .next_token(page.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.image_details().len(), 1);
    assert!(rest.next_token().is_none());

    let detail = ecr
        .describe_images()
        .repository_name("imgs")
        .image_ids(ImageIdentifier::builder().image_digest(&d).build())
        .send()
        .await
        .unwrap();
    let detail = &detail.image_details()[0];
    assert_eq!(detail.image_tags(), ["v1", "v2"]);
    assert_eq!(detail.image_size_in_bytes(), Some(1000 + CONFIG.len() as i64));
    assert_eq!(
        detail.image_manifest_media_type(),
        Some("application/vnd.docker.distribution.manifest.v2+json")
    );
    assert_eq!(
        detail.artifact_media_type(),
        Some("application/vnd.docker.container.image.v1+json")
    );
    assert!(detail.image_pushed_at().is_some());
    let e = ecr
        .describe_images()
        .repository_name("imgs")
        .image_ids(ImageIdentifier::builder().image_tag("v9").build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ImageNotFoundException");

    let got = ecr
        .batch_get_image()
        .repository_name("imgs")
        .image_ids(ImageIdentifier::builder().image_tag("v1").build())
        .image_ids(ImageIdentifier::builder().image_tag("v9").build())
        .send()
        .await
        .unwrap();
    assert_eq!(got.images()[0].image_manifest(), Some(m.as_str()));
    assert_eq!(
        got.failures()[0].failure_code().map(|c| c.as_str()),
        Some("ImageNotFound")
    );
    let refused = ecr
        .batch_get_image()
        .repository_name("imgs")
        .image_ids(ImageIdentifier::builder().image_tag("v1").build())
        .accepted_media_types("application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert!(refused.images().is_empty());
    assert_eq!(refused.failures().len(), 1);

    // The layer's download URL works without other credentials, as a presigned URL does.
    let url = ecr
        .get_download_url_for_layer()
        .repository_name("imgs")
        .layer_digest(&layer)
        .send()
        .await
        .unwrap()
        .download_url()
        .unwrap()
        .to_string();
    let path = url.strip_prefix(&format!("http://{}", h.api_addr)).unwrap();
    let r = h.raw("GET", path, &[], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 1000);

    // Deleting by tag removes the tag; the last tag takes the image with it.
    let del = ecr
        .batch_delete_image()
        .repository_name("imgs")
        .image_ids(ImageIdentifier::builder().image_tag("v1").build())
        .image_ids(ImageIdentifier::builder().image_tag("v9").build())
        .send()
        .await
        .unwrap();
    assert_eq!(del.image_ids().len(), 1);
    assert_eq!(
        del.failures()[0].failure_code().map(|c| c.as_str()),
        Some("ImageNotFound")
    );
    assert_eq!(
        ecr.list_images()
            .repository_name("imgs")
            .send()
            .await
            .unwrap()
            .image_ids()
            .len(),
        2
    );
    ecr.batch_delete_image()
        .repository_name("imgs")
        .image_ids(ImageIdentifier::builder().image_tag("v2").build())
        .image_ids(ImageIdentifier::builder().image_digest(&du).build())
        .send()
        .await
        .unwrap();
    assert!(ecr
        .list_images()
        .repository_name("imgs")
        .send()
        .await
        .unwrap()
        .image_ids()
        .is_empty());
}

#[tokio::test]
async fn policies_tags_and_the_registry() {
    let h = Haneul::start();
    let ecr = h.ecr();
    ecr.create_repository().repository_name("pol").send().await.unwrap();
    let e = ecr
        .get_repository_policy()
        .repository_name("pol")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "RepositoryPolicyNotFoundException");
    let e = ecr
        .set_repository_policy()
        .repository_name("pol")
        .policy_text("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage"]}]}"#;
    ecr.set_repository_policy()
        .repository_name("pol")
        .policy_text(policy)
        .send()
        .await
        .unwrap();
    let got = ecr.get_repository_policy().repository_name("pol").send().await.unwrap();
    assert_eq!(got.policy_text(), Some(policy));
    ecr.delete_repository_policy()
        .repository_name("pol")
        .send()
        .await
        .unwrap();

    let e = ecr
        .get_lifecycle_policy()
        .repository_name("pol")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "LifecyclePolicyNotFoundException");
    let bad = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#;
    let e = ecr
        .put_lifecycle_policy()
        .repository_name("pol")
        .lifecycle_policy_text(bad)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
    assert!(
        message(&e).contains("Lifecycle policy validation failure"),
        "{}",
        message(&e)
    );
    let good = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}"#;
    ecr.put_lifecycle_policy()
        .repository_name("pol")
        .lifecycle_policy_text(good)
        .send()
        .await
        .unwrap();
    let got = ecr.get_lifecycle_policy().repository_name("pol").send().await.unwrap();
    assert_eq!(got.lifecycle_policy_text(), Some(good));

    let arn = "arn:aws:ecr:us-east-1:000000000000:repository/pol";
    ecr.tag_resource()
        .resource_arn(arn)
        .tags(Tag::builder().key("env").value("test").build().unwrap())
        .tags(Tag::builder().key("team").value("web").build().unwrap())
        .send()
        .await
        .unwrap();
    ecr.untag_resource()
        .resource_arn(arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = ecr.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
    let keys: Vec<_> = tags.tags().iter().map(|t| t.key()).collect();
    assert_eq!(keys, ["env"]);
    let e = ecr
        .tag_resource()
        .resource_arn(arn)
        .tags(Tag::builder().key("aws:x").value("y").build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidTagParameterException");
    let e = ecr
        .list_tags_for_resource()
        .resource_arn("not-an-arn")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");

    let e = ecr.get_registry_policy().send().await.unwrap_err();
    assert_eq!(code(&e), "RegistryPolicyNotFoundException");
    ecr.put_registry_policy().policy_text(policy).send().await.unwrap();
    assert_eq!(
        ecr.get_registry_policy().send().await.unwrap().policy_text(),
        Some(policy)
    );
    let reg = ecr.describe_registry().send().await.unwrap();
    assert_eq!(reg.registry_id(), Some("000000000000"));

    let auth = ecr.get_authorization_token().send().await.unwrap();
    let data = &auth.authorization_data()[0];
    assert_eq!(data.proxy_endpoint(), Some(format!("http://{}", h.api_addr).as_str()));
    let decoded = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        data.authorization_token().unwrap(),
    )
    .unwrap();
    assert!(String::from_utf8(decoded).unwrap().starts_with("AWS:"));
    let expires = data.expires_at().unwrap().secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((expires - now - 12 * 3600).abs() < 60, "tokens last 12 hours");
}

/// A plain tar layer holding `files` (path, contents).
fn tar_layer(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, body) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, body.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap()
}

/// Uploads `bytes` unless the repository has it already (as docker does); its digest.
async fn ensure_layer(ecr: &aws_sdk_ecr::Client, repo: &str, bytes: &[u8]) -> String {
    let check = ecr
        .batch_check_layer_availability()
        .repository_name(repo)
        .layer_digests(digest(bytes))
        .send()
        .await
        .unwrap();
    match check.layers()[0].layer_availability().map(|a| a.as_str()) {
        Some("AVAILABLE") => digest(bytes),
        _ => upload_layer(ecr, repo, bytes, 1 << 20).await,
    }
}

/// Pushes an image of `layers` through the API; its digest.
async fn push_layers(ecr: &aws_sdk_ecr::Client, repo: &str, tag: &str, layers: &[Vec<u8>]) -> String {
    let c = ensure_layer(ecr, repo, CONFIG).await;
    let mut ls = Vec::new();
    for l in layers {
        ls.push((ensure_layer(ecr, repo, l).await, l.len()));
    }
    let refs: Vec<(&str, usize)> = ls.iter().map(|(d, n)| (d.as_str(), *n)).collect();
    let m = manifest((&c, CONFIG.len()), &refs);
    ecr.put_image()
        .repository_name(repo)
        .image_manifest(&m)
        .image_tag(tag)
        .send()
        .await
        .unwrap();
    digest(m.as_bytes())
}

async fn scan_result(
    ecr: &aws_sdk_ecr::Client,
    repo: &str,
    tag: &str,
) -> aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsOutput {
    for _ in 0..200 {
        let out = ecr
            .describe_image_scan_findings()
            .repository_name(repo)
            .image_id(ImageIdentifier::builder().image_tag(tag).build())
            .send()
            .await
            .unwrap();
        if out.image_scan_status().and_then(|s| s.status()).map(|s| s.as_str()) != Some("IN_PROGRESS") {
            return out;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the scan of {repo}:{tag} did not finish");
}

#[tokio::test]
async fn scans_match_installed_packages_against_the_vulnerability_database() {
    let db = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../haneul-ecr/testdata/vuln-db");
    let h = Haneul::start_with(haneul_testkit::Options {
        vuln_db: Some(db),
        ..Default::default()
    });
    let ecr = h.ecr();
    ecr.create_repository()
        .repository_name("scanned")
        .image_scanning_configuration(ImageScanningConfiguration::builder().scan_on_push(true).build())
        .send()
        .await
        .unwrap();
    let status = "Package: libssl3\nStatus: install ok installed\nSource: openssl\nVersion: 3.0.9-1\n\nPackage: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\n";
    let base = tar_layer(&[
        ("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
        ("var/lib/dpkg/status", status),
    ]);
    push_layers(&ecr, "scanned", "deb", &[base]).await;

    // Scan on push: openssl's record matches libssl3 (by its source); bash is past its fix.
    let out = scan_result(&ecr, "scanned", "deb").await;
    assert_eq!(out.image_scan_status().unwrap().status().unwrap().as_str(), "COMPLETE");
    let findings = out.image_scan_findings().unwrap();
    let names: Vec<_> = findings.findings().iter().map(|f| f.name().unwrap()).collect();
    assert_eq!(names, ["CVE-2099-0001"]);
    let f = &findings.findings()[0];
    assert_eq!(f.severity().map(|s| s.as_str()), Some("HIGH"), "CVSS 7.5");
    let attr = |k: &str| {
        f.attributes()
            .iter()
            .find(|a| a.key() == k)
            .and_then(|a| a.value())
            .map(str::to_string)
    };
    assert_eq!(attr("package_name").as_deref(), Some("libssl3"));
    assert_eq!(attr("package_version").as_deref(), Some("3.0.9-1"));
    assert_eq!(attr("CVSS3_SCORE").as_deref(), Some("7.5"));
    assert_eq!(
        findings
            .finding_severity_counts()
            .and_then(|c| c.get(&aws_sdk_ecr::types::FindingSeverity::High)),
        Some(&1)
    );
    let details = ecr.describe_images().repository_name("scanned").send().await.unwrap();
    let summary = details.image_details()[0].image_scan_findings_summary().unwrap();
    assert_eq!(
        summary
            .finding_severity_counts()
            .and_then(|c| c.get(&aws_sdk_ecr::types::FindingSeverity::High)),
        Some(&1)
    );

    // A later layer upgrades openssl: the scan reads the top layer's database.
    let fixed = status.replace("3.0.9-1", "3.0.11-1~deb12u2");
    let base = tar_layer(&[
        ("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
        ("var/lib/dpkg/status", status),
    ]);
    let upgrade = tar_layer(&[("var/lib/dpkg/status", &fixed)]);
    push_layers(&ecr, "scanned", "upgraded", &[base, upgrade]).await;
    let out = scan_result(&ecr, "scanned", "upgraded").await;
    assert!(out.image_scan_findings().unwrap().findings().is_empty(), "{out:?}");

    // Alpine: musl's record by its CVE alias, a MEDIUM from the record's own rating.
    let apk = "P:musl\nV:1.2.4-r2\no:musl\n";
    let alpine = tar_layer(&[
        ("etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n"),
        ("lib/apk/db/installed", apk),
    ]);
    push_layers(&ecr, "scanned", "alpine", &[alpine]).await;
    let out = scan_result(&ecr, "scanned", "alpine").await;
    let f = &out.image_scan_findings().unwrap().findings()[0];
    assert_eq!(
        (f.name(), f.severity().map(|s| s.as_str())),
        (Some("CVE-2099-0003"), Some("MEDIUM"))
    );

    // StartImageScan: once a day per image; an image without a package database is unsupported.
    let e = ecr
        .start_image_scan()
        .repository_name("scanned")
        .image_id(ImageIdentifier::builder().image_tag("deb").build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "LimitExceededException");
    ecr.create_repository().repository_name("plain").send().await.unwrap();
    push_layers(&ecr, "plain", "v1", &[tar_layer(&[("hello.txt", "hi")])]).await;
    let e = ecr
        .describe_image_scan_findings()
        .repository_name("plain")
        .image_id(ImageIdentifier::builder().image_tag("v1").build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ScanNotFoundException");
    let started = ecr
        .start_image_scan()
        .repository_name("plain")
        .image_id(ImageIdentifier::builder().image_tag("v1").build())
        .send()
        .await
        .unwrap();
    assert_eq!(
        started.image_scan_status().unwrap().status().unwrap().as_str(),
        "IN_PROGRESS"
    );
    let out = scan_result(&ecr, "plain", "v1").await;
    assert_eq!(
        out.image_scan_status().unwrap().status().unwrap().as_str(),
        "UNSUPPORTED_IMAGE"
    );
}

#[tokio::test]
async fn lifecycle_previews_replication_and_policy_deletion() {
    let h = Haneul::start();
    let ecr = h.ecr();
    let (m, _) = repo_with_blobs(&ecr, "life").await;
    let m2 = m.replacen("{", "{ ", 1);
    let m3 = m.replacen("{", "{  ", 1);
    ecr.put_image()
        .repository_name("life")
        .image_manifest(&m)
        .image_tag("v1")
        .send()
        .await
        .unwrap();
    ecr.put_image()
        .repository_name("life")
        .image_manifest(&m2)
        .image_tag("v2")
        .send()
        .await
        .unwrap();
    ecr.put_image()
        .repository_name("life")
        .image_manifest(&m3)
        .send()
        .await
        .unwrap();
    let e = ecr
        .get_lifecycle_policy_preview()
        .repository_name("life")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "LifecyclePolicyPreviewNotFoundException");
    let e = ecr
        .start_lifecycle_policy_preview()
        .repository_name("life")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        "LifecyclePolicyNotFoundException",
        "no text and no stored policy"
    );
    // Keep one tagged v* image; untagged ones go after a day (none is that old).
    let policy = r#"{"rules":[
      {"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
      {"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}]}"#;
    ecr.start_lifecycle_policy_preview()
        .repository_name("life")
        .lifecycle_policy_text(policy)
        .send()
        .await
        .unwrap();
    let preview = ecr
        .get_lifecycle_policy_preview()
        .repository_name("life")
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status().map(|s| s.as_str()), Some("COMPLETE"));
    let results = preview.preview_results();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].image_tags(), ["v1"], "the older tagged image expires");
    assert_eq!(results[0].applied_rule_priority(), Some(1));
    assert_eq!(preview.summary().unwrap().expiring_image_total_count(), Some(1));
    assert_eq!(
        ecr.list_images()
            .repository_name("life")
            .send()
            .await
            .unwrap()
            .image_ids()
            .len(),
        3,
        "a preview deletes nothing"
    );

    ecr.put_lifecycle_policy()
        .repository_name("life")
        .lifecycle_policy_text(policy)
        .send()
        .await
        .unwrap();
    let gone = ecr
        .delete_lifecycle_policy()
        .repository_name("life")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.lifecycle_policy_text(), Some(policy));
    let e = ecr
        .delete_lifecycle_policy()
        .repository_name("life")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "LifecyclePolicyNotFoundException");
    let statement = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*"}]}"#;
    ecr.put_registry_policy().policy_text(statement).send().await.unwrap();
    ecr.delete_registry_policy().send().await.unwrap();
    let e = ecr.delete_registry_policy().send().await.unwrap_err();
    assert_eq!(code(&e), "RegistryPolicyNotFoundException");

    ecr.put_image_scanning_configuration()
        .repository_name("life")
        .image_scanning_configuration(ImageScanningConfiguration::builder().scan_on_push(true).build())
        .send()
        .await
        .unwrap();
    let repo = ecr
        .describe_repositories()
        .repository_names("life")
        .send()
        .await
        .unwrap();
    assert!(repo.repositories()[0]
        .image_scanning_configuration()
        .unwrap()
        .scan_on_push());

    use aws_sdk_ecr::types::{ReplicationConfiguration, ReplicationDestination, ReplicationRule};
    let rule = |region: &str| {
        ReplicationRule::builder()
            .destinations(
                ReplicationDestination::builder()
                    .region(region)
                    .registry_id("000000000000")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let e = ecr
        .put_replication_configuration()
        .replication_configuration(
            ReplicationConfiguration::builder()
                .rules(rule("us-east-1"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException", "replicating into itself");
    ecr.put_replication_configuration()
        .replication_configuration(
            ReplicationConfiguration::builder()
                .rules(rule("eu-west-1"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let reg = ecr.describe_registry().send().await.unwrap();
    let dest = &reg.replication_configuration().unwrap().rules()[0].destinations()[0];
    assert_eq!(dest.region(), "eu-west-1");
}

/// Polls `check` every 100 ms for up to `timeout_s`; whether it came true.
async fn eventually<F, Fut>(timeout_s: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout_s);
    while std::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn lifecycle_policies_expire_and_unreferenced_blobs_are_collected_on_schedule() {
    let h = Haneul::start_with(haneul_testkit::Options {
        ecr_lifecycle_interval_s: Some(1),
        ecr_gc_interval_s: Some(1),
        // Long enough for this test's pushes to link their blobs into a manifest.
        ecr_gc_grace_s: Some(2),
        ..Default::default()
    });
    let ecr = h.ecr();
    let (m, layer) = repo_with_blobs(&ecr, "sched").await;
    let mut digests = Vec::new();
    for (i, tag) in ["v1", "v2", "v3"].iter().enumerate() {
        let body = m.replacen('{', &format!("{{{}", " ".repeat(i)), 1);
        let put = ecr
            .put_image()
            .repository_name("sched")
            .image_manifest(&body)
            .image_tag(*tag)
            .send()
            .await
            .unwrap();
        digests.push(
            put.image()
                .unwrap()
                .image_id()
                .unwrap()
                .image_digest()
                .unwrap()
                .to_string(),
        );
    }
    // An orphan: uploaded, never referenced by a manifest.
    let orphan_bytes = vec![9u8; 333];
    let orphan = upload_layer(&ecr, "sched", &orphan_bytes, 1 << 20).await;
    let blob_file = |d: &str| h.data_dir.join("blobs/sha256").join(&d[7..9]).join(&d[7..]);
    assert!(blob_file(&orphan).exists(), "{}", blob_file(&orphan).display());

    // Keep the newest v* image: the periodic pass expires the other two by itself.
    let policy = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#;
    ecr.put_lifecycle_policy()
        .repository_name("sched")
        .lifecycle_policy_text(policy)
        .send()
        .await
        .unwrap();
    let tags = || async {
        let d = ecr.describe_images().repository_name("sched").send().await.unwrap();
        let mut t: Vec<String> = d.image_details().iter().flat_map(|i| i.image_tags().to_vec()).collect();
        t.sort();
        t
    };
    assert!(
        eventually(15, || async { tags().await == ["v3"] }).await,
        "lifecycle pass did not expire v1 and v2: {:?}",
        tags().await
    );

    // The collector removes the orphan's link and file; the kept image's blobs stay.
    let available = |d: String| {
        let ecr = ecr.clone();
        async move {
            let r = ecr
                .batch_check_layer_availability()
                .repository_name("sched")
                .layer_digests(d)
                .send()
                .await
                .unwrap();
            r.layers()
                .first()
                .and_then(|l| l.layer_availability())
                .map(|a| a.as_str().to_string())
        }
    };
    assert!(
        eventually(15, || async {
            available(orphan.clone()).await.as_deref() != Some("AVAILABLE")
        })
        .await,
        "the unreferenced blob is still available"
    );
    assert!(
        eventually(5, || async { !blob_file(&orphan).exists() }).await,
        "the unreferenced blob's file is still on disk"
    );
    assert_eq!(available(layer.clone()).await.as_deref(), Some("AVAILABLE"));
    assert!(blob_file(&layer).exists());
    let kept = ecr
        .batch_get_image()
        .repository_name("sched")
        .image_ids(ImageIdentifier::builder().image_tag("v3").build())
        .send()
        .await
        .unwrap();
    assert_eq!(kept.images().len(), 1);
    assert_eq!(
        kept.images()[0].image_id().unwrap().image_digest(),
        Some(digests[2].as_str())
    );
}

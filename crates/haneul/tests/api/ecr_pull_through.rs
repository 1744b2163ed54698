//! Pull-through cache rules through aws-sdk-ecr, and pulls through them from another
//! running haneul over raw HTTP: the first pull fetches and stores (repository created,
//! blobs verified), later pulls are served from the cache even with the upstream gone.

use haneul_testkit::Haneul;

use crate::ecr::{code, digest, CONFIG};
use crate::ecr_registry::{error_code, push_blob, AUTH};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

async fn push_manifest(h: &Haneul, repo: &str, reference: &str, media_type: &str, body: &str) {
    let r = h
        .raw(
            "PUT",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[AUTH, ("content-type", media_type)],
            body.to_string(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// An image manifest over the shared config and one layer of `layer` bytes.
async fn push_image(h: &Haneul, repo: &str, layer: &[u8]) -> String {
    let config = push_blob(h, repo, CONFIG).await;
    let l = push_blob(h, repo, layer).await;
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": CONFIG.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l, "size": layer.len()}],
    })
    .to_string()
}

#[tokio::test]
async fn pull_through_cache_rules_are_validated_stored_and_described() {
    let h = Haneul::start();
    let ecr = h.ecr();
    let made = ecr
        .create_pull_through_cache_rule()
        .ecr_repository_prefix("mirror/")
        .upstream_registry_url("127.0.0.1:1")
        .send()
        .await
        .unwrap();
    assert_eq!(made.ecr_repository_prefix(), Some("mirror"));
    assert_eq!(made.upstream_registry().map(|r| r.as_str()), Some("ecr"));
    let again = ecr
        .create_pull_through_cache_rule()
        .ecr_repository_prefix("mirror")
        .upstream_registry_url("127.0.0.1:2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&again), "PullThroughCacheRuleAlreadyExistsException");
    let bad = ecr
        .create_pull_through_cache_rule()
        .ecr_repository_prefix("elsewhere")
        .upstream_registry_url("not a registry")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad), "UnsupportedUpstreamRegistryException");
    // ROOT is for ECR-to-ECR rules only.
    let root = ecr
        .create_pull_through_cache_rule()
        .ecr_repository_prefix("ROOT")
        .upstream_registry_url("quay.io")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&root), "InvalidParameterException");
    ecr.create_pull_through_cache_rule()
        .ecr_repository_prefix("quay")
        .upstream_registry_url("quay.io")
        .send()
        .await
        .unwrap();

    let all = ecr.describe_pull_through_cache_rules().send().await.unwrap();
    let prefixes: Vec<_> = all
        .pull_through_cache_rules()
        .iter()
        .map(|r| r.ecr_repository_prefix().unwrap_or(""))
        .collect();
    assert_eq!(prefixes, ["mirror", "quay"]);
    assert_eq!(
        all.pull_through_cache_rules()[1]
            .upstream_registry()
            .map(|r| r.as_str()),
        Some("quay")
    );
    let page = ecr
        .describe_pull_through_cache_rules()
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.pull_through_cache_rules().len(), 1);
    let rest = ecr
        .describe_pull_through_cache_rules()
        .next_token(page.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.pull_through_cache_rules()[0].ecr_repository_prefix(), Some("quay"));
    assert!(rest.next_token().is_none());
    let missing = ecr
        .describe_pull_through_cache_rules()
        .ecr_repository_prefixes("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing), "PullThroughCacheRuleNotFoundException");

    // Validation really asks the upstream: nothing listens on port 1.
    let v = ecr
        .validate_pull_through_cache_rule()
        .ecr_repository_prefix("mirror")
        .send()
        .await
        .unwrap();
    assert!(!v.is_valid());
    assert!(
        v.failure().is_some_and(|f| f.contains("127.0.0.1:1")),
        "{:?}",
        v.failure()
    );

    let updated = ecr
        .update_pull_through_cache_rule()
        .ecr_repository_prefix("mirror")
        .custom_role_arn("arn:aws:iam::000000000000:role/pull")
        .send()
        .await
        .unwrap();
    assert!(updated.updated_at().is_some());
    let gone = ecr
        .delete_pull_through_cache_rule()
        .ecr_repository_prefix("mirror")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.upstream_registry_url(), Some("127.0.0.1:1"));
    let again = ecr
        .delete_pull_through_cache_rule()
        .ecr_repository_prefix("mirror")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&again), "PullThroughCacheRuleNotFoundException");
}

#[tokio::test]
async fn pulls_through_the_cache_from_another_haneul_and_keep_serving_without_it() {
    let upstream = Haneul::start();
    upstream
        .ecr()
        .create_repository()
        .repository_name("team/app")
        .send()
        .await
        .unwrap();
    let amd = push_image(&upstream, "team/app", b"amd64 layer").await;
    push_manifest(&upstream, "team/app", "v1", OCI_MANIFEST, &amd).await;
    let arm = push_image(&upstream, "team/app", b"arm64 layer").await;
    let (amd_d, arm_d) = (digest(amd.as_bytes()), digest(arm.as_bytes()));
    push_manifest(&upstream, "team/app", &arm_d, OCI_MANIFEST, &arm).await;
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": amd_d, "size": amd.len(), "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": OCI_MANIFEST, "digest": arm_d, "size": arm.len(), "platform": {"architecture": "arm64", "os": "linux"}}]})
    .to_string();
    push_manifest(&upstream, "team/app", "multi", OCI_INDEX, &index).await;

    let h = Haneul::start();
    h.ecr()
        .create_pull_through_cache_rule()
        .ecr_repository_prefix("up")
        .upstream_registry_url(upstream.api_addr.to_string())
        .send()
        .await
        .unwrap();
    let v = h
        .ecr()
        .validate_pull_through_cache_rule()
        .ecr_repository_prefix("up")
        .send()
        .await
        .unwrap();
    assert!(v.is_valid(), "{:?}", v.failure());

    let r = h.raw("GET", "/v2/up/team/app/manifests/v1", &[AUTH], "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, amd, "the manifest exactly as the upstream holds it");
    let r = h
        .raw(
            "GET",
            &format!("/v2/up/team/app/blobs/{}", digest(b"amd64 layer")),
            &[AUTH],
            "",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "amd64 layer");
    // The repository was created as ECR creates it, and the image is described there.
    let repos = h
        .ecr()
        .describe_repositories()
        .repository_names("up/team/app")
        .send()
        .await
        .unwrap();
    assert_eq!(
        repos.repositories()[0].image_tag_mutability().map(|m| m.as_str()),
        Some("MUTABLE")
    );
    let images = h
        .ecr()
        .describe_images()
        .repository_name("up/team/app")
        .send()
        .await
        .unwrap();
    assert_eq!(images.image_details()[0].image_tags(), ["v1"]);
    assert_eq!(images.image_details()[0].image_digest(), Some(amd_d.as_str()));

    // An index: both platforms' manifests and blobs come along.
    let r = h.raw("GET", "/v2/up/team/app/manifests/multi", &[AUTH], "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, index);
    let r = h
        .raw("GET", &format!("/v2/up/team/app/manifests/{arm_d}"), &[AUTH], "")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = h
        .raw(
            "HEAD",
            &format!("/v2/up/team/app/blobs/{}", digest(b"arm64 layer")),
            &[AUTH],
            "",
        )
        .await;
    assert_eq!(r.status, 200);

    // What the upstream does not have is MANIFEST_UNKNOWN; names under no rule stay unknown.
    let r = h.raw("GET", "/v2/up/team/app/manifests/v9", &[AUTH], "").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(error_code(&r), "MANIFEST_UNKNOWN");
    let r = h.raw("GET", "/v2/other/app/manifests/v1", &[AUTH], "").await;
    assert_eq!(error_code(&r), "NAME_UNKNOWN");

    // With the upstream gone the cache still serves what it pulled.
    drop(upstream);
    let r = h.raw("GET", "/v2/up/team/app/manifests/v1", &[AUTH], "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, amd);
    let r = h.raw("GET", "/v2/up/team/app/manifests/v2", &[AUTH], "").await;
    assert_eq!(r.status, 502, "an unreachable upstream: {}", r.body);
    assert!(r.body.contains("pull through cache"), "{}", r.body);
}

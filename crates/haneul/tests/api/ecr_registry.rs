//! The OCI distribution API under `/v2/` over raw HTTP: every status code and header the
//! spec names for pull, push, content discovery and content management, and the errors.

use haneul_testkit::{Haneul, RawResponse};

use crate::ecr::{digest, CONFIG};

/// Basic `AWS:x`: any password is accepted in dev mode, but some credential must be sent.
pub const AUTH: (&str, &str) = ("authorization", "Basic QVdTOng=");
pub const OCTETS: (&str, &str) = ("content-type", "application/octet-stream");
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn header<'a>(r: &'a RawResponse, name: &str) -> &'a str {
    r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

pub fn error_code(r: &RawResponse) -> String {
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("not a JSON error: {}", r.body));
    v["errors"][0]["code"].as_str().unwrap_or("").to_string()
}

async fn repo(h: &Haneul, name: &str) {
    h.ecr().create_repository().repository_name(name).send().await.unwrap();
}

/// A monolithic upload (POST ?digest=): the blob's digest.
pub async fn push_blob(h: &Haneul, repo: &str, bytes: &[u8]) -> String {
    let d = digest(bytes);
    let r = h
        .raw(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
            &[AUTH, OCTETS],
            bytes.to_vec(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(header(&r, "docker-content-digest"), d);
    d
}

fn image_manifest(media_type: &str, config: &str, layers: &[(&str, usize)], extra: serde_json::Value) -> String {
    let mut m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": CONFIG.len()},
        "layers": layers.iter().map(|(d, n)| serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": n})).collect::<Vec<_>>(),
    });
    if let (Some(m), serde_json::Value::Object(extra)) = (m.as_object_mut(), extra) {
        m.extend(extra);
    }
    m.to_string()
}

#[tokio::test]
async fn the_registry_challenges_and_accepts_only_real_tokens_outside_dev() {
    let h = Haneul::start_verified();
    let r = h.raw("GET", "/v2/", &[], "").await;
    assert_eq!(r.status, 401);
    assert!(
        header(&r, "www-authenticate").starts_with("Basic realm="),
        "{:?}",
        r.headers
    );
    assert_eq!(error_code(&r), "UNAUTHORIZED");
    let r = h.raw("GET", "/v2/", &[AUTH], "").await;
    assert_eq!(r.status, 401, "a made-up password is refused outside dev mode");
    let token = h
        .ecr()
        .get_authorization_token()
        .send()
        .await
        .unwrap()
        .authorization_data()[0]
        .authorization_token()
        .unwrap()
        .to_string();
    let basic = format!("Basic {token}");
    let r = h.raw("GET", "/v2/", &[("authorization", &basic)], "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(header(&r, "docker-distribution-api-version"), "registry/2.0");
    // The token names its account: a repository of that account is found.
    h.ecr()
        .create_repository()
        .repository_name("mine")
        .send()
        .await
        .unwrap();
    let r = h
        .raw("GET", "/v2/mine/tags/list", &[("authorization", &basic)], "")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = h
        .raw("GET", "/v2/nope/tags/list", &[("authorization", &basic)], "")
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(error_code(&r), "NAME_UNKNOWN");
}

#[tokio::test]
async fn chunked_uploads_resume_and_blobs_read_by_range() {
    let h = Haneul::start();
    repo(&h, "chunks").await;
    let r = h.raw("POST", "/v2/chunks/blobs/uploads/", &[AUTH], "").await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(header(&r, "range"), "0-0");
    let location = header(&r, "location").to_string();
    let id = header(&r, "docker-upload-uuid").to_string();
    assert!(location.ends_with(&id), "{location}");

    let r = h
        .raw(
            "PATCH",
            &location,
            &[AUTH, OCTETS, ("content-range", "0-9")],
            "0123456789",
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(header(&r, "range"), "0-9");
    let r = h
        .raw("PATCH", &location, &[AUTH, OCTETS, ("content-range", "5-9")], "56789")
        .await;
    assert_eq!(r.status, 416, "an out-of-order chunk: {}", r.body);
    assert_eq!(header(&r, "range"), "0-9");
    let r = h.raw("GET", &location, &[AUTH], "").await;
    assert_eq!(r.status, 204);
    assert_eq!(header(&r, "range"), "0-9");
    let r = h.raw("PATCH", &location, &[AUTH, OCTETS], "abcdef").await;
    assert_eq!(r.status, 202);
    assert_eq!(header(&r, "range"), "0-15");
    let whole = b"0123456789abcdefXYZ";
    let d = digest(whole);
    let r = h
        .raw("PUT", &format!("{location}?digest={d}"), &[AUTH, OCTETS], "XYZ")
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(header(&r, "location"), format!("/v2/chunks/blobs/{d}"));
    let r = h.raw("GET", &location, &[AUTH], "").await;
    assert_eq!(r.status, 404, "a finished upload is gone");
    assert_eq!(error_code(&r), "BLOB_UPLOAD_UNKNOWN");

    let blob = format!("/v2/chunks/blobs/{d}");
    let r = h.raw("HEAD", &blob, &[AUTH], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(header(&r, "content-length"), "19");
    assert_eq!(header(&r, "docker-content-digest"), d);
    let r = h.raw("GET", &blob, &[AUTH], "").await;
    assert_eq!(r.body.as_bytes(), whole);
    let r = h.raw("GET", &blob, &[AUTH, ("range", "bytes=2-4")], "").await;
    assert_eq!(r.status, 206);
    assert_eq!(r.body, "234");
    assert_eq!(header(&r, "content-range"), "bytes 2-4/19");
    let r = h.raw("GET", &blob, &[AUTH, ("range", "bytes=19-")], "").await;
    assert_eq!(r.status, 416);
    assert_eq!(header(&r, "content-range"), "bytes */19");

    // A cancelled upload is gone.
    let r = h.raw("POST", "/v2/chunks/blobs/uploads/", &[AUTH], "").await;
    let location = header(&r, "location").to_string();
    let r = h.raw("DELETE", &location, &[AUTH], "").await;
    assert_eq!(r.status, 204);
    let r = h.raw("PATCH", &location, &[AUTH, OCTETS], "x").await;
    assert_eq!(r.status, 404);
    assert_eq!(error_code(&r), "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn wrong_digests_keep_nothing_and_blobs_mount_across_repositories() {
    let h = Haneul::start();
    repo(&h, "src").await;
    repo(&h, "dst").await;
    repo(&h, "other").await;
    let bytes = b"a blob to mount".to_vec();
    let wrong = digest(b"not these bytes");
    let r = h
        .raw(
            "POST",
            &format!("/v2/src/blobs/uploads/?digest={wrong}"),
            &[AUTH, OCTETS],
            bytes.clone(),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "DIGEST_INVALID");
    for d in [&wrong, &digest(&bytes)] {
        let r = h.raw("HEAD", &format!("/v2/src/blobs/{d}"), &[AUTH], "").await;
        assert_eq!(r.status, 404, "nothing of a wrong upload is kept");
    }
    let r = h
        .raw(
            "POST",
            "/v2/src/blobs/uploads/?digest=sha512:abcd",
            &[AUTH, OCTETS],
            bytes.clone(),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "UNSUPPORTED");

    let d = push_blob(&h, "src", &bytes).await;
    let r = h.raw("HEAD", &format!("/v2/dst/blobs/{d}"), &[AUTH], "").await;
    assert_eq!(r.status, 404, "blobs belong to the repositories they were pushed to");
    let r = h
        .raw(
            "POST",
            &format!("/v2/dst/blobs/uploads/?mount={d}&from=src"),
            &[AUTH],
            "",
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(header(&r, "location"), format!("/v2/dst/blobs/{d}"));
    let r = h.raw("GET", &format!("/v2/dst/blobs/{d}"), &[AUTH], "").await;
    assert_eq!(r.body.as_bytes(), bytes.as_slice());
    // Mounting what the source does not have starts an ordinary upload instead.
    let r = h
        .raw(
            "POST",
            &format!("/v2/other/blobs/uploads/?mount={}&from=src", digest(b"absent")),
            &[AUTH],
            "",
        )
        .await;
    assert_eq!(r.status, 202);
}

#[tokio::test]
async fn manifests_push_pull_delete_and_referrers() {
    let h = Haneul::start();
    repo(&h, "man/ifest").await;
    let config = push_blob(&h, "man/ifest", CONFIG).await;
    let layer_bytes = b"layer bytes".to_vec();
    let missing = digest(b"never pushed");
    let m = image_manifest(OCI_MANIFEST, &config, &[(&missing, 12)], serde_json::json!({}));
    let r = h
        .raw(
            "PUT",
            "/v2/man/ifest/manifests/v1",
            &[AUTH, ("content-type", OCI_MANIFEST)],
            m,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "MANIFEST_BLOB_UNKNOWN");
    let layer = push_blob(&h, "man/ifest", &layer_bytes).await;
    let m = image_manifest(
        OCI_MANIFEST,
        &config,
        &[(&layer, layer_bytes.len())],
        serde_json::json!({}),
    );
    let r = h
        .raw(
            "PUT",
            "/v2/man/ifest/manifests/v1",
            &[AUTH, ("content-type", DOCKER_MANIFEST)],
            m.clone(),
        )
        .await;
    assert_eq!(r.status, 400, "content type and mediaType disagree");
    assert_eq!(error_code(&r), "MANIFEST_INVALID");
    let r = h
        .raw(
            "PUT",
            "/v2/man/ifest/manifests/v1",
            &[AUTH, ("content-type", OCI_MANIFEST)],
            m.clone(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let d = digest(m.as_bytes());
    assert_eq!(header(&r, "docker-content-digest"), d);
    assert_eq!(header(&r, "location"), format!("/v2/man/ifest/manifests/{d}"));

    let r = h
        .raw(
            "GET",
            "/v2/man/ifest/manifests/v1",
            &[AUTH, ("accept", OCI_MANIFEST)],
            "",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, m);
    assert_eq!(header(&r, "content-type"), OCI_MANIFEST);
    let r = h
        .raw("HEAD", &format!("/v2/man/ifest/manifests/{d}"), &[AUTH], "")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(header(&r, "content-length"), m.len().to_string());
    let r = h
        .raw(
            "PUT",
            &format!("/v2/man/ifest/manifests/{}", digest(b"x")),
            &[AUTH, ("content-type", OCI_MANIFEST)],
            m.clone(),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "DIGEST_INVALID");

    // An index over the image; the image cannot be deleted while the index holds it.
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": d, "size": m.len(), "platform": {"architecture": "amd64", "os": "linux"}}]})
    .to_string();
    let r = h
        .raw(
            "PUT",
            "/v2/man/ifest/manifests/multi",
            &[AUTH, ("content-type", OCI_INDEX)],
            index.clone(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = h
        .raw("DELETE", &format!("/v2/man/ifest/manifests/{d}"), &[AUTH], "")
        .await;
    assert_eq!(r.status, 403, "{}", r.body);

    // An artifact whose subject is the image: listed by the referrers API.
    let sbom = image_manifest(
        OCI_MANIFEST,
        &config,
        &[(&layer, layer_bytes.len())],
        serde_json::json!({"artifactType": "application/spdx+json", "subject": {"mediaType": OCI_MANIFEST, "digest": d, "size": m.len()},
                           "annotations": {"org.opencontainers.image.created": "2026-12-03T00:00:00Z"}}),
    );
    let sd = digest(sbom.as_bytes());
    let r = h
        .raw(
            "PUT",
            &format!("/v2/man/ifest/manifests/{sd}"),
            &[AUTH, ("content-type", OCI_MANIFEST)],
            sbom.clone(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(header(&r, "oci-subject"), d);
    let r = h.raw("GET", &format!("/v2/man/ifest/referrers/{d}"), &[AUTH], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(header(&r, "content-type"), OCI_INDEX);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["manifests"][0]["digest"], sd.as_str());
    assert_eq!(v["manifests"][0]["artifactType"], "application/spdx+json");
    let r = h
        .raw(
            "GET",
            &format!("/v2/man/ifest/referrers/{d}?artifactType=application/x-other"),
            &[AUTH],
            "",
        )
        .await;
    assert_eq!(header(&r, "oci-filters-applied"), "artifactType");
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["manifests"].as_array().map(Vec::len), Some(0));
    let listed = h
        .ecr()
        .list_image_referrers()
        .repository_name("man/ifest")
        .subject_id(
            aws_sdk_ecr::types::SubjectIdentifier::builder()
                .image_digest(&d)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(listed.referrers()[0].digest(), sd);

    // Content management: a tag, then manifests by digest.
    let r = h.raw("DELETE", "/v2/man/ifest/manifests/multi", &[AUTH], "").await;
    assert_eq!(r.status, 202);
    let r = h.raw("GET", "/v2/man/ifest/manifests/multi", &[AUTH], "").await;
    assert_eq!(r.status, 404);
    assert_eq!(error_code(&r), "MANIFEST_UNKNOWN");
    let r = h
        .raw(
            "DELETE",
            &format!("/v2/man/ifest/manifests/{}", digest(index.as_bytes())),
            &[AUTH],
            "",
        )
        .await;
    assert_eq!(r.status, 202);
    let r = h
        .raw("DELETE", &format!("/v2/man/ifest/manifests/{d}"), &[AUTH], "")
        .await;
    assert_eq!(r.status, 202, "the index is gone, so the image may go: {}", r.body);
    let r = h.raw("GET", &format!("/v2/man/ifest/referrers/{d}"), &[AUTH], "").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        v["manifests"].as_array().map(Vec::len),
        Some(1),
        "referrers outlive their subject"
    );
}

#[tokio::test]
async fn tags_and_the_catalog_page_with_links() {
    let h = Haneul::start();
    for name in ["cat/a", "cat/b", "cat/c"] {
        repo(&h, name).await;
    }
    let config = push_blob(&h, "cat/a", CONFIG).await;
    let m = image_manifest(OCI_MANIFEST, &config, &[], serde_json::json!({}));
    for tag in ["t3", "t1", "t2"] {
        let r = h
            .raw(
                "PUT",
                &format!("/v2/cat/a/manifests/{tag}"),
                &[AUTH, ("content-type", OCI_MANIFEST)],
                m.clone(),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let r = h.raw("GET", "/v2/cat/a/tags/list?n=2", &[AUTH], "").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v, serde_json::json!({"name": "cat/a", "tags": ["t1", "t2"]}));
    assert_eq!(header(&r, "link"), "</v2/cat/a/tags/list?n=2&last=t2>; rel=\"next\"");
    let r = h.raw("GET", "/v2/cat/a/tags/list?n=2&last=t2", &[AUTH], "").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["tags"], serde_json::json!(["t3"]));
    assert_eq!(header(&r, "link"), "");
    let r = h.raw("GET", "/v2/_catalog?n=2", &[AUTH], "").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["repositories"], serde_json::json!(["cat/a", "cat/b"]));
    let r = h.raw("GET", "/v2/_catalog?n=2&last=cat/b", &[AUTH], "").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["repositories"], serde_json::json!(["cat/c"]));
}

#[tokio::test]
async fn the_registry_refuses_path_tricks_and_unknown_names() {
    let h = Haneul::start();
    repo(&h, "safe").await;
    let zeros = format!("sha256:{}", "0".repeat(64));
    let r = h.raw("GET", &format!("/v2/nope/blobs/{zeros}"), &[AUTH], "").await;
    assert_eq!(r.status, 404);
    assert_eq!(error_code(&r), "NAME_UNKNOWN");
    assert!(
        r.body
            .contains("The repository with name 'nope' does not exist in the registry with id '000000000000'"),
        "{}",
        r.body
    );
    for path in [
        format!("/v2/../../etc/blobs/{zeros}"),
        format!("/v2/safe/../other/blobs/{zeros}"),
        "/v2/Safe/tags/list".to_string(),
        format!("/v2/safe%2F..%2Fx/blobs/{zeros}"),
    ] {
        let r = h.raw("GET", &path, &[AUTH], "").await;
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(error_code(&r), "NAME_INVALID", "{path}");
    }
    let r = h
        .raw("GET", "/v2/safe/blobs/sha256:../../../../etc/passwd", &[AUTH], "")
        .await;
    assert_eq!(r.status, 400, "a digest with slashes is no name either: {}", r.body);
    for digest in ["sha256:..%2F..%2Fetc%2Fpasswd", "sha256:ABC", "nope"] {
        let r = h.raw("GET", &format!("/v2/safe/blobs/{digest}"), &[AUTH], "").await;
        assert_eq!(r.status, 400, "{digest}: {}", r.body);
        assert_eq!(error_code(&r), "DIGEST_INVALID", "{digest}");
    }
    let r = h
        .raw(
            "PATCH",
            "/v2/safe/blobs/uploads/..%2F..%2Fhaneul.db",
            &[AUTH, OCTETS],
            "x",
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(error_code(&r), "BLOB_UPLOAD_UNKNOWN");
    let big = format!("{{\"schemaVersion\":2,\"pad\":\"{}\"}}", "x".repeat(4 * 1024 * 1024));
    let r = h
        .raw(
            "PUT",
            "/v2/safe/manifests/big",
            &[AUTH, ("content-type", OCI_MANIFEST)],
            big,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "MANIFEST_INVALID");
    let r = h.raw("DELETE", &format!("/v2/safe/blobs/{zeros}"), &[AUTH], "").await;
    assert_eq!(r.status, 405);
    assert_eq!(error_code(&r), "UNSUPPORTED");
}

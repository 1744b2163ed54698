//! The registry as real clients use it: `docker login/push/pull/run`, skopeo with an OCI
//! layout holding a two-platform index, and a push cut off by SIGKILL that leaves nothing
//! behind. These need the Docker engine and skopeo; they fail loudly without them.

use std::process::Command;
use std::time::Duration;

use haneul_testkit::docker::{unique_name, Docker};
use haneul_testkit::{send_raw, Haneul};
use tokio::io::AsyncWriteExt;

use crate::ecr::digest;
use crate::support::Process;

const AUTH: (&str, &str) = ("authorization", "Basic QVdTOng=");

fn login_password(h: &Haneul) -> String {
    let out = h.aws(&["ecr", "get-login-password"]);
    assert!(out.success, "get-login-password: {}", out.stderr);
    out.stdout.trim().to_string()
}

#[test]
#[ignore = "needs the Docker engine: runs in CI with --include-ignored"]
fn docker_pushes_pulls_and_runs_through_haneul() {
    let docker = Docker::require();
    let h = Haneul::start();
    let registry = h.api_addr.to_string();
    h.aws_ok(&[
        "ecr",
        "create-repository",
        "--repository-name",
        "team/app",
        "--image-tag-mutability",
        "IMMUTABLE",
    ]);
    let out = docker.login(&registry, &login_password(&h));
    assert!(
        out.status.success(),
        "docker login: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let text = format!("hello from haneul {}", std::process::id());
    let mut image = docker.busybox_image(&unique_name("app"), &text);
    let remote = format!("{registry}/team/app:v1");
    image.tag(&remote);
    let pushed = docker.ok(&["push", &remote]);
    let d = pushed
        .split_whitespace()
        .skip_while(|w| *w != "digest:")
        .nth(1)
        .unwrap_or_else(|| panic!("docker push printed no digest: {pushed}"))
        .to_string();
    let described = h.aws_ok(&["ecr", "describe-images", "--repository-name", "team/app"]);
    assert_eq!(described["imageDetails"][0]["imageDigest"], d.as_str());
    assert_eq!(described["imageDetails"][0]["imageTags"][0], "v1");

    // Another image under the immutable tag: the registry says TAG_INVALID.
    let mut other = docker.busybox_image(&unique_name("other"), "another image");
    other.tag(&remote);
    let refused = docker.run(&["push", &remote]);
    let text_refused = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!refused.status.success(), "pushing over an immutable tag succeeded");
    assert!(text_refused.to_lowercase().contains("tag invalid"), "{text_refused}");
    // `other` now carries the remote name; dropping it at the end removes the pulled copy.

    // Pull into an engine that no longer has it, and run it.
    drop(image);
    let pulled = docker.ok(&["pull", &remote]);
    assert!(pulled.contains(&format!("Digest: {d}")), "{pulled}");
    let ran = docker.ok(&["run", "--rm", "--network", "none", &remote]);
    assert_eq!(ran.trim(), text);
    let described = h.aws_ok(&["ecr", "describe-images", "--repository-name", "team/app"]);
    assert!(
        described["imageDetails"][0]["lastRecordedPullTime"].is_number(),
        "{described}"
    );
}

#[test]
#[ignore = "needs the Docker engine: runs in CI with --include-ignored"]
fn docker_pulls_through_the_cache_from_another_haneul() {
    let docker = Docker::require();
    let upstream = Haneul::start();
    let h = Haneul::start();
    let (up, down) = (upstream.api_addr.to_string(), h.api_addr.to_string());
    upstream.aws_ok(&["ecr", "create-repository", "--repository-name", "library/tool"]);
    for (registry, haneul) in [(&up, &upstream), (&down, &h)] {
        let out = docker.login(registry, &login_password(haneul));
        assert!(
            out.status.success(),
            "docker login: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = format!("pulled through {}", std::process::id());
    let mut image = docker.busybox_image(&unique_name("ptc"), &text);
    let source = format!("{up}/library/tool:v1");
    image.tag(&source);
    docker.ok(&["push", &source]);
    h.aws_ok(&[
        "ecr",
        "create-pull-through-cache-rule",
        "--ecr-repository-prefix",
        "mirror",
        "--upstream-registry-url",
        &up,
    ]);
    // docker pulls the cache's name; the image comes from the upstream through it.
    let cached = format!("{down}/mirror/library/tool:v1");
    image.also_remove(&cached);
    docker.ok(&["pull", &cached]);
    let described = h.aws_ok(&["ecr", "describe-images", "--repository-name", "mirror/library/tool"]);
    assert_eq!(described["imageDetails"][0]["imageTags"][0], "v1", "{described}");
    // Served from the cache once the upstream is gone, into an engine without the image.
    drop(upstream);
    docker.ok(&["rmi", &cached]);
    docker.ok(&["pull", &cached]);
    let ran = docker.ok(&["run", "--rm", "--network", "none", &cached]);
    assert_eq!(ran.trim(), text);
}

/// Writes an OCI layout at `dir` whose `multi` reference is an index of two platforms.
fn write_multiarch_layout(dir: &std::path::Path) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let d = digest(bytes);
        std::fs::write(blobs.join(&d["sha256:".len()..]), bytes).unwrap();
        serde_json::json!({"digest": d, "size": bytes.len()})
    };
    let mut manifests = Vec::new();
    for arch in ["amd64", "arm64"] {
        let layer = put(format!("layer of {arch}").as_bytes());
        let config = put(
            serde_json::json!({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}})
                .to_string()
                .as_bytes(),
        );
        let mut l = layer.clone();
        l["mediaType"] = "application/vnd.oci.image.layer.v1.tar".into();
        let mut c = config.clone();
        c["mediaType"] = "application/vnd.oci.image.config.v1+json".into();
        let m = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": c, "layers": [l]});
        let mut desc = put(m.to_string().as_bytes());
        desc["mediaType"] = "application/vnd.oci.image.manifest.v1+json".into();
        desc["platform"] = serde_json::json!({"architecture": arch, "os": "linux"});
        manifests.push(desc);
    }
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
    let mut desc = put(index.to_string().as_bytes());
    desc["mediaType"] = "application/vnd.oci.image.index.v1+json".into();
    desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "multi"});
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [desc]});
    std::fs::write(dir.join("index.json"), top.to_string()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("this test needs skopeo (apt-get install skopeo): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "skopeo {args:?}: {text}");
    text
}

#[test]
#[ignore = "needs skopeo: runs in CI with --include-ignored"]
fn skopeo_copies_a_two_platform_index_both_ways() {
    let h = Haneul::start();
    h.aws_ok(&["ecr", "create-repository", "--repository-name", "multi/app"]);
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    write_multiarch_layout(&src);
    let creds = format!("AWS:{}", login_password(&h));
    let dest = format!("docker://{}/multi/app:multi", h.api_addr);
    let from = format!("oci:{}:multi", src.display());
    skopeo(&[
        "--insecure-policy",
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds,
        &from,
        &dest,
    ]);
    // skopeo re-serializes the index on the way (even oci: to oci:); what it pushed is
    // what haneul must keep and give back byte for byte.
    let images = h.aws_ok(&["ecr", "describe-images", "--repository-name", "multi/app"]);
    let details = images["imageDetails"].as_array().unwrap();
    assert_eq!(details.len(), 3, "the index and both platform manifests: {images}");
    let top = details
        .iter()
        .find(|d| d["imageTags"][0] == "multi")
        .unwrap_or_else(|| panic!("no image tagged multi: {images}"));
    assert_eq!(top["imageManifestMediaType"], "application/vnd.oci.image.index.v1+json");
    let top_digest = top["imageDigest"].as_str().unwrap().to_string();

    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", "--creds", &creds, &dest]);
    assert_eq!(digest(raw.as_bytes()), top_digest, "the index comes back byte for byte");
    let parsed: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let archs: Vec<_> = parsed["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].clone())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);
    let back = work.path().join("back");
    let to = format!("oci:{}:multi", back.display());
    skopeo(&[
        "--insecure-policy",
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--src-creds",
        &creds,
        &dest,
        &to,
    ]);
    let blobs: Vec<String> = std::fs::read_dir(back.join("blobs/sha256"))
        .unwrap()
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    for d in details {
        let d = d["imageDigest"].as_str().unwrap();
        assert!(blobs.iter().any(|b| b == d), "manifest {d} came back: {blobs:?}");
    }
    assert_eq!(blobs.len(), 3 + 2 * 2, "three manifests, two configs, two layers");
}

async fn json_call(api: std::net::SocketAddr, op: &str, body: serde_json::Value) -> serde_json::Value {
    let target = format!("AmazonEC2ContainerRegistry_V20150921.{op}");
    let r = send_raw(
        api,
        "POST",
        "/",
        &[
            ("x-amz-target", &target),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        body.to_string().into(),
    )
    .await;
    assert_eq!(r.status, 200, "{op}: {}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow end-to-end: runs in CI with --include-ignored"]
async fn slow_a_push_cut_off_by_sigkill_leaves_nothing_and_can_be_redone() {
    let dir = tempfile::tempdir().unwrap();
    let mut haneul = Process::up(dir.path(), &["--dev", "--lb-cidr", "127.250.1.0/24"]);
    let api = haneul.api;
    json_call(
        api,
        "CreateRepository",
        serde_json::json!({"repositoryName": "cut/off"}),
    )
    .await;
    let config = crate::ecr::CONFIG;
    let layer: Vec<u8> = (0..8 << 20)
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let (dc, dl) = (digest(config), digest(&layer));
    let r = send_raw(
        api,
        "POST",
        &format!("/v2/cut/off/blobs/uploads/?digest={dc}"),
        &[AUTH],
        config.to_vec().into(),
    )
    .await;
    assert_eq!(r.status, 201);
    let r = send_raw(api, "POST", "/v2/cut/off/blobs/uploads/", &[AUTH], bytes::Bytes::new()).await;
    let location = r.headers["location"].to_str().unwrap().to_string();

    // Half the layer, then the process dies mid-request.
    let mut sock = tokio::net::TcpStream::connect(api).await.unwrap();
    let head = format!(
        "PUT {location}?digest={dl} HTTP/1.1\r\nHost: {api}\r\nAuthorization: Basic QVdTOng=\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        layer.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&layer[..layer.len() / 2]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    haneul.kill9();
    drop(sock);

    let restarted = Process::up(dir.path(), &["--dev", "--lb-cidr", "127.250.1.0/24"]);
    let api = restarted.api;
    let r = send_raw(
        api,
        "HEAD",
        &format!("/v2/cut/off/blobs/{dl}"),
        &[AUTH],
        bytes::Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 404, "half a layer is never a blob");
    let r = send_raw(api, "GET", &location, &[AUTH], bytes::Bytes::new()).await;
    assert_eq!(r.status, 404, "the cut-off upload is gone");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("blobs/uploads")).unwrap().collect();
    assert!(
        leftovers.is_empty(),
        "no partial upload file survives a restart: {leftovers:?}"
    );
    let r = send_raw(
        api,
        "HEAD",
        &format!("/v2/cut/off/blobs/{dc}"),
        &[AUTH],
        bytes::Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 200, "the acknowledged config blob survived");

    // Redo the push.
    let r = send_raw(
        api,
        "POST",
        &format!("/v2/cut/off/blobs/uploads/?digest={dl}"),
        &[AUTH],
        layer.clone().into(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let m = crate::ecr::manifest((&dc, config.len()), &[(&dl, layer.len())]);
    let r = send_raw(
        api,
        "PUT",
        "/v2/cut/off/manifests/v1",
        &[
            AUTH,
            ("content-type", "application/vnd.docker.distribution.manifest.v2+json"),
        ],
        m.clone().into(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = send_raw(
        api,
        "GET",
        &format!("/v2/cut/off/blobs/{dl}"),
        &[AUTH],
        bytes::Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 200);
    let images = json_call(api, "DescribeImages", serde_json::json!({"repositoryName": "cut/off"})).await;
    assert_eq!(images["imageDetails"][0]["imageTags"][0], "v1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow end-to-end: runs in CI with --include-ignored"]
async fn slow_registry_tls_serves_a_certificate_from_haneuls_ca() {
    let dir = tempfile::tempdir().unwrap();
    let haneul = Process::up(
        dir.path(),
        &["--dev", "--lb-cidr", "127.250.2.0/24", "--registry-tls", "127.0.0.1:0"],
    );
    let tls = haneul
        .stdout_lines
        .iter()
        .find_map(|l| l.strip_prefix("registry https://"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no registry line: {:?}", haneul.stdout_lines))
        .to_string();
    let ca = send_raw(haneul.api, "GET", "/_haneul/ca.pem", &[], bytes::Bytes::new()).await;
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(certs.join("ca.crt"), &ca.body).unwrap();
    let curl = |extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(certs.join("ca.crt"))
            .args(extra)
            .arg(format!("https://{tls}/v2/"))
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(curl(&[]), "401", "verified TLS, then the registry's challenge");
    assert_eq!(curl(&["-u", "AWS:x"]), "200");
    let repo = json_call(
        haneul.api,
        "CreateRepository",
        serde_json::json!({"repositoryName": "tls/app"}),
    )
    .await;
    assert_eq!(repo["repository"]["repositoryUri"], format!("{tls}/tls/app"));
    let auth = json_call(haneul.api, "GetAuthorizationToken", serde_json::json!({})).await;
    assert_eq!(auth["authorizationData"][0]["proxyEndpoint"], format!("https://{tls}"));

    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    write_multiarch_layout(&src);
    let dest = format!("docker://{tls}/tls/app:multi");
    let cert_dir = certs.display().to_string();
    let from = format!("oci:{}:multi", src.display());
    skopeo(&[
        "--insecure-policy",
        "copy",
        "--all",
        "--dest-cert-dir",
        &cert_dir,
        "--dest-creds",
        "AWS:x",
        &from,
        &dest,
    ]);
    let raw = skopeo(&["inspect", "--raw", "--cert-dir", &cert_dir, "--creds", "AWS:x", &dest]);
    assert!(raw.contains("application/vnd.oci.image.index.v1+json"), "{raw}");
}

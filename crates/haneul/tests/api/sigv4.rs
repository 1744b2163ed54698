//! SigV4 at the wire: presigned URLs, tampering, missing auth, and each protocol's own
//! rejection codes; reset outside dev mode needs the root key.

use std::time::{Duration, SystemTime};

use haneul_testkit::Haneul;

use crate::support::Signer;

const STS_QUERY: &str = "/?Action=GetCallerIdentity&Version=2011-06-15";

#[tokio::test]
async fn presigned_query_string_is_verified() {
    let h = Haneul::start_verified();
    let (key, secret) = h.credentials();
    let url = format!("{}{STS_QUERY}", h.endpoint_url());
    let presigner = Signer {
        presign: true,
        ..Signer::new(&key, &secret, "sts")
    };
    let path = presigner.sign("GET", &url, &[], b"").path;
    assert!(path.contains("X-Amz-Signature="), "{path}");
    let ok = h.raw("GET", &path, &[], "").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(
        ok.body.contains("<Arn>arn:aws:iam::000000000000:root</Arn>"),
        "{}",
        ok.body
    );

    let tampered = path.replace("GetCallerIdentity", "GetCallerIdentitY");
    let bad = h.raw("GET", &tampered, &[], "").await;
    assert_eq!(bad.status, 403, "{}", bad.body);
    assert!(bad.body.contains("<Code>SignatureDoesNotMatch</Code>"), "{}", bad.body);

    let old = Signer {
        at: SystemTime::now() - Duration::from_secs(3600),
        ..presigner
    };
    let late = h.raw("GET", &old.sign("GET", &url, &[], b"").path, &[], "").await;
    assert_eq!(late.status, 403, "{}", late.body);
}

#[tokio::test]
async fn unsigned_request_is_refused_outside_dev_mode() {
    let h = Haneul::start_verified();
    let resp = h.raw("GET", STS_QUERY, &[], "").await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    assert!(
        resp.body.contains("<Code>MissingAuthenticationToken</Code>"),
        "{}",
        resp.body
    );
}

#[tokio::test]
async fn each_protocol_rejects_a_bad_signature_in_its_own_terms() {
    let h = Haneul::start_verified();
    let (key, _) = h.credentials();
    let base = h.endpoint_url();
    // EC2 (ec2 protocol): AuthFailure 401.
    let body = b"Action=DescribeVpcs&Version=2016-11-15";
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let signed = Signer::new(&key, "wrong", "ec2").sign("POST", &format!("{base}/"), &form, body);
    let resp = h.raw("POST", &signed.path, &signed.header_refs(), &body[..]).await;
    assert_eq!(resp.status, 401, "{}", resp.body);
    assert!(resp.body.contains("<Code>AuthFailure</Code>"), "{}", resp.body);
    // ACM (json protocol): InvalidSignatureException 400.
    let body = b"{}";
    let json = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "CertificateManager.ListCertificates"),
    ];
    let signed = Signer::new(&key, "wrong", "acm").sign("POST", &format!("{base}/"), &json, body);
    let resp = h.raw("POST", &signed.path, &signed.header_refs(), &body[..]).await;
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert_eq!(
        resp.headers.get("x-amzn-errortype").unwrap(),
        "InvalidSignatureException"
    );
    // Route 53 (rest-xml): SignatureDoesNotMatch 403.
    let signed = Signer::new(&key, "wrong", "route53").sign("GET", &format!("{base}/2013-04-01/hostedzone"), &[], b"");
    let resp = h.raw("GET", &signed.path, &signed.header_refs(), "").await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    assert!(
        resp.body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        resp.body
    );
}

#[tokio::test]
async fn reset_needs_the_root_key_outside_dev_mode() {
    let h = Haneul::start_verified();
    let (key, secret) = h.credentials();
    let anonymous = h.raw("POST", "/_haneul/reset", &[], "").await;
    assert_eq!(anonymous.status, 403, "{}", anonymous.body);
    let url = format!("{}/_haneul/reset", h.endpoint_url());
    let signed = Signer::new(&key, &secret, "sts").sign("POST", &url, &[], b"");
    let resp = h.raw("POST", &signed.path, &signed.header_refs(), "").await;
    assert_eq!(resp.status, 200, "{}", resp.body);
}

//! Each protocol's error envelope and model validation, seen on the wire.

use haneul_testkit::Haneul;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn json_headers(target: &str) -> [(&str, &str); 2] {
    [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target)]
}

#[tokio::test]
async fn query_protocol_unknown_action_and_validation() {
    let h = Haneul::start();
    let resp = h
        .raw("POST", "/", &[FORM], "Action=GetSessionTokenX&Version=2011-06-15")
        .await;
    assert_eq!(resp.status, 400);
    assert!(
        resp.body
            .contains("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"),
        "{}",
        resp.body
    );
    assert!(
        resp.body.contains("<Type>Sender</Type>") && resp.body.contains("<Code>InvalidAction</Code>"),
        "{}",
        resp.body
    );
    let request_id = resp
        .headers
        .get("x-amzn-requestid")
        .expect("request id header")
        .to_str()
        .unwrap();
    assert!(
        resp.body.contains(&format!("<RequestId>{request_id}</RequestId>")),
        "{}",
        resp.body
    );

    // ELBv2 (query): a required member missing.
    let resp = h
        .raw("POST", "/", &[FORM], "Action=CreateLoadBalancer&Version=2015-12-01")
        .await;
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert!(resp.body.contains("<Code>ValidationError</Code>"), "{}", resp.body);
    assert!(
        resp.body
            .contains("Value null at &apos;name&apos; failed to satisfy constraint: Member must not be null"),
        "{}",
        resp.body
    );
}

#[tokio::test]
async fn ec2_protocol_envelope_and_parameter_errors() {
    let h = Haneul::start();
    let resp = h.raw("POST", "/", &[FORM], "Action=DeleteVpc&Version=2016-11-15").await;
    assert_eq!(resp.status, 400);
    assert!(
        resp.body
            .contains("<Response><Errors><Error><Code>MissingParameter</Code>"),
        "{}",
        resp.body
    );
    assert!(
        resp.body.contains("The request must contain the parameter VpcId"),
        "{}",
        resp.body
    );
    assert!(resp.body.contains("<RequestID>"), "{}", resp.body);

    let resp = h
        .raw(
            "POST",
            "/",
            &[FORM],
            "Action=DescribeVpcs&Version=2016-11-15&MaxResults=abc",
        )
        .await;
    assert_eq!(resp.status, 400);
    assert!(
        resp.body.contains("<Code>InvalidParameterValue</Code>"),
        "{}",
        resp.body
    );

    let resp = h
        .raw(
            "POST",
            "/",
            &[FORM],
            "Action=DescribeVpcs&Version=2016-11-15&MaxResults=2000",
        )
        .await;
    assert!(
        resp.body.contains("<Code>InvalidParameterValue</Code>"),
        "{}",
        resp.body
    );

    let resp = h
        .raw("POST", "/", &[FORM], "Action=RunInstancez&Version=2016-11-15")
        .await;
    assert!(resp.body.contains("<Code>InvalidAction</Code>"), "{}", resp.body);

    // A valid operation haneul does not serve yet is refused honestly.
    let resp = h
        .raw("POST", "/", &[FORM], "Action=DescribeInstances&Version=2016-11-15")
        .await;
    assert_eq!(resp.status, 501, "{}", resp.body);
    assert!(resp.body.contains("<Code>NotImplemented</Code>"), "{}", resp.body);
}

#[tokio::test]
async fn json_protocol_envelope_and_validation() {
    let h = Haneul::start();
    let resp = h
        .raw(
            "POST",
            "/",
            &json_headers("CertificateManager.DescribeCertificate"),
            "{}",
        )
        .await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.headers.get("x-amzn-errortype").unwrap(), "ValidationException");
    let body: serde_json::Value = serde_json::from_str(&resp.body).unwrap();
    assert_eq!(body["__type"], "ValidationException");
    assert_eq!(
        body["message"],
        "1 validation error detected: Value null at 'certificateArn' failed to satisfy constraint: Member must not be null"
    );

    let bad_enum = r#"{"DomainName":"a.example.test","KeyAlgorithm":"RSA_1"}"#;
    let resp = h
        .raw(
            "POST",
            "/",
            &json_headers("CertificateManager.RequestCertificate"),
            bad_enum,
        )
        .await;
    let body: serde_json::Value = serde_json::from_str(&resp.body).unwrap();
    assert_eq!(body["__type"], "ValidationException");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Member must satisfy enum value set: ["),
        "{body}"
    );

    let not_an_arn = r#"{"CertificateArn":"certificate/0123456789abcdef"}"#;
    let resp = h
        .raw(
            "POST",
            "/",
            &json_headers("CertificateManager.DescribeCertificate"),
            not_an_arn,
        )
        .await;
    let body: serde_json::Value = serde_json::from_str(&resp.body).unwrap();
    assert_eq!(body["__type"], "ValidationException");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Member must satisfy regular expression pattern: arn:"),
        "{body}"
    );

    let wrong_type = r#"{"DomainName":42}"#;
    let resp = h
        .raw(
            "POST",
            "/",
            &json_headers("CertificateManager.RequestCertificate"),
            wrong_type,
        )
        .await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.headers.get("x-amzn-errortype").unwrap(), "SerializationException");

    let resp = h.raw("POST", "/", &json_headers("CertificateManager.Nope"), "{}").await;
    assert_eq!(
        resp.headers.get("x-amzn-errortype").unwrap(),
        "UnknownOperationException"
    );

    let too_long = format!(r#"{{"repositoryName":"{}"}}"#, "r".repeat(300));
    let resp = h
        .raw(
            "POST",
            "/",
            &json_headers("AmazonEC2ContainerRegistry_V20150921.CreateRepository"),
            too_long,
        )
        .await;
    // ECR words model violations its own way, as InvalidParameterException.
    let body: serde_json::Value = serde_json::from_str(&resp.body).unwrap();
    assert_eq!(body["__type"], "InvalidParameterException", "{body}");
    assert_eq!(
        body["message"],
        "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must have length less than or equal to 256'",
        "{body}"
    );
}

#[tokio::test]
async fn rest_xml_protocol_routing_and_validation() {
    let h = Haneul::start();
    let resp = h
        .raw("GET", "/2013-04-01/hostedzone/Z1/rrset?type=BOGUS", &[], "")
        .await;
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert!(
        resp.body
            .contains("<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">"),
        "{}",
        resp.body
    );
    assert!(resp.body.contains("<Code>InvalidInput</Code>"), "{}", resp.body);

    let batch = r#"<?xml version="1.0"?><ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"></ChangeResourceRecordSetsRequest>"#;
    let resp = h.raw("POST", "/2013-04-01/hostedzone/Z1/rrset/", &[], batch).await;
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert!(
        resp.body.contains("Value null at &apos;changeBatch&apos;"),
        "{}",
        resp.body
    );

    let resp = h.raw("GET", "/2013-04-01/hostedzone/Z1/rrset", &[], "").await;
    assert_eq!(resp.status, 404, "{}", resp.body);
    assert!(resp.body.contains("<Code>NoSuchHostedZone</Code>"), "{}", resp.body);

    // A valid Route 53 operation haneul does not serve yet is refused honestly.
    let resp = h.raw("GET", "/2013-04-01/trafficpolicies", &[], "").await;
    assert_eq!(resp.status, 501, "{}", resp.body);

    let resp = h.raw("GET", "/2013-04-01/nothing/here", &[], "").await;
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert!(resp.body.contains("UnknownService"), "{}", resp.body);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let h = Haneul::start();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Declared too large: refused before the body is read.
    let mut conn = tokio::net::TcpStream::connect(h.api_addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: {}\r\ncontent-length: {}\r\n\r\n",
        FORM.1,
        17 * 1024 * 1024
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = conn.read(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    // Streamed without a length: cut off at the limit.
    let mut conn = tokio::net::TcpStream::connect(h.api_addr).await.unwrap();
    let head = "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n";
    conn.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("100000\r\n{}\r\n", "a".repeat(0x100000));
    let mut refused = false;
    for _ in 0..20 {
        if conn.write_all(chunk.as_bytes()).await.is_err() {
            refused = true;
            break;
        }
    }
    let n = conn.read(&mut buf).await.unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(refused || text.starts_with("HTTP/1.1 413"), "{text}");
}

#[tokio::test]
async fn health_names_every_address_and_service() {
    let h = Haneul::start();
    let resp = h.raw("GET", "/_haneul/health", &[], "").await;
    assert_eq!(resp.status, 200);
    let body: serde_json::Value = serde_json::from_str(&resp.body).unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["addresses"]["api"], h.api_addr.to_string());
    assert_eq!(body["services"]["ec2"], "running");
    assert_eq!(body["services"]["sts"], "running");
    assert_eq!(body["mode"], "dev");
}

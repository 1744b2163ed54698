//! ACM through aws-sdk-acm: DNS validation checked for real through haneul's own zones, and
//! certificates that `openssl verify` chains to `/_haneul/ca.pem`.

use std::time::Duration;

use aws_sdk_acm::error::ProvideErrorMetadata;
use aws_sdk_acm::types::{CertificateStatus, Filters, KeyAlgorithm, Tag, ValidationMethod};
use aws_sdk_route53::types::{ChangeAction, RrType};
use haneul_testkit::Haneul;

use crate::route53::{apply, change, create_zone, rrset, wait_insync};

pub(crate) async fn wait_issued(h: &Haneul, arn: &str) -> aws_sdk_acm::types::CertificateDetail {
    for _ in 0..200 {
        let cert = h
            .acm()
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .unwrap();
        let detail = cert.certificate().unwrap().clone();
        if detail.status() == Some(&CertificateStatus::Issued) {
            return detail;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{arn} was not issued within 20 s");
}

/// The DNS validation CNAME ACM asks for (the first name's).
pub(crate) async fn validation_record(h: &Haneul, arn: &str) -> aws_sdk_acm::types::ResourceRecord {
    let pending = h
        .acm()
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .unwrap();
    pending.certificate().unwrap().domain_validation_options()[0]
        .resource_record()
        .unwrap()
        .clone()
}

/// Creates `record` as a CNAME in `zone` of `h` and waits until haneul's DNS serves it.
pub(crate) async fn publish(h: &Haneul, zone: &str, record: &aws_sdk_acm::types::ResourceRecord) {
    let id = apply(
        h,
        zone,
        vec![change(
            ChangeAction::Create,
            rrset(record.name(), RrType::Cname, 300, &[record.value()]),
        )],
    )
    .await
    .unwrap();
    wait_insync(h, &id).await;
}

/// `openssl verify` of `cert` against the CA root and the chain; returns what openssl printed.
fn openssl_verify(dir: &std::path::Path, root: &str, chain: &str, cert: &str) -> String {
    std::fs::write(dir.join("root.pem"), root).unwrap();
    std::fs::write(dir.join("chain.pem"), chain).unwrap();
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["verify", "-CAfile", "root.pem", "-untrusted", "chain.pem", "cert.pem"])
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn dns_validation_issues_certificates_that_verify() {
    let h = Haneul::start();
    let acm = h.acm();
    let requested = acm
        .request_certificate()
        .domain_name("app.example.test")
        .subject_alternative_names("*.app.example.test")
        .validation_method(ValidationMethod::Dns)
        .key_algorithm(KeyAlgorithm::EcPrime256v1)
        .idempotency_token("tok1")
        .send()
        .await
        .unwrap();
    let arn = requested.certificate_arn().unwrap().to_string();
    let again = acm
        .request_certificate()
        .domain_name("app.example.test")
        .subject_alternative_names("*.app.example.test")
        .validation_method(ValidationMethod::Dns)
        .key_algorithm(KeyAlgorithm::EcPrime256v1)
        .idempotency_token("tok1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.certificate_arn(),
        Some(arn.as_str()),
        "same IdempotencyToken, same certificate"
    );

    let pending = acm.describe_certificate().certificate_arn(&arn).send().await.unwrap();
    let detail = pending.certificate().unwrap();
    assert_eq!(detail.status(), Some(&CertificateStatus::PendingValidation));
    let options = detail.domain_validation_options();
    assert_eq!(options.len(), 2);
    let record = options[0].resource_record().unwrap().clone();
    assert_eq!(
        options[1].resource_record().unwrap(),
        &record,
        "a wildcard validates with its base name's record"
    );
    assert!(record.name().starts_with('_') && record.name().ends_with(".app.example.test."));
    assert!(record.value().ends_with(".acm-validations.aws."));

    // Not issued yet: no certificate to get, and nothing issues without the record.
    let early = acm.get_certificate().certificate_arn(&arn).send().await.unwrap_err();
    assert_eq!(early.code(), Some("RequestInProgressException"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let still = acm.describe_certificate().certificate_arn(&arn).send().await.unwrap();
    assert_eq!(
        still.certificate().unwrap().status(),
        Some(&CertificateStatus::PendingValidation)
    );

    // The CNAME in haneul's zone: validated for real, issued within seconds.
    let zone = create_zone(&h, "example.test").await;
    publish(&h, &zone, &record).await;
    let issued = wait_issued(&h, &arn).await;
    assert!(issued.not_after().unwrap().secs() - issued.not_before().unwrap().secs() >= 395 * 86_400);
    assert_eq!(
        issued.subject_alternative_names(),
        ["app.example.test", "*.app.example.test"]
    );
    assert!(issued
        .domain_validation_options()
        .iter()
        .all(|o| o.validation_status() == Some(&aws_sdk_acm::types::DomainStatus::Success)));

    let got = acm.get_certificate().certificate_arn(&arn).send().await.unwrap();
    let root = h.raw("GET", "/_haneul/ca.pem", &[], "").await;
    assert_eq!(root.status, 200);
    let dir = tempfile::tempdir().unwrap();
    let verdict = openssl_verify(
        dir.path(),
        &root.body,
        got.certificate_chain().unwrap(),
        got.certificate().unwrap(),
    );
    assert!(verdict.contains("cert.pem: OK"), "{verdict}");
    let text = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in", "cert.pem"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("DNS:app.example.test") && text.contains("DNS:*.app.example.test"),
        "{text}"
    );
    assert!(text.contains("TLS Web Server Authentication"), "{text}");

    // RSA_2048 (the default) with the same, already-present record.
    let rsa = acm
        .request_certificate()
        .domain_name("app.example.test")
        .validation_method(ValidationMethod::Dns)
        .send()
        .await
        .unwrap();
    let rsa_arn = rsa.certificate_arn().unwrap().to_string();
    let rsa_detail = wait_issued(&h, &rsa_arn).await;
    assert_eq!(rsa_detail.key_algorithm(), Some(&KeyAlgorithm::Rsa2048));
    let rsa_got = acm.get_certificate().certificate_arn(&rsa_arn).send().await.unwrap();
    let verdict = openssl_verify(
        dir.path(),
        &root.body,
        rsa_got.certificate_chain().unwrap(),
        rsa_got.certificate().unwrap(),
    );
    assert!(verdict.contains("cert.pem: OK"), "{verdict}");

    // ListCertificates shows RSA_2048 unless asked for other key types.
    let listed = acm.list_certificates().send().await.unwrap();
    let arns: Vec<&str> = listed
        .certificate_summary_list()
        .iter()
        .filter_map(|c| c.certificate_arn())
        .collect();
    assert_eq!(arns, [rsa_arn.as_str()]);
    let ec = acm
        .list_certificates()
        .includes(Filters::builder().key_types(KeyAlgorithm::EcPrime256v1).build())
        .send()
        .await
        .unwrap();
    assert_eq!(ec.certificate_summary_list()[0].certificate_arn(), Some(arn.as_str()));

    // Tags, delete.
    acm.add_tags_to_certificate()
        .certificate_arn(&arn)
        .tags(Tag::builder().key("team").value("edge").build().unwrap())
        .send()
        .await
        .unwrap();
    let tags = acm
        .list_tags_for_certificate()
        .certificate_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags()[0].value(), Some("edge"));
    acm.delete_certificate().certificate_arn(&arn).send().await.unwrap();
    let gone = acm
        .describe_certificate()
        .certificate_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn bad_requests_get_acms_errors_and_leave_nothing() {
    let h = Haneul::start();
    let acm = h.acm();
    let mut too_many = acm
        .request_certificate()
        .domain_name("a.example.test")
        .validation_method(ValidationMethod::Dns);
    for i in 0..10 {
        too_many = too_many.subject_alternative_names(format!("n{i}.example.test"));
    }
    assert_eq!(
        too_many.send().await.unwrap_err().code(),
        Some("LimitExceededException")
    );
    let bad_wildcard = acm
        .request_certificate()
        .domain_name("a.*.example.test")
        .validation_method(ValidationMethod::Dns)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(
            bad_wildcard.code(),
            Some("ValidationException") | Some("InvalidParameterException")
        ),
        "{bad_wildcard:?}"
    );
    let not_above = acm
        .request_certificate()
        .domain_name("a.example.test")
        .validation_method(ValidationMethod::Email)
        .domain_validation_options(
            aws_sdk_acm::types::DomainValidationOption::builder()
                .domain_name("a.example.test")
                .validation_domain("other.test")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(not_above.code(), Some("InvalidDomainValidationOptionsException"));
    let bad_arn = acm
        .describe_certificate()
        .certificate_arn("arn:aws:acm:us-east-1:000000000000:nothing/x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad_arn.code(), Some("InvalidArnException"));
    let missing = acm
        .describe_certificate()
        .certificate_arn("arn:aws:acm:us-east-1:000000000000:certificate/00000000-0000-0000-0000-000000000000")
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));
    let listed = acm
        .list_certificates()
        .includes(
            Filters::builder()
                .key_types(KeyAlgorithm::Rsa2048)
                .key_types(KeyAlgorithm::EcPrime256v1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        listed.certificate_summary_list().is_empty(),
        "failed requests leave nothing behind"
    );
}

fn openssl_self_signed(dir: &std::path::Path, name: &str, key_args: &[&str]) -> (String, String) {
    let key = dir.join(format!("{name}.key"));
    let cert = dir.join(format!("{name}.crt"));
    let mut args = vec!["req", "-x509", "-nodes", "-days", "30", "-subj"];
    let subj = format!("/CN={name}");
    let san = format!("subjectAltName=DNS:{name},DNS:www.{name}");
    args.extend([subj.as_str(), "-addext", san.as_str()]);
    args.extend(key_args);
    let (k, c) = (key.to_str().unwrap().to_string(), cert.to_str().unwrap().to_string());
    args.extend(["-keyout", k.as_str(), "-out", c.as_str()]);
    let out = std::process::Command::new("openssl").args(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (
        std::fs::read_to_string(cert).unwrap(),
        std::fs::read_to_string(key).unwrap(),
    )
}

#[tokio::test]
async fn imported_certificates_are_checked_and_reimported_in_place() {
    use aws_sdk_acm::primitives::Blob;
    let h = Haneul::start();
    let acm = h.acm();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_self_signed(dir.path(), "imported.example.test", &["-newkey", "rsa:2048"]);
    let arn = acm
        .import_certificate()
        .certificate(Blob::new(cert.as_bytes()))
        .private_key(Blob::new(key.as_bytes()))
        .tags(Tag::builder().key("source").value("openssl").build().unwrap())
        .send()
        .await
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string();
    let detail = acm.describe_certificate().certificate_arn(&arn).send().await.unwrap();
    let detail = detail.certificate().unwrap();
    assert_eq!(detail.r#type(), Some(&aws_sdk_acm::types::CertificateType::Imported));
    assert_eq!(detail.status(), Some(&CertificateStatus::Issued));
    assert_eq!(detail.key_algorithm(), Some(&KeyAlgorithm::Rsa2048));
    assert_eq!(
        detail.subject_alternative_names(),
        ["imported.example.test", "www.imported.example.test"]
    );
    let first_serial = detail.serial().unwrap().to_string();
    let got = acm.get_certificate().certificate_arn(&arn).send().await.unwrap();
    assert_eq!(got.certificate().unwrap().trim(), cert.trim());

    // Re-import (an EC key this time) keeps the ARN.
    let (cert2, key2) = openssl_self_signed(
        dir.path(),
        "imported.example.test",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
    );
    let again = acm
        .import_certificate()
        .certificate_arn(&arn)
        .certificate(Blob::new(cert2.as_bytes()))
        .private_key(Blob::new(key2.as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(again.certificate_arn(), Some(arn.as_str()));
    let detail = acm.describe_certificate().certificate_arn(&arn).send().await.unwrap();
    assert_eq!(
        detail.certificate().unwrap().key_algorithm(),
        Some(&KeyAlgorithm::EcPrime256v1)
    );
    assert_ne!(detail.certificate().unwrap().serial(), Some(first_serial.as_str()));

    // A key that does not match, or an ACM-issued ARN, is refused and changes nothing.
    let mismatch = acm
        .import_certificate()
        .certificate_arn(&arn)
        .certificate(Blob::new(cert.as_bytes()))
        .private_key(Blob::new(key2.as_bytes()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(mismatch.code(), Some("ValidationException"), "{mismatch:?}");
    let after = acm.get_certificate().certificate_arn(&arn).send().await.unwrap();
    assert_eq!(after.certificate().unwrap().trim(), cert2.trim());
}

#[tokio::test]
#[ignore = "slow end-to-end: waits for a shortened certificate lifetime to run out"]
async fn slow_renewal_keeps_the_arn_and_expiry_follows_a_lost_record() {
    let h = Haneul::start_with(haneul_testkit::Options {
        acm_validity_s: Some(8),
        ..haneul_testkit::Options::default()
    });
    let acm = h.acm();
    let arn = acm
        .request_certificate()
        .domain_name("renew.example.test")
        .validation_method(ValidationMethod::Dns)
        .key_algorithm(KeyAlgorithm::EcPrime256v1)
        .send()
        .await
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string();
    let record = validation_record(&h, &arn).await;
    let zone = create_zone(&h, "example.test").await;
    let cname = || rrset(record.name(), RrType::Cname, 300, &[record.value()]);
    let id = apply(&h, &zone, vec![change(ChangeAction::Create, cname())])
        .await
        .unwrap();
    wait_insync(&h, &id).await;
    let first = wait_issued(&h, &arn).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let left = first.not_after().unwrap().secs() - now;
    assert!((0..20).contains(&left), "the dev lifetime is seconds, {left} s left");

    // RenewCertificate: re-validated from the record, re-issued under the same ARN.
    acm.renew_certificate().certificate_arn(&arn).send().await.unwrap();
    let mut renewed = None;
    for _ in 0..100 {
        let d = acm.describe_certificate().certificate_arn(&arn).send().await.unwrap();
        let d = d.certificate().unwrap().clone();
        if d.renewal_summary().map(|r| r.renewal_status().as_str()) == Some("SUCCESS") {
            renewed = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let renewed = renewed.expect("renewal succeeded");
    assert_ne!(renewed.serial(), first.serial());
    assert!(renewed.not_after().unwrap().secs() >= first.not_after().unwrap().secs());

    // Without the record a renewal cannot validate, and the certificate expires.
    let id = apply(&h, &zone, vec![change(ChangeAction::Delete, cname())])
        .await
        .unwrap();
    wait_insync(&h, &id).await;
    acm.renew_certificate().certificate_arn(&arn).send().await.unwrap();
    let mut status = None;
    for _ in 0..300 {
        let d = acm.describe_certificate().certificate_arn(&arn).send().await.unwrap();
        status = d.certificate().unwrap().status().cloned();
        if status == Some(CertificateStatus::Expired) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, Some(CertificateStatus::Expired));
    let options = acm
        .update_certificate_options()
        .certificate_arn(&arn)
        .options(aws_sdk_acm::types::CertificateOptions::builder().build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(options.code(), Some("InvalidStateException"));
}

#[tokio::test]
async fn exportable_certificates_come_out_with_a_passphrase_protected_key() {
    use aws_sdk_acm::primitives::Blob;
    use aws_sdk_acm::types::{CertificateExport, CertificateOptions};
    let h = Haneul::start();
    let acm = h.acm();
    let request = |export: bool| {
        let mut r = acm
            .request_certificate()
            .domain_name("export.example.test")
            .validation_method(ValidationMethod::Dns)
            .key_algorithm(KeyAlgorithm::EcPrime256v1);
        if export {
            r = r.options(CertificateOptions::builder().export(CertificateExport::Enabled).build());
        }
        r
    };
    let arn = request(true)
        .send()
        .await
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string();
    let plain = request(false)
        .send()
        .await
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string();
    let record = validation_record(&h, &arn).await;
    let zone = create_zone(&h, "example.test").await;
    publish(&h, &zone, &record).await;
    wait_issued(&h, &arn).await;
    wait_issued(&h, &plain).await;

    let exported = acm
        .export_certificate()
        .certificate_arn(&arn)
        .passphrase(Blob::new("correct horse"))
        .send()
        .await
        .unwrap();
    let key = exported.private_key().unwrap();
    assert!(key.contains("BEGIN ENCRYPTED PRIVATE KEY"), "{key}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    std::fs::write(dir.path().join("cert.pem"), exported.certificate().unwrap()).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string())
    };
    let (ok, key_pub) = run(&["pkey", "-in", "key.pem", "-passin", "pass:correct horse", "-pubout"]);
    assert!(ok, "the passphrase opens the key");
    let (_, cert_pub) = run(&["x509", "-in", "cert.pem", "-pubkey", "-noout"]);
    assert_eq!(key_pub, cert_pub, "the exported key belongs to the certificate");
    let (wrong, _) = run(&["pkey", "-in", "key.pem", "-passin", "pass:wrong", "-pubout"]);
    assert!(!wrong, "another passphrase does not open it");

    let refused = acm
        .export_certificate()
        .certificate_arn(&plain)
        .passphrase(Blob::new("correct horse"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("ValidationException"));
}

async fn mailbox(h: &Haneul) -> Vec<serde_json::Value> {
    let body = h.raw("GET", "/_haneul/mail", &[], "").await.body;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["mails"].as_array().unwrap().clone()
}

#[tokio::test]
async fn email_validation_writes_mail_whose_link_approves() {
    let h = Haneul::start();
    let acm = h.acm();
    let arn = acm
        .request_certificate()
        .domain_name("mail.example.test")
        .validation_method(ValidationMethod::Email)
        .key_algorithm(KeyAlgorithm::EcPrime256v1)
        .domain_validation_options(
            aws_sdk_acm::types::DomainValidationOption::builder()
                .domain_name("mail.example.test")
                .validation_domain("example.test")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string();
    let pending = acm.describe_certificate().certificate_arn(&arn).send().await.unwrap();
    let option = &pending.certificate().unwrap().domain_validation_options()[0];
    assert_eq!(option.validation_emails()[0], "admin@example.test");
    assert!(option.resource_record().is_none());

    let mails = mailbox(&h).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0]["to"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "postmaster@example.test"));
    let eml = std::fs::read_to_string(mails[0]["file"].as_str().unwrap()).unwrap();
    assert!(eml.contains("Subject: Certificate approval for mail.example.test"));
    acm.resend_validation_email()
        .certificate_arn(&arn)
        .domain("mail.example.test")
        .validation_domain("example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(mailbox(&h).await.len(), 2);

    // Nothing issues until someone follows the link.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let still = acm.describe_certificate().certificate_arn(&arn).send().await.unwrap();
    assert_eq!(
        still.certificate().unwrap().status(),
        Some(&CertificateStatus::PendingValidation)
    );
    let link = mails[0]["approve"].as_str().unwrap();
    let path = &link[link.find("/_haneul/").unwrap()..];
    let approved = h.raw("GET", path, &[], "").await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    wait_issued(&h, &arn).await;
    let got = acm.get_certificate().certificate_arn(&arn).send().await.unwrap();
    let root = h.raw("GET", "/_haneul/ca.pem", &[], "").await;
    let dir = tempfile::tempdir().unwrap();
    let verdict = openssl_verify(
        dir.path(),
        &root.body,
        got.certificate_chain().unwrap(),
        got.certificate().unwrap(),
    );
    assert!(verdict.contains("cert.pem: OK"), "{verdict}");
    let resend = acm
        .resend_validation_email()
        .certificate_arn(&arn)
        .domain("mail.example.test")
        .validation_domain("example.test")
        .send()
        .await
        .unwrap_err();
    assert_eq!(resend.code(), Some("InvalidStateException"));
}

#[tokio::test]
async fn names_outside_haneuls_zones_validate_through_the_upstream_resolver() {
    // The "internet" is another haneul holding the zone.
    let internet = Haneul::start();
    let h = Haneul::start_with(haneul_testkit::Options {
        dns_upstream: Some(internet.dns_addr),
        ..haneul_testkit::Options::default()
    });
    let arn = h
        .acm()
        .request_certificate()
        .domain_name("far.example.test")
        .validation_method(ValidationMethod::Dns)
        .key_algorithm(KeyAlgorithm::EcPrime256v1)
        .send()
        .await
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string();
    let record = validation_record(&h, &arn).await;
    let zone = create_zone(&internet, "example.test").await;
    publish(&internet, &zone, &record).await;
    wait_issued(&h, &arn).await;
}

fn pebble_binary() -> &'static str {
    for candidate in ["/usr/bin/pebble", "/usr/local/bin/pebble"] {
        if std::path::Path::new(candidate).exists() {
            return candidate;
        }
    }
    panic!("the ACME test needs pebble: apt-get install pebble (see .ci/run)");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA and a server certificate for pebble's HTTPS (127.0.0.1), made with openssl.
fn pebble_tls(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-days",
        "2",
        "-subj",
        "/CN=pebble test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.pem",
    ]);
}

struct Pebble(std::process::Child);

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
#[ignore = "slow end-to-end: a real ACME CA (pebble) validates DNS-01 against haneul's DNS"]
async fn slow_acme_mode_gets_certificates_from_pebble_through_dns_01() {
    let dir = tempfile::tempdir().unwrap();
    pebble_tls(dir.path());
    let (port, management) = (free_port(), free_port());
    let h = Haneul::start_with(haneul_testkit::Options {
        acme_directory: Some(format!("https://127.0.0.1:{port}/dir")),
        acme_ca_file: Some(dir.path().join("ca.pem")),
        ..haneul_testkit::Options::default()
    });
    let config = serde_json::json!({ "pebble": {
        "listenAddress": format!("127.0.0.1:{port}"),
        "managementListenAddress": format!("127.0.0.1:{management}"),
        "certificate": dir.path().join("server.pem"),
        "privateKey": dir.path().join("server.key"),
        "httpPort": free_port(),
        "tlsPort": free_port(),
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false,
    }});
    std::fs::write(dir.path().join("pebble.json"), config.to_string()).unwrap();
    let _pebble = Pebble(
        std::process::Command::new(pebble_binary())
            .args(["-config", "pebble.json", "-dnsserver", &h.dns_addr.to_string()])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("pebble starts"),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The zone DNS-01 (and ACM's own validation) will use.
    let zone = create_zone(&h, "example.test").await;
    let arn = h
        .acm()
        .request_certificate()
        .domain_name("acme.example.test")
        .subject_alternative_names("*.acme.example.test")
        .validation_method(ValidationMethod::Dns)
        .key_algorithm(KeyAlgorithm::EcPrime256v1)
        .send()
        .await
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string();
    let record = validation_record(&h, &arn).await;
    publish(&h, &zone, &record).await;
    let issued = wait_issued(&h, &arn).await;
    assert!(
        issued.issuer().unwrap().contains("Pebble"),
        "issued by {:?}",
        issued.issuer()
    );

    // The chain verifies against pebble's root (from its management API), not haneul's.
    let root = std::process::Command::new("curl")
        .args([
            "-s",
            "--cacert",
            "ca.pem",
            &format!("https://127.0.0.1:{management}/roots/0"),
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let root = String::from_utf8(root.stdout).unwrap();
    assert!(root.contains("BEGIN CERTIFICATE"), "pebble root: {root}");
    let got = h.acm().get_certificate().certificate_arn(&arn).send().await.unwrap();
    let verify_dir = tempfile::tempdir().unwrap();
    let verdict = openssl_verify(
        verify_dir.path(),
        &root,
        got.certificate_chain().unwrap(),
        got.certificate().unwrap(),
    );
    assert!(verdict.contains("cert.pem: OK"), "{verdict}");
    // The DNS-01 records are gone again.
    let listed = h
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .send()
        .await
        .unwrap();
    assert!(listed
        .resource_record_sets()
        .iter()
        .all(|r| !r.name().starts_with("_acme-challenge")));
}

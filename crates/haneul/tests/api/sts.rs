//! STS GetCallerIdentity through aws-sdk-sts, in dev and verified mode.

use std::time::{Duration, SystemTime};

use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::error::ProvideErrorMetadata;
use aws_smithy_async::time::StaticTimeSource;
use haneul_testkit::Haneul;

#[tokio::test]
async fn get_caller_identity_in_dev_mode() {
    let h = Haneul::start();
    let out = h.sts().get_caller_identity().send().await.unwrap();
    assert_eq!(out.account(), Some("000000000000"));
    assert_eq!(out.arn(), Some("arn:aws:iam::000000000000:root"));
    assert_eq!(out.user_id(), Some("000000000000"));
}

#[tokio::test]
async fn dev_mode_twelve_digit_key_selects_the_account() {
    let h = Haneul::start();
    let creds = aws_credential_types::Credentials::new("123456789012", "x", None, None, "t");
    let client = aws_sdk_sts::Client::from_conf(h.sts_config().credentials_provider(creds).build());
    let out = client.get_caller_identity().send().await.unwrap();
    assert_eq!(out.account(), Some("123456789012"));
}

fn client_with(h: &Haneul, key: &str, secret: &str) -> aws_sdk_sts::config::Builder {
    let creds = aws_credential_types::Credentials::new(key, secret, None, None, "t");
    h.sts_config()
        .credentials_provider(creds)
        .retry_config(RetryConfig::disabled())
}

#[tokio::test]
async fn verified_mode_accepts_the_root_key_only() {
    let h = Haneul::start_verified();
    let (key, secret) = h.credentials();
    assert!(key.starts_with("AKIA") && key.len() == 20, "root key id {key}");

    let ok = aws_sdk_sts::Client::from_conf(client_with(&h, &key, &secret).build());
    let out = ok.get_caller_identity().send().await.unwrap();
    assert_eq!(out.arn(), Some("arn:aws:iam::000000000000:root"));

    let bad_secret = aws_sdk_sts::Client::from_conf(client_with(&h, &key, "wrong").build());
    let err = bad_secret.get_caller_identity().send().await.unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err:?}");

    let unknown = aws_sdk_sts::Client::from_conf(client_with(&h, "AKIAUNKNOWNKEY000000", &secret).build());
    let err = unknown.get_caller_identity().send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidClientTokenId"), "{err:?}");
}

#[tokio::test]
async fn verified_mode_rejects_a_skewed_clock() {
    let h = Haneul::start_verified();
    let (key, secret) = h.credentials();
    let past = SystemTime::now() - Duration::from_secs(20 * 60);
    let client = aws_sdk_sts::Client::from_conf(
        client_with(&h, &key, &secret)
            .time_source(StaticTimeSource::new(past))
            .build(),
    );
    let err = client.get_caller_identity().send().await.unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err:?}");
    assert!(err.message().unwrap_or("").starts_with("Signature expired"), "{err:?}");
}

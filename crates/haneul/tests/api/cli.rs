//! The `haneul` binary as a user runs it: `up` prints its addresses, `env` prints working
//! exports, verified mode keeps its root key across restarts, signals stop it cleanly.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::support::Process;

fn env_exports(data_dir: &std::path::Path) -> Vec<(String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_haneul"))
        .args(["env", "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "haneul env failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.strip_prefix("export ")?
                .split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn aws(env: &[(String, String)], args: &[&str]) -> std::process::Output {
    Command::new("aws")
        .args(args)
        .envs(env.iter().cloned())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the aws CLI ({e}); install it with `pip install awscli`"))
}

#[test]
#[ignore = "slow end-to-end: runs in CI with --include-ignored"]
fn slow_verified_mode_env_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut haneul = Process::up(dir.path(), &[]);
    let printed = haneul.stdout_lines.join("\n");
    assert!(
        printed.contains("AWS_SECRET_ACCESS_KEY="),
        "first start prints the secret once: {printed}"
    );
    let creds = dir.path().join("credentials.json");
    assert_eq!(std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777, 0o600);

    let env = env_exports(dir.path());
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    for want in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
    ] {
        assert!(names.contains(&want), "haneul env lacks {want}: {names:?}");
    }
    let ok = aws(&env, &["sts", "get-caller-identity"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let mut bad_env = env.clone();
    bad_env.retain(|(k, _)| k != "AWS_SECRET_ACCESS_KEY");
    bad_env.push(("AWS_SECRET_ACCESS_KEY".into(), "wrong".into()));
    let bad = aws(&bad_env, &["sts", "get-caller-identity"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("SignatureDoesNotMatch"));

    let status = haneul.signal(libc::SIGTERM);
    assert!(status.success(), "SIGTERM exits cleanly: {status:?}");

    let mut again = Process::up(dir.path(), &[]);
    assert!(
        !again.stdout_lines.join("\n").contains("AWS_SECRET_ACCESS_KEY="),
        "the secret is printed once only"
    );
    let env2 = env_exports(dir.path());
    assert_eq!(
        env,
        env2.iter()
            .map(|(k, v)| (
                k.clone(),
                if k == "AWS_ENDPOINT_URL" {
                    env.iter().find(|(n, _)| n == k).unwrap().1.clone()
                } else {
                    v.clone()
                }
            ))
            .collect::<Vec<_>>()
    );
    let ok = aws(&env2, &["sts", "get-caller-identity"]);
    assert!(
        ok.status.success(),
        "the same key works after restart: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let status = again.signal(libc::SIGINT);
    assert!(status.success(), "SIGINT exits cleanly: {status:?}");
}

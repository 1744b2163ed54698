//! Certificates issued per second by haneul's CA (key generation + signing, one thread), for
//! `bench/acm/run.sh`, which runs `openssl req -x509` doing the same in the same run.
//! Usage: bench-acm <RSA_2048|EC_prime256v1> <seconds>

use std::time::{Duration, Instant};

use haneul_acm::ca::CertificateAuthority;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(key), Some(seconds)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: bench-acm <RSA_2048|EC_prime256v1> <seconds>");
    };
    let seconds: u64 = seconds.parse()?;
    let dir = tempfile::tempdir()?;
    let ca = CertificateAuthority::open_or_create(dir.path())?;
    let names = vec!["app.example.test".to_string(), "*.app.example.test".to_string()];
    let validity = time::Duration::days(haneul_acm::ca::VALIDITY_DAYS);
    let started = Instant::now();
    let mut issued = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        ca.issue(&names, key, validity)?;
        issued += 1;
    }
    println!("{:.1}", issued as f64 / started.elapsed().as_secs_f64());
    Ok(())
}

//! Load generator for `bench/api/run.sh`: signed API requests per second from C concurrent
//! clients against one endpoint (haneul or the peer, moto_server, in the same run).
//!
//! `sts`: GetCallerIdentity through aws-sdk-sts (one SDK client per task).
//! `ec2`: DescribeVpcs, SigV4-signed with aws-sigv4 and sent over keep-alive HTTP/1.1
//! (the EC2 SDK crate is too slow to build for a benchmark).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[derive(Parser)]
struct Args {
    /// `http://127.0.0.1:4566`
    #[arg(long)]
    endpoint: String,
    /// `sts` or `ec2`
    #[arg(long)]
    op: String,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 10)]
    duration_s: u64,
    #[arg(long, default_value = "AKIDBENCH")]
    key: String,
    #[arg(long, default_value = "bench-secret")]
    secret: String,
}

const EC2_BODY: &str = "Action=DescribeVpcs&Version=2016-11-15";

fn signed_ec2_request(args: &Args) -> anyhow::Result<http::Request<Full<Bytes>>> {
    let identity = Credentials::new(&args.key, &args.secret, None, None, "bench").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("ec2")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()?
        .into();
    let url = format!("{}/", args.endpoint);
    let headers = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.into_iter(),
        SignableBody::Bytes(EC2_BODY.as_bytes()),
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    let mut req = http::Request::builder()
        .method("POST")
        .uri(&url)
        .header(headers[0].0, headers[0].1)
        .body(())?;
    instructions.apply_to_request_http1x(&mut req);
    let (parts, ()) = req.into_parts();
    Ok(http::Request::from_parts(
        parts,
        Full::new(Bytes::from_static(EC2_BODY.as_bytes())),
    ))
}

async fn run_ec2(args: Arc<Args>, deadline: Instant) -> anyhow::Result<Vec<Duration>> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let req = signed_ec2_request(&args)?;
        let started = Instant::now();
        let resp = client.request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!("DescribeVpcs answered {status}: {}", String::from_utf8_lossy(&body));
        }
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

async fn run_sts(args: Arc<Args>, deadline: Instant) -> anyhow::Result<Vec<Duration>> {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(&args.endpoint)
        .credentials_provider(Credentials::new(&args.key, &args.secret, None, None, "bench"))
        .build();
    let client = aws_sdk_sts::Client::from_conf(config);
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let started = Instant::now();
        client.get_caller_identity().send().await.context("GetCallerIdentity")?;
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration_s);
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let args = args.clone();
        tasks.push(tokio::spawn(async move {
            match args.op.as_str() {
                "sts" => run_sts(args, deadline).await,
                "ec2" => run_ec2(args, deadline).await,
                other => bail!("unknown --op {other} (sts or ec2)"),
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{} requests {} rps {:.0} p50_ms {:.2} p99_ms {:.2}",
        args.op,
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
    Ok(())
}

//! Load generator for `bench/api/run.sh`: signed API requests per second from C concurrent
//! clients against one endpoint (haneul or the peer, moto_server, in the same run).
//!
//! `sts`: GetCallerIdentity through aws-sdk-sts (one SDK client per task).
//! `ec2`: DescribeVpcs, SigV4-signed with aws-sigv4 and sent over keep-alive HTTP/1.1
//! (the EC2 SDK crate is too slow to build for a benchmark).
//! `logs-put`: PutLogEvents batches of `--batch` events, one stream per task (`bench-<n>` in
//! group `bench`, made beforehand), until `--max-events` are in; events per second.
//! `logs-filter`: FilterLogEvents over group `bench` with `--pattern`, every page followed;
//! the latency is that of the whole search.

use std::sync::atomic::{AtomicU64, Ordering};
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
    /// logs-put: events per PutLogEvents call.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// logs-put: stop once this many events are in (0: until the duration ends).
    #[arg(long, default_value_t = 0)]
    max_events: u64,
    /// logs-filter: the filter pattern.
    #[arg(long, default_value = "\"ERROR 4242\"")]
    pattern: String,
}

/// A SigV4-signed POST of `body` to the endpoint's root.
fn signed_post(
    args: &Args,
    service: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> anyhow::Result<http::Request<Full<Bytes>>> {
    let identity = Credentials::new(&args.key, &args.secret, None, None, "bench").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()?
        .into();
    let url = format!("{}/", args.endpoint);
    let signable = SignableRequest::new("POST", &url, headers.iter().copied(), SignableBody::Bytes(&body))?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    let mut req = http::Request::builder().method("POST").uri(&url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(())?;
    instructions.apply_to_request_http1x(&mut req);
    let (parts, ()) = req.into_parts();
    Ok(http::Request::from_parts(parts, Full::new(body)))
}

const LOGS_JSON: &str = "application/x-amz-json-1.1";

async fn logs_call(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    args: &Args,
    target: &str,
    body: String,
) -> anyhow::Result<serde_json::Value> {
    let target = format!("Logs_20140328.{target}");
    let headers = [("content-type", LOGS_JSON), ("x-amz-target", target.as_str())];
    let req = signed_post(args, "logs", &headers, Bytes::from(body))?;
    let resp = client.request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!("{target} answered {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(serde_json::from_slice(&body)?)
}

async fn run_logs_put(
    args: Arc<Args>,
    task: usize,
    deadline: Instant,
    events: Arc<AtomicU64>,
) -> anyhow::Result<Vec<Duration>> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut latencies = Vec::new();
    let mut n: u64 = 0;
    while Instant::now() < deadline {
        let already = events.fetch_add(args.batch as u64, Ordering::Relaxed);
        if args.max_events > 0 && already >= args.max_events {
            break;
        }
        let now_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?.as_millis() as u64;
        let batch: Vec<serde_json::Value> = (0..args.batch)
            .map(|_| {
                n += 1;
                let id = n * 1000 + task as u64;
                let message = if id.is_multiple_of(1000) {
                    format!(
                        "ERROR {} worker lost its lease after {} ms",
                        id / 1000 % 10_000,
                        id % 997
                    )
                } else {
                    format!("GET /api/items/{id} 200 {} ms request-id={id:016x}", id % 997)
                };
                serde_json::json!({ "timestamp": now_ms, "message": message })
            })
            .collect();
        let body = serde_json::json!({
            "logGroupName": "bench",
            "logStreamName": format!("bench-{task}"),
            "logEvents": batch,
        });
        let started = Instant::now();
        logs_call(&client, &args, "PutLogEvents", body.to_string()).await?;
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

async fn run_logs_filter(args: Arc<Args>, deadline: Instant) -> anyhow::Result<Vec<Duration>> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let started = Instant::now();
        let mut token: Option<String> = None;
        loop {
            let mut body = serde_json::json!({ "logGroupName": "bench", "filterPattern": args.pattern });
            if let Some(t) = &token {
                body["nextToken"] = serde_json::Value::String(t.clone());
            }
            let out = logs_call(&client, &args, "FilterLogEvents", body.to_string()).await?;
            token = out["nextToken"].as_str().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

const EC2_BODY: &str = "Action=DescribeVpcs&Version=2016-11-15";

fn signed_ec2_request(args: &Args) -> anyhow::Result<http::Request<Full<Bytes>>> {
    let headers = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
    signed_post(args, "ec2", &headers, Bytes::from_static(EC2_BODY.as_bytes()))
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
    let events = Arc::new(AtomicU64::new(0));
    for task in 0..args.concurrency {
        let (args, events) = (args.clone(), events.clone());
        tasks.push(tokio::spawn(async move {
            match args.op.as_str() {
                "sts" => run_sts(args, deadline).await,
                "ec2" => run_ec2(args, deadline).await,
                "logs-put" => run_logs_put(args, task, deadline, events).await,
                "logs-filter" => run_logs_filter(args, deadline).await,
                other => bail!("unknown --op {other} (sts, ec2, logs-put or logs-filter)"),
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
    let extra = if args.op == "logs-put" {
        format!(" events_per_s {:.0}", all.len() as f64 * args.batch as f64 / elapsed)
    } else {
        String::new()
    };
    println!(
        "{} requests {} rps {:.0} p50_ms {:.2} p99_ms {:.2}{extra}",
        args.op,
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
    Ok(())
}

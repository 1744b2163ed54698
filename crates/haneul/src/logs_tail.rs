//! `haneul logs tail GROUP`: the AWS CLI v2's `aws logs tail` for everyone — a log group's
//! events since `--since`, optionally filtered, and with `--follow` new ones as they come —
//! read through the CloudWatch Logs API (FilterLogEvents, SigV4-signed) like any client.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

/// How long one FilterLogEvents call may take.
pub const REQUEST_TIMEOUT_S: u64 = 30;
/// How often `--follow` asks for new events.
pub const POLL_INTERVAL_MS: u64 = 1000;
/// Events remembered to print each once across polls (those at the newest timestamp).
const MAX_SEEN_AT_EDGE: usize = 100_000;
/// A FilterLogEvents answer is at most ~1 MiB of events; more is refused.
const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `<time> <stream> <message>`
    Detailed,
    /// `<time> <message>`
    Short,
}

pub struct Tail {
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
    pub group: String,
    pub since_ms: i64,
    pub filter_pattern: Option<String>,
    pub follow: bool,
    pub format: Format,
}

/// `10m`, `1h`, `2d`, `1w`, `30s` before now, or an ISO 8601 / epoch-seconds time.
pub fn parse_since(text: &str, now_ms: i64) -> anyhow::Result<i64> {
    let units = [
        ('s', 1_000i64),
        ('m', 60_000),
        ('h', 3_600_000),
        ('d', 86_400_000),
        ('w', 604_800_000),
    ];
    if let Some((unit, ms)) = units.iter().find(|(u, _)| text.ends_with(*u)) {
        let n: i64 = text
            .trim_end_matches(*unit)
            .parse()
            .with_context(|| format!("--since {text}: expected a number before '{unit}'"))?;
        return Ok(now_ms - n * ms);
    }
    match haneul_wire::value::parse_timestamp(text) {
        Some(s) => Ok((s * 1000.0) as i64),
        None => bail!("--since {text}: expected 10m, 1h, 2d, 1w or a time such as 2026-12-03T10:00:00Z"),
    }
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> i64 {
    (haneul_wire::value::now_epoch_s() * 1000.0) as i64
}

/// An event's time as `aws logs tail` prints it: `2026-12-03T10:00:00.123000+00:00`.
fn format_time(ms: i64) -> String {
    let iso = haneul_logs::model::iso8601_ms(ms);
    format!("{}000+00:00", iso.trim_end_matches('Z'))
}

impl Tail {
    pub async fn run(&self, out: &mut impl Write) -> anyhow::Result<()> {
        let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let mut start_ms = self.since_ms;
        let mut seen_at_edge: HashSet<String> = HashSet::new();
        loop {
            let mut token: Option<String> = None;
            let mut newest = start_ms;
            let mut at_newest: HashSet<String> = HashSet::new();
            loop {
                let page = self.filter(&client, start_ms, token.as_deref()).await?;
                for e in page["events"].as_array().into_iter().flatten() {
                    let id = e["eventId"].as_str().unwrap_or_default().to_string();
                    let ts = e["timestamp"].as_i64().unwrap_or_default();
                    if seen_at_edge.contains(&id) {
                        continue;
                    }
                    let message = e["message"].as_str().unwrap_or_default().trim_end_matches('\n');
                    let stream = e["logStreamName"].as_str().unwrap_or_default();
                    match self.format {
                        Format::Detailed => writeln!(out, "{} {stream} {message}", format_time(ts))?,
                        Format::Short => writeln!(out, "{} {message}", format_time(ts))?,
                    }
                    if ts > newest {
                        newest = ts;
                        at_newest.clear();
                    }
                    if ts == newest && at_newest.len() < MAX_SEEN_AT_EDGE {
                        at_newest.insert(id);
                    }
                }
                out.flush()?;
                token = page["nextToken"].as_str().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
            if !self.follow {
                return Ok(());
            }
            // The next poll starts at the newest timestamp printed; its events printed
            // already are skipped by id.
            if newest > start_ms {
                start_ms = newest;
                seen_at_edge = at_newest;
            } else {
                seen_at_edge.extend(at_newest);
            }
            tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
        }
    }

    async fn filter(
        &self,
        client: &Client<HttpConnector, Full<Bytes>>,
        start_ms: i64,
        token: Option<&str>,
    ) -> anyhow::Result<Value> {
        let mut body = json!({ "logGroupName": self.group, "startTime": start_ms.max(0), "interleaved": true });
        if let Some(p) = &self.filter_pattern {
            body["filterPattern"] = json!(p);
        }
        if let Some(t) = token {
            body["nextToken"] = json!(t);
        }
        let body = body.to_string().into_bytes();
        let uri: http::Uri = format!("{}/", self.endpoint.trim_end_matches('/'))
            .parse()
            .with_context(|| format!("{} is not an endpoint URL", self.endpoint))?;
        let host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let amz_date = haneul_wire::value::amz_date_now();
        let mut headers = http::HeaderMap::new();
        headers.insert("host", host.parse()?);
        headers.insert("x-amz-date", amz_date.parse()?);
        headers.insert("x-amz-target", "Logs_20140328.FilterLogEvents".parse()?);
        headers.insert("content-type", "application/x-amz-json-1.1".parse()?);
        let signed = haneul_wire::sigv4::SignedRequest {
            method: "POST",
            raw_path: "/",
            raw_query: "",
            headers: &headers,
            body: &body,
        };
        let auth = haneul_wire::sigv4::sign(
            &signed,
            &self.access_key_id,
            &self.secret_access_key,
            &self.region,
            "logs",
        )
        .map_err(|e| anyhow::anyhow!("cannot sign the request: {e}"))?;
        let mut req = http::Request::builder().method("POST").uri(uri);
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let req = req.header("authorization", auth).body(Full::new(Bytes::from(body)))?;
        let exchange = async {
            let resp = client.request(req).await?;
            let status = resp.status();
            let bytes = http_body_util::Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| anyhow::anyhow!("reading the answer: {e}"))?
                .to_bytes();
            anyhow::Ok((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(Duration::from_secs(REQUEST_TIMEOUT_S), exchange)
            .await
            .with_context(|| format!("{} did not answer within {REQUEST_TIMEOUT_S} s", self.endpoint))??;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            let code = v["__type"].as_str().unwrap_or("error");
            let message = v["message"].as_str().unwrap_or_default();
            bail!("{code}: {message}");
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms() {
        assert_eq!(parse_since("10m", 1_000_000).unwrap(), 400_000);
        assert_eq!(parse_since("1h", 10_000_000).unwrap(), 6_400_000);
        assert_eq!(parse_since("2026-12-03T00:00:00Z", 0).unwrap(), 1_796_256_000_000);
        assert!(parse_since("soon", 0).is_err());
    }

    #[test]
    fn times_print_as_the_aws_cli_does() {
        assert_eq!(format_time(1_513_152_950_235), "2017-12-13T08:15:50.235000+00:00");
    }
}

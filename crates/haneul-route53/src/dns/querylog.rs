//! DNS query logging: for a public zone with a query logging configuration, every query the
//! DNS server answers from it becomes a line in the configuration's CloudWatch Logs group,
//! formatted as Route 53 formats its query logs:
//!
//! `1.0 2017-12-13T08:15:50.235Z Z123412341234 example.com A NOERROR UDP HNL1 192.0.2.1 -`
//!
//! (version, time, zone, name, type, response code, protocol, edge location, resolver
//! address, EDNS client subnet), in a stream `<zone id>/<edge location>`.
//!
//! The DNS workers never wait for it: they offer a [`QueryRecord`] to a bounded queue; when
//! the queue is full the record is dropped and counted. One writer task drains the queue in
//! batches into the log store.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use haneul_store::Scope;
use tokio::sync::mpsc;

use crate::api::query_logging::LOG_GROUP_REGION;

/// Records the queue holds before it drops.
pub const QUEUE_RECORDS: usize = 65_536;
/// Records the writer takes per batch at most.
pub const BATCH_RECORDS: usize = 10_000;
/// How long the writer lets records gather before it writes a batch.
pub const BATCH_WAIT_MS: u64 = 200;
/// The writer's budget: at most this many lines a second go into the log store, so under a
/// query flood the DNS workers keep the machine (what the budget leaves is dropped and counted).
pub const MAX_LINES_PER_S: u64 = 20_000;
/// haneul's one "edge location" (Route 53's are airport codes with a number).
pub const EDGE_LOCATION: &str = "HNL1";

/// Where a zone's query log goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogTarget {
    pub account_id: String,
    pub log_group: String,
}

/// One answered query, as the DNS worker hands it over (formatted by the writer).
#[derive(Debug, Clone)]
pub struct QueryRecord {
    pub timestamp_ms: i64,
    pub zone_id: Arc<str>,
    pub target: Arc<LogTarget>,
    pub qname: String,
    pub qtype: String,
    pub rcode: String,
    pub tcp: bool,
    pub resolver: Option<IpAddr>,
    pub client_subnet: Option<(IpAddr, u8)>,
}

impl QueryRecord {
    pub fn line(&self) -> String {
        let time = haneul_logs::model::iso8601_ms(self.timestamp_ms);
        let name = self.qname.strip_suffix('.').unwrap_or(&self.qname);
        let name = if name.is_empty() { "." } else { name };
        let resolver = self.resolver.map_or_else(|| "-".to_string(), |ip| ip.to_string());
        let subnet = self
            .client_subnet
            .map_or_else(|| "-".to_string(), |(ip, prefix)| format!("{ip}/{prefix}"));
        format!(
            "1.0 {time} {} {name} {} {} {} {EDGE_LOCATION} {resolver} {subnet}",
            self.zone_id,
            self.qtype,
            self.rcode,
            if self.tcp { "TCP" } else { "UDP" }
        )
    }
}

/// The queue between the DNS workers and the writer, with its counters.
#[derive(Debug)]
pub struct QueryLog {
    tx: mpsc::Sender<QueryRecord>,
    rx: Mutex<Option<mpsc::Receiver<QueryRecord>>>,
    pub written: AtomicU64,
    pub dropped: AtomicU64,
}

impl Default for QueryLog {
    fn default() -> QueryLog {
        let (tx, rx) = mpsc::channel(QUEUE_RECORDS);
        QueryLog {
            tx,
            rx: Mutex::new(Some(rx)),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }
}

impl QueryLog {
    /// Whether a record offered now would be taken (counts the drop when not), so a DNS
    /// worker builds a record only when there is room for it.
    pub fn has_room(&self) -> bool {
        if self.tx.capacity() > 0 {
            return true;
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// Hands a record over without waiting; a full queue drops it (and counts it).
    pub fn offer(&self, record: QueryRecord) {
        if self.tx.try_send(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The receiving end, for the one writer.
    fn take_receiver(&self) -> Option<mpsc::Receiver<QueryRecord>> {
        self.rx.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Drains the queue into the log store until the queue closes (or the task is aborted).
pub async fn run(log: Arc<QueryLog>, logs: Arc<haneul_logs::Logs>) {
    let Some(mut rx) = log.take_receiver() else {
        tracing::warn!("the DNS query log already has a writer");
        return;
    };
    let mut batch = Vec::with_capacity(BATCH_RECORDS);
    // The budget is a token bucket: a second's worth of lines at most, refilled continuously.
    let mut bucket = Bucket::new(MAX_LINES_PER_S);
    loop {
        if rx.recv_many(&mut batch, BATCH_RECORDS).await == 0 {
            return;
        }
        // Let a burst gather into one write per stream.
        tokio::time::sleep(Duration::from_millis(BATCH_WAIT_MS)).await;
        let room = BATCH_RECORDS.saturating_sub(batch.len());
        if room > 0 {
            while let Ok(r) = rx.try_recv() {
                batch.push(r);
                if batch.len() >= BATCH_RECORDS {
                    break;
                }
            }
        }
        let allowed = bucket.take(batch.len() as u64) as usize;
        if allowed < batch.len() {
            log.dropped.fetch_add((batch.len() - allowed) as u64, Ordering::Relaxed);
            batch.truncate(allowed);
        }
        write(&log, &logs, std::mem::take(&mut batch)).await;
    }
}

struct Bucket {
    per_s: u64,
    tokens: f64,
    refilled: std::time::Instant,
}

impl Bucket {
    fn new(per_s: u64) -> Bucket {
        Bucket {
            per_s,
            tokens: per_s as f64,
            refilled: std::time::Instant::now(),
        }
    }

    /// Up to `want` tokens, as many as the bucket holds now.
    fn take(&mut self, want: u64) -> u64 {
        let now = std::time::Instant::now();
        let per_s = self.per_s as f64;
        self.tokens = (self.tokens + now.duration_since(self.refilled).as_secs_f64() * per_s).min(per_s);
        self.refilled = now;
        let got = (want as f64).min(self.tokens.floor());
        self.tokens -= got;
        got as u64
    }
}

async fn write(log: &QueryLog, logs: &haneul_logs::Logs, batch: Vec<QueryRecord>) {
    let mut streams: HashMap<(Arc<LogTarget>, Arc<str>), Vec<haneul_store::events::NewEvent>> = HashMap::new();
    for r in batch {
        let event = haneul_store::events::NewEvent {
            timestamp_ms: r.timestamp_ms,
            message: r.line(),
        };
        streams
            .entry((r.target.clone(), r.zone_id.clone()))
            .or_default()
            .push(event);
    }
    for ((target, zone), mut events) in streams {
        events.sort_by_key(|e| e.timestamp_ms);
        let n = events.len() as u64;
        let scope = Scope::new(target.account_id.clone(), LOG_GROUP_REGION);
        let stream = format!("{zone}/{EDGE_LOCATION}");
        match logs.ingest(&scope, &target.log_group, &stream, events).await {
            Ok(()) => {
                log.written.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                log.dropped.fetch_add(n, Ordering::Relaxed);
                tracing::debug!(error = %e, group = %target.log_group, "DNS query log lines dropped");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_route53_writes_them() {
        let r = QueryRecord {
            timestamp_ms: 1_513_152_950_235,
            zone_id: Arc::from("Z123412341234"),
            target: Arc::new(LogTarget {
                account_id: "000000000000".into(),
                log_group: "/aws/route53/example.com".into(),
            }),
            qname: "example.com.".into(),
            qtype: "A".into(),
            rcode: "NOERROR".into(),
            tcp: false,
            resolver: Some("192.168.1.1".parse().unwrap()),
            client_subnet: None,
        };
        assert_eq!(
            r.line(),
            "1.0 2017-12-13T08:15:50.235Z Z123412341234 example.com A NOERROR UDP HNL1 192.168.1.1 -"
        );
        let with_subnet = QueryRecord {
            tcp: true,
            client_subnet: Some(("198.51.100.0".parse().unwrap(), 24)),
            ..r
        };
        assert!(with_subnet.line().ends_with("TCP HNL1 192.168.1.1 198.51.100.0/24"));
    }
}

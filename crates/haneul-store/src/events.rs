//! The log event store: append-only events of log streams, in their own SQLite file so a
//! steady stream of appends never waits on (or holds up) the resource store's writer, and
//! never moves the resource revision that data planes follow.
//!
//! Events are keyed `(group, timestamp, sequence)` — a group's events in time order, for
//! filters across its streams — with an index on `(stream, timestamp, sequence)` for one
//! stream's reads. Groups and streams are named by numeric keys their service allocates;
//! a key is never reused, so events of a deleted stream are invisible before they are
//! removed. `seq` is one counter for the whole file: events with the same timestamp keep
//! the order they arrived in.
//!
//! Durability: WAL with `synchronous=NORMAL` — an acknowledged append survives the process
//! being killed (it is in the WAL); the last appends before a power loss may not.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{params, Connection, TransactionBehavior};

use crate::sqlite::{create_parent, lock, open_connection};
use crate::StoreError;

const READERS: usize = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
  grp INTEGER NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL,
  stream INTEGER NOT NULL, ingest INTEGER NOT NULL, message TEXT NOT NULL,
  PRIMARY KEY (grp, ts, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_stream ON events (stream, ts, seq);
CREATE TABLE IF NOT EXISTS streams (
  stream INTEGER PRIMARY KEY, grp INTEGER NOT NULL,
  first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL, last_ingest INTEGER NOT NULL,
  bytes INTEGER NOT NULL, count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS streams_by_group ON streams (grp);
";

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub timestamp_ms: i64,
    pub message: String,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub stream: i64,
    pub timestamp_ms: i64,
    pub seq: i64,
    pub ingestion_ms: i64,
    pub message: String,
}

/// A position in time order: after (or before) this event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub timestamp_ms: i64,
    pub seq: i64,
}

/// What a stream holds (kept up to date by every append).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StreamStats {
    pub first_timestamp_ms: i64,
    pub last_timestamp_ms: i64,
    pub last_ingestion_ms: i64,
    pub stored_bytes: i64,
    pub count: i64,
}

/// A read of one stream: events with `start_ms <= timestamp < end_ms`, strictly after
/// `after` (forward) or strictly before `before` (backward), at most `limit`.
#[derive(Debug, Clone)]
pub struct StreamRead {
    pub stream: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub forward: bool,
    pub after: Option<Cursor>,
    pub before: Option<Cursor>,
    pub limit: usize,
}

/// A scan of a group in time order (optionally only some streams), from `after`.
#[derive(Debug, Clone)]
pub struct GroupScan {
    pub group: i64,
    pub streams: Option<Vec<i64>>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub after: Option<Cursor>,
    /// Rows looked at before the scan stops (and says where it got to).
    pub max_rows: usize,
}

/// Where a group scan stopped: at the end, or after `max_rows` rows at this cursor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScanEnd {
    Done,
    StoppedAt(Cursor),
}

/// Borrowed view of a row a scan offers its visitor.
pub struct EventRef<'a> {
    pub stream: i64,
    pub timestamp_ms: i64,
    pub seq: i64,
    pub ingestion_ms: i64,
    pub message: &'a str,
}

/// What a visitor tells the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    Continue,
    Stop,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    next_seq: AtomicI64,
}

/// The event store. Cheap to clone.
#[derive(Clone)]
pub struct EventStore {
    inner: Arc<Inner>,
}

/// Appends are durable against a killed process, not against power loss (see the top).
const SYNCHRONOUS: &str = "NORMAL";

impl EventStore {
    pub fn open(path: &Path) -> Result<EventStore, StoreError> {
        create_parent(path)?;
        let writer = open_connection(path, SYNCHRONOUS)?;
        writer.execute_batch(SCHEMA)?;
        let max_seq: i64 = writer.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?;
        let readers = (0..READERS)
            .map(|_| open_connection(path, SYNCHRONOUS).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EventStore {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                next_seq: AtomicI64::new(max_seq + 1),
            }),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    /// Appends `events` (already in time order) to `stream` of `group` in one transaction,
    /// and brings the stream's stats up to date.
    pub async fn append(
        &self,
        group: i64,
        stream: i64,
        events: Vec<NewEvent>,
        ingestion_ms: i64,
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        self.blocking(move |inner| inner.append(group, stream, &events, ingestion_ms))
            .await
    }

    /// The stats of the given streams (streams without events are absent).
    pub async fn stream_stats(&self, streams: Vec<i64>) -> Result<HashMap<i64, StreamStats>, StoreError> {
        self.blocking(move |inner| inner.stream_stats(&streams)).await
    }

    /// Stored bytes per group, for the given groups.
    pub async fn group_bytes(&self, groups: Vec<i64>) -> Result<HashMap<i64, i64>, StoreError> {
        self.blocking(move |inner| inner.group_bytes(&groups)).await
    }

    /// One stream's events, oldest first whichever the direction.
    pub async fn read_stream(&self, read: StreamRead) -> Result<Vec<StoredEvent>, StoreError> {
        self.blocking(move |inner| inner.read_stream(&read)).await
    }

    /// Offers a group's events to `visit` in (timestamp, seq) order on a blocking thread;
    /// `state` is what the visitor accumulates, handed back with where the scan ended.
    pub async fn scan_group<S, F>(&self, scan: GroupScan, state: S, visit: F) -> Result<(S, ScanEnd), StoreError>
    where
        S: Send + 'static,
        F: FnMut(&mut S, &EventRef<'_>) -> Visit + Send + 'static,
    {
        self.blocking(move |inner| {
            let (mut state, mut visit) = (state, visit);
            let end = inner.scan_group(&scan, &mut |e| visit(&mut state, e))?;
            Ok((state, end))
        })
        .await
    }

    /// Removes a stream's events and stats.
    pub async fn delete_stream(&self, stream: i64) -> Result<(), StoreError> {
        self.blocking(move |inner| {
            let mut conn = lock(&inner.writer);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM events WHERE stream = ?1", params![stream])?;
            tx.execute("DELETE FROM streams WHERE stream = ?1", params![stream])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Removes a group's events and stats.
    pub async fn delete_group(&self, group: i64) -> Result<(), StoreError> {
        self.blocking(move |inner| {
            let mut conn = lock(&inner.writer);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM events WHERE grp = ?1", params![group])?;
            tx.execute("DELETE FROM streams WHERE grp = ?1", params![group])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Removes at most `max_rows` of `group`'s events older than `before_ms`; how many went.
    /// The stats of the streams they were in are recomputed.
    pub async fn expire(&self, group: i64, before_ms: i64, max_rows: usize) -> Result<usize, StoreError> {
        self.blocking(move |inner| inner.expire(group, before_ms, max_rows))
            .await
    }

    /// Groups that have events or stats here.
    pub async fn groups(&self) -> Result<Vec<i64>, StoreError> {
        self.blocking(|inner| {
            let conn = inner.reader();
            let mut stmt = conn.prepare_cached("SELECT DISTINCT grp FROM streams")?;
            let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Streams of `group` that have events or stats here.
    pub async fn streams_of(&self, group: i64) -> Result<Vec<i64>, StoreError> {
        self.blocking(move |inner| {
            let conn = inner.reader();
            let mut stmt = conn.prepare_cached("SELECT stream FROM streams WHERE grp = ?1")?;
            let rows = stmt.query_map(params![group], |r| r.get::<_, i64>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Removes everything (dev-mode reset).
    pub async fn reset(&self) -> Result<(), StoreError> {
        self.blocking(|inner| {
            let mut conn = lock(&inner.writer);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM events", [])?;
            tx.execute("DELETE FROM streams", [])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

impl Inner {
    fn reader(&self) -> MutexGuard<'_, Connection> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        lock(&self.readers[i])
    }

    fn append(&self, group: i64, stream: i64, events: &[NewEvent], ingestion_ms: i64) -> Result<(), StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (mut first, mut last, mut bytes) = (i64::MAX, i64::MIN, 0i64);
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (grp, ts, seq, stream, ingest, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            // Sequence numbers are taken under the writer lock, so they rise in commit order.
            let base = self.next_seq.fetch_add(events.len() as i64, Ordering::SeqCst);
            for (i, e) in events.iter().enumerate() {
                insert.execute(params![
                    group,
                    e.timestamp_ms,
                    base + i as i64,
                    stream,
                    ingestion_ms,
                    e.message
                ])?;
                first = first.min(e.timestamp_ms);
                last = last.max(e.timestamp_ms);
                bytes += e.message.len() as i64;
            }
        }
        tx.execute(
            "INSERT INTO streams (stream, grp, first_ts, last_ts, last_ingest, bytes, count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (stream) DO UPDATE SET
               first_ts = MIN(first_ts, excluded.first_ts), last_ts = MAX(last_ts, excluded.last_ts),
               last_ingest = excluded.last_ingest, bytes = bytes + excluded.bytes, count = count + excluded.count",
            params![stream, group, first, last, ingestion_ms, bytes, events.len() as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn stream_stats(&self, streams: &[i64]) -> Result<HashMap<i64, StreamStats>, StoreError> {
        let conn = self.reader();
        let mut stmt =
            conn.prepare_cached("SELECT first_ts, last_ts, last_ingest, bytes, count FROM streams WHERE stream = ?1")?;
        let mut out = HashMap::new();
        for &s in streams {
            let mut rows = stmt.query(params![s])?;
            if let Some(r) = rows.next()? {
                out.insert(
                    s,
                    StreamStats {
                        first_timestamp_ms: r.get(0)?,
                        last_timestamp_ms: r.get(1)?,
                        last_ingestion_ms: r.get(2)?,
                        stored_bytes: r.get(3)?,
                        count: r.get(4)?,
                    },
                );
            }
        }
        Ok(out)
    }

    fn group_bytes(&self, groups: &[i64]) -> Result<HashMap<i64, i64>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached("SELECT COALESCE(SUM(bytes), 0) FROM streams WHERE grp = ?1")?;
        let mut out = HashMap::new();
        for &g in groups {
            out.insert(g, stmt.query_row(params![g], |r| r.get::<_, i64>(0))?);
        }
        Ok(out)
    }

    fn read_stream(&self, read: &StreamRead) -> Result<Vec<StoredEvent>, StoreError> {
        let conn = self.reader();
        let row = |r: &rusqlite::Row<'_>| {
            Ok(StoredEvent {
                stream: read.stream,
                timestamp_ms: r.get(0)?,
                seq: r.get(1)?,
                ingestion_ms: r.get(2)?,
                message: r.get(3)?,
            })
        };
        let limit = read.limit as i64;
        let mut out = if read.forward {
            let (ts, seq) = read.after.map_or((i64::MIN, i64::MIN), |c| (c.timestamp_ms, c.seq));
            let mut stmt = conn.prepare_cached(
                "SELECT ts, seq, ingest, message FROM events INDEXED BY events_by_stream
                 WHERE stream = ?1 AND ts >= ?2 AND ts < ?3 AND (ts, seq) > (?4, ?5)
                 ORDER BY ts, seq LIMIT ?6",
            )?;
            let rows = stmt.query_map(params![read.stream, read.start_ms, read.end_ms, ts, seq, limit], row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        } else {
            let (ts, seq) = read.before.map_or((i64::MAX, i64::MAX), |c| (c.timestamp_ms, c.seq));
            let mut stmt = conn.prepare_cached(
                "SELECT ts, seq, ingest, message FROM events INDEXED BY events_by_stream
                 WHERE stream = ?1 AND ts >= ?2 AND ts < ?3 AND (ts, seq) < (?4, ?5)
                 ORDER BY ts DESC, seq DESC LIMIT ?6",
            )?;
            let rows = stmt.query_map(params![read.stream, read.start_ms, read.end_ms, ts, seq, limit], row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        if !read.forward {
            out.reverse();
        }
        Ok(out)
    }

    fn scan_group(
        &self,
        scan: &GroupScan,
        visit: &mut dyn FnMut(&EventRef<'_>) -> Visit,
    ) -> Result<ScanEnd, StoreError> {
        let conn = self.reader();
        let (ts, seq) = scan.after.map_or((i64::MIN, i64::MIN), |c| (c.timestamp_ms, c.seq));
        let wanted: Option<std::collections::HashSet<i64>> = scan.streams.as_ref().map(|s| s.iter().copied().collect());
        let mut stmt = conn.prepare_cached(
            "SELECT ts, seq, stream, ingest, message FROM events
             WHERE grp = ?1 AND ts >= ?2 AND ts < ?3 AND (ts, seq) > (?4, ?5)
             ORDER BY ts, seq",
        )?;
        let mut rows = stmt.query(params![scan.group, scan.start_ms, scan.end_ms, ts, seq])?;
        let mut looked = 0usize;
        while let Some(r) = rows.next()? {
            let event = EventRef {
                timestamp_ms: r.get(0)?,
                seq: r.get(1)?,
                stream: r.get(2)?,
                ingestion_ms: r.get(3)?,
                message: r.get_ref(4)?.as_str().map_err(rusqlite::Error::from)?,
            };
            looked += 1;
            let cursor = Cursor {
                timestamp_ms: event.timestamp_ms,
                seq: event.seq,
            };
            if wanted.as_ref().is_none_or(|w| w.contains(&event.stream)) && visit(&event) == Visit::Stop {
                return Ok(ScanEnd::StoppedAt(cursor));
            }
            if looked >= scan.max_rows {
                return Ok(ScanEnd::StoppedAt(cursor));
            }
        }
        Ok(ScanEnd::Done)
    }

    fn expire(&self, group: i64, before_ms: i64, max_rows: usize) -> Result<usize, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let removed = tx.execute(
            "DELETE FROM events WHERE (grp, ts, seq) IN
               (SELECT grp, ts, seq FROM events WHERE grp = ?1 AND ts < ?2 ORDER BY ts, seq LIMIT ?3)",
            params![group, before_ms, max_rows as i64],
        )?;
        if removed > 0 {
            // Stats of this group's streams, recomputed from what is left.
            tx.execute(
                "UPDATE streams SET
                   first_ts = COALESCE((SELECT MIN(ts) FROM events e WHERE e.stream = streams.stream), first_ts),
                   bytes = COALESCE((SELECT SUM(LENGTH(CAST(message AS BLOB))) FROM events e WHERE e.stream = streams.stream), 0),
                   count = (SELECT COUNT(*) FROM events e WHERE e.stream = streams.stream)
                 WHERE grp = ?1",
                params![group],
            )?;
        }
        tx.commit()?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: i64, m: &str) -> NewEvent {
        NewEvent {
            timestamp_ms: ts,
            message: m.into(),
        }
    }

    #[tokio::test]
    async fn appends_read_back_in_order_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open(&dir.path().join("logs.db")).unwrap();
        store
            .append(1, 10, vec![ev(100, "a"), ev(200, "b")], 1000)
            .await
            .unwrap();
        store
            .append(1, 11, vec![ev(150, "c"), ev(200, "d")], 1001)
            .await
            .unwrap();
        let read = StreamRead {
            stream: 10,
            start_ms: i64::MIN,
            end_ms: i64::MAX,
            forward: true,
            after: None,
            before: None,
            limit: 10,
        };
        let got = store.read_stream(read.clone()).await.unwrap();
        assert_eq!(got.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let back = store
            .read_stream(StreamRead {
                forward: false,
                limit: 1,
                ..read.clone()
            })
            .await
            .unwrap();
        assert_eq!(back[0].message, "b");
        let scan = GroupScan {
            group: 1,
            streams: None,
            start_ms: i64::MIN,
            end_ms: i64::MAX,
            after: None,
            max_rows: 100,
        };
        let (order, end) = store
            .scan_group(scan.clone(), Vec::new(), |seen: &mut Vec<String>, e: &EventRef<'_>| {
                seen.push(e.message.to_string());
                Visit::Continue
            })
            .await
            .unwrap();
        assert_eq!(end, ScanEnd::Done);
        assert_eq!(
            order,
            ["a", "c", "b", "d"],
            "time order across streams, arrival order within a timestamp"
        );
        let (only, _) = store
            .scan_group(
                GroupScan {
                    streams: Some(vec![11]),
                    ..scan.clone()
                },
                Vec::new(),
                |seen: &mut Vec<String>, e: &EventRef<'_>| {
                    seen.push(e.message.to_string());
                    Visit::Continue
                },
            )
            .await
            .unwrap();
        assert_eq!(only, ["c", "d"]);
        let (_, end) = store
            .scan_group(GroupScan { max_rows: 1, ..scan }, (), |_: &mut (), _: &EventRef<'_>| {
                Visit::Continue
            })
            .await
            .unwrap();
        assert!(matches!(end, ScanEnd::StoppedAt(Cursor { timestamp_ms: 100, .. })));
        let stats = store.stream_stats(vec![10, 11, 12]).await.unwrap();
        assert_eq!(stats[&10].first_timestamp_ms, 100);
        assert_eq!(stats[&11].last_timestamp_ms, 200);
        assert!(!stats.contains_key(&12));
        assert_eq!(store.expire(1, 160, 100).await.unwrap(), 2);
        let stats = store.stream_stats(vec![10]).await.unwrap();
        assert_eq!((stats[&10].first_timestamp_ms, stats[&10].count), (200, 1));
    }
}

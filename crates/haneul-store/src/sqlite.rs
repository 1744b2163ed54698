//! The SQLite backend: one writer connection, a small pool of readers, WAL journal with
//! `synchronous=FULL` so an acknowledged commit is on disk before the caller hears of it.
//!
//! Writes are group-committed: one writer thread takes the writes waiting for it (up to
//! [`MAX_GROUP`]), runs each in its own savepoint — a failing one is rolled back alone — and
//! commits them with one fsync, under one revision; each caller hears of its write only after
//! that commit.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::watch;

use crate::backend::{Change, ChangeOp, RawTxn, Scope};
use crate::txn::Txn;
use crate::StoreError;

/// Reader connections; WAL lets them read while the writer commits.
const READERS: usize = 4;
/// Change-log entries kept for subscribers that fell behind; older ones are pruned.
const CHANGES_KEPT: u64 = 10_000;
/// Most writes committed together.
const MAX_GROUP: usize = 128;
/// Writes waiting for the writer thread; a caller waits for room beyond this.
const WRITE_QUEUE: usize = 1024;
/// How long a connection waits on a lock held by another process before failing.
const BUSY_TIMEOUT_MS: u64 = 5_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0);
CREATE TABLE IF NOT EXISTS resources (
  account TEXT NOT NULL, region TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (account, region, kind, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS resources_by_kind ON resources (kind);
CREATE TABLE IF NOT EXISTS changes (
  revision INTEGER NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL,
  kind TEXT NOT NULL, id TEXT NOT NULL, op TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_revision ON changes (revision);
";

/// One write for the writer thread: runs the caller's closure in the group's transaction and
/// says whether it succeeded, with what to do once the group's commit is known.
type Job = Box<dyn FnOnce(&mut Txn<'_>) -> (bool, Completion) + Send>;
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

struct Inner {
    writer: Mutex<Connection>,
    jobs: tokio::sync::mpsc::Sender<Job>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    revision: watch::Sender<u64>,
    /// Followers of some kinds only: woken by a commit that touched one of them.
    kind_followers: Mutex<Vec<KindFollower>>,
}

/// A follower of the kinds starting with one of `prefixes`.
struct KindFollower {
    prefixes: Vec<String>,
    revision: watch::Sender<u64>,
}

/// The state store. Cheap to clone; all clones share the connections.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// A WAL connection to `path` with the given `synchronous` level (`FULL`, `NORMAL`).
pub(crate) fn open_connection(path: &Path, synchronous: &str) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Creates the directory a database file goes in.
pub(crate) fn create_parent(path: &Path) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// A poisoned lock only means a closure panicked mid-transaction; SQLite rolled the
/// transaction back when it was dropped, so the connection is still sound.
pub(crate) fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        create_parent(path)?;
        let writer = open_connection(path, "FULL")?;
        writer.execute_batch(SCHEMA)?;
        let revision: u64 = writer.query_row("SELECT value FROM meta WHERE key = 'revision'", [], |r| r.get(0))?;
        let readers = (0..READERS)
            .map(|_| open_connection(path, "FULL").map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        let (tx, _) = watch::channel(revision);
        let (jobs, queue) = tokio::sync::mpsc::channel::<Job>(WRITE_QUEUE);
        let store = Store {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                jobs,
                readers,
                next_reader: AtomicUsize::new(0),
                revision: tx,
                kind_followers: Mutex::new(Vec::new()),
            }),
        };
        // The thread holds the store weakly: it ends when the last clone is dropped (the
        // queue closes with it).
        let weak = Arc::downgrade(&store.inner);
        std::thread::Builder::new()
            .name("haneul-store-writer".into())
            .spawn(move || writer_loop(weak, queue))
            .map_err(|e| StoreError::Worker(format!("cannot start the store's writer thread: {e}")))?;
        Ok(store)
    }

    /// The latest committed revision.
    pub fn revision(&self) -> u64 {
        *self.inner.revision.borrow()
    }

    /// Follows the committed revision; data planes rebuild their snapshot when it moves.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.revision.subscribe()
    }

    /// Follows the revisions of commits that touched a kind starting with one of `prefixes`
    /// (and resets): a data plane is not woken by other services' churn. The value is the
    /// revision of the last such commit.
    pub fn subscribe_kinds(&self, prefixes: &[&str]) -> watch::Receiver<u64> {
        let (tx, rx) = watch::channel(self.revision());
        let mut followers = self.inner.followers();
        followers.retain(|f| !f.revision.is_closed());
        followers.push(KindFollower {
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            revision: tx,
        });
        rx
    }

    /// Runs `f` in one all-or-nothing transaction. `Err` from `f` rolls everything back.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Txn<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |txn: &mut Txn<'_>| match f(txn) {
            Ok(value) => {
                let done: Completion = Box::new(move |committed: Result<(), StoreError>| {
                    let _ = done_tx.send(committed.map(|()| value).map_err(E::from));
                });
                (true, done)
            }
            Err(e) => {
                let done: Completion = Box::new(move |_| {
                    let _ = done_tx.send(Err(e));
                });
                (false, done)
            }
        });
        if self.inner.jobs.send(job).await.is_err() {
            return Err(E::from(StoreError::Worker(
                "the store's writer thread has stopped".into(),
            )));
        }
        match done_rx.await {
            Ok(result) => result,
            // The closure panicked, or its group could not begin: nothing of it is stored.
            Err(_) => Err(E::from(StoreError::Worker(
                "the write failed before it could commit and was rolled back (see the log)".into(),
            ))),
        }
    }

    /// Runs `f` against a consistent read-only view.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Txn<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.read_blocking(f))
            .await
            .map_err(|e| E::from(StoreError::Worker(e.to_string())))?
    }

    /// Changes committed after `revision` (oldest first, at most `limit`). A subscriber
    /// that fell further behind than the kept log rebuilds from a full read instead.
    pub async fn changes_since(&self, revision: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.changes_since(revision, limit))
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    /// Deletes every resource of every account (dev-mode reset) in one transaction.
    pub async fn reset(&self) -> Result<u64, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.reset_blocking())
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?
    }
}

impl Inner {
    fn followers(&self) -> MutexGuard<'_, Vec<KindFollower>> {
        // Every change to the list is one push or retain: a poisoned lock holds a sound list.
        self.kind_followers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes the kind followers a commit of `touched` concerns (all of them when `None`).
    fn notify_kinds(&self, revision: u64, touched: Option<&[(Scope, String, String, ChangeOp)]>) {
        for f in self.followers().iter() {
            let concerned = match touched {
                None => true,
                Some(t) => t
                    .iter()
                    .any(|(_, kind, _, _)| f.prefixes.iter().any(|p| kind.starts_with(p.as_str()))),
            };
            if concerned {
                f.revision.send_replace(revision);
            }
        }
    }

    fn read_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Txn<'_>) -> Result<T, E>,
        E: From<StoreError>,
    {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let mut conn = lock(&self.readers[i]);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(StoreError::from)?;
        let mut raw = SqliteTxn { tx: &tx };
        let txn = Txn::new(&mut raw, false);
        let value = f(&txn)?;
        drop(txn);
        tx.finish().map_err(StoreError::from)?;
        Ok(value)
    }

    fn changes_since(&self, revision: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let conn = lock(&self.readers[i]);
        let mut stmt = conn.prepare_cached(
            "SELECT revision, account, region, kind, id, op FROM changes WHERE revision > ?1 ORDER BY revision LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![revision as i64, limit as i64], |r| {
            let op: String = r.get(5)?;
            Ok(Change {
                revision: r.get::<_, i64>(0)? as u64,
                scope: Scope::new(r.get::<_, String>(1)?, r.get::<_, String>(2)?),
                kind: r.get(3)?,
                id: r.get(4)?,
                op: if op == "delete" {
                    ChangeOp::Delete
                } else {
                    ChangeOp::Put
                },
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn reset_blocking(&self) -> Result<u64, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM resources", [])?;
        tx.execute("DELETE FROM changes", [])?;
        let revision = bump_revision(&tx)?;
        tx.commit()?;
        self.revision.send_replace(revision);
        self.notify_kinds(revision, None);
        Ok(revision)
    }
}

fn bump_revision(tx: &rusqlite::Transaction<'_>) -> Result<u64, rusqlite::Error> {
    tx.execute("UPDATE meta SET value = value + 1 WHERE key = 'revision'", [])?;
    let revision: i64 = tx.query_row("SELECT value FROM meta WHERE key = 'revision'", [], |r| r.get(0))?;
    Ok(revision as u64)
}

/// The writer thread: takes the waiting writes, runs each in a savepoint of one
/// transaction, commits once, then tells every caller.
fn writer_loop(inner: std::sync::Weak<Inner>, mut queue: tokio::sync::mpsc::Receiver<Job>) {
    while let Some(first) = queue.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let Some(inner) = inner.upgrade() else { return };
        inner.run_group(jobs);
    }
}

impl Inner {
    fn run_group(&self, jobs: Vec<Job>) {
        let mut conn = lock(&self.writer);
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                let why = StoreError::from(e).to_string();
                for job in jobs {
                    fail_unrun(job, &why);
                }
                return;
            }
        };
        let mut completions: Vec<Completion> = Vec::with_capacity(jobs.len());
        let mut touched_all = Vec::new();
        for job in jobs {
            if let Err(e) = tx.execute_batch("SAVEPOINT job") {
                fail_unrun(job, &StoreError::from(e).to_string());
                continue;
            }
            let mut raw = SqliteTxn { tx: &tx };
            let mut txn = Txn::new(&mut raw, true);
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut txn)));
            let touched = std::mem::take(&mut txn.touched);
            drop(txn);
            let kept = match ran {
                Ok((true, done)) => {
                    completions.push(done);
                    true
                }
                Ok((false, done)) => {
                    completions.push(done);
                    false
                }
                // A panic drops the caller's channel: it hears of a failed write.
                Err(_) => false,
            };
            let end = if kept {
                "RELEASE job"
            } else {
                "ROLLBACK TO job; RELEASE job"
            };
            match tx.execute_batch(end) {
                Ok(()) if kept => touched_all.extend(touched),
                Ok(()) => {}
                Err(e) => {
                    // The transaction is in an unknown state: give everything up.
                    let why = StoreError::from(e).to_string();
                    drop(tx);
                    for done in completions {
                        done(Err(StoreError::Worker(why.clone())));
                    }
                    return;
                }
            }
        }
        let committed = if touched_all.is_empty() {
            tx.commit().map(|()| None)
        } else {
            record_changes(&tx, &touched_all).and_then(|revision| tx.commit().map(|()| Some(revision)))
        };
        drop(conn);
        match committed {
            Ok(revision) => {
                if let Some(revision) = revision {
                    self.revision.send_replace(revision);
                    self.notify_kinds(revision, Some(&touched_all));
                }
                for done in completions {
                    done(Ok(()));
                }
            }
            Err(e) => {
                let why = StoreError::from(e).to_string();
                for done in completions {
                    done(Err(StoreError::Worker(why.clone())));
                }
            }
        }
    }
}

/// A write that never ran (the group could not begin): its caller hears why.
fn fail_unrun(job: Job, why: &str) {
    // The closure is not run; dropping it drops the caller's channel, which reads as a failed
    // write. The reason goes to the log.
    tracing::warn!(error = %why, "a store write could not begin");
    drop(job);
}

fn record_changes(
    tx: &rusqlite::Transaction<'_>,
    touched: &[(Scope, String, String, ChangeOp)],
) -> Result<u64, rusqlite::Error> {
    let revision = bump_revision(tx)?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO changes (revision, account, region, kind, id, op) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (scope, kind, id, op) in touched {
        let op = match op {
            ChangeOp::Put => "put",
            ChangeOp::Delete => "delete",
        };
        insert.execute(params![revision as i64, scope.account_id, scope.region, kind, id, op])?;
    }
    if revision % 1000 == 0 && revision > CHANGES_KEPT {
        tx.execute(
            "DELETE FROM changes WHERE revision <= ?1",
            params![(revision - CHANGES_KEPT) as i64],
        )?;
    }
    Ok(revision)
}

struct SqliteTxn<'c> {
    tx: &'c rusqlite::Transaction<'c>,
}

impl RawTxn for SqliteTxn<'_> {
    fn get(&self, scope: &Scope, kind: &str, id: &str) -> Result<Option<String>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT body FROM resources WHERE account = ?1 AND region = ?2 AND kind = ?3 AND id = ?4",
        )?;
        Ok(stmt
            .query_row(params![scope.account_id, scope.region, kind, id], |r| r.get(0))
            .optional()?)
    }

    fn put(&mut self, scope: &Scope, kind: &str, id: &str, body: &str) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO resources (account, region, kind, id, body) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (account, region, kind, id) DO UPDATE SET body = excluded.body",
        )?;
        stmt.execute(params![scope.account_id, scope.region, kind, id, body])?;
        Ok(())
    }

    fn delete(&mut self, scope: &Scope, kind: &str, id: &str) -> Result<bool, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached("DELETE FROM resources WHERE account = ?1 AND region = ?2 AND kind = ?3 AND id = ?4")?;
        Ok(stmt.execute(params![scope.account_id, scope.region, kind, id])? > 0)
    }

    fn list(
        &self,
        scope: &Scope,
        kind: &str,
        from_id: &str,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id, body FROM resources WHERE account = ?1 AND region = ?2 AND kind = ?3 AND id >= ?4 ORDER BY id LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            params![scope.account_id, scope.region, kind, from_id, limit as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn list_prefix(
        &self,
        scope: &Scope,
        kind: &str,
        prefix: &str,
        from_id: &str,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        // ids in [max(prefix, from_id), prefix + U+10FFFF): ids that start with `prefix`.
        let upper = format!("{prefix}\u{10FFFF}");
        let lower = if from_id > prefix { from_id } else { prefix };
        let mut stmt = self.tx.prepare_cached(
            "SELECT id, body FROM resources WHERE account = ?1 AND region = ?2 AND kind = ?3 AND id >= ?4 AND id < ?5 ORDER BY id LIMIT ?6",
        )?;
        let rows = stmt.query_map(
            params![scope.account_id, scope.region, kind, lower, upper, limit as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn count_prefix(&self, scope: &Scope, kind: &str, prefix: &str) -> Result<u64, StoreError> {
        let upper = format!("{prefix}\u{10FFFF}");
        let mut stmt = self.tx.prepare_cached(
            "SELECT COUNT(*) FROM resources WHERE account = ?1 AND region = ?2 AND kind = ?3 AND id >= ?4 AND id < ?5",
        )?;
        let count: i64 = stmt.query_row(params![scope.account_id, scope.region, kind, prefix, upper], |r| {
            r.get(0)
        })?;
        Ok(count as u64)
    }

    fn committed_revision(&self) -> Result<u64, StoreError> {
        let revision: i64 = self
            .tx
            .query_row("SELECT value FROM meta WHERE key = 'revision'", [], |r| r.get(0))?;
        Ok(revision as u64)
    }

    fn scan_all_scopes(
        &self,
        kind: &str,
        visit: &mut dyn FnMut(Scope, String, String) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT account, region, id, body FROM resources WHERE kind = ?1 ORDER BY account, region, id",
        )?;
        let mut rows = stmt.query(params![kind])?;
        while let Some(row) = rows.next()? {
            let scope = Scope::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?);
            visit(scope, row.get(2)?, row.get(3)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn failed_transaction_changes_nothing_and_keeps_revision() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let scope = Scope::new("111122223333", "us-east-1");
        let s = scope.clone();
        store.write(move |t| t.put(&s, "thing", "a", &1u32)).await.unwrap();
        assert_eq!(store.revision(), 1);
        let s = scope.clone();
        let failed: Result<(), StoreError> = store
            .write(move |t| {
                t.put(&s, "thing", "b", &2u32)?;
                Err(StoreError::Worker("boom".into()))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(store.revision(), 1);
        let s = scope.clone();
        let all: Vec<(String, u32)> = store.read(move |t| t.list(&s, "thing")).await.unwrap();
        assert_eq!(all, vec![("a".to_string(), 1)]);
        let s = scope.clone();
        store.write(move |t| t.put(&s, "thing", "ab", &3u32)).await.unwrap();
        let s = scope.clone();
        let under_a: Vec<(String, u32)> = store.read(move |t| t.list_prefix(&s, "thing", "a")).await.unwrap();
        assert_eq!(under_a.len(), 2);
        let changes = store.changes_since(0, 10).await.unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].id, "a");
    }

    #[tokio::test]
    async fn kind_followers_wake_only_for_their_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let scope = Scope::new("111122223333", "us-east-1");
        let mut dns = store.subscribe_kinds(&["route53."]);
        let s = scope.clone();
        store.write(move |t| t.put(&s, "ecs.task", "a", &1u32)).await.unwrap();
        assert!(!dns.has_changed().unwrap(), "another service's commit");
        let s = scope.clone();
        store
            .write(move |t| t.put(&s, "route53.rrset", "x", &1u32))
            .await
            .unwrap();
        assert!(dns.has_changed().unwrap());
        assert_eq!(*dns.borrow_and_update(), 2);
        store.reset().await.unwrap();
        assert!(dns.has_changed().unwrap(), "a reset concerns everyone");
    }
}

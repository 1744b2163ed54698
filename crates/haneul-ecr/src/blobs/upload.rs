//! Blob uploads in progress, shared by the registry (`/v2/<name>/blobs/uploads/…`) and the
//! API's InitiateLayerUpload/UploadLayerPart/CompleteLayerUpload.
//!
//! An upload is a file under `blobs/uploads/` and a running SHA-256; bytes stream from the
//! socket through a bounded queue to a blocking writer that hashes and writes them, so a
//! layer is never held in memory whatever its size. Sessions live in memory: after a restart
//! their files are removed and clients start the upload again (BLOB_UPLOAD_UNKNOWN).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use haneul_store::Scope;
use http_body::Body;
use http_body_util::BodyExt;

/// Most uploads open at once (across repositories); more get TOOMANYREQUESTS.
pub const MAX_OPEN_UPLOADS: usize = 4096;
/// An upload untouched this long is dropped and its file removed.
pub const UPLOAD_EXPIRY_S: u64 = 24 * 3600;
/// Chunks queued between the socket reader and the file writer of one upload (each a
/// slice of the connection's read buffer, so this bounds what one upload holds).
const WRITE_QUEUE_CHUNKS: usize = 8;
/// A body that sends nothing for this long fails the request.
pub const BODY_IDLE_TIMEOUT_S: u64 = 60;
/// The largest blob ECR takes (52,000 MiB).
pub const MAX_BLOB_BYTES: u64 = 52_000 * 1024 * 1024;

/// The bytes of one upload so far: its file and the digest over them.
pub struct UploadData {
    file: std::fs::File,
    hasher: ring::digest::Context,
    pub len: u64,
}

impl UploadData {
    pub fn create(path: &std::path::Path) -> std::io::Result<UploadData> {
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
        Ok(UploadData {
            file,
            hasher: ring::digest::Context::new(&ring::digest::SHA256),
            len: 0,
        })
    }

    /// The digest of everything written, and the file synced to disk.
    pub fn finish(self) -> std::io::Result<(String, u64)> {
        self.file.sync_data()?;
        let digest = format!("sha256:{}", hex::encode(self.hasher.finish()));
        Ok((digest, self.len))
    }
}

pub struct UploadSession {
    pub scope: Scope,
    pub repository: String,
    pub path: PathBuf,
    pub data: UploadData,
    touched: Instant,
    /// API uploads: the last part was under the minimum size (only the final part may be).
    pub last_part_small: bool,
}

enum Slot {
    Idle(Box<UploadSession>),
    /// A request is writing to it; `len` is where it started.
    Busy {
        scope: Scope,
        repository: String,
        len: u64,
    },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TakeError {
    #[error("upload unknown")]
    Unknown,
    #[error("another request is writing to this upload")]
    Busy,
    #[error("too many uploads in progress")]
    TooMany,
    /// The upload's file could not be created (a full or read-only disk).
    #[error("cannot create the upload file: {0}")]
    FileCreate(String),
}

#[derive(Default)]
pub struct Uploads {
    slots: Mutex<HashMap<String, Slot>>,
}

/// What a session status lookup says.
pub struct UploadStatus {
    pub len: u64,
}

impl Uploads {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        // A panic while holding this lock leaves a map that is still consistent (every
        // operation is a single insert/remove), so a poisoned lock is taken as is.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts an upload: a new id and its file; the session is handed back busy.
    pub fn begin(
        &self,
        scope: Scope,
        repository: &str,
        path_for: impl Fn(&str) -> PathBuf,
    ) -> Result<(String, Box<UploadSession>), TakeError> {
        let id = uuid::Uuid::new_v4().to_string();
        let path = path_for(&id);
        let data = UploadData::create(&path).map_err(|e| {
            tracing::warn!(error = %e, path = %path.display(), "cannot create upload file");
            TakeError::FileCreate(e.to_string())
        })?;
        let mut slots = self.lock();
        if slots.len() >= MAX_OPEN_UPLOADS {
            drop(slots);
            let _ = std::fs::remove_file(&path);
            return Err(TakeError::TooMany);
        }
        slots.insert(
            id.clone(),
            Slot::Busy {
                scope: scope.clone(),
                repository: repository.to_string(),
                len: 0,
            },
        );
        Ok((
            id,
            Box::new(UploadSession {
                scope,
                repository: repository.to_string(),
                path,
                data,
                touched: Instant::now(),
                last_part_small: false,
            }),
        ))
    }

    /// Takes an idle session of `repository` to write to or finish it.
    pub fn take(&self, id: &str, scope: &Scope, repository: &str) -> Result<Box<UploadSession>, TakeError> {
        let mut slots = self.lock();
        match slots.get(id) {
            Some(Slot::Idle(s)) if s.scope == *scope && s.repository == repository => {}
            Some(Slot::Busy {
                scope: sc,
                repository: r,
                ..
            }) if sc == scope && r == repository => return Err(TakeError::Busy),
            _ => return Err(TakeError::Unknown),
        }
        let len = match slots.get(id) {
            Some(Slot::Idle(s)) => s.data.len,
            _ => 0,
        };
        let busy = Slot::Busy {
            scope: scope.clone(),
            repository: repository.to_string(),
            len,
        };
        match slots.insert(id.to_string(), busy) {
            Some(Slot::Idle(s)) => Ok(s),
            // Checked above under the same lock.
            _ => Err(TakeError::Unknown),
        }
    }

    /// Hands a session back after a request wrote to it.
    pub fn put_back(&self, id: &str, mut session: Box<UploadSession>) {
        session.touched = Instant::now();
        self.lock().insert(id.to_string(), Slot::Idle(session));
    }

    /// Forgets a session whose request took it (finished, failed or cancelled).
    pub fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Cancels an idle session and removes its file.
    pub fn cancel(&self, id: &str, scope: &Scope, repository: &str) -> Result<(), TakeError> {
        let session = self.take(id, scope, repository)?;
        self.forget(id);
        let _ = std::fs::remove_file(&session.path);
        Ok(())
    }

    pub fn status(&self, id: &str, scope: &Scope, repository: &str) -> Option<UploadStatus> {
        match self.lock().get(id)? {
            Slot::Idle(s) if s.scope == *scope && s.repository == repository => Some(UploadStatus { len: s.data.len }),
            Slot::Busy {
                scope: sc,
                repository: r,
                len,
            } if sc == scope && r == repository => Some(UploadStatus { len: *len }),
            _ => None,
        }
    }

    /// Drops idle sessions untouched for [`UPLOAD_EXPIRY_S`]; how many went.
    pub fn expire(&self, expiry: Duration) -> usize {
        let mut slots = self.lock();
        let stale: Vec<String> = slots
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Idle(s) if s.touched.elapsed() > expiry))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &stale {
            if let Some(Slot::Idle(s)) = slots.remove(id) {
                let _ = std::fs::remove_file(&s.path);
            }
        }
        stale.len()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("the request body stalled for {BODY_IDLE_TIMEOUT_S} s")]
    Timeout,
    #[error("the request body broke off: {0}")]
    Body(String),
    #[error("the blob would be larger than {0} bytes")]
    TooLarge(u64),
    #[error("cannot write the upload file: {0}")]
    Write(std::io::Error),
}

/// Streams `body` onto the end of the upload. Whatever arrived before an error is kept and
/// counted in `data.len`, so the client can resume from there — except after a write error,
/// which leaves the upload unusable: the session comes back `None` (its file removed).
pub async fn append<B>(
    session: Box<UploadSession>,
    body: B,
    max_len: u64,
) -> (Option<Box<UploadSession>>, Result<(), AppendError>)
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let room = max_len.saturating_sub(session.data.len);
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(WRITE_QUEUE_CHUNKS);
    let writer = tokio::task::spawn_blocking(move || {
        let mut session = session;
        let written = write_chunks(&mut session.data, rx);
        (session, written)
    });
    let read = read_chunks(body, &tx, room, max_len).await;
    drop(tx);
    match writer.await {
        Ok((session, Ok(()))) => (Some(session), read),
        Ok((session, Err(e))) => {
            let _ = std::fs::remove_file(&session.path);
            (None, Err(AppendError::Write(e)))
        }
        Err(e) => (None, Err(AppendError::Write(std::io::Error::other(e.to_string())))),
    }
}

/// Appends bytes already in memory (an API UploadLayerPart).
pub async fn append_bytes(
    session: Box<UploadSession>,
    bytes: Bytes,
) -> (Option<Box<UploadSession>>, Result<(), AppendError>) {
    append(session, http_body_util::Full::new(bytes), MAX_BLOB_BYTES).await
}

/// The body's next data chunk, `None` at its end; each chunk must come within
/// [`BODY_IDLE_TIMEOUT_S`]. Trailers and other non-data frames are skipped.
pub async fn next_data<B>(body: &mut B) -> Result<Option<Bytes>, AppendError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(BODY_IDLE_TIMEOUT_S), body.frame()).await;
        match frame {
            Err(_) => return Err(AppendError::Timeout),
            Ok(None) => return Ok(None),
            Ok(Some(Err(e))) => return Err(AppendError::Body(e.to_string())),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}

async fn read_chunks<B>(
    mut body: B,
    tx: &tokio::sync::mpsc::Sender<Bytes>,
    room: u64,
    max_len: u64,
) -> Result<(), AppendError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut total = 0u64;
    while let Some(data) = next_data(&mut body).await? {
        total += data.len() as u64;
        if total > room {
            return Err(AppendError::TooLarge(max_len));
        }
        if tx.send(data).await.is_err() {
            // The writer stopped on an error; the caller reports it.
            return Ok(());
        }
    }
    Ok(())
}

/// Hashes and writes chunks as they come. No buffer of its own: socket reads arrive in runs
/// of the connection's read buffer, large enough that a write each costs little.
fn write_chunks(data: &mut UploadData, mut rx: tokio::sync::mpsc::Receiver<Bytes>) -> std::io::Result<()> {
    while let Some(chunk) = rx.blocking_recv() {
        (&data.file).write_all(&chunk)?;
        data.hasher.update(&chunk);
        data.len += chunk.len() as u64;
    }
    Ok(())
}

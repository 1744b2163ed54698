//! The registry's response body: bytes in memory (JSON, manifests) or a blob file read a
//! chunk at a time as the socket takes it.
//!
//! A blob download keeps one read ahead of the socket: while hyper writes chunk N, chunk N+1
//! is read on the blocking pool. The chunk's buffer is allocated (and later freed) on the
//! connection's own thread and only filled by the blocking thread, so the allocator's
//! per-thread heaps do not multiply with concurrent downloads (reading on a blocking thread
//! that allocated its own buffers tripled peak memory under 8-way pulls). At most two chunks
//! per download are in memory.

use std::future::Future;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::task::JoinHandle;

/// Bytes a blob is read from disk in.
const READ_CHUNK_BYTES: usize = 256 * 1024;

type ReadResult = std::io::Result<(Arc<std::fs::File>, Vec<u8>)>;

pub enum RegistryBody {
    Bytes(Option<Bytes>),
    File(FileBody),
}

pub struct FileBody {
    path: PathBuf,
    file: Option<Arc<std::fs::File>>,
    /// Where the next read starts and how much is left to read.
    read_offset: u64,
    read_left: u64,
    /// How much is left to hand to hyper.
    remaining: u64,
    pending: Option<JoinHandle<ReadResult>>,
}

impl RegistryBody {
    pub fn empty() -> RegistryBody {
        RegistryBody::Bytes(None)
    }

    pub fn bytes(b: impl Into<Bytes>) -> RegistryBody {
        let b = b.into();
        RegistryBody::Bytes((!b.is_empty()).then_some(b))
    }

    /// `len` bytes of `path` from `offset`, read as the client takes them.
    pub fn file(path: PathBuf, offset: u64, len: u64) -> RegistryBody {
        RegistryBody::File(FileBody {
            path,
            file: None,
            read_offset: offset,
            read_left: len,
            remaining: len,
            pending: None,
        })
    }
}

impl FileBody {
    /// Starts reading the next chunk on the blocking pool, into a buffer made here.
    fn start_read(&mut self) {
        if self.read_left == 0 || self.pending.is_some() {
            return;
        }
        let want = self.read_left.min(READ_CHUNK_BYTES as u64) as usize;
        let mut buf = vec![0u8; want];
        let (file, path, offset) = (self.file.clone(), self.path.clone(), self.read_offset);
        self.read_offset += want as u64;
        self.read_left -= want as u64;
        self.pending = Some(tokio::task::spawn_blocking(move || {
            let file = match file {
                Some(f) => f,
                None => Arc::new(std::fs::File::open(&path)?),
            };
            file.read_exact_at(&mut buf, offset)?;
            Ok((file, buf))
        }));
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Bytes>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        self.start_read();
        let Some(pending) = self.pending.as_mut() else {
            return Poll::Ready(None);
        };
        let done = match Pin::new(pending).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(done) => done,
        };
        self.pending = None;
        match done {
            Ok(Ok((file, buf))) => {
                self.file = Some(file);
                self.remaining -= buf.len() as u64;
                self.start_read();
                Poll::Ready(Some(Ok(Bytes::from(buf))))
            }
            Ok(Err(e)) => {
                self.remaining = 0;
                Poll::Ready(Some(Err(e)))
            }
            Err(e) => {
                self.remaining = 0;
                Poll::Ready(Some(Err(std::io::Error::other(e.to_string()))))
            }
        }
    }
}

impl Drop for FileBody {
    fn drop(&mut self) {
        if let Some(p) = self.pending.take() {
            p.abort();
        }
    }
}

impl http_body::Body for RegistryBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            RegistryBody::Bytes(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            RegistryBody::File(f) => f.poll_chunk(cx).map(|c| c.map(|c| c.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RegistryBody::Bytes(b) => b.is_none(),
            RegistryBody::File(f) => f.remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RegistryBody::Bytes(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            RegistryBody::File(f) => SizeHint::with_exact(f.remaining),
        }
    }
}

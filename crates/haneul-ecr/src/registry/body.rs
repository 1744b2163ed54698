//! The registry's response body: bytes in memory (JSON, manifests) or a blob file read a
//! chunk at a time as the socket takes it.
//!
//! Blob chunks are read on the connection's own thread, as nginx reads files without its
//! thread pool: blobs were just written or are hot, so a read is a copy from the page cache,
//! and the buffer is allocated, written and freed on one thread. (Reading on a blocking
//! thread per download made each of dozens of concurrent pulls keep its own allocator heap:
//! 3x the memory for nothing.) One chunk per download is in memory at a time.

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// Bytes a blob is read from disk in.
const READ_CHUNK_BYTES: usize = 256 * 1024;

pub enum RegistryBody {
    Bytes(Option<Bytes>),
    File {
        file: Option<std::fs::File>,
        path: PathBuf,
        offset: u64,
        remaining: u64,
    },
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
        RegistryBody::File {
            file: None,
            path,
            offset,
            remaining: len,
        }
    }
}

/// The next chunk of a file body.
fn read_chunk(
    file: &mut Option<std::fs::File>,
    path: &std::path::Path,
    offset: u64,
    remaining: u64,
) -> std::io::Result<Bytes> {
    let f = match file {
        Some(f) => f,
        None => file.insert(std::fs::File::open(path)?),
    };
    let want = remaining.min(READ_CHUNK_BYTES as u64) as usize;
    let mut buf = vec![0u8; want];
    f.read_exact_at(&mut buf, offset)?;
    Ok(Bytes::from(buf))
}

impl http_body::Body for RegistryBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            RegistryBody::Bytes(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            RegistryBody::File {
                file,
                path,
                offset,
                remaining,
            } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                match read_chunk(file, path, *offset, *remaining) {
                    Ok(chunk) => {
                        *offset += chunk.len() as u64;
                        *remaining -= chunk.len() as u64;
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                    Err(e) => {
                        *remaining = 0;
                        Poll::Ready(Some(Err(e)))
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RegistryBody::Bytes(b) => b.is_none(),
            RegistryBody::File { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RegistryBody::Bytes(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            RegistryBody::File { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}

//! The registry's response body: bytes in memory (JSON, manifests) or a blob file streamed
//! from disk by a blocking reader through a bounded queue.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// Bytes a blob is read from disk in.
const READ_CHUNK_BYTES: usize = 512 * 1024;
/// Chunks read ahead of the socket per response.
const READ_AHEAD_CHUNKS: usize = 4;

pub enum RegistryBody {
    Bytes(Option<Bytes>),
    File {
        rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
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
        let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD_CHUNKS);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = stream_file(&path, offset, len, &tx) {
                let _ = tx.blocking_send(Err(e));
            }
        });
        RegistryBody::File { rx, remaining: len }
    }
}

fn stream_file(
    path: &std::path::Path,
    offset: u64,
    len: u64,
    tx: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut left = len;
    while left > 0 {
        let want = left.min(READ_CHUNK_BYTES as u64) as usize;
        let mut buf = vec![0u8; want];
        file.read_exact(&mut buf)?;
        left -= want as u64;
        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
            return Ok(()); // the client went away
        }
    }
    Ok(())
}

impl http_body::Body for RegistryBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            RegistryBody::Bytes(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            RegistryBody::File { rx, remaining } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                match rx.poll_recv(cx) {
                    Poll::Ready(Some(Ok(chunk))) => {
                        *remaining = remaining.saturating_sub(chunk.len() as u64);
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "blob file ended early",
                    )))),
                    Poll::Pending => Poll::Pending,
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

//! Blobs on disk, content-addressed: `blobs/sha256/ab/abcd…` under the data dir. A blob is
//! written to `blobs/uploads/<id>` while its digest is computed ([`upload`]) and renamed into
//! place only when the digest matches, so a file under `sha256/` is always whole and right.

pub mod gc;
pub mod upload;

use std::io;
use std::path::{Path, PathBuf};

use crate::names::valid_digest;

#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// The store under `data_dir/blobs`; upload files left by an earlier run are removed
    /// (their sessions lived in that run's memory).
    pub fn open(data_dir: &Path) -> io::Result<BlobStore> {
        let root = data_dir.join("blobs");
        std::fs::create_dir_all(root.join("sha256"))?;
        let uploads = root.join("uploads");
        if uploads.exists() {
            std::fs::remove_dir_all(&uploads)?;
        }
        std::fs::create_dir_all(&uploads)?;
        Ok(BlobStore { root })
    }

    /// Where a blob lives. Only digests that passed [`valid_digest`] become paths.
    pub fn path(&self, digest: &str) -> Option<PathBuf> {
        if !valid_digest(digest) {
            return None;
        }
        let hex = &digest["sha256:".len()..];
        Some(self.root.join("sha256").join(&hex[..2]).join(hex))
    }

    pub fn upload_path(&self, upload_id: &str) -> PathBuf {
        self.root.join("uploads").join(upload_id)
    }

    /// The blob's size, if it is on disk.
    pub fn size(&self, digest: &str) -> Option<u64> {
        let path = self.path(digest)?;
        std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.len())
    }

    /// Moves a finished upload file into place as `digest` (already verified by the caller).
    /// If the blob is already there (the same bytes, by its digest) the upload is dropped.
    pub fn commit(&self, upload_file: &Path, digest: &str) -> io::Result<()> {
        let Some(path) = self.path(digest) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a sha256 digest"));
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        if path.exists() {
            return std::fs::remove_file(upload_file);
        }
        std::fs::rename(upload_file, &path)
    }

    /// Removes a blob's file (garbage collection); false when it was not there.
    pub fn remove(&self, digest: &str) -> io::Result<bool> {
        let Some(path) = self.path(digest) else {
            return Ok(false);
        };
        match std::fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every blob on disk with its modification time (for garbage collection).
    pub fn list(&self) -> io::Result<Vec<(String, std::time::SystemTime)>> {
        let mut out = Vec::new();
        for dir in std::fs::read_dir(self.root.join("sha256"))? {
            let dir = dir?;
            if !dir.file_type()?.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(dir.path())? {
                let file = file?;
                let name = file.file_name().to_string_lossy().into_owned();
                let digest = format!("sha256:{name}");
                if valid_digest(&digest) {
                    out.push((digest, file.metadata()?.modified()?));
                }
            }
        }
        Ok(out)
    }
}

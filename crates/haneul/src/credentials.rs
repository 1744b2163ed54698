//! The account's root access key: created on the first non-dev start, kept in the data dir
//! with 0600 permissions, and used to verify every request's SigV4 signature.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use haneul_wire::{CredentialLookup, Principal};
use rand::Rng;
use serde::{Deserialize, Serialize};

pub const CREDENTIALS_FILE: &str = "credentials.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a credentials file: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
}

fn random_chars(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

impl RootKey {
    /// A new key in AWS's formats: `AKIA` + 16 of [A-Z2-7], a 40-character secret.
    pub fn generate(account_id: &str) -> RootKey {
        RootKey {
            access_key_id: format!("AKIA{}", random_chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
            secret_access_key: random_chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40),
            account_id: account_id.to_string(),
        }
    }

    pub fn load(data_dir: &Path) -> Result<Option<RootKey>, CredentialsError> {
        let path = data_dir.join(CREDENTIALS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CredentialsError::Read { path, source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| CredentialsError::Parse { path, source })
    }

    /// Writes the key readable by its owner only; never replaces an existing file.
    pub fn save_new(&self, data_dir: &Path) -> Result<(), CredentialsError> {
        let path = data_dir.join(CREDENTIALS_FILE);
        let write_err = |source| CredentialsError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(write_err)?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(write_err)?;
        let body = serde_json::to_string_pretty(self).map_err(|e| write_err(std::io::Error::other(e)))?;
        file.write_all(body.as_bytes()).map_err(write_err)?;
        file.sync_all().map_err(write_err)
    }

    pub fn principal(&self) -> Principal {
        Principal {
            secret_access_key: self.secret_access_key.clone(),
            account_id: self.account_id.clone(),
            arn: format!("arn:aws:iam::{}:root", self.account_id),
            user_id: self.account_id.clone(),
        }
    }
}

/// The keys verified mode accepts (today: the root key).
pub struct KeyRing {
    keys: Vec<RootKey>,
}

impl KeyRing {
    pub fn new(keys: Vec<RootKey>) -> KeyRing {
        KeyRing { keys }
    }
}

impl CredentialLookup for KeyRing {
    fn lookup(&self, access_key_id: &str) -> Option<Principal> {
        self.keys
            .iter()
            .find(|k| k.access_key_id == access_key_id)
            .map(RootKey::principal)
    }
}

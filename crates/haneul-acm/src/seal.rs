//! Issued certificates' private keys are kept in the database sealed (AES-256-GCM) with a key
//! that lives only in the data dir (`ca/seal.key`, 0600).

use std::path::Path;

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot use the sealing key {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the sealing key is damaged")]
    BadKey,
    #[error("a sealed value does not open with this data dir's key")]
    Open,
}

pub struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl Sealer {
    /// The data dir's sealing key, made on first use.
    pub fn open_or_create(data_dir: &Path) -> Result<Sealer, SealError> {
        let path = data_dir.join("ca").join("seal.key");
        let io = |source| SealError::Io {
            path: path.display().to_string(),
            source,
        };
        let rng = SystemRandom::new();
        if !path.exists() {
            let mut bytes = [0u8; 32];
            rng.fill(&mut bytes).map_err(|_| SealError::BadKey)?;
            haneul_store::secret_file::write_new(&path, &bytes).map_err(io)?;
        }
        let bytes = std::fs::read(&path).map_err(io)?;
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| SealError::BadKey)?;
        Ok(Sealer {
            key: LessSafeKey::new(unbound),
            rng,
        })
    }

    /// `base64(nonce ‖ ciphertext ‖ tag)`.
    pub fn seal(&self, plain: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SealError::BadKey)?;
        let mut data = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .map_err(|_| SealError::BadKey)?;
        let mut out = nonce.to_vec();
        out.extend(data);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| SealError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut data)
            .map_err(|_| SealError::Open)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Open)
    }
}

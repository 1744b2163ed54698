//! # haneul-store: durable state, transactions, revisions and the change feed
//!
//! Every resource lives under a [`Scope`] (account + region; region `""` for global services)
//! as `(kind, id) → JSON`. A write is one all-or-nothing transaction; a transaction that
//! changed anything commits with the next revision number and records what it touched in
//! the change log. Data planes [`Store::subscribe`] to the revision and rebuild their
//! snapshots from a read when it moves.
//!
//! Layout: [`backend`] is the seam a PostgreSQL backend will fill (`RawTxn`), [`sqlite`] the
//! default backend (WAL, `synchronous=FULL`: an acknowledged write survives SIGKILL and power
//! loss), [`txn`] the typed transaction API services use, [`events`] the append-only log
//! event store (its own file, so log traffic never touches the resource revision).
//!
//! **Architecture invariant:** no SQL leaves this crate; services and data planes see only
//! [`Txn`] and [`Change`].

pub mod backend;
pub mod events;
pub mod secret_file;
pub mod sqlite;
pub mod txn;

pub use backend::{Change, ChangeOp, Scope};
pub use events::EventStore;
pub use sqlite::Store;
pub use txn::Txn;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("stored record does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("store worker failed: {0}")]
    Worker(String),
    #[error("cannot prepare data dir {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

//! The backend seam: the raw operations a transaction needs. SQLite implements it today;
//! a PostgreSQL backend implements the same trait for scale-out.

use serde::{Deserialize, Serialize};

use crate::StoreError;

/// Whose resource: an account in a region. Global services (Route 53) use region `""`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    pub account_id: String,
    pub region: String,
}

impl Scope {
    pub fn new(account_id: impl Into<String>, region: impl Into<String>) -> Scope {
        Scope {
            account_id: account_id.into(),
            region: region.into(),
        }
    }

    /// The account's global scope (region `""`).
    pub fn global(account_id: impl Into<String>) -> Scope {
        Scope::new(account_id, "")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeOp {
    Put,
    Delete,
}

/// One entry of the change feed: what a committed revision touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub revision: u64,
    pub scope: Scope,
    pub kind: String,
    pub id: String,
    pub op: ChangeOp,
}

/// Raw, untyped access inside one open transaction.
pub trait RawTxn {
    fn get(&self, scope: &Scope, kind: &str, id: &str) -> Result<Option<String>, StoreError>;
    fn put(&mut self, scope: &Scope, kind: &str, id: &str, body: &str) -> Result<(), StoreError>;
    fn delete(&mut self, scope: &Scope, kind: &str, id: &str) -> Result<bool, StoreError>;
    /// All `(id, body)` of a kind in a scope, ordered by id, ids ≥ `from_id`, at most `limit`.
    fn list(&self, scope: &Scope, kind: &str, from_id: &str, limit: usize)
        -> Result<Vec<(String, String)>, StoreError>;
    /// `(id, body)` of a kind in a scope whose id starts with `prefix` and is ≥ `from_id`,
    /// ordered by id, at most `limit`.
    fn list_prefix(
        &self,
        scope: &Scope,
        kind: &str,
        prefix: &str,
        from_id: &str,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// How many records of a kind in a scope have an id starting with `prefix`.
    fn count_prefix(&self, scope: &Scope, kind: &str, prefix: &str) -> Result<u64, StoreError>;
    /// The last committed revision, as this transaction sees it.
    fn committed_revision(&self) -> Result<u64, StoreError>;
    /// Every record of a kind across every scope (for data planes that serve all accounts),
    /// streamed to `visit` in (account, region, id) order without being collected first.
    fn scan_all_scopes(
        &self,
        kind: &str,
        visit: &mut dyn FnMut(Scope, String, String) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

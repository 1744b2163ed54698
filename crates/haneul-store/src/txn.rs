//! The typed transaction services write through: serde records keyed by (scope, kind, id).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backend::{ChangeOp, RawTxn, Scope};
use crate::StoreError;

/// Most records one `list` returns; callers page past it with `list_from`.
pub const MAX_LIST: usize = 100_000;

/// One open transaction. Dropped without commit (an `Err` from the closure) → rolled back.
pub struct Txn<'a> {
    raw: &'a mut dyn RawTxn,
    pub(crate) touched: Vec<(Scope, String, String, ChangeOp)>,
    writable: bool,
}

impl<'a> Txn<'a> {
    pub(crate) fn new(raw: &'a mut dyn RawTxn, writable: bool) -> Txn<'a> {
        Txn {
            raw,
            touched: Vec::new(),
            writable,
        }
    }

    pub fn get<T: DeserializeOwned>(&self, scope: &Scope, kind: &str, id: &str) -> Result<Option<T>, StoreError> {
        match self.raw.get(scope, kind, id)? {
            Some(body) => Ok(Some(serde_json::from_str(&body)?)),
            None => Ok(None),
        }
    }

    pub fn exists(&self, scope: &Scope, kind: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self.raw.get(scope, kind, id)?.is_some())
    }

    pub fn put<T: Serialize>(&mut self, scope: &Scope, kind: &str, id: &str, value: &T) -> Result<(), StoreError> {
        self.assert_writable();
        let body = serde_json::to_string(value)?;
        self.raw.put(scope, kind, id, &body)?;
        self.touched
            .push((scope.clone(), kind.to_string(), id.to_string(), ChangeOp::Put));
        Ok(())
    }

    /// Deletes a record; false when there was none.
    pub fn delete(&mut self, scope: &Scope, kind: &str, id: &str) -> Result<bool, StoreError> {
        self.assert_writable();
        let existed = self.raw.delete(scope, kind, id)?;
        if existed {
            self.touched
                .push((scope.clone(), kind.to_string(), id.to_string(), ChangeOp::Delete));
        }
        Ok(existed)
    }

    /// Every record of a kind in a scope, ordered by id.
    pub fn list<T: DeserializeOwned>(&self, scope: &Scope, kind: &str) -> Result<Vec<(String, T)>, StoreError> {
        self.list_from(scope, kind, "", MAX_LIST)
    }

    /// Records with id ≥ `from_id`, ordered by id, at most `limit`.
    pub fn list_from<T: DeserializeOwned>(
        &self,
        scope: &Scope,
        kind: &str,
        from_id: &str,
        limit: usize,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let rows = self.raw.list(scope, kind, from_id, limit.min(MAX_LIST))?;
        rows.into_iter()
            .map(|(id, body)| Ok((id, serde_json::from_str(&body)?)))
            .collect()
    }

    /// The revision this write transaction will commit as, if it changes anything. Exact,
    /// because write transactions run one at a time.
    pub fn commit_revision(&self) -> Result<u64, StoreError> {
        self.assert_writable();
        Ok(self.raw.committed_revision()? + 1)
    }

    /// The last committed revision as this transaction sees it (what a read reflects).
    pub fn seen_revision(&self) -> Result<u64, StoreError> {
        self.raw.committed_revision()
    }

    /// Records whose id starts with `prefix`, ordered by id (at most [`MAX_LIST`]).
    pub fn list_prefix<T: DeserializeOwned>(
        &self,
        scope: &Scope,
        kind: &str,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        self.list_prefix_from(scope, kind, prefix, "", MAX_LIST)
    }

    /// Records whose id starts with `prefix` and is ≥ `from_id`, ordered by id, at most
    /// `limit` (one page of a large listing).
    pub fn list_prefix_from<T: DeserializeOwned>(
        &self,
        scope: &Scope,
        kind: &str,
        prefix: &str,
        from_id: &str,
        limit: usize,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let rows = self
            .raw
            .list_prefix(scope, kind, prefix, from_id, limit.min(MAX_LIST))?;
        rows.into_iter()
            .map(|(id, body)| Ok((id, serde_json::from_str(&body)?)))
            .collect()
    }

    /// How many records have an id starting with `prefix`.
    pub fn count_prefix(&self, scope: &Scope, kind: &str, prefix: &str) -> Result<u64, StoreError> {
        self.raw.count_prefix(scope, kind, prefix)
    }

    /// A kind across every account and region, however many there are.
    pub fn list_all_scopes<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<(Scope, String, T)>, StoreError> {
        let mut out = Vec::new();
        self.for_each_all_scopes(kind, |scope, id, value: T| {
            out.push((scope, id, value));
            Ok(())
        })?;
        Ok(out)
    }

    /// Streams a kind across every account and region to `visit`, one record at a time.
    pub fn for_each_all_scopes<T: DeserializeOwned>(
        &self,
        kind: &str,
        mut visit: impl FnMut(Scope, String, T) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.raw.scan_all_scopes(kind, &mut |scope, id, body| {
            let value = serde_json::from_str(&body)?;
            visit(scope, id, value)
        })
    }

    fn assert_writable(&self) {
        // Programmer error: `Store::read` hands out read-only transactions.
        assert!(self.writable, "write inside a read transaction");
    }
}

//! GetChange, and the change records every write operation leaves: PENDING until the DNS
//! server serves the revision that holds the change, then INSYNC.

use std::sync::atomic::{AtomicU64, Ordering};

use haneul_store::{Scope, Store, Txn};
use haneul_wire::value::now_epoch_s;
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::error::Route53Error;
use crate::generated as api_types;
use crate::model::*;
use crate::{ids, parse, scope};

/// Records a change inside the transaction that makes it.
pub fn record_change(txn: &mut Txn<'_>, scope: &Scope, comment: Option<String>) -> Result<ChangeRecord, Route53Error> {
    let change = ChangeRecord {
        id: ids::new_id('C'),
        submitted_at: now_epoch_s(),
        comment,
        revision: txn.commit_revision()?,
    };
    txn.put(scope, KIND_CHANGE, &change.id, &change)?;
    Ok(change)
}

pub fn change_info(change: &ChangeRecord, status: &str) -> Value {
    json!({
        "Id": format!("/change/{}", change.id),
        "Status": status,
        "SubmittedAt": change.submitted_at,
        "Comment": change.comment,
    })
}

pub async fn get_change(
    store: &Store,
    served_revision: &AtomicU64,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Route53Error> {
    let input: api_types::GetChangeRequest = parse(input)?;
    let id = ids::strip_prefix(&input.id, "change").to_string();
    let scope = scope(ctx);
    let change = store
        .read(move |t| {
            t.get::<ChangeRecord>(&scope, KIND_CHANGE, &id)?
                .ok_or(Route53Error::NoSuchChange)
        })
        .await?;
    let status = if served_revision.load(Ordering::Acquire) >= change.revision {
        "INSYNC"
    } else {
        "PENDING"
    };
    Ok(json!({ "ChangeInfo": change_info(&change, status) }))
}

//! The retention pass: every [`RETENTION_INTERVAL_S`] (configurable), each group with a
//! retention policy loses the events older than it, at most [`MAX_EXPIRED_PER_GROUP`] per
//! group per pass so one huge group cannot hold the event store's writer for long.

use std::sync::Arc;
use std::time::Duration;

use haneul_store::{Scope, StoreError};

use crate::model::{now_ms, LogGroup, KIND_GROUP};
use crate::Logs;

pub const RETENTION_INTERVAL_S: u64 = 60;
/// Events one pass removes from one group at most.
pub const MAX_EXPIRED_PER_GROUP: usize = 100_000;

/// Runs [`apply_all`] on the configured interval until the task is aborted.
pub async fn run(logs: Arc<Logs>) {
    let every_s = logs.config.retention_interval_s.max(1);
    let mut tick = tokio::time::interval(Duration::from_secs(every_s));
    loop {
        tick.tick().await;
        match apply_all(&logs).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "log events past retention removed"),
            Err(e) => tracing::warn!(error = %e, "log retention pass failed"),
        }
    }
}

/// One pass over every group with a retention policy; how many events went.
pub async fn apply_all(logs: &Logs) -> Result<usize, StoreError> {
    let groups: Vec<(Scope, String, LogGroup)> = logs.store.read(|t| t.list_all_scopes(KIND_GROUP)).await?;
    let now = now_ms();
    let mut removed = 0;
    for (_, _, group) in groups {
        let Some(days) = group.retention_days else { continue };
        let cutoff = now - logs.retention_ms(days);
        removed += logs.events.expire(group.key, cutoff, MAX_EXPIRED_PER_GROUP).await?;
    }
    Ok(removed)
}

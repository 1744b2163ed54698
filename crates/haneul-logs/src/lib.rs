//! # haneul-logs: CloudWatch Logs
//!
//! The log store that containers (ECS's awslogs) and Route 53 query logging write to, with
//! CloudWatch Logs' API (json 1.1).
//!
//! # Layout
//! - [`api`]: the operations, one module per resource family (groups, streams, events,
//!   metric and subscription filters, tags, Logs Insights queries).
//! - [`pattern`]: filter pattern syntax (terms, JSON, space-delimited), parsed once, matched
//!   per event.
//! - [`insights`]: the Logs Insights query subset StartQuery runs.
//! - [`retention`]: the background pass that removes events past their group's retention.
//! - [`model`]: groups, streams and filters as the resource store keeps them.
//!
//! **Architecture invariant:** groups, streams and filters live in the resource store (so
//! reset, diagrams and stacks see them); events live only in the event store
//! ([`haneul_store::EventStore`]), filed under the numeric keys of their group and stream.
//! Appending events never writes the resource store, so log traffic never moves the
//! revision the DNS and proxy data planes follow.

pub mod api;
pub mod error;
/// Typed input/output structs, generated from the model (see `codegen.txt`).
#[rustfmt::skip]
pub mod generated;
pub mod insights;
pub mod model;
pub mod names;
pub mod pattern;
pub mod retention;

use std::path::Path;
use std::sync::Arc;

use haneul_store::{EventStore, Scope, Store, StoreError};
use haneul_wire::{AwsError, BoxFuture, RequestContext, Service};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::LogsError;

/// The botocore model this crate serves.
pub const MODEL: &str = include_str!("../../../models/logs.json");
/// The event store's file under the data dir.
pub const EVENTS_FILE: &str = "logs.db";

/// How Logs is set up.
#[derive(Debug, Clone, Copy)]
pub struct LogsConfig {
    /// How long one day of a retention policy lasts, in seconds (86,400; tests shorten it).
    pub retention_day_s: u64,
    /// How often the retention pass runs, in seconds.
    pub retention_interval_s: u64,
}

impl Default for LogsConfig {
    fn default() -> LogsConfig {
        LogsConfig {
            retention_day_s: 86_400,
            retention_interval_s: retention::RETENTION_INTERVAL_S,
        }
    }
}

pub struct Logs {
    pub store: Store,
    pub events: EventStore,
    pub config: LogsConfig,
    pub queries: Arc<insights::Queries>,
}

impl Logs {
    pub fn open(store: Store, data_dir: &Path, config: LogsConfig) -> Result<Logs, StoreError> {
        Ok(Logs {
            store,
            events: EventStore::open(&data_dir.join(EVENTS_FILE))?,
            config,
            queries: Arc::new(insights::Queries::default()),
        })
    }

    /// A retention policy of `days`, in milliseconds (as this instance's clock counts days).
    pub fn retention_ms(&self, days: i64) -> i64 {
        days.saturating_mul(self.config.retention_day_s as i64)
            .saturating_mul(1000)
    }

    /// Removes every event (dev-mode reset; the resource store is reset on its own).
    pub async fn reset(&self) -> Result<(), StoreError> {
        self.queries.clear();
        self.events.reset().await
    }

    /// Whether `group` exists; with `create`, makes it first (ECS's `awslogs-create-group`).
    pub async fn ensure_group(&self, scope: &Scope, group: &str, create: bool) -> Result<bool, LogsError> {
        let (s, g) = (scope.clone(), group.to_string());
        if !create {
            return Ok(self.store.read(move |t| t.exists(&s, model::KIND_GROUP, &g)).await?);
        }
        crate::names::check_group_name(group)?;
        self.store
            .write(move |t| {
                if !t.exists(&s, model::KIND_GROUP, &g)? {
                    let record = model::LogGroup {
                        name: g.clone(),
                        key: model::new_key(),
                        created_ms: model::now_ms(),
                        retention_days: None,
                        class: "STANDARD".into(),
                        kms_key: None,
                        deletion_protection: false,
                        tags: Default::default(),
                    };
                    t.put(&s, model::KIND_GROUP, &g, &record)?;
                }
                Ok::<_, LogsError>(true)
            })
            .await
    }

    /// Appends events a service writes itself (Route 53 query logs) to `stream` of `group`,
    /// creating the stream on first use. The group must exist.
    pub async fn ingest(
        &self,
        scope: &Scope,
        group: &str,
        stream: &str,
        events: Vec<haneul_store::events::NewEvent>,
    ) -> Result<(), LogsError> {
        let (s, g, st) = (scope.clone(), group.to_string(), stream.to_string());
        let found = self
            .store
            .read(move |t| {
                let group = api::load_group(t, &s, &g)?;
                let stream = t.get::<model::LogStream>(&s, model::KIND_STREAM, &model::child_id(&g, &st))?;
                Ok::<_, LogsError>((group, stream))
            })
            .await?;
        let (group_record, stream_record) = match found {
            (g, Some(s)) => (g, s),
            (g, None) => {
                let (s, gname, st) = (scope.clone(), group.to_string(), stream.to_string());
                let created = self
                    .store
                    .write(move |t| {
                        // The group may have gone since the read: never file a stream under none.
                        api::load_group(t, &s, &gname)?;
                        let id = model::child_id(&gname, &st);
                        // Another writer may have made it meanwhile: keep the one there.
                        if let Some(existing) = t.get::<model::LogStream>(&s, model::KIND_STREAM, &id)? {
                            return Ok::<_, LogsError>(existing);
                        }
                        let stream = model::LogStream {
                            name: st,
                            key: model::new_key(),
                            created_ms: model::now_ms(),
                        };
                        t.put(&s, model::KIND_STREAM, &id, &stream)?;
                        Ok(stream)
                    })
                    .await?;
                (g, created)
            }
        };
        self.events
            .append(group_record.key, stream_record.key, events, model::now_ms())
            .await?;
        Ok(())
    }

    /// Removes the events of a deleted group or stream in the background (its key already
    /// names nothing, so they are unreachable meanwhile).
    pub(crate) fn forget_events(&self, group: Option<i64>, streams: Vec<i64>) {
        let events = self.events.clone();
        tokio::spawn(async move {
            let done = match group {
                Some(g) => events.delete_group(g).await,
                None => {
                    let mut r = Ok(());
                    for s in streams {
                        r = r.and(events.delete_stream(s).await);
                    }
                    r
                }
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, "cannot remove deleted log events");
            }
        });
    }
}

/// CloudWatch Logs is regional.
pub fn scope(ctx: &RequestContext) -> Scope {
    Scope::new(ctx.account_id.clone(), ctx.region.clone())
}

pub(crate) fn parse<T: DeserializeOwned>(input: Value) -> Result<T, LogsError> {
    serde_json::from_value(input).map_err(|e| LogsError::InvalidParameter(format!("Invalid request: {e}")))
}

/// Serves CloudWatch Logs' API.
pub struct LogsService(pub Arc<Logs>);

impl Service for LogsService {
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>> {
        Box::pin(async move { api::call(&self.0, ctx, operation, input).await.map_err(AwsError::from) })
    }
}

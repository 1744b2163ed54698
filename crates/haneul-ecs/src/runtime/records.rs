//! Where a host's task drivers read and write: [`TaskRecords`] (the tasks) and
//! [`LogWriter`] (awslogs output). haneul's own host uses the store and the Logs service
//! directly ([`StoreRecords`], [`Logs`]); an agent on another host goes through the ECS and
//! CloudWatch Logs APIs (`crate::agent`).

use haneul_logs::Logs;
use haneul_store::events::NewEvent;
use haneul_store::{Scope, Store, StoreError};
use haneul_wire::BoxFuture;

use crate::model::{Task, KIND_TASK};

/// A change a driver makes to its task (read, changed, written back as one step).
pub type TaskChange = Box<dyn FnOnce(&mut Task) + Send + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server an agent reports to refused or could not be reached.
    #[error("{0}")]
    Remote(String),
}

pub trait TaskRecords: Send + Sync + 'static {
    fn load<'a>(&'a self, scope: &'a Scope, key: &'a str) -> BoxFuture<'a, Result<Option<Task>, RecordsError>>;
    /// Applies `change` to the task as it is now (None: there is no such task any more).
    fn update<'a>(
        &'a self,
        scope: &'a Scope,
        key: &'a str,
        change: TaskChange,
    ) -> BoxFuture<'a, Result<Option<Task>, RecordsError>>;
}

/// The tasks in haneul's own store: each update is one write that reads the record inside
/// it, so a StopTask meanwhile is never lost.
pub struct StoreRecords(pub Store);

impl TaskRecords for StoreRecords {
    fn load<'a>(&'a self, scope: &'a Scope, key: &'a str) -> BoxFuture<'a, Result<Option<Task>, RecordsError>> {
        let (scope, key) = (scope.clone(), key.to_string());
        Box::pin(async move { Ok(self.0.read(move |t| t.get::<Task>(&scope, KIND_TASK, &key)).await?) })
    }

    fn update<'a>(
        &'a self,
        scope: &'a Scope,
        key: &'a str,
        change: TaskChange,
    ) -> BoxFuture<'a, Result<Option<Task>, RecordsError>> {
        let (scope, key) = (scope.clone(), key.to_string());
        Box::pin(async move {
            let task = self
                .0
                .write(move |t| {
                    let Some(mut task) = t.get::<Task>(&scope, KIND_TASK, &key)? else {
                        return Ok(None);
                    };
                    change(&mut task);
                    task.version += 1;
                    if task.is_stopped() {
                        if let Some(n) = &task.network {
                            super::addresses::release(t, &n.private_ip, &task.arn)?;
                        }
                    }
                    crate::scheduler::usage::put_task(t, &scope, &mut task)?;
                    Ok::<_, StoreError>(Some(task))
                })
                .await?;
            Ok(task)
        })
    }
}

/// Where awslogs containers' lines go.
pub trait LogWriter: Send + Sync + 'static {
    /// Whether the group exists (made first when `create`).
    fn ensure_group<'a>(
        &'a self,
        scope: &'a Scope,
        group: &'a str,
        create: bool,
    ) -> BoxFuture<'a, Result<bool, String>>;
    /// Appends `events` (in time order) to the stream, made when missing.
    fn ingest<'a>(
        &'a self,
        scope: &'a Scope,
        group: &'a str,
        stream: &'a str,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<(), String>>;
}

impl LogWriter for Logs {
    fn ensure_group<'a>(
        &'a self,
        scope: &'a Scope,
        group: &'a str,
        create: bool,
    ) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            Logs::ensure_group(self, scope, group, create)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn ingest<'a>(
        &'a self,
        scope: &'a Scope,
        group: &'a str,
        stream: &'a str,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            Logs::ingest(self, scope, group, stream, events)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

//! This host's tasks: every task placed on it ([`HOST_LOCAL`]) that is not STOPPED gets a
//! driver ([`super::task::drive`]); the loop follows the store's `ecs.task` commits and tells
//! drivers when their task changed. At start it adopts what a previous run left running and
//! removes containers of this haneul that no live task owns.
//! Lines a container wrote while haneul was down are not read again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use haneul_store::{Scope, Store, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::awslogs::{self, Destination};
use super::records::{LogWriter, TaskRecords};
use super::{RegistryAuth, Runtime, LABEL_INSTANCE, LABEL_TASK_ARN};
use crate::model::{Task, HOST_LOCAL, KIND_TASK};

/// A pass over every task runs at least this often, even without a commit.
const RESYNC_INTERVAL_S: u64 = 10;
/// More task changes than this since the last look: a full pass instead.
const MAX_FOLLOWED_CHANGES: usize = 5000;

/// Credentials for the images tasks use: haneul's own registry (and ECR-style names, which
/// mean it) get an ECR password; anything else is looked for locally.
pub trait Credentials: Send + Sync + 'static {
    /// The image as the engine should pull it, and the credentials for its registry.
    fn for_image(&self, image: &str, scope: &Scope) -> (String, Option<RegistryAuth>);
}

/// The image as haneul's registry at `host` serves it, and whether it is in that registry:
/// `<account>.dkr.ecr.<region>.amazonaws.com/<repo>` names an ECR repository, which is ours.
pub fn resolve_image(image: &str, host: &str) -> (String, bool) {
    let resolved = match image.split_once('/') {
        Some((registry, rest)) if registry.contains(".dkr.ecr.") && registry.ends_with(".amazonaws.com") => {
            format!("{host}/{rest}")
        }
        _ => image.to_string(),
    };
    let ours = resolved.strip_prefix(host).is_some_and(|rest| rest.starts_with('/'));
    (resolved, ours)
}

/// Credentials from haneul's ECR.
pub struct EcrCredentials(pub Arc<haneul_ecr::Ecr>);

/// How long the password handed to the engine for a pull is good for.
const PULL_PASSWORD_S: u64 = 12 * 3600;

impl Credentials for EcrCredentials {
    fn for_image(&self, image: &str, scope: &Scope) -> (String, Option<RegistryAuth>) {
        let host = self.0.registry_host();
        let (resolved, ours) = resolve_image(image, &host);
        if !ours {
            return (resolved, None);
        }
        let expires = (haneul_wire::value::now_epoch_s() as u64).saturating_add(PULL_PASSWORD_S);
        let auth = RegistryAuth {
            username: "AWS".into(),
            password: self.0.tokens.password(scope, expires),
            server: host,
        };
        (resolved, Some(auth))
    }
}

pub struct HostConfig {
    /// This haneul's identity on the engine ([`LABEL_INSTANCE`]).
    pub instance_id: String,
    /// Given to containers as `AWS_ENDPOINT_URL` when set.
    pub endpoint_url: Option<String>,
    /// Where bridge and host mode containers' ports are published.
    pub host_address: String,
}

struct Driver {
    wake: watch::Sender<()>,
    handle: JoinHandle<()>,
}

pub struct Host {
    pub records: Arc<dyn TaskRecords>,
    pub runtime: Arc<dyn Runtime>,
    pub logs: Arc<dyn LogWriter>,
    pub credentials: Arc<dyn Credentials>,
    pub instance_id: String,
    pub endpoint_url: Option<String>,
    pub host_address: String,
    drivers: Mutex<HashMap<(Scope, String), Driver>>,
    followers: Mutex<HashMap<String, JoinHandle<()>>>,
    cancel: CancellationToken,
}

impl Host {
    pub fn new(
        records: Arc<dyn TaskRecords>,
        runtime: Arc<dyn Runtime>,
        logs: Arc<dyn LogWriter>,
        credentials: Arc<dyn Credentials>,
        config: HostConfig,
        cancel: CancellationToken,
    ) -> Arc<Host> {
        Arc::new(Host {
            records,
            runtime,
            logs,
            credentials,
            instance_id: config.instance_id,
            endpoint_url: config.endpoint_url,
            host_address: config.host_address,
            drivers: Mutex::new(HashMap::new()),
            followers: Mutex::new(HashMap::new()),
            cancel,
        })
    }

    /// Starts following a (started) container's output from `since_s` into `dest`.
    pub fn follow_logs(self: &Arc<Host>, container: &str, dest: Destination, since_s: i64) {
        let handle = tokio::spawn(awslogs::follow(
            self.runtime.clone(),
            self.logs.clone(),
            container.to_string(),
            since_s,
            dest,
        ));
        let mut followers = self.followers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = followers.insert(container.to_string(), handle) {
            old.abort();
        }
    }

    /// Waits (bounded) for the followers of stopped containers to write their last lines.
    pub async fn drain_logs(&self, containers: &[String], timeout: Duration) {
        let handles: Vec<JoinHandle<()>> = {
            let mut followers = self.followers.lock().unwrap_or_else(|p| p.into_inner());
            containers.iter().filter_map(|c| followers.remove(c)).collect()
        };
        for mut h in handles {
            if tokio::time::timeout(timeout, &mut h).await.is_err() {
                h.abort();
            }
        }
    }

    /// Runs until cancelled: drivers for this host's tasks, woken by `ecs.task` commits.
    /// The commits since the last look say which tasks changed; a full pass (at start, every
    /// [`RESYNC_INTERVAL_S`], or when the change log has a gap) looks at every task.
    pub async fn run(self: Arc<Host>, store: Store) {
        let mut changes = store.subscribe_kinds(&[KIND_TASK]);
        match live_tasks(&store).await {
            Ok((live, _, _)) => self.adopt_or_clean(&live).await,
            Err(e) => tracing::warn!(error = %e, "cannot look for containers a previous run left"),
        }
        let mut seen: Option<u64> = None;
        let mut last_full = tokio::time::Instant::now();
        loop {
            let full_due = seen.is_none() || last_full.elapsed() >= Duration::from_secs(RESYNC_INTERVAL_S);
            let outcome = match seen {
                Some(revision) if !full_due => self.incremental(&store, revision).await,
                _ => Ok(None),
            };
            let next = match outcome {
                Ok(Some(revision)) => Ok(revision),
                Ok(None) => {
                    last_full = tokio::time::Instant::now();
                    self.pass(&store).await
                }
                Err(e) => Err(e),
            };
            match next {
                Ok(revision) => seen = Some(revision),
                Err(e) => {
                    seen = None;
                    tracing::warn!(error = %e, "ECS host pass failed");
                }
            }
            tokio::select! {
                () = self.cancel.cancelled() => break,
                r = changes.changed() => if r.is_err() { break },
                () = tokio::time::sleep(Duration::from_secs(RESYNC_INTERVAL_S)) => {}
            }
        }
        self.wind_down().await;
    }

    /// Waits for the (cancelled) drivers to let go and stops the log followers.
    pub async fn wind_down(&self) {
        let drivers: Vec<Driver> = {
            let mut d = self.drivers.lock().unwrap_or_else(|p| p.into_inner());
            d.drain().map(|(_, v)| v).collect()
        };
        for d in drivers {
            let _ = d.handle.await;
        }
        let followers: Vec<JoinHandle<()>> = {
            let mut f = self.followers.lock().unwrap_or_else(|p| p.into_inner());
            f.drain().map(|(_, v)| v).collect()
        };
        followers.iter().for_each(JoinHandle::abort);
    }

    /// The tasks that changed after `revision`: drivers for new ones, a wake for the rest.
    /// None: a full pass is needed (a gap, or more changes than worth following one by one).
    async fn incremental(self: &Arc<Host>, store: &Store, revision: u64) -> Result<Option<u64>, StoreError> {
        let changes = store.changes_since(revision, MAX_FOLLOWED_CHANGES + 1).await?;
        let Some(last) = changes.last().map(|c| c.revision) else {
            return Ok(Some(revision));
        };
        if changes.len() > MAX_FOLLOWED_CHANGES || changes.first().is_some_and(|c| c.revision != revision + 1) {
            return Ok(None);
        }
        let mut touched: Vec<(Scope, String)> = changes
            .into_iter()
            .filter(|c| c.kind == KIND_TASK)
            .map(|c| (c.scope, c.id))
            .collect();
        touched.sort_by(|a, b| (&a.0.account_id, &a.0.region, &a.1).cmp(&(&b.0.account_id, &b.0.region, &b.1)));
        touched.dedup();
        let found: Vec<(Scope, String, Option<Task>)> = store
            .read(move |t| {
                touched
                    .into_iter()
                    .map(|(scope, key)| {
                        let task = t.get::<Task>(&scope, KIND_TASK, &key)?;
                        Ok((scope, key, task))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .await?;
        let mut drivers = self.drivers.lock().unwrap_or_else(|p| p.into_inner());
        drivers.retain(|_, d| !d.handle.is_finished());
        for (scope, key, task) in found {
            match task {
                Some(task) if task.host == HOST_LOCAL && !task.is_stopped() => {
                    self.ensure_driver(&mut drivers, scope, key, true)
                }
                _ => {
                    if let Some(d) = drivers.get(&(scope, key)) {
                        d.wake.send_replace(());
                    }
                }
            }
        }
        Ok(Some(last))
    }

    /// Drives `key` (a driver is started unless one runs); `wake` tells a running one to
    /// look at its task again.
    pub fn drive(self: &Arc<Host>, scope: Scope, key: String, wake: bool) {
        let mut drivers = self.drivers.lock().unwrap_or_else(|p| p.into_inner());
        drivers.retain(|_, d| !d.handle.is_finished());
        self.ensure_driver(&mut drivers, scope, key, wake);
    }

    /// The tasks whose drivers still run.
    pub fn driven(&self) -> Vec<(Scope, String)> {
        let mut drivers = self.drivers.lock().unwrap_or_else(|p| p.into_inner());
        drivers.retain(|_, d| !d.handle.is_finished());
        drivers.keys().cloned().collect()
    }

    fn ensure_driver(
        self: &Arc<Host>,
        drivers: &mut HashMap<(Scope, String), Driver>,
        scope: Scope,
        key: String,
        wake: bool,
    ) {
        let id = (scope.clone(), key.clone());
        match drivers.get(&id) {
            Some(d) => {
                if wake {
                    d.wake.send_replace(());
                }
            }
            None => {
                let (wake, rx) = watch::channel(());
                let handle = tokio::spawn(super::task::drive(
                    self.clone(),
                    scope,
                    key,
                    rx,
                    self.cancel.child_token(),
                ));
                drivers.insert(id, Driver { wake, handle });
            }
        }
    }

    /// A full pass: a driver for every live task of this host; drivers of tasks asked to
    /// stop are woken (in case their change was missed). Returns the revision it reflects.
    async fn pass(self: &Arc<Host>, store: &Store) -> Result<u64, StoreError> {
        let (live, expired, revision) = live_tasks(store).await?;
        if expired > 0 {
            let now_s = haneul_wire::value::now_epoch_s();
            store
                .write(move |t| crate::api::tasks::expire_stopped(t, now_s))
                .await?;
        }
        let mut drivers = self.drivers.lock().unwrap_or_else(|p| p.into_inner());
        drivers.retain(|_, d| !d.handle.is_finished());
        for (scope, key, task) in live {
            let stopping = task.desired_status == "STOPPED";
            self.ensure_driver(&mut drivers, scope, key, stopping);
        }
        Ok(revision)
    }

    /// At start: containers of this host whose task is not among `live` (gone or STOPPED)
    /// are removed; the live ones' log followers resume (their drivers adopt them).
    pub async fn adopt_or_clean(self: &Arc<Host>, live: &[(Scope, String, Task)]) {
        let containers = match self.runtime.list(LABEL_INSTANCE, &self.instance_id).await {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(error = %e, "the container engine is not available; tasks will fail to start until it is");
                return;
            }
        };
        if containers.is_empty() {
            return;
        }
        let by_arn: HashMap<&str, &(Scope, String, Task)> = live.iter().map(|l| (l.2.arn.as_str(), l)).collect();
        for c in containers {
            let arn = c.labels.get(LABEL_TASK_ARN).cloned().unwrap_or_default();
            let Some((scope, _, task)) = by_arn.get(arn.as_str()) else {
                if let Err(e) = self.runtime.remove(&c.id).await {
                    tracing::warn!(container = %c.id, error = %e, "cannot remove a container no task owns");
                }
                continue;
            };
            if !c.running {
                continue;
            }
            let name = c.labels.get(super::LABEL_CONTAINER_NAME).cloned().unwrap_or_default();
            let definition = task.definition();
            let def = super::spec::containers_of(&definition)
                .into_iter()
                .find(|d| d.get("name").and_then(serde_json::Value::as_str) == Some(name.as_str()));
            if let Some(dest) =
                def.and_then(|d| awslogs::destination(d, &scope.account_id, &scope.region, &name, &task.id, &c.id))
            {
                // From now on: lines written while haneul was down are not read again.
                self.follow_logs(&c.id, dest, haneul_wire::value::now_epoch_s() as i64 - 1);
            }
        }
    }

    /// Removes every container this haneul started (a dev instance on temp state, whose
    /// tasks no later run can adopt).
    pub async fn remove_all_containers(&self) {
        match self.runtime.list(LABEL_INSTANCE, &self.instance_id).await {
            Ok(found) => {
                for c in found {
                    if let Err(e) = self.runtime.remove(&c.id).await {
                        tracing::warn!(container = %c.id, error = %e, "cannot remove a task container");
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "no container engine to clean up"),
        }
    }
}

/// The tasks of this host that are not STOPPED, how many STOPPED tasks (of any host) are past
/// the hour ECS keeps them for, and the revision the read saw.
async fn live_tasks(store: &Store) -> Result<(Vec<(Scope, String, Task)>, usize, u64), StoreError> {
    let now_s = haneul_wire::value::now_epoch_s();
    store
        .read(move |t| {
            let mut out = Vec::new();
            let mut expired = 0;
            t.for_each_all_scopes::<Task>(KIND_TASK, |scope, id, task| {
                if task.is_stopped() {
                    if task
                        .stopped_at
                        .is_some_and(|s| now_s - s > crate::api::tasks::STOPPED_TASK_KEEP_S)
                    {
                        expired += 1;
                    }
                } else if task.host == HOST_LOCAL {
                    out.push((scope.clone(), id.to_string(), task));
                }
                Ok(())
            })?;
            Ok((out, expired, t.seen_revision()?))
        })
        .await
}

/// This data dir's identity on the container engine (`ecs/instance-id`, made on first use).
pub fn instance_id(data_dir: &std::path::Path) -> std::io::Result<String> {
    let path = data_dir.join("ecs").join("instance-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
        Ok(_) | Err(_) => {
            std::fs::create_dir_all(data_dir.join("ecs"))?;
            let id: String = (0..16).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect();
            std::fs::write(&path, &id)?;
            Ok(id)
        }
    }
}

//! A container engine in memory, for the scheduler benchmark and demos without Docker
//! (`haneul up --ecs-runtime simulated`): images are always present, containers "run" until
//! stopped or [`SimulatedRuntime::kill`]ed, ports are published as asked, nothing is executed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use haneul_wire::BoxFuture;
use tokio::sync::{mpsc, watch};

use super::{ContainerInfo, ContainerSpec, LogLine, Runtime, RuntimeError};

struct Container {
    spec: ContainerSpec,
    /// None while running; the exit code once stopped.
    exit: watch::Sender<Option<i64>>,
    started: bool,
}

#[derive(Default)]
pub struct SimulatedRuntime {
    containers: Mutex<HashMap<String, Container>>,
    next: Mutex<u64>,
}

impl SimulatedRuntime {
    pub fn new() -> Arc<SimulatedRuntime> {
        Arc::new(SimulatedRuntime::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Container>> {
        self.containers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends a running container with `exit_code`, as `docker kill` would (137).
    pub fn kill(&self, id: &str, exit_code: i64) -> bool {
        match self.lock().get(id) {
            Some(c) if c.started && c.exit.borrow().is_none() => {
                c.exit.send_replace(Some(exit_code));
                true
            }
            _ => false,
        }
    }

    /// The ids of running containers carrying `label=value`.
    pub fn running_with(&self, label: &str, value: &str) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(_, c)| c.started && c.exit.borrow().is_none())
            .filter(|(_, c)| c.spec.labels.get(label).map(String::as_str) == Some(value))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Every running container's id.
    pub fn running(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(_, c)| c.started && c.exit.borrow().is_none())
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn info(id: &str, c: &Container) -> ContainerInfo {
        let exit = *c.exit.borrow();
        ContainerInfo {
            id: id.to_string(),
            labels: c.spec.labels.clone(),
            running: c.started && exit.is_none(),
            exit_code: exit,
            health: c.spec.health_check.as_ref().map(|_| "healthy".to_string()),
            oom_killed: false,
            ports: c.spec.ports.clone(),
            image_digest: None,
        }
    }
}

impl Runtime for SimulatedRuntime {
    fn ensure_image<'a>(
        &'a self,
        _image: &'a str,
        _auth: Option<super::RegistryAuth>,
    ) -> BoxFuture<'a, Result<Option<String>, RuntimeError>> {
        Box::pin(async move { Ok(None) })
    }

    fn create<'a>(&'a self, spec: &'a ContainerSpec) -> BoxFuture<'a, Result<String, RuntimeError>> {
        Box::pin(async move {
            let id = {
                let mut n = self.next.lock().unwrap_or_else(|p| p.into_inner());
                *n += 1;
                format!("sim{:061x}", *n)
            };
            let (exit, _) = watch::channel(None);
            self.lock().insert(
                id.clone(),
                Container {
                    spec: spec.clone(),
                    exit,
                    started: false,
                },
            );
            Ok(id)
        })
    }

    fn start<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            match self.lock().get_mut(id) {
                Some(c) => {
                    c.started = true;
                    Ok(())
                }
                None => Err(RuntimeError::NotFound(id.to_string())),
            }
        })
    }

    fn wait<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<i64, RuntimeError>> {
        Box::pin(async move {
            let mut rx = match self.lock().get(id) {
                Some(c) => c.exit.subscribe(),
                None => return Err(RuntimeError::NotFound(id.to_string())),
            };
            loop {
                if let Some(code) = *rx.borrow_and_update() {
                    return Ok(code);
                }
                if rx.changed().await.is_err() {
                    // Removed while waited on.
                    return Ok(137);
                }
            }
        })
    }

    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<ContainerInfo, RuntimeError>> {
        Box::pin(async move {
            self.lock()
                .get(id)
                .map(|c| SimulatedRuntime::info(id, c))
                .ok_or_else(|| RuntimeError::NotFound(id.to_string()))
        })
    }

    fn stop<'a>(&'a self, id: &'a str, _timeout_s: i64) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            if let Some(c) = self.lock().get(id) {
                if c.exit.borrow().is_none() {
                    c.exit.send_replace(Some(if c.started { 143 } else { 0 }));
                }
            }
            Ok(())
        })
    }

    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            if let Some(c) = self.lock().remove(id) {
                if c.exit.borrow().is_none() {
                    c.exit.send_replace(Some(137));
                }
            }
            Ok(())
        })
    }

    fn list<'a>(&'a self, label: &'a str, value: &'a str) -> BoxFuture<'a, Result<Vec<ContainerInfo>, RuntimeError>> {
        Box::pin(async move {
            Ok(self
                .lock()
                .iter()
                .filter(|(_, c)| c.spec.labels.get(label).map(String::as_str) == Some(value))
                .map(|(id, c)| SimulatedRuntime::info(id, c))
                .collect())
        })
    }

    fn follow_logs<'a>(
        &'a self,
        _id: &'a str,
        _since_s: i64,
        _lines: mpsc::Sender<LogLine>,
    ) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move { Ok(()) })
    }
}

//! # haneul-ecs: Amazon ECS
//!
//! ECS's API (json 1.1): clusters, task definitions, tasks, services, container instances
//! ([`api`]); the service scheduler and task placement ([`scheduler`]); the runtime that
//! really runs tasks' containers on the Docker engine ([`runtime`]); and `haneul agent`,
//! a container instance on another host that talks to the server through the API ([`agent`]).
//!
//! # Layout
//! - [`api`]: the operations, one module per resource family.
//! - [`model`]: what the resource store keeps.
//! - [`runtime`]: containers — the engine, one task's lifecycle, this host's tasks, awslogs.
//! - [`exec`]: ExecuteCommand's sessions and their Session Manager data channel.

pub mod agent;
pub mod api;
pub mod error;
pub mod exec;
/// Typed input/output structs, generated from the model (see `codegen.txt`).
#[rustfmt::skip]
pub mod generated;
pub mod model;
pub mod runtime;
pub mod scheduler;

use haneul_store::{Scope, Store};
use haneul_wire::{AwsError, BoxFuture, RequestContext, Service};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::EcsError;

/// The botocore model this crate serves.
pub const MODEL: &str = include_str!("../../../models/ecs.json");

pub struct Ecs {
    pub store: Store,
    /// Where awsvpc tasks' addresses come from.
    pub task_cidr: runtime::addresses::TaskCidr,
    /// The endpoint agents are sent to (DiscoverPollEndpoint); set once the API is bound.
    endpoint_url: std::sync::RwLock<String>,
    /// ELBv2, which express gateway services make their load balancers with.
    elbv2: std::sync::OnceLock<std::sync::Arc<dyn Service>>,
    /// ExecuteCommand sessions waiting for their client.
    pub exec_sessions: exec::Sessions,
}

impl Ecs {
    pub fn new(store: Store, task_cidr: runtime::addresses::TaskCidr) -> Ecs {
        Ecs {
            store,
            task_cidr,
            endpoint_url: std::sync::RwLock::new(String::new()),
            elbv2: std::sync::OnceLock::new(),
            exec_sessions: exec::Sessions::default(),
        }
    }

    /// Hands ECS the ELBv2 service (once, when the API is built).
    pub fn set_elbv2(&self, elbv2: std::sync::Arc<dyn Service>) {
        let _ = self.elbv2.set(elbv2);
    }

    pub fn elbv2(&self) -> Option<std::sync::Arc<dyn Service>> {
        self.elbv2.get().cloned()
    }

    pub fn set_endpoint_url(&self, url: &str) {
        *self.endpoint_url.write().unwrap_or_else(|p| p.into_inner()) = url.to_string();
    }

    pub fn endpoint_url(&self) -> String {
        self.endpoint_url.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// ECS is regional.
pub fn scope(ctx: &RequestContext) -> Scope {
    Scope::new(ctx.account_id.clone(), ctx.region.clone())
}

pub(crate) fn parse<T: DeserializeOwned>(input: Value) -> Result<T, EcsError> {
    serde_json::from_value(input).map_err(|e| EcsError::InvalidParameter(format!("Invalid request: {e}")))
}

impl Service for Ecs {
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>> {
        Box::pin(async move { api::call(self, ctx, operation, input).await.map_err(AwsError::from) })
    }
}

//! GetTaskProtection and UpdateTaskProtection: a service task that is protected is not
//! stopped by scale-in or a deployment (the scheduler leaves it until protection ends);
//! stops for failed health checks still happen.

use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::api::tasks::{load_active_cluster, task_id};
use crate::error::EcsError;
use crate::generated as api;
use crate::model::{task_arn, task_key, Task, KIND_TASK};
use crate::{parse, scope, Ecs};

/// ECS's default and longest protection (minutes).
const DEFAULT_EXPIRES_MIN: i64 = 120;
const MAX_EXPIRES_MIN: i64 = 2880;

fn protected(t: &Task) -> Value {
    let mut v = json!({ "taskArn": t.arn, "protectionEnabled": t.protection_enabled() });
    if let Some(at) = t.protection_expires_at.filter(|_| t.protection_enabled()) {
        v["expirationDate"] = json!(at);
    }
    v
}

fn failure(arn: String, reason: &str, detail: &str) -> Value {
    json!({ "arn": arn, "reason": reason, "detail": detail })
}

pub async fn get(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::GetTaskProtectionRequest = parse(input)?;
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    ecs.store
        .read(move |t| {
            let cluster = load_active_cluster(t, &scope, Some(&input.cluster))?;
            let mut tasks = Vec::new();
            let mut failures = Vec::new();
            let wanted: Vec<String> = if input.tasks.is_empty() {
                t.list_prefix::<Task>(&scope, KIND_TASK, &format!("{}{}", cluster.name, crate::model::SEP))?
                    .into_iter()
                    .filter(|(_, task)| task.protection_enabled())
                    .map(|(_, task)| task.id)
                    .collect()
            } else {
                input.tasks.clone()
            };
            for given in &wanted {
                match t.get::<Task>(&scope, KIND_TASK, &task_key(&cluster.name, task_id(given)))? {
                    Some(task) => tasks.push(protected(&task)),
                    None => failures.push(failure(
                        task_arn(&region, &account, &cluster.name, task_id(given)),
                        "MISSING",
                        "The task was not found.",
                    )),
                }
            }
            Ok::<_, EcsError>(json!({ "protectedTasks": tasks, "failures": failures }))
        })
        .await
}

pub async fn update(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::UpdateTaskProtectionRequest = parse(input)?;
    if input.tasks.is_empty() || input.tasks.len() > 10 {
        return Err(EcsError::InvalidParameter(
            "tasks must name between 1 and 10 tasks.".into(),
        ));
    }
    let minutes = input.expires_in_minutes.unwrap_or(DEFAULT_EXPIRES_MIN);
    if input.protection_enabled && !(1..=MAX_EXPIRES_MIN).contains(&minutes) {
        return Err(EcsError::InvalidParameter(format!(
            "expiresInMinutes must be between 1 and {MAX_EXPIRES_MIN}."
        )));
    }
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    ecs.store
        .write(move |t| {
            let cluster = load_active_cluster(t, &scope, Some(&input.cluster))?;
            let now = haneul_wire::value::now_epoch_s();
            let mut tasks = Vec::new();
            let mut failures = Vec::new();
            for given in &input.tasks {
                let key = task_key(&cluster.name, task_id(given));
                let arn = task_arn(&region, &account, &cluster.name, task_id(given));
                let Some(mut task) = t.get::<Task>(&scope, KIND_TASK, &key)? else {
                    failures.push(failure(arn, "MISSING", "The task was not found."));
                    continue;
                };
                if task.service.is_none() || task.is_stopped() {
                    failures.push(failure(
                        arn,
                        "TASK_NOT_VALID",
                        "Task protection applies to running tasks of a service.",
                    ));
                    continue;
                }
                task.protection_expires_at = input.protection_enabled.then_some(now + minutes as f64 * 60.0);
                task.version += 1;
                crate::scheduler::usage::put_task(t, &scope, &mut task)?;
                tasks.push(protected(&task));
            }
            Ok::<_, EcsError>(json!({ "protectedTasks": tasks, "failures": failures }))
        })
        .await
}

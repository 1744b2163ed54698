//! Register/Describe/List/Deregister/DeleteTaskDefinitions and ListTaskDefinitionFamilies.
//! A task definition is kept in the API's own shape (the request's members plus what ECS
//! adds: ARN, revision, status, compatibilities, defaults), so it describes exactly as
//! registered.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use haneul_store::{Scope, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::error::EcsError;
use crate::generated as api;
use crate::model::{
    task_definition_id, valid_cluster_name as valid_family, TaskDefinition, KIND_FAMILY, KIND_TASK_DEFINITION,
};
use crate::{parse, scope, Ecs};

/// Fargate's task sizes: cpu units → the memory (MiB) allowed with it.
fn fargate_memory_ok(cpu: i64, memory: i64) -> bool {
    let gib = |n: i64| n * 1024;
    match cpu {
        256 => [512, 1024, 2048].contains(&memory),
        512 => (gib(1)..=gib(4)).contains(&memory) && memory % 1024 == 0,
        1024 => (gib(2)..=gib(8)).contains(&memory) && memory % 1024 == 0,
        2048 => (gib(4)..=gib(16)).contains(&memory) && memory % 1024 == 0,
        4096 => (gib(8)..=gib(30)).contains(&memory) && memory % 1024 == 0,
        8192 => (gib(16)..=gib(60)).contains(&memory) && memory % gib(4) == 0,
        16384 => (gib(32)..=gib(120)).contains(&memory) && memory % gib(8) == 0,
        _ => false,
    }
}

/// `1024`, `1 vCPU`, `0.25 vcpu` → cpu units; `2048`, `2 GB` → MiB.
fn units(text: &str, unit: &str, per_unit: f64) -> Option<i64> {
    let t = text.trim().to_ascii_lowercase();
    if let Some(n) = t.strip_suffix(unit) {
        let v: f64 = n.trim().parse().ok()?;
        return Some((v * per_unit).round() as i64);
    }
    t.parse().ok()
}

fn client(msg: impl Into<String>) -> EcsError {
    EcsError::Client(msg.into())
}

fn check_containers(defs: &mut [Value], task_memory: bool) -> Result<(), EcsError> {
    if defs.is_empty() {
        return Err(client("Container list cannot be empty."));
    }
    let mut names = Vec::new();
    for d in defs.iter_mut() {
        let obj = d
            .as_object_mut()
            .ok_or_else(|| client("A container definition must be an object."))?;
        let name = obj.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        if name.is_empty() {
            return Err(client("Container.name should not be null or empty."));
        }
        if obj.get("image").and_then(Value::as_str).unwrap_or("").is_empty() {
            return Err(client("Container.image should not be null or empty."));
        }
        if names.contains(&name) {
            return Err(client(format!("Duplicate container name found: {name}.")));
        }
        let has_memory = obj.contains_key("memory") || obj.contains_key("memoryReservation");
        if !task_memory && !has_memory {
            return Err(client(format!(
                "Invalid setting for container '{name}'. At least one of 'memory' or 'memoryReservation' must be specified."
            )));
        }
        obj.entry("essential").or_insert(Value::Bool(true));
        for key in ["portMappings", "environment", "mountPoints", "volumesFrom"] {
            obj.entry(key).or_insert_with(|| Value::Array(Vec::new()));
        }
        obj.entry("cpu").or_insert(json!(0));
        names.push(name);
    }
    Ok(())
}

pub async fn register(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let mut input = match input {
        Value::Object(map) => map,
        _ => return Err(EcsError::InvalidParameter("Invalid request".into())),
    };
    let family = input.get("family").and_then(Value::as_str).unwrap_or("").to_string();
    if !valid_family(&family) {
        return Err(client(
            "Family must be up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores.",
        ));
    }
    let tags = input.remove("tags").unwrap_or_else(|| Value::Array(Vec::new()));
    let cpu = input.get("cpu").and_then(Value::as_str).map(str::to_string);
    let memory = input.get("memory").and_then(Value::as_str).map(str::to_string);
    let cpu_units = cpu.as_deref().map(|c| units(c, "vcpu", 1024.0));
    let memory_mib = memory.as_deref().map(|m| units(m, "gb", 1024.0));
    if matches!(cpu_units, Some(None)) || matches!(memory_mib, Some(None)) {
        return Err(client("Task cpu and memory must be numbers (or '1 vCPU', '2 GB')."));
    }
    let (cpu_units, memory_mib) = (cpu_units.flatten(), memory_mib.flatten());
    let network_mode = input
        .get("networkMode")
        .and_then(Value::as_str)
        .unwrap_or("bridge")
        .to_string();
    let requires: Vec<String> = input
        .get("requiresCompatibilities")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let fargate_shape = match (cpu_units, memory_mib) {
        (Some(c), Some(m)) => fargate_memory_ok(c, m),
        _ => false,
    };
    if requires.iter().any(|r| r == "FARGATE") {
        if network_mode != "awsvpc" {
            return Err(client("Fargate only supports network mode 'awsvpc'."));
        }
        let (Some(c), Some(m)) = (cpu_units, memory_mib) else {
            return Err(client("Fargate requires that 'cpu' be defined at the task level."));
        };
        if !fargate_shape {
            return Err(client(format!(
                "No Fargate configuration exists for given values: {c} CPU, {m} memory. See the Amazon ECS documentation for the valid values."
            )));
        }
    }
    let mut containers = match input.remove("containerDefinitions") {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    check_containers(&mut containers, memory_mib.is_some())?;
    if network_mode == "awsvpc" {
        // In awsvpc mode a port mapping's hostPort is its containerPort.
        for c in containers.iter_mut() {
            for pm in c["portMappings"].as_array_mut().into_iter().flatten() {
                if let Some(port) = pm.get("containerPort").cloned() {
                    pm["hostPort"] = port;
                }
                pm.as_object_mut().map(|o| o.entry("protocol").or_insert(json!("tcp")));
            }
        }
    }
    let mut compatibilities = vec!["EC2"];
    if network_mode == "awsvpc" && fargate_shape {
        compatibilities.push("FARGATE");
    }
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    let registered_by = format!("arn:aws:iam::{account}:root");
    let stored = ecs
        .store
        .write(move |t| {
            let last: i64 = t.get::<i64>(&scope, KIND_FAMILY, &family)?.unwrap_or(0);
            let revision = last + 1;
            let arn = format!("arn:aws:ecs:{region}:{account}:task-definition/{family}:{revision}");
            let mut def = input.clone();
            def.insert("family".into(), json!(family));
            def.insert("containerDefinitions".into(), Value::Array(containers));
            def.insert("taskDefinitionArn".into(), json!(arn));
            def.insert("revision".into(), json!(revision));
            def.insert("status".into(), json!("ACTIVE"));
            def.insert("networkMode".into(), json!(network_mode));
            def.insert("compatibilities".into(), json!(compatibilities));
            def.insert("requiresCompatibilities".into(), json!(requires));
            def.insert("registeredAt".into(), json!(haneul_wire::value::now_epoch_s()));
            def.insert("registeredBy".into(), json!(registered_by));
            def.entry("volumes").or_insert_with(|| Value::Array(Vec::new()));
            def.entry("placementConstraints")
                .or_insert_with(|| Value::Array(Vec::new()));
            let record = TaskDefinition {
                family: family.clone(),
                revision,
                status: "ACTIVE".into(),
                definition: Value::Object(def),
                tags,
            };
            t.put(&scope, KIND_FAMILY, &family, &revision)?;
            t.put(
                &scope,
                KIND_TASK_DEFINITION,
                &task_definition_id(&family, revision),
                &record,
            )?;
            Ok::<_, EcsError>(record)
        })
        .await?;
    Ok(json!({ "taskDefinition": stored.definition, "tags": stored.tags }))
}

/// `family`, `family:revision` or an ARN → (family, revision if given).
fn identifier(text: &str) -> Result<(String, Option<i64>), EcsError> {
    let invalid =
        || client("The specified task definition identifier is invalid. Specify a valid name or ARN and try again.");
    let rest = match text.strip_prefix("arn:") {
        Some(_) => text
            .rsplit_once("task-definition/")
            .map(|(_, r)| r)
            .ok_or_else(invalid)?,
        None => text,
    };
    match rest.split_once(':') {
        Some((family, rev)) => Ok((family.to_string(), Some(rev.parse().map_err(|_| invalid())?))),
        None => Ok((rest.to_string(), None)),
    }
}

/// The named revision, or the family's latest ACTIVE one (None: no such definition, or
/// one being deleted).
pub(crate) fn find_in(t: &Txn<'_>, scope: &Scope, text: &str) -> Result<Option<TaskDefinition>, EcsError> {
    let (family, revision) = identifier(text)?;
    let found = match revision {
        Some(r) => t.get::<TaskDefinition>(scope, KIND_TASK_DEFINITION, &task_definition_id(&family, r))?,
        None => t
            .list_prefix::<TaskDefinition>(scope, KIND_TASK_DEFINITION, &format!("{family}{}", crate::model::SEP))?
            .into_iter()
            .map(|(_, d)| d)
            .rfind(|d| d.status == "ACTIVE"),
    };
    Ok(found.filter(|d| d.status != "DELETE_IN_PROGRESS"))
}

async fn find(ecs: &Ecs, ctx: &RequestContext, text: &str) -> Result<TaskDefinition, EcsError> {
    let scope = scope(ctx);
    let text = text.to_string();
    ecs.store
        .read(move |t| find_in(t, &scope, &text)?.ok_or_else(|| client("Unable to describe task definition.")))
        .await
}

pub async fn describe(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DescribeTaskDefinitionRequest = parse(input)?;
    let d = find(ecs, ctx, &input.task_definition).await?;
    let mut out = json!({ "taskDefinition": d.definition });
    if input.include.iter().any(|i| i == "TAGS") {
        out["tags"] = d.tags;
    }
    Ok(out)
}

pub(crate) fn page_token(next: Option<&str>) -> Result<usize, EcsError> {
    match next {
        None => Ok(0),
        Some(t) => URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| EcsError::InvalidParameter("Invalid nextToken.".into())),
    }
}

pub(crate) fn max_results(given: Option<i64>) -> Result<usize, EcsError> {
    match given {
        None => Ok(100),
        Some(n) if (1..=100).contains(&n) => Ok(n as usize),
        Some(_) => Err(EcsError::InvalidParameter(
            "maxResults must be between 1 and 100.".into(),
        )),
    }
}

async fn all(ecs: &Ecs, ctx: &RequestContext) -> Result<Vec<TaskDefinition>, EcsError> {
    let scope = scope(ctx);
    let list: Vec<(String, TaskDefinition)> = ecs.store.read(move |t| t.list(&scope, KIND_TASK_DEFINITION)).await?;
    Ok(list.into_iter().map(|(_, d)| d).collect())
}

pub async fn list(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::ListTaskDefinitionsRequest = parse(input)?;
    let size = max_results(input.max_results)?;
    let offset = page_token(input.next_token.as_deref())?;
    let status = input.status.clone().unwrap_or_else(|| "ACTIVE".into());
    let mut arns: Vec<String> = all(ecs, ctx)
        .await?
        .into_iter()
        .filter(|d| d.status == status)
        .filter(|d| input.family_prefix.as_deref().is_none_or(|p| d.family.starts_with(p)))
        .map(|d| {
            d.definition["taskDefinitionArn"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    if input.sort.as_deref() == Some("DESC") {
        arns.reverse();
    }
    Ok(crate::api::paged("taskDefinitionArns", &arns, offset, size))
}

pub async fn list_families(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::ListTaskDefinitionFamiliesRequest = parse(input)?;
    let size = max_results(input.max_results)?;
    let offset = page_token(input.next_token.as_deref())?;
    let status = input.status.clone().unwrap_or_else(|| "ACTIVE".into());
    let mut families: Vec<String> = all(ecs, ctx)
        .await?
        .into_iter()
        .filter(|d| status == "ALL" || d.status == status)
        .filter(|d| input.family_prefix.as_deref().is_none_or(|p| d.family.starts_with(p)))
        .map(|d| d.family)
        .collect();
    families.dedup();
    Ok(crate::api::paged("families", &families, offset, size))
}

/// Moves one revision to `status` (Deregister: ACTIVE → INACTIVE).
async fn set_status(
    ecs: &Ecs,
    ctx: &RequestContext,
    text: &str,
    from: &'static str,
    to: &'static str,
) -> Result<Result<TaskDefinition, String>, EcsError> {
    let (family, revision) = identifier(text)?;
    let Some(revision) = revision else {
        return Err(client(
            "The specified task definition identifier is invalid. Specify a valid name or ARN and try again.",
        ));
    };
    let scope = scope(ctx);
    ecs.store
        .write(move |t| {
            let id = task_definition_id(&family, revision);
            let Some(mut d) = t.get::<TaskDefinition>(&scope, KIND_TASK_DEFINITION, &id)? else {
                return Ok(Err("The specified task definition does not exist.".to_string()));
            };
            if d.status != from {
                return Ok(Err(format!(
                    "The specified task definition is in {} status; it must be {from}.",
                    d.status
                )));
            }
            d.status = to.into();
            if let Value::Object(map) = &mut d.definition {
                map.insert("status".into(), json!(to));
                let key = if to == "INACTIVE" {
                    "deregisteredAt"
                } else {
                    "deleteRequestedAt"
                };
                map.insert(key.into(), json!(haneul_wire::value::now_epoch_s()));
            }
            t.put(&scope, KIND_TASK_DEFINITION, &id, &d)?;
            Ok::<_, EcsError>(Ok(d))
        })
        .await
}

pub async fn deregister(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DeregisterTaskDefinitionRequest = parse(input)?;
    match set_status(ecs, ctx, &input.task_definition, "ACTIVE", "INACTIVE").await? {
        Ok(d) => Ok(json!({ "taskDefinition": d.definition })),
        Err(reason) => Err(client(reason)),
    }
}

pub async fn delete(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DeleteTaskDefinitionsRequest = parse(input)?;
    let mut deleted = Vec::new();
    let mut failures = Vec::new();
    for given in &input.task_definitions {
        match set_status(ecs, ctx, given, "INACTIVE", "DELETE_IN_PROGRESS").await? {
            Ok(d) => deleted.push(d.definition),
            Err(reason) => failures.push(json!({ "arn": given, "reason": reason })),
        }
    }
    Ok(json!({ "taskDefinitions": deleted, "failures": failures }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_sizes() {
        assert!(fargate_memory_ok(256, 512));
        assert!(!fargate_memory_ok(256, 4096));
        assert!(fargate_memory_ok(1024, 3072));
        assert!(!fargate_memory_ok(1024, 3000));
        assert!(fargate_memory_ok(8192, 20480));
        assert!(!fargate_memory_ok(8192, 18432));
        assert_eq!(units("0.25 vCPU", "vcpu", 1024.0), Some(256));
        assert_eq!(units("2 GB", "gb", 1024.0), Some(2048));
        assert_eq!(units("512", "gb", 1024.0), Some(512));
    }

    #[test]
    fn identifiers() {
        assert_eq!(identifier("web").unwrap(), ("web".into(), None));
        assert_eq!(identifier("web:3").unwrap(), ("web".into(), Some(3)));
        assert_eq!(
            identifier("arn:aws:ecs:us-east-1:000000000000:task-definition/web:2").unwrap(),
            ("web".into(), Some(2))
        );
        assert!(identifier("web:x").is_err());
    }
}

//! PutAccountSetting, PutAccountSettingDefault, DeleteAccountSetting, ListAccountSettings:
//! settings per principal (the account's root when none is named) over the account's
//! defaults over ECS's own. Stored and listed; the ones haneul acts on are the long ARN
//! formats (always on, as ECS has required since 2021).

use haneul_store::Scope;
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::error::EcsError;
use crate::generated as api;
use crate::model::SEP;
use crate::{parse, scope, Ecs};

/// A setting, keyed `principal␁name` (`default␁name` for the account default).
pub const KIND_ACCOUNT_SETTING: &str = "ecs.account_setting";
const DEFAULT_PRINCIPAL: &str = "default";

/// ECS's own defaults, and the values each setting takes.
fn builtin(name: &str) -> Option<(&'static str, &'static [&'static str])> {
    const ON_OFF: &[&str] = &["enabled", "disabled"];
    Some(match name {
        "serviceLongArnFormat" | "taskLongArnFormat" | "containerInstanceLongArnFormat" => ("enabled", ON_OFF),
        "awsvpcTrunking" | "fargateFIPSMode" | "guardDutyActivate" => ("disabled", ON_OFF),
        "tagResourceAuthorization" => ("on", &["on", "off"]),
        "containerInsights" => ("disabled", &["enabled", "disabled", "enhanced"]),
        "fargateTaskRetirementWaitPeriod" => ("7", &["0", "7", "14"]),
        "defaultLogDriverMode" => ("blocking", &["blocking", "non-blocking"]),
        "fargateEventWindows" => ("disabled", ON_OFF),
        _ => return None,
    })
}

const NAMES: &[&str] = &[
    "serviceLongArnFormat",
    "taskLongArnFormat",
    "containerInstanceLongArnFormat",
    "awsvpcTrunking",
    "containerInsights",
    "fargateFIPSMode",
    "tagResourceAuthorization",
    "fargateTaskRetirementWaitPeriod",
    "guardDutyActivate",
    "defaultLogDriverMode",
    "fargateEventWindows",
];

fn check(name: &str, value: &str) -> Result<(), EcsError> {
    let (_, allowed) =
        builtin(name).ok_or_else(|| EcsError::InvalidParameter(format!("Invalid setting name: {name}")))?;
    if !allowed.contains(&value) {
        return Err(EcsError::InvalidParameter(format!(
            "Invalid value {value} for setting {name}: valid values are {}.",
            allowed.join(", ")
        )));
    }
    Ok(())
}

fn root(ctx: &RequestContext) -> String {
    format!("arn:aws:iam::{}:root", ctx.account_id)
}

fn setting(name: &str, value: &str, principal: &str, kind: &str) -> Value {
    json!({ "name": name, "value": value, "principalArn": principal, "type": kind })
}

async fn put(ecs: &Ecs, scope: Scope, key: String, value: String) -> Result<(), EcsError> {
    ecs.store
        .write(move |t| {
            t.put(&scope, KIND_ACCOUNT_SETTING, &key, &value)?;
            Ok::<_, EcsError>(())
        })
        .await
}

pub async fn put_setting(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::PutAccountSettingRequest = parse(input)?;
    check(&input.name, &input.value)?;
    let principal = input.principal_arn.clone().unwrap_or_else(|| root(ctx));
    put(
        ecs,
        scope(ctx),
        format!("{principal}{SEP}{}", input.name),
        input.value.clone(),
    )
    .await?;
    Ok(json!({ "setting": setting(&input.name, &input.value, &principal, "user") }))
}

pub async fn put_default(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::PutAccountSettingDefaultRequest = parse(input)?;
    check(&input.name, &input.value)?;
    put(
        ecs,
        scope(ctx),
        format!("{DEFAULT_PRINCIPAL}{SEP}{}", input.name),
        input.value.clone(),
    )
    .await?;
    Ok(json!({ "setting": setting(&input.name, &input.value, &root(ctx), "user") }))
}

pub async fn delete(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::DeleteAccountSettingRequest = parse(input)?;
    builtin(&input.name).ok_or_else(|| EcsError::InvalidParameter(format!("Invalid setting name: {}", input.name)))?;
    let principal = input.principal_arn.clone().unwrap_or_else(|| root(ctx));
    let key = format!("{principal}{SEP}{}", input.name);
    let s = scope(ctx);
    let removed: Option<String> = ecs
        .store
        .write(move |t| {
            let old = t.get::<String>(&s, KIND_ACCOUNT_SETTING, &key)?;
            t.delete(&s, KIND_ACCOUNT_SETTING, &key)?;
            Ok::<_, EcsError>(old)
        })
        .await?;
    let value = removed
        .ok_or_else(|| EcsError::InvalidParameter(format!("The setting {} is not set for {principal}.", input.name)))?;
    Ok(json!({ "setting": setting(&input.name, &value, &principal, "user") }))
}

pub async fn list(ecs: &Ecs, ctx: &RequestContext, input: Value) -> Result<Value, EcsError> {
    let input: api::ListAccountSettingsRequest = parse(input)?;
    let size = match input.max_results {
        None => 10,
        Some(n) if (1..=10).contains(&n) => n as usize,
        Some(_) => {
            return Err(EcsError::InvalidParameter(
                "maxResults must be between 1 and 10.".into(),
            ))
        }
    };
    let offset = crate::api::task_definitions::page_token(input.next_token.as_deref())?;
    let principal = input.principal_arn.clone().unwrap_or_else(|| root(ctx));
    let s = scope(ctx);
    let stored: Vec<(String, String)> = ecs
        .store
        .read(move |t| t.list::<String>(&s, KIND_ACCOUNT_SETTING))
        .await?;
    let find = |who: &str, name: &str| {
        stored
            .iter()
            .find(|(k, _)| *k == format!("{who}{SEP}{name}"))
            .map(|(_, v)| v.clone())
    };
    let mut settings = Vec::new();
    for name in NAMES.iter().filter(|n| input.name.as_deref().is_none_or(|x| x == **n)) {
        let own = find(&principal, name);
        let value = match (&own, input.effective_settings.unwrap_or(false)) {
            (Some(v), _) => Some((v.clone(), "user")),
            (None, true) => Some((
                find(DEFAULT_PRINCIPAL, name)
                    .or_else(|| builtin(name).map(|(d, _)| d.to_string()))
                    .unwrap_or_default(),
                if find(DEFAULT_PRINCIPAL, name).is_some() {
                    "user"
                } else {
                    "aws_managed"
                },
            )),
            (None, false) => None,
        };
        if let Some((value, kind)) = value {
            if input.value.as_deref().is_none_or(|v| v == value) {
                settings.push(setting(name, &value, &principal, kind));
            }
        }
    }
    Ok(crate::api::paged("settings", &settings, offset, size))
}

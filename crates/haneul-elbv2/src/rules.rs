//! CreateRule, DescribeRules, ModifyRule, DeleteRule, SetRulePriorities. Rules live inside their
//! listener's record, so every change (and a swap of priorities) is one write.

use haneul_store::{Scope, Store, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::actions::{normalize_actions, normalize_conditions};
use crate::api::load_balancer;
use crate::api::random_hex;
use crate::error::ElbError;
use crate::generated as api_types;
use crate::listeners::{check_forward_targets, listener, relink};
use crate::model::*;
use crate::{parse, scope};

/// ALB's quota of rules per listener (besides the default rule).
pub const MAX_RULES_PER_LISTENER: usize = 100;
/// Rule priorities run from 1 to this.
pub const MAX_PRIORITY: i64 = 50_000;

pub(crate) fn new_rule_arn(listener_arn: &str) -> String {
    format!(
        "{}/{}",
        listener_arn.replacen(":listener/", ":listener-rule/", 1),
        random_hex(16)
    )
}

/// The listener ARN a rule ARN belongs to.
fn listener_arn_of(rule_arn: &str) -> Option<String> {
    let (head, _) = rule_arn.rsplit_once('/')?;
    rule_arn
        .contains(":listener-rule/")
        .then(|| head.replacen(":listener-rule/", ":listener/", 1))
}

fn rule_not_found(arn: &str) -> ElbError {
    ElbError::RuleNotFound(format!("Rule '{arn}' not found"))
}

/// The listener holding the rule `arn` (the default rule included).
fn listener_of_rule(t: &Txn<'_>, scope: &Scope, arn: &str) -> Result<Listener, ElbError> {
    let listener_arn = listener_arn_of(arn).ok_or_else(|| rule_not_found(arn))?;
    let l = t
        .get::<Listener>(scope, KIND_LISTENER, &listener_arn)?
        .ok_or_else(|| rule_not_found(arn))?;
    if l.default_rule_arn != arn && !l.rules.iter().any(|r| r.arn == arn) {
        return Err(rule_not_found(arn));
    }
    Ok(l)
}

fn check_priority(p: i64) -> Result<(), ElbError> {
    if (1..=MAX_PRIORITY).contains(&p) {
        Ok(())
    } else {
        Err(ElbError::Validation(format!(
            "Priority {p} must be between 1 and {MAX_PRIORITY}"
        )))
    }
}

fn rule_output(r: &Rule) -> Value {
    json!({
        "RuleArn": r.arn,
        "Priority": r.priority.to_string(),
        "Conditions": r.conditions,
        "Actions": r.actions,
        "IsDefault": false,
    })
}

fn default_rule_output(l: &Listener) -> Value {
    json!({
        "RuleArn": l.default_rule_arn,
        "Priority": "default",
        "Conditions": [],
        "Actions": l.default_actions,
        "IsDefault": true,
    })
}

/// Stores the listener and recomputes what its rules link to.
fn save(t: &mut Txn<'_>, scope: &Scope, l: &mut Listener) -> Result<(), ElbError> {
    l.rules.sort_by_key(|r| r.priority);
    t.put(scope, KIND_LISTENER, &l.arn, l)?;
    relink(t, scope)
}

pub async fn create_rule(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::CreateRuleInput = parse(input)?;
    check_priority(input.priority)?;
    if !input.transforms.is_empty() {
        return Err(ElbError::InvalidConfigurationRequest(
            "Rule transforms are not available in haneul yet".into(),
        ));
    }
    let mut conditions = input.conditions.clone();
    normalize_conditions(&mut conditions)?;
    let mut actions = input.actions.clone();
    normalize_actions(&mut actions)?;
    let scope = scope(ctx);
    let rule = store
        .write(move |t| {
            let mut l = listener(t, &scope, &input.listener_arn)?;
            if let Some(same) = l.rules.iter().find(|r| r.priority == input.priority) {
                if same.conditions == conditions && same.actions == actions {
                    return Ok(same.clone());
                }
                return Err(ElbError::PriorityInUse(format!(
                    "Priority '{}' is currently in use",
                    input.priority
                )));
            }
            if l.rules.len() >= MAX_RULES_PER_LISTENER {
                return Err(ElbError::TooManyRules(format!(
                    "A listener can have at most {MAX_RULES_PER_LISTENER} rules"
                )));
            }
            let lb = load_balancer(t, &scope, &l.load_balancer_arn)?;
            check_forward_targets(t, &scope, &lb, &actions)?;
            let rule = Rule {
                arn: new_rule_arn(&l.arn),
                priority: input.priority,
                conditions,
                actions,
                tags: input.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect(),
            };
            l.rules.push(rule.clone());
            save(t, &scope, &mut l)?;
            Ok(rule)
        })
        .await?;
    Ok(json!({ "Rules": [rule_output(&rule)] }))
}

pub async fn describe_rules(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::DescribeRulesInput = parse(input)?;
    if input.listener_arn.is_none() && input.rule_arns.is_empty() {
        return Err(ElbError::Validation(
            "You must specify either a listener ARN or rule ARNs".into(),
        ));
    }
    let size = crate::api::page_size(input.page_size)?;
    let scope = scope(ctx);
    let rules = store
        .read(move |t| {
            let mut out: Vec<(String, Value)> = Vec::new();
            if let Some(arn) = &input.listener_arn {
                let l = listener(t, &scope, arn)?;
                out.extend(l.rules.iter().map(|r| (r.arn.clone(), rule_output(r))));
                out.push((l.default_rule_arn.clone(), default_rule_output(&l)));
            }
            for arn in &input.rule_arns {
                if out.iter().any(|(a, _)| a == arn) {
                    continue;
                }
                let l = listener_of_rule(t, &scope, arn)?;
                match l.rules.iter().find(|r| &r.arn == arn) {
                    Some(r) => out.push((arn.clone(), rule_output(r))),
                    None => out.push((arn.clone(), default_rule_output(&l))),
                }
            }
            Ok::<_, ElbError>(out)
        })
        .await?;
    let start = match &input.marker {
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| ElbError::Validation(format!("Marker '{m}' is not valid")))?,
        None => 0,
    };
    let page: Vec<Value> = rules.iter().skip(start).take(size).map(|(_, v)| v.clone()).collect();
    let next = (rules.len() > start + size).then(|| (start + size).to_string());
    Ok(json!({ "Rules": page, "NextMarker": next }))
}

pub async fn modify_rule(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::ModifyRuleInput = parse(input)?;
    if !input.transforms.is_empty() {
        return Err(ElbError::InvalidConfigurationRequest(
            "Rule transforms are not available in haneul yet".into(),
        ));
    }
    let mut conditions = input.conditions.clone();
    if !conditions.is_empty() {
        normalize_conditions(&mut conditions)?;
    }
    let mut actions = input.actions.clone();
    if !actions.is_empty() {
        normalize_actions(&mut actions)?;
    }
    let scope = scope(ctx);
    let out = store
        .write(move |t| {
            let mut l = listener_of_rule(t, &scope, &input.rule_arn)?;
            let lb = load_balancer(t, &scope, &l.load_balancer_arn)?;
            if !actions.is_empty() {
                check_forward_targets(t, &scope, &lb, &actions)?;
            }
            if l.default_rule_arn == input.rule_arn {
                if !conditions.is_empty() {
                    return Err(ElbError::OperationNotPermitted(
                        "The default rule cannot have conditions".into(),
                    ));
                }
                if !actions.is_empty() {
                    l.default_actions = actions;
                }
                save(t, &scope, &mut l)?;
                return Ok(default_rule_output(&l));
            }
            let rule = l
                .rules
                .iter_mut()
                .find(|r| r.arn == input.rule_arn)
                .ok_or_else(|| rule_not_found(&input.rule_arn))?;
            if !conditions.is_empty() {
                rule.conditions = conditions;
            }
            if !actions.is_empty() {
                rule.actions = actions;
            }
            let out = rule_output(rule);
            save(t, &scope, &mut l)?;
            Ok(out)
        })
        .await?;
    Ok(json!({ "Rules": [out] }))
}

pub async fn delete_rule(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::DeleteRuleInput = parse(input)?;
    let scope = scope(ctx);
    store
        .write(move |t| {
            let mut l = listener_of_rule(t, &scope, &input.rule_arn)?;
            if l.default_rule_arn == input.rule_arn {
                return Err(ElbError::OperationNotPermitted(format!(
                    "Default rule '{}' cannot be deleted",
                    input.rule_arn
                )));
            }
            l.rules.retain(|r| r.arn != input.rule_arn);
            save(t, &scope, &mut l)
        })
        .await?;
    Ok(json!({}))
}

pub async fn set_rule_priorities(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::SetRulePrioritiesInput = parse(input)?;
    let mut wanted: Vec<(String, i64)> = Vec::new();
    for pair in &input.rule_priorities {
        let arn = pair
            .rule_arn
            .clone()
            .ok_or_else(|| ElbError::Validation("Each rule priority pair needs a rule ARN".into()))?;
        let priority = pair
            .priority
            .ok_or_else(|| ElbError::Validation("Each rule priority pair needs a priority".into()))?;
        check_priority(priority)?;
        wanted.push((arn, priority));
    }
    let scope = scope(ctx);
    let rules = store
        .write(move |t| {
            let mut changed: Vec<Listener> = Vec::new();
            for (arn, priority) in &wanted {
                let position = changed.iter().position(|l| l.rules.iter().any(|r| &r.arn == arn));
                let l = match position {
                    Some(i) => &mut changed[i],
                    None => {
                        changed.push(listener_of_rule(t, &scope, arn)?);
                        let last = changed.len() - 1;
                        &mut changed[last]
                    }
                };
                if &l.default_rule_arn == arn {
                    return Err(ElbError::OperationNotPermitted(
                        "The default rule's priority cannot be changed".into(),
                    ));
                }
                if let Some(r) = l.rules.iter_mut().find(|r| &r.arn == arn) {
                    r.priority = *priority;
                }
            }
            let mut out = Vec::new();
            for l in &mut changed {
                let mut priorities: Vec<i64> = l.rules.iter().map(|r| r.priority).collect();
                priorities.sort();
                if let Some(w) = priorities.windows(2).find(|w| w[0] == w[1]) {
                    return Err(ElbError::PriorityInUse(format!(
                        "Priority '{}' is currently in use",
                        w[0]
                    )));
                }
                out.extend(
                    l.rules
                        .iter()
                        .filter(|r| wanted.iter().any(|(a, _)| a == &r.arn))
                        .map(rule_output),
                );
                save(t, &scope, l)?;
            }
            Ok::<_, ElbError>(out)
        })
        .await?;
    Ok(json!({ "Rules": rules }))
}

//! Create/Describe/Update/Delete/ValidatePullThroughCacheRule. The rules are applied by the
//! registry on a pull ([`crate::pullthrough`]).

use haneul_wire::RequestContext;
use serde_json::Value;

use super::{decode_token, encode_token, output, output_with_lists, page_size, registry_id};
use crate::error::EcrError;
use crate::generated as api;
use crate::pullthrough::rules::{self, normalize_prefix, Rule, KIND_RULE, MAX_RULES, ROOT};
use crate::pullthrough::upstream::{self, Upstream};
use crate::{now_s, parse, scope, Ecr};

/// Upstreams that can only be reached with credentials (a Secrets Manager secret in ECR).
const NEEDS_CREDENTIALS: [&str; 4] = [
    "docker-hub",
    "github-container-registry",
    "gitlab-container-registry",
    "azure-container-registry",
];

fn own_registry(ctx: &RequestContext, given: Option<&str>) -> Result<String, EcrError> {
    let registry = registry_id(ctx, given);
    if registry != ctx.account_id {
        return Err(EcrError::InvalidParameter(format!(
            "Invalid parameter at 'registryId' failed to satisfy constraint: 'registryId {registry} is not the caller's account'"
        )));
    }
    Ok(registry)
}

fn not_found(prefix: &str, registry: &str) -> EcrError {
    EcrError::PullThroughCacheRuleNotFound(format!(
        "The pull through cache rule with prefix '{prefix}' does not exist in the registry with id '{registry}'"
    ))
}

fn view(rule: &Rule, registry: &str) -> api::PullThroughCacheRule {
    api::PullThroughCacheRule {
        created_at: Some(rule.created_at),
        credential_arn: rule.credential_arn.clone(),
        custom_role_arn: rule.custom_role_arn.clone(),
        ecr_repository_prefix: Some(rule.prefix.clone()),
        registry_id: Some(registry.to_string()),
        updated_at: rule.updated_at.or(Some(rule.created_at)),
        upstream_registry: Some(rule.upstream_registry.clone()),
        upstream_registry_url: Some(rule.upstream_url.clone()),
        upstream_repository_prefix: Some(rule.upstream_prefix.clone().unwrap_or_else(|| ROOT.into())),
    }
}

/// The rule as an operation's output: the rule's members less those its shape lacks.
fn rule_output(rule: &Rule, registry: &str, absent: &[&str]) -> Result<Value, EcrError> {
    let mut v = output(&view(rule, registry))?;
    if let Value::Object(map) = &mut v {
        for name in absent {
            map.remove(*name);
        }
    }
    Ok(v)
}

pub async fn create(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::CreatePullThroughCacheRuleRequest = parse(input)?;
    let registry = own_registry(ctx, input.registry_id.as_deref())?;
    let prefix = normalize_prefix(&input.ecr_repository_prefix);
    let url = input.upstream_registry_url.trim().to_string();
    let by_url = rules::registry_of(&url).ok_or_else(|| {
        EcrError::UnsupportedUpstreamRegistry(format!(
            "The upstream registry URL '{url}' is not a supported upstream registry"
        ))
    })?;
    let upstream_registry = match input.upstream_registry.as_deref() {
        None => by_url.to_string(),
        Some(given) if given == by_url => given.to_string(),
        Some(given) => {
            return Err(EcrError::InvalidParameter(format!(
                "Invalid parameter at 'upstreamRegistryUrl' failed to satisfy constraint: '{url}' is not a {given} registry URL"
            )))
        }
    };
    let ecr_to_ecr = upstream_registry == "ecr";
    if !ecr_to_ecr && (prefix == ROOT || input.upstream_repository_prefix.is_some()) {
        return Err(EcrError::InvalidParameter(
            "Invalid parameter: ROOT and upstreamRepositoryPrefix are only supported for ECR to ECR pull through cache rules".into(),
        ));
    }
    if NEEDS_CREDENTIALS.contains(&upstream_registry.as_str()) && input.credential_arn.is_none() {
        return Err(EcrError::InvalidParameter(format!(
            "Invalid parameter: a credentialArn is required for the upstream registry '{upstream_registry}'"
        )));
    }
    let upstream_prefix = input.upstream_repository_prefix.as_deref().map(normalize_prefix);
    let rule = Rule {
        prefix: prefix.clone(),
        upstream_url: url,
        upstream_registry,
        upstream_prefix,
        credential_arn: input.credential_arn,
        custom_role_arn: input.custom_role_arn,
        created_at: now_s(),
        updated_at: None,
    };
    let scope = scope(ctx);
    let stored = rule.clone();
    let reg = registry.clone();
    ecr.store
        .write(move |t| {
            if t.exists(&scope, KIND_RULE, &stored.prefix)? {
                return Err(EcrError::PullThroughCacheRuleAlreadyExists(format!(
                    "A pull through cache rule with prefix '{}' already exists in the registry with id '{reg}'",
                    stored.prefix
                )));
            }
            let existing: Vec<(String, Rule)> = t.list(&scope, KIND_RULE)?;
            if existing.len() >= MAX_RULES {
                return Err(EcrError::LimitExceeded(format!(
                    "The maximum number of pull through cache rules ({MAX_RULES}) for the registry has been reached"
                )));
            }
            t.put(&scope, KIND_RULE, &stored.prefix, &stored)?;
            Ok(())
        })
        .await?;
    rule_output(&rule, &registry, &["updatedAt"])
}

pub async fn describe(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::DescribePullThroughCacheRulesRequest = parse(input)?;
    let registry = own_registry(ctx, input.registry_id.as_deref())?;
    let after = decode_token(input.next_token.as_deref())?;
    let size = page_size(input.max_results, 100);
    let scope = scope(ctx);
    let mut all: Vec<(String, Rule)> = ecr.store.read(move |t| t.list(&scope, KIND_RULE)).await?;
    all.sort_by(|a, b| a.0.cmp(&b.0));
    if !input.ecr_repository_prefixes.is_empty() {
        let wanted: Vec<String> = input
            .ecr_repository_prefixes
            .iter()
            .map(|p| normalize_prefix(p))
            .collect();
        if let Some(missing) = wanted.iter().find(|p| !all.iter().any(|(id, _)| id == *p)) {
            return Err(not_found(missing, &registry));
        }
        all.retain(|(id, _)| wanted.contains(id));
    }
    let rest: Vec<&(String, Rule)> = all
        .iter()
        .filter(|(id, _)| after.as_ref().is_none_or(|a| id > a))
        .collect();
    let page: Vec<&(String, Rule)> = rest.iter().take(size).copied().collect();
    let next_token = (rest.len() > page.len())
        .then(|| page.last().map(|(id, _)| encode_token(id)))
        .flatten();
    output_with_lists(
        &api::DescribePullThroughCacheRulesResponse {
            next_token,
            pull_through_cache_rules: page.iter().map(|(_, r)| view(r, &registry)).collect(),
        },
        &["pullThroughCacheRules"],
    )
}

pub async fn delete(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::DeletePullThroughCacheRuleRequest = parse(input)?;
    let registry = own_registry(ctx, input.registry_id.as_deref())?;
    let prefix = normalize_prefix(&input.ecr_repository_prefix);
    let scope = scope(ctx);
    let reg = registry.clone();
    let rule = ecr
        .store
        .write(move |t| {
            let rule: Rule = t
                .get(&scope, KIND_RULE, &prefix)?
                .ok_or_else(|| not_found(&prefix, &reg))?;
            t.delete(&scope, KIND_RULE, &prefix)?;
            Ok::<_, EcrError>(rule)
        })
        .await?;
    rule_output(&rule, &registry, &["updatedAt", "upstreamRegistry"])
}

pub async fn update(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::UpdatePullThroughCacheRuleRequest = parse(input)?;
    let registry = own_registry(ctx, input.registry_id.as_deref())?;
    if input.credential_arn.is_none() && input.custom_role_arn.is_none() {
        return Err(EcrError::InvalidParameter(
            "Invalid parameter: give a credentialArn or a customRoleArn to update".into(),
        ));
    }
    let prefix = normalize_prefix(&input.ecr_repository_prefix);
    let scope = scope(ctx);
    let reg = registry.clone();
    let rule = ecr
        .store
        .write(move |t| {
            let mut rule: Rule = t
                .get(&scope, KIND_RULE, &prefix)?
                .ok_or_else(|| not_found(&prefix, &reg))?;
            if let Some(c) = input.credential_arn {
                rule.credential_arn = Some(c);
            }
            if let Some(r) = input.custom_role_arn {
                rule.custom_role_arn = Some(r);
            }
            rule.updated_at = Some(now_s());
            t.put(&scope, KIND_RULE, &prefix, &rule)?;
            Ok::<_, EcrError>(rule)
        })
        .await?;
    rule_output(
        &rule,
        &registry,
        &["createdAt", "upstreamRegistry", "upstreamRegistryUrl"],
    )
}

/// Really asks the upstream: `GET /v2/` with the credentials its challenge leads to.
pub async fn validate(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::ValidatePullThroughCacheRuleRequest = parse(input)?;
    let registry = own_registry(ctx, input.registry_id.as_deref())?;
    let prefix = normalize_prefix(&input.ecr_repository_prefix);
    let scope = scope(ctx);
    let id = prefix.clone();
    let rule: Rule = ecr
        .store
        .read(move |t| t.get(&scope, KIND_RULE, &id))
        .await?
        .ok_or_else(|| not_found(&prefix, &registry))?;
    let checked = match upstream::base_url(&rule.upstream_url) {
        Ok(base) => Upstream::new(&ecr.upstream, base, String::new()).check().await,
        Err(e) => Err(e),
    };
    let mut v = rule_output(&rule, &registry, &["createdAt", "updatedAt", "upstreamRegistry"])?;
    if let Value::Object(map) = &mut v {
        map.insert("isValid".into(), Value::Bool(checked.is_ok()));
        if let Err(e) = checked {
            map.insert("failure".into(), Value::String(e.to_string()));
        }
    }
    Ok(v)
}

//! Repository policies, lifecycle policies (and their preview), the registry policy,
//! DescribeRegistry and the replication configuration. Policies are checked as IAM policy
//! documents and stored; their enforcement comes with IAM.

use haneul_wire::RequestContext;
use serde_json::Value;

use super::repositories::update_repository;
use super::{load, output};
use crate::error::EcrError;
use crate::generated as api;
use crate::model::*;
use crate::{lifecycle, parse, scope, Ecr};

/// The largest policy text ECR stores.
pub const MAX_POLICY_BYTES: usize = 10_240;
/// The largest lifecycle policy text ECR stores.
pub const MAX_LIFECYCLE_POLICY_BYTES: usize = 30_720;

/// Whether `text` is an IAM policy document: statements with an Effect and actions; a
/// resource policy's statements also name a Principal.
fn valid_policy(text: &str, needs_principal: bool) -> bool {
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(items)) if !items.is_empty() => items.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return false,
    };
    statements.iter().all(|s| {
        let Value::Object(s) = s else { return false };
        let effect = matches!(s.get("Effect").and_then(Value::as_str), Some("Allow" | "Deny"));
        let actions = s.contains_key("Action") || s.contains_key("NotAction");
        let principal = !needs_principal || s.contains_key("Principal") || s.contains_key("NotPrincipal");
        effect && actions && principal
    })
}

fn check_policy(text: &str, what: &str) -> Result<(), EcrError> {
    if text.len() > MAX_POLICY_BYTES || !valid_policy(text, true) {
        return Err(EcrError::InvalidParameter(format!(
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid {what} policy provided'"
        )));
    }
    Ok(())
}

pub async fn set_repository_policy(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::SetRepositoryPolicyRequest = parse(input)?;
    check_policy(&input.policy_text, "repository")?;
    let text = input.policy_text.clone();
    let repo = update_repository(ecr, ctx, input.registry_id, input.repository_name, move |r| {
        r.policy = Some(text);
        Ok(())
    })
    .await?;
    output(&api::SetRepositoryPolicyResponse {
        policy_text: repo.policy.clone(),
        registry_id: Some(repo.registry_id.clone()),
        repository_name: Some(repo.name.clone()),
    })
}

fn no_repository_policy(repo: &Repository) -> EcrError {
    EcrError::RepositoryPolicyNotFound(format!(
        "Repository policy does not exist for the repository with name '{}' in the registry with id '{}'",
        repo.name, repo.registry_id
    ))
}

pub async fn get_repository_policy(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::GetRepositoryPolicyRequest = parse(input)?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    let repo = ecr
        .store
        .read(move |t| load(t, &scope, &ctx2, input.registry_id.as_deref(), &input.repository_name))
        .await?;
    let text = repo.policy.clone().ok_or_else(|| no_repository_policy(&repo))?;
    output(&api::GetRepositoryPolicyResponse {
        policy_text: Some(text),
        registry_id: Some(repo.registry_id.clone()),
        repository_name: Some(repo.name.clone()),
    })
}

pub async fn delete_repository_policy(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::DeleteRepositoryPolicyRequest = parse(input)?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    let (repo, text) = ecr
        .store
        .write(move |t| {
            let mut repo = load(t, &scope, &ctx2, input.registry_id.as_deref(), &input.repository_name)?;
            let text = repo.policy.take().ok_or_else(|| no_repository_policy(&repo))?;
            t.put(&scope, KIND_REPOSITORY, &repo.name, &repo)?;
            Ok::<_, EcrError>((repo, text))
        })
        .await?;
    output(&api::DeleteRepositoryPolicyResponse {
        policy_text: Some(text),
        registry_id: Some(repo.registry_id.clone()),
        repository_name: Some(repo.name.clone()),
    })
}

pub async fn put_lifecycle_policy(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::PutLifecyclePolicyRequest = parse(input)?;
    if input.lifecycle_policy_text.len() > MAX_LIFECYCLE_POLICY_BYTES {
        return Err(EcrError::InvalidParameter(format!(
            "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Member must have length less than or equal to {MAX_LIFECYCLE_POLICY_BYTES}'"
        )));
    }
    lifecycle::parse(&input.lifecycle_policy_text).map_err(EcrError::InvalidParameter)?;
    let text = input.lifecycle_policy_text.clone();
    let repo = update_repository(ecr, ctx, input.registry_id, input.repository_name, move |r| {
        r.lifecycle_policy = Some(text);
        Ok(())
    })
    .await?;
    output(&api::PutLifecyclePolicyResponse {
        lifecycle_policy_text: repo.lifecycle_policy.clone(),
        registry_id: Some(repo.registry_id.clone()),
        repository_name: Some(repo.name.clone()),
    })
}

fn no_lifecycle_policy(repo: &Repository) -> EcrError {
    EcrError::LifecyclePolicyNotFound(format!(
        "Lifecycle policy does not exist for the repository with name '{}' in the registry with id '{}'",
        repo.name, repo.registry_id
    ))
}

pub async fn get_lifecycle_policy(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::GetLifecyclePolicyRequest = parse(input)?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    let repo = ecr
        .store
        .read(move |t| load(t, &scope, &ctx2, input.registry_id.as_deref(), &input.repository_name))
        .await?;
    let text = repo
        .lifecycle_policy
        .clone()
        .ok_or_else(|| no_lifecycle_policy(&repo))?;
    output(&api::GetLifecyclePolicyResponse {
        last_evaluated_at: repo.lifecycle_evaluated_at,
        lifecycle_policy_text: Some(text),
        registry_id: Some(repo.registry_id.clone()),
        repository_name: Some(repo.name.clone()),
    })
}

pub async fn delete_lifecycle_policy(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::DeleteLifecyclePolicyRequest = parse(input)?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    let (repo, text) = ecr
        .store
        .write(move |t| {
            let mut repo = load(t, &scope, &ctx2, input.registry_id.as_deref(), &input.repository_name)?;
            let text = repo.lifecycle_policy.take().ok_or_else(|| no_lifecycle_policy(&repo))?;
            t.put(&scope, KIND_REPOSITORY, &repo.name, &repo)?;
            Ok::<_, EcrError>((repo, text))
        })
        .await?;
    output(&api::DeleteLifecyclePolicyResponse {
        last_evaluated_at: repo.lifecycle_evaluated_at,
        lifecycle_policy_text: Some(text),
        registry_id: Some(repo.registry_id.clone()),
        repository_name: Some(repo.name.clone()),
    })
}

/// StartLifecyclePolicyPreview: the policy given (or the repository's) evaluated against the
/// images now, by the same [`lifecycle::evaluate`] the periodic pass applies. It completes
/// at once, so GetLifecyclePolicyPreview finds it COMPLETE.
pub async fn start_lifecycle_preview(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::StartLifecyclePolicyPreviewRequest = parse(input)?;
    if let Some(text) = &input.lifecycle_policy_text {
        lifecycle::parse(text).map_err(EcrError::InvalidParameter)?;
    }
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    let (repo, text) = ecr
        .store
        .write(move |t| {
            let repo = load(t, &scope, &ctx2, input.registry_id.as_deref(), &input.repository_name)?;
            let text = match input.lifecycle_policy_text.or_else(|| repo.lifecycle_policy.clone()) {
                Some(text) => text,
                None => return Err(no_lifecycle_policy(&repo)),
            };
            let policy = lifecycle::parse(&text).map_err(EcrError::InvalidParameter)?;
            let images: Vec<Image> = t
                .list_prefix(&scope, KIND_IMAGE, &repository_prefix(&repo.name))?
                .into_iter()
                .map(|(_, i)| i)
                .collect();
            let expiring = lifecycle::evaluate(&policy, &images, crate::now_s())
                .into_iter()
                .map(|(i, priority)| PreviewedImage {
                    digest: i.digest.clone(),
                    tags: i.tags.clone(),
                    pushed_at: i.pushed_at,
                    rule_priority: priority,
                })
                .collect();
            let preview = LifecyclePreview {
                policy: text.clone(),
                expiring,
            };
            t.put(&scope, KIND_LIFECYCLE_PREVIEW, &repo.name, &preview)?;
            Ok::<_, EcrError>((repo, text))
        })
        .await?;
    output(&api::StartLifecyclePolicyPreviewResponse {
        lifecycle_policy_text: Some(text),
        registry_id: Some(repo.registry_id.clone()),
        repository_name: Some(repo.name.clone()),
        status: Some("IN_PROGRESS".into()),
    })
}

pub async fn get_lifecycle_preview(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::GetLifecyclePolicyPreviewRequest = parse(input)?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    let name = input.repository_name.clone();
    let (repo, preview) = ecr
        .store
        .read(move |t| {
            let repo = load(t, &scope, &ctx2, input.registry_id.as_deref(), &name)?;
            let preview: Option<LifecyclePreview> = t.get(&scope, KIND_LIFECYCLE_PREVIEW, &repo.name)?;
            Ok::<_, EcrError>((repo, preview))
        })
        .await?;
    let preview = preview.ok_or_else(|| {
        EcrError::LifecyclePolicyPreviewNotFound(format!(
            "There is no lifecycle policy preview for the repository with name '{}' in the registry with id '{}'",
            repo.name, repo.registry_id
        ))
    })?;
    let status_filter = input.filter.and_then(|f| f.tag_status);
    let results: Vec<api::LifecyclePolicyPreviewResult> = preview
        .expiring
        .iter()
        .filter(|p| match status_filter.as_deref() {
            Some("TAGGED") => !p.tags.is_empty(),
            Some("UNTAGGED") => p.tags.is_empty(),
            _ => true,
        })
        .filter(|p| {
            input.image_ids.is_empty()
                || input.image_ids.iter().any(|id| {
                    id.image_digest.as_deref() == Some(p.digest.as_str())
                        || id.image_tag.as_ref().is_some_and(|t| p.tags.contains(t))
                })
        })
        .map(|p| api::LifecyclePolicyPreviewResult {
            action: Some(api::LifecyclePolicyRuleAction {
                r#type: Some("EXPIRE".into()),
                ..Default::default()
            }),
            applied_rule_priority: Some(p.rule_priority),
            image_digest: Some(p.digest.clone()),
            image_pushed_at: Some(p.pushed_at),
            image_tags: p.tags.clone(),
            storage_class: Some("STANDARD".into()),
        })
        .collect();
    let total = preview.expiring.len() as i64;
    super::output_with_lists(
        &api::GetLifecyclePolicyPreviewResponse {
            lifecycle_policy_text: Some(preview.policy),
            next_token: None,
            preview_results: results,
            registry_id: Some(repo.registry_id.clone()),
            repository_name: Some(repo.name.clone()),
            status: Some("COMPLETE".into()),
            summary: Some(api::LifecyclePolicyPreviewSummary {
                expiring_image_total_count: Some(total),
                ..Default::default()
            }),
        },
        &["previewResults"],
    )
}

async fn registry_settings(ecr: &Ecr, ctx: &RequestContext) -> Result<RegistrySettings, EcrError> {
    let scope = scope(ctx);
    let settings: Option<RegistrySettings> = ecr
        .store
        .read(move |t| t.get(&scope, KIND_REGISTRY, REGISTRY_ID))
        .await?;
    Ok(settings.unwrap_or_default())
}

async fn update_registry(
    ecr: &Ecr,
    ctx: &RequestContext,
    change: impl FnOnce(&mut RegistrySettings) -> Result<(), EcrError> + Send + 'static,
) -> Result<RegistrySettings, EcrError> {
    let scope = scope(ctx);
    ecr.store
        .write(move |t| {
            let mut settings: RegistrySettings = t.get(&scope, KIND_REGISTRY, REGISTRY_ID)?.unwrap_or_default();
            change(&mut settings)?;
            t.put(&scope, KIND_REGISTRY, REGISTRY_ID, &settings)?;
            Ok(settings)
        })
        .await
}

pub async fn put_registry_policy(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::PutRegistryPolicyRequest = parse(input)?;
    check_policy(&input.policy_text, "registry")?;
    let text = input.policy_text.clone();
    update_registry(ecr, ctx, move |s| {
        s.policy = Some(text);
        Ok(())
    })
    .await?;
    output(&api::PutRegistryPolicyResponse {
        policy_text: Some(input.policy_text),
        registry_id: Some(ctx.account_id.clone()),
    })
}

fn no_registry_policy(ctx: &RequestContext) -> EcrError {
    EcrError::RegistryPolicyNotFound(format!(
        "Registry policy does not exist in the registry with id '{}'",
        ctx.account_id
    ))
}

pub async fn get_registry_policy(ecr: &Ecr, ctx: &RequestContext, _input: Value) -> Result<Value, EcrError> {
    let text = registry_settings(ecr, ctx)
        .await?
        .policy
        .ok_or_else(|| no_registry_policy(ctx))?;
    output(&api::GetRegistryPolicyResponse {
        policy_text: Some(text),
        registry_id: Some(ctx.account_id.clone()),
    })
}

pub async fn delete_registry_policy(ecr: &Ecr, ctx: &RequestContext, _input: Value) -> Result<Value, EcrError> {
    let current = registry_settings(ecr, ctx).await?.policy;
    let text = current.ok_or_else(|| no_registry_policy(ctx))?;
    let missing = no_registry_policy(ctx).to_string();
    update_registry(ecr, ctx, move |s| {
        s.policy
            .take()
            .map(|_| ())
            .ok_or(EcrError::RegistryPolicyNotFound(missing))
    })
    .await?;
    output(&api::DeleteRegistryPolicyResponse {
        policy_text: Some(text),
        registry_id: Some(ctx.account_id.clone()),
    })
}

fn replication_view(settings: &RegistrySettings) -> Result<api::ReplicationConfiguration, EcrError> {
    match &settings.replication {
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| EcrError::Internal(format!("stored replication configuration does not decode: {e}"))),
        None => Ok(api::ReplicationConfiguration::default()),
    }
}

pub async fn describe_registry(ecr: &Ecr, ctx: &RequestContext, _input: Value) -> Result<Value, EcrError> {
    let settings = registry_settings(ecr, ctx).await?;
    output(&api::DescribeRegistryResponse {
        registry_id: Some(ctx.account_id.clone()),
        replication_configuration: Some(replication_view(&settings)?),
    })
}

pub async fn put_replication(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::PutReplicationConfigurationRequest = parse(input)?;
    let config = input.replication_configuration;
    for rule in &config.rules {
        if let Some(d) = rule
            .destinations
            .iter()
            .find(|d| d.region == ctx.region && d.registry_id == ctx.account_id)
        {
            return Err(EcrError::InvalidParameter(format!(
                "Invalid parameter at 'replicationConfiguration': a destination cannot be the source registry itself ({} in {})",
                d.registry_id, d.region
            )));
        }
    }
    let stored = serde_json::to_value(&config).map_err(|e| EcrError::Internal(e.to_string()))?;
    let settings = update_registry(ecr, ctx, move |s| {
        s.replication = Some(stored);
        Ok(())
    })
    .await?;
    output(&api::PutReplicationConfigurationResponse {
        replication_configuration: Some(replication_view(&settings)?),
    })
}

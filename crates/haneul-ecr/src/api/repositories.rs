//! CreateRepository, DescribeRepositories, DeleteRepository, PutImageTagMutability,
//! PutImageScanningConfiguration.

use haneul_wire::RequestContext;
use serde_json::Value;

use super::{decode_token, encode_token, load, output, output_with_lists, page_size, registry_id};
use crate::error::EcrError;
use crate::generated as api;
use crate::model::*;
use crate::{now_s, parse, scope, Ecr};

/// DescribeRepositories' page size when none is asked for.
const DEFAULT_PAGE: usize = 100;

/// A repository as the API shows it.
pub fn view(ecr: &Ecr, repo: &Repository) -> api::Repository {
    api::Repository {
        created_at: Some(repo.created_at),
        encryption_configuration: Some(api::EncryptionConfiguration {
            encryption_type: repo.encryption_type.clone(),
            kms_key: repo.kms_key.clone(),
        }),
        image_scanning_configuration: Some(api::ImageScanningConfiguration {
            scan_on_push: Some(repo.scan_on_push),
        }),
        image_tag_mutability: Some(repo.tag_mutability.clone()),
        image_tag_mutability_exclusion_filters: exclusion_view(&repo.mutability_exclusions),
        registry_id: Some(repo.registry_id.clone()),
        repository_arn: Some(repo.arn.clone()),
        repository_name: Some(repo.name.clone()),
        repository_uri: Some(format!("{}/{}", ecr.registry_host(), repo.name)),
    }
}

fn exclusion_view(filters: &[ExclusionFilter]) -> Vec<api::ImageTagMutabilityExclusionFilter> {
    filters
        .iter()
        .map(|f| api::ImageTagMutabilityExclusionFilter {
            filter: f.filter.clone(),
            filter_type: f.filter_type.clone(),
        })
        .collect()
}

/// Checks a mutability setting and its exclusion filters as ECR does.
fn mutability(
    setting: Option<&str>,
    filters: &[api::ImageTagMutabilityExclusionFilter],
) -> Result<(String, Vec<ExclusionFilter>), EcrError> {
    let setting = setting.unwrap_or("MUTABLE").to_string();
    let with_exclusions = setting.ends_with("_WITH_EXCLUSION");
    if with_exclusions && filters.is_empty() {
        return Err(EcrError::InvalidParameter(format!(
            "imageTagMutabilityExclusionFilters must be provided when imageTagMutability is {setting}"
        )));
    }
    if !with_exclusions && !filters.is_empty() {
        return Err(EcrError::InvalidParameter(format!(
            "imageTagMutabilityExclusionFilters can only be used when imageTagMutability is IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION, not {setting}"
        )));
    }
    if filters.len() > 5 {
        return Err(EcrError::InvalidParameter(
            "A repository can have at most 5 image tag mutability exclusion filters".into(),
        ));
    }
    let stored = filters
        .iter()
        .map(|f| ExclusionFilter {
            filter_type: f.filter_type.clone(),
            filter: f.filter.clone(),
        })
        .collect();
    Ok((setting, stored))
}

pub async fn create(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::CreateRepositoryRequest = parse(input)?;
    super::check_name(&input.repository_name)?;
    let registry = registry_id(ctx, input.registry_id.as_deref());
    if registry != ctx.account_id {
        return Err(EcrError::InvalidParameter(format!(
            "Invalid parameter at 'registryId' failed to satisfy constraint: 'registryId {registry} is not the caller's account'"
        )));
    }
    let (tag_mutability, exclusions) = mutability(
        input.image_tag_mutability.as_deref(),
        &input.image_tag_mutability_exclusion_filters,
    )?;
    let tags = super::tags::checked(&input.tags)?;
    let encryption = input.encryption_configuration.clone();
    let encryption_type = encryption
        .as_ref()
        .map(|e| e.encryption_type.clone())
        .unwrap_or_else(|| "AES256".into());
    let kms_key = match (encryption_type.as_str(), encryption.and_then(|e| e.kms_key)) {
        ("AES256", Some(_)) => {
            return Err(EcrError::InvalidParameter(
                "Invalid parameter at 'encryptionConfiguration': a KMS key can only be given with encryptionType KMS or KMS_DSSE".into(),
            ))
        }
        ("AES256", None) => None,
        (_, Some(k)) => Some(k),
        (_, None) => Some(format!("arn:aws:kms:{}:{}:alias/aws/ecr", ctx.region, ctx.account_id)),
    };
    let repo = Repository {
        name: input.repository_name.clone(),
        arn: format!(
            "arn:aws:ecr:{}:{}:repository/{}",
            ctx.region, ctx.account_id, input.repository_name
        ),
        registry_id: ctx.account_id.clone(),
        created_at: now_s(),
        tag_mutability,
        mutability_exclusions: exclusions,
        scan_on_push: input
            .image_scanning_configuration
            .and_then(|c| c.scan_on_push)
            .unwrap_or(false),
        encryption_type,
        kms_key,
        policy: None,
        lifecycle_policy: None,
        lifecycle_evaluated_at: None,
        tags,
    };
    let scope = scope(ctx);
    let stored = repo.clone();
    ecr.store
        .write(move |t| {
            if t.exists(&scope, KIND_REPOSITORY, &stored.name)? {
                return Err(EcrError::RepositoryAlreadyExists(
                    stored.name.clone(),
                    stored.registry_id.clone(),
                ));
            }
            t.put(&scope, KIND_REPOSITORY, &stored.name, &stored)?;
            Ok(())
        })
        .await?;
    output(&api::CreateRepositoryResponse {
        repository: Some(view(ecr, &repo)),
    })
}

pub async fn describe(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::DescribeRepositoriesRequest = parse(input)?;
    if !input.repository_names.is_empty() && (input.max_results.is_some() || input.next_token.is_some()) {
        return Err(EcrError::InvalidParameter(
            "maxResults and nextToken cannot be used together with repositoryNames".into(),
        ));
    }
    let scope = scope(ctx);
    let ctx2 = ctx.clone();
    let after = decode_token(input.next_token.as_deref())?;
    let n = page_size(input.max_results, DEFAULT_PAGE);
    let (repos, next) = ecr
        .store
        .read(move |t| {
            if !input.repository_names.is_empty() {
                let mut out = Vec::new();
                for name in &input.repository_names {
                    out.push(load(t, &scope, &ctx2, input.registry_id.as_deref(), name)?);
                }
                return Ok((out, None));
            }
            let registry = registry_id(&ctx2, input.registry_id.as_deref());
            if registry != ctx2.account_id {
                return Ok((Vec::new(), None));
            }
            let from = after.map(|a| format!("{a}{SEP}")).unwrap_or_default();
            let mut rows: Vec<Repository> = t
                .list_from(&scope, KIND_REPOSITORY, &from, n + 1)?
                .into_iter()
                .map(|(_, r)| r)
                .collect();
            let next = (rows.len() > n).then(|| {
                rows.truncate(n);
                rows.last().map(|r| encode_token(&r.name))
            });
            Ok::<_, EcrError>((rows, next.flatten()))
        })
        .await?;
    output_with_lists(
        &api::DescribeRepositoriesResponse {
            next_token: next,
            repositories: repos.iter().map(|r| view(ecr, r)).collect(),
        },
        &["repositories"],
    )
}

pub async fn delete(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::DeleteRepositoryRequest = parse(input)?;
    let scope = scope(ctx);
    let ctx2 = ctx.clone();
    let repo = ecr
        .store
        .write(move |t| {
            let repo = load(t, &scope, &ctx2, input.registry_id.as_deref(), &input.repository_name)?;
            let prefix = repository_prefix(&repo.name);
            if !input.force.unwrap_or(false) && t.count_prefix(&scope, KIND_IMAGE, &prefix)? > 0 {
                return Err(EcrError::RepositoryNotEmpty(
                    repo.name.clone(),
                    repo.registry_id.clone(),
                ));
            }
            crate::images::delete_repository_contents(t, &scope, &repo.name)?;
            t.delete(&scope, KIND_REPOSITORY, &repo.name)?;
            Ok(repo)
        })
        .await?;
    output(&api::DeleteRepositoryResponse {
        repository: Some(view(ecr, &repo)),
    })
}

/// Loads, changes and stores one repository; the changed repository.
pub(crate) async fn update_repository(
    ecr: &Ecr,
    ctx: &RequestContext,
    registry: Option<String>,
    name: String,
    change: impl FnOnce(&mut Repository) -> Result<(), EcrError> + Send + 'static,
) -> Result<Repository, EcrError> {
    let scope = scope(ctx);
    let ctx2 = ctx.clone();
    ecr.store
        .write(move |t| {
            let mut repo = load(t, &scope, &ctx2, registry.as_deref(), &name)?;
            change(&mut repo)?;
            t.put(&scope, KIND_REPOSITORY, &repo.name, &repo)?;
            Ok(repo)
        })
        .await
}

pub async fn put_tag_mutability(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::PutImageTagMutabilityRequest = parse(input)?;
    let (setting, exclusions) = mutability(
        Some(&input.image_tag_mutability),
        &input.image_tag_mutability_exclusion_filters,
    )?;
    let repo = update_repository(
        ecr,
        ctx,
        input.registry_id.clone(),
        input.repository_name.clone(),
        move |r| {
            r.tag_mutability = setting;
            r.mutability_exclusions = exclusions;
            Ok(())
        },
    )
    .await?;
    output(&api::PutImageTagMutabilityResponse {
        image_tag_mutability: Some(repo.tag_mutability.clone()),
        image_tag_mutability_exclusion_filters: exclusion_view(&repo.mutability_exclusions),
        registry_id: Some(repo.registry_id.clone()),
        repository_name: Some(repo.name.clone()),
    })
}

pub async fn put_scanning(ecr: &Ecr, ctx: &RequestContext, input: Value) -> Result<Value, EcrError> {
    let input: api::PutImageScanningConfigurationRequest = parse(input)?;
    let scan_on_push = input.image_scanning_configuration.scan_on_push.unwrap_or(false);
    let repo = update_repository(
        ecr,
        ctx,
        input.registry_id.clone(),
        input.repository_name.clone(),
        move |r| {
            r.scan_on_push = scan_on_push;
            Ok(())
        },
    )
    .await?;
    output(&api::PutImageScanningConfigurationResponse {
        image_scanning_configuration: Some(api::ImageScanningConfiguration {
            scan_on_push: Some(repo.scan_on_push),
        }),
        registry_id: Some(repo.registry_id.clone()),
        repository_name: Some(repo.name.clone()),
    })
}

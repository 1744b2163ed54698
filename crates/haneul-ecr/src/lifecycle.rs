//! Lifecycle policies: checking a policy text as ECR does, and working out which images it
//! expires. The same [`evaluate`] serves StartLifecyclePolicyPreview and the periodic pass
//! ([`run`]) that really deletes them.

use std::time::Duration;

use haneul_store::{Scope, StoreError};
use serde::Deserialize;

use crate::model::*;
use crate::names::wildcard_match;
use crate::Ecr;

/// How often lifecycle policies are applied (ECR applies them within a day; haneul sooner).
pub const LIFECYCLE_INTERVAL_S: u64 = 600;
/// Most wildcards one tagPatternList entry may have.
pub const MAX_PATTERN_WILDCARDS: usize = 4;
const SECONDS_PER_DAY: f64 = 86_400.0;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub rule_priority: i64,
    #[serde(default)]
    pub description: Option<String>,
    pub selection: Selection,
    pub action: Action,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    pub tag_status: String,
    #[serde(default)]
    pub tag_prefix_list: Vec<String>,
    #[serde(default)]
    pub tag_pattern_list: Vec<String>,
    pub count_type: String,
    #[serde(default)]
    pub count_unit: Option<String>,
    pub count_number: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Action {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

fn failure(reason: impl std::fmt::Display) -> String {
    format!("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: {reason}'")
}

/// Parses and checks a policy text; the error is ECR's InvalidParameterException message.
pub fn parse(text: &str) -> Result<Policy, String> {
    let mut policy: Policy = serde_json::from_str(text).map_err(failure)?;
    if policy.rules.is_empty() {
        return Err(failure("at least one rule is required"));
    }
    policy.rules.sort_by_key(|r| r.rule_priority);
    let mut seen = std::collections::HashSet::new();
    for (i, rule) in policy.rules.iter().enumerate() {
        if rule.rule_priority < 1 || !seen.insert(rule.rule_priority) {
            return Err(failure(format!(
                "rulePriority {} must be a unique whole number of at least 1",
                rule.rule_priority
            )));
        }
        let s = &rule.selection;
        match s.tag_status.as_str() {
            "tagged" if s.tag_prefix_list.is_empty() && s.tag_pattern_list.is_empty() => {
                return Err(failure(
                    "a rule with tagStatus tagged needs tagPrefixList or tagPatternList",
                ))
            }
            "tagged" if !s.tag_prefix_list.is_empty() && !s.tag_pattern_list.is_empty() => {
                return Err(failure("tagPrefixList and tagPatternList cannot be used together"))
            }
            "tagged" => {}
            "untagged" | "any" if !s.tag_prefix_list.is_empty() || !s.tag_pattern_list.is_empty() => {
                return Err(failure(format!(
                    "tagPrefixList and tagPatternList are only allowed with tagStatus tagged, not {}",
                    s.tag_status
                )))
            }
            "any" if i + 1 != policy.rules.len() => {
                return Err(failure("a rule with tagStatus any must have the highest rulePriority"))
            }
            "untagged" | "any" => {}
            other => {
                return Err(failure(format!(
                    "tagStatus {other} is not one of tagged, untagged, any"
                )))
            }
        }
        if let Some(p) = s
            .tag_pattern_list
            .iter()
            .find(|p| p.matches('*').count() > MAX_PATTERN_WILDCARDS)
        {
            return Err(failure(format!(
                "the tag pattern {p} has more than {MAX_PATTERN_WILDCARDS} wildcards"
            )));
        }
        match (s.count_type.as_str(), s.count_unit.as_deref()) {
            ("imageCountMoreThan", None) => {}
            ("imageCountMoreThan", Some(_)) => {
                return Err(failure("countUnit is only allowed with countType sinceImagePushed"))
            }
            ("sinceImagePushed", Some("days")) => {}
            ("sinceImagePushed", _) => return Err(failure("countType sinceImagePushed needs countUnit days")),
            (other, _) => {
                return Err(failure(format!(
                    "countType {other} is not one of imageCountMoreThan, sinceImagePushed"
                )))
            }
        }
        if s.count_number < 1 {
            return Err(failure("countNumber must be at least 1"));
        }
        if rule.action.kind != "expire" {
            return Err(failure(format!("action type {} is not expire", rule.action.kind)));
        }
    }
    Ok(policy)
}

fn selects(s: &Selection, image: &Image) -> bool {
    match s.tag_status.as_str() {
        "untagged" => image.tags.is_empty(),
        "any" => true,
        _ if !s.tag_prefix_list.is_empty() => s
            .tag_prefix_list
            .iter()
            .all(|p| image.tags.iter().any(|t| t.starts_with(p.as_str()))),
        _ => s
            .tag_pattern_list
            .iter()
            .all(|p| image.tags.iter().any(|t| wildcard_match(p, t))),
    }
}

/// Which images the policy expires at `now_s`, each with the priority of the rule that
/// expires it. An image that a rule's tag selection matches is settled by that rule:
/// lower-priority rules never see it.
pub fn evaluate<'a>(policy: &Policy, images: &'a [Image], now_s: f64) -> Vec<(&'a Image, i64)> {
    let mut settled = vec![false; images.len()];
    let mut expired = Vec::new();
    for rule in &policy.rules {
        let s = &rule.selection;
        let mut matched: Vec<usize> = (0..images.len())
            .filter(|&i| !settled[i] && images[i].parents.is_empty() && selects(s, &images[i]))
            .collect();
        for &i in &matched {
            settled[i] = true;
        }
        matched.sort_by(|&a, &b| images[b].pushed_at.total_cmp(&images[a].pushed_at));
        let doomed: Vec<usize> = match s.count_type.as_str() {
            "imageCountMoreThan" => matched.into_iter().skip(s.count_number.max(0) as usize).collect(),
            _ => matched
                .into_iter()
                .filter(|&i| now_s - images[i].pushed_at > s.count_number as f64 * SECONDS_PER_DAY)
                .collect(),
        };
        expired.extend(doomed.into_iter().map(|i| (&images[i], rule.rule_priority)));
    }
    expired
}

/// Applies every repository's lifecycle policy every `housekeeping.lifecycle_interval_s`
/// (default [`LIFECYCLE_INTERVAL_S`]).
pub async fn run(ecr: std::sync::Arc<Ecr>) {
    let every_s = ecr.housekeeping.lifecycle_interval_s.max(1);
    let mut tick = tokio::time::interval(Duration::from_secs(every_s));
    loop {
        tick.tick().await;
        match apply_all(&ecr).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "ecr lifecycle policies expired images"),
            Err(e) => tracing::warn!(error = %e, "ecr lifecycle pass failed"),
        }
    }
}

/// One pass over every repository with a policy; how many images were expired.
pub async fn apply_all(ecr: &Ecr) -> Result<usize, StoreError> {
    let repos: Vec<(Scope, String)> = ecr
        .store
        .read(|t| {
            let mut out = Vec::new();
            t.for_each_all_scopes(KIND_REPOSITORY, |scope, name, repo: Repository| {
                if repo.lifecycle_policy.is_some() {
                    out.push((scope, name));
                }
                Ok(())
            })?;
            Ok::<_, StoreError>(out)
        })
        .await?;
    let mut total = 0;
    for (scope, name) in repos {
        total += apply(ecr, scope, name).await?;
    }
    Ok(total)
}

/// Applies one repository's policy in one transaction; how many images went.
pub async fn apply(ecr: &Ecr, scope: Scope, name: String) -> Result<usize, StoreError> {
    ecr.store
        .write(move |t| {
            let Some(mut repo) = crate::images::load_repository(t, &scope, &name)? else {
                return Ok(0);
            };
            let Some(policy) = repo.lifecycle_policy.as_deref().and_then(|p| parse(p).ok()) else {
                return Ok(0);
            };
            let images: Vec<Image> = t
                .list_prefix(&scope, KIND_IMAGE, &repository_prefix(&name))?
                .into_iter()
                .map(|(_, i)| i)
                .collect();
            let now = crate::now_s();
            let doomed: Vec<String> = evaluate(&policy, &images, now)
                .into_iter()
                .map(|(i, _)| i.digest.clone())
                .collect();
            let mut deleted = 0;
            for digest in doomed {
                match crate::images::delete_image(t, &scope, &name, &digest) {
                    Ok(_) => deleted += 1,
                    Err(crate::images::DeleteError::Store(e)) => return Err(e),
                    Err(_) => {}
                }
            }
            repo.lifecycle_evaluated_at = Some(now);
            t.put(&scope, KIND_REPOSITORY, &name, &repo)?;
            Ok(deleted)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(digest: &str, tags: &[&str], pushed_at: f64) -> Image {
        Image {
            digest: digest.into(),
            manifest: String::new(),
            media_type: String::new(),
            artifact_media_type: None,
            artifact_type: None,
            size: 0,
            pushed_at,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            last_pull: None,
            subject: None,
            blobs: vec![],
            children: vec![],
            parents: vec![],
            annotations: None,
        }
    }

    #[test]
    fn checks_rules_as_ecr() {
        let rule = |p: i64, status: &str, extra: &str| {
            format!(
                r#"{{"rulePriority":{p},"selection":{{"tagStatus":"{status}"{extra},"countType":"imageCountMoreThan","countNumber":1}},"action":{{"type":"expire"}}}}"#
            )
        };
        let ok = format!(
            r#"{{"rules":[{},{}]}}"#,
            rule(1, "tagged", r#","tagPrefixList":["v"]"#),
            rule(2, "any", "")
        );
        assert!(parse(&ok).is_ok());
        let dup = format!(
            r#"{{"rules":[{},{}]}}"#,
            rule(1, "untagged", ""),
            rule(1, "untagged", "")
        );
        assert!(parse(&dup).unwrap_err().contains("unique"));
        let any_first = format!(r#"{{"rules":[{},{}]}}"#, rule(1, "any", ""), rule(2, "untagged", ""));
        assert!(parse(&any_first).unwrap_err().contains("highest"));
        let bare_tagged = format!(r#"{{"rules":[{}]}}"#, rule(1, "tagged", ""));
        assert!(parse(&bare_tagged).is_err());
        let wild = format!(
            r#"{{"rules":[{}]}}"#,
            rule(1, "tagged", r#","tagPatternList":["*a*b*c*d*"]"#)
        );
        assert!(parse(&wild).unwrap_err().contains("wildcards"));
    }

    #[test]
    fn keeps_the_newest_and_settles_matched_images() {
        let policy = parse(
            r#"{"rules":[
              {"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
              {"rulePriority":2,"selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}]}"#,
        )
        .unwrap();
        let day = 86_400.0;
        let images = vec![
            image("a", &["prod-1"], 0.0),
            image("b", &["prod-2"], day),
            image("c", &[], 0.0),
            image("d", &["dev"], 9.0 * day),
        ];
        let gone: Vec<&str> = evaluate(&policy, &images, 10.0 * day)
            .into_iter()
            .map(|(i, _)| i.digest.as_str())
            .collect();
        // prod-2 is the newest prod image: kept by rule 1, so rule 2 never expires it.
        assert_eq!(gone, vec!["a", "c"]);
    }
}

//! Pull-through cache rules as stored (id: the ECR repository prefix without its trailing
//! `/`, or `ROOT`), which upstream a URL names, and which rule a repository name falls under.

use haneul_store::{Scope, StoreError};
use serde::{Deserialize, Serialize};

use crate::Ecr;

pub const KIND_RULE: &str = "ecr.pull_through_rule";
/// The prefix that matches every repository name (ECR-to-ECR rules only).
pub const ROOT: &str = "ROOT";
/// ECR's quota of pull-through cache rules per registry.
pub const MAX_RULES: usize = 50;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    pub prefix: String,
    pub upstream_url: String,
    pub upstream_registry: String,
    #[serde(default)]
    pub upstream_prefix: Option<String>,
    #[serde(default)]
    pub credential_arn: Option<String>,
    #[serde(default)]
    pub custom_role_arn: Option<String>,
    pub created_at: f64,
    #[serde(default)]
    pub updated_at: Option<f64>,
}

impl Rule {
    /// Whether `repository` falls under this rule's prefix.
    pub fn matches(&self, repository: &str) -> bool {
        self.prefix == ROOT
            || repository
                .strip_prefix(&self.prefix)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|rest| !rest.is_empty())
    }

    /// The upstream repository a local `repository` under this rule caches.
    pub fn upstream_repository(&self, repository: &str) -> String {
        let rest = if self.prefix == ROOT {
            repository
        } else {
            repository
                .strip_prefix(&self.prefix)
                .and_then(|r| r.strip_prefix('/'))
                .unwrap_or(repository)
        };
        match self.upstream_prefix.as_deref() {
            None | Some(ROOT) => rest.to_string(),
            Some(prefix) => format!("{prefix}/{rest}"),
        }
    }
}

/// A prefix as ECR keeps it: the trailing `/` is implied.
pub fn normalize_prefix(prefix: &str) -> String {
    prefix.trim_end_matches('/').to_string()
}

/// The upstream registry a URL names, as `upstreamRegistry` spells it. Any other registry
/// address (host and port, optionally with a scheme) is taken for an ECR-compatible one —
/// another haneul. `None`: not a registry address at all.
pub fn registry_of(url: &str) -> Option<&'static str> {
    let base = super::upstream::base_url(url).ok()?;
    let authority = base.split_once("://").map(|(_, a)| a)?.to_ascii_lowercase();
    let host = authority.split(':').next().unwrap_or("");
    let known = match host {
        "public.ecr.aws" => "ecr-public",
        "registry-1.docker.io" | "docker.io" | "index.docker.io" => "docker-hub",
        "quay.io" => "quay",
        "registry.k8s.io" => "k8s",
        "ghcr.io" => "github-container-registry",
        "registry.gitlab.com" => "gitlab-container-registry",
        "cgr.dev" => "chainguard",
        h if h.ends_with(".azurecr.io") => "azure-container-registry",
        _ => "ecr",
    };
    Some(known)
}

/// The rule `repository` falls under: the longest matching prefix, `ROOT` last.
pub async fn find(ecr: &Ecr, scope: &Scope, repository: &str) -> Result<Option<Rule>, StoreError> {
    let scope = scope.clone();
    let rules: Vec<(String, Rule)> = ecr.store.read(move |t| t.list(&scope, KIND_RULE)).await?;
    Ok(best_match(rules.into_iter().map(|(_, r)| r), repository))
}

fn best_match(rules: impl Iterator<Item = Rule>, repository: &str) -> Option<Rule> {
    rules
        .filter(|r| r.matches(repository))
        .max_by_key(|r| if r.prefix == ROOT { 0 } else { r.prefix.len() + 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(prefix: &str, upstream_prefix: Option<&str>) -> Rule {
        Rule {
            prefix: prefix.into(),
            upstream_url: "127.0.0.1:5000".into(),
            upstream_registry: "ecr".into(),
            upstream_prefix: upstream_prefix.map(str::to_string),
            credential_arn: None,
            custom_role_arn: None,
            created_at: 0.0,
            updated_at: None,
        }
    }

    #[test]
    fn prefixes_match_whole_segments() {
        let r = rule("hub", None);
        assert!(r.matches("hub/library/busybox"));
        assert!(!r.matches("hubble/app"));
        assert!(!r.matches("hub"));
        assert_eq!(r.upstream_repository("hub/library/busybox"), "library/busybox");
        assert_eq!(rule("hub", Some("team")).upstream_repository("hub/app"), "team/app");
        assert_eq!(rule("ROOT", Some("mirror")).upstream_repository("app"), "mirror/app");
    }

    #[test]
    fn longest_prefix_wins_and_root_is_last() {
        let rules = vec![rule("ROOT", None), rule("a", None), rule("a/b", None)];
        assert_eq!(best_match(rules.clone().into_iter(), "a/b/c").unwrap().prefix, "a/b");
        assert_eq!(best_match(rules.clone().into_iter(), "a/x").unwrap().prefix, "a");
        assert_eq!(best_match(rules.into_iter(), "z").unwrap().prefix, "ROOT");
    }

    #[test]
    fn registries_by_url() {
        assert_eq!(registry_of("quay.io"), Some("quay"));
        assert_eq!(registry_of("registry-1.docker.io"), Some("docker-hub"));
        assert_eq!(registry_of("x.azurecr.io"), Some("azure-container-registry"));
        assert_eq!(registry_of("127.0.0.1:4566"), Some("ecr"));
        assert_eq!(registry_of("123456789012.dkr.ecr.us-east-1.amazonaws.com"), Some("ecr"));
        assert_eq!(registry_of("not a url"), None);
    }
}

//! EC2 filters: `Filter.N.Name` / `Filter.N.Value.M`. Values within a filter are OR-ed, filters
//! AND-ed; values match with `*` and `?` wildcards; `tag:Key`, `tag-key`, `tag-value` apply to
//! every taggable resource.

use crate::error::Ec2Error;
pub use crate::generated::Filter;
use crate::model::Tag;

/// A resource that filters can look into.
pub trait Filterable {
    /// The values of filter `name` for this resource; `None` when the filter is unknown.
    fn filter_values(&self, name: &str) -> Option<Vec<String>>;
    fn tags(&self) -> &[Tag];
}

/// `*` any run of characters, `?` one character; otherwise exact (case-sensitive).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn values_for<R: Filterable>(resource: &R, name: &str) -> Option<Vec<String>> {
    if let Some(key) = name.strip_prefix("tag:") {
        return Some(
            resource
                .tags()
                .iter()
                .filter(|t| t.key == key)
                .map(|t| t.value.clone())
                .collect(),
        );
    }
    match name {
        "tag-key" => Some(resource.tags().iter().map(|t| t.key.clone()).collect()),
        "tag-value" => Some(resource.tags().iter().map(|t| t.value.clone()).collect()),
        _ => resource.filter_values(name),
    }
}

/// Whether `resource` passes every filter. An unknown filter name is EC2's
/// `InvalidParameterValue`.
pub fn matches<R: Filterable>(resource: &R, filters: &[Filter]) -> Result<bool, Ec2Error> {
    for f in filters {
        let name = f.name.as_deref().unwrap_or("");
        let Some(have) = values_for(resource, name) else {
            return Err(Ec2Error::invalid(format!("The filter '{name}' is invalid")));
        };
        let hit = f.values.iter().any(|want| have.iter().any(|h| wildcard_match(want, h)));
        if !hit {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Checks that every filter name is known, even when there is nothing to filter.
pub fn check_names<R: Filterable>(probe: &R, filters: &[Filter]) -> Result<(), Ec2Error> {
    matches(probe, filters).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("web-*", "web-1"));
        assert!(wildcard_match("w?b", "web"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("web", "web-1"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
    }
}

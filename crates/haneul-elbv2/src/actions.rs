//! Checking and normalizing listener actions and rule conditions as ELBv2 does on
//! CreateListener/ModifyListener/CreateRule/ModifyRule: one terminal action, target groups that
//! exist, redirect and fixed-response values in range, condition limits.

use crate::error::ElbError;
use crate::generated::{ForwardActionConfig, TargetGroupStickinessConfig, TargetGroupTuple};
use crate::model::{Action, RuleCondition};

/// Target groups one forward action may name.
pub const MAX_FORWARD_TARGET_GROUPS: usize = 5;
/// Highest weight of a target group in a forward action.
pub const MAX_TARGET_GROUP_WEIGHT: i64 = 999;
/// Longest group stickiness, in seconds (7 days).
pub const MAX_GROUP_STICKINESS_S: i64 = 604_800;
/// Longest fixed-response body.
pub const MAX_FIXED_RESPONSE_CHARS: usize = 1024;
/// Match values one rule may carry across its conditions.
pub const MAX_RULE_CONDITION_VALUES: usize = 5;
/// Match values one condition may carry.
pub const MAX_CONDITION_VALUES: usize = 3;
/// Longest path, host or header match value.
pub const MAX_MATCH_VALUE_CHARS: usize = 128;

const TERMINAL: [&str; 3] = ["forward", "redirect", "fixed-response"];
const CONTENT_TYPES: [&str; 5] = [
    "text/plain",
    "text/css",
    "text/html",
    "application/javascript",
    "application/json",
];

fn invalid(msg: impl Into<String>) -> ElbError {
    ElbError::InvalidLoadBalancerAction(msg.into())
}

/// Checks `actions` and fills in what ELBv2 fills in (Order, ForwardConfig of a plain forward).
pub fn normalize_actions(actions: &mut [Action]) -> Result<(), ElbError> {
    if actions.is_empty() {
        return Err(ElbError::Validation("At least one action must be specified".into()));
    }
    for (i, a) in actions.iter_mut().enumerate() {
        if a.order.is_none() {
            a.order = Some(i as i64 + 1);
        }
    }
    actions.sort_by_key(|a| a.order);
    let terminal = actions.iter().filter(|a| TERMINAL.contains(&a.r#type.as_str())).count();
    if terminal != 1 {
        return Err(ElbError::TooManyActions(
            "Exactly one forward, redirect or fixed-response action must be specified".into(),
        ));
    }
    for a in actions.iter_mut() {
        match a.r#type.as_str() {
            "forward" => normalize_forward(a)?,
            "redirect" => check_redirect(a)?,
            "fixed-response" => check_fixed_response(a)?,
            other => {
                return Err(ElbError::InvalidConfigurationRequest(format!(
                    "The action type '{other}' is not available in haneul (authentication needs an identity provider)"
                )))
            }
        }
    }
    if !TERMINAL.contains(&actions[actions.len() - 1].r#type.as_str()) {
        return Err(invalid(
            "The forward, redirect or fixed-response action must be the last action",
        ));
    }
    Ok(())
}

fn normalize_forward(a: &mut Action) -> Result<(), ElbError> {
    let config = match (&a.target_group_arn, a.forward_config.take()) {
        (None, None) => return Err(invalid("A forward action needs a target group ARN or a forward config")),
        (Some(arn), None) => ForwardActionConfig {
            target_groups: vec![TargetGroupTuple {
                target_group_arn: Some(arn.clone()),
                weight: Some(1),
            }],
            target_group_stickiness_config: None,
        },
        (arn, Some(config)) => {
            let single = config.target_groups.len() == 1;
            if let Some(arn) = arn {
                if !single || config.target_groups[0].target_group_arn.as_deref() != Some(arn) {
                    return Err(invalid(
                        "You cannot specify both a target group ARN and a forward config with other target groups",
                    ));
                }
            }
            config
        }
    };
    let groups = &config.target_groups;
    if groups.is_empty() || groups.len() > MAX_FORWARD_TARGET_GROUPS {
        return Err(ElbError::TooManyTargetGroups(format!(
            "A forward action takes 1 to {MAX_FORWARD_TARGET_GROUPS} target groups"
        )));
    }
    let mut arns: Vec<&str> = Vec::new();
    for g in groups {
        let arn = g
            .target_group_arn
            .as_deref()
            .ok_or_else(|| invalid("Each target group in a forward config needs its ARN"))?;
        if arns.contains(&arn) {
            return Err(invalid(format!(
                "Target group '{arn}' is named twice in one forward action"
            )));
        }
        arns.push(arn);
        if g.weight.is_some_and(|w| !(0..=MAX_TARGET_GROUP_WEIGHT).contains(&w)) {
            return Err(ElbError::Validation(format!(
                "Target group weights must be between 0 and {MAX_TARGET_GROUP_WEIGHT}"
            )));
        }
    }
    let mut config = config;
    for g in &mut config.target_groups {
        g.weight.get_or_insert(1);
    }
    let sticky = config
        .target_group_stickiness_config
        .get_or_insert(TargetGroupStickinessConfig {
            enabled: Some(false),
            duration_seconds: None,
        });
    if sticky.enabled == Some(true) {
        match sticky.duration_seconds {
            Some(d) if (1..=MAX_GROUP_STICKINESS_S).contains(&d) => {}
            _ => {
                return Err(ElbError::Validation(format!(
                    "Target group stickiness needs a duration between 1 and {MAX_GROUP_STICKINESS_S} seconds"
                )))
            }
        }
    }
    if config.target_groups.len() == 1 {
        a.target_group_arn = config.target_groups[0].target_group_arn.clone();
    } else {
        a.target_group_arn = None;
    }
    a.forward_config = Some(config);
    Ok(())
}

fn check_redirect(a: &Action) -> Result<(), ElbError> {
    let r = a
        .redirect_config
        .as_ref()
        .ok_or_else(|| invalid("A redirect action needs a redirect config"))?;
    if !["HTTP_301", "HTTP_302"].contains(&r.status_code.as_str()) {
        return Err(ElbError::Validation(
            "Redirect status code must be HTTP_301 or HTTP_302".into(),
        ));
    }
    if let Some(p) = r.protocol.as_deref() {
        if !["HTTP", "HTTPS", "#{protocol}"].contains(&p) {
            return Err(invalid(format!(
                "Redirect protocol '{p}' must be HTTP, HTTPS or #{{protocol}}"
            )));
        }
    }
    if let Some(p) = r.port.as_deref() {
        if p != "#{port}" && !p.parse::<u16>().is_ok_and(|n| n > 0) {
            return Err(invalid(format!("Redirect port '{p}' must be 1-65535 or #{{port}}")));
        }
    }
    if let Some(p) = r.path.as_deref() {
        if !p.starts_with('/') {
            return Err(invalid(format!("Redirect path '{p}' must begin with '/'")));
        }
    }
    let unchanged = |v: &Option<String>, same: &str| v.as_deref().is_none_or(|v| v == same);
    if unchanged(&r.protocol, "#{protocol}")
        && unchanged(&r.port, "#{port}")
        && unchanged(&r.host, "#{host}")
        && unchanged(&r.path, "/#{path}")
        && unchanged(&r.query, "#{query}")
    {
        return Err(invalid(
            "The redirect must change at least one of protocol, port, host, path or query, or it would loop",
        ));
    }
    Ok(())
}

fn check_fixed_response(a: &Action) -> Result<(), ElbError> {
    let f = a
        .fixed_response_config
        .as_ref()
        .ok_or_else(|| invalid("A fixed-response action needs a fixed response config"))?;
    let code_ok = f.status_code.len() == 3
        && f.status_code.bytes().all(|b| b.is_ascii_digit())
        && matches!(f.status_code.as_bytes()[0], b'2' | b'4' | b'5');
    if !code_ok {
        return Err(ElbError::Validation(format!(
            "Fixed response status code '{}' must be a 2XX, 4XX or 5XX code",
            f.status_code
        )));
    }
    if let Some(ct) = f.content_type.as_deref() {
        if !CONTENT_TYPES.contains(&ct) {
            return Err(ElbError::Validation(format!(
                "Fixed response content type '{ct}' must be one of {}",
                CONTENT_TYPES.join(", ")
            )));
        }
    }
    if f.message_body
        .as_ref()
        .is_some_and(|b| b.chars().count() > MAX_FIXED_RESPONSE_CHARS)
    {
        return Err(ElbError::Validation(format!(
            "Fixed response message body must be at most {MAX_FIXED_RESPONSE_CHARS} characters"
        )));
    }
    Ok(())
}

/// Every target group ARN the actions forward to.
pub fn forwarded_groups(actions: &[Action]) -> impl Iterator<Item = &str> {
    actions
        .iter()
        .filter_map(|a| a.forward_config.as_ref())
        .flat_map(|f| f.target_groups.iter())
        .filter_map(|g| g.target_group_arn.as_deref())
}

/// The match values of a condition, after legacy `Field`+`Values` is folded into its config.
fn values_of(c: &RuleCondition) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(x) = &c.host_header_config {
        v.extend(x.values.iter().chain(&x.regex_values).cloned());
    }
    if let Some(x) = &c.path_pattern_config {
        v.extend(x.values.iter().chain(&x.regex_values).cloned());
    }
    if let Some(x) = &c.http_header_config {
        v.extend(x.values.iter().chain(&x.regex_values).cloned());
    }
    if let Some(x) = &c.http_request_method_config {
        v.extend(x.values.iter().cloned());
    }
    if let Some(x) = &c.query_string_config {
        v.extend(x.values.iter().map(|kv| format!("{:?}={:?}", kv.key, kv.value)));
    }
    if let Some(x) = &c.source_ip_config {
        v.extend(x.values.iter().cloned());
    }
    v
}

/// Checks a rule's conditions and fills both the legacy `Values` and the per-field config, as
/// ELBv2 describes them.
pub fn normalize_conditions(conditions: &mut [RuleCondition]) -> Result<(), ElbError> {
    if conditions.is_empty() {
        return Err(ElbError::Validation("A rule needs at least one condition".into()));
    }
    let mut total = 0;
    let mut singles: Vec<String> = Vec::new();
    for c in conditions.iter_mut() {
        let field = c
            .field
            .clone()
            .ok_or_else(|| ElbError::Validation("Each condition needs a Field".into()))?;
        fold_legacy(c, &field)?;
        if field != "http-header" && field != "query-string" {
            if singles.contains(&field) {
                return Err(ElbError::Validation(format!(
                    "A rule can have at most one '{field}' condition"
                )));
            }
            singles.push(field.clone());
        }
        let values = values_of(c);
        if values.is_empty() {
            return Err(ElbError::Validation(format!(
                "The '{field}' condition needs at least one value"
            )));
        }
        if values.len() > MAX_CONDITION_VALUES && field != "source-ip" {
            return Err(ElbError::Validation(format!(
                "A condition can have at most {MAX_CONDITION_VALUES} values"
            )));
        }
        total += values.len();
        check_values(c, &field)?;
    }
    if total > MAX_RULE_CONDITION_VALUES {
        return Err(ElbError::Validation(format!(
            "A rule can have at most {MAX_RULE_CONDITION_VALUES} condition values in total"
        )));
    }
    Ok(())
}

/// `Field` + `Values` (the old shape, only for host-header and path-pattern) into the config,
/// and the config back into `Values` for those two fields.
fn fold_legacy(c: &mut RuleCondition, field: &str) -> Result<(), ElbError> {
    use crate::generated::{HostHeaderConditionConfig, PathPatternConditionConfig};
    let has_config = match field {
        "host-header" => c.host_header_config.is_some(),
        "path-pattern" => c.path_pattern_config.is_some(),
        "http-header" => c.http_header_config.is_some(),
        "http-request-method" => c.http_request_method_config.is_some(),
        "query-string" => c.query_string_config.is_some(),
        "source-ip" => c.source_ip_config.is_some(),
        other => return Err(ElbError::Validation(format!("Unknown condition field '{other}'"))),
    };
    let legacy = !c.values.is_empty() || !c.regex_values.is_empty();
    if legacy && has_config {
        return Err(ElbError::Validation(format!(
            "Specify either Values or the '{field}' config, not both"
        )));
    }
    match field {
        "host-header" if legacy => {
            c.host_header_config = Some(HostHeaderConditionConfig {
                values: c.values.clone(),
                regex_values: std::mem::take(&mut c.regex_values),
            })
        }
        "path-pattern" if legacy => {
            c.path_pattern_config = Some(PathPatternConditionConfig {
                values: c.values.clone(),
                regex_values: std::mem::take(&mut c.regex_values),
            })
        }
        "host-header" => {
            c.values = c
                .host_header_config
                .as_ref()
                .map(|x| x.values.clone())
                .unwrap_or_default()
        }
        "path-pattern" => {
            c.values = c
                .path_pattern_config
                .as_ref()
                .map(|x| x.values.clone())
                .unwrap_or_default()
        }
        _ if legacy => {
            return Err(ElbError::Validation(format!(
                "The '{field}' condition takes its values in its own config"
            )))
        }
        _ => {}
    }
    Ok(())
}

fn check_values(c: &RuleCondition, field: &str) -> Result<(), ElbError> {
    let too_long = values_of(c)
        .into_iter()
        .find(|v| v.chars().count() > MAX_MATCH_VALUE_CHARS);
    if let Some(v) = too_long {
        return Err(ElbError::Validation(format!(
            "Condition value '{v}' is longer than {MAX_MATCH_VALUE_CHARS} characters"
        )));
    }
    let regexes = c
        .host_header_config
        .iter()
        .flat_map(|x| &x.regex_values)
        .chain(c.path_pattern_config.iter().flat_map(|x| &x.regex_values))
        .chain(c.http_header_config.iter().flat_map(|x| &x.regex_values));
    for r in regexes {
        regex_lite::Regex::new(r).map_err(|e| ElbError::Validation(format!("Regex '{r}' is not valid: {e}")))?;
    }
    match field {
        "http-header" => {
            let name = c
                .http_header_config
                .as_ref()
                .and_then(|h| h.http_header_name.as_deref());
            if !name.is_some_and(|n| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }) {
                return Err(ElbError::Validation(
                    "An http-header condition needs a header name of letters, digits, '-' and '_'".into(),
                ));
            }
        }
        "http-request-method" => {
            let bad = c
                .http_request_method_config
                .iter()
                .flat_map(|m| &m.values)
                .find(|v| !v.bytes().all(|b| b.is_ascii_uppercase() || b == b'_' || b == b'-'));
            if let Some(v) = bad {
                return Err(ElbError::Validation(format!(
                    "HTTP request method '{v}' must be upper-case letters, '_' or '-'"
                )));
            }
        }
        "source-ip" => {
            for v in c.source_ip_config.iter().flat_map(|s| &s.values) {
                crate::proxy::rules::Cidr::parse(v)
                    .ok_or_else(|| ElbError::Validation(format!("Source IP '{v}' is not a CIDR block")))?;
            }
        }
        "path-pattern" => {
            if let Some(v) = c
                .path_pattern_config
                .iter()
                .flat_map(|p| &p.values)
                .find(|v| !v.starts_with('/') && !v.starts_with('*'))
            {
                return Err(ElbError::Validation(format!(
                    "Path pattern '{v}' must begin with '/' or '*'"
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

//! AuthorizeSecurityGroupIngress/Egress and RevokeSecurityGroupIngress/Egress: permissions
//! expand into one rule per peer, each with its `sgr-` id.

use haneul_store::{Scope, Store, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::api::security_groups::{find_group, rule_output};
use crate::cidr::Cidr;
use crate::error::Ec2Error;
use crate::generated::{self as api_types, IpPermission, IpRange, UserIdGroupPair};
use crate::ids::new_id;
use crate::model::*;
use crate::{check_dry_run, defaults, parse, scope};

/// Most rules one group may hold in each direction (AWS's default quota).
pub const MAX_RULES_PER_DIRECTION: usize = 60;

/// What the four Authorize/Revoke requests share: the group, its permissions, rule ids.
#[derive(Default)]
struct RuleChange {
    dry_run: Option<bool>,
    group_id: Option<String>,
    group_name: Option<String>,
    ip_permissions: Vec<IpPermission>,
    security_group_rule_ids: Vec<String>,
}

/// The pre-`IpPermissions` form: one permission spelled out as top-level members.
struct LegacyPermission {
    ip_protocol: Option<String>,
    from_port: Option<i64>,
    to_port: Option<i64>,
    cidr_ip: Option<String>,
    source_security_group_name: Option<String>,
}

impl LegacyPermission {
    fn into_permission(self) -> Option<IpPermission> {
        if self.cidr_ip.is_none() && self.source_security_group_name.is_none() && self.ip_protocol.is_none() {
            return None;
        }
        Some(IpPermission {
            ip_protocol: self.ip_protocol.or(Some("-1".into())),
            from_port: self.from_port,
            to_port: self.to_port,
            ip_ranges: self
                .cidr_ip
                .map(|c| IpRange {
                    cidr_ip: Some(c),
                    description: None,
                })
                .into_iter()
                .collect(),
            user_id_group_pairs: self
                .source_security_group_name
                .map(|n| UserIdGroupPair {
                    group_name: Some(n),
                    ..UserIdGroupPair::default()
                })
                .into_iter()
                .collect(),
            ..IpPermission::default()
        })
    }
}

/// Builds a [`RuleChange`] from each generated request type; `$r` names the request in
/// the member expressions.
macro_rules! rule_change_from {
    ($request:ty, |$r:ident| group_id: $gid:expr, group_name: $gname:expr, rule_ids: $ids:expr) => {
        impl From<$request> for RuleChange {
            fn from($r: $request) -> RuleChange {
                let legacy = LegacyPermission {
                    ip_protocol: $r.ip_protocol.clone(),
                    from_port: $r.from_port,
                    to_port: $r.to_port,
                    cidr_ip: $r.cidr_ip.clone(),
                    source_security_group_name: $r.source_security_group_name.clone(),
                };
                let mut ip_permissions = $r.ip_permissions.clone();
                ip_permissions.extend(legacy.into_permission());
                RuleChange {
                    dry_run: $r.dry_run,
                    group_id: $gid,
                    group_name: $gname,
                    ip_permissions,
                    security_group_rule_ids: $ids,
                }
            }
        }
    };
}

rule_change_from!(api_types::AuthorizeSecurityGroupIngressRequest, |r|
    group_id: r.group_id.clone(), group_name: r.group_name.clone(), rule_ids: Vec::new());
rule_change_from!(api_types::AuthorizeSecurityGroupEgressRequest, |r|
    group_id: Some(r.group_id.clone()), group_name: None, rule_ids: Vec::new());
rule_change_from!(api_types::RevokeSecurityGroupIngressRequest, |r|
    group_id: r.group_id.clone(), group_name: r.group_name.clone(), rule_ids: r.security_group_rule_ids.clone());
rule_change_from!(api_types::RevokeSecurityGroupEgressRequest, |r|
    group_id: Some(r.group_id.clone()), group_name: None, rule_ids: r.security_group_rule_ids.clone());

/// The decoded request of an Authorize/Revoke operation, by direction.
fn rule_change(input: Value, is_egress: bool, revoke: bool) -> Result<RuleChange, Ec2Error> {
    Ok(match (revoke, is_egress) {
        (false, false) => parse::<api_types::AuthorizeSecurityGroupIngressRequest>(input)?.into(),
        (false, true) => parse::<api_types::AuthorizeSecurityGroupEgressRequest>(input)?.into(),
        (true, false) => parse::<api_types::RevokeSecurityGroupIngressRequest>(input)?.into(),
        (true, true) => parse::<api_types::RevokeSecurityGroupEgressRequest>(input)?.into(),
    })
}

/// `tcp`/`6` → `tcp`, `-1`/`all` → `-1`, … and the ports that go with it.
fn normalize(perm: &IpPermission) -> Result<(String, i64, i64), Ec2Error> {
    let raw = perm.ip_protocol.clone().unwrap_or_default();
    let proto = match raw.to_ascii_lowercase().as_str() {
        "tcp" | "6" => "tcp",
        "udp" | "17" => "udp",
        "icmp" | "1" => "icmp",
        "icmpv6" | "58" => "icmpv6",
        "-1" | "all" => "-1",
        other => match other.parse::<u8>() {
            Ok(_) => other,
            Err(_) => {
                return Err(Ec2Error::invalid(format!(
                    "Invalid value '{raw}' for IP protocol. Unknown protocol."
                )))
            }
        },
    }
    .to_string();
    match proto.as_str() {
        "tcp" | "udp" => {
            let (Some(from), Some(to)) = (perm.from_port, perm.to_port) else {
                return Err(Ec2Error::invalid(
                    "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.",
                ));
            };
            if !(0..=65535).contains(&from) || !(0..=65535).contains(&to) || from > to {
                return Err(Ec2Error::invalid(format!(
                    "Invalid value for portRange. Invalid port range {from}-{to}."
                )));
            }
            Ok((proto, from, to))
        }
        "icmp" | "icmpv6" => {
            let from = perm.from_port.unwrap_or(-1);
            let to = perm.to_port.unwrap_or(-1);
            if !(-1..=255).contains(&from) || !(-1..=255).contains(&to) {
                return Err(Ec2Error::invalid(format!(
                    "Invalid value for ICMP type/code: {from}/{to}"
                )));
            }
            Ok((proto, from, to))
        }
        _ => Ok((proto, -1, -1)),
    }
}

/// One rule per peer of each permission.
fn expand(
    txn: &Txn<'_>,
    scope: &Scope,
    group: &SecurityGroup,
    perms: &[IpPermission],
    is_egress: bool,
) -> Result<Vec<SecurityGroupRule>, Ec2Error> {
    let mut rules = Vec::new();
    for perm in perms {
        let (ip_protocol, from_port, to_port) = normalize(perm)?;
        let base = SecurityGroupRule {
            security_group_rule_id: String::new(),
            group_id: group.group_id.clone(),
            group_owner_id: scope.account_id.clone(),
            is_egress,
            ip_protocol,
            from_port,
            to_port,
            cidr_ipv4: None,
            cidr_ipv6: None,
            prefix_list_id: None,
            referenced_group_id: None,
            description: None,
        };
        let before = rules.len();
        for r in &perm.ip_ranges {
            let cidr = r.cidr_ip.clone().unwrap_or_default();
            let Some(parsed) = Cidr::parse(&cidr) else {
                return Err(Ec2Error::invalid(format!("CIDR block {cidr} is malformed")));
            };
            rules.push(SecurityGroupRule {
                cidr_ipv4: Some(parsed.to_string()),
                description: r.description.clone(),
                ..base.clone()
            });
        }
        for r in &perm.ipv6_ranges {
            let cidr = r.cidr_ipv6.clone().unwrap_or_default();
            if !cidr.contains(':') || !cidr.contains('/') {
                return Err(Ec2Error::invalid(format!("CIDR block {cidr} is malformed")));
            }
            rules.push(SecurityGroupRule {
                cidr_ipv6: Some(cidr),
                description: r.description.clone(),
                ..base.clone()
            });
        }
        for p in &perm.prefix_list_ids {
            rules.push(SecurityGroupRule {
                prefix_list_id: p.prefix_list_id.clone(),
                description: p.description.clone(),
                ..base.clone()
            });
        }
        for pair in &perm.user_id_group_pairs {
            let peer = find_group(txn, scope, pair.group_id.as_deref(), pair.group_name.as_deref())?;
            rules.push(SecurityGroupRule {
                referenced_group_id: Some(peer.group_id),
                description: pair.description.clone(),
                ..base.clone()
            });
        }
        if rules.len() == before {
            return Err(Ec2Error::invalid("The request must contain a source or destination (CIDR, prefix list or security group) for each permission"));
        }
    }
    Ok(rules)
}

pub async fn authorize(store: &Store, ctx: &RequestContext, input: Value, is_egress: bool) -> Result<Value, Ec2Error> {
    let input = rule_change(input, is_egress, false)?;
    let scope = scope(ctx);
    let out_scope = scope.clone();
    let added = store
        .write(move |t| {
            defaults::ensure_in(t, &scope)?;
            let mut group = find_group(t, &scope, input.group_id.as_deref(), input.group_name.as_deref())?;
            let mut new_rules = expand(t, &scope, &group, &input.ip_permissions, is_egress)?;
            for (i, rule) in new_rules.iter().enumerate() {
                let dup_existing = group.rules.iter().any(|r| r.same_permission(rule));
                let dup_in_request = new_rules[..i].iter().any(|r| r.same_permission(rule));
                if dup_existing || dup_in_request {
                    return Err(Ec2Error::PermissionDuplicate { rule: rule.describe() });
                }
            }
            let count = group.rules.iter().filter(|r| r.is_egress == is_egress).count() + new_rules.len();
            if count > MAX_RULES_PER_DIRECTION {
                return Err(Ec2Error::not_found(
                    "RulesPerSecurityGroupLimitExceeded",
                    "The maximum number of rules per security group has been reached.",
                ));
            }
            check_dry_run(input.dry_run)?;
            for rule in &mut new_rules {
                rule.security_group_rule_id = new_id("sgr");
            }
            group.rules.extend(new_rules.iter().cloned());
            t.put(&scope, KIND_SECURITY_GROUP, &group.group_id, &group)?;
            Ok(new_rules)
        })
        .await?;
    let rules: Vec<Value> = added.iter().map(|r| rule_output(&out_scope, r)).collect();
    Ok(json!({ "Return": true, "SecurityGroupRules": rules }))
}

pub async fn revoke(store: &Store, ctx: &RequestContext, input: Value, is_egress: bool) -> Result<Value, Ec2Error> {
    let input = rule_change(input, is_egress, true)?;
    let scope = scope(ctx);
    let out_scope = scope.clone();
    let revoked = store
        .write(move |t| {
            defaults::ensure_in(t, &scope)?;
            let mut group = find_group(t, &scope, input.group_id.as_deref(), input.group_name.as_deref())?;
            let wanted = expand(t, &scope, &group, &input.ip_permissions, is_egress)?;
            let mut revoked = Vec::new();
            for want in &wanted {
                let Some(i) = group.rules.iter().position(|r| r.same_permission(want)) else {
                    return Err(Ec2Error::PermissionNotFound);
                };
                revoked.push(group.rules.remove(i));
            }
            for id in &input.security_group_rule_ids {
                let found = group
                    .rules
                    .iter()
                    .position(|r| &r.security_group_rule_id == id && r.is_egress == is_egress);
                let Some(i) = found else {
                    return Err(Ec2Error::not_found(
                        "InvalidSecurityGroupRuleId.NotFound",
                        format!("The security group rule ID '{id}' does not exist"),
                    ));
                };
                revoked.push(group.rules.remove(i));
            }
            check_dry_run(input.dry_run)?;
            t.put(&scope, KIND_SECURITY_GROUP, &group.group_id, &group)?;
            Ok(revoked)
        })
        .await?;
    let rules: Vec<Value> = revoked.iter().map(|r| rule_output(&out_scope, r)).collect();
    Ok(json!({ "Return": true, "RevokedSecurityGroupRules": rules }))
}

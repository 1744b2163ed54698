//! CreateSecurityGroup, DescribeSecurityGroups, DeleteSecurityGroup,
//! DescribeSecurityGroupRules. Rule changes are in `rules.rs`.

use haneul_store::{Scope, Store, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Map, Value};

use crate::api::tags::tags_for;
use crate::describe::{self, Query, SECURITY_GROUP, VPC};
use crate::error::Ec2Error;
use crate::filter::{self, Filterable};
use crate::generated as api_types;
use crate::ids::new_id;
use crate::model::*;
use crate::page::paginate;
use crate::{check_dry_run, defaults, parse, scope};

/// EC2's limit on group names and descriptions.
pub const MAX_GROUP_TEXT_CHARS: usize = 255;

impl Filterable for SecurityGroup {
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        let one = |s: &str| Some(vec![s.to_string()]);
        let rules = |egress: bool| self.rules.iter().filter(move |r| r.is_egress == egress);
        let (egress, field) = match name.strip_prefix("egress.ip-permission.") {
            Some(f) => (true, f),
            None => (false, name.strip_prefix("ip-permission.").unwrap_or("")),
        };
        if !field.is_empty() {
            let values: Vec<String> = match field {
                "protocol" => rules(egress).map(|r| r.ip_protocol.clone()).collect(),
                "from-port" => rules(egress).map(|r| r.from_port.to_string()).collect(),
                "to-port" => rules(egress).map(|r| r.to_port.to_string()).collect(),
                "cidr" => rules(egress).filter_map(|r| r.cidr_ipv4.clone()).collect(),
                "ipv6-cidr" => rules(egress).filter_map(|r| r.cidr_ipv6.clone()).collect(),
                "prefix-list-id" => rules(egress).filter_map(|r| r.prefix_list_id.clone()).collect(),
                "group-id" => rules(egress).filter_map(|r| r.referenced_group_id.clone()).collect(),
                _ => return None,
            };
            return Some(values);
        }
        match name {
            "group-id" => one(&self.group_id),
            "group-name" => one(&self.group_name),
            "description" => one(&self.description),
            "vpc-id" => one(&self.vpc_id),
            "owner-id" => one(&self.owner_id),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// Rules group into one `IpPermission` per (protocol, from port, to port).
type PermissionKey = (String, i64, i64);

/// One `IpPermission`: rules grouped by protocol and port range, peers listed by kind.
fn ip_permissions(group: &SecurityGroup, egress: bool) -> Vec<Value> {
    let mut groups: Vec<(PermissionKey, Map<String, Value>)> = Vec::new();
    for r in group.rules.iter().filter(|r| r.is_egress == egress) {
        let key = (r.ip_protocol.clone(), r.from_port, r.to_port);
        let i = match groups.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                let mut perm = Map::new();
                perm.insert("IpProtocol".into(), json!(r.ip_protocol));
                if r.ip_protocol != "-1" {
                    perm.insert("FromPort".into(), json!(r.from_port));
                    perm.insert("ToPort".into(), json!(r.to_port));
                }
                for list in ["IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs"] {
                    perm.insert(list.into(), json!([]));
                }
                groups.push((key, perm));
                groups.len() - 1
            }
        };
        let perm = &mut groups[i].1;
        let (list, mut entry) = if let Some(c) = &r.cidr_ipv4 {
            ("IpRanges", json!({ "CidrIp": c }))
        } else if let Some(c) = &r.cidr_ipv6 {
            ("Ipv6Ranges", json!({ "CidrIpv6": c }))
        } else if let Some(p) = &r.prefix_list_id {
            ("PrefixListIds", json!({ "PrefixListId": p }))
        } else {
            (
                "UserIdGroupPairs",
                json!({ "GroupId": r.referenced_group_id, "UserId": r.group_owner_id }),
            )
        };
        if let (Some(d), Some(obj)) = (&r.description, entry.as_object_mut()) {
            obj.insert("Description".into(), json!(d));
        }
        if let Some(Value::Array(items)) = perm.get_mut(list) {
            items.push(entry);
        }
    }
    groups.into_iter().map(|(_, p)| Value::Object(p)).collect()
}

/// A group as `DescribeSecurityGroups` shows it.
pub fn group_output(group: &SecurityGroup) -> Value {
    json!({
        "GroupId": group.group_id,
        "GroupName": group.group_name,
        "Description": group.description,
        "VpcId": group.vpc_id,
        "OwnerId": group.owner_id,
        "SecurityGroupArn": group.security_group_arn,
        "IpPermissions": ip_permissions(group, false),
        "IpPermissionsEgress": ip_permissions(group, true),
        "Tags": group.tags,
    })
}

/// A rule as `DescribeSecurityGroupRules` and `Authorize*` show it.
pub fn rule_output(scope: &Scope, rule: &SecurityGroupRule) -> Value {
    let mut v = json!({
        "SecurityGroupRuleId": rule.security_group_rule_id,
        "GroupId": rule.group_id,
        "GroupOwnerId": rule.group_owner_id,
        "IsEgress": rule.is_egress,
        "IpProtocol": rule.ip_protocol,
        "FromPort": rule.from_port,
        "ToPort": rule.to_port,
        "CidrIpv4": rule.cidr_ipv4,
        "CidrIpv6": rule.cidr_ipv6,
        "PrefixListId": rule.prefix_list_id,
        "Description": rule.description,
        "Tags": [],
        "SecurityGroupRuleArn": format!("arn:aws:ec2:{}:{}:security-group-rule/{}", scope.region, scope.account_id, rule.security_group_rule_id),
    });
    if let (Some(g), Some(obj)) = (&rule.referenced_group_id, v.as_object_mut()) {
        obj.insert(
            "ReferencedGroupInfo".into(),
            json!({ "GroupId": g, "UserId": rule.group_owner_id }),
        );
    }
    v
}

fn check_group_text(what: &str, text: &str) -> Result<(), Ec2Error> {
    if text.is_empty() || text.chars().count() > MAX_GROUP_TEXT_CHARS {
        return Err(Ec2Error::invalid(format!(
            "Invalid value '{text}' for {what}. Length must be between 1 and {MAX_GROUP_TEXT_CHARS} characters"
        )));
    }
    Ok(())
}

pub async fn create_security_group(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Ec2Error> {
    let input: api_types::CreateSecurityGroupRequest = parse(input)?;
    check_group_text("groupName", &input.group_name)?;
    check_group_text("GroupDescription", &input.description)?;
    if input.group_name.starts_with("sg-") {
        return Err(Ec2Error::invalid("Group names may not be in the format sg-*."));
    }
    if input.group_name == "default" {
        return Err(Ec2Error::invalid("Cannot use reserved security group name: default"));
    }
    if let Some(vpc_id) = &input.vpc_id {
        VPC.check_id(vpc_id)?;
    }
    let tags = tags_for(&input.tag_specifications, "security-group")?;
    let scope = scope(ctx);
    let group = store
        .write(move |t| {
            defaults::ensure_in(t, &scope)?;
            let vpc_id = match input.vpc_id {
                Some(id) => id,
                None => defaults::default_vpc_id(t, &scope)?.ok_or(Ec2Error::NoDefaultVpc)?,
            };
            if !t.exists(&scope, KIND_VPC, &vpc_id)? {
                return Err(VPC.not_found(&vpc_id));
            }
            let taken = t
                .list::<SecurityGroup>(&scope, KIND_SECURITY_GROUP)?
                .iter()
                .any(|(_, g)| g.vpc_id == vpc_id && g.group_name == input.group_name);
            if taken {
                return Err(Ec2Error::GroupDuplicate {
                    name: input.group_name,
                    vpc_id,
                });
            }
            check_dry_run(input.dry_run)?;
            let group_id = new_id("sg");
            let group = SecurityGroup {
                security_group_arn: defaults::security_group_arn(&scope, &group_id),
                rules: vec![SecurityGroupRule {
                    security_group_rule_id: new_id("sgr"),
                    group_id: group_id.clone(),
                    group_owner_id: scope.account_id.clone(),
                    is_egress: true,
                    ip_protocol: "-1".into(),
                    from_port: -1,
                    to_port: -1,
                    cidr_ipv4: Some("0.0.0.0/0".into()),
                    cidr_ipv6: None,
                    prefix_list_id: None,
                    referenced_group_id: None,
                    description: None,
                }],
                group_id,
                group_name: input.group_name,
                description: input.description,
                vpc_id,
                owner_id: scope.account_id.clone(),
                tags,
            };
            t.put(&scope, KIND_SECURITY_GROUP, &group.group_id, &group)?;
            Ok(group)
        })
        .await?;
    Ok(json!({ "GroupId": group.group_id, "Tags": group.tags, "SecurityGroupArn": group.security_group_arn }))
}

/// Finds a group by id, or by name in the default VPC (EC2's rule for `GroupName`).
pub fn find_group(
    txn: &Txn<'_>,
    scope: &Scope,
    id: Option<&str>,
    name: Option<&str>,
) -> Result<SecurityGroup, Ec2Error> {
    if let Some(id) = id {
        SECURITY_GROUP.check_id(id)?;
        return txn
            .get(scope, KIND_SECURITY_GROUP, id)?
            .ok_or_else(|| SECURITY_GROUP.not_found(id));
    }
    let Some(name) = name else {
        return Err(Ec2Error::invalid(
            "The request must contain the parameter groupName or groupId",
        ));
    };
    let default_vpc = defaults::default_vpc_id(txn, scope)?.ok_or(Ec2Error::NoDefaultVpc)?;
    txn.list::<SecurityGroup>(scope, KIND_SECURITY_GROUP)?
        .into_iter()
        .map(|(_, g)| g)
        .find(|g| g.vpc_id == default_vpc && g.group_name == name)
        .ok_or_else(|| {
            Ec2Error::not_found(
                "InvalidGroup.NotFound",
                format!("The security group '{name}' does not exist in default VPC '{default_vpc}'"),
            )
        })
}

pub async fn describe_security_groups(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Ec2Error> {
    let input: api_types::DescribeSecurityGroupsRequest = parse(input)?;
    check_dry_run(input.dry_run)?;
    let scope = scope(ctx);
    defaults::ensure(store, &scope).await?;
    let names = input.group_names.clone();
    let (all, named_ids) = store
        .read(move |t| {
            let all = t.list::<SecurityGroup>(&scope, KIND_SECURITY_GROUP)?;
            let mut named_ids = Vec::new();
            for name in &names {
                named_ids.push(find_group(t, &scope, None, Some(name))?.group_id);
            }
            Ok::<_, Ec2Error>((all, named_ids))
        })
        .await?;
    let mut ids = input.group_ids.clone();
    ids.extend(named_ids);
    let query = Query {
        ids: &ids,
        filters: &input.filters,
        max_results: input.max_results,
        next_token: input.next_token.as_deref(),
    };
    let page = describe::select(&SECURITY_GROUP, all, &query)?;
    let groups: Vec<Value> = page.items.iter().map(group_output).collect();
    Ok(json!({ "SecurityGroups": groups, "NextToken": page.next_token }))
}

pub async fn delete_security_group(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, Ec2Error> {
    let input: api_types::DeleteSecurityGroupRequest = parse(input)?;
    let scope = scope(ctx);
    let group_id = store
        .write(move |t| {
            defaults::ensure_in(t, &scope)?;
            let group = find_group(t, &scope, input.group_id.as_deref(), input.group_name.as_deref())?;
            if group.group_name == "default" {
                return Err(Ec2Error::CannotDelete {
                    group_id: group.group_id,
                });
            }
            let referenced = t
                .list::<SecurityGroup>(&scope, KIND_SECURITY_GROUP)?
                .iter()
                .filter(|(id, _)| *id != group.group_id)
                .any(|(_, g)| {
                    g.rules
                        .iter()
                        .any(|r| r.referenced_group_id.as_deref() == Some(group.group_id.as_str()))
                });
            if referenced {
                return Err(Ec2Error::DependencyViolation {
                    message: format!("resource {} has a dependent object", group.group_id),
                });
            }
            check_dry_run(input.dry_run)?;
            t.delete(&scope, KIND_SECURITY_GROUP, &group.group_id)?;
            Ok(group.group_id)
        })
        .await?;
    Ok(json!({ "Return": true, "GroupId": group_id }))
}

struct RuleRow(SecurityGroupRule);

impl Filterable for RuleRow {
    fn filter_values(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "group-id" => Some(vec![self.0.group_id.clone()]),
            "security-group-rule-id" => Some(vec![self.0.security_group_rule_id.clone()]),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

pub async fn describe_security_group_rules(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, Ec2Error> {
    let input: api_types::DescribeSecurityGroupRulesRequest = parse(input)?;
    check_dry_run(input.dry_run)?;
    let scope = scope(ctx);
    defaults::ensure(store, &scope).await?;
    let s = scope.clone();
    let groups = store
        .read(move |t| t.list::<SecurityGroup>(&s, KIND_SECURITY_GROUP).map_err(Ec2Error::from))
        .await?;
    let mut rows = Vec::new();
    for rule in groups.into_iter().flat_map(|(_, g)| g.rules) {
        let named = input.security_group_rule_ids.is_empty()
            || input.security_group_rule_ids.contains(&rule.security_group_rule_id);
        let row = RuleRow(rule);
        if named && filter::matches(&row, &input.filters)? {
            rows.push((row.0.security_group_rule_id.clone(), row));
        }
    }
    for id in &input.security_group_rule_ids {
        if !rows.iter().any(|(have, _)| have == id) {
            return Err(Ec2Error::not_found(
                "InvalidSecurityGroupRuleId.NotFound",
                format!("The security group rule ID '{id}' does not exist"),
            ));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let page = paginate(rows, input.max_results, input.next_token.as_deref())?;
    let rules: Vec<Value> = page.items.iter().map(|r| rule_output(&scope, &r.0)).collect();
    Ok(json!({ "SecurityGroupRules": rules, "NextToken": page.next_token }))
}

//! Load balancers and target groups: create, describe (by ARN or name, paged), delete.

use std::net::Ipv4Addr;

use haneul_route53::model::{LbAddress, KIND_LB_ADDRESS};
use haneul_store::{Scope, Store, Txn};
use haneul_wire::value::now_epoch_s;
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::error::ElbError;
use crate::generated as api_types;
use crate::model::*;
use crate::{parse, scope};

/// Longest load balancer and target group names.
pub const MAX_NAME_CHARS: usize = 32;
/// Most items one Describe page holds.
pub const MAX_PAGE_SIZE: usize = 400;

pub use haneul_route53::model::elb_hosted_zone_id as canonical_hosted_zone_id;

fn check_name(kind: &str, name: &str) -> Result<(), ElbError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok {
        return Err(ElbError::Validation(format!(
            "{kind} name '{name}' must have at most {MAX_NAME_CHARS} alphanumeric characters or hyphens, and must not begin or end with a hyphen"
        )));
    }
    if kind == "Load balancer" && name.starts_with("internal-") {
        return Err(ElbError::Validation(format!(
            "Load balancer name '{name}' cannot begin with 'internal-'"
        )));
    }
    Ok(())
}

pub(crate) fn random_hex(chars: usize) -> String {
    (0..chars).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect()
}

/// The next free address of `lb_cidr` (`127.0.1.0/24`: .1 to .254), across every account.
fn allocate_address(t: &Txn<'_>, lb_cidr: &str) -> Result<String, ElbError> {
    let (base, prefix) = lb_cidr
        .split_once('/')
        .and_then(|(a, p)| Some((a.parse::<Ipv4Addr>().ok()?, p.parse::<u32>().ok()?)))
        .ok_or_else(|| ElbError::InvalidConfigurationRequest(format!("--lb-cidr {lb_cidr} is not an IPv4 CIDR")))?;
    let size = 1u64 << (32 - prefix.min(32));
    let network = u32::from(base) & (u32::MAX.checked_shl(32 - prefix.min(32)).unwrap_or(0));
    let used: Vec<String> = t
        .list_all_scopes::<LbAddress>(KIND_LB_ADDRESS)?
        .into_iter()
        .map(|(_, _, a)| a.ip)
        .collect();
    (1..size.saturating_sub(1).max(1))
        .map(|i| Ipv4Addr::from(network.wrapping_add(i as u32)).to_string())
        .find(|ip| !used.contains(ip))
        .ok_or_else(|| ElbError::TooManyLoadBalancers(format!("--lb-cidr {lb_cidr} has no free address left")))
}

fn lb_output(lb: &LoadBalancer, region: &str, state: &str) -> Value {
    json!({
        "LoadBalancerArn": lb.arn,
        "DNSName": lb.dns_name,
        "CanonicalHostedZoneId": canonical_hosted_zone_id(region),
        "CreatedTime": lb.created_at,
        "LoadBalancerName": lb.name,
        "Scheme": lb.scheme,
        "VpcId": lb.vpc_id,
        "State": { "Code": state },
        "Type": "application",
        "AvailabilityZones": lb.subnets.iter().map(|(s, z)| json!({ "ZoneName": z, "SubnetId": s })).collect::<Vec<_>>(),
        "SecurityGroups": lb.security_groups,
        "IpAddressType": lb.ip_address_type,
    })
}

pub async fn create_load_balancer(
    store: &Store,
    lb_cidr: &str,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, ElbError> {
    let input: api_types::CreateLoadBalancerInput = parse(input)?;
    check_name("Load balancer", &input.name)?;
    if input.r#type.as_deref().is_some_and(|t| t != "application") {
        return Err(ElbError::InvalidConfigurationRequest(
            "haneul serves application load balancers; network and gateway load balancers are not available".into(),
        ));
    }
    let scheme = input.scheme.clone().unwrap_or_else(|| "internet-facing".into());
    let mut subnet_ids = input.subnets.clone();
    subnet_ids.extend(input.subnet_mappings.iter().filter_map(|m| m.subnet_id.clone()));
    let scope = scope(ctx);
    let (region, account, lb_cidr) = (ctx.region.clone(), ctx.account_id.clone(), lb_cidr.to_string());
    let out_region = region.clone();
    let lb = store
        .write(move |t| {
            haneul_ec2::defaults::ensure_in(t, &scope).map_err(|e| ElbError::Validation(e.to_string()))?;
            let mut subnets = Vec::new();
            for id in &subnet_ids {
                let subnet: haneul_ec2::model::Subnet = t
                    .get(&scope, haneul_ec2::model::KIND_SUBNET, id)?
                    .ok_or_else(|| ElbError::SubnetNotFound(id.clone()))?;
                subnets.push(subnet);
            }
            let vpc_id = subnets.first().map(|s| s.vpc_id.clone()).unwrap_or_default();
            if subnets.iter().any(|s| s.vpc_id != vpc_id) {
                return Err(ElbError::InvalidSubnet(
                    "The subnets must all be in the same VPC".into(),
                ));
            }
            let mut zones: Vec<&str> = subnets.iter().map(|s| s.availability_zone.as_str()).collect();
            zones.sort();
            zones.dedup();
            if zones.len() < 2 {
                return Err(ElbError::Validation(
                    "At least two subnets in two different Availability Zones must be specified".into(),
                ));
            }
            let mut security_groups = input.security_groups.clone();
            let groups: Vec<haneul_ec2::model::SecurityGroup> = t
                .list(&scope, haneul_ec2::model::KIND_SECURITY_GROUP)?
                .into_iter()
                .map(|(_, g)| g)
                .collect();
            if security_groups.is_empty() {
                security_groups.extend(
                    groups
                        .iter()
                        .filter(|g| g.vpc_id == vpc_id && g.group_name == "default")
                        .map(|g| g.group_id.clone()),
                );
            }
            if let Some(bad) = security_groups
                .iter()
                .find(|id| !groups.iter().any(|g| &g.group_id == *id && g.vpc_id == vpc_id))
            {
                return Err(ElbError::InvalidSecurityGroup(format!(
                    "One or more security groups are invalid: {bad} is not a security group of {vpc_id}"
                )));
            }
            let subnet_pairs: Vec<(String, String)> = subnets
                .iter()
                .map(|s| (s.subnet_id.clone(), s.availability_zone.clone()))
                .collect();
            if let Some(existing) = t.get::<LoadBalancer>(&scope, KIND_LOAD_BALANCER, &input.name)? {
                if existing.scheme == scheme && existing.subnets == subnet_pairs {
                    return Ok((existing, false));
                }
                return Err(ElbError::DuplicateLoadBalancerName(input.name));
            }
            let address = allocate_address(t, &lb_cidr)?;
            let id = random_hex(16);
            let digits: String = (0..10).map(|_| char::from(b'0' + rand::random::<u8>() % 10)).collect();
            let prefix = if scheme == "internal" { "internal-" } else { "" };
            let lb = LoadBalancer {
                arn: format!(
                    "arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/{}/{id}",
                    input.name
                ),
                dns_name: format!("{prefix}{}-{digits}.{region}.elb.amazonaws.com", input.name),
                name: input.name,
                scheme,
                vpc_id,
                subnets: subnet_pairs,
                security_groups,
                ip_address_type: input.ip_address_type.unwrap_or_else(|| "ipv4".into()),
                created_at: now_epoch_s(),
                address: address.clone(),
                tags: input.tags.into_iter().map(|t| (t.key, t.value)).collect(),
                attributes: Default::default(),
            };
            t.put(&scope, KIND_LOAD_BALANCER, &lb.name, &lb)?;
            t.put(
                &scope,
                KIND_LB_ADDRESS,
                &address,
                &LbAddress {
                    dns_name: lb.dns_name.clone(),
                    ip: address.clone(),
                    load_balancer_arn: lb.arn.clone(),
                },
            )?;
            Ok((lb, true))
        })
        .await?;
    let state = if lb.1 { "provisioning" } else { "active" };
    Ok(json!({ "LoadBalancers": [lb_output(&lb.0, &out_region, state)] }))
}

pub(crate) fn page_size(raw: Option<i64>) -> Result<usize, ElbError> {
    match raw {
        None => Ok(MAX_PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE as i64).contains(&n) => Ok(n as usize),
        Some(n) => Err(ElbError::Validation(format!(
            "1 validation error detected: Value '{n}' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and {MAX_PAGE_SIZE}"
        ))),
    }
}

/// Something Describe* picks by ARN or name.
trait Named {
    fn arn(&self) -> &str;
    fn name(&self) -> &str;
}

impl Named for LoadBalancer {
    fn arn(&self) -> &str {
        &self.arn
    }
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for TargetGroup {
    fn arn(&self) -> &str {
        &self.arn
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// What a Describe* call asks for: ARNs or names (none: all), and the page.
struct Selection<'a> {
    arns: &'a [String],
    names: &'a [String],
    marker: Option<&'a str>,
    size: usize,
}

/// `items` (sorted by name) picked by ARN or name — all must exist — then paged by the marker.
fn select<T: Named>(
    items: Vec<T>,
    sel: &Selection<'_>,
    not_found: impl Fn(String) -> ElbError,
) -> Result<(Vec<T>, Option<String>), ElbError> {
    let missing: Vec<String> = sel
        .arns
        .iter()
        .filter(|a| !items.iter().any(|i| i.arn() == a.as_str()))
        .chain(
            sel.names
                .iter()
                .filter(|n| !items.iter().any(|i| i.name() == n.as_str())),
        )
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(not_found(missing.join(", ")));
    }
    let mut picked: Vec<T> = items
        .into_iter()
        .filter(|i| {
            (sel.arns.is_empty() && sel.names.is_empty())
                || sel.arns.iter().any(|a| a == i.arn())
                || sel.names.iter().any(|n| n == i.name())
        })
        .collect();
    let start = match sel.marker {
        None => 0,
        Some(m) => picked.iter().position(|i| i.name() > m).unwrap_or(picked.len()),
    };
    picked.drain(..start);
    let next = (picked.len() > sel.size).then(|| picked[sel.size - 1].name().to_string());
    picked.truncate(sel.size);
    Ok((picked, next))
}

pub async fn describe_load_balancers(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::DescribeLoadBalancersInput = parse(input)?;
    let size = page_size(input.page_size)?;
    let scope = scope(ctx);
    let all: Vec<LoadBalancer> = store
        .read(move |t| Ok::<_, ElbError>(t.list::<LoadBalancer>(&scope, KIND_LOAD_BALANCER)?))
        .await?
        .into_iter()
        .map(|(_, lb)| lb)
        .collect();
    let selection = Selection {
        arns: &input.load_balancer_arns,
        names: &input.names,
        marker: input.marker.as_deref(),
        size,
    };
    let (page, next) = select(all, &selection, ElbError::LoadBalancerNotFound)?;
    let items: Vec<Value> = page.iter().map(|lb| lb_output(lb, &ctx.region, "active")).collect();
    Ok(json!({ "LoadBalancers": items, "NextMarker": next }))
}

fn find_by_arn<T: serde::de::DeserializeOwned>(
    t: &Txn<'_>,
    scope: &Scope,
    kind: &str,
    arn: &str,
    arn_of: impl Fn(&T) -> &str,
) -> Result<Option<T>, ElbError> {
    // Records are keyed by name, and the name is in the ARN (`…:loadbalancer/app/<name>/<id>`,
    // `…:targetgroup/<name>/<id>`): one row, checked against the whole ARN.
    let Some(name) = arn.rsplit('/').nth(1) else {
        return Ok(None);
    };
    Ok(t.get::<T>(scope, kind, name)?.filter(|v| arn_of(v) == arn))
}

/// The load balancer with this ARN, or `LoadBalancerNotFound`.
pub(crate) fn load_balancer(t: &Txn<'_>, scope: &Scope, arn: &str) -> Result<LoadBalancer, ElbError> {
    find_by_arn::<LoadBalancer>(t, scope, KIND_LOAD_BALANCER, arn, |l| &l.arn)?
        .ok_or_else(|| ElbError::LoadBalancerNotFound(arn.to_string()))
}

/// The target group with this ARN, or `TargetGroupNotFound`.
pub(crate) fn target_group(t: &Txn<'_>, scope: &Scope, arn: &str) -> Result<TargetGroup, ElbError> {
    find_by_arn::<TargetGroup>(t, scope, KIND_TARGET_GROUP, arn, |g| &g.arn)?
        .ok_or_else(|| ElbError::TargetGroupNotFound(arn.to_string()))
}

pub async fn delete_load_balancer(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::DeleteLoadBalancerInput = parse(input)?;
    let scope = scope(ctx);
    store
        .write(move |t| {
            // Deleting a load balancer that is already gone succeeds, as at AWS.
            let Some(lb) =
                find_by_arn::<LoadBalancer>(t, &scope, KIND_LOAD_BALANCER, &input.load_balancer_arn, |l| &l.arn)?
            else {
                return Ok(());
            };
            if crate::attributes::effective(&lb)
                .get("deletion_protection.enabled")
                .map(String::as_str)
                == Some("true")
            {
                return Err(ElbError::OperationNotPermitted(format!(
                    "Load balancer '{}' cannot be deleted because deletion protection is enabled",
                    lb.arn
                )));
            }
            t.delete(&scope, KIND_LOAD_BALANCER, &lb.name)?;
            t.delete(&scope, KIND_LB_ADDRESS, &lb.address)?;
            crate::listeners::delete_listeners_of(t, &scope, &lb.arn)
        })
        .await?;
    Ok(json!({}))
}

fn tg_output(tg: &TargetGroup) -> Value {
    json!({
        "TargetGroupArn": tg.arn,
        "TargetGroupName": tg.name,
        "Protocol": tg.protocol,
        "Port": tg.port,
        "VpcId": tg.vpc_id,
        "HealthCheckProtocol": tg.health_check_protocol,
        "HealthCheckPort": tg.health_check_port,
        "HealthCheckEnabled": tg.health_check_enabled,
        "HealthCheckIntervalSeconds": tg.health_check_interval_s,
        "HealthCheckTimeoutSeconds": tg.health_check_timeout_s,
        "HealthyThresholdCount": tg.healthy_threshold,
        "UnhealthyThresholdCount": tg.unhealthy_threshold,
        "HealthCheckPath": tg.health_check_path,
        "Matcher": tg.matcher_http_code.as_ref().map(|c| json!({ "HttpCode": c })),
        "LoadBalancerArns": tg.load_balancer_arns,
        "TargetType": tg.target_type,
        "ProtocolVersion": tg.protocol_version,
        "IpAddressType": "ipv4",
    })
}

pub async fn create_target_group(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::CreateTargetGroupInput = parse(input)?;
    check_name("Target group", &input.name)?;
    let target_type = input.target_type.clone().unwrap_or_else(|| "instance".into());
    let needs_network = target_type != "lambda";
    if needs_network && (input.protocol.is_none() || input.port.is_none() || input.vpc_id.is_none()) {
        return Err(ElbError::Validation(format!(
            "A protocol, port and VPC ID must be specified for target groups of type '{target_type}'"
        )));
    }
    if let Some(p) = input.protocol.as_deref().filter(|p| !["HTTP", "HTTPS"].contains(p)) {
        return Err(ElbError::InvalidConfigurationRequest(format!(
            "haneul's application load balancers take HTTP and HTTPS target groups, not {p}"
        )));
    }
    let http = input.health_check_protocol.clone().or(input.protocol.clone());
    let scope = scope(ctx);
    let (region, account) = (ctx.region.clone(), ctx.account_id.clone());
    let tg = store
        .write(move |t| {
            if let Some(vpc) = &input.vpc_id {
                haneul_ec2::defaults::ensure_in(t, &scope).map_err(|e| ElbError::Validation(e.to_string()))?;
                if !t.exists(&scope, haneul_ec2::model::KIND_VPC, vpc)? {
                    return Err(ElbError::Validation(format!("The VPC ID '{vpc}' is not found")));
                }
            }
            let tg = TargetGroup {
                arn: format!(
                    "arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/{}/{}",
                    input.name,
                    random_hex(16)
                ),
                name: input.name.clone(),
                protocol: input.protocol,
                port: input.port,
                vpc_id: input.vpc_id,
                protocol_version: needs_network.then(|| input.protocol_version.unwrap_or_else(|| "HTTP1".into())),
                target_type,
                health_check_enabled: input.health_check_enabled.unwrap_or(true),
                health_check_protocol: http,
                health_check_port: input.health_check_port.unwrap_or_else(|| "traffic-port".into()),
                health_check_path: Some(input.health_check_path.unwrap_or_else(|| "/".into())),
                health_check_interval_s: input.health_check_interval_seconds.unwrap_or(30),
                // The default 5 s, kept below a shorter interval the caller chose.
                health_check_timeout_s: input
                    .health_check_timeout_seconds
                    .unwrap_or_else(|| input.health_check_interval_seconds.map_or(5, |i| 5.min(i - 1).max(2))),
                healthy_threshold: input.healthy_threshold_count.unwrap_or(5),
                unhealthy_threshold: input.unhealthy_threshold_count.unwrap_or(2),
                matcher_http_code: Some(input.matcher.and_then(|m| m.http_code).unwrap_or_else(|| "200".into())),
                load_balancer_arns: Vec::new(),
                tags: input.tags.into_iter().map(|t| (t.key, t.value)).collect(),
                targets: Vec::new(),
                attributes: Default::default(),
            };
            check_health(&tg)?;
            if let Some(existing) = t.get::<TargetGroup>(&scope, KIND_TARGET_GROUP, &tg.name)? {
                let same = existing.protocol == tg.protocol && existing.port == tg.port && existing.vpc_id == tg.vpc_id;
                if same {
                    return Ok(existing);
                }
                return Err(ElbError::DuplicateTargetGroupName(tg.name));
            }
            t.put(&scope, KIND_TARGET_GROUP, &tg.name, &tg)?;
            Ok(tg)
        })
        .await?;
    Ok(json!({ "TargetGroups": [tg_output(&tg)] }))
}

/// ALB's bounds on health check settings.
fn check_health(tg: &TargetGroup) -> Result<(), ElbError> {
    let within = |what: &str, v: i64, lo: i64, hi: i64| {
        if (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(ElbError::Validation(format!(
                "{what} must be between {lo} and {hi}, got {v}"
            )))
        }
    };
    within("Health check interval", tg.health_check_interval_s, 5, 300)?;
    within("Health check timeout", tg.health_check_timeout_s, 2, 120)?;
    within("Healthy threshold count", tg.healthy_threshold, 2, 10)?;
    within("Unhealthy threshold count", tg.unhealthy_threshold, 2, 10)?;
    if tg.health_check_timeout_s >= tg.health_check_interval_s {
        return Err(ElbError::Validation(
            "Health check timeout must be smaller than the interval".into(),
        ));
    }
    if tg.health_check_path.as_deref().is_some_and(|p| !p.starts_with('/')) {
        return Err(ElbError::Validation("Health check path must begin with '/'".into()));
    }
    let port_ok = tg.health_check_port == "traffic-port" || tg.health_check_port.parse::<u16>().is_ok_and(|p| p > 0);
    if !port_ok {
        return Err(ElbError::Validation(format!(
            "Health check port '{}' must be 'traffic-port' or a port number",
            tg.health_check_port
        )));
    }
    Ok(())
}

pub async fn modify_target_group(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::ModifyTargetGroupInput = parse(input)?;
    let scope = scope(ctx);
    let tg = store
        .write(move |t| {
            let mut tg = target_group(t, &scope, &input.target_group_arn)?;
            if let Some(v) = input.health_check_enabled {
                tg.health_check_enabled = v;
            }
            if let Some(v) = input.health_check_protocol {
                tg.health_check_protocol = Some(v);
            }
            if let Some(v) = input.health_check_port {
                tg.health_check_port = v;
            }
            if let Some(v) = input.health_check_path {
                tg.health_check_path = Some(v);
            }
            if let Some(v) = input.health_check_interval_seconds {
                tg.health_check_interval_s = v;
            }
            if let Some(v) = input.health_check_timeout_seconds {
                tg.health_check_timeout_s = v;
            }
            if let Some(v) = input.healthy_threshold_count {
                tg.healthy_threshold = v;
            }
            if let Some(v) = input.unhealthy_threshold_count {
                tg.unhealthy_threshold = v;
            }
            if let Some(code) = input.matcher.and_then(|m| m.http_code) {
                tg.matcher_http_code = Some(code);
            }
            check_health(&tg)?;
            t.put(&scope, KIND_TARGET_GROUP, &tg.name, &tg)?;
            Ok::<_, ElbError>(tg)
        })
        .await?;
    Ok(json!({ "TargetGroups": [tg_output(&tg)] }))
}

pub async fn describe_target_groups(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::DescribeTargetGroupsInput = parse(input)?;
    let size = page_size(input.page_size)?;
    let scope = scope(ctx);
    let lb_filter = input.load_balancer_arn.clone();
    let (all, lb_exists) = store
        .read(move |t| {
            let all: Vec<TargetGroup> = t
                .list::<TargetGroup>(&scope, KIND_TARGET_GROUP)?
                .into_iter()
                .map(|(_, tg)| tg)
                .collect();
            let lb_exists = match &lb_filter {
                Some(arn) => find_by_arn::<LoadBalancer>(t, &scope, KIND_LOAD_BALANCER, arn, |l| &l.arn)?.is_some(),
                None => true,
            };
            Ok::<_, ElbError>((all, lb_exists))
        })
        .await?;
    if !lb_exists {
        return Err(ElbError::LoadBalancerNotFound(
            input.load_balancer_arn.unwrap_or_default(),
        ));
    }
    let all: Vec<TargetGroup> = all
        .into_iter()
        .filter(|tg| {
            input
                .load_balancer_arn
                .as_ref()
                .is_none_or(|a| tg.load_balancer_arns.contains(a))
        })
        .collect();
    let selection = Selection {
        arns: &input.target_group_arns,
        names: &input.names,
        marker: input.marker.as_deref(),
        size,
    };
    let (page, next) = select(all, &selection, ElbError::TargetGroupNotFound)?;
    Ok(json!({ "TargetGroups": page.iter().map(tg_output).collect::<Vec<_>>(), "NextMarker": next }))
}

pub async fn delete_target_group(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::DeleteTargetGroupInput = parse(input)?;
    let scope = scope(ctx);
    store
        .write(move |t| {
            let Some(tg) =
                find_by_arn::<TargetGroup>(t, &scope, KIND_TARGET_GROUP, &input.target_group_arn, |g| &g.arn)?
            else {
                return Ok(());
            };
            if !tg.load_balancer_arns.is_empty() {
                return Err(ElbError::ResourceInUse(format!(
                    "Target group '{}' is currently in use by a listener or a rule",
                    tg.arn
                )));
            }
            t.delete(&scope, KIND_TARGET_GROUP, &tg.name)?;
            Ok(())
        })
        .await?;
    Ok(json!({}))
}

/// ALB's quotas, as DescribeAccountLimits lists them for application load balancers.
pub const ACCOUNT_LIMITS: &[(&str, i64)] = &[
    ("application-load-balancers", 50),
    ("target-groups", 3000),
    ("targets-per-application-load-balancer", 1000),
    (
        "listeners-per-application-load-balancer",
        crate::listeners::MAX_LISTENERS_PER_LB as i64,
    ),
    ("rules-per-application-load-balancer", 100),
    ("certificates-per-application-load-balancer", 25),
    ("target-groups-per-application-load-balancer", 100),
    (
        "target-groups-per-action-on-application-load-balancer",
        crate::actions::MAX_FORWARD_TARGET_GROUPS as i64,
    ),
];

pub fn describe_account_limits(input: Value) -> Result<Value, ElbError> {
    let input: api_types::DescribeAccountLimitsInput = parse(input)?;
    let size = page_size(input.page_size)?;
    let start = match &input.marker {
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| ElbError::Validation(format!("Marker '{m}' is not valid")))?,
        None => 0,
    };
    let page: Vec<Value> = ACCOUNT_LIMITS
        .iter()
        .skip(start)
        .take(size)
        .map(|(name, max)| json!({ "Name": name, "Max": max.to_string() }))
        .collect();
    let next = (ACCOUNT_LIMITS.len() > start + size).then(|| (start + size).to_string());
    Ok(json!({ "Limits": page, "NextMarker": next }))
}

pub fn describe_ssl_policies(input: Value) -> Result<Value, ElbError> {
    let input: api_types::DescribeSSLPoliciesInput = parse(input)?;
    use crate::proxy::tls_policy::{policy, POLICIES};
    let picked: Vec<&crate::proxy::tls_policy::Policy> = if input.names.is_empty() {
        POLICIES.iter().collect()
    } else {
        input
            .names
            .iter()
            .map(|n| policy(n).ok_or_else(|| ElbError::SslPolicyNotFound(format!("SSL policy '{n}' not found"))))
            .collect::<Result<_, _>>()?
    };
    let items: Vec<Value> = picked
        .iter()
        .map(|p| {
            json!({
                "Name": p.name,
                "SslProtocols": p.protocols,
                "Ciphers": p.ciphers.iter().enumerate().map(|(i, c)| json!({ "Name": c, "Priority": i + 1 })).collect::<Vec<_>>(),
                "SupportedLoadBalancerTypes": ["application", "network"],
            })
        })
        .collect();
    Ok(json!({ "SslPolicies": items }))
}

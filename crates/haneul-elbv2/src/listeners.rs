//! CreateListener, DescribeListeners, ModifyListener, DeleteListener and the listener
//! certificate list. A listener is stored with its rules; after every change the target groups'
//! load balancer links and ACM's InUseBy are recomputed from what listeners reference.

use haneul_acm::model::{Certificate as AcmCertificate, KIND_CERTIFICATE};
use haneul_store::{Scope, Store, Txn};
use haneul_wire::RequestContext;
use serde_json::{json, Value};

use crate::actions::{forwarded_groups, normalize_actions};
use crate::api::{load_balancer, random_hex, target_group};
use crate::error::ElbError;
use crate::generated as api_types;
use crate::model::*;
use crate::{parse, scope};

/// ALB's quotas.
pub const MAX_LISTENERS_PER_LB: usize = 50;
pub const MAX_CERTIFICATES_PER_LISTENER: usize = 25;
/// The policy a new HTTPS listener gets (ELBv2's current default).
pub const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/// The listener with this ARN, or `ListenerNotFound`.
pub(crate) fn listener(t: &Txn<'_>, scope: &Scope, arn: &str) -> Result<Listener, ElbError> {
    t.get::<Listener>(scope, KIND_LISTENER, arn)?
        .ok_or_else(|| ElbError::ListenerNotFound(format!("Listener '{arn}' not found")))
}

pub(crate) fn listeners_of(t: &Txn<'_>, scope: &Scope, lb_arn: &str) -> Result<Vec<Listener>, ElbError> {
    Ok(t.list::<Listener>(scope, KIND_LISTENER)?
        .into_iter()
        .map(|(_, l)| l)
        .filter(|l| l.load_balancer_arn == lb_arn)
        .collect())
}

/// Checks what the actions forward to against the load balancer they belong to.
pub(crate) fn check_forward_targets(
    t: &Txn<'_>,
    scope: &Scope,
    lb: &LoadBalancer,
    actions: &[Action],
) -> Result<(), ElbError> {
    for arn in forwarded_groups(actions) {
        let tg = target_group(t, scope, arn)?;
        if tg.vpc_id.as_deref() != Some(lb.vpc_id.as_str()) {
            return Err(ElbError::InvalidConfigurationRequest(format!(
                "Target group '{arn}' is not in the load balancer's VPC {}",
                lb.vpc_id
            )));
        }
        if tg.load_balancer_arns.iter().any(|a| a != &lb.arn) {
            return Err(ElbError::TargetGroupAssociationLimit(format!(
                "The following target groups cannot be associated with more than one load balancer: {arn}"
            )));
        }
    }
    Ok(())
}

/// Recomputes each target group's load balancers and each ACM certificate's InUseBy from the
/// listeners of `scope`.
pub(crate) fn relink(t: &mut Txn<'_>, scope: &Scope) -> Result<(), ElbError> {
    let listeners: Vec<Listener> = t
        .list::<Listener>(scope, KIND_LISTENER)?
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    for (_, mut tg) in t.list::<TargetGroup>(scope, KIND_TARGET_GROUP)? {
        let mut lbs: Vec<String> = listeners
            .iter()
            .filter(|l| {
                forwarded_groups(&l.default_actions)
                    .chain(l.rules.iter().flat_map(|r| forwarded_groups(&r.actions)))
                    .any(|a| a == tg.arn)
            })
            .map(|l| l.load_balancer_arn.clone())
            .collect();
        lbs.sort();
        lbs.dedup();
        if lbs != tg.load_balancer_arns {
            tg.load_balancer_arns = lbs;
            t.put(scope, KIND_TARGET_GROUP, &tg.name, &tg)?;
        }
    }
    for (id, mut cert) in t.list::<AcmCertificate>(scope, KIND_CERTIFICATE)? {
        let mut users: Vec<String> = cert
            .in_use_by
            .iter()
            .filter(|u| !u.starts_with("arn:aws:elasticloadbalancing:"))
            .cloned()
            .collect();
        users.extend(
            listeners
                .iter()
                .filter(|l| l.certificates.contains(&cert.arn))
                .map(|l| l.load_balancer_arn.clone()),
        );
        users.sort();
        users.dedup();
        if users != cert.in_use_by {
            cert.in_use_by = users;
            t.put(scope, KIND_CERTIFICATE, &id, &cert)?;
        }
    }
    Ok(())
}

/// An HTTPS listener's certificates must be ACM certificates of this account and region that
/// have been issued (or imported).
fn check_certificates(t: &Txn<'_>, scope: &Scope, arns: &[String]) -> Result<(), ElbError> {
    let certs: Vec<AcmCertificate> = t
        .list::<AcmCertificate>(scope, KIND_CERTIFICATE)?
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    for arn in arns {
        let usable = certs.iter().any(|c| &c.arn == arn && c.status == "ISSUED");
        if !usable {
            return Err(ElbError::CertificateNotFound(format!(
                "Certificate '{arn}' not found or not issued"
            )));
        }
    }
    if arns.len() > MAX_CERTIFICATES_PER_LISTENER + 1 {
        return Err(ElbError::TooManyCertificates(format!(
            "A listener can have at most {MAX_CERTIFICATES_PER_LISTENER} certificates besides its default"
        )));
    }
    Ok(())
}

/// Protocol, port, certificates and policy as a listener of an application load balancer takes them.
fn check_listener_shape(l: &Listener) -> Result<(), ElbError> {
    if !["HTTP", "HTTPS"].contains(&l.protocol.as_str()) {
        return Err(ElbError::UnsupportedProtocol(format!(
            "Protocol '{}' is not supported by application load balancers (HTTP or HTTPS)",
            l.protocol
        )));
    }
    if !(1..=65535).contains(&l.port) {
        return Err(ElbError::Validation(format!(
            "Port {} must be between 1 and 65535",
            l.port
        )));
    }
    if l.protocol == "HTTPS" {
        if l.certificates.is_empty() {
            return Err(ElbError::Validation(
                "A certificate must be specified for HTTPS listeners".into(),
            ));
        }
        let policy = l.ssl_policy.as_deref().unwrap_or(DEFAULT_SSL_POLICY);
        if crate::proxy::tls_policy::policy(policy).is_none() {
            return Err(ElbError::SslPolicyNotFound(format!("SSL policy '{policy}' not found")));
        }
    } else if !l.certificates.is_empty() {
        return Err(ElbError::Validation(
            "Certificates can only be given for HTTPS listeners".into(),
        ));
    }
    Ok(())
}

pub(crate) fn listener_output(l: &Listener) -> Value {
    json!({
        "ListenerArn": l.arn,
        "LoadBalancerArn": l.load_balancer_arn,
        "Port": l.port,
        "Protocol": l.protocol,
        "Certificates": l.certificates.first().map(|c| vec![json!({ "CertificateArn": c })]),
        "SslPolicy": l.ssl_policy,
        "DefaultActions": l.default_actions,
        "AlpnPolicy": (!l.alpn_policy.is_empty()).then_some(&l.alpn_policy),
    })
}

fn default_certificate(certs: &[api_types::Certificate]) -> Vec<String> {
    certs.iter().filter_map(|c| c.certificate_arn.clone()).take(1).collect()
}

pub async fn create_listener(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::CreateListenerInput = parse(input)?;
    let mut actions = input.default_actions.clone();
    normalize_actions(&mut actions)?;
    let protocol = input.protocol.clone().unwrap_or_else(|| "HTTP".into());
    let port = input.port.ok_or_else(|| {
        ElbError::Validation("A port must be specified for application load balancer listeners".into())
    })?;
    if input.certificates.len() > 1 {
        return Err(ElbError::TooManyCertificates(
            "CreateListener takes exactly one (default) certificate; add more with AddListenerCertificates".into(),
        ));
    }
    let scope = scope(ctx);
    let listener = store
        .write(move |t| {
            let lb = load_balancer(t, &scope, &input.load_balancer_arn)?;
            let existing = listeners_of(t, &scope, &lb.arn)?;
            let certificates = default_certificate(&input.certificates);
            if let Some(same) = existing.iter().find(|l| l.port == port) {
                if same.protocol == protocol
                    && same.default_actions == actions
                    && same.certificates.first() == certificates.first()
                {
                    return Ok(same.clone());
                }
                return Err(ElbError::DuplicateListener(port));
            }
            if existing.len() >= MAX_LISTENERS_PER_LB {
                return Err(ElbError::TooManyListeners(format!(
                    "A load balancer can have at most {MAX_LISTENERS_PER_LB} listeners"
                )));
            }
            let https = protocol == "HTTPS";
            let arn = format!(
                "{}/{}",
                lb.arn.replacen(":loadbalancer/", ":listener/", 1),
                random_hex(16)
            );
            let l = Listener {
                default_rule_arn: crate::rules::new_rule_arn(&arn),
                arn,
                load_balancer_arn: lb.arn.clone(),
                protocol,
                port,
                certificates,
                ssl_policy: https.then(|| input.ssl_policy.clone().unwrap_or_else(|| DEFAULT_SSL_POLICY.into())),
                alpn_policy: input.alpn_policy.clone(),
                default_actions: actions,
                rules: Vec::new(),
                tags: input.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect(),
            };
            check_listener_shape(&l)?;
            check_certificates(t, &scope, &l.certificates)?;
            check_forward_targets(t, &scope, &lb, &l.default_actions)?;
            t.put(&scope, KIND_LISTENER, &l.arn, &l)?;
            relink(t, &scope)?;
            Ok(l)
        })
        .await?;
    Ok(json!({ "Listeners": [listener_output(&listener)] }))
}

pub async fn describe_listeners(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::DescribeListenersInput = parse(input)?;
    if input.listener_arns.is_empty() && input.load_balancer_arn.is_none() {
        return Err(ElbError::Validation(
            "You must specify either listener ARNs or a load balancer ARN".into(),
        ));
    }
    let size = crate::api::page_size(input.page_size)?;
    let scope = scope(ctx);
    let mut listeners = store
        .read(move |t| {
            let mut found = Vec::new();
            if let Some(lb) = &input.load_balancer_arn {
                let lb = load_balancer(t, &scope, lb)?;
                found.extend(listeners_of(t, &scope, &lb.arn)?);
            }
            for arn in &input.listener_arns {
                if !found.iter().any(|l: &Listener| &l.arn == arn) {
                    found.push(listener(t, &scope, arn)?);
                }
            }
            if let Some(marker) = &input.marker {
                found.retain(|l| l.arn.as_str() > marker.as_str());
            }
            Ok::<_, ElbError>(found)
        })
        .await?;
    listeners.sort_by(|a, b| a.arn.cmp(&b.arn));
    let next = (listeners.len() > size).then(|| listeners[size - 1].arn.clone());
    listeners.truncate(size);
    Ok(json!({ "Listeners": listeners.iter().map(listener_output).collect::<Vec<_>>(), "NextMarker": next }))
}

pub async fn modify_listener(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::ModifyListenerInput = parse(input)?;
    let mut actions = input.default_actions.clone();
    if !actions.is_empty() {
        normalize_actions(&mut actions)?;
    }
    let scope = scope(ctx);
    let listener = store
        .write(move |t| {
            let mut l = listener(t, &scope, &input.listener_arn)?;
            let lb = load_balancer(t, &scope, &l.load_balancer_arn)?;
            if let Some(port) = input.port {
                let taken = listeners_of(t, &scope, &lb.arn)?
                    .iter()
                    .any(|o| o.port == port && o.arn != l.arn);
                if taken {
                    return Err(ElbError::DuplicateListener(port));
                }
                l.port = port;
            }
            if let Some(p) = input.protocol {
                if p == "HTTP" {
                    l.certificates.clear();
                    l.ssl_policy = None;
                }
                l.protocol = p;
            }
            if !input.certificates.is_empty() {
                let default = default_certificate(&input.certificates);
                l.certificates.retain(|c| !default.contains(c));
                if l.certificates.is_empty() {
                    l.certificates = default;
                } else {
                    l.certificates[0] = default.into_iter().next().unwrap_or_default();
                }
            }
            if l.protocol == "HTTPS" {
                l.ssl_policy = Some(
                    input
                        .ssl_policy
                        .or(l.ssl_policy)
                        .unwrap_or_else(|| DEFAULT_SSL_POLICY.into()),
                );
            }
            if !input.alpn_policy.is_empty() {
                l.alpn_policy = input.alpn_policy;
            }
            if !actions.is_empty() {
                check_forward_targets(t, &scope, &lb, &actions)?;
                l.default_actions = actions;
            }
            check_listener_shape(&l)?;
            check_certificates(t, &scope, &l.certificates)?;
            t.put(&scope, KIND_LISTENER, &l.arn, &l)?;
            relink(t, &scope)?;
            Ok(l)
        })
        .await?;
    Ok(json!({ "Listeners": [listener_output(&listener)] }))
}

pub async fn delete_listener(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::DeleteListenerInput = parse(input)?;
    let scope = scope(ctx);
    store
        .write(move |t| {
            let l = listener(t, &scope, &input.listener_arn)?;
            t.delete(&scope, KIND_LISTENER, &l.arn)?;
            relink(t, &scope)
        })
        .await?;
    Ok(json!({}))
}

/// Deletes every listener of a load balancer being deleted (inside its transaction).
pub(crate) fn delete_listeners_of(t: &mut Txn<'_>, scope: &Scope, lb_arn: &str) -> Result<(), ElbError> {
    for l in listeners_of(t, scope, lb_arn)? {
        t.delete(scope, KIND_LISTENER, &l.arn)?;
    }
    relink(t, scope)
}

pub async fn add_listener_certificates(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, ElbError> {
    let input: api_types::AddListenerCertificatesInput = parse(input)?;
    let scope = scope(ctx);
    let added: Vec<String> = input
        .certificates
        .iter()
        .filter_map(|c| c.certificate_arn.clone())
        .collect();
    let out = added.clone();
    store
        .write(move |t| {
            let mut l = listener(t, &scope, &input.listener_arn)?;
            for arn in added {
                if !l.certificates.contains(&arn) {
                    l.certificates.push(arn);
                }
            }
            check_certificates(t, &scope, &l.certificates)?;
            t.put(&scope, KIND_LISTENER, &l.arn, &l)?;
            relink(t, &scope)
        })
        .await?;
    let certs: Vec<Value> = out
        .iter()
        .map(|a| json!({ "CertificateArn": a, "IsDefault": false }))
        .collect();
    Ok(json!({ "Certificates": certs }))
}

pub async fn remove_listener_certificates(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, ElbError> {
    let input: api_types::RemoveListenerCertificatesInput = parse(input)?;
    let scope = scope(ctx);
    store
        .write(move |t| {
            let mut l = listener(t, &scope, &input.listener_arn)?;
            for c in input.certificates.iter().filter_map(|c| c.certificate_arn.as_ref()) {
                if l.certificates.first() == Some(c) {
                    return Err(ElbError::OperationNotPermitted(
                        "The default certificate cannot be removed; change it with ModifyListener".into(),
                    ));
                }
                l.certificates.retain(|x| x != c);
            }
            t.put(&scope, KIND_LISTENER, &l.arn, &l)?;
            relink(t, &scope)
        })
        .await?;
    Ok(json!({}))
}

pub async fn describe_listener_certificates(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, ElbError> {
    let input: api_types::DescribeListenerCertificatesInput = parse(input)?;
    let scope = scope(ctx);
    let l = store.read(move |t| listener(t, &scope, &input.listener_arn)).await?;
    let certs: Vec<Value> = l
        .certificates
        .iter()
        .enumerate()
        .map(|(i, a)| json!({ "CertificateArn": a, "IsDefault": i == 0 }))
        .collect();
    Ok(json!({ "Certificates": certs }))
}

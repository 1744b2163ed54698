//! The operations: availability, registration, listing, details, name servers, deletion, and
//! the operation log registrations leave.

use haneul_route53::api::hosted_zones::insert_zone;
use haneul_route53::model::{DomainNameserver, RegisteredDomain, Zone, KIND_DOMAIN, KIND_ZONE};
use haneul_store::{Scope, Store, Txn};
use haneul_wire::value::now_epoch_s;
use haneul_wire::RequestContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::DomainsError;
use crate::generated as api_types;
use crate::names::{self, DomainName};
use crate::{parse, scope};

/// The operation log, keyed by operation id.
pub const KIND_OPERATION: &str = "route53domains.operation";
/// Registration length Route 53 Domains allows, in years.
pub const MIN_YEARS: i64 = 1;
pub const MAX_YEARS: i64 = 10;
/// Name servers a domain may have.
pub const MAX_NAMESERVERS: usize = 6;
/// Page sizes: the default and the most a request may ask for.
pub const DEFAULT_MAX_ITEMS: usize = 20;
pub const MAX_MAX_ITEMS: usize = 100;
const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;
const REGISTRAR_NAME: &str = "haneul local registrar";
/// Comment AWS puts on the hosted zone registration creates.
const ZONE_COMMENT: &str = "HostedZone created by Route53 Registrar";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Operation {
    pub id: String,
    pub domain_name: String,
    pub r#type: String,
    pub submitted_at: f64,
}

fn operation_output(op: &Operation) -> Value {
    json!({
        "OperationId": op.id,
        "DomainName": op.domain_name,
        "Type": op.r#type,
        "Status": "SUCCESSFUL",
        "SubmittedDate": op.submitted_at,
        "LastUpdatedDate": op.submitted_at,
    })
}

fn log_operation(t: &mut Txn<'_>, scope: &Scope, domain_name: &str, kind: &str) -> Result<String, DomainsError> {
    let op = Operation {
        id: uuid::Uuid::new_v4().to_string(),
        domain_name: domain_name.to_string(),
        r#type: kind.to_string(),
        submitted_at: now_epoch_s(),
    };
    t.put(scope, KIND_OPERATION, &op.id, &op)?;
    Ok(op.id)
}

/// Whether any account has registered `name` in this haneul.
fn registered_anywhere(t: &Txn<'_>, name: &str) -> Result<bool, DomainsError> {
    Ok(t.list_all_scopes::<RegisteredDomain>(KIND_DOMAIN)?
        .iter()
        .any(|(_, key, _)| key == name))
}

fn load(t: &Txn<'_>, scope: &Scope, raw: &str) -> Result<(DomainName, RegisteredDomain), DomainsError> {
    let name = names::parse(raw)?;
    let domain = t
        .get::<RegisteredDomain>(scope, KIND_DOMAIN, &name.name)?
        .ok_or_else(|| DomainsError::InvalidInput(format!("Domain {} not found in account", name.name)))?;
    Ok((name, domain))
}

fn page_size(raw: Option<i64>) -> Result<usize, DomainsError> {
    match raw {
        None => Ok(DEFAULT_MAX_ITEMS),
        Some(n) if (1..=MAX_MAX_ITEMS as i64).contains(&n) => Ok(n as usize),
        Some(n) => Err(DomainsError::InvalidInput(format!(
            "MaxItems must be between 1 and {MAX_MAX_ITEMS}, got {n}"
        ))),
    }
}

pub async fn check_domain_availability(store: &Store, input: Value) -> Result<Value, DomainsError> {
    let input: api_types::CheckDomainAvailabilityRequest = parse(input)?;
    let name = names::parse(&input.domain_name)?;
    let taken = store.read(move |t| registered_anywhere(t, &name.name)).await?;
    Ok(json!({ "Availability": if taken { "UNAVAILABLE" } else { "AVAILABLE" } }))
}

fn nameservers_of(zone: &Zone) -> Vec<DomainNameserver> {
    zone.name_servers
        .iter()
        .map(|n| DomainNameserver {
            name: n.clone(),
            glue_ips: Vec::new(),
        })
        .collect()
}

pub async fn register_domain(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, DomainsError> {
    let input: api_types::RegisterDomainRequest = parse(input)?;
    let name = names::parse(&input.domain_name)?;
    if !(MIN_YEARS..=MAX_YEARS).contains(&input.duration_in_years) {
        return Err(DomainsError::InvalidInput(format!(
            "DurationInYears must be between {MIN_YEARS} and {MAX_YEARS} for .{}",
            name.tld
        )));
    }
    let scope = scope(ctx);
    let operation_id = store
        .write(move |t| {
            if registered_anywhere(t, &name.name)? {
                return Err(DomainsError::InvalidInput(format!(
                    "The domain {} is not available for registration.",
                    name.name
                )));
            }
            // The account's one public zone of this name is adopted; otherwise one is made.
            let fqdn = format!("{}.", name.name);
            let existing: Vec<Zone> = t
                .list::<Zone>(&scope, KIND_ZONE)?
                .into_iter()
                .map(|(_, z)| z)
                .filter(|z| !z.private_zone && z.name == fqdn)
                .collect();
            let zone = match existing.as_slice() {
                [one] => one.clone(),
                _ => {
                    let reference = format!("RegisterDomain-{}-{}", name.name, uuid::Uuid::new_v4());
                    insert_zone(t, &scope, fqdn, reference, Some(ZONE_COMMENT.into()), Vec::new())?
                }
            };
            let now = now_epoch_s();
            let privacy = |flag: Option<bool>| flag.unwrap_or(true);
            let domain = RegisteredDomain {
                name: name.name.clone(),
                tld: name.tld.clone(),
                nameservers: nameservers_of(&zone),
                hosted_zone_id: Some(zone.id.clone()),
                auto_renew: input.auto_renew.unwrap_or(true),
                contacts: json!({
                    "AdminContact": input.admin_contact,
                    "RegistrantContact": input.registrant_contact,
                    "TechContact": input.tech_contact,
                    "BillingContact": input.billing_contact.clone().unwrap_or_else(|| input.admin_contact.clone()),
                }),
                privacy: json!({
                    "AdminPrivacy": privacy(input.privacy_protect_admin_contact),
                    "RegistrantPrivacy": privacy(input.privacy_protect_registrant_contact),
                    "TechPrivacy": privacy(input.privacy_protect_tech_contact),
                    "BillingPrivacy": privacy(input.privacy_protect_billing_contact),
                }),
                created_at: now,
                updated_at: now,
                expires_at: now + input.duration_in_years as f64 * SECONDS_PER_YEAR,
            };
            t.put(&scope, KIND_DOMAIN, &domain.name, &domain)?;
            log_operation(t, &scope, &domain.name, "REGISTER_DOMAIN")
        })
        .await?;
    Ok(json!({ "OperationId": operation_id }))
}

fn matches_filters(d: &RegisteredDomain, filters: &[api_types::FilterCondition]) -> bool {
    filters.iter().all(|f| match (f.name.as_str(), f.operator.as_str()) {
        ("DomainName", "BEGINS_WITH") => f.values.iter().any(|v| d.name.starts_with(&v.to_ascii_lowercase())),
        ("Expiry", op) => f.values.iter().any(|v| {
            let Some(when) = haneul_wire::value::parse_timestamp(v) else {
                return false;
            };
            match op {
                "GE" => d.expires_at >= when,
                "LE" => d.expires_at <= when,
                _ => false,
            }
        }),
        _ => false,
    })
}

pub async fn list_domains(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, DomainsError> {
    let input: api_types::ListDomainsRequest = parse(input)?;
    let max = page_size(input.max_items)?;
    let scope = scope(ctx);
    let mut domains: Vec<RegisteredDomain> = store
        .read(move |t| Ok::<_, DomainsError>(t.list::<RegisteredDomain>(&scope, KIND_DOMAIN)?))
        .await?
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| matches_filters(d, &input.filter_conditions))
        .collect();
    if let Some(sort) = &input.sort_condition {
        match sort.name.as_str() {
            "Expiry" => domains.sort_by(|a, b| a.expires_at.total_cmp(&b.expires_at)),
            "DomainName" => domains.sort_by(|a, b| a.name.cmp(&b.name)),
            other => {
                return Err(DomainsError::InvalidInput(format!(
                    "Sorting by {other} is not supported; use DomainName or Expiry."
                )))
            }
        }
        if sort.sort_order == "DESC" {
            domains.reverse();
        }
    }
    let start = match input.marker.as_deref() {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|i| *i <= domains.len())
            .ok_or_else(|| DomainsError::InvalidInput(format!("Invalid Marker: {m}")))?,
    };
    let page: Vec<Value> = domains
        .iter()
        .skip(start)
        .take(max)
        .map(|d| {
            json!({
                "DomainName": d.name,
                "AutoRenew": d.auto_renew,
                "TransferLock": true,
                "Expiry": d.expires_at,
            })
        })
        .collect();
    let next = (start + max < domains.len()).then(|| (start + max).to_string());
    Ok(json!({ "Domains": page, "NextPageMarker": next }))
}

pub async fn get_domain_detail(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, DomainsError> {
    let input: api_types::GetDomainDetailRequest = parse(input)?;
    let scope = scope(ctx);
    let (_, d) = store.read(move |t| load(t, &scope, &input.domain_name)).await?;
    let mut out = json!({
        "DomainName": d.name,
        "Nameservers": d.nameservers.iter().map(|n| json!({ "Name": n.name, "GlueIps": n.glue_ips })).collect::<Vec<_>>(),
        "AutoRenew": d.auto_renew,
        "RegistrarName": REGISTRAR_NAME,
        "RegistrarUrl": "https://github.com/haneul",
        "WhoIsServer": "whois.haneul.invalid",
        "AbuseContactEmail": "abuse@haneul.invalid",
        "RegistryDomainId": format!("haneul-{}", d.name),
        "CreationDate": d.created_at,
        "UpdatedDate": d.updated_at,
        "ExpirationDate": d.expires_at,
        "StatusList": ["clientTransferProhibited"],
    });
    if let (Some(obj), Some(contacts), Some(privacy)) =
        (out.as_object_mut(), d.contacts.as_object(), d.privacy.as_object())
    {
        obj.extend(contacts.clone());
        obj.extend(privacy.clone());
    }
    Ok(out)
}

/// Name servers as given, checked: 1–6 valid host names, glue only for servers inside the
/// domain itself.
fn checked_nameservers(domain: &str, given: &[api_types::Nameserver]) -> Result<Vec<DomainNameserver>, DomainsError> {
    if given.is_empty() || given.len() > MAX_NAMESERVERS {
        return Err(DomainsError::InvalidInput(format!(
            "A domain needs between 1 and {MAX_NAMESERVERS} name servers."
        )));
    }
    given
        .iter()
        .map(|n| {
            let name = n.name.trim_end_matches('.').to_ascii_lowercase();
            if haneul_route53::names::normalize(&name).is_err() || !name.contains('.') {
                return Err(DomainsError::InvalidInput(format!(
                    "Invalid name server name: {}",
                    n.name
                )));
            }
            let inside = name == domain || name.ends_with(&format!(".{domain}"));
            if !n.glue_ips.is_empty() && !inside {
                return Err(DomainsError::InvalidInput(format!(
                    "Glue IPs are allowed only for name servers inside {domain}: {}",
                    n.name
                )));
            }
            if n.glue_ips.iter().any(|ip| ip.parse::<std::net::IpAddr>().is_err()) {
                return Err(DomainsError::InvalidInput(format!("Invalid glue IP for {}", n.name)));
            }
            Ok(DomainNameserver {
                name,
                glue_ips: n.glue_ips.clone(),
            })
        })
        .collect()
}

pub async fn update_domain_nameservers(
    store: &Store,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, DomainsError> {
    let input: api_types::UpdateDomainNameserversRequest = parse(input)?;
    let scope = scope(ctx);
    let operation_id = store
        .write(move |t| {
            let (name, mut d) = load(t, &scope, &input.domain_name)?;
            d.nameservers = checked_nameservers(&name.name, &input.nameservers)?;
            d.updated_at = now_epoch_s();
            t.put(&scope, KIND_DOMAIN, &d.name, &d)?;
            log_operation(t, &scope, &d.name, "UPDATE_NAMESERVER")
        })
        .await?;
    Ok(json!({ "OperationId": operation_id }))
}

/// Ends the registration; the hosted zone stays, as at AWS.
pub async fn delete_domain(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, DomainsError> {
    let input: api_types::DeleteDomainRequest = parse(input)?;
    let scope = scope(ctx);
    let operation_id = store
        .write(move |t| {
            let (_, d) = load(t, &scope, &input.domain_name)?;
            t.delete(&scope, KIND_DOMAIN, &d.name)?;
            log_operation(t, &scope, &d.name, "DELETE_DOMAIN")
        })
        .await?;
    Ok(json!({ "OperationId": operation_id }))
}

pub async fn get_operation_detail(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, DomainsError> {
    let input: api_types::GetOperationDetailRequest = parse(input)?;
    let scope = scope(ctx);
    let id = input.operation_id.clone();
    let op = store
        .read(move |t| Ok::<_, DomainsError>(t.get::<Operation>(&scope, KIND_OPERATION, &id)?))
        .await?
        .ok_or_else(|| DomainsError::InvalidInput(format!("No operation found with ID {}", input.operation_id)))?;
    Ok(operation_output(&op))
}

pub async fn list_operations(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, DomainsError> {
    let input: api_types::ListOperationsRequest = parse(input)?;
    let max = page_size(input.max_items)?;
    let scope = scope(ctx);
    let mut ops: Vec<Operation> = store
        .read(move |t| Ok::<_, DomainsError>(t.list::<Operation>(&scope, KIND_OPERATION)?))
        .await?
        .into_iter()
        .map(|(_, o)| o)
        .filter(|o| input.submitted_since.is_none_or(|since| o.submitted_at >= since))
        .filter(|o| input.r#type.is_empty() || input.r#type.contains(&o.r#type))
        // Every operation completes at once: only a filter that admits SUCCESSFUL lists any.
        .filter(|_| input.status.is_empty() || input.status.iter().any(|s| s == "SUCCESSFUL"))
        .collect();
    ops.sort_by(|a, b| a.submitted_at.total_cmp(&b.submitted_at).then_with(|| a.id.cmp(&b.id)));
    if input.sort_order.as_deref() == Some("DESC") {
        ops.reverse();
    }
    let start = match input.marker.as_deref() {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|i| *i <= ops.len())
            .ok_or_else(|| DomainsError::InvalidInput(format!("Invalid Marker: {m}")))?,
    };
    let page: Vec<Value> = ops.iter().skip(start).take(max).map(operation_output).collect();
    let next = (start + max < ops.len()).then(|| (start + max).to_string());
    Ok(json!({ "Operations": page, "NextPageMarker": next }))
}

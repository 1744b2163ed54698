//! RequestCertificate, DescribeCertificate, ListCertificates, GetCertificate,
//! DeleteCertificate and the tag operations.

use haneul_store::{Scope, Store, Txn};
use haneul_wire::value::now_epoch_s;
use haneul_wire::RequestContext;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::AcmError;
use crate::generated as api_types;
use crate::model::*;
use crate::{parse, scope};

/// ACM's default quota of names on one certificate (domain name + SANs).
pub const MAX_NAMES: usize = 10;
/// Tags one certificate may carry.
pub const MAX_TAGS: usize = 50;
/// How long an IdempotencyToken returns the same certificate.
pub const IDEMPOTENCY_WINDOW_S: f64 = 3600.0;
/// ListCertificates page size when none is asked for, and the most it may ask for.
pub const DEFAULT_MAX_ITEMS: usize = 1000;

/// The name a validation is for: `*.example.test` is validated as `example.test`.
pub fn validated_name(domain: &str) -> &str {
    domain.strip_prefix("*.").unwrap_or(domain)
}

fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// ACM's DNS validation CNAME for `domain` in `account` (stable, as ACM's are).
pub fn validation_record(account_id: &str, domain: &str) -> (String, String) {
    let base = validated_name(domain);
    let name = format!("_{}.{base}.", &digest(&["name", account_id, base])[..32]);
    let value_digest = digest(&["value", account_id, base]);
    let value = format!(
        "_{}.{}.acm-validations.aws.",
        &value_digest[..32],
        &value_digest[32..42]
    );
    (name, value)
}

/// `arn:aws:acm:<region>:<account>:certificate/<id>` → id, checked against the caller.
fn certificate_id(ctx: &RequestContext, arn: &str) -> Result<String, AcmError> {
    let invalid = || AcmError::InvalidArn(format!("The certificate ARN {arn} is not valid."));
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return Err(invalid());
    };
    let id = resource.strip_prefix("certificate/").ok_or_else(invalid)?;
    if *prefix != "arn" || !partition.starts_with("aws") || *service != "acm" || id.is_empty() {
        return Err(invalid());
    }
    if *region != ctx.region || *account != ctx.account_id {
        return Err(AcmError::NotFound(arn.to_string()));
    }
    Ok(id.to_string())
}

pub(crate) fn load(t: &Txn<'_>, scope: &Scope, ctx: &RequestContext, arn: &str) -> Result<Certificate, AcmError> {
    let id = certificate_id(ctx, arn)?;
    t.get(scope, KIND_CERTIFICATE, &id)?
        .ok_or_else(|| AcmError::NotFound(arn.to_string()))
}

fn check_name(name: &str) -> Result<String, AcmError> {
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    let body = lower.strip_prefix("*.").unwrap_or(&lower);
    let labels: Vec<&str> = body.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if lower.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) || body.contains('*') {
        return Err(AcmError::InvalidParameter(format!(
            "The domain name {name} is not valid: use a fully qualified name, with a wildcard only as the whole first label (*.example.com)."
        )));
    }
    Ok(lower)
}

pub(crate) fn check_tags(tags: &[api_types::Tag]) -> Result<(), AcmError> {
    if let Some(t) = tags.iter().find(|t| t.key.to_ascii_lowercase().starts_with("aws:")) {
        return Err(AcmError::InvalidTag(format!(
            "Tag key {} uses the reserved prefix aws:.",
            t.key
        )));
    }
    Ok(())
}

pub async fn request_certificate(
    store: &Store,
    mailbox: &crate::mail::Mailbox,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AcmError> {
    let input: api_types::RequestCertificateRequest = parse(input)?;
    let domain = check_name(&input.domain_name)?;
    let mut names = vec![domain.clone()];
    for san in &input.subject_alternative_names {
        let san = check_name(san)?;
        if !names.contains(&san) {
            names.push(san);
        }
    }
    if names.len() > MAX_NAMES {
        return Err(AcmError::LimitExceeded(format!(
            "The certificate would hold {} domain names; the quota is {MAX_NAMES}.",
            names.len()
        )));
    }
    let key_algorithm = input.key_algorithm.clone().unwrap_or_else(|| "RSA_2048".into());
    if !crate::ca::ISSUABLE_KEYS.contains(&key_algorithm.as_str()) {
        return Err(AcmError::InvalidParameter(format!(
            "Key algorithm {key_algorithm} is not supported for requested certificates; use one of {}.",
            crate::ca::ISSUABLE_KEYS.join(", ")
        )));
    }
    let method = input.validation_method.clone().unwrap_or_else(|| "EMAIL".into());
    let mut validation_domains: Vec<String> = names.clone();
    for o in &input.domain_validation_options {
        let name = o.domain_name.trim_end_matches('.').to_ascii_lowercase();
        let Some(i) = names.iter().position(|n| *n == name) else {
            return Err(AcmError::InvalidDomainValidationOptions(format!(
                "DomainValidationOptions names {}, which is not a name on the certificate.",
                o.domain_name
            )));
        };
        let vd = o.validation_domain.trim_end_matches('.').to_ascii_lowercase();
        let base = validated_name(&name);
        if vd != base && !base.ends_with(&format!(".{vd}")) {
            return Err(AcmError::InvalidDomainValidationOptions(format!(
                "The validation domain {vd} must be {base} or a domain above it."
            )));
        }
        validation_domains[i] = vd;
    }
    check_tags(&input.tags)?;
    if input.tags.len() > MAX_TAGS {
        return Err(AcmError::TooManyTags(format!(
            "A certificate can have at most {MAX_TAGS} tags."
        )));
    }
    let exportable = input.options.as_ref().and_then(|o| o.export.as_deref()) == Some("ENABLED");
    let scope = scope(ctx);
    let (account, region) = (ctx.account_id.clone(), ctx.region.clone());
    let arn = store
        .write(move |t| {
            let now = now_epoch_s();
            let token_key = input
                .idempotency_token
                .as_ref()
                .map(|tok| format!("{tok}\u{1}{domain}"));
            if let Some(key) = &token_key {
                if let Some(rec) = t.get::<IdempotencyRecord>(&scope, KIND_IDEMPOTENCY, key)? {
                    if now - rec.created_at < IDEMPOTENCY_WINDOW_S
                        && t.exists(&scope, KIND_CERTIFICATE, &rec.certificate_id)?
                    {
                        return Ok(format!(
                            "arn:aws:acm:{region}:{account}:certificate/{}",
                            rec.certificate_id
                        ));
                    }
                }
            }
            let id = uuid::Uuid::new_v4().to_string();
            let arn = format!("arn:aws:acm:{region}:{account}:certificate/{id}");
            let validations = names
                .iter()
                .zip(&validation_domains)
                .map(|(n, vd)| {
                    let (record_name, record_value) = validation_record(&account, n);
                    Validation {
                        domain_name: n.clone(),
                        validation_domain: vd.clone(),
                        status: "PENDING_VALIDATION".into(),
                        record_name,
                        record_value,
                        approval_token: (method == "EMAIL").then(|| uuid::Uuid::new_v4().simple().to_string()),
                    }
                })
                .collect();
            let cert = Certificate {
                arn: arn.clone(),
                id: id.clone(),
                domain_name: domain,
                names,
                key_algorithm,
                validation_method: method,
                status: "PENDING_VALIDATION".into(),
                created_at: now,
                issued_at: None,
                not_before: None,
                not_after: None,
                serial: None,
                signature_algorithm: None,
                certificate_pem: None,
                chain_pem: None,
                sealed_key: None,
                validations,
                transparency_logging: input
                    .options
                    .and_then(|o| o.certificate_transparency_logging_preference)
                    .unwrap_or_else(|| "ENABLED".into()),
                tags: input.tags.into_iter().map(|t| (t.key, t.value)).collect(),
                in_use_by: Vec::new(),
                failure_reason: None,
                cert_type: "AMAZON_ISSUED".into(),
                imported_at: None,
                subject: None,
                issuer: None,
                renewal: None,
                renewal_requested: false,
                exportable,
            };
            t.put(&scope, KIND_CERTIFICATE, &id, &cert)?;
            if let Some(key) = token_key {
                t.put(
                    &scope,
                    KIND_IDEMPOTENCY,
                    &key,
                    &IdempotencyRecord {
                        certificate_id: id,
                        created_at: now,
                    },
                )?;
            }
            Ok::<_, AcmError>(arn)
        })
        .await?;
    send_validation_mails(store, mailbox, ctx, &arn, None).await?;
    Ok(json!({ "CertificateArn": arn }))
}

/// Writes the validation mails of a pending EMAIL certificate (of one name, or all).
async fn send_validation_mails(
    store: &Store,
    mailbox: &crate::mail::Mailbox,
    ctx: &RequestContext,
    arn: &str,
    only: Option<(&str, &str)>,
) -> Result<(), AcmError> {
    let (scope, ctx2, arn2) = (scope(ctx), ctx.clone(), arn.to_string());
    let cert = store.read(move |t| load(t, &scope, &ctx2, &arn2)).await?;
    if cert.validation_method != "EMAIL" {
        return Ok(());
    }
    let mut sent = 0;
    for v in cert.validations.iter().filter(|v| v.status == "PENDING_VALIDATION") {
        if only.is_some_and(|(d, vd)| d != v.domain_name || vd != v.validation_domain) {
            continue;
        }
        if let Some(token) = &v.approval_token {
            mailbox.send(&cert, &v.domain_name, &v.validation_domain, token)?;
            sent += 1;
        }
    }
    if only.is_some() && sent == 0 {
        return Err(AcmError::InvalidDomainValidationOptions(
            "No pending validation of the certificate matches that Domain and ValidationDomain.".into(),
        ));
    }
    Ok(())
}

pub async fn resend_validation_email(
    store: &Store,
    mailbox: &crate::mail::Mailbox,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AcmError> {
    let input: api_types::ResendValidationEmailRequest = parse(input)?;
    let (scope, ctx2, arn) = (scope(ctx), ctx.clone(), input.certificate_arn.clone());
    let cert = store.read(move |t| load(t, &scope, &ctx2, &arn)).await?;
    if cert.status != "PENDING_VALIDATION" || cert.validation_method != "EMAIL" {
        return Err(AcmError::InvalidState(format!(
            "Certificate {} is {} with {} validation; only pending EMAIL validations get mail.",
            cert.arn, cert.status, cert.validation_method
        )));
    }
    let (domain, vd) = (
        input.domain.to_ascii_lowercase(),
        input.validation_domain.to_ascii_lowercase(),
    );
    send_validation_mails(store, mailbox, ctx, &cert.arn, Some((&domain, &vd))).await?;
    Ok(json!({}))
}

fn key_usages(c: &Certificate) -> Vec<Value> {
    let mut out = vec![json!({ "Name": "DIGITAL_SIGNATURE" })];
    if c.key_algorithm.starts_with("RSA") {
        out.push(json!({ "Name": "KEY_ENCIPHERMENT" }));
    }
    out
}

fn detail(c: &Certificate) -> Value {
    let issued = c.status == "ISSUED";
    json!({
        "CertificateArn": c.arn,
        "DomainName": c.domain_name,
        "SubjectAlternativeNames": c.names,
        "DomainValidationOptions": c.validations.iter().map(|v| json!({
            "DomainName": v.domain_name,
            "ValidationDomain": v.validation_domain,
            "ValidationStatus": v.status,
            "ValidationMethod": c.validation_method,
            "ResourceRecord": (c.validation_method == "DNS").then(|| json!({ "Name": v.record_name, "Type": "CNAME", "Value": v.record_value })),
            "ValidationEmails": (c.validation_method == "EMAIL").then(|| crate::mail::addresses(&v.validation_domain)),
        })).collect::<Vec<_>>(),
        "Serial": c.serial,
        "Subject": c.subject.clone().unwrap_or_else(|| format!("CN={}", c.domain_name)),
        "Issuer": c.issuer.clone().unwrap_or_else(|| "haneul".into()),
        "ImportedAt": c.imported_at,
        "CreatedAt": c.created_at,
        "IssuedAt": c.issued_at,
        "Status": c.status,
        "NotBefore": c.not_before,
        "NotAfter": c.not_after,
        "KeyAlgorithm": c.key_algorithm,
        "SignatureAlgorithm": c.signature_algorithm,
        "InUseBy": c.in_use_by,
        "FailureReason": c.failure_reason,
        "Type": c.cert_type,
        "KeyUsages": if issued { key_usages(c) } else { Vec::new() },
        "ExtendedKeyUsages": if issued { vec![
            json!({ "Name": "TLS_WEB_SERVER_AUTHENTICATION", "OID": "1.3.6.1.5.5.7.3.1" }),
            json!({ "Name": "TLS_WEB_CLIENT_AUTHENTICATION", "OID": "1.3.6.1.5.5.7.3.2" }),
        ] } else { Vec::new() },
        "RenewalEligibility": if issued && c.cert_type == "AMAZON_ISSUED" && !c.in_use_by.is_empty() { "ELIGIBLE" } else { "INELIGIBLE" },
        "Options": {
            "CertificateTransparencyLoggingPreference": c.transparency_logging,
            "Export": if c.exportable { "ENABLED" } else { "DISABLED" },
        },
        "RenewalSummary": c.renewal.as_ref().map(|r| json!({
            "RenewalStatus": r.status,
            "RenewalStatusReason": r.reason,
            "UpdatedAt": r.updated_at,
            "DomainValidationOptions": c.validations.iter().map(|v| json!({
                "DomainName": v.domain_name,
                "ValidationDomain": v.validation_domain,
                "ValidationStatus": if r.status == "SUCCESS" { "SUCCESS" } else { "PENDING_VALIDATION" },
                "ValidationMethod": c.validation_method,
                "ResourceRecord": { "Name": v.record_name, "Type": "CNAME", "Value": v.record_value },
            })).collect::<Vec<_>>(),
        })),
    })
}

pub async fn describe_certificate(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, AcmError> {
    let input: api_types::DescribeCertificateRequest = parse(input)?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    let cert = store
        .read(move |t| load(t, &scope, &ctx2, &input.certificate_arn))
        .await?;
    Ok(json!({ "Certificate": detail(&cert) }))
}

pub async fn get_certificate(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, AcmError> {
    let input: api_types::GetCertificateRequest = parse(input)?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    let cert = store
        .read(move |t| load(t, &scope, &ctx2, &input.certificate_arn))
        .await?;
    match &cert.certificate_pem {
        Some(pem) if cert.status == "ISSUED" => Ok(json!({ "Certificate": pem, "CertificateChain": cert.chain_pem })),
        _ => Err(AcmError::InProgress(cert.arn, cert.status)),
    }
}

pub async fn list_certificates(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, AcmError> {
    let input: api_types::ListCertificatesRequest = parse(input)?;
    let max = match input.max_items {
        None => DEFAULT_MAX_ITEMS,
        Some(n) if (1..=DEFAULT_MAX_ITEMS as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(AcmError::InvalidParameter(format!(
                "MaxItems must be between 1 and {DEFAULT_MAX_ITEMS}, got {n}."
            )))
        }
    };
    // ACM lists RSA_2048 certificates unless other key types are asked for.
    let key_types = input
        .includes
        .as_ref()
        .map(|i| i.key_types.clone())
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| vec!["RSA_2048".into()]);
    let scope = scope(ctx);
    let mut certs: Vec<Certificate> = store
        .read(move |t| Ok::<_, AcmError>(t.list::<Certificate>(&scope, KIND_CERTIFICATE)?))
        .await?
        .into_iter()
        .map(|(_, c)| c)
        .filter(|c| input.certificate_statuses.is_empty() || input.certificate_statuses.contains(&c.status))
        .filter(|c| key_types.contains(&c.key_algorithm))
        .collect();
    certs.sort_by(|a, b| a.created_at.total_cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
    if input.sort_order.as_deref() == Some("DESCENDING") {
        certs.reverse();
    }
    let start = match input.next_token.as_deref() {
        None => 0,
        Some(tok) => tok
            .parse::<usize>()
            .ok()
            .filter(|i| *i <= certs.len())
            .ok_or_else(|| AcmError::InvalidParameter(format!("Invalid NextToken: {tok}")))?,
    };
    let page: Vec<Value> = certs
        .iter()
        .skip(start)
        .take(max)
        .map(|c| {
            json!({
                "CertificateArn": c.arn,
                "DomainName": c.domain_name,
                "SubjectAlternativeNameSummaries": c.names,
                "HasAdditionalSubjectAlternativeNames": false,
                "Status": c.status,
                "Type": c.cert_type,
                "ImportedAt": c.imported_at,
                "KeyAlgorithm": c.key_algorithm,
                "InUse": !c.in_use_by.is_empty(),
                "CreatedAt": c.created_at,
                "IssuedAt": c.issued_at,
                "NotBefore": c.not_before,
                "NotAfter": c.not_after,
                "RenewalEligibility": if c.status == "ISSUED" && !c.in_use_by.is_empty() { "ELIGIBLE" } else { "INELIGIBLE" },
            })
        })
        .collect();
    let next = (start + max < certs.len()).then(|| (start + max).to_string());
    Ok(json!({ "CertificateSummaryList": page, "NextToken": next }))
}

pub async fn delete_certificate(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, AcmError> {
    let input: api_types::DeleteCertificateRequest = parse(input)?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    store
        .write(move |t| {
            let cert = load(t, &scope, &ctx2, &input.certificate_arn)?;
            if let Some(user) = cert.in_use_by.first() {
                return Err(AcmError::InUse(cert.arn.clone(), user.clone()));
            }
            t.delete(&scope, KIND_CERTIFICATE, &cert.id)?;
            Ok(())
        })
        .await?;
    Ok(json!({}))
}

pub async fn add_tags(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, AcmError> {
    let input: api_types::AddTagsToCertificateRequest = parse(input)?;
    check_tags(&input.tags)?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    store
        .write(move |t| {
            let mut cert = load(t, &scope, &ctx2, &input.certificate_arn)?;
            for tag in input.tags {
                match cert.tags.iter_mut().find(|(k, _)| *k == tag.key) {
                    Some(existing) => existing.1 = tag.value,
                    None => cert.tags.push((tag.key, tag.value)),
                }
            }
            if cert.tags.len() > MAX_TAGS {
                return Err(AcmError::TooManyTags(format!(
                    "A certificate can have at most {MAX_TAGS} tags."
                )));
            }
            t.put(&scope, KIND_CERTIFICATE, &cert.id, &cert)?;
            Ok(())
        })
        .await?;
    Ok(json!({}))
}

pub async fn remove_tags(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, AcmError> {
    let input: api_types::RemoveTagsFromCertificateRequest = parse(input)?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    store
        .write(move |t| {
            let mut cert = load(t, &scope, &ctx2, &input.certificate_arn)?;
            cert.tags.retain(|(k, v)| {
                !input
                    .tags
                    .iter()
                    .any(|tag| tag.key == *k && (tag.value.is_none() || tag.value == *v))
            });
            t.put(&scope, KIND_CERTIFICATE, &cert.id, &cert)?;
            Ok::<_, AcmError>(())
        })
        .await?;
    Ok(json!({}))
}

pub async fn list_tags(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, AcmError> {
    let input: api_types::ListTagsForCertificateRequest = parse(input)?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    let cert = store
        .read(move |t| load(t, &scope, &ctx2, &input.certificate_arn))
        .await?;
    let tags: Vec<Value> = cert.tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect();
    Ok(json!({ "Tags": tags }))
}

pub async fn update_certificate_options(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, AcmError> {
    let input: api_types::UpdateCertificateOptionsRequest = parse(input)?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    store
        .write(move |t| {
            let mut cert = load(t, &scope, &ctx2, &input.certificate_arn)?;
            if cert.status != "ISSUED" {
                return Err(AcmError::InvalidState(format!(
                    "Certificate {} is {}; options can be changed once it is issued.",
                    cert.arn, cert.status
                )));
            }
            if let Some(pref) = input.options.certificate_transparency_logging_preference {
                cert.transparency_logging = pref;
            }
            t.put(&scope, KIND_CERTIFICATE, &cert.id, &cert)?;
            Ok(())
        })
        .await?;
    Ok(json!({}))
}

/// Starts a renewal now (the validation loop re-validates and re-issues under the same ARN).
pub async fn renew_certificate(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, AcmError> {
    let input: api_types::RenewCertificateRequest = parse(input)?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    store
        .write(move |t| {
            let mut cert = load(t, &scope, &ctx2, &input.certificate_arn)?;
            if cert.status != "ISSUED" || cert.cert_type != "AMAZON_ISSUED" {
                return Err(AcmError::InvalidParameter(format!(
                    "Certificate {} is not eligible for renewal: only issued ACM certificates renew.",
                    cert.arn
                )));
            }
            cert.renewal_requested = true;
            cert.renewal = Some(Renewal {
                status: "PENDING_AUTO_RENEWAL".into(),
                reason: None,
                updated_at: now_epoch_s(),
            });
            t.put(&scope, KIND_CERTIFICATE, &cert.id, &cert)?;
            Ok(())
        })
        .await?;
    Ok(json!({}))
}

/// ACM's default expiry-events window, in days.
pub const DEFAULT_DAYS_BEFORE_EXPIRY: i64 = 45;

fn account_key(ctx: &RequestContext) -> Scope {
    Scope::global(ctx.account_id.clone())
}

pub async fn get_account_configuration(store: &Store, ctx: &RequestContext) -> Result<Value, AcmError> {
    let scope = account_key(ctx);
    let config = store
        .read(move |t| {
            Ok::<_, AcmError>(t.get::<AccountConfiguration>(&scope, KIND_ACCOUNT_CONFIGURATION, "account")?)
        })
        .await?;
    let days = config.map_or(DEFAULT_DAYS_BEFORE_EXPIRY, |c| c.days_before_expiry);
    Ok(json!({ "ExpiryEvents": { "DaysBeforeExpiry": days } }))
}

pub async fn put_account_configuration(store: &Store, ctx: &RequestContext, input: Value) -> Result<Value, AcmError> {
    let input: api_types::PutAccountConfigurationRequest = parse(input)?;
    let scope = account_key(ctx);
    store
        .write(move |t| {
            let current = t.get::<AccountConfiguration>(&scope, KIND_ACCOUNT_CONFIGURATION, "account")?;
            if current.as_ref().and_then(|c| c.idempotency_token.as_ref()) == Some(&input.idempotency_token) {
                return Ok(()); // the same request again
            }
            let days = input
                .expiry_events
                .and_then(|e| e.days_before_expiry)
                .or(current.map(|c| c.days_before_expiry))
                .unwrap_or(DEFAULT_DAYS_BEFORE_EXPIRY);
            t.put(
                &scope,
                KIND_ACCOUNT_CONFIGURATION,
                "account",
                &AccountConfiguration {
                    days_before_expiry: days,
                    idempotency_token: Some(input.idempotency_token),
                },
            )?;
            Ok::<_, AcmError>(())
        })
        .await?;
    Ok(json!({}))
}

/// ExportCertificate: an exportable certificate with its chain and its private key, the key
/// encrypted (PKCS#8, PBES2: PBKDF2-SHA256 + AES-256-CBC, which every OpenSSL reads) with the
/// caller's passphrase.
pub async fn export_certificate(
    store: &Store,
    sealer: &crate::seal::Sealer,
    ctx: &RequestContext,
    input: Value,
) -> Result<Value, AcmError> {
    use base64::Engine;
    let input: api_types::ExportCertificateRequest = parse(input)?;
    let passphrase = base64::engine::general_purpose::STANDARD
        .decode(&input.passphrase)
        .map_err(|_| AcmError::InvalidParameter("Passphrase is not base64 data.".into()))?;
    let (scope, ctx2) = (scope(ctx), ctx.clone());
    let cert = store
        .read(move |t| load(t, &scope, &ctx2, &input.certificate_arn))
        .await?;
    if cert.status != "ISSUED" {
        return Err(AcmError::InProgress(cert.arn, cert.status));
    }
    if !cert.exportable || cert.cert_type != "AMAZON_ISSUED" {
        return Err(AcmError::Validation(format!(
            "Certificate {} is not exportable: request it with Options Export=ENABLED.",
            cert.arn
        )));
    }
    let sealed = cert
        .sealed_key
        .as_deref()
        .ok_or_else(|| AcmError::Internal("no key stored".into()))?;
    let key_pem = sealer.open(sealed).map_err(|e| AcmError::Internal(e.to_string()))?;
    let encrypted = tokio::task::spawn_blocking(move || encrypt_key(&key_pem, &passphrase))
        .await
        .map_err(|e| AcmError::Internal(e.to_string()))??;
    Ok(json!({
        "Certificate": cert.certificate_pem,
        "CertificateChain": cert.chain_pem,
        "PrivateKey": encrypted,
    }))
}

/// PBKDF2 rounds for exported keys.
const EXPORT_PBKDF2_ROUNDS: u32 = 200_000;

fn encrypt_key(key_pem: &str, passphrase: &[u8]) -> Result<String, AcmError> {
    use pkcs8::der::pem::LineEnding;
    use pkcs8::der::Decode;
    let internal = |e: &dyn std::fmt::Display| AcmError::Internal(format!("cannot encrypt the key: {e}"));
    let (_, der) = pkcs8::der::pem::decode_vec(key_pem.as_bytes()).map_err(|e| internal(&e))?;
    let info = pkcs8::PrivateKeyInfo::from_der(&der).map_err(|e| internal(&e))?;
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    rand::Rng::fill(&mut rand::rngs::OsRng, &mut salt[..]);
    rand::Rng::fill(&mut rand::rngs::OsRng, &mut iv[..]);
    let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(EXPORT_PBKDF2_ROUNDS, &salt, &iv)
        .map_err(|e| internal(&e))?;
    let encrypted = info.encrypt_with_params(params, passphrase).map_err(|e| internal(&e))?;
    let pem = encrypted
        .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .map_err(|e| internal(&e))?;
    Ok(pem.to_string())
}

//! DNS validation, for real: each pending certificate's CNAMEs are looked up through haneul's
//! own DNS (the same answer path the server uses), again and again with backoff; when every
//! name has its record the certificate is issued by haneul's CA. Names that never validate end
//! VALIDATION_TIMED_OUT after 72 hours, as at ACM. The same loop runs managed renewal: an
//! issued certificate that is in use (or asked to renew) is re-validated from its records
//! once inside the renewal window and re-issued under the same ARN; anything past NotAfter
//! turns EXPIRED.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use haneul_route53::dns::answer::{resolve, Transport};
use haneul_route53::dns::server::forward;
use haneul_route53::dns::DataPlane;
use haneul_store::{Scope, Store};
use haneul_wire::value::now_epoch_s;
use hickory_proto::op::Query;
use hickory_proto::rr::{Name, RData, RecordType};

use crate::ca::{CertificateAuthority, Lifetime};
use crate::error::AcmError;
use crate::model::{Certificate, Renewal, KIND_CERTIFICATE};
use crate::seal::Sealer;

/// How often the validator wakes up.
const TICK_MS: u64 = 500;
/// First and longest wait between two checks of one certificate.
const FIRST_RETRY_S: f64 = 1.0;
const MAX_RETRY_S: f64 = 60.0;
/// ACM gives up on a name after 72 hours.
pub const VALIDATION_TIMEOUT_S: f64 = 72.0 * 3600.0;

pub struct Validator {
    pub store: Store,
    pub plane: Arc<DataPlane>,
    pub ca: Arc<CertificateAuthority>,
    pub sealer: Arc<Sealer>,
    pub lifetime: Lifetime,
    /// `--dns-upstream`: where names haneul holds no zone for are looked up.
    pub upstream: Option<std::net::SocketAddr>,
    /// ACME mode: certificates come from this ACME CA instead of haneul's.
    pub acme: Option<Arc<crate::acme::AcmeIssuer>>,
}

/// What the loop should do with a certificate now.
fn due(cert: &Certificate, now: f64, lifetime: &Lifetime) -> bool {
    match cert.status.as_str() {
        "PENDING_VALIDATION" => true,
        "ISSUED" => {
            let not_after = cert.not_after.unwrap_or(f64::MAX);
            let in_window = not_after - now < lifetime.renew_before.as_seconds_f64();
            let eligible = cert.cert_type == "AMAZON_ISSUED" && (!cert.in_use_by.is_empty() || cert.renewal_requested);
            now > not_after || (eligible && (in_window || cert.renewal_requested))
        }
        _ => false,
    }
}

/// Whether `reply` carries a CNAME to `value`.
fn points_to(reply: &hickory_proto::op::Message, value: &str) -> bool {
    let want = value.trim_end_matches('.').to_ascii_lowercase();
    reply.answers().iter().any(|r| match r.data() {
        RData::CNAME(target) => target.0.to_ascii().trim_end_matches('.').to_ascii_lowercase() == want,
        _ => false,
    })
}

/// Asks the upstream resolver for `name` CNAME.
async fn ask_upstream(upstream: std::net::SocketAddr, qname: Name) -> Option<hickory_proto::op::Message> {
    use hickory_proto::op::{Message, MessageType, OpCode};
    let mut m = Message::new();
    m.set_id(rand::random())
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true);
    m.add_query(Query::query(qname, RecordType::CNAME));
    let reply = forward(upstream, &m.to_vec().ok()?, Transport::Udp).await?;
    Message::from_vec(&reply).ok().filter(|r| r.id() == m.id())
}

impl Validator {
    /// Whether `name` CNAME resolves to `value`: through haneul's own zones, or — for names
    /// haneul holds no zone for — the upstream resolver, if one is configured.
    async fn cname_points(&self, name: &str, value: &str) -> bool {
        let Ok(qname) = Name::from_ascii(name) else {
            return false;
        };
        let reply = {
            let snapshot = self.plane.snapshot.load();
            resolve(
                &snapshot,
                &self.plane.health,
                &Query::query(qname.clone(), RecordType::CNAME),
            )
        };
        if reply.response_code() == hickory_proto::op::ResponseCode::Refused {
            if let Some(upstream) = self.upstream {
                return ask_upstream(upstream, qname)
                    .await
                    .is_some_and(|r| points_to(&r, value));
            }
        }
        points_to(&reply, value)
    }

    pub async fn run(self) {
        // certificate id → (next check at, current wait).
        let mut schedule: HashMap<String, (f64, f64)> = HashMap::new();
        let mut dns_revision = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(TICK_MS)).await;
            // A DNS change may be the record someone was waiting for: check everyone now.
            let served = self.plane.served_revision.load(std::sync::atomic::Ordering::Acquire);
            if served != dns_revision {
                dns_revision = served;
                schedule.clear();
            }
            let pending = match self
                .store
                .read(|t| t.list_all_scopes::<Certificate>(KIND_CERTIFICATE))
                .await
            {
                Ok(all) => {
                    let now = now_epoch_s();
                    all.into_iter()
                        .filter(|(_, _, c)| due(c, now, &self.lifetime))
                        .collect::<Vec<_>>()
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ACM validator cannot read certificates");
                    continue;
                }
            };
            let now = now_epoch_s();
            schedule.retain(|id, _| pending.iter().any(|(_, i, _)| i == id));
            for (scope, id, cert) in pending {
                let (next_at, wait) = *schedule.entry(id.clone()).or_insert((now, FIRST_RETRY_S));
                if next_at > now {
                    continue;
                }
                match self.check(scope, cert, now).await {
                    Ok(true) => {
                        schedule.remove(&id);
                    }
                    Ok(false) => {
                        schedule.insert(id, (now + wait, (wait * 2.0).min(MAX_RETRY_S)));
                    }
                    Err(e) => {
                        tracing::warn!(certificate = %id, error = %e, "ACM validation step failed");
                        schedule.insert(id, (now + wait, (wait * 2.0).min(MAX_RETRY_S)));
                    }
                }
            }
        }
    }

    /// Checks one certificate; true once there is nothing left to do for now.
    async fn check(&self, scope: Scope, cert: Certificate, now: f64) -> Result<bool, AcmError> {
        if cert.status == "ISSUED" {
            return self.renew(scope, cert, now).await;
        }
        if now - cert.created_at > VALIDATION_TIMEOUT_S {
            self.finish(scope, cert.id, None).await?;
            return Ok(true);
        }
        let mut statuses: Vec<bool> = Vec::with_capacity(cert.validations.len());
        for v in &cert.validations {
            let ok = v.status == "SUCCESS"
                || (cert.validation_method == "DNS" && self.cname_points(&v.record_name, &v.record_value).await);
            statuses.push(ok);
        }
        if !statuses.iter().all(|ok| *ok) {
            let changed = cert
                .validations
                .iter()
                .zip(&statuses)
                .any(|(v, ok)| *ok && v.status != "SUCCESS");
            if changed {
                self.store
                    .write(move |t| {
                        let Some(mut c) = t.get::<Certificate>(&scope, KIND_CERTIFICATE, &cert.id)? else {
                            return Ok(());
                        };
                        for (v, ok) in c.validations.iter_mut().zip(&statuses) {
                            if *ok {
                                v.status = "SUCCESS".into();
                            }
                        }
                        t.put(&scope, KIND_CERTIFICATE, &c.id, &c)?;
                        Ok::<_, AcmError>(())
                    })
                    .await?;
            }
            return Ok(false);
        }
        let issued = self.issue(&scope, &cert).await?;
        self.finish(scope, cert.id, Some(issued)).await?;
        Ok(true)
    }

    /// A new certificate and sealed key for `cert`'s names (RSA key generation takes a while:
    /// off the runtime).
    async fn issue(&self, scope: &Scope, cert: &Certificate) -> Result<(crate::ca::Issued, String), AcmError> {
        let (ca, names, key_algorithm) = (self.ca.clone(), cert.names.clone(), cert.key_algorithm.clone());
        let validity = self.lifetime.validity;
        let issued = match &self.acme {
            Some(acme) => acme.issue(&scope.account_id, &names, &key_algorithm).await?,
            None => tokio::task::spawn_blocking(move || ca.issue(&names, &key_algorithm, validity))
                .await
                .map_err(|e| AcmError::Internal(e.to_string()))?
                .map_err(|e| AcmError::Internal(e.to_string()))?,
        };
        let sealed = self
            .sealer
            .seal(&issued.private_key_pem)
            .map_err(|e| AcmError::Internal(e.to_string()))?;
        Ok((issued, sealed))
    }

    /// Expiry and managed renewal of an issued certificate.
    async fn renew(&self, scope: Scope, cert: Certificate, now: f64) -> Result<bool, AcmError> {
        let expired = now > cert.not_after.unwrap_or(f64::MAX);
        let mut proven = cert.cert_type == "AMAZON_ISSUED" && cert.validation_method == "DNS";
        for v in &cert.validations {
            proven = proven && self.cname_points(&v.record_name, &v.record_value).await;
        }
        let issued = if proven {
            Some(self.issue(&scope, &cert).await?)
        } else {
            None
        };
        let done = issued.is_some() || expired;
        self.store
            .write(move |t| {
                let Some(mut c) = t.get::<Certificate>(&scope, KIND_CERTIFICATE, &cert.id)? else {
                    return Ok(());
                };
                if c.status != "ISSUED" {
                    return Ok(());
                }
                let now = now_epoch_s();
                match issued {
                    Some((new, sealed)) => {
                        c.issued_at = Some(now);
                        c.not_before = Some(new.not_before.unix_timestamp() as f64);
                        c.not_after = Some(new.not_after.unix_timestamp() as f64);
                        c.serial = Some(new.serial_hex);
                        c.issuer = new.issuer;
                        c.certificate_pem = Some(new.certificate_pem);
                        c.chain_pem = Some(new.chain_pem);
                        c.sealed_key = Some(sealed);
                        c.renewal_requested = false;
                        c.renewal = Some(Renewal {
                            status: "SUCCESS".into(),
                            reason: None,
                            updated_at: now,
                        });
                    }
                    None if now > c.not_after.unwrap_or(f64::MAX) => {
                        c.status = "EXPIRED".into();
                        if c.renewal.is_some() {
                            c.renewal = Some(Renewal {
                                status: "FAILED".into(),
                                reason: Some("DOMAIN_VALIDATION_DENIED".into()),
                                updated_at: now,
                            });
                        }
                    }
                    None => {
                        c.renewal = Some(Renewal {
                            status: "PENDING_VALIDATION".into(),
                            reason: Some("DOMAIN_VALIDATION_DENIED".into()),
                            updated_at: now,
                        });
                    }
                }
                t.put(&scope, KIND_CERTIFICATE, &c.id, &c)?;
                Ok::<_, AcmError>(())
            })
            .await?;
        Ok(done)
    }

    /// ISSUED with the certificate, or VALIDATION_TIMED_OUT without one.
    async fn finish(
        &self,
        scope: Scope,
        id: String,
        issued: Option<(crate::ca::Issued, String)>,
    ) -> Result<(), AcmError> {
        self.store
            .write(move |t| {
                let Some(mut c) = t.get::<Certificate>(&scope, KIND_CERTIFICATE, &id)? else {
                    return Ok(()); // deleted meanwhile
                };
                if c.status != "PENDING_VALIDATION" {
                    return Ok(());
                }
                match issued {
                    Some((cert, sealed)) => {
                        c.status = "ISSUED".into();
                        c.issued_at = Some(now_epoch_s());
                        c.not_before = Some(cert.not_before.unix_timestamp() as f64);
                        c.not_after = Some(cert.not_after.unix_timestamp() as f64);
                        c.serial = Some(cert.serial_hex);
                        c.signature_algorithm = Some(cert.signature_algorithm.into());
                        c.issuer = cert.issuer;
                        c.certificate_pem = Some(cert.certificate_pem);
                        c.chain_pem = Some(cert.chain_pem);
                        c.sealed_key = Some(sealed);
                        for v in &mut c.validations {
                            v.status = "SUCCESS".into();
                        }
                    }
                    None => {
                        c.status = "VALIDATION_TIMED_OUT".into();
                        for v in c.validations.iter_mut().filter(|v| v.status != "SUCCESS") {
                            v.status = "FAILED".into();
                        }
                    }
                }
                t.put(&scope, KIND_CERTIFICATE, &c.id, &c)?;
                Ok::<_, AcmError>(())
            })
            .await
    }
}

//! DNS validation, for real: each pending certificate's CNAMEs are looked up through haneul's
//! own DNS (the same answer path the server uses), again and again with backoff; when every
//! name has its record the certificate is issued by haneul's CA. Names that never validate end
//! VALIDATION_TIMED_OUT after 72 hours, as at ACM.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use haneul_route53::dns::answer::resolve;
use haneul_route53::dns::DataPlane;
use haneul_store::{Scope, Store};
use haneul_wire::value::now_epoch_s;
use hickory_proto::op::Query;
use hickory_proto::rr::{Name, RData, RecordType};

use crate::ca::CertificateAuthority;
use crate::error::AcmError;
use crate::model::{Certificate, KIND_CERTIFICATE};
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
}

/// Whether haneul's DNS answers `name` CNAME with `value`.
fn cname_points(plane: &DataPlane, name: &str, value: &str) -> bool {
    let Ok(qname) = Name::from_ascii(name) else {
        return false;
    };
    let snapshot = plane.snapshot.load();
    let reply = resolve(&snapshot, &plane.health, &Query::query(qname, RecordType::CNAME));
    let want = value.trim_end_matches('.').to_ascii_lowercase();
    reply.answers().iter().any(|r| match r.data() {
        RData::CNAME(target) => target.0.to_ascii().trim_end_matches('.').to_ascii_lowercase() == want,
        _ => false,
    })
}

impl Validator {
    pub async fn run(self) {
        // certificate id → (next check at, current wait).
        let mut schedule: HashMap<String, (f64, f64)> = HashMap::new();
        loop {
            tokio::time::sleep(Duration::from_millis(TICK_MS)).await;
            let pending = match self
                .store
                .read(|t| t.list_all_scopes::<Certificate>(KIND_CERTIFICATE))
                .await
            {
                Ok(all) => all
                    .into_iter()
                    .filter(|(_, _, c)| c.status == "PENDING_VALIDATION")
                    .collect::<Vec<_>>(),
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

    /// Checks one certificate; true once it left PENDING_VALIDATION.
    async fn check(&self, scope: Scope, cert: Certificate, now: f64) -> Result<bool, AcmError> {
        if now - cert.created_at > VALIDATION_TIMEOUT_S {
            self.finish(scope, cert.id, None).await?;
            return Ok(true);
        }
        let statuses: Vec<bool> = cert
            .validations
            .iter()
            .map(|v| v.status == "SUCCESS" || cname_points(&self.plane, &v.record_name, &v.record_value))
            .collect();
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
        // Every name is proven: issue (RSA key generation takes a while — off the runtime).
        let (ca, names, key_algorithm) = (self.ca.clone(), cert.names.clone(), cert.key_algorithm.clone());
        let issued = tokio::task::spawn_blocking(move || ca.issue(&names, &key_algorithm))
            .await
            .map_err(|e| AcmError::Internal(e.to_string()))?
            .map_err(|e| AcmError::Internal(e.to_string()))?;
        let sealed = self
            .sealer
            .seal(&issued.private_key_pem)
            .map_err(|e| AcmError::Internal(e.to_string()))?;
        self.finish(scope, cert.id, Some((issued, sealed))).await?;
        Ok(true)
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

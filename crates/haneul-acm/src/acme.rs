//! ACME mode (`haneul up --acme-directory URL`): certificates come from a real ACME CA (Let's
//! Encrypt, or pebble in tests) instead of haneul's own CA. haneul answers the DNS-01
//! challenges itself, with TXT records in the account's own hosted zones, and waits until its
//! DNS server serves them before telling the CA to look.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use haneul_route53::dns::DataPlane;
use haneul_store::Store;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};
use tokio::sync::OnceCell;

use crate::ca::{new_key, Issued};
use crate::error::AcmError;

/// How long the ACME server may take to validate and to issue.
const ORDER_TIMEOUT_S: u64 = 120;
/// How long haneul's DNS may take to serve a challenge record.
const SERVE_TIMEOUT_S: u64 = 10;

#[derive(Debug, Clone)]
pub struct AcmeConfig {
    pub directory_url: String,
    pub email: Option<String>,
    /// Extra trust anchors (PEM) for the ACME server's HTTPS — pebble's test CA.
    pub ca_file: Option<PathBuf>,
}

pub struct AcmeIssuer {
    config: AcmeConfig,
    credentials_path: PathBuf,
    account: OnceCell<Account>,
    store: Store,
    plane: Arc<DataPlane>,
}

fn acme_err(e: impl std::fmt::Display) -> AcmError {
    AcmError::Internal(format!("ACME: {e}"))
}

impl AcmeIssuer {
    pub fn new(config: AcmeConfig, data_dir: &Path, store: Store, plane: Arc<DataPlane>) -> AcmeIssuer {
        AcmeIssuer {
            config,
            credentials_path: data_dir.join("acme").join("account.json"),
            account: OnceCell::new(),
            store,
            plane,
        }
    }

    fn builder(&self) -> Result<instant_acme::AccountBuilder, AcmError> {
        // Both ring (haneul's TLS) and aws-lc (the ACME client's) are linked, so rustls needs
        // to be told which to use; the first caller in the process decides, later ones agree.
        let _ = rustls::crypto::ring::default_provider().install_default();
        match &self.config.ca_file {
            Some(path) => Account::builder_with_root(path).map_err(acme_err),
            None => Account::builder().map_err(acme_err),
        }
    }

    /// The ACME account: loaded from the data dir, or registered once and kept (0600).
    async fn account(&self) -> Result<&Account, AcmError> {
        self.account
            .get_or_try_init(|| async {
                if let Ok(text) = std::fs::read_to_string(&self.credentials_path) {
                    let credentials: AccountCredentials = serde_json::from_str(&text).map_err(acme_err)?;
                    return self.builder()?.from_credentials(credentials).await.map_err(acme_err);
                }
                let contact = self.config.email.as_ref().map(|e| format!("mailto:{e}"));
                let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
                let (account, credentials) = self
                    .builder()?
                    .create(
                        &NewAccount {
                            contact: &contacts,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        self.config.directory_url.clone(),
                        None,
                    )
                    .await
                    .map_err(acme_err)?;
                save_private(
                    &self.credentials_path,
                    &serde_json::to_string(&credentials).map_err(acme_err)?,
                )?;
                Ok(account)
            })
            .await
    }

    /// Waits until haneul's DNS serves `revision`.
    async fn served(&self, revision: u64) -> Result<(), AcmError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(SERVE_TIMEOUT_S);
        while self.plane.served_revision.load(Ordering::Acquire) < revision {
            if tokio::time::Instant::now() > deadline {
                return Err(AcmError::Internal(
                    "haneul's DNS did not serve the challenge records".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Obtains a certificate for `names` from the ACME CA, answering DNS-01 in `account_id`'s
    /// zones; the challenge records are removed afterwards, whatever happened.
    pub async fn issue(&self, account_id: &str, names: &[String], key_algorithm: &str) -> Result<Issued, AcmError> {
        let mut records: Vec<(String, Vec<String>)> = Vec::new();
        let result = self.order(account_id, names, key_algorithm, &mut records).await;
        for (name, _) in records {
            if let Err(e) = haneul_route53::api::internal::set_txt(&self.store, account_id, &name, Vec::new()).await {
                tracing::warn!(%name, error = %e, "cannot remove an ACME challenge record");
            }
        }
        result
    }

    async fn order(
        &self,
        account_id: &str,
        names: &[String],
        key_algorithm: &str,
        records: &mut Vec<(String, Vec<String>)>,
    ) -> Result<Issued, AcmError> {
        let account = self.account().await?;
        let identifiers: Vec<Identifier> = names.iter().map(|n| Identifier::Dns(n.clone())).collect();
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .map_err(acme_err)?;
        // Every challenge's TXT value first (a wildcard and its base share one name)…
        {
            let mut authorizations = order.authorizations();
            while let Some(authz) = authorizations.next().await {
                let mut authz = authz.map_err(acme_err)?;
                if authz.status == AuthorizationStatus::Valid {
                    continue;
                }
                let challenge = authz
                    .challenge(ChallengeType::Dns01)
                    .ok_or_else(|| acme_err("the CA offers no dns-01 challenge"))?;
                let Identifier::Dns(domain) = challenge.identifier().identifier else {
                    return Err(acme_err("not a DNS identifier"));
                };
                let name = format!("_acme-challenge.{domain}");
                let value = challenge.key_authorization().dns_value();
                match records.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, values)) => values.push(value),
                    None => records.push((name, vec![value])),
                }
            }
        }
        // …then served by haneul's DNS…
        let mut revision = 0;
        for (name, values) in records.iter() {
            revision = haneul_route53::api::internal::set_txt(&self.store, account_id, name, values.clone())
                .await
                .map_err(|e| AcmError::Internal(format!("ACME DNS-01 needs a hosted zone for {name}: {e}")))?;
        }
        self.served(revision).await?;
        // …then the CA may look.
        {
            let mut authorizations = order.authorizations();
            while let Some(authz) = authorizations.next().await {
                let mut authz = authz.map_err(acme_err)?;
                if authz.status != AuthorizationStatus::Pending {
                    continue;
                }
                if let Some(mut challenge) = authz.challenge(ChallengeType::Dns01) {
                    challenge.set_ready().await.map_err(acme_err)?;
                }
            }
        }
        let policy = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .timeout(Duration::from_secs(ORDER_TIMEOUT_S));
        let status = order.poll_ready(&policy).await.map_err(acme_err)?;
        if status != OrderStatus::Ready {
            return Err(acme_err(format!("the order ended {status:?}")));
        }
        let (key, key_pem) = new_key(key_algorithm).map_err(acme_err)?;
        let csr = rcgen::CertificateParams::new(names.to_vec())
            .map_err(acme_err)?
            .serialize_request(&key)
            .map_err(acme_err)?;
        order.finalize_csr(csr.der()).await.map_err(acme_err)?;
        let chain = order.poll_certificate(&policy).await.map_err(acme_err)?;
        let split = chain
            .find("-----END CERTIFICATE-----")
            .map(|i| i + "-----END CERTIFICATE-----".len())
            .ok_or_else(|| acme_err("the CA sent no certificate"))?;
        let (leaf, rest) = chain.split_at(split);
        let leaf = format!("{}\n", leaf.trim());
        let parsed = crate::import::parse_certificate(&leaf)?;
        Ok(Issued {
            certificate_pem: leaf,
            chain_pem: format!("{}\n", rest.trim()),
            private_key_pem: key_pem,
            serial_hex: parsed.serial,
            not_before: time::OffsetDateTime::from_unix_timestamp(parsed.not_before as i64).map_err(acme_err)?,
            not_after: time::OffsetDateTime::from_unix_timestamp(parsed.not_after as i64).map_err(acme_err)?,
            signature_algorithm: signature_name(&parsed.signature_algorithm),
            issuer: Some(parsed.issuer),
        })
    }
}

/// ACM's name for a signature algorithm OID.
fn signature_name(oid: &str) -> &'static str {
    match oid {
        "1.2.840.113549.1.1.11" => "SHA256WITHRSA",
        "1.2.840.113549.1.1.12" => "SHA384WITHRSA",
        "1.2.840.10045.4.3.2" => "SHA256WITHECDSA",
        "1.2.840.10045.4.3.3" => "SHA384WITHECDSA",
        _ => "UNKNOWN",
    }
}

fn save_private(path: &Path, text: &str) -> Result<(), AcmError> {
    haneul_store::secret_file::write_new(path, text.as_bytes())
        .map_err(|e| AcmError::Internal(format!("cannot keep the ACME account at {}: {e}", path.display())))
}

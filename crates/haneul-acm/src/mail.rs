//! Email validation, locally: ACM's validation mails to a domain's admin addresses are written
//! as `.eml` files under `mail/` in the data dir (listed at `/_haneul/mail`); each holds an
//! approval link on the API endpoint (`/_haneul/acm/approve/<token>`) that validates the name.

use std::path::PathBuf;
use std::sync::OnceLock;

use haneul_store::Store;
use haneul_wire::value::now_epoch_s;
use serde::Serialize;

use crate::error::AcmError;
use crate::model::{Certificate, KIND_CERTIFICATE};

/// The addresses ACM writes to for a validation domain.
pub const ADMIN_MAILBOXES: [&str; 5] = ["admin", "administrator", "hostmaster", "postmaster", "webmaster"];
/// Most mail files kept; the oldest go first.
pub const MAX_MAILS: usize = 1_000;

pub struct Mailbox {
    dir: PathBuf,
    /// `http://<api address>`, known once the endpoint is bound.
    base_url: OnceLock<String>,
}

#[derive(Debug, Serialize)]
pub struct MailSummary {
    pub file: String,
    pub to: Vec<String>,
    pub subject: String,
    pub approve: String,
}

/// The validation addresses of `validation_domain`.
pub fn addresses(validation_domain: &str) -> Vec<String> {
    let domain = validation_domain.trim_start_matches("*.");
    ADMIN_MAILBOXES.iter().map(|m| format!("{m}@{domain}")).collect()
}

impl Mailbox {
    pub fn new(data_dir: &std::path::Path) -> Mailbox {
        Mailbox {
            dir: data_dir.join("mail"),
            base_url: OnceLock::new(),
        }
    }

    /// Where approval links point (called once the API endpoint is bound).
    pub fn set_base_url(&self, url: String) {
        let _ = self.base_url.set(url);
    }

    fn link(&self, token: &str) -> String {
        let base = self
            .base_url
            .get()
            .map(String::as_str)
            .unwrap_or("http://127.0.0.1:4566");
        format!("{base}/_haneul/acm/approve/{token}")
    }

    /// Writes the validation mail for one name of `cert`.
    pub fn send(&self, cert: &Certificate, domain: &str, validation_domain: &str, token: &str) -> Result<(), AcmError> {
        let io = |e: std::io::Error| AcmError::Internal(format!("cannot write validation mail: {e}"));
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        self.trim();
        let to = addresses(validation_domain).join(", ");
        let subject = format!("Certificate approval for {domain}");
        let link = self.link(token);
        let text = format!(
            "From: no-reply@haneul.invalid\r\nTo: {to}\r\nSubject: {subject}\r\nX-Haneul-Approve: {link}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             A certificate was requested for {domain} (certificate {}).\r\n\r\n\
             To approve it, open:\r\n{link}\r\n",
            cert.arn
        );
        let file = self.dir.join(format!("{:.0}-{token}.eml", now_epoch_s() * 1000.0));
        std::fs::write(file, text).map_err(io)
    }

    /// Keeps the mail folder bounded.
    fn trim(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        if files.len() < MAX_MAILS {
            return;
        }
        files.sort();
        for f in files.iter().take(files.len() + 1 - MAX_MAILS) {
            let _ = std::fs::remove_file(f);
        }
    }

    /// Every mail written, oldest first.
    pub fn list(&self) -> Vec<MailSummary> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|path| {
                let text = std::fs::read_to_string(&path).ok()?;
                let header = |name: &str| {
                    text.lines()
                        .find_map(|l| l.trim_end().strip_prefix(&format!("{name}: ")).map(str::to_string))
                        .unwrap_or_default()
                };
                Some(MailSummary {
                    file: path.display().to_string(),
                    to: header("To").split(", ").map(str::to_string).collect(),
                    subject: header("Subject"),
                    approve: header("X-Haneul-Approve"),
                })
            })
            .collect()
    }
}

/// Approves the validation with `token`: its name is validated. Returns the certificate ARN.
pub async fn approve(store: &Store, token: String) -> Result<String, AcmError> {
    store
        .write(move |t| {
            let all = t.list_all_scopes::<Certificate>(KIND_CERTIFICATE)?;
            for (scope, id, mut cert) in all {
                let Some(v) = cert
                    .validations
                    .iter_mut()
                    .find(|v| v.approval_token.as_deref() == Some(token.as_str()))
                else {
                    continue;
                };
                if cert.status != "PENDING_VALIDATION" {
                    return Err(AcmError::InvalidState(format!(
                        "Certificate {} is {}; there is nothing to approve.",
                        cert.arn, cert.status
                    )));
                }
                v.status = "SUCCESS".into();
                let arn = cert.arn.clone();
                t.put(&scope, KIND_CERTIFICATE, &id, &cert)?;
                return Ok(arn);
            }
            Err(AcmError::NotFound(format!("approval {token}")))
        })
        .await
}

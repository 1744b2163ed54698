//! # haneul-acm: certificates that really verify
//!
//! ACM's API (json 1.1) over haneul's own certificate authority ([`ca`]): requested
//! certificates get ACM's DNS validation CNAMEs; the [`validation`] task looks them up through
//! haneul's DNS and, once every name is proven, issues a real X.509 certificate chained to the
//! root served at `/_haneul/ca.pem`. Private keys of issued certificates are stored sealed
//! ([`seal`]); the CA's keys never enter the database.

pub mod acme;
pub mod api;
pub mod ca;
pub mod error;
/// Typed input/output structs, generated from the model (see `codegen.txt`).
#[rustfmt::skip]
pub mod generated;
pub mod import;
pub mod mail;
pub mod model;
pub mod seal;
pub mod validation;

use std::path::Path;
use std::sync::Arc;

use haneul_store::{Scope, Store};
use haneul_wire::{AwsError, BoxFuture, RequestContext, Service};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ca::CertificateAuthority;
use crate::error::AcmError;
use crate::seal::Sealer;

/// The botocore model this crate serves.
pub const MODEL: &str = include_str!("../../../models/acm.json");

#[derive(Debug, thiserror::Error)]
pub enum AcmStartError {
    #[error(transparent)]
    Ca(#[from] ca::CaError),
    #[error(transparent)]
    Seal(#[from] seal::SealError),
}

pub struct Acm {
    store: Store,
    pub ca: Arc<CertificateAuthority>,
    pub sealer: Arc<Sealer>,
    /// Validation mails (`mail/` in the data dir).
    pub mailbox: Arc<mail::Mailbox>,
}

impl Acm {
    /// ACM over `store`, with the CA and sealing key of `data_dir` (made on first use).
    pub fn open(store: Store, data_dir: &Path) -> Result<Acm, AcmStartError> {
        Ok(Acm {
            store,
            ca: Arc::new(CertificateAuthority::open_or_create(data_dir)?),
            sealer: Arc::new(Sealer::open_or_create(data_dir)?),
            mailbox: Arc::new(mail::Mailbox::new(data_dir)),
        })
    }
}

/// ACM is regional.
pub fn scope(ctx: &RequestContext) -> Scope {
    Scope::new(ctx.account_id.clone(), ctx.region.clone())
}

pub(crate) fn parse<T: DeserializeOwned>(input: Value) -> Result<T, AcmError> {
    serde_json::from_value(input).map_err(|e| AcmError::InvalidParameter(format!("Invalid request: {e}")))
}

impl Service for Acm {
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>> {
        Box::pin(async move {
            let store = &self.store;
            let result = match operation {
                "RequestCertificate" => api::request_certificate(store, &self.mailbox, ctx, input).await,
                "ResendValidationEmail" => api::resend_validation_email(store, &self.mailbox, ctx, input).await,
                "DescribeCertificate" => api::describe_certificate(store, ctx, input).await,
                "ListCertificates" => api::list_certificates(store, ctx, input).await,
                "GetCertificate" => api::get_certificate(store, ctx, input).await,
                "DeleteCertificate" => api::delete_certificate(store, ctx, input).await,
                "AddTagsToCertificate" => api::add_tags(store, ctx, input).await,
                "RemoveTagsFromCertificate" => api::remove_tags(store, ctx, input).await,
                "ListTagsForCertificate" => api::list_tags(store, ctx, input).await,
                "UpdateCertificateOptions" => api::update_certificate_options(store, ctx, input).await,
                "RenewCertificate" => api::renew_certificate(store, ctx, input).await,
                "GetAccountConfiguration" => api::get_account_configuration(store, ctx).await,
                "PutAccountConfiguration" => api::put_account_configuration(store, ctx, input).await,
                "ExportCertificate" => api::export_certificate(store, &self.sealer, ctx, input).await,
                "ImportCertificate" => import::import_certificate(store, &self.sealer, ctx, input).await,
                other => return Err(AwsError::not_implemented("ACM", other)),
            };
            result.map_err(AwsError::from)
        })
    }
}

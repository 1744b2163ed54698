//! # haneul-wire: the AWS wire protocols, driven by botocore models
//!
//! Layout:
//! - [`model`]: the `service-2.json` model types (the source of truth for names and shapes).
//! - [`api`]: the request path — route to (service, operation), authenticate, decode,
//!   validate, call the service, encode. Services implement [`api::Service`].
//! - [`sigv4`] + [`auth`]: signature verification and the per-protocol auth errors.
//! - [`protocol`]: one module per protocol (query incl. EC2's dialect, json, rest-xml).
//! - [`validate`]: required/enum/length/range checks with AWS's messages.
//! - [`xml_in`], [`xml_out`], [`scalar`], [`value`]: the shared pieces the protocols use.
//!
//! **Architecture invariant:** only this crate knows XML/JSON wire shapes. Services see a
//! `serde_json::Value` tree keyed by model member names, and return one.

pub mod api;
pub mod auth;
pub mod context;
pub mod decode_error;
pub mod error;
pub mod model;
pub mod protocol;
pub mod scalar;
pub mod sigv4;
pub mod validate;
pub mod value;
pub mod xml_in;
pub mod xml_out;

pub use api::{Api, ApiConfig, ApiRequest, ApiResponse, BoxFuture, Service};
pub use auth::{AuthMode, CredentialLookup, Principal};
pub use context::RequestContext;
pub use error::AwsError;

//! Who is calling, where: what every operation receives beside its input.

/// The caller of one request, after authentication.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub account_id: String,
    pub region: String,
    /// The access key the request was signed with (any key in dev mode).
    pub access_key_id: String,
    /// The ARN of the principal, e.g. `arn:aws:iam::123456789012:root`.
    pub principal_arn: String,
    /// The principal's user id as STS reports it (the account id for the root user).
    pub principal_user_id: String,
}

//! Admin endpoints under `/_haneul/` — never an AWS path: health, reset, the CA's root, ACM's
//! validation mail and its approval links.

use std::sync::Arc;

use bytes::Bytes;
use haneul_wire::sigv4::{self, SignedRequest};
use haneul_wire::{ApiRequest, ApiResponse, CredentialLookup};
use serde_json::json;

use crate::server::State;

pub const PREFIX: &str = "/_haneul/";

fn json_response(status: u16, body: serde_json::Value) -> ApiResponse {
    ApiResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::from(body.to_string()),
    }
}

pub async fn handle(state: &Arc<State>, req: ApiRequest) -> ApiResponse {
    let path = req.raw_path.trim_end_matches('/');
    match (req.method.as_str(), path) {
        ("GET", "/_haneul/health") => health(state),
        ("GET", "/_haneul/mail") => json_response(200, json!({ "mails": state.acm_mailbox.list() })),
        ("GET" | "POST", p) if p.starts_with("/_haneul/acm/approve/") => {
            let token = p.trim_start_matches("/_haneul/acm/approve/").to_string();
            match haneul_acm::mail::approve(&state.store, token).await {
                Ok(arn) => json_response(200, json!({ "approved": arn })),
                Err(e) => json_response(404, json!({ "error": e.to_string() })),
            }
        }
        ("GET", "/_haneul/ca.pem") => ApiResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/x-pem-file".into())],
            body: Bytes::from(state.ca_pem.clone()),
        },
        ("POST", "/_haneul/reset") => reset(state, &req).await,
        _ => json_response(
            404,
            json!({ "error": format!("no admin endpoint {} {}", req.method, req.raw_path) }),
        ),
    }
}

fn health(state: &State) -> ApiResponse {
    let mut services = serde_json::Map::new();
    for (name, implemented) in state.api.services() {
        let status = if implemented { "running" } else { "api-validation-only" };
        services.insert(name, json!(status));
    }
    let vpc_resolvers: serde_json::Map<String, serde_json::Value> = state
        .dns_plane
        .vpc_resolvers
        .load()
        .iter()
        .map(|(vpc, addr)| (vpc.clone(), json!(addr.to_string())))
        .collect();
    json_response(
        200,
        json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "mode": if state.config.dev { "dev" } else { "verified" },
            "addresses": {
                "api": state.api_addr.to_string(),
                "dns": state.dns_addr.to_string(),
                "lb_cidr": state.config.lb_cidr,
                "vpc_resolvers": vpc_resolvers,
            },
            "region": state.config.region,
            "account_id": state.config.account_id,
            "data_dir": state.data_dir.display().to_string(),
            "revision": state.store.revision(),
            "services": services,
            "dataplanes": { "dns": "serving" },
            "dns_query_log": {
                "written": state.dns_plane.query_log.written.load(std::sync::atomic::Ordering::Relaxed),
                "dropped": state.dns_plane.query_log.dropped.load(std::sync::atomic::Ordering::Relaxed),
            },
        }),
    )
}

/// Dev mode: anyone may reset. Otherwise only a request signed by the root key.
async fn reset(state: &State, req: &ApiRequest) -> ApiResponse {
    if !state.config.dev && !signed_by_root(state, req) {
        return json_response(
            403,
            json!({ "error": "reset outside dev mode needs a request signed with the root key" }),
        );
    }
    let revision = match state.store.reset().await {
        Ok(revision) => revision,
        Err(e) => return json_response(500, json!({ "error": e.to_string() })),
    };
    // The log groups are gone with the resource store; their events go with them.
    // Tasks the reset forgot can never be stopped through the API: remove their containers.
    state.ecs_host.remove_all_containers().await;
    if let Err(e) = state.logs.reset().await {
        return json_response(500, json!({ "error": e.to_string() }));
    }
    json_response(200, json!({ "reset": true, "revision": revision }))
}

fn signed_by_root(state: &State, req: &ApiRequest) -> bool {
    let Some(keys) = &state.keys else { return false };
    let signed = SignedRequest {
        method: &req.method,
        raw_path: &req.raw_path,
        raw_query: &req.raw_query,
        headers: &req.headers,
        body: &req.body,
    };
    let Ok(Some(sig)) = sigv4::parse(&signed) else {
        return false;
    };
    let Some(principal) = keys.lookup(&sig.access_key_id) else {
        return false;
    };
    sigv4::check_time(&sig, time::OffsetDateTime::now_utc()).is_ok()
        && sigv4::verify(&signed, &sig, &principal.secret_access_key).is_ok()
        && principal.arn.ends_with(":root")
}

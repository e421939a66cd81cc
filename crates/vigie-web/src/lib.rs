//! Vigie's HTTP server: the web app (server-rendered pages, French and
//! English), the REST API under `/api/v1/`, and the push API.
//!
//! Map:
//! - `routes.rs`: the route table; each route is registered with its access
//!   level, which guards it (`auth.rs`), documents it (OpenAPI) and is tried
//!   by the authorization test.
//! - `auth.rs`: sessions, tokens, roles, anti-CSRF, login throttling.
//! - `error.rs`: one table of error codes for pages and API.
//! - `pages/`: one module per screen, each with its routes, HTML and the JSON
//!   twin of what it shows (`api` routes); `pages/mod.rs` has the layout.
//! - `ingest.rs`: `POST /api/v1/ingest`, mentions pushed by other tools.
//! - `assets/`: the stylesheet and the little JavaScript, embedded.
//!
//! **Invariant**: untrusted text (mentions, titles, authors, URLs, watch
//! names) reaches HTML only through maud's escaping; links come from
//! [`pages::safe_href`], which refuses anything but http(s). The
//! Content-Security-Policy forbids inline scripts and styles, so markup that
//! slipped through still could not run.
//!
//! `POST /api/v1/ingest` takes a JSON array of mentions in the import schema
//! (the fields `vigie import` reads from JSON Lines), authenticated by a
//! project token with the agent role or above. Each mention takes the same
//! path as collected ones (normalize, dedup, match, analyze, store). Tokens:
//! only their SHA-256 is stored ([`hash_token`]); a token is 32 random bytes,
//! so a fast hash is enough (no password to stretch).

pub mod auth;
pub mod cache;
pub mod error;
pub mod i18n;
mod ingest;
pub mod kpi;
pub mod pages;
pub mod pdf;
pub mod routes;
pub mod schedule;
mod server;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::map_response;
use axum::response::Response;
use sha2::{Digest, Sha256};
use vigie_model::Role;
use vigie_pipeline::models::ProjectModels;
use vigie_pipeline::stories::StoryIndexes;
use vigie_store::Store;

pub use auth::{Access, Actor};
pub use error::{ApiError, ErrorCode};
pub use ingest::{IngestAnswer, MAX_BODY_BYTES, MAX_ITEMS, RefusedItem};
pub use routes::{RouteDoc, Routes};
pub use server::{SHUTDOWN_GRACE, Timeouts, serve};

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure` (the server is reached through HTTPS). They
    /// are also marked when a proxy says `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
    /// The zone people read times in: pages, reports and their e-mails,
    /// and the local days charts and reports count.
    pub zone: vigie_model::zone::Tz,
    /// How long a client may take to send a request.
    pub timeouts: Timeouts,
    /// Reverse proxies whose `X-Forwarded-For` is believed (see
    /// [`auth::client_address`]); by default the machine's own (loopback).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            secure_cookies: false,
            zone: vigie_model::zone::Tz::UTC,
            timeouts: Timeouts::default(),
            trusted_proxies: LOOPBACK.iter().filter_map(|n| n.parse().ok()).collect(),
        }
    }
}

/// The machine's own addresses: a reverse proxy on the same host.
const LOOPBACK: [&str; 2] = ["127.0.0.0/8", "::1/128"];

/// `--trusted-proxy` values: addresses (`192.0.2.7`) or networks
/// (`10.0.0.0/8`); `none` alone trusts no one.
pub fn parse_trusted_proxies(values: &[String]) -> Result<Vec<ipnet::IpNet>, String> {
    let values: Vec<&str> = values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
    if values.len() == 1 && values[0].eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    values
        .into_iter()
        .map(|v| {
            v.parse::<ipnet::IpNet>()
                .or_else(|_| v.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{v:?} is not an address or a network (ADDR or ADDR/BITS, e.g. 10.0.0.0/8)"))
        })
        .collect()
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub models: ProjectModels,
    pub stories: StoryIndexes,
    pub config: WebConfig,
    /// Bumped by every state-changing request (see [`cache`]).
    pub generation: cache::Generation,
    /// The overview's figures by project and period.
    pub overview_cache: Arc<pages::overview::FiguresCache>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, models: ProjectModels, stories: StoryIndexes, config: WebConfig) -> AppState {
        AppState {
            store,
            models,
            stories,
            config,
            generation: cache::Generation::default(),
            overview_cache: Arc::default(),
        }
    }
}

/// Every route, with its documentation.
pub fn routes(state: AppState) -> Routes {
    let r = Routes::new(state)
        .api(
            Method::POST,
            "/api/v1/ingest",
            Access::Project(Role::Agent),
            "Push mentions into the token's project (JSON array in the import schema)",
            ingest::ingest,
        )
        .api(
            Method::POST,
            "/api/v1/projects/{pid}/ingest",
            Access::Project(Role::Agent),
            "Push mentions into a project (JSON array in the import schema)",
            ingest::ingest,
        )
        .api(
            Method::GET,
            "/api/v1/health",
            Access::Public,
            "Health: the server answers and reaches its database",
            health,
        );
    pages::routes(r)
}

/// The server's router.
pub fn router(state: AppState) -> Router {
    let (router, docs) = routes(state.clone()).into_parts();
    let openapi = Arc::new(routes::openapi(&docs));
    router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = openapi.clone();
                async move { axum::Json((*doc).clone()) }
            }),
        )
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), cache::invalidate_on_write))
        .layer(axum::middleware::from_fn_with_state(state.clone(), in_installation_zone))
        .layer(axum::middleware::from_fn(api_errors_as_json))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), server::body_deadline))
        .layer(map_response(security_headers))
        .with_state(state)
}

/// Every page and answer is written in the installation's zone.
async fn in_installation_zone(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    i18n::in_zone(state.config.zone, next.run(req)).await
}

/// `{"status": "ok"}` when the database answers within 3 s, else 503 with
/// `{"status": "unavailable", "database": why}`: what a load balancer or a
/// monitoring probe checks.
async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    use axum::response::IntoResponse;
    // Anyone may ask: what went wrong goes to the log, not to them.
    let why = match tokio::time::timeout(std::time::Duration::from_secs(3), state.store.list_projects()).await {
        Ok(Ok(_)) => return axum::Json(serde_json::json!({"status": "ok"})).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: the database failed");
            if e.is_unavailable() { "unreachable" } else { "failing" }
        }
        Err(_) => {
            tracing::warn!("health check: the database did not answer within 3 s");
            "no answer within 3 s"
        }
    };
    let body = serde_json::json!({"status": "unavailable", "database": why});
    (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
}

/// A method a route does not take (405) is answered by the router before
/// any route's middleware runs (the extractors' refusals are turned into the
/// route's kind of error by `auth::authorize`): under `/api/` it is the API's
/// `{code, message}` too.
async fn api_errors_as_json(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::response::IntoResponse;
    let api = req.uri().path().starts_with("/api/");
    let method = req.method().clone();
    let response = next.run(req).await;
    if !api || response.status() != axum::http::StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allowed = response.headers().get(header::ALLOW).cloned();
    let message = match allowed.as_ref().and_then(|v| v.to_str().ok()).filter(|a| !a.is_empty()) {
        Some(allowed) => format!("this route does not take {method} (it takes {allowed})"),
        None => format!("this route does not take {method}"),
    };
    let body = serde_json::json!({"code": "invalid_request", "message": message});
    let mut answer = (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response();
    if let Some(allow) = allowed {
        answer.headers_mut().insert(header::ALLOW, allow);
    }
    answer
}

/// Headers sent with every answer: a strict Content-Security-Policy (no
/// inline script or style, nothing from elsewhere), no framing, no sniffing.
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Prefix of Vigie's push tokens, so a leaked one is recognisable (secret scanners).
pub const TOKEN_PREFIX: &str = "vigie_";

/// A new token: the prefix and 32 random bytes in hex.
pub fn new_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness from the operating system: {e}"))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

/// What is stored of a token.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.trim().as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let a = new_token().unwrap_or_default();
        let b = new_token().unwrap_or_default();
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64, "{a}");
        assert_ne!(a, b);
        assert_eq!(hash_token(&a), hash_token(&format!(" {a}\n")));
        assert_ne!(hash_token(&a), hash_token(&b));
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}

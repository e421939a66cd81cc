//! Vigie's HTTP server. For now: the push API, for mentions from platforms
//! Vigie cannot collect itself (exports from Facebook, Instagram, X…).
//!
//! `POST /api/v1/ingest` takes a JSON array of mentions in the import schema
//! (the fields `vigie import` reads from JSON Lines), authenticated by a
//! project token (`Authorization: Bearer …`, made with `vigie token create`).
//! Each mention takes the same path as collected ones (normalize, dedup,
//! match, analyze, store). The answer says what was stored, what was already
//! there, and which items were refused and why; a bad item never refuses the
//! others, a bad body refuses the whole request with a message saying where.
//!
//! Tokens: only their SHA-256 is stored ([`hash_token`]); a token is 32
//! random bytes, so a fast hash is enough (no password to stretch).

mod ingest;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use sha2::{Digest, Sha256};
use vigie_pipeline::models::ProjectModels;
use vigie_pipeline::stories::StoryIndexes;
use vigie_store::Store;

pub use ingest::{IngestAnswer, MAX_BODY_BYTES, MAX_ITEMS, RefusedItem};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub models: ProjectModels,
    pub stories: StoryIndexes,
}

/// The server's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/ingest", post(ingest::ingest))
        .route("/api/v1/health", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` completes; requests
/// under way are finished first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
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

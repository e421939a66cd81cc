//! `POST /api/v1/ingest`: mentions pushed by other tools.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use vigie_pipeline::Ingestor;
use vigie_pipeline::import::{json_kind, raw_from_object};

use crate::AppState;
use crate::auth::Actor;
use crate::error::{ApiError, ErrorCode};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Mentions per request at most (send more in several requests).
pub const MAX_ITEMS: usize = 10_000;

/// The answer to a push.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, serde::Deserialize)]
pub struct IngestAnswer {
    /// Items in the request.
    pub received: usize,
    /// New mentions stored.
    pub stored: u64,
    /// Items already stored (same link, id or content).
    pub duplicates: u64,
    /// Items refused, with their index in the array and why.
    pub refused: Vec<RefusedItem>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, serde::Deserialize)]
pub struct RefusedItem {
    pub index: usize,
    pub error: String,
}

pub(crate) async fn ingest(State(state): State<AppState>, Extension(actor): Extension<Actor>, body: Bytes) -> Response {
    match ingest_inner(&state, &actor, &body).await {
        Ok(answer) => (StatusCode::OK, Json(answer)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn ingest_inner(state: &AppState, actor: &Actor, body: &[u8]) -> Result<IngestAnswer, ApiError> {
    let now = Utc::now();
    let project_id = actor.project_id()?;
    let Parsed { received, raws, positions, refused } = parse(body)?;
    let mut answer = IngestAnswer { received, stored: 0, duplicates: 0, refused };
    if !raws.is_empty() {
        let stories = state.stories.get(state.store.as_ref(), project_id).await.map_err(|e| internal(&e))?;
        let ingestor = Ingestor::new(Arc::clone(&state.store), project_id, &state.models, stories)
            .await
            .map_err(|e| internal(&e))?;
        let report = Arc::new(ingestor).ingest(raws, None, now).await.map_err(|e| internal(&e))?;
        answer.stored = report.inserted;
        answer.duplicates = report.duplicates;
        for (i, error) in report.rejected {
            answer.refused.push(RefusedItem { index: positions[i], error });
        }
        answer.refused.sort_by_key(|r| r.index);
    }
    tracing::info!(
        project = project_id,
        by = %actor.name(),
        received = answer.received,
        stored = answer.stored,
        refused = answer.refused.len(),
        "push"
    );
    Ok(answer)
}

/// A body read item by item.
#[derive(Debug, Default)]
struct Parsed {
    received: usize,
    /// The acceptable items, and their index in the array.
    raws: Vec<vigie_model::RawMention>,
    positions: Vec<usize>,
    refused: Vec<RefusedItem>,
}

/// The body's array, each item turned into a mention as soon as it is read:
/// only one item is ever held as a JSON tree (a whole 32 MiB body as a tree
/// took about 15 times its size).
fn parse(body: &[u8]) -> Result<Parsed, ApiError> {
    use serde::Deserializer as _;
    use serde::de::{Error as _, SeqAccess, Visitor};

    struct Items;
    impl<'de> Visitor<'de> for Items {
        type Value = Parsed;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON array of mentions")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed, A::Error> {
            let mut parsed = Parsed::default();
            while let Some(item) = seq.next_element::<Value>()? {
                let index = parsed.received;
                parsed.received += 1;
                if parsed.received > MAX_ITEMS {
                    return Err(A::Error::custom(TOO_MANY));
                }
                match &item {
                    Value::Object(map) => match raw_from_object(map) {
                        Ok(raw) => {
                            parsed.raws.push(raw);
                            parsed.positions.push(index);
                        }
                        Err(error) => parsed.refused.push(RefusedItem { index, error }),
                    },
                    other => parsed
                        .refused
                        .push(RefusedItem { index, error: format!("expected an object, not {}", json_kind(other)) }),
                }
            }
            Ok(parsed)
        }
    }
    const TOO_MANY: &str = "too many mentions";

    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'[') {
        // Not an array: say what it is (or where its syntax breaks).
        let value: Value = serde_json::from_slice(body).map_err(not_json)?;
        return Err(ApiError::invalid(format!("the body must be a JSON array of mentions, not {}", json_kind(&value))));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = match de.deserialize_seq(Items) {
        Ok(parsed) => parsed,
        Err(e) if e.to_string().starts_with(TOO_MANY) => {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("more than {MAX_ITEMS} mentions in one request; send at most {MAX_ITEMS} per request"),
            ));
        }
        Err(e) => return Err(not_json(e)),
    };
    de.end().map_err(not_json)?;
    Ok(parsed)
}

fn not_json(e: serde_json::Error) -> ApiError {
    ApiError::invalid(format!("the body is not valid JSON: {e}"))
}

/// A failure on our side: logged in full, answered without internals.
fn internal(e: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "push failed");
    ApiError::new(
        ErrorCode::Internal,
        "the mentions could not be stored; nothing was lost on your side: retry the request",
    )
}

//! A short-lived cache of computed figures (the overview's), so that a
//! dashboard open on many screens, or reloaded in a loop, costs one
//! computation per period every [`TTL`] rather than one per request.
//!
//! An entry is valid for [`TTL`] and only while no state-changing request
//! (anything but GET and HEAD) has been served by this process since it was
//! computed: someone who answers an inbox item and opens the overview sees
//! the answer counted. Other processes' writes (workers, a second server)
//! show within [`TTL`]. A request sent with `Cache-Control: no-cache` (a
//! browser's forced reload) computes afresh.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// How long an entry is served.
pub const TTL: Duration = Duration::from_secs(30);
/// Entries kept at most (periods × projects); past it, the expired go, then all.
const MAX_ENTRIES: usize = 512;

/// Counts the state-changing requests served, so entries computed before
/// one are not served after it.
#[derive(Clone, Default)]
pub struct Generation(Arc<AtomicU64>);

impl Generation {
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// Values by key, each with when and at which generation it was computed.
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (Instant, u64, V)>>,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        TtlCache { entries: Mutex::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// The value of `key` if it is younger than [`TTL`] and of `generation`.
    pub fn get(&self, key: &K, generation: u64, now: Instant) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, g, _)| *g == generation && now.duration_since(*at) < TTL)
            .map(|(_, _, v)| v.clone())
    }

    pub fn put(&self, key: K, generation: u64, computed_at: Instant, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, g, _)| *g == generation && computed_at.duration_since(*at) < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (computed_at, generation, value));
    }
}

/// Whether the client asked for fresh figures.
pub fn wants_fresh(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| matches!(d.trim().to_ascii_lowercase().as_str(), "no-cache" | "no-store" | "max-age=0"))
}

/// Middleware: after every state-changing request, whatever its outcome,
/// cached figures are stale.
pub async fn invalidate_on_write(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let response = next.run(request).await;
    if writes {
        state.generation.bump();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_follow_the_generation() {
        let cache: TtlCache<u8, &str> = TtlCache::default();
        let t0 = Instant::now();
        cache.put(1, 7, t0, "a");
        assert_eq!(cache.get(&1, 7, t0 + Duration::from_secs(29)), Some("a"));
        assert_eq!(cache.get(&1, 7, t0 + TTL), None, "expired");
        assert_eq!(cache.get(&1, 8, t0), None, "a write since");
        assert_eq!(cache.get(&2, 7, t0), None);
        for k in 0..=u8::MAX {
            cache.put(k, 9, t0, "b");
        }
        assert!(cache.entries.lock().unwrap().len() <= MAX_ENTRIES);
    }

    #[test]
    fn no_cache_is_understood() {
        let mut h = HeaderMap::new();
        assert!(!wants_fresh(&h));
        h.insert(header::CACHE_CONTROL, "max-age=0".parse().unwrap());
        assert!(wants_fresh(&h));
        h.insert(header::CACHE_CONTROL, "public, No-Cache".parse().unwrap());
        assert!(wants_fresh(&h));
        h.insert(header::CACHE_CONTROL, "max-age=60".parse().unwrap());
        assert!(!wants_fresh(&h));
    }
}

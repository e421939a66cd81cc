//! Per-host politeness: how many requests one host gets at once, and how
//! often.
//!
//! Every request the [`Fetcher`](crate::Fetcher) makes (feeds, API pages,
//! scraped pages, robots.txt) first takes a slot of its host in a
//! [`HostTable`]: at most [`HostPolicy::max_concurrent`] requests are in
//! flight to one host, and successive request *starts* to one host are at
//! least [`HostPolicy::min_delay`] apart. Hosts do not wait on each other, so
//! many sources on different sites still run fully in parallel.
//!
//! A host is the URL's lower-case host name plus its port
//! (`example.org:443`): `127.0.0.1:8080` and `localhost:8080` are two hosts,
//! and so are two ports of one machine. The slot covers the request the
//! caller asked for; redirect hops that reqwest follows inside it (to the
//! same site, most of the time) take no slot of their own.
//!
//! The table forgets idle hosts (no request in flight or waiting, delay
//! elapsed) once it tracks [`MAX_TRACKED_HOSTS`], so it stays bounded by that
//! number or by the requests under way, whichever is larger.
//!
//! [`jitter`] is the pure, seeded random part of a back-off, for the
//! scheduler.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

/// Hosts tracked before idle ones are forgotten.
pub const MAX_TRACKED_HOSTS: usize = 10_000;

/// How the fetcher treats one host. `Default`: two requests at once, one
/// second between request starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPolicy {
    /// Requests in flight to one host at most (0 counts as 1).
    pub max_concurrent: usize,
    /// Least time between the starts of two requests to one host.
    pub min_delay: Duration,
}

impl Default for HostPolicy {
    fn default() -> Self {
        HostPolicy { max_concurrent: 2, min_delay: Duration::from_secs(1) }
    }
}

/// The key of a URL's host: lower-case host and port (`example.org:443`).
/// `None` for URLs without a host (the fetcher refuses those earlier).
pub fn host_key(url: &Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    match url.port_or_known_default() {
        Some(port) => Some(format!("{host}:{port}")),
        None => Some(host),
    }
}

/// One host's state: its concurrency slots and when the next request may start.
#[derive(Debug)]
struct HostState {
    slots: Arc<Semaphore>,
    next_start: Mutex<Instant>,
}

/// The per-host slots of one fetcher, shared by its clones.
#[derive(Debug)]
pub(crate) struct HostTable {
    policy: HostPolicy,
    capacity: usize,
    hosts: Mutex<HashMap<String, Arc<HostState>>>,
}

/// Held for the whole request; dropping it frees the host's slot.
#[derive(Debug)]
pub(crate) struct HostSlot {
    _permit: Option<OwnedSemaphorePermit>,
    _state: Arc<HostState>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data stays consistent under every lock (plain assignments), so a
    // panic elsewhere while it was held does not make it unusable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HostTable {
    pub(crate) fn new(policy: HostPolicy) -> HostTable {
        HostTable::with_capacity(policy, MAX_TRACKED_HOSTS)
    }

    pub(crate) fn with_capacity(policy: HostPolicy, capacity: usize) -> HostTable {
        HostTable { policy, capacity: capacity.max(1), hosts: Mutex::new(HashMap::new()) }
    }

    /// Waits for a slot of `host` (see [`host_key`]) and for its turn to
    /// start, then returns the slot to hold until the request is over.
    pub(crate) async fn acquire(&self, host: &str) -> HostSlot {
        let state = self.state(host);
        // The semaphore is never closed, so this fails only in theory; the
        // delay below still applies then.
        let permit = state.slots.clone().acquire_owned().await.ok();
        let start = {
            let mut next = lock(&state.next_start);
            let start = (*next).max(Instant::now());
            *next = start + self.policy.min_delay;
            start
        };
        tokio::time::sleep_until(start).await;
        HostSlot { _permit: permit, _state: state }
    }

    fn state(&self, host: &str) -> Arc<HostState> {
        let mut hosts = lock(&self.hosts);
        if let Some(state) = hosts.get(host) {
            return state.clone();
        }
        if hosts.len() >= self.capacity {
            let now = Instant::now();
            // Idle: nobody holds or waits for a slot (only the table has the
            // state), and forgetting it cannot let a request start early.
            hosts.retain(|_, s| Arc::strong_count(s) > 1 || *lock(&s.next_start) > now);
            if hosts.len() < self.capacity {
                tracing::debug!(tracked = hosts.len(), "idle hosts forgotten");
            }
        }
        let state = Arc::new(HostState {
            slots: Arc::new(Semaphore::new(self.policy.max_concurrent.max(1))),
            next_start: Mutex::new(Instant::now()),
        });
        hosts.insert(host.to_string(), state.clone());
        state
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        lock(&self.hosts).len()
    }
}

/// A deterministic random duration in `[0, max)` drawn from `seed`
/// (splitmix64): the jitter of a back-off, so that sources that failed
/// together do not all retry at the same second. The same seed (a source id
/// mixed with its failure count, say) always gives the same delay; nearby
/// seeds give unrelated ones. Zero when `max` is zero.
pub fn jitter(seed: u64, max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    let r = splitmix64(seed);
    // (r / 2^64) * nanos, in integers: always below `nanos`.
    let scaled = (u128::from(r) * u128::from(nanos)) >> 64;
    Duration::from_nanos(u64::try_from(scaled).unwrap_or(u64::MAX))
}

fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_are_lower_case_host_and_port() {
        let key = |s: &str| host_key(&Url::parse(s).unwrap());
        assert_eq!(key("https://Example.ORG/feed").as_deref(), Some("example.org:443"));
        assert_eq!(key("http://example.org/").as_deref(), Some("example.org:80"));
        assert_eq!(key("http://127.0.0.1:8080/x").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(key("http://[::1]:81/").as_deref(), Some("[::1]:81"));
        assert_ne!(key("http://localhost:81/"), key("http://127.0.0.1:81/"));
    }

    #[test]
    fn jitter_is_bounded_deterministic_and_spread() {
        let max = Duration::from_secs(60);
        assert_eq!(jitter(42, max), jitter(42, max));
        assert_eq!(jitter(7, Duration::ZERO), Duration::ZERO);
        // Huge maxima do not overflow.
        assert!(jitter(7, Duration::MAX) < Duration::MAX);

        let draws: Vec<Duration> = (0..10_000u64).map(|seed| jitter(seed, max)).collect();
        assert!(draws.iter().all(|d| *d < max));
        // Consecutive seeds land all over the range: ten buckets of six
        // seconds each get roughly a tenth of the draws.
        let mut buckets = [0usize; 10];
        for d in &draws {
            buckets[(d.as_secs() / 6) as usize] += 1;
        }
        for (i, n) in buckets.iter().enumerate() {
            assert!((800..=1200).contains(n), "bucket {i} has {n} draws: {buckets:?}");
        }
        let distinct: std::collections::HashSet<_> = draws.iter().collect();
        assert!(distinct.len() > 9_990, "{} distinct values", distinct.len());
        // Neighbouring seeds are unrelated, not one step apart.
        assert!(jitter(1, max).abs_diff(jitter(2, max)) > Duration::from_millis(1));
    }

    #[tokio::test(start_paused = true)]
    async fn starts_to_one_host_are_spaced_and_bounded() {
        let table = Arc::new(HostTable::new(HostPolicy { max_concurrent: 2, min_delay: Duration::from_secs(1) }));
        let t0 = Instant::now();
        let a = table.acquire("a:80").await;
        let b = table.acquire("a:80").await;
        assert!(t0.elapsed() >= Duration::from_secs(1));
        // Another host does not wait.
        let t1 = Instant::now();
        let other = table.acquire("b:80").await;
        assert_eq!(t1.elapsed(), Duration::ZERO);
        // A third request to `a` waits for a slot.
        let waiting = tokio::spawn({
            let table = table.clone();
            async move {
                let _slot = table.acquire("a:80").await;
                Instant::now()
            }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiting.is_finished());
        let freed = Instant::now();
        drop(a);
        let started = waiting.await.unwrap();
        assert!(started >= freed);
        drop((b, other));
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_forgets_idle_hosts_past_its_capacity() {
        let table = HostTable::with_capacity(HostPolicy { max_concurrent: 1, min_delay: Duration::from_millis(10) }, 3);
        let busy = table.acquire("busy:80").await;
        for i in 0..20 {
            drop(table.acquire(&format!("h{i}:80")).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(table.tracked() <= 3, "{} hosts tracked", table.tracked());
        // The busy host was kept: a second request to it still waits.
        let second = tokio::time::timeout(Duration::from_secs(1), table.acquire("busy:80")).await;
        assert!(second.is_err(), "the busy host's slot was forgotten");
        drop(busy);
    }
}

//! robots.txt (RFC 9309) for the pages Vigie scrapes.
//!
//! [`Fetcher::fetch_page`](crate::Fetcher::fetch_page), used for HTML pages
//! and search result pages, asks the site's robots.txt first;
//! [`Fetcher::fetch`](crate::Fetcher::fetch), used for feeds and APIs (which
//! sites publish to be read by programs), does not.
//!
//! The rules, as RFC 9309 says:
//!
//! - the groups whose `user-agent` is our product token [`PRODUCT_TOKEN`]
//!   (compared case-insensitively; `Vigie/2.0` names it too) apply, merged;
//!   else the `*` groups; else nothing is disallowed;
//! - the longest matching `allow`/`disallow` pattern wins (in octets, after
//!   percent-encoding is normalized), and `allow` wins a tie; `*` matches
//!   any run of characters and a final `$` anchors the end;
//! - `/robots.txt` itself is always allowed;
//! - only the first [`MAX_ROBOTS_BYTES`] are read;
//! - a 4xx answer (404 included), too many redirects or a refused redirect
//!   mean "no robots.txt": everything is allowed;
//! - a 5xx, 408 or 429 answer, a timeout or a connection error mean the site
//!   is unreachable: everything is disallowed for now, as a transient error
//!   ([`FetchError::RobotsUnavailable`]), so the scheduler tries again later.
//!
//! Answers are cached per origin (scheme, host, port) for
//! [`ROBOTS_TTL`] (unreachable ones for [`ROBOTS_ERROR_TTL`]); concurrent
//! pages of one origin wait for one robots.txt request. The cache forgets
//! the oldest answers past [`MAX_CACHED_ORIGINS`] origins. Redirects of
//! robots.txt are followed by the fetcher like any other (up to its limit,
//! each hop through the SSRF guard), and the request takes its host's
//! politeness slot like any other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::fetch::{FetchError, FetchOutcome};

/// Our product token, the name robots.txt groups address. The default
/// User-Agent starts with it (`Vigie/<version> (…)`).
pub const PRODUCT_TOKEN: &str = "Vigie";
/// The part of a robots.txt that is read; the rest is ignored.
pub const MAX_ROBOTS_BYTES: usize = 500 * 1024;
/// How long a robots.txt answer is kept.
pub const ROBOTS_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long "robots.txt unreachable" is kept before asking again.
pub const ROBOTS_ERROR_TTL: Duration = Duration::from_secs(5 * 60);
/// Origins whose robots.txt is cached at most.
pub const MAX_CACHED_ORIGINS: usize = 1024;

/// The rules of a robots.txt that apply to one product token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RobotsRules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    allow: bool,
    /// Percent-encoding normalized; `*` and a final `$` kept.
    pattern: String,
}

impl RobotsRules {
    /// Nothing disallowed (no robots.txt, or a 4xx for it).
    pub fn allow_all() -> RobotsRules {
        RobotsRules::default()
    }

    /// Reads a robots.txt and keeps the rules for `product_token`: its own
    /// groups when there are any, else the `*` groups. Never fails: lines
    /// that mean nothing are skipped.
    pub fn parse(text: &str, product_token: &str) -> RobotsRules {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut ours: Vec<Rule> = Vec::new();
        let mut star: Vec<Rule> = Vec::new();
        let mut has_own_group = false;
        // The group being read: does it address us, or everyone?
        let mut group_ours = false;
        let mut group_star = false;
        let mut in_group = false;
        // The previous line was a user-agent line (consecutive ones form one group).
        let mut reading_agents = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default().trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            match key.as_str() {
                "user-agent" | "useragent" | "user agent" => {
                    if !reading_agents {
                        group_ours = false;
                        group_star = false;
                    }
                    reading_agents = true;
                    in_group = true;
                    if value == "*" {
                        group_star = true;
                    } else if agent_token(value).eq_ignore_ascii_case(product_token) && !product_token.is_empty() {
                        group_ours = true;
                        has_own_group = true;
                    }
                }
                "allow" | "disallow" => {
                    reading_agents = false;
                    if !in_group || value.is_empty() || !(group_ours || group_star) {
                        continue;
                    }
                    let rule = Rule { allow: key == "allow", pattern: normalize_pattern(value) };
                    if group_ours {
                        ours.push(rule.clone());
                    }
                    if group_star {
                        star.push(rule);
                    }
                }
                // sitemap, crawl-delay and the like: neither rules nor group boundaries.
                _ => {}
            }
        }
        RobotsRules { rules: if has_own_group { ours } else { star } }
    }

    /// Whether `path` (the URL's path and query, `/a/b?c=d`) may be fetched.
    pub fn is_allowed(&self, path: &str) -> bool {
        let path = normalize(if path.is_empty() { "/" } else { path });
        if path == "/robots.txt" {
            return true;
        }
        let mut best: Option<(usize, bool)> = None;
        for rule in &self.rules {
            if !pattern_matches(&rule.pattern, &path) {
                continue;
            }
            let len = rule.pattern.len();
            best = match best {
                Some((best_len, best_allow)) if best_len > len || (best_len == len && (best_allow || !rule.allow)) => {
                    Some((best_len, best_allow))
                }
                _ => Some((len, rule.allow)),
            };
        }
        best.is_none_or(|(_, allow)| allow)
    }

    /// Rules kept (for tests and logs).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// The product token of a `user-agent` value: its leading letters, `_` and
/// `-` (`Vigie/1.0` → `Vigie`).
fn agent_token(value: &str) -> &str {
    let end = value.find(|c: char| !(c.is_ascii_alphabetic() || c == '_' || c == '-')).unwrap_or(value.len());
    &value[..end]
}

/// The product token of a User-Agent header value (`Vigie/0.1 (…)` → `Vigie`).
pub fn product_token(user_agent: &str) -> &str {
    agent_token(user_agent.trim())
}

fn normalize_pattern(value: &str) -> String {
    let pattern = normalize(value);
    if pattern.starts_with('/') || pattern.starts_with('*') { pattern } else { format!("/{pattern}") }
}

/// One spelling for comparison (RFC 9309 §2.2.2): escapes of unreserved
/// characters decoded, other escapes in upper case, bytes outside printable
/// ASCII escaped.
fn normalize(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(|c| hex(*c)), bytes.get(i + 2).and_then(|c| hex(*c)))
        {
            let v = h * 16 + l;
            if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(v));
            } else {
                push_escape(&mut out, v);
            }
            i += 3;
            continue;
        }
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            push_escape(&mut out, b);
        }
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

fn push_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

/// Whether `pattern` matches the start of `path` (all of it with a final
/// `$`). Literal runs between `*`s are found leftmost, which is enough for
/// a match to be found when there is one; linear in the path per run.
fn pattern_matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = path.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: a prefix, or the whole path when anchored.
        return !anchored || rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    if anchored { rest.ends_with(last) } else { rest.contains(last) }
}

/// What a robots.txt request means for the origin's pages: rules, or
/// [`FetchError::RobotsUnavailable`] when the site could not be reached.
pub(crate) fn verdict(
    robots_url: &str,
    fetched: Result<FetchOutcome, FetchError>,
    product_token: &str,
) -> Result<RobotsRules, FetchError> {
    match fetched {
        Ok(FetchOutcome::Fetched { body, .. }) => {
            // Cut at the cap: the last line may be cut short, and a rule cut
            // short means another rule ("Disallow: /pri" for "/private").
            let mut body = body.as_slice();
            if body.len() >= MAX_ROBOTS_BYTES
                && let Some(end) = body.iter().rposition(|b| *b == b'\n')
            {
                body = &body[..end];
            }
            let text = String::from_utf8_lossy(body);
            Ok(RobotsRules::parse(&text, product_token))
        }
        // Not asked conditionally; an odd server: nothing known, nothing refused.
        Ok(FetchOutcome::NotModified) => Ok(RobotsRules::allow_all()),
        Err(e) if e.is_transient() => {
            tracing::info!(robots_url, error = %e, "robots.txt unreachable; the site's pages wait");
            Err(FetchError::RobotsUnavailable { url: robots_url.to_string(), error: Box::new(e.without_body()) })
        }
        // 4xx, a redirect loop, a refused redirect: no usable robots.txt.
        Err(e) => {
            tracing::debug!(robots_url, error = %e, "no robots.txt; everything allowed");
            Ok(RobotsRules::allow_all())
        }
    }
}

/// The robots.txt answers of one fetcher, per origin.
#[derive(Debug)]
pub(crate) struct RobotsCache {
    capacity: usize,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// One origin's answer, filled once by whoever asks first.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    cell: OnceCell<Cached>,
}

#[derive(Debug, Clone)]
struct Cached {
    at: Instant,
    result: Result<Arc<RobotsRules>, FetchError>,
}

impl Cached {
    fn expired(&self, now: Instant) -> bool {
        let ttl = if self.result.is_ok() { ROBOTS_TTL } else { ROBOTS_ERROR_TTL };
        now.saturating_duration_since(self.at) >= ttl
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Only whole-value updates happen under the lock: still consistent after a panic.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RobotsCache {
    pub(crate) fn new() -> RobotsCache {
        RobotsCache::with_capacity(MAX_CACHED_ORIGINS)
    }

    pub(crate) fn with_capacity(capacity: usize) -> RobotsCache {
        RobotsCache { capacity: capacity.max(1), slots: Mutex::new(HashMap::new()) }
    }

    /// The rules of `origin`, from the cache or from `fetch` (run by one
    /// caller at a time per origin; the others wait for its answer).
    pub(crate) async fn rules<F, Fut>(&self, origin: &str, fetch: F) -> Result<Arc<RobotsRules>, FetchError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<RobotsRules, FetchError>>,
    {
        let slot = self.slot(origin);
        let cached = slot
            .cell
            .get_or_init(|| async {
                let result = fetch().await.map(Arc::new);
                Cached { at: Instant::now(), result }
            })
            .await;
        cached.result.clone()
    }

    fn slot(&self, origin: &str) -> Arc<Slot> {
        let now = Instant::now();
        let mut slots = lock(&self.slots);
        if let Some(slot) = slots.get(origin)
            && !slot.cell.get().is_some_and(|c| c.expired(now))
        {
            return slot.clone();
        }
        if !slots.contains_key(origin) && slots.len() >= self.capacity {
            slots.retain(|_, s| s.cell.get().is_none_or(|c| !c.expired(now)));
            // Still full: forget the oldest answers (requests under way stay).
            let excess = (slots.len() + 1).saturating_sub(self.capacity);
            if excess > 0 {
                let mut answered: Vec<(Instant, String)> =
                    slots.iter().filter_map(|(k, s)| s.cell.get().map(|c| (c.at, k.clone()))).collect();
                answered.sort();
                for (_, key) in answered.into_iter().take(excess) {
                    slots.remove(&key);
                }
            }
        }
        let slot = Arc::new(Slot::default());
        slots.insert(origin.to_string(), slot.clone());
        slot
    }

    #[cfg(test)]
    fn cached(&self) -> usize {
        lock(&self.slots).len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn rules(text: &str) -> RobotsRules {
        RobotsRules::parse(text, PRODUCT_TOKEN)
    }

    #[test]
    fn longest_match_wins_and_allow_wins_ties() {
        let r = rules(
            "User-agent: *\n\
             Disallow: /private\n\
             Allow: /private/ok\n\
             Allow: /tie\n\
             Disallow: /tie\n",
        );
        assert!(r.is_allowed("/"));
        assert!(r.is_allowed("/public/page"));
        assert!(!r.is_allowed("/private"));
        assert!(!r.is_allowed("/private/x?y=1"));
        assert!(!r.is_allowed("/privateer"));
        assert!(r.is_allowed("/private/ok"));
        assert!(r.is_allowed("/private/ok/deeper"));
        assert!(r.is_allowed("/tie/x"));
        // Paths are case-sensitive.
        assert!(r.is_allowed("/Private"));
    }

    #[test]
    fn wildcards_and_end_anchors() {
        let r = rules(
            "user-agent: *\n\
             disallow: /*.pdf$\n\
             disallow: /search*q=\n\
             disallow: /exact$\n\
             allow: /team/*/public/*.html\n\
             disallow: /team/\n",
        );
        assert!(!r.is_allowed("/docs/a.pdf"));
        assert!(r.is_allowed("/docs/a.pdf?download=1"));
        assert!(r.is_allowed("/a.pdfx"));
        assert!(!r.is_allowed("/search?lang=fr&q=acme"));
        assert!(r.is_allowed("/search?lang=fr"));
        assert!(!r.is_allowed("/exact"));
        assert!(r.is_allowed("/exact/more"));
        assert!(!r.is_allowed("/team/private.html"));
        assert!(!r.is_allowed("/team/a/public/page.htm"));
        assert!(r.is_allowed("/team/a/public/page.html"));
        assert!(r.is_allowed("/team/a/b/public/x/page.html?v=2"));
        assert!(r.is_allowed("/top-level-page"));

        let everything = rules("User-agent: *\nDisallow: *\n");
        assert!(!everything.is_allowed("/anything"));
        let root = rules("User-agent: *\nDisallow: /\n");
        assert!(!root.is_allowed("/"));
        // robots.txt itself is always allowed.
        assert!(root.is_allowed("/robots.txt"));
    }

    #[test]
    fn our_group_beats_star_and_groups_merge() {
        let text = "User-agent: *\n\
                    Disallow: /\n\
                    \n\
                    User-agent: OtherBot\n\
                    User-agent: vigie\n\
                    Disallow: /no\n\
                    \n\
                    User-agent: VigieBot\n\
                    Disallow: /yes\n\
                    \n\
                    User-agent: Vigie/2.0\n\
                    Disallow: /also-no\n";
        let r = rules(text);
        assert_eq!(r.len(), 2);
        assert!(r.is_allowed("/yes"));
        assert!(!r.is_allowed("/no"));
        assert!(!r.is_allowed("/also-no"));
        // Another crawler gets the `*` group.
        let other = RobotsRules::parse(text, "SomeoneElse");
        assert!(!other.is_allowed("/yes"));
        // Our own group with no rule allows everything, whatever `*` says.
        let empty_own = rules("User-agent: *\nDisallow: /\n\nUser-agent: Vigie\nDisallow:\n");
        assert!(empty_own.is_allowed("/page"));
    }

    #[test]
    fn a_user_agent_line_after_rules_starts_a_new_group() {
        let r = rules(
            "User-agent: Vigie\n\
             Disallow: /a\n\
             User-agent: Other\n\
             Disallow: /b\n",
        );
        assert!(!r.is_allowed("/a"));
        assert!(r.is_allowed("/b"));
    }

    #[test]
    fn sloppy_files_are_read_and_nonsense_is_skipped() {
        let r = rules(
            "\u{feff}# comment\r\n\
             Sitemap: https://example.org/sitemap.xml\r\n\
             Disallow: /before-any-group\r\n\
             USER-AGENT : *   # everyone\r\n\
             Crawl-delay: 10\r\n\
             DISALLOW:/tmp/ # no space\r\n\
             Disallow:\r\n\
             this line means nothing\r\n\
             Disallow: relative\r\n",
        );
        assert!(r.is_allowed("/before-any-group"));
        assert!(!r.is_allowed("/tmp/x"));
        assert!(!r.is_allowed("/relative"));
        assert!(r.is_allowed("/other"));
        assert!(RobotsRules::parse("", PRODUCT_TOKEN).is_allowed("/x"));
        assert!(RobotsRules::parse("<html><body>Not found</body></html>", PRODUCT_TOKEN).is_empty());
        // Invalid UTF-8 was made lossy by the caller; control bytes do not panic.
        let r = rules("User-agent: *\nDisallow: /\u{0}\u{1}\u{fffd}\n");
        assert!(r.is_allowed("/"));
    }

    #[test]
    fn percent_encoding_is_compared_in_one_spelling() {
        let r = rules(
            "User-agent: *\n\
             Disallow: /caf%c3%a9\n\
             Disallow: /%7Ejoe\n\
             Disallow: /a%2fb\n\
             Disallow: /été\n",
        );
        assert!(!r.is_allowed("/caf%C3%A9/menu"));
        assert!(!r.is_allowed("/~joe/page"));
        assert!(!r.is_allowed("/%7ejoe"));
        assert!(!r.is_allowed("/a%2Fb"));
        // An escaped slash is not a slash.
        assert!(r.is_allowed("/a/b"));
        assert!(!r.is_allowed("/%C3%A9t%C3%A9"));
    }

    #[test]
    fn product_tokens_are_read_from_user_agents() {
        assert_eq!(product_token("Vigie/0.1.0 (self-hosted e-reputation monitor)"), "Vigie");
        assert_eq!(product_token("curl/8.0"), "curl");
        assert_eq!(product_token(""), "");
    }

    #[test]
    fn hostile_patterns_stay_cheap() {
        let mut text = String::from("User-agent: *\n");
        for _ in 0..2000 {
            text.push_str("Disallow: /*a*a*a*a*a*a*a*a*a*a*a*a*b$\n");
        }
        let r = rules(&text);
        let path = format!("/{}", "a".repeat(4000));
        let started = std::time::Instant::now();
        assert!(r.is_allowed(&path));
        // Linear per rule: well under a second even unoptimized.
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn fetch_errors_become_verdicts() {
        let status = |status: u16| FetchError::Status {
            status,
            reason: None,
            retry_after: None,
            body: b"whatever".to_vec(),
            content_type: None,
        };
        let url = "http://example.org/robots.txt";
        for s in [400, 401, 403, 404, 410] {
            let v = verdict(url, Err(status(s)), PRODUCT_TOKEN).unwrap();
            assert!(v.is_allowed("/x"), "{s}");
        }
        for s in [408, 429, 500, 503] {
            let e = verdict(url, Err(status(s)), PRODUCT_TOKEN).unwrap_err();
            assert!(e.is_transient(), "{s}");
            assert!(matches!(e, FetchError::RobotsUnavailable { .. }), "{e:?}");
        }
        let timeout = FetchError::Timeout { url: url.into(), after: Duration::from_secs(30) };
        let e = verdict(url, Err(timeout), PRODUCT_TOKEN).unwrap_err();
        assert_eq!(
            e.to_string(),
            "could not read the robots.txt of example.org (timed out after 30 s fetching \
             http://example.org/robots.txt); its pages are not fetched until it answers"
        );
    }

    #[test]
    fn a_line_cut_by_the_size_cap_is_dropped() {
        let mut text = String::from("User-agent: *\nDisallow: /a\n");
        text.push_str(&"#".repeat(MAX_ROBOTS_BYTES - text.len() - 15));
        text.push_str("\nDisallow: /pri");
        assert_eq!(text.len(), MAX_ROBOTS_BYTES);
        let fetched = FetchOutcome::Fetched {
            body: text.into_bytes(),
            content_type: None,
            etag: None,
            last_modified: None,
            final_url: "http://example.org/robots.txt".into(),
        };
        let r = verdict("http://example.org/robots.txt", Ok(fetched), PRODUCT_TOKEN).unwrap();
        assert!(!r.is_allowed("/a"));
        assert!(r.is_allowed("/prize"));
    }

    #[tokio::test(start_paused = true)]
    async fn answers_are_cached_per_origin_and_expire() {
        let cache = RobotsCache::new();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let ask = |origin: &'static str| {
            let calls = &calls;
            let cache = &cache;
            async move {
                cache
                    .rules(origin, || async {
                        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        Ok(rules("User-agent: *\nDisallow: /x\n"))
                    })
                    .await
            }
        };
        assert!(!ask("http://a").await.unwrap().is_allowed("/x"));
        ask("http://a").await.unwrap();
        ask("http://b").await.unwrap();
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        tokio::time::sleep(ROBOTS_TTL).await;
        ask("http://a").await.unwrap();
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);

        // Errors are kept for a short while only.
        let failing = || async {
            Err(FetchError::RobotsUnavailable {
                url: "http://c/robots.txt".into(),
                error: Box::new(FetchError::Http { url: "http://c/robots.txt".into(), reason: "reset".into() }),
            })
        };
        assert!(cache.rules("http://c", failing).await.is_err());
        assert!(cache.rules("http://c", failing).await.is_err());
        tokio::time::sleep(ROBOTS_ERROR_TTL).await;
        let again = cache.rules("http://c", || async { Ok(RobotsRules::allow_all()) }).await;
        assert!(again.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_is_bounded() {
        let cache = RobotsCache::with_capacity(4);
        for i in 0..50 {
            let origin = format!("http://host{i}");
            cache.rules(&origin, || async { Ok(RobotsRules::allow_all()) }).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(cache.cached() <= 4, "{}", cache.cached());
    }
}

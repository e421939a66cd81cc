//! Keyless social APIs (and YouTube with a key): requests, parsers, adapters
//! into [`RawMention`], and paging that survives restarts.
//!
//! # Design
//!
//! Like the feeds, each API is *parse, then adapt*: one module per API
//! ([`mastodon`], [`bluesky`], [`reddit`], [`hackernews`], [`youtube`]) builds
//! its request URL and turns one page of its JSON into [`RawMention`]s. This
//! module holds what they share: the query ([`SocialQuery`]), the paging state
//! ([`Cursor`]), the HTTP status and error-body handling ([`SocialError`]) and
//! the walk that decides what is new. No IO happens here: the caller fetches
//! [`next_request`]'s URL and hands the answer to [`parse_page`]; [`run`] is
//! that loop over the crate's [`Fetcher`](crate::Fetcher).
//!
//! # Paging: nothing twice, nothing skipped
//!
//! Every API lists newest first. Two strategies, chosen per API by what it
//! supports:
//!
//! - **Forward from the high-water mark** (Mastodon): `min_id=<newest id
//!   collected>` returns the statuses *immediately* newer than it, so each page
//!   moves [`Cursor::newest_id`] up and the cursor is consistent after every
//!   page. A run fetches pages until one comes back empty.
//! - **A walk down to the high-water mark** (Bluesky, Reddit, Hacker News,
//!   YouTube): a walk starts at the newest items and follows the API's page
//!   token (HN: a shrinking `created_at_i` window) until it reaches
//!   [`Cursor::high_water`], the newest item time a finished walk collected.
//!   Only then does the high-water mark move up, to the newest item of the
//!   walk. A walk stopped by the per-run page bound keeps its state in
//!   [`Cursor::walk`] and the next run continues it; what was published
//!   meanwhile is above the walk's top and is collected by the next walk.
//!
//! Items are compared by the API's sort key (a time) and, at equal times, by
//! id: a [`Mark`] is a time plus the ids collected at exactly that time. An
//! item at or below the high-water mark was collected by an earlier walk; an
//! item at or above the walk's floor (the oldest item it collected so far) is
//! a repeat caused by offset-based page tokens shifting when new items
//! arrive. Both are dropped silently.
//!
//! The first walk of a source (no high-water mark) takes one page: a new
//! source starts from the newest items, it does not backfill history. A walk
//! gives up after [`MAX_WALK_PAGES`] pages, with a warning naming the gap.
//!
//! The caller must store a page's items **before** saving its `next_cursor`
//! (ideally in one transaction): a crash in between then refetches a page,
//! which the store's dedup key absorbs, instead of losing one.
//!
//! Bluesky's `cursor` and YouTube's `pageToken` behave like offsets: items
//! published while a walk is under way push the older ones down, so the next
//! page repeats some (dropped by the floor check, at the cost of a request).
//! A walk resumed after a burst of many pages' worth of new items may then
//! reach [`MAX_WALK_PAGES`]; a Bluesky walk could pin its listing with
//! `until=<top>` to avoid that, once `sortAt` is confirmed to be what the
//! search filters on.
//!
//! Known limits, reported rather than hidden: an item that the API inserts
//! *below* the high-water mark after it moved (a post federated or indexed
//! late, a backdated Bluesky post) is not collected; when a listing ends
//! before the walk reaches the high-water mark (Reddit search keeps about
//! 1,000 results; a page token that expired), [`Page::warnings`] says so.

pub mod bluesky;
pub mod hackernews;
pub mod mastodon;
pub mod reddit;
mod run;
pub mod youtube;

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;
use vigie_model::RawMention;

use crate::fetch::RetryAfter;

pub use run::{RunOutcome, run};

/// Pages a run fetches at most for one source ([`run`]'s usual bound).
pub const MAX_PAGES_PER_RUN: u32 = 10;
/// Pages a walk fetches at most, across runs, before giving up on the rest.
pub const MAX_WALK_PAGES: u32 = 50;
/// Items read from one page at most; the rest are listed as skipped.
pub const MAX_ITEMS_PER_PAGE: usize = 250;
/// Longest search query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 512;
/// Ids kept in a [`Mark`] at most (items sharing one timestamp).
const MAX_MARK_IDS: usize = 1000;

/// What a social source asks for; parsed from the user's source definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocialQuery {
    /// A Mastodon instance's hashtag timeline or its status search: exactly
    /// one of `hashtag` and `search` is set.
    Mastodon { instance: Url, hashtag: Option<String>, search: Option<String> },
    /// Bluesky's public AppView post search, newest first.
    Bluesky { query: String },
    /// Reddit search, newest first, everywhere or in one subreddit.
    Reddit { query: String, subreddit: Option<String> },
    /// Hacker News stories and comments through the Algolia search API.
    HackerNews { query: String },
    /// Comment threads on every video of a YouTube channel (Data API v3).
    YouTube { channel_id: String, api_key: String },
}

/// The API a query talks to, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    Mastodon,
    Bluesky,
    Reddit,
    HackerNews,
    YouTube,
}

impl Api {
    pub fn name(self) -> &'static str {
        match self {
            Api::Mastodon => "Mastodon",
            Api::Bluesky => "Bluesky",
            Api::Reddit => "Reddit",
            Api::HackerNews => "Hacker News",
            Api::YouTube => "YouTube",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl SocialQuery {
    pub fn api(&self) -> Api {
        match self {
            SocialQuery::Mastodon { .. } => Api::Mastodon,
            SocialQuery::Bluesky { .. } => Api::Bluesky,
            SocialQuery::Reddit { .. } => Api::Reddit,
            SocialQuery::HackerNews { .. } => Api::HackerNews,
            SocialQuery::YouTube { .. } => Api::YouTube,
        }
    }

    /// Secrets the query carries (the YouTube API key), to keep out of messages.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            SocialQuery::YouTube { api_key, .. } if !api_key.is_empty() => vec![api_key.as_str()],
            _ => Vec::new(),
        }
    }
}

/// Base URLs of the fixed-host APIs; tests point them at 127.0.0.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub bluesky: Url,
    pub reddit: Url,
    pub hackernews: Url,
    pub youtube: Url,
}

impl Default for Endpoints {
    fn default() -> Self {
        let url = |s: &str| Url::parse(s).unwrap_or_else(|_| unreachable!("constant URL {s}"));
        Endpoints {
            bluesky: url("https://public.api.bsky.app/"),
            reddit: url("https://www.reddit.com/"),
            hackernews: url("https://hn.algolia.com/"),
            youtube: url("https://www.googleapis.com/youtube/v3/"),
        }
    }
}

impl Endpoints {
    /// Every API at one base URL (`{base}/xrpc/…`, `{base}/search.json`, …): for tests.
    pub fn all_at(base: &Url) -> Endpoints {
        Endpoints { bluesky: base.clone(), reddit: base.clone(), hackernews: base.clone(), youtube: base.clone() }
    }
}

/// A position in a newest-first listing: a time and the ids collected at
/// exactly that time.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
}

impl Mark {
    fn new(at: DateTime<Utc>, id: &str) -> Mark {
        Mark { at, ids: vec![id.to_string()] }
    }

    /// The item is at or below this mark (older, or same time and id known).
    fn covers_from_below(&self, at: DateTime<Utc>, id: &str) -> bool {
        at < self.at || (at == self.at && self.ids.iter().any(|i| i == id))
    }

    /// The item is at or above this mark (newer, or same time and id known).
    fn covers_from_above(&self, at: DateTime<Utc>, id: &str) -> bool {
        at > self.at || (at == self.at && self.ids.iter().any(|i| i == id))
    }

    fn add_id(&mut self, id: &str) {
        if self.ids.len() < MAX_MARK_IDS && !self.ids.iter().any(|i| i == id) {
            self.ids.push(id.to_string());
        }
    }

    fn raise(mark: &mut Option<Mark>, at: DateTime<Utc>, id: &str) {
        match mark {
            Some(m) if at < m.at => {}
            Some(m) if at == m.at => m.add_id(id),
            _ => *mark = Some(Mark::new(at, id)),
        }
    }

    fn lower(mark: &mut Option<Mark>, at: DateTime<Utc>, id: &str) {
        match mark {
            Some(m) if at > m.at => {}
            Some(m) if at == m.at => m.add_id(id),
            _ => *mark = Some(Mark::new(at, id)),
        }
    }
}

/// A walk down from the newest items towards the high-water mark.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct Walk {
    /// The API's token for the next (older) page: Bluesky `cursor`, Reddit
    /// `after`, YouTube `pageToken`; Hacker News pages by [`Walk::floor`] and
    /// keeps `page:N` here, the page within that window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The newest item this walk collected: the next high-water mark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top: Option<Mark>,
    /// The oldest item this walk collected so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<Mark>,
    /// Pages fetched by this walk, across runs.
    pub pages: u32,
}

/// Paging state that survives restarts (serialised as JSON into the source
/// row). `Default` is a new source.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct Cursor {
    /// Mastodon: the newest status id collected; the next request asks for
    /// the statuses immediately newer (`min_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_id: Option<String>,
    /// Walking APIs: the newest item a finished walk collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high_water: Option<Mark>,
    /// Walking APIs: a walk that a run's page bound interrupted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub walk: Option<Walk>,
}

impl Cursor {
    /// Whether a walk is under way (the next request continues it).
    pub fn walking(&self) -> bool {
        self.walk.is_some()
    }

    /// Drops an unfinished walk (its page token was refused as stale, see
    /// [`SocialError::StalePageToken`]) and keeps what it collected: the next
    /// walk starts from the newest items again. Returns the cursor and a
    /// warning naming the gap that may be left.
    pub fn abandon_walk(&self) -> (Cursor, Option<String>) {
        let mut next = self.clone();
        let Some(walk) = next.walk.take() else { return (next, None) };
        let warning = gap_warning(self.high_water.as_ref(), walk.floor.as_ref(), "its page token was refused");
        finish_walk(&mut next, walk);
        (next, warning)
    }
}

/// One HTTP request to make. The `User-Agent` is the fetcher's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    pub url: Url,
    pub headers: Vec<(String, String)>,
    /// Query parameters whose value is secret (`key`), hidden by [`RequestSpec::redacted`].
    secret_params: Vec<&'static str>,
}

impl RequestSpec {
    fn json(url: Url) -> RequestSpec {
        RequestSpec { url, headers: vec![("Accept".into(), "application/json".into())], secret_params: Vec::new() }
    }

    /// The URL with secret parameters (the YouTube API key) replaced, for logs and messages.
    pub fn redacted(&self) -> String {
        if self.secret_params.is_empty() {
            return self.url.to_string();
        }
        let mut url = self.url.clone();
        let pairs: Vec<(String, String)> = self
            .url
            .query_pairs()
            .map(|(k, v)| {
                let v = if self.secret_params.contains(&k.as_ref()) { "REDACTED".to_string() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        url.to_string()
    }
}

/// One page, adapted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// New items, in the API's order (newest first).
    pub items: Vec<RawMention>,
    /// The cursor to save once `items` are stored.
    pub next_cursor: Cursor,
    /// Another page should be fetched now to fill the gap since the last run.
    pub more: bool,
    /// Items of the page left out, each with its reason.
    pub skipped: Vec<String>,
    /// Coverage problems to show on the source's health record (a gap the
    /// API left, a server that ignored the paging parameter).
    pub warnings: Vec<String>,
}

/// Why a page could not be had or read. The `Display` text names the API and
/// is meant for the person who added the source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SocialError {
    /// The source definition cannot make a request (empty query, bad channel id…).
    #[error("{api}: {message}")]
    Query { api: Api, message: String },
    /// 401/403 (and YouTube's invalid key): the API wants credentials it does not have.
    #[error("{api}: HTTP {status}: {message}")]
    Auth { api: Api, status: u16, message: String },
    /// 429: too many requests; come back after `retry_after` when given.
    #[error("{api}: HTTP {status}: rate limited{}{}", detail(.message), retry(.retry_after))]
    RateLimited { api: Api, status: u16, retry_after: Option<RetryAfter>, message: Option<String> },
    /// YouTube's daily quota is spent (`quotaExceeded`, HTTP 403).
    #[error("{api}: HTTP {status}: quota exceeded: {message}")]
    QuotaExceeded { api: Api, status: u16, message: String },
    /// 5xx.
    #[error("{api}: HTTP {status}: server error{}{}", detail(.message), retry(.retry_after))]
    Server { api: Api, status: u16, retry_after: Option<RetryAfter>, message: Option<String> },
    /// YouTube refused the saved page token of an unfinished walk: see [`Cursor::abandon_walk`].
    #[error("{api}: the saved page token was refused ({message}); the walk must restart from the newest items")]
    StalePageToken { api: Api, message: String },
    /// Any other non-2xx status.
    #[error("{api}: HTTP {status}{}", detail(.message))]
    Status { api: Api, status: u16, message: Option<String> },
    /// The body is an HTML page where JSON was expected.
    #[error("{api}: the server answered with an HTML page instead of JSON ({hint})")]
    NotJson { api: Api, hint: String },
    /// The body is JSON (or meant to be) but not the shape the API documents.
    #[error("{api}: unexpected response: {message}")]
    Shape { api: Api, message: String },
    /// The request failed before an answer (timeout, connection, size cap…).
    #[error("{api}: {message}")]
    Transport { api: Api, message: String, transient: bool, retry_after: Option<RetryAfter> },
}

fn detail(message: &Option<String>) -> String {
    message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
}

fn retry(retry_after: &Option<RetryAfter>) -> String {
    retry_after.map(|r| format!(" (retry after {r})")).unwrap_or_default()
}

impl SocialError {
    pub fn api(&self) -> Api {
        match self {
            SocialError::Query { api, .. }
            | SocialError::Auth { api, .. }
            | SocialError::RateLimited { api, .. }
            | SocialError::QuotaExceeded { api, .. }
            | SocialError::Server { api, .. }
            | SocialError::StalePageToken { api, .. }
            | SocialError::Status { api, .. }
            | SocialError::NotJson { api, .. }
            | SocialError::Shape { api, .. }
            | SocialError::Transport { api, .. } => *api,
        }
    }

    /// Whether trying again later may succeed (rate limits, quota, 5xx,
    /// timeouts). Auth, bad queries and unexpected shapes need a person.
    pub fn is_transient(&self) -> bool {
        match self {
            SocialError::RateLimited { .. } | SocialError::QuotaExceeded { .. } | SocialError::Server { .. } => true,
            SocialError::Transport { transient, .. } => *transient,
            // Reddit serves an HTML block page when it throttles.
            SocialError::NotJson { .. } => true,
            SocialError::StalePageToken { .. } => true,
            SocialError::Query { .. }
            | SocialError::Auth { .. }
            | SocialError::Status { .. }
            | SocialError::Shape { .. } => false,
        }
    }

    /// The server's `Retry-After` (or Reddit's `x-ratelimit-reset`).
    pub fn retry_after(&self) -> Option<RetryAfter> {
        match self {
            SocialError::RateLimited { retry_after, .. }
            | SocialError::Server { retry_after, .. }
            | SocialError::Transport { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The source is limited by a quota or rate limit (for the health record).
    pub fn is_quota_limited(&self) -> bool {
        matches!(self, SocialError::RateLimited { .. } | SocialError::QuotaExceeded { .. })
    }

    fn shape(api: Api, message: impl Into<String>) -> SocialError {
        SocialError::Shape { api, message: message.into() }
    }
}

/// The request for the next page of `q`, at the public endpoints.
pub fn next_request(q: &SocialQuery, cursor: &Cursor) -> Result<RequestSpec, SocialError> {
    next_request_with(q, cursor, &Endpoints::default())
}

/// The request for the next page of `q`, with the fixed-host APIs at `endpoints`.
pub fn next_request_with(q: &SocialQuery, cursor: &Cursor, endpoints: &Endpoints) -> Result<RequestSpec, SocialError> {
    match q {
        SocialQuery::Mastodon { instance, hashtag, search } => {
            mastodon::request(instance, hashtag.as_deref(), search.as_deref(), cursor)
        }
        SocialQuery::Bluesky { query } => bluesky::request(&endpoints.bluesky, query, cursor),
        SocialQuery::Reddit { query, subreddit } => {
            reddit::request(&endpoints.reddit, query, subreddit.as_deref(), cursor)
        }
        SocialQuery::HackerNews { query } => hackernews::request(&endpoints.hackernews, query, cursor),
        SocialQuery::YouTube { channel_id, api_key } => {
            youtube::request(&endpoints.youtube, channel_id, api_key, cursor)
        }
    }
}

/// Reads one answer to [`next_request`]: the status, the response headers
/// (any case) and the body. Returns the new items and the cursor to save
/// after storing them, or an error naming the API.
pub fn parse_page(
    q: &SocialQuery,
    cursor: &Cursor,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Page, SocialError> {
    let api = q.api();
    if !(200..300).contains(&status) {
        return Err(status_error(api, status, headers, body, cursor));
    }
    let value = parse_json(api, headers, body)?;
    match q {
        SocialQuery::Mastodon { instance, .. } => mastodon::page(instance, cursor, &value),
        SocialQuery::Bluesky { .. } => bluesky::page(cursor, &value),
        SocialQuery::Reddit { .. } => reddit::page(cursor, &value),
        SocialQuery::HackerNews { .. } => hackernews::page(cursor, &value),
        SocialQuery::YouTube { .. } => youtube::page(cursor, &value),
    }
}

pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
}

fn looks_like_html(headers: &[(String, String)], body: &[u8]) -> bool {
    let content_type_html =
        header(headers, "content-type").is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/html"));
    let start = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let first = start.iter().find(|b| !b.is_ascii_whitespace());
    content_type_html || first == Some(&b'<')
}

/// The `<title>` of an HTML page, bounded, for messages.
fn html_title(body: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&body[..body.len().min(16 * 1024)]);
    let lower = head.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let title: String = head[open_end..close].split_whitespace().collect::<Vec<_>>().join(" ");
    let title: String = title.chars().take(120).collect();
    (!title.is_empty()).then_some(title)
}

fn parse_json(api: Api, headers: &[(String, String)], body: &[u8]) -> Result<Value, SocialError> {
    if looks_like_html(headers, body) {
        let hint = match (api, html_title(body)) {
            (Api::Reddit, Some(t)) => format!("page titled {t:?}; Reddit blocks or throttles clients this way"),
            (Api::Reddit, None) => "Reddit blocks or throttles clients this way".to_string(),
            (_, Some(t)) => format!("page titled {t:?}"),
            (_, None) => "is the API address right?".to_string(),
        };
        return Err(SocialError::NotJson { api, hint });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(SocialError::shape(api, "empty response body"));
    }
    serde_json::from_slice(body).map_err(|e| SocialError::shape(api, format!("the body is not valid JSON ({e})")))
}

/// A message from an error body: `error` (string), `message`, `error.message`,
/// `error_description`. Bounded.
fn error_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let msg = v
        .get("error")
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .or_else(|| v.get("message").and_then(Value::as_str))
        .or_else(|| v.get("error_description").and_then(Value::as_str))
        .or_else(|| v.get("error").and_then(Value::as_str))?;
    let msg: String = msg.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(300).collect();
    (!msg.is_empty()).then_some(msg)
}

/// Google APIs' `error.errors[].reason` values.
fn google_reasons(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else { return Vec::new() };
    let mut reasons: Vec<String> = v
        .pointer("/error/errors")
        .and_then(Value::as_array)
        .map(|errs| errs.iter().filter_map(|e| e.get("reason").and_then(Value::as_str)).map(str::to_string).collect())
        .unwrap_or_default();
    // Newer Google errors put the reason in `error.details[].reason` (ErrorInfo).
    if let Some(details) = v.pointer("/error/details").and_then(Value::as_array) {
        reasons.extend(details.iter().filter_map(|d| d.get("reason").and_then(Value::as_str)).map(str::to_string));
    }
    reasons
}

fn status_error(api: Api, status: u16, headers: &[(String, String)], body: &[u8], cursor: &Cursor) -> SocialError {
    let message = error_message(body);
    let retry_after = header(headers, "retry-after").and_then(RetryAfter::parse).or_else(|| {
        // Reddit says when its window resets instead of Retry-After.
        header(headers, "x-ratelimit-reset")
            .and_then(|v| v.split('.').next()?.parse::<u64>().ok())
            .map(|s| RetryAfter::Delay(Duration::from_secs(s)))
    });
    if api == Api::YouTube {
        let reasons = google_reasons(body);
        let has = |r: &str| reasons.iter().any(|x| x.eq_ignore_ascii_case(r));
        let message_or = |d: &str| message.clone().unwrap_or_else(|| d.to_string());
        if has("quotaExceeded") || has("dailyLimitExceeded") {
            return SocialError::QuotaExceeded {
                api,
                status,
                message: message_or("the API key's daily quota is spent; it resets at midnight Pacific time"),
            };
        }
        if has("rateLimitExceeded") || has("userRateLimitExceeded") || has("RATE_LIMIT_EXCEEDED") {
            return SocialError::RateLimited { api, status, retry_after, message };
        }
        if has("keyInvalid") || has("API_KEY_INVALID") || has("keyExpired") {
            return SocialError::Auth {
                api,
                status,
                message: "the YouTube API key is invalid or expired; check the key in the configuration".into(),
            };
        }
        if has("invalidPageToken") && cursor.walking() {
            return SocialError::StalePageToken { api, message: message_or("invalidPageToken") };
        }
    }
    match status {
        401 | 403 => SocialError::Auth {
            api,
            status,
            message: match (api, message) {
                (Api::Mastodon, m) => format!(
                    "this instance requires a signed-in access token for this request{}; \
                     public status search is often disabled: watch a hashtag instead",
                    m.map(|m| format!(" ({m})")).unwrap_or_default()
                ),
                (Api::YouTube, m) => format!(
                    "the API key was refused{}; check that the YouTube Data API v3 is enabled for it",
                    m.map(|m| format!(" ({m})")).unwrap_or_default()
                ),
                (_, Some(m)) => format!("authentication required or access refused ({m})"),
                (_, None) => "authentication required or access refused".to_string(),
            },
        },
        429 => SocialError::RateLimited { api, status, retry_after, message },
        500..=599 => SocialError::Server {
            api,
            status,
            retry_after,
            // A 5xx body is often an HTML page: keep only JSON messages.
            message,
        },
        _ => SocialError::Status { api, status, message },
    }
}

// --- JSON helpers -----------------------------------------------------------

/// A string at `path` (object keys), `None` when absent, null, not a string or blank.
pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// A non-negative count at `path`: an integer, an integral float or a numeric string.
pub(crate) fn count_at(v: &Value, path: &[&str]) -> Option<u64> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    match cur {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0 && f.is_finite()).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An RFC 3339 time at `path`.
pub(crate) fn time_at(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    str_at(v, path).and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc))
}

/// Escapes `<`, `>`, `&` and `"` so a plain title can sit beside HTML text.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The primary subtag of a language code (`fr-FR` → `fr`), lower-case, when it looks like one.
pub(crate) fn lang_code(s: &str) -> Option<String> {
    let primary = s.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    (2..=3).contains(&primary.len()).then_some(primary).filter(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
}

pub(crate) fn host_of(url: &str) -> Option<String> {
    Url::parse(url).ok()?.host_str().map(|h| h.trim_end_matches('.').to_ascii_lowercase())
}

pub(crate) fn check_query(api: Api, what: &str, query: &str) -> Result<String, SocialError> {
    let q = query.trim();
    if q.is_empty() {
        return Err(SocialError::Query { api, message: format!("the {what} is empty") });
    }
    if q.len() > MAX_QUERY_BYTES {
        return Err(SocialError::Query {
            api,
            message: format!("the {what} is {} bytes long; at most {MAX_QUERY_BYTES} are accepted", q.len()),
        });
    }
    if q.chars().any(char::is_control) {
        return Err(SocialError::Query { api, message: format!("the {what} contains control characters") });
    }
    Ok(q.to_string())
}

/// `base` joined with a relative `path`, whether or not `base` ends with `/`.
pub(crate) fn endpoint(base: &Url, path: &str) -> Url {
    let mut base = base.clone();
    base.set_query(None);
    base.set_fragment(None);
    if !base.path().ends_with('/') {
        let p = format!("{}/", base.path());
        base.set_path(&p);
    }
    base.join(path).unwrap_or(base)
}

// --- The walk ---------------------------------------------------------------

/// One item of a walking API, adapted, with its place in the listing.
pub(crate) struct Item {
    /// The API's sort key.
    pub at: DateTime<Utc>,
    pub id: String,
    pub mention: RawMention,
}

/// One page of a walking API, before the walk decides what is new.
pub(crate) struct WalkPage {
    pub items: Vec<Item>,
    pub skipped: Vec<String>,
    /// Token of the next (older) page; `None` at the end of the listing.
    pub next_token: Option<String>,
    /// The query itself excludes items at or below the high-water mark
    /// (Hacker News' time window): reaching the end of the listing means
    /// reaching the mark.
    pub bounded_below: bool,
}

/// Reads `items`, each through `adapt`, bounded, skipping repeated ids.
pub(crate) fn adapt_items(
    api: Api,
    list: &[Value],
    adapt: impl Fn(&Value) -> Result<Item, String>,
) -> (Vec<Item>, Vec<String>) {
    let mut items: Vec<Item> = Vec::with_capacity(list.len().min(MAX_ITEMS_PER_PAGE));
    let mut skipped = Vec::new();
    for (i, raw) in list.iter().enumerate() {
        if i >= MAX_ITEMS_PER_PAGE {
            skipped.push(format!(
                "{api}: {} items past the first {MAX_ITEMS_PER_PAGE} of the page not read",
                list.len() - MAX_ITEMS_PER_PAGE
            ));
            break;
        }
        match adapt(raw) {
            Ok(item) if items.iter().any(|seen| seen.id == item.id) => {
                skipped.push(format!("item {i} ({}): the same id appears earlier on the page", item.id))
            }
            Ok(item) => items.push(item),
            Err(reason) => skipped.push(format!("item {i}: {reason}")),
        }
    }
    (items, skipped)
}

fn gap_warning(high_water: Option<&Mark>, floor: Option<&Mark>, why: &str) -> Option<String> {
    let hw = high_water?;
    let upper = floor.map(|f| format!(" and {}", f.at.to_rfc3339())).unwrap_or_default();
    Some(format!(
        "the walk stopped before reaching the previous run's newest item ({why}): \
         items published between {}{upper} may be missing",
        hw.at.to_rfc3339()
    ))
}

/// Moves the high-water mark up to the walk's top.
fn finish_walk(cursor: &mut Cursor, walk: Walk) {
    if let Some(top) = walk.top {
        match &mut cursor.high_water {
            Some(hw) if top.at < hw.at => {}
            Some(hw) if top.at == hw.at => {
                for id in &top.ids {
                    hw.add_id(id);
                }
            }
            _ => cursor.high_water = Some(top),
        }
    }
    cursor.walk = None;
}

/// Decides which items of a page are new and where the walk goes next.
pub(crate) fn advance_walk(api: Api, cursor: &Cursor, page: WalkPage) -> Page {
    let mut next = cursor.clone();
    let first_walk = cursor.high_water.is_none();
    let mut walk = next.walk.take().unwrap_or_default();
    let previous_floor = walk.floor.clone();
    let previous_token = walk.token.clone();
    let mut reached = false;
    let mut out = Page { skipped: page.skipped, ..Page::default() };

    for item in page.items {
        if let Some(hw) = &cursor.high_water
            && hw.covers_from_below(item.at, &item.id)
        {
            // Collected by an earlier walk: the walk has reached its mark.
            reached = true;
            continue;
        }
        if let Some(floor) = &previous_floor
            && floor.covers_from_above(item.at, &item.id)
        {
            // Collected on an earlier page of this walk (the pages shifted).
            continue;
        }
        Mark::raise(&mut walk.top, item.at, &item.id);
        Mark::lower(&mut walk.floor, item.at, &item.id);
        out.items.push(item.mention);
    }
    walk.pages = walk.pages.saturating_add(1);
    walk.token = page.next_token;

    let end_of_listing = walk.token.is_none();
    let stalled = page.bounded_below
        && !end_of_listing
        && out.items.is_empty()
        && walk.floor == previous_floor
        && walk.token == previous_token;
    let finished = first_walk || reached || end_of_listing || stalled || walk.pages >= MAX_WALK_PAGES;
    if finished {
        let reached_by_construction = end_of_listing && page.bounded_below;
        if !(first_walk || reached || reached_by_construction) {
            let why = if stalled {
                format!("{api} returned no new item while more were announced")
            } else if end_of_listing {
                format!("{api} has no more pages")
            } else {
                format!("{MAX_WALK_PAGES} pages walked")
            };
            out.warnings.extend(gap_warning(cursor.high_water.as_ref(), walk.floor.as_ref(), &why));
        }
        finish_walk(&mut next, walk);
    } else {
        next.walk = Some(walk);
    }
    out.more = next.walk.is_some();
    out.next_cursor = next;
    out
}

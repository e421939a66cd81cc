//! The HTTP fetcher: one reqwest client, conditional GET, bounded bodies.
//!
//! Every limit holds against a hostile or broken server:
//!
//! - the body is read chunk by chunk and abandoned past
//!   [`FetchConfig::max_body_bytes`], counting *decompressed* bytes, so a
//!   gzip bomb stops at the cap like a plain oversized body;
//! - [`FetchConfig::total_timeout`] bounds the whole exchange, body included,
//!   so a server trickling one byte a second times out;
//! - redirects are limited to [`FetchConfig::max_redirects`] and each hop is
//!   checked by the [SSRF guard](crate::guard) like the first URL.
//!
//! And it is polite to the sites it reads:
//!
//! - every request takes a slot of its host ([`crate::hosts`]): at most
//!   [`HostPolicy::max_concurrent`] at once per host, request starts at
//!   least [`HostPolicy::min_delay`] apart; the wait for the slot does not
//!   count against the request's timeout;
//! - [`Fetcher::fetch_page`], for scraped pages, honours the site's
//!   robots.txt ([`crate::robots`]); [`Fetcher::fetch`], for feeds and APIs,
//!   does not;
//! - it says who it is: `User-Agent: Vigie/<version> (…)`, whose product
//!   token is the one robots.txt groups are matched on;
//! - it asks for compressed bodies (gzip, brotli, deflate) and sends the
//!   stored validators, so an unchanged feed costs a 304.
//!
//! Errors are meant to be shown as they are to the person who added the
//! source ("HTTP 404 Not Found", "timed out after 30 s"), and
//! [`FetchError::is_transient`] tells the scheduler whether to back off and
//! retry or to report the source as broken.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, redirect};
use url::{Position, Url};

use crate::guard::{self, GuardedResolver, RefusedAddress, UrlRefused};
use crate::hosts::{self, HostPolicy, HostTable};
use crate::robots::{self, RobotsCache, RobotsRules};

/// Bytes of an error response's body kept in [`FetchError::Status`].
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Longest value accepted for an extra request header.
const MAX_HEADER_VALUE_BYTES: usize = 8 * 1024;
/// Longest time spent reading an error response's body.
const ERROR_BODY_TIME: Duration = Duration::from_secs(5);

/// What feeds and APIs are asked for (a request's own `Accept` replaces it).
const FEED_ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
                           application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, \
                           application/json;q=0.8, */*;q=0.5";
/// What scraped pages are asked for.
const PAGE_ACCEPT: &str = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5";
/// What a POST (a webhook) asks for in reply (a request's own `Accept` replaces it).
const POST_ACCEPT: &str = "application/json, text/plain;q=0.9, */*;q=0.5";

/// Headers the fetcher sets itself; a request may not set them.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
    "accept-encoding",
    "user-agent",
];

/// How the fetcher behaves. `Default` gives the values a server deployment wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    pub user_agent: String,
    /// Time allowed to open the TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Time allowed for the whole exchange: connection, redirects, headers and body.
    pub total_timeout: Duration,
    /// Largest body accepted, counted after decompression.
    pub max_body_bytes: u64,
    pub max_redirects: usize,
    /// Let URLs reach loopback, private and link-local addresses (intranet sources).
    pub allow_private_networks: bool,
    /// Requests at once and delay between request starts, per host.
    pub host_policy: HostPolicy,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            user_agent: concat!(
                "Vigie/",
                env!("CARGO_PKG_VERSION"),
                " (self-hosted e-reputation monitor; feed fetcher)"
            )
            .to_string(),
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 5,
            allow_private_networks: false,
            host_policy: HostPolicy::default(),
        }
    }
}

/// One conditional GET: the URL and the validators kept from the last fetch.
///
/// Build it with [`FetchRequest::new`] or with `..FetchRequest::default()`
/// after the fields you set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchRequest {
    pub url: String,
    /// Sent as `If-None-Match`.
    pub etag: Option<String>,
    /// Sent as `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// Extra headers (`Accept: application/json`…), sent as given; one
    /// named like a default (`Accept`) replaces it. An invalid name or value,
    /// or one the fetcher sets itself (`Host`, `User-Agent`,
    /// `Accept-Encoding`…), fails the request with
    /// [`FetchError::InvalidHeader`] before anything is sent.
    pub headers: Vec<(String, String)>,
}

impl FetchRequest {
    /// An unconditional request.
    pub fn new(url: impl Into<String>) -> Self {
        FetchRequest { url: url.into(), ..FetchRequest::default() }
    }

    /// The request with one more header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What a successful fetch returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// 304: the validators still match; nothing new.
    NotModified,
    Fetched {
        /// The body, decompressed, not decoded (feed parsers read the XML prolog's charset).
        body: Vec<u8>,
        content_type: Option<String>,
        /// Validators to send next time.
        etag: Option<String>,
        last_modified: Option<String>,
        /// The URL after redirects.
        final_url: String,
    },
}

/// What a successful POST ([`Fetcher::post`]) returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostOutcome {
    /// The 2xx status.
    pub status: u16,
    /// The first [`MAX_ERROR_BODY_BYTES`] (at most [`FetchConfig::max_body_bytes`])
    /// of the reply, decompressed; a longer reply is cut there, not refused:
    /// the POST itself succeeded.
    pub body: Vec<u8>,
}

/// When the server asked us to come back (`Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: 7`
    Delay(Duration),
    /// `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`
    At(DateTime<Utc>),
}

impl RetryAfter {
    /// Parses a `Retry-After` value: delay seconds or an HTTP date (IMF-fixdate,
    /// RFC 850 or asctime). `None` when it is neither.
    pub fn parse(value: &str) -> Option<RetryAfter> {
        let value = value.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return value.parse().ok().map(|secs| RetryAfter::Delay(Duration::from_secs(secs)));
        }
        parse_http_date(value).map(RetryAfter::At)
    }

    /// How long to wait from `now` (zero for a date already past).
    pub fn delay_from(&self, now: DateTime<Utc>) -> Duration {
        match *self {
            RetryAfter::Delay(d) => d,
            RetryAfter::At(at) => (at - now).to_std().unwrap_or(Duration::ZERO),
        }
    }
}

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryAfter::Delay(d) => write!(f, "{} s", d.as_secs()),
            RetryAfter::At(at) => write!(f, "{}", at.format("%Y-%m-%d %H:%M:%S UTC")),
        }
    }
}

fn parse_http_date(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc2822(s) {
        return Some(dt.with_timezone(&Utc));
    }
    // RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994").
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())
        .map(|naive| naive.and_utc())
}

/// Why a fetch failed. The `Display` text is meant for the person who added the source.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// Not http/https, or no host.
    #[error(transparent)]
    UrlRefused(UrlRefused),
    /// The SSRF guard refused the address (first URL or a redirect hop).
    #[error(transparent)]
    Refused(#[from] RefusedAddress),
    #[error("timed out after {} s fetching {url}", after.as_secs_f32())]
    Timeout { url: String, after: Duration },
    #[error("could not connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("too many redirects (more than {max}) starting from {url}")]
    TooManyRedirects { url: String, max: usize },
    /// A non-2xx, non-304 status. `retry_after` is set for 429 and 503 when the server gave one.
    /// `body` is the first [`MAX_ERROR_BODY_BYTES`] of the body, decompressed (APIs
    /// explain their errors there); it is not part of the message.
    #[error("HTTP {status}{}{}", reason_suffix(*.status, .reason), retry_suffix(.retry_after))]
    Status {
        status: u16,
        reason: Option<String>,
        retry_after: Option<RetryAfter>,
        body: Vec<u8>,
        content_type: Option<String>,
    },
    /// An extra header of the request cannot be sent.
    #[error("invalid request header {name:?}: {reason}")]
    InvalidHeader { name: String, reason: String },
    /// The site's robots.txt does not let Vigie fetch this page.
    #[error("{}", robots_refusal(.url))]
    RobotsDisallowed { url: String },
    /// The site's robots.txt could not be read (5xx, timeout, connection):
    /// its pages wait until it can be.
    #[error("could not read the robots.txt of {} ({error}); its pages are not fetched until it answers", site(.url))]
    RobotsUnavailable { url: String, error: Box<FetchError> },
    #[error("response body is larger than the {} limit", human_bytes(*.limit))]
    BodyTooLarge { limit: u64 },
    /// The body could not be read (connection cut, bad compression…).
    #[error("could not read the response from {url}: {reason}")]
    Body { url: String, reason: String },
    #[error("HTTP request to {url} failed: {reason}")]
    Http { url: String, reason: String },
    /// The HTTP client could not be built (TLS set-up).
    /// The fetcher was told to stop ([`Fetcher::with_stop`]) while the
    /// request waited for its host's slot: it was not sent.
    #[error("not fetched: stopping")]
    Stopped,
    #[error("could not set up the HTTP client: {0}")]
    Client(String),
}

fn reason_suffix(_status: u16, reason: &Option<String>) -> String {
    reason.as_deref().map(|r| format!(" {r}")).unwrap_or_default()
}

fn retry_suffix(retry_after: &Option<RetryAfter>) -> String {
    retry_after.map(|r| format!(" (retry after {r})")).unwrap_or_default()
}

/// `host[:port]` of a URL, for messages (the URL itself when it does not parse).
fn site(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) if u.has_host() => u[Position::BeforeHost..Position::AfterPort].to_string(),
        _ => url.to_string(),
    }
}

fn robots_refusal(url: &str) -> String {
    let path = match Url::parse(url) {
        Ok(u) => u[Position::BeforePath..Position::AfterQuery].to_string(),
        Err(_) => url.to_string(),
    };
    let mut shown: String = path.chars().take(200).collect();
    if shown.len() < path.len() {
        shown.push('…');
    }
    format!("robots.txt of {} does not allow {} to fetch {shown}", site(url), robots::PRODUCT_TOKEN)
}

fn human_bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

impl FetchError {
    /// Whether trying again later may succeed: timeouts, connection and read
    /// errors, 5xx, 408 and 429, an unreachable robots.txt. Refusals, bad
    /// URLs and headers, 4xx, redirect loops, oversized bodies and robots.txt
    /// refusals will fail the same way next time.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Timeout { .. } | FetchError::Connect { .. } | FetchError::Body { .. } => true,
            FetchError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            FetchError::Http { .. } | FetchError::RobotsUnavailable { .. } | FetchError::Stopped => true,
            FetchError::InvalidUrl { .. }
            | FetchError::UrlRefused(_)
            | FetchError::Refused(_)
            | FetchError::TooManyRedirects { .. }
            | FetchError::BodyTooLarge { .. }
            | FetchError::InvalidHeader { .. }
            | FetchError::RobotsDisallowed { .. }
            | FetchError::Client(_) => false,
        }
    }

    /// The server's `Retry-After`, for 429 and 503 responses that gave one
    /// (to the request or to its robots.txt).
    pub fn retry_after(&self) -> Option<RetryAfter> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            FetchError::RobotsUnavailable { error, .. } => error.retry_after(),
            _ => None,
        }
    }

    /// The error without the body of a status error (to keep it small).
    pub(crate) fn without_body(self) -> FetchError {
        match self {
            FetchError::Status { status, reason, retry_after, content_type, .. } => {
                FetchError::Status { status, reason, retry_after, body: Vec::new(), content_type }
            }
            other => other,
        }
    }

    /// The HTTP status, for errors that are one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<UrlRefused> for FetchError {
    fn from(e: UrlRefused) -> Self {
        match e {
            UrlRefused::Address(refused) => FetchError::Refused(refused),
            other => FetchError::UrlRefused(other),
        }
    }
}

/// Raised by the redirect policy; found again in reqwest's error chain.
#[derive(Debug, thiserror::Error)]
enum RedirectStop {
    #[error("too many redirects (more than {0})")]
    TooMany(usize),
    #[error(transparent)]
    Refused(UrlRefused),
}

/// Fetches URLs with one shared HTTP client. Cheap to clone: clones share
/// the client, the per-host slots and the robots.txt cache.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    /// The same client without redirects, for [`Fetcher::post`].
    post_client: reqwest::Client,
    config: Arc<FetchConfig>,
    hosts: Arc<HostTable>,
    robots: Arc<RobotsCache>,
    /// Once true, GET requests not sent yet fail with [`FetchError::Stopped`].
    stop: Option<tokio::sync::watch::Receiver<bool>>,
}

/// What to do with a body over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    /// Fail with [`FetchError::BodyTooLarge`].
    Refuse,
    /// Keep the first bytes (robots.txt).
    Truncate,
}

impl Fetcher {
    /// Builds the client. Installs the `ring` crypto provider for rustls as the
    /// process default if none is installed yet.
    pub fn new(config: FetchConfig) -> Result<Fetcher, FetchError> {
        // Fails only when a provider is already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let max_redirects = config.max_redirects;
        let allow_private = config.allow_private_networks;
        let policy = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max_redirects {
                return attempt.error(RedirectStop::TooMany(max_redirects));
            }
            match guard::check_url(attempt.url(), allow_private) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(RedirectStop::Refused(refused)),
            }
        });

        let build = |policy: redirect::Policy| {
            reqwest::Client::builder()
                .user_agent(config.user_agent.clone())
                .connect_timeout(config.connect_timeout)
                .timeout(config.total_timeout)
                .redirect(policy)
                // A source's address may carry a secret token: never tell it
                // to the host a redirect leads to.
                .referer(false)
                .dns_resolver(GuardedResolver { allow_private_networks: allow_private })
                // A proxy would resolve names itself, out of the guard's sight.
                .no_proxy()
                .gzip(true)
                .brotli(true)
                .deflate(true)
                .build()
                .map_err(|e| FetchError::Client(error_chain(&e)))
        };
        let client = build(policy)?;
        // A redirected POST turns into a GET (301/302/303) that "succeeds"
        // without delivering anything: a POST's 3xx is an error to show.
        let post_client = build(redirect::Policy::none())?;
        if robots::product_token(&config.user_agent) != robots::PRODUCT_TOKEN {
            tracing::warn!(
                user_agent = config.user_agent,
                token = robots::PRODUCT_TOKEN,
                "the User-Agent does not start with the product token robots.txt rules are read for"
            );
        }
        Ok(Fetcher {
            client,
            post_client,
            hosts: Arc::new(HostTable::new(config.host_policy)),
            robots: Arc::new(RobotsCache::new()),
            config: Arc::new(config),
            stop: None,
        })
    }

    /// This fetcher sends no more GET request once `stop` is true: a
    /// request still waiting for its host's slot then fails with
    /// [`FetchError::Stopped`] instead of being sent (a process that is
    /// stopping starts nothing new). POSTs (webhooks) are not stopped.
    pub fn with_stop(mut self, stop: tokio::sync::watch::Receiver<bool>) -> Fetcher {
        self.stop = Some(stop);
        self
    }

    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Fetches `req.url` with a conditional GET: feeds and APIs (robots.txt
    /// is not asked).
    ///
    /// Returns [`FetchOutcome::NotModified`] on 304, the body on 2xx, and an
    /// error for anything else (see [`FetchError`]). Waits for a slot of the
    /// URL's host first (see [`crate::hosts`]); the timeout starts after.
    #[tracing::instrument(level = "debug", skip_all, fields(url = %req.url))]
    pub async fn fetch(&self, req: &FetchRequest) -> Result<FetchOutcome, FetchError> {
        let url = self.checked_url(req)?;
        let headers = request_headers(req, FEED_ACCEPT)?;
        self.exchange(url, headers, &req.url, self.config.max_body_bytes, Over::Refuse).await
    }

    /// Fetches a page to scrape (an HTML page, a search result page) like
    /// [`fetch`](Self::fetch), if the site's robots.txt lets Vigie: else
    /// [`FetchError::RobotsDisallowed`], or [`FetchError::RobotsUnavailable`]
    /// when robots.txt cannot be read now (see [`crate::robots`]).
    ///
    /// robots.txt is asked for the URL before the request, and for the URL
    /// the redirects ended at after it (the page is then dropped if that one
    /// is disallowed); hops in between are not checked.
    #[tracing::instrument(level = "debug", skip_all, fields(url = %req.url))]
    pub async fn fetch_page(&self, req: &FetchRequest) -> Result<FetchOutcome, FetchError> {
        let url = self.checked_url(req)?;
        let headers = request_headers(req, PAGE_ACCEPT)?;
        self.robots_allow(&url).await?;
        let outcome = self.exchange(url.clone(), headers, &req.url, self.config.max_body_bytes, Over::Refuse).await?;
        if let FetchOutcome::Fetched { final_url, .. } = &outcome
            && final_url != url.as_str()
            && let Ok(final_url) = Url::parse(final_url)
        {
            self.robots_allow(&final_url).await?;
        }
        Ok(outcome)
    }

    /// POSTs `body` to `url` (a webhook) with `headers` (`Content-Type`…,
    /// checked like [`FetchRequest::headers`]).
    ///
    /// The same guard as [`fetch`](Self::fetch): the SSRF guard (IP
    /// literals before sending, every resolved address), the host's
    /// politeness slot, the connect and total timeouts, a bounded reply.
    /// Redirects are not followed: a 3xx is [`FetchError::Status`], like any
    /// non-2xx status (with `Retry-After` for 429 and 503). Not retried here:
    /// a POST may have been acted on even when its answer was lost.
    ///
    /// Webhook URLs often carry a secret in their path, so errors and logs
    /// show only `scheme://host:port/…`.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<PostOutcome, FetchError> {
        let shown = redacted_url(url);
        tracing::debug!(url = shown, bytes = body.len(), "POST");
        let parsed =
            Url::parse(url.trim()).map_err(|e| FetchError::InvalidUrl { url: shown.clone(), reason: e.to_string() })?;
        guard::check_url(&parsed, self.config.allow_private_networks).map_err(|e| match e {
            UrlRefused::Scheme { scheme, .. } => UrlRefused::Scheme { url: shown.clone(), scheme },
            UrlRefused::NoHost { .. } => UrlRefused::NoHost { url: shown.clone() },
            other => other,
        })?;
        let req = FetchRequest { url: url.to_string(), headers: headers.to_vec(), ..FetchRequest::default() };
        let headers = request_headers(&req, POST_ACCEPT)?;

        let host = hosts::host_key(&parsed).unwrap_or_default();
        let _slot = self.hosts.acquire(&host).await;
        let total = self.config.total_timeout;
        let limit = self.config.max_body_bytes.min(MAX_ERROR_BODY_BYTES as u64);
        let exchange = async {
            let started = tokio::time::Instant::now();
            let response = self
                .post_client
                .post(parsed)
                .headers(headers)
                .body(body)
                .send()
                .await
                .map_err(|e| self.map_error(&shown, e))?;
            let status = response.status();
            tracing::debug!(status = status.as_u16(), "POST response");
            if !status.is_success() {
                return Err(self.status_error(response, started).await);
            }
            let body = self.read_body(&shown, response, limit, Over::Truncate).await?;
            Ok(PostOutcome { status: status.as_u16(), body })
        };
        match tokio::time::timeout(total, exchange).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout { url: shown, after: total }),
        }
    }

    /// The request's URL, parsed and past the SSRF guard's first check.
    fn checked_url(&self, req: &FetchRequest) -> Result<Url, FetchError> {
        let url = Url::parse(req.url.trim())
            .map_err(|e| FetchError::InvalidUrl { url: req.url.clone(), reason: e.to_string() })?;
        guard::check_url(&url, self.config.allow_private_networks)?;
        Ok(url)
    }

    /// Whether the origin's robots.txt (cached, else fetched) allows `url`.
    async fn robots_allow(&self, url: &Url) -> Result<(), FetchError> {
        let origin = url.origin().ascii_serialization();
        let rules = self.robots.rules(&origin, || self.fetch_robots(url)).await?;
        let path = &url[Position::BeforePath..Position::AfterQuery];
        if rules.is_allowed(path) {
            Ok(())
        } else {
            tracing::info!(url = %url, "robots.txt disallows this page");
            Err(FetchError::RobotsDisallowed { url: url.to_string() })
        }
    }

    async fn fetch_robots(&self, url: &Url) -> Result<RobotsRules, FetchError> {
        let robots_url = url
            .join("/robots.txt")
            .map_err(|e| FetchError::InvalidUrl { url: url.to_string(), reason: e.to_string() })?;
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/plain, */*;q=0.5"));
        let shown = robots_url.to_string();
        let limit = robots::MAX_ROBOTS_BYTES as u64;
        let fetched = self.exchange(robots_url, headers, &shown, limit, Over::Truncate).await;
        robots::verdict(&shown, fetched, robots::PRODUCT_TOKEN)
    }

    /// One request: a slot of the host, then the exchange within the total timeout.
    async fn exchange(
        &self,
        url: Url,
        headers: HeaderMap,
        shown_url: &str,
        limit: u64,
        over: Over,
    ) -> Result<FetchOutcome, FetchError> {
        let host = hosts::host_key(&url).unwrap_or_default();
        // Told to stop while waiting for the host's slot (or its turn, a
        // second after the previous request): not sent, at once.
        let _slot = match &self.stop {
            Some(stop) => {
                let mut stop = stop.clone();
                tokio::select! {
                    biased;
                    Ok(_) = stop.wait_for(|s| *s) => return Err(FetchError::Stopped),
                    slot = self.hosts.acquire(&host) => slot,
                }
            }
            None => self.hosts.acquire(&host).await,
        };
        let total = self.config.total_timeout;
        // reqwest's own timeout covers the body too; this one is the backstop.
        let exchange = self.fetch_checked(url, headers, shown_url, limit, over);
        match tokio::time::timeout(total, exchange).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout { url: shown_url.to_string(), after: total }),
        }
    }

    async fn fetch_checked(
        &self,
        url: Url,
        headers: HeaderMap,
        shown_url: &str,
        limit: u64,
        over: Over,
    ) -> Result<FetchOutcome, FetchError> {
        let started = tokio::time::Instant::now();
        let response = self.client.get(url).headers(headers).send().await.map_err(|e| self.map_error(shown_url, e))?;

        let status = response.status();
        let final_url = response.url().to_string();
        tracing::debug!(status = status.as_u16(), final_url, "response");

        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified);
        }
        if status.is_redirection() {
            // reqwest hands back a redirect it would not follow (a Location
            // with another scheme, or none): say why rather than "HTTP 302".
            let location = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok());
            if let Some(target) = location.and_then(|l| response.url().join(l).ok()) {
                guard::check_url(&target, self.config.allow_private_networks)?;
            }
        }

        let header_string =
            |name: header::HeaderName| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let content_type = header_string(header::CONTENT_TYPE);

        if !status.is_success() {
            return Err(self.status_error(response, started).await);
        }

        let etag = header_string(header::ETAG);
        let last_modified = header_string(header::LAST_MODIFIED);

        let body = self.read_body(shown_url, response, limit, over).await?;
        Ok(FetchOutcome::Fetched { body, content_type, etag, last_modified, final_url })
    }

    /// The error for a non-2xx response: its status, `Retry-After` (429 and
    /// 503) and the first bytes of its body.
    async fn status_error(&self, response: reqwest::Response, started: tokio::time::Instant) -> FetchError {
        let status = response.status();
        let content_type =
            response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let retry_after = match status {
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(RetryAfter::parse)
            }
            _ => None,
        };
        // Within what is left of the total timeout, so that a slow error
        // body still ends as this status rather than as a timeout.
        let left = self.config.total_timeout.saturating_sub(started.elapsed());
        let body = read_prefix(response, MAX_ERROR_BODY_BYTES, ERROR_BODY_TIME.min(left / 2)).await;
        FetchError::Status {
            status: status.as_u16(),
            reason: status.canonical_reason().map(str::to_string),
            retry_after,
            body,
            content_type,
        }
    }

    /// Reads the body chunk by chunk, stopping past `limit`. reqwest hands
    /// out decompressed chunks, so the cap applies to decompressed bytes.
    async fn read_body(
        &self,
        url: &str,
        mut response: reqwest::Response,
        limit: u64,
        over: Over,
    ) -> Result<Vec<u8>, FetchError> {
        // Set only for an uncompressed body: reject early without reading it.
        if over == Over::Refuse
            && let Some(len) = response.content_length()
            && len > limit
        {
            return Err(FetchError::BodyTooLarge { limit });
        }
        let capacity = response.content_length().unwrap_or(64 * 1024).min(limit);
        let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        while let Some(chunk) = response.chunk().await.map_err(|e| self.map_error(url, e))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                if over == Over::Truncate {
                    let room = usize::try_from(limit).unwrap_or(usize::MAX).saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..room.min(chunk.len())]);
                    tracing::debug!(url, limit, "response body truncated at the limit");
                    return Ok(body);
                }
                tracing::warn!(url, limit, "response body over the size limit; abandoned");
                return Err(FetchError::BodyTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn map_error(&self, url: &str, e: reqwest::Error) -> FetchError {
        if let Some(refused) = find_in_chain::<RefusedAddress>(&e) {
            return FetchError::Refused(refused.clone());
        }
        if let Some(stop) = find_in_chain::<RedirectStop>(&e) {
            return match stop {
                RedirectStop::TooMany(max) => FetchError::TooManyRedirects { url: url.to_string(), max: *max },
                RedirectStop::Refused(r) => FetchError::from(r.clone()),
            };
        }
        let reason = error_chain(&e);
        if e.is_timeout() {
            FetchError::Timeout { url: url.to_string(), after: self.config.total_timeout }
        } else if e.is_connect() {
            FetchError::Connect { url: url.to_string(), reason }
        } else if e.is_body() || e.is_decode() {
            FetchError::Body { url: url.to_string(), reason }
        } else {
            FetchError::Http { url: url.to_string(), reason }
        }
    }
}

/// The headers of a request: the default `Accept`, the validators, then
/// the request's own headers (validated).
fn request_headers(req: &FetchRequest, accept: &'static str) -> Result<HeaderMap, FetchError> {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
    let validators =
        [(header::IF_NONE_MATCH, req.etag.as_deref()), (header::IF_MODIFIED_SINCE, req.last_modified.as_deref())];
    for (name, value) in validators {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            continue;
        };
        match HeaderValue::from_str(value) {
            Ok(v) => {
                headers.insert(name, v);
            }
            Err(_) => {
                tracing::warn!(header = %name, value, "stored validator is not a valid header value; not sent")
            }
        }
    }
    let mut replaced: Vec<HeaderName> = Vec::new();
    for (name, value) in &req.headers {
        let invalid = |reason: &str| FetchError::InvalidHeader {
            name: name.chars().take(100).collect(),
            reason: reason.to_string(),
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| invalid("not a valid header name"))?;
        if RESERVED_HEADERS.contains(&name.as_str()) {
            return Err(invalid("the fetcher sets this header itself"));
        }
        if value.len() > MAX_HEADER_VALUE_BYTES {
            return Err(invalid("the value is longer than 8 KiB"));
        }
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| invalid("the value holds a line break or another character a header cannot carry"))?;
        // The first header of a name replaces the default; more of it add up.
        if replaced.contains(&name) {
            headers.append(name, value);
        } else {
            headers.insert(name.clone(), value);
            replaced.push(name);
        }
    }
    Ok(headers)
}

/// `scheme://host:port/…` of a URL: what errors and logs show of a URL that
/// may carry a secret in its path, query or user info (a webhook's).
pub fn redacted_url(url: &str) -> String {
    match Url::parse(url.trim()) {
        Ok(u) if u.has_host() => {
            let rest = &u[Position::BeforePath..];
            let tail = if rest.is_empty() || rest == "/" { "/" } else { "/…" };
            format!("{}://{}{tail}", u.scheme(), site(url.trim()))
        }
        // Not a URL with a host: its first characters, enough to recognise it.
        _ => {
            let mut shown: String = url.trim().chars().take(12).collect();
            if shown.len() < url.trim().len() {
                shown.push('…');
            }
            shown
        }
    }
}

/// The first `limit` bytes of a body, read for at most `time`; whatever
/// arrived when it ends, fails or times out.
async fn read_prefix(mut response: reqwest::Response, limit: usize, time: Duration) -> Vec<u8> {
    let mut body = Vec::new();
    let read = async {
        while body.len() < limit {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = limit - body.len();
                    body.extend_from_slice(&chunk[..room.min(chunk.len())]);
                }
                Ok(None) | Err(_) => break,
            }
        }
    };
    let _ = tokio::time::timeout(time, read).await;
    body
}

fn find_in_chain<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current: Option<&'a (dyn StdError + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

/// The messages of an error's sources, without reqwest's outer "error
/// sending request for url (…)", which repeats the URL the caller prints.
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = e.source();
    while let Some(err) = current {
        let msg = err.to_string();
        // hyper-util's wrappers ("client error (Connect)") say nothing the cause does not.
        let generic = msg.starts_with("client error (");
        if !msg.is_empty() && !generic && !parts.iter().any(|p| p.contains(&msg)) {
            parts.push(msg);
        }
        current = err.source();
    }
    if parts.is_empty() { e.to_string() } else { parts.join(": ") }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_accepts_seconds_and_the_three_http_date_forms() {
        assert_eq!(RetryAfter::parse("7"), Some(RetryAfter::Delay(Duration::from_secs(7))));
        assert_eq!(RetryAfter::parse(" 120 "), Some(RetryAfter::Delay(Duration::from_secs(120))));
        let at = Utc.with_ymd_and_hms(1994, 11, 6, 8, 49, 37).unwrap();
        for s in ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            assert_eq!(RetryAfter::parse(s), Some(RetryAfter::At(at)), "{s}");
        }
        assert_eq!(RetryAfter::parse("soon"), None);
        assert_eq!(RetryAfter::parse("-5"), None);
        assert_eq!(RetryAfter::parse(""), None);
    }

    #[test]
    fn redacted_urls_keep_only_scheme_host_and_port() {
        assert_eq!(redacted_url("https://hooks.example.com/services/T0/B0/secret"), "https://hooks.example.com/…");
        assert_eq!(redacted_url("http://user:pw@10.0.0.1:8080/hook?token=x"), "http://10.0.0.1:8080/…");
        assert_eq!(redacted_url("https://example.com"), "https://example.com/");
        assert_eq!(redacted_url("not a url with a secret"), "not a url wi…");
    }

    #[test]
    fn retry_after_delay_is_counted_from_now() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let at = RetryAfter::At(Utc.with_ymd_and_hms(2026, 3, 1, 12, 1, 30).unwrap());
        assert_eq!(at.delay_from(now), Duration::from_secs(90));
        let past = RetryAfter::At(Utc.with_ymd_and_hms(2026, 3, 1, 11, 0, 0).unwrap());
        assert_eq!(past.delay_from(now), Duration::ZERO);
    }

    #[test]
    fn status_errors_read_plainly_and_say_whether_to_retry() {
        let e = |status: u16, reason: &str, retry_after| FetchError::Status {
            status,
            reason: Some(reason.to_string()),
            retry_after,
            body: b"<h1>Sorry</h1>".to_vec(),
            content_type: Some("text/html".to_string()),
        };
        assert_eq!(e(404, "Not Found", None).to_string(), "HTTP 404 Not Found");
        assert!(!e(404, "Not Found", None).is_transient());
        assert!(!e(410, "Gone", None).is_transient());
        assert!(e(500, "Internal Server Error", None).is_transient());
        let limited = e(429, "Too Many Requests", Some(RetryAfter::Delay(Duration::from_secs(7))));
        assert!(limited.is_transient());
        assert_eq!(limited.to_string(), "HTTP 429 Too Many Requests (retry after 7 s)");
        assert_eq!(limited.retry_after(), Some(RetryAfter::Delay(Duration::from_secs(7))));

        assert!(FetchError::Timeout { url: "u".into(), after: Duration::from_secs(30) }.is_transient());
        assert!(!FetchError::BodyTooLarge { limit: 10 << 20 }.is_transient());
        assert_eq!(
            FetchError::BodyTooLarge { limit: 10 << 20 }.to_string(),
            "response body is larger than the 10 MiB limit"
        );
        assert!(!FetchError::TooManyRedirects { url: "u".into(), max: 5 }.is_transient());
    }
}

//! Search-result watches: which pages rank for a name, and when that changes.
//!
//! A term ("Brasserie Dupont") is queried on a schedule against a
//! SearXNG-compatible instance (`GET {endpoint}/search?q=TERM&format=json`,
//! [`search_url`]); [`parse_results`] reads the JSON answer (the shape
//! documented at docs.searxng.org/dev/search_api.html) into ranked
//! [`SearchResult`]s, [`to_raw_mention`] turns each into a [`RawMention`], and
//! [`compare`] tells what changed in the top results since the previous run
//! ([`RankChange`]: a page entered, left or moved). Pure: no IO, no clock.
//!
//! Ranks are 1-based and consecutive over the results kept, in the order
//! SearXNG gives them (its merged score): results without a usable http(s)
//! address are skipped with a warning, and a result whose address repeats an
//! earlier one (compared in canonical form, see below) is folded into it,
//! which keeps the better rank and the engines of both.
//!
//! Rankings are compared by canonical address: scheme (`http`/`https`),
//! `www.`, a trailing slash and the fragment are ignored, so a site that
//! moves to HTTPS does not "leave" and "enter" the top. Changes report the
//! address as it ranks now.
//!
//! Instances refuse JSON unless `json` is listed in `search.formats` of their
//! `settings.yml` (they answer 403 with an HTML page), and public instances
//! rate-limit automated clients: [`parse_results`] and [`status_error`] say
//! so in their messages.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;
use vigie_model::{RawMention, SourceKind};

/// The ranks [`compare`] watches by default: the first page of results.
pub const DEFAULT_TOP: u32 = 10;
/// Longest search term accepted, in bytes.
pub const MAX_TERM_BYTES: usize = 512;
/// Results read from one answer at most.
pub const MAX_RESULTS: usize = 100;
const MAX_TITLE_BYTES: usize = 1024;
const MAX_SNIPPET_BYTES: usize = 4096;
const MAX_URL_BYTES: usize = 4096;

/// Why a search cannot be made or its answer read. The `Display` text is
/// meant for the person who set up the watch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// The term is empty, too long or holds control characters.
    #[error("search term: {0}")]
    Term(String),
    /// The instance's address, the page number or the language cannot make a request.
    #[error("search request: {0}")]
    Request(String),
    /// An HTML page where JSON was expected: the instance does not serve JSON.
    #[error(
        "the search instance answered with an HTML page{} instead of JSON; enable the `json` format in its \
         settings.yml (`search: formats: [html, json]`)",
        titled(.page_title)
    )]
    NotJson { page_title: Option<String> },
    #[error("empty response body from the search instance")]
    Empty,
    #[error("the search instance's answer is not valid JSON (line {line}, column {column}): {reason}")]
    InvalidJson { line: usize, column: usize, reason: String },
    /// Valid JSON, but not the shape of a SearXNG answer.
    #[error("unexpected answer from the search instance: {0}")]
    Shape(String),
    /// A non-2xx answer, explained by [`status_error`].
    #[error("HTTP {status} from the search instance: {message}")]
    Status { status: u16, message: String },
}

impl SearchError {
    /// Whether trying again later may succeed (rate limits, server errors).
    pub fn is_transient(&self) -> bool {
        matches!(self, SearchError::Status { status, .. } if *status == 429 || *status >= 500)
    }
}

fn titled(title: &Option<String>) -> String {
    title.as_deref().map(|t| format!(" ({t:?})")).unwrap_or_default()
}

/// The request URL: `{endpoint}/search?q=TERM&format=json&pageno=PAGE[&language=LANG]`.
///
/// `endpoint` is the instance's address (`https://searx.example.org`, or with
/// a path prefix); an address already ending in `/search` is used as is. The
/// term must be non-empty and at most [`MAX_TERM_BYTES`]; `page` starts at 1;
/// `language` is a code such as `fr`, `fr-FR`, `all` or `auto`.
pub fn search_url(endpoint: &Url, term: &str, page: u32, language: Option<&str>) -> Result<Url, SearchError> {
    let term = term.trim();
    if term.is_empty() {
        return Err(SearchError::Term("empty; give the name or words to watch".into()));
    }
    if term.len() > MAX_TERM_BYTES {
        return Err(SearchError::Term(format!("{} bytes long; at most {MAX_TERM_BYTES}", term.len())));
    }
    if term.chars().any(char::is_control) {
        return Err(SearchError::Term("contains control characters (a line break?)".into()));
    }
    if page == 0 {
        return Err(SearchError::Request("page numbers start at 1".into()));
    }
    if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none_or(str::is_empty) {
        return Err(SearchError::Request(format!("the instance address {endpoint} is not an http(s) address")));
    }
    let language = language.map(str::trim).filter(|l| !l.is_empty());
    if let Some(lang) = language {
        let valid = lang.len() <= 20 && lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(SearchError::Request(format!(
                "language {lang:?} is not a language code (e.g. `fr`, `fr-FR`, `all`)"
            )));
        }
    }
    let mut url = endpoint.clone();
    url.set_fragment(None);
    url.set_query(None);
    let path = url.path().trim_end_matches('/');
    if !path.ends_with("/search") {
        let path = format!("{path}/search");
        url.set_path(&path);
    }
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("q", term).append_pair("format", "json").append_pair("pageno", &page.to_string());
        if let Some(lang) = language {
            query.append_pair("language", lang);
        }
    }
    Ok(url)
}

/// One result, as ranked in this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    /// 1-based, consecutive over the results kept, in SearXNG's order.
    pub rank: u32,
    /// Absolute http(s) address, as parsed (trimmed, host lower-case).
    pub url: String,
    /// Plain text: engines' markup (`<b>`) and entities (`&amp;`) are read as HTML.
    pub title: String,
    /// SearXNG's `content`: the engines' excerpt of the page, read as HTML
    /// into plain text like the title.
    pub snippet: String,
    /// The engines that returned it (`engines`, else `engine`).
    pub engines: Vec<String>,
    /// `publishedDate`, when an engine gave one (read as UTC without an offset).
    pub published_at: Option<DateTime<Utc>>,
}

/// One answer, read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SearchPage {
    pub results: Vec<SearchResult>,
    /// Engines that did not answer, with SearXNG's reason (`timeout`, `CAPTCHA`…).
    pub unresponsive_engines: Vec<(String, String)>,
    /// What was noticed without failing (results skipped, engines that did
    /// not answer), for the source's health record.
    pub warnings: Vec<String>,
}

/// Reads a SearXNG JSON answer. `content_type` is the HTTP `Content-Type`,
/// used to recognise an HTML page.
pub fn parse_results(body: &[u8], content_type: Option<&str>) -> Result<SearchPage, SearchError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else { return Err(SearchError::Empty) };
    let trimmed = &body[start..];
    let html_type = content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("html"));
    if trimmed.first() == Some(&b'<') || (html_type && trimmed.first() != Some(&b'{')) {
        return Err(SearchError::NotJson { page_title: html_title(trimmed) });
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let message = e.to_string();
        let reason = message.rsplit_once(" at line ").map_or(message.as_str(), |(r, _)| r).to_string();
        SearchError::InvalidJson { line: e.line(), column: e.column(), reason }
    })?;
    let Some(results) = value.get("results").and_then(Value::as_array) else {
        return Err(SearchError::Shape(
            "no `results` list; is the address a SearXNG instance (its `/search` with `format=json`)?".into(),
        ));
    };

    let mut page = SearchPage::default();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (position, r) in results.iter().enumerate() {
        let n = position + 1;
        let Some(raw) = r.get("url").and_then(Value::as_str).map(str::trim).filter(|u| !u.is_empty()) else {
            page.warnings.push(format!("result {n} has no URL; skipped"));
            continue;
        };
        let url = match Url::parse(raw) {
            _ if raw.len() > MAX_URL_BYTES => {
                page.warnings.push(format!("result {n}: URL longer than {MAX_URL_BYTES} bytes; skipped"));
                continue;
            }
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
            _ => {
                page.warnings.push(format!("result {n}: `{}` is not an http(s) address; skipped", shorten(raw)));
                continue;
            }
        };
        let mut engines: Vec<String> = match r.get("engines").and_then(Value::as_array) {
            Some(list) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            None => Vec::new(),
        };
        if engines.is_empty()
            && let Some(engine) = r.get("engine").and_then(Value::as_str)
        {
            engines.push(engine.to_string());
        }
        let key = canonical(url.as_str());
        if let Some(&kept) = by_key.get(&key) {
            let earlier: &mut SearchResult = &mut page.results[kept];
            for e in engines {
                if !earlier.engines.contains(&e) {
                    earlier.engines.push(e);
                }
            }
            continue;
        }
        if page.results.len() == MAX_RESULTS {
            page.warnings.push(format!("more than {MAX_RESULTS} results; the rest were not read"));
            break;
        }
        by_key.insert(key, page.results.len());
        page.results.push(SearchResult {
            rank: u32::try_from(page.results.len() + 1).unwrap_or(u32::MAX),
            url: url.to_string(),
            title: clean_html(r.get("title").and_then(Value::as_str).unwrap_or_default(), MAX_TITLE_BYTES),
            snippet: clean_html(r.get("content").and_then(Value::as_str).unwrap_or_default(), MAX_SNIPPET_BYTES),
            engines,
            published_at: r.get("publishedDate").and_then(Value::as_str).and_then(published),
        });
    }

    if let Some(list) = value.get("unresponsive_engines").and_then(Value::as_array) {
        for entry in list {
            let pair = match entry {
                Value::Array(parts) => parts.first().and_then(Value::as_str).map(|name| {
                    let reason = parts.get(1).and_then(Value::as_str).unwrap_or_default();
                    (name.to_string(), reason.to_string())
                }),
                Value::String(name) => Some((name.clone(), String::new())),
                _ => None,
            };
            page.unresponsive_engines.extend(pair);
        }
    }
    if !page.unresponsive_engines.is_empty() {
        let names: Vec<String> = page
            .unresponsive_engines
            .iter()
            .map(|(name, reason)| if reason.is_empty() { name.clone() } else { format!("{name} ({reason})") })
            .collect();
        page.warnings.push(format!("engines that did not answer: {}", names.join(", ")));
    }
    Ok(page)
}

/// The error for a non-2xx answer of the instance, with what to do about it.
/// `body` and `content_type` are those of the answer (for a SearXNG error
/// message).
pub fn status_error(status: u16, body: &[u8], content_type: Option<&str>) -> SearchError {
    let html = content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("html"));
    let title = if html || body.trim_ascii_start().first() == Some(&b'<') { html_title(body) } else { None };
    let seen = title.map(|t| format!(" (page titled {t:?})")).unwrap_or_default();
    let message = match status {
        403 => format!(
            "access refused{seen}: the instance does not allow the JSON format (add `json` to `search: formats` in \
             its settings.yml) or its bot limiter blocks Vigie (use your own instance)"
        ),
        429 => format!(
            "too many requests{seen}: the instance's bot limiter throttles automated clients; use your own \
             instance, or lengthen the watch's interval"
        ),
        500..=599 => format!("server error{seen}"),
        _ => format!("unexpected status{seen}"),
    };
    SearchError::Status { status, message }
}

/// A result as a mention: kind `web`, id and URL the result's address, text
/// the snippet. A result with neither title nor snippet gets a text naming
/// the term it ranks for, so that it is not dropped as empty.
pub fn to_raw_mention(result: &SearchResult, term: &str) -> RawMention {
    let title = Some(result.title.clone()).filter(|t| !t.is_empty());
    let text = if result.snippet.is_empty() && title.is_none() {
        format!("Search result for \"{}\": {}", term.trim(), result.url)
    } else {
        result.snippet.clone()
    };
    RawMention {
        source_item_id: Some(result.url.clone()),
        url: Some(result.url.clone()),
        title,
        text,
        plain_text: true,
        published_at: result.published_at,
        source_kind: Some(SourceKind::Web),
        site: Url::parse(&result.url).ok().and_then(|u| u.host_str().map(str::to_string)),
        ..RawMention::default()
    }
}

/// A ranked address, as kept from one run for the next comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankedUrl {
    pub rank: u32,
    pub url: String,
}

/// The ranking of a run, to keep for the next [`compare`].
pub fn ranked(results: &[SearchResult]) -> Vec<RankedUrl> {
    results.iter().map(|r| RankedUrl { rank: r.rank, url: r.url.clone() }).collect()
}

/// What changed in the top results between two runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum RankChange {
    /// In the top now, not before (absent, or ranked lower).
    Entered { url: String, rank: u32 },
    /// In the top before, not now (absent, or ranked lower); `url` is the
    /// address as it ranks now when it still ranks.
    Left { url: String, previous_rank: u32 },
    /// In the top both times, at another rank.
    Moved { url: String, rank: u32, previous_rank: u32 },
}

/// Changes in the top `top` ([`DEFAULT_TOP`]) between the previous run and
/// this one: entries and moves in today's rank order, then departures in
/// the previous order. Addresses are compared in canonical form (scheme,
/// `www.`, trailing slash and fragment ignored); the address reported is the
/// one ranked now. An empty `previous` (the first run) makes every result
/// of the top an entry: the caller decides whether to show that.
pub fn compare(previous: &[RankedUrl], current: &[SearchResult], top: u32) -> Vec<RankChange> {
    let mut before: HashMap<String, u32> = HashMap::new();
    for p in previous {
        let rank = before.entry(canonical(&p.url)).or_insert(p.rank);
        *rank = (*rank).min(p.rank);
    }
    let mut now: HashMap<String, (u32, &str)> = HashMap::new();
    for r in current {
        let entry = now.entry(canonical(&r.url)).or_insert((r.rank, &r.url));
        if r.rank < entry.0 {
            *entry = (r.rank, &r.url);
        }
    }

    let mut changes = Vec::new();
    let mut current_top: Vec<&SearchResult> = current.iter().filter(|r| r.rank <= top).collect();
    current_top.sort_by_key(|r| r.rank);
    let mut reported = std::collections::HashSet::new();
    for r in current_top {
        let key = canonical(&r.url);
        if !reported.insert(key.clone()) {
            continue;
        }
        match before.get(&key) {
            Some(&previous_rank) if previous_rank <= top => {
                if previous_rank != r.rank {
                    changes.push(RankChange::Moved { url: r.url.clone(), rank: r.rank, previous_rank });
                }
            }
            _ => changes.push(RankChange::Entered { url: r.url.clone(), rank: r.rank }),
        }
    }

    let mut previous_top: Vec<&RankedUrl> = previous.iter().filter(|p| p.rank <= top).collect();
    previous_top.sort_by_key(|p| p.rank);
    let mut left_seen = std::collections::HashSet::new();
    for p in previous_top {
        let key = canonical(&p.url);
        if !left_seen.insert(key.clone()) {
            continue;
        }
        match now.get(&key) {
            Some(&(rank, _)) if rank <= top => {}
            Some(&(_, url)) => changes.push(RankChange::Left { url: url.to_string(), previous_rank: p.rank }),
            None => changes.push(RankChange::Left { url: p.url.clone(), previous_rank: p.rank }),
        }
    }
    changes
}

/// The form rankings are compared in: host without `www.`, port when not
/// the default, path without trailing slash, query; no scheme, no fragment.
fn canonical(url: &str) -> String {
    match Url::parse(url.trim()) {
        Ok(u) if u.host_str().is_some() => {
            let host = u.host_str().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase();
            let host = host.strip_prefix("www.").unwrap_or(&host);
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let path = u.path().trim_end_matches('/');
            let query = u.query().map(|q| format!("?{q}")).unwrap_or_default();
            format!("{host}{port}{path}{query}")
        }
        _ => url.trim().trim_end_matches('/').to_ascii_lowercase(),
    }
}

/// `publishedDate` as SearXNG writes it (Python's `isoformat()`, with or
/// without an offset), or a plain date.
fn published(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
}

/// An engine's title or excerpt: HTML (tags, entities) to one line of
/// text, bounded. Engines write markup and entities in them (`<b>Acme</b>`,
/// `AT&amp;T`), and SearXNG passes them on.
fn clean_html(s: &str, cap: usize) -> String {
    // Read at most a few times the cap: what is cut afterwards need not be parsed.
    let mut end = s.len().min(cap.saturating_mul(4).saturating_add(1024));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    clean(&vigie_nlp::text::html_to_text(&s[..end]), cap)
}

/// One line of text: whitespace collapsed, control characters dropped, bounded.
fn clean(s: &str, cap: usize) -> String {
    let visible: String = s.chars().filter(|c| c.is_whitespace() || !c.is_control()).collect();
    let mut out = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.len() > cap {
        let mut cut = cap.saturating_sub('…'.len_utf8());
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

fn shorten(s: &str) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match one_line.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// The `<title>` of an HTML page, bounded, for messages.
fn html_title(body: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&body[..body.len().min(16 * 1024)]);
    let lower = head.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let title = clean(&head[open_end..close], 120);
    (!title.is_empty()).then_some(title)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical("https://www.Example.org/a/"), "example.org/a");
        assert_eq!(canonical("http://example.org/a#top"), "example.org/a");
        assert_eq!(canonical("https://example.org"), "example.org");
        assert_eq!(canonical("https://example.org:8443/a?b=1"), "example.org:8443/a?b=1");
        assert_ne!(canonical("https://example.org/a?b=1"), canonical("https://example.org/a?b=2"));
        assert_eq!(canonical("not a url/"), "not a url");
    }

    #[test]
    fn published_dates() {
        let t = |s| published(s).map(|d| d.to_rfc3339());
        assert_eq!(t("2026-03-13T00:00:00"), Some("2026-03-13T00:00:00+00:00".into()));
        assert_eq!(t("2026-03-13T08:30:00+01:00"), Some("2026-03-13T07:30:00+00:00".into()));
        assert_eq!(t("2026-03-13 08:30:00.123456"), Some("2026-03-13T08:30:00.123456+00:00".into()));
        assert_eq!(t("2026-03-13"), Some("2026-03-13T00:00:00+00:00".into()));
        assert_eq!(t("il y a 3 jours"), None);
    }

    #[test]
    fn clean_collapses_and_bounds() {
        assert_eq!(clean("  a\n\tb \u{7} c ", 100), "a b c");
        let long = clean(&"é".repeat(100), 10);
        assert!(long.len() <= 10 && long.ends_with('…'), "{long}");
    }
}

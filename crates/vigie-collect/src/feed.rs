//! Feed parsing: bytes → feed-rs model → [`RawMention`]s.
//!
//! feed-rs detects the format (RSS 0.9x, RSS 1.0/RDF, RSS 2.0, Atom, JSON
//! Feed) and parses it into one model; [`parse_feed`] then adapts each entry
//! into a [`RawMention`] (the mapping is listed in the crate docs). Cleaning
//! (HTML to text, URL canonicalization, site derivation) is left to the
//! pipeline.
//!
//! Platforms people listen through get a few extra touches, all from what
//! feed-rs exposes (it keeps no namespace it does not know, nor RSS
//! `<source>`):
//!
//! - **Google News** search RSS (`news.google.com/rss/search?q=…`): `News`;
//!   the " - Publisher" suffix Google appends to every title is dropped when
//!   the description names that same publisher (`<font color="#6f6f6f">`).
//!   The item link stays the `news.google.com/rss/articles/…` redirect, and
//!   `site` stays `None`: `<source url="…">` is not kept by feed-rs.
//! - **YouTube** channel feeds: `Youtube`; the text is `media:description`;
//!   `media:statistics views` and `media:starRating count` (YouTube's like
//!   count) become `engagement.views` / `engagement.likes`.
//! - **Mastodon** tag and account RSS: `Mastodon` when the channel's
//!   `<generator>` is Mastodon, or for any item whose link is a status
//!   (`https://<any instance>/@user/<digits>`); title-less items keep
//!   `title: None`; without an author, the status link gives `user@instance`
//!   (the form the Mastodon API collector uses).
//! - **Discourse** forum RSS (`latest.rss`, category, tag, posts feeds):
//!   `Forum` when the guid is Discourse's `<host>-topic-<id>` or
//!   `<host>-post-<id>` for the link's host; the author is `dc:creator`.
//!
//! XML entities: feed-rs reads XML with quick-xml, which ignores `<!DOCTYPE>`
//! declarations; feed-rs resolves only the five predefined entities and
//! character references and keeps any other `&name;` as literal text. So an
//! entity bomb or an external entity (`SYSTEM "file:///etc/passwd"`) is never
//! expanded nor read (see the `xxe` and `billion_laughs` tests).

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Feed, FeedType, Link, Person};
use feed_rs::parser::{ParseErrorKind, ParseFeedError};
use url::Url;
use vigie_model::{Engagement, RawMention, SourceKind};

/// A parsed feed: its title, its items adapted to [`RawMention`], and the
/// entries left out with the reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub items: Vec<RawMention>,
    pub skipped: Vec<SkippedItem>,
}

/// An entry of the feed that did not become a [`RawMention`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedItem {
    /// Position of the entry in the feed (0-based).
    pub index: usize,
    /// The entry's id, when it had one.
    pub id: Option<String>,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SkipReason {
    /// An earlier entry of the same feed has the same id (GUID); the first is kept.
    DuplicateId,
    /// Neither a title nor any text: nothing to match a watch against.
    NoTitleNorText,
}

impl fmt::Display for SkippedItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "feed entry {}", self.index + 1)?;
        if let Some(id) = &self.id {
            write!(f, " ({id})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::DuplicateId => "duplicate id (an earlier item of the feed has the same GUID)",
            SkipReason::NoTitleNorText => "no title and no text",
        })
    }
}

/// Why a body is not a feed. The `Display` text is meant for the person who added the source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    #[error("empty response body")]
    Empty,
    #[error("this is an HTML page, not a feed (did you give the site's address instead of its feed?)")]
    Html,
    #[error("not a valid feed: {reason}")]
    Invalid { reason: String },
}

/// Longest feed-rs error message kept in [`FeedError::Invalid`].
const MAX_REASON_CHARS: usize = 200;

/// Parses a feed body (RSS 0.9x/1.0/2.0, Atom or JSON Feed).
///
/// `content_type` is the HTTP `Content-Type`, used only to explain a failure;
/// `feed_url` is the address the body came from (after redirects), against
/// which relative links are resolved and which hints at the platform.
pub fn parse_feed(body: &[u8], content_type: Option<&str>, feed_url: &str) -> Result<ParsedFeed, FeedError> {
    let trimmed = trim_start(body);
    if trimmed.is_empty() {
        return Err(FeedError::Empty);
    }
    if looks_like_html(trimmed) {
        return Err(FeedError::Html);
    }

    let base = Url::parse(feed_url).ok();
    if base.is_none() {
        tracing::debug!(feed_url, "feed URL does not parse; relative links will be dropped");
    }
    let mut result = run_feed_rs(trimmed, base.as_ref())?;
    // feed-rs rejects the whole feed for one empty `<media:description>` or
    // `<media:title>` (a YouTube video without a description): retry once
    // without such elements.
    if let Err(ParseFeedError::ParseError(ParseErrorKind::MissingContent { .. })) = &result
        && let Some(repaired) = without_empty_media_text(trimmed)
        && let Ok(Ok(feed)) = run_feed_rs(&repaired, base.as_ref())
    {
        tracing::debug!("feed parsed once empty media:title/media:description elements were dropped");
        result = Ok(feed);
    }
    let feed = match result {
        Ok(feed) => feed,
        Err(e) => {
            // A broken feed is reported as such even when served as text/html
            // (a common misconfiguration); HTML is blamed only for a body
            // that does not even start like a feed.
            let html_type = content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("html"));
            if !starts_like_feed(trimmed) && (html_type || mentions_html_tag(trimmed)) {
                return Err(FeedError::Html);
            }
            return Err(FeedError::Invalid { reason: short_reason(&e) });
        }
    };
    Ok(adapt_feed(feed, base.as_ref()))
}

/// One run of feed-rs (a fresh parser each time: a failed run can leave
/// its internal state behind).
fn run_feed_rs(body: &[u8], base: Option<&Url>) -> Result<Result<Feed, ParseFeedError>, FeedError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base.map(Url::as_str))
        // No made-up ids: an entry without one gets `source_item_id: None`.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build();
    // feed-rs has a few internal `unwrap`s; a panic on hostile input must not
    // take the caller down, so it is turned into an error like any other.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(body)))
        .map_err(|_| FeedError::Invalid { reason: "the feed parser failed on this input".to_string() })
}

/// The body without its empty `<media:title>` and `<media:description>`
/// elements (`<media:description/>`, or only blanks inside), which feed-rs
/// cannot take; `None` when there is none. Only the usual `media:` prefix is
/// looked for.
fn without_empty_media_text(body: &[u8]) -> Option<Vec<u8>> {
    const OPEN: &[u8] = b"<media:";
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    let mut removed = false;
    while let Some(at) = rest.windows(OPEN.len()).position(|w| w == OPEN) {
        let after = &rest[at + OPEN.len()..];
        let empty = [b"description".as_slice(), b"title".as_slice()].into_iter().find_map(|name| {
            let tail = after.strip_prefix(name)?;
            empty_element_len(tail, name).map(|len| name.len() + len)
        });
        match empty {
            Some(len) => {
                out.extend_from_slice(&rest[..at]);
                rest = &after[len..];
                removed = true;
            }
            None => {
                out.extend_from_slice(&rest[..at + 1]);
                rest = &rest[at + 1..];
            }
        }
    }
    out.extend_from_slice(rest);
    removed.then_some(out)
}

/// `tail` follows `<media:NAME`: the length of the rest of the element when
/// it is empty (attributes, then `/>`, or `>`, blanks and `</media:NAME>`).
fn empty_element_len(tail: &[u8], name: &[u8]) -> Option<usize> {
    let first = *tail.first()?;
    if !(first.is_ascii_whitespace() || first == b'/' || first == b'>') {
        return None;
    }
    let gt = tail.iter().position(|&b| b == b'>')?;
    if gt > 0 && tail.get(gt - 1) == Some(&b'/') {
        return Some(gt + 1);
    }
    let inner = tail.get(gt + 1..)?;
    let blanks = inner.iter().position(|b| !b.is_ascii_whitespace())?;
    let close = [b"</media:".as_slice(), name, b">"].concat();
    inner.get(blanks..)?.starts_with(&close).then(|| gt + 1 + blanks + close.len())
}

/// Turns the feed-rs model into our items: the adapter half of "parse, then adapt".
fn adapt_feed(feed: Feed, base: Option<&Url>) -> ParsedFeed {
    let feed_title = feed.title.as_ref().and_then(|t| non_empty(&t.content));
    let feed_lang = feed.language.as_deref().and_then(primary_language);
    let feed_platform =
        base.and_then(Url::host_str).and_then(platform_of_host).or_else(|| platform_of_generator(&feed));
    // Atom and JSON Feed say a feed-level author is the author of items that name none.
    let inherited_author = match feed.feed_type {
        FeedType::Atom | FeedType::JSON => first_name(&feed.authors),
        _ => None,
    };

    let mut parsed = ParsedFeed { title: feed_title, ..ParsedFeed::default() };
    let mut seen_ids = HashSet::new();
    for (index, entry) in feed.entries.into_iter().enumerate() {
        let id = non_empty(&entry.id);
        if let Some(id) = &id
            && !seen_ids.insert(id.clone())
        {
            parsed.skipped.push(SkippedItem { index, id: Some(id.clone()), reason: SkipReason::DuplicateId });
            continue;
        }
        let mention =
            adapt_entry(entry, id.clone(), base, feed_platform, feed_lang.as_deref(), inherited_author.as_deref());
        if mention.title.is_none() && mention.text.is_empty() {
            parsed.skipped.push(SkippedItem { index, id, reason: SkipReason::NoTitleNorText });
            continue;
        }
        parsed.items.push(mention);
    }
    if !parsed.skipped.is_empty() {
        tracing::debug!(kept = parsed.items.len(), skipped = parsed.skipped.len(), "feed entries skipped");
    }
    parsed
}

fn adapt_entry(
    entry: Entry,
    id: Option<String>,
    base: Option<&Url>,
    feed_platform: Option<SourceKind>,
    feed_lang: Option<&str>,
    inherited_author: Option<&str>,
) -> RawMention {
    let url = entry_link(&entry.links).and_then(|href| resolve_link(href, base));
    let parsed_url = url.as_deref().and_then(|u| Url::parse(u).ok());
    let mastodon_account = parsed_url.as_ref().and_then(mastodon_status_account);
    let item_platform = parsed_url
        .as_ref()
        .and_then(|u| u.host_str().and_then(platform_of_host))
        .or_else(|| mastodon_account.is_some().then_some(SourceKind::Mastodon))
        .or_else(|| {
            let host = parsed_url.as_ref()?.host_str()?;
            is_discourse_guid(id.as_deref()?, host).then_some(SourceKind::Forum)
        });
    let source_kind = feed_platform.or(item_platform).unwrap_or(SourceKind::Rss);

    let summary = entry.summary.as_ref().and_then(|s| non_empty(&s.content));
    let mut title = entry.title.as_ref().and_then(|t| non_empty(&t.content));
    if let (Some(t), Some(u), Some(description)) = (&title, &parsed_url, &summary)
        && u.host_str() == Some("news.google.com")
        && let Some(headline) = strip_publisher_suffix(t, description)
    {
        title = Some(headline);
    }
    let text = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .and_then(non_empty)
        .or(summary)
        // YouTube and podcast feeds carry the description in media:group.
        .or_else(|| entry.media.iter().find_map(|m| m.description.as_ref().and_then(|d| non_empty(&d.content))))
        .unwrap_or_default();
    let author = first_name(&entry.authors).or_else(|| inherited_author.map(str::to_string)).or(mastodon_account);
    let published_at: Option<DateTime<Utc>> = entry.published.or(entry.updated);
    let lang = entry.language.as_deref().and_then(primary_language).or_else(|| feed_lang.map(str::to_string));

    // media:community (YouTube fills it for every video).
    let community = entry.media.iter().find_map(|m| m.community.as_ref());
    let engagement = Engagement {
        views: community.and_then(|c| c.stats_views),
        // YouTube's starRating count is the like count; elsewhere it counts
        // ratings of any value, which are not likes.
        likes: community.and_then(|c| c.stars_count).filter(|_| source_kind == SourceKind::Youtube),
        ..Engagement::default()
    };

    RawMention {
        source_item_id: id,
        url,
        title,
        text,
        author,
        published_at,
        source_kind: Some(source_kind),
        site: None,
        lang,
        reach: None,
        engagement,
        // Feed text is HTML (or entity-escaped text): the pipeline cleans it.
        plain_text: false,
    }
}

/// A platform told by the channel's `<generator>`: Mastodon writes
/// `Mastodon v4.3.4` (forks add `+glitch`, `+hometown-…`) in its tag and
/// account feeds, whatever the instance's host.
fn platform_of_generator(feed: &Feed) -> Option<SourceKind> {
    let generator = feed.generator.as_ref()?.content.trim();
    let first_word = generator.split_whitespace().next()?;
    first_word.eq_ignore_ascii_case("mastodon").then_some(SourceKind::Mastodon)
}

/// For a Mastodon status link, `https://host/@user/<digits>`, the account as
/// `user@host` (a remote account shown by another instance,
/// `https://host/@user@origin/<digits>`, gives `user@origin`). `None` for
/// anything else, so that profile pages, Medium's `/@user/slug-hex`,
/// TikTok's `/@user/video/<digits>` and the like are not taken for statuses.
fn mastodon_status_account(url: &Url) -> Option<String> {
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let mut segments = url.path_segments()?;
    let handle = segments.next()?.strip_prefix('@')?;
    let status_id = segments.next()?;
    if segments.next().is_some() || status_id.is_empty() || !status_id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let host = url.host_str()?;
    let (user, domain) = handle.split_once('@').unwrap_or((handle, host));
    let user_ok =
        !user.is_empty() && user.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    let domain_ok = !domain.is_empty()
        && !domain.contains('@')
        && domain.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    (user_ok && domain_ok).then(|| format!("{user}@{}", domain.to_ascii_lowercase()))
}

/// Discourse's RSS guids are `<hostname>-topic-<id>` (topic lists) and
/// `<hostname>-post-<id>` (post lists), with the forum's own host name.
fn is_discourse_guid(guid: &str, link_host: &str) -> bool {
    let n = link_host.len();
    let (Some(head), Some(rest)) = (guid.get(..n), guid.get(n..)) else {
        return false;
    };
    head.eq_ignore_ascii_case(link_host)
        && ["-topic-", "-post-"].iter().any(|kind| {
            rest.strip_prefix(kind).is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Google News titles read `Headline - Publisher`; the description names the
/// publisher in `<font color="#6f6f6f">Publisher</font>` (the first one, for a
/// cluster of articles). The headline, when the title ends with exactly that
/// publisher; `None` otherwise (the title is then kept whole).
fn strip_publisher_suffix(title: &str, description: &str) -> Option<String> {
    const OPEN: &str = "<font color=\"#6f6f6f\">";
    let start = description.find(OPEN)? + OPEN.len();
    let len = description[start..].find("</font>")?;
    let publisher = decode_basic_entities(description[start..start + len].trim())?;
    if publisher.is_empty() {
        return None;
    }
    let headline = title.strip_suffix(publisher.as_str())?.strip_suffix(" - ")?.trim_end();
    (!headline.is_empty()).then(|| headline.to_string())
}

/// Decodes the entities an HTML escaper writes (`&amp;` `&lt;` `&gt;`
/// `&quot;` `&apos;` `&nbsp;` and numeric references); `None` if the text
/// holds any other entity or a stray `&`, so that callers can give up.
fn decode_basic_entities(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find(';').filter(|&e| e <= 10)?;
        let name = &after[..end];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => '\u{a0}',
            _ => {
                let num = name.strip_prefix('#')?;
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => num.parse::<u32>().ok()?,
                };
                char::from_u32(code)?
            }
        };
        out.push(c);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The entry's page: the first `alternate` link (or one without `rel`,
/// which means alternate), else the first link at all.
fn entry_link(links: &[Link]) -> Option<&str> {
    let usable = |l: &&Link| !l.href.trim().is_empty();
    links
        .iter()
        .filter(usable)
        .find(|l| l.rel.as_deref().is_none_or(|r| r.eq_ignore_ascii_case("alternate")))
        .or_else(|| links.iter().find(usable))
        .map(|l| l.href.trim())
}

/// Resolves `href` against the feed URL; keeps only http(s) results.
/// Google's redirect links (`https://www.google.com/url?…&url=TARGET`), which
/// Google Alerts uses for every item, are replaced by their target.
fn resolve_link(href: &str, base: Option<&Url>) -> Option<String> {
    let url = match base {
        Some(base) => base.join(href),
        None => Url::parse(href),
    }
    .ok()?;
    let url = unwrap_google_redirect(&url).unwrap_or(url);
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

fn unwrap_google_redirect(url: &Url) -> Option<Url> {
    let host = url.host_str()?;
    if !(host == "www.google.com" || host == "google.com") || url.path() != "/url" {
        return None;
    }
    url.query_pairs()
        .find(|(k, _)| k == "url" || k == "q")
        .and_then(|(_, v)| Url::parse(&v).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

/// The platform a host obviously belongs to. Mastodon instances, forums and
/// most blogs cannot be told from their host: `None` (the feed's generator,
/// the link's shape or the guid may still tell: see the module docs).
pub fn platform_of_host(host: &str) -> Option<SourceKind> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let is = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    if is("reddit.com") || is("redd.it") {
        Some(SourceKind::Reddit)
    } else if is("youtube.com") || is("youtu.be") {
        Some(SourceKind::Youtube)
    } else if host == "news.google.com" {
        Some(SourceKind::News)
    } else if host == "news.ycombinator.com" || host == "hnrss.org" {
        Some(SourceKind::Hackernews)
    } else if host == "bsky.app" {
        Some(SourceKind::Bluesky)
    } else {
        None
    }
}

/// `fr-FR` → `fr`, `en_US` → `en`; `None` unless the primary subtag is 2–3 letters.
fn primary_language(tag: &str) -> Option<String> {
    let primary = tag.trim().split(['-', '_']).next()?;
    ((2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| primary.to_ascii_lowercase())
}

/// The first person's name; RSS's `email (Name)` leaves the parentheses in
/// feed-rs's name, which are dropped; an address alone stands for the name.
fn first_name(people: &[Person]) -> Option<String> {
    people.iter().find_map(|p| {
        p.name
            .as_deref()
            .map(|n| {
                let n = n.trim();
                n.strip_prefix('(').and_then(|n| n.strip_suffix(')')).unwrap_or(n)
            })
            .and_then(non_empty)
            .or_else(|| p.email.as_deref().and_then(non_empty))
    })
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn trim_start(body: &[u8]) -> &[u8] {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(body.len());
    &body[start..]
}

/// True when the document element is `<html>` (after any XML declaration,
/// comments, processing instructions and a `<!DOCTYPE html>`).
fn looks_like_html(body: &[u8]) -> bool {
    let head = &body[..body.len().min(4096)];
    let mut rest = trim_start(head);
    loop {
        let lower: Vec<u8> = rest.iter().take(16).map(u8::to_ascii_lowercase).collect();
        if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") {
            return true;
        }
        let skip_to = |end: &[u8]| rest.windows(end.len()).position(|w| w == end).map(|i| i + end.len());
        let next = if lower.starts_with(b"<?") {
            skip_to(b"?>")
        } else if lower.starts_with(b"<!--") {
            skip_to(b"-->")
        } else {
            None
        };
        match next {
            Some(i) => rest = trim_start(&rest[i..]),
            None => return false,
        }
    }
}

/// A JSON object, or XML whose first element is `rss`, `feed` or `rdf:RDF`.
fn starts_like_feed(body: &[u8]) -> bool {
    if body.first() == Some(&b'{') {
        return true;
    }
    let head: Vec<u8> = body[..body.len().min(4096)].iter().map(u8::to_ascii_lowercase).collect();
    let first_element =
        head.windows(2).position(|w| w[0] == b'<' && w[1].is_ascii_alphabetic()).map(|i| &head[i + 1..]);
    first_element.is_some_and(|e| e.starts_with(b"rss") || e.starts_with(b"feed") || e.starts_with(b"rdf:rdf"))
}

/// A looser test, used only once parsing failed: an `<html` or `<body` tag near the top.
fn mentions_html_tag(body: &[u8]) -> bool {
    let head: Vec<u8> = body[..body.len().min(4096)].iter().map(u8::to_ascii_lowercase).collect();
    [b"<html".as_slice(), b"<body".as_slice()].iter().any(|tag| head.windows(tag.len()).any(|w| w == *tag))
}

fn short_reason(e: &ParseFeedError) -> String {
    let reason = match e {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => {
            "no RSS, Atom or JSON Feed root element found".to_string()
        }
        ParseFeedError::XmlReader(e) => {
            let msg = e.to_string();
            let msg = msg.strip_prefix("Parser error: ").unwrap_or(&msg);
            format!(
                "XML {}",
                msg.strip_prefix("syntax error: ").map_or(msg.to_string(), |m| format!("syntax error: {m}"))
            )
        }
        other => other.to_string(),
    };
    let first_line = reason.lines().next().unwrap_or_default().trim();
    match first_line.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &first_line[..cut]),
        None => first_line.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

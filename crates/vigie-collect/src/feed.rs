//! Feed parsing: bytes → feed-rs model → [`RawMention`]s.
//!
//! feed-rs detects the format (RSS 0.9x, RSS 1.0/RDF, RSS 2.0, Atom, JSON
//! Feed) and parses it into one model; [`parse_feed`] then adapts each entry
//! into a [`RawMention`] (the mapping is listed in the crate docs). Cleaning
//! (HTML to text, URL canonicalization, site derivation) is left to the
//! pipeline.
//!
//! Platforms people listen through get a few extra touches, from what
//! feed-rs exposes (it keeps no namespace it does not know) and, for RSS,
//! from a linear scan of the items for what feed-rs drops (`<guid
//! isPermaLink>`, `<source url>`):
//!
//! - **Google News** search RSS (`news.google.com/rss/search?q=…`): `News`;
//!   the " - Publisher" suffix Google appends to every title is dropped when
//!   the description names that same publisher (`<font color="#6f6f6f">`).
//!   The item link stays the `news.google.com/rss/articles/…` redirect;
//!   `site` is the host of the item's `<source url="…">` (the publisher),
//!   read by a scan of the RSS items since feed-rs does not keep it.
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
//! Comment feeds (WordPress, Blogger) link each comment as an anchor of its
//! post (`/post/#comment-101`): such a link becomes the item's id and not
//! its `url`, as in the HTML reader, since the store deduplicates on the
//! canonical URL, which has no fragment. Single-page routes (`#/…`, `#!…`)
//! and fragments with `=` (tracking: `#xtor=RSS-3`) stay URLs.
//!
//! Charset: see `decode_feed`; feed-rs is always given UTF-8. Dates:
//! feed-rs's own reader is replaced by RFC 3339, RFC 2822 and then the HTML
//! reader's written-out forms that give a year; an entry whose date is
//! still unreadable has no date and a warning in [`ParsedFeed::warnings`].
//! Text: Atom text constructs without markup (`type="text"`, the default)
//! and JSON Feed's `content_text` and `summary` are plain text
//! (`plain_text: true`); RSS text is always taken as HTML.
//!
//! XML entities: feed-rs reads XML with quick-xml, which ignores `<!DOCTYPE>`
//! declarations; feed-rs resolves only the five predefined entities and
//! character references and keeps any other `&name;` as literal text. So an
//! entity bomb or an external entity (`SYSTEM "file:///etc/passwd"`) is never
//! expanded nor read (see the `xxe` and `billion_laughs` tests).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use encoding_rs::Encoding;
use feed_rs::model::{Entry, Feed, FeedType, Link, Person, Text};
use feed_rs::parser::{ParseErrorKind, ParseFeedError};
use url::Url;
use vigie_model::{Engagement, RawMention, SourceKind};

/// A parsed feed: its title, its items adapted to [`RawMention`], the
/// entries left out with the reason, and what was odd in the items kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub items: Vec<RawMention>,
    pub skipped: Vec<SkippedItem>,
    /// Things the person who added the source may want to know about items
    /// that were kept: a date that could not be read (the collection time
    /// then stands in), bytes that were not valid in the feed's charset.
    /// At most [`MAX_WARNINGS`], the last one counting the rest.
    pub warnings: Vec<String>,
}

/// Warnings kept per feed; the rest are counted in a last one.
pub const MAX_WARNINGS: usize = 50;

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
    /// An earlier entry of the same feed has the same id (GUID) and link;
    /// the first is kept.
    DuplicateId,
    /// Neither a title nor any text: nothing to match a watch against.
    NoTitleNorText,
}

impl fmt::Display for SkippedItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", entry_name(self.index, self.id.as_deref()), self.reason)
    }
}

/// `feed entry 3 (guid)`: an entry as messages name it (1-based).
fn entry_name(index: usize, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("feed entry {} ({id})", index + 1),
        None => format!("feed entry {}", index + 1),
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::DuplicateId => "duplicate id (an earlier item of the feed has the same GUID and link)",
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
/// `content_type` is the HTTP `Content-Type`: its charset is used when the
/// XML declares none (see `decode_feed`), and it helps explain a failure;
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
    let decoded = decode_feed(trimmed, content_type);
    // feed-rs reads `<rss>` only with version 2.0, 0.91 or 0.92; a feed
    // without the attribute (hand-written, old generators) or with another
    // 0.9x/2.x version uses the same elements: it is read as 2.0, before
    // anything else, so its other defects are reported (or repaired below)
    // as in any feed.
    let repaired_version = rss_as_version_2(&decoded.body);
    let version_note = repaired_version.as_ref().map(|(_, was)| match was {
        Some(v) => format!("the feed says it is RSS version {v:?}, which was read as RSS 2.0"),
        None => "the feed's <rss> element has no version; it was read as RSS 2.0".to_string(),
    });
    let utf8: &[u8] = match &repaired_version {
        Some((body, _)) => body,
        None => &decoded.body,
    };
    let (mut result, mut dates) = run_feed_rs(utf8, base.as_ref())?;
    // feed-rs rejects the whole feed for one empty `<media:description>` or
    // `<media:title>` (a YouTube video without a description): retry once
    // without such elements.
    if let Err(ParseFeedError::ParseError(ParseErrorKind::MissingContent { .. })) = &result
        && let Some(repaired) = without_empty_media_text(utf8)
        && let Ok((Ok(feed), repaired_dates)) = run_feed_rs(&repaired, base.as_ref())
    {
        tracing::debug!("feed parsed once empty media:title/media:description elements were dropped");
        (result, dates) = (Ok(feed), repaired_dates);
    }
    // JSON Feed readers must take a numeric item id as a string; feed-rs
    // rejects the whole feed: retry once with such ids quoted.
    if result.is_err()
        && utf8.first() == Some(&b'{')
        && let Some(repaired) = json_item_ids_as_strings(utf8)
        && let Ok((Ok(feed), repaired_dates)) = run_feed_rs(&repaired, base.as_ref())
    {
        tracing::debug!("JSON Feed parsed once numeric item ids were read as strings");
        (result, dates) = (Ok(feed), repaired_dates);
    }
    // A bare `&` ("Lemoine & Fils") or an HTML entity XML does not know
    // (`&nbsp;`, `&eacute;`) makes the XML ill-formed and loses every item:
    // retry once with each written `&amp;` (the text then holds what the
    // author wrote, which the HTML cleaning of titles and texts decodes).
    let mut ampersand_note = None;
    if result.is_err()
        && utf8.first() == Some(&b'<')
        && let Some((repaired, count)) = with_bare_ampersands_escaped(utf8)
        && let Ok((Ok(feed), repaired_dates)) = run_feed_rs(&repaired, base.as_ref())
    {
        ampersand_note = Some(format!(
            "the feed has {count} \"&\" not written as XML wants (&amp; or a known entity): read as written"
        ));
        (result, dates) = (Ok(feed), repaired_dates);
    }
    let feed = match result {
        Ok(feed) => feed,
        Err(e) => {
            // A broken feed is reported as such even when served as text/html
            // (a common misconfiguration); HTML is blamed only for a body
            // that does not even start like a feed.
            let html_type = content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("html"));
            if !starts_like_feed(utf8) && (html_type || mentions_html_tag(utf8)) {
                return Err(FeedError::Html);
            }
            let mut reason = short_reason(&e, starts_like_feed(utf8));
            if let Some(note) = &decoded.note {
                reason.push_str(&format!(" ({note})"));
            }
            return Err(FeedError::Invalid { reason });
        }
    };
    let extras = match feed.feed_type {
        FeedType::RSS2 | FeedType::RSS0 => scan_rss_items(utf8),
        _ => Vec::new(),
    };
    let mut parsed = adapt_feed(feed, base.as_ref(), &extras, &dates);
    if let Some(note) = ampersand_note {
        parsed.warnings.insert(0, note);
    }
    if let Some(note) = version_note {
        parsed.warnings.insert(0, note);
    }
    if let Some(note) = decoded.note {
        parsed.warnings.insert(0, note);
    }
    bound_warnings(&mut parsed.warnings);
    Ok(parsed)
}

/// One run of feed-rs (a fresh parser each time: a failed run can leave
/// its internal state behind), with the dates it could not read.
fn run_feed_rs(body: &[u8], base: Option<&Url>) -> Result<(Result<Feed, ParseFeedError>, UnreadDates), FeedError> {
    let dates = UnreadDates::default();
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base.map(Url::as_str))
        // No made-up ids: an entry without one gets `source_item_id: None`.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .timestamp_parser(dates.parser())
        .build();
    // feed-rs has a few internal `unwrap`s; a panic on hostile input must not
    // take the caller down, so it is turned into an error like any other.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(body)))
        .map(|result| (result, dates))
        .map_err(|_| FeedError::Invalid { reason: "the feed parser failed on this input".to_string() })
}

fn bound_warnings(warnings: &mut Vec<String>) {
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len() - (MAX_WARNINGS - 1);
        warnings.truncate(MAX_WARNINGS - 1);
        warnings.push(format!("and {more} more warnings"));
    }
}

// --- Charset ---------------------------------------------------------------

/// A feed body as UTF-8, which is all feed-rs is given.
struct Decoded<'a> {
    body: Cow<'a, [u8]>,
    /// Said when bytes had to be replaced or guessed.
    note: Option<String>,
}

/// Decodes an XML feed the way RFC 7303 and browsers agree on: a byte order
/// mark, else the XML declaration's `encoding`, else the `Content-Type`
/// charset, else UTF-8. Two departures, both for feeds seen in the wild: a
/// body that is valid UTF-8 is read as UTF-8 whatever the header says
/// (servers that label everything ISO-8859-1), and in a UTF-8 body the
/// bytes that are not valid UTF-8 are read as Windows-1252 (a Latin-1 word
/// pasted into a UTF-8 feed) instead of failing the whole feed. The result
/// declares UTF-8, so that feed-rs does not decode it a second time. A JSON
/// Feed is UTF-8 (RFC 8259), repaired the same way.
fn decode_feed<'a>(body: &'a [u8], content_type: Option<&str>) -> Decoded<'a> {
    if let Some((encoding, bom_len)) = Encoding::for_bom(body) {
        return transcode(&body[bom_len..], encoding);
    }
    if body.first() == Some(&b'{') {
        return utf8_repaired(body);
    }
    // UTF-16 without a byte order mark: `<?` in two-byte units.
    if body.starts_with(b"<\0?\0") {
        return transcode(body, encoding_rs::UTF_16LE);
    }
    if body.starts_with(b"\0<\0?") {
        return transcode(body, encoding_rs::UTF_16BE);
    }
    match xml_declared_encoding(body) {
        // A declaration readable as ASCII cannot be UTF-16's.
        Some(Some(encoding)) if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE => {
            utf8_repaired(body)
        }
        Some(Some(encoding)) => transcode(body, encoding),
        // No declaration, or one that names no known charset.
        Some(None) | None => match content_type.and_then(crate::html::charset_from_content_type) {
            Some(encoding) if std::str::from_utf8(body).is_err() => transcode(body, encoding),
            _ => utf8_repaired(body),
        },
    }
}

fn transcode<'a>(body: &'a [u8], encoding: &'static Encoding) -> Decoded<'a> {
    if encoding == encoding_rs::UTF_8 {
        return utf8_repaired(body);
    }
    let (text, had_errors) = encoding.decode_without_bom_handling(body);
    let note = had_errors
        .then(|| format!("the feed is not valid {}: bytes that could not be decoded were replaced", encoding.name()));
    Decoded { body: Cow::Owned(with_utf8_declaration(&text)), note }
}

/// The body when it is valid UTF-8; else with each invalid byte read as
/// Windows-1252 (and the XML declaration saying UTF-8).
fn utf8_repaired(body: &[u8]) -> Decoded<'_> {
    let declares_other = xml_declared_encoding(body).is_some_and(|e| e != Some(encoding_rs::UTF_8));
    if let Ok(text) = std::str::from_utf8(body) {
        let body = if declares_other { Cow::Owned(with_utf8_declaration(text)) } else { Cow::Borrowed(body) };
        return Decoded { body, note: None };
    }
    let mut text = String::with_capacity(body.len() + body.len() / 8);
    let mut rest = body;
    let mut invalid = 0usize;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                text.push_str(valid);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                let bad = e.error_len().unwrap_or(after.len()).min(after.len());
                text.push_str(&encoding_rs::WINDOWS_1252.decode_without_bom_handling(&after[..bad]).0);
                invalid += bad;
                rest = &after[bad..];
            }
        }
    }
    let note = format!("{invalid} byte(s) of the feed are not valid UTF-8; they were read as Windows-1252");
    Decoded { body: Cow::Owned(with_utf8_declaration(&text)), note: Some(note) }
}

/// `text` with its XML declaration, if any, replaced by one that says UTF-8.
fn with_utf8_declaration(text: &str) -> Vec<u8> {
    const UTF8_DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
    let head = &text.as_bytes()[..text.len().min(1024)];
    match (text.starts_with("<?xml"), find(head, b"?>")) {
        (true, Some(end)) => [UTF8_DECL.as_bytes(), &text.as_bytes()[end + 2..]].concat(),
        _ => text.as_bytes().to_vec(),
    }
}

/// The `encoding` of an XML declaration at the start of the body: `None`
/// without a declaration or without an `encoding` in it, `Some(None)` for a
/// label no browser knows.
fn xml_declared_encoding(body: &[u8]) -> Option<Option<&'static Encoding>> {
    if !body.starts_with(b"<?xml") {
        return None;
    }
    let head = &body[..body.len().min(1024)];
    let decl = &head[..find(head, b"?>")?];
    let value = attribute(decl.get(5..)?, b"encoding")?;
    Some(Encoding::for_label_no_replacement(value.trim().as_bytes()))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The value of attribute `name` among the attributes of a tag (`attrs` is
/// what follows the tag's name, up to its `>`), as written (not unescaped).
fn attribute(attrs: &[u8], name: &[u8]) -> Option<String> {
    let mut rest = attrs;
    loop {
        let start = rest.iter().position(|b| !b.is_ascii_whitespace() && *b != b'/')?;
        rest = &rest[start..];
        let name_len = rest.iter().position(|b| *b == b'=' || b.is_ascii_whitespace()).unwrap_or(rest.len());
        let this = &rest[..name_len];
        let after = trim_ascii_start(&rest[name_len..]);
        let after = trim_ascii_start(after.strip_prefix(b"=")?);
        let quote = *after.first().filter(|q| matches!(q, b'"' | b'\''))?;
        let value_len = after[1..].iter().position(|b| *b == quote)?;
        if this == name {
            return Some(String::from_utf8_lossy(&after[1..1 + value_len]).into_owned());
        }
        rest = &after[value_len + 2..];
    }
}

fn trim_ascii_start(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    &b[start..]
}

// --- JSON Feed ids ---------------------------------------------------------

/// The JSON Feed with its numeric item ids written as strings (`"id": 4` →
/// `"id": "4"`); `None` when it has none or is not JSON. serde_json bounds
/// the nesting (128 levels) and the body is bounded by the fetcher.
fn json_item_ids_as_strings(body: &[u8]) -> Option<Vec<u8>> {
    let mut feed: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut changed = false;
    for item in feed.get_mut("items")?.as_array_mut()? {
        if let Some(id) = item.get_mut("id")
            && let Some(number) = id.as_number()
        {
            *id = serde_json::Value::String(number.to_string());
            changed = true;
        }
    }
    if !changed {
        return None;
    }
    serde_json::to_vec(&feed).ok()
}

// --- Dates -----------------------------------------------------------------

/// Dates seen unread during one run of feed-rs.
///
/// feed-rs gives an entry no date when it cannot read it, and keeps nothing
/// of the text. Its date reader is replaced by [`read_feed_date`], which
/// records a date it cannot read and returns a marker in its place: a time
/// at the very start of chrono's range (no feed can write it), the seconds
/// past it numbering the recorded text. The adapter turns markers back
/// into "no date" and a warning.
#[derive(Clone, Default)]
struct UnreadDates(Arc<Mutex<Vec<String>>>);

/// Unread dates whose text is kept per run of feed-rs.
const MAX_UNREAD_DATES: usize = 1000;

enum ItemDate {
    Read(DateTime<Utc>),
    /// With its text, unless past the [`MAX_UNREAD_DATES`] kept.
    Unread(Option<String>),
}

impl UnreadDates {
    fn parser(&self) -> impl Fn(&str) -> Option<DateTime<Utc>> + Send + Sync + 'static {
        let unread = self.0.clone();
        move |text: &str| {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            if let Some(t) = read_feed_date(text) {
                return Some(t);
            }
            let mut unread = unread.lock().unwrap_or_else(PoisonError::into_inner);
            let n = unread.len();
            if n < MAX_UNREAD_DATES {
                unread.push(quote_short(text));
            }
            DateTime::<Utc>::MIN_UTC.checked_add_signed(TimeDelta::seconds(i64::try_from(n).ok()?))
        }
    }

    fn get(&self, t: Option<DateTime<Utc>>) -> Option<ItemDate> {
        let t = t?;
        let marker = t.signed_duration_since(DateTime::<Utc>::MIN_UTC).num_seconds();
        if !(0..=MAX_UNREAD_DATES as i64).contains(&marker) {
            return Some(ItemDate::Read(t));
        }
        let unread = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Some(ItemDate::Unread(usize::try_from(marker).ok().and_then(|i| unread.get(i).cloned())))
    }
}

/// A feed's date: RFC 3339 and RFC 2822 (what feeds should write), else the
/// written-out forms the HTML reader understands that give a year (zone
/// abbreviations such as `CET`, French and English day and month names).
fn read_feed_date(text: &str) -> Option<DateTime<Utc>> {
    crate::html::parse_absolute_date(text)
}

/// A value quoted in a warning: one line, at most 80 characters.
fn quote_short(s: &str) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match one_line.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

// --- RSS extras ------------------------------------------------------------

/// What feed-rs does not keep of an RSS item.
#[derive(Debug, Clone, Default, PartialEq)]
struct RssItemExtras {
    /// The item has a `<guid>` that is a permalink (`isPermaLink` is not `false`).
    guid_is_permalink: bool,
    /// `<source url="…">`: the site the item comes from (Google News names
    /// the publisher there).
    source_url: Option<String>,
}

/// The [`RssItemExtras`] of each `<item>` of an RSS body, in order: one
/// linear pass over the tags, skipping comments, CDATA sections and
/// processing instructions (an HTML `<source>` in a description is not the
/// item's). The caller uses the list only when it has one element per entry.
fn scan_rss_items(xml: &[u8]) -> Vec<RssItemExtras> {
    let mut items = Vec::new();
    let mut current: Option<RssItemExtras> = None;
    let mut seen_guid = false;
    let mut at = 0;
    while let Some(lt) = xml.get(at..).and_then(|rest| rest.iter().position(|&b| b == b'<')) {
        let start = at + lt;
        let rest = &xml[start..];
        let past = |end: &[u8]| find(rest, end).map(|i| start + i + end.len());
        let next = if rest.starts_with(b"<!--") {
            past(b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            past(b"]]>")
        } else if rest.starts_with(b"<?") {
            past(b"?>")
        } else if rest.starts_with(b"<!") {
            past(b">")
        } else {
            let Some(len) = tag_len(rest) else { break };
            let tag = &rest[1..len - 1];
            let (closing, tag) = match tag.strip_prefix(b"/") {
                Some(t) => (true, t),
                None => (false, tag),
            };
            let name_len = tag.iter().position(|b| b.is_ascii_whitespace() || *b == b'/').unwrap_or(tag.len());
            let (name, attrs) = tag.split_at(name_len);
            match (closing, name, current.as_mut()) {
                (false, b"item", _) => {
                    items.extend(current.take());
                    seen_guid = false;
                    if attrs.ends_with(b"/") {
                        items.push(RssItemExtras::default());
                    } else {
                        current = Some(RssItemExtras::default());
                    }
                }
                (true, b"item", _) => items.extend(current.take()),
                (false, b"guid", Some(item)) if !seen_guid => {
                    seen_guid = true;
                    item.guid_is_permalink =
                        attribute(attrs, b"isPermaLink").is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"));
                }
                (false, b"source", Some(item)) if item.source_url.is_none() => {
                    item.source_url = attribute(attrs, b"url").and_then(|v| decode_basic_entities(v.trim()));
                }
                _ => {}
            }
            Some(start + len)
        };
        match next {
            Some(n) => at = n,
            None => break,
        }
    }
    items.extend(current);
    items
}

/// The length of the tag at the start of `rest` (through its `>`; a `>`
/// inside a quoted attribute value does not end it).
fn tag_len(rest: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (i, &b) in rest.iter().enumerate().skip(1) {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'>') => return Some(i + 1),
            (Some(q), _) if q == b => quote = None,
            _ => {}
        }
    }
    None
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

/// The body with its root `<rss>` element's `version` set to 2.0, and the
/// version it had (`None`: none), when the root is `rss` without a version
/// or with a 0.9x or 2.x one other than those feed-rs reads.
/// `body` with every `&` that starts no XML reference (`&amp;`, `&lt;`,
/// `&gt;`, `&quot;`, `&apos;`, `&#38;`, `&#x26;`) written `&amp;`, and how
/// many; `None` when there is none.
fn with_bare_ampersands_escaped(body: &[u8]) -> Option<(Vec<u8>, usize)> {
    fn is_reference(rest: &[u8]) -> bool {
        let end = rest.iter().take(12).position(|b| *b == b';');
        let Some(end) = end else { return false };
        let name = &rest[..end];
        match name {
            b"amp" | b"lt" | b"gt" | b"quot" | b"apos" => true,
            [b'#', b'x' | b'X', hex @ ..] => !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit),
            [b'#', dec @ ..] => !dec.is_empty() && dec.iter().all(u8::is_ascii_digit),
            _ => false,
        }
    }
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut count = 0;
    let mut i = 0;
    while i < body.len() {
        // CDATA sections and comments are literal: copied as they are.
        let literal = [(&b"<![CDATA["[..], &b"]]>"[..]), (&b"<!--"[..], &b"-->"[..])]
            .into_iter()
            .find(|(open, _)| body[i..].starts_with(open))
            .map(|(open, close)| {
                let from = i + open.len();
                body[from..]
                    .windows(close.len())
                    .position(|w| w == close)
                    .map_or(body.len(), |p| from + p + close.len())
            });
        if let Some(end) = literal {
            out.extend_from_slice(&body[i..end]);
            i = end;
            continue;
        }
        if body[i] == b'&' && !is_reference(&body[i + 1..]) {
            out.extend_from_slice(b"&amp;");
            count += 1;
        } else {
            out.push(body[i]);
        }
        i += 1;
    }
    (count > 0).then_some((out, count))
}

fn rss_as_version_2(body: &[u8]) -> Option<(Vec<u8>, Option<String>)> {
    let head = &body[..body.len().min(4096)];
    let open = head.windows(2).position(|w| w[0] == b'<' && w[1].is_ascii_alphabetic())?;
    let after_name = open + 4;
    if !head[open + 1..].starts_with(b"rss") || !head.get(after_name)?.is_ascii_whitespace() && head[after_name] != b'>'
    {
        return None;
    }
    let close = open + head[open..].iter().position(|&b| b == b'>')?;
    let attributes = std::str::from_utf8(&head[after_name..close]).ok()?;
    let mut kept = String::with_capacity(attributes.len());
    let mut was = None;
    let mut rest = attributes;
    // Attributes are `name = "value"` or `name = 'value'`, blank-separated.
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq].trim();
        let value_start = rest[eq + 1..].trim_start();
        let quote = value_start.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let value_len = value_start[1..].find(quote)?;
        let value = &value_start[1..1 + value_len];
        let taken = rest.len() - value_start.len() + value_len + 2;
        if name == "version" {
            was = Some(value.to_string());
        } else {
            kept.push(' ');
            kept.push_str(rest[..taken].trim());
        }
        rest = &rest[taken..];
    }
    if !rest.trim().is_empty() && rest.trim() != "/" {
        return None;
    }
    // Read already, or not of the RSS 0.9x / 2.x family.
    match was.as_deref() {
        Some("2.0" | "" | "0.91" | "0.92") => return None,
        Some(v) if !v.starts_with("0.9") && !v.starts_with("2.") => return None,
        _ => {}
    }
    let mut repaired = Vec::with_capacity(body.len() + 16);
    repaired.extend_from_slice(&body[..after_name]);
    repaired.extend_from_slice(b" version=\"2.0\"");
    repaired.extend_from_slice(kept.as_bytes());
    repaired.extend_from_slice(&body[close..]);
    Some((repaired, was))
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
fn adapt_feed(feed: Feed, base: Option<&Url>, extras: &[RssItemExtras], dates: &UnreadDates) -> ParsedFeed {
    let feed_title = feed.title.as_ref().and_then(|t| non_empty(&t.content));
    let feed_lang = feed.language.as_deref().and_then(primary_language);
    let feed_platform =
        base.and_then(Url::host_str).and_then(platform_of_host).or_else(|| platform_of_generator(&feed));
    // Atom and JSON Feed say a feed-level author is the author of items that name none.
    let inherited_author = match feed.feed_type {
        FeedType::Atom | FeedType::JSON => first_name(&feed.authors),
        _ => None,
    };
    let extras = if extras.len() == feed.entries.len() { extras } else { &[] };
    let context = FeedContext {
        base,
        feed_type: feed.feed_type.clone(),
        platform: feed_platform,
        lang: feed_lang.as_deref(),
        inherited_author: inherited_author.as_deref(),
    };

    let mut parsed = ParsedFeed { title: feed_title, ..ParsedFeed::default() };
    // An id seen before with the same link is the same item again; with
    // another link it is another item of a feed whose GUIDs are not unique
    // (kept: the ingest then trusts none of this fetch's ids).
    let mut seen_ids = HashSet::new();
    for (index, entry) in feed.entries.into_iter().enumerate() {
        let id = non_empty(&entry.id);
        if let Some(id) = &id
            && !seen_ids.insert((id.clone(), entry_link(&entry.links).map(str::to_owned)))
        {
            parsed.skipped.push(SkippedItem { index, id: Some(id.clone()), reason: SkipReason::DuplicateId });
            continue;
        }
        let (published, updated) = (dates.get(entry.published), dates.get(entry.updated));
        let mention = adapt_entry(entry, id.clone(), &context, extras.get(index));
        if mention.title.is_none() && mention.text.is_empty() {
            parsed.skipped.push(SkippedItem { index, id, reason: SkipReason::NoTitleNorText });
            continue;
        }
        let mention = match (published, updated) {
            (Some(ItemDate::Read(t)), _) | (_, Some(ItemDate::Read(t))) => {
                RawMention { published_at: Some(t), ..mention }
            }
            (Some(ItemDate::Unread(raw)), _) | (None, Some(ItemDate::Unread(raw))) => {
                let date = raw.map(|r| format!("date `{r}`")).unwrap_or_else(|| "date".to_string());
                parsed.warnings.push(format!(
                    "{}: {date} not understood; the collection time stands in",
                    entry_name(index, id.as_deref())
                ));
                mention
            }
            (None, None) => mention,
        };
        parsed.items.push(mention);
    }
    if !parsed.skipped.is_empty() {
        tracing::debug!(kept = parsed.items.len(), skipped = parsed.skipped.len(), "feed entries skipped");
    }
    parsed
}

/// What every entry of a feed is adapted with.
struct FeedContext<'a> {
    base: Option<&'a Url>,
    feed_type: FeedType,
    platform: Option<SourceKind>,
    lang: Option<&'a str>,
    inherited_author: Option<&'a str>,
}

fn adapt_entry(entry: Entry, id: Option<String>, cx: &FeedContext<'_>, extras: Option<&RssItemExtras>) -> RawMention {
    // RSS: a permalink `<guid>` is the item's address when it has no `<link>`.
    let guid_link = || {
        let guid = id.as_deref().filter(|_| extras.is_some_and(|e| e.guid_is_permalink))?;
        Url::parse(guid).ok().filter(|u| matches!(u.scheme(), "http" | "https")).map(|_| guid)
    };
    let link = entry_link(&entry.links).or_else(guid_link).and_then(|href| resolve_link(href, cx.base));
    let parsed_url = link.as_deref().and_then(|u| Url::parse(u).ok());
    let mastodon_account = parsed_url.as_ref().and_then(mastodon_status_account);
    let item_platform = parsed_url
        .as_ref()
        .and_then(|u| u.host_str().and_then(platform_of_host))
        .or_else(|| mastodon_account.is_some().then_some(SourceKind::Mastodon))
        .or_else(|| {
            let host = parsed_url.as_ref()?.host_str()?;
            is_discourse_guid(id.as_deref()?, host).then_some(SourceKind::Forum)
        });
    let source_kind = cx.platform.or(item_platform).unwrap_or(SourceKind::Rss);

    // A link to a comment's anchor (a WordPress comment's
    // `/post/#comment-101`) stays its link: the canonical URL keeps such an
    // anchor, so each comment is a mention of its own, with a link to it.
    // A link to another anchor of a page (`#respond`) names the item, not a
    // page of its own: the canonical URL drops that fragment and would fold
    // every such item into one (and into the post), so it becomes the id.
    let (url, source_item_id, anchor_site) = match &parsed_url {
        Some(u) if is_anchor(u) && !u.fragment().is_some_and(vigie_nlp::is_comment_anchor) => {
            (None, link.clone(), u.host_str().map(str::to_string))
        }
        _ => (link, id, None),
    };
    let google_news = parsed_url.as_ref().is_some_and(|u| u.host_str() == Some("news.google.com"));
    // Google News links are its own redirects; `<source url>` names the publisher.
    let source_site = extras
        .filter(|_| google_news)
        .and_then(|e| e.source_url.as_deref())
        .and_then(|u| Url::parse(u).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .and_then(|u| u.host_str().map(str::to_string));

    let summary = entry.summary.as_ref().and_then(|s| non_empty(&s.content).map(|c| (c, is_plain(cx, s))));
    let title = entry.title.as_ref().and_then(|t| non_empty(&t.content).map(|c| (c, is_plain(cx, t))));
    let mut title = title;
    if let (Some((t, false)), true, Some((description, false))) = (&title, google_news, &summary)
        && let Some(headline) = strip_publisher_suffix(t, description)
    {
        title = Some((headline, false));
    }
    let content = entry.content.as_ref().and_then(|c| {
        let plain = declared_plain(&cx.feed_type, c.content_type.ty().as_str(), c.content_type.subty().as_str());
        c.body.as_deref().and_then(non_empty).map(|b| (b, plain))
    });
    let body = content
        .or(summary)
        // YouTube and podcast feeds carry the description in media:group.
        .or_else(|| {
            entry
                .media
                .iter()
                .find_map(|m| m.description.as_ref().and_then(|d| non_empty(&d.content)))
                .map(|d| (d, false))
        });
    let (mut text, plain_text) = match body {
        Some((text, plain)) => (text, plain),
        None => (String::new(), title.as_ref().is_some_and(|(_, plain)| *plain)),
    };
    if !plain_text && source_kind == SourceKind::Reddit {
        strip_reddit_trailer(&mut text);
    }
    // One flag says how both title and text read: a title of the other kind is converted.
    let title = title.map(|(t, plain)| match (plain, plain_text) {
        (true, false) => escape_html(&t),
        (false, true) => vigie_nlp::text::html_to_text(&t),
        _ => t,
    });
    let author = first_name(&entry.authors).or_else(|| cx.inherited_author.map(str::to_string)).or(mastodon_account);
    let lang = entry.language.as_deref().and_then(primary_language).or_else(|| cx.lang.map(str::to_string));

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
        source_item_id,
        url,
        title,
        text,
        author,
        // Set by the caller, which knows the dates feed-rs could not read.
        published_at: None,
        source_kind: Some(source_kind),
        site: source_site.or(anchor_site),
        lang,
        reach: None,
        engagement,
        // Feed text is HTML (or entity-escaped text), unless the feed says
        // it is plain text (Atom `type="text"`, JSON Feed `content_text`).
        plain_text,
    }
}

/// True when a fragment names a place in the page (`#comment-101`), not a
/// single-page application's route (`#/post/2`, `#!/post/2`), which the
/// canonical URL keeps, nor tracking parameters (`#xtor=RSS-3`, text
/// fragments `#:~:text=…`), which are no item of their own.
fn is_anchor(url: &Url) -> bool {
    url.fragment().is_some_and(|f| !f.is_empty() && !f.starts_with('/') && !f.starts_with('!') && !f.contains('='))
}

/// Atom text constructs and JSON Feed's `content_text` and `summary` say
/// they are plain text; RSS says nothing (feed-rs calls its titles plain,
/// but feeds write entities and markup in them).
fn is_plain(cx: &FeedContext<'_>, text: &Text) -> bool {
    declared_plain(&cx.feed_type, text.content_type.ty().as_str(), text.content_type.subty().as_str())
}

fn declared_plain(feed_type: &FeedType, ty: &str, subty: &str) -> bool {
    matches!(feed_type, FeedType::Atom | FeedType::JSON)
        && ty.eq_ignore_ascii_case("text")
        && subty.eq_ignore_ascii_case("plain")
}

/// Plain text as HTML that reads the same.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Reddit's RSS appends `submitted by /u/x [link] [comments]` to every
/// post's HTML: dropped, from the last `submitted by` when links named
/// `[link]` or `[comments]` follow it.
fn strip_reddit_trailer(html: &mut String) {
    let Some(at) = html.rfind("submitted by") else { return };
    let tail = &html[at..];
    if !(tail.contains("[link]") || tail.contains("[comments]")) {
        return;
    }
    let mut head = html[..at].trim_end();
    while let Some(rest) = head.strip_suffix("&#32;") {
        head = rest.trim_end();
    }
    let keep = head.len();
    html.truncate(keep);
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

/// `starts_like_feed`: the body's first element is `rss`, `feed` or
/// `rdf:RDF` (or it is JSON), so a missing root is a broken one.
fn short_reason(e: &ParseFeedError, starts_like_feed: bool) -> String {
    let reason = match e {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) if starts_like_feed => {
            "its root element could not be read (malformed XML or JSON near the top, or a feed version this \
             reader does not know)"
                .to_string()
        }
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

//! [`RawMention`] → [`Mention`]: the normalize step of the pipeline.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use vigie_model::{Mention, RawMention, SourceKind};

use crate::canonical_url::{canonical_url, site_of};
use crate::lang::{detect_language, normalize_lang_tag};
use crate::text::{clean_text, html_to_text};

/// Longest site name kept (a DNS name is at most 253 characters).
const MAX_SITE_CHARS: usize = 253;

/// Bounds on untrusted input.
#[derive(Debug, Clone)]
pub struct NormalizeLimits {
    /// Raw text (before markup removal) above this is rejected.
    pub max_raw_text_bytes: usize,
    pub max_title_chars: usize,
    pub max_author_chars: usize,
}

impl Default for NormalizeLimits {
    fn default() -> Self {
        NormalizeLimits { max_raw_text_bytes: 2 * 1024 * 1024, max_title_chars: 1000, max_author_chars: 200 }
    }
}

/// Raw title bytes (markup included) read at most.
const MAX_RAW_TITLE_BYTES: usize = 64 * 1024;

/// The longest prefix of `s` of at most `max` bytes, cut at a character.
fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// Why a raw mention was not stored. The message is shown to users as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("no text: the mention has neither a title nor a body once markup is removed")]
    Empty,
    #[error("text is {size} bytes; the limit is {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("invalid url: {0}")]
    Url(String),
}

/// Normalizes one mention. `collected_at` is the time of collection, used as
/// the publication time when the source gave none or gave one that cannot be
/// believed ([`vigie_model::implausible_published_at`]: a feed dated next
/// year or 1970 would otherwise stretch every chart and hide from "latest").
pub fn normalize(
    raw: RawMention,
    collected_at: DateTime<Utc>,
    limits: &NormalizeLimits,
) -> Result<Mention, Rejection> {
    if raw.text.len() > limits.max_raw_text_bytes {
        return Err(Rejection::TooLarge { size: raw.text.len(), max: limits.max_raw_text_bytes });
    }
    let to_text = if raw.plain_text { clean_text } else { html_to_text };
    let text = to_text(&raw.text);
    // A title is kept to `max_title_chars` once clean: its markup is read
    // only so far (a hostile megabyte of it is not parsed).
    let title = raw
        .title
        .as_deref()
        .map(|t| truncate_bytes(t, MAX_RAW_TITLE_BYTES))
        .map(to_text)
        .map(|t| truncate_chars(t, limits.max_title_chars))
        .filter(|t| !t.is_empty());
    if text.is_empty() && title.is_none() {
        return Err(Rejection::Empty);
    }
    let url = match raw.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => Some(without_credentials(
            canonical_url(u).map_err(|e| Rejection::Url(e.to_string()))?,
        )),
        None => None,
    };
    let site = raw
        .site
        .as_deref()
        .map(clean_text)
        .map(|s| truncate_chars(s.trim_start_matches("www.").to_lowercase(), MAX_SITE_CHARS))
        .filter(|s| !s.is_empty())
        .or_else(|| url.as_deref().and_then(site_of));
    let author = raw
        .author
        .as_deref()
        .map(clean_text)
        .map(|a| truncate_chars(a, limits.max_author_chars))
        .filter(|a| !a.is_empty());
    let source_item_id = raw
        .source_item_id
        .map(|s| truncate_chars(clean_text(&s), 512))
        .filter(|s| !s.is_empty());
    let (lang, lang_confidence) = match raw.lang.as_deref().and_then(normalize_lang_tag) {
        Some(code) => (Some(code), 1.0),
        None => {
            let sample = match &title {
                Some(t) if text.len() < 280 => format!("{t} {text}"),
                _ => text.clone(),
            };
            match detect_language(&sample) {
                Some(d) => (Some(d.code.to_string()), d.confidence),
                None => (None, 0.0),
            }
        }
    };
    let content_hash = content_hash(title.as_deref(), &text);
    let kind = raw.source_kind.unwrap_or(SourceKind::Other);
    let dedup_key = Mention::dedup_key_for(url.as_deref(), kind, source_item_id.as_deref(), &content_hash);
    Ok(Mention {
        id: 0,
        source_kind: kind,
        source_item_id,
        url,
        title,
        text,
        author,
        site,
        published_at: raw
            .published_at
            .filter(|&p| vigie_model::implausible_published_at(p, collected_at).is_none())
            .unwrap_or(collected_at),
        collected_at,
        lang,
        lang_confidence,
        reach: raw.reach.filter(|r| *r >= 0),
        content_hash,
        dedup_key,
        analysis: Default::default(),
    })
}

/// Hex SHA-256 of the clean title and text, case-folded so that a copy that
/// only changed case counts as the same content.
pub fn content_hash(title: Option<&str>, text: &str) -> String {
    let mut hasher = Sha256::new();
    if let Some(t) = title {
        hasher.update(t.to_lowercase().as_bytes());
    }
    hasher.update([0u8]);
    hasher.update(text.to_lowercase().as_bytes());
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        hex.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
    }
    hex
}

fn truncate_chars(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((idx, _)) => {
            let mut s = s;
            s.truncate(idx);
            s.push('…');
            s
        }
        None => s,
    }
}


/// A mention's link without the `user:password@` it may carry: a page's
/// address is shown on pages, in exports and in notifications, where a
/// login must not travel. (A source's own URL keeps it: an intranet feed may
/// need it.)
fn without_credentials(url: String) -> String {
    match url::Url::parse(&url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
    }

    #[test]
    fn a_feed_item_is_normalized() {
        let raw = RawMention {
            source_item_id: Some("guid-1".into()),
            url: Some("https://WWW.Exemple.fr/billet?utm_source=rss#top".into()),
            title: Some("Retard &amp; annulation".into()),
            text: "<p>Mon train <b>SNCF</b> a encore 2h de retard, c'est inadmissible !</p><script>x()</script>".into(),
            author: Some("  Jean   Dupont ".into()),
            published_at: None,
            source_kind: Some(SourceKind::Blog),
            ..Default::default()
        };
        let m = normalize(raw, now(), &NormalizeLimits::default()).unwrap();
        assert_eq!(m.url.as_deref(), Some("https://www.exemple.fr/billet"));
        assert_eq!(m.site.as_deref(), Some("exemple.fr"));
        assert_eq!(m.title.as_deref(), Some("Retard & annulation"));
        assert_eq!(m.text, "Mon train SNCF a encore 2h de retard, c'est inadmissible !");
        assert_eq!(m.author.as_deref(), Some("Jean Dupont"));
        assert_eq!(m.published_at, now(), "no date: collection time stands in");
        assert_eq!(m.lang.as_deref(), Some("fr"));
        assert_eq!(m.dedup_key, "url:https://www.exemple.fr/billet");
    }

    #[test]
    fn a_login_in_a_mention_link_is_not_kept() {
        let raw = RawMention {
            url: Some("https://user:pa55@Forum.example/t/1?utm_medium=x".into()),
            text: "x".into(),
            ..Default::default()
        };
        let m = normalize(raw, now(), &NormalizeLimits::default()).unwrap();
        assert_eq!(m.url.as_deref(), Some("https://forum.example/t/1"));
        assert_eq!(
            m.dedup_key, "url:https://forum.example/t/1",
            "the same page with or without a login"
        );
        let raw = RawMention {
            url: Some("https://user@forum.example/t/2".into()),
            text: "x".into(),
            ..Default::default()
        };
        let m = normalize(raw, now(), &NormalizeLimits::default()).unwrap();
        assert_eq!(m.url.as_deref(), Some("https://forum.example/t/2"));
    }

    #[test]
    fn dates_that_cannot_be_true_give_way_to_the_collection_time() {
        let at = |published_at| {
            let raw = RawMention { text: "x".into(), published_at: Some(published_at), ..Default::default() };
            normalize(raw, now(), &NormalizeLimits::default()).unwrap().published_at
        };
        let hours_ahead = now() + chrono::TimeDelta::hours(20);
        assert_eq!(at(hours_ahead), hours_ahead, "a source a few time zones ahead is believed");
        let archive = Utc.with_ymd_and_hms(1998, 5, 1, 0, 0, 0).unwrap();
        assert_eq!(at(archive), archive, "an old article is believed");
        assert_eq!(at(now() + chrono::TimeDelta::days(2)), now(), "next week's date is a clock error");
        assert_eq!(at(Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap()), now());
        assert_eq!(at(DateTime::UNIX_EPOCH), now(), "the Unix epoch is a placeholder");
    }

    #[test]
    fn site_names_are_cleaned_and_bounded() {
        let raw = RawMention { text: "x".into(), site: Some("\u{1b}]52;c;AAAA\u{7}WWW.Le Monde ".repeat(100)), ..Default::default() };
        let m = normalize(raw, now(), &NormalizeLimits::default()).unwrap();
        let site = m.site.unwrap();
        assert!(!site.chars().any(char::is_control), "{site:?}");
        assert!(site.chars().count() <= MAX_SITE_CHARS + 1);
    }

    #[test]
    fn the_source_language_wins_over_detection() {
        let raw = RawMention { text: "hello world this is english".into(), lang: Some("fr-CA".into()), ..Default::default() };
        let m = normalize(raw, now(), &NormalizeLimits::default()).unwrap();
        assert_eq!((m.lang.as_deref(), m.lang_confidence), (Some("fr"), 1.0));
    }

    #[test]
    fn empty_huge_and_bad_url_mentions_are_rejected() {
        let limits = NormalizeLimits::default();
        let empty = RawMention { text: "<script>alert(1)</script>  ".into(), ..Default::default() };
        assert_eq!(normalize(empty, now(), &limits), Err(Rejection::Empty));
        let huge = RawMention { text: "a".repeat(3 * 1024 * 1024), ..Default::default() };
        assert!(matches!(normalize(huge, now(), &limits), Err(Rejection::TooLarge { .. })));
        let js = RawMention { text: "x".into(), url: Some("javascript:alert(1)".into()), ..Default::default() };
        assert!(matches!(normalize(js, now(), &limits), Err(Rejection::Url(_))));
    }

    #[test]
    fn plain_text_keeps_its_angle_brackets_and_ampersands() {
        let raw = RawMention { text: "balise <marquee> &lt;3".into(), title: Some("a < b".into()), plain_text: true, ..Default::default() };
        let m = normalize(raw, now(), &NormalizeLimits::default()).unwrap();
        assert_eq!((m.text.as_str(), m.title.as_deref()), ("balise <marquee> &lt;3", Some("a < b")));
    }

    #[test]
    fn a_one_megabyte_post_is_stored_whole() {
        let text = "Le service client ne répond jamais. ".repeat(30_000);
        let raw = RawMention { text: text.clone(), ..Default::default() };
        let m = normalize(raw, now(), &NormalizeLimits::default()).unwrap();
        assert_eq!(m.text, text.trim_end());
        assert_eq!(m.lang.as_deref(), Some("fr"));
    }

    #[test]
    fn the_same_content_hashes_the_same_whatever_the_case() {
        assert_eq!(content_hash(Some("A"), "Bonjour"), content_hash(Some("a"), "BONJOUR"));
        assert_ne!(content_hash(Some("ab"), "c"), content_hash(Some("a"), "bc"));
        let key = normalize(RawMention { text: "x y".into(), ..Default::default() }, now(), &NormalizeLimits::default())
            .unwrap()
            .dedup_key;
        assert!(key.starts_with("hash:"));
    }

    #[test]
    fn a_huge_hostile_title_is_read_only_so_far() {
        let raw = RawMention {
            title: Some(format!("Acme {}", "<div/><script></script>".repeat(200_000))),
            text: "corps".into(),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let m = normalize(raw, Utc::now(), &NormalizeLimits::default()).unwrap();
        assert_eq!(m.title.as_deref(), Some("Acme"));
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
}

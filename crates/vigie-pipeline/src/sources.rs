//! What each kind of source asks for: its parameters, checked when the
//! source is added and read back (as the same types) when it is collected.
//!
//! A stored [`Source`] keeps the address a person would open in `url` and the
//! type's parameters as JSON in `config`; [`SourceSpec`] is the typed form of
//! both. [`SourceSpec::new_source`] is the only way a source is defined (the
//! CLI and, later, the web UI), so a stored source always parses; one that
//! does not (edited by hand, written by a newer version) fails its runs with a
//! message saying so, and is never dropped.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;
use vigie_collect::html::Selectors;
use vigie_collect::social::{Cursor, SocialQuery, next_request};
use vigie_model::{Source, SourceKind, SourceType};
use vigie_store::NewSource;

/// Longest query, term or hashtag accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 512;

/// The parameters of one source, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// An RSS, Atom or JSON feed.
    Feed { url: String },
    /// Mastodon, Bluesky, Reddit, Hacker News or YouTube.
    Social(SocialQuery),
    /// A web page read with CSS selectors; `kind` says what the site is (review, forum…).
    Html { url: String, selectors: Selectors, kind: SourceKind },
    /// A SearXNG-compatible search endpoint queried for `term`.
    Search { endpoint: String, term: String, language: Option<String>, top: u32 },
}

/// `config` of each type, as stored. Unknown fields are refused, so a typo in
/// hand-written JSON is an error rather than an ignored parameter.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hashtag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    search: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subreddit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channel_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    selectors: Option<Selectors>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<SourceKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    term: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    top: Option<u32>,
}

/// What a person gives to define a source (the CLI's `source add` flags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceParams {
    /// The feed, page, Mastodon instance or search endpoint address.
    pub url: Option<String>,
    pub query: Option<String>,
    pub hashtag: Option<String>,
    pub subreddit: Option<String>,
    pub channel_id: Option<String>,
    pub selectors: Selectors,
    pub kind: Option<SourceKind>,
    pub term: Option<String>,
    pub language: Option<String>,
    pub top: Option<u32>,
}

/// Where secrets and fixed API hosts come from when a source runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// The YouTube Data API key (`VIGIE_YOUTUBE_API_KEY`).
    pub youtube_api_key: Option<String>,
}

fn clean(value: Option<&str>, what: &str) -> Result<String, String> {
    let value = value.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(format!("{what} is required"));
    }
    if value.len() > MAX_QUERY_BYTES {
        return Err(format!("{what} is too long ({} bytes; at most {MAX_QUERY_BYTES})", value.len()));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{what} contains control characters"));
    }
    Ok(value.to_string())
}

fn web_url(given: Option<&str>, what: &str) -> Result<Url, String> {
    let given = given.map(str::trim).unwrap_or_default();
    if given.is_empty() {
        return Err(format!("{what} is required"));
    }
    let canonical = vigie_nlp::canonical_url(given).map_err(|e| format!("{given:?} is not a usable {what}: {e}"))?;
    Url::parse(&canonical).map_err(|e| format!("{given:?} is not a usable {what}: {e}"))
}

/// Which flags each type takes, for the message when others are given.
fn refuse_extra(source_type: SourceType, p: &SourceParams) -> Result<(), String> {
    let given: Vec<(&str, bool)> = vec![
        ("--query", p.query.is_some()),
        ("--hashtag", p.hashtag.is_some()),
        ("--subreddit", p.subreddit.is_some()),
        ("--channel", p.channel_id.is_some()),
        ("--item", !p.selectors.item.is_empty()),
        ("--title", p.selectors.title.is_some()),
        ("--text", p.selectors.text.is_some()),
        ("--author", p.selectors.author.is_some()),
        ("--date", p.selectors.date.is_some()),
        ("--link", p.selectors.link.is_some()),
        ("--kind", p.kind.is_some()),
        ("--term", p.term.is_some()),
        ("--language", p.language.is_some()),
        ("--top", p.top.is_some()),
        ("URL", p.url.is_some()),
    ];
    let allowed: &[&str] = match source_type {
        SourceType::Rss => &["URL"],
        SourceType::Mastodon => &["URL", "--hashtag", "--query"],
        SourceType::Bluesky | SourceType::Hackernews => &["--query"],
        SourceType::Reddit => &["--query", "--subreddit"],
        SourceType::Youtube => &["--channel"],
        SourceType::Html => &["URL", "--item", "--title", "--text", "--author", "--date", "--link", "--kind"],
        SourceType::Search => &["URL", "--term", "--language", "--top"],
    };
    let extra: Vec<&str> =
        given.iter().filter(|(name, set)| *set && !allowed.contains(name)).map(|(n, _)| *n).collect();
    if extra.is_empty() {
        Ok(())
    } else {
        Err(format!("a {source_type} source does not take {} (it takes: {})", extra.join(", "), allowed.join(", ")))
    }
}

impl SourceSpec {
    /// Checks what a person gave for a source of `source_type`; the error
    /// says what is missing or wrong.
    pub fn from_params(source_type: SourceType, p: &SourceParams) -> Result<SourceSpec, String> {
        refuse_extra(source_type, p)?;
        let spec = match source_type {
            SourceType::Rss => SourceSpec::Feed { url: web_url(p.url.as_deref(), "feed address")?.to_string() },
            SourceType::Mastodon => {
                let instance = web_url(p.url.as_deref(), "Mastodon instance address (e.g. https://mastodon.social)")?;
                let (hashtag, search) = match (&p.hashtag, &p.query) {
                    (Some(tag), None) => (Some(clean(Some(tag.trim_start_matches('#')), "--hashtag")?), None),
                    (None, Some(q)) => (None, Some(clean(Some(q), "--query")?)),
                    _ => return Err("a Mastodon source takes exactly one of --hashtag and --query".into()),
                };
                SourceSpec::Social(SocialQuery::Mastodon { instance, hashtag, search })
            }
            SourceType::Bluesky => {
                SourceSpec::Social(SocialQuery::Bluesky { query: clean(p.query.as_deref(), "--query")? })
            }
            SourceType::Reddit => SourceSpec::Social(SocialQuery::Reddit {
                query: clean(p.query.as_deref(), "--query")?,
                subreddit: p
                    .subreddit
                    .as_deref()
                    .map(|s| clean(Some(s.trim_start_matches("r/").trim_start_matches("/r/")), "--subreddit"))
                    .transpose()?,
            }),
            SourceType::Hackernews => {
                SourceSpec::Social(SocialQuery::HackerNews { query: clean(p.query.as_deref(), "--query")? })
            }
            SourceType::Youtube => SourceSpec::Social(SocialQuery::YouTube {
                channel_id: clean(p.channel_id.as_deref(), "--channel (the channel id, UC…)")?,
                api_key: String::new(),
            }),
            SourceType::Html => {
                let url = web_url(p.url.as_deref(), "page address")?.to_string();
                if p.selectors.item.trim().is_empty() {
                    return Err("an html source needs --item, the CSS selector of one item (review, post…)".into());
                }
                p.selectors.compile().map_err(|e| e.to_string())?;
                let kind = p.kind.unwrap_or(SourceKind::Web);
                SourceSpec::Html { url, selectors: p.selectors.clone(), kind }
            }
            SourceType::Search => {
                let endpoint = web_url(p.url.as_deref(), "search endpoint address (a SearXNG instance)")?.to_string();
                let term = clean(p.term.as_deref(), "--term")?;
                let language = p.language.as_deref().map(|l| clean(Some(l), "--language")).transpose()?;
                let top = p.top.unwrap_or(vigie_collect::search::DEFAULT_TOP);
                if !(1..=100).contains(&top) {
                    return Err(format!("--top {top}: expected 1 to 100"));
                }
                SourceSpec::Search { endpoint, term, language, top }
            }
        };
        spec.check()?;
        Ok(spec)
    }

    /// Checks that a request can be built (the social adapters' own rules).
    fn check(&self) -> Result<(), String> {
        match self {
            SourceSpec::Social(q) => {
                let mut q = q.clone();
                if let SocialQuery::YouTube { api_key, .. } = &mut q {
                    // The key is not part of the definition; a placeholder
                    // lets the channel id be checked.
                    *api_key = "key".into();
                }
                next_request(&q, &Cursor::default()).map(|_| ()).map_err(|e| e.to_string())
            }
            SourceSpec::Search { endpoint, term, language, .. } => {
                let endpoint = Url::parse(endpoint).map_err(|e| e.to_string())?;
                vigie_collect::search::search_url(&endpoint, term, 1, language.as_deref())
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            SourceSpec::Feed { .. } | SourceSpec::Html { .. } => Ok(()),
        }
    }

    pub fn source_type(&self) -> SourceType {
        match self {
            SourceSpec::Feed { .. } => SourceType::Rss,
            SourceSpec::Social(SocialQuery::Mastodon { .. }) => SourceType::Mastodon,
            SourceSpec::Social(SocialQuery::Bluesky { .. }) => SourceType::Bluesky,
            SourceSpec::Social(SocialQuery::Reddit { .. }) => SourceType::Reddit,
            SourceSpec::Social(SocialQuery::HackerNews { .. }) => SourceType::Hackernews,
            SourceSpec::Social(SocialQuery::YouTube { .. }) => SourceType::Youtube,
            SourceSpec::Html { .. } => SourceType::Html,
            SourceSpec::Search { .. } => SourceType::Search,
        }
    }

    /// The address a person would open to see what the source reads; also
    /// what makes two sources of a project the same.
    pub fn display_url(&self) -> String {
        let with_query = |base: &str, pairs: &[(&str, &str)]| -> String {
            let mut url = Url::parse(base).unwrap_or_else(|_| unreachable!("constant URL {base}"));
            url.query_pairs_mut().extend_pairs(pairs);
            url.to_string()
        };
        match self {
            SourceSpec::Feed { url } | SourceSpec::Html { url, .. } => url.clone(),
            SourceSpec::Social(SocialQuery::Mastodon { instance, hashtag: Some(tag), .. }) => {
                instance.join(&format!("tags/{tag}")).map_or_else(|_| instance.to_string(), |u| u.to_string())
            }
            SourceSpec::Social(SocialQuery::Mastodon { instance, search, .. }) => {
                let mut url = instance.join("search").unwrap_or_else(|_| instance.clone());
                url.query_pairs_mut().append_pair("q", search.as_deref().unwrap_or_default());
                url.to_string()
            }
            SourceSpec::Social(SocialQuery::Bluesky { query }) => {
                with_query("https://bsky.app/search", &[("q", query)])
            }
            SourceSpec::Social(SocialQuery::Reddit { query, subreddit: None }) => {
                with_query("https://www.reddit.com/search/", &[("q", query), ("sort", "new")])
            }
            SourceSpec::Social(SocialQuery::Reddit { query, subreddit: Some(sub) }) => {
                with_query(&format!("https://www.reddit.com/r/{sub}/search/"), &[("q", query), ("restrict_sr", "1")])
            }
            SourceSpec::Social(SocialQuery::HackerNews { query }) => {
                with_query("https://hn.algolia.com/", &[("q", query), ("sort", "byDate")])
            }
            SourceSpec::Social(SocialQuery::YouTube { channel_id, .. }) => {
                format!("https://www.youtube.com/channel/{channel_id}")
            }
            SourceSpec::Search { endpoint, term, .. } => {
                let mut url = Url::parse(endpoint).unwrap_or_else(|_| unreachable!("checked endpoint {endpoint}"));
                url.query_pairs_mut().append_pair("q", term);
                url.to_string()
            }
        }
    }

    fn config(&self) -> Config {
        match self {
            SourceSpec::Feed { .. } => Config::default(),
            SourceSpec::Social(q) => match q {
                SocialQuery::Mastodon { hashtag, search, .. } => {
                    Config { hashtag: hashtag.clone(), search: search.clone(), ..Config::default() }
                }
                SocialQuery::Bluesky { query } | SocialQuery::HackerNews { query } => {
                    Config { query: Some(query.clone()), ..Config::default() }
                }
                SocialQuery::Reddit { query, subreddit } => {
                    Config { query: Some(query.clone()), subreddit: subreddit.clone(), ..Config::default() }
                }
                SocialQuery::YouTube { channel_id, .. } => {
                    Config { channel_id: Some(channel_id.clone()), ..Config::default() }
                }
            },
            SourceSpec::Html { selectors, kind, .. } => {
                Config { selectors: Some(selectors.clone()), kind: Some(*kind), ..Config::default() }
            }
            SourceSpec::Search { term, language, top, .. } => {
                Config { term: Some(term.clone()), language: language.clone(), top: Some(*top), ..Config::default() }
            }
        }
    }

    /// The row to store for this source.
    pub fn new_source(&self, interval_secs: i64, first_due_at: DateTime<Utc>) -> NewSource {
        NewSource {
            source_type: self.source_type(),
            url: self.display_url(),
            config: serde_json::to_value(self.config()).unwrap_or_else(|_| serde_json::json!({})),
            interval_secs,
            first_due_at,
        }
    }

    /// Reads a stored source back, with the secrets its type needs.
    pub fn of_source(source: &Source, secrets: &Secrets) -> Result<SourceSpec, String> {
        let config: Config = serde_json::from_value(source.config.clone())
            .map_err(|e| format!("the stored definition of this source is not readable ({e}); re-add it"))?;
        let required = |v: Option<String>, what: &str| {
            v.ok_or_else(|| format!("the stored definition of this source lacks its {what}; re-add it"))
        };
        let spec = match source.source_type {
            SourceType::Rss => SourceSpec::Feed { url: source.url.clone() },
            SourceType::Mastodon => {
                let url = Url::parse(&source.url).map_err(|e| format!("stored address {:?}: {e}", source.url))?;
                let instance = url.join("/").map_err(|e| format!("stored address {:?}: {e}", source.url))?;
                SourceSpec::Social(SocialQuery::Mastodon { instance, hashtag: config.hashtag, search: config.search })
            }
            SourceType::Bluesky => SourceSpec::Social(SocialQuery::Bluesky { query: required(config.query, "query")? }),
            SourceType::Reddit => SourceSpec::Social(SocialQuery::Reddit {
                query: required(config.query, "query")?,
                subreddit: config.subreddit,
            }),
            SourceType::Hackernews => {
                SourceSpec::Social(SocialQuery::HackerNews { query: required(config.query, "query")? })
            }
            SourceType::Youtube => {
                let api_key = secrets.youtube_api_key.clone().filter(|k| !k.trim().is_empty()).ok_or_else(|| {
                    "YouTube sources need a YouTube Data API key: set VIGIE_YOUTUBE_API_KEY for `vigie collect`"
                        .to_string()
                })?;
                SourceSpec::Social(SocialQuery::YouTube {
                    channel_id: required(config.channel_id, "channel id")?,
                    api_key,
                })
            }
            SourceType::Html => SourceSpec::Html {
                url: source.url.clone(),
                selectors: config.selectors.ok_or("the stored definition of this source lacks its selectors")?,
                kind: config.kind.unwrap_or(SourceKind::Web),
            },
            SourceType::Search => {
                let mut endpoint =
                    Url::parse(&source.url).map_err(|e| format!("stored address {:?}: {e}", source.url))?;
                endpoint.set_query(None);
                SourceSpec::Search {
                    endpoint: endpoint.to_string(),
                    term: required(config.term, "term")?,
                    language: config.language,
                    top: config.top.unwrap_or(vigie_collect::search::DEFAULT_TOP),
                }
            }
        };
        Ok(spec)
    }

    /// What the source reads, in words, for listings.
    pub fn describe(&self) -> String {
        match self {
            SourceSpec::Feed { .. } => "feed".into(),
            SourceSpec::Social(SocialQuery::Mastodon { hashtag: Some(t), .. }) => format!("hashtag #{t}"),
            SourceSpec::Social(SocialQuery::Mastodon { search, .. }) => {
                format!("search {:?}", search.as_deref().unwrap_or_default())
            }
            SourceSpec::Social(SocialQuery::Bluesky { query } | SocialQuery::HackerNews { query }) => {
                format!("search {query:?}")
            }
            SourceSpec::Social(SocialQuery::Reddit { query, subreddit }) => match subreddit {
                Some(s) => format!("search {query:?} in r/{s}"),
                None => format!("search {query:?}"),
            },
            SourceSpec::Social(SocialQuery::YouTube { channel_id, .. }) => format!("comments of channel {channel_id}"),
            SourceSpec::Html { kind, selectors, .. } => format!("{kind} page, items {:?}", selectors.item),
            SourceSpec::Search { term, top, .. } => format!("top {top} results for {term:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(spec: &SourceSpec) -> Source {
        let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        let new = spec.new_source(900, now);
        Source {
            id: 1,
            source_type: new.source_type,
            url: new.url,
            config: new.config,
            interval_secs: 900,
            created_at: now,
            next_due_at: now,
            last_attempt_at: None,
            last_success_at: None,
            last_error: None,
            last_warning: None,
            consecutive_failures: 0,
            quota_limited: false,
            last_item_count: 0,
            total_stored: 0,
            etag: None,
            last_modified: None,
            cursor: None,
        }
    }

    fn params() -> SourceParams {
        SourceParams::default()
    }

    #[test]
    fn every_type_round_trips_through_the_stored_row() {
        let secrets = Secrets { youtube_api_key: Some("k".into()) };
        let cases = vec![
            (SourceType::Rss, SourceParams { url: Some("https://example.org/feed.xml".into()), ..params() }),
            (
                SourceType::Mastodon,
                SourceParams {
                    url: Some("https://mastodon.social".into()),
                    hashtag: Some("#Vigie".into()),
                    ..params()
                },
            ),
            (
                SourceType::Mastodon,
                SourceParams { url: Some("https://piaille.fr/".into()), query: Some("SNCF retard".into()), ..params() },
            ),
            (SourceType::Bluesky, SourceParams { query: Some("brasserie dupont".into()), ..params() }),
            (
                SourceType::Reddit,
                SourceParams { query: Some("dupont".into()), subreddit: Some("r/france".into()), ..params() },
            ),
            (SourceType::Hackernews, SourceParams { query: Some("vigie".into()), ..params() }),
            (SourceType::Youtube, SourceParams { channel_id: Some("UC_x5XG1OV2P6uZZ5FSM9Ttw".into()), ..params() }),
            (
                SourceType::Html,
                SourceParams {
                    url: Some("https://avis.example.fr/dupont".into()),
                    selectors: Selectors {
                        item: "article.review".into(),
                        text: Some("p".into()),
                        ..Selectors::default()
                    },
                    kind: Some(SourceKind::Review),
                    ..params()
                },
            ),
            (
                SourceType::Search,
                SourceParams {
                    url: Some("https://searx.example.org/".into()),
                    term: Some("Brasserie Dupont".into()),
                    language: Some("fr".into()),
                    ..params()
                },
            ),
        ];
        for (source_type, p) in cases {
            let spec = SourceSpec::from_params(source_type, &p).unwrap_or_else(|e| panic!("{source_type}: {e}"));
            assert_eq!(spec.source_type(), source_type);
            let mut back = SourceSpec::of_source(&stored(&spec), &secrets).unwrap_or_else(|e| panic!("{e}"));
            if let SourceSpec::Social(SocialQuery::YouTube { api_key, .. }) = &mut back {
                assert_eq!(api_key, "k");
                api_key.clear();
            }
            assert_eq!(back, spec, "{source_type}");
        }
    }

    #[test]
    fn definitions_are_checked_with_messages_that_say_what_to_fix() {
        let err = |t: SourceType, p: SourceParams| SourceSpec::from_params(t, &p).unwrap_err();
        assert!(err(SourceType::Bluesky, params()).contains("--query is required"));
        let e =
            err(SourceType::Bluesky, SourceParams { query: Some("x".into()), subreddit: Some("y".into()), ..params() });
        assert!(e.contains("does not take --subreddit"), "{e}");
        let e = err(
            SourceType::Mastodon,
            SourceParams {
                url: Some("https://m.social".into()),
                hashtag: Some("a".into()),
                query: Some("b".into()),
                ..params()
            },
        );
        assert!(e.contains("exactly one of --hashtag and --query"), "{e}");
        let e = err(SourceType::Html, SourceParams { url: Some("https://a.example/".into()), ..params() });
        assert!(e.contains("--item"), "{e}");
        let e = err(
            SourceType::Html,
            SourceParams {
                url: Some("https://a.example/".into()),
                selectors: Selectors { item: "div[".into(), ..Selectors::default() },
                ..params()
            },
        );
        assert!(e.contains("div["), "{e}");
        let e = err(SourceType::Rss, SourceParams { url: Some("ftp://example.org/feed".into()), ..params() });
        assert!(e.contains("feed address"), "{e}");
        let e = err(SourceType::Bluesky, SourceParams { query: Some("x".repeat(600)), ..params() });
        assert!(e.contains("too long"), "{e}");
        let e = err(
            SourceType::Search,
            SourceParams { url: Some("https://s.example/".into()), term: Some("t".into()), top: Some(0), ..params() },
        );
        assert!(e.contains("--top 0"), "{e}");
    }

    #[test]
    fn youtube_without_a_key_and_unreadable_definitions_are_errors_not_guesses() {
        let spec = SourceSpec::from_params(
            SourceType::Youtube,
            &SourceParams { channel_id: Some("UC_x5XG1OV2P6uZZ5FSM9Ttw".into()), ..params() },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let e = SourceSpec::of_source(&stored(&spec), &Secrets::default()).unwrap_err();
        assert!(e.contains("VIGIE_YOUTUBE_API_KEY"), "{e}");
        let mut broken = stored(&spec);
        broken.config = serde_json::json!({"chanel_id": "typo"});
        let e = SourceSpec::of_source(&broken, &Secrets { youtube_api_key: Some("k".into()) }).unwrap_err();
        assert!(e.contains("not readable"), "{e}");
    }
}

//! Plain data types shared by every Vigie crate.
//!
//! Nothing here does IO or reads a clock: values are built by the crates that
//! collect, normalize and store mentions, and passed between them. Keeping the
//! vocabulary in one small crate lets the pure crates (query, nlp) and the IO
//! crates (collect, store) agree without depending on each other.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod alert_text;
mod workflow_text;
pub mod zone;

pub use alert_text::{Language, UnknownLanguage, alert_title, expected_count, span_words};
pub use workflow_text::{
    Escalation, Release, WorkflowChange, WorkflowDetail, detail_text, detail_text_with, polarity_label, recorded_reply,
    status_label,
};

/// Where a mention was published: the kind of platform, not the collector.
///
/// A closed set: every kind has a stable lower-case name used in the database,
/// in import files (`source` column) and in queries (`source:forum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    News,
    Blog,
    Forum,
    Review,
    Twitter,
    Facebook,
    Instagram,
    Linkedin,
    Tiktok,
    Mastodon,
    Bluesky,
    Reddit,
    Youtube,
    Hackernews,
    /// An item of an RSS, Atom or JSON feed whose platform is not known better.
    Rss,
    /// A web page scraped by selectors, or a search result.
    Web,
    Other,
}

/// The kinds whose item ids name one item wherever it is read
/// ([`SourceKind::has_global_ids`]), as stored: the migrations that rekeyed
/// stored mentions list the same.
pub const GLOBAL_ID_KINDS: [&str; 9] =
    ["twitter", "facebook", "instagram", "linkedin", "tiktok", "bluesky", "reddit", "youtube", "hackernews"];

impl SourceKind {
    /// Whether an item id of this platform names one item wherever it is
    /// read (Mastodon's do not: each server numbers the statuses it sees).
    pub fn has_global_ids(self) -> bool {
        matches!(
            self,
            SourceKind::Twitter
                | SourceKind::Facebook
                | SourceKind::Instagram
                | SourceKind::Linkedin
                | SourceKind::Tiktok
                | SourceKind::Bluesky
                | SourceKind::Reddit
                | SourceKind::Youtube
                | SourceKind::Hackernews
        )
    }

    pub const ALL: [SourceKind; 17] = [
        SourceKind::News,
        SourceKind::Blog,
        SourceKind::Forum,
        SourceKind::Review,
        SourceKind::Twitter,
        SourceKind::Facebook,
        SourceKind::Instagram,
        SourceKind::Linkedin,
        SourceKind::Tiktok,
        SourceKind::Mastodon,
        SourceKind::Bluesky,
        SourceKind::Reddit,
        SourceKind::Youtube,
        SourceKind::Hackernews,
        SourceKind::Rss,
        SourceKind::Web,
        SourceKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::News => "news",
            SourceKind::Blog => "blog",
            SourceKind::Forum => "forum",
            SourceKind::Review => "review",
            SourceKind::Twitter => "twitter",
            SourceKind::Facebook => "facebook",
            SourceKind::Instagram => "instagram",
            SourceKind::Linkedin => "linkedin",
            SourceKind::Tiktok => "tiktok",
            SourceKind::Mastodon => "mastodon",
            SourceKind::Bluesky => "bluesky",
            SourceKind::Reddit => "reddit",
            SourceKind::Youtube => "youtube",
            SourceKind::Hackernews => "hackernews",
            SourceKind::Rss => "rss",
            SourceKind::Web => "web",
            SourceKind::Other => "other",
        }
    }

    /// The names accepted by [`FromStr`], for error messages and `--help`.
    pub fn names() -> String {
        Self::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown source kind {given:?}; expected one of: {}", SourceKind::names())]
pub struct UnknownSourceKind {
    pub given: String,
}

impl FromStr for SourceKind {
    type Err = UnknownSourceKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let kind = match lower.as_str() {
            "x" | "tweet" => SourceKind::Twitter,
            "hn" | "hacker news" | "hacker-news" => SourceKind::Hackernews,
            "feed" | "atom" | "jsonfeed" => SourceKind::Rss,
            "reviews" => SourceKind::Review,
            "forums" => SourceKind::Forum,
            "press" => SourceKind::News,
            other => match SourceKind::ALL.iter().find(|k| k.as_str() == other) {
                Some(k) => *k,
                None => {
                    return Err(UnknownSourceKind { given: s.to_string() });
                }
            },
        };
        Ok(kind)
    }
}

/// A mention as it arrives from a collector or an import file: untrusted,
/// possibly HTML, possibly missing fields. The pipeline turns it into a
/// [`Mention`] or rejects it with a reason.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawMention {
    /// The item's identifier in its source (tweet id, feed GUID…).
    pub source_item_id: Option<String>,
    pub url: Option<String>,
    pub title: Option<String>,
    /// Body, HTML unless `plain_text` says it is plain text already.
    pub text: String,
    /// The title and text are plain text: `<` and `&` are characters, not
    /// markup (Vigie's own exports, platform exports of plain posts).
    #[serde(default)]
    pub plain_text: bool,
    pub author: Option<String>,
    /// Publication time; `None` when the source gave none (the pipeline then
    /// uses the collection time and says so).
    pub published_at: Option<DateTime<Utc>>,
    pub source_kind: Option<SourceKind>,
    pub site: Option<String>,
    /// Language code given by the source (`fr`, `en`…), trusted over detection.
    pub lang: Option<String>,
    /// Audience figure given by the source (followers, views).
    pub reach: Option<i64>,
    /// Audience and engagement figures given by the source, for the reach
    /// estimate.
    #[serde(default)]
    pub engagement: Engagement,
}

/// The departments of the default workflow (English, as seeded) with their
/// French names.
const DEFAULT_DEPARTMENTS_FR: &[(&str, &str)] = &[
    ("Customer service", "Service client"),
    ("Logistics and operations", "Logistique et opérations"),
    ("Product", "Produit"),
    ("Billing", "Facturation"),
    ("Digital", "Numérique"),
    ("Human resources", "Ressources humaines"),
    ("Legal", "Juridique"),
    ("CSR", "RSE"),
    ("Quality and safety", "Qualité et sécurité"),
];

/// A department's name for a reader: a default department kept as seeded is
/// named in French for a French reader; any other name is the project's own.
pub fn department_name(name: &str, lang: Language) -> &str {
    match lang {
        Language::Fr => DEFAULT_DEPARTMENTS_FR.iter().find(|(en, _)| *en == name).map_or(name, |(_, fr)| fr),
        Language::En => name,
    }
}

/// How far past its arrival a publication date may lie: sources in other time
/// zones and slightly fast clocks are tolerated, a date further ahead is an
/// error of the source.
pub const MAX_PUBLISHED_AHEAD: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// The earliest publication date taken as true (1991-01-01, the public web's
/// first year): earlier dates are placeholders such as the Unix epoch.
pub fn earliest_published_at() -> DateTime<Utc> {
    DateTime::from_timestamp(662_688_000, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Why a publication date cannot be believed, for a mention arriving at
/// `arrival`: too far in the future or before the web. `None` when it can.
pub fn implausible_published_at(published: DateTime<Utc>, arrival: DateTime<Utc>) -> Option<String> {
    if published > arrival + MAX_PUBLISHED_AHEAD {
        Some(format!(
            "{} is in the future (more than a day after {})",
            published.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            arrival.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))
    } else if published < earliest_published_at() {
        Some(format!(
            "{} is before 1991, the public web's first year (a placeholder date?)",
            published.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))
    } else {
        None
    }
}

/// What a source tells about the audience of one mention; all optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engagement {
    pub followers: Option<u64>,
    pub likes: Option<u64>,
    pub shares: Option<u64>,
    pub comments: Option<u64>,
    pub views: Option<u64>,
}

impl Engagement {
    pub fn is_empty(&self) -> bool {
        *self == Engagement::default()
    }
}

/// A normalized mention, ready to be stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    /// Store identifier; 0 before the mention is stored.
    pub id: i64,
    pub source_kind: SourceKind,
    pub source_item_id: Option<String>,
    /// Canonical URL (lower-case host, no fragment, no tracking parameters).
    pub url: Option<String>,
    pub title: Option<String>,
    /// Clean text: no markup, entities decoded, NFC, whitespace collapsed.
    pub text: String,
    pub author: Option<String>,
    /// Host of the page (from the URL unless the source said otherwise).
    pub site: Option<String>,
    pub published_at: DateTime<Utc>,
    pub collected_at: DateTime<Utc>,
    /// ISO 639-1 code, or `None` when it could not be told.
    pub lang: Option<String>,
    /// Confidence of the language: 1.0 when the source gave it.
    pub lang_confidence: f32,
    pub reach: Option<i64>,
    /// Hex SHA-256 of the normalized title and text: the last-resort dedup key.
    pub content_hash: String,
    /// The key the store deduplicates on (see [`Mention::dedup_key`]).
    pub dedup_key: String,
    /// What the analysis step found: sentiment, themes, story, reach.
    #[serde(default)]
    pub analysis: Analysis,
}

/// The polarity of a sentiment verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Polarity {
    Negative,
    Neutral,
    Positive,
}

impl Polarity {
    pub const ALL: [Polarity; 3] = [Polarity::Negative, Polarity::Neutral, Polarity::Positive];

    pub fn as_str(self) -> &'static str {
        match self {
            Polarity::Negative => "negative",
            Polarity::Neutral => "neutral",
            Polarity::Positive => "positive",
        }
    }
}

impl fmt::Display for Polarity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A polarity name that is not one of `negative`, `neutral`, `positive`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sentiment {given:?}: expected negative, neutral or positive")]
pub struct UnknownPolarity {
    pub given: String,
}

impl FromStr for Polarity {
    type Err = UnknownPolarity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "negative" | "neg" | "-" => Ok(Polarity::Negative),
            "neutral" | "neu" | "0" => Ok(Polarity::Neutral),
            "positive" | "pos" | "+" => Ok(Polarity::Positive),
            _ => Err(UnknownPolarity { given: s.to_string() }),
        }
    }
}

/// One feature that pushed a verdict, for the explanation shown to users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// Readable feature: a word, a phrase (`pas bon`), an emoji, `ALL CAPS`…
    pub feature: String,
    /// Positive pushes toward positive, negative toward negative.
    pub weight: f32,
}

/// A sentiment verdict on one mention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    pub label: Polarity,
    /// Calibrated, in [-1, 1]; its sign agrees with `label` unless neutral.
    pub score: f32,
    /// Probability of `label`.
    pub confidence: f32,
    /// The model that gave it (`fast-v1`, `encoder-v1`, a project's own).
    pub model: String,
    pub explanation: Vec<Contribution>,
}

/// A theme a mention is about, with how sure the analysis is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThemeScore {
    /// The theme's key (`delivery_logistics`…).
    pub theme: String,
    /// In [0, 1].
    pub score: f32,
    /// What found it: the keywords that matched, or `classifier`.
    pub evidence: Vec<String>,
}

/// The reach estimate of one mention (see `vigie_nlp::reach`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReachEstimate {
    /// People who could have seen it.
    pub audience: u64,
    pub engagement: u64,
    /// 0–100, comparable across sources.
    pub score: f32,
    /// What it was computed from (`followers`, `views`, `default for news`…).
    pub basis: String,
}

/// What the analysis step adds to a mention.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Analysis {
    /// `None`: unsupported language or nothing to judge ("unknown").
    pub sentiment: Option<Sentiment>,
    /// A person's correction of the verdict, which wins over it.
    pub corrected: Option<Polarity>,
    pub themes: Vec<ThemeScore>,
    /// The first mention of the story this one is a copy of; `None` when it
    /// starts its own story.
    pub story_id: Option<i64>,
    pub reach: Option<ReachEstimate>,
}

impl Analysis {
    /// The polarity to count and show: the correction if any, else the verdict.
    pub fn polarity(&self) -> Option<Polarity> {
        self.corrected.or(self.sentiment.as_ref().map(|s| s.label))
    }
}

impl Mention {
    /// The identity of a mention within a project. On a platform whose item
    /// ids are the same everywhere (tweets, Facebook and Instagram posts and
    /// comments, Reddit, YouTube, Hacker News, Bluesky…), the platform's id:
    /// the comments of one post share the post's URL but are different
    /// mentions. Elsewhere the canonical URL (a syndicated article read from
    /// two feeds under two GUIDs is one mention; a Mastodon status has an id
    /// per server), else the source item id, else the content hash.
    pub fn dedup_key_for(
        url: Option<&str>,
        kind: SourceKind,
        source_item_id: Option<&str>,
        content_hash: &str,
    ) -> String {
        match (url, source_item_id) {
            (_, Some(id)) if kind.has_global_ids() => format!("id:{kind}:{id}"),
            (Some(url), _) => format!("url:{url}"),
            (None, Some(id)) => format!("id:{kind}:{id}"),
            (None, None) => format!("hash:{content_hash}"),
        }
    }
}

/// A theme of a project's taxonomy: what mentions are about, and the
/// department that answers them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Theme {
    pub id: i64,
    /// Stable identifier (`delivery_logistics`), also the routing
    /// classifier's class name for the default themes.
    pub key: String,
    pub name: String,
    pub department: String,
    /// Keywords in the query language.
    pub query: String,
}

/// A watch: a named boolean query over a project's mentions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    pub id: i64,
    pub name: String,
    pub query: String,
    /// A competitor watch counts in share of voice against the others.
    pub competitor: bool,
    /// Restrict to these languages (empty: all).
    pub langs: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// The kinds of collection source: one closed set, each with its own
/// parameters (kept in [`Source::config`]) and its own parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceType {
    /// RSS 0.9x/1.0/2.0, Atom or JSON Feed.
    Rss,
    /// A Mastodon instance's hashtag timeline or status search.
    Mastodon,
    /// Bluesky's public post search.
    Bluesky,
    /// Reddit search, everywhere or in one subreddit.
    Reddit,
    /// Hacker News through the Algolia search API.
    Hackernews,
    /// Comments on a YouTube channel's videos (Data API, key from the configuration).
    Youtube,
    /// A web page read with CSS selectors (review sites, forums without feeds).
    Html,
    /// A search-result watch: a SearXNG-compatible endpoint queried for a term.
    Search,
}

impl SourceType {
    pub const ALL: [SourceType; 8] = [
        SourceType::Rss,
        SourceType::Mastodon,
        SourceType::Bluesky,
        SourceType::Reddit,
        SourceType::Hackernews,
        SourceType::Youtube,
        SourceType::Html,
        SourceType::Search,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Rss => "rss",
            SourceType::Mastodon => "mastodon",
            SourceType::Bluesky => "bluesky",
            SourceType::Reddit => "reddit",
            SourceType::Hackernews => "hackernews",
            SourceType::Youtube => "youtube",
            SourceType::Html => "html",
            SourceType::Search => "search",
        }
    }
}

impl FromStr for SourceType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "rss" | "atom" | "feed" | "jsonfeed" => Ok(SourceType::Rss),
            "hn" => Ok(SourceType::Hackernews),
            "web" | "page" => Ok(SourceType::Html),
            "searxng" => Ok(SourceType::Search),
            other => SourceType::ALL.into_iter().find(|t| t.as_str() == other).ok_or_else(|| {
                let names: Vec<&str> = SourceType::ALL.iter().map(|t| t.as_str()).collect();
                format!("unknown source type {other:?}; expected one of: {}", names.join(", "))
            }),
        }
    }
}

impl fmt::Display for SourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place mentions are collected from, with its health record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub id: i64,
    pub source_type: SourceType,
    /// What the source reads, as a person would open it (the feed, the
    /// page, the instance's tag page, the search page…).
    pub url: String,
    /// The type's parameters (query, selectors, term…), as JSON; `{}` for feeds.
    pub config: serde_json::Value,
    /// Seconds between two fetches.
    pub interval_secs: i64,
    pub created_at: DateTime<Utc>,
    pub next_due_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Human-readable reason of the last failure; cleared by a success.
    pub last_error: Option<String>,
    /// Something the last run noticed without failing (items skipped, a
    /// walk cut short, engines that did not answer); cleared by a clean run.
    pub last_warning: Option<String>,
    /// Failures in a row since the last success.
    pub consecutive_failures: i64,
    /// The last failure was the platform's quota or rate limit.
    pub quota_limited: bool,
    /// Items the last successful fetch returned.
    pub last_item_count: i64,
    /// Mentions this source added to the store, in all.
    pub total_stored: i64,
    /// HTTP validators for conditional GET.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Paging state of API sources (where the last run stopped), saved after
    /// the items it covers are stored.
    pub cursor: Option<serde_json::Value>,
}

impl Source {
    /// A source is failing once its last attempt failed.
    pub fn is_failing(&self) -> bool {
        self.last_error.is_some()
    }

    /// Its health in one word: `new` (never fetched), `ok`, `warning`,
    /// `error` (the last attempt failed), `failing` (the last
    /// [`Source::FAILING_AFTER`] failed) or `quota-limited`.
    pub fn health(&self) -> &'static str {
        if self.last_attempt_at.is_none() {
            "new"
        } else if self.quota_limited && self.is_failing() {
            "quota-limited"
        } else if self.consecutive_failures >= Self::FAILING_AFTER {
            "failing"
        } else if self.is_failing() {
            "error"
        } else if self.last_warning.is_some() {
            "warning"
        } else {
            "ok"
        }
    }

    /// Failures in a row after which a source is flagged as failing.
    pub const FAILING_AFTER: i64 = 3;
}

/// Which watches a stored mention matched, with the query terms that matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchMatch {
    pub watch_id: i64,
    pub terms: Vec<String>,
}

/// What raised an alert: one rule of the early-warning engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertRule {
    /// Negative mentions of a watch far above their expected level.
    NegativeSurge,
    /// All mentions of a watch far above their expected level.
    VolumeSurge,
    /// One negative mention with a large audience.
    HighReachNegative,
    /// A trigger term (boycott, arnaque, recall…) in a mention.
    TriggerTerm,
    /// A new page in the top results of a search-result watch.
    SearchRankEntry,
}

impl AlertRule {
    pub const ALL: [AlertRule; 5] = [
        AlertRule::NegativeSurge,
        AlertRule::VolumeSurge,
        AlertRule::HighReachNegative,
        AlertRule::TriggerTerm,
        AlertRule::SearchRankEntry,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertRule::NegativeSurge => "negative_surge",
            AlertRule::VolumeSurge => "volume_surge",
            AlertRule::HighReachNegative => "high_reach_negative",
            AlertRule::TriggerTerm => "trigger_term",
            AlertRule::SearchRankEntry => "search_rank_entry",
        }
    }
}

impl FromStr for AlertRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AlertRule::ALL.into_iter().find(|r| r.as_str() == s.trim()).ok_or_else(|| {
            let names: Vec<&str> = AlertRule::ALL.iter().map(|r| r.as_str()).collect();
            format!("unknown alert rule {s:?}; expected one of: {}", names.join(", "))
        })
    }
}

impl fmt::Display for AlertRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "critical" | "crit" => Ok(Severity::Critical),
            other => Err(format!("unknown severity {other:?}; expected info, warning or critical")),
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertStatus {
    /// Whether a person may move an alert from this status to `to`: a
    /// resolved alert is not acknowledged again (a new event of its crisis
    /// opens it again by itself).
    pub fn may_become(self, to: AlertStatus) -> bool {
        !(self == AlertStatus::Resolved && to == AlertStatus::Acknowledged)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl FromStr for AlertStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(AlertStatus::Open),
            "acknowledged" | "ack" => Ok(AlertStatus::Acknowledged),
            "resolved" => Ok(AlertStatus::Resolved),
            other => Err(format!("unknown alert status {other:?}; expected open, acknowledged or resolved")),
        }
    }
}

/// Why an alert fired, in figures a person can check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertEvidence {
    /// What was seen in the window (mentions, or the reach of one mention).
    pub observed: f64,
    /// What was expected there (the detector's baseline, or the rule's threshold).
    pub expected: f64,
    /// The detector's anomaly score in [0, 1], for surges.
    pub score: Option<f64>,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    /// The terms that drove it (trigger terms, or the most frequent words of the surge).
    pub terms: Vec<String>,
    /// The pages involved (search-rank entries).
    pub urls: Vec<String>,
    /// The stories (near-duplicate groups, by their first mention's id) of
    /// the mentions a per-mention rule counted, at most [`MAX_ALERT_STORIES`]:
    /// a copy of a story already counted adds its mention to the evidence,
    /// not a new event. Empty for surges.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stories: Vec<i64>,
    /// For surges: how many stories the `observed` mentions of the window
    /// are (copies of one wire article count once), when the window was
    /// read whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_stories: Option<u64>,
    /// For surges: how many authors wrote the `observed` mentions of the
    /// window (a mention without an author counts as one of its own), when
    /// the window was read whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_authors: Option<u64>,
}

/// The most stories an alert's evidence remembers.
pub const MAX_ALERT_STORIES: usize = 1000;

/// One alert: one crisis, which grows as more evidence arrives, not one
/// alert per mention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: i64,
    pub project_id: i64,
    /// The watch it concerns (`None`: the whole project, or a search source).
    pub watch_id: Option<i64>,
    pub rule: AlertRule,
    pub severity: Severity,
    pub status: AlertStatus,
    /// What makes two events the same alert (rule, watch, term or page).
    pub dedup_key: String,
    /// One line saying what happened.
    pub title: String,
    pub evidence: AlertEvidence,
    /// The mentions that drove it, most telling first (bounded).
    pub mention_ids: Vec<i64>,
    /// Events merged into this alert (1 when it opened).
    pub events: i64,
    pub opened_at: DateTime<Utc>,
    /// The last time new evidence was added.
    pub updated_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who acknowledged it (a user's name, or "command line").
    #[serde(default)]
    pub acknowledged_by: Option<String>,
    /// Who resolved it.
    #[serde(default)]
    pub resolved_by: Option<String>,
}

/// What a person may do in a project. Ordered: each role may do what the
/// ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything of the project, changes nothing.
    Viewer,
    /// Handles the inbox: triage, assign, answer, notes, sentiment corrections.
    Agent,
    /// Edits watches, sources, routing, departments, alerts and channels.
    Manager,
    /// Manages the project's members and tokens.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Agent, Role::Manager, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Agent => "agent",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "agent" => Ok(Role::Agent),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}; expected viewer, agent, manager or admin")),
        }
    }
}

/// Where a mention is in the response workflow. A mention nobody routed or
/// touched is `New` (it has no inbox row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxStatus {
    New,
    /// Needs an answer (routed to a department, or triaged by a person).
    ToHandle,
    /// A person owns it.
    Assigned,
    /// A reply was given (or a reason recorded why none was needed).
    Answered,
    Closed,
    Ignored,
}

impl InboxStatus {
    pub const ALL: [InboxStatus; 6] = [
        InboxStatus::New,
        InboxStatus::ToHandle,
        InboxStatus::Assigned,
        InboxStatus::Answered,
        InboxStatus::Closed,
        InboxStatus::Ignored,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::New => "new",
            InboxStatus::ToHandle => "to_handle",
            InboxStatus::Assigned => "assigned",
            InboxStatus::Answered => "answered",
            InboxStatus::Closed => "closed",
            InboxStatus::Ignored => "ignored",
        }
    }

    /// Still waiting for someone (counts against the response-time target).
    pub fn is_pending(self) -> bool {
        matches!(self, InboxStatus::ToHandle | InboxStatus::Assigned)
    }
}

impl fmt::Display for InboxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InboxStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace(['-', ' '], "_").as_str() {
            "new" => Ok(InboxStatus::New),
            "to_handle" | "todo" => Ok(InboxStatus::ToHandle),
            "assigned" => Ok(InboxStatus::Assigned),
            "answered" => Ok(InboxStatus::Answered),
            "closed" => Ok(InboxStatus::Closed),
            "ignored" => Ok(InboxStatus::Ignored),
            other => {
                Err(format!("unknown status {other:?}; expected new, to_handle, assigned, answered, closed or ignored"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_kind_round_trips_through_its_name() {
        for kind in SourceKind::ALL {
            assert_eq!(kind.as_str().parse::<SourceKind>(), Ok(kind));
        }
        assert_eq!("X".parse::<SourceKind>(), Ok(SourceKind::Twitter));
        let err = "myspace".parse::<SourceKind>().unwrap_err();
        assert!(err.to_string().contains("forum"), "{err}");
    }

    #[test]
    fn dedup_key_prefers_url_then_id_then_hash() {
        let k = Mention::dedup_key_for(Some("https://a.fr/x"), SourceKind::Blog, Some("9"), "h");
        assert_eq!(k, "url:https://a.fr/x");
        let k = Mention::dedup_key_for(None, SourceKind::Twitter, Some("9"), "h");
        assert_eq!(k, "id:twitter:9");
        assert_eq!(Mention::dedup_key_for(None, SourceKind::Blog, None, "h"), "hash:h");
        // A platform's own ids win over the URL: two comments of one post.
        let post = Some("https://www.facebook.com/acme/posts/123");
        let a = Mention::dedup_key_for(post, SourceKind::Facebook, Some("fbc-1"), "h1");
        let b = Mention::dedup_key_for(post, SourceKind::Facebook, Some("fbc-2"), "h2");
        assert_eq!((a.as_str(), b.as_str()), ("id:facebook:fbc-1", "id:facebook:fbc-2"));
        // Not Mastodon's (one id per server), nor a feed's GUIDs.
        let toot = Some("https://mastodon.social/@acme/1");
        assert_eq!(
            Mention::dedup_key_for(toot, SourceKind::Mastodon, Some("77"), "h"),
            "url:https://mastodon.social/@acme/1"
        );
        let kinds: Vec<&str> = SourceKind::ALL.iter().filter(|k| k.has_global_ids()).map(|k| k.as_str()).collect();
        assert_eq!(kinds, GLOBAL_ID_KINDS);
    }
}

//! Vigie's storage.
//!
//! Everything the product keeps goes through the [`Store`] trait: projects,
//! watches, sources with their health record, and mentions with the watches
//! they matched and their full-text index entries. The trait speaks in plain
//! [`vigie_model`] types and epoch-free `DateTime<Utc>`s; each backend writes
//! its own SQL ([`SqliteStore`], the embedded default, and [`PgStore`] for
//! installations that scale out) so neither is bent to the other's dialect.
//!
//! What the store does not do: parse queries or decide what matches. Search is
//! a pre-filter (an FTS expression computed by `vigie-query`) that the store
//! answers with candidate mentions, newest stored first; the caller confirms
//! each candidate with the Rust matcher. That keeps watch matching and search
//! in exact agreement whatever the backend.
//!
//! **Invariant**: a mention is identified within its project by its
//! `dedup_key`; inserting the same key twice stores it once, so a rerun of an
//! interrupted import or collection never duplicates anything.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vigie_model::{
    Alert, AlertStatus, Analysis, InboxStatus, Language, Mention, Polarity, Role, Sentiment, Severity, Source,
    SourceKind, SourceType, Theme, Watch, WatchMatch,
};

pub mod accounts;
mod codec;
pub mod migrate;
pub mod postgres;
pub mod reports;
mod rollup;
pub mod sqlite;
pub mod workflow;

pub use accounts::{Accounts, AuditEntry, NewAudit, NewUser, Session, User};
pub use reports::{Frequency, NewReportSchedule, REPORT_SEND_LEASE_SECS, ReportSchedule, ReportStats, Reports};
pub use workflow::{
    AuthorRow, Buckets, ChangedBy, Department, EscalationMail, InboxCounts, InboxFilter, InboxItem, MailOutcome,
    NO_DEPARTMENT, NewDepartment, NewEscalationMails, NewRoutingRule, NewWorkflowEvent, Overview, ResponseScope,
    ResponseStats, RoutingRule, SentimentBucket, WatchCount, Workflow, WorkflowEvent,
};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database server could not be reached or refused the connection
    /// (where, and why).
    #[error("{0}")]
    Unreachable(String),
    /// The database's schema is newer than this program knows.
    #[error("{0}")]
    Incompatible(String),
}

impl StoreError {
    /// The database cannot be reached right now (down, restarting, refusing
    /// connections, its pool exhausted): a moment later the same request may
    /// succeed, unlike a broken query or corrupt data.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unreachable(_) => true,
            StoreError::Database(e) => match e {
                sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
                // PostgreSQL's "connection exception" (08…), "operator
                // intervention" (57…: shutting down), "insufficient
                // resources" (53…) classes, a database that does not accept
                // connections now (55000, `ALLOW_CONNECTIONS false`) or was
                // dropped (3D000).
                sqlx::Error::Database(d) => match d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    // 55000 is raised by many statements; refused at
                    // connection it comes from the backend's start-up code
                    // (`postinit.c`, whatever the server's language).
                    Some(pg) => {
                        let c = pg.code();
                        c.starts_with("08")
                            || c.starts_with("57")
                            || c.starts_with("53")
                            || (c == "55000" && pg.file() == Some("postinit.c"))
                            || c == "3D000"
                    }
                    None => false,
                },
                _ => false,
            },
            _ => false,
        }
    }
}

/// A migration error, said for the person running Vigie: a database a newer
/// Vigie upgraded is named as such (sqlx says "migration N was previously
/// applied but is missing in the resolved migrations").
pub(crate) fn migration_error(e: sqlx::migrate::MigrateError, known: i64) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::VersionMissing(version) => StoreError::Incompatible(format!(
            "this database was upgraded by a newer Vigie (its schema has migration {version}; this Vigie knows \
             them up to {known}): run that newer Vigie, or a backup made before the upgrade"
        )),
        other => StoreError::Migration(other),
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewWatch {
    pub name: String,
    pub query: String,
    pub competitor: bool,
    pub langs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct NewSource {
    pub source_type: SourceType,
    pub url: String,
    /// The type's parameters as JSON (`{}` for feeds).
    pub config: serde_json::Value,
    pub interval_secs: i64,
    /// The first fetch (sources added together are spread over their interval).
    pub first_due_at: DateTime<Utc>,
}

/// Coverage of one source over a recent period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceCoverage {
    pub source_id: i64,
    /// Mentions it stored in the period.
    pub stored: i64,
    /// Median time between publication and collection of those mentions, in
    /// seconds (mentions without a publication time of their own count as 0).
    pub median_lag_secs: Option<i64>,
}

/// One run of a search-result watch.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRun {
    pub id: i64,
    pub source_id: i64,
    pub ran_at: DateTime<Utc>,
    /// The ranked results, as JSON (`[{"rank", "url", "title"}]`).
    pub results: serde_json::Value,
    /// What changed in the top results since the run before, as JSON.
    pub changes: serde_json::Value,
}

/// A token of the push API. The token itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    /// What the token may do in its project (the push API needs `agent`).
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A mention ready to store, with what the pipeline computed for it.
#[derive(Debug, Clone)]
pub struct MentionRecord {
    pub mention: Mention,
    /// The collection source it came from, if any.
    pub source_id: Option<i64>,
    pub matches: Vec<WatchMatch>,
    /// `vigie_query::index_text` of the title and the text.
    pub fts_title: String,
    pub fts_text: String,
}

/// What one batch insert did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertReport {
    pub inserted: u64,
    /// Already stored (same dedup key), or repeated within the batch.
    pub duplicates: u64,
    /// Store ids of the inserted mentions, in batch order.
    pub inserted_ids: Vec<i64>,
    /// For each of `inserted_ids`, the index of its record in the batch.
    pub inserted_index: Vec<usize>,
}

/// Filters applied by the store itself (cheap, indexed).
#[derive(Debug, Clone, Default)]
pub struct MentionFilter {
    pub watch_id: Option<i64>,
    pub published_since: Option<DateTime<Utc>>,
    pub published_until: Option<DateTime<Utc>>,
    /// The mentions of one story: its first mention and its copies.
    pub story_id: Option<i64>,
    /// Only mentions whose sentiment a person corrected.
    pub corrected_only: bool,
    /// Only mentions of this polarity (the correction wins over the verdict).
    pub polarity: Option<Polarity>,
    /// Only mentions without a sentiment (unsupported or unknown language, no
    /// words to judge, and no correction).
    pub sentiment_unknown: bool,
    /// Language code; `unknown` selects mentions without one.
    pub lang: Option<String>,
    pub source_kind: Option<SourceKind>,
    /// The site (host, lower case, without `www.`) or any of its subdomains.
    pub site: Option<String>,
    /// Mentions the analysis gave this theme key.
    pub theme: Option<String>,
    /// Workflow status (`New`: mentions without an inbox row or with status new).
    pub status: Option<InboxStatus>,
}

#[derive(Debug, Clone)]
pub struct NewTheme {
    pub key: String,
    pub name: String,
    pub department: String,
    pub query: String,
}

/// A stored mention with the watches it matched.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMention {
    pub mention: Mention,
    pub source_id: Option<i64>,
    pub matches: Vec<WatchMatch>,
}

/// One row of a count summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    pub key: String,
    pub count: i64,
}

/// Counts for a project: per watch, language and UTC day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectSummary {
    pub total: i64,
    /// Watch name → mentions matched; watches with no mention are listed with 0.
    pub per_watch: Vec<CountRow>,
    /// Language code (or `unknown`) → mentions.
    pub per_lang: Vec<CountRow>,
    /// `YYYY-MM-DD` (UTC, publication day) → mentions.
    pub per_day: Vec<CountRow>,
    /// Polarity (a correction wins over the verdict; `unknown` when none) → mentions.
    pub per_sentiment: Vec<CountRow>,
    /// Theme key → mentions.
    pub per_theme: Vec<CountRow>,
}

/// The outcome of one fetch of a source, recorded on its health record.
#[derive(Debug, Clone)]
pub enum FetchRecord {
    Success {
        at: DateTime<Utc>,
        items: i64,
        stored: i64,
        etag: Option<String>,
        last_modified: Option<String>,
        next_due_at: DateTime<Utc>,
        /// The paging state to keep (API sources); `None` keeps the stored one.
        cursor: Option<serde_json::Value>,
        /// Something noticed without failing; `None` clears the last one.
        warning: Option<String>,
    },
    NotModified {
        at: DateTime<Utc>,
        next_due_at: DateTime<Utc>,
    },
    Failure {
        at: DateTime<Utc>,
        error: String,
        next_due_at: DateTime<Utc>,
        /// The platform's quota or rate limit was hit.
        quota_limited: bool,
        /// Items before the failure were stored: the paging state that covers
        /// them (`None` keeps the stored one).
        cursor: Option<serde_json::Value>,
        /// Mentions stored before the failure.
        stored: i64,
    },
}

/// Length of the buckets of the watches' time series.
pub const BUCKET_SECS: i64 = 300;
/// The series kept per watch.
pub const SERIES_ALL: &str = "all";
pub const SERIES_NEGATIVE: &str = "negative";

/// The start of the bucket holding `t`.
pub fn bucket_start(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(BUCKET_SECS) * BUCKET_SECS
}

/// Where a project's alerts are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: i64,
    pub project_id: i64,
    /// `webhook` or `email`.
    pub kind: String,
    /// The webhook URL, or comma-separated e-mail addresses.
    pub target: String,
    /// The webhook's HMAC secret.
    pub secret: Option<String>,
    /// Alerts below this severity are not sent here.
    pub min_severity: Severity,
    /// The language notifications are written in (channels made before
    /// there was a choice are English).
    pub lang: Language,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewChannel {
    pub kind: String,
    pub target: String,
    pub secret: Option<String>,
    pub min_severity: Severity,
    /// French unless told otherwise.
    pub lang: Language,
}

/// A notification to send: one alert event to one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub alert: Alert,
    /// The alert's event number this notification is about.
    pub event: i64,
    pub channel: Channel,
    pub attempts: i64,
    pub status: String,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone)]
pub enum DeliveryRecord {
    Sent { at: DateTime<Utc> },
    Retry { at: DateTime<Utc>, error: String, next_attempt_at: DateTime<Utc> },
    Failed { at: DateTime<Utc>, error: String },
}

/// Where a page of alerts ended: the last alert's `updated_at` and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertCursor {
    pub updated_at: DateTime<Utc>,
    pub id: i64,
}

impl AlertCursor {
    pub fn of(alert: &Alert) -> AlertCursor {
        AlertCursor { updated_at: alert.updated_at, id: alert.id }
    }
}

impl std::fmt::Display for AlertCursor {
    /// `SECONDS-ID`, what an API answer gives as `next_cursor`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.updated_at.timestamp(), self.id)
    }
}

impl std::str::FromStr for AlertCursor {
    type Err = ();

    fn from_str(s: &str) -> std::result::Result<AlertCursor, ()> {
        let (secs, id) = s.split_once('-').ok_or(())?;
        let updated_at = DateTime::from_timestamp(secs.parse().map_err(|_| ())?, 0).ok_or(())?;
        Ok(AlertCursor { updated_at, id: id.parse().map_err(|_| ())? })
    }
}

/// A stored item of a source, as [`Store::source_items`] returns it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceItem {
    /// The item's id in its source (a feed's GUID).
    pub id: String,
    pub content_hash: String,
    /// The key it is stored under (its link, when it had one).
    pub dedup_key: String,
}

/// A stored mention as [`Store::keyed_items`] gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedItem {
    pub dedup_key: String,
    pub url: Option<String>,
    /// Its id in its source, when the source gave one.
    pub source_item_id: Option<String>,
    pub content_hash: String,
    /// Where the id is from: the source that stored it (none: an import or
    /// a push) and the kind of source (`forum`, `news`…).
    pub source_id: Option<i64>,
    pub source_kind: String,
}

/// Storage for every Vigie backend. Implementations must pass the shared
/// test suite in `tests/store_suite.rs`. People and access live in
/// [`Accounts`], the response workflow and dashboard aggregates in
/// [`Workflow`].
#[async_trait]
pub trait Store: Accounts + Workflow + Reports + Send + Sync {
    /// Returns the project with that name, creating it if needed.
    async fn ensure_project(&self, name: &str, now: DateTime<Utc>) -> Result<Project>;
    async fn project(&self, name: &str) -> Result<Option<Project>>;
    async fn project_by_id(&self, id: i64) -> Result<Option<Project>>;
    async fn list_projects(&self) -> Result<Vec<Project>>;

    /// Fails with [`StoreError::Conflict`] if the project has a watch of that name.
    async fn add_watch(&self, project_id: i64, watch: NewWatch, now: DateTime<Utc>) -> Result<Watch>;
    async fn update_watch(&self, project_id: i64, watch: &Watch) -> Result<()>;
    async fn list_watches(&self, project_id: i64) -> Result<Vec<Watch>>;
    async fn watch_by_name(&self, project_id: i64, name: &str) -> Result<Option<Watch>>;
    /// Removes the watch and its matches; false if there was none of that name.
    async fn remove_watch(&self, project_id: i64, name: &str) -> Result<bool>;
    /// Forgets every match of the watch (its query changed: the caller
    /// re-matches stored mentions with `add_matches`). Returns how many.
    async fn clear_matches(&self, watch_id: i64) -> Result<u64>;
    /// Records matches for existing mentions (a watch added after them).
    async fn add_matches(&self, watch_id: i64, matches: &[(i64, Vec<String>)]) -> Result<u64>;

    /// Fails with [`StoreError::Conflict`] if the project already has it.
    async fn add_source(&self, project_id: i64, source: NewSource, now: DateTime<Utc>) -> Result<Source>;
    async fn list_sources(&self, project_id: i64) -> Result<Vec<Source>>;
    async fn remove_source(&self, project_id: i64, id: i64) -> Result<bool>;
    /// Leases to `worker`, until `now + lease`, at most `limit` sources of
    /// every project whose `next_due_at` is at or before `now` and that no
    /// other worker holds (never leased, given back, or the lease expired:
    /// its worker died), most overdue first, as `(project_id, source)`. Two
    /// workers calling it at once never get the same source. Sources
    /// `worker` holds already are taken again (a rerun under the same name
    /// after a crash): worker names must be unique among live processes.
    async fn lease_due_sources(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        worker: &str,
        lease: std::time::Duration,
    ) -> Result<Vec<(i64, Source)>>;
    /// Extends `worker`'s lease on a source to `now + lease` (a long fetch);
    /// false if the worker no longer holds it.
    async fn renew_lease(
        &self,
        source_id: i64,
        worker: &str,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> Result<bool>;
    /// Gives back every source, delivery and pending escalation e-mail
    /// `worker` holds (a clean shutdown), so other workers take them at
    /// once. Returns how many.
    async fn release_leases(&self, worker: &str) -> Result<u64>;
    /// A project's own model of this kind (`sentiment-fast`), as stored.
    async fn project_model(&self, project_id: i64, kind: &str) -> Result<Option<Vec<u8>>>;
    /// Stores (or, with `None`, removes) a project's own model of this kind.
    /// Returns whether there was one before.
    async fn set_project_model(
        &self,
        project_id: i64,
        kind: &str,
        bytes: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// The workers whose names start with `prefix` that hold a source, a
    /// delivery or a pending escalation e-mail (lease expired or not), each
    /// once, sorted.
    async fn lease_holders(&self, prefix: &str) -> Result<Vec<String>>;
    /// Writes the outcome of a fetch and clears the source's lease.
    async fn record_fetch(&self, source_id: i64, record: FetchRecord) -> Result<()>;
    async fn source(&self, project_id: i64, id: i64) -> Result<Option<Source>>;
    /// Per source of the project: mentions stored since `since` and their
    /// median publication-to-collection lag. Sources that stored nothing
    /// are absent.
    async fn source_coverage(&self, project_id: i64, since: DateTime<Utc>) -> Result<Vec<SourceCoverage>>;

    /// Keeps the ranking one run of a search-result watch saw.
    async fn add_search_run(
        &self,
        source_id: i64,
        ran_at: DateTime<Utc>,
        results: &serde_json::Value,
        changes: &serde_json::Value,
    ) -> Result<SearchRun>;
    /// The source's most recent runs, newest first.
    async fn search_runs(&self, source_id: i64, limit: i64) -> Result<Vec<SearchRun>>;

    /// Fails with [`StoreError::Conflict`] if the project has a token of that name.
    async fn add_token(
        &self,
        project_id: i64,
        name: &str,
        token_hash: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<ApiToken>;
    async fn list_tokens(&self, project_id: i64) -> Result<Vec<ApiToken>>;
    async fn remove_token(&self, project_id: i64, name: &str) -> Result<bool>;
    /// The token with this hash, its use recorded at `now` (to the minute:
    /// at most one write a minute per token).
    async fn use_token(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<ApiToken>>;

    /// Stores new mentions, skipping those whose dedup key is already stored,
    /// in one transaction: either the whole batch is stored or none of it.
    async fn insert_mentions(&self, project_id: i64, batch: &[MentionRecord]) -> Result<InsertReport>;

    /// Candidate mentions for a search: those whose index matches the FTS
    /// pre-filter (all mentions when `None`), that pass `filter`, with a store
    /// id below `before_id`, newest stored first, at most `limit`.
    async fn candidates(
        &self,
        project_id: i64,
        fts: Option<&str>,
        filter: &MentionFilter,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StoredMention>>;

    /// Mentions in store-id order after `after_id`, for exports and backfills:
    /// memory stays flat whatever the table size.
    async fn mentions_after(
        &self,
        project_id: i64,
        filter: &MentionFilter,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<StoredMention>>;

    /// Replaces the sentiment verdicts of stored mentions (the encoder's
    /// refinement) and sets their tier (1 takes them out of the refinement
    /// queue). `None` never erases a verdict: the stored one is kept and only
    /// the tier changes. Returns how many mentions were updated (a mention
    /// deleted meanwhile is skipped).
    async fn set_sentiments(&self, project_id: i64, verdicts: &[(i64, Option<Sentiment>)], tier: i64) -> Result<u64>;
    /// Replaces the analysis of stored mentions (re-analysis after a model or
    /// taxonomy change); a person's correction and the story link are kept.
    /// Returns how many mentions were updated.
    async fn set_analyses(&self, project_id: i64, analyses: &[(i64, Analysis)]) -> Result<u64>;
    /// Mentions whose verdict came from the fast model, newest first.
    async fn mentions_to_refine(&self, project_id: i64, limit: i64) -> Result<Vec<StoredMention>>;
    /// Records (or with `None` removes) a person's correction of a mention's
    /// sentiment; false if the project has no such mention.
    async fn correct_sentiment(
        &self,
        project_id: i64,
        mention_id: i64,
        label: Option<Polarity>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Groups mentions into stories: `(mention id, id of the story's first
    /// mention)`. A link only ever moves to an older story (a smaller id): two
    /// processes that linked the same mention differently agree on the oldest.
    async fn set_stories(&self, project_id: i64, stories: &[(i64, i64)]) -> Result<u64>;
    /// Merges story `from` (the mention `from` and its copies) into the older
    /// story `into` (`into < from`), where no older story holds them already:
    /// two processes that stored copies at the same time, each without the
    /// other's, join them when one of them sees both. Returns the mentions moved.
    async fn merge_story(&self, project_id: i64, from: i64, into: i64) -> Result<u64>;
    async fn mention(&self, project_id: i64, id: i64) -> Result<Option<StoredMention>>;
    /// The project's mentions among `ids`, in store-id order; ids of no
    /// mention (never stored, deleted, another project's) are left out.
    async fn mentions_by_ids(&self, project_id: i64, ids: &[i64]) -> Result<Vec<StoredMention>>;
    /// Which of `ids` are stored, as `(mention id, project id)` in id order,
    /// whatever their project: the story index tells another project's
    /// mention from an id still being written.
    async fn mention_projects(&self, ids: &[i64]) -> Result<Vec<(i64, i64)>>;
    /// Mentions per bucket of a watch's series from `from` (inclusive) to
    /// `to` (exclusive), as `(bucket start, count)`; empty buckets absent.
    async fn watch_buckets(&self, watch_id: i64, series: &str, from: i64, to: i64) -> Result<Vec<(i64, i64)>>;
    async fn detector_state(&self, watch_id: i64, series: &str) -> Result<Option<(i64, serde_json::Value)>>;
    /// Saves a detector's state unless a state of a later bucket is stored
    /// (another process went further: a state never goes backwards).
    /// Returns whether it was saved.
    async fn save_detector_state(
        &self,
        watch_id: i64,
        series: &str,
        last_bucket: i64,
        state: &serde_json::Value,
    ) -> Result<bool>;
    async fn alert_settings(&self, project_id: i64) -> Result<Option<serde_json::Value>>;
    async fn set_alert_settings(&self, project_id: i64, settings: &serde_json::Value) -> Result<()>;
    /// The latest alert of the project with this key that is not resolved
    /// and was updated at or after `since`.
    async fn open_alert(&self, project_id: i64, dedup_key: &str, since: DateTime<Utc>) -> Result<Option<Alert>>;
    /// Stores the alert (a new one when `id` is 0) and, when `notify`, queues
    /// its current event for every channel of the project that takes its
    /// severity, in one transaction. Returns it with its id.
    async fn save_alert(&self, alert: &Alert, notify: bool, now: DateTime<Utc>) -> Result<Alert>;
    /// [`Store::open_alert`], `fold` and [`Store::save_alert`] as one atomic
    /// step: `fold` gets the open alert with this key (or `None`) and returns
    /// the alert to save and whether to notify, or `None` to save nothing
    /// (then so does this). Processes folding events of the same key at the
    /// same time are serialized, so one surge seen by two workers opens one
    /// alert, not two.
    async fn merge_alert(
        &self,
        project_id: i64,
        dedup_key: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        fold: AlertFold,
    ) -> Result<Option<Alert>>;
    /// The most recently updated alerts first.
    async fn alerts(&self, project_id: i64, status: Option<AlertStatus>, limit: i64) -> Result<Vec<Alert>> {
        self.alerts_after(project_id, status, None, limit).await
    }
    /// The alerts that come after `after` in [`Store::alerts`]'s order
    /// (`updated_at` then `id`, newest first): the next page of a list.
    async fn alerts_after(
        &self,
        project_id: i64,
        status: Option<AlertStatus>,
        after: Option<AlertCursor>,
        limit: i64,
    ) -> Result<Vec<Alert>>;
    async fn alert(&self, project_id: i64, id: i64) -> Result<Option<Alert>>;
    /// False if the project has no such alert. `by` is who did it (kept as
    /// the alert's `acknowledged_by` the first time it is acknowledged, its
    /// `resolved_by` when resolved; reopening clears both).
    async fn set_alert_status(
        &self,
        project_id: i64,
        id: i64,
        status: AlertStatus,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Fails with [`StoreError::Conflict`] if the project has that channel.
    async fn add_channel(&self, project_id: i64, channel: NewChannel, now: DateTime<Utc>) -> Result<Channel>;
    async fn list_channels(&self, project_id: i64) -> Result<Vec<Channel>>;
    async fn remove_channel(&self, project_id: i64, id: i64) -> Result<bool>;
    /// Claims for `worker`, until `now + lease`, at most `limit` pending
    /// deliveries whose next attempt is due and that no other worker holds
    /// (its own are claimed again), oldest first. Two workers calling it at
    /// once never get the same delivery.
    async fn claim_due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        worker: &str,
        lease: std::time::Duration,
    ) -> Result<Vec<Delivery>>;
    /// Writes the outcome of an attempt and clears the delivery's lease.
    async fn record_delivery(&self, id: i64, record: DeliveryRecord) -> Result<()>;
    /// Marks `superseded` the pending deliveries of the alert to the channel
    /// about events before `event` (a notification rendered now describes
    /// the alert as it is, so the later one tells all of it), clearing their
    /// leases. One that another process (not `worker`) holds a live claim
    /// on at `now` is being sent: it is left to be recorded as sent.
    /// Returns how many.
    async fn supersede_deliveries(
        &self,
        alert_id: i64,
        channel_id: i64,
        event: i64,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<u64>;
    /// Every delivery of an alert, oldest first.
    async fn deliveries(&self, alert_id: i64) -> Result<Vec<Delivery>>;
    /// Which of these dedup keys the project has stored already.
    async fn existing_keys(&self, project_id: i64, keys: &[&str]) -> Result<std::collections::HashSet<String>> {
        Ok(self.keyed_items(project_id, keys).await?.into_iter().map(|k| k.dedup_key).collect())
    }
    /// The mentions stored under these dedup keys, with their link, id and
    /// content hash (what tells a copy from another item at the same link).
    async fn keyed_items(&self, project_id: i64, keys: &[&str]) -> Result<Vec<KeyedItem>>;
    /// The items the source has stored with one of these (id, content hash)
    /// pairs: a feed's GUID and the hash of the item's title and text.
    async fn source_items(&self, source_id: i64, items: &[(&str, &str)]) -> Result<Vec<SourceItem>>;
    /// The mention stored under this dedup key (`url:…`, `id:…`, `hash:…`).
    async fn mention_by_key(&self, project_id: i64, dedup_key: &str) -> Result<Option<StoredMention>>;
    /// The routing and alert rules ran on these stored mentions: they leave
    /// the pending list [`Store::insert_mentions`] put them on.
    async fn rules_done(&self, mention_ids: &[i64]) -> Result<()>;
    /// Claims (for this caller alone) at most `limit` mentions stored before
    /// `stored_before` whose rules never ran — their process died, or the
    /// rules failed — as `(project_id, mention_id)`, oldest first. They stay
    /// on the list, stamped `claimed_at`: the caller clears them with
    /// [`Store::rules_done`] once their rules ran, and if it dies first (or
    /// the rules fail) they are claimed again once `claimed_at` is as old as
    /// `stored_before` is now.
    async fn take_rules_pending(
        &self,
        stored_before: DateTime<Utc>,
        limit: i64,
        claimed_at: DateTime<Utc>,
    ) -> Result<Vec<(i64, i64)>>;

    async fn list_themes(&self, project_id: i64) -> Result<Vec<Theme>>;
    /// Fails with [`StoreError::Conflict`] if the project has a theme with that key.
    async fn add_theme(&self, project_id: i64, theme: NewTheme, now: DateTime<Utc>) -> Result<Theme>;
    async fn remove_theme(&self, project_id: i64, key: &str) -> Result<bool>;
    /// Adds `defaults` the first time it is called for a project (later
    /// edits, removals included, are the project's own); true if it did.
    async fn seed_themes(&self, project_id: i64, defaults: &[NewTheme], now: DateTime<Utc>) -> Result<bool>;

    /// The texts of the `limit` mentions published last in `[from, to)`,
    /// newest first (the overview's trending terms).
    async fn newest_texts(
        &self,
        project_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>>;
    async fn mention_count(&self, project_id: i64) -> Result<i64>;
    async fn summary(&self, project_id: i64) -> Result<ProjectSummary>;

    /// Closes every connection cleanly (for SQLite: the write-ahead log is
    /// checkpointed and removed, so the next open does not replay it).
    async fn close(&self);
}

pub type DynStore = Arc<dyn Store>;

/// What [`Store::merge_alert`] does with the open alert of a key: the alert
/// to save and whether to notify, or `None` to leave things as they are.
pub type AlertFold = Box<dyn FnOnce(Option<Alert>) -> Option<(Alert, bool)> + Send>;

/// `now + lease` in epoch seconds (a lease too long to represent is a day).
pub(crate) fn lease_end(now: DateTime<Utc>, lease: std::time::Duration) -> i64 {
    let secs = i64::try_from(lease.as_secs()).unwrap_or(86_400).max(1);
    now.timestamp().saturating_add(secs)
}

/// Encodes the langs of a watch for storage.
pub(crate) fn join_langs(langs: &[String]) -> String {
    langs.join(",")
}

pub(crate) fn split_langs(s: &str) -> Vec<String> {
    s.split(',').filter(|l| !l.is_empty()).map(str::to_string).collect()
}

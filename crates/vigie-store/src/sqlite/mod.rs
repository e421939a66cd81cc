//! The embedded default: one SQLite file in WAL mode, with an FTS5 index.
//!
//! [`Store`] lives here; [`crate::Accounts`] in `accounts.rs` and
//! [`crate::Workflow`] in `workflow.rs`, on the same [`SqliteStore`].

mod accounts;
mod reports;
mod workflow;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions, QueryBuilder, Row, SqlSafeStr, Sqlite};
use vigie_model::{
    Alert, AlertRule, AlertStatus, Analysis, InboxStatus, Mention, Polarity, Role, Sentiment, Severity, Source,
    SourceKind, SourceType, Theme, Watch, WatchMatch,
};

use crate::codec::{
    analysis_from_parts, analysis_json, channel_minimums_taking, from_opt_ts, from_ts, is_unique_violation,
    language_from_str, matches_from_json, matches_json, role_from_str, sentiment_tier, status_from_str, terms_json, ts,
};
use crate::{
    AlertCursor, AlertFold, ApiToken, Channel, CountRow, Delivery, DeliveryRecord, FetchRecord, InsertReport,
    KeyedItem, MentionFilter, MentionRecord, NewChannel, NewSource, NewTheme, NewWatch, Project, ProjectSummary,
    Result, SERIES_ALL, SERIES_NEGATIVE, SearchRun, SourceCoverage, SourceItem, Store, StoreError, StoredMention,
    bucket_start, join_langs, lease_end, split_langs,
};

/// The SQLite migrations, append-only, embedded in the binary.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, "analysis", include_str!("../../migrations/sqlite/0002_analysis.sql")),
    (3, "collectors", include_str!("../../migrations/sqlite/0003_collectors.sql")),
    (4, "alerts", include_str!("../../migrations/sqlite/0004_alerts.sql")),
    (5, "web", include_str!("../../migrations/sqlite/0005_web.sql")),
    (6, "overview", include_str!("../../migrations/sqlite/0006_overview.sql")),
    (7, "leases", include_str!("../../migrations/sqlite/0007_leases.sql")),
    (8, "reports", include_str!("../../migrations/sqlite/0008_reports.sql")),
    (9, "channel_lang", include_str!("../../migrations/sqlite/0009_channel_lang.sql")),
    (10, "platform_ids", include_str!("../../migrations/sqlite/0010_platform_ids.sql")),
    (11, "project_models", include_str!("../../migrations/sqlite/0011_project_models.sql")),
    (12, "rules_pending", include_str!("../../migrations/sqlite/0012_rules_pending.sql")),
    (13, "report_sending", include_str!("../../migrations/sqlite/0013_report_sending.sql")),
    (14, "reopen_clock", include_str!("../../migrations/sqlite/0014_reopen_clock.sql")),
    (15, "alert_notices", include_str!("../../migrations/sqlite/0015_alert_notices.sql")),
    (16, "source_items", include_str!("../../migrations/sqlite/0016_source_items.sql")),
    (17, "escalation_mails", include_str!("../../migrations/sqlite/0017_escalation_mails.sql")),
];

// Multi-row statements are kept in sqlx's prepared-statement cache only at
// their full chunk size (one statement text each); a shorter last chunk is
// prepared, run and dropped (`persistent(false)`), so the cache holds a few
// statements instead of one per batch size seen.

/// Rows per multi-row INSERT statement (SQLite binds at most 32,766 values;
/// a mention row takes 22).
const INSERT_CHUNK: usize = 1_000;
/// Rows per INSERT into the FTS5 index (3 values each). FTS5 flushes its
/// in-memory index to a new segment at every statement, so fewer, larger
/// statements mean fewer segments to merge later.
const FTS_CHUNK: usize = 10_000;
/// Rows per INSERT of watch matches (2 values each).
const MATCH_CHUNK: usize = 10_000;
/// Bucket rows per statement (4 variables each, under SQLite's 32,766).
const BUCKET_CHUNK: usize = 5_000;
/// Pending-rules rows per statement (3 variables each).
const PENDING_CHUNK: usize = 10_000;

fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(*version, Cow::Borrowed(*description), MigrationType::Simple, sql.into_sql_str(), false)
            })
            .collect(),
    )
}

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    checkpointer: Arc<Checkpointer>,
    /// One fill of the overview's hourly cache at a time (see `crate::rollup`).
    rollup_fill: Arc<tokio::sync::Mutex<()>>,
}

/// Past this many frames (4 KiB pages) the write-ahead log is checkpointed
/// fully and truncated, even if a writer has to wait for it.
const MAX_WAL_FRAMES: i64 = 65_536;

/// How often the background checkpointer copies the write-ahead log into the
/// database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Checkpoints the write-ahead log from its own task and connection.
///
/// SQLite's automatic checkpoint runs inside the commit of whichever write
/// happens to cross the threshold, fsync included: measured on a 1M-mention
/// import, that stalled the single writer for a fifth of the run. A PASSIVE
/// checkpoint on another connection runs beside the writer instead (WAL mode
/// allows it) and never blocks it.
#[derive(Debug)]
struct Checkpointer {
    stop: tokio::sync::watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Checkpointer {
    fn start(pool: SqlitePool) -> Checkpointer {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(CHECKPOINT_EVERY) => {}
                    _ = stopped.changed() => return,
                }
                // (busy, frames in the log, frames checkpointed)
                match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&pool).await {
                    // A writer that never pauses keeps the log from being
                    // reset; past a bound, make it wait for one full
                    // checkpoint and truncate the log.
                    Ok((_, frames, _)) if frames > MAX_WAL_FRAMES => {
                        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool).await {
                            tracing::warn!(error = %e, "truncating checkpoint failed");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "background checkpoint failed"),
                }
            }
        });
        Checkpointer { stop, task: std::sync::Mutex::new(Some(task)) }
    }

    async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up
    /// to date.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            // 64 MiB of page cache per connection, 4 connections at most:
            // memory stays bounded whatever the database size.
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            // Checkpoints run in the background (see `Checkpointer`); the log
            // file is cut back to 64 MiB after each reset.
            .pragma("wal_autocheckpoint", "0")
            .pragma("journal_size_limit", "67108864")
            // Long checkpoints and big batches are expected: not a warning
            // on every user's terminal.
            .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
        // Several commands started at once on a new data directory would
        // each create the file and its tables: one at a time.
        let lock = open_lock(path).await;
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        migrator().run(&pool).await.map_err(|e| crate::migration_error(e, MIGRATIONS.len() as i64))?;
        drop(lock);
        let checkpointer = Arc::new(Checkpointer::start(pool.clone()));
        Ok(SqliteStore { pool, checkpointer, rollup_fill: Arc::default() })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// An exclusive lock on `<database>.open-lock` beside the database, held
/// while a process opens the database and brings its schema up to date.
/// `None` (no lock, as before) when the file cannot be made, as in a
/// read-only directory.
async fn open_lock(path: &Path) -> Option<std::fs::File> {
    let mut name = path.as_os_str().to_owned();
    name.push(".open-lock");
    let lock_path = std::path::PathBuf::from(name);
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).ok()?;
        file.lock().ok()?;
        Some(file)
    })
    .await
    .ok()
    .flatten()
}

/// The id of a new row, or [`StoreError::Conflict`] with `conflict`'s
/// message when a unique constraint refused it.
fn inserted_id(
    result: std::result::Result<sqlx::sqlite::SqliteQueryResult, sqlx::Error>,
    conflict: impl FnOnce() -> String,
) -> Result<i64> {
    match result {
        Ok(done) => Ok(done.last_insert_rowid()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(conflict())),
        Err(e) => Err(e.into()),
    }
}

const WATCH_COLUMNS: &str = "id, name, query, competitor, langs, created_at";

fn watch_from_row(row: &SqliteRow) -> Result<Watch> {
    Ok(Watch {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        query: row.try_get("query")?,
        competitor: row.try_get::<i64, _>("competitor")? != 0,
        langs: split_langs(&row.try_get::<String, _>("langs")?),
        created_at: from_ts(row.try_get("created_at")?)?,
    })
}

const SOURCE_COLUMNS: &str = "id, project_id, source_type, url, interval_secs, created_at, next_due_at, \
     last_attempt_at, last_success_at, last_error, consecutive_failures, last_item_count, total_stored, \
     etag, last_modified, config, cursor, quota_limited, last_warning";

fn json_column(row: &SqliteRow, column: &str) -> Result<Option<serde_json::Value>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("source {column}: {e}")))).transpose()
}

fn source_from_row(row: &SqliteRow) -> Result<Source> {
    let source_type: String = row.try_get("source_type")?;
    Ok(Source {
        id: row.try_get("id")?,
        source_type: SourceType::from_str(&source_type).map_err(StoreError::Corrupt)?,
        url: row.try_get("url")?,
        config: json_column(row, "config")?.unwrap_or_else(|| serde_json::json!({})),
        interval_secs: row.try_get("interval_secs")?,
        created_at: from_ts(row.try_get("created_at")?)?,
        next_due_at: from_ts(row.try_get("next_due_at")?)?,
        last_attempt_at: from_opt_ts(row.try_get("last_attempt_at")?)?,
        last_success_at: from_opt_ts(row.try_get("last_success_at")?)?,
        last_error: row.try_get("last_error")?,
        last_warning: row.try_get("last_warning")?,
        consecutive_failures: row.try_get("consecutive_failures")?,
        quota_limited: row.try_get::<i64, _>("quota_limited")? != 0,
        last_item_count: row.try_get("last_item_count")?,
        total_stored: row.try_get("total_stored")?,
        etag: row.try_get("etag")?,
        last_modified: row.try_get("last_modified")?,
        cursor: json_column(row, "cursor")?,
    })
}

const ALERT_COLUMNS: &str = "id, project_id, watch_id, rule, severity, status, dedup_key, title, evidence, \
     mention_ids, events, opened_at, updated_at, acknowledged_at, resolved_at, acknowledged_by, resolved_by";

fn alert_from_row(row: &SqliteRow) -> Result<Alert> {
    let text = |c: &str| -> Result<String> { Ok(row.try_get::<String, _>(c)?) };
    let corrupt = |what: &str, e: String| StoreError::Corrupt(format!("alert {what}: {e}"));
    Ok(Alert {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        watch_id: row.try_get("watch_id")?,
        rule: AlertRule::from_str(&text("rule")?).map_err(|e| corrupt("rule", e))?,
        severity: Severity::from_str(&text("severity")?).map_err(|e| corrupt("severity", e))?,
        status: AlertStatus::from_str(&text("status")?).map_err(|e| corrupt("status", e))?,
        dedup_key: text("dedup_key")?,
        title: text("title")?,
        evidence: serde_json::from_str(&text("evidence")?).map_err(|e| corrupt("evidence", e.to_string()))?,
        mention_ids: serde_json::from_str(&text("mention_ids")?).map_err(|e| corrupt("mentions", e.to_string()))?,
        events: row.try_get("events")?,
        opened_at: from_ts(row.try_get("opened_at")?)?,
        updated_at: from_ts(row.try_get("updated_at")?)?,
        acknowledged_at: from_opt_ts(row.try_get("acknowledged_at")?)?,
        resolved_at: from_opt_ts(row.try_get("resolved_at")?)?,
        acknowledged_by: row.try_get("acknowledged_by")?,
        resolved_by: row.try_get("resolved_by")?,
    })
}

const CHANNEL_COLUMNS: &str = "id, project_id, kind, target, secret, min_severity, lang, created_at";

fn channel_from_row(row: &SqliteRow) -> Result<Channel> {
    let severity: String = row.try_get("min_severity")?;
    Ok(Channel {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        kind: row.try_get("kind")?,
        target: row.try_get("target")?,
        secret: row.try_get("secret")?,
        min_severity: Severity::from_str(&severity).map_err(StoreError::Corrupt)?,
        lang: language_from_str(&row.try_get::<String, _>("lang")?)?,
        created_at: from_ts(row.try_get("created_at")?)?,
    })
}

const TOKEN_COLUMNS: &str = "id, project_id, name, role, created_at, last_used_at";

fn token_from_row(row: &SqliteRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        name: row.try_get("name")?,
        role: role_from_str(&row.try_get::<String, _>("role")?)?,
        created_at: from_ts(row.try_get("created_at")?)?,
        last_used_at: from_opt_ts(row.try_get("last_used_at")?)?,
    })
}

fn project_from_row(row: &SqliteRow) -> Result<Project> {
    Ok(Project { id: row.try_get("id")?, name: row.try_get("name")?, created_at: from_ts(row.try_get("created_at")?)? })
}

fn search_run_from_row(row: &SqliteRow) -> Result<SearchRun> {
    let parse = |column: &str| -> Result<serde_json::Value> {
        let text: String = row.try_get(column)?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("search run {column}: {e}")))
    };
    Ok(SearchRun {
        id: row.try_get("id")?,
        source_id: row.try_get("source_id")?,
        ran_at: from_ts(row.try_get("ran_at")?)?,
        results: parse("results")?,
        changes: parse("changes")?,
    })
}

const MENTION_COLUMNS: &str = "m.id, m.dedup_key, m.source_kind, m.source_id, m.source_item_id, m.url, m.title, \
     m.text, m.author, m.site, m.published_at, m.collected_at, m.lang, m.lang_confidence, m.reach, m.content_hash, \
     m.matches, m.analysis, m.corrected, m.story_id";

fn mention_from_row(row: &SqliteRow) -> Result<(Mention, Option<i64>)> {
    let kind: String = row.try_get("source_kind")?;
    let mention = Mention {
        id: row.try_get("id")?,
        source_kind: SourceKind::from_str(&kind).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        source_item_id: row.try_get("source_item_id")?,
        url: row.try_get("url")?,
        title: row.try_get("title")?,
        text: row.try_get("text")?,
        author: row.try_get("author")?,
        site: row.try_get("site")?,
        published_at: from_ts(row.try_get("published_at")?)?,
        collected_at: from_ts(row.try_get("collected_at")?)?,
        lang: row.try_get("lang")?,
        lang_confidence: row.try_get::<f64, _>("lang_confidence")? as f32,
        reach: row.try_get("reach")?,
        content_hash: row.try_get("content_hash")?,
        dedup_key: row.try_get("dedup_key")?,
        analysis: analysis_from_row(row)?,
    };
    Ok((mention, row.try_get("source_id")?))
}

impl SqliteStore {
    async fn delivery(&self, id: i64) -> Result<Option<Delivery>> {
        let Some(row) = sqlx::query(
            "SELECT d.id, d.alert_id, d.event, d.channel_id, d.status, d.attempts, d.last_error, d.sent_at, \
             a.project_id FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.id = ?1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let project_id: i64 = row.try_get("project_id")?;
        let alert = self.alert(project_id, row.try_get("alert_id")?).await?;
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE id = ?1");
        let channel = sqlx::query(AssertSqlSafe(sql))
            .bind(row.try_get::<i64, _>("channel_id")?)
            .fetch_optional(&self.pool)
            .await?;
        let (Some(alert), Some(channel)) = (alert, channel) else { return Ok(None) };
        Ok(Some(Delivery {
            id,
            alert,
            event: row.try_get("event")?,
            channel: channel_from_row(&channel)?,
            attempts: row.try_get("attempts")?,
            status: row.try_get("status")?,
            last_error: row.try_get("last_error")?,
            sent_at: from_opt_ts(row.try_get("sent_at")?)?,
        }))
    }
}

impl SqliteStore {
    /// Reads rows of mentions with their watch matches (the `matches` column).
    async fn with_matches(&self, rows: Vec<SqliteRow>) -> Result<Vec<StoredMention>> {
        rows.iter()
            .map(|row| {
                let (mention, source_id) = mention_from_row(row)?;
                let matches = matches_from_json(row.try_get::<Option<String>, _>("matches")?.as_deref())?;
                Ok(StoredMention { mention, source_id, matches })
            })
            .collect()
    }
}

fn analysis_from_row(row: &SqliteRow) -> Result<Analysis> {
    analysis_from_parts(
        row.try_get::<Option<String>, _>("analysis")?.as_deref(),
        row.try_get::<Option<String>, _>("corrected")?.as_deref(),
        row.try_get("story_id")?,
    )
}

fn push_filter(qb: &mut QueryBuilder<Sqlite>, filter: &MentionFilter) {
    if let Some(since) = filter.published_since {
        qb.push(" AND m.published_at >= ").push_bind(ts(since));
    }
    if let Some(until) = filter.published_until {
        qb.push(" AND m.published_at < ").push_bind(ts(until));
    }
    if let Some(watch_id) = filter.watch_id {
        qb.push(" AND EXISTS (SELECT 1 FROM mention_watches w WHERE w.watch_id = ")
            .push_bind(watch_id)
            .push(" AND w.mention_id = m.id)");
    }
    if let Some(story) = filter.story_id {
        qb.push(" AND (m.id = ").push_bind(story).push(" OR m.story_id = ").push_bind(story).push(")");
    }
    if filter.corrected_only {
        qb.push(" AND m.corrected IS NOT NULL");
    }
    if let Some(polarity) = filter.polarity {
        qb.push(" AND COALESCE(m.corrected, m.sentiment) = ").push_bind(polarity.as_str());
    }
    if filter.sentiment_unknown {
        qb.push(" AND COALESCE(m.corrected, m.sentiment) IS NULL");
    }
    match filter.lang.as_deref() {
        Some("unknown") => {
            qb.push(" AND m.lang IS NULL");
        }
        Some(lang) => {
            qb.push(" AND m.lang = ").push_bind(lang.to_string());
        }
        None => {}
    }
    if let Some(kind) = filter.source_kind {
        qb.push(" AND m.source_kind = ").push_bind(kind.as_str());
    }
    if let Some(site) = &filter.site {
        // The site or any of its subdomains (`example.fr` finds `blog.example.fr`).
        qb.push(" AND (m.site = ")
            .push_bind(site.clone())
            .push(" OR substr(m.site, -length(")
            .push_bind(site.clone())
            .push(") - 1) = '.' || ")
            .push_bind(site.clone())
            .push(")");
    }
    if let Some(theme) = &filter.theme {
        qb.push(
            " AND EXISTS (SELECT 1 FROM json_each(m.analysis, '$.themes') t \
             WHERE json_extract(t.value, '$.theme') = ",
        )
        .push_bind(theme.clone())
        .push(")");
    }
    match filter.status {
        // No inbox row is `new` too.
        Some(InboxStatus::New) => {
            qb.push(" AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.mention_id = m.id AND i.status != 'new')");
        }
        Some(status) => {
            qb.push(" AND EXISTS (SELECT 1 FROM inbox i WHERE i.mention_id = m.id AND i.status = ")
                .push_bind(status.as_str())
                .push(")");
        }
        None => {}
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ensure_project(&self, name: &str, now: DateTime<Utc>) -> Result<Project> {
        // Most commands work on an existing project: read before writing.
        if let Some(project) = self.project(name).await? {
            return Ok(project);
        }
        sqlx::query("INSERT INTO projects (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(ts(now))
            .execute(&self.pool)
            .await?;
        self.project(name).await?.ok_or_else(|| StoreError::NotFound(format!("project {name:?}")))
    }

    async fn project(&self, name: &str) -> Result<Option<Project>> {
        let row = sqlx::query("SELECT id, name, created_at FROM projects WHERE name = ?1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(project_from_row).transpose()
    }

    async fn project_by_id(&self, id: i64) -> Result<Option<Project>> {
        let row = sqlx::query("SELECT id, name, created_at FROM projects WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(project_from_row).transpose()
    }

    async fn list_projects(&self) -> Result<Vec<Project>> {
        let rows = sqlx::query("SELECT id, name, created_at FROM projects ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter().map(project_from_row).collect()
    }

    async fn add_watch(&self, project_id: i64, watch: NewWatch, now: DateTime<Utc>) -> Result<Watch> {
        let result = sqlx::query(
            "INSERT INTO watches (project_id, name, query, competitor, langs, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(project_id)
        .bind(&watch.name)
        .bind(&watch.query)
        .bind(i64::from(watch.competitor))
        .bind(join_langs(&watch.langs))
        .bind(ts(now))
        .execute(&self.pool)
        .await;
        match result {
            Ok(done) => Ok(Watch {
                id: done.last_insert_rowid(),
                name: watch.name,
                query: watch.query,
                competitor: watch.competitor,
                langs: watch.langs,
                created_at: from_ts(ts(now))?,
            }),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict(format!("a watch named {:?} already exists in this project", watch.name)))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn update_watch(&self, project_id: i64, watch: &Watch) -> Result<()> {
        let done = sqlx::query(
            "UPDATE watches SET name = ?1, query = ?2, competitor = ?3, langs = ?4 WHERE id = ?5 AND project_id = ?6",
        )
        .bind(&watch.name)
        .bind(&watch.query)
        .bind(i64::from(watch.competitor))
        .bind(join_langs(&watch.langs))
        .bind(watch.id)
        .bind(project_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no watch with id {}", watch.id)));
        }
        Ok(())
    }

    async fn list_watches(&self, project_id: i64) -> Result<Vec<Watch>> {
        let sql = format!("SELECT {WATCH_COLUMNS} FROM watches WHERE project_id = ?1 ORDER BY name");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.pool).await?;
        rows.iter().map(watch_from_row).collect()
    }

    async fn watch_by_name(&self, project_id: i64, name: &str) -> Result<Option<Watch>> {
        let sql = format!("SELECT {WATCH_COLUMNS} FROM watches WHERE project_id = ?1 AND name = ?2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(name).fetch_optional(&self.pool).await?;
        row.as_ref().map(watch_from_row).transpose()
    }

    async fn remove_watch(&self, project_id: i64, name: &str) -> Result<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM watches WHERE project_id = ?1 AND name = ?2")
            .bind(project_id)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(id) = id else { return Ok(false) };
        // Drop the watch's terms from its mentions, then the watch (its rows in
        // mention_watches go with it).
        sqlx::query(
            "UPDATE mentions SET matches = NULLIF(json_remove(matches, '$.\"' || ?1 || '\"'), '{}') \
             WHERE id IN (SELECT mention_id FROM mention_watches WHERE watch_id = ?1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM watches WHERE id = ?1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn clear_matches(&self, watch_id: i64) -> Result<u64> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        // The watch's terms leave its mentions' JSON first (found through
        // the rows about to go), then the rows themselves.
        sqlx::query(
            "UPDATE mentions SET matches = NULLIF(json_remove(matches, '$.\"' || ?1 || '\"'), '{}') \
             WHERE id IN (SELECT mention_id FROM mention_watches WHERE watch_id = ?1)",
        )
        .bind(watch_id)
        .execute(&mut *tx)
        .await?;
        let cleared =
            sqlx::query("DELETE FROM mention_watches WHERE watch_id = ?1").bind(watch_id).execute(&mut *tx).await?;
        // Its time series and what its detectors learned from them go too:
        // `add_matches` counts the new matches back in, and the detectors
        // learn again from those.
        sqlx::query("DELETE FROM watch_buckets WHERE watch_id = ?1").bind(watch_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM detector_states WHERE watch_id = ?1").bind(watch_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(cleared.rows_affected())
    }

    async fn add_matches(&self, watch_id: i64, matches: &[(i64, Vec<String>)]) -> Result<u64> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut added = 0;
        let path = format!("$.\"{watch_id}\"");
        for chunk in matches.chunks(INSERT_CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("INSERT INTO mention_watches (watch_id, mention_id) ");
            qb.push_values(chunk, |mut b, (mention_id, _)| {
                b.push_bind(watch_id).push_bind(*mention_id);
            });
            qb.push(" ON CONFLICT DO NOTHING RETURNING mention_id");
            let new: Vec<i64> = qb.build_query_scalar().persistent(false).fetch_all(&mut *tx).await?;
            added += new.len() as u64;
            // The watch's time series count the mentions it gained (those it
            // had are counted already).
            for (series, only_negative) in
                [(SERIES_ALL, ""), (SERIES_NEGATIVE, " AND COALESCE(corrected, sentiment) = 'negative'")]
            {
                // Only constants are formatted in.
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO watch_buckets (watch_id, series, bucket_start, count) \
                     SELECT ?1, ?2, published_at - ((published_at % {b}) + {b}) % {b}, COUNT(*) \
                     FROM mentions WHERE id IN (SELECT value FROM json_each(?3)){only_negative} GROUP BY 3 \
                     ON CONFLICT (watch_id, series, bucket_start) DO UPDATE SET count = count + excluded.count",
                    b = crate::BUCKET_SECS
                )))
                .bind(watch_id)
                .bind(series)
                .bind(serde_json::to_string(&new).unwrap_or_else(|_| "[]".into()))
                .execute(&mut *tx)
                .await?;
            }
            let mut up: QueryBuilder<Sqlite> =
                QueryBuilder::new("UPDATE mentions SET matches = json_set(COALESCE(matches, '{}'), ");
            up.push_bind(path.clone()).push(", json(v.column2)) FROM (");
            up.push_values(chunk, |mut b, (mention_id, terms)| {
                b.push_bind(*mention_id).push_bind(terms_json(terms));
            });
            up.push(") AS v WHERE mentions.id = v.column1");
            up.build().persistent(false).execute(&mut *tx).await?;
        }
        // Detectors judged the series without these counts: they learn again
        // (a state saved while a re-match was half-way is dropped too).
        if added > 0 {
            sqlx::query("DELETE FROM detector_states WHERE watch_id = ?1").bind(watch_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    async fn add_source(&self, project_id: i64, source: NewSource, now: DateTime<Utc>) -> Result<Source> {
        let result = sqlx::query(
            "INSERT INTO sources (project_id, source_type, url, interval_secs, created_at, next_due_at, config) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(project_id)
        .bind(source.source_type.as_str())
        .bind(&source.url)
        .bind(source.interval_secs)
        .bind(ts(now))
        .bind(ts(source.first_due_at))
        .bind(source.config.to_string())
        .execute(&self.pool)
        .await;
        let id = inserted_id(result, || {
            format!("this project already has the {} source {}", source.source_type, source.url)
        })?;
        let sql = format!("SELECT {SOURCE_COLUMNS} FROM sources WHERE id = ?1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_one(&self.pool).await?;
        source_from_row(&row)
    }

    async fn list_sources(&self, project_id: i64) -> Result<Vec<Source>> {
        let sql = format!("SELECT {SOURCE_COLUMNS} FROM sources WHERE project_id = ?1 ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.pool).await?;
        rows.iter().map(source_from_row).collect()
    }

    async fn remove_source(&self, project_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sources WHERE project_id = ?1 AND id = ?2")
            .bind(project_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn lease_due_sources(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        worker: &str,
        lease: std::time::Duration,
    ) -> Result<Vec<(i64, Source)>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let sql = format!(
            "SELECT {SOURCE_COLUMNS} FROM sources WHERE next_due_at <= ?1 \
             AND (lease_until IS NULL OR lease_until < ?1 OR leased_by = ?3) ORDER BY next_due_at, id LIMIT ?2"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(ts(now)).bind(limit).bind(worker).fetch_all(&mut *tx).await?;
        let due: Vec<(i64, Source)> =
            rows.iter().map(|r| Ok((r.try_get("project_id")?, source_from_row(r)?))).collect::<Result<_>>()?;
        if !due.is_empty() {
            let ids: Vec<i64> = due.iter().map(|(_, s)| s.id).collect();
            sqlx::query(
                "UPDATE sources SET lease_until = ?1, leased_by = ?2 WHERE id IN (SELECT value FROM json_each(?3))",
            )
            .bind(lease_end(now, lease))
            .bind(worker)
            .bind(serde_json::to_string(&ids).map_err(|e| StoreError::Corrupt(e.to_string()))?)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(due)
    }

    async fn renew_lease(
        &self,
        source_id: i64,
        worker: &str,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> Result<bool> {
        let done = sqlx::query("UPDATE sources SET lease_until = ?3 WHERE id = ?1 AND leased_by = ?2")
            .bind(source_id)
            .bind(worker)
            .bind(lease_end(now, lease))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn release_leases(&self, worker: &str) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let sources = sqlx::query("UPDATE sources SET lease_until = NULL, leased_by = NULL WHERE leased_by = ?1")
            .bind(worker)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let deliveries = sqlx::query("UPDATE deliveries SET lease_until = NULL, leased_by = NULL WHERE leased_by = ?1")
            .bind(worker)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let mails = sqlx::query(
            "UPDATE escalation_mails SET lease_until = NULL, leased_by = NULL WHERE leased_by = ?1 AND status = 'pending'",
        )
        .bind(worker)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(sources + deliveries + mails)
    }

    async fn project_model(&self, project_id: i64, kind: &str) -> Result<Option<Vec<u8>>> {
        let bytes = sqlx::query_scalar("SELECT bytes FROM project_models WHERE project_id = ?1 AND kind = ?2")
            .bind(project_id)
            .bind(kind)
            .fetch_optional(&self.pool)
            .await?;
        Ok(bytes)
    }

    async fn set_project_model(
        &self,
        project_id: i64,
        kind: &str,
        bytes: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let had = sqlx::query("DELETE FROM project_models WHERE project_id = ?1 AND kind = ?2")
            .bind(project_id)
            .bind(kind)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if let Some(bytes) = bytes {
            sqlx::query("INSERT INTO project_models (project_id, kind, bytes, updated_at) VALUES (?1, ?2, ?3, ?4)")
                .bind(project_id)
                .bind(kind)
                .bind(bytes)
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(had)
    }

    async fn lease_holders(&self, prefix: &str) -> Result<Vec<String>> {
        let holders = sqlx::query_scalar(
            "SELECT leased_by FROM sources WHERE substr(leased_by, 1, length(?1)) = ?1 \
             UNION SELECT leased_by FROM deliveries WHERE substr(leased_by, 1, length(?1)) = ?1 \
             UNION SELECT leased_by FROM escalation_mails WHERE status = 'pending' AND substr(leased_by, 1, length(?1)) = ?1 \
             ORDER BY 1",
        )
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        Ok(holders)
    }

    async fn record_fetch(&self, source_id: i64, record: FetchRecord) -> Result<()> {
        let json = |v: &Option<serde_json::Value>| v.as_ref().map(serde_json::Value::to_string);
        let query = match &record {
            FetchRecord::Success { at, items, stored, etag, last_modified, next_due_at, cursor, warning } => {
                sqlx::query(
                    "UPDATE sources SET last_attempt_at = ?2, last_success_at = ?2, last_error = NULL, \
                     consecutive_failures = 0, quota_limited = 0, last_item_count = ?3, \
                     total_stored = total_stored + ?4, etag = ?5, last_modified = ?6, next_due_at = ?7, \
                     cursor = COALESCE(?8, cursor), last_warning = ?9, lease_until = NULL, leased_by = NULL WHERE id = ?1",
                )
                .bind(source_id)
                .bind(ts(*at))
                .bind(*items)
                .bind(*stored)
                .bind(etag.clone())
                .bind(last_modified.clone())
                .bind(ts(*next_due_at))
                .bind(json(cursor))
                .bind(warning.clone())
            }
            FetchRecord::NotModified { at, next_due_at } => sqlx::query(
                "UPDATE sources SET last_attempt_at = ?2, last_success_at = ?2, last_error = NULL, \
                 consecutive_failures = 0, quota_limited = 0, last_item_count = 0, last_warning = NULL, \
                 next_due_at = ?3, lease_until = NULL, leased_by = NULL WHERE id = ?1",
            )
            .bind(source_id)
            .bind(ts(*at))
            .bind(ts(*next_due_at)),
            FetchRecord::Failure { at, error, next_due_at, quota_limited, cursor, stored } => sqlx::query(
                "UPDATE sources SET last_attempt_at = ?2, last_error = ?3, \
                 consecutive_failures = consecutive_failures + 1, next_due_at = ?4, quota_limited = ?5, \
                 cursor = COALESCE(?6, cursor), total_stored = total_stored + ?7, lease_until = NULL, leased_by = NULL WHERE id = ?1",
            )
            .bind(source_id)
            .bind(ts(*at))
            .bind(error.clone())
            .bind(ts(*next_due_at))
            .bind(i64::from(*quota_limited))
            .bind(json(cursor))
            .bind(*stored),
        };
        let done = query.execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no source with id {source_id}")));
        }
        Ok(())
    }

    async fn source(&self, project_id: i64, id: i64) -> Result<Option<Source>> {
        let sql = format!("SELECT {SOURCE_COLUMNS} FROM sources WHERE project_id = ?1 AND id = ?2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(source_from_row).transpose()
    }

    async fn source_coverage(&self, project_id: i64, since: DateTime<Utc>) -> Result<Vec<SourceCoverage>> {
        // Lags sorted per source, so the median is the middle row; bounded
        // by what the project's sources stored in the period.
        let rows = sqlx::query(
            "SELECT m.source_id, MAX(m.collected_at - m.published_at, 0) AS lag FROM mentions m \
             JOIN sources s ON s.id = m.source_id \
             WHERE s.project_id = ?1 AND m.source_id IS NOT NULL AND m.collected_at >= ?2 \
             ORDER BY m.source_id, lag",
        )
        .bind(project_id)
        .bind(ts(since))
        .fetch_all(&self.pool)
        .await?;
        let lags: Vec<(i64, i64)> =
            rows.iter().map(|r| Ok((r.try_get("source_id")?, r.try_get("lag")?))).collect::<Result<_>>()?;
        Ok(lags
            .chunk_by(|a, b| a.0 == b.0)
            .map(|run| SourceCoverage {
                source_id: run[0].0,
                stored: run.len() as i64,
                median_lag_secs: Some(run[run.len() / 2].1),
            })
            .collect())
    }

    async fn add_search_run(
        &self,
        source_id: i64,
        ran_at: DateTime<Utc>,
        results: &serde_json::Value,
        changes: &serde_json::Value,
    ) -> Result<SearchRun> {
        let id = sqlx::query("INSERT INTO search_runs (source_id, ran_at, results, changes) VALUES (?1, ?2, ?3, ?4)")
            .bind(source_id)
            .bind(ts(ran_at))
            .bind(results.to_string())
            .bind(changes.to_string())
            .execute(&self.pool)
            .await?
            .last_insert_rowid();
        Ok(SearchRun { id, source_id, ran_at, results: results.clone(), changes: changes.clone() })
    }

    async fn search_runs(&self, source_id: i64, limit: i64) -> Result<Vec<SearchRun>> {
        let rows = sqlx::query(
            "SELECT id, source_id, ran_at, results, changes FROM search_runs WHERE source_id = ?1 \
             ORDER BY id DESC LIMIT ?2",
        )
        .bind(source_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(search_run_from_row).collect()
    }

    async fn add_token(
        &self,
        project_id: i64,
        name: &str,
        token_hash: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<ApiToken> {
        let result = sqlx::query(
            "INSERT INTO api_tokens (project_id, name, token_hash, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(project_id)
        .bind(name)
        .bind(token_hash)
        .bind(role.as_str())
        .bind(ts(now))
        .execute(&self.pool)
        .await;
        let id = inserted_id(result, || format!("this project already has a token named {name:?}"))?;
        Ok(ApiToken { id, project_id, name: name.to_string(), role, created_at: from_ts(ts(now))?, last_used_at: None })
    }

    async fn list_tokens(&self, project_id: i64) -> Result<Vec<ApiToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE project_id = ?1 ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.pool).await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn remove_token(&self, project_id: i64, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE project_id = ?1 AND name = ?2")
            .bind(project_id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn use_token(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<ApiToken>> {
        // The last use is recorded to the minute: a token used by many
        // requests at once writes once a minute, not once per request
        // (every write statement takes SQLite's one write lock).
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(token_hash).fetch_optional(&self.pool).await?;
        let Some(mut token) = row.as_ref().map(token_from_row).transpose()? else {
            return Ok(None);
        };
        if token.last_used_at.is_none_or(|t| now - t >= chrono::Duration::seconds(60)) {
            sqlx::query("UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1")
                .bind(token.id)
                .bind(ts(now))
                .execute(&self.pool)
                .await?;
            token.last_used_at = Some(now);
        }
        Ok(Some(token))
    }

    async fn insert_mentions(&self, project_id: i64, batch: &[MentionRecord]) -> Result<InsertReport> {
        let mut report = InsertReport::default();
        // Repeats within the batch are duplicates too; keep the first.
        let mut seen = HashSet::with_capacity(batch.len());
        let unique: Vec<(usize, &MentionRecord)> =
            batch.iter().enumerate().filter(|(_, r)| seen.insert(r.mention.dedup_key.as_str())).collect();
        report.duplicates += (batch.len() - unique.len()) as u64;

        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut inserted: Vec<(i64, &MentionRecord)> = Vec::with_capacity(unique.len());
        let mut inserted_index: Vec<usize> = Vec::with_capacity(unique.len());
        for chunk in unique.chunks(INSERT_CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO mentions (project_id, dedup_key, source_kind, source_id, source_item_id, url, title, \
                 text, author, site, published_at, collected_at, lang, lang_confidence, reach, content_hash, matches, \
                 analysis, sentiment, sentiment_score, sentiment_tier, reach_score) ",
            );
            qb.push_values(chunk.iter(), |mut b, (_, r)| {
                let m = &r.mention;
                b.push_bind(project_id)
                    .push_bind(m.dedup_key.as_str())
                    .push_bind(m.source_kind.as_str())
                    .push_bind(r.source_id)
                    .push_bind(m.source_item_id.as_deref())
                    .push_bind(m.url.as_deref())
                    .push_bind(m.title.as_deref())
                    .push_bind(m.text.as_str())
                    .push_bind(m.author.as_deref())
                    .push_bind(m.site.as_deref())
                    .push_bind(ts(m.published_at))
                    .push_bind(ts(m.collected_at))
                    .push_bind(m.lang.as_deref())
                    .push_bind(f64::from(m.lang_confidence))
                    .push_bind(m.reach)
                    .push_bind(m.content_hash.as_str())
                    .push_bind(matches_json(&r.matches))
                    .push_bind(analysis_json(&m.analysis))
                    .push_bind(m.analysis.sentiment.as_ref().map(|s| s.label.as_str()))
                    .push_bind(m.analysis.sentiment.as_ref().map(|s| f64::from(s.score)))
                    .push_bind(sentiment_tier(m.analysis.sentiment.as_ref()))
                    .push_bind(m.analysis.reach.as_ref().map(|r| f64::from(r.score)));
            });
            qb.push(" ON CONFLICT (project_id, dedup_key) DO NOTHING RETURNING id, dedup_key");
            let rows = qb.build().persistent(chunk.len() == INSERT_CHUNK).fetch_all(&mut *tx).await?;
            let mut ids: HashMap<String, i64> = HashMap::with_capacity(rows.len());
            for row in rows {
                ids.insert(row.try_get("dedup_key")?, row.try_get("id")?);
            }
            for (index, r) in chunk {
                if let Some(id) = ids.get(&r.mention.dedup_key) {
                    inserted.push((*id, *r));
                    inserted_index.push(*index);
                }
            }
        }
        report.duplicates += (unique.len() - inserted.len()) as u64;
        report.inserted += inserted.len() as u64;
        for part in inserted.chunks(FTS_CHUNK) {
            let mut fts: QueryBuilder<Sqlite> = QueryBuilder::new("INSERT INTO mentions_fts (rowid, title, text) ");
            fts.push_values(part.iter(), |mut b, (id, r)| {
                b.push_bind(*id).push_bind(r.fts_title.as_str()).push_bind(r.fts_text.as_str());
            });
            fts.build().persistent(part.len() == FTS_CHUNK).execute(&mut *tx).await?;
        }
        let matches: Vec<(i64, &WatchMatch)> =
            inserted.iter().flat_map(|(id, r)| r.matches.iter().map(move |m| (*id, m))).collect();
        for part in matches.chunks(MATCH_CHUNK) {
            // A watch removed while the batch was prepared is skipped, not a
            // foreign-key failure of the whole batch.
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new("INSERT INTO mention_watches (watch_id, mention_id) SELECT column1, column2 FROM (");
            qb.push_values(part.iter(), |mut b, (id, m)| {
                b.push_bind(m.watch_id).push_bind(*id);
            });
            qb.push(") WHERE column1 IN (SELECT id FROM watches) ON CONFLICT DO NOTHING");
            qb.build().persistent(part.len() == MATCH_CHUNK).execute(&mut *tx).await?;
        }
        // The watches' time series, in the same transaction.
        let mut buckets: HashMap<(i64, &'static str, i64), i64> = HashMap::new();
        for (_, r) in &inserted {
            let bucket = bucket_start(r.mention.published_at);
            let negative = r.mention.analysis.polarity() == Some(Polarity::Negative);
            for m in &r.matches {
                *buckets.entry((m.watch_id, SERIES_ALL, bucket)).or_default() += 1;
                if negative {
                    *buckets.entry((m.watch_id, SERIES_NEGATIVE, bucket)).or_default() += 1;
                }
            }
        }
        let buckets: Vec<((i64, &str, i64), i64)> = buckets.into_iter().collect();
        for part in buckets.chunks(BUCKET_CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO watch_buckets (watch_id, series, bucket_start, count) \
                 SELECT column1, column2, column3, column4 FROM (",
            );
            qb.push_values(part.iter(), |mut b, ((watch, series, start), count)| {
                b.push_bind(*watch).push_bind(*series).push_bind(*start).push_bind(*count);
            });
            qb.push(
                ") WHERE column1 IN (SELECT id FROM watches) \
                 ON CONFLICT (watch_id, series, bucket_start) DO UPDATE SET count = count + excluded.count",
            );
            qb.build().persistent(false).execute(&mut *tx).await?;
        }
        // Their rules have not run yet (see `rules_done`).
        for part in inserted.chunks(PENDING_CHUNK) {
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new("INSERT OR IGNORE INTO rules_pending (mention_id, project_id, stored_at) ");
            qb.push_values(part.iter(), |mut b, (id, r)| {
                b.push_bind(*id).push_bind(project_id).push_bind(ts(r.mention.collected_at));
            });
            qb.build().persistent(part.len() == PENDING_CHUNK).execute(&mut *tx).await?;
        }
        report.inserted_ids.extend(inserted.iter().map(|(id, _)| *id));
        report.inserted_index = inserted_index;
        tx.commit().await?;
        Ok(report)
    }

    async fn rules_done(&self, mention_ids: &[i64]) -> Result<()> {
        for part in mention_ids.chunks(PENDING_CHUNK * 3) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("DELETE FROM rules_pending WHERE mention_id IN (");
            let mut list = qb.separated(", ");
            for id in part {
                list.push_bind(*id);
            }
            qb.push(")");
            qb.build().persistent(false).execute(&self.pool).await?;
        }
        Ok(())
    }

    async fn take_rules_pending(
        &self,
        stored_before: DateTime<Utc>,
        limit: i64,
        claimed_at: DateTime<Utc>,
    ) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "UPDATE rules_pending SET stored_at = ?3 WHERE mention_id IN \
             (SELECT mention_id FROM rules_pending WHERE stored_at < ?1 ORDER BY stored_at, mention_id LIMIT ?2) \
             RETURNING project_id, mention_id",
        )
        .bind(ts(stored_before))
        .bind(limit)
        .bind(ts(claimed_at))
        .fetch_all(&self.pool)
        .await?;
        let mut taken: Vec<(i64, i64)> =
            rows.iter().map(|r| Ok((r.try_get("project_id")?, r.try_get("mention_id")?))).collect::<Result<_>>()?;
        taken.sort_unstable();
        Ok(taken)
    }

    async fn candidates(
        &self,
        project_id: i64,
        fts: Option<&str>,
        filter: &MentionFilter,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StoredMention>> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(format!("SELECT {MENTION_COLUMNS} FROM "));
        match fts {
            Some(expr) => {
                // CROSS JOIN keeps the FTS index as the outer loop, walked newest first;
                // otherwise the planner may probe the index once per stored mention.
                qb.push("mentions_fts f CROSS JOIN mentions m ON m.id = f.rowid WHERE f.mentions_fts MATCH ")
                    .push_bind(expr.to_string());
                qb.push(" AND m.project_id = ").push_bind(project_id);
                if let Some(before) = before_id {
                    qb.push(" AND f.rowid < ").push_bind(before);
                }
                push_filter(&mut qb, filter);
                qb.push(" ORDER BY f.rowid DESC LIMIT ").push_bind(limit);
            }
            None => {
                qb.push("mentions m WHERE m.project_id = ").push_bind(project_id);
                if let Some(before) = before_id {
                    qb.push(" AND m.id < ").push_bind(before);
                }
                push_filter(&mut qb, filter);
                qb.push(" ORDER BY m.id DESC LIMIT ").push_bind(limit);
            }
        }
        let rows = match qb.build().fetch_all(&self.pool).await {
            Ok(rows) => rows,
            // A malformed FTS expression is a bug in the query translator, but
            // the user should still get an answer: say so plainly.
            Err(sqlx::Error::Database(db)) if db.message().contains("fts5") => {
                return Err(StoreError::Corrupt(format!("full-text pre-filter rejected: {}", db.message())));
            }
            Err(e) => return Err(e.into()),
        };
        self.with_matches(rows).await
    }

    async fn mentions_after(
        &self,
        project_id: i64,
        filter: &MentionFilter,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<StoredMention>> {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {MENTION_COLUMNS} FROM mentions m WHERE m.project_id = "));
        qb.push_bind(project_id).push(" AND m.id > ").push_bind(after_id);
        push_filter(&mut qb, filter);
        qb.push(" ORDER BY m.id LIMIT ").push_bind(limit);
        let rows = qb.build().fetch_all(&self.pool).await?;
        self.with_matches(rows).await
    }

    async fn set_sentiments(&self, project_id: i64, verdicts: &[(i64, Option<Sentiment>)], tier: i64) -> Result<u64> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut updated = 0;
        for (id, sentiment) in verdicts {
            // Only the sentiment of the analysis JSON changes.
            let json = match sentiment {
                Some(s) => Some(serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))?),
                None => None,
            };
            updated += sqlx::query(
                "UPDATE mentions SET \
                 analysis = CASE WHEN ?1 IS NULL THEN analysis \
                     ELSE json_set(COALESCE(analysis, '{}'), '$.sentiment', json(?1)) END, \
                 sentiment = CASE WHEN ?1 IS NULL THEN sentiment ELSE ?2 END, \
                 sentiment_score = CASE WHEN ?1 IS NULL THEN sentiment_score ELSE ?3 END, \
                 sentiment_tier = ?4 \
                 WHERE id = ?5 AND project_id = ?6",
            )
            .bind(json)
            .bind(sentiment.as_ref().map(|s| s.label.as_str()))
            .bind(sentiment.as_ref().map(|s| f64::from(s.score)))
            .bind(tier)
            .bind(id)
            .bind(project_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(updated)
    }

    async fn set_analyses(&self, project_id: i64, analyses: &[(i64, Analysis)]) -> Result<u64> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut updated = 0;
        for (id, analysis) in analyses {
            updated += sqlx::query(
                "UPDATE mentions SET analysis = ?1, sentiment = ?2, sentiment_score = ?3, sentiment_tier = ?4, \
                 reach_score = ?5 WHERE id = ?6 AND project_id = ?7",
            )
            .bind(analysis_json(analysis))
            .bind(analysis.sentiment.as_ref().map(|s| s.label.as_str()))
            .bind(analysis.sentiment.as_ref().map(|s| f64::from(s.score)))
            .bind(sentiment_tier(analysis.sentiment.as_ref()))
            .bind(analysis.reach.as_ref().map(|r| f64::from(r.score)))
            .bind(id)
            .bind(project_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(updated)
    }

    async fn mentions_to_refine(&self, project_id: i64, limit: i64) -> Result<Vec<StoredMention>> {
        let sql = format!(
            "SELECT {MENTION_COLUMNS} FROM mentions m INDEXED BY mentions_to_refine \
             WHERE m.project_id = ?1 AND m.sentiment_tier = 0 ORDER BY m.id DESC LIMIT ?2"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(limit).fetch_all(&self.pool).await?;
        self.with_matches(rows).await
    }

    async fn correct_sentiment(
        &self,
        project_id: i64,
        mention_id: i64,
        label: Option<Polarity>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done =
            sqlx::query("UPDATE mentions SET corrected = ?1, corrected_at = ?2 WHERE id = ?3 AND project_id = ?4")
                .bind(label.map(Polarity::as_str))
                .bind(label.map(|_| ts(now)))
                .bind(mention_id)
                .bind(project_id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_stories(&self, project_id: i64, stories: &[(i64, i64)]) -> Result<u64> {
        if stories.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut updated = 0;
        for chunk in stories.chunks(INSERT_CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("UPDATE mentions SET story_id = v.column2 FROM (");
            qb.push_values(chunk, |mut b, (id, story)| {
                b.push_bind(*id).push_bind(*story);
            });
            qb.push(") AS v WHERE mentions.id = v.column1 AND mentions.project_id = ").push_bind(project_id);
            qb.push(" AND (mentions.story_id IS NULL OR mentions.story_id > v.column2)");
            updated += qb.build().persistent(false).execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(updated)
    }

    async fn merge_story(&self, project_id: i64, from: i64, into: i64) -> Result<u64> {
        if into >= from {
            return Ok(0);
        }
        let done = sqlx::query(
            "UPDATE mentions SET story_id = ?3 WHERE project_id = ?1 AND (id = ?2 OR story_id = ?2) \
             AND (story_id IS NULL OR story_id > ?3)",
        )
        .bind(project_id)
        .bind(from)
        .bind(into)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn mention(&self, project_id: i64, id: i64) -> Result<Option<StoredMention>> {
        let sql = format!("SELECT {MENTION_COLUMNS} FROM mentions m WHERE m.project_id = ?1 AND m.id = ?2");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(id).fetch_all(&self.pool).await?;
        Ok(self.with_matches(rows).await?.into_iter().next())
    }

    async fn mentions_by_ids(&self, project_id: i64, ids: &[i64]) -> Result<Vec<StoredMention>> {
        let mut found = Vec::new();
        // Within SQLite's bound on parameters per statement.
        for chunk in ids.chunks(500) {
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new(format!("SELECT {MENTION_COLUMNS} FROM mentions m WHERE m.project_id = "));
            qb.push_bind(project_id).push(" AND m.id IN (");
            let mut list = qb.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            qb.push(")");
            let rows = qb.build().fetch_all(&self.pool).await?;
            found.extend(self.with_matches(rows).await?);
        }
        found.sort_by_key(|m| m.mention.id);
        found.dedup_by_key(|m| m.mention.id);
        Ok(found)
    }

    async fn mention_projects(&self, ids: &[i64]) -> Result<Vec<(i64, i64)>> {
        let mut found = Vec::new();
        for chunk in ids.chunks(500) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT id, project_id FROM mentions WHERE id IN (");
            let mut list = qb.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            qb.push(")");
            for row in qb.build().fetch_all(&self.pool).await? {
                found.push((row.try_get("id")?, row.try_get("project_id")?));
            }
        }
        found.sort_unstable();
        found.dedup();
        Ok(found)
    }

    async fn watch_buckets(&self, watch_id: i64, series: &str, from: i64, to: i64) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT bucket_start, count FROM watch_buckets WHERE watch_id = ?1 AND series = ?2 \
             AND bucket_start >= ?3 AND bucket_start < ?4 ORDER BY bucket_start",
        )
        .bind(watch_id)
        .bind(series)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("bucket_start")?, r.try_get("count")?))).collect()
    }

    async fn detector_state(&self, watch_id: i64, series: &str) -> Result<Option<(i64, serde_json::Value)>> {
        let row = sqlx::query("SELECT last_bucket, state FROM detector_states WHERE watch_id = ?1 AND series = ?2")
            .bind(watch_id)
            .bind(series)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            None => Ok(None),
            Some(row) => {
                let state: String = row.try_get("state")?;
                let state = serde_json::from_str(&state)
                    .map_err(|e| StoreError::Corrupt(format!("detector state of watch {watch_id}: {e}")))?;
                Ok(Some((row.try_get("last_bucket")?, state)))
            }
        }
    }

    async fn save_detector_state(
        &self,
        watch_id: i64,
        series: &str,
        last_bucket: i64,
        state: &serde_json::Value,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO detector_states (watch_id, series, last_bucket, state) \
             SELECT ?1, ?2, ?3, ?4 WHERE ?1 IN (SELECT id FROM watches) \
             ON CONFLICT (watch_id, series) DO UPDATE SET last_bucket = excluded.last_bucket, state = excluded.state \
             WHERE excluded.last_bucket >= detector_states.last_bucket",
        )
        .bind(watch_id)
        .bind(series)
        .bind(last_bucket)
        .bind(state.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn alert_settings(&self, project_id: i64) -> Result<Option<serde_json::Value>> {
        let row = sqlx::query("SELECT settings FROM alert_settings WHERE project_id = ?1")
            .bind(project_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let text: String = r.try_get("settings")?;
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("alert settings: {e}")))
        })
        .transpose()
    }

    async fn set_alert_settings(&self, project_id: i64, settings: &serde_json::Value) -> Result<()> {
        sqlx::query(
            "INSERT INTO alert_settings (project_id, settings) VALUES (?1, ?2) \
             ON CONFLICT (project_id) DO UPDATE SET settings = excluded.settings",
        )
        .bind(project_id)
        .bind(settings.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn open_alert(&self, project_id: i64, dedup_key: &str, since: DateTime<Utc>) -> Result<Option<Alert>> {
        let mut conn = self.pool.acquire().await?;
        find_open_alert(&mut conn, project_id, dedup_key, since).await
    }

    async fn save_alert(&self, alert: &Alert, notify: bool, now: DateTime<Utc>) -> Result<Alert> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let id = write_alert(&mut tx, alert, notify, now).await?;
        tx.commit().await?;
        Ok(Alert { id, ..alert.clone() })
    }

    async fn merge_alert(
        &self,
        project_id: i64,
        dedup_key: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        fold: AlertFold,
    ) -> Result<Option<Alert>> {
        // One writer at a time from the start of the transaction: the alert
        // read below cannot change before this one is written.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let open = find_open_alert(&mut tx, project_id, dedup_key, since).await?;
        let Some((alert, notify)) = fold(open) else {
            tx.rollback().await?;
            return Ok(None);
        };
        let id = write_alert(&mut tx, &alert, notify, now).await?;
        tx.commit().await?;
        Ok(Some(Alert { id, ..alert }))
    }

    async fn alerts_after(
        &self,
        project_id: i64,
        status: Option<AlertStatus>,
        after: Option<AlertCursor>,
        limit: i64,
    ) -> Result<Vec<Alert>> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE project_id = ?1 AND (?2 IS NULL OR status = ?2) \
             AND (?4 IS NULL OR updated_at < ?4 OR (updated_at = ?4 AND id < ?5)) \
             ORDER BY updated_at DESC, id DESC LIMIT ?3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(status.map(AlertStatus::as_str))
            .bind(limit)
            .bind(after.map(|c| ts(c.updated_at)))
            .bind(after.map(|c| c.id))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(alert_from_row).collect()
    }

    async fn alert(&self, project_id: i64, id: i64) -> Result<Option<Alert>> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE project_id = ?1 AND id = ?2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(alert_from_row).transpose()
    }

    async fn set_alert_status(
        &self,
        project_id: i64,
        id: i64,
        status: AlertStatus,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let sql = match status {
            AlertStatus::Open => {
                "UPDATE alerts SET status = 'open', acknowledged_at = NULL, resolved_at = NULL, \
                 acknowledged_by = NULL, resolved_by = NULL WHERE project_id = ?1 AND id = ?2"
            }
            AlertStatus::Acknowledged => {
                "UPDATE alerts SET status = 'acknowledged', acknowledged_by = CASE WHEN acknowledged_at IS NULL \
                 THEN ?4 ELSE acknowledged_by END, acknowledged_at = COALESCE(acknowledged_at, ?3) \
                 WHERE project_id = ?1 AND id = ?2"
            }
            AlertStatus::Resolved => {
                "UPDATE alerts SET status = 'resolved', resolved_at = ?3, resolved_by = ?4 \
                 WHERE project_id = ?1 AND id = ?2"
            }
        };
        let done = sqlx::query(sql).bind(project_id).bind(id).bind(ts(now)).bind(by).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_channel(&self, project_id: i64, channel: NewChannel, now: DateTime<Utc>) -> Result<Channel> {
        let result = sqlx::query(
            "INSERT INTO notification_channels (project_id, kind, target, secret, min_severity, lang, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?6)",
        )
        .bind(project_id)
        .bind(&channel.kind)
        .bind(&channel.target)
        .bind(&channel.secret)
        .bind(channel.min_severity.as_str())
        .bind(ts(now))
        .bind(channel.lang.code())
        .execute(&self.pool)
        .await;
        let id = inserted_id(result, || {
            format!("this project already sends alerts to the {} {}", channel.kind, channel.target)
        })?;
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE id = ?1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_one(&self.pool).await?;
        channel_from_row(&row)
    }

    async fn list_channels(&self, project_id: i64) -> Result<Vec<Channel>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE project_id = ?1 ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.pool).await?;
        rows.iter().map(channel_from_row).collect()
    }

    async fn remove_channel(&self, project_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM notification_channels WHERE project_id = ?1 AND id = ?2")
            .bind(project_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn claim_due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        worker: &str,
        lease: std::time::Duration,
    ) -> Result<Vec<Delivery>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?1 \
             AND (lease_until IS NULL OR lease_until < ?1 OR leased_by = ?3) ORDER BY next_attempt_at, id LIMIT ?2",
        )
        .bind(ts(now))
        .bind(limit)
        .bind(worker)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query(
            "UPDATE deliveries SET lease_until = ?1, leased_by = ?2 WHERE id IN (SELECT value FROM json_each(?3))",
        )
        .bind(lease_end(now, lease))
        .bind(worker)
        .bind(serde_json::to_string(&ids).map_err(|e| StoreError::Corrupt(e.to_string()))?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(d) = self.delivery(id).await? {
                out.push(d);
            }
        }
        Ok(out)
    }

    async fn record_delivery(&self, id: i64, record: DeliveryRecord) -> Result<()> {
        let query = match &record {
            DeliveryRecord::Sent { at } => sqlx::query(
                "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = ?2, last_error = NULL, \
                 lease_until = NULL, leased_by = NULL WHERE id = ?1 AND status = 'pending'",
            )
            .bind(id)
            .bind(ts(*at)),
            DeliveryRecord::Retry { at: _, error, next_attempt_at } => sqlx::query(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3, \
                 lease_until = NULL, leased_by = NULL WHERE id = ?1 AND status = 'pending'",
            )
            .bind(id)
            .bind(error.clone())
            .bind(ts(*next_attempt_at)),
            DeliveryRecord::Failed { at: _, error } => sqlx::query(
                "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_error = ?2, \
                 lease_until = NULL, leased_by = NULL WHERE id = ?1 AND status = 'pending'",
            )
            .bind(id)
            .bind(error.clone()),
        };
        let done = query.execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no pending delivery with id {id}")));
        }
        Ok(())
    }

    async fn supersede_deliveries(
        &self,
        alert_id: i64,
        channel_id: i64,
        event: i64,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'superseded', lease_until = NULL, leased_by = NULL \
             WHERE alert_id = ?1 AND channel_id = ?2 AND event < ?3 AND status = 'pending' \
             AND (lease_until IS NULL OR lease_until < ?5 OR leased_by = ?4)",
        )
        .bind(alert_id)
        .bind(channel_id)
        .bind(event)
        .bind(worker)
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn deliveries(&self, alert_id: i64) -> Result<Vec<Delivery>> {
        let rows = sqlx::query("SELECT id FROM deliveries WHERE alert_id = ?1 ORDER BY id")
            .bind(alert_id)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(d) = self.delivery(row.try_get("id")?).await? {
                out.push(d);
            }
        }
        Ok(out)
    }

    async fn keyed_items(&self, project_id: i64, keys: &[&str]) -> Result<Vec<KeyedItem>> {
        let mut found = Vec::new();
        for part in keys.chunks(500) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT dedup_key, url, source_item_id, content_hash, source_id, source_kind FROM mentions WHERE project_id = ",
            );
            qb.push_bind(project_id).push(" AND dedup_key IN (");
            let mut list = qb.separated(", ");
            for key in part {
                list.push_bind(*key);
            }
            qb.push(")");
            for row in qb.build().persistent(false).fetch_all(&self.pool).await? {
                found.push(KeyedItem {
                    dedup_key: row.try_get("dedup_key")?,
                    url: row.try_get("url")?,
                    source_item_id: row.try_get("source_item_id")?,
                    content_hash: row.try_get("content_hash")?,
                    source_id: row.try_get("source_id")?,
                    source_kind: row.try_get("source_kind")?,
                });
            }
        }
        Ok(found)
    }

    async fn source_items(&self, source_id: i64, items: &[(&str, &str)]) -> Result<Vec<SourceItem>> {
        let mut found = Vec::new();
        for part in items.chunks(400) {
            // Each (id, hash) pair; the index on (source_id, source_item_id)
            // finds the candidates.
            let mut qb: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT source_item_id, content_hash, dedup_key FROM mentions WHERE source_id = ");
            qb.push_bind(source_id).push(" AND (");
            for (i, (id, hash)) in part.iter().enumerate() {
                if i > 0 {
                    qb.push(" OR ");
                }
                qb.push("(source_item_id = ").push_bind(*id).push(" AND content_hash = ").push_bind(*hash).push(")");
            }
            qb.push(")");
            for row in qb.build().persistent(false).fetch_all(&self.pool).await? {
                found.push(SourceItem {
                    id: row.try_get("source_item_id")?,
                    content_hash: row.try_get("content_hash")?,
                    dedup_key: row.try_get("dedup_key")?,
                });
            }
        }
        Ok(found)
    }

    async fn mention_by_key(&self, project_id: i64, dedup_key: &str) -> Result<Option<StoredMention>> {
        let sql = format!("SELECT {MENTION_COLUMNS} FROM mentions m WHERE m.project_id = ?1 AND m.dedup_key = ?2");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(dedup_key).fetch_all(&self.pool).await?;
        Ok(self.with_matches(rows).await?.into_iter().next())
    }

    async fn list_themes(&self, project_id: i64) -> Result<Vec<Theme>> {
        let rows =
            sqlx::query("SELECT id, key, name, department, query FROM themes WHERE project_id = ?1 ORDER BY key")
                .bind(project_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(theme_from_row).collect()
    }

    async fn add_theme(&self, project_id: i64, theme: NewTheme, now: DateTime<Utc>) -> Result<Theme> {
        let result = sqlx::query(
            "INSERT INTO themes (project_id, key, name, department, query, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(project_id)
        .bind(&theme.key)
        .bind(&theme.name)
        .bind(&theme.department)
        .bind(&theme.query)
        .bind(ts(now))
        .execute(&self.pool)
        .await;
        match result {
            Ok(done) => Ok(Theme {
                id: done.last_insert_rowid(),
                key: theme.key,
                name: theme.name,
                department: theme.department,
                query: theme.query,
            }),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict(format!("a theme with key {:?} already exists in this project", theme.key)))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn remove_theme(&self, project_id: i64, key: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM themes WHERE project_id = ?1 AND key = ?2")
            .bind(project_id)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn seed_themes(&self, project_id: i64, defaults: &[NewTheme], now: DateTime<Utc>) -> Result<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let seeded = sqlx::query("UPDATE projects SET themes_seeded = 1 WHERE id = ?1 AND themes_seeded = 0")
            .bind(project_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if seeded {
            for theme in defaults {
                sqlx::query(
                    "INSERT INTO themes (project_id, key, name, department, query, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (project_id, key) DO NOTHING",
                )
                .bind(project_id)
                .bind(&theme.key)
                .bind(&theme.name)
                .bind(&theme.department)
                .bind(&theme.query)
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(seeded)
    }

    async fn newest_texts(
        &self,
        project_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<String>> {
        // Walks the (project_id, published_at, …) index back from `to`.
        Ok(sqlx::query_scalar(
            "SELECT text FROM mentions WHERE project_id = ?1 AND published_at >= ?2 AND published_at < ?3 \
             ORDER BY published_at DESC LIMIT ?4",
        )
        .bind(project_id)
        .bind(ts(from))
        .bind(ts(to))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn mention_count(&self, project_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM mentions WHERE project_id = ?1")
            .bind(project_id)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn summary(&self, project_id: i64) -> Result<ProjectSummary> {
        let total = self.mention_count(project_id).await?;
        let per_watch = count_rows(
            &self.pool,
            "SELECT w.name AS key, COUNT(mw.mention_id) AS n FROM watches w \
             LEFT JOIN mention_watches mw ON mw.watch_id = w.id WHERE w.project_id = ?1 \
             GROUP BY w.id ORDER BY n DESC, w.name",
            project_id,
        )
        .await?;
        let per_lang = count_rows(
            &self.pool,
            "SELECT COALESCE(lang, 'unknown') AS key, COUNT(*) AS n FROM mentions WHERE project_id = ?1 \
             GROUP BY key ORDER BY n DESC, key",
            project_id,
        )
        .await?;
        let per_day = count_rows(
            &self.pool,
            "SELECT strftime('%Y-%m-%d', published_at, 'unixepoch') AS key, COUNT(*) AS n FROM mentions \
             WHERE project_id = ?1 GROUP BY key ORDER BY key",
            project_id,
        )
        .await?;
        let per_sentiment = count_rows(
            &self.pool,
            "SELECT COALESCE(corrected, sentiment, 'unknown') AS key, COUNT(*) AS n FROM mentions \
             WHERE project_id = ?1 GROUP BY key ORDER BY n DESC, key",
            project_id,
        )
        .await?;
        let per_theme = count_rows(
            &self.pool,
            // json_each has a column named `key`: group by position.
            "SELECT json_extract(t.value, '$.theme') AS key, COUNT(*) AS n \
             FROM mentions m, json_each(m.analysis, '$.themes') t \
             WHERE m.project_id = ?1 AND m.analysis IS NOT NULL GROUP BY 1 ORDER BY n DESC, 1",
            project_id,
        )
        .await?;
        Ok(ProjectSummary { total, per_watch, per_lang, per_day, per_sentiment, per_theme })
    }

    async fn close(&self) {
        self.checkpointer.stop().await;
        // Closing the last connection checkpoints the log and removes it.
        self.pool.close().await;
    }
}

async fn count_rows(pool: &SqlitePool, sql: &'static str, project_id: i64) -> Result<Vec<CountRow>> {
    let rows = sqlx::query(sql).bind(project_id).fetch_all(pool).await?;
    rows.iter().map(|r| Ok(CountRow { key: r.try_get("key")?, count: r.try_get("n")? })).collect()
}

fn theme_from_row(row: &SqliteRow) -> Result<Theme> {
    Ok(Theme {
        id: row.try_get("id")?,
        key: row.try_get("key")?,
        name: row.try_get("name")?,
        department: row.try_get("department")?,
        query: row.try_get("query")?,
    })
}

/// The latest alert of the project with this key, not resolved, updated at or after `since`.
async fn find_open_alert(
    conn: &mut sqlx::SqliteConnection,
    project_id: i64,
    dedup_key: &str,
    since: DateTime<Utc>,
) -> Result<Option<Alert>> {
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE project_id = ?1 AND dedup_key = ?2 AND updated_at >= ?3 \
         AND status != 'resolved' ORDER BY id DESC LIMIT 1"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(project_id)
        .bind(dedup_key)
        .bind(ts(since))
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(alert_from_row).transpose()
}

/// Writes the alert (a new one when `id` is 0) and, when `notify`, queues its
/// current event for the project's channels that take its severity; returns its id.
async fn write_alert(
    conn: &mut sqlx::SqliteConnection,
    alert: &Alert,
    notify: bool,
    now: DateTime<Utc>,
) -> Result<i64> {
    let evidence = serde_json::to_string(&alert.evidence).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mentions = serde_json::to_string(&alert.mention_ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let id = if alert.id == 0 {
        sqlx::query(
            "INSERT INTO alerts (project_id, watch_id, rule, severity, status, dedup_key, title, evidence, \
             mention_ids, events, opened_at, updated_at, acknowledged_at, resolved_at, acknowledged_by, resolved_by) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )
        .bind(alert.project_id)
        .bind(alert.watch_id)
        .bind(alert.rule.as_str())
        .bind(alert.severity.as_str())
        .bind(alert.status.as_str())
        .bind(&alert.dedup_key)
        .bind(&alert.title)
        .bind(&evidence)
        .bind(&mentions)
        .bind(alert.events)
        .bind(ts(alert.opened_at))
        .bind(ts(alert.updated_at))
        .bind(alert.acknowledged_at.map(ts))
        .bind(alert.resolved_at.map(ts))
        .bind(&alert.acknowledged_by)
        .bind(&alert.resolved_by)
        .execute(&mut *conn)
        .await?
        .last_insert_rowid()
    } else {
        let done = sqlx::query(
            "UPDATE alerts SET severity = ?2, status = ?3, title = ?4, evidence = ?5, mention_ids = ?6, \
             events = ?7, updated_at = ?8, acknowledged_at = ?9, resolved_at = ?10, acknowledged_by = ?11, \
             resolved_by = ?12 WHERE id = ?1",
        )
        .bind(alert.id)
        .bind(alert.severity.as_str())
        .bind(alert.status.as_str())
        .bind(&alert.title)
        .bind(&evidence)
        .bind(&mentions)
        .bind(alert.events)
        .bind(ts(alert.updated_at))
        .bind(alert.acknowledged_at.map(ts))
        .bind(alert.resolved_at.map(ts))
        .bind(&alert.acknowledged_by)
        .bind(&alert.resolved_by)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no alert with id {}", alert.id)));
        }
        alert.id
    };
    if notify {
        // Each notification is a delivery of its own (`alerts.notices`).
        let notice: i64 = sqlx::query_scalar("UPDATE alerts SET notices = notices + 1 WHERE id = ?1 RETURNING notices")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
        let severities = channel_minimums_taking(alert.severity);
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO deliveries (alert_id, event, channel_id, status, next_attempt_at, created_at) \
             SELECT ",
        );
        qb.push_bind(id).push(", ").push_bind(notice).push(", id, 'pending', ").push_bind(ts(now));
        qb.push(", ").push_bind(ts(now)).push(" FROM notification_channels WHERE project_id = ");
        qb.push_bind(alert.project_id).push(" AND min_severity IN (");
        let mut list = qb.separated(", ");
        for s in severities {
            list.push_bind(s);
        }
        qb.push(") ON CONFLICT (alert_id, event, channel_id) DO NOTHING");
        qb.build().persistent(false).execute(&mut *conn).await?;
    }
    Ok(id)
}

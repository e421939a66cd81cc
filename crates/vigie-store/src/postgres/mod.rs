//! PostgreSQL, for installations that outgrow one file: several `serve` and
//! `collect` processes on one database.
//!
//! [`Store`] lives here; [`crate::Accounts`] in `accounts.rs` and
//! [`crate::Workflow`] in `workflow.rs`, on the same [`PgStore`]; the
//! full-text pre-filter's translation in `fts.rs` (its documentation says how
//! the index is built and why it is a superset).
//!
//! The schema is SQLite's, written for PostgreSQL (append-only migrations in
//! `migrations/postgres/`): times are epoch seconds (`BIGINT`) as there, so
//! rows read back the same way; flags are `BOOLEAN`; JSON documents are
//! `JSONB`, written as text cast to `jsonb` and read back cast to text, so
//! both backends share their encoding (`codec.rs`). Text is ordered
//! with `COLLATE "C"` (byte order, as SQLite's), whatever the database's
//! collation. Every object lives in the connection's current schema, so one
//! database can hold several installations (or test runs) side by side.
//!
//! Bulk writes send each column as one array (`UNNEST`): one statement text
//! per kind of row whatever the batch size, no limit on bound values. A
//! batch of mentions is one transaction, retried when PostgreSQL breaks a
//! deadlock between two writers storing overlapping batches.

mod accounts;
mod fts;
mod reports;
mod workflow;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Postgres, QueryBuilder, Row, SqlSafeStr};
use vigie_model::{
    Alert, AlertRule, AlertStatus, Analysis, Mention, Polarity, Role, Sentiment, Severity, Source, SourceKind,
    SourceType, Theme, Watch,
};

use crate::codec::{
    analysis_from_parts, analysis_json, channel_minimums_taking, from_opt_ts, from_ts, is_unique_violation,
    language_from_str, matches_from_json, matches_json, role_from_str, sentiment_tier, terms_json, ts,
};
use crate::{
    AlertCursor, AlertFold, ApiToken, Channel, CountRow, Delivery, DeliveryRecord, FetchRecord, InsertReport,
    KeyedItem, MentionFilter, MentionRecord, NewChannel, NewSource, NewTheme, NewWatch, Project, ProjectSummary,
    Result, SERIES_ALL, SERIES_NEGATIVE, SearchRun, SourceCoverage, SourceItem, Store, StoreError, StoredMention,
    bucket_start, join_langs, lease_end, split_langs,
};

/// The PostgreSQL migrations, append-only, embedded in the binary.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/postgres/0001_init.sql")),
    (2, "overview", include_str!("../../migrations/postgres/0002_overview.sql")),
    (3, "leases", include_str!("../../migrations/postgres/0003_leases.sql")),
    (4, "reports", include_str!("../../migrations/postgres/0004_reports.sql")),
    (5, "channel_lang", include_str!("../../migrations/postgres/0005_channel_lang.sql")),
    (6, "platform_ids", include_str!("../../migrations/postgres/0006_platform_ids.sql")),
    (7, "project_models", include_str!("../../migrations/postgres/0007_project_models.sql")),
    (8, "rules_pending", include_str!("../../migrations/postgres/0008_rules_pending.sql")),
    (9, "report_sending", include_str!("../../migrations/postgres/0009_report_sending.sql")),
    (10, "reopen_clock", include_str!("../../migrations/postgres/0010_reopen_clock.sql")),
    (11, "alert_notices", include_str!("../../migrations/postgres/0011_alert_notices.sql")),
    (12, "source_items", include_str!("../../migrations/postgres/0012_source_items.sql")),
    (13, "escalation_mails", include_str!("../../migrations/postgres/0013_escalation_mails.sql")),
];

/// Mentions per INSERT statement (each column one array).
const INSERT_CHUNK: usize = 5_000;
/// Past this many bytes of index strings a mention is not indexed (always a
/// candidate): a `tsvector` holds at most 1 MiB of lexemes, and `unaccent`
/// may lengthen a few characters.
pub(crate) const MAX_INDEXED_BYTES: usize = 256 * 1024;
/// Attempts of a batch insert that PostgreSQL chose as a deadlock's victim.
const INSERT_ATTEMPTS: usize = 8;

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
pub struct PgStore {
    pool: PgPool,
    /// One fill of the overview's hourly cache at a time (see `crate::rollup`).
    rollup_fill: Arc<tokio::sync::Mutex<()>>,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`)
    /// and brings its schema up to date, in the role's default schema (the
    /// first of its `search_path`, usually `public`).
    pub async fn connect(url: &str) -> Result<Self> {
        first_contact(url).await?;
        let pool = pool_options().connect_with(connect_options(url)?).await?;
        bring_up_to_date(&pool).await?;
        Ok(PgStore { pool, rollup_fill: Arc::default() })
    }

    /// Like [`PgStore::connect`], in the schema `schema` (created if
    /// needed): every connection of the pool has it as its only
    /// `search_path`. Test runs use a fresh schema each, then drop it.
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(StoreError::Database(sqlx::Error::Configuration(
                format!("invalid schema name {schema:?}: ASCII letters, digits and _ only").into(),
            )));
        }
        first_contact(url).await?;
        let set_path: Arc<str> = format!("SET search_path TO \"{schema}\"").into();
        let pool = pool_options()
            .after_connect(move |conn, _meta| {
                let sql = set_path.to_string();
                Box::pin(async move {
                    sqlx::query(AssertSqlSafe(sql)).execute(&mut *conn).await?;
                    Ok(())
                })
            })
            .connect_with(connect_options(url)?)
            .await?;
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))).execute(&pool).await?;
        migrator().run(&pool).await.map_err(|e| crate::migration_error(e, MIGRATIONS.len() as i64))?;
        Ok(PgStore { pool, rollup_fill: Arc::default() })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The server's version, as it says it.
    pub async fn server_version(&self) -> Result<String> {
        Ok(sqlx::query_scalar("SHOW server_version").fetch_one(&self.pool).await?)
    }

    /// The size of the current database on disk.
    pub async fn database_bytes(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT pg_database_size(current_database())").fetch_one(&self.pool).await?)
    }
}

/// Creates the database `name` on the server at `url` (benchmarks make their
/// own); the name must be a plain identifier.
pub async fn create_database(url: &str, name: &str) -> Result<()> {
    admin_statement(url, name, |n| format!("CREATE DATABASE \"{n}\"")).await
}

/// Drops the database `name` on the server at `url`, closing its sessions.
pub async fn drop_database(url: &str, name: &str) -> Result<()> {
    admin_statement(url, name, |n| format!("DROP DATABASE IF EXISTS \"{n}\" WITH (FORCE)")).await
}

async fn admin_statement(url: &str, name: &str, sql: impl FnOnce(&str) -> String) -> Result<()> {
    if name.is_empty()
        || name.len() > 63
        || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(StoreError::Database(sqlx::Error::Configuration(
            format!("invalid database name {name:?}: lowercase ASCII letters, digits and _ only").into(),
        )));
    }
    let mut conn = connect_options(url)?.connect().await?;
    sqlx::query(AssertSqlSafe(sql(name))).execute(&mut conn).await?;
    Ok(())
}

/// Runs the migrations the database lacks. A role that may read and write
/// the tables but not create any (the least a front or a worker needs) cannot
/// run them, even when none is due (sqlx first makes sure its own table
/// exists): on a database already up to date that is no error, the
/// migrations are left to a role that may.
async fn bring_up_to_date(pool: &PgPool) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    let Err(e) = migrator().run(pool).await else { return Ok(()) };
    let denied = matches!(&e, sqlx::migrate::MigrateError::Execute(sqlx::Error::Database(d))
        if d.code().as_deref() == Some("42501"));
    if denied {
        let applied: Option<(Option<i64>, Option<bool>)> =
            sqlx::query_as("SELECT MAX(version), bool_and(success) FROM _sqlx_migrations").fetch_one(pool).await.ok();
        if applied == Some((Some(known), Some(true))) {
            tracing::debug!("this role may not create tables; the schema is up to date already");
            return Ok(());
        }
    }
    Err(crate::migration_error(e, known))
}

/// One connection before the pool is made: the pool retries a failing
/// connection until its time-out and then says only "pool timed out", where
/// the user needs the server's address and what went wrong (connection
/// refused, unknown host, password, no such database).
async fn first_contact(url: &str) -> Result<()> {
    let options = connect_options(url)?;
    let place = format!(
        "PostgreSQL at {}:{} (database {:?}, user {:?})",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or_default(),
        options.get_username()
    );
    match tokio::time::timeout(Duration::from_secs(10), options.connect()).await {
        Ok(Ok(conn)) => {
            let _ = sqlx::Connection::close(conn).await;
            Ok(())
        }
        Ok(Err(e)) => {
            // sqlx ends a server's error with the line of PostgreSQL's own
            // source that raised it: noise for the reader.
            let why = e.to_string();
            let why = match why.rsplit_once(" at line ") {
                Some((head, line)) if line.chars().all(|c| c.is_ascii_digit()) => head.to_string(),
                _ => why,
            };
            Err(StoreError::Unreachable(format!("cannot connect to {place}: {why}")))
        }
        Err(_) => Err(StoreError::Unreachable(format!("cannot connect to {place}: no answer within 10 s"))),
    }
}

fn connect_options(url: &str) -> Result<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(url)?
        .application_name("vigie")
        // Big batches and searches over a large project are expected: not a
        // warning on every user's terminal.
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1)))
}

fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(30))
}

/// A deadlock victim or a serialization failure: the transaction may succeed
/// when run again.
fn is_retryable(e: &StoreError) -> bool {
    matches!(e, StoreError::Database(sqlx::Error::Database(db))
        if matches!(db.code().as_deref(), Some("40P01") | Some("40001")))
}

/// The id `RETURNING id` gave, or [`StoreError::Conflict`] with `conflict`'s
/// message when a unique constraint refused the row.
fn returned_id(result: std::result::Result<i64, sqlx::Error>, conflict: impl FnOnce() -> String) -> Result<i64> {
    match result {
        Ok(id) => Ok(id),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(conflict())),
        Err(e) => Err(e.into()),
    }
}

/// Text ordered byte by byte, as SQLite orders it.
const C: &str = "COLLATE \"C\"";

const WATCH_COLUMNS: &str = "id, name, query, competitor, langs, created_at";

fn watch_from_row(row: &PgRow) -> Result<Watch> {
    Ok(Watch {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        query: row.try_get("query")?,
        competitor: row.try_get("competitor")?,
        langs: split_langs(&row.try_get::<String, _>("langs")?),
        created_at: from_ts(row.try_get("created_at")?)?,
    })
}

const SOURCE_COLUMNS: &str = "id, project_id, source_type, url, interval_secs, created_at, next_due_at, \
     last_attempt_at, last_success_at, last_error, consecutive_failures, last_item_count, total_stored, \
     etag, last_modified, config::text AS config, cursor::text AS cursor, quota_limited, last_warning";

fn json_column(row: &PgRow, column: &str) -> Result<Option<serde_json::Value>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("source {column}: {e}")))).transpose()
}

fn source_from_row(row: &PgRow) -> Result<Source> {
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
        quota_limited: row.try_get("quota_limited")?,
        last_item_count: row.try_get("last_item_count")?,
        total_stored: row.try_get("total_stored")?,
        etag: row.try_get("etag")?,
        last_modified: row.try_get("last_modified")?,
        cursor: json_column(row, "cursor")?,
    })
}

const ALERT_COLUMNS: &str = "id, project_id, watch_id, rule, severity, status, dedup_key, title, \
     evidence::text AS evidence, mention_ids::text AS mention_ids, events, opened_at, updated_at, acknowledged_at, \
     resolved_at, acknowledged_by, resolved_by";

fn alert_from_row(row: &PgRow) -> Result<Alert> {
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

fn channel_from_row(row: &PgRow) -> Result<Channel> {
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

fn token_from_row(row: &PgRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        name: row.try_get("name")?,
        role: role_from_str(&row.try_get::<String, _>("role")?)?,
        created_at: from_ts(row.try_get("created_at")?)?,
        last_used_at: from_opt_ts(row.try_get("last_used_at")?)?,
    })
}

fn project_from_row(row: &PgRow) -> Result<Project> {
    Ok(Project { id: row.try_get("id")?, name: row.try_get("name")?, created_at: from_ts(row.try_get("created_at")?)? })
}

fn search_run_from_row(row: &PgRow) -> Result<SearchRun> {
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
     m.matches::text AS matches, m.analysis::text AS analysis, m.corrected, m.story_id";

fn mention_from_row(row: &PgRow) -> Result<StoredMention> {
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
        analysis: analysis_from_parts(
            row.try_get::<Option<String>, _>("analysis")?.as_deref(),
            row.try_get::<Option<String>, _>("corrected")?.as_deref(),
            row.try_get("story_id")?,
        )?,
    };
    let matches = matches_from_json(row.try_get::<Option<String>, _>("matches")?.as_deref())?;
    Ok(StoredMention { mention, source_id: row.try_get("source_id")?, matches })
}

fn mentions_from_rows(rows: &[PgRow]) -> Result<Vec<StoredMention>> {
    rows.iter().map(mention_from_row).collect()
}

fn theme_from_row(row: &PgRow) -> Result<Theme> {
    Ok(Theme {
        id: row.try_get("id")?,
        key: row.try_get("key")?,
        name: row.try_get("name")?,
        department: row.try_get("department")?,
        query: row.try_get("query")?,
    })
}

fn push_filter(qb: &mut QueryBuilder<Postgres>, filter: &MentionFilter) {
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
            .push(" OR right(m.site, length(")
            .push_bind(site.clone())
            .push(") + 1) = '.' || ")
            .push_bind(site.clone())
            .push(")");
    }
    if let Some(theme) = &filter.theme {
        // Some element of `themes` has this `theme`.
        qb.push(" AND m.analysis -> 'themes' @> jsonb_build_array(jsonb_build_object('theme', ")
            .push_bind(theme.clone())
            .push("::text))");
    }
    match filter.status {
        // No inbox row is `new` too.
        Some(vigie_model::InboxStatus::New) => {
            qb.push(" AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.mention_id = m.id AND i.status <> 'new')");
        }
        Some(status) => {
            qb.push(" AND EXISTS (SELECT 1 FROM inbox i WHERE i.mention_id = m.id AND i.status = ")
                .push_bind(status.as_str())
                .push(")");
        }
        None => {}
    }
}

/// The statement storing a chunk of mentions, each column one array, in
/// batch order; keys already stored are skipped before their index entries
/// are computed (ON CONFLICT still settles a race with another writer).
const INSERT_MENTIONS: &str = "INSERT INTO mentions (project_id, dedup_key, source_kind, source_id, source_item_id, \
     url, title, text, author, site, published_at, collected_at, lang, lang_confidence, reach, content_hash, \
     matches, analysis, sentiment, sentiment_score, sentiment_tier, reach_score, fts, fts_loose) \
     SELECT $1, u.dedup_key, u.source_kind, u.source_id, u.source_item_id, u.url, u.title, u.text, u.author, u.site, \
     u.published_at, u.collected_at, u.lang, u.lang_confidence, u.reach, u.content_hash, u.matches::jsonb, \
     u.analysis::jsonb, u.sentiment, u.sentiment_score, u.sentiment_tier, u.reach_score, f.fts, f.fts_loose \
     FROM UNNEST($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
     $10::text[], $11::bigint[], $12::bigint[], $13::text[], $14::float8[], $15::bigint[], $16::text[], $17::text[], \
     $18::text[], $19::text[], $20::float8[], $21::bigint[], $22::float8[], $23::text[], $24::text[]) \
     WITH ORDINALITY AS u(dedup_key, source_kind, source_id, source_item_id, url, title, text, author, site, \
     published_at, collected_at, lang, lang_confidence, reach, content_hash, matches, analysis, sentiment, \
     sentiment_score, sentiment_tier, reach_score, fts_title, fts_text, ord) \
     CROSS JOIN LATERAL vigie_fts_index(u.fts_title, u.fts_text) AS f \
     WHERE NOT EXISTS (SELECT 1 FROM mentions e WHERE e.project_id = $1 AND e.dedup_key = u.dedup_key) \
     ORDER BY u.ord \
     ON CONFLICT (project_id, dedup_key) DO NOTHING RETURNING id, dedup_key";

impl PgStore {
    async fn delivery(&self, id: i64) -> Result<Option<Delivery>> {
        let Some(row) = sqlx::query(
            "SELECT d.id, d.alert_id, d.event, d.channel_id, d.status, d.attempts, d.last_error, d.sent_at, \
             a.project_id FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let project_id: i64 = row.try_get("project_id")?;
        let alert = self.alert(project_id, row.try_get("alert_id")?).await?;
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE id = $1");
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

    /// One attempt at storing a batch (already without repeats), in one
    /// transaction.
    async fn insert_unique(&self, project_id: i64, unique: &[(usize, &MentionRecord)]) -> Result<InsertReport> {
        let mut report = InsertReport::default();
        let mut tx = self.pool.begin().await?;
        let mut inserted: Vec<(i64, &MentionRecord)> = Vec::with_capacity(unique.len());
        for chunk in unique.chunks(INSERT_CHUNK) {
            let records = || chunk.iter().map(|(_, r)| *r);
            let mentions = || records().map(|r| &r.mention);
            let indexed = |r: &MentionRecord| r.fts_title.len() + r.fts_text.len() <= MAX_INDEXED_BYTES;
            let rows = sqlx::query(INSERT_MENTIONS)
                .bind(project_id)
                .bind(mentions().map(|m| m.dedup_key.as_str()).collect::<Vec<_>>())
                .bind(mentions().map(|m| m.source_kind.as_str()).collect::<Vec<_>>())
                .bind(records().map(|r| r.source_id).collect::<Vec<_>>())
                .bind(mentions().map(|m| m.source_item_id.as_deref()).collect::<Vec<_>>())
                .bind(mentions().map(|m| m.url.as_deref()).collect::<Vec<_>>())
                .bind(mentions().map(|m| m.title.as_deref()).collect::<Vec<_>>())
                .bind(mentions().map(|m| m.text.as_str()).collect::<Vec<_>>())
                .bind(mentions().map(|m| m.author.as_deref()).collect::<Vec<_>>())
                .bind(mentions().map(|m| m.site.as_deref()).collect::<Vec<_>>())
                .bind(mentions().map(|m| ts(m.published_at)).collect::<Vec<_>>())
                .bind(mentions().map(|m| ts(m.collected_at)).collect::<Vec<_>>())
                .bind(mentions().map(|m| m.lang.as_deref()).collect::<Vec<_>>())
                .bind(mentions().map(|m| f64::from(m.lang_confidence)).collect::<Vec<_>>())
                .bind(mentions().map(|m| m.reach).collect::<Vec<_>>())
                .bind(mentions().map(|m| m.content_hash.as_str()).collect::<Vec<_>>())
                .bind(records().map(|r| matches_json(&r.matches)).collect::<Vec<_>>())
                .bind(mentions().map(|m| analysis_json(&m.analysis)).collect::<Vec<_>>())
                .bind(mentions().map(|m| m.analysis.sentiment.as_ref().map(|s| s.label.as_str())).collect::<Vec<_>>())
                .bind(mentions().map(|m| m.analysis.sentiment.as_ref().map(|s| f64::from(s.score))).collect::<Vec<_>>())
                .bind(mentions().map(|m| sentiment_tier(m.analysis.sentiment.as_ref())).collect::<Vec<_>>())
                .bind(mentions().map(|m| m.analysis.reach.as_ref().map(|r| f64::from(r.score))).collect::<Vec<_>>())
                .bind(records().map(|r| indexed(r).then_some(r.fts_title.as_str())).collect::<Vec<_>>())
                .bind(records().map(|r| indexed(r).then_some(r.fts_text.as_str())).collect::<Vec<_>>())
                .fetch_all(&mut *tx)
                .await?;
            let mut ids: HashMap<String, i64> = HashMap::with_capacity(rows.len());
            for row in rows {
                ids.insert(row.try_get("dedup_key")?, row.try_get("id")?);
            }
            for (index, r) in chunk {
                if let Some(id) = ids.get(&r.mention.dedup_key) {
                    inserted.push((*id, *r));
                    report.inserted_index.push(*index);
                }
            }
        }
        report.duplicates = (unique.len() - inserted.len()) as u64;
        report.inserted = inserted.len() as u64;

        let (watches, mentions): (Vec<i64>, Vec<i64>) =
            inserted.iter().flat_map(|(id, r)| r.matches.iter().map(move |m| (m.watch_id, *id))).unzip();
        if !watches.is_empty() {
            // A watch removed while the batch was prepared is skipped, not a
            // foreign-key failure of the whole batch.
            sqlx::query(
                "INSERT INTO mention_watches (watch_id, mention_id) \
                 SELECT u.watch_id, u.mention_id FROM UNNEST($1::bigint[], $2::bigint[]) AS u(watch_id, mention_id) \
                 WHERE u.watch_id IN (SELECT id FROM watches) ON CONFLICT DO NOTHING",
            )
            .bind(&watches)
            .bind(&mentions)
            .execute(&mut *tx)
            .await?;
        }

        // The watches' time series, in the same transaction; in key order,
        // so that two writers lock the rows they share in the same order.
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
        let mut buckets: Vec<((i64, &str, i64), i64)> = buckets.into_iter().collect();
        buckets.sort_unstable();
        if !buckets.is_empty() {
            sqlx::query(
                "INSERT INTO watch_buckets (watch_id, series, bucket_start, count) \
                 SELECT u.watch_id, u.series, u.bucket_start, u.count \
                 FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::bigint[]) \
                 AS u(watch_id, series, bucket_start, count) \
                 WHERE u.watch_id IN (SELECT id FROM watches) \
                 ON CONFLICT (watch_id, series, bucket_start) DO UPDATE SET count = watch_buckets.count + excluded.count",
            )
            .bind(buckets.iter().map(|((w, _, _), _)| *w).collect::<Vec<_>>())
            .bind(buckets.iter().map(|((_, s, _), _)| *s).collect::<Vec<_>>())
            .bind(buckets.iter().map(|((_, _, b), _)| *b).collect::<Vec<_>>())
            .bind(buckets.iter().map(|(_, n)| *n).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }
        // Their rules have not run yet (see `rules_done`).
        if !inserted.is_empty() {
            sqlx::query(
                "INSERT INTO rules_pending (mention_id, project_id, stored_at) \
                 SELECT u.id, $1, u.at FROM UNNEST($2::bigint[], $3::bigint[]) AS u(id, at) ON CONFLICT DO NOTHING",
            )
            .bind(project_id)
            .bind(inserted.iter().map(|(id, _)| *id).collect::<Vec<_>>())
            .bind(inserted.iter().map(|(_, r)| ts(r.mention.collected_at)).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }
        report.inserted_ids.extend(inserted.iter().map(|(id, _)| *id));
        tx.commit().await?;
        Ok(report)
    }

    /// The pre-filter's tsqueries for an FTS5 expression; None when the index
    /// cannot narrow the search.
    async fn tsqueries(&self, expr: &str) -> Result<Option<fts::TsQueries>> {
        let node = fts::parse(expr)
            .map_err(|e| StoreError::Corrupt(format!("full-text pre-filter rejected: {e} in {expr:?}")))?;
        let mut strings = Vec::new();
        node.strings(&mut strings);
        strings.sort_unstable();
        strings.dedup();
        let rows = sqlx::query(fts::NORMALIZE_SQL).bind(&strings).fetch_all(&self.pool).await?;
        let mut lexemes = fts::Normalized::new();
        for row in rows {
            let i: i64 = row.try_get("i")?;
            let position: i16 = row.try_get("pos")?;
            let lexeme: String = row.try_get("lexeme")?;
            let Some(string) = usize::try_from(i - 1).ok().and_then(|i| strings.get(i)) else {
                return Err(StoreError::Corrupt(format!("full-text normalization: string {i} out of range")));
            };
            let groups = lexemes.entry(string.to_string()).or_default();
            match groups.last_mut() {
                Some((p, alternatives)) if *p == i32::from(position) => alternatives.push(lexeme),
                _ => groups.push((i32::from(position), vec![lexeme])),
            }
        }
        Ok(fts::render(&node, &lexemes))
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ensure_project(&self, name: &str, now: DateTime<Utc>) -> Result<Project> {
        if let Some(project) = self.project(name).await? {
            return Ok(project);
        }
        sqlx::query("INSERT INTO projects (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(ts(now))
            .execute(&self.pool)
            .await?;
        self.project(name).await?.ok_or_else(|| StoreError::NotFound(format!("project {name:?}")))
    }

    async fn project(&self, name: &str) -> Result<Option<Project>> {
        let row = sqlx::query("SELECT id, name, created_at FROM projects WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(project_from_row).transpose()
    }

    async fn project_by_id(&self, id: i64) -> Result<Option<Project>> {
        let row = sqlx::query("SELECT id, name, created_at FROM projects WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(project_from_row).transpose()
    }

    async fn list_projects(&self) -> Result<Vec<Project>> {
        let sql = format!("SELECT id, name, created_at FROM projects ORDER BY name {C}");
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(project_from_row).collect()
    }

    async fn add_watch(&self, project_id: i64, watch: NewWatch, now: DateTime<Utc>) -> Result<Watch> {
        let result = sqlx::query_scalar(
            "INSERT INTO watches (project_id, name, query, competitor, langs, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(project_id)
        .bind(&watch.name)
        .bind(&watch.query)
        .bind(watch.competitor)
        .bind(join_langs(&watch.langs))
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await;
        let id = returned_id(result, || format!("a watch named {:?} already exists in this project", watch.name))?;
        Ok(Watch {
            id,
            name: watch.name,
            query: watch.query,
            competitor: watch.competitor,
            langs: watch.langs,
            created_at: from_ts(ts(now))?,
        })
    }

    async fn update_watch(&self, project_id: i64, watch: &Watch) -> Result<()> {
        let result = sqlx::query(
            "UPDATE watches SET name = $1, query = $2, competitor = $3, langs = $4 WHERE id = $5 AND project_id = $6",
        )
        .bind(&watch.name)
        .bind(&watch.query)
        .bind(watch.competitor)
        .bind(join_langs(&watch.langs))
        .bind(watch.id)
        .bind(project_id)
        .execute(&self.pool)
        .await;
        let done = match result {
            Ok(done) => done,
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "a watch named {:?} already exists in this project",
                    watch.name
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no watch with id {}", watch.id)));
        }
        Ok(())
    }

    async fn list_watches(&self, project_id: i64) -> Result<Vec<Watch>> {
        let sql = format!("SELECT {WATCH_COLUMNS} FROM watches WHERE project_id = $1 ORDER BY name {C}");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.pool).await?;
        rows.iter().map(watch_from_row).collect()
    }

    async fn watch_by_name(&self, project_id: i64, name: &str) -> Result<Option<Watch>> {
        let sql = format!("SELECT {WATCH_COLUMNS} FROM watches WHERE project_id = $1 AND name = $2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(name).fetch_optional(&self.pool).await?;
        row.as_ref().map(watch_from_row).transpose()
    }

    async fn remove_watch(&self, project_id: i64, name: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM watches WHERE project_id = $1 AND name = $2 FOR UPDATE")
                .bind(project_id)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(id) = id else { return Ok(false) };
        // Drop the watch's terms from its mentions, then the watch (its rows in
        // mention_watches go with it).
        sqlx::query(
            "UPDATE mentions SET matches = NULLIF(matches - $1::bigint::text, '{}'::jsonb) \
             WHERE id IN (SELECT mention_id FROM mention_watches WHERE watch_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM watches WHERE id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn clear_matches(&self, watch_id: i64) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        // The watch's terms leave its mentions' JSON first (found through
        // the rows about to go), then the rows themselves.
        sqlx::query(
            "UPDATE mentions SET matches = NULLIF(matches - $1::bigint::text, '{}'::jsonb) \
             WHERE id IN (SELECT mention_id FROM mention_watches WHERE watch_id = $1)",
        )
        .bind(watch_id)
        .execute(&mut *tx)
        .await?;
        let cleared =
            sqlx::query("DELETE FROM mention_watches WHERE watch_id = $1").bind(watch_id).execute(&mut *tx).await?;
        // Its time series and what its detectors learned from them go too
        // (see the SQLite store).
        sqlx::query("DELETE FROM watch_buckets WHERE watch_id = $1").bind(watch_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM detector_states WHERE watch_id = $1").bind(watch_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(cleared.rows_affected())
    }

    async fn add_matches(&self, watch_id: i64, matches: &[(i64, Vec<String>)]) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for chunk in matches.chunks(INSERT_CHUNK) {
            let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
            let terms: Vec<String> = chunk.iter().map(|(_, terms)| terms_json(terms)).collect();
            let new: Vec<i64> = sqlx::query_scalar(
                "INSERT INTO mention_watches (watch_id, mention_id) SELECT $1, u.id FROM UNNEST($2::bigint[]) AS u(id) \
                 ON CONFLICT DO NOTHING RETURNING mention_id",
            )
            .bind(watch_id)
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
            added += new.len() as u64;
            // The watch's time series count the mentions it gained.
            for (series, only_negative) in
                [(SERIES_ALL, ""), (SERIES_NEGATIVE, " AND COALESCE(corrected, sentiment) = 'negative'")]
            {
                // Only constants are formatted in.
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO watch_buckets (watch_id, series, bucket_start, count) \
                     SELECT $1, $2, published_at - ((published_at % {b}) + {b}) % {b} AS b, \
                     COUNT(*) FROM mentions WHERE id = ANY($3){only_negative} GROUP BY b ORDER BY b \
                     ON CONFLICT (watch_id, series, bucket_start) DO UPDATE SET count = watch_buckets.count + excluded.count",
                    b = crate::BUCKET_SECS
                )))
                .bind(watch_id)
                .bind(series)
                .bind(&new)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "UPDATE mentions SET matches = COALESCE(mentions.matches, '{}'::jsonb) \
                 || jsonb_build_object($1::bigint::text, v.terms::jsonb) \
                 FROM UNNEST($2::bigint[], $3::text[]) AS v(id, terms) WHERE mentions.id = v.id",
            )
            .bind(watch_id)
            .bind(&ids)
            .bind(&terms)
            .execute(&mut *tx)
            .await?;
        }
        // Detectors judged the series without these counts: they learn again
        // (a state saved while a re-match was half-way is dropped too).
        if added > 0 {
            sqlx::query("DELETE FROM detector_states WHERE watch_id = $1").bind(watch_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    async fn add_source(&self, project_id: i64, source: NewSource, now: DateTime<Utc>) -> Result<Source> {
        let result = sqlx::query_scalar(
            "INSERT INTO sources (project_id, source_type, url, interval_secs, created_at, next_due_at, config) \
             VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING id",
        )
        .bind(project_id)
        .bind(source.source_type.as_str())
        .bind(&source.url)
        .bind(source.interval_secs)
        .bind(ts(now))
        .bind(ts(source.first_due_at))
        .bind(source.config.to_string())
        .fetch_one(&self.pool)
        .await;
        let id = returned_id(result, || {
            format!("this project already has the {} source {}", source.source_type, source.url)
        })?;
        let sql = format!("SELECT {SOURCE_COLUMNS} FROM sources WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_one(&self.pool).await?;
        source_from_row(&row)
    }

    async fn list_sources(&self, project_id: i64) -> Result<Vec<Source>> {
        let sql = format!("SELECT {SOURCE_COLUMNS} FROM sources WHERE project_id = $1 ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.pool).await?;
        rows.iter().map(source_from_row).collect()
    }

    async fn remove_source(&self, project_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sources WHERE project_id = $1 AND id = $2")
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
        let mut tx = self.pool.begin().await?;
        // Rows another worker is taking right now are skipped, not waited for.
        let sql = format!(
            "SELECT {SOURCE_COLUMNS} FROM sources WHERE next_due_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1 OR leased_by = $3) ORDER BY next_due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(ts(now)).bind(limit).bind(worker).fetch_all(&mut *tx).await?;
        let due: Vec<(i64, Source)> =
            rows.iter().map(|r| Ok((r.try_get("project_id")?, source_from_row(r)?))).collect::<Result<_>>()?;
        if !due.is_empty() {
            let ids: Vec<i64> = due.iter().map(|(_, s)| s.id).collect();
            sqlx::query("UPDATE sources SET lease_until = $1, leased_by = $2 WHERE id = ANY($3)")
                .bind(lease_end(now, lease))
                .bind(worker)
                .bind(&ids)
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
        let done = sqlx::query("UPDATE sources SET lease_until = $3 WHERE id = $1 AND leased_by = $2")
            .bind(source_id)
            .bind(worker)
            .bind(lease_end(now, lease))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn release_leases(&self, worker: &str) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let sources = sqlx::query("UPDATE sources SET lease_until = NULL, leased_by = NULL WHERE leased_by = $1")
            .bind(worker)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let deliveries = sqlx::query("UPDATE deliveries SET lease_until = NULL, leased_by = NULL WHERE leased_by = $1")
            .bind(worker)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let mails = sqlx::query(
            "UPDATE escalation_mails SET lease_until = NULL, leased_by = NULL WHERE leased_by = $1 AND status = 'pending'",
        )
        .bind(worker)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(sources + deliveries + mails)
    }

    async fn project_model(&self, project_id: i64, kind: &str) -> Result<Option<Vec<u8>>> {
        let bytes = sqlx::query_scalar("SELECT bytes FROM project_models WHERE project_id = $1 AND kind = $2")
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
        let had = sqlx::query("DELETE FROM project_models WHERE project_id = $1 AND kind = $2")
            .bind(project_id)
            .bind(kind)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if let Some(bytes) = bytes {
            sqlx::query("INSERT INTO project_models (project_id, kind, bytes, updated_at) VALUES ($1, $2, $3, $4)")
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
            "SELECT leased_by FROM sources WHERE left(leased_by, length($1)) = $1 \
             UNION SELECT leased_by FROM deliveries WHERE left(leased_by, length($1)) = $1 \
             UNION SELECT leased_by FROM escalation_mails WHERE status = 'pending' AND left(leased_by, length($1)) = $1 \
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
                    "UPDATE sources SET last_attempt_at = $2, last_success_at = $2, last_error = NULL, \
                     consecutive_failures = 0, quota_limited = FALSE, last_item_count = $3, \
                     total_stored = total_stored + $4, etag = $5, last_modified = $6, next_due_at = $7, \
                     cursor = COALESCE($8::jsonb, cursor), last_warning = $9, lease_until = NULL, leased_by = NULL WHERE id = $1",
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
                "UPDATE sources SET last_attempt_at = $2, last_success_at = $2, last_error = NULL, \
                 consecutive_failures = 0, quota_limited = FALSE, last_item_count = 0, last_warning = NULL, \
                 next_due_at = $3, lease_until = NULL, leased_by = NULL WHERE id = $1",
            )
            .bind(source_id)
            .bind(ts(*at))
            .bind(ts(*next_due_at)),
            FetchRecord::Failure { at, error, next_due_at, quota_limited, cursor, stored } => sqlx::query(
                "UPDATE sources SET last_attempt_at = $2, last_error = $3, \
                 consecutive_failures = consecutive_failures + 1, next_due_at = $4, quota_limited = $5, \
                 cursor = COALESCE($6::jsonb, cursor), total_stored = total_stored + $7, lease_until = NULL, leased_by = NULL WHERE id = $1",
            )
            .bind(source_id)
            .bind(ts(*at))
            .bind(error.clone())
            .bind(ts(*next_due_at))
            .bind(*quota_limited)
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
        let sql = format!("SELECT {SOURCE_COLUMNS} FROM sources WHERE project_id = $1 AND id = $2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(source_from_row).transpose()
    }

    async fn source_coverage(&self, project_id: i64, since: DateTime<Utc>) -> Result<Vec<SourceCoverage>> {
        // Lags sorted per source, so the median is the middle row; bounded
        // by what the project's sources stored in the period.
        let rows = sqlx::query(
            "SELECT m.source_id, GREATEST(m.collected_at - m.published_at, 0) AS lag FROM mentions m \
             JOIN sources s ON s.id = m.source_id \
             WHERE s.project_id = $1 AND m.source_id IS NOT NULL AND m.collected_at >= $2 \
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
        let id = sqlx::query_scalar(
            "INSERT INTO search_runs (source_id, ran_at, results, changes) VALUES ($1, $2, $3::jsonb, $4::jsonb) \
             RETURNING id",
        )
        .bind(source_id)
        .bind(ts(ran_at))
        .bind(results.to_string())
        .bind(changes.to_string())
        .fetch_one(&self.pool)
        .await?;
        Ok(SearchRun { id, source_id, ran_at, results: results.clone(), changes: changes.clone() })
    }

    async fn search_runs(&self, source_id: i64, limit: i64) -> Result<Vec<SearchRun>> {
        let rows = sqlx::query(
            "SELECT id, source_id, ran_at, results::text AS results, changes::text AS changes FROM search_runs \
             WHERE source_id = $1 ORDER BY id DESC LIMIT $2",
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
        let result = sqlx::query_scalar(
            "INSERT INTO api_tokens (project_id, name, token_hash, role, created_at) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind(project_id)
        .bind(name)
        .bind(token_hash)
        .bind(role.as_str())
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await;
        let id = returned_id(result, || format!("this project already has a token named {name:?}"))?;
        Ok(ApiToken { id, project_id, name: name.to_string(), role, created_at: from_ts(ts(now))?, last_used_at: None })
    }

    async fn list_tokens(&self, project_id: i64) -> Result<Vec<ApiToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE project_id = $1 ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.pool).await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn remove_token(&self, project_id: i64, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE project_id = $1 AND name = $2")
            .bind(project_id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn use_token(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<ApiToken>> {
        // The last use is recorded to the minute: a token used by many
        // requests at once writes once a minute, not once per request.
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(token_hash).fetch_optional(&self.pool).await?;
        let Some(mut token) = row.as_ref().map(token_from_row).transpose()? else {
            return Ok(None);
        };
        if token.last_used_at.is_none_or(|t| now - t >= chrono::Duration::seconds(60)) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                .bind(token.id)
                .bind(ts(now))
                .execute(&self.pool)
                .await?;
            token.last_used_at = Some(now);
        }
        Ok(Some(token))
    }

    async fn insert_mentions(&self, project_id: i64, batch: &[MentionRecord]) -> Result<InsertReport> {
        // Repeats within the batch are duplicates too; keep the first.
        let mut seen = HashSet::with_capacity(batch.len());
        let unique: Vec<(usize, &MentionRecord)> =
            batch.iter().enumerate().filter(|(_, r)| seen.insert(r.mention.dedup_key.as_str())).collect();
        let repeats = (batch.len() - unique.len()) as u64;
        let mut attempt = 1;
        loop {
            match self.insert_unique(project_id, &unique).await {
                Ok(mut report) => {
                    report.duplicates += repeats;
                    return Ok(report);
                }
                Err(e) if attempt < INSERT_ATTEMPTS && is_retryable(&e) => {
                    tracing::debug!(error = %e, attempt, "batch insert retried");
                    // Back off a little, longer each time, so the writers
                    // that collided do not collide again at once.
                    tokio::time::sleep(std::time::Duration::from_millis(10 * attempt as u64)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn rules_done(&self, mention_ids: &[i64]) -> Result<()> {
        if !mention_ids.is_empty() {
            sqlx::query("DELETE FROM rules_pending WHERE mention_id = ANY($1)")
                .bind(mention_ids)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn take_rules_pending(
        &self,
        stored_before: DateTime<Utc>,
        limit: i64,
        claimed_at: DateTime<Utc>,
    ) -> Result<Vec<(i64, i64)>> {
        // SKIP LOCKED: two processes sweeping at once claim different rows.
        let rows = sqlx::query(
            "UPDATE rules_pending SET stored_at = $3 WHERE mention_id IN \
             (SELECT mention_id FROM rules_pending WHERE stored_at < $1 ORDER BY stored_at, mention_id LIMIT $2 \
              FOR UPDATE SKIP LOCKED) \
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
        let queries = match fts {
            Some(expr) => self.tsqueries(expr).await?,
            None => None,
        };
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("SELECT {MENTION_COLUMNS} FROM mentions m WHERE m.project_id = "));
        qb.push_bind(project_id);
        if let Some(q) = queries {
            // Positions where the mention kept them, lexemes alone where it
            // could not, and unindexed mentions always.
            qb.push(" AND (m.fts @@ ")
                .push_bind(q.strict)
                .push("::tsquery OR m.fts_loose @@ ")
                .push_bind(q.loose)
                .push("::tsquery OR (m.fts IS NULL AND m.fts_loose IS NULL))");
        }
        if let Some(before) = before_id {
            qb.push(" AND m.id < ").push_bind(before);
        }
        push_filter(&mut qb, filter);
        qb.push(" ORDER BY m.id DESC LIMIT ").push_bind(limit);
        let rows = match qb.build().fetch_all(&self.pool).await {
            Ok(rows) => rows,
            // A tsquery PostgreSQL refuses is a bug in the translation, but
            // the user should still get an answer: say so plainly.
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42601") => {
                return Err(StoreError::Corrupt(format!("full-text pre-filter rejected: {}", db.message())));
            }
            Err(e) => return Err(e.into()),
        };
        mentions_from_rows(&rows)
    }

    async fn mentions_after(
        &self,
        project_id: i64,
        filter: &MentionFilter,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<StoredMention>> {
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("SELECT {MENTION_COLUMNS} FROM mentions m WHERE m.project_id = "));
        qb.push_bind(project_id).push(" AND m.id > ").push_bind(after_id);
        push_filter(&mut qb, filter);
        qb.push(" ORDER BY m.id LIMIT ").push_bind(limit);
        let rows = qb.build().fetch_all(&self.pool).await?;
        mentions_from_rows(&rows)
    }

    async fn set_sentiments(&self, project_id: i64, verdicts: &[(i64, Option<Sentiment>)], tier: i64) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut updated = 0;
        for (id, sentiment) in verdicts {
            // Only the sentiment of the analysis JSON changes.
            let json = match sentiment {
                Some(s) => Some(serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))?),
                None => None,
            };
            updated += sqlx::query(
                "UPDATE mentions SET \
                 analysis = CASE WHEN $1::jsonb IS NULL THEN analysis \
                     ELSE jsonb_set(COALESCE(analysis, '{}'::jsonb), '{sentiment}', $1::jsonb) END, \
                 sentiment = CASE WHEN $1::jsonb IS NULL THEN sentiment ELSE $2 END, \
                 sentiment_score = CASE WHEN $1::jsonb IS NULL THEN sentiment_score ELSE $3 END, \
                 sentiment_tier = $4 \
                 WHERE id = $5 AND project_id = $6",
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
        let mut tx = self.pool.begin().await?;
        let mut updated = 0;
        for (id, analysis) in analyses {
            updated += sqlx::query(
                "UPDATE mentions SET analysis = $1::jsonb, sentiment = $2, sentiment_score = $3, sentiment_tier = $4, \
                 reach_score = $5 WHERE id = $6 AND project_id = $7",
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
            "SELECT {MENTION_COLUMNS} FROM mentions m \
             WHERE m.project_id = $1 AND m.sentiment_tier = 0 ORDER BY m.id DESC LIMIT $2"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(limit).fetch_all(&self.pool).await?;
        mentions_from_rows(&rows)
    }

    async fn correct_sentiment(
        &self,
        project_id: i64,
        mention_id: i64,
        label: Option<Polarity>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done =
            sqlx::query("UPDATE mentions SET corrected = $1, corrected_at = $2 WHERE id = $3 AND project_id = $4")
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
        let mut tx = self.pool.begin().await?;
        let mut updated = 0;
        for chunk in stories.chunks(INSERT_CHUNK) {
            updated += sqlx::query(
                "UPDATE mentions SET story_id = v.story FROM UNNEST($1::bigint[], $2::bigint[]) AS v(id, story) \
                 WHERE mentions.id = v.id AND mentions.project_id = $3 \
                 AND (mentions.story_id IS NULL OR mentions.story_id > v.story)",
            )
            .bind(chunk.iter().map(|(id, _)| *id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(_, story)| *story).collect::<Vec<_>>())
            .bind(project_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(updated)
    }

    async fn merge_story(&self, project_id: i64, from: i64, into: i64) -> Result<u64> {
        if into >= from {
            return Ok(0);
        }
        let done = sqlx::query(
            "UPDATE mentions SET story_id = $3 WHERE project_id = $1 AND (id = $2 OR story_id = $2) \
             AND (story_id IS NULL OR story_id > $3)",
        )
        .bind(project_id)
        .bind(from)
        .bind(into)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn mention(&self, project_id: i64, id: i64) -> Result<Option<StoredMention>> {
        let sql = format!("SELECT {MENTION_COLUMNS} FROM mentions m WHERE m.project_id = $1 AND m.id = $2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(mention_from_row).transpose()
    }

    async fn mentions_by_ids(&self, project_id: i64, ids: &[i64]) -> Result<Vec<StoredMention>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {MENTION_COLUMNS} FROM mentions m WHERE m.project_id = $1 AND m.id = ANY($2) ORDER BY m.id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(ids).fetch_all(&self.pool).await?;
        mentions_from_rows(&rows)
    }

    async fn mention_projects(&self, ids: &[i64]) -> Result<Vec<(i64, i64)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query("SELECT id, project_id FROM mentions WHERE id = ANY($1) ORDER BY id")
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("project_id")?))).collect()
    }

    async fn watch_buckets(&self, watch_id: i64, series: &str, from: i64, to: i64) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT bucket_start, count FROM watch_buckets WHERE watch_id = $1 AND series = $2 \
             AND bucket_start >= $3 AND bucket_start < $4 ORDER BY bucket_start",
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
        let row = sqlx::query(
            "SELECT last_bucket, state::text AS state FROM detector_states WHERE watch_id = $1 AND series = $2",
        )
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
             SELECT $1, $2, $3, $4::jsonb WHERE $1 IN (SELECT id FROM watches) \
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
        let row = sqlx::query("SELECT settings::text AS settings FROM alert_settings WHERE project_id = $1")
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
            "INSERT INTO alert_settings (project_id, settings) VALUES ($1, $2::jsonb) \
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
        let mut tx = self.pool.begin().await?;
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
        let mut tx = self.pool.begin().await?;
        // Processes folding events of the same key wait for each other here
        // (until the transaction ends): the alert read below cannot change
        // before this one is written.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("vigie-alert:{project_id}:{dedup_key}"))
            .execute(&mut *tx)
            .await?;
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
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE project_id = $1 AND ($2::text IS NULL OR status = $2) \
             AND ($4::bigint IS NULL OR updated_at < $4 OR (updated_at = $4 AND id < $5)) \
             ORDER BY updated_at DESC, id DESC LIMIT $3"
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
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE project_id = $1 AND id = $2");
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
        let query = match status {
            AlertStatus::Open => sqlx::query(
                "UPDATE alerts SET status = 'open', acknowledged_at = NULL, resolved_at = NULL, \
                 acknowledged_by = NULL, resolved_by = NULL WHERE project_id = $1 AND id = $2",
            ),
            AlertStatus::Acknowledged => sqlx::query(
                "UPDATE alerts SET status = 'acknowledged', acknowledged_by = CASE WHEN acknowledged_at IS NULL \
                 THEN $4 ELSE acknowledged_by END, acknowledged_at = COALESCE(acknowledged_at, $3) \
                 WHERE project_id = $1 AND id = $2",
            ),
            AlertStatus::Resolved => sqlx::query(
                "UPDATE alerts SET status = 'resolved', resolved_at = $3, resolved_by = $4 \
                 WHERE project_id = $1 AND id = $2",
            ),
        };
        let query = query.bind(project_id).bind(id);
        let query = if status == AlertStatus::Open { query } else { query.bind(ts(now)).bind(by) };
        let done = query.execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_channel(&self, project_id: i64, channel: NewChannel, now: DateTime<Utc>) -> Result<Channel> {
        let sql = format!(
            "INSERT INTO notification_channels (project_id, kind, target, secret, min_severity, lang, created_at) \
             VALUES ($1, $2, $3, $4, $5, $7, $6) RETURNING {CHANNEL_COLUMNS}"
        );
        let result = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(&channel.kind)
            .bind(&channel.target)
            .bind(&channel.secret)
            .bind(channel.min_severity.as_str())
            .bind(ts(now))
            .bind(channel.lang.code())
            .fetch_one(&self.pool)
            .await;
        match result {
            Ok(row) => channel_from_row(&row),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                "this project already sends alerts to the {} {}",
                channel.kind, channel.target
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn list_channels(&self, project_id: i64) -> Result<Vec<Channel>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE project_id = $1 ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.pool).await?;
        rows.iter().map(channel_from_row).collect()
    }

    async fn remove_channel(&self, project_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM notification_channels WHERE project_id = $1 AND id = $2")
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
        let mut tx = self.pool.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1 OR leased_by = $3) ORDER BY next_attempt_at, id LIMIT $2 \
             FOR UPDATE SKIP LOCKED",
        )
        .bind(ts(now))
        .bind(limit)
        .bind(worker)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query("UPDATE deliveries SET lease_until = $1, leased_by = $2 WHERE id = ANY($3)")
            .bind(lease_end(now, lease))
            .bind(worker)
            .bind(&ids)
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
                "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = $2, last_error = NULL, \
                 lease_until = NULL, leased_by = NULL WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .bind(ts(*at)),
            DeliveryRecord::Retry { at: _, error, next_attempt_at } => sqlx::query(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, \
                 lease_until = NULL, leased_by = NULL WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .bind(error.clone())
            .bind(ts(*next_attempt_at)),
            DeliveryRecord::Failed { at: _, error } => sqlx::query(
                "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_error = $2, \
                 lease_until = NULL, leased_by = NULL WHERE id = $1 AND status = 'pending'",
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
             WHERE alert_id = $1 AND channel_id = $2 AND event < $3 AND status = 'pending' \
             AND (lease_until IS NULL OR lease_until < $5 OR leased_by = $4)",
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
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM deliveries WHERE alert_id = $1 ORDER BY id")
            .bind(alert_id)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(d) = self.delivery(id).await? {
                out.push(d);
            }
        }
        Ok(out)
    }

    async fn keyed_items(&self, project_id: i64, keys: &[&str]) -> Result<Vec<KeyedItem>> {
        let mut found = Vec::new();
        for part in keys.chunks(INSERT_CHUNK) {
            let rows = sqlx::query(
                "SELECT dedup_key, url, source_item_id, content_hash, source_id, source_kind FROM mentions \
                 WHERE project_id = $1 AND dedup_key = ANY($2::text[])",
            )
            .bind(project_id)
            .bind(part)
            .fetch_all(&self.pool)
            .await?;
            for row in rows {
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
        for part in items.chunks(INSERT_CHUNK) {
            let ids: Vec<&str> = part.iter().map(|(id, _)| *id).collect();
            let hashes: Vec<&str> = part.iter().map(|(_, hash)| *hash).collect();
            let rows = sqlx::query(
                "SELECT m.source_item_id, m.content_hash, m.dedup_key \
                 FROM unnest($2::text[], $3::text[]) AS wanted(id, hash) \
                 JOIN mentions m ON m.source_id = $1 AND m.source_item_id = wanted.id \
                 AND m.content_hash = wanted.hash",
            )
            .bind(source_id)
            .bind(&ids)
            .bind(&hashes)
            .fetch_all(&self.pool)
            .await?;
            for row in rows {
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
        let sql = format!("SELECT {MENTION_COLUMNS} FROM mentions m WHERE m.project_id = $1 AND m.dedup_key = $2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(dedup_key).fetch_optional(&self.pool).await?;
        row.as_ref().map(mention_from_row).transpose()
    }

    async fn list_themes(&self, project_id: i64) -> Result<Vec<Theme>> {
        let sql = format!("SELECT id, key, name, department, query FROM themes WHERE project_id = $1 ORDER BY key {C}");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.pool).await?;
        rows.iter().map(theme_from_row).collect()
    }

    async fn add_theme(&self, project_id: i64, theme: NewTheme, now: DateTime<Utc>) -> Result<Theme> {
        let result = sqlx::query_scalar(
            "INSERT INTO themes (project_id, key, name, department, query, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(project_id)
        .bind(&theme.key)
        .bind(&theme.name)
        .bind(&theme.department)
        .bind(&theme.query)
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await;
        let id = returned_id(result, || format!("a theme with key {:?} already exists in this project", theme.key))?;
        Ok(Theme { id, key: theme.key, name: theme.name, department: theme.department, query: theme.query })
    }

    async fn remove_theme(&self, project_id: i64, key: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM themes WHERE project_id = $1 AND key = $2")
            .bind(project_id)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn seed_themes(&self, project_id: i64, defaults: &[NewTheme], now: DateTime<Utc>) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // The row lock makes a concurrent seeding wait, then find it done.
        let seeded = sqlx::query("UPDATE projects SET themes_seeded = TRUE WHERE id = $1 AND NOT themes_seeded")
            .bind(project_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if seeded && !defaults.is_empty() {
            sqlx::query(
                "INSERT INTO themes (project_id, key, name, department, query, created_at) \
                 SELECT $1, u.key, u.name, u.department, u.query, $6 \
                 FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY \
                 AS u(key, name, department, query, ord) ORDER BY u.ord \
                 ON CONFLICT (project_id, key) DO NOTHING",
            )
            .bind(project_id)
            .bind(defaults.iter().map(|t| t.key.as_str()).collect::<Vec<_>>())
            .bind(defaults.iter().map(|t| t.name.as_str()).collect::<Vec<_>>())
            .bind(defaults.iter().map(|t| t.department.as_str()).collect::<Vec<_>>())
            .bind(defaults.iter().map(|t| t.query.as_str()).collect::<Vec<_>>())
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
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
            "SELECT text FROM mentions WHERE project_id = $1 AND published_at >= $2 AND published_at < $3 \
             ORDER BY published_at DESC LIMIT $4",
        )
        .bind(project_id)
        .bind(ts(from))
        .bind(ts(to))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn mention_count(&self, project_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM mentions WHERE project_id = $1")
            .bind(project_id)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn summary(&self, project_id: i64) -> Result<ProjectSummary> {
        let total = self.mention_count(project_id).await?;
        let per_watch = count_rows(
            &self.pool,
            "SELECT w.name AS key, COUNT(mw.mention_id) AS n FROM watches w \
             LEFT JOIN mention_watches mw ON mw.watch_id = w.id WHERE w.project_id = $1 \
             GROUP BY w.id ORDER BY n DESC, w.name COLLATE \"C\"",
            project_id,
        )
        .await?;
        let per_lang = count_rows(
            &self.pool,
            "SELECT COALESCE(lang, 'unknown') AS key, COUNT(*) AS n FROM mentions WHERE project_id = $1 \
             GROUP BY 1 ORDER BY n DESC, COALESCE(lang, 'unknown') COLLATE \"C\"",
            project_id,
        )
        .await?;
        let per_day = count_rows(
            &self.pool,
            "SELECT to_char(to_timestamp(published_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS key, COUNT(*) AS n \
             FROM mentions WHERE project_id = $1 GROUP BY 1 ORDER BY 1",
            project_id,
        )
        .await?;
        let per_sentiment = count_rows(
            &self.pool,
            "SELECT COALESCE(corrected, sentiment, 'unknown') AS key, COUNT(*) AS n FROM mentions \
             WHERE project_id = $1 GROUP BY 1 ORDER BY n DESC, COALESCE(corrected, sentiment, 'unknown') COLLATE \"C\"",
            project_id,
        )
        .await?;
        let per_theme = count_rows(
            &self.pool,
            "SELECT t.value ->> 'theme' AS key, COUNT(*) AS n FROM mentions m \
             CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(m.analysis -> 'themes') = 'array' \
                 THEN m.analysis -> 'themes' ELSE '[]'::jsonb END) AS t(value) \
             WHERE m.project_id = $1 AND m.analysis IS NOT NULL \
             GROUP BY 1 ORDER BY n DESC, (t.value ->> 'theme') COLLATE \"C\"",
            project_id,
        )
        .await?;
        Ok(ProjectSummary { total, per_watch, per_lang, per_day, per_sentiment, per_theme })
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

async fn count_rows(pool: &PgPool, sql: &'static str, project_id: i64) -> Result<Vec<CountRow>> {
    let rows = sqlx::query(sql).bind(project_id).fetch_all(pool).await?;
    rows.iter().map(|r| Ok(CountRow { key: r.try_get("key")?, count: r.try_get("n")? })).collect()
}

/// The latest alert of the project with this key, not resolved, updated at or after `since`.
async fn find_open_alert(
    conn: &mut sqlx::PgConnection,
    project_id: i64,
    dedup_key: &str,
    since: DateTime<Utc>,
) -> Result<Option<Alert>> {
    // Locked until the transaction ends: an acknowledgement or a resolution
    // made meanwhile (`set_alert_status`) waits for the fold's write rather
    // than being overwritten by it, then applies to what it wrote.
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE project_id = $1 AND dedup_key = $2 AND updated_at >= $3 \
         AND status <> 'resolved' ORDER BY id DESC LIMIT 1 FOR UPDATE"
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
async fn write_alert(conn: &mut sqlx::PgConnection, alert: &Alert, notify: bool, now: DateTime<Utc>) -> Result<i64> {
    let evidence = serde_json::to_string(&alert.evidence).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mentions = serde_json::to_string(&alert.mention_ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let id = if alert.id == 0 {
        sqlx::query_scalar(
            "INSERT INTO alerts (project_id, watch_id, rule, severity, status, dedup_key, title, evidence, \
             mention_ids, events, opened_at, updated_at, acknowledged_at, resolved_at, acknowledged_by, resolved_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
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
        .fetch_one(&mut *conn)
        .await?
    } else {
        let done = sqlx::query(
            "UPDATE alerts SET severity = $2, status = $3, title = $4, evidence = $5::jsonb, \
             mention_ids = $6::jsonb, events = $7, updated_at = $8, acknowledged_at = $9, resolved_at = $10, \
             acknowledged_by = $11, resolved_by = $12 WHERE id = $1",
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
        let notice: i64 = sqlx::query_scalar("UPDATE alerts SET notices = notices + 1 WHERE id = $1 RETURNING notices")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO deliveries (alert_id, event, channel_id, status, next_attempt_at, created_at) \
             SELECT $1, $2, id, 'pending', $3, $3 FROM notification_channels \
             WHERE project_id = $4 AND min_severity = ANY($5::text[]) ORDER BY id \
             ON CONFLICT (alert_id, event, channel_id) DO NOTHING",
        )
        .bind(id)
        .bind(notice)
        .bind(ts(now))
        .bind(alert.project_id)
        .bind(channel_minimums_taking(alert.severity))
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

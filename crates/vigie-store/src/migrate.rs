//! Moving an installation from its SQLite file to PostgreSQL
//! (`vigie migrate --to postgres://…`).
//!
//! Every table is copied with its ids, parents before children (the
//! foreign keys hold at every row), into a PostgreSQL database whose schema
//! is up to date and which holds no data yet. The whole copy is **one
//! PostgreSQL transaction**: a failure, an interruption or a checksum that
//! does not match rolls it back and leaves the target as empty as it was.
//!
//! Rows are streamed: the source is read in key order through one SQLite
//! read transaction (a consistent snapshot, even if a collector writes
//! meanwhile; SQLite hands rows over through a bounded channel), and written
//! in batches of at most [`BATCH_ROWS`] rows or [`BATCH_BYTES`] bytes, each
//! column sent as one array (`UNNEST`). Memory stays bounded whatever the
//! number of mentions.
//!
//! Mentions get their PostgreSQL full-text entries as
//! [`crate::PgStore`]'s `insert_mentions` writes them: SQLite's FTS5 index is
//! contentless (it cannot be read back), so the index strings are made again
//! from the stored title and text with `vigie_query::index_text`, the
//! function the pipeline uses, and go through the same `vigie_fts_index`.
//!
//! Then identity sequences are set past the largest id of each table, and
//! each table is verified: its rows are read back from PostgreSQL inside the
//! transaction and, on both sides, encoded the same canonical way (typed
//! values, JSON documents with sorted keys) into a SHA-256. The transaction
//! commits only if every count and checksum agree.

use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};

use crate::postgres::MAX_INDEXED_BYTES;
use crate::{PgStore, Result, SqliteStore, StoreError};

/// Rows per INSERT at most.
pub const BATCH_ROWS: usize = 5_000;
/// Bytes of text per INSERT at most (long mentions make smaller batches).
pub const BATCH_BYTES: usize = 16 * 1024 * 1024;

/// How a column is stored, and so read, written and checksummed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Real,
    Text,
    /// INTEGER 0/1 in SQLite, BOOLEAN in PostgreSQL.
    Bool,
    /// TEXT in SQLite, JSONB in PostgreSQL.
    Json,
    /// BLOB in SQLite, BYTEA in PostgreSQL.
    Bytes,
}

use Kind::{Bool, Bytes, Int, Json, Real, Text};

struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    /// The primary key (or, for `login_failures`, every column): the order
    /// rows are read and checksummed in.
    order: &'static [&'static str],
    /// Has an identity `id` whose sequence is reset.
    identity: bool,
}

/// Every table, parents before children. Not `overview_hours`: a cache of
/// the overview's hourly figures, which PostgreSQL's triggers mark to compute
/// for every hour the copied mentions fall in.
const TABLES: &[Table] = &[
    Table {
        name: "projects",
        columns: &[("id", Int), ("name", Text), ("created_at", Int), ("themes_seeded", Bool)],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "users",
        columns: &[
            ("id", Int),
            ("username", Text),
            ("display_name", Text),
            ("email", Text),
            ("password_hash", Text),
            ("is_admin", Bool),
            ("lang", Text),
            ("must_change_password", Bool),
            ("disabled", Bool),
            ("created_at", Int),
        ],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "watches",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("name", Text),
            ("query", Text),
            ("competitor", Bool),
            ("langs", Text),
            ("created_at", Int),
        ],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "sources",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("source_type", Text),
            ("url", Text),
            ("interval_secs", Int),
            ("created_at", Int),
            ("next_due_at", Int),
            ("last_attempt_at", Int),
            ("last_success_at", Int),
            ("last_error", Text),
            ("consecutive_failures", Int),
            ("last_item_count", Int),
            ("total_stored", Int),
            ("etag", Text),
            ("last_modified", Text),
            ("config", Json),
            ("cursor", Json),
            ("quota_limited", Bool),
            ("last_warning", Text),
            ("lease_until", Int),
            ("leased_by", Text),
        ],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "themes",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("key", Text),
            ("name", Text),
            ("department", Text),
            ("query", Text),
            ("created_at", Int),
        ],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "search_runs",
        columns: &[("id", Int), ("source_id", Int), ("ran_at", Int), ("results", Json), ("changes", Json)],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "api_tokens",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("name", Text),
            ("token_hash", Text),
            ("created_at", Int),
            ("last_used_at", Int),
            ("role", Text),
        ],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "mentions",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("dedup_key", Text),
            ("source_kind", Text),
            ("source_id", Int),
            ("source_item_id", Text),
            ("url", Text),
            ("title", Text),
            ("text", Text),
            ("author", Text),
            ("site", Text),
            ("published_at", Int),
            ("collected_at", Int),
            ("lang", Text),
            ("lang_confidence", Real),
            ("reach", Int),
            ("content_hash", Text),
            ("matches", Json),
            ("analysis", Json),
            ("sentiment", Text),
            ("sentiment_score", Real),
            ("sentiment_tier", Int),
            ("corrected", Text),
            ("corrected_at", Int),
            ("story_id", Int),
            ("reach_score", Real),
        ],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "mention_watches",
        columns: &[("watch_id", Int), ("mention_id", Int)],
        order: &["watch_id", "mention_id"],
        identity: false,
    },
    Table {
        name: "watch_buckets",
        columns: &[("watch_id", Int), ("series", Text), ("bucket_start", Int), ("count", Int)],
        order: &["watch_id", "series", "bucket_start"],
        identity: false,
    },
    Table {
        name: "detector_states",
        columns: &[("watch_id", Int), ("series", Text), ("last_bucket", Int), ("state", Json)],
        order: &["watch_id", "series"],
        identity: false,
    },
    Table {
        name: "alert_settings",
        columns: &[("project_id", Int), ("settings", Json)],
        order: &["project_id"],
        identity: false,
    },
    Table {
        name: "alerts",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("watch_id", Int),
            ("rule", Text),
            ("severity", Text),
            ("status", Text),
            ("dedup_key", Text),
            ("title", Text),
            ("evidence", Json),
            ("mention_ids", Json),
            ("events", Int),
            ("opened_at", Int),
            ("updated_at", Int),
            ("acknowledged_at", Int),
            ("resolved_at", Int),
            ("notices", Int),
            ("acknowledged_by", Text),
            ("resolved_by", Text),
        ],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "notification_channels",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("kind", Text),
            ("target", Text),
            ("secret", Text),
            ("min_severity", Text),
            ("created_at", Int),
            ("lang", Text),
        ],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "deliveries",
        columns: &[
            ("id", Int),
            ("alert_id", Int),
            ("event", Int),
            ("channel_id", Int),
            ("status", Text),
            ("attempts", Int),
            ("next_attempt_at", Int),
            ("last_error", Text),
            ("created_at", Int),
            ("sent_at", Int),
            ("lease_until", Int),
            ("leased_by", Text),
        ],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "memberships",
        columns: &[("project_id", Int), ("user_id", Int), ("role", Text)],
        order: &["project_id", "user_id"],
        identity: false,
    },
    Table {
        name: "sessions",
        columns: &[("token_hash", Text), ("user_id", Int), ("csrf", Text), ("created_at", Int), ("expires_at", Int)],
        order: &["token_hash"],
        identity: false,
    },
    Table { name: "login_failures", columns: &[("key", Text), ("at", Int)], order: &["key", "at"], identity: false },
    Table {
        name: "audit_log",
        columns: &[("id", Int), ("project_id", Int), ("user_id", Int), ("at", Int), ("action", Text), ("detail", Text)],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "departments",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("name", Text),
            ("response_target_secs", Int),
            ("manager_id", Int),
            ("created_at", Int),
        ],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "routing_rules",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("position", Int),
            ("theme", Text),
            ("sentiment", Text),
            ("watch_id", Int),
            ("source_kind", Text),
            ("department_id", Int),
            ("created_at", Int),
        ],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "inbox",
        columns: &[
            ("mention_id", Int),
            ("project_id", Int),
            ("status", Text),
            ("department_id", Int),
            ("assignee_id", Int),
            ("entered_at", Int),
            ("due_at", Int),
            ("first_response_at", Int),
            ("closed_at", Int),
            ("reply", Text),
            ("reason", Text),
            ("escalated_at", Int),
            ("updated_at", Int),
            ("clock_at", Int),
            ("first_due_at", Int),
        ],
        order: &["mention_id"],
        identity: false,
    },
    Table {
        name: "workflow_events",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("mention_id", Int),
            ("user_id", Int),
            ("at", Int),
            ("action", Text),
            ("detail", Text),
        ],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "report_schedules",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("frequency", Text),
            ("channel_id", Int),
            ("recipients", Text),
            ("lang", Text),
            ("last_period_end", Int),
            ("last_sent_at", Int),
            ("last_error", Text),
            ("created_at", Int),
            ("sending_period_end", Int),
            ("sending_until", Int),
        ],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "project_models",
        columns: &[("project_id", Int), ("kind", Text), ("bytes", Bytes), ("updated_at", Int)],
        order: &["project_id", "kind"],
        identity: false,
    },
    Table {
        name: "escalation_mails",
        columns: &[
            ("id", Int),
            ("project_id", Int),
            ("mention_id", Int),
            ("user_id", Int),
            ("to_project_managers", Int),
            ("department", Text),
            ("due_at", Int),
            ("status", Text),
            ("attempts", Int),
            ("next_attempt_at", Int),
            ("last_error", Text),
            ("created_at", Int),
            ("sent_at", Int),
            ("lease_until", Int),
            ("leased_by", Text),
        ],
        order: &["id"],
        identity: true,
    },
    Table {
        name: "rules_pending",
        columns: &[("mention_id", Int), ("project_id", Int), ("stored_at", Int)],
        order: &["mention_id"],
        identity: false,
    },
];

/// The names of the tables copied, in copy order.
pub fn table_names() -> impl Iterator<Item = &'static str> {
    TABLES.iter().map(|t| t.name)
}

/// One table's verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCheck {
    pub table: &'static str,
    pub source_rows: u64,
    pub target_rows: u64,
    /// SHA-256 (hex) of the canonical rows, in key order.
    pub source_sha256: String,
    pub target_sha256: String,
}

impl TableCheck {
    pub fn matches(&self) -> bool {
        self.source_rows == self.target_rows && self.source_sha256 == self.target_sha256
    }
}

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrateReport {
    pub tables: Vec<TableCheck>,
    /// The copy was committed (every table matched); otherwise it was rolled
    /// back and the target is empty.
    pub committed: bool,
}

impl MigrateReport {
    pub fn all_match(&self) -> bool {
        self.tables.iter().all(TableCheck::matches)
    }
}

/// What the migration is doing, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// Copying `rows` rows of `table` starts.
    Copy { table: &'a str, rows: u64 },
    /// `rows` more rows of the current table were written.
    Copied { rows: u64 },
    /// Reading `table` back from the target to check it.
    Verify { table: &'a str, rows: u64 },
    /// `rows` more rows were checked.
    Verified { rows: u64 },
}

/// One value, as both backends give it back.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
    Bytes(Vec<u8>),
}

/// Feeds one value to the checksum: a tag, then a fixed-width or
/// length-prefixed payload, so no two rows encode alike. JSON is re-encoded
/// with sorted keys and no spaces (PostgreSQL's JSONB reorders keys).
fn hash_value(hasher: &mut Sha256, kind: Kind, value: &Value) -> Result<()> {
    match value {
        Value::Null => hasher.update([0u8]),
        Value::Int(i) => {
            hasher.update([1u8]);
            hasher.update(i.to_le_bytes());
        }
        Value::Real(r) => {
            hasher.update([2u8]);
            hasher.update(r.to_bits().to_le_bytes());
        }
        Value::Bool(b) => hasher.update([3u8, u8::from(*b)]),
        Value::Bytes(b) => {
            hasher.update([6u8]);
            hasher.update((b.len() as u64).to_le_bytes());
            hasher.update(b);
        }
        Value::Text(t) => {
            let canonical;
            let bytes = if kind == Json {
                let mut parsed: serde_json::Value = serde_json::from_str(t)
                    .map_err(|e| StoreError::Corrupt(format!("a JSON column does not parse: {e}")))?;
                positive_zeros(&mut parsed);
                canonical = parsed.to_string();
                hasher.update([5u8]);
                canonical.as_bytes()
            } else {
                hasher.update([4u8]);
                t.as_bytes()
            };
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        }
    }
    Ok(())
}

/// `-0.0` as `0.0` everywhere in a JSON value: PostgreSQL's `jsonb` keeps
/// numbers as `numeric`, which has no negative zero, so a copy made there
/// reads back `0.0` where SQLite kept the text `-0.0`.
fn positive_zeros(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if n.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()) => {
            if let Some(zero) = serde_json::Number::from_f64(0.0) {
                *n = zero;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(positive_zeros),
        serde_json::Value::Object(map) => map.values_mut().for_each(positive_zeros),
        _ => {}
    }
}

fn sqlite_value(row: &sqlx::sqlite::SqliteRow, i: usize, kind: Kind) -> Result<Value> {
    Ok(match kind {
        Int => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, Value::Int),
        Real => row.try_get::<Option<f64>, _>(i)?.map_or(Value::Null, Value::Real),
        Text | Json => row.try_get::<Option<String>, _>(i)?.map_or(Value::Null, Value::Text),
        Bool => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, |v| Value::Bool(v != 0)),
        Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map_or(Value::Null, Value::Bytes),
    })
}

fn pg_value(row: &sqlx::postgres::PgRow, i: usize, kind: Kind) -> Result<Value> {
    Ok(match kind {
        Int => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, Value::Int),
        Real => row.try_get::<Option<f64>, _>(i)?.map_or(Value::Null, Value::Real),
        Text | Json => row.try_get::<Option<String>, _>(i)?.map_or(Value::Null, Value::Text),
        Bool => row.try_get::<Option<bool>, _>(i)?.map_or(Value::Null, Value::Bool),
        Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map_or(Value::Null, Value::Bytes),
    })
}

/// One column of a batch, as the array PostgreSQL receives.
enum Column {
    Int(Vec<Option<i64>>),
    Real(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

impl Column {
    fn new(kind: Kind) -> Column {
        match kind {
            Int => Column::Int(Vec::new()),
            Real => Column::Real(Vec::new()),
            Text | Json => Column::Text(Vec::new()),
            Bool => Column::Bool(Vec::new()),
            Bytes => Column::Bytes(Vec::new()),
        }
    }

    fn push(&mut self, value: Value) -> Result<()> {
        match (self, value) {
            (Column::Int(v), Value::Int(x)) => v.push(Some(x)),
            (Column::Int(v), Value::Null) => v.push(None),
            (Column::Real(v), Value::Real(x)) => v.push(Some(x)),
            (Column::Real(v), Value::Null) => v.push(None),
            (Column::Text(v), Value::Text(x)) => v.push(Some(x)),
            (Column::Text(v), Value::Null) => v.push(None),
            (Column::Bool(v), Value::Bool(x)) => v.push(Some(x)),
            (Column::Bool(v), Value::Null) => v.push(None),
            (Column::Bytes(v), Value::Bytes(x)) => v.push(Some(x)),
            (Column::Bytes(v), Value::Null) => v.push(None),
            (_, value) => return Err(StoreError::Corrupt(format!("unexpected value {value:?} for a column"))),
        }
        Ok(())
    }

    fn clear(&mut self) {
        match self {
            Column::Int(v) => v.clear(),
            Column::Real(v) => v.clear(),
            Column::Text(v) => v.clear(),
            Column::Bool(v) => v.clear(),
            Column::Bytes(v) => v.clear(),
        }
    }
}

fn pg_array_type(kind: Kind) -> &'static str {
    match kind {
        Int => "bigint[]",
        Real => "float8[]",
        Text | Json => "text[]",
        Bool => "boolean[]",
        Bytes => "bytea[]",
    }
}

fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

/// The INSERT of one batch: every column one array. Mentions also get their
/// full-text entries from the two index strings that follow the columns.
fn insert_sql(table: &Table) -> String {
    let names: Vec<String> = table.columns.iter().map(|(c, _)| quoted(c)).collect();
    let mut arrays: Vec<String> =
        table.columns.iter().enumerate().map(|(i, (_, k))| format!("${}::{}", i + 1, pg_array_type(*k))).collect();
    let mut selected: Vec<String> = table
        .columns
        .iter()
        .map(|(c, k)| if *k == Json { format!("u.{}::jsonb", quoted(c)) } else { format!("u.{}", quoted(c)) })
        .collect();
    let mut target = names.clone();
    let mut aliases = names;
    let mut from_extra = String::new();
    if table.name == "mentions" {
        let n = table.columns.len();
        arrays.push(format!("${}::text[]", n + 1));
        arrays.push(format!("${}::text[]", n + 2));
        aliases.push("fts_title".into());
        aliases.push("fts_text".into());
        target.push("fts".into());
        target.push("fts_loose".into());
        selected.push("f.fts".into());
        selected.push("f.fts_loose".into());
        from_extra = " CROSS JOIN LATERAL vigie_fts_index(u.fts_title, u.fts_text) AS f".into();
    }
    format!(
        "INSERT INTO {} ({}) SELECT {} FROM UNNEST({}) AS u({}){from_extra}",
        quoted(table.name),
        target.join(", "),
        selected.join(", "),
        arrays.join(", "),
        aliases.join(", "),
    )
}

/// The SELECT reading a table in key order; `pg` casts JSON back to text
/// and orders text byte by byte, as SQLite does.
fn select_sql(table: &Table, pg: bool) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|(c, k)| if pg && *k == Json { format!("{}::text", quoted(c)) } else { quoted(c) })
        .collect();
    let order: Vec<String> = table
        .order
        .iter()
        .map(|c| {
            let text = table.columns.iter().any(|(name, k)| name == c && *k == Text);
            if pg && text { format!("{} COLLATE \"C\"", quoted(c)) } else { quoted(c) }
        })
        .collect();
    format!("SELECT {} FROM {} ORDER BY {}", columns.join(", "), quoted(table.name), order.join(", "))
}

/// The batch being built for one table.
struct Batch {
    columns: Vec<Column>,
    fts_title: Vec<Option<String>>,
    fts_text: Vec<Option<String>>,
    rows: usize,
    bytes: usize,
}

impl Batch {
    fn new(table: &Table) -> Batch {
        Batch {
            columns: table.columns.iter().map(|(_, k)| Column::new(*k)).collect(),
            fts_title: Vec::new(),
            fts_text: Vec::new(),
            rows: 0,
            bytes: 0,
        }
    }

    fn full(&self) -> bool {
        self.rows >= BATCH_ROWS || self.bytes >= BATCH_BYTES
    }

    /// Writes the batch and empties it.
    async fn flush(&mut self, sql: &str, tx: &mut sqlx::PgConnection, mentions: bool) -> Result<u64> {
        if self.rows == 0 {
            return Ok(0);
        }
        let mut query = sqlx::query(AssertSqlSafe(sql.to_string()));
        for column in &mut self.columns {
            query = match column {
                Column::Int(v) => query.bind(std::mem::take(v)),
                Column::Real(v) => query.bind(std::mem::take(v)),
                Column::Text(v) => query.bind(std::mem::take(v)),
                Column::Bool(v) => query.bind(std::mem::take(v)),
                Column::Bytes(v) => query.bind(std::mem::take(v)),
            };
        }
        if mentions {
            query = query.bind(std::mem::take(&mut self.fts_title)).bind(std::mem::take(&mut self.fts_text));
        }
        query.execute(&mut *tx).await?;
        let rows = self.rows as u64;
        for column in &mut self.columns {
            column.clear();
        }
        self.rows = 0;
        self.bytes = 0;
        Ok(rows)
    }
}

/// Copies everything `source` holds into `target` (whose schema
/// [`PgStore::connect`] brought up to date), in one transaction, then checks
/// every table. Refuses ([`StoreError::Conflict`]) a target that already
/// holds projects, mentions or users. The transaction is committed only when
/// every table's count and checksum match; the report says so.
pub async fn migrate(
    source: &SqliteStore,
    target: &PgStore,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<MigrateReport> {
    // One read transaction: every table from the same snapshot.
    let mut src = source.pool().begin().await?;
    let mut tx = target.pool().begin().await?;
    let held: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM projects), (SELECT COUNT(*) FROM mentions), (SELECT COUNT(*) FROM users)",
    )
    .fetch_one(&mut *tx)
    .await?;
    if held != (0, 0, 0) {
        return Err(StoreError::Conflict(format!(
            "the target database is not empty ({} project(s), {} mention(s), {} user(s)): \
             migrate only into an empty PostgreSQL database (or schema)",
            held.0, held.1, held.2
        )));
    }
    let mut report = MigrateReport::default();
    for table in TABLES {
        let count_sql = format!("SELECT COUNT(*) FROM {}", quoted(table.name));
        let rows: i64 = sqlx::query_scalar(AssertSqlSafe(count_sql.clone())).fetch_one(&mut *src).await?;
        progress(Progress::Copy { table: table.name, rows: rows.max(0) as u64 });
        let mentions = table.name == "mentions";
        let insert = insert_sql(table);
        let mut batch = Batch::new(table);
        let mut hasher = Sha256::new();
        let mut copied = 0u64;
        {
            let select = select_sql(table, false);
            let mut stream = sqlx::query(AssertSqlSafe(select)).fetch(&mut *src);
            while let Some(row) = stream.try_next().await? {
                let mut title: Option<String> = None;
                let mut text = String::new();
                for (i, (name, kind)) in table.columns.iter().enumerate() {
                    let value = sqlite_value(&row, i, *kind)?;
                    hash_value(&mut hasher, *kind, &value)?;
                    if let Value::Bytes(b) = &value {
                        batch.bytes += b.len();
                    }
                    if let Value::Text(t) = &value {
                        batch.bytes += t.len();
                        if mentions && *name == "title" {
                            title = Some(t.clone());
                        } else if mentions && *name == "text" {
                            text = t.clone();
                        }
                    }
                    batch.columns[i].push(value)?;
                }
                if mentions {
                    // As the pipeline makes them; too long to index: NULL
                    // (a candidate of every search), as insert_mentions does.
                    let fts_title = title.as_deref().map(vigie_query::index_text).unwrap_or_default();
                    let fts_text = vigie_query::index_text(&text);
                    let indexed = fts_title.len() + fts_text.len() <= MAX_INDEXED_BYTES;
                    batch.bytes += fts_title.len() + fts_text.len();
                    batch.fts_title.push(indexed.then_some(fts_title));
                    batch.fts_text.push(indexed.then_some(fts_text));
                }
                batch.rows += 1;
                if batch.full() {
                    let n = batch.flush(&insert, &mut tx, mentions).await?;
                    copied += n;
                    progress(Progress::Copied { rows: n });
                }
            }
        }
        let n = batch.flush(&insert, &mut tx, mentions).await?;
        copied += n;
        progress(Progress::Copied { rows: n });
        let source_sha256 = hex(&hasher.finalize());

        if table.identity {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), COALESCE((SELECT MAX(id) FROM {0}), 0) + 1, false)",
                table.name
            );
            sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
        }

        // Read back inside the transaction, encoded the same way.
        progress(Progress::Verify { table: table.name, rows: copied });
        let mut hasher = Sha256::new();
        let mut target_rows = 0u64;
        {
            let select = select_sql(table, true);
            let mut stream = sqlx::query(AssertSqlSafe(select)).fetch(&mut *tx);
            let mut since_report = 0u64;
            while let Some(row) = stream.try_next().await? {
                for (i, (_, kind)) in table.columns.iter().enumerate() {
                    hash_value(&mut hasher, *kind, &pg_value(&row, i, *kind)?)?;
                }
                target_rows += 1;
                since_report += 1;
                if since_report == BATCH_ROWS as u64 {
                    progress(Progress::Verified { rows: since_report });
                    since_report = 0;
                }
            }
            progress(Progress::Verified { rows: since_report });
        }
        report.tables.push(TableCheck {
            table: table.name,
            source_rows: copied,
            target_rows,
            source_sha256,
            target_sha256: hex(&hasher.finalize()),
        });
    }
    src.rollback().await?;
    if report.all_match() {
        tx.commit().await?;
        report.committed = true;
    } else {
        tx.rollback().await?;
    }
    Ok(report)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn json_is_checksummed_whatever_its_key_order_and_spacing() {
        let digest = |text: &str| {
            let mut h = Sha256::new();
            hash_value(&mut h, Json, &Value::Text(text.into())).unwrap();
            hex(&h.finalize())
        };
        assert_eq!(digest(r#"{"b": 1, "a": [1.5, "x"]}"#), digest(r#"{"a":[1.5,"x"],"b":1}"#));
        assert_ne!(digest(r#"{"a": 1}"#), digest(r#"{"a": 2}"#));
        // jsonb has no negative zero: a copy in PostgreSQL reads back 0.0.
        assert_eq!(digest(r#"{"s": -0.0, "e": [{"w": -0.0}]}"#), digest(r#"{"s":0.0,"e":[{"w":0.0}]}"#));
        assert_ne!(digest(r#"{"s": -0.5}"#), digest(r#"{"s": 0.5}"#));
    }

    #[test]
    fn values_do_not_run_into_each_other() {
        let digest = |values: &[Value]| {
            let mut h = Sha256::new();
            for v in values {
                hash_value(&mut h, Text, v).unwrap();
            }
            hex(&h.finalize())
        };
        assert_ne!(
            digest(&[Value::Text("ab".into()), Value::Text("c".into())]),
            digest(&[Value::Text("a".into()), Value::Text("bc".into())])
        );
        assert_ne!(digest(&[Value::Null]), digest(&[Value::Text(String::new())]));
    }

    #[test]
    fn every_table_of_both_schemas_is_listed_once_parents_first() {
        let names: Vec<&str> = table_names().collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        let before = |a: &str, b: &str| {
            names.iter().position(|n| *n == a).unwrap() < names.iter().position(|n| *n == b).unwrap()
        };
        assert!(before("projects", "watches") && before("sources", "mentions") && before("mentions", "inbox"));
        assert!(before("users", "departments") && before("departments", "routing_rules"));
        assert!(before("alerts", "deliveries") && before("notification_channels", "deliveries"));
        assert!(before("notification_channels", "report_schedules"));
        // Mentions carry their full-text entries.
        assert!(insert_sql(&TABLES[7]).contains("vigie_fts_index"));
    }
}

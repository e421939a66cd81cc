//! [`Workflow`] for PostgreSQL: departments, routing rules, the inbox with
//! its history, response figures and the overview's aggregates.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{AssertSqlSafe, PgConnection, Postgres, QueryBuilder, Row};
use vigie_model::{InboxStatus, Polarity, Release, SourceKind, WorkflowChange};

use super::{C, MENTION_COLUMNS, PgStore, mention_from_row, returned_id};
use crate::codec::{from_opt_ts, from_ts, is_unique_violation, nearest_rank_offset, status_from_str, ts};
use crate::rollup::{self, HourRollup, HourToSave, RollupRow, RollupSource, StoredHour};
use crate::workflow::release_events;
use crate::{
    AuthorRow, Buckets, ChangedBy, CountRow, Department, InboxCounts, InboxFilter, InboxItem, NO_DEPARTMENT,
    NewDepartment, NewRoutingRule, NewWorkflowEvent, Overview, ResponseScope, ResponseStats, Result, RoutingRule,
    StoreError, StoredMention, WatchCount, Workflow, WorkflowEvent,
};
use crate::{EscalationMail, MailOutcome, NewEscalationMails, lease_end};

const DEPARTMENT_COLUMNS: &str = "id, project_id, name, response_target_secs, manager_id, created_at";

fn department_from_row(row: &PgRow) -> Result<Department> {
    Ok(Department {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        name: row.try_get("name")?,
        response_target_secs: row.try_get("response_target_secs")?,
        manager_id: row.try_get("manager_id")?,
        created_at: from_ts(row.try_get("created_at")?)?,
    })
}

const RULE_COLUMNS: &str =
    "id, project_id, position, theme, sentiment, watch_id, source_kind, department_id, created_at";

fn rule_from_row(row: &PgRow) -> Result<RoutingRule> {
    let corrupt = |what: &str, e: String| StoreError::Corrupt(format!("routing rule {what}: {e}"));
    Ok(RoutingRule {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        position: row.try_get("position")?,
        theme: row.try_get("theme")?,
        sentiment: row
            .try_get::<Option<String>, _>("sentiment")?
            .map(|s| Polarity::from_str(&s).map_err(|e| corrupt("sentiment", e.to_string())))
            .transpose()?,
        watch_id: row.try_get("watch_id")?,
        source_kind: row
            .try_get::<Option<String>, _>("source_kind")?
            .map(|s| SourceKind::from_str(&s).map_err(|e| corrupt("source kind", e.to_string())))
            .transpose()?,
        department_id: row.try_get("department_id")?,
        created_at: from_ts(row.try_get("created_at")?)?,
    })
}

/// The inbox columns; none shares a name with [`MENTION_COLUMNS`], so both
/// are read from the same joined row.
const INBOX_COLUMNS: &str = "i.mention_id, i.project_id, i.status, i.department_id, i.assignee_id, i.entered_at, \
     i.due_at, i.first_response_at, i.closed_at, i.reply, i.reason, i.escalated_at, i.clock_at, \
     i.first_due_at, i.updated_at";

fn inbox_from_row(row: &PgRow) -> Result<InboxItem> {
    Ok(InboxItem {
        mention_id: row.try_get("mention_id")?,
        project_id: row.try_get("project_id")?,
        status: status_from_str(&row.try_get::<String, _>("status")?)?,
        department_id: row.try_get("department_id")?,
        assignee_id: row.try_get("assignee_id")?,
        entered_at: from_ts(row.try_get("entered_at")?)?,
        due_at: from_opt_ts(row.try_get("due_at")?)?,
        first_response_at: from_opt_ts(row.try_get("first_response_at")?)?,
        closed_at: from_opt_ts(row.try_get("closed_at")?)?,
        reply: row.try_get("reply")?,
        reason: row.try_get("reason")?,
        escalated_at: from_opt_ts(row.try_get("escalated_at")?)?,
        clock_at: from_opt_ts(row.try_get("clock_at")?)?,
        first_due_at: from_opt_ts(row.try_get("first_due_at")?)?,
        updated_at: from_ts(row.try_get("updated_at")?)?,
    })
}

/// What an inbox write does with an existing row.
#[derive(Clone, Copy)]
enum Existing {
    Replace,
    Keep,
}

/// The event explaining an item's change, at the item's update time.
async fn write_item_event(conn: &mut PgConnection, item: &InboxItem, event: Option<NewWorkflowEvent>) -> Result<()> {
    match event {
        Some(event) => write_event(conn, item.project_id, item.mention_id, &event, item.updated_at).await,
        None => Ok(()),
    }
}

/// Writes an inbox row whole, only if the mention is in the item's project.
/// Returns the rows written.
async fn write_inbox(conn: &mut PgConnection, existing: Existing, item: &InboxItem) -> Result<u64> {
    let on_conflict = match existing {
        Existing::Replace => {
            "DO UPDATE SET project_id = excluded.project_id, status = excluded.status, \
             department_id = excluded.department_id, assignee_id = excluded.assignee_id, \
             entered_at = excluded.entered_at, due_at = excluded.due_at, \
             first_response_at = excluded.first_response_at, closed_at = excluded.closed_at, \
             reply = excluded.reply, reason = excluded.reason, escalated_at = excluded.escalated_at, \
             updated_at = excluded.updated_at, clock_at = excluded.clock_at, first_due_at = excluded.first_due_at"
        }
        Existing::Keep => "DO NOTHING",
    };
    let sql = format!(
        "INSERT INTO inbox (mention_id, project_id, status, department_id, assignee_id, entered_at, due_at, \
         first_response_at, closed_at, reply, reason, escalated_at, updated_at, clock_at, first_due_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 FROM mentions WHERE id = $1 AND project_id = $2 \
         ON CONFLICT (mention_id) {on_conflict}"
    );
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(item.mention_id)
        .bind(item.project_id)
        .bind(item.status.as_str())
        .bind(item.department_id)
        .bind(item.assignee_id)
        .bind(ts(item.entered_at))
        .bind(item.due_at.map(ts))
        .bind(item.first_response_at.map(ts))
        .bind(item.closed_at.map(ts))
        .bind(&item.reply)
        .bind(&item.reason)
        .bind(item.escalated_at.map(ts))
        .bind(ts(item.updated_at))
        .bind(item.clock_at.map(ts))
        .bind(item.first_due_at.map(ts))
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

async fn write_event(
    conn: &mut PgConnection,
    project_id: i64,
    mention_id: i64,
    event: &NewWorkflowEvent,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO workflow_events (project_id, mention_id, user_id, at, action, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(project_id)
    .bind(mention_id)
    .bind(event.user_id)
    .bind(ts(at))
    .bind(&event.action)
    .bind(&event.detail)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes `events` (mention id, event) of the project, at `at`, a
/// thousand rows a statement.
pub(super) async fn write_events(
    conn: &mut PgConnection,
    project_id: i64,
    events: &[(i64, NewWorkflowEvent)],
    at: DateTime<Utc>,
) -> Result<()> {
    for chunk in events.chunks(1000) {
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new("INSERT INTO workflow_events (project_id, mention_id, user_id, at, action, detail) ");
        qb.push_values(chunk, |mut row, (mention_id, event)| {
            row.push_bind(project_id)
                .push_bind(*mention_id)
                .push_bind(event.user_id)
                .push_bind(ts(at))
                .push_bind(event.action.clone())
                .push_bind(event.detail.clone());
        });
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Gives the pending items of `user_id` (in one project, or in all) back to
/// the queue, each with a `released` event saying why.
pub(super) async fn release_items(
    conn: &mut PgConnection,
    user_id: i64,
    project_id: Option<i64>,
    why: Release,
    by: &ChangedBy,
) -> Result<()> {
    let rows = sqlx::query(
        "WITH old AS (SELECT mention_id AS id, status AS old_status FROM inbox \
             WHERE assignee_id = $1 AND ($2::BIGINT IS NULL OR project_id = $2) \
             AND status IN ('new', 'to_handle', 'assigned') FOR UPDATE) \
         UPDATE inbox SET assignee_id = NULL, updated_at = $3, \
             status = CASE WHEN status = 'assigned' THEN 'to_handle' ELSE status END \
         FROM old WHERE inbox.mention_id = old.id \
         RETURNING inbox.project_id, inbox.mention_id, old.old_status",
    )
    .bind(user_id)
    .bind(project_id)
    .bind(ts(by.at))
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let person: Option<String> = sqlx::query_scalar("SELECT display_name FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    let person = person.unwrap_or_else(|| format!("#{user_id}"));
    let released = rows
        .iter()
        .map(|row| {
            Ok((
                row.try_get("project_id")?,
                row.try_get("mention_id")?,
                status_from_str(&row.try_get::<String, _>("old_status")?)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    for (project_id, events) in release_events(&released, &person, why, by) {
        write_events(conn, project_id, &events, by.at).await?;
    }
    Ok(())
}

/// The statuses still waiting for someone, as SQL.
const PENDING: &str = "('to_handle', 'assigned')";

/// Mentions of a period per bucket and polarity (a correction wins); the
/// bucket start is `published_at` rounded down to a multiple of `$4`.
const OVERVIEW_BUCKETS: &str = "SELECT published_at - ((published_at % $4) + $4) % $4 AS start, \
     COALESCE(corrected, sentiment) AS polarity, COUNT(*) AS n FROM mentions \
     WHERE project_id = $1 AND published_at >= $2 AND published_at < $3 GROUP BY 1, 2";

/// Rows `(key, n)` of one overview list over `[$2, $3)`, at most `$4`.
async fn period_rows(
    pool: &PgPool,
    sql: &'static str,
    project_id: i64,
    from: i64,
    to: i64,
    top: i64,
) -> Result<Vec<CountRow>> {
    let rows = sqlx::query(sql).bind(project_id).bind(from).bind(to).bind(top).fetch_all(pool).await?;
    rows.iter().map(|r| Ok(CountRow { key: r.try_get("key")?, count: r.try_get("n")? })).collect()
}

#[async_trait]
impl Workflow for PgStore {
    async fn add_department(
        &self,
        project_id: i64,
        department: NewDepartment,
        now: DateTime<Utc>,
    ) -> Result<Department> {
        let result = sqlx::query_scalar(
            "INSERT INTO departments (project_id, name, response_target_secs, manager_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(project_id)
        .bind(&department.name)
        .bind(department.response_target_secs)
        .bind(department.manager_id)
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await;
        let id = returned_id(result, || format!("this project already has a department named {:?}", department.name))?;
        Ok(Department {
            id,
            project_id,
            name: department.name,
            response_target_secs: department.response_target_secs,
            manager_id: department.manager_id,
            created_at: from_ts(ts(now))?,
        })
    }

    async fn update_department(&self, department: &Department, by: &ChangedBy) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query(
            "UPDATE departments SET name = $3, response_target_secs = $4, manager_id = $5 \
             WHERE id = $1 AND project_id = $2",
        )
        .bind(department.id)
        .bind(department.project_id)
        .bind(&department.name)
        .bind(department.response_target_secs)
        .bind(department.manager_id)
        .execute(&mut *tx)
        .await;
        let done = match result {
            Ok(done) => done,
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "this project already has a department named {:?}",
                    department.name
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no department with id {}", department.id)));
        }
        // Its pending items are due by the new target from when their clock
        // started (their arrival, or their reopening). Only items whose due time moves are touched (saving a new
        // name or manager changes nothing), and an escalated one may be
        // escalated again only if its due time moved later: a shorter
        // target does not escalate (and mail) the same item twice. Each
        // moved item's history says so.
        let rows = sqlx::query(
            "WITH old AS (SELECT mention_id AS id, due_at AS old_due FROM inbox \
                 WHERE project_id = $2 AND department_id = $1 AND status IN ('new', 'to_handle', 'assigned') \
                 AND due_at IS DISTINCT FROM (CASE WHEN $3 > 0 THEN COALESCE(clock_at, entered_at) + $3 ELSE NULL END) FOR UPDATE) \
             UPDATE inbox SET due_at = (CASE WHEN $3 > 0 THEN COALESCE(clock_at, entered_at) + $3 ELSE NULL END), updated_at = $4, \
                 escalated_at = CASE WHEN (CASE WHEN $3 > 0 THEN COALESCE(clock_at, entered_at) + $3 ELSE NULL END) > due_at OR due_at IS NULL \
                     THEN NULL ELSE escalated_at END \
             FROM old WHERE inbox.mention_id = old.id \
             RETURNING inbox.mention_id, old.old_due, inbox.due_at AS new_due",
        )
        .bind(department.id)
        .bind(department.project_id)
        .bind(department.response_target_secs)
        .bind(ts(by.at))
        .fetch_all(&mut *tx)
        .await?;
        let mut events = rows
            .iter()
            .map(|row| {
                let change = WorkflowChange::Retargeted {
                    department: department.name.clone(),
                    from: from_opt_ts(row.try_get("old_due")?)?,
                    due: from_opt_ts(row.try_get("new_due")?)?,
                };
                Ok((row.try_get("mention_id")?, by.event(change)))
            })
            .collect::<Result<Vec<(i64, NewWorkflowEvent)>>>()?;
        events.sort_by_key(|(mention_id, _)| *mention_id);
        write_events(&mut tx, department.project_id, &events, by.at).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_departments(&self, project_id: i64) -> Result<Vec<Department>> {
        let sql = format!("SELECT {DEPARTMENT_COLUMNS} FROM departments WHERE project_id = $1 ORDER BY name {C}");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.pool).await?;
        rows.iter().map(department_from_row).collect()
    }

    async fn remove_department(&self, project_id: i64, id: i64, by: &ChangedBy) -> Result<bool> {
        // Its pending items lose the due time its target gave them (no
        // department, no target: not overdue), each with an event saying
        // so; answered and closed ones keep theirs, which the reports judge
        // their first response by. Then foreign keys remove its rules and
        // unset it on inbox items.
        let mut tx = self.pool.begin().await?;
        let name: Option<String> =
            sqlx::query_scalar("SELECT name FROM departments WHERE project_id = $1 AND id = $2 FOR UPDATE")
                .bind(project_id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(name) = name else { return Ok(false) };
        let mut pending: Vec<i64> = sqlx::query_scalar(
            "UPDATE inbox SET due_at = NULL, updated_at = $3 \
             WHERE project_id = $1 AND department_id = $2 AND status IN ('new', 'to_handle', 'assigned') \
             RETURNING mention_id",
        )
        .bind(project_id)
        .bind(id)
        .bind(ts(by.at))
        .fetch_all(&mut *tx)
        .await?;
        pending.sort_unstable();
        let events: Vec<_> = pending
            .into_iter()
            .map(|mention_id| (mention_id, by.event(WorkflowChange::DepartmentRemoved { department: name.clone() })))
            .collect();
        write_events(&mut tx, project_id, &events, by.at).await?;
        let done = sqlx::query("DELETE FROM departments WHERE project_id = $1 AND id = $2")
            .bind(project_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_rule(&self, project_id: i64, rule: NewRoutingRule, now: DateTime<Utc>) -> Result<RoutingRule> {
        let mut tx = self.pool.begin().await?;
        // Rules of one project are added one at a time (the project row is
        // locked), so no position is taken twice; the department and the
        // watch must be the project's own.
        sqlx::query("SELECT 1 FROM projects WHERE id = $1 FOR NO KEY UPDATE")
            .bind(project_id)
            .execute(&mut *tx)
            .await?;
        let sql = format!(
            "INSERT INTO routing_rules (project_id, position, theme, sentiment, watch_id, source_kind, \
             department_id, created_at) \
             SELECT $1, COALESCE((SELECT MAX(position) FROM routing_rules WHERE project_id = $1), 0) + 1, \
             $2, $3, $4, $5, $6, $7 \
             WHERE EXISTS (SELECT 1 FROM departments WHERE id = $6 AND project_id = $1) \
             AND ($4::bigint IS NULL OR EXISTS (SELECT 1 FROM watches WHERE id = $4 AND project_id = $1)) \
             RETURNING {RULE_COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(&rule.theme)
            .bind(rule.sentiment.map(Polarity::as_str))
            .bind(rule.watch_id)
            .bind(rule.source_kind.map(SourceKind::as_str))
            .bind(rule.department_id)
            .bind(ts(now))
            .fetch_optional(&mut *tx)
            .await?;
        let rule = match row {
            Some(row) => rule_from_row(&row)?,
            None => {
                return Err(StoreError::NotFound(format!(
                    "no department {} (or watch {:?}) in this project",
                    rule.department_id, rule.watch_id
                )));
            }
        };
        tx.commit().await?;
        Ok(rule)
    }

    async fn list_rules(&self, project_id: i64) -> Result<Vec<RoutingRule>> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM routing_rules WHERE project_id = $1 ORDER BY position, id");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.pool).await?;
        rows.iter().map(rule_from_row).collect()
    }

    async fn remove_rule(&self, project_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM routing_rules WHERE project_id = $1 AND id = $2")
            .bind(project_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn move_rule(&self, project_id: i64, id: i64, up: bool) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let order: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT id, position FROM routing_rules WHERE project_id = $1 ORDER BY position, id FOR UPDATE",
        )
        .bind(project_id)
        .fetch_all(&mut *tx)
        .await?;
        let Some(moves) = crate::workflow::swapped_positions(&order, id, up) else {
            return Ok(false);
        };
        for (rule, position) in moves {
            sqlx::query("UPDATE routing_rules SET position = $3 WHERE project_id = $1 AND id = $2")
                .bind(project_id)
                .bind(rule)
                .bind(position)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn inbox_item(&self, project_id: i64, mention_id: i64) -> Result<Option<InboxItem>> {
        let sql = format!("SELECT {INBOX_COLUMNS} FROM inbox i WHERE i.project_id = $1 AND i.mention_id = $2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(mention_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(inbox_from_row).transpose()
    }

    async fn inbox_statuses(&self, project_id: i64, mention_ids: &[i64]) -> Result<HashMap<i64, InboxStatus>> {
        let rows = sqlx::query("SELECT mention_id, status FROM inbox WHERE project_id = $1 AND mention_id = ANY($2)")
            .bind(project_id)
            .bind(mention_ids)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("mention_id")?, status_from_str(&row.try_get::<String, _>("status")?)?)))
            .collect()
    }

    async fn save_inbox_item(&self, item: &InboxItem, event: Option<NewWorkflowEvent>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if write_inbox(&mut tx, Existing::Replace, item).await? == 0 {
            return Err(StoreError::NotFound(format!("no mention {} in this project", item.mention_id)));
        }
        write_item_event(&mut tx, item, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn save_inbox_item_from(
        &self,
        previous: Option<&InboxItem>,
        item: &InboxItem,
        event: Option<NewWorkflowEvent>,
    ) -> Result<()> {
        let conflict = || crate::workflow::changed_meanwhile(item.mention_id);
        let mut tx = self.pool.begin().await?;
        // The row is locked from the read on; a row that does not exist yet
        // is inserted only if nobody inserted it meanwhile.
        let sql =
            format!("SELECT {INBOX_COLUMNS} FROM inbox i WHERE i.project_id = $1 AND i.mention_id = $2 FOR UPDATE");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(item.project_id)
            .bind(item.mention_id)
            .fetch_optional(&mut *tx)
            .await?;
        let stored = row.as_ref().map(inbox_from_row).transpose()?;
        if stored.as_ref() != previous {
            return Err(conflict());
        }
        let existing = if stored.is_some() { Existing::Replace } else { Existing::Keep };
        if write_inbox(&mut tx, existing, item).await? == 0 {
            let mention: Option<i64> = sqlx::query_scalar("SELECT id FROM mentions WHERE id = $1 AND project_id = $2")
                .bind(item.mention_id)
                .bind(item.project_id)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match mention {
                Some(_) => conflict(),
                None => StoreError::NotFound(format!("no mention {} in this project", item.mention_id)),
            });
        }
        write_item_event(&mut tx, item, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn route_mentions(&self, items: &[(InboxItem, NewWorkflowEvent)]) -> Result<u64> {
        if items.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let mut inserted = 0;
        for (item, event) in items {
            // An item that exists (or a mention deleted meanwhile) is skipped, its event too.
            if write_inbox(&mut tx, Existing::Keep, item).await? > 0 {
                write_event(&mut tx, item.project_id, item.mention_id, event, item.updated_at).await?;
                inserted += 1;
            }
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn add_workflow_event(
        &self,
        project_id: i64,
        mention_id: i64,
        event: NewWorkflowEvent,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO workflow_events (project_id, mention_id, user_id, at, action, detail) \
             SELECT $1, $2, $3, $4, $5, $6 FROM mentions WHERE id = $2 AND project_id = $1",
        )
        .bind(project_id)
        .bind(mention_id)
        .bind(event.user_id)
        .bind(ts(now))
        .bind(&event.action)
        .bind(&event.detail)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no mention {mention_id} in this project")));
        }
        Ok(())
    }

    async fn workflow_events(&self, project_id: i64, mention_id: i64) -> Result<Vec<WorkflowEvent>> {
        let rows = sqlx::query(
            "SELECT id, mention_id, user_id, at, action, detail FROM workflow_events \
             WHERE mention_id = $2 AND project_id = $1 ORDER BY id",
        )
        .bind(project_id)
        .bind(mention_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WorkflowEvent {
                    id: r.try_get("id")?,
                    mention_id: r.try_get("mention_id")?,
                    user_id: r.try_get("user_id")?,
                    at: from_ts(r.try_get("at")?)?,
                    action: r.try_get("action")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }

    async fn inbox(
        &self,
        project_id: i64,
        filter: &InboxFilter,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<(InboxItem, StoredMention)>> {
        // The page's ids first, on the index (project_id, status, mention_id)
        // walked newest first for each status, then the rows: never a sort
        // of every pending item.
        let mut ids: Vec<i64> = Vec::new();
        for status in filter.listed_statuses() {
            let mut qb: QueryBuilder<Postgres> =
                QueryBuilder::new("SELECT i.mention_id FROM inbox i WHERE i.project_id = ");
            qb.push_bind(project_id).push(" AND i.status = ").push_bind(status.as_str());
            match filter.department_id {
                Some(NO_DEPARTMENT) => {
                    qb.push(" AND i.department_id IS NULL");
                }
                Some(department) => {
                    qb.push(" AND i.department_id = ").push_bind(department);
                }
                None => {}
            }
            if let Some(assignee) = filter.assignee_id {
                qb.push(" AND i.assignee_id = ").push_bind(assignee);
            }
            if let Some(at) = filter.overdue_at {
                qb.push(" AND i.due_at < ").push_bind(ts(at));
            }
            if let Some(before) = before_id {
                qb.push(" AND i.mention_id < ").push_bind(before);
            }
            qb.push(" ORDER BY i.mention_id DESC LIMIT ").push_bind(limit);
            for row in qb.build().fetch_all(&self.pool).await? {
                ids.push(row.try_get(0)?);
            }
        }
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.truncate(usize::try_from(limit).unwrap_or_default());
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {INBOX_COLUMNS}, {MENTION_COLUMNS} FROM inbox i JOIN mentions m ON m.id = i.mention_id \
             WHERE i.project_id = $1 AND i.mention_id = ANY($2) ORDER BY i.mention_id DESC"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(&ids).fetch_all(&self.pool).await?;
        rows.iter().map(|row| Ok((inbox_from_row(row)?, mention_from_row(row)?))).collect()
    }

    async fn inbox_counts_of(
        &self,
        project_id: i64,
        department_id: Option<i64>,
        assignee_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<InboxCounts> {
        // `None` filters nothing.
        // `NO_DEPARTMENT` (0) the items of none.
        const OF: &str = "AND ($2::BIGINT IS NULL OR department_id = $2 OR ($2 = 0 AND department_id IS NULL)) \
                          AND ($3::BIGINT IS NULL OR assignee_id = $3)";
        let sql = format!("SELECT status, COUNT(*) AS n FROM inbox WHERE project_id = $1 {OF} GROUP BY status");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(department_id)
            .bind(assignee_id)
            .fetch_all(&self.pool)
            .await?;
        let mut per_status = rows
            .iter()
            .map(|r| Ok((status_from_str(&r.try_get::<String, _>("status")?)?, r.try_get::<i64, _>("n")?)))
            .collect::<Result<Vec<_>>>()?;
        per_status.sort_by_key(|(status, _)| InboxStatus::ALL.iter().position(|s| s == status));
        let sql =
            format!("SELECT COUNT(*) FROM inbox WHERE project_id = $1 {OF} AND status IN {PENDING} AND due_at < $4");
        let overdue = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(department_id)
            .bind(assignee_id)
            .bind(ts(now))
            .fetch_one(&self.pool)
            .await?;
        Ok(InboxCounts { per_status, overdue })
    }

    async fn overdue_items(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<InboxItem>> {
        // The WHERE repeats the partial index `inbox_due`'s own, so it is used.
        let sql = format!(
            "SELECT {INBOX_COLUMNS} FROM inbox i WHERE i.status IN ('to_handle', 'assigned') \
             AND i.escalated_at IS NULL AND i.due_at < $1 ORDER BY i.due_at, i.mention_id LIMIT $2"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(ts(now)).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(inbox_from_row).collect()
    }

    async fn escalate_item(
        &self,
        project_id: i64,
        mention_id: i64,
        event: NewWorkflowEvent,
        mails: &NewEscalationMails,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "UPDATE inbox SET escalated_at = $3, updated_at = $3 WHERE project_id = $1 AND mention_id = $2 \
             AND status IN {PENDING} AND escalated_at IS NULL AND due_at < $3"
        );
        let done =
            sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(mention_id).bind(ts(now)).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        write_event(&mut tx, project_id, mention_id, &event, now).await?;
        for user_id in &mails.recipients {
            sqlx::query(
                "INSERT INTO escalation_mails (project_id, mention_id, user_id, to_project_managers, department, \
                 due_at, status, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)",
            )
            .bind(project_id)
            .bind(mention_id)
            .bind(user_id)
            .bind(i64::from(mails.to_project_managers))
            .bind(mails.department.as_deref())
            .bind(ts(mails.due_at))
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn claim_escalation_mails(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        worker: &str,
        lease: std::time::Duration,
    ) -> Result<Vec<EscalationMail>> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "UPDATE escalation_mails SET lease_until = $4, leased_by = $3 WHERE id IN (\
             SELECT id FROM escalation_mails WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1 OR leased_by = $3) \
             ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING id, project_id, mention_id, user_id, to_project_managers, department, due_at, attempts, \
             created_at",
        )
        .bind(ts(now))
        .bind(limit)
        .bind(worker)
        .bind(lease_end(now, lease))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut mails = rows
            .iter()
            .map(|row| {
                Ok(EscalationMail {
                    id: row.try_get("id")?,
                    project_id: row.try_get("project_id")?,
                    mention_id: row.try_get("mention_id")?,
                    user_id: row.try_get("user_id")?,
                    to_project_managers: row.try_get::<i64, _>("to_project_managers")? != 0,
                    department: row.try_get("department")?,
                    due_at: from_ts(row.try_get("due_at")?)?,
                    attempts: row.try_get("attempts")?,
                    created_at: from_ts(row.try_get("created_at")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        mails.sort_by_key(|m| m.id);
        Ok(mails)
    }

    async fn record_escalation_mail(
        &self,
        id: i64,
        worker: &str,
        outcome: MailOutcome,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (status, error, next) = match &outcome {
            MailOutcome::Sent => ("sent", None, None),
            MailOutcome::Retry { error, next_attempt_at } => {
                ("pending", Some(error.as_str()), Some(ts(*next_attempt_at)))
            }
            MailOutcome::Failed { error } => ("failed", Some(error.as_str()), None),
        };
        sqlx::query(
            "UPDATE escalation_mails SET status = $2, attempts = attempts + 1, last_error = $3, \
             next_attempt_at = COALESCE($4, next_attempt_at), \
             sent_at = CASE WHEN $2 = 'sent' THEN $5 ELSE sent_at END, \
             lease_until = NULL, leased_by = NULL WHERE id = $1 AND leased_by = $6 AND status = 'pending'",
        )
        .bind(id)
        .bind(status)
        .bind(error)
        .bind(next)
        .bind(ts(now))
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn response_stats(
        &self,
        project_id: i64,
        scope: ResponseScope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<ResponseStats> {
        // Counted on the covering index `inbox_entered`; the two percentiles
        // are one sorted read each.
        let scope = |qb: &mut QueryBuilder<Postgres>| {
            qb.push(" FROM inbox WHERE project_id = ").push_bind(project_id);
            qb.push(" AND entered_at >= ").push_bind(ts(from)).push(" AND entered_at < ").push_bind(ts(to));
            qb.push(" AND status <> 'ignored'");
            match scope {
                ResponseScope::Project => {}
                ResponseScope::Department(department) => {
                    qb.push(" AND department_id = ").push_bind(department);
                }
                ResponseScope::NoDepartment => {
                    qb.push(" AND department_id IS NULL");
                }
            }
        };
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT COUNT(*) AS entered, \
             COUNT(*) FILTER (WHERE first_response_at IS NOT NULL) AS answered, \
             COUNT(*) FILTER (WHERE first_response_at IS NOT NULL \
                 AND COALESCE(first_due_at, due_at) IS NOT NULL) AS with_target, \
             COUNT(*) FILTER (WHERE first_response_at IS NOT NULL \
                 AND first_response_at <= COALESCE(first_due_at, due_at)) AS within_target, ",
        );
        qb.push(format!("COUNT(*) FILTER (WHERE status IN {PENDING}) AS pending, "));
        qb.push(format!("COUNT(*) FILTER (WHERE status IN {PENDING} AND due_at < "))
            .push_bind(ts(now))
            .push(") AS overdue");
        scope(&mut qb);
        let row = qb.build().fetch_one(&self.pool).await?;
        let mut stats = ResponseStats {
            entered: row.try_get("entered")?,
            answered: row.try_get("answered")?,
            with_target: row.try_get("with_target")?,
            within_target: row.try_get("within_target")?,
            pending: row.try_get("pending")?,
            overdue: row.try_get("overdue")?,
            ..ResponseStats::default()
        };
        let rank = |percent: i64| {
            let offset = nearest_rank_offset(stats.answered, percent)?;
            let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("SELECT first_response_at - entered_at");
            scope(&mut qb);
            qb.push(" AND first_response_at IS NOT NULL ORDER BY 1 LIMIT 1 OFFSET ").push_bind(offset);
            Some(qb)
        };
        if let Some(mut qb) = rank(50) {
            stats.median_secs = qb.build_query_scalar().fetch_optional(&self.pool).await?;
        }
        if let Some(mut qb) = rank(90) {
            stats.p90_secs = qb.build_query_scalar().fetch_optional(&self.pool).await?;
        }
        Ok(stats)
    }

    async fn overview(
        &self,
        project_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        buckets: &Buckets,
        top: i64,
    ) -> Result<Overview> {
        match rollup::overview(self, project_id, ts(from), ts(to), buckets, top).await? {
            Some(overview) => Ok(overview),
            None => self.overview_direct(project_id, ts(from), ts(to), buckets, top).await,
        }
    }

    async fn overview_uncached(
        &self,
        project_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        buckets: &Buckets,
        top: i64,
    ) -> Result<Overview> {
        self.overview_direct(project_id, ts(from), ts(to), buckets, top).await
    }
}

impl PgStore {
    /// The overview counted from the mentions themselves: periods that are
    /// not whole hours, and the reference the rollups are tested against.
    async fn overview_direct(
        &self,
        project_id: i64,
        from: i64,
        to: i64,
        buckets: &Buckets,
        top: i64,
    ) -> Result<Overview> {
        let mut overview = Overview { buckets: buckets.empty(to), ..Overview::default() };

        // Counts by spans that each fall in one bucket, then into the buckets.
        let rows = sqlx::query(OVERVIEW_BUCKETS)
            .bind(project_id)
            .bind(from)
            .bind(to)
            .bind(buckets.granule())
            .fetch_all(&self.pool)
            .await?;
        for row in &rows {
            let start: i64 = row.try_get("start")?;
            let n: i64 = row.try_get("n")?;
            let polarity = row
                .try_get::<Option<String>, _>("polarity")?
                .map(|p| Polarity::from_str(&p).map_err(|e| StoreError::Corrupt(e.to_string())))
                .transpose()?;
            let Some(bucket) = buckets.index_of(start).and_then(|i| overview.buckets.get_mut(i)) else {
                return Err(StoreError::Corrupt(format!("overview bucket {start} outside the period")));
            };
            match polarity {
                Some(Polarity::Negative) => bucket.negative += n,
                Some(Polarity::Neutral) => bucket.neutral += n,
                Some(Polarity::Positive) => bucket.positive += n,
                None => bucket.unknown += n,
            }
            overview.total += n;
        }

        // Every watch, with what it matched in the period.
        let rows = sqlx::query(
            "SELECT mw.watch_id, COUNT(*) AS n, \
             SUM(CASE WHEN COALESCE(m.corrected, m.sentiment) = 'negative' THEN 1 ELSE 0 END) AS negative, \
             SUM(CASE WHEN COALESCE(m.corrected, m.sentiment) = 'positive' THEN 1 ELSE 0 END) AS positive \
             FROM watches w JOIN mention_watches mw ON mw.watch_id = w.id JOIN mentions m ON m.id = mw.mention_id \
             WHERE w.project_id = $1 AND m.published_at >= $2 AND m.published_at < $3 GROUP BY mw.watch_id",
        )
        .bind(project_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let mut counts: HashMap<i64, (i64, i64, i64)> = HashMap::with_capacity(rows.len());
        for row in &rows {
            counts.insert(
                row.try_get("watch_id")?,
                (row.try_get("n")?, row.try_get("negative")?, row.try_get("positive")?),
            );
        }
        let sql = format!("SELECT id, name, competitor FROM watches WHERE project_id = $1 ORDER BY name {C}");
        let watches = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.pool).await?;
        for row in &watches {
            let watch_id: i64 = row.try_get("id")?;
            let (mentions, negative, positive) = counts.get(&watch_id).copied().unwrap_or_default();
            overview.per_watch.push(WatchCount {
                watch_id,
                name: row.try_get("name")?,
                competitor: row.try_get("competitor")?,
                mentions,
                negative,
                positive,
            });
        }
        // Stable: equal counts stay by name.
        overview.per_watch.sort_by_key(|w| std::cmp::Reverse(w.mentions));

        overview.top_sites = period_rows(
            &self.pool,
            "SELECT site AS key, COUNT(*) AS n FROM mentions \
             WHERE project_id = $1 AND published_at >= $2 AND published_at < $3 AND site IS NOT NULL \
             GROUP BY site ORDER BY n DESC, site COLLATE \"C\" LIMIT $4",
            project_id,
            from,
            to,
            top,
        )
        .await?;
        let rows = sqlx::query(
            "SELECT author, MIN(site COLLATE \"C\") AS site, COUNT(*) AS n, \
             COALESCE(MAX(reach_score), 0.0::float8) AS reach FROM mentions \
             WHERE project_id = $1 AND published_at >= $2 AND published_at < $3 AND author IS NOT NULL \
             GROUP BY author ORDER BY reach DESC, n DESC, author COLLATE \"C\" LIMIT $4",
        )
        .bind(project_id)
        .bind(from)
        .bind(to)
        .bind(top)
        .fetch_all(&self.pool)
        .await?;
        overview.top_authors = rows
            .iter()
            .map(|r| {
                Ok(AuthorRow {
                    author: r.try_get("author")?,
                    site: r.try_get("site")?,
                    mentions: r.try_get("n")?,
                    reach_score: r.try_get("reach")?,
                })
            })
            .collect::<Result<_>>()?;
        overview.per_theme = period_rows(
            &self.pool,
            "SELECT t.value ->> 'theme' AS key, COUNT(*) AS n FROM mentions m \
             CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(m.analysis -> 'themes') = 'array' \
                 THEN m.analysis -> 'themes' ELSE '[]'::jsonb END) AS t(value) \
             WHERE m.project_id = $1 AND m.published_at >= $2 AND m.published_at < $3 AND m.analysis IS NOT NULL \
             GROUP BY 1 ORDER BY n DESC, (t.value ->> 'theme') COLLATE \"C\" LIMIT $4",
            project_id,
            from,
            to,
            top,
        )
        .await?;
        overview.per_source_kind = period_rows(
            &self.pool,
            "SELECT source_kind AS key, COUNT(*) AS n FROM mentions \
             WHERE project_id = $1 AND published_at >= $2 AND published_at < $3 \
             GROUP BY source_kind ORDER BY n DESC, source_kind COLLATE \"C\" LIMIT $4",
            project_id,
            from,
            to,
            top,
        )
        .await?;
        Ok(overview)
    }
}

#[async_trait]
impl RollupSource for PgStore {
    async fn db_now(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT extract(epoch FROM now())::BIGINT").fetch_one(&self.pool).await?)
    }

    async fn stored_hours(&self, project_id: i64, h0: i64, h1: i64) -> Result<Vec<StoredHour>> {
        let rows = sqlx::query(
            "SELECT hour, version, data FROM overview_hours WHERE project_id = $1 AND hour >= $2 AND hour < $3",
        )
        .bind(project_id)
        .bind(h0)
        .bind(h1)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredHour { hour: r.try_get("hour")?, version: r.try_get("version")?, data: r.try_get("data")? })
            })
            .collect()
    }

    async fn compute_hours(&self, project_id: i64, from: i64, to: i64) -> Result<BTreeMap<i64, HourRollup>> {
        let mut hours = BTreeMap::new();
        let mut rows = sqlx::query(
            "SELECT published_at, COALESCE(corrected, sentiment) AS polarity, site, author, reach_score, source_kind, \
             CASE WHEN jsonb_typeof(analysis -> 'themes') = 'array' THEN (analysis -> 'themes')::text END AS themes, \
             matches::text AS matches FROM mentions \
             WHERE project_id = $1 AND published_at >= $2 AND published_at < $3",
        )
        .bind(project_id)
        .bind(from)
        .bind(to)
        .fetch(&self.pool);
        while let Some(r) = rows.try_next().await? {
            let row = RollupRow {
                published_at: r.try_get("published_at")?,
                polarity: r.try_get("polarity")?,
                site: r.try_get("site")?,
                author: r.try_get("author")?,
                reach_score: r.try_get("reach_score")?,
                source_kind: r.try_get("source_kind")?,
                themes: r.try_get("themes")?,
                matches: r.try_get("matches")?,
            };
            rollup::add_row(&mut hours, &row)?;
        }
        Ok(hours)
    }

    async fn save_hours(&self, project_id: i64, hours: &[HourToSave]) -> Result<()> {
        // One statement per hour, each on its own: no lock on one hour is
        // held while waiting for another (imports lock them in their order).
        for h in hours {
            // A row made since the read (expected None → -1) is left alone.
            sqlx::query(
                "INSERT INTO overview_hours (project_id, hour, version, data) VALUES ($1, $2, 0, $3) \
                 ON CONFLICT (project_id, hour) DO UPDATE SET data = excluded.data \
                 WHERE overview_hours.version = $4",
            )
            .bind(project_id)
            .bind(h.hour)
            .bind(&h.data)
            .bind(h.expected.unwrap_or(-1))
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    fn fill_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.rollup_fill
    }
}

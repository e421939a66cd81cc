//! [`Reports`] for PostgreSQL (the same SQL as SQLite's, `$N` placeholders).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};
use vigie_model::{Alert, Polarity};

use super::{ALERT_COLUMNS, MENTION_COLUMNS, PgStore, alert_from_row, mention_from_row};
use crate::codec::{from_opt_ts, from_ts, nearest_rank_offset, ts};
use crate::{
    Frequency, NewReportSchedule, REPORT_SEND_LEASE_SECS, ReportSchedule, ReportStats, Reports, Result, StoreError,
    StoredMention,
};

const SCHEDULE_COLUMNS: &str =
    "id, project_id, frequency, channel_id, recipients, lang, last_period_end, last_sent_at, last_error, created_at";

fn schedule_from_row(row: &PgRow) -> Result<ReportSchedule> {
    let frequency: String = row.try_get("frequency")?;
    Ok(ReportSchedule {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        frequency: Frequency::parse(&frequency)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown report frequency {frequency:?}")))?,
        channel_id: row.try_get("channel_id")?,
        recipients: row.try_get("recipients")?,
        lang: row.try_get("lang")?,
        last_period_end: from_opt_ts(row.try_get("last_period_end")?)?,
        last_sent_at: from_opt_ts(row.try_get("last_sent_at")?)?,
        last_error: row.try_get("last_error")?,
        created_at: from_ts(row.try_get("created_at")?)?,
    })
}

#[async_trait]
impl Reports for PgStore {
    async fn report_stats(&self, project_id: i64, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<ReportStats> {
        // Both reach queries stay on `mentions_project_published_reach`.
        let row = sqlx::query(
            "SELECT COUNT(reach_score) AS scored, COALESCE(SUM(reach_score), 0.0) AS total FROM mentions \
             WHERE project_id = $1 AND published_at >= $2 AND published_at < $3",
        )
        .bind(project_id)
        .bind(ts(from))
        .bind(ts(to))
        .fetch_one(&self.pool)
        .await?;
        let mut stats =
            ReportStats { scored: row.try_get("scored")?, reach_total: row.try_get("total")?, ..Default::default() };
        if let Some(offset) = nearest_rank_offset(stats.scored, 50) {
            stats.reach_median = sqlx::query_scalar(
                "SELECT reach_score FROM mentions WHERE project_id = $1 AND published_at >= $2 \
                 AND published_at < $3 AND reach_score IS NOT NULL ORDER BY reach_score LIMIT 1 OFFSET $4",
            )
            .bind(project_id)
            .bind(ts(from))
            .bind(ts(to))
            .bind(offset)
            .fetch_optional(&self.pool)
            .await?;
        }
        let row = sqlx::query(
            "SELECT COUNT(*) AS raised, COUNT(COALESCE(acknowledged_at, resolved_at)) AS acknowledged FROM alerts \
             WHERE project_id = $1 AND opened_at >= $2 AND opened_at < $3",
        )
        .bind(project_id)
        .bind(ts(from))
        .bind(ts(to))
        .fetch_one(&self.pool)
        .await?;
        stats.alerts_raised = row.try_get("raised")?;
        stats.alerts_acknowledged = row.try_get("acknowledged")?;
        if let Some(offset) = nearest_rank_offset(stats.alerts_acknowledged, 50) {
            stats.ack_median_secs = sqlx::query_scalar(
                "SELECT COALESCE(acknowledged_at, resolved_at) - opened_at AS secs FROM alerts \
                 WHERE project_id = $1 AND opened_at >= $2 AND opened_at < $3 \
                 AND COALESCE(acknowledged_at, resolved_at) IS NOT NULL ORDER BY secs LIMIT 1 OFFSET $4",
            )
            .bind(project_id)
            .bind(ts(from))
            .bind(ts(to))
            .bind(offset)
            .fetch_optional(&self.pool)
            .await?;
        }
        Ok(stats)
    }

    async fn top_reach_mentions(
        &self,
        project_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        polarity: Option<Polarity>,
        limit: i64,
    ) -> Result<Vec<StoredMention>> {
        // The ids are chosen on the covering index alone; only the rows
        // kept are read.
        let sql = format!(
            "SELECT {MENTION_COLUMNS} FROM mentions m WHERE m.id IN (\
             SELECT id FROM mentions WHERE project_id = $1 AND published_at >= $2 AND published_at < $3 \
             AND reach_score IS NOT NULL AND ($4::TEXT IS NULL OR COALESCE(corrected, sentiment) = $4) \
             ORDER BY reach_score DESC, id DESC LIMIT $5) \
             ORDER BY m.reach_score DESC, m.id DESC"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(ts(from))
            .bind(ts(to))
            .bind(polarity.map(Polarity::as_str))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(mention_from_row).collect()
    }

    async fn alerts_opened(
        &self,
        project_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Alert>> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE project_id = $1 AND opened_at >= $2 AND opened_at < $3 \
             ORDER BY opened_at, id LIMIT $4"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(ts(from))
            .bind(ts(to))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(alert_from_row).collect()
    }

    async fn add_report_schedule(
        &self,
        project_id: i64,
        schedule: NewReportSchedule,
        now: DateTime<Utc>,
    ) -> Result<ReportSchedule> {
        let sql = format!(
            "INSERT INTO report_schedules (project_id, frequency, channel_id, recipients, lang, created_at) \
             SELECT $1, $2, id, $4, $5, $6 FROM notification_channels \
             WHERE id = $3 AND project_id = $1 AND kind = 'email' RETURNING {SCHEDULE_COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(schedule.frequency.as_str())
            .bind(schedule.channel_id)
            .bind(&schedule.recipients)
            .bind(&schedule.lang)
            .bind(ts(now))
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => schedule_from_row(&row),
            None => Err(StoreError::NotFound(format!("this project has no e-mail channel {}", schedule.channel_id))),
        }
    }

    async fn list_report_schedules(&self, project_id: i64) -> Result<Vec<ReportSchedule>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM report_schedules WHERE project_id = $1 ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.pool).await?;
        rows.iter().map(schedule_from_row).collect()
    }

    async fn remove_report_schedule(&self, project_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM report_schedules WHERE project_id = $1 AND id = $2")
            .bind(project_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn report_schedules_after(&self, after_id: i64, limit: i64) -> Result<Vec<ReportSchedule>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM report_schedules WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(after_id).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(schedule_from_row).collect()
    }

    async fn claim_report_period(&self, id: i64, period_end: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE report_schedules SET sending_period_end = $2, sending_until = $3 + $4 \
             WHERE id = $1 AND (last_period_end IS NULL OR last_period_end < $2) \
             AND (sending_until IS NULL OR sending_until <= $3)",
        )
        .bind(id)
        .bind(ts(period_end))
        .bind(ts(now))
        .bind(REPORT_SEND_LEASE_SECS)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn report_sent(&self, id: i64, period_end: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE report_schedules SET last_period_end = $2, last_sent_at = $3, last_error = NULL, \
             sending_period_end = NULL, sending_until = NULL \
             WHERE id = $1 AND sending_period_end = $2 \
             AND (last_period_end IS NULL OR last_period_end < $2)",
        )
        .bind(id)
        .bind(ts(period_end))
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn report_send_failed(&self, id: i64, period_end: DateTime<Utc>, error: &str, retry: bool) -> Result<()> {
        sqlx::query(
            "UPDATE report_schedules SET last_error = $3, sending_period_end = NULL, sending_until = NULL, \
             last_period_end = CASE WHEN $4 THEN last_period_end ELSE $2::BIGINT END \
             WHERE id = $1 AND sending_period_end = $2",
        )
        .bind(id)
        .bind(ts(period_end))
        .bind(error)
        .bind(retry)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

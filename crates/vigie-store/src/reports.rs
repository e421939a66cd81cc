//! What reports read beyond the overview: the reach figures and the alerts
//! of a period, the mentions worth reading again, and the schedules of
//! e-mailed reports with the period each last sent.
//!
//! A schedule's `last_period_end` only moves forward, through a conditional
//! update ([`Reports::claim_report_period`]): of several processes that find
//! the same period due, exactly one wins the claim and sends it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vigie_model::{Alert, Polarity};

use crate::{Result, StoredMention};

/// Reach and alert figures of a period (publication time, or opening time
/// for alerts, in `[from, to)`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportStats {
    /// Mentions of the period with a reach score.
    pub scored: i64,
    /// The sum of their reach scores (each 0–100).
    pub reach_total: f64,
    /// Their median reach score (nearest rank).
    pub reach_median: Option<f64>,
    /// Alerts opened in the period.
    pub alerts_raised: i64,
    /// Of those, the ones acknowledged (or resolved) since.
    pub alerts_acknowledged: i64,
    /// Median time from opening to acknowledgement, in seconds.
    pub ack_median_secs: Option<i64>,
}

/// How often a scheduled report is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frequency {
    /// Each Monday 00:00 UTC, covering the week before.
    Weekly,
    /// Each 1st of the month 00:00 UTC, covering the month before.
    Monthly,
}

impl Frequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Weekly => "weekly",
            Frequency::Monthly => "monthly",
        }
    }

    pub fn parse(s: &str) -> Option<Frequency> {
        match s.trim().to_ascii_lowercase().as_str() {
            "weekly" => Some(Frequency::Weekly),
            "monthly" => Some(Frequency::Monthly),
            _ => None,
        }
    }
}

/// A report e-mailed on a schedule.
/// How long a claim to send a scheduled report holds: longer than any
/// report takes to compose and send (SMTP has its own timeouts).
pub const REPORT_SEND_LEASE_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSchedule {
    pub id: i64,
    pub project_id: i64,
    pub frequency: Frequency,
    /// The e-mail channel it goes through.
    pub channel_id: i64,
    /// Comma-separated addresses; empty: the channel's.
    pub recipients: String,
    /// `fr` or `en`.
    pub lang: String,
    /// The end of the last period sent (or refused for good).
    pub last_period_end: Option<DateTime<Utc>>,
    pub last_sent_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewReportSchedule {
    pub frequency: Frequency,
    pub channel_id: i64,
    pub recipients: String,
    pub lang: String,
}

#[async_trait]
pub trait Reports: Send + Sync {
    /// Reach (on the `(project_id, published_at, reach_score, sentiment, corrected)` index) and
    /// alert figures of `[from, to)`.
    async fn report_stats(&self, project_id: i64, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<ReportStats>;
    /// The mentions of `[from, to)` with the highest reach score, of one
    /// polarity (a correction wins over the verdict) or all, at most `limit`.
    async fn top_reach_mentions(
        &self,
        project_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        polarity: Option<Polarity>,
        limit: i64,
    ) -> Result<Vec<StoredMention>>;
    /// Alerts opened in `[from, to)`, oldest first, at most `limit`.
    async fn alerts_opened(
        &self,
        project_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Alert>>;

    /// Fails with [`crate::StoreError::NotFound`] if the channel is not an
    /// e-mail channel of the project.
    async fn add_report_schedule(
        &self,
        project_id: i64,
        schedule: NewReportSchedule,
        now: DateTime<Utc>,
    ) -> Result<ReportSchedule>;
    async fn list_report_schedules(&self, project_id: i64) -> Result<Vec<ReportSchedule>>;
    async fn remove_report_schedule(&self, project_id: i64, id: i64) -> Result<bool>;
    /// Schedules of every project with an id above `after_id`, by id, at most `limit`.
    async fn report_schedules_after(&self, after_id: i64, limit: i64) -> Result<Vec<ReportSchedule>>;
    /// Takes the sending of the period ending at `period_end` for
    /// [`REPORT_SEND_LEASE_SECS`], if it is after `last_period_end` (or none
    /// was sent) and no other process holds a live claim. `true`: this
    /// caller won and must send, then say how it went ([`Reports::report_sent`]
    /// or [`Reports::report_send_failed`]). A caller that dies in between
    /// leaves the period due again once its claim has expired.
    async fn claim_report_period(&self, id: i64, period_end: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool>;
    /// The claimed period was sent: `last_period_end` moves to it.
    async fn report_sent(&self, id: i64, period_end: DateTime<Utc>, now: DateTime<Utc>) -> Result<()>;
    /// The claimed period's send failed: records the error and ends the
    /// claim; the period is tried again if `retry`, else it counts as done
    /// (`last_period_end` moves to it, `last_sent_at` stays).
    async fn report_send_failed(&self, id: i64, period_end: DateTime<Utc>, error: &str, retry: bool) -> Result<()>;
}

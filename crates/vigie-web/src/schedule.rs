//! Scheduled reports: when each is due, which period it covers, and the
//! runner `vigie serve` calls every minute.
//!
//! A weekly report covers Monday 00:00 to the next Monday 00:00 (local time
//! in the installation's zone, `WebConfig::zone`) and is
//! due from the end of that week; a monthly one covers a calendar month. A
//! schedule sends the last complete period that ended after it was created
//! and after the period it last sent: a server down for three weeks sends
//! the last week once, not a backlog. [`due_period`] is pure (time passed in).
//!
//! **Sent once per period, never lost.** The runner claims the period in
//! the store with a conditional update (a claim of 15 minutes), then sends:
//! of several `serve` processes, one wins the claim. `last_period_end`
//! moves forward only once the report went out, so a process killed between
//! its claim and its send leaves the period due again when the claim
//! expires. A send that fails with an error that may pass (a 4xx reply, the
//! network) ends the claim and is retried a minute later; a permanent one (a
//! refused address) is recorded on the schedule and the period is not
//! retried.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use vigie_model::zone::{self, Tz};
use vigie_notify::{ReportEmail, SmtpConfig, send_report_email};
use vigie_store::{Frequency, ReportSchedule, Store};

use crate::i18n::{self, Lang};
use crate::pages::overview::Period;
use crate::pages::report;

/// The last complete period at `now`: `[from, to)` with `to <= now`.
pub fn last_complete_period(frequency: Frequency, now: DateTime<Utc>, zone: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let today = zone::local_date(zone, now);
    let midnight = |d: NaiveDate| zone::local_midnight(zone, d);
    match frequency {
        Frequency::Weekly => {
            let since_monday = today.weekday().num_days_from_monday() as i64;
            let monday = today - Duration::days(since_monday);
            (midnight(monday - Duration::days(7)), midnight(monday))
        }
        Frequency::Monthly => {
            let first = today.with_day(1).unwrap_or(today);
            let prev = first.pred_opt().and_then(|d| d.with_day(1)).unwrap_or(first);
            (midnight(prev), midnight(first))
        }
    }
}

/// When the next period ends after `now` (the next send).
pub fn next_run(frequency: Frequency, now: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    let (_, to) = last_complete_period(frequency, now, zone);
    let midnight = |d: NaiveDate| zone::local_midnight(zone, d);
    match frequency {
        Frequency::Weekly => midnight(zone::local_date(zone, to) + Duration::days(7)),
        Frequency::Monthly => {
            let d = zone::local_date(zone, to);
            let next = if d.month() == 12 {
                NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
            };
            next.map(midnight).unwrap_or(to + Duration::days(31))
        }
    }
}

/// When `schedule` sends next: `now` while a period waits to go out (due,
/// being sent, or retried after a failure), else when the current period ends.
pub fn next_send(schedule: &ReportSchedule, now: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    match due_period(schedule.frequency, schedule.created_at, schedule.last_period_end, now, zone) {
        Some(_) => now,
        None => next_run(schedule.frequency, now, zone),
    }
}

/// The period to send now, if any: the last complete one, when it ended
/// after the schedule was created and after the last period sent.
pub fn due_period(
    frequency: Frequency,
    created_at: DateTime<Utc>,
    last_period_end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    zone: Tz,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (from, to) = last_complete_period(frequency, now, zone);
    (to > created_at && last_period_end.is_none_or(|last| last < to)).then_some((from, to))
}

/// The addresses a schedule sends to: its own, else its channel's.
fn recipients(schedule: &ReportSchedule, channel_target: &str) -> Vec<String> {
    let list = if schedule.recipients.trim().is_empty() { channel_target } else { &schedule.recipients };
    // Each address once, whatever its case.
    let mut seen = std::collections::HashSet::new();
    list.split([',', ';', ' ', '\n'])
        .map(str::trim)
        .filter(|a| !a.is_empty() && seen.insert(a.to_lowercase()))
        .map(str::to_string)
        .collect()
}

/// The people a schedule's list reaches, compared without case or order
/// (an empty list is the channel's address).
pub(crate) fn recipient_set(list: &str, channel_target: &str) -> std::collections::BTreeSet<String> {
    let list = if list.trim().is_empty() { channel_target } else { list };
    list.split([',', ';', ' ', '\n']).map(str::trim).filter(|a| !a.is_empty()).map(str::to_lowercase).collect()
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub sent: usize,
    pub failed: usize,
}

/// Sends every due report once. Without an SMTP server configured, due
/// reports wait (and a warning says why).
pub async fn run_due_reports(store: &dyn Store, smtp: Option<&SmtpConfig>, now: DateTime<Utc>, zone: Tz) -> RunOutcome {
    let mut outcome = RunOutcome::default();
    let mut after = 0;
    loop {
        let page = match store.report_schedules_after(after, 100).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the report schedules; retrying in a minute");
                return outcome;
            }
        };
        let Some(last) = page.last() else { break };
        after = last.id;
        for schedule in &page {
            let Some((from, to)) =
                due_period(schedule.frequency, schedule.created_at, schedule.last_period_end, now, zone)
            else {
                continue;
            };
            let Some(smtp) = smtp else {
                tracing::warn!(
                    schedule = schedule.id,
                    "a scheduled report is due but no SMTP server is configured (VIGIE_SMTP_URL); it waits"
                );
                continue;
            };
            match i18n::in_zone(zone, send_one(store, smtp, schedule, from, to, now)).await {
                Ok(true) => outcome.sent += 1,
                Ok(false) => {}
                Err(()) => outcome.failed += 1,
            }
        }
        if page.len() < 100 {
            break;
        }
    }
    outcome
}

/// Claims the period and sends it. `Ok(false)`: another process had it.
async fn send_one(
    store: &dyn Store,
    smtp: &SmtpConfig,
    schedule: &ReportSchedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, ()> {
    match store.claim_report_period(schedule.id, to, now).await {
        Ok(true) => {}
        Ok(false) => return Ok(false),
        Err(e) => {
            tracing::warn!(schedule = schedule.id, error = %e, "could not claim a report period");
            return Err(());
        }
    }
    let result = compose_and_send(store, smtp, schedule, from, to, now).await;
    match result {
        Ok(()) => {
            if let Err(e) = store.report_sent(schedule.id, to, now).await {
                // Sent: the claim expires and the period may go out once more.
                tracing::warn!(schedule = schedule.id, error = %e, "could not record a sent report");
            }
            Ok(true)
        }
        Err((message, retry)) => {
            tracing::warn!(schedule = schedule.id, retry, "scheduled report not sent: {message}");
            if let Err(e) = store.report_send_failed(schedule.id, to, &message, retry).await {
                tracing::warn!(schedule = schedule.id, error = %e, "could not record the report failure");
            }
            Err(())
        }
    }
}

/// Builds the report and sends it; the error says whether a retry may help.
async fn compose_and_send(
    store: &dyn Store,
    smtp: &SmtpConfig,
    schedule: &ReportSchedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), (String, bool)> {
    let lang = Lang::parse(&schedule.lang).unwrap_or(Lang::Fr);
    let project = match store.project_by_id(schedule.project_id).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(("the project no longer exists".into(), false)),
        Err(e) => return Err((e.to_string(), true)),
    };
    let channel = match store.list_channels(schedule.project_id).await {
        Ok(list) => list.into_iter().find(|c| c.id == schedule.channel_id),
        Err(e) => return Err((e.to_string(), true)),
    };
    let Some(channel) = channel else { return Err(("its e-mail channel was removed".into(), false)) };
    let to_list = recipients(schedule, &channel.target);
    let period = Period::new(schedule.frequency.as_str(), from, to, 86_400, i18n::current_zone());
    let r = report::build(store, project, period, now).await.map_err(|e| (e.message, true))?;
    let document = report::document(lang, &r);
    let subject = format!(
        "{} — {} ({})",
        match schedule.frequency {
            Frequency::Weekly => lang.t("Rapport hebdomadaire", "Weekly report"),
            Frequency::Monthly => lang.t("Rapport mensuel", "Monthly report"),
        },
        r.project.name,
        report::period_text(lang, from, to)
    );
    let text = report::plain_text(lang, &r);
    let html = report::email_html(lang, &r);
    let name = format!("{}.html", report::file_stem(&r));
    let key = format!("report-{}-{}", schedule.id, to.timestamp());
    let email = ReportEmail {
        subject: &subject,
        text: &text,
        html: &html,
        attachment_name: &name,
        attachment_html: &document,
        key: &key,
    };
    send_report_email(smtp, &to_list, &email).await.map_err(|e| (e.to_string(), e.is_transient()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UTC: Tz = Tz::UTC;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn weekly_reports_cover_monday_to_monday() {
        // 2026-11-24 is a Tuesday.
        let now = at("2026-11-24T10:00:00Z");
        assert_eq!(
            last_complete_period(Frequency::Weekly, now, UTC),
            (at("2026-11-16T00:00:00Z"), at("2026-11-23T00:00:00Z"))
        );
        assert_eq!(next_run(Frequency::Weekly, now, UTC), at("2026-11-30T00:00:00Z"));
        // On Monday at midnight the week just ended is the one.
        assert_eq!(
            last_complete_period(Frequency::Weekly, at("2026-11-30T00:00:00Z"), UTC).1,
            at("2026-11-30T00:00:00Z")
        );
    }

    #[test]
    fn monthly_reports_cover_the_calendar_month() {
        let now = at("2026-03-01T00:30:00Z");
        assert_eq!(
            last_complete_period(Frequency::Monthly, now, UTC),
            (at("2026-02-01T00:00:00Z"), at("2026-03-01T00:00:00Z"))
        );
        assert_eq!(
            last_complete_period(Frequency::Monthly, at("2026-01-15T00:00:00Z"), UTC),
            (at("2025-12-01T00:00:00Z"), at("2026-01-01T00:00:00Z"))
        );
        assert_eq!(next_run(Frequency::Monthly, at("2026-12-05T00:00:00Z"), UTC), at("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn a_period_is_due_once_and_never_before_the_schedule() {
        let created = at("2026-11-18T09:00:00Z"); // a Wednesday
        // The week it was created in is not over: nothing yet.
        assert_eq!(due_period(Frequency::Weekly, created, None, at("2026-11-22T23:59:59Z"), UTC), None);
        // That week ends on Monday: due, covering it.
        let monday = at("2026-11-23T00:00:00Z");
        let due = due_period(Frequency::Weekly, created, None, monday + Duration::minutes(1), UTC);
        assert_eq!(due, Some((at("2026-11-16T00:00:00Z"), monday)));
        // Once sent, not again that week.
        assert_eq!(due_period(Frequency::Weekly, created, Some(monday), at("2026-11-29T12:00:00Z"), UTC), None);
        // Three weeks later: the last week only.
        let later = due_period(Frequency::Weekly, created, Some(monday), at("2026-12-16T08:00:00Z"), UTC);
        assert_eq!(later, Some((at("2026-12-07T00:00:00Z"), at("2026-12-14T00:00:00Z"))));
        // A schedule created right after a period ended does not send it.
        assert_eq!(
            due_period(Frequency::Monthly, at("2026-12-01T00:05:00Z"), None, at("2026-12-20T00:00:00Z"), UTC),
            None
        );
    }

    #[test]
    fn periods_are_local_weeks_and_months_in_the_installation_zone() {
        let paris = zone::parse_zone("Europe/Paris").unwrap();
        // Tuesday 24 November, 10:00 UTC: the week of 16 to 23 November, by
        // Paris midnights (23:00 UTC the day before).
        let now = at("2026-11-24T10:00:00Z");
        assert_eq!(
            last_complete_period(Frequency::Weekly, now, paris),
            (at("2026-11-15T23:00:00Z"), at("2026-11-22T23:00:00Z"))
        );
        assert_eq!(next_run(Frequency::Weekly, now, paris), at("2026-11-29T23:00:00Z"));
        // Sunday 22 November 23:30 UTC is already Monday in Paris: that week is over.
        let (_, to) = last_complete_period(Frequency::Weekly, at("2026-11-22T23:30:00Z"), paris);
        assert_eq!(to, at("2026-11-22T23:00:00Z"));
        // The week the clocks went back lasts 169 hours.
        let (from, to) = last_complete_period(Frequency::Weekly, at("2026-10-27T12:00:00Z"), paris);
        assert_eq!((to - from).num_hours(), 169);
        // October in Paris: from 1 October 00:00 CEST to 1 November 00:00 CET.
        assert_eq!(
            last_complete_period(Frequency::Monthly, at("2026-11-05T00:00:00Z"), paris),
            (at("2026-09-30T22:00:00Z"), at("2026-10-31T23:00:00Z"))
        );
        assert_eq!(next_run(Frequency::Monthly, at("2026-11-05T00:00:00Z"), paris), at("2026-11-30T23:00:00Z"));
    }

    /// A weekly schedule created at `created`, to its channel's address, never sent.
    fn weekly(created: DateTime<Utc>) -> ReportSchedule {
        ReportSchedule {
            id: 1,
            project_id: 1,
            frequency: Frequency::Weekly,
            channel_id: 1,
            recipients: String::new(),
            lang: "fr".into(),
            last_period_end: None,
            last_sent_at: None,
            last_error: None,
            created_at: created,
        }
    }

    #[test]
    fn the_next_send_is_now_while_a_period_waits() {
        let s = weekly(at("2026-11-18T09:00:00Z"));
        // Before the first week is over: its end.
        let before = at("2026-11-20T12:00:00Z");
        assert_eq!(next_send(&s, before, UTC), at("2026-11-23T00:00:00Z"));
        // The week is over and not sent yet (a send under way, a retry): now.
        let monday = at("2026-11-23T00:10:00Z");
        assert_eq!(next_send(&s, monday, UTC), monday);
        // Sent: the next Monday.
        let sent = ReportSchedule { last_period_end: Some(at("2026-11-23T00:00:00Z")), ..s };
        assert_eq!(next_send(&sent, monday, UTC), at("2026-11-30T00:00:00Z"));
    }

    #[test]
    fn recipients_default_to_the_channel() {
        let s = weekly(Utc::now());
        assert_eq!(recipients(&s, "a@x.org, b@x.org"), ["a@x.org", "b@x.org"]);
        let own = ReportSchedule { recipients: "boss@x.org".into(), ..s.clone() };
        assert_eq!(recipients(&own, "a@x.org"), ["boss@x.org"]);
        // Each person once.
        let twice = ReportSchedule { recipients: "boss@x.org,Boss@X.org; boss@x.org".into(), ..s };
        assert_eq!(recipients(&twice, "a@x.org"), ["boss@x.org"]);
        assert_eq!(recipient_set("", "Patron@X.fr"), recipient_set("patron@x.fr, PATRON@x.fr", "other@x.fr"));
        assert_ne!(recipient_set("a@x.fr", "b@x.fr"), recipient_set("", "b@x.fr"));
    }
}

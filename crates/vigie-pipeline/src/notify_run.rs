//! Sending the queued notifications: the outbox of the store, one delivery
//! at a time, each outcome written back.
//!
//! A delivery row is written in the transaction that opened or grew its
//! alert, so an event is never lost: a crash, a dead webhook or an SMTP
//! server down leaves the row pending and it is tried again, after a restart
//! too, with exponential back-off. A row is marked sent as soon as the
//! channel accepted it and is never sent again; the event id it carries
//! (`vigie-<alert>-<event>`, a header and the e-mail's Message-ID) lets a
//! receiver drop the one resend a crash between "accepted" and "marked"
//! could cause.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt as _;
use vigie_collect::Fetcher;
use vigie_notify::{AlertMention, Notice, SmtpConfig, WebhookTarget, retry_delay, send_email, send_webhook};
use vigie_store::{Delivery, DeliveryRecord, Store, StoreError};

use crate::PipelineError;
use crate::collect_run::Lease;

/// Attempts before a delivery is given up (about a day and a half of back-off).
pub const MAX_ATTEMPTS: i64 = 40;
/// Deliveries sent per call at most.
pub const BATCH: i64 = 100;
/// Mentions shown in a notification.
pub const MENTIONS_SHOWN: usize = 5;
/// After this long, the sending loop leaves the rest of a round's claimed
/// deliveries to its next round (still claimed: this process takes them
/// again), which sorts them with those due since: a critical alert opened
/// while slow receivers are being sent warnings goes next, not after them.
pub const ROUND: std::time::Duration = std::time::Duration::from_secs(1);

/// The record of an attempt that ended `by` after the round's clock read.
fn later_by(record: DeliveryRecord, by: Duration) -> DeliveryRecord {
    match record {
        DeliveryRecord::Sent { at } => DeliveryRecord::Sent { at: at + by },
        DeliveryRecord::Retry { at, error, next_attempt_at } => {
            DeliveryRecord::Retry { at: at + by, error, next_attempt_at: next_attempt_at + by }
        }
        DeliveryRecord::Failed { at, error } => DeliveryRecord::Failed { at: at + by, error },
    }
}

/// Channels sent to at once in a round.
pub const CHANNELS_AT_ONCE: usize = 8;

/// What the channels' queues of one round share.
#[derive(Clone, Copy)]
struct Round<'a> {
    store: &'a Arc<dyn Store>,
    projects: &'a HashMap<i64, String>,
    now: DateTime<Utc>,
    claimed: tokio::time::Instant,
    lease: &'a Lease,
    enough: &'a (dyn Fn(usize) -> bool + Sync),
}

/// What one round of sending did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retry: usize,
    pub failed: usize,
    /// Earlier events of an alert not sent because a later one was.
    pub superseded: usize,
}

/// Sends notifications over the fetcher (webhooks: SSRF guard, timeouts)
/// and SMTP.
#[derive(Clone)]
pub struct Notifier {
    pub fetcher: Fetcher,
    pub smtp: Option<SmtpConfig>,
    /// The web UI's address, for links in notifications.
    pub base_url: Option<String>,
    /// The zone notifications write their times in (the installation's).
    pub zone: vigie_model::zone::Tz,
}

impl Notifier {
    /// Claims the deliveries due at `now` that no other process holds, and
    /// sends them. Deliveries still unsent when half the lease has passed
    /// are left to expire and be claimed again: a delivery is never sent by
    /// a process whose claim may have run out.
    pub async fn deliver_due(
        &self,
        store: &Arc<dyn Store>,
        now: DateTime<Utc>,
        lease: &Lease,
    ) -> Result<DeliveryReport, PipelineError> {
        self.deliver_due_until(store, now, lease, |_| false).await
    }

    /// [`Self::deliver_due`], ending a channel's part of the round before
    /// its next delivery once `enough` (given how many it sent this round)
    /// says so, the rest left claimed: a process asked to stop
    /// finishes the deliveries in flight and records them (stopped mid-send, it
    /// would leave a notification the receiver got to be sent again) until
    /// it gives its leases back; the sending loop ends a round after
    /// [`ROUND`], so that what became due meanwhile is sorted in.
    pub async fn deliver_due_until(
        &self,
        store: &Arc<dyn Store>,
        now: DateTime<Utc>,
        lease: &Lease,
        enough: impl Fn(usize) -> bool + Sync,
    ) -> Result<DeliveryReport, PipelineError> {
        let mut report = DeliveryReport::default();
        let claimed = tokio::time::Instant::now();
        let mut due = store.claim_due_deliveries(now, BATCH, &lease.worker, lease.duration).await?;
        if due.is_empty() {
            return Ok(report);
        }
        // The most severe first (a slow receiver delays what comes after),
        // then in the order they became due.
        due.sort_by_key(|d| std::cmp::Reverse(d.alert.severity));
        let projects: HashMap<i64, String> = store.list_projects().await?.into_iter().map(|p| (p.id, p.name)).collect();
        // A notification describes its alert as it is when sent: of several
        // events of one alert waiting for one channel, the latest is sent
        // and the others are superseded, rather than the same text going
        // out several times.
        let mut latest: HashMap<(i64, i64), i64> = HashMap::new();
        for d in &due {
            let event = latest.entry((d.alert.id, d.channel.id)).or_insert(d.event);
            *event = (*event).max(d.event);
        }
        // One queue per channel, sent side by side: a slow or dead receiver
        // delays its own notifications, not the other channels'. Within a
        // channel, one at a time, the most severe first.
        let mut queues: Vec<Vec<Delivery>> = Vec::new();
        let mut queue_of: HashMap<i64, usize> = HashMap::new();
        for delivery in due {
            if latest.get(&(delivery.alert.id, delivery.channel.id)) != Some(&delivery.event) {
                continue;
            }
            let i = *queue_of.entry(delivery.channel.id).or_insert_with(|| {
                queues.push(Vec::new());
                queues.len() - 1
            });
            queues[i].push(delivery);
        }
        let round = Round { store, projects: &projects, now, claimed, lease, enough: &enough };
        let outcomes: Vec<Result<DeliveryReport, PipelineError>> = futures::stream::iter(queues)
            .map(|queue| self.send_queue(&round, queue))
            .buffer_unordered(CHANNELS_AT_ONCE)
            .collect()
            .await;
        for outcome in outcomes {
            let part = outcome?;
            report.sent += part.sent;
            report.retry += part.retry;
            report.failed += part.failed;
            report.superseded += part.superseded;
        }
        Ok(report)
    }

    /// One channel's deliveries of a round, in order.
    async fn send_queue(&self, round: &Round<'_>, queue: Vec<Delivery>) -> Result<DeliveryReport, PipelineError> {
        let Round { store, projects, now, claimed, lease, enough } = *round;
        let mut report = DeliveryReport::default();
        for (sent, delivery) in queue.into_iter().enumerate() {
            if enough(sent) {
                break;
            }
            if claimed.elapsed() > lease.duration / 2 {
                tracing::info!(delivery = delivery.id, "claim too old to send under; left for the next round");
                continue;
            }
            report.superseded += store
                .supersede_deliveries(delivery.alert.id, delivery.channel.id, delivery.event, &lease.worker, now)
                .await? as usize;
            let record = self.deliver(store.as_ref(), projects, &delivery, now).await?;
            // When the attempt ended, not when the round began: a retry
            // after a 30 s timeout waits its back-off from then.
            let record = later_by(record, Duration::from_std(claimed.elapsed()).unwrap_or_default());
            match &record {
                DeliveryRecord::Sent { .. } => report.sent += 1,
                DeliveryRecord::Retry { error, .. } => {
                    tracing::warn!(delivery = delivery.id, channel = %delivery.channel.target, %error, "notification will be retried");
                    report.retry += 1;
                }
                DeliveryRecord::Failed { error, .. } => {
                    tracing::error!(delivery = delivery.id, channel = %delivery.channel.target, %error, "notification given up");
                    report.failed += 1;
                }
            }
            match store.record_delivery(delivery.id, record).await {
                Ok(()) => {}
                // Our claim ran out and another process took the delivery
                // over (a send slower than half the lease): its outcome is
                // that process's to write; ours is only logged.
                Err(StoreError::NotFound(why)) => {
                    tracing::warn!(delivery = delivery.id, %why, "delivery taken over by another process while sending");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(report)
    }

    async fn deliver(
        &self,
        store: &dyn Store,
        projects: &HashMap<i64, String>,
        d: &Delivery,
        now: DateTime<Utc>,
    ) -> Result<DeliveryRecord, PipelineError> {
        let alert = &d.alert;
        let mut mentions = Vec::new();
        for id in alert.mention_ids.iter().take(MENTIONS_SHOWN) {
            if let Some(m) = store.mention(alert.project_id, *id).await? {
                let m = m.mention;
                mentions.push(AlertMention {
                    id: m.id,
                    url: m.url.clone(),
                    title: m.title.clone(),
                    text: m.text.clone(),
                    author: m.author.clone(),
                    published_at: m.published_at,
                    sentiment: m.analysis.polarity().map(|p| p.as_str().to_string()),
                    reach: m.analysis.reach.as_ref().map(|r| f64::from(r.score)),
                });
            }
        }
        let watch = match alert.watch_id {
            Some(id) => store.list_watches(alert.project_id).await?.into_iter().find(|w| w.id == id).map(|w| w.name),
            None => None,
        };
        let project = projects.get(&alert.project_id).map_or("?", String::as_str);
        let event_id = format!("vigie-{}-{}", alert.id, d.event);
        let notice = Notice {
            alert,
            project,
            watch: watch.as_deref(),
            mentions: &mentions,
            base_url: self.base_url.as_deref(),
            lang: d.channel.lang,
            zone: self.zone,
            event_id: &event_id,
        };
        let result = match d.channel.kind.as_str() {
            "webhook" => {
                let target = WebhookTarget { url: d.channel.target.clone(), secret: d.channel.secret.clone() };
                send_webhook(&self.fetcher, &target, &notice, now).await
            }
            "email" => match &self.smtp {
                Some(config) => {
                    let to: Vec<String> = d.channel.target.split(',').map(|s| s.trim().to_string()).collect();
                    send_email(config, &to, &notice).await
                }
                None => {
                    // Not the receiver's fault: kept until SMTP is configured.
                    return Ok(DeliveryRecord::Retry {
                        at: now,
                        error: "no SMTP server configured: set VIGIE_SMTP_URL and VIGIE_SMTP_FROM".into(),
                        next_attempt_at: now + Duration::hours(1),
                    });
                }
            },
            other => {
                return Ok(DeliveryRecord::Failed { at: now, error: format!("unknown channel kind {other:?}") });
            }
        };
        Ok(match result {
            Ok(()) => DeliveryRecord::Sent { at: now },
            Err(e) if e.is_transient() && d.attempts + 1 < MAX_ATTEMPTS => {
                let seed = (d.id as u64).wrapping_mul(0x9E37_79B9).wrapping_add(d.attempts as u64);
                let backoff = retry_delay(d.attempts as u32, seed);
                let wait = e.retry_after().map_or(backoff, |r| r.max(backoff));
                let wait = Duration::from_std(wait).unwrap_or(Duration::hours(1));
                DeliveryRecord::Retry { at: now, error: e.to_string(), next_attempt_at: now + wait }
            }
            Err(e) => DeliveryRecord::Failed { at: now, error: e.to_string() },
        })
    }
}

//! Alert notifications, one attempt at a time.
//!
//! # Design
//!
//! An [`Alert`] is told to people through two channels:
//!
//! - a **webhook** ([`send_webhook`]): a JSON POST whose `text` field is
//!   Slack/Mattermost mrkdwn (so an incoming webhook of either posts it as
//!   is), with the alert, its evidence and its top mentions as data beside
//!   it, signed with HMAC-SHA256 when the target has a secret (the scheme is
//!   in [`webhook`]); the POST goes through the collector's
//!   [`Fetcher`](vigie_collect::Fetcher), so a user-supplied URL meets the
//!   same SSRF guard, timeouts and politeness as a feed;
//! - an **e-mail** ([`send_email`]): plain text and HTML alternatives
//!   through an SMTP server (lettre), with a Message-ID derived from the
//!   event.
//!
//! Both say the same thing, built once by [`render`] in the channel's
//! [`Language`] (French or English, the alert's title too): which rule fired and
//! how urgent it is, observed against expected, the window, the terms and
//! the top mentions (bounded) that drove it, and links to them — in the web
//! UI when a base URL is configured, else the `vigie` commands that show
//! them. Mention text is untrusted: it is escaped for each format and only
//! `http(s)` URLs become links.
//!
//! # What this crate does not do
//!
//! It sends **one attempt** and says how it went: `Ok`, or a
//! [`DeliveryError`] that tells whether trying again may help
//! ([`DeliveryError::is_transient`]) and when ([`DeliveryError::retry_after`],
//! else [`retry_delay`]). Remembering what is due, retrying after a restart
//! and never sending an event twice belong to the durable outbox that calls
//! it.
//!
//! A network cannot make delivery exactly-once: a webhook that times out
//! after the receiver got the body, or an SMTP connection cut after the
//! final `.`, is reported transient and will be sent again. So every
//! notification carries its event's id — `event_id` in the JSON, the
//! `X-Vigie-Event` header, the e-mail's Message-ID — for the receiver to
//! drop a repeat.

mod email;
mod escalation;
mod render;
pub mod webhook;

use std::time::Duration;

use chrono::{DateTime, Utc};
use vigie_collect::FetchError;
use vigie_model::Alert;
pub use vigie_model::Language;

pub use email::{ReportEmail, SmtpConfig, SmtpSecurity, send_email, send_plain_email, send_report_email};
pub use escalation::{Escalation, escalation_email};
pub use render::{MAX_EXCERPT_CHARS, MAX_MENTIONS, Rendered, render};
pub use webhook::{WebhookTarget, send_webhook, sign, verify_signature};

/// One of the mentions that drove an alert, as the notification shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertMention {
    pub id: i64,
    pub url: Option<String>,
    pub title: Option<String>,
    /// Clean text; untrusted (escaped for each format, cut to [`MAX_EXCERPT_CHARS`]).
    pub text: String,
    pub author: Option<String>,
    pub published_at: DateTime<Utc>,
    /// `negative`, `neutral`, `positive`…
    pub sentiment: Option<String>,
    /// The 0–100 reach score.
    pub reach: Option<f64>,
}

/// Everything a notification says: the alert and what it needs around it.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    pub alert: &'a Alert,
    /// The project's name.
    pub project: &'a str,
    /// The watch's name, for an alert about one watch.
    pub watch: Option<&'a str>,
    /// The top mentions, most telling first (only the first [`MAX_MENTIONS`] are shown).
    pub mentions: &'a [AlertMention],
    /// Base URL of the web UI when configured (links to the alert and
    /// mentions), else `None`: the text then says `vigie alert show ID` /
    /// `vigie mention show ID`.
    pub base_url: Option<&'a str>,
    /// The language every word of the notification is in (the channel's),
    /// the alert's title included.
    pub lang: Language,
    /// The zone its times are written in (the installation's), named after
    /// each of them: `2026-03-01 11:00 CET`.
    pub zone: vigie_model::zone::Tz,
    /// A unique id of this notification event (alert id + event number),
    /// sent so receivers can de-duplicate. ASCII letters, digits, `_` and
    /// `-`; any other character is sent as `-`.
    pub event_id: &'a str,
}

/// Why a notification was not delivered. The message is for the person who
/// set the channel up (`webhook https://hooks.example.com/…: HTTP 410 Gone`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The webhook POST failed: refused or invalid URL, connection, timeout,
    /// or a non-2xx answer. URLs are shown without their path (webhook URLs
    /// carry secrets there).
    #[error("{message}")]
    Webhook {
        message: String,
        /// What the fetcher said.
        error: Box<FetchError>,
        /// The receiver's `Retry-After` (429, 503), counted from the attempt.
        retry_after: Option<Duration>,
    },
    /// The SMTP exchange failed: a 4xx/5xx reply, a connection, TLS or
    /// timeout error.
    #[error("e-mail through {server} failed: {reason}")]
    Smtp {
        /// `host:port`.
        server: String,
        reason: String,
        /// The SMTP reply code, when the server answered with one.
        code: Option<u16>,
        transient: bool,
    },
    /// The e-mail cannot be built: no recipient, an invalid address.
    #[error("e-mail not sent: {0}")]
    Email(String),
    /// The notification could not be encoded (a bug, not the receiver's fault).
    #[error("could not encode the notification: {0}")]
    Encode(String),
}

impl DeliveryError {
    /// Whether a later attempt may succeed. Transient: webhook 5xx, 408,
    /// 429, timeouts and connection errors; SMTP 4xx replies, timeouts and
    /// connection errors. Permanent: other webhook 4xx and 3xx, refused
    /// addresses, invalid URLs; SMTP 5xx replies, TLS failures, bad
    /// addresses.
    pub fn is_transient(&self) -> bool {
        match self {
            DeliveryError::Webhook { error, .. } => error.is_transient(),
            DeliveryError::Smtp { transient, .. } => *transient,
            DeliveryError::Email(_) | DeliveryError::Encode(_) => false,
        }
    }

    /// How long the receiver asked to wait (`Retry-After` of a 429 or 503),
    /// when it said; the caller waits at least that long (it may be more
    /// than [`retry_delay`]'s cap).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeliveryError::Webhook { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// First delay of the back-off.
const RETRY_BASE: Duration = Duration::from_secs(30);
/// Longest delay between two attempts.
const RETRY_CAP: Duration = Duration::from_secs(3600);

/// How long to wait after a failed attempt, `attempt` counting from 0 (the
/// number of attempts that failed before this one): 30 s, 1 min, 2 min,
/// 4 min … doubling up to 1 h, each shortened by up to a quarter at random
/// so that notifications that failed together do not all retry at the same
/// second. The same `seed` (an outbox row id) and attempt always give the
/// same delay ([`vigie_collect::jitter`]).
pub fn retry_delay(attempt: u32, seed: u64) -> Duration {
    let base = RETRY_BASE.saturating_mul(1u32 << attempt.min(16)).min(RETRY_CAP);
    let seed = seed ^ u64::from(attempt).rotate_left(32);
    base.saturating_sub(vigie_collect::jitter(seed, base / 4))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_from_30_s_to_1_h_with_a_bounded_jitter() {
        let bases = [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600];
        for (i, base) in bases.into_iter().enumerate() {
            let attempt = i as u32;
            for seed in 0..50 {
                let d = retry_delay(attempt, seed).as_secs_f64();
                assert!(d <= base as f64 && d >= base as f64 * 0.75, "attempt {attempt} seed {seed}: {d}");
            }
        }
        assert!(retry_delay(u32::MAX, 7) <= RETRY_CAP);
        // Deterministic per seed, spread across seeds.
        assert_eq!(retry_delay(3, 42), retry_delay(3, 42));
        let spread: std::collections::HashSet<_> = (0..20).map(|s| retry_delay(3, s)).collect();
        assert!(spread.len() > 15);
    }

    #[test]
    fn transient_and_permanent_errors() {
        let status = |status: u16| DeliveryError::Webhook {
            message: String::new(),
            error: Box::new(FetchError::Status {
                status,
                reason: None,
                retry_after: None,
                body: Vec::new(),
                content_type: None,
            }),
            retry_after: None,
        };
        assert!(status(500).is_transient());
        assert!(status(503).is_transient());
        assert!(status(429).is_transient());
        assert!(status(408).is_transient());
        assert!(!status(410).is_transient());
        assert!(!status(400).is_transient());
        assert!(!status(301).is_transient());
        assert!(!DeliveryError::Email("no recipient".into()).is_transient());
    }
}

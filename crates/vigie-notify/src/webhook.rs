//! Webhooks: the alert as JSON, POSTed through the collector's fetcher.
//!
//! # The request
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! X-Vigie-Event: 42-3
//! X-Vigie-Timestamp: 1772359200
//! X-Vigie-Signature: sha256=5d1f…  (only when the target has a secret)
//!
//! {"text": "…mrkdwn…", "lang": "fr", "event_id": "42-3", "project": "Acme", "watch": "SNCF retards",
//!  "alert": {"id": 42, "rule": "negative_surge", "severity": "critical", "status": "open",
//!            "title": "…", "watch_id": 3, "evidence": {…}, "opened_at": "…", "updated_at": "…",
//!            "events": 3, "url": "https://vigie.example.org/p/1/alerts/42" | null},
//!  "mentions": [{"id": 7, "url": …, "title": …, "text": "…excerpt…", "author": …,
//!                "published_at": "…", "sentiment": "negative", "reach": 72.4, "vigie_url": …}]}
//! ```
//!
//! `text` is Slack/Mattermost mrkdwn, so an incoming webhook of either posts
//! it as it is (they ignore the other fields). `text` and the alert's
//! `title` are in the channel's language, `lang` (`fr` or `en`); the other
//! fields are data, the same in both. Mention fields are untrusted
//! text from the web, cleaned and bounded (at most
//! [`MAX_MENTIONS`](crate::MAX_MENTIONS), excerpts of
//! [`MAX_EXCERPT_CHARS`](crate::MAX_EXCERPT_CHARS)); URLs that are not
//! http(s) are `null`.
//!
//! # Verifying the signature
//!
//! As Stripe and GitHub do: with the secret shared with Vigie,
//!
//! 1. take `X-Vigie-Timestamp` as it is sent (Unix seconds) and the **raw**
//!    body bytes (before any JSON parsing);
//! 2. compute `HMAC-SHA256(secret, timestamp + "." + body)` and write it in
//!    lower-case hex;
//! 3. compare it with the part of `X-Vigie-Signature` after `sha256=` in
//!    constant time;
//! 4. refuse a timestamp more than a few minutes from your clock (a replayed
//!    request), and drop an `X-Vigie-Event` already handled (a retry of a
//!    delivery whose answer was lost).
//!
//! In Python:
//!
//! ```text
//! expected = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
//! ok = hmac.compare_digest(expected, request.headers["X-Vigie-Signature"])
//! ```
//!
//! [`verify_signature`] does steps 1–3 in Rust.

use chrono::{DateTime, Utc};
use ring::hmac;
use serde::Serialize;
use vigie_collect::fetch::redacted_url;
use vigie_collect::{FetchError, Fetcher};
use vigie_model::{AlertEvidence, AlertRule, AlertStatus, Severity};

use crate::render::{self, View, clean};
use crate::{DeliveryError, Notice};

/// Where to POST, and the secret to sign with (none: unsigned).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// http(s) URL; refused if it reaches a private network, unless the
    /// fetcher allows private networks.
    pub url: String,
    /// Signs each request (`X-Vigie-Signature`); an empty secret is none.
    pub secret: Option<String>,
}

impl std::fmt::Debug for WebhookTarget {
    /// Neither the URL's path (often a token) nor the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &redacted_url(&self.url))
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .finish()
    }
}

/// The header that carries the event id.
pub const EVENT_HEADER: &str = "X-Vigie-Event";
/// The header that carries the Unix time the request was signed at.
pub const TIMESTAMP_HEADER: &str = "X-Vigie-Timestamp";
/// The header that carries `sha256=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "X-Vigie-Signature";

/// POSTs the notice to the target once. `now` is the signing time (sent in
/// `X-Vigie-Timestamp`) and the origin of a `Retry-After` date.
///
/// `Ok` on any 2xx. Otherwise a [`DeliveryError::Webhook`]: transient for
/// 5xx, 408, 429 (with the receiver's `Retry-After`), timeouts and
/// connection errors; permanent for other 4xx, redirects (not followed:
/// give the final URL), invalid URLs and addresses the SSRF guard refuses.
pub async fn send_webhook(
    fetcher: &Fetcher,
    target: &WebhookTarget,
    notice: &Notice<'_>,
    now: DateTime<Utc>,
) -> Result<(), DeliveryError> {
    let view = View::new(notice);
    let rendered = render::render(notice);
    let body = payload(notice, &view, &rendered.slack_text)?;
    let timestamp = now.timestamp().to_string();
    let mut headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        (EVENT_HEADER.to_string(), view.event_id.clone()),
        (TIMESTAMP_HEADER.to_string(), timestamp.clone()),
    ];
    if let Some(secret) = target.secret.as_deref().filter(|s| !s.is_empty()) {
        headers.push((SIGNATURE_HEADER.to_string(), sign(secret, &timestamp, &body)));
    }
    let shown = redacted_url(&target.url);
    match fetcher.post(&target.url, &headers, body).await {
        Ok(outcome) => {
            tracing::info!(url = shown, event = view.event_id, status = outcome.status, "webhook delivered");
            Ok(())
        }
        Err(error) => {
            let err = webhook_error(&target.url, error, now);
            tracing::warn!(url = shown, event = view.event_id, transient = err.is_transient(), "{err}");
            Err(err)
        }
    }
}

/// `sha256=<lower-case hex of HMAC-SHA256(secret, timestamp + "." + body)>`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, &signed_bytes(timestamp, body));
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag.as_ref() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// Whether `header` (`X-Vigie-Signature`) is the signature of `timestamp`
/// (`X-Vigie-Timestamp`, as sent) and the raw `body` under `secret`,
/// compared in constant time. Checking that the timestamp is recent is the
/// receiver's part (see the [module documentation](self)).
pub fn verify_signature(secret: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Some(tag) = decode_hex(hex) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::verify(&key, &signed_bytes(timestamp, body), &tag).is_ok()
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn signed_bytes(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(timestamp.len() + 1 + body.len());
    msg.extend_from_slice(timestamp.as_bytes());
    msg.push(b'.');
    msg.extend_from_slice(body);
    msg
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes().chunks(2).map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

#[derive(Serialize)]
struct Payload<'a> {
    text: &'a str,
    lang: &'static str,
    event_id: &'a str,
    project: &'a str,
    watch: Option<&'a str>,
    alert: AlertPayload<'a>,
    mentions: Vec<MentionPayload<'a>>,
}

#[derive(Serialize)]
struct AlertPayload<'a> {
    id: i64,
    rule: AlertRule,
    severity: Severity,
    status: AlertStatus,
    title: &'a str,
    watch_id: Option<i64>,
    evidence: AlertEvidence,
    opened_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    events: i64,
    /// The alert in the web UI, when a base URL is configured.
    url: Option<&'a str>,
}

#[derive(Serialize)]
struct MentionPayload<'a> {
    id: i64,
    url: Option<&'a str>,
    title: Option<&'a str>,
    text: &'a str,
    author: Option<&'a str>,
    published_at: DateTime<Utc>,
    sentiment: Option<&'a str>,
    reach: Option<f64>,
    vigie_url: Option<&'a str>,
}

fn payload(notice: &Notice<'_>, view: &View, text: &str) -> Result<Vec<u8>, DeliveryError> {
    let alert = notice.alert;
    let mut evidence = alert.evidence.clone();
    evidence.urls = evidence.urls.iter().filter_map(|u| render::http_url(u)).collect();
    evidence.terms = view.terms.clone();
    let payload = Payload {
        text,
        lang: view.lang.code(),
        event_id: &view.event_id,
        project: &view.project,
        watch: view.watch.as_deref(),
        alert: AlertPayload {
            id: alert.id,
            rule: alert.rule,
            severity: alert.severity,
            status: alert.status,
            title: &view.title,
            watch_id: alert.watch_id,
            evidence,
            opened_at: alert.opened_at,
            updated_at: alert.updated_at,
            events: alert.events,
            url: view.vigie.web(),
        },
        mentions: view
            .mentions
            .iter()
            .map(|m| MentionPayload {
                id: m.id,
                url: m.url.as_deref(),
                title: m.title.as_deref(),
                text: &m.excerpt,
                author: m.author.as_deref(),
                published_at: m.published_at,
                sentiment: m.sentiment.as_deref(),
                reach: m.reach,
                vigie_url: m.vigie.web(),
            })
            .collect(),
    };
    serde_json::to_vec(&payload).map_err(|e| DeliveryError::Encode(e.to_string()))
}

/// The error as the person who set the webhook up reads it, the URL shown
/// without its path.
fn webhook_error(url: &str, error: FetchError, now: DateTime<Utc>) -> DeliveryError {
    let shown = redacted_url(url);
    let message = match &error {
        FetchError::Status { status: 300..=399, .. } => {
            format!("webhook {shown}: {error}: redirects are not followed, give the URL it redirects to")
        }
        FetchError::Status { body, .. } => {
            // Receivers say why in the body ("invalid_token", "no_service").
            let said = clean(&String::from_utf8_lossy(body), 200);
            if said.is_empty() {
                format!("webhook {shown}: {error}")
            } else {
                format!("webhook {shown}: {error}: {said}")
            }
        }
        FetchError::Timeout { after, .. } => {
            format!("webhook {shown}: no answer within {} s", after.as_secs_f32())
        }
        FetchError::Connect { reason, .. } => format!("webhook {shown}: could not connect: {reason}"),
        _ => format!("webhook {shown}: {error}"),
    };
    // Whatever the fetcher put in its message, never the full URL.
    let full = url.trim();
    let message = if full.is_empty() { message } else { message.replace(full, &shown) };
    let retry_after = error.retry_after().map(|r| r.delay_from(now));
    DeliveryError::Webhook { message, error: Box::new(error), retry_after }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_with_the_right_secret_only() {
        let body = br#"{"text":"hi"}"#;
        let sig = sign("s3cret", "1772359200", body);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert!(verify_signature("s3cret", "1772359200", body, &sig));
        assert!(verify_signature("s3cret", "1772359200", body, &sig.to_uppercase().replace("SHA256=", "sha256=")));
        assert!(!verify_signature("other", "1772359200", body, &sig));
        assert!(!verify_signature("s3cret", "1772359201", body, &sig));
        assert!(!verify_signature("s3cret", "1772359200", br#"{"text":"hi!"}"#, &sig));
        assert!(!verify_signature("s3cret", "1772359200", body, sig.trim_start_matches("sha256=")));
        assert!(!verify_signature("s3cret", "1772359200", body, "sha256=zz"));
        assert!(!verify_signature("s3cret", "1772359200", body, ""));
    }

    #[test]
    fn signature_matches_python_hmac() {
        // hmac.new(b"Jefe", b'1772359200.{"a":1}', hashlib.sha256).hexdigest()
        let sig = sign("Jefe", "1772359200", br#"{"a":1}"#);
        assert_eq!(sig, "sha256=e3063432268ca337cd8231b703b387083359934b8428cd69a221cfb956535738");
    }

    #[test]
    fn target_debug_hides_the_secret_and_the_path() {
        let t = WebhookTarget { url: "https://hooks.example.com/T0/B0/token".into(), secret: Some("s3cret".into()) };
        let shown = format!("{t:?}");
        assert!(!shown.contains("token") && !shown.contains("s3cret"), "{shown}");
    }
}

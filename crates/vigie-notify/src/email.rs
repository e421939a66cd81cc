//! E-mail through an SMTP server (lettre): plain text and HTML alternatives.
//!
//! One message per attempt, to all recipients at once, with:
//!
//! - `Message-ID: <vigie.EVENT@DOMAIN>` — the event id and the sender's
//!   domain, so a message sent again after a lost answer has the same id and
//!   mail systems (and people) can spot the repeat;
//! - `X-Vigie-Event: EVENT` and `Auto-Submitted: auto-generated` (RFC 3834:
//!   no vacation auto-replies to it);
//! - a subject built by [`render`](crate::render) on one line: text from the
//!   web cannot add a header.
//!
//! The SMTP server is the operator's, not a user's, so it is not behind the
//! SSRF guard (a relay on 127.0.0.1 is common).

use std::fmt;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::render::{self, clean, safe_event_id};
use crate::{DeliveryError, Notice};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpSecurity {
    /// Plain text (a relay on the same machine or network only).
    None,
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    StartTls,
    /// TLS from the first byte ("SMTPS", port 465).
    Tls,
}

impl SmtpSecurity {
    /// The usual port: 25, 587 or 465.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::None => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        }
    }
}

/// The SMTP server and the sender.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Log in when set (with `password`, empty if `None`).
    pub username: Option<String>,
    pub password: Option<String>,
    /// `alerts@example.org` or `Vigie <alerts@example.org>`.
    pub from: String,
    /// Allowed for each step of the exchange (connecting, each command);
    /// the whole exchange gets twice that.
    pub timeout: Duration,
}

impl fmt::Debug for SmtpConfig {
    /// Without the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

const EVENT_HEADER: HeaderName = HeaderName::new_from_ascii_str("X-Vigie-Event");
const AUTO_SUBMITTED: HeaderName = HeaderName::new_from_ascii_str("Auto-Submitted");

/// Sends the notice to `to` once, as one multipart/alternative message
/// (plain text, then HTML).
///
/// `Ok` once the server accepted the message. Otherwise a
/// [`DeliveryError::Smtp`]: transient for 4xx replies ("451 try later"),
/// timeouts and connection errors; permanent for 5xx replies ("550 no such
/// user"), TLS failures and refused logins; or [`DeliveryError::Email`]
/// (permanent) for no recipient or an invalid address.
pub async fn send_email(config: &SmtpConfig, to: &[String], notice: &Notice<'_>) -> Result<(), DeliveryError> {
    let message = build_message(config, to, notice)?;
    let event = safe_event_id(notice.event_id);
    match deliver(config, message).await {
        Ok(()) => {
            tracing::info!(server = %server_of(config), event, recipients = to.len(), "e-mail accepted");
            Ok(())
        }
        Err(err) => {
            tracing::warn!(server = %server_of(config), event, transient = err.is_transient(), "{err}");
            Err(err)
        }
    }
}

fn server_of(config: &SmtpConfig) -> String {
    format!("{}:{}", config.host, config.port)
}

/// Hands one message to the server: `Ok` once accepted, within twice the
/// configured timeout in all.
async fn deliver(config: &SmtpConfig, message: Message) -> Result<(), DeliveryError> {
    let server = server_of(config);
    let transport = transport(config).map_err(|e| smtp_error(&server, &e, config.timeout))?;
    let whole = config.timeout.saturating_mul(2).max(Duration::from_secs(1));
    match tokio::time::timeout(whole, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(smtp_error(&server, &e, config.timeout)),
        Err(_) => Err(DeliveryError::Smtp {
            server,
            reason: format!("no answer within {} s", whole.as_secs_f32()),
            code: None,
            transient: true,
        }),
    }
}

/// A message's sender, recipients, subject (one cleaned line) and headers:
/// the message id and `X-Vigie-Event` from `key` (made safe), marked
/// auto-generated. Errors for no recipient or an invalid address.
fn message_builder(
    config: &SmtpConfig,
    to: &[String],
    subject: String,
    key: &str,
) -> Result<lettre::message::MessageBuilder, DeliveryError> {
    if to.is_empty() {
        return Err(DeliveryError::Email("no recipient".to_string()));
    }
    let from: Mailbox = config
        .from
        .trim()
        .parse()
        .map_err(|e| DeliveryError::Email(format!("invalid sender address {:?}: {e}", clean(&config.from, 100))))?;
    let key = safe_event_id(key);
    let domain = message_id_domain(from.email.domain());
    let mut builder = Message::builder()
        .from(from)
        .subject(subject)
        .message_id(Some(format!("<vigie.{key}@{domain}>")))
        .raw_header(HeaderValue::new(EVENT_HEADER, key))
        .raw_header(HeaderValue::new(AUTO_SUBMITTED, "auto-generated".to_string()));
    for addr in to {
        let mailbox: Mailbox = addr
            .trim()
            .parse()
            .map_err(|e| DeliveryError::Email(format!("invalid recipient address {:?}: {e}", clean(addr, 100))))?;
        builder = builder.to(mailbox);
    }
    Ok(builder)
}

fn transport(config: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
        .port(config.port)
        .timeout(Some(config.timeout));
    builder = match config.security {
        SmtpSecurity::None => builder.tls(Tls::None),
        SmtpSecurity::StartTls => builder.tls(Tls::Required(TlsParameters::new(config.host.clone())?)),
        SmtpSecurity::Tls => builder.tls(Tls::Wrapper(TlsParameters::new(config.host.clone())?)),
    };
    if let Some(user) = &config.username {
        builder = builder.credentials(Credentials::new(user.clone(), config.password.clone().unwrap_or_default()));
    }
    Ok(builder.build())
}

/// The message: headers from trusted configuration or cleaned text, the
/// two renderings as alternatives.
pub(crate) fn build_message(config: &SmtpConfig, to: &[String], notice: &Notice<'_>) -> Result<Message, DeliveryError> {
    let rendered = render::render(notice);
    message_builder(config, to, rendered.subject, notice.event_id)?
        .multipart(MultiPart::alternative_plain_html(rendered.text, rendered.html))
        .map_err(|e| DeliveryError::Email(e.to_string()))
}

/// A scheduled report as an e-mail: text and HTML alternatives, and the
/// full report attached as a file.
#[derive(Debug, Clone)]
pub struct ReportEmail<'a> {
    /// One line; cleaned before use (no header injection).
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    /// ASCII file name of the attachment (`vigie-report-3-20261116-20261122.html`).
    pub attachment_name: &'a str,
    /// The attached HTML document.
    pub attachment_html: &'a str,
    /// Unique per schedule and period (`report-7-1763942400`): the
    /// message id, so a repeat is recognisable.
    pub key: &'a str,
}

/// Sends a report e-mail once to `to`. Errors as [`send_email`]'s.
pub async fn send_report_email(
    config: &SmtpConfig,
    to: &[String],
    report: &ReportEmail<'_>,
) -> Result<(), DeliveryError> {
    deliver(config, build_report_message(config, to, report)?).await?;
    tracing::info!(server = %server_of(config), report = report.key, recipients = to.len(), "report e-mail accepted");
    Ok(())
}

/// Sends a one-off message (an escalation to a manager) once to `to`:
/// plain text and HTML alternatives; `key` (ASCII, unique per event) makes
/// its message id. Errors as [`send_email`]'s.
pub async fn send_plain_email(
    config: &SmtpConfig,
    to: &[String],
    subject: &str,
    text: &str,
    html: &str,
    key: &str,
) -> Result<(), DeliveryError> {
    let message = message_builder(config, to, clean(subject, 250), key)?
        .multipart(MultiPart::alternative_plain_html(text.to_string(), html.to_string()))
        .map_err(|e| DeliveryError::Email(e.to_string()))?;
    deliver(config, message).await
}

pub(crate) fn build_report_message(
    config: &SmtpConfig,
    to: &[String],
    report: &ReportEmail<'_>,
) -> Result<Message, DeliveryError> {
    use lettre::message::header::ContentType;
    use lettre::message::{Attachment, SinglePart};
    let builder = message_builder(config, to, clean(report.subject, 200), report.key)?;
    let html_type = ContentType::parse("text/html; charset=utf-8").map_err(|e| DeliveryError::Email(e.to_string()))?;
    let name: String =
        report.attachment_name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
    let attachment: SinglePart = Attachment::new(name).body(report.attachment_html.to_string(), html_type);
    builder
        .multipart(
            MultiPart::mixed()
                .multipart(MultiPart::alternative_plain_html(report.text.to_string(), report.html.to_string()))
                .singlepart(attachment),
        )
        .map_err(|e| DeliveryError::Email(e.to_string()))
}

/// The sender's domain if it is a plain host name, else `vigie.invalid`.
fn message_id_domain(domain: &str) -> String {
    let ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if ok { domain.to_ascii_lowercase() } else { "vigie.invalid".to_string() }
}

fn smtp_error(server: &str, e: &lettre::transport::smtp::Error, timeout: Duration) -> DeliveryError {
    let code = e.status().map(u16::from);
    // Replies first (4xx transient, 5xx permanent), then what went wrong
    // without one: TLS and client set-up errors will fail again; the
    // network may not.
    let transient = e.is_transient() || !(e.is_permanent() || e.is_tls() || e.is_client());
    let reason = if e.is_timeout() {
        format!("no answer within {} s", timeout.as_secs_f32())
    } else {
        clean(&e.to_string(), 400)
    };
    DeliveryError::Smtp { server: server.to_string(), reason, code, transient }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::{TimeZone, Utc};
    use vigie_model::{Alert, AlertEvidence, AlertRule, AlertStatus, Severity};

    use super::*;

    fn config() -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: 2525,
            security: SmtpSecurity::None,
            username: None,
            password: Some("hunter2".into()),
            from: "Vigie <alerts@vigie.example.org>".into(),
            timeout: Duration::from_secs(5),
        }
    }

    fn alert(title: &str) -> Alert {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        Alert {
            id: 42,
            project_id: 1,
            watch_id: None,
            rule: AlertRule::TriggerTerm,
            severity: Severity::Warning,
            status: AlertStatus::Open,
            dedup_key: "k".into(),
            title: title.into(),
            evidence: AlertEvidence {
                observed: 1.0,
                expected: 1.0,
                terms: vec!["boycott".into()],
                ..Default::default()
            },
            mention_ids: vec![],
            events: 1,
            opened_at: t,
            updated_at: t,
            acknowledged_at: None,
            resolved_at: None,
            acknowledged_by: None,
            resolved_by: None,
        }
    }

    #[test]
    fn headers_cannot_be_injected_and_the_message_id_follows_the_event() {
        let a = alert("Boycott!\r\nBcc: everyone@example.com\r\n\r\n<html>");
        let notice = Notice {
            alert: &a,
            project: "Acme\nX-Evil: 1",
            watch: None,
            mentions: &[],
            base_url: None,
            lang: crate::Language::Fr,
            zone: vigie_model::zone::Tz::UTC,
            event_id: "42-1\r\nX: y",
        };
        let msg = build_message(&config(), &["ops@example.org".into()], &notice).unwrap();
        let raw = String::from_utf8(msg.formatted()).unwrap();
        let head = &raw[..raw.find("\r\n\r\n").unwrap()];
        assert!(head.contains("Message-ID: <vigie.42-1--X--y@vigie.example.org>"), "{head}");
        assert!(head.contains("X-Vigie-Event: 42-1--X--y"), "{head}");
        assert!(head.contains("Auto-Submitted: auto-generated"), "{head}");
        for line in head.lines() {
            let name = line.split(':').next().unwrap();
            assert!(!name.eq_ignore_ascii_case("bcc") && !name.eq_ignore_ascii_case("x-evil"), "{line}");
            assert!(!line.starts_with("X: "), "{line}");
        }
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
    }

    #[test]
    fn bad_addresses_are_permanent_errors() {
        let a = alert("t");
        let notice = Notice {
            alert: &a,
            project: "p",
            watch: None,
            mentions: &[],
            base_url: None,
            lang: crate::Language::En,
            zone: vigie_model::zone::Tz::UTC,
            event_id: "1-1",
        };
        let err = build_message(&config(), &[], &notice).unwrap_err();
        assert!(!err.is_transient() && err.to_string().contains("no recipient"), "{err}");
        let err = build_message(&config(), &["not an address".into()], &notice).unwrap_err();
        assert!(!err.is_transient() && err.to_string().contains("invalid recipient"), "{err}");
        let bad_from = SmtpConfig { from: "nobody".into(), ..config() };
        let err = build_message(&bad_from, &["a@example.org".into()], &notice).unwrap_err();
        assert!(err.to_string().contains("invalid sender"), "{err}");
    }

    #[test]
    fn debug_hides_the_password() {
        assert!(!format!("{:?}", config()).contains("hunter2"));
    }
}

//! E-mail against a real SMTP server on 127.0.0.1: Python's aiosmtpd (from
//! PyPI, installed by `.ci/run` into `$VIGIE_TEST_PYTHON`'s environment),
//! started by each test (`vigie_testkit::smtp`) with a handler that
//! accepts, rejects a recipient (550) or defers the data (451). Without a
//! Python that has aiosmtpd, the tests that need it say SKIPPED loudly and
//! pass (outside CI); the ones that need no server (nothing listening, a
//! silent server) always run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::Value;
use vigie_notify::{DeliveryError, Language, SmtpConfig, SmtpSecurity, send_email};
use vigie_testkit::smtp::{Mode, SmtpServer};

use common::{HOSTILE, alert, mentions, notice};

/// The shared test server's address as the notifier's settings.
fn config(server: &SmtpServer) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port: server.port(),
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "Vigie <alerts@vigie.example.org>".into(),
        timeout: Duration::from_secs(10),
    }
}

fn header<'a>(msg: &'a Value, name: &str) -> Vec<&'a str> {
    msg["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|h| h[1].as_str().unwrap())
        .collect()
}

fn part<'a>(msg: &'a Value, content_type: &str) -> &'a str {
    let parts = msg["parts"].as_array().unwrap();
    let found = parts.iter().find(|p| p["type"] == content_type);
    found.unwrap_or_else(|| panic!("no {content_type} part in {msg}"))["content"].as_str().unwrap()
}

fn to() -> Vec<String> {
    vec!["ops@example.org".into(), "Jeanne Dupont <jeanne@example.org>".into()]
}

#[tokio::test]
async fn delivers_plain_text_and_html_alternatives() {
    let Some(server) = SmtpServer::start() else { return };
    let mut a = alert();
    // A title built from web text must not add a header.
    a.title = "Boycott!\r\nBcc: everyone@example.com\r\nX-Injected: yes\r\n\r\nbody".into();
    let ms = mentions();
    send_email(&config(&server), &to(), &notice(&a, &ms)).await.unwrap();

    let received = server.received();
    assert_eq!(received.len(), 1);
    let msg = &received[0];
    assert_eq!(msg["mail_from"], "alerts@vigie.example.org");
    assert_eq!(msg["rcpt_tos"], serde_json::json!(["ops@example.org", "jeanne@example.org"]));
    assert_eq!(msg["content_type"], "multipart/alternative");

    assert_eq!(header(msg, "Message-ID"), ["<vigie.42-3@vigie.example.org>"]);
    assert_eq!(header(msg, "X-Vigie-Event"), ["42-3"]);
    assert_eq!(header(msg, "Auto-Submitted"), ["auto-generated"]);
    let subject = header(msg, "Subject");
    assert_eq!(subject.len(), 1);
    assert!(subject[0].starts_with("[Vigie critical] Acme / SNCF retards: Boycott! Bcc: everyone@example.com"));
    assert!(header(msg, "Bcc").is_empty() && header(msg, "X-Injected").is_empty(), "{msg}");

    let text = part(msg, "text/plain");
    assert!(text.contains("Observed: 57 negative mentions"), "{text}");
    assert!(text.contains("Expected: about 8.2"), "{text}");
    assert!(text.contains("2026-03-01 10:00 → 11:00 UTC"), "{text}");
    assert!(text.contains("https://vigie.example.org/p/1/alerts/42"), "{text}");
    let html = part(msg, "text/html");
    assert!(html.contains("<a href=\"https://vigie.example.org/p/1/alerts/42\""), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"), "{html}");
    assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("javascript:"), "{html}");
    assert!(text.contains(HOSTILE), "the plain text part shows the text as it is: {text}");
}

/// The English title the pipeline stores for the sample alert.
const STORED_TITLE: &str = "Surge of negative mentions about SNCF retards: 57 in 1 h, 8.2 expected";

#[tokio::test]
async fn a_french_channel_gets_french_mail_and_an_english_one_english() {
    let Some(server) = SmtpServer::start() else { return };
    let mut a = alert();
    a.title = STORED_TITLE.into();
    let ms = mentions();
    let french = vigie_notify::Notice { lang: Language::Fr, ..notice(&a, &ms) };
    send_email(&config(&server), &to(), &french).await.unwrap();
    send_email(&config(&server), &to(), &notice(&a, &ms)).await.unwrap();
    let received = server.received();
    assert_eq!(received.len(), 2);

    let (fr, en) = (&received[0], &received[1]);
    assert_eq!(
        header(fr, "Subject"),
        ["[Vigie critique] Acme / SNCF retards : Hausse des mentions négatives pour la veille SNCF retards : \
          57 en 1 h, 8,2 attendues"]
    );
    let text = part(fr, "text/plain");
    for words in [
        "Alerte Vigie #42 — CRITIQUE — Hausse des mentions négatives",
        "Observé\u{a0}: 57 mentions négatives",
        "Attendu\u{a0}: environ 8,2 (7,0× l’attendu)",
        "Fenêtre\u{a0}: 2026-03-01 10:00 → 11:00 UTC (1 h)",
        "Statut\u{a0}:  ouverte · 3 événement(s)",
        "négatif · portée 72 · par @jd",
        "Voir l’alerte\u{a0}: https://vigie.example.org/p/1/alerts/42",
    ] {
        assert!(text.contains(words), "{words:?} not in {text}");
    }
    assert!(!text.contains("Observed") && !text.contains("Expected"), "{text}");
    let html = part(fr, "text/html");
    assert!(html.contains("<html lang=\"fr\">") && html.contains("Ouvrir l’alerte #42 dans Vigie"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"), "{html}");
    assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("javascript:"), "{html}");
    assert_eq!(header(fr, "Message-ID"), header(en, "Message-ID"), "the same event whatever the language");

    assert_eq!(header(en, "Subject"), [format!("[Vigie critical] Acme / SNCF retards: {STORED_TITLE}")]);
    let text = part(en, "text/plain");
    assert!(text.contains("Observed: 57 negative mentions") && text.contains("Expected: about 8.2"), "{text}");
    assert!(!text.contains("Observé"), "{text}");
}

#[tokio::test]
async fn a_rejected_recipient_is_permanent() {
    let Some(server) = SmtpServer::start_with(Mode::RejectRecipients) else { return };
    let (a, ms) = (alert(), mentions());
    let err = send_email(&config(&server), &to(), &notice(&a, &ms)).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(matches!(err, DeliveryError::Smtp { code: Some(550), .. }), "{err:?}");
    assert!(err.to_string().contains("Recipient address rejected"), "{err}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_deferred_message_is_transient() {
    let Some(server) = SmtpServer::start_with(Mode::DeferData) else { return };
    let (a, ms) = (alert(), mentions());
    let err = send_email(&config(&server), &to(), &notice(&a, &ms)).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(matches!(err, DeliveryError::Smtp { code: Some(451), .. }), "{err:?}");
    assert!(err.to_string().contains("try later"), "{err}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_resend_of_the_same_event_has_the_same_message_id() {
    let Some(server) = SmtpServer::start() else { return };
    let (a, ms) = (alert(), mentions());
    let n = notice(&a, &ms);
    send_email(&config(&server), &to(), &n).await.unwrap();
    send_email(&config(&server), &to(), &n).await.unwrap();
    let next = vigie_notify::Notice { event_id: "42-4", ..n };
    send_email(&config(&server), &to(), &next).await.unwrap();
    let ids: Vec<String> = server.received().iter().map(|m| header(m, "Message-ID")[0].to_string()).collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], ids[1], "a receiver can drop the repeat");
    assert_ne!(ids[1], ids[2]);
}

#[tokio::test]
async fn nothing_listening_is_transient() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "alerts@vigie.example.org".into(),
        timeout: Duration::from_secs(5),
    };
    let (a, ms) = (alert(), mentions());
    let err = send_email(&config, &to(), &notice(&a, &ms)).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(matches!(err, DeliveryError::Smtp { code: None, .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[tokio::test]
async fn a_silent_server_times_out_as_transient() {
    // Accepts the connection and never says hello.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(4));
        let _ = stream.write_all(b"");
    });
    let config = SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "alerts@vigie.example.org".into(),
        timeout: Duration::from_secs(1),
    };
    let (a, ms) = (alert(), mentions());
    let started = Instant::now();
    let err = send_email(&config, &to(), &notice(&a, &ms)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("no answer within"), "{err}");
    holder.join().unwrap();
}

#[tokio::test]
async fn starttls_required_but_not_offered_is_an_error() {
    let Some(server) = SmtpServer::start() else { return };
    let config = SmtpConfig { security: SmtpSecurity::StartTls, ..config(&server) };
    let (a, ms) = (alert(), mentions());
    let err = send_email(&config, &to(), &notice(&a, &ms)).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(server.received().is_empty(), "nothing sent in clear text: {err}");
}

//! E-mail against a real SMTP server on 127.0.0.1: Python's aiosmtpd (from
//! PyPI, installed by `.ci/run` into `$VIGIE_TEST_PYTHON`'s environment),
//! started by each test with a handler that accepts, rejects a recipient
//! (550) or defers the data (451). Without a Python that has aiosmtpd, the
//! tests that need it say SKIPPED loudly and pass; the ones that need no
//! server (nothing listening, a silent server) always run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigie_notify::{DeliveryError, Language, SmtpConfig, SmtpSecurity, send_email};

use common::{HOSTILE, alert, mentions, notice};

/// The SMTP server: aiosmtpd's Controller with a handler whose behaviour is
/// chosen by the first argument; each accepted message is written, parsed
/// by Python's own e-mail parser, as JSON in the folder given second.
const SERVER: &str = r#"
import email, email.policy, json, os, socket, sys, time
from aiosmtpd.controller import Controller

mode, out = sys.argv[1], sys.argv[2]

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if mode == "reject-rcpt":
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if mode == "defer-data":
            return "451 4.3.0 try later"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = [{"type": p.get_content_type(), "content": p.get_content()}
                 for p in msg.walk() if not p.is_multipart()]
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": [[k, str(v)] for k, v in msg.items()],
            "content_type": msg.get_content_type(),
            "parts": parts,
        }
        n = len(os.listdir(out))
        with open(os.path.join(out, "msg-%d.json.tmp" % n), "w") as f:
            json.dump(record, f)
        os.rename(os.path.join(out, "msg-%d.json.tmp" % n), os.path.join(out, "msg-%d.json" % n))
        return "250 Message accepted for delivery"

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
sock.close()
controller = Controller(Handler(), hostname="127.0.0.1", port=port)
controller.start()
print("READY %d" % port, flush=True)
sys.stdin.read()  # until the test drops its end
controller.stop()
"#;

/// A Python with aiosmtpd: `$VIGIE_TEST_PYTHON`, else `python3`.
fn python() -> Option<PathBuf> {
    let candidates =
        std::env::var_os("VIGIE_TEST_PYTHON").map(PathBuf::from).into_iter().chain([PathBuf::from("python3")]);
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(python);
        }
    }
    None
}

struct SmtpServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts the server, or says SKIPPED and returns `None` without aiosmtpd.
    fn start(mode: &str) -> Option<SmtpServer> {
        let Some(python) = python() else {
            // Straight to stderr: libtest captures `eprintln!` of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: aiosmtpd not installed (run .ci/run or pip install aiosmtpd); \
                 set VIGIE_TEST_PYTHON to a Python that has it ***\n"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("smtp_server.py");
        std::fs::write(&script, SERVER).unwrap();
        let out = dir.path().join("received");
        std::fs::create_dir(&out).unwrap();
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(mode)
            .arg(&out)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP server did not start: {line:?}"));
        Some(SmtpServer { child, port, dir })
    }

    fn config(&self) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            security: SmtpSecurity::None,
            username: None,
            password: None,
            from: "Vigie <alerts@vigie.example.org>".into(),
            timeout: Duration::from_secs(10),
        }
    }

    fn received(&self) -> Vec<Value> {
        let out = self.dir.path().join("received");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files.iter().map(|p| read_json(p)).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // Closing stdin lets the script stop its controller; kill it if it does not.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
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
    let Some(server) = SmtpServer::start("accept") else { return };
    let mut a = alert();
    // A title built from web text must not add a header.
    a.title = "Boycott!\r\nBcc: everyone@example.com\r\nX-Injected: yes\r\n\r\nbody".into();
    let ms = mentions();
    send_email(&server.config(), &to(), &notice(&a, &ms)).await.unwrap();

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
    let Some(server) = SmtpServer::start("accept") else { return };
    let mut a = alert();
    a.title = STORED_TITLE.into();
    let ms = mentions();
    let french = vigie_notify::Notice { lang: Language::Fr, ..notice(&a, &ms) };
    send_email(&server.config(), &to(), &french).await.unwrap();
    send_email(&server.config(), &to(), &notice(&a, &ms)).await.unwrap();
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
    let Some(server) = SmtpServer::start("reject-rcpt") else { return };
    let (a, ms) = (alert(), mentions());
    let err = send_email(&server.config(), &to(), &notice(&a, &ms)).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(matches!(err, DeliveryError::Smtp { code: Some(550), .. }), "{err:?}");
    assert!(err.to_string().contains("Recipient address rejected"), "{err}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_deferred_message_is_transient() {
    let Some(server) = SmtpServer::start("defer-data") else { return };
    let (a, ms) = (alert(), mentions());
    let err = send_email(&server.config(), &to(), &notice(&a, &ms)).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(matches!(err, DeliveryError::Smtp { code: Some(451), .. }), "{err:?}");
    assert!(err.to_string().contains("try later"), "{err}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_resend_of_the_same_event_has_the_same_message_id() {
    let Some(server) = SmtpServer::start("accept") else { return };
    let (a, ms) = (alert(), mentions());
    let n = notice(&a, &ms);
    send_email(&server.config(), &to(), &n).await.unwrap();
    send_email(&server.config(), &to(), &n).await.unwrap();
    let next = vigie_notify::Notice { event_id: "42-4", ..n };
    send_email(&server.config(), &to(), &next).await.unwrap();
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
    let Some(server) = SmtpServer::start("accept") else { return };
    let config = SmtpConfig { security: SmtpSecurity::StartTls, ..server.config() };
    let (a, ms) = (alert(), mentions());
    let err = send_email(&config, &to(), &notice(&a, &ms)).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(server.received().is_empty(), "nothing sent in clear text: {err}");
}

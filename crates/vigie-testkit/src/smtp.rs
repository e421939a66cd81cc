//! A real SMTP server on 127.0.0.1 for the tests of e-mails: Python's
//! aiosmtpd (from PyPI, installed by `.ci/run` into `$VIGIE_TEST_PYTHON`'s
//! environment). Each accepted message is parsed by Python's own e-mail
//! parser and kept as JSON: `mail_from`, `rcpt_tos`, `headers` (pairs),
//! `subject`, `message_id`, `content_type` and `parts` (`type`, `content`,
//! `filename`, `disposition`).
//!
//! Without a Python that has aiosmtpd, [`SmtpServer::start`] says SKIPPED
//! loudly and returns `None` — or fails when `CI` is set (CI installs it).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What the server does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accepts everything.
    Accept,
    /// Refuses every recipient (550).
    RejectRecipients,
    /// Defers the data (451).
    DeferData,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::Accept => "accept",
            Mode::RejectRecipients => "reject-rcpt",
            Mode::DeferData => "defer-data",
        }
    }
}

const SERVER: &str = r#"
import email, email.policy, json, os, socket, sys
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
        parts = [{"type": p.get_content_type(), "content": p.get_content(), "filename": p.get_filename(),
                  "disposition": p.get_content_disposition()}
                 for p in msg.walk() if not p.is_multipart()]
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": [[k, str(v)] for k, v in msg.items()],
            "subject": str(msg["subject"]),
            "message_id": str(msg["message-id"]),
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
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// The running server; stopped when dropped.
pub struct SmtpServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    /// A server accepting everything (see [`SmtpServer::start_with`]).
    pub fn start() -> Option<SmtpServer> {
        SmtpServer::start_with(Mode::Accept)
    }

    /// Starts the server, or says SKIPPED and returns `None` without
    /// aiosmtpd (a failure when `CI` is set).
    pub fn start_with(mode: Mode) -> Option<SmtpServer> {
        let Some(python) = python() else {
            assert!(std::env::var_os("CI").is_none(), "CI needs a Python with aiosmtpd (VIGIE_TEST_PYTHON)");
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
            .arg(mode.arg())
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

    /// Its port on 127.0.0.1 (plain SMTP, no login).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The accepted messages, oldest first.
    pub fn received(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("received"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
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

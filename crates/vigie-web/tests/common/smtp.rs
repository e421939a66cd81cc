//! A real SMTP server on 127.0.0.1 (aiosmtpd from PyPI) for the tests of
//! e-mails: reports and escalations.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use vigie_notify::{SmtpConfig, SmtpSecurity};

/// aiosmtpd accepting everything, each message written as JSON (parsed by
/// Python's e-mail package) into the folder given.
const SERVER: &str = r#"
import email, email.policy, json, os, socket, sys
from aiosmtpd.controller import Controller

out = sys.argv[1]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = []
        for p in msg.walk():
            if p.is_multipart():
                continue
            parts.append({"type": p.get_content_type(), "filename": p.get_filename(),
                          "disposition": p.get_content_disposition(), "content": p.get_content()})
        record = {"rcpt_tos": envelope.rcpt_tos, "subject": str(msg["subject"]),
                  "message_id": str(msg["message-id"]), "parts": parts}
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
sys.stdin.read()
controller.stop()
"#;

pub struct SmtpServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Needs a Python with aiosmtpd (`VIGIE_TEST_PYTHON`, else `python3`);
    /// without one the test says SKIPPED, and fails when `CI` is set.
    pub fn start() -> Option<SmtpServer> {
        let python = std::env::var_os("VIGIE_TEST_PYTHON").map(PathBuf::from).unwrap_or_else(|| "python3".into());
        let has = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has {
            assert!(std::env::var_os("CI").is_none(), "CI needs a Python with aiosmtpd (VIGIE_TEST_PYTHON)");
            eprintln!("\n*** SKIPPED: aiosmtpd not installed; set VIGIE_TEST_PYTHON ***\n");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("smtp.py");
        std::fs::write(&script, SERVER).unwrap();
        let out = dir.path().join("received");
        std::fs::create_dir(&out).unwrap();
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(&out)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()).expect("the SMTP server started");
        Some(SmtpServer { child, port, dir })
    }

    pub fn config(&self) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            security: SmtpSecurity::None,
            username: None,
            password: None,
            from: "Vigie <reports@vigie.example.org>".into(),
            timeout: Duration::from_secs(10),
        }
    }

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
        drop(self.child.stdin.take());
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

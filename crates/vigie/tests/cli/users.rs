//! `vigie user …` and the first start of `vigie serve`: the people who log in.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;

use serde_json::Value;

use crate::support::Vigie;

/// One HTTP/1.1 request over a plain socket: (status, body).
fn request(address: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn password_in(line: &str) -> String {
    line.trim().rsplit(' ').next().unwrap().to_string()
}

#[test]
fn people_are_added_given_roles_reset_and_disabled() {
    let vigie = Vigie::new();
    // A role is given in a project that exists: a typo is an error, not a new project.
    let typo = vigie.run(&["--project", "acme", "user", "add", "marie", "--role", "agent"]).code(2);
    assert!(typo.stderr.contains("no project named \"acme\""), "{}", typo.stderr);
    vigie.run(&["--project", "acme", "watch", "add", "Acme", "--query", "acme"]).success();
    let added = vigie
        .run(&["--project", "acme", "user", "add", "marie", "--name", "Marie Dupont", "--role", "agent"])
        .success();
    assert!(added.stdout.contains("one-time password: "), "{}", added.stdout);
    assert!(added.stdout.contains("agent of project \"acme\""), "{}", added.stdout);
    let dup = vigie.run(&["user", "add", "MARIE"]).code(2);
    assert!(dup.stderr.contains("marie") || dup.stderr.contains("MARIE"), "{}", dup.stderr);
    let bad = vigie.run(&["user", "add", "bad name!"]).code(2);
    assert!(bad.stderr.contains("letters, digits"), "{}", bad.stderr);
    let bad = vigie.run(&["--project", "acme", "user", "role", "marie", "boss"]).code(2);
    assert!(bad.stderr.contains("unknown role"), "{}", bad.stderr);
    vigie.run(&["--project", "acme", "user", "role", "marie", "manager"]).success();
    let typo = vigie.run(&["--project", "acmee", "user", "role", "marie", "admin"]).code(2);
    // Installation commands (`user add` without a role) made no `default` project.
    assert!(typo.stderr.contains("no project named \"acmee\" (projects: acme);"), "{}", typo.stderr);
    for command in [&["token", "create", "t"][..], &["notify", "email", "a@example.fr"]] {
        let typo = vigie.run(&[&["--project", "acmee"][..], command].concat()).code(2);
        assert!(typo.stderr.contains("no project named \"acmee\""), "{command:?}: {}", typo.stderr);
    }
    vigie.run(&["user", "disable", "marie"]).success();
    let list = vigie.run(&["user", "list", "--format", "json"]).success().json();
    let marie = &list.as_array().unwrap()[0];
    assert_eq!(marie["username"], "marie");
    assert_eq!(marie["name"], "Marie Dupont");
    assert_eq!(marie["status"], "disabled");
    vigie.run(&["user", "enable", "marie"]).success();
    let reset = vigie.run(&["user", "reset-password", "marie"]).success();
    assert!(reset.stdout.contains("new one-time password"), "{}", reset.stdout);
    let missing = vigie.run(&["user", "disable", "nobody"]).code(2);
    assert!(missing.stderr.contains("no user named"), "{}", missing.stderr);
}

#[test]
fn the_first_start_creates_an_admin_with_a_one_time_password() {
    let vigie = Vigie::new();
    let (lines, mut child, _out) = serve_lines(&vigie, 3);
    let address = lines[0]
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .map(|a| a.trim_end_matches('/').to_string())
        .unwrap_or_else(|| panic!("no address in {lines:?}"));
    assert!(lines[2].contains("log in as `admin`"), "{lines:?}");
    let password = password_in(&lines[2]);
    let (status, body) =
        request(&address, "POST", "/api/v1/session", &format!(r#"{{"username":"admin","password":"{password}"}}"#));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["must_change_password"], true);
    assert_eq!(body["user"]["is_admin"], true);
    let (status, _) = request(&address, "POST", "/api/v1/session", r#"{"username":"admin","password":"wrong one!"}"#);
    assert_eq!(status, 401);
    child.kill().unwrap();
    child.wait().unwrap();

    // The second start creates nobody.
    let (lines, mut child, _out) = serve_lines(&vigie, 2);
    assert!(lines[1].contains("openapi.json"), "{lines:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    let list = vigie.run(&["user", "list", "--format", "json"]).success().json();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

/// Starts `vigie serve` on a free port: its first `n` lines of output, the
/// running server (to kill) and its output (kept open: a server whose
/// output is closed stops at its next line).
fn serve_lines(vigie: &Vigie, n: usize) -> (Vec<String>, std::process::Child, impl BufRead) {
    let mut cmd = vigie.command(&["serve", "--bind", "127.0.0.1:0"]);
    cmd.stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..n {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        lines.push(line);
    }
    (lines, child, out)
}

#[test]
fn people_added_before_the_first_start_still_get_an_administrator() {
    let vigie = Vigie::new();
    vigie.run(&["user", "add", "marie"]).success();
    let (lines, mut child, _out) = serve_lines(&vigie, 3);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(lines[2].starts_with("No administrator yet: log in as `admin`"), "{lines:?}");
    assert!(lines[1].contains("times shown in UTC (VIGIE_TIMEZONE)"), "{lines:?}");
    let list = vigie.run(&["user", "list", "--format", "json"]).success().json();
    let admins: Vec<&Value> = list.as_array().unwrap().iter().filter(|u| u["admin"] == true).collect();
    assert_eq!(admins.len(), 1, "{list}");
    assert_eq!(admins[0]["username"], "admin");
}

#[test]
fn a_time_zone_that_does_not_exist_is_refused_with_its_name_and_examples() {
    let vigie = Vigie::new();
    let mut cmd = vigie.command(&["serve", "--bind", "127.0.0.1:0"]);
    cmd.env("VIGIE_TIMEZONE", "Europe/Pari");
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("VIGIE_TIMEZONE: unknown time zone \"Europe/Pari\"") && stderr.contains("Europe/Paris"),
        "{stderr}"
    );
    // Refused before anything was made.
    assert!(!vigie.data_dir().exists(), "no installation was created");
    // A name in any case is one.
    let mut cmd = vigie.command(&["serve", "--bind", "127.0.0.1:0"]);
    cmd.env("VIGIE_TIMEZONE", "europe/paris").stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        lines.push(line);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(lines[1].contains("times shown in Europe/Paris (VIGIE_TIMEZONE)"), "{lines:?}");
    // Without VIGIE_TIMEZONE, the machine's TZ, also as a path into the zone database.
    for tz in ["/usr/share/zoneinfo/America/Montreal", ":America/Montreal"] {
        let mut cmd = vigie.command(&["serve", "--bind", "127.0.0.1:0"]);
        cmd.env_remove("VIGIE_TIMEZONE").env("TZ", tz).stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        for _ in 0..2 {
            line.clear();
            out.read_line(&mut line).unwrap();
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(line.contains("times shown in America/Montreal (TZ)"), "{tz}: {line}");
    }
}

#[test]
fn a_command_on_a_directory_without_vigie_says_it_makes_a_new_installation() {
    let vigie = Vigie::new();
    let first = vigie.command(&["user", "add", "paul", "--admin"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    let note = stderr.lines().find(|l| l.starts_with(crate::support::NEW_INSTALLATION_NOTE));
    let note = note.unwrap_or_else(|| panic!("{stderr}"));
    assert!(note.contains("vigie.db did not exist") && note.contains("--data-dir"), "{note}");
    let second = vigie.command(&["user", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&second.stderr).contains("new installation"));
}

#[test]
fn a_client_holding_a_request_open_does_not_keep_the_server_from_stopping() {
    let vigie = Vigie::new();
    let (lines, child, _out) = serve_lines(&vigie, 1);
    let address = lines[0].trim().trim_start_matches("Vigie is at http://").trim_end_matches('/').to_string();
    // A request whose headers never end (a slow or hostile client).
    let mut stalled = TcpStream::connect(&address).unwrap();
    write!(stalled, "GET /api/v1/health HTTP/1.1\r\nHost: {address}\r\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let asked = std::time::Instant::now();
    crate::support::terminate(&child);
    let mut child = child;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if asked.elapsed() > std::time::Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("the server did not stop within 30 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    drop(stalled);
}

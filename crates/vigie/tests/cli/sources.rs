//! The collectors beyond feeds, through the binary: social APIs (recorded
//! payloads served on 127.0.0.1 via `VIGIE_API_BASE_URL`), HTML pages by
//! selectors, search-result watches, and the push API of `vigie serve`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::support::server::{Request, Response, TestServer};
use crate::support::{Vigie, feed_testdata};

fn social(name: &str) -> Vec<u8> {
    std::fs::read(feed_testdata(&format!("social/{name}"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn json(body: Vec<u8>) -> Response {
    Response::ok(body).header("Content-Type", "application/json; charset=utf-8")
}

fn param(req: &Request, name: &str) -> Option<String> {
    let query = req.path.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn sources(vigie: &Vigie) -> Vec<Value> {
    vigie.run(&["source", "list", "--format", "json"]).success().json().as_array().unwrap().clone()
}

fn ids(vigie: &Vigie) -> Vec<String> {
    let mut ids: Vec<String> =
        vigie.export().iter().map(|m| m["url"].as_str().unwrap_or_default().to_string()).collect();
    ids.sort();
    ids
}

#[test]
fn every_kind_is_defined_with_its_own_parameters_and_bad_definitions_say_why() {
    let vigie = Vigie::new();
    let ok = [
        vec!["source", "add", "mastodon", "https://mastodon.social", "--hashtag", "#AcmeEnergie"],
        vec!["source", "add", "bluesky", "--query", "acme energie"],
        vec!["source", "add", "reddit", "--query", "acme", "--subreddit", "r/france"],
        vec!["source", "add", "hackernews", "--query", "acme"],
        vec!["source", "add", "youtube", "--channel", "UC_x5XG1OV2P6uZZ5FSM9Ttw"],
        vec!["source", "add", "html", "https://avis.example.fr/acme", "--item", "article.review", "--kind", "review"],
        vec!["source", "add", "search", "https://searx.example.org", "--term", "Acme Énergie", "--language", "fr"],
    ];
    for args in ok {
        let run = vigie.run(&args).success();
        assert!(run.stdout.contains("added"), "{}", run.stdout);
    }
    let list = sources(&vigie);
    let types: Vec<&str> = list.iter().map(|s| s["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["mastodon", "bluesky", "reddit", "hackernews", "youtube", "html", "search"]);
    assert_eq!(list[0]["url"], "https://mastodon.social/tags/AcmeEnergie");
    assert_eq!(list[2]["url"], "https://www.reddit.com/r/france/search/?q=acme&restrict_sr=1");
    assert!(list.iter().all(|s| s["status"] == "new"));

    let bad: [(&[&str], &str); 6] = [
        (&["source", "add", "bluesky"], "--query is required"),
        (&["source", "add", "bluesky", "--query", "x", "--hashtag", "y"], "does not take --hashtag"),
        (&["source", "add", "mastodon", "https://m.example", "--hashtag", "a", "--query", "b"], "exactly one of"),
        (&["source", "add", "html", "https://a.example/", "--item", "div["], "div["),
        (&["source", "add", "html", "https://a.example/", "--item", "li", "--kind", "myspace"], "--kind \"myspace\""),
        (&["source", "add", "search", "https://s.example/", "--term", "x", "--top", "0"], "--top 0"),
    ];
    for (args, message) in bad {
        let run = vigie.run(args).code(2);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
    assert_eq!(sources(&vigie).len(), 7, "nothing added by the refused definitions");
}

/// Serves Reddit's recorded search: run 1's page first, then run 2's two
/// pages by the `after` token.
fn reddit_server() -> TestServer {
    let served_run1 = Arc::new(Mutex::new(false));
    TestServer::start(move |req| {
        let mut first = served_run1.lock().unwrap();
        if !*first {
            *first = true;
            return json(social("reddit/run1.json"));
        }
        match param(req, "after").as_deref() {
            Some("t3_1j3b004") => json(social("reddit/run2_page2.json")),
            Some(other) => Response::new(400).body(format!("unexpected token {other}")),
            None => json(social("reddit/run2_page1.json")),
        }
    })
}

#[test]
fn a_social_source_resumes_from_its_saved_cursor_after_a_restart() {
    let server = reddit_server();
    let vigie = Vigie::new();
    let base = server.url("/");
    let with_api = |cmd: &mut std::process::Command| {
        cmd.env("VIGIE_API_BASE_URL", &base);
    };
    vigie.run(&["source", "add", "reddit", "--query", "acme energie"]).success();

    // Each `vigie collect` is a new process: the cursor comes from the database.
    let first = vigie.run_with(&["collect", "--source", "1"], with_api).success();
    assert!(first.stdout.contains("3 new mention(s) stored"), "{}", first.stdout);
    let second = vigie.run_with(&["collect", "--source", "1"], with_api).success();
    assert!(second.stdout.contains("5 item(s) read, 5 new mention(s) stored"), "{}", second.stdout);

    // Nothing fetched twice: run 2's walk stopped at run 1's newest post.
    assert_eq!(server.requests().len(), 3);
    assert_eq!(ids(&vigie).len(), 8);
    let list = sources(&vigie);
    assert_eq!(list[0]["status"], "ok");
    assert_eq!(list[0]["last_items"], 5);
    assert_eq!(list[0]["stored"], 8);
    assert_eq!(list[0]["stored_24h"], 8);
    assert!(list[0]["median_lag"].is_string(), "{:?}", list[0]);
}

#[test]
fn youtube_needs_its_key_and_a_spent_quota_is_shown_as_such() {
    let server = TestServer::start(|_| {
        Response::new(403)
            .header("Content-Type", "application/json; charset=UTF-8")
            .body(social("youtube/error_quota_exceeded.json"))
    });
    let vigie = Vigie::new();
    vigie.run(&["source", "add", "youtube", "--channel", "UC_x5XG1OV2P6uZZ5FSM9Ttw"]).success();
    let base = server.url("/");

    let no_key = vigie.run_with(&["collect", "--source", "1"], |c| {
        c.env("VIGIE_API_BASE_URL", &base).env_remove("VIGIE_YOUTUBE_API_KEY");
    });
    assert!(no_key.stdout.contains("1 failed"), "{}", no_key.stdout);
    let list = sources(&vigie);
    assert!(list[0]["last_error"].as_str().unwrap().contains("VIGIE_YOUTUBE_API_KEY"), "{:?}", list[0]);
    assert_eq!(server.requests().len(), 0, "no request without a key");

    let secret = "AIzaSy-not-a-real-key";
    vigie.run_with(&["collect", "--source", "1"], |c| {
        c.env("VIGIE_API_BASE_URL", &base).env("VIGIE_YOUTUBE_API_KEY", secret);
    });
    let list = sources(&vigie);
    assert_eq!(list[0]["status"], "quota-limited", "{:?}", list[0]);
    let error = list[0]["last_error"].as_str().unwrap();
    assert!(error.contains("quota"), "{error}");
    assert!(!error.contains(secret), "the key must not appear in messages: {error}");
    assert_eq!(list[0]["failures"], 2);
}

/// Starts `vigie serve` on a free port and returns it with its address.
fn serve(vigie: &Vigie) -> (std::process::Child, String) {
    let mut cmd = vigie.command(&["serve", "--bind", "127.0.0.1:0"]);
    cmd.stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    // Keep reading what the server prints (a closed pipe would stop it).
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let address = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .and_then(|a| a.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, address)
}

/// One HTTP/1.1 POST over a plain socket: (status, body).
fn post(address: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    request(address, "POST", path, token, body)
}

/// One HTTP/1.1 request over a plain socket: (status, body).
fn request(address: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n{auth}\
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

#[test]
fn exports_from_closed_platforms_are_pushed_with_a_project_token() {
    let vigie = Vigie::new();
    let created = vigie.run(&["token", "create", "facebook-export"]).success();
    let token = created.stdout.lines().next().unwrap().to_string();
    assert!(token.starts_with("vigie_") && token.len() == 70, "{token}");
    assert!(created.stdout.contains("for project \"default\" (id 1)"), "{}", created.stdout);
    let dup = vigie.run(&["token", "create", "facebook-export"]).code(2);
    assert!(dup.stderr.contains("already has a token"), "{}", dup.stderr);
    let bad = vigie.run(&["token", "create", "reader", "--role", "boss"]).code(2);
    assert!(bad.stderr.contains("unknown role"), "{}", bad.stderr);

    let (mut server, address) = serve(&vigie);
    let export = r#"[
        {"url": "https://www.facebook.com/acme/posts/1", "text": "Service client injoignable depuis 3 semaines",
         "published_at": "2026-11-20T10:00:00Z", "source": "facebook", "likes": 40},
        {"id": "x-1", "text": "@acme still waiting for my refund", "published_at": "2026-11-20T11:00:00Z",
         "source": "x"},
        {"text": "no link, no id", "published_at": "2026-11-20T11:00:00Z", "source": "instagram"}
    ]"#;
    let (status, body) = post(&address, "/api/v1/ingest", None, export);
    assert_eq!(status, 401, "{body}");
    let (status, body) = post(&address, "/api/v1/ingest", Some(&token), export);
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["received"].as_u64(), body["stored"].as_u64()), (Some(3), Some(2)), "{body}");
    assert_eq!(body["refused"][0]["index"], 2);
    assert!(body["refused"][0]["error"].as_str().unwrap().contains("url"), "{body}");

    // The token finds out its project (the {pid} of the other routes).
    let (status, me) = request(&address, "GET", "/api/v1/me", Some(&token), "");
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["token"]["name"], "facebook-export");
    assert_eq!(me["projects"], serde_json::json!([{"id": 1, "name": "default", "role": "agent"}]));

    // While the server runs, the CLI reads what was pushed.
    assert_eq!(vigie.export().len(), 2);
    let tokens = vigie.run(&["token", "list", "--format", "json"]).success().json();
    assert!(tokens[0]["last_used"].is_string(), "{tokens}");
    assert_eq!(tokens[0]["role"], "agent", "{tokens}");
    vigie.run(&["token", "revoke", "facebook-export"]).success();
    let (status, _) = post(&address, "/api/v1/ingest", Some(&token), export);
    assert_eq!(status, 401);
    // Both are in the audit log, as the web app's token changes are.
    let audit: Vec<(String, String)> = vigie.with_db(async |pool| {
        sqlx::query_as("SELECT action, detail FROM audit_log WHERE action LIKE 'token.%' ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap()
    });
    let actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["token.add", "token.remove"], "{audit:?}");
    assert!(audit[0].1.contains("facebook-export") && audit[0].1.contains("command line"), "{audit:?}");
    server.kill().unwrap();
    server.wait().unwrap();
}

fn collect_testdata(path: &str) -> Vec<u8> {
    std::fs::read(feed_testdata(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A review site: its page, and a robots.txt that keeps Vigie out of `/private/`.
fn review_server() -> TestServer {
    let page = collect_testdata("html/review_site_fr.html");
    TestServer::start(move |req| match req.path.as_str() {
        "/robots.txt" => Response::ok("User-agent: *\nDisallow: /private/\n").header("Content-Type", "text/plain"),
        "/avis/brasserie-dupont-lyon" | "/private/avis" if req.header("If-None-Match") == Some("\"page-v1\"") => {
            Response::new(304).header("ETag", "\"page-v1\"")
        }
        "/avis/brasserie-dupont-lyon" | "/private/avis" => {
            Response::ok(page.clone()).header("Content-Type", "text/html; charset=utf-8").header("ETag", "\"page-v1\"")
        }
        _ => Response::new(404),
    })
}

#[test]
fn a_review_page_is_read_by_selectors_tested_before_collecting_and_robots_txt_is_honoured() {
    let server = review_server();
    let vigie = Vigie::new();
    let page = server.url("/avis/brasserie-dupont-lyon");
    let selectors = [
        "--item",
        "article.review-card",
        "--title",
        "h2.review-title",
        "--text",
        "p.review-text",
        "--author",
        "span.consumer-name",
        "--date",
        "time.review-date",
        "--link",
        "a.review-link",
        "--kind",
        "review",
    ];
    let mut args = vec!["source", "add", "html", page.as_str()];
    args.extend(selectors);
    vigie.run(&args).success();

    // `source test` shows the extracted items and stores nothing.
    let test = vigie.run(&["source", "test", "1", "--format", "json"]).success();
    // stdout is the JSON alone (for jq); the summary goes to stderr.
    let items = test.json();
    assert!(items.as_array().unwrap().len() >= 3, "{items:#}");
    assert!(items.as_array().unwrap().iter().all(|i| i["author"].is_string() && i["text"].is_string()), "{items:#}");
    assert!(test.stderr.contains("(nothing stored)"), "{}", test.stderr);
    assert_eq!(vigie.export().len(), 0);

    let run = vigie.run(&["collect", "--source", "1"]).success();
    assert!(run.stdout.contains("1 fetched"), "{}", run.stdout);
    let stored = vigie.export();
    assert!(stored.len() >= 3, "{stored:#?}");
    assert!(stored.iter().all(|m| m["source"] == "review"), "{stored:#?}");
    // `source test` showed them as they are stored (entities decoded, links canonical).
    let shown: std::collections::BTreeSet<(String, String)> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["title"].as_str().unwrap_or("").to_string(), i["text"].as_str().unwrap().to_string()))
        .collect();
    let kept: std::collections::BTreeSet<(String, String)> = stored
        .iter()
        .map(|m| (m["title"].as_str().unwrap_or("").to_string(), m["text"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(shown, kept);
    assert!(stored.iter().any(|m| m["author"].is_string() && m["sentiment"].is_string()), "{stored:#?}");
    // The page's validators are kept: the next run is a 304.
    let again = vigie.run(&["collect", "--source", "1"]).success();
    assert!(again.stdout.contains("1 not modified"), "{}", again.stdout);
    assert_eq!(server.requests_to("/robots.txt").len(), 3, "robots.txt read once per process (test, collect, collect)");

    // A page robots.txt disallows is never requested; the source says why.
    let mut args = vec!["source", "add", "html"];
    let private = server.url("/private/avis");
    args.push(&private);
    args.extend(selectors);
    vigie.run(&args).success();
    vigie.run(&["collect", "--source", "2"]).code(1);
    let list = sources(&vigie);
    let error = list[1]["last_error"].as_str().unwrap();
    assert!(error.contains("robots.txt") && error.contains("/private/avis"), "{error}");
    assert!(server.requests_to("/private/avis").is_empty());
}

/// A SearXNG instance: run 1's answer, then run 2's.
fn searx_server() -> TestServer {
    let runs = Arc::new(Mutex::new(0));
    TestServer::start(move |req| {
        if !req.path.starts_with("/search?") || param(req, "format").as_deref() != Some("json") {
            return Response::new(400);
        }
        let mut n = runs.lock().unwrap();
        *n += 1;
        let file = if *n == 1 { "search/brasserie_dupont_run1.json" } else { "search/brasserie_dupont_run2.json" };
        json(collect_testdata(file))
    })
}

#[test]
fn a_search_watch_keeps_each_ranking_and_shows_the_page_that_entered_the_top() {
    let server = searx_server();
    let vigie = Vigie::new();
    vigie.run(&["source", "add", "search", &server.url("/"), "--term", "Brasserie Dupont"]).success();
    vigie.run(&["collect", "--source", "1"]).success();
    let first = vigie.run(&["source", "ranks", "1"]).success();
    assert!(first.stdout.contains("https://www.brasserie-dupont.fr/"), "{}", first.stdout);
    assert!(!first.stdout.contains("entered"), "nothing enters on the first run: {}", first.stdout);

    vigie.run(&["collect", "--source", "1"]).success();
    let ranks = vigie.run(&["source", "ranks", "1", "--format", "json"]).success();
    let table = ranks.json();
    let changes = &ranks.stderr;
    let blog = "https://blog.mangeons-lyon.example/2026/03/13/intoxication-brasserie-dupont";
    let row = table.as_array().unwrap().iter().find(|r| r["url"] == blog).unwrap_or_else(|| panic!("{table:#}"));
    assert_eq!((row["rank"].as_u64(), row["change"].as_str()), (Some(2), Some("entered")));
    assert!(row["sentiment"].is_string(), "the entering page is a stored, analysed mention: {row}");
    assert!(changes.contains(&format!("entered the top at rank 2: {blog}")), "{changes}");
    assert!(changes.contains("left the top (was rank 9)"), "{changes}");
    let list = sources(&vigie);
    assert!(list[0]["warning"].as_str().unwrap().contains("brave"), "{:?}", list[0]);

    let not_search = vigie.run(&["source", "add", "bluesky", "--query", "dupont"]).success();
    assert!(not_search.stdout.contains("source 2"));
    let refused = vigie.run(&["source", "ranks", "2"]).code(2);
    assert!(refused.stderr.contains("search sources"), "{}", refused.stderr);
}

#[test]
fn a_degraded_search_answer_is_not_the_ranking_the_next_run_compares_with() {
    // run 1, then an answer cut short by engines that did not answer, then an
    // empty one, then run 1 again, then run 2 (a page enters at rank 2).
    let run1: Value = serde_json::from_slice(&collect_testdata("search/brasserie_dupont_run1.json")).unwrap();
    let mut partial = run1.clone();
    partial["results"].as_array_mut().unwrap().truncate(3);
    partial["unresponsive_engines"] = serde_json::json!([["google", "timeout"], ["bing", "CAPTCHA"]]);
    let mut empty = run1.clone();
    empty["results"] = serde_json::json!([]);
    empty["unresponsive_engines"] = serde_json::json!([["google", "timeout"]]);
    let answers: Vec<Vec<u8>> = vec![
        serde_json::to_vec(&run1).unwrap(),
        serde_json::to_vec(&partial).unwrap(),
        serde_json::to_vec(&empty).unwrap(),
        serde_json::to_vec(&run1).unwrap(),
        collect_testdata("search/brasserie_dupont_run2.json"),
    ];
    let answers = Arc::new(Mutex::new(answers.into_iter()));
    let server = TestServer::start(move |_| json(answers.lock().unwrap().next().unwrap_or_default()));
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Dupont", "--query", "dupont"]).success();
    vigie.run(&["source", "add", "search", &server.url("/"), "--term", "Brasserie Dupont"]).success();
    let entries = |vigie: &Vigie| -> usize {
        let list = vigie.run(&["alert", "list", "--format", "json"]).success().json();
        list.as_array().unwrap().iter().filter(|a| a["rule"] == "search_rank_entry").count()
    };
    for run in 1..=4 {
        vigie.run(&["collect", "--source", "1"]).success();
        assert_eq!(entries(&vigie), 0, "run {run}: nothing entered");
        let warning = sources(&vigie)[0]["warning"].as_str().unwrap_or_default().to_string();
        match run {
            2 => assert!(warning.contains("only 3 result(s) while engines did not answer"), "{warning}"),
            3 => assert!(warning.contains("no results"), "{warning}"),
            _ => assert!(!warning.contains("not compared"), "{warning}"),
        }
    }
    // Compared with run 1 (the last complete ranking): the blog post entered.
    vigie.run(&["collect", "--source", "1"]).success();
    assert_eq!(entries(&vigie), 1);
    let ranks = vigie.run(&["source", "ranks", "1"]).success().stdout;
    assert!(ranks.contains("entered the top at rank 2"), "{ranks}");
}

#[test]
fn ranks_say_why_no_ranking_was_kept() {
    let run1: Value = serde_json::from_slice(&collect_testdata("search/brasserie_dupont_run1.json")).unwrap();
    let mut partial = run1;
    partial["results"].as_array_mut().unwrap().truncate(3);
    partial["unresponsive_engines"] = serde_json::json!([["google", "CAPTCHA"]]);
    let body = serde_json::to_vec(&partial).unwrap();
    let server = TestServer::start(move |_| json(body.clone()));
    let vigie = Vigie::new();
    vigie.run(&["source", "add", "search", &server.url("/"), "--term", "Brasserie Dupont"]).success();
    let before = vigie.run(&["source", "ranks", "1"]).success();
    assert!(before.stdout.starts_with("no run yet"), "{}", before.stdout);
    vigie.run(&["collect", "--source", "1"]).success();
    let table = vigie.run(&["source", "ranks", "1"]).success();
    assert!(
        table.stdout.starts_with("no ranking kept yet: ") && table.stdout.contains("only 3 result(s) while engines"),
        "{}",
        table.stdout
    );
    let json = vigie.run(&["source", "ranks", "1", "--format", "json"]).success();
    assert_eq!(json.json(), serde_json::json!([]));
    assert!(json.stderr.contains("no ranking kept yet"), "{}", json.stderr);
}

//! Crash safety: an import killed with SIGKILL loses nothing that a rerun
//! does not restore, and stores nothing twice.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Vigie, column_set};

const LINES: u32 = 60_000;

/// 60,000 forum posts; every 20th repeats the URL of an earlier one.
fn big_import() -> (String, usize) {
    let templates = [
        "Encore un train SNCF en retard ce matin, {n} minutes à quai sans information.",
        "Air France a perdu ma valise au retour de Montréal, dossier n°{n} toujours ouvert.",
        "Mon conseiller BNP Paribas a réglé le problème de carte en {n} minutes, bravo.",
        "Third delay this week on the Eurostar, ticket {n}, and the SNCF app shows nothing.",
    ];
    let mut out = String::with_capacity(LINES as usize * 220);
    let mut urls = HashSet::new();
    for i in 0..LINES {
        let n = if i % 20 == 19 { i - 10 } else { i };
        let url = format!("https://forum.voyageurs.example/t/{n}");
        urls.insert(url.clone());
        let line = json!({
            "id": n.to_string(),
            "url": url,
            "text": templates[(n % 4) as usize].replace("{n}", &n.to_string()),
            "author": format!("membre_{}", n % 997),
            "published_at": format!("2026-03-{:02}T{:02}:{:02}:00Z", 1 + n % 28, n % 24, n % 60),
            "source": "forum",
            // Given, as exports from other tools usually do: language
            // detection would make this test ten times slower in debug builds.
            "lang": if n % 4 == 3 { "en" } else { "fr" },
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    (out, urls.len())
}

/// Bytes of the database and its write-ahead log: grows when a batch commits.
fn db_bytes(vigie: &Vigie) -> u64 {
    ["vigie.db", "vigie.db-wal"]
        .iter()
        .map(|f| std::fs::metadata(vigie.data_dir().join(f)).map_or(0, |m| m.len()))
        .sum()
}

/// Mentions a reader sees: those of committed batches.
fn committed_mentions(vigie: &Vigie) -> i64 {
    let db = vigie.db_path();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&db).read_only(true);
        let Ok(pool) = sqlx::sqlite::SqlitePool::connect_with(options).await else {
            return 0;
        };
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mentions").fetch_one(&pool).await.unwrap_or(0);
        pool.close().await;
        n
    })
}

fn integrity_check(vigie: &Vigie) -> String {
    let db = vigie.db_path();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&db).read_only(true);
        let pool = sqlx::sqlite::SqlitePool::connect_with(options).await.unwrap();
        let result: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&pool).await.unwrap();
        pool.close().await;
        result
    })
}

/// Parses `imported N new mention(s) from R record(s): D already stored, X rejected`.
fn summary(stdout: &str) -> (u64, u64, u64, u64) {
    let numbers: Vec<u64> =
        stdout.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    assert_eq!(numbers.len(), 4, "unexpected summary: {stdout}");
    (numbers[0], numbers[1], numbers[2], numbers[3])
}

#[test]
fn an_import_killed_mid_way_resumes_without_duplicates_or_losses() {
    let vigie = Vigie::new();
    let (data, distinct) = big_import();
    assert_eq!(distinct, 57_000);
    let file = vigie.write("big.jsonl", &data);
    let file = file.to_str().unwrap();
    // Creates the database, so that its growth afterwards is the import's.
    vigie.run(&["watch", "add", "SNCF", "--query", "sncf OR eurostar"]).success();
    let baseline = db_bytes(&vigie);

    let mut child = vigie.spawn(&["import", file]);
    let started = Instant::now();
    // Wait for the first committed batch (pages written to the log before a
    // commit do not count: a reader sees only committed rows).
    while db_bytes(&vigie) < baseline + 512 * 1024 || committed_mentions(&vigie) == 0 {
        assert!(child.try_wait().unwrap().is_none(), "the import ended before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(120), "no batch committed in 2 minutes");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(150)); // into the next batch
    assert!(child.try_wait().unwrap().is_none(), "the import ended before it could be killed");
    child.kill().unwrap(); // SIGKILL: no destructor, no rollback, no checkpoint
    let status = child.wait().unwrap();
    assert!(!status.success());

    assert_eq!(integrity_check(&vigie), "ok");

    // The rerun stores only what the killed run had not committed.
    let rerun = vigie.run(&["import", file]).success();
    let (inserted, records, duplicates, rejected) = summary(&rerun.stdout);
    assert_eq!((records, rejected), (u64::from(LINES), 0));
    assert!(
        inserted > 0 && inserted < distinct as u64,
        "nothing was left to do, or nothing was done: {}",
        rerun.stdout
    );
    assert_eq!(inserted + duplicates, u64::from(LINES));

    let stored = vigie.export();
    assert_eq!(stored.len(), distinct);
    assert_eq!(column_set(&stored, "url").len(), distinct, "a URL stored twice");
    assert_eq!(column_set(&stored, "vigie_id").len(), distinct);
    assert_eq!(integrity_check(&vigie), "ok");

    // Mentions stored by either run were matched to the watch at import time.
    let matched = vigie.run(&["export", "--watch", "SNCF"]).success().jsonl().len();
    // Templates 0 and 3 name SNCF; the distinct n are those with n % 20 != 19.
    assert_eq!(matched, 15_000 + 12_000);

    let third = vigie.run(&["import", file]).success();
    assert_eq!(third.stdout, "imported 0 new mention(s) from 60000 record(s): 60000 already stored, 0 rejected\n");
}

/// An RSS 2.0 feed of `items` items for source `s`.
fn generated_feed(s: usize, items: usize) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Forum {s}</title>\
         <link>https://forum{s}.example/</link><description>posts</description>"
    );
    for i in 0..items {
        xml.push_str(&format!(
            "<item><title>Retard SNCF n°{i}</title><link>https://forum{s}.example/t/{i}</link>\
             <guid>forum{s}-{i}</guid><pubDate>Mon, 23 Nov 2026 08:{:02}:00 GMT</pubDate>\
             <description>Train en retard, sujet {i} du forum {s}.</description></item>",
            i % 60
        ));
    }
    xml.push_str("</channel></rss>");
    xml
}

#[test]
fn a_collection_killed_midway_is_completed_by_the_next_run_without_duplicates() {
    const SOURCES: usize = 40;
    const ITEMS: usize = 50;
    // A slow server (the handler blocks the server's only thread for 40 ms a
    // request), so the kill lands while sources are being fetched and stored.
    let server = crate::support::server::TestServer::start(|req| {
        std::thread::sleep(Duration::from_millis(40));
        let s: usize = req.path.trim_start_matches("/feed/").trim_end_matches(".xml").parse().unwrap_or(usize::MAX);
        if s >= SOURCES {
            return crate::support::server::Response::new(404);
        }
        crate::support::server::Response::ok(generated_feed(s, ITEMS)).header("Content-Type", "application/rss+xml")
    });
    let vigie = Vigie::new();
    for s in 0..SOURCES {
        vigie.run(&["source", "add", "rss", &server.url(&format!("/feed/{s}.xml")), "--every", "1h"]).success();
    }

    let mut child = vigie.spawn(&["collect", "--once"]);
    // Wait until some sources have been served, then kill.
    let started = Instant::now();
    while server.requests().len() < SOURCES / 4 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let served_before_kill = server.requests().len();
    assert!(served_before_kill < SOURCES, "the kill came too late to test anything ({served_before_kill} served)");

    // The next run fetches what the killed one had not recorded.
    vigie.run(&["collect", "--once"]).success();
    let sources: Vec<serde_json::Value> =
        vigie.run(&["source", "list", "--format", "json"]).success().json().as_array().unwrap().clone();
    assert!(sources.iter().all(|s| s["status"] == "ok"), "{sources:#?}");
    let stored: i64 = sources.iter().map(|s| s["stored"].as_i64().unwrap()).sum();

    let rows = vigie.export();
    assert_eq!(rows.len(), SOURCES * ITEMS, "every item stored exactly once");
    assert_eq!(column_set(&rows, "url").len(), SOURCES * ITEMS);
    // A source killed after storing its items but before recording the fetch
    // is fetched again; its items are then duplicates, not new mentions.
    assert!(stored <= (SOURCES * ITEMS) as i64);
    // And a third run has nothing due.
    let run = vigie.run(&["collect", "--once"]).success();
    assert!(run.stdout.starts_with("0 source(s) due"), "{}", run.stdout);
}

#[test]
fn commands_started_together_on_a_new_data_directory_all_work() {
    let vigie = Vigie::new();
    let children: Vec<std::process::Child> = (0..6)
        .map(|i| vigie.command(&["watch", "add", &format!("W{i}"), "--query", &format!("acme{i}")]).spawn().unwrap())
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let list = vigie.run(&["watch", "list", "--format", "json"]).success().json();
    assert_eq!(list.as_array().unwrap().len(), 6);
}

/// A process killed after storing a batch but before its inbox routing and
/// alert rules ran: the mentions are stored, so a rerun of the same fetch
/// skips them as duplicates. They stay on the pending list, and a later
/// cycle runs their rules.
#[test]
fn rules_a_killed_process_never_ran_are_run_by_a_later_cycle() {
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    let now = chrono::Utc::now().to_rfc3339();
    let line = format!(
        "{{\"url\": \"https://forum.example.fr/t/1\", \"text\": \"Acme est une arnaque, colis jamais reçu, je porte plainte\", \
         \"source\": \"forum\", \"lang\": \"fr\", \"published_at\": \"{now}\"}}\n"
    );
    let file = vigie.write("one.jsonl", line.as_bytes());
    vigie.run(&["import", file.to_str().unwrap()]).success();
    let counts = |vigie: &Vigie| -> (i64, i64, i64) {
        vigie.with_db(async |db| {
            let mut out = [0i64; 3];
            for (i, table) in ["alerts", "inbox", "rules_pending"].iter().enumerate() {
                let sql = format!("SELECT count(*) FROM {table}");
                out[i] = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(db).await.unwrap();
            }
            (out[0], out[1], out[2])
        })
    };
    let (alerts, inbox, pending) = counts(&vigie);
    assert!(alerts >= 1 && inbox == 1, "the import ran the rules: {alerts} alert(s), {inbox} inbox item(s)");
    assert_eq!(pending, 0, "and cleared the pending list");

    // As if the process had died right after storing, ten minutes ago.
    vigie.with_db(async |db| {
        for sql in [
            "DELETE FROM deliveries",
            "DELETE FROM alerts",
            "DELETE FROM workflow_events",
            "DELETE FROM inbox",
            "INSERT INTO rules_pending (mention_id, project_id, stored_at) \
             SELECT id, project_id, strftime('%s', 'now') - 600 FROM mentions",
        ] {
            sqlx::query(sql).execute(db).await.unwrap();
        }
    });
    let again = vigie.run(&["import", file.to_str().unwrap()]).success();
    assert!(again.stdout.contains("1 already stored"), "{}", again.stdout);
    assert_eq!(counts(&vigie), (0, 0, 1), "a rerun of the same items does not run their rules");

    vigie.run(&["collect", "--once"]).success();
    let (alerts, inbox, pending) = counts(&vigie);
    assert!(alerts >= 1 && inbox == 1 && pending == 0, "{alerts} alert(s), {inbox} inbox item(s), {pending} pending");
    let list = vigie.run(&["alert", "list", "--format", "json"]).success().json();
    assert!(list.as_array().unwrap().iter().any(|a| a["rule"] == "trigger_term"), "{list}");
}

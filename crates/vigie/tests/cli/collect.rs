//! `vigie source` and `vigie collect --once` against feeds served on 127.0.0.1.

use serde_json::Value;

use crate::support::server::{Request, Response, TestServer};
use crate::support::{Vigie, column_set, feed_testdata, terminate};

fn read(name: &str) -> Vec<u8> {
    std::fs::read(feed_testdata(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A 200 with an ETag, or a 304 when the client already has that version.
fn conditional(request: &Request, etag: &str, content_type: &str, body: &[u8]) -> Response {
    if request.header("If-None-Match") == Some(etag) {
        return Response::new(304).header("ETag", etag);
    }
    Response::ok(body.to_vec()).header("Content-Type", content_type).header("ETag", etag)
}

/// Two good feeds, a site's home page instead of a feed, and a broken server.
fn feed_server() -> TestServer {
    let (news, blog, html) = (read("rss20_fr_news.xml"), read("atom_blog.xml"), read("html_page.html"));
    TestServer::start(move |req| match req.path.as_str() {
        "/economie/rss.xml" => conditional(req, "\"news-v1\"", "application/rss+xml; charset=utf-8", &news),
        "/feed.atom" => conditional(req, "W/\"blog-v1\"", "application/atom+xml", &blog),
        "/" => Response::ok(html.clone()).header("Content-Type", "text/html; charset=utf-8"),
        "/broken.xml" => Response::new(500).body("upstream exploded"),
        _ => Response::new(404),
    })
}

fn sources(vigie: &Vigie) -> Vec<Value> {
    vigie.run(&["source", "list", "--format", "json"]).success().json().as_array().unwrap().clone()
}

fn source<'a>(list: &'a [Value], url: &str) -> &'a Value {
    list.iter().find(|s| s["url"] == url).unwrap_or_else(|| panic!("no source {url} in {list:#?}"))
}

/// Makes every source due now, as if their interval had passed (the CLI has
/// no way to force a fetch, and the shortest interval is a minute).
fn make_sources_due(vigie: &Vigie) {
    vigie.with_db(async |pool| {
        let done = sqlx::query("UPDATE sources SET next_due_at = 0").execute(pool).await.unwrap();
        assert!(done.rows_affected() > 0);
    });
}

#[test]
fn collect_once_stores_good_feeds_and_records_why_bad_ones_failed() {
    let server = feed_server();
    let vigie = Vigie::new();
    let urls = [server.url("/economie/rss.xml"), server.url("/feed.atom"), server.url("/"), server.url("/broken.xml")];
    for (i, url) in urls.iter().enumerate() {
        let run = vigie.run(&["source", "add", "rss", url, "--every", "1m"]).success();
        assert_eq!(
            run.stdout,
            format!(
                "source {id} added: rss {url} every 1m (first fetch at the next `vigie collect`; \
                 `vigie source test {id}` shows what it reads)\n",
                id = i + 1
            )
        );
    }
    let dup = vigie.run(&["source", "add", "rss", &urls[0]]).code(2);
    assert!(dup.stderr.contains("already has the rss source"), "{}", dup.stderr);
    let too_often = vigie.run(&["source", "add", "rss", &server.url("/other.xml"), "--every", "30s"]).code(2);
    assert!(too_often.stderr.contains("the minimum is 1m"), "{}", too_often.stderr);
    assert!(sources(&vigie).iter().all(|s| s["status"] == "new"));

    let run = vigie.run(&["collect", "--once"]).success();
    assert_eq!(
        run.stdout,
        "4 source(s) due: 2 fetched, 0 not modified, 2 failed; 6 item(s) read, 6 new mention(s) stored\n\
         see `vigie source list` for the reasons\n"
    );

    // The items of both feeds are stored, with canonical links (tracking
    // parameters dropped, relative links resolved against the feed).
    let stored = vigie.export();
    assert_eq!(stored.len(), 6);
    let links = column_set(&stored, "url");
    // The Atom feed has no xml:base: its relative links resolve against the
    // address it was fetched from (here the test server).
    let expected: std::collections::BTreeSet<String> = [
        "https://www.quotidien-regional.example/economie/acme-energie-200-emplois-menaces-a-saint-etienne-20260303_ABC123.php",
        "https://www.quotidien-regional.example/economie/salon-industrie-20260302_DEF456.php",
        "https://www.quotidien-regional.example/economie/bourse-cac40-20260302_GHI789.php",
        "https://ada.example.org/2026/02/10/le-the/",
    ]
    .into_iter()
    .map(String::from)
    .chain([server.url("/2026/02/28/acme-cloud/"), server.url("/2026/01/05/cycling-log/")])
    .collect();
    assert_eq!(links, expected);
    let acme = vigie.mention("https://www.quotidien-regional.example/economie/acme-energie-200-emplois-menaces-a-saint-etienne-20260303_ABC123.php");
    assert_eq!(acme["title"], "Acme Énergie : 200 emplois menacés à Saint-Étienne, les salariés en grève");
    assert_eq!(
        (acme["author"].as_str(), acme["published_at"].as_str()),
        (Some("Élodie Mercier"), Some("2026-03-03T08:47:00Z"))
    );

    // Each source's health: the good ones ok with their item counts, the bad
    // ones with a reason a person can act on.
    let list = sources(&vigie);
    for (url, items) in [(&urls[0], 3), (&urls[1], 3)] {
        let s = source(&list, url);
        assert_eq!(
            (s["status"].as_str(), s["last_items"].as_i64(), s["stored"].as_i64()),
            (Some("ok"), Some(items), Some(items)),
            "{s:#}"
        );
        assert!(s["last_error"].is_null() && s["failures"] == 0 && !s["last_success"].is_null(), "{s:#}");
    }
    let html = source(&list, &urls[2]);
    assert_eq!(html["status"], "error");
    assert_eq!(
        html["last_error"],
        "this is an HTML page, not a feed (did you give the site's address instead of its feed?)"
    );
    let broken = source(&list, &urls[3]);
    assert_eq!(broken["status"], "error");
    assert!(broken["last_error"].as_str().unwrap().starts_with("HTTP 500"), "{broken:#}");
    for bad in [html, broken] {
        assert_eq!((bad["failures"].as_i64(), bad["stored"].as_i64()), (Some(1), Some(0)));
        assert!(bad["last_success"].is_null(), "{bad:#}");
    }
    let table = vigie.run(&["source", "list"]).success();
    assert!(table.stdout.contains("HTTP 500"), "{}", table.stdout);

    // Nothing is due right after a cycle, and the server is not asked again.
    let hits = server.requests().len();
    assert_eq!(hits, 4);
    let run = vigie.run(&["collect", "--once"]).success();
    assert_eq!(
        run.stdout,
        "0 source(s) due: 0 fetched, 0 not modified, 0 failed; 0 item(s) read, 0 new mention(s) stored\n"
    );
    assert_eq!(server.requests().len(), hits);

    // Once due again, the feeds are asked conditionally and answer 304.
    make_sources_due(&vigie);
    let run = vigie.run(&["collect", "--once"]).success();
    assert_eq!(
        run.stdout,
        "4 source(s) due: 0 fetched, 2 not modified, 2 failed; 0 item(s) read, 0 new mention(s) stored\n\
         see `vigie source list` for the reasons\n"
    );
    for (path, etag) in [("/economie/rss.xml", "\"news-v1\""), ("/feed.atom", "W/\"blog-v1\"")] {
        let requests = server.requests_to(path);
        assert_eq!(requests.len(), 2, "{path}");
        assert_eq!(requests[0].header("If-None-Match"), None, "{path}");
        assert_eq!(requests[1].header("If-None-Match"), Some(etag), "{path}");
    }
    let list = sources(&vigie);
    let news = source(&list, &urls[0]);
    assert_eq!(
        (news["status"].as_str(), news["last_items"].as_i64(), news["stored"].as_i64()),
        (Some("ok"), Some(0), Some(3))
    );
    assert_eq!(source(&list, &urls[3])["failures"], 2);
    assert_eq!(vigie.export().len(), 6);

    // Removing a source keeps its mentions.
    let run = vigie.run(&["source", "remove", "1"]).success();
    assert_eq!(run.stdout, "source 1 removed (its mentions stay stored)\n");
    let gone = vigie.run(&["source", "remove", "1"]).code(2);
    assert_eq!(gone.stderr, "error: no source with id 1 in project \"default\"\n");
    assert_eq!(vigie.export().len(), 6);
}

#[test]
fn private_addresses_are_refused_unless_allowed() {
    let server = feed_server();
    let vigie = Vigie::new();
    let url = server.url("/economie/rss.xml");
    vigie.run(&["source", "add", "rss", &url]).success();
    let run = vigie.run_with(&["collect", "--once"], |cmd| {
        cmd.env_remove("VIGIE_ALLOW_PRIVATE_NETWORK");
    });
    // Every source failed: the run failed (exit code 1, for cron), saying where to look.
    let run = run.code(1);
    assert_eq!(
        run.stdout,
        "1 source(s) due: 0 fetched, 0 not modified, 1 failed; 0 item(s) read, 0 new mention(s) stored\n\
         see `vigie source list` for the reasons\n"
    );
    assert!(run.stderr.contains("every source fetched (1) failed"), "{}", run.stderr);
    assert!(server.requests().is_empty(), "the guard let a request through: {:?}", server.requests());
    let list = sources(&vigie);
    let s = source(&list, &url);
    assert_eq!(s["status"], "error");
    assert_eq!(
        s["last_error"],
        "refused: 127.0.0.1 is a loopback address (set VIGIE_ALLOW_PRIVATE_NETWORK=true to allow intranet sources)"
    );
    assert_eq!(vigie.export().len(), 0);

    // "false" is not a yes either.
    make_sources_due(&vigie);
    let run = vigie.run_with(&["collect", "--once"], |cmd| {
        cmd.env("VIGIE_ALLOW_PRIVATE_NETWORK", "false");
    });
    assert!(run.code(1).stdout.starts_with("1 source(s) due: 0 fetched, 0 not modified, 1 failed;"));
    assert!(server.requests().is_empty());
}

#[test]
fn continuous_collect_fetches_due_sources_and_stops_cleanly_on_sigterm() {
    let server = feed_server();
    let vigie = Vigie::new();
    vigie.run(&["source", "add", "rss", &server.url("/economie/rss.xml"), "--every", "1m"]).success();
    let child = vigie
        .command(&["collect"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while server.requests().is_empty() && started.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Let the cycle finish storing, then ask the service to stop.
    std::thread::sleep(std::time::Duration::from_millis(500));
    terminate(&child);
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.starts_with("collecting; press Ctrl-C to stop\n"), "{stdout}");
    assert!(
        stdout
            .contains("1 source(s) due: 1 fetched, 0 not modified, 0 failed; 3 item(s) read, 3 new mention(s) stored"),
        "{stdout}"
    );
    assert!(stdout.ends_with("stopped\n"), "{stdout}");
    assert_eq!(vigie.export().len(), 3);
}

fn rename(vigie: &Vigie, table: &str, to: &str) {
    let sql = format!("ALTER TABLE {table} RENAME TO {to}");
    vigie.with_db(async |pool| sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.unwrap());
}

#[test]
fn a_worker_goes_on_collecting_after_the_database_failed_for_a_while() {
    let server = feed_server();
    let vigie = Vigie::new();
    vigie.run(&["source", "add", "rss", &server.url("/economie/rss.xml"), "--every", "1m"]).success();
    // The database fails every cycle (as one down or locked by another
    // program would): the sources cannot be read.
    rename(&vigie, "sources", "sources_away");
    let child = vigie
        .command(&["worker", "--poll", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(server.requests().is_empty());
    rename(&vigie, "sources_away", "sources");
    let back = std::time::Instant::now();
    while server.requests().is_empty() && back.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    terminate(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "still running until stopped: {stderr}");
    assert!(stderr.contains("collection cycle failed; trying again"), "{stderr}");
    assert!(stderr.contains("collection works again"), "{stderr}");
    assert_eq!(server.requests_to("/economie/rss.xml").len(), 1, "collected once the database was back");
    assert_eq!(vigie.export().len(), 3);
}

#[test]
fn a_second_stop_signal_stops_at_once() {
    // A feed that takes its time: the first SIGTERM waits for it.
    let server = TestServer::start(|_| {
        std::thread::sleep(std::time::Duration::from_secs(8));
        Response::new(500)
    });
    let vigie = Vigie::new();
    vigie.run(&["source", "add", "rss", &server.url("/slow.xml"), "--every", "1m"]).success();
    let child = vigie.command(&["collect"]).spawn().unwrap();
    let started = std::time::Instant::now();
    while server.requests().is_empty() && started.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    terminate(&child);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let asked = std::time::Instant::now();
    terminate(&child);
    let output = child.wait_with_output().unwrap();
    assert!(asked.elapsed() < std::time::Duration::from_secs(5), "did not wait for the slow feed");
    assert_eq!(output.status.code(), Some(130));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("stopping: finishing the work under way"), "{stderr}");
    assert!(stderr.contains("stopped at once"), "{stderr}");
}

/// An RSS 2.0 feed of `(guid, link, title)` items.
fn rss(items: &[(&str, &str, &str)]) -> Vec<u8> {
    let items: String = items
        .iter()
        .map(|(guid, link, title)| {
            format!(
                "<item><guid isPermaLink=\"false\">{guid}</guid><link>{link}</link><title>{title}</title>\
                 <description>{title}, la suite de l'article.</description>\
                 <pubDate>Mon, 23 Nov 2026 08:00:00 GMT</pubDate></item>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Le Journal</title>\
         <link>https://journal.example.fr/</link><description>Actualités</description>{items}</channel></rss>"
    )
    .into_bytes()
}

/// A server that answers each request with the next body, then the last one again.
fn versions(bodies: Vec<Vec<u8>>) -> TestServer {
    let bodies = std::sync::Mutex::new(bodies);
    TestServer::start(move |_| {
        let mut v = bodies.lock().unwrap();
        let body = if v.len() > 1 { v.remove(0) } else { v[0].clone() };
        Response::ok(body).header("Content-Type", "application/rss+xml")
    })
}

/// A feed source served by `server`, collected twice: the two reports.
fn collected_twice(server: &TestServer) -> (Vigie, String, String) {
    let vigie = Vigie::new();
    vigie.run(&["source", "add", "rss", &server.url("/rss.xml"), "--every", "1m"]).success();
    let first = vigie.run(&["collect", "--once"]).success().stdout;
    make_sources_due(&vigie);
    let second = vigie.run(&["collect", "--once"]).success().stdout;
    (vigie, first, second)
}

fn titles_and_links(vigie: &Vigie) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = vigie
        .export()
        .iter()
        .map(|m| {
            (m["title"].as_str().unwrap_or_default().to_string(), m["url"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    all.sort();
    all
}

#[test]
fn an_item_whose_link_changes_under_the_same_guid_is_stored_once() {
    let server = versions(vec![
        rss(&[
            ("art-1", "https://journal.example.fr/acme-greve", "Grève chez Acme"),
            ("art-2", "https://journal.example.fr/acme-resultats", "Résultats d'Acme"),
            ("r-1", "https://journal.example.fr/revue-24", "Revue de presse"),
        ]),
        // The newsroom edits a slug; and (GUIDs by position) gives old GUIDs
        // to new articles, one with a new title, one titled as every day.
        rss(&[
            ("art-1", "https://journal.example.fr/acme-greve-generale", "Grève chez Acme"),
            ("art-2", "https://journal.example.fr/acme-rachat", "Acme rachète un concurrent"),
            ("r-1", "https://journal.example.fr/revue-25", "Revue de presse"),
            ("r-2", "https://journal.example.fr/revue-24", "Revue de presse"),
        ]),
    ]);
    let vigie = Vigie::new();
    vigie.run(&["source", "add", "rss", &server.url("/rss.xml"), "--every", "1m"]).success();
    vigie.run(&["collect", "--once"]).success();
    make_sources_due(&vigie);
    let run = vigie.run(&["collect", "--once"]).success();
    assert!(run.stdout.contains("4 item(s) read, 2 new mention(s) stored"), "{}", run.stdout);
    let stored = titles_and_links(&vigie);
    let count = |title: &str| stored.iter().filter(|(t, _)| t == title).count();
    assert_eq!(count("Grève chez Acme"), 1, "moved, stored once: {stored:#?}");
    assert_eq!(count("Acme rachète un concurrent"), 1, "a new article under an old GUID is kept: {stored:#?}");
    assert_eq!(count("Revue de presse"), 2, "the old link is still in the feed: a new article: {stored:#?}");
    assert_eq!(stored.len(), 5, "{stored:#?}");

    // A feed that gives one GUID to different articles: its GUIDs say
    // nothing, every article is kept, at the first fetch and later.
    let server = versions(vec![
        rss(&[
            ("x", "https://blog.example.fr/a", "Premier billet"),
            ("x", "https://blog.example.fr/b", "Second billet"),
        ]),
        rss(&[
            ("x", "https://blog.example.fr/a", "Premier billet"),
            ("x", "https://blog.example.fr/c", "Second billet"),
        ]),
    ]);
    let (vigie, first, second) = collected_twice(&server);
    assert!(first.contains("2 new mention(s) stored"), "{first}");
    assert!(second.contains("1 new mention(s) stored"), "{second}");
    assert_eq!(titles_and_links(&vigie).len(), 3);

    // One article under two GUIDs (one mention), whose link then changes
    // under both: still one mention.
    let server = versions(vec![
        rss(&[("h1", "https://q.example.fr/art", "Même article"), ("h2", "https://q.example.fr/art", "Même article")]),
        rss(&[
            ("h1", "https://q.example.fr/art-v2", "Même article"),
            ("h2", "https://q.example.fr/art-v2", "Même article"),
        ]),
    ]);
    let (_, first, second) = collected_twice(&server);
    assert!(first.contains("1 new mention(s) stored"), "{first}");
    assert!(second.contains("0 new mention(s) stored"), "{second}");
}

#[test]
fn articles_of_a_feed_that_links_each_one_to_its_home_page_are_all_stored() {
    let home = "https://www.acme-fans.example/";
    let feed = rss(&[
        ("u1", home, "Acme : panne à Paris"),
        ("u2", home, "Acme : panne à Lyon"),
        ("u3", home, "Le PDG d'Acme démissionne"),
        // The same article twice under two GUIDs: one mention.
        ("u4", "https://www.acme-fans.example/bilan", "Bilan de l'année"),
        ("u5", "https://www.acme-fans.example/bilan", "Bilan de l'année"),
    ]);
    // Then a new article on top, and (GUIDs by position) the others shift.
    let shifted = rss(&[
        ("u1", home, "Acme ouvre un magasin à Nantes"),
        ("u2", home, "Acme : panne à Paris"),
        ("u3", home, "Acme : panne à Lyon"),
        ("u4", home, "Le PDG d'Acme démissionne"),
    ]);
    let server = versions(vec![feed.clone(), feed, shifted]);
    let vigie = Vigie::new();
    vigie.run(&["source", "add", "rss", &server.url("/rss.xml"), "--every", "1m"]).success();
    let run = vigie.run(&["collect", "--once"]).success();
    assert!(run.stdout.contains("5 item(s) read, 4 new mention(s) stored"), "{}", run.stdout);
    let stored = titles_and_links(&vigie);
    assert!(stored.contains(&("Le PDG d'Acme démissionne".to_string(), home.to_string())), "{stored:#?}");
    // Read again: nothing new.
    make_sources_due(&vigie);
    let run = vigie.run(&["collect", "--once"]).success();
    assert!(run.stdout.contains("0 new mention(s) stored"), "{}", run.stdout);
    assert_eq!(titles_and_links(&vigie).len(), 4);
    // The new article is stored, the shifted ones are not stored again.
    make_sources_due(&vigie);
    let run = vigie.run(&["collect", "--once"]).success();
    assert!(run.stdout.contains("4 item(s) read, 1 new mention(s) stored"), "{}", run.stdout);
    let stored = titles_and_links(&vigie);
    assert!(stored.iter().any(|(t, _)| t == "Acme ouvre un magasin à Nantes"), "{stored:#?}");
    assert_eq!(stored.len(), 5, "{stored:#?}");
}

/// Eight feeds of one host that answers (500) after `delay`: two at a time
/// (the per-host limit), the others waiting for their turn; and a
/// `vigie collect` started on them, its output piped.
fn collecting_eight_slow_sources(delay: u64) -> (TestServer, Vigie, std::process::Child) {
    let server = TestServer::start(move |_| Response::new(500).delayed(std::time::Duration::from_secs(delay)));
    let vigie = Vigie::new();
    for i in 0..8 {
        vigie.run(&["source", "add", "rss", &server.url(&format!("/feed{i}.xml")), "--every", "1m"]).success();
    }
    let child = vigie
        .command(&["collect"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    (server, vigie, child)
}

#[test]
fn a_stopped_collector_sends_no_request_after_the_signal() {
    // Two fetches under way (the host answers after 3 s), six waiting.
    let (server, vigie, child) = collecting_eight_slow_sources(3);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.requests().len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let asked = std::time::Instant::now();
    terminate(&child);
    let output = child.wait_with_output().unwrap();
    let waited = asked.elapsed();
    assert!(output.status.success(), "{output:?}");
    // The two under way finished; the six waiting for the host (each a
    // second after the other) were not sent, and did not wait their turn.
    // A failure while stopping is not recorded: all eight stay due.
    assert_eq!(server.requests().len(), 2, "{:?}", server.requests().iter().map(|r| &r.path).collect::<Vec<_>>());
    assert!(waited < std::time::Duration::from_secs(6), "stopped after {waited:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("0 failed, 8 left for the next start"), "{stdout}");
    assert!(sources(&vigie).iter().all(|s| s["status"] == "new"), "{:#?}", sources(&vigie));
}

#[test]
fn a_stopped_collector_does_not_wait_for_every_source_of_a_slow_host() {
    // The host answers after 20 s: a minute of fetches in all.
    let (server, vigie, child) = collecting_eight_slow_sources(20);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.requests().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let asked = std::time::Instant::now();
    terminate(&child);
    let output = child.wait_with_output().unwrap();
    let waited = asked.elapsed();
    assert!(output.status.success(), "{output:?}");
    // The fetches under way get ten seconds; the others are not started.
    assert!(waited < std::time::Duration::from_secs(18), "stopped after {waited:?}");
    assert!(server.requests().len() <= 2, "{} fetches started", server.requests().len());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("left for the next start"), "{stdout}");
    // Nothing is recorded for them: they are due at the next start, not failed.
    assert!(sources(&vigie).iter().all(|s| s["status"] == "new"), "{:#?}", sources(&vigie));
}

#[test]
fn an_item_dated_in_the_future_is_dated_when_collected_and_the_source_says_so() {
    let feed = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>\
        <item><title>Acme demain</title><link>http://e.x/future</link><pubDate>Sat, 01 Jan 2050 10:00:00 GMT</pubDate></item>\
        <item><title>Acme hier</title><link>http://e.x/past</link><pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate></item>\
        </channel></rss>";
    let server = versions(vec![feed.as_bytes().to_vec()]);
    let vigie = Vigie::new();
    vigie.run(&["source", "add", "rss", &server.url("/feed.xml")]).success();
    vigie.run(&["collect", "--once"]).success();
    let list = sources(&vigie);
    let warning = list[0]["warning"].as_str().unwrap_or_default();
    assert!(
        warning.contains("1 item(s) carry a date that cannot be believed (a new one is dated when collected), e.g. 2050-01-01T10:00:00Z is in the future"),
        "{list:#?}"
    );
    let stored = vigie.export();
    let dated = |url: &str| {
        let m = stored.iter().find(|m| m["url"] == url).unwrap_or_else(|| panic!("{url} in {stored:#?}"));
        (m["published_at"].as_str().unwrap().to_string(), m["collected_at"].as_str().unwrap_or_default().to_string())
    };
    let (published, collected) = dated("http://e.x/future");
    assert!(published.starts_with("20") && !published.starts_with("2050"), "{published} (collected {collected})");
    assert!(dated("http://e.x/past").0.starts_with("2026-11-23"));
}

/// A forum's feed stored a thread's link; its posts, imported one at a time
/// with the thread's address and their own ids, are each stored (QA: they
/// were all taken for the feed's item).
#[test]
fn forum_posts_imported_one_at_a_time_after_their_threads_feed_are_each_stored() {
    let feed = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Forum</title>\
        <item><title>Commander chez Acme ?</title><link>https://forum.example.com/viewtopic.php?t=42</link>\
        <guid isPermaLink=\"false\">topic-42</guid><description>Quelqu'un a déjà commandé chez Acme ?</description></item>\
        </channel></rss>";
    let server = versions(vec![feed.as_bytes().to_vec()]);
    let vigie = Vigie::new();
    vigie.run(&["source", "add", "rss", &server.url("/forum.xml")]).success();
    vigie.run(&["collect", "--once"]).success();
    assert_eq!(vigie.export().len(), 1);
    for i in 0..3 {
        let line = serde_json::json!({"id": format!("post10{i}"), "url": "https://forum.example.com/viewtopic.php?t=42",
            "text": format!("Réponse numéro {i} sur Acme"), "published_at": "2026-11-20T10:00:00Z", "source": "forum"});
        let file = vigie.write(&format!("post{i}.jsonl"), format!("{line}\n"));
        let run = vigie.run(&["import", file.to_str().unwrap()]).success();
        assert!(run.stdout.contains("imported 1 new"), "post {i}: {}", run.stdout);
    }
    assert_eq!(vigie.export().len(), 4);
}

//! Social APIs end to end over HTTP: the recorded payloads served from
//! 127.0.0.1 by the test server, fetched by the real `Fetcher`, several runs
//! with the cursor saved as JSON and read back in between (a restart).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use url::Url;
use vigie_collect::social::{self, Cursor, Endpoints, SocialError, SocialQuery};
use vigie_collect::{FetchConfig, Fetcher, RetryAfter};
use vigie_testkit::http::{Request, Response, TestServer};

fn data(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/testdata/social/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn fetcher() -> Fetcher {
    Fetcher::new(FetchConfig {
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(10),
        allow_private_networks: true,
        // One test server plays every API: no politeness delay between its pages.
        host_policy: vigie_collect::HostPolicy { min_delay: Duration::ZERO, ..Default::default() },
        ..FetchConfig::default()
    })
    .unwrap()
}

fn json(body: Vec<u8>) -> Response {
    Response::ok(body).header("Content-Type", "application/json; charset=utf-8")
}

fn param(req: &Request, name: &str) -> Option<String> {
    let url = Url::parse(&format!("http://x{}", req.path)).unwrap();
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn restart(c: &Cursor) -> Cursor {
    serde_json::from_str(&serde_json::to_string(c).unwrap()).unwrap()
}

fn ids(items: &[vigie_model::RawMention]) -> Vec<String> {
    items.iter().map(|m| m.source_item_id.clone().unwrap()).collect()
}

/// Serves `run1.json` to the first request, then the two pages of run 2
/// according to the page token the walk sends.
fn walking_server(folder: &'static str, token_param: &'static str, page2_token: &'static str) -> TestServer {
    let served_run1 = Arc::new(Mutex::new(false));
    TestServer::start(move |req| {
        let mut first = served_run1.lock().unwrap();
        if !*first {
            *first = true;
            return json(data(&format!("{folder}/run1.json")));
        }
        match param(req, token_param) {
            Some(t) if t == page2_token => json(data(&format!("{folder}/run2_page2.json"))),
            Some(t) => Response::new(400).body(format!("unexpected token {t}")),
            None => json(data(&format!("{folder}/run2_page1.json"))),
        }
    })
}

async fn two_runs(q: SocialQuery, server: &TestServer) -> (Vec<String>, Vec<String>, Cursor) {
    let f = fetcher();
    let endpoints = Endpoints::all_at(&Url::parse(&server.url("/")).unwrap());
    let run1 = social::run(&f, &q, &Cursor::default(), &endpoints, social::MAX_PAGES_PER_RUN).await;
    assert_eq!(run1.error, None);
    assert_eq!(run1.pages, 1, "a new source takes one page");
    let saved = serde_json::to_string(&run1.cursor).unwrap();

    // Restart: the cursor comes back from its JSON.
    let cursor: Cursor = serde_json::from_str(&saved).unwrap();
    let run2 = social::run(&f, &q, &cursor, &endpoints, social::MAX_PAGES_PER_RUN).await;
    assert_eq!(run2.error, None);
    assert_eq!(run2.pages, 2);
    assert!(run2.warnings.is_empty(), "{:?}", run2.warnings);
    assert!(!run2.cursor.walking());
    (ids(&run1.items), ids(&run2.items), run2.cursor)
}

fn assert_disjoint(a: &[String], b: &[String]) {
    let all: Vec<&String> = a.iter().chain(b).collect();
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len(), "duplicates in {all:?}");
}

#[tokio::test]
async fn reddit_two_runs_over_http_collect_each_post_once() {
    let server = walking_server("reddit", "after", "t3_1j3b004");
    let (run1, run2, _) =
        two_runs(SocialQuery::Reddit { query: "acme energie".into(), subreddit: None }, &server).await;
    assert_eq!(run1, ["t3_1j3a003", "t3_1j3a002", "t3_1j3a001"]);
    assert_eq!(run2, ["t3_1j3b006", "t3_1j3b005", "t3_1j3b004", "t3_1j3b003", "t3_1j3b002"]);
    assert_disjoint(&run1, &run2);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs.iter().all(|r| r.path.starts_with("/search.json?q=acme+energie&sort=new")), "{reqs:?}");
    assert!(reqs.iter().all(|r| r.header("user-agent").is_some_and(|ua| ua.starts_with("Vigie/"))));
}

#[tokio::test]
async fn bluesky_two_runs_over_http_collect_each_post_once() {
    let server = walking_server("bluesky", "cursor", "3");
    let (run1, run2, _) = two_runs(SocialQuery::Bluesky { query: "acme energie".into() }, &server).await;
    assert_eq!(run1.len(), 3);
    assert_eq!(run2.len(), 5);
    assert_disjoint(&run1, &run2);
    assert!(server.requests()[0].path.starts_with("/xrpc/app.bsky.feed.searchPosts?q=acme+energie&sort=latest"));
}

#[tokio::test]
async fn hacker_news_two_runs_over_http_narrow_the_time_window() {
    // Run 2's second page is the window below its first page's oldest hit.
    let served_run1 = Arc::new(Mutex::new(false));
    let server = TestServer::start(move |req| {
        let mut first = served_run1.lock().unwrap();
        if !*first {
            *first = true;
            return json(data("hackernews/run1.json"));
        }
        match param(req, "numericFilters").as_deref() {
            Some("created_at_i>=1772529000") => json(data("hackernews/run2_page1.json")),
            Some("created_at_i>=1772529000,created_at_i<=1772532600") => json(data("hackernews/run2_page2.json")),
            other => Response::new(400).body(format!("unexpected filters {other:?}")),
        }
    });
    let (run1, run2, _) = two_runs(SocialQuery::HackerNews { query: "acme energy".into() }, &server).await;
    assert_eq!(run1, ["43210003", "43210002", "43210001"]);
    assert_eq!(run2, ["43210030", "43210020", "43210015", "43210012", "43210010"]);
}

#[tokio::test]
async fn youtube_two_runs_over_http_and_the_key_stays_out_of_errors() {
    let server = walking_server("youtube", "pageToken", "QURTSl9pMlhzbm1TdHZ3Q2lnRWZsQ0xzRkxqNnJlUQ_p2");
    let q = SocialQuery::YouTube { channel_id: "UCx7Acme0000EnergieFr1Q".into(), api_key: "AIzaSySECRET".into() };
    let (run1, run2, _) = two_runs(q.clone(), &server).await;
    assert_eq!(run1.len(), 3);
    assert_eq!(run2.len(), 5);
    assert!(server.requests().iter().all(|r| param(r, "key").as_deref() == Some("AIzaSySECRET")));

    // A server that never answers: the timeout message names no key.
    let slow = TestServer::start(|_| {
        std::thread::sleep(Duration::from_millis(1500));
        json(data("youtube/run1.json"))
    });
    let f = Fetcher::new(FetchConfig {
        total_timeout: Duration::from_millis(300),
        allow_private_networks: true,
        ..FetchConfig::default()
    })
    .unwrap();
    let endpoints = Endpoints::all_at(&Url::parse(&slow.url("/")).unwrap());
    let out = social::run(&f, &q, &Cursor::default(), &endpoints, 10).await;
    let e = out.error.unwrap();
    assert!(matches!(e, SocialError::Transport { transient: true, .. }), "{e:?}");
    assert!(e.to_string().starts_with("YouTube: timed out"), "{e}");
    assert!(!e.to_string().contains("AIzaSySECRET"), "{e}");
    assert!(e.to_string().contains("key=REDACTED"), "{e}");
}

#[tokio::test]
async fn mastodon_runs_page_forward_until_an_empty_page() {
    let server = TestServer::start(|req| {
        let body = match param(req, "min_id").as_deref() {
            None => data("mastodon/tag_first.json"),
            Some("116180000000000300") => data("mastodon/tag_min_id_page1.json"),
            Some("116180000000000500") => data("mastodon/tag_min_id_page2.json"),
            Some(_) => b"[]".to_vec(),
        };
        json(body).header(
            "Link",
            "<https://mastodon.social/api/v1/timelines/tag/acme?max_id=1>; rel=\"next\", \
             <https://mastodon.social/api/v1/timelines/tag/acme?min_id=2>; rel=\"prev\"",
        )
    });
    let q = SocialQuery::Mastodon {
        instance: Url::parse(&server.url("/")).unwrap(),
        hashtag: Some("AcmeEnergie".into()),
        search: None,
    };
    let f = fetcher();
    let e = Endpoints::default();
    let run1 = social::run(&f, &q, &Cursor::default(), &e, 10).await;
    assert_eq!(run1.items.len(), 3);
    let run2 = social::run(&f, &q, &restart(&run1.cursor), &e, 10).await;
    assert_eq!(ids(&run2.items), ["116180000000000500", "116180000000000400", "116180000000000600"]);
    assert_eq!(run2.pages, 3, "two pages with statuses, then an empty one");
    let run3 = social::run(&f, &q, &restart(&run2.cursor), &e, 10).await;
    assert!(run3.items.is_empty() && run3.error.is_none());
    assert_eq!(run3.pages, 1);
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths[0], "/api/v1/timelines/tag/AcmeEnergie?limit=40");
    assert_eq!(paths.last().unwrap(), "/api/v1/timelines/tag/AcmeEnergie?limit=40&min_id=116180000000000600");
}

#[tokio::test]
async fn the_page_bound_stops_a_run_and_the_next_run_continues_the_walk() {
    let server = walking_server("reddit", "after", "t3_1j3b004");
    let q = SocialQuery::Reddit { query: "acme energie".into(), subreddit: None };
    let f = fetcher();
    let e = Endpoints::all_at(&Url::parse(&server.url("/")).unwrap());
    let run1 = social::run(&f, &q, &Cursor::default(), &e, 1).await;
    // One page per run: run 2 stops mid-walk, run 3 (after a restart) finishes it.
    let run2 = social::run(&f, &q, &restart(&run1.cursor), &e, 1).await;
    assert_eq!(run2.pages, 1);
    assert!(run2.cursor.walking());
    assert_eq!(run2.cursor.high_water, run1.cursor.high_water, "the mark waits for the walk to end");
    let run3 = social::run(&f, &q, &restart(&run2.cursor), &e, 1).await;
    assert!(!run3.cursor.walking());
    let all: Vec<String> = [ids(&run1.items), ids(&run2.items), ids(&run3.items)].concat();
    assert_eq!(all.len(), 8);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 8);
    assert_eq!(param(&server.requests()[2], "after").as_deref(), Some("t3_1j3b004"));
}

#[tokio::test]
async fn errors_over_http_are_named_and_keep_what_came_before() {
    // 429 with Retry-After on the second page: the first page's items and
    // cursor are kept, the error carries the delay.
    let hits = Arc::new(Mutex::new(0));
    let server = TestServer::start(move |req| {
        let mut n = hits.lock().unwrap();
        *n += 1;
        match (*n, param(req, "after")) {
            (1, _) => json(data("reddit/run1.json")),
            (2, None) => json(data("reddit/run2_page1.json")),
            _ => Response::new(429).header("Retry-After", "42").body("Too Many Requests"),
        }
    });
    let q = SocialQuery::Reddit { query: "acme energie".into(), subreddit: None };
    let f = fetcher();
    let e = Endpoints::all_at(&Url::parse(&server.url("/")).unwrap());
    let run1 = social::run(&f, &q, &Cursor::default(), &e, 10).await;
    let run2 = social::run(&f, &q, &restart(&run1.cursor), &e, 10).await;
    assert_eq!(run2.items.len(), 3);
    assert!(run2.cursor.walking(), "the walk resumes where the error stopped it");
    let err = run2.error.unwrap();
    assert_eq!(err.retry_after(), Some(RetryAfter::Delay(Duration::from_secs(42))));
    assert_eq!(err.to_string(), "Reddit: HTTP 429: rate limited (retry after 42 s)");

    // Reddit's block page with a 200.
    let blocked = TestServer::start(|_| Response::ok(data("reddit/blocked.html")).header("Content-Type", "text/html"));
    let e = Endpoints::all_at(&Url::parse(&blocked.url("/")).unwrap());
    let out = social::run(&f, &q, &Cursor::default(), &e, 10).await;
    assert!(matches!(out.error, Some(SocialError::NotJson { .. })), "{:?}", out.error);
    assert_eq!(out.cursor, Cursor::default());

    // 401 on Mastodon search; 503 on Bluesky.
    let denied = TestServer::start(|req| {
        if req.path.starts_with("/api/v2/search") {
            Response::new(401).header("Content-Type", "application/json").body(data("mastodon/error_401.json"))
        } else {
            Response::new(503).header("Retry-After", "5")
        }
    });
    let q = SocialQuery::Mastodon {
        instance: Url::parse(&denied.url("/")).unwrap(),
        hashtag: None,
        search: Some("acme".into()),
    };
    let out = social::run(&f, &q, &Cursor::default(), &Endpoints::default(), 10).await;
    let err = out.error.unwrap();
    assert!(matches!(err, SocialError::Auth { status: 401, .. }), "{err:?}");
    assert!(err.to_string().contains("watch a hashtag instead"), "{err}");
    let e = Endpoints::all_at(&Url::parse(&denied.url("/")).unwrap());
    let out = social::run(&f, &SocialQuery::Bluesky { query: "acme".into() }, &Cursor::default(), &e, 10).await;
    let err = out.error.unwrap();
    assert!(err.is_transient());
    assert_eq!(err.retry_after(), Some(RetryAfter::Delay(Duration::from_secs(5))));
}

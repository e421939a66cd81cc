//! Politeness over HTTP on 127.0.0.1: per-host slots and delays, robots.txt
//! for scraped pages, error bodies reaching the social parsers.
//!
//! Timing assertions are lower bounds on enforced delays (a slow machine
//! only makes them easier to meet), or orderings, never speed limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use url::Url;
use vigie_collect::social::{self, Cursor, Endpoints, SocialError, SocialQuery};
use vigie_collect::{FetchConfig, FetchError, FetchOutcome, FetchRequest, Fetcher, HostPolicy, PRODUCT_TOKEN};
use vigie_testkit::http::{Response, TestServer};

fn config(max_concurrent: usize, min_delay: Duration) -> FetchConfig {
    FetchConfig {
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(10),
        allow_private_networks: true,
        host_policy: HostPolicy { max_concurrent, min_delay },
        ..FetchConfig::default()
    }
}

fn fetcher(config: FetchConfig) -> Fetcher {
    Fetcher::new(config).unwrap()
}

/// Fetches every URL at once, in one task each.
async fn fetch_all(f: &Fetcher, urls: Vec<String>) -> Vec<Result<FetchOutcome, FetchError>> {
    let tasks: Vec<_> = urls
        .into_iter()
        .map(|url| {
            let f = f.clone();
            tokio::spawn(async move { f.fetch(&FetchRequest::new(url)).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn gaps(arrivals: &[Instant]) -> Vec<Duration> {
    let mut sorted = arrivals.to_vec();
    sorted.sort();
    sorted.windows(2).map(|w| w[1] - w[0]).collect()
}

// ---------------------------------------------------------------- per host

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_starts_to_one_host_are_spaced_by_the_min_delay() {
    let server = TestServer::start(|_| Response::ok("ok"));
    let f = fetcher(config(8, Duration::from_millis(400)));
    let urls = (0..4).map(|i| server.url(&format!("/p{i}"))).collect();
    for r in fetch_all(&f, urls).await {
        r.unwrap();
    }
    let arrivals: Vec<Instant> = server.arrivals().into_iter().map(|(at, _)| at).collect();
    assert_eq!(arrivals.len(), 4);
    // Starts are 400 ms apart; arrivals may differ by the connection set-up.
    for gap in gaps(&arrivals) {
        assert!(gap >= Duration::from_millis(300), "requests arrived {gap:?} apart: {arrivals:?}");
    }
    assert!(
        arrivals.iter().max().unwrap().duration_since(*arrivals.iter().min().unwrap()) >= Duration::from_millis(1100)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_than_max_concurrent_requests_to_one_host() {
    let server = TestServer::start(|_| Response::ok("slow").delayed(Duration::from_millis(400)));
    let f = fetcher(config(2, Duration::ZERO));
    let started = Instant::now();
    let urls = (0..6).map(|i| server.url(&format!("/slow{i}"))).collect();
    for r in fetch_all(&f, urls).await {
        r.unwrap();
    }
    assert_eq!(server.hits(), 6);
    assert_eq!(server.max_in_flight(), 2, "two slots, both used, never more");
    // Six answers of 400 ms, two at a time.
    assert!(started.elapsed() >= Duration::from_millis(1200), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_hosts_do_not_wait_on_each_other() {
    // One slot per host and 30 s between starts: a request that waited for
    // another host would arrive 30 s late.
    let slow = || TestServer::start(|_| Response::ok("slow").delayed(Duration::from_secs(2)));

    // One server, two host names: 127.0.0.1:port and localhost:port are two hosts.
    let server = slow();
    let port = server.addr.port();
    let f = fetcher(config(1, Duration::from_secs(30)));
    let urls = vec![format!("http://127.0.0.1:{port}/a"), format!("http://localhost:{port}/b")];
    for r in fetch_all(&f, urls).await {
        r.unwrap();
    }
    // Both were being answered at once.
    assert_eq!(server.max_in_flight(), 2);

    // Two servers on two ports of one address: two hosts as well.
    let (server, other) = (slow(), slow());
    let f = fetcher(config(1, Duration::from_secs(30)));
    let urls = vec![server.url("/c"), other.url("/d")];
    for r in fetch_all(&f, urls).await {
        r.unwrap();
    }
    let first = server.arrivals()[0].0;
    let second = other.arrivals()[0].0;
    let gap = second.max(first) - second.min(first);
    assert!(gap < Duration::from_secs(10), "arrived {gap:?} apart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_the_host_does_not_count_against_the_timeout() {
    let server = TestServer::start(|_| Response::ok("ok"));
    let f =
        fetcher(FetchConfig { total_timeout: Duration::from_millis(1000), ..config(1, Duration::from_millis(700)) });
    let started = Instant::now();
    let urls = (0..3).map(|i| server.url(&format!("/q{i}"))).collect();
    // The third starts 1.4 s after the first, past the 1 s timeout.
    for r in fetch_all(&f, urls).await {
        r.unwrap();
    }
    assert!(started.elapsed() >= Duration::from_millis(1400));
    assert_eq!(server.hits(), 3);
}

// ------------------------------------------------------------- robots.txt

fn robots_server(robots: &'static str) -> TestServer {
    TestServer::start(move |req| match req.path.as_str() {
        "/robots.txt" => Response::ok(robots).header("Content-Type", "text/plain"),
        _ => Response::ok("<html><body>page</body></html>").header("Content-Type", "text/html"),
    })
}

fn fast() -> Fetcher {
    fetcher(config(2, Duration::ZERO))
}

async fn page(f: &Fetcher, url: String) -> Result<FetchOutcome, FetchError> {
    f.fetch_page(&FetchRequest::new(url)).await
}

#[tokio::test]
async fn robots_txt_allows_and_disallows_pages() {
    let server = robots_server("User-agent: *\nDisallow: /private\nAllow: /private/ok\n");
    let f = fast();
    page(&f, server.url("/public")).await.unwrap();
    page(&f, server.url("/private/ok/page")).await.unwrap();

    let err = page(&f, server.url("/private/x?y=1")).await.unwrap_err();
    assert!(matches!(&err, FetchError::RobotsDisallowed { url } if *url == server.url("/private/x?y=1")), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("robots.txt of 127.0.0.1:{} does not allow Vigie to fetch /private/x?y=1", server.addr.port())
    );
    assert!(!err.is_transient());
    assert!(server.requests_to("/private/x?y=1").is_empty(), "a disallowed page is never requested");

    // Pages are asked for as HTML, robots.txt as text, both with our User-Agent.
    let sent = &server.requests_to("/public")[0];
    assert!(sent.header("accept").unwrap().starts_with("text/html"));
    let robots = &server.requests_to("/robots.txt")[0];
    assert!(robots.header("accept").unwrap().starts_with("text/plain"));
    let ua = robots.header("user-agent").unwrap();
    assert!(ua.starts_with(&format!("{PRODUCT_TOKEN}/")), "{ua}");

    // Feeds and APIs do not ask robots.txt.
    let before = server.requests_to("/robots.txt").len();
    f.fetch(&FetchRequest::new(server.url("/private/feed.xml"))).await.unwrap();
    assert_eq!(server.requests_to("/robots.txt").len(), before);
}

#[tokio::test]
async fn robots_txt_is_fetched_once_per_origin_and_spaced_like_any_request() {
    let server = robots_server("User-agent: *\nDisallow: /no\n");
    let f = fetcher(config(2, Duration::from_millis(300)));
    page(&f, server.url("/one")).await.unwrap();
    page(&f, server.url("/two")).await.unwrap();
    assert!(page(&f, server.url("/no")).await.is_err());
    // Concurrent pages wait for the one robots.txt request.
    let g = fast();
    let (a, b) = tokio::join!(page(&g, server.url("/three")), page(&g, server.url("/four")));
    a.unwrap();
    b.unwrap();
    assert_eq!(server.requests_to("/robots.txt").len(), 2, "once per fetcher");

    // The robots.txt request took its turn like the pages: starts 300 ms apart.
    let arrivals = server.arrivals();
    let robots_at = arrivals.iter().find(|(_, r)| r.path == "/robots.txt").unwrap().0;
    let one_at = arrivals.iter().find(|(_, r)| r.path == "/one").unwrap().0;
    assert!(one_at - robots_at >= Duration::from_millis(200), "{:?}", one_at - robots_at);
}

#[tokio::test]
async fn our_product_token_group_beats_the_star_group() {
    let server = robots_server(
        "User-agent: *\nDisallow: /\n\n\
         User-agent: SomeBot\nUser-agent: vigie\nDisallow: /no\n",
    );
    let f = fast();
    page(&f, server.url("/yes")).await.unwrap();
    let err = page(&f, server.url("/no/x")).await.unwrap_err();
    assert!(matches!(err, FetchError::RobotsDisallowed { .. }), "{err:?}");
}

#[tokio::test]
async fn missing_robots_txt_allows_everything() {
    for status in [404, 403, 410] {
        let server = TestServer::start(move |req| match req.path.as_str() {
            "/robots.txt" => Response::new(status).body("<h1>nope</h1>"),
            _ => Response::ok("<p>page</p>"),
        });
        page(&fast(), server.url("/anything")).await.unwrap();
        assert_eq!(server.requests_to("/anything").len(), 1, "{status}");
    }
}

#[tokio::test]
async fn robots_txt_server_errors_disallow_everything_for_now() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/robots.txt" => Response::new(503).header("Retry-After", "120"),
        _ => Response::ok("<p>page</p>"),
    });
    let f = fast();
    let err = page(&f, server.url("/page")).await.unwrap_err();
    assert!(matches!(err, FetchError::RobotsUnavailable { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(err.retry_after(), Some(vigie_collect::RetryAfter::Delay(Duration::from_secs(120))));
    assert_eq!(
        err.to_string(),
        format!(
            "could not read the robots.txt of 127.0.0.1:{} (HTTP 503 Service Unavailable (retry after 120 s)); \
             its pages are not fetched until it answers",
            server.addr.port()
        )
    );
    assert!(server.requests_to("/page").is_empty());

    // A 500, and a site that does not answer at all.
    let broken = TestServer::start(|req| match req.path.as_str() {
        "/robots.txt" => Response::new(500),
        _ => Response::ok("<p>page</p>"),
    });
    let err = page(&f, broken.url("/page")).await.unwrap_err();
    assert!(matches!(err, FetchError::RobotsUnavailable { .. }) && err.is_transient(), "{err:?}");
    assert!(broken.requests_to("/page").is_empty());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = page(&f, format!("http://127.0.0.1:{port}/page")).await.unwrap_err();
    assert!(matches!(err, FetchError::RobotsUnavailable { .. }) && err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn robots_txt_redirects_are_followed_and_its_size_is_capped() {
    // 600 KiB of comments, then a rule: past the 500 KiB read, so ignored.
    let mut big = String::from("User-agent: *\nDisallow: /early\n");
    while big.len() < 600 * 1024 {
        big.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    big.push_str("Disallow: /late\n");
    let big: &'static str = Box::leak(big.into_boxed_str());
    let server = TestServer::start(move |req| match req.path.as_str() {
        "/robots.txt" => Response::new(301).header("Location", "/real-robots.txt"),
        "/real-robots.txt" => Response::ok(big),
        _ => Response::ok("<p>page</p>"),
    });
    let f = fast();
    assert!(matches!(page(&f, server.url("/early")).await, Err(FetchError::RobotsDisallowed { .. })));
    page(&f, server.url("/late")).await.unwrap();
    assert_eq!(server.requests_to("/real-robots.txt").len(), 1);
}

#[tokio::test]
async fn a_page_redirected_to_a_disallowed_path_is_dropped() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/robots.txt" => Response::ok("User-agent: *\nDisallow: /private\n"),
        "/moved" => Response::new(302).header("Location", "/private/page"),
        _ => Response::ok("<p>secret</p>"),
    });
    let err = page(&fast(), server.url("/moved")).await.unwrap_err();
    assert!(matches!(&err, FetchError::RobotsDisallowed { url } if *url == server.url("/private/page")), "{err:?}");
}

// ------------------------------------------------------------ social APIs

fn youtube_data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/testdata/social/youtube/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[tokio::test]
async fn a_youtube_quota_403_over_http_is_read_as_quota_limited() {
    let server = TestServer::start(|_| {
        Response::new(403)
            .header("Content-Type", "application/json; charset=UTF-8")
            .body(youtube_data("error_quota_exceeded.json"))
    });
    let q = SocialQuery::YouTube { channel_id: "UCx7Acme0000EnergieFr1Q".into(), api_key: "AIzaSySECRET".into() };
    let endpoints = Endpoints::all_at(&Url::parse(&server.url("/")).unwrap());
    let out = social::run(&fast(), &q, &Cursor::default(), &endpoints, 10).await;
    let err = out.error.unwrap();
    assert!(matches!(err, SocialError::QuotaExceeded { status: 403, .. }), "{err:?}");
    assert!(err.is_quota_limited());
    assert!(err.is_transient());
    assert!(err.to_string().starts_with("YouTube: HTTP 403: quota exceeded: The request cannot be completed"), "{err}");
    assert!(!err.to_string().contains("AIzaSySECRET"));
    // The API's own headers were sent.
    assert_eq!(server.requests()[0].header("accept"), Some("application/json"));
}

#[tokio::test]
async fn an_invalid_youtube_key_over_http_is_an_auth_error_not_a_quota() {
    let server = TestServer::start(|_| {
        Response::new(400).header("Content-Type", "application/json").body(youtube_data("error_key_invalid.json"))
    });
    let q = SocialQuery::YouTube { channel_id: "UCx7Acme0000EnergieFr1Q".into(), api_key: "AIzaSyBAD".into() };
    let endpoints = Endpoints::all_at(&Url::parse(&server.url("/")).unwrap());
    let err = social::run(&fast(), &q, &Cursor::default(), &endpoints, 10).await.error.unwrap();
    assert!(matches!(err, SocialError::Auth { .. }), "{err:?}");
    assert!(!err.is_quota_limited() && !err.is_transient());
}

//! Fetcher tests against a local server on 127.0.0.1 (no internet).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use vigie_collect::{
    FetchConfig, FetchError, FetchOutcome, FetchRequest, Fetcher, HostPolicy, MAX_ERROR_BODY_BYTES, RetryAfter,
    parse_feed,
};
use vigie_testkit::http::{Body, Response, TestServer};

const MIB: usize = 1024 * 1024;

/// Tests talk to 127.0.0.1, so private networks are allowed unless a test
/// says otherwise; no delay between requests (tests/polite.rs tests it).
fn local_config() -> FetchConfig {
    FetchConfig {
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(10),
        allow_private_networks: true,
        host_policy: HostPolicy { max_concurrent: 4, min_delay: Duration::ZERO },
        ..FetchConfig::default()
    }
}

fn fetcher(config: FetchConfig) -> Fetcher {
    Fetcher::new(config).unwrap()
}

fn rss() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rss20_fr_news.xml")).unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[tokio::test]
async fn etag_then_304_on_the_conditional_request() {
    let body = rss();
    let server = TestServer::start(move |req| {
        if req.header("if-none-match") == Some("\"v1\"") {
            Response::new(304).header("ETag", "\"v1\"")
        } else {
            Response::ok(body.clone())
                .header("Content-Type", "application/rss+xml; charset=utf-8")
                .header("ETag", "\"v1\"")
                .header("Last-Modified", "Tue, 03 Mar 2026 09:00:00 GMT")
        }
    });
    let f = fetcher(local_config());
    let url = server.url("/economie/rss.xml");

    let first = f.fetch(&FetchRequest::new(&url)).await.unwrap();
    let FetchOutcome::Fetched { body, content_type, etag, last_modified, final_url } = first else {
        panic!("expected a body, got {first:?}");
    };
    assert_eq!(body, rss());
    assert_eq!(content_type.as_deref(), Some("application/rss+xml; charset=utf-8"));
    assert_eq!(etag.as_deref(), Some("\"v1\""));
    assert_eq!(last_modified.as_deref(), Some("Tue, 03 Mar 2026 09:00:00 GMT"));
    assert_eq!(final_url, url);
    // Fetch, then parse: the whole path.
    let feed = parse_feed(&body, content_type.as_deref(), &final_url).unwrap();
    assert_eq!(feed.items.len(), 3);

    let again = FetchRequest { url: url.clone(), etag, last_modified, ..FetchRequest::default() };
    assert_eq!(f.fetch(&again).await.unwrap(), FetchOutcome::NotModified);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("if-none-match"), None);
    assert_eq!(requests[1].header("if-none-match"), Some("\"v1\""));
    assert_eq!(requests[1].header("if-modified-since"), Some("Tue, 03 Mar 2026 09:00:00 GMT"));
    assert!(requests[0].header("user-agent").unwrap().starts_with("Vigie/"));
    assert!(requests[0].header("accept").unwrap().contains("application/rss+xml"));
}

#[tokio::test]
async fn gzip_encoded_body_is_decompressed() {
    let server = TestServer::start(|req| {
        let accepts = req.header("accept-encoding").unwrap_or_default();
        assert!(accepts.contains("gzip") && accepts.contains("br") && accepts.contains("deflate"), "{accepts}");
        Response::ok(gzip(&rss())).header("Content-Encoding", "gzip").header("Content-Type", "application/rss+xml")
    });
    let out = fetcher(local_config()).fetch(&FetchRequest::new(server.url("/feed.xml"))).await.unwrap();
    let FetchOutcome::Fetched { body, .. } = out else { panic!("{out:?}") };
    assert_eq!(body, rss());
}

#[tokio::test]
async fn streamed_body_over_the_cap_is_abandoned_without_reading_it_all() {
    // 50 MB in 64 KiB chunks, chunked encoding: no Content-Length to reject early.
    let chunk = vec![b'x'; 64 * 1024];
    let server = TestServer::start(move |_| Response::ok("").with(Body::Chunked { chunk: chunk.clone(), count: 763 }));
    let started = Instant::now();
    let err = fetcher(local_config()).fetch(&FetchRequest::new(server.url("/big"))).await.unwrap_err();
    assert!(matches!(err, FetchError::BodyTooLarge { limit } if limit == 10 * MIB as u64), "{err}");
    assert_eq!(err.to_string(), "response body is larger than the 10 MiB limit");
    assert!(!err.is_transient());
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    // Socket buffers take a few MB more than the cap, not the remaining 40 MB.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let written = server.body_bytes_written();
    assert!(written < 30 * MIB as u64, "server wrote {written} bytes");
}

#[tokio::test]
async fn declared_length_over_the_cap_is_refused_before_reading() {
    let server = TestServer::start(|_| {
        Response::ok("").with(Body::Endless { declared: 50_000_000, chunk: vec![b'y'; 64 * 1024] })
    });
    let config = FetchConfig { max_body_bytes: MIB as u64, ..local_config() };
    let started = Instant::now();
    let err = fetcher(config).fetch(&FetchRequest::new(server.url("/big"))).await.unwrap_err();
    assert!(matches!(err, FetchError::BodyTooLarge { .. }), "{err}");
    assert_eq!(err.to_string(), "response body is larger than the 1 MiB limit");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn gzip_bomb_is_stopped_at_the_cap_of_decompressed_bytes() {
    // 64 MiB of zeros compress to about 64 KiB: far below the cap on the wire.
    let bomb = gzip(&vec![0u8; 64 * MIB]);
    assert!(bomb.len() < 200 * 1024, "bomb is {} bytes", bomb.len());
    let server = TestServer::start(move |_| {
        Response::ok(bomb.clone()).header("Content-Encoding", "gzip").header("Content-Type", "application/rss+xml")
    });
    let started = Instant::now();
    let err = fetcher(local_config()).fetch(&FetchRequest::new(server.url("/bomb.xml"))).await.unwrap_err();
    assert!(matches!(err, FetchError::BodyTooLarge { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn trickling_server_hits_the_total_timeout() {
    let server = TestServer::start(|_| {
        Response::ok("").with(Body::Trickle { bytes: vec![b'z'; 100], every: Duration::from_secs(1) })
    });
    let config = FetchConfig { total_timeout: Duration::from_secs(2), ..local_config() };
    let started = Instant::now();
    let err = fetcher(config).fetch(&FetchRequest::new(server.url("/slow"))).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, FetchError::Timeout { after, .. } if after == Duration::from_secs(2)), "{err}");
    assert!(err.is_transient());
    assert!(err.to_string().starts_with("timed out after 2 s fetching http://127.0.0.1:"), "{err}");
    assert!(elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(4), "took {elapsed:?}");
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/loop" => Response::new(302).header("Location", "/loop"),
        "/old" => Response::new(301).header("Location", "/older"),
        "/older" => Response::new(302).header("Location", "/feed.xml"),
        "/feed.xml" => Response::ok(rss()),
        "/to-file" => Response::new(302).header("Location", "file:///etc/passwd"),
        _ => Response::new(404),
    });
    let f = fetcher(local_config());

    let out = f.fetch(&FetchRequest::new(server.url("/old"))).await.unwrap();
    let FetchOutcome::Fetched { final_url, .. } = out else { panic!("{out:?}") };
    assert_eq!(final_url, server.url("/feed.xml"));

    let before = server.hits();
    let err = f.fetch(&FetchRequest::new(server.url("/loop"))).await.unwrap_err();
    assert!(matches!(err, FetchError::TooManyRedirects { max: 5, .. }), "{err}");
    assert!(err.to_string().starts_with("too many redirects (more than 5)"), "{err}");
    assert!(!err.is_transient());
    // The first request and five redirects followed.
    assert_eq!(server.hits() - before, 6);

    // A redirect reqwest will not follow (another scheme) is explained, not reported as "HTTP 302".
    let err = f.fetch(&FetchRequest::new(server.url("/to-file"))).await.unwrap_err();
    assert!(err.to_string().contains("unsupported URL scheme \"file\""), "{err}");
}

#[tokio::test]
async fn a_redirect_does_not_send_the_source_address_as_referer() {
    let target = TestServer::start(|req| match req.path.as_str() {
        "/feed.xml" => Response::ok(rss()),
        _ => Response::new(404),
    });
    let to = target.url("/feed.xml");
    let source = TestServer::start(move |_| Response::new(302).header("Location", &to));
    let f = fetcher(local_config());

    let secret = source.url("/private/feed?token=s3cr3t-t0ken");
    let out = f.fetch(&FetchRequest::new(&secret)).await.unwrap();
    let FetchOutcome::Fetched { final_url, .. } = out else { panic!("{out:?}") };
    assert_eq!(final_url, target.url("/feed.xml"));
    let requests = target.requests_to("/feed.xml");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("referer"), None, "{:?}", requests[0]);
    assert!(requests.iter().all(|r| r.headers.iter().all(|(_, v)| !v.contains("s3cr3t"))));
}

#[tokio::test]
async fn error_statuses_carry_the_status_and_retry_after() {
    let server = TestServer::start(|req| match req.path.as_str() {
        "/missing" => Response::new(404).body("<h1>Not here</h1>"),
        "/broken" => Response::new(500),
        "/busy" => Response::new(429).header("Retry-After", "7"),
        "/down" => Response::new(503).header("Retry-After", "Wed, 04 Mar 2026 10:00:00 GMT"),
        _ => Response::new(200),
    });
    let f = fetcher(local_config());
    let get = |path: &str| {
        let req = FetchRequest::new(server.url(path));
        let f = f.clone();
        async move { f.fetch(&req).await.unwrap_err() }
    };

    let e = get("/missing").await;
    assert_eq!(e.to_string(), "HTTP 404 Not Found");
    assert_eq!(e.status(), Some(404));
    assert!(!e.is_transient());

    let e = get("/broken").await;
    assert_eq!(e.to_string(), "HTTP 500 Internal Server Error");
    assert!(e.is_transient());
    assert_eq!(e.retry_after(), None);

    let e = get("/busy").await;
    assert_eq!(e.retry_after(), Some(RetryAfter::Delay(Duration::from_secs(7))));
    assert_eq!(e.to_string(), "HTTP 429 Too Many Requests (retry after 7 s)");
    assert!(e.is_transient());

    let e = get("/down").await;
    let at = Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0).unwrap();
    assert_eq!(e.retry_after(), Some(RetryAfter::At(at)));
    assert!(e.is_transient());
}

#[tokio::test]
async fn private_addresses_are_refused_by_default() {
    let server = TestServer::start(|_| Response::ok(rss()));
    let f = fetcher(FetchConfig::default());
    assert!(!f.config().allow_private_networks);

    // An IP literal is checked before anything is sent.
    let err = f.fetch(&FetchRequest::new(server.url("/feed.xml"))).await.unwrap_err();
    assert!(matches!(err, FetchError::Refused(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "refused: 127.0.0.1 is a loopback address (set VIGIE_ALLOW_PRIVATE_NETWORK=true to allow intranet sources)"
    );
    assert!(!err.is_transient());

    // A host name is checked after resolution, by the resolver.
    let by_name = format!("http://localhost:{}/feed.xml", server.addr.port());
    let err = f.fetch(&FetchRequest::new(&by_name)).await.unwrap_err();
    assert!(matches!(err, FetchError::Refused(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with("refused: localhost resolves to "), "{msg}");
    assert!(msg.ends_with(", a loopback address (set VIGIE_ALLOW_PRIVATE_NETWORK=true to allow intranet sources)"));

    // Other spellings of the same addresses.
    for url in [
        format!("http://[::1]:{}/", server.addr.port()),
        format!("http://2130706433:{}/", server.addr.port()),
        format!("http://[::ffff:127.0.0.1]:{}/", server.addr.port()),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://0.0.0.0/".to_string(),
    ] {
        let err = f.fetch(&FetchRequest::new(&url)).await.unwrap_err();
        assert!(matches!(err, FetchError::Refused(_)), "{url}: {err:?}");
    }
    assert_eq!(server.hits(), 0, "nothing may reach the server");
}

#[tokio::test]
async fn private_addresses_are_allowed_when_configured() {
    let server = TestServer::start(|_| Response::ok(rss()));
    let f = fetcher(FetchConfig { allow_private_networks: true, ..FetchConfig::default() });
    for url in [server.url("/feed.xml"), format!("http://localhost:{}/feed.xml", server.addr.port())] {
        let out = f.fetch(&FetchRequest::new(&url)).await.unwrap();
        assert!(matches!(out, FetchOutcome::Fetched { .. }), "{url}");
    }
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn bad_urls_and_dead_servers() {
    let f = fetcher(local_config());
    let err = f.fetch(&FetchRequest::new("not a url")).await.unwrap_err();
    assert!(matches!(err, FetchError::InvalidUrl { .. }), "{err}");
    assert!(!err.is_transient());

    let err = f.fetch(&FetchRequest::new("file:///etc/passwd")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported URL scheme \"file\" in file:///etc/passwd (only http and https are fetched)"
    );

    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = f.fetch(&FetchRequest::new(format!("http://127.0.0.1:{port}/"))).await.unwrap_err();
    assert!(matches!(err, FetchError::Connect { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(err.to_string().starts_with(&format!("could not connect to http://127.0.0.1:{port}/")), "{err}");
    assert!(err.to_string().ends_with("tcp connect error: Connection refused (os error 111)"), "{err}");
}

#[tokio::test]
async fn invalid_stored_validators_are_not_sent() {
    let server = TestServer::start(|_| Response::ok(rss()));
    let req = FetchRequest {
        url: server.url("/feed.xml"),
        etag: Some("bad\r\nInjected: yes".to_string()),
        last_modified: Some("  ".to_string()),
        ..FetchRequest::default()
    };
    let out = fetcher(local_config()).fetch(&req).await.unwrap();
    assert!(matches!(out, FetchOutcome::Fetched { .. }));
    let sent = &server.requests()[0];
    assert_eq!(sent.header("if-none-match"), None);
    assert_eq!(sent.header("injected"), None);
    assert_eq!(sent.header("if-modified-since"), None);
}

#[tokio::test]
async fn error_statuses_keep_the_start_of_their_body_and_its_type() {
    let problem = br#"{"error":{"code":403,"message":"quota","errors":[{"reason":"quotaExceeded"}]}}"#;
    let server = TestServer::start(move |req| match req.path.as_str() {
        "/json" => Response::new(403).header("Content-Type", "application/json; charset=UTF-8").body(problem.to_vec()),
        "/gzip" => Response::new(500)
            .header("Content-Encoding", "gzip")
            .header("Content-Type", "text/plain")
            .body(gzip(b"database is down")),
        // 50 MB of error page: only the first 64 KiB are read.
        "/huge" => Response::new(502).with(Body::Endless { declared: 50_000_000, chunk: vec![b'e'; 64 * 1024] }),
        _ => Response::new(404),
    });
    let f = fetcher(local_config());
    let get = |path: &str| {
        let req = FetchRequest::new(server.url(path));
        let f = f.clone();
        async move { f.fetch(&req).await.unwrap_err() }
    };

    let e = get("/json").await;
    let FetchError::Status { status, body, content_type, .. } = &e else { panic!("{e:?}") };
    assert_eq!(*status, 403);
    assert_eq!(body.as_slice(), problem);
    assert_eq!(content_type.as_deref(), Some("application/json; charset=UTF-8"));
    // The body is kept for the caller, not put in the message.
    assert_eq!(e.to_string(), "HTTP 403 Forbidden");

    let e = get("/gzip").await;
    let FetchError::Status { body, .. } = &e else { panic!("{e:?}") };
    assert_eq!(body.as_slice(), b"database is down");
    assert!(e.is_transient());

    let e = get("/huge").await;
    let FetchError::Status { status, body, .. } = &e else { panic!("{e:?}") };
    assert_eq!(*status, 502);
    assert_eq!(body.len(), MAX_ERROR_BODY_BYTES);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let written = server.body_bytes_written();
    assert!(written < 30 * MIB as u64, "server wrote {written} bytes");
}

#[tokio::test]
async fn extra_headers_are_sent_and_bad_ones_refused_before_sending() {
    let server = TestServer::start(|_| Response::ok("{}"));
    let f = fetcher(local_config());
    let req = FetchRequest::new(server.url("/api")).header("Accept", "application/json").header("X-Api-Version", "2");
    f.fetch(&req).await.unwrap();
    let sent = &server.requests()[0];
    // The request's Accept replaces the feed default.
    assert_eq!(sent.header("accept"), Some("application/json"));
    assert_eq!(sent.header("x-api-version"), Some("2"));

    for (name, value, reason) in [
        ("X-Bad", "a\r\nInjected: yes", "the value holds a line break or another character a header cannot carry"),
        ("Bad Name", "x", "not a valid header name"),
        ("", "x", "not a valid header name"),
        ("Host", "example.org", "the fetcher sets this header itself"),
        ("user-agent", "Mozilla/5.0", "the fetcher sets this header itself"),
    ] {
        let req = FetchRequest::new(server.url("/api")).header(name, value);
        let err = f.fetch(&req).await.unwrap_err();
        assert!(matches!(&err, FetchError::InvalidHeader { name: n, .. } if n == name), "{err:?}");
        assert_eq!(err.to_string(), format!("invalid request header {name:?}: {reason}"));
        assert!(!err.is_transient());
    }
    let long = FetchRequest::new(server.url("/api")).header("X-Long", "v".repeat(9000));
    let err = f.fetch(&long).await.unwrap_err();
    assert!(err.to_string().ends_with("longer than 8 KiB"), "{err}");
    assert_eq!(server.hits(), 1, "no bad request may be sent");
}

#[tokio::test]
async fn a_stopped_fetcher_sends_no_get_but_still_posts() {
    let server = TestServer::start(|_| Response::ok(rss()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let f = fetcher(local_config()).with_stop(stopped);
    let req = FetchRequest { url: server.url("/feed.xml"), ..FetchRequest::default() };
    assert!(matches!(f.fetch(&req).await, Ok(FetchOutcome::Fetched { .. })));
    stop.send_replace(true);
    let err = f.fetch(&req).await.unwrap_err();
    assert!(matches!(err, FetchError::Stopped), "{err}");
    assert_eq!(err.to_string(), "not fetched: stopping");
    assert_eq!(server.requests().len(), 1, "the second GET was not sent");
    // A webhook being delivered is not a new fetch: it goes out.
    f.post(&server.url("/hook"), &[("Content-Type".into(), "application/json".into())], b"{}".to_vec()).await.unwrap();
    assert_eq!(server.requests().len(), 2);
}

//! Webhooks against a local HTTP server on 127.0.0.1: what is sent, how it
//! is signed, and how each failure is reported (transient or permanent).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use serde_json::Value;
use vigie_collect::{FetchConfig, FetchError, Fetcher, HostPolicy};
use vigie_notify::{DeliveryError, Language, WebhookTarget, send_webhook, verify_signature};
use vigie_testkit::http::{Body, Response, TestServer};

use common::{HOSTILE, alert, at, mentions, notice};

fn fetcher(allow_private_networks: bool) -> Fetcher {
    Fetcher::new(FetchConfig {
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(5),
        allow_private_networks,
        host_policy: HostPolicy { max_concurrent: 4, min_delay: Duration::ZERO },
        ..FetchConfig::default()
    })
    .unwrap()
}

fn target(server: &TestServer, secret: Option<&str>) -> WebhookTarget {
    WebhookTarget { url: server.url("/hooks/T000/B000/SECRETTOKEN"), secret: secret.map(str::to_string) }
}

async fn send(server: &TestServer, secret: Option<&str>) -> Result<(), DeliveryError> {
    let (a, ms) = (alert(), mentions());
    send_webhook(&fetcher(true), &target(server, secret), &notice(&a, &ms), at(11, 5)).await
}

#[tokio::test]
async fn posts_signed_json_with_a_slack_text_field() {
    let server = TestServer::start(|_| Response::ok("ok").header("Content-Type", "text/plain"));
    send(&server, Some("whsec_test")).await.unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/hooks/T000/B000/SECRETTOKEN");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("x-vigie-event"), Some("42-3"));
    let timestamp = req.header("x-vigie-timestamp").unwrap();
    assert_eq!(timestamp, at(11, 5).timestamp().to_string());
    assert!(req.header("user-agent").unwrap().starts_with("Vigie/"));

    let signature = req.header("x-vigie-signature").unwrap();
    assert!(verify_signature("whsec_test", timestamp, &req.body, signature));
    assert!(!verify_signature("another secret", timestamp, &req.body, signature));
    assert!(!verify_signature("whsec_test", "1", &req.body, signature));

    let json: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(json["event_id"], "42-3");
    assert_eq!(json["project"], "Acme");
    assert_eq!(json["watch"], "SNCF retards");
    let alert = &json["alert"];
    assert_eq!(alert["id"], 42);
    assert_eq!(alert["rule"], "negative_surge");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["status"], "open");
    assert_eq!(alert["events"], 3);
    assert_eq!(alert["evidence"]["observed"], 57.0);
    assert_eq!(alert["evidence"]["expected"], 8.2);
    assert_eq!(alert["evidence"]["terms"][0], "retard");
    assert_eq!(alert["opened_at"], "2026-03-01T10:05:00Z");
    assert_eq!(alert["url"], "https://vigie.example.org/p/1/alerts/42");
    let mentions = json["mentions"].as_array().unwrap();
    assert_eq!(mentions.len(), 2);
    assert_eq!(mentions[0]["id"], 101);
    assert_eq!(mentions[0]["url"], "https://social.example/@jd/101");
    assert_eq!(mentions[0]["vigie_url"], "https://vigie.example.org/p/1/mentions/101");
    assert_eq!(mentions[1]["url"], Value::Null, "a javascript: URL is not passed on");

    let text = json["text"].as_str().unwrap();
    assert!(text.contains("57 negative mentions") && text.contains("about 8.2"), "{text}");
    assert!(text.contains("<https://vigie.example.org/p/1/alerts/42|Open alert #42 in Vigie>"), "{text}");
    assert!(text.contains("<https://social.example/@jd/101|"), "{text}");
}

#[tokio::test]
async fn a_french_channel_gets_french_text_and_the_same_data() {
    let server = TestServer::start(|_| Response::ok("ok"));
    let (mut a, ms) = (alert(), mentions());
    a.title = "Surge of negative mentions about SNCF retards: 57 in 1 h, 8.2 expected".into();
    for lang in [Language::Fr, Language::En] {
        let n = vigie_notify::Notice { lang, ..notice(&a, &ms) };
        send_webhook(&fetcher(true), &target(&server, None), &n, at(11, 5)).await.unwrap();
    }
    let requests = server.requests();
    let fr: Value = serde_json::from_slice(&requests[0].body).unwrap();
    let en: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!((fr["lang"].as_str(), en["lang"].as_str()), (Some("fr"), Some("en")));
    let text = fr["text"].as_str().unwrap();
    assert!(
        text.starts_with(":rotating_light: *CRITIQUE · Hausse des mentions négatives* — Acme / SNCF retards"),
        "{text}"
    );
    assert!(text.contains("Observé\u{a0}: *57 mentions négatives* · attendu environ 8,2"), "{text}");
    assert!(text.contains("<https://vigie.example.org/p/1/alerts/42|Ouvrir l’alerte #42 dans Vigie>"), "{text}");
    assert!(!text.contains("<script>") && !text.contains("@here") && !text.contains("<!channel>"), "{text}");
    assert_eq!(
        fr["alert"]["title"],
        "Hausse des mentions négatives pour la veille SNCF retards : 57 en 1 h, 8,2 attendues"
    );
    assert_eq!(en["alert"]["title"], "Surge of negative mentions about SNCF retards: 57 in 1 h, 8.2 expected");
    // The data is data: the same whatever the language.
    for field in ["event_id", "project", "watch", "mentions"] {
        assert_eq!(fr[field], en[field], "{field}");
    }
    for field in ["id", "rule", "severity", "status", "evidence", "opened_at", "url"] {
        assert_eq!(fr["alert"][field], en["alert"][field], "{field}");
    }
}

#[tokio::test]
async fn unsigned_without_a_secret() {
    let server = TestServer::start(|_| Response::ok("ok"));
    send(&server, None).await.unwrap();
    send(&server, Some("")).await.unwrap();
    for req in server.requests() {
        assert_eq!(req.header("x-vigie-signature"), None);
        assert!(req.header("x-vigie-timestamp").is_some());
    }
}

#[tokio::test]
async fn hostile_mention_text_is_escaped_in_the_text_field() {
    let server = TestServer::start(|_| Response::ok("ok"));
    send(&server, None).await.unwrap();
    let json: Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
    let text = json["text"].as_str().unwrap();
    assert!(!text.contains("<script>") && text.contains("&lt;script&gt;"), "{text}");
    assert!(!text.contains("<!channel>") && !text.contains("<@U024BE7LH>"), "{text}");
    assert!(!text.contains("@here"), "{text}");
    assert!(!text.contains("javascript:"), "{text}");
    assert!(!text.contains("<img"), "{text}");
    // The data fields carry the text as text (JSON-escaped, for the receiver to escape in turn).
    assert_eq!(json["mentions"][1]["text"], HOSTILE);
}

#[tokio::test]
async fn server_errors_are_transient() {
    let server = TestServer::start(|_| Response::new(500).body("upstream down"));
    let err = send(&server, None).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.retry_after(), None);
    let msg = err.to_string();
    assert!(msg.contains("HTTP 500") && msg.contains("upstream down"), "{msg}");
    assert!(!msg.contains("SECRETTOKEN"), "the URL's path is a secret: {msg}");
    assert!(msg.contains(&format!("http://{}/…", server.addr)), "{msg}");
}

#[tokio::test]
async fn too_many_requests_is_transient_with_the_receivers_delay() {
    let server = TestServer::start(|_| Response::new(429).header("Retry-After", "120"));
    let err = send(&server, None).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));

    // An HTTP date is counted from the attempt's `now` (11:05).
    let server = TestServer::start(|_| Response::new(503).header("Retry-After", "Sun, 01 Mar 2026 11:15:00 GMT"));
    let err = send(&server, None).await.unwrap_err();
    assert!(err.is_transient());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(600)));
}

#[tokio::test]
async fn gone_and_other_client_errors_are_permanent() {
    let server = TestServer::start(|_| Response::new(410).body("no_service"));
    let err = send(&server, None).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains("no_service"), "the receiver's reason is shown: {err}");

    for (status, transient) in [(400, false), (401, false), (404, false), (408, true), (502, true)] {
        let server = TestServer::start(move |_| Response::new(status));
        let err = send(&server, None).await.unwrap_err();
        assert_eq!(err.is_transient(), transient, "{status}: {err}");
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = TestServer::start(|req| {
        if req.path == "/moved" { Response::ok("ok") } else { Response::new(301).header("Location", "/moved") }
    });
    let err = send(&server, None).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains("redirects are not followed"), "{err}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let server = TestServer::start(|_| Response::ok("ok"));
    let (a, ms) = (alert(), mentions());
    let n = notice(&a, &ms);
    let public_only = fetcher(false);
    for url in [
        server.url("/hook"),
        "http://10.1.2.3/hook".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://[::ffff:127.0.0.1]:9/hook".to_string(),
        "http://localhost:1/hook".to_string(),
    ] {
        let t = WebhookTarget { url: url.clone(), secret: None };
        let err = send_webhook(&public_only, &t, &n, at(11, 5)).await.unwrap_err();
        assert!(!err.is_transient(), "{url}: {err}");
        assert!(err.to_string().contains("refused"), "{url}: {err}");
        assert!(err.to_string().contains("VIGIE_ALLOW_PRIVATE_NETWORK"), "{url}: {err}");
    }
    assert_eq!(server.hits(), 0, "nothing reached the loopback server");

    // The same URL with private networks allowed (an intranet receiver).
    let t = WebhookTarget { url: server.url("/hook"), secret: None };
    send_webhook(&fetcher(true), &t, &n, at(11, 5)).await.unwrap();
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn invalid_urls_are_permanent() {
    let (a, ms) = (alert(), mentions());
    let n = notice(&a, &ms);
    for url in ["not a url", "ftp://example.org/hook", "javascript:alert(1)", "file:///etc/passwd", ""] {
        let t = WebhookTarget { url: url.to_string(), secret: None };
        let err = send_webhook(&fetcher(true), &t, &n, at(11, 5)).await.unwrap_err();
        assert!(!err.is_transient(), "{url:?}: {err}");
    }
}

#[tokio::test]
async fn connection_errors_and_timeouts_are_transient() {
    // A port nobody listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (a, ms) = (alert(), mentions());
    let n = notice(&a, &ms);
    let t = WebhookTarget { url: format!("http://127.0.0.1:{port}/hooks/SECRETTOKEN"), secret: None };
    let err = send_webhook(&fetcher(true), &t, &n, at(11, 5)).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("could not connect"), "{err}");
    assert!(!err.to_string().contains("SECRETTOKEN"), "{err}");

    // A receiver slower than the fetcher's total timeout.
    let server = TestServer::start(|_| Response::ok("late").delayed(Duration::from_secs(4)));
    let slow = Fetcher::new(FetchConfig {
        total_timeout: Duration::from_secs(1),
        allow_private_networks: true,
        host_policy: HostPolicy { max_concurrent: 4, min_delay: Duration::ZERO },
        ..FetchConfig::default()
    })
    .unwrap();
    let t = WebhookTarget { url: server.url("/hooks/SECRETTOKEN"), secret: None };
    let started = std::time::Instant::now();
    let err = send_webhook(&slow, &t, &n, at(11, 5)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("no answer within 1 s"), "{err}");
    assert!(!err.to_string().contains("SECRETTOKEN"), "{err}");
}

#[tokio::test]
async fn fetcher_post_caps_the_reply_and_checks_headers() {
    let server = TestServer::start(|_| Response::ok(vec![b'x'; 200 * 1024]));
    let f = fetcher(true);
    let out = f.post(&server.url("/p"), &[], b"{}".to_vec()).await.unwrap();
    assert_eq!(out.status, 200);
    assert_eq!(out.body.len(), vigie_collect::MAX_ERROR_BODY_BYTES, "the reply is cut, the POST succeeded");
    let req = &server.requests()[0];
    assert_eq!(req.body, b"{}");
    assert!(req.header("accept").unwrap().starts_with("application/json"));

    let server = TestServer::start(|_| Response::ok("ok").with(Body::Chunked { chunk: b"ok".to_vec(), count: 3 }));
    let out = f.post(&server.url("/p"), &[("Accept".into(), "text/plain".into())], Vec::new()).await.unwrap();
    assert_eq!(out.body, b"okokok");
    assert_eq!(server.requests()[0].header("accept"), Some("text/plain"));

    let err = f.post(&server.url("/p"), &[("Host".into(), "evil".into())], Vec::new()).await.unwrap_err();
    assert!(matches!(err, FetchError::InvalidHeader { .. }), "{err}");
    let err = f.post(&server.url("/p"), &[("X-A".into(), "a\r\nX-B: b".into())], Vec::new()).await.unwrap_err();
    assert!(matches!(err, FetchError::InvalidHeader { .. }), "{err}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn fetcher_post_waits_for_the_hosts_politeness_slot() {
    let server = TestServer::start(|_| Response::ok("ok"));
    let f = Fetcher::new(FetchConfig {
        allow_private_networks: true,
        host_policy: HostPolicy { max_concurrent: 1, min_delay: Duration::from_millis(300) },
        ..FetchConfig::default()
    })
    .unwrap();
    let url = server.url("/p");
    let (a, b) = tokio::join!(f.post(&url, &[], Vec::new()), f.post(&url, &[], Vec::new()));
    a.unwrap();
    b.unwrap();
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 2);
    assert!(arrivals[1].0.duration_since(arrivals[0].0) >= Duration::from_millis(250));
}

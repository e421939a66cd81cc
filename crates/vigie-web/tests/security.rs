//! Access control on every route, the OpenAPI document against the route
//! table, sessions, CSRF, login throttling and security headers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Utc;
use common::{Client, PASSWORD, TestApp};
use serde_json::json;
use vigie_model::Role;
use vigie_web::{Access, RouteDoc};

/// The route's path with its parameters filled: the test project, and ids
/// that do not exist (a handler that gets that far answers 404 or 400).
fn concrete(app: &TestApp, path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{pid}" => app.project.id.to_string(),
            s if s.starts_with('{') => "999999".to_string(),
            s => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn call(client: &Client, route: &RouteDoc, path: &str) -> common::Answer {
    use axum::http::Method;
    match route.method {
        Method::GET => client.get(path).await,
        Method::POST if !route.api => client.post_form(path, &[]).await,
        Method::POST => client.post_json(path, &json!({})).await,
        Method::PUT => client.put_json(path, &json!({})).await,
        Method::PATCH => client.json(reqwest::Method::PATCH, path, &json!({})).await,
        Method::DELETE => client.delete(path).await,
        ref other => panic!("unexpected method {other}"),
    }
}

fn routes(app: &TestApp) -> Vec<RouteDoc> {
    vigie_web::routes(app.state.clone()).docs
}

/// Routes that end or open a session are left out of the role sweep (they
/// would log the sweeping client out or in); their own tests cover them.
fn sweepable(r: &RouteDoc) -> bool {
    !matches!(r.path, "/logout" | "/login" | "/api/v1/session" | "/account/password" | "/account")
}

/// Project routes without the project in the path take it from a token.
fn token_only(r: &RouteDoc) -> bool {
    matches!(r.access, Access::Project(_)) && !r.path.contains("{pid}")
}

#[tokio::test]
async fn every_project_route_refuses_the_roles_below_its_own() {
    let app = TestApp::start().await;
    let mut clients = Vec::new();
    for role in Role::ALL {
        clients.push((role, app.login(role.as_str()).await));
    }
    let mut checked = 0;
    for route in routes(&app).iter().filter(|r| sweepable(r) && !token_only(r)) {
        let Access::Project(needed) = route.access else { continue };
        let path = concrete(&app, route.path);
        for (role, client) in &clients {
            let answer = call(client, route, &path).await;
            if *role < needed {
                assert_eq!(answer.status, 403, "{role} on {} {}: {}", route.method, route.path, answer.text);
            } else {
                assert!(
                    ![401, 403, 405].contains(&answer.status),
                    "{role} on {} {} got {}: {}",
                    route.method,
                    route.path,
                    answer.status,
                    answer.text
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} checks: routes missing?");
}

#[tokio::test]
async fn tokens_act_with_their_role_and_only_in_their_project() {
    let app = TestApp::start().await;
    let other = app.store.ensure_project("other", Utc::now()).await.unwrap();
    for role in Role::ALL {
        let client = app.token(role).await;
        for route in routes(&app).iter().filter(|r| r.api && sweepable(r)) {
            let Access::Project(needed) = route.access else { continue };
            let path = concrete(&app, route.path);
            let answer = call(&client, route, &path).await;
            if role < needed {
                assert_eq!(answer.status, 403, "token {role} on {} {}: {}", route.method, route.path, answer.text);
            } else {
                assert!(
                    ![401, 403].contains(&answer.status),
                    "token {role} on {} {}: {}",
                    route.method,
                    route.path,
                    answer.text
                );
            }
            if route.path.contains("{pid}") {
                let elsewhere = path.replacen(&format!("/{}", app.project.id), &format!("/{}", other.id), 1);
                let answer = call(&client, route, &elsewhere).await;
                assert_eq!(answer.status, 404, "token of acme on {elsewhere}: {}", answer.text);
            }
        }
    }
}

#[tokio::test]
async fn outsiders_anonymous_and_non_admins_are_kept_out() {
    let app = TestApp::start().await;
    let outsider = app.login("outsider").await;
    let anonymous = app.anonymous();
    let manager = app.login("manager").await;
    let root = app.login("root").await;
    for route in routes(&app).iter().filter(|r| sweepable(r)) {
        let path = concrete(&app, route.path);
        match route.access {
            Access::Public => {}
            Access::Project(_) if token_only(route) => {
                let a = call(&root, route, &path).await;
                assert_eq!(a.status, 400, "a session on a token route is told where to go: {}", a.text);
            }
            Access::Project(_) => {
                let a = call(&outsider, route, &path).await;
                assert_eq!(a.status, 404, "outsider on {} {}: {}", route.method, route.path, a.text);
                // The installation admin is admin of every project.
                let a = call(&root, route, &path).await;
                assert!(
                    ![401, 403, 405].contains(&a.status) && !a.text.contains("no such project"),
                    "root on {} {} got {}: {}",
                    route.method,
                    route.path,
                    a.status,
                    a.text
                );
            }
            Access::SiteAdmin => {
                let a = call(&manager, route, &path).await;
                assert_eq!(a.status, 403, "manager on {} {}", route.method, route.path);
            }
            Access::LoggedIn => {}
        }
        if route.access != Access::Public {
            let a = call(&anonymous, route, &path).await;
            if !route.api {
                // Pages, and their forms: to the login page.
                assert_eq!(a.status, 303, "anonymous {} {}", route.method, route.path);
                assert!(a.location().unwrap().starts_with("/login?next="), "{:?}", a.location());
            } else {
                assert_eq!(a.status, 401, "anonymous {} {}: {}", route.method, route.path, a.text);
            }
        }
    }
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_api_routes() {
    let app = TestApp::start().await;
    let doc = app.anonymous().get("/api/v1/openapi.json").await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let api: Vec<RouteDoc> = routes(&app).into_iter().filter(|r| r.api).collect();
    let documented: usize = paths.values().map(|ops| ops.as_object().unwrap().len()).sum();
    assert_eq!(documented, api.len(), "documented operations vs registered API routes");
    for r in &api {
        let op = &paths[r.path][r.method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{} {} missing from openapi.json", r.method, r.path);
        assert_eq!(op["summary"], r.summary);
        if r.path.contains("{pid}") {
            assert!(op["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "pid"), "{}", r.path);
        }
    }
    // Every documented path answers (no 404 "nothing at", no 405) for the root admin.
    let root = app.login("root").await;
    for r in api.iter().filter(|r| sweepable(r)) {
        let a = call(&root, r, &concrete(&app, r.path)).await;
        assert_ne!(a.status, 405, "{} {}", r.method, r.path);
        assert!(!a.text.contains("nothing at"), "{} {} is documented but not routed", r.method, r.path);
    }
    let codes: Vec<&str> = doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(codes.contains(&"forbidden") && codes.contains(&"csrf_failed"), "{codes:?}");
}

#[tokio::test]
async fn changes_with_a_session_need_the_csrf_token() {
    let app = TestApp::start().await;
    let mut manager = app.login("manager").await;
    let good = manager.csrf.clone();
    manager.csrf = Some("forged".into());
    let a = manager.post_json(&app.api("/alerts/1/acknowledge"), &json!({})).await;
    assert_eq!(a.status, 403);
    assert_eq!(a.json()["code"], "csrf_failed");
    manager.csrf = None;
    let a = manager.post_form(&app.p("/alerts/1/status"), &[("status", "resolved")]).await;
    assert_eq!(a.status, 403);
    assert!(a.text.contains("did not come from Vigie"), "{}", a.text);
    manager.csrf = good;
    let a = manager.post_json(&app.api("/alerts/1/acknowledge"), &json!({})).await;
    assert_eq!(a.status, 404, "with the token the request reaches the handler: {}", a.text);
}

#[tokio::test]
async fn login_sets_a_safe_cookie_and_failures_are_throttled() {
    let app = TestApp::start().await;
    let anon = app.anonymous();
    let page = anon.get("/login").await;
    assert_eq!(page.status, 200);
    let form = |user: &str, pass: &str| {
        let c = app.anonymous();
        let (user, pass) = (user.to_string(), pass.to_string());
        async move { c.post_form("/login", &[("username", &user), ("password", &pass), ("next", "/p/1/inbox")]).await }
    };
    let ok = form("agent", PASSWORD).await;
    assert_eq!(ok.status, 303);
    assert_eq!(ok.location(), Some("/p/1/inbox"));
    let cookie = ok.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http on loopback: {cookie}");

    // An open redirect is refused: `next` must be a local path.
    let evil = app
        .anonymous()
        .post_form("/login", &[("username", "agent"), ("password", PASSWORD), ("next", "//evil.example/")])
        .await;
    assert_eq!(evil.location(), Some("/"));

    for _ in 0..5 {
        let bad = form("viewer", "wrong password!").await;
        assert_eq!(bad.status, 401);
        assert!(bad.text.contains("Wrong username or password") || bad.text.contains("incorrect"), "{}", bad.text);
    }
    let locked = form("viewer", PASSWORD).await;
    assert_eq!(locked.status, 429, "the right password is refused while throttled");
    let api = app.anonymous().post_json("/api/v1/session", &json!({"username": "viewer", "password": PASSWORD})).await;
    assert_eq!(api.status, 429);
    assert_eq!(api.json()["code"], "rate_limited");
    // Another person is not affected.
    assert_eq!(form("manager", PASSWORD).await.status, 303);
}

#[tokio::test]
async fn guesses_sent_all_at_once_are_counted_as_if_sent_in_turn() {
    let app = TestApp::start().await;
    let guesses: Vec<_> = (0..12)
        .map(|i| {
            let c = app.anonymous();
            tokio::spawn(async move {
                c.post_json("/api/v1/session", &json!({"username": "viewer", "password": format!("wrong guess {i}")}))
                    .await
                    .status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for g in guesses {
        statuses.push(g.await.unwrap());
    }
    statuses.sort_unstable();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (5, 7), "five guesses per account and address, however they are sent: {statuses:?}");
    let right =
        app.anonymous().post_json("/api/v1/session", &json!({"username": "viewer", "password": PASSWORD})).await;
    assert_eq!(right.status, 429);
}

#[tokio::test]
async fn the_current_password_of_a_password_change_is_throttled_like_a_login() {
    let app = TestApp::start().await;
    let agent = app.login("agent").await;
    for _ in 0..5 {
        let wrong = agent
            .post_form("/account/password", &[("current", "not my password"), ("new", "a brand new password 42")])
            .await;
        assert_eq!(wrong.status, 400);
        assert!(wrong.text.contains("current password is wrong"), "{}", wrong.text);
    }
    let right =
        agent.post_form("/account/password", &[("current", PASSWORD), ("new", "a brand new password 42")]).await;
    assert_eq!(right.status, 429, "{}", right.text);
    assert!(right.text.contains("Too many failed attempts"), "{}", right.text);
    // Nothing changed: the old password is still the one.
    let (_, hash) = app.store.user_by_name("agent").await.unwrap().unwrap();
    assert!(vigie_web::auth::verify_password(PASSWORD, &hash));
}

#[tokio::test]
async fn wrong_current_passwords_from_many_places_meet_the_accounts_own_limit() {
    let app = TestApp::start().await;
    let agent = app.login("agent").await;
    let change = |from: String, current: &'static str| {
        let (http, url) = (agent.http.clone(), app.url("/account/password"));
        let (cookie, csrf) = (agent.cookie.clone().unwrap(), agent.csrf.clone().unwrap());
        async move {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("current", current), ("new", "a brand new password 42"), ("_csrf", csrf.as_str())])
                .finish();
            http.post(url)
                .header("cookie", cookie)
                .header("x-forwarded-for", from)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // One guess from each of twenty places (a session behind many proxies).
    for i in 0..20 {
        assert_eq!(change(format!("203.0.113.{i}"), "not my password").await, 400, "guess {i}");
    }
    assert_eq!(change("198.51.100.1".into(), PASSWORD).await, 429, "the account's own limit");
    // Logins are not held by it: its owner can still log in.
    let login = app.anonymous().post_json("/api/v1/session", &json!({"username": "agent", "password": PASSWORD})).await;
    assert_eq!(login.status, 200, "{}", login.text);
}

#[tokio::test]
async fn routes_open_to_anyone_read_small_bodies_only() {
    let app = TestApp::start().await;
    let big = "x".repeat(100 * 1024);
    let form = app.anonymous().post_form("/login", &[("username", "agent"), ("password", &big)]).await;
    assert_eq!(form.status, 413, "{}", form.text);
    assert!(form.text.contains("64 kio") || form.text.contains("64 KiB"), "{}", form.text);
    let api = app.anonymous().post_json("/api/v1/session", &json!({"username": "agent", "password": big})).await;
    assert_eq!(api.status, 413, "{}", api.text);
    assert_eq!(api.json()["code"], "payload_too_large");
    assert!(api.json()["message"].as_str().unwrap().contains("64 kio"), "{}", api.text);
    // A logged-in person's forms still take large bodies (a long reply).
    let agent = app.login("agent").await;
    let reply = agent.post_form(&app.p("/inbox/bulk"), &[("reply", &big)]).await;
    assert_ne!(reply.status, 413, "{}", reply.text);
}

/// A login from `client` as a reverse proxy on loopback reports it.
async fn login_via_proxy(app: &TestApp, client: &str, password: &str) -> u16 {
    let r = app
        .anonymous()
        .http
        .post(app.url("/api/v1/session"))
        .header("x-forwarded-for", format!("198.51.100.77, {client}"))
        .json(&json!({"username": "viewer", "password": password}))
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

#[tokio::test]
async fn behind_a_proxy_on_the_machine_each_client_has_its_own_count() {
    let app = TestApp::start().await;
    for _ in 0..5 {
        assert_eq!(login_via_proxy(&app, "203.0.113.5", "wrong!").await, 401);
    }
    assert_eq!(login_via_proxy(&app, "203.0.113.5", PASSWORD).await, 429, "the guesser is stopped");
    assert_eq!(login_via_proxy(&app, "203.0.113.6", PASSWORD).await, 200, "the owner, elsewhere, is not");
}

#[tokio::test]
async fn an_untrusted_peer_cannot_choose_its_address() {
    let config = vigie_web::WebConfig { trusted_proxies: Vec::new(), ..Default::default() };
    let app = TestApp::start_with(config).await;
    for _ in 0..5 {
        assert_eq!(login_via_proxy(&app, "203.0.113.5", "wrong!").await, 401);
    }
    assert_eq!(login_via_proxy(&app, "203.0.113.6", PASSWORD).await, 429, "X-Forwarded-For is ignored");
}

#[tokio::test]
async fn a_login_form_sent_from_another_site_is_refused() {
    let app = TestApp::start().await;
    let base = app.url("");
    let host = base.trim_start_matches("http://").trim_end_matches('/').to_string();
    let post = |headers: Vec<(&'static str, String)>| {
        let anon = app.anonymous();
        let url = app.url("/login");
        async move {
            let mut r = anon
                .http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("username=agent&password={PASSWORD}&next=%2F"));
            for (k, v) in headers {
                r = r.header(k, v);
            }
            let response = r.send().await.unwrap();
            let status = response.status().as_u16();
            let cookie = response.headers().get("set-cookie").is_some();
            (status, cookie, response.text().await.unwrap())
        }
    };
    // A page elsewhere posting the login form (login CSRF): refused, no session.
    for headers in [
        vec![("sec-fetch-site", "cross-site".to_string())],
        vec![("sec-fetch-site", "same-site".to_string())],
        vec![("origin", "https://evil.example".to_string())],
        vec![("origin", "null".to_string())],
        vec![("origin", format!("http://{host}")), ("sec-fetch-site", "cross-site".to_string())],
    ] {
        let (status, cookie, text) = post(headers.clone()).await;
        assert_eq!((status, cookie), (403, false), "{headers:?}");
        assert!(text.contains("another site") || text.contains("autre site"), "{text}");
    }
    // Vigie's own page, a browser opening it directly, and clients that say
    // nothing (scripts) log in.
    for headers in [
        vec![("sec-fetch-site", "same-origin".to_string()), ("origin", format!("http://{host}"))],
        vec![("sec-fetch-site", "none".to_string())],
        vec![("origin", format!("http://{host}"))],
        vec![
            ("origin", "https://vigie.example.com".to_string()),
            ("x-forwarded-host", "vigie.example.com".to_string()),
        ],
        vec![],
    ] {
        let (status, cookie, _) = post(headers.clone()).await;
        assert_eq!((status, cookie), (303, true), "{headers:?}");
    }
}

#[tokio::test]
async fn secure_cookies_behind_tls_and_headers_on_every_answer() {
    let app = TestApp::start().await;
    let r = app
        .anonymous()
        .http
        .post(app.url("/api/v1/session"))
        .header("x-forwarded-proto", "https")
        .json(&json!({"username": "agent", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
    for path in ["/login", "/api/v1/health", "/nowhere", "/static/app.css"] {
        let a = app.anonymous().get(path).await;
        let csp = a.headers.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(a.headers.get("x-frame-options").unwrap(), "DENY");
        assert_eq!(a.headers.get("x-content-type-options").unwrap(), "nosniff");
    }
    let missing = app.anonymous().get("/api/v1/nothing").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "not_found");
    // An icon, where pages say and where browsers look without asking.
    let login = app.anonymous().get("/login").await;
    assert!(
        login.text.contains("<link rel=\"icon\" type=\"image/svg+xml\" href=\"/static/icon.svg\">"),
        "{}",
        login.text
    );
    for path in ["/static/icon.svg", "/favicon.ico"] {
        let icon = app.anonymous().get(path).await;
        assert_eq!(icon.status, 200, "{path}");
        assert_eq!(icon.headers.get("content-type").unwrap(), "image/svg+xml");
        assert!(icon.text.starts_with("<svg"), "{path}");
    }
}

#[tokio::test]
async fn a_one_time_password_must_be_changed_first() {
    let app = TestApp::start().await;
    let id = app.user_id("agent").await;
    let hash = vigie_web::auth::hash_password("one time pass 1").unwrap();
    app.store.set_password(id, &hash, true).await.unwrap();
    let r = app
        .anonymous()
        .post_json("/api/v1/session", &json!({"username": "agent", "password": "one time pass 1"}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["must_change_password"], true);
    let cookie = r.headers.get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let csrf = r.json()["csrf_token"].as_str().unwrap().to_string();
    let client =
        Client { http: app.anonymous().http, base: app.url(""), cookie: Some(cookie), csrf: Some(csrf), bearer: None };
    // The page asked for is where the password change leads (a link in an e-mail).
    let page = client.get(&app.p("/overview")).await;
    assert_eq!(page.status, 303);
    let wanted = format!("/account/password?next=%2Fp%2F{}%2Foverview", app.project.id);
    assert_eq!(page.location(), Some(wanted.as_str()));
    let form = client.get(&wanted).await;
    assert!(form.text.contains(&format!("name=\"next\" value=\"/p/{}/overview\"", app.project.id)), "{}", form.text);
    let api = client.get(&app.api("/overview")).await;
    assert_eq!(api.status, 403);
    let short = client.post_form("/account/password", &[("current", "one time pass 1"), ("new", "short")]).await;
    assert!(short.text.contains("at least 10 characters"), "{}", short.text);
    assert_eq!(short.status, 400, "a refused change is a bad request, shown as the form");
    let next = app.p("/overview");
    let fields = [("current", "one time pass 1"), ("new", "my own long password"), ("next", next.as_str())];
    let done = client.post_form("/account/password", &fields).await;
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(done.location(), Some(next.as_str()));
    let fresh = done.headers.get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let again = Client { cookie: Some(fresh), ..client };
    assert_eq!(again.get(&app.p("/overview")).await.status, 200);
    let log = app.store.audit_log(None, None, 10).await.unwrap();
    assert!(log.iter().any(|e| e.action == "user.password"), "{log:?}");
}

/// A watch "Acme" and a fresh mention of it with a trigger term: the push
/// runs the rules, which open an alert; the project's alerts.
async fn arnaque_alerts(app: &TestApp) -> Vec<vigie_model::Alert> {
    let watch = vigie_store::NewWatch { name: "Acme".into(), query: "acme".into(), competitor: false, langs: vec![] };
    app.store.add_watch(app.project.id, watch, Utc::now()).await.unwrap();
    app.push(json!([{"url": "https://forum.example.fr/t/9", "text": "Acme est une arnaque, je porte plainte.",
                     "source": "forum", "lang": "fr", "published_at": chrono::Utc::now().to_rfc3339()}]))
        .await;
    app.store.alerts(app.project.id, None, 10).await.unwrap()
}

#[tokio::test]
async fn a_channels_error_is_shown_to_managers_not_viewers() {
    let app = TestApp::start().await;
    let channel = vigie_store::NewChannel {
        kind: "email".into(),
        target: "com@example.fr".into(),
        secret: None,
        min_severity: vigie_model::Severity::Info,
        lang: vigie_model::Language::En,
    };
    app.store.add_channel(app.project.id, channel, Utc::now()).await.unwrap();
    let alert = arnaque_alerts(&app).await.remove(0);
    let now = Utc::now();
    let due = app.store.claim_due_deliveries(now, 10, "test", std::time::Duration::from_secs(60)).await.unwrap();
    let error = "535 5.7.8 Authentication failed for relay user smtp-acme@mail.internal";
    let failed = vigie_store::DeliveryRecord::Failed { at: now, error: error.into() };
    app.store.record_delivery(due[0].id, failed).await.unwrap();
    let api = app.api(&format!("/alerts/{}", alert.id));
    let manager = app.login("manager").await.get(&api).await.json();
    assert_eq!(manager["deliveries"][0]["last_error"], error);
    let viewer = app.login("viewer").await;
    let seen = viewer.get(&api).await.json();
    assert_eq!(seen["deliveries"][0]["status"], "failed");
    assert!(seen["deliveries"][0]["last_error"].is_null(), "{seen}");
    let page = viewer.get(&app.p(&format!("/alerts/{}", alert.id))).await.text;
    assert!(!page.contains("Authentication failed") && page.contains("(shown to managers)"), "{page}");

    // Who acknowledged it is on the alert, for everyone.
    let agent = app.login("agent").await;
    let acked = agent.post_json(&app.api(&format!("/alerts/{}/acknowledge", alert.id)), &json!({})).await.json();
    assert_eq!(acked["acknowledged_by"], "agent", "{acked}");
    let page = viewer.get(&app.p(&format!("/alerts/{}", alert.id))).await.text;
    assert!(page.contains("Acknowledged") && page.contains(" · agent"), "{page}");
}

#[tokio::test]
async fn alert_titles_are_shown_in_the_readers_language() {
    let app = TestApp::start().await;
    let alerts = arnaque_alerts(&app).await;
    // One mention, two terms: one alert, under the first term of the list.
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert =
        alerts.iter().find(|a| a.evidence.terms == ["arnaqu*", "plainte*"]).expect("an alert for the trigger term");
    assert_eq!(alert.title, "“arnaqu*” in mentions of Acme", "the stored title stays English");
    let french = "«\u{a0}arnaqu*\u{a0}» dans les mentions de la veille Acme";

    let english_reader = app.login("manager").await;
    let detail = app.p(&format!("/alerts/{}", alert.id));
    for path in [app.p("/alerts"), detail.clone(), app.p("/overview")] {
        let page = english_reader.get(&path).await;
        assert!(page.text.contains("“arnaqu*” in mentions of Acme"), "{path}: {}", page.text);
        assert!(!page.text.contains(french), "{path}");
    }
    let (mut user, _) = app.store.user_by_name("manager").await.unwrap().unwrap();
    user.lang = "fr".into();
    app.store.update_user(&user, &vigie_store::ChangedBy::unsigned(chrono::Utc::now())).await.unwrap();
    let french_reader = app.login("manager").await;
    for path in [app.p("/alerts"), detail.clone(), app.p("/overview")] {
        let page = french_reader.get(&path).await;
        assert!(page.text.contains(french), "{path}: {}", page.text);
        assert!(!page.text.contains("in mentions of Acme"), "{path}: {}", page.text);
    }
    // The API keeps the stored title, whoever asks.
    let api = french_reader.get(&app.api("/alerts")).await.json();
    let titles: Vec<&str> = api["items"].as_array().unwrap().iter().filter_map(|a| a["title"].as_str()).collect();
    assert!(titles.contains(&"“arnaqu*” in mentions of Acme"), "{api}");
}

#[tokio::test]
async fn the_alert_list_api_pages_with_a_cursor() {
    let app = TestApp::start().await;
    let first = arnaque_alerts(&app).await;
    for i in 0..4 {
        let mut alert = first[0].clone();
        alert.id = 0;
        alert.dedup_key = format!("paging:{i}");
        alert.title = format!("alert {i}");
        let fold: vigie_store::AlertFold = Box::new(move |_| Some((alert, false)));
        let at = Utc::now();
        app.store
            .merge_alert(app.project.id, &format!("paging:{i}"), at - chrono::Duration::hours(1), at, fold)
            .await
            .unwrap();
    }
    let agent = app.login("agent").await;
    let (mut seen, mut cursor) = (Vec::new(), String::new());
    for page in 0.. {
        assert!(page < 5, "the pages never end");
        let v = agent.get(&app.api(&format!("/alerts?limit=2&cursor={cursor}"))).await.json();
        seen.extend(v["items"].as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()));
        match v["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    let all: Vec<i64> = app.store.alerts(app.project.id, None, 100).await.unwrap().iter().map(|a| a.id).collect();
    assert_eq!((seen.len(), &seen), (5, &all));
    let bad = agent.get(&app.api("/alerts?cursor=yesterday")).await;
    assert_eq!(bad.status, 400);
    assert!(bad.json()["message"].as_str().unwrap().contains("next_cursor"));
}

#[tokio::test]
async fn notification_links_open_the_alert_and_mention_pages() {
    let app = TestApp::start().await;
    let alerts = arnaque_alerts(&app).await;
    let alert = alerts.first().expect("an alert for the trigger term");
    let mid = *alert.mention_ids.first().expect("the alert names its mention");
    let stored = app.store.mention(app.project.id, mid).await.unwrap().unwrap().mention;
    let mentions = [vigie_notify::AlertMention {
        id: mid,
        url: stored.url.clone(),
        title: None,
        text: stored.text.clone(),
        author: None,
        published_at: stored.published_at,
        sentiment: None,
        reach: None,
    }];
    let base = app.url("");
    let notice = vigie_notify::Notice {
        alert,
        project: "Acme",
        watch: None,
        mentions: &mentions,
        base_url: Some(&base),
        lang: vigie_notify::Language::Fr,
        zone: vigie_model::zone::Tz::UTC,
        event_id: "1-1",
    };
    let rendered = vigie_notify::render(&notice);
    let links: Vec<&str> = rendered.text.split_whitespace().filter(|w| w.starts_with(&base)).collect();
    assert!(links.len() >= 2, "the alert and its mention: {}", rendered.text);
    let viewer = app.login("viewer").await;
    for link in &links {
        let r = viewer.get(&link[base.len()..]).await;
        assert_eq!(r.status, 200, "{link} must open a page: {}", r.text);
    }
    // In French, the alert's severity and its deliveries' states are French too.
    let r = viewer.post_form("/account", &[("display_name", "viewer person"), ("lang", "fr")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = viewer.get(&app.p(&format!("/alerts/{}", alert.id))).await;
    assert!(page.text.contains(">critique<") || page.text.contains(">attention<"), "{}", page.text);
    assert!(!page.text.contains(">critical<") && !page.text.contains(">warning<"), "{}", page.text);
}

#[tokio::test]
async fn the_start_page_opens_a_project_that_watches_something() {
    let app = TestApp::start().await;
    let root = app.login("root").await;
    // The test project watches nothing; another one does (an installation's
    // empty `default` project beside the demo).
    let other = app.store.ensure_project("zzz-watched", Utc::now()).await.unwrap();
    let watch = vigie_store::NewWatch { name: "Acme".into(), query: "acme".into(), competitor: false, langs: vec![] };
    app.store.add_watch(other.id, watch, Utc::now()).await.unwrap();
    let r = root.get("/").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location().unwrap(), format!("/p/{}/overview", other.id));
}

#[tokio::test]
async fn a_malformed_id_is_an_error_in_the_routes_own_form() {
    let app = TestApp::start().await;
    let viewer = app.login("viewer").await;
    let r = viewer.get(&app.api("/mentions/abc")).await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["code"], "invalid_request", "{}", r.text);
    assert!(v["message"].as_str().unwrap().contains("abc"), "{}", r.text);
    let r = viewer.get(&app.p("/mentions/abc")).await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("<!DOCTYPE html>") && r.text.contains("abc"), "{}", r.text);
}

#[tokio::test]
async fn refusals_speak_the_readers_language() {
    let app = TestApp::start().await;
    let mut viewer = app.login("viewer").await;
    let r = viewer.post_form("/account", &[("display_name", "viewer person"), ("lang", "fr")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    // A page above the reader's role.
    let r = viewer.post_form(&app.p("/watches"), &[("name", "x"), ("query", "x")]).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("votre rôle dans ce projet est lecteur ; il faut responsable ou plus"), "{}", r.text);
    // A form that did not come from Vigie.
    viewer.csrf = None;
    let r = viewer.post_form(&app.p("/watches"), &[("name", "x"), ("query", "x")]).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("le formulaire a expiré"), "{}", r.text);
    // An address that leads nowhere (no session: French by default).
    let r = app.anonymous().get("/nulle-part").await;
    assert_eq!(r.status, 404);
    assert!(r.text.contains("rien à l'adresse /nulle-part"), "{}", r.text);
    // A token is a script's: English unless it asks for French.
    let token = app.token(Role::Viewer).await;
    let r = token.post_json(&app.api("/watches"), &json!({"name": "x", "query": "x"})).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.json()["message"].as_str().unwrap().contains("your role in this project is viewer"), "{}", r.text);
    let r = token
        .http
        .post(app.url(&app.api("/watches")))
        .bearer_auth(token.bearer.as_deref().unwrap())
        .header("accept-language", "fr-FR,fr;q=0.9")
        .json(&json!({"name": "x", "query": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("votre rôle dans ce projet est lecteur ; il faut responsable ou plus"));
}

#[tokio::test]
async fn a_display_name_must_show_something() {
    let app = TestApp::start().await;
    let viewer = app.login("viewer").await;
    for name in ["\u{200b}\u{200b}\u{200b}", "  ", "\u{202e}\u{2066}", "a\u{7}b"] {
        let r = viewer.post_form("/account", &[("display_name", name), ("lang", "fr")]).await;
        assert_eq!(r.status, 400, "{name:?}: {}", r.text);
    }
    let r = viewer.post_form("/account", &[("display_name", "Zoë \u{1F600}"), ("lang", "fr")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    // Refused, the form comes back as typed, the message beside the name.
    let r = viewer.post_form("/account", &[("display_name", "  "), ("email", "zoe@example.fr"), ("lang", "en")]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let form = common::after(&r.text, "action=\"/account\"");
    assert!(form.contains("1 to 100 visible characters") || form.contains("1 à 100 caractères visibles"), "{form}");
    assert!(common::tag(form, "name=\"display_name\"").contains("aria-invalid=\"true\""), "{form}");
    assert!(common::tag(form, "name=\"email\"").contains("value=\"zoe@example.fr\""), "{form}");
    assert!(form.contains("<option value=\"en\" selected>"), "{form}");
}

/// Each person sets the address their escalation e-mails go to.
#[tokio::test]
async fn a_person_sets_and_clears_their_own_email_address() {
    let app = TestApp::start().await;
    let manager = app.login("manager").await;
    let email = || async { app.store.user_by_name("manager").await.unwrap().unwrap().0.email };
    let r = manager
        .post_form("/account", &[("display_name", "manager person"), ("email", " paul@example.fr "), ("lang", "fr")])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(email().await.as_deref(), Some("paul@example.fr"));
    assert!(manager.get("/account").await.text.contains("value=\"paul@example.fr\""));
    // Not an address: refused beside the field; absent: unchanged; empty: none.
    let r =
        manager.post_form("/account", &[("display_name", "manager person"), ("email", "paul@"), ("lang", "fr")]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(common::tag(&r.text, "name=\"email\"").contains("aria-invalid=\"true\""), "{}", r.text);
    let r = manager.post_form("/account", &[("display_name", "manager person"), ("lang", "fr")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(email().await.as_deref(), Some("paul@example.fr"));
    let r = manager.post_form("/account", &[("display_name", "manager person"), ("email", ""), ("lang", "fr")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(email().await, None);
}

#[tokio::test]
async fn guesses_from_elsewhere_do_not_lock_a_person_out() {
    let app = TestApp::start().await;
    let now = chrono::Utc::now();
    // Five wrong passwords for "viewer" from another address.
    for _ in 0..5 {
        app.store.record_login_failure("user:viewer", now).await.unwrap();
        app.store.record_login_failure("addr:203.0.113.9", now).await.unwrap();
        app.store.record_login_failure("pair:viewer@203.0.113.9", now).await.unwrap();
    }
    let form = [("username", "viewer"), ("password", PASSWORD), ("next", "/")];
    let first = app.anonymous();
    assert_eq!(first.post_form("/login", &form).await.status, 303, "the person logs in from their own address");
    // Guessing spread over many addresses is still stopped.
    for _ in 0..60 {
        app.store.record_login_failure("user:viewer", now).await.unwrap();
    }
    let second = app.anonymous();
    assert_eq!(second.post_form("/login", &form).await.status, 429);
    // A `next` that a browser would read as another site is refused.
    for next in ["/\t/evil.example", "/\\evil.example", "/%0A/evil", "//evil.example"] {
        let anon = app.anonymous();
        let r = anon.post_form("/login", &[("username", "manager"), ("password", PASSWORD), ("next", next)]).await;
        let location = r.location().unwrap_or_default().to_string();
        assert!(
            location == "/" || (location.starts_with('/') && !location.starts_with("//") && !location.contains('\t')),
            "{next:?} → {location:?}"
        );
    }
}

#[tokio::test]
async fn a_form_sent_after_the_session_ended_leads_to_the_login_and_back() {
    let app = TestApp::start().await;
    let page = app.p("/inbox");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap();
    // No session (logged out in another tab): the note's form goes to the
    // login page, which then leads back to the page the form was on.
    let r = http
        .post(app.url(&app.p("/inbox/1/note")))
        .header("referer", app.url(&format!("{page}?status=to_handle")))
        .header("accept-language", "fr-FR")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("text=une+note")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let next = format!(
        "/login?next={}",
        url::form_urlencoded::byte_serialize(format!("{page}?status=to_handle").as_bytes()).collect::<String>()
    );
    assert_eq!(r.headers()["location"], next.as_str());
    // Another site's page is not where the login leads.
    let r = http
        .post(app.url(&app.p("/inbox/1/note")))
        .header("referer", "https://evil.example/p/1/inbox")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("text=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/login?next=%2F");
    // The API still answers 401 with its message.
    let r = http.post(app.url(&app.api("/inbox/1/note"))).json(&json!({"text": "x"})).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

/// Reads what the server sends until it closes the connection; `None` if it
/// is still open after `within`.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, within: std::time::Duration) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut received)).await;
    match read {
        Ok(Ok(_)) | Ok(Err(_)) => Some(String::from_utf8_lossy(&received).into_owned()),
        Err(_) => None,
    }
}

/// Reads one answer's first bytes (its status line and headers).
async fn read_answer(stream: &mut tokio::net::TcpStream) -> String {
    let mut answer = vec![0u8; 8192];
    let n = tokio::io::AsyncReadExt::read(stream, &mut answer).await.unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

fn short_timeouts() -> vigie_web::Timeouts {
    use std::time::Duration;
    let second = Duration::from_secs(1);
    vigie_web::Timeouts { headers: second, body_idle: second, body_total: Duration::from_secs(3), write: second }
}

#[tokio::test]
async fn slow_or_silent_clients_are_cut_off_and_others_served() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    let app = TestApp::start_with(vigie_web::WebConfig { timeouts: short_timeouts(), ..Default::default() }).await;
    let connect = || tokio::net::TcpStream::connect(app.addr);
    let long_enough = Duration::from_secs(15);

    // A connection that never sends a request is closed.
    let mut silent = connect().await.unwrap();
    assert!(read_until_closed(&mut silent, long_enough).await.is_some(), "a silent connection stays open");

    // Headers sent a byte at a time, never finished: closed, without an answer.
    let mut dribbling = connect().await.unwrap();
    let mut cut = false;
    for byte in b"GET /api/v1/health HTTP/1.1\r\nHost: vigie\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if dribbling.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !cut {
        let closed =
            read_until_closed(&mut dribbling, long_enough).await.expect("dribbled headers keep the connection");
        assert!(!closed.contains("200 OK"), "{closed}");
    }

    // A body that stops half-way is refused, saying why: a small one (read
    // before the access checks)…
    let mut half_body = connect().await.unwrap();
    half_body
        .write_all(b"POST /api/v1/session HTTP/1.1\r\nHost: vigie\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\":")
        .await
        .unwrap();
    let answer = read_until_closed(&mut half_body, long_enough).await.expect("a half-sent body keeps the connection");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("the request body stopped coming for 1 s"), "{answer}");
    // …and a large form, read for its anti-CSRF token, that keeps coming
    // but not all of it within 3 s (sent for 2.5 s: a client still writing
    // when the server closes would see its answer lost to a reset).
    let manager = app.login("manager").await;
    let mut late_form = connect().await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: vigie\r\nCookie: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 200000\r\n\r\nname=",
        app.p("/watches"),
        manager.cookie.as_deref().unwrap()
    );
    late_form.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..25 {
        late_form.write_all(b"aaaaaaaaaa").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = read_until_closed(&mut late_form, long_enough).await.expect("a late form keeps the connection");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("did not arrive whole within 3 s"), "{answer}");

    // A client that sends its requests at once is served, on one kept-alive
    // connection; left idle, the connection is closed.
    let mut prompt = connect().await.unwrap();
    for _ in 0..2 {
        prompt.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: vigie\r\n\r\n").await.unwrap();
        let answer = read_answer(&mut prompt).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(read_until_closed(&mut prompt, long_enough).await.is_some(), "an idle kept-alive connection stays open");
    let health = app.anonymous().get("/api/v1/health").await;
    assert_eq!(health.status, 200, "{}", health.text);
}

#[tokio::test]
async fn a_stopping_server_closes_idle_connections_and_does_not_wait_for_stalled_ones() {
    use std::time::{Duration, Instant};
    use tokio::io::AsyncWriteExt;
    // Clients get a minute for their headers: only the stop's grace ends the
    // stalled one.
    let minute = Duration::from_secs(60);
    let timeouts = vigie_web::Timeouts { headers: minute, body_idle: minute, body_total: minute, write: minute };
    let app = TestApp::start_with(vigie_web::WebConfig { timeouts, ..Default::default() }).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(vigie_web::serve(listener, app.state.clone(), async move {
        let _ = stopped.await;
    }));
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: vigie\r\n\r\n").await.unwrap();
    assert!(read_answer(&mut idle).await.starts_with("HTTP/1.1 200"));
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: vig").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let asked = Instant::now();
    stop.send(()).unwrap();
    assert!(read_until_closed(&mut idle, Duration::from_secs(5)).await.is_some(), "the idle connection stays open");
    let served = tokio::time::timeout(vigie_web::SHUTDOWN_GRACE + Duration::from_secs(5), server).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "the server did not stop in time: {served:?}");
    assert!(
        asked.elapsed() >= vigie_web::SHUTDOWN_GRACE - Duration::from_secs(1),
        "it gave the stalled client its grace"
    );
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "a stopped server accepts nothing");
}

#[tokio::test]
async fn logging_out_ends_the_session_and_clears_what_the_browser_kept() {
    let app = TestApp::start().await;
    let agent = app.login("agent").await;
    assert_eq!(agent.get(&app.p("/inbox")).await.status, 200);
    let out = agent.post_form("/logout", &[]).await;
    assert_eq!(out.status, 303, "{}", out.text);
    assert_eq!(out.location(), Some("/login"));
    assert_eq!(out.headers.get("clear-site-data").unwrap(), "\"cache\"");
    // The session is gone: its cookie leads to the login page.
    let after = agent.get(&app.p("/inbox")).await;
    assert_eq!(after.status, 303, "{}", after.text);
    assert!(after.location().unwrap().starts_with("/login"), "{:?}", after.location());
}

//! The shared test helper: a real server on 127.0.0.1 over a temporary
//! SQLite store, people with each role, and logged-in HTTP clients.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use vigie_model::Role;
use vigie_pipeline::models::ProjectModels;
use vigie_pipeline::stories::StoryIndexes;
use vigie_store::{NewUser, Project, SqliteStore, Store};
use vigie_web::{AppState, WebConfig};

pub const PASSWORD: &str = "a long test password";

pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub state: AppState,
    pub addr: SocketAddr,
    pub project: Project,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    /// A server with project `acme` and one member per role (`viewer`,
    /// `agent`, `manager`, `admin`), plus an installation admin `root` and
    /// `outsider`, a user of no project.
    pub async fn start() -> TestApp {
        TestApp::start_with(WebConfig::default()).await
    }

    /// The same with these settings (a time zone, secure cookies).
    pub async fn start_with(config: WebConfig) -> TestApp {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("vigie.db")).await.unwrap());
        let now = Utc::now();
        let project = store.ensure_project("acme", now).await.unwrap();
        let state = AppState::new(store.clone(), ProjectModels::shipped(), StoryIndexes::default(), config);
        let hash = vigie_web::auth::hash_password(PASSWORD).unwrap();
        for role in Role::ALL {
            let u = add_user(&store, role.as_str(), false, &hash).await;
            store
                .set_membership(project.id, u, Some(role), &vigie_store::ChangedBy::unsigned(chrono::Utc::now()))
                .await
                .unwrap();
        }
        add_user(&store, "root", true, &hash).await;
        add_user(&store, "outsider", false, &hash).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        tokio::spawn(async move {
            vigie_web::serve(listener, serve_state, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestApp { dir, store, state, addr, project, shutdown: Some(tx) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A client with no session.
    pub fn anonymous(&self) -> Client {
        Client { http: http(), base: self.url(""), cookie: None, csrf: None, bearer: None }
    }

    /// A client logged in as `username` (password [`PASSWORD`]).
    pub async fn login(&self, username: &str) -> Client {
        let http = http();
        let response = http
            .post(self.url("/api/v1/session"))
            .json(&serde_json::json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "login of {username}");
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_string)
            .expect("a session cookie");
        let body: Value = response.json().await.unwrap();
        Client {
            http,
            base: self.url(""),
            cookie: Some(cookie),
            csrf: body["csrf_token"].as_str().map(str::to_string),
            bearer: None,
        }
    }

    /// A client using a project token with this role.
    pub async fn token(&self, role: Role) -> Client {
        let token = vigie_web::new_token().unwrap();
        let name = format!("t-{}-{}", role.as_str(), &token[6..12]);
        self.store.add_token(self.project.id, &name, &vigie_web::hash_token(&token), role, Utc::now()).await.unwrap();
        Client { http: http(), base: self.url(""), cookie: None, csrf: None, bearer: Some(token) }
    }

    pub fn p(&self, rest: &str) -> String {
        format!("/p/{}{}", self.project.id, rest)
    }

    pub fn api(&self, rest: &str) -> String {
        format!("/api/v1/projects/{}{}", self.project.id, rest)
    }

    /// Stores mentions through the push API (the real pipeline).
    pub async fn push(&self, items: Value) -> Value {
        let c = self.token(Role::Agent).await;
        let r = c.post_json("/api/v1/ingest", &items).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    }

    pub async fn user_id(&self, username: &str) -> i64 {
        self.store.user_by_name(username).await.unwrap().unwrap().0.id
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn add_user(store: &Arc<dyn Store>, name: &str, admin: bool, hash: &str) -> i64 {
    let user = NewUser {
        username: name.into(),
        display_name: format!("{name} person"),
        email: None,
        password_hash: hash.into(),
        is_admin: admin,
        lang: "en".into(),
        must_change_password: false,
    };
    store.add_user(user, Utc::now()).await.unwrap().id
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap()
}

/// An HTTP client with a session cookie and its CSRF token, or a token.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
}

/// A response read whole.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }
}

impl Client {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(c) = &self.cookie {
            r = r.header("cookie", c);
        }
        if let Some(t) = &self.bearer {
            r = r.bearer_auth(t);
        }
        r
    }

    async fn send(r: reqwest::RequestBuilder) -> Answer {
        let response = r.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        // The body as sent (`text()` would drop a byte-order mark).
        let text = String::from_utf8_lossy(&response.bytes().await.unwrap()).into_owned();
        Answer { status, headers, text }
    }

    pub async fn get(&self, path: &str) -> Answer {
        Self::send(self.req(reqwest::Method::GET, path)).await
    }

    /// A GET asking for figures computed afresh (a browser's forced reload).
    pub async fn get_fresh(&self, path: &str) -> Answer {
        Self::send(self.req(reqwest::Method::GET, path).header("cache-control", "no-cache")).await
    }

    /// A JSON request with the CSRF header.
    pub async fn json(&self, method: reqwest::Method, path: &str, body: &Value) -> Answer {
        let mut r = self.req(method, path).json(body);
        if let Some(c) = &self.csrf {
            r = r.header("x-csrf-token", c);
        }
        Self::send(r).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Answer {
        self.json(reqwest::Method::POST, path, body).await
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Answer {
        self.json(reqwest::Method::PUT, path, body).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        let mut r = self.req(reqwest::Method::DELETE, path);
        if let Some(c) = &self.csrf {
            r = r.header("x-csrf-token", c);
        }
        Self::send(r).await
    }

    /// A form post carrying the session's `_csrf` field.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut pairs: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if let Some(c) = &self.csrf {
            pairs.push(("_csrf".into(), c.clone()));
        }
        let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        Self::send(
            self.req(reqwest::Method::POST, path)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }
}

/// The shared SMTP test server's address as Vigie's SMTP settings.
pub fn smtp_config(server: &vigie_testkit::smtp::SmtpServer) -> vigie_notify::SmtpConfig {
    vigie_notify::SmtpConfig {
        host: "127.0.0.1".into(),
        port: server.port(),
        security: vigie_notify::SmtpSecurity::None,
        username: None,
        password: None,
        from: "Vigie <reports@vigie.example.org>".into(),
        timeout: std::time::Duration::from_secs(10),
    }
}

/// The page from `marker` on (the form an error id names, say).
pub fn after<'a>(html: &'a str, marker: &str) -> &'a str {
    let at = html.find(marker).unwrap_or_else(|| panic!("no {marker} in {html}"));
    &html[at..]
}

/// The first start tag holding `needle` (an attribute), whole.
pub fn tag<'a>(html: &'a str, needle: &str) -> &'a str {
    let at = html.find(needle).unwrap_or_else(|| panic!("no {needle} in {html}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    &html[start..=end]
}

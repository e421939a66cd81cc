//! Who is asking and what they may do.
//!
//! Two ways in: a session cookie (people, through pages or the API from the
//! browser) or a project token (`Authorization: Bearer vigie_…`, scripts and
//! other tools). Every route is registered with an [`Access`] level
//! (`routes.rs`); [`authorize`] runs before its handler, finds the
//! [`Actor`], checks the anti-CSRF token of every state-changing request made
//! with a cookie, resolves the project of `/p/{pid}/…` and `/api/v1/projects/{pid}/…`
//! paths, and refuses with 401/403/404 before the handler runs.
//!
//! Non-members get 404 for a project (its existence is not revealed);
//! members whose role is too low get 403.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use axum::body::{Body, to_bytes};
use axum::extract::{RawPathParams, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use vigie_model::Role;
use vigie_store::{ApiToken, ChangedBy, Project, User};

use crate::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::i18n::Lang;
use crate::pages::error_page;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "vigie_session";
/// How long a login lasts.
pub const SESSION_DAYS: i64 = 7;
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Failed logins allowed within [`LOGIN_WINDOW_MINUTES`]: per username from
/// one client address (what one guesser gets), per client address (one
/// address trying many names), and per username from everywhere (guessing
/// spread over many addresses). The last is high so that nobody can lock
/// someone else out from one address with a few wrong passwords.
pub const MAX_FAILURES_PER_USER_AND_ADDRESS: i64 = 5;
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
pub const MAX_FAILURES_PER_USER: i64 = 50;
/// Wrong "current password"s of password changes per account (only someone
/// with a session can count here, so strangers cannot block the owner).
pub const MAX_CHANGE_FAILURES_PER_USER: i64 = 20;
pub const LOGIN_WINDOW_MINUTES: i64 = 15;
/// Largest form body read to find its anti-CSRF field.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (login page, health, the OpenAPI document, static files).
    Public,
    /// Any logged-in person.
    LoggedIn,
    /// A member of the path's project with at least this role (installation
    /// admins are admins of every project; tokens act with their role).
    Project(Role),
    /// An installation admin.
    SiteAdmin,
}

/// The person (or token) behind a request, and their standing in the
/// path's project.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `None` for a token.
    pub user: Option<User>,
    pub token: Option<ApiToken>,
    /// The session's anti-CSRF token (forms carry it).
    pub csrf: String,
    pub lang: Lang,
    /// The path's project, resolved.
    pub project: Option<Project>,
    /// The role in that project.
    pub role: Option<Role>,
}

impl Actor {
    pub fn user_id(&self) -> Option<i64> {
        self.user.as_ref().map(|u| u.id)
    }

    /// Who makes a change at `at`, for the history lines it writes on the
    /// inbox items it moves (a token by its name).
    pub fn changed_by(&self, at: DateTime<Utc>) -> ChangedBy {
        ChangedBy {
            user_id: self.user_id(),
            token: if self.user.is_none() { self.token.as_ref().map(|t| t.name.clone()) } else { None },
            at,
        }
    }

    /// Who did it, for the audit log and histories.
    pub fn name(&self) -> String {
        match (&self.user, &self.token) {
            (Some(u), _) => u.username.clone(),
            (None, Some(t)) => format!("token {}", t.name),
            (None, None) => "anonymous".to_string(),
        }
    }

    /// The project of the path (routes with `Access::Project` always have one).
    pub fn project(&self) -> Result<&Project, ApiError> {
        self.project.as_ref().ok_or_else(|| ApiError::not_found("no such project"))
    }

    pub fn project_id(&self) -> Result<i64, ApiError> {
        Ok(self.project()?.id)
    }

    pub fn can(&self, role: Role) -> bool {
        self.role.is_some_and(|r| r >= role)
    }

    pub fn is_site_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_admin)
    }
}

/// An argon2id hash (PHC string) of the password, with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| ApiError::internal(&e))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// [`hash_password`] on a blocking thread: argon2 takes tens of
/// milliseconds of CPU and 19 MiB, which must not hold up the threads that
/// serve every other request.
pub async fn hash_password_blocking(password: &str) -> Result<String, ApiError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(|e| ApiError::internal(&e))?
}

/// The throttling counters a login is checked against, each taken by one
/// login of this process at a time: a login's throttle check, its
/// verification and the record of its failure happen while it holds its
/// account's and its address's, so guesses sent all at once are counted as
/// if sent one after another, while logins of other people from other
/// places go on beside them. (Several processes on one database each count
/// this way: a burst spread over N of them can get N − 1 more guesses.)
#[derive(Default)]
struct CounterLocks(std::sync::Mutex<LockMap>);

#[derive(Default)]
struct LockMap {
    locks: std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    /// How many were left at the last clean-up.
    kept: usize,
}

impl CounterLocks {
    async fn lock(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // Forget the counters nobody holds or waits for, once the map
            // has doubled since the last time (amortised).
            if map.locks.len() > 1024 && map.locks.len() > 2 * map.kept {
                map.locks.retain(|_, l| Arc::strong_count(l) > 1);
                map.kept = map.locks.len();
            }
            Arc::clone(map.locks.entry(key.to_string()).or_default())
        };
        lock.lock_owned().await
    }
}

static COUNTER_LOCKS: LazyLock<CounterLocks> = LazyLock::new(CounterLocks::default);

/// Password verifications under way at once: each takes a core and 19 MiB.
static VERIFICATIONS: LazyLock<Arc<tokio::sync::Semaphore>> = LazyLock::new(|| {
    Arc::new(tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get)))
});

/// [`verify_password`] on a blocking thread, as many at once as there are
/// cores: the permit goes with the thread, so a request dropped meanwhile
/// frees its slot only when argon2 is done.
async fn verify_password_blocking(password: &str, hash: &str) -> bool {
    let Ok(permit) = Arc::clone(&VERIFICATIONS).acquire_owned().await else { return false };
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        verify_password(&password, &hash)
    })
    .await
    .unwrap_or(false)
}

/// Why a new password is refused, if it is.
pub fn password_problem(password: &str) -> Option<String> {
    password_problem_in(password, Lang::En)
}

/// [`password_problem`] in the reader's language.
pub fn password_problem_in(password: &str, lang: Lang) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Some(match lang {
            Lang::Fr => {
                format!("le mot de passe doit avoir au moins {MIN_PASSWORD_CHARS} caractères (il en a {chars})")
            }
            Lang::En => format!("the password must have at least {MIN_PASSWORD_CHARS} characters (it has {chars})"),
        });
    }
    if chars > 1024 {
        return Some(
            lang.t(
                "le mot de passe doit avoir au plus 1024 caractères",
                "the password must have at most 1024 characters",
            )
            .to_string(),
        );
    }
    None
}

/// 32 random bytes in hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS generator failing is not recoverable: nothing safe can be issued.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A readable one-time password (no look-alike characters), 16 characters.
pub fn one_time_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

pub fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts a session; returns the cookie value.
pub async fn start_session(state: &AppState, user: &User, now: DateTime<Utc>) -> Result<String, ApiError> {
    let token = random_token();
    let csrf = random_token();
    state.store.create_session(&sha256_hex(&token), user.id, &csrf, now, now + Duration::days(SESSION_DAYS)).await?;
    Ok(token)
}

/// The `Set-Cookie` value for a session (or, with `None`, one that removes it).
pub fn session_cookie(state: &AppState, headers: &HeaderMap, token: Option<&str>) -> String {
    let secure = state.config.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let mut cookie = match token {
        Some(t) => format!("{SESSION_COOKIE}={t}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}", SESSION_DAYS * 86_400),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    };
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

pub fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Whether a browser says this request was sent by a page of another site
/// (`Sec-Fetch-Site: cross-site|same-site`, or an `Origin` whose host is not
/// the one the request was sent to; `Origin: null` counts as elsewhere).
/// Requests without either header (command-line clients, old browsers) are
/// not judged: they carry no ambient credentials of a victim's browser.
pub fn sent_from_another_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site.trim().to_ascii_lowercase().as_str(), "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return false };
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .map(|h| h.split(',').next().unwrap_or("").trim().to_ascii_lowercase());
    let origin_host = origin.to_str().ok().and_then(|o| url::Url::parse(o).ok()).and_then(|u| {
        u.host_str().map(|h| match u.port() {
            Some(port) => format!("{h}:{port}"),
            None => h.to_string(),
        })
    });
    match (origin_host, host) {
        (Some(o), Some(h)) => o.to_ascii_lowercase() != h,
        _ => true,
    }
}

/// The client's address, for login throttling: the connection's peer, or,
/// when the peer is a trusted reverse proxy, the address it says it serves
/// (the last of `X-Forwarded-For` that is not itself a trusted proxy).
/// Untrusted peers' `X-Forwarded-For` is ignored: anyone can send one.
pub fn client_address(config: &crate::WebConfig, peer: Option<SocketAddr>, headers: &HeaderMap) -> String {
    let Some(peer) = peer else { return "unknown".to_string() };
    let trusted = |ip: &std::net::IpAddr| config.trusted_proxies.iter().any(|n| n.contains(&ip.to_canonical()));
    let mut client = peer.ip().to_canonical();
    if trusted(&client) {
        let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        let hops: Vec<&str> = forwarded.flat_map(|v| v.split(',')).map(str::trim).collect();
        for hop in hops.into_iter().rev() {
            // A hop that is not an address (`unknown`, garbage): nothing
            // before it can be believed either.
            let Ok(ip) = hop.parse::<std::net::IpAddr>().map(|ip| ip.to_canonical()) else { break };
            client = ip;
            if !trusted(&ip) {
                break;
            }
        }
    }
    client.to_string()
}

/// An extractor's refusal (a path segment that is not a number, a body over
/// the limit, a body that is not the JSON expected): axum answers it in plain
/// text, which is neither the API's `{code, message}` nor a page.
fn is_rejection(response: &Response) -> bool {
    matches!(response.status().as_u16(), 400 | 413 | 415 | 422)
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain"))
}

/// [`is_rejection`]'s answer as the route's kind of error, with its status.
async fn rejection_error(response: Response, page: bool, lang: Lang, body_limit: usize) -> Response {
    let status = response.status();
    let detail = to_bytes(response.into_body(), 4096).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&detail).trim().to_string();
    let e = match status.as_u16() {
        413 => {
            let message = match (lang, body_limit >= 1 << 20) {
                (Lang::Fr, true) => format!("le corps de la requête dépasse {} Mio", body_limit >> 20),
                (Lang::Fr, false) => format!("le corps de la requête dépasse {} kio", body_limit >> 10),
                (Lang::En, true) => format!("the request body is over {} MiB", body_limit >> 20),
                (Lang::En, false) => format!("the request body is over {} KiB", body_limit >> 10),
            };
            ApiError::new(ErrorCode::PayloadTooLarge, message)
        }
        415 => ApiError::invalid(lang.t(
            "envoyez le corps en JSON, avec Content-Type: application/json",
            "send the body as JSON, with Content-Type: application/json",
        )),
        _ => match unknown_parameter(&detail) {
            Some((name, expected)) => ApiError::invalid(match lang {
                Lang::Fr => format!("paramètre inconnu « {name} » : cette adresse prend {expected}"),
                Lang::En => format!("unknown parameter `{name}`: this address takes {expected}"),
            }),
            None => ApiError::invalid(match lang {
                Lang::Fr => format!("adresse ou paramètres invalides : {detail}"),
                Lang::En => format!("invalid address or parameters: {detail}"),
            }),
        },
    };
    let mut answer = if page { error_page(&e, lang) } else { e.into_response() };
    *answer.status_mut() = status;
    answer
}

/// serde's "unknown field `x`, expected one of `a`, `b`" in a query string's
/// refusal: the parameter and those the route takes.
fn unknown_parameter(detail: &str) -> Option<(String, String)> {
    let rest = detail.split_once("unknown field `")?.1;
    let (name, rest) = rest.split_once('`')?;
    let expected = rest.split_once("expected one of ")?.1.replace('`', "");
    Some((name.chars().take(40).collect(), expected.trim().to_string()))
}

/// What [`authorize`] needs to know about the route.
#[derive(Clone)]
pub struct Guard {
    pub state: AppState,
    pub access: Access,
    /// A page (HTML answers, redirect to the login page) or the API (JSON).
    pub page: bool,
}

/// The middleware in front of every route.
pub async fn authorize(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    let page = guard.page;
    match check(&guard, req).await {
        Ok(req) => {
            let lang = req.extensions().get::<Actor>().map(|a| a.lang).unwrap_or_default();
            let response = next.run(req).await;
            // A page handler's error, rendered in the reader's language.
            match response.extensions().get::<crate::pages::PendingErrorPage>() {
                Some(pending) if page => error_page(&pending.0, lang),
                _ if is_rejection(&response) => {
                    let limit = match guard.access {
                        Access::Public => crate::routes::PUBLIC_BODY_BYTES,
                        _ => crate::MAX_BODY_BYTES,
                    };
                    rejection_error(response, page, lang, limit).await
                }
                _ => response,
            }
        }
        // The login page always says where to go next (`/` at least).
        Err(Refused::Login(path)) => {
            let next = if path.is_empty() { "/" } else { path.as_str() };
            Redirect::to(&format!("/login?next={}", url_encoded(next))).into_response()
        }
        Err(Refused::ChangePassword(path)) => Redirect::to(&with_next("/account/password", &path)).into_response(),
        Err(Refused::Error(e, lang)) => {
            if page {
                error_page(&e, lang)
            } else {
                e.into_response()
            }
        }
    }
}

/// A request body that could not be read: it came too slowly, or the
/// client went away.
fn unreadable_body(e: &axum::Error) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, format!("could not read the request body: {e}"))
        .with_french(format!("impossible de lire le corps de la requête : {e}"))
}

enum Refused {
    Login(String),
    /// To the password change, then to this page.
    ChangePassword(String),
    Error(ApiError, Lang),
}

/// Bodies up to this size are read before the checks, so that a refusal
/// does not close the connection on unread data (the client would see a
/// reset instead of the answer).
const MAX_BUFFERED_BODY: u64 = 64 * 1024;

async fn check(guard: &Guard, mut req: Request) -> Result<Request, Refused> {
    let small_body = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > 0 && n <= MAX_BUFFERED_BODY);
    let default_lang = Lang::from_accept(req.headers());
    let fail = |e: ApiError| Refused::Error(e, default_lang);
    if small_body {
        let (parts, body) = req.into_parts();
        let bytes = to_bytes(body, MAX_BUFFERED_BODY as usize).await.map_err(|e| fail(unreadable_body(&e)))?;
        req = Request::from_parts(parts, Body::from(bytes));
    }
    let state = &guard.state;
    let now = Utc::now();
    let mut actor =
        Actor { user: None, token: None, csrf: String::new(), lang: default_lang, project: None, role: None };

    if let Some(token) = bearer(req.headers()) {
        let token = token.to_string();
        match state.store.use_token(&sha256_hex(&token), now).await {
            Ok(Some(t)) => {
                actor.token = Some(t);
                actor.lang = Lang::from_accept_for_api(req.headers());
            }
            Ok(None) => return Err(fail(ApiError::new(ErrorCode::Unauthenticated, "unknown or revoked token"))),
            Err(e) => return Err(fail(e.into())),
        }
    } else if let Some(cookie) = cookie_value(req.headers(), SESSION_COOKIE) {
        match state.store.session(&sha256_hex(cookie), now).await {
            Ok(Some(session)) => {
                actor.lang = Lang::parse(&session.user.lang).unwrap_or(default_lang);
                actor.csrf = session.csrf;
                actor.user = Some(session.user);
            }
            Ok(None) => {}
            Err(e) => return Err(fail(e.into())),
        }
    }
    let lang = actor.lang;
    let fail = |e: ApiError| Refused::Error(e, lang);

    if guard.access != Access::Public {
        if actor.user.is_none() && actor.token.is_none() {
            if guard.page {
                // A form sent after the session ended (logged out in another
                // tab, expired): to the login page, then back to the page the
                // form was on, not to an error page.
                return Err(Refused::Login(page_to_return_to(&req)));
            }
            return Err(fail(
                ApiError::new(
                    ErrorCode::Unauthenticated,
                    "log in first, or send `Authorization: Bearer <token>` (make one with `vigie token create`)",
                )
                .with_french("connectez-vous d'abord (ou envoyez `Authorization: Bearer <jeton>`, créé par `vigie token create`)"),
            ));
        }
        if actor.user.as_ref().is_some_and(|u| u.must_change_password) {
            if guard.page {
                return Err(Refused::ChangePassword(page_to_return_to(&req)));
            }
            return Err(fail(
                ApiError::forbidden("change your one-time password first (Account page)")
                    .with_french("changez d'abord votre mot de passe à usage unique (page Compte)"),
            ));
        }
    }

    // Anti-CSRF: every state-changing request made with the session cookie
    // carries the session's token, as a header (scripts) or a form field.
    // Public routes (login, the one-time password change) check their own.
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes && actor.user.is_some() && guard.access != Access::Public {
        let (parts, body) = req.into_parts();
        let header_token = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_string);
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let (given, body) = match header_token {
            Some(t) => (Some(t), body),
            None if is_form => {
                let bytes = to_bytes(body, MAX_FORM_BYTES).await.map_err(|e| {
                    fail(match crate::server::too_large(&e) {
                        true => ApiError::new(ErrorCode::PayloadTooLarge, "the form is too large")
                            .with_french("le formulaire est trop volumineux"),
                        false => unreadable_body(&e),
                    })
                })?;
                let token =
                    url::form_urlencoded::parse(&bytes).find(|(k, _)| k == "_csrf").map(|(_, v)| v.into_owned());
                (token, Body::from(bytes))
            }
            None => (None, body),
        };
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), actor.csrf.as_bytes())) {
            // A page's form, or a program calling the API with a session
            // cookie: each is told what it lacks.
            let message = if guard.page || is_form {
                lang.t(
                    "le formulaire a expiré ou ne vient pas de Vigie : rechargez la page et recommencez",
                    "the form has expired or did not come from Vigie: reload the page and try again",
                )
            } else {
                lang.t(
                    "avec une session, une écriture par l'API porte l'en-tête X-CSRF-Token (le csrf_token que \
                     POST /api/v1/session a répondu) ; un programme utilise plutôt un jeton d'API (Authorization: Bearer)",
                    "with a session, an API write carries the X-CSRF-Token header (the csrf_token that POST \
                     /api/v1/session answered); a program would rather use an API token (Authorization: Bearer)",
                )
            };
            return Err(fail(ApiError::new(ErrorCode::CsrfFailed, message)));
        }
        req = Request::from_parts(parts, body);
    }

    match guard.access {
        Access::Public | Access::LoggedIn => {}
        Access::SiteAdmin => {
            if !actor.is_site_admin() {
                return Err(fail(ApiError::forbidden(lang.t(
                    "seul un administrateur de cette installation peut le faire",
                    "only an administrator of this installation may do this",
                ))));
            }
        }
        Access::Project(needed) => {
            // `/api/v1/ingest` and the like: a token's own project.
            let token_project = actor.token.as_ref().map(|t| t.project_id);
            let pid = match project_param(&mut req).await {
                // A project id that is no number names no project (not the
                // token's by default).
                Some(None) => {
                    return Err(fail(ApiError::not_found(lang.t("ce projet n'existe pas", "no such project"))));
                }
                Some(Some(pid)) => Some(pid),
                None => token_project,
            };
            let pid = pid.ok_or_else(|| {
                fail(ApiError::invalid(
                    "this route takes a project token; with a session, use the /api/v1/projects/{pid}/… route",
                ))
            })?;
            let project = match state.store.project_by_id(pid).await {
                Ok(Some(p)) => p,
                Ok(None) => return Err(fail(ApiError::not_found(lang.t("ce projet n'existe pas", "no such project")))),
                Err(e) => return Err(fail(e.into())),
            };
            let role = match (&actor.user, &actor.token) {
                (Some(u), _) if u.is_admin => Some(Role::Admin),
                (Some(u), _) => match state.store.memberships(u.id).await {
                    Ok(list) => list.into_iter().find(|(p, _)| p.id == pid).map(|(_, r)| r),
                    Err(e) => return Err(fail(e.into())),
                },
                (None, Some(t)) => (t.project_id == pid).then_some(t.role),
                (None, None) => None,
            };
            let Some(role) = role else {
                return Err(fail(ApiError::not_found(lang.t("ce projet n'existe pas", "no such project"))));
            };
            if role < needed {
                return Err(fail(ApiError::forbidden(match lang {
                    Lang::Fr => format!(
                        "votre rôle dans ce projet est {} ; il faut {} ou plus",
                        crate::pages::settings::role_label(lang, role),
                        crate::pages::settings::role_label(lang, needed)
                    ),
                    Lang::En => format!("your role in this project is {role}; this needs {needed} or above"),
                })));
            }
            actor.project = Some(project);
            actor.role = Some(role);
        }
    }
    req.extensions_mut().insert(actor);
    Ok(req)
}

/// The route's `{pid}`: `None` without one, `Some(None)` when it is not a
/// project id.
async fn project_param(req: &mut Request) -> Option<Option<i64>> {
    use axum::extract::FromRequestParts;
    let (mut parts, body) = std::mem::take(req).into_parts();
    let params = RawPathParams::from_request_parts(&mut parts, &()).await.ok();
    *req = Request::from_parts(parts, body);
    params?.iter().find(|(k, _)| *k == "pid").map(|(_, v)| v.parse().ok())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && !a.is_empty() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The throttling counters an attempt counts in: the account's (a login's,
/// or a password change's own), the client address's, and the pair's, with
/// the account's limit.
fn failure_keys(username: &str, address: &str, counted: Counted) -> (String, i64, String, String) {
    // No account has a longer name: a 64 KiB one is counted by its start.
    let user: String = username.trim().to_lowercase().chars().take(200).collect();
    let (account, max) = match counted {
        Counted::Login => (format!("user:{user}"), MAX_FAILURES_PER_USER),
        Counted::PasswordChange => (format!("change:{user}"), MAX_CHANGE_FAILURES_PER_USER),
    };
    (account, max, format!("addr:{address}"), format!("pair:{user}@{address}"))
}

/// Checks a username and password; counts failures for throttling.
pub async fn login(
    state: &AppState,
    username: &str,
    password: &str,
    address: &str,
    now: DateTime<Utc>,
) -> Result<User, ApiError> {
    check_password(state, username, password, address, now, Counted::Login).await
}

/// A password change's "current password": counted per address and per
/// person and address, as a login is, and per account under a count of its
/// own ([`MAX_CHANGE_FAILURES_PER_USER`]) — strangers' guesses at the login
/// page must not stop its owner from changing it, and a change must not
/// wipe the trace of their guesses.
pub async fn check_current_password(
    state: &AppState,
    username: &str,
    password: &str,
    address: &str,
    now: DateTime<Utc>,
) -> Result<User, ApiError> {
    check_password(state, username, password, address, now, Counted::PasswordChange).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Counted {
    Login,
    PasswordChange,
}

async fn check_password(
    state: &AppState,
    username: &str,
    password: &str,
    address: &str,
    now: DateTime<Utc>,
    counted: Counted,
) -> Result<User, ApiError> {
    let (user_key, user_max, addr_key, pair_key) = failure_keys(username, address, counted);
    // Always the address's first, then the account's: no two logins wait
    // for each other's, and a flood from one address holds at most one
    // account at a time.
    let _address = COUNTER_LOCKS.lock(&addr_key).await;
    let _account = COUNTER_LOCKS.lock(&user_key).await;
    let since = now - Duration::minutes(LOGIN_WINDOW_MINUTES);
    let over = |n: i64, max: i64| n >= max;
    let throttled = over(state.store.login_failures(&pair_key, since).await?, MAX_FAILURES_PER_USER_AND_ADDRESS)
        || over(state.store.login_failures(&addr_key, since).await?, MAX_FAILURES_PER_ADDRESS)
        || over(state.store.login_failures(&user_key, since).await?, user_max);
    if throttled {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!("too many failed logins: wait {LOGIN_WINDOW_MINUTES} minutes and try again"),
        ));
    }
    // Counted as a failure before the password is checked, taken back if it
    // is right: a client that goes away while argon2 runs (its request
    // dropped) has still used a guess.
    for key in [&user_key, &addr_key, &pair_key] {
        state.store.record_login_failure(key, now).await?;
    }
    let found = state.store.user_by_name(username.trim()).await?;
    // Verify against a dummy hash when the user is unknown, so timing does
    // not tell which usernames exist.
    let ok = match &found {
        Some((user, hash)) => verify_password_blocking(password, hash).await && !user.disabled,
        None => {
            verify_password_blocking(password, DUMMY_HASH).await;
            false
        }
    };
    match found {
        Some((user, _)) if ok => {
            // A person who gets it right wipes their account's and their
            // pair's failures (a password change's account count is its
            // own: strangers' guesses at the login page stay counted); the
            // address keeps those of others, less this attempt.
            state.store.clear_login_failures(&user_key).await?;
            state.store.clear_login_failures(&pair_key).await?;
            state.store.forget_login_failure(&addr_key, now).await?;
            Ok(user)
        }
        _ => Err(ApiError::new(ErrorCode::Unauthenticated, "wrong username or password")),
    }
}

/// argon2id of a random string, verified against when the username is unknown.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0n2XyHBoBGBYbnvfiyKUXxuJuldy6x5ZbLvqqJfFCqM";

/// `page` (`/login`), then on to `next` once done: `?next=` unless `next`
/// is the home page.
pub fn with_next(page: &str, next: &str) -> String {
    match next {
        "" | "/" => page.to_string(),
        next => format!("{page}?next={}", url_encoded(next)),
    }
}

fn url_encoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Where to go back to after logging in or changing a password: the page
/// asked for, or for a form the page it was on.
fn page_to_return_to(req: &Request) -> String {
    if req.method() == Method::GET {
        req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default()
    } else {
        referring_page(req.headers()).unwrap_or_default()
    }
}

/// The path (and query) of the page a request came from, when the browser
/// says (`Referer`) and it is this server's.
fn referring_page(headers: &HeaderMap) -> Option<String> {
    let referer = url::Url::parse(headers.get(header::REFERER)?.to_str().ok()?).ok()?;
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let origin = match referer.port() {
        Some(port) => format!("{}:{port}", referer.host_str()?),
        None => referer.host_str()?.to_string(),
    };
    if !origin.eq_ignore_ascii_case(host) {
        return None;
    }
    Some(match referer.query() {
        Some(q) => format!("{}?{q}", referer.path()),
        None => referer.path().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_whom_a_trusted_proxy_names() {
        let config = |trusted: &[&str]| crate::WebConfig {
            trusted_proxies: crate::parse_trusted_proxies(&trusted.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap(),
            ..Default::default()
        };
        let peer = |ip: &str| Some(SocketAddr::new(ip.parse().unwrap(), 40000));
        let forwarded = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", v.parse().unwrap());
            h
        };
        let default = crate::WebConfig::default();
        let none = HeaderMap::new();
        assert_eq!(client_address(&default, peer("203.0.113.9"), &none), "203.0.113.9");
        assert_eq!(client_address(&default, None, &none), "unknown");
        // A stranger's header is not believed.
        assert_eq!(client_address(&default, peer("203.0.113.9"), &forwarded("198.51.100.1")), "203.0.113.9");
        // A proxy on the machine: the last hop it did not add itself. What a
        // client wrote before it (the left of the list) is not believed.
        assert_eq!(client_address(&default, peer("127.0.0.1"), &forwarded("1.2.3.4, 198.51.100.1")), "198.51.100.1");
        assert_eq!(client_address(&default, peer("::1"), &forwarded("198.51.100.1")), "198.51.100.1");
        assert_eq!(client_address(&default, peer("127.0.0.1"), &none), "127.0.0.1");
        assert_eq!(client_address(&default, peer("127.0.0.1"), &forwarded("garbage")), "127.0.0.1");
        // Two proxies: a load balancer in front of a proxy on the machine.
        let chain = config(&["127.0.0.1", "10.0.0.0/8"]);
        assert_eq!(client_address(&chain, peer("127.0.0.1"), &forwarded("198.51.100.1, 10.1.2.3")), "198.51.100.1");
        assert_eq!(client_address(&chain, peer("::ffff:10.1.2.3"), &forwarded("198.51.100.1")), "198.51.100.1");
        assert_eq!(client_address(&config(&["none"]), peer("127.0.0.1"), &forwarded("198.51.100.1")), "127.0.0.1");
    }

    #[test]
    fn an_unknown_query_parameter_is_named_with_those_taken() {
        let detail = "Failed to deserialize query string: unknown field `watch`, expected one of `format`, `from`";
        assert_eq!(unknown_parameter(detail), Some(("watch".into(), "format, from".into())));
        assert_eq!(unknown_parameter("Failed to deserialize query string: invalid digit"), None);
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let parse = |v: &[&str]| crate::parse_trusted_proxies(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(parse(&["10.0.0.0/8", " 192.0.2.7 ", "::1"]).unwrap().len(), 3);
        assert!(parse(&["none"]).unwrap().is_empty());
        let e = parse(&["10.0.0.0/33"]).unwrap_err();
        assert!(e.contains("\"10.0.0.0/33\" is not an address or a network"), "{e}");
        assert!(parse(&["proxy.example"]).is_err());
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterz", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn password_policy_says_why() {
        assert!(password_problem("short").is_some_and(|m| m.contains("10 characters")));
        assert_eq!(password_problem("long enough pass"), None);
    }

    #[test]
    fn tokens_are_random_hex() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(one_time_password().len(), 16);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"", b""));
    }
}

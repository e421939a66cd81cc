//! Logging in and out, the start page, and the person's own account
//! (password, interface language).

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use chrono::Utc;
use maud::html;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::echo::Echo;
use super::{Nav, PageResult, csrf_field, page, see_other, visible_projects};
use crate::auth::{self, Actor, SESSION_COOKIE, cookie_value, sha256_hex};
use crate::error::{ApiError, ErrorCode};
use crate::i18n::Lang;
use crate::routes::Routes;
use crate::{Access, AppState};

pub fn routes(r: Routes) -> Routes {
    r.page(Method::GET, "/", Access::LoggedIn, "Start page: the first project's overview", start)
        .page(Method::GET, "/login", Access::Public, "Login form", login_form)
        .page(Method::POST, "/login", Access::Public, "Log in", login)
        .page(Method::POST, "/logout", Access::LoggedIn, "Log out", logout)
        .page(Method::GET, "/account", Access::LoggedIn, "Own account", account)
        .page(Method::POST, "/account", Access::LoggedIn, "Change own name and language", save_account)
        .page(Method::GET, "/account/password", Access::Public, "Password change form", password_form)
        .page(Method::POST, "/account/password", Access::Public, "Change own password", change_password)
        .api(
            Method::POST,
            "/api/v1/session",
            Access::Public,
            "Log in (sets the session cookie; answers the CSRF token)",
            api_login,
        )
        .api(
            Method::GET,
            "/api/v1/me",
            Access::LoggedIn,
            "The current user and their projects; for a token, its name, role and project",
            me,
        )
}

async fn start(State(state): State<AppState>, Extension(actor): Extension<Actor>) -> PageResult {
    let projects = visible_projects(&state, &actor).await?;
    // The first project that watches something (an installation always has
    // the empty `default` project, which would hide the real ones).
    let mut first = None;
    for p in &projects {
        if !state.store.list_watches(p.id).await?.is_empty() {
            first = Some(p);
            break;
        }
    }
    match first.or(projects.first()) {
        Some(p) => Ok(see_other(&format!("/p/{}/overview", p.id))),
        None => {
            let lang = actor.lang;
            let body = html! {
                h1 { (lang.t("Aucun projet", "No project")) }
                p { (lang.t(
                    "Vous n'êtes membre d'aucun projet. Demandez à un administrateur de vous ajouter.",
                    "You are not a member of any project yet. Ask an administrator to add you."
                )) }
            };
            page(&state, &actor, Nav::Account, lang.t("Aucun projet", "No project"), body).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
}

fn login_markup(lang: Lang, next: &str, error: Option<&str>, username: &str) -> Response {
    let body = html! {
        (maud::DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (lang.t("Connexion", "Log in")) " · Vigie" }
                link rel="stylesheet" href="/static/app.css";
                link rel="icon" type="image/svg+xml" href="/static/icon.svg";
            }
            body.login-page {
                main {
                    h1 { "Vigie" }
                    form.card method="post" action="/login" {
                        input type="hidden" name="next" value=(next);
                        @if let Some(e) = error { p.error-message role="alert" { (e) } }
                        label { (lang.t("Identifiant", "Username"))
                            input type="text" name="username" value=(username) autocomplete="username" required autofocus; }
                        label { (lang.t("Mot de passe", "Password"))
                            input type="password" name="password" autocomplete="current-password" required; }
                        button type="submit" { (lang.t("Se connecter", "Log in")) }
                    }
                }
            }
        }
    };
    super::html_response(body)
}

async fn login_form(headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    login_markup(Lang::from_accept(&headers), &safe_next(q.next.as_deref()), None, "")
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// Only local paths: a login link cannot send people elsewhere.
/// Where to go after logging in: a path of this site, else `/`. Browsers
/// drop tabs and line breaks from a URL and read `\` as `/`, so `/\t/evil`
/// would be `//evil` (another site): no control character, no backslash,
/// no second `/` at the start.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

fn address(
    state: &AppState,
    connect: &Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: &HeaderMap,
) -> String {
    auth::client_address(&state.config, connect.as_ref().map(|c| c.0.0), headers)
}

async fn login(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = Lang::from_accept(&headers);
    let next = safe_next(form.next.as_deref());
    // Login CSRF: a page elsewhere must not log the visitor into an account
    // of its choosing. There is no session yet to hold a token, so the
    // browser's own word on where the form came from decides.
    if auth::sent_from_another_site(&headers) {
        let message = lang.t(
            "Connexion refusée : le formulaire venait d'un autre site. Ouvrez la page de connexion de Vigie et réessayez.",
            "Login refused: the form was sent from another site. Open Vigie's login page and try again.",
        );
        let mut response = login_markup(lang, &next, Some(message), "");
        *response.status_mut() = axum::http::StatusCode::FORBIDDEN;
        return response;
    }
    let now = Utc::now();
    match auth::login(&state, &form.username, &form.password, &address(&state, &connect, &headers), now).await {
        Ok(user) => match auth::start_session(&state, &user, now).await {
            Ok(token) => {
                // A one-time password is changed first, then on to the page
                // the person was going to (a link in an e-mail).
                let target = if user.must_change_password { auth::with_next("/account/password", &next) } else { next };
                let mut response = see_other(&target);
                if let Ok(v) = auth::session_cookie(&state, &headers, Some(&token)).parse() {
                    response.headers_mut().insert(header::SET_COOKIE, v);
                }
                response
            }
            Err(e) => super::error_page(&e, lang),
        },
        Err(e) => {
            let message = match e.code {
                ErrorCode::Unauthenticated => {
                    lang.t("Identifiant ou mot de passe incorrect.", "Wrong username or password.")
                }
                ErrorCode::RateLimited => lang.t(
                    "Trop de tentatives échouées : réessayez dans 15 minutes.",
                    "Too many failed logins: try again in 15 minutes.",
                ),
                _ => return super::error_page(&e, lang),
            };
            let mut response = login_markup(lang, &next, Some(message), &form.username);
            *response.status_mut() = e.code.status();
            response
        }
    }
}

#[derive(Deserialize)]
pub struct ApiLogin {
    username: String,
    password: String,
}

async fn api_login(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    Json(body): Json<ApiLogin>,
) -> Result<Response, ApiError> {
    let now = Utc::now();
    let user = auth::login(&state, &body.username, &body.password, &address(&state, &connect, &headers), now).await?;
    let token = auth::start_session(&state, &user, now).await?;
    let session = state
        .store
        .session(&sha256_hex(&token), now)
        .await?
        .ok_or_else(|| ApiError::internal(&"the new session was not found"))?;
    let mut response =
        Json(json!({"user": user_json(&user), "csrf_token": session.csrf, "must_change_password": user.must_change_password}))
            .into_response();
    if let Ok(v) = auth::session_cookie(&state, &headers, Some(&token)).parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

pub fn user_json(u: &vigie_store::User) -> serde_json::Value {
    json!({
        "id": u.id, "username": u.username, "display_name": u.display_name, "email": u.email,
        "is_admin": u.is_admin, "lang": u.lang, "disabled": u.disabled,
        "created_at": u.created_at.to_rfc3339(),
    })
}

async fn me(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> Result<Json<serde_json::Value>, ApiError> {
    // A token: its name and role, and the one project it belongs to (the
    // `{pid}` of its routes).
    if let (None, Some(token)) = (&actor.user, &actor.token) {
        let project = state.store.project_by_id(token.project_id).await?;
        return Ok(Json(json!({
            "token": {"name": token.name, "role": token.role.as_str(), "created_at": token.created_at.to_rfc3339()},
            "projects": project.iter().map(|p| json!({"id": p.id, "name": p.name, "role": token.role.as_str()})).collect::<Vec<_>>(),
        })));
    }
    let user = actor.user.as_ref().ok_or_else(|| ApiError::forbidden("a token has no user"))?;
    // An installation administrator acts as admin in every project.
    let projects = if user.is_admin {
        state.store.list_projects().await?.into_iter().map(|p| (p, vigie_model::Role::Admin)).collect()
    } else {
        state.store.memberships(user.id).await?
    };
    Ok(Json(json!({
        "user": user_json(user),
        "projects": projects.iter().map(|(p, r)| json!({"id": p.id, "name": p.name, "role": r.as_str()})).collect::<Vec<_>>(),
    })))
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(cookie) = cookie_value(&headers, SESSION_COOKIE) {
        state.store.delete_session(&sha256_hex(cookie)).await?;
    }
    let mut response = see_other("/login");
    if let Ok(v) = auth::session_cookie(&state, &headers, None).parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    // The browser forgets the pages it kept (its back/forward cache too), so
    // Back after logging out on a shared computer shows no inbox.
    response.headers_mut().insert("clear-site-data", axum::http::HeaderValue::from_static("\"cache\""));
    Ok(response)
}

async fn account(State(state): State<AppState>, Extension(actor): Extension<Actor>) -> PageResult {
    account_page(&state, &actor, None).await
}

/// The account page; `echo`: the form as sent, refused, with why.
async fn account_page(state: &AppState, actor: &Actor, echo: Option<&Echo>) -> PageResult {
    let lang = actor.lang;
    let user = actor.user.clone().ok_or_else(|| ApiError::forbidden("a token has no account"))?;
    let fe = Echo::on(echo, "account");
    let email = user.email.clone().unwrap_or_default();
    let body = html! {
        h1 { (lang.t("Mon compte", "My account")) }
        form.card method="post" action="/account" {
            (csrf_field(actor))
            (fe.error(lang))
            label { (lang.t("Nom affiché", "Display name"))
                input type="text" name="display_name" value=(fe.value("display_name", &user.display_name)) required maxlength="100"
                    aria-invalid=[fe.invalid("display_name")] aria-describedby=[fe.described("display_name")]; }
            label { (lang.t("Adresse e-mail (les escalades de la boîte de réception y sont envoyées)", "E-mail address (where inbox escalations are sent)"))
                input type="email" name="email" value=(fe.value("email", &email)) maxlength="254" autocomplete="email"
                    aria-invalid=[fe.invalid("email")] aria-describedby=[fe.described("email")]; }
            label { (lang.t("Langue de l'interface", "Interface language"))
                select name="lang" {
                    option value="fr" selected[fe.chose("lang", "fr", user.lang == "fr")] { "Français" }
                    option value="en" selected[fe.chose("lang", "en", user.lang == "en")] { "English" }
                }
            }
            button type="submit" { (lang.t("Enregistrer", "Save")) }
        }
        p { a href="/account/password" { (lang.t("Changer mon mot de passe", "Change my password")) } }
    };
    let response = page(state, actor, Nav::Account, lang.t("Mon compte", "My account"), body).await?;
    Ok(Echo::answer(echo, response))
}

#[derive(Deserialize, Serialize)]
pub struct AccountForm {
    display_name: String,
    /// Absent: unchanged; empty: none.
    #[serde(default)]
    email: Option<String>,
    lang: String,
}

async fn save_account(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Form(form): Form<AccountForm>,
) -> PageResult {
    let mut user = actor.user.clone().ok_or_else(|| ApiError::forbidden("a token has no account"))?;
    let checked = (|| {
        let name = form.display_name.trim();
        // Something others can read: not only invisible or control characters.
        let visible = name.chars().any(|c| !c.is_whitespace() && !c.is_control() && !is_invisible(c));
        if !visible || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(ApiError::invalid(actor.lang.t(
                "le nom affiché doit avoir de 1 à 100 caractères visibles",
                "the display name must have 1 to 100 visible characters",
            ))
            .for_field("display_name"));
        }
        let lang = Lang::parse(&form.lang)
            .ok_or_else(|| ApiError::invalid("the language must be fr or en").for_field("lang"))?;
        let email = match &form.email {
            None => user.email.clone(),
            Some(e) => super::settings::users::check_email(Some(e), actor.lang).map_err(|e| e.for_field("email"))?,
        };
        Ok((name.to_string(), lang, email))
    })();
    let (name, lang, email) = match checked {
        Ok(checked) => checked,
        Err(e) => return account_page(&state, &actor, Some(&Echo::of("account", e, &form))).await,
    };
    user.display_name = name;
    user.lang = lang.code().to_string();
    user.email = email;
    state.store.update_user(&user, &actor.changed_by(Utc::now())).await?;
    Ok(see_other("/account"))
}

/// Zero-width and bidirectional formatting characters: a name of only these
/// shows as nothing.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The session behind a request (the password pages are reachable with a
/// one-time password, which other pages refuse).
async fn session_of(state: &AppState, headers: &HeaderMap) -> Result<vigie_store::Session, ApiError> {
    let cookie = cookie_value(headers, SESSION_COOKIE)
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "log in first"))?;
    state
        .store
        .session(&sha256_hex(cookie), Utc::now())
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "your session has expired: log in again"))
}

fn password_markup(lang: Lang, csrf: &str, forced: bool, error: Option<&str>, next: &str) -> Response {
    let body = html! {
        (maud::DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (lang.t("Mot de passe", "Password")) " · Vigie" }
                link rel="stylesheet" href="/static/app.css";
                link rel="icon" type="image/svg+xml" href="/static/icon.svg";
            }
            body.login-page {
                main {
                    h1 { (lang.t("Changer de mot de passe", "Change password")) }
                    @if forced { p { (lang.t(
                        "Votre mot de passe est à usage unique : choisissez-en un nouveau.",
                        "Your password is a one-time password: choose a new one."
                    )) } }
                    form.card method="post" action="/account/password" {
                        input type="hidden" name="_csrf" value=(csrf);
                        @if next != "/" { input type="hidden" name="next" value=(next); }
                        @if let Some(e) = error { p.error-message role="alert" { (e) } }
                        label { (lang.t("Mot de passe actuel", "Current password"))
                            input type="password" name="current" autocomplete="current-password" required; }
                        label { (lang.t("Nouveau mot de passe (10 caractères au moins)", "New password (at least 10 characters)"))
                            input type="password" name="new" autocomplete="new-password" required minlength="10"; }
                        button type="submit" { (lang.t("Changer", "Change")) }
                    }
                }
            }
        }
    };
    let mut response = super::html_response(body);
    // A refused change is the form again, with the status of a bad request.
    if error.is_some() {
        *response.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    response
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

async fn password_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Result<Response, super::PageError> {
    let session = match session_of(&state, &headers).await {
        Ok(s) => s,
        Err(_) => return Ok(see_other("/login?next=/account/password")),
    };
    let lang = Lang::parse(&session.user.lang).unwrap_or_default();
    let next = safe_next(q.next.as_deref());
    Ok(password_markup(lang, &session.csrf, session.user.must_change_password, None, &next))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    current: String,
    new: String,
    /// Where to go once it is changed.
    next: Option<String>,
}

async fn change_password(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, super::PageError> {
    let session = session_of(&state, &headers).await?;
    let lang = Lang::parse(&session.user.lang).unwrap_or_default();
    if form.csrf != session.csrf {
        return Err(ApiError::new(
            ErrorCode::CsrfFailed,
            lang.t("le formulaire a expiré : rechargez la page", "the form has expired: reload the page"),
        )
        .into());
    }
    let forced = session.user.must_change_password;
    let next = safe_next(form.next.as_deref());
    // Counted per address and per person and address as a login is, and
    // per account on a count of its own: whoever holds a session (a
    // computer left logged in) gets no more guesses than at the login page.
    let at = address(&state, &connect, &headers);
    if let Err(e) = auth::check_current_password(&state, &session.user.username, &form.current, &at, Utc::now()).await {
        let msg = match e.code {
            ErrorCode::Unauthenticated => {
                lang.t("Le mot de passe actuel est incorrect.", "The current password is wrong.")
            }
            ErrorCode::RateLimited => lang.t(
                "Trop de tentatives échouées : réessayez dans 15 minutes.",
                "Too many failed attempts: try again in 15 minutes.",
            ),
            _ => return Err(e.into()),
        };
        let mut response = password_markup(lang, &session.csrf, forced, Some(msg), &next);
        if e.code == ErrorCode::RateLimited {
            *response.status_mut() = e.code.status();
        }
        return Ok(response);
    }
    if let Some(problem) = auth::password_problem_in(&form.new, lang) {
        return Ok(password_markup(lang, &session.csrf, forced, Some(&problem), &next));
    }
    if form.new == form.current {
        let msg =
            lang.t("Le nouveau mot de passe doit être différent.", "The new password must differ from the old one.");
        return Ok(password_markup(lang, &session.csrf, forced, Some(msg), &next));
    }
    let new_hash = auth::hash_password_blocking(&form.new).await?;
    state.store.set_password(session.user.id, &new_hash, false).await?;
    // Every other session of this person ends; this one goes on.
    state.store.delete_user_sessions(session.user.id).await?;
    let now = Utc::now();
    let token = auth::start_session(&state, &session.user, now).await?;
    state
        .store
        .audit(
            vigie_store::NewAudit {
                project_id: None,
                user_id: Some(session.user.id),
                action: "user.password".into(),
                detail: format!("{} changed their password", session.user.username),
            },
            now,
        )
        .await?;
    let mut response = see_other(&next);
    if let Ok(v) = auth::session_cookie(&state, &headers, Some(&token)).parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

//! Settings of a project — departments, routing rules, members, notification
//! channels, API tokens, the audit log — and the installation's users
//! (`/admin/users`, installation admins only).
//!
//! Everyone in the project sees the settings page; each section shows its
//! forms only to the roles that may use them (departments, rules and
//! channels: manager; members and tokens: admin), and the sections holding
//! secrets or who-did-what (channels, tokens, audit log) only to those roles.
//! Every change writes the audit log. Secrets (a webhook's signing secret, an
//! API token, a one-time password) are shown once, in the answer to the form
//! that made them, and never again (only a token's hash is stored).

mod audit;
pub(crate) mod channels;
mod departments;
mod members;
mod reports;
mod rules;
mod tokens;
pub(crate) mod users;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::Response;
use chrono::Utc;
use maud::{Markup, html};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use vigie_model::{Language, Role};
use vigie_store::NewAudit;

use super::echo::{Echo, FormEcho};
use super::{Nav, PageResult, error_page, page, see_other};
use crate::auth::Actor;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::routes::Routes;
use crate::{Access, AppState};

/// Longest name (department, token, display name).
pub const MAX_NAME_CHARS: usize = 100;

pub fn routes(r: Routes) -> Routes {
    let r =
        r.page(Method::GET, "/p/{pid}/settings", Access::Project(Role::Viewer), "Project settings page", settings_page);
    let r = departments::routes(r);
    let r = rules::routes(r);
    let r = members::routes(r);
    let r = channels::routes(r);
    let r = reports::routes(r);
    let r = tokens::routes(r);
    let r = audit::routes(r);
    users::routes(r)
}

#[derive(Debug, Deserialize, Default)]
pub struct SettingsQuery {
    /// Audit log paging: entries below this id.
    audit_cursor: Option<String>,
}

async fn settings_page(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<SettingsQuery>,
) -> PageResult {
    render(&state, &actor, q.audit_cursor.as_deref(), None).await
}

/// The settings page; with `echo`, a refused form shown again as sent, with
/// its error (and the page answered with the error's status).
async fn render(state: &AppState, actor: &Actor, audit_cursor: Option<&str>, echo: Option<&Echo>) -> PageResult {
    let lang = actor.lang;
    let departments = departments::section(state, actor, echo).await?;
    let rules = rules::section(state, actor, echo).await?;
    let members = members::section(state, actor, echo).await?;
    let channels = if actor.can(Role::Manager) { Some(channels::section(state, actor, echo).await?) } else { None };
    let reports = if actor.can(Role::Manager) { Some(reports::section(state, actor, echo).await?) } else { None };
    let (tokens, audit) = if actor.can(Role::Admin) {
        let cursor = match super::inbox::paging(audit_cursor, None) {
            Ok((c, _)) => c,
            Err(e) => return Ok(error_page(&e, lang)),
        };
        (Some(tokens::section(state, actor, echo).await?), Some(audit::section(state, actor, cursor).await?))
    } else {
        (None, None)
    };
    // A refusal no form above could show (its record is gone).
    let unplaced = Echo::unplaced(echo, lang, &[]);
    let body = html! {
        h1 { (lang.t("Réglages", "Settings")) }
        (unplaced)
        nav.toc aria-label=(lang.t("Sections", "Sections")) {
            a href="#departments" { (lang.t("Services", "Departments")) }
            a href="#rules" { (lang.t("Routage", "Routing")) }
            a href="#members" { (lang.t("Membres", "Members")) }
            @if channels.is_some() { a href="#channels" { (lang.t("Notifications", "Notifications")) } }
            @if reports.is_some() { a href="#reports" { (lang.t("Rapports", "Reports")) } }
            @if tokens.is_some() { a href="#tokens" { (lang.t("Jetons d'API", "API tokens")) } }
            @if audit.is_some() { a href="#audit" { (lang.t("Journal", "Audit log")) } }
            @if actor.is_site_admin() { a href="/admin/users" { (lang.t("Utilisateurs de l'installation", "Installation users")) } }
        }
        @if !actor.can(Role::Manager) {
            p.notice { (lang.t(
                "Lecture seule\u{a0}: votre rôle ne permet pas de modifier ces réglages.",
                "Read only: your role does not allow changing these settings."
            )) }
        }
        (departments)
        (rules)
        (members)
        @if let Some(c) = channels { (c) }
        @if let Some(r) = reports { (r) }
        @if let Some(t) = tokens { (t) }
        @if let Some(a) = audit { (a) }
    };
    let response = page(state, actor, Nav::Settings, lang.t("Réglages", "Settings"), body).await?;
    Ok(Echo::answer(echo, response))
}

// ---------------------------------------------------------------------------
// Shared by the sections.

/// Writes one audit entry; changes made with a token name it.
pub(crate) async fn audit_change(
    state: &AppState,
    actor: &Actor,
    project_id: Option<i64>,
    action: &str,
    detail: String,
) -> Result<(), ApiError> {
    let detail = if actor.user.is_none() { format!("{detail} (by {})", actor.name()) } else { detail };
    state
        .store
        .audit(NewAudit { project_id, user_id: actor.user_id(), action: action.into(), detail }, Utc::now())
        .await?;
    Ok(())
}

/// A JSON body, with a message saying what is wrong with it.
pub(crate) fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("the request needs a JSON body"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("the body is not the expected JSON: {e}")))
}

/// A message in the reader's language (forms get the person's language,
/// the API English).
pub(crate) fn msg(lang: Lang, fr: String, en: String) -> String {
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

/// What a field is called, in both languages (`("le nom", "name")`).
pub(crate) type What = (&'static str, &'static str);

/// A trimmed name of 1 to `max` characters.
pub(crate) fn name_field(value: Option<&str>, max: usize, what: What, lang: Lang) -> Result<String, ApiError> {
    let v = value.map(str::trim).unwrap_or("");
    let n = v.chars().count();
    let (fr, en) = what;
    if n == 0 || n > max {
        return Err(ApiError::invalid(msg(
            lang,
            format!("{fr} doit avoir de 1 à {max} caractères (il en a {n})."),
            format!("the {en} must have 1 to {max} characters (it has {n})"),
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(ApiError::invalid(msg(
            lang,
            format!("{fr} ne doit pas contenir de caractères de contrôle."),
            format!("the {en} must not contain control characters"),
        )));
    }
    Ok(v.to_string())
}

/// An id from a form field (selects send an empty string for none).
pub(crate) fn form_id(value: Option<&str>, what: What, lang: Lang) -> Result<Option<i64>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            let (fr, en) = what;
            ApiError::invalid(msg(
                lang,
                format!("{fr} doit être un identifiant, pas {v:?}."),
                format!("the {en} must be an id, not {v:?}"),
            ))
        }),
    }
}

/// After a settings form: back to its section; refused, the settings page
/// again with form `form` as it was sent (`typed`) and the error beside it.
pub(crate) async fn form_done(
    state: &AppState,
    actor: &Actor,
    result: Result<(), ApiError>,
    back: &str,
    form: &str,
    typed: &impl Serialize,
) -> PageResult {
    match result {
        Ok(()) => Ok(see_other(back)),
        Err(e) => refused(state, actor, Echo::of(form, e, typed)).await,
    }
}

/// A refused settings form: the settings page with it as sent, if the person
/// can fix it there; else the error page.
pub(crate) async fn refused(state: &AppState, actor: &Actor, echo: Echo) -> PageResult {
    if !echo.error.fixable() {
        return Err(echo.error.into());
    }
    render(state, actor, None, Some(&echo)).await
}

/// The page that shows a new secret, once.
pub(crate) async fn secret_page(
    state: &AppState,
    actor: &Actor,
    title: &str,
    what: Markup,
    secret: &str,
    back: &str,
) -> Result<Response, super::PageError> {
    let lang = actor.lang;
    let body = html! {
        h1 { (title) }
        (what)
        p.secret data-secret { (secret) }
        p.notice role="alert" { (lang.t(
            "Copiez-le maintenant\u{a0}: il ne sera plus jamais affiché.",
            "Copy it now: it will never be shown again."
        )) }
        p { a href=(back) { (lang.t("← Retour", "← Back")) } }
    };
    page(state, actor, Nav::Settings, title, body).await
}

/// A language (of notifications, reports, a person's pages) named in the
/// reader's: `français`, `French`.
pub(crate) fn language_name(reader: Lang, l: Language) -> &'static str {
    match l {
        Language::Fr => reader.t("français", "French"),
        Language::En => reader.t("anglais", "English"),
    }
}

/// The `lang` select of a settings form, under `label`, `default` chosen
/// unless the refused form said otherwise.
pub(crate) fn language_select(reader: Lang, fe: FormEcho<'_>, label: &str, default: Language) -> Markup {
    html! {
        label { (label)
            select name="lang" aria-invalid=[fe.invalid("lang")] aria-describedby=[fe.described("lang")] {
                @for l in Language::ALL {
                    option value=(l.code()) selected[fe.chose("lang", l.code(), l == default)] { (language_name(reader, l)) }
                }
            }
        }
    }
}

/// A role's name in the reader's language.
pub(crate) fn role_label(lang: Lang, role: Role) -> &'static str {
    match role {
        Role::Viewer => lang.t("lecteur", "viewer"),
        Role::Agent => lang.t("agent", "agent"),
        Role::Manager => lang.t("responsable", "manager"),
        Role::Admin => lang.t("administrateur", "admin"),
    }
}

/// A role from a form or a body.
pub(crate) fn parse_role(value: Option<&str>, lang: Lang) -> Result<Role, ApiError> {
    value
        .unwrap_or("")
        .parse::<Role>()
        .map_err(|e| ApiError::invalid(msg(lang, "Le rôle doit être viewer, agent, manager ou admin.".into(), e)))
}

/// A conflict from the store (a name taken), said in the reader's language.
pub(crate) fn taken(e: vigie_store::StoreError, lang: Lang, fr: String) -> ApiError {
    match e {
        vigie_store::StoreError::Conflict(en) => ApiError::conflict(msg(lang, fr, en)),
        other => other.into(),
    }
}

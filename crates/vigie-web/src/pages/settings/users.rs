//! The installation's users (installation admins only): add with a
//! one-time password shown once, disable / enable (disabling logs them out
//! everywhere), reset the password, grant or take the admin flag.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use axum::{Extension, Form, Json};
use chrono::Utc;
use maud::html;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vigie_store::{NewUser, User};

use super::{MAX_NAME_CHARS, audit_change, json_body, language_select, msg, name_field, secret_page, taken};
use crate::auth::{self, Actor, one_time_password};
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::account::user_json;
use crate::pages::echo::Echo;
use crate::pages::{Nav, PageResult, created, csrf_field, page, see_other};
use crate::routes::Routes;
use crate::{Access, AppState};

/// Longest username.
pub const MAX_USERNAME: usize = 64;

pub(super) fn routes(r: Routes) -> Routes {
    let admin = Access::SiteAdmin;
    r.page(Method::GET, "/admin/users", admin, "Installation users page", users_page)
        .page(Method::POST, "/admin/users", admin, "Add a user (form; one-time password shown once)", add_form)
        .page(
            Method::POST,
            "/admin/users/{uid}",
            admin,
            "Disable, enable, reset the password of, or change the admin flag of a user (form)",
            update_form,
        )
        .api(Method::GET, "/api/v1/users", admin, "The installation's users", list_api)
        .api(
            Method::POST,
            "/api/v1/users",
            admin,
            "Add a user {username, display_name, email, is_admin, lang}; the one-time password is answered once",
            add_api,
        )
        .api(
            Method::PUT,
            "/api/v1/users/{uid}",
            admin,
            "Change a user {display_name, email, is_admin, lang, disabled, reset_password}",
            update_api,
        )
}

const BACK: &str = "/admin/users";

const DISPLAY_NAME: super::What = ("Le nom affiché", "display name");

fn check_username(raw: Option<&str>, lang: Lang) -> Result<String, ApiError> {
    let name = raw.map(str::trim).unwrap_or("");
    if name.is_empty() || name.chars().count() > MAX_USERNAME {
        return Err(ApiError::invalid(msg(
            lang,
            format!("Un identifiant a de 1 à {MAX_USERNAME} caractères."),
            format!("a username has 1 to {MAX_USERNAME} characters"),
        )));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@')) {
        return Err(ApiError::invalid(lang.t(
            "Un identifiant ne peut contenir que des lettres, des chiffres, «\u{a0}-\u{a0}», «\u{a0}_\u{a0}», «\u{a0}.\u{a0}» et «\u{a0}@\u{a0}».",
            "a username may only hold letters, digits, '-', '_', '.' and '@'",
        )));
    }
    Ok(name.to_string())
}

pub(crate) fn check_email(raw: Option<&str>, lang: Lang) -> Result<Option<String>, ApiError> {
    match raw.map(str::trim).filter(|e| !e.is_empty()) {
        None => Ok(None),
        Some(e) => {
            let list = super::channels::check_addresses(e, lang)?;
            match list.as_slice() {
                [one] => Ok(Some(one.clone())),
                _ => Err(ApiError::invalid(lang.t("Indiquez une seule adresse e-mail.", "give one e-mail address"))),
            }
        }
    }
}

fn check_lang(raw: Option<&str>, lang: Lang) -> Result<String, ApiError> {
    match raw.map(str::trim).filter(|l| !l.is_empty()) {
        None => Ok("fr".into()),
        Some(l) => Lang::parse(l)
            .map(|l| l.code().to_string())
            .ok_or_else(|| ApiError::invalid(lang.t("La langue doit être fr ou en.", "the language must be fr or en"))),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct UserInput {
    username: Option<String>,
    display_name: Option<String>,
    email: Option<String>,
    #[serde(default)]
    is_admin: Option<bool>,
    lang: Option<String>,
}

/// Adds the user with a one-time password; returns both.
async fn add(state: &AppState, actor: &Actor, input: UserInput, lang: Lang) -> Result<(User, String), ApiError> {
    let username = check_username(input.username.as_deref(), lang).map_err(|e| e.for_field("username"))?;
    let display_name = match input.display_name.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => username.clone(),
        Some(d) => name_field(Some(d), MAX_NAME_CHARS, DISPLAY_NAME, lang).map_err(|e| e.for_field("display_name"))?,
    };
    let password = one_time_password();
    let user = NewUser {
        username,
        display_name,
        email: check_email(input.email.as_deref(), lang).map_err(|e| e.for_field("email"))?,
        password_hash: auth::hash_password_blocking(&password).await?,
        is_admin: input.is_admin.unwrap_or(false),
        lang: check_lang(input.lang.as_deref(), lang).map_err(|e| e.for_field("lang"))?,
        must_change_password: true,
    };
    let name = user.username.clone();
    let added = state.store.add_user(user, Utc::now()).await.map_err(|e| {
        taken(e, lang, format!("L'identifiant «\u{a0}{name}\u{a0}» est déjà pris.")).for_field("username")
    })?;
    audit_change(
        state,
        actor,
        None,
        "user.add",
        format!("added user {}{}", added.username, if added.is_admin { " (installation admin)" } else { "" }),
    )
    .await?;
    Ok((added, password))
}

/// A change to a user; each field left out stays as it is.
#[derive(Debug, Deserialize, Default)]
pub struct UserChange {
    display_name: Option<String>,
    email: Option<String>,
    is_admin: Option<bool>,
    lang: Option<String>,
    disabled: Option<bool>,
    #[serde(default)]
    reset_password: bool,
}

/// Applies the change; returns the user and, after a reset, the new one-time password.
async fn update(
    state: &AppState,
    actor: &Actor,
    uid: i64,
    change: UserChange,
    lang: Lang,
) -> Result<(User, Option<String>), ApiError> {
    let before = state.store.user(uid).await?.ok_or_else(|| {
        ApiError::not_found(msg(lang, format!("L'utilisateur {uid} n'existe pas."), format!("no user {uid}")))
    })?;
    let myself = actor.user_id() == Some(uid);
    if myself && change.disabled == Some(true) {
        return Err(ApiError::conflict(
            lang.t("Vous ne pouvez pas désactiver votre propre compte.", "you cannot disable your own account"),
        ));
    }
    if myself && change.is_admin == Some(false) {
        return Err(ApiError::conflict(lang.t(
            "Vous ne pouvez pas retirer vos propres droits d'administration\u{a0}: demandez à un autre administrateur.",
            "you cannot take away your own admin flag: ask another admin",
        )));
    }
    let mut after = before.clone();
    if let Some(d) = change.display_name.as_deref() {
        after.display_name = name_field(Some(d), MAX_NAME_CHARS, DISPLAY_NAME, lang)?;
    }
    if let Some(e) = change.email.as_deref() {
        after.email = check_email(Some(e), lang)?;
    }
    if let Some(a) = change.is_admin {
        after.is_admin = a;
    }
    if let Some(l) = change.lang.as_deref() {
        after.lang = check_lang(Some(l), lang)?;
    }
    if let Some(d) = change.disabled {
        after.disabled = d;
    }
    let mut changes = Vec::new();
    if after.display_name != before.display_name {
        changes.push(format!("display name {:?} → {:?}", before.display_name, after.display_name));
    }
    if after.email != before.email {
        changes.push(format!(
            "e-mail {} → {}",
            before.email.as_deref().unwrap_or("none"),
            after.email.as_deref().unwrap_or("none")
        ));
    }
    if after.is_admin != before.is_admin {
        changes.push(if after.is_admin {
            "made installation admin".into()
        } else {
            "no longer installation admin".into()
        });
    }
    if after.lang != before.lang {
        changes.push(format!("language {} → {}", before.lang, after.lang));
    }
    if after != before {
        state.store.update_user(&after, &actor.changed_by(Utc::now())).await?;
    }
    if after.disabled != before.disabled {
        if after.disabled {
            // Logged out everywhere, now.
            state.store.delete_user_sessions(uid).await?;
        }
        let (action, what) = if after.disabled { ("user.disable", "disabled") } else { ("user.enable", "enabled") };
        audit_change(state, actor, None, action, format!("{what} user {}", after.username)).await?;
    }
    if !changes.is_empty() {
        audit_change(state, actor, None, "user.update", format!("user {}: {}", after.username, changes.join(", ")))
            .await?;
    }
    let password = if change.reset_password {
        let password = one_time_password();
        state.store.set_password(uid, &auth::hash_password_blocking(&password).await?, true).await?;
        state.store.delete_user_sessions(uid).await?;
        audit_change(state, actor, None, "user.password_reset", format!("reset the password of {}", after.username))
            .await?;
        after.must_change_password = true;
        Some(password)
    } else {
        None
    };
    Ok((after, password))
}

async fn list_api(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let users = state.store.list_users().await?;
    Ok(Json(json!({"items": users.iter().map(user_json).collect::<Vec<_>>(), "next_cursor": null})))
}

async fn add_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: UserInput = json_body(&body)?;
    let (user, password) = add(&state, &actor, input, Lang::En).await?;
    Ok(created(json!({"user": user_json(&user), "one_time_password": password})))
}

async fn update_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(uid): Path<i64>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let change: UserChange = json_body(&body)?;
    let (user, password) = update(&state, &actor, uid, change, Lang::En).await?;
    let mut v = json!({"user": user_json(&user)});
    if let Some(p) = password {
        v["one_time_password"] = json!(p);
    }
    Ok(Json(v))
}

#[derive(Debug, Deserialize, Serialize, Default, Clone)]
pub struct AddForm {
    username: Option<String>,
    display_name: Option<String>,
    email: Option<String>,
    is_admin: Option<String>,
    lang: Option<String>,
}

async fn add_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Form(f): Form<AddForm>,
) -> PageResult {
    let lang = actor.lang;
    let input = UserInput {
        username: f.username.clone(),
        display_name: f.display_name.clone(),
        email: f.email.clone(),
        is_admin: Some(f.is_admin.as_ref().is_some_and(|v| !v.is_empty())),
        lang: f.lang.clone(),
    };
    match add(&state, &actor, input, lang).await {
        Err(e) => refused(&state, &actor, Echo::of("user-add", e, &f)).await,
        Ok((user, password)) => {
            let what = html! {
                p { (lang.t("Compte ", "Account ")) strong { (user.username) } (lang.t(
                    " créé. Transmettez-lui ce mot de passe à usage unique\u{a0}: il en choisira un nouveau à la première connexion.",
                    " created. Give them this one-time password: they choose a new one when they first log in."
                )) }
            };
            secret_page(&state, &actor, lang.t("Nouvel utilisateur", "New user"), what, &password, BACK).await
        }
    }
}

#[derive(Debug, Deserialize, Serialize, Default)]
pub struct UpdateForm {
    op: Option<String>,
    /// For `reset_password`: the [`password_stamp`] the page was shown with.
    seen: Option<String>,
}

/// A short fingerprint of a user's password hash (salted, so it changes with
/// every reset): a reset form carries the one it was shown with, so that
/// reloading the page that shows the new password does not reset it again
/// and make the password just handed out useless.
async fn password_stamp(state: &AppState, username: &str) -> Result<String, ApiError> {
    let hash = state.store.user_by_name(username).await?.map(|(_, hash)| hash).unwrap_or_default();
    Ok(crate::auth::sha256_hex(&hash)[..16].to_string())
}

async fn update_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(uid): Path<i64>,
    Form(f): Form<UpdateForm>,
) -> PageResult {
    let lang = actor.lang;
    let form = format!("user-{uid}");
    let change = match f.op.as_deref() {
        Some("disable") => UserChange { disabled: Some(true), ..UserChange::default() },
        Some("enable") => UserChange { disabled: Some(false), ..UserChange::default() },
        Some("make_admin") => UserChange { is_admin: Some(true), ..UserChange::default() },
        Some("remove_admin") => UserChange { is_admin: Some(false), ..UserChange::default() },
        Some("reset_password") => {
            let Some(user) = state.store.user(uid).await? else {
                let e = ApiError::not_found(format!("no user {uid}")).with_french(format!("aucun utilisateur {uid}"));
                return refused(&state, &actor, Echo::of(form, e, &f)).await;
            };
            if f.seen.as_deref() != Some(password_stamp(&state, &user.username).await?.as_str()) {
                // A reloaded result page, or a second tab: already done.
                let e = ApiError::conflict(format!(
                    "the password of {} was reset already (page reloaded?): the one shown then is valid; \
                     reset it again from the users page if needed",
                    user.username
                ))
                .with_french(format!(
                    "le mot de passe de {} vient déjà d'être réinitialisé (page rechargée\u{202f}?)\u{a0}: \
                     celui affiché alors est le bon\u{a0}; réinitialisez-le de nouveau depuis la page des \
                     utilisateurs si besoin",
                    user.username
                ));
                return refused(&state, &actor, Echo::of(form, e, &f)).await;
            }
            UserChange { reset_password: true, ..UserChange::default() }
        }
        _ => {
            let e = ApiError::invalid("op must be disable, enable, make_admin, remove_admin or reset_password")
                .with_french("op doit être disable, enable, make_admin, remove_admin ou reset_password");
            return refused(&state, &actor, Echo::of(form, e, &f)).await;
        }
    };
    match update(&state, &actor, uid, change, lang).await {
        Err(e) => refused(&state, &actor, Echo::of(form, e, &f)).await,
        Ok((_, None)) => Ok(see_other(BACK)),
        Ok((user, Some(password))) => {
            let what = html! {
                p { (lang.t("Nouveau mot de passe à usage unique de ", "New one-time password of ")) strong { (user.username) }
                    (lang.t(" (ses sessions ouvertes sont fermées)\u{a0}:", " (their open sessions were ended):")) }
            };
            secret_page(&state, &actor, lang.t("Mot de passe réinitialisé", "Password reset"), what, &password, BACK)
                .await
        }
    }
}

async fn users_page(State(state): State<AppState>, Extension(actor): Extension<Actor>) -> PageResult {
    render(&state, &actor, None).await
}

/// A refused form of the users page: the page with it as sent, if the
/// person can fix it there; else the error page.
async fn refused(state: &AppState, actor: &Actor, echo: Echo) -> PageResult {
    if !echo.error.fixable() {
        return Err(echo.error.into());
    }
    render(state, actor, Some(&echo)).await
}

/// The users page; with `echo`, a refused form shown again as sent.
async fn render(state: &AppState, actor: &Actor, echo: Option<&Echo>) -> PageResult {
    let lang = actor.lang;
    let users = state.store.list_users().await?;
    let mut stamps = std::collections::HashMap::new();
    for u in &users {
        stamps.insert(u.id, password_stamp(state, &u.username).await?);
    }
    let op = |uid: i64, op: &'static str, label: &'static str, class: &'static str, confirm: Option<&'static str>| {
        html! {
            form.inline method="post" action={ "/admin/users/" (uid) } data-confirm=[confirm] {
                (csrf_field(actor))
                input type="hidden" name="op" value=(op);
                @if op == "reset_password" { input type="hidden" name="seen" value=(stamps.get(&uid).map_or("", String::as_str)); }
                button class=(class) type="submit" { (label) }
            }
        }
    };
    let fe = Echo::on(echo, "user-add");
    let add = html! {
        section.card {
            h2 { (lang.t("Ajouter un utilisateur", "Add a user")) }
            form.stack method="post" action="/admin/users" {
                (csrf_field(actor))
                (fe.error(lang))
                label { (lang.t("Identifiant (lettres, chiffres, - _ . @)", "Username (letters, digits, - _ . @)"))
                    input type="text" name="username" required maxlength=(MAX_USERNAME) autocomplete="off" value=(fe.value("username", ""))
                        aria-invalid=[fe.invalid("username")] aria-describedby=[fe.described("username")]; }
                label { (lang.t("Nom affiché", "Display name"))
                    input type="text" name="display_name" maxlength=(MAX_NAME_CHARS) value=(fe.value("display_name", ""))
                        aria-invalid=[fe.invalid("display_name")] aria-describedby=[fe.described("display_name")]; }
                label { (lang.t("E-mail (facultatif)", "E-mail (optional)"))
                    input type="email" name="email" maxlength="254" value=(fe.value("email", ""))
                        aria-invalid=[fe.invalid("email")] aria-describedby=[fe.described("email")]; }
                (language_select(lang, fe, lang.t("Langue", "Language"), lang.into()))
                label.check { input type="checkbox" name="is_admin" value="1" checked[fe.ticked("is_admin", false)]; " " (lang.t("Administrateur de l'installation", "Installation admin")) }
                button type="submit" { (lang.t("Ajouter", "Add")) }
            }
        }
    };
    let table = html! {
        div.table-wrap { table {
            thead { tr {
                th { (lang.t("Identifiant", "Username")) }
                th { (lang.t("Nom", "Name")) }
                th { (lang.t("E-mail", "E-mail")) }
                th { (lang.t("Langue", "Language")) }
                th { (lang.t("État", "State")) }
                th { (lang.t("Créé le", "Created")) }
                th { (lang.t("Actions", "Actions")) }
            } }
            tbody {
                @for u in &users {
                    tr {
                        td { (u.username) @if u.is_admin { " " span.badge { (lang.t("admin", "admin")) } } }
                        td { (u.display_name) }
                        td { (u.email.as_deref().unwrap_or("—")) }
                        td { (u.lang) }
                        td {
                            @if u.disabled { span.badge { (lang.t("désactivé", "disabled")) } }
                            @else if u.must_change_password { span.muted { (lang.t("mot de passe à changer", "must change password")) } }
                            @else { (lang.t("actif", "active")) }
                        }
                        td { (lang.date(u.created_at)) }
                        td.actions {
                            (Echo::on(echo, &format!("user-{}", u.id)).error(lang))
                            @if actor.user_id() != Some(u.id) {
                                @if u.disabled { (op(u.id, "enable", lang.t("Réactiver", "Enable"), "secondary", None)) }
                                @else { (op(u.id, "disable", lang.t("Désactiver", "Disable"), "danger", Some(lang.t("Désactiver ce compte\u{202f}? Ses sessions seront fermées.", "Disable this account? Their sessions end.")))) }
                                " "
                                @if u.is_admin { (op(u.id, "remove_admin", lang.t("Retirer l'administration", "Remove admin"), "secondary", None)) }
                                @else { (op(u.id, "make_admin", lang.t("Rendre administrateur", "Make admin"), "secondary", Some(lang.t("Donner tous les droits sur l'installation\u{202f}?", "Give full rights over the installation?")))) }
                                " "
                            }
                            (op(u.id, "reset_password", lang.t("Réinitialiser le mot de passe", "Reset password"), "secondary", Some(lang.t("Générer un nouveau mot de passe à usage unique\u{202f}?", "Generate a new one-time password?"))))
                        }
                    }
                }
            }
        } }
    };
    // A refusal no form above could show (the user is gone).
    let unplaced = Echo::unplaced(echo, lang, &[]);
    let body = html! {
        h1 { (lang.t("Utilisateurs de l'installation", "Installation users")) }
        (unplaced)
        (table)
        (add)
    };
    let response = page(state, actor, Nav::Settings, lang.t("Utilisateurs", "Users"), body).await?;
    Ok(Echo::answer(echo, response))
}

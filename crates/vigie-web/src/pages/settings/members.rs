//! The project's members and their roles (admins manage them). People are
//! added by username: accounts are made by installation admins
//! (`/admin/users`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::{Extension, Form, Json};
use chrono::Utc;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vigie_model::Role;
use vigie_store::User;

use super::{audit_change, form_done, json_body, msg, parse_role, role_label};
use crate::auth::Actor;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::echo::{Echo, FormEcho};
use crate::pages::{PageResult, created, csrf_field};
use crate::routes::Routes;
use crate::{Access, AppState};

pub(super) fn routes(r: Routes) -> Routes {
    let viewer = Access::Project(Role::Viewer);
    let admin = Access::Project(Role::Admin);
    r.page(Method::POST, "/p/{pid}/settings/members", admin, "Add a member (form)", add_form)
        .page(Method::POST, "/p/{pid}/settings/members/{uid}", admin, "Change a member's role (form)", role_form)
        .page(Method::POST, "/p/{pid}/settings/members/{uid}/delete", admin, "Remove a member (form)", delete_form)
        .api(Method::GET, "/api/v1/projects/{pid}/members", viewer, "The project's members and their roles", list_api)
        .api(Method::POST, "/api/v1/projects/{pid}/members", admin, "Add an existing user {username, role}", add_api)
        .api(Method::PUT, "/api/v1/projects/{pid}/members/{uid}", admin, "Change a member's {role}", role_api)
        .api(Method::DELETE, "/api/v1/projects/{pid}/members/{uid}", admin, "Remove a member", delete_api)
}

fn back(pid: i64) -> String {
    format!("/p/{pid}/settings#members")
}

fn member_json(u: &User, role: Role) -> Value {
    json!({
        "user_id": u.id, "username": u.username, "display_name": u.display_name,
        "role": role.as_str(), "disabled": u.disabled,
    })
}

/// Refuses a change that would leave the project without an admin, and
/// changes to one's own membership (another admin does those).
async fn check_change(
    state: &AppState,
    actor: &Actor,
    pid: i64,
    uid: i64,
    new_role: Option<Role>,
    lang: Lang,
) -> Result<(User, Role), ApiError> {
    let members = state.store.members(pid).await?;
    let (user, role) = members.iter().find(|(u, _)| u.id == uid).cloned().ok_or_else(|| {
        ApiError::not_found(msg(
            lang,
            format!("L'utilisateur {uid} n'est pas membre de ce projet."),
            format!("user {uid} is not a member of this project"),
        ))
    })?;
    if actor.user_id() == Some(uid) {
        return Err(ApiError::conflict(lang.t(
            "Vous ne pouvez pas changer votre propre rôle\u{a0}: demandez à un autre administrateur.",
            "you cannot change your own membership: ask another admin",
        )));
    }
    let other_admins = members.iter().filter(|(u, r)| u.id != uid && *r == Role::Admin && !u.disabled).count();
    if role == Role::Admin && new_role != Some(Role::Admin) && other_admins == 0 {
        return Err(ApiError::conflict(lang.t(
            "C'est le dernier administrateur du projet\u{a0}: nommez-en un autre d'abord.",
            "this is the project's last admin: make someone else admin first",
        )));
    }
    Ok((user, role))
}

async fn add(
    state: &AppState,
    actor: &Actor,
    username: Option<&str>,
    role: Option<&str>,
    lang: Lang,
) -> Result<(User, Role), ApiError> {
    let pid = actor.project_id()?;
    let username = username.map(str::trim).filter(|u| !u.is_empty()).ok_or_else(|| {
        ApiError::invalid(lang.t("Indiquez un identifiant.", "give a username")).for_field("username")
    })?;
    let role = parse_role(role, lang).map_err(|e| e.for_field("role"))?;
    let (user, _) = state.store.user_by_name(username).await?.ok_or_else(|| {
        ApiError::not_found(msg(
            lang,
            format!(
                "Aucun utilisateur {username:?}\u{a0}: les comptes sont créés par un administrateur de l'installation."
            ),
            format!("no user named {username:?}: an installation admin creates accounts"),
        ))
        .for_field("username")
    })?;
    if state.store.members(pid).await?.iter().any(|(u, _)| u.id == user.id) {
        return Err(ApiError::conflict(msg(
            lang,
            format!("{} est déjà membre\u{a0}: changez plutôt son rôle.", user.username),
            format!("{} is a member already: change their role instead", user.username),
        ))
        .for_field("username"));
    }
    state.store.set_membership(pid, user.id, Some(role), &actor.changed_by(Utc::now())).await?;
    audit_change(state, actor, Some(pid), "member.add", format!("added {} as {role}", user.username)).await?;
    Ok((user, role))
}

async fn change_role(
    state: &AppState,
    actor: &Actor,
    uid: i64,
    role: Option<&str>,
    lang: Lang,
) -> Result<(User, Role), ApiError> {
    let pid = actor.project_id()?;
    let role = parse_role(role, lang).map_err(|e| e.for_field("role"))?;
    let (user, before) = check_change(state, actor, pid, uid, Some(role), lang).await?;
    if before != role {
        state.store.set_membership(pid, uid, Some(role), &actor.changed_by(Utc::now())).await?;
        audit_change(state, actor, Some(pid), "member.role", format!("{}: {before} → {role}", user.username)).await?;
    }
    Ok((user, role))
}

async fn remove(state: &AppState, actor: &Actor, uid: i64, lang: Lang) -> Result<(), ApiError> {
    let pid = actor.project_id()?;
    let (user, before) = check_change(state, actor, pid, uid, None, lang).await?;
    state.store.set_membership(pid, uid, None, &actor.changed_by(Utc::now())).await?;
    audit_change(state, actor, Some(pid), "member.remove", format!("removed {} ({before})", user.username)).await
}

#[derive(Debug, Deserialize, Serialize, Default)]
pub struct MemberInput {
    username: Option<String>,
    role: Option<String>,
}

async fn list_api(State(state): State<AppState>, Extension(actor): Extension<Actor>) -> Result<Json<Value>, ApiError> {
    let members = state.store.members(actor.project_id()?).await?;
    Ok(Json(json!({"items": members.iter().map(|(u, r)| member_json(u, *r)).collect::<Vec<_>>(), "next_cursor": null})))
}

async fn add_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    let b: MemberInput = json_body(&body)?;
    let (user, role) = add(&state, &actor, b.username.as_deref(), b.role.as_deref(), Lang::En).await?;
    Ok(created(member_json(&user, role)))
}

async fn role_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, uid)): Path<(i64, i64)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b: MemberInput = json_body(&body)?;
    let (user, role) = change_role(&state, &actor, uid, b.role.as_deref(), Lang::En).await?;
    Ok(Json(member_json(&user, role)))
}

async fn delete_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, uid)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    remove(&state, &actor, uid, Lang::En).await?;
    Ok(Json(json!({"removed": uid})))
}

async fn add_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Form(f): Form<MemberInput>,
) -> PageResult {
    let pid = actor.project_id()?;
    let result = add(&state, &actor, f.username.as_deref(), f.role.as_deref(), actor.lang).await.map(|_| ());
    form_done(&state, &actor, result, &back(pid), "member-add", &f).await
}

async fn role_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, uid)): Path<(i64, i64)>,
    Form(f): Form<MemberInput>,
) -> PageResult {
    let pid = actor.project_id()?;
    let result = change_role(&state, &actor, uid, f.role.as_deref(), actor.lang).await.map(|_| ());
    form_done(&state, &actor, result, &back(pid), &format!("member-{uid}"), &f).await
}

async fn delete_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, uid)): Path<(i64, i64)>,
) -> PageResult {
    let pid = actor.project_id()?;
    let result = remove(&state, &actor, uid, actor.lang).await;
    form_done(&state, &actor, result, &back(pid), &format!("member-{uid}"), &()).await
}

pub(super) async fn section(state: &AppState, actor: &Actor, echo: Option<&Echo>) -> Result<Markup, ApiError> {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let members = state.store.members(pid).await?;
    let can = actor.can(Role::Admin);
    // `whose`: the member a row's select is about (its accessible name; the
    // add form's select has its label).
    let role_select = |current: Role, fe: FormEcho<'_>, whose: Option<&str>| {
        let name = whose.map(|w| format!("{}{w}", lang.t("Rôle de ", "Role of ")));
        html! {
            select name="role" aria-label=[name] aria-invalid=[fe.invalid("role")] aria-describedby=[fe.described("role")] {
                @for r in Role::ALL { option value=(r.as_str()) selected[fe.chose("role", r.as_str(), r == current)] { (role_label(lang, r)) } }
            }
        }
    };
    let add = Echo::on(echo, "member-add");
    Ok(html! {
        section.card #members {
            h2 { (lang.t("Membres", "Members")) }
            div.table-wrap { table {
                thead { tr {
                    th { (lang.t("Identifiant", "Username")) }
                    th { (lang.t("Nom", "Name")) }
                    th { (lang.t("Rôle", "Role")) }
                    @if can { th { (lang.t("Actions", "Actions")) } }
                } }
                tbody {
                    @for (u, r) in &members {
                        tr {
                            td { (u.username) @if u.disabled { " " span.badge { (lang.t("désactivé", "disabled")) } } }
                            td { (u.display_name) }
                            td { (role_label(lang, *r)) }
                            @if can {
                                @let fe = Echo::on(echo, &format!("member-{}", u.id));
                                td {
                                    @if actor.user_id() != Some(u.id) {
                                        (fe.error(lang))
                                        form.inline method="post" action={ "/p/" (pid) "/settings/members/" (u.id) } {
                                            (csrf_field(actor))
                                            (role_select(*r, fe, Some(&u.display_name)))
                                            button.secondary type="submit" { (lang.t("Changer", "Change")) }
                                        }
                                        " "
                                        form.inline method="post" action={ "/p/" (pid) "/settings/members/" (u.id) "/delete" }
                                            data-confirm=(lang.t("Retirer ce membre du projet\u{202f}?", "Remove this member from the project?")) {
                                            (csrf_field(actor))
                                            button.danger type="submit" { (lang.t("Retirer", "Remove")) }
                                        }
                                    } @else {
                                        span.muted { (lang.t("(vous)", "(you)")) }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
            @if can {
                details open[add.refused()] {
                    summary { (lang.t("Ajouter un membre", "Add a member")) }
                    form.stack method="post" action={ "/p/" (pid) "/settings/members" } {
                        (csrf_field(actor))
                        (add.error(lang))
                        label { (lang.t("Identifiant d'un utilisateur existant", "Username of an existing user"))
                            input type="text" name="username" required maxlength="64" autocomplete="off" value=(add.value("username", ""))
                                aria-invalid=[add.invalid("username")] aria-describedby=[add.described("username")]; }
                        label { (lang.t("Rôle", "Role")) (role_select(Role::Viewer, add, None)) }
                        button type="submit" { (lang.t("Ajouter", "Add")) }
                    }
                }
            }
        }
    })
}

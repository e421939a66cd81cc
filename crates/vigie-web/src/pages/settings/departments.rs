//! Departments: who answers mentions, their response-time target and the
//! manager overdue items are escalated to.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::{Extension, Form, Json};
use chrono::Utc;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vigie_model::Role;
use vigie_store::{Department, NewDepartment, User};

use super::{MAX_NAME_CHARS, audit_change, form_done, form_id, json_body, msg, name_field, taken};
use crate::auth::Actor;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::echo::{Echo, FormEcho};
use crate::pages::{PageResult, created, csrf_field};
use crate::routes::Routes;
use crate::{Access, AppState};

/// Shortest and longest response target.
pub const MIN_TARGET_SECS: i64 = 60;
pub const MAX_TARGET_SECS: i64 = 30 * 86_400;

pub(super) fn routes(r: Routes) -> Routes {
    let viewer = Access::Project(Role::Viewer);
    let manager = Access::Project(Role::Manager);
    r.page(Method::POST, "/p/{pid}/settings/departments", manager, "Add a department (form)", add_form)
        .page(Method::POST, "/p/{pid}/settings/departments/{id}", manager, "Edit a department (form)", edit_form)
        .page(
            Method::POST,
            "/p/{pid}/settings/departments/{id}/delete",
            manager,
            "Remove a department (form)",
            delete_form,
        )
        .api(
            Method::GET,
            "/api/v1/projects/{pid}/departments",
            viewer,
            "Departments with their response target",
            list_api,
        )
        .api(
            Method::POST,
            "/api/v1/projects/{pid}/departments",
            manager,
            "Add a department {name, response_target_secs, manager_id}",
            add_api,
        )
        .api(
            Method::PUT,
            "/api/v1/projects/{pid}/departments/{id}",
            manager,
            "Replace a department's {name, response_target_secs, manager_id}",
            update_api,
        )
        .api(
            Method::DELETE,
            "/api/v1/projects/{pid}/departments/{id}",
            manager,
            "Remove a department and its rules",
            delete_api,
        )
}

fn back(pid: i64) -> String {
    format!("/p/{pid}/settings#departments")
}

pub(crate) fn department_json(d: &Department) -> Value {
    json!({
        "id": d.id, "name": d.name, "response_target_secs": d.response_target_secs,
        "manager_id": d.manager_id, "created_at": d.created_at.to_rfc3339(),
    })
}

/// A department as given, checked.
struct Input {
    name: String,
    target_secs: i64,
    manager_id: Option<i64>,
}

const NAME: super::What = ("Le nom du service", "department name");

fn check_target(secs: i64, lang: Lang) -> Result<i64, ApiError> {
    if !(MIN_TARGET_SECS..=MAX_TARGET_SECS).contains(&secs) {
        return Err(ApiError::invalid(msg(
            lang,
            "L'objectif de réponse doit être compris entre 1 minute et 30 jours.".into(),
            format!(
                "the response target must be between 1 minute and 30 days ({MIN_TARGET_SECS} to {MAX_TARGET_SECS} seconds)"
            ),
        ))
        .for_field("hours"));
    }
    Ok(secs)
}

/// The manager must be a member of the project.
async fn check_manager(state: &AppState, pid: i64, manager: Option<i64>, lang: Lang) -> Result<Option<User>, ApiError> {
    let Some(id) = manager else { return Ok(None) };
    let members = state.store.members(pid).await?;
    let Some((user, role)) = members.into_iter().find(|(u, _)| u.id == id) else {
        return Err(ApiError::invalid(msg(
            lang,
            format!("L'utilisateur {id} n'est pas membre du projet\u{a0}: ajoutez-le d'abord."),
            format!("user {id} is not a member of this project: add them first"),
        ))
        .for_field("manager_id"));
    };
    if user.disabled {
        return Err(ApiError::invalid(msg(
            lang,
            format!("Le compte de {} est désactivé\u{a0}: choisissez une personne active.", user.display_name),
            format!("{}'s account is disabled: choose someone active", user.display_name),
        )));
    }
    // Overdue items are escalated to the manager, who must be able to act on them.
    if role < Role::Agent {
        return Err(ApiError::invalid(msg(
            lang,
            format!(
                "{} est lecteur dans ce projet et ne pourrait pas traiter les mentions en retard\u{a0}: choisissez un agent, un responsable ou un administrateur.",
                user.display_name
            ),
            format!(
                "{} is a viewer in this project and could not handle overdue mentions: choose an agent, manager or admin",
                user.display_name
            ),
        ))
        .for_field("manager_id"));
    }
    Ok(Some(user))
}

fn describe(d: &Department, manager: Option<&User>) -> String {
    format!(
        "{} (target {} min, manager {})",
        d.name,
        d.response_target_secs / 60,
        manager.map(|u| u.username.as_str()).unwrap_or("none")
    )
}

/// The French of the store's "name taken" (the English is the store's own).
fn name_taken(name: &str) -> String {
    format!("Ce projet a déjà un service nommé «\u{a0}{name}\u{a0}».")
}

/// Names are one whatever their case: "Billing" and "billing" would be two
/// departments no one can tell apart in a list; nor can "Service client"
/// and the default "Customer service" a French reader sees so.
async fn check_name_free(
    state: &AppState,
    pid: i64,
    name: &str,
    except: Option<i64>,
    lang: Lang,
) -> Result<(), ApiError> {
    let departments = state.store.list_departments(pid).await?;
    // A default department also by the French name its readers see.
    let names = departments.iter().flat_map(|d| {
        let french = vigie_model::department_name(&d.name, vigie_model::Language::Fr);
        [(d.id, d.name.as_str()), (d.id, french)]
    });
    match crate::pages::same_name_ignoring_case(names, name, except) {
        Some(taken) => Err(ApiError::conflict(msg(
            lang,
            name_taken(taken),
            format!("this project already has a department named {taken:?}"),
        ))
        .for_field("name")),
        None => Ok(()),
    }
}

async fn add(state: &AppState, actor: &Actor, input: Input, lang: Lang) -> Result<Department, ApiError> {
    let pid = actor.project_id()?;
    let manager = check_manager(state, pid, input.manager_id, lang).await?;
    check_name_free(state, pid, &input.name, None, lang).await?;
    let name = input.name.clone();
    let d = state
        .store
        .add_department(
            pid,
            NewDepartment { name: input.name, response_target_secs: input.target_secs, manager_id: input.manager_id },
            Utc::now(),
        )
        .await
        .map_err(|e| taken(e, lang, name_taken(&name)).for_field("name"))?;
    audit_change(
        state,
        actor,
        Some(pid),
        "department.add",
        format!("added department {}", describe(&d, manager.as_ref())),
    )
    .await?;
    Ok(d)
}

async fn find(state: &AppState, pid: i64, id: i64, lang: Lang) -> Result<Department, ApiError> {
    state.store.list_departments(pid).await?.into_iter().find(|d| d.id == id).ok_or_else(|| {
        ApiError::not_found(msg(
            lang,
            format!("Le service {id} n'existe pas dans ce projet."),
            format!("no department {id} in this project"),
        ))
    })
}

async fn update(
    state: &AppState,
    actor: &Actor,
    id: i64,
    mut input: Input,
    lang: Lang,
) -> Result<Department, ApiError> {
    let pid = actor.project_id()?;
    let before = find(state, pid, id, lang).await?;
    // A default department is shown by its name in the reader's language
    // (`Service client`): sent back unchanged, the stored name stays, for
    // the readers of the other language too.
    if input.name == crate::pages::dept(lang, &before.name) {
        input.name = before.name.clone();
    }
    let manager = check_manager(state, pid, input.manager_id, lang).await?;
    check_name_free(state, pid, &input.name, Some(id), lang).await?;
    let old_manager = match before.manager_id {
        Some(m) => state.store.user(m).await?,
        None => None,
    };
    let after = Department {
        name: input.name,
        response_target_secs: input.target_secs,
        manager_id: input.manager_id,
        ..before.clone()
    };
    state
        .store
        .update_department(&after, &actor.changed_by(Utc::now()))
        .await
        .map_err(|e| taken(e, lang, name_taken(&after.name)).for_field("name"))?;
    audit_change(
        state,
        actor,
        Some(pid),
        "department.update",
        format!(
            "department #{id}: {} → {}",
            describe(&before, old_manager.as_ref()),
            describe(&after, manager.as_ref())
        ),
    )
    .await?;
    Ok(after)
}

/// Removes a department; returns how many routing rules went with it.
async fn remove(state: &AppState, actor: &Actor, id: i64, lang: Lang) -> Result<usize, ApiError> {
    let pid = actor.project_id()?;
    let before = find(state, pid, id, lang).await?;
    let rules = state.store.list_rules(pid).await?.iter().filter(|r| r.department_id == id).count();
    if !state.store.remove_department(pid, id, &actor.changed_by(Utc::now())).await? {
        return Err(ApiError::not_found(format!("no department {id} in this project")));
    }
    audit_change(
        state,
        actor,
        Some(pid),
        "department.remove",
        format!("removed department {} and its {rules} routing rule(s)", before.name),
    )
    .await?;
    Ok(rules)
}

// --- API

#[derive(Debug, Deserialize)]
pub struct DepartmentBody {
    name: Option<String>,
    response_target_secs: Option<i64>,
    manager_id: Option<i64>,
}

fn body_input(b: DepartmentBody) -> Result<Input, ApiError> {
    Ok(Input {
        name: name_field(b.name.as_deref(), MAX_NAME_CHARS, NAME, Lang::En)?,
        target_secs: check_target(
            b.response_target_secs.ok_or_else(|| ApiError::invalid("response_target_secs is required"))?,
            Lang::En,
        )?,
        manager_id: b.manager_id,
    })
}

async fn list_api(State(state): State<AppState>, Extension(actor): Extension<Actor>) -> Result<Json<Value>, ApiError> {
    let list = state.store.list_departments(actor.project_id()?).await?;
    Ok(Json(json!({"items": list.iter().map(department_json).collect::<Vec<_>>(), "next_cursor": null})))
}

async fn add_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    let input = body_input(json_body(&body)?)?;
    let d = add(&state, &actor, input, Lang::En).await?;
    Ok(created(department_json(&d)))
}

async fn update_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let input = body_input(json_body(&body)?)?;
    Ok(Json(department_json(&update(&state, &actor, id, input, Lang::En).await?)))
}

async fn delete_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let rules = remove(&state, &actor, id, Lang::En).await?;
    // Its rules go with it and its items wait for triage without a due time.
    Ok(Json(json!({"removed": id, "rules_removed": rules})))
}

// --- Forms

#[derive(Debug, Deserialize, Serialize, Default)]
pub struct DepartmentForm {
    name: Option<String>,
    hours: Option<String>,
    minutes: Option<String>,
    manager_id: Option<String>,
}

fn form_input(f: &DepartmentForm, lang: Lang) -> Result<Input, ApiError> {
    let number = |v: Option<&str>, field: &'static str, what: super::What, max: i64| -> Result<i64, ApiError> {
        match v.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(0),
            Some(v) => v.parse::<i64>().ok().filter(|n| (0..=max).contains(n)).ok_or_else(|| {
                let (fr, en) = what;
                ApiError::invalid(msg(
                    lang,
                    format!("Les {fr} doivent être un nombre entier de 0 à {max}."),
                    format!("{en} must be a whole number from 0 to {max}"),
                ))
                .for_field(field)
            }),
        }
    };
    let name = name_field(f.name.as_deref(), MAX_NAME_CHARS, NAME, lang).map_err(|e| e.for_field("name"))?;
    let hours = number(f.hours.as_deref(), "hours", ("heures", "hours"), MAX_TARGET_SECS / 3600)?;
    let minutes = number(f.minutes.as_deref(), "minutes", ("minutes", "minutes"), 59)?;
    Ok(Input {
        name,
        target_secs: check_target(hours * 3600 + minutes * 60, lang)?,
        manager_id: form_id(f.manager_id.as_deref(), ("Le responsable", "manager"), lang)
            .map_err(|e| e.for_field("manager_id"))?,
    })
}

async fn add_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Form(f): Form<DepartmentForm>,
) -> PageResult {
    let pid = actor.project_id()?;
    let lang = actor.lang;
    let result = async { add(&state, &actor, form_input(&f, lang)?, lang).await.map(|_| ()) }.await;
    form_done(&state, &actor, result, &back(pid), "department-add", &f).await
}

async fn edit_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
    Form(f): Form<DepartmentForm>,
) -> PageResult {
    let pid = actor.project_id()?;
    let lang = actor.lang;
    let result = async { update(&state, &actor, id, form_input(&f, lang)?, lang).await.map(|_| ()) }.await;
    form_done(&state, &actor, result, &back(pid), &format!("department-{id}"), &f).await
}

async fn delete_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> PageResult {
    let pid = actor.project_id()?;
    let result = remove(&state, &actor, id, actor.lang).await.map(|_| ());
    form_done(&state, &actor, result, &back(pid), &format!("department-{id}"), &()).await
}

// --- Section of the settings page

/// A department's fields: as stored (`d`), empty for a new one, or as typed
/// when the form was refused.
fn fields(lang: Lang, d: Option<&Department>, members: &[(User, Role)], fe: FormEcho<'_>) -> Markup {
    let target = d.map(|d| d.response_target_secs).unwrap_or(4 * 3600);
    let (hours, minutes) = ((target / 3600).to_string(), ((target % 3600) / 60).to_string());
    let manager = d.and_then(|d| d.manager_id).map(|m| m.to_string()).unwrap_or_default();
    html! {
        (fe.error(lang))
        label { (lang.t("Nom", "Name"))
            input type="text" name="name" required maxlength=(MAX_NAME_CHARS)
                value=(fe.value("name", d.map(|d| crate::pages::dept(lang, &d.name)).unwrap_or("")))
                aria-invalid=[fe.invalid("name")] aria-describedby=[fe.described("name")]; }
        div.inline-fields {
            label { (lang.t("Objectif de réponse\u{a0}: heures", "Response target: hours"))
                input type="number" name="hours" min="0" max="720" value=(fe.value("hours", &hours))
                    aria-invalid=[fe.invalid("hours")] aria-describedby=[fe.described("hours")]; }
            label { (lang.t("minutes", "minutes"))
                input type="number" name="minutes" min="0" max="59" value=(fe.value("minutes", &minutes))
                    aria-invalid=[fe.invalid("minutes")] aria-describedby=[fe.described("minutes")]; }
        }
        label { (lang.t("Responsable (reçoit les mentions en retard)", "Manager (gets overdue mentions)"))
            select name="manager_id" aria-invalid=[fe.invalid("manager_id")] aria-describedby=[fe.described("manager_id")] {
                option value="" { (lang.t("(aucun : les responsables du projet)", "(none: the project's managers)")) }
                // Only people who can handle the overdue mentions escalated to
                // them: agents or above, with an active account.
                @for (u, _) in members.iter().filter(|(u, role)| *role >= Role::Agent && !u.disabled) {
                    @let id = u.id.to_string();
                    option value=(id) selected[fe.chose("manager_id", &id, manager == id)] { (u.display_name) " (" (u.username) ")" }
                }
            }
        }
    }
}

pub(super) async fn section(state: &AppState, actor: &Actor, echo: Option<&Echo>) -> Result<Markup, ApiError> {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let list = state.store.list_departments(pid).await?;
    let members = state.store.members(pid).await?;
    let name_of = |id: Option<i64>| -> String {
        match id {
            None => "—".into(),
            Some(id) => members
                .iter()
                .find(|(u, _)| u.id == id)
                .map(|(u, _)| u.display_name.clone())
                .unwrap_or(format!("#{id}")),
        }
    };
    let can = actor.can(Role::Manager);
    Ok(html! {
        section.card #departments {
            h2 { (lang.t("Services", "Departments")) }
            @if list.is_empty() {
                p.muted { (lang.t("Aucun service.", "No department.")) }
            } @else {
                div.table-wrap { table {
                    thead { tr {
                        th { (lang.t("Service", "Department")) }
                        th { (lang.t("Objectif de réponse", "Response target")) }
                        th { (lang.t("Responsable", "Manager")) }
                        @if can { th { (lang.t("Actions", "Actions")) } }
                    } }
                    tbody {
                        @for d in &list {
                            tr {
                                td { (crate::pages::dept(lang, &d.name)) }
                                td { (lang.duration(d.response_target_secs)) }
                                td { (name_of(d.manager_id)) }
                                @if can {
                                    @let fe = Echo::on(echo, &format!("department-{}", d.id));
                                    td {
                                        details open[fe.refused()] {
                                            summary { (lang.t("Modifier", "Edit")) }
                                            form.stack method="post" action={ "/p/" (pid) "/settings/departments/" (d.id) } {
                                                (csrf_field(actor))
                                                (fields(lang, Some(d), &members, fe))
                                                button type="submit" { (lang.t("Enregistrer", "Save")) }
                                            }
                                        }
                                        form.inline method="post" action={ "/p/" (pid) "/settings/departments/" (d.id) "/delete" }
                                            data-confirm=(lang.t("Supprimer ce service et ses règles de routage\u{202f}?", "Remove this department and its routing rules?")) {
                                            (csrf_field(actor))
                                            button.danger type="submit" { (lang.t("Supprimer", "Remove")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
            @if can {
                @let fe = Echo::on(echo, "department-add");
                details open[fe.refused()] {
                    summary { (lang.t("Ajouter un service", "Add a department")) }
                    form.stack method="post" action={ "/p/" (pid) "/settings/departments" } {
                        (csrf_field(actor))
                        (fields(lang, None, &members, fe))
                        button type="submit" { (lang.t("Ajouter", "Add")) }
                    }
                }
            }
        }
    })
}

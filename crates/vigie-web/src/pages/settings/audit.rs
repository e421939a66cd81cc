//! The project's audit log (admins): who changed what, newest first.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::Method;
use axum::{Extension, Json};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_model::Role;
use vigie_store::AuditEntry;

use crate::auth::Actor;
use crate::error::ApiError;
use crate::pages::inbox::paging;
use crate::routes::Routes;
use crate::{Access, AppState};

/// Entries per page of the settings section.
const PAGE: i64 = 50;

pub(super) fn routes(r: Routes) -> Routes {
    r.api(
        Method::GET,
        "/api/v1/projects/{pid}/audit",
        Access::Project(Role::Admin),
        "The project's audit log, newest first (cursor, limit)",
        list_api,
    )
}

/// Display names of the entries' users.
pub(crate) async fn user_names(state: &AppState, entries: &[AuditEntry]) -> Result<HashMap<i64, String>, ApiError> {
    let mut names = HashMap::new();
    for id in entries.iter().filter_map(|e| e.user_id) {
        if let std::collections::hash_map::Entry::Vacant(e) = names.entry(id) {
            e.insert(state.store.user(id).await?.map(|u| u.display_name).unwrap_or(format!("#{id}")));
        }
    }
    Ok(names)
}

/// A page of entries and the cursor of the next.
pub(crate) async fn entries(
    state: &AppState,
    project_id: Option<i64>,
    cursor: Option<i64>,
    limit: i64,
) -> Result<(Vec<AuditEntry>, Option<i64>), ApiError> {
    let mut list = state.store.audit_log(project_id, cursor, limit + 1).await?;
    let next = if list.len() as i64 > limit {
        list.truncate(limit as usize);
        list.last().map(|e| e.id)
    } else {
        None
    };
    Ok((list, next))
}

#[derive(Debug, Deserialize, Default)]
pub struct AuditQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

async fn list_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let (cursor, limit) = paging(q.cursor.as_deref(), q.limit.as_deref())?;
    let (list, next) = entries(&state, Some(actor.project_id()?), cursor, limit).await?;
    let names = user_names(&state, &list).await?;
    Ok(Json(json!({
        "items": list.iter().map(|e| json!({
            "id": e.id, "at": e.at.to_rfc3339(), "user_id": e.user_id,
            "user": e.user_id.and_then(|id| names.get(&id)), "action": e.action, "detail": e.detail,
        })).collect::<Vec<_>>(),
        "next_cursor": next.map(|n| n.to_string()),
    })))
}

/// The entries as a table, with a link to the next page (`cursor_param` names it).
pub(crate) fn table(actor: &Actor, list: &[AuditEntry], names: &HashMap<i64, String>, next: Option<String>) -> Markup {
    let lang = actor.lang;
    html! {
        @if list.is_empty() {
            p.muted { (lang.t("Rien pour l'instant.", "Nothing yet.")) }
        } @else {
            div.table-wrap { table.audit {
                thead { tr {
                    th { (lang.t("Date", "When")) }
                    th { (lang.t("Qui", "Who")) }
                    th { (lang.t("Action", "Action")) }
                    th { (lang.t("Détail", "Detail")) }
                } }
                tbody {
                    @for e in list {
                        tr {
                            td { (lang.datetime(e.at)) }
                            td { (e.user_id.and_then(|id| names.get(&id).cloned()).unwrap_or_else(|| "—".into())) }
                            td { code { (e.action) } }
                            td { (e.detail) }
                        }
                    }
                }
            } }
        }
        @if let Some(href) = next {
            p.pager { a href=(href) { (lang.t("Plus anciennes →", "Older →")) } }
        }
    }
}

pub(super) async fn section(state: &AppState, actor: &Actor, cursor: Option<i64>) -> Result<Markup, ApiError> {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let (list, next) = entries(state, Some(pid), cursor, PAGE).await?;
    let names = user_names(state, &list).await?;
    let next = next.map(|n| format!("/p/{pid}/settings?audit_cursor={n}#audit"));
    Ok(html! {
        section.card #audit {
            h2 { (lang.t("Journal des modifications", "Audit log")) }
            (table(actor, &list, &names, next))
        }
    })
}

//! The inbox: mentions waiting for an answer, by status, department,
//! assignee, overdue or escalated; bulk triage; and each item's page with
//! its history and actions (`inbox/item.rs`), whose transitions are checked
//! in one place (`inbox/actions.rs`).
//!
//! Mentions nobody routed or touched have no inbox row (`new`): the inbox
//! cannot list them, the mentions feed does (`status=new`).

mod actions;
pub(crate) mod item;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_model::{InboxStatus, Mention, Role};
use vigie_store::{Department, InboxFilter, InboxItem, NO_DEPARTMENT, StoredMention};

use super::echo::{Echo, FormEcho};
use super::{Nav, PageResult, clip, csrf_field, error_page, page, see_other, sentiment_badge, status_label};
use crate::auth::Actor;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::routes::Routes;
use crate::{Access, AppState};

pub use actions::{Action, Assignee, MAX_REASON_CHARS, MAX_TEXT_CHARS};

/// Items per page unless `limit` says otherwise, and the most.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;
/// Ids one bulk action takes at most.
pub const MAX_BULK: usize = 200;
/// Rows read at most to fill one page of the escalated filter (which the
/// store cannot filter on).
const ESCALATED_SCAN: usize = 4_000;

pub fn routes(r: Routes) -> Routes {
    let viewer = Access::Project(Role::Viewer);
    let agent = Access::Project(Role::Agent);
    let r = r
        .page(Method::GET, "/p/{pid}/inbox", viewer, "Inbox page", list_page)
        .page(Method::POST, "/p/{pid}/inbox/bulk", agent, "Bulk action on inbox items (form)", bulk_form)
        .api(
            Method::GET,
            "/api/v1/projects/{pid}/inbox",
            viewer,
            "Inbox items with their mentions, newest first (status=pending|all|to_handle|assigned|answered|closed|ignored, \
             department=<id>|none, assignee=mine|<user id>, overdue, escalated, cursor, limit) and counts per status",
            list_api,
        )
        .api(
            Method::POST,
            "/api/v1/projects/{pid}/inbox/bulk",
            agent,
            "Bulk action {action: assign_department|assign_user|status, ids, department_id, user_id, status, reason}",
            bulk_api,
        );
    item::routes(r)
}

// ---------------------------------------------------------------------------
// Names of departments and people, for display.

/// The project's departments and the names of its people.
pub(crate) struct Directory {
    pub departments: Vec<Department>,
    /// Members who may be given items (agent or above), by username.
    pub agents: Vec<Assignee>,
    names: HashMap<i64, String>,
}

impl Directory {
    pub async fn load(state: &AppState, project_id: i64) -> Result<Self, ApiError> {
        let departments = state.store.list_departments(project_id).await?;
        let members = state.store.members(project_id).await?;
        let names = members.iter().map(|(u, _)| (u.id, u.display_name.clone())).collect();
        let agents = members
            .iter()
            .filter(|(u, r)| *r >= Role::Agent && !u.disabled)
            .map(|(u, _)| Assignee { id: u.id, name: u.display_name.clone() })
            .collect();
        Ok(Directory { departments, agents, names })
    }

    /// Adds the names of people who are not members (any more).
    pub async fn learn(&mut self, state: &AppState, ids: Vec<i64>) -> Result<(), ApiError> {
        for id in ids {
            if !self.names.contains_key(&id)
                && let Some(u) = state.store.user(id).await?
            {
                self.names.insert(id, u.display_name);
            }
        }
        Ok(())
    }

    pub fn department(&self, id: Option<i64>) -> Option<&Department> {
        id.and_then(|id| self.departments.iter().find(|d| d.id == id))
    }

    pub fn department_name(&self, id: Option<i64>) -> Option<String> {
        id.map(|id| self.department(Some(id)).map(|d| d.name.clone()).unwrap_or_else(|| format!("#{id}")))
    }

    pub fn user_name(&self, id: Option<i64>) -> Option<String> {
        id.map(|id| self.names.get(&id).cloned().unwrap_or_else(|| format!("#{id}")))
    }
}

// ---------------------------------------------------------------------------
// JSON.

pub(crate) fn mention_json(m: &Mention) -> Value {
    json!({
        "id": m.id, "title": m.title, "text": m.text, "url": m.url, "author": m.author, "site": m.site,
        "source_kind": m.source_kind.as_str(), "lang": m.lang,
        "published_at": m.published_at.to_rfc3339(), "collected_at": m.collected_at.to_rfc3339(),
        "polarity": m.analysis.polarity().map(|p| p.as_str()),
        "themes": m.analysis.themes.iter().map(|t| t.theme.as_str()).collect::<Vec<_>>(),
    })
}

/// Seconds an item is past its due time (pending ones only).
pub(crate) fn overdue_secs(item: &InboxItem, now: DateTime<Utc>) -> Option<i64> {
    let due = item.due_at?;
    (item.status.is_pending() && due < now).then(|| (now - due).num_seconds())
}

/// Time to first response, in seconds.
pub(crate) fn response_secs(item: &InboxItem) -> Option<i64> {
    item.first_response_at.map(|f| (f - item.entered_at).num_seconds())
}

/// The item's own response target: fixed when it was routed (its due time),
/// as the reports count it, so a department's target changed later does not
/// judge it again; the department's for an item without due time.
pub(crate) fn target_secs(item: &InboxItem, department: Option<&Department>) -> Option<i64> {
    item.due_at.map(|due| (due - item.clock_start()).num_seconds()).or(department.map(|d| d.response_target_secs))
}

pub(crate) fn item_json(item: &InboxItem, dir: &Directory, now: DateTime<Utc>) -> Value {
    let department = dir.department(item.department_id);
    json!({
        "mention_id": item.mention_id, "status": item.status.as_str(),
        "department_id": item.department_id, "department": dir.department_name(item.department_id),
        "assignee_id": item.assignee_id, "assignee": dir.user_name(item.assignee_id),
        "entered_at": item.entered_at.to_rfc3339(), "due_at": item.due_at.map(|t| t.to_rfc3339()),
        "reopened_at": item.clock_at.map(|t| t.to_rfc3339()),
        "first_response_due_at": item.first_answer_due().map(|t| t.to_rfc3339()),
        "overdue": overdue_secs(item, now).is_some(), "overdue_secs": overdue_secs(item, now),
        "first_response_at": item.first_response_at.map(|t| t.to_rfc3339()),
        "response_secs": response_secs(item),
        "target_secs": target_secs(item, department),
        "closed_at": item.closed_at.map(|t| t.to_rfc3339()),
        "reply": item.reply, "reason": item.reason,
        "escalated_at": item.escalated_at.map(|t| t.to_rfc3339()),
        "updated_at": item.updated_at.to_rfc3339(),
    })
}

// ---------------------------------------------------------------------------
// The list.

/// The query string, as typed (values checked by [`Params::parse`]).
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    department: Option<String>,
    assignee: Option<String>,
    overdue: Option<String>,
    escalated: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
    /// After a bulk action: how many items it changed.
    done: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Pending,
    All,
    One(InboxStatus),
}

impl Tab {
    fn key(self) -> &'static str {
        match self {
            Tab::Pending => "pending",
            Tab::All => "all",
            Tab::One(s) => s.as_str(),
        }
    }

    fn statuses(self) -> Vec<InboxStatus> {
        match self {
            Tab::Pending => Vec::new(),
            Tab::All => vec![
                InboxStatus::ToHandle,
                InboxStatus::Assigned,
                InboxStatus::Answered,
                InboxStatus::Closed,
                InboxStatus::Ignored,
            ],
            Tab::One(s) => vec![s],
        }
    }
}

/// The list's filters, checked.
#[derive(Debug, Clone)]
struct Params {
    tab: Tab,
    department: Option<i64>,
    /// `mine` or a user id, as given (kept for links).
    assignee: Option<String>,
    overdue: bool,
    escalated: bool,
    cursor: Option<i64>,
    limit: i64,
}

fn flag(v: Option<&str>) -> bool {
    matches!(v.map(str::trim), Some("1" | "true" | "on" | "yes"))
}

fn nonempty(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// `cursor` (the last id of the previous page) and `limit`.
pub(crate) fn paging(cursor: Option<&str>, limit: Option<&str>) -> Result<(Option<i64>, i64), ApiError> {
    let cursor = match nonempty(cursor) {
        None => None,
        Some(c) => Some(c.parse::<i64>().ok().filter(|c| *c > 0).ok_or_else(|| {
            ApiError::invalid(format!("cursor {c:?} is not valid: pass the next_cursor of the previous answer"))
        })?),
    };
    let limit = match nonempty(limit) {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| ApiError::invalid(format!("limit must be a number from 1 to {MAX_LIMIT}")))?,
    };
    Ok((cursor, limit))
}

/// Why `status=new` cannot be listed here.
const NEW_IS_ELSEWHERE: &str = "new mentions have no inbox row: list them with the mentions feed (status=new), e.g. /api/v1/projects/{pid}/mentions?status=new";

impl Params {
    fn parse(q: &ListQuery) -> Result<Params, ApiError> {
        let tab = match nonempty(q.status.as_deref()) {
            None | Some("pending") => Tab::Pending,
            Some("all") => Tab::All,
            Some(s) => match s.parse::<InboxStatus>() {
                Ok(InboxStatus::New) => return Err(ApiError::invalid(NEW_IS_ELSEWHERE)),
                Ok(status) => Tab::One(status),
                Err(_) => {
                    return Err(ApiError::invalid(format!(
                        "unknown status {s:?}; expected pending, all, to_handle, assigned, answered, closed or ignored"
                    )));
                }
            },
        };
        let department = match nonempty(q.department.as_deref()) {
            None => None,
            // Items that lost their department (it was removed) or never had one.
            Some("none") => Some(NO_DEPARTMENT),
            Some(d) => Some(d.parse::<i64>().ok().filter(|d| *d > 0).ok_or_else(|| {
                ApiError::invalid(format!("department {d:?} is not an id (or none, for items of no department)"))
            })?),
        };
        let assignee = match nonempty(q.assignee.as_deref()) {
            None => None,
            Some("mine") => Some("mine".to_string()),
            Some(a) => {
                a.parse::<i64>()
                    .map_err(|_| ApiError::invalid(format!("assignee must be mine or a user id, not {a:?}")))?;
                Some(a.to_string())
            }
        };
        let (cursor, limit) = paging(q.cursor.as_deref(), q.limit.as_deref())?;
        Ok(Params {
            tab,
            department,
            assignee,
            overdue: flag(q.overdue.as_deref()),
            escalated: flag(q.escalated.as_deref()),
            cursor,
            limit,
        })
    }

    fn filter(&self, actor: &Actor, now: DateTime<Utc>) -> Result<InboxFilter, ApiError> {
        let assignee_id =
            match self.assignee.as_deref() {
                None => None,
                Some("mine") => Some(actor.user_id().ok_or_else(|| {
                    ApiError::invalid("assignee=mine needs a person: a token has no items of its own")
                })?),
                Some(id) => id.parse().ok(),
            };
        Ok(InboxFilter {
            statuses: self.tab.statuses(),
            department_id: self.department,
            assignee_id,
            overdue_at: self.overdue.then_some(now),
        })
    }

    /// The query string of this list with another tab or cursor.
    fn query(&self, tab: Tab, cursor: Option<i64>) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if tab != Tab::Pending {
            s.append_pair("status", tab.key());
        }
        match self.department {
            Some(NO_DEPARTMENT) => {
                s.append_pair("department", "none");
            }
            Some(d) => {
                s.append_pair("department", &d.to_string());
            }
            None => {}
        }
        if let Some(a) = &self.assignee {
            s.append_pair("assignee", a);
        }
        if self.overdue {
            s.append_pair("overdue", "1");
        }
        if self.escalated {
            s.append_pair("escalated", "1");
        }
        if let Some(c) = cursor {
            s.append_pair("cursor", &c.to_string());
        }
        if self.limit != DEFAULT_LIMIT {
            s.append_pair("limit", &self.limit.to_string());
        }
        s.finish()
    }
}

/// One page of the list and the cursor of the next.
async fn fetch(
    state: &AppState,
    pid: i64,
    params: &Params,
    filter: &InboxFilter,
) -> Result<(Vec<(InboxItem, StoredMention)>, Option<i64>), ApiError> {
    let limit = params.limit;
    if !params.escalated {
        let mut rows = state.store.inbox(pid, filter, params.cursor, limit + 1).await?;
        let next = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|(i, _)| i.mention_id)
        } else {
            None
        };
        return Ok((rows, next));
    }
    // The store has no escalated filter: read on until the page is full.
    let mut out = Vec::new();
    let mut cursor = params.cursor;
    let mut scanned = 0;
    loop {
        let batch = state.store.inbox(pid, filter, cursor, MAX_LIMIT).await?;
        let exhausted = (batch.len() as i64) < MAX_LIMIT;
        scanned += batch.len();
        for row in batch {
            cursor = Some(row.0.mention_id);
            if row.0.escalated_at.is_some() {
                out.push(row);
                if out.len() as i64 > limit {
                    out.truncate(limit as usize);
                    let next = out.last().map(|(i, _)| i.mention_id);
                    return Ok((out, next));
                }
            }
        }
        if exhausted {
            return Ok((out, None));
        }
        if scanned >= ESCALATED_SCAN {
            // A partial page: the next one goes on from where this stopped.
            return Ok((out, cursor));
        }
    }
}

async fn list_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let pid = actor.project_id()?;
    let now = Utc::now();
    let params = Params::parse(&q)?;
    let filter = params.filter(&actor, now)?;
    let (rows, next) = fetch(&state, pid, &params, &filter).await?;
    let mut dir = Directory::load(&state, pid).await?;
    dir.learn(&state, rows.iter().filter_map(|(i, _)| i.assignee_id).collect()).await?;
    // The tabs count what the department and person filters show.
    let counts = state.store.inbox_counts_of(pid, filter.department_id, filter.assignee_id, now).await?;
    let mut per_status = serde_json::Map::new();
    for s in InboxStatus::ALL.iter().filter(|s| **s != InboxStatus::New) {
        let n = counts.per_status.iter().find(|(k, _)| k == s).map(|(_, n)| *n).unwrap_or(0);
        per_status.insert(s.as_str().to_string(), json!(n));
    }
    Ok(Json(json!({
        "items": rows.iter().map(|(i, m)| json!({"item": item_json(i, &dir, now), "mention": mention_json(&m.mention)})).collect::<Vec<_>>(),
        "next_cursor": next.map(|c| c.to_string()),
        "counts": {"per_status": per_status, "overdue": counts.overdue},
    })))
}

async fn list_page(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    render(&state, &actor, &q, None).await
}

/// The list; with `echo`, a refused bulk action shown again as sent (boxes
/// checked, choices made, reason typed) with its error.
async fn render(state: &AppState, actor: &Actor, q: &ListQuery, echo: Option<&Echo>) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    if nonempty(q.status.as_deref()) == Some("new") {
        return Ok(see_other(&format!("/p/{pid}/mentions?status=new")));
    }
    let now = Utc::now();
    let params = match Params::parse(q) {
        Ok(p) => p,
        Err(e) => return Ok(error_page(&e, lang)),
    };
    let filter = match params.filter(actor, now) {
        Ok(f) => f,
        Err(e) => return Ok(error_page(&e, lang)),
    };
    let (rows, next) = fetch(state, pid, &params, &filter).await?;
    let mut dir = Directory::load(state, pid).await?;
    dir.learn(state, rows.iter().filter_map(|(i, _)| i.assignee_id).collect()).await?;
    // The tabs count what the department and person filters show.
    let counts = state.store.inbox_counts_of(pid, filter.department_id, filter.assignee_id, now).await?;
    let count = |s: InboxStatus| counts.per_status.iter().find(|(k, _)| *k == s).map(|(_, n)| *n).unwrap_or(0);
    let pending = count(InboxStatus::ToHandle) + count(InboxStatus::Assigned);
    let tabs: Vec<(Tab, &str, Option<i64>)> = vec![
        (Tab::Pending, lang.t("En attente", "Pending"), Some(pending)),
        (Tab::One(InboxStatus::ToHandle), lang.t("À traiter", "To handle"), Some(count(InboxStatus::ToHandle))),
        (Tab::One(InboxStatus::Assigned), lang.t("Assignées", "Assigned"), Some(count(InboxStatus::Assigned))),
        (Tab::One(InboxStatus::Answered), lang.t("Répondues", "Answered"), Some(count(InboxStatus::Answered))),
        (Tab::One(InboxStatus::Closed), lang.t("Closes", "Closed"), Some(count(InboxStatus::Closed))),
        (Tab::One(InboxStatus::Ignored), lang.t("Ignorées", "Ignored"), Some(count(InboxStatus::Ignored))),
        (Tab::All, lang.t("Toutes", "All"), None),
    ];
    let base = format!("/p/{pid}/inbox");
    let here = {
        let q = params.query(params.tab, params.cursor);
        if q.is_empty() { base.clone() } else { format!("{base}?{q}") }
    };
    let agent = actor.can(Role::Agent);
    let done = nonempty(q.done.as_deref()).and_then(|d| d.parse::<u64>().ok());
    let bulk = Echo::on(echo, "bulk");
    // Only an agent's list has the bulk form; nor has an empty one.
    let unplaced = if agent && !rows.is_empty() {
        html! {}
    } else {
        Echo::unplaced(echo, lang, &["reason"])
    };
    let body = html! {
        h1 { (lang.t("À traiter", "Inbox")) }
        (unplaced)
        @if let Some(n) = done {
            p.notice role="status" { (lang.t("Action groupée appliquée à ", "Bulk action applied to ")) (lang.number(n as i64))
                (lang.t(" mention(s).", " mention(s).")) }
        }
        nav.tabs aria-label=(lang.t("Statuts", "Statuses")) {
            @for (tab, label, n) in &tabs {
                @let q = params.query(*tab, None);
                a href={ (base) @if !q.is_empty() { "?" (q) } } aria-current=[(*tab == params.tab).then_some("page")] {
                    (label) @if let Some(n) = n { " " span.count { (lang.number(*n)) } }
                }
            }
            a href={ "/p/" (pid) "/mentions?status=new" } { (lang.t("Nouvelles (flux des mentions)", "New (mentions feed)")) }
        }
        @if counts.overdue > 0 {
            p {
                a.overdue href={ (base) "?overdue=1" } {
                    (lang.number(counts.overdue)) " " (lang.t("en retard", "overdue"))
                }
            }
        }
        form.inbox-filters method="get" action=(base) {
            @if params.tab != Tab::Pending { input type="hidden" name="status" value=(params.tab.key()); }
            label { (lang.t("Service", "Department"))
                select name="department" {
                    option value="" { (lang.t("Tous", "All")) }
                    @for d in &dir.departments {
                        option value=(d.id) selected[params.department == Some(d.id)] { (crate::pages::dept(lang, &d.name)) }
                    }
                    option value="none" selected[params.department == Some(NO_DEPARTMENT)] { (lang.t("Aucun service", "No department")) }
                }
            }
            label { (lang.t("Assignée à", "Assigned to"))
                select name="assignee" {
                    option value="" { (lang.t("Tout le monde", "Anyone")) }
                    @if actor.user.is_some() {
                        option value="mine" selected[params.assignee.as_deref() == Some("mine")] { (lang.t("Moi", "Me")) }
                    }
                    @for a in &dir.agents {
                        @let v = a.id.to_string();
                        option value=(v) selected[params.assignee.as_deref() == Some(v.as_str())] { (a.name) }
                    }
                }
            }
            label.check { input type="checkbox" name="overdue" value="1" checked[params.overdue]; " " (lang.t("En retard seulement", "Overdue only")) }
            label.check { input type="checkbox" name="escalated" value="1" checked[params.escalated]; " " (lang.t("Escaladées", "Escalated")) }
            button type="submit" { (lang.t("Filtrer", "Filter")) }
        }
        @if rows.is_empty() {
            p.muted { (lang.t("Aucune mention ici.", "Nothing here.")) }
        } @else if agent {
            form.bulk method="post" action={ (base) "/bulk" } {
                (csrf_field(actor))
                input type="hidden" name="back" value=(here);
                (bulk_controls(lang, &dir, bulk))
                (table(lang, pid, &rows, &dir, now, Some(bulk)))
            }
        } @else {
            (table(lang, pid, &rows, &dir, now, None))
        }
        @if params.cursor.is_some() || next.is_some() {
            nav.pager aria-label=(lang.t("Pages", "Pages")) {
                @if params.cursor.is_some() {
                    a href={ (base) "?" (params.query(params.tab, None)) } { (lang.t("← premières", "← first")) }
                    " "
                }
                @if let Some(c) = next {
                    a rel="next" href={ (base) "?" (params.query(params.tab, Some(c))) } { (lang.t("Suivantes →", "Next →")) }
                }
            }
        }
    };
    let response = page(state, actor, Nav::Inbox, lang.t("À traiter", "Inbox"), body).await?;
    Ok(Echo::answer(echo, response))
}

/// The bulk actions; `fe`: a refused one, as it was sent.
fn bulk_controls(lang: Lang, dir: &Directory, fe: FormEcho<'_>) -> Markup {
    html! {
        fieldset.bulk-actions {
            legend { (lang.t("Pour les mentions cochées", "For the checked mentions")) }
            (fe.error(lang))
            div.bulk-action {
                label { (lang.t("Service", "Department"))
                    select name="department_id" aria-invalid=[fe.invalid("department_id")] aria-describedby=[fe.described("department_id")] {
                        // Nothing chosen until a person chooses: a click
                        // never sends the items to whatever is listed first.
                        option value="" { (lang.t("(choisir)", "(choose)")) }
                        @for d in &dir.departments {
                            @let id = d.id.to_string();
                            option value=(id) selected[fe.chose("department_id", &id, false)] { (crate::pages::dept(lang, &d.name)) }
                        }
                    }
                }
                button type="submit" name="action" value="assign_department" { (lang.t("Envoyer au service", "Send to department")) }
            }
            div.bulk-action {
                label { (lang.t("Personne", "Person"))
                    select name="user_id" aria-invalid=[fe.invalid("user_id")] aria-describedby=[fe.described("user_id")] {
                        option value="" { (lang.t("(choisir)", "(choose)")) }
                        @for a in &dir.agents {
                            @let id = a.id.to_string();
                            option value=(id) selected[fe.chose("user_id", &id, false)] { (a.name) }
                        }
                    }
                }
                button type="submit" name="action" value="assign_user" { (lang.t("Assigner", "Assign")) }
            }
            div.bulk-action {
                label { (lang.t("Statut", "Status"))
                    select name="status" aria-invalid=[fe.invalid("status")] aria-describedby=[fe.described("status")] {
                        option value="" { (lang.t("(choisir)", "(choose)")) }
                        option value="to_handle" selected[fe.chose("status", "to_handle", false)] { (lang.t("à traiter", "to handle")) }
                        option value="closed" selected[fe.chose("status", "closed", false)] { (lang.t("clos", "closed")) }
                        option value="ignored" selected[fe.chose("status", "ignored", false)] { (lang.t("ignoré", "ignored")) }
                    }
                }
                label { (lang.t("Raison (obligatoire pour ignorer ou clore sans réponse)", "Reason (needed to ignore, or to close unanswered)"))
                    input type="text" name="reason" maxlength=(MAX_REASON_CHARS) value=(fe.value("reason", ""))
                        aria-invalid=[fe.invalid("reason")] aria-describedby=[fe.described("reason")]; }
                button type="submit" name="action" value="status" { (lang.t("Changer le statut", "Change status")) }
            }
        }
    }
}

fn table(
    lang: Lang,
    pid: i64,
    rows: &[(InboxItem, StoredMention)],
    dir: &Directory,
    now: DateTime<Utc>,
    checkable: Option<FormEcho<'_>>,
) -> Markup {
    html! {
        div.table-wrap {
            table.inbox {
                thead { tr {
                    @if checkable.is_some() {
                        th { input type="checkbox" data-select-all="ids" aria-label=(lang.t("Tout cocher", "Check all")); }
                    }
                    th { (lang.t("Mention", "Mention")) }
                    th { (lang.t("Site", "Site")) }
                    th { (lang.t("Tonalité", "Sentiment")) }
                    th { (lang.t("Statut", "Status")) }
                    th { (lang.t("Service", "Department")) }
                    th { (lang.t("Assignée à", "Assignee")) }
                    th { (lang.t("Échéance", "Due")) }
                } }
                tbody {
                    @for (item, stored) in rows {
                        @let m = &stored.mention;
                        @let late = overdue_secs(item, now);
                        tr class=[late.map(|_| "overdue")] {
                            @if let Some(fe) = checkable {
                                @let check = format!("{}{}", lang.t("Cocher : ", "Check: "), clip(m.title.as_deref().filter(|t| !t.trim().is_empty()).unwrap_or(&m.text), 60));
                                @let id = item.mention_id.to_string();
                                td { input type="checkbox" name="ids" value=(id) aria-label=(check) checked[fe.chose("ids", &id, false)]; }
                            }
                            td.mention-cell lang=(crate::pages::text_lang(m)) {
                                a href={ "/p/" (pid) "/inbox/" (item.mention_id) } {
                                    (m.title.as_deref().filter(|t| !t.trim().is_empty()).map(|t| clip(t, 120)).unwrap_or_else(|| clip(&m.text, 120)))
                                }
                                // A copy of an earlier mention (the same
                                // complaint pasted elsewhere) says so and
                                // leads to the story's first one.
                                @if let Some(story) = m.analysis.story_id.filter(|s| *s != m.id) {
                                    " " a.badge.copy href={ "/p/" (pid) "/mentions/" (story) }
                                        title=(lang.t("Même histoire qu'une mention antérieure : voir la première", "Same story as an earlier mention: see the first")) {
                                        (lang.t("copie", "copy")) }
                                }
                                @if m.title.as_deref().is_some_and(|t| !t.trim().is_empty()) {
                                    br; span.muted { (clip(&m.text, 200)) }
                                }
                            }
                            td { (m.site.as_deref().unwrap_or("—")) }
                            td { (sentiment_badge(lang, m.analysis.polarity())) }
                            td { (status_label(lang, item.status))
                                @if item.escalated_at.is_some() { " " span.badge.escalated { (lang.t("escaladée", "escalated")) } } }
                            td { (dir.department_name(item.department_id).map_or_else(|| "—".into(), |n| crate::pages::dept(lang, &n).to_string())) }
                            td { (dir.user_name(item.assignee_id).unwrap_or_else(|| "—".into())) }
                            td {
                                @if let Some(due) = item.due_at { (lang.datetime(due)) }
                                @if let Some(secs) = late {
                                    br; span.overdue { (lang.t("en retard de ", "overdue by ")) (lang.duration(secs)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Bulk actions.

/// A bulk action, as the form or the API gives it.
#[derive(Debug, Deserialize, Default)]
pub struct BulkInput {
    action: String,
    #[serde(default)]
    ids: Vec<i64>,
    department_id: Option<i64>,
    user_id: Option<i64>,
    status: Option<String>,
    reason: Option<String>,
}

/// What a bulk action did.
#[derive(Debug, Default)]
struct BulkOutcome {
    done: Vec<i64>,
    failed: Vec<(i64, ApiError)>,
}

/// A bulk action's change for one item, made from the item as it is (none:
/// not in the inbox yet).
type MakeAction = dyn Fn(Option<&InboxItem>) -> Action + Send + Sync;

async fn bulk(state: &AppState, actor: &Actor, input: BulkInput, lang: Lang) -> Result<BulkOutcome, ApiError> {
    let pid = actor.project_id()?;
    let mut ids = input.ids;
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(ApiError::invalid(lang.t("Cochez au moins une mention.", "Check at least one mention (ids).")));
    }
    if ids.len() > MAX_BULK {
        return Err(ApiError::invalid(format!("{} mentions at once; at most {MAX_BULK}", ids.len())));
    }
    let reason = actions::text_field(input.reason.as_deref(), MAX_REASON_CHARS, "la raison", "reason", lang)
        .map_err(|e| e.for_field("reason"))?;
    let dir = Directory::load(state, pid).await?;
    // Built once per id: `Action` is consumed by `apply`.
    let make: Box<MakeAction> = match input.action.trim() {
        "assign_department" => {
            let department = item::resolve_department(&dir, input.department_id, lang)?.ok_or_else(|| {
                ApiError::invalid(lang.t("Choisissez un service.", "Give department_id.")).for_field("department_id")
            })?;
            Box::new(move |_| Action::Assign { department: Some(department.clone()), assignee: None })
        }
        "assign_user" => {
            let assignee = item::resolve_assignee(&dir, input.user_id, lang)?.ok_or_else(|| {
                ApiError::invalid(lang.t("Choisissez une personne.", "Give user_id.")).for_field("user_id")
            })?;
            Box::new(move |_| Action::Assign { department: None, assignee: Some(assignee.clone()) })
        }
        "status" => match nonempty(input.status.as_deref()) {
            Some("to_handle") => {
                let departments = dir.departments.clone();
                Box::new(move |current| match current {
                    Some(item)
                        if matches!(
                            item.status,
                            InboxStatus::Answered | InboxStatus::Closed | InboxStatus::Ignored
                        ) =>
                    {
                        let department = departments.iter().find(|d| Some(d.id) == item.department_id).cloned();
                        Action::Reopen { department }
                    }
                    _ => Action::Triage,
                })
            }
            Some("closed") => Box::new(move |_| Action::Close { reason: reason.clone() }),
            Some("ignored") => {
                if reason.is_none() {
                    return Err(ApiError::invalid(lang.t(
                        "Indiquez pourquoi ces mentions sont ignorées.",
                        "Give a reason for ignoring these mentions.",
                    ))
                    .for_field("reason"));
                }
                Box::new(move |_| Action::Ignore { reason: reason.clone() })
            }
            None => {
                return Err(ApiError::invalid(lang.t("Choisissez un statut.", "Give status.")).for_field("status"));
            }
            Some(other) => {
                return Err(ApiError::invalid(format!("status must be to_handle, closed or ignored, not {other:?}"))
                    .for_field("status"));
            }
        },
        other => {
            return Err(ApiError::invalid(format!(
                "unknown action {other:?}; expected assign_department, assign_user or status"
            )));
        }
    };
    let mut outcome = BulkOutcome::default();
    for id in ids {
        let result = async {
            let (mention, current) = item::load(state, pid, id).await?;
            let action = make(current.as_ref());
            item::save(state, actor, &mention, current.as_ref(), action, lang).await
        }
        .await;
        match result {
            Ok(()) => outcome.done.push(id),
            Err(e) => outcome.failed.push((id, e)),
        }
    }
    Ok(outcome)
}

async fn bulk_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let input: BulkInput = super::settings::json_body(&body)?;
    let outcome = bulk(&state, &actor, input, actor.lang).await?;
    Ok(Json(json!({
        "done": outcome.done,
        "failed": outcome.failed.iter().map(|(id, e)| json!({"id": id, "code": e.code.as_str(), "message": e.message})).collect::<Vec<_>>(),
    })))
}

/// The form: `ids` repeats, which the usual form extractor cannot read.
fn parse_bulk_form(pairs: &[(String, String)]) -> Result<BulkInput, ApiError> {
    let mut input = BulkInput::default();
    let number = |k: &'static str, v: &str| {
        v.trim().parse::<i64>().map_err(|_| {
            ApiError::invalid(format!("{k} must be a number, not {:?}", clip(v, 40)))
                .with_french(format!("{k} doit être un nombre, pas {:?}", clip(v, 40)))
        })
    };
    for (k, v) in pairs {
        match k.as_str() {
            "action" => input.action = v.clone(),
            "ids" | "ids[]" => {
                if input.ids.len() > MAX_BULK {
                    return Err(ApiError::invalid(format!("at most {MAX_BULK} mentions at once"))
                        .with_french(format!("au plus {MAX_BULK} mentions à la fois")));
                }
                input.ids.push(number("ids", v)?);
            }
            "department_id" if !v.trim().is_empty() => {
                input.department_id = Some(number("department_id", v).map_err(|e| e.for_field("department_id"))?)
            }
            "user_id" if !v.trim().is_empty() => {
                input.user_id = Some(number("user_id", v).map_err(|e| e.for_field("user_id"))?)
            }
            "status" => input.status = Some(v.clone()),
            "reason" => input.reason = Some(v.clone()),
            _ => {}
        }
    }
    Ok(input)
}

async fn bulk_form(State(state): State<AppState>, Extension(actor): Extension<Actor>, body: Bytes) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let base = format!("/p/{pid}/inbox");
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    // Back to the list the form came from: a local inbox path only, in
    // printable ASCII (it becomes a `Location` header).
    let back = pairs
        .iter()
        .find(|(k, _)| k == "back")
        .map(|(_, v)| v.clone())
        .filter(|b| {
            (b == &base || b.starts_with(&format!("{base}?")))
                && b.len() <= 2_000
                && b.chars().all(|c| c.is_ascii_graphic())
                && !b.contains("//")
                && !b.contains('\\')
        })
        .unwrap_or_else(|| base.clone());
    let outcome = match parse_bulk_form(&pairs) {
        Ok(input) => bulk(&state, &actor, input, lang).await,
        Err(e) => Err(e),
    };
    let outcome = match outcome {
        Ok(o) => o,
        // The list it came from again, as the form was sent.
        Err(e) if e.fixable() => {
            let q = back
                .parse::<axum::http::Uri>()
                .ok()
                .and_then(|uri| Query::<ListQuery>::try_from_uri(&uri).ok())
                .map(|Query(q)| q)
                .unwrap_or_default();
            return render(&state, &actor, &q, Some(&Echo::new("bulk", e, pairs))).await;
        }
        Err(e) => return Err(e.into()),
    };
    if outcome.failed.is_empty() {
        let sep = if back.contains('?') { '&' } else { '?' };
        return Ok(see_other(&format!("{back}{sep}done={}", outcome.done.len())));
    }
    let body = html! {
        h1 { (lang.t("Action groupée", "Bulk action")) }
        p { (lang.t("Appliquée à ", "Applied to ")) (lang.number(outcome.done.len() as i64)) (lang.t(" mention(s)\u{202f}; refusée pour\u{a0}:", " mention(s); refused for:")) }
        ul.refused {
            @for (id, e) in &outcome.failed {
                li { a href={ (base) "/" (id) } { "#" (id) } (lang.t("\u{a0}: ", ": ")) (e.message) }
            }
        }
        p { a href=(back) { (lang.t("← Retour à la liste", "← Back to the list")) } }
    };
    page(&state, &actor, Nav::Inbox, lang.t("Action groupée", "Bulk action"), body).await
}

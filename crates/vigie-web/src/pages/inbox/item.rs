//! One inbox item: the mention, where it is in the workflow, its history,
//! and the actions (each a form and a JSON twin; each writes its history
//! event in the same transaction as the change).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::{Extension, Form, Json};
use chrono::Utc;
use maud::html;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;

use vigie_model::{InboxStatus, Role, WorkflowChange, WorkflowDetail};
use vigie_store::{Department, InboxItem, NewWorkflowEvent, StoredMention, WorkflowEvent};

use super::actions::{self, Action, Assignee, Ctx, MAX_REASON_CHARS, MAX_TEXT_CHARS};
use super::{Directory, item_json, mention_json, overdue_secs, response_secs};
use crate::auth::Actor;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::echo::Echo;
use crate::pages::{
    Nav, PageResult, csrf_field, error_page, external_link, page, see_other, sentiment_badge, status_label,
};
use crate::routes::Routes;
use crate::{Access, AppState};

pub fn routes(r: Routes) -> Routes {
    let viewer = Access::Project(Role::Viewer);
    let agent = Access::Project(Role::Agent);
    r.page(
        Method::GET,
        "/p/{pid}/inbox/{mid}",
        viewer,
        "Inbox item page: the mention, its workflow and history",
        item_page,
    )
    .page(Method::POST, "/p/{pid}/inbox/{mid}/triage", agent, "Mark a mention to handle (form)", triage_form)
    .page(
        Method::POST,
        "/p/{pid}/inbox/{mid}/assign",
        agent,
        "Assign a mention to a department and/or a person (form)",
        assign_form,
    )
    .page(Method::POST, "/p/{pid}/inbox/{mid}/note", agent, "Add an internal note (form)", note_form)
    .page(Method::POST, "/p/{pid}/inbox/{mid}/answer", agent, "Record the answer to a mention (form)", answer_form)
    .page(Method::POST, "/p/{pid}/inbox/{mid}/close", agent, "Close a mention (form)", close_form)
    .page(Method::POST, "/p/{pid}/inbox/{mid}/ignore", agent, "Ignore a mention (form)", ignore_form)
    .page(Method::POST, "/p/{pid}/inbox/{mid}/reopen", agent, "Reopen a mention (form)", reopen_form)
    .api(
        Method::GET,
        "/api/v1/projects/{pid}/inbox/{mid}",
        viewer,
        "One inbox item: mention, workflow state and history",
        item_api,
    )
    .api(Method::POST, "/api/v1/projects/{pid}/inbox/{mid}/triage", agent, "Mark a mention to handle", triage_api)
    .api(
        Method::POST,
        "/api/v1/projects/{pid}/inbox/{mid}/assign",
        agent,
        "Assign {department_id, user_id} (either or both)",
        assign_api,
    )
    .api(Method::POST, "/api/v1/projects/{pid}/inbox/{mid}/note", agent, "Add an internal note {text}", note_api)
    .api(
        Method::POST,
        "/api/v1/projects/{pid}/inbox/{mid}/answer",
        agent,
        "Record the answer {reply} or {reason}",
        answer_api,
    )
    .api(
        Method::POST,
        "/api/v1/projects/{pid}/inbox/{mid}/close",
        agent,
        "Close {reason} (needed if never answered)",
        close_api,
    )
    .api(Method::POST, "/api/v1/projects/{pid}/inbox/{mid}/ignore", agent, "Ignore {reason}", ignore_api)
    .api(
        Method::POST,
        "/api/v1/projects/{pid}/inbox/{mid}/reopen",
        agent,
        "Reopen an answered, closed or ignored mention",
        reopen_api,
    )
}

/// The mention and its inbox row (none: it is new).
pub(super) async fn load(state: &AppState, pid: i64, mid: i64) -> Result<(StoredMention, Option<InboxItem>), ApiError> {
    let mention = state.store.mention(pid, mid).await?.ok_or_else(|| {
        ApiError::not_found(format!("no mention {mid} in this project"))
            .with_french(format!("aucune mention {mid} dans ce projet"))
    })?;
    let item = state.store.inbox_item(pid, mid).await?;
    Ok((mention, item))
}

/// Applies the action and saves the item with its event.
pub(super) async fn save(
    state: &AppState,
    actor: &Actor,
    mention: &StoredMention,
    current: Option<&InboxItem>,
    action: Action,
    lang: Lang,
) -> Result<(), ApiError> {
    let ctx = Ctx { project_id: actor.project_id()?, user_id: actor.user_id(), now: Utc::now(), lang };
    let (item, mut event) = actions::apply(current, &mention.mention, action, ctx)?;
    by_token(actor, &mut event);
    // Saved only if nobody changed the item since it was read.
    state.store.save_inbox_item_from(current, &item, Some(event)).await.map_err(|e| match e {
        vigie_store::StoreError::Conflict(message) => ApiError::conflict(message).with_french(format!(
            "la mention {} vient d'être modifiée par quelqu'un d'autre : rechargez-la puis recommencez",
            item.mention_id
        )),
        other => other.into(),
    })?;
    Ok(())
}

/// Events made with a token name it (they have no user).
pub(crate) fn by_token(actor: &Actor, event: &mut NewWorkflowEvent) {
    if actor.user.is_some() {
        return;
    }
    match (WorkflowDetail::parse(&event.action, &event.detail), &actor.token) {
        (Some(mut detail), Some(token)) => {
            detail.by = Some(token.name.clone());
            event.detail = detail.encode();
        }
        _ => event.detail = format!("{} (by {})", event.detail, actor.name()),
    }
}

/// An event's detail in the reader's language and the installation's zone
/// (themes by their names when `theme_names` has them); a detail stored as
/// free text, as stored.
pub(crate) fn event_detail(lang: Lang, e: &WorkflowEvent, theme_names: &HashMap<String, String>) -> String {
    let zone = crate::i18n::current_zone();
    vigie_model::detail_text_with(&e.action, &e.detail, lang.into(), zone, &|key| theme_names.get(key).cloned())
}

/// An item's reason in the reader's language when it is Vigie's own (a
/// sentiment correction withdrew the item: the reason is that event's
/// English text), as written when a person gave it.
pub(crate) fn reason_text(lang: Lang, reason: &str, events: &[WorkflowEvent]) -> String {
    events
        .iter()
        .rev()
        .find(|e| e.action == "withdrawn" && event_detail_json(e) == reason)
        .map(|e| event_detail(lang, e, &HashMap::new()))
        .unwrap_or_else(|| reason.to_string())
}

/// An event's detail for the JSON API: English, themes by their keys.
pub(crate) fn event_detail_json(e: &WorkflowEvent) -> String {
    vigie_model::detail_text(&e.action, &e.detail, vigie_model::Language::En)
}

pub(super) fn resolve_department(dir: &Directory, id: Option<i64>, lang: Lang) -> Result<Option<Department>, ApiError> {
    match id {
        None => Ok(None),
        Some(id) => dir.department(Some(id)).cloned().map(Some).ok_or_else(|| {
            ApiError::invalid(match lang {
                Lang::Fr => format!("Le service {id} n'existe pas dans ce projet."),
                Lang::En => format!("no department {id} in this project"),
            })
            .for_field("department_id")
        }),
    }
}

pub(super) fn resolve_assignee(dir: &Directory, id: Option<i64>, lang: Lang) -> Result<Option<Assignee>, ApiError> {
    match id {
        None => Ok(None),
        Some(id) => dir.agents.iter().find(|a| a.id == id).cloned().map(Some).ok_or_else(|| {
            ApiError::invalid(match lang {
                Lang::Fr => {
                    format!("L'utilisateur {id} n'est pas un membre actif du projet avec le rôle agent ou plus.")
                }
                Lang::En => format!("user {id} is not an active member of this project with the agent role or above"),
            })
            .for_field("user_id")
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Triage,
    Assign,
    Note,
    Answer,
    Close,
    Ignore,
    Reopen,
}

impl Kind {
    /// The id of its form in the item page.
    fn form(self) -> &'static str {
        match self {
            Kind::Triage => "triage",
            Kind::Assign => "assign",
            Kind::Note => "note",
            Kind::Answer => "answer",
            Kind::Close => "close",
            Kind::Ignore => "ignore",
            Kind::Reopen => "reopen",
        }
    }
}

/// What an action may carry, from a form or a JSON body.
#[derive(Debug, Deserialize, Default)]
pub struct Fields {
    department_id: Option<i64>,
    user_id: Option<i64>,
    reply: Option<String>,
    reason: Option<String>,
    text: Option<String>,
}

/// Runs one action on mention `mid`.
async fn perform(state: &AppState, actor: &Actor, mid: i64, kind: Kind, f: Fields, lang: Lang) -> Result<(), ApiError> {
    let pid = actor.project_id()?;
    let (mention, current) = load(state, pid, mid).await?;
    let reason = actions::text_field(f.reason.as_deref(), MAX_REASON_CHARS, "La raison", "reason", lang)
        .map_err(|e| e.for_field("reason"))?;
    let action = match kind {
        Kind::Note => {
            let text = actions::text_field(f.text.as_deref(), MAX_TEXT_CHARS, "La note", "note", lang)
                .and_then(|t| {
                    t.ok_or_else(|| ApiError::invalid(lang.t("La note est vide.", "The note is empty (text).")))
                })
                .map_err(|e| e.for_field("text"))?;
            let detail = WorkflowDetail::new(WorkflowChange::Note { text }).encode();
            let mut event = NewWorkflowEvent { user_id: actor.user_id(), action: "note".into(), detail };
            by_token(actor, &mut event);
            state.store.add_workflow_event(pid, mid, event, Utc::now()).await?;
            return Ok(());
        }
        Kind::Triage => Action::Triage,
        Kind::Assign => {
            let dir = Directory::load(state, pid).await?;
            Action::Assign {
                department: resolve_department(&dir, f.department_id, lang)?,
                assignee: resolve_assignee(&dir, f.user_id, lang)?,
            }
        }
        Kind::Answer => Action::Answer {
            reply: actions::text_field(f.reply.as_deref(), MAX_TEXT_CHARS, "La réponse", "reply", lang)
                .map_err(|e| e.for_field("reply"))?,
            reason,
        },
        Kind::Close => Action::Close { reason },
        Kind::Ignore => Action::Ignore { reason },
        Kind::Reopen => {
            let id = current.as_ref().and_then(|c| c.department_id);
            let department = match id {
                Some(id) => state.store.list_departments(pid).await?.into_iter().find(|d| d.id == id),
                None => None,
            };
            Action::Reopen { department }
        }
    };
    save(state, actor, &mention, current.as_ref(), action, lang).await
}

// ---------------------------------------------------------------------------
// JSON.

async fn item_value(state: &AppState, actor: &Actor, mid: i64) -> Result<Value, ApiError> {
    let pid = actor.project_id()?;
    let (mention, item) = load(state, pid, mid).await?;
    let events = state.store.workflow_events(pid, mid).await?;
    let mut dir = Directory::load(state, pid).await?;
    let ids: Vec<i64> =
        events.iter().filter_map(|e| e.user_id).chain(item.iter().filter_map(|i| i.assignee_id)).collect();
    dir.learn(state, ids).await?;
    let now = Utc::now();
    Ok(json!({
        "mention": mention_json(&mention.mention),
        "status": item.as_ref().map(|i| i.status).unwrap_or(InboxStatus::New).as_str(),
        "item": item.as_ref().map(|i| item_json(i, &dir, now)),
        "events": events.iter().map(|e| json!({
            "id": e.id, "at": e.at.to_rfc3339(), "user_id": e.user_id, "user": dir.user_name(e.user_id),
            "action": e.action, "detail": event_detail_json(e),
            "reply": vigie_model::recorded_reply(&e.action, &e.detail),
        })).collect::<Vec<_>>(),
    }))
}

async fn item_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(item_value(&state, &actor, mid).await?))
}

/// An API action: the body (empty is fine for those without fields), the
/// change, and the item as it is now.
async fn api_action(state: AppState, actor: Actor, mid: i64, kind: Kind, body: Bytes) -> Result<Json<Value>, ApiError> {
    let fields: Fields = if body.iter().all(u8::is_ascii_whitespace) {
        Fields::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("the body is not the expected JSON: {e}")))?
    };
    perform(&state, &actor, mid, kind, fields, actor.lang).await?;
    Ok(Json(item_value(&state, &actor, mid).await?))
}

type ApiAnswer = Result<Json<Value>, ApiError>;

async fn triage_api(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
    body: Bytes,
) -> ApiAnswer {
    api_action(s, a, mid, Kind::Triage, body).await
}
async fn assign_api(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
    body: Bytes,
) -> ApiAnswer {
    api_action(s, a, mid, Kind::Assign, body).await
}
async fn note_api(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
    body: Bytes,
) -> ApiAnswer {
    api_action(s, a, mid, Kind::Note, body).await
}
async fn answer_api(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
    body: Bytes,
) -> ApiAnswer {
    api_action(s, a, mid, Kind::Answer, body).await
}
async fn close_api(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
    body: Bytes,
) -> ApiAnswer {
    api_action(s, a, mid, Kind::Close, body).await
}
async fn ignore_api(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
    body: Bytes,
) -> ApiAnswer {
    api_action(s, a, mid, Kind::Ignore, body).await
}
async fn reopen_api(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
    body: Bytes,
) -> ApiAnswer {
    api_action(s, a, mid, Kind::Reopen, body).await
}

// ---------------------------------------------------------------------------
// Forms.

/// A form's fields, as typed (selects send empty strings).
#[derive(Debug, Deserialize, Serialize, Default, Clone)]
pub struct ActionForm {
    department_id: Option<String>,
    user_id: Option<String>,
    reply: Option<String>,
    reason: Option<String>,
    text: Option<String>,
}

fn id_field(v: Option<&str>, name: &'static str) -> Result<Option<i64>, ApiError> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::invalid(format!("{name} must be a number"))
                .with_french(format!("{name} doit être un nombre"))
                .for_field(name)
        }),
    }
}

async fn form_action(state: AppState, actor: Actor, mid: i64, kind: Kind, form: ActionForm) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let fields = (|| {
        Ok::<_, ApiError>(Fields {
            department_id: id_field(form.department_id.as_deref(), "department_id")?,
            user_id: id_field(form.user_id.as_deref(), "user_id")?,
            reply: form.reply.clone(),
            reason: form.reason.clone(),
            text: form.text.clone(),
        })
    })();
    let result = match fields {
        Ok(fields) => perform(&state, &actor, mid, kind, fields, lang).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(see_other(&format!("/p/{pid}/inbox/{mid}"))),
        // The item page again, the form as it was sent and the error beside it.
        Err(e) if e.fixable() => render(&state, &actor, mid, Some(&Echo::of(kind.form(), e, &form))).await,
        Err(e) => Err(e.into()),
    }
}

async fn triage_form(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
    Form(f): Form<ActionForm>,
) -> PageResult {
    form_action(s, a, mid, Kind::Triage, f).await
}
async fn assign_form(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
    Form(f): Form<ActionForm>,
) -> PageResult {
    form_action(s, a, mid, Kind::Assign, f).await
}
async fn note_form(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
    Form(f): Form<ActionForm>,
) -> PageResult {
    form_action(s, a, mid, Kind::Note, f).await
}
async fn answer_form(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
    Form(f): Form<ActionForm>,
) -> PageResult {
    form_action(s, a, mid, Kind::Answer, f).await
}
async fn close_form(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
    Form(f): Form<ActionForm>,
) -> PageResult {
    form_action(s, a, mid, Kind::Close, f).await
}
async fn ignore_form(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
    Form(f): Form<ActionForm>,
) -> PageResult {
    form_action(s, a, mid, Kind::Ignore, f).await
}
async fn reopen_form(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
    Form(f): Form<ActionForm>,
) -> PageResult {
    form_action(s, a, mid, Kind::Reopen, f).await
}

// ---------------------------------------------------------------------------
// The page.

pub(crate) fn event_label(lang: Lang, action: &str) -> String {
    match action {
        "routed" => lang.t("routée", "routed").into(),
        "status" => lang.t("statut", "status").into(),
        "assigned" => lang.t("assignée", "assigned").into(),
        "answered" => lang.t("répondue", "answered").into(),
        "closed" => lang.t("close", "closed").into(),
        "ignored" => lang.t("ignorée", "ignored").into(),
        "reopened" => lang.t("rouverte", "reopened").into(),
        "note" => lang.t("note interne", "internal note").into(),
        "escalated" => lang.t("escaladée", "escalated").into(),
        "sentiment" => lang.t("sentiment corrigé", "sentiment corrected").into(),
        "released" => lang.t("rendue à la file", "back to the queue").into(),
        "retargeted" => lang.t("échéance changée", "due time changed").into(),
        "department_removed" => lang.t("service supprimé", "department removed").into(),
        "withdrawn" => lang.t("retirée de la boîte", "left the inbox").into(),
        "returned" => lang.t("revenue dans la boîte", "back in the inbox").into(),
        other => other.to_string(),
    }
}

async fn item_page(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, mid)): Path<(i64, i64)>,
) -> PageResult {
    render(&state, &actor, mid, None).await
}

/// The item page; with `echo`, a refused form shown again as sent, with its
/// error (and the page answered with the error's status).
async fn render(state: &AppState, actor: &Actor, mid: i64, echo: Option<&Echo>) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let (stored, item) = match load(state, pid, mid).await {
        Ok(loaded) => loaded,
        Err(e) => return Ok(error_page(&e, lang)),
    };
    let m = &stored.mention;
    let events = state.store.workflow_events(pid, mid).await?;
    let theme_names: HashMap<String, String> =
        crate::pages::themes_for(state, pid, lang).await?.into_iter().map(|t| (t.key, t.name)).collect();
    let mut dir = Directory::load(state, pid).await?;
    let ids: Vec<i64> =
        events.iter().filter_map(|e| e.user_id).chain(item.iter().filter_map(|i| i.assignee_id)).collect();
    dir.learn(state, ids).await?;
    let now = Utc::now();
    let status = item.as_ref().map(|i| i.status).unwrap_or(InboxStatus::New);
    let department = item.as_ref().and_then(|i| dir.department(i.department_id));
    let late = item.as_ref().and_then(|i| overdue_secs(i, now));
    let done = matches!(status, InboxStatus::Answered | InboxStatus::Closed | InboxStatus::Ignored);
    // Answered, or answered then reopened: closing needs no reason.
    let answered_once = status == InboxStatus::Answered || item.as_ref().is_some_and(|i| i.first_response_at.is_some());
    let agent = actor.can(Role::Agent);
    let base = format!("/p/{pid}/inbox/{mid}");
    let title = m.title.as_deref().filter(|t| !t.trim().is_empty()).map(|t| crate::pages::clip(t, 200));
    let on = |form: &str| Echo::on(echo, form);
    let (triage, assign, answer, ignore, close, reopen, note) =
        (on("triage"), on("assign"), on("answer"), on("ignore"), on("close"), on("reopen"), on("note"));
    let actions = html! {
        @if matches!(status, InboxStatus::New | InboxStatus::Assigned) {
            form.stack method="post" action={ (base) "/triage" } {
                (csrf_field(actor))
                (triage.error(lang))
                button type="submit" { @if status == InboxStatus::New { (lang.t("À traiter", "Mark to handle")) } @else { (lang.t("Remettre dans la file (désassigner)", "Back to the queue (unassign)")) } }
            }
        }
        @if !done {
            form.stack method="post" action={ (base) "/assign" } {
                (csrf_field(actor))
                h3 { (lang.t("Assigner", "Assign")) }
                (assign.error(lang))
                label { (lang.t("Service", "Department"))
                    select name="department_id" aria-invalid=[assign.invalid("department_id")] aria-describedby=[assign.described("department_id")] {
                        option value="" { (lang.t("(inchangé)", "(unchanged)")) }
                        @for d in &dir.departments {
                            @let id = d.id.to_string();
                            option value=(id) selected[assign.chose("department_id", &id, false)] { (crate::pages::dept(lang, &d.name)) " (" (lang.duration(d.response_target_secs)) ")" }
                        }
                    }
                }
                label { (lang.t("Personne", "Person"))
                    select name="user_id" aria-invalid=[assign.invalid("user_id")] aria-describedby=[assign.described("user_id")] {
                        option value="" { (lang.t("(inchangée)", "(unchanged)")) }
                        @for a in &dir.agents {
                            @let id = a.id.to_string();
                            option value=(id) selected[assign.chose("user_id", &id, false)] { (a.name) }
                        }
                    }
                }
                button type="submit" { (lang.t("Assigner", "Assign")) }
            }
            form.stack method="post" action={ (base) "/answer" } {
                (csrf_field(actor))
                h3 { (lang.t("Répondre", "Answer")) }
                (answer.error(lang))
                label { (lang.t("Réponse envoyée", "Reply sent"))
                    textarea name="reply" maxlength=(MAX_TEXT_CHARS)
                        aria-invalid=[answer.invalid("reply")] aria-describedby=[answer.described("reply")] { (answer.value("reply", "")) } }
                label { (lang.t("Ou\u{a0}: pourquoi aucune réponse n'est nécessaire", "Or: why no reply is needed"))
                    input type="text" name="reason" maxlength=(MAX_REASON_CHARS) value=(answer.value("reason", ""))
                        aria-invalid=[answer.invalid("reason")] aria-describedby=[answer.described("reason")]; }
                button type="submit" { (lang.t("Enregistrer la réponse", "Record the answer")) }
            }
            form.stack method="post" action={ (base) "/ignore" } {
                (csrf_field(actor))
                h3 { (lang.t("Ignorer", "Ignore")) }
                (ignore.error(lang))
                label { (lang.t("Raison", "Reason"))
                    input type="text" name="reason" required maxlength=(MAX_REASON_CHARS) value=(ignore.value("reason", ""))
                        aria-invalid=[ignore.invalid("reason")] aria-describedby=[ignore.described("reason")]; }
                button.secondary type="submit" { (lang.t("Ignorer", "Ignore")) }
            }
        }
        @if !matches!(status, InboxStatus::Closed | InboxStatus::Ignored) {
            form.stack method="post" action={ (base) "/close" } {
                (csrf_field(actor))
                h3 { (lang.t("Clore", "Close")) }
                (close.error(lang))
                label {
                    @if answered_once { (lang.t("Raison (facultative)", "Reason (optional)")) }
                    @else { (lang.t("Raison (obligatoire\u{a0}: jamais répondue)", "Reason (required: never answered)")) }
                    input type="text" name="reason" required[!answered_once] maxlength=(MAX_REASON_CHARS) value=(close.value("reason", ""))
                        aria-invalid=[close.invalid("reason")] aria-describedby=[close.described("reason")];
                }
                button.secondary type="submit" { (lang.t("Clore", "Close")) }
            }
        }
        @if done {
            form.stack method="post" action={ (base) "/reopen" } {
                (csrf_field(actor))
                (reopen.error(lang))
                button type="submit" { (lang.t("Rouvrir", "Reopen")) }
            }
        }
        form.stack method="post" action={ (base) "/note" } {
            (csrf_field(actor))
            h3 { (lang.t("Note interne", "Internal note")) }
            (note.error(lang))
            label { (lang.t("Note (visible de l'équipe seulement)", "Note (seen by the team only)"))
                textarea name="text" required maxlength=(MAX_TEXT_CHARS)
                    aria-invalid=[note.invalid("text")] aria-describedby=[note.described("text")] { (note.value("text", "")) } }
            button.secondary type="submit" { (lang.t("Ajouter la note", "Add the note")) }
        }
    };
    // A refusal whose form is not shown any more (someone else answered,
    // closed or ignored the item meanwhile): the error, and the text typed.
    let unplaced = Echo::unplaced(echo, lang, &["reply", "reason", "text"]);
    let body = html! {
        p { a href={ "/p/" (pid) "/inbox" } { (lang.t("← À traiter", "← Inbox")) } }
        @match &title {
            Some(t) => h1 lang=(crate::pages::text_lang(m)) { (t) },
            None => h1 { (lang.t("Mention", "Mention")) " #" (mid) },
        }
        article.card.mention {
            p.meta {
                (sentiment_badge(lang, m.analysis.polarity())) " "
                span.muted {
                    (lang.source_kind(m.source_kind))
                    @if let Some(site) = &m.site { " · " (site) }
                    @if let Some(author) = &m.author { " · " (author) }
                    " · " (lang.datetime(m.published_at))
                }
            }
            p.text lang=(crate::pages::text_lang(m)) { (m.text) }
            @if let Some(url) = &m.url { p { (external_link(url, &crate::pages::clip(url, 100))) } }
            @if !m.analysis.themes.is_empty() {
                p.muted { (lang.t("Thèmes\u{a0}: ", "Themes: "))
                    @for (i, t) in m.analysis.themes.iter().enumerate() {
                        @if i > 0 { ", " } (theme_names.get(&t.theme).unwrap_or(&t.theme)) } }
            }
        }
        section.card.workflow {
            h2 { (lang.t("Traitement", "Handling")) }
            dl.facts {
                dt { (lang.t("Statut", "Status")) }
                dd { span class={ "badge status-" (status.as_str()) } { (status_label(lang, status)) }
                    @if item.as_ref().is_some_and(|i| i.escalated_at.is_some()) { " " span.badge.escalated { (lang.t("escaladée", "escalated")) } } }
                dt { (lang.t("Service", "Department")) }
                dd { (department.map_or("—", |d| crate::pages::dept(lang, &d.name))) }
                dt { (lang.t("Assignée à", "Assignee")) }
                dd { (dir.user_name(item.as_ref().and_then(|i| i.assignee_id)).unwrap_or_else(|| "—".into())) }
                @if let Some(i) = &item {
                    dt { (lang.t("Arrivée", "Arrived")) }
                    dd { (lang.datetime(i.entered_at)) }
                    @if let Some(at) = i.clock_at {
                        dt { (lang.t("Rouverte", "Reopened")) }
                        dd { (lang.datetime(at)) }
                    }
                    dt { (lang.t("Échéance", "Due")) }
                    dd {
                        @if let Some(due) = i.due_at { (lang.datetime(due)) } @else { "—" }
                        @if let Some(secs) = late { " " span.overdue { (lang.t("en retard de ", "overdue by ")) (lang.duration(secs)) } }
                    }
                    dt { (lang.t("Objectif de réponse", "Response target")) }
                    dd {
                        @if let Some(secs) = super::target_secs(i, department) { (lang.duration(secs)) }
                        @else { "—" }
                    }
                    dt { (lang.t("Temps de réponse", "Response time")) }
                    dd.response-time {
                        @if let Some(secs) = response_secs(i) {
                            (lang.duration(secs))
                            @if let (Some(first), Some(due)) = (i.first_response_at, i.first_answer_due()) {
                                @if first <= due { " " span.badge.within { (lang.t("dans l'objectif", "within target")) } }
                                @else { " " span.overdue { (lang.t("hors objectif", "over target")) } }
                            }
                        } @else { (lang.t("pas encore de réponse", "no response yet")) }
                    }
                    @if let Some(reply) = &i.reply {
                        dt { (lang.t("Réponse envoyée", "Reply sent")) }
                        dd.reply { (reply) }
                    }
                    @if let Some(reason) = &i.reason {
                        dt { (lang.t("Raison", "Reason")) }
                        dd { (reason_text(lang, reason, &events)) }
                    }
                    @if let Some(at) = i.closed_at {
                        dt { (lang.t("Close le", "Closed at")) }
                        dd { (lang.datetime(at)) }
                    }
                    @if let Some(at) = i.escalated_at {
                        dt { (lang.t("Escaladée le", "Escalated at")) }
                        dd { (lang.datetime(at)) }
                    }
                }
            }
        }
        @if agent {
            section.card.actions {
                h2 { (lang.t("Actions", "Actions")) }
                (unplaced)
                (actions)
            }
        }
        section.card.history {
            h2 { (lang.t("Historique", "History")) }
            @if events.is_empty() {
                p.muted { (lang.t("Rien encore.", "Nothing yet.")) }
            } @else {
                ol.history {
                    @for e in &events {
                        @let detail = event_detail(lang, e, &theme_names);
                        li class={ "event event-" (e.action) } {
                            span.muted { (lang.datetime(e.at)) } " · "
                            strong { (dir.user_name(e.user_id).unwrap_or_else(|| "Vigie".into())) } " · "
                            (event_label(lang, &e.action))
                            @if !detail.is_empty() { (lang.t("\u{a0}: ", ": ")) span.detail { (detail) } }
                            // Every reply stays readable, also once a later
                            // answer replaced the item's.
                            @if let Some(reply) = vigie_model::recorded_reply(&e.action, &e.detail) {
                                blockquote.reply { (reply) }
                            }
                        }
                    }
                }
            }
        }
    };
    let page_title = title.unwrap_or_else(|| format!("{} #{mid}", lang.t("Mention", "Mention")));
    let response = page(state, actor, Nav::Inbox, &page_title, body).await?;
    Ok(Echo::answer(echo, response))
}

//! Alerts: the list, each alert's explanation (observed vs expected, the
//! window, the terms and mentions that drove it, where it was sent), and
//! acknowledge / resolve.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::{Extension, Json};
use chrono::Utc;
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_model::{Alert, AlertRule, AlertStatus, Role};
use vigie_store::{AlertCursor, NewAudit};

use super::{Nav, PageResult, clip, csrf_field, external_link, page, see_other};
use crate::auth::Actor;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::routes::Routes;
use crate::{Access, AppState};

pub fn routes(r: Routes) -> Routes {
    let viewer = Access::Project(Role::Viewer);
    let agent = Access::Project(Role::Agent);
    r.page(Method::GET, "/p/{pid}/alerts", viewer, "Alerts page", list_page)
        .page(Method::GET, "/p/{pid}/alerts/{id}", viewer, "Alert page", detail_page)
        .page(Method::POST, "/p/{pid}/alerts/{id}/status", agent, "Acknowledge or resolve an alert (form)", status_form)
        .api(
            Method::GET,
            "/api/v1/projects/{pid}/alerts",
            viewer,
            "Alerts, newest first (status=open|acknowledged|resolved)",
            list_api,
        )
        .api(Method::GET, "/api/v1/projects/{pid}/alerts/{id}", viewer, "One alert with its explanation", detail_api)
        .api(Method::POST, "/api/v1/projects/{pid}/alerts/{id}/acknowledge", agent, "Acknowledge an alert", ack_api)
        .api(Method::POST, "/api/v1/projects/{pid}/alerts/{id}/resolve", agent, "Resolve an alert", resolve_api)
}

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn parse_status(s: Option<&str>) -> Result<Option<AlertStatus>, ApiError> {
    match s.map(str::trim).filter(|s| !s.is_empty() && *s != "all") {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(ApiError::invalid),
    }
}

fn stories_note(lang: Lang, a: &Alert, stories: usize) -> String {
    let mentions = a.evidence.observed.round();
    // A surge's figure already says "mentions in the window".
    let surge = matches!(a.rule, AlertRule::NegativeSurge | AlertRule::VolumeSurge);
    match lang {
        Lang::Fr => format!(
            "{}{} histoire{} (les autres sont des copies)",
            if surge { ", " } else { "mentions, " },
            lang.number(stories as i64),
            if stories > 1 { "s" } else { "" }
        ),
        Lang::En => format!(
            "{}{} stor{} (the other {} are copies)",
            if surge { ", of " } else { "mentions of " },
            lang.number(stories as i64),
            if stories > 1 { "ies" } else { "y" },
            lang.number(mentions as i64 - stories as i64)
        ),
    }
}

pub fn rule_label(lang: Lang, rule: AlertRule) -> &'static str {
    match rule {
        AlertRule::NegativeSurge => lang.t("hausse des mentions négatives", "negative surge"),
        AlertRule::VolumeSurge => lang.t("hausse du volume", "volume surge"),
        AlertRule::HighReachNegative => lang.t("mention négative à forte portée", "high-reach negative mention"),
        AlertRule::TriggerTerm => lang.t("terme déclencheur", "trigger term"),
        AlertRule::SearchRankEntry => lang.t("nouvelle page en tête des résultats", "new page in top search results"),
    }
}

/// An alert's title in the reader's language, made again from its data
/// (`watch`: the name of its watch, looked up by the page); the stored
/// (English) title when its watch is gone.
pub fn alert_title(lang: Lang, alert: &vigie_model::Alert, watch: Option<&str>) -> String {
    alert.title_in(lang.into(), watch)
}

/// A severity as the reader says it (the badge's class keeps the code).
pub(crate) fn severity_label(lang: Lang, s: vigie_model::Severity) -> &'static str {
    match s {
        vigie_model::Severity::Info => lang.t("info", "info"),
        vigie_model::Severity::Warning => lang.t("attention", "warning"),
        vigie_model::Severity::Critical => lang.t("critique", "critical"),
    }
}

/// A delivery's state as the reader says it (unknown states as stored).
fn delivery_label(lang: Lang, status: &str) -> String {
    match status {
        "pending" => lang.t("en attente", "pending").to_string(),
        "sent" => lang.t("envoyée", "sent").to_string(),
        "failed" => lang.t("échec", "failed").to_string(),
        "superseded" => lang.t("remplacée par la suivante", "superseded by a later one").to_string(),
        other => other.to_string(),
    }
}

fn status_label(lang: Lang, s: AlertStatus) -> &'static str {
    match s {
        AlertStatus::Open => lang.t("ouverte", "open"),
        AlertStatus::Acknowledged => lang.t("prise en compte", "acknowledged"),
        AlertStatus::Resolved => lang.t("résolue", "resolved"),
    }
}

pub fn alert_json(a: &Alert) -> Value {
    json!({
        "id": a.id, "watch_id": a.watch_id, "rule": a.rule.as_str(), "severity": a.severity.as_str(),
        "status": a.status.as_str(), "title": a.title, "events": a.events,
        "evidence": {
            "observed": a.evidence.observed, "expected": a.evidence.expected, "score": a.evidence.score,
            // The stories its mentions are (ids of their first mentions), as
            // webhooks carry them.
            "stories": a.evidence.stories,
            "window_start": a.evidence.window_start.map(|t| t.to_rfc3339()),
            "window_end": a.evidence.window_end.map(|t| t.to_rfc3339()),
            "terms": a.evidence.terms, "urls": a.evidence.urls,
        },
        "mention_ids": a.mention_ids,
        "opened_at": a.opened_at.to_rfc3339(), "updated_at": a.updated_at.to_rfc3339(),
        "acknowledged_at": a.acknowledged_at.map(|t| t.to_rfc3339()), "acknowledged_by": a.acknowledged_by,
        "resolved_at": a.resolved_at.map(|t| t.to_rfc3339()), "resolved_by": a.resolved_by,
    })
}

async fn list_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let status = parse_status(q.status.as_deref())?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 500"));
    }
    let after = match q.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(c.parse::<AlertCursor>().map_err(|()| {
            ApiError::invalid(format!("cursor {c:?} is not valid: pass the next_cursor of the previous answer"))
        })?),
    };
    // One more than asked tells whether there is a next page.
    let mut alerts = state.store.alerts_after(actor.project_id()?, status, after, limit + 1).await?;
    let more = alerts.len() as i64 > limit;
    alerts.truncate(limit as usize);
    let next = alerts.last().filter(|_| more).map(|a| AlertCursor::of(a).to_string());
    Ok(Json(json!({"items": alerts.iter().map(alert_json).collect::<Vec<_>>(), "next_cursor": next})))
}

async fn load(state: &AppState, actor: &Actor, id: i64) -> Result<Alert, ApiError> {
    state
        .store
        .alert(actor.project_id()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no alert {id} in this project")))
}

async fn detail_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let a = load(&state, &actor, id).await?;
    let deliveries = state.store.deliveries(a.id).await?;
    let mut v = alert_json(&a);
    // A channel's error (an SMTP server's answer, a webhook's body) is for
    // those who manage channels.
    let errors = actor.can(Role::Manager);
    v["deliveries"] = deliveries
        .iter()
        .map(|d| json!({"channel": d.channel.kind, "event": d.event, "status": d.status, "attempts": d.attempts, "last_error": d.last_error.as_ref().filter(|_| errors), "sent_at": d.sent_at.map(|t| t.to_rfc3339())}))
        .collect();
    Ok(Json(v))
}

async fn set_status(state: &AppState, actor: &Actor, id: i64, status: AlertStatus) -> Result<Alert, ApiError> {
    let pid = actor.project_id()?;
    let before = load(state, actor, id).await?;
    if !before.status.may_become(status) {
        return Err(ApiError::conflict("this alert is resolved already"));
    }
    let now = Utc::now();
    state.store.set_alert_status(pid, id, status, &actor.name(), now).await?;
    state
        .store
        .audit(
            NewAudit {
                project_id: Some(pid),
                user_id: actor.user_id(),
                action: format!("alert.{}", status.as_str()),
                detail: format!(
                    "{} set alert #{id} ({}) from {} to {}",
                    actor.name(),
                    before.title,
                    before.status.as_str(),
                    status.as_str()
                ),
            },
            now,
        )
        .await?;
    load(state, actor, id).await
}

async fn ack_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(alert_json(&set_status(&state, &actor, id, AlertStatus::Acknowledged).await?)))
}

async fn resolve_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(alert_json(&set_status(&state, &actor, id, AlertStatus::Resolved).await?)))
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
}

async fn status_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((pid, id)): Path<(i64, i64)>,
    axum::Form(form): axum::Form<StatusForm>,
) -> PageResult {
    let status: AlertStatus = form.status.parse().map_err(ApiError::invalid)?;
    if status == AlertStatus::Open {
        return Err(ApiError::invalid("an alert cannot be reopened: a new event opens a new one").into());
    }
    set_status(&state, &actor, id, status).await?;
    Ok(see_other(&format!("/p/{pid}/alerts/{id}")))
}

async fn list_page(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let status = parse_status(q.status.as_deref())?;
    let alerts = state.store.alerts(pid, status, 200).await?;
    let watches = state.store.list_watches(pid).await?;
    let watch_name = |id: Option<i64>| id.and_then(|id| watches.iter().find(|w| w.id == id)).map(|w| w.name.clone());
    let current = q.status.clone().unwrap_or_default();
    let body = html! {
        h1 { (lang.t("Alertes", "Alerts")) }
        div.period {
            @for (key, label) in [("", lang.t("Toutes", "All")), ("open", lang.t("Ouvertes", "Open")), ("acknowledged", lang.t("Prises en compte", "Acknowledged")), ("resolved", lang.t("Résolues", "Resolved"))] {
                a href={ "/p/" (pid) "/alerts" @if !key.is_empty() { "?status=" (key) } } aria-current=[(current == key).then_some("true")] { (label) }
            }
        }
        @if alerts.is_empty() {
            p.muted { (lang.t("Aucune alerte.", "No alert.")) }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    th { (lang.t("Gravité", "Severity")) } th { (lang.t("Alerte", "Alert")) } th { (lang.t("Veille", "Watch")) }
                    th { (lang.t("Statut", "Status")) } th.num { (lang.t("Événements", "Events")) } th { (lang.t("Mise à jour", "Updated")) }
                } }
                tbody { @for a in &alerts {
                    tr.alert-row.open[a.status == AlertStatus::Open] {
                        td { span class={ "badge severity-" (a.severity.as_str()) } { (severity_label(lang, a.severity)) } }
                        td { a href={ "/p/" (pid) "/alerts/" (a.id) } { (alert_title(lang, a, watch_name(a.watch_id).as_deref())) } div.muted { (rule_label(lang, a.rule)) } }
                        td { (watch_name(a.watch_id).unwrap_or_default()) }
                        td { (status_label(lang, a.status)) }
                        td.num { (lang.number(a.events)) }
                        td { (lang.datetime(a.updated_at)) }
                    }
                } }
            } }
        }
    };
    page(&state, &actor, Nav::Alerts, lang.t("Alertes", "Alerts"), body).await
}

async fn detail_page(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((pid, id)): Path<(i64, i64)>,
) -> PageResult {
    let lang = actor.lang;
    let a = load(&state, &actor, id).await?;
    let mut mentions = Vec::new();
    for mid in a.mention_ids.iter().take(20) {
        if let Some(m) = state.store.mention(pid, *mid).await? {
            mentions.push(m);
        }
    }
    let deliveries = state.store.deliveries(a.id).await?;
    let watch = match a.watch_id {
        Some(w) => state.store.list_watches(pid).await?.into_iter().find(|x| x.id == w).map(|w| w.name),
        None => None,
    };
    let e = &a.evidence;
    let surge = matches!(a.rule, AlertRule::NegativeSurge | AlertRule::VolumeSurge);
    let shown_title = alert_title(lang, &a, watch.as_deref());
    let body = html! {
        h1 { span class={ "badge severity-" (a.severity.as_str()) } { (severity_label(lang, a.severity)) } " " (shown_title) }
        dl.facts.card {
            dt { (lang.t("Règle", "Rule")) } dd { (rule_label(lang, a.rule)) }
            @if let Some(w) = &watch { dt { (lang.t("Veille", "Watch")) } dd { (w) } }
            dt { (lang.t("Statut", "Status")) } dd { (status_label(lang, a.status)) }
            dt { (lang.t("Observé", "Observed")) } dd {
                (format!("{:.0}", e.observed)) @if surge { " " (lang.t("mentions dans la fenêtre", "mentions in the window")) }
                @if let Some(stories) = a.copied_stories() { @if !surge { " " } (stories_note(lang, &a, stories)) }
                @if let Some(authors) = a.few_authors() {
                    " " (match lang { Lang::Fr => format!("({} auteurs)", lang.number(authors as i64)), Lang::En => format!("(by {} authors)", lang.number(authors as i64)) })
                }
            }
            dt { (lang.t("Attendu", "Expected")) } dd { (lang.decimal(&vigie_model::expected_count(e.expected))) @if let Some(s) = e.score { " · " (lang.t("score d'anomalie", "anomaly score")) " " (lang.decimal(&format!("{s:.2}"))) } }
            @if let (Some(s), Some(t)) = (e.window_start, e.window_end) {
                dt { (lang.t("Fenêtre", "Window")) } dd { (lang.datetime(s)) " → " (lang.datetime(t)) }
            }
            @if !e.terms.is_empty() { dt { (lang.t("Termes", "Terms")) } dd { @for t in &e.terms { span.badge { (t) } " " } } }
            dt { (lang.t("Événements regroupés", "Events merged")) } dd { (lang.number(a.events)) }
            dt { (lang.t("Ouverte", "Opened")) } dd { (lang.datetime(a.opened_at)) }
            dt { (lang.t("Mise à jour", "Updated")) } dd { (lang.datetime(a.updated_at)) }
            @if let Some(at) = a.acknowledged_at {
                dt { (lang.t("Prise en compte", "Acknowledged")) } dd { (lang.datetime(at)) @if let Some(by) = &a.acknowledged_by { " · " (by) } }
            }
            @if let (AlertStatus::Resolved, Some(at)) = (a.status, a.resolved_at) {
                dt { (lang.t("Résolue", "Resolved")) } dd { (lang.datetime(at)) @if let Some(by) = &a.resolved_by { " · " (by) } }
            }
        }
        @if actor.can(Role::Agent) && a.status != AlertStatus::Resolved {
            div {
                @if a.status == AlertStatus::Open {
                    form.inline method="post" action={ "/p/" (pid) "/alerts/" (a.id) "/status" } {
                        (csrf_field(&actor)) input type="hidden" name="status" value="acknowledged";
                        button type="submit" { (lang.t("Prendre en compte", "Acknowledge")) }
                    }
                    " "
                }
                form.inline method="post" action={ "/p/" (pid) "/alerts/" (a.id) "/status" } {
                    (csrf_field(&actor)) input type="hidden" name="status" value="resolved";
                    button.secondary type="submit" { (lang.t("Résoudre", "Resolve")) }
                }
            }
        }
        @if !e.urls.is_empty() {
            h2 { (lang.t("Pages", "Pages")) }
            ul { @for u in &e.urls { li { (external_link(u, u)) } } }
        }
        h2 { (lang.t("Mentions en cause", "Mentions behind it")) }
        @if mentions.is_empty() { p.muted { "—" } } @else {
            ul { @for m in &mentions { li {
                a href={ "/p/" (pid) "/mentions/" (m.mention.id) } lang=(super::text_lang(&m.mention)) { (m.mention.title.clone().unwrap_or_else(|| clip(&m.mention.text, 120))) }
                " " span.muted { (m.mention.site.as_deref().unwrap_or("")) " · " (lang.datetime(m.mention.published_at)) }
            } } }
            @if !a.mention_ids.is_empty() && a.watch_id.is_some() {
                p { a href={ "/p/" (pid) "/mentions?watch=" (a.watch_id.unwrap_or_default()) } { (lang.t("Toutes les mentions de la veille →", "All mentions of the watch →")) } }
            }
        }
        h2 { (lang.t("Notifications", "Notifications")) }
        @if deliveries.is_empty() { p.muted { (lang.t("Aucune notification envoyée.", "No notification sent.")) } } @else {
            div.table-wrap { table {
                thead { tr { th { (lang.t("Canal", "Channel")) } th { (lang.t("N°", "No.")) } th { (lang.t("État", "Status")) } th.num { (lang.t("Essais", "Attempts")) } th { (lang.t("Erreur", "Error")) } } }
                tbody { @for d in &deliveries { tr {
                    td { (crate::pages::settings::channels::channel_kind(lang, &d.channel.kind)) } td { (d.event) } td { (delivery_label(lang, &d.status)) } td.num { (d.attempts) } td {
                        @if let Some(error) = &d.last_error {
                            @if actor.can(Role::Manager) { (error) } @else { span.muted { (lang.t("(visible des responsables)", "(shown to managers)")) } }
                        }
                    }
                } } }
            } }
        }
    };
    let title = clip(&shown_title, 60);
    page(&state, &actor, Nav::Alerts, &title, body).await
}

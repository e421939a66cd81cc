//! Scheduled reports: weekly or monthly, e-mailed through one of the
//! project's e-mail channels, to its addresses or to chosen ones. Sending is
//! `crate::schedule`'s (called by `vigie serve`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use axum::{Extension, Form, Json};
use chrono::Utc;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vigie_model::Role;
use vigie_store::{Frequency, NewReportSchedule, ReportSchedule, StoreError};

use super::channels::check_addresses;
use super::{audit_change, form_done, form_id, json_body, language_name, language_select, msg, refused};
use crate::auth::Actor;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::echo::Echo;
use crate::pages::{PageResult, clip, created, csrf_field};
use crate::routes::Routes;
use crate::schedule::next_send;
use crate::{Access, AppState};

pub(super) fn routes(r: Routes) -> Routes {
    let manager = Access::Project(Role::Manager);
    r.page(Method::POST, "/p/{pid}/settings/reports", manager, "Add a scheduled report (form)", add_form)
        .page(
            Method::POST,
            "/p/{pid}/settings/reports/{id}/delete",
            manager,
            "Remove a scheduled report (form)",
            delete_form,
        )
        .api(Method::GET, "/api/v1/projects/{pid}/report-schedules", manager, "Scheduled reports", list_api)
        .api(
            Method::POST,
            "/api/v1/projects/{pid}/report-schedules",
            manager,
            "Add a scheduled report {frequency: weekly|monthly, channel_id, recipients?, lang?: fr|en}",
            add_api,
        )
        .api(
            Method::DELETE,
            "/api/v1/projects/{pid}/report-schedules/{id}",
            manager,
            "Remove a scheduled report",
            delete_api,
        )
}

fn back(pid: i64) -> String {
    format!("/p/{pid}/settings#reports")
}

fn schedule_json(s: &ReportSchedule) -> Value {
    json!({
        "id": s.id, "frequency": s.frequency.as_str(), "channel_id": s.channel_id, "recipients": s.recipients,
        "lang": s.lang, "last_period_end": s.last_period_end.map(|t| t.to_rfc3339()),
        "last_sent_at": s.last_sent_at.map(|t| t.to_rfc3339()), "last_error": s.last_error,
        "next_run": next_send(s, Utc::now(), crate::i18n::current_zone()).to_rfc3339(), "created_at": s.created_at.to_rfc3339(),
    })
}

#[derive(Debug, Deserialize, Default)]
pub struct ScheduleInput {
    frequency: Option<String>,
    channel_id: Option<Value>,
    /// Comma-separated in forms; a list or a string in JSON; empty: the channel's.
    recipients: Option<Value>,
    lang: Option<String>,
}

async fn add(state: &AppState, actor: &Actor, input: ScheduleInput, lang: Lang) -> Result<ReportSchedule, ApiError> {
    let pid = actor.project_id()?;
    let frequency = Frequency::parse(input.frequency.as_deref().unwrap_or("")).ok_or_else(|| {
        ApiError::invalid(msg(
            lang,
            "La fréquence doit être weekly (hebdomadaire) ou monthly (mensuelle).".into(),
            "frequency must be weekly or monthly".into(),
        ))
        .for_field("frequency")
    })?;
    let channel_id = match &input.channel_id {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => {
            form_id(Some(s), ("le canal", "channel"), lang).map_err(|e| e.for_field("channel_id"))?
        }
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::invalid(msg(
            lang,
            "Choisissez un canal e-mail.".into(),
            "give channel_id, an e-mail channel of the project".into(),
        ))
        .for_field("channel_id")
    })?;
    let raw = match &input.recipients {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(list)) => {
            list.iter().map(|v| v.as_str().unwrap_or("").to_string()).collect::<Vec<_>>().join(",")
        }
        _ => String::new(),
    };
    let recipients = if raw.trim().is_empty() {
        String::new()
    } else {
        // Each address once (`a@x.fr,A@X.fr` mailed it twice).
        let mut seen = std::collections::HashSet::new();
        let addresses = check_addresses(&raw, lang).map_err(|e| e.for_field("recipients"))?;
        addresses.into_iter().filter(|a| seen.insert(a.to_lowercase())).collect::<Vec<_>>().join(",")
    };
    let report_lang = match input.lang.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        // The channel's language (French unless it says otherwise).
        None => match state.store.list_channels(pid).await?.into_iter().find(|c| c.id == channel_id) {
            Some(c) => c.lang.code().to_string(),
            None => Lang::Fr.code().to_string(),
        },
        Some(l) => Lang::parse(l).map(|l| l.code().to_string()).ok_or_else(|| {
            ApiError::invalid(msg(lang, "La langue doit être fr ou en.".into(), "lang must be fr or en".into()))
                .for_field("lang")
        })?,
    };
    // The same report to the same people twice would mail it twice: the
    // people compared as the report reaches them (no list is the channel's
    // address; case and order do not count).
    let channel_target =
        state.store.list_channels(pid).await?.into_iter().find(|c| c.id == channel_id).map(|c| c.target);
    let people = |list: &str| crate::schedule::recipient_set(list, channel_target.as_deref().unwrap_or(""));
    if let Some(same) = state.store.list_report_schedules(pid).await?.into_iter().find(|s| {
        s.frequency == frequency
            && s.channel_id == channel_id
            && people(&s.recipients) == people(&recipients)
            && s.lang == report_lang
    }) {
        return Err(ApiError::conflict(msg(
            lang,
            format!(
                "Ce rapport est déjà programmé (n° {}) : même fréquence, même canal, mêmes destinataires.",
                same.id
            ),
            format!("this report is scheduled already (#{}): same frequency, channel and recipients", same.id),
        )));
    }
    let added = state
        .store
        .add_report_schedule(
            pid,
            NewReportSchedule { frequency, channel_id, recipients, lang: report_lang },
            Utc::now(),
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => ApiError::not_found(msg(
                lang,
                format!("Le projet n'a pas de canal e-mail {channel_id}."),
                format!("this project has no e-mail channel {channel_id}"),
            ))
            .for_field("channel_id"),
            other => other.into(),
        })?;
    audit_change(
        state,
        actor,
        Some(pid),
        "report_schedule.add",
        format!("added {} report #{} through channel #{}", added.frequency.as_str(), added.id, added.channel_id),
    )
    .await?;
    Ok(added)
}

async fn remove(state: &AppState, actor: &Actor, id: i64, lang: Lang) -> Result<(), ApiError> {
    let pid = actor.project_id()?;
    if !state.store.remove_report_schedule(pid, id).await? {
        return Err(ApiError::not_found(msg(
            lang,
            format!("Le rapport programmé {id} n'existe pas dans ce projet."),
            format!("no scheduled report {id} in this project"),
        )));
    }
    audit_change(state, actor, Some(pid), "report_schedule.remove", format!("removed scheduled report #{id}")).await
}

async fn list_api(State(state): State<AppState>, Extension(actor): Extension<Actor>) -> Result<Json<Value>, ApiError> {
    let list = state.store.list_report_schedules(actor.project_id()?).await?;
    Ok(Json(json!({"items": list.iter().map(schedule_json).collect::<Vec<_>>(), "next_cursor": null})))
}

async fn add_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let input: ScheduleInput = json_body(&body)?;
    let added = add(&state, &actor, input, Lang::En).await?;
    Ok(created(schedule_json(&added)))
}

async fn delete_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    remove(&state, &actor, id, Lang::En).await?;
    Ok(Json(json!({"removed": id})))
}

#[derive(Debug, Deserialize, Serialize, Default, Clone)]
pub struct ScheduleForm {
    frequency: Option<String>,
    channel_id: Option<String>,
    recipients: Option<String>,
    lang: Option<String>,
}

async fn add_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Form(f): Form<ScheduleForm>,
) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let input = ScheduleInput {
        frequency: f.frequency.clone(),
        channel_id: f.channel_id.clone().map(Value::String),
        recipients: f.recipients.clone().map(Value::String),
        lang: f.lang.clone(),
    };
    match add(&state, &actor, input, lang).await {
        Err(e) => refused(&state, &actor, Echo::of("report-add", e, &f)).await,
        Ok(_) => Ok(crate::pages::see_other(&back(pid))),
    }
}

async fn delete_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> PageResult {
    let pid = actor.project_id()?;
    let result = remove(&state, &actor, id, actor.lang).await;
    form_done(&state, &actor, result, &back(pid), &format!("report-{id}"), &()).await
}

fn frequency_label(lang: Lang, f: Frequency) -> &'static str {
    match f {
        Frequency::Weekly => lang.t("hebdomadaire (lundi)", "weekly (Monday)"),
        Frequency::Monthly => lang.t("mensuel (le 1er)", "monthly (the 1st)"),
    }
}

pub(super) async fn section(state: &AppState, actor: &Actor, echo: Option<&Echo>) -> Result<Markup, ApiError> {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let list = state.store.list_report_schedules(pid).await?;
    let channels: Vec<_> = state.store.list_channels(pid).await?.into_iter().filter(|c| c.kind == "email").collect();
    let now = Utc::now();
    let fe = Echo::on(echo, "report-add");
    Ok(html! {
        section.card #reports {
            h2 { (lang.t("Rapports programmés", "Scheduled reports")) }
            p.muted { (lang.t(
                "Envoyés par e-mail (serveur SMTP de l'installation) le lundi pour la semaine écoulée, ou le 1er pour le mois écoulé, à minuit heure locale",
                "E-mailed (through the installation's SMTP server) on Monday for the past week, or on the 1st for the past month, at local midnight"
            )) " (" (crate::i18n::current_zone().name()) ")" (lang.t(", une seule fois par période.", ", once per period.")) }
            @if list.is_empty() {
                p.muted { (lang.t("Aucun rapport programmé.", "No scheduled report.")) }
            } @else {
                div.table-wrap { table {
                    thead { tr {
                        th { (lang.t("Fréquence", "Frequency")) }
                        th { (lang.t("Destinataires", "Recipients")) }
                        th { (lang.t("Langue", "Language")) }
                        th { (lang.t("Dernier envoi", "Last sent")) }
                        th { (lang.t("Prochain", "Next")) }
                        th { span.visually-hidden { (lang.t("Actions", "Actions")) } }
                    } }
                    tbody { @for s in &list { tr {
                        td { (frequency_label(lang, s.frequency)) }
                        td.target {
                            @if s.recipients.is_empty() {
                                (channels.iter().find(|c| c.id == s.channel_id).map(|c| clip(&c.target, 120)).unwrap_or_default())
                            } @else { (clip(&s.recipients, 120)) }
                        }
                        td { (Lang::parse(&s.lang).map_or(s.lang.as_str(), |l| language_name(lang, l.into()))) }
                        td {
                            (s.last_sent_at.map(|t| lang.datetime(t)).unwrap_or_else(|| "—".into()))
                            @if let Some(e) = &s.last_error { br; span.error-message { (clip(e, 200)) } }
                        }
                        td { (lang.date(next_send(s, now, crate::i18n::current_zone()))) }
                        td {
                            form.inline method="post" action={ "/p/" (pid) "/settings/reports/" (s.id) "/delete" }
                                data-confirm=(lang.t("Supprimer ce rapport programmé\u{202f}?", "Remove this scheduled report?")) {
                                (csrf_field(actor))
                                button.danger type="submit" { (lang.t("Supprimer", "Remove")) }
                            }
                        }
                    } } }
                } }
            }
            @if channels.is_empty() {
                p.notice { (lang.t(
                    "Ajoutez d'abord un canal e-mail (ci-dessus) : les rapports passent par lui.",
                    "Add an e-mail channel first (above): reports go through it."
                )) }
            } @else {
                details open[fe.refused()] {
                    summary { (lang.t("Programmer un rapport", "Schedule a report")) }
                    form.stack method="post" action={ "/p/" (pid) "/settings/reports" } {
                        (csrf_field(actor))
                        (fe.error(lang))
                        label { (lang.t("Fréquence", "Frequency"))
                            select name="frequency" aria-invalid=[fe.invalid("frequency")] aria-describedby=[fe.described("frequency")] {
                                option value="weekly" selected[fe.chose("frequency", "weekly", true)] { (frequency_label(lang, Frequency::Weekly)) }
                                option value="monthly" selected[fe.chose("frequency", "monthly", false)] { (frequency_label(lang, Frequency::Monthly)) }
                            }
                        }
                        label { (lang.t("Canal e-mail", "E-mail channel"))
                            select name="channel_id" aria-invalid=[fe.invalid("channel_id")] aria-describedby=[fe.described("channel_id")] {
                                @for c in &channels {
                                    @let id = c.id.to_string();
                                    option value=(id) selected[fe.chose("channel_id", &id, false)] { (clip(&c.target, 80)) }
                                }
                            }
                        }
                        label { (lang.t("Destinataires (vide : ceux du canal)", "Recipients (empty: the channel's)"))
                            input type="text" name="recipients" maxlength="5000" value=(fe.value("recipients", ""))
                                aria-invalid=[fe.invalid("recipients")] aria-describedby=[fe.described("recipients")]; }
                        (language_select(lang, fe, lang.t("Langue", "Language"), lang.into()))
                        button type="submit" { (lang.t("Programmer", "Schedule")) }
                    }
                }
            }
        }
    })
}

//! Routing rules: which department new mentions go to. Tried in order, the
//! first whose every set condition holds wins (see `vigie_pipeline::routing`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::{Extension, Form, Json};
use chrono::Utc;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vigie_model::{Polarity, Role, SourceKind};
use vigie_pipeline::routing::{describe_conditions, place_before_catch_alls};
use vigie_store::{NewRoutingRule, RoutingRule};

use super::{audit_change, form_done, form_id, json_body, msg};
use crate::auth::Actor;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::echo::Echo;
use crate::pages::{PageResult, created, csrf_field, polarity_label};
use crate::routes::Routes;
use crate::{Access, AppState};

/// Rules a project may have.
pub const MAX_RULES: usize = 200;

pub(super) fn routes(r: Routes) -> Routes {
    let viewer = Access::Project(Role::Viewer);
    let manager = Access::Project(Role::Manager);
    r.page(Method::POST, "/p/{pid}/settings/rules", manager, "Add a routing rule (form)", add_form)
        .page(Method::POST, "/p/{pid}/settings/rules/{id}/delete", manager, "Remove a routing rule (form)", delete_form)
        .page(
            Method::POST,
            "/p/{pid}/settings/rules/{id}/move",
            manager,
            "Move a routing rule up or down (form)",
            move_form,
        )
        .api(Method::GET, "/api/v1/projects/{pid}/rules", viewer, "Routing rules in the order they are tried", list_api)
        .api(
            Method::POST,
            "/api/v1/projects/{pid}/rules",
            manager,
            "Add a routing rule {theme, sentiment, watch_id, source_kind, department_id} (last, but before the catch-all rules at the end)",
            add_api,
        )
        .api(Method::DELETE, "/api/v1/projects/{pid}/rules/{id}", manager, "Remove a routing rule", delete_api)
        .api(
            Method::POST,
            "/api/v1/projects/{pid}/rules/{id}/move",
            manager,
            "Move a routing rule one place {direction: up|down} in the order rules are tried",
            move_api,
        )
}

fn back(pid: i64) -> String {
    format!("/p/{pid}/settings#rules")
}

pub(crate) fn rule_json(r: &RoutingRule) -> Value {
    json!({
        "id": r.id, "position": r.position, "theme": r.theme,
        "sentiment": r.sentiment.map(|s| s.as_str()), "watch_id": r.watch_id,
        "source_kind": r.source_kind.map(|k| k.as_str()), "department_id": r.department_id,
        "created_at": r.created_at.to_rfc3339(),
    })
}

/// A rule as given: conditions as text (empty: any), checked by [`check`].
#[derive(Debug, Deserialize, Serialize, Default)]
pub struct RuleInput {
    theme: Option<String>,
    sentiment: Option<String>,
    watch_id: Option<String>,
    source_kind: Option<String>,
    department_id: Option<String>,
}

/// The JSON form (ids as numbers).
#[derive(Debug, Deserialize)]
pub struct RuleBody {
    theme: Option<String>,
    sentiment: Option<String>,
    watch_id: Option<i64>,
    source_kind: Option<String>,
    department_id: Option<i64>,
}

fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty() && *v != "any")
}

async fn check(state: &AppState, pid: i64, input: &RuleInput, lang: Lang) -> Result<NewRoutingRule, ApiError> {
    let theme = match given(input.theme.as_deref()) {
        None => None,
        Some(key) => {
            let themes = state.store.list_themes(pid).await?;
            if !themes.iter().any(|t| t.key == key) {
                return Err(ApiError::invalid(msg(
                    lang,
                    format!("Le projet n'a pas de thème {key:?}."),
                    format!("the project has no theme {key:?}"),
                ))
                .for_field("theme"));
            }
            Some(key.to_string())
        }
    };
    let sentiment = given(input.sentiment.as_deref())
        .map(str::parse::<Polarity>)
        .transpose()
        .map_err(|e| ApiError::invalid(msg(lang, "Tonalité inconnue.".into(), e.to_string())).for_field("sentiment"))?;
    let source_kind = given(input.source_kind.as_deref()).map(str::parse::<SourceKind>).transpose().map_err(|e| {
        ApiError::invalid(msg(lang, "Type de source inconnu.".into(), e.to_string())).for_field("source_kind")
    })?;
    let watch_id =
        form_id(input.watch_id.as_deref(), ("La veille", "watch"), lang).map_err(|e| e.for_field("watch_id"))?;
    if let Some(id) = watch_id
        && !state.store.list_watches(pid).await?.iter().any(|w| w.id == id)
    {
        return Err(ApiError::invalid(msg(
            lang,
            format!("Le projet n'a pas de veille {id}."),
            format!("the project has no watch {id}"),
        ))
        .for_field("watch_id"));
    }
    let department_id = form_id(input.department_id.as_deref(), ("Le service", "department"), lang)
        .and_then(|id| {
            id.ok_or_else(|| {
                ApiError::invalid(lang.t(
                    "Choisissez le service auquel la règle envoie les mentions.",
                    "choose the department the rule sends mentions to (department_id)",
                ))
            })
        })
        .map_err(|e| e.for_field("department_id"))?;
    if !state.store.list_departments(pid).await?.iter().any(|d| d.id == department_id) {
        return Err(ApiError::invalid(msg(
            lang,
            format!("Le projet n'a pas de service {department_id}."),
            format!("the project has no department {department_id}"),
        ))
        .for_field("department_id"));
    }
    Ok(NewRoutingRule { theme, sentiment, watch_id, source_kind, department_id })
}

async fn add(state: &AppState, actor: &Actor, input: &RuleInput, lang: Lang) -> Result<RoutingRule, ApiError> {
    let pid = actor.project_id()?;
    let rule = check(state, pid, input, lang).await?;
    if state.store.list_rules(pid).await?.len() >= MAX_RULES {
        return Err(ApiError::conflict(msg(
            lang,
            format!("Un projet a au plus {MAX_RULES} règles de routage."),
            format!("a project has at most {MAX_RULES} routing rules"),
        )));
    }
    let added = state.store.add_rule(pid, rule, Utc::now()).await?;
    // Before the catch-all rules at the end, which would take its mentions first.
    let added = place_before_catch_alls(state.store.as_ref(), pid, added).await?;
    let department = department_name(state, pid, added.department_id).await?;
    audit_change(
        state,
        actor,
        Some(pid),
        "rule.add",
        format!("added rule #{} ({}) → {department}", added.position, describe_conditions(&added)),
    )
    .await?;
    Ok(added)
}

async fn department_name(state: &AppState, pid: i64, id: i64) -> Result<String, ApiError> {
    Ok(state
        .store
        .list_departments(pid)
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .map(|d| d.name)
        .unwrap_or(format!("#{id}")))
}

async fn remove(state: &AppState, actor: &Actor, id: i64, lang: Lang) -> Result<(), ApiError> {
    let pid = actor.project_id()?;
    let rule = state.store.list_rules(pid).await?.into_iter().find(|r| r.id == id).ok_or_else(|| {
        ApiError::not_found(msg(
            lang,
            format!("La règle {id} n'existe pas dans ce projet."),
            format!("no routing rule {id} in this project"),
        ))
    })?;
    state.store.remove_rule(pid, id).await?;
    let department = department_name(state, pid, rule.department_id).await?;
    audit_change(
        state,
        actor,
        Some(pid),
        "rule.remove",
        format!("removed rule #{} ({}) → {department}", rule.position, describe_conditions(&rule)),
    )
    .await
}

/// Moves a rule one place up or down; moving the first up (the last down)
/// changes nothing and says so.
async fn move_rule(
    state: &AppState,
    actor: &Actor,
    id: i64,
    direction: Option<&str>,
    lang: Lang,
) -> Result<(), ApiError> {
    let pid = actor.project_id()?;
    let up = match direction.map(str::trim) {
        Some("up") => true,
        Some("down") => false,
        other => {
            return Err(ApiError::invalid(msg(
                lang,
                format!("La direction doit être up ou down, pas {:?}.", other.unwrap_or("")),
                format!("direction must be up or down, not {:?}", other.unwrap_or("")),
            )));
        }
    };
    let rules = state.store.list_rules(pid).await?;
    let Some(rule) = rules.iter().find(|r| r.id == id) else {
        return Err(ApiError::not_found(msg(
            lang,
            format!("La règle {id} n'existe pas dans ce projet."),
            format!("no routing rule {id} in this project"),
        )));
    };
    if !state.store.move_rule(pid, id, up).await? {
        return Err(ApiError::invalid(msg(
            lang,
            format!("La règle n°\u{a0}{} est déjà la {}.", rule.position, if up { "première" } else { "dernière" }),
            format!("rule #{} is already the {}", rule.position, if up { "first" } else { "last" }),
        )));
    }
    audit_change(
        state,
        actor,
        Some(pid),
        "rule.move",
        format!("moved rule #{} ({}) {}", rule.position, describe_conditions(rule), if up { "up" } else { "down" }),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct MoveInput {
    direction: Option<String>,
}

async fn move_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
    Form(f): Form<MoveInput>,
) -> PageResult {
    let pid = actor.project_id()?;
    let result = move_rule(&state, &actor, id, f.direction.as_deref(), actor.lang).await;
    form_done(&state, &actor, result, &back(pid), &format!("rule-{id}"), &()).await
}

async fn move_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let b: MoveInput = json_body(&body)?;
    move_rule(&state, &actor, id, b.direction.as_deref(), Lang::En).await?;
    list_api(State(state), Extension(actor)).await
}

async fn list_api(State(state): State<AppState>, Extension(actor): Extension<Actor>) -> Result<Json<Value>, ApiError> {
    let list = state.store.list_rules(actor.project_id()?).await?;
    Ok(Json(json!({"items": list.iter().map(rule_json).collect::<Vec<_>>(), "next_cursor": null})))
}

async fn add_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    let b: RuleBody = json_body(&body)?;
    let input = RuleInput {
        theme: b.theme,
        sentiment: b.sentiment,
        watch_id: b.watch_id.map(|w| w.to_string()),
        source_kind: b.source_kind,
        department_id: b.department_id.map(|d| d.to_string()),
    };
    Ok(created(rule_json(&add(&state, &actor, &input, Lang::En).await?)))
}

async fn delete_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    remove(&state, &actor, id, Lang::En).await?;
    Ok(Json(json!({"removed": id})))
}

async fn add_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Form(f): Form<RuleInput>,
) -> PageResult {
    let pid = actor.project_id()?;
    let result = add(&state, &actor, &f, actor.lang).await.map(|_| ());
    form_done(&state, &actor, result, &back(pid), "rule-add", &f).await
}

async fn delete_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> PageResult {
    let pid = actor.project_id()?;
    let result = remove(&state, &actor, id, actor.lang).await;
    form_done(&state, &actor, result, &back(pid), &format!("rule-{id}"), &()).await
}

pub(super) async fn section(state: &AppState, actor: &Actor, echo: Option<&Echo>) -> Result<Markup, ApiError> {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let rules = state.store.list_rules(pid).await?;
    let departments = state.store.list_departments(pid).await?;
    let themes = crate::pages::themes_for(state, pid, lang).await?;
    let watches = state.store.list_watches(pid).await?;
    let can = actor.can(Role::Manager);
    let any = lang.t("(tous)", "(any)");
    let fe = Echo::on(echo, "rule-add");
    Ok(html! {
        section.card #rules {
            h2 { (lang.t("Règles de routage", "Routing rules")) }
            p.muted { (lang.t(
                "Les nouvelles mentions sont envoyées au service de la première règle dont toutes les conditions sont remplies.",
                "New mentions go to the department of the first rule whose every condition holds."
            )) }
            @if rules.is_empty() {
                p.muted { (lang.t("Aucune règle\u{a0}: les mentions restent nouvelles.", "No rule: mentions stay new.")) }
            } @else {
                div.table-wrap { table {
                    thead { tr {
                        th { "#" }
                        th { (lang.t("Thème", "Theme")) }
                        th { (lang.t("Tonalité", "Sentiment")) }
                        th { (lang.t("Veille", "Watch")) }
                        th { (lang.t("Type de source", "Source kind")) }
                        th { (lang.t("Service", "Department")) }
                        @if can { th { span.visually-hidden { (lang.t("Actions", "Actions")) } } }
                    } }
                    tbody {
                        @for (i, r) in rules.iter().enumerate() {
                            tr {
                                td.num { (r.position) }
                                td { @if let Some(key) = &r.theme {
                                    (themes.iter().find(|t| &t.key == key).map(|t| t.name.clone()).unwrap_or(key.clone()))
                                } @else { span.muted { (any) } } }
                                td { @if r.sentiment.is_some() { (polarity_label(lang, r.sentiment)) } @else { span.muted { (any) } } }
                                td { @if let Some(w) = r.watch_id {
                                    (watches.iter().find(|x| x.id == w).map(|x| x.name.clone()).unwrap_or(format!("#{w}")))
                                } @else { span.muted { (any) } } }
                                td { @if let Some(k) = r.source_kind { (lang.source_kind(k)) } @else { span.muted { (any) } } }
                                td { (departments.iter().find(|d| d.id == r.department_id).map(|d| crate::pages::dept(lang, &d.name).to_string()).unwrap_or(format!("#{}", r.department_id))) }
                                @if can {
                                    td.rule-actions {
                                        @for (up, shown, label) in [(true, "↑", lang.t("Monter la règle n°\u{a0}", "Move up rule #")), (false, "↓", lang.t("Descendre la règle n°\u{a0}", "Move down rule #"))] {
                                            @if (up && i > 0) || (!up && i + 1 < rules.len()) {
                                                form.inline method="post" action={ "/p/" (pid) "/settings/rules/" (r.id) "/move" } {
                                                    (csrf_field(actor))
                                                    input type="hidden" name="direction" value=(if up { "up" } else { "down" });
                                                    @let name = format!("{label}{}", r.position);
                                                    button.secondary type="submit" title=(name) aria-label=(name) { (shown) }
                                                }
                                                " "
                                            }
                                        }
                                        form.inline method="post" action={ "/p/" (pid) "/settings/rules/" (r.id) "/delete" }
                                            data-confirm=(lang.t("Supprimer cette règle\u{202f}?", "Remove this rule?")) {
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
            @if can && !departments.is_empty() {
                details open[fe.refused()] {
                    summary { (lang.t("Ajouter une règle (en dernier, avant les règles «\u{a0}toute mention\u{a0}» de la fin\u{a0}; déplacez-la ensuite avec ↑ ↓)", "Add a rule (last, before the catch-all rules at the end; move it with ↑ ↓)")) }
                    form.stack method="post" action={ "/p/" (pid) "/settings/rules" } {
                        (csrf_field(actor))
                        (fe.error(lang))
                        label { (lang.t("Thème", "Theme"))
                            select name="theme" aria-invalid=[fe.invalid("theme")] aria-describedby=[fe.described("theme")] {
                                option value="" { (any) }
                                @for t in &themes { option value=(t.key) selected[fe.chose("theme", &t.key, false)] { (t.name) " (" (t.key) ")" } }
                            }
                        }
                        label { (lang.t("Tonalité", "Sentiment"))
                            select name="sentiment" aria-invalid=[fe.invalid("sentiment")] aria-describedby=[fe.described("sentiment")] {
                                option value="" { (any) }
                                @for p in Polarity::ALL { option value=(p.as_str()) selected[fe.chose("sentiment", p.as_str(), false)] { (polarity_label(lang, Some(p))) } }
                            }
                        }
                        label { (lang.t("Veille", "Watch"))
                            select name="watch_id" aria-invalid=[fe.invalid("watch_id")] aria-describedby=[fe.described("watch_id")] {
                                option value="" { (any) }
                                @for w in &watches {
                                    @let id = w.id.to_string();
                                    option value=(id) selected[fe.chose("watch_id", &id, false)] { (w.name) }
                                }
                            }
                        }
                        label { (lang.t("Type de source", "Source kind"))
                            select name="source_kind" aria-invalid=[fe.invalid("source_kind")] aria-describedby=[fe.described("source_kind")] {
                                option value="" { (any) }
                                @for k in SourceKind::ALL { option value=(k.as_str()) selected[fe.chose("source_kind", k.as_str(), false)] { (lang.source_kind(k)) } }
                            }
                        }
                        label { (lang.t("Service", "Department"))
                            select name="department_id" required aria-invalid=[fe.invalid("department_id")] aria-describedby=[fe.described("department_id")] {
                                @for d in &departments {
                                    @let id = d.id.to_string();
                                    option value=(id) selected[fe.chose("department_id", &id, false)] { (crate::pages::dept(lang, &d.name)) }
                                }
                            }
                        }
                        button type="submit" { (lang.t("Ajouter", "Add")) }
                    }
                }
            }
        }
    })
}

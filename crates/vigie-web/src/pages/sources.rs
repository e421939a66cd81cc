//! Sources: health and coverage of each collection source (last success,
//! errors, publication-to-collection lag, volume). Sources are added with
//! `vigie source add` (the command checks each type's parameters).

use axum::extract::State;
use axum::http::Method;
use axum::{Extension, Json};
use chrono::{Duration, Utc};
use maud::html;
use serde_json::{Value, json};
use vigie_model::{Role, Source};
use vigie_store::SourceCoverage;

use super::{Nav, PageResult, clip, external_link, page};
use crate::auth::Actor;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::routes::Routes;
use crate::{Access, AppState};

pub fn routes(r: Routes) -> Routes {
    let viewer = Access::Project(Role::Viewer);
    r.page(Method::GET, "/p/{pid}/sources", viewer, "Sources page: health and coverage", sources_page).api(
        Method::GET,
        "/api/v1/projects/{pid}/sources",
        viewer,
        "Sources with their health and coverage over 24 hours",
        sources_api,
    )
}

async fn load(state: &AppState, pid: i64) -> Result<Vec<(Source, SourceCoverage)>, ApiError> {
    let sources = state.store.list_sources(pid).await?;
    let coverage = state.store.source_coverage(pid, Utc::now() - Duration::hours(24)).await?;
    Ok(sources
        .into_iter()
        .map(|s| {
            let c = coverage
                .iter()
                .find(|c| c.source_id == s.id)
                .cloned()
                .unwrap_or(SourceCoverage { source_id: s.id, ..Default::default() });
            (s, c)
        })
        .collect())
}

async fn sources_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> Result<Json<Value>, ApiError> {
    let rows = load(&state, actor.project_id()?).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|(s, c)| {
            json!({
                "id": s.id, "type": s.source_type.as_str(), "url": s.url, "health": s.health(),
                "interval_secs": s.interval_secs,
                "last_attempt_at": s.last_attempt_at.map(|t| t.to_rfc3339()),
                "last_success_at": s.last_success_at.map(|t| t.to_rfc3339()),
                "next_due_at": s.next_due_at.to_rfc3339(),
                "last_error": s.last_error, "last_warning": s.last_warning,
                "consecutive_failures": s.consecutive_failures, "quota_limited": s.quota_limited,
                "last_item_count": s.last_item_count, "total_stored": s.total_stored,
                "stored_24h": c.stored, "median_lag_secs": c.median_lag_secs,
            })
        })
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

fn health_label(lang: Lang, health: &str) -> &'static str {
    match health {
        "new" => lang.t("nouvelle", "new"),
        "ok" => lang.t("ok", "ok"),
        "warning" => lang.t("avertissement", "warning"),
        "error" => lang.t("erreur", "error"),
        "failing" => lang.t("en échec", "failing"),
        _ => lang.t("quota atteint", "quota-limited"),
    }
}

async fn sources_page(State(state): State<AppState>, Extension(actor): Extension<Actor>) -> PageResult {
    let lang = actor.lang;
    let rows = load(&state, actor.project_id()?).await?;
    let failing = rows.iter().filter(|(s, _)| matches!(s.health(), "error" | "failing" | "quota-limited")).count();
    let body = html! {
        h1 { (lang.t("Sources", "Sources")) }
        p.muted { (lang.t(
            "Ajoutez des sources avec « vigie source add » (flux RSS, Mastodon, Bluesky, Reddit, Hacker News, YouTube, pages HTML, résultats de recherche).",
            "Add sources with `vigie source add` (RSS feeds, Mastodon, Bluesky, Reddit, Hacker News, YouTube, HTML pages, search results)."
        )) }
        @if failing > 0 { p.error-message { (lang.number(failing as i64)) " " (lang.t("source(s) en erreur.", "source(s) failing.")) } }
        @if rows.is_empty() { p.muted { (lang.t("Aucune source.", "No source yet.")) } } @else {
            div.table-wrap { table {
                thead { tr {
                    th { (lang.t("Source", "Source")) } th { (lang.t("État", "Health")) }
                    th { (lang.t("Dernier succès", "Last success")) } th.num { (lang.t("Dernière collecte", "Last run")) }
                    th.num { (lang.t("Stockées 24 h", "Stored 24 h")) } th.num { (lang.t("Délai médian", "Median lag")) }
                    th.num { (lang.t("Total", "Total")) } th { (lang.t("Erreur ou avertissement", "Error or warning")) }
                } }
                tbody { @for (s, c) in &rows { tr {
                    td { span.badge { (s.source_type.as_str()) } " " (external_link(&s.url, &clip(&s.url, 60))) }
                    td { span class={ "badge health-" (s.health()) } { (health_label(lang, s.health())) } }
                    td { (s.last_success_at.map(|t| lang.datetime(t)).unwrap_or_else(|| "—".into())) }
                    td.num { (lang.number(s.last_item_count)) }
                    td.num { (lang.number(c.stored)) }
                    td.num { (c.median_lag_secs.map(|l| lang.duration(l)).unwrap_or_else(|| "—".into())) }
                    td.num { (lang.number(s.total_stored)) }
                    td { @if let Some(e) = &s.last_error { span.overdue { (clip(e, 200)) } " (" (s.consecutive_failures) "×)" }
                         @else if let Some(w) = &s.last_warning { (clip(w, 200)) } }
                } } }
            } }
        }
    };
    page(&state, &actor, Nav::Sources, lang.t("Sources", "Sources"), body).await
}

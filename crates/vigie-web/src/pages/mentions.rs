//! The mentions feed (filters, full-text search with highlighted matches,
//! cursor paging) and one mention's page (text, sentiment and its
//! explanation, themes, reach, the other mentions of its story, workflow
//! history), with the sentiment correction agents make.
//!
//! Paging is by store id (`cursor` = the last id shown; the next page asks
//! for ids below it), never by offset, so page 10,000 costs what page 1
//! costs. A search (`q`) pre-filters with the full-text index and confirms
//! each candidate with the watch matcher, examining at most
//! [`scan::MAX_EXAMINED`] candidates per request.

pub mod highlight;
pub mod scan;

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query as QueryParams, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use chrono::{DateTime, NaiveDate, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use vigie_model::{
    Analysis, InboxStatus, Language, Polarity, Role, SourceKind, Theme, Watch, WorkflowChange, WorkflowDetail,
};
use vigie_pipeline::routing::route_correction;
use vigie_query::Query;
use vigie_store::{MentionFilter, NewAudit, NewWorkflowEvent, StoredMention};

use self::highlight::{Field, Highlighter};
use super::{
    Nav, PageResult, clip, csrf_field, external_link, page, polarity_label, see_other, sentiment_badge, status_label,
    text_lang,
};
use crate::auth::Actor;
use crate::error::{ApiError, ErrorCode};
use crate::i18n::Lang;
use crate::routes::Routes;
use crate::{Access, AppState};

/// Mentions per page unless `limit` says otherwise.
pub const PAGE_SIZE: usize = 50;
/// Largest `limit` accepted.
pub const MAX_PAGE_SIZE: usize = 200;
/// Characters of text shown per mention in the feed.
pub const SNIPPET_CHARS: usize = 280;
/// Other mentions of a story listed on a mention's page.
const MAX_COPIES: usize = 50;

pub fn routes(r: Routes) -> Routes {
    r.page(
        Method::GET,
        "/p/{pid}/mentions",
        Access::Project(Role::Viewer),
        "Mentions feed: filters and search",
        feed_page,
    )
    .page(Method::GET, "/p/{pid}/mentions/{id}", Access::Project(Role::Viewer), "One mention", detail_page)
    .page(
        Method::POST,
        "/p/{pid}/mentions/{id}/sentiment",
        Access::Project(Role::Agent),
        "Correct a mention's sentiment (form)",
        correct_form,
    )
    .api(
        Method::GET,
        "/api/v1/projects/{pid}/mentions",
        Access::Project(Role::Viewer),
        "Mentions, filtered (watch, sentiment, theme, lang, source, site, from, to, status) or searched (q), \
             newest first, paged by cursor",
        feed_api,
    )
    .api(
        Method::GET,
        "/api/v1/projects/{pid}/mentions/{id}",
        Access::Project(Role::Viewer),
        "One mention with its analysis, story copies and workflow history",
        detail_api,
    )
    .api(
        Method::PUT,
        "/api/v1/projects/{pid}/mentions/{id}/sentiment",
        Access::Project(Role::Agent),
        "Correct a mention's sentiment: {\"label\": \"negative\"|\"neutral\"|\"positive\"|null}",
        correct_api,
    )
}

// ---------------------------------------------------------------------------
// Filters

/// The feed's query parameters, as typed (all optional; empty means unset).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FeedParams {
    pub watch: Option<String>,
    pub sentiment: Option<String>,
    pub theme: Option<String>,
    pub lang: Option<String>,
    pub source: Option<String>,
    pub site: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// The last `24h`, `7d`, `30d` or `90d` (as the overview's presets).
    pub period: Option<String>,
    pub status: Option<String>,
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

/// The filter parameters, in the order they are shown.
const FILTER_KEYS: [&str; 11] =
    ["q", "watch", "sentiment", "theme", "lang", "source", "site", "period", "from", "to", "status"];

impl FeedParams {
    /// Trimmed, with empty values unset.
    fn cleaned(self) -> Self {
        let c = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        FeedParams {
            watch: c(self.watch),
            sentiment: c(self.sentiment),
            theme: c(self.theme),
            lang: c(self.lang),
            source: c(self.source),
            site: c(self.site),
            from: c(self.from),
            to: c(self.to),
            period: c(self.period),
            status: c(self.status),
            q: c(self.q),
            cursor: c(self.cursor),
            limit: c(self.limit),
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "watch" => self.watch.as_deref(),
            "sentiment" => self.sentiment.as_deref(),
            "theme" => self.theme.as_deref(),
            "lang" => self.lang.as_deref(),
            "source" => self.source.as_deref(),
            "site" => self.site.as_deref(),
            "from" => self.from.as_deref(),
            "to" => self.to.as_deref(),
            "period" => self.period.as_deref(),
            "status" => self.status.as_deref(),
            "q" => self.q.as_deref(),
            "cursor" => self.cursor.as_deref(),
            "limit" => self.limit.as_deref(),
            _ => None,
        }
    }

    /// The filters that are set, as `(key, value)`.
    fn active(&self) -> Vec<(&'static str, &str)> {
        FILTER_KEYS.iter().filter_map(|k| self.get(k).map(|v| (*k, v))).collect()
    }
}

/// A feed request, checked.
pub struct Feed {
    pub filter: MentionFilter,
    pub query: Option<Query>,
    pub cursor: Option<i64>,
    pub limit: usize,
}

/// Why a feed request is refused.
#[derive(Debug, Clone)]
pub enum FeedError {
    Invalid(String),
    Query { message: String, column: Option<usize> },
}

impl FeedError {
    fn into_api(self) -> ApiError {
        match self {
            FeedError::Invalid(m) => ApiError::invalid(m),
            FeedError::Query { message, column } => query_error(message, column),
        }
    }
}

/// The API's answer to a query that does not parse: 400 `invalid_query`
/// with the 1-based column.
pub fn query_error(message: String, column: Option<usize>) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, message).with_details(json!({ "column": column }))
}

/// What is wrong with a query, in the reader's language (without the column,
/// which the answer carries apart).
pub fn query_message(e: &vigie_query::QueryError, lang: Lang) -> String {
    match lang {
        Lang::Fr => e.message_fr.clone(),
        Lang::En => e.message.clone(),
    }
}

fn parse_date(lang: Lang, what: &str, s: &str) -> Result<NaiveDate, FeedError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        FeedError::Invalid(format!(
            "{} {what}{} {s:?} ({})",
            lang.t("date invalide pour", "invalid date for"),
            lang.t("\u{a0}:", ":"),
            lang.t("attendu AAAA-MM-JJ", "expected YYYY-MM-DD")
        ))
    })
}

/// The start of a local day in the installation's zone.
fn midnight(d: NaiveDate) -> Option<DateTime<Utc>> {
    Some(vigie_model::zone::local_midnight(crate::i18n::current_zone(), d))
}

fn parse_feed(p: &FeedParams, lang: Lang) -> Result<Feed, FeedError> {
    let bad =
        |fr: &str, en: &str, v: &str| FeedError::Invalid(format!("{} {v:?}", if lang == Lang::Fr { fr } else { en }));
    let mut filter = MentionFilter::default();
    if let Some(w) = &p.watch {
        filter.watch_id = Some(w.parse().map_err(|_| bad("veille inconnue :", "unknown watch:", w))?);
    }
    if let Some(s) = &p.sentiment {
        if s == "unknown" {
            filter.sentiment_unknown = true;
        } else {
            filter.polarity = Some(s.parse::<Polarity>().map_err(|_| {
                bad(
                    "sentiment inconnu (negative, neutral, positive ou unknown) :",
                    "unknown sentiment (negative, neutral, positive or unknown):",
                    s,
                )
            })?);
        }
    }
    if let Some(t) = &p.theme {
        if t.chars().count() > 100 {
            return Err(bad("clé de thème trop longue :", "theme key too long:", &clip(t, 20)));
        }
        filter.theme = Some(t.clone());
    }
    if let Some(l) = &p.lang {
        let l = l.to_ascii_lowercase();
        if (l != "unknown" && !(2..=8).contains(&l.len())) || !l.chars().all(|c| c.is_ascii_alphabetic() || c == '-') {
            return Err(bad(
                "code de langue invalide (fr, en… ou unknown) :",
                "invalid language code (fr, en… or unknown):",
                &l,
            ));
        }
        filter.lang = Some(l);
    }
    if let Some(s) = &p.source {
        filter.source_kind = Some(s.parse::<SourceKind>().map_err(|_| {
            FeedError::Invalid(format!(
                "{} {s:?} ({})",
                lang.t("type de source inconnu :", "unknown source kind:"),
                SourceKind::names()
            ))
        })?);
    }
    if let Some(s) = &p.site {
        if s.chars().count() > 255 {
            return Err(bad("site trop long :", "site too long:", &clip(s, 20)));
        }
        // As sites are stored: lower case, without `www.`.
        let site = s.trim().to_lowercase();
        filter.site = Some(site.strip_prefix("www.").unwrap_or(&site).to_string());
    }
    let from = p.from.as_deref().map(|s| parse_date(lang, "from", s)).transpose()?;
    let to = p.to.as_deref().map(|s| parse_date(lang, "to", s)).transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(FeedError::Invalid(
            lang.t("la date de début est après la date de fin", "the start date is after the end date").to_string(),
        ));
    }
    filter.published_since = from.and_then(midnight);
    // `to` is inclusive: up to the end of that day.
    filter.published_until = to.and_then(|d| d.succ_opt()).and_then(midnight);
    if let Some(period) = &p.period {
        if from.is_some() || to.is_some() {
            return Err(FeedError::Invalid(
                lang.t("donnez une période ou des dates, pas les deux", "give a period or dates, not both").to_string(),
            ));
        }
        let hours = match period.as_str() {
            "24h" => 24,
            "7d" => 7 * 24,
            "30d" => 30 * 24,
            "90d" => 90 * 24,
            other => {
                return Err(bad(
                    "période inconnue (24h, 7d, 30d ou 90d) :",
                    "unknown period (24h, 7d, 30d or 90d):",
                    other,
                ));
            }
        };
        filter.published_since = Some(Utc::now() - chrono::Duration::hours(hours));
    }
    if let Some(s) = &p.status {
        filter.status = Some(s.parse::<InboxStatus>().map_err(|_| {
            bad(
                "statut inconnu (new, to_handle, assigned, answered, closed, ignored) :",
                "unknown status (new, to_handle, assigned, answered, closed, ignored):",
                s,
            )
        })?);
    }
    let query = match &p.q {
        Some(q) => Some(
            vigie_query::parse(q)
                .map_err(|e| FeedError::Query { message: query_message(&e, lang), column: e.column })?,
        ),
        None => None,
    };
    let cursor = match &p.cursor {
        Some(c) => Some(
            c.parse::<i64>()
                .ok()
                .filter(|c| *c > 0)
                .ok_or_else(|| bad("curseur invalide :", "invalid cursor:", &clip(c, 20)))?,
        ),
        None => None,
    };
    let limit =
        match &p.limit {
            Some(l) => l.parse::<usize>().ok().filter(|l| (1..=MAX_PAGE_SIZE).contains(l)).ok_or_else(|| {
                bad("limit doit être entre 1 et 200 :", "limit must be between 1 and 200:", &clip(l, 20))
            })?,
            None => PAGE_SIZE,
        };
    Ok(Feed { filter, query, cursor, limit })
}

/// One mention of a page.
pub struct Row {
    pub stored: StoredMention,
    /// The terms the search matched (with `q`).
    pub terms: Option<Vec<String>>,
    pub status: InboxStatus,
}

/// One page of the feed.
pub struct FeedPage {
    pub rows: Vec<Row>,
    pub next_cursor: Option<i64>,
    /// Candidates a search examined.
    pub examined: Option<u64>,
    /// The search stopped at its bound before filling the page.
    pub cut_short: bool,
}

async fn fetch(state: &AppState, pid: i64, feed: &Feed) -> Result<FeedPage, ApiError> {
    let (found, next_cursor, examined, cut_short) = match &feed.query {
        None => {
            let mut list = state.store.candidates(pid, None, &feed.filter, feed.cursor, feed.limit as i64 + 1).await?;
            let more = list.len() > feed.limit;
            list.truncate(feed.limit);
            let next = if more { list.last().map(|m| m.mention.id) } else { None };
            (list.into_iter().map(|m| (m, None)).collect::<Vec<_>>(), next, None, false)
        }
        Some(query) => {
            let page =
                scan::scan(&state.store, pid, query, &feed.filter, feed.cursor, feed.limit, scan::MAX_EXAMINED, |_| {
                    true
                })
                .await?;
            let rows = page.hits.into_iter().map(|(m, t)| (m, Some(t))).collect();
            (rows, page.next_cursor, Some(page.examined), page.cut_short)
        }
    };
    // One read for the statuses of the whole page.
    let statuses = match feed.filter.status {
        Some(_) => Default::default(),
        None => {
            let ids: Vec<i64> = found.iter().map(|(m, _)| m.mention.id).collect();
            state.store.inbox_statuses(pid, &ids).await?
        }
    };
    let rows = found
        .into_iter()
        .map(|(stored, terms)| {
            let status =
                feed.filter.status.or_else(|| statuses.get(&stored.mention.id).copied()).unwrap_or(InboxStatus::New);
            Row { stored, terms, status }
        })
        .collect();
    Ok(FeedPage { rows, next_cursor, examined, cut_short })
}

// ---------------------------------------------------------------------------
// JSON

pub fn sentiment_json(a: &Analysis) -> Value {
    let Some(label) = a.polarity() else { return Value::Null };
    let s = a.sentiment.as_ref();
    json!({
        "label": label.as_str(),
        "score": s.map(|s| s.score),
        "confidence": s.map(|s| s.confidence),
        "model": s.map(|s| s.model.as_str()),
        "verdict": s.map(|s| s.label.as_str()),
        "corrected": a.corrected.map(|p| p.as_str()),
        "explanation": s.map(|s| s.explanation.iter().map(|c| json!({"feature": c.feature, "weight": c.weight})).collect::<Vec<_>>()).unwrap_or_default(),
    })
}

/// A mention as the API answers it.
pub fn mention_json(
    m: &StoredMention,
    watch_names: &HashMap<i64, String>,
    terms: Option<&[String]>,
    status: InboxStatus,
) -> Value {
    let mm = &m.mention;
    let a = &mm.analysis;
    let mut v = json!({
        "id": mm.id,
        "url": mm.url,
        "title": mm.title,
        "text": mm.text,
        "author": mm.author,
        "site": mm.site,
        "source": mm.source_kind.as_str(),
        "lang": mm.lang,
        "published_at": mm.published_at.to_rfc3339(),
        "collected_at": mm.collected_at.to_rfc3339(),
        "sentiment": sentiment_json(a),
        "themes": a.themes.iter().map(|t| json!({"theme": t.theme, "score": t.score})).collect::<Vec<_>>(),
        "reach": a.reach.as_ref().map(|r| json!({"audience": r.audience, "engagement": r.engagement, "score": r.score, "basis": r.basis})),
        "watches": m.matches.iter().filter_map(|w| watch_names.get(&w.watch_id)).collect::<Vec<_>>(),
        "status": status.as_str(),
        // The story (near-duplicate group) by its first mention: a copy's
        // differs from its own id.
        "story_id": a.story_id.unwrap_or(mm.id),
    });
    if let (Some(terms), Value::Object(map)) = (terms, &mut v) {
        map.insert("matched_terms".into(), json!(terms));
    }
    v
}

fn watch_names(watches: &[Watch]) -> HashMap<i64, String> {
    watches.iter().map(|w| (w.id, w.name.clone())).collect()
}

/// A JSON body, with a message saying what is wrong when it does not fit.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("the body is not the JSON expected: {e}")))
}

async fn feed_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    QueryParams(params): QueryParams<FeedParams>,
) -> Result<Json<Value>, ApiError> {
    let pid = actor.project_id()?;
    let params = params.cleaned();
    let feed = parse_feed(&params, Lang::En).map_err(FeedError::into_api)?;
    let found = fetch(&state, pid, &feed).await?;
    let names = watch_names(&state.store.list_watches(pid).await?);
    let items: Vec<Value> =
        found.rows.iter().map(|r| mention_json(&r.stored, &names, r.terms.as_deref(), r.status)).collect();
    let mut answer = json!({"items": items, "next_cursor": found.next_cursor.map(|c| c.to_string())});
    if let (Some(examined), Value::Object(map)) = (found.examined, &mut answer) {
        map.insert("examined".into(), json!(examined));
        map.insert("cut_short".into(), json!(found.cut_short));
    }
    Ok(Json(answer))
}

// ---------------------------------------------------------------------------
// The feed page

/// `/p/{pid}/mentions` with these parameters.
fn feed_url(pid: i64, pairs: &[(&str, &str)]) -> String {
    let mut url = format!("/p/{pid}/mentions");
    if !pairs.is_empty() {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        url.push('?');
        url.push_str(&s.finish());
    }
    url
}

/// The next page: the same filters, older than `cursor`.
fn older_url(pid: i64, active: &[(&str, &str)], cursor: i64) -> String {
    let cursor = cursor.to_string();
    let mut pairs = active.to_vec();
    pairs.push(("cursor", &cursor));
    feed_url(pid, &pairs)
}

/// A query and the caret line pointing at `column` (1-based, in characters)
/// of the line that holds it.
pub fn caret_lines(query: &str, column: usize) -> (String, String) {
    let mut remaining = column.saturating_sub(1);
    for line in query.split('\n') {
        let len = line.chars().count();
        if remaining <= len {
            return (line.to_string(), format!("{}^", " ".repeat(remaining)));
        }
        remaining -= len + 1;
    }
    let last = query.rsplit('\n').next().unwrap_or(query);
    (last.to_string(), format!("{}^", " ".repeat(last.chars().count())))
}

/// A query error: the message, and the query with a caret under the column.
pub fn query_error_markup(lang: Lang, query: &str, message: &str, column: Option<usize>) -> Markup {
    html! {
        div.error-message.query-error id=(QUERY_ERROR_ID) role="alert" {
            p {
                strong { (lang.t("Requête invalide : ", "Invalid query: ")) }
                (message)
                @if let Some(c) = column { " (" (lang.t("colonne", "column")) " " (c) ")" }
            }
            @if let Some(c) = column {
                @let (line, caret) = caret_lines(query, c);
                pre.query-caret { code { (line) "\n" (caret) } }
            }
        }
    }
}

struct Choices {
    watches: Vec<Watch>,
    themes: Vec<Theme>,
}

fn filter_label(lang: Lang, key: &str) -> &'static str {
    match key {
        "q" => lang.t("Recherche", "Search"),
        "watch" => lang.t("Veille", "Watch"),
        "sentiment" => lang.t("Sentiment", "Sentiment"),
        "theme" => lang.t("Thème", "Theme"),
        "lang" => lang.t("Langue", "Language"),
        "source" => lang.t("Source", "Source"),
        "site" => lang.t("Site", "Site"),
        "from" => lang.t("Du", "From"),
        "to" => lang.t("Au", "To"),
        "period" => lang.t("Période", "Period"),
        "status" => lang.t("Statut", "Status"),
        _ => "",
    }
}

fn filter_value(lang: Lang, choices: &Choices, key: &str, value: &str) -> String {
    match key {
        "watch" => value
            .parse::<i64>()
            .ok()
            .and_then(|id| choices.watches.iter().find(|w| w.id == id))
            .map(|w| w.name.clone())
            .unwrap_or_else(|| format!("{} {value}", lang.t("n°", "#"))),
        "sentiment" => value
            .parse::<Polarity>()
            .map(|p| polarity_label(lang, Some(p)).to_string())
            .unwrap_or_else(|_| if value == "unknown" { polarity_label(lang, None).into() } else { value.into() }),
        "theme" => choices.themes.iter().find(|t| t.key == value).map(|t| t.name.clone()).unwrap_or(value.into()),
        "status" => value.parse::<InboxStatus>().map(|s| status_label(lang, s).to_string()).unwrap_or(value.into()),
        "lang" if value == "unknown" => lang.t("inconnue", "unknown").into(),
        _ => value.to_string(),
    }
}

/// The id of a query error's message, which the field it is about points at
/// (`aria-describedby`).
pub const QUERY_ERROR_ID: &str = "query-error";

fn filter_form(lang: Lang, pid: i64, p: &FeedParams, choices: &Choices, query_error: bool) -> Markup {
    let sel = |key: &str, v: &str| p.get(key) == Some(v);
    html! {
        form.card.filters method="get" action={ "/p/" (pid) "/mentions" } role="search" {
            label.search {
                (lang.t("Recherche (langage des veilles)", "Search (watch query language)"))
                input type="search" name="q" value=(p.q.as_deref().unwrap_or("")) maxlength="10000"
                    aria-invalid=[query_error.then_some("true")] aria-describedby=[query_error.then_some(QUERY_ERROR_ID)]
                    placeholder=(lang.t("ex. livraison NEAR/3 retard* -\"offre d'emploi\"", "e.g. delivery NEAR/3 late* -\"job offer\""));
            }
            div.filter-grid {
                label { (lang.t("Veille", "Watch"))
                    select name="watch" {
                        option value="" { (lang.t("Toutes", "All")) }
                        @for w in &choices.watches { option value=(w.id) selected[sel("watch", &w.id.to_string())] { (w.name) } }
                    }
                }
                label { (lang.t("Sentiment", "Sentiment"))
                    select name="sentiment" {
                        option value="" { (lang.t("Tous", "All")) }
                        @for pol in Polarity::ALL { option value=(pol.as_str()) selected[sel("sentiment", pol.as_str())] { (polarity_label(lang, Some(pol))) } }
                        option value="unknown" selected[sel("sentiment", "unknown")] { (polarity_label(lang, None)) }
                    }
                }
                label { (lang.t("Thème", "Theme"))
                    select name="theme" {
                        option value="" { (lang.t("Tous", "All")) }
                        @for t in &choices.themes { option value=(t.key) selected[sel("theme", &t.key)] { (t.name) } }
                    }
                }
                label { (lang.t("Langue", "Language"))
                    input type="text" name="lang" value=(p.lang.as_deref().unwrap_or("")) maxlength="16" placeholder="fr, en, unknown";
                }
                label { (lang.t("Type de source", "Source kind"))
                    select name="source" {
                        option value="" { (lang.t("Tous", "All")) }
                        @for k in SourceKind::ALL { option value=(k.as_str()) selected[sel("source", k.as_str())] { (lang.source_kind(k)) } }
                    }
                }
                label { (lang.t("Site", "Site"))
                    input type="text" name="site" value=(p.site.as_deref().unwrap_or("")) maxlength="255" placeholder="www.exemple.fr";
                }
                label { (lang.t("Période", "Period"))
                    select name="period" {
                        option value="" { (lang.t("Toutes dates", "Any time")) }
                        @for (value, fr, en) in [("24h", "24 dernières heures", "Last 24 hours"), ("7d", "7 derniers jours", "Last 7 days"), ("30d", "30 derniers jours", "Last 30 days"), ("90d", "90 derniers jours", "Last 90 days")] {
                            option value=(value) selected[sel("period", value)] { (lang.t(fr, en)) }
                        }
                    }
                }
                label { (lang.t("Publiée du", "Published from"))
                    input type="date" name="from" value=(p.from.as_deref().unwrap_or(""));
                }
                label { (lang.t("au (inclus)", "to (inclusive)"))
                    input type="date" name="to" value=(p.to.as_deref().unwrap_or(""));
                }
                label { (lang.t("Statut", "Status"))
                    select name="status" {
                        option value="" { (lang.t("Tous", "All")) }
                        @for s in InboxStatus::ALL { option value=(s.as_str()) selected[sel("status", s.as_str())] { (status_label(lang, s)) } }
                    }
                }
            }
            div.actions {
                button type="submit" { (lang.t("Filtrer", "Filter")) }
                " "
                a href={ "/p/" (pid) "/mentions" } { (lang.t("Tout effacer", "Clear all")) }
            }
        }
    }
}

fn active_filters(lang: Lang, pid: i64, p: &FeedParams, choices: &Choices) -> Markup {
    let active = p.active();
    html! {
        @if !active.is_empty() {
            ul.active-filters aria-label=(lang.t("Filtres actifs", "Active filters")) {
                @for (key, value) in &active {
                    @let others: Vec<(&str, &str)> = active.iter().filter(|(k, _)| k != key).copied().collect();
                    li.badge {
                        (filter_label(lang, key)) " : " (filter_value(lang, choices, key, value)) " "
                        @let remove = format!("{}{}", lang.t("Retirer le filtre ", "Remove the filter "), filter_label(lang, key));
                        a href=(feed_url(pid, &others)) title=(remove) aria-label=(remove) { "×" }
                    }
                }
            }
        }
    }
}

fn themes_by_key(themes: &[Theme]) -> HashMap<&str, &str> {
    themes.iter().map(|t| (t.key.as_str(), t.name.as_str())).collect()
}

fn status_badge(lang: Lang, s: InboxStatus) -> Markup {
    html! { span class={ "badge status-" (s.as_str()) } { (status_label(lang, s)) } }
}

fn row_markup(lang: Lang, pid: i64, row: &Row, query: Option<&Query>, q: Option<&str>, choices: &Choices) -> Markup {
    let m = &row.stored.mention;
    let highlighter = match (query, &row.terms) {
        (Some(query), Some(terms)) => Highlighter::new(query, terms),
        _ => Highlighter::default(),
    };
    let themes = themes_by_key(&choices.themes);
    let mut detail = format!("/p/{pid}/mentions/{}", m.id);
    if let Some(q) = q {
        detail.push_str("?q=");
        detail.push_str(&url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>());
    }
    let watches: Vec<&str> = row
        .stored
        .matches
        .iter()
        .filter_map(|wm| choices.watches.iter().find(|w| w.id == wm.watch_id).map(|w| w.name.as_str()))
        .collect();
    html! {
        li.mention-row {
            article {
                h2.mention-title lang=(text_lang(m)) {
                    a href=(detail) {
                        @match &m.title {
                            Some(t) if !t.trim().is_empty() => (highlighter.render(&clip(t, 300), Field::Title)),
                            _ => (clip(&m.text, 100)),
                        }
                    }
                }
                p.mention-meta.muted {
                    @if let Some(site) = &m.site { a.site href=(feed_url(pid, &[("site", site)])) { (site) } " · " }
                    @if let Some(author) = &m.author { span.author { (clip(author, 80)) } " · " }
                    time datetime=(m.published_at.to_rfc3339()) { (lang.datetime(m.published_at)) }
                    " · " span.source { (lang.source_kind(m.source_kind)) }
                }
                p.mention-text lang=(text_lang(m)) { (highlighter.snippet(&m.text, Field::Text, SNIPPET_CHARS)) }
                p.mention-tags {
                    (sentiment_badge(lang, m.analysis.polarity())) " "
                    (status_badge(lang, row.status)) " "
                    @for t in &m.analysis.themes {
                        span.badge.theme { (themes.get(t.theme.as_str()).copied().unwrap_or(t.theme.as_str())) } " "
                    }
                    @for w in &watches { span.badge.watch { (w) } " " }
                    // A copy (syndicated, pasted elsewhere) says so and
                    // leads to its story's first mention.
                    @if let Some(story) = m.analysis.story_id.filter(|s| *s != m.id) {
                        a.badge.copy href={ "/p/" (pid) "/mentions/" (story) }
                            title=(lang.t("Même histoire qu'une mention antérieure : voir la première", "Same story as an earlier mention: see the first")) {
                            (lang.t("copie", "copy")) }
                        " "
                    }
                    @if let Some(url) = &m.url { (external_link(url, lang.t("Voir l'original ↗", "Original ↗"))) }
                }
                @if let Some(terms) = &row.terms {
                    @if !terms.is_empty() {
                        p.matched-terms.muted {
                            (lang.t("Termes trouvés : ", "Matched terms: "))
                            @for (i, t) in terms.iter().enumerate() { @if i > 0 { ", " } code { (t) } }
                        }
                    }
                }
            }
        }
    }
}

async fn feed_page(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    QueryParams(params): QueryParams<FeedParams>,
) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let params = params.cleaned();
    let choices =
        Choices { watches: state.store.list_watches(pid).await?, themes: super::themes_for(&state, pid, lang).await? };
    let (result, error) = match parse_feed(&params, lang) {
        Ok(feed) => {
            let found = fetch(&state, pid, &feed).await?;
            (Some((feed, found)), None)
        }
        Err(e) => (None, Some(e)),
    };
    let active = params.active();
    let title = lang.t("Mentions", "Mentions");
    let body = html! {
        h1 { (title) }
        (filter_form(lang, pid, &params, &choices, matches!(error, Some(FeedError::Query { .. }))))
        (active_filters(lang, pid, &params, &choices))
        @match &error {
            Some(FeedError::Query { message, column }) => (query_error_markup(lang, params.q.as_deref().unwrap_or(""), message, *column)),
            Some(FeedError::Invalid(message)) => p.error-message role="alert" { (message) },
            None => {}
        }
        @if let Some((feed, found)) = &result {
            @if found.rows.is_empty() {
                div.empty-state.card {
                    @if feed.cursor.is_some() {
                        p { (lang.t("Aucune mention plus ancienne.", "No older mention.")) }
                    } @else if active.is_empty() {
                        p { (lang.t(
                            "Aucune mention pour l'instant. Ajoutez des sources et des veilles : les mentions apparaîtront ici dès leur collecte.",
                            "No mention yet. Add sources and watches: mentions will appear here as soon as they are collected."
                        )) }
                    } @else {
                        p { (lang.t("Aucune mention ne correspond à ces filtres.", "No mention matches these filters.")) }
                    }
                    @if found.cut_short {
                        p.muted { (lang.t("La recherche s'est arrêtée après ", "The search stopped after "))
                            (lang.number(found.examined.unwrap_or(0) as i64)) (lang.t(" mentions examinées.", " mentions examined.")) }
                    }
                }
            } @else {
                ol.mentions {
                    @for row in &found.rows { (row_markup(lang, pid, row, feed.query.as_ref(), params.q.as_deref(), &choices)) }
                }
                @if found.cut_short {
                    p.muted.notice { (lang.t("La recherche s'est arrêtée après ", "The search stopped after "))
                        (lang.number(found.examined.unwrap_or(0) as i64))
                        (lang.t(" mentions examinées ; les suivantes sont sur la page suivante.", " mentions examined; more may be on the next page.")) }
                }
            }
            nav.pager aria-label=(lang.t("Pages", "Pages")) {
                @if feed.cursor.is_some() {
                    a href=(feed_url(pid, &active)) { (lang.t("← les plus récentes", "← newest")) }
                }
                @if let Some(next) = found.next_cursor {
                    a rel="next" href=(older_url(pid, &active, next)) { (lang.t("plus anciennes →", "older →")) }
                }
            }
        }
    };
    let mut response = page(&state, &actor, Nav::Mentions, title, body).await?;
    if error.is_some() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

// ---------------------------------------------------------------------------
// One mention

/// Everything a mention's page shows.
struct Detail {
    stored: StoredMention,
    watches: Vec<Watch>,
    themes: Vec<Theme>,
    copies: Vec<StoredMention>,
    inbox: Option<vigie_store::InboxItem>,
    events: Vec<vigie_store::WorkflowEvent>,
    departments: Vec<vigie_store::Department>,
    /// User id → display name, for the history and the assignee.
    users: HashMap<i64, String>,
}

impl Detail {
    fn status(&self) -> InboxStatus {
        self.inbox.as_ref().map(|i| i.status).unwrap_or(InboxStatus::New)
    }

    fn user(&self, id: Option<i64>, lang: Lang) -> String {
        match id {
            Some(id) => {
                self.users.get(&id).cloned().unwrap_or_else(|| format!("{} {id}", lang.t("utilisateur", "user")))
            }
            None => "Vigie".to_string(),
        }
    }
}

/// A mention with what its page shows; theme names for `lang`'s reader.
async fn load_detail(state: &AppState, pid: i64, id: i64, lang: Lang) -> Result<Detail, ApiError> {
    let stored =
        state.store.mention(pid, id).await?.ok_or_else(|| {
            ApiError::not_found(format!("no mention {id}")).with_french(format!("aucune mention {id}"))
        })?;
    let story = stored.mention.analysis.story_id.unwrap_or(id);
    let filter = MentionFilter { story_id: Some(story), ..MentionFilter::default() };
    let copies: Vec<StoredMention> = state
        .store
        .candidates(pid, None, &filter, None, MAX_COPIES as i64 + 1)
        .await?
        .into_iter()
        .filter(|m| m.mention.id != id)
        .take(MAX_COPIES)
        .collect();
    let inbox = state.store.inbox_item(pid, id).await?;
    let events = state.store.workflow_events(pid, id).await?;
    let mut users = HashMap::new();
    let ids = events.iter().filter_map(|e| e.user_id).chain(inbox.as_ref().and_then(|i| i.assignee_id));
    for uid in ids {
        if let std::collections::hash_map::Entry::Vacant(slot) = users.entry(uid)
            && let Some(u) = state.store.user(uid).await?
        {
            slot.insert(u.display_name);
        }
    }
    Ok(Detail {
        stored,
        watches: state.store.list_watches(pid).await?,
        themes: super::themes_for(state, pid, lang).await?,
        copies,
        inbox,
        events,
        departments: state.store.list_departments(pid).await?,
        users,
    })
}

fn detail_json(d: &Detail) -> Value {
    let names = watch_names(&d.watches);
    let a = &d.stored.mention.analysis;
    let mut v = mention_json(&d.stored, &names, None, d.status());
    if let Value::Object(map) = &mut v {
        map.insert(
            "themes".into(),
            json!(
                a.themes
                    .iter()
                    .map(|t| json!({"theme": t.theme, "score": t.score, "evidence": t.evidence}))
                    .collect::<Vec<_>>()
            ),
        );
        map.insert(
            "copies".into(),
            json!(
                d.copies
                    .iter()
                    .map(|c| json!({
                        "id": c.mention.id, "title": c.mention.title, "url": c.mention.url, "site": c.mention.site,
                        "published_at": c.mention.published_at.to_rfc3339(),
                    }))
                    .collect::<Vec<_>>()
            ),
        );
        map.insert(
            "inbox".into(),
            d.inbox.as_ref().map_or(Value::Null, |i| {
                json!({
                    "status": i.status.as_str(), "department_id": i.department_id, "assignee_id": i.assignee_id,
                    "entered_at": i.entered_at.to_rfc3339(), "due_at": i.due_at.map(|t| t.to_rfc3339()),
                    "first_response_at": i.first_response_at.map(|t| t.to_rfc3339()),
                    "closed_at": i.closed_at.map(|t| t.to_rfc3339()), "reply": i.reply, "reason": i.reason,
                })
            }),
        );
        map.insert(
            "history".into(),
            json!(
                d.events
                    .iter()
                    .map(|e| json!({
                        "at": e.at.to_rfc3339(), "user_id": e.user_id,
                        "user": e.user_id.and_then(|u| d.users.get(&u)), "action": e.action,
                        "detail": super::inbox::item::event_detail_json(e),
                        "reply": vigie_model::recorded_reply(&e.action, &e.detail),
                    }))
                    .collect::<Vec<_>>()
            ),
        );
    }
    v
}

async fn detail_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    // The API names themes as stored.
    let d = load_detail(&state, actor.project_id()?, id, Lang::En).await?;
    Ok(Json(detail_json(&d)))
}

#[derive(Deserialize, Default)]
pub struct DetailParams {
    q: Option<String>,
}

/// Width class (0–10) of a bar for `weight` against the largest one.
fn bar_class(weight: f32, max: f32) -> String {
    let step = if max > 0.0 { ((weight.abs() / max) * 10.0).round() as i64 } else { 0 };
    format!("w-{}", step.clamp(0, 10))
}

fn explanation_markup(lang: Lang, a: &Analysis) -> Markup {
    let Some(s) = &a.sentiment else { return html! {} };
    if s.explanation.is_empty() {
        return html! { p.muted { (lang.t("Le modèle ne donne pas d'explication pour ce verdict.", "The model gives no explanation for this verdict.")) } };
    }
    let max = s.explanation.iter().map(|c| c.weight.abs()).fold(0.0f32, f32::max);
    let mut negative: Vec<_> = s.explanation.iter().filter(|c| c.weight < 0.0).collect();
    let mut positive: Vec<_> = s.explanation.iter().filter(|c| c.weight > 0.0).collect();
    negative.sort_by(|a, b| a.weight.total_cmp(&b.weight));
    positive.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    let list = |title: &str, items: &[&vigie_model::Contribution], class: &str| {
        html! {
            div.contributions {
                h3 { (title) }
                @if items.is_empty() { p.muted { "—" } } @else {
                    table.explanation {
                        tbody {
                            @for c in items.iter().take(12) {
                                tr {
                                    td.feature { (clip(&lang.model_label(&c.feature), 60)) }
                                    td.bar-cell { span class={ "bar " (class) " " (bar_class(c.weight, max)) } {} }
                                    td.num { (lang.decimal(&format!("{:+.2}", c.weight))) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html! {
        div.explanation-lists {
            (list(lang.t("Vers le négatif", "Pushing negative"), &negative, "neg"))
            (list(lang.t("Vers le positif", "Pushing positive"), &positive, "pos"))
        }
    }
}

async fn detail_page(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
    QueryParams(params): QueryParams<DetailParams>,
) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let d = load_detail(&state, pid, id, lang).await?;
    let m = &d.stored.mention;
    let a = &m.analysis;
    // Coming from a search: its terms are marked here too.
    let q = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let highlighter = q
        .and_then(|q| vigie_query::parse(q).ok())
        .and_then(|query| query.matches(&vigie_pipeline::document(m)).map(|terms| Highlighter::new(&query, &terms)))
        .unwrap_or_default();
    let themes = themes_by_key(&d.themes);
    let watches: Vec<&Watch> =
        d.stored.matches.iter().filter_map(|wm| d.watches.iter().find(|w| w.id == wm.watch_id)).collect();
    let title = match &m.title {
        Some(t) if !t.trim().is_empty() => clip(t, 120),
        _ => format!("{} {}", lang.t("Mention n°", "Mention #"), m.id),
    };
    let status = d.status();
    // A review or post read from a page without a link of its own: the page
    // it was read on, where a person can find it to answer.
    let read_on = match (&m.url, d.stored.source_id) {
        (None, Some(sid)) => state
            .store
            .source(pid, sid)
            .await?
            .filter(|s| s.source_type == vigie_model::SourceType::Html)
            .and_then(|s| url::Url::parse(&s.url).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(|mut u| {
                // A login the source needs stays with the source.
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.to_string()
            }),
        _ => None,
    };
    let body = html! {
        p.back { a href={ "/p/" (pid) "/mentions" } { (lang.t("← Toutes les mentions", "← All mentions")) } }
        article.card.mention-detail {
            @match &m.title {
                Some(t) if !t.trim().is_empty() => h1 lang=(text_lang(m)) { (highlighter.render(t, Field::Title)) },
                _ => h1 { (title) },
            }
            p.mention-tags {
                (sentiment_badge(lang, a.polarity())) " " (status_badge(lang, status)) " "
                @for w in &watches { a.badge.watch href={ "/p/" (pid) "/mentions?watch=" (w.id) } { (w.name) } " " }
            }
            dl.facts {
                dt { (lang.t("Lien", "Link")) }
                dd { @match (&m.url, &read_on) {
                    (Some(url), _) => (external_link(url, &clip(url, 120))),
                    (None, Some(page)) => { span.muted { (lang.t("lue sur la page ", "read on the page ")) } (external_link(page, &clip(page, 120))) },
                    (None, None) => span.muted { "—" },
                } }
                dt { (lang.t("Auteur", "Author")) } dd { (m.author.as_deref().unwrap_or("—")) }
                dt { (lang.t("Site", "Site")) } dd { (m.site.as_deref().unwrap_or("—")) }
                dt { (lang.t("Type de source", "Source kind")) } dd { (lang.source_kind(m.source_kind)) }
                dt { (lang.t("Publiée", "Published")) } dd { time datetime=(m.published_at.to_rfc3339()) { (lang.datetime(m.published_at)) } }
                dt { (lang.t("Collectée", "Collected")) } dd { time datetime=(m.collected_at.to_rfc3339()) { (lang.datetime(m.collected_at)) } }
                dt { (lang.t("Langue", "Language")) }
                dd { (m.lang.as_deref().unwrap_or(lang.t("inconnue", "unknown")))
                    @if m.lang.is_some() && m.lang_confidence < 1.0 { " " span.muted { "(" (lang.percent(f64::from(m.lang_confidence))) ")" } } }
                dt { (lang.t("Portée", "Reach")) }
                dd {
                    @match &a.reach {
                        Some(r) => {
                            (format!("{:.0}", r.score)) "/100 · "
                            (lang.number(r.audience.min(i64::MAX as u64) as i64)) " " (lang.t("personnes", "people")) " · "
                            (lang.number(r.engagement.min(i64::MAX as u64) as i64)) " " (lang.t("interactions", "interactions"))
                            " " span.muted { "(" (lang.model_label(&r.basis)) ")" }
                        }
                        None => span.muted { (lang.t("non estimée", "not estimated")) },
                    }
                }
            }
            div.mention-text lang=(text_lang(m)) {
                @for para in m.text.split('\n').map(str::trim).filter(|p| !p.is_empty()) {
                    p { (highlighter.render(para, Field::Text)) }
                }
            }
        }
        section.card.sentiment {
            h2 { (lang.t("Sentiment", "Sentiment")) }
            dl.facts {
                dt { (lang.t("Retenu", "Shown")) } dd { (sentiment_badge(lang, a.polarity())) }
                @if let Some(s) = &a.sentiment {
                    dt { (lang.t("Verdict du modèle", "Model verdict")) }
                    dd { (polarity_label(lang, Some(s.label))) " · " (lang.t("score", "score")) " " (lang.decimal(&format!("{:+.2}", s.score)))
                        " · " (lang.t("confiance", "confidence")) " " (lang.percent(f64::from(s.confidence))) }
                    dt { (lang.t("Modèle", "Model")) } dd { code { (s.model) } }
                }
                dt { (lang.t("Correction", "Correction")) }
                dd { @match a.corrected {
                    Some(c) => { (polarity_label(lang, Some(c))) " " span.muted { (lang.t("(corrigé par une personne)", "(corrected by a person)")) } }
                    None => span.muted { (lang.t("aucune", "none")) },
                } }
            }
            (explanation_markup(lang, a))
            @if actor.can(Role::Agent) {
                form.stack.correction method="post" action={ "/p/" (pid) "/mentions/" (m.id) "/sentiment" } {
                    (csrf_field(&actor))
                    label { (lang.t("Corriger le sentiment", "Correct the sentiment"))
                        select name="label" {
                            option value="" selected[a.corrected.is_none()] { (lang.t("— verdict du modèle —", "— the model's verdict —")) }
                            @for p in Polarity::ALL { option value=(p.as_str()) selected[a.corrected == Some(p)] { (polarity_label(lang, Some(p))) } }
                        }
                    }
                    button type="submit" { (lang.t("Enregistrer", "Save")) }
                }
            }
        }
        section.card.themes {
            h2 { (lang.t("Thèmes", "Themes")) }
            @if a.themes.is_empty() { p.muted { (lang.t("Aucun thème reconnu.", "No theme recognised.")) } } @else {
                div.table-wrap { table {
                    thead { tr { th { (lang.t("Thème", "Theme")) } th.num { (lang.t("Score", "Score")) } th { (lang.t("Indices", "Evidence")) } } }
                    tbody { @for t in &a.themes { tr {
                        td { a href={ "/p/" (pid) "/mentions?theme=" (url::form_urlencoded::byte_serialize(t.theme.as_bytes()).collect::<String>()) } {
                            (themes.get(t.theme.as_str()).copied().unwrap_or(t.theme.as_str())) } }
                        td.num { (lang.percent(f64::from(t.score))) }
                        td { @for (i, e) in t.evidence.iter().enumerate() { @if i > 0 { ", " } code { (lang.model_label(e)) } } }
                    } } }
                } }
            }
        }
        section.card.story {
            h2 { (lang.t("Même histoire", "Same story")) }
            @if d.copies.is_empty() {
                p.muted { (lang.t("Aucune autre mention de cette histoire.", "No other mention of this story.")) }
            } @else {
                p { (lang.number(d.copies.len() as i64)) @if d.copies.len() >= MAX_COPIES { "+" } " "
                    @if d.copies.len() == 1 {
                        (lang.t("autre mention reprend ce contenu :", "other mention carries this content:"))
                    } @else {
                        (lang.t("autres mentions reprennent ce contenu :", "other mentions carry this content:"))
                    } }
                ul.copies { @for c in &d.copies { li {
                    a href={ "/p/" (pid) "/mentions/" (c.mention.id) } lang=(text_lang(&c.mention)) {
                        (c.mention.title.as_deref().filter(|t| !t.trim().is_empty()).map(|t| clip(t, 120)).unwrap_or_else(|| clip(&c.mention.text, 120)))
                    }
                    " " span.muted { (c.mention.site.as_deref().unwrap_or("")) " · " (lang.datetime(c.mention.published_at)) }
                    @if Some(c.mention.id) == a.story_id { " " span.badge { (lang.t("première", "first")) } }
                } } }
            }
        }
        div.card #workflow {
            h2 { (lang.t("Traitement", "Handling")) }
            dl.facts {
                dt { (lang.t("Statut", "Status")) } dd { (status_badge(lang, status)) }
                @if let Some(item) = &d.inbox {
                    dt { (lang.t("Service", "Department")) }
                    dd { (item.department_id.and_then(|id| d.departments.iter().find(|x| x.id == id)).map_or("—", |x| crate::pages::dept(lang, &x.name))) }
                    dt { (lang.t("Assigné à", "Assigned to")) }
                    dd { @if item.assignee_id.is_some() { (d.user(item.assignee_id, lang)) } @else { "—" } }
                    @if let Some(due) = item.due_at { dt { (lang.t("Échéance", "Due")) } dd { (lang.datetime(due)) } }
                    @if let Some(t) = item.first_response_at { dt { (lang.t("Première réponse", "First response")) } dd { (lang.datetime(t)) } }
                    @if let Some(reply) = &item.reply { dt { (lang.t("Réponse", "Reply")) } dd.reply { (reply) } }
                    @if let Some(reason) = &item.reason {
                        dt { (lang.t("Motif", "Reason")) }
                        dd { (crate::pages::inbox::item::reason_text(lang, reason, &d.events)) }
                    }
                }
            }
            h3 { (lang.t("Historique", "History")) }
            @if d.events.is_empty() { p.muted { (lang.t("Aucun événement.", "No event yet.")) } } @else {
                @let theme_names: HashMap<String, String> = d.themes.iter().map(|t| (t.key.clone(), t.name.clone())).collect();
                ol.history { @for e in &d.events { li {
                    time datetime=(e.at.to_rfc3339()) { (lang.datetime(e.at)) } " · "
                    strong { (d.user(e.user_id, lang)) } " · " span.badge { (super::inbox::item::event_label(lang, &e.action)) } " " (super::inbox::item::event_detail(lang, e, &theme_names))
                    @if let Some(reply) = vigie_model::recorded_reply(&e.action, &e.detail) { blockquote.reply { (reply) } }
                } } }
            }
            p { a href={ "/p/" (pid) "/inbox/" (m.id) } { (lang.t("Traiter cette mention →", "Handle this mention →")) } }
        }
    };
    page(&state, &actor, Nav::Mentions, &title, body).await
}

// ---------------------------------------------------------------------------
// Sentiment correction

/// Records the correction (or its removal), its workflow event and audit
/// entry. Returns the mention as it is now.
async fn correct(
    state: &AppState,
    actor: &Actor,
    pid: i64,
    id: i64,
    label: Option<Polarity>,
) -> Result<StoredMention, ApiError> {
    let stored =
        state.store.mention(pid, id).await?.ok_or_else(|| {
            ApiError::not_found(format!("no mention {id}")).with_french(format!("aucune mention {id}"))
        })?;
    let a = &stored.mention.analysis;
    if a.corrected == label {
        return Ok(stored);
    }
    let before = a.polarity();
    let after = label.or(a.sentiment.as_ref().map(|s| s.label));
    let now = Utc::now();
    if !state.store.correct_sentiment(pid, id, label, now).await? {
        return Err(ApiError::not_found(format!("no mention {id}")).with_french(format!("aucune mention {id}")));
    }
    let change = WorkflowDetail::new(WorkflowChange::Sentiment { from: before, to: after, removed: label.is_none() });
    // The audit log keeps its English text.
    let detail = change.render(Language::En);
    let mut event = NewWorkflowEvent { user_id: actor.user_id(), action: "sentiment".into(), detail: change.encode() };
    // Made with a token: the history names it, as the inbox's own events do.
    crate::pages::inbox::item::by_token(actor, &mut event);
    state.store.add_workflow_event(pid, id, event, now).await?;
    state
        .store
        .audit(
            NewAudit {
                project_id: Some(pid),
                user_id: actor.user_id(),
                action: "mention.sentiment".into(),
                detail: format!("{} corrected mention {id}: {detail}", actor.name()),
            },
            now,
        )
        .await?;
    route_correction(state.store.as_ref(), pid, &stored, after, actor.user_id(), now).await?;
    vigie_pipeline::alerts::alert_correction(state.store.as_ref(), pid, &stored, after, now).await?;
    state
        .store
        .mention(pid, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no mention {id}")).with_french(format!("aucune mention {id}")))
}

fn parse_label(s: Option<&str>) -> Result<Option<Polarity>, ApiError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse::<Polarity>().map(Some).map_err(|e| ApiError::invalid(e.to_string())),
    }
}

#[derive(Deserialize)]
pub struct CorrectionForm {
    label: Option<String>,
}

async fn correct_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
    Form(form): Form<CorrectionForm>,
) -> PageResult {
    let pid = actor.project_id()?;
    let label = parse_label(form.label.as_deref())?;
    correct(&state, &actor, pid, id, label).await?;
    Ok(see_other(&format!("/p/{pid}/mentions/{id}")))
}

async fn correct_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let pid = actor.project_id()?;
    let body: Value = json_body(&body)?;
    let label = match body.get("label") {
        None => {
            return Err(ApiError::invalid("the body needs `label`: \"negative\", \"neutral\", \"positive\" or null"));
        }
        Some(Value::Null) => None,
        Some(Value::String(s)) => parse_label(Some(s))?,
        Some(_) => return Err(ApiError::invalid("`label` must be a string or null")),
    };
    let stored = correct(&state, &actor, pid, id, label).await?;
    let names = watch_names(&state.store.list_watches(pid).await?);
    let status = state.store.inbox_item(pid, id).await?.map(|i| i.status).unwrap_or(InboxStatus::New);
    Ok(Json(mention_json(&stored, &names, None, status)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carets_point_at_the_column_of_its_line() {
        assert_eq!(caret_lines("(a OR b", 8), ("(a OR b".to_string(), "       ^".to_string()));
        assert_eq!(caret_lines("a\nb OR", 3), ("b OR".to_string(), "^".to_string()));
        assert_eq!(caret_lines("é)", 2), ("é)".to_string(), " ^".to_string()));
    }

    #[test]
    fn filters_are_checked_and_days_are_inclusive() {
        let p = FeedParams {
            from: Some("2026-01-02".into()),
            to: Some("2026-01-02".into()),
            lang: Some("FR".into()),
            ..FeedParams::default()
        };
        let feed = parse_feed(&p.cleaned(), Lang::En).unwrap_or_else(|_| panic!("valid"));
        assert_eq!(feed.filter.published_since.map(|t| t.to_rfc3339()).as_deref(), Some("2026-01-02T00:00:00+00:00"));
        assert_eq!(feed.filter.published_until.map(|t| t.to_rfc3339()).as_deref(), Some("2026-01-03T00:00:00+00:00"));
        assert_eq!(feed.filter.lang.as_deref(), Some("fr"));
        let bad = FeedParams { sentiment: Some("angry".into()), ..FeedParams::default() };
        assert!(matches!(parse_feed(&bad, Lang::En), Err(FeedError::Invalid(m)) if m.contains("angry")));
        let bad = FeedParams { q: Some("(a OR b".into()), ..FeedParams::default() };
        assert!(matches!(parse_feed(&bad, Lang::En), Err(FeedError::Query { column: Some(_), .. })));
        let bad = FeedParams { limit: Some("500".into()), ..FeedParams::default() };
        assert!(parse_feed(&bad, Lang::En).is_err());
    }
}

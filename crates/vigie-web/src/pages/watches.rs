//! Watches: the named boolean queries mentions are matched against. Listing
//! (with mention counts), creating, editing and deleting them, with a live
//! preview of what a query finds among stored mentions while it is typed.
//!
//! Saving a new query re-matches the stored mentions (the watch's old
//! matches are cleared, then `backfill_watch` runs), so the feed's watch
//! filter and the counts agree with the query at once; the watch's time
//! series are counted again from its new matches and its surge detectors
//! learn again from them. Every change writes the audit log.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query as QueryParams, State};
use axum::http::Method;
use axum::response::Response;
use axum::{Extension, Form, Json};
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_model::{Role, Watch};
use vigie_store::{MentionFilter, NewAudit, NewWatch};

use super::mentions::{json_body, query_error, query_error_markup, query_message, scan};
use super::{Nav, PageResult, clip, created, csrf_field, page, see_other};
use crate::auth::Actor;
use crate::error::{ApiError, ErrorCode};
use crate::i18n::Lang;
use crate::routes::Routes;
use crate::{Access, AppState};

/// Longest watch name.
pub const MAX_NAME_CHARS: usize = 100;
/// Most languages a watch may be restricted to.
pub const MAX_LANGS: usize = 20;
/// Mentions a preview shows at most.
pub const PREVIEW_MATCHES: usize = 10;
/// Stored mentions a preview examines at most.
pub const PREVIEW_SCAN: u64 = 20_000;

pub fn routes(r: Routes) -> Routes {
    r.page(
        Method::GET,
        "/p/{pid}/watches",
        Access::Project(Role::Viewer),
        "Watches and their mention counts",
        list_page,
    )
    .page(Method::POST, "/p/{pid}/watches", Access::Project(Role::Manager), "Create a watch (form)", create_form)
    .page(
        Method::GET,
        "/p/{pid}/watches/{id}",
        Access::Project(Role::Viewer),
        "One watch (edit form for managers)",
        edit_page,
    )
    .page(Method::POST, "/p/{pid}/watches/{id}", Access::Project(Role::Manager), "Save a watch (form)", update_form)
    .page(
        Method::POST,
        "/p/{pid}/watches/{id}/delete",
        Access::Project(Role::Manager),
        "Delete a watch (form)",
        delete_form,
    )
    .api(
        Method::GET,
        "/api/v1/projects/{pid}/watches",
        Access::Project(Role::Viewer),
        "Watches with their mention counts",
        list_api,
    )
    .api(
        Method::POST,
        "/api/v1/projects/{pid}/watches",
        Access::Project(Role::Manager),
        "Create a watch: {name, query, competitor?, langs?}; stored mentions are matched at once",
        create_api,
    )
    .api(
        Method::POST,
        "/api/v1/projects/{pid}/watches/preview",
        Access::Project(Role::Viewer),
        "Try a query on stored mentions (changes nothing): {query, langs?} → first matches",
        preview_api,
    )
    .api(Method::GET, "/api/v1/projects/{pid}/watches/{id}", Access::Project(Role::Viewer), "One watch", get_api)
    .api(
        Method::PUT,
        "/api/v1/projects/{pid}/watches/{id}",
        Access::Project(Role::Manager),
        "Change a watch (fields given replace the stored ones); a new query re-matches stored mentions",
        update_api,
    )
    .api(
        Method::DELETE,
        "/api/v1/projects/{pid}/watches/{id}",
        Access::Project(Role::Manager),
        "Delete a watch",
        delete_api,
    )
}

// ---------------------------------------------------------------------------
// Checking and saving

/// A watch as submitted, checked.
#[derive(Debug, Clone, PartialEq)]
struct WatchInput {
    name: String,
    query: String,
    competitor: bool,
    langs: Vec<String>,
}

/// Language codes as the pipeline stores them (`fr`, `en`, `gsw`…;
/// `vigie_nlp::normalize_lang_tag`), deduplicated.
fn parse_langs<'a>(items: impl IntoIterator<Item = &'a str>, lang: Lang) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for raw in items {
        if raw.trim().is_empty() {
            continue;
        }
        let Some(code) = vigie_nlp::normalize_lang_tag(raw) else {
            // Both languages: the API answers in the reader's.
            let given = clip(raw.trim(), 20);
            let (en, fr) = (
                format!("unknown language code: {given:?} (ISO codes: fr, en, de…)"),
                format!("code de langue inconnu : {given:?} (codes ISO : fr, en, de…)"),
            );
            return Err(match lang {
                Lang::Fr => ApiError::invalid(fr),
                Lang::En => ApiError::invalid(en).with_french(fr),
            });
        };
        if !out.contains(&code) {
            out.push(code);
        }
    }
    if out.len() > MAX_LANGS {
        return Err(ApiError::invalid(format!(
            "{} {MAX_LANGS}",
            lang.t("trop de langues ; au plus", "too many languages; at most")
        )));
    }
    Ok(out)
}

fn check(name: &str, query: &str, competitor: bool, langs: Vec<String>, lang: Lang) -> Result<WatchInput, ApiError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 {
        return Err(ApiError::invalid(lang.t("le nom est obligatoire", "the name is required")).for_field("name"));
    }
    if chars > MAX_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "{} {MAX_NAME_CHARS} {} ({chars})",
            lang.t("le nom doit avoir au plus", "the name must have at most"),
            lang.t("caractères", "characters")
        ))
        .for_field("name"));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            lang.t("le nom contient un caractère de contrôle", "the name has a control character"),
        )
        .for_field("name"));
    }
    // Newlines typed in the text area are spaces to the query language.
    let query = query.trim().replace("\r\n", "\n");
    vigie_query::parse(&query).map_err(|e| query_error(query_message(&e, lang), e.column))?;
    Ok(WatchInput { name: name.to_string(), query, competitor, langs })
}

async fn find(state: &AppState, pid: i64, id: i64) -> Result<Watch, ApiError> {
    state.store.list_watches(pid).await?.into_iter().find(|w| w.id == id).ok_or_else(|| {
        ApiError::not_found(format!("no watch {id} in this project"))
            .with_french(format!("aucune veille {id} dans ce projet"))
    })
}

/// Refuses a name another watch of the project has (ignoring case).
async fn check_name_free(
    state: &AppState,
    pid: i64,
    name: &str,
    except: Option<i64>,
    lang: Lang,
) -> Result<(), ApiError> {
    let watches = state.store.list_watches(pid).await?;
    if super::same_name_ignoring_case(watches.iter().map(|w| (w.id, w.name.as_str())), name, except).is_some() {
        return Err(ApiError::conflict(format!(
            "{} {name:?} {}",
            lang.t("une veille nommée", "a watch named"),
            lang.t("existe déjà dans ce projet", "already exists in this project")
        )));
    }
    Ok(())
}

async fn audit(state: &AppState, actor: &Actor, pid: i64, action: &str, detail: String) -> Result<(), ApiError> {
    state
        .store
        .audit(
            NewAudit {
                project_id: Some(pid),
                user_id: actor.user_id(),
                action: action.into(),
                detail: format!("{}: {detail}", actor.name()),
            },
            Utc::now(),
        )
        .await?;
    Ok(())
}

fn describe(w: &Watch) -> String {
    format!("query {:?}, competitor {}, langs [{}]", w.query, w.competitor, w.langs.join(","))
}

/// Adds the watch and matches it against the stored mentions; returns it
/// with how many mentions it matched.
async fn create(
    state: &AppState,
    actor: &Actor,
    pid: i64,
    input: WatchInput,
    lang: Lang,
) -> Result<(Watch, u64), ApiError> {
    check_name_free(state, pid, &input.name, None, lang).await?;
    let new = NewWatch { name: input.name, query: input.query, competitor: input.competitor, langs: input.langs };
    let watch = state.store.add_watch(pid, new, Utc::now()).await?;
    let matched = vigie_pipeline::backfill_watch(&state.store, pid, &watch).await?;
    audit(
        state,
        actor,
        pid,
        "watch.create",
        format!("created watch {:?} ({}); {matched} mentions matched", watch.name, describe(&watch)),
    )
    .await?;
    Ok((watch, matched))
}

/// Saves the watch; a new query or language list re-matches the stored
/// mentions (the count is returned then).
async fn update(
    state: &AppState,
    actor: &Actor,
    pid: i64,
    old: &Watch,
    input: WatchInput,
    lang: Lang,
) -> Result<(Watch, Option<u64>), ApiError> {
    if input.name != old.name {
        check_name_free(state, pid, &input.name, Some(old.id), lang).await?;
    }
    let watch = Watch {
        id: old.id,
        name: input.name,
        query: input.query,
        competitor: input.competitor,
        langs: input.langs,
        created_at: old.created_at,
    };
    if watch == *old {
        return Ok((watch, None));
    }
    state.store.update_watch(pid, &watch).await?;
    let rematch = watch.query != old.query || watch.langs != old.langs;
    let matched = if rematch {
        state.store.clear_matches(watch.id).await?;
        Some(vigie_pipeline::backfill_watch(&state.store, pid, &watch).await?)
    } else {
        None
    };
    let mut changes = Vec::new();
    if watch.name != old.name {
        changes.push(format!("name {:?} → {:?}", old.name, watch.name));
    }
    if watch.query != old.query {
        changes.push(format!("query {:?} → {:?}", old.query, watch.query));
    }
    if watch.competitor != old.competitor {
        changes.push(format!("competitor {} → {}", old.competitor, watch.competitor));
    }
    if watch.langs != old.langs {
        changes.push(format!("langs [{}] → [{}]", old.langs.join(","), watch.langs.join(",")));
    }
    let mut detail = format!("updated watch {} {:?}: {}", watch.id, old.name, changes.join("; "));
    if let Some(n) = matched {
        detail.push_str(&format!("; {n} mentions matched"));
    }
    audit(state, actor, pid, "watch.update", detail).await?;
    Ok((watch, matched))
}

async fn delete(state: &AppState, actor: &Actor, pid: i64, id: i64) -> Result<Watch, ApiError> {
    let watch = find(state, pid, id).await?;
    if !state.store.remove_watch(pid, &watch.name).await? {
        return Err(ApiError::not_found(format!("no watch {id} in this project"))
            .with_french(format!("aucune veille {id} dans ce projet")));
    }
    audit(
        state,
        actor,
        pid,
        "watch.delete",
        format!("deleted watch {} {:?} ({})", watch.id, watch.name, describe(&watch)),
    )
    .await?;
    Ok(watch)
}

/// Mentions matched per watch id.
async fn counts(state: &AppState, pid: i64, watches: &[Watch]) -> Result<HashMap<i64, i64>, ApiError> {
    let summary = state.store.summary(pid).await?;
    let by_name: HashMap<&str, i64> = summary.per_watch.iter().map(|r| (r.key.as_str(), r.count)).collect();
    Ok(watches.iter().map(|w| (w.id, by_name.get(w.name.as_str()).copied().unwrap_or(0))).collect())
}

// ---------------------------------------------------------------------------
// JSON

fn watch_json(w: &Watch, mentions: Option<i64>) -> Value {
    json!({
        "id": w.id, "name": w.name, "query": w.query, "competitor": w.competitor, "langs": w.langs,
        "created_at": w.created_at.to_rfc3339(), "mentions": mentions,
    })
}

async fn list_api(State(state): State<AppState>, Extension(actor): Extension<Actor>) -> Result<Json<Value>, ApiError> {
    let pid = actor.project_id()?;
    let watches = state.store.list_watches(pid).await?;
    let counts = counts(&state, pid, &watches).await?;
    let items: Vec<Value> = watches.iter().map(|w| watch_json(w, counts.get(&w.id).copied())).collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

async fn get_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let pid = actor.project_id()?;
    let watch = find(&state, pid, id).await?;
    let counts = counts(&state, pid, std::slice::from_ref(&watch)).await?;
    Ok(Json(watch_json(&watch, counts.get(&id).copied())))
}

/// `langs` in JSON: an array of codes, or one comma-separated string.
/// `lang`: the reader's, for the refusal (the API answers in it).
fn langs_from_json(v: Option<&Value>, lang: Lang) -> Result<Option<Vec<String>>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_langs(s.split(','), lang).map(Some),
        Some(Value::Array(items)) => {
            let mut codes = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => codes.push(s.as_str()),
                    _ => return Err(ApiError::invalid("`langs` must be an array of language codes")),
                }
            }
            parse_langs(codes, lang).map(Some)
        }
        Some(_) => Err(ApiError::invalid("`langs` must be an array of language codes")),
    }
}

fn string_field<'a>(body: &'a Value, key: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid(format!("`{key}` must be a string"))),
    }
}

fn bool_field(body: &Value, key: &str) -> Result<Option<bool>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::invalid(format!("`{key}` must be true or false"))),
    }
}

fn object(body: &[u8]) -> Result<Value, ApiError> {
    let v: Value = json_body(body)?;
    if !v.is_object() {
        return Err(ApiError::invalid("the body must be a JSON object"));
    }
    Ok(v)
}

async fn create_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let pid = actor.project_id()?;
    let body = object(&body)?;
    let name = string_field(&body, "name")?.ok_or_else(|| ApiError::invalid("the body needs `name`"))?;
    let query = string_field(&body, "query")?.ok_or_else(|| ApiError::invalid("the body needs `query`"))?;
    let competitor = bool_field(&body, "competitor")?.unwrap_or(false);
    let langs = langs_from_json(body.get("langs"), actor.lang)?.unwrap_or_default();
    let input = check(name, query, competitor, langs, Lang::En)?;
    let (watch, matched) = create(&state, &actor, pid, input, Lang::En).await?;
    let mut v = watch_json(&watch, Some(matched as i64));
    v["matched"] = json!(matched);
    Ok(created(v))
}

async fn update_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let pid = actor.project_id()?;
    let body = object(&body)?;
    let old = find(&state, pid, id).await?;
    let name = string_field(&body, "name")?.unwrap_or(&old.name).to_string();
    let query = string_field(&body, "query")?.unwrap_or(&old.query).to_string();
    let competitor = bool_field(&body, "competitor")?.unwrap_or(old.competitor);
    let langs = langs_from_json(body.get("langs"), actor.lang)?.unwrap_or_else(|| old.langs.clone());
    let input = check(&name, &query, competitor, langs, Lang::En)?;
    let (watch, matched) = update(&state, &actor, pid, &old, input, Lang::En).await?;
    let counts = counts(&state, pid, std::slice::from_ref(&watch)).await?;
    let mut v = watch_json(&watch, counts.get(&id).copied());
    v["matched"] = json!(matched);
    Ok(Json(v))
}

async fn delete_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let pid = actor.project_id()?;
    let watch = delete(&state, &actor, pid, id).await?;
    Ok(Json(json!({"deleted": true, "id": watch.id, "name": watch.name})))
}

async fn preview_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let pid = actor.project_id()?;
    let body = object(&body)?;
    let text = string_field(&body, "query")?.ok_or_else(|| ApiError::invalid("the body needs `query`"))?;
    let langs = langs_from_json(body.get("langs"), actor.lang)?.unwrap_or_default();
    let query = vigie_query::parse(text.trim()).map_err(|e| query_error(query_message(&e, actor.lang), e.column))?;
    let keep =
        |m: &vigie_store::StoredMention| langs.is_empty() || m.mention.lang.as_ref().is_some_and(|l| langs.contains(l));
    let page =
        scan::scan(&state.store, pid, &query, &MentionFilter::default(), None, PREVIEW_MATCHES, PREVIEW_SCAN, keep)
            .await?;
    let matches: Vec<Value> = page
        .hits
        .iter()
        .map(|(m, terms)| {
            let mm = &m.mention;
            json!({
                "id": mm.id, "title": mm.title.as_deref().map(|t| clip(t, 200)), "text": clip(&mm.text, 200),
                "site": mm.site, "published_at": mm.published_at.to_rfc3339(), "matched_terms": terms,
                // As the pages write dates: the installation's zone, the reader's language.
                "published": actor.lang.date(mm.published_at),
            })
        })
        .collect();
    Ok(Json(json!({
        "ok": true,
        "matches": matches,
        "scanned": page.examined,
        "more": page.next_cursor.is_some(),
        "cut_short": page.cut_short,
    })))
}

// ---------------------------------------------------------------------------
// Pages

/// What the form shows: the stored watch, or what was typed, and why it was
/// refused.
#[derive(Default)]
struct FormValues {
    name: String,
    query: String,
    competitor: bool,
    langs: String,
    error: Option<ApiError>,
}

impl FormValues {
    fn of(w: &Watch) -> Self {
        FormValues {
            name: w.name.clone(),
            query: w.query.clone(),
            competitor: w.competitor,
            langs: w.langs.join(", "),
            error: None,
        }
    }
}

fn watch_form(lang: Lang, actor: &Actor, pid: i64, action: &str, v: &FormValues, submit: &str) -> Markup {
    html! {
        form.card.stack.watch-form method="post" action=(action)
            data-preview={ "/api/v1/projects/" (pid) "/watches/preview" } data-mentions={ "/p/" (pid) "/mentions/" } {
            (csrf_field(actor))
            @if let Some(e) = &v.error {
                @if e.code == ErrorCode::InvalidQuery {
                    @let column = e.details.as_ref().and_then(|d| d.get("column")).and_then(Value::as_u64).map(|c| c as usize);
                    (query_error_markup(lang, &v.query, &e.message, column))
                } @else {
                    p.error-message role="alert" { (e.message) }
                }
            }
            @let at_fault = |field: &str| v.error.as_ref().is_some_and(|e| e.field == Some(field)).then_some("true");
            label { (lang.t("Nom", "Name"))
                input type="text" name="name" value=(v.name) required maxlength="100" aria-invalid=[at_fault("name")]; }
            label { (lang.t("Requête", "Query"))
                @let query_error = v.error.as_ref().is_some_and(|e| e.code == ErrorCode::InvalidQuery);
                textarea name="query" rows="4" required maxlength="10000" spellcheck="false" autocapitalize="off"
                    aria-invalid=[query_error.then_some("true")] aria-describedby=[query_error.then_some(super::mentions::QUERY_ERROR_ID)] { (v.query) } }
            p.help.muted {
                (lang.t("Exemples : ", "Examples: "))
                code { "acme OR @acme" } " · " code { "\"service client\" NEAR/5 (lent* OR injoignable)" } " · "
                code { "acme -\"offre d'emploi\" lang:fr" }
            }
            div.watch-preview aria-live="polite" {}
            label.checkbox {
                input type="checkbox" name="competitor" value="on" checked[v.competitor];
                (lang.t("Concurrent (compte dans la part de voix face aux autres veilles)", "Competitor (counts in share of voice against the other watches)"))
            }
            label { (lang.t("Langues (codes séparés par des virgules ; vide : toutes)", "Languages (comma-separated codes; empty: all)"))
                input type="text" name="langs" value=(v.langs) maxlength="200" placeholder="fr, en" aria-invalid=[at_fault("langs")]; }
            button type="submit" { (submit) }
        }
    }
}

async fn list_markup(state: &AppState, actor: &Actor, form: FormValues) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let watches = state.store.list_watches(pid).await?;
    let counts = counts(state, pid, &watches).await?;
    let status = form.error.as_ref().map(|e| e.code.status());
    let title = lang.t("Veilles", "Watches");
    let body = html! {
        h1 { (title) }
        @if watches.is_empty() {
            div.empty-state.card { p { (lang.t(
                "Aucune veille pour l'instant. Une veille est une requête (marque, produit, dirigeant…) : chaque mention collectée y est comparée.",
                "No watch yet. A watch is a query (brand, product, executive…): every collected mention is matched against it."
            )) } }
        } @else {
            div.table-wrap { table.watches {
                thead { tr {
                    th { (lang.t("Nom", "Name")) } th { (lang.t("Requête", "Query")) } th { (lang.t("Concurrent", "Competitor")) }
                    th { (lang.t("Langues", "Languages")) } th.num { (lang.t("Mentions", "Mentions")) }
                } }
                tbody { @for w in &watches { tr {
                    td { a href={ "/p/" (pid) "/watches/" (w.id) } { (w.name) } }
                    td { code.query { (clip(&w.query, 200)) } }
                    td { @if w.competitor { span.badge { (lang.t("concurrent", "competitor")) } } @else { span.muted { "—" } } }
                    td { @if w.langs.is_empty() { span.muted { (lang.t("toutes", "all")) } } @else { (w.langs.join(", ")) } }
                    td.num { a href={ "/p/" (pid) "/mentions?watch=" (w.id) } { (lang.number(counts.get(&w.id).copied().unwrap_or(0))) } }
                } } }
            } }
        }
        @if actor.can(Role::Manager) {
            h2 #new { (lang.t("Nouvelle veille", "New watch")) }
            (watch_form(lang, actor, pid, &format!("/p/{pid}/watches"), &form, lang.t("Créer la veille", "Create the watch")))
        }
    };
    let mut response = page(state, actor, Nav::Watches, title, body).await?;
    if let Some(status) = status {
        *response.status_mut() = status;
    }
    Ok(response)
}

async fn list_page(State(state): State<AppState>, Extension(actor): Extension<Actor>) -> PageResult {
    list_markup(&state, &actor, FormValues::default()).await
}

#[derive(Deserialize)]
pub struct WatchForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    query: String,
    competitor: Option<String>,
    #[serde(default)]
    langs: String,
}

impl WatchForm {
    fn values(&self, error: ApiError) -> FormValues {
        FormValues {
            name: self.name.clone(),
            query: self.query.clone(),
            competitor: self.competitor.is_some(),
            langs: self.langs.clone(),
            error: Some(error),
        }
    }

    /// The name and the query are checked first: their errors are the ones
    /// the person is told (with the query's column) when the languages are
    /// wrong too.
    fn input(&self, lang: Lang) -> Result<WatchInput, ApiError> {
        match parse_langs(self.langs.split(','), lang) {
            Ok(langs) => check(&self.name, &self.query, self.competitor.is_some(), langs, lang),
            Err(wrong) => {
                check(&self.name, &self.query, self.competitor.is_some(), Vec::new(), lang)?;
                Err(wrong.for_field("langs"))
            }
        }
    }
}

/// Errors the person can fix in the form (the rest are error pages).
fn fixable(e: &ApiError) -> bool {
    matches!(e.code, ErrorCode::InvalidRequest | ErrorCode::InvalidQuery | ErrorCode::Conflict)
}

async fn create_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Form(form): Form<WatchForm>,
) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let result = match form.input(lang) {
        Ok(input) => create(&state, &actor, pid, input, lang).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((watch, matched)) => Ok(see_other(&format!("/p/{pid}/watches/{}?matched={matched}", watch.id))),
        Err(e) if fixable(&e) => list_markup(&state, &actor, form.values(e)).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
pub struct EditParams {
    matched: Option<u64>,
}

async fn edit_markup(
    state: &AppState,
    actor: &Actor,
    watch: &Watch,
    form: FormValues,
    matched: Option<u64>,
) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let counts = counts(state, pid, std::slice::from_ref(watch)).await?;
    let status = form.error.as_ref().map(|e| e.code.status());
    let body = html! {
        p.back { a href={ "/p/" (pid) "/watches" } { (lang.t("← Toutes les veilles", "← All watches")) } }
        h1 { (watch.name) }
        @if let Some(n) = matched {
            p.notice role="status" { (lang.t("Veille enregistrée : ", "Watch saved: ")) (lang.number(n as i64))
                (lang.t(" mentions enregistrées y correspondent.", " stored mentions match it.")) }
        }
        p { a href={ "/p/" (pid) "/mentions?watch=" (watch.id) } {
            (lang.number(counts.get(&watch.id).copied().unwrap_or(0))) " " (lang.t("mentions : les voir →", "mentions: see them →")) } }
        @if actor.can(Role::Manager) {
            (watch_form(lang, actor, pid, &format!("/p/{pid}/watches/{}", watch.id), &form, lang.t("Enregistrer", "Save")))
            form.card.stack method="post" action={ "/p/" (pid) "/watches/" (watch.id) "/delete" }
                data-confirm=(lang.t("Supprimer cette veille et ses correspondances ?", "Delete this watch and its matches?")) {
                (csrf_field(actor))
                p.muted { (lang.t(
                    "Supprimer la veille efface ses correspondances ; les mentions restent.",
                    "Deleting the watch removes its matches; the mentions stay."
                )) }
                button.danger type="submit" { (lang.t("Supprimer la veille", "Delete the watch")) }
            }
        } @else {
            dl.facts.card {
                dt { (lang.t("Requête", "Query")) } dd { code.query { (watch.query) } }
                dt { (lang.t("Concurrent", "Competitor")) } dd { (if watch.competitor { lang.t("oui", "yes") } else { lang.t("non", "no") }) }
                dt { (lang.t("Langues", "Languages")) }
                dd { @if watch.langs.is_empty() { (lang.t("toutes", "all")) } @else { (watch.langs.join(", ")) } }
                dt { (lang.t("Créée le", "Created")) } dd { (lang.datetime(watch.created_at)) }
            }
        }
    };
    let mut response = page(state, actor, Nav::Watches, &watch.name, body).await?;
    if let Some(status) = status {
        *response.status_mut() = status;
    }
    Ok(response)
}

async fn edit_page(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
    QueryParams(params): QueryParams<EditParams>,
) -> PageResult {
    let pid = actor.project_id()?;
    let watch = find(&state, pid, id).await?;
    edit_markup(&state, &actor, &watch, FormValues::of(&watch), params.matched).await
}

async fn update_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
    Form(form): Form<WatchForm>,
) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let old = find(&state, pid, id).await?;
    let result = match form.input(lang) {
        Ok(input) => update(&state, &actor, pid, &old, input, lang).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((watch, Some(matched))) => Ok(see_other(&format!("/p/{pid}/watches/{}?matched={matched}", watch.id))),
        Ok((watch, None)) => Ok(see_other(&format!("/p/{pid}/watches/{}", watch.id))),
        Err(e) if fixable(&e) => edit_markup(&state, &actor, &old, form.values(e), None).await,
        Err(e) => Err(e.into()),
    }
}

async fn delete_form(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path((_, id)): Path<(i64, i64)>,
) -> PageResult {
    let pid = actor.project_id()?;
    delete(&state, &actor, pid, id).await?;
    Ok(see_other(&format!("/p/{pid}/watches")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_codes() {
        assert_eq!(
            parse_langs("fr, EN,,fr".split(','), Lang::En).map_err(|e| e.message),
            Ok(vec!["fr".into(), "en".into()])
        );
        assert_eq!(parse_langs(["fr-CA", "deu"], Lang::En).map_err(|e| e.message), Ok(vec!["fr".into(), "de".into()]));
        assert!(parse_langs(["xx"], Lang::En).is_err(), "well-formed, but no language");
        assert!(parse_langs(["<b>"], Lang::En).is_err());
    }

    #[test]
    fn names_and_queries_are_checked() {
        assert!(check("", "acme", false, vec![], Lang::En).is_err());
        assert!(check(&"x".repeat(101), "acme", false, vec![], Lang::En).is_err());
        let e = check("Acme", "(acme OR", false, vec![], Lang::En).err().map(|e| (e.code, e.details));
        assert!(matches!(e, Some((ErrorCode::InvalidQuery, Some(_)))), "{e:?}");
        assert_eq!(
            check(" Acme ", " acme ", true, vec![], Lang::En).map(|w| (w.name, w.query)).ok(),
            Some(("Acme".into(), "acme".into()))
        );
    }
}

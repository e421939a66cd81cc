//! The screens. Each module registers its routes (pages and their API
//! twins) and renders its HTML with maud, whose `(expr)` escapes everything;
//! `PreEscaped` is used only for markup Vigie itself made (the SVG charts,
//! whose labels the chart crate escapes).
//!
//! This module has what every page shares: the layout (navigation, project
//! switcher, language), the error page, safe links, small formatting helpers.

pub mod account;
pub mod alerts;
pub mod echo;
pub mod inbox;
pub mod mentions;
pub mod overview;
pub mod report;
pub mod settings;
pub mod sources;
pub mod watches;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use vigie_model::{InboxStatus, Polarity};
use vigie_store::Project;

use crate::auth::Actor;
use crate::error::{ApiError, ErrorCode};
use crate::i18n::Lang;
use crate::routes::Routes;
use crate::{Access, AppState};

/// Registers every page and API route.
pub fn routes(r: Routes) -> Routes {
    use axum::http::Method;
    let r = r
        .page(Method::GET, "/static/app.css", Access::Public, "Stylesheet", || async {
            asset("text/css; charset=utf-8", include_str!("../../assets/app.css"))
        })
        .page(Method::GET, "/static/app.js", Access::Public, "Script", || async {
            asset("text/javascript; charset=utf-8", include_str!("../../assets/app.js"))
        })
        .page(Method::GET, "/static/icon.svg", Access::Public, "Icon", || async {
            asset("image/svg+xml", include_str!("../../assets/icon.svg"))
        })
        // Asked for by browsers (and feed readers) whatever the page says.
        .page(Method::GET, "/favicon.ico", Access::Public, "Icon (the browsers' usual address)", || async {
            asset("image/svg+xml", include_str!("../../assets/icon.svg"))
        });
    let r = account::routes(r);
    let r = overview::routes(r);
    let r = report::routes(r);
    let r = mentions::routes(r);
    let r = inbox::routes(r);
    let r = alerts::routes(r);
    let r = watches::routes(r);
    let r = sources::routes(r);
    settings::routes(r)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        body,
    )
        .into_response()
}

/// A page handler's error: rendered as an HTML page with the message.
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError(e)
    }
}

impl From<vigie_store::StoreError> for PageError {
    fn from(e: vigie_store::StoreError) -> Self {
        PageError(e.into())
    }
}

/// Marks a response made from a [`PageError`]: the guard, which knows the
/// reader's language, renders it (see `auth::authorize`).
#[derive(Debug, Clone)]
pub struct PendingErrorPage(pub ApiError);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut response = error_page(&self.0, Lang::Fr);
        response.extensions_mut().insert(PendingErrorPage(self.0));
        response
    }
}

pub type PageResult = Result<Response, PageError>;

/// What an error page is titled: what its code means (a conflict is not an
/// invalid request).
pub fn error_title(code: ErrorCode, lang: Lang) -> &'static str {
    match code {
        ErrorCode::NotFound => lang.t("Introuvable", "Not found"),
        ErrorCode::Forbidden | ErrorCode::CsrfFailed => lang.t("Accès refusé", "Access denied"),
        ErrorCode::Unauthenticated => lang.t("Connexion requise", "Login required"),
        ErrorCode::RateLimited => lang.t("Trop de tentatives", "Too many attempts"),
        ErrorCode::Internal => lang.t("Erreur interne", "Internal error"),
        ErrorCode::InvalidRequest => lang.t("Requête invalide", "Invalid request"),
        ErrorCode::InvalidQuery => lang.t("Requête de recherche invalide", "Invalid query"),
        ErrorCode::Conflict => lang.t("Conflit", "Conflict"),
        ErrorCode::PayloadTooLarge => lang.t("Requête trop volumineuse", "Request too large"),
        ErrorCode::Unavailable => lang.t("Service indisponible", "Unavailable"),
    }
}

/// An error as a small HTML page (both languages: the reader's may be
/// unknown). Forms the person can fix are not answered with it but shown
/// again with the error (`echo`).
pub fn error_page(e: &ApiError, lang: Lang) -> Response {
    let title = error_title(e.code, lang);
    let body = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Vigie" }
                link rel="stylesheet" href="/static/app.css";
                link rel="icon" type="image/svg+xml" href="/static/icon.svg";
            }
            body.error-page {
                main {
                    h1 { (title) }
                    p.error-message data-code=(e.code.as_str()) { (e.message_in(lang)) }
                    p { a href="/" { (lang.t("Retour à l'accueil", "Back to the start page")) } }
                }
            }
        }
    };
    (e.code.status(), [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body.into_string()).into_response()
}

/// The answer for unknown paths.
pub async fn not_found(headers: HeaderMap, uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return ApiError::not_found(format!("nothing at {}", uri.path())).into_response();
    }
    let lang = Lang::from_accept(&headers);
    let e = ApiError::not_found(match lang {
        Lang::Fr => format!("rien à l'adresse {}", uri.path()),
        Lang::En => format!("nothing at {}", uri.path()),
    });
    error_page(&e, lang)
}

/// Which entry of the navigation is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Report,
    Mentions,
    Inbox,
    Alerts,
    Watches,
    Sources,
    Settings,
    Account,
}

/// A complete page: navigation for the actor's project, then `body`.
pub async fn page(state: &AppState, actor: &Actor, nav: Nav, title: &str, body: Markup) -> PageResult {
    let lang = actor.lang;
    let projects = visible_projects(state, actor).await?;
    let current = actor.project.as_ref();
    let entries: [(Nav, &str, &str); 8] = [
        (Nav::Overview, "overview", lang.t("Vue d'ensemble", "Overview")),
        (Nav::Report, "report", lang.t("Rapport", "Report")),
        (Nav::Mentions, "mentions", lang.t("Mentions", "Mentions")),
        (Nav::Inbox, "inbox", lang.t("À traiter", "Inbox")),
        (Nav::Alerts, "alerts", lang.t("Alertes", "Alerts")),
        (Nav::Watches, "watches", lang.t("Veilles", "Watches")),
        (Nav::Sources, "sources", lang.t("Sources", "Sources")),
        (Nav::Settings, "settings", lang.t("Réglages", "Settings")),
    ];
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(actor.csrf);
                title { (title) " · Vigie" }
                link rel="stylesheet" href="/static/app.css";
                link rel="icon" type="image/svg+xml" href="/static/icon.svg";
                script src="/static/app.js" defer {}
            }
            body {
                a.skip-link href="#main" { (lang.t("Aller au contenu", "Skip to content")) }
                header.top {
                    a.brand href="/" { "Vigie" }
                    @if let Some(p) = current {
                        nav.main aria-label=(lang.t("Navigation", "Navigation")) {
                            @for (key, path, label) in entries {
                                a href={ "/p/" (p.id) "/" (path) } aria-current=[(key == nav).then_some("page")] { (label) }
                            }
                        }
                    }
                    div.user {
                        @if projects.len() > 1 || (current.is_none() && !projects.is_empty()) {
                            details.projects {
                                summary { (current.map(|p| p.name.as_str()).unwrap_or(lang.t("Projets", "Projects"))) }
                                ul { @for p in &projects { li { a href={ "/p/" (p.id) "/overview" } { (p.name) } } } }
                            }
                        } @else if let Some(p) = current {
                            span.project-name { (p.name) }
                        }
                        @if let Some(u) = &actor.user {
                            a href="/account" aria-current=[(nav == Nav::Account).then_some("page")] { (u.display_name) }
                            form.inline method="post" action="/logout" {
                                (csrf_field(actor))
                                button.link type="submit" { (lang.t("Déconnexion", "Log out")) }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
            }
        }
    };
    Ok(html_response(markup))
}

pub fn html_response(markup: Markup) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
}

/// The projects the actor may open, by name.
pub async fn visible_projects(state: &AppState, actor: &Actor) -> Result<Vec<Project>, ApiError> {
    Ok(match &actor.user {
        Some(u) if u.is_admin => state.store.list_projects().await?,
        Some(u) => state.store.memberships(u.id).await?.into_iter().map(|(p, _)| p).collect(),
        None => actor.project.iter().cloned().collect(),
    })
}

/// The hidden anti-CSRF field every form carries.
pub fn csrf_field(actor: &Actor) -> Markup {
    html! { input type="hidden" name="_csrf" value=(actor.csrf); }
}

/// After a form: back to a page (303, so a reload does not post again).
/// A path that is not a valid header value (control or non-ASCII
/// characters from user input) is percent-encoded, never a panic.
/// The existing name `name` would repeat whatever its case ("Billing" and
/// "billing" cannot be told apart in a list), leaving out the record `except`.
pub fn same_name_ignoring_case<'a>(
    existing: impl IntoIterator<Item = (i64, &'a str)>,
    name: &str,
    except: Option<i64>,
) -> Option<&'a str> {
    let lower = name.to_lowercase();
    existing.into_iter().find(|(id, n)| Some(*id) != except && n.to_lowercase() == lower).map(|(_, n)| n)
}

pub fn see_other(path: &str) -> Response {
    let location = HeaderValue::from_str(path).unwrap_or_else(|_| {
        let encoded: String = path
            .chars()
            .flat_map(|c| {
                if c.is_ascii_graphic() {
                    vec![c.to_string()]
                } else {
                    let mut buf = [0u8; 4];
                    c.encode_utf8(&mut buf).bytes().map(|b| format!("%{b:02X}")).collect()
                }
            })
            .collect();
        HeaderValue::from_str(&encoded).unwrap_or(HeaderValue::from_static("/"))
    });
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The URL if it is an absolute http(s) URL, normalised; anything else
/// (`javascript:`, `data:`, relative, malformed) gives `None` and is shown
/// as text, never as a link.
pub fn safe_href(raw: &str) -> Option<String> {
    let parsed = url::Url::parse(raw.trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.to_string())
}

/// A link to an outside page: `rel=noopener nofollow noreferrer`, new tab;
/// plain text when the URL is not http(s).
pub fn external_link(url: &str, text: &str) -> Markup {
    match safe_href(url) {
        Some(href) => html! { a href=(href) rel="noopener nofollow noreferrer" target="_blank" { (text) } },
        None => html! { span.unsafe-url title="not an http(s) link" { (text) } },
    }
}

pub fn polarity_label(lang: Lang, p: Option<Polarity>) -> &'static str {
    vigie_model::polarity_label(p, lang.into())
}

/// A coloured badge for a polarity.
pub fn sentiment_badge(lang: Lang, p: Option<Polarity>) -> Markup {
    let class = p.map(|p| p.as_str()).unwrap_or("unknown");
    html! { span class={ "badge sentiment-" (class) } { (polarity_label(lang, p)) } }
}

/// A status as pages and history details name it.
pub fn status_label(lang: Lang, s: InboxStatus) -> &'static str {
    vigie_model::status_label(s, lang.into())
}

/// The `lang` attribute of a mention's own words (its title, its text): the
/// language Vigie identified, as a valid language tag (`cym` stored by an
/// older version is written `cy`), or "" (HTML's "unknown"), so that a
/// screen reader does not read an English tweet with a French page's voice.
pub fn text_lang(m: &vigie_model::Mention) -> String {
    m.lang.as_deref().and_then(vigie_nlp::normalize_lang_tag).unwrap_or_default()
}

/// Text cut to `max` characters (on a character boundary) with an ellipsis.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Inline SVG made by `vigie-chart` (which escapes every label).
pub fn svg(chart: String) -> Markup {
    PreEscaped(chart)
}

/// A chart and its data: the drawing, then the same figures in full as a
/// table inside a closed `<details>` — the text alternative for screen
/// readers and keyboards (the drawing's values are in mouse tooltips), and
/// the exact numbers behind its compact labels. `label_header` names the
/// rows (period, site, watch…).
pub fn chart(lang: Lang, chart: &impl vigie_chart::Chart, label_header: &str) -> Markup {
    let data = chart.data_table();
    html! {
        div.chart-drawing { (svg(chart.to_svg())) }
        details.chart-data {
            summary { (lang.t("Données du graphique", "Chart data")) }
            div.table-wrap { table {
                caption { (data.title) }
                thead { tr {
                    th scope="col" { (label_header) }
                    @for c in &data.columns { th.num scope="col" { (c) } }
                } }
                tbody { @for (label, cells) in &data.rows { tr {
                    th scope="row" { (label) }
                    @for v in cells { td.num { (v) } }
                } } }
            } }
        }
    }
}

/// `StatusCode` helper for JSON answers that create something.
pub fn created<T: serde::Serialize>(value: T) -> Response {
    (StatusCode::CREATED, axum::Json(value)).into_response()
}

/// The state, for handlers that only need it (keeps signatures short).
pub type St = State<AppState>;

/// A department's name for the reader: the default workflow's departments
/// kept as seeded are named in French for a French reader.
pub(crate) fn dept(lang: Lang, name: &str) -> &str {
    vigie_model::department_name(name, lang.into())
}

/// The project's themes, named for the reader: the default themes a project
/// kept as seeded are named in French for a French reader.
pub(crate) async fn themes_for(
    state: &AppState,
    pid: i64,
    lang: Lang,
) -> Result<Vec<vigie_model::Theme>, vigie_store::StoreError> {
    let mut themes = state.store.list_themes(pid).await?;
    if lang == Lang::Fr {
        for t in &mut themes {
            t.name = vigie_pipeline::themes::french_name(&t.key, &t.name).to_string();
        }
    }
    Ok(themes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_links_are_links() {
        assert_eq!(safe_href("https://ex.fr/a?b=1").as_deref(), Some("https://ex.fr/a?b=1"));
        assert_eq!(safe_href("javascript:alert(1)"), None);
        assert_eq!(safe_href(" JaVaScRiPt:alert(1)"), None);
        assert_eq!(safe_href("data:text/html,<script>"), None);
        assert_eq!(safe_href("/relative"), None);
        assert_eq!(safe_href("vbscript:x"), None);
        let link = external_link("javascript:alert(1)", "<b>x</b>").into_string();
        assert!(!link.contains("href") && link.contains("&lt;b&gt;"), "{link}");
        let link = external_link("https://ex.fr/\"onmouseover=", "t").into_string();
        assert!(link.contains("rel=\"noopener nofollow noreferrer\""), "{link}");
        assert!(!link.contains("\"onmouseover"), "{link}");
    }

    #[test]
    fn redirects_never_panic_on_user_paths() {
        let r = see_other("/p/1/inbox?q=é\n");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[header::LOCATION], "/p/1/inbox?q=%C3%A9%0A");
        assert_eq!(see_other("/p/1/inbox").headers()[header::LOCATION], "/p/1/inbox");
    }

    #[test]
    fn error_pages_are_titled_by_their_code() {
        assert_eq!(error_title(ErrorCode::Conflict, Lang::En), "Conflict");
        assert_eq!(error_title(ErrorCode::Conflict, Lang::Fr), "Conflit");
        assert_eq!(error_title(ErrorCode::InvalidRequest, Lang::En), "Invalid request");
        let titles: std::collections::HashSet<&str> =
            ErrorCode::ALL.iter().map(|c| error_title(*c, Lang::En)).collect();
        // Forbidden and CSRF failures are both "access denied".
        assert_eq!(titles.len(), ErrorCode::ALL.len() - 1);
    }

    #[test]
    fn clip_cuts_on_characters() {
        assert_eq!(clip("éléphant", 3), "élé…");
        assert_eq!(clip("abc", 3), "abc");
    }
}

//! Reports: the KPIs of a period against the previous one (defined in
//! [`crate::kpi`]), the charts, the notable mentions and the alerts of the
//! period — as a page, as a self-contained HTML file to download (inline
//! CSS, inline SVG charts, no script, no external resource), as JSON, and as
//! the body of the scheduled e-mails (`crate::schedule`). Also the exports
//! of mentions (CSV, JSON, JSON Lines, streamed page by page) and of KPIs.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_chart::{Color, HBars, Series, StackedBars};
use vigie_model::zone::{self, Tz};
use vigie_model::{Alert, Polarity, Role};
use vigie_pipeline::export::{CSV_COLUMNS, csv_cell_for_spreadsheet, mention_json, spreadsheet_safe};
use vigie_store::{MentionFilter, Project, StoredMention};

use super::overview::{Period, PeriodQuery};
use super::{Nav, PageResult, clip, external_link, page, polarity_label};
use crate::auth::Actor;
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::kpi::{self, KpiReport, KpiRow};
use crate::routes::Routes;
use crate::{Access, AppState};

pub fn routes(r: Routes) -> Routes {
    let viewer = Access::Project(Role::Viewer);
    r.page(Method::GET, "/p/{pid}/report", viewer, "Report page (period=7d|30d|90d or from/to)", report_page)
        .page(
            Method::GET,
            "/p/{pid}/report/download",
            viewer,
            "Report as a self-contained HTML file (format=html) or PDF (format=pdf, needs Chromium on the server)",
            download,
        )
        .api(
            Method::GET,
            "/api/v1/projects/{pid}/report",
            viewer,
            "Report of a period: KPIs with the previous period's, per department and source, notable mentions, alerts",
            report_api,
        )
        .api(
            Method::GET,
            "/api/v1/projects/{pid}/export/mentions",
            viewer,
            "Mentions as format=csv|json|jsonl, streamed (optional period or from/to)",
            export_mentions,
        )
        .api(
            Method::GET,
            "/api/v1/projects/{pid}/export/kpis",
            viewer,
            "KPIs of a period with the previous period's, as format=csv|json",
            export_kpis,
        )
}

/// Notable mentions listed per kind.
const NOTABLE: i64 = 5;
/// Candidates read per mention listed, so that copies of one story leave
/// room for others.
const STORY_CANDIDATES: i64 = 10;

/// The first mention of each story among `mentions` (most reach first, as
/// read), with the number of its copies there, at most [`NOTABLE`].
fn one_per_story(mentions: Vec<StoredMention>) -> Vec<(StoredMention, usize)> {
    let story = |s: &StoredMention| s.mention.analysis.story_id.unwrap_or(s.mention.id);
    let mut out: Vec<(StoredMention, usize)> = Vec::new();
    for m in mentions {
        if let Some((_, copies)) = out.iter_mut().find(|(kept, _)| story(kept) == story(&m)) {
            *copies += 1;
        } else if out.len() < NOTABLE as usize {
            out.push((m, 0));
        }
    }
    out
}

/// Alerts listed at most.
const MAX_ALERTS: i64 = 50;

/// Everything a report shows.
pub struct Report {
    pub project: Project,
    pub period: Period,
    pub kpis: KpiReport,
    /// One mention per story (the one of most reach), with how many of its
    /// copies were among the candidates read.
    pub top_reach: Vec<(StoredMention, usize)>,
    pub most_negative: Vec<(StoredMention, usize)>,
    pub alerts: Vec<Alert>,
    /// Watch names by id, for the alerts' titles.
    pub watch_names: HashMap<i64, String>,
    pub generated_at: DateTime<Utc>,
}

/// Reads the report of `period`.
pub async fn build(
    store: &dyn vigie_store::Store,
    project: Project,
    period: Period,
    now: DateTime<Utc>,
) -> Result<Report, ApiError> {
    let kpis = kpi::compute(store, project.id, &period, now).await?;
    // Copies of one story (a syndicated article) would fill the lists:
    // more candidates are read, one per story kept.
    let candidates = NOTABLE * STORY_CANDIDATES;
    let top_reach =
        one_per_story(store.top_reach_mentions(project.id, period.from, period.to, None, candidates).await?);
    let most_negative = one_per_story(
        store.top_reach_mentions(project.id, period.from, period.to, Some(Polarity::Negative), candidates).await?,
    );
    let alerts = store.alerts_opened(project.id, period.from, period.to, MAX_ALERTS).await?;
    let watch_names = store.list_watches(project.id).await?.into_iter().map(|w| (w.id, w.name)).collect();
    Ok(Report { project, period, kpis, top_reach, most_negative, alerts, watch_names, generated_at: now })
}

/// The period of a report: the overview's presets and custom dates, 7 days by default.
pub fn resolve_period(q: &PeriodQuery, now: DateTime<Utc>, zone: Tz) -> Result<Period, ApiError> {
    if q.period.as_deref().is_some_and(|p| p.trim() == "24h") {
        return Err(ApiError::invalid("reports cover 7d, 30d or 90d, or from/to dates")
            .with_french("un rapport couvre 7d, 30d ou 90d, ou des dates du/au"));
    }
    Period::resolve(q, now, zone)
}

async fn report_for(state: &AppState, actor: &Actor, q: &PeriodQuery) -> Result<Report, ApiError> {
    let project = actor.project.clone().ok_or_else(|| ApiError::not_found("no such project"))?;
    let now = Utc::now();
    let period = resolve_period(q, now, state.config.zone)?;
    build(state.store.as_ref(), project, period, now).await
}

// ---------------------------------------------------------------------------
// Rendering, shared by the page, the file and the e-mail.

fn day_label(lang: Lang, t: DateTime<Utc>) -> String {
    lang.date(t)
}

/// "du 01/11/2026 au 07/11/2026" (the last day included), in the zone
/// times are written in ([`crate::i18n::current_zone`]).
pub fn period_text(lang: Lang, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    use chrono::Timelike as _;
    let zone = crate::i18n::current_zone();
    let midnight = |t: DateTime<Utc>| t.with_timezone(&zone).num_seconds_from_midnight() == 0;
    if !(midnight(from) && midnight(to)) {
        // A rolling period (the last 7 days end with the hour under way):
        // its hours, or its first and last days would seem to count whole.
        return match lang {
            Lang::Fr => format!("du {} au {}", lang.datetime(from), lang.datetime(to)),
            Lang::En => format!("from {} to {}", lang.datetime(from), lang.datetime(to)),
        };
    }
    let last = to - chrono::Duration::seconds(1);
    match lang {
        Lang::Fr => format!("du {} au {}", day_label(lang, from), day_label(lang, last)),
        Lang::En => format!("from {} to {}", day_label(lang, from), day_label(lang, last)),
    }
}

fn kpi_table(lang: Lang, rows: &[KpiRow]) -> Markup {
    html! {
        div.table-wrap { table.kpi-table {
            thead { tr {
                th { (lang.t("Indicateur", "Indicator")) }
                th.num { (lang.t("Période", "Period")) }
                th.num { (lang.t("Période précédente", "Previous period")) }
                th.num { (lang.t("Évolution", "Change")) }
            } }
            tbody { @for r in rows { tr data-kpi=(r.key) {
                td { (r.label(lang)) }
                td.num { (r.format(lang, r.current)) }
                td.num { (r.format(lang, r.previous)) }
                td.num { (r.format_change(lang)) }
            } } }
        } }
    }
}

fn mention_list(lang: Lang, mentions: &[(StoredMention, usize)]) -> Markup {
    html! {
        @if mentions.is_empty() { p.muted { "—" } } @else {
            ol.notable { @for (s, copies) in mentions {
                @let m = &s.mention;
                li {
                    strong { (m.author.as_deref().unwrap_or("—")) }
                    " · " (m.site.as_deref().unwrap_or(m.source_kind.as_str()))
                    " · " (lang.datetime(m.published_at))
                    " · " (polarity_label(lang, m.analysis.polarity()))
                    " · " (lang.t("portée", "reach")) " "
                    (m.analysis.reach.as_ref().map_or_else(|| "—".to_string(), |r| format!("{:.0}", r.score)))
                    @if *copies > 0 {
                        " · " (lang.number(*copies as i64)) " "
                        (if *copies > 1 { lang.t("copies", "copies") } else { lang.t("copie", "copy") })
                    }
                    br;
                    @let text = clip(m.title.as_deref().filter(|t| !t.is_empty()).unwrap_or(&m.text), 280);
                    span lang=(super::text_lang(m)) { @match m.url.as_deref() {
                        Some(url) => (external_link(url, &text)),
                        None => (text),
                    } }
                }
            } }
        }
    }
}

fn charts(lang: Lang, r: &Report) -> Vec<Markup> {
    let o = &r.kpis.overview;
    let labels: Vec<String> =
        o.buckets.iter().map(|b| super::overview::bucket_label(lang, b.start, &r.period)).collect();
    let series = |name: &str, color, f: fn(&vigie_store::SentimentBucket) -> i64| Series {
        name: name.into(),
        color,
        values: o.buckets.iter().map(|b| f(b) as f64).collect(),
    };
    let volume = StackedBars {
        title: lang.t("Volume par sentiment", "Volume by sentiment").into(),
        lang: lang.chart(),
        labels,
        series: vec![
            series(lang.t("négatif", "negative"), Color::Negative, |b| b.negative),
            series(lang.t("neutre", "neutral"), Color::Neutral, |b| b.neutral),
            series(lang.t("positif", "positive"), Color::Positive, |b| b.positive),
            series(lang.t("inconnu", "unknown"), Color::Unknown, |b| b.unknown),
        ],
        width: 1000,
        height: 300,
    };
    let share = super::overview::share_of_voice(lang, &o.per_watch, 1000);
    let sources = HBars {
        title: lang.t("Volume par type de source", "Volume by source kind").into(),
        lang: lang.chart(),
        rows: r.kpis.sources.iter().map(|s| (lang.source_kind_name(&s.source), s.current as f64)).collect(),
        color: Color::Accent(1),
        width: 1000,
        value_suffix: String::new(),
    };
    vec![
        super::chart(lang, &volume, lang.t("Période", "Period")),
        super::chart(lang, &share, lang.t("Veille", "Watch")),
        super::chart(lang, &sources, lang.t("Source", "Source")),
    ]
}

/// The report's content (the page's main part, and the file's body).
pub fn body(lang: Lang, r: &Report) -> Markup {
    let k = &r.kpis;
    html! {
        p.period-text { (lang.t("Période ", "Period ")) (period_text(lang, r.period.from, r.period.to))
            ", " (lang.t("comparée à la période précédente ", "compared with the previous period "))
            (period_text(lang, r.period.previous().from, r.period.previous().to)) "." }
        section.report-kpis {
            h2 { (lang.t("Indicateurs", "Key figures")) }
            (kpi_table(lang, &k.rows()))
        }
        section.report-charts {
            @for chart in charts(lang, r) { div.chart { (chart) } }
        }
        @if !k.departments.is_empty() {
            section.report-departments {
                h2 { (lang.t("Par service", "Per department")) }
                @for d in &k.departments {
                    h3 { @if d.id.is_some() { (crate::pages::dept(lang, &d.name)) } @else { (lang.t("Sans département", "No department")) } }
                    (kpi_table(lang, &kpi::response_rows(&d.current, &d.previous)))
                }
            }
        }
        section.report-sources {
            h2 { (lang.t("Par type de source", "Per source kind")) }
            @if k.sources.is_empty() { p.muted { "—" } } @else {
                div.table-wrap { table { thead { tr { th { (lang.t("Source", "Source")) } th.num { (lang.t("Période", "Period")) } th.num { (lang.t("Période précédente", "Previous period")) } th.num { (lang.t("Évolution", "Change")) } } }
                tbody { @for s in &k.sources { tr {
                    td { (lang.source_kind_name(&s.source)) } td.num { (lang.number(s.current)) } td.num { (lang.number(s.previous)) }
                    td.num { (kpi::relative_change(s.current as f64, s.previous as f64).map_or_else(|| if s.current > 0 { lang.t("nouveau", "new").to_string() } else { "—".into() }, |c| format!("{}{}", if c > 0.0 { "+" } else { "" }, lang.percent(c)))) }
                } } } } }
            }
        }
        section.report-notable {
            h2 { (lang.t("Mentions à plus forte portée", "Highest-reach mentions")) }
            (mention_list(lang, &r.top_reach))
            h2 { (lang.t("Mentions négatives à plus forte portée", "Most damaging negative mentions")) }
            (mention_list(lang, &r.most_negative))
        }
        section.report-alerts {
            h2 { (lang.t("Alertes de la période", "Alerts of the period")) }
            @if r.alerts.is_empty() { p.muted { (lang.t("Aucune alerte.", "No alert.")) } } @else {
                @if (r.alerts.len() as i64) < r.kpis.current.alerts_raised {
                    p.muted { (shown_of_raised(lang, r.alerts.len(), r.kpis.current.alerts_raised)) }
                }
                div.table-wrap { table { thead { tr { th { (lang.t("Ouverte", "Opened")) } th { (lang.t("Gravité", "Severity")) } th { (lang.t("Alerte", "Alert")) } th { (lang.t("Prise en compte", "Acknowledged")) } } }
                tbody { @for a in &r.alerts { tr {
                    td { (lang.datetime(a.opened_at)) } td { (super::alerts::severity_label(lang, a.severity)) } td { (super::alerts::alert_title(lang, a, a.watch_id.and_then(|w| r.watch_names.get(&w)).map(String::as_str))) }
                    td { (a.acknowledged_at.or(a.resolved_at).map_or_else(|| "—".into(), |t| lang.duration((t - a.opened_at).num_seconds()))) }
                } } } } }
            }
        }
        p.muted { (lang.t(
            "Définitions : volume, sentiment net ((positives − négatives) / total), part de voix (correspondances des veilles du projet sur toutes, concurrents compris), portée (somme et médiane des scores de portée 0–100), réponses (éléments entrés dans la boîte pendant la période, sauf ceux ignorés), alertes (ouvertes pendant la période).",
            "Definitions: volume, net sentiment ((positive − negative) / total), share of voice (matches of the project's own watches over all, competitors included), reach (sum and median of the 0–100 reach scores), responses (inbox items that entered in the period, except ignored ones), alerts (opened in the period)."
        )) }
    }
}

/// The file's stylesheet (inline: the file needs nothing else).
const DOCUMENT_CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2430;max-width:1040px;margin:2rem auto;padding:0 1rem;line-height:1.45}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d8dde6;padding-bottom:.2rem}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e6e9ef;vertical-align:top}\
.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#5b6577;font-size:.9rem}.chart{margin:1rem 0}\
.table-wrap,.chart-drawing{overflow-x:auto}@media (max-width:699px){.chart-drawing>svg{min-width:600px}}\
details.chart-data{font-size:.9rem}details.chart-data summary{cursor:pointer;color:#1f5fbf}caption{text-align:left;font-weight:600}\
ol.notable li{margin-bottom:.6rem;overflow-wrap:anywhere}a{color:#1f5fbf}@media print{body{margin:0}.chart{break-inside:avoid}details.chart-data{display:none}}";

fn title(lang: Lang, r: &Report) -> String {
    format!("{} — {}", lang.t("Rapport", "Report"), r.project.name)
}

/// The downloadable report: one self-contained HTML document.
pub fn document(lang: Lang, r: &Report) -> String {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content="Vigie";
                title { (title(lang, r)) }
                style { (PreEscaped(DOCUMENT_CSS)) }
            }
            body {
                h1 { (title(lang, r)) }
                p.muted { (lang.t("Généré le ", "Generated on ")) (lang.datetime(r.generated_at)) }
                (body(lang, r))
            }
        }
    }
    .into_string()
}

/// The e-mail's HTML part: the key figures (mail programs often drop SVG
/// and styles); the full report is attached.
pub fn email_html(lang: Lang, r: &Report) -> String {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head { meta charset="utf-8"; title { (title(lang, r)) } }
            body {
                h1 { (title(lang, r)) }
                p { (period_text(lang, r.period.from, r.period.to)) }
                (kpi_table(lang, &r.kpis.rows()))
                p { (lang.t("Le rapport complet (graphiques, mentions notables, alertes) est joint.", "The full report (charts, notable mentions, alerts) is attached.")) }
            }
        }
    }
    .into_string()
}

/// Above a list of alerts cut at [`MAX_ALERTS`]: how many of how many.
fn shown_of_raised(lang: Lang, shown: usize, raised: i64) -> String {
    match lang {
        Lang::Fr => format!("Les {shown} premières des {raised} alertes de la période :"),
        Lang::En => format!("The first {shown} of the period's {raised} alerts:"),
    }
}

/// The report as plain text (the e-mail's text part).
pub fn plain_text(lang: Lang, r: &Report) -> String {
    let mut out = format!("{}\n{}\n\n", title(lang, r), period_text(lang, r.period.from, r.period.to));
    // French puts a non-breaking space before a colon.
    let colon = lang.t("\u{a0}:", ":");
    for row in r.kpis.rows() {
        out.push_str(&format!(
            "- {}{colon} {} ({} {}, {})\n",
            row.label(lang),
            row.format(lang, row.current),
            lang.t("précédente", "previous"),
            row.format(lang, row.previous),
            row.format_change(lang)
        ));
    }
    out.push_str(
        lang.t("\nLe rapport complet est joint (fichier HTML).\n", "\nThe full report is attached (HTML file).\n"),
    );
    out
}

fn mention_summary((s, copies): &(StoredMention, usize)) -> Value {
    let m = &s.mention;
    json!({
        "copies": copies,
        "id": m.id, "url": m.url, "title": m.title, "text": clip(&m.text, 500), "author": m.author, "site": m.site,
        "source": m.source_kind.as_str(), "published_at": m.published_at.to_rfc3339(),
        "sentiment": m.analysis.polarity().map(Polarity::as_str), "reach_score": m.analysis.reach.as_ref().map(|r| r.score),
    })
}

pub fn report_json(r: &Report) -> Value {
    let prev = r.period.previous();
    let mut v = r.kpis.json();
    v["project"] = json!({"id": r.project.id, "name": r.project.name});
    v["period"] = json!({"key": r.period.key, "from": r.period.from.to_rfc3339(), "to": r.period.to.to_rfc3339()});
    v["previous_period"] = json!({"from": prev.from.to_rfc3339(), "to": prev.to.to_rfc3339()});
    v["top_reach"] = r.top_reach.iter().map(mention_summary).collect();
    v["most_negative"] = r.most_negative.iter().map(mention_summary).collect();
    v["alerts"] = r
        .alerts
        .iter()
        .map(|a| {
            json!({"id": a.id, "title": a.title, "severity": a.severity.as_str(), "status": a.status.as_str(),
                   "opened_at": a.opened_at.to_rfc3339(), "acknowledged_at": a.acknowledged_at.map(|t| t.to_rfc3339())})
        })
        .collect();
    v["generated_at"] = json!(r.generated_at.to_rfc3339());
    v
}

// ---------------------------------------------------------------------------
// Handlers.

fn period_links(lang: Lang, pid: i64, current: Option<&Period>, q: &PeriodQuery) -> Markup {
    let key = current.map(|p| p.key.as_str()).unwrap_or("");
    let given = [&q.period, &q.from, &q.to].iter().any(|v| v.as_deref().is_some_and(|v| !v.is_empty()));
    let query = |extra: &str| {
        let mut pairs: Vec<String> = Vec::new();
        if let Some(p) = q.period.as_deref().filter(|p| !p.is_empty()) {
            pairs.push(format!("period={}", super::overview::url_encode(p)));
        } else if !given && !key.is_empty() {
            // The page's default period, said: the mention export without
            // one would be the whole history.
            pairs.push(format!("period={}", super::overview::url_encode(key)));
        }
        for (name, v) in [("from", &q.from), ("to", &q.to)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                pairs.push(format!("{name}={}", super::overview::url_encode(v)));
            }
        }
        if !extra.is_empty() {
            pairs.push(extra.to_string());
        }
        pairs.join("&")
    };
    html! {
        div.period {
            @for p in ["7d", "30d", "90d"] {
                a href={ "/p/" (pid) "/report?period=" (p) } aria-current=[(key == p).then_some("true")] {
                    (match p { "7d" => lang.t("7 jours", "7 days"), "30d" => lang.t("30 jours", "30 days"), _ => lang.t("90 jours", "90 days") })
                }
            }
            form method="get" action={ "/p/" (pid) "/report" } {
                label { (lang.t("Du", "From")) input type="date" name="from" value=(q.from.as_deref().unwrap_or("")); }
                label { (lang.t("au", "to")) input type="date" name="to" value=(q.to.as_deref().unwrap_or("")); }
                button.secondary type="submit" { (lang.t("Afficher", "Show")) }
            }
        }
        @if current.is_some() {
            // A spreadsheet set to French separates fields with `;`.
            @let csv = match lang { Lang::Fr => "format=csv&sep=semicolon&lang=fr", Lang::En => "format=csv&lang=en" };
            p.actions {
                a.button href={ "/p/" (pid) "/report/download?" (query(&format!("lang={}", lang.code()))) } { (lang.t("Télécharger (HTML)", "Download (HTML)")) }
                " "
                a.button.secondary href={ "/p/" (pid) "/report/download?" (query(&format!("format=pdf&lang={}", lang.code()))) } { (lang.t("PDF", "PDF")) }
                " "
                a.button.secondary href={ "/api/v1/projects/" (pid) "/export/kpis?" (query(csv)) } { (lang.t("Indicateurs (CSV)", "KPIs (CSV)")) }
                " "
                a.button.secondary href={ "/api/v1/projects/" (pid) "/export/mentions?" (query(csv)) } { (lang.t("Mentions (CSV)", "Mentions (CSV)")) }
            }
        }
    }
}

async fn report_page(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<PeriodQuery>,
) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let heading = lang.t("Rapport", "Report");
    let (body, refused) = match report_for(&state, &actor, &q).await {
        Ok(r) => (html! { h1 { (heading) } (period_links(lang, pid, Some(&r.period), &q)) (body(lang, &r)) }, false),
        Err(e) if e.code == crate::ErrorCode::InvalidRequest => (
            html! { h1 { (heading) } (period_links(lang, pid, None, &q)) p.error-message { (e.message_in(lang)) } },
            true,
        ),
        Err(e) => return Err(e.into()),
    };
    let mut answer = page(&state, &actor, Nav::Report, heading, body).await?;
    if refused {
        // The form again, with why, answered as the refusal it is.
        *answer.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    Ok(answer)
}

#[derive(Debug, Deserialize, Default)]
pub struct DownloadQuery {
    #[serde(flatten)]
    period: PeriodQuery,
    format: Option<String>,
    lang: Option<String>,
}

fn attachment(content_type: &'static str, filename: &str, body: impl Into<Body>) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type)), (header::CONTENT_DISPOSITION, disposition)],
        body.into(),
    )
        .into_response()
}

/// `vigie-report-<project id>-<first day>-<last day>`: no user text in a header.
pub fn file_stem(r: &Report) -> String {
    use chrono::Timelike as _;
    let zone = r.period.zone;
    let (from, to) = (r.period.from.with_timezone(&zone), r.period.to.with_timezone(&zone));
    if from.num_seconds_from_midnight() != 0 || to.num_seconds_from_midnight() != 0 {
        return format!("vigie-report-{}-{}-{}", r.project.id, from.format("%Y%m%d%H%M"), to.format("%Y%m%d%H%M"));
    }
    let last = to - chrono::Duration::seconds(1);
    format!("vigie-report-{}-{}-{}", r.project.id, from.format("%Y%m%d"), last.format("%Y%m%d"))
}

async fn download(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<DownloadQuery>,
) -> PageResult {
    let lang = q.lang.as_deref().and_then(Lang::parse).unwrap_or(actor.lang);
    let r = report_for(&state, &actor, &q.period).await?;
    let html = document(lang, &r);
    match q.format.as_deref().map(str::trim).unwrap_or("html") {
        "html" | "" => Ok(attachment("text/html; charset=utf-8", &format!("{}.html", file_stem(&r)), html)),
        "pdf" => {
            let pdf = crate::pdf::print(&html).await.map_err(|e| ApiError::unavailable(e.message(lang)))?;
            Ok(attachment("application/pdf", &format!("{}.pdf", file_stem(&r)), pdf))
        }
        other => Err(ApiError::invalid(format!("unknown format {other:?}: use html or pdf")).into()),
    }
}

async fn report_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<PeriodQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let r = report_for(&state, &actor, &q).await?;
    Ok(axum::Json(report_json(&r)))
}

// ---------------------------------------------------------------------------
// Exports.

/// (A filter the exports do not take, `watch=` or `q=`, is refused rather
/// than ignored: the whole project would pass for a filtered export.)
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    format: Option<String>,
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// CSV separator: `comma` (default), `semicolon` (what a spreadsheet set
    /// to French expects) or `tab`.
    sep: Option<String>,
    /// `fr` or `en`: the language of the names in it (the default
    /// departments'), as the report's download takes it; else the reader's.
    lang: Option<String>,
}

impl ExportQuery {
    fn delimiter(&self) -> Result<u8, ApiError> {
        match self.sep.as_deref().map(str::trim) {
            None | Some("" | "comma" | ",") => Ok(b','),
            Some("semicolon" | ";") => Ok(b';'),
            Some("tab") => Ok(b'\t'),
            Some(other) => Err(ApiError::invalid(format!(
                "unknown CSV separator {:?}: comma, semicolon or tab",
                other.chars().take(20).collect::<String>()
            ))),
        }
    }

    fn period_query(&self) -> PeriodQuery {
        PeriodQuery { period: self.period.clone(), from: self.from.clone(), to: self.to.clone() }
    }

    fn has_period(&self) -> bool {
        [&self.period, &self.from, &self.to].iter().any(|v| v.as_deref().is_some_and(|s| !s.trim().is_empty()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
    Jsonl,
}

fn export_format(v: Option<&str>, jsonl: bool) -> Result<Format, ApiError> {
    match v.map(str::trim).unwrap_or("csv") {
        "csv" | "" => Ok(Format::Csv),
        "json" => Ok(Format::Json),
        "jsonl" if jsonl => Ok(Format::Jsonl),
        other => Err(ApiError::invalid(format!(
            "unknown format {other:?}: use csv or json{}",
            if jsonl { " or jsonl" } else { "" }
        ))),
    }
}

/// Rows read from the store per step of an export stream.
pub const EXPORT_PAGE: i64 = 1_000;

/// One CSV record as bytes.
/// A CSV file starts with a byte-order mark: spreadsheets then read it as
/// UTF-8 (accents intact); `vigie import` skips it.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// A number's cell with a decimal comma in a `;`-separated file: that file
/// is for a spreadsheet set to French, which reads `-0.5` as text (or a
/// date) and `-0,5` as a number. Other cells, and other separators, as they are.
fn decimal_cell(value: &serde_json::Value, cell: String, delimiter: u8) -> String {
    if delimiter == b';' && value.is_number() { cell.replace('.', ",") } else { cell }
}

fn csv_line<I, S>(delimiter: u8, cells: I) -> Result<Vec<u8>, std::io::Error>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut w = csv::WriterBuilder::new().delimiter(delimiter).from_writer(Vec::new());
    w.write_record(cells).map_err(std::io::Error::other)?;
    w.into_inner().map_err(|e| std::io::Error::other(e.to_string()))
}

struct ExportState {
    store: Arc<dyn vigie_store::Store>,
    project_id: i64,
    filter: MentionFilter,
    names: Arc<HashMap<i64, String>>,
    format: Format,
    after: i64,
    delimiter: u8,
    /// 0: the header not sent yet; 1: rows; 2: done.
    step: u8,
    rows: u64,
}

/// The next chunk: the header, then one page of rows, then the closing.
async fn next_chunk(mut st: ExportState) -> Option<(Result<Bytes, std::io::Error>, ExportState)> {
    match st.step {
        0 => {
            st.step = 1;
            let head = match st.format {
                Format::Csv => match csv_line(st.delimiter, CSV_COLUMNS) {
                    Ok(b) => [BOM, &b].concat(),
                    Err(e) => return Some((Err(e), ExportState { step: 2, ..st })),
                },
                Format::Json => b"[".to_vec(),
                Format::Jsonl => Vec::new(),
            };
            Some((Ok(Bytes::from(head)), st))
        }
        1 => {
            let page = match st.store.mentions_after(st.project_id, &st.filter, st.after, EXPORT_PAGE).await {
                Ok(p) => p,
                Err(e) => {
                    // Headers are gone: the stream ends in an error, which
                    // cuts the connection, so the file is seen as incomplete.
                    tracing::warn!(project = st.project_id, "export stopped: {e}");
                    return Some((Err(std::io::Error::other(e.to_string())), ExportState { step: 2, ..st }));
                }
            };
            let names = st.names.clone();
            let name = |id: i64| names.get(&id).cloned();
            let mut out = Vec::with_capacity(page.len() * 512);
            for s in &page {
                let v = mention_json(s, &name);
                match st.format {
                    Format::Csv => {
                        let cell = |c: &&str| decimal_cell(&v[*c], csv_cell_for_spreadsheet(&v[*c]), st.delimiter);
                        match csv_line(st.delimiter, CSV_COLUMNS.iter().map(cell)) {
                            Ok(b) => out.extend_from_slice(&b),
                            Err(e) => return Some((Err(e), ExportState { step: 2, ..st })),
                        }
                    }
                    Format::Json => {
                        if st.rows > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(v.to_string().as_bytes());
                    }
                    Format::Jsonl => {
                        out.extend_from_slice(v.to_string().as_bytes());
                        out.push(b'\n');
                    }
                }
                st.rows += 1;
            }
            match page.last() {
                Some(last) if page.len() as i64 == EXPORT_PAGE => st.after = last.mention.id,
                _ => {
                    if st.format == Format::Json {
                        out.push(b']');
                    }
                    st.step = 2;
                }
            }
            Some((Ok(Bytes::from(out)), st))
        }
        _ => None,
    }
}

async fn export_mentions(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let pid = actor.project_id()?;
    let format = export_format(q.format.as_deref(), true)?;
    let delimiter = q.delimiter()?;
    let mut filter = MentionFilter::default();
    if q.has_period() {
        let period = Period::resolve(&q.period_query(), Utc::now(), state.config.zone)?;
        filter.published_since = Some(period.from);
        filter.published_until = Some(period.to);
    }
    let names: HashMap<i64, String> =
        state.store.list_watches(pid).await?.into_iter().map(|w| (w.id, w.name)).collect();
    let st = ExportState {
        store: state.store.clone(),
        project_id: pid,
        filter,
        names: Arc::new(names),
        format,
        delimiter,
        after: 0,
        step: 0,
        rows: 0,
    };
    let stream = futures::stream::unfold(st, next_chunk);
    let (content_type, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Json => ("application/json", "json"),
        Format::Jsonl => ("application/x-ndjson", "jsonl"),
    };
    Ok(attachment(content_type, &format!("vigie-mentions-{pid}.{ext}"), Body::from_stream(stream)))
}

async fn export_kpis(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let pid = actor.project_id()?;
    let format = export_format(q.format.as_deref(), false)?;
    let delimiter = q.delimiter()?;
    let lang = match q.lang.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        None => actor.lang,
        Some(l) => Lang::parse(l).ok_or_else(|| {
            ApiError::invalid(format!("unknown language {:?}: fr or en", l.chars().take(20).collect::<String>()))
                .with_french(format!("langue inconnue {:?} : fr ou en", l.chars().take(20).collect::<String>()))
        })?,
    };
    let now = Utc::now();
    let period = resolve_period(&q.period_query(), now, state.config.zone)?;
    let k = kpi::compute(state.store.as_ref(), pid, &period, now).await?;
    let stem = format!("vigie-kpis-{pid}-{}", zone::format_local(period.zone, period.from, "%Y%m%d"));
    if format == Format::Json {
        return Ok(attachment("application/json", &format!("{stem}.json"), k.json().to_string()));
    }
    let num = |v: Option<f64>| v.map(|v| decimal_cell(&json!(v), v.to_string(), delimiter)).unwrap_or_default();
    let mut out = BOM.to_vec();
    out.extend(
        csv_line(delimiter, ["scope", "key", "unit", "value", "previous", "change", "from", "to"])
            .map_err(|e| ApiError::internal(&e))?,
    );
    let (from, to) = (period.from.to_rfc3339(), period.to.to_rfc3339());
    let mut push = |scope: String, row: &KpiRow| -> Result<(), ApiError> {
        let line = csv_line(
            delimiter,
            [
                spreadsheet_safe(scope),
                row.key.to_string(),
                kpi::unit_name(row.unit).to_string(),
                num(row.current),
                num(row.previous),
                num(row.change()),
                from.clone(),
                to.clone(),
            ],
        )
        .map_err(|e| ApiError::internal(&e))?;
        out.extend_from_slice(&line);
        Ok(())
    };
    for row in k.rows() {
        push("project".into(), &row)?;
    }
    for d in &k.departments {
        for row in kpi::response_rows(&d.current, &d.previous) {
            let scope = match d.id {
                Some(_) => format!("department:{}", super::dept(lang, &d.name)),
                None => "no_department".into(),
            };
            push(scope, &row)?;
        }
    }
    for s in &k.sources {
        let row = KpiRow {
            key: "volume",
            fr: "volume",
            en: "volume",
            unit: kpi::Unit::Count,
            current: Some(s.current as f64),
            previous: Some(s.previous as f64),
        };
        push(format!("source:{}", s.source), &row)?;
    }
    Ok(attachment("text/csv; charset=utf-8", &format!("{stem}.csv"), out))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn the_lists_keep_one_mention_per_story() {
        let stored = |id: i64, story: Option<i64>| {
            let raw = vigie_model::RawMention { text: format!("text {id}"), plain_text: true, ..Default::default() };
            let mut mention = vigie_nlp::normalize(raw, Utc::now(), &vigie_nlp::NormalizeLimits::default()).unwrap();
            mention.id = id;
            mention.analysis.story_id = story;
            StoredMention { mention, source_id: None, matches: vec![] }
        };
        // A wire story (1) and three copies, read first by reach, then others.
        let read = vec![
            stored(2, Some(1)),
            stored(1, None),
            stored(3, Some(1)),
            stored(10, None),
            stored(4, Some(1)),
            stored(11, None),
            stored(12, None),
            stored(13, None),
            stored(14, None),
        ];
        let kept: Vec<(i64, usize)> = one_per_story(read).iter().map(|(s, c)| (s.mention.id, *c)).collect();
        assert_eq!(kept, [(2, 3), (10, 0), (11, 0), (12, 0), (13, 0)]);
    }

    #[test]
    fn a_period_says_its_hours_unless_it_is_whole_days() {
        let at = |d, h| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
        assert_eq!(period_text(Lang::Fr, at(18, 0), at(25, 0)), "du 18/11/2026 au 24/11/2026");
        assert_eq!(period_text(Lang::En, at(18, 0), at(25, 0)), "from 2026-11-18 to 2026-11-24");
        // The last 7 days, ending with the 6-hour bucket under way.
        assert_eq!(period_text(Lang::Fr, at(17, 18), at(24, 18)), "du 17/11/2026 18:00 UTC au 24/11/2026 18:00 UTC");
    }

    #[tokio::test]
    async fn a_period_of_local_days_reads_as_days_in_its_zone() {
        let at = |d, h| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
        let paris = zone::parse_zone("Europe/Paris").unwrap();
        // Paris midnights are 23:00 UTC in November.
        let text = crate::i18n::in_zone(paris, async { period_text(Lang::Fr, at(17, 23), at(24, 23)) }).await;
        assert_eq!(text, "du 18/11/2026 au 24/11/2026");
        let text = crate::i18n::in_zone(paris, async { period_text(Lang::Fr, at(17, 18), at(24, 18)) }).await;
        assert_eq!(text, "du 17/11/2026 19:00 CET au 24/11/2026 19:00 CET");
    }
}

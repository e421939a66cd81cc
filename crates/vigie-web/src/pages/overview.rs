//! The overview: what was said about the project in a period, how it felt,
//! against the competitors, who said it, and how fast the team answered.
//!
//! Everything comes from [`vigie_store::Workflow::overview`] (index-only
//! counts) and `response_stats`; the charts are `vigie-chart` SVG, the same
//! code the reports use.

use axum::extract::{Query, State};
use std::sync::Arc;
use std::time::Instant;

use axum::http::{HeaderMap, Method};
use axum::{Extension, Json};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_chart::{Color, HBars, LineChart, Series, ShareBar, StackedBars};
use vigie_model::zone::{self, Tz};
use vigie_model::{AlertStatus, Role};
use vigie_store::{Buckets, Overview, ResponseScope, ResponseStats};

use super::{Nav, PageResult, chart, page};
use crate::auth::Actor;
use crate::cache::{self, TtlCache};
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::routes::Routes;
use crate::{Access, AppState};

pub fn routes(r: Routes) -> Routes {
    r.page(Method::GET, "/p/{pid}/overview", Access::Project(Role::Viewer), "Overview page", overview_page).api(
        Method::GET,
        "/api/v1/projects/{pid}/overview",
        Access::Project(Role::Viewer),
        "Overview figures for a period (period=24h|7d|30d|90d or from/to dates)",
        overview_api,
    )
}

/// The period asked for.
#[derive(Debug, Deserialize, Default)]
pub struct PeriodQuery {
    pub period: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
}

/// A resolved period: `[from, to)` with its buckets, in the installation's
/// zone: a day is a local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub key: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The buckets' nominal length (a local day lasts 23 or 25 hours when
    /// the clocks change).
    pub bucket_secs: i64,
    pub zone: Tz,
    pub buckets: Buckets,
}

pub const PRESETS: [&str; 4] = ["24h", "7d", "30d", "90d"];
/// Longest custom period.
const MAX_DAYS: i64 = 732;
const DAY: i64 = 86_400;

impl Period {
    /// `[from, to)` in buckets of `bucket_secs` (whole days: local days).
    pub fn new(key: &str, from: DateTime<Utc>, to: DateTime<Utc>, bucket_secs: i64, zone: Tz) -> Period {
        let buckets = Buckets::from_starts(zone::bucket_starts(zone, from, to, bucket_secs));
        Period { key: key.into(), from, to, bucket_secs, zone, buckets }
    }

    pub fn resolve(q: &PeriodQuery, now: DateTime<Utc>, zone: Tz) -> Result<Period, ApiError> {
        let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        // As the mention list says: one or the other, never one silently ignored.
        if given(&q.period) && (given(&q.from) || given(&q.to)) {
            return Err(ApiError::invalid("give a period or from/to dates, not both")
                .with_french("donnez une période ou des dates du/au, pas les deux"));
        }
        if given(&q.from) || given(&q.to) {
            // `name` is the parameter (the API's word), `label` the form's.
            let day = |s: Option<&str>, name: &str, label: &str| -> Result<Option<NaiveDate>, ApiError> {
                match s.map(str::trim).filter(|s| !s.is_empty()) {
                    None => Ok(None),
                    Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map(Some).map_err(|_| {
                        ApiError::invalid(format!("{name} must be a date as YYYY-MM-DD, not {s:?}"))
                            .with_french(format!("la date « {label} » doit s'écrire AAAA-MM-JJ, pas {s:?}"))
                    }),
                }
            };
            let to_day = day(q.to.as_deref(), "to", "au")?.unwrap_or(zone::local_date(zone, now));
            let from_day = day(q.from.as_deref(), "from", "du")?.unwrap_or(to_day - Duration::days(29));
            if from_day > to_day {
                return Err(ApiError::invalid("from must be on or before to")
                    .with_french("la date de début doit précéder ou égaler la date de fin"));
            }
            if (to_day - from_day).num_days() > MAX_DAYS {
                return Err(ApiError::invalid(format!("a period covers at most {MAX_DAYS} days"))
                    .with_french(format!("une période couvre au plus {MAX_DAYS} jours")));
            }
            // Local midnights, the last day included.
            let from = zone::local_midnight(zone, from_day);
            let to = zone::local_midnight(zone, to_day + Duration::days(1));
            let days = (to_day - from_day).num_days() + 1;
            let bucket_secs = if days <= 2 {
                3_600
            } else if days <= 120 {
                DAY
            } else {
                7 * DAY
            };
            return Ok(Period::new("custom", from, to, bucket_secs, zone));
        }
        let key = q.period.as_deref().unwrap_or("7d").trim().to_ascii_lowercase();
        let (days, bucket_secs) = match key.as_str() {
            "24h" => (1, 3_600),
            "7d" => (7, 6 * 3_600),
            "30d" => (30, DAY),
            "90d" => (90, DAY),
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown period {other:?}: use 24h, 7d, 30d or 90d, or from/to"
                ))
                .with_french(format!("période inconnue {other:?} : 24h, 7d, 30d ou 90d, ou des dates du/au")));
            }
        };
        // Whole buckets: the last one holds `now`; days are local days.
        let to = zone::bucket_end(zone, now, bucket_secs);
        let from = if bucket_secs >= DAY { days_before(zone, to, days) } else { to - Duration::days(days) };
        Ok(Period::new(&key, from, to, bucket_secs, zone))
    }

    /// The period just before: the previous calendar months of a monthly
    /// report or of chosen dates that are whole months (October's is
    /// September, the 1st to the 30th, as the monthly e-mail says), as many
    /// local days before another period of whole days (chosen dates, 30 and
    /// 90 days, weeks), the same length before a rolling one.
    pub fn previous(&self) -> Period {
        use chrono::{Datelike, Months};
        let (first, last) = (zone::local_date(self.zone, self.from), zone::local_date(self.zone, self.to));
        let months = (last.year() * 12 + last.month0() as i32) - (first.year() * 12 + first.month0() as i32);
        let whole_months = first.day() == 1 && last.day() == 1 && months >= 1;
        let from = if self.key == "monthly" || (self.key == "custom" && whole_months) {
            let back = Months::new(months.max(1) as u32);
            zone::local_midnight(self.zone, first.checked_sub_months(back).unwrap_or(first))
        } else if self.key == "custom" || self.bucket_secs >= DAY {
            days_before(self.zone, self.from, (last - first).num_days())
        } else {
            self.from - (self.to - self.from)
        };
        Period::new(&self.key, from, self.from, self.bucket_secs, self.zone)
    }
}

/// Local midnight `days` local days before the local date of `t`.
fn days_before(zone: Tz, t: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    zone::local_midnight(zone, zone::local_date(zone, t) - Duration::days(days))
}

/// Everything the page and the API show.
pub struct Figures {
    period: Period,
    overview: Overview,
    previous_total: i64,
    responses: ResponseStats,
    open_alerts: Vec<vigie_model::Alert>,
    /// Watch names by id, for the open alerts' titles.
    watch_names: std::collections::HashMap<i64, String>,
    terms: Vec<String>,
}

/// Computed figures by project and period (see [`crate::cache`]).
pub type FiguresCache = TtlCache<(i64, String, i64, i64), Arc<Figures>>;

/// Mentions read for the trending terms (the newest of the period).
const TERM_SAMPLE: i64 = 500;

async fn figures(state: &AppState, pid: i64, q: &PeriodQuery, headers: &HeaderMap) -> Result<Arc<Figures>, ApiError> {
    let now = Utc::now();
    let period = Period::resolve(q, now, state.config.zone)?;
    let key = (pid, period.key.clone(), period.from.timestamp(), period.to.timestamp());
    // Read before computing: a write served meanwhile makes this entry stale.
    let generation = state.generation.current();
    let started = Instant::now();
    if !cache::wants_fresh(headers)
        && let Some(figures) = state.overview_cache.get(&key, generation, started)
    {
        return Ok(figures);
    }
    let overview = state.store.overview(pid, period.from, period.to, &period.buckets, 10).await?;
    let prev = period.previous();
    let previous_total = state.store.overview(pid, prev.from, prev.to, &Buckets::whole(prev.from), 0).await?.total;
    let responses = state.store.response_stats(pid, ResponseScope::Project, period.from, period.to, now).await?;
    let open_alerts = state.store.alerts(pid, Some(AlertStatus::Open), 5).await?;
    let watch_names = state.store.list_watches(pid).await?.into_iter().map(|w| (w.id, w.name)).collect();
    let sample = state.store.newest_texts(pid, period.from, period.to, TERM_SAMPLE).await?;
    let terms = vigie_pipeline::alerts::top_terms(sample.iter().map(String::as_str), 12);
    let figures = Arc::new(Figures { period, overview, previous_total, responses, open_alerts, watch_names, terms });
    state.overview_cache.put(key, generation, started, figures.clone());
    Ok(figures)
}

// The KPIs shown here are those of the reports, defined once in `crate::kpi`.
pub use crate::kpi::net_sentiment;

/// Net sentiment as the overview's tile shows it: signed, two decimals in
/// the reader's way (`-0,09`), and "—" for a period without mentions (as the
/// report says), where a number would claim a balance nobody expressed.
fn net_text(lang: Lang, positive: i64, negative: i64, total: i64) -> String {
    if total == 0 {
        "—".into()
    } else {
        lang.decimal(&format!("{:+.2}", crate::kpi::hundredths(net_sentiment(positive, negative, total))))
    }
}
use crate::kpi::{polarity_totals as totals, ratio};

/// A chart bucket's label, by the local clock of the period's zone: the
/// year too when the period spans more than one, the offset too for the
/// hour the clocks repeat when they go back (`25/10 02h CEST`, `25/10 02h CET`).
pub(crate) fn bucket_label(lang: Lang, start: i64, period: &Period) -> String {
    use chrono::{Datelike as _, TimeZone as _};
    let t = zone::instant(start);
    let years = zone::local_date(period.zone, period.from).year()
        != zone::local_date(period.zone, period.to - Duration::seconds(1)).year();
    let format = match (lang, period.bucket_secs < DAY, years) {
        (Lang::Fr, true, _) => "%d/%m %Hh",
        (Lang::En, true, _) => "%m-%d %H:00",
        (Lang::Fr, false, false) => "%d/%m",
        (Lang::En, false, false) => "%m-%d",
        (Lang::Fr, false, true) => "%d/%m/%y",
        (Lang::En, false, true) => "%Y-%m-%d",
    };
    let local = t.with_timezone(&period.zone);
    let repeated = period.bucket_secs < DAY
        && matches!(period.zone.from_local_datetime(&local.naive_local()), chrono::LocalResult::Ambiguous(..));
    if repeated { zone::format_in(period.zone, t, format) } else { zone::format_local(period.zone, t, format) }
}

async fn overview_api(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<PeriodQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let pid = actor.project_id()?;
    let f = figures(&state, pid, &q, &headers).await?;
    let (neg, neu, pos, unk) = totals(&f.overview);
    let watch_total: i64 = f.overview.per_watch.iter().map(|w| w.mentions).sum();
    Ok(Json(json!({
        "period": {"key": f.period.key, "from": f.period.from.to_rfc3339(), "to": f.period.to.to_rfc3339(), "bucket_secs": f.period.bucket_secs, "timezone": f.period.zone.name()},
        "total": f.overview.total,
        "previous_total": f.previous_total,
        "sentiment": {"negative": neg, "neutral": neu, "positive": pos, "unknown": unk,
                      "net": net_sentiment(pos, neg, f.overview.total)},
        "buckets": f.overview.buckets.iter().map(|b| json!({
            "start": zone::instant(b.start).to_rfc3339(),
            "negative": b.negative, "neutral": b.neutral, "positive": b.positive, "unknown": b.unknown,
        })).collect::<Vec<_>>(),
        "share_of_voice": f.overview.per_watch.iter().map(|w| json!({
            "watch_id": w.watch_id, "name": w.name, "competitor": w.competitor, "mentions": w.mentions,
            "negative": w.negative, "positive": w.positive,
            "share": ratio(w.mentions, watch_total).unwrap_or(0.0),
        })).collect::<Vec<_>>(),
        "top_sites": f.overview.top_sites.iter().map(|r| json!({"site": r.key, "mentions": r.count})).collect::<Vec<_>>(),
        "top_authors": f.overview.top_authors.iter().map(|a| json!({"author": a.author, "site": a.site, "mentions": a.mentions, "reach_score": (a.reach_score * 10.0).round() / 10.0})).collect::<Vec<_>>(),
        "themes": f.overview.per_theme.iter().map(|r| json!({"theme": r.key, "mentions": r.count})).collect::<Vec<_>>(),
        "sources": f.overview.per_source_kind.iter().map(|r| json!({"source": r.key, "mentions": r.count})).collect::<Vec<_>>(),
        "terms": f.terms,
        "responses": {
            "entered": f.responses.entered, "answered": f.responses.answered, "with_target": f.responses.with_target, "within_target": f.responses.within_target,
            "median_secs": f.responses.median_secs, "p90_secs": f.responses.p90_secs,
            "pending": f.responses.pending, "overdue": f.responses.overdue,
        },
        "open_alerts": f.open_alerts.iter().map(|a| json!({"id": a.id, "title": a.title, "severity": a.severity.as_str(), "opened_at": a.opened_at.to_rfc3339()})).collect::<Vec<_>>(),
    })))
}

async fn overview_page(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<PeriodQuery>,
    headers: HeaderMap,
) -> PageResult {
    let lang = actor.lang;
    let pid = actor.project_id()?;
    let f = match figures(&state, pid, &q, &headers).await {
        Ok(f) => f,
        Err(e) if e.code == crate::ErrorCode::InvalidRequest => {
            let body = html! { h1 { (lang.t("Vue d'ensemble", "Overview")) } (period_bar(lang, pid, None, &q)) p.error-message { (e.message_in(lang)) } };
            // The form again, with why, answered as the refusal it is.
            let mut answer = page(&state, &actor, Nav::Overview, lang.t("Vue d'ensemble", "Overview"), body).await?;
            *answer.status_mut() = axum::http::StatusCode::BAD_REQUEST;
            return Ok(answer);
        }
        Err(e) => return Err(e.into()),
    };
    let o = &f.overview;
    // Themes by the names the project gave them (the counts are by key).
    let theme_names: std::collections::HashMap<String, String> =
        super::themes_for(&state, pid, lang).await?.into_iter().map(|t| (t.key, t.name)).collect();
    let (neg, neu, pos, unk) = totals(o);
    let labels: Vec<String> = o.buckets.iter().map(|b| bucket_label(lang, b.start, &f.period)).collect();
    let volume = StackedBars {
        title: lang.t("Volume par sentiment", "Volume by sentiment").into(),
        lang: lang.chart(),
        labels: labels.clone(),
        series: vec![
            Series {
                name: lang.t("négatif", "negative").into(),
                color: Color::Negative,
                values: o.buckets.iter().map(|b| b.negative as f64).collect(),
            },
            Series {
                name: lang.t("neutre", "neutral").into(),
                color: Color::Neutral,
                values: o.buckets.iter().map(|b| b.neutral as f64).collect(),
            },
            Series {
                name: lang.t("positif", "positive").into(),
                color: Color::Positive,
                values: o.buckets.iter().map(|b| b.positive as f64).collect(),
            },
            Series {
                name: lang.t("inconnu", "unknown").into(),
                color: Color::Unknown,
                values: o.buckets.iter().map(|b| b.unknown as f64).collect(),
            },
        ],
        width: 1100,
        height: 320,
    };
    let net = LineChart {
        title: lang.t("Sentiment net", "Net sentiment").into(),
        lang: lang.chart(),
        labels,
        series: vec![Series {
            name: lang.t("net (positif − négatif) / total", "net (positive − negative) / total").into(),
            color: Color::Accent(0),
            values: o
                .buckets
                .iter()
                .map(|b| {
                    let total = b.negative + b.neutral + b.positive + b.unknown;
                    // No mention that day: a gap in the line, not a neutral 0.
                    if total == 0 { f64::NAN } else { net_sentiment(b.positive, b.negative, total) }
                })
                .collect(),
        }],
        width: 540,
        height: 260,
        y_min: Some(-1.0),
        y_max: Some(1.0),
        zero_line: true,
    };
    let share = share_of_voice(lang, &o.per_watch, 540);
    let sites = HBars {
        title: lang.t("Sources principales", "Top sources").into(),
        lang: lang.chart(),
        rows: o.top_sites.iter().map(|r| (r.key.clone(), r.count as f64)).collect(),
        color: Color::Accent(1),
        width: 540,
        value_suffix: String::new(),
    };
    let themes = HBars {
        title: lang.t("Thèmes", "Themes").into(),
        lang: lang.chart(),
        rows: o
            .per_theme
            .iter()
            .map(|r| (theme_names.get(&r.key).cloned().unwrap_or_else(|| r.key.clone()), r.count as f64))
            .collect(),
        color: Color::Accent(2),
        width: 540,
        value_suffix: String::new(),
    };
    let change = crate::kpi::relative_change(o.total as f64, f.previous_total as f64);
    let r = &f.responses;
    let body = html! {
        h1 { (lang.t("Vue d'ensemble", "Overview")) }
        (period_bar(lang, pid, Some(&f.period), &q))
        section.kpis {
            (kpi(&lang.number(o.total), lang.t("mentions", "mentions"), change.map(|c| format!("{}{} {}", if c >= 0.0 { "+" } else { "" }, lang.percent(c), lang.t("vs période précédente", "vs previous period")))))
            (kpi(&net_text(lang, pos, neg, o.total), lang.t("sentiment net", "net sentiment"), Some(format!("{} {} · {} {}", lang.number(neg), lang.t("nég.", "neg."), lang.number(pos), lang.t("pos.", "pos.")))))
            (kpi(&ratio(neg, o.total).map_or_else(|| "—".into(), |v| lang.percent(v)), lang.t("part négative", "negative share"), None))
            (kpi(&ratio(r.answered, r.entered).map_or_else(|| "—".into(), |v| lang.percent(v)), lang.t("taux de réponse", "response rate"), Some(format!("{} / {}", lang.number(r.answered), lang.number(r.entered)))))
            (kpi(&r.median_secs.map(|s| lang.duration(s)).unwrap_or_else(|| "—".into()), lang.t("temps de réponse médian", "median response time"), r.p90_secs.map(|s| format!("p90 {}", lang.duration(s)))))
            (kpi(&lang.number(r.pending), lang.t("en attente (entrées sur la période)", "pending (entered in the period)"), (r.overdue > 0).then(|| format!("{} {}", lang.number(r.overdue), lang.t("en retard", "overdue")))))
        }
        div.charts {
            div.card.wide { (chart(lang, &volume, lang.t("Période", "Period"))) }
            div.card { (chart(lang, &net, lang.t("Période", "Period"))) }
            div.card { (chart(lang, &share, lang.t("Veille", "Watch"))) }
            div.card { (chart(lang, &sites, lang.t("Site", "Site"))) }
            div.card { (chart(lang, &themes, lang.t("Thème", "Theme"))) }
            div.card {
                h2 { (lang.t("Auteurs les plus influents", "Top authors by reach")) }
                @if o.top_authors.is_empty() { p.muted { "—" } } @else {
                    div.table-wrap { table {
                        thead { tr { th { (lang.t("Auteur", "Author")) } th { (lang.t("Site", "Site")) } th.num { (lang.t("Mentions", "Mentions")) } th.num { (lang.t("Portée", "Reach")) } } }
                        tbody { @for a in &o.top_authors { tr {
                            td { (a.author) } td { (a.site.as_deref().unwrap_or("")) } td.num { (lang.number(a.mentions)) } td.num { (format!("{:.0}", a.reach_score)) }
                        } } }
                    } }
                }
            }
            div.card {
                h2 { (lang.t("Termes fréquents", "Trending terms")) }
                @if f.terms.is_empty() { p.muted { "—" } } @else {
                    // The period's local days (the mentions page filters by
                    // the installation's days, not UTC ones).
                    @let days = format!(
                        "&from={}&to={}",
                        zone::local_date(f.period.zone, f.period.from),
                        zone::local_date(f.period.zone, f.period.to - chrono::Duration::seconds(1))
                    );
                    ul.terms { @for t in &f.terms { li { a.badge href={ "/p/" (pid) "/mentions?q=" (url_encode(t)) (days) } { (t) } } } }
                }
                h2 { (lang.t("Alertes ouvertes", "Open alerts")) }
                @if f.open_alerts.is_empty() { p.muted { (lang.t("Aucune alerte ouverte.", "No open alert.")) } } @else {
                    ul { @for a in &f.open_alerts { li {
                        span class={ "badge severity-" (a.severity.as_str()) } { (super::alerts::severity_label(lang, a.severity)) } " "
                        a href={ "/p/" (pid) "/alerts/" (a.id) } { (super::alerts::alert_title(lang, a, a.watch_id.and_then(|w| f.watch_names.get(&w)).map(String::as_str))) }
                    } } }
                }
            }
        }
        p.muted { (lang.t("Sentiment : ", "Sentiment: ")) (lang.number(neg)) " " (fr_plural(lang, neg, "négative", "negative")) ", " (lang.number(neu)) " " (fr_plural(lang, neu, "neutre", "neutral")) ", " (lang.number(pos)) " " (fr_plural(lang, pos, "positive", "positive")) ", " (lang.number(unk)) " " (fr_plural(lang, unk, "inconnue", "unknown")) "." }
    };
    page(&state, &actor, Nav::Overview, lang.t("Vue d'ensemble", "Overview"), body).await
}

fn kpi(value: &str, label: &str, sub: Option<String>) -> Markup {
    html! { div.kpi { div.value { (value) } div.label { (label) } @if let Some(s) = sub { div.muted { (s) } } } }
}

pub fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The period links and the custom-dates form.
fn period_bar(lang: Lang, pid: i64, current: Option<&Period>, q: &PeriodQuery) -> Markup {
    let key = current.map(|p| p.key.as_str()).unwrap_or("");
    html! {
        div.period {
            @for p in PRESETS {
                a href={ "/p/" (pid) "/overview?period=" (p) } aria-current=[(key == p).then_some("true")] {
                    (match p { "24h" => lang.t("24 h", "24 h"), "7d" => lang.t("7 jours", "7 days"), "30d" => lang.t("30 jours", "30 days"), _ => lang.t("90 jours", "90 days") })
                }
            }
            form method="get" action={ "/p/" (pid) "/overview" } {
                label { (lang.t("Du", "From")) input type="date" name="from" value=(q.from.as_deref().unwrap_or("")); }
                label { (lang.t("au", "to")) input type="date" name="to" value=(q.to.as_deref().unwrap_or("")); }
                button.secondary type="submit" { (lang.t("Afficher", "Show")) }
            }
        }
    }
}

/// The share of voice of every watch, competitors marked (the overview's
/// and the report's chart).
pub(crate) fn share_of_voice(lang: Lang, per_watch: &[vigie_store::WatchCount], width: u32) -> ShareBar {
    ShareBar {
        title: lang.t("Part de voix", "Share of voice").into(),
        lang: lang.chart(),
        parts: per_watch
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let name = if w.competitor {
                    format!("{} ({})", w.name, lang.t("concurrent", "competitor"))
                } else {
                    w.name.clone()
                };
                (name, w.mentions as f64, Color::Accent(i as u8))
            })
            .collect(),
        width,
    }
}

/// A French adjective agreeing with its count (`1 neutre`, `2 neutres`,
/// `0 neutre`); the English one as it is.
fn fr_plural(lang: Lang, n: i64, french: &str, english: &'static str) -> String {
    match lang {
        Lang::Fr if n > 1 => format!("{french}s"),
        Lang::Fr => french.to_string(),
        Lang::En => english.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn presets_end_with_the_bucket_holding_now() {
        let now = at("2026-11-24T10:17:00Z");
        let p = Period::resolve(&PeriodQuery { period: Some("24h".into()), ..Default::default() }, now, Tz::UTC)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(p.to, at("2026-11-24T11:00:00Z"));
        assert_eq!(p.from, at("2026-11-23T11:00:00Z"));
        assert_eq!(p.bucket_secs, 3_600);
        assert_eq!(p.previous().to, p.from);
        let bad = Period::resolve(&PeriodQuery { period: Some("1y".into()), ..Default::default() }, now, Tz::UTC);
        assert!(bad.is_err_and(|e| e.message.contains("24h, 7d")));
    }

    #[test]
    fn periods_are_local_days_and_hours_in_the_installation_zone() {
        let paris = zone::parse_zone("Europe/Paris").unwrap();
        // 23:30 UTC on the 24th is 00:30 on the 25th in Paris.
        let now = at("2026-11-24T23:30:00Z");
        let p = Period::resolve(&PeriodQuery { period: Some("30d".into()), ..Default::default() }, now, paris).unwrap();
        // Thirty Paris days, the last one the 25th, ending at its midnight.
        assert_eq!((p.from, p.to), (at("2026-10-26T23:00:00Z"), at("2026-11-25T23:00:00Z")));
        assert_eq!(p.buckets.starts().len(), 30);
        assert_eq!(bucket_label(Lang::Fr, *p.buckets.starts().last().unwrap(), &p), "25/11");
        // The previous thirty days cross the end of summer time (25 October):
        // one of them lasts 25 hours, and each still starts at local midnight.
        let prev = p.previous();
        assert_eq!((prev.from, prev.to), (at("2026-09-26T22:00:00Z"), p.from));
        assert_eq!(prev.buckets.starts().len(), 30);
        assert!(prev.buckets.starts().iter().all(|&s| bucket_label(Lang::En, s, &prev).len() == 5));
        assert!(prev.buckets.starts().iter().all(|&s| zone::format_local(paris, zone::instant(s), "%H:%M") == "00:00"));
        // Hours: the 24 hours ending with the local hour that holds now.
        let p = Period::resolve(&PeriodQuery { period: Some("24h".into()), ..Default::default() }, now, paris).unwrap();
        assert_eq!(p.to, at("2026-11-25T00:00:00Z"));
        assert_eq!(bucket_label(Lang::Fr, p.buckets.starts()[0], &p), "24/11 01h");
        // Custom dates are local days.
        let q = PeriodQuery { from: Some("2026-11-01".into()), to: Some("2026-11-03".into()), ..Default::default() };
        let p = Period::resolve(&q, now, paris).unwrap();
        assert_eq!((p.from, p.to), (at("2026-10-31T23:00:00Z"), at("2026-11-03T23:00:00Z")));
        // One day (hourly bars): the day before is the previous period, 25
        // hours long when the clocks went back that night.
        let q = PeriodQuery { from: Some("2026-10-26".into()), to: Some("2026-10-26".into()), ..Default::default() };
        let p = Period::resolve(&q, now, paris).unwrap();
        assert_eq!(p.bucket_secs, 3_600);
        let prev = p.previous();
        assert_eq!((prev.from, prev.to), (at("2026-10-24T22:00:00Z"), at("2026-10-25T23:00:00Z")));
        // The night the clocks go back, the repeated hour's two bars say
        // which is which; a period over two years says the year.
        let q = PeriodQuery { from: Some("2026-10-25".into()), to: Some("2026-10-25".into()), ..Default::default() };
        let p = Period::resolve(&q, now, paris).unwrap();
        let labels: Vec<String> = p.buckets.starts().iter().map(|&s| bucket_label(Lang::Fr, s, &p)).collect();
        assert_eq!(labels.len(), 25);
        assert_eq!(&labels[1..4], ["25/10 01h", "25/10 02h CEST", "25/10 02h CET"]);
        let q = PeriodQuery { from: Some("2025-12-01".into()), to: Some("2026-01-31".into()), ..Default::default() };
        let p = Period::resolve(&q, now, paris).unwrap();
        assert_eq!(bucket_label(Lang::Fr, p.buckets.starts()[0], &p), "01/12/25");
        assert_eq!(bucket_label(Lang::En, *p.buckets.starts().last().unwrap(), &p), "2026-01-31");
        // A monthly report's previous period is the calendar month before.
        let october = Period::new("monthly", at("2026-09-30T22:00:00Z"), at("2026-10-31T23:00:00Z"), DAY, paris);
        assert_eq!(october.previous().from, at("2026-08-31T22:00:00Z"));
        // So is that of chosen dates that are whole months, as in the
        // monthly e-mail; other dates go back as many days.
        let dates = |from: &str, to: &str| {
            let q = PeriodQuery { from: Some(from.into()), to: Some(to.into()), ..Default::default() };
            let p = Period::resolve(&q, now, paris).unwrap();
            let prev = p.previous();
            assert_eq!(prev.to, p.from);
            prev.from
        };
        assert_eq!(dates("2026-10-01", "2026-10-31"), at("2026-08-31T22:00:00Z"), "September, 1st to 30th");
        assert_eq!(dates("2026-11-01", "2026-11-30"), at("2026-09-30T22:00:00Z"), "October, 1st to 31st");
        assert_eq!(dates("2026-09-01", "2026-10-31"), at("2026-06-30T22:00:00Z"), "July and August");
        assert_eq!(dates("2026-10-02", "2026-10-31"), at("2026-09-01T22:00:00Z"), "30 days before the 2nd");
        // Without dates, "to" is today in Paris: the 25th.
        let q = PeriodQuery { from: Some("2026-11-20".into()), ..Default::default() };
        assert_eq!(Period::resolve(&q, now, paris).unwrap().to, at("2026-11-25T23:00:00Z"));
    }

    #[test]
    fn custom_dates_are_whole_days_and_checked() {
        let now = at("2026-11-24T10:17:00Z");
        let q = PeriodQuery { from: Some("2026-11-01".into()), to: Some("2026-11-03".into()), ..Default::default() };
        let p = Period::resolve(&q, now, Tz::UTC).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((p.from, p.to), (at("2026-11-01T00:00:00Z"), at("2026-11-04T00:00:00Z")));
        assert_eq!(p.bucket_secs, 86_400);
        let q = PeriodQuery { from: Some("2026-11-05".into()), to: Some("2026-11-03".into()), ..Default::default() };
        let e = Period::resolve(&q, now, Tz::UTC).unwrap_err();
        assert_eq!(e.message_in(Lang::En), "from must be on or before to", "the API's message");
        assert!(e.message_in(Lang::Fr).contains("date de début"), "a French reader's: {:?}", e.message_fr);
        let q = PeriodQuery { from: Some("yesterday".into()), ..Default::default() };
        assert!(Period::resolve(&q, now, Tz::UTC).is_err_and(|e| e.message.contains("YYYY-MM-DD")));
    }

    #[test]
    fn net_sentiment_is_written_the_readers_way() {
        assert_eq!(net_text(Lang::Fr, 1, 2, 11), "-0,09");
        assert_eq!(net_text(Lang::En, 1, 2, 11), "-0.09");
        assert_eq!(net_text(Lang::Fr, 0, 0, 0), "—");
    }

    #[test]
    fn net_sentiment_is_bounded() {
        assert_eq!(net_sentiment(3, 1, 10), 0.2);
        assert_eq!(net_sentiment(0, 0, 0), 0.0);
        assert_eq!(net_sentiment(0, 5, 5), -1.0);
    }

    #[test]
    fn a_period_and_dates_together_are_refused() {
        let now = at("2026-11-10T12:00:00Z");
        let q = PeriodQuery { period: Some("7d".into()), from: Some("2026-11-01".into()), ..Default::default() };
        let err = Period::resolve(&q, now, Tz::UTC).err().map(|e| e.message).unwrap_or_default();
        assert!(err.contains("not both"), "{err}");
        // Empty fields, as a form sends them, are no dates.
        let q = PeriodQuery { period: Some("7d".into()), from: Some(String::new()), to: Some(" ".into()) };
        assert_eq!(Period::resolve(&q, now, Tz::UTC).map(|p| p.key).ok().as_deref(), Some("7d"));
    }
}

//! The KPIs a communication team reports upward, defined once: the report
//! page, its download, its JSON twin, the KPI export and the e-mailed
//! reports read them from here, and the overview computes the numbers it
//! shares with them (net sentiment, shares, changes) with these functions.
//!
//! Definitions, over the mentions *published* in the period `[from, to)`
//! (UTC) unless said otherwise:
//!
//! - **volume**: the number of mentions.
//! - **net sentiment**: (positive − negative) / volume, in [-1, 1]; a
//!   person's correction wins over the model's verdict; 0 when empty.
//! - **share of voice**: the matches of the project's own watches over the
//!   matches of all its watches, competitor watches included (a mention
//!   matching two watches counts for each); none without any match.
//! - **reach**: each mention's reach score (0–100, `vigie_nlp::reach`) summed
//!   over the period (*total reach*), and the median score of the mentions
//!   that have one (*median reach*, nearest rank).
//! - **response rate**: of the inbox items that *entered* the inbox in the
//!   period (ignored ones excluded), the share with a first response.
//! - **first-response time**: median and 90th percentile (nearest rank) of
//!   first response − entry, over the answered ones.
//! - **answered within target**: of the answered ones that had a due time
//!   (their department has a response target), the share answered by it;
//!   none when no answered item had one.
//! - **alerts raised**: alerts *opened* in the period; **time to
//!   acknowledge**: the median of (acknowledgement, else resolution) −
//!   opening over those acknowledged.
//!
//! Per department: the response KPIs of the items routed to it. Per source:
//! the volume of each source kind. Each KPI comes with the value of the
//! period of the same length just before and the change.

use crate::pages::overview::Period;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vigie_store::{Buckets, Overview, ReportStats, ResponseScope, ResponseStats, Store};

use crate::error::ApiError;
use crate::i18n::Lang;

/// Net sentiment: (positive − negative) / all, in [-1, 1]; 0 when empty.
pub fn net_sentiment(positive: i64, negative: i64, total: i64) -> f64 {
    if total <= 0 { 0.0 } else { (positive - negative) as f64 / total as f64 }
}

/// `part / whole`, none when the whole is empty.
pub fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The relative change from `previous` to `current`; none from 0.
pub fn relative_change(current: f64, previous: f64) -> Option<f64> {
    (previous != 0.0 && previous.is_finite() && current.is_finite()).then(|| (current - previous) / previous.abs())
}

/// Mentions by polarity: (negative, neutral, positive, unknown).
pub fn polarity_totals(o: &Overview) -> (i64, i64, i64, i64) {
    o.buckets
        .iter()
        .fold((0, 0, 0, 0), |(n, u, p, k), b| (n + b.negative, u + b.neutral, p + b.positive, k + b.unknown))
}

/// What a KPI's value is, for formatting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    /// A ratio in [0, 1], shown as a percentage.
    Share,
    /// In [-1, 1], shown with a sign.
    Signed,
    /// A reach score (0–100) or a sum of them.
    Score,
    Seconds,
}

/// The response figures of one period as KPIs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseKpis {
    pub entered: i64,
    pub answered: i64,
    pub response_rate: Option<f64>,
    pub median_first_response_secs: Option<i64>,
    pub p90_first_response_secs: Option<i64>,
    pub within_target_share: Option<f64>,
}

impl ResponseKpis {
    pub fn from_stats(r: &ResponseStats) -> ResponseKpis {
        ResponseKpis {
            entered: r.entered,
            answered: r.answered,
            response_rate: ratio(r.answered, r.entered),
            median_first_response_secs: r.median_secs,
            p90_first_response_secs: r.p90_secs,
            within_target_share: ratio(r.within_target, r.with_target),
        }
    }
}

/// The KPIs of one period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kpis {
    pub volume: i64,
    pub negative: i64,
    pub positive: i64,
    pub net_sentiment: f64,
    pub share_of_voice: Option<f64>,
    pub reach_total: f64,
    pub reach_median: Option<f64>,
    pub responses: ResponseKpis,
    pub alerts_raised: i64,
    pub ack_median_secs: Option<i64>,
}

impl Kpis {
    /// The one definition, from what the store counted.
    pub fn compute(overview: &Overview, responses: &ResponseStats, stats: &ReportStats) -> Kpis {
        let (negative, _, positive, _) = polarity_totals(overview);
        let own: i64 = overview.per_watch.iter().filter(|w| !w.competitor).map(|w| w.mentions).sum();
        let all: i64 = overview.per_watch.iter().map(|w| w.mentions).sum();
        Kpis {
            volume: overview.total,
            negative,
            positive,
            net_sentiment: net_sentiment(positive, negative, overview.total),
            share_of_voice: ratio(own, all),
            reach_total: stats.reach_total,
            reach_median: stats.reach_median,
            responses: ResponseKpis::from_stats(responses),
            alerts_raised: stats.alerts_raised,
            ack_median_secs: stats.ack_median_secs,
        }
    }
}

/// One KPI line: its stable key, its names, this period's and the previous
/// period's value.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiRow {
    pub key: &'static str,
    pub fr: &'static str,
    pub en: &'static str,
    pub unit: Unit,
    pub current: Option<f64>,
    pub previous: Option<f64>,
}

impl KpiRow {
    pub fn label(&self, lang: Lang) -> &'static str {
        lang.t(self.fr, self.en)
    }

    /// Current − previous (in points for shares and net sentiment).
    pub fn change(&self) -> Option<f64> {
        // Rounded past what any figure means, so that 3.3 − 1.1 is 2.2 in an
        // export, not 2.1999999999999997.
        Some(((self.current? - self.previous?) * 1e9).round() / 1e9)
    }

    /// The relative change, for counts, scores and times.
    pub fn relative(&self) -> Option<f64> {
        match self.unit {
            Unit::Share | Unit::Signed => None,
            _ => relative_change(self.current?, self.previous?),
        }
    }

    pub fn format(&self, lang: Lang, v: Option<f64>) -> String {
        format_value(lang, self.unit, v)
    }

    /// "+12.5 %" or "+0.10" or "+3.2 pts", "=" for no change, "new" from 0, or "—".
    pub fn format_change(&self, lang: Lang) -> String {
        let Some(d) = self.change() else { return "—".into() };
        if d == 0.0 {
            return "=".into();
        }
        let sign = if d > 0.0 { "+" } else { "" };
        match self.unit {
            Unit::Share => lang.decimal(&format!("{sign}{:.1} {}", d * 100.0, lang.t("pts", "pts"))),
            Unit::Signed => lang.decimal(&format!("{sign}{:.2}", hundredths(d))),
            _ => match self.relative() {
                Some(r) => format!("{}{}", if r > 0.0 { "+" } else { "" }, lang.percent(r)),
                None => lang.t("nouveau", "new").into(),
            },
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "key": self.key, "label": self.en, "unit": unit_name(self.unit),
            "value": self.current, "previous": self.previous, "change": self.change(), "relative_change": self.relative(),
        })
    }
}

/// `x` rounded to hundredths, halves away from zero as people round
/// (−0.125 is −0.13; the formatter alone would write the even −0.12).
pub fn hundredths(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Count => "count",
        Unit::Share => "share",
        Unit::Signed => "signed",
        Unit::Score => "score",
        Unit::Seconds => "seconds",
    }
}

pub fn format_value(lang: Lang, unit: Unit, v: Option<f64>) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else { return "—".into() };
    match unit {
        Unit::Count => lang.number(v.round() as i64),
        Unit::Share => lang.percent(v),
        Unit::Signed => lang.decimal(&format!("{:+.2}", hundredths(v))),
        Unit::Score => lang.number(v.round() as i64),
        Unit::Seconds => lang.duration(v.round() as i64),
    }
}

fn row(key: &'static str, fr: &'static str, en: &'static str, unit: Unit, c: Option<f64>, p: Option<f64>) -> KpiRow {
    // Reach scores are sums of stored f32 values: their float noise
    // (233721.39999771118) is not information.
    let clean = |v: Option<f64>| if unit == Unit::Score { v.map(|v| (v * 100.0).round() / 100.0) } else { v };
    KpiRow { key, fr, en, unit, current: clean(c), previous: clean(p) }
}

fn secs(v: Option<i64>) -> Option<f64> {
    v.map(|s| s as f64)
}

/// The response KPIs as rows (used for the whole project and per department).
pub fn response_rows(c: &ResponseKpis, p: &ResponseKpis) -> Vec<KpiRow> {
    vec![
        row(
            "entered",
            "entrées dans la boîte (hors ignorées)",
            "inbox items (ignored ones excluded)",
            Unit::Count,
            Some(c.entered as f64),
            Some(p.entered as f64),
        ),
        row("response_rate", "taux de réponse", "response rate", Unit::Share, c.response_rate, p.response_rate),
        row(
            "first_response_median_secs",
            "1re réponse, médiane",
            "first response, median",
            Unit::Seconds,
            secs(c.median_first_response_secs),
            secs(p.median_first_response_secs),
        ),
        row(
            "first_response_p90_secs",
            "1re réponse, p90",
            "first response, p90",
            Unit::Seconds,
            secs(c.p90_first_response_secs),
            secs(p.p90_first_response_secs),
        ),
        row(
            "answered_within_target",
            "répondues dans le délai",
            "answered within target",
            Unit::Share,
            c.within_target_share,
            p.within_target_share,
        ),
    ]
}

/// Every KPI of the project, in the order reports show them.
pub fn rows(c: &Kpis, p: &Kpis) -> Vec<KpiRow> {
    let mut rows = vec![
        row("volume", "volume", "volume", Unit::Count, Some(c.volume as f64), Some(p.volume as f64)),
        row(
            "net_sentiment",
            "sentiment net",
            "net sentiment",
            Unit::Signed,
            (c.volume > 0).then_some(c.net_sentiment),
            (p.volume > 0).then_some(p.net_sentiment),
        ),
        row("share_of_voice", "part de voix", "share of voice", Unit::Share, c.share_of_voice, p.share_of_voice),
        row("reach_total", "portée totale", "total reach", Unit::Score, Some(c.reach_total), Some(p.reach_total)),
        row("reach_median", "portée médiane", "median reach", Unit::Score, c.reach_median, p.reach_median),
    ];
    rows.extend(response_rows(&c.responses, &p.responses));
    rows.push(row(
        "alerts_raised",
        "alertes levées",
        "alerts raised",
        Unit::Count,
        Some(c.alerts_raised as f64),
        Some(p.alerts_raised as f64),
    ));
    rows.push(row(
        "ack_median_secs",
        "délai de prise en compte (médiane)",
        "time to acknowledge (median)",
        Unit::Seconds,
        secs(c.ack_median_secs),
        secs(p.ack_median_secs),
    ));
    rows
}

/// One department's response KPIs, this period and the previous one.
#[derive(Debug, Clone, PartialEq)]
pub struct DepartmentKpis {
    /// `None`: the items of no department (taken in by hand, not routed),
    /// listed when there are any, so the departments add up to the project.
    pub id: Option<i64>,
    pub name: String,
    pub current: ResponseKpis,
    pub previous: ResponseKpis,
}

/// One source kind's volume, this period and the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceKpis {
    pub source: String,
    pub current: i64,
    pub previous: i64,
}

/// The KPIs of a period next to the previous period's.
#[derive(Debug, Clone)]
pub struct KpiReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub current: Kpis,
    pub previous: Kpis,
    pub departments: Vec<DepartmentKpis>,
    pub sources: Vec<SourceKpis>,
    /// The period's overview (its buckets, for the charts).
    pub overview: Overview,
}

impl KpiReport {
    pub fn rows(&self) -> Vec<KpiRow> {
        rows(&self.current, &self.previous)
    }

    pub fn json(&self) -> Value {
        json!({
            "from": self.from.to_rfc3339(), "to": self.to.to_rfc3339(),
            "kpis": self.rows().iter().map(KpiRow::json).collect::<Vec<_>>(),
            "departments": self.departments.iter().map(|d| json!({
                "id": d.id, "name": d.name,
                "kpis": response_rows(&d.current, &d.previous).iter().map(KpiRow::json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "sources": self.sources.iter().map(|s| json!({
                "source": s.source, "volume": s.current, "previous": s.previous,
                "relative_change": relative_change(s.current as f64, s.previous as f64),
            })).collect::<Vec<_>>(),
        })
    }
}

/// Source kinds listed at most.
const TOP: i64 = 50;

/// Reads what the KPIs need for `period` and the one before it
/// ([`Period::previous`]), with the overview in the period's buckets.
pub async fn compute(
    store: &dyn Store,
    project_id: i64,
    period: &Period,
    now: DateTime<Utc>,
) -> Result<KpiReport, ApiError> {
    let (from, to) = (period.from, period.to);
    let previous = period.previous();
    let (prev_from, prev_to) = (previous.from, previous.to);
    let overview = store.overview(project_id, from, to, &period.buckets, TOP).await?;
    let prev_overview = store.overview(project_id, prev_from, prev_to, &Buckets::whole(prev_from), TOP).await?;
    let responses = store.response_stats(project_id, ResponseScope::Project, from, to, now).await?;
    let prev_responses = store.response_stats(project_id, ResponseScope::Project, prev_from, prev_to, now).await?;
    let stats = store.report_stats(project_id, from, to).await?;
    let prev_stats = store.report_stats(project_id, prev_from, prev_to).await?;
    let mut departments = Vec::new();
    for d in store.list_departments(project_id).await? {
        let c = store.response_stats(project_id, ResponseScope::Department(d.id), from, to, now).await?;
        let p = store.response_stats(project_id, ResponseScope::Department(d.id), prev_from, prev_to, now).await?;
        departments.push(DepartmentKpis {
            id: Some(d.id),
            name: d.name,
            current: ResponseKpis::from_stats(&c),
            previous: ResponseKpis::from_stats(&p),
        });
    }
    let c = store.response_stats(project_id, ResponseScope::NoDepartment, from, to, now).await?;
    let p = store.response_stats(project_id, ResponseScope::NoDepartment, prev_from, prev_to, now).await?;
    if c.entered > 0 || p.entered > 0 {
        departments.push(DepartmentKpis {
            id: None,
            name: String::new(),
            current: ResponseKpis::from_stats(&c),
            previous: ResponseKpis::from_stats(&p),
        });
    }
    let mut sources: Vec<SourceKpis> = overview
        .per_source_kind
        .iter()
        .map(|r| SourceKpis { source: r.key.clone(), current: r.count, previous: 0 })
        .collect();
    for r in &prev_overview.per_source_kind {
        match sources.iter_mut().find(|s| s.source == r.key) {
            Some(s) => s.previous = r.count,
            None => sources.push(SourceKpis { source: r.key.clone(), current: 0, previous: r.count }),
        }
    }
    sources.sort_by(|a, b| b.current.cmp(&a.current).then(b.previous.cmp(&a.previous)).then(a.source.cmp(&b.source)));
    Ok(KpiReport {
        from,
        to,
        current: Kpis::compute(&overview, &responses, &stats),
        previous: Kpis::compute(&prev_overview, &prev_responses, &prev_stats),
        departments,
        sources,
        overview,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_store::{SentimentBucket, WatchCount};

    fn watch(name: &str, competitor: bool, mentions: i64) -> WatchCount {
        WatchCount { watch_id: 0, name: name.into(), competitor, mentions, negative: 0, positive: 0 }
    }

    /// A hand-computed fixture: 10 mentions (4 positive, 3 negative), own
    /// watches matched 6 times, a competitor 2 times; 8 items entered, 5
    /// answered, 4 of them in time.
    #[test]
    fn kpis_follow_their_definitions() {
        let overview = Overview {
            total: 10,
            buckets: vec![
                SentimentBucket { start: 0, negative: 2, neutral: 1, positive: 3, unknown: 0 },
                SentimentBucket { start: 3_600, negative: 1, neutral: 1, positive: 1, unknown: 1 },
            ],
            per_watch: vec![watch("us", false, 5), watch("also us", false, 1), watch("them", true, 2)],
            ..Overview::default()
        };
        let responses = ResponseStats {
            entered: 8,
            answered: 5,
            with_target: 5,
            within_target: 4,
            median_secs: Some(600),
            p90_secs: Some(7_200),
            pending: 3,
            overdue: 1,
        };
        let stats = ReportStats {
            scored: 4,
            reach_total: 130.0,
            reach_median: Some(30.0),
            alerts_raised: 2,
            alerts_acknowledged: 1,
            ack_median_secs: Some(900),
        };
        let k = Kpis::compute(&overview, &responses, &stats);
        assert_eq!(k.volume, 10);
        assert_eq!((k.positive, k.negative), (4, 3));
        assert!((k.net_sentiment - 0.1).abs() < 1e-12);
        assert_eq!(k.share_of_voice, Some(0.75));
        assert_eq!(k.responses.response_rate, Some(5.0 / 8.0));
        assert_eq!(k.responses.within_target_share, Some(0.8));
        // Answered items without a target are not "within" it: only those
        // with one count, and without any there is no share.
        let some = ResponseStats { with_target: 2, within_target: 1, ..responses.clone() };
        assert_eq!(Kpis::compute(&overview, &some, &stats).responses.within_target_share, Some(0.5));
        let none = ResponseStats { with_target: 0, within_target: 0, ..responses.clone() };
        assert_eq!(Kpis::compute(&overview, &none, &stats).responses.within_target_share, None);
        assert_eq!(
            (k.reach_total, k.reach_median, k.alerts_raised, k.ack_median_secs),
            (130.0, Some(30.0), 2, Some(900))
        );

        let empty = Kpis::compute(&Overview::default(), &ResponseStats::default(), &ReportStats::default());
        assert_eq!((empty.share_of_voice, empty.responses.response_rate, empty.net_sentiment), (None, None, 0.0));

        let rows = rows(&k, &empty);
        let get = |key: &str| rows.iter().find(|r| r.key == key).unwrap_or_else(|| panic!("{key}"));
        assert_eq!(get("volume").change(), Some(10.0));
        assert_eq!(get("volume").format_change(Lang::En), "new");
        assert_eq!(get("net_sentiment").previous, None, "no net sentiment of an empty period");
        assert_eq!(get("response_rate").format(Lang::En, get("response_rate").current), "62.5 %");
        assert_eq!(get("first_response_p90_secs").format(Lang::Fr, Some(7_200.0)), "2 h");
        let again = super::rows(&k, &k);
        assert!(again.iter().all(|r| r.change().is_none_or(|c| c == 0.0)));
        assert_eq!(again.iter().find(|r| r.key == "volume").map(|r| r.format_change(Lang::En)), Some("=".into()));
    }

    #[test]
    fn changes_are_relative_for_counts_and_in_points_for_shares() {
        let r =
            KpiRow { key: "volume", fr: "", en: "", unit: Unit::Count, current: Some(150.0), previous: Some(100.0) };
        assert_eq!(r.format_change(Lang::En), "+50.0 %");
        let s = KpiRow { unit: Unit::Share, current: Some(0.5), previous: Some(0.25), ..r.clone() };
        assert_eq!(s.format_change(Lang::En), "+25.0 pts");
        assert_eq!(s.relative(), None);
        assert_eq!(relative_change(1.0, 0.0), None);
        assert_eq!(net_sentiment(0, 5, 5), -1.0);
        assert_eq!(format_value(Lang::Fr, Unit::Signed, Some(-0.125)), "-0,13");
        // No float noise in what is exported.
        let noisy = KpiRow { unit: Unit::Signed, current: Some(3.3), previous: Some(1.1), ..r.clone() };
        assert_eq!(noisy.change().unwrap().to_string(), "2.2");
    }
}

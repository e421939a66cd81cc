//! The overview's figures kept per hour, so that a 90-day overview over
//! millions of mentions adds up a few thousand small rows instead of reading
//! every mention of the period.
//!
//! An hour's rollup (polarity counts, per watch, site, author, theme and
//! source kind) lives in `overview_hours` as JSON. It is a cache of the
//! mentions, never the truth: database triggers clear an hour and bump its
//! `version` whenever one of its mentions is inserted, deleted or changes in
//! a way the overview shows (sentiment, correction, analysis, watch matches,
//! site, author, reach, source kind, publication time). A rollup computed
//! here is saved only if the hour's `version` is still the one read before
//! its mentions were, so a change committed meanwhile leaves the hour to be
//! computed again: a cached hour never misses a change.
//!
//! Recent hours (the last [`HOT_SECS`] by the database's clock) are never
//! cached, and the triggers ignore changes to them (two hours; the extra hour
//! covers a write transaction that started before the compute and committed
//! after it): live ingestion writes nothing here and those hours are added
//! up from the mentions on each request, which is cheap for a few hours.
//!
//! Both backends share this module through [`RollupSource`]; periods that
//! are not whole hours fall back to the backends' direct queries.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use vigie_model::Polarity;

use crate::workflow::{AuthorRow, Buckets, Overview, WatchCount};
use crate::{CountRow, Result, StoreError};

pub(crate) const HOUR: i64 = 3_600;
/// Hours that end less than this before the database's clock are computed on
/// each request, never saved (the triggers skip the last two hours).
pub(crate) const HOT_SECS: i64 = 3 * HOUR;
/// Hours read from the mentions in one query when filling the cache.
const FILL_HOURS: i64 = 24;

/// One mention as the overview counts it.
#[derive(Debug, Clone, Default)]
pub(crate) struct RollupRow {
    pub published_at: i64,
    /// The correction if any, else the verdict.
    pub polarity: Option<String>,
    pub site: Option<String>,
    pub author: Option<String>,
    pub reach_score: Option<f64>,
    pub source_kind: String,
    /// The analysis's `themes` array, as JSON.
    pub themes: Option<String>,
    /// The mention's `matches` object (watch id → terms), as JSON.
    pub matches: Option<String>,
}

/// An author's mentions in the hour.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct AuthorAgg {
    n: i64,
    /// The smallest site they wrote on (as SQL's `MIN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    site: Option<String>,
    /// The highest reach score, if any mention had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reach: Option<f64>,
}

/// The figures of one hour (or, merged, of a period).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct HourRollup {
    /// negative, neutral, positive, unknown.
    #[serde(default)]
    p: [i64; 4],
    /// Watch id → mentions, negative, positive.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    w: BTreeMap<i64, [i64; 3]>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    s: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    a: BTreeMap<String, AuthorAgg>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    t: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    k: BTreeMap<String, i64>,
}

#[derive(Deserialize)]
struct ThemeScore {
    theme: String,
}

impl HourRollup {
    pub(crate) fn add(&mut self, row: &RollupRow) -> Result<()> {
        let polarity = row
            .polarity
            .as_deref()
            .map(|p| p.parse::<Polarity>().map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()?;
        let slot = match polarity {
            Some(Polarity::Negative) => 0,
            Some(Polarity::Neutral) => 1,
            Some(Polarity::Positive) => 2,
            None => 3,
        };
        self.p[slot] += 1;
        if let Some(matches) = row.matches.as_deref() {
            let map: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(matches).map_err(|e| StoreError::Corrupt(format!("stored watch matches: {e}")))?;
            for key in map.keys() {
                let id: i64 = key.parse().map_err(|_| StoreError::Corrupt(format!("watch id {key:?} in matches")))?;
                let counts = self.w.entry(id).or_default();
                counts[0] += 1;
                counts[1] += i64::from(slot == 0);
                counts[2] += i64::from(slot == 2);
            }
        }
        if let Some(site) = &row.site {
            *self.s.entry(site.clone()).or_default() += 1;
        }
        if let Some(author) = &row.author {
            let agg = self.a.entry(author.clone()).or_default();
            agg.n += 1;
            if let Some(site) = &row.site
                && agg.site.as_ref().is_none_or(|s| site < s)
            {
                agg.site = Some(site.clone());
            }
            if let Some(reach) = row.reach_score
                && agg.reach.is_none_or(|r| reach > r)
            {
                agg.reach = Some(reach);
            }
        }
        if let Some(themes) = row.themes.as_deref() {
            let themes: Vec<ThemeScore> =
                serde_json::from_str(themes).map_err(|e| StoreError::Corrupt(format!("stored themes: {e}")))?;
            for t in themes {
                *self.t.entry(t.theme).or_default() += 1;
            }
        }
        *self.k.entry(row.source_kind.clone()).or_default() += 1;
        Ok(())
    }

    fn merge(&mut self, other: &HourRollup) {
        for (mine, theirs) in self.p.iter_mut().zip(other.p) {
            *mine += theirs;
        }
        for (id, counts) in &other.w {
            let mine = self.w.entry(*id).or_default();
            for (m, t) in mine.iter_mut().zip(counts) {
                *m += t;
            }
        }
        for (mine, theirs) in [(&mut self.s, &other.s), (&mut self.t, &other.t), (&mut self.k, &other.k)] {
            for (key, n) in theirs {
                *mine.entry(key.clone()).or_default() += n;
            }
        }
        for (author, theirs) in &other.a {
            let mine = self.a.entry(author.clone()).or_default();
            mine.n += theirs.n;
            if let Some(site) = &theirs.site
                && mine.site.as_ref().is_none_or(|s| site < s)
            {
                mine.site = Some(site.clone());
            }
            if let Some(reach) = theirs.reach
                && mine.reach.is_none_or(|r| reach > r)
            {
                mine.reach = Some(reach);
            }
        }
    }

    fn total(&self) -> i64 {
        self.p.iter().sum()
    }

    pub(crate) fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    fn from_json(s: &str) -> Result<HourRollup> {
        serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("overview rollup: {e}")))
    }
}

/// An hour as stored: its version and, unless it is to be computed, its rollup.
pub(crate) struct StoredHour {
    pub hour: i64,
    pub version: i64,
    pub data: Option<String>,
}

/// An hour to save: `expected` is the version read before its mentions
/// (`None`: there was no row, and the save must not replace one made since).
pub(crate) struct HourToSave {
    pub hour: i64,
    pub expected: Option<i64>,
    pub data: String,
}

/// What a backend provides for the overview's rollups.
#[async_trait]
pub(crate) trait RollupSource: crate::Store {
    /// Seconds since the epoch by the database's clock (the one the triggers read).
    async fn db_now(&self) -> Result<i64>;
    /// The stored hours of `[h0, h1)`.
    async fn stored_hours(&self, project_id: i64, h0: i64, h1: i64) -> Result<Vec<StoredHour>>;
    /// The rollups of the hours of `[from, to)` (seconds) that have mentions.
    async fn compute_hours(&self, project_id: i64, from: i64, to: i64) -> Result<BTreeMap<i64, HourRollup>>;
    /// Saves each hour whose version is still `expected`; others are left.
    async fn save_hours(&self, project_id: i64, hours: &[HourToSave]) -> Result<()>;
    /// Held while filling the cache, so concurrent requests wait for one fill.
    fn fill_lock(&self) -> &tokio::sync::Mutex<()>;
}

/// Adds one row into the hour it was published in.
pub(crate) fn add_row(hours: &mut BTreeMap<i64, HourRollup>, row: &RollupRow) -> Result<()> {
    hours.entry(row.published_at.div_euclid(HOUR)).or_default().add(row)
}

/// The overview of `[from, to)` from the hourly rollups, or `None` when the
/// period or its buckets are not whole hours (the caller counts directly).
pub(crate) async fn overview(
    src: &dyn RollupSource,
    project_id: i64,
    from: i64,
    to: i64,
    buckets: &Buckets,
    top: i64,
) -> Result<Option<Overview>> {
    if from % HOUR != 0 || to % HOUR != 0 || !buckets.whole_hours() || to <= from {
        return Ok(None);
    }
    let (h0, h1) = (from / HOUR, to / HOUR);
    let hot_from = (src.db_now().await? - HOT_SECS).div_euclid(HOUR).clamp(h0, h1);
    let hours = cached_hours(src, project_id, h0, hot_from).await?;
    let mut per_hour: Vec<(i64, HourRollup)> = hours.into_iter().collect();
    if hot_from < h1 {
        per_hour.extend(src.compute_hours(project_id, hot_from * HOUR, to).await?);
    }
    let watches = src.list_watches(project_id).await?;
    Ok(Some(assemble(to, buckets, top, per_hour, &watches)))
}

/// The rollups of `[h0, h1)`, filling the cache where it has none.
async fn cached_hours(src: &dyn RollupSource, project_id: i64, h0: i64, h1: i64) -> Result<BTreeMap<i64, HourRollup>> {
    let mut out = BTreeMap::new();
    if h1 <= h0 {
        return Ok(out);
    }
    let mut missing = read_stored(src, project_id, h0, h1, &mut out).await?;
    if missing.is_empty() {
        return Ok(out);
    }
    let _fill = src.fill_lock().lock().await;
    // Another request may have filled them while this one waited.
    out.clear();
    missing = read_stored(src, project_id, h0, h1, &mut out).await?;
    // Contiguous runs of missing hours, at most FILL_HOURS each.
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for &(hour, _) in &missing {
        match runs.last_mut() {
            Some((start, end)) if *end == hour && hour - *start < FILL_HOURS => *end = hour + 1,
            _ => runs.push((hour, hour + 1)),
        }
    }
    let versions: HashMap<i64, Option<i64>> = missing.into_iter().collect();
    for (start, end) in runs {
        let mut computed = src.compute_hours(project_id, start * HOUR, end * HOUR).await?;
        let mut save = Vec::with_capacity(usize::try_from(end - start).unwrap_or_default());
        for hour in start..end {
            let rollup = computed.remove(&hour).unwrap_or_default();
            let expected = versions.get(&hour).copied().flatten();
            save.push(HourToSave { hour, expected, data: rollup.to_json()? });
            out.insert(hour, rollup);
        }
        src.save_hours(project_id, &save).await?;
    }
    Ok(out)
}

/// Reads the stored rollups of `[h0, h1)` into `out`; returns the hours to
/// compute with the version they had (`None`: no row).
async fn read_stored(
    src: &dyn RollupSource,
    project_id: i64,
    h0: i64,
    h1: i64,
    out: &mut BTreeMap<i64, HourRollup>,
) -> Result<Vec<(i64, Option<i64>)>> {
    let mut stored: HashMap<i64, StoredHour> =
        src.stored_hours(project_id, h0, h1).await?.into_iter().map(|s| (s.hour, s)).collect();
    let mut missing = Vec::new();
    for hour in h0..h1 {
        match stored.remove(&hour) {
            Some(StoredHour { data: Some(data), .. }) => {
                out.insert(hour, HourRollup::from_json(&data)?);
            }
            Some(StoredHour { version, data: None, .. }) => missing.push((hour, Some(version))),
            None => missing.push((hour, None)),
        }
    }
    Ok(missing)
}

/// Buckets and lists of the period from its hours' rollups.
fn assemble(
    to: i64,
    buckets: &Buckets,
    top: i64,
    per_hour: Vec<(i64, HourRollup)>,
    watches: &[vigie_model::Watch],
) -> Overview {
    let mut overview = Overview { buckets: buckets.empty(to), ..Overview::default() };
    let mut all = HourRollup::default();
    for (hour, rollup) in &per_hour {
        if let Some(bucket) = buckets.index_of(hour * HOUR).and_then(|i| overview.buckets.get_mut(i)) {
            bucket.negative += rollup.p[0];
            bucket.neutral += rollup.p[1];
            bucket.positive += rollup.p[2];
            bucket.unknown += rollup.p[3];
        }
        all.merge(rollup);
    }
    overview.total = all.total();
    for watch in watches {
        let [mentions, negative, positive] = all.w.get(&watch.id).copied().unwrap_or_default();
        overview.per_watch.push(WatchCount {
            watch_id: watch.id,
            name: watch.name.clone(),
            competitor: watch.competitor,
            mentions,
            negative,
            positive,
        });
    }
    // Stable: equal counts stay by name.
    overview.per_watch.sort_by_key(|w| std::cmp::Reverse(w.mentions));
    let top = usize::try_from(top).unwrap_or_default();
    overview.top_sites = top_rows(all.s, top);
    overview.per_theme = top_rows(all.t, top);
    overview.per_source_kind = top_rows(all.k, top);
    // Top authors by reach ("most influential"), then by mentions; BTreeMap
    // order is the key order, so a stable sort keeps ties by name.
    let mut authors: Vec<(String, AuthorAgg)> = all.a.into_iter().collect();
    authors.sort_by(|(_, a), (_, b)| b.reach.unwrap_or(0.0).total_cmp(&a.reach.unwrap_or(0.0)).then(b.n.cmp(&a.n)));
    authors.truncate(top);
    overview.top_authors = authors
        .into_iter()
        .map(|(author, a)| AuthorRow { author, site: a.site, mentions: a.n, reach_score: a.reach.unwrap_or(0.0) })
        .collect();
    overview
}

fn top_rows(counts: BTreeMap<String, i64>, top: usize) -> Vec<CountRow> {
    let mut rows: Vec<CountRow> = counts.into_iter().map(|(key, count)| CountRow { key, count }).collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.count));
    rows.truncate(top);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(at: i64, polarity: Option<&str>, site: &str, author: &str, reach: Option<f64>) -> RollupRow {
        RollupRow {
            published_at: at,
            polarity: polarity.map(str::to_string),
            site: Some(site.into()),
            author: Some(author.into()),
            reach_score: reach,
            source_kind: "news".into(),
            themes: Some(r#"[{"theme":"delivery","score":0.9},{"theme":"price","score":0.5}]"#.into()),
            matches: Some(r#"{"7":["acme"],"9":["rival"]}"#.into()),
        }
    }

    #[test]
    fn hours_add_up_to_the_period_whatever_the_split() {
        let rows = [
            row(10, Some("negative"), "b.example", "ann", Some(12.0)),
            row(3_700, Some("positive"), "a.example", "ann", None),
            row(7_300, None, "a.example", "bob", Some(50.0)),
            row(7_400, Some("neutral"), "c.example", "bob", Some(40.0)),
        ];
        let mut hours = BTreeMap::new();
        let mut whole = HourRollup::default();
        for r in &rows {
            add_row(&mut hours, r).unwrap();
            whole.add(r).unwrap();
        }
        assert_eq!(hours.len(), 3);
        let mut merged = HourRollup::default();
        for h in hours.values() {
            // Through JSON, as stored.
            merged.merge(&HourRollup::from_json(&h.to_json().unwrap()).unwrap());
        }
        assert_eq!(merged, whole);
        assert_eq!(whole.p, [1, 1, 1, 1]);
        assert_eq!(whole.w.get(&7), Some(&[4, 1, 1]));
        assert_eq!(whole.a.get("ann"), Some(&AuthorAgg { n: 2, site: Some("a.example".into()), reach: Some(12.0) }));
        assert_eq!(whole.t.get("price"), Some(&4));

        let rival = vigie_model::Watch {
            id: 9,
            name: "rival".into(),
            query: "rival".into(),
            competitor: true,
            langs: vec![],
            created_at: chrono::DateTime::UNIX_EPOCH,
        };
        let per_hour: Vec<(i64, HourRollup)> = hours.into_iter().collect();
        let o = assemble(
            4 * HOUR,
            &Buckets::from_starts(vec![0, 2 * HOUR]),
            2,
            per_hour.clone(),
            std::slice::from_ref(&rival),
        );
        assert_eq!(o.total, 4);
        assert_eq!(o.buckets.len(), 2);
        assert_eq!((o.buckets[0].negative, o.buckets[0].positive), (1, 1));
        assert_eq!((o.buckets[1].neutral, o.buckets[1].unknown), (1, 1));
        // Uneven buckets (a local day of 25 hours): each hour in the bucket
        // that started last before it.
        let uneven = assemble(4 * HOUR, &Buckets::from_starts(vec![0, HOUR, 3 * HOUR]), 2, per_hour, &[rival]);
        let counts: Vec<i64> = uneven.buckets.iter().map(|b| b.negative + b.neutral + b.positive + b.unknown).collect();
        assert_eq!(counts, [1, 3, 0]);
        assert_eq!(o.per_watch[0].mentions, 4);
        // Ties by name, at most `top`.
        assert_eq!(
            o.top_sites.iter().map(|r| (r.key.as_str(), r.count)).collect::<Vec<_>>(),
            [("a.example", 2), ("b.example", 1)]
        );
        // By reach first: the most influential author, whatever their count.
        assert_eq!(o.top_authors[0].reach_score, 50.0);
        assert_eq!(o.top_authors[1].reach_score, 12.0);
    }

    #[test]
    fn corrupt_stored_values_are_errors_not_panics() {
        let mut h = HourRollup::default();
        let mut r = row(0, Some("angry"), "a", "b", None);
        assert!(h.add(&r).is_err());
        r.polarity = None;
        r.matches = Some("{\"x\":[]}".into());
        assert!(h.add(&r).is_err());
        assert!(HourRollup::from_json("[").is_err());
    }
}

//! Early warning: the rules that turn stored mentions into alerts.
//!
//! Two kinds of rules:
//!
//! - **per mention**, decided as each mention is stored: a trigger term
//!   (boycott, arnaque, recall…) and a negative mention with a large
//!   audience;
//! - **per watch series**, decided as buckets fill: the streaming detector
//!   ([`vigie_detect`]) over each watch's mentions per bucket, all of them and
//!   the negative ones, kept in the store with the mentions.
//!
//! Every decision is an [`AlertEvent`]; [`merge`] folds an event into the
//! open alert with the same key (one crisis is one alert that grows) or opens
//! a new one, and says whether people should hear about it again (when it
//! opens, and when it gets more severe or an order of magnitude bigger).
//! `merge` is pure, so `vigie backtest` replays history through the same
//! rules without writing anything.
//!
//! Mentions published long before they are stored (an import of last year,
//! a new feed's archive) teach the detector but raise no alert: Vigie warns
//! about what is happening, [`MAX_ALERT_AGE`] at most.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use vigie_detect::{Detector, DetectorConfig};
use vigie_model::{
    Alert, AlertEvidence, AlertRule, AlertStatus, Language, Mention, Polarity, Severity, Watch, alert_title,
};
use vigie_query::{Query, WatchSet};
use vigie_store::{BUCKET_SECS, SERIES_ALL, SERIES_NEGATIVE, Store, bucket_start};

use crate::PipelineError;

/// Mentions published longer ago than this raise no alert.
pub const MAX_ALERT_AGE: i64 = 24 * 3600;
/// Mentions kept on an alert at most.
pub const MAX_ALERT_MENTIONS: usize = 20;
/// A surge's window mentions read for its evidence at most (its stories
/// are counted only when the window holds fewer).
const SURGE_READ: i64 = 500;
/// History a new detector learns from before it judges.
pub const WARM_UP_DAYS: i64 = 14;
/// How long a bucket stays provisional: judged again at every check with
/// the mentions that arrived since (feeds read every hour, sources that lag),
/// before the detector learns it for good.
pub const PROVISIONAL_SECS: i64 = 2 * 3600;

/// Trigger terms of a new project: words of a brewing crisis, in French and
/// English. A trailing `*` takes every word that starts so (`arnaqu*`:
/// arnaque, arnaques, arnaqué, arnaqueur, and `#BoycottAcme` for `boycott*`);
/// no term is inside another, so one mention is one event.
pub const DEFAULT_TRIGGER_TERMS: &[&str] = &[
    "boycott*",
    "arnaqu*",
    "escro*",
    "scandale*",
    "plainte*",
    "rappel produit*",
    "rappel conso*",
    "intoxication*",
    "lawsuit*",
    "recall*",
    "data breach*",
    "scam*",
    "class action*",
    "food poisoning",
];

/// A project's alert settings (`vigie alert settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// Words or phrases that raise an alert wherever they appear in a mention of a watch.
    pub trigger_terms: Vec<String>,
    /// A negative mention whose reach score (0–100) is at least this raises an alert.
    pub high_reach: f64,
    /// Seconds during which new evidence grows the open alert rather than opening another.
    pub cooldown_secs: i64,
    /// Rules switched off.
    pub disabled: Vec<AlertRule>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            trigger_terms: DEFAULT_TRIGGER_TERMS.iter().map(|t| t.to_string()).collect(),
            high_reach: 70.0,
            cooldown_secs: 6 * 3600,
            disabled: Vec::new(),
        }
    }
}

impl AlertSettings {
    pub async fn load(store: &dyn Store, project_id: i64) -> Result<AlertSettings, PipelineError> {
        match store.alert_settings(project_id).await? {
            None => Ok(AlertSettings::default()),
            Some(v) => serde_json::from_value(v)
                .map_err(|e| PipelineError::Internal(format!("the stored alert settings are unreadable: {e}"))),
        }
    }

    pub fn enabled(&self, rule: AlertRule) -> bool {
        !self.disabled.contains(&rule)
    }

    /// Checks the settings; the error says what to fix.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=100.0).contains(&self.high_reach) {
            return Err(format!("high reach {} is not a reach score (0 to 100)", self.high_reach));
        }
        if self.cooldown_secs < 60 {
            return Err("the cooldown must be at least a minute".into());
        }
        for term in &self.trigger_terms {
            compile_term(term)?;
        }
        Ok(())
    }
}

fn compile_term(term: &str) -> Result<Query, String> {
    let term = term.trim();
    if term.is_empty() || term.len() > 200 {
        return Err(format!("trigger term {term:?}: 1 to 200 characters"));
    }
    // A line break or another control character would split the term in
    // the settings' list and in alert titles: a term is one line.
    if term.chars().any(char::is_control) {
        return Err(format!("trigger term {term:?}: no line breaks or control characters"));
    }
    // A phrase of the query language: accents, case and punctuation folded
    // like the watches', never parsed as operators.
    let quoted = format!("\"{}\"", term.replace('"', " "));
    vigie_query::parse(&quoted).map_err(|e| format!("trigger term {term:?}: {e}"))
}

/// Something a rule noticed.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    pub rule: AlertRule,
    pub severity: Severity,
    pub watch_id: Option<i64>,
    /// Rule, watch and what distinguishes this crisis (a term, a page).
    pub dedup_key: String,
    pub title: String,
    pub evidence: AlertEvidence,
    pub mention_ids: Vec<i64>,
    pub at: DateTime<Utc>,
    /// Growth of a crisis already reported (a surge still going on): it
    /// updates the open alert, and is dropped when there is none (the alert
    /// was resolved, or went quiet), since it is no new crisis.
    pub grows_only: bool,
}

/// [`merge`], except that an event that only grows an alert opens none,
/// and a per-mention event the alert holds already changes nothing: its
/// rules ran again after a process died before recording that they had run
/// (the alert keeps its latest [`MAX_ALERT_MENTIONS`] mentions, so a replay
/// of an older one is counted again).
pub fn fold_event(open: Option<Alert>, event: AlertEvent, project_id: i64) -> Option<(Alert, bool)> {
    if event.grows_only && open.is_none() {
        return None;
    }
    let per_mention = matches!(event.rule, AlertRule::TriggerTerm | AlertRule::HighReachNegative);
    if per_mention
        && !event.mention_ids.is_empty()
        && open.as_ref().is_some_and(|a| event.mention_ids.iter().all(|id| a.mention_ids.contains(id)))
    {
        return None;
    }
    Some(merge(open, event, project_id))
}

/// A surge's count crossed one of these (in its window): it is an order of
/// magnitude bigger than when it opened, and people hear about it again.
const SURGE_MILESTONES: [f64; 4] = [100.0, 1000.0, 10_000.0, 100_000.0];

/// Folds `event` into `open` (the not-resolved alert with its key, updated
/// within the cooldown) or opens a new alert. Returns the alert to save and
/// whether to notify: on opening, when the severity rises, when the alert
/// reaches 10, 100, 1000… events, and when a surge's count reaches 100,
/// 1000… mentions. A surge's evidence is that of its biggest window so far
/// (count, expectation, span, words), so the alert grows with the crisis.
pub fn merge(open: Option<Alert>, event: AlertEvent, project_id: i64) -> (Alert, bool) {
    match open {
        None => (
            Alert {
                id: 0,
                project_id,
                watch_id: event.watch_id,
                rule: event.rule,
                severity: event.severity,
                status: AlertStatus::Open,
                dedup_key: event.dedup_key,
                title: event.title,
                evidence: event.evidence,
                mention_ids: bounded(event.mention_ids),
                events: 1,
                opened_at: event.at,
                updated_at: event.at,
                acknowledged_at: None,
                resolved_at: None,
                acknowledged_by: None,
                resolved_by: None,
            },
            true,
        ),
        Some(mut alert) => {
            let escalated = event.severity > alert.severity;
            // A copy of a story the alert counted already (a syndicated
            // article, a complaint pasted on three forums) joins its
            // evidence but is not a new event: counts stay those of
            // stories, and copies notify nobody again.
            let new_stories: Vec<i64> =
                event.evidence.stories.iter().copied().filter(|s| !alert.evidence.stories.contains(s)).collect();
            let copy = !event.evidence.stories.is_empty() && new_stories.is_empty();
            // Growth is the same event getting bigger, not another one.
            let counted = !copy && !event.grows_only;
            if counted {
                alert.events += 1;
            }
            for story in new_stories {
                if alert.evidence.stories.len() < vigie_model::MAX_ALERT_STORIES {
                    alert.evidence.stories.push(story);
                }
            }
            alert.severity = alert.severity.max(event.severity);
            alert.updated_at = alert.updated_at.max(event.at);
            let surge = matches!(alert.rule, AlertRule::VolumeSurge | AlertRule::NegativeSurge);
            let e = &mut alert.evidence;
            let observed_before = e.observed;
            if alert.rule == AlertRule::TriggerTerm {
                // Each event is a mention with the term: they add up.
                e.observed += event.evidence.observed;
            } else if event.evidence.observed >= e.observed {
                e.observed = event.evidence.observed;
                e.expected = event.evidence.expected;
                e.score = event.evidence.score.or(e.score);
                e.window_stories = event.evidence.window_stories;
                e.window_authors = event.evidence.window_authors;
                alert.title = event.title;
                if surge {
                    // The count, its span and its words go together: "120 in 4 h".
                    e.window_start = event.evidence.window_start.or(e.window_start);
                    e.window_end = event.evidence.window_end.or(e.window_end);
                    if !event.evidence.terms.is_empty() {
                        e.terms.clear();
                    }
                }
            }
            let crossed = surge && SURGE_MILESTONES.iter().any(|m| observed_before < *m && e.observed >= *m);
            if !surge {
                e.window_start = min_opt(e.window_start, event.evidence.window_start);
                e.window_end = max_opt(e.window_end, event.evidence.window_end);
            }
            // Terms add up, except a surge's: those of its biggest window.
            if !surge || e.terms.is_empty() {
                for term in event.evidence.terms {
                    if !e.terms.contains(&term) && e.terms.len() < 20 {
                        e.terms.push(term);
                    }
                }
            }
            for url in event.evidence.urls {
                if !e.urls.contains(&url) && e.urls.len() < 20 {
                    e.urls.push(url);
                }
            }
            let mut ids = event.mention_ids;
            ids.extend(alert.mention_ids.iter().copied().filter(|id| !ids.contains(id)).collect::<Vec<_>>());
            alert.mention_ids = bounded(ids);
            // A person acknowledged it: growth alone does not reopen it, a
            // rise in severity does.
            if escalated && alert.status == AlertStatus::Acknowledged {
                alert.status = AlertStatus::Open;
            }
            let milestone = counted && [10, 100, 1000, 10_000].contains(&alert.events);
            let notify = escalated || ((milestone || crossed) && alert.status == AlertStatus::Open);
            (alert, notify)
        }
    }
}

fn bounded(mut ids: Vec<i64>) -> Vec<i64> {
    let mut seen = Vec::with_capacity(ids.len());
    ids.retain(|id| {
        let new = !seen.contains(id);
        seen.push(*id);
        new
    });
    ids.truncate(MAX_ALERT_MENTIONS);
    ids
}

fn min_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The per-mention rules of one project, compiled.
pub struct MentionRules {
    settings: AlertSettings,
    /// The trigger terms, by their index in `set`.
    terms: Vec<String>,
    /// All trigger terms in one set: a mention is tokenized once.
    set: WatchSet,
    watch_names: HashMap<i64, String>,
    /// Watches of competitors (a mention about the brand and a competitor is the brand's).
    competitors: Vec<i64>,
}

impl MentionRules {
    pub fn new(settings: AlertSettings, watches: &[Watch]) -> MentionRules {
        let compiled: Vec<(String, Query)> = settings
            .trigger_terms
            .iter()
            .filter_map(|t| compile_term(t).ok().map(|q| (t.trim().to_lowercase(), q)))
            .collect();
        let set = WatchSet::new(compiled.iter().enumerate().map(|(i, (_, q))| (i as i64, q.clone())));
        let terms = compiled.into_iter().map(|(t, _)| t).collect();
        let watch_names = watches.iter().map(|w| (w.id, w.name.clone())).collect();
        let competitors = watches.iter().filter(|w| w.competitor).map(|w| w.id).collect();
        MentionRules { settings, terms, set, watch_names, competitors }
    }

    /// The one watch a mention's alerts are about when it matched several:
    /// the organisation's own before a competitor's, then the oldest watch.
    /// One mention raises each rule once, not once per watch it matched.
    fn alert_watch(&self, watch_ids: &[i64]) -> Option<i64> {
        watch_ids.iter().copied().min_by_key(|w| (self.competitors.contains(w), *w))
    }

    pub fn settings(&self) -> &AlertSettings {
        &self.settings
    }

    /// The English title stored with the alert ([`alert_title`]; web pages
    /// and notifications make the reader's from the same data).
    fn title(&self, rule: AlertRule, severity: Severity, watch: i64, evidence: &AlertEvidence) -> String {
        let name = self.watch_names.get(&watch).map(String::as_str);
        alert_title(rule, severity, name, evidence, Language::En)
    }

    /// The events one stored mention raises. Only mentions of a watch count:
    /// a trigger term in a text about someone else is not your crisis.
    pub fn events(&self, id: i64, mention: &Mention, watch_ids: &[i64], now: DateTime<Utc>) -> Vec<AlertEvent> {
        let mut out = Vec::new();
        if watch_ids.is_empty() || (now - mention.published_at).num_seconds() > MAX_ALERT_AGE {
            return out;
        }
        let negative = mention.analysis.polarity() == Some(Polarity::Negative);
        let Some(watch) = self.alert_watch(watch_ids) else { return out };
        let story = vec![mention.analysis.story_id.unwrap_or(id)];
        if self.settings.enabled(AlertRule::TriggerTerm) && !self.terms.is_empty() {
            // One event per mention, however many terms it holds ("porter
            // plainte" and "plainte", "arnaque" and "arnaqu*"): the alert is
            // that of the first term of the list it matched, its evidence
            // has them all.
            let doc = crate::ingest::document(mention);
            let mut matched: Vec<usize> = self.set.match_document(&doc).into_iter().map(|(i, _)| i as usize).collect();
            matched.sort_unstable();
            let terms: Vec<String> = matched.iter().filter_map(|i| self.terms.get(*i).cloned()).collect();
            if let Some(term) = terms.first().cloned() {
                let severity = if negative { Severity::Critical } else { Severity::Warning };
                let evidence = AlertEvidence {
                    observed: 1.0,
                    expected: 0.0,
                    window_start: Some(mention.published_at),
                    window_end: Some(mention.published_at),
                    terms,
                    stories: story.clone(),
                    ..AlertEvidence::default()
                };
                out.push(AlertEvent {
                    rule: AlertRule::TriggerTerm,
                    severity,
                    watch_id: Some(watch),
                    dedup_key: format!("trigger_term:{watch}:{term}"),
                    title: self.title(AlertRule::TriggerTerm, severity, watch, &evidence),
                    evidence,
                    mention_ids: vec![id],
                    at: now,
                    grows_only: false,
                });
            }
        }
        let reach = mention.analysis.reach.as_ref().map(|r| f64::from(r.score));
        if self.settings.enabled(AlertRule::HighReachNegative)
            && negative
            && let Some(reach) = reach.filter(|r| *r >= self.settings.high_reach)
        {
            let severity = if reach >= 90.0 { Severity::Critical } else { Severity::Warning };
            let evidence = AlertEvidence {
                observed: reach,
                expected: self.settings.high_reach,
                window_start: Some(mention.published_at),
                window_end: Some(mention.published_at),
                urls: mention.url.iter().cloned().collect(),
                stories: story.clone(),
                ..AlertEvidence::default()
            };
            out.push(AlertEvent {
                rule: AlertRule::HighReachNegative,
                severity,
                watch_id: Some(watch),
                dedup_key: format!("high_reach_negative:{watch}"),
                title: self.title(AlertRule::HighReachNegative, severity, watch, &evidence),
                evidence,
                mention_ids: vec![id],
                at: now,
                grows_only: false,
            });
        }
        out
    }
}

/// When each (watch, series) was last judged, and the series whose check
/// was skipped since (their mentions arrived within the second).
#[derive(Default)]
struct LastChecks {
    at: HashMap<(i64, &'static str), DateTime<Utc>>,
    deferred: HashSet<(i64, &'static str)>,
}

/// Judges watch series with the detectors kept in the store (loaded, fed
/// the buckets settled since, saved back when a bucket settles or a surge is
/// reported), and remembers when each series was last judged, so a busy
/// stream checks it once a second; the checks it skipped are made by
/// [`SurgeDetectors::check_deferred`] when the stream pauses.
#[derive(Clone, Default)]
pub struct SurgeDetectors {
    last_check: Arc<Mutex<LastChecks>>,
}

/// What is kept in the store for a watch series: the detector as of the
/// last settled bucket, and the last bucket whose surge was reported.
#[derive(Serialize, Deserialize)]
struct SeriesState {
    detector: Detector,
    #[serde(default)]
    reported: Option<i64>,
    /// The detector's alert for the crisis under way was refused (one voice
    /// made it): while the detector holds it, each bucket of the surge is a
    /// candidate to open the alert, not growth of one that does not exist.
    #[serde(default)]
    silenced: bool,
    /// The last bucket whose growth was reported (`reported`: the last that
    /// opened or grew an alert as an event of its own).
    #[serde(default)]
    grown: Option<i64>,
    /// The count of that bucket when its growth was last reported (a bucket
    /// still filling grows its alert again when it holds more).
    #[serde(default)]
    grown_count: Option<f64>,
    /// From when the crisis of the open alert is measured (the start of the
    /// windows it may show), when it opened on a new wave, a burst, or after
    /// an earlier crisis: not over windows that still hold the last one.
    #[serde(default)]
    since: Option<i64>,
}

impl SeriesState {
    fn new(detector: Detector) -> SeriesState {
        SeriesState { detector, reported: None, silenced: false, grown: None, grown_count: None, since: None }
    }

    /// Reads a stored state; a bare detector (as stored before surges were
    /// remembered) reads with nothing reported.
    fn read(value: serde_json::Value) -> Result<SeriesState, serde_json::Error> {
        if value.get("detector").is_some() {
            serde_json::from_value(value)
        } else {
            Ok(SeriesState::new(serde_json::from_value(value)?))
        }
    }
}

/// The series a rule watches, and how it reads.
fn series_of(rule: AlertRule) -> &'static str {
    match rule {
        AlertRule::NegativeSurge => SERIES_NEGATIVE,
        _ => SERIES_ALL,
    }
}

impl SurgeDetectors {
    /// Feeds the buckets of `watch`'s series that settled since the detector
    /// last saw them, then judges the provisional ones and the bucket under
    /// way; returns the events. At most once a second per series: a check
    /// skipped is remembered for [`Self::check_deferred`].
    pub async fn check(
        &self,
        store: &dyn Store,
        project_id: i64,
        settings: &AlertSettings,
        watch: &Watch,
        now: DateTime<Utc>,
    ) -> Result<Vec<AlertEvent>, PipelineError> {
        let mut events = Vec::new();
        for rule in [AlertRule::NegativeSurge, AlertRule::VolumeSurge] {
            if !settings.enabled(rule) {
                continue;
            }
            let series = series_of(rule);
            {
                let mut last = self.last_check.lock().await;
                let key = (watch.id, series);
                if last.at.get(&key).is_some_and(|t| (now - *t).num_milliseconds() < 1000) {
                    last.deferred.insert(key);
                    continue;
                }
                last.at.insert(key, now);
                last.deferred.remove(&key);
            }
            events.extend(self.check_series(store, project_id, watch, rule, series, now).await?);
        }
        Ok(events)
    }

    /// Makes the checks [`Self::check`] skipped because their series had
    /// just been judged: the last mentions of a busy stream (a collection
    /// cycle's sources finishing within a second, an import's batches) are
    /// judged when it pauses, not when the next mention arrives, which may
    /// be hours later. Called at the end of a collection cycle and of an
    /// import (a push has an ingestor of its own, judged once).
    pub async fn check_deferred(
        &self,
        store: &dyn Store,
        project_id: i64,
        settings: &AlertSettings,
        watches: &[Watch],
        now: DateTime<Utc>,
    ) -> Vec<AlertEvent> {
        let deferred: Vec<(i64, &'static str)> = {
            let mut last = self.last_check.lock().await;
            let deferred: Vec<_> = last.deferred.drain().collect();
            for key in &deferred {
                last.at.insert(*key, now);
            }
            deferred
        };
        let mut events = Vec::new();
        for watch in watches {
            for rule in [AlertRule::NegativeSurge, AlertRule::VolumeSurge] {
                let series = series_of(rule);
                if settings.enabled(rule) && deferred.contains(&(watch.id, series)) {
                    // One series failing (a busy store) does not cost the
                    // others their events: they were marked reported.
                    match self.check_series(store, project_id, watch, rule, series, now).await {
                        Ok(found) => events.extend(found),
                        Err(e) => {
                            tracing::warn!(watch = watch.id, series, error = %e, "surge check failed; the next mentions of this watch make it")
                        }
                    }
                }
            }
        }
        events
    }

    async fn check_series(
        &self,
        store: &dyn Store,
        project_id: i64,
        watch: &Watch,
        rule: AlertRule,
        series: &'static str,
        now: DateTime<Utc>,
    ) -> Result<Vec<AlertEvent>, PipelineError> {
        let current = bucket_start(now);
        let settled = current - PROVISIONAL_SECS;
        let fresh = || -> Result<(SeriesState, i64), PipelineError> {
            let state = SeriesState::new(new_detector()?);
            Ok((state, current - WARM_UP_DAYS * 86_400 - BUCKET_SECS))
        };
        let (mut state, mut last, new) = match store.detector_state(watch.id, series).await? {
            Some((last, value)) => match SeriesState::read(value) {
                Ok(state) => (state, last, false),
                Err(e) => {
                    tracing::warn!(watch = watch.id, series, error = %e, "unreadable detector state; learning again");
                    let (state, last) = fresh()?;
                    (state, last, true)
                }
            },
            None => {
                let (state, last) = fresh()?;
                (state, last, true)
            }
        };
        let counts: BTreeMap<i64, i64> = store
            .watch_buckets(watch.id, series, last + BUCKET_SECS, current + BUCKET_SECS)
            .await?
            .into_iter()
            .collect();
        if new {
            // A new detector starts at the watch's first mention: the days
            // before a watch had any are unknown, not quiet, and learning
            // them as zeros would make its ordinary chatter a surge. (Its
            // first mention of any kind: days of mentions without a negative
            // one are days with no complaint, and a first wave of them is a
            // surge.)
            let first = if series == SERIES_ALL {
                counts.keys().next().copied()
            } else {
                let all = store.watch_buckets(watch.id, SERIES_ALL, last + BUCKET_SECS, current + BUCKET_SECS).await?;
                all.first().map(|(bucket, _)| *bucket)
            };
            match first {
                Some(first) => last = first - BUCKET_SECS,
                None => return Ok(Vec::new()),
            }
        }
        let count = |bucket: i64| counts.get(&bucket).copied().unwrap_or(0) as f64;
        // Settled buckets, zeros included, in order: the detector learns
        // them for good. Their surges were reported while they were
        // provisional (below).
        let mut bucket = last + BUCKET_SECS;
        while bucket < settled {
            state.detector.observe(at(bucket), count(bucket)).map_err(detect_error)?;
            bucket += BUCKET_SECS;
        }
        let mut changed = bucket > last + BUCKET_SECS;
        // The provisional buckets (the last PROVISIONAL_SECS, where mentions
        // collected late still land) and the one under way, judged on a copy
        // at every check with the counts as they are now: a surge is
        // reported while it happens, and one that reaches Vigie late (a feed
        // read every hour, a backfill) still counts. A half-full bucket can
        // only look smaller than it will be, so this never fires early by
        // mistake. Each bucket is reported once (the bucket reported last is
        // kept with the state: a restart does not report it again): a surge
        // when it starts, then as it goes on, growth of its alert (one crisis,
        // one alert that grows).
        let mut judged = state.detector.clone();
        let mut events = Vec::new();
        let mut provisional = bucket;
        while provisional <= current {
            if provisional == current && !counts.contains_key(&current) {
                break;
            }
            let verdict = judged.observe(at(provisional), count(provisional)).map_err(detect_error)?;
            // A bucket opens an alert once; it grows one (as it fills, once a
            // minute at most) when the crisis goes on or opened in it.
            let fresh = |mark: Option<i64>| mark.is_none_or(|b| b < provisional);
            if (now - at(provisional + BUCKET_SECS)).num_seconds() <= MAX_ALERT_AGE {
                let (mut opened, was_silenced) = (false, state.silenced);
                if fresh(state.reported) {
                    let (event, since) =
                        self.opening(store, project_id, watch, rule, &verdict, provisional, &mut state, now).await?;
                    if let Some(event) = event {
                        state.since = since;
                        state.reported = Some(provisional);
                        (state.grown, state.grown_count) = (Some(provisional), Some(event.evidence.observed));
                        events.push(event);
                        opened = true;
                    }
                    changed |= opened || state.silenced != was_silenced;
                }
                let growing = verdict.ongoing || state.reported == Some(provisional);
                if !opened && growing && !state.silenced {
                    let seen = if verdict.burst && !verdict.alert && !verdict.ongoing {
                        Some(burst_verdict(&verdict))
                    } else {
                        window_since(&verdict, provisional, state.since)
                    };
                    // A new bucket grows the alert; the same one again when
                    // more mentions arrived in it (checks are once a second
                    // at most).
                    let more = |seen: &vigie_detect::Verdict| {
                        fresh(state.grown) || state.grown_count.is_none_or(|n| seen.observed > n)
                    };
                    if let Some(seen) = seen.filter(more) {
                        (state.grown, state.grown_count) = (Some(provisional), Some(seen.observed));
                        changed = true;
                        events
                            .push(AlertEvent { grows_only: true, ..surge_event(rule, watch, provisional, &seen, now) });
                    }
                }
            }
            provisional += BUCKET_SECS;
        }
        if changed {
            let saved = serde_json::to_value(&state)
                .map_err(|e| PipelineError::Internal(format!("detector state not serializable: {e}")))?;
            // Not saved when another process settled later buckets already;
            // an event both report folds into one alert (`merge_alert`).
            store.save_detector_state(watch.id, series, bucket - BUCKET_SECS, &saved).await?;
        }
        Ok(events)
    }
}

impl SurgeDetectors {
    /// Whether this bucket opens an alert (or adds an event to the open one),
    /// and from when the crisis it is about is measured. The detector's
    /// surge (or a new wave of it) counts unless, each author counting
    /// [`PER_VOICE`] times at most, it is no surge; a burst in the bucket
    /// counts when [`BURST_MIN_VOICES`] authors or more wrote it.
    #[allow(clippy::too_many_arguments)]
    async fn opening(
        &self,
        store: &dyn Store,
        project_id: i64,
        watch: &Watch,
        rule: AlertRule,
        verdict: &vigie_detect::Verdict,
        bucket: i64,
        state: &mut SeriesState,
        now: DateTime<Utc>,
    ) -> Result<(Option<AlertEvent>, Option<i64>), PipelineError> {
        let (since, grows) = opening_since(verdict, bucket, state.reported, state.since);
        if (verdict.alert || verdict.renewed || (verdict.ongoing && state.silenced))
            && let Some(earliest) = eligible_windows(verdict, bucket, since).map(|(start, _)| start).min()
        {
            let end = at(bucket + BUCKET_SECS);
            let found = series_mentions(store, project_id, watch.id, rule, at(earliest), end).await?;
            let mentions: Vec<&Mention> = found.iter().map(|m| &m.mention).collect();
            let heard = heard_window(verdict, bucket, since, &mentions);
            state.silenced = heard.is_none();
            if let Some(seen) = heard {
                return Ok((
                    Some(AlertEvent { grows_only: grows, ..surge_event(rule, watch, bucket, &seen, now) }),
                    since,
                ));
            }
            // Not a surge of people in any window: a burst of the bucket may still be one.
        }
        if verdict.burst {
            let event = burst_event(rule, watch, bucket, verdict, now);
            let found =
                series_mentions(store, project_id, watch.id, rule, at(bucket), at(bucket + BUCKET_SECS)).await?;
            if Voices::of(found.iter().map(|m| &m.mention)).burst(&event.evidence) {
                let since = bucket - i64::from(DetectorConfig::default().quiet_secs);
                return Ok((Some(event), Some(since)));
            }
        }
        Ok((None, state.since))
    }
}

/// For a bucket the detector's windows call a surge: from when the crisis
/// is measured (the earliest start of the windows it may be shown by), and
/// whether it is the crisis already reported (an event that only grows its
/// alert).
///
/// - Within the hour after the last opening (a burst the windows now see,
///   a wave the shortest window now sees) it is that crisis: measured as it
///   was, and only growth.
/// - A new wave (`renewed`) is measured from an hour before it (the calm).
/// - Later, it is another crisis: measured after the last opening's bucket,
///   so a burst resolved hours ago does not make a new alert's count.
fn opening_since(
    verdict: &vigie_detect::Verdict,
    bucket: i64,
    reported: Option<i64>,
    since: Option<i64>,
) -> (Option<i64>, bool) {
    let quiet = i64::from(DetectorConfig::default().quiet_secs);
    let (since, grows) = match reported {
        // Within the hour after the last opening: that crisis, seen again
        // (a burst the windows now see, a wave the shortest one now sees).
        Some(r) if bucket - r <= quiet => (since, true),
        _ if verdict.renewed => (Some(bucket - quiet), false),
        Some(r) => (Some(r + BUCKET_SECS), false),
        None => (None, false),
    };
    (since, grows)
}

/// The windows of a verdict that start at `since` or later, with their start.
fn eligible_windows(
    verdict: &vigie_detect::Verdict,
    bucket: i64,
    since: Option<i64>,
) -> impl Iterator<Item = (i64, vigie_detect::WindowStat)> + '_ {
    verdict
        .windows
        .iter()
        .filter(|w| w.buckets > 0)
        .map(move |w| (bucket + BUCKET_SECS - i64::from(w.buckets) * BUCKET_SECS, *w))
        .filter(move |(start, _)| since.is_none_or(|s| *start >= s))
}

/// The window a surge is shown by: among those starting at `since` or
/// later, the best-scoring one whose mentions are a surge when each author
/// counts once ([`Voices::surge`]); `None` when there is none (a bot, a few
/// accounts, or only the last crisis's mentions made it). `mentions` holds
/// at least those of the longest such window.
fn heard_window(
    verdict: &vigie_detect::Verdict,
    bucket: i64,
    since: Option<i64>,
    mentions: &[&Mention],
) -> Option<vigie_detect::Verdict> {
    let end = at(bucket + BUCKET_SECS);
    let threshold = DetectorConfig::default().threshold;
    let window = eligible_windows(verdict, bucket, since)
        .filter(|(_, w)| w.score >= threshold)
        .filter(|(start, w)| {
            let inside = mentions.iter().copied().filter(|m| m.published_at >= at(*start) && m.published_at < end);
            let evidence = AlertEvidence { observed: w.observed, expected: w.expected, ..AlertEvidence::default() };
            Voices::of(inside).surge(&evidence)
        })
        .map(|(_, w)| w)
        .max_by(|a, b| a.score.total_cmp(&b.score))?;
    Some(vigie_detect::Verdict { window, score: window.score, ..*verdict })
}

fn new_detector() -> Result<Detector, PipelineError> {
    Detector::new(DetectorConfig::default()).map_err(detect_error)
}

fn detect_error(e: vigie_detect::DetectError) -> PipelineError {
    PipelineError::Internal(format!("spike detector: {e}"))
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

fn surge_event(
    rule: AlertRule,
    watch: &Watch,
    bucket: i64,
    verdict: &vigie_detect::Verdict,
    now: DateTime<Utc>,
) -> AlertEvent {
    let severity = if rule == AlertRule::NegativeSurge { Severity::Critical } else { Severity::Warning };
    let evidence = AlertEvidence {
        observed: verdict.window.observed,
        expected: verdict.window.expected,
        score: Some(verdict.score),
        window_start: Some(at(bucket + BUCKET_SECS - i64::from(verdict.window.buckets.max(1)) * BUCKET_SECS)),
        window_end: Some(at(bucket + BUCKET_SECS)),
        ..AlertEvidence::default()
    };
    AlertEvent {
        rule,
        severity,
        watch_id: Some(watch.id),
        dedup_key: format!("{rule}:{}", watch.id),
        // "… 57 in 1 h …": the span is the evidence's window.
        title: alert_title(rule, severity, Some(&watch.name), &evidence, Language::En),
        evidence,
        mention_ids: Vec::new(),
        at: now,
        grows_only: false,
    }
}

/// The verdict with, as its window, the best-scoring one that starts at
/// `since` or later (a crisis measured from its start, not counting the
/// last one's mentions still in the longer windows); the verdict as it is
/// without `since`, `None` when no window starts late enough yet.
fn window_since(verdict: &vigie_detect::Verdict, bucket: i64, since: Option<i64>) -> Option<vigie_detect::Verdict> {
    if since.is_none() {
        return Some(*verdict);
    }
    let (_, window) = eligible_windows(verdict, bucket, since).max_by(|a, b| a.1.score.total_cmp(&b.1.score))?;
    Some(vigie_detect::Verdict { window, score: window.score, ..*verdict })
}

/// A burst inside one bucket ([`vigie_detect::Verdict::burst`]) that a crowd
/// made: the surge of that bucket alone ("100 in 5 min").
fn burst_event(
    rule: AlertRule,
    watch: &Watch,
    bucket: i64,
    verdict: &vigie_detect::Verdict,
    now: DateTime<Utc>,
) -> AlertEvent {
    surge_event(rule, watch, bucket, &burst_verdict(verdict), now)
}

/// The verdict with its bucket alone as its window.
fn burst_verdict(verdict: &vigie_detect::Verdict) -> vigie_detect::Verdict {
    let window = vigie_detect::WindowStat {
        buckets: 1,
        observed: verdict.observed,
        expected: verdict.expected,
        score: verdict.bucket_score,
    };
    vigie_detect::Verdict { window, score: verdict.bucket_score, ..*verdict }
}

/// A burst counts when at least this many authors make it.
pub const BURST_MIN_VOICES: usize = 10;

/// Who wrote a window's mentions: a voice is an author; a mention without
/// one is a voice of its own (a forum or a feed that names nobody is not one
/// person: many posters of one site are many voices).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Voices {
    mentions: usize,
    voices: usize,
    /// The mentions, each voice counting [`PER_VOICE`] at most.
    capped: usize,
}

/// The people test counts a window whole, with Poisson noise alone, where
/// the detector leaves out the window's highest bucket and allows for
/// overdispersion: it asks this much more surprise, so that it is about as
/// strict (six accounts posting eight times in half an hour, where one
/// mention was expected, are no surge; ten people are).
const PEOPLE_Z_MARGIN: f64 = 0.5;

/// What one voice counts for at most in a surge: a bot, or a few accounts
/// posting again and again, are a few people, not a surge of what people
/// say. A surge must be one in people.
const PER_VOICE: usize = 1;

impl Voices {
    fn of<'a>(mentions: impl Iterator<Item = &'a Mention>) -> Voices {
        // (author, 0), or (none, the mention's id) for a mention of nobody.
        let mut counts: HashMap<(Option<String>, i64), usize> = HashMap::new();
        let mut n = 0;
        for m in mentions {
            n += 1;
            let voice = match &m.author {
                Some(author) => (Some(author.to_lowercase()), 0),
                None => (None, m.id),
            };
            *counts.entry(voice).or_default() += 1;
        }
        Voices { mentions: n, voices: counts.len(), capped: counts.values().map(|c| (*c).min(PER_VOICE)).sum() }
    }

    /// Whether `observed` mentions against `expected` are still a surge
    /// (`min_excess` above the expectation and `min_ratio` times it) when
    /// each voice counts [`PER_VOICE`] times at most (mentions beyond those
    /// read count as they are), with a surprise of `min_z` at least (the
    /// detector's square-root test, Poisson noise alone): bots posting again
    /// and again are not a surge, and do not hide the people who speak up
    /// around them; six accounts posting eight times are six people, whom
    /// the detector would not call a surge.
    fn heard(&self, observed: f64, expected: f64, min_excess: f64, min_ratio: f64, min_z: f64) -> bool {
        let unread = (observed - self.mentions as f64).max(0.0);
        let people = (self.capped as f64 + unread).min(observed);
        let z = 2.0 * ((people + 0.375).sqrt() - (expected + 0.375).sqrt());
        people - expected >= min_excess && people >= min_ratio * expected && z >= min_z
    }

    /// A surge the detector found, heard with its own gates, and a surprise
    /// [`PEOPLE_Z_MARGIN`] above its threshold's.
    fn surge(&self, evidence: &AlertEvidence) -> bool {
        let config = DetectorConfig::default();
        let z = vigie_detect::z_of_score(config.threshold) + PEOPLE_Z_MARGIN;
        self.heard(evidence.observed, evidence.expected, config.min_excess, config.min_ratio, z)
    }

    /// A burst inside one bucket: [`BURST_MIN_VOICES`] voices or more, and a
    /// burst still when each counts [`PER_VOICE`] times at most. Copies count — fifty
    /// people pasting one text is a campaign, a viral complaint retweeted is
    /// news —, one account does not.
    fn burst(&self, evidence: &AlertEvidence) -> bool {
        use vigie_detect::{BURST_MIN_EXCESS, BURST_MIN_RATIO, BURST_Z};
        self.voices >= BURST_MIN_VOICES
            && self.heard(evidence.observed, evidence.expected, BURST_MIN_EXCESS, BURST_MIN_RATIO, BURST_Z)
    }
}

/// A watch's mentions published in `[start, end)` (the negative ones for a
/// negative surge), the first [`SURGE_READ`] of them: what a surge's window
/// is read as.
async fn series_mentions(
    store: &dyn Store,
    project_id: i64,
    watch_id: i64,
    rule: AlertRule,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<vigie_store::StoredMention>, PipelineError> {
    let filter = vigie_store::MentionFilter {
        watch_id: Some(watch_id),
        published_since: Some(start),
        published_until: Some(end),
        polarity: (rule == AlertRule::NegativeSurge).then_some(Polarity::Negative),
        ..vigie_store::MentionFilter::default()
    };
    Ok(store.candidates(project_id, None, &filter, None, SURGE_READ).await?)
}

/// Saves events as alerts (merged with the open ones) and queues their
/// notifications. Returns the alerts touched.
pub async fn record_events(
    store: &dyn Store,
    project_id: i64,
    settings: &AlertSettings,
    events: Vec<AlertEvent>,
    now: DateTime<Utc>,
) -> Result<Vec<Alert>, PipelineError> {
    let mut out = Vec::with_capacity(events.len());
    for mut event in events {
        if event.mention_ids.is_empty()
            && let (Some(watch), Some(start), Some(end)) =
                (event.watch_id, event.evidence.window_start, event.evidence.window_end)
        {
            // A surge: the mentions of the window, and their commonest words.
            let window = surge_mentions(store, project_id, watch, start, end, event.rule).await?;
            event.mention_ids = window.ids;
            event.evidence.terms = window.terms;
            event.evidence.window_stories = window.stories;
            event.evidence.window_authors = window.authors;
        }
        let since = now - Duration::seconds(settings.cooldown_secs);
        // Read, fold and write as one step: two processes seeing the same
        // surge grow one alert instead of opening two.
        let key = event.dedup_key.clone();
        let fold: vigie_store::AlertFold = Box::new(move |open| fold_event(open, event, project_id));
        out.extend(store.merge_alert(project_id, &key, since, now, fold).await?);
    }
    Ok(out)
}

/// A person corrected a mention to negative: a recent complaint of large
/// reach the model missed raises the alert it would have raised as it
/// arrived (the high-reach rule; its trigger terms counted it already). A
/// correction away from negative leaves alerts as they are: they record
/// what was known when they were raised. Returns the alerts opened or grown.
pub async fn alert_correction(
    store: &dyn Store,
    project_id: i64,
    stored: &vigie_store::StoredMention,
    corrected: Option<Polarity>,
    now: DateTime<Utc>,
) -> Result<Vec<Alert>, PipelineError> {
    let was_negative = stored.mention.analysis.polarity() == Some(Polarity::Negative);
    if corrected != Some(Polarity::Negative) || was_negative {
        return Ok(Vec::new());
    }
    let settings = AlertSettings::load(store, project_id).await?;
    let watches = store.list_watches(project_id).await?;
    let rules = MentionRules::new(settings.clone(), &watches);
    let mut mention = stored.mention.clone();
    mention.analysis.corrected = Some(Polarity::Negative);
    let watch_ids: Vec<i64> = stored.matches.iter().map(|m| m.watch_id).collect();
    let events: Vec<AlertEvent> = rules
        .events(mention.id, &mention, &watch_ids, now)
        .into_iter()
        .filter(|e| e.rule == AlertRule::HighReachNegative)
        .collect();
    if events.is_empty() {
        return Ok(Vec::new());
    }
    record_events(store, project_id, &settings, events, now).await
}

/// The window's mentions (negative ones for a negative surge), most reach
/// first, the words they share most, and how many stories they are (when
/// the window is read whole).
async fn surge_mentions(
    store: &dyn Store,
    project_id: i64,
    watch_id: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    rule: AlertRule,
) -> Result<SurgeMentions, PipelineError> {
    let found = series_mentions(store, project_id, watch_id, rule, start, end).await?;
    let mentions = || found.iter().map(|m| &m.mention);
    let whole = found.len() < SURGE_READ as usize;
    let stories = whole.then(|| stories_of(mentions()));
    let authors = whole.then(|| Voices::of(mentions()).voices as u64);
    let watch = store.list_watches(project_id).await?.into_iter().find(|w| w.id == watch_id);
    let terms = match &watch {
        Some(watch) => surge_terms(mentions().map(|m| m.text.as_str()), watch),
        None => top_terms(mentions().map(|m| m.text.as_str()), 8),
    };
    Ok(SurgeMentions { ids: top_mentions(mentions()), terms, stories, authors })
}

/// What a surge's window shows ([`surge_mentions`]).
struct SurgeMentions {
    ids: Vec<i64>,
    terms: Vec<String>,
    /// Stories and authors, when the window was read whole.
    stories: Option<u64>,
    authors: Option<u64>,
}

/// How many stories (near-duplicate groups) these mentions are.
fn stories_of<'a>(mentions: impl Iterator<Item = &'a Mention>) -> u64 {
    mentions.map(|m| m.analysis.story_id.unwrap_or(m.id)).collect::<HashSet<i64>>().len() as u64
}

/// The words a surge's mentions share, less the watch's own (every mention
/// of "Acme" says "acme": it tells nothing of what happened).
fn surge_terms<'a>(texts: impl Iterator<Item = &'a str>, watch: &Watch) -> Vec<String> {
    let own: HashSet<String> = format!("{} {}", watch.name, watch.query)
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3)
        .collect();
    let mut terms = top_terms(texts, 8 + own.len());
    terms.retain(|t| !own.contains(t));
    terms.truncate(8);
    terms
}

/// The ids of a surge's mentions to show, at most [`MAX_ALERT_MENTIONS`]:
/// one per story first, the stories with the most copies first (the
/// complaint forty people retweeted before a lone one), then by reach; the
/// copies after them.
fn top_mentions<'a>(mentions: impl Iterator<Item = &'a Mention>) -> Vec<i64> {
    let mut ranked: Vec<&Mention> = mentions.collect();
    let story = |m: &Mention| m.analysis.story_id.unwrap_or(m.id);
    let mut size: HashMap<i64, usize> = HashMap::new();
    for m in &ranked {
        *size.entry(story(m)).or_default() += 1;
    }
    let reach = |m: &Mention| m.analysis.reach.as_ref().map_or(0.0, |r| f64::from(r.score));
    ranked.sort_by(|a, b| size[&story(b)].cmp(&size[&story(a)]).then_with(|| reach(b).total_cmp(&reach(a))));
    let mut seen = HashSet::new();
    let (firsts, copies): (Vec<&Mention>, Vec<&Mention>) = ranked.into_iter().partition(|m| seen.insert(story(m)));
    firsts.into_iter().chain(copies).take(MAX_ALERT_MENTIONS).map(|m| m.id).collect()
}

/// French and English stop words (the `stop-words` crate's Stopwords ISO
/// lists), plus the pieces of links.
static STOP_WORDS: std::sync::LazyLock<std::collections::HashSet<String>> = std::sync::LazyLock::new(|| {
    let mut words: std::collections::HashSet<String> = stop_words::get(stop_words::Language::French)
        .iter()
        .chain(stop_words::get(stop_words::Language::English).iter())
        .map(|w| w.to_lowercase())
        .collect();
    words.extend(["http", "https", "www", "com"].map(String::from));
    words
});

/// The words most mentions of a set share (stop words and short words left
/// out), for "what is this about".
pub fn top_terms<'a>(texts: impl Iterator<Item = &'a str>, n: usize) -> Vec<String> {
    let stop = &*STOP_WORDS;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for text in texts {
        let mut seen: Vec<String> = Vec::new();
        for word in text.split(|c: char| !c.is_alphanumeric() && c != '\'') {
            let w = word.trim_matches('\'').to_lowercase();
            if w.chars().count() < 3 || stop.contains(&w) || w.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            if !seen.contains(&w) {
                seen.push(w);
            }
        }
        for w in seen {
            *counts.entry(w).or_default() += 1;
        }
    }
    let mut ranked: Vec<(String, usize)> = counts.into_iter().filter(|(_, c)| *c >= 2).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.into_iter().take(n).map(|(w, _)| w).collect()
}

/// Mentions a backtest reads at most.
pub const BACKTEST_MAX_MENTIONS: usize = 2_000_000;

/// Replays a watch's stored history from `from` to `to` through fresh
/// detectors and the per-mention rules, as if Vigie had been watching, and
/// returns the alerts that would have fired (not saved; ids are their order).
/// The detectors first learn from the [`WARM_UP_DAYS`] before `from`.
pub async fn backtest(
    store: &dyn Store,
    project_id: i64,
    watch: &Watch,
    settings: &AlertSettings,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Alert>, PipelineError> {
    let start = from - Duration::days(WARM_UP_DAYS);
    let filter = vigie_store::MentionFilter {
        watch_id: Some(watch.id),
        published_since: Some(start),
        published_until: Some(to),
        ..vigie_store::MentionFilter::default()
    };
    let mut mentions: Vec<vigie_store::StoredMention> = Vec::new();
    let mut before = None;
    loop {
        let page = store.candidates(project_id, None, &filter, before, 10_000).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.mention.id);
        mentions.extend(page);
        if mentions.len() >= BACKTEST_MAX_MENTIONS {
            return Err(PipelineError::Internal(format!(
                "more than {BACKTEST_MAX_MENTIONS} mentions in the period: backtest a shorter one"
            )));
        }
    }
    mentions.sort_by_key(|m| (m.mention.published_at, m.mention.id));

    let mut events: Vec<AlertEvent> = Vec::new();
    let rules = MentionRules::new(settings.clone(), std::slice::from_ref(watch));
    for m in mentions.iter().filter(|m| m.mention.published_at >= from) {
        events.extend(rules.events(m.mention.id, &m.mention, &[watch.id], m.mention.published_at));
    }
    for rule in [AlertRule::NegativeSurge, AlertRule::VolumeSurge] {
        if !settings.enabled(rule) {
            continue;
        }
        let negative_only = rule == AlertRule::NegativeSurge;
        let mut counts: BTreeMap<i64, Vec<&vigie_store::StoredMention>> = BTreeMap::new();
        for m in &mentions {
            if !negative_only || m.mention.analysis.polarity() == Some(Polarity::Negative) {
                counts.entry(bucket_start(m.mention.published_at)).or_default().push(m);
            }
        }
        // The mentions of an event's window, as the live check reads them.
        let window = |event: &AlertEvent| -> Vec<&vigie_model::Mention> {
            let (Some(s), Some(e)) = (event.evidence.window_start, event.evidence.window_end) else {
                return Vec::new();
            };
            counts.range(s.timestamp()..e.timestamp()).flat_map(|(_, ms)| ms.iter().map(|m| &m.mention)).collect()
        };
        let mut detector = new_detector()?;
        let (mut silenced, mut reported, mut since) = (false, None, None);
        // From the watch's first mention, as a live detector (`check_series`).
        let Some(first) = mentions.first().map(|m| bucket_start(m.mention.published_at)) else { continue };
        let mut bucket = first.max(bucket_start(start));
        while bucket <= bucket_start(to) {
            let in_bucket = counts.get(&bucket).map(Vec::len).unwrap_or_default();
            let verdict = detector.observe(at(bucket), in_bucket as f64).map_err(detect_error)?;
            // As the live check decides (`SurgeDetectors::opening`).
            let end = at(bucket + BUCKET_SECS);
            let mut opening = None;
            let (from_, grows) = opening_since(&verdict, bucket, reported, since);
            if (verdict.alert || verdict.renewed || (verdict.ongoing && silenced))
                && let Some(earliest) = eligible_windows(&verdict, bucket, from_).map(|(start, _)| start).min()
            {
                let mentions: Vec<&Mention> = counts
                    .range(earliest..bucket + BUCKET_SECS)
                    .flat_map(|(_, ms)| ms.iter().map(|m| &m.mention))
                    .collect();
                let heard = heard_window(&verdict, bucket, from_, &mentions);
                silenced = heard.is_none();
                opening = heard.map(|seen| {
                    (AlertEvent { grows_only: grows, ..surge_event(rule, watch, bucket, &seen, end) }, from_)
                });
            }
            if opening.is_none() && verdict.burst {
                let event = burst_event(rule, watch, bucket, &verdict, end);
                if Voices::of(window(&event).into_iter()).burst(&event.evidence) {
                    opening = Some((event, Some(bucket - i64::from(DetectorConfig::default().quiet_secs))));
                }
            }
            let event = match opening {
                Some((event, from_)) => {
                    (since, reported) = (from_, Some(bucket));
                    Some(event)
                }
                None if verdict.ongoing && !silenced => window_since(&verdict, bucket, since)
                    .map(|seen| AlertEvent { grows_only: true, ..surge_event(rule, watch, bucket, &seen, end) }),
                None => None,
            };
            if let Some(mut event) = event.filter(|_| bucket >= bucket_start(from)) {
                let mentions = window(&event);
                event.mention_ids = top_mentions(mentions.iter().copied());
                event.evidence.terms = surge_terms(mentions.iter().map(|m| m.text.as_str()), watch);
                event.evidence.window_stories = Some(stories_of(mentions.iter().copied()));
                event.evidence.window_authors = Some(Voices::of(mentions.iter().copied()).voices as u64);
                events.push(event);
            }
            bucket += BUCKET_SECS;
        }
    }
    events.sort_by_key(|e| e.at);
    let mut alerts: Vec<Alert> = Vec::new();
    let mut open: HashMap<String, usize> = HashMap::new();
    for event in events {
        let current = open
            .get(&event.dedup_key)
            .map(|&i| alerts[i].clone())
            .filter(|a| (event.at - a.updated_at).num_seconds() <= settings.cooldown_secs);
        let key = event.dedup_key.clone();
        let Some((mut alert, _)) = fold_event(current.clone(), event, project_id) else { continue };
        match current {
            Some(_) => {
                let i = open[&key];
                alerts[i] = alert;
            }
            None => {
                alert.id = alerts.len() as i64 + 1;
                open.insert(key, alerts.len());
                alerts.push(alert);
            }
        }
    }
    Ok(alerts)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn event(at: DateTime<Utc>, severity: Severity, mention: i64) -> AlertEvent {
        AlertEvent {
            rule: AlertRule::TriggerTerm,
            severity,
            watch_id: Some(1),
            dedup_key: "trigger_term:1:boycott".into(),
            title: "“boycott” in mentions of acme".into(),
            evidence: AlertEvidence { observed: 1.0, terms: vec!["boycott".into()], ..AlertEvidence::default() },
            mention_ids: vec![mention],
            at,
            grows_only: false,
        }
    }

    #[test]
    fn one_crisis_is_one_alert_that_grows_and_speaks_up_only_when_it_matters() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let (mut alert, notify) = merge(None, event(t0, Severity::Warning, 1), 7);
        assert!(notify);
        assert_eq!((alert.events, alert.project_id, alert.status), (1, 7, AlertStatus::Open));
        let mut notifications = 1;
        for i in 2..=120 {
            let (grown, notify) = merge(Some(alert), event(t0 + Duration::minutes(i), Severity::Warning, i), 7);
            alert = grown;
            notifications += usize::from(notify);
        }
        assert_eq!(alert.events, 120);
        assert_eq!(alert.evidence.observed, 120.0, "120 mentions with the term, as the notifications say");
        assert_eq!(notifications, 3, "opened, then at 10 and 100 events: not 120 mails");
        assert_eq!(alert.mention_ids.len(), MAX_ALERT_MENTIONS);
        assert_eq!(alert.mention_ids[0], 120, "newest evidence first");
        assert_eq!(alert.opened_at, t0);
        assert_eq!(alert.updated_at, t0 + Duration::minutes(120));

        // Acknowledged: growth stays quiet; a rise in severity reopens and notifies.
        alert.status = AlertStatus::Acknowledged;
        let (quiet, notify) = merge(Some(alert), event(t0 + Duration::hours(3), Severity::Warning, 500), 7);
        assert!(!notify);
        let (louder, notify) = merge(Some(quiet), event(t0 + Duration::hours(4), Severity::Critical, 501), 7);
        assert!(notify);
        assert_eq!((louder.severity, louder.status), (Severity::Critical, AlertStatus::Open));
    }

    fn surge(at: DateTime<Utc>, observed: f64, minutes: i64, terms: &[&str], grows_only: bool) -> AlertEvent {
        let evidence = AlertEvidence {
            observed,
            expected: 4.0,
            score: Some(0.9),
            window_start: Some(at - Duration::minutes(minutes)),
            window_end: Some(at),
            terms: terms.iter().map(|t| t.to_string()).collect(),
            ..AlertEvidence::default()
        };
        AlertEvent {
            rule: AlertRule::NegativeSurge,
            severity: Severity::Critical,
            watch_id: Some(1),
            dedup_key: "negative_surge:1".into(),
            title: alert_title(AlertRule::NegativeSurge, Severity::Critical, Some("Acme"), &evidence, Language::En),
            evidence,
            mention_ids: vec![observed as i64],
            at,
            grows_only,
        }
    }

    #[test]
    fn a_surge_alert_grows_with_its_crisis_and_speaks_up_an_order_of_magnitude_later() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap();
        assert!(fold_event(None, surge(t0, 11.0, 30, &["panne"], true), 7).is_none(), "growth opens nothing");
        let (mut alert, notify) = fold_event(None, surge(t0, 11.0, 30, &["panne"], false), 7).unwrap();
        assert!(notify);
        let mut notifications = vec![];
        for (i, observed, minutes, grows) in
            [(1, 30.0, 60, true), (2, 25.0, 30, true), (3, 120.0, 240, true), (4, 150.0, 240, true)]
        {
            let (grown, notify) =
                fold_event(Some(alert), surge(t0 + Duration::minutes(5 * i), observed, minutes, &["lyon"], grows), 7)
                    .unwrap();
            alert = grown;
            notifications.push(notify);
        }
        assert_eq!(notifications, [false, false, true, false], "told again when it reached 100");
        assert_eq!(alert.events, 1, "growth is not another event");
        let e = &alert.evidence;
        assert_eq!((e.observed, e.terms.clone()), (150.0, vec!["lyon".to_string()]));
        let span = e.window_end.unwrap() - e.window_start.unwrap();
        assert_eq!(span, Duration::hours(4), "the count's own window, not the union of all");
        assert_eq!(alert.title, "Surge of negative mentions about Acme: 150 in 4 h, 4.0 expected");
        assert_eq!(alert.mention_ids[..2], [150, 120], "newest evidence first");
        assert_eq!(alert.opened_at, t0);
        // Acknowledged: it still grows, quietly.
        alert.status = AlertStatus::Acknowledged;
        let (alert, notify) =
            fold_event(Some(alert), surge(t0 + Duration::hours(2), 1500.0, 240, &[], true), 7).unwrap();
        assert!(!notify);
        assert_eq!((alert.evidence.observed, alert.evidence.terms.clone()), (1500.0, vec!["lyon".to_string()]));
    }

    #[test]
    fn a_surge_is_heard_when_the_loudest_voice_counts_once() {
        let mention = |id: i64, author: Option<&str>, story: Option<i64>| {
            let mut m = Mention {
                id,
                source_kind: vigie_model::SourceKind::Twitter,
                source_item_id: None,
                url: None,
                title: None,
                text: String::new(),
                author: author.map(String::from),
                site: None,
                published_at: Utc::now(),
                collected_at: Utc::now(),
                lang: None,
                lang_confidence: 0.0,
                reach: None,
                content_hash: String::new(),
                dedup_key: String::new(),
                analysis: vigie_model::Analysis::default(),
            };
            m.analysis.story_id = story;
            m
        };
        // A bucket of `n` mentions where 0.05 were expected.
        let burst = |n: usize| AlertEvidence { observed: n as f64, expected: 0.05, ..AlertEvidence::default() };
        let crowd: Vec<Mention> = (0..12).map(|i| mention(i, Some(&format!("a{i}")), None)).collect();
        assert!(Voices::of(crowd.iter()).burst(&burst(12)));
        assert!(!Voices::of(crowd.iter().take(9)).burst(&burst(9)), "nine voices are not yet a crowd");
        let bot: Vec<Mention> = (0..50).map(|i| mention(i, Some("bot"), None)).collect();
        let voices = Voices::of(bot.iter());
        assert!(!voices.burst(&burst(50)) && !voices.surge(&burst(50)), "one voice");
        // The same bot among a dozen people: they are heard, it counts once.
        let noisy = Voices::of(crowd.iter().chain(bot.iter().take(40)));
        assert_eq!((noisy.mentions, noisy.voices, noisy.capped), (52, 13, 13));
        assert!(noisy.burst(&burst(52)) && noisy.surge(&burst(52)));
        // Two people around it are no surge; nor are two bots.
        let few = Voices::of(crowd.iter().take(2).chain(bot.iter().take(40)));
        assert!(!few.surge(&burst(42)));
        let other: Vec<Mention> = (50..80).map(|i| mention(i, Some("bot2"), None)).collect();
        let bots = Voices::of(bot.iter().take(30).chain(other.iter()));
        assert!(!bots.surge(&burst(60)) && !bots.burst(&burst(60)));
        let third: Vec<Mention> = (80..110).map(|i| mention(i, Some("bot3"), None)).collect();
        let three = Voices::of(bot.iter().take(30).chain(other.iter()).chain(third.iter()));
        let hours = |n: usize| AlertEvidence { observed: n as f64, expected: 1.2, ..AlertEvidence::default() };
        assert!(!three.surge(&hours(90)), "three bots");
        let copies: Vec<Mention> = (0..50).map(|i| mention(i, Some(&format!("a{i}")), Some(1))).collect();
        assert!(Voices::of(copies.iter()).burst(&burst(50)), "fifty people pasting one text: a campaign");
        let anonymous: Vec<Mention> = (0..12).map(|i| mention(i, None, None)).collect();
        assert!(Voices::of(anonymous.iter()).burst(&burst(12)), "mentions without an author are voices of their own");
        // A small brand's surge: ten people in an hour where one was expected;
        // six accounts posting eight times each are not one.
        let hour = |observed: f64| AlertEvidence { observed, expected: 1.0, ..AlertEvidence::default() };
        assert!(Voices::of(crowd.iter().take(10)).surge(&hour(10.0)));
        let six: Vec<Mention> = (0..48).map(|i| mention(i, Some(&format!("compte{}", i % 6)), None)).collect();
        assert!(!Voices::of(six.iter()).surge(&hour(48.0)));

        // What a surge shows: one line per story before any copy, the story
        // with most copies first (before a lone mention of more reach).
        let mut shown: Vec<Mention> = (0..30).map(|i| mention(i, None, Some(0))).collect();
        shown[0].analysis.story_id = None; // the story's first mention
        for (i, m) in shown.iter_mut().enumerate().take(25) {
            m.analysis.reach = Some(vigie_model::ReachEstimate {
                audience: 0,
                engagement: 0,
                score: 50.0 - i as f32,
                basis: String::new(),
            });
        }
        let mut loud = mention(40, None, None);
        loud.analysis.reach =
            Some(vigie_model::ReachEstimate { audience: 0, engagement: 0, score: 90.0, basis: String::new() });
        shown.push(loud);
        shown.push(mention(41, None, Some(41)));
        let ids = top_mentions(shown.iter());
        assert_eq!(ids[..4], [0, 40, 41, 1], "three stories, then their copies");
        assert_eq!(ids.len(), MAX_ALERT_MENTIONS);
    }

    #[test]
    fn copies_of_a_story_join_its_alert_without_counting_as_events() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let of_story = |mention: i64, story: i64, minutes: i64| {
            let mut e = event(t0 + Duration::minutes(minutes), Severity::Warning, mention);
            e.evidence.stories = vec![story];
            e
        };
        let (mut alert, _) = merge(None, of_story(1, 1, 0), 7);
        // A wire story syndicated on nine more sites: one story, ten mentions.
        let mut notifications = 0;
        for i in 2..=10 {
            let (grown, notify) = merge(Some(alert), of_story(i, 1, i), 7);
            alert = grown;
            notifications += usize::from(notify);
        }
        assert_eq!(alert.events, 1, "one story");
        assert_eq!(alert.evidence.observed, 10.0, "ten mentions");
        assert_eq!(alert.evidence.stories, [1]);
        assert_eq!(alert.mention_ids.len(), 10, "every copy is in the evidence");
        assert_eq!(notifications, 0, "copies notify nobody: no \"10 events\" milestone");
        // Another story counts.
        let (alert, _) = merge(Some(alert), of_story(11, 11, 11), 7);
        assert_eq!((alert.events, alert.evidence.stories.clone()), (2, vec![1, 11]));
        // A surge's event has no story: it always counts.
        let (alert, _) = merge(Some(alert), event(t0 + Duration::minutes(12), Severity::Warning, 12), 7);
        assert_eq!(alert.events, 3);
    }

    #[test]
    fn trigger_terms_and_reach_raise_events_for_recent_mentions_of_a_watch_only() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let watch = Watch {
            id: 3,
            name: "Acme".into(),
            query: "acme".into(),
            competitor: false,
            langs: vec![],
            created_at: now,
        };
        let rival = Watch { id: 2, name: "Globex".into(), competitor: true, ..watch.clone() };
        let other = Watch { id: 5, name: "Acme SAV".into(), ..watch.clone() };
        let rules = MentionRules::new(AlertSettings::default(), &[rival, watch.clone(), other]);
        let mut m = Mention {
            id: 0,
            source_kind: vigie_model::SourceKind::Twitter,
            source_item_id: None,
            url: Some("https://x.com/a/status/1".into()),
            title: None,
            text: "J'appelle au BOYCOTT d'Acme, c'est une véritable arnaque !".into(),
            author: None,
            site: None,
            published_at: now - Duration::minutes(3),
            collected_at: now,
            lang: Some("fr".into()),
            lang_confidence: 1.0,
            reach: None,
            content_hash: "h".into(),
            dedup_key: "k".into(),
            analysis: vigie_model::Analysis::default(),
        };
        // Two terms, one mention: one event, of the first term of the list,
        // with both as evidence.
        let events = rules.events(10, &m, &[3], now);
        let keys: Vec<&str> = events.iter().map(|e| e.dedup_key.as_str()).collect();
        assert_eq!(keys, ["trigger_term:3:boycott*"]);
        assert_eq!(events[0].evidence.terms, ["boycott*", "arnaqu*"]);
        assert!(events.iter().all(|e| e.severity == Severity::Warning && e.mention_ids == [10]));
        assert_eq!(events[0].title, "“boycott*” in mentions of Acme");
        assert!(rules.events(10, &m, &[], now).is_empty(), "not a mention of a watch");
        // A mention of several watches raises each rule once, for the brand's
        // oldest watch rather than a competitor's.
        let once = rules.events(10, &m, &[5, 2, 3], now);
        let keys: Vec<&str> = once.iter().map(|e| e.dedup_key.as_str()).collect();
        assert_eq!(keys, ["trigger_term:3:boycott*"]);
        let rival_only = rules.events(10, &m, &[2], now);
        assert_eq!(rival_only.len(), 1, "a competitor's own crisis is still reported");
        assert!(rival_only[0].title.contains("Globex"), "{}", rival_only[0].title);
        m.published_at = now - Duration::days(3);
        assert!(rules.events(10, &m, &[3], now).is_empty(), "too old to warn about");

        // The default terms take plurals and inflections, and overlap nowhere.
        m.published_at = now;
        for (text, term) in [
            ("Encore des arnaques chez Acme", "arnaqu*"),
            ("Je me suis fait arnaquer par Acme", "arnaqu*"),
            ("Acme : scandales à répétition", "scandale*"),
            ("Plusieurs plaintes déposées contre Acme", "plainte*"),
            ("Je vais porter plainte contre Acme", "plainte*"),
            ("#BoycottAcme maintenant", "boycott*"),
            ("Acme, bande d'escrocs", "escro*"),
            ("Acme faces lawsuits over data", "lawsuit*"),
            ("Acme scams everywhere", "scam*"),
        ] {
            m.text = text.into();
            let events = rules.events(10, &m, &[3], now);
            let terms: Vec<&[String]> = events.iter().map(|e| e.evidence.terms.as_slice()).collect();
            assert_eq!(terms, [[term.to_string()]], "{text:?}");
        }

        // A negative mention with a large audience.
        m.published_at = now;
        m.text = "Service client Acme injoignable".into();
        m.analysis.sentiment = Some(vigie_model::Sentiment {
            label: Polarity::Negative,
            score: -0.7,
            confidence: 0.9,
            model: "fast-v1".into(),
            explanation: vec![],
        });
        m.analysis.reach = Some(vigie_model::ReachEstimate {
            audience: 2_000_000,
            engagement: 5_000,
            score: 92.0,
            basis: "followers".into(),
        });
        let events = rules.events(11, &m, &[3], now);
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].rule, events[0].severity), (AlertRule::HighReachNegative, Severity::Critical));
        assert_eq!(events[0].evidence.observed, 92.0);
        assert_eq!(events[0].title, "Negative mention of Acme with a large audience (reach 92/100)");
        let fr = alert_title(events[0].rule, events[0].severity, Some("Acme"), &events[0].evidence, Language::Fr);
        assert_eq!(fr, "Mention négative à forte audience pour la veille Acme (portée 92/100)");
    }

    #[test]
    fn surge_titles_are_the_ones_stored_before() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 14, 2, 0).unwrap();
        let watch = Watch {
            id: 3,
            name: "Acme".into(),
            query: "acme".into(),
            competitor: false,
            langs: vec![],
            created_at: now,
        };
        let bucket = bucket_start(now) - BUCKET_SECS;
        for (buckets, span) in [(12u32, "1 h"), (9, "45 min"), (1, "5 min")] {
            let verdict = vigie_detect::Verdict {
                score: 0.99,
                alert: true,
                observed: 9.0,
                expected: 1.0,
                upper: 5.0,
                window: vigie_detect::WindowStat { buckets, observed: 57.0, expected: 8.25, score: 0.99 },
                windows: Default::default(),
                suppressed: false,
                ongoing: false,
                renewed: false,
                burst: false,
                bucket_score: 0.0,
            };
            let e = surge_event(AlertRule::NegativeSurge, &watch, bucket, &verdict, now);
            // The format! the title was made with before.
            let before = format!("Surge of negative mentions about Acme: {:.0} in {span}, {:.1} expected", 57.0, 8.25);
            assert_eq!(e.title, before);
            let e = surge_event(AlertRule::VolumeSurge, &watch, bucket, &verdict, now);
            assert_eq!(e.title, format!("Surge of mentions about Acme: 57 in {span}, 8.2 expected"));
            let fr = alert_title(e.rule, e.severity, Some("Acme"), &e.evidence, Language::Fr);
            assert_eq!(fr, format!("Hausse des mentions pour la veille Acme\u{a0}: 57 en {span}, 8,2 attendues"));
        }
    }

    #[test]
    fn the_query_language_knows_every_source_kind() {
        let kinds: Vec<&str> = vigie_model::SourceKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(kinds, vigie_query::SOURCE_KINDS);
    }

    #[test]
    fn settings_are_checked() {
        let mut s = AlertSettings::default();
        assert!(s.validate().is_ok());
        s.high_reach = 150.0;
        assert!(s.validate().unwrap_err().contains("0 to 100"));
        s = AlertSettings { trigger_terms: vec!["  ".into()], ..AlertSettings::default() };
        assert!(s.validate().unwrap_err().contains("trigger term"));
        s = AlertSettings { trigger_terms: vec!["fraude\r\nBcc: evil@x.com".into()], ..AlertSettings::default() };
        assert!(s.validate().unwrap_err().contains("no line breaks"), "{:?}", s.validate());
        let parsed: Result<AlertSettings, _> = serde_json::from_value(serde_json::json!({"trigger_term": []}));
        assert!(parsed.is_err(), "a typo in a setting is an error");
    }

    #[test]
    fn the_words_a_surge_shares_are_its_terms() {
        let texts = ["Panne Acme Lyon depuis ce matin", "encore une panne chez Acme à Lyon", "Acme panne générale"];
        assert_eq!(top_terms(texts.iter().copied(), 3), ["acme", "panne", "lyon"]);
        // Stop words of either language are never "what it is about".
        let tweets =
            ["We can get it, it will have been late", "can we get there? it will", "Retard again, we can, been"];
        let tweets2 = ["Encore un retard, vraiment", "retard : ils auraient été prévenus"];
        assert_eq!(top_terms(tweets.iter().chain(tweets2.iter()).copied(), 5), ["retard"]);
    }
}

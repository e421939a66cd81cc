//! What both backends write and read the same way: epoch-second times, the
//! JSON documents kept with a mention (analysis, watch matches), stored
//! enum names, and the error kinds a database reports. The SQL stays each
//! backend's own.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use vigie_model::{Analysis, InboxStatus, Language, Polarity, Role, Sentiment, Severity, WatchMatch};

use crate::{Result, StoreError};

pub(crate) fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub(crate) fn from_ts(secs: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0).ok_or_else(|| StoreError::Corrupt(format!("timestamp {secs} out of range")))
}

pub(crate) fn from_opt_ts(secs: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    secs.map(from_ts).transpose()
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// The `min_severity` values of the channels that take an alert of `severity`.
pub(crate) fn channel_minimums_taking(severity: Severity) -> Vec<&'static str> {
    [Severity::Info, Severity::Warning, Severity::Critical]
        .into_iter()
        .filter(|min| *min <= severity)
        .map(Severity::as_str)
        .collect()
}

/// A stored role, [`StoreError::Corrupt`] if unknown.
pub(crate) fn role_from_str(s: &str) -> Result<Role> {
    Role::from_str(s).map_err(|e| StoreError::Corrupt(format!("role: {e}")))
}

/// A stored language (`fr`, `en`), [`StoreError::Corrupt`] if unknown.
pub(crate) fn language_from_str(s: &str) -> Result<Language> {
    Language::from_str(s).map_err(|e| StoreError::Corrupt(format!("channel language: {e}")))
}

/// A stored workflow status, [`StoreError::Corrupt`] if unknown.
pub(crate) fn status_from_str(s: &str) -> Result<InboxStatus> {
    InboxStatus::from_str(s).map_err(|e| StoreError::Corrupt(format!("inbox status: {e}")))
}

/// A mention's analysis from its JSON column, its correction and its story.
pub(crate) fn analysis_from_parts(
    json: Option<&str>,
    corrected: Option<&str>,
    story_id: Option<i64>,
) -> Result<Analysis> {
    let mut analysis: Analysis = match json {
        Some(json) => serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("mention analysis: {e}")))?,
        None => Analysis::default(),
    };
    analysis.corrected =
        corrected.map(|c| Polarity::from_str(c).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()?;
    analysis.story_id = story_id;
    Ok(analysis)
}

/// The analysis JSON column: what the pipeline computed (the correction and
/// the story live in their own columns).
pub(crate) fn analysis_json(analysis: &Analysis) -> Option<String> {
    if analysis.sentiment.is_none() && analysis.themes.is_empty() && analysis.reach.is_none() {
        return None;
    }
    let stored = Analysis { corrected: None, story_id: None, ..analysis.clone() };
    serde_json::to_string(&stored).ok()
}

/// 0: a fast verdict the encoder may refine; 1: the encoder's; NULL: none.
pub(crate) fn sentiment_tier(sentiment: Option<&Sentiment>) -> Option<i64> {
    sentiment.map(|s| i64::from(s.model.starts_with("encoder")))
}

/// `{"12": ["sncf"], "3": ["retard*"]}` → matches sorted by watch id.
pub(crate) fn matches_from_json(json: Option<&str>) -> Result<Vec<WatchMatch>> {
    let Some(json) = json else {
        return Ok(Vec::new());
    };
    let map: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("match terms: {e}")))?;
    let mut out = Vec::with_capacity(map.len());
    for (id, terms) in map {
        let watch_id = id.parse().map_err(|_| StoreError::Corrupt(format!("match terms: watch id {id:?}")))?;
        out.push(WatchMatch { watch_id, terms });
    }
    out.sort_by_key(|m| m.watch_id);
    Ok(out)
}

pub(crate) fn matches_json(matches: &[WatchMatch]) -> Option<String> {
    if matches.is_empty() {
        return None;
    }
    let map: serde_json::Map<String, serde_json::Value> =
        matches.iter().map(|m| (m.watch_id.to_string(), serde_json::json!(m.terms))).collect();
    Some(serde_json::Value::Object(map).to_string())
}

pub(crate) fn terms_json(terms: &[String]) -> String {
    serde_json::to_string(terms).unwrap_or_else(|_| "[]".to_string())
}

/// The offset in `n` sorted values of the one at rank `ceil(percent / 100 × n)`
/// (nearest rank); `None` when there is no value.
pub(crate) fn nearest_rank_offset(n: i64, percent: i64) -> Option<i64> {
    let rank = (percent * n + 99).div_euclid(100).max(1);
    (n > 0).then_some(rank - 1)
}

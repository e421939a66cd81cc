//! The export row format, shared by `vigie export` and the web app's
//! exports: a stored mention as a JSON object in the import schema (plus
//! what Vigie added), and the same as CSV cells in a fixed column order.
//!
//! Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (and some
//! with a tab or carriage return) as a formula: mention text is the
//! internet's, so exports meant for spreadsheets prefix such text cells with
//! a `'` ([`spreadsheet_safe`]). Numbers are left as they are (a negative
//! score stays a number). `vigie export` keeps text exact, since its files
//! are read back by `vigie import`.

use serde_json::{Value, json};
use vigie_store::StoredMention;

/// CSV columns, in order (the import schema first).
pub const CSV_COLUMNS: [&str; 20] = [
    "id",
    "url",
    "title",
    "text",
    "author",
    "published_at",
    "source",
    "site",
    "lang",
    "reach",
    "text_format",
    "collected_at",
    "lang_confidence",
    "watches",
    "vigie_id",
    "sentiment",
    "sentiment_score",
    "themes",
    "story_id",
    "reach_score",
];

/// A stored mention as a JSON object in the export/import schema.
pub fn mention_json(s: &StoredMention, watch_names: &dyn Fn(i64) -> Option<String>) -> Value {
    let m = &s.mention;
    json!({
        "id": m.source_item_id,
        "url": m.url,
        "title": m.title,
        "text": m.text,
        "author": m.author,
        "published_at": m.published_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "source": m.source_kind.as_str(),
        "site": m.site,
        "lang": m.lang,
        "reach": m.reach,
        "text_format": "plain",
        "collected_at": m.collected_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "lang_confidence": short_f32(m.lang_confidence),
        "watches": s.matches.iter().filter_map(|w| watch_names(w.watch_id)).collect::<Vec<_>>(),
        "vigie_id": m.id,
        "sentiment": m.analysis.polarity(),
        "sentiment_score": m.analysis.sentiment.as_ref().map(|s| short_f32(s.score)),
        "themes": m.analysis.themes.iter().map(|t| t.theme.as_str()).collect::<Vec<_>>(),
        // A mention that starts its story is its own story (as the API says).
        "story_id": m.analysis.story_id.unwrap_or(m.id),
        // Vigie's estimate (0–100, comparable across sources), beside the
        // imported `reach` (the author's audience as the source gave it).
        "reach_score": m.analysis.reach.as_ref().map(|r| short_f32(r.score)),
    })
}

/// A stored `f32` as the shortest decimal that reads back as it (`0.212`,
/// not the `0.21199999749660492` its widening to `f64` prints).
pub fn short_f32(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// One JSON value as a CSV cell: null empty, lists joined with `|`.
pub fn csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string)).collect::<Vec<_>>().join("|")
        }
        other => other.to_string(),
    }
}

/// Text a spreadsheet would run as a formula, made inert with a leading `'`.
pub fn spreadsheet_safe(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}") } else { cell }
}

/// A JSON value as a CSV cell safe for spreadsheets: text cells (and lists
/// of text) are escaped by [`spreadsheet_safe`], numbers are not.
pub fn csv_cell_for_spreadsheet(v: &Value) -> String {
    match v {
        Value::String(_) | Value::Array(_) => spreadsheet_safe(csv_cell(v)),
        other => csv_cell(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_scores_export_as_written() {
        assert_eq!(short_f32(0.212).to_string(), "0.212");
        assert_eq!(short_f32(-0.9).to_string(), "-0.9");
        assert_eq!(serde_json::json!(short_f32(0.9)).to_string(), "0.9", "not {}", f64::from(0.9f32));
    }

    #[test]
    fn formulas_are_made_inert_and_numbers_kept() {
        for hostile in ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"] {
            let cell = csv_cell_for_spreadsheet(&json!(hostile));
            assert!(cell.starts_with('\''), "{cell:?}");
        }
        assert_eq!(csv_cell_for_spreadsheet(&json!("plain =1")), "plain =1");
        assert_eq!(csv_cell_for_spreadsheet(&json!(-0.5)), "-0.5");
        assert_eq!(csv_cell_for_spreadsheet(&json!(["=a", "b"])), "'=a|b");
        assert_eq!(csv_cell_for_spreadsheet(&Value::Null), "");
        assert_eq!(csv_cell(&json!("=kept for import")), "=kept for import");
    }
}

//! `vigie search QUERY`

use std::io::Write;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use vigie_store::MentionFilter;

use crate::app::{App, parse_duration, usage};
use crate::cli::{OutputFormat, SearchArgs};
use crate::commands::watch::parse_user_query;
use crate::output::Table;

/// Most results one search returns.
pub const MAX_LIMIT: usize = 10_000;

/// The watch filter of a command, resolved to an id.
pub async fn watch_filter(app: &App, watch: Option<&str>) -> anyhow::Result<Option<i64>> {
    match watch {
        None => Ok(None),
        Some(name) => Ok(Some(watch_named(app, name).await?.id)),
    }
}

/// The project's watch of that name, whatever its case (names are unique
/// without case), or a usage error naming it.
pub async fn watch_named(app: &App, name: &str) -> anyhow::Result<vigie_model::Watch> {
    let name = name.trim();
    if let Some(w) = app.store.watch_by_name(app.project.id, name).await? {
        return Ok(w);
    }
    let lower = name.to_lowercase();
    match app.store.list_watches(app.project.id).await?.into_iter().find(|w| w.name.to_lowercase() == lower) {
        Some(w) => Ok(w),
        None => usage(format!("no watch named {name:?} in project {:?}", app.project.name)),
    }
}

pub use vigie_pipeline::export::mention_json;

pub async fn run(app: &App, args: SearchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let query = parse_user_query(&args.query)?;
    if args.limit == 0 || args.limit > MAX_LIMIT {
        return usage(format!("--limit must be between 1 and {MAX_LIMIT}"));
    }
    let since = match &args.since {
        Some(s) => Some(Utc::now() - Duration::seconds(parse_duration(s)?)),
        None => None,
    };
    let filter = MentionFilter {
        watch_id: watch_filter(app, args.watch.as_deref()).await?,
        published_since: since,
        ..Default::default()
    };
    let hits = vigie_pipeline::search(&app.store, app.project.id, &query, &filter, args.limit).await?;
    match args.output.format {
        OutputFormat::Json => {
            let watches = app.store.list_watches(app.project.id).await?;
            let name = |id: i64| watches.iter().find(|w| w.id == id).map(|w| w.name.clone());
            let rows: Vec<Value> = hits
                .iter()
                .map(|h| {
                    let mut v = mention_json(&h.stored, &name);
                    v["matched_terms"] = json!(h.terms);
                    v
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            writeln!(out)?;
        }
        format => {
            // `id` is what `vigie mention show ID` takes (the JSON's `vigie_id`).
            let mut table = Table::new(vec!["id", "published", "source", "site", "author", "text", "terms", "url"]);
            for h in &hits {
                let m = &h.stored.mention;
                let text = match &m.title {
                    Some(t) => format!("{t} — {}", m.text),
                    None => m.text.clone(),
                };
                table.push(vec![
                    json!(m.id),
                    json!(m.published_at.format("%Y-%m-%d %H:%M").to_string()),
                    json!(m.source_kind.as_str()),
                    json!(m.site),
                    json!(m.author),
                    json!(text),
                    json!(h.terms),
                    json!(m.url),
                ]);
            }
            table.write(out, format)?;
            if format == OutputFormat::Table {
                writeln!(out, "{} result(s)", hits.len())?;
            }
        }
    }
    Ok(())
}

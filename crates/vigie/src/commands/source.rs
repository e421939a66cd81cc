//! `vigie source …`

use std::io::Write;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use vigie_collect::Fetcher;
use vigie_collect::html::Selectors;
use vigie_model::{Mention, Source, SourceKind, SourceType};
use vigie_pipeline::{CollectContext, SourceParams, SourceSpec, read_source};
use vigie_store::StoreError;

use crate::app::{App, parse_duration, usage};
use crate::cli::{OutputFormat, SourceAddArgs, SourceCommand};
use crate::commands::collect::{collect_context, fetch_config};
use crate::output::{Table, time_cell as time};

/// Shortest interval a source may be polled at: politeness to the sites.
pub const MIN_INTERVAL_SECS: i64 = 60;
fn status(s: &Source) -> &'static str {
    s.health()
}

pub fn every(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn params(args: &SourceAddArgs) -> anyhow::Result<SourceParams> {
    let kind = match &args.kind_of_site {
        Some(k) => match k.parse::<SourceKind>() {
            Ok(kind) => Some(kind),
            Err(e) => return usage(format!("--kind {k:?}: {e}")),
        },
        None => None,
    };
    Ok(SourceParams {
        url: args.url.clone(),
        query: args.query.clone(),
        hashtag: args.hashtag.clone(),
        subreddit: args.subreddit.clone(),
        channel_id: args.channel_id.clone(),
        selectors: Selectors {
            item: args.item.clone().unwrap_or_default(),
            title: args.title.clone(),
            text: args.text.clone(),
            author: args.author.clone(),
            date: args.date.clone(),
            link: args.link.clone(),
        },
        kind,
        term: args.term.clone(),
        language: args.language.clone(),
        top: args.top,
    })
}

pub async fn run(app: &App, command: SourceCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let project = app.project.id;
    match command {
        SourceCommand::Add(args) => {
            let source_type: SourceType = args.kind.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            let spec = match SourceSpec::from_params(source_type, &params(&args)?) {
                Ok(spec) => spec,
                Err(e) => return usage(e),
            };
            let interval_secs = parse_duration(&args.every)?;
            if interval_secs < MIN_INTERVAL_SECS {
                return usage(format!(
                    "--every {} is too often: the minimum is 1m, to be polite to the site",
                    args.every
                ));
            }
            let now = Utc::now();
            let source = match app.store.add_source(project, spec.new_source(interval_secs, now), now).await {
                Err(StoreError::Conflict(msg)) => return usage(msg),
                other => other?,
            };
            super::user::audit(
                app,
                Some(project),
                "source.add",
                format!("added source {} ({} {})", source.id, source.source_type, source.url),
            )
            .await?;
            let what = match spec {
                SourceSpec::Feed { .. } => String::new(),
                _ => format!(" ({})", spec.describe()),
            };
            writeln!(
                out,
                "source {id} added: {} {}{what} every {} (first fetch at the next `vigie collect`; \
                 `vigie source test {id}` shows what it reads)",
                source.source_type,
                source.url,
                every(source.interval_secs),
                id = source.id,
            )?;
            if source_type == SourceType::Youtube && std::env::var_os("VIGIE_YOUTUBE_API_KEY").is_none() {
                writeln!(out, "note: set VIGIE_YOUTUBE_API_KEY (a YouTube Data API key) for `vigie collect`")?;
            }
        }
        SourceCommand::List { output } => {
            let sources = app.store.list_sources(project).await?;
            let now = Utc::now();
            let coverage = app.store.source_coverage(project, now - Duration::days(1)).await?;
            let mut table = Table::new(vec![
                "id",
                "type",
                "url",
                "every",
                "status",
                "last_attempt",
                "last_success",
                "last_error",
                "warning",
                "failures",
                "last_items",
                "stored_24h",
                "median_lag",
                "stored",
                "next_due",
            ]);
            for s in sources {
                let cover = coverage.iter().find(|c| c.source_id == s.id);
                table.push(vec![
                    json!(s.id),
                    json!(s.source_type.as_str()),
                    json!(s.url),
                    json!(every(s.interval_secs)),
                    json!(status(&s)),
                    time(s.last_attempt_at),
                    time(s.last_success_at),
                    json!(s.last_error),
                    json!(s.last_warning),
                    json!(s.consecutive_failures),
                    json!(s.last_item_count),
                    json!(cover.map_or(0, |c| c.stored)),
                    cover.and_then(|c| c.median_lag_secs).map_or(Value::Null, |l| json!(lag(l))),
                    json!(s.total_stored),
                    time(Some(s.next_due_at)),
                ]);
            }
            table.write(out, output.format)?;
        }
        SourceCommand::Test { id, limit, output } => {
            let Some(mut source) = app.store.source(project, id).await? else {
                return usage(format!("no source with id {id} in project {:?}", app.project.name));
            };
            // Read from scratch: no validators, no saved paging state.
            source.etag = None;
            source.last_modified = None;
            source.cursor = None;
            let fetcher = Fetcher::new(fetch_config())?;
            let ctx = CollectContext { models: app.models(), ..collect_context() };
            let reading = read_source(&fetcher, &ctx, &source, Utc::now()).await;
            // Each item as it would be stored: normalized like the pipeline
            // does (markup and entities decoded, links made canonical,
            // unbelievable dates replaced), or the reason it would be refused.
            let mut table = Table::new(vec!["published", "author", "title", "text", "url", "id"]);
            let now = Utc::now();
            for item in reading.items.iter().take(limit) {
                match vigie_nlp::normalize(item.clone(), now, &vigie_nlp::NormalizeLimits::default()) {
                    Ok(m) => table.push(vec![
                        time(Some(m.published_at)),
                        json!(m.author),
                        json!(m.title),
                        json!(m.text),
                        json!(m.url),
                        json!(m.source_item_id),
                    ]),
                    Err(e) => table.push(vec![
                        time(item.published_at),
                        json!(item.author),
                        json!(item.title),
                        json!(format!("(would be refused: {e})")),
                        json!(item.url),
                        json!(item.source_item_id),
                    ]),
                }
            }
            table.write(out, output.format)?;
            // JSON and CSV stay machine-readable: the words go to stderr.
            let mut stderr = std::io::stderr();
            let notes: &mut dyn Write = if output.format == OutputFormat::Table { out } else { &mut stderr };
            writeln!(notes, "{} item(s) read from {} (nothing stored)", reading.items.len(), source.url)?;
            for warning in &reading.warnings {
                writeln!(notes, "warning: {warning}")?;
            }
            if let Some(error) = reading.error {
                anyhow::bail!("source {id}: {}", error.message);
            }
        }
        SourceCommand::Ranks { id, runs, output } => {
            let Some(source) = app.store.source(project, id).await? else {
                return usage(format!("no source with id {id} in project {:?}", app.project.name));
            };
            if source.source_type != SourceType::Search {
                return usage(format!(
                    "source {id} is a {} source; rankings are kept for search sources",
                    source.source_type
                ));
            }
            let history = app.store.search_runs(id, runs.max(1)).await?;
            if history.is_empty() {
                let why = match (&source.last_attempt_at, &source.last_warning, &source.last_error) {
                    (None, _, _) => "no run yet: `vigie collect --once` runs due sources".to_string(),
                    (Some(_), _, Some(error)) => format!("no ranking kept yet; the last run failed: {error}"),
                    (Some(_), Some(warning), None) => format!("no ranking kept yet: {warning}"),
                    (Some(_), None, None) => "no ranking kept yet".to_string(),
                };
                if output.format == OutputFormat::Table {
                    writeln!(out, "{why}")?;
                } else {
                    Table::new(vec!["rank", "url", "title", "sentiment", "change"]).write(out, output.format)?;
                    eprintln!("{why}");
                }
                return Ok(());
            }
            ranks(app, &history, out, output.format).await?;
        }
        SourceCommand::Remove { id } => {
            if !app.store.remove_source(project, id).await? {
                return usage(format!("no source with id {id} in project {:?}", app.project.name));
            }
            super::user::audit(app, Some(project), "source.remove", format!("removed source {id}")).await?;
            writeln!(out, "source {id} removed (its mentions stay stored)")?;
        }
    }
    Ok(())
}

fn lag(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// The latest ranking with each page's sentiment, then the changes of each run.
async fn ranks(
    app: &App,
    history: &[vigie_store::SearchRun],
    out: &mut dyn Write,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let latest = &history[0];
    let entered: Vec<&str> = latest
        .changes
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c.get("change").and_then(Value::as_str) == Some("entered"))
        .filter_map(|c| c.get("url").and_then(Value::as_str))
        .collect();
    let mut table = Table::new(vec!["rank", "url", "title", "sentiment", "change"]);
    for result in latest.results.as_array().into_iter().flatten() {
        let url = result.get("url").and_then(Value::as_str).unwrap_or_default();
        let key = vigie_nlp::canonical_url(url).map(|u| Mention::dedup_key_for(Some(&u), SourceKind::Web, None, ""));
        let sentiment = match key {
            Ok(key) => {
                app.store.mention_by_key(app.project.id, &key).await?.and_then(|m| m.mention.analysis.polarity())
            }
            Err(_) => None,
        };
        table.push(vec![
            result.get("rank").cloned().unwrap_or(Value::Null),
            json!(url),
            result.get("title").cloned().unwrap_or(Value::Null),
            json!(sentiment.map(|p| p.as_str())),
            json!(if entered.contains(&url) { "entered" } else { "" }),
        ]);
    }
    let mut stderr = std::io::stderr();
    let tabular = format == OutputFormat::Table;
    if tabular {
        writeln!(out, "ranking of {}:", latest.ran_at.format("%Y-%m-%d %H:%M:%SZ"))?;
    }
    table.write(out, format)?;
    // JSON and CSV stay machine-readable: the changes go to stderr.
    let notes: &mut dyn Write = if tabular { out } else { &mut stderr };
    if !tabular {
        writeln!(notes, "ranking of {}", latest.ran_at.format("%Y-%m-%d %H:%M:%SZ"))?;
    }
    for run in history {
        for change in run.changes.as_array().into_iter().flatten() {
            writeln!(notes, "{}: {}", run.ran_at.format("%Y-%m-%d %H:%M:%SZ"), describe_change(change))?;
        }
    }
    Ok(())
}

fn describe_change(change: &Value) -> String {
    let field = |k: &str| change.get(k).map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string));
    let (url, rank, previous) = (field("url").unwrap_or_default(), field("rank"), field("previous_rank"));
    match change.get("change").and_then(Value::as_str) {
        Some("entered") => format!("entered the top at rank {}: {url}", rank.unwrap_or_default()),
        Some("left") => format!("left the top (was rank {}): {url}", previous.unwrap_or_default()),
        Some("moved") => {
            format!("moved from rank {} to {}: {url}", previous.unwrap_or_default(), rank.unwrap_or_default())
        }
        _ => change.to_string(),
    }
}

//! `vigie source …`

use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vigie_model::{Source, SourceType};
use vigie_store::{NewSource, StoreError};

use crate::app::{App, parse_duration, usage};
use crate::cli::SourceCommand;
use crate::output::Table;

/// Shortest interval a source may be polled at: politeness to the sites.
pub const MIN_INTERVAL_SECS: i64 = 60;

fn time(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| json!(t.format("%Y-%m-%d %H:%M:%SZ").to_string()))
}

fn status(s: &Source) -> &'static str {
    if s.last_attempt_at.is_none() {
        "new"
    } else if s.consecutive_failures >= 3 {
        "failing"
    } else if s.is_failing() {
        "error"
    } else {
        "ok"
    }
}

pub fn every(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

pub async fn run(app: &App, command: SourceCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let project = app.project.id;
    match command {
        SourceCommand::Add { kind, url, every: interval } => {
            let source_type: SourceType = kind.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            let url = match vigie_nlp::canonical_url(&url) {
                Ok(u) => u,
                Err(e) => return usage(format!("{url:?} is not a usable feed address: {e}")),
            };
            let interval_secs = parse_duration(&interval)?;
            if interval_secs < MIN_INTERVAL_SECS {
                return usage(format!("--every {interval} is too often: the minimum is 1m, to be polite to the site"));
            }
            let new = NewSource { source_type, url, interval_secs };
            let source = match app.store.add_source(project, new, Utc::now()).await {
                Err(StoreError::Conflict(msg)) => return usage(msg),
                other => other?,
            };
            writeln!(
                out,
                "source {} added: {} {} every {} (first fetch at the next `vigie collect`)",
                source.id,
                source.source_type,
                source.url,
                every(source.interval_secs)
            )?;
        }
        SourceCommand::List { output } => {
            let sources = app.store.list_sources(project).await?;
            let mut table = Table::new(vec![
                "id",
                "type",
                "url",
                "every",
                "status",
                "last_attempt",
                "last_success",
                "last_error",
                "failures",
                "last_items",
                "stored",
                "next_due",
            ]);
            for s in sources {
                table.push(vec![
                    json!(s.id),
                    json!(s.source_type.as_str()),
                    json!(s.url),
                    json!(every(s.interval_secs)),
                    json!(status(&s)),
                    time(s.last_attempt_at),
                    time(s.last_success_at),
                    json!(s.last_error),
                    json!(s.consecutive_failures),
                    json!(s.last_item_count),
                    json!(s.total_stored),
                    time(Some(s.next_due_at)),
                ]);
            }
            table.write(out, output.format)?;
        }
        SourceCommand::Remove { id } => {
            if !app.store.remove_source(project, id).await? {
                return usage(format!("no source with id {id} in project {:?}", app.project.name));
            }
            writeln!(out, "source {id} removed (its mentions stay stored)")?;
        }
    }
    Ok(())
}

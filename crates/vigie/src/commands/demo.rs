//! `vigie demo`: a project with a few watches over a bundled week of real
//! public tweets about six US airlines (CC BY-NC-SA 4.0, see
//! `assets/demo/LICENSE.md`). Running it again changes nothing.

use std::io::{BufReader, Write};

use chrono::Utc;
use serde_json::json;
use vigie_pipeline::ImportFormat;
use vigie_store::{CountRow, NewWatch, StoreError};

use crate::app::App;
use crate::cli::{DemoArgs, OutputFormat};
use crate::commands::import::{import_reader, print_summary};
use crate::output::Table;

/// The demo corpus, built by `scripts/build_demo_corpus.py`.
pub static CORPUS: &[u8] = include_bytes!("../../assets/demo/airline-tweets.jsonl.gz");

pub const DEMO_PROJECT: &str = "demo";

/// (name, query, competitor)
pub const DEMO_WATCHES: &[(&str, &str, bool)] = &[
    ("United", r#"@united OR "united airlines" OR #unitedairlines OR #flyunited"#, false),
    ("American", r#"@americanair OR "american airlines" OR #americanairlines"#, true),
    ("Delta", r#"@delta OR @deltaassist OR "delta airlines" OR "delta air lines""#, true),
    ("JetBlue", "@jetblue OR jetblue", true),
    ("Southwest", r#"@southwestair OR "southwest airlines""#, true),
    ("US Airways", r#"@usairways OR "us airways" OR usairways"#, true),
    ("Virgin America", r#"@virginamerica OR "virgin america""#, true),
    (
        "Lost luggage",
        "(lost OR missing OR damaged OR delayed OR late) NEAR/4 (bag OR bags OR luggage OR baggage OR suitcase)",
        false,
    ),
];

pub async fn run(app: &App, args: DemoArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<()> {
    let project = app.project.id;
    for (name, query, competitor) in DEMO_WATCHES {
        let new =
            NewWatch { name: (*name).to_string(), query: (*query).to_string(), competitor: *competitor, langs: vec![] };
        match app.store.add_watch(project, new, Utc::now()).await {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let reader = flate2::read::GzDecoder::new(CORPUS);
    // The demo's week of 2015 tweets plays as if it had just been collected:
    // its complaints fill the inbox.
    let summary = import_reader(app, Box::new(BufReader::new(reader)), ImportFormat::Jsonl, None, true).await?;
    if args.output.format == OutputFormat::Table {
        print_summary(&summary, out, err)?;
    }
    let s = app.store.summary(project).await?;
    let rows = |rows: &[CountRow]| rows.iter().map(|r| json!({"key": r.key, "mentions": r.count})).collect::<Vec<_>>();
    match args.output.format {
        OutputFormat::Json => {
            let v = json!({
                "project": app.project.name,
                "imported": summary.inserted,
                "already_stored": summary.duplicates,
                "rejected": summary.rejected_count,
                "total": s.total,
                "per_watch": rows(&s.per_watch),
                "per_lang": rows(&s.per_lang),
                "per_day": rows(&s.per_day),
                "per_sentiment": rows(&s.per_sentiment),
                "per_theme": rows(&s.per_theme),
            });
            serde_json::to_writer_pretty(&mut *out, &v)?;
            writeln!(out)?;
        }
        format => {
            for (title, column, counts) in [
                ("Mentions per watch", "watch", &s.per_watch),
                ("Mentions per language", "language", &s.per_lang),
                ("Mentions per day (UTC)", "day", &s.per_day),
                ("Mentions per sentiment", "sentiment", &s.per_sentiment),
                ("Mentions per theme (department)", "theme", &s.per_theme),
            ] {
                if format == OutputFormat::Table {
                    writeln!(out, "\n{title}")?;
                }
                let mut table = Table::new(vec![column, "mentions"]);
                for r in counts {
                    table.push(vec![json!(r.key), json!(r.count)]);
                }
                table.write(out, format)?;
            }
            if format == OutputFormat::Table {
                writeln!(
                    out,
                    "\n{} mentions in project {:?}. Try: vigie --project demo search 'lost NEAR/3 bag', \
                     then vigie --project demo mention show ID (why a verdict, themes, the story's copies)",
                    s.total, app.project.name
                )?;
            }
        }
    }
    if args.no_serve {
        return Ok(());
    }
    // The corpus is from the past: open the overview on its own period.
    let first = s.per_day.first().map(|r| r.key.clone());
    let last = s.per_day.last().map(|r| r.key.clone());
    let path = match (first, last) {
        (Some(f), Some(l)) => format!("/p/{}/overview?from={f}&to={l}", project),
        _ => format!("/p/{project}/overview"),
    };
    writeln!(out)?;
    crate::commands::serve::run(app, args.serve, Some(&path), out).await
}

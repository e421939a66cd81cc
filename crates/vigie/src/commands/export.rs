//! `vigie export`: streams every mention of the project (or of a watch),
//! page by page, so memory stays flat whatever the number of rows.

use std::fs::File;
use std::io::{BufWriter, Write};

use anyhow::Context as _;
use vigie_pipeline::export::{CSV_COLUMNS, csv_cell, mention_json};
use vigie_store::MentionFilter;

use crate::app::App;
use crate::cli::{DataFormat, ExportArgs};
use crate::commands::search::watch_filter;

const PAGE: i64 = 1_000;

pub async fn run(app: &App, args: ExportArgs, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let filter = MentionFilter { watch_id: watch_filter(app, args.watch.as_deref()).await?, ..Default::default() };
    let watches = app.store.list_watches(app.project.id).await?;
    let name = |id: i64| watches.iter().find(|w| w.id == id).map(|w| w.name.clone());
    let mut file_out;
    let out: &mut dyn Write = match &args.output {
        // `-` is standard output, as for `vigie import -`.
        Some(path) if path.as_os_str() == "-" => stdout,
        Some(path) => {
            file_out = BufWriter::new(File::create(path).with_context(|| format!("cannot create {}", path.display()))?);
            &mut file_out
        }
        None => stdout,
    };
    let mut csv = match args.format {
        DataFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(CSV_COLUMNS)?;
            Ok(w)
        }
        DataFormat::Jsonl => Err(out),
    };
    let mut after = 0;
    let mut count = 0u64;
    loop {
        let page = app.store.mentions_after(app.project.id, &filter, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.mention.id;
        for stored in &page {
            let v = mention_json(stored, &name);
            match &mut csv {
                Ok(w) => w.write_record(CSV_COLUMNS.iter().map(|c| csv_cell(&v[*c])))?,
                Err(out) => {
                    serde_json::to_writer(&mut **out, &v)?;
                    out.write_all(b"\n")?;
                }
            }
            count += 1;
        }
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    match csv {
        Ok(mut w) => w.flush()?,
        Err(out) => out.flush()?,
    }
    tracing::info!(count, "export done");
    Ok(())
}

//! `vigie import FILE`

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use vigie_pipeline::stories::Stories;
use vigie_pipeline::{ImportFormat, ImportSummary, Ingestor, run_import};

use crate::app::{App, usage};
use crate::cli::{DataFormat, ImportArgs};

/// Rejected lines printed in full; the rest are counted.
const PRINTED_REJECTIONS: usize = 20;

fn format_for(path: &Path, given: Option<DataFormat>) -> ImportFormat {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    match given {
        Some(DataFormat::Csv) => ImportFormat::Csv,
        Some(DataFormat::Jsonl) => ImportFormat::Jsonl,
        None if name.ends_with(".csv") => ImportFormat::Csv,
        None => ImportFormat::Jsonl,
    }
}

/// Imports `reader` into the app's project and prints the outcome. Returns
/// the summary; the caller decides the exit code.
pub async fn import_reader(
    app: &App,
    reader: Box<dyn BufRead + Send>,
    format: ImportFormat,
    bar: Option<ProgressBar>,
    route_old: bool,
) -> anyhow::Result<ImportSummary> {
    let stories = Stories::load(app.store.as_ref(), app.project.id).await?;
    let mut ingestor = Ingestor::new(Arc::clone(&app.store), app.project.id, &app.models(), stories).await?;
    if route_old {
        ingestor.route_history();
    }
    let ingestor = Arc::new(ingestor);
    let summary = run_import(ingestor, reader, format, Utc::now(), |s| {
        if let Some(bar) = &bar {
            bar.set_message(format!("{} new, {} duplicates, {} rejected", s.inserted, s.duplicates, s.rejected_count));
        }
    })
    .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(summary)
}

pub fn print_summary(summary: &ImportSummary, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "imported {} new mention(s) from {} record(s): {} already stored, {} rejected",
        summary.inserted, summary.lines, summary.duplicates, summary.rejected_count
    )?;
    for (line, reason) in summary.rejected.iter().take(PRINTED_REJECTIONS) {
        writeln!(err, "line {line}: {reason}")?;
    }
    if summary.rejected_count as usize > PRINTED_REJECTIONS {
        writeln!(err, "… and {} more rejected line(s)", summary.rejected_count as usize - PRINTED_REJECTIONS)?;
    }
    Ok(())
}

pub async fn run(app: &App, args: ImportArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<()> {
    let format = format_for(&args.file, args.format);
    let gz = args.file.to_string_lossy().to_ascii_lowercase().ends_with(".gz");
    let (reader, bar): (Box<dyn Read + Send>, Option<ProgressBar>) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        let mut file = File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
        if gz {
            // Told by its first bytes, not only its name.
            use std::io::{Seek, SeekFrom};
            let mut magic = [0u8; 2];
            let read = file.read(&mut magic).with_context(|| format!("cannot read {}", args.file.display()))?;
            if read > 0 && magic[..read] != [0x1f, 0x8b][..read] {
                return usage(format!(
                    "{}: not a gzip file, though its name ends in .gz (rename it, or compress it with gzip)",
                    args.file.display()
                ));
            }
            file.seek(SeekFrom::Start(0))?;
        }
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        (Box::new(bar.wrap_read(file)), Some(bar))
    };
    let reader: Box<dyn Read + Send> = if gz { Box::new(flate2::read::MultiGzDecoder::new(reader)) } else { reader };
    let summary =
        import_reader(app, Box::new(BufReader::with_capacity(1 << 20, reader)), format, bar, args.route_old).await?;
    print_summary(&summary, out, err)?;
    if summary.rejected_count > 0 {
        anyhow::bail!(
            "{} record(s) were rejected (see the lines above); the others were imported",
            summary.rejected_count
        );
    }
    Ok(())
}

//! Running an import: a reader thread parses and prepares batches while the
//! async side stores the previous one, so CPU work and the database
//! transaction overlap. Memory is bounded by two batches in flight.

use std::io::BufRead;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::PipelineError;
use crate::import::{ImportFormat, read_import};
use crate::ingest::{Ingestor, Prepared};

/// Mentions per transaction: large batches mean fewer, larger full-text
/// index segments (measured: 2,000 → 10,000 is 15 % faster).
pub const IMPORT_BATCH: usize = 10_000;
/// Rejected lines kept with their reasons (the rest are only counted).
pub const MAX_REPORTED_REJECTIONS: usize = 1_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Non-empty lines (records) read.
    pub lines: u64,
    pub inserted: u64,
    pub duplicates: u64,
    pub rejected_count: u64,
    /// The first rejected lines: (line number, reason).
    pub rejected: Vec<(u64, String)>,
}

impl ImportSummary {
    fn reject(&mut self, line: u64, reason: String) {
        self.rejected_count += 1;
        if self.rejected.len() < MAX_REPORTED_REJECTIONS {
            self.rejected.push((line, reason));
        }
    }
}

struct Batch {
    prepared: Prepared,
    /// Line number of each raw mention that went into `prepare`, by index.
    lines: Vec<u64>,
    /// Lines that failed to parse.
    parse_errors: Vec<(u64, String)>,
    records_read: u64,
}

/// Imports every record of `reader` into the ingestor's project. Each batch
/// is committed before the next one is acknowledged in `progress`; killing
/// the process loses at most the batch in flight, and a rerun stores only
/// what is missing (dedup keys).
pub async fn run_import<R>(
    ingestor: Arc<Ingestor>,
    reader: R,
    format: ImportFormat,
    now: DateTime<Utc>,
    mut progress: impl FnMut(&ImportSummary),
) -> Result<ImportSummary, PipelineError>
where
    R: BufRead + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Batch>(1);
    let prep = Arc::clone(&ingestor);
    let reader_thread = tokio::task::spawn_blocking(move || {
        let mut lines = read_import(reader, format);
        loop {
            let mut raws = Vec::with_capacity(IMPORT_BATCH);
            let mut batch_lines = Vec::with_capacity(IMPORT_BATCH);
            let mut parse_errors = Vec::new();
            let mut records_read = 0;
            for item in lines.by_ref() {
                records_read += 1;
                match item.result {
                    Ok(raw) => {
                        raws.push(raw);
                        batch_lines.push(item.line);
                    }
                    Err(reason) => parse_errors.push((item.line, reason)),
                }
                // Count unparseable lines too, so a file of garbage is
                // reported batch by batch instead of piling up in memory.
                if raws.len() == IMPORT_BATCH || records_read as usize >= IMPORT_BATCH * 2 {
                    break;
                }
            }
            if records_read == 0 {
                return;
            }
            let prepared = prep.prepare(raws, None, now);
            let batch = Batch { prepared, lines: batch_lines, parse_errors, records_read };
            if tx.blocking_send(batch).is_err() {
                return; // the writer stopped on an error
            }
        }
    });

    let mut summary = ImportSummary::default();
    while let Some(batch) = rx.recv().await {
        summary.lines += batch.records_read;
        for (line, reason) in batch.parse_errors {
            summary.reject(line, reason);
        }
        let lines = batch.lines;
        let mut prepared = batch.prepared;
        ingestor.key_prepared(&mut prepared).await?;
        let report = ingestor.store(prepared).await?;
        summary.inserted += report.inserted;
        summary.duplicates += report.duplicates;
        for (index, reason) in report.rejected {
            summary.reject(lines.get(index).copied().unwrap_or(0), reason);
        }
        progress(&summary);
    }
    reader_thread.await.map_err(|e| PipelineError::Internal(format!("import reader stopped: {e}")))?;
    // The batches came faster than the surge checks (once a second): the
    // last ones are judged now. The mentions are stored whatever happens.
    if let Err(e) = ingestor.check_deferred_surges(Utc::now()).await {
        tracing::warn!(error = %e, "could not record the surge alerts of the import's last mentions");
    }
    // Copies another process stored while this one ran join their stories.
    ingestor.refresh_stories().await;
    summary.rejected.sort_by_key(|(line, _)| *line);
    Ok(summary)
}

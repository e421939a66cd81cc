//! One collection cycle: fetch every due source, ingest what it returned, and
//! write its health record. A failing source never stops the others.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use vigie_collect::{FetchOutcome, FetchRequest, Fetcher, parse_feed};
use vigie_model::{Source, SourceType};
use vigie_store::{FetchRecord, Store};

use crate::PipelineError;
use crate::ingest::Ingestor;
use crate::models::ProjectModels;
use crate::stories::StoryIndexes;

/// Sources fetched at the same time.
pub const CONCURRENT_FETCHES: usize = 8;
/// Longest wait before retrying a failing source.
pub const MAX_BACKOFF_SECS: i64 = 24 * 3600;

/// What one cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectReport {
    pub sources: usize,
    pub fetched: usize,
    pub not_modified: usize,
    pub failed: usize,
    pub items: u64,
    pub stored: u64,
}

/// When to try a source again after `failures` failures in a row: its interval
/// doubled per extra failure, up to a day, or the server's Retry-After if
/// that is later.
pub fn backoff_due(
    now: DateTime<Utc>,
    interval_secs: i64,
    failures: i64,
    retry_after_secs: Option<u64>,
) -> DateTime<Utc> {
    let exponent = failures.clamp(1, 20) - 1;
    let backoff = interval_secs.max(60).saturating_mul(1_i64 << exponent).min(MAX_BACKOFF_SECS);
    let retry_after = retry_after_secs.map_or(0, |s| i64::try_from(s).unwrap_or(MAX_BACKOFF_SECS));
    now + Duration::seconds(backoff.max(retry_after.min(MAX_BACKOFF_SECS)))
}

enum Outcome {
    Fetched { items: u64, stored: u64 },
    NotModified,
    Failed,
}

/// What collection cycles share: where the models are, and the story
/// indexes of the projects (kept from one cycle to the next).
#[derive(Clone, Default)]
pub struct CollectContext {
    pub models: ProjectModels,
    pub stories: StoryIndexes,
}

/// Fetches every source due at `now` (at most `limit`), across all projects.
pub async fn collect_due(
    store: &Arc<dyn Store>,
    fetcher: &Fetcher,
    ctx: &CollectContext,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<CollectReport, PipelineError> {
    let due = store.due_sources(now, limit).await?;
    let mut report = CollectReport { sources: due.len(), ..Default::default() };
    let mut ingestors: HashMap<i64, Arc<Ingestor>> = HashMap::new();
    for (project_id, _) in &due {
        if !ingestors.contains_key(project_id) {
            let stories = ctx.stories.get(store.as_ref(), *project_id).await?;
            let ingestor = Ingestor::new(Arc::clone(store), *project_id, &ctx.models, stories).await?;
            ingestors.insert(*project_id, Arc::new(ingestor));
        }
    }
    let results: Vec<Result<Outcome, PipelineError>> = futures::stream::iter(due)
        .map(|(project_id, source)| {
            let ingestor = ingestors.get(&project_id).cloned();
            async move {
                match ingestor {
                    Some(ingestor) => collect_source(store, fetcher, &ingestor, &source, now).await,
                    None => Err(PipelineError::Internal(format!("no ingestor for project {project_id}"))),
                }
            }
        })
        .buffer_unordered(CONCURRENT_FETCHES)
        .collect()
        .await;
    for result in results {
        let outcome = match result {
            Ok(outcome) => outcome,
            // A store error on one source (removed while being fetched, a busy
            // database) is logged; the others are counted as usual and the
            // next cycle tries again.
            Err(e) => {
                tracing::error!(error = %e, "could not record a source's collection");
                Outcome::Failed
            }
        };
        match outcome {
            Outcome::Fetched { items, stored } => {
                report.fetched += 1;
                report.items += items;
                report.stored += stored;
            }
            Outcome::NotModified => report.not_modified += 1,
            Outcome::Failed => report.failed += 1,
        }
    }
    Ok(report)
}

/// Fetches one source and records the outcome. Only a store error is an
/// `Err`: a fetch or parse failure is written on the source's record.
async fn collect_source(
    store: &Arc<dyn Store>,
    fetcher: &Fetcher,
    ingestor: &Arc<Ingestor>,
    source: &Source,
    now: DateTime<Utc>,
) -> Result<Outcome, PipelineError> {
    let next_due = now + Duration::seconds(source.interval_secs);
    let failed = |error: String, retry_after: Option<u64>| FetchRecord::Failure {
        at: now,
        next_due_at: backoff_due(now, source.interval_secs, source.consecutive_failures + 1, retry_after),
        error,
    };
    match source.source_type {
        SourceType::Rss => {}
    }
    let request = FetchRequest {
        url: source.url.clone(),
        etag: source.etag.clone(),
        last_modified: source.last_modified.clone(),
    };
    let fetched = fetcher.fetch(&request).await;
    let (record, outcome) = match fetched {
        Ok(FetchOutcome::NotModified) => {
            (FetchRecord::NotModified { at: now, next_due_at: next_due }, Outcome::NotModified)
        }
        Ok(FetchOutcome::Fetched { body, content_type, etag, last_modified, final_url }) => {
            match parse_feed(&body, content_type.as_deref(), &final_url) {
                Ok(feed) => {
                    let items = feed.items.len() as u64;
                    match ingestor.ingest(feed.items, Some(source.id), now).await {
                        Ok(report) => {
                            if !report.rejected.is_empty() {
                                tracing::info!(
                                    source = source.id,
                                    rejected = report.rejected.len(),
                                    "feed items rejected"
                                );
                            }
                            (
                                FetchRecord::Success {
                                    at: now,
                                    items: items as i64,
                                    stored: report.inserted as i64,
                                    etag,
                                    last_modified,
                                    next_due_at: next_due,
                                },
                                Outcome::Fetched { items, stored: report.inserted },
                            )
                        }
                        // Not the site's fault, but the items are not stored: the
                        // source is retried (its validators are not saved).
                        Err(e) => (failed(format!("could not store the items: {e}"), None), Outcome::Failed),
                    }
                }
                Err(e) => (failed(e.to_string(), None), Outcome::Failed),
            }
        }
        Err(e) => {
            let retry_after = e.retry_after().map(|r| r.delay_from(now).as_secs());
            (failed(e.to_string(), retry_after), Outcome::Failed)
        }
    };
    if let FetchRecord::Failure { error, .. } = &record {
        tracing::warn!(source = source.id, url = %source.url, %error, "source failed");
    }
    store.record_fetch(source.id, record).await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_day_and_honours_retry_after() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
        let secs = |d: DateTime<Utc>| (d - now).num_seconds();
        assert_eq!(secs(backoff_due(now, 900, 1, None)), 900);
        assert_eq!(secs(backoff_due(now, 900, 3, None)), 3600);
        assert_eq!(secs(backoff_due(now, 900, 50, None)), MAX_BACKOFF_SECS);
        assert_eq!(secs(backoff_due(now, 60, 1, Some(7200))), 7200);
        assert_eq!(secs(backoff_due(now, 60, 1, Some(u64::MAX))), MAX_BACKOFF_SECS);
    }
}

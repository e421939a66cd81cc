//! Paged search: the store's full-text pre-filter, confirmed by the same
//! matcher as watches (like `vigie_pipeline::search`), but resumable from a
//! cursor and bounded in the work one request may do.

use std::sync::Arc;

use vigie_pipeline::document;
use vigie_query::Query;
use vigie_store::{MentionFilter, Store, StoreError, StoredMention};

/// Most candidates one request examines before answering with what it found
/// (and a cursor to go on): a rare term over millions of mentions must not
/// hold a request for minutes.
pub const MAX_EXAMINED: u64 = 20_000;
/// Largest page of candidates fetched in one round trip.
const MAX_BATCH: i64 = 4_000;

/// One page of a search.
#[derive(Debug, Default)]
pub struct ScanPage {
    /// Mentions that matched, newest stored first, with the terms that matched.
    pub hits: Vec<(StoredMention, Vec<String>)>,
    /// Where the next page starts (the id of the last candidate examined);
    /// `None` when nothing older is left.
    pub next_cursor: Option<i64>,
    /// Candidates examined.
    pub examined: u64,
    /// The scan stopped at [`MAX_EXAMINED`] (or `max_examined`) before
    /// filling the page or reaching the oldest mention.
    pub cut_short: bool,
}

/// Up to `want` mentions older than `before` (store id) that match `query`,
/// pass `filter` and `keep`, examining at most `max_examined` candidates.
#[allow(clippy::too_many_arguments)]
pub async fn scan(
    store: &Arc<dyn Store>,
    project_id: i64,
    query: &Query,
    filter: &MentionFilter,
    before: Option<i64>,
    want: usize,
    max_examined: u64,
    keep: impl Fn(&StoredMention) -> bool,
) -> Result<ScanPage, StoreError> {
    let prefilter = query.fts5_prefilter();
    let mut page = ScanPage::default();
    let mut before = before;
    let mut batch = (want as i64 * 2).clamp(32, MAX_BATCH);
    loop {
        let room = max_examined.saturating_sub(page.examined).max(1) as i64;
        let size = batch.min(room);
        let candidates = store.candidates(project_id, prefilter.as_deref(), filter, before, size).await?;
        let exhausted = (candidates.len() as i64) < size;
        let count = candidates.len();
        batch = (batch * 4).min(MAX_BATCH);
        for (i, stored) in candidates.into_iter().enumerate() {
            page.examined += 1;
            before = Some(stored.mention.id);
            if keep(&stored)
                && let Some(terms) = query.matches(&document(&stored.mention))
            {
                page.hits.push((stored, terms));
                if page.hits.len() >= want {
                    let last_of_all = exhausted && i + 1 == count;
                    page.next_cursor = if last_of_all { None } else { before };
                    return Ok(page);
                }
            }
        }
        if exhausted || before.is_none() {
            page.next_cursor = None;
            return Ok(page);
        }
        if page.examined >= max_examined {
            page.cut_short = true;
            page.next_cursor = before;
            return Ok(page);
        }
    }
}

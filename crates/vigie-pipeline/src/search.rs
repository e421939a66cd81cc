//! Search and watch backfill: the store's full-text pre-filter, confirmed by
//! the same Rust matcher that matches watches, so the two always agree.

use std::sync::Arc;

use vigie_query::Query;
use vigie_store::{MentionFilter, Store, StoredMention};

use crate::PipelineError;
use crate::ingest::{CompiledWatches, LangFilter, document};

/// A mention found by a search, with the query terms it matched.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub stored: StoredMention,
    pub terms: Vec<String>,
}

/// Candidates fetched per round trip for a backfill.
const PAGE: i64 = 500;
/// The first page of a search fetches a little more than asked, since most
/// pre-filtered candidates are confirmed; later pages grow fourfold, up to this.
const MAX_SEARCH_PAGE: i64 = 4_000;

/// Up to `limit` mentions of the project that match `query` and `filter`,
/// newest stored first.
pub async fn search(
    store: &Arc<dyn Store>,
    project_id: i64,
    query: &Query,
    filter: &MentionFilter,
    limit: usize,
) -> Result<Vec<SearchHit>, PipelineError> {
    let prefilter = query.fts5_prefilter();
    let mut hits = Vec::new();
    let mut before = None;
    let mut page = (limit as i64 * 2).clamp(32, MAX_SEARCH_PAGE);
    while hits.len() < limit {
        let candidates = store.candidates(project_id, prefilter.as_deref(), filter, before, page).await?;
        let exhausted = (candidates.len() as i64) < page;
        page = (page * 4).min(MAX_SEARCH_PAGE);
        before = candidates.last().map(|c| c.mention.id);
        for stored in candidates {
            if let Some(terms) = query.matches(&document(&stored.mention)) {
                hits.push(SearchHit { stored, terms });
                if hits.len() == limit {
                    break;
                }
            }
        }
        if exhausted || before.is_none() {
            break;
        }
    }
    Ok(hits)
}

/// Matches a (new or changed) watch against every stored mention of its
/// project and records the matches. Returns how many mentions matched.
pub async fn backfill_watch(
    store: &Arc<dyn Store>,
    project_id: i64,
    watch: &vigie_model::Watch,
) -> Result<u64, PipelineError> {
    let query = vigie_query::parse(&watch.query)
        .map_err(|e| PipelineError::InvalidStoredQuery { watch: watch.name.clone(), error: e.to_string() })?;
    let prefilter = query.fts5_prefilter();
    let languages = CompiledWatches::new(std::slice::from_ref(watch))?;
    let filter = MentionFilter::default();
    let mut before = None;
    let mut matched = 0;
    loop {
        let candidates = store.candidates(project_id, prefilter.as_deref(), &filter, before, PAGE).await?;
        let exhausted = (candidates.len() as i64) < PAGE;
        before = candidates.last().map(|c| c.mention.id);
        let found: Vec<(i64, Vec<String>)> = candidates
            .iter()
            .filter(|c| languages.lang_allows(watch.id, &c.mention) == LangFilter::Passes)
            .filter_map(|c| query.matches(&document(&c.mention)).map(|terms| (c.mention.id, terms)))
            .collect();
        matched += found.len() as u64;
        if !found.is_empty() {
            store.add_matches(watch.id, &found).await?;
        }
        if exhausted || before.is_none() {
            break;
        }
    }
    Ok(matched)
}

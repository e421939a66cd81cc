//! Stories: a mention and its near-duplicate copies (syndicated articles,
//! retweets with a few words added, the same complaint pasted on three
//! forums), so users see one story and alert counts stay honest.
//!
//! The index is in memory ([`vigie_nlp::neardup::StoryIndex`], locality-
//! sensitive hashing over signatures) and holds the recent mentions of one
//! project: warmed from the store on first use, then fed by every insert.
//! Only the links are stored (`story_id` of a copy), so a process that starts
//! later rebuilds the same index from the stored text. Copies are looked for
//! among the mentions of the last [`STORY_WINDOW_DAYS`] days held in memory
//! (at most [`STORY_CAPACITY`]); an older original starts a new story.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use vigie_nlp::neardup::{Signature, StoryIndex};
use vigie_store::{MentionFilter, Store};

use crate::PipelineError;
use crate::analyze::signature_of;

/// Days of recent mentions a new mention is compared with.
pub const STORY_WINDOW_DAYS: i64 = 7;
/// Signatures held per project.
pub const STORY_CAPACITY: usize = 200_000;
/// Stored mentions read back to warm a new index.
pub const STORY_WARM: i64 = 20_000;

/// One project's story index, shared by the ingest runs that use it.
#[derive(Clone)]
pub struct Stories {
    index: Arc<Mutex<StoryIndex>>,
}

impl Stories {
    /// An empty index (tests, benchmarks, a new project).
    pub fn empty() -> Self {
        Stories { index: Arc::new(Mutex::new(StoryIndex::new(STORY_CAPACITY))) }
    }

    /// An index warmed with the project's recent mentions, oldest first, so
    /// each joins the same story it joined when it was stored.
    pub async fn load(store: &dyn Store, project_id: i64, now: DateTime<Utc>) -> Result<Self, PipelineError> {
        let filter = MentionFilter {
            published_since: Some(now - Duration::days(STORY_WINDOW_DAYS)),
            ..MentionFilter::default()
        };
        let mut recent = store.candidates(project_id, None, &filter, None, STORY_WARM).await?;
        recent.reverse();
        let stories = Stories::empty();
        let signed: Vec<(i64, Signature)> =
            recent.iter().filter_map(|m| signature_of(&m.mention).map(|s| (m.mention.id, s))).collect();
        let refs: Vec<(i64, &Signature)> = signed.iter().map(|(id, s)| (*id, s)).collect();
        stories.assign(&refs);
        Ok(stories)
    }

    /// Adds new mentions (in store-id order) and returns the copies among
    /// them, as `(mention id, story id)`.
    pub fn assign(&self, new: &[(i64, &Signature)]) -> Vec<(i64, i64)> {
        let mut index = match self.index.lock() {
            Ok(guard) => guard,
            // A panic elsewhere while holding the lock leaves a usable index.
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut copies = Vec::new();
        for (id, signature) in new {
            let story = index.assign(*id, signature);
            if story != *id {
                copies.push((*id, story));
            }
        }
        copies
    }

    pub fn len(&self) -> usize {
        self.index.lock().map(|i| i.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Story indexes per project, kept across collection cycles.
#[derive(Clone, Default)]
pub struct StoryIndexes {
    projects: Arc<tokio::sync::Mutex<HashMap<i64, Stories>>>,
}

impl StoryIndexes {
    pub async fn get(&self, store: &dyn Store, project_id: i64, now: DateTime<Utc>) -> Result<Stories, PipelineError> {
        let mut projects = self.projects.lock().await;
        if let Some(stories) = projects.get(&project_id) {
            return Ok(stories.clone());
        }
        let stories = Stories::load(store, project_id, now).await?;
        projects.insert(project_id, stories.clone());
        Ok(stories)
    }
}

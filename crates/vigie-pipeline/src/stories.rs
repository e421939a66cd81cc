//! Stories: a mention and its near-duplicate copies (syndicated articles,
//! retweets with a few words added, the same complaint pasted on three
//! forums), so users see one story and alert counts stay honest.
//!
//! The index is in memory ([`vigie_nlp::neardup::StoryIndex`], locality-
//! sensitive hashing over signatures) and holds the recent mentions of one
//! project: warmed from the store on first use, then fed by every insert.
//! Only the links are stored (`story_id` of a copy), so a process that starts
//! later rebuilds the same index from the stored text and links. Copies are
//! looked for among the most recently stored mentions: the [`STORY_WARM`]
//! last stored when the index was built, then everything stored since (at
//! most [`STORY_CAPACITY`] in all); an older original starts a new story.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use vigie_nlp::neardup::{Signature, StoryIndex};
use vigie_store::{MentionFilter, Store};

use crate::PipelineError;
use crate::analyze::signature_of;

/// Signatures held per project.
///
/// The index allocates its band tables up front (64 bytes per signature) and
/// holds ~178 bytes per signature stored: about 12 MB per project at this
/// size, so that a collector following a hundred projects stays within
/// reasonable memory. Copies usually arrive within hours, well inside the
/// last 65,536 mentions of a project.
pub const STORY_CAPACITY: usize = 65_536;
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

    /// An index warmed with the project's most recently stored mentions,
    /// oldest first, each with the story it was stored with (stored links are
    /// never re-decided, so every process agrees on them). Recently stored,
    /// not recently published: an import of history compares with what was
    /// imported just before it.
    pub async fn load(store: &dyn Store, project_id: i64) -> Result<Self, PipelineError> {
        let mut recent = store.candidates(project_id, None, &MentionFilter::default(), None, STORY_WARM).await?;
        recent.reverse();
        let stories = Stories::empty();
        {
            let mut index = stories.lock();
            for m in &recent {
                if let Some(signature) = signature_of(&m.mention) {
                    index.restore(m.mention.id, m.mention.analysis.story_id.unwrap_or(m.mention.id), &signature);
                }
            }
        }
        Ok(stories)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StoryIndex> {
        match self.index.lock() {
            Ok(guard) => guard,
            // A panic elsewhere while holding the lock leaves a usable index.
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Adds new mentions (in store-id order) and returns the copies among
    /// them, as `(mention id, story id)`.
    pub fn assign(&self, new: &[(i64, &Signature)]) -> Vec<(i64, i64)> {
        let mut index = self.lock();
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
        self.lock().len()
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
    pub async fn get(&self, store: &dyn Store, project_id: i64) -> Result<Stories, PipelineError> {
        let mut projects = self.projects.lock().await;
        if let Some(stories) = projects.get(&project_id) {
            return Ok(stories.clone());
        }
        let stories = Stories::load(store, project_id).await?;
        projects.insert(project_id, stories.clone());
        Ok(stories)
    }
}

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
//!
//! Other processes store mentions of the same project too (`vigie worker`s
//! on PostgreSQL, an import beside a running server). Before each batch the
//! index catches up with what they stored since it last looked
//! ([`Stories::catch_up`]), so a copy finds an original whichever process
//! stored it. It reads by id: every id up to the highest seen, except ids
//! skipped on the way ([`Seen`]). PostgreSQL hands ids out before the
//! transaction that uses them commits, so a skipped id may be another
//! process's batch still being written: it is looked for again at each
//! catch-up for [`GAP_WAIT`], then given up (most are ids never used: an
//! insert rolled back, a duplicate refused).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigie_nlp::neardup::{Signature, StoryIndex};
use vigie_store::{MentionFilter, Store, StoredMention};

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
/// Stored mentions read back to warm a new index, and from a large backlog.
pub const STORY_WARM: i64 = 20_000;
/// How long an id skipped by the index is looked for again: longer than any
/// batch transaction of another process.
pub const GAP_WAIT: Duration = Duration::from_secs(120);
/// Skipped ids remembered at most (the oldest are given up first).
const MAX_GAPS: usize = 16_384;
/// Mentions read per query when catching up.
const CATCH_UP_PAGE: i64 = 2_000;

/// Which stored mentions an index has seen, by id: every id up to `high`
/// except the `gaps`, each with when it was first missed.
#[derive(Debug, Default)]
struct Seen {
    high: i64,
    gaps: BTreeMap<i64, Instant>,
}

impl Seen {
    /// Records that `ids` are now indexed; ids skipped between the highest
    /// seen so far and them become gaps, first missed at `now`.
    fn saw(&mut self, ids: &[i64], now: Instant) {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for id in &ids {
            self.gaps.remove(id);
        }
        for id in ids {
            if id <= self.high {
                continue;
            }
            // A jump past MAX_GAPS ids keeps only the nearest ones.
            let from = (self.high + 1).max(id - MAX_GAPS as i64);
            for gap in from..id {
                self.gaps.insert(gap, now);
            }
            self.high = id;
        }
        while self.gaps.len() > MAX_GAPS {
            self.gaps.pop_first();
        }
    }

    /// Gives up the ids skipped more than [`GAP_WAIT`] ago.
    fn expire(&mut self, now: Instant) {
        self.gaps.retain(|_, since| now.saturating_duration_since(*since) < GAP_WAIT);
    }

    fn gap_ids(&self) -> Vec<i64> {
        self.gaps.keys().copied().collect()
    }

    /// Gives up everything before `id` (a backlog larger than the index
    /// reads only its newest part).
    fn skip_to(&mut self, id: i64) {
        self.gaps.clear();
        self.high = self.high.max(id - 1);
    }
}

struct Inner {
    index: StoryIndex,
    seen: Seen,
}

impl Inner {
    /// Indexes mentions stored by someone else, oldest first: a stored link
    /// is kept as it is; a mention stored without one is placed by this
    /// index. When it belongs to a story here, the two processes stored
    /// copies at the same time, each without the other's: the younger story
    /// joins the older one (returned as `(from, into)`, for the store), here
    /// at once.
    fn add_stored(&mut self, stored: &[StoredMention], now: Instant) -> Vec<(i64, i64)> {
        let mut merges = Vec::new();
        for m in stored {
            let id = m.mention.id;
            if let Some(signature) = signature_of(&m.mention) {
                match m.mention.analysis.story_id {
                    Some(story) => self.index.restore(id, story, &signature),
                    None => {
                        let story = self.index.assign(id, &signature);
                        if story != id {
                            let (from, into) = (story.max(id), story.min(id));
                            self.index.rename_story(from, into);
                            merges.push((from, into));
                        }
                    }
                }
            }
        }
        let ids: Vec<i64> = stored.iter().map(|m| m.mention.id).collect();
        self.seen.saw(&ids, now);
        merges
    }
}

/// What [`Stories::assign`] found in a batch.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Assigned {
    /// `(mention id, story id)` of the copies.
    pub copies: Vec<(i64, i64)>,
    /// `(from, into)`: stories to join (the younger into the older).
    pub merges: Vec<(i64, i64)>,
}

/// One project's story index, shared by the ingest runs of a process.
#[derive(Clone)]
pub struct Stories {
    inner: Arc<Mutex<Inner>>,
    /// Held from a batch's catch-up to its stories being assigned, so the
    /// catch-up of one batch never reads another batch of this process that
    /// is stored but not yet assigned.
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl Stories {
    /// An empty index (tests, benchmarks, a new project).
    pub fn empty() -> Self {
        Stories {
            inner: Arc::new(Mutex::new(Inner { index: StoryIndex::new(STORY_CAPACITY), seen: Seen::default() })),
            turn: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// An index warmed with the project's most recently stored mentions,
    /// oldest first, each with the story it was stored with (stored links
    /// only ever move to an older story, so every process agrees on them).
    /// Recently stored, not recently published: an import of history
    /// compares with what was imported just before it.
    pub async fn load(store: &dyn Store, project_id: i64) -> Result<Self, PipelineError> {
        let mut recent = store.candidates(project_id, None, &MentionFilter::default(), None, STORY_WARM).await?;
        recent.reverse();
        let stories = Stories::empty();
        {
            let mut inner = stories.lock();
            let now = Instant::now();
            for m in &recent {
                if let Some(signature) = signature_of(&m.mention) {
                    let story = m.mention.analysis.story_id.unwrap_or(m.mention.id);
                    inner.index.restore(m.mention.id, story, &signature);
                }
            }
            // Ids missing among the warmed ones may be another process's
            // batch being written: gaps, like those found later. Before them:
            // older than the warm window when it is full (not looked for),
            // else another project's or being written too.
            if recent.len() as i64 == STORY_WARM
                && let Some(oldest) = recent.first()
            {
                inner.seen.high = oldest.mention.id - 1;
            }
            let ids: Vec<i64> = recent.iter().map(|m| m.mention.id).collect();
            inner.seen.saw(&ids, now);
        }
        Ok(stories)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(guard) => guard,
            // A panic elsewhere while holding the lock leaves a usable index.
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// This process's turn to store a batch of the project: hold it from
    /// [`Stories::catch_up`] to [`Stories::assign`].
    pub async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turn.lock().await
    }

    /// Indexes what other processes stored since this index last looked (of
    /// a backlog of more than one page, its newest [`STORY_WARM`]), joining
    /// stories found to be one. Returns how many mentions were added.
    pub async fn catch_up(&self, store: &dyn Store, project_id: i64) -> Result<usize, PipelineError> {
        let (high, gaps) = {
            let mut inner = self.lock();
            inner.seen.expire(Instant::now());
            (inner.seen.high, inner.seen.gap_ids())
        };
        // A skipped id is ours (found now), another project's (never ours),
        // or not stored yet.
        let (mut found, mut elsewhere) = (Vec::new(), Vec::new());
        if !gaps.is_empty() {
            let mut ours = Vec::new();
            for (id, project) in store.mention_projects(&gaps).await? {
                if project == project_id { ours.push(id) } else { elsewhere.push(id) }
            }
            if !ours.is_empty() {
                found = store.mentions_by_ids(project_id, &ours).await?;
            }
        }
        let page = store.mentions_after(project_id, &MentionFilter::default(), high, CATCH_UP_PAGE).await?;
        // A large backlog (an import by another process): its newest part,
        // as many as a new index is warmed with, the likeliest originals of
        // what comes next.
        let newest = if page.len() as i64 == CATCH_UP_PAGE {
            let mut newest = store.candidates(project_id, None, &MentionFilter::default(), None, STORY_WARM).await?;
            newest.retain(|m| m.mention.id > high);
            Some(newest)
        } else {
            found.extend(page);
            None
        };
        let jumped = newest.as_ref().and_then(|n| n.iter().map(|m| m.mention.id).min());
        found.extend(newest.into_iter().flatten());
        found.sort_by_key(|m| m.mention.id);
        found.dedup_by_key(|m| m.mention.id);
        let merges = {
            let mut inner = self.lock();
            if let Some(first) = jumped {
                inner.seen.skip_to(first);
            }
            let merges = inner.add_stored(&found, Instant::now());
            for id in elsewhere {
                inner.seen.gaps.remove(&id);
            }
            merges
        };
        join_stories(store, project_id, &merges).await;
        Ok(found.len())
    }

    /// [`Stories::catch_up`] in this process's turn, outside a batch: after
    /// the last batch of an import, and between collection cycles, so that
    /// copies two processes stored at the same time, each before it could
    /// see the other's, are joined without waiting for the next batch.
    pub async fn refresh(&self, store: &dyn Store, project_id: i64) -> Result<usize, PipelineError> {
        let _turn = self.turn().await;
        self.catch_up(store, project_id).await
    }

    /// Adds this process's newly stored mentions (`inserted`, all of them;
    /// `new`, those with a signature, in store-id order) and returns the
    /// copies among them, as `(mention id, story id)`, and the stories to
    /// join, as `(from, into)`: on PostgreSQL a mention can get a smaller id
    /// than a copy another process committed first, and then that story
    /// joins the mention's (a story is named by its smallest id).
    pub fn assign(&self, inserted: &[i64], new: &[(i64, &Signature)]) -> Assigned {
        let mut inner = self.lock();
        let (mut copies, mut merges) = (Vec::new(), Vec::new());
        for (id, signature) in new {
            let story = inner.index.assign(*id, signature);
            if story < *id {
                copies.push((*id, story));
            } else if story > *id {
                inner.index.rename_story(story, *id);
                merges.push((story, *id));
            }
        }
        inner.seen.saw(inserted, Instant::now());
        Assigned { copies, merges }
    }

    pub fn len(&self) -> usize {
        self.lock().index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Writes the stories an index found to be one, `(from, into)`. Stories
/// are a view over stored mentions: a failure is logged, not fatal.
pub async fn join_stories(store: &dyn Store, project_id: i64, merges: &[(i64, i64)]) {
    for &(from, into) in merges {
        if let Err(e) = store.merge_story(project_id, from, into).await {
            tracing::warn!(project = project_id, error = %e, "could not join story {from} to story {into}");
        }
    }
}

/// Story indexes per project, kept across collection cycles.
#[derive(Clone, Default)]
pub struct StoryIndexes {
    projects: Arc<tokio::sync::Mutex<HashMap<i64, Stories>>>,
}

impl std::fmt::Debug for StoryIndexes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoryIndexes").finish_non_exhaustive()
    }
}

impl StoryIndexes {
    /// [`Stories::refresh`] of every project this process indexes; a
    /// failure is logged (stories are a view: nothing is lost).
    pub async fn refresh_all(&self, store: &dyn Store) {
        let projects: Vec<(i64, Stories)> =
            self.projects.lock().await.iter().map(|(id, stories)| (*id, stories.clone())).collect();
        for (project_id, stories) in projects {
            if let Err(e) = stories.refresh(store, project_id).await {
                tracing::warn!(project = project_id, error = %e, "could not read what other processes stored");
            }
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_ids_are_gaps_until_seen_or_given_up() {
        let t = Instant::now();
        let mut seen = Seen::default();
        seen.saw(&[1, 2, 3], t);
        assert_eq!((seen.high, seen.gap_ids()), (3, vec![]));
        // Another process holds 4 and 5 in its transaction: this one stores 6.
        seen.saw(&[6], t);
        assert_eq!((seen.high, seen.gap_ids()), (6, vec![4, 5]));
        // Ids arrive in any order; a gap found is a gap no more.
        seen.saw(&[9, 5, 8], t + Duration::from_secs(1));
        assert_eq!((seen.high, seen.gap_ids()), (9, vec![4, 7]));
        // An id never used (a rolled-back insert) is given up after GAP_WAIT,
        // counted from when it was first missed.
        seen.expire(t + GAP_WAIT - Duration::from_millis(1));
        assert_eq!(seen.gap_ids(), vec![4, 7]);
        seen.expire(t + GAP_WAIT);
        assert_eq!(seen.gap_ids(), vec![7]);
        seen.expire(t + GAP_WAIT + Duration::from_secs(1));
        assert!(seen.gap_ids().is_empty());
        // Seeing an old id again changes nothing.
        seen.saw(&[2], t);
        assert_eq!((seen.high, seen.gap_ids()), (9, vec![]));
    }

    #[test]
    fn a_jump_keeps_only_the_nearest_gaps() {
        let t = Instant::now();
        let mut seen = Seen::default();
        seen.saw(&[10], t);
        assert_eq!((seen.high, seen.gap_ids()), (10, (1..10).collect::<Vec<_>>()));
        seen.saw(&[10 + 5 * MAX_GAPS as i64], t);
        assert_eq!(seen.gaps.len(), MAX_GAPS);
        assert_eq!(seen.gap_ids().last(), Some(&(9 + 5 * MAX_GAPS as i64)));
        // More gaps than the bound: the oldest ids go first.
        seen.saw(&[20 + 5 * MAX_GAPS as i64], t);
        assert_eq!(seen.gaps.len(), MAX_GAPS);
        assert_eq!(seen.gap_ids().last(), Some(&(19 + 5 * MAX_GAPS as i64)));
    }
}

//! The ingest path: raw mentions in, stored and matched mentions out.
//!
//! Split in two halves so callers can overlap them: [`Ingestor::prepare`] is
//! pure CPU work (normalize, language, match every watch, analyze, index
//! text), run in parallel with rayon; [`Ingestor::store`] is one database
//! transaction, then the new mentions join their stories.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use vigie_model::{Mention, RawMention, Watch, WatchMatch};
use vigie_nlp::neardup::Signature;
use vigie_nlp::{NormalizeLimits, Rejection, normalize};
use vigie_query::{Document, WatchSet};
use vigie_store::{MentionRecord, Store, StoreError};

use crate::PipelineError;
use crate::alerts::{AlertSettings, MentionRules, SurgeDetectors, record_events};
use crate::analyze::{Analyzer, signature_of};
use crate::models::ProjectModels;
use crate::routing::Router;
use crate::stories::Stories;

/// The project's watches, compiled once.
pub struct CompiledWatches {
    set: WatchSet,
    /// Language restriction per watch id (absent: all languages).
    langs: Vec<(i64, HashSet<String>)>,
}

impl CompiledWatches {
    /// Compiles the watches. A stored query that no longer parses (a grammar
    /// change) is reported rather than silently ignored.
    pub fn new(watches: &[Watch]) -> Result<Self, PipelineError> {
        let mut queries = Vec::with_capacity(watches.len());
        let mut langs = Vec::new();
        for w in watches {
            let q = vigie_query::parse(&w.query)
                .map_err(|e| PipelineError::InvalidStoredQuery { watch: w.name.clone(), error: e.to_string() })?;
            queries.push((w.id, q));
            if !w.langs.is_empty() {
                langs.push((w.id, w.langs.iter().cloned().collect()));
            }
        }
        Ok(CompiledWatches { set: WatchSet::new(queries), langs })
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The watches a mention matches, with the terms that matched.
    pub fn match_mention(&self, m: &Mention) -> Vec<WatchMatch> {
        if self.set.is_empty() {
            return Vec::new();
        }
        let doc = document(m);
        self.set
            .match_document(&doc)
            .into_iter()
            .filter(|(id, _)| self.lang_allows(*id, m) == LangFilter::Passes)
            .map(|(watch_id, terms)| WatchMatch { watch_id, terms })
            .collect()
    }

    /// Whether a watch's languages let the mention through. A language that
    /// could not be told with confidence (short social text: "Arnaque totale
    /// chez Acme" has no language a detector can be sure of) passes: a watch
    /// restricted to French and English must not lose the short complaints
    /// it exists for because nobody could say which of the two they are in.
    pub fn lang_allows(&self, watch_id: i64, m: &Mention) -> LangFilter {
        let Some((_, allowed)) = self.langs.iter().find(|(id, _)| *id == watch_id) else {
            return LangFilter::Passes;
        };
        match m.lang.as_deref() {
            Some(l) if allowed.contains(l) => LangFilter::Passes,
            Some(_) if f64::from(m.lang_confidence) < vigie_nlp::RELIABLE_CONFIDENCE => LangFilter::Passes,
            None => LangFilter::Passes,
            Some(_) => LangFilter::OtherLanguage,
        }
    }
}

/// What a watch's language restriction says of a mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LangFilter {
    /// In one of the watch's languages, or a language nobody can be sure of.
    Passes,
    /// Surely in another language than the watch's.
    OtherLanguage,
}

/// The matcher's view of a mention.
pub fn document(m: &Mention) -> Document<'_> {
    Document {
        title: m.title.as_deref(),
        text: &m.text,
        author: m.author.as_deref(),
        site: m.site.as_deref(),
        url: m.url.as_deref(),
        lang: m.lang.as_deref(),
        source: Some(m.source_kind.as_str()),
    }
}

/// A batch after the CPU half of the pipeline.
pub struct Prepared {
    pub records: Vec<MentionRecord>,
    /// Near-duplicate signature of each record.
    pub signatures: Vec<Option<Signature>>,
    /// Index in the input batch and reason, for every rejected raw mention.
    pub rejected: Vec<(usize, Rejection)>,
}

/// A normalized mention and the engagement figures its source gave.
type Normalized = (Mention, vigie_model::Engagement);

/// A mention's id in its source, when the source's ids are its own (a
/// feed's GUID; platforms with global ids are keyed by them already).
fn item_id(m: &Mention) -> Option<&str> {
    m.source_item_id.as_deref().filter(|_| !m.source_kind.has_global_ids())
}

/// Items of one batch that share a link but not their content, and that
/// their source calls different items (different ids), are different
/// items — a site whose feed links every article to its home page, forum
/// posts exported with their thread's address — not copies of the first: each is keyed by its content (title and text) at its link, as an item
/// with neither link nor id is. By content rather than by id, so a feed
/// whose ids are positions (a new article takes the first id, the others
/// shift) loses nothing and stores nothing twice; an edited article is
/// stored again rather than lost. The same article under two ids (same
/// title and text) stays one mention.
fn key_shared_links(items: &mut [Normalized]) {
    let mut by_link: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (m, _)) in items.iter().enumerate() {
        // (An item without an id is the link's: the same article with
        // another excerpt, as an import of it may have.)
        if m.url.is_some() && item_id(m).is_some() && m.dedup_key.starts_with("url:") {
            by_link.entry(m.dedup_key.as_str()).or_default().push(i);
        }
    }
    let shared: Vec<usize> = by_link
        .into_values()
        .filter(|group| {
            let distinct =
                |f: &dyn Fn(&Mention) -> &str| group.iter().map(|&i| f(&items[i].0)).collect::<HashSet<_>>().len() > 1;
            distinct(&|m| item_id(m).unwrap_or_default()) && distinct(&|m| m.content_hash.as_str())
        })
        .flatten()
        .collect();
    for i in shared {
        let m = &mut items[i].0;
        m.dedup_key = keys_of(m).1;
    }
}

/// Keys the items that share their link with a stored mention as what is
/// stored says, so that an item's key does not depend on which items came
/// with it ([`key_shared_links`] sees one batch).
///
/// Ids say whether two items at one link are one when they can be compared:
/// of the same source (`source_id`: the batch's; none for imports and
/// pushes, then of the same kind), or of a kind whose pages hold many items
/// (a forum thread, a product's reviews: [`many_per_link`]). Then an item is
/// the stored mention at its link when it has its content or its id, and
/// another item, keyed by its content at the link, when the stored one has
/// another id and other content. Otherwise one link is one article: the
/// stored mention at it, from another source (a feed's article found again
/// by a search, imported from another tool with another excerpt), is the
/// item. An item stored before keyed by its content at this link is that
/// one. An item the batch keyed by its content (others share its link) is
/// not matched by id: ids that are positions shift when a new item comes
/// first.
fn key_by_stored(items: &mut [&mut Mention], source_id: Option<i64>, stored: &[vigie_store::KeyedItem]) {
    let stored: HashMap<&str, &vigie_store::KeyedItem> = stored.iter().map(|k| (k.dedup_key.as_str(), k)).collect();
    for m in items.iter_mut() {
        let (Some(url), Some(id)) = (m.url.clone(), item_id(m).map(str::to_string)) else {
            continue;
        };
        let (link_key, content_key) = keys_of(m);
        let shared_in_batch = m.dedup_key == content_key;
        let comparable = |k: &vigie_store::KeyedItem| {
            many_per_link(m.source_kind) || (k.source_id == source_id && k.source_kind == m.source_kind.as_str())
        };
        let at_link = stored.get(link_key.as_str());
        let legacy = legacy_content_key(m);
        let by_content = stored
            .get(content_key.as_str())
            .or_else(|| stored.get(legacy.as_str()))
            .filter(|k| k.url.as_deref() == Some(url.as_str()));
        let same_item = |k: &vigie_store::KeyedItem| {
            k.content_hash == m.content_hash
                || !comparable(k)
                || (!shared_in_batch && k.source_item_id.as_deref() == Some(id.as_str()))
        };
        let other_item = |k: &vigie_store::KeyedItem| {
            comparable(k)
                && k.source_item_id.as_deref().is_some_and(|other| other != id)
                && k.content_hash != m.content_hash
        };
        if let Some(k) = by_content {
            m.dedup_key = k.dedup_key.clone();
        } else if at_link.is_some_and(|k| same_item(k)) {
            m.dedup_key = link_key;
        } else if at_link.is_some_and(|k| other_item(k)) {
            m.dedup_key = content_key;
        }
    }
}

/// Kinds whose pages hold many items, each with its own id: the posts of a
/// forum thread, the reviews of a product.
fn many_per_link(kind: vigie_model::SourceKind) -> bool {
    matches!(kind, vigie_model::SourceKind::Forum | vigie_model::SourceKind::Review)
}

/// An item's key by its link and its key by its content at its link (the
/// same short reply, "Merci !", in two threads is two posts).
fn keys_of(m: &Mention) -> (String, String) {
    let content = Mention::dedup_key_for(None, m.source_kind, None, &m.content_hash);
    let at_link = match &m.url {
        Some(url) => format!("{content}@{url}"),
        None => content,
    };
    (Mention::dedup_key_for(m.url.as_deref(), m.source_kind, None, &m.content_hash), at_link)
}

/// The key by content alone that [`key_shared_links`] gave before keys by
/// content were made per link: stored items may have it.
fn legacy_content_key(m: &Mention) -> String {
    Mention::dedup_key_for(None, m.source_kind, None, &m.content_hash)
}

/// What a whole fetch holds: its items' keys, and whether no id of it is
/// given to items with different links.
struct FetchKeys {
    keys: HashSet<String>,
    ids_unique: bool,
}

impl FetchKeys {
    fn of(items: &[Normalized]) -> FetchKeys {
        let mut key_of: HashMap<&str, &str> = HashMap::new();
        let ids_unique = items
            .iter()
            .filter_map(|(m, _)| item_id(m).map(|id| (id, m.dedup_key.as_str())))
            .all(|(id, key)| *key_of.entry(id).or_insert(key) == key);
        FetchKeys { keys: items.iter().map(|(m, _)| m.dedup_key.clone()).collect(), ids_unique }
    }
}

/// What happened to one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub inserted: u64,
    pub duplicates: u64,
    pub rejected: Vec<(usize, String)>,
    pub inserted_ids: Vec<i64>,
}

/// Normalizes, matches and stores mentions for one project.
pub struct Ingestor {
    store: Arc<dyn Store>,
    project_id: i64,
    watches: CompiledWatches,
    analyzer: Arc<Analyzer>,
    stories: Stories,
    limits: NormalizeLimits,
    /// The early-warning rules, run on every stored batch.
    alerts: AlertHook,
    /// The routing rules, sending new mentions to their department's inbox.
    router: Router,
}

/// The alert rules of the project, as the ingestor runs them.
struct AlertHook {
    rules: MentionRules,
    surges: SurgeDetectors,
    watches: Vec<Watch>,
}

impl Ingestor {
    /// Loads and compiles the project's watches, themes and routing rules,
    /// with the project's models and its story index.
    pub async fn new(
        store: Arc<dyn Store>,
        project_id: i64,
        models: &ProjectModels,
        stories: Stories,
    ) -> Result<Self, PipelineError> {
        let listed = store.list_watches(project_id).await?;
        let watches = CompiledWatches::new(&listed)?;
        let analyzer = Arc::new(models.analyzer(store.as_ref(), project_id).await?);
        let settings = AlertSettings::load(store.as_ref(), project_id).await?;
        let alerts = AlertHook {
            rules: MentionRules::new(settings, &listed),
            surges: SurgeDetectors::default(),
            watches: listed,
        };
        // After the analyzer: it seeds a new project's default workflow.
        let router = Router::load(store.as_ref(), project_id).await?;
        Ok(Ingestor {
            store,
            project_id,
            watches,
            analyzer,
            stories,
            limits: NormalizeLimits::default(),
            alerts,
            router,
        })
    }

    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// Sends old mentions to the inbox too (see [`crate::routing::MAX_ROUTING_AGE_SECS`]).
    pub fn route_history(&mut self) {
        self.router.route_history();
    }

    pub fn project_id(&self) -> i64 {
        self.project_id
    }

    pub fn watches(&self) -> &CompiledWatches {
        &self.watches
    }

    /// The CPU half: normalize, match and index every mention, in parallel.
    pub fn prepare(&self, raws: Vec<RawMention>, source_id: Option<i64>, now: DateTime<Utc>) -> Prepared {
        let (normalized, rejected) = self.normalize_all(raws, now);
        self.analyze_all(normalized, rejected, source_id)
    }

    /// Normalization alone (cheap): the mentions with their input index and
    /// engagement figures, and the rejected ones.
    fn normalize_all(&self, raws: Vec<RawMention>, now: DateTime<Utc>) -> (Vec<Normalized>, Vec<(usize, Rejection)>) {
        let results: Vec<Result<Normalized, Rejection>> = raws
            .into_par_iter()
            .map(|raw| {
                let engagement = raw.engagement;
                Ok((normalize(raw, now, &self.limits)?, engagement))
            })
            .collect();
        let mut normalized = Vec::with_capacity(results.len());
        let mut rejected = Vec::new();
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(n) => normalized.push(n),
                Err(reason) => rejected.push((i, reason)),
            }
        }
        key_shared_links(&mut normalized);
        (normalized, rejected)
    }

    /// Matching, analysis, signatures and index text (the expensive part).
    fn analyze_all(
        &self,
        normalized: Vec<Normalized>,
        rejected: Vec<(usize, Rejection)>,
        source_id: Option<i64>,
    ) -> Prepared {
        type Ready = (MentionRecord, Option<Signature>);
        let ready: Vec<Ready> = normalized
            .into_par_iter()
            .map(|(mut mention, engagement)| {
                let matches = self.watches.match_mention(&mention);
                mention.analysis = self.analyzer.analyze(&mention, &engagement);
                let signature = signature_of(&mention);
                let fts_title = mention.title.as_deref().map(vigie_query::index_text).unwrap_or_default();
                let fts_text = vigie_query::index_text(&mention.text);
                (MentionRecord { mention, source_id, matches, fts_title, fts_text }, signature)
            })
            .collect();
        let (records, signatures) = ready.into_iter().unzip();
        Prepared { records, signatures, rejected }
    }

    /// Reads what other processes stored since this ingestor's last batch
    /// into its story index, joining the stories found to be one (after an
    /// import's last batch: a concurrent import may have stored copies).
    pub async fn refresh_stories(&self) {
        if let Err(e) = self.stories.refresh(self.store.as_ref(), self.project_id).await {
            tracing::warn!(project = self.project_id, error = %e, "could not read what other processes stored");
        }
    }

    /// The IO half: one transaction, then the new mentions join their
    /// stories (a second, small one: copies are few).
    pub async fn store(&self, mut prepared: Prepared) -> Result<IngestReport, StoreError> {
        // What other processes stored since the last batch joins the index
        // first, so a copy finds its original whoever stored it.
        let turn = self.stories.turn().await;
        if let Err(e) = self.stories.catch_up(self.store.as_ref(), self.project_id).await {
            tracing::warn!(project = self.project_id, error = %e, "could not read what other processes stored; stories may miss their copies");
        }
        let report = self.store.insert_mentions(self.project_id, &prepared.records).await?;
        let new: Vec<(i64, &Signature)> = report
            .inserted_ids
            .iter()
            .zip(&report.inserted_index)
            .filter_map(|(id, i)| prepared.signatures.get(*i).and_then(Option::as_ref).map(|s| (*id, s)))
            .collect();
        let crate::stories::Assigned { copies, merges } = self.stories.assign(&report.inserted_ids, &new);
        drop(turn);
        crate::stories::join_stories(self.store.as_ref(), self.project_id, &merges).await;
        if !copies.is_empty() {
            // Stories are a view over stored mentions: failing to record
            // them loses no mention, so it is logged, not fatal.
            if let Err(e) = self.store.set_stories(self.project_id, &copies).await {
                tracing::warn!(error = %e, "could not record {} story links", copies.len());
            }
            // The alert rules count a copy as its story.
            for (copy, story) in &copies {
                if let Some(i) = report.inserted_ids.iter().position(|id| id == copy)
                    && let Some(record) = report.inserted_index.get(i).and_then(|i| prepared.records.get_mut(*i))
                {
                    record.mention.analysis.story_id = Some(*story);
                }
            }
        }
        let new_mentions: Vec<(i64, &MentionRecord)> = report
            .inserted_ids
            .iter()
            .zip(&report.inserted_index)
            .filter_map(|(id, i)| prepared.records.get(*i).map(|r| (*id, r)))
            .collect();
        let now = Utc::now();
        // Routing and alerts come after the mentions are safely stored, which
        // put them on the pending list in the same transaction: they leave
        // it once both ran. A failure (or this process dying first) leaves
        // them there, and a later cycle runs their rules
        // (`crate::collect_run::run_pending_rules`).
        let routed = self.route(&new_mentions, now).await;
        if let Err(e) = &routed {
            tracing::warn!(project = self.project_id, error = %e, "routing failed on a stored batch; retried later");
        }
        let alerted = self.run_alerts(&new_mentions, now).await;
        if let Err(e) = &alerted {
            tracing::warn!(project = self.project_id, error = %e, "alert rules failed on a stored batch; retried later");
        }
        if routed.is_ok()
            && alerted.is_ok()
            && let Err(e) = self.store.rules_done(&report.inserted_ids).await
        {
            // At worst their rules run once more (routing is idempotent).
            tracing::warn!(project = self.project_id, error = %e, "could not clear the batch's pending rules");
        }
        Ok(IngestReport {
            inserted: report.inserted,
            duplicates: report.duplicates,
            rejected: prepared.rejected.into_iter().map(|(i, r)| (i, r.to_string())).collect(),
            inserted_ids: report.inserted_ids,
        })
    }

    /// Runs the routing and alert rules on mentions stored earlier whose
    /// rules never ran (their process died between storing and rules). The
    /// mentions are read back; one removed meanwhile is skipped.
    pub async fn run_rules_on_stored(&self, mention_ids: &[i64], now: DateTime<Utc>) -> Result<(), PipelineError> {
        let mut records = Vec::with_capacity(mention_ids.len());
        for id in mention_ids {
            if let Some(stored) = self.store.mention(self.project_id, *id).await? {
                let record = MentionRecord {
                    mention: stored.mention,
                    source_id: stored.source_id,
                    matches: stored.matches,
                    fts_title: String::new(),
                    fts_text: String::new(),
                };
                records.push((*id, record));
            }
        }
        let new: Vec<(i64, &MentionRecord)> = records.iter().map(|(id, r)| (*id, r)).collect();
        self.route(&new, now).await?;
        self.run_alerts(&new, now).await
    }

    /// Sends the new mentions a routing rule matches to their department's inbox.
    async fn route(&self, new: &[(i64, &MentionRecord)], now: DateTime<Utc>) -> Result<u64, StoreError> {
        let items = self.router.route_batch(
            new.iter().map(|(id, r)| (*id, &r.mention, r.matches.iter().map(|m| m.watch_id).collect())),
            now,
        );
        if items.is_empty() {
            return Ok(0);
        }
        self.store.route_mentions(&items).await
    }

    /// The per-mention rules on the new mentions, then the surge rules of
    /// the watches that recent mentions touched.
    async fn run_alerts(&self, new: &[(i64, &MentionRecord)], now: DateTime<Utc>) -> Result<(), PipelineError> {
        let mut events = Vec::new();
        let mut touched: Vec<i64> = Vec::new();
        for (id, record) in new {
            if (now - record.mention.published_at).num_seconds() > crate::alerts::MAX_ALERT_AGE {
                continue;
            }
            let watch_ids: Vec<i64> = record.matches.iter().map(|m| m.watch_id).collect();
            events.extend(self.alerts.rules.events(*id, &record.mention, &watch_ids, now));
            for w in watch_ids {
                if !touched.contains(&w) {
                    touched.push(w);
                }
            }
        }
        let settings = self.alerts.rules.settings();
        for watch in self.alerts.watches.iter().filter(|w| touched.contains(&w.id)) {
            events.extend(self.alerts.surges.check(self.store.as_ref(), self.project_id, settings, watch, now).await?);
        }
        if !events.is_empty() {
            record_events(self.store.as_ref(), self.project_id, settings, events, now).await?;
        }
        Ok(())
    }

    /// Judges the watch series whose surge check was skipped while batches
    /// streamed in (once a second per series at most): call when a run of
    /// batches ends (a collection cycle, an import), so the last batches'
    /// mentions are judged now rather than when the next one arrives.
    pub async fn check_deferred_surges(&self, now: DateTime<Utc>) -> Result<(), PipelineError> {
        let settings = self.alerts.rules.settings();
        let events = self
            .alerts
            .surges
            .check_deferred(self.store.as_ref(), self.project_id, settings, &self.alerts.watches, now)
            .await;
        if !events.is_empty() {
            record_events(self.store.as_ref(), self.project_id, settings, events, now).await?;
        }
        Ok(())
    }

    /// Drops the items the source stored already under a link that is gone:
    /// a feed that edits an item's slug keeps its id (the GUID), and the
    /// item is the one stored when its title and text are the same too
    /// (same content hash) and its old link is no longer in the feed. A
    /// feed that gives a new article an old GUID (ids by position) loses
    /// nothing: its content differs, or the old link is still there. A
    /// fetch that gives one id to items with different links (GUIDs that
    /// are not unique) is not judged by its ids at all. Platforms with
    /// global ids are keyed by them already.
    async fn drop_moved_items(
        &self,
        source_id: i64,
        fetch: FetchKeys,
        new: Vec<Normalized>,
    ) -> Result<Vec<Normalized>, PipelineError> {
        if !fetch.ids_unique {
            return Ok(new);
        }
        let wanted: Vec<(&str, &str)> =
            new.iter().filter_map(|(m, _)| item_id(m).map(|id| (id, m.content_hash.as_str()))).collect();
        if wanted.is_empty() {
            return Ok(new);
        }
        let moved: HashSet<(String, String)> = self
            .store
            .source_items(source_id, &wanted)
            .await?
            .into_iter()
            .filter(|stored| !fetch.keys.contains(&stored.dedup_key))
            .map(|stored| (stored.id, stored.content_hash))
            .collect();
        if moved.is_empty() {
            return Ok(new);
        }
        let is_moved =
            |m: &Mention| item_id(m).is_some_and(|id| moved.contains(&(id.to_string(), m.content_hash.clone())));
        // The same article under several ids moves with them all.
        let moved_keys: HashSet<String> =
            new.iter().filter(|(m, _)| is_moved(m)).map(|(m, _)| m.dedup_key.clone()).collect();
        Ok(new.into_iter().filter(|(m, _)| !moved_keys.contains(&m.dedup_key)).collect())
    }

    /// [`key_by_stored`] on these mentions: the store is asked about the
    /// links and contents of those with a link and an id of their source.
    async fn key_by_store(&self, mut items: Vec<&mut Mention>, source_id: Option<i64>) -> Result<(), StoreError> {
        let keys: Vec<String> = items
            .iter()
            .filter(|m| m.url.is_some() && item_id(m).is_some())
            .flat_map(|m| {
                let (link, content) = keys_of(m);
                [link, content, legacy_content_key(m)]
            })
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let stored = self.store.keyed_items(self.project_id, &keys).await?;
        key_by_stored(&mut items, source_id, &stored);
        Ok(())
    }

    /// [`Ingestor::key_by_store`] on a prepared batch, before
    /// [`Ingestor::store`] (an import's batches; [`Ingestor::ingest`] does
    /// it itself).
    pub async fn key_prepared(&self, prepared: &mut Prepared) -> Result<(), StoreError> {
        let source_id = prepared.records.first().and_then(|r| r.source_id);
        self.key_by_store(prepared.records.iter_mut().map(|r| &mut r.mention).collect(), source_id).await
    }

    /// Both halves, for small batches (a feed's items). The CPU half runs on
    /// the blocking pool so that it never stalls the async workers (and the
    /// fetches they drive).
    pub async fn ingest(
        self: &Arc<Self>,
        raws: Vec<RawMention>,
        source_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<IngestReport, PipelineError> {
        let stopped = |e: tokio::task::JoinError| PipelineError::Internal(format!("mention preparation stopped: {e}"));
        let this = Arc::clone(self);
        let (mut normalized, rejected) =
            tokio::task::spawn_blocking(move || this.normalize_all(raws, now)).await.map_err(stopped)?;
        self.key_by_store(normalized.iter_mut().map(|(m, _)| m).collect(), source_id).await?;
        // A feed repeats most of its items from one fetch to the next: those
        // already stored are not analysed again.
        let keys: Vec<&str> = normalized.iter().map(|(m, _)| m.dedup_key.as_str()).collect();
        let stored = self.store.existing_keys(self.project_id, &keys).await?;
        let before = normalized.len();
        // (Only a source's fetch is looked up by item id.)
        let fetch = source_id.map(|id| (id, FetchKeys::of(&normalized)));
        let normalized: Vec<Normalized> =
            normalized.into_iter().filter(|(m, _)| !stored.contains(&m.dedup_key)).collect();
        let normalized = match fetch {
            Some((source_id, fetch)) if !normalized.is_empty() => {
                self.drop_moved_items(source_id, fetch, normalized).await?
            }
            _ => normalized,
        };
        let skipped = (before - normalized.len()) as u64;
        let this = Arc::clone(self);
        let prepared = tokio::task::spawn_blocking(move || this.analyze_all(normalized, rejected, source_id))
            .await
            .map_err(stopped)?;
        let mut report = self.store(prepared).await?;
        report.duplicates += skipped;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mention(text: &str) -> Mention {
        let raw = RawMention { text: text.into(), plain_text: true, ..RawMention::default() };
        normalize(raw, Utc::now(), &NormalizeLimits::default()).unwrap()
    }

    /// A forum post of thread `/t/9` with its id in the forum.
    fn post(id: Option<&str>, text: &str) -> Mention {
        let raw = RawMention {
            text: text.into(),
            plain_text: true,
            url: Some("https://forum.example/t/9".into()),
            source_item_id: id.map(str::to_string),
            source_kind: Some(vigie_model::SourceKind::Forum),
            ..RawMention::default()
        };
        normalize(raw, Utc::now(), &NormalizeLimits::default()).unwrap()
    }

    fn stored(m: &Mention, key: &str) -> vigie_store::KeyedItem {
        vigie_store::KeyedItem {
            dedup_key: key.to_string(),
            url: m.url.clone(),
            source_item_id: m.source_item_id.clone(),
            content_hash: m.content_hash.clone(),
            source_id: None,
            source_kind: m.source_kind.as_str().to_string(),
        }
    }

    /// The key `key_by_stored` gives `m` (imported), with `in_store` stored.
    fn keyed(mut m: Mention, in_store: &[vigie_store::KeyedItem]) -> String {
        key_by_stored(&mut [&mut m], None, in_store);
        m.dedup_key
    }

    #[test]
    fn posts_sharing_a_link_get_the_same_keys_whichever_came_together() {
        let (p1, p2) = (post(Some("p1"), "Acme a perdu mon colis"), post(Some("p2"), "Pareil pour moi"));
        let (link, content1) = keys_of(&p1);
        let (_, content2) = keys_of(&p2);
        assert_eq!(link, "url:https://forum.example/t/9");
        // Alone, the first is the link's.
        assert_eq!(keyed(p1.clone(), &[]), link);
        // p1 stored alone: p2 is another post of the thread, p1 again is p1,
        // even if a batch with p2 keyed it by its content.
        let p1_alone = [stored(&p1, &link)];
        assert_eq!(keyed(p2.clone(), &p1_alone), content2);
        let mut p1_in_a_pair = p1.clone();
        p1_in_a_pair.dedup_key = content1.clone();
        assert_eq!(keyed(p1_in_a_pair, &p1_alone), link);
        // Both stored by their content (they came together): each alone is
        // what it was.
        let pair = [stored(&p1, &content1), stored(&p2, &content2)];
        assert_eq!(keyed(p1.clone(), &pair), content1);
        assert_eq!(keyed(p2.clone(), &pair), content2);
        // The same post with another excerpt under its id is the same one;
        // a link whose stored mention had no id is the link's.
        let edited = post(Some("p1"), "Acme a perdu mon colis (édité)");
        assert_eq!(keyed(edited, &p1_alone), link);
        let anonymous = post(None, "Le fil entier");
        assert_eq!(keyed(p2.clone(), &[stored(&anonymous, &link)]), link);
        // A copy of p2's text at another link is not p2.
        let elsewhere =
            vigie_store::KeyedItem { url: Some("https://other.example/x".into()), ..stored(&p2, &content2) };
        assert_eq!(keyed(p2.clone(), &[elsewhere]), link);
        // A pair stored before keys by content were per link is found again.
        let legacy = [stored(&p1, &legacy_content_key(&p1)), stored(&p2, &legacy_content_key(&p2))];
        assert_eq!(keyed(p1.clone(), &legacy), legacy_content_key(&p1));
        // The same short reply in another thread is another post.
        let merci_a = post(Some("a7"), "Merci !");
        let mut merci_b = merci_a.clone();
        merci_b.url = Some("https://forum.example/t/10".into());
        merci_b.source_item_id = Some("b3".into());
        let (_, merci_b_content) = keys_of(&merci_b);
        let thread_b = post(Some("b1"), "Autre fil");
        let thread_b =
            vigie_store::KeyedItem { url: merci_b.url.clone(), ..stored(&thread_b, "url:https://forum.example/t/10") };
        let in_store = [stored(&merci_a, &keys_of(&merci_a).1), thread_b];
        assert_eq!(keyed(merci_b, &in_store), merci_b_content);
        // On a news site one link is one article: the article a feed stored,
        // found again with another excerpt and an id of another source (a
        // search, an import from another tool), is the link's, alone or not.
        let news = |m: &Mention| Mention { source_kind: vigie_model::SourceKind::News, ..m.clone() };
        let (n1, n2) = (news(&p1), news(&p2));
        let from_a_feed = vigie_store::KeyedItem { source_id: Some(7), ..stored(&n1, &link) };
        assert_eq!(keyed(n2.clone(), std::slice::from_ref(&from_a_feed)), link);
        let mut n2_in_a_pair = n2.clone();
        n2_in_a_pair.dedup_key = keys_of(&n2).1;
        assert_eq!(keyed(n2_in_a_pair, std::slice::from_ref(&from_a_feed)), link);
        let mut fetched = n2.clone();
        key_by_stored(&mut [&mut fetched], Some(7), &[from_a_feed]);
        assert_eq!(fetched.dedup_key, keys_of(&n2).1, "the same feed's other item");
        // A forum thread's posts are told apart by their ids whatever stored
        // the thread's link (its feed).
        let thread_from_a_feed = vigie_store::KeyedItem { source_id: Some(7), ..stored(&p1, &link) };
        assert_eq!(keyed(p2.clone(), &[thread_from_a_feed]), content2);
        // Ids that are positions: a new post takes the stored one's id in a
        // batch that keys both by content; it is not taken for the stored one.
        let mut newcomer = post(Some("p1"), "Un tout nouveau message");
        let (_, newcomer_content) = keys_of(&newcomer);
        newcomer.dedup_key = newcomer_content.clone();
        key_by_stored(&mut [&mut newcomer], None, &p1_alone);
        assert_eq!(newcomer.dedup_key, newcomer_content);
    }

    fn watch(id: i64, langs: &[&str]) -> Watch {
        Watch {
            id,
            name: format!("w{id}"),
            query: "acme".into(),
            competitor: false,
            langs: langs.iter().map(|l| l.to_string()).collect(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_watch_in_french_and_english_keeps_short_complaints_of_unsure_language() {
        let watches = CompiledWatches::new(&[watch(1, &["fr", "en"]), watch(2, &[])]).unwrap();
        for text in ["Arnaque totale chez Acme", "Service nul chez Acme", "Boycott Acme ! Scandale total."] {
            let m = mention(text);
            let matched: Vec<i64> = watches.match_mention(&m).iter().map(|w| w.watch_id).collect();
            assert_eq!(matched, [1, 2], "{text:?} read as {:?} ({})", m.lang, m.lang_confidence);
        }
        let french = mention("Je n'ai toujours pas reçu ma commande Acme, le service client ne répond jamais");
        assert_eq!(french.lang.as_deref(), Some("fr"));
        assert_eq!(watches.lang_allows(1, &french), LangFilter::Passes);
        // Surely another language: only the watch without a restriction.
        let german = mention(
            "Ich habe meine Bestellung bei Acme immer noch nicht bekommen und der Kundendienst antwortet nicht",
        );
        assert_eq!(german.lang.as_deref(), Some("de"), "confidence {}", german.lang_confidence);
        assert_eq!(watches.lang_allows(1, &german), LangFilter::OtherLanguage);
        let matched: Vec<i64> = watches.match_mention(&german).iter().map(|w| w.watch_id).collect();
        assert_eq!(matched, [2]);
    }
}

//! One collection cycle: fetch every due source, ingest what it returned, and
//! write its health record. A failing source never stops the others.
//!
//! Each source type is read by its own parser ([`read_source`]: feeds, the
//! social APIs with their saved cursor, HTML pages by selectors, search
//! results), into the same [`Reading`]; [`collect_due`] then stores the items
//! and only then saves what marks them as read (validators, cursor, ranking),
//! so a crash in between makes the next run read them again, which the
//! store's dedup key absorbs, and never skips any. A good run schedules the
//! source on its own phase of its interval ([`next_slot`]); a failed one backs
//! off exponentially with jitter, honouring `Retry-After` ([`backoff_due`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use serde_json::json;
use vigie_collect::html::{Selectors, extract};
use vigie_collect::search::{
    DEFAULT_TOP, RankChange, RankedUrl, SearchResult, compare, parse_results, search_url, to_raw_mention,
};
use vigie_collect::social::{self, Cursor, Endpoints, MAX_PAGES_PER_RUN, SocialQuery};
use vigie_collect::{FetchError, FetchOutcome, FetchRequest, Fetcher, RawMention, parse_feed};
use vigie_model::{AlertEvidence, AlertRule, Language, Severity, Source, SourceKind};
use vigie_store::{FetchRecord, Store};

use crate::PipelineError;
use crate::alerts::{AlertEvent, AlertSettings, record_events};
use crate::ingest::Ingestor;
use crate::models::ProjectModels;
use crate::sources::{Secrets, SourceSpec};
use crate::stories::StoryIndexes;

/// Sources fetched at the same time (the fetcher's per-host limit keeps
/// any one site to a couple of them).
pub const CONCURRENT_FETCHES: usize = 16;
/// Longest wait before retrying a failing source.
pub const MAX_BACKOFF_SECS: i64 = 24 * 3600;

/// What one cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectReport {
    pub sources: usize,
    pub fetched: usize,
    pub not_modified: usize,
    pub failed: usize,
    /// Due sources not fetched because the process was asked to stop (they
    /// are given back, due).
    pub not_started: usize,
    pub items: u64,
    pub stored: u64,
}

/// When to try a source again after `failures` failures in a row: its interval
/// doubled per extra failure, up to a day, or the server's Retry-After if
/// that is later; then up to a tenth more, drawn from `seed` (the source and
/// its failure count), so sources that failed together (one host down) do
/// not all come back at the same second.
pub fn backoff_due(
    now: DateTime<Utc>,
    interval_secs: i64,
    failures: i64,
    retry_after_secs: Option<u64>,
    seed: u64,
) -> DateTime<Utc> {
    let exponent = failures.clamp(1, 20) - 1;
    let backoff = interval_secs.max(60).saturating_mul(1_i64 << exponent).min(MAX_BACKOFF_SECS);
    let retry_after = retry_after_secs.map_or(0, |s| i64::try_from(s).unwrap_or(MAX_BACKOFF_SECS));
    let wait = backoff.max(retry_after.min(MAX_BACKOFF_SECS));
    let jitter = vigie_collect::hosts::jitter(seed, std::time::Duration::from_secs((wait / 10) as u64));
    now + Duration::seconds(wait) + Duration::seconds(jitter.as_secs() as i64)
}

/// The next fetch of a source after a good run: the first time at least
/// half an interval after `now` that falls on the source's own phase within
/// its interval (drawn from its id). Sources added together are fetched
/// together once, then spread evenly over their interval instead of all
/// coming due at the same second; a source is never due again moments after
/// a fetch because its phase happened to be near.
pub fn next_slot(now: DateTime<Utc>, interval_secs: i64, source_id: i64) -> DateTime<Utc> {
    let interval = interval_secs.max(1);
    let phase = (splitmix64(source_id as u64) % interval as u64) as i64;
    let t = now.timestamp();
    let mut slot = (t - phase).div_euclid(interval) * interval + phase + interval;
    if slot - t < interval / 2 {
        slot += interval;
    }
    DateTime::from_timestamp(slot, 0).unwrap_or(now + Duration::seconds(interval))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

enum Outcome {
    Fetched { items: u64, stored: u64 },
    NotModified,
    Failed,
    NotStarted,
}

/// A process's request to stop, shared by its loops (the web server, the
/// notification outbox, collection). Told to stop, a collection cycle
/// starts no more fetches, gives the
/// ones under way [`STOP_GRACE`] to finish and be recorded, and abandons
/// the rest (a source waiting for its host, a server that does not
/// answer): nothing is recorded for them, so they stay due, and what an
/// abandoned source had stored is safe (its batch is one transaction; its
/// rules run from the pending list). A process asked to stop then stops in
/// bounded time, however many sources of a slow host were due.
#[derive(Clone)]
pub struct StopSignal(std::sync::Arc<tokio::sync::watch::Sender<bool>>);

/// How long the fetches under way get to finish once a cycle is told to stop.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

impl Default for StopSignal {
    fn default() -> Self {
        StopSignal(std::sync::Arc::new(tokio::sync::watch::channel(false).0))
    }
}

impl StopSignal {
    pub fn stop(&self) {
        self.0.send_replace(true);
    }

    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// A receiver of the signal, for [`vigie_collect::Fetcher::with_stop`]:
    /// requests still waiting for their host are then not sent.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<bool> {
        self.0.subscribe()
    }

    /// Resolves once [`Self::stop`] was called.
    pub async fn stopped(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// What collection cycles share: where the models are, and the story
/// indexes of the projects (kept from one cycle to the next).
#[derive(Clone, Default)]
pub struct CollectContext {
    pub models: ProjectModels,
    pub stories: StoryIndexes,
    /// API keys of the sources that need one.
    pub secrets: Secrets,
    /// Where the fixed-host social APIs are (their public hosts by default).
    pub endpoints: Endpoints,
    /// Set when the process is asked to stop.
    pub stop: StopSignal,
}

/// Who collects, and for how long a source it took stays its own: other
/// processes leave a leased source alone until the lease expires (this
/// process died) or [`Store::record_fetch`] / [`Store::release_leases`]
/// clears it. A cycle renews the leases of the sources it has not finished
/// every third of the lease, so a long cycle keeps them.
#[derive(Debug, Clone)]
pub struct Lease {
    /// Unique among the processes sharing the database.
    pub worker: String,
    pub duration: std::time::Duration,
}

impl Lease {
    /// A lease for this process: `prefix-HOST-PID`, unique among live
    /// processes.
    pub fn for_process(prefix: &str, duration: std::time::Duration) -> Lease {
        Lease { worker: format!("{prefix}-{}-{}", process_space(), std::process::id()), duration }
    }

    /// The prefix of the leases [`Lease::for_process`] gives processes of
    /// this kind in this process space: `prefix-HOST.SPACE-`.
    pub fn local_prefix(prefix: &str) -> String {
        format!("{prefix}-{}-", process_space())
    }
}

/// Gives back at once what processes of this kind (`prefix`) on this machine
/// held when they died (killed, crashed), instead of leaving it until their
/// leases expire: a lease named by [`Lease::for_process`] whose process no
/// longer exists. A process of another machine, or one whose liveness cannot
/// be told (no `/proc`), is left to its lease's expiry. Best effort: a
/// database error is logged (the leases expire on their own). Returns how
/// many sources and deliveries were given back.
pub async fn release_dead_local_leases(store: &Arc<dyn Store>, prefix: &str) -> u64 {
    let local = Lease::local_prefix(prefix);
    let mut released = 0;
    let holders = match store.lease_holders(&local).await {
        Ok(holders) => holders,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for leases of stopped processes; they expire on their own");
            return 0;
        }
    };
    for holder in holders {
        let Ok(pid) = holder[local.len()..].parse::<u32>() else { continue };
        if pid != std::process::id() && process_is_gone(pid) {
            match store.release_leases(&holder).await {
                Ok(n) => released += n,
                Err(e) => tracing::warn!(error = %e, %holder, "cannot give back a stopped process's leases"),
            }
        }
    }
    if released > 0 {
        tracing::info!(released, prefix, "took back what a stopped process of this machine held");
    }
    released
}

/// Whether no process `pid` runs on this machine (false when it cannot be
/// told). A zombie (killed, not yet reaped by its parent: a restart right
/// after `kill -9`) is gone.
fn process_is_gone(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return false;
    }
    match std::fs::read_to_string(proc.join(pid.to_string()).join("stat")) {
        // `pid (name) S …`: the state follows the name's closing parenthesis.
        Ok(stat) => {
            stat.rsplit_once(')').is_some_and(|(_, rest)| matches!(rest.trim_start().chars().next(), Some('Z' | 'X')))
        }
        Err(_) => !proc.join(pid.to_string()).exists(),
    }
}

/// Where a process id names one process: the host name, and a fingerprint
/// of the kernel's boot and the PID namespace (`node.1f3a9c04`). Machines or
/// containers that share a host name (cloned VMs, containers on the host's
/// network, each its PID 1) differ by it, so one never takes another's live
/// process for a dead local one, nor two share a lease name.
fn process_space() -> String {
    static SPACE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SPACE
        .get_or_init(|| {
            let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
            let namespace =
                std::fs::read_link("/proc/self/ns/pid").map(|p| p.display().to_string()).unwrap_or_default();
            if boot.is_empty() && namespace.is_empty() {
                return host_name();
            }
            // FNV-1a: stable across builds and platforms.
            let hash = format!("{}\n{namespace}", boot.trim())
                .bytes()
                .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
            format!("{}.{:08x}", host_name(), hash as u32)
        })
        .clone()
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// How long a stored mention waits for its own process to run its rules
/// before another cycle runs them (a batch's rules take seconds).
pub const PENDING_RULES_GRACE_SECS: i64 = 300;
/// Mentions whose rules one cycle runs at most.
const PENDING_RULES_BATCH: i64 = 2_000;

/// Runs the routing and alert rules of mentions stored more than
/// [`PENDING_RULES_GRACE_SECS`] ago whose rules never ran: the process that
/// stored them died (or the database failed) in between, and a later fetch
/// of the same items finds them stored already. Each mention is claimed by
/// one process (for twice the grace) and leaves the list once its rules
/// ran; one whose rules fail again, or whose process dies meanwhile, is
/// claimed again once that claim is over. Returns how many mentions were
/// evaluated.
pub async fn run_pending_rules(
    store: &Arc<dyn Store>,
    ctx: &CollectContext,
    now: DateTime<Utc>,
) -> Result<u64, PipelineError> {
    // Claimed for twice the grace: a large catch-up on a slow database
    // finishes before another process may take the same mentions.
    let grace = Duration::seconds(PENDING_RULES_GRACE_SECS);
    let taken = store.take_rules_pending(now - grace, PENDING_RULES_BATCH, now + grace).await?;
    if taken.is_empty() {
        return Ok(0);
    }
    let mut by_project: std::collections::BTreeMap<i64, Vec<i64>> = std::collections::BTreeMap::new();
    for (project_id, mention_id) in taken {
        by_project.entry(project_id).or_default().push(mention_id);
    }
    let mut evaluated = 0;
    for (project_id, ids) in by_project {
        let run = async {
            let stories = ctx.stories.get(store.as_ref(), project_id).await?;
            let ingestor = Ingestor::new(Arc::clone(store), project_id, &ctx.models, stories).await?;
            ingestor.run_rules_on_stored(&ids, Utc::now()).await
        };
        match run.await {
            Ok(()) => {
                tracing::info!(project = project_id, mentions = ids.len(), "ran the rules a stopped process left");
                evaluated += ids.len() as u64;
                if let Err(e) = store.rules_done(&ids).await {
                    // At worst their rules run once more: routing is
                    // idempotent, and an alert that holds the mention
                    // already is left as it is (`alerts::fold_event`).
                    tracing::warn!(project = project_id, error = %e, "could not clear the pending rules that ran");
                }
            }
            Err(e) => {
                // Still on the list: claimed again after the grace.
                tracing::warn!(project = project_id, error = %e, "rules of stored mentions failed; retried later");
            }
        }
    }
    Ok(evaluated)
}

/// Leases the sources due at `now` (at most `limit`, across all projects)
/// that no other process holds, and fetches them (after running the rules
/// a stopped process left: [`run_pending_rules`]).
pub async fn collect_due(
    store: &Arc<dyn Store>,
    fetcher: &Fetcher,
    ctx: &CollectContext,
    now: DateTime<Utc>,
    limit: i64,
    lease: &Lease,
) -> Result<CollectReport, PipelineError> {
    if let Err(e) = run_pending_rules(store, ctx, now).await {
        tracing::warn!(error = %e, "could not run the pending rules of stored mentions; retried next cycle");
    }
    let due = store.lease_due_sources(now, limit, &lease.worker, lease.duration).await?;
    if due.is_empty() {
        return Ok(CollectReport::default());
    }
    let pending: Arc<std::sync::Mutex<HashSet<i64>>> =
        Arc::new(std::sync::Mutex::new(due.iter().map(|(_, s)| s.id).collect()));
    // Renewals run beside the cycle, never in its way: a renewal waiting for
    // a pool connection must not keep the cycle from committing the
    // transactions that would free one.
    let renewer = {
        let (store, lease, pending) = (Arc::clone(store), lease.clone(), Arc::clone(&pending));
        let every = (lease.duration / 3).max(std::time::Duration::from_millis(200));
        AbortOnDrop(tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                renew(store.as_ref(), &lease, &pending).await;
            }
        }))
    };
    let report = collect_tracked(store, fetcher, ctx, due, now, Some(&pending)).await;
    drop(renewer);
    report
}

/// Stops a background task when dropped (the cycle ended, or failed).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Extends the leases of the sources not finished yet.
async fn renew(store: &dyn Store, lease: &Lease, pending: &std::sync::Mutex<HashSet<i64>>) {
    let ids: Vec<i64> = pending.lock().map(|p| p.iter().copied().collect()).unwrap_or_default();
    for id in ids {
        match store.renew_lease(id, &lease.worker, Utc::now(), lease.duration).await {
            Ok(true) => {}
            // Finished meanwhile (its record cleared the lease): nothing lost.
            Ok(false) if !pending.lock().is_ok_and(|p| p.contains(&id)) => {}
            Ok(false) => {
                tracing::warn!(source = id, worker = %lease.worker, "lease lost (it expired, or the source was removed meanwhile); another worker may fetch this source")
            }
            Err(e) => tracing::warn!(source = id, error = %e, "could not renew a source's lease"),
        }
    }
}

/// Fetches these `(project_id, source)` now, whatever their schedule
/// (`vigie collect --source ID`), as one cycle.
pub async fn collect_sources(
    store: &Arc<dyn Store>,
    fetcher: &Fetcher,
    ctx: &CollectContext,
    due: Vec<(i64, Source)>,
    now: DateTime<Utc>,
) -> Result<CollectReport, PipelineError> {
    if let Err(e) = run_pending_rules(store, ctx, now).await {
        tracing::warn!(error = %e, "could not run the pending rules of stored mentions; retried next cycle");
    }
    collect_tracked(store, fetcher, ctx, due, now, None).await
}

/// One cycle; each source leaves `pending` once its outcome is recorded.
async fn collect_tracked(
    store: &Arc<dyn Store>,
    fetcher: &Fetcher,
    ctx: &CollectContext,
    due: Vec<(i64, Source)>,
    now: DateTime<Utc>,
    pending: Option<&Arc<std::sync::Mutex<HashSet<i64>>>>,
) -> Result<CollectReport, PipelineError> {
    let mut report = CollectReport { sources: due.len(), ..Default::default() };
    let started = std::time::Instant::now();
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
                let outcome = match ingestor {
                    _ if ctx.stop.is_stopped() => Ok(Outcome::NotStarted),
                    Some(ingestor) => {
                        let grace = async {
                            ctx.stop.stopped().await;
                            tokio::time::sleep(STOP_GRACE).await;
                        };
                        tokio::select! {
                            outcome = collect_source(store, fetcher, ctx, &ingestor, &source, now, started) => outcome,
                            () = grace => {
                                tracing::info!(source = source.id, "stopping: fetch abandoned, the source stays due");
                                Ok(Outcome::NotStarted)
                            }
                        }
                    }
                    None => Err(PipelineError::Internal(format!("no ingestor for project {project_id}"))),
                };
                if let Some(mut pending) = pending.and_then(|p| p.lock().ok()) {
                    pending.remove(&source.id);
                }
                outcome
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
            Err(PipelineError::Store(vigie_store::StoreError::NotFound(what))) => {
                tracing::info!(%what, "a source was removed while it was being fetched: its collection is not recorded");
                Outcome::Failed
            }
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
            Outcome::NotStarted => report.not_started += 1,
        }
    }
    // Sources of one watch finishing within a second are judged for surges
    // once: the last ones now, not at the next cycle.
    for ingestor in ingestors.values() {
        if let Err(e) = ingestor.check_deferred_surges(Utc::now()).await {
            tracing::warn!(project = ingestor.project_id(), error = %e, "could not record the surge alerts of the cycle's last mentions");
        }
    }
    Ok(report)
}

/// Why a run failed, for the health record and the back-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError {
    pub message: String,
    pub retry_after_secs: Option<u64>,
    pub quota_limited: bool,
}

impl RunError {
    fn new(message: impl Into<String>) -> RunError {
        RunError { message: message.into(), retry_after_secs: None, quota_limited: false }
    }

    fn fetch(e: &FetchError, now: DateTime<Utc>) -> RunError {
        RunError {
            message: e.to_string(),
            retry_after_secs: e.retry_after().map(|r| r.delay_from(now).as_secs()),
            quota_limited: e.status() == Some(429),
        }
    }
}

/// What reading a source gave, before anything is stored.
#[derive(Debug, Default)]
pub struct Reading {
    pub items: Vec<RawMention>,
    /// 304: nothing changed since the validators were saved.
    pub not_modified: bool,
    /// Validators to save once the items are stored.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Paging state to save once the items are stored (API sources).
    pub cursor: Option<serde_json::Value>,
    pub warnings: Vec<String>,
    /// The ranking of a search-result watch.
    pub ranking: Option<Vec<SearchResult>>,
    /// Some of the instance's engines did not answer (time-out, CAPTCHA):
    /// the ranking may be missing pages.
    pub ranking_partial: bool,
    /// Set when reading stopped on an error; `items` and `cursor` are what
    /// came before it (API sources), which storing loses nothing.
    pub error: Option<RunError>,
}

impl Reading {
    fn failed(error: RunError) -> Reading {
        Reading { error: Some(error), ..Reading::default() }
    }
}

/// Fetches and parses one source, storing nothing: what `vigie collect`
/// would store, and what `vigie source test` shows. Conditional requests
/// and paging use the source's saved validators and cursor (clear them to
/// read from scratch).
pub async fn read_source(fetcher: &Fetcher, ctx: &CollectContext, source: &Source, now: DateTime<Utc>) -> Reading {
    match SourceSpec::of_source(source, &ctx.secrets) {
        Ok(SourceSpec::Feed { url }) => read_feed(fetcher, source, &url, now).await,
        Ok(SourceSpec::Social(q)) => read_social(fetcher, ctx, source, &q, now).await,
        Ok(SourceSpec::Html { url, selectors, kind }) => read_html(fetcher, source, &url, &selectors, kind, now).await,
        Ok(SourceSpec::Search { endpoint, term, language, .. }) => {
            read_search(fetcher, &endpoint, &term, language.as_deref(), now).await
        }
        Err(message) => Reading::failed(RunError::new(message)),
    }
}

/// Fetches one source, stores what it read and records the outcome. Only a
/// store error is an `Err`: a fetch or parse failure is written on the
/// source's record.
async fn collect_source(
    store: &Arc<dyn Store>,
    fetcher: &Fetcher,
    ctx: &CollectContext,
    ingestor: &Arc<Ingestor>,
    source: &Source,
    now: DateTime<Utc>,
    started: std::time::Instant,
) -> Result<Outcome, PipelineError> {
    let mut reading = read_source(fetcher, ctx, source, now).await;
    // A failure while the process stops (a request it did not send, one cut
    // short) says nothing of the source: nothing is recorded, it stays due.
    if reading.error.is_some() && ctx.stop.is_stopped() {
        return Ok(Outcome::NotStarted);
    }
    let items = std::mem::take(&mut reading.items);
    let seen = items.len() as u64;
    // Normalization dates them when collected; the source's owner is told.
    let unbelievable: Vec<String> = items
        .iter()
        .filter_map(|i| i.published_at.and_then(|p| vigie_model::implausible_published_at(p, now)))
        .collect();
    if let Some(first) = unbelievable.first() {
        reading.warnings.push(format!(
            "{} item(s) carry a date that cannot be believed (a new one is dated when collected), e.g. {first}",
            unbelievable.len()
        ));
    }
    let mut stored = 0;
    if !items.is_empty() {
        match ingestor.ingest(items, Some(source.id), now).await {
            Ok(report) => {
                if !report.rejected.is_empty() {
                    tracing::info!(source = source.id, rejected = report.rejected.len(), "items rejected");
                    let (_, why) = &report.rejected[0];
                    reading.warnings.push(format!("{} item(s) rejected, e.g. {why}", report.rejected.len()));
                }
                stored = report.inserted;
            }
            Err(e) => {
                // Not the site's fault, but nothing is stored: the validators
                // and the cursor are not saved, so the next run reads the
                // same items again.
                reading.error = Some(RunError::new(format!("could not store the items: {e}")));
                reading.cursor = None;
                reading.etag = None;
                reading.last_modified = None;
                reading.ranking = None;
            }
        }
    }
    if let (Some(ranking), None) = (&reading.ranking, &reading.error) {
        match incomplete_ranking(source, ranking, reading.ranking_partial) {
            Some(why) => reading.warnings.push(why),
            None => record_ranking(store.as_ref(), ingestor.project_id(), source, ranking, now).await?,
        }
    }
    let warning = (!reading.warnings.is_empty()).then(|| bounded_warning(&reading.warnings));
    // The next fetch counts from when this one ended (`now` is the start of
    // the cycle, `started` the same instant): a source read late in a long
    // cycle, or after a slow ingest, is not due again moments later.
    let done = now + Duration::from_std(started.elapsed()).unwrap_or_else(|_| Duration::seconds(0));
    let (record, outcome) = match reading.error {
        Some(error) => {
            let seed = (source.id as u64).wrapping_mul(31).wrapping_add(source.consecutive_failures as u64);
            let next_due_at =
                backoff_due(done, source.interval_secs, source.consecutive_failures + 1, error.retry_after_secs, seed);
            tracing::warn!(source = source.id, url = %source.url, error = %error.message, "source failed");
            let record = FetchRecord::Failure {
                at: now,
                error: error.message,
                next_due_at,
                quota_limited: error.quota_limited,
                cursor: reading.cursor,
                stored: stored as i64,
            };
            (record, Outcome::Failed)
        }
        None if reading.not_modified => (
            FetchRecord::NotModified { at: now, next_due_at: next_slot(done, source.interval_secs, source.id) },
            Outcome::NotModified,
        ),
        None => (
            FetchRecord::Success {
                at: now,
                items: seen as i64,
                stored: stored as i64,
                etag: reading.etag,
                last_modified: reading.last_modified,
                next_due_at: next_slot(done, source.interval_secs, source.id),
                cursor: reading.cursor,
                warning,
            },
            Outcome::Fetched { items: seen, stored },
        ),
    };
    store.record_fetch(source.id, record).await?;
    Ok(outcome)
}

/// The top results a search-result watch compares from run to run.
fn top_of(source: &Source) -> u32 {
    source.config.get("top").and_then(serde_json::Value::as_u64).map_or(DEFAULT_TOP, |t| t as u32)
}

/// Why a ranking must not be kept as the reference the next run compares
/// with: an empty answer, or one with fewer pages than the top because
/// engines did not answer. Compared with the last complete ranking instead,
/// a degraded answer would make every page that comes back next time
/// "enter" the top, and after an empty one a page that really entered would
/// pass for the first run's.
fn incomplete_ranking(source: &Source, ranking: &[SearchResult], partial: bool) -> Option<String> {
    let top = top_of(source) as usize;
    if ranking.is_empty() {
        Some("the search answered no results: the ranking was not compared (kept: the last complete one)".into())
    } else if partial && ranking.len() < top {
        Some(format!(
            "only {} result(s) while engines did not answer: the ranking was not compared (kept: the last \
             complete one)",
            ranking.len()
        ))
    } else {
        None
    }
}

/// Keeps the ranking of a search-result watch with what changed in its top
/// results since the last run (nothing on the first run: every page would
/// "enter").
async fn record_ranking(
    store: &dyn Store,
    project_id: i64,
    source: &Source,
    ranking: &[SearchResult],
    now: DateTime<Utc>,
) -> Result<(), PipelineError> {
    let top = top_of(source);
    let previous: Vec<RankedUrl> = match store.search_runs(source.id, 1).await?.first() {
        Some(last) => serde_json::from_value(last.results.clone()).unwrap_or_default(),
        None => Vec::new(),
    };
    let changes = if previous.is_empty() { Vec::new() } else { compare(&previous, ranking, top) };
    let results: Vec<serde_json::Value> =
        ranking.iter().map(|r| json!({"rank": r.rank, "url": r.url, "title": r.title})).collect();
    store.add_search_run(source.id, now, &json!(results), &json!(changes)).await?;
    // A page entering the top results is an alert, more severe when the
    // page is negative (the angry customer's blog post).
    let settings = AlertSettings::load(store, project_id).await?;
    if !settings.enabled(AlertRule::SearchRankEntry) {
        return Ok(());
    }
    let term = source.config.get("term").and_then(serde_json::Value::as_str).unwrap_or_default();
    let mut events = Vec::new();
    for change in &changes {
        let RankChange::Entered { url, rank } = change else { continue };
        let key = vigie_nlp::canonical_url(url)
            .map(|u| vigie_model::Mention::dedup_key_for(Some(&u), SourceKind::Web, None, ""))
            .unwrap_or_default();
        let page = store.mention_by_key(project_id, &key).await?;
        let negative =
            page.as_ref().and_then(|m| m.mention.analysis.polarity()) == Some(vigie_model::Polarity::Negative);
        let watch_id = page.as_ref().and_then(|m| m.matches.first().map(|w| w.watch_id));
        // A negative page is what makes the alert critical (its title says so).
        let severity = if negative { Severity::Critical } else { Severity::Info };
        let evidence = AlertEvidence {
            observed: f64::from(*rank),
            expected: f64::from(top),
            window_start: Some(now),
            window_end: Some(now),
            terms: vec![term.to_string()],
            urls: vec![url.clone()],
            ..AlertEvidence::default()
        };
        events.push(AlertEvent {
            rule: AlertRule::SearchRankEntry,
            severity,
            watch_id,
            dedup_key: format!("search_rank_entry:{}:{url}", source.id),
            title: vigie_model::alert_title(AlertRule::SearchRankEntry, severity, None, &evidence, Language::En),
            evidence,
            mention_ids: page.iter().map(|m| m.mention.id).collect(),
            at: now,
            grows_only: false,
        });
    }
    if !events.is_empty() {
        record_events(store, project_id, &settings, events, now).await?;
    }
    Ok(())
}

/// The warnings of a run in one bounded line for the health record.
fn bounded_warning(warnings: &[String]) -> String {
    let mut text = warnings.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
    if warnings.len() > 3 {
        text.push_str(&format!("; and {} more", warnings.len() - 3));
    }
    if text.len() > 1000 {
        let cut = (0..=1000).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn conditional(url: &str, source: &Source) -> FetchRequest {
    FetchRequest {
        url: url.to_string(),
        etag: source.etag.clone(),
        last_modified: source.last_modified.clone(),
        ..FetchRequest::default()
    }
}

async fn read_feed(fetcher: &Fetcher, source: &Source, url: &str, now: DateTime<Utc>) -> Reading {
    match fetcher.fetch(&conditional(url, source)).await {
        Ok(FetchOutcome::NotModified) => Reading { not_modified: true, ..Reading::default() },
        Ok(FetchOutcome::Fetched { body, content_type, etag, last_modified, final_url }) => {
            match parse_feed(&body, content_type.as_deref(), &final_url) {
                Ok(feed) => {
                    let mut warnings = Vec::new();
                    if let Some(first) = feed.skipped.first() {
                        warnings.push(format!("{} feed item(s) left out, e.g. {first}", feed.skipped.len()));
                    }
                    // Dates not understood, bytes not in the feed's encoding.
                    warnings.extend(feed.warnings);
                    Reading { items: feed.items, etag, last_modified, warnings, ..Reading::default() }
                }
                Err(e) => Reading::failed(RunError::new(e.to_string())),
            }
        }
        Err(e) => Reading::failed(RunError::fetch(&e, now)),
    }
}

async fn read_social(
    fetcher: &Fetcher,
    ctx: &CollectContext,
    source: &Source,
    q: &SocialQuery,
    now: DateTime<Utc>,
) -> Reading {
    let mut warnings = Vec::new();
    let cursor: Cursor = match &source.cursor {
        None => Cursor::default(),
        Some(value) => serde_json::from_value(value.clone()).unwrap_or_else(|e| {
            warnings.push(format!("the saved paging state was unreadable ({e}); started again from the newest items"));
            Cursor::default()
        }),
    };
    let outcome = social::run(fetcher, q, &cursor, &ctx.endpoints, MAX_PAGES_PER_RUN).await;
    warnings.extend(outcome.warnings);
    if let Some(first) = outcome.skipped.first() {
        warnings.push(format!("{} item(s) left out, e.g. {first}", outcome.skipped.len()));
    }
    Reading {
        items: outcome.items,
        cursor: serde_json::to_value(&outcome.cursor).ok(),
        warnings,
        error: outcome.error.map(|e| RunError {
            message: e.to_string(),
            retry_after_secs: e.retry_after().map(|r| r.delay_from(now).as_secs()),
            quota_limited: e.is_quota_limited(),
        }),
        ..Reading::default()
    }
}

async fn read_html(
    fetcher: &Fetcher,
    source: &Source,
    url: &str,
    selectors: &Selectors,
    kind: SourceKind,
    now: DateTime<Utc>,
) -> Reading {
    let compiled = match selectors.compile() {
        Ok(c) => c,
        Err(e) => return Reading::failed(RunError::new(e.to_string())),
    };
    match fetcher.fetch_page(&conditional(url, source)).await {
        Ok(FetchOutcome::NotModified) => Reading { not_modified: true, ..Reading::default() },
        Ok(FetchOutcome::Fetched { body, content_type, etag, last_modified, final_url }) => {
            let page_url = match url::Url::parse(&final_url) {
                Ok(u) => u,
                Err(e) => return Reading::failed(RunError::new(format!("bad final address {final_url:?}: {e}"))),
            };
            match extract(&body, content_type.as_deref(), &page_url, &compiled, kind, now) {
                Ok(page) => {
                    let mut warnings = page.warnings;
                    if let Some(first) = page.skipped.first() {
                        warnings.push(format!("{} item(s) left out, e.g. {first}", page.skipped.len()));
                    }
                    if page.items.is_empty() {
                        warnings.push(format!(
                            "no item matched the selector {:?}: has the page's layout changed?",
                            selectors.item
                        ));
                    }
                    Reading { items: page.items, etag, last_modified, warnings, ..Reading::default() }
                }
                Err(e) => Reading::failed(RunError::new(e.to_string())),
            }
        }
        Err(e) => Reading::failed(RunError::fetch(&e, now)),
    }
}

/// A search-result watch: the ranked results become mentions (so they get a
/// sentiment and match watches), and the ranking is kept.
async fn read_search(
    fetcher: &Fetcher,
    endpoint: &str,
    term: &str,
    language: Option<&str>,
    now: DateTime<Utc>,
) -> Reading {
    let url = match url::Url::parse(endpoint)
        .map_err(|e| e.to_string())
        .and_then(|endpoint| search_url(&endpoint, term, 1, language).map_err(|e| e.to_string()))
    {
        Ok(url) => url,
        Err(e) => return Reading::failed(RunError::new(e)),
    };
    let request = FetchRequest {
        url: url.to_string(),
        headers: vec![("Accept".into(), "application/json".into())],
        ..FetchRequest::default()
    };
    let (body, content_type) = match fetcher.fetch(&request).await {
        Ok(FetchOutcome::Fetched { body, content_type, .. }) => (body, content_type),
        Ok(FetchOutcome::NotModified) => return Reading { not_modified: true, ..Reading::default() },
        Err(e) => return Reading::failed(RunError::fetch(&e, now)),
    };
    match parse_results(&body, content_type.as_deref()) {
        Ok(page) => {
            let items = page.results.iter().map(|r| to_raw_mention(r, term)).collect();
            Reading {
                items,
                warnings: page.warnings,
                ranking_partial: !page.unresponsive_engines.is_empty(),
                ranking: Some(page.results),
                ..Reading::default()
            }
        }
        Err(e) => Reading::failed(RunError::new(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_killed_process_not_yet_reaped_is_gone() {
        assert!(!process_is_gone(std::process::id()), "this one runs");
        // A child killed and not waited for stays a zombie.
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        assert!(!process_is_gone(pid));
        child.kill().unwrap();
        let zombie = (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
        });
        assert!(zombie, "the child became a zombie");
        assert!(process_is_gone(pid), "a zombie holds nothing");
        child.wait().unwrap();
        assert!(process_is_gone(pid));
    }

    #[test]
    fn backoff_doubles_up_to_a_day_and_honours_retry_after() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
        let secs = |d: DateTime<Utc>| (d - now).num_seconds();
        // The wait, then at most a tenth more.
        let within = |d: DateTime<Utc>, wait: i64| {
            let s = secs(d);
            assert!((wait..=wait + wait / 10).contains(&s), "{s} not within {wait} + 10 %");
        };
        for seed in 0..50 {
            within(backoff_due(now, 900, 1, None, seed), 900);
            within(backoff_due(now, 900, 3, None, seed), 3600);
            within(backoff_due(now, 900, 50, None, seed), MAX_BACKOFF_SECS);
            within(backoff_due(now, 60, 1, Some(7200), seed), 7200);
            within(backoff_due(now, 60, 1, Some(u64::MAX), seed), MAX_BACKOFF_SECS);
        }
        // Sources failing together do not all come back at the same second.
        let spread: std::collections::HashSet<i64> = (0..50).map(|s| secs(backoff_due(now, 900, 3, None, s))).collect();
        assert!(spread.len() > 20, "{} distinct times", spread.len());
    }

    #[test]
    fn sources_are_spread_over_their_interval_and_keep_their_phase() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let slots: Vec<DateTime<Utc>> = (1..=1000).map(|id| next_slot(now, 900, id)).collect();
        for slot in &slots {
            let wait = (*slot - now).num_seconds();
            assert!((450..1350).contains(&wait), "at least half an interval, at most one and a half: {wait}");
        }
        // A thousand sources added together: no 30-second bucket of the
        // interval gets more than three times its share.
        let mut buckets = [0u32; 30];
        for slot in &slots {
            buckets[(((*slot - now).num_seconds() - 450) / 30) as usize] += 1;
        }
        assert!(buckets.iter().all(|&b| b > 0 && b < 100), "{buckets:?}");
        // The next slot after a slot is one interval later: the phase holds.
        for id in [1, 7, 999] {
            let first = next_slot(now, 900, id);
            assert_eq!((next_slot(first, 900, id) - first).num_seconds(), 900);
            assert_eq!(next_slot(first - Duration::seconds(600), 900, id), first);
            // A fetch just before the source's slot does not make it due
            // again a second later.
            assert_eq!(next_slot(first - Duration::seconds(1), 900, id), first + Duration::seconds(900));
        }
    }

    #[test]
    fn lease_names_tell_process_spaces_apart() {
        let lease = Lease::for_process("worker", std::time::Duration::from_secs(60));
        let local = Lease::local_prefix("worker");
        assert_eq!(lease.worker, format!("{local}{}", std::process::id()));
        // On Linux the space is the host name and a fingerprint of the boot
        // and PID namespace: two containers named alike, each its PID 1, or
        // two machines cloned with one host name, differ by it.
        if std::path::Path::new("/proc/self/ns/pid").exists() {
            let space = local.trim_start_matches("worker-").trim_end_matches('-');
            let (host, fingerprint) = space.rsplit_once('.').expect("host.fingerprint");
            assert_eq!(host, host_name());
            assert!(fingerprint.len() == 8 && fingerprint.chars().all(|c| c.is_ascii_hexdigit()), "{space}");
        }
    }
}

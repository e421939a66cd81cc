//! `vigie bench collect`: collection cycles over many feeds served on
//! loopback, as `vigie collect` runs them (fetch with the default politeness,
//! parse, normalize, match, analyze, store, write each source's record).
//!
//! The feeds are synthetic and seeded: RSS 2.0 and Atom, French and English,
//! from a few items with one-line summaries to 200 items with long HTML
//! bodies, each with an ETag, gzip-compressed when asked, 304 when the ETag
//! still matches. They are served by an in-process server (axum) on its own
//! thread, `H` listeners on 127.0.0.1 with one port each: politeness is per
//! host and port, so each listener is one site to the fetcher. The server
//! thread's CPU time is measured apart and left out of the collector's.
//!
//! Cycle 1 (cold) fetches every source; then a share of the feeds gets new
//! items and a new ETag, and cycle 2 (warm) fetches every source again: the
//! others answer 304.

use std::fmt::Write as _;
use std::io::{Read as _, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use vigie_collect::{FetchConfig, Fetcher};
use vigie_model::SourceType;
use vigie_pipeline::collect_run::CONCURRENT_FETCHES;
use vigie_pipeline::models::ProjectModels;
use vigie_pipeline::{CollectContext, CollectReport, SourceParams, SourceSpec, collect_due, collect_sources};
use vigie_store::{NewWatch, SqliteStore, Store};

use crate::bench_synth::{Rng, make_watches};
use crate::commands::bench::{machine, memory_mib};

/// The server thread's name, to tell its CPU time from the collector's.
const SERVER_THREAD: &str = "bench-feeds";
/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;
/// Watches of the project (brands the feeds' text mentions).
const WATCHES: usize = 20;
/// What `vigie source add` defaults to (15m).
const INTERVAL_SECS: i64 = 900;

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    pub sources: usize,
    pub hosts: usize,
    /// Share of the feeds that change between the cycles, in percent.
    pub changed_percent: u32,
    pub seed: u64,
}

/// One cycle's figures.
#[derive(Debug, Clone, Default)]
pub struct Cycle {
    pub report: CollectReport,
    pub wall_secs: f64,
    /// User + system CPU time of the process, the server thread's left out.
    pub cpu_secs: f64,
    pub server_cpu_secs: f64,
    /// Peak resident memory during the cycle (since the start of the process
    /// when the peak cannot be reset), MiB.
    pub peak_rss_mib: f64,
    /// Answers the server gave: 200s, 304s, and body bytes sent (compressed).
    pub served_ok: u64,
    pub served_not_modified: u64,
    pub bytes_sent: u64,
}

/// Everything measured.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub sources: usize,
    pub hosts: usize,
    pub max_feeds_per_host: usize,
    pub watches: usize,
    pub rss_feeds: usize,
    pub french_feeds: usize,
    /// Feed sizes, uncompressed, in bytes: smallest, median, largest, total.
    pub size_min: usize,
    pub size_median: usize,
    pub size_max: usize,
    pub size_total: usize,
    /// What the server holds: the gzip-compressed bodies.
    pub gzip_total: usize,
    pub items_total: u64,
    pub changed: usize,
    pub new_items: u64,
    pub rss_before_mib: f64,
    pub peak_reset: bool,
    pub db_mib: f64,
    pub cold: Cycle,
    pub warm: Cycle,
}

pub async fn run(opts: Options, report: Option<&Path>, out: &mut dyn Write) -> anyhow::Result<()> {
    let date = Utc::now().format("%Y-%m-%d").to_string();
    let machine = machine();
    let m = measure(&opts).await?;
    let section = render(&opts, &m, &machine, &date)?;
    match report {
        Some(path) => {
            crate::report::write_section(path, "collect", &section, crate::report::BENCHMARKS_HEADER)?;
            writeln!(out, "report written to {}", path.display())?;
        }
        None => out.write_all(section.as_bytes())?,
    }
    Ok(())
}

/// Sets up the feeds, the server and the store, runs the two cycles, and
/// fails if any source failed.
pub async fn measure(opts: &Options) -> anyhow::Result<Measured> {
    anyhow::ensure!(opts.sources > 0, "--sources must be at least 1");
    anyhow::ensure!(opts.hosts > 0, "--hosts must be at least 1");
    anyhow::ensure!(opts.changed_percent <= 100, "--changed is a percentage (0 to 100)");
    let n = opts.sources;
    let hosts = opts.hosts.min(n);
    let mut m = Measured { sources: n, hosts, max_feeds_per_host: n.div_ceil(hosts), ..Measured::default() };

    // The feeds, each on a host drawn by a seeded shuffle (sources are then
    // not ordered by host, as when people add them over time).
    eprintln!("generating {n} feeds on {hosts} hosts…");
    let (watch_queries, brands) = make_watches(&mut Rng(opts.seed), WATCHES);
    let base = Utc::now().timestamp() - 86_400;
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut order, &mut Rng(opts.seed ^ 0x4057));
    let mut feeds = Vec::with_capacity(n);
    for (i, &slot) in order.iter().enumerate() {
        let spec = FeedSpec::draw(i, slot % hosts, opts.seed, base);
        feeds.push(ServedFeed::render(&spec, &brands)?);
        m.items_total += spec.count as u64;
        m.rss_feeds += usize::from(spec.rss);
        m.french_feeds += usize::from(spec.french);
    }
    let mut sizes: Vec<usize> = feeds.iter().map(|f| f.raw_len).collect();
    sizes.sort_unstable();
    m.size_min = sizes.first().copied().unwrap_or(0);
    m.size_median = sizes[sizes.len() / 2];
    m.size_max = sizes.last().copied().unwrap_or(0);
    m.size_total = sizes.iter().sum();
    m.gzip_total = feeds.iter().map(|f| f.current.gzip.len()).sum();

    // The server: one listener per host, all on one thread.
    let mut listeners = Vec::with_capacity(hosts);
    for _ in 0..hosts {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
        listener.set_nonblocking(true)?;
        listeners.push(listener);
    }
    let ports: Vec<u16> = listeners.iter().map(|l| l.local_addr().map(|a| a.port())).collect::<Result<_, _>>()?;
    let state = Arc::new(Served {
        feeds: RwLock::new(feeds.iter().map(|f| (f.host, f.current.clone())).collect()),
        ok: AtomicU64::new(0),
        not_modified: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
    });
    let server = FeedServer::start(listeners, Arc::clone(&state))?;

    let result = run_cycles(opts, &mut m, &mut feeds, &ports, &watch_queries, &brands, &state).await;
    server.stop();
    result?;
    Ok(m)
}

async fn run_cycles(
    opts: &Options,
    m: &mut Measured,
    feeds: &mut [ServedFeed],
    ports: &[u16],
    watch_queries: &[String],
    brands: &[String],
    state: &Arc<Served>,
) -> anyhow::Result<()> {
    // A real store with one project, its watches, and the sources added as
    // `vigie source add rss URL` adds them.
    let work = tempfile::tempdir()?;
    let db = work.path().join("vigie.db");
    let sqlite = SqliteStore::open(&db).await?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let project = store.ensure_project("bench", Utc::now()).await?;
    for (i, q) in watch_queries.iter().enumerate() {
        if vigie_query::parse(q).is_ok() {
            let new = NewWatch { name: format!("w{i:02}"), query: q.clone(), competitor: false, langs: vec![] };
            store.add_watch(project.id, new, Utc::now()).await?;
            m.watches += 1;
        }
    }
    let now = Utc::now();
    for (i, feed) in feeds.iter().enumerate() {
        let url = format!("http://127.0.0.1:{}/feed/{i}", ports[feed.host]);
        let params = SourceParams { url: Some(url), ..SourceParams::default() };
        let spec = SourceSpec::from_params(SourceType::Rss, &params).map_err(anyhow::Error::msg)?;
        store.add_source(project.id, spec.new_source(INTERVAL_SECS, now), now).await?;
    }

    // What `vigie collect` runs: the default fetcher, private networks let
    // through (VIGIE_ALLOW_PRIVATE_NETWORK=true), the shipped models.
    let fetcher = Fetcher::new(FetchConfig { allow_private_networks: true, ..FetchConfig::default() })?;
    let ctx = CollectContext { models: ProjectModels::shipped(), ..CollectContext::default() };
    let lease = vigie_pipeline::Lease::for_process("bench", std::time::Duration::from_secs(600));
    m.rss_before_mib = memory_mib().0;

    eprintln!("cycle 1 (cold)…");
    let limit = i64::try_from(m.sources)?;
    let (cold, peak_reset) =
        timed_cycle(state, async { Ok(collect_due(&store, &fetcher, &ctx, Utc::now(), limit, &lease).await?) }).await?;
    m.cold = cold;
    m.peak_reset = peak_reset;
    check_failures(&store, project.id, &m.cold.report, "cycle 1").await?;
    anyhow::ensure!(m.cold.report.sources == m.sources, "{} sources due, not {}", m.cold.report.sources, m.sources);

    // A share of the feeds publishes new items (new ETag); the rest answer 304.
    let mut picks: Vec<usize> = (0..feeds.len()).collect();
    shuffle(&mut picks, &mut Rng(opts.seed ^ 0xC4A6));
    m.changed = (feeds.len() * opts.changed_percent as usize + 50) / 100;
    let mut r = Rng(opts.seed ^ 0x9E3);
    for &i in &picks[..m.changed] {
        let added = 1 + r.below(5);
        feeds[i].spec.newest += added;
        feeds[i].spec.version += 1;
        let updated = ServedFeed::render(&feeds[i].spec, brands)?;
        feeds[i] = updated;
        m.new_items += added as u64;
        let mut served = state.feeds.write().unwrap_or_else(PoisonError::into_inner);
        served[i].1 = feeds[i].current.clone();
    }

    // Every source again, whatever its schedule (as `vigie collect --source`).
    eprintln!("cycle 2 (warm, {} feeds changed)…", m.changed);
    let all: Vec<(i64, vigie_model::Source)> =
        store.list_sources(project.id).await?.into_iter().map(|s| (project.id, s)).collect();
    let (warm, _) =
        timed_cycle(state, async { Ok(collect_sources(&store, &fetcher, &ctx, all, Utc::now()).await?) }).await?;
    m.warm = warm;
    check_failures(&store, project.id, &m.warm.report, "cycle 2").await?;
    for (what, c) in [("cycle 1", &m.cold), ("cycle 2", &m.warm)] {
        let (r, ok, nm) = (&c.report, c.served_ok, c.served_not_modified);
        anyhow::ensure!(
            ok == r.fetched as u64 && nm == r.not_modified as u64,
            "{what}: the server answered {ok} 200s and {nm} 304s, the collector counted {} and {}",
            r.fetched,
            r.not_modified
        );
    }

    sqlite.close().await;
    drop(store);
    m.db_mib = std::fs::metadata(&db).map_or(0.0, |md| md.len() as f64 / (1024.0 * 1024.0));
    Ok(())
}

/// Runs one cycle and measures it; the bool says whether the peak resident
/// memory could be reset first (it is the process's peak so far otherwise).
async fn timed_cycle(
    state: &Served,
    cycle: impl Future<Output = anyhow::Result<CollectReport>>,
) -> anyhow::Result<(Cycle, bool)> {
    let reset = reset_peak_rss();
    let counters = |s: &Served| {
        (s.ok.load(Ordering::Relaxed), s.not_modified.load(Ordering::Relaxed), s.bytes.load(Ordering::Relaxed))
    };
    let (ok0, nm0, bytes0) = counters(state);
    let cpu0 = process_cpu_secs();
    let server0 = thread_cpu_secs(SERVER_THREAD);
    let started = Instant::now();
    let report = cycle.await?;
    let wall_secs = started.elapsed().as_secs_f64();
    let server_cpu_secs = thread_cpu_secs(SERVER_THREAD) - server0;
    let cpu_secs = process_cpu_secs() - cpu0 - server_cpu_secs;
    let (ok1, nm1, bytes1) = counters(state);
    let cycle = Cycle {
        report,
        wall_secs,
        cpu_secs,
        server_cpu_secs,
        peak_rss_mib: memory_mib().1,
        served_ok: ok1 - ok0,
        served_not_modified: nm1 - nm0,
        bytes_sent: bytes1 - bytes0,
    };
    Ok((cycle, reset))
}

/// A benchmark with failed sources measures the wrong thing: it stops, with
/// the first reasons.
async fn check_failures(store: &Arc<dyn Store>, project_id: i64, r: &CollectReport, what: &str) -> anyhow::Result<()> {
    if r.failed == 0 {
        return Ok(());
    }
    let reasons: Vec<String> = store
        .list_sources(project_id)
        .await?
        .into_iter()
        .filter_map(|s| s.last_error.map(|e| format!("{}: {e}", s.url)))
        .take(3)
        .collect();
    anyhow::bail!("{what}: {} of {} sources failed, e.g. {}", r.failed, r.sources, reasons.join("; "))
}

fn render(opts: &Options, m: &Measured, machine: &str, date: &str) -> anyhow::Result<String> {
    let kib = |b: usize| b as f64 / 1024.0;
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    let mut s = String::new();
    writeln!(s, "## Collection (`vigie bench collect`)\n")?;
    writeln!(
        s,
        "`cargo run --release -- bench collect --sources {} --hosts {} --changed {} --report docs/BENCHMARKS.md` \
         on {machine}, {date}.\n",
        opts.sources, opts.hosts, opts.changed_percent
    )?;
    writeln!(
        s,
        "{} feed sources, added as `vigie source add rss` adds them to one project with {} watches, in a fresh \
         SQLite database, collected as `vigie collect` collects them: the default fetcher (at most 2 requests at \
         once per host, request starts 1 s apart per host, {} sources at once per cycle), conditional GET with the \
         stored ETag, then parsing, normalization, language, watches, sentiment, themes, near-duplicates, storage \
         and each source's health record. The feeds are synthetic and seeded: {} RSS 2.0 and {} Atom, {} French \
         and {} English, from 5 items with one-line summaries to 200 items with long HTML bodies ({:.1} KiB \
         smallest, {:.0} KiB median, {:.0} KiB largest; {:.0} MiB and {} items in all, {:.0} MiB gzip-compressed \
         as served). They are served on loopback by an in-process server on its own thread, from {} ports of \
         127.0.0.1: politeness counts a host and its port as one site, so each port stands for one site with \
         {} feeds, which puts a floor of {} s under a cycle (its feeds' request starts 1 s apart).\n",
        m.sources,
        m.watches,
        CONCURRENT_FETCHES,
        m.rss_feeds,
        m.sources - m.rss_feeds,
        m.french_feeds,
        m.sources - m.french_feeds,
        kib(m.size_min),
        kib(m.size_median),
        kib(m.size_max),
        mib(m.size_total),
        m.items_total,
        mib(m.gzip_total),
        m.hosts,
        m.max_feeds_per_host,
        m.max_feeds_per_host.saturating_sub(1),
    )?;
    writeln!(
        s,
        "Cycle 1 fetches every feed for the first time. Then {} feeds ({}%) publish 1 to 5 new items ({} in all) \
         under a new ETag, and cycle 2 fetches every source again: the others answer 304 Not Modified.\n",
        m.changed, opts.changed_percent, m.new_items
    )?;
    writeln!(
        s,
        "| cycle | sources | fetched (200) | 304 | failed | items read | mentions stored | received (gzip) | \
         wall time | rate | CPU, user + system | peak resident memory |"
    )?;
    writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|")?;
    for (name, c) in [("1, cold", &m.cold), ("2, warm", &m.warm)] {
        let r = &c.report;
        writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} | {} | {:.1} MiB | {:.1} s | **{:.0} sources/s** | {:.1} s | {:.0} MiB |",
            r.sources,
            r.fetched,
            r.not_modified,
            r.failed,
            r.items,
            r.stored,
            c.bytes_sent as f64 / (1024.0 * 1024.0),
            c.wall_secs,
            r.sources as f64 / c.wall_secs.max(1e-9),
            c.cpu_secs,
            c.peak_rss_mib,
        )?;
    }
    writeln!(s)?;
    writeln!(
        s,
        "Cycle 2 reads every item of the changed feeds again ({}) and stores the {} new ones: every item read is \
         normalized and its dedup key looked up, and only the new ones are analysed (language, watches, \
         sentiment, themes, signature); before that lookup existed, cycle 2 took 5.9 s of CPU. A source waiting for its site's turn (1 s between \
         request starts) holds one of the cycle's {} slots meanwhile, so wall time exceeds CPU time over the cores \
         when sources of one site come close together in the cycle's order.\n",
        m.warm.report.items, m.warm.report.stored, CONCURRENT_FETCHES
    )?;
    writeln!(
        s,
        "CPU is the process's user and system time over the cycle (/proc/self/stat), less the feed server \
         thread's ({:.1} s in cycle 1, {:.2} s in cycle 2); the collector's work runs on every core (fetches \
         concurrent, analysis on rayon's threads), so CPU time can exceed wall time. Resident memory was {:.0} MiB \
         before cycle 1, the server's {:.0} MiB of compressed feeds included; {} Database after both cycles: \
         {:.0} MiB.\n",
        m.cold.server_cpu_secs,
        m.warm.server_cpu_secs,
        m.rss_before_mib,
        mib(m.gzip_total),
        if m.peak_reset {
            "the peak is reset before each cycle (/proc/self/clear_refs), so each cycle's peak is its own."
        } else {
            "the peak could not be reset between cycles: it is the process's peak so far."
        },
        m.db_mib,
    )?;
    Ok(s)
}

// --- the feeds -------------------------------------------------------------

const FRENCH: &[&str] = &[
    "le",
    "la",
    "les",
    "un",
    "une",
    "des",
    "de",
    "du",
    "et",
    "est",
    "sont",
    "a",
    "ont",
    "pour",
    "dans",
    "sur",
    "avec",
    "par",
    "que",
    "qui",
    "ne",
    "pas",
    "plus",
    "très",
    "aussi",
    "mais",
    "nous",
    "vous",
    "ils",
    "elle",
    "son",
    "leur",
    "cette",
    "au",
    "aux",
    "clients",
    "service",
    "prix",
    "magasin",
    "livraison",
    "commande",
    "retard",
    "train",
    "gare",
    "banque",
    "compte",
    "application",
    "site",
    "offre",
    "nouvelle",
    "annonce",
    "hausse",
    "baisse",
    "grève",
    "semaine",
    "année",
    "ville",
    "marché",
    "entreprise",
    "direction",
    "salariés",
    "réseau",
    "panne",
    "remboursement",
    "qualité",
    "selon",
    "après",
    "depuis",
    "encore",
    "toujours",
    "déjà",
];

const ENGLISH: &[&str] = &[
    "the",
    "a",
    "an",
    "and",
    "of",
    "to",
    "in",
    "on",
    "for",
    "with",
    "by",
    "is",
    "are",
    "was",
    "has",
    "have",
    "it",
    "this",
    "that",
    "they",
    "their",
    "not",
    "but",
    "more",
    "very",
    "also",
    "after",
    "before",
    "since",
    "still",
    "customers",
    "service",
    "price",
    "store",
    "delivery",
    "order",
    "delay",
    "train",
    "station",
    "bank",
    "account",
    "app",
    "website",
    "offer",
    "new",
    "announced",
    "rise",
    "fall",
    "strike",
    "week",
    "year",
    "city",
    "market",
    "company",
    "management",
    "staff",
    "network",
    "outage",
    "refund",
    "quality",
    "according",
    "again",
    "today",
];

const AUTHORS: &[&str] = &["Marie Dupont", "J. Martin", "Alex Brown", "Sophie Laurent", "K. Nguyen", "Pierre Morel"];

/// How big a feed is: items, and paragraphs and sentences per item body.
#[derive(Debug, Clone, Copy)]
struct Shape {
    items: (usize, usize),
    paragraphs: (usize, usize),
    sentences: (usize, usize),
    /// Full HTML content beside a one-sentence summary (RSS content:encoded,
    /// Atom content) rather than the summary alone.
    full_content: bool,
}

const SMALL: Shape = Shape { items: (5, 20), paragraphs: (1, 1), sentences: (1, 2), full_content: false };
const MEDIUM: Shape = Shape { items: (20, 50), paragraphs: (1, 3), sentences: (2, 3), full_content: false };
const LARGE: Shape = Shape { items: (50, 100), paragraphs: (3, 6), sentences: (2, 4), full_content: true };
const HUGE: Shape = Shape { items: (200, 200), paragraphs: (4, 7), sentences: (3, 4), full_content: true };

/// One feed: what it looks like and which items it holds now.
#[derive(Debug, Clone)]
struct FeedSpec {
    id: usize,
    host: usize,
    seed: u64,
    rss: bool,
    french: bool,
    shape: Shape,
    site: String,
    /// Items `newest - count + 1 ..= newest` are in the feed, newest first.
    count: usize,
    newest: usize,
    /// Seconds between two items; item `j` is dated `base + j * spacing`.
    spacing: i64,
    base: i64,
    version: u64,
}

impl FeedSpec {
    fn draw(id: usize, host: usize, seed: u64, now_base: i64) -> FeedSpec {
        let mut r = Rng(seed ^ (id as u64).wrapping_mul(0xA24B_AED4_963E_E407));
        let shape = match r.below(100) {
            0..40 => SMALL,
            40..80 => MEDIUM,
            80..95 => LARGE,
            _ => HUGE,
        };
        let count = between(&mut r, shape.items);
        let spacing = 600 + r.below(6 * 3600) as i64;
        FeedSpec {
            id,
            host,
            seed,
            rss: r.chance(60),
            french: r.chance(55),
            shape,
            site: format!("{}{id}.example", ["news", "blog", "mag", "forum", "journal"][r.below(5)]),
            count,
            newest: count,
            spacing,
            // The newest item of the first version is a day old; later ones
            // (at most 5, at most 6 h apart) are still in the past.
            base: now_base - count as i64 * spacing,
            version: 0,
        }
    }

    fn etag(&self) -> String {
        let mut r = Rng(self.seed ^ ((self.id as u64) << 20) ^ self.version);
        format!("\"{:016x}\"", r.next())
    }
}

fn between(r: &mut Rng, (lo, hi): (usize, usize)) -> usize {
    lo + r.below(hi - lo + 1)
}

fn shuffle(xs: &mut [usize], r: &mut Rng) {
    for i in (1..xs.len()).rev() {
        let j = r.below(i + 1);
        xs.swap(i, j);
    }
}

/// One item's text, drawn from the feed's seed and the item's number only,
/// so an item reads the same in every version of its feed.
struct Item {
    number: usize,
    title: String,
    link: String,
    author: &'static str,
    date: DateTime<Utc>,
    summary: String,
    /// HTML.
    body: String,
}

fn sentence(r: &mut Rng, words: &[&str], brands: &[String], len: (usize, usize)) -> String {
    let n = between(r, len);
    let mut out = String::new();
    for k in 0..n {
        if k > 0 {
            out.push(' ');
        }
        if r.chance(5) {
            let b = &brands[r.below(brands.len())];
            if r.chance(50) {
                out.push_str(&capitalized(b));
            } else {
                out.push_str(b);
            }
        } else {
            let w = words[r.below(words.len())];
            if k == 0 { out.push_str(&capitalized(w)) } else { out.push_str(w) }
        }
    }
    out.push('.');
    out
}

fn capitalized(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl Item {
    fn draw(spec: &FeedSpec, number: usize, brands: &[String]) -> Item {
        let mut r =
            Rng(spec.seed ^ (spec.id as u64).wrapping_mul(0x9E37_79B9) ^ (number as u64).wrapping_mul(0xC2B2_AE3D));
        let words = if spec.french { FRENCH } else { ENGLISH };
        let title = sentence(&mut r, words, brands, (6, 12)).trim_end_matches('.').to_string();
        let link = format!("https://{}/{}/article-{number}", spec.site, 2026);
        let summary = sentence(&mut r, words, brands, (12, 24));
        let mut body = String::new();
        for p in 0..between(&mut r, spec.shape.paragraphs) {
            body.push_str("<p>");
            for k in 0..between(&mut r, spec.shape.sentences) {
                if k > 0 {
                    body.push(' ');
                }
                let text = sentence(&mut r, words, brands, (10, 22));
                match r.below(10) {
                    0 => {
                        let _ = write!(body, "<strong>{text}</strong>");
                    }
                    1 => {
                        let _ = write!(body, "<a href=\"https://{}/related/{number}-{p}-{k}\">{text}</a>", spec.site);
                    }
                    2 => {
                        let _ = write!(body, "<em>{text}</em>");
                    }
                    _ => body.push_str(&text),
                }
            }
            body.push_str("</p>\n");
            if spec.shape.full_content && r.chance(15) {
                let _ = writeln!(
                    body,
                    "<figure><img src=\"https://{}/img/{number}-{p}.jpg\" alt=\"\" width=\"800\" height=\"450\">\
                     <figcaption>{}</figcaption></figure>",
                    spec.site,
                    sentence(&mut r, words, brands, (4, 8))
                );
            }
        }
        if !spec.shape.full_content {
            body = format!("<p>{summary}</p>{body}");
        }
        let date = DateTime::from_timestamp(spec.base + number as i64 * spec.spacing, 0).unwrap_or_default();
        Item { number, title, link, author: AUTHORS[r.below(AUTHORS.len())], date, summary, body }
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn render_feed(spec: &FeedSpec, brands: &[String]) -> String {
    let items: Vec<Item> =
        (spec.newest + 1 - spec.count..=spec.newest).rev().map(|j| Item::draw(spec, j, brands)).collect();
    let updated = items.first().map_or_else(Utc::now, |i| i.date);
    let (lang, title) = if spec.french {
        ("fr-FR", format!("Actualités de {}", spec.site))
    } else {
        ("en-GB", format!("{} news", spec.site))
    };
    let mut x = String::with_capacity(spec.count * 1024);
    if spec.rss {
        let _ = write!(
            x,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" \
             xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" \
             xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n<channel>\n<title>{title}</title>\n\
             <link>https://{site}/</link>\n<description>{title}</description>\n<language>{lang}</language>\n\
             <lastBuildDate>{}</lastBuildDate>\n",
            updated.to_rfc2822(),
            site = spec.site
        );
        for it in &items {
            let _ = write!(
                x,
                "<item>\n<title>{}</title>\n<link>{}</link>\n<guid isPermaLink=\"true\">{}</guid>\n\
                 <pubDate>{}</pubDate>\n<dc:creator>{}</dc:creator>\n",
                xml_escape(&it.title),
                it.link,
                it.link,
                it.date.to_rfc2822(),
                it.author
            );
            if spec.shape.full_content {
                let _ = write!(
                    x,
                    "<description>{}</description>\n<content:encoded><![CDATA[{}]]></content:encoded>\n",
                    xml_escape(&it.summary),
                    it.body
                );
            } else {
                let _ = writeln!(x, "<description><![CDATA[{}]]></description>", it.body);
            }
            x.push_str("</item>\n");
        }
        x.push_str("</channel>\n</rss>\n");
    } else {
        let _ = write!(
            x,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" \
             xml:lang=\"{lang}\">\n<title>{title}</title>\n<id>https://{site}/</id>\n\
             <link rel=\"alternate\" href=\"https://{site}/\"/>\n<updated>{}</updated>\n",
            updated.to_rfc3339(),
            site = spec.site
        );
        for it in &items {
            let _ = write!(
                x,
                "<entry>\n<title>{}</title>\n<link rel=\"alternate\" href=\"{}\"/>\n\
                 <id>tag:{},2026:post-{}</id>\n<published>{}</published>\n<updated>{}</updated>\n\
                 <author><name>{}</name></author>\n",
                xml_escape(&it.title),
                it.link,
                spec.site,
                it.number,
                it.date.to_rfc3339(),
                it.date.to_rfc3339(),
                it.author
            );
            if spec.shape.full_content {
                let _ = write!(
                    x,
                    "<summary>{}</summary>\n<content type=\"html\">{}</content>\n",
                    xml_escape(&it.summary),
                    xml_escape(&it.body)
                );
            } else {
                let _ = writeln!(x, "<summary type=\"html\">{}</summary>", xml_escape(&it.body));
            }
            x.push_str("</entry>\n");
        }
        x.push_str("</feed>\n");
    }
    x
}

/// One feed as the server holds it.
#[derive(Debug, Clone)]
struct Doc {
    etag: HeaderValue,
    content_type: &'static str,
    gzip: Bytes,
}

/// A feed, its current rendering and its size.
struct ServedFeed {
    spec: FeedSpec,
    host: usize,
    raw_len: usize,
    current: Doc,
}

impl ServedFeed {
    fn render(spec: &FeedSpec, brands: &[String]) -> anyhow::Result<ServedFeed> {
        let xml = render_feed(spec, brands);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(xml.as_bytes())?;
        let gzip = Bytes::from(gz.finish()?);
        let content_type =
            if spec.rss { "application/rss+xml; charset=utf-8" } else { "application/atom+xml; charset=utf-8" };
        let current = Doc { etag: HeaderValue::from_str(&spec.etag())?, content_type, gzip };
        Ok(ServedFeed { spec: spec.clone(), host: spec.host, raw_len: xml.len(), current })
    }
}

// --- the server ------------------------------------------------------------

/// What the server serves (feed number → its host and document) and what it
/// answered.
struct Served {
    feeds: RwLock<Vec<(usize, Doc)>>,
    ok: AtomicU64,
    not_modified: AtomicU64,
    bytes: AtomicU64,
}

struct FeedServer {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl FeedServer {
    /// Serves `listeners` (listener `h` is host `h`) on a thread of its own.
    fn start(listeners: Vec<std::net::TcpListener>, state: Arc<Served>) -> anyhow::Result<FeedServer> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let thread = std::thread::Builder::new().name(SERVER_THREAD.into()).spawn(move || {
            runtime.block_on(async move {
                for (host, listener) in listeners.into_iter().enumerate() {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!(error = %e, "bench feed server: cannot listen");
                            continue;
                        }
                    };
                    let app = Router::new()
                        .route("/feed/{id}", get(serve_feed))
                        .with_state(Listener { host, served: Arc::clone(&state) });
                    tokio::spawn(async move {
                        if let Err(e) = axum::serve(listener, app).await {
                            tracing::error!(error = %e, "bench feed server stopped");
                        }
                    });
                }
                let _ = stopped.await;
            });
        })?;
        Ok(FeedServer { stop, thread })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            tracing::error!("the bench feed server thread panicked");
        }
    }
}

#[derive(Clone)]
struct Listener {
    host: usize,
    served: Arc<Served>,
}

async fn serve_feed(State(l): State<Listener>, UrlPath(id): UrlPath<usize>, headers: HeaderMap) -> Response {
    let doc = {
        let feeds = l.served.feeds.read().unwrap_or_else(PoisonError::into_inner);
        match feeds.get(id) {
            Some((host, doc)) if *host == l.host => doc.clone(),
            _ => return StatusCode::NOT_FOUND.into_response(),
        }
    };
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == doc.etag.to_str().unwrap_or_default() || tag.trim() == "*");
    if matches {
        l.served.not_modified.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, doc.etag)]).into_response();
    }
    let gzip_ok = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    l.served.ok.fetch_add(1, Ordering::Relaxed);
    let validators = [(header::CONTENT_TYPE, HeaderValue::from_static(doc.content_type)), (header::ETAG, doc.etag)];
    if gzip_ok {
        l.served.bytes.fetch_add(doc.gzip.len() as u64, Ordering::Relaxed);
        let encoding = (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return (StatusCode::OK, validators, [encoding], doc.gzip).into_response();
    }
    let mut plain = Vec::new();
    if flate2::read::GzDecoder::new(&doc.gzip[..]).read_to_end(&mut plain).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    l.served.bytes.fetch_add(plain.len() as u64, Ordering::Relaxed);
    (StatusCode::OK, validators, plain).into_response()
}

// --- CPU and memory --------------------------------------------------------

/// User + system CPU seconds from a /proc `stat` line (fields 14 and 15).
fn stat_cpu_secs(stat: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SEC)
}

pub(super) fn process_cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat").ok().as_deref().and_then(stat_cpu_secs).unwrap_or(0.0)
}

/// CPU seconds of this process's threads called `name`.
fn thread_cpu_secs(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name))
        .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok().as_deref().and_then(stat_cpu_secs))
        .sum()
}

/// Resets the peak resident memory (VmHWM) to the current one (Linux ≥ 4.0).
pub(super) fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn cpu_times_are_read_past_a_command_name_with_spaces() {
        let line = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1 0 0";
        assert_eq!(stat_cpu_secs(line), Some(3.0));
    }

    #[test]
    fn feeds_are_seeded_and_span_the_sizes() {
        let (_, brands) = make_watches(&mut Rng(1), WATCHES);
        let a = render_feed(&FeedSpec::draw(3, 0, 1, 1_800_000_000), &brands);
        let b = render_feed(&FeedSpec::draw(3, 0, 1, 1_800_000_000), &brands);
        assert_eq!(a, b);
        let sizes: Vec<usize> =
            (0..200).map(|i| render_feed(&FeedSpec::draw(i, 0, 1, 1_800_000_000), &brands).len()).collect();
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(*min < 6 * 1024 && *max > 300 * 1024, "{min} .. {max}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_cycles_fetch_everything_then_mostly_304s() {
        let opts = Options { sources: 20, hosts: 10, changed_percent: 30, seed: 7 };
        let m = measure(&opts).await.unwrap();
        let (cold, warm) = (&m.cold.report, &m.warm.report);
        assert_eq!((cold.sources, cold.fetched, cold.not_modified, cold.failed), (20, 20, 0, 0), "{cold:?}");
        assert_eq!(cold.items, m.items_total);
        assert_eq!(cold.stored, m.items_total, "every item is a new mention");
        assert_eq!(m.changed, 6);
        assert_eq!((warm.sources, warm.fetched, warm.not_modified, warm.failed), (20, 6, 14, 0), "{warm:?}");
        assert!(m.new_items >= 6 && warm.stored == m.new_items, "{warm:?}, {} new items", m.new_items);
        // The server saw the same: conditional requests answered 304.
        assert_eq!((m.cold.served_ok, m.cold.served_not_modified), (20, 0));
        assert_eq!((m.warm.served_ok, m.warm.served_not_modified), (6, 14));
        assert!(m.cold.bytes_sent > m.warm.bytes_sent && m.watches > 0);
    }
}

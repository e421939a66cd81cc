//! `vigie bench`: speed and memory, measured on a synthetic corpus anyone can
//! regenerate, written as Markdown (docs/BENCHMARKS.md).
//!
//! Nothing here asserts a number: benchmarks report, tests check behaviour.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use vigie_pipeline::models::ProjectModels;
use vigie_pipeline::stories::Stories;
use vigie_pipeline::{ImportFormat, ImportSummary, Ingestor, run_import};
use vigie_query::{Document, WatchSet};
use vigie_store::{MentionFilter, NewWatch, SqliteStore, Store};

use crate::bench_synth::{Rng, make_doc, make_mention_json, make_watches, vocabulary};
use crate::cli::{BenchCommand, BenchRunArgs};

const SEED: u64 = 0x5EED_2026;
/// Publication times end here (2026-11-01T00:00:00Z) so corpora are identical run to run.
const CORPUS_END_EPOCH: i64 = 1_793_491_200;

pub async fn run(command: BenchCommand, models_dir: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        BenchCommand::Corpus { count, watches, out: path } => {
            let brands = write_corpus(&path, count, watches)?;
            writeln!(out, "{count} mentions written to {} ({} brands)", path.display(), brands)?;
            Ok(())
        }
        BenchCommand::Run(args) => run_all(args, out).await,
        BenchCommand::Analyze { count, python, report } => {
            super::bench_analyze::run(count, python.as_deref(), models_dir, report.as_deref(), out)
        }
        BenchCommand::Alerts { rate, seconds, alerts_per_second, report } => {
            let opts = super::bench_alerts::Options { rate, seconds, alerts_per_second };
            super::bench_alerts::run(opts, report.as_deref(), out).await
        }
        BenchCommand::Collect { sources, hosts, changed, seed, report } => {
            let opts = super::bench_collect::Options { sources, hosts, changed_percent: changed, seed };
            super::bench_collect::run(opts, report.as_deref(), out).await
        }
        BenchCommand::Web(args) => super::bench_web::run(args, out).await,
        BenchCommand::Postgres(args) => super::bench_pg::run(args, out).await,
    }
}

/// Writes `count` mentions; returns the number of brand names used.
pub(super) fn write_corpus(path: &Path, count: u64, n_watches: usize) -> anyhow::Result<usize> {
    let mut r = Rng(SEED);
    let (_, brands) = make_watches(&mut r, n_watches);
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut r = Rng(SEED ^ 0xC0FFEE);
    for i in 0..count {
        writeln!(w, "{}", make_mention_json(&mut r, &brands, i, CORPUS_END_EPOCH))?;
    }
    w.flush()?;
    Ok(brands.len())
}

/// Resident and peak resident memory of this process, in MiB (Linux).
pub fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

pub(super) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

pub(super) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Other work on the machine slows a run down: say how busy it was.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    format!("{cpu}, {cores} cores, load average {load} at the start")
}

async fn run_all(args: BenchRunArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let work = match &args.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            tempfile::tempdir_in(dir)?
        }
        None => tempfile::tempdir()?,
    };
    let mut report = String::new();
    writeln!(report, "## Storage, search and matching\n")?;
    writeln!(
        report,
        "Measured by `vigie bench run --mentions {} --watches {}` (release build) on {} — {}.\n\
         Rerun it to refresh this file: `cargo run --release -- bench run --report docs/BENCHMARKS.md`. \
         The corpus is synthetic and seeded (`vigie bench corpus` writes it): tweet-length French and English \
         text with real and made-up brand names as words, @handles and #hashtags; the watches use every \
         construct of the query language (OR lists, phrases, prefixes, NEAR, NOT, fields).\n",
        args.mentions,
        args.watches,
        machine(),
        Utc::now().format("%Y-%m-%d")
    )?;

    // 1. Import into a fresh SQLite database, with the watches defined.
    eprintln!("generating {} mentions…", args.mentions);
    let corpus = work.path().join("corpus.jsonl");
    write_corpus(&corpus, args.mentions, args.watches)?;
    let corpus_mib = std::fs::metadata(&corpus)?.len() as f64 / (1024.0 * 1024.0);
    // Named as `vigie` commands expect it, so they can run on it afterwards.
    let db = work.path().join("vigie.db");
    let sqlite = SqliteStore::open(&db).await?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let project = store.ensure_project("bench", Utc::now()).await?;
    let mut r = Rng(SEED);
    let (watch_queries, _) = make_watches(&mut r, args.watches);
    for (i, q) in watch_queries.iter().enumerate() {
        if vigie_query::parse(q).is_ok() {
            let new = NewWatch { name: format!("w{i:04}"), query: q.clone(), competitor: false, langs: vec![] };
            store.add_watch(project.id, new, Utc::now()).await?;
        }
    }
    eprintln!("importing…");
    let n_watches = store.list_watches(project.id).await?.len();
    let (rss_before, _) = memory_mib();
    let mut samples: Vec<(u64, f64)> = Vec::new();
    let mut next_sample = args.mentions / 10;
    let (summary, import_secs) = timed_import(&store, project.id, &corpus, |s| {
        if s.lines >= next_sample {
            samples.push((s.lines, memory_mib().0));
            next_sample += args.mentions / 10;
        }
    })
    .await?;
    let (_, peak) = memory_mib();
    let db_mib = std::fs::metadata(&db)?.len() as f64 / (1024.0 * 1024.0);
    writeln!(report, "### Import (`vigie import`, SQLite)\n")?;
    writeln!(report, "| mentions | watches | time | rate | database size |")?;
    writeln!(report, "|---|---|---|---|---|")?;
    writeln!(
        report,
        "| {} ({corpus_mib:.0} MiB JSONL) | {n_watches} | {import_secs:.1} s | **{:.0} mentions/s** | {db_mib:.0} MiB |\n",
        summary.inserted,
        summary.inserted as f64 / import_secs
    )?;
    writeln!(
        report,
        "Every mention is normalized, language-detected, matched against every watch, indexed in FTS5 and \
         stored; batches of 10,000 per transaction, CPU work on all cores overlapping the writes.\n"
    )?;
    writeln!(
        report,
        "Resident memory while importing: it rises while SQLite's page caches fill (64 MiB per connection, at most 4 connections, plus two batches of 10,000 mentions in flight), then stays flat whatever the file size:\n"
    )?;
    writeln!(report, "| records read | resident memory |")?;
    writeln!(report, "|---|---|")?;
    writeln!(report, "| 0 | {rss_before:.0} MiB |")?;
    for (lines, rss) in &samples {
        writeln!(report, "| {lines} | {rss:.0} MiB |")?;
    }
    writeln!(report, "\nPeak resident memory of the whole run so far: {peak:.0} MiB.\n")?;

    // The same import with no watch defined: the cost of storage alone.
    eprintln!("importing again without watches…");
    let bare_dir = work.path().join("bare");
    std::fs::create_dir_all(&bare_dir)?;
    let bare = SqliteStore::open(&bare_dir.join("vigie.db")).await?;
    let bare_store: Arc<dyn Store> = Arc::new(bare);
    let bare_project = bare_store.ensure_project("bench", Utc::now()).await?;
    let (bare_summary, bare_secs) = timed_import(&bare_store, bare_project.id, &corpus, |_| {}).await?;
    bare_store.close().await;
    std::fs::remove_dir_all(&bare_dir)?;
    writeln!(
        report,
        "The same file imported into a fresh database with no watch defined (storage, language and index only):\n"
    )?;
    writeln!(report, "| mentions | watches | time | rate |")?;
    writeln!(report, "|---|---|---|---|")?;
    writeln!(
        report,
        "| {} | 0 | {bare_secs:.1} s | **{:.0} mentions/s** |\n",
        bare_summary.inserted,
        bare_summary.inserted as f64 / bare_secs
    )?;

    // 2. Search over the imported mentions.
    eprintln!("searching…");
    let queries = search_queries(args.searches);
    let filter = MentionFilter::default();
    for q in queries.iter().take(10) {
        let parsed = vigie_query::parse(q)?;
        vigie_pipeline::search(&store, project.id, &parsed, &filter, 20).await?;
    }
    let mut times = Vec::with_capacity(queries.len());
    let mut hits = 0usize;
    for q in &queries {
        let parsed = vigie_query::parse(q)?;
        let t = Instant::now();
        hits += vigie_pipeline::search(&store, project.id, &parsed, &filter, 20).await?.len();
        times.push(t.elapsed());
    }
    times.sort();
    writeln!(report, "### Search (`vigie search`, {} mentions)\n", summary.inserted)?;
    writeln!(
        report,
        "{} two-word queries (`word1 word2`, both words required) drawn from the corpus vocabulary, 20 results \
         each (the command's default), newest first; FTS5 pre-filter then confirmation by the Rust matcher. \
         {:.1} results per query on average.\n",
        queries.len(),
        hits as f64 / queries.len() as f64
    )?;
    writeln!(report, "| | median | p95 | max |")?;
    writeln!(report, "|---|---|---|---|")?;
    writeln!(
        report,
        "| query time, in process | **{}** | {} | {} |",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        ms(percentile(&times, 1.0))
    )?;
    sqlite.close().await;
    drop(store);
    let cli_times = time_cli_search(work.path(), &queries[..queries.len().min(20)])?;
    if !cli_times.is_empty() {
        writeln!(
            report,
            "| whole `vigie search` command (process start, open database, query, print) | {} | {} | {} |",
            ms(percentile(&cli_times, 0.5)),
            ms(percentile(&cli_times, 0.95)),
            ms(percentile(&cli_times, 1.0))
        )?;
    }
    writeln!(report)?;

    // 3. Matching throughput on one core.
    eprintln!("matching…");
    let mut r = Rng(SEED);
    let (watch_queries, brands) = make_watches(&mut r, args.watches);
    let compiled: Vec<(i64, vigie_query::Query)> = watch_queries
        .iter()
        .enumerate()
        .filter_map(|(i, q)| vigie_query::parse(q).ok().map(|q| (i as i64, q)))
        .collect();
    let n = compiled.len();
    let t = Instant::now();
    let set = WatchSet::new(compiled);
    let compile = t.elapsed();
    let docs: Vec<String> = (0..args.match_docs).map(|_| make_doc(&mut r, &brands)).collect();
    fn doc(text: &str) -> Document<'_> {
        Document { text, lang: Some("fr"), source: Some("twitter"), ..Default::default() }
    }
    for d in docs.iter().take(1000) {
        std::hint::black_box(set.match_document(&doc(d)));
    }
    let t = Instant::now();
    let mut matches = 0usize;
    for d in &docs {
        matches += std::hint::black_box(set.match_document(&doc(d))).len();
    }
    let secs = t.elapsed().as_secs_f64();
    writeln!(report, "### Matching (one core)\n")?;
    writeln!(report, "| watches | mentions | compile | rate | matches per mention |")?;
    writeln!(report, "|---|---|---|---|---|")?;
    writeln!(
        report,
        "| {n} | {} | {} | **{:.0} mentions/s** | {:.2} |\n",
        docs.len(),
        ms(compile),
        docs.len() as f64 / secs,
        matches as f64 / docs.len() as f64
    )?;
    writeln!(
        report,
        "One thread: each mention is tokenized once, candidate watches are found through one term dictionary \
         (plus Aho-Corasick for `url:` substrings), and only candidates' trees are evaluated.\n"
    )?;

    match &args.report {
        Some(path) => {
            crate::report::write_section(path, "core", &report, crate::report::BENCHMARKS_HEADER)?;
            writeln!(out, "report written to {}", path.display())?;
        }
        None => out.write_all(report.as_bytes())?,
    }
    Ok(())
}

/// `n` seeded two-word queries drawn from the corpus vocabulary.
pub(super) fn search_queries(n: usize) -> Vec<String> {
    let words: Vec<&str> =
        vocabulary().iter().copied().filter(|w| w.chars().all(char::is_alphabetic) && w.chars().count() > 2).collect();
    let mut r = Rng(SEED ^ 0x5EA2C4);
    let mut queries = Vec::new();
    while queries.len() < n {
        let a = words[r.below(words.len())];
        let b = words[r.below(words.len())];
        if a != b {
            queries.push(format!("{a} {b}"));
        }
    }
    queries
}

/// The seeded watch queries of `vigie bench run`.
pub(super) fn watch_queries(n: usize) -> Vec<String> {
    make_watches(&mut Rng(SEED), n).0
}

/// Imports the corpus into the project as `vigie import` does; returns the
/// summary and the seconds it took.
async fn timed_import(
    store: &Arc<dyn Store>,
    project_id: i64,
    corpus: &Path,
    progress: impl FnMut(&ImportSummary),
) -> anyhow::Result<(ImportSummary, f64)> {
    let ingestor =
        Arc::new(Ingestor::new(Arc::clone(store), project_id, &ProjectModels::shipped(), Stories::empty()).await?);
    let reader = BufReader::with_capacity(1 << 20, File::open(corpus)?);
    let started = Instant::now();
    let summary = run_import(ingestor, reader, ImportFormat::Jsonl, Utc::now(), progress).await?;
    Ok((summary, started.elapsed().as_secs_f64()))
}

/// Runs the real `vigie search` command on the benchmark database.
fn time_cli_search(data_dir: &Path, queries: &[String]) -> anyhow::Result<Vec<Duration>> {
    let exe: PathBuf = std::env::current_exe()?;
    let mut times = Vec::new();
    for q in queries {
        let t = Instant::now();
        let status = std::process::Command::new(&exe)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--project", "bench", "search", q, "--format", "json"])
            .stdout(std::process::Stdio::null())
            .status()?;
        times.push(t.elapsed());
        anyhow::ensure!(status.success(), "vigie search {q:?} failed");
    }
    times.sort();
    Ok(times)
}

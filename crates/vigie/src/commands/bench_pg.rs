//! `vigie bench postgres`: the import and search figures of `vigie bench run`
//! (same seeded corpus, same watches, same queries) on PostgreSQL, with the
//! import run by one `vigie import` process, then by two at once on one
//! database (each process half of the corpus), as several workers would.
//!
//! The benchmark makes its own databases on the server (`vigie_bench_…`)
//! and drops them at the end, whatever happened.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use vigie_store::postgres::{create_database, drop_database};
use vigie_store::{MentionFilter, NewWatch, PgStore, Store};

use super::bench::{machine, ms, percentile, search_queries, watch_queries, write_corpus};
use crate::cli::BenchPgArgs;

const PROJECT: &str = "bench";
/// Queries also timed through the whole `vigie search` command.
const CLI_SEARCHES: usize = 20;

/// One import run.
struct Import {
    workers: usize,
    inserted: i64,
    secs: f64,
    db_mib: f64,
}

pub async fn run(args: BenchPgArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let started = Instant::now();
    let work = match &args.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            tempfile::tempdir_in(dir)?
        }
        None => tempfile::tempdir()?,
    };
    eprintln!("generating {} mentions…", args.mentions);
    let corpus = work.path().join("corpus.jsonl");
    write_corpus(&corpus, args.mentions, args.watches)?;
    let halves = split(&corpus, work.path())?;

    let mut imports = Vec::new();
    let mut search = None;
    for workers in [1usize, 2] {
        let name = format!("vigie_bench_{}_{workers}w", std::process::id());
        let url = database_url(&args.server, &name)?;
        drop_database(&args.server, &name).await?;
        create_database(&args.server, &name)
            .await
            .with_context(|| format!("cannot create the benchmark database {name} on {}", args.server))?;
        let outcome = async {
            let files: Vec<&Path> =
                if workers == 1 { vec![corpus.as_path()] } else { halves.iter().map(PathBuf::as_path).collect() };
            let import = import(&url, workers, &files, args.watches, work.path()).await?;
            if workers == 1 {
                search = Some(searches(&url, args.searches).await?);
            }
            anyhow::Ok(import)
        }
        .await;
        // Dropped whatever happened.
        let dropped = drop_database(&args.server, &name).await;
        imports.push(outcome?);
        dropped.with_context(|| format!("cannot drop the benchmark database {name}"))?;
    }

    let mut s = String::from("## PostgreSQL (`vigie bench postgres`)\n\n");
    writeln!(
        s,
        "`cargo run --release -- bench postgres --mentions {} --watches {} --report docs/BENCHMARKS.md` on {}, \
         {}, PostgreSQL {} on the same machine (its settings as the Debian package installs them); the whole run \
         took {:.0} s. The corpus, watches and queries are those of `vigie bench run` above.\n",
        args.mentions,
        args.watches,
        machine(),
        Utc::now().format("%Y-%m-%d"),
        server_version(&args.server).await.unwrap_or_else(|e| format!("(version unknown: {e})")),
        started.elapsed().as_secs_f64(),
    )?;
    writeln!(s, "### Import\n")?;
    writeln!(s, "| `vigie import` processes | mentions stored | time | rate | database size |")?;
    writeln!(s, "|---|---|---|---|---|")?;
    for i in &imports {
        writeln!(
            s,
            "| {} | {} | {:.1} s | **{:.0} mentions/s** | {:.0} MiB |",
            i.workers,
            i.inserted,
            i.secs,
            i.inserted as f64 / i.secs,
            i.db_mib
        )?;
    }
    writeln!(
        s,
        "\nEach process reads its file, normalizes, detects the language, matches every watch and analyses each \
         mention on all cores, and sends batches of 10,000 (one transaction each, one array per column). With two \
         processes, each imports every other line of the corpus into the same project at the same time: they \
         share the 2 cores with each other and with the server.\n"
    )?;
    if let Some((times, cli, hits)) = &search {
        writeln!(s, "### Search ({} mentions)\n", imports.first().map_or(0, |i| i.inserted))?;
        writeln!(
            s,
            "{} two-word queries, 20 results each, newest first: PostgreSQL's text search (`tsvector`, GIN index) \
             as the pre-filter, then confirmation by the Rust matcher. {:.1} results per query on average.\n",
            times.len(),
            *hits as f64 / times.len().max(1) as f64
        )?;
        writeln!(s, "| | median | p95 | max |")?;
        writeln!(s, "|---|---|---|---|")?;
        writeln!(
            s,
            "| query time, in process | **{}** | {} | {} |",
            ms(percentile(times, 0.5)),
            ms(percentile(times, 0.95)),
            ms(percentile(times, 1.0))
        )?;
        writeln!(
            s,
            "| whole `vigie search --database-url …` command ({} queries) | {} | {} | {} |\n",
            cli.len(),
            ms(percentile(cli, 0.5)),
            ms(percentile(cli, 0.95)),
            ms(percentile(cli, 1.0))
        )?;
    }

    match &args.report {
        Some(path) => {
            crate::report::write_section(path, "postgres", &s, crate::report::BENCHMARKS_HEADER)?;
            writeln!(out, "PostgreSQL benchmark written to {}", path.display())?;
        }
        None => out.write_all(s.as_bytes())?,
    }
    Ok(())
}

/// The URL of database `name` on the server of `server`.
fn database_url(server: &str, name: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(server).with_context(|| format!("--server is not a URL: {server:?}"))?;
    anyhow::ensure!(
        matches!(url.scheme(), "postgres" | "postgresql"),
        "--server must be a postgres:// URL, not {server:?}"
    );
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

async fn server_version(server: &str) -> anyhow::Result<String> {
    let store = PgStore::connect(server).await?;
    let version = store.server_version().await;
    store.close().await;
    Ok(version?)
}

/// Every other line of `corpus` into two files.
fn split(corpus: &Path, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let paths = vec![dir.join("half-0.jsonl"), dir.join("half-1.jsonl")];
    let mut writers = paths
        .iter()
        .map(|p| File::create(p).map(|f| BufWriter::with_capacity(1 << 20, f)))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, line) in BufReader::with_capacity(1 << 20, File::open(corpus)?).lines().enumerate() {
        writeln!(writers[i % 2], "{}", line?)?;
    }
    for w in &mut writers {
        w.flush()?;
    }
    Ok(paths)
}

/// Defines the project and its watches, then runs one `vigie import` per
/// file at once and waits for all.
async fn import(url: &str, workers: usize, files: &[&Path], n_watches: usize, dir: &Path) -> anyhow::Result<Import> {
    let store = PgStore::connect(url).await?;
    let project = store.ensure_project(PROJECT, Utc::now()).await?;
    for (i, q) in watch_queries(n_watches).iter().enumerate() {
        if vigie_query::parse(q).is_ok() {
            let new = NewWatch { name: format!("w{i:04}"), query: q.clone(), competitor: false, langs: vec![] };
            store.add_watch(project.id, new, Utc::now()).await?;
        }
    }
    eprintln!("importing with {workers} process(es)…");
    let exe = std::env::current_exe()?;
    let t = Instant::now();
    let mut children = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let log = dir.join(format!("import-{workers}w-{i}.log"));
        let child = Command::new(&exe)
            .args(["--database-url", url, "--project", PROJECT, "import"])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(File::create(&log)?)
            .spawn()
            .context("cannot start vigie import")?;
        children.push((child, log));
    }
    for (mut child, log) in children {
        let status = child.wait()?;
        anyhow::ensure!(
            status.success(),
            "vigie import failed ({status}): {}",
            std::fs::read_to_string(&log).unwrap_or_default().lines().last().unwrap_or("")
        );
    }
    let secs = t.elapsed().as_secs_f64();
    let inserted = store.mention_count(project.id).await?;
    let db_mib = store.database_bytes().await? as f64 / (1024.0 * 1024.0);
    store.close().await;
    Ok(Import { workers, inserted, secs, db_mib })
}

/// Times the queries in process, then a few through the whole command.
async fn searches(url: &str, n: usize) -> anyhow::Result<(Vec<Duration>, Vec<Duration>, usize)> {
    eprintln!("searching…");
    let store: Arc<dyn Store> = Arc::new(PgStore::connect(url).await?);
    let project = store.project(PROJECT).await?.context("the benchmark project is missing")?;
    let queries = search_queries(n);
    let filter = MentionFilter::default();
    for q in queries.iter().take(10) {
        vigie_pipeline::search(&store, project.id, &vigie_query::parse(q)?, &filter, 20).await?;
    }
    let mut times = Vec::with_capacity(queries.len());
    let mut hits = 0;
    for q in &queries {
        let parsed = vigie_query::parse(q)?;
        let t = Instant::now();
        hits += vigie_pipeline::search(&store, project.id, &parsed, &filter, 20).await?.len();
        times.push(t.elapsed());
    }
    times.sort();
    store.close().await;
    let exe = std::env::current_exe()?;
    let mut cli = Vec::new();
    for q in queries.iter().take(CLI_SEARCHES) {
        let t = Instant::now();
        let status = Command::new(&exe)
            .args(["--database-url", url, "--project", PROJECT, "search", q, "--format", "json"])
            .stdout(Stdio::null())
            .status()?;
        cli.push(t.elapsed());
        anyhow::ensure!(status.success(), "vigie search {q:?} failed");
    }
    cli.sort();
    Ok((times, cli, hits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_keep_the_server_and_change_the_database() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "vigie_bench_1_1w").unwrap(),
            "postgres://postgres@127.0.0.1:5432/vigie_bench_1_1w"
        );
        assert_eq!(
            database_url("postgresql://u:p@db.internal/x?sslmode=require", "b").unwrap(),
            "postgresql://u:p@db.internal/b?sslmode=require"
        );
        assert!(database_url("mysql://x/y", "b").is_err());
        assert!(database_url("not a url", "b").is_err());
    }
}

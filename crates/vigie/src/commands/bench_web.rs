//! `vigie bench web`: the web app over a large store — how long its pages
//! and API take, one request at a time, and what the API sustains under
//! many concurrent connections (wrk).
//!
//! 1. The store: one project with 5 watches (2 of them competitors) and N
//!    synthetic mentions published over 90 days, imported through the real
//!    import path (`vigie import`: normalization, language, watches,
//!    sentiment, themes, full-text index). It is built once per size in the
//!    work directory and reused while its data is recent (the overview's
//!    periods end now).
//! 2. The real server (`vigie serve`'s router) on 127.0.0.1 in this process,
//!    an administrator logged in through `POST /api/v1/session` (pages use
//!    the session cookie), a viewer token for the API.
//! 3. Each page and API answer timed one request at a time after warm-ups,
//!    from sending the request to reading the whole body.
//! 4. `wrk` against two API endpoints with 200 connections: throughput,
//!    latency distribution, errors (the target is none).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::http::Method;
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use vigie_model::Role;
use vigie_pipeline::models::ProjectModels;
use vigie_pipeline::stories::{Stories, StoryIndexes};
use vigie_pipeline::{ImportFormat, Ingestor, run_import};
use vigie_store::{NewUser, NewWatch, SqliteStore, Store};

use super::bench::{machine, memory_mib};
use super::bench_collect::{process_cpu_secs, reset_peak_rss};
use super::collect::AbortOnDrop;
use crate::bench_synth::{Rng, make_mention_json_with};
use crate::cli::BenchWebArgs;

const SEED: u64 = 0x5EED_2026 ^ 0x0EB;
const PROJECT: &str = "bench";
const DAYS: i64 = 90;
/// A stored benchmark store is rebuilt once its newest mention is older than this.
const MAX_AGE_DAYS: i64 = 3;
const WARM_UPS: usize = 3;
/// Warm-ups stop early past this (a page that takes seconds is warm after one).
const WARM_UP_BUDGET: Duration = Duration::from_secs(10);
/// Timed requests per page, however slow.
const MIN_TIMED: usize = 5;
/// Pages followed through `next_cursor` for the deep page.
const DEEP_PAGES: usize = 20;
const ADMIN: &str = "bench-admin";
const ADMIN_PASSWORD: &str = "bench-password-not-secret";
const READY: &str = "ready.json";

/// The watches: (name, query, competitor).
const WATCHES: [(&str, &str, bool); 5] = [
    ("SNCF", "sncf OR @sncf OR #sncf", false),
    ("Ouigo", "ouigo OR @ouigo OR #ouigo", false),
    ("TGV incidents", "tgv AND (retard OR annulé OR panne OR rembours*)", false),
    ("BlaBlaCar", "blablacar OR @blablacar OR #blablacar", true),
    ("FlixBus", "flixbus OR @flixbus OR #flixbus", true),
];
/// Brand words the text draws from: the watched ones and others.
const BRANDS: [&str; 10] =
    ["sncf", "ouigo", "tgv", "blablacar", "flixbus", "ratp", "airfrance", "uber", "transavia", "lidl"];
/// Full-text searches timed (common words of the synthetic text).
const SEARCH_COMMON: &str = "service";
const SEARCH_NEAR: &str = "sncf NEAR/3 retard";

pub async fn run(args: BenchWebArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    // Before anything long: the load test needs wrk.
    let wrk_version = wrk_version()?;
    let started = Instant::now();
    let machine = machine();
    let root = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join("vigie-bench-web"),
    };
    let data = prepare(&root, args.mentions).await?;

    // The store as `vigie serve` opens it.
    let sqlite = SqliteStore::open(&data.db).await?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let project = store.project(PROJECT).await?.context("the benchmark store has no project")?;
    let pid = project.id;
    let now = Utc::now();
    let db_mib = file_mib(&data.db);
    let end = DateTime::from_timestamp(data.end_epoch, 0).unwrap_or(now);
    let from = end - chrono::Duration::days(DAYS);
    let figures = store.overview(pid, from, end, &vigie_store::Buckets::whole(from), 10).await?;
    let matched: i64 = figures.per_watch.iter().map(|w| w.mentions).sum();
    let (neg, neu, pos, unknown) = figures
        .buckets
        .iter()
        .fold((0, 0, 0, 0), |a, b| (a.0 + b.negative, a.1 + b.neutral, a.2 + b.positive, a.3 + b.unknown));
    let themes: Vec<String> =
        figures.per_theme.iter().take(5).map(|t| format!("{} {:.0}%", t.key, pct(t.count, figures.total))).collect();

    // The people: an administrator (pages) and a viewer token (API).
    let hash = vigie_web::auth::hash_password(ADMIN_PASSWORD).map_err(|e| anyhow::anyhow!(e.message))?;
    match store.user_by_name(ADMIN).await? {
        Some((user, _)) => store.set_password(user.id, &hash, false).await?,
        None => {
            let user = NewUser {
                username: ADMIN.into(),
                display_name: "Bench admin".into(),
                email: None,
                password_hash: hash,
                is_admin: true,
                lang: "en".into(),
                must_change_password: false,
            };
            store.add_user(user, now).await?;
        }
    }
    let token = vigie_web::new_token().map_err(anyhow::Error::msg)?;
    store.remove_token(pid, "bench").await?;
    store.add_token(pid, "bench", &vigie_web::hash_token(&token), Role::Viewer, now).await?;

    // The server.
    let state =
        vigie_web::AppState::new(store.clone(), ProjectModels::shipped(), StoryIndexes::default(), Default::default());
    let registered: HashSet<&'static str> =
        vigie_web::routes(state.clone()).docs.iter().filter(|d| d.method == Method::GET).map(|d| d.path).collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let _server = AbortOnDrop(tokio::spawn(async move {
        let _ = vigie_web::serve(listener, state, std::future::pending()).await;
    }));
    // Building a fetcher installs the rustls crypto provider reqwest needs
    // (even for plain HTTP), as `vigie collect` does.
    vigie_collect::Fetcher::new(vigie_collect::FetchConfig::default())?;
    let client = reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build()?;
    let login = client
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"username": ADMIN, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .context("login failed")?;
    anyhow::ensure!(login.status().is_success(), "POST /api/v1/session answered {}", login.status());
    let cookie = login
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(vigie_web::auth::SESSION_COOKIE))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
        .context("the login set no session cookie")?;
    let login_body: Value = login.json().await?;
    anyhow::ensure!(login_body["csrf_token"].as_str().is_some_and(|t| !t.is_empty()), "the login gave no CSRF token");
    let session = Auth::Cookie(cookie);
    let bearer = Auth::Bearer(token.clone());
    let session_fresh = Auth::Fresh(Box::new(session.clone()));
    let bearer_fresh = Auth::Fresh(Box::new(bearer.clone()));

    // Cursors: 20 pages down the feed, and the middle of the table.
    let mut deep_cursor = None;
    let mut newest_id = None;
    if registered.contains("/api/v1/projects/{pid}/mentions") {
        let mut cursor: Option<String> = None;
        for _ in 0..DEEP_PAGES {
            let mut url = format!("{base}/api/v1/projects/{pid}/mentions?limit=50");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page: Value = bearer.get(&client, &url).send().await?.error_for_status()?.json().await?;
            if newest_id.is_none() {
                newest_id = page["items"][0]["id"].as_i64();
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        deep_cursor = cursor;
    }
    let middle = newest_id.map(|id| (id / 2).max(1).to_string());

    // One request at a time.
    let mut rows: Vec<Row> = Vec::new();
    let n = args.requests as usize;
    let budget = Duration::from_secs(u64::from(args.page_seconds));
    let feed = format!("/p/{pid}/mentions");
    let api_feed = format!("/api/v1/projects/{pid}/mentions");
    let q = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut plan: Vec<(String, &'static str, String, &Auth)> = vec![
        ("Mentions feed, first page".into(), "/p/{pid}/mentions", feed.clone(), &session),
        (
            "Feed filtered: `sentiment=negative`".into(),
            "/p/{pid}/mentions",
            format!("{feed}?sentiment=negative"),
            &session,
        ),
    ];
    plan.push((
        format!(
            "Feed filtered: `sentiment=neutral` (the rarest polarity here, {:.0}% of mentions)",
            pct(neu, figures.total)
        ),
        "/p/{pid}/mentions",
        format!("{feed}?sentiment=neutral"),
        &session,
    ));
    if let Some(c) = &deep_cursor {
        plan.push((
            format!("Feed, page {} (cursor from {DEEP_PAGES} pages of `next_cursor`)", DEEP_PAGES + 1),
            "/p/{pid}/mentions",
            format!("{feed}?cursor={c}"),
            &session,
        ));
    }
    if let Some(c) = &middle {
        plan.push((
            "Feed, cursor at the middle of the table".into(),
            "/p/{pid}/mentions",
            format!("{feed}?cursor={c}"),
            &session,
        ));
        plan.push((
            "Feed filtered `sentiment=negative`, cursor at the middle".into(),
            "/p/{pid}/mentions",
            format!("{feed}?sentiment=negative&cursor={c}"),
            &session,
        ));
    }
    plan.extend([
        (
            format!("Feed search `q={SEARCH_COMMON}`"),
            "/p/{pid}/mentions",
            format!("{feed}?q={}", q(SEARCH_COMMON)),
            &session,
        ),
        (
            format!("Feed search `q={SEARCH_NEAR}`"),
            "/p/{pid}/mentions",
            format!("{feed}?q={}", q(SEARCH_NEAR)),
            &session,
        ),
        ("Overview, 30 days".into(), "/p/{pid}/overview", format!("/p/{pid}/overview?period=30d"), &session),
        (
            "Overview, 30 days, computed afresh (`Cache-Control: no-cache`)".into(),
            "/p/{pid}/overview",
            format!("/p/{pid}/overview?period=30d"),
            &session_fresh,
        ),
        ("Overview, 90 days".into(), "/p/{pid}/overview", format!("/p/{pid}/overview?period=90d"), &session),
        (
            "Overview, 90 days, computed afresh (`Cache-Control: no-cache`)".into(),
            "/p/{pid}/overview",
            format!("/p/{pid}/overview?period=90d"),
            &session_fresh,
        ),
        ("Report, 30 days".into(), "/p/{pid}/report", format!("/p/{pid}/report?period=30d"), &session),
        ("Inbox".into(), "/p/{pid}/inbox", format!("/p/{pid}/inbox"), &session),
        ("API inbox".into(), "/api/v1/projects/{pid}/inbox", format!("/api/v1/projects/{pid}/inbox"), &bearer),
        (
            "API mentions, first page (`limit=50`)".into(),
            "/api/v1/projects/{pid}/mentions",
            format!("{api_feed}?limit=50"),
            &bearer,
        ),
        (
            "API mentions, `sentiment=negative`".into(),
            "/api/v1/projects/{pid}/mentions",
            format!("{api_feed}?limit=50&sentiment=negative"),
            &bearer,
        ),
        (
            format!("API mentions, search `q={SEARCH_COMMON}`"),
            "/api/v1/projects/{pid}/mentions",
            format!("{api_feed}?limit=50&q={}", q(SEARCH_COMMON)),
            &bearer,
        ),
        (
            "API overview, 30 days".into(),
            "/api/v1/projects/{pid}/overview",
            format!("/api/v1/projects/{pid}/overview?period=30d"),
            &bearer,
        ),
        (
            "API overview, 30 days, computed afresh (`Cache-Control: no-cache`)".into(),
            "/api/v1/projects/{pid}/overview",
            format!("/api/v1/projects/{pid}/overview?period=30d"),
            &bearer_fresh,
        ),
    ]);
    let reset = reset_peak_rss();
    let (rss_before, _) = memory_mib();
    let bar = progress(plan.len() as u64, "pages");
    for (label, route, path, auth) in &plan {
        bar.set_message(label.clone());
        let outcome = if registered.contains(route) {
            time_requests(&client, &format!("{base}{path}"), auth, n, budget).await
        } else {
            Outcome::Missing
        };
        rows.push(Row { label: label.clone(), route, path: path.clone(), outcome });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let (_, peak_pages) = memory_mib();

    // Under load.
    let mut loads = Vec::new();
    let load_plan = [
        ("/api/v1/projects/{pid}/mentions", format!("{api_feed}?limit=50")),
        ("/api/v1/projects/{pid}/overview", format!("/api/v1/projects/{pid}/overview?period=7d")),
    ];
    let cpu_cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    for (route, path) in &load_plan {
        if !registered.contains(route) {
            continue;
        }
        let url = format!("{base}{path}");
        let check = bearer.get(&client, &url).send().await?;
        anyhow::ensure!(check.status().is_success(), "GET {path} answered {} before the load test", check.status());
        eprintln!("wrk -t2 -c{} -d{}s on {path}…", args.connections, args.seconds);
        reset_peak_rss();
        let cpu0 = process_cpu_secs();
        let (c, s, t) = (args.connections, args.seconds, token.clone());
        let output = tokio::task::spawn_blocking(move || run_wrk(&url, c, s, &t)).await??;
        let cpu = process_cpu_secs() - cpu0;
        let (_, peak) = memory_mib();
        // wrk's own words, beside the store, for whoever wants more than the table.
        let raw = data.dir.join(format!("wrk-{}.txt", loads.len() + 1));
        std::fs::write(&raw, format!("{path}\n{output}"))?;
        eprintln!("wrk's output: {}", raw.display());
        let stats = parse_wrk(&output).with_context(|| format!("cannot read wrk's output:\n{output}"))?;
        loads.push(Load { path: path.clone(), stats, server_cpu: cpu / f64::from(args.seconds) / cpu_cores, peak });
    }
    let (_, peak_end) = memory_mib();
    store.close().await;

    // The report.
    let failures: Vec<&Row> = rows.iter().filter(|r| matches!(r.outcome, Outcome::Failed(_))).collect();
    let missing: Vec<&Row> = rows.iter().filter(|r| matches!(r.outcome, Outcome::Missing)).collect();
    let mut s = String::from("## Web app (`vigie bench web`)\n\n");
    writeln!(
        s,
        "`cargo run --release -- bench web --mentions {} --report docs/BENCHMARKS.md` (needs `wrk`: \
         `apt-get install wrk`) on {machine}, {}; the whole run took {:.0} s{}.\n",
        args.mentions,
        Utc::now().format("%Y-%m-%d"),
        started.elapsed().as_secs_f64(),
        if data.built_now { ", building the store included" } else { ", the store reused from an earlier run" },
    )?;
    writeln!(
        s,
        "**Data.** One project, {} mentions published over the {DAYS} days before the store was built (newest \
         {:.1} days before this run), 5 watches of which 2 are competitors, imported through `vigie import`'s \
         path (normalization, language, watches, sentiment, themes, full-text index, alert rules) in {:.0} s \
         ({:.0} mentions/s) when the store was built; database {db_mib:.0} MiB. The texts are the seeded \
         synthetic tweets of the other benchmarks (`vigie bench corpus`), their brand words drawn from 10 names, \
         5 of them watched: {:.0}% of the mentions match a watch. Sentiment as the shipped model scored it: \
         {:.0}% negative, {:.0}% neutral, {:.0}% positive{}; most frequent themes: {}.\n",
        figures.total,
        (now.timestamp() - data.end_epoch) as f64 / 86_400.0,
        data.import_secs,
        data.inserted as f64 / data.import_secs.max(1e-9),
        pct(matched, figures.total),
        pct(neg, figures.total),
        pct(neu, figures.total),
        pct(pos, figures.total),
        if unknown > 0 { format!(", {:.0}% without a verdict", pct(unknown, figures.total)) } else { String::new() },
        if themes.is_empty() { "none".to_string() } else { themes.join(", ") },
    )?;
    writeln!(
        s,
        "**One request at a time.** The real server (`vigie serve`'s router, SQLite, shipped models) runs in the \
         benchmark's process on 127.0.0.1; an HTTP client in the same process sends {WARM_UPS} warm-up requests \
         (one for a page that takes seconds) then {n} timed ones per row, or as many as fit in {} s (at least \
         {MIN_TIMED}), and times each from sending the request to reading the whole body (over loopback that is \
         the server's time plus a fraction of a millisecond). Pages are asked with an administrator's session \
         cookie (after `POST /api/v1/session`), the API with a viewer token. The overview's JSON twin runs the \
         same queries as the page; it is timed for 30 days only.\n",
        args.page_seconds
    )?;
    writeln!(s, "| request | answer | requests | p50 | p95 | max |")?;
    writeln!(s, "|---|---|---|---|---|---|")?;
    for r in &rows {
        match &r.outcome {
            Outcome::Timed { times, bytes } => writeln!(
                s,
                "| {} <br>`GET {}` | {} | {} | **{}** | {} | {} |",
                r.label,
                r.path,
                size(*bytes),
                times.len(),
                ms(percentile(times, 0.5)),
                ms(percentile(times, 0.95)),
                ms(percentile(times, 1.0))
            )?,
            Outcome::Failed(why) => writeln!(s, "| {} <br>`GET {}` | failed: {} | | | | |", r.label, r.path, why)?,
            Outcome::Missing => writeln!(
                s,
                "| {} <br>`GET {}` | not measured: `{}` is not registered | | | | |",
                r.label, r.path, r.route
            )?,
        }
    }
    writeln!(
        s,
        "\nResident memory of the process (server and client): {rss_before:.0} MiB before the first request, peak \
         {peak_pages:.0} MiB over these requests{}.\n",
        if reset { "" } else { " (the peak could not be reset: it is the whole run's)" }
    )?;
    if loads.is_empty() {
        writeln!(s, "**Under load.** Not measured: the API routes are not registered.\n")?;
    } else {
        writeln!(
            s,
            "**Under load.** `{wrk_version}` with `-t2 -c{} -d{}s --timeout 2s --latency` and the token \
             (`-H \"Authorization: Bearer …\"`), on the same machine as the server: wrk's two threads and the \
             server share the {} cores. A request answered after more than 2 s counts as a timeout error (and is \
             left out of the latency figures); requests still unanswered when the run ends are not counted at \
             all. Target: no error at all.\n",
            args.connections, args.seconds, cpu_cores as usize,
        )?;
        writeln!(
            s,
            "| endpoint | requests | throughput | p50 | p90 | p99 | max | errors | server CPU | peak memory |"
        )?;
        writeln!(s, "|---|---|---|---|---|---|---|---|---|---|")?;
        for l in &loads {
            let w = &l.stats;
            writeln!(
                s,
                "| `GET {}` | {} | **{:.0} req/s** | {} | {} | **{}** | {} | {} | {:.0}% | {:.0} MiB |",
                l.path,
                w.requests,
                w.requests_per_sec,
                ms_f(w.p50_ms),
                ms_f(w.p90_ms),
                ms_f(w.p99_ms),
                ms_f(w.max_ms),
                w.errors_cell(),
                l.server_cpu * 100.0,
                l.peak,
            )?;
        }
        writeln!(
            s,
            "\nServer CPU is this process's user and system time over the run, as a share of all cores (wrk, a \
             separate process, uses the rest). Peak memory is the process's, reset before each load run; {peak_end:.0} \
             MiB at the end.\n"
        )?;
    }
    let errors: Vec<String> = loads
        .iter()
        .filter(|l| l.stats.error_count() > 0 || l.stats.requests == 0)
        .map(|l| format!("`GET {}`: {}", l.path, l.stats.errors_cell()))
        .collect();
    if !errors.is_empty() {
        writeln!(s, "**Errors under load** (the target is none): {}.\n", errors.join("; "))?;
    }
    s.push_str(INTERPRETATION);

    match &args.report {
        Some(path) => {
            crate::report::write_section(path, "web", &s, crate::report::BENCHMARKS_HEADER)?;
            writeln!(out, "web app benchmark written to {}", path.display())?;
        }
        None => out.write_all(s.as_bytes())?,
    }
    for r in &failures {
        eprintln!("warning: {} (GET {}) failed", r.label, r.path);
    }
    for r in &missing {
        eprintln!("note: {} not measured: {} is not registered", r.label, r.route);
    }
    for e in &errors {
        eprintln!("warning: errors under load: {e}");
    }
    Ok(())
}

/// Why the numbers are what they are; the parts that depend on the code, not
/// on one run.
const INTERPRETATION: &str = "How to read it: paging is by store id (the cursor is the last id shown), so a \
     page deep in the table costs what the first one costs; a filter is applied while walking the \
     `(project_id, id)` index newest first, so a rare value costs more rows read than a common one; the workflow \
     statuses of a page are read in one query. A search pre-filters with the FTS5 index then confirms each \
     candidate with the watch matcher, at most 20,000 candidates per request. The overview adds up hourly \
     rollups cached in the store (`vigie_store::rollup`; the last three hours are counted from the mentions), \
     counts the response figures of the inbox items that entered in the period, and reads the newest 500 texts \
     of the period for its trending terms; the server keeps the figures of a period for 30 s unless a \
     state-changing request is served meanwhile, and the rows marked `Cache-Control: no-cache` ask for them to \
     be computed afresh, which is what every first visit of a period costs. A token's use is written at most \
     once a minute. The SQLite pool has 4 connections (`SqliteStore::open`), which bounds how many requests \
     the database serves at once.\n";

/// The benchmark store of one size.
struct Data {
    dir: PathBuf,
    db: PathBuf,
    built_now: bool,
    inserted: u64,
    import_secs: f64,
    /// Newest publication time (seconds since the epoch).
    end_epoch: i64,
}

async fn prepare(root: &Path, mentions: u64) -> anyhow::Result<Data> {
    std::fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
    let dir = root.join(format!("{mentions}-mentions"));
    let now = Utc::now().timestamp();
    if let Some(meta) =
        std::fs::read_to_string(dir.join(READY)).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok())
    {
        let end_epoch = meta["end_epoch"].as_i64().unwrap_or(0);
        if now - end_epoch <= MAX_AGE_DAYS * 86_400 {
            eprintln!("reusing the benchmark store in {}", dir.display());
            return Ok(Data {
                db: dir.join("vigie.db"),
                dir,
                built_now: false,
                inserted: meta["inserted"].as_u64().unwrap_or(0),
                import_secs: meta["import_secs"].as_f64().unwrap_or(0.0),
                end_epoch,
            });
        }
        eprintln!("the benchmark store in {} is more than {MAX_AGE_DAYS} days old: rebuilding it", dir.display());
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    // Built aside, then renamed: an interrupted build is never reused.
    let building = root.join(format!("{mentions}-mentions.building"));
    if building.exists() {
        std::fs::remove_dir_all(&building)?;
    }
    std::fs::create_dir_all(&building)?;
    let end_epoch = now - now.rem_euclid(3_600);
    let (inserted, import_secs) = build(&building, mentions, end_epoch).await?;
    let meta = json!({"mentions": mentions, "inserted": inserted, "import_secs": import_secs, "end_epoch": end_epoch});
    std::fs::write(building.join(READY), meta.to_string())?;
    std::fs::rename(&building, &dir)
        .with_context(|| format!("cannot rename {} to {}", building.display(), dir.display()))?;
    Ok(Data { db: dir.join("vigie.db"), dir, built_now: true, inserted, import_secs, end_epoch })
}

/// Writes the corpus and imports it; returns the mentions stored and the import's seconds.
async fn build(dir: &Path, mentions: u64, end_epoch: i64) -> anyhow::Result<(u64, f64)> {
    let corpus = dir.join("corpus.jsonl");
    let bar = progress(mentions, "writing the corpus");
    {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&corpus)?);
        let brands: Vec<String> = BRANDS.iter().map(|b| (*b).to_string()).collect();
        let mut r = Rng(SEED);
        let span = DAYS * 86_400;
        let start = end_epoch - span;
        for i in 0..mentions {
            // In publication order, as collection stores them, with some jitter.
            let at = start + (i128::from(span) * i128::from(i) / i128::from(mentions)) as i64;
            let line = make_mention_json_with(&mut r, &brands, i, |r| (at + (r.next() % 900) as i64).min(end_epoch));
            writeln!(w, "{line}")?;
            if i % 10_000 == 0 {
                bar.set_position(i);
            }
        }
        w.flush()?;
    }
    bar.finish_and_clear();

    let sqlite = SqliteStore::open(&dir.join("vigie.db")).await?;
    let store: Arc<dyn Store> = Arc::new(sqlite);
    let now = Utc::now();
    let project = store.ensure_project(PROJECT, now).await?;
    for (name, query, competitor) in WATCHES {
        let watch = NewWatch { name: name.into(), query: query.into(), competitor, langs: vec![] };
        store.add_watch(project.id, watch, now).await?;
    }
    let ingestor =
        Arc::new(Ingestor::new(Arc::clone(&store), project.id, &ProjectModels::shipped(), Stories::empty()).await?);
    let reader = BufReader::with_capacity(1 << 20, File::open(&corpus)?);
    let bar = progress(mentions, "importing");
    let started = Instant::now();
    let summary = run_import(ingestor, reader, ImportFormat::Jsonl, now, |s| bar.set_position(s.lines)).await?;
    let secs = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    eprintln!("imported {} mentions in {secs:.0} s", summary.inserted);
    anyhow::ensure!(
        summary.rejected_count == 0,
        "{} synthetic mention(s) were rejected: {:?}",
        summary.rejected_count,
        summary.rejected
    );
    store.close().await;
    std::fs::remove_file(&corpus)?;
    Ok((summary.inserted, secs))
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(what.to_string());
    bar
}

#[derive(Clone)]
enum Auth {
    Cookie(String),
    Bearer(String),
    /// The same, asking for figures computed afresh (`Cache-Control: no-cache`).
    Fresh(Box<Auth>),
}

impl Auth {
    fn get(&self, client: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
        match self {
            Auth::Cookie(c) => client.get(url).header(reqwest::header::COOKIE, c),
            Auth::Bearer(t) => client.get(url).bearer_auth(t),
            Auth::Fresh(auth) => auth.get(client, url).header(reqwest::header::CACHE_CONTROL, "no-cache"),
        }
    }
}

enum Outcome {
    Timed {
        times: Vec<Duration>,
        bytes: usize,
    },
    Failed(String),
    /// The route is not registered (yet).
    Missing,
}

struct Row {
    label: String,
    route: &'static str,
    path: String,
    outcome: Outcome,
}

/// One request: its time and the body's size, or why it failed.
async fn one_request(client: &reqwest::Client, url: &str, auth: &Auth) -> Result<(Duration, usize), String> {
    let t = Instant::now();
    let answer = auth.get(client, url).send().await.map_err(|e| format!("request failed: {e}"))?;
    let status = answer.status();
    let body = answer.bytes().await.map_err(|e| format!("body not read: {e}"))?;
    let elapsed = t.elapsed();
    if status != reqwest::StatusCode::OK {
        let text = String::from_utf8_lossy(&body);
        return Err(format!("HTTP {status}: {}", text.chars().take(160).collect::<String>().replace('|', "/")));
    }
    Ok((elapsed, body.len()))
}

/// Up to [`WARM_UPS`] warm-up requests (fewer for a slow page), then `want`
/// timed ones, or fewer (never under [`MIN_TIMED`]) once `budget` is spent.
async fn time_requests(client: &reqwest::Client, url: &str, auth: &Auth, want: usize, budget: Duration) -> Outcome {
    let mut warm = Duration::ZERO;
    for _ in 0..WARM_UPS {
        match one_request(client, url, auth).await {
            Ok((d, _)) => warm += d,
            Err(why) => return Outcome::Failed(why),
        }
        if warm >= WARM_UP_BUDGET {
            break;
        }
    }
    let mut times = Vec::with_capacity(want);
    let mut bytes = 0;
    let started = Instant::now();
    while times.len() < want && (times.len() < MIN_TIMED || started.elapsed() < budget) {
        match one_request(client, url, auth).await {
            Ok((d, b)) => {
                times.push(d);
                bytes = b;
            }
            Err(why) => return Outcome::Failed(why),
        }
    }
    times.sort();
    Outcome::Timed { times, bytes }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    ms_f(d.as_secs_f64() * 1e3)
}

fn ms_f(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0} ms") } else { format!("{v:.1} ms") }
}

fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
    } else {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    }
}

fn pct(part: i64, total: i64) -> f64 {
    if total <= 0 { 0.0 } else { part as f64 * 100.0 / total as f64 }
}

fn file_mib(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / (1024.0 * 1024.0))
}

// --- wrk ---------------------------------------------------------------------

struct Load {
    path: String,
    stats: WrkStats,
    /// Share of all cores.
    server_cpu: f64,
    peak: f64,
}

/// wrk's first line of `--version`, or why it cannot run.
fn wrk_version() -> anyhow::Result<String> {
    let output = std::process::Command::new("wrk").arg("--version").output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(
                "wrk is not installed (the load test needs it): install it with `apt-get install wrk` \
                 (Debian, Ubuntu) or from https://github.com/wg/wrk, then run the benchmark again"
            )
        } else {
            anyhow::anyhow!("cannot run wrk: {e}")
        }
    })?;
    // `wrk --version` prints its version then its usage, and exits with 1.
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    let first = text.lines().next().unwrap_or("wrk").trim();
    Ok(first.split(" Copyright").next().unwrap_or(first).trim().to_string())
}

fn run_wrk(url: &str, connections: u32, seconds: u32, token: &str) -> anyhow::Result<String> {
    let output = std::process::Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--timeout", "2s", "--latency", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(url)
        .output()
        .context("cannot run wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(
        output.status.success(),
        "wrk failed ({}): {}{}",
        output.status,
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(stdout)
}

/// What `wrk --latency` printed.
#[derive(Debug, Default, PartialEq)]
struct WrkStats {
    requests: u64,
    requests_per_sec: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    connect_errors: u64,
    read_errors: u64,
    write_errors: u64,
    timeouts: u64,
    non_2xx_3xx: u64,
}

impl WrkStats {
    fn error_count(&self) -> u64 {
        self.connect_errors + self.read_errors + self.write_errors + self.timeouts + self.non_2xx_3xx
    }

    fn errors_cell(&self) -> String {
        if self.requests == 0 {
            return format!("**no answer** within the run ({} errors)", self.error_count());
        }
        if self.error_count() == 0 {
            return "**0**".into();
        }
        let mut parts = Vec::new();
        for (n, what) in [
            (self.connect_errors, "connect"),
            (self.read_errors, "read"),
            (self.write_errors, "write"),
            (self.timeouts, "timeouts"),
            (self.non_2xx_3xx, "non-2xx/3xx answers"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        format!("**{}** ({})", self.error_count(), parts.join(", "))
    }
}

/// `120.00us`, `9.51ms`, `1.20s`, `2.00m` in milliseconds.
fn wrk_duration_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let value: f64 = s[..split].parse().ok()?;
    let factor = match &s[split..] {
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        "h" => 3_600e3,
        _ => return None,
    };
    Some(value * factor)
}

/// `123.45k` as a number.
fn wrk_count(s: &str) -> Option<f64> {
    let s = s.trim();
    let (digits, factor) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1e3),
        'M' => (&s[..s.len() - 1], 1e6),
        'G' => (&s[..s.len() - 1], 1e9),
        _ => (s, 1.0),
    };
    digits.parse::<f64>().ok().map(|v| v * factor)
}

fn parse_wrk(output: &str) -> Option<WrkStats> {
    let mut w = WrkStats::default();
    let mut in_distribution = false;
    let mut saw_rate = false;
    for line in output.lines() {
        let t = line.trim();
        if t.starts_with("Latency Distribution") {
            in_distribution = true;
            continue;
        }
        if in_distribution {
            if let Some((p, v)) = t.split_once('%') {
                let v = wrk_duration_ms(v);
                match p.trim() {
                    "50" => w.p50_ms = v?,
                    "90" => w.p90_ms = v?,
                    "99" => w.p99_ms = v?,
                    _ => {}
                }
                continue;
            }
            in_distribution = false;
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        if words.first() == Some(&"Latency") && words.len() >= 4 {
            w.max_ms = wrk_duration_ms(words[3])?;
        } else if words.len() >= 3 && words[1] == "requests" && words[2] == "in" {
            w.requests = wrk_count(words[0])? as u64;
        } else if let Some(rest) = t.strip_prefix("Socket errors:") {
            for part in rest.split(',') {
                let mut it = part.split_whitespace();
                let (Some(kind), Some(n)) = (it.next(), it.next().and_then(|n| n.parse::<u64>().ok())) else {
                    return None;
                };
                match kind {
                    "connect" => w.connect_errors = n,
                    "read" => w.read_errors = n,
                    "write" => w.write_errors = n,
                    "timeout" => w.timeouts = n,
                    _ => {}
                }
            }
        } else if let Some(rest) = t.strip_prefix("Non-2xx or 3xx responses:") {
            w.non_2xx_3xx = rest.trim().parse().ok()?;
        } else if let Some(rest) = t.strip_prefix("Requests/sec:") {
            w.requests_per_sec = wrk_count(rest)?;
            saw_rate = true;
        }
    }
    saw_rate.then_some(w)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const CLEAN: &str = "Running 15s test @ http://127.0.0.1:40000/api/v1/projects/1/mentions?limit=50
  2 threads and 200 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   310.25ms   45.10ms   1.05s    81.00%
    Req/Sec   321.40     60.12   450.00     70.00%
  Latency Distribution
     50%  305.00ms
     75%  330.10ms
     90%  360.00ms
     99%  520.44ms
  9612 requests in 15.02s, 540.12MB read
Requests/sec:    639.95
Transfer/sec:     35.96MB
";

    #[test]
    fn wrk_output_is_read_with_its_units() {
        let w = parse_wrk(CLEAN).unwrap();
        assert_eq!(w.requests, 9612);
        assert!((w.requests_per_sec - 639.95).abs() < 1e-9);
        assert!((w.p50_ms - 305.0).abs() < 1e-9);
        assert!((w.p90_ms - 360.0).abs() < 1e-9);
        assert!((w.p99_ms - 520.44).abs() < 1e-9);
        assert!((w.max_ms - 1050.0).abs() < 1e-9);
        assert_eq!(w.error_count(), 0);
        assert_eq!(w.errors_cell(), "**0**");
    }

    #[test]
    fn wrk_errors_are_counted() {
        let out = CLEAN.replace(
            "Requests/sec:",
            "  Socket errors: connect 0, read 3, write 0, timeout 41\n  Non-2xx or 3xx responses: 7\nRequests/sec:",
        );
        let w = parse_wrk(&out).unwrap();
        assert_eq!((w.read_errors, w.timeouts, w.non_2xx_3xx), (3, 41, 7));
        assert_eq!(w.errors_cell(), "**51** (3 read, 41 timeouts, 7 non-2xx/3xx answers)");
    }

    #[test]
    fn wrk_units_and_counts() {
        assert_eq!(wrk_duration_ms("120.00us"), Some(0.12));
        assert_eq!(wrk_duration_ms("2.00s"), Some(2000.0));
        assert_eq!(wrk_duration_ms("1.50m"), Some(90_000.0));
        assert_eq!(wrk_duration_ms("fast"), None);
        assert_eq!(wrk_count("1.20k"), Some(1200.0));
        assert_eq!(parse_wrk("nothing useful"), None);
    }
}

//! `vigie collect [--once]`: the background loops of `vigie worker`, from
//! one command (or one cycle with `--once`).

use std::io::Write;
use std::time::Duration;

use chrono::Utc;
use std::sync::Arc;
use vigie_collect::social::Endpoints;
use vigie_collect::{FetchConfig, Fetcher};

use vigie_notify::{SmtpConfig, SmtpSecurity};
use vigie_pipeline::models::ProjectModels;
use vigie_pipeline::notify_run::Notifier;
use vigie_pipeline::refine::{REFINE_BATCH, Refiner};
use vigie_pipeline::stories::StoryIndexes;
use vigie_pipeline::{
    CollectContext, CollectReport, Lease, Secrets, collect_due, collect_sources, release_dead_local_leases,
};
use vigie_store::DynStore;

use crate::app::{App, UsageError, usage};
use crate::cli::CollectArgs;
use crate::commands::worker::{LoopOptions, load_refiner, print_report, run_loops, shutdown_signal};

/// Sources fetched per cycle at most.
const PER_CYCLE: i64 = 500;
/// Longest sleep between two looks at the schedule.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// `VIGIE_ALLOW_PRIVATE_NETWORK=true` lets sources on private networks through
/// (intranet feeds; tests on 127.0.0.1).
pub fn fetch_config() -> FetchConfig {
    FetchConfig { allow_private_networks: vigie_collect::guard::private_networks_allowed(), ..FetchConfig::default() }
}

/// Secrets and API hosts from the environment: `VIGIE_YOUTUBE_API_KEY`, and
/// `VIGIE_API_BASE_URL`, which points the fixed-host APIs (Bluesky, Reddit,
/// Hacker News, YouTube) at one base address: a mirror, a proxy the
/// administrator runs, or a test server.
pub fn collect_context() -> CollectContext {
    let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let endpoints = match var("VIGIE_API_BASE_URL").map(|u| url::Url::parse(&u)) {
        Some(Ok(base)) => Endpoints::all_at(&base),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "VIGIE_API_BASE_URL is not a URL; using the public API hosts");
            Endpoints::default()
        }
        None => Endpoints::default(),
    };
    CollectContext {
        secrets: Secrets { youtube_api_key: var("VIGIE_YOUTUBE_API_KEY") },
        endpoints,
        ..CollectContext::default()
    }
}

/// The notifier of `vigie collect`, `vigie serve` and `vigie notify send`:
/// `VIGIE_SMTP_URL` (`smtp://user:password@host:port`, `smtps://…` for TLS,
/// `?tls=starttls` to upgrade), `VIGIE_SMTP_FROM`, `VIGIE_BASE_URL` (the
/// web UI's address, for links) and the installation's zone
/// ([`crate::app::installation_zone`]).
pub fn notifier() -> anyhow::Result<Notifier> {
    let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let smtp = match var("VIGIE_SMTP_URL") {
        None => None,
        Some(url) => {
            Some(smtp_config(&url, var("VIGIE_SMTP_FROM")).map_err(|e| UsageError(format!("VIGIE_SMTP_URL: {e}")))?)
        }
    };
    Ok(Notifier {
        fetcher: Fetcher::new(fetch_config())?,
        smtp,
        base_url: var("VIGIE_BASE_URL"),
        zone: crate::app::installation_zone()?.0,
    })
}

fn smtp_config(url: &str, from: Option<String>) -> Result<SmtpConfig, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    let tls = parsed.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.to_string());
    let security = match (parsed.scheme(), tls.as_deref()) {
        ("smtps", _) => SmtpSecurity::Tls,
        ("smtp", Some("starttls" | "required")) => SmtpSecurity::StartTls,
        ("smtp", None | Some("none")) => SmtpSecurity::None,
        (scheme, tls) => {
            return Err(format!("expected smtp:// or smtps:// (and ?tls=starttls), not {scheme}:// with tls={tls:?}"));
        }
    };
    let host = parsed.host_str().ok_or("no host")?.to_string();
    let port = parsed.port().unwrap_or(match security {
        SmtpSecurity::Tls => 465,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::None => 25,
    });
    let decode =
        |s: &str| url::form_urlencoded::parse(s.as_bytes()).map(|(k, _)| k.into_owned()).next().unwrap_or_default();
    let username = Some(decode(parsed.username())).filter(|u| !u.is_empty());
    let password = parsed.password().map(decode);
    let from = from.ok_or("set VIGIE_SMTP_FROM too: the sender address of the alerts")?;
    Ok(SmtpConfig { host, port, security, username, password, from, timeout: Duration::from_secs(30) })
}

/// A one-off collection in which every source fetched failed is a failure
/// (exit code 1, for cron); one in which some failed is not (a flaky feed
/// would fail every run): `vigie source list` tells which.
fn all_failed(report: &vigie_pipeline::CollectReport) -> anyhow::Result<()> {
    if report.failed > 0 && report.failed == report.sources {
        anyhow::bail!("every source fetched ({}) failed: see `vigie source list` for the reasons", report.failed);
    }
    Ok(())
}

/// One round of notifications after a one-off collection.
async fn deliver_once(app: &App, notifier: &Notifier, lease: &Lease, out: &mut dyn Write) -> anyhow::Result<()> {
    let report = notifier.deliver_due(&app.store, Utc::now(), lease).await?;
    if report.sent + report.retry + report.failed > 0 {
        writeln!(out, "{} notification(s) sent, {} to retry, {} failed", report.sent, report.retry, report.failed)?;
    }
    Ok(())
}

/// How long a source `vigie collect` took stays its own (renewed while it
/// works): a `vigie serve`, `vigie worker` or other `vigie collect` beside it
/// leaves it alone. The lease is in the process's name (`collect-HOST-PID`);
/// the next `collect` on the machine takes back at once what a killed one
/// held.
const COLLECT_LEASE: Duration = Duration::from_secs(300);

pub async fn run(app: &App, args: CollectArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let fetcher = Fetcher::new(fetch_config())?;
    let notifier = notifier()?;
    let lease = Lease::for_process("collect", COLLECT_LEASE);
    release_dead_local_leases(&app.store, "collect").await;
    let ctx = CollectContext { models: app.models(), stories: StoryIndexes::default(), ..collect_context() };
    if !args.sources.is_empty() {
        let mut chosen = Vec::new();
        for id in args.sources {
            match app.store.source(app.project.id, id).await? {
                Some(source) => chosen.push((app.project.id, source)),
                None => return usage(format!("no source with id {id} in project {:?}", app.project.name)),
            }
        }
        let report = collect_sources(&app.store, &fetcher, &ctx, chosen, Utc::now()).await?;
        print_report(out, &report)?;
        if report.failed > 0 {
            writeln!(out, "see `vigie source list` for the reasons")?;
        }
        let delivered = deliver_once(app, &notifier, &lease, out).await;
        app.store.release_leases(&lease.worker).await?;
        delivered?;
        return all_failed(&report);
    }
    if args.once {
        let report = collect_due(&app.store, &fetcher, &ctx, Utc::now(), PER_CYCLE, &lease).await;
        let delivered = match &report {
            Ok(_) => deliver_once(app, &notifier, &lease, out).await,
            Err(_) => Ok(()),
        };
        // Sources whose outcome could not be written (and unsent
        // notifications) go back to the others at once.
        app.store.release_leases(&lease.worker).await?;
        let report = report?;
        print_report(out, &report)?;
        if report.failed > 0 {
            writeln!(out, "see `vigie source list` for the reasons")?;
        }
        delivered?;
        return all_failed(&report);
    }
    let refiner = load_refiner(&ctx.models)?;
    match &refiner {
        Some(_) => writeln!(out, "collecting, with the sentence encoder refining verdicts; press Ctrl-C to stop")?,
        None => writeln!(out, "collecting; press Ctrl-C to stop")?,
    }
    out.flush()?;
    // Ctrl-C (SIGINT) and SIGTERM (systemd, containers) stop the loop: the
    // cycle under way starts no more fetches and gives those in flight
    // `STOP_GRACE` to finish and record their work; the rest stay due.
    let stop = shutdown_signal()?;
    let opts = LoopOptions { lease, per_cycle: PER_CYCLE, poll: MAX_SLEEP, stories: StoryIndexes::default() };
    run_loops(app.store.clone(), app.models(), refiner, opts, stop, |r: &CollectReport| {
        if let Err(e) = print_report(out, r).and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "cannot write the cycle's report");
        }
    })
    .await?;
    writeln!(out, "stopped")?;
    Ok(())
}

/// Refines stored verdicts of every project, a batch at a time, until
/// `deadline` or until none is left; then waits out the deadline. A project
/// whose refinement fails is skipped for this wait (and logged), the others
/// go on; the wait always lasts until the deadline. A batch in progress when a
/// signal arrives is dropped before its write: its mentions keep their fast
/// verdicts and are refined next time.
pub async fn refine_until(
    store: &DynStore,
    models: &ProjectModels,
    refiner: Option<&Arc<Refiner>>,
    deadline: tokio::time::Instant,
) {
    if let Some(refiner) = refiner {
        let mut failed: Vec<i64> = Vec::new();
        'work: while tokio::time::Instant::now() < deadline {
            let projects = match store.list_projects().await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list projects for sentiment refinement");
                    break;
                }
            };
            let mut refined = 0;
            for project in &projects {
                if failed.contains(&project.id) {
                    continue;
                }
                let result = match models.fast_model(store.as_ref(), project.id).await {
                    Ok(fast) => refiner.refine_stored(store.as_ref(), project.id, fast, REFINE_BATCH).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(n) => refined += n,
                    Err(e) => {
                        tracing::warn!(project = %project.name, error = %e, "sentiment refinement failed; its verdicts stay as they are");
                        failed.push(project.id);
                    }
                }
                if tokio::time::Instant::now() >= deadline {
                    break 'work;
                }
            }
            if refined == 0 {
                break;
            }
        }
    }
    tokio::time::sleep_until(deadline).await;
}

/// Aborts a background task when dropped (the command returns or fails).
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

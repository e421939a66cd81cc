//! `vigie serve`: the web app, the REST API and the push API, with the
//! background work of `vigie worker` (collection, notification delivery,
//! escalation of overdue inbox items) unless `--no-collect`, and the
//! housekeeping every server does (scheduled reports, the overview's cache,
//! expired sessions).

use std::io::Write;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use vigie_pipeline::stories::StoryIndexes;
use vigie_pipeline::{CollectReport, Lease, StopSignal, release_dead_local_leases};
use vigie_store::{DynStore, NewUser};
use vigie_web::{AppState, WebConfig};

use crate::app::{App, usage};
use crate::cli::ServeArgs;
use crate::commands::collect::AbortOnDrop;
use crate::commands::worker::{LoopOptions, load_refiner, run_loops, shutdown_signal};

/// Runs the server until Ctrl-C; `open_path` is printed as the page to open.
pub async fn run(app: &App, args: ServeArgs, open_path: Option<&str>, out: &mut dyn Write) -> anyhow::Result<()> {
    let (zone, zone_from) = crate::app::installation_zone()?;
    // Ctrl-C or SIGTERM stops the web server, and lets the background work
    // under way (a collection cycle, a notification being sent) finish and
    // record itself; a second one stops at once. Listened for from the
    // start: a signal while the server starts is a stop, not a kill.
    let signal = shutdown_signal()?;
    let trusted_proxies = match vigie_web::parse_trusted_proxies(&args.trusted_proxies) {
        Ok(list) => list,
        Err(e) => return usage(format!("--trusted-proxy: {e}")),
    };
    let listener = match tokio::net::TcpListener::bind(args.bind.trim()).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            return usage(format!("--bind {:?}: expected ADDRESS:PORT, e.g. 127.0.0.1:8080 ({e})", args.bind));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot listen on {}", args.bind)),
    };
    let address = listener.local_addr()?;
    writeln!(out, "Vigie is at http://{address}{}", open_path.unwrap_or("/"))?;
    writeln!(
        out,
        "(API: http://{address}/api/v1/openapi.json; times shown in {} ({zone_from}); press Ctrl-C to stop)",
        zone.name()
    )?;
    first_admin(app, out).await?;
    out.flush()?;
    let stories = StoryIndexes::default();
    let state = AppState::new(
        app.store.clone(),
        app.models(),
        stories.clone(),
        WebConfig { secure_cookies: args.secure_cookies, zone, trusted_proxies, ..WebConfig::default() },
    );
    let stop = StopSignal::default();
    let _signal = AbortOnDrop(tokio::spawn({
        let stop = stop.clone();
        async move {
            signal.await;
            stop.stop();
        }
    }));
    let stopped = |stop: &StopSignal| {
        let stop = stop.clone();
        async move { stop.stopped().await }
    };
    // Alone (SQLite, or one process on PostgreSQL) the server also does the
    // background work; with --no-collect it is a stateless front and
    // `vigie worker` processes do it.
    let lease = Lease::for_process("serve", SERVE_LEASE);
    let background = if args.no_collect {
        None
    } else {
        // What a killed server of this machine held is taken back at once.
        release_dead_local_leases(&app.store, "serve").await;
        let models = app.models();
        let refiner = load_refiner(&models)?;
        let opts = LoopOptions {
            lease: lease.clone(),
            per_cycle: 2 * vigie_pipeline::collect_run::CONCURRENT_FETCHES as i64,
            poll: SERVE_POLL,
            stories,
        };
        let store = app.store.clone();
        let stop = stopped(&stop);
        Some(AbortOnDrop(tokio::spawn(async move {
            let report = |r: &CollectReport| {
                tracing::info!(
                    sources = r.sources,
                    fetched = r.fetched,
                    failed = r.failed,
                    left_for_next_start = r.not_started,
                    stored = r.stored,
                    "collection cycle"
                );
            };
            if let Err(e) = run_loops(store, models, refiner, opts, stop, report).await {
                tracing::error!(error = %e, "background work stopped; the web app goes on");
            }
        })))
    };
    // Scheduled reports go out through the same SMTP settings as alerts.
    let smtp = crate::commands::collect::notifier()?.smtp;
    let _housekeeping = AbortOnDrop(spawn_housekeeping(app.store.clone(), smtp, zone));
    let served = vigie_web::serve(listener, state, stopped(&stop)).await.context("the server stopped");
    if let Some(mut background) = background {
        // (Also when the web server failed rather than being asked to stop.)
        stop.stop();
        let _ = (&mut background.0).await;
        // Sources and notifications it held go to the other processes at once.
        if let Err(e) = app.store.release_leases(&lease.worker).await {
            tracing::warn!(error = %e, "could not give the leases back; they expire on their own");
        }
    }
    served?;
    writeln!(out, "stopped")?;
    Ok(())
}

/// How long a source the server's collector took stays its own.
const SERVE_LEASE: Duration = Duration::from_secs(300);
/// Longest wait between two looks at the schedule.
const SERVE_POLL: Duration = Duration::from_secs(30);

/// On the first start, an administrator with a one-time password; also when
/// people were added with `vigie user add` before it but none of them can
/// administer the installation (nobody could add members or tokens).
async fn first_admin(app: &App, out: &mut dyn Write) -> anyhow::Result<()> {
    let users = if app.store.user_count().await? > 0 { app.store.list_users().await? } else { Vec::new() };
    if users.iter().any(|u| u.is_admin && !u.disabled) {
        return Ok(());
    }
    if users.iter().any(|u| u.username.eq_ignore_ascii_case("admin")) {
        writeln!(
            out,
            "warning: nobody can administer this installation (no enabled administrator); \
             run `vigie user add NAME --admin`, or `vigie user enable admin` if it was disabled"
        )?;
        return Ok(());
    }
    let password = vigie_web::auth::one_time_password();
    let hash = vigie_web::auth::hash_password(&password).map_err(|e| anyhow::anyhow!(e.message))?;
    let user = NewUser {
        username: "admin".into(),
        display_name: "Admin".into(),
        email: None,
        password_hash: hash,
        is_admin: true,
        lang: "fr".into(),
        must_change_password: true,
    };
    match app.store.add_user(user, Utc::now()).await {
        Ok(_) => {}
        // Another server started at the same moment on the same database
        // made it first: its output has the password.
        Err(vigie_store::StoreError::Conflict(_)) => {
            writeln!(
                out,
                "`admin` was just created by another Vigie process on this database; its output has the password"
            )?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    let first = if users.is_empty() { "First start" } else { "No administrator yet" };
    writeln!(out, "{first}: log in as `admin` with the one-time password {password}")?;
    writeln!(out, "(you will be asked to choose your own; `vigie user add` adds other people)")?;
    Ok(())
}

/// Every minute: send the scheduled reports that are due (each period once,
/// whatever the number of servers) and fill the overview's hourly cache for
/// the last 90 days of every project (nothing to do when it is up to date),
/// so that a dashboard never waits for it; every hour: forget expired
/// sessions and old failed logins. All safe with any number of servers.
fn spawn_housekeeping(
    store: DynStore,
    smtp: Option<vigie_notify::SmtpConfig>,
    zone: vigie_model::zone::Tz,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            let now = Utc::now();
            let reports = vigie_web::schedule::run_due_reports(store.as_ref(), smtp.as_ref(), now, zone).await;
            if reports.sent + reports.failed > 0 {
                tracing::info!(sent = reports.sent, failed = reports.failed, "scheduled reports");
            }
            warm_overviews(store.as_ref(), now).await;
            if n.is_multiple_of(60) {
                if let Err(e) = store.purge_sessions(now).await {
                    tracing::warn!(error = %e, "could not remove expired sessions");
                }
                if let Err(e) = store.purge_login_failures(now - chrono::Duration::days(1)).await {
                    tracing::warn!(error = %e, "could not remove old failed logins");
                }
            }
            n += 1;
        }
    })
}

async fn warm_overviews(store: &dyn vigie_store::Store, now: chrono::DateTime<Utc>) {
    let projects = match store.list_projects().await {
        Ok(projects) => projects,
        Err(e) => return tracing::warn!(error = %e, "could not list projects to warm the overview cache"),
    };
    let to = chrono::DateTime::from_timestamp((now.timestamp().div_euclid(3_600) + 1) * 3_600, 0).unwrap_or(now);
    for project in projects {
        let from = to - chrono::Duration::days(90);
        if let Err(e) = store.overview(project.id, from, to, &vigie_store::Buckets::whole(from), 0).await {
            tracing::warn!(project = %project.name, error = %e, "could not fill the overview cache");
        }
    }
}

//! `vigie serve`: the web app, the REST API and the push API, with the
//! background jobs a server runs (notification delivery, escalation of
//! overdue inbox items, scheduled reports, expired sessions).

use std::io::Write;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use vigie_pipeline::stories::StoryIndexes;
use vigie_store::{DynStore, NewUser};
use vigie_web::{AppState, WebConfig};

use crate::app::{App, usage};
use crate::cli::ServeArgs;
use crate::commands::collect::AbortOnDrop;

/// Runs the server until Ctrl-C; `open_path` is printed as the page to open.
pub async fn run(app: &App, args: ServeArgs, open_path: Option<&str>, out: &mut dyn Write) -> anyhow::Result<()> {
    let listener = match tokio::net::TcpListener::bind(args.bind.trim()).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            return usage(format!("--bind {:?}: expected ADDRESS:PORT, e.g. 127.0.0.1:8080 ({e})", args.bind));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot listen on {}", args.bind)),
    };
    let address = listener.local_addr()?;
    writeln!(out, "Vigie is at http://{address}{}", open_path.unwrap_or("/"))?;
    writeln!(out, "(API: http://{address}/api/v1/openapi.json; press Ctrl-C to stop)")?;
    first_admin(app, out).await?;
    out.flush()?;
    let state = AppState::new(
        app.store.clone(),
        app.models(),
        StoryIndexes::default(),
        WebConfig { secure_cookies: args.secure_cookies },
    );
    let shutdown = async {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    };
    let notifier = crate::commands::collect::notifier()?;
    let smtp = notifier.smtp.clone();
    let _delivery = AbortOnDrop(crate::commands::collect::spawn_delivery(app.store.clone(), notifier));
    let _housekeeping = AbortOnDrop(spawn_housekeeping(app.store.clone(), smtp));
    vigie_web::serve(listener, state, shutdown).await.context("the server stopped")?;
    writeln!(out, "stopped")?;
    Ok(())
}

/// On the first start, an administrator with a one-time password.
async fn first_admin(app: &App, out: &mut dyn Write) -> anyhow::Result<()> {
    if app.store.user_count().await? > 0 {
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
    app.store.add_user(user, Utc::now()).await?;
    writeln!(out, "First start: log in as `admin` with the one-time password {password}")?;
    writeln!(out, "(you will be asked to choose your own; `vigie user add` adds other people)")?;
    Ok(())
}

/// Every minute: escalate overdue inbox items, send the scheduled reports
/// that are due (each period once, whatever the number of servers), and
/// fill the overview's hourly cache for the last 90 days of every project
/// (nothing to do when it is up to date), so that a dashboard never waits
/// for it; every hour: forget expired sessions.
fn spawn_housekeeping(store: DynStore, smtp: Option<vigie_notify::SmtpConfig>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            let now = Utc::now();
            match vigie_pipeline::routing::escalate_overdue(store.as_ref(), now).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "overdue inbox items escalated"),
                Err(e) => tracing::warn!(error = %e, "escalation failed; retrying in a minute"),
            }
            let reports = vigie_web::schedule::run_due_reports(store.as_ref(), smtp.as_ref(), now).await;
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
        if let Err(e) = store.overview(project.id, to - chrono::Duration::days(90), to, 86_400, 0).await {
            tracing::warn!(project = %project.name, error = %e, "could not fill the overview cache");
        }
    }
}

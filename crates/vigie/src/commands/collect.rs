//! `vigie collect [--once]`

use std::io::Write;
use std::time::Duration;

use chrono::Utc;
use vigie_collect::{FetchConfig, Fetcher};
use vigie_pipeline::{CollectReport, collect_due};

use crate::app::App;
use crate::cli::CollectArgs;

/// Sources fetched per cycle at most.
const PER_CYCLE: i64 = 500;
/// Longest sleep between two looks at the schedule.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// `VIGIE_ALLOW_PRIVATE_NETWORK=true` lets sources on private networks through
/// (intranet feeds; tests on 127.0.0.1).
pub fn fetch_config() -> FetchConfig {
    let allow = std::env::var("VIGIE_ALLOW_PRIVATE_NETWORK")
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
        .unwrap_or(false);
    FetchConfig { allow_private_networks: allow, ..FetchConfig::default() }
}

fn print_report(out: &mut dyn Write, r: &CollectReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{} source(s) due: {} fetched, {} not modified, {} failed; {} item(s) read, {} new mention(s) stored",
        r.sources, r.fetched, r.not_modified, r.failed, r.items, r.stored
    )
}

pub async fn run(app: &App, args: CollectArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let fetcher = Fetcher::new(fetch_config())?;
    if args.once {
        let report = collect_due(&app.store, &fetcher, Utc::now(), PER_CYCLE).await?;
        print_report(out, &report)?;
        if report.failed > 0 {
            writeln!(out, "see `vigie source list` for the reasons")?;
        }
        return Ok(());
    }
    writeln!(out, "collecting; press Ctrl-C to stop")?;
    // systemd and container runtimes stop services with SIGTERM: stop between
    // cycles, as on Ctrl-C.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let report = collect_due(&app.store, &fetcher, Utc::now(), PER_CYCLE).await?;
        if report.sources > 0 {
            print_report(out, &report)?;
        }
        if report.sources as i64 == PER_CYCLE {
            continue; // more are due right now
        }
        tokio::select! {
            _ = tokio::time::sleep(MAX_SLEEP) => {}
            _ = tokio::signal::ctrl_c() => {
                writeln!(out, "stopped")?;
                return Ok(());
            }
            _ = terminate.recv() => {
                writeln!(out, "stopped")?;
                return Ok(());
            }
        }
    }
}

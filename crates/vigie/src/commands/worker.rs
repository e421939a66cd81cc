//! `vigie worker`: the background work without the web server — collection
//! of the due sources (leased, so several workers share them), refinement
//! of stored verdicts while idle, the notification outbox (claimed, so no
//! notification is sent by two workers) and the escalation of overdue inbox
//! items (a conditional update, so each is escalated once). The same loops
//! run inside `vigie collect` and `vigie serve` (unless `--no-collect`).

use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use vigie_collect::Fetcher;
use vigie_pipeline::models::ProjectModels;
use vigie_pipeline::refine::Refiner;
use vigie_pipeline::stories::StoryIndexes;
use vigie_pipeline::{CollectContext, CollectReport, Lease, StopSignal, collect_due, release_dead_local_leases};
use vigie_store::DynStore;

use crate::app::{App, usage};
use crate::cli::WorkerArgs;
use crate::commands::collect::{AbortOnDrop, collect_context, fetch_config, notifier, refine_until};

/// How the background loops run.
#[derive(Debug, Clone)]
pub struct LoopOptions {
    pub lease: Lease,
    /// Sources leased per cycle: small, so that several workers share the
    /// due sources instead of the first one taking them all.
    pub per_cycle: i64,
    /// Longest wait between two looks at the schedule.
    pub poll: Duration,
    /// The story indexes: the server shares its web app's, so a pushed copy
    /// and a collected original are one story at once.
    pub stories: StoryIndexes,
}

/// Runs collection cycles (with refinement while idle), the delivery loop and
/// the escalation loop until `stop` resolves; a cycle under way when it does
/// finishes and records its work first. Then gives back every lease this
/// worker holds, so other workers take its sources at once.
pub async fn run_loops(
    store: DynStore,
    models: ProjectModels,
    refiner: Option<Arc<Refiner>>,
    opts: LoopOptions,
    stop: impl Future<Output = ()>,
    mut report: impl FnMut(&CollectReport),
) -> anyhow::Result<()> {
    let ctx = CollectContext { models: models.clone(), stories: opts.stories.clone(), ..collect_context() };
    let fetcher = Fetcher::new(fetch_config())?.with_stop(ctx.stop.subscribe());
    let delivery = DeliveryLoop::spawn(store.clone(), notifier()?, opts.lease.clone(), ctx.stop.clone());
    let escalation = AbortOnDrop(spawn_escalation(store.clone(), notifier()?, opts.lease.clone(), ctx.stop.clone()));
    // Asked to stop, the cycle under way starts no more fetches and the
    // outbox sends nothing more: what is in flight finishes and is recorded.
    let stop_all = ctx.stop.clone();
    let stop = async move {
        stop.await;
        stop_all.stop();
    };
    tokio::pin!(stop);
    let mut stopping = false;
    let mut failures: u32 = 0;
    let outcome: anyhow::Result<()> = async {
        while !stopping {
            let cycle = collect_due(&store, &fetcher, &ctx, Utc::now(), opts.per_cycle, &opts.lease);
            tokio::pin!(cycle);
            let cycle_report = loop {
                tokio::select! {
                    r = &mut cycle => break r,
                    () = &mut stop, if !stopping => stopping = true,
                }
            };
            // A failed cycle (the database restarting, locked by another
            // program, unreachable for a while) is logged and tried again,
            // waiting longer each time: monitoring must not stop for good
            // because the database was away for a minute.
            let cycle_report = match cycle_report {
                Ok(r) => {
                    if failures > 0 {
                        tracing::warn!(failures, "collection works again");
                    }
                    failures = 0;
                    r
                }
                Err(e) => {
                    failures += 1;
                    let wait = retry_wait(opts.poll, failures);
                    if stopping {
                        tracing::error!(error = %e, "collection cycle failed while stopping");
                        continue;
                    }
                    tracing::error!(error = %e, failures, retry_in_secs = wait.as_secs(), "collection cycle failed; trying again");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = &mut stop => stopping = true,
                    }
                    continue;
                }
            };
            if cycle_report.sources > 0 {
                report(&cycle_report);
            }
            // What other processes stored meanwhile joins this process's
            // story indexes (copies stored at the same time are joined).
            opts.stories.refresh_all(store.as_ref()).await;
            if stopping || cycle_report.sources as i64 == opts.per_cycle {
                continue; // stop, or more are due right now
            }
            let idle = refine_until(&store, &models, refiner.as_ref(), tokio::time::Instant::now() + opts.poll);
            tokio::select! {
                () = idle => {}
                () = &mut stop => stopping = true,
            }
        }
        Ok(())
    }
    .await;
    // The escalation e-mail being sent, if any, is sent and recorded (the
    // stop was given above); a minute at most, then it is cut short.
    let mut escalation = escalation;
    if tokio::time::timeout(Duration::from_secs(60), &mut escalation.0).await.is_err() {
        tracing::warn!("the escalation e-mails were still being sent when stopping: cut short");
    }
    drop(escalation);
    delivery.stop().await;
    match store.release_leases(&opts.lease.worker).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(worker = %opts.lease.worker, n, "leases given back"),
        Err(e) => tracing::warn!(error = %e, "could not give the leases back; they expire on their own"),
    }
    outcome
}

/// How long to wait after the `failures`-th failed cycle in a row: the poll
/// interval, doubled each time, at most five minutes.
fn retry_wait(poll: Duration, failures: u32) -> Duration {
    let doubled = poll.saturating_mul(1u32 << failures.saturating_sub(1).min(10));
    doubled.clamp(Duration::from_secs(1), Duration::from_secs(300))
}

/// The sentence encoder, when installed: it refines stored verdicts while
/// the collector waits for the next due source.
pub fn load_refiner(models: &ProjectModels) -> anyhow::Result<Option<Arc<Refiner>>> {
    Ok(match models.dir() {
        Some(dir) => Refiner::load(dir)?.map(Arc::new),
        None => None,
    })
}

/// The notification outbox's loop: sends the queued notifications every
/// second; a failing round is logged and the next one tries again.
pub struct DeliveryLoop {
    stop: StopSignal,
    task: AbortOnDrop,
}

impl DeliveryLoop {
    /// Once `stop` is given, the loop sends nothing more after the
    /// deliveries in flight (what is left waits in the outbox).
    pub fn spawn(
        store: DynStore,
        notifier: vigie_pipeline::notify_run::Notifier,
        lease: Lease,
        stop: StopSignal,
    ) -> DeliveryLoop {
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut failures: u32 = 0;
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        () = stop.stopped() => break,
                    }
                    let round = std::time::Instant::now();
                    // Each channel sends at least one per round, however slow
                    // the claim was; then the round ends after ROUND.
                    let enough = |sent: usize| {
                        stop.is_stopped() || (sent > 0 && round.elapsed() > vigie_pipeline::notify_run::ROUND)
                    };
                    match notifier.deliver_due_until(&store, Utc::now(), &lease, enough).await {
                        Ok(_) if failures > 0 => {
                            tracing::info!(failures, "notifications work again");
                            failures = 0;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            // The database away: said once, then again as
                            // the wait doubles (2 s, 4 s … 1 min), not every
                            // second.
                            failures += 1;
                            let wait = Duration::from_secs(1 << failures.min(6)).min(Duration::from_secs(60));
                            if failures.is_power_of_two() {
                                tracing::warn!(error = %e, failures, "could not send notifications; retrying");
                            }
                            tokio::select! {
                                () = tokio::time::sleep(wait) => {}
                                () = stop.stopped() => break,
                            }
                        }
                    }
                }
            }
        });
        DeliveryLoop { stop, task: AbortOnDrop(task) }
    }

    /// Stops after the notifications being sent, if any, are sent and
    /// recorded (within their channels' timeouts): aborted mid-send, a
    /// notification the receiver got would be sent again after a restart.
    /// (Dropped instead, the loop stops at once.)
    pub async fn stop(mut self) {
        self.stop.stop();
        if let Err(e) = (&mut self.task.0).await
            && !e.is_cancelled()
        {
            tracing::warn!(error = %e, "the notification loop failed while stopping");
        }
    }
}

/// Escalates overdue inbox items every minute, and sends the escalation
/// e-mails due (new ones and retries) when SMTP is configured, under the
/// process's `lease` (given back with its sources and deliveries, and taken
/// back from a dead process of this machine). Once `stop` is given, it
/// starts no new round: the one under way finishes and records what it sent.
pub fn spawn_escalation(
    store: DynStore,
    notifier: vigie_pipeline::notify_run::Notifier,
    lease: Lease,
    stop: StopSignal,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.stopped() => break,
            }
            match vigie_pipeline::routing::escalate_overdue(store.as_ref(), Utc::now()).await {
                Ok(escalated) if !escalated.is_empty() => {
                    tracing::info!(count = escalated.len(), "overdue inbox items escalated");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "escalation failed; retrying in a minute"),
            }
            // Without SMTP the e-mails wait (and are given up a day after
            // their escalation): the escalations are in the inbox anyway.
            if let Some(smtp) = &notifier.smtp {
                let base = notifier.base_url.as_deref();
                let sent = vigie_pipeline::routing::mail_escalations(
                    store.as_ref(),
                    smtp,
                    base,
                    notifier.zone,
                    Utc::now(),
                    &lease,
                )
                .await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "could not send the escalation e-mails; retrying in a minute");
                }
            }
        }
    })
}

/// Resolves at Ctrl-C (SIGINT) or SIGTERM (systemd, containers).
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        // Said at once: the work under way may take a while to finish.
        eprintln!(
            "stopping: finishing the work under way — fetches get 10 s, a notification being sent its \
             channel's timeout (Ctrl-C or SIGTERM again stops at once)"
        );
        // A second signal does not wait (what was leased comes back when the
        // leases expire, or at once when a process of the same kind starts
        // again on this machine).
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            eprintln!("stopped at once");
            std::process::exit(130);
        });
    })
}

pub fn print_report(out: &mut dyn Write, r: &CollectReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{} source(s) due: {} fetched, {} not modified, {} failed{}; {} item(s) read, {} new mention(s) stored",
        r.sources,
        r.fetched,
        r.not_modified,
        r.failed,
        if r.not_started > 0 { format!(", {} left for the next start", r.not_started) } else { String::new() },
        r.items,
        r.stored
    )
}

pub async fn run(app: &App, args: WorkerArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.lease_secs < 2 {
        return usage("--lease must be at least 2 seconds (it is renewed every third of it)");
    }
    if args.poll_secs < 1 {
        return usage("--poll must be at least 1 second");
    }
    let duration = Duration::from_secs(args.lease_secs);
    let lease = match args.name.as_deref().map(str::trim) {
        Some("") => return usage("--name must not be empty"),
        Some(name) if name.len() > 100 || name.chars().any(char::is_control) => {
            return usage("--name is 1 to 100 printable characters");
        }
        Some(name) => {
            // Leases are by name: two live workers under one name would
            // both work on what either holds.
            if app.store.lease_holders(name).await.is_ok_and(|holders| holders.iter().any(|h| h == name)) {
                eprintln!(
                    "warning: sources or notifications are leased to a worker named {name:?}: if another worker \
                     runs under this name, stop one of them or give each its own --name (a worker that stopped \
                     without giving them back is taken over under the same name, which is fine)"
                );
            }
            Lease { worker: name.to_string(), duration }
        }
        None => {
            // What a killed worker of this machine held is taken back at once.
            release_dead_local_leases(&app.store, "worker").await;
            Lease::for_process("worker", duration)
        }
    };
    let stop = shutdown_signal()?;
    writeln!(out, "worker {} running (lease {} s); press Ctrl-C to stop", lease.worker, args.lease_secs)?;
    out.flush()?;
    let opts = LoopOptions {
        lease,
        per_cycle: 2 * vigie_pipeline::collect_run::CONCURRENT_FETCHES as i64,
        poll: Duration::from_secs(args.poll_secs),
        stories: StoryIndexes::default(),
    };
    let models = app.models();
    let refiner = load_refiner(&models)?;
    let result = run_loops(app.store.clone(), models, refiner, opts, stop, |r: &CollectReport| {
        if let Err(e) = print_report(out, r).and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "cannot write the cycle's report");
        }
    })
    .await;
    result?;
    writeln!(out, "stopped")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_cycles_wait_longer_each_time_up_to_five_minutes() {
        let poll = Duration::from_secs(5);
        let waits: Vec<u64> = (1..=9).map(|n| retry_wait(poll, n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(retry_wait(Duration::from_millis(10), 1), Duration::from_secs(1));
        assert_eq!(retry_wait(poll, 1_000), Duration::from_secs(300));
    }
}

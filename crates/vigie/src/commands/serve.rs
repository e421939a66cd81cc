//! `vigie serve`: the HTTP server (the push API).

use std::io::Write;

use anyhow::Context as _;
use vigie_pipeline::stories::StoryIndexes;
use vigie_web::AppState;

use crate::app::{App, usage};
use crate::cli::ServeArgs;

pub async fn run(app: &App, args: ServeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let listener = match tokio::net::TcpListener::bind(args.listen.trim()).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            return usage(format!("--listen {:?}: expected ADDRESS:PORT, e.g. 127.0.0.1:8080 ({e})", args.listen));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot listen on {}", args.listen)),
    };
    let address = listener.local_addr()?;
    writeln!(out, "listening on http://{address} (push API: POST /api/v1/ingest); press Ctrl-C to stop")?;
    out.flush()?;
    let state = AppState { store: app.store.clone(), models: app.models(), stories: StoryIndexes::default() };
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
    let _delivery = crate::commands::collect::AbortOnDrop(crate::commands::collect::spawn_delivery(
        app.store.clone(),
        crate::commands::collect::notifier()?,
    ));
    vigie_web::serve(listener, state, shutdown).await.context("the server stopped")?;
    writeln!(out, "stopped")?;
    Ok(())
}

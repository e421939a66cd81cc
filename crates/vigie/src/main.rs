//! The `vigie` binary: command-line parsing, wiring, exit codes.
//!
//! Exit codes: 0 when everything worked, 1 when something failed (including an
//! import with rejected lines), 2 when the command itself was wrong (unknown
//! flag, invalid query or duration, unknown watch or source). `collect --once`
//! exits 0 when some sources failed: their failures are recorded on the
//! sources (`vigie source list`), which is where they are looked after; it
//! exits 1 when every source it fetched failed. Output cut short by its
//! reader (`vigie export | head`) ends quietly, as other tools do.

mod app;
mod bench_synth;
mod cli;
mod commands;
mod embed_cache;
mod output;
mod report;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::app::{App, UsageError};
use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of the output went away (`| head`): not an error of ours.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() { ExitCode::from(2) } else { ExitCode::FAILURE }
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr();
    let out: &mut dyn Write = &mut stdout;
    // Benchmarks and evaluations work in their own directories, not on a project.
    let models_dir = app::models_dir(&cli.global.data_dir, cli.global.models_dir.as_deref());
    let command = match cli.command {
        Command::Bench(cmd) => return commands::bench::run(cmd, &models_dir, out).await,
        Command::Eval(cmd) => return commands::eval::run(cmd, &models_dir, out),
        Command::Detect(args) => return commands::detect::run(args, out),
        Command::Analyze(args) => {
            return commands::analyze::run(args, &models_dir, out, &mut stderr);
        }
        Command::Models(cmd @ cli::ModelsCommand::Install { .. }) => {
            return commands::models::run(&models_dir, None, cmd, out).await;
        }
        Command::Train(cli::TrainCommand::Sentiment(args)) if args.shipped => {
            return commands::train::shipped(args, &models_dir, out);
        }
        // Copies the whole store, not a project.
        Command::Migrate(args) => {
            return commands::migrate::run(&cli.global.data_dir, cli.global.database_url.as_deref(), args, out).await;
        }
        other => other,
    };
    let project = match (&command, cli.global.project.as_str()) {
        (Command::Demo(_), "default") => commands::demo::DEMO_PROJECT,
        (_, name) => name,
    };
    // Commands that add data create their project; the others need it to
    // exist, so a mistyped --project is an error (not a role, a token or a
    // channel in a new empty project); installation commands create none.
    let creates = matches!(
        command,
        Command::Demo(_) | Command::Import(_) | Command::Collect(_) | Command::Watch(cli::WatchCommand::Add { .. })
    ) || matches!(&command, Command::Source(source) if matches!(**source, cli::SourceCommand::Add(_)));
    let configures = matches!(
        command,
        Command::Token(cli::TokenCommand::Create { .. })
            | Command::Notify(cli::NotifyCommand::Webhook { .. } | cli::NotifyCommand::Email { .. })
            | Command::Theme(cli::ThemeCommand::Add { .. })
            | Command::Alert(cli::AlertCommand::Settings { .. })
    );
    let project_use = if creates {
        app::ProjectUse::Creates
    } else if configures {
        app::ProjectUse::Configures
    } else if matches!(
        command,
        Command::Serve(_)
            | Command::Worker(_)
            | Command::User(_)
            | Command::Models(_)
            | Command::Notify(cli::NotifyCommand::Send)
    ) {
        app::ProjectUse::Installation
    } else {
        app::ProjectUse::Reads
    };
    // A new installation's web app opens on an empty `default` project, and
    // a role can be given in it.
    let create_default = matches!(
        command,
        Command::Serve(_) | Command::User(cli::UserCommand::Add { role: Some(_), .. } | cli::UserCommand::Role { .. })
    );
    // A mistyped VIGIE_TIMEZONE stops the commands that write times for
    // people before they open (or create) anything.
    if matches!(command, Command::Serve(_) | Command::Worker(_) | Command::Collect(_) | Command::Demo(_)) {
        app::installation_zone()?;
    }
    let app = App::open(
        &cli.global.data_dir,
        models_dir.clone(),
        project,
        project_use,
        create_default,
        cli.global.database_url.as_deref(),
    )
    .await?;
    let result = match command {
        Command::Demo(args) => commands::demo::run(&app, args, out, &mut stderr).await,
        Command::Watch(cmd) => commands::watch::run(&app, cmd, out).await,
        Command::Source(cmd) => commands::source::run(&app, *cmd, out).await,
        Command::Import(args) => commands::import::run(&app, args, out, &mut stderr).await,
        Command::Collect(args) => commands::collect::run(&app, args, out).await,
        Command::Search(args) => commands::search::run(&app, args, out).await,
        Command::Export(args) => commands::export::run(&app, args, out).await,
        Command::Mention(cmd) => commands::mention::run(&app, cmd, out).await,
        Command::Theme(cmd) => commands::theme::run(&app, cmd, out).await,
        Command::Refine(args) => commands::models::refine(&app, args, out).await,
        Command::Reanalyze(args) => commands::reanalyze::run(&app, args, out).await,
        Command::Models(cmd) => commands::models::run(&models_dir, Some(&app), cmd, out).await,
        Command::Train(cli::TrainCommand::Sentiment(args)) => commands::train::project(&app, args, out).await,
        Command::Token(cmd) => commands::token::run(&app, cmd, out).await,
        Command::Alert(cmd) => commands::alert::run(&app, cmd, out).await,
        Command::Notify(cmd) => commands::alert::notify(&app, cmd, out).await,
        Command::Backtest(args) => commands::alert::backtest_run(&app, args, out).await,
        Command::Serve(args) => commands::serve::run(&app, args, None, out).await,
        Command::Worker(args) => commands::worker::run(&app, args, out).await,
        Command::User(cmd) => commands::user::run(&app, cmd, out).await,
        Command::Bench(_) | Command::Eval(_) | Command::Analyze(_) | Command::Detect(_) | Command::Migrate(_) => {
            unreachable!("handled above")
        }
    };
    app.store.close().await;
    out.flush()?;
    result
}

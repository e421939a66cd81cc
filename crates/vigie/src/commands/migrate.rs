//! `vigie migrate --to postgres://…`: the installation's SQLite store copied
//! into an empty PostgreSQL database (the copy itself is
//! `vigie_store::migrate`: one transaction, streamed, checked table by table).

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vigie_store::migrate::{MigrateReport, Progress};
use vigie_store::{PgStore, SqliteStore, Store, StoreError};

use crate::app::usage;
use crate::cli::MigrateArgs;

pub async fn run(
    data_dir: &Path,
    database_url: Option<&str>,
    args: MigrateArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if database_url.map(str::trim).is_some_and(|u| !u.is_empty()) {
        return usage(
            "vigie migrate copies the SQLite store of --data-dir; --database-url / VIGIE_DATABASE_URL \
             names a PostgreSQL database already (unset it, and give the target with --to)",
        );
    }
    let to = args.to.trim();
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return usage(format!("--to must be a postgres:// URL, not {to:?}"));
    }
    let db = data_dir.join("vigie.db");
    let moved = data_dir.join(crate::app::MOVED_FILE);
    if moved.exists() {
        let note = std::fs::read_to_string(&moved).unwrap_or_default();
        return usage(format!(
            "{} Migrating that copy again would bring back what it held then; if that is what you want, delete {} \
             first.",
            note.trim(),
            moved.display()
        ));
    }
    if !db.is_file() {
        return usage(format!("there is no SQLite store to migrate at {} (see --data-dir)", db.display()));
    }
    let source = SqliteStore::open(&db).await.with_context(|| format!("cannot open the database {}", db.display()))?;
    let target = match PgStore::connect(to).await {
        Ok(t) => t,
        Err(e) => {
            source.close().await;
            return Err(e).context("cannot open the PostgreSQL database given by --to");
        }
    };
    let bar = ProgressBar::with_draw_target(
        None,
        if args.quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() },
    );
    bar.set_style(
        ProgressStyle::with_template("{prefix:>22} {bar:30} {pos}/{len} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Not on a terminal (a log file, nohup, CI), the bar draws nothing: a
    // line per table says where the copy is instead.
    let lines = !args.quiet && !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut on_progress = |p: Progress<'_>| match p {
        Progress::Copy { table, rows } if lines => eprintln!("copying {table} ({rows} rows)"),
        Progress::Verify { table, rows } if lines => eprintln!("checking {table} ({rows} rows)"),
        Progress::Copy { table, rows } => {
            bar.reset();
            bar.set_length(rows);
            bar.set_prefix(table.to_string());
            bar.set_message("copying");
        }
        Progress::Verify { table, rows } => {
            bar.reset();
            bar.set_length(rows);
            bar.set_prefix(table.to_string());
            bar.set_message("checking");
        }
        Progress::Copied { rows } | Progress::Verified { rows } => bar.inc(rows),
    };
    let result = vigie_store::migrate::migrate(&source, &target, &mut on_progress).await;
    bar.finish_and_clear();
    source.close().await;
    target.close().await;
    let report = match result {
        Ok(report) => report,
        Err(StoreError::Conflict(message)) => return usage(message),
        Err(e) => return Err(e).context("the migration failed and was rolled back: the target holds nothing"),
    };
    print_report(out, &report)?;
    if !report.committed {
        anyhow::bail!(
            "the copy does not match the source (see the tables marked DIFFERS): rolled back, the target holds nothing"
        );
    }
    let moved = data_dir.join(crate::app::MOVED_FILE);
    let note = format!(
        "This installation moved to PostgreSQL ({}) on {} with `vigie migrate`: {} is the copy it was then.\n",
        redacted(to),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        db.display()
    );
    std::fs::write(&moved, note).with_context(|| format!("migrated, but cannot write {}", moved.display()))?;
    writeln!(
        out,
        "migrated: every table matches. Use --database-url {} (or VIGIE_DATABASE_URL) from now on; commands \
         without it now refuse the SQLite copy in {} ({} says so).",
        redacted(to),
        data_dir.display(),
        crate::app::MOVED_FILE
    )?;
    Ok(())
}

fn print_report(out: &mut dyn Write, report: &MigrateReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<22} {:>10} {:>10}  {:<16} {:<16}  check",
        "table", "source", "target", "source sha256", "target sha256"
    )?;
    for t in &report.tables {
        writeln!(
            out,
            "{:<22} {:>10} {:>10}  {:<16} {:<16}  {}",
            t.table,
            t.source_rows,
            t.target_rows,
            &t.source_sha256[..16.min(t.source_sha256.len())],
            &t.target_sha256[..16.min(t.target_sha256.len())],
            if t.matches() { "ok" } else { "DIFFERS" }
        )?;
    }
    Ok(())
}

/// The URL without its password, for printing.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

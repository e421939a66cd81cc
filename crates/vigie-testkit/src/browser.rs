//! A headless Chromium driven through chromedriver (WebDriver), for the
//! end-to-end tests of the web UI.
//!
//! [`Browser::start`] runs its own chromedriver on 127.0.0.1 (on a port that
//! chromedriver picks) and opens one Chromium session (fresh profile in a temporary
//! directory, window 1280×900). Everything is torn down when the `Browser` is
//! closed or dropped.
//!
//! The browser is optional on a developer's machine: without `chromium` and
//! `chromedriver` (Debian's `chromium` and `chromium-driver` packages),
//! `start` prints `browser tests skipped: …` to stderr and returns `Ok(None)`,
//! and the test returns early (passes). With the environment variable `CI`
//! set (to anything but `""`, `0` or `false`) a missing browser is an error:
//! CI must run them. `VIGIE_CHROMIUM` and `VIGIE_CHROMEDRIVER` name other
//! binaries than the ones found on `PATH`.
//!
//! ```no_run
//! # async fn t() -> anyhow::Result<()> {
//! use vigie_testkit::browser::Browser;
//! let Some(browser) = Browser::start().await? else { return Ok(()) };
//! browser.goto("http://127.0.0.1:8080/login").await?;
//! browser.fill("input[name=user]", "ada").await?;
//! browser.submit("button[type=submit]").await?;
//! assert!(browser.text("h1").await?.contains("Inbox"));
//! browser.close().await
//! # }
//! ```
//!
//! # Detecting script injection (XSS)
//!
//! Two mechanisms, best used together, plus a marker of the test's own:
//!
//! * **Dialogs left open.** The session is created with
//!   `unhandledPromptBehavior: "ignore"`: an `alert()`/`confirm()`/`prompt()`
//!   that the page opens stays open instead of being dismissed by the next
//!   command, and [`Browser::dialog_open`] tells whether one is open. This
//!   catches a payload that runs while the page loads, before any script of
//!   the test could run. While a dialog is open the other commands fail with
//!   "unexpected alert open": [`Browser::dismiss_dialog`] closes it.
//! * **A trap.** [`Browser::install_xss_trap`] replaces `alert`, `confirm` and
//!   `prompt` by a counter that [`Browser::xss_count`] reads. It lives in the
//!   page's `window`, so it must be installed again after every navigation,
//!   and it sees only what runs after it was installed (a payload that fires
//!   later: on a click, on content loaded by script).
//! * **A marker.** A payload need not call `alert`: tests should also inject
//!   payloads that set a global (`<img src=x onerror="window.__pwned=1">`) and
//!   check it with [`Browser::global_is_set`].

use std::fs::File;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The window size the browser starts with.
pub const DESKTOP_SIZE: (u32, u32) = (1280, 900);
/// The window size [`Browser::set_mobile`] sets (a phone, portrait).
pub const MOBILE_SIZE: (u32, u32) = (390, 844);

/// How long a page may take to load, a script to run.
const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long chromedriver may take to listen.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(15);

/// A headless Chromium session; see the [module documentation](self).
pub struct Browser {
    client: Client,
    session_id: Option<String>,
    // Dropped after `client` (fields drop in order): the profile directory
    // is removed once the driver, and with it Chromium, is gone.
    driver: Driver,
    dir: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free 127.0.0.1 port and a headless Chromium
    /// session. `Ok(None)`, after a line `browser tests skipped: …` on
    /// stderr, when Chromium or chromedriver is not installed and `CI` is
    /// not set; an error when `CI` is set.
    pub async fn start() -> Result<Option<Browser>> {
        let found = (find_chromium(), find_binary("VIGIE_CHROMEDRIVER", &["chromedriver"]));
        let (chromium, chromedriver) = match found {
            (Some(c), Some(d)) => (c, d),
            (c, d) => {
                let missing: Vec<&str> = [(c.is_none(), "chromium"), (d.is_none(), "chromedriver")]
                    .into_iter()
                    .filter_map(|(m, name)| m.then_some(name))
                    .collect();
                let why = format!(
                    "{} not found (Debian: apt-get install chromium chromium-driver; \
                     or set VIGIE_CHROMIUM / VIGIE_CHROMEDRIVER)",
                    missing.join(" and ")
                );
                if in_ci() {
                    bail!("CI is set and the browser tests must run, but {why}");
                }
                // Straight to stderr: the test harness captures eprintln!
                // of passing tests, and a skip should be seen.
                let _ = writeln!(std::io::stderr(), "browser tests skipped: {why}");
                return Ok(None);
            }
        };
        let dir = tempfile::Builder::new().prefix("vigie-browser-").tempdir().context("browser temporary directory")?;
        // Chromium's start-up fails now and then on a loaded machine ("Chrome
        // failed to start", "DevToolsActivePort file doesn't exist"): up to
        // three tries, each with a new chromedriver and a fresh profile.
        let mut failures = Vec::new();
        for attempt in 1..=3 {
            let log = dir.path().join(format!("chromedriver-{attempt}.log"));
            let driver = match Driver::start(&chromedriver, &log).await {
                Ok(driver) => driver,
                Err(e) => {
                    failures.push(format!("try {attempt}: {e:#}"));
                    let _ = writeln!(std::io::stderr(), "browser start-up, try {attempt} failed: {e:#}");
                    continue;
                }
            };
            let profile = dir.path().join(format!("profile-{attempt}"));
            match connect(driver.port, &chromium, &profile).await {
                Ok(client) => {
                    let session_id = client.session_id().await.ok().flatten();
                    return Ok(Some(Browser { client, session_id, driver, dir }));
                }
                Err(e) => {
                    let _ = writeln!(std::io::stderr(), "browser start-up, try {attempt} failed: {e:#}");
                    failures.push(format!("try {attempt}: {e:#}; chromedriver's log:\n{}", driver.log_tail()));
                }
            }
        }
        bail!("no Chromium session ({} with {}):\n{}", chromedriver.display(), chromium.display(), failures.join("\n"))
    }

    /// The WebDriver client, for what this harness does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The temporary directory of this browser (profile, chromedriver's log):
    /// a place for screenshots and downloads, removed with the browser.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Opens `url` (absolute, or relative to the current page) and waits for
    /// its load. A dialog that the page opens while loading is no error: it
    /// stays open for [`Browser::dialog_open`].
    pub async fn goto(&self, url: &str) -> Result<()> {
        match self.client.goto(url).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_unexpected_alert_open() => Ok(()),
            Err(e) => Err(e).with_context(|| format!("goto {url}")),
        }
    }

    /// The URL of the current page.
    pub async fn url(&self) -> Result<String> {
        Ok(self.client.current_url().await.context("current URL")?.to_string())
    }

    /// The first element matching the CSS selector, now (no waiting).
    pub async fn find(&self, css: &str) -> Result<Element> {
        self.client.find(Locator::Css(css)).await.with_context(|| format!("no element matches {css:?}"))
    }

    /// All elements matching the CSS selector.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        self.client.find_all(Locator::Css(css)).await.with_context(|| format!("find all {css:?}"))
    }

    /// Clears the `<input>` or `<textarea>` and types `value` into it.
    pub async fn fill(&self, css: &str, value: &str) -> Result<()> {
        let field = self.find(css).await?;
        field.clear().await.with_context(|| format!("clear {css:?}"))?;
        field.send_keys(value).await.with_context(|| format!("type into {css:?}"))?;
        Ok(())
    }

    /// Chooses the `<option>` with this `value` in the `<select>`.
    pub async fn select(&self, css: &str, value: &str) -> Result<()> {
        let select = self.find(css).await?;
        let option = format!("option[value=\"{}\"]", css_string(value));
        let option = select
            .find(Locator::Css(&option))
            .await
            .with_context(|| format!("no option with value {value:?} in {css:?}"))?;
        option.click().await.with_context(|| format!("choose {value:?} in {css:?}"))
    }

    /// Clicks the element; if that starts a navigation (a link, a form's
    /// submit button), waits until the new page has loaded. A navigation
    /// that starts later (a script's timer) is not waited for: use
    /// [`Browser::wait_for`]; for a click that must navigate (a form's
    /// submit button), [`Browser::submit`] waits for the new page whenever
    /// it starts.
    pub async fn click(&self, css: &str) -> Result<()> {
        self.click_then(css, false).await
    }

    /// Clicks an element that must lead to a new page (a form's submit
    /// button) and waits until that page has loaded, however late the
    /// navigation starts: what the server did for it is done on return.
    pub async fn submit(&self, css: &str) -> Result<()> {
        self.click_then(css, true).await
    }

    async fn click_then(&self, css: &str, must_navigate: bool) -> Result<()> {
        static CLICKS: AtomicU64 = AtomicU64::new(0);
        let token = format!("{}-{}", std::process::id(), CLICKS.fetch_add(1, Ordering::Relaxed));
        let element = self.find(css).await?;
        self.client
            .execute("window.__vigieClick = arguments[0];", vec![json!(token)])
            .await
            .context("mark the page before a click")?;
        match element.click().await {
            Ok(()) => {}
            Err(e) if e.is_unexpected_alert_open() => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("click {css:?}")),
        }
        // chromedriver itself waits for a navigation the click started; the
        // new document then lacks the mark, and must have loaded.
        let deadline = Instant::now() + PAGE_LOAD_TIMEOUT;
        loop {
            let state = self
                .client
                .execute("return [window.__vigieClick === arguments[0], document.readyState];", vec![json!(token)])
                .await;
            match state {
                // Still the old document: done, unless a new page must come.
                Ok(v) if v[0] == json!(true) && !must_navigate => return Ok(()),
                Ok(v) if v[0] != json!(true) && v[1] == json!("complete") => return Ok(()),
                Ok(_) => {}
                Err(e) if e.is_unexpected_alert_open() => return Ok(()),
                // The document went away under the script: still navigating.
                Err(e) if Instant::now() < deadline && is_transient(&e) => {}
                Err(e) => return Err(e).with_context(|| format!("page after clicking {css:?}")),
            }
            if Instant::now() >= deadline {
                bail!("the page did not finish loading within {PAGE_LOAD_TIMEOUT:?} after clicking {css:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The `innerText` of the first element matching the CSS selector (the
    /// text as rendered: hidden elements left out, white space collapsed).
    pub async fn text(&self, css: &str) -> Result<String> {
        let v = self
            .client
            .execute("const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", vec![json!(css)])
            .await
            .with_context(|| format!("text of {css:?}"))?;
        match v {
            Value::String(s) => Ok(s),
            _ => bail!("no element matches {css:?}"),
        }
    }

    /// The current page's source (the DOM as serialised now, not the bytes
    /// the server sent).
    pub async fn html(&self) -> Result<String> {
        self.client.source().await.context("page source")
    }

    /// Waits until an element matches the CSS selector, at most `timeout`.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element> {
        self.client
            .wait()
            .at_most(timeout)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("no element matches {css:?} within {timeout:?}"))
    }

    /// Runs `js` as the body of a function in the page, and returns what it
    /// `return`s (`null` without a `return`).
    pub async fn eval(&self, js: &str) -> Result<Value> {
        self.client.execute(js, Vec::new()).await.context("execute script")
    }

    /// Saves a PNG of the viewport to `path` (for debugging a failing test).
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let png = self.client.screenshot().await.context("screenshot")?;
        std::fs::write(path, png).with_context(|| format!("write {}", path.display()))
    }

    /// Resizes the window to a phone's, [`MOBILE_SIZE`] (390×844).
    pub async fn set_mobile(&self) -> Result<()> {
        self.set_size(MOBILE_SIZE).await
    }

    /// Resizes the window back to [`DESKTOP_SIZE`] (1280×900).
    pub async fn set_desktop(&self) -> Result<()> {
        self.set_size(DESKTOP_SIZE).await
    }

    async fn set_size(&self, (width, height): (u32, u32)) -> Result<()> {
        self.client.set_window_size(width, height).await.with_context(|| format!("resize to {width}x{height}"))
    }

    /// Replaces `alert`, `confirm` and `prompt` in the current page by a
    /// counter ([`Browser::xss_count`]). Install it after every navigation;
    /// it does not see what ran before (see the module documentation).
    pub async fn install_xss_trap(&self) -> Result<()> {
        self.eval("window.__xss = 0; window.alert = window.confirm = window.prompt = function () { window.__xss++; };")
            .await
            .context("install the XSS trap")?;
        Ok(())
    }

    /// How many times the page called `alert`/`confirm`/`prompt` since
    /// [`Browser::install_xss_trap`]. An error when the trap is not
    /// installed in the current page (a navigation removes it): a silent 0
    /// would let an XSS test pass for the wrong reason.
    pub async fn xss_count(&self) -> Result<i64> {
        match self.eval("return window.__xss === undefined ? null : window.__xss;").await? {
            Value::Number(n) => n.as_i64().ok_or_else(|| anyhow!("window.__xss is {n}")),
            _ => bail!("the XSS trap is not installed in this page (install_xss_trap after each navigation)"),
        }
    }

    /// Whether `window[name]` is defined in the current page (a payload's
    /// marker, e.g. `__pwned`).
    pub async fn global_is_set(&self, name: &str) -> Result<bool> {
        let v = self
            .client
            .execute("return typeof window[arguments[0]] !== 'undefined';", vec![json!(name)])
            .await
            .with_context(|| format!("check window.{name}"))?;
        Ok(v == json!(true))
    }

    /// Whether a JavaScript dialog (`alert`, `confirm`, `prompt`) is open
    /// now. Dialogs are never dismissed by the harness (see the module
    /// documentation); one that a script opens later is not seen yet.
    pub async fn dialog_open(&self) -> bool {
        self.client.get_alert_text().await.is_ok()
    }

    /// The text of the open dialog, if one is open.
    pub async fn dialog_text(&self) -> Option<String> {
        self.client.get_alert_text().await.ok()
    }

    /// Dismisses the open dialog; `false` when none was open.
    pub async fn dismiss_dialog(&self) -> bool {
        self.client.dismiss_alert().await.is_ok()
    }

    /// Ends the session (Chromium quits), then chromedriver.
    pub async fn close(mut self) -> Result<()> {
        self.session_id = None;
        let closed = self.client.clone().close().await;
        self.driver.stop();
        closed.context("close the browser session")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Not closed: ask chromedriver to end the session (it quits Chromium),
        // synchronously since Drop cannot wait for the client's task. The
        // driver is killed next in any case.
        if let Some(id) = self.session_id.take() {
            delete_session(self.driver.port, &id);
        }
    }
}

/// `true` when `CI` is set to something other than `""`, `0` or `false`.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"))
}

/// The Chromium binary: `VIGIE_CHROMIUM`, else Debian's real binary (its
/// `/usr/bin/chromium` is a shell wrapper), else one on `PATH`.
fn find_chromium() -> Option<PathBuf> {
    if std::env::var_os("VIGIE_CHROMIUM").is_none() {
        let debian = Path::new("/usr/lib/chromium/chromium");
        if is_executable(debian) {
            return Some(debian.to_path_buf());
        }
    }
    find_binary("VIGIE_CHROMIUM", &["chromium", "chromium-browser", "google-chrome-stable", "google-chrome"])
}

/// The path in environment variable `var` if set (and executable), else the
/// first of `names` found on `PATH`.
fn find_binary(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return is_executable(&path).then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_executable(p)))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A chromedriver process, killed on drop.
struct Driver {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl Driver {
    /// Runs chromedriver on a port of its choosing (`--port=0`: no race for
    /// a free port), read from its first lines.
    async fn start(binary: &Path, log: &Path) -> Result<Driver> {
        let out = File::create(log).with_context(|| format!("create {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new(binary)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("run {}", binary.display()))?;
        let mut driver = Driver { child: Some(child), port: 0, log: log.to_path_buf() };
        let deadline = Instant::now() + DRIVER_START_TIMEOUT;
        loop {
            // "ChromeDriver was started successfully on port 45667."
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let port = text.lines().find_map(|line| {
                let rest = line.strip_prefix("ChromeDriver was started successfully on port ")?;
                rest.trim_end().trim_end_matches('.').parse::<u16>().ok()
            });
            if let Some(port) = port.filter(|&p| p != 0) {
                driver.port = port;
                return Ok(driver);
            }
            if let Some(child) = &mut driver.child
                && let Some(status) = child.try_wait()?
            {
                bail!("chromedriver exited at start-up ({status}); its log:\n{}", driver.log_tail());
            }
            if Instant::now() >= deadline {
                bail!("chromedriver did not start within {DRIVER_START_TIMEOUT:?}; its log:\n{}", driver.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Opens a WebDriver session on the chromedriver at `port`.
async fn connect(port: u16, chromium: &Path, profile: &Path) -> Result<Client> {
    let (width, height) = DESKTOP_SIZE;
    let args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-extensions".into(),
        "--no-first-run".into(),
        "--no-default-browser-check".into(),
        "--password-store=basic".into(),
        format!("--window-size={width},{height}"),
        format!("--user-data-dir={}", profile.display()),
    ];
    let ms = |d: Duration| d.as_millis() as u64;
    let capabilities = json!({
        "browserName": "chrome",
        "pageLoadStrategy": "normal",
        "unhandledPromptBehavior": "ignore",
        "timeouts": { "pageLoad": ms(PAGE_LOAD_TIMEOUT), "script": ms(PAGE_LOAD_TIMEOUT), "implicit": 0 },
        "goog:chromeOptions": { "binary": chromium.display().to_string(), "args": args },
    });
    let Value::Object(capabilities) = capabilities else { unreachable!("a JSON object") };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .context("new WebDriver session")?;
    Ok(client)
}

/// Ends a WebDriver session with a blocking `DELETE /session/{id}`.
fn delete_session(port: u16, id: &str) {
    use std::io::Read;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else { return };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        // chromedriver answers once Chromium has quit.
        let _ = stream.read(&mut [0u8; 1024]);
    }
}

/// An error of a command that ran while the document was being replaced.
fn is_transient(e: &CmdError) -> bool {
    e.is_javascript_error() || e.is_stale_element_reference() || e.is_no_such_window() || e.is_no_such_frame()
}

/// `s` escaped for a double-quoted CSS string.
fn css_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\a "),
            c => out.push(c),
        }
    }
    out
}

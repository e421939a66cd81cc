//! The headless-Chromium harness against pages of the loopback test server.
//! Each test passes, after saying why on stderr, where no browser is
//! installed and `CI` is not set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use vigie_testkit::browser::Browser;
use vigie_testkit::http::{Request, Response, TestServer};

fn html(body: &str) -> Response {
    let page =
        format!("<!doctype html><html><head><meta charset=utf-8><title>t</title></head><body>{body}</body></html>");
    Response::ok(page).header("Content-Type", "text/html; charset=utf-8")
}

/// `application/x-www-form-urlencoded` → (name, value) pairs.
fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && let Some(b) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn form_site(request: &Request) -> Response {
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/") => html(
            r#"<h1>New watch</h1>
            <form method="post" action="/watches">
              <input name="name" value="placeholder">
              <textarea name="terms"></textarea>
              <select name="lang"><option value="en">English</option><option value="fr">Français</option><option value='x"y'>quoted</option></select>
              <button type="submit" id="save">Save</button>
            </form>
            <button id="local" onclick="document.getElementById('out').textContent = 'clicked'">Local</button>
            <p id="out"></p>"#,
        ),
        ("POST", "/watches") => {
            // A slow server: the click must wait for the new page.
            std::thread::sleep(Duration::from_millis(300));
            let fields = form_fields(&request.body);
            let items: String = fields
                .iter()
                .map(|(k, v)| format!("<li id=\"f-{}\">{}={}</li>", escape(k), escape(k), escape(v)))
                .collect();
            html(&format!("<h1 id=saved>Saved</h1><ul>{items}</ul>"))
        }
        _ => Response::new(404).body("not found"),
    }
}

#[tokio::test]
async fn fills_a_form_submits_it_and_reads_the_result() -> anyhow::Result<()> {
    let Some(browser) = Browser::start().await? else { return Ok(()) };
    let server = TestServer::start(form_site);

    browser.goto(&server.url("/")).await?;
    assert_eq!(browser.text("h1").await?, "New watch");
    browser.fill("input[name=name]", "Acme & co <b>").await?;
    browser.fill("textarea[name=terms]", "acme\nacme corp").await?;
    browser.select("select[name=lang]", "fr").await?;

    // A click that does not navigate returns at once.
    browser.click("#local").await?;
    assert_eq!(browser.text("#out").await?, "clicked");

    // A submit button: `submit` waits for the new page however late the
    // navigation starts (`click` may return while the old page is still
    // shown: chromedriver does not always see the navigation start).
    browser.submit("#save").await?;
    assert_eq!(browser.text("h1").await?, "Saved");
    assert!(browser.url().await?.ends_with("/watches"));
    assert_eq!(browser.text("#f-name").await?, "name=Acme & co <b>");
    // (innerText: the line break, CRLF once submitted, shows as a space)
    assert_eq!(browser.text("#f-terms").await?, "terms=acme acme corp");
    assert_eq!(browser.text("#f-lang").await?, "lang=fr");
    assert!(browser.html().await?.contains("Acme &amp; co &lt;b&gt;"));
    let posted = server.requests_to("/watches");
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].method, "POST");
    let fields = form_fields(&posted[0].body);
    assert!(fields.contains(&("terms".to_string(), "acme\r\nacme corp".to_string())), "{fields:?}");
    assert!(fields.contains(&("name".to_string(), "Acme & co <b>".to_string())), "{fields:?}");

    // A value that needs escaping in the option selector.
    browser.goto(&server.url("/")).await?;
    browser.select("select[name=lang]", "x\"y").await?;
    assert_eq!(browser.eval("return document.querySelector('select').value;").await?, "x\"y");

    assert!(browser.text("#nothing").await.is_err());
    assert!(browser.wait_for("#nothing", Duration::from_millis(200)).await.is_err());
    browser.close().await
}

#[tokio::test]
async fn waits_for_content_added_by_script_and_resizes() -> anyhow::Result<()> {
    let Some(browser) = Browser::start().await? else { return Ok(()) };
    let server = TestServer::start(|_| {
        html(
            r#"<div id=root></div>
            <script>setTimeout(() => { document.getElementById('root').innerHTML = '<p class=late>late</p>'; }, 400);</script>"#,
        )
    });
    browser.goto(&server.url("/")).await?;
    let late = browser.wait_for("p.late", Duration::from_secs(10)).await?;
    assert_eq!(late.text().await?, "late");

    assert_eq!(browser.eval("return window.innerWidth;").await?, 1280);
    browser.set_mobile().await?;
    assert_eq!(browser.eval("return window.innerWidth;").await?, 390);
    assert!(browser.eval("return window.matchMedia('(max-width: 600px)').matches;").await? == true);
    browser.set_desktop().await?;
    assert_eq!(browser.eval("return window.innerWidth;").await?, 1280);

    let png = browser.dir().join("page.png");
    browser.screenshot(&png).await?;
    assert!(std::fs::read(&png)?.starts_with(b"\x89PNG"));
    browser.close().await
}

fn xss_site(request: &Request) -> Response {
    let payload = "<img src=x onerror=alert(1)>";
    let marker = "<img src=x onerror=\"window.__pwned=1\">";
    match request.path.as_str() {
        "/raw" => html(&format!("<p>Mention: {payload}</p>")),
        "/escaped" => html(&format!("<p>Mention: {}</p>", escape(payload))),
        "/raw-marker" => html(&format!("<p>Mention: {marker}</p>")),
        "/escaped-marker" => html(&format!("<p>Mention: {}</p>", escape(marker))),
        "/later" => html(&format!(
            "<p id=mention></p><button id=show onclick=\"document.getElementById('mention').innerHTML = {}\">Show</button>",
            escape(&format!("'{payload}'"))
        )),
        _ => Response::new(404).body("not found"),
    }
}

#[tokio::test]
async fn detects_script_injection() -> anyhow::Result<()> {
    let Some(browser) = Browser::start().await? else { return Ok(()) };
    let server = TestServer::start(xss_site);

    // Escaped: shown as text, no dialog.
    browser.goto(&server.url("/escaped")).await?;
    assert!(!browser.dialog_open().await);
    assert_eq!(browser.text("p").await?, "Mention: <img src=x onerror=alert(1)>");

    // Raw: the payload runs while the page loads; the dialog stays open.
    browser.goto(&server.url("/raw")).await?;
    assert!(browser.dialog_open().await);
    assert_eq!(browser.dialog_text().await.as_deref(), Some("1"));
    assert!(browser.dismiss_dialog().await);
    assert!(!browser.dialog_open().await);
    assert!(!browser.dismiss_dialog().await);

    // And the escaped page again, after a dialog: still none.
    browser.goto(&server.url("/escaped")).await?;
    assert!(!browser.dialog_open().await);

    // The marker: a payload that sets a global.
    browser.goto(&server.url("/escaped-marker")).await?;
    assert!(!browser.global_is_set("__pwned").await?);
    browser.goto(&server.url("/raw-marker")).await?;
    // The image's error comes with the load, which goto waited for.
    assert!(browser.global_is_set("__pwned").await?);

    // The trap, for a payload that runs after the load (here on a click).
    browser.goto(&server.url("/later")).await?;
    assert!(browser.xss_count().await.is_err(), "no trap installed yet");
    browser.install_xss_trap().await?;
    assert_eq!(browser.xss_count().await?, 0);
    browser.click("#show").await?;
    // The image's error event comes a moment after the click.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while browser.xss_count().await? == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(browser.xss_count().await?, 1);
    assert!(!browser.dialog_open().await, "the trap replaced alert");
    browser.close().await
}

#[tokio::test]
async fn dropping_without_close_ends_chromium() -> anyhow::Result<()> {
    let Some(browser) = Browser::start().await? else { return Ok(()) };
    let profile = browser.dir().to_path_buf();
    drop(browser);
    assert!(!profile.exists(), "the temporary directory is removed");
    // No Chromium left running with that profile.
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(&*profile.to_string_lossy())
        {
            left.push(entry.file_name());
        }
    }
    assert!(left.is_empty(), "processes left with the profile {}: {left:?}", profile.display());
    Ok(())
}

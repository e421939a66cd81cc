//! End-to-end tests in real headless Chromium (Debian's `chromium` and
//! `chromium-driver`; installed by `.ci/run`). Without a browser on a
//! developer's machine they say so and pass; under CI they must run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{PASSWORD, TestApp};
use serde_json::{Value, json};
use vigie_testkit::browser::Browser;

/// Logs in through the login form.
async fn log_in(b: &Browser, app: &TestApp, username: &str) {
    b.goto(&app.url("/login")).await.unwrap();
    b.fill("input[name=username]", username).await.unwrap();
    b.fill("input[name=password]", PASSWORD).await.unwrap();
    b.submit("form button[type=submit]").await.unwrap();
    b.wait_for("header.top", Duration::from_secs(10)).await.unwrap();
}

/// Nothing of a payload ran or can run on the current page.
async fn assert_inert(b: &Browser, page: &str) {
    assert!(!b.dialog_open().await, "a dialog opened on {page}: {:?}", b.dialog_text().await);
    let checks = b
        .eval(
            "return {
                pwned: typeof window.__pwned !== 'undefined',
                inline_scripts: document.querySelectorAll('script:not([src])').length,
                handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.toLowerCase().startsWith('on'))).length,
                js_links: [...document.querySelectorAll('[href],[src],[action],[formaction],[data]')].filter(e =>
                    ['href','src','action','formaction','data'].some(n => (e.getAttribute(n) || '').trim().toLowerCase().startsWith('javascript:'))).length,
                iframes: document.querySelectorAll('iframe,object,embed,base,meta[http-equiv]').length,
                styles: document.querySelectorAll('[style]').length,
            };",
        )
        .await
        .unwrap();
    assert_eq!(
        checks,
        json!({"pwned": false, "inline_scripts": 0, "handlers": 0, "js_links": 0, "iframes": 0, "styles": 0}),
        "on {page}"
    );
}

fn payloads() -> Vec<String> {
    include_str!("testdata/xss-payloads.txt").lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
}

#[tokio::test]
async fn hostile_mentions_never_run_in_any_page() {
    let Some(b) = Browser::start().await.unwrap() else { return };
    let app = TestApp::start().await;
    let payloads = payloads();
    let items: Vec<Value> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({
                "id": format!("xss-{i}"),
                // Links that are not http(s) are refused at the door (the
                // import says why); hostile characters inside a link remain.
                "url": format!("https://forum.example/t/{i}?q={p}"),
                "title": p,
                "text": format!("{p} arnaque remboursement livraison {p}"),
                "text_format": "plain",
                "author": p,
                "site": if i % 2 == 0 { p.clone() } else { "forum.example".into() },
                "source": "forum",
                "published_at": chrono::Utc::now().to_rfc3339(),
                "followers": 100_000,
            })
        })
        .collect();
    let answer = app.push(Value::Array(items)).await;
    assert_eq!(answer["stored"].as_u64().unwrap() as usize, payloads.len(), "{answer}");
    // A watch whose name is hostile too.
    let manager = app.login("manager").await;
    let r = manager
        .post_json(
            &app.api("/watches"),
            &json!({"name": "<img src=x onerror=alert(1)>", "query": "arnaque", "competitor": false, "langs": []}),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);

    log_in(&b, &app, "admin").await;
    let mut pages = vec![
        app.p("/overview?period=24h"),
        // Notable mentions and alerts of the week: the payloads are there.
        app.p("/report?period=7d"),
        app.p("/mentions"),
        app.p("/mentions?q=arnaque"),
        app.p("/inbox"),
        app.p("/alerts"),
        app.p("/watches"),
        app.p("/sources"),
        app.p("/settings"),
    ];
    let ids: Vec<i64> = app
        .store
        .candidates(app.project.id, None, &Default::default(), None, 100)
        .await
        .unwrap()
        .iter()
        .map(|m| m.mention.id)
        .collect();
    for id in &ids {
        pages.push(app.p(&format!("/mentions/{id}")));
    }
    for alert in app.store.alerts(app.project.id, None, 20).await.unwrap() {
        pages.push(app.p(&format!("/alerts/{}", alert.id)));
    }
    for page in &pages {
        b.goto(&app.url(page)).await.unwrap();
        assert_inert(&b, page).await;
    }
    // The payloads are shown as text (escaped), not dropped.
    b.goto(&app.url(&app.p("/mentions"))).await.unwrap();
    let text = b.text("main").await.unwrap();
    assert!(text.contains("<img src=x onerror=alert(1)>"), "the payload should be visible as text");
    b.close().await.unwrap();
}

#[tokio::test]
async fn pages_fit_a_phone_screen() {
    let Some(b) = Browser::start().await.unwrap() else { return };
    let app = TestApp::start().await;
    // A project with figures: every chart of the overview and the report is drawn.
    for (name, query, competitor) in [("Acme", "acme", false), ("Globex Corporation International", "globex", true)] {
        let watch = vigie_store::NewWatch { name: name.into(), query: query.into(), competitor, langs: vec![] };
        app.store.add_watch(app.project.id, watch, chrono::Utc::now()).await.unwrap();
    }
    let items: Vec<Value> = (0..40)
        .map(|i| {
            json!({
                "id": format!("phone-{i}"),
                "text": if i % 3 == 0 { format!("Acme livraison en retard, remboursement refusé, colis perdu {i}") }
                        else { format!("Globex contre Acme : le service client est formidable {i}") },
                // Long words that no line break can cut (handles, domain names).
                "author": format!("@unpseudonymesansaucunecoupurepossible{}", i % 7),
                "site": format!("unnomdedomainetreslongsanscoupure{}.example.fr", i % 5),
                "source": if i % 2 == 0 { "twitter" } else { "forum" },
                "published_at": (chrono::Utc::now() - chrono::Duration::hours(i * 3)).to_rfc3339(),
                "followers": 1_000 * (i + 1),
            })
        })
        .collect();
    app.push(Value::Array(items)).await;
    // A mention whose link is one long unbreakable address.
    let long_url = format!("https://forum.example.fr/t/{}", "acmelivraisonenretardcolisperdu".repeat(8));
    app.push(json!([{"url": long_url, "text": "Acme colis perdu", "source": "forum",
                     "published_at": chrono::Utc::now().to_rfc3339()}]))
        .await;
    let long = app.store.mention_by_key(app.project.id, &format!("url:{long_url}")).await.unwrap().unwrap().mention.id;
    b.set_mobile().await.unwrap();
    log_in(&b, &app, "manager").await;
    let details = [format!("/mentions/{long}"), format!("/inbox/{long}")];
    for page in ["/overview", "/report", "/mentions", "/inbox", "/alerts", "/watches", "/sources", "/settings"]
        .into_iter()
        .chain(details.iter().map(String::as_str))
        .map(|p| app.p(p))
    {
        b.goto(&app.url(&page)).await.unwrap();
        // Nothing but scrolling tables and charts may be wider than the
        // screen (their scrolling boxes fit it).
        let overflow = b
            .eval(
                "return [...document.body.querySelectorAll('body *')].filter(e => !e.closest('.table-wrap') && !(e.parentElement && e.parentElement.closest('.chart-drawing')) && e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '.' + e.className).slice(0, 5);",
            )
            .await
            .unwrap();
        assert_eq!(overflow, json!([]), "elements wider than a phone on {page}");
        // Charts keep a readable size (they scroll sideways instead).
        let narrow = b
            .eval("return [...document.querySelectorAll('.chart-drawing > svg')].map(s => s.getBoundingClientRect().width).filter(w => w < 540);")
            .await
            .unwrap();
        assert_eq!(narrow, json!([]), "charts shrunk below a readable size on {page}");
        // The report's KPI tables fit whole: their change column is what a
        // reader looks for first.
        let cut = b
            .eval(
                "return [...document.querySelectorAll('table.kpi-table')].filter(t => t.getBoundingClientRect().right > window.innerWidth + 1).length;",
            )
            .await
            .unwrap();
        assert_eq!(cut, json!(0), "a KPI table wider than a phone on {page}");
    }
    b.close().await.unwrap();
}

/// The path of a community manager's day: log in, create a watch, mentions
/// arrive, they show in the feed, one is assigned to a department and
/// answered, and the response time shows on the overview.
#[tokio::test]
async fn a_mention_goes_from_the_feed_to_an_answer_and_the_overview() {
    let Some(b) = Browser::start().await.unwrap() else { return };
    let app = TestApp::start().await;
    log_in(&b, &app, "manager").await;

    // A watch, created in the page.
    b.goto(&app.url(&app.p("/watches"))).await.unwrap();
    b.fill("form.watch-form input[name=name]", "Acme").await.unwrap();
    b.fill("form.watch-form textarea[name=query]", "acme OR #acmefr").await.unwrap();
    b.submit("form.watch-form button[type=submit]").await.unwrap();
    let watches = app.store.list_watches(app.project.id).await.unwrap();
    let watch = watches.iter().find(|w| w.name == "Acme").expect("the watch was created from the page");

    // Mentions arrive (pushed, as an export would be).
    let now = chrono::Utc::now();
    app.push(json!([
        {"id": "1", "text": "Ma commande Acme n'est toujours pas arrivée, livraison en retard de 3 semaines",
         "source": "twitter", "author": "client_mecontent", "published_at": now.to_rfc3339(), "followers": 1200},
        {"id": "2", "text": "Super accueil chez Acme ce matin, merci !", "source": "twitter",
         "published_at": now.to_rfc3339()},
        {"id": "3", "text": "Rien à voir avec la marque", "source": "twitter", "published_at": now.to_rfc3339()},
    ]))
    .await;

    // The feed of the watch shows the two that match.
    b.goto(&app.url(&app.p(&format!("/mentions?watch={}", watch.id)))).await.unwrap();
    let feed = b.text("main").await.unwrap();
    assert!(feed.contains("livraison en retard"), "{feed}");
    assert!(feed.contains("Super accueil"), "{feed}");
    assert!(!feed.contains("Rien à voir"), "{feed}");

    // Assign the complaint to a department, then answer it.
    let complaint =
        app.store.mention_by_key(app.project.id, "id:twitter:1").await.unwrap().expect("the complaint is stored");
    let item_page = app.p(&format!("/inbox/{}", complaint.mention.id));
    b.goto(&app.url(&item_page)).await.unwrap();
    let departments = app.store.list_departments(app.project.id).await.unwrap();
    let department = departments.first().expect("default departments exist");
    b.select("form[action$='/assign'] select[name=department_id]", &department.id.to_string()).await.unwrap();
    b.submit("form[action$='/assign'] button[type=submit]").await.unwrap();
    let item = app.store.inbox_item(app.project.id, complaint.mention.id).await.unwrap().unwrap();
    assert_eq!(item.department_id, Some(department.id));

    b.goto(&app.url(&item_page)).await.unwrap();
    b.fill("form[action$='/answer'] textarea[name=reply]", "Bonjour, nous regardons votre commande en DM.")
        .await
        .unwrap();
    b.submit("form[action$='/answer'] button[type=submit]").await.unwrap();
    let item = app.store.inbox_item(app.project.id, complaint.mention.id).await.unwrap().unwrap();
    assert_eq!(item.status, vigie_model::InboxStatus::Answered);
    assert!(item.first_response_at.is_some());
    let history = b.text("main").await.unwrap();
    assert!(history.contains("Bonjour, nous regardons votre commande"), "{history}");

    // The overview counts the answer and shows its response time.
    b.goto(&app.url(&app.p("/overview?period=24h"))).await.unwrap();
    let kpis = b
        .eval(
            "return [...document.querySelectorAll('.kpi')].map(k => [k.querySelector('.label').textContent, k.querySelector('.value').textContent]);",
        )
        .await
        .unwrap();
    let kpi = |label: &str| {
        kpis.as_array()
            .unwrap()
            .iter()
            .find(|k| k[0].as_str().unwrap() == label)
            .map(|k| k[1].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no KPI {label} in {kpis}"))
    };
    assert_eq!(kpi("mentions"), "3");
    let median = kpi("median response time");
    assert!(median.ends_with(" s") || median.contains("min"), "a response time, not a dash: {median}");
    assert_ne!(kpi("response rate"), "—");
    b.close().await.unwrap();
}

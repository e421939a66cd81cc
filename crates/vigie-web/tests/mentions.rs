//! The mentions feed and a mention's page, through the real router and
//! pipeline: filters, cursor paging, search with highlighting, query errors,
//! hostile content, story copies and sentiment corrections.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeSet, HashMap};

use chrono::{TimeZone, Utc};
use common::TestApp;
use serde_json::{Value, json};
use vigie_model::{InboxStatus, Mention, SourceKind};
use vigie_store::{InboxItem, MentionRecord, NewWatch};

const SHARED_STORY: &str = "Le rappel des trottinettes Acme concerne quarante mille engins vendus en France \
    depuis janvier ; le fabricant invite les propriétaires à cesser de les utiliser et promet un remboursement \
    intégral ou un échange en magasin sous quinze jours.";

fn items() -> Value {
    let mut list = vec![
        json!({"url": "https://news.example.fr/a1", "title": "Acme rappelle ses trottinettes",
               "text": "Acme annonce un rappel de ses trottinettes électriques après plusieurs incidents.",
               "source": "news", "lang": "fr", "published_at": "2026-03-01T10:00:00Z"}),
        json!({"url": "https://forum.example.com/t/2", "author": "Bob",
               "text": "Terrible customer service from Acme, my order never arrived. Awful, I hate it, refund please!",
               "source": "forum", "lang": "en", "published_at": "2026-03-02T10:00:00Z"}),
        json!({"url": "https://blog.example.org/p3", "title": "Déroute chez Acme ?",
               "text": "La déroute du service client d'Acme continue : toujours pas reçu ma commande.",
               "source": "blog", "lang": "fr", "published_at": "2026-03-03T23:30:00Z"}),
        json!({"id": "h1", "title": "<script>alert(1)</script>", "text_format": "plain",
               "text": "<img src=x onerror=alert(1)> Acme hostile text",
               "source": "twitter", "lang": "en", "published_at": "2026-03-04T10:00:00Z"}),
        json!({"url": "https://presse-a.example.fr/rappel", "title": "Rappel massif", "text": SHARED_STORY,
               "source": "news", "lang": "fr", "published_at": "2026-02-20T08:00:00Z"}),
        json!({"url": "https://presse-b.example.fr/rappel-acme", "title": "Rappel massif chez Acme", "text": SHARED_STORY,
               "source": "news", "lang": "fr", "published_at": "2026-02-20T09:00:00Z"}),
    ];
    for i in 0..12 {
        list.push(json!({"url": format!("https://reddit.example.com/r/{i}"), "text": format!("Fil numéro {i} sur les vélos Globex"),
                         "source": "reddit", "lang": "fr", "published_at": format!("2026-02-{:02}T12:00:00Z", i + 1)}));
    }
    Value::Array(list)
}

/// A row that bypassed the pipeline (an old import, a bug elsewhere): its
/// link is `javascript:` and it has no language.
fn hostile_record() -> MentionRecord {
    let t = Utc.with_ymd_and_hms(2026, 1, 15, 0, 0, 0).unwrap();
    MentionRecord {
        mention: Mention {
            id: 0,
            source_kind: SourceKind::Web,
            source_item_id: None,
            url: Some("javascript:alert(document.cookie)".into()),
            title: Some("Lien piégé".into()),
            text: "Cliquez ici".into(),
            author: Some("<b>mallory</b>".into()),
            site: Some("evil.example".into()),
            published_at: t,
            collected_at: t,
            lang: None,
            lang_confidence: 0.0,
            reach: None,
            content_hash: "hostile".into(),
            dedup_key: "hash:hostile".into(),
            analysis: Default::default(),
        },
        source_id: None,
        matches: vec![],
        fts_title: vigie_query::index_text("Lien piégé"),
        fts_text: vigie_query::index_text("Cliquez ici"),
    }
}

struct Fixture {
    app: TestApp,
    /// url (or title for the url-less one) → id.
    ids: HashMap<String, i64>,
    all: Vec<Value>,
    acme_watch: i64,
    js_id: i64,
}

impl Fixture {
    fn id(&self, key: &str) -> i64 {
        *self.ids.get(key).unwrap_or_else(|| panic!("no mention {key}"))
    }
}

async fn fixture() -> Fixture {
    let app = TestApp::start().await;
    let pid = app.project.id;
    let acme = NewWatch { name: "Acme".into(), query: "acme".into(), competitor: false, langs: vec![] };
    let acme_watch = app.store.add_watch(pid, acme, Utc::now()).await.unwrap().id;
    let answer = app.push(items()).await;
    assert_eq!(answer["stored"], 18, "{answer}");
    let js_id = app.store.insert_mentions(pid, &[hostile_record()]).await.unwrap().inserted_ids[0];
    let viewer = app.login("viewer").await;
    let r = viewer.get(&app.api("/mentions?limit=200")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let all = r.json()["items"].as_array().unwrap().clone();
    assert_eq!(all.len(), 19);
    let ids = all
        .iter()
        .map(|m| {
            let key = m["url"].as_str().or(m["title"].as_str()).unwrap().to_string();
            (key, m["id"].as_i64().unwrap())
        })
        .collect();
    Fixture { app, ids, all, acme_watch, js_id }
}

fn ids_of(v: &Value) -> BTreeSet<i64> {
    v["items"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn each_filter_narrows_the_feed() {
    let f = fixture().await;
    let app = &f.app;
    let viewer = app.login("viewer").await;
    let get = |q: &str| {
        let path = app.api(&format!("/mentions?limit=200&{q}"));
        let (viewer, q) = (&viewer, q.to_string());
        async move {
            let r = viewer.get(&path).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            ids_of(&r.json())
        }
    };
    let set = |keys: &[&str]| keys.iter().map(|k| f.id(k)).collect::<BTreeSet<_>>();

    let acme = set(&[
        "https://news.example.fr/a1",
        "https://forum.example.com/t/2",
        "https://blog.example.org/p3",
        "<script>alert(1)</script>",
        "https://presse-a.example.fr/rappel",
        "https://presse-b.example.fr/rappel-acme",
    ]);
    assert_eq!(get(&format!("watch={}", f.acme_watch)).await, acme);
    assert_eq!(get("source=forum").await, set(&["https://forum.example.com/t/2"]));
    assert_eq!(get("site=forum.example.com").await, set(&["https://forum.example.com/t/2"]));
    // Any case, with or without www., and the site's subdomains.
    assert_eq!(get("site=WWW.Forum.Example.COM").await, set(&["https://forum.example.com/t/2"]));
    let of_example: BTreeSet<i64> = f
        .all
        .iter()
        .filter(|m| m["site"].as_str().is_some_and(|s| s == "example.com" || s.ends_with(".example.com")))
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert!(of_example.len() > 1 && of_example.contains(&f.id("https://forum.example.com/t/2")));
    assert_eq!(get("site=example.com").await, of_example);
    assert!(get("site=ample.com").await.is_empty(), "a suffix of a name is not a domain");
    assert_eq!(get("lang=en").await, set(&["https://forum.example.com/t/2", "<script>alert(1)</script>"]));
    assert_eq!(get("lang=unknown").await, BTreeSet::from([f.js_id]));
    // Days are inclusive, in UTC: 23:30 on the 3rd is in.
    assert_eq!(
        get("from=2026-03-02&to=2026-03-03").await,
        set(&["https://forum.example.com/t/2", "https://blog.example.org/p3"])
    );
    assert_eq!(get("from=2026-03-04").await, set(&["<script>alert(1)</script>"]));
    // The overview's presets: the fixture's mentions are older than 90 days.
    assert!(get("period=90d").await.is_empty());
    for bad in ["period=5y", "period=7d&from=2026-03-01"] {
        let r = viewer.get(&app.api(&format!("/mentions?{bad}"))).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    // Filters combine.
    assert_eq!(get(&format!("watch={}&lang=fr&source=news", f.acme_watch)).await.len(), 3);

    // Sentiment: what the feed says each mention is.
    for label in ["negative", "neutral", "positive", "unknown"] {
        let expected: BTreeSet<i64> = f
            .all
            .iter()
            .filter(|m| m["sentiment"]["label"].as_str().unwrap_or("unknown") == label)
            .map(|m| m["id"].as_i64().unwrap())
            .collect();
        assert_eq!(get(&format!("sentiment={label}")).await, expected, "{label}");
    }
    // A correction moves a mention between sentiments.
    let agent = app.login("agent").await;
    let one = f.id("https://news.example.fr/a1");
    let r = agent.put_json(&app.api(&format!("/mentions/{one}/sentiment")), &json!({"label": "positive"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(get("sentiment=positive").await.contains(&one));
    assert!(!get("sentiment=negative").await.contains(&one));

    // Themes: what the analysis found.
    let mut themes: BTreeSet<String> = BTreeSet::new();
    for m in &f.all {
        for t in m["themes"].as_array().unwrap() {
            themes.insert(t["theme"].as_str().unwrap().to_string());
        }
    }
    for theme in &themes {
        let expected: BTreeSet<i64> = f
            .all
            .iter()
            .filter(|m| m["themes"].as_array().unwrap().iter().any(|t| t["theme"] == theme.as_str()))
            .map(|m| m["id"].as_i64().unwrap())
            .collect();
        assert_eq!(get(&format!("theme={theme}")).await, expected, "{theme}");
    }
    assert!(get("theme=no_such_theme").await.is_empty());

    // Inbox status (the default routing rules put some in the inbox as
    // they arrived).
    let by_status = |status: &str| -> BTreeSet<i64> {
        f.all.iter().filter(|m| m["status"] == status).map(|m| m["id"].as_i64().unwrap()).collect()
    };
    assert_eq!(get("status=to_handle").await, by_status("to_handle"));
    let three = f.id("https://news.example.fr/a1");
    assert!(by_status("new").contains(&three));
    let now = Utc::now();
    let item = InboxItem {
        mention_id: three,
        project_id: app.project.id,
        status: InboxStatus::Assigned,
        department_id: None,
        assignee_id: None,
        entered_at: now,
        due_at: None,
        first_response_at: None,
        closed_at: None,
        reply: None,
        reason: None,
        escalated_at: None,
        clock_at: None,
        first_due_at: None,
        updated_at: now,
    };
    app.store.save_inbox_item(&item, None).await.unwrap();
    assert_eq!(get("status=assigned").await, BTreeSet::from([three]));
    let mut new = by_status("new");
    new.remove(&three);
    assert_eq!(get("status=new").await, new);
    assert!(new.len() >= 10);
    let r = viewer.get(&app.api(&format!("/mentions/{three}"))).await;
    assert_eq!(r.json()["status"], "assigned");

    // Wrong values are named.
    for (q, word) in [
        ("sentiment=angry", "angry"),
        ("source=myspace", "myspace"),
        ("from=03/02/2026", "03/02/2026"),
        ("status=done", "done"),
        ("limit=1000", "1000"),
        ("from=2026-03-05&to=2026-03-01", "start date"),
    ] {
        let r = viewer.get(&app.api(&format!("/mentions?{q}"))).await;
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.json()["code"], "invalid_request");
        assert!(r.json()["message"].as_str().unwrap().contains(word), "{q}: {}", r.text);
    }

    // The page shows the filters that are active, with the watch's name.
    let r = viewer.get(&app.p(&format!("/mentions?watch={}&source=news", f.acme_watch))).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("class=\"active-filters\""), "{}", r.text);
    assert!(r.text.contains("Watch : Acme"), "{}", r.text);
    assert!(r.text.contains("Acme rappelle ses trottinettes"));
    assert!(!r.text.contains("Fil numéro"));
    // The filter form keeps a period (it was dropped when other filters were applied).
    let r = viewer.get(&app.p("/mentions?period=30d")).await;
    assert!(r.text.contains("<select name=\"period\">"), "{}", r.text);
    assert!(r.text.contains("<option value=\"30d\" selected>"), "{}", r.text);
    // An empty result says so.
    let r = viewer.get(&app.p("/mentions?site=nowhere.example")).await;
    assert!(r.text.contains("No mention matches these filters."), "{}", r.text);
}

#[tokio::test]
async fn cursor_paging_returns_every_row_once() {
    let f = fixture().await;
    let app = &f.app;
    let viewer = app.login("viewer").await;
    let all: BTreeSet<i64> = f.ids.values().copied().collect();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = app.api("/mentions?limit=5");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = viewer.get(&path).await.json();
        let page: Vec<i64> = r["items"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
        assert!(page.len() <= 5);
        assert!(page.windows(2).all(|w| w[0] > w[1]), "newest first: {page:?}");
        seen.extend(page);
        pages += 1;
        match r["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.len(), all.len());
    assert_eq!(seen.iter().copied().collect::<BTreeSet<_>>(), all);

    // A search pages the same way.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = app.api("/mentions?limit=2&q=acme");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = viewer.get(&path).await.json();
        seen.extend(ids_of(&r));
        match r["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert_eq!(seen.iter().copied().collect::<BTreeSet<_>>().len(), 6);

    // The page links to the older ones, keeping the filters.
    let r = viewer.get(&app.p("/mentions?source=reddit&limit=5")).await;
    assert_eq!(r.status, 200);
    let pos = r.text.find("rel=\"next\" href=\"").expect("an older link") + 17;
    let link = &r.text[pos..pos + r.text[pos..].find('"').unwrap()];
    assert!(link.contains("source=reddit") && link.contains("cursor="), "{link}");
    assert_eq!(r.text.matches("class=\"mention-row\"").count(), 5);
}

#[tokio::test]
async fn search_highlights_matches_and_bad_queries_point_at_the_column() {
    let f = fixture().await;
    let app = &f.app;
    let viewer = app.login("viewer").await;
    let three = f.id("https://blog.example.org/p3");

    let r = viewer.get(&app.api("/mentions?q=deroute")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(ids_of(&v), BTreeSet::from([three]));
    assert_eq!(v["items"][0]["matched_terms"], json!(["deroute"]));

    let r = viewer.get(&app.p("/mentions?q=deroute")).await;
    assert_eq!(r.status, 200);
    // Accent- and case-insensitive, on the text as written.
    assert!(r.text.contains("<mark>Déroute</mark> chez Acme ?"), "{}", r.text);
    assert!(r.text.contains("La <mark>déroute</mark> du service"), "{}", r.text);

    // A phrase marks its words; a prefix marks the words it starts.
    let r = viewer.get(&app.p("/mentions?q=%22service+client%22+OR+trottinet*")).await;
    assert!(r.text.contains("<mark>service</mark> <mark>client</mark>"), "{}", r.text);
    assert!(r.text.contains("<mark>trottinettes</mark>"), "{}", r.text);
    let v = viewer.get(&app.api("/mentions?q=%22service+client%22+OR+trottinet*")).await.json();
    assert!(v["items"].as_array().unwrap().iter().any(|m| m["matched_terms"] == json!(["\"service client\""])), "{v}");

    // Search and filters together.
    let v = viewer.get(&app.api("/mentions?q=acme&lang=en")).await.json();
    assert_eq!(ids_of(&v).len(), 2);

    // A query that does not parse.
    let bad = "(acme OR globex";
    let column = vigie_query::parse(bad).unwrap_err().column.unwrap();
    let r = viewer.get(&app.api("/mentions?q=%28acme+OR+globex")).await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["code"], "invalid_query");
    assert_eq!(v["column"], column);
    assert_eq!(column, 16);
    let r = viewer.get(&app.p("/mentions?q=%28acme+OR+globex")).await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("Invalid query"), "{}", r.text);
    assert!(r.text.contains("column 16"), "{}", r.text);
    assert!(r.text.contains(&format!("(acme OR globex\n{}^", " ".repeat(15))), "{}", r.text);
    // The form keeps what was typed.
    assert!(r.text.contains("value=\"(acme OR globex\""), "{}", r.text);
}

#[tokio::test]
async fn hostile_content_is_escaped_and_javascript_links_are_text() {
    let f = fixture().await;
    let app = &f.app;
    let viewer = app.login("viewer").await;
    let hostile = f.id("<script>alert(1)</script>");
    for path in [app.p("/mentions"), app.p(&format!("/mentions/{hostile}")), app.p("/mentions?q=hostile")] {
        let r = viewer.get(&path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{path}: {}", r.text);
        assert!(r.text.contains("&lt;img src=x onerror=alert(1)&gt;"), "{path}");
        assert!(!r.text.contains("<script>alert"), "{path}");
        assert!(!r.text.contains("<img src=x"), "{path}");
    }
    for path in [app.p("/mentions"), app.p(&format!("/mentions/{}", f.js_id))] {
        let r = viewer.get(&path).await;
        assert!(!r.text.to_lowercase().contains("href=\"javascript:"), "{path}");
        assert!(r.text.contains("class=\"unsafe-url\""), "{path}");
        assert!(r.text.contains("&lt;b&gt;mallory&lt;/b&gt;"), "{path}");
    }
    // The API gives the text as it is (JSON-escaped, for the client to handle).
    let v = viewer.get(&app.api(&format!("/mentions/{hostile}"))).await.json();
    assert_eq!(v["title"], "<script>alert(1)</script>");
}

#[tokio::test]
async fn a_review_read_on_a_page_without_its_own_link_points_at_the_page() {
    let app = TestApp::start().await;
    let pid = app.project.id;
    let source = vigie_store::NewSource {
        source_type: vigie_model::SourceType::Html,
        url: "https://avis.example.fr/boulangerie-lemoine".into(),
        config: serde_json::json!({}),
        interval_secs: 3600,
        first_due_at: Utc::now(),
    };
    let sid = app.store.add_source(pid, source, Utc::now()).await.unwrap().id;
    let mut review = hostile_record();
    review.mention.url = None;
    review.mention.source_kind = SourceKind::Review;
    review.mention.content_hash = "review".into();
    review.mention.dedup_key = "hash:review".into();
    review.source_id = Some(sid);
    let id = app.store.insert_mentions(pid, &[review]).await.unwrap().inserted_ids[0];
    let viewer = app.login("viewer").await;
    let page = viewer.get(&app.p(&format!("/mentions/{id}"))).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("href=\"https://avis.example.fr/boulangerie-lemoine\""), "{}", page.text);
    assert!(page.text.contains("lue sur la page") || page.text.contains("read on the page"), "{}", page.text);
}

#[tokio::test]
async fn the_mention_page_shows_explanation_story_and_workflow() {
    let f = fixture().await;
    let app = &f.app;
    let viewer = app.login("viewer").await;
    let a = f.id("https://presse-a.example.fr/rappel");
    let b = f.id("https://presse-b.example.fr/rappel-acme");

    let v = viewer.get(&app.api(&format!("/mentions/{b}"))).await.json();
    assert_eq!(v["story_id"], a, "{v}");
    assert_eq!(v["copies"][0]["id"], a);
    // The list says which mentions are copies, in the API and on the page.
    let list = viewer.get(&app.api("/mentions?limit=200")).await.json();
    let story_of = |id: i64| {
        list["items"].as_array().unwrap().iter().find(|m| m["id"] == id).map(|m| m["story_id"].clone()).unwrap()
    };
    assert_eq!((story_of(a), story_of(b)), (json!(a), json!(a)), "{list}");
    let page = viewer.get(&app.p("/mentions")).await;
    let row = common::after(&page.text, &format!("/mentions/{b}\""));
    let row = &row[..row.find("</li>").unwrap()];
    assert!(row.contains(&format!("class=\"badge copy\" href=\"/p/{}/mentions/{a}\"", app.project.id)), "{row}");
    // So does the inbox, where copies of one complaint may each wait.
    let agent = app.login("agent").await;
    for id in [a, b] {
        if app.store.inbox_item(app.project.id, id).await.unwrap().is_none() {
            let r = agent.post_json(&app.api(&format!("/inbox/{id}/triage")), &json!({})).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    }
    let inbox = agent.get(&app.p("/inbox?status=all")).await;
    let row = common::after(&inbox.text, &format!("/inbox/{b}\""));
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains(&format!("class=\"badge copy\" href=\"/p/{}/mentions/{a}\"", app.project.id)), "{row}");
    let row = common::after(&inbox.text, &format!("/inbox/{a}\""));
    assert!(!row[..row.find("</tr>").unwrap()].contains("badge copy"), "the first is no copy");
    let r = viewer.get(&app.p(&format!("/mentions/{a}"))).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains(&format!("href=\"/p/{}/mentions/{b}\"", app.project.id)), "{}", r.text);
    assert!(r.text.contains("Rappel massif chez Acme"));
    assert!(r.text.contains("id=\"workflow\""));
    assert!(r.text.contains(&format!("/p/{}/inbox/{a}", app.project.id)));

    // The explanation of the verdict, feature by feature.
    let two = f.id("https://forum.example.com/t/2");
    let v = viewer.get(&app.api(&format!("/mentions/{two}"))).await.json();
    let explanation = v["sentiment"]["explanation"].as_array().unwrap();
    assert!(!explanation.is_empty(), "{v}");
    let r = viewer.get(&app.p(&format!("/mentions/{two}"))).await;
    assert!(r.text.contains("Pushing negative") && r.text.contains("Pushing positive"));
    assert!(r.text.contains("class=\"bar "), "{}", r.text);
    let feature = explanation[0]["feature"].as_str().unwrap();
    let escaped = feature.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    assert!(r.text.contains(&escaped), "{feature}");
    assert!(r.text.contains(v["sentiment"]["model"].as_str().unwrap()));
    // A viewer has no correction form.
    assert!(!r.text.contains("/sentiment\""));
    assert_eq!(viewer.get(&app.p("/mentions/999999")).await.status, 404);
}

#[tokio::test]
async fn agents_correct_sentiment_and_viewers_cannot() {
    let f = fixture().await;
    let app = &f.app;
    let pid = app.project.id;
    let two = f.id("https://forum.example.com/t/2");
    let viewer = app.login("viewer").await;
    let agent = app.login("agent").await;
    let before = viewer.get(&app.api(&format!("/mentions/{two}"))).await.json()["sentiment"]["label"].clone();

    let form = format!("/p/{pid}/mentions/{two}/sentiment");
    assert_eq!(viewer.post_form(&form, &[("label", "positive")]).await.status, 403);
    let r = viewer.put_json(&app.api(&format!("/mentions/{two}/sentiment")), &json!({"label": "positive"})).await;
    assert_eq!(r.status, 403);

    let page = agent.get(&app.p(&format!("/mentions/{two}"))).await;
    assert!(page.text.contains(&format!("action=\"{form}\"")), "agents see the form");
    let r = agent.post_form(&form, &[("label", "positive")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location(), Some(format!("/p/{pid}/mentions/{two}").as_str()));
    let v = viewer.get(&app.api(&format!("/mentions/{two}"))).await.json();
    assert_eq!(v["sentiment"]["label"], "positive");
    assert_eq!(v["sentiment"]["corrected"], "positive");
    let history: Vec<&Value> = v["history"].as_array().unwrap().iter().filter(|e| e["action"] == "sentiment").collect();
    assert_eq!(history.len(), 1, "{v}");
    assert_eq!(history[0]["detail"], format!("{} → positive", before.as_str().unwrap()));
    assert_eq!(history[0]["user"], "agent person");
    let page = viewer.get(&app.p(&format!("/mentions/{two}"))).await;
    assert!(page.text.contains("agent person"));
    assert!(page.text.contains("corrected by a person"));

    // Bad labels are refused; null removes the correction.
    let r = agent.put_json(&app.api(&format!("/mentions/{two}/sentiment")), &json!({"label": "furious"})).await;
    assert_eq!(r.status, 400);
    let r = agent.put_json(&app.api(&format!("/mentions/{two}/sentiment")), &json!({})).await;
    assert_eq!(r.status, 400);
    let r = agent.put_json(&app.api(&format!("/mentions/{two}/sentiment")), &json!({"label": null})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["sentiment"]["label"], before);
    assert_eq!(r.json()["sentiment"]["corrected"], Value::Null);
    let r = agent.put_json(&app.api("/mentions/999999/sentiment"), &json!({"label": "neutral"})).await;
    assert_eq!(r.status, 404);

    // A token with the agent role may too.
    let token = app.token(vigie_model::Role::Agent).await;
    let r = token.put_json(&app.api(&format!("/mentions/{two}/sentiment")), &json!({"label": "neutral"})).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let audit = app.store.audit_log(Some(pid), None, 50).await.unwrap();
    let corrections: Vec<_> = audit.iter().filter(|e| e.action == "mention.sentiment").collect();
    assert_eq!(corrections.len(), 3, "{audit:?}");
    assert!(corrections.iter().any(|e| e.detail.contains("agent") && e.detail.contains("→ positive")));
}

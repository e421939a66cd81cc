//! Watches through the real router: create and edit with re-matching of
//! stored mentions, query errors with their column, duplicate names, the
//! live preview, roles and the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{Client, TestApp};
use serde_json::{Value, json};

fn items() -> Value {
    let mut list = Vec::new();
    for i in 0..4 {
        list.push(json!({"url": format!("https://a.example.fr/{i}"), "text": format!("Acme livre enfin la commande numéro {i}"),
                         "source": "news", "lang": "fr", "published_at": format!("2026-03-0{}T10:00:00Z", i + 1)}));
    }
    for i in 0..3 {
        list.push(json!({"url": format!("https://g.example.com/{i}"), "text": format!("Globex bikes are great, ride number {i}"),
                         "source": "blog", "lang": "en", "published_at": format!("2026-03-1{i}T10:00:00Z")}));
    }
    list.push(json!({"url": "https://both.example.com/x", "text": "Acme versus Globex: the comparison",
                     "source": "forum", "lang": "en", "published_at": "2026-03-20T10:00:00Z"}));
    Value::Array(list)
}

async fn ids(client: &Client, app: &TestApp, filter: &str) -> BTreeSet<i64> {
    let r = client.get(&app.api(&format!("/mentions?limit=200&{filter}"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["items"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect()
}

/// The watch id in a `/p/{pid}/watches/{id}?matched=N` location, and N.
fn created(location: Option<&str>) -> (i64, u64) {
    let loc = location.expect("a redirect");
    let rest = loc.split("/watches/").nth(1).unwrap();
    let (id, query) = rest.split_once('?').unwrap();
    (id.parse().unwrap(), query.trim_start_matches("matched=").parse().unwrap())
}

#[tokio::test]
async fn create_edit_and_delete_rematch_stored_mentions() {
    let app = TestApp::start().await;
    let pid = app.project.id;
    app.push(items()).await;
    let viewer = app.login("viewer").await;
    let manager = app.login("manager").await;
    let acme = ids(&viewer, &app, "q=acme").await;
    let globex = ids(&viewer, &app, "q=globex").await;
    assert_eq!((acme.len(), globex.len()), (5, 4));

    // Create: the stored mentions are matched at once.
    let r = manager
        .post_form(
            &app.p("/watches"),
            &[("name", "Concurrent"), ("query", "globex"), ("competitor", "on"), ("langs", "")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let (id, matched) = created(r.location());
    assert_eq!(matched, 4);
    assert_eq!(ids(&viewer, &app, &format!("watch={id}")).await, globex);
    let page = viewer.get(&app.p(&format!("/watches/{id}?matched=4"))).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("4 stored mentions match it"), "{}", page.text);
    let list = viewer.get(&app.api("/watches")).await.json();
    assert_eq!(list["items"][0]["name"], "Concurrent");
    assert_eq!(list["items"][0]["competitor"], true);
    assert_eq!(list["items"][0]["mentions"], 4);
    let page = viewer.get(&app.p("/watches")).await;
    assert!(page.text.contains("Concurrent") && page.text.contains(&format!("/p/{pid}/mentions?watch={id}")));
    // A viewer sees no form.
    assert!(!page.text.contains("watch-form"));

    // Edit the query: the old matches go, the new ones come.
    let r = manager
        .post_form(&app.p(&format!("/watches/{id}")), &[("name", "Concurrent"), ("query", "acme"), ("langs", "fr")])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(created(r.location()), (id, 4));
    let french_acme = ids(&viewer, &app, "q=acme&lang=fr").await;
    assert_eq!(french_acme.len(), 4);
    assert_eq!(ids(&viewer, &app, &format!("watch={id}")).await, french_acme);
    let v = viewer.get(&app.api(&format!("/watches/{id}"))).await.json();
    assert_eq!(
        (v["query"].clone(), v["competitor"].clone(), v["langs"].clone()),
        (json!("acme"), json!(false), json!(["fr"]))
    );

    // Through the API: languages cleared, the English one joins.
    let r = manager.put_json(&app.api(&format!("/watches/{id}")), &json!({"langs": []})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["matched"], 5);
    assert_eq!(ids(&viewer, &app, &format!("watch={id}")).await, acme);
    // A rename alone does not re-match.
    let r = manager.put_json(&app.api(&format!("/watches/{id}")), &json!({"name": "Acme"})).await;
    assert_eq!(r.json()["matched"], Value::Null);
    assert_eq!(r.json()["mentions"], 5);

    // API create, then delete both ways.
    let r =
        manager.post_json(&app.api("/watches"), &json!({"name": "Globex", "query": "globex", "langs": ["en"]})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let gid = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.json()["matched"], 4);
    let r = manager.delete(&app.api(&format!("/watches/{gid}"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(manager.get(&app.api(&format!("/watches/{gid}"))).await.status, 404);
    assert!(ids(&viewer, &app, &format!("watch={gid}")).await.is_empty());
    let r = manager.post_form(&app.p(&format!("/watches/{id}/delete")), &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), Some(format!("/p/{pid}/watches").as_str()));
    assert!(app.store.list_watches(pid).await.unwrap().is_empty());

    // Every change is in the audit log.
    let audit = app.store.audit_log(Some(pid), None, 100).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "watch.create").count(), 2, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == "watch.update").count(), 3, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == "watch.delete").count(), 2, "{actions:?}");
    let update = audit.iter().find(|e| e.action == "watch.update" && e.detail.contains("query")).unwrap();
    assert!(
        update.detail.contains("\"globex\" → \"acme\"") && update.detail.starts_with("manager"),
        "{}",
        update.detail
    );
}

#[tokio::test]
async fn bad_queries_and_duplicate_names_are_refused_with_the_reason() {
    let app = TestApp::start().await;
    let manager = app.login("manager").await;
    let r = manager.post_json(&app.api("/watches"), &json!({"name": "Acme", "query": "acme"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_i64().unwrap();

    // A query that does not parse: the form comes back as typed, with the
    // message and a caret under the column.
    let bad = "acme AND (livraison OR";
    let column = vigie_query::parse(bad).unwrap_err().column.unwrap();
    let r =
        manager.post_form(&app.p("/watches"), &[("name", "Nouvelle <veille>"), ("query", bad), ("langs", "fr")]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("Invalid query"), "{}", r.text);
    assert!(r.text.contains(&format!("column {column}")), "{}", r.text);
    assert!(r.text.contains(&format!("{bad}\n{}^", " ".repeat(column - 1))), "{}", r.text);
    assert!(r.text.contains("value=\"Nouvelle &lt;veille&gt;\""), "the name is kept, escaped");
    assert!(r.text.contains("value=\"fr\""));
    assert_eq!(app.store.list_watches(app.project.id).await.unwrap().len(), 1);
    let r = manager.post_json(&app.api("/watches"), &json!({"name": "X", "query": bad})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "invalid_query");
    assert_eq!(r.json()["column"], column);
    // Meaningless queries too.
    let r = manager.post_json(&app.api("/watches"), &json!({"name": "X", "query": "NOT acme"})).await;
    assert_eq!(r.json()["code"], "invalid_query", "{}", r.text);

    // A French reader gets the whole message in French, on the page and in the preview API.
    let r = manager.post_form("/account", &[("display_name", "manager person"), ("lang", "fr")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r =
        manager.post_form(&app.p("/watches"), &[("name", "Nouvelle veille"), ("query", bad), ("langs", "fr")]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("Requête invalide"), "{}", r.text);
    assert!(r.text.contains("il manque un terme après OR"), "{}", r.text);
    assert!(r.text.contains(&format!("colonne {column}")), "{}", r.text);
    assert!(!r.text.contains("expected a term"), "no English left: {}", r.text);
    let r = manager.post_json(&app.api("/watches/preview"), &json!({"query": "NOT acme"})).await;
    assert_eq!(r.json()["code"], "invalid_query", "{}", r.text);
    assert!(r.json()["message"].as_str().unwrap().starts_with("cette requête trouverait"), "{}", r.text);
    let r = manager.post_form("/account", &[("display_name", "manager person"), ("lang", "en")]).await;
    assert_eq!(r.status, 303, "{}", r.text);

    // A broken query and an unknown language: the query's error (with its
    // column) first; the query fixed, the languages' field is marked.
    let r =
        manager.post_form(&app.p("/watches"), &[("name", "Nouvelle veille"), ("query", bad), ("langs", "fr,xx")]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains(&format!("column {column}")), "{}", r.text);
    let r = manager
        .post_form(&app.p("/watches"), &[("name", "Nouvelle veille"), ("query", "acme"), ("langs", "fr,xx")])
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("unknown language code"), "{}", r.text);
    assert!(common::tag(&r.text, "name=\"langs\"").contains("aria-invalid=\"true\""), "{}", r.text);
    assert!(!common::tag(&r.text, "name=\"name\"").contains("aria-invalid"), "{}", r.text);

    // Duplicate names, whatever the case.
    let r = manager.post_form(&app.p("/watches"), &[("name", "ACME"), ("query", "acme")]).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("already exists"), "{}", r.text);
    let r = manager.post_json(&app.api("/watches"), &json!({"name": "acme", "query": "x"})).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["code"], "conflict");
    let r = manager.post_json(&app.api("/watches"), &json!({"name": "Other", "query": "other"})).await;
    let other = r.json()["id"].as_i64().unwrap();
    let r = manager.put_json(&app.api(&format!("/watches/{other}")), &json!({"name": "Acme"})).await;
    assert_eq!(r.status, 409);

    // Bad edits re-render the edit form.
    let r = manager.post_form(&app.p(&format!("/watches/{id}")), &[("name", "Acme"), ("query", "(acme")]).await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("Invalid query") && r.text.contains(">(acme</textarea>"), "{}", r.text);
    let v = manager.get(&app.api(&format!("/watches/{id}"))).await.json();
    assert_eq!(v["query"], "acme", "nothing saved");

    // Other checks: names, languages, types.
    for (body, word) in [
        (json!({"name": "", "query": "a1"}), "name"),
        (json!({"name": "x".repeat(101), "query": "a1"}), "at most 100"),
        (json!({"name": "n", "query": "a1", "langs": ["xx"]}), "unknown language code"),
        (json!({"name": "n", "query": "a1", "competitor": "yes"}), "competitor"),
        (json!({"query": "a1"}), "name"),
        (json!(["not an object"]), "object"),
    ] {
        let r = manager.post_json(&app.api("/watches"), &body).await;
        assert_eq!(r.status, 400, "{body}");
        assert!(r.json()["message"].as_str().unwrap().contains(word), "{body}: {}", r.text);
    }

    // Roles: viewers and agents read only.
    for who in ["viewer", "agent"] {
        let c = app.login(who).await;
        assert_eq!(c.post_form(&app.p("/watches"), &[("name", "V"), ("query", "v1")]).await.status, 403);
        assert_eq!(c.post_json(&app.api("/watches"), &json!({"name": "V", "query": "v1"})).await.status, 403);
        assert_eq!(c.post_form(&app.p(&format!("/watches/{id}/delete")), &[]).await.status, 403);
        assert_eq!(c.delete(&app.api(&format!("/watches/{id}"))).await.status, 403);
        assert_eq!(c.get(&app.p(&format!("/watches/{id}"))).await.status, 200);
    }
}

#[tokio::test]
async fn preview_shows_first_matches_and_errors_without_changing_anything() {
    let app = TestApp::start().await;
    app.push(items()).await;
    let viewer = app.login("viewer").await;
    let globex = ids(&viewer, &app, "q=globex").await;

    let r = viewer.post_json(&app.api("/watches/preview"), &json!({"query": "globex"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["more"], false);
    let found: BTreeSet<i64> = v["matches"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(found, globex);
    assert_eq!(v["matches"][0]["matched_terms"], json!(["globex"]));
    // The date as pages write it (the installation's zone, the reader's words).
    let first = &v["matches"][0];
    let (shown, at) = (first["published"].as_str().unwrap(), first["published_at"].as_str().unwrap());
    assert!(!shown.is_empty() && !shown.contains('T') && shown.contains(&at[..4]), "{first}");
    assert!(v["scanned"].as_u64().unwrap() >= 4);

    // Languages narrow it.
    let v = viewer.post_json(&app.api("/watches/preview"), &json!({"query": "acme", "langs": ["en"]})).await.json();
    assert_eq!(v["matches"].as_array().unwrap().len(), 1);
    assert_eq!(v["matches"][0]["text"], "Acme versus Globex: the comparison");
    // A language code it does not know is said in the reader's language.
    let r = viewer.post_json(&app.api("/watches/preview"), &json!({"query": "acme", "langs": ["français"]})).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().starts_with("unknown language code: \"français\""), "{}", r.text);
    let french = app.login("viewer").await;
    assert_eq!(french.post_form("/account", &[("display_name", "viewer person"), ("lang", "fr")]).await.status, 303);
    let r = french.post_json(&app.api("/watches/preview"), &json!({"query": "acme", "langs": ["français"]})).await;
    assert!(r.json()["message"].as_str().unwrap().starts_with("code de langue inconnu"), "{}", r.text);

    // Errors carry the column.
    let r = viewer.post_json(&app.api("/watches/preview"), &json!({"query": "globex NEAR/x bikes"})).await;
    assert_eq!(r.status, 400);
    let e = r.json();
    assert_eq!(e["code"], "invalid_query");
    assert_eq!(e["column"], vigie_query::parse("globex NEAR/x bikes").unwrap_err().column.unwrap());
    let r = viewer.post_json(&app.api("/watches/preview"), &json!({"langs": []})).await;
    assert_eq!(r.status, 400);

    // From the browser, a POST without the anti-CSRF header is refused.
    let mut no_csrf = app.login("viewer").await;
    no_csrf.csrf = None;
    let r = no_csrf.post_json(&app.api("/watches/preview"), &json!({"query": "globex"})).await;
    assert_eq!(r.status, 403);

    // Nothing was created or audited.
    assert!(app.store.list_watches(app.project.id).await.unwrap().is_empty());
    assert!(app.store.audit_log(Some(app.project.id), None, 10).await.unwrap().is_empty());

    // The form points the script at the preview.
    let manager = app.login("manager").await;
    let page = manager.get(&app.p("/watches")).await;
    assert!(page.text.contains(&format!("data-preview=\"/api/v1/projects/{}/watches/preview\"", app.project.id)));
    let js = app.anonymous().get("/static/app.js").await;
    assert!(js.text.contains("vigieWatchPreview") && js.text.contains("X-CSRF-Token"));
}

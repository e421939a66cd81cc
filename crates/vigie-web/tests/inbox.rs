//! The inbox through the real router: mentions routed as they arrive,
//! assignment, answers and response time, bulk actions, overdue items and
//! their escalation, and who may do what.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{Client, TestApp, after, tag};
use serde_json::{Value, json};
use vigie_model::{InboxStatus, Role};
use vigie_pipeline::routing::{MailReport, escalate_overdue};
use vigie_store::{NewDepartment, NewWorkflowEvent};
use vigie_testkit::smtp::SmtpServer;

const DELIVERY: &str = "Toujours pas reçu mon colis, livraison en retard de trois semaines : c'est scandaleux, \
                        inadmissible, je suis furieux et je ne commanderai plus jamais.";

/// A publication time `hours` ago: routing sends only mentions published
/// within a week of their arrival to the inbox.
fn hours_ago(hours: i64) -> String {
    (Utc::now() - chrono::Duration::hours(hours)).to_rfc3339()
}

fn mentions() -> Value {
    json!([
        {"url": "https://forum.example.fr/t/1", "title": "Colis <b>perdu</b>", "text": DELIVERY, "text_format": "plain",
         "source": "forum", "lang": "fr", "published_at": hours_ago(3)},
        {"url": "https://blog.example.fr/2", "text": "Une belle journée au parc avec les enfants, merci à tous !",
         "source": "blog", "lang": "fr", "published_at": hours_ago(2)},
    ])
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a time, not {v}"))).unwrap().with_timezone(&Utc)
}

/// The store id of the mention at `url`.
async fn id_of(app: &TestApp, url: &str) -> i64 {
    app.store.mention_by_key(app.project.id, &format!("url:{url}")).await.unwrap().unwrap().mention.id
}

fn lease() -> vigie_pipeline::Lease {
    vigie_pipeline::Lease { worker: "test".into(), duration: std::time::Duration::from_secs(300) }
}

async fn item(client: &Client, app: &TestApp, mid: i64) -> Value {
    let r = client.get(&app.api(&format!("/inbox/{mid}"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

#[tokio::test]
async fn a_negative_delivery_mention_is_routed_then_assigned_and_answered() {
    let app = TestApp::start().await;
    app.push(mentions()).await;
    let viewer = app.login("viewer").await;
    let agent = app.login("agent").await;
    let delivery = id_of(&app, "https://forum.example.fr/t/1").await;
    let park = id_of(&app, "https://blog.example.fr/2").await;

    // The default workflow was seeded from the themes, and the negative
    // delivery mention went to logistics with its due time.
    let r = viewer.get(&app.api("/inbox")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let (it, m) = (&items[0]["item"], &items[0]["mention"]);
    assert_eq!(m["id"], delivery);
    assert_eq!(m["polarity"], "negative");
    assert_eq!(it["status"], "to_handle");
    assert_eq!(it["department"], "Logistics and operations");
    assert_eq!(time(&it["entered_at"]), time(&m["collected_at"]));
    assert_eq!(time(&it["due_at"]) - time(&it["entered_at"]), Duration::hours(24));
    assert_eq!(it["target_secs"], 86_400);
    assert_eq!(list["counts"]["per_status"]["to_handle"], 1);
    assert_eq!(list["next_cursor"], Value::Null);
    // Filtered by another department: the counts are that department's too.
    let legal =
        app.store.list_departments(app.project.id).await.unwrap().into_iter().find(|d| d.name == "Legal").unwrap();
    let other = viewer.get(&app.api(&format!("/inbox?department={}", legal.id))).await.json();
    assert_eq!(
        (other["items"].as_array().unwrap().len(), &other["counts"]["per_status"]["to_handle"]),
        (0, &json!(0)),
        "{other}"
    );

    let detail = item(&viewer, &app, delivery).await;
    let events = detail["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{detail}");
    assert_eq!(events[0]["action"], "routed");
    assert_eq!(events[0]["user_id"], Value::Null);
    let routed = events[0]["detail"].as_str().unwrap();
    assert!(
        routed.starts_with("rule #")
            && routed.contains("theme delivery_logistics, negative) → Logistics and operations"),
        "{routed}"
    );
    // The positive one stays new (no inbox row).
    let other = item(&viewer, &app, park).await;
    assert_eq!((other["status"].as_str(), &other["item"]), (Some("new"), &Value::Null));

    // Assign to a person: assigned, the department stays.
    let agent_id = app.user_id("agent").await;
    let r = agent.post_json(&app.api(&format!("/inbox/{delivery}/assign")), &json!({"user_id": agent_id})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after = r.json();
    assert_eq!(after["item"]["status"], "assigned");
    assert_eq!(after["item"]["assignee"], "agent person");
    assert_eq!(after["item"]["department"], "Logistics and operations");
    // Someone who is not an agent member cannot be given items.
    let viewer_id = app.user_id("viewer").await;
    let r = agent.post_json(&app.api(&format!("/inbox/{delivery}/assign")), &json!({"user_id": viewer_id})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.json()["message"].as_str().unwrap().contains("agent role"), "{}", r.text);

    // Answering needs a reply or a reason.
    let answer = app.api(&format!("/inbox/{delivery}/answer"));
    let r = agent.post_json(&answer, &json!({"reply": "   "})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["message"], "Give the reply that was sent, or a reason why no reply is needed.");
    let r = agent.post_json(&answer, &json!({"reply": "Nous sommes désolés, votre colis part aujourd'hui."})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let answered = r.json();
    let it = &answered["item"];
    assert_eq!(it["status"], "answered");
    assert_eq!(it["reply"], "Nous sommes désolés, votre colis part aujourd'hui.");
    let response = it["response_secs"].as_i64().unwrap();
    assert_eq!(response, (time(&it["first_response_at"]) - time(&it["entered_at"])).num_seconds());
    assert!((0..120).contains(&response), "{response}");
    let actions: Vec<&str> =
        answered["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["routed", "assigned", "answered"]);
    assert_eq!(answered["events"][2]["user"], "agent person");
    // The history keeps the reply itself (a later answer replaces the item's).
    assert_eq!(answered["events"][2]["reply"], "Nous sommes désolés, votre colis part aujourd'hui.");
    let page = agent.get(&app.p(&format!("/inbox/{delivery}"))).await;
    assert!(
        page.text.contains(
            "<blockquote class=\"reply\">Nous sommes désolés, votre colis part aujourd&#39;hui.</blockquote>"
        ) || page
            .text
            .contains("<blockquote class=\"reply\">Nous sommes désolés, votre colis part aujourd'hui.</blockquote>"),
        "{}",
        page.text
    );

    // Invalid transitions say what to do.
    let r = agent.post_json(&answer, &json!({"reply": "again"})).await;
    assert_eq!(r.status, 409);
    assert!(r.json()["message"].as_str().unwrap().contains("reopen it first"), "{}", r.text);
    let r = agent.post_json(&app.api(&format!("/inbox/{delivery}/close")), &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["item"]["status"], "closed");
    let r = agent.post_json(&app.api(&format!("/inbox/{delivery}/reopen")), &json!({})).await;
    assert_eq!(r.json()["item"]["status"], "assigned", "the assignee is kept: {}", r.text);
    assert_eq!(r.json()["item"]["first_response_at"], it["first_response_at"], "the first response stays");
    // Never-answered mentions need a reason to be closed; ignoring too.
    let r = agent.post_json(&app.api(&format!("/inbox/{park}/close")), &json!({})).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("never answered"), "{}", r.text);
    let r = agent.post_json(&app.api(&format!("/inbox/{park}/ignore")), &Value::Null).await;
    assert_eq!(r.status, 400);
    let r = agent.post_json(&app.api(&format!("/inbox/{park}/ignore")), &json!({"reason": "hors sujet"})).await;
    assert_eq!(r.json()["item"]["status"], "ignored");
    // Items of no department (taken in by hand, or whose department was
    // removed) have their own filter.
    let none = viewer.get(&app.api("/inbox?status=all&department=none")).await;
    assert_eq!(none.status, 200, "{}", none.text);
    let none = none.json();
    let listed: Vec<i64> =
        none["items"].as_array().unwrap().iter().map(|i| i["mention"]["id"].as_i64().unwrap()).collect();
    assert_eq!(listed, [park], "{none}");
    assert_eq!(none["counts"]["per_status"]["ignored"], 1, "{none}");
    assert_eq!(none["counts"]["per_status"]["assigned"], 0, "{none}");
    assert_eq!(viewer.get(&app.api("/inbox?department=0")).await.status, 400);
    let page = viewer.get(&app.p("/inbox?status=all&department=none")).await;
    assert!(page.text.contains("<option value=\"none\" selected>"), "{}", page.text);
    let r = agent.post_json(&app.api(&format!("/inbox/{park}/answer")), &json!({"reply": "x"})).await;
    assert_eq!(r.status, 409);
    // Two people at once on one item: one wins, the other is told; the
    // winner's change is the item's (an answer is never lost under an
    // "ignored" that read the item before it).
    app.push(json!([{"url": "https://forum.example.fr/t/race", "text": "Une question sur ma commande",
                     "source": "forum", "published_at": chrono::Utc::now().to_rfc3339()}]))
        .await;
    let race = id_of(&app, "https://forum.example.fr/t/race").await;
    let manager = app.login("manager").await;
    let (answer_url, ignore_url) =
        (app.api(&format!("/inbox/{race}/answer")), app.api(&format!("/inbox/{race}/ignore")));
    let (reply, reason) = (json!({"reply": "Réponse A"}), json!({"reason": "doublon"}));
    let (answer, ignore) = tokio::join!(agent.post_json(&answer_url, &reply), manager.post_json(&ignore_url, &reason));
    let mut statuses = [answer.status, ignore.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", answer.text, ignore.text);
    let it = &item(&agent, &app, race).await["item"];
    if answer.status == 200 {
        assert_eq!((it["status"].as_str(), it["reply"].as_str()), (Some("answered"), Some("Réponse A")), "{it}");
    } else {
        assert_eq!(it["status"], "ignored", "{it}");
    }
    // Notes are bounded.
    let r = agent.post_json(&app.api(&format!("/inbox/{park}/note")), &json!({"text": "x".repeat(10_001)})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = agent
        .post_json(&app.api(&format!("/inbox/{park}/note")), &json!({"text": "Client connu, déjà rappelé."}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["events"].as_array().unwrap().last().unwrap()["action"], "note");

    // The item page shows the mention escaped, the response time and target, and the history.
    let page = viewer.get(&app.p(&format!("/inbox/{delivery}"))).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Colis &lt;b&gt;perdu&lt;/b&gt;"), "escaped title");
    assert!(!page.text.contains("<b>perdu"));
    assert!(page.text.contains("href=\"https://forum.example.fr/t/1\""));
    assert!(page.text.contains("Response time") && page.text.contains("within target"), "{}", page.text);
    assert!(page.text.contains("Response target") && page.text.contains("1 d"));
    assert!(page.text.contains("rule #"));
    // The department's target shortened later: the item keeps the target it
    // was routed with, as the reports count it.
    let mut logistics = app
        .store
        .list_departments(app.project.id)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.name == "Logistics and operations")
        .unwrap();
    logistics.response_target_secs = 1;
    app.store.update_department(&logistics, &vigie_store::ChangedBy::unsigned(chrono::Utc::now())).await.unwrap();
    let mut it = app.store.inbox_item(app.project.id, delivery).await.unwrap().unwrap();
    // (As routed with a day's target and answered in two hours, never reopened.)
    it.due_at = Some(it.entered_at + Duration::hours(24));
    it.first_response_at = Some(it.entered_at + Duration::hours(2));
    (it.clock_at, it.first_due_at) = (None, None);
    app.store.save_inbox_item(&it, None).await.unwrap();
    let page = viewer.get(&app.p(&format!("/inbox/{delivery}"))).await;
    assert!(page.text.contains("within target") && !page.text.contains("over target"), "{}", page.text);
    assert!(page.text.contains("1 d"), "{}", page.text);
    assert_eq!(item(&viewer, &app, delivery).await["item"]["target_secs"], 86_400, "the API says the same");
    // Themes by their names, not their keys.
    assert!(
        page.text.contains("Delivery and logistics") && !page.text.contains("delivery_logistics</"),
        "{}",
        page.text
    );
    // A French reader gets the default themes' French names, here and in
    // the routing rules.
    let french = app.login("manager").await;
    let r = french.post_form("/account", &[("display_name", "manager person"), ("lang", "fr")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let in_french = french.get(&app.p(&format!("/inbox/{delivery}"))).await;
    assert!(in_french.text.contains("Livraison et logistique"), "{}", in_french.text);
    // The default departments too (the API keeps the stored names, above).
    assert!(in_french.text.contains("Logistique et opérations"), "{}", in_french.text);
    assert!(!in_french.text.contains("Logistics and operations"), "{}", in_french.text);
    let settings = french.get(&app.p("/settings")).await;
    assert!(settings.text.contains("Livraison et logistique"), "{}", settings.text);
    // A viewer gets no action forms.
    assert!(!page.text.contains("/answer\""));
    let page = agent.get(&app.p(&format!("/inbox/{delivery}"))).await;
    assert!(page.text.contains(&format!("action=\"/p/{}/inbox/{delivery}/answer\"", app.project.id)));
}

/// The server keeps the overview's figures for a few seconds, but an answer
/// given through it counts at once; a change it did not serve (another
/// process) shows on a forced reload.
#[tokio::test]
async fn an_old_mention_is_stored_but_not_routed() {
    let app = TestApp::start().await;
    // The same complaint, published a month before it arrives (a backfill, an archive).
    let old = json!([{"url": "https://forum.example.fr/t/old", "text": DELIVERY, "text_format": "plain",
                      "source": "forum", "lang": "fr", "published_at": hours_ago(30 * 24)}]);
    app.push(old).await;
    let mid = id_of(&app, "https://forum.example.fr/t/old").await;
    assert_eq!(app.store.inbox_item(app.project.id, mid).await.unwrap(), None, "history stays out of the inbox");
    // It can still be taken in by hand.
    let agent = app.login("agent").await;
    let r = agent.post_json(&app.api(&format!("/inbox/{mid}/triage")), &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(item(&agent, &app, mid).await["status"], "to_handle");
    // A recent one is routed.
    app.push(mentions()).await;
    let fresh = id_of(&app, "https://forum.example.fr/t/1").await;
    assert!(app.store.inbox_item(app.project.id, fresh).await.unwrap().is_some());
}

/// Irony the model reads as praise: a person's correction sends it to the
/// department its theme names, even a month after it was published.
#[tokio::test]
async fn a_complaint_corrected_to_negative_enters_the_inbox() {
    let app = TestApp::start().await;
    let ironic = "Bravo pour la livraison, mon colis est arrivé en seulement trois semaines, génial, merci beaucoup !";
    app.push(json!([{"url": "https://forum.example.fr/t/ironic", "text": ironic, "text_format": "plain",
                      "source": "forum", "lang": "fr", "published_at": hours_ago(30 * 24)}]))
        .await;
    let mid = id_of(&app, "https://forum.example.fr/t/ironic").await;
    let stored = app.store.mention(app.project.id, mid).await.unwrap().unwrap().mention;
    assert_ne!(stored.analysis.polarity(), Some(vigie_model::Polarity::Negative), "the model misses it");
    assert!(stored.analysis.themes.iter().any(|t| t.theme == "delivery_logistics"), "{:?}", stored.analysis.themes);
    assert_eq!(app.store.inbox_item(app.project.id, mid).await.unwrap(), None);

    let agent = app.login("agent").await;
    let before = Utc::now();
    let r = agent.put_json(&app.api(&format!("/mentions/{mid}/sentiment")), &json!({"label": "negative"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let detail = item(&agent, &app, mid).await;
    let it = &detail["item"];
    assert_eq!(
        (&it["status"], &it["department"]),
        (&json!("to_handle"), &json!("Logistics and operations")),
        "{detail}"
    );
    assert!(time(&it["entered_at"]) >= before - Duration::seconds(1), "the clock starts at the correction: {detail}");
    let actions: Vec<&str> =
        detail["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"routed") && actions.contains(&"sentiment"), "{detail}");

    // Corrected to neutral before anyone took it: no rule sends it to the
    // inbox any more, so it leaves it (ignored, saying why); corrected back,
    // it returns with its clock.
    // (A new target for its department, meanwhile, is no one taking it.)
    let department_id = it["department_id"].as_i64().unwrap();
    let manager = app.login("manager").await;
    let r = manager
        .put_json(
            &app.api(&format!("/departments/{department_id}")),
            &json!({"name": "Logistics and operations", "response_target_secs": 7200}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = agent.put_json(&app.api(&format!("/mentions/{mid}/sentiment")), &json!({"label": "neutral"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let left = item(&agent, &app, mid).await;
    assert_eq!(left["item"]["status"], "ignored", "{left}");
    assert!(left["item"]["reason"].as_str().unwrap().contains("no routing rule sends it"), "{left}");
    let r = manager
        .put_json(
            &app.api(&format!("/departments/{department_id}")),
            &json!({"name": "Logistics and operations", "response_target_secs": 10_800}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = agent.put_json(&app.api(&format!("/mentions/{mid}/sentiment")), &json!({"label": "negative"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let back = item(&agent, &app, mid).await;
    assert_eq!((&back["item"]["status"], &back["item"]["entered_at"]), (&json!("to_handle"), &it["entered_at"]));
    // Due by the department's target as it is now, not as when it left.
    assert_eq!(back["item"]["target_secs"], 10_800, "{back}");
    let actions: Vec<&str> = back["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions[actions.len() - 3..], ["withdrawn", "sentiment", "returned"], "{back}");

    // Once someone acts on it, a correction no longer moves it.
    let agent_id = app.user_id("agent").await;
    let r = agent.post_json(&app.api(&format!("/inbox/{mid}/assign")), &json!({"user_id": agent_id})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = agent.put_json(&app.api(&format!("/mentions/{mid}/sentiment")), &json!({"label": "positive"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(item(&agent, &app, mid).await["item"]["status"], "assigned");
}

#[tokio::test]
async fn the_overview_counts_an_answer_at_once() {
    let app = TestApp::start().await;
    app.push(mentions()).await;
    let viewer = app.login("viewer").await;
    let agent = app.login("agent").await;
    let delivery = id_of(&app, "https://forum.example.fr/t/1").await;
    let overview = app.api("/overview?period=24h");
    let responses = |r: &common::Answer| {
        assert_eq!(r.status, 200, "{}", r.text);
        let v = r.json()["responses"].clone();
        (v["entered"].as_i64().unwrap(), v["answered"].as_i64().unwrap(), v["pending"].as_i64().unwrap())
    };
    assert_eq!(responses(&viewer.get(&overview).await), (1, 0, 1));
    // The themes chart names the themes as the project does, not by their keys.
    let page = viewer.get(&app.p("/overview?period=24h")).await;
    assert!(page.text.contains("Delivery and logistics"), "{}", page.text);
    assert!(!page.text.contains(">delivery_logistics<"), "{}", page.text);
    let r = agent.post_json(&app.api(&format!("/inbox/{delivery}/answer")), &json!({"reply": "C'est reparti."})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(responses(&viewer.get(&overview).await), (1, 1, 0));

    // Reopened behind the server's back: the kept figures, until a forced reload.
    let mut it = app.store.inbox_item(app.project.id, delivery).await.unwrap().unwrap();
    it.status = InboxStatus::ToHandle;
    it.first_response_at = None;
    app.store.save_inbox_item(&it, None).await.unwrap();
    assert_eq!(responses(&viewer.get(&overview).await), (1, 1, 0));
    assert_eq!(responses(&viewer.get_fresh(&overview).await), (1, 0, 1));
    assert_eq!(responses(&viewer.get(&overview).await), (1, 0, 1), "the fresh figures are kept");

    // Trending terms open the mentions of the period's days, not of all time.
    app.push(json!([{"url": "https://forum.example.fr/t/9", "text": "Colis toujours pas reçu, livraison en retard",
                     "source": "forum", "lang": "fr", "published_at": hours_ago(1)}]))
        .await;
    let page = viewer.get_fresh(&app.p("/overview?period=24h")).await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(page.text.contains("/mentions?q=colis&amp;from="), "{}", page.text);
    assert!(page.text.contains(&format!("&amp;to={today}\"")), "{}", page.text);
}

#[tokio::test]
async fn forms_and_bulk_actions() {
    let app = TestApp::start().await;
    let mut items = Vec::new();
    for i in 0..3 {
        items.push(json!({"url": format!("https://x.example.fr/{i}"), "text": format!("<script>alert({i})</script> Acme numéro {i}"), "text_format": "plain",
                          "source": "news", "lang": "fr", "published_at": hours_ago(3)}));
    }
    app.push(Value::Array(items)).await;
    let agent = app.login("agent").await;
    let pid = app.project.id;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(id_of(&app, &format!("https://x.example.fr/{i}")).await);
    }
    // Not routed (nothing negative about a theme): new. A form triages one.
    let r = agent.post_form(&app.p(&format!("/inbox/{}/triage", ids[0])), &[]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location(), Some(format!("/p/{pid}/inbox/{}", ids[0]).as_str()));
    // A refused form answers a page with the message.
    let r = agent.post_form(&app.p(&format!("/inbox/{}/answer", ids[0])), &[("reply", ""), ("reason", "")]).await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("Give the reply that was sent"), "{}", r.text);

    // Bulk: the three to customer service (the form repeats `ids`).
    let departments = app.store.list_departments(pid).await.unwrap();
    let cs = departments.iter().find(|d| d.name == "Customer service").expect("seeded");
    assert_eq!(cs.response_target_secs, 4 * 3600);
    let cs_id = cs.id.to_string();
    let back = format!("/p/{pid}/inbox?status=all");
    let mut fields: Vec<(&str, &str)> =
        vec![("action", "assign_department"), ("department_id", &cs_id), ("back", &back)];
    let id_strings: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    for id in &id_strings {
        fields.push(("ids", id));
    }
    // The lists start on no choice: sent as they are, nothing moves.
    let before = app.store.inbox_item(pid, ids[0]).await.unwrap();
    let page = agent.get(&app.p("/inbox")).await;
    for list in ["department_id", "user_id", "status"] {
        let start = format!("<select name=\"{list}\"");
        let select = &page.text[page.text.find(&start).unwrap()..];
        assert!(
            select.contains(">(choose)</option>")
                && select.find("<option").unwrap() == select.find("<option value=\"\"").unwrap(),
            "{list}: {select:.300}"
        );
    }
    for (action, field, message) in [
        ("assign_department", "department_id", "Give department_id."),
        ("assign_user", "user_id", "Give user_id."),
        ("status", "status", "Give status."),
    ] {
        let r =
            agent.post_form(&app.p("/inbox/bulk"), &[("action", action), (field, ""), ("ids", &id_strings[0])]).await;
        assert_eq!(r.status, 400, "{action}: {}", r.text);
        assert!(r.text.contains(message), "{action}: {}", r.text);
        assert_eq!(app.store.inbox_item(pid, ids[0]).await.unwrap(), before, "{action}: nothing moved");
    }
    let r = agent.post_form(&app.p("/inbox/bulk"), &fields).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location(), Some(format!("{back}&done=3").as_str()));
    for id in &ids {
        let item = app.store.inbox_item(pid, *id).await.unwrap().unwrap();
        assert_eq!((item.status, item.department_id), (InboxStatus::ToHandle, Some(cs.id)));
        assert_eq!(item.due_at, Some(item.entered_at + Duration::hours(4)));
    }
    // A redirect elsewhere is not followed.
    let r = agent
        .post_form(
            &app.p("/inbox/bulk"),
            &[
                ("action", "status"),
                ("status", "to_handle"),
                ("ids", &id_strings[0]),
                ("back", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "one refused (already to handle): the result page");
    assert!(r.text.contains("This mention is to handle already") || r.text.contains("déjà à traiter"), "{}", r.text);

    // Bulk through the API: assign a person; ignoring needs a reason.
    let agent_id = app.user_id("agent").await;
    let r = agent
        .post_json(&app.api("/inbox/bulk"), &json!({"action": "assign_user", "user_id": agent_id, "ids": ids}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["done"].as_array().unwrap().len(), 3);
    let r = agent.get(&app.api("/inbox?assignee=mine")).await;
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 3);
    let r = agent
        .post_json(&app.api("/inbox/bulk"), &json!({"action": "status", "status": "ignored", "ids": [ids[0]]}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = agent
        .post_json(
            &app.api("/inbox/bulk"),
            &json!({"action": "status", "status": "ignored", "reason": "spam", "ids": [ids[0], 999_999]}),
        )
        .await;
    let body = r.json();
    assert_eq!(body["done"], json!([ids[0]]));
    assert_eq!(body["failed"][0]["id"], 999_999);
    assert_eq!(body["failed"][0]["code"], "not_found");
    let r = agent.post_json(&app.api("/inbox/bulk"), &json!({"action": "explode", "ids": [ids[0]]})).await;
    assert_eq!(r.status, 400);

    // The list page: escaped text, checkboxes and the select-all box, counts, paging.
    let page = agent.get(&app.p("/inbox?limit=1")).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("&lt;script&gt;alert("), "escaped");
    assert!(!page.text.contains("<script>alert("));
    assert!(page.text.contains("data-select-all=\"ids\""));
    assert!(page.text.contains("name=\"ids\""));
    assert!(page.text.contains(&format!("cursor={}", ids[2])), "a link to the next page");
    let r = agent.get(&app.api(&format!("/inbox?limit=1&cursor={}", ids[2]))).await;
    assert_eq!(r.json()["items"][0]["item"]["mention_id"], ids[1]);
    // Wrong filters are named.
    assert_eq!(agent.get(&app.api("/inbox?status=new")).await.status, 400);
    assert_eq!(agent.get(&app.api("/inbox?limit=0")).await.status, 400);
    assert_eq!(agent.get(&app.api("/inbox?cursor=abc")).await.status, 400);
    let r = agent.get(&app.p("/inbox?status=new")).await;
    assert_eq!(r.location(), Some(format!("/p/{pid}/mentions?status=new").as_str()));
    let viewer = app.login("viewer").await;
    let page = viewer.get(&app.p("/inbox")).await;
    assert!(!page.text.contains("name=\"ids\""), "no bulk form for a viewer");
    // A `back` that would break the Location header is not used.
    let bad_back = format!("/p/{pid}/inbox?a=1\r\nSet-Cookie: x=y");
    let fields = [
        ("action", "status"),
        ("status", "closed"),
        ("reason", "doublon"),
        ("ids", id_strings[2].as_str()),
        ("back", bad_back.as_str()),
    ];
    let r = agent.post_form(&app.p("/inbox/bulk"), &fields).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location(), Some(format!("/p/{pid}/inbox?done=1").as_str()));
}

#[tokio::test]
async fn overdue_items_are_highlighted_and_escalated_once() {
    let app = TestApp::start().await;
    let pid = app.project.id;
    app.push(json!([
        {"url": "https://a.example.fr/1", "text": "Acme un", "source": "news", "published_at": "2026-03-01T10:00:00Z"},
        {"url": "https://a.example.fr/2", "text": "Acme deux", "source": "news", "published_at": "2026-03-01T10:00:00Z"},
        {"url": "https://a.example.fr/3", "text": "Acme trois", "source": "news", "published_at": "2026-03-01T10:00:00Z"},
    ]))
    .await;
    let manager_id = app.user_id("manager").await;
    let now = Utc::now();
    let urgent = app
        .store
        .add_department(
            pid,
            NewDepartment { name: "Urgent".into(), response_target_secs: 3600, manager_id: Some(manager_id) },
            now,
        )
        .await
        .unwrap();
    let agent = app.login("agent").await;
    let (one, two, three) = (
        id_of(&app, "https://a.example.fr/1").await,
        id_of(&app, "https://a.example.fr/2").await,
        id_of(&app, "https://a.example.fr/3").await,
    );
    for mid in [one, two, three] {
        let r = agent.post_json(&app.api(&format!("/inbox/{mid}/assign")), &json!({"department_id": urgent.id})).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // Answered in time: never escalated.
    let r = agent
        .post_json(&app.api(&format!("/inbox/{three}/answer")), &json!({"reason": "déjà traité par téléphone"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Nothing is overdue yet.
    assert!(escalate_overdue(app.store.as_ref(), now).await.unwrap().is_empty());
    let r = agent.get(&app.api("/inbox?overdue=1")).await;
    assert!(r.json()["items"].as_array().unwrap().is_empty());

    // Two hours later: the two pending ones are escalated, once.
    let later = Utc::now() + Duration::hours(2);
    let escalations = escalate_overdue(app.store.as_ref(), later).await.unwrap();
    assert_eq!(escalations.len(), 2);
    assert!(escalations.iter().all(|e| e.recipients == [manager_id] && e.department.as_deref() == Some("Urgent")));
    assert!(escalate_overdue(app.store.as_ref(), later + Duration::minutes(1)).await.unwrap().is_empty());
    let escalated = app.store.inbox_item(pid, one).await.unwrap().unwrap();
    assert_eq!(escalated.escalated_at.map(|t| t.timestamp()), Some(later.timestamp()));
    assert_eq!(escalated.assignee_id, None, "the assignee is kept (none here)");
    assert!(app.store.inbox_item(pid, three).await.unwrap().unwrap().escalated_at.is_none());
    let events = app.store.workflow_events(pid, one).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.action, "escalated");
    let english = vigie_model::detail_text(&last.action, &last.detail, vigie_model::Language::En);
    assert!(english.starts_with("overdue since ") && english.ends_with("escalated to manager person"), "{english}");
    let french = vigie_model::detail_text(&last.action, &last.detail, vigie_model::Language::Fr);
    assert!(french.starts_with("en retard depuis le ") && french.ends_with("escaladée à manager person"), "{french}");

    // An item already with the manager is escalated without changing hands.
    let r = agent.post_json(&app.api(&format!("/inbox/{two}/assign")), &json!({"user_id": manager_id})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Re-assigning the department restarts the clock and the escalation.
    let r = agent.post_json(&app.api(&format!("/inbox/{two}/assign")), &json!({"department_id": app.store.list_departments(pid).await.unwrap().iter().find(|d| d.name == "Legal").unwrap().id})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["item"]["escalated_at"], Value::Null);

    // Overdue now (the due time is put in the past): highlighted, with the time overdue.
    let mut late = app.store.inbox_item(pid, one).await.unwrap().unwrap();
    late.due_at = Some(Utc::now() - Duration::minutes(90));
    app.store.save_inbox_item(&late, None).await.unwrap();
    let page = agent.get(&app.p("/inbox")).await;
    assert!(page.text.contains("<tr class=\"overdue\">"), "{}", page.text);
    assert!(page.text.contains("overdue by 1 h 30 min"), "{}", page.text);
    let r = agent.get(&app.api("/inbox?overdue=1")).await;
    let list = r.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["item"]["overdue"], true);
    assert_eq!(list["counts"]["overdue"], 1);
    // Managers find escalated items with their filter.
    let manager = app.login("manager").await;
    let r = manager.get(&app.api("/inbox?escalated=1")).await;
    let ids: Vec<i64> =
        r.json()["items"].as_array().unwrap().iter().map(|i| i["item"]["mention_id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![one]);
    let page = manager.get(&app.p("/inbox?escalated=1")).await;
    assert!(page.text.contains("escalated"));

    // The manager is told by e-mail, in their language, with a link to the item.
    let Some(server) = SmtpServer::start() else { return };
    let (mut user, _) = app.store.user_by_name("manager").await.unwrap().unwrap();
    user.email = Some("manager@example.fr".into());
    user.lang = "fr".into();
    app.store.update_user(&user, &vigie_store::ChangedBy::unsigned(chrono::Utc::now())).await.unwrap();
    let sent = vigie_pipeline::routing::mail_escalations(
        app.store.as_ref(),
        &common::smtp_config(&server),
        Some("https://vigie.example.fr/"),
        vigie_model::zone::Tz::UTC,
        later,
        &lease(),
    )
    .await
    .unwrap();
    // Both were escalated; the second was given to Legal since (a new due
    // time, no longer escalated): its e-mail would be stale, and is not sent.
    assert_eq!(escalations.len(), 2);
    assert_eq!(sent, MailReport { sent: 1, retry: 0, failed: 1 });
    let received = server.received();
    assert_eq!(received.len(), 1);
    let mail = received
        .iter()
        .find(|m| m["message_id"].as_str().unwrap().contains(&format!("escalation-{pid}-{one}")))
        .unwrap();
    assert_eq!(mail["rcpt_tos"], json!(["manager@example.fr"]));
    assert!(mail["subject"].as_str().unwrap().contains("mention en retard — Acme un"), "{mail}");
    let text = mail["parts"][0]["content"].as_str().unwrap();
    assert!(text.contains(&format!("https://vigie.example.fr/p/{pid}/inbox/{one}")), "{text}");
}

#[tokio::test]
async fn an_overdue_item_of_a_department_without_manager_goes_to_the_project_managers() {
    let app = TestApp::start().await;
    let pid = app.project.id;
    app.push(json!([
        {"url": "https://a.example.fr/8", "text": "Acme huit", "source": "news", "published_at": "2026-03-01T10:00:00Z"},
        {"url": "https://a.example.fr/9", "text": "Acme neuf", "source": "news", "published_at": "2026-03-01T10:00:00Z"},
    ]))
    .await;
    let (eight, nine) = (id_of(&app, "https://a.example.fr/8").await, id_of(&app, "https://a.example.fr/9").await);
    let orphan = app
        .store
        .add_department(
            pid,
            NewDepartment { name: "Orphan".into(), response_target_secs: 3600, manager_id: None },
            Utc::now(),
        )
        .await
        .unwrap();
    let (manager, admin) = (app.user_id("manager").await, app.user_id("admin").await);
    let agent = app.login("agent").await;
    for (mid, body) in [
        (eight, json!({"department_id": orphan.id})),
        // With one of the project's managers already: it goes to the other.
        (nine, json!({"department_id": orphan.id, "user_id": manager})),
    ] {
        let r = agent.post_json(&app.api(&format!("/inbox/{mid}/assign")), &body).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let later = Utc::now() + Duration::hours(2);
    let mut escalations = escalate_overdue(app.store.as_ref(), later).await.unwrap();
    escalations.sort_by_key(|e| e.mention_id);
    let mut to: Vec<Vec<i64>> = escalations.iter().map(|e| e.recipients.clone()).collect();
    to.iter_mut().for_each(|r| r.sort_unstable());
    let mut both = vec![manager, admin];
    both.sort_unstable();
    let mut expected = vec![(eight, both), (nine, vec![admin])];
    expected.sort_by_key(|(mid, _)| *mid);
    assert_eq!(escalations.iter().map(|e| e.mention_id).zip(to).collect::<Vec<_>>(), expected);
    let events = app.store.workflow_events(pid, eight).await.unwrap();
    let last = events.last().unwrap();
    let english = vigie_model::detail_text(&last.action, &last.detail, vigie_model::Language::En);
    assert!(english.ends_with("the department has no manager: escalated to admin person, manager person"), "{english}");

    // Each of them is told by e-mail.
    let Some(server) = SmtpServer::start() else { return };
    for name in ["manager", "admin"] {
        let (mut user, _) = app.store.user_by_name(name).await.unwrap().unwrap();
        user.email = Some(format!("{name}@example.fr"));
        app.store.update_user(&user, &vigie_store::ChangedBy::unsigned(Utc::now())).await.unwrap();
    }
    let sent = vigie_pipeline::routing::mail_escalations(
        app.store.as_ref(),
        &common::smtp_config(&server),
        None,
        vigie_model::zone::Tz::UTC,
        later,
        &lease(),
    )
    .await
    .unwrap();
    assert_eq!(sent, MailReport { sent: 3, retry: 0, failed: 0 });
    let mut rcpts: Vec<String> =
        server.received().iter().map(|m| m["rcpt_tos"][0].as_str().unwrap().to_string()).collect();
    rcpts.sort();
    assert_eq!(rcpts, ["admin@example.fr", "admin@example.fr", "manager@example.fr"]);
    for mail in server.received() {
        let text = mail["parts"][0]["content"].as_str().unwrap();
        assert!(text.contains("you get it as one of the project's managers"), "{text}");
    }
}

#[tokio::test]
async fn viewers_cannot_act_on_the_inbox() {
    let app = TestApp::start().await;
    app.push(json!([{"url": "https://a.example.fr/1", "text": "Acme", "source": "news", "published_at": "2026-03-01T10:00:00Z"}])).await;
    let mid = id_of(&app, "https://a.example.fr/1").await;
    let viewer = app.login("viewer").await;
    let token = app.token(Role::Viewer).await;
    for action in ["triage", "assign", "note", "answer", "close", "ignore", "reopen"] {
        let body = json!({"reason": "x", "reply": "x", "text": "x"});
        for client in [&viewer, &token] {
            let r = client.post_json(&app.api(&format!("/inbox/{mid}/{action}")), &body).await;
            assert_eq!(r.status, 403, "{action}: {}", r.text);
        }
        let r = viewer.post_form(&app.p(&format!("/inbox/{mid}/{action}")), &[("reason", "x")]).await;
        assert_eq!(r.status, 403, "{action} form");
    }
    let r = viewer
        .post_json(&app.api("/inbox/bulk"), &json!({"action": "status", "status": "to_handle", "ids": [mid]}))
        .await;
    assert_eq!(r.status, 403);
    let r = viewer
        .post_form(&app.p("/inbox/bulk"), &[("action", "status"), ("status", "to_handle"), ("ids", &mid.to_string())])
        .await;
    assert_eq!(r.status, 403);
    assert!(app.store.inbox_item(app.project.id, mid).await.unwrap().is_none());
    // Reading is fine; a token agent can act (its events name it).
    assert_eq!(viewer.get(&app.p("/inbox")).await.status, 200);
    assert_eq!(token.get(&app.api(&format!("/inbox/{mid}"))).await.status, 200);
    let agent_token = app.token(Role::Agent).await;
    let r = agent_token.post_json(&app.api(&format!("/inbox/{mid}/triage")), &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let detail = r.json()["events"][0]["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("(by token t-agent-"), "{detail}");
    // Another project's mention is not found.
    let r = agent_token.post_json(&app.api("/inbox/999999/triage"), &json!({})).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_french_reader_reads_the_history_in_french_and_the_api_stays_english() {
    let app = TestApp::start().await;
    app.push(mentions()).await;
    let pid = app.project.id;
    let delivery = id_of(&app, "https://forum.example.fr/t/1").await;
    let agent = app.login("agent").await;
    let agent_id = app.user_id("agent").await;
    let act = |action: &'static str, body: Value| {
        let (agent, path) = (&agent, app.api(&format!("/inbox/{delivery}/{action}")));
        async move {
            let r = agent.post_json(&path, &body).await;
            assert_eq!(r.status, 200, "{action}: {}", r.text);
        }
    };
    act("assign", json!({"user_id": agent_id})).await;
    act("answer", json!({"reply": "Nous sommes désolés !"})).await;
    act("close", json!({})).await;
    act("reopen", json!({})).await;
    let note = "Rappelé : {\"v\":1,\"kind\":\"routed\"} → à suivre";
    act("note", json!({"text": note})).await;
    // A detail stored as English text before details were structured.
    let legacy = NewWorkflowEvent { user_id: None, action: "closed".into(), detail: "answered → closed".into() };
    app.store.add_workflow_event(pid, delivery, legacy, Utc::now()).await.unwrap();

    let (mut user, _) = app.store.user_by_name("manager").await.unwrap().unwrap();
    user.lang = "fr".into();
    app.store.update_user(&user, &vigie_store::ChangedBy::unsigned(chrono::Utc::now())).await.unwrap();
    let reader = app.login("manager").await;
    let note_html = "Rappelé : {&quot;v&quot;:1,&quot;kind&quot;:&quot;routed&quot;} → à suivre";
    for path in [app.p(&format!("/inbox/{delivery}")), app.p(&format!("/mentions/{delivery}"))] {
        let page = reader.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        let text = &page.text;
        for french in [
            // Routing, the theme by its name.
            "règle n°\u{a0}",
            "(thème Livraison et logistique, négatif) → ",
            "assignée à agent person",
            "réponse enregistrée (21\u{a0}caractères)",
            "répondu → clos",
            "clos → assigné, nouvelle échéance ",
            // The note as written, the legacy detail as stored.
            note_html,
            "answered → closed",
        ] {
            assert!(text.contains(french), "{path}: {french:?} in {text}");
        }
        for english in [
            "rule #",
            "assignee agent person",
            "reply recorded",
            "closed → assigned",
            "&quot;kind&quot;:&quot;answered",
        ] {
            assert!(!text.contains(english), "{path}: {english:?} in {text}");
        }
    }
    // Answered, then reopened: the close form asks no reason.
    let page = reader.get(&app.p(&format!("/inbox/{delivery}"))).await;
    assert!(page.text.contains("Raison (facultative)") && !page.text.contains("obligatoire"), "{}", page.text);

    // The API gives English text, whoever reads it.
    let details = |events: &Value| -> Vec<String> {
        events.as_array().unwrap().iter().map(|e| e["detail"].as_str().unwrap().to_string()).collect()
    };
    let from_inbox = details(&item(&reader, &app, delivery).await["events"]);
    let r = reader.get(&app.api(&format!("/mentions/{delivery}"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let from_mention = details(&r.json()["history"]);
    assert_eq!(from_inbox, from_mention);
    assert_eq!(from_inbox.len(), 7, "{from_inbox:?}");
    assert!(from_inbox[0].starts_with("rule #") && from_inbox[0].contains("(theme delivery_logistics, negative) → "));
    // Reopened after its answer: due again from then (the time varies).
    let (reopened, due) = from_inbox[4].split_once(", due again ").unwrap();
    assert!(due.ends_with(" UTC"), "{due}");
    assert_eq!(
        [&from_inbox[1..4], &[reopened.to_string()], &from_inbox[5..]].concat(),
        [
            "assignee agent person".to_string(),
            "reply recorded (21 characters)".into(),
            "answered → closed".into(),
            "closed → assigned".into(),
            note.into(),
            "answered → closed".into(),
        ]
    );
    // A refused action speaks the session's language, single or in bulk.
    let r = reader.post_json(&app.api(&format!("/inbox/{delivery}/answer")), &json!({})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.json()["message"].as_str().unwrap().contains("Indiquez la réponse"), "{}", r.text);
    let r = reader.post_json(&app.api("/inbox/bulk"), &json!({"ids": [], "action": "triage"})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.json()["message"].as_str().unwrap().contains("Cochez au moins une mention"), "{}", r.text);
}

#[tokio::test]
async fn a_refused_inbox_form_is_shown_again_with_what_was_typed() {
    let app = TestApp::start().await;
    app.push(json!([
        {"url": "https://x.example.fr/a", "text": "Acme un", "source": "news", "lang": "fr", "published_at": hours_ago(3)},
        {"url": "https://x.example.fr/b", "text": "Acme deux", "source": "news", "lang": "fr", "published_at": hours_ago(3)},
    ]))
    .await;
    let agent = app.login("agent").await;
    let manager = app.login("manager").await;
    let pid = app.project.id;
    let (a, b) = (id_of(&app, "https://x.example.fr/a").await, id_of(&app, "https://x.example.fr/b").await);
    let item_page = |text: &str| {
        assert!(text.contains("<h2>Handling</h2>") && text.contains("<h2>History</h2>"), "the item page: {text}");
        assert!(!text.contains("error-page") && !text.contains("Invalid request"), "{text}");
    };

    // A reply over 10,000 characters: 400, the item page, the reply kept.
    let long = format!("<b>Bonjour</b> & {}", "é".repeat(10_000));
    let r = agent.post_form(&app.p(&format!("/inbox/{a}/answer")), &[("reply", &long), ("reason", "")]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    item_page(&r.text);
    let form = after(&r.text, "id=\"answer-error\"");
    assert!(form.contains("10017 characters; at most 10000"), "{form}");
    let reply = tag(form, "name=\"reply\"");
    assert!(reply.contains("aria-invalid=\"true\" aria-describedby=\"answer-error\""), "{reply}");
    assert!(form.contains(&format!("&lt;b&gt;Bonjour&lt;/b&gt; &amp; {}</textarea>", "é".repeat(10_000))));
    assert!(app.store.inbox_item(pid, a).await.unwrap().is_none(), "nothing saved");
    // Neither a reply nor a reason.
    let r = agent.post_form(&app.p(&format!("/inbox/{a}/answer")), &[("reply", " "), ("reason", "")]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(after(&r.text, "id=\"answer-error\"").contains("Give the reply that was sent"), "{}", r.text);
    // An empty note; an ignore without a reason: each beside its form.
    let r = agent.post_form(&app.p(&format!("/inbox/{a}/note")), &[("text", "")]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(tag(after(&r.text, "id=\"note-error\""), "name=\"text\"").contains("aria-invalid=\"true\""));
    assert!(!r.text.contains("id=\"answer-error\""), "only the refused form has an error");
    let r = agent.post_form(&app.p(&format!("/inbox/{a}/close")), &[("reason", "  ")]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(after(&r.text, "id=\"close-error\"").contains("never answered"), "{}", r.text);
    // A person who is not an agent of the project: the choices kept.
    let cs = app.store.list_departments(pid).await.unwrap()[0].id.to_string();
    let r =
        agent.post_form(&app.p(&format!("/inbox/{a}/assign")), &[("department_id", &cs), ("user_id", "4242")]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let form = after(&r.text, "id=\"assign-error\"");
    assert!(form.contains(&format!("<option value=\"{cs}\" selected>")), "{form}");
    assert!(tag(form, "name=\"user_id\"").contains("aria-invalid=\"true\""), "{form}");

    // Someone answered first: 409, titled as the item, the reply typed by
    // the second person kept although the answer form is gone.
    let r = agent.post_json(&app.api(&format!("/inbox/{b}/answer")), &json!({"reply": "Merci"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r =
        manager.post_form(&app.p(&format!("/inbox/{b}/answer")), &[("reply", "Ma réponse <3"), ("reason", "")]).await;
    assert_eq!(r.status, 409, "{}", r.text);
    item_page(&r.text);
    assert!(!r.text.contains("<title>Conflict"), "{}", r.text);
    let shown = after(&r.text, "id=\"answer-error\"");
    assert!(shown.contains("answered already: reopen it first"), "{shown}");
    assert!(shown.contains("Ma réponse &lt;3</textarea>"), "{shown}");
    assert_eq!(app.store.inbox_item(pid, b).await.unwrap().unwrap().reply.as_deref(), Some("Merci"));

    // Bulk: nothing checked — the list it came from, the choices and the reason kept.
    let back = format!("/p/{pid}/inbox?status=all");
    let r = agent
        .post_form(
            &app.p("/inbox/bulk"),
            &[("action", "status"), ("status", "ignored"), ("reason", "spam <x>"), ("back", &back)],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("<h1>Inbox</h1>") && !r.text.contains("error-page"), "{}", r.text);
    let form = after(&r.text, "id=\"bulk-error\"");
    assert!(form.contains("Check at least one mention"), "{form}");
    assert!(tag(form, "name=\"reason\"").contains("value=\"spam &lt;x&gt;\""), "{form}");
    assert!(form.contains("<option value=\"ignored\" selected>"), "{form}");
    assert!(r.text.contains("status=all\" aria-current=\"page\""), "the same tab: {}", r.text);
    // Checked, but no reason to ignore: the boxes stay checked.
    let bs = b.to_string();
    let r = agent
        .post_form(
            &app.p("/inbox/bulk"),
            &[("action", "status"), ("status", "ignored"), ("reason", ""), ("ids", &bs), ("back", &back)],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let form = after(&r.text, "id=\"bulk-error\"");
    assert!(tag(form, "name=\"reason\"").contains("aria-invalid=\"true\""), "{form}");
    assert!(tag(form, &format!("name=\"ids\" value=\"{b}\"")).contains(" checked"), "{form}");
    // The API is unchanged.
    let r =
        agent.post_json(&app.api("/inbox/bulk"), &json!({"action": "status", "status": "ignored", "ids": []})).await;
    assert_eq!((r.status, r.json()["code"].as_str()), (400, Some("invalid_request")), "{}", r.text);
}

#[tokio::test]
async fn changes_made_in_settings_are_written_in_the_items_history() {
    let app = TestApp::start().await;
    app.push(mentions()).await;
    let delivery = id_of(&app, "https://forum.example.fr/t/1").await;
    let agent = app.login("agent").await;
    let agent_id = app.user_id("agent").await;
    let r = agent.post_json(&app.api(&format!("/inbox/{delivery}/assign")), &json!({"user_id": agent_id})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let routed = item(&agent, &app, delivery).await;
    let department_id = routed["item"]["department_id"].as_i64().unwrap();
    let department = routed["item"]["department"].as_str().unwrap().to_string();
    let events = |v: &Value| -> Vec<(String, String, Value)> {
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["action"].as_str().unwrap().into(), e["detail"].as_str().unwrap().into(), e["user"].clone()))
            .collect()
    };
    let before = events(&routed).len();

    // The admin removes the agent from the project (form): the item goes
    // back to the queue, and its history says who did it and why.
    let admin = app.login("admin").await;
    let r = admin.post_form(&app.p(&format!("/settings/members/{agent_id}/delete")), &[]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    // A token gives the department a new target (API).
    let manager_token = app.token(Role::Manager).await;
    let r = manager_token
        .put_json(
            &app.api(&format!("/departments/{department_id}")),
            &json!({"name": department, "response_target_secs": 7200}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let now = item(&admin, &app, delivery).await;
    let due = time(&now["item"]["due_at"]);
    assert_eq!(due, time(&now["item"]["entered_at"]) + Duration::hours(2));
    let added = events(&now)[before..].to_vec();
    assert_eq!(added.len(), 2, "{added:?}");
    assert_eq!(added[0].0, "released");
    assert_eq!(added[0].1, "agent person left the project: assigned → to handle (unassigned)");
    assert_eq!(added[0].2, "admin person", "the admin did it");
    assert_eq!(added[1].0, "retargeted");
    assert!(
        added[1].1.starts_with(&format!("new response target for {department}: due "))
            && added[1].1.contains("(by token t-manager-"),
        "{added:?}"
    );
    assert_eq!(added[1].2, Value::Null, "a token is no person");

    // The department removed (form): no department, no due time, and why.
    let r = admin.post_form(&app.p(&format!("/settings/departments/{department_id}/delete")), &[]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let now = item(&admin, &app, delivery).await;
    assert_eq!((now["item"]["department_id"].clone(), now["item"]["due_at"].clone()), (Value::Null, Value::Null));
    let last = events(&now).pop().unwrap();
    assert_eq!(last.0, "department_removed");
    assert_eq!(last.1, format!("department {department} was removed: no department, no due time"));

    // The page reads them in the reader's language.
    let page = admin.get(&app.p(&format!("/inbox/{delivery}"))).await;
    assert_eq!(page.status, 200);
    for line in ["back to the queue", "agent person left the project", "due time changed", "department removed"] {
        assert!(page.text.contains(line), "{line:?} in {}", page.text);
    }
    let r = admin.post_form("/account", &[("display_name", "admin person"), ("lang", "fr")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = admin.get(&app.p(&format!("/inbox/{delivery}"))).await;
    for line in [
        "rendue à la file",
        "agent person ne fait plus partie du projet\u{a0}: assigné → à traiter",
        "nouveau délai de réponse pour",
        "service supprimé",
    ] {
        assert!(page.text.contains(line), "{line:?} in {}", page.text);
    }
}

/// A reopened item is new work for its department as it is now: due by the
/// department's current target (alone or in bulk), and due at no time once
/// the department is gone.
#[tokio::test]
async fn a_reopened_item_is_due_by_its_departments_current_target() {
    let app = TestApp::start().await;
    app.push(mentions()).await;
    let agent = app.login("agent").await;
    let manager = app.login("manager").await;
    let delivery = id_of(&app, "https://forum.example.fr/t/1").await;
    let department_id = item(&agent, &app, delivery).await["item"]["department_id"].as_i64().unwrap();
    let answer = || async {
        let r = agent.post_json(&app.api(&format!("/inbox/{delivery}/answer")), &json!({"reply": "Désolés"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
    };
    let retarget = |secs: i64| {
        let manager = &manager;
        let app = &app;
        async move {
            let body = json!({"name": "Logistics and operations", "response_target_secs": secs});
            let r = manager.put_json(&app.api(&format!("/departments/{department_id}")), &body).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    };
    let due_after_reopening = |it: &Value| time(&it["due_at"]) - time(&it["reopened_at"]);

    // Answered under 24 h, reopened after the target became 1 h.
    answer().await;
    retarget(3600).await;
    let r = agent.post_json(&app.api(&format!("/inbox/{delivery}/reopen")), &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let it = &r.json()["item"];
    assert_eq!((due_after_reopening(it), &it["target_secs"]), (Duration::hours(1), &json!(3600)), "{it}");

    // The same through the bulk action.
    answer().await;
    retarget(7200).await;
    let body = json!({"action": "status", "status": "to_handle", "ids": [delivery]});
    let r = agent.post_json(&app.api("/inbox/bulk"), &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let it = item(&agent, &app, delivery).await["item"].clone();
    assert_eq!((&it["status"], due_after_reopening(&it)), (&json!("to_handle"), Duration::hours(2)), "{it}");

    // Its department removed while it was answered: reopened, it has no
    // due time, so it is neither overdue nor escalated.
    answer().await;
    let admin = app.login("admin").await;
    let r = admin.post_form(&app.p(&format!("/settings/departments/{department_id}/delete")), &[]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r = agent.post_json(&app.api(&format!("/inbox/{delivery}/reopen")), &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let it = &r.json()["item"];
    assert_eq!((&it["department_id"], &it["due_at"]), (&Value::Null, &Value::Null), "{it}");
    let later = Utc::now() + Duration::days(30);
    assert!(escalate_overdue(app.store.as_ref(), later).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_correction_made_with_a_token_names_it_in_the_history() {
    let app = TestApp::start().await;
    app.push(mentions()).await;
    let park = id_of(&app, "https://blog.example.fr/2").await;
    let token = app.token(Role::Agent).await;
    let r = token.put_json(&app.api(&format!("/mentions/{park}/sentiment")), &json!({"label": "negative"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let history = item(&token, &app, park).await;
    let correction = history["events"].as_array().unwrap().iter().find(|e| e["action"] == "sentiment").unwrap();
    assert!(correction["detail"].as_str().unwrap().contains("(by token t-agent-"), "{history}");
}

/// Vigie's own reason for leaving an item (a correction withdrew it) is
/// read in the reader's language, on the mention and on the item, also once
/// other events follow it.
#[tokio::test]
async fn a_withdrawn_items_reason_is_read_in_the_readers_language() {
    let app = TestApp::start().await;
    app.push(mentions()).await;
    let mid = id_of(&app, "https://forum.example.fr/t/1").await;
    let agent = app.login("agent").await;
    assert_eq!(item(&agent, &app, mid).await["item"]["status"], "to_handle");
    let r = agent.put_json(&app.api(&format!("/mentions/{mid}/sentiment")), &json!({"label": "positive"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(item(&agent, &app, mid).await["item"]["status"], "ignored");
    let r = agent.post_json(&app.api(&format!("/inbox/{mid}/note")), &json!({"text": "vu"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = agent.post_form("/account", &[("display_name", "agent person"), ("lang", "fr")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    for page in [app.p(&format!("/mentions/{mid}")), app.p(&format!("/inbox/{mid}"))] {
        let text = agent.get(&page).await.text;
        assert!(text.contains("aucune règle de routage ne l"), "{page}: {text}");
        assert!(!text.contains("no routing rule sends it"), "{page}: {text}");
    }
}

#[tokio::test]
async fn the_inbox_pages_lead_on_and_back_to_the_first() {
    let app = TestApp::start().await;
    let items: Vec<Value> = (0..3)
        .map(|i| {
            json!({"url": format!("https://forum.example.fr/t/p{i}"), "text": format!("{DELIVERY} ({i})"),
                   "text_format": "plain", "source": "forum", "lang": "fr", "published_at": hours_ago(3)})
        })
        .collect();
    app.push(Value::Array(items)).await;
    let agent = app.login("agent").await;
    let first = agent.get(&app.p("/inbox?limit=1")).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(!first.text.contains("← first"), "{}", first.text);
    let next = &common::after(&first.text, "rel=\"next\" href=\"")["rel=\"next\" href=\"".len()..];
    let next = next[..next.find('"').unwrap()].replace("&amp;", "&");
    assert!(next.starts_with(&app.p("/inbox?")), "{next}");
    let second = agent.get(&next).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert!(second.text.contains("← first"), "{}", second.text);
    assert!(second.text.contains("rel=\"next\""), "{}", second.text);
}

/// An overdue mention of a department without manager, escalated at the
/// returned time to the project's managers (the manager has an address, the
/// admin none), and an agent to act on it.
async fn escalated_to_the_managers(app: &TestApp, url: &str) -> (i64, DateTime<Utc>, Client) {
    app.push(json!([{"url": url, "text": "Acme panne", "source": "news", "published_at": "2026-03-01T10:00:00Z"}]))
        .await;
    let mid = id_of(app, url).await;
    let orphan = NewDepartment { name: "Orphan".into(), response_target_secs: 3600, manager_id: None };
    let orphan = app.store.add_department(app.project.id, orphan, Utc::now()).await.unwrap();
    let agent = app.login("agent").await;
    let r = agent.post_json(&app.api(&format!("/inbox/{mid}/assign")), &json!({"department_id": orphan.id})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (mut manager, _) = app.store.user_by_name("manager").await.unwrap().unwrap();
    manager.email = Some("manager@example.fr".into());
    app.store.update_user(&manager, &vigie_store::ChangedBy::unsigned(Utc::now())).await.unwrap();
    let later = Utc::now() + Duration::hours(2);
    assert_eq!(escalate_overdue(app.store.as_ref(), later).await.unwrap().len(), 1);
    (mid, later, agent)
}

/// The SMTP settings of `server`, and the same with a port nobody listens on.
fn up_and_down(server: &SmtpServer) -> (vigie_notify::SmtpConfig, vigie_notify::SmtpConfig) {
    let up = common::smtp_config(server);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down = vigie_notify::SmtpConfig { port: closed, timeout: std::time::Duration::from_secs(2), ..up.clone() };
    (up, down)
}

/// One round of the escalation e-mails at `at`.
async fn send_escalations(app: &TestApp, smtp: &vigie_notify::SmtpConfig, at: DateTime<Utc>) -> MailReport {
    vigie_pipeline::routing::mail_escalations(app.store.as_ref(), smtp, None, vigie_model::zone::Tz::UTC, at, &lease())
        .await
        .unwrap()
}

/// An escalation e-mail the SMTP server did not take waits in the outbox
/// and goes out once when the server is back; a manager without an address
/// gets none, and the reason is recorded.
#[tokio::test]
async fn an_escalation_email_refused_by_a_server_down_is_sent_once_later() {
    let app = TestApp::start().await;
    let (_, later, _) = escalated_to_the_managers(&app, "https://a.example.fr/down").await;
    let Some(server) = SmtpServer::start() else { return };
    let (up, down) = up_and_down(&server);
    // The manager's is kept for later; the admin has no address.
    assert_eq!(send_escalations(&app, &down, later).await, MailReport { sent: 0, retry: 1, failed: 1 });
    // Not due again at once, nor sent twice once the server is back.
    assert_eq!(send_escalations(&app, &up, later).await, MailReport::default());
    let after_backoff = later + Duration::minutes(2);
    assert_eq!(send_escalations(&app, &up, after_backoff).await, MailReport { sent: 1, retry: 0, failed: 0 });
    assert_eq!(send_escalations(&app, &up, after_backoff + Duration::hours(1)).await, MailReport::default());
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["rcpt_tos"], json!(["manager@example.fr"]));
}

/// An escalation e-mail waiting for its retry is not sent once its item
/// was answered meanwhile.
#[tokio::test]
async fn an_escalation_email_is_not_sent_once_its_item_was_answered() {
    let app = TestApp::start().await;
    let (mid, later, agent) = escalated_to_the_managers(&app, "https://a.example.fr/answered").await;
    let Some(server) = SmtpServer::start() else { return };
    let (up, down) = up_and_down(&server);
    assert_eq!(send_escalations(&app, &down, later).await, MailReport { sent: 0, retry: 1, failed: 1 });
    let r = agent.post_json(&app.api(&format!("/inbox/{mid}/answer")), &json!({"reply": "Réglé"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        send_escalations(&app, &up, later + Duration::minutes(2)).await,
        MailReport { sent: 0, retry: 0, failed: 1 }
    );
    assert!(server.received().is_empty());
}

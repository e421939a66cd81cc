//! Settings through the real router: departments, routing rules, members,
//! notification channels, API tokens, the audit log and the installation's
//! users — each change audited, each guarded by its role.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{PASSWORD, TestApp, after, tag};
use serde_json::{Value, json};
use vigie_model::Role;
use vigie_pipeline::routing::seed_workflow;

/// The project's audit actions, newest first.
async fn audit_actions(app: &TestApp) -> Vec<(String, String)> {
    app.store
        .audit_log(Some(app.project.id), None, 200)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.detail))
        .collect()
}

#[tokio::test]
async fn departments_and_rules_crud_with_audit() {
    let app = TestApp::start().await;
    let pid = app.project.id;
    let manager = app.login("manager").await;
    let agent = app.login("agent").await;
    let manager_id = app.user_id("manager").await;

    // Add (API), with a member as manager.
    let r = manager
        .post_json(
            &app.api("/departments"),
            &json!({"name": "Presse", "response_target_secs": 7200, "manager_id": manager_id}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let presse = r.json();
    let id = presse["id"].as_i64().unwrap();
    assert_eq!((presse["name"].as_str(), presse["response_target_secs"].as_i64()), (Some("Presse"), Some(7200)));
    // Checked: name, target, manager, duplicates.
    for (body, status) in [
        (json!({"name": "", "response_target_secs": 7200}), 400),
        (json!({"name": "X", "response_target_secs": 5}), 400),
        (json!({"name": "X"}), 400),
        (json!({"name": "X", "response_target_secs": 3600, "manager_id": app.user_id("outsider").await}), 400),
        // A viewer could not act on the overdue mentions escalated to them.
        (json!({"name": "X", "response_target_secs": 3600, "manager_id": app.user_id("viewer").await}), 400),
        (json!({"name": "Presse", "response_target_secs": 3600}), 409),
        (json!({"name": "PRESSE", "response_target_secs": 3600}), 409),
    ] {
        let r = manager.post_json(&app.api("/departments"), &body).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
    }
    // A disabled account is not offered as manager, and refused as one.
    let (admin_user, _) = app.store.user_by_name("admin").await.unwrap().unwrap();
    app.store
        .update_user(
            &vigie_store::User { disabled: true, ..admin_user.clone() },
            &vigie_store::ChangedBy::unsigned(chrono::Utc::now()),
        )
        .await
        .unwrap();
    let r = manager
        .post_json(
            &app.api("/departments"),
            &json!({"name": "X", "response_target_secs": 3600, "manager_id": admin_user.id}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("disabled"), "{}", r.text);
    let page = manager.get(&app.p("/settings")).await;
    assert!(!page.text.contains(&format!("<option value=\"{}\"", admin_user.id)), "{}", page.text);
    app.store.update_user(&admin_user, &vigie_store::ChangedBy::unsigned(chrono::Utc::now())).await.unwrap();
    // Edit (API and form).
    let r = manager
        .put_json(
            &app.api(&format!("/departments/{id}")),
            &json!({"name": "Presse et médias", "response_target_secs": 3600}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["manager_id"], Value::Null);
    let r = manager
        .post_form(
            &app.p(&format!("/settings/departments/{id}")),
            &[("name", "Médias"), ("hours", "2"), ("minutes", "30"), ("manager_id", "")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location(), Some(format!("/p/{pid}/settings#departments").as_str()));
    let d = app.store.list_departments(pid).await.unwrap().into_iter().find(|d| d.id == id).unwrap();
    assert_eq!((d.name.as_str(), d.response_target_secs), ("Médias", 9000));
    // A form error is a page with the message.
    let r =
        manager.post_form(&app.p("/settings/departments"), &[("name", "Y"), ("hours", "0"), ("minutes", "0")]).await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("response target"), "{}", r.text);

    // Rules: theme from the project's themes (seeded with the default workflow).
    app.store.seed_themes(pid, &vigie_pipeline::themes::default_themes(), chrono::Utc::now()).await.unwrap();
    let r = manager
        .post_json(
            &app.api("/rules"),
            &json!({"theme": "legal", "sentiment": "negative", "source_kind": "forum", "department_id": id}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let rule = r.json();
    assert_eq!(
        (rule["theme"].as_str(), rule["sentiment"].as_str(), rule["source_kind"].as_str()),
        (Some("legal"), Some("negative"), Some("forum"))
    );
    for body in [
        json!({"theme": "no_such_theme", "department_id": id}),
        json!({"sentiment": "furious", "department_id": id}),
        json!({"watch_id": 12345, "department_id": id}),
        json!({"theme": "legal"}),
        json!({"department_id": 98765}),
    ] {
        let r = manager.post_json(&app.api("/rules"), &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
    }
    let r = manager.get(&app.api("/rules")).await;
    let rules = r.json()["items"].as_array().unwrap().clone();
    assert_eq!(rules.last().unwrap()["id"], rule["id"], "added after the others");
    let rule_id = rule["id"].as_i64().unwrap();
    let r = manager.delete(&app.api(&format!("/rules/{rule_id}"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(manager.delete(&app.api(&format!("/rules/{rule_id}"))).await.status, 404);
    // Form: add a rule, then remove the department (and its rules).
    let r = manager
        .post_form(
            &app.p("/settings/rules"),
            &[
                ("theme", "legal"),
                ("sentiment", ""),
                ("watch_id", ""),
                ("source_kind", ""),
                ("department_id", &id.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r = manager.post_form(&app.p(&format!("/settings/departments/{id}/delete")), &[]).await;
    assert_eq!(r.status, 303);
    assert!(app.store.list_rules(pid).await.unwrap().iter().all(|r| r.department_id != id));

    let audit = audit_actions(&app).await;
    let actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions[..7],
        [
            "department.remove",
            "rule.add",
            "rule.remove",
            "rule.add",
            "department.update",
            "department.update",
            "department.add"
        ]
    );
    assert!(audit[4].1.contains("Presse et médias") && audit[4].1.contains("Médias"), "{:?}", audit[4]);
    assert!(audit[1].1.contains("(theme legal) → Médias"), "{:?}", audit[1]);
    let entries = app.store.audit_log(Some(pid), None, 1).await.unwrap();
    assert_eq!(entries[0].user_id, Some(manager_id));
    // Through the API, the answer says what went with it.
    let r =
        manager.post_json(&app.api("/departments"), &json!({"name": "Juridique", "response_target_secs": 3600})).await;
    let legal = r.json()["id"].as_i64().unwrap();
    let rule = json!({"theme": "legal", "sentiment": "negative", "department_id": legal});
    assert_eq!(manager.post_json(&app.api("/rules"), &rule).await.status, 201);
    let r = manager.delete(&app.api(&format!("/departments/{legal}"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({"removed": legal, "rules_removed": 1}));

    // An agent reads but cannot change departments or rules.
    assert_eq!(agent.get(&app.api("/departments")).await.status, 200);
    assert_eq!(
        agent.post_json(&app.api("/departments"), &json!({"name": "Z", "response_target_secs": 3600})).await.status,
        403
    );
    assert_eq!(agent.post_form(&app.p("/settings/departments"), &[("name", "Z"), ("hours", "1")]).await.status, 403);
    assert_eq!(agent.post_json(&app.api("/rules"), &json!({"department_id": 1})).await.status, 403);
    let page = agent.get(&app.p("/settings")).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Read only"));
    assert!(!page.text.contains("/settings/departments\""), "no department form for an agent");
    assert!(!page.text.contains("id=\"tokens\"") && !page.text.contains("id=\"channels\""));
}

#[tokio::test]
async fn members_are_managed_by_admins() {
    let app = TestApp::start().await;
    let pid = app.project.id;
    let admin = app.login("admin").await;
    let manager = app.login("manager").await;
    let outsider = app.user_id("outsider").await;

    let r = admin.post_json(&app.api("/members"), &json!({"username": "outsider", "role": "agent"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["role"], "agent");
    assert_eq!(
        admin.post_json(&app.api("/members"), &json!({"username": "outsider", "role": "agent"})).await.status,
        409
    );
    assert_eq!(
        admin.post_json(&app.api("/members"), &json!({"username": "nobody", "role": "agent"})).await.status,
        404
    );
    assert_eq!(admin.post_json(&app.api("/members"), &json!({"username": "root", "role": "king"})).await.status, 400);
    let r = admin.put_json(&app.api(&format!("/members/{outsider}")), &json!({"role": "manager"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin.post_form(&app.p(&format!("/settings/members/{outsider}")), &[("role", "viewer")]).await;
    assert_eq!(r.status, 303);
    let members = app.store.members(pid).await.unwrap();
    assert_eq!(members.iter().find(|(u, _)| u.id == outsider).map(|(_, r)| *r), Some(Role::Viewer));
    // Nobody changes their own membership; the last admin stays.
    let admin_id = app.user_id("admin").await;
    let r = admin.put_json(&app.api(&format!("/members/{admin_id}")), &json!({"role": "viewer"})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    let root = app.login("root").await;
    let r = root.delete(&app.api(&format!("/members/{admin_id}"))).await;
    assert_eq!(r.status, 409);
    assert!(r.json()["message"].as_str().unwrap().contains("last admin"));
    let r = admin.delete(&app.api(&format!("/members/{outsider}"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(app.store.members(pid).await.unwrap().iter().all(|(u, _)| u.id != outsider));

    let audit = audit_actions(&app).await;
    let actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["member.remove", "member.role", "member.role", "member.add"]);
    assert_eq!(audit[1].1, "outsider: manager → viewer");
    assert_eq!(audit[3].1, "added outsider as agent");

    // A manager can read members but not manage them.
    assert_eq!(manager.get(&app.api("/members")).await.status, 200);
    assert_eq!(
        manager.post_json(&app.api("/members"), &json!({"username": "outsider", "role": "agent"})).await.status,
        403
    );
    assert_eq!(
        manager.put_json(&app.api(&format!("/members/{outsider}")), &json!({"role": "admin"})).await.status,
        403
    );
    assert_eq!(manager.delete(&app.api(&format!("/members/{admin_id}"))).await.status, 403);
    assert_eq!(
        manager.post_form(&app.p("/settings/members"), &[("username", "outsider"), ("role", "admin")]).await.status,
        403
    );
}

#[tokio::test]
async fn channels_are_validated_and_webhook_secrets_shown_once() {
    let app = TestApp::start().await;
    let manager = app.login("manager").await;
    let viewer = app.login("viewer").await;
    for body in [
        json!({"kind": "webhook", "url": "ftp://hooks.example/x"}),
        json!({"kind": "webhook", "url": "javascript:alert(1)"}),
        json!({"kind": "email", "addresses": "alice.example.fr"}),
        json!({"kind": "email", "addresses": ["a@b@c.fr"]}),
        json!({"kind": "sms", "url": "https://x"}),
        json!({"kind": "webhook", "url": "https://hooks.example/x", "min_severity": "apocalyptic"}),
        // The notifier would refuse these on every send (no VIGIE_ALLOW_PRIVATE_NETWORK here).
        json!({"kind": "webhook", "url": "http://10.0.0.1/hook"}),
        json!({"kind": "webhook", "url": "http://169.254.169.254/latest/meta-data"}),
    ] {
        let r = manager.post_json(&app.api("/channels"), &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
    }
    let r = manager
        .post_json(
            &app.api("/channels"),
            &json!({"kind": "webhook", "url": "https://hooks.example/x", "min_severity": "critical"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let hook = r.json();
    let secret = hook["secret"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 64);
    assert_eq!(hook["signed"], true);
    let r = manager
        .post_json(&app.api("/channels"), &json!({"kind": "email", "addresses": "alice@example.fr, bob@example.fr"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["target"], "alice@example.fr,bob@example.fr");
    assert_eq!(r.json().get("secret"), None);
    let list = manager.get(&app.api("/channels")).await;
    assert_eq!(list.json()["items"].as_array().unwrap().len(), 2);
    assert!(!list.text.contains(&secret), "the list never shows a secret");
    // The form shows the new secret once; the settings page never.
    let r = manager
        .post_form(
            &app.p("/settings/channels"),
            &[("kind", "webhook"), ("url", "https://hooks.example/y"), ("min_severity", "info")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let shown = r.text.split("data-secret>").nth(1).and_then(|s| s.split('<').next()).unwrap().to_string();
    assert_eq!(shown.len(), 64);
    let stored = app.store.list_channels(app.project.id).await.unwrap();
    assert_eq!(
        stored.iter().find(|c| c.target == "https://hooks.example/y").and_then(|c| c.secret.clone()),
        Some(shown.clone())
    );
    let page = manager.get(&app.p("/settings")).await;
    // A webhook's address is a credential too: its host only.
    assert!(page.text.contains("id=\"channels\"") && page.text.contains("https://hooks.example/…"));
    assert!(!page.text.contains("https://hooks.example/y"));
    assert!(!page.text.contains(&shown));

    // A receiver's own secret is taken (16 characters at least); a typo in a
    // field is refused, not ignored; the list and the audit log show no URL.
    let own = "receiver-side-secret-0001";
    let r = manager
        .post_json(
            &app.api("/channels"),
            &json!({"kind": "webhook", "url": "https://user:pw@hooks.example/z?token=SECRET", "secret": own}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["secret"], own);
    assert_eq!(r.json()["target"], "https://hooks.example/…");
    let stored = app.store.list_channels(app.project.id).await.unwrap();
    assert_eq!(stored.iter().find(|c| c.target.ends_with("token=SECRET")).and_then(|c| c.secret.as_deref()), Some(own));
    for body in [
        json!({"kind": "webhook", "url": "https://hooks.example/s", "secret": "short"}),
        json!({"kind": "email", "addresses": "a@b.fr", "secret": "receiver-side-secret-0002"}),
        json!({"kind": "webhook", "url": "https://hooks.example/t", "min_severty": "critical"}),
    ] {
        let r = manager.post_json(&app.api("/channels"), &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
    }
    let list = manager.get(&app.api("/channels")).await;
    assert!(!list.text.contains("SECRET") && !list.text.contains("pw@") && !list.text.contains(own), "{}", list.text);
    let z = stored.iter().find(|c| c.target.ends_with("token=SECRET")).unwrap().id;
    assert_eq!(manager.delete(&app.api(&format!("/channels/{z}"))).await.status, 200);
    let id = hook["id"].as_i64().unwrap();
    assert_eq!(manager.delete(&app.api(&format!("/channels/{id}"))).await.status, 200);
    let audit = audit_actions(&app).await;
    let actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["channel.remove", "channel.remove", "channel.add", "channel.add", "channel.add", "channel.add"]
    );
    assert!(
        audit.iter().all(|(_, d)| !d.contains(&secret) && !d.contains(&shown) && !d.contains("SECRET")),
        "no secret in the audit log: {audit:?}"
    );
    // Viewers and agents do not see channels.
    assert_eq!(viewer.get(&app.api("/channels")).await.status, 403);
    assert_eq!(
        viewer.post_json(&app.api("/channels"), &json!({"kind": "email", "addresses": "a@b.fr"})).await.status,
        403
    );
}

#[tokio::test]
async fn channels_have_a_language_french_by_default() {
    let app = TestApp::start().await;
    let manager = app.login("manager").await;
    // The API: fr unless told otherwise, en on request, anything else refused.
    let r = manager.post_json(&app.api("/channels"), &json!({"kind": "email", "addresses": "fr@example.fr"})).await;
    assert_eq!((r.status, r.json()["lang"].as_str()), (201, Some("fr")), "{}", r.text);
    let r = manager
        .post_json(&app.api("/channels"), &json!({"kind": "email", "addresses": "en@example.org", "lang": "en"}))
        .await;
    assert_eq!((r.status, r.json()["lang"].as_str()), (201, Some("en")), "{}", r.text);
    for bad in [json!("de"), json!("english"), json!(1)] {
        let body = json!({"kind": "webhook", "url": "https://hooks.example/de", "lang": bad});
        let r = manager.post_json(&app.api("/channels"), &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
    }
    let r = manager
        .post_json(&app.api("/channels"), &json!({"kind": "webhook", "url": "https://hooks.example/de", "lang": "de"}))
        .await;
    assert_eq!(r.json()["message"], "lang must be fr (French) or en (English), not \"de\"", "{}", r.text);
    let list = manager.get(&app.api("/channels")).await.json();
    let langs: Vec<&str> = list["items"].as_array().unwrap().iter().map(|c| c["lang"].as_str().unwrap()).collect();
    assert_eq!(langs, ["fr", "en"]);

    // The settings page: a select, Français first and chosen; each language stored as picked.
    let page = manager.get(&app.p("/settings")).await;
    assert!(page.text.contains("<select name=\"lang\">"), "{}", page.text);
    assert!(page.text.contains("<option value=\"fr\" selected>"), "French by default: {}", page.text);
    let r = manager
        .post_form(
            &app.p("/settings/channels"),
            &[("kind", "email"), ("addresses", "web-en@example.org"), ("min_severity", "info"), ("lang", "en")],
        )
        .await;
    assert!(r.status == 200 || r.status == 303, "{}: {}", r.status, r.text);
    let r = manager
        .post_form(
            &app.p("/settings/channels"),
            &[("kind", "webhook"), ("url", "https://hooks.example/fr"), ("lang", "fr")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored: Vec<(String, vigie_model::Language)> =
        app.store.list_channels(app.project.id).await.unwrap().into_iter().map(|c| (c.target, c.lang)).collect();
    assert!(stored.contains(&("web-en@example.org".into(), vigie_model::Language::En)), "{stored:?}");
    assert!(stored.contains(&("https://hooks.example/fr".into(), vigie_model::Language::Fr)), "{stored:?}");
    let r = manager
        .post_form(
            &app.p("/settings/channels"),
            &[("kind", "email"), ("addresses", "x@example.fr"), ("lang", "klingon")],
        )
        .await;
    assert_eq!(r.status, 400);
    // The page speaks the reader's language (the test users read English by default).
    assert!(r.text.contains("lang must be fr (French) or en (English), not &quot;klingon&quot;"), "{}", r.text);
}

#[tokio::test]
async fn tokens_are_shown_once_and_stored_as_hashes() {
    let app = TestApp::start().await;
    let admin = app.login("admin").await;
    let r = admin.post_json(&app.api("/tokens"), &json!({"name": "crm-sync", "role": "agent"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.json()["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("vigie_") && token.len() == 70, "{token}");
    assert_eq!(admin.post_json(&app.api("/tokens"), &json!({"name": "crm-sync", "role": "agent"})).await.status, 409);
    assert_eq!(admin.post_json(&app.api("/tokens"), &json!({"name": "bad name!", "role": "agent"})).await.status, 400);
    assert_eq!(admin.post_json(&app.api("/tokens"), &json!({"name": "x", "role": "emperor"})).await.status, 400);
    // Without a role: an agent, as on the command line.
    let r = admin.post_json(&app.api("/tokens"), &json!({"name": "no-role"})).await;
    assert_eq!((r.status, r.json()["role"].as_str()), (201, Some("agent")), "{}", r.text);

    // The token works, the list never shows it, the database holds only its hash.
    let r = app.anonymous().http.get(app.url(&app.api("/inbox"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let list = admin.get(&app.api("/tokens")).await;
    assert_eq!(list.status, 200);
    assert!(!list.text.contains(&token));
    let item = list.json()["items"].as_array().unwrap().iter().find(|t| t["name"] == "crm-sync").cloned().unwrap();
    assert_eq!(item["role"], "agent");
    assert!(item["last_used_at"].is_string(), "last use recorded: {item}");
    assert!(app.store.use_token(&vigie_web::hash_token(&token), chrono::Utc::now()).await.unwrap().is_some());
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()), "the token is not in the database files");
    }

    // The form shows a new token once.
    let r = admin.post_form(&app.p("/settings/tokens"), &[("name", "export"), ("role", "viewer")]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let shown = r.text.split("data-secret>").nth(1).and_then(|s| s.split('<').next()).unwrap().to_string();
    assert!(shown.starts_with("vigie_"));
    let page = admin.get(&app.p("/settings")).await;
    assert!(page.text.contains("id=\"tokens\"") && page.text.contains("export") && !page.text.contains(&shown));

    // Revoke: the token stops working.
    assert_eq!(admin.delete(&app.api("/tokens/crm-sync")).await.status, 200);
    assert_eq!(admin.delete(&app.api("/tokens/crm-sync")).await.status, 404);
    let r = app.anonymous().http.get(app.url(&app.api("/inbox"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = admin.post_form(&app.p("/settings/tokens/revoke"), &[("name", "export")]).await;
    assert_eq!(r.status, 303);
    let audit = audit_actions(&app).await;
    let actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["token.remove", "token.remove", "token.add", "token.add", "token.add"]);
    assert!(audit.iter().all(|(_, d)| !d.contains(&token)));

    // The audit API, for admins, with names.
    let r = admin.get(&app.api("/audit?limit=2")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    assert_eq!(body["items"][0]["user"], "admin person");
    let next = body["next_cursor"].as_str().unwrap().to_string();
    let r = admin.get(&app.api(&format!("/audit?limit=2&cursor={next}"))).await;
    assert_eq!(r.json()["items"][1]["action"], "token.add");
    let page = admin.get(&app.p("/settings")).await;
    assert!(page.text.contains("id=\"audit\"") && page.text.contains("token.remove"));

    // Managers cannot reach tokens or the audit log.
    let manager = app.login("manager").await;
    assert_eq!(manager.get(&app.api("/tokens")).await.status, 403);
    assert_eq!(manager.post_json(&app.api("/tokens"), &json!({"name": "m", "role": "viewer"})).await.status, 403);
    assert_eq!(manager.get(&app.api("/audit")).await.status, 403);
    // A token's role is the limit of what it may create... and only admins reach the route.
    let agent_token = app.token(Role::Agent).await;
    assert_eq!(agent_token.post_json(&app.api("/tokens"), &json!({"name": "m", "role": "admin"})).await.status, 403);
}

#[tokio::test]
async fn installation_users_are_managed_by_installation_admins() {
    let app = TestApp::start().await;
    let root = app.login("root").await;
    let r = root
        .post_json(
            "/api/v1/users",
            &json!({"username": "claire", "display_name": "Claire Dupont", "email": "claire@example.fr", "lang": "fr"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let body = r.json();
    let password = body["one_time_password"].as_str().unwrap().to_string();
    assert_eq!(password.len(), 16);
    let uid = body["user"]["id"].as_i64().unwrap();
    let (user, hash) = app.store.user_by_name("claire").await.unwrap().unwrap();
    assert!(user.must_change_password);
    assert!(vigie_web::auth::verify_password(&password, &hash));
    assert_ne!(hash, password);
    assert_eq!(root.post_json("/api/v1/users", &json!({"username": "CLAIRE"})).await.status, 409);
    assert_eq!(root.post_json("/api/v1/users", &json!({"username": "bad name"})).await.status, 400);
    assert_eq!(root.post_json("/api/v1/users", &json!({"username": "x", "email": "no-at"})).await.status, 400);

    // She logs in with the one-time password and must change it.
    let r = app.anonymous().post_json("/api/v1/session", &json!({"username": "claire", "password": password})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["must_change_password"], true);
    app.store.set_password(uid, &vigie_web::auth::hash_password(PASSWORD).unwrap(), false).await.unwrap();
    let claire = app.login("claire").await;
    assert_eq!(claire.get("/api/v1/me").await.status, 200);
    assert_eq!(claire.get("/api/v1/me").await.json()["projects"], json!([]), "a member of nothing yet");
    // An installation administrator sees every project, as their admin.
    let mine = root.get("/api/v1/me").await.json();
    let projects = mine["projects"].as_array().unwrap();
    assert!(projects.iter().any(|p| p["id"] == app.project.id && p["role"] == "admin"), "{mine}");

    // Disabling ends her sessions; enabling lets her in again.
    let r = root.put_json(&format!("/api/v1/users/{uid}"), &json!({"disabled": true})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["user"]["disabled"], true);
    assert_eq!(claire.get("/api/v1/me").await.status, 401);
    let r = app.anonymous().post_json("/api/v1/session", &json!({"username": "claire", "password": PASSWORD})).await;
    assert_eq!(r.status, 401);
    let r = root.post_form(&format!("/admin/users/{uid}"), &[("op", "enable")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let claire = app.login("claire").await;
    // Resetting the password gives a new one-time password and ends sessions.
    let r = root.put_json(&format!("/api/v1/users/{uid}"), &json!({"reset_password": true})).await;
    let again = r.json()["one_time_password"].as_str().unwrap().to_string();
    assert_ne!(again, password);
    assert_eq!(claire.get("/api/v1/me").await.status, 401);
    let (user, hash) = app.store.user_by_name("claire").await.unwrap().unwrap();
    assert!(user.must_change_password && vigie_web::auth::verify_password(&again, &hash));
    // The form shows it once, and the page reloaded (the same form sent
    // again) does not reset it a second time behind the admin's back.
    let page = root.get("/admin/users").await.text;
    let form = &page[page.find(&format!("action=\"/admin/users/{uid}\"")).unwrap()..];
    let form = &form[form.find("value=\"reset_password\"").unwrap()..];
    let seen = form.split("name=\"seen\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let fields = [("op", "reset_password"), ("seen", seen.as_str())];
    let r = root.post_form(&format!("/admin/users/{uid}"), &fields).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("data-secret>"));
    let (_, shown_hash) = app.store.user_by_name("claire").await.unwrap().unwrap();
    let reloaded = root.post_form(&format!("/admin/users/{uid}"), &fields).await;
    assert_eq!(reloaded.status, 409, "{}", reloaded.text);
    assert!(reloaded.text.contains("was reset already"), "{}", reloaded.text);
    assert_eq!(app.store.user_by_name("claire").await.unwrap().unwrap().1, shown_hash, "unchanged");
    let none = root.post_form(&format!("/admin/users/{uid}"), &[("op", "reset_password")]).await;
    assert_eq!(none.status, 409);
    // Nobody disables themselves.
    let root_id = app.user_id("root").await;
    assert_eq!(root.put_json(&format!("/api/v1/users/{root_id}"), &json!({"disabled": true})).await.status, 409);

    // The page lists users; the form adds one with a password shown once.
    let page = root.get("/admin/users").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Claire Dupont") && page.text.contains("claire@example.fr"));
    let r =
        root.post_form("/admin/users", &[("username", "denis"), ("display_name", "Denis <b>"), ("lang", "en")]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("data-secret>"));
    let page = root.get("/admin/users").await;
    assert!(page.text.contains("Denis &lt;b&gt;"));

    let audit: Vec<String> = app
        .store
        .audit_log(None, None, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.project_id.is_none())
        .map(|e| e.action)
        .collect();
    assert_eq!(
        audit,
        ["user.add", "user.password_reset", "user.password_reset", "user.enable", "user.disable", "user.add"]
    );

    // Only installation admins.
    let admin = app.login("admin").await;
    assert_eq!(admin.get("/admin/users").await.status, 403);
    assert_eq!(admin.get("/api/v1/users").await.status, 403);
    assert_eq!(admin.post_json("/api/v1/users", &json!({"username": "eve"})).await.status, 403);
    assert_eq!(admin.put_json(&format!("/api/v1/users/{uid}"), &json!({"is_admin": true})).await.status, 403);
    assert_eq!(admin.post_form(&format!("/admin/users/{uid}"), &[("op", "make_admin")]).await.status, 403);
    let token = app.token(Role::Admin).await;
    assert_eq!(token.get("/api/v1/users").await.status, 403);
}

#[tokio::test]
async fn the_settings_page_shows_forms_by_role() {
    let app = TestApp::start().await;
    let now = chrono::Utc::now();
    app.store.seed_themes(app.project.id, &vigie_pipeline::themes::default_themes(), now).await.unwrap();
    assert!(seed_workflow(app.store.as_ref(), app.project.id, now).await.unwrap());
    assert!(!seed_workflow(app.store.as_ref(), app.project.id, now).await.unwrap(), "once");
    assert_eq!(app.store.list_departments(app.project.id).await.unwrap().len(), 9);
    // One rule per theme, then the negative mentions no theme recognised to
    // customer service.
    let rules = app.store.list_rules(app.project.id).await.unwrap();
    assert_eq!(rules.len(), 10);
    let last = rules.last().unwrap();
    let departments = app.store.list_departments(app.project.id).await.unwrap();
    let customer_service = departments.iter().find(|d| d.name == "Customer service").unwrap();
    assert_eq!(
        (last.theme.as_deref(), last.sentiment, last.department_id),
        (None, Some(vigie_model::Polarity::Negative), customer_service.id)
    );
    let viewer = app.login("viewer").await;
    let page = viewer.get(&app.p("/settings")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("id=\"departments\"")
            && page.text.contains("id=\"rules\"")
            && page.text.contains("id=\"members\"")
    );
    assert!(!page.text.contains(&format!("action=\"/p/{}/settings/", app.project.id)), "no settings form for a viewer");
    assert!(!page.text.contains("id=\"tokens\"") && !page.text.contains("id=\"audit\""));
    let admin = app.login("admin").await;
    let page = admin.get(&app.p("/settings")).await;
    for fragment in [
        "/settings/departments\"",
        "/settings/rules\"",
        "/settings/members\"",
        "/settings/channels\"",
        "/settings/tokens\"",
        "id=\"audit\"",
        // Each member's role select says whose role it is.
        "aria-label=\"Role of ",
    ] {
        assert!(page.text.contains(fragment), "{fragment}");
    }
    assert!(!page.text.contains("/admin/users"), "only installation admins get the link");
    let root = app.login("root").await;
    assert!(root.get(&app.p("/settings")).await.text.contains("/admin/users"));
}

#[tokio::test]
async fn form_errors_speak_the_persons_language() {
    let app = TestApp::start().await;
    let (mut user, _) = app.store.user_by_name("manager").await.unwrap().unwrap();
    user.lang = "fr".into();
    app.store.update_user(&user, &vigie_store::ChangedBy::unsigned(chrono::Utc::now())).await.unwrap();
    let manager = app.login("manager").await;
    let r = manager
        .post_form(&app.p("/settings/departments"), &[("name", "Presse"), ("hours", "0"), ("minutes", "0")])
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("L'objectif de réponse doit être compris entre 1 minute et 30 jours."), "{}", r.text);
    let r = manager.post_form(&app.p("/settings/channels"), &[("kind", "webhook"), ("url", "ftp://x.example")]).await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("n'est pas une adresse http(s)"), "{}", r.text);
    // A webhook on a private network, said in French (the test server allows
    // loopback; 169.254.169.254 is refused whatever the setting).
    let r = manager
        .post_form(&app.p("/settings/channels"), &[("kind", "webhook"), ("url", "http://169.254.169.254/hook")])
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("169.254.169.254 est une adresse de réseau privé, local ou réservé"), "{}", r.text);
    let r = manager
        .post_form(&app.p("/settings/channels"), &[("kind", "email"), ("addresses", "a@example.fr"), ("lang", "de")])
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("La langue doit être fr (français) ou en (anglais), pas"), "{}", r.text);
    // A default department, shown by its French name, keeps its stored name
    // when the form is sent back with it (English readers still read theirs).
    app.push(json!([{"url": "https://a.example.fr/0", "text": "Acme", "source": "news", "published_at": "2026-03-01T09:00:00Z"}])).await;
    let cs = app
        .store
        .list_departments(app.project.id)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.name == "Customer service")
        .expect("the default departments");
    let r = manager
        .post_form(
            &app.p(&format!("/settings/departments/{}", cs.id)),
            &[("name", "Service client"), ("hours", "1"), ("minutes", "30")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let saved = app.store.list_departments(app.project.id).await.unwrap().into_iter().find(|d| d.id == cs.id).unwrap();
    assert_eq!((saved.name.as_str(), saved.response_target_secs), ("Customer service", 5400));
    // The API answers in English whoever asks.
    let r = manager.post_json(&app.api("/departments"), &json!({"name": "Presse", "response_target_secs": 1})).await;
    assert!(r.json()["message"].as_str().unwrap().starts_with("the response target"), "{}", r.text);
    // The inbox's refusals too.
    app.push(json!([{"url": "https://a.example.fr/1", "text": "Acme", "source": "news", "published_at": "2026-03-01T10:00:00Z"}])).await;
    let mid = app.store.mention_by_key(app.project.id, "url:https://a.example.fr/1").await.unwrap().unwrap().mention.id;
    let r = manager.post_form(&app.p(&format!("/inbox/{mid}/answer")), &[("reply", " ")]).await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("Indiquez la réponse envoyée"), "{}", r.text);
    let page = manager.get(&app.p(&format!("/inbox/{mid}"))).await;
    assert!(page.text.contains("Historique") && page.text.contains("Répondre"));
}

/// Rules are tried in order, so a manager can move one up or down (a theme
/// rule added after the default workflow's catch-all would never fire).
#[tokio::test]
async fn routing_rules_move_up_and_down() {
    let app = TestApp::start().await;
    let pid = app.project.id;
    let now = chrono::Utc::now();
    app.store.seed_themes(pid, &vigie_pipeline::themes::default_themes(), now).await.unwrap();
    assert!(seed_workflow(app.store.as_ref(), pid, now).await.unwrap());
    let ids = || async { app.store.list_rules(pid).await.unwrap().iter().map(|r| r.id).collect::<Vec<i64>>() };
    let before = ids().await;
    let (first, last) = (before[0], *before.last().unwrap());

    let manager = app.login("manager").await;
    let page = manager.get(&app.p("/settings")).await;
    assert!(page.text.contains(&format!("/settings/rules/{last}/move")), "{}", page.text);
    assert!(page.text.contains("aria-label=\"Move up rule #10\""), "{}", page.text);
    assert!(!page.text.contains("Move up rule #1\""), "the first has nowhere to go up");
    let r = manager.post_form(&app.p(&format!("/settings/rules/{last}/move")), &[("direction", "up")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let after = ids().await;
    assert_eq!(after[after.len() - 2], last);
    assert!(audit_actions(&app).await.iter().any(|(action, detail)| action == "rule.move" && detail.contains("up")));

    let token = app.token(Role::Manager).await;
    let r = token.post_json(&app.api(&format!("/rules/{last}/move")), &json!({"direction": "down"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["items"].as_array().unwrap().last().unwrap()["id"], last, "the new order is answered");
    let r = token.post_json(&app.api(&format!("/rules/{last}/move")), &json!({"direction": "down"})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("already the last"), "{}", r.text);
    let r = token.post_json(&app.api(&format!("/rules/{first}/move")), &json!({"direction": "sideways"})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = token.post_json(&app.api("/rules/999999/move"), &json!({"direction": "up"})).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(ids().await, before);
    // A rule added later goes before the catch-all at the end (negative
    // mentions of any theme → customer service), which would take its
    // mentions first; a catch-all added goes last.
    let department = app.store.list_departments(pid).await.unwrap()[0].id;
    let r = token
        .post_json(&app.api("/rules"), &json!({"theme": "legal", "sentiment": "neutral", "department_id": department}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["position"], 10, "{}", r.text);
    assert_eq!(*ids().await.last().unwrap(), last);
    let r = token.post_json(&app.api("/rules"), &json!({"department_id": department})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(*ids().await.last().unwrap(), r.json()["id"].as_i64().unwrap());
    let agent = app.token(Role::Agent).await;
    assert_eq!(
        agent.post_json(&app.api(&format!("/rules/{last}/move")), &json!({"direction": "up"})).await.status,
        403
    );
}

/// The settings page again, not the bare error page, with the error beside
/// form `form` (its id).
fn assert_settings_page_with_error(text: &str, form: &str, message: &str) {
    assert!(text.contains("<title>Settings · Vigie</title>") && text.contains("id=\"departments\""), "{text}");
    assert!(!text.contains("error-page") && !text.contains("Invalid request"), "{text}");
    let error = tag(text, &format!("id=\"{form}-error\""));
    assert!(error.starts_with("<p class=\"error-message\" role=\"alert\""), "{error}");
    assert!(after(text, &format!("id=\"{form}-error\"")).contains(message), "{text}");
}

#[tokio::test]
async fn a_refused_settings_form_is_shown_again_with_what_was_typed() {
    let app = TestApp::start().await;
    let pid = app.project.id;
    let manager = app.login("manager").await;
    let admin = app.login("admin").await;
    let r = manager
        .post_json(&app.api("/departments"), &json!({"name": "Presse & Co", "response_target_secs": 3600}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let presse = r.json()["id"].as_i64().unwrap();

    // A name taken: 409, the add form open again with the name, hours and
    // minutes typed, the name marked as the field at fault.
    let r = manager
        .post_form(&app.p("/settings/departments"), &[("name", "presse & co"), ("hours", "3"), ("minutes", "15")])
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_settings_page_with_error(&r.text, "department-add", "already has a department named");
    let form = after(&r.text, "id=\"department-add-error\"");
    let name = tag(form, "name=\"name\"");
    assert!(name.contains("value=\"presse &amp; co\""), "{name}");
    assert!(name.contains("aria-invalid=\"true\" aria-describedby=\"department-add-error\""), "{name}");
    assert!(tag(form, "name=\"hours\"").contains("value=\"3\""));
    assert!(!tag(form, "name=\"hours\"").contains("aria-invalid"));
    assert!(tag(form, "name=\"minutes\"").contains("value=\"15\""));
    let before = &r.text[..r.text.find("id=\"department-add-error\"").unwrap()];
    assert!(before[before.rfind("<details").unwrap()..].starts_with("<details open>"), "the add form is unfolded");
    assert_eq!(app.store.list_departments(pid).await.unwrap().len(), 1, "nothing added");

    // Editing: the edit form of that department, as typed (escaped).
    let r = manager
        .post_form(
            &app.p(&format!("/settings/departments/{presse}")),
            &[("name", "Médias <i>\"x\""), ("hours", "abc"), ("minutes", "5")],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let id = format!("department-{presse}");
    assert_settings_page_with_error(&r.text, &id, "hours must be a whole number");
    let form = after(&r.text, &format!("id=\"{id}-error\""));
    assert!(tag(form, "name=\"name\"").contains("value=\"Médias &lt;i&gt;&quot;x&quot;\""), "{form}");
    let hours = tag(form, "name=\"hours\"");
    assert!(hours.contains("value=\"abc\"") && hours.contains("aria-invalid=\"true\""), "{hours}");
    assert_eq!(app.store.list_departments(pid).await.unwrap()[0].name, "Presse & Co", "unchanged");
    // A department gone meanwhile: the error at the top of the page.
    let r = manager.post_form(&app.p("/settings/departments/99999/delete"), &[]).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_settings_page_with_error(&r.text, "department-99999", "no department 99999");

    // A rule to a department that does not exist: the choices kept.
    app.store.seed_themes(pid, &vigie_pipeline::themes::default_themes(), chrono::Utc::now()).await.unwrap();
    let r = manager
        .post_form(
            &app.p("/settings/rules"),
            &[
                ("theme", "legal"),
                ("sentiment", "negative"),
                ("watch_id", ""),
                ("source_kind", "forum"),
                ("department_id", "98765"),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_settings_page_with_error(&r.text, "rule-add", "the project has no department 98765");
    let form = after(&r.text, "id=\"rule-add-error\"");
    assert!(form.contains("<option value=\"legal\" selected>"), "{form}");
    assert!(form.contains("<option value=\"negative\" selected>"), "{form}");
    assert!(form.contains("<option value=\"forum\" selected>"), "{form}");
    assert!(tag(form, "name=\"department_id\"").contains("aria-invalid=\"true\""), "{form}");

    // A webhook that is not http(s): the address typed and the choices kept.
    let url = "ftp://hooks.example/x?a=1&b=<2>";
    let r = manager
        .post_form(
            &app.p("/settings/channels"),
            &[("kind", "webhook"), ("url", url), ("min_severity", "critical"), ("lang", "en")],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_settings_page_with_error(&r.text, "channel-webhook", "is not an http(s) URL");
    let form = after(&r.text, "id=\"channel-webhook-error\"");
    let field = tag(form, "name=\"url\"");
    assert!(field.contains("value=\"ftp://hooks.example/x?a=1&amp;b=&lt;2&gt;\""), "{field}");
    assert!(field.contains("aria-describedby=\"channel-webhook-error\""), "{field}");
    assert!(form.contains("<option value=\"critical\" selected>") && form.contains("<option value=\"en\" selected>"));
    // The e-mail form next to it is as usual.
    let mail = after(&r.text, "value=\"email\"");
    assert!(tag(mail, "name=\"addresses\"").contains("value=\"\""), "{mail}");
    let r =
        manager.post_form(&app.p("/settings/channels"), &[("kind", "email"), ("addresses", "alice.example.fr")]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_settings_page_with_error(&r.text, "channel-email", "is not an e-mail address");
    assert!(tag(&r.text, "name=\"addresses\"").contains("value=\"alice.example.fr\""));

    // A scheduled report to a malformed address.
    let r = manager.post_json(&app.api("/channels"), &json!({"kind": "email", "addresses": "team@example.fr"})).await;
    let channel = r.json()["id"].as_i64().unwrap().to_string();
    let r = manager
        .post_form(
            &app.p("/settings/reports"),
            &[("frequency", "monthly"), ("channel_id", &channel), ("recipients", "boss@, x"), ("lang", "en")],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_settings_page_with_error(&r.text, "report-add", "is not an e-mail address");
    let form = after(&r.text, "id=\"report-add-error\"");
    assert!(tag(form, "name=\"recipients\"").contains("value=\"boss@, x\""), "{form}");
    assert!(form.contains("<option value=\"monthly\" selected>"), "{form}");

    // Tokens: an empty name; the role chosen stays chosen.
    let r = admin.post_form(&app.p("/settings/tokens"), &[("name", " "), ("role", "viewer")]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_settings_page_with_error(&r.text, "token-add", "a token name has 1 to 64 characters");
    let form = after(&r.text, "id=\"token-add-error\"");
    assert!(tag(form, "name=\"name\"").contains("aria-invalid=\"true\""), "{form}");
    assert!(form.contains("<option value=\"viewer\" selected>"), "{form}");
    assert!(!r.text.contains("data-secret"), "no token made");
    // Members: someone who does not exist.
    let r = admin.post_form(&app.p("/settings/members"), &[("username", "nobody<x>"), ("role", "manager")]).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_settings_page_with_error(&r.text, "member-add", "no user named");
    let form = after(&r.text, "id=\"member-add-error\"");
    assert!(tag(form, "name=\"username\"").contains("value=\"nobody&lt;x&gt;\""), "{form}");
    assert!(form.contains("<option value=\"manager\" selected>"), "{form}");
    // The last admin's role, beside that member's row.
    let admin_id = app.user_id("admin").await;
    let root = app.login("root").await;
    let r = root.post_form(&app.p(&format!("/settings/members/{admin_id}")), &[("role", "viewer")]).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_settings_page_with_error(&r.text, &format!("member-{admin_id}"), "last admin");

    // The API answers as before: `{code, message}`, nothing more.
    let r = manager
        .post_json(&app.api("/departments"), &json!({"name": "PRESSE & CO", "response_target_secs": 3600}))
        .await;
    assert_eq!(r.status, 409);
    let body = r.json();
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["code", "message"], "{body}");
    assert_eq!(body["code"], "conflict");
}

#[tokio::test]
async fn a_refused_user_form_is_shown_again_with_what_was_typed() {
    let app = TestApp::start().await;
    let root = app.login("root").await;
    let r = root
        .post_form(
            "/admin/users",
            &[
                ("username", "bad name!"),
                ("display_name", "Zoé \"<script>\""),
                ("email", "zoe@example.fr"),
                ("lang", "fr"),
                ("is_admin", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("<h1>Installation users</h1>") && !r.text.contains("error-page"), "{}", r.text);
    let form = after(&r.text, "id=\"user-add-error\"");
    assert!(form.contains("a username may only hold letters"), "{form}");
    let username = tag(form, "name=\"username\"");
    assert!(username.contains("value=\"bad name!\"") && username.contains("aria-invalid=\"true\""), "{username}");
    assert!(tag(form, "name=\"display_name\"").contains("value=\"Zoé &quot;&lt;script&gt;&quot;\""), "{form}");
    assert!(tag(form, "name=\"email\"").contains("value=\"zoe@example.fr\""));
    assert!(form.contains("<option value=\"fr\" selected>"), "{form}");
    assert!(tag(form, "name=\"is_admin\"").contains("checked"), "{form}");
    assert!(!r.text.contains("data-secret"), "no password made");
    // A name taken: 409, said beside the form, not titled "Invalid request".
    let r = root.post_form("/admin/users", &[("username", "AGENT"), ("display_name", "Agent bis")]).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(!r.text.contains("Invalid request") && !r.text.contains("error-page"), "{}", r.text);
    assert!(after(&r.text, "id=\"user-add-error\"").contains("is taken"), "{}", r.text);
    assert!(tag(&r.text, "name=\"display_name\"").contains("value=\"Agent bis\""));
    // A change refused for one user: beside that user's buttons.
    let uid = app.user_id("agent").await;
    let r = root.post_form(&format!("/admin/users/{uid}"), &[("op", "explode")]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(after(&r.text, &format!("id=\"user-{uid}-error\"")).contains("op must be"), "{}", r.text);
}

/// The default departments are named in French for French readers: a
/// French manager adding "Service client" is told it exists.
#[tokio::test]
async fn a_default_department_is_taken_by_its_french_name_too() {
    let app = TestApp::start().await;
    app.push(
        json!([{"url": "https://e.x/1", "text": "Acme", "source": "news", "published_at": "2026-11-20T10:00:00Z"}]),
    )
    .await;
    assert!(app.store.list_departments(app.project.id).await.unwrap().iter().any(|d| d.name == "Customer service"));
    let manager = app.login("manager").await;
    for name in ["Service client", "service CLIENT", "Customer Service"] {
        let r = manager.post_json(&app.api("/departments"), &json!({"name": name, "response_target_secs": 3600})).await;
        assert_eq!(r.status, 409, "{name}: {}", r.text);
    }
    let r = manager.post_json(&app.api("/departments"), &json!({"name": "Presse", "response_target_secs": 3600})).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

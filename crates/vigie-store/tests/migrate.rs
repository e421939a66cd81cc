#![allow(clippy::unwrap_used, clippy::expect_used)]

//! `vigie_store::migrate`: a SQLite store filled through the Store API is
//! copied into a fresh PostgreSQL schema, then read back through `PgStore`
//! and compared with the source, everything, full-text search included.
//! Each test runs in its own schema (`VIGIE_TEST_PG_URL`, see
//! `common/mod.rs`; required when `CI` is set).

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use vigie_model::{
    Alert, AlertEvidence, AlertRule, AlertStatus, Analysis, Contribution, InboxStatus, Mention, Polarity,
    ReachEstimate, Role, Sentiment, Severity, SourceKind, SourceType, ThemeScore, WatchMatch,
};
use vigie_store::migrate::{Progress, migrate, table_names};
use vigie_store::{
    Accounts, FetchRecord, InboxFilter, InboxItem, MentionFilter, MentionRecord, NewAudit, NewChannel, NewDepartment,
    NewRoutingRule, NewSource, NewTheme, NewUser, NewWatch, NewWorkflowEvent, PgStore, SqliteStore, Store, StoreError,
    Workflow,
};

use common::with_postgres;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap()
}

const TEXTS: &[(&str, &str)] = &[
    ("Grève à la SNCF", "Encore 2h de retard avec la SNCF, toujours pas remboursé 😡 #sncf"),
    ("", "Le service client d'Acme m'a rappelé en 10 minutes, bravo !"),
    ("Colis perdu", "Toujours pas reçu mon colis Acme, arnaque totale ? @acme_fr"),
    ("", "The Acme app keeps crashing since the last update, data breach rumours"),
    ("Avis", "Produit correct, livraison rapide, rien à signaler"),
    ("", "retard NEAR train: les trains Acme ont encore du retard ce matin"),
];

fn record(i: usize, title: &str, text: &str, source_id: Option<i64>, watch_id: i64) -> MentionRecord {
    let sentiment = Sentiment {
        label: [Polarity::Negative, Polarity::Positive, Polarity::Neutral][i % 3],
        score: -0.5 + 0.25 * i as f32,
        confidence: 0.8,
        model: "fast-v1".into(),
        // A negative zero (what rounding a tiny negative weight gives): PostgreSQL's
        // jsonb stores it as 0, and the checksums must agree all the same.
        explanation: vec![Contribution { feature: format!("feature {i}"), weight: if i == 0 { -0.0 } else { -1.25 } }],
    };
    let mention = Mention {
        id: 0,
        source_kind: if i.is_multiple_of(2) { SourceKind::Twitter } else { SourceKind::News },
        source_item_id: Some(format!("item-{i}")),
        url: Some(format!("https://example.fr/post/{i}")),
        title: (!title.is_empty()).then(|| title.to_string()),
        text: text.to_string(),
        author: Some(format!("@author{i}")),
        site: Some("example.fr".into()),
        published_at: t0() - Duration::minutes(i as i64 * 7),
        collected_at: t0(),
        lang: Some(if i == 3 { "en" } else { "fr" }.into()),
        lang_confidence: 0.875,
        reach: Some(100 * i as i64),
        content_hash: format!("hash-{i}"),
        dedup_key: format!("url:https://example.fr/post/{i}"),
        analysis: Analysis {
            sentiment: Some(sentiment),
            corrected: None,
            themes: vec![ThemeScore { theme: "customer_service".into(), score: 0.75, evidence: vec!["client".into()] }],
            story_id: None,
            reach: Some(ReachEstimate { audience: 1_000, engagement: 12, score: 42.5, basis: "followers".into() }),
        },
    };
    MentionRecord {
        fts_title: mention.title.as_deref().map(vigie_query::index_text).unwrap_or_default(),
        fts_text: vigie_query::index_text(&mention.text),
        mention,
        source_id,
        matches: vec![WatchMatch { watch_id, terms: vec!["acme".into()] }],
    }
}

/// Fills a store through its API with a bit of everything.
async fn fill(store: &dyn Store) -> i64 {
    let p = store.ensure_project("acme", t0()).await.unwrap();
    let other = store.ensure_project("autre client", t0()).await.unwrap();
    let watch = |name: &str, query: &str| NewWatch {
        name: name.into(),
        query: query.into(),
        competitor: name == "Rival",
        langs: vec!["fr".into(), "en".into()],
    };
    let w = store.add_watch(p.id, watch("Acme", "acme OR sncf"), t0()).await.unwrap();
    store.add_watch(p.id, watch("Rival", "rival"), t0()).await.unwrap();
    store.add_watch(other.id, watch("Autre", "autre"), t0()).await.unwrap();
    let source = |url: &str, kind| NewSource {
        source_type: kind,
        url: url.into(),
        config: json!({"query": "acme", "nested": {"b": 1, "a": [1.5, "x"]}}),
        interval_secs: 900,
        first_due_at: t0(),
    };
    let feed = store.add_source(p.id, source("https://example.fr/feed.xml", SourceType::Rss), t0()).await.unwrap();
    let search = store.add_source(p.id, source("https://searx.example.org", SourceType::Search), t0()).await.unwrap();
    store
        .record_fetch(
            feed.id,
            FetchRecord::Success {
                at: t0(),
                items: 6,
                stored: 6,
                etag: Some("\"v1\"".into()),
                last_modified: Some("Thu, 19 Nov 2026 10:00:00 GMT".into()),
                next_due_at: t0() + Duration::minutes(15),
                cursor: Some(json!({"since": "2026-11-20T08:00:00Z", "pages": [1, 2]})),
                warning: Some("2 item(s) rejected".into()),
            },
        )
        .await
        .unwrap();
    // A lease in flight is copied as it is (it expires on its own).
    store
        .lease_due_sources(t0() + Duration::days(1), 10, "old-worker", std::time::Duration::from_secs(60))
        .await
        .unwrap();
    store
        .add_search_run(search.id, t0(), &json!([{"rank": 1, "url": "https://a.fr", "title": "A"}]), &json!([]))
        .await
        .unwrap();
    store.add_token(p.id, "zapier", "hash-token", Role::Agent, t0()).await.unwrap();
    let theme = |key: &str| NewTheme {
        key: key.into(),
        name: key.replace('_', " "),
        department: "Service client".into(),
        query: "client OR sav".into(),
    };
    store.seed_themes(p.id, &[theme("customer_service"), theme("billing")], t0()).await.unwrap();
    store.add_theme(p.id, theme("palm_oil"), t0()).await.unwrap();

    let batch: Vec<MentionRecord> = TEXTS
        .iter()
        .enumerate()
        .map(|(i, (title, text))| record(i, title, text, i.is_multiple_of(2).then_some(feed.id), w.id))
        .collect();
    let report = store.insert_mentions(p.id, &batch).await.unwrap();
    let ids = report.inserted_ids;
    store.correct_sentiment(p.id, ids[1], Some(Polarity::Negative), t0()).await.unwrap();
    store.set_stories(p.id, &[(ids[5], ids[0])]).await.unwrap();
    store.set_sentiments(p.id, &[(ids[2], None)], 1).await.unwrap();

    store.set_alert_settings(p.id, &json!({"trigger_terms": ["arnaque"], "cooldown_secs": 21600})).await.unwrap();
    store.save_detector_state(w.id, "all", 1_800_000_000, &json!({"mean": 1.25, "seen": [0, 3]})).await.unwrap();
    let hook = NewChannel {
        kind: "webhook".into(),
        target: "https://hooks.example/a".into(),
        secret: Some("s3cret".into()),
        min_severity: Severity::Info,
        lang: vigie_model::Language::En,
    };
    store.add_channel(p.id, hook, t0()).await.unwrap();
    let mail = NewChannel {
        kind: "email".into(),
        target: "com@example.fr".into(),
        secret: None,
        min_severity: Severity::Warning,
        lang: vigie_model::Language::Fr,
    };
    let mail = store.add_channel(p.id, mail, t0()).await.unwrap();
    let schedule = vigie_store::NewReportSchedule {
        frequency: vigie_store::Frequency::Monthly,
        channel_id: mail.id,
        recipients: "direction@example.fr".into(),
        lang: "en".into(),
    };
    store.add_report_schedule(p.id, schedule, t0()).await.unwrap();
    // A retrained model: bytes of every value, a NUL and invalid UTF-8 included.
    let model: Vec<u8> = (0..=255u8).chain([0, 0xff, 0xfe]).collect();
    store.set_project_model(p.id, "sentiment-fast", Some(&model), t0()).await.unwrap();
    let alert = Alert {
        id: 0,
        project_id: p.id,
        watch_id: Some(w.id),
        rule: AlertRule::TriggerTerm,
        severity: Severity::Warning,
        status: AlertStatus::Open,
        dedup_key: format!("trigger_term:{}:arnaque", w.id),
        title: "« arnaque » in 1 mention".into(),
        evidence: AlertEvidence { observed: 1.0, terms: vec!["arnaque".into()], ..AlertEvidence::default() },
        mention_ids: vec![ids[2]],
        events: 1,
        opened_at: t0(),
        updated_at: t0(),
        acknowledged_at: None,
        resolved_at: None,
        acknowledged_by: None,
        resolved_by: None,
    };
    let alert = store.save_alert(&alert, true, t0()).await.unwrap();
    let grown = Alert { events: 2, severity: Severity::Critical, updated_at: t0() + Duration::minutes(5), ..alert };
    store.save_alert(&grown, true, t0()).await.unwrap();
    let claimed = store.claim_due_deliveries(t0(), 10, "w", std::time::Duration::from_secs(60)).await.unwrap();
    store.record_delivery(claimed[0].id, vigie_store::DeliveryRecord::Sent { at: t0() }).await.unwrap();

    let user = |name: &str, admin: bool| NewUser {
        username: name.into(),
        display_name: format!("{name} Dupont"),
        email: Some(format!("{name}@example.fr")),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        is_admin: admin,
        lang: "fr".into(),
        must_change_password: !admin,
    };
    let admin = store.add_user(user("admin", true), t0()).await.unwrap();
    let marie = store.add_user(user("Marie", false), t0()).await.unwrap();
    store
        .set_membership(p.id, marie.id, Some(Role::Agent), &vigie_store::ChangedBy::unsigned(chrono::Utc::now()))
        .await
        .unwrap();
    store
        .set_membership(other.id, marie.id, Some(Role::Viewer), &vigie_store::ChangedBy::unsigned(chrono::Utc::now()))
        .await
        .unwrap();
    store.create_session("session-hash", marie.id, "csrf-token", t0(), t0() + Duration::days(7)).await.unwrap();
    store.record_login_failure("paul", t0()).await.unwrap();
    store.record_login_failure("paul", t0()).await.unwrap();
    let audit = |action: &str| NewAudit {
        project_id: Some(p.id),
        user_id: Some(admin.id),
        action: action.into(),
        detail: format!("{action}: l'ancienne valeur → la nouvelle"),
    };
    store.audit(audit("watch.update"), t0()).await.unwrap();
    store.audit(NewAudit { project_id: None, ..audit("user.add") }, t0()).await.unwrap();

    let sav = store
        .add_department(
            p.id,
            NewDepartment { name: "Service client".into(), response_target_secs: 4 * 3600, manager_id: Some(admin.id) },
            t0(),
        )
        .await
        .unwrap();
    let rule = NewRoutingRule {
        theme: Some("customer_service".into()),
        sentiment: Some(Polarity::Negative),
        watch_id: Some(w.id),
        source_kind: None,
        department_id: sav.id,
    };
    store.add_rule(p.id, rule, t0()).await.unwrap();
    let item = InboxItem {
        mention_id: ids[0],
        project_id: p.id,
        status: InboxStatus::Assigned,
        department_id: Some(sav.id),
        assignee_id: Some(marie.id),
        entered_at: t0(),
        due_at: Some(t0() + Duration::hours(4)),
        first_response_at: None,
        closed_at: None,
        reply: None,
        reason: None,
        escalated_at: None,
        // Reopened after an answer: its clock and the first answer's due time.
        clock_at: Some(t0() + Duration::hours(1)),
        first_due_at: Some(t0() + Duration::minutes(30)),
        updated_at: t0(),
    };
    let event =
        |action: &str| NewWorkflowEvent { user_id: Some(marie.id), action: action.into(), detail: "…".into() };
    store.save_inbox_item(&item, Some(event("assigned"))).await.unwrap();
    let answered = InboxItem {
        mention_id: ids[2],
        status: InboxStatus::Answered,
        first_response_at: Some(t0() + Duration::minutes(30)),
        reply: Some("Nous regardons, désolés".into()),
        ..item.clone()
    };
    store.save_inbox_item(&answered, Some(event("answered"))).await.unwrap();
    store.add_workflow_event(p.id, ids[2], event("note"), t0()).await.unwrap();
    // Overdue and escalated, its e-mail to the admin waiting.
    let mails = vigie_store::NewEscalationMails {
        recipients: vec![admin.id],
        to_project_managers: false,
        department: Some("SAV".into()),
        due_at: t0() + Duration::hours(4),
    };
    let late = t0() + Duration::hours(5);
    assert!(store.escalate_item(p.id, ids[0], event("escalated"), &mails, late).await.unwrap());
    p.id
}

/// Everything the Store API reads back, as text: equal dumps, equal stores.
async fn dump(store: &dyn Store) -> String {
    let mut out = String::new();
    let mut put = |what: &str, value: String| out.push_str(&format!("{what}: {value}\n"));
    let far = t0() + Duration::days(1);
    put("projects", format!("{:?}", store.list_projects().await.unwrap()));
    put("users", format!("{:?}", store.list_users().await.unwrap()));
    put("audit", format!("{:?}", store.audit_log(None, None, 100).await.unwrap()));
    put("session", format!("{:?}", store.session("session-hash", t0()).await.unwrap()));
    put("failures", format!("{:?}", store.login_failures("paul", t0() - Duration::hours(1)).await.unwrap()));
    for u in store.list_users().await.unwrap() {
        put("memberships", format!("{:?}", store.memberships(u.id).await.unwrap()));
    }
    for p in store.list_projects().await.unwrap() {
        let id = p.id;
        put("watches", format!("{:?}", store.list_watches(id).await.unwrap()));
        let sources = store.list_sources(id).await.unwrap();
        put("sources", format!("{sources:?}"));
        for s in &sources {
            put("search runs", format!("{:?}", store.search_runs(s.id, 10).await.unwrap()));
        }
        put("coverage", format!("{:?}", store.source_coverage(id, t0() - Duration::days(1)).await.unwrap()));
        put("tokens", format!("{:?}", store.list_tokens(id).await.unwrap()));
        put("themes", format!("{:?}", store.list_themes(id).await.unwrap()));
        let mentions = store.mentions_after(id, &MentionFilter::default(), 0, 1_000).await.unwrap();
        put("mentions", format!("{mentions:?}"));
        put("summary", format!("{:?}", store.summary(id).await.unwrap()));
        put("refine queue", format!("{:?}", store.mentions_to_refine(id, 100).await.unwrap()));
        put(
            "overview",
            format!(
                "{:?}",
                store
                    .overview(
                        id,
                        t0() - Duration::days(1),
                        far,
                        &vigie_store::Buckets::uniform(t0() - Duration::days(1), far, 3600),
                        10
                    )
                    .await
                    .unwrap()
            ),
        );
        put("settings", format!("{:?}", store.alert_settings(id).await.unwrap()));
        put("channels", format!("{:?}", store.list_channels(id).await.unwrap()));
        put("report schedules", format!("{:?}", store.list_report_schedules(id).await.unwrap()));
        put("project model", format!("{:?}", store.project_model(id, "sentiment-fast").await.unwrap()));
        for w in store.list_watches(id).await.unwrap() {
            put("detector", format!("{:?}", store.detector_state(w.id, "all").await.unwrap()));
            put("buckets", format!("{:?}", store.watch_buckets(w.id, "all", 0, i64::MAX).await.unwrap()));
        }
        for a in store.alerts(id, None, 100).await.unwrap() {
            put("alert", format!("{a:?}"));
            put("deliveries", format!("{:?}", store.deliveries(a.id).await.unwrap()));
        }
        put("members", format!("{:?}", store.members(id).await.unwrap()));
        put("departments", format!("{:?}", store.list_departments(id).await.unwrap()));
        put("rules", format!("{:?}", store.list_rules(id).await.unwrap()));
        let all = InboxFilter { statuses: InboxStatus::ALL.to_vec(), ..InboxFilter::default() };
        put("inbox", format!("{:?}", store.inbox(id, &all, None, 100).await.unwrap()));
        put("inbox counts", format!("{:?}", store.inbox_counts(id, far).await.unwrap()));
        for m in &mentions {
            put("history", format!("{:?}", store.workflow_events(id, m.mention.id).await.unwrap()));
        }
    }
    out
}

/// The ids each full-text search gives, newest first.
async fn searches(store: &dyn Store, project_id: i64) -> Vec<(String, Vec<i64>)> {
    let queries = [
        "sncf",
        "\"service client\"",
        "rembours*",
        "colis AND NOT arnaque",
        "title:grève",
        "retard NEAR/3 train",
        "#sncf OR @acme_fr",
        "data breach",
        "livraison -rapide",
    ];
    let mut out = Vec::new();
    for q in queries {
        let prefilter = vigie_query::parse(q).unwrap().fts5_prefilter();
        let found =
            store.candidates(project_id, prefilter.as_deref(), &MentionFilter::default(), None, 100).await.unwrap();
        out.push((q.to_string(), found.iter().map(|c| c.mention.id).collect()));
    }
    out
}

async fn sqlite_source(dir: &tempfile::TempDir) -> (SqliteStore, i64) {
    let sqlite = SqliteStore::open(&dir.path().join("vigie.db")).await.unwrap();
    let project = fill(&sqlite).await;
    (sqlite, project)
}

#[tokio::test]
async fn everything_is_copied_and_reads_back_the_same() {
    with_postgres(|url, schema| async move {
        let dir = tempfile::tempdir().unwrap();
        let (sqlite, project) = sqlite_source(&dir).await;
        let pg = PgStore::connect_in_schema(&url, &schema).await.unwrap();
        let mut events = Vec::new();
        let report = migrate(&sqlite, &pg, &mut |p: Progress<'_>| {
            if let Progress::Copy { table, rows } = p {
                events.push((table.to_string(), rows));
            }
        })
        .await
        .unwrap();
        assert!(report.committed && report.all_match(), "{report:#?}");
        assert_eq!(report.tables.len(), table_names().count());
        assert_eq!(events.len(), report.tables.len(), "progress for every table");
        // Every table had rows to copy, so every table was really checked.
        for t in &report.tables {
            assert!(t.source_rows > 0, "{} is empty in the source: the test does not cover it", t.table);
            assert_eq!(t.source_sha256.len(), 64);
        }

        // jsonb has no negative zero: the one planted in `record` reads back 0.
        assert_eq!(dump(&sqlite).await.replace("weight: -0.0", "weight: 0.0"), dump(&pg).await);
        let (on_sqlite, on_pg) = (searches(&sqlite, project).await, searches(&pg, project).await);
        assert_eq!(on_sqlite, on_pg);
        assert!(on_pg.iter().filter(|(_, ids)| !ids.is_empty()).count() >= 6, "{on_pg:?}");

        // Sequences start past the copied ids: new rows of every kind go in.
        let max_mention = pg.mentions_after(project, &MentionFilter::default(), 0, 1_000).await.unwrap().len() as i64;
        let extra = record(99, "Nouveau", "un nouveau message sur acme", None, 1);
        let inserted = pg.insert_mentions(project, &[extra]).await.unwrap();
        assert_eq!(inserted.inserted, 1);
        assert!(inserted.inserted_ids[0] > max_mention);
        let p2 = pg.ensure_project("after migration", t0()).await.unwrap();
        let watch = NewWatch { name: "n".into(), query: "n".into(), competitor: false, langs: vec![] };
        pg.add_watch(p2.id, watch, t0()).await.unwrap();
        let src = NewSource {
            source_type: SourceType::Rss,
            url: "https://new.example/feed".into(),
            config: json!({}),
            interval_secs: 600,
            first_due_at: t0(),
        };
        pg.add_source(p2.id, src, t0()).await.unwrap();
        pg.add_token(p2.id, "t", "new-hash", Role::Viewer, t0()).await.unwrap();
        let theme = NewTheme { key: "k".into(), name: "k".into(), department: "d".into(), query: "k".into() };
        pg.add_theme(p2.id, theme, t0()).await.unwrap();
        let user = NewUser {
            username: "new".into(),
            display_name: "New".into(),
            email: None,
            password_hash: "x".into(),
            is_admin: false,
            lang: "en".into(),
            must_change_password: false,
        };
        let u = pg.add_user(user, t0()).await.unwrap();
        assert!(u.id > 2);
        let dep = NewDepartment { name: "Legal".into(), response_target_secs: 60, manager_id: None };
        pg.add_department(p2.id, dep, t0()).await.unwrap();
        pg.audit(NewAudit { project_id: None, user_id: None, action: "a".into(), detail: "d".into() }, t0())
            .await
            .unwrap();
        let channel = NewChannel {
            kind: "email".into(),
            target: "a@example.fr".into(),
            secret: None,
            min_severity: Severity::Info,
            lang: vigie_model::Language::Fr,
        };
        pg.add_channel(p2.id, channel, t0()).await.unwrap();
        let first_alert = pg.alerts(project, None, 10).await.unwrap().remove(0);
        let alert = Alert { id: 0, dedup_key: "new".into(), ..first_alert };
        assert!(pg.save_alert(&alert, true, t0()).await.unwrap().id > 1);

        sqlite.close().await;
        pg.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_target_with_data_is_refused_and_left_alone() {
    with_postgres(|url, schema| async move {
        let dir = tempfile::tempdir().unwrap();
        let (sqlite, _) = sqlite_source(&dir).await;
        let pg = PgStore::connect_in_schema(&url, &schema).await.unwrap();
        let existing = pg.ensure_project("already here", t0()).await.unwrap();
        let err = migrate(&sqlite, &pg, &mut |_| {}).await.unwrap_err();
        match err {
            StoreError::Conflict(message) => assert!(message.contains("not empty"), "{message}"),
            other => panic!("expected a refusal, got {other}"),
        }
        assert_eq!(pg.list_projects().await.unwrap(), vec![existing]);
        sqlite.close().await;
        pg.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_failure_midway_leaves_the_target_empty() {
    with_postgres(|url, schema| async move {
        let dir = tempfile::tempdir().unwrap();
        let (sqlite, _) = sqlite_source(&dir).await;
        let pg = PgStore::connect_in_schema(&url, &schema).await.unwrap();
        // A constraint the source's data breaks, on a table copied after
        // projects, watches, sources and mentions.
        sqlx::query("ALTER TABLE audit_log ADD CONSTRAINT no_updates CHECK (action <> 'watch.update')")
            .execute(pg.pool())
            .await
            .unwrap();
        let err = migrate(&sqlite, &pg, &mut |_| {}).await.unwrap_err();
        assert!(err.to_string().contains("no_updates"), "{err}");
        assert!(pg.list_projects().await.unwrap().is_empty());
        assert!(pg.list_users().await.unwrap().is_empty());
        let mentions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mentions").fetch_one(pg.pool()).await.unwrap();
        assert_eq!(mentions, 0);
        sqlite.close().await;
        pg.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_copy_that_reads_back_differently_is_rolled_back() {
    with_postgres(|url, schema| async move {
        let dir = tempfile::tempdir().unwrap();
        let (sqlite, _) = sqlite_source(&dir).await;
        let pg = PgStore::connect_in_schema(&url, &schema).await.unwrap();
        // Something between the copy and the disk changes a value: same
        // count, another checksum.
        for sql in [
            "CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$",
            "CREATE TRIGGER shout BEFORE INSERT ON watches FOR EACH ROW EXECUTE FUNCTION shout()",
        ] {
            sqlx::query(sql).execute(pg.pool()).await.unwrap();
        }
        let report = migrate(&sqlite, &pg, &mut |_| {}).await.unwrap();
        assert!(!report.committed && !report.all_match());
        let differs: Vec<&str> = report.tables.iter().filter(|t| !t.matches()).map(|t| t.table).collect();
        assert_eq!(differs, vec!["watches"]);
        let watches = report.tables.iter().find(|t| t.table == "watches").unwrap();
        assert_eq!(watches.source_rows, watches.target_rows);
        assert!(pg.list_projects().await.unwrap().is_empty(), "rolled back");
        sqlite.close().await;
        pg.close().await;
    })
    .await;
}

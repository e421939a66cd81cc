#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Reports, exports and scheduled reports over real HTTP on 127.0.0.1,
//! against a SQLite file, on a hand-computed fixture; the scheduled e-mail
//! goes to a real SMTP server (Python's aiosmtpd, as vigie-notify's tests).

mod common;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use vigie_model::{
    Alert, AlertEvidence, AlertRule, AlertStatus, Analysis, InboxStatus, Mention, Polarity, ReachEstimate, Role,
    Sentiment, Severity, SourceKind, WatchMatch,
};
use vigie_store::{InboxItem, MentionRecord, NewChannel, NewDepartment, NewWatch};

use common::TestApp;
use vigie_testkit::smtp::SmtpServer;

const HOSTILE: &str = "=HYPERLINK(\"http://evil.example\") <script>alert(1)</script> <img src=x onerror=alert(2)>";

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

fn record(
    key: &str,
    text: &str,
    published: DateTime<Utc>,
    polarity: Option<Polarity>,
    reach: Option<f32>,
    watches: &[i64],
) -> MentionRecord {
    let mention = Mention {
        id: 0,
        source_kind: SourceKind::Twitter,
        source_item_id: Some(key.to_string()),
        url: Some(format!("https://twitter.com/i/web/status/{key}")),
        title: None,
        text: text.to_string(),
        author: Some(format!("@{key}")),
        site: Some("twitter.com".into()),
        published_at: published,
        collected_at: published,
        lang: Some("fr".into()),
        lang_confidence: 0.9,
        reach: Some(100),
        content_hash: format!("hash-{key}"),
        dedup_key: format!("key:{key}"),
        analysis: Analysis {
            sentiment: polarity.map(|label| Sentiment {
                label,
                score: if label == Polarity::Negative { -0.8 } else { 0.5 },
                confidence: 0.9,
                explanation: vec![],
                model: "fast-v1".into(),
            }),
            reach: reach.map(|score| ReachEstimate { audience: 10, engagement: 1, score, basis: "followers".into() }),
            ..Analysis::default()
        },
    };
    let matches = watches.iter().map(|w| WatchMatch { watch_id: *w, terms: vec!["acme".into()] }).collect();
    MentionRecord { fts_title: String::new(), fts_text: text.to_lowercase(), mention, source_id: None, matches }
}

/// The fixture. Period 2026-11-09 → 2026-11-15 (7 days), previous period
/// 2026-11-02 → 2026-11-08.
///
/// This period: A negative (reach 10, hostile text), B positive (50), C
/// positive (30), D neutral (no reach, the competitor's). Own watch: A, B,
/// C; competitor: D. Previous: E negative (20), F negative (40), both ours.
/// One alert opened on the 10th, acknowledged 30 min later. Inbox: A
/// answered 30 min after entering (target 1 h), B not answered.
///
/// Hand-computed: volume 4 (prev 2, +100 %); net sentiment (2 − 1) / 4 =
/// 0.25 (prev −1); share of voice 3/4 (prev 1); reach total 90 (prev 60),
/// median 30 (prev 20); response rate 1/2, median first response 1 800 s,
/// within target 1; alerts raised 1, time to acknowledge 1 800 s.
async fn fixture(app: &TestApp) {
    let pid = app.project.id;
    let watch = |name: &str, competitor| NewWatch { name: name.into(), query: name.into(), competitor, langs: vec![] };
    let own = app.store.add_watch(pid, watch("acme", false), at(1, 0)).await.unwrap().id;
    let rival = app.store.add_watch(pid, watch("rival", true), at(1, 0)).await.unwrap().id;
    use Polarity::{Negative, Neutral, Positive};
    let batch = vec![
        record("A", HOSTILE, at(10, 9), Some(Negative), Some(10.0), &[own]),
        record("B", "acme super", at(11, 9), Some(Positive), Some(50.0), &[own]),
        record("C", "acme bien", at(12, 9), Some(Positive), Some(30.0), &[own]),
        record("D", "rival bof", at(13, 9), Some(Neutral), None, &[rival]),
        record("E", "acme nul", at(3, 9), Some(Negative), Some(20.0), &[own]),
        record("F", "acme pire", at(4, 9), Some(Negative), Some(40.0), &[own]),
    ];
    app.store.insert_mentions(pid, &batch).await.unwrap();
    let id = |key: &str| {
        let store = app.store.clone();
        let key = format!("key:{key}");
        async move { store.mention_by_key(pid, &key).await.unwrap().unwrap().mention.id }
    };
    let dept = app
        .store
        .add_department(
            pid,
            NewDepartment { name: "Support".into(), response_target_secs: 3_600, manager_id: None },
            at(1, 0),
        )
        .await
        .unwrap();
    let item = |mention_id: i64, entered: DateTime<Utc>, answered: Option<DateTime<Utc>>| InboxItem {
        mention_id,
        project_id: pid,
        status: if answered.is_some() { InboxStatus::Answered } else { InboxStatus::ToHandle },
        department_id: Some(dept.id),
        assignee_id: None,
        entered_at: entered,
        due_at: Some(entered + chrono::Duration::hours(1)),
        first_response_at: answered,
        closed_at: answered,
        reply: answered.map(|_| "merci".to_string()),
        reason: None,
        escalated_at: None,
        clock_at: None,
        first_due_at: None,
        updated_at: entered,
    };
    app.store
        .save_inbox_item(&item(id("A").await, at(10, 10), Some(at(10, 10) + chrono::Duration::minutes(30))), None)
        .await
        .unwrap();
    app.store.save_inbox_item(&item(id("B").await, at(11, 10), None), None).await.unwrap();
    let alert = Alert {
        id: 0,
        project_id: pid,
        watch_id: Some(own),
        rule: AlertRule::TriggerTerm,
        severity: Severity::Warning,
        status: AlertStatus::Acknowledged,
        dedup_key: "trigger:boycott".into(),
        title: "« boycott » <b>in</b> 1 mention".into(),
        evidence: AlertEvidence::default(),
        mention_ids: vec![],
        events: 1,
        opened_at: at(10, 12),
        updated_at: at(10, 12),
        acknowledged_at: Some(at(10, 12) + chrono::Duration::minutes(30)),
        resolved_at: None,
        acknowledged_by: Some("agent".into()),
        resolved_by: None,
    };
    app.store.save_alert(&alert, false, at(10, 12)).await.unwrap();
}

const PERIOD: &str = "from=2026-11-09&to=2026-11-15";

fn kpi<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {report}"))
}

#[tokio::test]
async fn a_period_that_cannot_be_read_is_refused_with_the_forms_words() {
    let app = TestApp::start().await;
    let viewer = app.login("viewer").await;
    let report = viewer.get(&app.p("/report?from=01/11/2026")).await;
    assert_eq!(report.status, 400, "the form again, as a refusal");
    assert!(
        report.text.contains("from must be a date as YYYY-MM-DD")
            || report.text.contains("la date « du » doit s&#39;écrire AAAA-MM-JJ")
            || report.text.contains("la date « du » doit s'écrire AAAA-MM-JJ"),
        "{}",
        report.text
    );
    assert!(report.text.contains("name=\"from\""), "with the form to correct it");
    let overview = viewer.get(&app.p("/overview?from=2026-11-05&to=2026-11-03")).await;
    assert_eq!(overview.status, 400);
    assert_eq!(viewer.get(&app.p("/report?from=2026-11-01&to=2026-11-03")).await.status, 200);
}

#[tokio::test]
async fn a_long_list_of_alerts_says_it_is_cut() {
    let app = TestApp::start().await;
    fixture(&app).await;
    let pid = app.project.id;
    // 54 more alerts in the period: 55 raised, 50 listed.
    for n in 0..54 {
        let alert = Alert {
            id: 0,
            project_id: pid,
            watch_id: None,
            rule: AlertRule::TriggerTerm,
            severity: Severity::Warning,
            status: AlertStatus::Open,
            dedup_key: format!("trigger:n{n}"),
            title: format!("alert {n}"),
            evidence: AlertEvidence::default(),
            mention_ids: vec![],
            events: 1,
            opened_at: at(11, 0) + chrono::Duration::minutes(n),
            updated_at: at(11, 0) + chrono::Duration::minutes(n),
            acknowledged_at: None,
            resolved_at: None,
            acknowledged_by: None,
            resolved_by: None,
        };
        app.store.save_alert(&alert, false, alert.opened_at).await.unwrap();
    }
    let viewer = app.login("viewer").await;
    let r = viewer.get(&app.api(&format!("/report?{PERIOD}"))).await.json();
    assert_eq!(kpi(&r, "alerts_raised")["value"], json!(55.0));
    let page = viewer.get(&app.p(&format!("/report?{PERIOD}"))).await;
    assert!(
        page.text.contains("The first 50 of the period") || page.text.contains("Les 50 premières des 55 alertes"),
        "{}",
        page.text
    );
}

#[tokio::test]
async fn the_report_shows_the_hand_computed_kpis() {
    let app = TestApp::start().await;
    fixture(&app).await;
    let viewer = app.login("viewer").await;
    let a = viewer.get(&app.api(&format!("/report?{PERIOD}"))).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let r = a.json();
    let pair = |key: &str| (kpi(&r, key)["value"].clone(), kpi(&r, key)["previous"].clone());
    assert_eq!(pair("volume"), (json!(4.0), json!(2.0)));
    assert_eq!(kpi(&r, "volume")["relative_change"], json!(1.0));
    assert_eq!(pair("net_sentiment"), (json!(0.25), json!(-1.0)));
    assert_eq!(pair("share_of_voice"), (json!(0.75), json!(1.0)));
    assert_eq!(pair("reach_total"), (json!(90.0), json!(60.0)));
    assert_eq!(pair("reach_median"), (json!(30.0), json!(20.0)));
    assert_eq!(pair("entered"), (json!(2.0), json!(0.0)));
    assert_eq!(pair("response_rate"), (json!(0.5), Value::Null));
    assert_eq!(pair("first_response_median_secs"), (json!(1800.0), Value::Null));
    assert_eq!(pair("answered_within_target"), (json!(1.0), Value::Null));
    assert_eq!(pair("alerts_raised"), (json!(1.0), json!(0.0)));
    assert_eq!(pair("ack_median_secs"), (json!(1800.0), Value::Null));
    assert_eq!(r["departments"][0]["name"], "Support");
    assert_eq!(r["sources"][0], json!({"source": "twitter", "volume": 4, "previous": 2, "relative_change": 1.0}));
    assert_eq!(r["top_reach"][0]["author"], "@B", "the highest reach first");
    assert_eq!(r["most_negative"].as_array().unwrap().len(), 1);
    assert_eq!(r["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(r["period"]["from"], "2026-11-09T00:00:00+00:00");
    assert_eq!(r["previous_period"]["from"], "2026-11-02T00:00:00+00:00");

    // The page, in both languages.
    let page = viewer.get(&app.p(&format!("/report?{PERIOD}"))).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("data-kpi=\"share_of_voice\""), "{}", page.text);
    assert!(page.text.contains("75,0\u{a0}%") || page.text.contains("75.0 %"));
    // The page's export links work with the session too.
    let kpis = viewer.get(&app.api(&format!("/export/kpis?format=csv&{PERIOD}"))).await;
    assert_eq!(kpis.status, 200, "{}", kpis.text);
    // Opened without a period, the page shows 7 days, and its downloads
    // and exports say so (without it the mention export is the whole history).
    let default = viewer.get(&app.p("/report")).await;
    let pid = app.project.id;
    for link in [
        format!("/api/v1/projects/{pid}/export/mentions?period=7d&amp;format=csv"),
        format!("/api/v1/projects/{pid}/export/kpis?period=7d&amp;format=csv"),
        format!("/p/{pid}/report/download?period=7d&amp;lang="),
    ] {
        assert!(default.text.contains(&link), "{link} in {}", default.text);
    }
    let bad = viewer.get(&app.p("/report?period=24h")).await;
    assert!(bad.text.contains("7d, 30d or 90d"), "{}", bad.text);
    let bad = viewer.get(&app.api("/report?from=2026-11-20&to=2026-11-01")).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn the_downloaded_report_is_self_contained_and_escaped() {
    let app = TestApp::start().await;
    fixture(&app).await;
    let viewer = app.login("viewer").await;
    let a = viewer.get(&app.p(&format!("/report/download?{PERIOD}&lang=en"))).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let disposition = a.headers.get("content-disposition").unwrap().to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"vigie-report-"), "{disposition}");
    assert!(disposition.ends_with("-20261109-20261115.html\""), "{disposition}");
    let doc = &a.text;
    assert!(doc.starts_with("<!DOCTYPE html>"));
    // Figures of the fixture, both periods.
    assert!(doc.contains("Share of voice") && doc.contains("75.0 %"), "{doc}");
    assert!(doc.contains("+0.25") && doc.contains("-1.00"));
    assert!(doc.contains("+100.0 %"), "volume change");
    assert!(doc.contains("Support"));
    // Inline charts, no script, no external resource.
    assert!(doc.matches("<svg").count() >= 3);
    assert!(doc.contains("<style>"));
    // Every tag (escaped text has no raw `<`): no script, no element that
    // loads something, no event handler.
    let lower = doc.to_ascii_lowercase();
    for tag in lower.split('<').skip(1).map(|rest| rest.split('>').next().unwrap_or("")) {
        let name = tag.split([' ', '/']).next().unwrap_or("");
        assert!(!["script", "link", "img", "iframe", "object", "embed", "image", "use"].contains(&name), "<{tag}>");
        assert!(!tag.contains(" src=") && !tag.contains("href=\"/") && !tag.contains(" on"), "<{tag}>");
    }
    assert!(!lower.contains("@import") && !lower.contains("url("), "no external CSS");
    // Hostile text is text.
    assert!(doc.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(doc.contains("&lt;b&gt;in&lt;/b&gt;"), "alert titles escaped too");
    assert!(doc.contains("<td>warning</td>"), "severity in the report's language");
    let fr = viewer.get(&app.p(&format!("/report/download?{PERIOD}&lang=fr"))).await;
    assert!(fr.text.contains("<td>attention</td>") && !fr.text.contains("<td>warning</td>"), "{}", fr.text);
    assert!(fr.text.contains("+0,25") && fr.text.contains("-1,00"), "French decimals: {}", fr.text);

    // PDF only with Chromium on the server; otherwise a clear answer.
    let pdf = viewer.get(&app.p(&format!("/report/download?{PERIOD}&format=pdf&lang=en"))).await;
    if vigie_web::pdf::chromium().is_some() {
        assert_eq!(pdf.status, 200, "{}", pdf.text);
        assert_eq!(pdf.headers.get("content-type").unwrap(), "application/pdf");
    } else {
        assert_eq!(pdf.status, 503);
        assert!(pdf.text.contains("Chromium is not installed"), "{}", pdf.text);
    }
}

#[tokio::test]
async fn exports_stream_every_mention_with_formulas_made_inert() {
    let app = TestApp::start().await;
    fixture(&app).await;
    // More than two store pages.
    let extra: Vec<MentionRecord> = (0..2_345)
        .map(|i| record(&format!("x{i}"), &format!("-{i} acme"), at(20, 0), Some(Polarity::Neutral), Some(1.0), &[]))
        .collect();
    app.store.insert_mentions(app.project.id, &extra).await.unwrap();
    let total = 6 + 2_345;
    let viewer = app.token(Role::Viewer).await;

    let csv = viewer.get(&app.api("/export/mentions?format=csv")).await;
    assert_eq!(csv.status, 200);
    assert!(csv.headers.get("content-disposition").unwrap().to_str().unwrap().starts_with("attachment"));
    // A byte-order mark first: spreadsheets read the accents right.
    let body = csv.text.strip_prefix('\u{feff}').expect("a UTF-8 byte-order mark");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(headers.get(0), Some("id"));
    let text_col = headers.iter().position(|h| h == "text").unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), total);
    let hostile = rows.iter().find(|r| r.get(0) == Some("A")).unwrap();
    assert_eq!(hostile.get(text_col), Some(format!("'{HOSTILE}").as_str()), "a formula is made inert");
    let dashed = rows.iter().find(|r| r.get(0) == Some("x7")).unwrap();
    assert_eq!(dashed.get(text_col), Some("'-7 acme"));
    let score_col = headers.iter().position(|h| h == "sentiment_score").unwrap();
    assert!(hostile.get(score_col).unwrap().starts_with("-0.8"), "numbers stay numbers");
    let mut ids: Vec<&str> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "each mention once");

    let json = viewer.get(&app.api("/export/mentions?format=json")).await;
    let list: Vec<Value> = serde_json::from_str(&json.text).unwrap();
    assert_eq!(list.len(), total);
    assert_eq!(list.iter().find(|m| m["id"] == "A").unwrap()["text"], HOSTILE, "JSON keeps the text exact");
    let jsonl = viewer.get(&app.api("/export/mentions?format=jsonl")).await;
    assert_eq!(jsonl.text.lines().count(), total);

    // A period: only its mentions.
    let period = viewer.get(&app.api(&format!("/export/mentions?format=json&{PERIOD}"))).await;
    let list: Vec<Value> = serde_json::from_str(&period.text).unwrap();
    assert_eq!(list.len(), 4);
    assert_eq!(viewer.get(&app.api("/export/mentions?format=xlsx")).await.status, 400);
    // A filter the export does not take is refused, not ignored.
    let filtered = viewer.get(&app.api("/export/mentions?format=jsonl&watch=4")).await;
    assert_eq!(filtered.status, 400, "{}", filtered.text);
    let message = filtered.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("unknown parameter `watch`: this address takes format, period, from, to, sep, lang")
            || message
                .contains("paramètre inconnu « watch » : cette adresse prend format, period, from, to, sep, lang"),
        "{message}"
    );

    // KPIs as CSV: the same numbers as the report.
    let kpis = viewer.get(&app.api(&format!("/export/kpis?format=csv&{PERIOD}"))).await;
    assert_eq!(kpis.status, 200);
    assert!(kpis.text.starts_with("\u{feff}scope,key,unit,value,previous,change,from,to\n"), "{}", kpis.text);
    // With semicolons, as a spreadsheet set to French expects, decimals with
    // a comma (what that spreadsheet reads as a number).
    let semi = viewer.get(&app.api(&format!("/export/kpis?format=csv&sep=semicolon&{PERIOD}"))).await;
    assert!(semi.text.contains("project;share_of_voice;share;0,75;1;-0,25;"), "{}", semi.text);
    let semi = viewer.get(&app.api("/export/mentions?format=csv&sep=semicolon")).await;
    let mut reader =
        csv::ReaderBuilder::new().delimiter(b';').from_reader(semi.text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().unwrap().clone();
    let score = headers.iter().position(|h| h == "sentiment_score").unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), total);
    let scores: Vec<&str> = records.iter().map(|r| &r[score]).filter(|s| !s.is_empty()).collect();
    assert!(!scores.is_empty() && scores.iter().all(|s| !s.contains('.')), "{scores:?}");
    assert!(scores.iter().any(|s| s.contains(',')), "{scores:?}");
    assert_eq!(viewer.get(&app.api("/export/mentions?format=csv&sep=pipe")).await.status, 400);
    assert!(kpis.text.contains("project,share_of_voice,share,0.75,1,-0.25,"), "{}", kpis.text);
    assert!(kpis.text.contains("department:Support,response_rate,share,0.5,,,"), "{}", kpis.text);
    assert!(kpis.text.contains("source:twitter,volume,count,4,2,2,"), "{}", kpis.text);
    // The language the report's download takes is taken here too.
    assert_eq!(viewer.get(&app.api(&format!("/export/kpis?format=csv&lang=fr&{PERIOD}"))).await.status, 200);
    let unknown = viewer.get(&app.api(&format!("/export/kpis?format=csv&lang=de&{PERIOD}"))).await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.json()["message"].as_str().unwrap().contains("fr or en"), "{}", unknown.text);
    let kj = viewer.get(&app.api(&format!("/export/kpis?format=json&{PERIOD}"))).await;
    assert_eq!(kpi(&kj.json(), "volume")["value"], json!(4.0));
}

// ---------------------------------------------------------------------------
// Scheduled reports.

#[tokio::test]
async fn schedules_are_kept_by_managers_and_each_period_is_mailed_once() {
    let app = TestApp::start().await;
    fixture(&app).await;
    let pid = app.project.id;
    let mail = app
        .store
        .add_channel(
            pid,
            NewChannel {
                kind: "email".into(),
                target: "com@example.org".into(),
                secret: None,
                min_severity: Severity::Info,
                lang: vigie_model::Language::Fr,
            },
            at(1, 0),
        )
        .await
        .unwrap();
    let hook = app
        .store
        .add_channel(
            pid,
            NewChannel {
                kind: "webhook".into(),
                target: "https://hooks.example/x".into(),
                secret: None,
                min_severity: Severity::Info,
                lang: vigie_model::Language::Fr,
            },
            at(1, 0),
        )
        .await
        .unwrap();
    let manager = app.login("manager").await;
    let path = app.api("/report-schedules");
    let bad = manager.post_json(&path, &json!({"frequency": "daily", "channel_id": mail.id})).await;
    assert_eq!(bad.status, 400);
    assert!(bad.json()["message"].as_str().unwrap().contains("weekly or monthly"));
    let bad = manager.post_json(&path, &json!({"frequency": "weekly", "channel_id": hook.id})).await;
    assert_eq!(bad.status, 404, "a webhook is not an e-mail channel");
    let bad = manager
        .post_json(&path, &json!({"frequency": "weekly", "channel_id": mail.id, "recipients": "not-an-address"}))
        .await;
    assert_eq!(bad.status, 400);
    let added = manager
        .post_json(
            &path,
            &json!({"frequency": "weekly", "channel_id": mail.id, "recipients": ["boss@example.org"], "lang": "en"}),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    let id = added.json()["id"].as_i64().unwrap();
    let twice = manager
        .post_json(
            &path,
            &json!({"frequency": "weekly", "channel_id": mail.id, "recipients": ["boss@example.org"], "lang": "en"}),
        )
        .await;
    assert_eq!(twice.status, 409, "the same report twice would be mailed twice: {}", twice.text);
    // The same people written another way are the same people.
    let again = manager
        .post_json(
            &path,
            &json!({"frequency": "weekly", "channel_id": mail.id, "recipients": "Boss@Example.org, boss@example.org", "lang": "en"}),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    // Without a language, the channel's (French here), whoever asks.
    let token = app.token(Role::Manager).await;
    let plain = token
        .post_json(&path, &json!({"frequency": "monthly", "channel_id": mail.id, "recipients": "pdg@example.org"}))
        .await;
    assert_eq!(plain.status, 201, "{}", plain.text);
    assert_eq!(plain.json()["lang"], "fr", "{}", plain.text);
    assert_eq!(token.delete(&format!("{path}/{}", plain.json()["id"])).await.status, 200);
    assert!(twice.json()["message"].as_str().unwrap().contains(&format!("#{id}")), "{}", twice.text);
    let listed = manager.get(&path).await.json();
    assert_eq!(listed["items"][0]["recipients"], "boss@example.org");
    let settings = manager.get(&app.p("/settings")).await;
    assert!(settings.text.contains("id=\"reports\""));
    // The report's language by its name, not its code.
    assert!(
        settings.text.contains("<td>English</td>") || settings.text.contains("<td>anglais</td>"),
        "{}",
        settings.text
    );
    assert_eq!(app.login("agent").await.get(&path).await.status, 403);

    let Some(server) = SmtpServer::start() else { return };
    let smtp = common::smtp_config(&server);
    // Created now: nothing is due until the current week is over.
    let now = Utc::now();
    let outcome =
        vigie_web::schedule::run_due_reports(app.store.as_ref(), Some(&smtp), now, vigie_model::zone::Tz::UTC).await;
    assert_eq!(outcome.sent, 0);
    // Eight days later the week is due: two servers at once send it once.
    let later = now + chrono::Duration::days(8);
    let (a, b) = tokio::join!(
        vigie_web::schedule::run_due_reports(app.store.as_ref(), Some(&smtp), later, vigie_model::zone::Tz::UTC),
        vigie_web::schedule::run_due_reports(app.store.as_ref(), Some(&smtp), later, vigie_model::zone::Tz::UTC),
    );
    assert_eq!(a.sent + b.sent, 1, "{a:?} {b:?}");
    let again = vigie_web::schedule::run_due_reports(
        app.store.as_ref(),
        Some(&smtp),
        later + chrono::Duration::hours(1),
        vigie_model::zone::Tz::UTC,
    )
    .await;
    assert_eq!(again.sent, 0, "the same period is never sent twice");
    let received = server.received();
    assert_eq!(received.len(), 1);
    let m = &received[0];
    assert_eq!(m["rcpt_tos"], json!(["boss@example.org"]));
    assert!(m["subject"].as_str().unwrap().starts_with("Weekly report — acme"), "{m}");
    let parts = m["parts"].as_array().unwrap();
    let text = parts.iter().find(|p| p["type"] == "text/plain").unwrap()["content"].as_str().unwrap();
    assert!(text.contains("- volume:"), "{text}");
    let attached = parts.iter().find(|p| p["disposition"] == "attachment").unwrap();
    assert_eq!(attached["type"], "text/html");
    assert!(attached["filename"].as_str().unwrap().starts_with(&format!("vigie-report-{pid}-")));
    let doc = attached["content"].as_str().unwrap();
    assert!(doc.contains("<svg") && !doc.to_ascii_lowercase().contains("<script"));
    let sent = manager.get(&path).await.json();
    assert!(sent["items"][0]["last_sent_at"].is_string());

    // A server killed after claiming the next week, before sending it: the
    // week waits for the claim to expire, then goes out, once.
    let utc = vigie_model::zone::Tz::UTC;
    let week_later = later + chrono::Duration::days(7);
    let (_, next_end) = vigie_web::schedule::last_complete_period(vigie_store::Frequency::Weekly, week_later, utc);
    assert!(app.store.claim_report_period(id, next_end, week_later).await.unwrap());
    let held = vigie_web::schedule::run_due_reports(app.store.as_ref(), Some(&smtp), week_later, utc).await;
    assert_eq!(held.sent, 0, "the claim may still be alive");
    let expired = week_later + chrono::Duration::seconds(vigie_store::REPORT_SEND_LEASE_SECS);
    let retaken = vigie_web::schedule::run_due_reports(app.store.as_ref(), Some(&smtp), expired, utc).await;
    assert_eq!(retaken.sent, 1, "the dead server's week is not lost");
    assert_eq!(server.received().len(), 2);
    let settled = vigie_web::schedule::run_due_reports(app.store.as_ref(), Some(&smtp), expired, utc).await;
    assert_eq!(settled.sent, 0);

    assert_eq!(manager.delete(&format!("{path}/{id}")).await.status, 200);
    assert_eq!(manager.delete(&format!("{path}/{id}")).await.status, 404);
}

#[tokio::test]
async fn items_of_no_department_have_their_own_row_so_departments_add_up() {
    let app = TestApp::start().await;
    fixture(&app).await;
    let pid = app.project.id;
    // C taken in by hand, in no department, answered after 10 minutes.
    let c = app.store.mention_by_key(pid, "key:C").await.unwrap().unwrap().mention.id;
    let item = InboxItem {
        mention_id: c,
        project_id: pid,
        status: InboxStatus::Answered,
        department_id: None,
        assignee_id: None,
        entered_at: at(12, 10),
        due_at: None,
        first_response_at: Some(at(12, 10) + chrono::Duration::minutes(10)),
        closed_at: None,
        reply: Some("merci".into()),
        reason: None,
        escalated_at: None,
        clock_at: None,
        first_due_at: None,
        updated_at: at(12, 10),
    };
    app.store.save_inbox_item(&item, None).await.unwrap();
    let viewer = app.login("viewer").await;
    let r = viewer.get(&app.api(&format!("/report?{PERIOD}"))).await.json();
    let entered =
        |kpis: &Value| kpis.as_array().unwrap().iter().find(|k| k["key"] == "entered").unwrap()["value"].clone();
    let departments = r["departments"].as_array().unwrap();
    assert_eq!(departments.len(), 2, "{r:#}");
    assert_eq!((departments[1]["id"].clone(), departments[1]["name"].clone()), (Value::Null, json!("")));
    assert_eq!(entered(&departments[0]["kpis"]), json!(2.0));
    assert_eq!(entered(&departments[1]["kpis"]), json!(1.0));
    assert_eq!(kpi(&r, "entered")["value"], json!(3.0), "the departments add up to the project");
    let page = viewer.get(&app.p(&format!("/report?{PERIOD}"))).await;
    assert!(page.text.contains("<h3>No department</h3>"), "{}", page.text);
    let csv = viewer.get(&app.api(&format!("/export/kpis?format=csv&{PERIOD}"))).await;
    assert!(csv.text.contains("no_department,entered,count,1,"), "{}", csv.text);
}

/// An installation in Paris counts Paris days and writes Paris times: a
/// mention published at 23:30 UTC on 8 November belongs to the 9th.
#[tokio::test]
async fn an_installation_in_paris_counts_paris_days_and_shows_paris_times() {
    let paris = vigie_model::zone::parse_zone("Europe/Paris").unwrap();
    let app = TestApp::start_with(vigie_web::WebConfig { zone: paris, ..Default::default() }).await;
    let pid = app.project.id;
    let late = |minute| Utc.with_ymd_and_hms(2026, 11, 8, 23, minute, 0).unwrap();
    let batch = vec![
        // 00:30 and 00:45 on the 9th in Paris: in the week of the 9th.
        record("P1", "acme nul", late(30), Some(Polarity::Negative), None, &[]),
        record("P2", "acme bof", late(45), Some(Polarity::Neutral), None, &[]),
        // 00:30 on the 16th in Paris: not in it (in UTC it would be).
        record(
            "P3",
            "acme top",
            Utc.with_ymd_and_hms(2026, 11, 15, 23, 30, 0).unwrap(),
            Some(Polarity::Positive),
            None,
            &[],
        ),
    ];
    let ids = app.store.insert_mentions(pid, &batch).await.unwrap().inserted_ids;
    let viewer = app.login("viewer").await;

    let r = viewer.get(&app.api("/report?from=2026-11-09&to=2026-11-15")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = r.json();
    assert_eq!(r["period"]["from"], "2026-11-08T23:00:00+00:00", "Paris midnight");
    assert_eq!(r["period"]["to"], "2026-11-15T23:00:00+00:00");
    assert_eq!(kpi(&r, "volume")["value"], json!(2.0));

    // The dashboard's daily buckets start at Paris midnights.
    let o = viewer.get(&app.api("/overview?from=2026-11-09&to=2026-11-15")).await;
    assert_eq!(o.status, 200, "{}", o.text);
    let o = o.json();
    assert_eq!(o["period"]["timezone"], "Europe/Paris");
    assert_eq!(o["buckets"].as_array().unwrap().len(), 7);
    assert_eq!(o["buckets"][0]["start"], "2026-11-08T23:00:00+00:00");
    assert_eq!((o["buckets"][0]["negative"].clone(), o["buckets"][0]["neutral"].clone()), (json!(1), json!(1)));
    assert_eq!(o["total"], 2);
    // Its trending terms open the mentions of those Paris days, not of the
    // UTC day before (Paris midnight is 23:00 UTC).
    let page = viewer.get(&app.p("/overview?from=2026-11-09&to=2026-11-15")).await;
    assert!(page.text.contains("&amp;from=2026-11-09&amp;to=2026-11-15\""), "{}", page.text);
    assert!(!page.text.contains("from=2026-11-08"), "{}", page.text);
    // Each chart has its figures as a table too (screen readers, keyboards):
    // the first Paris day holds the two mentions, one negative, one neutral.
    assert_eq!(page.text.matches("<details class=\"chart-data\">").count(), 5, "{}", page.text);
    let volume = page.text.split("<details class=\"chart-data\">").nth(1).unwrap();
    let first_row = volume.split("<tbody>").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(first_row.contains("<td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">0</td><td class=\"num\">0</td><td class=\"num\">2</td>"), "{first_row}");
    assert!(page.text.contains("<a class=\"skip-link\" href=\"#main\">Skip to content</a>"), "{}", page.text);

    // The mention list's dates are Paris days too.
    let feed = viewer.get(&app.api("/mentions?from=2026-11-16&to=2026-11-16")).await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    let listed: Vec<i64> = feed.json()["items"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(listed, [ids[2]]);

    // Pages write Paris time and say so (this reader chose English).
    let page = viewer.get(&app.p(&format!("/mentions/{}", ids[0]))).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(">2026-11-09 00:30 CET<"), "{}", page.text);
    // The mention's words carry their own language, the page's are English.
    assert!(page.text.contains("<div class=\"mention-text\" lang=\"fr\">"), "{}", page.text);
    assert!(page.text.contains("<html lang=\"en\">"), "{}", page.text);
    let report = viewer.get(&app.p("/report?from=2026-11-09&to=2026-11-15")).await;
    assert!(report.text.contains("from 2026-11-09 to 2026-11-15"), "{}", report.text);
}

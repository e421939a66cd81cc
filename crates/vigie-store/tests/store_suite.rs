#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The store test suite. Every backend runs the same checks: add a backend by
//! opening it in a `#[tokio::test]` below and calling [`run_suite`].

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use vigie_model::{
    Analysis, Contribution, Mention, Polarity, ReachEstimate, Sentiment, SourceKind, SourceType, ThemeScore, WatchMatch,
};
use vigie_store::{
    FetchRecord, MentionFilter, MentionRecord, NewSource, NewTheme, NewWatch, SqliteStore, Store, StoreError,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap()
}

fn record(key: &str, text: &str, published: DateTime<Utc>, matches: Vec<WatchMatch>) -> MentionRecord {
    let mention = Mention {
        id: 0,
        source_kind: SourceKind::Twitter,
        source_item_id: Some(key.to_string()),
        url: Some(format!("https://twitter.com/i/web/status/{key}")),
        title: None,
        text: text.to_string(),
        author: Some("@someone".into()),
        site: Some("twitter.com".into()),
        published_at: published,
        collected_at: t0(),
        lang: Some("fr".into()),
        lang_confidence: 0.9,
        reach: Some(120),
        content_hash: format!("hash-{key}"),
        dedup_key: format!("url:https://twitter.com/i/web/status/{key}"),
        analysis: Analysis::default(),
    };
    MentionRecord { fts_title: String::new(), fts_text: text.to_lowercase(), mention, source_id: None, matches }
}

async fn run_suite(store: &dyn Store) {
    projects_are_created_once(store).await;
    watches_have_unique_names_per_project(store).await;
    sources_keep_their_health_record(store).await;
    push_tokens_are_found_by_hash_only(store).await;
    alerts_grow_and_their_notifications_wait_in_the_outbox(store).await;
    mentions_are_stored_once_and_searchable(store).await;
    analysis_round_trips_and_is_refined(store).await;
    corrections_win_over_verdicts(store).await;
    stories_group_copies(store).await;
    themes_are_seeded_once_then_edited(store).await;
}

fn verdict(label: Polarity, score: f32, model: &str) -> Sentiment {
    Sentiment {
        label,
        score,
        confidence: 0.8,
        model: model.into(),
        explanation: vec![Contribution { feature: "toujours pas reçu".into(), weight: -1.5 }],
    }
}

fn analysed(key: &str, text: &str, sentiment: Option<Sentiment>) -> MentionRecord {
    let mut r = record(key, text, t0(), Vec::new());
    r.mention.analysis = Analysis {
        sentiment,
        corrected: None,
        themes: vec![ThemeScore { theme: "delivery_logistics".into(), score: 0.9, evidence: vec!["colis".into()] }],
        story_id: None,
        reach: Some(ReachEstimate { audience: 120, engagement: 3, score: 31.5, basis: "followers".into() }),
    };
    r
}

async fn analysis_round_trips_and_is_refined(store: &dyn Store) {
    let p = store.ensure_project("analysis", t0()).await.unwrap();
    let batch = vec![
        analysed("a1", "toujours pas reçu mon colis", Some(verdict(Polarity::Negative, -0.7, "fast-v1"))),
        analysed("a2", "merci pour la livraison", Some(verdict(Polarity::Positive, 0.6, "encoder-v1"))),
        analysed("a3", "❤", None),
    ];
    let report = store.insert_mentions(p.id, &batch).await.unwrap();
    assert_eq!(report.inserted_index, vec![0, 1, 2]);
    let summary = store.summary(p.id).await.unwrap();
    let rows = |rows: &[vigie_store::CountRow]| rows.iter().map(|r| (r.key.clone(), r.count)).collect::<Vec<_>>();
    assert_eq!(rows(&summary.per_theme), vec![("delivery_logistics".to_string(), 3)]);
    assert_eq!(
        rows(&summary.per_sentiment),
        vec![("negative".to_string(), 1), ("positive".to_string(), 1), ("unknown".to_string(), 1)]
    );
    let first = store.mention(p.id, report.inserted_ids[0]).await.unwrap().unwrap();
    assert_eq!(first.mention.analysis, batch[0].mention.analysis);
    assert!(store.mention(p.id + 1000, report.inserted_ids[0]).await.unwrap().is_none(), "other project");

    // Only the fast verdict waits for the encoder.
    let queue = store.mentions_to_refine(p.id, 10).await.unwrap();
    assert_eq!(queue.iter().map(|m| m.mention.id).collect::<Vec<_>>(), vec![report.inserted_ids[0]]);
    let refined = verdict(Polarity::Neutral, -0.1, "encoder-v1");
    let n = store.set_sentiments(p.id, &[(report.inserted_ids[0], Some(refined.clone()))], 1).await.unwrap();
    assert_eq!(n, 1);
    assert!(store.mentions_to_refine(p.id, 10).await.unwrap().is_empty());
    let first = store.mention(p.id, report.inserted_ids[0]).await.unwrap().unwrap();
    assert_eq!(first.mention.analysis.sentiment, Some(refined));
    assert_eq!(first.mention.analysis.themes, batch[0].mention.analysis.themes, "the rest is kept");
    let neutral = MentionFilter { polarity: Some(Polarity::Neutral), ..MentionFilter::default() };
    assert_eq!(store.mentions_after(p.id, &neutral, 0, 10).await.unwrap().len(), 1);

    // `None` never erases a verdict: the mention only leaves the queue.
    let kept = store.mention(p.id, report.inserted_ids[1]).await.unwrap().unwrap().mention.analysis.sentiment;
    store.set_sentiments(p.id, &[(report.inserted_ids[1], None)], 1).await.unwrap();
    let after = store.mention(p.id, report.inserted_ids[1]).await.unwrap().unwrap();
    assert_eq!(after.mention.analysis.sentiment, kept);

    // Re-analysis replaces the analysis but keeps the correction.
    store.correct_sentiment(p.id, report.inserted_ids[0], Some(Polarity::Negative), t0()).await.unwrap();
    let mut fresh = batch[1].mention.analysis.clone();
    fresh.themes.clear();
    assert_eq!(store.set_analyses(p.id, &[(report.inserted_ids[0], fresh.clone())]).await.unwrap(), 1);
    let m = store.mention(p.id, report.inserted_ids[0]).await.unwrap().unwrap().mention.analysis;
    assert_eq!(m.sentiment, fresh.sentiment);
    assert!(m.themes.is_empty());
    assert_eq!(m.corrected, Some(Polarity::Negative));
    assert_eq!(store.set_analyses(p.id + 1000, &[(report.inserted_ids[0], fresh)]).await.unwrap(), 0, "other project");
}

async fn corrections_win_over_verdicts(store: &dyn Store) {
    let p = store.ensure_project("corrections", t0()).await.unwrap();
    let batch = vec![analysed("c1", "pas terrible", Some(verdict(Polarity::Positive, 0.2, "fast-v1")))];
    let id = store.insert_mentions(p.id, &batch).await.unwrap().inserted_ids[0];
    assert!(store.correct_sentiment(p.id, id, Some(Polarity::Negative), t0()).await.unwrap());
    assert!(!store.correct_sentiment(p.id, id + 999, Some(Polarity::Negative), t0()).await.unwrap());
    let m = store.mention(p.id, id).await.unwrap().unwrap();
    assert_eq!(m.mention.analysis.corrected, Some(Polarity::Negative));
    assert_eq!(m.mention.analysis.polarity(), Some(Polarity::Negative));
    let corrected = MentionFilter { corrected_only: true, ..MentionFilter::default() };
    assert_eq!(store.mentions_after(p.id, &corrected, 0, 10).await.unwrap().len(), 1);
    let negative = MentionFilter { polarity: Some(Polarity::Negative), ..MentionFilter::default() };
    assert_eq!(store.mentions_after(p.id, &negative, 0, 10).await.unwrap().len(), 1);
    // Removing the correction brings the verdict back.
    assert!(store.correct_sentiment(p.id, id, None, t0()).await.unwrap());
    assert!(store.mentions_after(p.id, &corrected, 0, 10).await.unwrap().is_empty());
    assert!(store.mentions_after(p.id, &negative, 0, 10).await.unwrap().is_empty());
}

async fn stories_group_copies(store: &dyn Store) {
    let p = store.ensure_project("stories", t0()).await.unwrap();
    let batch: Vec<_> = (0..4).map(|i| analysed(&format!("s{i}"), "le même texte copié", None)).collect();
    let ids = store.insert_mentions(p.id, &batch).await.unwrap().inserted_ids;
    let n = store.set_stories(p.id, &[(ids[1], ids[0]), (ids[2], ids[0])]).await.unwrap();
    assert_eq!(n, 2);
    let story = MentionFilter { story_id: Some(ids[0]), ..MentionFilter::default() };
    let members: Vec<i64> =
        store.mentions_after(p.id, &story, 0, 10).await.unwrap().iter().map(|m| m.mention.id).collect();
    assert_eq!(members, ids[..3].to_vec());
    let m = store.mention(p.id, ids[2]).await.unwrap().unwrap();
    assert_eq!(m.mention.analysis.story_id, Some(ids[0]));
    // Another project's ids are not touched.
    let other = store.ensure_project("stories-other", t0()).await.unwrap();
    assert_eq!(store.set_stories(other.id, &[(ids[3], ids[0])]).await.unwrap(), 0);
}

async fn themes_are_seeded_once_then_edited(store: &dyn Store) {
    let p = store.ensure_project("themes", t0()).await.unwrap();
    let theme =
        |key: &str| NewTheme { key: key.into(), name: key.into(), department: "Support".into(), query: "colis".into() };
    let defaults = vec![theme("delivery"), theme("billing")];
    assert!(store.seed_themes(p.id, &defaults, t0()).await.unwrap());
    assert_eq!(store.list_themes(p.id).await.unwrap().len(), 2);
    assert!(store.remove_theme(p.id, "billing").await.unwrap());
    assert!(!store.remove_theme(p.id, "billing").await.unwrap());
    // A removed default stays removed.
    assert!(!store.seed_themes(p.id, &defaults, t0()).await.unwrap());
    let keys: Vec<String> = store.list_themes(p.id).await.unwrap().into_iter().map(|t| t.key).collect();
    assert_eq!(keys, vec!["delivery".to_string()]);
    let err = store.add_theme(p.id, theme("delivery"), t0()).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    store.add_theme(p.id, theme("palm_oil"), t0()).await.unwrap();
    assert_eq!(store.list_themes(p.id).await.unwrap().len(), 2);
}

async fn projects_are_created_once(store: &dyn Store) {
    let a = store.ensure_project("acme", t0()).await.unwrap();
    let again = store.ensure_project("acme", t0() + Duration::hours(1)).await.unwrap();
    assert_eq!(a, again);
    assert_eq!(store.project("nope").await.unwrap(), None);
    assert!(store.list_projects().await.unwrap().iter().any(|p| p.name == "acme"));
}

async fn watches_have_unique_names_per_project(store: &dyn Store) {
    let p = store.ensure_project("watches", t0()).await.unwrap();
    let other = store.ensure_project("watches-other", t0()).await.unwrap();
    let new = |name: &str| NewWatch {
        name: name.into(),
        query: "sncf OR ouigo".into(),
        competitor: false,
        langs: vec!["fr".into()],
    };
    let w = store.add_watch(p.id, new("SNCF"), t0()).await.unwrap();
    assert_eq!(w.langs, vec!["fr".to_string()]);
    let err = store.add_watch(p.id, new("SNCF"), t0()).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    // The same name in another project is fine.
    store.add_watch(other.id, new("SNCF"), t0()).await.unwrap();
    let mut changed = w.clone();
    changed.competitor = true;
    changed.query = "sncf".into();
    store.update_watch(p.id, &changed).await.unwrap();
    assert_eq!(store.watch_by_name(p.id, "SNCF").await.unwrap(), Some(changed));
    assert_eq!(store.list_watches(p.id).await.unwrap().len(), 1);
    assert!(store.remove_watch(p.id, "SNCF").await.unwrap());
    assert!(!store.remove_watch(p.id, "SNCF").await.unwrap());
    assert_eq!(store.list_watches(other.id).await.unwrap().len(), 1);
}

async fn sources_keep_their_health_record(store: &dyn Store) {
    let p = store.ensure_project("sources", t0()).await.unwrap();
    let new = NewSource {
        source_type: SourceType::Rss,
        url: "http://127.0.0.1:9/feed.xml".into(),
        config: json!({}),
        interval_secs: 900,
        first_due_at: t0(),
    };
    let s = store.add_source(p.id, new.clone(), t0()).await.unwrap();
    assert!(matches!(store.add_source(p.id, new, t0()).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.next_due_at, t0());
    assert_eq!((s.config.clone(), s.cursor.clone(), s.quota_limited), (json!({}), None, false));
    let due = store.due_sources(t0(), 10).await.unwrap();
    assert!(due.iter().any(|(pid, d)| *pid == p.id && d.id == s.id));

    let failed_at = t0() + Duration::minutes(1);
    let failure = |error: &str, quota_limited: bool, cursor: Option<serde_json::Value>| FetchRecord::Failure {
        at: failed_at,
        error: error.into(),
        next_due_at: failed_at + Duration::minutes(2),
        quota_limited,
        cursor,
        stored: if quota_limited { 3 } else { 0 },
    };
    store.record_fetch(s.id, failure("HTTP 500", false, None)).await.unwrap();
    let after = &store.list_sources(p.id).await.unwrap()[0];
    assert_eq!(after.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(after.consecutive_failures, 1);
    assert!(after.is_failing() && !after.quota_limited);
    assert!(store.due_sources(failed_at, 10).await.unwrap().iter().all(|(_, d)| d.id != s.id));

    let ok_at = t0() + Duration::minutes(5);
    let success = |cursor: Option<serde_json::Value>, warning: Option<&str>| FetchRecord::Success {
        at: ok_at,
        items: 12,
        stored: 10,
        etag: Some("\"v1\"".into()),
        last_modified: None,
        next_due_at: ok_at + Duration::minutes(15),
        cursor,
        warning: warning.map(str::to_string),
    };
    store.record_fetch(s.id, success(None, Some("2 items left out"))).await.unwrap();
    let after = store.source(p.id, s.id).await.unwrap().unwrap();
    assert_eq!((after.last_error.clone(), after.consecutive_failures, after.total_stored), (None, 0, 10));
    assert_eq!(after.last_success_at, Some(ok_at));
    assert_eq!(after.etag.as_deref(), Some("\"v1\""));
    assert_eq!(after.last_warning.as_deref(), Some("2 items left out"));
    assert_eq!(store.source(other_project(store).await, s.id).await.unwrap(), None);

    // API sources: the parameters and the paging state round-trip; a failure
    // after some pages keeps what they stored and their cursor; a failure
    // without a cursor keeps the saved one.
    let api = store
        .add_source(
            p.id,
            NewSource {
                source_type: SourceType::Bluesky,
                url: "https://bsky.app/search?q=vigie".into(),
                config: json!({"query": "vigie"}),
                interval_secs: 300,
                first_due_at: t0() + Duration::seconds(42),
            },
            t0(),
        )
        .await
        .unwrap();
    assert_eq!((api.config.clone(), api.next_due_at), (json!({"query": "vigie"}), t0() + Duration::seconds(42)));
    let cursor = json!({"high_water": {"at": "2026-11-20T08:00:00Z", "ids": ["a"]}});
    store.record_fetch(api.id, success(Some(cursor.clone()), None)).await.unwrap();
    store.record_fetch(api.id, failure("HTTP 429: rate limited", true, None)).await.unwrap();
    let after = store.source(p.id, api.id).await.unwrap().unwrap();
    assert_eq!(after.cursor, Some(cursor));
    assert!(after.quota_limited && after.is_failing());
    assert_eq!(after.total_stored, 13);
    assert_eq!(after.last_warning, None);
    let moved = json!({"high_water": {"at": "2026-11-20T09:00:00Z", "ids": ["b"]}});
    store.record_fetch(api.id, failure("timed out", false, Some(moved.clone()))).await.unwrap();
    let after = store.source(p.id, api.id).await.unwrap().unwrap();
    assert_eq!((after.cursor, after.quota_limited, after.consecutive_failures), (Some(moved), false, 2));

    // Coverage: mentions stored per source in the period, median lag.
    let mut batch = Vec::new();
    for (i, lag_minutes) in [5, 10, 600].into_iter().enumerate() {
        let mut r = record(&format!("cov{i}"), "couverture", t0() - Duration::minutes(lag_minutes), vec![]);
        r.source_id = Some(api.id);
        batch.push(r);
    }
    let mut old = record("cov-old", "ancienne", t0() - Duration::days(3), vec![]);
    old.source_id = Some(s.id);
    old.mention.collected_at = t0() - Duration::days(2);
    batch.push(old);
    store.insert_mentions(p.id, &batch).await.unwrap();
    let coverage = store.source_coverage(p.id, t0() - Duration::days(1)).await.unwrap();
    assert_eq!(
        coverage,
        vec![vigie_store::SourceCoverage { source_id: api.id, stored: 3, median_lag_secs: Some(600) }]
    );
    assert_eq!(
        store.mention_by_key(p.id, "url:https://twitter.com/i/web/status/cov1").await.unwrap().unwrap().source_id,
        Some(api.id)
    );
    assert_eq!(store.mention_by_key(p.id, "url:https://nowhere.example/").await.unwrap(), None);

    // Search runs: newest first, removed with their source.
    let search = store
        .add_source(
            p.id,
            NewSource {
                source_type: SourceType::Search,
                url: "https://searx.example/?q=dupont".into(),
                config: json!({"term": "dupont", "top": 10}),
                interval_secs: 3600,
                first_due_at: t0(),
            },
            t0(),
        )
        .await
        .unwrap();
    let first = json!([{"rank": 1, "url": "https://dupont.example/", "title": "Dupont"}]);
    let second = json!([{"rank": 1, "url": "https://blog.example/dupont-arnaque", "title": "Arnaque"}]);
    let entered = json!([{"Entered": {"url": "https://blog.example/dupont-arnaque", "rank": 1}}]);
    store.add_search_run(search.id, t0(), &first, &json!([])).await.unwrap();
    store.add_search_run(search.id, t0() + Duration::hours(1), &second, &entered).await.unwrap();
    let runs = store.search_runs(search.id, 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!((runs[0].results.clone(), runs[0].changes.clone()), (second, entered));
    assert_eq!(runs[1].ran_at, t0());
    assert_eq!(store.search_runs(search.id, 1).await.unwrap().len(), 1);

    assert!(store.remove_source(p.id, search.id).await.unwrap());
    assert!(store.search_runs(search.id, 10).await.unwrap().is_empty());
    assert!(store.remove_source(p.id, s.id).await.unwrap());
    assert!(store.record_fetch(s.id, FetchRecord::NotModified { at: ok_at, next_due_at: ok_at }).await.is_err());
}

async fn other_project(store: &dyn Store) -> i64 {
    store.ensure_project("another", t0()).await.unwrap().id
}

async fn push_tokens_are_found_by_hash_only(store: &dyn Store) {
    let p = store.ensure_project("tokens", t0()).await.unwrap();
    let t = store.add_token(p.id, "zapier", "hash-1", t0()).await.unwrap();
    assert_eq!((t.name.as_str(), t.last_used_at), ("zapier", None));
    assert!(matches!(store.add_token(p.id, "zapier", "hash-2", t0()).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.use_token("hash-unknown", t0()).await.unwrap(), None);
    let used = store.use_token("hash-1", t0() + Duration::hours(1)).await.unwrap().unwrap();
    assert_eq!((used.project_id, used.last_used_at), (p.id, Some(t0() + Duration::hours(1))));
    assert_eq!(store.list_tokens(p.id).await.unwrap(), vec![used]);
    assert!(store.remove_token(p.id, "zapier").await.unwrap());
    assert!(!store.remove_token(p.id, "zapier").await.unwrap());
    assert_eq!(store.use_token("hash-1", t0()).await.unwrap(), None);
}

async fn alerts_grow_and_their_notifications_wait_in_the_outbox(store: &dyn Store) {
    use vigie_model::{Alert, AlertEvidence, AlertRule, AlertStatus, Severity};
    use vigie_store::{BUCKET_SECS, DeliveryRecord, NewChannel, SERIES_ALL, SERIES_NEGATIVE, bucket_start};
    let p = store.ensure_project("alerts", t0()).await.unwrap();
    let w = store
        .add_watch(p.id, NewWatch { name: "acme".into(), query: "acme".into(), competitor: false, langs: vec![] }, t0())
        .await
        .unwrap();
    // Buckets follow the stored mentions of each watch, negative ones apart.
    let m = vec![WatchMatch { watch_id: w.id, terms: vec!["acme".into()] }];
    let mut batch = vec![
        analysed("b1", "acme arnaque", Some(verdict(Polarity::Negative, -0.8, "fast-v1"))),
        analysed("b2", "acme super", Some(verdict(Polarity::Positive, 0.8, "fast-v1"))),
        analysed("b3", "acme nul", Some(verdict(Polarity::Negative, -0.5, "fast-v1"))),
    ];
    for r in &mut batch {
        r.matches = m.clone();
        r.mention.published_at = t0();
    }
    batch[2].mention.published_at = t0() + Duration::seconds(BUCKET_SECS);
    store.insert_mentions(p.id, &batch).await.unwrap();
    store.insert_mentions(p.id, &batch).await.unwrap(); // duplicates do not count twice
    let b0 = bucket_start(t0());
    let all = store.watch_buckets(w.id, SERIES_ALL, b0, b0 + 10 * BUCKET_SECS).await.unwrap();
    assert_eq!(all, vec![(b0, 2), (b0 + BUCKET_SECS, 1)]);
    let negative = store.watch_buckets(w.id, SERIES_NEGATIVE, b0, b0 + 10 * BUCKET_SECS).await.unwrap();
    assert_eq!(negative, vec![(b0, 1), (b0 + BUCKET_SECS, 1)]);
    assert_eq!(store.watch_buckets(w.id, SERIES_ALL, b0 + BUCKET_SECS, b0 + BUCKET_SECS).await.unwrap(), vec![]);
    // A batch spread over more buckets than one statement can take (a
    // month of history imported at once).
    let spread: Vec<MentionRecord> = (0..9_000)
        .map(|i| {
            let mut r = record(&format!("s{i}"), "acme", t0() - Duration::seconds(BUCKET_SECS * (i + 10)), m.clone());
            r.mention.dedup_key = format!("spread:{i}");
            r
        })
        .collect();
    assert_eq!(store.insert_mentions(p.id, &spread).await.unwrap().inserted, 9_000);
    let history = store.watch_buckets(w.id, SERIES_ALL, b0 - BUCKET_SECS * 10_000, b0).await.unwrap();
    assert_eq!((history.len(), history.iter().map(|(_, c)| c).sum::<i64>()), (9_000, 9_000));

    assert_eq!(store.detector_state(w.id, SERIES_ALL).await.unwrap(), None);
    store.save_detector_state(w.id, SERIES_ALL, b0, &json!({"mean": 1.5})).await.unwrap();
    store.save_detector_state(w.id, SERIES_ALL, b0 + BUCKET_SECS, &json!({"mean": 2.0})).await.unwrap();
    assert_eq!(store.detector_state(w.id, SERIES_ALL).await.unwrap(), Some((b0 + BUCKET_SECS, json!({"mean": 2.0}))));
    store.set_alert_settings(p.id, &json!({"trigger_terms": ["boycott"]})).await.unwrap();
    assert_eq!(store.alert_settings(p.id).await.unwrap(), Some(json!({"trigger_terms": ["boycott"]})));

    // Channels: only those taking the alert's severity get a delivery.
    let hook = |target: &str, min| NewChannel {
        kind: "webhook".into(),
        target: target.into(),
        secret: None,
        min_severity: min,
    };
    let all_alerts = store.add_channel(p.id, hook("https://hooks.example/a", Severity::Info), t0()).await.unwrap();
    let critical_only =
        store.add_channel(p.id, hook("https://hooks.example/b", Severity::Critical), t0()).await.unwrap();
    assert!(matches!(
        store.add_channel(p.id, hook("https://hooks.example/a", Severity::Info), t0()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.list_channels(p.id).await.unwrap().len(), 2);

    let new = Alert {
        id: 0,
        project_id: p.id,
        watch_id: Some(w.id),
        rule: AlertRule::TriggerTerm,
        severity: Severity::Warning,
        status: AlertStatus::Open,
        dedup_key: format!("trigger_term:{}:arnaque", w.id),
        title: "« arnaque » in 1 mention of acme".into(),
        evidence: AlertEvidence { observed: 1.0, terms: vec!["arnaque".into()], ..AlertEvidence::default() },
        mention_ids: vec![1],
        events: 1,
        opened_at: t0(),
        updated_at: t0(),
        acknowledged_at: None,
        resolved_at: None,
    };
    let opened = store.save_alert(&new, true, t0()).await.unwrap();
    assert!(opened.id > 0);
    let found = store.open_alert(p.id, &new.dedup_key, t0() - Duration::hours(6)).await.unwrap().unwrap();
    assert_eq!(found, opened);
    assert_eq!(store.open_alert(p.id, &new.dedup_key, t0() + Duration::hours(1)).await.unwrap(), None);

    let due = store.due_deliveries(t0(), 10).await.unwrap();
    assert_eq!(due.len(), 1, "the critical-only channel does not take a warning");
    assert_eq!((due[0].channel.id, due[0].event, due[0].alert.id), (all_alerts.id, 1, opened.id));
    // Saving the same event again queues nothing twice.
    store.save_alert(&opened, true, t0()).await.unwrap();
    assert_eq!(store.due_deliveries(t0(), 10).await.unwrap().len(), 1);

    // A retry waits; a sent one is done; a grown, escalated alert is a new event.
    let later = t0() + Duration::minutes(1);
    store
        .record_delivery(
            due[0].id,
            DeliveryRecord::Retry { at: t0(), error: "HTTP 503".into(), next_attempt_at: later },
        )
        .await
        .unwrap();
    assert!(store.due_deliveries(t0(), 10).await.unwrap().is_empty());
    let retry = store.due_deliveries(later, 10).await.unwrap();
    assert_eq!((retry[0].attempts, retry[0].last_error.as_deref()), (1, Some("HTTP 503")));
    store.record_delivery(retry[0].id, DeliveryRecord::Sent { at: later }).await.unwrap();
    assert!(store.record_delivery(retry[0].id, DeliveryRecord::Sent { at: later }).await.is_err(), "sent once");
    let grown =
        Alert { events: 2, severity: Severity::Critical, mention_ids: vec![1, 2], updated_at: later, ..opened.clone() };
    store.save_alert(&grown, true, later).await.unwrap();
    let due = store.due_deliveries(later, 10).await.unwrap();
    let channels: Vec<i64> = due.iter().map(|d| d.channel.id).collect();
    assert_eq!(channels, vec![all_alerts.id, critical_only.id]);
    assert!(due.iter().all(|d| d.event == 2));
    store
        .record_delivery(due[1].id, DeliveryRecord::Failed { at: later, error: "HTTP 410 Gone".into() })
        .await
        .unwrap();
    let history = store.deliveries(opened.id).await.unwrap();
    let states: Vec<&str> = history.iter().map(|d| d.status.as_str()).collect();
    assert_eq!(states, ["sent", "pending", "failed"]);

    // Acknowledge, resolve; a resolved alert is not "open" any more.
    assert!(store.set_alert_status(p.id, opened.id, AlertStatus::Acknowledged, later).await.unwrap());
    assert_eq!(store.alerts(p.id, Some(AlertStatus::Acknowledged), 10).await.unwrap().len(), 1);
    assert!(store.set_alert_status(p.id, opened.id, AlertStatus::Resolved, later).await.unwrap());
    let resolved = store.alert(p.id, opened.id).await.unwrap().unwrap();
    assert_eq!(
        (resolved.status, resolved.acknowledged_at, resolved.resolved_at),
        (AlertStatus::Resolved, Some(later), Some(later))
    );
    assert_eq!(store.open_alert(p.id, &new.dedup_key, t0()).await.unwrap(), None);
    assert!(!store.set_alert_status(other_project(store).await, opened.id, AlertStatus::Open, later).await.unwrap());
    assert!(store.remove_channel(p.id, critical_only.id).await.unwrap());
}

async fn mentions_are_stored_once_and_searchable(store: &dyn Store) {
    let p = store.ensure_project("mentions", t0()).await.unwrap();
    let w = store
        .add_watch(p.id, NewWatch { name: "sncf".into(), query: "sncf".into(), competitor: false, langs: vec![] }, t0())
        .await
        .unwrap();
    let m = |terms: &[&str]| vec![WatchMatch { watch_id: w.id, terms: terms.iter().map(|s| s.to_string()).collect() }];
    let batch = vec![
        record("1", "SNCF retard encore", t0(), m(&["sncf"])),
        record("2", "super voyage", t0() + Duration::days(1), vec![]),
        record("1", "SNCF retard encore (copie)", t0(), m(&["sncf"])),
        record("3", "SNCF grève demain", t0() + Duration::days(2), m(&["sncf"])),
    ];
    let report = store.insert_mentions(p.id, &batch).await.unwrap();
    assert_eq!((report.inserted, report.duplicates, report.inserted_ids.len()), (3, 1, 3));
    // A rerun stores nothing new.
    let again = store.insert_mentions(p.id, &batch).await.unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 4));
    assert_eq!(store.mention_count(p.id).await.unwrap(), 3);
    let keys = [
        "url:https://twitter.com/i/web/status/1",
        "url:https://nowhere.example/",
        "url:https://twitter.com/i/web/status/3",
    ];
    let existing = store.existing_keys(p.id, &keys).await.unwrap();
    assert_eq!(existing.len(), 2);
    assert!(existing.contains(keys[0]) && existing.contains(keys[2]));
    assert!(store.existing_keys(other_project(store).await, &keys).await.unwrap().is_empty());

    // Full-text candidates, newest stored first, with their matches.
    let found = store.candidates(p.id, Some("\"sncf\""), &MentionFilter::default(), None, 10).await.unwrap();
    let texts: Vec<&str> = found.iter().map(|s| s.mention.text.as_str()).collect();
    assert_eq!(texts, vec!["SNCF grève demain", "SNCF retard encore"]);
    assert_eq!(found[0].matches, m(&["sncf"]));
    assert_eq!(found[0].mention.reach, Some(120));
    // Paging with before_id.
    let page2 = store
        .candidates(p.id, Some("\"sncf\""), &MentionFilter::default(), Some(found[0].mention.id), 10)
        .await
        .unwrap();
    assert_eq!(page2.len(), 1);
    // Filters: date and watch.
    let since = MentionFilter { published_since: Some(t0() + Duration::hours(12)), ..Default::default() };
    assert_eq!(store.candidates(p.id, None, &since, None, 10).await.unwrap().len(), 2);
    let by_watch = MentionFilter { watch_id: Some(w.id), ..Default::default() };
    assert_eq!(store.candidates(p.id, None, &by_watch, None, 10).await.unwrap().len(), 2);
    // Other projects see nothing.
    let other = store.ensure_project("mentions-other", t0()).await.unwrap();
    assert!(
        store.candidates(other.id, Some("\"sncf\""), &MentionFilter::default(), None, 10).await.unwrap().is_empty()
    );

    // Export order and paging.
    let first = store.mentions_after(p.id, &MentionFilter::default(), 0, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    let rest = store.mentions_after(p.id, &MentionFilter::default(), first[1].mention.id, 2).await.unwrap();
    assert_eq!(rest.len(), 1);

    // Matches added later (a new watch backfilled over stored mentions).
    let w2 = store
        .add_watch(
            p.id,
            NewWatch { name: "voyage".into(), query: "voyage".into(), competitor: true, langs: vec![] },
            t0(),
        )
        .await
        .unwrap();
    let id2 = first.iter().chain(rest.iter()).find(|s| s.mention.text == "super voyage").unwrap().mention.id;
    assert_eq!(store.add_matches(w2.id, &[(id2, vec!["voyage".into()])]).await.unwrap(), 1);
    assert_eq!(store.add_matches(w2.id, &[(id2, vec!["voyage".into()])]).await.unwrap(), 0);

    let summary = store.summary(p.id).await.unwrap();
    assert_eq!(summary.total, 3);
    let per_watch: Vec<(String, i64)> = summary.per_watch.iter().map(|r| (r.key.clone(), r.count)).collect();
    assert_eq!(per_watch, vec![("sncf".to_string(), 2), ("voyage".to_string(), 1)]);
    assert_eq!(summary.per_lang[0].key, "fr");
    let days: Vec<&str> = summary.per_day.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(days, vec!["2026-11-20", "2026-11-21", "2026-11-22"]);

    // Removing a watch removes its matches, not the mentions.
    assert!(store.remove_watch(p.id, "sncf").await.unwrap());
    assert_eq!(store.mention_count(p.id).await.unwrap(), 3);
    let found = store.candidates(p.id, Some("\"sncf\""), &MentionFilter::default(), None, 10).await.unwrap();
    assert!(found.iter().all(|s| s.matches.is_empty()));
}

#[tokio::test]
async fn sqlite_passes_the_store_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("vigie.db")).await.unwrap();
    run_suite(&store).await;
    store.close().await;
    // Reopening runs the migrations again as a no-op and keeps the data.
    let reopened = SqliteStore::open(&dir.path().join("vigie.db")).await.unwrap();
    let p = reopened.project("mentions").await.unwrap().unwrap();
    assert_eq!(reopened.mention_count(p.id).await.unwrap(), 3);
}

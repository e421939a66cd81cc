#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The store test suite. Every backend runs the same checks: add a backend by
//! opening it in a `#[tokio::test]` below and calling [`run_suite`].
//!
//! PostgreSQL runs against `VIGIE_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), in a fresh schema dropped at
//! the end. When the server cannot be reached the PostgreSQL half says why on
//! stderr and passes, unless `CI` is set: CI must run it.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::with_postgres;
use serde_json::json;
use vigie_model::{Alert, AlertEvidence, AlertRule, AlertStatus, Language, Severity};
use vigie_model::{
    Analysis, Contribution, InboxStatus, Mention, Polarity, ReachEstimate, Release, Role, Sentiment, SourceKind,
    SourceType, ThemeScore, WatchMatch, WorkflowChange, WorkflowDetail,
};
use vigie_store::{
    AuthorRow, Buckets, ChangedBy, CountRow, Department, FetchRecord, InboxCounts, InboxFilter, InboxItem,
    MentionFilter, MentionRecord, NO_DEPARTMENT, NewAudit, NewDepartment, NewRoutingRule, NewSource, NewTheme, NewUser,
    NewWatch, NewWorkflowEvent, PgStore, ResponseScope, ResponseStats, SentimentBucket, Session, SourceItem,
    SqliteStore, Store, StoreError, User, WatchCount,
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
    sources_know_their_items(store).await;
    push_tokens_are_found_by_hash_only(store).await;
    alerts_grow_and_their_notifications_wait_in_the_outbox(store).await;
    mentions_are_stored_once_and_searchable(store).await;
    analysis_round_trips_and_is_refined(store).await;
    corrections_win_over_verdicts(store).await;
    stories_group_copies(store).await;
    themes_are_seeded_once_then_edited(store).await;
    users_are_unique_without_case(store).await;
    memberships_give_a_role_per_project(store).await;
    sessions_expire_and_end(store).await;
    failed_logins_are_counted_per_key(store).await;
    the_audit_log_reads_newest_first(store).await;
    departments_and_routing_rules(store).await;
    inbox_items_are_saved_with_their_history(store).await;
    overdue_items_wait_for_escalation(store).await;
    response_stats_follow_the_period(store).await;
    the_overview_counts_a_period(store).await;
    reports_count_reach_alerts_and_schedules(store).await;
    the_overview_cache_follows_every_change(store).await;
    mention_filters_by_lang_kind_site_theme_and_status(store).await;
    cleared_matches_leave_the_other_watches(store).await;
    rematched_watches_recount_their_series(store).await;
    full_text_candidates_agree_with_the_matcher(store).await;
    concurrent_batches_store_each_mention_once(store).await;
    workers_lease_sources_without_overlap(store).await;
    one_surge_seen_twice_opens_one_alert(store).await;
    channels_keep_their_language(store).await;
    stored_mentions_wait_for_their_rules(store).await;
}

async fn stored_mentions_wait_for_their_rules(store: &dyn Store) {
    // Every mention the suite stored so far waits too (nothing ran their rules).
    const ALL: i64 = 1_000_000;
    let p = store.ensure_project("pending rules", t0()).await.unwrap();
    let batch: Vec<MentionRecord> = (0..3).map(|i| record(&format!("pending-{i}"), "acme", t0(), vec![])).collect();
    let ids = store.insert_mentions(p.id, &batch).await.unwrap().inserted_ids;
    assert_eq!(ids.len(), 3);
    // Stored at t0: not taken before the grace period is over.
    assert!(store.take_rules_pending(t0(), ALL, t0()).await.unwrap().iter().all(|(project, _)| *project != p.id));
    store.rules_done(&ids[..1]).await.unwrap();
    let later = t0() + Duration::minutes(10);
    let ours = |taken: Vec<(i64, i64)>| taken.into_iter().filter(|(project, _)| *project == p.id).collect::<Vec<_>>();
    let taken = ours(store.take_rules_pending(later, ALL, later).await.unwrap());
    assert_eq!(taken, vec![(p.id, ids[1]), (p.id, ids[2])]);
    assert!(store.take_rules_pending(later, ALL, later).await.unwrap().is_empty(), "claimed once");
    // The claimer died before their rules ran (or they failed): once the
    // claim is as old as the grace, another process claims them again.
    let after_grace = later + Duration::minutes(10);
    let again = ours(store.take_rules_pending(later + Duration::seconds(1), ALL, after_grace).await.unwrap());
    assert_eq!(again, vec![(p.id, ids[1]), (p.id, ids[2])], "a claim is not a removal");
    store.rules_done(&ids).await.unwrap();
    let day_after = after_grace + Duration::days(1);
    assert!(ours(store.take_rules_pending(day_after, ALL, day_after).await.unwrap()).is_empty(), "done: off the list");
}

async fn channels_keep_their_language(store: &dyn Store) {
    use vigie_store::NewChannel;
    let p = store.ensure_project("channel languages", t0()).await.unwrap();
    let channel = |target: &str, lang| NewChannel {
        kind: "email".into(),
        target: target.into(),
        secret: None,
        min_severity: Severity::Warning,
        lang,
    };
    let fr = store.add_channel(p.id, channel("fr@example.org", Language::Fr), t0()).await.unwrap();
    let en = store.add_channel(p.id, channel("en@example.org", Language::En), t0()).await.unwrap();
    assert_eq!((fr.lang, en.lang), (Language::Fr, Language::En));
    let listed: Vec<(String, Language)> =
        store.list_channels(p.id).await.unwrap().into_iter().map(|c| (c.target, c.lang)).collect();
    assert_eq!(listed, [("fr@example.org".to_string(), Language::Fr), ("en@example.org".to_string(), Language::En)]);
}

/// Lease of the suite's workers.
const LEASE: std::time::Duration = std::time::Duration::from_secs(60);

async fn workers_lease_sources_without_overlap(store: &dyn Store) {
    let p = store.ensure_project("leases", t0()).await.unwrap();
    // Far in the future of the other tests' sources: at `now` only these are due.
    let now = t0() + Duration::days(3_000);
    // The other tests' sources are due too: parked with a long lease first.
    let parked = store.lease_due_sources(now, 1_000, "parked", LEASE * 100_000).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..30 {
        let new = NewSource {
            source_type: SourceType::Rss,
            url: format!("http://127.0.0.1:9/lease-{i}.xml"),
            config: json!({}),
            interval_secs: 600,
            first_due_at: now - Duration::minutes(30 - i),
        };
        ids.push(store.add_source(p.id, new, t0()).await.unwrap().id);
    }
    // Three workers at once: every due source goes to exactly one of them.
    let (a, b, c) = tokio::join!(
        store.lease_due_sources(now, 12, "a", LEASE),
        store.lease_due_sources(now, 12, "b", LEASE),
        store.lease_due_sources(now, 12, "c", LEASE),
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let mut got: Vec<i64> = a.iter().chain(&b).chain(&c).map(|(_, s)| s.id).collect();
    got.sort_unstable();
    let total = got.len();
    got.dedup();
    assert_eq!(got.len(), total, "a source leased twice");
    assert_eq!(got, ids, "every due source leased");
    assert!(store.lease_due_sources(now, 50, "d", LEASE).await.unwrap().is_empty(), "all held");
    // Who holds sources, by the start of their names.
    let holding = |names: &[&str]| -> Vec<String> {
        [("a", &a), ("b", &b), ("c", &c), ("parked", &parked)]
            .iter()
            .filter(|(n, l)| names.contains(n) && !l.is_empty())
            .map(|(n, _)| n.to_string())
            .collect()
    };
    assert_eq!(store.lease_holders("").await.unwrap(), holding(&["a", "b", "c", "parked"]));
    assert_eq!(store.lease_holders("b").await.unwrap(), holding(&["b"]));
    assert!(store.lease_holders("bb").await.unwrap().is_empty());
    assert!(store.lease_holders("%").await.unwrap().is_empty(), "a prefix, not a pattern");
    // A worker under the same name again (a rerun after a crash) takes its own back.
    let again: Vec<i64> =
        store.lease_due_sources(now, 50, "c", LEASE).await.unwrap().iter().map(|(_, s)| s.id).collect();
    assert_eq!(again, c.iter().map(|(_, s)| s.id).collect::<Vec<_>>());

    // a finishes one source (the lease goes with the record), renews
    // another, and dies holding the rest.
    let (done, renewed) = (a[0].1.id, a[1].1.id);
    let next = now + Duration::minutes(10);
    store.record_fetch(done, FetchRecord::NotModified { at: now, next_due_at: next }).await.unwrap();
    let later = now + Duration::seconds(50);
    assert!(store.renew_lease(renewed, "a", later, LEASE).await.unwrap());
    assert!(!store.renew_lease(renewed, "b", later, LEASE).await.unwrap(), "not b's");
    // b stops cleanly and gives its sources back: d takes them at once.
    assert_eq!(store.release_leases("b").await.unwrap(), b.len() as u64);
    assert!(store.lease_holders("b").await.unwrap().is_empty());
    let taken = store.lease_due_sources(later, 50, "d", LEASE).await.unwrap();
    let mut taken: Vec<i64> = taken.iter().map(|(_, s)| s.id).collect();
    taken.sort_unstable();
    let mut expected: Vec<i64> = b.iter().map(|(_, s)| s.id).collect();
    expected.sort_unstable();
    assert_eq!(taken, expected);
    // Past the leases of a and c (both died), their sources go to the next
    // worker; not the one a renewed, nor the one it fetched, nor d's.
    let expired = now + Duration::seconds(61);
    let mut orphans: Vec<i64> =
        store.lease_due_sources(expired, 50, "e", LEASE).await.unwrap().iter().map(|(_, s)| s.id).collect();
    orphans.sort_unstable();
    let mut expected: Vec<i64> = a[2..].iter().chain(&c).map(|(_, s)| s.id).collect();
    expected.sort_unstable();
    assert_eq!(orphans, expected);
    assert!(!orphans.contains(&done) && !orphans.contains(&renewed));
    assert!(
        store
            .lease_due_sources(later + Duration::seconds(61), 50, "f", LEASE)
            .await
            .unwrap()
            .iter()
            .any(|(_, s)| s.id == renewed)
    );
    for id in &ids {
        store.remove_source(p.id, *id).await.unwrap();
    }
    assert_eq!(store.release_leases("parked").await.unwrap(), parked.len() as u64);
}

async fn one_surge_seen_twice_opens_one_alert(store: &dyn Store) {
    let p = store.ensure_project("alert race", t0()).await.unwrap();
    let event = |observed: f64| Alert {
        id: 0,
        project_id: p.id,
        watch_id: None,
        rule: AlertRule::VolumeSurge,
        severity: Severity::Warning,
        status: AlertStatus::Open,
        dedup_key: "volume_surge:race".into(),
        title: format!("{observed} mentions"),
        evidence: AlertEvidence { observed, ..AlertEvidence::default() },
        mention_ids: vec![],
        events: 1,
        opened_at: t0(),
        updated_at: t0(),
        acknowledged_at: None,
        resolved_at: None,
        acknowledged_by: None,
        resolved_by: None,
    };
    // Eight processes fold the same surge at once: one alert, eight events.
    let folds = (0..8).map(|i| {
        let new = event(f64::from(i));
        let fold: vigie_store::AlertFold = Box::new(move |open: Option<Alert>| match open {
            None => Some((new, true)),
            Some(mut alert) => {
                alert.events += 1;
                Some((alert, false))
            }
        });
        store.merge_alert(p.id, "volume_surge:race", t0() - Duration::hours(1), t0(), fold)
    });
    let saved = futures::future::join_all(folds).await;
    let ids: std::collections::HashSet<i64> = saved.into_iter().map(|a| a.unwrap().unwrap().id).collect();
    assert_eq!(ids.len(), 1, "one alert");
    let alerts = store.alerts(p.id, None, 10).await.unwrap();
    assert_eq!((alerts.len(), alerts[0].events), (1, 8));
    // A fold that declines (growth with no open alert to grow) saves nothing.
    let declined = store
        .merge_alert(p.id, "volume_surge:none", t0() - Duration::hours(1), t0(), Box::new(|_| None))
        .await
        .unwrap();
    assert!(declined.is_none());
    assert_eq!(store.alerts(p.id, None, 10).await.unwrap().len(), 1);

    // Seven more alerts, two of them updated in the same second: pages of
    // three follow each other without a gap or a repeat.
    for i in 0..7 {
        let key = format!("trigger_term:{i}");
        let mut new = event(f64::from(i));
        new.dedup_key = key.clone();
        let at = t0() + Duration::seconds(i64::from(i.min(5)));
        new.updated_at = at;
        let fold: vigie_store::AlertFold = Box::new(move |_| Some((new, false)));
        store.merge_alert(p.id, &key, t0() - Duration::hours(1), at, fold).await.unwrap();
    }
    let all: Vec<i64> = store.alerts(p.id, None, 100).await.unwrap().iter().map(|a| a.id).collect();
    assert_eq!(all.len(), 8);
    let (mut paged, mut after) = (Vec::new(), None);
    loop {
        let page = store.alerts_after(p.id, None, after, 3).await.unwrap();
        paged.extend(page.iter().map(|a| a.id));
        match page.last() {
            Some(last) if page.len() == 3 => after = Some(vigie_store::AlertCursor::of(last)),
            _ => break,
        }
    }
    assert_eq!(paged, all);
    let cursor = vigie_store::AlertCursor::of(&store.alerts(p.id, None, 1).await.unwrap()[0]);
    assert_eq!(cursor.to_string().parse::<vigie_store::AlertCursor>(), Ok(cursor));
    assert!("12".parse::<vigie_store::AlertCursor>().is_err());
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
    // Several at once, in id order, without the ones that are not there.
    let ids = report.inserted_ids.clone();
    let wanted = [ids[2], -5, ids[0], ids[2] + 1_000_000];
    let found = store.mentions_by_ids(p.id, &wanted).await.unwrap();
    assert_eq!(found.iter().map(|m| m.mention.id).collect::<Vec<_>>(), vec![ids[0], ids[2]]);
    assert_eq!(found[0].mention.analysis, batch[0].mention.analysis);
    assert!(store.mentions_by_ids(p.id + 1000, &ids).await.unwrap().is_empty(), "other project");
    assert!(store.mentions_by_ids(p.id, &[]).await.unwrap().is_empty());
    let many: Vec<i64> = (0..1_200).map(|k| ids[1] + 10_000 + k).chain([ids[1]]).collect();
    let found = store.mentions_by_ids(p.id, &many).await.unwrap();
    assert_eq!(found.iter().map(|m| m.mention.id).collect::<Vec<_>>(), vec![ids[1]], "past one statement's bound");
    // Which project each id belongs to, whatever the project.
    let other = store.ensure_project("analysis-other", t0()).await.unwrap();
    let theirs = store.insert_mentions(other.id, &[analysed("o1", "autre projet", None)]).await.unwrap().inserted_ids;
    let owners = store.mention_projects(&[theirs[0], ids[1], -1, theirs[0] + 1_000_000]).await.unwrap();
    assert_eq!(owners, vec![(ids[1], p.id), (theirs[0], other.id)]);
    assert!(store.mention_projects(&[]).await.unwrap().is_empty());

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
    // A link moves only to an older story.
    assert_eq!(store.set_stories(p.id, &[(ids[2], ids[1])]).await.unwrap(), 0, "ids[0] is older");
    let story_of = async |id: i64| store.mention(p.id, id).await.unwrap().unwrap().mention.analysis.story_id;
    assert_eq!(story_of(ids[2]).await, Some(ids[0]));

    // Two processes stored copies at once: ids[3] started its own story and
    // got a copy (ids[4]); merged into the older story, both join it.
    let more: Vec<_> = (4..6).map(|i| analysed(&format!("s{i}"), "le même texte copié", None)).collect();
    let more = store.insert_mentions(p.id, &more).await.unwrap().inserted_ids;
    assert_eq!(store.set_stories(p.id, &[(more[0], ids[3])]).await.unwrap(), 1);
    assert_eq!(store.merge_story(p.id, ids[3], ids[0]).await.unwrap(), 2);
    assert_eq!((story_of(ids[3]).await, story_of(more[0]).await), (Some(ids[0]), Some(ids[0])));
    assert_eq!(story_of(more[1]).await, None, "another story is not touched");
    // Never toward a younger story, nor twice.
    assert_eq!(store.merge_story(p.id, ids[0], ids[3]).await.unwrap(), 0);
    assert_eq!(store.merge_story(p.id, ids[3], ids[0]).await.unwrap(), 0);
    assert_eq!(store.merge_story(other.id, more[1], ids[0]).await.unwrap(), 0, "another project's");
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
    assert_eq!(store.project_by_id(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.project_by_id(a.id + 10_000).await.unwrap(), None);
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

fn new_source() -> NewSource {
    NewSource {
        source_type: SourceType::Rss,
        url: "http://127.0.0.1:9/items.xml".into(),
        config: json!({}),
        interval_secs: 900,
        first_due_at: t0(),
    }
}

async fn sources_know_their_items(store: &dyn Store) {
    let p = store.ensure_project("source items", t0()).await.unwrap();
    let s = store.add_source(p.id, new_source(), t0()).await.unwrap();
    let other = NewSource { url: "http://127.0.0.1:9/other.xml".into(), ..new_source() };
    let other = store.add_source(p.id, other, t0()).await.unwrap();
    // The items it stored, by their id in it (a feed's GUID) and content:
    // one GUID given to two articles (ids by position), the same GUID in
    // another source, and more items than one query takes.
    let item = |key: &str, guid: &str, source: i64| {
        let mut r = record(key, "Grève chez Acme", t0(), vec![]);
        r.source_id = Some(source);
        r.mention.source_item_id = Some(guid.into());
        r
    };
    let mut batch = vec![item("a", "guid-1", s.id), item("b", "guid-1", s.id), item("c", "guid-1", other.id)];
    batch.extend((0..1200).map(|i| item(&format!("n{i}"), &format!("n{i}"), s.id)));
    store.insert_mentions(p.id, &batch).await.unwrap();
    let found =
        store.source_items(s.id, &[("guid-1", "hash-a"), ("guid-1", "hash-x"), ("guid-2", "hash-b")]).await.unwrap();
    assert_eq!(
        found,
        [SourceItem {
            id: "guid-1".into(),
            content_hash: "hash-a".into(),
            dedup_key: "url:https://twitter.com/i/web/status/a".into()
        }]
    );
    let wanted: Vec<(String, String)> = (0..1200).map(|i| (format!("n{i}"), format!("hash-n{i}"))).collect();
    let wanted: Vec<(&str, &str)> = wanted.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(store.source_items(s.id, &wanted).await.unwrap().len(), 1200);
    assert!(store.source_items(other.id, &[("guid-1", "hash-b")]).await.unwrap().is_empty());
    assert!(store.source_items(s.id, &[]).await.unwrap().is_empty());
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
    let due = store.lease_due_sources(t0(), 10, "w1", LEASE).await.unwrap();
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
    assert!(store.lease_due_sources(failed_at, 10, "w1", LEASE).await.unwrap().iter().all(|(_, d)| d.id != s.id));

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
    let t = store.add_token(p.id, "zapier", "hash-1", Role::Agent, t0()).await.unwrap();
    assert_eq!((t.name.as_str(), t.role, t.last_used_at), ("zapier", Role::Agent, None));
    assert!(matches!(
        store.add_token(p.id, "zapier", "hash-2", Role::Viewer, t0()).await,
        Err(StoreError::Conflict(_))
    ));
    // The role round-trips through every read.
    let reader = store.add_token(p.id, "dashboard", "hash-3", Role::Viewer, t0()).await.unwrap();
    assert_eq!(store.use_token("hash-3", t0()).await.unwrap().map(|t| (t.id, t.role)), Some((reader.id, Role::Viewer)));
    assert!(store.remove_token(p.id, "dashboard").await.unwrap());
    assert_eq!(store.use_token("hash-unknown", t0()).await.unwrap(), None);
    let used = store.use_token("hash-1", t0() + Duration::hours(1)).await.unwrap().unwrap();
    assert_eq!((used.project_id, used.role, used.last_used_at), (p.id, Role::Agent, Some(t0() + Duration::hours(1))));
    assert_eq!(store.list_tokens(p.id).await.unwrap(), vec![used]);
    assert!(store.remove_token(p.id, "zapier").await.unwrap());
    assert!(!store.remove_token(p.id, "zapier").await.unwrap());
    assert_eq!(store.use_token("hash-1", t0()).await.unwrap(), None);
}

async fn alerts_grow_and_their_notifications_wait_in_the_outbox(store: &dyn Store) {
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
    assert!(store.save_detector_state(w.id, SERIES_ALL, b0, &json!({"mean": 1.5})).await.unwrap());
    assert!(store.save_detector_state(w.id, SERIES_ALL, b0 + BUCKET_SECS, &json!({"mean": 2.0})).await.unwrap());
    // A process that lagged behind does not take the state backwards.
    assert!(!store.save_detector_state(w.id, SERIES_ALL, b0, &json!({"mean": 9.0})).await.unwrap());
    assert_eq!(store.detector_state(w.id, SERIES_ALL).await.unwrap(), Some((b0 + BUCKET_SECS, json!({"mean": 2.0}))));
    store.set_alert_settings(p.id, &json!({"trigger_terms": ["boycott"]})).await.unwrap();
    assert_eq!(store.alert_settings(p.id).await.unwrap(), Some(json!({"trigger_terms": ["boycott"]})));

    // Channels: only those taking the alert's severity get a delivery.
    let hook = |target: &str, min| NewChannel {
        kind: "webhook".into(),
        target: target.into(),
        secret: None,
        min_severity: min,
        lang: Language::En,
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
        acknowledged_by: None,
        resolved_by: None,
    };
    let opened = store.save_alert(&new, true, t0()).await.unwrap();
    assert!(opened.id > 0);
    let found = store.open_alert(p.id, &new.dedup_key, t0() - Duration::hours(6)).await.unwrap().unwrap();
    assert_eq!(found, opened);
    assert_eq!(store.open_alert(p.id, &new.dedup_key, t0() + Duration::hours(1)).await.unwrap(), None);

    let due = store.claim_due_deliveries(t0(), 10, "w1", LEASE).await.unwrap();
    assert_eq!(due.len(), 1, "the critical-only channel does not take a warning");
    assert_eq!((due[0].channel.id, due[0].event, due[0].alert.id), (all_alerts.id, 1, opened.id));
    // Saving without notifying queues nothing.
    store.save_alert(&opened, false, t0()).await.unwrap();
    assert_eq!(store.deliveries(opened.id).await.unwrap().len(), 1);
    // Claimed: no other worker gets it until the claim expires.
    assert!(store.claim_due_deliveries(t0(), 10, "w2", LEASE).await.unwrap().is_empty());
    let expired = t0() + Duration::seconds(61);
    assert_eq!(store.claim_due_deliveries(expired, 10, "w2", LEASE).await.unwrap().len(), 1, "w1 died");

    // A retry waits; a sent one is done; a grown, escalated alert is a new event.
    let later = t0() + Duration::minutes(1);
    store
        .record_delivery(
            due[0].id,
            DeliveryRecord::Retry { at: t0(), error: "HTTP 503".into(), next_attempt_at: later },
        )
        .await
        .unwrap();
    assert!(store.claim_due_deliveries(t0(), 10, "w1", LEASE).await.unwrap().is_empty());
    let retry = store.claim_due_deliveries(later, 10, "w1", LEASE).await.unwrap();
    assert_eq!((retry[0].attempts, retry[0].last_error.as_deref()), (1, Some("HTTP 503")));
    store.record_delivery(retry[0].id, DeliveryRecord::Sent { at: later }).await.unwrap();
    assert!(store.record_delivery(retry[0].id, DeliveryRecord::Sent { at: later }).await.is_err(), "sent once");
    let grown =
        Alert { events: 2, severity: Severity::Critical, mention_ids: vec![1, 2], updated_at: later, ..opened.clone() };
    store.save_alert(&grown, true, later).await.unwrap();
    let due = store.claim_due_deliveries(later, 10, "w1", LEASE).await.unwrap();
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

    // A project's own model: stored, replaced, removed; per project and kind.
    assert_eq!(store.project_model(p.id, "sentiment-fast").await.unwrap(), None);
    assert!(!store.set_project_model(p.id, "sentiment-fast", Some(b"v1\0\xff"), t0()).await.unwrap());
    assert!(store.set_project_model(p.id, "sentiment-fast", Some(b"v2"), later).await.unwrap());
    assert_eq!(store.project_model(p.id, "sentiment-fast").await.unwrap().as_deref(), Some(&b"v2"[..]));
    assert_eq!(store.project_model(p.id, "other-kind").await.unwrap(), None);
    assert!(store.set_project_model(p.id, "sentiment-fast", None, later).await.unwrap());
    assert!(!store.set_project_model(p.id, "sentiment-fast", None, later).await.unwrap());
    assert_eq!(store.project_model(p.id, "sentiment-fast").await.unwrap(), None);

    // A later event supersedes what is still pending for the same channel
    // (and only that channel, and only earlier events). Each notification is
    // one: this one adds no event (a surge an order of magnitude bigger) and
    // is still the third, not lost to the second's number.
    let third = Alert { mention_ids: vec![1, 2, 3], ..grown.clone() };
    store.save_alert(&third, true, later).await.unwrap();
    // …unless another process is sending it right now (w1 claimed event 2
    // above and its claim is live): that one goes out and is recorded as sent.
    assert_eq!(store.supersede_deliveries(opened.id, all_alerts.id, 3, "w9", later).await.unwrap(), 0);
    let expired = later + Duration::from_std(LEASE).unwrap() + Duration::seconds(1);
    assert_eq!(store.supersede_deliveries(opened.id, all_alerts.id, 3, "w9", expired).await.unwrap(), 1);
    assert_eq!(store.supersede_deliveries(opened.id, all_alerts.id, 3, "w9", expired).await.unwrap(), 0);
    let history = store.deliveries(opened.id).await.unwrap();
    let states: Vec<(i64, i64, &str)> = history.iter().map(|d| (d.event, d.channel.id, d.status.as_str())).collect();
    assert_eq!(
        states,
        [
            (1, all_alerts.id, "sent"),
            (2, all_alerts.id, "superseded"),
            (2, critical_only.id, "failed"),
            (3, all_alerts.id, "pending"),
            (3, critical_only.id, "pending"),
        ]
    );
    assert!(store.record_delivery(history[1].id, DeliveryRecord::Sent { at: later }).await.is_err());

    // Acknowledge, resolve; a resolved alert is not "open" any more.
    assert!(store.set_alert_status(p.id, opened.id, AlertStatus::Acknowledged, "alice", later).await.unwrap());
    assert!(store.set_alert_status(p.id, opened.id, AlertStatus::Acknowledged, "bob", later).await.unwrap());
    assert_eq!(store.alerts(p.id, Some(AlertStatus::Acknowledged), 10).await.unwrap().len(), 1);
    assert!(store.set_alert_status(p.id, opened.id, AlertStatus::Resolved, "carol", later).await.unwrap());
    let resolved = store.alert(p.id, opened.id).await.unwrap().unwrap();
    assert_eq!(
        (resolved.status, resolved.acknowledged_at, resolved.resolved_at),
        (AlertStatus::Resolved, Some(later), Some(later))
    );
    assert_eq!(
        (resolved.acknowledged_by.as_deref(), resolved.resolved_by.as_deref()),
        (Some("alice"), Some("carol")),
        "the first to acknowledge it, and who resolved it"
    );
    assert_eq!(store.open_alert(p.id, &new.dedup_key, t0()).await.unwrap(), None);
    assert!(
        !store
            .set_alert_status(other_project(store).await, opened.id, AlertStatus::Open, "mallory", later)
            .await
            .unwrap()
    );
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
    // With their link, id and content hash.
    let mut keyed = store.keyed_items(p.id, &keys).await.unwrap();
    keyed.sort_by(|a, b| a.dedup_key.cmp(&b.dedup_key));
    assert_eq!(
        keyed,
        [
            vigie_store::KeyedItem {
                dedup_key: keys[0].into(),
                url: Some("https://twitter.com/i/web/status/1".into()),
                source_item_id: Some("1".into()),
                content_hash: "hash-1".into(),
                source_id: None,
                source_kind: "twitter".into(),
            },
            vigie_store::KeyedItem {
                dedup_key: keys[2].into(),
                url: Some("https://twitter.com/i/web/status/3".into()),
                source_item_id: Some("3".into()),
                content_hash: "hash-3".into(),
                source_id: None,
                source_kind: "twitter".into(),
            },
        ]
    );
    assert!(store.keyed_items(other_project(store).await, &keys).await.unwrap().is_empty());

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

// ---------------------------------------------------------------------------
// Accounts: users, memberships, sessions, failed logins, audit.

fn new_user(username: &str) -> NewUser {
    NewUser {
        username: username.into(),
        display_name: format!("{username} (display)"),
        email: None,
        password_hash: format!("$argon2id$hash-of-{username}"),
        is_admin: false,
        lang: "fr".into(),
        must_change_password: false,
    }
}

async fn users_are_unique_without_case(store: &dyn Store) {
    let before = store.user_count().await.unwrap();
    let bob = store.add_user(new_user("bob"), t0()).await.unwrap();
    let alice = store.add_user(new_user("Alice"), t0()).await.unwrap();
    assert_eq!((alice.username.as_str(), alice.disabled, alice.created_at), ("Alice", false, t0()));
    let err = store.add_user(new_user("ALICE"), t0()).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(m) if m.contains("ALICE")), "{err}");
    assert_eq!(store.user_count().await.unwrap(), before + 2);

    // Found by name in any case, with the password hash.
    let (found, hash) = store.user_by_name("aLiCe").await.unwrap().unwrap();
    assert_eq!((found, hash.as_str()), (alice.clone(), "$argon2id$hash-of-Alice"));
    assert_eq!(store.user_by_name("carol").await.unwrap(), None);
    assert_eq!(store.user(bob.id).await.unwrap(), Some(bob.clone()));
    assert_eq!(store.user(bob.id + 10_000).await.unwrap(), None);
    // Listed by username without case: Alice before bob.
    let names: Vec<String> = store.list_users().await.unwrap().into_iter().map(|u| u.username).collect();
    let (a, b) = (names.iter().position(|n| n == "Alice"), names.iter().position(|n| n == "bob"));
    assert!(a.unwrap() < b.unwrap(), "{names:?}");

    // The profile is saved; the username is not changed by it.
    let changed = User {
        username: "renamed".into(),
        display_name: "Alice Martin".into(),
        email: Some("alice@example.org".into()),
        is_admin: true,
        lang: "en".into(),
        disabled: true,
        ..alice.clone()
    };
    store.update_user(&changed, &by()).await.unwrap();
    let saved = store.user(alice.id).await.unwrap().unwrap();
    assert_eq!(saved, User { username: "Alice".into(), ..changed.clone() });
    let missing = User { id: alice.id + 10_000, ..changed };
    assert!(matches!(store.update_user(&missing, &by()).await, Err(StoreError::NotFound(_))));

    store.set_password(bob.id, "$argon2id$new", true).await.unwrap();
    let (bob_now, hash) = store.user_by_name("BOB").await.unwrap().unwrap();
    assert_eq!((hash.as_str(), bob_now.must_change_password), ("$argon2id$new", true));
    store.set_password(bob.id, "$argon2id$newer", false).await.unwrap();
    assert!(!store.user(bob.id).await.unwrap().unwrap().must_change_password);
    assert!(matches!(store.set_password(bob.id + 10_000, "x", false).await, Err(StoreError::NotFound(_))));
}

async fn memberships_give_a_role_per_project(store: &dyn Store) {
    let zeta = store.ensure_project("zeta-members", t0()).await.unwrap();
    let alpha = store.ensure_project("alpha-members", t0()).await.unwrap();
    let carol = store.add_user(new_user("carol"), t0()).await.unwrap();
    let dave = store.add_user(new_user("Dave"), t0()).await.unwrap();
    store.set_membership(zeta.id, carol.id, Some(Role::Viewer), &by()).await.unwrap();
    store.set_membership(alpha.id, carol.id, Some(Role::Agent), &by()).await.unwrap();
    store.set_membership(zeta.id, dave.id, Some(Role::Admin), &by()).await.unwrap();
    // By project name, whatever the order they were given in.
    assert_eq!(
        store.memberships(carol.id).await.unwrap(),
        vec![(alpha.clone(), Role::Agent), (zeta.clone(), Role::Viewer)]
    );
    // A second call changes the role.
    store.set_membership(zeta.id, carol.id, Some(Role::Manager), &by()).await.unwrap();
    assert_eq!(store.memberships(carol.id).await.unwrap()[1], (zeta.clone(), Role::Manager));
    // Members by username (without case: carol before Dave).
    assert_eq!(
        store.members(zeta.id).await.unwrap(),
        vec![(carol.clone(), Role::Manager), (dave.clone(), Role::Admin)]
    );
    store.set_membership(zeta.id, carol.id, None, &by()).await.unwrap();
    assert_eq!(store.members(zeta.id).await.unwrap(), vec![(dave.clone(), Role::Admin)]);
    assert_eq!(store.memberships(carol.id).await.unwrap(), vec![(alpha, Role::Agent)]);
    assert!(store.memberships(dave.id + 10_000).await.unwrap().is_empty());
    assert!(store.set_membership(zeta.id, dave.id + 10_000, Some(Role::Agent), &by()).await.is_err(), "no such user");
}

async fn sessions_expire_and_end(store: &dyn Store) {
    let erin = store.add_user(new_user("erin"), t0()).await.unwrap();
    let frank = store.add_user(new_user("frank"), t0()).await.unwrap();
    let end = t0() + Duration::hours(1);
    store.create_session("sess-erin", erin.id, "csrf-erin", t0(), end).await.unwrap();
    let session = store.session("sess-erin", t0() + Duration::minutes(59)).await.unwrap().unwrap();
    assert_eq!(session, Session { user: erin.clone(), csrf: "csrf-erin".into(), expires_at: end });
    // Expired at its end.
    assert_eq!(store.session("sess-erin", end).await.unwrap(), None);
    assert_eq!(store.session("sess-unknown", t0()).await.unwrap(), None);

    // A disabled user's sessions do not open, and do again once re-enabled.
    store.update_user(&User { disabled: true, ..erin.clone() }, &by()).await.unwrap();
    assert_eq!(store.session("sess-erin", t0()).await.unwrap(), None);
    store.update_user(&erin, &by()).await.unwrap();
    assert_eq!(store.session("sess-erin", t0()).await.unwrap().map(|s| s.user.id), Some(erin.id));

    store.delete_session("sess-erin").await.unwrap();
    assert_eq!(store.session("sess-erin", t0()).await.unwrap(), None);

    // Logging a user out everywhere leaves the others' sessions.
    store.create_session("sess-frank-1", frank.id, "c1", t0(), end).await.unwrap();
    store.create_session("sess-frank-2", frank.id, "c2", t0(), end).await.unwrap();
    store.create_session("sess-erin-2", erin.id, "c3", t0(), end).await.unwrap();
    store.delete_user_sessions(frank.id).await.unwrap();
    assert_eq!(store.session("sess-frank-1", t0()).await.unwrap(), None);
    assert_eq!(store.session("sess-frank-2", t0()).await.unwrap(), None);
    assert!(store.session("sess-erin-2", t0()).await.unwrap().is_some());

    // Purging removes the expired ones only (sess-erin-2 ends at `end`).
    store.create_session("sess-frank-3", frank.id, "c4", t0(), t0() + Duration::hours(3)).await.unwrap();
    assert_eq!(store.purge_sessions(t0() + Duration::hours(2)).await.unwrap(), 1);
    assert_eq!(store.purge_sessions(t0() + Duration::hours(2)).await.unwrap(), 0);
    assert!(store.session("sess-frank-3", t0()).await.unwrap().is_some());
    assert_eq!(store.session("sess-erin-2", t0()).await.unwrap(), None, "purged");
}

async fn failed_logins_are_counted_per_key(store: &dyn Store) {
    for minutes in [0, 1, 2] {
        store.record_login_failure("erin", t0() + Duration::minutes(minutes)).await.unwrap();
    }
    store.record_login_failure("10.0.0.1", t0()).await.unwrap();
    assert_eq!(store.login_failures("erin", t0()).await.unwrap(), 3);
    assert_eq!(store.login_failures("erin", t0() + Duration::minutes(1)).await.unwrap(), 2, "since is inclusive");
    assert_eq!(store.login_failures("erin", t0() + Duration::minutes(3)).await.unwrap(), 0);
    // Old failures are forgotten by the purge; recent ones stay.
    assert_eq!(store.purge_login_failures(t0() + Duration::minutes(1)).await.unwrap(), 2);
    assert_eq!(store.login_failures("erin", t0()).await.unwrap(), 2);
    store.record_login_failure("10.0.0.1", t0() + Duration::minutes(5)).await.unwrap();
    store.clear_login_failures("erin").await.unwrap();
    assert_eq!(store.login_failures("erin", t0()).await.unwrap(), 0);
    assert_eq!(store.login_failures("10.0.0.1", t0()).await.unwrap(), 1);
    // One attempt counted ahead and found right is taken back, one only.
    let at = t0() + Duration::minutes(7);
    store.record_login_failure("10.0.0.2", at).await.unwrap();
    store.record_login_failure("10.0.0.2", at).await.unwrap();
    store.forget_login_failure("10.0.0.2", at).await.unwrap();
    assert_eq!(store.login_failures("10.0.0.2", t0()).await.unwrap(), 1);
    store.forget_login_failure("10.0.0.2", at + Duration::seconds(1)).await.unwrap();
    assert_eq!(store.login_failures("10.0.0.2", t0()).await.unwrap(), 1, "not one of another time");
}

async fn the_audit_log_reads_newest_first(store: &dyn Store) {
    let p = store.ensure_project("audit", t0()).await.unwrap();
    let other = store.ensure_project("audit-other", t0()).await.unwrap();
    let gina = store.add_user(new_user("gina"), t0()).await.unwrap();
    let entry = |project_id: Option<i64>, user_id: Option<i64>, action: &str| NewAudit {
        project_id,
        user_id,
        action: action.into(),
        detail: format!("{action} detail"),
    };
    store.audit(entry(None, Some(gina.id), "user.add"), t0()).await.unwrap();
    store.audit(entry(Some(p.id), Some(gina.id), "watch.add"), t0() + Duration::minutes(1)).await.unwrap();
    store.audit(entry(Some(other.id), None, "token.use"), t0() + Duration::minutes(2)).await.unwrap();
    store.audit(entry(Some(p.id), None, "watch.update"), t0() + Duration::minutes(3)).await.unwrap();

    let mine = store.audit_log(Some(p.id), None, 10).await.unwrap();
    let actions: Vec<&str> = mine.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["watch.update", "watch.add"]);
    assert_eq!(
        (mine[1].project_id, mine[1].user_id, mine[1].at, mine[1].detail.as_str()),
        (Some(p.id), Some(gina.id), t0() + Duration::minutes(1), "watch.add detail")
    );
    assert_eq!(mine[0].user_id, None);
    // Everything, newest first; then the page after the newest two.
    let all = store.audit_log(None, None, 4).await.unwrap();
    let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["watch.update", "token.use", "watch.add", "user.add"]);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    let page = store.audit_log(None, Some(all[1].id), 10).await.unwrap();
    let actions: Vec<&str> = page.iter().take(2).map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["watch.add", "user.add"]);
    assert_eq!(store.audit_log(Some(p.id), Some(mine[0].id), 10).await.unwrap(), vec![mine[1].clone()]);
    assert_eq!(store.audit_log(Some(p.id), None, 1).await.unwrap(), vec![mine[0].clone()]);
}

// ---------------------------------------------------------------------------
// Workflow: departments, routing rules, the inbox, response figures, overview.

fn item(project_id: i64, mention_id: i64, status: InboxStatus, entered: DateTime<Utc>) -> InboxItem {
    InboxItem {
        mention_id,
        project_id,
        status,
        department_id: None,
        assignee_id: None,
        entered_at: entered,
        due_at: None,
        first_response_at: None,
        closed_at: None,
        reply: None,
        reason: None,
        escalated_at: None,
        clock_at: None,
        first_due_at: None,
        updated_at: entered,
    }
}

/// An administrative change (a department, a membership, an account) made
/// a day after [`t0`], by user 1 through the token "ops".
fn by() -> ChangedBy {
    ChangedBy { user_id: None, token: Some("ops".into()), at: t0() + Duration::days(1) }
}

/// The item's last history line: its action and its change.
async fn last_change(store: &dyn Store, project_id: i64, mention_id: i64) -> (String, Option<WorkflowChange>) {
    let events = store.workflow_events(project_id, mention_id).await.unwrap();
    let last = events.last().expect("the item has a history");
    assert_eq!(last.at, by().at);
    let detail = WorkflowDetail::parse(&last.action, &last.detail);
    if let Some(d) = &detail {
        assert_eq!(d.by.as_deref(), Some("ops"), "the token is named");
    }
    (last.action.clone(), detail.map(|d| d.change))
}

fn event(user_id: Option<i64>, action: &str) -> NewWorkflowEvent {
    NewWorkflowEvent { user_id, action: action.into(), detail: format!("{action} detail") }
}

/// Stores `n` plain mentions in the project; their ids, oldest first.
async fn mentions(store: &dyn Store, project_id: i64, prefix: &str, n: usize) -> Vec<i64> {
    let batch: Vec<MentionRecord> =
        (0..n).map(|i| record(&format!("{prefix}{i}"), &format!("mention {i}"), t0(), vec![])).collect();
    store.insert_mentions(project_id, &batch).await.unwrap().inserted_ids
}

fn department(name: &str, target_secs: i64) -> NewDepartment {
    NewDepartment { name: name.into(), response_target_secs: target_secs, manager_id: None }
}

async fn departments_and_routing_rules(store: &dyn Store) {
    let p = store.ensure_project("departments", t0()).await.unwrap();
    let other = store.ensure_project("departments-other", t0()).await.unwrap();
    let manager = store.add_user(new_user("henri"), t0()).await.unwrap();
    let support = store
        .add_department(p.id, NewDepartment { manager_id: Some(manager.id), ..department("Support", 3600) }, t0())
        .await
        .unwrap();
    assert_eq!(
        (support.project_id, support.name.as_str(), support.response_target_secs, support.manager_id),
        (p.id, "Support", 3600, Some(manager.id))
    );
    let err = store.add_department(p.id, department("Support", 60), t0()).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let elsewhere = store.add_department(other.id, department("Support", 60), t0()).await.unwrap();
    let billing = store.add_department(p.id, department("Billing", 7200), t0()).await.unwrap();
    assert_eq!(store.list_departments(p.id).await.unwrap(), vec![billing.clone(), support.clone()], "by name");

    let renamed = Department { name: "Customer care".into(), response_target_secs: 1800, manager_id: None, ..support };
    store.update_department(&renamed, &by()).await.unwrap();
    assert_eq!(store.list_departments(p.id).await.unwrap(), vec![billing.clone(), renamed.clone()]);
    let clash = Department { name: "Billing".into(), ..renamed.clone() };
    assert!(matches!(store.update_department(&clash, &by()).await, Err(StoreError::Conflict(_))));
    let foreign = Department { project_id: other.id, ..renamed.clone() };
    assert!(matches!(store.update_department(&foreign, &by()).await, Err(StoreError::NotFound(_))));

    // Rules go after the last one; their conditions round-trip.
    let w = store
        .add_watch(p.id, NewWatch { name: "acme".into(), query: "acme".into(), competitor: false, langs: vec![] }, t0())
        .await
        .unwrap();
    let rule = |department_id: i64| NewRoutingRule {
        theme: None,
        sentiment: None,
        watch_id: None,
        source_kind: None,
        department_id,
    };
    let r1 = store
        .add_rule(
            p.id,
            NewRoutingRule {
                theme: Some("billing".into()),
                sentiment: Some(Polarity::Negative),
                watch_id: Some(w.id),
                source_kind: Some(SourceKind::Review),
                ..rule(billing.id)
            },
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(
        (r1.position, r1.theme.as_deref(), r1.sentiment, r1.watch_id, r1.source_kind, r1.department_id),
        (1, Some("billing"), Some(Polarity::Negative), Some(w.id), Some(SourceKind::Review), billing.id)
    );
    let r2 = store.add_rule(p.id, rule(renamed.id), t0()).await.unwrap();
    let r3 = store.add_rule(p.id, rule(billing.id), t0()).await.unwrap();
    assert_eq!((r2.position, r3.position), (2, 3));
    assert_eq!(store.list_rules(p.id).await.unwrap(), vec![r1.clone(), r2.clone(), r3.clone()]);
    assert!(store.remove_rule(p.id, r2.id).await.unwrap());
    assert!(!store.remove_rule(p.id, r2.id).await.unwrap());
    assert!(!store.remove_rule(other.id, r3.id).await.unwrap(), "another project's rule");
    assert_eq!(store.add_rule(p.id, rule(renamed.id), t0()).await.unwrap().position, 4);
    // Another project's department (or watch) is refused; that project's own positions start at 1.
    assert!(matches!(store.add_rule(p.id, rule(elsewhere.id), t0()).await, Err(StoreError::NotFound(_))));
    let foreign_watch = NewRoutingRule { watch_id: Some(w.id), ..rule(elsewhere.id) };
    assert!(matches!(store.add_rule(other.id, foreign_watch, t0()).await, Err(StoreError::NotFound(_))));
    assert_eq!(store.add_rule(other.id, rule(elsewhere.id), t0()).await.unwrap().position, 1);

    // Removing a department removes its rules and unsets it on inbox items,
    // with the due time its target gave pending ones (not overdue for
    // nobody); an answered one keeps its due time, which the reports judge
    // its answer by.
    let ids = mentions(store, p.id, "dept", 3).await;
    let late_answer = InboxItem {
        department_id: Some(billing.id),
        due_at: Some(t0() + chrono::Duration::hours(4)),
        first_response_at: Some(t0() + chrono::Duration::hours(6)),
        ..item(p.id, ids[2], InboxStatus::Answered, t0())
    };
    store.save_inbox_item(&late_answer, None).await.unwrap();
    let routed = InboxItem {
        department_id: Some(billing.id),
        due_at: Some(t0() + chrono::Duration::hours(4)),
        ..item(p.id, ids[0], InboxStatus::ToHandle, t0())
    };
    store.save_inbox_item(&routed, None).await.unwrap();
    let kept = InboxItem { department_id: Some(renamed.id), ..item(p.id, ids[1], InboxStatus::ToHandle, t0()) };
    store.save_inbox_item(&kept, None).await.unwrap();
    assert!(!store.remove_department(other.id, billing.id, &by()).await.unwrap(), "another project's");
    assert!(store.remove_department(p.id, billing.id, &by()).await.unwrap());
    assert!(!store.remove_department(p.id, billing.id, &by()).await.unwrap());
    let rules = store.list_rules(p.id).await.unwrap();
    assert_eq!(rules.iter().map(|r| (r.position, r.department_id)).collect::<Vec<_>>(), vec![(4, renamed.id)]);
    assert_eq!(
        store.inbox_item(p.id, ids[0]).await.unwrap(),
        Some(InboxItem { department_id: None, due_at: None, updated_at: by().at, ..routed })
    );
    assert_eq!(
        last_change(store, p.id, ids[0]).await,
        ("department_removed".into(), Some(WorkflowChange::DepartmentRemoved { department: "Billing".into() }))
    );
    assert_eq!(
        store.inbox_item(p.id, ids[2]).await.unwrap(),
        Some(InboxItem { department_id: None, ..late_answer }),
        "an answered item keeps its due time"
    );
    assert!(store.workflow_events(p.id, ids[2]).await.unwrap().is_empty(), "and its history");
    assert_eq!(store.inbox_item(p.id, ids[1]).await.unwrap(), Some(kept.clone()));
    assert_eq!(store.list_departments(p.id).await.unwrap(), vec![renamed.clone()]);

    // A new target moves the due time of the department's pending items.
    let retarget = Department { response_target_secs: 7200, ..renamed.clone() };
    store.update_department(&retarget, &by()).await.unwrap();
    let moved = store.inbox_item(p.id, ids[1]).await.unwrap().unwrap();
    assert_eq!(moved.due_at, Some(kept.entered_at + chrono::Duration::seconds(7200)));
    assert_eq!(moved.updated_at, by().at);
    let retargeted = |from: Option<DateTime<Utc>>, due: Option<DateTime<Utc>>, department: &str| {
        ("retargeted".to_string(), Some(WorkflowChange::Retargeted { department: department.into(), from, due }))
    };
    assert_eq!(
        last_change(store, p.id, ids[1]).await,
        retargeted(kept.due_at, moved.due_at, &retarget.name),
        "the history says why the due time moved"
    );
    // Escalated under it: saving the department with the same target (a new
    // name, a new manager) or a shorter one does not escalate it again; a
    // longer one gives it a new chance.
    let escalated = InboxItem { escalated_at: Some(t0()), ..moved.clone() };
    store.save_inbox_item(&escalated, None).await.unwrap();
    let same_target = Department { name: "Facturation et litiges".into(), ..retarget.clone() };
    store.update_department(&same_target, &by()).await.unwrap();
    assert_eq!(store.inbox_item(p.id, ids[1]).await.unwrap().unwrap(), escalated, "nothing moved");
    assert_eq!(store.workflow_events(p.id, ids[1]).await.unwrap().len(), 1, "nor was written");
    store.update_department(&Department { response_target_secs: 3600, ..same_target.clone() }, &by()).await.unwrap();
    let shorter = store.inbox_item(p.id, ids[1]).await.unwrap().unwrap();
    assert_eq!(
        (shorter.due_at, shorter.escalated_at),
        (Some(kept.entered_at + chrono::Duration::seconds(3600)), Some(t0())),
        "still escalated"
    );
    store.update_department(&Department { response_target_secs: 86_400, ..same_target.clone() }, &by()).await.unwrap();
    let longer = store.inbox_item(p.id, ids[1]).await.unwrap().unwrap();
    assert_eq!((longer.due_at, longer.escalated_at), (Some(kept.entered_at + chrono::Duration::days(1)), None));
    let renamed = same_target;
    store.update_department(&Department { response_target_secs: 0, ..renamed.clone() }, &by()).await.unwrap();
    assert_eq!(store.inbox_item(p.id, ids[1]).await.unwrap().unwrap().due_at, None, "no target, no due time");
    assert_eq!(last_change(store, p.id, ids[1]).await, retargeted(longer.due_at, None, &renamed.name));
    assert_eq!(store.workflow_events(p.id, ids[1]).await.unwrap().len(), 4, "one line a move");
    // Reopened after an answer, an item's clock runs from its reopening.
    let reopened_at = t0() + chrono::Duration::days(3);
    let reopened = InboxItem {
        clock_at: Some(reopened_at),
        first_due_at: Some(t0()),
        due_at: None,
        first_response_at: Some(t0()),
        ..store.inbox_item(p.id, ids[1]).await.unwrap().unwrap()
    };
    store.save_inbox_item(&reopened, None).await.unwrap();
    store.update_department(&Department { response_target_secs: 600, ..renamed.clone() }, &by()).await.unwrap();
    let moved = store.inbox_item(p.id, ids[1]).await.unwrap().unwrap();
    assert_eq!((moved.due_at, moved.first_due_at), (Some(reopened_at + chrono::Duration::seconds(600)), Some(t0())));
    assert_eq!(moved.clock_at, Some(reopened_at), "read back");

    // Rules move one place at a time; the ends stay put.
    let first = store.list_rules(p.id).await.unwrap()[0].clone();
    let second = store.add_rule(p.id, rule(renamed.id), t0()).await.unwrap();
    let third = store.add_rule(p.id, rule(renamed.id), t0()).await.unwrap();
    let order = || async { store.list_rules(p.id).await.unwrap().iter().map(|r| r.id).collect::<Vec<_>>() };
    assert!(store.move_rule(p.id, third.id, true).await.unwrap());
    assert_eq!(order().await, [first.id, third.id, second.id]);
    assert!(store.move_rule(p.id, third.id, true).await.unwrap());
    assert_eq!(order().await, [third.id, first.id, second.id]);
    assert!(!store.move_rule(p.id, third.id, true).await.unwrap(), "already first");
    assert!(!store.move_rule(p.id, second.id, false).await.unwrap(), "already last");
    assert!(store.move_rule(p.id, first.id, false).await.unwrap());
    assert_eq!(order().await, [third.id, second.id, first.id]);
    assert!(!store.move_rule(other.id, first.id, true).await.unwrap(), "another project's rule");
    assert!(!store.move_rule(p.id, 999_999, true).await.unwrap());
    let positions: Vec<i64> = store.list_rules(p.id).await.unwrap().iter().map(|r| r.position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}

async fn inbox_items_are_saved_with_their_history(store: &dyn Store) {
    let p = store.ensure_project("inbox", t0()).await.unwrap();
    let other = store.ensure_project("inbox-other", t0()).await.unwrap();
    let agent = store.add_user(new_user("ines"), t0()).await.unwrap();
    let support = store.add_department(p.id, department("Support", 3600), t0()).await.unwrap();
    let ids = mentions(store, p.id, "inbox", 6).await;
    let later = |minutes: i64| t0() + Duration::minutes(minutes);

    // Saved whole, with the event that explains it (at the item's update time).
    let first = InboxItem {
        department_id: Some(support.id),
        due_at: Some(later(60)),
        ..item(p.id, ids[0], InboxStatus::ToHandle, t0())
    };
    store.save_inbox_item(&first, Some(event(None, "routed"))).await.unwrap();
    assert_eq!(store.inbox_item(p.id, ids[0]).await.unwrap(), Some(first.clone()));
    assert_eq!(store.inbox_item(other.id, ids[0]).await.unwrap(), None, "another project");
    let assigned =
        InboxItem { status: InboxStatus::Assigned, assignee_id: Some(agent.id), updated_at: later(5), ..first.clone() };
    store.save_inbox_item(&assigned, Some(event(Some(agent.id), "assigned"))).await.unwrap();
    assert_eq!(store.inbox_item(p.id, ids[0]).await.unwrap(), Some(assigned.clone()));
    let history = store.workflow_events(p.id, ids[0]).await.unwrap();
    let steps: Vec<(&str, Option<i64>, DateTime<Utc>)> =
        history.iter().map(|e| (e.action.as_str(), e.user_id, e.at)).collect();
    assert_eq!(steps, vec![("routed", None, t0()), ("assigned", Some(agent.id), later(5))]);
    assert_eq!((history[1].mention_id, history[1].detail.as_str()), (ids[0], "assigned detail"));
    assert!(store.workflow_events(other.id, ids[0]).await.unwrap().is_empty());
    // A structured detail (the JSON the web app and routing write) comes back as written.
    let note =
        WorkflowDetail::new(WorkflowChange::Note { text: "Rappelé : « \"ok\" » → à suivre\n2e ligne".into() });
    let structured = NewWorkflowEvent { user_id: None, action: "note".into(), detail: note.encode() };
    store.add_workflow_event(p.id, ids[4], structured, later(6)).await.unwrap();
    let history = store.workflow_events(p.id, ids[4]).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].detail, note.encode());
    assert_eq!(WorkflowDetail::parse("note", &history[0].detail), Some(note));

    // All or nothing: an event that cannot be written (no such user) leaves the item as it was.
    let answered = InboxItem { status: InboxStatus::Answered, first_response_at: Some(later(9)), ..assigned.clone() };
    assert!(store.save_inbox_item(&answered, Some(event(Some(agent.id + 10_000), "answered"))).await.is_err());
    assert_eq!(store.inbox_item(p.id, ids[0]).await.unwrap(), Some(assigned.clone()));
    assert_eq!(store.workflow_events(p.id, ids[0]).await.unwrap().len(), 2);
    // A mention of another project (or none) is refused.
    let foreign = item(other.id, ids[1], InboxStatus::ToHandle, t0());
    assert!(matches!(store.save_inbox_item(&foreign, None).await, Err(StoreError::NotFound(_))));
    assert_eq!(store.inbox_item(other.id, ids[1]).await.unwrap(), None);
    assert!(matches!(store.save_inbox_item_from(None, &foreign, None).await, Err(StoreError::NotFound(_))));

    // Saved only from what was read: of eight people answering or ignoring
    // the same item at once, one wins and the others are told.
    let rp = store.ensure_project("inbox race", t0()).await.unwrap().id;
    let race = mentions(store, rp, "race", 2).await;
    let open = item(rp, race[0], InboxStatus::ToHandle, t0());
    store.save_inbox_item(&open, None).await.unwrap();
    let racers = (0..8).map(|i| {
        let status = if i % 2 == 0 { InboxStatus::Answered } else { InboxStatus::Ignored };
        let next = InboxItem { status, first_response_at: Some(later(10)), updated_at: later(10), ..open.clone() };
        let open = open.clone();
        async move { store.save_inbox_item_from(Some(&open), &next, Some(event(None, "answered"))).await }
    });
    let results = futures::future::join_all(racers).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, StoreError::Conflict(_))));
    assert_eq!(store.workflow_events(rp, race[0]).await.unwrap().len(), 1, "one event: the winner's");
    assert_ne!(store.inbox_item(rp, race[0]).await.unwrap(), Some(open));
    // A new item: the first insert wins too.
    let fresh = item(rp, race[1], InboxStatus::ToHandle, t0());
    store.save_inbox_item_from(None, &fresh, None).await.unwrap();
    assert!(matches!(store.save_inbox_item_from(None, &fresh, None).await, Err(StoreError::Conflict(_))));

    // Routing inserts the absent items only, with their events only.
    let routed = |id: i64| {
        (
            InboxItem {
                department_id: Some(support.id),
                due_at: Some(later(30)),
                updated_at: later(1),
                ..item(p.id, id, InboxStatus::ToHandle, later(1))
            },
            event(None, "routed"),
        )
    };
    let batch = vec![routed(ids[0]), routed(ids[1]), routed(ids[2])];
    assert_eq!(store.route_mentions(&batch).await.unwrap(), 2);
    assert_eq!(store.route_mentions(&batch).await.unwrap(), 0, "a rerun inserts nothing");
    assert_eq!(store.inbox_item(p.id, ids[0]).await.unwrap(), Some(assigned.clone()), "left as it was");
    assert_eq!(store.workflow_events(p.id, ids[0]).await.unwrap().len(), 2, "no event for the existing one");
    assert_eq!(store.inbox_item(p.id, ids[1]).await.unwrap(), Some(batch[1].0.clone()));
    for id in [ids[1], ids[2]] {
        let history = store.workflow_events(p.id, id).await.unwrap();
        assert_eq!(history.iter().map(|e| (e.action.as_str(), e.at)).collect::<Vec<_>>(), vec![("routed", later(1))]);
    }
    assert_eq!(store.route_mentions(&[]).await.unwrap(), 0);

    // A note alone.
    store.add_workflow_event(p.id, ids[2], event(Some(agent.id), "note"), later(7)).await.unwrap();
    let history = store.workflow_events(p.id, ids[2]).await.unwrap();
    assert_eq!(
        history.iter().map(|e| (e.action.as_str(), e.at)).collect::<Vec<_>>(),
        [("routed", later(1)), ("note", later(7))]
    );
    assert!(matches!(
        store.add_workflow_event(other.id, ids[2], event(None, "note"), later(7)).await,
        Err(StoreError::NotFound(_))
    ));

    // The rest: ids[3] answered, ids[4] ignored, ids[5] to handle without a department, overdue soon.
    let done = InboxItem {
        first_response_at: Some(later(20)),
        reply: Some("Merci, c'est réglé".into()),
        ..item(p.id, ids[3], InboxStatus::Answered, t0())
    };
    store.save_inbox_item(&done, None).await.unwrap();
    store.save_inbox_item(&item(p.id, ids[4], InboxStatus::Ignored, t0()), None).await.unwrap();
    let loose = InboxItem { due_at: Some(later(10)), ..item(p.id, ids[5], InboxStatus::ToHandle, t0()) };
    store.save_inbox_item(&loose, None).await.unwrap();

    // Listing: pending by default, newest mention first, with the mention.
    let pid = p.id;
    let list = |filter: InboxFilter, before: Option<i64>| async move {
        let rows = store.inbox(pid, &filter, before, 10).await.unwrap();
        rows.into_iter().map(|(i, m)| (i.mention_id, m.mention.id)).collect::<Vec<_>>()
    };
    let pending = store.inbox(p.id, &InboxFilter::default(), None, 10).await.unwrap();
    assert_eq!(pending.iter().map(|(i, _)| i.mention_id).collect::<Vec<_>>(), vec![ids[5], ids[2], ids[1], ids[0]]);
    assert!(pending.iter().all(|(i, m)| i.mention_id == m.mention.id));
    assert_eq!(pending[3].0, assigned);
    assert_eq!(Some(pending[3].1.clone()), store.mention(p.id, ids[0]).await.unwrap());
    let pair = |id: i64| (id, id);
    let statuses = |s: &[InboxStatus]| InboxFilter { statuses: s.to_vec(), ..InboxFilter::default() };
    assert_eq!(list(statuses(&[InboxStatus::Answered]), None).await, vec![pair(ids[3])]);
    assert_eq!(
        list(statuses(&[InboxStatus::Ignored, InboxStatus::Answered]), None).await,
        vec![pair(ids[4]), pair(ids[3])]
    );
    assert_eq!(list(statuses(&[InboxStatus::Closed]), None).await, vec![]);
    let by_department = InboxFilter { department_id: Some(support.id), ..InboxFilter::default() };
    assert_eq!(list(by_department, None).await, vec![pair(ids[2]), pair(ids[1]), pair(ids[0])]);
    let by_assignee = InboxFilter { assignee_id: Some(agent.id), ..InboxFilter::default() };
    assert_eq!(list(by_assignee, None).await, vec![pair(ids[0])]);
    // Due before 00:15: ids[5] (00:10); at 00:45 also ids[1], ids[2] (00:30), not ids[0] (01:00).
    let overdue = |minutes: i64| InboxFilter { overdue_at: Some(later(minutes)), ..InboxFilter::default() };
    assert_eq!(list(overdue(15), None).await, vec![pair(ids[5])]);
    assert_eq!(list(overdue(45), None).await, vec![pair(ids[5]), pair(ids[2]), pair(ids[1])]);
    assert_eq!(list(overdue(10), None).await, vec![], "due at is not before");
    // Overdue means pending: an answered item past its due time is not.
    let late_answer = InboxFilter { statuses: vec![InboxStatus::Answered], overdue_at: Some(later(500)), ..overdue(0) };
    store.save_inbox_item(&InboxItem { due_at: Some(later(15)), ..done.clone() }, None).await.unwrap();
    assert_eq!(list(late_answer, None).await, vec![]);
    // Keyset paging.
    assert_eq!(list(InboxFilter::default(), Some(ids[2])).await, vec![pair(ids[1]), pair(ids[0])]);
    let first_page = store.inbox(p.id, &InboxFilter::default(), None, 2).await.unwrap();
    assert_eq!(first_page.iter().map(|(i, _)| i.mention_id).collect::<Vec<_>>(), vec![ids[5], ids[2]]);
    assert!(store.inbox(other.id, &InboxFilter::default(), None, 10).await.unwrap().is_empty());

    // Counts per status (those with items), overdue among the pending.
    let counts = store.inbox_counts(p.id, later(45)).await.unwrap();
    assert_eq!(
        counts.per_status,
        vec![
            (InboxStatus::ToHandle, 3),
            (InboxStatus::Assigned, 1),
            (InboxStatus::Answered, 1),
            (InboxStatus::Ignored, 1)
        ]
    );
    assert_eq!(counts.overdue, 3);
    assert_eq!(store.inbox_counts(p.id, t0()).await.unwrap().overdue, 0);
    assert_eq!(store.inbox_counts(other.id, t0()).await.unwrap(), InboxCounts::default());
    // Counted as the department and person filters list them.
    let total = |c: &InboxCounts| c.per_status.iter().map(|(_, n)| n).sum::<i64>();
    let of_support = store.inbox_counts_of(p.id, Some(support.id), None, later(45)).await.unwrap();
    assert_eq!((total(&of_support), of_support.overdue), (3, 2), "{of_support:?}");
    let of_agent = store.inbox_counts_of(p.id, None, Some(agent.id), later(45)).await.unwrap();
    assert_eq!((total(&of_agent), of_agent.overdue), (1, 0), "{of_agent:?}");
    let both = store.inbox_counts_of(p.id, Some(support.id), Some(agent.id), later(45)).await.unwrap();
    assert_eq!(total(&both), 1);
    // The items of no department, listed and counted alike.
    let of_none = store.inbox_counts_of(p.id, Some(NO_DEPARTMENT), None, later(45)).await.unwrap();
    let everything = store.inbox_counts_of(p.id, None, None, later(45)).await.unwrap();
    assert_eq!(total(&of_none), total(&everything) - total(&of_support), "{of_none:?}");
    let filter = InboxFilter { department_id: Some(NO_DEPARTMENT), ..InboxFilter::default() };
    let listed = store.inbox(p.id, &filter, None, 100).await.unwrap();
    assert!(listed.iter().all(|(i, _)| i.department_id.is_none()), "{listed:?}");
    assert_eq!(
        listed.len() as i64,
        of_none.per_status.iter().filter(|(s, _)| s.is_pending()).map(|(_, n)| n).sum::<i64>()
    );
    // A row may say `new` too: it is counted as such.
    let ids2 = mentions(store, p.id, "inbox-new", 1).await;
    store.save_inbox_item(&item(p.id, ids2[0], InboxStatus::New, t0()), None).await.unwrap();
    assert_eq!(store.inbox_counts(p.id, t0()).await.unwrap().per_status[0], (InboxStatus::New, 1));

    // Leaving the project (or becoming a reader) releases the person's
    // pending items and the departments they managed.
    store.set_membership(p.id, agent.id, Some(Role::Agent), &by()).await.unwrap();
    store.update_department(&Department { manager_id: Some(agent.id), ..support.clone() }, &by()).await.unwrap();
    assert_eq!(store.inbox_item(p.id, ids[0]).await.unwrap().unwrap().assignee_id, Some(agent.id));
    store.set_membership(p.id, agent.id, Some(Role::Manager), &by()).await.unwrap();
    assert_eq!(
        store.inbox_item(p.id, ids[0]).await.unwrap().unwrap().assignee_id,
        Some(agent.id),
        "a promotion keeps them"
    );
    let before = store.inbox_item(p.id, ids[0]).await.unwrap().unwrap();
    store.set_membership(p.id, agent.id, None, &by()).await.unwrap();
    let released = store.inbox_item(p.id, ids[0]).await.unwrap().unwrap();
    assert_eq!((released.assignee_id, released.status), (None, InboxStatus::ToHandle));
    let release = |why: Release, from: InboxStatus, person: &str| {
        let change = WorkflowChange::Released { person: person.into(), why, from, to: InboxStatus::ToHandle };
        ("released".to_string(), Some(change))
    };
    assert_eq!(
        last_change(store, p.id, ids[0]).await,
        release(Release::LeftProject, before.status, &agent.display_name)
    );
    let support_now = store.list_departments(p.id).await.unwrap().into_iter().find(|d| d.id == support.id).unwrap();
    assert_eq!(support_now.manager_id, None);
    // The audit log says so, in the same change.
    let audit = store.audit_log(Some(p.id), None, 1).await.unwrap();
    assert_eq!((audit[0].action.as_str(), audit[0].at), ("department.update", by().at));
    assert_eq!(
        audit[0].detail,
        format!(
            "department #{} {}: no manager since {} left the project; its overdue items go to the project's \
             managers until one is chosen (by token ops)",
            support.id, support.name, agent.username
        )
    );

    // A disabled account is released the same way (it can no longer act).
    let odile = store.add_user(new_user("odile"), t0()).await.unwrap();
    store.set_membership(p.id, odile.id, Some(Role::Agent), &by()).await.unwrap();
    store.update_department(&Department { manager_id: Some(odile.id), ..support_now.clone() }, &by()).await.unwrap();
    let taken = InboxItem { assignee_id: Some(odile.id), status: InboxStatus::Assigned, ..released.clone() };
    store.save_inbox_item(&taken, None).await.unwrap();
    store.update_user(&User { display_name: "Odile".into(), ..odile.clone() }, &by()).await.unwrap();
    assert_eq!(store.inbox_item(p.id, ids[0]).await.unwrap().unwrap(), taken, "an active account keeps them");
    store.update_user(&User { disabled: true, ..odile.clone() }, &by()).await.unwrap();
    let freed = store.inbox_item(p.id, ids[0]).await.unwrap().unwrap();
    assert_eq!((freed.assignee_id, freed.status), (None, InboxStatus::ToHandle));
    assert_eq!(
        last_change(store, p.id, ids[0]).await,
        release(Release::Disabled, InboxStatus::Assigned, &odile.display_name)
    );
    let support_now = store.list_departments(p.id).await.unwrap().into_iter().find(|d| d.id == support.id).unwrap();
    assert_eq!(support_now.manager_id, None);
}

async fn overdue_items_wait_for_escalation(store: &dyn Store) {
    let p = store.ensure_project("escalation", t0()).await.unwrap();
    let ids = mentions(store, p.id, "esc", 5).await;
    // Long before anything else of the suite is due.
    let base = t0() - Duration::days(300);
    let at = |minutes: i64| base + Duration::minutes(minutes);
    let due = |id: i64, status: InboxStatus, minutes: i64| InboxItem {
        due_at: Some(at(minutes)),
        ..item(p.id, id, status, base - Duration::hours(1))
    };
    store.save_inbox_item(&due(ids[0], InboxStatus::ToHandle, 30), None).await.unwrap();
    store.save_inbox_item(&due(ids[1], InboxStatus::Assigned, 10), None).await.unwrap();
    store.save_inbox_item(&due(ids[2], InboxStatus::Answered, 5), None).await.unwrap();
    let escalated = InboxItem { escalated_at: Some(at(2)), ..due(ids[3], InboxStatus::ToHandle, 1) };
    store.save_inbox_item(&escalated, None).await.unwrap();
    store.save_inbox_item(&due(ids[4], InboxStatus::ToHandle, 90), None).await.unwrap();

    let overdue = store.overdue_items(at(60), 10).await.unwrap();
    assert_eq!(overdue.iter().map(|i| i.mention_id).collect::<Vec<_>>(), vec![ids[1], ids[0]], "most overdue first");
    assert_eq!(overdue[1], due(ids[0], InboxStatus::ToHandle, 30));
    assert_eq!(store.overdue_items(at(60), 1).await.unwrap().len(), 1);
    assert!(store.overdue_items(at(10), 10).await.unwrap().is_empty(), "due at is not overdue yet");
    // Escalated once, whoever tries: the conditional update lets one through,
    // and its e-mails are queued with it, once.
    let (ann, ben) = (
        store.add_user(new_user("esc-ann"), t0()).await.unwrap().id,
        store.add_user(new_user("esc-ben"), t0()).await.unwrap().id,
    );
    let mails = vigie_store::NewEscalationMails {
        recipients: vec![ann, ben],
        to_project_managers: true,
        department: Some("Billing".into()),
        due_at: at(10),
    };
    let event = || NewWorkflowEvent { user_id: None, action: "escalated".into(), detail: "overdue".into() };
    let tries =
        futures::future::join_all((0..4).map(|_| store.escalate_item(p.id, ids[1], event(), &mails, at(61)))).await;
    assert_eq!(tries.into_iter().filter(|r| *r.as_ref().unwrap()).count(), 1);
    let history = store.workflow_events(p.id, ids[1]).await.unwrap();
    assert_eq!(history.iter().filter(|e| e.action == "escalated").count(), 1);
    assert_eq!(store.inbox_item(p.id, ids[1]).await.unwrap().unwrap().escalated_at, Some(at(61)));
    assert!(!store.escalate_item(p.id, ids[2], event(), &mails, at(61)).await.unwrap(), "answered: not pending");
    assert!(!store.escalate_item(p.id, ids[4], event(), &mails, at(61)).await.unwrap(), "not overdue yet");
    // Once escalated, it is not listed again.
    let left = store.overdue_items(at(60), 10).await.unwrap();
    assert_eq!(left.iter().map(|i| i.mention_id).collect::<Vec<_>>(), vec![ids[0]]);

    // The e-mails: claimed by one worker at a time, due ones only.
    let lease = std::time::Duration::from_secs(300);
    assert!(store.claim_escalation_mails(at(60), 10, "w1", lease).await.unwrap().is_empty(), "not due yet");
    let claimed = store.claim_escalation_mails(at(62), 10, "w1", lease).await.unwrap();
    let to: Vec<i64> = claimed.iter().map(|m| m.user_id).collect();
    assert_eq!(to, vec![ann, ben]);
    let first = &claimed[0];
    assert_eq!(
        (first.project_id, first.mention_id, first.to_project_managers, first.department.as_deref()),
        (p.id, ids[1], true, Some("Billing"))
    );
    assert_eq!((first.due_at, first.attempts, first.created_at), (at(10), 0, at(61)));
    assert!(store.claim_escalation_mails(at(62), 10, "w2", lease).await.unwrap().is_empty(), "w1's for now");
    // Ann's went out; Ben's server refused it: tried again later, by anyone.
    store.record_escalation_mail(claimed[0].id, "w1", vigie_store::MailOutcome::Sent, at(62)).await.unwrap();
    let retry = vigie_store::MailOutcome::Retry { error: "451 try later".into(), next_attempt_at: at(70) };
    store.record_escalation_mail(claimed[1].id, "w1", retry, at(62)).await.unwrap();
    assert!(store.claim_escalation_mails(at(69), 10, "w2", lease).await.unwrap().is_empty());
    let again = store.claim_escalation_mails(at(70), 10, "w2", lease).await.unwrap();
    assert_eq!((again.len(), again[0].user_id, again[0].attempts), (1, ben, 1));
    // A worker that stops gives its claim back (a dead one of this machine
    // is found by its name), so another takes the e-mail at once.
    assert_eq!(store.lease_holders("w2").await.unwrap(), vec!["w2".to_string()]);
    assert_eq!(store.release_leases("w2").await.unwrap(), 1);
    assert!(store.lease_holders("w2").await.unwrap().is_empty());
    let again = store.claim_escalation_mails(at(70), 10, "w2", lease).await.unwrap();
    assert_eq!(again.len(), 1, "free again");
    // A lease that ran out (the worker died) frees the e-mail for another.
    let taken_over = store.claim_escalation_mails(at(70) + Duration::minutes(6), 10, "w3", lease).await.unwrap();
    assert_eq!(taken_over.iter().map(|m| m.id).collect::<Vec<_>>(), vec![again[0].id]);
    // w2, whose claim ran out, records nothing over w3's.
    let late = vigie_store::MailOutcome::Retry { error: "late".into(), next_attempt_at: at(200) };
    store.record_escalation_mail(again[0].id, "w2", late, at(80)).await.unwrap();
    let failed = vigie_store::MailOutcome::Failed { error: "gave up".into() };
    store.record_escalation_mail(again[0].id, "w3", failed, at(80)).await.unwrap();
    assert!(store.claim_escalation_mails(at(60) + Duration::days(1), 10, "w4", lease).await.unwrap().is_empty());
    // Nor over a mail already recorded (sent).
    let resent = vigie_store::MailOutcome::Retry { error: "again".into(), next_attempt_at: at(90) };
    store.record_escalation_mail(claimed[0].id, "w1", resent, at(90)).await.unwrap();
    assert!(store.claim_escalation_mails(at(95), 10, "w5", lease).await.unwrap().is_empty(), "sent stays sent");
}

async fn response_stats_follow_the_period(store: &dyn Store) {
    let p = store.ensure_project("response", t0()).await.unwrap();
    let sales = store.add_department(p.id, department("Sales", 1800), t0()).await.unwrap();
    let ids = mentions(store, p.id, "resp", 10).await;
    let from = t0();
    let to = t0() + Duration::days(1);
    let now = t0() + Duration::hours(30);
    let entered = |hours: i64| t0() + Duration::hours(hours);
    let answered = |id: i64, hours: i64, secs: i64, target: Option<i64>, status: InboxStatus| InboxItem {
        first_response_at: Some(entered(hours) + Duration::seconds(secs)),
        due_at: target.map(|t| entered(hours) + Duration::seconds(t)),
        ..item(p.id, id, status, entered(hours))
    };
    // Answered after 60 s (no target), 120, 300, 600 and 3,600 s (target 1,800 s).
    let items = vec![
        answered(ids[0], 1, 60, None, InboxStatus::Answered),
        InboxItem { department_id: Some(sales.id), ..answered(ids[1], 2, 120, Some(1800), InboxStatus::Closed) },
        answered(ids[2], 3, 300, Some(1800), InboxStatus::Answered),
        InboxItem { department_id: Some(sales.id), ..answered(ids[3], 4, 600, Some(1800), InboxStatus::Answered) },
        // Answered late, reopened later and closed: its new due time does
        // not make the first answer on time.
        {
            let late = answered(ids[4], 5, 3600, Some(1800), InboxStatus::Closed);
            InboxItem { first_due_at: late.due_at, clock_at: Some(entered(20)), due_at: Some(entered(21)), ..late }
        },
        // Pending: one overdue now, one not yet due.
        InboxItem { due_at: Some(entered(6)), ..item(p.id, ids[5], InboxStatus::ToHandle, entered(5)) },
        InboxItem {
            department_id: Some(sales.id),
            due_at: Some(entered(40)),
            ..item(p.id, ids[6], InboxStatus::Assigned, entered(7))
        },
        // Left out: ignored, entered before the period, entered at its end.
        InboxItem { due_at: Some(entered(9)), ..item(p.id, ids[7], InboxStatus::Ignored, entered(8)) },
        answered(ids[8], -1, 5, None, InboxStatus::Answered),
        item(p.id, ids[9], InboxStatus::ToHandle, to),
    ];
    for i in &items {
        store.save_inbox_item(i, None).await.unwrap();
    }
    let stats = store.response_stats(p.id, ResponseScope::Project, from, to, now).await.unwrap();
    // Nearest rank over [60, 120, 300, 600, 3600]: median = 3rd, p90 = 5th.
    assert_eq!(
        stats,
        ResponseStats {
            entered: 7,
            answered: 5,
            // Without a target (the first), an answer is not within it.
            with_target: 4,
            within_target: 3,
            median_secs: Some(300),
            p90_secs: Some(3600),
            pending: 2,
            overdue: 1,
        }
    );
    // One department: [120, 600] and the assigned one, not yet due.
    let sales_stats = store.response_stats(p.id, ResponseScope::Department(sales.id), from, to, now).await.unwrap();
    assert_eq!(
        sales_stats,
        ResponseStats {
            entered: 3,
            answered: 2,
            with_target: 2,
            within_target: 2,
            median_secs: Some(120),
            p90_secs: Some(600),
            pending: 1,
            overdue: 0,
        }
    );
    // No department: [60, 300, 3600] and the overdue pending one; with the
    // department's, the project's.
    let none = store.response_stats(p.id, ResponseScope::NoDepartment, from, to, now).await.unwrap();
    assert_eq!(
        none,
        ResponseStats {
            entered: 4,
            answered: 3,
            with_target: 2,
            within_target: 1,
            median_secs: Some(300),
            p90_secs: Some(3600),
            pending: 1,
            overdue: 1,
        }
    );
    assert_eq!(none.entered + sales_stats.entered, stats.entered);
    // Later, the assigned one is overdue too.
    let later = store.response_stats(p.id, ResponseScope::Project, from, to, entered(41)).await.unwrap();
    assert_eq!((later.pending, later.overdue), (2, 2));
    let empty = store
        .response_stats(p.id, ResponseScope::Project, to + Duration::days(1), to + Duration::days(2), now)
        .await
        .unwrap();
    assert_eq!(empty, ResponseStats::default());
}

/// An analysis with a verdict of this polarity, these themes and this reach score.
fn judged(polarity: Option<Polarity>, themes: &[&str], reach: Option<f32>) -> Analysis {
    Analysis {
        sentiment: polarity.map(|p| verdict(p, 0.5, "fast-v1")),
        corrected: None,
        themes: themes.iter().map(|t| ThemeScore { theme: t.to_string(), score: 0.8, evidence: vec![] }).collect(),
        story_id: None,
        reach: reach.map(|score| ReachEstimate { audience: 10, engagement: 1, score, basis: "followers".into() }),
    }
}

fn overview_record(
    key: &str,
    published: DateTime<Utc>,
    kind: SourceKind,
    site: Option<&str>,
    author: Option<&str>,
    analysis: Analysis,
) -> MentionRecord {
    let mut r = record(key, &format!("texte {key}"), published, vec![]);
    r.mention.source_kind = kind;
    r.mention.site = site.map(str::to_string);
    r.mention.author = author.map(str::to_string);
    r.mention.analysis = analysis;
    r
}

async fn the_overview_counts_a_period(store: &dyn Store) {
    use Polarity::{Negative, Neutral, Positive};
    let p = store.ensure_project("overview", t0()).await.unwrap();
    let watch =
        |name: &str| NewWatch { name: name.into(), query: name.into(), competitor: name == "alpha", langs: vec![] };
    let zulu = store.add_watch(p.id, watch("zulu"), t0()).await.unwrap();
    let alpha = store.add_watch(p.id, watch("alpha"), t0()).await.unwrap();
    let gamma = store.add_watch(p.id, watch("gamma"), t0()).await.unwrap();
    let matches = |watches: &[i64]| -> Vec<WatchMatch> {
        watches.iter().map(|w| WatchMatch { watch_id: *w, terms: vec!["x".into()] }).collect()
    };
    let m = |minutes: i64| t0() + Duration::minutes(minutes);
    let tw = SourceKind::Twitter;
    let mut batch = vec![
        // In [00:30, 04:00):
        overview_record("A", m(40), tw, Some("a.com"), Some("ann"), judged(Some(Negative), &["delivery"], Some(10.0))),
        overview_record(
            "B",
            m(50),
            SourceKind::News,
            Some("a.com"),
            Some("ann"),
            judged(Some(Positive), &["delivery", "billing"], Some(50.0)),
        ),
        overview_record("C", m(130), tw, Some("b.com"), Some("bob"), judged(Some(Neutral), &[], None)),
        overview_record("D", m(140), tw, Some("c.com"), None, judged(None, &[], None)),
        // Outside: before `from` (but in the first bucket), and after `to`.
        overview_record("E", m(10), tw, Some("a.com"), Some("eve"), judged(Some(Negative), &["delivery"], Some(90.0))),
        overview_record(
            "F",
            m(300),
            SourceKind::Blog,
            Some("z.com"),
            Some("zed"),
            judged(Some(Positive), &["price"], None),
        ),
    ];
    let watched = [vec![zulu.id], vec![zulu.id, alpha.id], vec![alpha.id], vec![], vec![zulu.id], vec![gamma.id]];
    for (r, w) in batch.iter_mut().zip(watched) {
        r.matches = matches(&w);
    }
    let ids = store.insert_mentions(p.id, &batch).await.unwrap().inserted_ids;
    // B was judged positive; a person says negative, and that wins.
    store.correct_sentiment(p.id, ids[1], Some(Negative), t0()).await.unwrap();

    let overview = store.overview(p.id, m(30), m(240), &Buckets::uniform(m(30), m(240), 3600), 2).await.unwrap();
    assert_eq!(overview.total, 4);
    let bucket = |hours: i64, negative, neutral, positive, unknown| SentimentBucket {
        start: (t0() + Duration::hours(hours)).timestamp(),
        negative,
        neutral,
        positive,
        unknown,
    };
    // 00:00 (aligned down from 00:30) to 03:00; 01:00 and 03:00 are empty.
    assert_eq!(
        overview.buckets,
        vec![bucket(0, 2, 0, 0, 0), bucket(1, 0, 0, 0, 0), bucket(2, 0, 1, 0, 1), bucket(3, 0, 0, 0, 0)]
    );
    let count = |w: &vigie_model::Watch, mentions, negative, positive| WatchCount {
        watch_id: w.id,
        name: w.name.clone(),
        competitor: w.competitor,
        mentions,
        negative,
        positive,
    };
    // alpha and zulu tie at 2: by name; gamma's only mention is outside the period.
    assert_eq!(overview.per_watch, vec![count(&alpha, 2, 1, 0), count(&zulu, 2, 2, 0), count(&gamma, 0, 0, 0)]);
    let rows = |rows: &[CountRow]| rows.iter().map(|r| (r.key.clone(), r.count)).collect::<Vec<_>>();
    let row = |k: &str, n: i64| (k.to_string(), n);
    // b.com and c.com tie at 1: by key, and only the top 2.
    assert_eq!(rows(&overview.top_sites), vec![row("a.com", 2), row("b.com", 1)]);
    assert_eq!(
        overview.top_authors,
        vec![
            AuthorRow { author: "ann".into(), site: Some("a.com".into()), mentions: 2, reach_score: 50.0 },
            AuthorRow { author: "bob".into(), site: Some("b.com".into()), mentions: 1, reach_score: 0.0 },
        ]
    );
    assert_eq!(rows(&overview.per_theme), vec![row("delivery", 2), row("billing", 1)]);
    assert_eq!(rows(&overview.per_source_kind), vec![row("twitter", 3), row("news", 1)]);

    // `top` limits the lists, not the watches; an aligned period has no extra bucket.
    let short = store
        .overview(p.id, t0(), t0() + Duration::hours(1), &Buckets::uniform(t0(), t0() + Duration::hours(1), 1800), 1)
        .await
        .unwrap();
    assert_eq!(short.total, 3, "E, A, B");
    assert_eq!(
        short.buckets,
        vec![
            SentimentBucket { start: t0().timestamp(), negative: 1, ..SentimentBucket::default() },
            SentimentBucket {
                start: (t0() + Duration::minutes(30)).timestamp(),
                negative: 2,
                ..SentimentBucket::default()
            },
        ]
    );
    assert_eq!(rows(&short.top_sites), vec![row("a.com", 3)]);
    // Top authors by reach, not by count: eve's one mention reaches more than ann's two.
    assert_eq!(short.top_authors.iter().map(|a| (a.author.as_str(), a.mentions)).collect::<Vec<_>>(), [("eve", 1)]);
    assert_eq!(rows(&short.per_theme), vec![row("delivery", 3)]);
    assert_eq!(short.per_watch.len(), 3);
    let empty = store.overview(p.id, m(600), m(600), &Buckets::uniform(m(600), m(600), 3600), 5).await.unwrap();
    assert_eq!((empty.total, empty.buckets.len(), empty.top_sites.len()), (0, 0, 0));
}

/// Whole-hour periods add up the hourly cache; whatever changes, they must
/// give what counting the mentions gives. The mentions are days old by the
/// real clock (the cache only keeps hours older than three), plus a few in
/// the current hour, which is counted on every request.
async fn reports_count_reach_alerts_and_schedules(store: &dyn Store) {
    use Polarity::{Negative, Positive};
    use vigie_model::{Alert, AlertEvidence, AlertRule, AlertStatus, Language, Severity};
    use vigie_store::{Frequency, NewChannel, NewReportSchedule, ReportStats};
    let p = store.ensure_project("reports", t0()).await.unwrap();
    let m = |minutes: i64| t0() + Duration::minutes(minutes);
    let tw = SourceKind::Twitter;
    let batch = vec![
        overview_record("RA", m(10), tw, None, None, judged(Some(Negative), &[], Some(10.0))),
        overview_record("RB", m(20), tw, None, None, judged(Some(Positive), &[], Some(50.0))),
        overview_record("RC", m(30), tw, None, None, judged(Some(Negative), &[], Some(30.0))),
        overview_record("RD", m(40), tw, None, None, judged(None, &[], None)),
        // Before the period.
        overview_record("RE", m(-10), tw, None, None, judged(Some(Negative), &[], Some(90.0))),
    ];
    store.insert_mentions(p.id, &batch).await.unwrap();
    let alert = |key: &str, opened: i64, ack: Option<i64>, resolved: Option<i64>| Alert {
        id: 0,
        project_id: p.id,
        watch_id: None,
        rule: AlertRule::TriggerTerm,
        severity: Severity::Warning,
        status: if resolved.is_some() { AlertStatus::Resolved } else { AlertStatus::Open },
        dedup_key: key.into(),
        title: key.into(),
        evidence: AlertEvidence::default(),
        mention_ids: vec![],
        events: 1,
        opened_at: m(opened),
        updated_at: m(opened),
        acknowledged_at: ack.map(|s| m(opened) + Duration::seconds(s)),
        resolved_at: resolved.map(|s| m(opened) + Duration::seconds(s)),
        acknowledged_by: ack.map(|_| "alice".into()),
        resolved_by: resolved.map(|_| "bob".into()),
    };
    for a in [
        alert("a1", 0, Some(600), None),
        alert("a2", 10, None, Some(1_200)),
        alert("a3", 20, None, None),
        alert("a0", -30, Some(60), None),
    ] {
        store.save_alert(&a, false, t0()).await.unwrap();
    }
    let stats = store.report_stats(p.id, m(0), m(60)).await.unwrap();
    assert_eq!(
        stats,
        ReportStats {
            scored: 3,
            reach_total: 90.0,
            reach_median: Some(30.0),
            alerts_raised: 3,
            alerts_acknowledged: 2,
            ack_median_secs: Some(600),
        }
    );
    assert_eq!(store.report_stats(p.id, m(100), m(200)).await.unwrap(), ReportStats::default());
    let keys = |ms: Vec<vigie_store::StoredMention>| -> Vec<String> {
        ms.iter().map(|s| s.mention.source_item_id.clone().unwrap_or_default()).collect()
    };
    assert_eq!(keys(store.top_reach_mentions(p.id, m(0), m(60), None, 2).await.unwrap()), ["RB", "RC"]);
    assert_eq!(keys(store.top_reach_mentions(p.id, m(0), m(60), Some(Negative), 5).await.unwrap()), ["RC", "RA"]);
    let opened = store.alerts_opened(p.id, m(0), m(60), 10).await.unwrap();
    assert_eq!(opened.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(), ["a1", "a2", "a3"]);

    // Schedules go through an e-mail channel of the project.
    let channel = |kind: &str, target: &str| NewChannel {
        kind: kind.into(),
        target: target.into(),
        secret: None,
        min_severity: Severity::Info,
        lang: Language::Fr,
    };
    let hook = store.add_channel(p.id, channel("webhook", "https://hooks.example/r"), t0()).await.unwrap();
    let mail = store.add_channel(p.id, channel("email", "com@example.org"), t0()).await.unwrap();
    let new = |channel_id: i64| NewReportSchedule {
        frequency: Frequency::Weekly,
        channel_id,
        recipients: "boss@example.org".into(),
        lang: "en".into(),
    };
    assert!(matches!(store.add_report_schedule(p.id, new(hook.id), t0()).await, Err(StoreError::NotFound(_))));
    let other = other_project(store).await;
    assert!(matches!(store.add_report_schedule(other, new(mail.id), t0()).await, Err(StoreError::NotFound(_))));
    let s = store.add_report_schedule(p.id, new(mail.id), t0()).await.unwrap();
    assert_eq!(
        (s.frequency, s.recipients.as_str(), s.lang.as_str(), s.last_period_end),
        (Frequency::Weekly, "boss@example.org", "en", None)
    );
    assert_eq!(store.list_report_schedules(p.id).await.unwrap(), vec![s.clone()]);
    assert!(store.list_report_schedules(other).await.unwrap().is_empty());
    assert_eq!(store.report_schedules_after(0, 10).await.unwrap(), vec![s.clone()]);
    assert!(store.report_schedules_after(s.id, 10).await.unwrap().is_empty());

    // A period is claimed once; an older one never; a failed send with
    // retry gives the claim back.
    let (week1, week2) = (m(0), m(0) + Duration::days(7));
    let schedule = || async { store.list_report_schedules(p.id).await.unwrap().remove(0) };
    assert!(store.claim_report_period(s.id, week1, m(1)).await.unwrap());
    assert!(!store.claim_report_period(s.id, week1, m(2)).await.unwrap(), "claimed by another");
    // Claimed is not sent: nothing moved yet.
    assert_eq!(schedule().await.last_period_end, None);
    store.report_sent(s.id, week1, m(2)).await.unwrap();
    let sent = schedule().await;
    assert_eq!((sent.last_period_end, sent.last_sent_at), (Some(week1), Some(m(2))));
    assert!(!store.claim_report_period(s.id, week1, m(3)).await.unwrap(), "sent already");
    assert!(!store.claim_report_period(s.id, week1 - Duration::days(7), m(3)).await.unwrap());
    assert!(store.claim_report_period(s.id, week2, m(3)).await.unwrap());
    // A failed send was no send: the last one stays the last sent.
    store.report_send_failed(s.id, week2, "451 try later", true).await.unwrap();
    let back = schedule().await;
    assert_eq!((back.last_period_end, back.last_error.as_deref()), (Some(week1), Some("451 try later")));
    assert_eq!(back.last_sent_at, Some(m(2)));
    assert!(store.claim_report_period(s.id, week2, m(4)).await.unwrap(), "retried");
    store.report_send_failed(s.id, week2, "550 no such user", false).await.unwrap();
    let kept = schedule().await;
    assert_eq!((kept.last_period_end, kept.last_sent_at), (Some(week2), Some(m(2))));
    assert!(!store.claim_report_period(s.id, week2, m(5)).await.unwrap(), "refused for good");

    // A process that dies after its claim: the period waits for the claim
    // to expire, then goes to the next one; the dead one's late word is ignored.
    let week3 = week2 + Duration::days(7);
    assert!(store.claim_report_period(s.id, week3, m(10)).await.unwrap());
    let lease = Duration::seconds(vigie_store::REPORT_SEND_LEASE_SECS);
    assert!(!store.claim_report_period(s.id, week3, m(10) + lease - Duration::seconds(1)).await.unwrap());
    assert!(store.claim_report_period(s.id, week3, m(10) + lease).await.unwrap(), "the claim expired");
    store.report_sent(s.id, week3, m(40)).await.unwrap();
    assert_eq!(schedule().await.last_period_end, Some(week3));
    store.report_send_failed(s.id, week3, "late word of the dead", true).await.unwrap();
    let after = schedule().await;
    assert_eq!((after.last_period_end, after.last_error), (Some(week3), None));

    assert!(!store.remove_report_schedule(other, s.id).await.unwrap());
    assert!(store.remove_report_schedule(p.id, s.id).await.unwrap());
    assert!(store.list_report_schedules(p.id).await.unwrap().is_empty());
}

async fn the_overview_cache_follows_every_change(store: &dyn Store) {
    use Polarity::{Negative, Neutral, Positive};
    let p = store.ensure_project("overview-cache", t0()).await.unwrap();
    let watch = |name: &str| NewWatch { name: name.into(), query: name.into(), competitor: false, langs: vec![] };
    let w1 = store.add_watch(p.id, watch("one"), t0()).await.unwrap();
    let w2 = store.add_watch(p.id, watch("two"), t0()).await.unwrap();
    let now = Utc::now();
    let this_hour = Utc.timestamp_opt(now.timestamp().div_euclid(3600) * 3600, 0).unwrap();
    let day0 = this_hour - Duration::days(3);
    let polarities = [Some(Negative), Some(Neutral), Some(Positive), None];
    let themes: [&[&str]; 3] = [&["delivery"], &["delivery", "price"], &[]];
    let mut batch = Vec::new();
    let mut watched = Vec::new();
    for i in 0..120i64 {
        let at = day0 + Duration::minutes(i * 31);
        let site = format!("site{}.example", i % 5);
        let author = format!("author{}", i % 7);
        let i_ = usize::try_from(i).unwrap();
        let mut r = overview_record(
            &format!("c{i}"),
            at,
            if i % 4 == 0 { SourceKind::News } else { SourceKind::Twitter },
            (i % 11 != 0).then_some(site.as_str()),
            (i % 13 != 0).then_some(author.as_str()),
            judged(polarities[i_ % 4], themes[i_ % 3], (i % 3 == 0).then_some(i as f32)),
        );
        let ws: Vec<i64> = match i % 3 {
            0 => vec![w1.id],
            1 => vec![w1.id, w2.id],
            _ => vec![],
        };
        r.matches = ws.iter().map(|w| WatchMatch { watch_id: *w, terms: vec!["x".into()] }).collect();
        watched.push(ws);
        batch.push(r);
    }
    // Two in the current hour (hot: never cached).
    for k in 0..2 {
        let mut r = overview_record(
            &format!("hot{k}"),
            this_hour + Duration::seconds(k),
            SourceKind::Twitter,
            Some("site0.example"),
            Some("author0"),
            judged(Some(Negative), &["price"], None),
        );
        r.matches = vec![WatchMatch { watch_id: w2.id, terms: vec!["x".into()] }];
        batch.push(r);
    }
    let ids = store.insert_mentions(p.id, &batch).await.unwrap().inserted_ids;
    assert_eq!(ids.len(), 122);

    let uniform = |from, to, size| (from, to, Buckets::uniform(from, to, size));
    // Local days: Paris (whole hours, from the cache; 23 or 25 hours when
    // the clocks change) and Kolkata (half hours: counted directly).
    let local_days = |zone: &str| {
        let zone = vigie_model::zone::parse_zone(zone).unwrap();
        let from = vigie_model::zone::local_midnight(zone, day0.date_naive());
        let to = this_hour + Duration::hours(1);
        (from, to, Buckets::from_starts(vigie_model::zone::bucket_starts(zone, from, to, 86_400)))
    };
    let periods = [
        uniform(day0, day0 + Duration::days(1), 3600),
        uniform(day0 - Duration::days(1), this_hour + Duration::hours(1), 86_400),
        uniform(day0 + Duration::hours(30), day0 + Duration::hours(54), 6 * 3600),
        uniform(day0, this_hour + Duration::hours(1), 3 * 86_400),
        local_days("Europe/Paris"),
        local_days("Asia/Kolkata"),
    ];
    let periods = &periods;
    let check = |when: &'static str| async move {
        for (from, to, buckets) in periods {
            // Twice: the first call may fill the cache, the second reads it.
            for round in 0..2 {
                let cached = store.overview(p.id, *from, *to, buckets, 4).await.unwrap();
                let counted = store.overview_uncached(p.id, *from, *to, buckets, 4).await.unwrap();
                assert_eq!(cached, counted, "{when}, round {round}, {from}..{to} by {buckets:?}");
                assert_eq!(cached.buckets.len(), buckets.starts().len());
            }
        }
    };
    check("first").await;
    let total = || async {
        let to = this_hour + Duration::hours(1);
        store.overview(p.id, day0, to, &Buckets::uniform(day0, to, 86_400), 4).await.unwrap().total
    };
    assert_eq!(total().await, 122);
    // The trending terms read the newest texts of the period, by publication.
    let newest = store.newest_texts(p.id, day0, this_hour + Duration::hours(1), 3).await.unwrap();
    assert_eq!(newest, ["texte hot1", "texte hot0", "texte c119"]);
    assert_eq!(store.newest_texts(p.id, day0, day0 + Duration::hours(1), 9).await.unwrap(), ["texte c1", "texte c0"]);

    // A correction, a re-analysis, a refined verdict.
    store.correct_sentiment(p.id, ids[0], Some(Positive), t0()).await.unwrap();
    check("after a correction").await;
    store.set_analyses(p.id, &[(ids[5], judged(Some(Positive), &["staff"], Some(99.0)))]).await.unwrap();
    check("after a re-analysis").await;
    store.set_sentiments(p.id, &[(ids[6], Some(verdict(Negative, -0.9, "encoder-v1")))], 1).await.unwrap();
    check("after a refined verdict").await;
    // A watch's matches cleared, then given again to fewer mentions.
    store.clear_matches(w1.id).await.unwrap();
    check("after clearing a watch").await;
    let again: Vec<(i64, Vec<String>)> =
        ids.iter().zip(&watched).filter(|(_, w)| w.len() == 2).map(|(id, _)| (*id, vec!["x".into()])).collect();
    store.add_matches(w1.id, &again).await.unwrap();
    check("after matching again").await;
    // A late mention published days ago.
    let late = overview_record(
        "late",
        day0 + Duration::minutes(5),
        SourceKind::Blog,
        Some("late.example"),
        Some("latecomer"),
        judged(Some(Negative), &["legal"], Some(70.0)),
    );
    store.insert_mentions(p.id, &[late]).await.unwrap();
    check("after a late mention").await;
    assert_eq!(total().await, 123);
}

async fn mention_filters_by_lang_kind_site_theme_and_status(store: &dyn Store) {
    let p = store.ensure_project("filters", t0()).await.unwrap();
    let mut batch = vec![
        overview_record("f0", t0(), SourceKind::Twitter, Some("x.com"), None, judged(None, &["delivery"], None)),
        overview_record(
            "f1",
            t0(),
            SourceKind::News,
            Some("lemonde.fr"),
            None,
            judged(None, &["billing", "delivery"], None),
        ),
        overview_record("f2", t0(), SourceKind::Review, Some("fr.trustpilot.com"), None, judged(None, &[], None)),
        overview_record("f3", t0(), SourceKind::Twitter, Some("x.com"), None, judged(None, &["billing"], None)),
    ];
    batch[1].mention.lang = Some("en".into());
    batch[2].mention.lang = None;
    let ids = store.insert_mentions(p.id, &batch).await.unwrap().inserted_ids;
    let pid = p.id;
    let found = |filter: MentionFilter| async move {
        let after = store.mentions_after(pid, &filter, 0, 10).await.unwrap();
        let newest = store.candidates(pid, None, &filter, None, 10).await.unwrap();
        let mut ids: Vec<i64> = newest.iter().map(|m| m.mention.id).collect();
        ids.reverse();
        assert_eq!(ids, after.iter().map(|m| m.mention.id).collect::<Vec<_>>(), "both paths agree");
        ids
    };
    let lang = |l: &str| MentionFilter { lang: Some(l.into()), ..MentionFilter::default() };
    assert_eq!(found(lang("fr")).await, vec![ids[0], ids[3]]);
    assert_eq!(found(lang("en")).await, vec![ids[1]]);
    assert_eq!(found(lang("unknown")).await, vec![ids[2]]);
    assert_eq!(found(lang("de")).await, Vec::<i64>::new());
    let kind = |k: SourceKind| MentionFilter { source_kind: Some(k), ..MentionFilter::default() };
    assert_eq!(found(kind(SourceKind::Twitter)).await, vec![ids[0], ids[3]]);
    assert_eq!(found(kind(SourceKind::Review)).await, vec![ids[2]]);
    let site = |s: &str| MentionFilter { site: Some(s.into()), ..MentionFilter::default() };
    assert_eq!(found(site("x.com")).await, vec![ids[0], ids[3]]);
    assert_eq!(found(site("X.COM")).await, Vec::<i64>::new(), "exactly");
    // A site finds its subdomains, not names that merely end the same.
    assert_eq!(found(site("trustpilot.com")).await, vec![ids[2]]);
    assert_eq!(found(site("fr.trustpilot.com")).await, vec![ids[2]]);
    assert_eq!(found(site("pilot.com")).await, Vec::<i64>::new());
    // No sentiment at all (none of these was judged).
    let unknown = MentionFilter { sentiment_unknown: true, ..MentionFilter::default() };
    assert_eq!(found(unknown).await, ids.clone());
    let theme = |t: &str| MentionFilter { theme: Some(t.into()), ..MentionFilter::default() };
    assert_eq!(found(theme("delivery")).await, vec![ids[0], ids[1]]);
    assert_eq!(found(theme("billing")).await, vec![ids[1], ids[3]]);
    assert_eq!(found(theme("deliv")).await, Vec::<i64>::new());
    // Combined with the rest, and with full text.
    let both = MentionFilter { theme: Some("billing".into()), lang: Some("fr".into()), ..MentionFilter::default() };
    assert_eq!(found(both.clone()).await, vec![ids[3]]);
    let fts = store.candidates(p.id, Some("\"texte\""), &both, None, 10).await.unwrap();
    assert_eq!(fts.iter().map(|m| m.mention.id).collect::<Vec<_>>(), vec![ids[3]]);

    // Workflow status: new = no inbox row, or a row that says new.
    store.save_inbox_item(&item(p.id, ids[0], InboxStatus::ToHandle, t0()), None).await.unwrap();
    store.save_inbox_item(&item(p.id, ids[1], InboxStatus::New, t0()), None).await.unwrap();
    store.save_inbox_item(&item(p.id, ids[2], InboxStatus::Closed, t0()), None).await.unwrap();
    let status = |s: InboxStatus| MentionFilter { status: Some(s), ..MentionFilter::default() };
    assert_eq!(found(status(InboxStatus::New)).await, vec![ids[1], ids[3]]);
    assert_eq!(found(status(InboxStatus::ToHandle)).await, vec![ids[0]]);
    assert_eq!(found(status(InboxStatus::Closed)).await, vec![ids[2]]);
    assert_eq!(found(status(InboxStatus::Assigned)).await, Vec::<i64>::new());
}

async fn cleared_matches_leave_the_other_watches(store: &dyn Store) {
    let p = store.ensure_project("clear", t0()).await.unwrap();
    let w = store
        .add_watch(p.id, NewWatch { name: "w".into(), query: "w".into(), competitor: false, langs: vec![] }, t0())
        .await
        .unwrap();
    let v = store
        .add_watch(p.id, NewWatch { name: "v".into(), query: "v".into(), competitor: false, langs: vec![] }, t0())
        .await
        .unwrap();
    let on = |watch: i64, term: &str| WatchMatch { watch_id: watch, terms: vec![term.into()] };
    let batch = vec![
        record("cl0", "w seul", t0(), vec![on(w.id, "w")]),
        record("cl1", "w et v", t0(), vec![on(w.id, "w"), on(v.id, "v")]),
        record("cl2", "v seul", t0(), vec![on(v.id, "v")]),
    ];
    let ids = store.insert_mentions(p.id, &batch).await.unwrap().inserted_ids;
    assert_eq!(store.clear_matches(w.id).await.unwrap(), 2);
    assert_eq!(store.clear_matches(w.id).await.unwrap(), 0);
    let pid = p.id;
    let matches = |id: i64| async move { store.mention(pid, id).await.unwrap().unwrap().matches };
    assert_eq!(matches(ids[0]).await, vec![]);
    assert_eq!(matches(ids[1]).await, vec![on(v.id, "v")]);
    assert_eq!(matches(ids[2]).await, vec![on(v.id, "v")]);
    let of = |watch: i64| MentionFilter { watch_id: Some(watch), ..MentionFilter::default() };
    assert!(store.mentions_after(p.id, &of(w.id), 0, 10).await.unwrap().is_empty());
    assert_eq!(store.mentions_after(p.id, &of(v.id), 0, 10).await.unwrap().len(), 2);
    // The watch stays, and can be matched again.
    assert_eq!(store.add_matches(w.id, &[(ids[2], vec!["w2".into()])]).await.unwrap(), 1);
    assert_eq!(matches(ids[2]).await, vec![on(w.id, "w2"), on(v.id, "v")]);
    let summary = store.summary(p.id).await.unwrap();
    let per_watch: Vec<(String, i64)> = summary.per_watch.iter().map(|r| (r.key.clone(), r.count)).collect();
    assert_eq!(per_watch, vec![("v".to_string(), 2), ("w".to_string(), 1)]);
}

/// A watch whose query changed counts its new matches in its time series,
/// not the old ones, and its detectors learn again.
async fn rematched_watches_recount_their_series(store: &dyn Store) {
    use vigie_store::{BUCKET_SECS, SERIES_ALL, SERIES_NEGATIVE, bucket_start};
    let p = store.ensure_project("recount", t0()).await.unwrap();
    let w = store
        .add_watch(p.id, NewWatch { name: "w".into(), query: "old".into(), competitor: false, langs: vec![] }, t0())
        .await
        .unwrap();
    let v = store
        .add_watch(p.id, NewWatch { name: "v".into(), query: "v".into(), competitor: false, langs: vec![] }, t0())
        .await
        .unwrap();
    let on = |watch: i64| WatchMatch { watch_id: watch, terms: vec!["t".into()] };
    let at = |minutes: i64| t0() + chrono::Duration::minutes(minutes);
    let mut batch = vec![
        record("rc0", "old", at(0), vec![on(w.id), on(v.id)]),
        record("rc1", "old", at(1), vec![on(w.id)]),
        record("rc2", "new", at(6), vec![]),
        record("rc3", "new", at(12), vec![on(v.id)]),
        record("rc4", "new", at(13), vec![]),
    ];
    batch[2].mention.analysis = judged(Some(Polarity::Negative), &[], None);
    batch[4].mention.analysis = judged(Some(Polarity::Positive), &[], None);
    let ids = store.insert_mentions(p.id, &batch).await.unwrap().inserted_ids;
    assert!(store.correct_sentiment(p.id, ids[4], Some(Polarity::Negative), t0()).await.unwrap());
    let b0 = bucket_start(t0());
    let series = |watch: i64, name: &'static str| async move {
        store.watch_buckets(watch, name, b0 - BUCKET_SECS, b0 + 10 * BUCKET_SECS).await.unwrap()
    };
    assert_eq!(series(w.id, SERIES_ALL).await, vec![(b0, 2)]);
    assert!(store.save_detector_state(w.id, SERIES_ALL, b0, &json!({"learned": "old"})).await.unwrap());
    assert!(store.save_detector_state(v.id, SERIES_ALL, b0, &json!({"learned": "v"})).await.unwrap());

    // The query changes: the old matches go with their counts and the detector's state…
    store.clear_matches(w.id).await.unwrap();
    assert_eq!(series(w.id, SERIES_ALL).await, vec![]);
    assert_eq!(store.detector_state(w.id, SERIES_ALL).await.unwrap(), None);
    // … and the new ones are counted, by publication bucket, the negative ones
    // (a correction wins over the verdict) in their own series.
    let new = vec![(ids[2], vec!["new".to_string()]), (ids[3], vec!["new".into()]), (ids[4], vec!["new".into()])];
    assert_eq!(store.add_matches(w.id, &new).await.unwrap(), 3);
    assert_eq!(series(w.id, SERIES_ALL).await, vec![(b0 + BUCKET_SECS, 1), (b0 + 2 * BUCKET_SECS, 2)]);
    assert_eq!(series(w.id, SERIES_NEGATIVE).await, vec![(b0 + BUCKET_SECS, 1), (b0 + 2 * BUCKET_SECS, 1)]);
    // Matches it had already are not counted twice, nor make its detectors start over.
    assert!(store.save_detector_state(w.id, SERIES_ALL, b0, &json!({"learned": "new"})).await.unwrap());
    assert_eq!(store.add_matches(w.id, &new[..1]).await.unwrap(), 0);
    assert_eq!(series(w.id, SERIES_ALL).await, vec![(b0 + BUCKET_SECS, 1), (b0 + 2 * BUCKET_SECS, 2)]);
    assert_eq!(store.detector_state(w.id, SERIES_ALL).await.unwrap(), Some((b0, json!({"learned": "new"}))));
    // A state saved half-way through a re-match is dropped by its next part.
    assert_eq!(store.add_matches(w.id, &[(ids[0], vec!["new".to_string()])]).await.unwrap(), 1);
    assert_eq!(store.detector_state(w.id, SERIES_ALL).await.unwrap(), None);
    assert_eq!(series(w.id, SERIES_ALL).await, vec![(b0, 1), (b0 + BUCKET_SECS, 1), (b0 + 2 * BUCKET_SECS, 2)]);
    // The other watch keeps its series and state.
    assert_eq!(series(v.id, SERIES_ALL).await, vec![(b0, 1), (b0 + 2 * BUCKET_SECS, 1)]);
    assert_eq!(store.detector_state(v.id, SERIES_ALL).await.unwrap(), Some((b0, json!({"learned": "v"}))));
}

// ---------------------------------------------------------------------------
// Full-text search: the pre-filter is a superset, the matcher decides.

/// A document of the full-text check: how the matcher sees it.
struct FtsDoc {
    title: Option<String>,
    text: String,
    author: Option<String>,
    site: Option<String>,
    url: Option<String>,
    lang: Option<String>,
    source: Option<String>,
}

impl FtsDoc {
    fn plain(text: String) -> FtsDoc {
        FtsDoc { title: None, text, author: None, site: None, url: None, lang: None, source: None }
    }

    fn view(&self) -> vigie_query::Document<'_> {
        vigie_query::Document {
            title: self.title.as_deref(),
            text: &self.text,
            author: self.author.as_deref(),
            site: self.site.as_deref(),
            url: self.url.as_deref(),
            lang: self.lang.as_deref(),
            source: self.source.as_deref(),
        }
    }
}

/// The queries and documents of vigie-query's conformance table.
fn conformance_table() -> (Vec<String>, Vec<FtsDoc>) {
    let path = format!("{}/../vigie-query/testdata/conformance.tsv", env!("CARGO_MANIFEST_DIR"));
    let table = std::fs::read_to_string(&path).expect("read the conformance table");
    let (mut queries, mut docs) = (Vec::new(), Vec::new());
    for line in table.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let mut doc = FtsDoc::plain(cols[2].to_string());
        doc.title = (!cols[1].is_empty()).then(|| cols[1].to_string());
        for (key, value) in cols[3].split(';').filter_map(|kv| kv.split_once('=')) {
            let value = Some(value.to_string());
            match key {
                "author" => doc.author = value,
                "site" => doc.site = value,
                "url" => doc.url = value,
                "lang" => doc.lang = value,
                "source" => doc.source = value,
                other => panic!("unknown meta {other:?} in {line:?}"),
            }
        }
        queries.push(cols[0].to_string());
        docs.push(doc);
    }
    assert!(queries.len() >= 150, "only {} rows", queries.len());
    (queries, docs)
}

/// Stores the documents in a new project: their ids, in order.
async fn store_fts_docs(store: &dyn Store, project: &str, docs: &[FtsDoc]) -> (i64, Vec<i64>) {
    let p = store.ensure_project(project, t0()).await.unwrap();
    let batch: Vec<MentionRecord> = docs
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            let mut r = record(&format!("{project}-{i}"), &doc.text, t0(), vec![]);
            r.mention.title = doc.title.clone();
            r.fts_title = vigie_query::index_text(doc.title.as_deref().unwrap_or(""));
            r.fts_text = vigie_query::index_text(&doc.text);
            r
        })
        .collect();
    let ids = store.insert_mentions(p.id, &batch).await.unwrap().inserted_ids;
    assert_eq!(ids.len(), docs.len());
    (p.id, ids)
}

/// Each query over the project's documents: the candidates confirmed by the
/// matcher must be exactly what the matcher finds reading every document.
/// Returns the disagreements.
async fn check_fts(store: &dyn Store, project_id: i64, ids: &[i64], docs: &[FtsDoc], queries: &[&str]) -> Vec<String> {
    let doc_of: std::collections::HashMap<i64, &FtsDoc> = ids.iter().copied().zip(docs.iter()).collect();
    let mut failures = Vec::new();
    for source in queries {
        let query = vigie_query::parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        let expected: Vec<i64> =
            ids.iter().rev().copied().filter(|id| query.matches(&doc_of[id].view()).is_some()).collect();
        let prefilter = query.fts5_prefilter();
        let all = MentionFilter::default();
        let candidates = match store.candidates(project_id, prefilter.as_deref(), &all, None, 10_000).await {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{source:?} ({prefilter:?}): {e}"));
                continue;
            }
        };
        assert!(candidates.windows(2).all(|w| w[0].mention.id > w[1].mention.id), "newest stored first");
        let confirmed: Vec<i64> =
            candidates.iter().map(|c| c.mention.id).filter(|id| query.matches(&doc_of[id].view()).is_some()).collect();
        if confirmed != expected {
            failures.push(format!("{source:?} ({prefilter:?}): matcher {expected:?}, confirmed {confirmed:?}"));
        }
    }
    failures
}

/// The full-text pre-filter never loses a match: every query of
/// vigie-query's conformance table over every document of it, then
/// documents an index cannot keep every position of (a word repeated past
/// what a position list holds, positions past 16,383) or cannot hold at all.
async fn full_text_candidates_agree_with_the_matcher(store: &dyn Store) {
    let (queries, docs) = conformance_table();
    let (pid, ids) = store_fts_docs(store, "full-text", &docs).await;
    let queries: Vec<&str> = queries.iter().map(String::as_str).collect();
    let mut failures = check_fts(store, pid, &ids, &docs, &queries).await;

    let counted: Vec<String> = (1..=17_000).map(|i| format!("w{i}")).collect();
    let long = [
        FtsDoc::plain(format!("{}la ville lumière brille", "de ".repeat(300))),
        FtsDoc::plain(format!("{} fin du texte", counted.join(" "))),
        FtsDoc::plain(format!("{}une aiguille dans la botte", "foin ".repeat(60_000))),
        FtsDoc { title: Some("Grève à la SNCF".into()), ..FtsDoc::plain("rien à signaler".into()) },
        FtsDoc::plain("la ville de lumière".into()),
    ];
    let (long_pid, long_ids) = store_fts_docs(store, "full-text-long", &long).await;
    let long_queries = [
        "\"ville lumière\"",
        "de NEAR/2 lumière",
        "\"fin du texte\"",
        "w16999 NEAR/1 w17000",
        "w17000 \"fin du\"",
        "\"aiguille dans la botte\"",
        "aiguil*",
        "title:(grève sncf) -text:grève",
        "text:\"signaler\"",
        "\"la sncf rien\"",
        "lumière OR botte",
    ];
    failures.extend(check_fts(store, long_pid, &long_ids, &long, &long_queries).await);
    assert!(failures.is_empty(), "{} queries disagree:\n{}", failures.len(), failures.join("\n"));
    // The long documents are found where they match.
    for (query, index) in [("\"ville lumière\"", 0), ("\"fin du texte\"", 1), ("\"aiguille dans la botte\"", 2)] {
        let prefilter = vigie_query::parse(query).unwrap().fts5_prefilter();
        let found = store.candidates(long_pid, prefilter.as_deref(), &MentionFilter::default(), None, 100).await;
        assert!(found.unwrap().iter().any(|c| c.mention.id == long_ids[index]), "{query}");
    }
    // A malformed expression is refused plainly, not a panic.
    let err = store.candidates(pid, Some("\"a\" AND"), &MentionFilter::default(), None, 10).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
}

/// Writers storing overlapping batches at once (several collectors, or a
/// rerun beside a run) store each mention once and count it once in the
/// watch's series.
async fn concurrent_batches_store_each_mention_once(store: &dyn Store) {
    use vigie_store::{BUCKET_SECS, SERIES_ALL, bucket_start};
    let p = store.ensure_project("concurrent", t0()).await.unwrap();
    let w = store
        .add_watch(p.id, NewWatch { name: "c".into(), query: "c".into(), competitor: false, langs: vec![] }, t0())
        .await
        .unwrap();
    let m = vec![WatchMatch { watch_id: w.id, terms: vec!["c".into()] }];
    let all: Vec<MentionRecord> = (0..400)
        .map(|i| record(&format!("cc{i}"), "c", t0() + Duration::seconds(BUCKET_SECS * (i % 7)), m.clone()))
        .collect();
    // Six writers: halves, the whole in both orders, and strided slices.
    let mut batches: Vec<Vec<MentionRecord>> = vec![all[..250].to_vec(), all[150..].to_vec(), all.clone()];
    batches.push(all.iter().rev().cloned().collect());
    batches.push(all.iter().step_by(2).cloned().collect());
    batches.push(all.iter().skip(1).step_by(3).cloned().collect());
    let reports = futures::future::join_all(batches.iter().map(|b| store.insert_mentions(p.id, b))).await;
    let inserted: u64 = reports.into_iter().map(|r| r.unwrap().inserted).sum();
    assert_eq!(inserted, 400);
    assert_eq!(store.mention_count(p.id).await.unwrap(), 400);
    let b0 = bucket_start(t0());
    let series = store.watch_buckets(w.id, SERIES_ALL, b0, b0 + 7 * BUCKET_SECS).await.unwrap();
    assert_eq!(series.iter().map(|(_, n)| n).sum::<i64>(), 400);
    assert_eq!(series.len(), 7);
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

#[tokio::test]
async fn postgres_passes_the_store_suite() {
    with_postgres(|url, schema| async move {
        let store = PgStore::connect_in_schema(&url, &schema).await.unwrap();
        run_suite(&store).await;
        store.close().await;
        // Reconnecting runs the migrations again as a no-op and keeps the data.
        let again = PgStore::connect_in_schema(&url, &schema).await.unwrap();
        let p = again.project("mentions").await.unwrap().unwrap();
        assert_eq!(again.mention_count(p.id).await.unwrap(), 3);
        again.close().await;
    })
    .await;
}

/// A person acknowledges an alert while a worker folds a surge into it: the
/// acknowledgement is kept (it waits for the fold's write, instead of being
/// overwritten by it). On SQLite every write is serialized already.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_acknowledgement_during_a_fold_is_kept() {
    with_postgres(|url, schema| async move {
        let store = std::sync::Arc::new(PgStore::connect_in_schema(&url, &schema).await.unwrap());
        let p = store.ensure_project("ack race", t0()).await.unwrap();
        let alert = Alert {
            id: 0,
            project_id: p.id,
            watch_id: None,
            rule: AlertRule::VolumeSurge,
            severity: Severity::Warning,
            status: AlertStatus::Open,
            dedup_key: "volume_surge:ack".into(),
            title: "11 mentions".into(),
            evidence: AlertEvidence { observed: 11.0, ..AlertEvidence::default() },
            mention_ids: vec![],
            events: 1,
            opened_at: t0(),
            updated_at: t0(),
            acknowledged_at: None,
            resolved_at: None,
            acknowledged_by: None,
            resolved_by: None,
        };
        let saved = store.save_alert(&alert, false, t0()).await.unwrap();
        let (other, runtime, pid) = (store.clone(), tokio::runtime::Handle::current(), p.id);
        let acked = std::sync::Arc::new(std::sync::Mutex::new(None));
        let acked_in_fold = acked.clone();
        let fold: vigie_store::AlertFold = Box::new(move |open: Option<Alert>| {
            let open = open.expect("the open alert");
            // The acknowledgement, from another connection, while this fold holds the alert.
            let ack = std::thread::spawn(move || {
                runtime.block_on(other.set_alert_status(pid, open.id, AlertStatus::Acknowledged, "alice", t0()))
            });
            *acked_in_fold.lock().unwrap() = Some(ack);
            // Long enough for the other connection to be made and its update sent.
            std::thread::sleep(std::time::Duration::from_secs(2));
            let grown = Alert { evidence: AlertEvidence { observed: 120.0, ..open.evidence.clone() }, ..open };
            Some((grown, false))
        });
        store.merge_alert(p.id, &alert.dedup_key, t0() - Duration::hours(1), t0(), fold).await.unwrap();
        let ack = acked.lock().unwrap().take().unwrap();
        assert!(tokio::task::spawn_blocking(move || ack.join().unwrap()).await.unwrap().unwrap());
        let after = store.alert(p.id, saved.id).await.unwrap().unwrap();
        assert_eq!(after.evidence.observed, 120.0, "the fold's growth");
        assert_eq!((after.status, after.acknowledged_by.as_deref()), (AlertStatus::Acknowledged, Some("alice")));
        store.close().await;
    })
    .await;
}

/// Channels made before channels had a language were sent English: the
/// migration makes them `en`. A row written without a language is `fr`.
async fn check_channel_lang_migration(store: &dyn Store) -> i64 {
    let p = store.ensure_project("old channels", t0()).await.unwrap();
    let old = vigie_store::NewChannel {
        kind: "webhook".into(),
        target: "https://hooks.example/old".into(),
        secret: None,
        min_severity: Severity::Info,
        lang: Language::Fr,
    };
    store.add_channel(p.id, old, t0()).await.unwrap();
    p.id
}

#[tokio::test]
async fn sqlite_channels_made_before_languages_are_english() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vigie.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let pid = check_channel_lang_migration(&store).await;
    // Back to the schema before 0009: no column, migration not applied.
    sqlx::query("ALTER TABLE notification_channels DROP COLUMN lang").execute(store.pool()).await.unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 9").execute(store.pool()).await.unwrap();
    store.close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    let channels = store.list_channels(pid).await.unwrap();
    assert_eq!(channels.iter().map(|c| c.lang).collect::<Vec<_>>(), [Language::En]);
    sqlx::query(
        "INSERT INTO notification_channels (project_id, kind, target, min_severity, created_at) \
         VALUES (?1, 'email', 'new@example.org', 'info', 0)",
    )
    .bind(pid)
    .execute(store.pool())
    .await
    .unwrap();
    let langs: Vec<Language> = store.list_channels(pid).await.unwrap().into_iter().map(|c| c.lang).collect();
    assert_eq!(langs, [Language::En, Language::Fr]);
    let bad = sqlx::query("UPDATE notification_channels SET lang = 'de'").execute(store.pool()).await;
    assert!(bad.is_err(), "only fr and en are stored");
    store.close().await;
}

#[tokio::test]
async fn postgres_channels_made_before_languages_are_english() {
    with_postgres(|url, schema| async move {
        let store = PgStore::connect_in_schema(&url, &schema).await.unwrap();
        let pid = check_channel_lang_migration(&store).await;
        sqlx::query("ALTER TABLE notification_channels DROP COLUMN lang").execute(store.pool()).await.unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 5").execute(store.pool()).await.unwrap();
        store.close().await;
        let store = PgStore::connect_in_schema(&url, &schema).await.unwrap();
        let channels = store.list_channels(pid).await.unwrap();
        assert_eq!(channels.iter().map(|c| c.lang).collect::<Vec<_>>(), [Language::En]);
        sqlx::query(
            "INSERT INTO notification_channels (project_id, kind, target, min_severity, created_at) \
             VALUES ($1, 'email', 'new@example.org', 'info', 0)",
        )
        .bind(pid)
        .execute(store.pool())
        .await
        .unwrap();
        let langs: Vec<Language> = store.list_channels(pid).await.unwrap().into_iter().map(|c| c.lang).collect();
        assert_eq!(langs, [Language::En, Language::Fr]);
        let bad = sqlx::query("UPDATE notification_channels SET lang = 'de'").execute(store.pool()).await;
        assert!(bad.is_err(), "only fr and en are stored");
        store.close().await;
    })
    .await;
}

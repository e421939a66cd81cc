#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Mentions stored by a process that died before their routing and alert
//! rules ran, over a real SQLite store: a later cycle runs them, and a
//! process that dies while doing so leaves them for the next one.

use std::sync::Arc;

use chrono::{Duration, Utc};
use vigie_model::{AlertRule, RawMention};
use vigie_pipeline::Ingestor;
use vigie_pipeline::collect_run::{CollectContext, PENDING_RULES_GRACE_SECS, run_pending_rules};
use vigie_pipeline::models::ProjectModels;
use vigie_pipeline::stories::Stories;
use vigie_store::{MentionRecord, NewWatch, SqliteStore, Store};

#[tokio::test]
async fn rules_a_dead_process_claimed_are_run_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("vigie.db")).await.unwrap());
    let now = Utc::now();
    let project = store.ensure_project("acme", now - Duration::days(2)).await.unwrap().id;
    let watch = NewWatch { name: "Acme".into(), query: "acme".into(), competitor: false, langs: vec![] };
    store.add_watch(project, watch, now - Duration::days(2)).await.unwrap();
    let stories = Stories::load(store.as_ref(), project).await.unwrap();
    let ingest = Arc::new(Ingestor::new(store.clone(), project, &ProjectModels::shipped(), stories).await.unwrap());
    // An ordinary mention, stored and judged as usual: a template.
    let raw = RawMention {
        url: Some("https://forum.example/t/1".into()),
        text: "Commande Acme bien reçue".into(),
        published_at: Some(now),
        ..RawMention::default()
    };
    let stored = ingest.ingest(vec![raw], None, now).await.unwrap();
    let template = store.mention(project, stored.inserted_ids[0]).await.unwrap().unwrap();
    // A call to boycott, stored by a process that died before its rules ran.
    let mut mention = template.mention.clone();
    mention.url = Some("https://forum.example/t/2".into());
    mention.dedup_key = "url:https://forum.example/t/2".into();
    mention.text = "Appel au boycott d'Acme, partagez".into();
    let record = MentionRecord {
        mention,
        source_id: None,
        matches: template.matches.clone(),
        fts_title: String::new(),
        fts_text: "appel au boycott d'acme, partagez".into(),
    };
    let ids = store.insert_mentions(project, &[record]).await.unwrap().inserted_ids;
    assert_eq!(ids.len(), 1);
    let boycotts = || {
        let store = store.clone();
        async move {
            let alerts = store.alerts(project, None, 100).await.unwrap();
            alerts.into_iter().filter(|a| a.rule == AlertRule::TriggerTerm).count()
        }
    };
    assert_eq!(boycotts().await, 0);

    // Another process claims them after the grace, then dies.
    let grace = Duration::seconds(PENDING_RULES_GRACE_SECS + 1);
    let claimed = store.take_rules_pending(now + grace, 100, now + grace).await.unwrap();
    assert_eq!(claimed, vec![(project, ids[0])]);
    let ctx = CollectContext { models: ProjectModels::shipped(), ..CollectContext::default() };
    // While its claim holds, nobody else runs them…
    assert_eq!(run_pending_rules(&store, &ctx, now + grace + Duration::seconds(60)).await.unwrap(), 0);
    // …and once it is as old as the grace, the next cycle does.
    let later = now + grace * 3;
    assert_eq!(run_pending_rules(&store, &ctx, later).await.unwrap(), 1);
    assert_eq!(boycotts().await, 1, "the alert the dead process never raised");
    // Done: off the list.
    assert_eq!(run_pending_rules(&store, &ctx, later + grace * 3).await.unwrap(), 0);
    assert_eq!(boycotts().await, 1);

    // A process ran a second call's rules (its alert grew) and died before
    // recording it: the next cycle runs them again, and the alert does not
    // count that mention twice.
    let mut second = template.mention.clone();
    second.url = Some("https://forum.example/t/3".into());
    second.dedup_key = "url:https://forum.example/t/3".into();
    second.text = "Boycott Acme, encore et toujours".into();
    let record = MentionRecord {
        mention: second,
        source_id: None,
        matches: template.matches.clone(),
        fts_title: String::new(),
        fts_text: "boycott acme, encore et toujours".into(),
    };
    let ids = store.insert_mentions(project, &[record]).await.unwrap().inserted_ids;
    ingest.run_rules_on_stored(&ids, Utc::now()).await.unwrap();
    let counted = || {
        let store = store.clone();
        async move {
            let alerts = store.alerts(project, None, 100).await.unwrap();
            let a = alerts.into_iter().find(|a| a.rule == AlertRule::TriggerTerm).unwrap();
            (a.events, a.evidence.observed)
        }
    };
    assert_eq!(counted().await, (2, 2.0));
    let much_later = later + grace * 6;
    assert_eq!(run_pending_rules(&store, &ctx, much_later).await.unwrap(), 1, "its rules ran again");
    assert_eq!(counted().await, (2, 2.0), "and the alert counted it once");
}

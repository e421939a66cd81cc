#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Surge alerts over a real SQLite store, with the clock passed in: a
//! crisis that comes back after a calm reopens the alert a person resolved,
//! and one account posting again and again raises nothing, wherever its
//! burst falls on the clock, while a crowd in five minutes does.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use vigie_model::{Alert, AlertRule, AlertStatus, RawMention};
use vigie_pipeline::Ingestor;
use vigie_pipeline::models::ProjectModels;
use vigie_pipeline::stories::Stories;
use vigie_store::{NewWatch, SqliteStore, Store};

/// A Wednesday, 09:00:00 UTC: the start of a 5-minute bucket.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 18, 9, 0, 0).unwrap()
}

fn mention(n: usize, author: &str, text: String, at: DateTime<Utc>) -> RawMention {
    RawMention {
        url: Some(format!("https://x.com/{author}/status/{n}")),
        author: Some(author.to_string()),
        text,
        published_at: Some(at),
        ..RawMention::default()
    }
}

/// Ordinary chatter: two mentions an hour from the regulars.
fn chatter(from: DateTime<Utc>, to: DateTime<Utc>, first: usize) -> Vec<RawMention> {
    let mut out = Vec::new();
    let mut at = from;
    let mut n = first;
    while at < to {
        let text = format!("Acme : commande numéro {n} bien reçue, rien à signaler de spécial");
        out.push(mention(n, &format!("habitue{}", n % 40), text, at));
        n += 1;
        at += Duration::minutes(30);
    }
    out
}

/// `per_minute` people each minute from `start` for `minutes`, each in their own words.
fn wave(start: DateTime<Utc>, minutes: i64, per_minute: usize, first: usize) -> Vec<RawMention> {
    let words = ["appli", "site", "paiement", "commande", "connexion", "compte", "carte", "livraison"];
    let mut out = Vec::new();
    for m in 0..minutes {
        for k in 0..per_minute {
            let n = first + m as usize * per_minute + k;
            let text = format!(
                "{n} : chez Acme {} en panne pour moi aussi, {} bloqué depuis {m} minutes",
                words[n % 8],
                words[(n / 8) % 8]
            );
            out.push(mention(
                n,
                &format!("client{n}"),
                text,
                start + Duration::minutes(m) + Duration::seconds(k as i64),
            ));
        }
    }
    out
}

struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    project: i64,
    ingest: Arc<Ingestor>,
}

async fn setup() -> Setup {
    let s = empty().await;
    // Two weeks of chatter, learned (older than a day: it raises nothing).
    s.ingest.ingest(chatter(t0() - Duration::days(14), t0(), 0), None, t0()).await.unwrap();
    s
}

/// A watch with no mention yet.
async fn empty() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("vigie.db")).await.unwrap());
    let project = store.ensure_project("acme", t0()).await.unwrap().id;
    let watch = NewWatch { name: "Acme".into(), query: "acme".into(), competitor: false, langs: vec![] };
    store.add_watch(project, watch, t0() - Duration::days(15)).await.unwrap();
    let stories = Stories::load(store.as_ref(), project).await.unwrap();
    let ingest = Arc::new(Ingestor::new(store.clone(), project, &ProjectModels::shipped(), stories).await.unwrap());
    Setup { _dir: dir, store, project, ingest }
}

impl Setup {
    /// Stores the mentions a minute at a time, as a collector would, and
    /// runs their alert rules with the clock at the end of each minute (the
    /// ingest's own run uses the machine's clock, for which these mentions
    /// are too old to alert).
    async fn live(&self, mut mentions: Vec<RawMention>) {
        mentions.sort_by_key(|m| m.published_at);
        let mut batches: Vec<Vec<RawMention>> = Vec::new();
        for m in mentions {
            let minute = |m: &RawMention| m.published_at.unwrap().timestamp() / 60;
            match batches.last_mut() {
                Some(batch) if minute(&batch[0]) == minute(&m) => batch.push(m),
                _ => batches.push(vec![m]),
            }
        }
        for batch in batches {
            let now = batch.last().unwrap().published_at.unwrap() + Duration::seconds(30);
            let stored = self.ingest.ingest(batch, None, now).await.unwrap();
            self.ingest.run_rules_on_stored(&stored.inserted_ids, now).await.unwrap();
        }
    }

    /// Wave 1 from t0: twenty minutes, three people a minute; its alert
    /// grows with it, then a person resolves it.
    async fn first_wave_resolved(&self) {
        let mut first = wave(t0(), 20, 3, 1000);
        first.extend(chatter(t0(), t0() + Duration::minutes(20), 5000));
        self.live(first).await;
        let opened = self.surges().await;
        assert_eq!(opened.len(), 1, "{opened:#?}");
        assert!(opened[0].evidence.observed >= 30.0, "it grew with the wave: {:?}", opened[0].evidence);
        self.store.set_alert_status(self.project, opened[0].id, AlertStatus::Resolved, "test", t0()).await.unwrap();
    }

    async fn surges(&self) -> Vec<Alert> {
        let mut alerts: Vec<Alert> = self
            .store
            .alerts(self.project, None, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.rule == AlertRule::VolumeSurge)
            .collect();
        alerts.sort_by_key(|a| a.id);
        alerts
    }
}

#[tokio::test]
async fn a_wave_after_a_calm_reopens_the_alert_a_person_resolved() {
    let s = setup().await;
    s.first_wave_resolved().await;

    // Ninety minutes of ordinary chatter: the wave is over, nothing reopens.
    s.live(chatter(t0() + Duration::minutes(20), t0() + Duration::minutes(110), 6000)).await;
    assert_eq!(s.surges().await.len(), 1);

    // Wave 2, within the detector's cooldown: a new alert, open.
    let mut second = wave(t0() + Duration::minutes(110), 20, 3, 2000);
    second.extend(chatter(t0() + Duration::minutes(110), t0() + Duration::minutes(130), 7000));
    s.live(second).await;
    let surges = s.surges().await;
    assert_eq!(surges.len(), 2, "{surges:#?}");
    assert_eq!((surges[0].status, surges[1].status), (AlertStatus::Resolved, AlertStatus::Open));
    assert!(surges[1].opened_at >= t0() + Duration::minutes(110), "{surges:#?}");
    // It counts the second wave, not the first one still in the 4-hour window.
    let e = &surges[1].evidence;
    assert!(e.window_start.unwrap() >= t0() + Duration::minutes(50), "{e:?}");
    assert!(e.observed >= 50.0 && e.observed <= 70.0, "{e:?}");
}

#[tokio::test]
async fn one_account_raises_nothing_wherever_its_burst_falls_and_a_crowd_does() {
    let s = setup().await;
    // A bot posting forty different texts in four minutes across a bucket
    // boundary (09:05).
    let bot: Vec<RawMention> = (0..40)
        .map(|k| {
            let text = format!("Acme code promo {k} : gagnez un iPhone {k} en cliquant vite sur ce lien numéro {k}");
            mention(k, "promo_bot", text, t0() + Duration::seconds(150 + k as i64 * 6))
        })
        .collect();
    s.live(bot).await;
    s.live(chatter(t0() + Duration::minutes(10), t0() + Duration::minutes(40), 8000)).await;
    assert!(s.surges().await.is_empty(), "{:#?}", s.surges().await);

    // Later the same morning, a dozen people in five minutes: a surge, even
    // with the bot's posts still in the detector's windows.
    let crowd = wave(t0() + Duration::minutes(61), 4, 3, 3000);
    s.live(crowd).await;
    let surges = s.surges().await;
    assert_eq!(surges.len(), 1, "{surges:#?}");
    assert!(surges[0].evidence.observed >= 12.0, "{:?}", surges[0].evidence);
    // When its window holds the bot's posts, they are said to come from few authors.
    let e = &surges[0].evidence;
    let authors = e.window_authors.unwrap() as f64;
    assert!(authors >= 10.0 && authors <= e.observed, "{e:?}");
}

#[tokio::test]
async fn a_few_accounts_posting_again_and_again_are_no_surge() {
    let s = setup().await;
    // Six accounts, eight posts each, across the 09:05 boundary.
    let posts: Vec<RawMention> = (0..48)
        .map(|k| {
            let text = format!("Acme, message {k} : je répète que votre service est nul, épisode {k}");
            mention(k, &format!("compte{}", k % 6), text, t0() + Duration::seconds(150 + k as i64 * 5))
        })
        .collect();
    s.live(posts).await;
    s.live(chatter(t0() + Duration::minutes(10), t0() + Duration::minutes(40), 8000)).await;
    assert!(s.surges().await.is_empty(), "{:#?}", s.surges().await);
}

#[tokio::test]
async fn a_new_watchs_ordinary_chatter_is_no_surge() {
    // No history: the detector learns from the first mention on, and the
    // days before the watch had any are not taken as quiet ones.
    let s = empty().await;
    let mut chatter: Vec<RawMention> = Vec::new();
    for k in 0..18 {
        let at = t0() + Duration::minutes(20 * k);
        let text = format!("Acme : commande numéro {k} bien reçue, merci");
        chatter.push(mention(k as usize, &format!("habitue{k}"), text, at));
    }
    s.live(chatter).await;
    assert!(s.surges().await.is_empty(), "{:#?}", s.surges().await);
}

#[tokio::test]
async fn a_second_wave_inside_five_minutes_after_a_calm_is_raised() {
    let s = setup().await;
    s.first_wave_resolved().await;
    s.live(chatter(t0() + Duration::minutes(20), t0() + Duration::minutes(120), 6000)).await;
    // A dozen people within four minutes, then quiet again: the windows
    // leave that bucket out, the burst rule does not.
    s.live(wave(t0() + Duration::minutes(120), 4, 3, 2000)).await;
    let surges = s.surges().await;
    assert_eq!(surges.len(), 2, "{surges:#?}");
    assert_eq!(surges[1].status, AlertStatus::Open);
    assert!(surges[1].title.contains("12 in 5 min"), "{}", surges[1].title);
}

#[tokio::test]
async fn an_alert_grows_within_the_bucket_it_opened_in() {
    let s = setup().await;
    // Twelve people in the first minute open it; fifty more in the same
    // five minutes, arriving a minute at a time, grow it.
    s.live(wave(t0(), 1, 12, 1000)).await;
    let opened = s.surges().await;
    assert_eq!(opened.len(), 1, "{opened:#?}");
    assert_eq!(opened[0].evidence.observed, 12.0);
    s.live(wave(t0() + Duration::minutes(1), 4, 10, 2000)).await;
    let grown = s.surges().await;
    assert_eq!(grown.len(), 1, "{grown:#?}");
    assert!(grown[0].evidence.observed >= 42.0, "{:?}", grown[0].evidence);
    assert_eq!(grown[0].events, 1);
}

#[tokio::test]
async fn a_burst_hours_after_a_resolved_burst_counts_only_itself() {
    let s = setup().await;
    s.live(wave(t0(), 4, 3, 1000)).await;
    let first = s.surges().await;
    assert_eq!(first.len(), 1, "{first:#?}");
    s.store.set_alert_status(s.project, first[0].id, AlertStatus::Resolved, "test", t0()).await.unwrap();
    s.live(chatter(t0() + Duration::minutes(5), t0() + Duration::minutes(100), 6000)).await;
    s.live(wave(t0() + Duration::minutes(100), 4, 3, 2000)).await;
    let surges = s.surges().await;
    assert_eq!(surges.len(), 2, "{surges:#?}");
    let e = &surges[1].evidence;
    assert!(e.observed <= 14.0 && e.window_start.unwrap() > t0() + Duration::minutes(5), "{e:?}");
    assert!(e.score.unwrap() >= 0.5, "the score of what raised it: {e:?}");
}

#[tokio::test]
async fn a_crowd_stored_within_a_second_of_a_quiet_batch_is_judged_when_the_stream_pauses() {
    let s = setup().await;
    let at = t0() + Duration::minutes(2);
    // One source of a cycle brings an ordinary mention; another, 200 ms
    // later, thirty people: the series was judged less than a second ago,
    // so its check waits.
    let now = at + Duration::seconds(40);
    let quiet = chatter(at, at + Duration::minutes(1), 9000);
    let stored = s.ingest.ingest(quiet, None, now).await.unwrap();
    s.ingest.run_rules_on_stored(&stored.inserted_ids, now).await.unwrap();
    let crowd = wave(at, 1, 30, 4000);
    let later = now + Duration::milliseconds(200);
    let stored = s.ingest.ingest(crowd, None, later).await.unwrap();
    s.ingest.run_rules_on_stored(&stored.inserted_ids, later).await.unwrap();
    assert!(s.surges().await.is_empty(), "checked once a second: {:#?}", s.surges().await);

    // The cycle ends: the skipped check is made, not left for the next mention.
    s.ingest.check_deferred_surges(now + Duration::seconds(1)).await.unwrap();
    let surges = s.surges().await;
    assert_eq!(surges.len(), 1, "{surges:#?}");
    assert!(surges[0].evidence.observed >= 30.0, "{:?}", surges[0].evidence);
    let opened = surges[0].evidence.observed;
    // Nothing is left to judge: ten more people stored without a check
    // (their rules not run yet) are not judged by a second call…
    let more = wave(at + Duration::minutes(1), 1, 10, 4100);
    let stored = s.ingest.ingest(more, None, now).await.unwrap();
    s.ingest.check_deferred_surges(now + Duration::seconds(2)).await.unwrap();
    assert_eq!(s.surges().await[0].evidence.observed, opened, "the deferred checks were made once");
    // … but by their own check, which grows the alert.
    s.ingest.run_rules_on_stored(&stored.inserted_ids, now + Duration::seconds(3)).await.unwrap();
    let grown = s.surges().await;
    assert_eq!(grown.len(), 1);
    assert!(grown[0].evidence.observed >= opened + 10.0, "{:?}", grown[0].evidence);
}

#[tokio::test]
async fn a_first_wave_of_complaints_is_a_negative_surge() {
    // Two weeks of mentions and not one complaint: the negative series has
    // learned those days as days without complaints, not as unknown.
    let s = setup().await;
    let words = ["nul", "honteux", "scandaleux", "inadmissible", "lamentable", "catastrophique"];
    let complaints: Vec<RawMention> = (0..60)
        .map(|k| {
            let text = format!(
                "Acme est {} et {}, colis perdu, je suis furieux contre ce service {k}",
                words[k % 6],
                words[(k / 6) % 6]
            );
            mention(5000 + k, &format!("client{k}"), text, t0() + Duration::seconds(20 * k as i64))
        })
        .collect();
    s.live(complaints).await;
    let alerts = s.store.alerts(s.project, None, 100).await.unwrap();
    let negative: Vec<&Alert> = alerts.iter().filter(|a| a.rule == AlertRule::NegativeSurge).collect();
    assert_eq!(negative.len(), 1, "{alerts:#?}");
    assert!(negative[0].evidence.observed >= 30.0, "{:?}", negative[0].evidence);
}

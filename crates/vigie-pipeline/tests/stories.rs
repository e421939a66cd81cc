#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Story indexes of several processes over one real SQLite store: copies
//! that two processes store at the same time, each before it could see the
//! other's, end up one story once either sees both.

use std::sync::Arc;

use chrono::Utc;
use vigie_model::RawMention;
use vigie_pipeline::Ingestor;
use vigie_pipeline::analyze::signature_of;
use vigie_pipeline::models::ProjectModels;
use vigie_pipeline::stories::Stories;
use vigie_store::{SqliteStore, Store};

fn wire_copy(site: &str) -> RawMention {
    let body = "Une plainte collective a été déposée mardi contre le fabricant d'électroménager Acme par \
                plus de deux cents clients qui accusent l'entreprise d'avoir vendu des bouilloires \
                défectueuses. Selon leur avocat, plusieurs appareils ont pris feu pendant leur utilisation \
                et la société n'a jamais répondu aux réclamations envoyées depuis le printemps dernier.";
    RawMention {
        url: Some(format!("https://{site}.example.fr/acme")),
        title: Some(format!("Acme visé par une plainte ({site})")),
        text: format!("{body} Lire aussi sur {site}."),
        published_at: Some(Utc::now()),
        ..RawMention::default()
    }
}

fn unrelated(n: usize) -> RawMention {
    RawMention {
        url: Some(format!("https://blog.example.fr/{n}")),
        text: format!(
            "Acme ouvre un nouveau magasin à Lille, le numéro {n} de la région, avec un atelier de réparation."
        ),
        published_at: Some(Utc::now()),
        ..RawMention::default()
    }
}

async fn story_of(store: &dyn Store, project: i64, id: i64) -> i64 {
    let m = store.mention(project, id).await.unwrap().unwrap();
    m.mention.analysis.story_id.unwrap_or(id)
}

#[tokio::test]
async fn copies_stored_at_the_same_time_by_two_processes_become_one_story() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("vigie.db")).await.unwrap());
    let project = store.ensure_project("acme", Utc::now()).await.unwrap().id;
    let models = ProjectModels::shipped();
    // Process A and process B, each with its own index, both warmed.
    let a = Stories::load(store.as_ref(), project).await.unwrap();
    let b = Stories::load(store.as_ref(), project).await.unwrap();
    let ingest_a = Arc::new(Ingestor::new(store.clone(), project, &models, a.clone()).await.unwrap());

    // B caught up, then A stored the original, then B stored a copy before
    // it could see it: B's copy starts a story of its own.
    b.catch_up(store.as_ref(), project).await.unwrap();
    let original = ingest_a.ingest(vec![wire_copy("presse-a")], None, Utc::now()).await.unwrap().inserted_ids[0];
    let copy = {
        // B's batch as its ingest stores it, minus the catch-up that would
        // have seen A's original.
        let mention = vigie_nlp::normalize::normalize(wire_copy("presse-b"), Utc::now(), &Default::default())
            .expect("a good mention");
        let mut record = vigie_store::MentionRecord {
            mention,
            source_id: None,
            matches: vec![],
            fts_title: String::new(),
            fts_text: String::new(),
        };
        let id = store.insert_mentions(project, std::slice::from_ref(&record)).await.unwrap().inserted_ids[0];
        record.mention.id = id;
        let signature = signature_of(&record.mention).unwrap();
        let found = b.assign(&[id], &[(id, &signature)]);
        assert_eq!(found, Default::default(), "B did not know the original");
        id
    };
    assert_ne!(story_of(store.as_ref(), project, copy).await, original, "two stories for now");

    // A's next batch catches up with B's copy, finds it is its original's
    // story, and joins them in the store.
    ingest_a.ingest(vec![unrelated(1)], None, Utc::now()).await.unwrap();
    assert_eq!(story_of(store.as_ref(), project, copy).await, original);
    assert_eq!(story_of(store.as_ref(), project, original).await, original);

    // B, catching up in turn, agrees (nothing moves back), and a third copy
    // stored by B joins the one story.
    let ingest_b = Arc::new(Ingestor::new(store.clone(), project, &models, b.clone()).await.unwrap());
    let third = ingest_b.ingest(vec![wire_copy("presse-c")], None, Utc::now()).await.unwrap().inserted_ids[0];
    assert_eq!(story_of(store.as_ref(), project, third).await, original);
    assert_eq!(story_of(store.as_ref(), project, copy).await, original);
}

#[tokio::test]
async fn after_a_large_import_elsewhere_the_newest_mentions_are_read_first() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("vigie.db")).await.unwrap());
    let project = store.ensure_project("acme", Utc::now()).await.unwrap().id;
    let models = ProjectModels::shipped();
    // The server's index is warm; another process then imports more than
    // a page of catch-up, the original of what comes next last.
    let server = Stories::load(store.as_ref(), project).await.unwrap();
    let importer = Arc::new(Ingestor::new(store.clone(), project, &models, Stories::empty()).await.unwrap());
    let mut batch: Vec<RawMention> = (0..2_500).map(unrelated).collect();
    batch.push(wire_copy("presse-a"));
    let report = importer.ingest(batch, None, Utc::now()).await.unwrap();
    let original = *report.inserted_ids.last().unwrap();
    // The copy pushed to the server joins it at once.
    let ingest = Arc::new(Ingestor::new(store.clone(), project, &models, server).await.unwrap());
    let copy = ingest.ingest(vec![wire_copy("presse-b")], None, Utc::now()).await.unwrap().inserted_ids[0];
    assert_eq!(story_of(store.as_ref(), project, copy).await, original);
}

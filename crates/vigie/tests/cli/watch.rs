//! `vigie watch add|list|test|remove`.

use serde_json::{Value, json};

use crate::support::Vigie;

#[test]
fn watch_lifecycle_add_list_test_remove() {
    let vigie = Vigie::new();
    let added = vigie
        .run(&["watch", "add", "SNCF", "--query", r#"sncf OR ouigo OR "tgv inoui""#, "--competitor", "--lang", "fr,en"])
        .success();
    assert_eq!(added.stdout, "watch \"SNCF\" added; it matches 0 stored mention(s)\n");
    // The project it made has the default themes and workflow from the
    // start: its settings show them before its first mention.
    let (departments, rules): (i64, i64) = vigie.with_db(async |pool| {
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM departments), (SELECT COUNT(*) FROM routing_rules)")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!((departments, rules), (9, 10));

    let list = vigie.run(&["watch", "list", "--format", "json"]).success().json();
    assert_eq!(
        list,
        json!([{"name": "SNCF", "query": r#"sncf OR ouigo OR "tgv inoui""#, "competitor": true, "langs": ["fr", "en"]}])
    );

    // The same name with another definition is a usage error, and changes nothing.
    let again = vigie.run(&["watch", "add", "SNCF", "--query", "sncf"]).code(2);
    assert_eq!(
        again.stderr,
        "error: a watch named \"SNCF\" already exists in this project with a different definition \
         (remove it first, or choose another name)\n"
    );
    // The same definition again re-runs its backfill (after an interrupted add).
    let rerun = vigie
        .run(&["watch", "add", "SNCF", "--query", r#"sncf OR ouigo OR "tgv inoui""#, "--competitor", "--lang", "fr,en"])
        .success();
    assert_eq!(
        rerun.stdout,
        "watch \"SNCF\" already exists with this definition; matched again: 0 stored mention(s)\n"
    );

    // A broken query is refused with its column and a caret under it.
    let broken = vigie.run(&["watch", "add", "Broken", "--query", "(sncf OR ouigo"]).code(2);
    assert_eq!(broken.stdout, "");
    assert_eq!(
        broken.stderr_lines(),
        ["error: invalid query: expected ')' at column 15", "  (sncf OR ouigo", &format!("  {}^", " ".repeat(14))]
    );
    let names: Vec<String> = vigie
        .run(&["watch", "list", "--format", "json"])
        .success()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["SNCF"], "neither the duplicate nor the broken watch was stored");

    // `watch test`: exactly one JSON line, with the terms as written in the query.
    let hit = vigie
        .run(&[
            "watch",
            "test",
            "SNCF",
            "--text",
            "Encore un retard sur mon TGV inOui, merci la <b>SNCF</b>",
            "--format",
            "json",
        ])
        .success();
    assert_eq!(
        hit.json(),
        json!({"matched": true, "terms": ["sncf", "\"tgv inoui\""], "lang": "fr", "other_language": false})
    );
    let miss = vigie
        .run(&["watch", "test", "SNCF", "--text", "Le TGV Lyria vers Genève était à l'heure", "--format", "json"])
        .success();
    assert_eq!(miss.stdout.lines().count(), 1);
    assert_eq!(miss.json()["matched"], json!(false));
    assert_eq!(miss.json()["terms"], json!([]));

    let removed = vigie.run(&["watch", "remove", "SNCF"]).success();
    assert_eq!(removed.stdout, "watch \"SNCF\" removed (its mentions stay stored)\n");
    assert_eq!(vigie.run(&["watch", "list", "--format", "json"]).success().json(), json!([]));
    let gone = vigie.run(&["watch", "remove", "SNCF"]).code(2);
    assert_eq!(gone.stderr, "error: no watch named \"SNCF\" in project \"default\"\n");
}

#[test]
fn watch_add_rejects_bad_names_and_languages() {
    let vigie = Vigie::new();
    let lang = vigie.run(&["watch", "add", "SNCF", "--query", "sncf", "--lang", "fr,french!"]).code(2);
    assert!(lang.stderr.contains("invalid language code \"french!\""), "{}", lang.stderr);
    // Well-formed but no language: it would filter out every mention.
    let xx = vigie.run(&["watch", "add", "SNCF", "--query", "sncf", "--lang", "xx"]).code(2);
    assert!(xx.stderr.contains("invalid language code \"xx\""), "{}", xx.stderr);
    let name = vigie.run(&["watch", "add", "  ", "--query", "sncf"]).code(2);
    assert!(name.stderr.contains("a watch name is 1 to 100 printable characters"), "{}", name.stderr);
    // A query that would match everything is refused too.
    let everything = vigie.run(&["watch", "add", "All", "--query", "NOT sncf"]).code(2);
    assert!(everything.stderr.starts_with("error: invalid query: "), "{}", everything.stderr);
    assert_eq!(vigie.run(&["watch", "list", "--format", "json"]).success().json(), json!([]));
    // One name whatever its case.
    vigie.run(&["watch", "add", "SNCF", "--query", "sncf"]).success();
    let twin = vigie.run(&["watch", "add", "sncf", "--query", "sncf OR ter"]).code(2);
    assert!(twin.stderr.contains("a watch named \"SNCF\" already exists"), "{}", twin.stderr);
    // …and found whatever its case.
    let test = vigie.run(&["watch", "test", "sncf", "--text", "Grève SNCF", "--format", "json"]).success();
    assert_eq!(test.json()["matched"], json!(true));
    vigie.run(&["export", "--watch", "Sncf"]).success();
    // Languages in another order, or repeated, are the same restriction.
    vigie.run(&["watch", "add", "Ouigo", "--query", "ouigo", "--lang", "fr,en"]).success();
    let again = vigie.run(&["watch", "add", "Ouigo", "--query", "ouigo", "--lang", "en,FR,fr"]).success();
    assert!(again.stdout.contains("already exists with this definition"), "{}", again.stdout);
    let list = vigie.run(&["watch", "list", "--format", "json"]).success().json();
    assert_eq!(list[0]["langs"], json!(["fr", "en"]), "{list}");
    let removed = vigie.run(&["watch", "remove", "sncf"]).success();
    assert_eq!(removed.stdout, "watch \"SNCF\" removed (its mentions stay stored)\n");
}

#[test]
fn a_mistyped_project_on_a_reading_command_is_an_error_not_a_new_project() {
    let vigie = Vigie::new();
    vigie.run(&["--project", "acme", "watch", "add", "SNCF", "--query", "sncf"]).success();
    let typo = vigie.run(&["--project", "acmee", "watch", "list"]).code(2);
    assert_eq!(typo.stderr, "error: no project named \"acmee\" (projects: acme); commands that add data create it\n");
    let typo = vigie.run(&["--project", "acmee", "search", "sncf"]).code(2);
    assert!(typo.stderr.contains("no project named \"acmee\""), "{}", typo.stderr);
    // Still only the one project, and it answers.
    let again = vigie.run(&["--project", "nope", "export"]).code(2);
    assert!(again.stderr.contains("(projects: acme)"), "{}", again.stderr);
    vigie.run(&["--project", "acme", "watch", "list"]).success();
}

#[test]
fn without_project_the_only_one_is_meant_and_installation_commands_make_none() {
    let vigie = Vigie::new();
    // A reading command where there is no installation makes none.
    let nowhere = vigie.run(&["alert", "list"]).code(2);
    assert!(nowhere.stderr.contains("there is no Vigie installation in"), "{}", nowhere.stderr);
    assert!(!nowhere.stderr.contains("new installation"), "{}", nowhere.stderr);
    assert!(!vigie.db_path().exists(), "no stray database");
    // Listing accounts on a new installation creates no project (a database
    // prepared this way is still empty for `vigie migrate`).
    vigie.run(&["user", "list"]).success();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let projects = || {
        rt.block_on(async {
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(vigie.db_path());
            let pool = sqlx::sqlite::SqlitePool::connect_with(options).await.unwrap();
            let names: Vec<(String,)> =
                sqlx::query_as("SELECT name FROM projects ORDER BY id").fetch_all(&pool).await.unwrap();
            pool.close().await;
            names.into_iter().map(|(n,)| n).collect::<Vec<_>>()
        })
    };
    assert!(projects().is_empty(), "{:?}", projects());
    // Nor does a reading command: an empty `default` would shadow the project
    // made next (after `theme list`, `vigie demo` searched an empty project).
    for command in [&["theme", "list"][..], &["search", "sncf"], &["alert", "list"], &["token", "list"]] {
        let none = vigie.run(command).code(2);
        assert!(none.stderr.contains("no project yet: `vigie demo`, `vigie import`"), "{command:?}: {}", none.stderr);
    }
    vigie.run(&["models", "status"]).success();
    assert!(projects().is_empty(), "{:?}", projects());

    // One project: commands without --project work on it.
    vigie.run(&["--project", "acme", "watch", "add", "SNCF", "--query", "sncf"]).success();
    let list = vigie.run(&["watch", "list", "--format", "json"]).success().json();
    assert_eq!(list[0]["name"], "SNCF", "{list}");
    vigie.run(&["user", "add", "marie", "--role", "agent"]).success();
    vigie.run(&["token", "create", "zapier"]).success();
    assert_eq!(projects(), ["acme"]);

    // Two: which one must be said.
    vigie.run(&["--project", "beta", "watch", "add", "Beta", "--query", "beta"]).success();
    let which = vigie.run(&["watch", "list"]).code(2);
    assert!(which.stderr.contains("several projects (acme, beta): say which with --project"), "{}", which.stderr);
    let role = vigie.run(&["user", "role", "marie", "viewer"]).code(2);
    assert!(role.stderr.contains("say which with --project (projects: acme, beta)"), "{}", role.stderr);
    vigie.run(&["user", "list"]).success();
    assert_eq!(projects(), ["acme", "beta"]);
}

#[test]
fn a_language_restriction_keeps_texts_of_unsure_language_and_watch_test_says_so() {
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme", "--lang", "fr,en"]).success();
    let short =
        vigie.run(&["watch", "test", "Acme", "--text", "Arnaque totale chez Acme", "--format", "json"]).success();
    assert_eq!(short.json()["matched"], json!(true), "{}", short.stdout);
    let german = "Ich habe meine Bestellung bei Acme immer noch nicht bekommen und der Kundendienst antwortet nicht";
    let other = vigie.run(&["watch", "test", "Acme", "--text", german, "--format", "json"]).success();
    assert_eq!(other.json(), json!({"matched": false, "terms": ["acme"], "lang": "de", "other_language": true}));
    let table = vigie.run(&["watch", "test", "Acme", "--text", german]).success();
    assert_eq!(
        table.stdout,
        "does not match watch \"Acme\": the query matches (acme) but the text reads as de and the watch takes only fr, en\n"
    );

    // Ingestion agrees: the short complaint is the watch's, the German text is not.
    let lines = format!(
        "{}\n{}\n",
        json!({"url": "https://ex.fr/1", "text": "Arnaque totale chez Acme", "source": "twitter", "published_at": "2026-11-20T10:00:00Z"}),
        json!({"url": "https://ex.de/2", "text": german, "source": "twitter", "published_at": "2026-11-20T10:05:00Z"})
    );
    vigie.run_stdin(&["import", "-"], lines.as_bytes()).success();
    let found = vigie.run(&["search", "acme", "--format", "json"]).success().json();
    let watches: Vec<(String, Value)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["url"].as_str().unwrap().to_string(), m["watches"].clone()))
        .collect();
    assert!(watches.contains(&("https://ex.fr/1".into(), json!(["Acme"]))), "{watches:?}");
    assert!(watches.contains(&("https://ex.de/2".into(), json!([]))), "{watches:?}");
}

#[test]
fn a_query_may_start_with_a_minus_and_french_operators_are_noticed() {
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Lemoine", "--query", "-emploi lemoine"]).success();
    let list = vigie.run(&["watch", "list", "--format", "json"]).success().json();
    assert_eq!(list[0]["query"], "-emploi lemoine", "{list}");
    let ou = vigie.run(&["watch", "add", "Deux", "--query", "lemoine ou durand"]).success();
    assert!(ou.stderr.contains("`ou` is searched as a word; write `OR` for the operator"), "{}", ou.stderr);
    // `--once` beside `--source` is what `--source` does anyway.
    let once = vigie.run(&["collect", "--once", "--source", "999"]).code(2);
    assert!(!once.stderr.contains("cannot be used with"), "{}", once.stderr);
}

//! `vigie import`: JSON Lines and CSV files and standard input, with the bad
//! records reported by line and the good ones stored, normalized.

use serde_json::json;

use crate::support::{Vigie, column, column_set, testdata};

const AF_URL: &str = "https://www.presse-eco.example/transport/air-france-montreal?id=42";

#[test]
fn jsonl_import_stores_good_lines_normalized_and_reports_bad_ones_by_line() {
    let vigie = Vigie::new();
    let file = testdata("mentions.jsonl");
    let run = vigie.run(&["import", file.as_str()]).code(1);
    assert_eq!(run.stdout, "imported 9 new mention(s) from 13 record(s): 1 already stored, 3 rejected\n");
    let err = run.stderr_lines();
    assert_eq!(err.len(), 4, "{}", run.stderr);
    assert!(err[0].starts_with("line 3: invalid JSON: EOF while parsing"), "{}", err[0]);
    assert_eq!(err[1], "line 5: missing field `text`");
    assert_eq!(
        err[2],
        "line 7: field `published_at`: cannot read \"hier soir\" as a date (use RFC 3339, e.g. 2026-11-23T08:00:00Z)"
    );
    assert_eq!(err[3], "error: 3 record(s) were rejected (see the lines above); the others were imported");

    let stored = vigie.export();
    assert_eq!(stored.len(), 9);
    // Stored in file order, the duplicate (line 8) and the bad lines skipped.
    assert_eq!(
        column(&stored, "url"),
        [
            "https://twitter.com/voyageur_lyon/status/1764021180000000001",
            AF_URL,
            "https://forum.banque-conseils.example/t/frais-bnp-paribas/8812",
            "https://twitter.com/jetlagged_tom/status/1764021180000000006",
            "https://www.avis-clients.example/sncf/1002",
            "https://blog.fintech-watch.example/2026/03/societe-generale-panne-appli",
            "https://twitter.com/marseille_nord/status/1764021180000000011",
            "https://www.trustpilot.example/review/credit-agricole.fr/5f2a",
            "https://www.facebook.com/groups/voyageurs.nantes/posts/4411",
        ]
    );
    // Every date in UTC, whatever the format it came in: offset, naive (UTC),
    // Unix seconds, RFC 2822.
    assert_eq!(
        column(&stored, "published_at"),
        [
            "2026-03-02T07:15:00Z",
            "2026-03-01T17:30:00Z",
            "2026-03-02T14:05:00Z",
            "2026-03-02T21:40:00Z",
            "2026-03-03T07:00:00Z",
            "2026-03-03T10:30:00Z",
            "2026-03-03T12:00:00Z",
            "2026-03-03T16:20:00Z",
            "2026-03-03T17:45:00Z",
        ]
    );

    // HTML: tags and the script gone, entities decoded, paragraphs on lines.
    // The first of the two lines with the same canonical URL is the one kept.
    let af = vigie.mention(AF_URL);
    assert_eq!(
        af["text"],
        "Air France annonce l'ouverture d’une ligne Paris – Montréal dès juin.\nLes billets sont déjà en vente."
    );
    assert_eq!(af["title"], "Air France & KLM : nouvelle ligne vers Montréal");
    assert_eq!(
        (af["id"].as_str(), af["author"].as_str(), af["site"].as_str()),
        (Some("af-42"), Some("Claire Martin"), Some("presse-eco.example"))
    );
    for m in &stored {
        let text = m["text"].as_str().unwrap();
        for leftover in ["<", "&nbsp;", "&eacute;", "&#", "tracker", "document.write", "utm_"] {
            assert!(!text.contains(leftover), "{leftover:?} left in {text:?}");
        }
        assert!(!m["url"].as_str().unwrap().contains("utm_"));
    }
    let sg = vigie.mention("https://blog.fintech-watch.example/2026/03/societe-generale-panne-appli");
    assert_eq!(sg["title"], "Panne de l’appli Société Générale");
    assert_eq!(
        sg["text"],
        "L'application mobile de la Société Générale est restée inaccessible « plusieurs heures » mardi matin — virements & paiements bloqués."
    );
    // Integer ids and string reach figures are read as such; the site defaults to the host without www.
    let tweet = vigie.mention("https://twitter.com/marseille_nord/status/1764021180000000011");
    assert_eq!(
        (tweet["id"].as_str(), tweet["site"].as_str(), tweet["source"].as_str()),
        (Some("1764021180000000011"), Some("twitter.com"), Some("twitter"))
    );
    let review = vigie.mention("https://www.trustpilot.example/review/credit-agricole.fr/5f2a");
    assert_eq!((review["reach"].as_i64(), review["lang"].as_str()), (Some(85), Some("en")));

    // Importing the same file again stores nothing new.
    let again = vigie.run(&["import", file.as_str()]).code(1);
    assert_eq!(again.stdout, "imported 0 new mention(s) from 13 record(s): 10 already stored, 3 rejected\n");
    assert_eq!(vigie.export().len(), 9);
}

#[test]
fn csv_import_reads_quoted_fields_and_counts_lines_of_multiline_records() {
    let vigie = Vigie::new();
    let file = testdata("mentions.csv");
    let run = vigie.run(&["import", file.as_str()]).code(1);
    assert_eq!(run.stdout, "imported 3 new mention(s) from 4 record(s): 0 already stored, 1 rejected\n");
    // Record 3 starts on line 5: record 2 has a line break in its text.
    assert_eq!(
        run.stderr_lines(),
        [
            "line 5: field `reach` must be a non-negative integer, not \"2,400\"",
            "error: 1 record(s) were rejected (see the lines above); the others were imported",
        ]
    );
    let strike = vigie.mention("https://www.lequotidien.example/societe/greve-sncf-mars");
    assert_eq!(strike["title"], "Grève SNCF : le trafic \"très perturbé\" jeudi");
    assert_eq!(strike["text"], "Selon la SNCF, un TGV sur deux circulera jeudi, et aucun Intercités.");
    assert_eq!((strike["published_at"].as_str(), strike["reach"].is_null()), (Some("2026-03-04T05:00:00Z"), true));
    let forum = vigie.mention("https://forum.banque-conseils.example/t/credit-agricole-appli/9001");
    assert_eq!(
        forum["text"],
        "Depuis la mise à jour, l'appli Crédit Agricole plante au lancement.\nJ'ai réinstallé, vidé le cache, rien à faire, toujours pareil."
    );
    assert_eq!(
        (forum["author"].as_str(), forum["published_at"].as_str(), forum["reach"].as_i64()),
        (Some("paul, 34 ans"), Some("2026-03-04T09:12:00Z"), Some(12))
    );
    assert!(forum["title"].is_null());
    let again = vigie.run(&["import", file.as_str()]).code(1);
    assert_eq!(again.stdout, "imported 0 new mention(s) from 4 record(s): 3 already stored, 1 rejected\n");
}

#[test]
fn import_from_standard_input_in_both_formats() {
    let vigie = Vigie::new();
    let jsonl = concat!(
        r#"{"url": "https://twitter.com/a/status/1", "text": "Merci @SNCF pour le remboursement rapide !", "published_at": "2026-03-05T09:00:00+01:00", "source": "twitter"}"#,
        "\n\n",
        r#"{"url": "https://twitter.com/b/status/2", "text": "@AirFrance toujours pas de nouvelles de ma valise", "published_at": "2026-03-05T10:00:00Z", "source": "twitter"}"#,
        "\n",
    );
    let run = vigie.run_stdin(&["import", "-"], jsonl.as_bytes()).success();
    assert_eq!(run.stdout, "imported 2 new mention(s) from 2 record(s): 0 already stored, 0 rejected\n");
    assert_eq!(run.stderr, "");

    // `-` has no extension: CSV needs --format.
    let csv = "url,text,published_at,source\nhttps://www.example.fr/avis/3,\"Conseiller BNP Paribas au top, merci !\",2026-03-05,review\n";
    let run = vigie.run_stdin(&["import", "-", "--format", "csv"], csv.as_bytes()).success();
    assert_eq!(run.stdout, "imported 1 new mention(s) from 1 record(s): 0 already stored, 0 rejected\n");
    let stored = vigie.export();
    assert_eq!(
        column_set(&stored, "url"),
        ["https://twitter.com/a/status/1", "https://twitter.com/b/status/2", "https://www.example.fr/avis/3"]
            .map(String::from)
            .into()
    );
    assert_eq!(vigie.mention("https://twitter.com/a/status/1")["published_at"], "2026-03-05T08:00:00Z");
    assert_eq!(vigie.mention("https://www.example.fr/avis/3")["text"], "Conseiller BNP Paribas au top, merci !");
}

/// Two comments of one Facebook post (different ids, the post's URL) and a
/// page of a single-page application by its route.
fn platform_export() -> String {
    [
        json!({"id": "fbc-1", "url": "https://www.facebook.com/acme/posts/123", "text": "Acme : livraison en retard",
               "published_at": "2026-11-20T10:00:00Z", "source": "facebook", "author": "Jean"}),
        json!({"id": "fbc-2", "url": "https://www.facebook.com/acme/posts/123", "text": "Acme : super service",
               "published_at": "2026-11-20T10:05:00Z", "source": "facebook", "author": "Paul"}),
        json!({"url": "https://example.org/#/post/1", "text": "Acme appli un", "published_at": "2026-11-20T11:00:00Z",
               "source": "web"}),
        json!({"url": "https://example.org/#/post/2", "text": "Acme appli deux", "published_at": "2026-11-20T11:05:00Z",
               "source": "web"}),
    ]
    .iter()
    .map(|v| format!("{v}\n"))
    .collect()
}

#[test]
fn comments_of_one_post_are_different_mentions_and_stored_keys_follow() {
    let vigie = Vigie::new();
    let file = vigie.write("export.jsonl", platform_export());
    let first = vigie.run(&["import", file.to_str().unwrap()]).success();
    assert!(first.stdout.contains("imported 4 new mention(s) from 4 record(s)"), "{}", first.stdout);
    let urls: Vec<String> = vigie.export().iter().map(|m| m["url"].as_str().unwrap().to_string()).collect();
    assert!(urls.contains(&"https://example.org/#/post/2".to_string()), "{urls:?}");
    let again = vigie.run(&["import", file.to_str().unwrap()]).success();
    assert!(again.stdout.contains("imported 0 new mention(s)"), "{}", again.stdout);

    // A database from before the rule (keys by URL; migration 10 not run):
    // opening it rekeys the stored mentions, and importing again finds them.
    vigie.with_db(async |pool| {
        sqlx::query(
            "UPDATE mentions SET dedup_key = 'url:' || url WHERE source_kind = 'facebook' AND source_item_id = 'fbc-1'",
        )
        .execute(pool)
        .await
        .unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 10").execute(pool).await.unwrap();
    });
    let again = vigie.run(&["import", file.to_str().unwrap()]).success();
    assert!(again.stdout.contains("imported 0 new mention(s)"), "{}", again.stdout);
    assert_eq!(vigie.export().len(), 4);
}

#[test]
fn stored_platform_mentions_are_rekeyed_on_postgres_too() {
    let Some(pg) = crate::support::PgSchema::create() else { return };
    let url = pg.url();
    let vigie = Vigie::new();
    let file = vigie.write("export.jsonl", platform_export());
    let on_pg = |args: &[&str]| {
        let mut all = vec!["--database-url", url.as_str()];
        all.extend_from_slice(args);
        vigie.run(&all)
    };
    on_pg(&["import", file.to_str().unwrap()]).success();
    pg.with(async |conn| {
        sqlx::query("UPDATE mentions SET dedup_key = 'url:' || url WHERE source_item_id = 'fbc-1'")
            .execute(&mut *conn)
            .await
            .unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 6").execute(&mut *conn).await.unwrap();
    });
    let again = on_pg(&["import", file.to_str().unwrap()]).success();
    assert!(again.stdout.contains("imported 0 new mention(s)"), "{}", again.stdout);
    let keys: Vec<String> = pg.with(async |conn| {
        sqlx::query_scalar("SELECT dedup_key FROM mentions WHERE source_kind = 'facebook' ORDER BY dedup_key")
            .fetch_all(&mut *conn)
            .await
            .unwrap()
    });
    assert_eq!(keys, ["id:facebook:fbc-1", "id:facebook:fbc-2"]);
}

/// Forum posts exported with their thread's address: whether they come in
/// one file or one at a time, each is stored once (QA: a post imported
/// alone after another of its thread was taken for it, and part of a file
/// imported again was stored twice).
#[test]
fn posts_of_one_thread_are_stored_once_whichever_came_together() {
    let post = |id: &str, text: &str| {
        format!(
            "{}\n",
            json!({"id": id, "url": "https://forum.example.com/thread/9", "text": text,
                   "published_at": "2025-11-20T10:00:00Z", "source": "forum"})
        )
    };
    let (p1, p2) =
        (post("p1", "Premier message : Acme a perdu mon colis"), post("p2", "Pareil pour moi, Acme rembourse pas"));
    let import = |vigie: &Vigie, name: &str, lines: &str| {
        let file = vigie.write(name, lines);
        vigie.run(&["import", file.to_str().unwrap()]).success().stdout
    };
    // One at a time, then both again.
    let vigie = Vigie::new();
    assert!(import(&vigie, "one.jsonl", &p1).contains("imported 1 new"));
    let second = import(&vigie, "two.jsonl", &p2);
    assert!(second.contains("imported 1 new mention(s) from 1 record(s): 0 already stored"), "{second}");
    let again = import(&vigie, "both.jsonl", &format!("{p1}{p2}"));
    assert!(again.contains("imported 0 new mention(s) from 2 record(s): 2 already stored"), "{again}");
    assert_eq!(vigie.export().len(), 2);
    // Together, then each alone.
    let vigie = Vigie::new();
    assert!(import(&vigie, "both.jsonl", &format!("{p1}{p2}")).contains("imported 2 new"));
    for (name, line) in [("one.jsonl", &p1), ("two.jsonl", &p2)] {
        let again = import(&vigie, name, line);
        assert!(again.contains("imported 0 new mention(s) from 1 record(s): 1 already stored"), "{name}: {again}");
    }
    let texts = column_set(&vigie.export(), "text");
    assert_eq!(texts.len(), 2, "{texts:?}");
}

#[test]
fn a_gz_file_that_is_not_gzip_is_refused_not_imported_as_empty() {
    let vigie = Vigie::new();
    let line = "{\"url\": \"https://e.x/1\", \"text\": \"Acme\", \"published_at\": \"2026-11-20T10:00:00Z\"}\n";
    let plain = vigie.write("plain.jsonl.gz", line);
    let refused = vigie.run(&["import", plain.to_str().unwrap()]).code(2);
    assert!(refused.stderr.contains("not a gzip file, though its name ends in .gz"), "{}", refused.stderr);
    // Gzip's first bytes, then garbage: the read error is said.
    let broken =
        vigie.write("broken.jsonl.gz", [0x1f, 0x8b, 0xff, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]);
    let failed = vigie.run(&["import", broken.to_str().unwrap()]).code(1);
    assert!(failed.stderr.contains("read error"), "{}", failed.stderr);
    assert!(vigie.export().is_empty());
}

//! `vigie search`, and its agreement with watch matching.

use serde_json::{Value, json};

use crate::support::{Vigie, column, column_set, testdata, unix_now};

const FACEBOOK: &str = "https://www.facebook.com/groups/voyageurs.nantes/posts/4411";
const MARSEILLE: &str = "https://twitter.com/marseille_nord/status/1764021180000000011";
const LYON: &str = "https://twitter.com/voyageur_lyon/status/1764021180000000001";

/// A project holding the good lines of `testdata/mentions.jsonl`.
fn imported() -> Vigie {
    let vigie = Vigie::new();
    vigie.run(&["import", testdata("mentions.jsonl").as_str()]).code(1); // 3 bad lines in it
    vigie
}

fn search(vigie: &Vigie, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["search"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = vigie.run(&all).success().json();
    out.as_array().unwrap_or_else(|| panic!("not an array: {out}")).clone()
}

#[test]
fn search_near_query_returns_the_matching_mentions_newest_first_with_terms() {
    let vigie = imported();
    let hits = search(&vigie, &["retard NEAR/3 train"]);
    // The review with "Train supprimé au dernier moment, retard" has 4 words
    // between them: too far for NEAR/3.
    assert_eq!(column(&hits, "url"), [FACEBOOK, MARSEILLE, LYON]);
    for hit in &hits {
        assert_eq!(hit["matched_terms"], json!(["retard", "train"]));
    }
    assert_eq!(hits[1]["text"], "Mon train a du retard, comme d'habitude. Ouigo, vous faites fort. #SNCF");

    // Accents and case are ignored; a phrase must be consecutive.
    let hits = search(&vigie, &[r#""societe generale" OR "credit agricole""#]);
    assert_eq!(
        column(&hits, "url"),
        [
            "https://www.trustpilot.example/review/credit-agricole.fr/5f2a",
            "https://blog.fintech-watch.example/2026/03/societe-generale-panne-appli"
        ]
    );
    assert_eq!(hits[0]["matched_terms"], json!(["\"credit agricole\""]));

    // The table format says how many results there were.
    let table = vigie.run(&["search", "retard NEAR/3 train"]).success();
    assert!(table.stdout.starts_with("ID "), "{}", table.stdout);
    assert!(table.stdout.ends_with("\n3 result(s)\n"), "{}", table.stdout);
    // The table's and CSV's id is the one `mention show` takes.
    let csv = vigie.run(&["search", "retard NEAR/3 train", "--format", "csv"]).success();
    let first = csv.stdout.lines().nth(1).unwrap();
    let id = first.split(',').next().unwrap().trim_start_matches('\u{feff}');
    let shown = vigie.run(&["mention", "show", id, "--format", "json"]).success().json();
    assert!(shown["mention"]["text"].as_str().unwrap().contains("retard"), "{shown}");
}

#[test]
fn search_filters_by_watch_period_and_limit() {
    let vigie = imported();
    vigie.run(&["watch", "add", "SNCF", "--query", "sncf OR ouigo"]).success();
    let hits = search(&vigie, &["retard NEAR/3 train", "--watch", "SNCF"]);
    assert_eq!(column(&hits, "url"), [MARSEILLE, LYON]);
    for hit in &hits {
        assert_eq!(hit["watches"], json!(["SNCF"]));
    }

    let hits = search(&vigie, &["retard NEAR/3 train", "--limit", "2"]);
    assert_eq!(column(&hits, "url"), [FACEBOOK, MARSEILLE]);
    let hits = search(&vigie, &["retard NEAR/3 train", "--limit", "1"]);
    assert_eq!(column(&hits, "url"), [FACEBOOK]);

    // Two recent mentions (2 hours and 10 days old); the file's are from March 2026.
    let now = unix_now();
    let recent = format!(
        "{}\n{}\n",
        json!({"url": "https://twitter.com/ter_user/status/1", "text": "Ce matin le train TER en retard de 20 minutes", "published_at": (now - 2 * 3600).to_string(), "source": "twitter"}),
        json!({"url": "https://twitter.com/ter_user/status/2", "text": "Train en retard, encore", "published_at": (now - 10 * 86_400).to_string(), "source": "twitter"}),
    );
    vigie.run_stdin(&["import", "-"], recent.as_bytes()).success();
    let day = search(&vigie, &["retard NEAR/3 train", "--since", "1d"]);
    assert_eq!(column(&day, "url"), ["https://twitter.com/ter_user/status/1"]);
    let month = search(&vigie, &["retard NEAR/3 train", "--since", "30d"]);
    assert_eq!(
        column(&month, "url"),
        ["https://twitter.com/ter_user/status/2", "https://twitter.com/ter_user/status/1"]
    );
    let all = search(&vigie, &["retard NEAR/3 train"]);
    assert_eq!(all.len(), 5);

    // Bad filters are usage errors.
    let unknown = vigie.run(&["search", "retard", "--watch", "Nope"]).code(2);
    assert_eq!(unknown.stderr, "error: no watch named \"Nope\" in project \"default\"\n");
    let since = vigie.run(&["search", "retard", "--since", "3y"]).code(2);
    assert!(since.stderr.contains("invalid duration \"3y\""), "{}", since.stderr);
    let limit = vigie.run(&["search", "retard", "--limit", "0"]).code(2);
    assert_eq!(limit.stderr, "error: --limit must be between 1 and 10000\n");
}

#[test]
fn a_broken_search_query_is_a_usage_error_with_a_caret() {
    let vigie = imported();
    let run = vigie.run(&["search", "retard NEAR/3"]).code(2);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr_lines(),
        ["error: invalid query: expected a term after NEAR/3 at column 8", "  retard NEAR/3", "         ^"]
    );
    let run = vigie.run(&["search", "(retard OR train"]).code(2);
    assert!(run.stderr.starts_with("error: invalid query: expected ')' at column 17\n"), "{}", run.stderr);
}

/// Watch queries used to compare search, backfill and import-time matching.
const WATCHES: &[(&str, &str)] = &[
    ("SNCF", "sncf OR ouigo OR tgv"),
    ("Retards", "retard* NEAR/3 (train OR tgv OR vol)"),
    ("Air France", r#""air france" OR @airfrance OR airfrance"#),
    ("Banques", r#""bnp paribas" OR "credit agricole" OR "societe generale" -emploi"#),
];

#[test]
fn search_backfill_and_import_time_matching_agree() {
    // Watches added after the import are backfilled…
    let after = imported();
    for (name, query) in WATCHES {
        after.run(&["watch", "add", name, "--query", query]).success();
    }
    // …and, in another data dir, added before it, matched while importing.
    let before = Vigie::new();
    for (name, query) in WATCHES {
        before.run(&["watch", "add", name, "--query", query]).success();
    }
    before.run(&["import", testdata("mentions.jsonl").as_str()]).code(1);

    for (name, query) in WATCHES {
        let searched = column_set(&search(&after, &[query, "--limit", "10000"]), "url");
        let backfilled = column_set(&after.run(&["export", "--watch", name]).success().jsonl(), "url");
        let at_import = column_set(&before.run(&["export", "--watch", name]).success().jsonl(), "url");
        assert!(!searched.is_empty(), "{name}: nothing found");
        assert_eq!(backfilled, searched, "{name}: backfill and search disagree");
        assert_eq!(at_import, searched, "{name}: import-time matching and search disagree");
    }
    let sncf = column_set(&after.run(&["export", "--watch", "SNCF"]).success().jsonl(), "url");
    assert_eq!(sncf, [LYON, "https://www.avis-clients.example/sncf/1002", MARSEILLE].map(String::from).into());

    // A language restriction applies to the backfill: only the English tweet.
    let run = after
        .run(&["watch", "add", "Air France EN", "--query", "\"air france\" OR @airfrance", "--lang", "en"])
        .success();
    assert_eq!(run.stdout, "watch \"Air France EN\" added; it matches 1 stored mention(s)\n");
    let en = after.run(&["export", "--watch", "Air France EN"]).success().jsonl();
    assert_eq!(column(&en, "url"), ["https://twitter.com/jetlagged_tom/status/1764021180000000006"]);
    assert_eq!(en[0]["watches"], json!(["Air France", "Air France EN"]));
}

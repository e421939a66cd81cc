//! `vigie demo`: the bundled corpus, imported once however often it runs.

use serde_json::Value;

use crate::support::Vigie;

/// Tweets in the bundled corpus (`assets/demo/airline-tweets.jsonl.gz`).
const DEMO_MENTIONS: i64 = 11_681;

fn counts(v: &Value, key: &str) -> Vec<(String, i64)> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array: {v}"))
        .iter()
        .map(|r| (r["key"].as_str().unwrap().to_string(), r["mentions"].as_i64().unwrap()))
        .collect()
}

#[test]
fn demo_twice_imports_the_corpus_once_and_reports_the_same_counts() {
    let vigie = Vigie::new();
    let first = vigie.run(&["demo", "--no-serve", "--format", "json"]).success().json();
    let second = vigie.run(&["demo", "--no-serve", "--format", "json"]).success().json();

    assert_eq!(first["project"], "demo");
    assert_eq!((first["imported"].as_i64(), first["already_stored"].as_i64()), (Some(DEMO_MENTIONS), Some(0)));
    assert_eq!((second["imported"].as_i64(), second["already_stored"].as_i64()), (Some(0), Some(DEMO_MENTIONS)));
    for run in [&first, &second] {
        assert_eq!(run["rejected"], 0);
        assert_eq!(run["total"], DEMO_MENTIONS);
    }

    let watches = counts(&first, "per_watch");
    assert_eq!(watches, counts(&second, "per_watch"), "per-watch counts changed on the second run");
    let mut names: Vec<&str> = watches.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["American", "Delta", "JetBlue", "Lost luggage", "Southwest", "US Airways", "United", "Virgin America"]
    );
    assert!(watches.iter().all(|(_, n)| *n > 0), "every demo watch matches something: {watches:?}");
    assert_eq!(counts(&first, "per_lang"), counts(&second, "per_lang"));

    let days = counts(&first, "per_day");
    assert_eq!(days, counts(&second, "per_day"));
    let keys: Vec<&str> = days.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "2015-02-17",
            "2015-02-18",
            "2015-02-19",
            "2015-02-20",
            "2015-02-21",
            "2015-02-22",
            "2015-02-23",
            "2015-02-24"
        ]
    );
    assert_eq!(days.iter().map(|(_, n)| n).sum::<i64>(), DEMO_MENTIONS);

    // Every mention is analyzed: airline tweets are mostly complaints, and the
    // complaints are routed to departments.
    let sentiment: std::collections::HashMap<String, i64> = counts(&first, "per_sentiment").into_iter().collect();
    assert_eq!(sentiment.values().sum::<i64>(), DEMO_MENTIONS);
    assert!(sentiment["negative"] > sentiment["positive"] && sentiment["positive"] > 0, "{sentiment:?}");
    assert!(sentiment.get("unknown").copied().unwrap_or(0) < DEMO_MENTIONS / 10, "{sentiment:?}");
    let themes: Vec<String> = counts(&first, "per_theme").into_iter().map(|(k, _)| k).collect();
    assert!(themes.iter().take(2).any(|k| k == "delivery_logistics"), "{themes:?}");
    assert!(themes.contains(&"customer_service".to_string()), "{themes:?}");

    // The demo lives in its own project, the installation's only one, so
    // commands without --project (the demo's hints) work on it.
    assert_eq!(vigie.export().len() as i64, DEMO_MENTIONS);
}

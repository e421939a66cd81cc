//! `vigie analyze`: JSON Lines in, language, sentiment with its explanation
//! and themes out; hostile input gets a verdict or an explicit unknown.

use serde_json::Value;

use crate::support::{Vigie, installed_models_dir};

fn by_id(rows: &[Value], id: &str) -> Value {
    rows.iter().find(|r| r["id"] == id).cloned().unwrap_or_else(|| panic!("no row {id} in {rows:#?}"))
}

#[test]
fn analyze_adds_language_sentiment_and_themes_and_passes_other_fields_through() {
    let vigie = Vigie::new();
    let input = [
        r#"{"id": "fr-neg", "text": "Toujours pas reçu ma commande après 3 semaines, le service client ne répond jamais 😡", "extra": 42}"#,
        r#"{"id": "en-pos", "text": "Thanks @united, the crew was amazing and the flight landed early! Love it"}"#,
        r#"{"id": "en-neg", "text": "@AmericanAir still waiting for my lost bag, worst airline ever", "lang": "en"}"#,
        r#"{"id": "fr-notbad", "title": "Avis", "text": "Franchement pas mal du tout, je recommande"}"#,
        r#"{"id": "de", "text": "Der Zug ist schon wieder zu spät und niemand sagt uns warum"}"#,
        // Too short to identify, and in neither language: unknown, not a guessed "neutral".
        r#"{"id": "short-ru", "text": "Очень плохо"}"#,
    ]
    .join("\n");
    // Saved by Notepad: a byte-order mark first.
    let input = format!("\u{feff}{input}");
    let run = vigie.run_stdin(&["analyze", "--model", "fast"], input.as_bytes()).success();
    let rows = run.jsonl();
    assert_eq!(rows.len(), 6, "{}", run.stdout);

    let fr = by_id(&rows, "fr-neg");
    assert_eq!(fr["extra"], 42, "other fields pass through");
    assert_eq!(fr["lang"], "fr");
    assert_eq!(fr["sentiment"]["label"], "negative", "{fr:#}");
    assert!(fr["sentiment"]["score"].as_f64().unwrap() < 0.0);
    let why = fr["sentiment"]["explanation"].as_array().unwrap();
    assert!(!why.is_empty() && why.iter().all(|c| c["feature"].is_string() && c["weight"].is_number()), "{fr:#}");
    assert!(why.iter().any(|c| c["weight"].as_f64().unwrap() < 0.0), "a reason pushes toward negative: {fr:#}");
    let themes: Vec<&str> = fr["themes"].as_array().unwrap().iter().map(|t| t["theme"].as_str().unwrap()).collect();
    assert!(themes.contains(&"delivery_logistics") && themes.contains(&"customer_service"), "{fr:#}");

    let pos = by_id(&rows, "en-pos");
    assert_eq!(pos["lang"], "en");
    assert_eq!(pos["sentiment"]["label"], "positive", "{pos:#}");
    assert!(pos["sentiment"]["score"].as_f64().unwrap() > 0.0);

    let neg = by_id(&rows, "en-neg");
    assert_eq!(neg["sentiment"]["label"], "negative", "{neg:#}");
    let themes: Vec<&str> = neg["themes"].as_array().unwrap().iter().map(|t| t["theme"].as_str().unwrap()).collect();
    assert!(themes.contains(&"delivery_logistics"), "lost bag: {neg:#}");

    assert_eq!(by_id(&rows, "fr-notbad")["sentiment"]["label"], "positive", "pas mal = good");

    let de = by_id(&rows, "de");
    assert_eq!(de["lang"], "de");
    assert_eq!(de["sentiment"]["label"], "unknown");
    assert!(de["sentiment"]["reason"].as_str().unwrap().contains("not supported"), "{de:#}");
    assert_eq!(by_id(&rows, "short-ru")["sentiment"]["label"], "unknown");
}

#[test]
fn hostile_input_gets_a_verdict_or_an_explicit_unknown_and_bad_lines_are_reported() {
    let vigie = Vigie::new();
    let huge = "Le service est vraiment nul. ".repeat(40_000); // ~1.1 MB
    let mut input = Vec::new();
    for line in [
        r#"{"id": "empty", "text": ""}"#.to_string(),
        r#"{"id": "url", "text": "https://example.com/some/page?x=1"}"#.to_string(),
        r#"{"id": "emoji", "text": "😡😡😡", "lang": "fr"}"#.to_string(),
        r#"{"id": "mixed", "text": "Merci beaucoup 谢谢 شكرا спасибо, super service"}"#.to_string(),
        r#"{"id": "html", "text": "<b>Nul</b> <script>alert(1)</script> service horrible", "text_format": "html", "lang": "fr"}"#.to_string(),
        // HTML is cleaned by default, as on import: the same line gets the
        // same analysis both ways.
        r#"{"id": "markup", "text": "<p>Le <b>service client</b> ne répond jamais</p>", "lang": "fr"}"#.to_string(),
        r#"{"id": "markup-plain", "text": "Le service client ne répond jamais", "text_format": "plain", "lang": "fr"}"#.to_string(),
        serde_json::json!({"id": "huge", "text": huge, "lang": "fr"}).to_string(),
        "not json at all".to_string(),
        "[1, 2, 3]".to_string(),
        r#"{"id": "notext"}"#.to_string(),
    ] {
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
    }
    input.extend_from_slice(b"\xff\xfe\x00binary junk\n");
    input.extend_from_slice(br#"{"id": "last", "text": "great service, thanks"}"#);

    let run = vigie.run_stdin(&["analyze", "--model", "fast"], &input).code(1);
    let rows = run.jsonl();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["empty", "url", "emoji", "mixed", "html", "markup", "markup-plain", "huge", "last"],
        "{}",
        run.stderr
    );

    let empty = by_id(&rows, "empty");
    assert_eq!(empty["sentiment"]["label"], "unknown");
    assert_eq!(empty["sentiment"]["reason"], "no text to judge");
    let url = by_id(&rows, "url");
    assert!(["unknown", "neutral"].contains(&url["sentiment"]["label"].as_str().unwrap()), "{url:#}");
    assert_eq!(by_id(&rows, "emoji")["sentiment"]["label"], "negative", "angry emoji");
    assert_eq!(by_id(&rows, "html")["sentiment"]["label"], "negative");
    let (markup, plain) = (by_id(&rows, "markup"), by_id(&rows, "markup-plain"));
    assert_eq!(markup["sentiment"], plain["sentiment"], "the tags are not words");
    assert_eq!(markup["themes"], plain["themes"]);
    assert!(markup["themes"].as_array().unwrap().iter().any(|t| t["theme"] == "customer_service"), "{markup:#}");
    assert_eq!(by_id(&rows, "huge")["sentiment"]["label"], "negative");
    assert_eq!(by_id(&rows, "last")["sentiment"]["label"], "positive");

    let errors = run.stderr_lines();
    assert!(errors.iter().any(|l| l.starts_with("line 9: invalid JSON")), "{}", run.stderr);
    assert!(errors.iter().any(|l| l.starts_with("line 10: expected a JSON object, found an array")), "{}", run.stderr);
    assert!(errors.iter().any(|l| l.starts_with("line 11: missing field `text`")), "{}", run.stderr);
    assert!(errors.iter().any(|l| l.starts_with("line 12: not UTF-8 text")), "{}", run.stderr);
    assert!(run.stderr.contains("4 line(s) could not be analyzed"), "{}", run.stderr);
}

#[test]
fn the_encoder_is_refused_clearly_when_not_installed_and_used_when_it_is() {
    let vigie = Vigie::new();
    let input = r#"{"text": "vol annulé et aucune réponse, merci pour rien"}"#.as_bytes();
    let run = vigie.run_stdin(&["analyze", "--model", "encoder"], input).code(2);
    assert!(run.stderr.contains("vigie models install"), "{}", run.stderr);
    // auto falls back to the fast model.
    let rows = vigie.run_stdin(&["analyze"], input).success().jsonl();
    assert_eq!(rows[0]["sentiment"]["model"], "fast-v1");

    let Some(models) = installed_models_dir() else {
        eprintln!(
            "skipped the encoder half: no installed sentence encoder (set VIGIE_MODELS_DIR; `vigie models install`)"
        );
        return;
    };
    let run =
        vigie.run_stdin(&["--models-dir", models.to_str().unwrap(), "analyze", "--model", "encoder"], input).success();
    let rows = run.jsonl();
    assert_eq!(rows[0]["sentiment"]["model"], "encoder-v1", "{}", run.stdout);
    assert_eq!(rows[0]["sentiment"]["label"], "negative", "{}", run.stdout);
    let why = rows[0]["sentiment"]["explanation"].as_array().unwrap();
    assert!(why.iter().any(|c| c["feature"] == "sentence encoder"), "{}", run.stdout);
}

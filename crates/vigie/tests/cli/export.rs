//! `vigie export`: CSV out, CSV back in, nothing lost.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{Vigie, testdata};

/// The fields an export → import round trip must keep.
const KEPT: [&str; 10] = ["url", "title", "text", "author", "published_at", "source", "site", "lang", "reach", "id"];

fn kept(rows: &[Value]) -> BTreeSet<String> {
    rows.iter().map(|r| serde_json::to_string(&KEPT.map(|k| &r[k])).unwrap()).collect()
}

#[test]
fn csv_export_imports_back_into_a_fresh_data_dir_unchanged() {
    let source = Vigie::new();
    source.run(&["import", testdata("mentions.jsonl").as_str()]).code(1);
    source.run(&["import", testdata("mentions.csv").as_str()]).code(1);
    source.run(&["watch", "add", "SNCF", "--query", "sncf OR ouigo"]).success();
    source.run(&["watch", "add", "Retards", "--query", "retard NEAR/3 train"]).success();

    let csv_path = source.path("export.csv");
    let csv = csv_path.to_str().unwrap();
    let run = source.run(&["export", "--format", "csv", "--output", csv]).success();
    assert_eq!(run.stdout, "", "--output writes to the file only");
    let text = std::fs::read_to_string(&csv_path).unwrap();
    assert_eq!(
        text.lines().next(),
        Some(
            "id,url,title,text,author,published_at,source,site,lang,reach,text_format,collected_at,lang_confidence,watches,vigie_id,sentiment,sentiment_score,themes,story_id,reach_score"
        )
    );
    // Vigie's reach estimate is exported beside the imported audience figure,
    // the same in the JSON export and in the CSV's last column.
    let rows = source.export();
    let scored = rows.iter().filter(|r| r["reach_score"].as_f64().is_some_and(|s| (0.0..=100.0).contains(&s))).count();
    assert_eq!(scored, rows.len(), "every analysed mention has a reach score: {rows:?}");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let csv_scores: BTreeSet<(String, String)> =
        reader.records().map(|r| r.unwrap()).map(|r| (r[14].to_string(), r[19].to_string())).collect();
    let json_scores: BTreeSet<(String, String)> =
        rows.iter().map(|r| (r["vigie_id"].to_string(), r["reach_score"].to_string())).collect();
    assert_eq!(csv_scores, json_scores);
    // Several watches in one cell are joined with `|`.
    assert!(
        text.contains(",SNCF|Retards,") || text.contains(",Retards|SNCF,"),
        "no mention listed with both watches:\n{text}"
    );

    let fresh = Vigie::new();
    let run = fresh.run(&["import", csv]).success();
    assert_eq!(run.stdout, "imported 12 new mention(s) from 12 record(s): 0 already stored, 0 rejected\n");

    let original = source.export();
    let copy = fresh.export();
    assert_eq!(original.len(), 12);
    assert_eq!(kept(&copy), kept(&original));
    // Multi-line texts and quotes survive the CSV quoting.
    assert!(copy.iter().any(|m| { m["text"].as_str().unwrap().contains("lancement.\nJ'ai réinstallé") }));
    assert!(copy.iter().any(|m| m["title"] == "Grève SNCF : le trafic \"très perturbé\" jeudi"));

    // And the copy of the copy is a no-op.
    let again = fresh.run(&["import", csv]).success();
    assert_eq!(again.stdout, "imported 0 new mention(s) from 12 record(s): 12 already stored, 0 rejected\n");
}

#[test]
fn text_with_angle_brackets_survives_an_export_and_reimport() {
    let source = Vigie::new();
    let line = r#"{"url": "https://forum.example/t/1", "text": "la balise <marquee> &lt;3 c'est daté", "title": "a < b & c", "text_format": "plain", "published_at": "2026-11-20T10:00:00Z", "source": "forum"}"#;
    source.run_stdin(&["import", "-"], line.as_bytes()).success();
    let exported = source.run(&["export"]).success().stdout;
    assert!(exported.contains(r#""text_format":"plain""#), "{exported}");
    // `-` is standard output, not a file named "-".
    assert_eq!(source.run(&["export", "--output", "-"]).success().stdout, exported);

    let fresh = Vigie::new();
    fresh.run_stdin(&["import", "-"], exported.as_bytes()).success();
    let copy = fresh.export();
    assert_eq!(copy[0]["text"], "la balise <marquee> &lt;3 c'est daté");
    assert_eq!(copy[0]["title"], "a < b & c");

    // Without `text_format: plain` the same text is read as HTML.
    let html = Vigie::new();
    html.run_stdin(&["import", "-"], line.replace(r#""text_format": "plain", "#, "").as_bytes()).success();
    assert_eq!(html.export()[0]["text"], "la balise <3 c'est daté");
}

#[test]
fn output_cut_short_by_its_reader_ends_quietly() {
    use std::io::Read;
    let vigie = Vigie::new();
    // More than a pipe holds (64 KiB), so the writer meets the closed pipe.
    let lines: String = (0..1_500)
        .map(|i| {
            format!(
                "{{\"url\": \"https://forum.example.fr/t/{i}\", \"text\": \"Message numéro {i} sur le retard des trains, assez long pour remplir la sortie\", \"source\": \"forum\", \"published_at\": \"2026-11-01T10:00:00Z\"}}\n"
            )
        })
        .collect();
    std::fs::create_dir_all(vigie.data_dir()).unwrap();
    let file = vigie.data_dir().join("many.jsonl");
    std::fs::write(&file, lines).unwrap();
    vigie.run(&["import", file.to_str().unwrap()]).success();
    let mut child = vigie
        .command(&["export", "--format", "jsonl"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn vigie");
    // Read one byte, then go away like `| head -c 1`.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

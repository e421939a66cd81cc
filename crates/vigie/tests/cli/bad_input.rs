//! Hostile and broken input: invalid UTF-8, invisible and right-to-left
//! characters, huge lines, empty and missing files, unknown flags.

use serde_json::json;

use crate::support::{Vigie, column};

fn line(url: &str, text: &str) -> Vec<u8> {
    let mut l = json!({"url": url, "text": text, "published_at": "2026-03-06T12:00:00Z", "source": "blog"})
        .to_string()
        .into_bytes();
    l.push(b'\n');
    l
}

#[test]
fn hostile_lines_are_stored_cleaned_or_rejected_with_a_reason() {
    let vigie = Vigie::new();
    let mut file = Vec::new();
    // 1: Latin-1 "é" in a UTF-8 file: read as Windows-1252, as a spreadsheet wrote it.
    let latin1 = b"{\"url\": \"https://a.example/1\", \"text\": \"caf\xe9 SNCF\", \"published_at\": \"2026-03-06\", \"source\": \"blog\"}\n";
    file.extend_from_slice(latin1);
    // 2: a brand name split by zero-width spaces and a right-to-left override, to dodge watches.
    file.extend(line("https://a.example/2", "S\u{200B}N\u{200B}C\u{200F}F \u{202E}retard\u{202C} à l'arrivée\u{FEFF}"));
    // 3: right-to-left text (Arabic) around a Latin brand name.
    let arabic = "تأخير جديد لقطار SNCF اليوم، خدمة العملاء لا ترد";
    file.extend(line("https://a.example/3", arabic));
    // 4: a 1 MiB post.
    let mut mega = "SNCF retard ".repeat(87_382);
    mega.truncate(1 << 20);
    assert!(mega.ends_with("SNCF"));
    file.extend(line("https://a.example/4", &mega));
    // 5: 3 MiB of text, over the 2 MiB text limit; 6: a 5 MiB line, over the 4 MiB line limit.
    file.extend(line("https://a.example/5", &"x".repeat(3 << 20)));
    file.extend(line("https://a.example/6", &"y".repeat(5 << 20)));
    // 7: the line after the skipped one is read normally.
    file.extend(line("https://a.example/7", "Fin du fichier."));
    let path = vigie.write("hostile.jsonl", &file);

    let run = vigie.run(&["import", path.to_str().unwrap()]).code(1);
    assert_eq!(run.stdout, "imported 5 new mention(s) from 7 record(s): 0 already stored, 2 rejected\n");
    assert_eq!(
        run.stderr_lines(),
        [
            "line 5: text is 3145728 bytes; the limit is 2097152 bytes",
            "line 6: line is longer than 4194304 bytes",
            "error: 2 record(s) were rejected (see the lines above); the others were imported",
        ]
    );

    let stored = vigie.export();
    assert_eq!(
        column(&stored, "url"),
        [
            "https://a.example/1",
            "https://a.example/2",
            "https://a.example/3",
            "https://a.example/4",
            "https://a.example/7"
        ]
    );
    assert_eq!(stored[0]["text"], "café SNCF");
    assert_eq!(stored[1]["text"], "SNCF retard à l'arrivée");
    assert_eq!(stored[2]["text"], arabic);
    assert_eq!(stored[3]["text"].as_str().unwrap().len(), 1 << 20);
    assert_eq!(stored[3]["text"], mega);

    // Neither the invisible characters nor the script hide the brand from a search.
    let hits = vigie.run(&["search", "sncf", "--format", "json", "--limit", "100"]).success().json();
    let urls: Vec<&str> = hits.as_array().unwrap().iter().map(|h| h["url"].as_str().unwrap()).collect();
    assert_eq!(urls, ["https://a.example/4", "https://a.example/3", "https://a.example/2", "https://a.example/1"]);
    // Table output never prints the raw controls of a mention.
    let table = vigie.run(&["search", "sncf"]).success();
    assert!(!table.stdout.contains('\u{202E}') && !table.stdout.contains('\u{200B}'));
}

#[test]
fn empty_and_missing_files_and_unknown_flags() {
    let vigie = Vigie::new();
    let empty = vigie.write("empty.jsonl", "");
    let run = vigie.run(&["import", empty.to_str().unwrap()]).success();
    assert_eq!(run.stdout, "imported 0 new mention(s) from 0 record(s): 0 already stored, 0 rejected\n");
    assert_eq!(run.stderr, "");
    let blank = vigie.write("blank.jsonl", "\n  \n\r\n\n");
    let run = vigie.run(&["import", blank.to_str().unwrap()]).success();
    assert_eq!(run.stdout, "imported 0 new mention(s) from 0 record(s): 0 already stored, 0 rejected\n");
    let empty_csv = vigie.write("empty.csv", "");
    let run = vigie.run(&["import", empty_csv.to_str().unwrap()]).success();
    assert!(run.stdout.starts_with("imported 0 new mention(s) from 0 record(s)"), "{}", run.stdout);

    let missing = vigie.path("nope.jsonl");
    let missing = missing.to_str().unwrap();
    let run = vigie.run(&["import", missing]).code(1);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, format!("error: cannot open {missing}: No such file or directory (os error 2)\n"));

    let run = vigie.run(&["import", "--frobnicate", empty.to_str().unwrap()]).code(2);
    assert!(run.stderr.starts_with("error: unexpected argument '--frobnicate' found"), "{}", run.stderr);
    let run = vigie.run(&["frobnicate"]).code(2);
    assert!(run.stderr.starts_with("error: unrecognized subcommand 'frobnicate'"), "{}", run.stderr);
    let run = vigie.run(&["import", "x.jsonl", "--format", "xml"]).code(2);
    assert!(run.stderr.contains("invalid value 'xml' for '--format <FORMAT>'"), "{}", run.stderr);
    assert_eq!(vigie.export().len(), 0);
}

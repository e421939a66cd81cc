//! Data-driven tests: `testdata/conformance.tsv` (matching) and `testdata/errors.tsv`
//! (rejected queries). Each test reports every failing row at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Doc, fts_matches, table};
use vigie_query::{WatchSet, parse};

fn parse_meta(doc: &mut Doc, meta: &str) -> Result<(), String> {
    for kv in meta.split(';').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').ok_or(format!("bad meta '{kv}'"))?;
        let v = Some(v.to_string());
        match k {
            "author" => doc.author = v,
            "site" => doc.site = v,
            "url" => doc.url = v,
            "lang" => doc.lang = v,
            "source" => doc.source = v,
            _ => return Err(format!("unknown meta key '{k}'")),
        }
    }
    Ok(())
}

#[test]
fn conformance_table() {
    let rows = table("conformance.tsv");
    assert!(rows.len() >= 150, "only {} rows", rows.len());
    let mut failures = Vec::new();
    let mut queries = Vec::new();
    let mut docs = Vec::new();
    for (line, row) in &rows {
        let cols: Vec<&str> = row.split('\t').collect();
        let fail = |m: String| format!("line {line}: {row:?}: {m}");
        if cols.len() < 5 {
            failures.push(fail(format!(
                "expected at least 5 columns, got {}",
                cols.len()
            )));
            continue;
        }
        let mut doc = Doc {
            title: (!cols[1].is_empty()).then(|| cols[1].to_string()),
            text: cols[2].to_string(),
            ..Doc::default()
        };
        if let Err(e) = parse_meta(&mut doc, cols[3]) {
            failures.push(fail(e));
            continue;
        }
        let expected = match cols[4] {
            "true" => true,
            "false" => false,
            other => {
                failures.push(fail(format!("expected must be true/false, not {other:?}")));
                continue;
            }
        };
        let q = match parse(cols[0]) {
            Ok(q) => q,
            Err(e) => {
                failures.push(fail(format!("parse error: {e}")));
                continue;
            }
        };
        let got = q.matches(&doc.view());
        if got.is_some() != expected {
            failures.push(fail(format!("expected {expected}, got {got:?}")));
        }
        if let (Some(terms), Some(want)) = (&got, cols.get(5).filter(|s| !s.is_empty())) {
            let want: Vec<&str> = want.split(" | ").collect();
            if *terms != want {
                failures.push(fail(format!("terms: expected {want:?}, got {terms:?}")));
            }
        }
        if got.is_some()
            && let Some(pf) = q.fts5_prefilter()
            && !fts_matches(&pf, &doc.view())
        {
            failures.push(fail(format!("FTS pre-filter {pf:?} drops this match")));
        }
        queries.push((*line as i64, q));
        docs.push((*line as i64, doc, got.is_some()));
    }
    // The same rows through one WatchSet holding every query of the table.
    let ws = WatchSet::new(queries.clone());
    for (line, doc, expected) in &docs {
        let hits = ws.match_document(&doc.view());
        let got = hits.iter().any(|(id, _)| id == line);
        if got != *expected {
            failures.push(format!(
                "line {line}: WatchSet says {got}, Query::matches says {expected}"
            ));
        }
        for (id, terms) in &hits {
            let q = &queries.iter().find(|(i, _)| i == id).expect("id").1;
            if q.matches(&doc.view()).as_ref() != Some(terms) {
                failures.push(format!(
                    "line {line}: WatchSet hit {id} disagrees with Query::matches"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn error_table() {
    let rows = table("errors.tsv");
    assert!(rows.len() >= 25, "only {} rows", rows.len());
    let mut failures = Vec::new();
    for (line, row) in &rows {
        let Some((query, want)) = row.split_once('\t') else {
            failures.push(format!("line {line}: no tab"));
            continue;
        };
        match parse(query) {
            Ok(q) => failures.push(format!("line {line}: {query:?} parsed as {:?}", q.ast())),
            Err(e) if e.to_string() != want => failures.push(format!(
                "line {line}: {query:?}\n   expected: {want}\n   got:      {e}"
            )),
            // Every message has its French twin (the web app shows the reader's language),
            // naming the same column, and not the English text.
            Err(e) => {
                let fr = e.describe(true);
                if e.message_fr.trim().is_empty() || e.message_fr == e.message {
                    failures.push(format!("line {line}: {query:?}: no French message ({fr:?})"));
                }
                if let Some(c) = e.column
                    && !fr.ends_with(&format!("(colonne {c})"))
                {
                    failures.push(format!("line {line}: {query:?}: the French message lacks the column: {fr:?}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn long_query_rejected_without_column() {
    let q = "a ".repeat(5001);
    let e = parse(&q).expect_err("too long");
    assert_eq!(e.column, None);
    assert!(e.message.starts_with("query is too long"), "{e}");
    // just under the limit is fine
    assert!(parse(&"ab ".repeat(3333)).is_ok());
}

//! Property tests: the parser never panics; OR widens and AND narrows; the watch set agrees
//! with single-query matching; the FTS pre-filter never drops a match.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Doc, fts_matches};
use proptest::prelude::*;
use vigie_query::{WatchSet, parse, tokenize};

const TERMS: &[&str] = &[
    "sncf",
    "retard",
    "train",
    "grève",
    "greve",
    "Déroute",
    "#sncf",
    "@sncf",
    "remb*",
    "rembours*",
    "\"train retard\"",
    "\"sncf* train\"",
    "title:retard",
    "text:sncf",
    "author:jean",
    "author:\"jean dupont\"",
    "site:sncf.fr",
    "lang:fr",
    "url:sncf",
    "source:twitter",
    "wi-fi",
    "l'avion",
    "title:(train OR grève)",
];

const DOC_WORDS: &[&str] = &[
    "sncf",
    "SNCF",
    "retard",
    "train",
    "grève",
    "greve",
    "remboursement",
    "remb",
    "#SNCF",
    "@sncf",
    "déroute",
    "jean",
    "dupont",
    "wi-fi",
    "wi",
    "fi",
    "l'avion",
    "x",
    "y",
    ",",
    "!",
];

/// Random query source text built from the grammar (may still be rejected by semantic checks).
fn query_src() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(TERMS).prop_map(str::to_string);
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} NOT {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} -{b})")),
            (
                prop::sample::select(&TERMS[..12]),
                prop::sample::select(&TERMS[..12]),
                0u32..4,
                any::<bool>()
            )
                .prop_map(|(a, b, n, f)| format!("({a} NEAR/{n}{} {b})", if f { "f" } else { "" })),
        ]
    })
}

fn words(n: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(DOC_WORDS), 0..n).prop_map(|w| w.join(" "))
}

fn doc() -> impl Strategy<Value = Doc> {
    (
        prop::option::of(words(5)),
        words(14),
        prop::option::of(prop::sample::select(
            &["Jean Dupont", "jean", "Marie", "@SNCF"][..],
        )),
        prop::option::of(prop::sample::select(
            &["sncf.fr", "www.sncf.fr", "notsncf.fr", "lemonde.fr"][..],
        )),
        prop::option::of(prop::sample::select(
            &[
                "https://www.sncf.fr/a",
                "https://x.com/sncf/status/1",
                "https://y.fr",
            ][..],
        )),
        prop::option::of(prop::sample::select(&["fr", "en", "fr-CA"][..])),
        prop::option::of(prop::sample::select(&["twitter", "forum"][..])),
    )
        .prop_map(|(title, text, author, site, url, lang, source)| Doc {
            title,
            text,
            author: author.map(str::to_string),
            site: site.map(str::to_string),
            url: url.map(str::to_string),
            lang: lang.map(str::to_string),
            source: source.map(str::to_string),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_arbitrary_text(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn parser_never_panics_on_query_like_text(s in "[a-c()\"*: #@\\-/0-9NEAROTDf«»“”_.]{0,60}") {
        if let Ok(q) = parse(&s) {
            // accepted queries evaluate and translate without panicking
            let _ = q.matches(&Doc { text: s.clone(), ..Doc::default() }.view());
            let _ = q.fts5_prefilter();
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash(n in 1usize..400, kind in 0u8..3) {
        let s = match kind {
            0 => format!("{}a{}", "(".repeat(n), ")".repeat(n)),
            1 => format!("{}a", "NOT ".repeat(n)),
            _ => format!("a {}b", "-".repeat(n)),
        };
        if let Err(e) = parse(&s) {
            prop_assert!(!e.message.is_empty());
            prop_assert!(!e.message_fr.is_empty());
        }
    }

    #[test]
    fn or_widens_and_narrows(a in query_src(), b in query_src(), d in doc()) {
        let (Ok(qa), Ok(qor), Ok(qand)) = (parse(&a), parse(&format!("({a}) OR ({b})")), parse(&format!("({a}) AND ({b})"))) else {
            return Ok(());
        };
        let view = d.view();
        let ma = qa.matches(&view).is_some();
        prop_assert!(!ma || qor.matches(&view).is_some(), "a matched but a OR b did not");
        prop_assert!(qand.matches(&view).is_none() || ma, "a AND b matched but a did not");
    }

    #[test]
    fn watchset_agrees_with_single_queries(srcs in prop::collection::vec(query_src(), 1..12), docs in prop::collection::vec(doc(), 1..8)) {
        let queries: Vec<(i64, vigie_query::Query)> =
            srcs.iter().enumerate().filter_map(|(i, s)| parse(s).ok().map(|q| (i as i64 * 7 - 20, q))).collect();
        let ws = WatchSet::new(queries.clone());
        prop_assert_eq!(ws.len(), queries.len());
        for d in &docs {
            let view = d.view();
            let expected: Vec<(i64, Vec<String>)> =
                queries.iter().filter_map(|(id, q)| q.matches(&view).map(|t| (*id, t))).collect();
            prop_assert_eq!(ws.match_document(&view), expected);
        }
    }

    #[test]
    fn prefilter_is_a_superset(a in query_src(), d in doc()) {
        let Ok(q) = parse(&a) else { return Ok(()) };
        let view = d.view();
        if q.matches(&view).is_some()
            && let Some(pf) = q.fts5_prefilter() {
                prop_assert!(fts_matches(&pf, &view), "pre-filter {} drops a match of {}", pf, a);
            }
    }

    #[test]
    fn tokens_point_into_the_original(s in any::<String>()) {
        for t in tokenize(&s) {
            prop_assert!(s.is_char_boundary(t.byte_start) && s.is_char_boundary(t.byte_end) && t.byte_start < t.byte_end);
            prop_assert!(!t.text.is_empty() && !t.text.contains(' '));
        }
        prop_assert_eq!(vigie_query::index_text(&s).split(' ').filter(|w| !w.is_empty()).count(), tokenize(&s).len());
    }
}

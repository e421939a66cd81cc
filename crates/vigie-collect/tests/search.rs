//! Search-result watches: request URLs, the recorded SearXNG answers of
//! `testdata/search/` (two runs for "Brasserie Dupont", a 403 page), and the
//! comparison of two runs' rankings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use url::Url;
use vigie_collect::search::{
    self, DEFAULT_TOP, MAX_TERM_BYTES, RankChange, RankedUrl, SearchError, SearchPage, SearchResult,
};
use vigie_model::SourceKind;

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/search/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run(name: &str) -> SearchPage {
    search::parse_results(&data(name), Some("application/json")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn result(rank: u32, url: &str) -> SearchResult {
    SearchResult {
        rank,
        url: url.into(),
        title: String::new(),
        snippet: String::new(),
        engines: vec![],
        published_at: None,
    }
}

fn ranked(list: &[(u32, &str)]) -> Vec<RankedUrl> {
    list.iter().map(|(rank, url)| RankedUrl { rank: *rank, url: url.to_string() }).collect()
}

#[test]
fn request_url() {
    let endpoint = Url::parse("https://searx.example.org").unwrap();
    let url = search::search_url(&endpoint, "\"Brasserie Dupont\" & fils", 1, Some("fr")).unwrap();
    assert_eq!(
        url.as_str(),
        "https://searx.example.org/search?q=%22Brasserie+Dupont%22+%26+fils&format=json&pageno=1&language=fr"
    );
    // A path prefix is kept; an address ending in /search is used as is; its query is replaced.
    let prefixed = Url::parse("https://example.org/searxng/").unwrap();
    assert_eq!(
        search::search_url(&prefixed, "dupont", 2, None).unwrap().as_str(),
        "https://example.org/searxng/search?q=dupont&format=json&pageno=2"
    );
    let full = Url::parse("http://127.0.0.1:8888/search?q=old&format=html#x").unwrap();
    assert_eq!(
        search::search_url(&full, " dupont ", 1, Some(" ")).unwrap().as_str(),
        "http://127.0.0.1:8888/search?q=dupont&format=json&pageno=1"
    );
}

#[test]
fn request_url_refusals() {
    let endpoint = Url::parse("https://searx.example.org").unwrap();
    let err = |term: &str, page, lang| search::search_url(&endpoint, term, page, lang).unwrap_err().to_string();
    assert_eq!(err("  ", 1, None), "search term: empty; give the name or words to watch");
    let long = "a".repeat(MAX_TERM_BYTES + 1);
    assert_eq!(err(&long, 1, None), "search term: 513 bytes long; at most 512");
    assert!(search::search_url(&endpoint, &"é".repeat(MAX_TERM_BYTES / 2), 1, None).is_ok());
    assert!(err("dupont\nfils", 1, None).contains("control characters"));
    assert_eq!(err("dupont", 0, None), "search request: page numbers start at 1");
    assert!(err("dupont", 1, Some("fr&format=html")).contains("is not a language code"));
    let ftp = Url::parse("ftp://searx.example.org").unwrap();
    assert!(search::search_url(&ftp, "dupont", 1, None).unwrap_err().to_string().contains("not an http(s) address"));
}

#[test]
fn first_run_is_read_in_order() {
    let page = run("brasserie_dupont_run1.json");
    assert!(page.warnings.is_empty(), "{:?}", page.warnings);
    assert!(page.unresponsive_engines.is_empty());
    assert_eq!(page.results.len(), 12);
    let ranks: Vec<u32> = page.results.iter().map(|r| r.rank).collect();
    assert_eq!(ranks, (1..=12).collect::<Vec<_>>());
    let first = &page.results[0];
    assert_eq!(first.url, "https://www.brasserie-dupont.fr/");
    assert_eq!(first.title, "Brasserie Dupont – Restaurant traditionnel à Lyon 2e");
    assert!(first.snippet.starts_with("Brasserie lyonnaise depuis 1921"));
    assert_eq!(first.engines, ["google", "duckduckgo", "bing"]);
    assert_eq!(first.published_at, None);
    let news = &page.results[5];
    assert_eq!(
        news.url,
        "https://www.leprogres.fr/culture-loisirs/2025/11/04/lyon-la-brasserie-dupont-change-de-mains"
    );
    assert_eq!(news.published_at, Some(Utc.with_ymd_and_hms(2025, 11, 4, 6, 30, 0).unwrap()));
}

#[test]
fn second_run_skips_folds_and_reports_engines() {
    let page = run("brasserie_dupont_run2.json");
    assert_eq!(page.results.len(), 12);
    let urls: Vec<&str> = page.results.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(urls[0], "https://brasserie-dupont.fr/");
    assert_eq!(urls[1], "https://blog.mangeons-lyon.example/2026/03/13/intoxication-brasserie-dupont");
    // The result without a URL does not take a rank.
    assert_eq!(urls[4], "https://www.facebook.com/brasseriedupontlyon/");
    assert_eq!(page.results[4].rank, 5);
    // `http://brasserie-dupont.fr/#menu` is the official site again: folded
    // into rank 1, its engine added.
    assert!(!urls.iter().any(|u| u.contains("#menu")));
    assert_eq!(page.results[0].engines, ["google", "duckduckgo", "bing", "qwant"]);
    assert_eq!(
        page.unresponsive_engines,
        [("brave".to_string(), "timeout".to_string()), ("qwant".to_string(), "Suspended: CAPTCHA".to_string())]
    );
    assert_eq!(
        page.warnings,
        ["result 5 has no URL; skipped", "engines that did not answer: brave (timeout), qwant (Suspended: CAPTCHA)"]
    );
}

#[test]
fn a_new_page_enters_the_top_and_another_leaves() {
    let previous = search::ranked(&run("brasserie_dupont_run1.json").results);
    // What a store keeps and reads back.
    let previous: Vec<RankedUrl> = serde_json::from_str(&serde_json::to_string(&previous).unwrap()).unwrap();
    let current = run("brasserie_dupont_run2.json").results;
    let changes = search::compare(&previous, &current, DEFAULT_TOP);
    let moved = |url: &str, rank, previous_rank| RankChange::Moved { url: url.into(), rank, previous_rank };
    assert_eq!(
        changes,
        [
            RankChange::Entered {
                url: "https://blog.mangeons-lyon.example/2026/03/13/intoxication-brasserie-dupont".into(),
                rank: 2
            },
            moved("https://www.avisclients.example/avis/brasserie-dupont-lyon", 3, 2),
            moved(
                "https://www.tripadvisor.fr/Restaurant_Review-g187265-d1234567-Reviews-Brasserie_Dupont-Lyon_Rhone_Auvergne_Rhone_Alpes.html",
                4,
                3
            ),
            moved("https://www.facebook.com/brasseriedupontlyon/", 5, 4),
            moved("https://forum.lyon-gourmand.example/viewtopic.php?t=5678", 6, 5),
            moved("https://www.leprogres.fr/culture-loisirs/2025/11/04/lyon-la-brasserie-dupont-change-de-mains", 7, 6),
            moved("https://www.instagram.com/brasseriedupont/", 8, 7),
            moved("https://www.pagesjaunes.fr/pros/05432198", 9, 8),
            // Still ranked (11th): reported as ranked now.
            RankChange::Left {
                url: "https://www.lyon-sortir.example/restaurants/brasserie-dupont".into(),
                previous_rank: 9
            },
        ]
    );
    // The official site moved from `https://www.…/` to `https://…`: same page, no change.
    assert!(!changes.iter().any(|c| format!("{c:?}").contains("brasserie-dupont.fr")));
    let json = serde_json::to_value(&changes[0]).unwrap();
    assert_eq!(json["change"], "entered");
    assert_eq!(json["rank"], 2);
}

#[test]
fn compare_edge_cases() {
    let now = [result(1, "https://a.example/"), result(2, "https://b.example/"), result(3, "https://c.example/")];
    // First run: everything in the top entered.
    assert_eq!(search::compare(&[], &now, 2).len(), 2);
    // No change at all.
    assert!(search::compare(&search::ranked(&now), &now, DEFAULT_TOP).is_empty());
    // Entering from below the top is an entry; dropping out of the page entirely is a departure.
    let before = ranked(&[
        (1, "https://b.example"),
        (2, "http://www.a.example/"),
        (3, "https://d.example/x"),
        (12, "https://c.example/"),
    ]);
    assert_eq!(
        search::compare(&before, &now, 3),
        [
            RankChange::Moved { url: "https://a.example/".into(), rank: 1, previous_rank: 2 },
            RankChange::Moved { url: "https://b.example/".into(), rank: 2, previous_rank: 1 },
            RankChange::Entered { url: "https://c.example/".into(), rank: 3 },
            RankChange::Left { url: "https://d.example/x".into(), previous_rank: 3 },
        ]
    );
    assert!(search::compare(&before, &now, 0).is_empty());
}

#[test]
fn html_instead_of_json_says_how_to_enable_json() {
    let body = data("format_not_allowed.html");
    let err = search::parse_results(&body, Some("text/html; charset=utf-8")).unwrap_err();
    assert_eq!(err, SearchError::NotJson { page_title: Some("403 Forbidden".into()) });
    assert_eq!(
        err.to_string(),
        "the search instance answered with an HTML page (\"403 Forbidden\") instead of JSON; enable the `json` \
         format in its settings.yml (`search: formats: [html, json]`)"
    );
    // Even when served as JSON.
    assert!(matches!(search::parse_results(&body, Some("application/json")), Err(SearchError::NotJson { .. })));
    let status = search::status_error(403, &body, Some("text/html"));
    assert!(
        status
            .to_string()
            .starts_with("HTTP 403 from the search instance: access refused (page titled \"403 Forbidden\")")
    );
    assert!(status.to_string().contains("add `json` to `search: formats`"));
    assert!(!status.is_transient());
    let limited = search::status_error(429, b"Too Many Requests", Some("text/plain"));
    assert!(limited.to_string().contains("bot limiter"), "{limited}");
    assert!(limited.is_transient());
}

#[test]
fn malformed_answers() {
    let err = search::parse_results(b"{\n  \"results\": [\n    {\"url\": \"https://a.example/\",}\n  ]\n}", None)
        .unwrap_err();
    match &err {
        SearchError::InvalidJson { line, column, reason } => {
            assert_eq!((*line, *column, reason.as_str()), (3, 34, "trailing comma"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.to_string(), "the search instance's answer is not valid JSON (line 3, column 34): trailing comma");
    let truncated = &data("brasserie_dupont_run1.json")[..2000];
    assert!(matches!(search::parse_results(truncated, None), Err(SearchError::InvalidJson { .. })));
    assert_eq!(search::parse_results(b"  \n", None).unwrap_err(), SearchError::Empty);
    assert!(search::parse_results(b"{\"error\": \"x\"}", None).unwrap_err().to_string().contains("no `results` list"));
    assert!(matches!(search::parse_results(b"[1, 2]", None), Err(SearchError::Shape(_))));
}

#[test]
fn odd_results_are_skipped_with_a_warning() {
    let body = br#"{"results": [
        {"url": "javascript:alert(1)", "title": "x"},
        {"url": "/relative/path", "title": "y"},
        {"url": 42},
        {"url": "  https://ok.example/page  ", "title": " Titre\n sur deux lignes ", "engine": "bing",
         "publishedDate": "2026-03-01T10:00:00+01:00"}
    ], "unresponsive_engines": [["google"], "bing", 7]}"#;
    let page = search::parse_results(body, None).unwrap();
    assert_eq!(page.results.len(), 1);
    let r = &page.results[0];
    assert_eq!((r.rank, r.url.as_str(), r.title.as_str()), (1, "https://ok.example/page", "Titre sur deux lignes"));
    assert_eq!(r.engines, ["bing"]);
    assert_eq!(r.published_at, Some(Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()));
    assert_eq!(
        page.warnings,
        [
            "result 1: `javascript:alert(1)` is not an http(s) address; skipped",
            "result 2: `/relative/path` is not an http(s) address; skipped",
            "result 3 has no URL; skipped",
            "engines that did not answer: google, bing",
        ]
    );
}

#[test]
fn results_become_mentions() {
    let page = run("brasserie_dupont_run2.json");
    let blog = &page.results[1];
    let m = search::to_raw_mention(blog, "\"Brasserie Dupont\"");
    assert_eq!(m.source_item_id.as_deref(), Some(blog.url.as_str()));
    assert_eq!(m.url.as_deref(), Some(blog.url.as_str()));
    assert_eq!(m.title.as_deref(), Some("J’ai été malade après un dîner à la Brasserie Dupont"));
    assert!(m.text.starts_with("Samedi soir, poisson pas frais"));
    assert!(m.plain_text);
    assert_eq!(m.source_kind, Some(SourceKind::Web));
    assert_eq!(m.site.as_deref(), Some("blog.mangeons-lyon.example"));
    assert_eq!(m.published_at, Some(Utc.with_ymd_and_hms(2026, 3, 13, 0, 0, 0).unwrap()));
    // Nothing but an address: the text says what it ranks for.
    let bare = search::to_raw_mention(&result(4, "https://bare.example/"), " Brasserie Dupont ");
    assert_eq!(bare.title, None);
    assert_eq!(bare.text, "Search result for \"Brasserie Dupont\": https://bare.example/");
}

#[test]
fn results_are_capped() {
    let results: Vec<String> =
        (0..search::MAX_RESULTS + 20).map(|i| format!(r#"{{"url": "https://e.example/{i}"}}"#)).collect();
    let body = format!(r#"{{"results": [{}]}}"#, results.join(","));
    let page = search::parse_results(body.as_bytes(), None).unwrap();
    assert_eq!(page.results.len(), search::MAX_RESULTS);
    assert_eq!(page.results.last().unwrap().rank, 100);
    assert_eq!(page.warnings, ["more than 100 results; the rest were not read"]);
}

#[test]
fn titles_and_snippets_are_read_as_html() {
    let body = br#"{"results": [{"url": "https://a.example/1", "engine": "bing",
        "title": "AT&amp;T et <b>Acme</b> &ndash; l&#39;accord",
        "content": "Le <em>service client</em> d&#x27;Acme&nbsp;: 3 &lt; 5 <script>x()</script>fin"}]}"#;
    let page = search::parse_results(body, Some("application/json")).unwrap();
    let r = &page.results[0];
    assert_eq!(r.title, "AT&T et Acme – l'accord");
    assert_eq!(r.snippet, "Le service client d'Acme : 3 < 5 fin");
    let m = search::to_raw_mention(r, "acme");
    assert!(m.plain_text);
    assert_eq!(
        (m.title.as_deref(), m.text.as_str()),
        (Some("AT&T et Acme – l'accord"), "Le service client d'Acme : 3 < 5 fin")
    );
}

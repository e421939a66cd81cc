#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use url::Url;
use vigie_model::{Engagement, RawMention, SourceKind};

use super::*;

// --- helpers ------------------------------------------------------------------

fn data(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/testdata/social/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn utc(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 3, h, m, s).unwrap()
}

fn ok(q: &SocialQuery, cursor: &Cursor, body: &[u8]) -> Page {
    parse_page(q, cursor, 200, &[("Content-Type".into(), "application/json; charset=utf-8".into())], body).unwrap()
}

fn err(q: &SocialQuery, status: u16, headers: &[(&str, &str)], body: &[u8]) -> SocialError {
    let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    parse_page(q, &Cursor::default(), status, &headers, body).unwrap_err()
}

/// What a saved cursor becomes after a restart.
fn restart(c: &Cursor) -> Cursor {
    let json = serde_json::to_string(c).unwrap();
    serde_json::from_str(&json).unwrap()
}

fn ids(items: &[RawMention]) -> Vec<&str> {
    items.iter().map(|m| m.source_item_id.as_deref().unwrap()).collect()
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn mastodon_tag() -> SocialQuery {
    SocialQuery::Mastodon {
        instance: Url::parse("https://mastodon.social").unwrap(),
        hashtag: Some("#AcmeEnergie".into()),
        search: None,
    }
}
fn bluesky() -> SocialQuery {
    SocialQuery::Bluesky { query: "acme energie".into() }
}
fn reddit() -> SocialQuery {
    SocialQuery::Reddit { query: "acme energie".into(), subreddit: None }
}
fn hn() -> SocialQuery {
    SocialQuery::HackerNews { query: "acme energy".into() }
}
fn youtube() -> SocialQuery {
    SocialQuery::YouTube { channel_id: "UCx7Acme0000EnergieFr1Q".into(), api_key: "AIzaSyTESTKEY123".into() }
}

// --- requests -----------------------------------------------------------------

#[test]
fn requests_carry_the_documented_parameters_and_the_cursor() {
    let c = Cursor::default();
    let r = next_request(&mastodon_tag(), &c).unwrap();
    assert_eq!(r.url.as_str(), "https://mastodon.social/api/v1/timelines/tag/AcmeEnergie?limit=40");
    let c2 = Cursor { newest_id: Some("116180000000000300".into()), ..Cursor::default() };
    let r = next_request(&mastodon_tag(), &c2).unwrap();
    assert_eq!(param(&r.url, "min_id").as_deref(), Some("116180000000000300"));

    let search = SocialQuery::Mastodon {
        instance: Url::parse("https://piaille.fr/").unwrap(),
        hashtag: None,
        search: Some("acme énergie".into()),
    };
    let r = next_request(&search, &c).unwrap();
    assert_eq!(r.url.path(), "/api/v2/search");
    assert_eq!(param(&r.url, "q").as_deref(), Some("acme énergie"));
    assert_eq!(param(&r.url, "type").as_deref(), Some("statuses"));

    let r = next_request(&bluesky(), &c).unwrap();
    assert_eq!(
        r.url.as_str(),
        "https://public.api.bsky.app/xrpc/app.bsky.feed.searchPosts?q=acme+energie&sort=latest&limit=100"
    );
    let walking = Cursor { walk: Some(Walk { token: Some("25".into()), ..Walk::default() }), ..Cursor::default() };
    assert_eq!(param(&next_request(&bluesky(), &walking).unwrap().url, "cursor").as_deref(), Some("25"));

    let r = next_request(&reddit(), &walking).unwrap();
    assert_eq!(r.url.path(), "/search.json");
    for (k, v) in [("sort", "new"), ("limit", "100"), ("raw_json", "1"), ("after", "25"), ("type", "link")] {
        assert_eq!(param(&r.url, k).as_deref(), Some(v), "{k}");
    }
    let sub = SocialQuery::Reddit { query: "acme".into(), subreddit: Some("r/Lyon".into()) };
    let r = next_request(&sub, &c).unwrap();
    assert_eq!(r.url.path(), "/r/Lyon/search.json");
    assert_eq!(param(&r.url, "restrict_sr").as_deref(), Some("1"));

    let r = next_request(&hn(), &c).unwrap();
    assert_eq!(
        r.url.as_str(),
        "https://hn.algolia.com/api/v1/search_by_date?query=acme+energy&tags=%28story%2Ccomment%29&hitsPerPage=100"
    );
    let hn_walk = Cursor {
        high_water: Some(Mark { at: utc(9, 10, 0), ids: vec!["1".into()] }),
        walk: Some(Walk { floor: Some(Mark { at: utc(10, 10, 0), ids: vec![] }), ..Walk::default() }),
        ..Cursor::default()
    };
    let r = next_request(&hn(), &hn_walk).unwrap();
    assert_eq!(param(&r.url, "numericFilters").as_deref(), Some("created_at_i>=1772529000,created_at_i<=1772532600"));

    let r = next_request(&youtube(), &walking).unwrap();
    assert_eq!(r.url.path(), "/youtube/v3/commentThreads");
    for (k, v) in [
        ("part", "snippet"),
        ("allThreadsRelatedToChannelId", "UCx7Acme0000EnergieFr1Q"),
        ("order", "time"),
        ("maxResults", "100"),
        ("textFormat", "plainText"),
        ("pageToken", "25"),
        ("key", "AIzaSyTESTKEY123"),
    ] {
        assert_eq!(param(&r.url, k).as_deref(), Some(v), "{k}");
    }
    assert!(!r.redacted().contains("AIzaSyTESTKEY123"), "{}", r.redacted());
    assert!(r.redacted().contains("key=REDACTED"));
}

#[test]
fn endpoints_can_be_moved_for_tests() {
    let base = Url::parse("http://127.0.0.1:8080/fake").unwrap();
    let e = Endpoints::all_at(&base);
    let r = next_request_with(&hn(), &Cursor::default(), &e).unwrap();
    assert!(r.url.as_str().starts_with("http://127.0.0.1:8080/fake/api/v1/search_by_date?"), "{}", r.url);
    let r = next_request_with(&youtube(), &Cursor::default(), &e).unwrap();
    assert!(r.url.as_str().starts_with("http://127.0.0.1:8080/fake/commentThreads?"), "{}", r.url);
}

#[test]
fn bad_source_definitions_are_query_errors() {
    let m = |hashtag: Option<&str>, search: Option<&str>| SocialQuery::Mastodon {
        instance: Url::parse("https://mastodon.social").unwrap(),
        hashtag: hashtag.map(str::to_string),
        search: search.map(str::to_string),
    };
    let cases: Vec<(SocialQuery, &str)> = vec![
        (m(None, None), "give a hashtag or a search"),
        (m(Some("a"), Some("b")), "not both"),
        (m(Some("two words"), None), "one word"),
        (m(Some("#"), None), "hashtag is empty"),
        (SocialQuery::Bluesky { query: "  ".into() }, "search query is empty"),
        (SocialQuery::Bluesky { query: "x".repeat(600) }, "at most 512"),
        (SocialQuery::Reddit { query: "acme".into(), subreddit: Some("no spaces allowed".into()) }, "not a subreddit"),
        (SocialQuery::HackerNews { query: "a\u{0}b".into() }, "control characters"),
        (SocialQuery::YouTube { channel_id: "UC/../x".into(), api_key: "k".into() }, "not a channel id"),
        (SocialQuery::YouTube { channel_id: "UCabc".into(), api_key: "".into() }, "no usable API key"),
    ];
    for (q, expected) in cases {
        let e = next_request(&q, &Cursor::default()).unwrap_err();
        assert!(matches!(e, SocialError::Query { .. }), "{e:?}");
        assert!(e.to_string().contains(expected), "{e} should say {expected:?}");
        assert!(e.to_string().starts_with(q.api().name()), "{e}");
        assert!(!e.is_transient());
    }
}

// --- adapters: every field --------------------------------------------------------

#[test]
fn mastodon_statuses_map_every_field() {
    let page = ok(&mastodon_tag(), &Cursor::default(), &data("mastodon/tag_first.json"));
    assert_eq!(ids(&page.items), ["116180000000000300", "116180000000000200", "116180000000000100"]);
    assert!(page.skipped.is_empty() && page.warnings.is_empty());
    assert_eq!(
        page.items[0],
        RawMention {
            source_item_id: Some("116180000000000300".into()),
            url: Some("https://mastodon.social/@camille_lyon/116180000000000300".into()),
            title: None,
            text: "<p>Troisième coupure cette semaine chez <a href=\"https://mastodon.social/tags/AcmeEnergie\" \
                   class=\"mention hashtag\" rel=\"tag\">#<span>AcmeEnergie</span></a> &amp; toujours aucune \
                   explication &lt;3 heures d&#39;attente&gt;</p>"
                .into(),
            plain_text: false,
            author: Some("camille_lyon@mastodon.social".into()),
            published_at: Some(utc(9, 10, 0)),
            source_kind: Some(SourceKind::Mastodon),
            site: Some("mastodon.social".into()),
            lang: Some("fr".into()),
            reach: Some(412),
            engagement: Engagement {
                followers: Some(412),
                likes: Some(31),
                shares: Some(12),
                comments: Some(4),
                views: None
            },
        }
    );
    // A remote account keeps its domain; its status URL is on its own instance.
    assert_eq!(page.items[1].author.as_deref(), Some("bob@piaille.fr"));
    assert_eq!(page.items[1].site.as_deref(), Some("piaille.fr"));
    // The content warning is the title, escaped beside HTML text.
    assert_eq!(page.items[2].title.as_deref(), Some("facture, argent"));
    // A new source takes one page and remembers the newest id.
    assert!(!page.more);
    assert_eq!(page.next_cursor.newest_id.as_deref(), Some("116180000000000300"));
}

#[test]
fn bluesky_posts_map_every_field() {
    let page = ok(&bluesky(), &Cursor::default(), &data("bluesky/run1.json"));
    assert_eq!(page.items.len(), 3);
    let post = &page.items[1];
    assert_eq!(
        *post,
        RawMention {
            source_item_id: Some("at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3lk2aaaa0002s".into()),
            url: Some("https://bsky.app/profile/techpress.fr/post/3lk2aaaa0002s".into()),
            title: None,
            text: "Acme Energy outage: 40,000 homes affected in Lyon <update> & more".into(),
            plain_text: true,
            author: Some("techpress.fr".into()),
            published_at: Some(utc(9, 5, 0)),
            source_kind: Some(SourceKind::Bluesky),
            site: Some("bsky.app".into()),
            lang: Some("en".into()),
            reach: None,
            engagement: Engagement {
                followers: None,
                likes: Some(120),
                shares: Some(51),
                comments: Some(18),
                views: None
            },
        }
    );
    // handle.invalid: the profile URL and author use the DID; no langs: no lang;
    // a future createdAt is kept as published_at but sorts at indexedAt.
    let odd = &page.items[0];
    assert_eq!(
        odd.url.as_deref(),
        Some("https://bsky.app/profile/did:plc:u5cwb2mwiv2bfq53cjufe6yn/post/3lk2aaaa0003s")
    );
    assert_eq!(odd.author.as_deref(), Some("did:plc:u5cwb2mwiv2bfq53cjufe6yn"));
    assert_eq!(odd.lang, None);
    let hw = page.next_cursor.high_water.unwrap();
    assert_eq!(hw.at, Utc.with_ymd_and_hms(2026, 3, 3, 9, 10, 0).unwrap() + chrono::Duration::milliseconds(100));
}

#[test]
fn reddit_posts_map_every_field() {
    let page = ok(&reddit(), &Cursor::default(), &data("reddit/run1.json"));
    assert_eq!(ids(&page.items), ["t3_1j3a003", "t3_1j3a002", "t3_1j3a001"]);
    assert_eq!(
        page.items[2],
        RawMention {
            source_item_id: Some("t3_1j3a001".into()),
            url: Some("https://www.reddit.com/r/france/comments/1j3a001/acme_energie_troisieme_coupure/".into()),
            title: Some("Acme Énergie : troisième coupure en une semaine".into()),
            text: "Quelqu'un a eu une explication ? Le service client dit \"incident réseau\" & rien d'autre.".into(),
            plain_text: true,
            author: Some("/u/lyonnais_du_69".into()),
            published_at: Some(utc(9, 0, 0)),
            source_kind: Some(SourceKind::Reddit),
            site: Some("www.reddit.com".into()),
            lang: None,
            reach: None,
            engagement: Engagement {
                followers: Some(2_654_321),
                likes: Some(152),
                shares: Some(0),
                comments: Some(47),
                views: None
            },
        }
    );
    // A deleted author is no author; a link post is the discussion, with no text.
    assert_eq!(page.items[1].author, None);
    assert_eq!(
        page.items[0].url.as_deref(),
        Some("https://www.reddit.com/r/energy/comments/1j3a003/acme_energy_grid_failure/")
    );
    assert_eq!(page.items[0].text, "");
    assert_eq!(page.items[0].engagement.shares, Some(3));
    assert_eq!(page.items[0].published_at, Some(utc(9, 10, 0) + chrono::Duration::milliseconds(500)));
}

#[test]
fn hacker_news_hits_map_every_field() {
    let page = ok(&hn(), &Cursor::default(), &data("hackernews/run1.json"));
    assert_eq!(ids(&page.items), ["43210003", "43210002", "43210001"]);
    let comment = &page.items[1];
    assert_eq!(
        *comment,
        RawMention {
            source_item_id: Some("43210002".into()),
            url: Some("https://news.ycombinator.com/item?id=43210002".into()),
            title: None,
            text: "I worked at Acme &amp; the SCADA stack is <i>ancient</i>. Not surprised.<p>They run Windows XP on \
                   the HMI boxes."
                .into(),
            plain_text: false,
            author: Some("exacme".into()),
            published_at: Some(utc(9, 5, 0)),
            source_kind: Some(SourceKind::Hackernews),
            site: Some("news.ycombinator.com".into()),
            lang: None,
            reach: None,
            engagement: Engagement::default(),
        }
    );
    let ask = &page.items[0];
    // The title sits beside HTML text: its `<` is escaped.
    assert_eq!(ask.title.as_deref(), Some("Ask HN: Anyone else's Acme smart meter &lt;stuck&gt;?"));
    assert_eq!(ask.text, "Mine reads 0 kWh since the outage.<p>Support says &quot;wait&quot;.");
    assert_eq!(ask.engagement, Engagement { likes: Some(12), comments: Some(3), ..Engagement::default() });
    let link = &page.items[2];
    assert_eq!(link.title.as_deref(), Some("Acme Energy outage leaves 40k homes without power"));
    assert_eq!(link.text, "");
    assert_eq!(link.url.as_deref(), Some("https://news.ycombinator.com/item?id=43210001"));
}

#[test]
fn youtube_threads_map_every_field() {
    let page = ok(&youtube(), &Cursor::default(), &data("youtube/run1.json"));
    assert_eq!(page.items.len(), 3);
    assert_eq!(
        page.items[2],
        RawMention {
            source_item_id: Some("UgyA1acme0000000000001AaABAg".into()),
            url: Some("https://www.youtube.com/watch?v=dQw4w9WgXcQ&lc=UgyA1acme0000000000001AaABAg".into()),
            title: None,
            text: "Toujours aucune info sur la panne <3h> & rien sur votre site".into(),
            plain_text: true,
            author: Some("@lea_martin".into()),
            published_at: Some(utc(9, 0, 0)),
            source_kind: Some(SourceKind::Youtube),
            site: Some("www.youtube.com".into()),
            lang: None,
            reach: None,
            engagement: Engagement { followers: None, likes: Some(12), shares: None, comments: Some(2), views: None },
        }
    );
}

// --- recorded runs: two consecutive pages, an overlap, restarts --------------------

/// Run 1 on `run1.json`, a restart, run 2 on `run2_page1.json` then
/// `run2_page2.json` (which overlaps run 1): every item once, none missing.
fn recorded_walk(q: SocialQuery, folder: &str, expected_run2: &[&str]) {
    let run1 = ok(&q, &Cursor::default(), &data(&format!("{folder}/run1.json")));
    assert_eq!(run1.items.len(), 3, "{folder}");
    assert!(!run1.more, "{folder}: a new source takes one page");
    assert!(run1.next_cursor.high_water.is_some() && run1.next_cursor.walk.is_none());

    let c = restart(&run1.next_cursor);
    let p1 = ok(&q, &c, &data(&format!("{folder}/run2_page1.json")));
    assert!(p1.more, "{folder}: the walk has not reached run 1 yet");
    assert_eq!(p1.next_cursor.high_water, c.high_water, "{folder}: the mark moves only when the walk ends");
    let c = restart(&p1.next_cursor);
    assert!(c.walking());
    let p2 = ok(&q, &c, &data(&format!("{folder}/run2_page2.json")));
    assert!(!p2.more, "{folder}: the walk reached run 1's newest item");
    assert!(p2.warnings.is_empty(), "{folder}: {:?}", p2.warnings);
    assert!(p2.next_cursor.walk.is_none());

    let run2: Vec<&str> = ids(&p1.items).into_iter().chain(ids(&p2.items)).collect();
    assert_eq!(run2, expected_run2, "{folder}");
    let all: Vec<&str> = ids(&run1.items).into_iter().chain(run2.iter().copied()).collect();
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len(), "{folder}: no duplicates: {all:?}");

    // The mark is run 2's newest item; replaying the same last page collects nothing.
    let again = ok(&q, &restart(&p2.next_cursor), &data(&format!("{folder}/run2_page1.json")));
    assert!(again.items.is_empty() && !again.more, "{folder}: {:?}", ids(&again.items));
}

#[test]
fn bluesky_walk_across_runs_has_no_duplicate_and_no_gap() {
    recorded_walk(
        bluesky(),
        "bluesky",
        &[
            "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3lk2bbbb0006s",
            "at://did:plc:4v7q2kfy3d5eobxw6ax2z7sj/app.bsky.feed.post/3lk2bbbb0005s",
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3lk2bbbb0004s",
            "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3lk2bbbb0003s",
            "at://did:plc:4v7q2kfy3d5eobxw6ax2z7sj/app.bsky.feed.post/3lk2bbbb0002s",
        ],
    );
}

#[test]
fn reddit_walk_across_runs_has_no_duplicate_and_no_gap() {
    recorded_walk(reddit(), "reddit", &["t3_1j3b006", "t3_1j3b005", "t3_1j3b004", "t3_1j3b003", "t3_1j3b002"]);
}

#[test]
fn hacker_news_walk_across_runs_has_no_duplicate_and_no_gap() {
    // 43210010 shares its second with run 1's newest hit and is still collected.
    recorded_walk(hn(), "hackernews", &["43210030", "43210020", "43210015", "43210012", "43210010"]);
    // The second page's window starts at the walk's floor.
    let run1 = ok(&hn(), &Cursor::default(), &data("hackernews/run1.json"));
    let p1 = ok(&hn(), &run1.next_cursor, &data("hackernews/run2_page1.json"));
    let r = next_request(&hn(), &p1.next_cursor).unwrap();
    assert_eq!(param(&r.url, "numericFilters").as_deref(), Some("created_at_i>=1772529000,created_at_i<=1772532600"));
}

#[test]
fn youtube_walk_across_runs_has_no_duplicate_and_no_gap() {
    recorded_walk(
        youtube(),
        "youtube",
        &[
            "UgyB2acme0000000000006AaABAg",
            "UgyB2acme0000000000005AaABAg",
            "UgyB2acme0000000000004AaABAg",
            "UgyB2acme0000000000003AaABAg",
            "UgyB2acme0000000000002AaABAg",
        ],
    );
    let run1 = ok(&youtube(), &Cursor::default(), &data("youtube/run1.json"));
    let p1 = ok(&youtube(), &run1.next_cursor, &data("youtube/run2_page1.json"));
    let r = next_request(&youtube(), &p1.next_cursor).unwrap();
    assert_eq!(param(&r.url, "pageToken").as_deref(), Some("QURTSl9pMlhzbm1TdHZ3Q2lnRWZsQ0xzRkxqNnJlUQ_p2"));
}

#[test]
fn mastodon_pages_forward_from_the_newest_id_across_restarts() {
    let q = mastodon_tag();
    let run1 = ok(&q, &Cursor::default(), &data("mastodon/tag_first.json"));
    let c = restart(&run1.next_cursor);
    assert_eq!(param(&next_request(&q, &c).unwrap().url, "min_id").as_deref(), Some("116180000000000300"));
    let p1 = ok(&q, &c, &data("mastodon/tag_min_id_page1.json"));
    assert_eq!(ids(&p1.items), ["116180000000000500", "116180000000000400"]);
    assert!(p1.more);
    let c = restart(&p1.next_cursor);
    assert_eq!(param(&next_request(&q, &c).unwrap().url, "min_id").as_deref(), Some("116180000000000500"));
    let p2 = ok(&q, &c, &data("mastodon/tag_min_id_page2.json"));
    assert_eq!(ids(&p2.items), ["116180000000000600"]);
    assert!(p2.more);
    let p3 = ok(&q, &restart(&p2.next_cursor), b"[]");
    assert!(p3.items.is_empty() && !p3.more);
    assert_eq!(p3.next_cursor.newest_id.as_deref(), Some("116180000000000600"));
}

#[test]
fn mastodon_server_ignoring_min_id_overlaps_without_duplicates_and_says_so() {
    let q = mastodon_tag();
    let c = Cursor { newest_id: Some("116180000000000500".into()), ..Cursor::default() };
    let p = ok(&q, &c, &data("mastodon/tag_ignores_min_id.json"));
    assert_eq!(ids(&p.items), ["116180000000000600"]);
    assert!(!p.more, "no endless loop on a server that ignores min_id");
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].contains("ignored `min_id`"), "{}", p.warnings[0]);
}

#[test]
fn mastodon_search_reads_the_statuses_of_a_v2_result() {
    let q = SocialQuery::Mastodon {
        instance: Url::parse("https://mastodon.social").unwrap(),
        hashtag: None,
        search: Some("acme".into()),
    };
    let p = ok(&q, &Cursor::default(), &data("mastodon/search.json"));
    assert_eq!(ids(&p.items), ["116180000000000450"]);
    assert_eq!(p.items[0].author.as_deref(), Some("nadia@framapiaf.org"));
    let e = err(&q, 401, &[], &data("mastodon/error_401.json"));
    assert!(matches!(e, SocialError::Auth { status: 401, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.starts_with("Mastodon: HTTP 401"), "{msg}");
    assert!(msg.contains("This method requires an authenticated user") && msg.contains("watch a hashtag"), "{msg}");
    assert!(!e.is_transient());
}

#[test]
fn mastodon_ids_order_numerically() {
    use std::cmp::Ordering;
    assert_eq!(mastodon::compare_ids("99", "100"), Ordering::Less);
    assert_eq!(mastodon::compare_ids("116180000000000600", "116180000000000500"), Ordering::Greater);
}

// --- walk bounds and gaps ------------------------------------------------------

fn bsky_post(rkey: &str, at: &str) -> Value {
    json!({
        "uri": format!("at://did:plc:abc/app.bsky.feed.post/{rkey}"),
        "cid": "bafy",
        "author": {"did": "did:plc:abc", "handle": "a.bsky.social"},
        "record": {"$type": "app.bsky.feed.post", "text": format!("post {rkey}"), "createdAt": at},
        "indexedAt": at,
    })
}

#[test]
fn a_listing_that_ends_before_the_mark_leaves_a_named_gap() {
    let c = Cursor { high_water: Some(Mark { at: utc(8, 0, 0), ids: vec!["x".into()] }), ..Cursor::default() };
    let body = json!({"posts": [bsky_post("b", "2026-03-03T10:00:00Z")]}).to_string();
    let p = ok(&bluesky(), &c, body.as_bytes());
    assert_eq!(p.items.len(), 1);
    assert!(!p.more);
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].contains("Bluesky has no more pages") && p.warnings[0].contains("2026-03-03T08:00:00"));
    assert_eq!(p.next_cursor.high_water.unwrap().at, utc(10, 0, 0));
}

#[test]
fn a_walk_gives_up_after_max_walk_pages_and_says_so() {
    let mut c = Cursor { high_water: Some(Mark { at: utc(0, 0, 0), ids: vec![] }), ..Cursor::default() };
    let mut pages = 0;
    loop {
        pages += 1;
        let t = utc(23, 0, 0) - chrono::Duration::minutes(pages);
        let body = json!({"cursor": pages.to_string(), "posts": [bsky_post(&format!("p{pages}"), &t.to_rfc3339())]});
        let p = ok(&bluesky(), &c, body.to_string().as_bytes());
        c = restart(&p.next_cursor);
        if !p.more {
            assert_eq!(pages, i64::from(MAX_WALK_PAGES));
            assert!(p.warnings.iter().any(|w| w.contains("50 pages walked")), "{:?}", p.warnings);
            break;
        }
        assert!(pages < 100);
    }
    assert_eq!(c.high_water.unwrap().at, utc(22, 59, 0));
}

#[test]
fn abandoning_a_walk_keeps_what_it_collected() {
    let c = Cursor {
        high_water: Some(Mark { at: utc(8, 0, 0), ids: vec![] }),
        walk: Some(Walk {
            token: Some("t".into()),
            top: Some(Mark { at: utc(11, 0, 0), ids: vec!["n".into()] }),
            floor: Some(Mark { at: utc(10, 0, 0), ids: vec![] }),
            pages: 3,
        }),
        ..Cursor::default()
    };
    let (next, warning) = c.abandon_walk();
    assert!(next.walk.is_none());
    assert_eq!(next.high_water.unwrap().at, utc(11, 0, 0));
    assert!(warning.unwrap().contains("page token was refused"));
}

#[test]
fn the_cursor_serialises_compactly_and_reads_back() {
    assert_eq!(serde_json::to_string(&Cursor::default()).unwrap(), "{}");
    let c: Cursor = serde_json::from_str("{}").unwrap();
    assert_eq!(c, Cursor::default());
    // Unknown fields from a later version are ignored rather than losing the source.
    let c: Cursor = serde_json::from_str(r#"{"newest_id":"5","future":1}"#).unwrap();
    assert_eq!(c.newest_id.as_deref(), Some("5"));
}

// --- malformed payloads -----------------------------------------------------------

#[test]
fn pages_of_the_wrong_shape_are_errors_naming_the_api_and_the_field() {
    let cases: Vec<(SocialQuery, &str, &str)> = vec![
        (mastodon_tag(), r#"{"statuses": 3}"#, "Mastodon: unexpected response: `statuses` is not an array"),
        (mastodon_tag(), "42", "Mastodon: unexpected response: expected an array of statuses"),
        (bluesky(), r#"{"feed": []}"#, "Bluesky: unexpected response: no `posts` array"),
        (bluesky(), r#"{"posts": [], "cursor": 5}"#, "Bluesky: unexpected response: `cursor` is not a string"),
        (reddit(), r#"{"kind": "t3", "data": {}}"#, "Reddit: unexpected response: expected a `Listing`"),
        (reddit(), r#"{"kind": "Listing", "data": {"children": {}}}"#, "`data.children` is not an array"),
        (hn(), r#"{"hits": null}"#, "Hacker News: unexpected response: no `hits` array"),
        (youtube(), r#"{"kind": "youtube#videoListResponse", "items": []}"#, "not youtube#commentThreadListResponse"),
        (youtube(), r#"{"items": {}}"#, "YouTube: unexpected response: no `items` array"),
        (bluesky(), r#"{"posts": [ {"uri": "#, "Bluesky: unexpected response: the body is not valid JSON"),
        (hn(), "", "Hacker News: unexpected response: empty response body"),
    ];
    for (q, body, expected) in cases {
        let e = parse_page(&q, &Cursor::default(), 200, &[], body.as_bytes()).unwrap_err();
        assert!(e.to_string().contains(expected), "{e} should contain {expected:?}");
        assert!(matches!(e, SocialError::Shape { .. }), "{e:?}");
    }
}

#[test]
fn deeply_nested_json_is_an_error_not_a_crash() {
    let body = "[".repeat(100_000);
    let e = parse_page(&hn(), &Cursor::default(), 200, &[], body.as_bytes()).unwrap_err();
    assert!(matches!(e, SocialError::Shape { .. }), "{e:?}");
}

#[test]
fn a_bad_item_is_skipped_with_its_reason_and_the_rest_is_kept() {
    let body = json!({"posts": [
        bsky_post("good", "2026-03-03T10:00:00Z"),
        {"uri": "at://did:plc:abc/app.bsky.feed.like/x", "record": {"text": "t", "createdAt": "2026-03-03T10:00:00Z"}},
        {"uri": "at://did:plc:abc/app.bsky.feed.post/y", "record": {"text": "t", "createdAt": "yesterday"}},
        {"record": {"text": "t"}},
        bsky_post("good", "2026-03-03T10:00:00Z"),
        "not an object",
    ]});
    let p = ok(&bluesky(), &Cursor::default(), body.to_string().as_bytes());
    assert_eq!(p.items.len(), 1);
    assert_eq!(p.skipped.len(), 5, "{:?}", p.skipped);
    assert!(p.skipped[0].starts_with("item 1:") && p.skipped[0].contains("is not a post"), "{}", p.skipped[0]);
    assert!(p.skipped[1].contains("neither `record.createdAt` nor `indexedAt`"), "{}", p.skipped[1]);
    assert!(p.skipped[2].contains("no `uri`"));
    assert!(p.skipped[3].contains("the same id appears earlier"));

    let reddit_body = json!({"kind": "Listing", "data": {"after": null, "children": [
        {"kind": "t1", "data": {}},
        {"kind": "t3", "data": {"name": "t3_a", "title": "x", "permalink": "/r/x/comments/a/x/"}},
    ]}});
    let p = ok(&reddit(), &Cursor::default(), reddit_body.to_string().as_bytes());
    assert_eq!(p.skipped, ["item 0: kind \"t1\" is not a post (t3)", "item 1: no valid `created_utc`"]);

    let hn_body = json!({"hits": [{"objectID": "abc", "created_at_i": 1}, {"objectID": "5", "_tags": ["comment"], "created_at_i": 1}], "nbHits": 2});
    let p = ok(&hn(), &Cursor::default(), hn_body.to_string().as_bytes());
    assert!(
        p.skipped[0].contains("is not an item number") && p.skipped[1].contains("comment without"),
        "{:?}",
        p.skipped
    );

    let yt_body = json!({"kind": "youtube#commentThreadListResponse", "items": [{"id": "x", "snippet": {}}]});
    let p = ok(&youtube(), &Cursor::default(), yt_body.to_string().as_bytes());
    assert_eq!(p.skipped, ["item 0: no `snippet.topLevelComment`"]);

    let m = json!([{"id": "12", "content": "<p>x</p>"}, {"id": "../x", "content": "y", "created_at": "2026-03-03T10:00:00Z"}]);
    let p = ok(&mastodon_tag(), &Cursor::default(), m.to_string().as_bytes());
    assert_eq!(p.skipped, ["status 0 (12): no valid `created_at`", "status 1: no valid `id`"]);
    // The unreadable status still moves the mark: it will not get better.
    assert_eq!(p.next_cursor.newest_id.as_deref(), Some("12"));
}

#[test]
fn items_past_the_page_bound_are_skipped_not_read() {
    let posts: Vec<Value> =
        (0..MAX_ITEMS_PER_PAGE + 20).map(|i| bsky_post(&format!("p{i}"), "2026-03-03T10:00:00Z")).collect();
    let p = ok(&bluesky(), &Cursor::default(), json!({ "posts": posts }).to_string().as_bytes());
    assert_eq!(p.items.len(), MAX_ITEMS_PER_PAGE);
    assert_eq!(p.skipped, ["Bluesky: 20 items past the first 250 of the page not read"]);
}

#[test]
fn html_instead_of_json_is_named() {
    let e = parse_page(
        &reddit(),
        &Cursor::default(),
        200,
        &[("Content-Type".into(), "text/html".into())],
        &data("reddit/blocked.html"),
    )
    .unwrap_err();
    assert!(matches!(e, SocialError::NotJson { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "Reddit: the server answered with an HTML page instead of JSON (page titled \"Blocked\"; \
         Reddit blocks or throttles clients this way)"
    );
    assert!(e.is_transient());
    // Without a content type too.
    let e = parse_page(&hn(), &Cursor::default(), 200, &[], b"\n<html><body>hi</body></html>").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Hacker News: the server answered with an HTML page instead of JSON (is the API address right?)"
    );
}

// --- error statuses -------------------------------------------------------------

#[test]
fn auth_errors_say_what_to_do() {
    let e = err(&bluesky(), 403, &[], br#"{"error":"Forbidden","message":"Search requires authentication"}"#);
    assert_eq!(
        e.to_string(),
        "Bluesky: HTTP 403: authentication required or access refused (Search requires authentication)"
    );
    let e = err(&youtube(), 400, &[], &data("youtube/error_key_invalid.json"));
    assert!(matches!(e, SocialError::Auth { status: 400, .. }), "{e:?}");
    assert!(e.to_string().contains("API key is invalid"), "{e}");
    let e = err(&youtube(), 403, &[], br#"{"error":{"code":403,"message":"YouTube Data API v3 has not been used in project 1 before or it is disabled.","errors":[{"reason":"accessNotConfigured"}]}}"#);
    assert!(e.to_string().contains("check that the YouTube Data API v3 is enabled"), "{e}");
    assert!(!e.is_transient());
}

#[test]
fn rate_limits_carry_retry_after() {
    let e = err(
        &bluesky(),
        429,
        &[("Retry-After", "120")],
        br#"{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}"#,
    );
    assert_eq!(e.retry_after(), Some(RetryAfter::Delay(Duration::from_secs(120))));
    assert_eq!(e.to_string(), "Bluesky: HTTP 429: rate limited: Rate Limit Exceeded (retry after 120 s)");
    assert!(e.is_transient() && e.is_quota_limited());
    let e = err(&hn(), 429, &[("retry-after", "Tue, 03 Mar 2026 12:00:00 GMT")], b"");
    assert_eq!(e.retry_after(), Some(RetryAfter::At(utc(12, 0, 0))));
    // Reddit's own header when there is no Retry-After.
    let e = err(
        &reddit(),
        429,
        &[("x-ratelimit-remaining", "0.0"), ("x-ratelimit-reset", "312")],
        b"<html>Too Many Requests</html>",
    );
    assert_eq!(e.retry_after(), Some(RetryAfter::Delay(Duration::from_secs(312))));
}

#[test]
fn youtube_quota_and_other_google_errors_are_told_apart() {
    let e = err(&youtube(), 403, &[], &data("youtube/error_quota_exceeded.json"));
    assert!(matches!(e, SocialError::QuotaExceeded { status: 403, .. }), "{e:?}");
    assert!(e.to_string().starts_with("YouTube: HTTP 403: quota exceeded: The request cannot be completed"), "{e}");
    assert!(e.is_transient() && e.is_quota_limited());

    let e = err(&youtube(), 403, &[], &data("youtube/error_comments_disabled.json"));
    assert!(matches!(e, SocialError::Auth { .. }), "{e:?}");
    assert!(e.to_string().contains("has disabled comments"), "{e}");

    // A refused page token during a walk asks for the walk to restart; outside one it is a plain 400.
    let body = data("youtube/error_invalid_page_token.json");
    let walking = Cursor { walk: Some(Walk { token: Some("old".into()), ..Walk::default() }), ..Cursor::default() };
    let e = parse_page(&youtube(), &walking, 400, &[], &body).unwrap_err();
    assert!(matches!(e, SocialError::StalePageToken { .. }), "{e:?}");
    let e = err(&youtube(), 400, &[], &body);
    assert_eq!(e.to_string(), "YouTube: HTTP 400: The request specifies an invalid page token.");
}

#[test]
fn server_errors_are_transient_and_other_statuses_are_not() {
    let e = err(&reddit(), 503, &[("Retry-After", "30")], b"<html>upstream</html>");
    assert_eq!(e.to_string(), "Reddit: HTTP 503: server error (retry after 30 s)");
    assert!(e.is_transient() && !e.is_quota_limited());
    let e = err(&hn(), 500, &[], b"");
    assert_eq!(e.to_string(), "Hacker News: HTTP 500: server error");
    let e = err(&hn(), 400, &[], &data("hackernews/error_400.json"));
    assert_eq!(e.to_string(), "Hacker News: HTTP 400: Invalid syntax for numeric value: 'created_at_i>=abc'");
    assert!(!e.is_transient());
    let e = err(&bluesky(), 400, &[], &data("bluesky/error_invalid_request.json"));
    assert_eq!(e.to_string(), "Bluesky: HTTP 400: Error: q must not be empty");
    let e = err(&mastodon_tag(), 404, &[], b"<html>not found</html>");
    assert_eq!(e.to_string(), "Mastodon: HTTP 404");
}

// --- simulated APIs: many runs, arrivals during walks, restarts --------------------

/// A deterministic pseudo-random sequence (no dependency needed).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// The platform's side: every item ever published, and a clock.
struct Timeline {
    items: Vec<(DateTime<Utc>, u64)>,
    clock: DateTime<Utc>,
    next_id: u64,
    /// Time steps are whole seconds (HN) or can be zero (several items at one time).
    step_ms: i64,
}

impl Timeline {
    fn publish(&mut self, rng: &mut Lcg, n: u64) {
        for _ in 0..n {
            // Often several items at the same time, to exercise the equal-time ids.
            if rng.next(3) != 0 {
                self.clock += chrono::Duration::milliseconds(self.step_ms * (1 + rng.next(3) as i64));
            }
            self.next_id += 1;
            self.items.push((self.clock, self.next_id));
        }
    }
    /// Newest first, as every API lists.
    fn listing(&self) -> Vec<(DateTime<Utc>, u64)> {
        let mut v = self.items.clone();
        v.sort_by(|a, b| b.cmp(a));
        v
    }
}

const SIM_PAGE: usize = 4;

/// Serves `url` the way the real API pages, in its JSON shape.
fn serve(api: Api, url: &Url, tl: &Timeline) -> Value {
    let list = tl.listing();
    let offset_page = |token: Option<String>| {
        let offset: usize = token.map(|t| t.parse().unwrap()).unwrap_or(0);
        let page: Vec<_> = list.iter().skip(offset).take(SIM_PAGE).copied().collect();
        let next = (offset + SIM_PAGE < list.len()).then(|| (offset + SIM_PAGE).to_string());
        (page, next)
    };
    match api {
        Api::Mastodon => {
            // min_id: the statuses immediately newer, newest first.
            let page: Vec<_> = match param(url, "min_id") {
                Some(min) => {
                    let min: u64 = min.parse().unwrap();
                    let mut newer: Vec<_> = list.iter().filter(|(_, id)| *id > min).copied().collect();
                    newer.reverse();
                    newer.truncate(SIM_PAGE);
                    newer.reverse();
                    newer
                }
                None => list.iter().take(SIM_PAGE).copied().collect(),
            };
            Value::Array(
                page.iter()
                    .map(|(at, id)| {
                        json!({"id": id.to_string(), "created_at": at.to_rfc3339(), "content": format!("<p>{id}</p>"),
                               "url": format!("https://m.example/@a/{id}"), "account": {"acct": "a"}})
                    })
                    .collect(),
            )
        }
        Api::Bluesky => {
            let (page, next) = offset_page(param(url, "cursor"));
            let posts: Vec<Value> = page
                .iter()
                .map(|(at, id)| {
                    json!({"uri": format!("at://did:plc:a/app.bsky.feed.post/{id}"), "author": {"handle": "a.test"},
                           "record": {"text": "t", "createdAt": at.to_rfc3339()}, "indexedAt": at.to_rfc3339()})
                })
                .collect();
            json!({"posts": posts, "cursor": next})
        }
        Api::YouTube => {
            let (page, next) = offset_page(param(url, "pageToken"));
            let items: Vec<Value> = page
                .iter()
                .map(|(at, id)| {
                    json!({"id": id.to_string(), "snippet": {"videoId": "v", "topLevelComment": {"id": id.to_string(),
                           "snippet": {"textDisplay": "t", "publishedAt": at.to_rfc3339()}}}})
                })
                .collect();
            json!({"kind": "youtube#commentThreadListResponse", "items": items, "nextPageToken": next})
        }
        Api::Reddit => {
            // after=<fullname>: the items after that one (anchored, not an offset).
            let start = match param(url, "after") {
                Some(after) => {
                    list.iter().position(|(_, id)| format!("t3_{id}") == after).map(|p| p + 1).unwrap_or(list.len())
                }
                None => 0,
            };
            let page: Vec<_> = list.iter().skip(start).take(SIM_PAGE).copied().collect();
            let after = (start + SIM_PAGE < list.len()).then(|| format!("t3_{}", page.last().unwrap().1));
            let children: Vec<Value> = page
                .iter()
                .map(|(at, id)| {
                    json!({"kind": "t3", "data": {"name": format!("t3_{id}"), "title": "t",
                           "permalink": format!("/r/x/comments/{id}/t/"), "created_utc": at.timestamp_millis() as f64 / 1000.0}})
                })
                .collect();
            json!({"kind": "Listing", "data": {"after": after, "children": children}})
        }
        Api::HackerNews => {
            let (mut lo, mut hi) = (i64::MIN, i64::MAX);
            for f in param(url, "numericFilters").unwrap_or_default().split(',').filter(|f| !f.is_empty()) {
                if let Some(v) = f.strip_prefix("created_at_i>=") {
                    lo = v.parse().unwrap();
                } else if let Some(v) = f.strip_prefix("created_at_i<=") {
                    hi = v.parse().unwrap();
                } else {
                    panic!("unexpected filter {f}");
                }
            }
            let window: Vec<_> = list.iter().filter(|(at, _)| (lo..=hi).contains(&at.timestamp())).copied().collect();
            let page: usize = param(url, "page").map(|p| p.parse().unwrap()).unwrap_or(0);
            let hits: Vec<Value> = window
                .iter()
                .skip(page * SIM_PAGE)
                .take(SIM_PAGE)
                .map(|(at, id)| {
                    json!({"objectID": id.to_string(), "created_at_i": at.timestamp(), "title": "t", "_tags": ["story"]})
                })
                .collect();
            json!({"hits": hits, "nbHits": window.len(), "hitsPerPage": SIM_PAGE, "page": page})
        }
    }
}

/// Runs `q` against a simulated platform; returns how many HN requests took a `page` within a window.
fn simulate(q: &SocialQuery, seed: u64) -> usize {
    let api = q.api();
    let mut rng = Lcg(seed);
    let step_ms = if api == Api::HackerNews { 1000 } else { 7 };
    let mut tl = Timeline { items: Vec::new(), clock: utc(8, 0, 0), next_id: 1000, step_ms };
    let base = Url::parse("http://127.0.0.1:9/").unwrap();
    let endpoints = Endpoints::all_at(&base);
    // Before the first run: no more than one page, which a new source takes whole.
    let n = 1 + rng.next(SIM_PAGE as u64);
    tl.publish(&mut rng, n);
    let mut cursor = Cursor::default();
    let mut collected: Vec<u64> = Vec::new();
    let mut quiet_runs = 0;
    let mut resumed_walks = 0;
    let mut window_pages = 0;
    for run in 0..400 {
        cursor = restart(&cursor);
        resumed_walks += usize::from(cursor.walking());
        let mut fetched_any = false;
        for _page in 0..3 {
            let q = match q {
                SocialQuery::Mastodon { hashtag, search, .. } => {
                    SocialQuery::Mastodon { instance: base.clone(), hashtag: hashtag.clone(), search: search.clone() }
                }
                other => other.clone(),
            };
            let req = next_request_with(&q, &cursor, &endpoints).unwrap();
            window_pages += usize::from(param(&req.url, "page").is_some());
            let body = serve(api, &req.url, &tl).to_string();
            let page = parse_page(&q, &cursor, 200, &[], body.as_bytes()).unwrap();
            assert!(page.skipped.is_empty(), "{api}: {:?}", page.skipped);
            assert!(page.warnings.is_empty(), "{api} seed {seed} run {run}: {:?}", page.warnings);
            for item in &page.items {
                let id = item.source_item_id.as_deref().unwrap();
                let n = id.rsplit(['/', '_']).next().unwrap().parse::<u64>().unwrap();
                collected.push(n);
                fetched_any = true;
            }
            cursor = page.next_cursor;
            // Items also arrive while a walk is under way.
            if run < 300 && rng.next(3) == 0 {
                let n = rng.next(3);
                tl.publish(&mut rng, n);
            }
            if !page.more {
                break;
            }
        }
        if run < 300 {
            // Mostly quiet, with bursts bigger than a run can fetch: walks then span runs.
            // (Offset cursors re-serve a burst's worth of items: bursts of many
            // pages between runs would make walks hit MAX_WALK_PAGES, by design.)
            let n = if rng.next(8) == 0 { 8 + rng.next(10) } else { rng.next(4) };
            tl.publish(&mut rng, n);
        } else if !fetched_any && !cursor.walking() {
            quiet_runs += 1;
            if quiet_runs == 2 {
                break;
            }
        }
    }
    if api != Api::Mastodon {
        assert!(resumed_walks > 5, "{api} seed {seed}: only {resumed_walks} walks spanned runs");
    }
    let mut seen = HashSet::new();
    for id in &collected {
        assert!(seen.insert(*id), "{api} seed {seed}: item {id} collected twice");
    }
    let all: HashSet<u64> = tl.items.iter().map(|(_, id)| *id).collect();
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "{api} seed {seed}: {} items never collected: {missing:?}", missing.len());
    window_pages
}

#[test]
fn simulated_runs_with_arrivals_and_restarts_collect_everything_exactly_once() {
    let queries = [
        SocialQuery::Mastodon {
            instance: Url::parse("http://127.0.0.1:9/").unwrap(),
            hashtag: Some("acme".into()),
            search: None,
        },
        bluesky(),
        reddit(),
        hn(),
        youtube(),
    ];
    for q in &queries {
        let window_pages: usize = (1..=6).map(|seed| simulate(q, seed)).sum();
        if q.api() == Api::HackerNews {
            assert!(window_pages > 0, "the crowded-second case was not exercised");
        }
    }
}

//! HTML pages read with CSS selectors: the recorded-style pages of
//! `testdata/html/` (a review site, a phpBB thread, a hostile Latin-1 guest
//! book) and small pages built in the tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use url::Url;
use vigie_collect::html::{
    self, CompiledSelectors, HtmlError, MAX_ITEMS, MAX_PAGE_BYTES, MAX_TEXT_BYTES, MAX_TITLE_BYTES, ParsedPage,
    Selectors, SkipReason,
};
use vigie_model::SourceKind;

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/html/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap()
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<DateTime<Utc>> {
    Some(Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap())
}

fn sel(item: &str, fields: &[(&str, &str)]) -> CompiledSelectors {
    let mut s = Selectors { item: item.into(), ..Selectors::default() };
    for (field, value) in fields {
        let value = Some(value.to_string());
        match *field {
            "title" => s.title = value,
            "text" => s.text = value,
            "author" => s.author = value,
            "date" => s.date = value,
            "link" => s.link = value,
            other => panic!("no field {other}"),
        }
    }
    s.compile().unwrap_or_else(|e| panic!("{e}"))
}

fn extract(body: &[u8], page: &str, selectors: &CompiledSelectors) -> ParsedPage {
    html::extract(body, None, &Url::parse(page).unwrap(), selectors, SourceKind::Web, now())
        .unwrap_or_else(|e| panic!("{e}"))
}

const REVIEW_PAGE: &str = "https://www.avisclients.example/avis/brasserie-dupont-lyon";

fn review_selectors() -> CompiledSelectors {
    sel(
        "article.review-card",
        &[
            ("title", "h2.review-title"),
            ("text", "p.review-text"),
            ("author", "span.consumer-name"),
            ("date", "time.review-date"),
            ("link", "a.review-link"),
        ],
    )
}

#[test]
fn review_site_every_field() {
    let page = html::extract(
        &data("review_site_fr.html"),
        Some("text/html; charset=utf-8"),
        &Url::parse(REVIEW_PAGE).unwrap(),
        &review_selectors(),
        SourceKind::Review,
        now(),
    )
    .unwrap();
    assert_eq!(page.title.as_deref(), Some("Brasserie Dupont – Avis clients | AvisClients.example"));
    assert_eq!(page.items.len(), 5, "{:#?}", page.items);

    let first = &page.items[0];
    assert_eq!(first.source_item_id.as_deref(), Some("https://www.avisclients.example/avis/8f3a2c"));
    assert_eq!(first.url.as_deref(), Some("https://www.avisclients.example/avis/8f3a2c"));
    assert_eq!(first.title.as_deref(), Some("Service très lent et serveur désagréable"));
    assert_eq!(
        first.text,
        "Nous avons attendu 50 minutes pour deux plats du jour.\n\
         Le serveur nous a répondu « c’est samedi, fallait réserver ». Plus jamais."
    );
    assert!(first.plain_text);
    assert_eq!(first.author.as_deref(), Some("Camille R."));
    assert_eq!(first.published_at, Some(Utc.with_ymd_and_hms(2026, 3, 12, 9, 14, 22).unwrap()));
    assert_eq!(first.source_kind, Some(SourceKind::Review));
    assert_eq!(first.site.as_deref(), Some("www.avisclients.example"));
    assert_eq!(first.lang, None);

    // Relative dates count back from `now`; the absolute link is kept as given.
    let second = &page.items[1];
    assert_eq!(second.author.as_deref(), Some("Jean-Marc P."));
    assert_eq!(second.published_at, Some(now() - TimeDelta::days(3)));
    let third = &page.items[2];
    assert_eq!(third.url.as_deref(), Some("https://www.avisclients.example/avis/77b0e1?src=list"));
    assert_eq!(third.published_at, Some(now() - TimeDelta::hours(2)));
    // Every match of the text selector, one per line; the company's reply is not one.
    assert_eq!(
        third.text,
        "Trois euros le café, et on nous a facturé un dessert que nous n’avions pas pris.\n\
         Réponse de l’établissement ci-dessous."
    );
    assert_eq!(page.items[3].published_at, at(2026, 2, 1, 0, 0, 0));
    assert_eq!(page.items[3].text, "Menu du midi à 16 €, copieux. Un peu bruyant.");

    // A date years ahead is a typo of the page: left out, said.
    let typo = &page.items[4];
    assert_eq!(typo.title.as_deref(), Some("Correct sans plus"));
    assert_eq!(typo.published_at, None);
    assert_eq!(page.warnings.len(), 1, "{:?}", page.warnings);
    assert!(
        page.warnings[0].starts_with("item 6: date `2062-03-10T12:00:00Z` is in the future"),
        "{:?}",
        page.warnings
    );

    // The featured review repeated in the list, and the empty ad slot.
    assert_eq!(page.skipped.len(), 2, "{:?}", page.skipped);
    assert_eq!(page.skipped[0].index, 3);
    assert_eq!(page.skipped[0].reason, SkipReason::DuplicateId);
    assert_eq!(page.skipped[0].id.as_deref(), Some("https://www.avisclients.example/avis/8f3a2c"));
    assert_eq!(page.skipped[1].index, 6);
    assert_eq!(page.skipped[1].reason, SkipReason::NoTitleNorText);

    // Nothing from scripts, styles, JSON-LD or buttons.
    for item in &page.items {
        for banned in ["INITIAL_STATE", "@context", "border:", "Utile", "Partager", "★"] {
            assert!(!item.text.contains(banned), "{banned} in {:?}", item.text);
        }
    }
}

#[test]
fn the_whole_item_is_the_text_without_a_text_selector() {
    let page = extract(&data("review_site_fr.html"), REVIEW_PAGE, &sel("article.review-card", &[]));
    let first = &page.items[0];
    assert_eq!(first.title, None);
    assert_eq!(first.url, None);
    // Inline elements run together as on an unstyled page; blocks are lines.
    assert!(first.text.starts_with("Camille R.FR · 4 avis\n12 mars 2026\nService très lent"), "{:?}", first.text);
    assert!(first.text.contains("Date de l’expérience : 8 mars 2026"), "{:?}", first.text);
    assert!(!first.text.contains("Utile"), "button text: {:?}", first.text);
    // Without links the id is a content hash. The featured review's copy in
    // the list is shorter, so it is not recognised as the same review.
    assert_eq!(first.source_item_id.as_ref().map(String::len), Some(64));
    assert_eq!(page.items.len(), 6);
    assert_eq!(page.skipped.len(), 1);
    assert_eq!(page.skipped[0].reason, SkipReason::NoTitleNorText);
}

#[test]
fn attribute_selectors_read_attributes() {
    let selectors = sel(
        "article.review-card",
        &[
            ("title", "div.star-rating@aria-label"),
            ("date", "time@datetime"),
            ("link", "@data-review-id"),
            ("author", "a.consumer-profile@HREF"),
        ],
    );
    let page = extract(&data("review_site_fr.html"), REVIEW_PAGE, &selectors);
    let first = &page.items[0];
    assert_eq!(first.title.as_deref(), Some("Noté 1 sur 5 étoiles"));
    assert_eq!(first.author.as_deref(), Some("/utilisateurs/5e1b77"));
    assert_eq!(first.published_at, at(2026, 3, 12, 9, 14, 22));
    // The item's own `data-review-id`, resolved against the page.
    assert_eq!(first.url.as_deref(), Some("https://www.avisclients.example/avis/8f3a2c"));
    // No `datetime` attribute: no date, and nothing to warn about.
    let second = &page.items[1];
    assert_eq!(second.title.as_deref(), Some("Noté 5 sur 5 étoiles"));
    assert_eq!(second.published_at, None);
    assert!(!page.warnings.iter().any(|w| w.contains("item 2:")), "{:?}", page.warnings);
}

#[test]
fn broken_selectors_name_the_field() {
    for field in ["item", "title", "text", "author", "date", "link"] {
        let mut s = Selectors { item: "article".into(), ..Selectors::default() };
        let broken = Some("div[".to_string());
        match field {
            "item" => s.item = "div[".into(),
            "title" => s.title = broken,
            "text" => s.text = broken,
            "author" => s.author = broken,
            "date" => s.date = broken,
            _ => s.link = broken,
        }
        let err = s.compile().unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with(&format!("{field} selector `div[`: ")), "{message}");
        assert!(message.contains("ends too early"), "{message}");
        assert!(matches!(err, HtmlError::Selector { field: f, .. } if f == field));
    }
    let message = |s: Selectors| s.compile().unwrap_err().to_string();
    let base = || Selectors { item: "article".into(), ..Selectors::default() };
    assert_eq!(
        message(Selectors { item: "  ".into(), ..Selectors::default() }),
        "item selector (empty): name the element that holds one review or post (e.g. `article.review`)"
    );
    assert!(
        message(Selectors { date: Some("time@".into()), ..base() })
            .starts_with("date selector `time@`: nothing after `@`")
    );
    assert!(
        message(Selectors { item: "article@id".into(), ..Selectors::default() })
            .contains("item selector picks elements")
    );
    assert!(message(Selectors { title: Some("h2:frobnicate".into()), ..base() }).contains("unsupported pseudo-class"));
    assert!(message(Selectors { author: Some("span >".into()), ..base() }).starts_with("author selector `span >`: "));
    // Blank optional selectors are absent, not errors.
    assert!(Selectors { title: Some(" ".into()), ..base() }.compile().is_ok());
}

#[test]
fn selectors_config_rejects_unknown_keys() {
    let ok: Selectors = serde_json::from_str(r#"{"item": "div.post", "date": "time"}"#).unwrap();
    assert_eq!(ok.date.as_deref(), Some("time"));
    let err = serde_json::from_str::<Selectors>(r#"{"item": "div.post", "titel": "h3"}"#).unwrap_err();
    assert!(err.to_string().contains("titel"), "{err}");
    assert_eq!(serde_json::to_string(&ok).unwrap(), r#"{"item":"div.post","date":"time"}"#);
}

const THREAD_PAGE: &str = "https://forum.lyon-gourmand.example/viewtopic.php?t=5678";

#[test]
fn phpbb_thread() {
    let selectors = sel(
        "div.post",
        &[
            ("title", "h3 a"),
            ("text", "div.content"),
            ("author", "dt a.username, dt a.username-coloured, dt span.username"),
            ("date", "time"),
            ("link", "p.author > a.unread"),
        ],
    );
    let page = html::extract(
        &data("forum_thread_phpbb.html"),
        None,
        &Url::parse(THREAD_PAGE).unwrap(),
        &selectors,
        SourceKind::Forum,
        now(),
    )
    .unwrap();
    assert!(page.warnings.is_empty(), "{:?}", page.warnings);
    assert!(page.skipped.is_empty(), "{:?}", page.skipped);
    let authors: Vec<_> = page.items.iter().map(|i| i.author.as_deref().unwrap()).collect();
    assert_eq!(authors, ["sylvain69", "Mod_Gones", "Léa_Croix-Rousse", "Invité"]);

    let first = &page.items[0];
    // `./viewtopic.php?p=…#p…` resolved against the thread's address.
    assert_eq!(first.url.as_deref(), Some("https://forum.lyon-gourmand.example/viewtopic.php?p=20311#p20311"));
    assert_eq!(first.source_item_id, first.url);
    assert_eq!(first.title.as_deref(), Some("Brasserie Dupont (Lyon 2e) : vos avis ?"));
    assert_eq!(
        first.text,
        "Bonsoir à tous,\nQuelqu'un a testé la Brasserie Dupont depuis le changement de propriétaire ? \
         On y allait souvent avant, la bavette était top."
    );
    assert_eq!(first.published_at, at(2026, 3, 10, 18, 42, 10));
    assert_eq!(first.source_kind, Some(SourceKind::Forum));
    assert_eq!(first.site.as_deref(), Some("forum.lyon-gourmand.example"));

    // Quotes are part of the post; the signature and the edit notice are not.
    let reply = &page.items[1];
    assert!(reply.text.starts_with("sylvain69 a écrit :"), "{:?}", reply.text);
    assert!(reply.text.ends_with("service très lent (1 h pour un plat), et la bavette était trop cuite. Dommage."));
    assert!(!page.items[0].text.contains("bonheur est dans l'assiette"));
    assert_eq!(page.items[2].text, "Pareil, déçue. Par contre les desserts restent très bons :)\nphoto du tiramisu");
    assert_eq!(page.items[3].published_at, at(2026, 3, 15, 6, 1, 0));
}

#[test]
fn link_defaults_to_the_item_or_the_title_link() {
    // No link selector: the title is a link, so it is the item's link.
    let page = extract(&data("forum_thread_phpbb.html"), THREAD_PAGE, &sel("div.post", &[("title", "h3 a")]));
    assert_eq!(page.items[1].url.as_deref(), Some("https://forum.lyon-gourmand.example/viewtopic.php?p=20318#p20318"));
    // The item itself is a link.
    let body = br#"<ul><li><a class="r" href="/r/1">Un</a></li><li><a class="r" href="/r/2">Deux</a></li></ul>"#;
    let page = extract(body, "https://example.org/list", &sel("a.r", &[]));
    let urls: Vec<_> = page.items.iter().map(|i| i.url.as_deref().unwrap()).collect();
    assert_eq!(urls, ["https://example.org/r/1", "https://example.org/r/2"]);
    // A link selector that matches a container reads the first link inside it.
    let body = br#"<div class="c"><h2 class="t"><span><a href="p/7">Titre</a></span></h2>corps</div>"#;
    let page = extract(body, "https://example.org/a/", &sel("div.c", &[("link", "h2.t")]));
    assert_eq!(page.items[0].url.as_deref(), Some("https://example.org/a/p/7"));
}

#[test]
fn the_date_is_the_first_value_that_reads_as_one() {
    let body = r#"<div class=r><p>a</p><time datetime="2026-03-01T08:00:00Z" title="1 mars">x</time></div>
        <div class=r><p>b</p><span class=d title="Voir le message">il y a 2 jours</span></div>
        <div class=r><p>c</p><span class=d title="Voir le message">jamais</span></div>"#;
    let selectors = sel("div.r", &[("text", "p"), ("date", "time, span.d")]);
    let page = extract(body.as_bytes(), "https://example.org/", &selectors);
    assert_eq!(page.items[0].published_at, at(2026, 3, 1, 8, 0, 0));
    // The tooltip is not a date; the text is.
    assert_eq!(page.items[1].published_at, Some(now() - TimeDelta::days(2)));
    assert_eq!(page.items[2].published_at, None);
    assert_eq!(page.warnings, ["item 3: date `Voir le message` not understood; left empty"]);
}

#[test]
fn anchors_of_the_page_are_ids_not_urls() {
    let body = br##"<div class="r"><a href="#avis-1">#</a><p>Premier avis</p></div>
        <div class="r"><a href="#avis-2">#</a><p>Second avis</p></div>
        <div class="r"><a href="#">#</a><p>Sans ancre</p></div>
        <div class="r"><a href="https://example.org/avis#avis-4">#</a><p>Meme page, absolu</p></div>"##;
    let page = extract(body, "https://example.org/avis", &sel("div.r", &[("link", "a"), ("text", "p")]));
    assert_eq!(page.items.len(), 4);
    assert_eq!(page.items[0].source_item_id.as_deref(), Some("https://example.org/avis#avis-1"));
    assert_eq!(page.items[0].url, None);
    assert_eq!(page.items[1].source_item_id.as_deref(), Some("https://example.org/avis#avis-2"));
    // `#` alone says nothing: a content hash.
    assert_eq!(page.items[2].source_item_id.as_ref().map(String::len), Some(64));
    assert_eq!(page.items[2].url, None);
    assert_eq!(page.items[3].source_item_id.as_deref(), Some("https://example.org/avis#avis-4"));
    assert_eq!(page.items[3].url, None);
}

#[test]
fn content_ids_tell_authors_apart_and_skip_repeats() {
    let body = "<div class=r><b>Alice</b><p>Parfait</p></div>\
                <div class=r><b>Bruno</b><p>Parfait</p></div>\
                <div class=r><b>Alice</b><p>Parfait</p></div>";
    let selectors = sel("div.r", &[("author", "b"), ("text", "p")]);
    let page = extract(body.as_bytes(), "https://example.org/", &selectors);
    assert_eq!(page.items.len(), 2);
    assert_ne!(page.items[0].source_item_id, page.items[1].source_item_id);
    assert_eq!(page.skipped.len(), 1);
    assert_eq!(page.skipped[0].index, 2);
    assert_eq!(page.skipped[0].reason, SkipReason::DuplicateId);
    assert_eq!(page.skipped[0].id, page.items[0].source_item_id);
    // The same content gives the same id on the next fetch.
    let again = extract(body.as_bytes(), "https://example.org/", &selectors);
    assert_eq!(again.items[0].source_item_id, page.items[0].source_item_id);
}

const GUESTBOOK: &str = "http://brasserie-dupont.example/livre-dor/index.php";

fn guestbook_selectors() -> CompiledSelectors {
    sel(
        "div.entry",
        &[
            ("title", "h3"),
            ("text", "div.message"),
            ("author", "span.auteur"),
            ("date", "span.date"),
            ("link", "a.permalien"),
        ],
    )
}

#[test]
fn latin1_page_is_decoded_from_its_meta_declaration() {
    let page = extract(&data("hostile_latin1.html"), GUESTBOOK, &guestbook_selectors());
    assert_eq!(page.title.as_deref(), Some("Livre d'or - Brasserie Dupont"));
    let first = &page.items[0];
    assert_eq!(first.title.as_deref(), Some("Très bonne soirée"));
    assert_eq!(first.author.as_deref(), Some("Françoise"));
    // ISO-8859-1 is read as windows-1252, as browsers do: byte 0x80 is €.
    assert_eq!(first.text, "Accueil très sympa, crème brûlée parfaite. Menu à 25 € boissons comprises. À bientôt !");
    assert_eq!(first.published_at, at(2026, 3, 12, 14, 30, 0));
    assert!(page.items[2].text.contains("sœur et cœur"), "{:?}", page.items[2].text);
    assert!(!page.warnings.iter().any(|w| w.contains("not valid")), "{:?}", page.warnings);
}

#[test]
fn the_http_charset_wins_over_the_meta_declaration() {
    let page = html::extract(
        &data("hostile_latin1.html"),
        Some("text/html; charset=UTF-8"),
        &Url::parse(GUESTBOOK).unwrap(),
        &guestbook_selectors(),
        SourceKind::Web,
        now(),
    )
    .unwrap();
    assert_eq!(page.items[0].title.as_deref(), Some("Tr\u{FFFD}s bonne soir\u{FFFD}e"));
    assert!(
        page.warnings.iter().any(|w| w == "the page is not valid UTF-8: bytes that could not be decoded were replaced"),
        "{:?}",
        page.warnings
    );
    // A byte order mark wins over both.
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice("<meta charset=iso-8859-1><div class=entry><h3>Été</h3></div>".as_bytes());
    let page = html::extract(
        &body,
        Some("text/html; charset=iso-8859-1"),
        &Url::parse(GUESTBOOK).unwrap(),
        &guestbook_selectors(),
        SourceKind::Web,
        now(),
    )
    .unwrap();
    assert_eq!(page.items[0].title.as_deref(), Some("Été"));
}

#[test]
fn hostile_content_stays_text() {
    let page = extract(&data("hostile_latin1.html"), GUESTBOOK, &guestbook_selectors());
    assert_eq!(page.items.len(), 4, "{:#?}", page.items);

    // javascript:, data: and vbscript: links are dropped with a warning; the items stay.
    let first = &page.items[0];
    assert_eq!(first.url, None);
    assert_eq!(first.source_item_id.as_ref().map(String::len), Some(64));
    assert_eq!(page.items[1].url, None);
    assert_eq!(page.items[3].url, None);
    let warned = |needle: &str| page.warnings.iter().any(|w| w.contains(needle));
    assert!(
        warned("item 1: link `javascript:alert(document.cookie)` is not an http(s) address; dropped"),
        "{:?}",
        page.warnings
    );
    assert!(warned("item 2: link `data:text/html;base64,"), "{:?}", page.warnings);
    assert!(warned("item 4: link `vbscript:msgbox(1)` is not an http(s) address"), "{:?}", page.warnings);
    // A relative link with spaces around it is trimmed and resolved.
    assert_eq!(
        page.items[2].url.as_deref(),
        Some("http://brasserie-dupont.example/livre-dor/message.php?id=3&lang=fr")
    );

    // Escaped markup is text; real markup, scripts and embedded content are gone.
    let second = &page.items[1];
    assert_eq!(second.title.as_deref(), Some("Cliquez ici"));
    assert_eq!(second.author.as_deref(), Some("Gérard"));
    assert_eq!(second.text, "Le texte <script>alert(3)</script> doit rester du texte. Service rapide.");
    assert_eq!(second.published_at, at(2026, 3, 14, 9, 5, 0));
    let everything: String = page.items.iter().map(|i| format!("{:?} {} {:?}", i.title, i.text, i.author)).collect();
    for banned in [
        "alert(1)",
        "alert(2)",
        "alert('xss')",
        "alert(4)",
        "evil.example",
        "onload",
        "onerror",
        "Activez",
        "cadre",
        "objet",
        "modèle caché",
        "texte svg",
        "display:none",
        "\u{202E}",
        "\u{200B}",
    ] {
        assert!(!everything.contains(banned), "{banned:?} in {everything}");
    }

    // Bidi overrides and zero-width characters are removed; entities decoded.
    let third = &page.items[2];
    assert_eq!(third.title.as_deref(), Some("Avisgnorw masqué"));
    assert_eq!(third.author.as_deref(), Some("Zoé & Co"));
    assert_eq!(third.text, "Caractères invisibles ici ; sœur et cœur. Fin.");
    assert_eq!(third.published_at, None);
    assert!(warned("item 3: date `31/02/2026` not understood; left empty"), "{:?}", page.warnings);

    // The unclosed heading swallowed its entry: still one bounded line.
    let fourth = &page.items[3];
    assert!(fourth.title.as_deref().unwrap().starts_with("Entrée mal fermée Anonyme"), "{:?}", fourth.title);
    assert!(!fourth.title.as_deref().unwrap().contains('\n'));
    assert!(warned("item 4: date `vbscript` not understood"), "{:?}", page.warnings);

    // The empty entry after the table.
    assert_eq!(page.skipped.len(), 1);
    assert_eq!(page.skipped[0].reason, SkipReason::NoTitleNorText);
}

#[test]
fn items_are_capped_per_page() {
    let body: String = (0..MAX_ITEMS + 500).map(|i| format!("<li class=i>avis {i}</li>")).collect();
    let started = Instant::now();
    let page = extract(format!("<ul>{body}</ul>").as_bytes(), "https://example.org/", &sel("li.i", &[]));
    assert_eq!(page.items.len(), MAX_ITEMS);
    assert_eq!(page.items[MAX_ITEMS - 1].text, format!("avis {}", MAX_ITEMS - 1));
    assert_eq!(
        page.warnings,
        ["the item selector `li.i` matches more than 1000 elements; only the first 1000 were read"]
    );
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
}

#[test]
fn fields_are_bounded() {
    let long_title = "titre ".repeat(1000);
    let long_text = "mot ".repeat(60_000);
    let body = format!("<div class=r><h2>{long_title}</h2><p>{long_text}</p></div>");
    let page = extract(body.as_bytes(), "https://example.org/", &sel("div.r", &[("title", "h2"), ("text", "p")]));
    let item = &page.items[0];
    let title = item.title.as_deref().unwrap();
    assert!(title.len() <= MAX_TITLE_BYTES && title.ends_with('…'), "{}", title.len());
    assert!(item.text.len() <= MAX_TEXT_BYTES && item.text.ends_with('…'), "{}", item.text.len());
    assert!(page.warnings.iter().any(|w| w == "item 1: text cut at 100.0 KiB"), "{:?}", page.warnings);
}

#[test]
fn scope_and_nested_text_matches() {
    // `:scope >` keeps the item's own paragraphs; a match inside an earlier
    // match is not read twice.
    let body = "<div class=r><p>un</p><blockquote><p>cité</p></blockquote><p>deux</p></div>";
    let page = extract(body.as_bytes(), "https://example.org/", &sel("div.r", &[("text", ":scope > p")]));
    assert_eq!(page.items[0].text, "un\ndeux");
    let page = extract(body.as_bytes(), "https://example.org/", &sel("div.r", &[("text", "p, blockquote")]));
    assert_eq!(page.items[0].text, "un\ncité\ndeux");
}

#[test]
fn pages_that_cannot_be_read() {
    let selectors = sel("div", &[]);
    let page_url = Url::parse("https://example.org/").unwrap();
    let run = |body: &[u8]| html::extract(body, None, &page_url, &selectors, SourceKind::Web, now());
    assert_eq!(run(b"  \n ").unwrap_err(), HtmlError::Empty);
    let huge = vec![b'a'; MAX_PAGE_BYTES + 1];
    let err = run(&huge).unwrap_err();
    assert_eq!(err.to_string(), "the page is 5242881 bytes, over the 5.0 MiB limit; it is not read");
    let deep = "<div>".repeat(10_000);
    assert!(run(deep.as_bytes()).unwrap_err().to_string().contains("nests its elements more than 512 deep"));
}

#[test]
fn no_match_says_which_selector_and_page() {
    let page = extract(&data("review_site_fr.html"), REVIEW_PAGE, &sel("div.nope", &[]));
    assert!(page.items.is_empty());
    assert_eq!(
        page.warnings,
        [
            "no element matches the item selector `div.nope` (page titled \"Brasserie Dupont – Avis clients | AvisClients.example\")"
        ]
    );
}

#[test]
fn malformed_markup_never_panics() {
    let selectors = sel("div", &[("title", "h1"), ("text", "p"), ("date", "time"), ("link", "a")]);
    let samples: &[&[u8]] = &[
        b"<div><p>ouvert<div><p>encore</div></div></div></div></p>",
        b"<div><a href='http://[::1'>x</a><time>il y a</time><p>t</p></div>",
        b"<div><a href=\"http://exa mple.org/\">x</a><p>t</p></div>",
        b"\xff\xfe\x00<\x00d\x00i\x00v\x00>",
        b"<div><h1>\0\x07\x1b[31m</h1><p>\xc3\x28</p></div>",
        b"<<<>>><div <p =\"\"></div/><!-- <div> -->",
        b"<table><div><tr><td><div>cellule</td></div></table>",
        b"<svg><div><p>fo<math><mi><div>x</svg></div>",
    ];
    for body in samples {
        let _ =
            html::extract(body, None, &Url::parse("https://example.org/").unwrap(), &selectors, SourceKind::Web, now());
    }
    // Every prefix of a real page.
    let real = data("forum_thread_phpbb.html");
    for cut in (0..real.len()).step_by(97) {
        let _ =
            html::extract(&real[..cut], None, &Url::parse(THREAD_PAGE).unwrap(), &selectors, SourceKind::Forum, now());
    }
}

#[test]
fn parsed_page_serializes_for_source_test() {
    let page = extract(&data("review_site_fr.html"), REVIEW_PAGE, &review_selectors());
    let json = serde_json::to_value(&page).unwrap();
    assert_eq!(json["items"][0]["title"], "Service très lent et serveur désagréable");
    assert_eq!(json["items"][0]["plain_text"], true);
    assert_eq!(json["skipped"][0]["reason"], "duplicate_id");
    assert_eq!(json["skipped"][1]["reason"], "no_title_nor_text");
    assert_eq!(json["warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn reviews_that_all_link_to_the_product_are_kept_apart() {
    // Each review links to the product page, not to itself.
    let body = br#"<html><body>
        <article class=r><b>Jean</b><p>Livraison en retard de deux semaines, service client injoignable.</p><a href="/produit/42">Acme X</a></article>
        <article class=r><b>Paul</b><p>Produit conforme, bien emballe, je recommande.</p><a href="/produit/42">Acme X</a></article>
        <article class=r><b>Lea</b><p>Casse au bout d'une semaine, remboursement refuse.</p><a href="/produit/42">Acme X</a></article>
        <article class=r><b>Jean</b><p>Livraison en retard de deux semaines, service client injoignable.</p><a href="/produit/42">Acme X</a></article>
    </body></html>"#;
    let page = extract(body, REVIEW_PAGE, &sel("article.r", &[("text", "p"), ("author", "b"), ("link", "a@href")]));
    let authors: Vec<&str> = page.items.iter().map(|i| i.author.as_deref().unwrap()).collect();
    assert_eq!(authors, ["Jean", "Paul", "Lea"], "the repeated review is still left out once: {:?}", page.skipped);
    assert!(page.items.iter().all(|i| i.url.is_none()), "the product's link is no review's own");
    let ids: std::collections::HashSet<&str> =
        page.items.iter().map(|i| i.source_item_id.as_deref().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    assert!(
        page.warnings.iter().any(|w| w.contains("link to the same page (https://www.avisclients.example/produit/42)")),
        "{:?}",
        page.warnings
    );
    assert_eq!(page.skipped.len(), 1);
    let said = page.skipped[0].to_string();
    assert!(
        said.starts_with("item 4 (")
            && said.ends_with("): duplicate (an earlier item of the page has the same link or content)"),
        "{said}"
    );
}

#[test]
fn links_are_resolved_against_the_base_href() {
    let sel = sel("div.r", &[("title", "a"), ("text", "p")]);
    let page = extract(&data("base_href.html"), "https://mirror.example.net/cache/page?id=9", &sel);
    let urls: Vec<_> = page.items.iter().map(|m| m.url.as_deref()).collect();
    assert_eq!(
        urls,
        [Some("https://avis.example.fr/produits/acme-x200/avis-1"), Some("https://avis.example.fr/autre/avis-2")]
    );
    // A bare anchor still names a place of the page itself, and a base that is
    // not a web address is not taken.
    let body = br##"<html><head><base href="javascript:void(0)/"></head><body>
        <div class="r"><a href="#avis-3">Avis 3</a><p>Acme</p></div>
        <div class="r"><a href="avis-4">Avis 4</a><p>Acme</p></div></body></html>"##;
    let page = extract(body, "https://avis.example.fr/produits/acme", &sel);
    assert_eq!(page.items[0].url, None);
    assert_eq!(page.items[0].source_item_id.as_deref(), Some("https://avis.example.fr/produits/acme#avis-3"));
    assert_eq!(page.items[1].url.as_deref(), Some("https://avis.example.fr/produits/avis-4"));
}

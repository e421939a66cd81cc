//! The feeds people listen through: Google News search, YouTube channels,
//! Mastodon tags and accounts, Discourse forums, and feeds as found in the
//! wild (comment feeds, charsets, plain-text fields, odd ids and dates)
//! (recorded shapes in `testdata/`, see its README), adapted by
//! [`parse_feed`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeZone, Utc};
use vigie_collect::{FeedError, ParsedFeed, parse_feed};
use vigie_model::{Engagement, Mention, RawMention, SourceKind};
use vigie_nlp::normalize::{NormalizeLimits, normalize};

fn testdata(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(name: &str, feed_url: &str) -> ParsedFeed {
    parse_feed(&testdata(name), None, feed_url).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<DateTime<Utc>> {
    Some(Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap())
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

const GOOGLE_NEWS_URL: &str = "https://news.google.com/rss/search?q=%22Acme+%C3%89nergie%22&hl=fr&gl=FR&ceid=FR:fr";

#[test]
fn google_news_search_is_news_and_drops_the_publisher_suffix() {
    let feed = parse("google_news_search.xml", GOOGLE_NEWS_URL);
    assert_eq!(feed.title, s("\"Acme Énergie\" - Google Actualités"));
    assert!(feed.skipped.is_empty());
    assert_eq!(feed.items.len(), 4);
    let [monde, ouest, usine, bourse] = &feed.items[..] else { unreachable!() };

    assert_eq!(
        monde.source_item_id,
        s("CBMilAFBVV95cUxQbG1fZTNhY21lLWVuZXJnaWUtMjAwLWVtcGxvaXMtbWVuYWNlcy1zYWludC1ldGllbm5lX0FCQzEyMw")
    );
    // The link is Google's own article redirect (it is not a plain HTTP redirect: kept as is).
    assert_eq!(
        monde.url,
        s(
            "https://news.google.com/rss/articles/CBMilAFBVV95cUxQbG1fZTNhY21lLWVuZXJnaWUtMjAwLWVtcGxvaXMtbWVuYWNlcy1zYWludC1ldGllbm5lX0FCQzEyMw?oc=5"
        )
    );
    assert_eq!(monde.title, s("Acme Énergie : 200 emplois menacés à Saint-Étienne"));
    // The description (HTML: link, &nbsp;, publisher in <font>) is the text, cleaned later.
    assert!(monde.text.starts_with("<a href=\"https://news.google.com/rss/articles/"), "{}", monde.text);
    assert!(monde.text.ends_with("&nbsp;&nbsp;<font color=\"#6f6f6f\">Le Monde</font>"), "{}", monde.text);
    assert_eq!(monde.published_at, utc(2026, 3, 3, 8, 47, 0));
    assert_eq!(monde.source_kind, Some(SourceKind::News));
    assert_eq!(monde.author, None);
    assert_eq!(monde.lang, s("fr"));
    // The link is Google's; the site is the publisher's, from <source url="https://www.lemonde.fr">.
    assert_eq!(monde.site, s("www.lemonde.fr"));

    // A cluster: the first article's publisher is the title's.
    assert_eq!(ouest.title, s("Grève chez Acme Énergie : la direction reçoit les syndicats"));
    assert!(ouest.text.starts_with("<ol><li>"));
    assert_eq!(ouest.published_at, utc(2026, 3, 2, 17, 12, 44));

    // Only the final " - Publisher" goes; the publisher's name was HTML-escaped in the description.
    assert_eq!(usine.title, s("Acme Énergie - l'heure des choix pour le fournisseur"));

    // The title says "Boursorama", the description "Boursorama.com": not sure, the title stays whole.
    assert_eq!(bourse.title, s("Acme Énergie relève ses prévisions - Boursorama"));
    assert!(feed.items.iter().all(|m| m.source_kind == Some(SourceKind::News) && !m.text.is_empty()));
    let sites: Vec<_> = feed.items.iter().map(|m| m.site.as_deref()).collect();
    assert_eq!(
        sites,
        [
            Some("www.lemonde.fr"),
            Some("www.ouest-france.fr"),
            Some("www.usinenouvelle.com"),
            Some("www.boursorama.com")
        ]
    );
}

#[test]
fn google_news_suffix_is_only_dropped_for_google_news_links() {
    // The same item in a feed that is not Google News (a planet/aggregator copying it) keeps its
    // title if its link is not on news.google.com.
    let body = String::from_utf8(testdata("google_news_search.xml"))
        .unwrap()
        .replace("https://news.google.com/rss/articles/", "https://aggregator.example/articles/");
    let feed = parse_feed(body.as_bytes(), None, "https://aggregator.example/rss").unwrap();
    assert_eq!(feed.items[0].title, s("Acme Énergie : 200 emplois menacés à Saint-Étienne - Le Monde"));
    assert_eq!(feed.items[0].source_kind, Some(SourceKind::Rss));
}

#[test]
fn youtube_channel_feed_has_text_views_and_likes() {
    let feed =
        parse("youtube_channel.xml", "https://www.youtube.com/feeds/videos.xml?channel_id=UCq3v8Zp1AcmeEnergieFR01");
    assert_eq!(feed.title, s("Acme Énergie"));
    assert!(feed.skipped.is_empty());
    assert_eq!(feed.items.len(), 3);
    let [video, short, silent] = &feed.items[..] else { unreachable!() };

    assert_eq!(video.source_item_id, s("yt:video:Xk3pQ9aZ1bE"));
    assert_eq!(video.url, s("https://www.youtube.com/watch?v=Xk3pQ9aZ1bE"));
    assert_eq!(video.title, s("Site de Saint-Étienne : notre directeur général répond à vos questions"));
    // media:description, line breaks and all.
    assert!(video.text.starts_with("Emplois, calendrier, reclassements : Jean-Marc Leroy"), "{}", video.text);
    assert!(video.text.contains("les salariés & les habitants.\n\n00:00 Introduction"), "{}", video.text);
    assert_eq!(video.author, s("Acme Énergie"));
    // published, not updated.
    assert_eq!(video.published_at, utc(2026, 3, 2, 17, 0, 6));
    assert_eq!(video.source_kind, Some(SourceKind::Youtube));
    assert_eq!(video.engagement, Engagement { views: Some(18734), likes: Some(412), ..Engagement::default() });
    assert_eq!(video.reach, None);

    // A Short links to /shorts/; no likes yet is 0 likes.
    assert_eq!(short.url, s("https://www.youtube.com/shorts/b7Rt2LmNq0w"));
    assert_eq!(short.source_kind, Some(SourceKind::Youtube));
    assert_eq!(short.text, "Thermostat, veille, lavage à 30 °C.");
    assert_eq!(short.engagement, Engagement { views: Some(951), likes: Some(0), ..Engagement::default() });

    // An empty description: kept for its title, with no text.
    assert_eq!(silent.title, s("Acme Énergie – Vœux 2026"));
    assert_eq!(silent.text, "");
    assert_eq!(silent.published_at, utc(2026, 1, 5, 8, 0, 0));
    assert_eq!(silent.engagement.views, Some(2210));
}

#[test]
fn mastodon_tag_feed_is_mastodon_with_authors_from_status_links() {
    let feed = parse("mastodon_tag.xml", "https://mastodon.social/tags/acmeenergie.rss");
    assert_eq!(feed.title, s("#acmeenergie"));
    assert!(feed.skipped.is_empty());
    assert_eq!(feed.items.len(), 3);
    let [local, remote, misskey] = &feed.items[..] else { unreachable!() };

    assert_eq!(local.source_item_id, s("https://mastodon.social/@claire_r/114102938475610234"));
    assert_eq!(local.url, s("https://mastodon.social/@claire_r/114102938475610234"));
    // Mastodon items have no title; the pipeline makes do with the text.
    assert_eq!(local.title, None);
    assert!(local.text.starts_with("<p>Trois semaines que j&#39;attends un rappel"), "{}", local.text);
    assert_eq!(local.author, s("claire_r@mastodon.social"));
    assert_eq!(local.published_at, utc(2026, 3, 3, 9, 41, 17));
    assert_eq!(local.source_kind, Some(SourceKind::Mastodon));
    assert!(local.engagement.is_empty());

    // A status from another instance: its own host names the account.
    assert_eq!(remote.url, s("https://piaille.fr/@jb_lyon/114102511320098765"));
    assert_eq!(remote.author, s("jb_lyon@piaille.fr"));
    assert!(remote.text.contains("Piquet de grève"), "{}", remote.text);
    assert_eq!(remote.source_kind, Some(SourceKind::Mastodon));
    assert_eq!(remote.published_at, utc(2026, 3, 3, 7, 52, 3));

    // A Misskey note relayed by the instance: still fediverse (the feed is Mastodon's),
    // but its link does not name the account.
    assert_eq!(misskey.url, s("https://misskey.example/notes/9rkx2b7c0a"));
    assert_eq!(misskey.source_kind, Some(SourceKind::Mastodon));
    assert_eq!(misskey.author, None);
    assert!(!misskey.text.is_empty());
}

#[test]
fn mastodon_account_feed_names_the_account() {
    let feed = parse("mastodon_account.xml", "https://mastodon.social/@acme_energie.rss");
    assert_eq!(feed.title, s("Acme Énergie"));
    assert_eq!(feed.items.len(), 2);
    for toot in &feed.items {
        assert_eq!(toot.source_kind, Some(SourceKind::Mastodon));
        assert_eq!(toot.author, s("acme_energie@mastodon.social"));
        assert_eq!(toot.title, None);
        assert_eq!(toot.source_item_id, toot.url);
        assert!(toot.text.starts_with("<p>"), "{}", toot.text);
    }
    // A status linking to a YouTube video is still a Mastodon mention.
    assert!(feed.items[0].text.contains("youtube.com/watch?v=Xk3pQ9aZ1bE"));
    assert_eq!(feed.items[0].published_at, utc(2026, 3, 3, 10, 2, 0));
    // With an image: the status text wins over the image's alt text.
    assert!(feed.items[1].text.contains("suivez votre consommation"), "{}", feed.items[1].text);
    assert_eq!(feed.items[1].published_at, utc(2026, 3, 1, 9, 15, 0));
}

#[test]
fn mastodon_status_links_are_told_anywhere_but_not_look_alikes() {
    // Without the <generator> hint, an item is Mastodon by its link alone (e.g. a
    // Mastodon status in a Google Alerts or a planet feed); other `/@user/…` shapes are not.
    let rss = |link: &str| {
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>\
             <item><link>{link}</link><description>Acme</description></item></channel></rss>"
        )
    };
    let adapt = |link: &str| {
        let feed = parse_feed(rss(link).as_bytes(), None, "https://planet.example/rss").unwrap();
        let item = feed.items.into_iter().next().unwrap();
        (item.source_kind.unwrap(), item.author)
    };
    assert_eq!(
        adapt("https://social.example.org/@alice/109876543210"),
        (SourceKind::Mastodon, s("alice@social.example.org"))
    );
    // The local view of a remote account.
    assert_eq!(
        adapt("https://mastodon.social/@bob@Piaille.fr/113000000000000001"),
        (SourceKind::Mastodon, s("bob@piaille.fr"))
    );
    for other in [
        "https://medium.com/@alice/why-acme-3f2a9c1d8e7b",
        "https://www.tiktok.com/@alice/video/7345678901234567890",
        "https://social.example.org/@alice",
        "https://social.example.org/@alice/109876543210/activity",
        "https://social.example.org/users/alice/statuses/109876543210",
        "https://social.example.org/@/109876543210",
    ] {
        assert_eq!(adapt(other), (SourceKind::Rss, None), "{other}");
    }
}

#[test]
fn discourse_latest_is_a_forum_with_dc_creator_authors() {
    let feed = parse("discourse_latest.xml", "https://communaute.acme-energie.example/latest.rss");
    assert_eq!(feed.title, s("Communauté Acme Énergie - Derniers sujets"));
    assert!(feed.skipped.is_empty());
    assert_eq!(feed.items.len(), 2);
    let [facture, bienvenue] = &feed.items[..] else { unreachable!() };

    assert_eq!(facture.source_item_id, s("communaute.acme-energie.example-topic-1842"));
    assert_eq!(
        facture.url,
        s("https://communaute.acme-energie.example/t/facture-doublee-apres-le-changement-de-tarif/1842")
    );
    assert_eq!(facture.title, s("Facture doublée après le changement de tarif"));
    assert_eq!(facture.author, s("marie_l"));
    assert_eq!(facture.source_kind, Some(SourceKind::Forum));
    assert_eq!(facture.published_at, utc(2026, 3, 3, 9, 58, 21));
    assert_eq!(facture.lang, s("fr"));
    assert!(facture.text.contains("ma facture de février est passée de 84 € à 171 €"), "{}", facture.text);

    // The pinned welcome topic is a topic like any other (the pipeline's date window drops it).
    assert_eq!(bienvenue.source_item_id, s("communaute.acme-energie.example-topic-7"));
    assert_eq!(bienvenue.author, s("system"));
    assert_eq!(bienvenue.source_kind, Some(SourceKind::Forum));
    assert_eq!(bienvenue.published_at, utc(2024, 9, 12, 14, 0, 0));
}

#[test]
fn a_topic_guid_alone_does_not_make_a_forum() {
    // The guid must name the link's own host.
    let body = String::from_utf8(testdata("discourse_latest.xml"))
        .unwrap()
        .replace("communaute.acme-energie.example-topic-", "other.example-topic-");
    let feed = parse_feed(body.as_bytes(), None, "https://communaute.acme-energie.example/latest.rss").unwrap();
    assert!(feed.items.iter().all(|m| m.source_kind == Some(SourceKind::Rss)));
}

#[test]
fn listening_feeds_never_panic_when_cut_or_garbled() {
    let url = "https://example.org/feed";
    for name in [
        "google_news_search.xml",
        "youtube_channel.xml",
        "mastodon_tag.xml",
        "mastodon_account.xml",
        "discourse_latest.xml",
    ] {
        let body = testdata(name);
        for cut in (0..body.len()).step_by(17) {
            let _ = parse_feed(&body[..cut], None, url);
        }
        for (i, b) in [b'<', b'>', b'&', b'"', b'@', b'-', 0xff].into_iter().enumerate() {
            let mut garbled = body.clone();
            for pos in (i * 29..garbled.len()).step_by(89) {
                garbled[pos] = b;
            }
            let _ = parse_feed(&garbled, None, url);
        }
    }
}

#[test]
fn a_link_to_another_anchor_is_the_items_id() {
    let body = rss_items(
        r#"<item><title>a</title><guid>1</guid><link>https://blog.example.fr/post/#respond</link></item>
           <item><title>b</title><guid>2</guid><link>https://blog.example.fr/post/#respond-2</link></item>"#,
    );
    let feed = parse_feed(&body, None, "https://blog.example.fr/feed").unwrap();
    assert!(feed.items.iter().all(|m| m.url.is_none()), "{:?}", feed.items);
    let keys: std::collections::HashSet<_> = feed.items.iter().map(|m| normalized(m).dedup_key).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
}

// --- Feeds as found in the wild --------------------------------------------

/// What the pipeline makes of a mention (cleaned text, dedup key).
fn normalized(raw: &RawMention) -> Mention {
    normalize(raw.clone(), Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap(), &NormalizeLimits::default()).unwrap()
}

fn rss_items(items: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title><link>https://blog.example.fr/</link><description>d</description>{items}</channel></rss>"#
    )
    .into_bytes()
}

#[test]
fn comment_feed_items_keep_one_dedup_key_each() {
    let feed = parse("wp_comments.xml", "https://blog2.example.fr/acme-x200/feed/");
    assert_eq!(feed.items.len(), 3);
    // Each comment keeps its link (what an agent opens to answer it); the
    // canonical URL keeps a comment's anchor, so each is a mention of its own.
    let urls: Vec<_> = feed.items.iter().map(|m| m.url.as_deref().unwrap()).collect();
    assert_eq!(
        urls,
        [
            "https://blog2.example.fr/acme-x200/#comment-101",
            "https://blog2.example.fr/acme-x200/#comment-102",
            "https://blog2.example.fr/acme-x200/#comment-103"
        ]
    );
    assert!(feed.items.iter().all(|m| normalized(m).url.as_deref().is_some_and(|u| u.contains("#comment-"))));
    let keys: std::collections::HashSet<_> = feed.items.iter().map(|m| normalized(m).dedup_key).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    // Nor is it the post's key (the post itself may come from the blog's main feed).
    let post = RawMention { url: s("https://blog2.example.fr/acme-x200/"), text: "x".into(), ..RawMention::default() };
    assert!(!keys.contains(&normalized(&post).dedup_key));
}

#[test]
fn single_page_routes_and_tracking_fragments_stay_urls() {
    let body = rss_items(
        r#"<item><title>a</title><link>https://app.example.fr/#/post/2</link></item>
           <item><title>b</title><link>https://journal.example.fr/acme.html#xtor=RSS-3208</link></item>
           <item><title>c</title><link>https://journal.example.fr/acme2.html</link></item>"#,
    );
    let feed = parse_feed(&body, None, "https://journal.example.fr/rss").unwrap();
    let urls: Vec<_> = feed.items.iter().map(|m| m.url.as_deref()).collect();
    assert_eq!(
        urls,
        [
            Some("https://app.example.fr/#/post/2"),
            Some("https://journal.example.fr/acme.html#xtor=RSS-3208"),
            Some("https://journal.example.fr/acme2.html")
        ]
    );
    assert!(feed.items.iter().all(|m| m.source_item_id.is_none()));
}

#[test]
fn header_charset_is_honoured_without_an_xml_declaration() {
    let body = testdata("latin1_no_declaration.rss");
    assert!(std::str::from_utf8(&body).is_err(), "the sample must be Latin-1 bytes");
    let ct = Some("application/rss+xml; charset=ISO-8859-1");
    let feed = parse_feed(&body, ct, "https://enc.example.fr/rss").unwrap();
    assert_eq!(feed.items.len(), 1);
    assert_eq!(feed.items[0].title, s("Acme hdr-charset été"));
    assert_eq!(feed.items[0].text, "Acme : problème réglé à Besançon");
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
    // Without the header, the same bytes are read as Windows-1252 and said.
    let feed = parse_feed(&body, None, "https://enc.example.fr/rss").unwrap();
    assert_eq!(feed.items[0].title, s("Acme hdr-charset été"));
    assert_eq!(feed.warnings.len(), 1);
    assert!(feed.warnings[0].contains("not valid UTF-8"), "{:?}", feed.warnings);
    // A valid UTF-8 body mislabelled ISO-8859-1 by its server stays UTF-8.
    let utf8 = rss_items("<item><title>Acme été</title><link>https://enc.example.fr/2</link></item>");
    let feed = parse_feed(&utf8, ct, "https://enc.example.fr/rss").unwrap();
    assert_eq!(feed.items[0].title, s("Acme été"));
    // The XML declaration wins over the header.
    let mut declared = br#"<?xml version="1.0" encoding="windows-1252"?>"#.to_vec();
    declared.extend_from_slice(&body);
    let feed = parse_feed(&declared, Some("text/xml; charset=UTF-8"), "https://enc.example.fr/rss").unwrap();
    assert_eq!(feed.items[0].text, "Acme : problème réglé à Besançon");
}

#[test]
fn one_stray_latin1_word_does_not_reject_a_utf8_feed() {
    let body = testdata("utf8_stray_latin1.xml");
    assert!(std::str::from_utf8(&body).is_err());
    let feed = parse_feed(&body, Some("application/rss+xml; charset=utf-8"), "https://blog.example.fr/feed").unwrap();
    assert_eq!(feed.items.len(), 2);
    // Valid UTF-8 is read as such, the stray bytes as Windows-1252.
    assert!(feed.items[0].text.contains("ne répond pas"), "{}", feed.items[0].text);
    assert!(feed.items[1].text.contains("le X200 été d&rsquo;Acme"), "{}", feed.items[1].text);
    assert_eq!(feed.warnings, ["4 byte(s) of the feed are not valid UTF-8; they were read as Windows-1252"]);
}

#[test]
fn a_feed_still_broken_after_decoding_says_why() {
    // Cut short after a Latin-1 byte: the encoding is said, not a missing root.
    let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>caf\xe9</title><item>";
    let Err(FeedError::Invalid { reason }) = parse_feed(body, None, "https://x.example/rss") else { panic!() };
    assert!(!reason.contains("no RSS, Atom or JSON Feed root element"), "{reason}");
    assert!(reason.contains("not valid UTF-8"), "{reason}");
    // A root that looks like a feed but cannot be read is not called missing.
    let body = b"<rss version=\"3.0\"><channel><title>x</title></channel></rss>";
    let Err(FeedError::Invalid { reason }) = parse_feed(body, None, "https://x.example/rss") else { panic!() };
    assert!(reason.contains("its root element could not be read"), "{reason}");
    // A document that is no feed at all still is.
    let body = b"<?xml version=\"1.0\"?><sitemap><url>x</url></sitemap>";
    let Err(FeedError::Invalid { reason }) = parse_feed(body, None, "https://x.example/rss") else { panic!() };
    assert!(reason.contains("no RSS, Atom or JSON Feed root element"), "{reason}");
}

#[test]
fn a_bare_ampersand_or_an_html_entity_does_not_lose_the_feed() {
    let body = rss_items(
        "<item><title>Boulangerie Lemoine & Fils : la galette</title><link>https://blog.example.fr/1</link>\
         <description>Pain&nbsp;au levain, caf&eacute; &amp; croissants &#233;t&#xE9;</description></item>\
         <item><title>Second</title><link>https://blog.example.fr/2</link><description>R&D</description></item>\
         <item><title>Third</title><link>https://blog.example.fr/3</link>\
         <description><![CDATA[<p>Caf&eacute; a&nbsp;b & co</p>]]></description></item>",
    );
    let feed = parse_feed(&body, None, "https://blog.example.fr/feed").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(feed.items.len(), 3, "no item lost");
    assert!(feed.warnings[0].contains("the feed has 4 \"&\" not written as XML wants"), "{:?}", feed.warnings);
    let first = normalized(&feed.items[0]);
    assert_eq!(first.title.as_deref(), Some("Boulangerie Lemoine & Fils : la galette"));
    assert_eq!(first.text, "Pain au levain, café & croissants été");
    assert_eq!(normalized(&feed.items[1]).text, "R&D");
    // What a CDATA section holds is left as it is.
    assert_eq!(normalized(&feed.items[2]).text, "Café a b & co");
    // A well-formed feed is read as it is, without a warning.
    let clean = rss_items("<item><title>A &amp; B</title><link>https://blog.example.fr/3</link></item>");
    let feed = parse_feed(&clean, None, "https://blog.example.fr/feed").unwrap();
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
}

#[test]
fn json_feed_content_text_is_plain_text() {
    let feed = parse("jsonfeed_content_text.json", "https://jt.example.fr/feed.json");
    let item = &feed.items[0];
    assert!(item.plain_text);
    let m = normalized(item);
    assert_eq!(
        m.text,
        "Réponse de Jean Dupont <jean.dupont@acme.fr> : le colis Acme arrive lundi. Prix <style> 3 € </style> x <!-- y --> fin"
    );
}

#[test]
fn atom_text_constructs_are_plain_text_and_html_ones_are_not() {
    let body = br#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id><updated>2026-11-23T08:00:00Z</updated>
<entry><id>urn:1</id><title>R&amp;D &lt;Acme&gt;</title><updated>2026-11-23T08:00:00Z</updated>
  <link href="https://a.example.fr/1"/><content type="text">AT&amp;amp;T &lt;jean@acme.fr&gt; &lt;script&gt;x()&lt;/script&gt;</content></entry>
<entry><id>urn:2</id><title type="html">Acme &amp;amp; &lt;b&gt;co&lt;/b&gt;</title><updated>2026-11-23T08:00:00Z</updated>
  <link href="https://a.example.fr/2"/><summary type="html">&lt;p&gt;AT&amp;amp;T&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</summary></entry>
<entry><id>urn:3</id><title>Acme &lt;3</title><updated>2026-11-23T08:00:00Z</updated>
  <link href="https://a.example.fr/3"/><content type="html">&lt;p&gt;bien&lt;/p&gt;</content></entry>
</feed>"#;
    let feed = parse_feed(body, None, "https://a.example.fr/atom.xml").unwrap();
    let [text, html, mixed] = &feed.items[..] else { panic!("{:?}", feed.items) };
    assert!(text.plain_text && !html.plain_text && !mixed.plain_text);
    let text = normalized(text);
    assert_eq!(text.text, "AT&amp;T <jean@acme.fr> <script>x()</script>");
    assert_eq!(text.title.as_deref(), Some("R&D <Acme>"));
    let html = normalized(html);
    assert_eq!(html.text, "AT&T");
    assert_eq!(html.title.as_deref(), Some("Acme & co"));
    // A plain title beside HTML content keeps its `<`.
    assert_eq!(normalized(mixed).title.as_deref(), Some("Acme <3"));
}

#[test]
fn json_feed_with_a_numeric_id_is_read_whole() {
    let feed = parse("jsonfeed_numeric_id.json", "https://jf10.example.com/feed.json");
    let ids: Vec<_> = feed.items.iter().map(|m| m.source_item_id.as_deref()).collect();
    assert_eq!(ids, [Some("a"), Some("b"), Some("4")]);
    assert_eq!(feed.items[2].url, s("https://jf10.example.com/c"));
    assert_eq!(feed.items[2].published_at, utc(2026, 11, 23, 7, 0, 0));
}

#[test]
fn a_permalink_guid_is_the_url_of_an_item_without_link() {
    let body = rss_items(
        r#"<item><title>a</title><guid>https://blog.example.fr/a</guid></item>
           <item><title>b</title><guid isPermaLink="true">https://blog.example.fr/b</guid></item>
           <item><title>c</title><guid isPermaLink="false">https://blog.example.fr/?p=3</guid></item>
           <item><title>d</title><guid>tag:blog.example.fr,2026:4</guid></item>
           <item><title>e</title><description><![CDATA[<item><guid isPermaLink="false">x</guid></item>]]></description><guid>https://blog.example.fr/e</guid></item>"#,
    );
    let feed = parse_feed(&body, None, "https://blog.example.fr/feed").unwrap();
    let urls: Vec<_> = feed.items.iter().map(|m| m.url.as_deref()).collect();
    assert_eq!(
        urls,
        [
            Some("https://blog.example.fr/a"),
            Some("https://blog.example.fr/b"),
            None,
            None,
            Some("https://blog.example.fr/e")
        ]
    );
    assert_eq!(feed.items[2].source_item_id, s("https://blog.example.fr/?p=3"));
}

#[test]
fn dates_with_zone_abbreviations_or_in_french_are_read() {
    let body = rss_items(
        r#"<item><title>cet</title><link>https://d.example.fr/1</link><pubDate>Mon, 16 Nov 2026 08:00:00 CET</pubDate></item>
           <item><title>cest</title><link>https://d.example.fr/2</link><pubDate>Fri, 16 Oct 2026 08:00:00 CEST</pubDate></item>
           <item><title>fr</title><link>https://d.example.fr/3</link><pubDate>lun., 23 nov. 2026 08:00</pubDate></item>
           <item><title>cst</title><link>https://d.example.fr/4</link><pubDate>Mon, 16 Nov 2026 08:00:00 CST</pubDate></item>
           <item><title>mdt</title><link>https://d.example.fr/5</link><pubDate>Fri, 16 Oct 2026 08:00:00 MDT</pubDate></item>
           <item><title>bst</title><link>https://d.example.fr/6</link><pubDate>Fri, 16 Oct 2026 08:00:00 BST</pubDate></item>
           <item><title>rfc</title><link>https://d.example.fr/7</link><pubDate>Mon, 16 Nov 2026 08:00:00 +0000</pubDate></item>
           <item><title>long fr</title><link>https://d.example.fr/8</link><pubDate>lundi 23 novembre 2026 à 14h30</pubDate></item>"#,
    );
    let feed = parse_feed(&body, None, "https://d.example.fr/rss").unwrap();
    let dates: Vec<_> = feed.items.iter().map(|m| m.published_at).collect();
    assert_eq!(
        dates,
        [
            utc(2026, 11, 16, 7, 0, 0),
            utc(2026, 10, 16, 6, 0, 0),
            utc(2026, 11, 23, 8, 0, 0),
            utc(2026, 11, 16, 14, 0, 0),
            utc(2026, 10, 16, 14, 0, 0),
            utc(2026, 10, 16, 7, 0, 0),
            utc(2026, 11, 16, 8, 0, 0),
            utc(2026, 11, 23, 14, 30, 0),
        ]
    );
    assert!(feed.warnings.is_empty(), "{:?}", feed.warnings);
}

#[test]
fn an_unreadable_date_is_left_empty_with_a_warning() {
    let body = rss_items(
        r#"<item><title>a</title><link>https://d.example.fr/1</link><guid isPermaLink="false">g1</guid><pubDate>le mardi de la semaine dernière</pubDate></item>
           <item><title>b</title><link>https://d.example.fr/2</link><pubDate>bientôt</pubDate><atom:updated xmlns:atom="http://www.w3.org/2005/Atom">2026-11-20T10:00:00Z</atom:updated></item>
           <item><title>c</title><link>https://d.example.fr/3</link></item>"#,
    );
    let feed = parse_feed(&body, None, "https://d.example.fr/rss").unwrap();
    assert_eq!(feed.items.len(), 3);
    assert_eq!(feed.items[0].published_at, None);
    // An update time that can be read stands in for an unreadable publication time.
    assert_eq!(feed.items[1].published_at, utc(2026, 11, 20, 10, 0, 0));
    // No date at all is not worth a warning.
    assert_eq!(feed.items[2].published_at, None);
    assert_eq!(
        feed.warnings,
        ["feed entry 1 (g1): date `le mardi de la semaine dernière` not understood; the collection time stands in"]
    );
    // JSON Feed and Atom dates go through the same reader.
    let json = br#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{"id":"1","url":"https://j.example/1","content_text":"x","date_published":"hier"}]}"#;
    let feed = parse_feed(json, None, "https://j.example/feed.json").unwrap();
    assert_eq!(feed.items[0].published_at, None);
    assert!(feed.warnings[0].contains("date `hier` not understood"), "{:?}", feed.warnings);
}

#[test]
fn many_unreadable_dates_are_bounded() {
    let items: String = (0..1200)
        .map(|i| {
            format!(
                "<item><title>t{i}</title><link>https://d.example.fr/{i}</link><pubDate>jamais {i}</pubDate></item>"
            )
        })
        .collect();
    let feed = parse_feed(&rss_items(&items), None, "https://d.example.fr/rss").unwrap();
    assert_eq!(feed.items.len(), 1200);
    assert!(feed.items.iter().all(|m| m.published_at.is_none()));
    assert_eq!(feed.warnings.len(), vigie_collect::feed::MAX_WARNINGS);
    assert_eq!(feed.warnings.last().unwrap(), "and 1151 more warnings");
}

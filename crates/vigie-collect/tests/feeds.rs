//! The feeds people listen through: Google News search, YouTube channels,
//! Mastodon tags and accounts, Discourse forums (recorded shapes in
//! `testdata/`, see its README), adapted by [`parse_feed`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeZone, Utc};
use vigie_collect::{ParsedFeed, parse_feed};
use vigie_model::{Engagement, SourceKind};

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
    // feed-rs does not keep RSS <source url="https://www.lemonde.fr">: no site.
    assert_eq!(monde.site, None);

    // A cluster: the first article's publisher is the title's.
    assert_eq!(ouest.title, s("Grève chez Acme Énergie : la direction reçoit les syndicats"));
    assert!(ouest.text.starts_with("<ol><li>"));
    assert_eq!(ouest.published_at, utc(2026, 3, 2, 17, 12, 44));

    // Only the final " - Publisher" goes; the publisher's name was HTML-escaped in the description.
    assert_eq!(usine.title, s("Acme Énergie - l'heure des choix pour le fournisseur"));

    // The title says "Boursorama", the description "Boursorama.com": not sure, the title stays whole.
    assert_eq!(bourse.title, s("Acme Énergie relève ses prévisions - Boursorama"));
    assert!(feed.items.iter().all(|m| m.source_kind == Some(SourceKind::News) && !m.text.is_empty()));
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

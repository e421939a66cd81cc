use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};

use super::*;

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

#[test]
fn rss_091_with_latin1_prolog_and_relative_link() {
    let feed = parse("rss091_netscape.xml", "http://www.boulangerie-martin.example/rss.xml");
    assert_eq!(feed.title, s("Le Journal de la Boulangerie"));
    assert_eq!(feed.items.len(), 2);
    let [brioche, fermeture] = &feed.items[..] else { unreachable!() };

    assert_eq!(brioche.title, s("Nouvelle recette de brioche"));
    assert_eq!(brioche.url, s("http://www.boulangerie-martin.example/news/brioche.html"));
    // Character references are resolved…
    assert_eq!(brioche.text, "Notre brioche au beurre AOP est arrivée. Gâteau des rois en préparation.");
    // …RSS 0.91 has no guid, pubDate nor author.
    assert_eq!(brioche.source_item_id, None);
    assert_eq!(brioche.published_at, None);
    assert_eq!(brioche.author, None);
    assert_eq!(brioche.lang, s("fr"));
    assert_eq!(brioche.source_kind, Some(SourceKind::Rss));
    assert_eq!(brioche.site, None);

    // The title was written in ISO-8859-1, as the prolog declares.
    assert_eq!(fermeture.title, s("Fermeture exceptionnelle du 15 août"));
    assert_eq!(fermeture.url, s("http://www.boulangerie-martin.example/news/fermeture.html"));
    // HTML entities from the Netscape DTD are left for the pipeline's HTML cleaner.
    assert_eq!(fermeture.text, "La boutique sera ferm&eacute;e le 15 août.");
}

#[test]
fn rss_10_rdf_with_dublin_core() {
    let feed = parse("rss10_rdf.xml", "https://linuxfr.example/news.rss");
    assert_eq!(feed.title, s("LinuxFr.example : les dépêches"));
    assert_eq!(feed.items.len(), 2);
    let first = &feed.items[0];
    assert_eq!(first.title, s("Sortie d’AcmeDB 4.0"));
    assert_eq!(first.url, s("https://linuxfr.example/news/sortie-de-acmedb-4-0"));
    assert_eq!(first.text, "AcmeDB 4.0 apporte la réplication logique & un nouveau planificateur.");
    assert_eq!(first.author, s("Camille Durand"));
    // dc:date 2026-03-02T08:30:00+01:00
    assert_eq!(first.published_at, utc(2026, 3, 2, 7, 30, 0));
    // dc:language fr-FR
    assert_eq!(first.lang, s("fr"));
    // feed-rs does not take rdf:about as the id; the URL identifies the item.
    assert_eq!(first.source_item_id, None);
    assert_eq!(feed.items[1].author, s("Benoît Sibaud"));
    assert_eq!(feed.items[1].published_at, utc(2026, 3, 1, 18, 0, 0));
}

#[test]
fn rss_20_french_news_with_cdata_html_and_dc_creator() {
    let feed = parse("rss20_fr_news.xml", "https://www.quotidien-regional.example/economie/rss.xml");
    assert_eq!(feed.title, s("Le Quotidien Régional - Économie"));
    assert!(feed.skipped.is_empty());
    assert_eq!(feed.items.len(), 3);

    let acme = &feed.items[0];
    assert_eq!(acme.source_item_id, s("ABC123"));
    assert_eq!(acme.title, s("Acme Énergie : 200 emplois menacés à Saint-Étienne, les salariés en grève"));
    // The link is kept as given (tracking parameters are the pipeline's business).
    assert_eq!(
        acme.url,
        s(
            "https://www.quotidien-regional.example/economie/acme-energie-200-emplois-menaces-a-saint-etienne-20260303_ABC123.php?utm_source=rss&utm_medium=feed"
        )
    );
    // content:encoded wins over description, and its HTML is kept.
    assert!(acme.text.starts_with("<p>Le groupe <strong>Acme Énergie</strong> a annoncé mardi"), "{}", acme.text);
    assert!(acme.text.contains("« Nous ne lâcherons rien »"));
    assert_eq!(acme.author, s("Élodie Mercier"));
    // Tue, 03 Mar 2026 09:47:00 +0100
    assert_eq!(acme.published_at, utc(2026, 3, 3, 8, 47, 0));
    assert_eq!(acme.lang, s("fr"));
    assert_eq!(acme.source_kind, Some(SourceKind::Rss));

    let salon = &feed.items[1];
    // No content:encoded: the description (CDATA, so HTML as written) is the text.
    assert_eq!(salon.text, "Plus de 300 exposants attendus, dont Acme &amp; Fils.");
    assert_eq!(salon.published_at, utc(2026, 3, 2, 17, 30, 0));

    let bourse = &feed.items[2];
    assert_eq!(bourse.text, "Séance portée par le luxe et l'énergie.");
    assert_eq!(bourse.author, None);
    assert_eq!(bourse.published_at, utc(2026, 3, 2, 17, 2, 0));
}

#[test]
fn atom_blog_resolves_relative_links_and_inherits_the_feed_author() {
    let feed = parse("atom_blog.xml", "https://ada.example.org/feed.atom");
    assert_eq!(feed.title, s("Ada's Notebook"));
    assert_eq!(feed.items.len(), 3);
    let [cloud, the, cycling] = &feed.items[..] else { unreachable!() };

    assert_eq!(cloud.source_item_id, s("tag:ada.example.org,2026-02-28:/2026/02/28/acme-cloud/"));
    // rel="alternate" is picked over rel="replies", and resolved against the feed URL.
    assert_eq!(cloud.url, s("https://ada.example.org/2026/02/28/acme-cloud/"));
    assert_eq!(cloud.title, s("Why I switched to Acme Cloud (and what I miss)"));
    // Content wins over summary; escaped HTML comes out as HTML.
    assert!(cloud.text.starts_with("<p>After six months on <a href=\"https://acme.example.com/\">Acme Cloud</a>"));
    // The entry names no author: the feed's applies (RFC 4287 §4.2.1).
    assert_eq!(cloud.author, s("Ada Lovelace"));
    // published 2026-02-28T20:15:00+01:00 is preferred to updated.
    assert_eq!(cloud.published_at, utc(2026, 2, 28, 19, 15, 0));
    assert_eq!(cloud.lang, s("en"));

    assert_eq!(the.title, s("Un billet en français : <em>le thé</em>"));
    assert_eq!(the.url, s("https://ada.example.org/2026/02/10/le-the/"));
    assert_eq!(the.author, s("Guest: Jean Dupont"));
    // No published: updated is used.
    assert_eq!(the.published_at, utc(2026, 2, 10, 8, 0, 0));
    // xml:lang on the content.
    assert_eq!(the.lang, s("fr"));
    assert_eq!(the.text, "<p>Quelques notes sur le thé vert.</p>");

    // A path-relative link resolves against the feed's directory.
    assert_eq!(cycling.url, s("https://ada.example.org/2026/01/05/cycling-log/"));
    assert_eq!(cycling.published_at, utc(2026, 1, 5, 12, 0, 0));
    assert_eq!(cycling.text, "<p>120 km this week.</p>");
}

#[test]
fn json_feed_11() {
    let feed = parse("jsonfeed_11.json", "https://micro.example/sam/feed.json");
    assert_eq!(feed.title, s("Micro.example — Sam's posts"));
    assert_eq!(feed.items.len(), 2);
    let [post, bike] = &feed.items[..] else { unreachable!() };

    // A micro-post: empty title, HTML content; the feed's authors apply.
    assert_eq!(post.source_item_id, s("https://micro.example/sam/2026/03/01/acme-support.html"));
    assert_eq!(post.title, None);
    assert!(post.text.contains("support closes my ticket"));
    assert_eq!(post.author, s("Sam Rivera"));
    assert_eq!(post.published_at, utc(2026, 3, 1, 22, 2, 33));
    assert_eq!(post.lang, s("en"));

    assert_eq!(bike.source_item_id, s("2"));
    assert_eq!(bike.url, s("https://micro.example/sam/2026/02/27/new-bike.html"));
    assert_eq!(bike.text, "Picked up the new gravel bike. Acme saddle is surprisingly comfy.");
    assert_eq!(bike.author, s("Sam R."));
    assert_eq!(bike.published_at, utc(2026, 2, 27, 9, 0, 0));

    // The third item has only an image and an external URL: nothing to match.
    assert_eq!(feed.skipped, vec![SkippedItem { index: 2, id: s("3"), reason: SkipReason::NoTitleNorText }]);
}

#[test]
fn google_alerts_links_are_unwrapped() {
    let feed =
        parse("google_alerts.xml", "https://www.google.com/alerts/feeds/06848373423817563729/12734529098130926714");
    assert_eq!(feed.title, s("Alerte Google - \"Acme Énergie\""));
    assert_eq!(feed.items.len(), 3);
    let first = &feed.items[0];
    assert_eq!(first.source_item_id, s("tag:google.com,2013:googlealerts/feed:2049573914384650823"));
    assert_eq!(
        first.url,
        s("https://www.quotidien-regional.example/economie/acme-energie-200-emplois-menaces-20260303_ABC123.php")
    );
    // Title and content are HTML with the search terms in bold.
    assert_eq!(first.title, s("<b>Acme Énergie</b> : 200 emplois menacés à Saint-Étienne"));
    assert!(first.text.starts_with("Le groupe <b>Acme Énergie</b> a annoncé"));
    // Google Alerts gives an empty <author><name></name></author>.
    assert_eq!(first.author, None);
    assert_eq!(first.published_at, utc(2026, 3, 3, 8, 14, 47));
    assert_eq!(first.source_kind, Some(SourceKind::Rss));
    assert_eq!(feed.items[1].url, s("https://www.conso-mag.example/avis/acme-energie-epingle"));
    // A YouTube result is a YouTube mention.
    assert_eq!(feed.items[2].url, s("https://www.youtube.com/watch?v=dQw4w9WgXcQ"));
    assert_eq!(feed.items[2].source_kind, Some(SourceKind::Youtube));
}

#[test]
fn reddit_search_feed_is_reddit() {
    let feed = parse("reddit_search.xml", "https://www.reddit.com/search.rss?q=acme+energie&sort=new");
    assert_eq!(feed.title, s("reddit.com: search results - acme energie"));
    assert_eq!(feed.items.len(), 2);
    let post = &feed.items[0];
    assert_eq!(post.source_item_id, s("t3_1j2k3l4"));
    assert_eq!(post.url, s("https://www.reddit.com/r/france/comments/1j2k3l4/acme_energie_service_client/"));
    assert_eq!(post.title, s("Acme Énergie : service client injoignable"));
    assert_eq!(post.author, s("/u/lyonnais_du_69"));
    assert_eq!(post.published_at, utc(2026, 3, 3, 8, 55, 12));
    assert_eq!(post.source_kind, Some(SourceKind::Reddit));
    assert!(post.text.contains("Trois semaines sans réponse du service client d&#39;Acme Énergie"));
    // Reddit's "submitted by /u/x [link] [comments]" trailer is not the post's text.
    assert!(post.text.ends_with("<!-- SC_ON -->"), "{}", post.text);
    // A link post pointing to a news site is still a Reddit mention (the feed is Reddit's).
    assert_eq!(feed.items[1].source_kind, Some(SourceKind::Reddit));
    assert!(!feed.items[1].text.contains("submitted by"), "{}", feed.items[1].text);
    assert!(!feed.items[1].text.contains("[link]"), "{}", feed.items[1].text);
}

#[test]
fn reddit_trailer_is_only_stripped_when_it_is_reddits() {
    let mut html = "<p>Acme</p> &#32; submitted by &#32; <a>/u/x</a> <span><a>[link]</a></span>".to_string();
    strip_reddit_trailer(&mut html);
    assert_eq!(html, "<p>Acme</p>");
    // A post that says "submitted by" itself keeps it.
    let mut html = "<p>Le dossier submitted by Acme</p>".to_string();
    strip_reddit_trailer(&mut html);
    assert_eq!(html, "<p>Le dossier submitted by Acme</p>");
    // Only in Reddit's feeds.
    let body = br#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>B</title><id>b</id>
<entry><id>1</id><title>t</title><link href="https://blog.example/1"/><content type="html">x &#32; submitted by &lt;a&gt;[link]&lt;/a&gt;</content></entry></feed>"#;
    let feed = parse_feed(body, None, "https://blog.example/atom").unwrap();
    assert!(feed.items[0].text.contains("submitted by"));
}

#[test]
fn duplicate_guids_are_kept_once_and_empty_items_are_skipped() {
    let feed = parse("duplicate_guids_no_dates.xml", "https://forum.acme-users.example/rss");
    assert_eq!(feed.items.len(), 2);
    let first = &feed.items[0];
    // The first of the duplicates is kept.
    assert_eq!(first.source_item_id, s("https://forum.acme-users.example/t/1234"));
    assert_eq!(first.title, s("Problème de facturation"));
    // `<author>email (Name)</author>`
    assert_eq!(first.author, s("Marie L."));
    // No dates anywhere: the pipeline decides.
    assert!(feed.items.iter().all(|m| m.published_at.is_none()));
    // No title, no guid, but text: kept, without a made-up id.
    let untitled = &feed.items[1];
    assert_eq!(untitled.title, None);
    assert_eq!(untitled.source_item_id, None);
    assert_eq!(untitled.url, None);
    assert_eq!(untitled.text, "Un message sans titre ni identifiant, mais avec du texte.");

    assert_eq!(
        feed.skipped,
        vec![
            SkippedItem { index: 1, id: s("https://forum.acme-users.example/t/1234"), reason: SkipReason::DuplicateId },
            SkippedItem {
                index: 2,
                id: s("https://forum.acme-users.example/t/1240"),
                reason: SkipReason::NoTitleNorText
            },
        ]
    );
    assert_eq!(SkipReason::NoTitleNorText.to_string(), "no title and no text");
}

#[test]
fn one_guid_on_items_with_different_links_keeps_every_item() {
    // A generator that gives every item the same GUID: two articles, not one.
    let body = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>
        <item><guid isPermaLink="false">post</guid><link>https://blog.example/a</link><title>Premier</title></item>
        <item><guid isPermaLink="false">post</guid><link>https://blog.example/b</link><title>Second</title></item>
        <item><guid isPermaLink="false">post</guid><link>https://blog.example/b</link><title>Second</title></item>
        </channel></rss>"#;
    let feed = parse_feed(body, None, "https://blog.example/rss").unwrap();
    let titles: Vec<_> = feed.items.iter().map(|m| m.title.as_deref()).collect();
    assert_eq!(titles, [Some("Premier"), Some("Second")]);
    assert_eq!(feed.skipped.len(), 1, "the true repeat: {:?}", feed.skipped);
    assert_eq!(feed.skipped[0].reason, SkipReason::DuplicateId);
}

#[test]
fn broken_bodies_give_plain_errors() {
    let url = "https://example.org/feed";
    assert_eq!(parse_feed(&testdata("empty.xml"), None, url), Err(FeedError::Empty));
    assert_eq!(parse_feed(b" \r\n\t ", Some("application/rss+xml"), url), Err(FeedError::Empty));
    assert_eq!(FeedError::Empty.to_string(), "empty response body");

    let html = parse_feed(&testdata("html_page.html"), Some("text/html; charset=utf-8"), url).unwrap_err();
    assert_eq!(html, FeedError::Html);
    assert_eq!(
        html.to_string(),
        "this is an HTML page, not a feed (did you give the site's address instead of its feed?)"
    );
    // Told by the body alone, whatever the Content-Type says.
    assert_eq!(parse_feed(&testdata("html_page.html"), Some("application/rss+xml"), url), Err(FeedError::Html));

    let truncated = parse_feed(&testdata("truncated.xml"), Some("application/rss+xml"), url).unwrap_err();
    let msg = truncated.to_string();
    assert!(matches!(truncated, FeedError::Invalid { .. }), "{msg}");
    assert!(msg.starts_with("not a valid feed: XML syntax error"), "{msg}");
    assert!(msg.len() < 260, "{msg}");

    // Cut right after a complete item: still an error, not a silent partial feed.
    let full = testdata("rss20_fr_news.xml");
    let cut = full.windows(7).position(|w| w == b"</item>").unwrap() + 7;
    assert!(matches!(parse_feed(&full[..cut], None, url), Err(FeedError::Invalid { .. })));

    let other_xml = parse_feed(b"<?xml version=\"1.0\"?><sitemap><url/></sitemap>", None, url).unwrap_err();
    assert_eq!(other_xml.to_string(), "not a valid feed: no RSS, Atom or JSON Feed root element found");
    let json = parse_feed(b"{\"error\": \"rate limited\"}", Some("application/json"), url).unwrap_err();
    assert!(json.to_string().starts_with("not a valid feed: "), "{json}");
    let text = parse_feed(b"Service Unavailable", Some("text/plain"), url).unwrap_err();
    assert!(matches!(text, FeedError::Invalid { .. }), "{text}");
}

#[test]
fn html_is_recognised_behind_prologs_and_in_xhtml() {
    let url = "https://example.org/";
    let xhtml = b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- generated -->\n\
        <!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\n\
        <html xmlns=\"http://www.w3.org/1999/xhtml\"><head><title>x</title></head><body/></html>";
    assert_eq!(parse_feed(xhtml, None, url), Err(FeedError::Html));
    assert_eq!(parse_feed(b"<HTML><BODY>old school</BODY></HTML>", None, url), Err(FeedError::Html));
    // A broken page without <html> but served as HTML.
    assert_eq!(parse_feed(b"<div>Oops <p>maintenance", Some("text/html"), url), Err(FeedError::Html));
    // A truncated feed served as text/html is a broken feed, not a web page.
    let truncated = parse_feed(&testdata("truncated.xml"), Some("text/html"), url);
    assert!(matches!(truncated, Err(FeedError::Invalid { .. })), "{truncated:?}");
    // A real feed wrongly served as text/html still parses.
    let feed = parse_feed(&testdata("rss20_fr_news.xml"), Some("text/html"), url).unwrap();
    assert_eq!(feed.items.len(), 3);
}

#[test]
fn xxe_entities_are_neither_expanded_nor_read() {
    let started = Instant::now();
    let result = parse_feed(&testdata("xxe.xml"), None, "https://evil.example/feed");
    assert!(started.elapsed() < Duration::from_secs(1));
    // Parses, with the entity reference left as literal text.
    let feed = result.unwrap();
    assert_eq!(feed.title, s("Innocent feed &xxe;"));
    let item = &feed.items[0];
    assert_eq!(item.title, s("Read this &xxe;"));
    assert_eq!(item.text, "Secret: &xxe;");
    let all = format!("{feed:?}");
    assert!(!all.contains("root:"), "file content leaked: {all}");
    assert!(!all.contains("/bin/"), "file content leaked: {all}");
}

#[test]
fn billion_laughs_is_not_expanded() {
    let started = Instant::now();
    let feed = parse_feed(&testdata("billion_laughs.xml"), None, "https://lol.example/feed").unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    let item = &feed.items[0];
    assert_eq!(item.title, s("Ha &lol9;"));
    assert_eq!(item.text, "&lol9;&lol9;&lol9;");
    assert!(format!("{feed:?}").len() < 10_000);
}

#[test]
fn language_tags_keep_the_primary_subtag() {
    assert_eq!(primary_language("fr-FR"), s("fr"));
    assert_eq!(primary_language("en_US"), s("en"));
    assert_eq!(primary_language(" DE "), s("de"));
    assert_eq!(primary_language("fil-PH"), s("fil"));
    assert_eq!(primary_language(""), None);
    assert_eq!(primary_language("français"), None);
    assert_eq!(primary_language("x"), None);
}

#[test]
fn platforms_are_told_by_host_only_when_obvious() {
    assert_eq!(platform_of_host("www.reddit.com"), Some(SourceKind::Reddit));
    assert_eq!(platform_of_host("old.reddit.com"), Some(SourceKind::Reddit));
    assert_eq!(platform_of_host("reddit.com."), Some(SourceKind::Reddit));
    assert_eq!(platform_of_host("www.YouTube.com"), Some(SourceKind::Youtube));
    assert_eq!(platform_of_host("youtu.be"), Some(SourceKind::Youtube));
    assert_eq!(platform_of_host("news.google.com"), Some(SourceKind::News));
    assert_eq!(platform_of_host("www.google.com"), None);
    assert_eq!(platform_of_host("notreddit.com"), None);
    assert_eq!(platform_of_host("mastodon.social"), None);
}

#[test]
fn links_resolve_against_the_feed_and_keep_only_web_schemes() {
    let base = Url::parse("https://blog.example/feeds/all.xml").unwrap();
    assert_eq!(resolve_link("/a", Some(&base)), s("https://blog.example/a"));
    assert_eq!(resolve_link("b/c", Some(&base)), s("https://blog.example/feeds/b/c"));
    assert_eq!(resolve_link("//cdn.example/x", Some(&base)), s("https://cdn.example/x"));
    assert_eq!(resolve_link("http://other.example/", Some(&base)), s("http://other.example/"));
    assert_eq!(resolve_link("javascript:alert(1)", Some(&base)), None);
    assert_eq!(resolve_link("mailto:a@b.example", Some(&base)), None);
    assert_eq!(resolve_link("/relative-without-base", None), None);
    // A Google redirect to a non-web target is kept as the Google link.
    assert_eq!(
        resolve_link("https://www.google.com/url?url=javascript:alert(1)", None),
        s("https://www.google.com/url?url=javascript:alert(1)")
    );
}

#[test]
fn youtube_channel_feed_uses_the_media_description() {
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">
 <link rel="self" href="http://www.youtube.com/feeds/videos.xml?channel_id=UC123"/>
 <id>yt:channel:UC123</id>
 <title>Acme Officiel</title>
 <author><name>Acme Officiel</name><uri>https://www.youtube.com/channel/UC123</uri></author>
 <published>2019-01-01T00:00:00+00:00</published>
 <entry>
  <id>yt:video:abcDEF12345</id>
  <yt:videoId>abcDEF12345</yt:videoId>
  <title>Notre réponse à vos questions</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v=abcDEF12345"/>
  <author><name>Acme Officiel</name><uri>https://www.youtube.com/channel/UC123</uri></author>
  <published>2026-03-02T12:00:00+00:00</published>
  <updated>2026-03-02T15:00:00+00:00</updated>
  <media:group>
   <media:content url="https://www.youtube.com/v/abcDEF12345?version=3" type="application/x-shockwave-flash" width="640" height="390"/>
   <media:thumbnail url="https://i2.ytimg.com/vi/abcDEF12345/hqdefault.jpg" width="480" height="360"/>
   <media:title>Notre réponse à vos questions</media:title>
   <media:description>Le directeur général répond aux critiques.</media:description>
  </media:group>
 </entry>
</feed>"#;
    let feed = parse_feed(
        body.as_bytes(),
        Some("application/atom+xml"),
        "https://www.youtube.com/feeds/videos.xml?channel_id=UC123",
    )
    .unwrap();
    let video = &feed.items[0];
    assert_eq!(video.source_item_id, s("yt:video:abcDEF12345"));
    assert_eq!(video.url, s("https://www.youtube.com/watch?v=abcDEF12345"));
    assert_eq!(video.text, "Le directeur général répond aux critiques.");
    assert_eq!(video.author, s("Acme Officiel"));
    assert_eq!(video.published_at, utc(2026, 3, 2, 12, 0, 0));
    assert_eq!(video.source_kind, Some(SourceKind::Youtube));
}

#[test]
fn truncated_and_garbled_inputs_never_panic() {
    let url = "https://example.org/feed";
    for name in [
        "rss091_netscape.xml",
        "rss10_rdf.xml",
        "rss20_fr_news.xml",
        "atom_blog.xml",
        "jsonfeed_11.json",
        "google_alerts.xml",
        "reddit_search.xml",
    ] {
        let body = testdata(name);
        for cut in (0..body.len()).step_by(13) {
            let _ = parse_feed(&body[..cut], None, url);
        }
        // Flip bytes: markup characters in odd places.
        for (i, b) in [b'<', b'>', b'&', b'"', 0xff].into_iter().enumerate() {
            let mut garbled = body.clone();
            for pos in (i * 31..garbled.len()).step_by(97) {
                garbled[pos] = b;
            }
            let _ = parse_feed(&garbled, None, url);
        }
    }
}

#[test]
fn a_utf8_bom_and_leading_blank_lines_are_tolerated() {
    let mut rss = b"\xEF\xBB\xBF\n\n".to_vec();
    rss.extend(testdata("rss20_fr_news.xml"));
    assert_eq!(parse_feed(&rss, None, "https://example.org/rss").unwrap().items.len(), 3);
    let mut json = b"\xEF\xBB\xBF".to_vec();
    json.extend(testdata("jsonfeed_11.json"));
    assert_eq!(parse_feed(&json, None, "https://example.org/feed.json").unwrap().items.len(), 2);
}

#[test]
fn google_news_publisher_suffix_needs_an_exact_match() {
    let desc = |publisher: &str| format!("<a href=\"x\">H</a>&nbsp;&nbsp;<font color=\"#6f6f6f\">{publisher}</font>");
    assert_eq!(strip_publisher_suffix("Acme - A - Le Monde", &desc("Le Monde")), s("Acme - A"));
    assert_eq!(strip_publisher_suffix("Acme & Co - Les Échos & Cie", &desc("Les Échos &amp; Cie")), s("Acme & Co"));
    assert_eq!(strip_publisher_suffix("Acme - L'Express", &desc("L&#x27;Express")), s("Acme"));
    // Not the same publisher, no " - ", nothing left, no <font>, an unknown entity, a stray `&`.
    assert_eq!(strip_publisher_suffix("Acme - Le Monde", &desc("Le Monde.fr")), None);
    assert_eq!(strip_publisher_suffix("Acme Le Monde", &desc("Le Monde")), None);
    assert_eq!(strip_publisher_suffix(" - Le Monde", &desc("Le Monde")), None);
    assert_eq!(strip_publisher_suffix("Acme - Le Monde", "<a href=\"x\">Acme</a> Le Monde"), None);
    assert_eq!(strip_publisher_suffix("Acme - Le&eacute;", &desc("Le&eacute;")), None);
    assert_eq!(strip_publisher_suffix("Acme - A & B", &desc("A & B")), None);
    assert_eq!(strip_publisher_suffix("Acme - X", &desc("&#1114112;")), None);
    assert_eq!(strip_publisher_suffix("Acme - X", "<font color=\"#6f6f6f\">X"), None);
}

#[test]
fn only_empty_media_text_elements_are_dropped_for_the_retry() {
    let strip = |s: &str| without_empty_media_text(s.as_bytes()).map(|v| String::from_utf8(v).unwrap());
    assert_eq!(strip("<g><media:description></media:description><x/></g>"), s("<g><x/></g>"));
    assert_eq!(strip("<g><media:description type=\"plain\">\n  </media:description></g>"), s("<g></g>"));
    assert_eq!(strip("<g><media:title/><media:description /></g>"), s("<g></g>"));
    assert_eq!(strip("<media:title>T</media:title><media:title></media:title>"), s("<media:title>T</media:title>"));
    for kept in [
        "<media:description>Texte</media:description>",
        "<media:descriptions></media:descriptions>",
        "<media:description></media:title>",
        "<media:thumbnail url=\"x\"/>",
        "<media:description",
        "<media:",
        "",
    ] {
        assert_eq!(strip(kept), None, "{kept}");
    }
}

#[test]
fn an_empty_media_description_does_not_lose_the_whole_feed() {
    let atom = |description: &str| {
        format!(
            "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:media=\"http://search.yahoo.com/mrss/\">\
             <title>c</title><entry><id>yt:video:a</id><title>Sans description</title>\
             <link rel=\"alternate\" href=\"https://www.youtube.com/watch?v=a\"/>\
             <media:group><media:title>Sans description</media:title>\
             <media:content url=\"https://www.youtube.com/v/a\" type=\"application/x-shockwave-flash\"/>\
             {description}</media:group></entry></feed>"
        )
    };
    // feed-rs alone fails on it…
    let raw = atom("<media:description></media:description>");
    assert!(feed_rs::parser::parse(raw.as_bytes()).is_err());
    // …the adapter keeps the entry, with its title and no text.
    for description in ["<media:description></media:description>", "<media:description/>"] {
        let feed = parse_feed(atom(description).as_bytes(), None, "https://www.youtube.com/feeds/videos.xml").unwrap();
        assert_eq!(feed.items.len(), 1);
        assert_eq!(feed.items[0].title, s("Sans description"));
        assert_eq!(feed.items[0].text, "");
    }
    // Other broken feeds keep their own error.
    let broken = atom("<media:description></media:description><oops>");
    assert!(matches!(parse_feed(broken.as_bytes(), None, "https://x.example/"), Err(FeedError::Invalid { .. })));
}

#[test]
fn rss_without_a_version_or_with_another_is_read_as_2_0() {
    let feed = |root: &str| {
        format!(
            "<?xml version=\"1.0\"?>\n<!-- made by hand -->\n{root}<channel><title>t</title>\
             <item><title>Acme ok</title><link>http://e.x/ok</link><dc:creator>Léa</dc:creator></item></channel></rss>"
        )
    };
    let cases = [
        ("<rss xmlns:dc=\"http://purl.org/dc/elements/1.1/\">", "has no version"),
        ("<rss\n  xmlns:dc='http://purl.org/dc/elements/1.1/' version='2.01'>", "RSS version \"2.01\""),
        ("<rss version=\"0.94\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" >", "RSS version \"0.94\""),
    ];
    for (root, said) in cases {
        let parsed =
            parse_feed(feed(root).as_bytes(), None, "http://e.x/feed").unwrap_or_else(|e| panic!("{root}: {e}"));
        assert_eq!(parsed.items.len(), 1, "{root}");
        assert_eq!(parsed.items[0].url, s("http://e.x/ok"));
        assert_eq!(parsed.items[0].author, s("Léa"), "{root}: the other attributes are kept");
        assert!(parsed.warnings.iter().any(|w| w.contains(said)), "{root}: {:?}", parsed.warnings);
    }
    // A known version is read as it is, without a warning.
    let plain = parse_feed(
        feed("<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">").as_bytes(),
        None,
        "http://e.x/feed",
    )
    .unwrap();
    assert!(plain.warnings.is_empty(), "{:?}", plain.warnings);
    // Its other defects are repaired as in any feed (an empty media
    // description), or reported as they are, not as an unknown version.
    let media = "<rss xmlns:media=\"http://search.yahoo.com/mrss/\"><channel><title>t</title><item><title>Acme</title>\
                 <link>http://e.x/v</link><media:description></media:description></item></channel></rss>";
    let parsed = parse_feed(media.as_bytes(), None, "http://e.x/feed").unwrap();
    assert_eq!(parsed.items.len(), 1);
    let Err(FeedError::Invalid { reason }) =
        parse_feed(b"<rss><channel><title>t</title><item><title>a</b></item></channel></rss>", None, "http://e.x/feed")
    else {
        panic!("a mismatched tag is an error")
    };
    assert!(!reason.contains("feed version"), "{reason}");
}

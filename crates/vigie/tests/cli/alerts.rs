//! Early warning through the binary: alerts raised as mentions are stored,
//! sent to a webhook on 127.0.0.1 (signed, retried after failures and
//! restarts, never twice), acknowledged and resolved; backtests of history.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::support::server::{Response, TestServer};
use crate::support::{Vigie, unix_now};

fn mention(id: &str, text: &str, published: i64) -> Value {
    json!({"url": format!("https://forum.example.fr/t/{id}"), "text": text, "published_at": published, "source": "forum"})
}

fn import(vigie: &Vigie, rows: &[Value]) {
    let body: String = rows.iter().map(|r| format!("{r}\n")).collect();
    let file = vigie.write("mentions.jsonl", body);
    vigie.run(&["import", file.to_str().unwrap()]).success();
}

fn alerts(vigie: &Vigie) -> Vec<Value> {
    vigie.run(&["alert", "list", "--format", "json"]).success().json().as_array().unwrap().clone()
}

/// The `event_id` of each notification a receiver got at `path`, in order.
fn event_ids(server: &TestServer, path: &str) -> Vec<String> {
    server
        .requests_to(path)
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["event_id"].as_str().unwrap().to_string())
        .collect()
}

/// A watch on Acme and a webhook to `server`'s `/hook` for every alert.
fn watched_with_hook(server: &TestServer) -> Vigie {
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    vigie.run(&["notify", "webhook", &server.url("/hook"), "--min-severity", "info"]).success();
    vigie
}

/// A mention with a trigger term ("rappel produit") that reads as no
/// complaint: it opens a warning, not a critical alert.
const RECALL_NOTICE: &str = "Acme annonce le rappel produit de sa bouilloire, par précaution. Merci pour l'info !";

/// Makes every pending delivery due now (as if its back-off had passed).
fn make_deliveries_due(vigie: &Vigie) {
    vigie.with_db(async |pool| {
        sqlx::query("UPDATE deliveries SET next_attempt_at = 0 WHERE status = 'pending'").execute(pool).await.unwrap();
    });
}

#[test]
fn a_trigger_term_opens_one_alert_that_grows_and_is_delivered_once_despite_failures() {
    // The receiver fails the first round (both alerts), then accepts.
    let answers = Arc::new(Mutex::new(vec![500u16, 503, 200, 200, 200]));
    let server = TestServer::start(move |_| {
        let mut a = answers.lock().unwrap();
        let status = if a.is_empty() { 200 } else { a.remove(0) };
        Response::new(status).body("{}")
    });
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    let hook = vigie
        .run(&["notify", "webhook", &server.url("/hooks/vigie"), "--secret", "s3cret", "--min-severity", "warning"])
        .success();
    assert!(hook.stdout.contains("(signed)"), "{}", hook.stdout);

    let now = unix_now();
    import(
        &vigie,
        &[
            mention("1", "Acme est une ARNAQUE, j'ai payé et rien reçu", now - 120),
            mention("2", "Encore une arnaque signée Acme, je porte plainte", now - 60),
            mention("3", "Acme, une arnaque ? Mon colis est arrivé hier", now - 30),
            mention("4", "Rien à voir : une arnaque chez un autre marchand", now - 20),
            mention("5", "Vieille histoire : Acme arnaque", now - 3 * 86_400),
            mention("6", "Je vais porter plainte contre Acme", now - 10),
        ],
    );
    let list = alerts(&vigie);
    let arnaque: Vec<&Value> = list.iter().filter(|a| a["title"].as_str().unwrap().contains("arnaqu*")).collect();
    assert_eq!(arnaque.len(), 1, "one alert for the term, not one per mention: {list:#?}");
    assert_eq!(arnaque[0]["events"], 3, "mentions 1-3: 4 is not about Acme, 5 is three days old");
    assert_eq!(arnaque[0]["observed"], 3.0);
    assert_eq!(list.len(), 2, "mention 2's \"plainte\" is in the arnaque alert, 6 opens its own: {list:#?}");
    assert_eq!(arnaque[0]["status"], "open");
    assert!(list.iter().any(|a| a["title"].as_str().unwrap().contains("plainte")), "{list:#?}");
    let id = arnaque[0]["id"].to_string();

    // The explanation: terms, mentions, and where the notifications stand.
    let show = vigie.run(&["alert", "show", &id]).success().stdout;
    assert!(show.contains("terms: arnaqu*, plainte*"), "{show}");
    assert!(show.contains("https://forum.example.fr/t/1"), "{show}");

    // Delivery: the first attempt fails (500), is kept, and tried again by a
    // later process once due; it is then sent once and never again.
    let first = vigie.run(&["notify", "send"]).success().stdout;
    assert!(first.contains("0 notification(s) sent, 2 to retry"), "{first}");
    make_deliveries_due(&vigie);
    let second = vigie.run(&["notify", "send"]).success().stdout;
    assert!(second.contains("2 notification(s) sent, 0 to retry"), "{second}");
    make_deliveries_due(&vigie);
    let third = vigie.run(&["notify", "send"]).success().stdout;
    assert!(third.contains("0 notification(s) sent, 0 to retry, 0 failed"), "nothing left to send: {third}");
    let requests = server.requests();
    assert_eq!(requests.len(), 4, "two failures, then each alert once");
    let delivered: Vec<Value> =
        requests[2..].iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect::<Vec<_>>();
    let events: Vec<&str> = delivered.iter().map(|d| d["event_id"].as_str().unwrap()).collect();
    assert_eq!(events.iter().collect::<std::collections::HashSet<_>>().len(), 2, "{events:?}");
    for (request, body) in requests[2..].iter().zip(&delivered) {
        assert!(body["text"].as_str().unwrap().contains("Acme"), "{body}");
        let signature = request.header("X-Vigie-Signature").unwrap();
        let timestamp = request.header("X-Vigie-Timestamp").unwrap();
        assert!(vigie_notify::verify_signature("s3cret", timestamp, &request.body, signature));
        assert!(!vigie_notify::verify_signature("other", timestamp, &request.body, signature));
    }
    let show = vigie.run(&["alert", "show", &id]).success().stdout;
    assert!(show.contains("sent after 2 attempt(s)"), "{show}");

    // A person takes it: acknowledged, then resolved.
    vigie.run(&["alert", "ack", &id]).success();
    vigie.run(&["alert", "resolve", &id]).success();
    let show = vigie.run(&["alert", "show", &id]).success().stdout;
    assert!(show.contains("acknowledged: ") && show.contains(" by command line\nresolved: "), "{show}");
    let resolved = vigie.run(&["alert", "list", "--status", "resolved", "--format", "json"]).success().json();
    assert_eq!(resolved.as_array().unwrap().len(), 1);
    let bad = vigie.run(&["alert", "ack", "999"]).code(2);
    assert!(bad.stderr.contains("no alert with id 999"), "{}", bad.stderr);
    // A resolved alert is not acknowledged again (as in the web app).
    let again = vigie.run(&["alert", "ack", &id]).code(1);
    assert!(again.stderr.contains("is resolved already"), "{}", again.stderr);
    let twice = vigie.run(&["alert", "resolve", &id]).code(1);
    assert!(twice.stderr.contains("is resolved already"), "{}", twice.stderr);
    let resolved = vigie.run(&["alert", "list", "--status", "resolved", "--format", "json"]).success().json();
    assert_eq!(resolved.as_array().unwrap().len(), 1, "still resolved");
    let zero = vigie.run(&["alert", "list", "--limit", "0"]).code(2);
    assert!(zero.stderr.contains("0 is not in 1..=10000"), "{}", zero.stderr);
}

#[test]
fn copies_of_one_article_are_one_story_in_the_alert() {
    // The same wire story on four news sites, each with its own title and
    // footer: four mentions, one story, one event.
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    let now = unix_now();
    let body = "Une plainte collective a été déposée mardi contre le fabricant d'électroménager Acme par \
                plus de deux cents clients qui accusent l'entreprise d'avoir vendu des bouilloires \
                défectueuses. Selon leur avocat, plusieurs appareils ont pris feu pendant leur utilisation \
                et la société n'a jamais répondu aux réclamations envoyées depuis le printemps dernier.";
    let rows: Vec<Value> = ["presse-a", "presse-b", "presse-c", "presse-d"]
        .iter()
        .enumerate()
        .map(|(i, site)| {
            json!({"url": format!("https://{site}.example.fr/acme"), "title": format!("Acme visé par une plainte ({site})"),
                   "text": format!("{body} Lire aussi sur {site}."), "published_at": now - 60 + i as i64, "source": "news"})
        })
        .collect();
    import(&vigie, &rows);
    let list = alerts(&vigie);
    let plainte: Vec<&Value> = list.iter().filter(|a| a["title"].as_str().unwrap().contains("plainte")).collect();
    assert_eq!(plainte.len(), 1, "{list:#?}");
    assert_eq!(plainte[0]["events"], 1, "one story: {list:#?}");
    assert_eq!(plainte[0]["observed"], 4.0, "four mentions");
    let show = vigie.run(&["alert", "show", &plainte[0]["id"].to_string()]).success().stdout;
    assert!(show.contains("stories: 1 (the other 3 mention(s) are copies of them)"), "{show}");
}

#[test]
fn a_complaint_corrected_to_negative_raises_its_high_reach_alert() {
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    vigie.run(&["alert", "settings", "--high-reach", "45"]).success();
    let now = unix_now();
    let row = json!({"url": "https://x.com/star/status/1", "author": "star", "source": "twitter",
                     "text": "Merci Acme pour ce magnifique retard de trois semaines, vraiment bravo",
                     "published_at": now - 60, "followers": 3_000_000});
    import(&vigie, &[row]);
    let id: i64 = vigie.with_db(async |pool| {
        sqlx::query_scalar("SELECT id FROM mentions WHERE url = 'https://x.com/star/status/1'")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    let reach_alerts =
        |v: &Vigie| alerts(v).into_iter().filter(|a| a["rule"] == "high_reach_negative").collect::<Vec<_>>();
    // The model reads the irony as praise: no alert.
    let before = vigie.run(&["mention", "show", &id.to_string(), "--format", "json"]).success().json();
    assert_ne!(before["mention"]["analysis"]["sentiment"]["label"], "negative", "{before}");
    assert!(reach_alerts(&vigie).is_empty());
    // A person says it is a complaint: the alert it should have raised is raised.
    let labelled = vigie.run(&["mention", "label", &id.to_string(), "negative"]).success();
    assert!(labelled.stdout.contains("alert "), "{}", labelled.stdout);
    let raised = reach_alerts(&vigie);
    assert_eq!(raised.len(), 1, "{raised:#?}");
    // Labelled again: nothing more.
    vigie.run(&["mention", "label", &id.to_string(), "negative"]).success();
    assert_eq!(reach_alerts(&vigie)[0]["events"], 1);
}

#[test]
fn settings_change_the_rules_and_refuse_nonsense() {
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    let shown = vigie.run(&["alert", "settings"]).success().stdout;
    assert!(shown.contains("boycott") && shown.contains("rules on: negative_surge"), "{shown}");
    let changed = vigie
        .run(&["alert", "settings", "--add-terms", "panne géante, fuite de données", "--cooldown", "2h"])
        .success();
    assert!(changed.stdout.contains("panne géante") && changed.stdout.contains("cooldown: 2h"), "{}", changed.stdout);
    let bad = vigie.run(&["alert", "settings", "--add-terms", ",,, ,"]).code(2);
    assert!(bad.stderr.contains("lists no term"), "{}", bad.stderr);
    // Replacing every term (defaults too) with nothing takes a clear `none`.
    let bad = vigie.run(&["alert", "settings", "--trigger-terms", " "]).code(2);
    assert!(bad.stderr.contains("`none` to have no trigger term"), "{}", bad.stderr);
    assert!(vigie.run(&["alert", "settings"]).success().stdout.contains("boycott"), "nothing was changed");
    let bad = vigie.run(&["alert", "settings", "--high-reach", "250"]).code(2);
    assert!(bad.stderr.contains("0 to 100"), "{}", bad.stderr);
    let bad = vigie.run(&["alert", "settings", "--disable", "volume_spike"]).code(2);
    assert!(bad.stderr.contains("unknown alert rule"), "{}", bad.stderr);

    let now = unix_now();
    import(&vigie, &[mention("1", "Panne geante chez ACME ce matin", now - 60)]);
    let list = alerts(&vigie);
    assert_eq!(list.len(), 1, "{list:#?}");
    assert!(list[0]["title"].as_str().unwrap().contains("panne géante"), "accents folded like watches: {list:#?}");

    vigie.run(&["alert", "settings", "--disable", "trigger_term"]).success();
    import(&vigie, &[mention("2", "Boycott Acme !", now - 30)]);
    assert_eq!(alerts(&vigie).len(), 1, "trigger terms switched off");
    let refused = vigie.run(&["notify", "webhook", "ftp://hooks.example/x"]).code(2);
    assert!(refused.stderr.contains("not an http(s) address"), "{}", refused.stderr);
    let refused = vigie.run_with(&["notify", "webhook", "http://10.0.0.1/hook"], |cmd| {
        cmd.env_remove("VIGIE_ALLOW_PRIVATE_NETWORK");
    });
    let refused = refused.code(2);
    assert!(refused.stderr.contains("10.0.0.1 is a private network address"), "{}", refused.stderr);
    let refused = vigie.run(&["notify", "email", "not-an-address"]).code(2);
    assert!(refused.stderr.contains("not an e-mail address"), "{}", refused.stderr);

    // Each channel has a language: French unless told otherwise.
    let french = vigie.run(&["notify", "email", "com@example.fr"]).success().stdout;
    assert!(french.contains("e-mailed to com@example.fr, in French"), "{french}");
    let english = vigie.run(&["notify", "webhook", "https://hooks.example/en", "--lang", "en"]).success().stdout;
    assert!(english.contains("go to https://hooks.example/en, in English"), "{english}");
    let refused = vigie.run(&["notify", "email", "de@example.de", "--lang", "de"]).code(2);
    assert!(refused.stderr.contains("--lang: unknown language \"de\": expected fr or en"), "{}", refused.stderr);
    let list = vigie.run(&["notify", "list", "--format", "json"]).success().json();
    let langs: Vec<(&str, &str)> =
        list.as_array().unwrap().iter().map(|c| (c["target"].as_str().unwrap(), c["lang"].as_str().unwrap())).collect();
    assert_eq!(langs, [("com@example.fr", "fr"), ("https://hooks.example/en", "en")]);
}

/// Two weeks of a small brand's chatter (a few mentions an hour, more by
/// day), then a burst of complaints in one afternoon.
fn history_with_a_burst(end: i64) -> (Vec<Value>, i64) {
    let mut rows = Vec::new();
    let start = end - 14 * 86_400;
    let mut n = 0;
    let mut t = start;
    while t < end {
        let hour = (t / 3600) % 24;
        let per_hour = if (8..20).contains(&hour) { 3 } else { 1 };
        for k in 0..per_hour {
            n += 1;
            rows.push(mention(&format!("h{n}"), "Commande Acme reçue, rien à signaler", t + k * 600));
        }
        t += 3600;
    }
    let burst = end - 3 * 86_400 + 15 * 3600;
    for k in 0..60 {
        rows.push(mention(&format!("b{k}"), "Panne Acme à Lyon, plus de réseau depuis ce midi", burst + k * 30));
    }
    (rows, burst)
}

#[test]
fn a_backtest_replays_history_and_finds_the_burst_without_saving_anything() {
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    let now = unix_now();
    let (rows, burst) = history_with_a_burst(now - 86_400);
    import(&vigie, &rows);
    assert!(alerts(&vigie).is_empty(), "history older than a day raises no live alert");

    let run = vigie.run(&["backtest", "--watch", "Acme", "--from", "10d", "--format", "json"]).success();
    let fired = run.json();
    let surges: Vec<&Value> = fired.as_array().unwrap().iter().filter(|a| a["rule"] == "volume_surge").collect();
    assert_eq!(surges.len(), 1, "{fired:#}");
    let opened = chrono::DateTime::parse_from_str(
        &format!("{} +0000", surges[0]["opened"].as_str().unwrap()),
        "%Y-%m-%d %H:%M:%SZ %z",
    )
    .unwrap()
    .timestamp();
    assert!((burst..burst + 3600).contains(&opened), "the surge is found during the burst: {opened} vs {burst}");
    assert!(surges[0]["observed"].as_f64().unwrap() > surges[0]["expected"].as_f64().unwrap() * 2.0);
    assert!(alerts(&vigie).is_empty(), "a backtest saves nothing");
    // The burst's day alone: a bare --to date includes that day.
    let day = chrono::DateTime::from_timestamp(burst, 0).unwrap().format("%Y-%m-%d").to_string();
    let one_day =
        vigie.run(&["backtest", "--watch", "Acme", "--from", &day, "--to", &day, "--format", "json"]).success();
    assert!(one_day.json().as_array().unwrap().iter().any(|a| a["rule"] == "volume_surge"), "{}", one_day.stdout);

    let bad = vigie.run(&["backtest", "--watch", "Nope", "--from", "7d"]).code(2);
    assert!(bad.stderr.contains("no watch named"), "{}", bad.stderr);
    let bad = vigie.run(&["backtest", "--watch", "Acme", "--from", "yesterday-ish"]).code(2);
    assert!(bad.stderr.contains("is not a date"), "{}", bad.stderr);
}

#[test]
fn a_live_surge_is_raised_as_the_mentions_arrive() {
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    let now = unix_now();
    let (mut rows, _) = history_with_a_burst(now - 2 * 86_400);
    // The burst under way right now.
    for k in 0..40 {
        rows.push(mention(&format!("now{k}"), "Panne Acme à Paris, tout est coupé", now - 600 + k * 15));
    }
    import(&vigie, &rows);
    let list = alerts(&vigie);
    let surge: Vec<&Value> = list.iter().filter(|a| a["rule"] == "volume_surge").collect();
    assert_eq!(surge.len(), 1, "{list:#?}");
    let show = vigie.run(&["alert", "show", &surge[0]["id"].to_string()]).success().stdout;
    assert!(show.contains("terms: ") && show.contains("panne"), "{show}");
    assert!(show.contains("observed") && show.contains("expected"), "{show}");
    // The same outage tweet forty times: one story, and the alert says so.
    assert!(show.contains("stories: 1 (the other "), "{show}");

    // A backtest up to tomorrow replays up to now: the surge does not go on
    // growing into hours that have not happened (at most the bucket under
    // way, five minutes, ends after now).
    let tomorrow = chrono::DateTime::from_timestamp(now + 86_400, 0).unwrap().format("%Y-%m-%d").to_string();
    let run = vigie.run(&["backtest", "--watch", "Acme", "--from", "3d", "--to", &tomorrow, "--format", "json"]);
    let replayed = run.success().json();
    let last = |a: &Value| {
        chrono::DateTime::parse_from_str(&format!("{} +0000", a["last"].as_str().unwrap()), "%Y-%m-%d %H:%M:%SZ %z")
            .unwrap()
            .timestamp()
    };
    let surge = replayed.as_array().unwrap().iter().find(|a| a["rule"] == "volume_surge").expect("replayed");
    assert!(last(surge) <= now + 300, "last event {} s after now: {surge:#}", last(surge) - now);
    let future = chrono::DateTime::from_timestamp(now + 3_600, 0).unwrap().to_rfc3339();
    let bad = vigie.run(&["backtest", "--watch", "Acme", "--from", &future]).code(2);
    assert!(bad.stderr.contains("before now"), "{}", bad.stderr);
}

#[test]
fn a_surge_alert_grows_with_the_crisis_instead_of_freezing_when_it_opens() {
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    let now = unix_now();
    vigie.run(&["notify", "webhook", "https://hooks.example/crisis", "--min-severity", "info"]).success();
    let (rows, _) = history_with_a_burst(now - 2 * 86_400);
    import(&vigie, &rows);
    // A crisis that started an hour ago: its first quarter of an hour
    // arrives, then the rest (a feed read late, or just the next minutes).
    let start = now - 3600;
    let outage = |k: i64| {
        let voice = format!("client{k}");
        json!({"url": format!("https://x.com/{voice}/status/{k}"), "author": voice, "source": "twitter",
               "text": format!("Panne Acme numéro {k}, toujours rien depuis {} minutes", k / 4), "published_at": start + k * 15})
    };
    import(&vigie, &(0..60).map(outage).collect::<Vec<_>>());
    let surges =
        |vigie: &Vigie| -> Vec<Value> { alerts(vigie).into_iter().filter(|a| a["rule"] == "volume_surge").collect() };
    let opened = surges(&vigie);
    assert_eq!(opened.len(), 1, "{opened:#?}");
    let first = opened[0]["observed"].as_f64().unwrap();
    assert!(first < 100.0, "{opened:#?}");
    let id = opened[0]["id"].to_string();
    let before = vigie.run(&["alert", "show", &id]).success().stdout;

    // The next 45 minutes: 180 more mentions.
    import(&vigie, &(60..240).map(outage).collect::<Vec<_>>());
    let grown = surges(&vigie);
    assert_eq!(grown.len(), 1, "one crisis, one alert: {grown:#?}");
    assert_eq!(grown[0]["id"], opened[0]["id"]);
    let observed = grown[0]["observed"].as_f64().unwrap();
    assert!(observed >= 100.0 && observed > 2.0 * first, "the alert grew: {first} then {observed}");
    assert_eq!(grown[0]["events"], 1, "growth is the same event getting bigger, not more events");
    let title = grown[0]["title"].as_str().unwrap();
    assert!(title.contains(&format!("{observed:.0} in ")), "the title follows: {title}");
    let after = vigie.run(&["alert", "show", &id]).success().stdout;
    let newest = "https://x.com/client239/status/239";
    assert!(!before.contains(newest) && after.contains(newest), "the newest mentions join the evidence: {after}");
    // Told when it opened, and again when it reached a hundred mentions.
    let alert_id = opened[0]["id"].as_i64().unwrap();
    let notices = vigie.with_db(async |pool| {
        sqlx::query_scalar::<_, i64>("SELECT event FROM deliveries WHERE alert_id = ?1 ORDER BY event")
            .bind(alert_id)
            .fetch_all(pool)
            .await
            .unwrap()
    });
    assert_eq!(notices, [1, 2]);

    // Resolved while it still goes on: the same crisis opens no second alert.
    vigie.run(&["alert", "resolve", &id]).success();
    import(&vigie, &(240..260).map(outage).collect::<Vec<_>>());
    assert_eq!(surges(&vigie).len(), 1, "{:#?}", surges(&vigie));
}

#[test]
fn a_crowd_in_five_minutes_is_a_surge_and_one_voice_repeating_itself_is_not() {
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    let now = unix_now();
    let (rows, _) = history_with_a_burst(now - 2 * 86_400);
    import(&vigie, &rows);
    let burst_start = (now / 300) * 300 - 1200;
    // One account posting forty times in five minutes: no alert.
    let bot: Vec<Value> = (0..40)
        .map(|k| {
            json!({"url": format!("https://x.com/spam/status/{k}"), "author": "spam", "source": "twitter",
                   "text": format!("Acme promo code {k} gagnez un iPhone {k}"), "published_at": burst_start + k * 5})
        })
        .collect();
    import(&vigie, &bot);
    let surges =
        |vigie: &Vigie| -> Vec<Value> { alerts(vigie).into_iter().filter(|a| a["rule"] == "volume_surge").collect() };
    assert!(surges(&vigie).is_empty(), "{:#?}", surges(&vigie));
    // Elsewhere, forty people in five minutes, each in their own words.
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    import(&vigie, &rows);
    let words = ["appli", "site", "paiement", "commande", "connexion", "compte", "carte", "livraison"];
    let crowd: Vec<Value> = (0..40)
        .map(|k| {
            let voice = format!("personne{k}");
            json!({"url": format!("https://x.com/{voice}/status/{k}"), "author": voice, "source": "twitter",
                   "text": format!("{k} : chez Acme, {} en panne pour moi aussi, {} depuis {k} minutes",
                                   words[k as usize % 8], words[(k as usize / 8) % 8]),
                   "published_at": burst_start + k * 5})
        })
        .collect();
    import(&vigie, &crowd);
    let found = surges(&vigie);
    assert_eq!(found.len(), 1, "{found:#?}");
    let title = found[0]["title"].as_str().unwrap();
    assert!(title.contains("40 in 5 min"), "{title}");
}

#[test]
fn a_surge_collected_late_is_still_raised_once() {
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    let now = unix_now();
    // History up to a few minutes ago: every bucket before now is judged.
    let (rows, _) = history_with_a_burst(now - 300);
    import(&vigie, &rows);
    assert!(!alerts(&vigie).iter().any(|a| a["rule"] == "volume_surge"));
    // Then a feed read late brings a burst published 40 to 20 minutes ago,
    // into buckets judged already (quiet then).
    let late: Vec<Value> = (0..40)
        .map(|k| mention(&format!("late{k}"), "Panne Acme à Lille, plus rien ne marche", now - 2400 + k * 30))
        .collect();
    import(&vigie, &late);
    let surges =
        |vigie: &Vigie| -> Vec<Value> { alerts(vigie).into_iter().filter(|a| a["rule"] == "volume_surge").collect() };
    let found = surges(&vigie);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["events"], 1);
    // Judged again at the next arrivals: the same surge is not reported again,
    // not even once it is resolved (a new alert would be a second mail).
    import(&vigie, &[mention("after1", "Acme : commande reçue", now - 30)]);
    assert_eq!(surges(&vigie)[0]["events"], 1);
    vigie.run(&["alert", "resolve", &found[0]["id"].to_string()]).success();
    import(&vigie, &[mention("after2", "Acme : commande reçue", now - 20)]);
    assert_eq!(surges(&vigie).len(), 1, "{:#?}", surges(&vigie));
}

#[test]
fn collects_side_by_side_send_each_notification_once() {
    // A slow receiver, so one process is still sending when the other looks.
    let server = TestServer::start(|_| {
        std::thread::sleep(std::time::Duration::from_millis(250));
        Response::new(200).body("{}")
    });
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    vigie.run(&["notify", "webhook", &server.url("/hook")]).success();
    let now = unix_now();
    let terms = ["boycott", "arnaque", "scandale", "lawsuit", "recall", "data breach"];
    let rows: Vec<Value> =
        terms.iter().enumerate().map(|(i, t)| mention(&i.to_string(), &format!("Acme : {t} !"), now - 60)).collect();
    import(&vigie, &rows);
    assert_eq!(alerts(&vigie).len(), terms.len(), "one alert per term");

    // A collector running, and one-off runs beside it (cron, `--source N`).
    let mut looping = vigie.spawn(&["collect"]);
    let once = [vigie.run(&["collect", "--once"]), vigie.run(&["collect", "--once"])];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.requests_to("/hook").len() < terms.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(2)); // a late second copy would come now
    looping.kill().unwrap();
    looping.wait().unwrap();
    for run in once {
        run.success();
    }
    let events = event_ids(&server, "/hook");
    let distinct: std::collections::HashSet<&String> = events.iter().collect();
    assert_eq!(distinct.len(), terms.len(), "{events:?}");
    assert_eq!(events.len(), terms.len(), "each notification once: {events:?}");
}

#[test]
fn a_notification_being_sent_when_the_collector_stops_is_sent_once() {
    stopped_while_sending(&["collect"]);
}

#[test]
fn a_notification_being_sent_when_the_server_stops_is_sent_once() {
    stopped_while_sending(&["serve", "--bind", "127.0.0.1:0"]);
}

/// Stopped (systemd, a container) while a receiver has a notification: the
/// service waits for the answer and records the notification as sent, so a
/// restart does not send it again.
fn stopped_while_sending(service: &[&str]) {
    // A receiver that takes four seconds to answer.
    let server = TestServer::start(|_| Response::new(200).body("{}").delayed(std::time::Duration::from_secs(4)));
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    vigie.run(&["notify", "webhook", &server.url("/hook")]).success();
    import(&vigie, &[mention("1", "Acme : boycott !", unix_now() - 60)]);
    assert_eq!(alerts(&vigie).len(), 1);

    let child = vigie
        .command(service)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.requests_to("/hook").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(server.requests_to("/hook").len(), 1, "the notification is on its way");
    crate::support::terminate(&child);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("stopping: finishing the work under way"), "{stderr}");
    let status = vigie.with_db(async |pool| {
        sqlx::query_scalar::<_, String>("SELECT status FROM deliveries").fetch_all(pool).await.unwrap()
    });
    assert_eq!(status, ["sent"]);
    // So a restart has nothing to send again, even once every claim expired.
    vigie.with_db(async |pool| {
        sqlx::query("UPDATE deliveries SET lease_until = NULL, leased_by = NULL, next_attempt_at = 0")
            .execute(pool)
            .await
            .unwrap();
    });
    let again = vigie.run(&["notify", "send"]).success().stdout;
    assert_eq!(again, "0 notification(s) sent, 0 to retry, 0 failed (every project's)\n");
    assert_eq!(server.requests_to("/hook").len(), 1);
}

#[test]
fn a_stopping_collector_sends_nothing_new_while_its_last_cycle_finishes() {
    let hook = TestServer::start(|_| Response::new(200).body("{}"));
    // A feed that takes its time: the cycle under way when the collector is
    // stopped lasts a few seconds more.
    let feed = TestServer::start(|_| Response::new(500).delayed(std::time::Duration::from_secs(5)));
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    vigie.run(&["notify", "webhook", &hook.url("/hook")]).success();
    import(&vigie, &[mention("1", "Acme : boycott !", unix_now() - 60)]);
    let later = |vigie: &Vigie, at: i64| {
        vigie.with_db(async |pool| {
            sqlx::query("UPDATE deliveries SET next_attempt_at = ?1").bind(at).execute(pool).await.unwrap();
        })
    };
    later(&vigie, unix_now() + 86_400);
    vigie.run(&["source", "add", "rss", &feed.url("/slow.xml"), "--every", "1m"]).success();
    let child = vigie
        .command(&["collect"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while feed.requests().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    crate::support::terminate(&child);
    // The notification becomes due while the last cycle finishes: it waits
    // for the next start rather than going out from a stopping process.
    later(&vigie, 0);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(hook.requests().is_empty(), "{:?}", hook.requests());
    let sent = vigie.run(&["notify", "send"]).success().stdout;
    assert_eq!(sent, "1 notification(s) sent, 0 to retry, 0 failed (every project's)\n");
}

#[test]
fn the_most_severe_notifications_go_out_first() {
    let server = TestServer::start(|_| Response::new(200).body("{}"));
    let vigie = watched_with_hook(&server);
    let now = unix_now();
    import(
        &vigie,
        &[
            mention("1", RECALL_NOTICE, now - 120),
            mention("2", "Acme est une arnaque, service honteux, je suis furieux", now - 60),
        ],
    );
    let list = alerts(&vigie);
    let severity = |id: &Value| list.iter().find(|a| a["id"] == *id).unwrap()["severity"].as_str().unwrap().to_string();
    let mut ids: Vec<Value> = list.iter().map(|a| a["id"].clone()).collect();
    ids.sort_by_key(|id| id.as_i64());
    assert_eq!((severity(&ids[0]), severity(&ids[1])), ("warning".into(), "critical".into()), "{list:#?}");
    vigie.run(&["notify", "send"]).success();
    let sent = event_ids(&server, "/hook");
    // The critical alert, opened second, goes out first.
    assert_eq!(sent, [format!("vigie-{}-1", ids[1]), format!("vigie-{}-1", ids[0])]);
}

#[test]
fn a_critical_alert_opened_while_warnings_are_being_sent_goes_next() {
    // A receiver that takes four seconds per notification.
    let server = TestServer::start(|_| Response::new(200).body("{}").delayed(std::time::Duration::from_secs(4)));
    let vigie = watched_with_hook(&server);
    let now = unix_now();
    import(
        &vigie,
        &[
            mention("1", RECALL_NOTICE, now - 120),
            mention("2", "Acme : un boycott annoncé par un syndicat étudiant, à suivre demain", now - 110),
        ],
    );
    let warnings: Vec<Value> = alerts(&vigie).iter().map(|a| a["id"].clone()).collect();
    assert!(alerts(&vigie).iter().all(|a| a["severity"] == "warning"), "{:#?}", alerts(&vigie));
    let mut child = vigie.spawn(&["collect"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while server.requests_to("/hook").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // While the first warning is being sent, a critical alert opens.
    let body = format!("{}\n", mention("3", "Acme est une arnaque, service honteux, je suis furieux", unix_now() - 5));
    let file = vigie.write("critical.jsonl", body);
    vigie.run(&["import", file.to_str().unwrap()]).success();
    let critical = alerts(&vigie).into_iter().find(|a| a["severity"] == "critical").expect("a critical alert");
    while server.requests_to("/hook").len() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let sent = event_ids(&server, "/hook");
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert_eq!(sent[1], format!("vigie-{}-1", critical["id"]), "{sent:?} (warnings {warnings:?})");
}

#[test]
fn a_slow_failing_receiver_delays_only_its_own_notifications() {
    // One receiver answers 503 after four seconds; the other at once.
    let slow = TestServer::start(|_| Response::new(503).delayed(std::time::Duration::from_secs(4)));
    let fast = TestServer::start(|_| Response::new(200).body("{}"));
    let vigie = watched_with_hook(&fast);
    vigie.run(&["notify", "webhook", &slow.url("/hook"), "--min-severity", "info"]).success();
    let now = unix_now();
    let terms = ["boycott", "scandale", "lawsuit"];
    let rows: Vec<Value> =
        terms.iter().enumerate().map(|(i, t)| mention(&i.to_string(), &format!("Acme : {t} !"), now - 60)).collect();
    import(&vigie, &rows);
    let started = unix_now();
    let sent = vigie.run(&["notify", "send"]).success().stdout;
    assert_eq!(sent, "3 notification(s) sent, 3 to retry, 0 failed (every project's)\n");
    // The fast receiver had all three before the slow one got its second.
    let (fast_arrivals, slow_arrivals) = (fast.arrivals(), slow.arrivals());
    assert_eq!((fast_arrivals.len(), slow_arrivals.len()), (3, 3));
    assert!(fast_arrivals[2].0 < slow_arrivals[1].0, "the fast channel waited for the slow one");
    // Each retry waits its back-off (at least 22.5 s) from when its attempt
    // ended: the last one ended twelve seconds in.
    let next = vigie.with_db(async |pool| {
        sqlx::query_scalar::<_, i64>("SELECT max(next_attempt_at) FROM deliveries WHERE status = 'pending'")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert!(next >= started + 12 + 22, "next attempt {} s after the send began", next - started);
}

#[test]
fn events_of_one_alert_waiting_together_go_out_as_one_notification() {
    let server = TestServer::start(|_| Response::new(200).body("{}"));
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "Acme", "--query", "acme"]).success();
    vigie.run(&["notify", "webhook", &server.url("/hook")]).success();
    let now = unix_now();
    // Ten mentions of one term: the alert opens (event 1) and reaches 10
    // events before anything was sent: two notifications wait.
    let rows: Vec<Value> =
        (0..10).map(|i| mention(&i.to_string(), &format!("Boycott Acme, épisode {i}"), now - 600 + i * 30)).collect();
    import(&vigie, &rows);
    let list = alerts(&vigie);
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["events"], 10);
    let sent = vigie.run(&["notify", "send"]).success().stdout;
    assert_eq!(
        sent,
        "1 notification(s) sent, 0 to retry, 0 failed (every project's); 1 left out for a later one of the same alert\n"
    );
    let requests = server.requests_to("/hook");
    assert_eq!(requests.len(), 1);
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    // The alert's second notification (opened, then 10 events): the later one.
    assert_eq!(body["event_id"], format!("vigie-{}-2", list[0]["id"]));
    let show = vigie.run(&["alert", "show", &list[0]["id"].to_string()]).success().stdout;
    assert!(show.contains("superseded"), "{show}");
    // Nothing is left to send.
    make_deliveries_due(&vigie);
    let again = vigie.run(&["notify", "send"]).success().stdout;
    assert_eq!(again, "0 notification(s) sent, 0 to retry, 0 failed (every project's)\n");
}

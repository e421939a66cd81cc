//! Scale-out: one `vigie serve --no-collect` and two `vigie worker`
//! processes on one PostgreSQL database, 200 feed sources on real loopback
//! HTTP servers, one worker SIGKILLed mid-run. Every item is stored exactly
//! once, no source is fetched twice within an interval, and the dead
//! worker's sources are taken over once its leases expire. About 30 s.

use std::fs::File;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use vigie_model::SourceType;
use vigie_store::{NewChannel, NewSource, NewWatch, PgStore, Store};

use crate::support::server::{Response, TestServer};
use crate::support::{PgSchema, Vigie, block_on, terminate};

const SOURCES: usize = 200;
/// Seconds between two fetches of a source (the CLI's minimum is a minute;
/// the test writes its sources through the store).
const INTERVAL: i64 = 8;
/// The workers' lease, in seconds.
const LEASE: u64 = 4;

/// The feed of source `i` at its `n`-th request: items 1 to `n` (one new
/// item per fetch; the older ones again, as real feeds repeat them).
fn feed(i: usize, n: usize, published: &str) -> String {
    let items: String = (1..=n)
        .map(|k| {
            format!(
                "<item><title>Acme item {k} of feed {i}</title><link>https://example.org/feed{i}/item{k}</link>\
                 <guid>feed{i}-item{k}</guid><pubDate>{published}</pubDate>\
                 <description>Nouvelle {k} du flux {i} sur Acme{}</description></item>",
                if k % 3 == 0 { ", appel au boycott" } else { "" }
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed {i}</title>\
         <link>https://example.org/feed{i}</link><description>test</description>{items}</channel></rss>"
    )
}

fn spawn_logged(vigie: &Vigie, args: &[&str], url: &str, name: &str) -> Child {
    let mut all = vec!["--database-url", url];
    all.extend_from_slice(args);
    let mut cmd = vigie.command(&all);
    cmd.stdout(Stdio::from(File::create(vigie.path(&format!("{name}.out"))).unwrap()));
    cmd.stderr(Stdio::from(File::create(vigie.path(&format!("{name}.err"))).unwrap()));
    cmd.env("RUST_LOG", "warn");
    cmd.spawn().unwrap()
}

/// A child process killed if the test ends before it stopped it (a failed
/// assertion must not leave workers running).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(started.elapsed() < within, "process {} did not stop within {within:?}", child.id());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_workers_share_collection_and_survive_one_being_killed() {
    let Some(pg) = PgSchema::create() else { return };
    let url = pg.url();
    let published = chrono::Utc::now().to_rfc2822();
    let servers: Vec<(TestServer, Arc<AtomicUsize>)> = (0..SOURCES)
        .map(|i| {
            let count = Arc::new(AtomicUsize::new(0));
            let c = count.clone();
            let published = published.clone();
            let server = TestServer::start(move |_| {
                let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                // A little slow, as real sites are: a worker holds its
                // leases long enough to be killed while it does.
                Response::ok(feed(i, n, &published))
                    .header("Content-Type", "application/rss+xml")
                    .delayed(Duration::from_millis(200))
            });
            (server, count)
        })
        .collect();
    // Alerts go to a webhook: each notification must arrive once.
    let hook = TestServer::start(|_| Response::new(200));
    // The sources, all due now, through the store (the schema is created
    // here), a watch whose mentions raise trigger-term alerts, the webhook.
    let ids: Vec<i64> = block_on(async {
        let store = PgStore::connect(&url).await.unwrap();
        let now = chrono::Utc::now();
        let p = store.ensure_project("default", now).await.unwrap();
        let watch = NewWatch { name: "Acme".into(), query: "acme".into(), competitor: false, langs: vec![] };
        store.add_watch(p.id, watch, now).await.unwrap();
        let channel = NewChannel {
            kind: "webhook".into(),
            target: hook.url("/hook"),
            secret: None,
            min_severity: vigie_model::Severity::Info,
            lang: vigie_model::Language::Fr,
        };
        store.add_channel(p.id, channel, now).await.unwrap();
        let mut ids = Vec::new();
        for (server, _) in &servers {
            let new = NewSource {
                source_type: SourceType::Rss,
                url: server.url("/feed.xml"),
                config: serde_json::json!({}),
                interval_secs: INTERVAL,
                first_due_at: chrono::Utc::now(),
            };
            ids.push(store.add_source(p.id, new, chrono::Utc::now()).await.unwrap().id);
        }
        store.close().await;
        ids
    });

    let vigie = Vigie::new();
    let started = Instant::now();
    let mut serve = Proc(spawn_logged(&vigie, &["serve", "--no-collect", "--bind", "127.0.0.1:0"], &url, "serve"));
    let lease = LEASE.to_string();
    let worker = |name: &str| {
        Proc(spawn_logged(&vigie, &["worker", "--name", name, "--lease", &lease, "--poll", "1"], &url, name))
    };
    let mut a = worker("wa");
    let mut b = worker("wb");

    // Kill a while it holds leases (mid-cycle), a few seconds in.
    let leased_by_a = |conn_url: &PgSchema| -> Vec<i64> {
        conn_url.with(async |conn| {
            sqlx::query_scalar("SELECT id FROM sources WHERE leased_by = 'wa' ORDER BY id")
                .fetch_all(&mut *conn)
                .await
                .unwrap()
        })
    };
    std::thread::sleep(Duration::from_secs(5));
    let held: Vec<i64> = pg.with(async |conn| {
        loop {
            let held: Vec<i64> = sqlx::query_scalar("SELECT id FROM sources WHERE leased_by = 'wa'")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
            if !held.is_empty() {
                return held;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "worker a never held a lease");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    a.0.kill().unwrap();
    let killed_at = Instant::now();
    a.0.wait().unwrap();
    let held_at_kill = leased_by_a(&pg);

    // The web front answers meanwhile (it does no collection of its own).
    let address = {
        let out = std::fs::read_to_string(vigie.path("serve.out")).unwrap();
        let line = out.lines().find(|l| l.starts_with("Vigie is at http://")).expect("serve printed its address");
        line.trim_start_matches("Vigie is at ").trim_end_matches('/').to_string()
    };
    let answer = {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(address.trim_start_matches("http://")).unwrap();
        stream.write_all(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: vigie\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    assert!(answer.starts_with("HTTP/1.1 200"), "{}", &answer[..answer.len().min(200)]);

    // Until every source was fetched again once the dead worker's leases
    // expired (a source nobody took over would starve: the test fails).
    let taken_over = killed_at + Duration::from_secs(LEASE + 1);
    loop {
        let waiting =
            servers.iter().filter(|(s, _)| s.arrivals().last().is_none_or(|(at, _)| *at < taken_over)).count();
        if waiting == 0 {
            break;
        }
        if killed_at.elapsed() > Duration::from_secs(90) {
            let leases: Vec<(Option<String>, i64)> = pg.with(async |conn| {
                sqlx::query_as("SELECT leased_by, COUNT(*) FROM sources GROUP BY leased_by ORDER BY 1")
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap()
            });
            let b_err = std::fs::read_to_string(vigie.path("wb.err")).unwrap();
            panic!("{waiting} source(s) starved after the kill; leases {leases:?}; worker b said:\n{b_err}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // The outbox drains (worker b sends every second).
    let drained = Instant::now();
    loop {
        let pending: i64 = pg.with(async |conn| {
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
                .fetch_one(&mut *conn)
                .await
                .unwrap()
        });
        if pending == 0 {
            break;
        }
        assert!(drained.elapsed() < Duration::from_secs(30), "{pending} notification(s) never sent");
        std::thread::sleep(Duration::from_millis(200));
    }
    terminate(&b.0);
    let b_status = wait_exit(&mut b.0, Duration::from_secs(30));
    let stopped_at = Instant::now();
    terminate(&serve.0);
    let serve_status = wait_exit(&mut serve.0, Duration::from_secs(30));
    let b_out = std::fs::read_to_string(vigie.path("wb.out")).unwrap();
    let b_err = std::fs::read_to_string(vigie.path("wb.err")).unwrap();
    assert!(b_status.success(), "worker b: {b_out}\n{b_err}");
    assert!(b_out.starts_with("worker wb running (lease 4 s)"), "{b_out}");
    assert!(b_out.ends_with("stopped\n"), "{b_out}");
    assert!(serve_status.success(), "{}", std::fs::read_to_string(vigie.path("serve.err")).unwrap());
    let a_out = std::fs::read_to_string(vigie.path("wa.out")).unwrap();
    assert!(a_out.contains(" fetched, "), "worker a collected before it died: {a_out}");

    // Every item served is stored once: a source's n-th answer held items
    // 1..=n, so n distinct mentions, whatever worker stored them and even if
    // the one that fetched died before storing.
    let stored: Vec<(i64, i64, i64)> = pg.with(async |conn| {
        sqlx::query_as(
            "SELECT source_id, COUNT(*), COUNT(DISTINCT url) FROM mentions WHERE source_id IS NOT NULL \
             GROUP BY source_id ORDER BY source_id",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap()
    });
    let leases_left: i64 = pg.with(async |conn| {
        sqlx::query_scalar("SELECT COUNT(*) FROM sources WHERE leased_by = 'wb'").fetch_one(&mut *conn).await.unwrap()
    });
    assert_eq!(leases_left, 0, "a clean stop gives the leases back");

    // One alert per key, however many workers saw its mentions, and every
    // notification received once.
    let alerts: Vec<(String, i64, i64)> = pg.with(async |conn| {
        sqlx::query_as("SELECT dedup_key, COUNT(*), MAX(events) FROM alerts GROUP BY dedup_key ORDER BY 1")
            .fetch_all(&mut *conn)
            .await
            .unwrap()
    });
    assert!(alerts.iter().any(|(key, _, events)| key.ends_with(":boycott*") && *events >= 10), "{alerts:?}");
    assert!(alerts.iter().all(|(_, n, _)| *n == 1), "an alert opened twice: {alerts:?}");
    let sent: Vec<(i64, i64, String)> = pg.with(async |conn| {
        sqlx::query_as("SELECT alert_id, event, status FROM deliveries ORDER BY alert_id, event")
            .fetch_all(&mut *conn)
            .await
            .unwrap()
    });
    let mut received: Vec<String> =
        hook.requests().iter().map(|r| r.header("X-Vigie-Event").unwrap_or("?").to_string()).collect();
    received.sort();
    // (The cycle worker b finished after SIGTERM may have queued one more:
    // it waits in the outbox for the next worker, unsent.)
    let mut expected: Vec<String> = sent
        .iter()
        .filter(|(_, _, status)| status == "sent")
        .map(|(alert, event, _)| format!("vigie-{alert}-{event}"))
        .collect();
    expected.sort();
    // An event whose notification was still waiting when a later one of
    // the same alert went out is superseded (the later one tells it).
    assert!(
        sent.iter().all(|(_, _, status)| status == "sent" || status == "pending" || status == "superseded"),
        "{sent:?}"
    );
    // The boycott alert notified (opening, 10 events, 100 events): when the
    // workers were slower than the mentions, waiting events are superseded
    // by a later one of the same alert, which is then sent or still waits.
    assert!(!expected.is_empty(), "the boycott alert notified: {sent:?}");
    for (alert, event, status) in &sent {
        if status == "superseded" {
            assert!(
                sent.iter().any(|(a, e, s)| a == alert && e > event && (s == "sent" || s == "pending")),
                "a superseded event with no later notification: {sent:?}"
            );
        }
    }
    assert_eq!(received, expected, "each notification sent once, and only those marked sent");
    assert_eq!(stored.len(), SOURCES, "every source stored its items");
    for ((source_id, count, distinct), (id, (server, served))) in stored.iter().zip(ids.iter().zip(&servers)) {
        assert_eq!(source_id, id);
        let served = served.load(Ordering::SeqCst) as i64;
        assert_eq!(count, distinct, "source {id}: a mention stored twice");
        assert_eq!(*count, served, "source {id}: {served} items served, {count} stored");

        // On schedule: two fetches are at least half an interval apart (the
        // schedule's phase; a second lost to rounding), except across the
        // kill for the sources the dead worker held; and nobody starves.
        let arrivals: Vec<Instant> = server.arrivals().into_iter().map(|(at, _)| at).collect();
        assert!(arrivals.len() >= 2, "source {id} fetched {} times", arrivals.len());
        for pair in arrivals.windows(2) {
            let gap = pair[1] - pair[0];
            let spans_kill = pair[0] <= killed_at && pair[1] >= killed_at;
            if spans_kill && (held.contains(id) || held_at_kill.contains(id)) {
                continue;
            }
            assert!(
                gap >= Duration::from_millis(INTERVAL as u64 * 500 - 1_500),
                "source {id} fetched twice within {gap:?} (interval {INTERVAL} s); fetches at {:?} from the kill; held by a: {}",
                arrivals
                    .iter()
                    .map(|t| t.saturating_duration_since(killed_at).as_secs_f64()
                        - killed_at.saturating_duration_since(*t).as_secs_f64())
                    .collect::<Vec<_>>(),
                held.contains(id) || held_at_kill.contains(id)
            );
        }
        assert!(*arrivals.last().unwrap() <= stopped_at);
    }
}

/// Leases are by name: a worker started under a name that holds leases is
/// told that two live workers must not share it.
#[test]
fn a_worker_started_under_a_name_that_holds_leases_is_warned() {
    use std::io::{BufRead, BufReader};
    let vigie = Vigie::new();
    vigie.run(&["watch", "add", "acme", "--query", "acme"]).success();
    let db = vigie.data_dir().join("vigie.db");
    block_on(async {
        let store = vigie_store::SqliteStore::open(&db).await.unwrap();
        let p = store.project("default").await.unwrap().unwrap();
        let now = chrono::Utc::now();
        let new = NewSource {
            source_type: SourceType::Rss,
            // Nothing listens there: the worker's fetch fails, which is not what is tested.
            url: "http://127.0.0.1:9/feed.xml".into(),
            config: serde_json::json!({}),
            interval_secs: 3600,
            first_due_at: now,
        };
        store.add_source(p.id, new, now).await.unwrap();
        let held = store.lease_due_sources(now, 10, "night-shift", Duration::from_secs(300)).await.unwrap();
        assert_eq!(held.len(), 1);
        store.close().await;
    });
    let warned = |name: &str| {
        let mut cmd = vigie.command(&["worker", "--name", name]);
        let mut child = Proc(cmd.spawn().unwrap());
        // The warning comes before the worker says it runs.
        let stdout = BufReader::new(child.0.stdout.take().unwrap()).lines().next().unwrap().unwrap();
        assert!(stdout.starts_with(&format!("worker {name} running")), "{stdout}");
        terminate(&child.0);
        wait_exit(&mut child.0, Duration::from_secs(20));
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut stderr).unwrap();
        stderr
    };
    let stderr = warned("night-shift");
    assert!(stderr.contains("leased to a worker named \"night-shift\"") && stderr.contains("--name"), "{stderr}");
    let stderr = warned("day-shift");
    assert!(!stderr.contains("leased to a worker named"), "{stderr}");
}

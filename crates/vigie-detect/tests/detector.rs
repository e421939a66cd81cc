//! The detector on series whose surges are known: hand-made ones (a surge, a
//! quiet night, a single big bucket), seeded synthetic ones, and NAB's tweet
//! files when `../shared/data` sits beside the repository.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;

use chrono::{DateTime, Utc};
use vigie_detect::nab::{self, CostMatrix, FileScore};
use vigie_detect::synth::{self, Rng, Spec};
use vigie_detect::{DetectError, Detector, DetectorConfig, Verdict, replay_alerts};

const START: i64 = 1_700_006_400; // 2023-11-15 00:00 UTC, a Wednesday
const BUCKET: i64 = 300;
const DAY: usize = 288;

fn at(i: usize) -> DateTime<Utc> {
    DateTime::from_timestamp(START + BUCKET * i as i64, 0).unwrap()
}

fn run(values: &[f64]) -> Vec<Verdict> {
    let mut detector = Detector::new(DetectorConfig::default()).unwrap();
    values.iter().enumerate().map(|(i, &v)| detector.observe(at(i), v).unwrap()).collect()
}

fn alerts(verdicts: &[Verdict]) -> Vec<usize> {
    verdicts.iter().enumerate().filter(|(_, v)| v.alert).map(|(i, _)| i).collect()
}

/// Poisson counts around `level` with a daily cycle (quiet nights).
fn daily_series(seed: u64, days: usize, level: f64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..days * DAY)
        .map(|i| {
            let hour = (i % DAY) as f64 / 12.0;
            let cycle = 1.0 + 0.8 * (std::f64::consts::TAU * (hour - 15.0) / 24.0).cos();
            rng.poisson(level * cycle)
        })
        .collect()
}

#[test]
fn a_surge_raises_one_alert_at_its_start() {
    let mut values = daily_series(1, 14, 20.0);
    let onset = 10 * DAY + 14 * 12; // day 10, 14:00
    for v in &mut values[onset..onset + 36] {
        *v *= 5.0; // five times the usual volume for three hours
    }
    let verdicts = run(&values);
    let raised = alerts(&verdicts);
    let during: Vec<usize> = raised.iter().copied().filter(|&i| i >= onset && i < onset + 36).collect();
    assert_eq!(during.len(), 1, "one crisis, one alert: {raised:?}");
    assert!(during[0] <= onset + 2, "caught within 10 minutes: {raised:?}");
    assert!(raised.len() <= 2, "at most one other alert in two weeks of noise: {raised:?}");
    let v = &verdicts[during[0]];
    assert!(v.score >= 0.5 && v.window.observed > 2.0 * v.window.expected, "{v:?}");
    assert!(v.observed > v.upper && v.expected < 60.0, "{v:?}");
}

#[test]
fn a_single_mention_after_a_quiet_night_is_not_a_surge_but_fifteen_in_an_hour_are() {
    // A small brand: about three mentions a day, in the daytime.
    let mut rng = Rng::new(7);
    let mut values = vec![0.0; 21 * DAY];
    for day in 0..21 {
        for _ in 0..3 {
            let bucket = day * DAY + 9 * 12 + (rng.uniform() * 10.0 * 12.0) as usize;
            values[bucket] += 1.0;
        }
    }
    let night = 18 * DAY + 3 * 12; // 03:00
    values[night] = 1.0;
    values[night + 30] = 2.0;
    let verdicts = run(&values);
    assert!(alerts(&verdicts).is_empty(), "{:?}", alerts(&verdicts));
    assert!(verdicts[night].score < 0.2, "{:?}", verdicts[night]);

    let surge = 19 * DAY + 15 * 12;
    for k in 0..12 {
        values[surge + k] += if k % 4 == 3 { 1.0 } else { 2.0 };
    }
    let raised = alerts(&run(&values));
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert!(raised[0] >= surge && raised[0] < surge + 12, "{raised:?}");
}

#[test]
fn one_big_bucket_is_not_a_crisis_but_a_burst_for_whoever_can_tell_a_crowd() {
    let mut values = daily_series(3, 10, 5.0);
    let big = 8 * DAY + 100;
    values[big] = 300.0; // a bot posting 300 times at once, or a crowd: counts cannot tell
    let verdicts = run(&values);
    assert!(alerts(&verdicts).iter().all(|&i| i != big && i != big + 1));
    assert!(verdicts[big].burst && !verdicts[big].alert, "{:?}", verdicts[big]);
    let bursts: Vec<usize> = verdicts.iter().enumerate().filter(|(_, v)| v.burst).map(|(i, _)| i).collect();
    assert_eq!(bursts, [big], "ordinary noise is never a burst");

    // A small brand (a mention every few hours): a hundred in five minutes.
    let mut quiet = vec![0.0; 10 * DAY];
    for (i, v) in quiet.iter_mut().enumerate() {
        if i % 40 == 7 {
            *v = 1.0;
        }
    }
    let at = 9 * DAY + 150;
    quiet[at] = 100.0;
    let verdicts = run(&quiet);
    assert!(verdicts[at].burst, "{:?}", verdicts[at]);
    // Seven is not enough of an excess, and nothing bursts while warming up.
    quiet[at] = 7.0;
    assert!(!run(&quiet)[at].burst);
    quiet[at] = 1.0;
    quiet[100] = 100.0;
    assert!(!run(&quiet)[100].burst, "still warming up");
}

#[test]
fn a_surge_that_goes_on_is_ongoing_and_one_after_a_calm_is_renewed() {
    let mut values = daily_series(11, 14, 20.0);
    let onset = 10 * DAY + 10 * 12; // day 10, 10:00
    for v in &mut values[onset..onset + 24] {
        *v *= 5.0; // two hours
    }
    // Ninety minutes of calm, within the cooldown (the 4-hour window still
    // remembers the first surge: the shortest one tells the new wave).
    let again = onset + 24 + 18;
    for v in &mut values[again..again + 24] {
        *v *= 6.0;
    }
    let verdicts = run(&values);
    let raised = alerts(&verdicts);
    let first = *raised.iter().find(|&&i| i >= onset).unwrap();
    assert!(first < onset + 3, "{raised:?}");
    assert!(raised.iter().all(|&i| i <= first || i >= again + 24), "one alert for both: {raised:?}");
    assert!(!verdicts[first].ongoing && !verdicts[first].renewed);
    // The surge going on: ongoing, never renewed.
    let going: Vec<usize> = (first + 1..onset + 24).filter(|&i| verdicts[i].ongoing).collect();
    assert!(going.len() >= 15, "{going:?}");
    assert!((first + 1..onset + 24).all(|i| !verdicts[i].renewed));
    // The second surge: renewed once, at its start, then ongoing.
    let renewed: Vec<usize> = (onset + 24..again + 24).filter(|&i| verdicts[i].renewed).collect();
    assert_eq!(renewed.len(), 1, "{renewed:?}");
    assert!(renewed[0] >= again && renewed[0] < again + 3, "{renewed:?}");
    assert!(verdicts[renewed[0]].ongoing && !verdicts[renewed[0]].alert);
    assert!((renewed[0] + 1..again + 20).filter(|&i| verdicts[i].ongoing).count() >= 10);

    // A second wave inside one bucket after the calm: the windows leave it
    // out, but it is a burst (during the first surge, once alerting, no
    // bucket was).
    let mut values = daily_series(11, 14, 20.0);
    for v in &mut values[onset..onset + 24] {
        *v *= 5.0;
    }
    let spike = onset + 24 + 18;
    values[spike] = 400.0;
    let verdicts = run(&values);
    assert!(verdicts[spike].burst && !verdicts[spike].alert, "{:?}", verdicts[spike]);
    let alerted = (onset..onset + 24).find(|&i| verdicts[i].alert).unwrap();
    let during: Vec<usize> = (alerted + 1..onset + 24).filter(|&i| verdicts[i].burst).collect();
    assert!(during.is_empty(), "{during:?} alerted {alerted} onset {onset}");
}

#[test]
fn no_alert_while_warming_up() {
    let mut values = daily_series(4, 3, 10.0);
    for v in &mut values[100..160] {
        *v *= 10.0;
    }
    let raised = alerts(&run(&values));
    assert!(raised.iter().all(|&i| i >= DAY), "{raised:?}");
}

#[test]
fn the_state_survives_a_restart() {
    let values = daily_series(5, 9, 12.0);
    let mut live = Detector::new(DetectorConfig::default()).unwrap();
    for (i, &v) in values.iter().enumerate().take(4 * DAY) {
        live.observe(at(i), v).unwrap();
    }
    let saved = serde_json::to_string(&live).unwrap();
    assert!(saved.len() < 20_000, "bounded state: {} bytes", saved.len());
    // JSON keeps floats to within their last bit: the same decisions, scores to 1e-9.
    let mut restored: Detector = serde_json::from_str(&saved).unwrap();
    for (i, &v) in values.iter().enumerate().skip(4 * DAY) {
        let (a, b) = (restored.observe(at(i), v).unwrap(), live.observe(at(i), v).unwrap());
        assert_eq!(a.alert, b.alert, "bucket {i}");
        assert!((a.score - b.score).abs() < 1e-9 && (a.expected - b.expected).abs() < 1e-9, "{a:?} {b:?}");
    }
}

#[test]
fn replayed_decisions_match_the_live_ones() {
    let series = synth::generate(11, &Spec::default());
    let mut detector = Detector::new(DetectorConfig::default()).unwrap();
    let mut scored = Vec::new();
    let mut live = Vec::new();
    for (i, &v) in series.values.iter().enumerate() {
        let t = DateTime::from_timestamp(series.start + series.bucket_secs * i as i64, 0).unwrap();
        let verdict = detector.observe(t, v).unwrap();
        scored.push((t, verdict.score));
        live.push(verdict.alert);
    }
    assert_eq!(replay_alerts(&DetectorConfig::default(), &scored), live);
    assert!(live.iter().any(|&a| a));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let mut d = Detector::new(DetectorConfig::default()).unwrap();
    for bad in [f64::NAN, f64::INFINITY, -1.0] {
        assert!(matches!(d.observe(at(0), bad), Err(DetectError::InvalidValue { .. })));
    }
    d.observe(at(5), 1.0).unwrap();
    assert!(matches!(d.observe(at(5), 1.0), Err(DetectError::OutOfOrder { .. })));
    assert!(matches!(d.observe(at(4), 1.0), Err(DetectError::OutOfOrder { .. })));
    d.observe(at(9), 1.0).unwrap(); // a gap is missing data, not an error

    for config in [
        DetectorConfig { bucket_secs: 0, ..DetectorConfig::default() },
        DetectorConfig { threshold: 1.0, ..DetectorConfig::default() },
        DetectorConfig { windows_secs: vec![], ..DetectorConfig::default() },
        DetectorConfig { min_ratio: 0.5, ..DetectorConfig::default() },
        DetectorConfig { peak_margin: Some(f64::NAN), ..DetectorConfig::default() },
    ] {
        assert!(matches!(Detector::new(config), Err(DetectError::Config(_))));
    }
    let bigger = DetectorConfig { bucket_secs: 600, ..DetectorConfig::default() };
    assert!(d.set_config(bigger).is_err());
    let stricter = DetectorConfig { threshold: 0.9, ..DetectorConfig::default() };
    d.set_config(stricter).unwrap();
}

/// A regression guard on the synthetic benchmark the defaults were chosen on
/// (`examples/detect_tune.rs` prints the full sweep).
#[test]
fn synthetic_benchmark_score() {
    let mut total = FileScore::default();
    for seed in 0..12 {
        let series = synth::generate(seed, &Spec::default());
        let verdicts: Vec<bool> = {
            let mut d = Detector::new(DetectorConfig::default()).unwrap();
            series
                .values
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let t = DateTime::from_timestamp(series.start + series.bucket_secs * i as i64, 0).unwrap();
                    d.observe(t, v).unwrap().alert
                })
                .collect()
        };
        let windows = nab::windows_from_labels(series.values.len(), &series.onsets).unwrap();
        total.add(&nab::score(&verdicts, &windows, &CostMatrix::STANDARD).unwrap());
    }
    assert!(total.normalised() > 60.0, "{total:?} → {:.1}", total.normalised());
}

/// NAB's tweet files, when the shared data sits beside the repository: the
/// default detector's per-file scores (pinned: a change to the detector must
/// update them and `docs/EVALUATION.md` together).
#[test]
fn nab_tweet_files() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/nab-realtweets");
    if !std::path::Path::new(dir).is_dir() {
        eprintln!("skipped: the NAB files are not beside the repository ({dir})");
        return;
    }
    let windows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/windows.json")).unwrap()).unwrap();
    let expected = [("AAPL", 2.050), ("GOOG", 1.607), ("IBM", 0.401), ("KO", -0.598), ("UPS", 2.511)];
    let mut total = 0.0;
    for (name, want) in expected {
        let file = format!("Twitter_volume_{name}.csv");
        let mut text = String::new();
        let gz = std::fs::File::open(format!("{dir}/realTweets/{file}.gz")).unwrap();
        flate2::read::GzDecoder::new(gz).read_to_string(&mut text).unwrap();
        let rows: Vec<(String, f64)> = text
            .lines()
            .skip(1)
            .map(|l| {
                let (t, v) = l.split_once(',').unwrap();
                (t.to_string(), v.parse().unwrap())
            })
            .collect();
        let started = std::time::Instant::now();
        let mut d = Detector::new(DetectorConfig::default()).unwrap();
        let verdicts: Vec<Verdict> = rows
            .iter()
            .map(|(t, v)| {
                let at = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").unwrap().and_utc();
                d.observe(at, *v).unwrap()
            })
            .collect();
        let elapsed = started.elapsed();
        assert!(elapsed.as_secs() < 5, "{file}: {elapsed:?}");
        eprintln!("{file}: {} rows in {elapsed:?}", rows.len());
        let index = |t: &str| rows.iter().position(|(r, _)| r == t.split('.').next().unwrap()).unwrap();
        let limits: Vec<nab::Window> = windows[format!("realTweets/{file}")]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| (index(w[0].as_str().unwrap()), index(w[1].as_str().unwrap())))
            .collect();
        let flags: Vec<bool> = verdicts.iter().map(|v| v.alert).collect();
        let score = nab::score(&flags, &limits, &CostMatrix::STANDARD).unwrap();
        assert!((score.raw - want).abs() < 0.0005, "{file}: {} vs {want}", score.raw);
        assert!(verdicts.iter().all(|v| v.score.is_finite() && (0.0..=1.0).contains(&v.score)));
        total += score.raw;
    }
    assert!((total - 5.970).abs() < 0.002, "{total}");
}

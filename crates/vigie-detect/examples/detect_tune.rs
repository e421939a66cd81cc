//! How the detector's defaults were chosen: NAB's standard-profile score on
//! synthetic series only (never on the NAB files).
//!
//! `cargo run --release -p vigie-detect --example detect_tune`
//!
//! Synthetic 55-day series with labelled crises, plain and bursty
//! ([`synth::Spec::bursty`]), each with a tuning set and a separate check set,
//! plus quiet series without crises (alerts per week). The threshold sweep
//! prints each set's raw and normalised NAB score; the other settings are
//! then varied one at a time around the defaults. A setting is chosen on the
//! tuning sets and kept only if the check sets agree. `tune quick` runs a
//! short grid.

use chrono::DateTime;
use vigie_detect::nab::{self, CostMatrix, FileScore};
use vigie_detect::synth::{self, Spec};
use vigie_detect::{Detector, DetectorConfig, score_of_z};

const SERIES: u64 = 100;

fn run(config: &DetectorConfig, series: &synth::Series) -> Vec<bool> {
    let Ok(mut detector) = Detector::new(config.clone()) else { return Vec::new() };
    series
        .values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let at = DateTime::from_timestamp(series.start + series.bucket_secs * i as i64, 0).unwrap_or_default();
            detector.observe(at, v).map(|verdict| verdict.alert).unwrap_or(false)
        })
        .collect()
}

fn corpus_score(config: &DetectorConfig, corpus: &[synth::Series]) -> FileScore {
    let mut total = FileScore::default();
    for series in corpus {
        let alerts = run(config, series);
        let windows = nab::windows_from_labels(series.values.len(), &series.onsets).unwrap_or_default();
        if let Ok(s) = nab::score(&alerts, &windows, &CostMatrix::STANDARD) {
            total.add(&s);
        }
    }
    total
}

fn alerts_per_week(config: &DetectorConfig, corpus: &[synth::Series]) -> f64 {
    let (mut alerts, mut weeks) = (0usize, 0.0);
    for series in corpus {
        let a = run(config, series);
        let skip = nab::probation_length(a.len());
        alerts += a[skip..].iter().filter(|&&x| x).count();
        weeks += (a.len() - skip) as f64 / (7.0 * 288.0);
    }
    alerts as f64 / weeks
}

/// The corpora: plain and bursty series, each with a tuning and a check set.
struct Corpora {
    plain_tune: Vec<synth::Series>,
    plain_check: Vec<synth::Series>,
    bursty_tune: Vec<synth::Series>,
    bursty_check: Vec<synth::Series>,
    null: Vec<synth::Series>,
}

fn line(label: &str, config: &DetectorConfig, c: &Corpora) -> f64 {
    let a = corpus_score(config, &c.plain_tune);
    let b = corpus_score(config, &c.plain_check);
    let d = corpus_score(config, &c.bursty_tune);
    let e = corpus_score(config, &c.bursty_check);
    println!(
        "{label:<30} plain: tune {:>7.2} ({:>4.1}) check {:>7.2} ({:>4.1}) | bursty: tune {:>7.2} ({:>4.1}) check {:>7.2} ({:>4.1}) | tune sum {:>7.2} | quiet-series alerts/week {:.2}",
        a.raw,
        a.normalised(),
        b.raw,
        b.normalised(),
        d.raw,
        d.normalised(),
        e.raw,
        e.normalised(),
        a.raw + d.raw,
        alerts_per_week(config, &c.null)
    );
    a.raw + d.raw
}

fn main() {
    let plain = Spec::default();
    let bursty = Spec { bursty: true, ..Spec::default() };
    let set = |spec: &Spec, from: u64| (from..from + SERIES).map(|s| synth::generate(s, spec)).collect::<Vec<_>>();
    let c = Corpora {
        plain_tune: set(&plain, 0),
        plain_check: set(&plain, 10_000),
        bursty_tune: set(&bursty, 30_000),
        bursty_check: set(&bursty, 40_000),
        null: (20_000..20_000 + SERIES / 2)
            .map(|s| synth::generate(s, &Spec { crises: Some(0), ..Spec::default() }))
            .collect(),
    };
    let what = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let base = DetectorConfig::default();
    if what == "quick" {
        for margin in [None, Some(1.0)] {
            for z in [2.5, 3.0, 3.5] {
                let config = DetectorConfig { threshold: score_of_z(z), peak_margin: margin, ..base.clone() };
                line(&format!("peak margin {margin:?} z {z:.1}"), &config, &c);
            }
        }
        return;
    }
    println!("threshold sweep (z = surprise; score = 1 - 2^-(z/3)^2); raw (normalised) NAB scores");
    let mut best = (f64::NEG_INFINITY, 0.0);
    for z10 in (20..=50).step_by(5) {
        let z = f64::from(z10) / 10.0;
        let config = DetectorConfig { threshold: score_of_z(z), ..base.clone() };
        let sum = line(&format!("z {z:.1} (score {:.4})", config.threshold), &config, &c);
        if sum > best.0 {
            best = (sum, z);
        }
    }
    println!("best threshold on the tuning sets: z {:.1}", best.1);
    println!("\nother settings, one at a time, at the default threshold");
    line("default", &base, &c);
    let vary: Vec<(String, DetectorConfig)> = vec![
        ("cooldown 2 h".into(), DetectorConfig { cooldown_secs: 2 * 3600, ..base.clone() }),
        ("cooldown 6 h".into(), DetectorConfig { cooldown_secs: 6 * 3600, ..base.clone() }),
        ("cooldown 24 h".into(), DetectorConfig { cooldown_secs: 24 * 3600, ..base.clone() }),
        ("level half-life 12 h".into(), DetectorConfig { level_half_life_secs: 12 * 3600, ..base.clone() }),
        ("level half-life 24 h".into(), DetectorConfig { level_half_life_secs: 24 * 3600, ..base.clone() }),
        ("level half-life 96 h".into(), DetectorConfig { level_half_life_secs: 96 * 3600, ..base.clone() }),
        ("windows 15m 1h".into(), DetectorConfig { windows_secs: vec![900, 3600], ..base.clone() }),
        (
            "windows 10m 30m 1h 4h".into(),
            DetectorConfig { windows_secs: vec![600, 1800, 3600, 14_400], ..base.clone() },
        ),
        (
            "windows 30m 1h 4h 12h".into(),
            DetectorConfig { windows_secs: vec![1800, 3600, 14_400, 43_200], ..base.clone() },
        ),
        ("trim 0.25".into(), DetectorConfig { trim: 0.25, ..base.clone() }),
        ("min excess 0, ratio 1".into(), DetectorConfig { min_excess: 0.0, min_ratio: 1.0, ..base.clone() }),
        ("min excess 10".into(), DetectorConfig { min_excess: 10.0, ..base.clone() }),
        ("min ratio 2".into(), DetectorConfig { min_ratio: 2.0, ..base.clone() }),
    ];
    for (label, config) in &vary {
        line(label, config, &c);
    }
    for margin in [None, Some(0.5), Some(1.5), Some(2.0)] {
        line(&format!("peak margin {margin:?}"), &DetectorConfig { peak_margin: margin, ..base.clone() }, &c);
    }
}

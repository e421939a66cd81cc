//! How the detector's defaults were chosen: NAB's standard-profile score on
//! synthetic series only (never on the NAB files).
//!
//! `cargo run --release -p vigie-detect --example tune`
//!
//! Two synthetic corpora (tuning: seeds 0..N, check: seeds 10_000..) of
//! 55-day series with labelled crises, and a null corpus without crises
//! (false alerts per week). The threshold sweep prints each corpus's raw and
//! normalised score; the other settings are then varied one at a time.

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

fn line(label: &str, config: &DetectorConfig, tune: &[synth::Series], check: &[synth::Series], null: &[synth::Series]) {
    let a = corpus_score(config, tune);
    let b = corpus_score(config, check);
    println!(
        "{label:<28} tune raw {:>7.2} norm {:>5.1} (detected {}/{} fp {:>4})  check raw {:>7.2} norm {:>5.1}  null alerts/week {:.3}",
        a.raw,
        a.normalised(),
        a.detected,
        a.windows,
        a.fp,
        b.raw,
        b.normalised(),
        alerts_per_week(config, null)
    );
}

fn main() {
    let spec = Spec::default();
    let tune: Vec<_> = (0..SERIES).map(|s| synth::generate(s, &spec)).collect();
    let check: Vec<_> = (10_000..10_000 + SERIES).map(|s| synth::generate(s, &spec)).collect();
    let null_spec = Spec { crises: Some(0), ..Spec::default() };
    let null: Vec<_> = (20_000..20_000 + SERIES / 2).map(|s| synth::generate(s, &null_spec)).collect();

    let what = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let base = DetectorConfig::default();
    if what == "quick" {
        for budget in [0.0, 0.5, 1.0, 2.0] {
            for z in [3.5, 4.0, 4.5, 5.0] {
                let config = DetectorConfig { threshold: score_of_z(z), alert_budget_per_week: budget, ..base.clone() };
                line(&format!("b {budget} z {z:.1} (score {:.4})", config.threshold), &config, &tune, &check, &null);
            }
        }
        return;
    }
    println!("threshold sweep (z = surprise; score = 1 - 2^-(z/4)^2)");
    for z10 in (30..=70).step_by(5) {
        let z = f64::from(z10) / 10.0;
        let config = DetectorConfig { threshold: score_of_z(z), ..base.clone() };
        line(&format!("z {z:.1} (score {:.4})", config.threshold), &config, &tune, &check, &null);
    }
    println!("\nother settings, at the default threshold");
    line("default", &base, &tune, &check, &null);
    for hours in [2u32, 6, 24] {
        let config = DetectorConfig { cooldown_secs: hours * 3600, ..base.clone() };
        line(&format!("cooldown {hours} h"), &config, &tune, &check, &null);
    }
    for hours in [6u32, 12, 24, 96] {
        let config = DetectorConfig { level_half_life_secs: hours * 3600, ..base.clone() };
        line(&format!("level half-life {hours} h"), &config, &tune, &check, &null);
    }
    for windows in [vec![900, 3600], vec![600, 1800, 3600, 4 * 3600], vec![900, 3600, 4 * 3600, 12 * 3600]] {
        let label = format!("windows {windows:?}");
        let config = DetectorConfig { windows_secs: windows, ..base.clone() };
        line(&label, &config, &tune, &check, &null);
    }
    for budget in [0.0, 0.5, 2.0] {
        let config = DetectorConfig { alert_budget_per_week: budget, ..base.clone() };
        line(&format!("alert budget {budget}/week"), &config, &tune, &check, &null);
    }
    for trim in [0.25, 0.5] {
        let config = DetectorConfig { trim, ..base.clone() };
        line(&format!("trim {trim}"), &config, &tune, &check, &null);
    }
    for (excess, ratio) in [(0.0, 1.0), (3.0, 1.5), (10.0, 1.5), (5.0, 2.0)] {
        let config = DetectorConfig { min_excess: excess, min_ratio: ratio, ..base.clone() };
        line(&format!("min excess {excess} ratio {ratio}"), &config, &tune, &check, &null);
    }
}

//! `vigie eval spikes --nab DIR`: the spike detector with its default
//! settings, scored like the Numenta Anomaly Benchmark (standard profile) on
//! NAB's tweet-volume files, beside the published detectors' scores on the
//! same files.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use vigie_detect::nab::{self, CostMatrix, FileScore};
use vigie_detect::{Detector, DetectorConfig, replay_alerts, score_of_z, z_of_score};

use super::detect::{Row, SeriesReader, observe};

/// One file of the benchmark, run through the detector.
struct Scored {
    /// `Twitter_volume_AAPL.csv`.
    name: String,
    rows: usize,
    /// Each row's time and score (to replay other thresholds for the oracle).
    scored: Vec<(DateTime<Utc>, f64)>,
    windows: Vec<nab::Window>,
    score: FileScore,
}

fn short(name: &str) -> &str {
    name.trim_start_matches("Twitter_volume_").trim_end_matches(".csv")
}

/// NAB writes window limits with microseconds (`2015-03-03 04:37:53.000000`), the data without.
fn plain_timestamp(text: &str) -> &str {
    text.trim().split('.').next().unwrap_or(text)
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot open {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

fn data_path(nab: &Path, key: &str) -> anyhow::Result<PathBuf> {
    let plain = nab.join(key);
    let gz = nab.join(format!("{key}.gz"));
    [gz, plain.clone()]
        .into_iter()
        .find(|p| p.is_file())
        .with_context(|| format!("cannot open {} (nor its .gz)", plain.display()))
}

/// Runs the default detector over one file and scores it.
fn score_file(nab: &Path, key: &str, limits: &[(String, String)], cost: &CostMatrix) -> anyhow::Result<Scored> {
    let path = data_path(nab, key)?;
    let rows: Vec<Row> = SeriesReader::open(&path)?.collect::<anyhow::Result<_>>()?;
    let index: HashMap<&str, usize> =
        rows.iter().enumerate().map(|(i, r)| (plain_timestamp(&r.timestamp), i)).collect();
    let windows = limits
        .iter()
        .map(|(start, end)| {
            let find = |t: &str| {
                index
                    .get(plain_timestamp(t))
                    .copied()
                    .with_context(|| format!("window limit {t} is not a row of {key}"))
            };
            Ok((find(start)?, find(end)?))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut detector = Detector::new(DetectorConfig::default())?;
    let mut scored = Vec::with_capacity(rows.len());
    let mut alerts = Vec::with_capacity(rows.len());
    for row in &rows {
        let verdict = observe(&mut detector, row)?;
        scored.push((row.at, verdict.score));
        alerts.push(verdict.alert);
    }
    let score = nab::score(&alerts, &windows, cost).with_context(|| format!("scoring {key}"))?;
    let name = key.rsplit('/').next().unwrap_or(key).to_string();
    Ok(Scored { name, rows: rows.len(), scored, windows, score })
}

/// The published per-file raw scores: detector → file name → score.
fn published(nab: &Path) -> anyhow::Result<BTreeMap<String, BTreeMap<String, f64>>> {
    let path = nab.join("published_per_file_standard_scores.csv");
    let mut reader = csv::Reader::from_path(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).with_context(|| format!("{} has no `{name}` column", path.display()))
    };
    let (detector, profile, file, score) = (column("Detector")?, column("Profile")?, column("File")?, column("Score")?);
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for record in reader.records() {
        let record = record?;
        if record.get(profile) != Some("standard") {
            continue;
        }
        let (Some(d), Some(f), Some(s)) = (record.get(detector), record.get(file), record.get(score)) else { continue };
        let value: f64 = s.parse().with_context(|| format!("{}: `{s}` is not a score", path.display()))?;
        let name = f.rsplit('/').next().unwrap_or(f).to_string();
        out.entry(d.to_string()).or_default().insert(name, value);
    }
    Ok(out)
}

/// The Markdown section of the spike evaluation.
pub fn eval_spikes(nab: &Path) -> anyhow::Result<String> {
    let windows_json = read_json(&nab.join("windows.json"))?;
    let profiles = read_json(&nab.join("profiles.json"))?;
    let cost: CostMatrix = serde_json::from_value(profiles["standard"]["CostMatrix"].clone())
        .context("profiles.json has no standard CostMatrix")?;
    let files: BTreeMap<String, Vec<(String, String)>> =
        serde_json::from_value(windows_json).context("windows.json: expected {file: [[start, end], …]}")?;
    if files.is_empty() {
        anyhow::bail!("{} lists no file", nab.join("windows.json").display());
    }

    let started = Instant::now();
    let mut results = Vec::new();
    for (key, limits) in &files {
        results.push(score_file(nab, key, limits, &cost)?);
    }
    let elapsed = started.elapsed();
    let published = published(nab)?;

    let mut total = FileScore::default();
    for r in &results {
        total.add(&r.score);
    }
    let rows: usize = results.iter().map(|r| r.rows).sum();
    let defaults = DetectorConfig::default();

    let mut md = String::new();
    writeln!(md, "## Spike detection (NAB tweet volumes)\n")?;
    writeln!(
        md,
        "`vigie eval spikes` runs Vigie's surge detector (`crates/vigie-detect`) with its **default settings** — \
         those `vigie detect` and the alert rules use — over the Numenta Anomaly Benchmark's tweet-volume files in \
         `{}` (mentions of a ticker every 5 minutes; see its SOURCE.md), and scores the alerts with NAB's standard \
         profile (tp {}, fp {}, fn {}), as NAB computes it: the official windows, the probationary period \
         (`min(floor(0.15·rows), 750)` rows, not scored), the scaled sigmoid (`2·sigmoid(−5y) − 1`), each window's \
         earliest detection counted once, and false positives weighted by their distance past the previous window. \
         The Rust scorer (`vigie_detect::nab`) gives the same per-file scores as `../shared/tools/nab_score.py` on \
         the same alerts (checked by a CLI test).\n",
        nab.display(),
        cost.tp_weight,
        cost.fp_weight,
        cost.fn_weight
    )?;
    writeln!(
        md,
        "**Not tuned on these files.** Vigie has one default setting — it alerts when a window's surprise reaches \
         z = {:.1} (score threshold {:.2}) *and* beats the median of the series' daily peaks over the last two weeks \
         by {:.1} (a series that surges every day needs more to alert), over windows of {} minutes, then not again \
         for the same crisis (cooldown {} h) — chosen on synthetic series only: seeded 55-day series of 5-minute \
         counts from 0.02 to 150 mentions per bucket with daily and weekly seasonality, working hours, drift, \
         overdispersion, heavy-tailed and bursty variants, unlabelled nuisances and labelled crises, scored with the \
         same NAB scorer (`cargo run --release -p vigie-detect --example detect_tune` prints the sweep; the defaults are \
         the best on its tuning series, confirmed on separate check series). The published detectors' thresholds \
         were optimised by NAB over its whole corpus, these files included.\n",
        z_of_score(defaults.threshold),
        defaults.threshold,
        defaults.peak_margin.unwrap_or(0.0),
        defaults.windows_secs.iter().map(|w| (w / 60).to_string()).collect::<Vec<_>>().join(", "),
        defaults.cooldown_secs / 3600
    )?;
    writeln!(
        md,
        "How often these files were looked at while the detector was built: twice. The first version (one \
         hour-of-day profile, a fixed threshold of z = 4, no daily-peak rule) scored a raw total of 2.81 here, with \
         16 of 17 windows found but 102 false-positive rows. The detector was then changed on general grounds and \
         re-chosen on synthetic series only — weekday and weekend day profiles at half-hour resolution, the \
         daily-peak rule (constant false-alarm rate per series), bursty and working-hours synthetic series — and \
         evaluated here a second time: the table below. Nothing was changed after that.\n"
    )?;
    writeln!(
        md,
        "A third look (a failure analysis, no change kept): most of the 73 false-positive rows are surges smaller \
         than others of the same series in the previous days, while the labelled anomalies are mostly the largest \
         volumes in days. A *record* rule (alert only when the last 30 minutes hold more mentions than any 30 \
         minutes of the previous N days) was tried with the threshold, daily-peak margin and cooldown: over a grid \
         of 480 settings the best total on these five files is 9.54 (N = 3 days, 40 false-positive rows), still \
         below ARTime's 10.54, and chosen by leave-one-file-out (settings picked on four files, scored on the \
         fifth) the same grid totals 6.21, no better than the untuned default's 5.97; on the synthetic series \
         the rule loses most crises (a night-time surge is rarely the day's largest volume). It was not adopted (the one-off scripts that measured it were not kept): \
         beating the published detectors here would mean tuning to these labels, which the next files would not \
         reward.\n"
    )?;
    writeln!(
        md,
        "What is scored is the detector's own decision, as `vigie detect` writes it. Two things the alert rules do \
         on top of it do not change it: while an alert's surge goes on, each bucket grows that alert (its count, \
         window and mentions) instead of raising another; and a burst inside one 5-minute bucket, which the \
         windows leave out, is raised only when ten authors or more wrote it — a series \
         of counts does not say that, so these files cannot score it.\n"
    )?;
    writeln!(
        md,
        "Normalised score: `100 · (raw − null) / (perfect − null)`, where the null detector never alerts (−fn per window) and the perfect one scores tp per window.\n"
    )?;
    writeln!(md, "| file | rows | windows | detected | TP rows | FP rows | FN rows | raw score | normalised |")?;
    writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    for r in &results {
        let s = &r.score;
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {:.3} | {:.1} |",
            r.name,
            r.rows,
            s.windows,
            s.detected,
            s.tp,
            s.fp,
            s.fn_,
            s.raw,
            s.normalised()
        )?;
    }
    writeln!(
        md,
        "| **total** | {rows} | {} | {} | {} | {} | {} | **{:.3}** | **{:.1}** |\n",
        total.windows,
        total.detected,
        total.tp,
        total.fp,
        total.fn_,
        total.raw,
        total.normalised()
    )?;
    writeln!(
        md,
        "TP, FP and FN rows are NAB's counts of scored rows: alerts inside a window, alerts outside every window, \
         rows inside a window without alert. The detector read the {rows} rows in {} ms.\n",
        elapsed.as_millis()
    )?;

    // The published detectors beside Vigie, best total first.
    let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    let mut table: Vec<(String, Vec<Option<f64>>, f64)> = published
        .iter()
        .map(|(detector, per_file)| {
            let cells: Vec<Option<f64>> = names.iter().map(|n| per_file.get(*n).copied()).collect();
            let sum = cells.iter().flatten().sum();
            (detector.clone(), cells, sum)
        })
        .collect();
    table.push(("**Vigie (default settings)**".into(), results.iter().map(|r| Some(r.score.raw)).collect(), total.raw));
    table.sort_by(|a, b| b.2.total_cmp(&a.2));
    writeln!(md, "Raw scores beside the published detectors (NAB's results, standard profile, same files):\n")?;
    writeln!(
        md,
        "| detector | {} | total | normalised |",
        names.iter().map(|n| short(n)).collect::<Vec<_>>().join(" | ")
    )?;
    writeln!(md, "|---|{}---:|---:|", "---:|".repeat(names.len()))?;
    for (detector, cells, sum) in &table {
        let cells: Vec<String> = cells.iter().map(|c| c.map_or("–".into(), |v| format!("{v:.2}"))).collect();
        let norm = nab::normalised(*sum, total.null, total.perfect);
        writeln!(md, "| {detector} | {} | {sum:.2} | {norm:.1} |", cells.join(" | "))?;
    }
    writeln!(md)?;

    // The oracle: the best single threshold on these files, for information only.
    let mut best = (f64::NEG_INFINITY, 0.0);
    for step in 0..=160 {
        let z = 1.0 + 0.05 * f64::from(step);
        let config = DetectorConfig { threshold: score_of_z(z), ..defaults.clone() };
        let mut raw = 0.0;
        for r in &results {
            let alerts = replay_alerts(&config, &r.scored);
            raw += nab::score(&alerts, &r.windows, &cost)?.raw;
        }
        if raw > best.0 {
            best = (raw, z);
        }
    }
    writeln!(
        md,
        "For information only — an **oracle**, not Vigie's result: the best single threshold chosen by looking at \
         these five files' labels would be z = {:.2} (score threshold {:.3}), for a raw total of {:.2} \
         (normalised {:.1}). The claim is the default's row above.",
        best.1,
        score_of_z(best.1),
        best.0,
        nab::normalised(best.0, total.null, total.perfect)
    )?;
    Ok(md)
}

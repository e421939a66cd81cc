//! The streaming surge detector: one [`Detector`] per series, fed one bucket
//! at a time, answering a [`Verdict`] per bucket.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::baseline::{Baseline, Decays};

/// The surprise at which the score is one half: `score = 1 - 2^-(z / Z_HALF)²`.
pub const Z_HALF: f64 = 3.0;

/// The longest window, in buckets (bounds the state).
pub const MAX_WINDOW_BUCKETS: u32 = 1024;

/// Clipping of what the baseline learns: at most this many standard
/// deviations above the expectation, plus [`CLIP_SLACK`] mentions.
const CLIP_SIGMAS: f64 = 4.0;
const CLIP_SLACK: f64 = 3.0;
/// Starting dispersion of each window (negative-binomial `φ`, variance `μ + φμ²`).
const INITIAL_DISPERSION: f64 = 0.1;
const DISPERSION_RANGE: (f64, f64) = (1e-4, 1.0);
/// Learning rate of the dispersion (on its logarithm): fast at first, then
/// [`DISPERSION_RATE`] (a surge of 100 buckets moves it by a factor e^0.5 at most).
const DISPERSION_START_RATE: f64 = 0.1;
const DISPERSION_RATE: f64 = 0.005;
/// The quantile of |z| the dispersion is fitted on, and its value for a standard normal.
const SCALE_QUANTILE: (f64, f64) = (0.9, 1.644_85);

/// The score of a surprise `z` (a robust z on the square-root scale).
pub fn score_of_z(z: f64) -> f64 {
    if z > 0.0 { 1.0 - 0.5f64.powf((z / Z_HALF).powi(2)) } else { 0.0 }
}

/// The surprise whose score is `score` (inverse of [`score_of_z`]).
pub fn z_of_score(score: f64) -> f64 {
    if score <= 0.0 {
        0.0
    } else if score >= 1.0 {
        f64::INFINITY
    } else {
        Z_HALF * (-(1.0 - score).log2()).sqrt()
    }
}

/// How a detector decides. Durations are in seconds; the defaults are
/// Vigie's (see the crate documentation for how they were chosen).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorConfig {
    /// Length of a bucket (one call of [`Detector::observe`] per bucket).
    pub bucket_secs: u32,
    /// Alert when the score reaches this (0 < threshold < 1).
    pub threshold: f64,
    /// The windows over which observed and expected counts are compared
    /// (each at least two buckets: a surge is more than one bucket).
    pub windows_secs: Vec<u32>,
    /// The part of each window's highest buckets left out, beyond the single
    /// highest one that always is: a surge must last longer than that part of
    /// a window to count (0 by default: only the highest bucket).
    pub trim: f64,
    /// An alert needs at least this many mentions above the expectation in its window.
    pub min_excess: f64,
    /// … and at least this ratio of observed to expected.
    pub min_ratio: f64,
    /// After an alert, no other before this much time has passed…
    pub cooldown_secs: u32,
    /// … and the score stayed below the threshold this long (one crisis, one alert).
    pub quiet_secs: u32,
    /// No alert before the series is this old (the baseline needs a day to learn).
    pub warmup_secs: u32,
    /// Half-life of the level (how fast a new normal is accepted).
    pub level_half_life_secs: u32,
    /// An alert's surprise must beat the median of the series' daily peaks
    /// (its highest surprise each day, last two weeks) by this much: a series
    /// that surges every day needs more to alert. None turns this off.
    pub peak_margin: Option<f64>,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            bucket_secs: 300,
            threshold: DEFAULT_THRESHOLD,
            windows_secs: vec![1800, 3600, 4 * 3600],
            trim: 0.0,
            min_excess: 5.0,
            min_ratio: 1.5,
            cooldown_secs: 12 * 3600,
            quiet_secs: 3600,
            warmup_secs: 86_400,
            level_half_life_secs: 2 * 86_400,
            peak_margin: Some(1.0),
        }
    }
}

/// Days of daily peaks remembered, and needed before they count.
pub const PEAK_DAYS: usize = 14;
const MIN_PEAK_DAYS: usize = 1;
/// Surprises are capped here when remembered (a score of 1 is an infinite surprise).
const MAX_Z: f64 = 100.0;

fn median(values: &VecDeque<f64>) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]),
    }
}

/// The default threshold on the score (a surprise of `z_of_score(DEFAULT_THRESHOLD)`).
pub const DEFAULT_THRESHOLD: f64 = 0.5;

impl DetectorConfig {
    /// Checks the values, saying which one is wrong.
    pub fn validate(&self) -> Result<(), DetectError> {
        let bad = |what: &str| Err(DetectError::Config(what.to_string()));
        if self.bucket_secs == 0 || self.bucket_secs > 86_400 {
            return bad("bucket_secs must be between 1 and 86400");
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return bad("threshold must be between 0 and 1 (exclusive)");
        }
        if self.windows_secs.is_empty() || self.windows_secs.len() > MAX_WINDOWS {
            return bad("windows_secs must list one to four windows");
        }
        if self.windows_secs.iter().any(|&w| w / self.bucket_secs > MAX_WINDOW_BUCKETS) {
            return bad("a window is longer than 1024 buckets");
        }
        if !(self.trim >= 0.0 && self.trim < 1.0) {
            return bad("trim must be at least 0 and below 1");
        }
        if !(self.min_excess.is_finite() && self.min_excess >= 0.0) {
            return bad("min_excess must be a number ≥ 0");
        }
        if !(self.min_ratio.is_finite() && self.min_ratio >= 1.0) {
            return bad("min_ratio must be a number ≥ 1");
        }
        if self.peak_margin.is_some_and(|m| !m.is_finite()) {
            return bad("peak_margin must be a number");
        }
        if self.level_half_life_secs < self.bucket_secs {
            return bad("level_half_life_secs must be at least one bucket");
        }
        Ok(())
    }

    fn buckets(&self, secs: u32) -> i64 {
        i64::from(secs.div_ceil(self.bucket_secs.max(1)))
    }

    /// How much of a window's surprise counts: none below the minimum excess
    /// and ratio, all of it well above them (continuous, so the score stays
    /// monotone in the volume).
    fn gate(&self, observed: f64, expected: f64) -> f64 {
        let excess = observed - expected;
        let by_excess = if self.min_excess > 0.0 { (excess / self.min_excess).clamp(0.0, 1.0) } else { 1.0 };
        let by_ratio = if self.min_ratio > 1.0 {
            let ratio = if expected > 0.0 {
                observed / expected
            } else if observed > 0.0 {
                f64::INFINITY
            } else {
                1.0
            };
            ((ratio - 1.0) / (self.min_ratio - 1.0)).clamp(0.0, 1.0)
        } else {
            1.0
        };
        by_excess * by_ratio
    }

    /// The windows in buckets: at least 2, sorted, without repeats.
    fn window_buckets(&self) -> Vec<u32> {
        let mut windows: Vec<u32> = self
            .windows_secs
            .iter()
            .map(|&w| ((f64::from(w) / f64::from(self.bucket_secs.max(1))).round() as u32).clamp(2, MAX_WINDOW_BUCKETS))
            .collect();
        windows.sort_unstable();
        windows.dedup();
        windows
    }
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DetectError {
    #[error("{value} is not a count (values must be finite and not negative)")]
    InvalidValue { value: f64 },
    #[error("{at} is not after the previous bucket ({previous}): one value per bucket, in time order")]
    OutOfOrder { at: DateTime<Utc>, previous: DateTime<Utc> },
    #[error("invalid detector configuration: {0}")]
    Config(String),
}

/// Observed against expected over one window ending at the current bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowStat {
    /// Length of the window, in buckets.
    pub buckets: u32,
    /// Mentions observed in the window's buckets (the whole window: the test
    /// itself leaves the highest bucket out).
    pub observed: f64,
    /// Mentions expected in the same buckets.
    pub expected: f64,
    /// The window's score (0 to 1, as [`Verdict::score`], which is the best of them).
    #[serde(default)]
    pub score: f64,
}

/// The most windows a detector compares (`DetectorConfig::windows_secs`).
pub const MAX_WINDOWS: usize = 4;

/// The detector's answer for one bucket.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// How unusual the recent volume is, 0 (ordinary) to 1; 0.5 is a surprise of [`Z_HALF`].
    pub score: f64,
    /// Raise an alert now (score at the threshold, warmed up, not already alerting on this surge).
    pub alert: bool,
    /// This bucket's count.
    pub observed: f64,
    /// This bucket's expected count.
    pub expected: f64,
    /// The count this bucket alone would have needed to reach the threshold.
    pub upper: f64,
    /// The window that scored highest (what to show in an explanation).
    pub window: WindowStat,
    /// Every window, shortest first (unused ones have 0 buckets): what to
    /// show of a crisis that must not count an earlier one.
    #[serde(default)]
    pub windows: [WindowStat; MAX_WINDOWS],
    /// The score reached the threshold but no alert was raised: one was already
    /// raised for this surge, the surprise did not beat the series' usual daily
    /// peak, or the series is still warming up.
    pub suppressed: bool,
    /// The score is at the threshold while an alert raised earlier is in its
    /// cooldown: the same crisis, still going (what grows an open alert).
    #[serde(default)]
    pub ongoing: bool,
    /// Ongoing, with the shortest window back at the threshold after it had
    /// stayed below for `quiet_secs`, and beating the usual daily peak: a new
    /// wave within the cooldown (the longer windows still remember the first
    /// one). It raises no alert here (one crisis, one alert), but one that
    /// was closed meanwhile should be opened again.
    #[serde(default)]
    pub renewed: bool,
    /// This bucket alone is extreme (a surprise of [`BURST_Z`], [`BURST_MIN_EXCESS`]
    /// mentions and [`BURST_MIN_RATIO`] times the expectation above it), the
    /// series is warm, and not alerting or calm for `quiet_secs` in its
    /// shortest window (a new wave). The windows leave their highest bucket
    /// out, so such a burst raises no alert by itself: counts cannot tell a
    /// crowd from one voice repeating itself. Whoever can (the pipeline, by
    /// the authors of the bucket's mentions) raises it.
    #[serde(default)]
    pub burst: bool,
    /// The score of this bucket alone against its expectation (what a
    /// burst's explanation shows: the windows leave it out).
    #[serde(default)]
    pub bucket_score: f64,
}

/// The surprise of a single bucket that makes a [`Verdict::burst`] (a score of
/// about 0.79; ten mentions where a fifth of one was expected reach it)…
pub const BURST_Z: f64 = 4.5;
/// … with at least this many mentions above the expectation…
pub const BURST_MIN_EXCESS: f64 = 8.0;
/// … and at least this ratio of observed to expected.
pub const BURST_MIN_RATIO: f64 = 3.0;

/// What the decision stage says of one bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Decision {
    alert: bool,
    suppressed: bool,
    ongoing: bool,
    renewed: bool,
    /// Warmed up, and not alerting or calm for long enough: a burst here
    /// would be a new crisis, or a new wave of one.
    armed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Entry {
    bucket: i64,
    observed: f64,
    expected: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Scale {
    buckets: u32,
    /// Negative-binomial dispersion of this window's sums, learned.
    dispersion: f64,
    /// Median of this window's surprise (the trimmed sums sit below zero).
    center: f64,
    updates: u64,
}

/// The decision stage alone: warm-up, then one alert per crisis. It only
/// sees scores, so decisions at another threshold can be replayed over
/// scores already computed ([`replay_alerts`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Decider {
    first_bucket: Option<i64>,
    alerting: Option<Alerting>,
    /// The current UTC day, its highest surprise so far, and the highest
    /// surprise of each of the last [`PEAK_DAYS`] days.
    day: Option<i64>,
    day_peak: f64,
    peaks: VecDeque<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Alerting {
    /// The bucket of the alert.
    since: i64,
    /// The first bucket of the current run below the threshold.
    calm_since: Option<i64>,
    /// The first bucket of the current run where the shortest window was
    /// below the threshold (the longer ones remember a surge for hours after
    /// it ended: a new wave shows in the shortest first).
    #[serde(default)]
    short_calm_since: Option<i64>,
}

impl Decider {
    /// The decision for the score of this bucket (`short_score`: that of the
    /// shortest window alone, which only tells a new wave within a crisis).
    fn decide(&mut self, config: &DetectorConfig, bucket: i64, score: f64, short_score: f64) -> Decision {
        let threshold = config.threshold;
        // One crisis, one alert: re-arm after the cooldown once the score stayed low long enough.
        let mut new_wave = false;
        // Calm enough for a burst to be a new wave (the shortest window below
        // the threshold for `quiet_secs` before this bucket), while alerting.
        let mut calm_for_a_burst = false;
        if let Some(a) = &mut self.alerting {
            calm_for_a_burst =
                a.short_calm_since.is_some_and(|calm| bucket - calm >= config.buckets(config.quiet_secs));
            if score < threshold {
                let calm = *a.calm_since.get_or_insert(bucket);
                if bucket - a.since >= config.buckets(config.cooldown_secs)
                    && bucket - calm + 1 >= config.buckets(config.quiet_secs)
                {
                    self.alerting = None;
                }
            } else {
                a.calm_since = None;
            }
        }
        if let Some(a) = &mut self.alerting {
            // A new wave: the shortest window back at the threshold after `quiet_secs` below it.
            if short_score < threshold {
                a.short_calm_since.get_or_insert(bucket);
            } else {
                new_wave = a.short_calm_since.is_some_and(|calm| bucket - calm >= config.buckets(config.quiet_secs));
                a.short_calm_since = None;
            }
        }
        let first = *self.first_bucket.get_or_insert(bucket);
        let warm = bucket - first >= config.buckets(config.warmup_secs);
        // The usual daily peak: an alert must beat what this series does on an ordinary day.
        let z = z_of_score(score).min(MAX_Z);
        let day = (bucket * i64::from(config.bucket_secs)).div_euclid(86_400);
        if self.day != Some(day) {
            if self.day.is_some() {
                self.peaks.push_back(self.day_peak);
                while self.peaks.len() > PEAK_DAYS {
                    self.peaks.pop_front();
                }
            }
            self.day = Some(day);
            self.day_peak = 0.0;
        }
        self.day_peak = self.day_peak.max(z);
        let beats_usual_peak = match config.peak_margin {
            Some(margin) if self.peaks.len() >= MIN_PEAK_DAYS => z >= median(&self.peaks) + margin,
            _ => true,
        };
        let over = score >= threshold;
        let alert = over && beats_usual_peak && warm && self.alerting.is_none();
        let armed = warm && (self.alerting.is_none() || calm_for_a_burst);
        let ongoing = over && self.alerting.is_some();
        if alert {
            self.alerting = Some(Alerting { since: bucket, calm_since: None, short_calm_since: None });
        }
        Decision { alert, suppressed: over && !alert, ongoing, renewed: ongoing && new_wave && beats_usual_peak, armed }
    }
}

/// The alerts a detector with `config` would have raised over these scores
/// (the [`Verdict::score`]s of a series, with their times): what another
/// threshold or cooldown would have done, without running the model again.
pub fn replay_alerts(config: &DetectorConfig, scored: &[(DateTime<Utc>, f64)]) -> Vec<bool> {
    let bucket_secs = i64::from(config.bucket_secs.max(1));
    let mut decider = Decider::default();
    scored
        .iter()
        .map(|(at, score)| decider.decide(config, at.timestamp().div_euclid(bucket_secs), *score, 0.0).alert)
        .collect()
}

/// A streaming surge detector for one series of counts. Its state is a few
/// hundred numbers (bounded by the longest window), serialisable so it can
/// be persisted between runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detector {
    config: DetectorConfig,
    baseline: Baseline,
    recent: VecDeque<Entry>,
    scales: Vec<Scale>,
    last_bucket: Option<i64>,
    decider: Decider,
    /// Reused between calls (not state).
    #[serde(skip)]
    scratch: Vec<Entry>,
}

/// Upper bound of the square-root surprise test: the count `s` with
/// `2(√(s+3/8) − √(e+3/8)) / √(1+φe) = z`.
fn upper_bound(expected: f64, dispersion: f64, z: f64) -> f64 {
    let root = (expected + 0.375).sqrt() + 0.5 * z * (1.0 + dispersion * expected).sqrt();
    root * root - 0.375
}

impl Detector {
    pub fn new(config: DetectorConfig) -> Result<Detector, DetectError> {
        config.validate()?;
        let scales = config
            .window_buckets()
            .into_iter()
            .map(|buckets| Scale { buckets, dispersion: INITIAL_DISPERSION, center: 0.0, updates: 0 })
            .collect();
        Ok(Detector {
            config,
            baseline: Baseline::default(),
            recent: VecDeque::new(),
            scales,
            last_bucket: None,
            decider: Decider::default(),
            scratch: Vec::new(),
        })
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Changes the settings of a running detector (the sensitivity, …),
    /// keeping what it learned; the bucket length cannot change.
    pub fn set_config(&mut self, config: DetectorConfig) -> Result<(), DetectError> {
        config.validate()?;
        if config.bucket_secs != self.config.bucket_secs {
            return Err(DetectError::Config("the bucket length of a running detector cannot change".into()));
        }
        let old = std::mem::take(&mut self.scales);
        self.scales = config
            .window_buckets()
            .into_iter()
            .map(|buckets| {
                old.iter().find(|s| s.buckets == buckets).cloned().unwrap_or(Scale {
                    buckets,
                    dispersion: INITIAL_DISPERSION,
                    center: 0.0,
                    updates: 0,
                })
            })
            .collect();
        self.config = config;
        Ok(())
    }

    fn bucket_start(&self, bucket: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(bucket.saturating_mul(i64::from(self.config.bucket_secs)), 0).unwrap_or_default()
    }

    /// Feeds the count of the bucket containing `at` (call once per bucket,
    /// zeros included: a bucket never observed is missing data, not zero).
    pub fn observe(&mut self, at: DateTime<Utc>, value: f64) -> Result<Verdict, DetectError> {
        if !value.is_finite() || value < 0.0 {
            return Err(DetectError::InvalidValue { value });
        }
        let bucket_secs = i64::from(self.config.bucket_secs);
        let bucket = at.timestamp().div_euclid(bucket_secs);
        if let Some(last) = self.last_bucket
            && bucket <= last
        {
            return Err(DetectError::OutOfOrder { at, previous: self.bucket_start(last) });
        }
        let start = bucket * bucket_secs;
        let prediction = self.baseline.predict(start);
        let expected = prediction.expected.unwrap_or(value);

        let longest = self.scales.last().map_or(2, |s| i64::from(s.buckets));
        while self.recent.front().is_some_and(|e| e.bucket <= bucket - longest) {
            self.recent.pop_front();
        }
        self.recent.push_back(Entry { bucket, observed: value, expected });

        // Every window: observed against expected, its highest buckets left out.
        let mut best = (0.0, WindowStat::default());
        let mut windows = [WindowStat::default(); MAX_WINDOWS];
        let mut shortest: Option<f64> = None;
        let window = &mut self.scratch;
        for (scale, stat) in self.scales.iter_mut().zip(windows.iter_mut()) {
            window.clear();
            window.extend(self.recent.iter().rev().take_while(|e| e.bucket > bucket - i64::from(scale.buckets)));
            if window.len() < 2 {
                continue;
            }
            let trim = ((window.len() as f64 * self.config.trim).floor() as usize).clamp(1, window.len() - 1);
            // The `trim` highest excesses first (their order does not matter).
            window.select_nth_unstable_by(trim - 1, |a, b| {
                (b.observed - b.expected).total_cmp(&(a.observed - a.expected))
            });
            let kept = &window[trim..];
            let observed: f64 = kept.iter().map(|e| e.observed).sum();
            let expected_sum: f64 = kept.iter().map(|e| e.expected).sum();
            let z = 2.0 * ((observed + 0.375).sqrt() - (expected_sum + 0.375).sqrt())
                / (1.0 + scale.dispersion * expected_sum).sqrt();
            let centred = z - scale.center;
            let z_eff = centred * self.config.gate(observed, expected_sum);
            shortest.get_or_insert(z_eff);
            *stat = WindowStat {
                buckets: scale.buckets,
                observed: window.iter().map(|e| e.observed).sum(),
                expected: window.iter().map(|e| e.expected).sum(),
                score: score_of_z(z_eff),
            };
            if z_eff > best.0 || best.1.buckets == 0 {
                best = (z_eff, *stat);
            }
            // Learn the centre (median) and the dispersion (so that a high quantile of
            // |z - centre| is the normal one): robust, a surge moves them one small
            // step per bucket at most.
            scale.updates += 1;
            let rate = (DISPERSION_START_RATE / (1.0 + scale.updates as f64 / 50.0)).max(DISPERSION_RATE);
            scale.center += if centred > 0.0 { rate } else { -rate };
            let step = if centred.abs() > SCALE_QUANTILE.1 {
                2.0 * rate * SCALE_QUANTILE.0
            } else {
                -2.0 * rate * (1.0 - SCALE_QUANTILE.0)
            };
            scale.dispersion = (scale.dispersion * step.exp()).clamp(DISPERSION_RANGE.0, DISPERSION_RANGE.1);
        }
        window.clear();
        let score = score_of_z(best.0);
        let decision = self.decider.decide(&self.config, bucket, score, score_of_z(shortest.unwrap_or(0.0)));
        let dispersion = self.scales.first().map_or(INITIAL_DISPERSION, |s| s.dispersion);
        // This bucket alone, on the same square-root scale as the windows.
        let bucket_z =
            2.0 * ((value + 0.375).sqrt() - (expected + 0.375).sqrt()) / (1.0 + dispersion * expected).sqrt();
        let burst = decision.armed
            && bucket_z >= BURST_Z
            && value - expected >= BURST_MIN_EXCESS
            && value >= BURST_MIN_RATIO * expected;

        // Learn the baseline from the count, clipped so a surge is not learned as normal.
        let clip = expected + CLIP_SIGMAS * (expected * (1.0 + dispersion * expected)).sqrt() + CLIP_SLACK;
        self.baseline.learn(
            &prediction,
            value.min(clip),
            Decays::new(self.config.bucket_secs, self.config.level_half_life_secs),
        );
        self.last_bucket = Some(bucket);

        Ok(Verdict {
            score,
            alert: decision.alert,
            observed: value,
            expected,
            upper: upper_bound(expected, dispersion, z_of_score(self.config.threshold)),
            window: best.1,
            windows,
            suppressed: decision.suppressed,
            ongoing: decision.ongoing,
            renewed: decision.renewed,
            burst,
            bucket_score: score_of_z(bucket_z),
        })
    }
}

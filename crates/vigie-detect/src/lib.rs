//! Early warning: surges in mention-count series, and the Numenta Anomaly
//! Benchmark scorer that measures how well they are caught.
//!
//! # Design
//!
//! The crate is pure — no IO, no clock: time is passed in with every value —
//! so a detector is cheap to test, to benchmark and to persist.
//!
//! A [`Detector`] follows one series of counts in fixed buckets (5 minutes by
//! default: all mentions of a watch, or its negative ones). For each bucket
//! it answers a [`Verdict`]: a score from 0 to 1, whether to alert, and what
//! was observed against what was expected (for the explanation shown to a
//! person). Its model, in the order a bucket goes through it:
//!
//! 1. **Expected count** (`baseline.rs`): a level × a time-of-day factor (48
//!    half-hour slots, one profile for weekdays and one for weekends) × a
//!    day-of-week factor, each a ratio of exponentially weighted sums (the
//!    Poisson estimate of a rate). Seasonal factors start flat and move only
//!    as far as the data support (a prior worth 10 mentions), so a brand with
//!    three mentions a day is not given a "daily profile" made of noise.
//! 2. **Surprise per window** (30 minutes, 1 hour, 4 hours by default): the
//!    counts observed in the window against those expected, compared on the
//!    square-root scale (Anscombe's variance-stabilising transform for
//!    counts) with a negative-binomial variance `μ + φμ²`. The window's
//!    single highest bucket is left out: a crisis is more than one bucket,
//!    and one bot posting fifty times at once is not one. Each window learns
//!    its own centre and dispersion `φ` robustly (the median and the 90th
//!    percentile of its surprise, one small step per bucket, so a surge barely
//!    moves them). Poisson noise is the floor, so one mention after a quiet
//!    night is no surprise.
//! 3. **Gates**: an alert needs at least 5 mentions and 50% above the
//!    expectation in its window (the surprise is scaled down continuously
//!    below that, so the score stays monotone in the volume). The score is
//!    `1 − 2^−(z/3)²` of the highest surprise.
//! 4. **Decision** (replayable over stored scores, [`replay_alerts`]): alert
//!    when the score reaches the threshold *and* the surprise beats the median
//!    of the series' daily peaks (its highest surprise each day, last 14 days)
//!    by a margin — a constant false-alarm rate per series: one that surges
//!    every day needs more to alert —, after a day of warm-up, and not again
//!    for the same crisis: the detector re-arms once 12 hours have passed and
//!    the score has stayed below the threshold for an hour. Meanwhile a
//!    bucket at the threshold is [`Verdict::ongoing`] (the crisis goes on:
//!    the pipeline grows its alert), and [`Verdict::renewed`] when the
//!    shortest window comes back to the threshold after an hour below it (a
//!    new wave within the cooldown — the longer windows still remember the
//!    first one —: the pipeline opens the alert again if it was resolved). Neither changes
//!    `alert`, which is what `vigie detect` and the benchmark score.
//! 5. **Bursts**: the windows leave their highest bucket out, so a surge
//!    inside one bucket never alerts from counts. A warm, armed detector
//!    flags such a bucket as [`Verdict::burst`] when it alone is extreme
//!    (a surprise of [`BURST_Z`], 10 mentions and 3 times the expectation
//!    above it); the pipeline raises it when the bucket's mentions are a
//!    crowd (many authors), which counts cannot tell.
//! 6. **Learning**: the bucket's count, clipped at 4 standard deviations
//!    above the expectation (a surge is not learned as the new normal within
//!    hours; a lasting change is, within days), updates the baseline.
//!
//! The state is a few hundred numbers (the longest window's buckets, 206
//! seasonal sums, two per window, 14 daily peaks) and serialises with serde.
//! A 16,000-bucket series takes about 20 ms.
//!
//! # How the defaults were chosen
//!
//! On synthetic series only ([`synth`], `examples/detect_tune.rs`): 55-day series of
//! 5-minute counts from 0.02 to 150 mentions per bucket with daily and weekly
//! seasonality, working hours, drift, overdispersion, unlabelled nuisances
//! (single-bucket bursts, bot runs, mild waves; in the bursty variant,
//! ordinary events and heavy-tailed fluctuations) and labelled crises,
//! scored with NAB's standard profile. Each setting is the best on the tuning
//! series, kept only if the separate check series agree; the threshold's
//! optimum is flat between z = 2 and 3 and the higher one was kept (fewer
//! alerts on quiet series). The NAB tweet files were not used to choose any
//! setting; `vigie eval spikes` reports how the defaults do on them (and how
//! often they were looked at).
//!
//! # The benchmark
//!
//! [`nab`] reproduces NAB's scoring (windows, probationary period, scaled
//! sigmoid, normalisation); its tests check it against the reference scorer
//! `../shared/tools/nab_score.py`.

mod baseline;
mod detector;
pub mod nab;
pub mod synth;

pub use detector::{
    BURST_MIN_EXCESS, BURST_MIN_RATIO, BURST_Z, DEFAULT_THRESHOLD, DetectError, Detector, DetectorConfig,
    MAX_WINDOW_BUCKETS, MAX_WINDOWS, PEAK_DAYS, Verdict, WindowStat, Z_HALF, replay_alerts, score_of_z, z_of_score,
};

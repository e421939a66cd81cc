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
//! 1. **Expected count** (`baseline.rs`): a level × an hour-of-day factor × a
//!    day-of-week factor, each a ratio of exponentially weighted sums (the
//!    Poisson estimate of a rate). Seasonal factors start flat and move only
//!    as far as the data support (a prior worth 10 mentions), so a brand with
//!    three mentions a day is not given a "daily profile" made of noise.
//! 2. **Surprise per window** (15 minutes, 1 hour, 4 hours by default): the
//!    counts observed in the window against those expected, compared on the
//!    square-root scale (Anscombe's variance-stabilising transform for
//!    counts) with a negative-binomial variance `μ + φμ²` whose dispersion `φ`
//!    is learned per window by a winsorised moment equation. The window's
//!    single largest bucket is left out: a crisis is more than one bucket,
//!    and one bot posting fifty times at once is not one. Poisson noise is
//!    the floor, so one mention after a quiet night is no surprise.
//! 3. **Gates**: an alert needs at least 5 mentions and 50% above the
//!    expectation in its window (the surprise is scaled down continuously
//!    below that, so the score stays monotone in the volume).
//! 4. **Decision**: alert when the score reaches the threshold, after a day
//!    of warm-up, and not again for the same crisis: after an alert the
//!    detector re-arms only once 6 hours have passed and the score has stayed
//!    below the threshold for an hour.
//! 5. **Learning**: the bucket's count, clipped at 4 standard deviations
//!    above the expectation (a surge is not learned as the new normal within
//!    hours; a lasting change is, within days), updates the baseline.
//!
//! The state is a few hundred numbers (the longest window's buckets, 62
//! seasonal sums, one dispersion per window) and serialises with serde.
//!
//! # How the defaults were chosen
//!
//! On synthetic series only ([`synth`], `examples/tune.rs`): 5-minute counts
//! from 0.02 to 150 mentions per bucket with daily and weekly seasonality,
//! drift, overdispersion, unlabelled nuisances (single-bucket bursts, mild
//! waves) and labelled crises, scored with NAB's standard profile. The
//! threshold is the one with the best NAB score on one set of synthetic
//! series, checked on another. The NAB tweet files were not used to choose
//! any setting; `vigie eval spikes` reports how the defaults do on them.
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
    DEFAULT_THRESHOLD, DetectError, Detector, DetectorConfig, MAX_WINDOW_BUCKETS, Verdict, WindowStat, Z_HALF,
    replay_alerts, score_of_z, z_of_score,
};

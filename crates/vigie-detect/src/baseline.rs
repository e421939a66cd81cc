//! The expected count of a bucket: a level times an hour-of-day factor times
//! a day-of-week factor, all three learned online as ratios of exponentially
//! weighted sums (the Poisson maximum-likelihood estimate of a rate), so that
//! sparse and large series are handled by the same formulas.
//!
//! - level: Σ clipped counts / Σ seasonal factors, half-life configurable
//!   (default one day);
//! - hour of day: 24 slots, interpolated linearly between slot centres; each
//!   slot is Σ counts / Σ counts the level predicted there, with a prior worth
//!   [`PRIOR_COUNTS`] mentions pulling it towards 1, so that a brand with three
//!   mentions a day keeps a flat profile until its data say otherwise;
//! - day of week: 7 slots, the same way, with a longer memory.
//!
//! Counts fed to the baseline are clipped by the caller (a surge must not
//! become the new normal within hours); the factors are normalised to mean 1
//! when used, so the level carries the scale.

use serde::{Deserialize, Serialize};

/// Weight of the prior that pulls a seasonal factor towards 1, in mentions.
pub(crate) const PRIOR_COUNTS: f64 = 10.0;
/// Half-life of the hour-of-day profile, in days.
const HOUR_HALF_LIFE_DAYS: f64 = 7.0;
/// Half-life of the day-of-week profile, in weeks.
const DAY_HALF_LIFE_WEEKS: f64 = 4.0;

const SECS_PER_DAY: i64 = 86_400;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Baseline {
    level_num: f64,
    level_den: f64,
    hour_num: [f64; 24],
    hour_den: [f64; 24],
    day_num: [f64; 7],
    day_den: [f64; 7],
}

/// Where a time falls in the seasonal profiles.
#[derive(Clone, Copy, Debug)]
struct Slots {
    hour: usize,
    next_hour: usize,
    /// Weight of `next_hour` (linear interpolation between slot centres).
    frac: f64,
    day: usize,
}

impl Slots {
    fn of(at_secs: i64) -> Slots {
        let secs_of_day = at_secs.rem_euclid(SECS_PER_DAY) as f64;
        let position = secs_of_day / 3600.0 - 0.5;
        let floor = position.floor();
        let hour = (floor as i64).rem_euclid(24) as usize;
        // Days since 1970-01-01 (a Thursday); the numbering only has to be stable.
        let day = at_secs.div_euclid(SECS_PER_DAY).rem_euclid(7) as usize;
        Slots { hour, next_hour: (hour + 1) % 24, frac: position - floor, day }
    }
}

/// Decay factors derived from the bucket length (not stored: recomputed from the config).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Decays {
    level: f64,
    hour: f64,
    day: f64,
}

impl Decays {
    pub(crate) fn new(bucket_secs: u32, level_half_life_secs: u32) -> Decays {
        let bucket = f64::from(bucket_secs.max(1));
        let half = |buckets: f64| 0.5f64.powf(1.0 / buckets.max(1.0));
        Decays {
            level: half(f64::from(level_half_life_secs) / bucket),
            // Each hour slot receives 3600 / bucket units of weight a day.
            hour: half(HOUR_HALF_LIFE_DAYS * 3600.0 / bucket),
            // Each day slot receives a day's buckets once a week.
            day: half(DAY_HALF_LIFE_WEEKS * 86_400.0 / bucket),
        }
    }
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline {
            level_num: 0.0,
            level_den: 0.0,
            hour_num: [0.0; 24],
            hour_den: [0.0; 24],
            day_num: [0.0; 7],
            day_den: [0.0; 7],
        }
    }
}

fn ratio(num: f64, den: f64) -> f64 {
    (num + PRIOR_COUNTS) / (den + PRIOR_COUNTS)
}

impl Baseline {
    fn level(&self) -> Option<f64> {
        (self.level_den > 0.0).then(|| self.level_num / self.level_den)
    }

    fn hour_factor(&self, slots: Slots) -> f64 {
        let r = |h: usize| ratio(self.hour_num[h], self.hour_den[h]);
        let mean = (0..24).map(r).sum::<f64>() / 24.0;
        ((1.0 - slots.frac) * r(slots.hour) + slots.frac * r(slots.next_hour)) / mean
    }

    fn day_factor(&self, slots: Slots) -> f64 {
        let r = |d: usize| ratio(self.day_num[d], self.day_den[d]);
        let mean = (0..7).map(r).sum::<f64>() / 7.0;
        r(slots.day) / mean
    }

    /// The expected count of the bucket starting at `at_secs`, once anything was learned.
    pub(crate) fn expected(&self, at_secs: i64) -> Option<f64> {
        let slots = Slots::of(at_secs);
        Some(self.level()? * self.hour_factor(slots) * self.day_factor(slots))
    }

    /// Learns from the (already clipped) count of the bucket starting at `at_secs`.
    pub(crate) fn learn(&mut self, at_secs: i64, count: f64, decays: Decays) {
        let slots = Slots::of(at_secs);
        let hour = self.hour_factor(slots);
        let day = self.day_factor(slots);
        if let Some(level) = self.level() {
            for (h, w) in [(slots.hour, 1.0 - slots.frac), (slots.next_hour, slots.frac)] {
                let decay = decays.hour.powf(w);
                self.hour_num[h] = self.hour_num[h] * decay + w * count;
                self.hour_den[h] = self.hour_den[h] * decay + w * level * day;
            }
            let d = slots.day;
            self.day_num[d] = self.day_num[d] * decays.day + count;
            self.day_den[d] = self.day_den[d] * decays.day + level * hour;
        }
        self.level_num = self.level_num * decays.level + count;
        self.level_den = self.level_den * decays.level + hour * day;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_interpolate_between_hour_centres() {
        let s = Slots::of(30 * 60); // 00:30, the centre of slot 0
        assert_eq!((s.hour, s.next_hour), (0, 1));
        assert!(s.frac.abs() < 1e-12);
        let s = Slots::of(-15 * 60); // 23:45 the day before
        assert_eq!((s.hour, s.next_hour), (23, 0));
        assert!((s.frac - 0.75).abs() < 1e-12);
    }

    #[test]
    fn learns_a_daily_profile() {
        let decays = Decays::new(300, 86_400);
        let mut b = Baseline::default();
        let rate = |t: i64| if (t.rem_euclid(86_400)) < 43_200 { 10.0 } else { 30.0 };
        for i in 0..(14 * 288) {
            let t = i * 300;
            b.learn(t, rate(t), decays);
        }
        let morning = b.expected(6 * 3600).unwrap_or(0.0);
        let evening = b.expected(18 * 3600).unwrap_or(0.0);
        assert!((morning - 10.0).abs() < 1.0 && (evening - 30.0).abs() < 2.0, "{morning} {evening}");
    }
}

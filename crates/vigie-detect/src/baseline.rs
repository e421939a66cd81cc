//! The expected count of a bucket: a level × a time-of-day factor × a
//! day-of-week factor, all learned online as ratios of exponentially weighted
//! sums (the Poisson maximum-likelihood estimate of a rate), so that sparse
//! and large series are handled by the same formulas.
//!
//! - level: Σ clipped counts / Σ seasonal factors, half-life configurable
//!   (default two days);
//! - time of day: 48 half-hour slots, interpolated linearly between slot
//!   centres, one profile for weekdays and one for weekends (a working day
//!   and a Sunday do not have the same shape). Each slot is Σ counts / Σ
//!   counts the level predicted there, with a prior worth [`PRIOR_COUNTS`]
//!   mentions pulling it towards the profile of both day types together,
//!   itself pulled towards flat: a brand with three mentions a day keeps a
//!   flat profile until its data say otherwise, and the weekend profile
//!   borrows the weekdays' shape until it has data of its own;
//! - day of week: 7 slots, the same way, with a longer memory.
//!
//! Counts fed to the baseline are clipped by the caller (a surge must not
//! become the new normal within hours); the factors are normalised to mean 1
//! when used, so the level carries the scale. Days are UTC days.

use serde::{Deserialize, Serialize};

/// Weight of the prior that pulls a seasonal factor towards its parent, in mentions.
pub(crate) const PRIOR_COUNTS: f64 = 10.0;
/// Half-life of the time-of-day profiles, in days.
const PROFILE_HALF_LIFE_DAYS: f64 = 7.0;
/// Half-life of the day-of-week profile, in weeks.
const DAY_HALF_LIFE_WEEKS: f64 = 4.0;
/// Slots of the time-of-day profiles.
const SLOTS: usize = 48;
const SLOT_SECS: f64 = 86_400.0 / SLOTS as f64;

const SECS_PER_DAY: i64 = 86_400;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Baseline {
    level_num: f64,
    level_den: f64,
    /// Weekday slots then weekend slots (2 × [`SLOTS`]).
    slot_num: Vec<f64>,
    slot_den: Vec<f64>,
    day_num: [f64; 7],
    day_den: [f64; 7],
}

/// Where a time falls in the seasonal profiles.
#[derive(Clone, Copy, Debug)]
struct Slots {
    slot: usize,
    next_slot: usize,
    /// Weight of `next_slot` (linear interpolation between slot centres).
    frac: f64,
    day: usize,
    /// 0 on weekdays, 1 on Saturdays and Sundays.
    kind: usize,
}

impl Slots {
    fn of(at_secs: i64) -> Slots {
        let secs_of_day = at_secs.rem_euclid(SECS_PER_DAY) as f64;
        let position = secs_of_day / SLOT_SECS - 0.5;
        let floor = position.floor();
        let slot = (floor as i64).rem_euclid(SLOTS as i64) as usize;
        // Days since 1970-01-01, a Thursday: 2 is a Saturday, 3 a Sunday.
        let day = at_secs.div_euclid(SECS_PER_DAY).rem_euclid(7) as usize;
        let kind = usize::from(day == 2 || day == 3);
        Slots { slot, next_slot: (slot + 1) % SLOTS, frac: position - floor, day, kind }
    }
}

/// Decay factors derived from the bucket length (not stored: recomputed from the config).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Decays {
    level: f64,
    slot: f64,
    day: f64,
}

impl Decays {
    pub(crate) fn new(bucket_secs: u32, level_half_life_secs: u32) -> Decays {
        let bucket = f64::from(bucket_secs.max(1));
        let half = |buckets: f64| 0.5f64.powf(1.0 / buckets.max(1.0));
        Decays {
            level: half(f64::from(level_half_life_secs) / bucket),
            // Each slot receives SLOT_SECS / bucket units of weight a day.
            slot: half(PROFILE_HALF_LIFE_DAYS * SLOT_SECS / bucket),
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
            slot_num: vec![0.0; 2 * SLOTS],
            slot_den: vec![0.0; 2 * SLOTS],
            day_num: [0.0; 7],
            day_den: [0.0; 7],
        }
    }
}

fn ratio(num: f64, den: f64, prior: f64) -> f64 {
    (num + PRIOR_COUNTS * prior) / (den + PRIOR_COUNTS)
}

impl Baseline {
    fn level(&self) -> Option<f64> {
        (self.level_den > 0.0).then(|| self.level_num / self.level_den)
    }

    fn sums(&self, kind: usize, slot: usize) -> (f64, f64) {
        let i = kind * SLOTS + slot;
        (self.slot_num.get(i).copied().unwrap_or(0.0), self.slot_den.get(i).copied().unwrap_or(0.0))
    }

    /// The unnormalised factor of a slot for a kind of day.
    fn slot_ratio(&self, kind: usize, slot: usize) -> f64 {
        let (n0, d0) = self.sums(0, slot);
        let (n1, d1) = self.sums(1, slot);
        let pooled = ratio(n0 + n1, d0 + d1, 1.0);
        let (n, d) = self.sums(kind, slot);
        ratio(n, d, pooled)
    }

    fn time_factor(&self, slots: Slots) -> f64 {
        let r = |s: usize| self.slot_ratio(slots.kind, s);
        let mean = (0..SLOTS).map(r).sum::<f64>() / SLOTS as f64;
        ((1.0 - slots.frac) * r(slots.slot) + slots.frac * r(slots.next_slot)) / mean
    }

    fn day_factor(&self, slots: Slots) -> f64 {
        let r = |d: usize| ratio(self.day_num[d], self.day_den[d], 1.0);
        let mean = (0..7).map(r).sum::<f64>() / 7.0;
        r(slots.day) / mean
    }

    /// What the baseline expects of the bucket starting at `at_secs`.
    pub(crate) fn predict(&self, at_secs: i64) -> Prediction {
        let slots = Slots::of(at_secs);
        let (time, day) = (self.time_factor(slots), self.day_factor(slots));
        Prediction { slots, time, day, expected: self.level().map(|level| level * time * day) }
    }

    /// The expected count of the bucket starting at `at_secs`, once anything was learned.
    #[cfg(test)]
    pub(crate) fn expected(&self, at_secs: i64) -> Option<f64> {
        self.predict(at_secs).expected
    }

    /// Learns from the (already clipped) count of the bucket `prediction` was made for.
    pub(crate) fn learn(&mut self, prediction: &Prediction, count: f64, decays: Decays) {
        let Prediction { slots, time, day, .. } = *prediction;
        if let Some(level) = self.level() {
            for (s, w) in [(slots.slot, 1.0 - slots.frac), (slots.next_slot, slots.frac)] {
                let decay = if w >= 1.0 { decays.slot } else { decays.slot.powf(w) };
                let i = slots.kind * SLOTS + s;
                if let (Some(num), Some(den)) = (self.slot_num.get_mut(i), self.slot_den.get_mut(i)) {
                    *num = *num * decay + w * count;
                    *den = *den * decay + w * level * day;
                }
            }
            let d = slots.day;
            self.day_num[d] = self.day_num[d] * decays.day + count;
            self.day_den[d] = self.day_den[d] * decays.day + level * time;
        }
        self.level_num = self.level_num * decays.level + count;
        self.level_den = self.level_den * decays.level + time * day;
    }
}

/// A bucket's place in the profiles, its factors and its expected count.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Prediction {
    slots: Slots,
    time: f64,
    day: f64,
    pub(crate) expected: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_interpolate_between_slot_centres() {
        let s = Slots::of(15 * 60); // 00:15, the centre of slot 0
        assert_eq!((s.slot, s.next_slot), (0, 1));
        assert!(s.frac.abs() < 1e-12);
        let s = Slots::of(-15 * 60 + 7 * 60 + 30); // 23:52:30 the day before (a Wednesday)
        assert_eq!((s.slot, s.next_slot, s.kind), (47, 0, 0));
        assert!((s.frac - 0.25).abs() < 1e-12);
        assert_eq!(Slots::of(2 * 86_400 + 60).kind, 1); // 1970-01-03, a Saturday
    }

    #[test]
    fn learns_a_daily_profile_and_a_weekend_shape() {
        let decays = Decays::new(300, 2 * 86_400);
        let mut b = Baseline::default();
        // Weekdays: 10 in the morning, 30 in the afternoon; weekends: a flat 10.
        let rate = |t: i64| {
            let weekend = matches!(t.div_euclid(86_400).rem_euclid(7), 2 | 3);
            if weekend || t.rem_euclid(86_400) < 43_200 { 10.0 } else { 30.0 }
        };
        for i in 0..(28 * 288) {
            let t = i * 300;
            let p = b.predict(t);
            b.learn(&p, rate(t), decays);
        }
        let monday = 4 * 86_400 + 28 * 86_400;
        let saturday = 2 * 86_400 + 28 * 86_400;
        for (t, want) in [(monday + 6 * 3600, 10.0), (monday + 18 * 3600, 30.0), (saturday + 18 * 3600, 10.0)] {
            let got = b.expected(t).unwrap_or(0.0);
            assert!((got - want).abs() < 0.1 * want, "at {t}: {got} vs {want}");
        }
    }
}

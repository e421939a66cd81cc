//! Seeded synthetic mention-count series with known surges: what the
//! detector's defaults were chosen on (`examples/detect_tune.rs`) and what its tests
//! use. Pure and deterministic: the same seed gives the same series.
//!
//! A series is 5-minute counts drawn from a negative binomial (gamma-Poisson)
//! around a rate made of:
//! - a mean level from 0.02 to 150 mentions per bucket (log-uniform: from a
//!   brand with a few mentions a day to a large one);
//! - a daily profile (two harmonics, random phase and depth), flatter and
//!   quieter weekends, and for half the series working hours on weekdays (a
//!   step up at opening, down at closing);
//! - a slow mean-reverting drift (days) and fast correlated fluctuations (an hour);
//! - nuisances that are *not* crises and carry no label: single-bucket bursts
//!   (a thread posted at once), short bursts (2–5× for 10 to 30 minutes: a bot
//!   run) and mild waves (at most 2× for at most two hours);
//! - for a *bursty* series ([`Spec::bursty`]), ordinary events (1.3–2.5× for
//!   hours, from a few a month to one or two a day) and heavy-tailed (Student
//!   t) fluctuations: social volumes are bursty at every scale, and only the
//!   rare large surges are crises;
//! - crises, labelled at their onset: a rise over 0–2 hours to 2.5–15× the
//!   usual volume, then an exponential decay with a half-life of 1–12 hours.

/// A small, fast, seedable generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x853c_49e6_748f_ea9b)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.uniform()
    }

    pub fn log_range(&mut self, low: f64, high: f64) -> f64 {
        self.range(low.ln(), high.ln()).exp()
    }

    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Gamma(shape, 1) (Marsaglia and Tsang).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            return self.gamma(shape + 1.0) * self.uniform().max(1e-300).powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform().max(1e-300);
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    pub fn poisson(&mut self, mean: f64) -> f64 {
        if mean <= 0.0 {
            0.0
        } else if mean < 30.0 {
            let limit = (-mean).exp();
            let mut k = 0.0;
            let mut p = self.uniform();
            while p > limit {
                k += 1.0;
                p *= self.uniform();
            }
            k
        } else {
            (mean + mean.sqrt() * self.normal()).round().max(0.0)
        }
    }

    /// Student's t with `dof` degrees of freedom, scaled to unit variance.
    pub fn student(&mut self, dof: f64) -> f64 {
        let chi2 = 2.0 * self.gamma(dof / 2.0);
        self.normal() / (chi2 / dof).max(1e-12).sqrt() * ((dof - 2.0) / dof).max(0.0).sqrt()
    }

    /// Negative binomial with this mean and dispersion (variance `μ + φμ²`).
    pub fn negative_binomial(&mut self, mean: f64, dispersion: f64) -> f64 {
        if dispersion <= 0.0 {
            return self.poisson(mean);
        }
        let shape = 1.0 / dispersion;
        let gamma = self.gamma(shape);
        self.poisson(mean * gamma / shape)
    }
}

/// A generated series.
#[derive(Clone, Debug)]
pub struct Series {
    /// Unix time of the first bucket.
    pub start: i64,
    pub bucket_secs: i64,
    pub values: Vec<f64>,
    /// Rows where a crisis starts (the labels).
    pub onsets: Vec<usize>,
    /// The mean level (mentions per bucket).
    pub level: f64,
    /// Rows where a nuisance starts (a short burst or a mild wave: no label).
    pub nuisances: Vec<usize>,
}

/// The knobs of a generated series.
#[derive(Clone, Debug)]
pub struct Spec {
    pub rows: usize,
    /// Mean mentions per bucket; drawn log-uniformly in 0.02..150 when `None`.
    pub level: Option<f64>,
    /// Number of crises; 2..=5 when `None`.
    pub crises: Option<usize>,
    /// Nuisances (bot bursts and mild waves) at their usual rate.
    pub nuisances: bool,
    /// A bursty series: ordinary events (1.3–2.5× for hours, from a few a
    /// month to one or two a day, no label) and heavy-tailed fluctuations.
    pub bursty: bool,
}

impl Default for Spec {
    fn default() -> Self {
        // About 55 days of 5-minute buckets, like NAB's tweet files.
        Spec { rows: 16_000, level: None, crises: None, nuisances: true, bursty: false }
    }
}

const DAY: f64 = 288.0;

/// Generates one series.
pub fn generate(seed: u64, spec: &Spec) -> Series {
    let mut rng = Rng::new(seed);
    let rows = spec.rows;
    let level = spec.level.unwrap_or_else(|| rng.log_range(0.02, 150.0));
    let dispersion = rng.range(0.0, 0.2);
    let (a1, p1) = (rng.range(0.2, 0.9), rng.uniform());
    let (a2, p2) = (rng.range(0.0, 0.3), rng.uniform());
    let weekend = rng.range(0.5, 1.0);
    // Weekends have a flatter day; half the series follow working hours on
    // weekdays (a step up at opening, down at closing: markets, offices).
    let weekend_shape = rng.range(0.3, 1.0);
    let office = (rng.uniform() < 0.5).then(|| {
        let open = rng.range(6.0, 15.0) * 3600.0;
        (open, open + rng.range(6.5, 9.0) * 3600.0, rng.range(1.5, 3.0))
    });
    let slow_sd = rng.range(0.05, 0.3);
    let fast_sd = rng.range(0.05, 0.25);
    let slow_keep = (-1.0 / (3.0 * DAY)).exp();
    let fast_keep = (-1.0 / 12.0f64).exp();
    // Start on a random 5-minute boundary in 2015.
    let start = 1_420_070_400 + 300 * (rng.uniform() * 100_000.0) as i64;

    // Crises: after the probationary period, at least a window apart.
    let crises = spec.crises.unwrap_or_else(|| 2 + (rng.uniform() * 4.0) as usize);
    let mut onsets: Vec<usize> = Vec::new();
    let gap = if crises > 0 { (0.10 * rows as f64 / crises as f64) as usize + 1 } else { rows };
    let probation = crate::nab::probation_length(rows);
    let mut tries = 0;
    while onsets.len() < crises && tries < 10_000 {
        tries += 1;
        let at = probation + gap / 2 + (rng.uniform() * (rows - probation - gap) as f64) as usize;
        if onsets.iter().all(|&o| o.abs_diff(at) > gap) {
            onsets.push(at);
        }
    }
    onsets.sort_unstable();
    let mut multiplier = vec![1.0f64; rows];
    for &onset in &onsets {
        let rise = rng.range(0.0, 24.0);
        let peak = rng.log_range(2.5, 15.0);
        let half_life = rng.log_range(12.0, 144.0);
        for (i, m) in multiplier.iter_mut().enumerate().skip(onset) {
            let t = (i - onset) as f64;
            let extra = if t < rise { (t + 1.0) / (rise + 1.0) } else { 0.5f64.powf((t - rise) / half_life) };
            if extra < 0.01 {
                break;
            }
            *m += (peak - 1.0) * extra;
        }
    }
    let mut bursts = vec![0.0f64; rows];
    let mut nuisances = Vec::new();
    let tail_dof = if spec.bursty { rng.log_range(2.5, 30.0) } else { f64::INFINITY };
    if spec.bursty {
        let per_day = rng.log_range(0.05, 1.5);
        for _ in 0..rng.poisson(per_day * rows as f64 / DAY) as usize {
            let at = (rng.uniform() * rows as f64) as usize;
            let rise = rng.range(0.0, 12.0);
            let peak = rng.log_range(1.3, 2.5);
            let half_life = rng.log_range(6.0, 72.0);
            nuisances.push(at);
            for (i, m) in multiplier.iter_mut().enumerate().skip(at) {
                let t = (i - at) as f64;
                let extra = if t < rise { (t + 1.0) / (rise + 1.0) } else { 0.5f64.powf((t - rise) / half_life) };
                if extra < 0.01 {
                    break;
                }
                *m += (peak - 1.0) * extra;
            }
        }
    }
    if spec.nuisances {
        // Mild waves, about one every two days.
        for _ in 0..(rows as f64 / (2.0 * DAY)) as usize {
            let at = (rng.uniform() * rows as f64) as usize;
            let peak = rng.range(1.2, 2.0);
            let length = rng.range(3.0, 24.0) as usize;
            nuisances.push(at);
            for (k, m) in multiplier.iter_mut().skip(at).take(length).enumerate() {
                *m *= 1.0 + (peak - 1.0) * (std::f64::consts::PI * (k as f64 + 0.5) / length as f64).sin();
            }
        }
        // Short bursts, about one every three days: 2–5× for 10 to 30 minutes (a bot run).
        for _ in 0..(rows as f64 / (3.0 * DAY)) as usize {
            let at = (rng.uniform() * rows as f64) as usize;
            let peak = rng.range(2.0, 5.0);
            let length = rng.range(2.0, 7.0) as usize;
            nuisances.push(at);
            for m in multiplier.iter_mut().skip(at).take(length) {
                *m *= peak;
            }
        }
        // Single-bucket bursts, about one a day: a few to many mentions at once.
        for _ in 0..(rows as f64 / DAY) as usize {
            let at = (rng.uniform() * rows as f64) as usize;
            bursts[at] += (rng.log_range(3.0, 30.0) * (1.0 + level)).round();
        }
    }

    let (mut slow, mut fast) = (slow_sd * rng.normal(), fast_sd * rng.normal());
    let mut values = Vec::with_capacity(rows);
    for i in 0..rows {
        let t = start + 300 * i as i64;
        let phase = t.rem_euclid(86_400) as f64 / 86_400.0;
        let weekday = t.div_euclid(86_400).rem_euclid(7);
        let is_weekend = weekday == 2 || weekday == 3; // 1970-01-03 was a Saturday
        let mut daily =
            a1 * (std::f64::consts::TAU * (phase - p1)).cos() + a2 * (2.0 * std::f64::consts::TAU * (phase - p2)).cos();
        if is_weekend {
            daily *= weekend_shape;
        } else if let Some((open, close, factor)) = office {
            let secs = phase * 86_400.0;
            if secs >= open && secs < close {
                daily += factor.ln();
            }
        }
        let week = if is_weekend { weekend } else { 1.0 };
        slow = slow * slow_keep + slow_sd * (1.0 - slow_keep * slow_keep).sqrt() * rng.normal();
        let shock = if tail_dof.is_finite() { rng.student(tail_dof) } else { rng.normal() };
        fast = fast * fast_keep + fast_sd * (1.0 - fast_keep * fast_keep).sqrt() * shock;
        let rate = level * (daily + slow + fast).exp() * week * multiplier[i];
        values.push(rng.negative_binomial(rate, dispersion) + bursts[i]);
    }
    nuisances.sort_unstable();
    Series { start, bucket_secs: 300, values, onsets, level, nuisances }
}

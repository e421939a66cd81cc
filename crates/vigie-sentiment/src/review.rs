//! The review scorer inside the fast model: a binary (negative/positive)
//! logistic regression over naive-Bayes-scaled hashed features (NB-LR, Wang &
//! Manning 2012), trained on the polar review datasets only, and mixed into
//! the fast model's logits with a length-dependent weight fitted on
//! out-of-fold predictions.
//!
//! Every hashed feature `i` of the fast model gets the log-count ratio
//! `r_i = ln((p_i / |p|) / (q_i / |q|))` of its counts in positive (`p`) and
//! negative (`q`) reviews (add-one smoothed); the logistic regression is
//! trained on `x_i = r_i` per occurrence. With so few reviews, the ratio is a
//! strong prior on which words matter, which plain logistic regression has to
//! learn from the data alone. At inference `r_i · w_i` is one weight per
//! hashed row (i8 with one scale), so the score costs a second lookup per
//! hashed feature.
//!
//! The fast model adds `½ · a · s` to the positive and `−½ · a · s` to the
//! negative logit, `s` the review score and `a = mix[0] + mix[1] · len`,
//! `len` the fast model's length feature, so the mix may trust the review
//! scorer more on long texts.

// Numeric kernels index several arrays by class: plain index loops read best.
#![allow(clippy::needless_range_loop)]

use serde::{Deserialize, Serialize};

use crate::features::{Feats, N_DENSE, d};
use crate::linear::{Row, SplitMix};

/// How the review scorer is trained (part of [`crate::TrainOptions`]).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ReviewOptions {
    /// The scorer's table has `2^bits` rows (hashed ids folded onto it; at
    /// most the fast model's own table size).
    pub bits: u8,
    /// Passes of AdaGrad-SGD over the review rows.
    pub epochs: u32,
    pub learning_rate: f32,
    /// L2 per update of a touched weight.
    pub l2: f32,
    /// Add-`alpha` smoothing of the counts.
    pub alpha: f32,
    /// Folds of the out-of-fold predictions the mix is fitted on.
    pub folds: u32,
    /// Fit the length-dependent part of the mix (`mix[1]`); off: one weight.
    pub length_mix: bool,
}

impl Default for ReviewOptions {
    fn default() -> Self {
        ReviewOptions {
            bits: 18,
            epochs: 10,
            learning_rate: 0.05,
            l2: 0.0,
            alpha: 1.0,
            folds: 3,
            length_mix: true,
        }
    }
}

/// The trained scorer and its mix weights.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Review {
    pub bits: u8,
    /// `r_i · w_i` of every hashed row, quantised: value = `q · scale`.
    pub q: Vec<i8>,
    pub scale: f32,
    pub bias: f32,
    /// `a = mix[0] + mix[1] · len`.
    pub mix: [f32; 2],
}

impl Review {
    #[inline]
    pub fn weight(&self, id: u32) -> f32 {
        let mask = (1usize << self.bits) - 1;
        self.q
            .get(id as usize & mask)
            .map_or(0.0, |q| f32::from(*q) * self.scale)
    }

    /// Review score (logit of positive vs negative) of extracted features.
    #[inline]
    pub fn score(&self, f: &Feats) -> f32 {
        let mask = (1usize << self.bits) - 1;
        let mut acc = 0i32;
        for &id in &f.ids {
            if let Some(q) = self.q.get(id as usize & mask) {
                acc += i32::from(*q);
            }
        }
        acc as f32 * self.scale + self.bias
    }

    /// Weight of the review score in the logits of a text.
    #[inline]
    pub fn mix_weight(&self, dense: &[f32; N_DENSE]) -> f32 {
        self.mix[0] + self.mix[1] * dense[d::LENGTH]
    }

    /// Adds the review term to raw logits `z` (before temperature).
    #[inline]
    pub fn apply(&self, f: &Feats, z: &mut [f32; 3]) {
        let a = self.mix_weight(&f.dense) * self.score(f);
        z[0] -= 0.5 * a;
        z[2] += 0.5 * a;
    }
}

/// Full-precision scorer (training form).
pub(crate) struct Scorer {
    bits: u8,
    v: Vec<f32>,
    bias: f32,
}

impl Scorer {
    pub fn quantise(&self, mix: [f32; 2]) -> Review {
        let mut mags: Vec<f32> = self
            .v
            .iter()
            .map(|x| x.abs())
            .filter(|x| *x > 0.0)
            .collect();
        let scale = if mags.is_empty() {
            1.0
        } else {
            let idx = (((mags.len() as f64) * 0.99999) as usize).min(mags.len() - 1);
            let (_, nth, _) = mags.select_nth_unstable_by(idx, f32::total_cmp);
            (*nth / 127.0).max(f32::MIN_POSITIVE)
        };
        Review {
            bits: self.bits,
            q: self
                .v
                .iter()
                .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
                .collect(),
            scale,
            bias: self.bias,
            mix,
        }
    }
}

/// Trains the scorer on polar rows (label 0 negative, 2 positive; others
/// are skipped). Deterministic.
pub(crate) fn train(rows: &[&Row], bits: u8, opts: &ReviewOptions, seed: u64) -> Scorer {
    let n = 1usize << bits;
    let mask = n - 1;
    let rows: Vec<&Row> = rows
        .iter()
        .copied()
        .filter(|r| r.label == 0 || r.label == 2)
        .collect();
    // log-count ratios
    let (mut p, mut q) = (vec![0.0f32; n], vec![0.0f32; n]);
    for r in &rows {
        let c = if r.label == 2 { &mut p } else { &mut q };
        for id in &r.ids {
            c[*id as usize & mask] += 1.0;
        }
    }
    let touched: Vec<bool> = p.iter().zip(&q).map(|(a, b)| a + b > 0.0).collect();
    let (sp, sq): (f64, f64) = p.iter().zip(&q).zip(&touched).filter(|(_, t)| **t).fold(
        (0.0, 0.0),
        |(a, b), ((x, y), _)| {
            (
                a + f64::from(*x + opts.alpha),
                b + f64::from(*y + opts.alpha),
            )
        },
    );
    let (sp, sq) = (sp.max(1e-9) as f32, sq.max(1e-9) as f32);
    let ratio: Vec<f32> = (0..n)
        .map(|i| {
            if touched[i] {
                ((p[i] + opts.alpha) / sp / ((q[i] + opts.alpha) / sq)).ln()
            } else {
                0.0
            }
        })
        .collect();
    drop((p, q));
    // logistic regression on x_i = r_i
    let mut w = vec![0.0f32; n];
    let mut g2 = vec![0.0f32; n];
    let (mut bias, mut g2b) = (0.0f32, 0.0f32);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = SplitMix(seed ^ 0x002E_71E3);
    let lr = opts.learning_rate;
    for _ in 0..opts.epochs {
        rng.shuffle(&mut order);
        for &ri in &order {
            let r = rows[ri];
            let z = bias
                + r.ids
                    .iter()
                    .map(|id| {
                        let i = *id as usize & mask;
                        w[i] * ratio[i]
                    })
                    .sum::<f32>();
            let y = if r.label == 2 { 1.0 } else { 0.0 };
            let g = (1.0 / (1.0 + (-z).exp()) - y) * r.weight;
            for id in &r.ids {
                let i = *id as usize & mask;
                let gi = g * ratio[i];
                g2[i] += gi * gi;
                w[i] -= lr / (g2[i].sqrt() + 1e-6) * (gi + opts.l2 * w[i]);
            }
            g2b += g * g;
            bias -= lr / (g2b.sqrt() + 1e-6) * g;
        }
    }
    if opts.epochs == 0 {
        // multinomial naive Bayes: the ratios themselves, the prior as bias
        let pos = rows.iter().filter(|r| r.label == 2).count() as f32;
        let neg = rows.len() as f32 - pos;
        return Scorer {
            bits,
            v: ratio,
            bias: ((pos + 1.0) / (neg + 1.0)).ln(),
        };
    }
    Scorer {
        bits,
        v: w.iter().zip(&ratio).map(|(a, b)| a * b).collect(),
        bias,
    }
}

/// Fits the mix on out-of-fold `(fast logits, review score, length, label,
/// mask)` by gradient descent on the negative log-likelihood (the fast
/// logits are taken as they are: temperature is fitted afterwards).
pub(crate) fn fit_mix(items: &[([f32; 3], f32, f32, u8, u64)], length_mix: bool) -> [f32; 2] {
    if items.is_empty() {
        return [0.0, 0.0];
    }
    let mut m = [0.0f64; 2];
    let mut g2 = [1e-9f64; 2];
    let n = items.len() as f64;
    for _ in 0..400 {
        let mut grad = [0.0f64; 2];
        for (z, s, len, label, mask) in items {
            let a = m[0] + m[1] * f64::from(*len);
            let h = 0.5 * a * f64::from(*s);
            let mut zz = [f64::from(z[0]) - h, f64::from(z[1]), f64::from(z[2]) + h];
            // softmax over the allowed classes
            let max = (0..3)
                .filter(|c| mask & (1 << c) != 0)
                .map(|c| zz[c])
                .fold(f64::NEG_INFINITY, f64::max);
            let mut sum = 0.0;
            for c in 0..3 {
                zz[c] = if mask & (1 << c) != 0 {
                    (zz[c] - max).exp()
                } else {
                    0.0
                };
                sum += zz[c];
            }
            // d NLL / d h = (p_pos - y_pos) - (p_neg - y_neg)
            let y = |c: usize| f64::from(u8::from(usize::from(*label) == c));
            let dh = (zz[2] / sum - y(2)) - (zz[0] / sum - y(0));
            let da = dh * 0.5 * f64::from(*s);
            grad[0] += da;
            grad[1] += da * f64::from(*len);
        }
        for j in 0..2 {
            if j == 1 && !length_mix {
                continue;
            }
            let gj = grad[j] / n;
            g2[j] += gj * gj;
            m[j] -= 0.5 / g2[j].sqrt() * gj;
        }
    }
    [m[0] as f32, m[1] as f32]
}

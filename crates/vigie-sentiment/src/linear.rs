//! The multinomial logistic regression under every model of this crate:
//! hashed sparse weights (quantised to i8 once trained) plus dense weights,
//! trained with AdaGrad-SGD and L2 in a deterministic order.

// Numeric kernels index several arrays by class: plain index loops read best.
#![allow(clippy::needless_range_loop)]

use serde::{Deserialize, Serialize};

use crate::features::{Feats, FeatureOptions, N_DENSE};

/// Training settings. `Default` is what the shipped models use (chosen by
/// cross-validation inside the training parts, see MODEL_CARD.md).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TrainOptions {
    pub features: FeatureOptions,
    /// Passes over the data.
    pub epochs: u32,
    /// AdaGrad base learning rate.
    pub learning_rate: f32,
    /// L2 strength, per update of a touched weight (toward zero when
    /// training, toward the starting weights when fine-tuning).
    pub l2: f32,
    /// Shuffling seed: same data, same seed, same model.
    pub seed: u64,
    /// Folds used to fit the temperature on out-of-fold predictions (0 or 1:
    /// no calibration, temperature 1).
    pub calibration_folds: u32,
    /// Weight every class so that each counts as much in the loss
    /// (`n / (k · n_class)`); off, the loss follows the data's class mix.
    pub balance_classes: bool,
    /// Model id written in the file and in every verdict; `None` keeps the
    /// default (`fast-v1`, or the fine-tuned model's `<id>-ft`).
    pub model_id: Option<String>,
    /// Train a review scorer (NB-LR over the polar-only sets, see
    /// `review.rs`) and mix it into the logits; `None`: none. Only
    /// [`crate::train_sets`] uses it (a fine-tuned model keeps its own).
    #[serde(default)]
    pub review: Option<crate::review::ReviewOptions>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            features: FeatureOptions::default(),
            epochs: 6,
            learning_rate: 0.2,
            l2: 1e-4,
            seed: 0x5EED,
            calibration_folds: 3,
            balance_classes: false,
            model_id: None,
            review: None,
        }
    }
}

impl TrainOptions {
    /// Settings for [`crate::FastModel::fine_tune`]: a few passes, pulled
    /// firmly toward the starting weights.
    pub fn fine_tune() -> Self {
        TrainOptions {
            epochs: 8,
            learning_rate: 0.1,
            l2: 1e-3,
            calibration_folds: 0,
            review: None,
            ..TrainOptions::default()
        }
    }
}

/// One training row, features already extracted.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub ids: Vec<u32>,
    pub value: f32,
    pub dense: [f32; N_DENSE],
    pub label: u8,
    /// Bit c set: class c is possible (binary review datasets mask neutral).
    pub mask: u64,
    pub weight: f32,
    /// Fixed addition to `logit(positive) − logit(negative)` (half to each;
    /// three-class models only): the review scorer's term when fine-tuning a
    /// model that has one, 0 otherwise.
    pub offset: f32,
}

impl Row {
    pub fn from_feats(f: &Feats, label: u8, mask: u64, weight: f32) -> Row {
        Row {
            ids: f.ids.clone(),
            value: f.value,
            dense: f.dense,
            label,
            mask,
            weight,
            offset: 0.0,
        }
    }
}

/// Adds `offset` to `logit(positive) − logit(negative)` of a three-class row.
#[inline]
fn add_offset(z: &mut [f32], offset: f32) {
    if offset != 0.0 && z.len() == 3 {
        z[0] -= 0.5 * offset;
        z[2] += 0.5 * offset;
    }
}

/// Full-precision weights (training form).
#[derive(Clone, Debug)]
pub(crate) struct Weights {
    pub k: usize,
    pub bits: u8,
    /// `2^bits * k`, row-major by bucket.
    pub w: Vec<f32>,
    pub dense: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Weights {
    pub fn zeros(k: usize, bits: u8) -> Weights {
        Weights {
            k,
            bits,
            w: vec![0.0; (1usize << bits) * k],
            dense: vec![0.0; N_DENSE * k],
            bias: vec![0.0; k],
        }
    }

    fn logits(&self, ids: &[u32], value: f32, dense: &[f32; N_DENSE], out: &mut [f32]) {
        let k = self.k;
        out[..k].copy_from_slice(&self.bias);
        for &id in ids {
            let row = &self.w[id as usize * k..id as usize * k + k];
            for c in 0..k {
                out[c] += row[c] * value;
            }
        }
        for (j, x) in dense.iter().enumerate() {
            if *x != 0.0 {
                for c in 0..k {
                    out[c] += self.dense[j * k + c] * x;
                }
            }
        }
    }

    /// Logits of a training row (for calibration).
    pub fn row_logits(&self, r: &Row) -> Vec<f32> {
        let mut out = vec![0.0; self.k];
        self.logits(&r.ids, r.value, &r.dense, &mut out);
        add_offset(&mut out, r.offset);
        out
    }
}

/// Quantised weights (shipped form): i8 per hashed weight with a per-class scale.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Quantised {
    pub k: usize,
    pub bits: u8,
    pub q: Vec<i8>,
    pub scale: Vec<f32>,
    pub dense: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Quantised {
    pub fn from_weights(w: &Weights) -> Quantised {
        let k = w.k;
        let mut scale = vec![0.0f32; k];
        for (c, s) in scale.iter_mut().enumerate() {
            // The 99.999th percentile of |w| maps to 127: a few outliers do
            // not flatten every other weight to zero.
            let mut mags: Vec<f32> =
                w.w.iter()
                    .skip(c)
                    .step_by(k)
                    .map(|x| x.abs())
                    .filter(|x| *x > 0.0)
                    .collect();
            if mags.is_empty() {
                *s = 1.0;
                continue;
            }
            let idx = ((mags.len() as f64) * 0.99999) as usize;
            let idx = idx.min(mags.len() - 1);
            let (_, nth, _) = mags.select_nth_unstable_by(idx, f32::total_cmp);
            *s = (*nth / 127.0).max(f32::MIN_POSITIVE);
        }
        let q =
            w.w.iter()
                .enumerate()
                .map(|(i, x)| (x / scale[i % k]).round().clamp(-127.0, 127.0) as i8)
                .collect();
        Quantised {
            k,
            bits: w.bits,
            q,
            scale,
            dense: w.dense.clone(),
            bias: w.bias.clone(),
        }
    }

    pub fn to_weights(&self) -> Weights {
        let k = self.k;
        Weights {
            k,
            bits: self.bits,
            w: self
                .q
                .iter()
                .enumerate()
                .map(|(i, q)| f32::from(*q) * self.scale[i % k])
                .collect(),
            dense: self.dense.clone(),
            bias: self.bias.clone(),
        }
    }

    /// Raw logits (before temperature). `out.len() >= k`.
    #[inline]
    pub fn logits(&self, f: &Feats, out: &mut [f32]) {
        let k = self.k;
        if k == 3 {
            // the sentiment model: integer sums, one scale at the end
            let (mut a, mut b, mut c) = (0i32, 0i32, 0i32);
            for &id in &f.ids {
                let i = id as usize * 3;
                if let Some(row) = self.q.get(i..i + 3) {
                    a += i32::from(row[0]);
                    b += i32::from(row[1]);
                    c += i32::from(row[2]);
                }
            }
            out[0] = a as f32 * self.scale[0] * f.value + self.bias[0];
            out[1] = b as f32 * self.scale[1] * f.value + self.bias[1];
            out[2] = c as f32 * self.scale[2] * f.value + self.bias[2];
        } else {
            let mut acc = vec![0i32; k];
            for &id in &f.ids {
                let i = id as usize * k;
                if let Some(row) = self.q.get(i..i + k) {
                    for c in 0..k {
                        acc[c] += i32::from(row[c]);
                    }
                }
            }
            for c in 0..k {
                out[c] = acc[c] as f32 * self.scale[c] * f.value + self.bias[c];
            }
        }
        for (j, x) in f.dense.iter().enumerate() {
            if *x != 0.0 {
                for c in 0..k {
                    out[c] += self.dense[j * k + c] * x;
                }
            }
        }
    }

    /// Weight of hashed feature `id` for class `c` (dequantised, times the
    /// feature value of the text).
    #[inline]
    pub fn hashed(&self, id: u32, c: usize) -> f32 {
        self.q
            .get(id as usize * self.k + c)
            .map_or(0.0, |q| f32::from(*q) * self.scale[c])
    }
}

/// Deterministic generator (SplitMix64) for shuffling.
pub(crate) struct SplitMix(pub u64);
impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Softmax over the classes allowed by `mask`, in place.
pub(crate) fn softmax_masked(z: &mut [f32], mask: u64) {
    let mut max = f32::NEG_INFINITY;
    for (c, v) in z.iter().enumerate() {
        if c < 64 && mask & (1u64 << c) != 0 && *v > max {
            max = *v;
        }
    }
    let mut sum = 0.0;
    for (c, v) in z.iter_mut().enumerate() {
        if c < 64 && mask & (1u64 << c) != 0 {
            *v = (*v - max).exp();
            sum += *v;
        } else {
            *v = 0.0;
        }
    }
    if sum > 0.0 && sum.is_finite() {
        for v in z.iter_mut() {
            *v /= sum;
        }
    }
}

/// Train (or continue training `init`, regularised toward it).
pub(crate) fn train(
    rows: &[Row],
    k: usize,
    bits: u8,
    opts: &TrainOptions,
    init: Option<&Weights>,
) -> Weights {
    let mut w = init.cloned().unwrap_or_else(|| Weights::zeros(k, bits));
    let anchor = init.cloned();
    let nb = 1usize << bits;
    let mut g2 = vec![0.0f32; nb];
    let mut g2_dense = vec![0.0f32; N_DENSE * k + k];
    let mut class_w = vec![1.0f32; k];
    if opts.balance_classes && !rows.is_empty() {
        let mut counts = vec![0usize; k];
        for r in rows {
            counts[r.label as usize] += 1;
        }
        let present = counts.iter().filter(|c| **c > 0).count().max(1);
        for c in 0..k {
            if counts[c] > 0 {
                class_w[c] = rows.len() as f32 / (present as f32 * counts[c] as f32);
            }
        }
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = SplitMix(opts.seed);
    let lr = opts.learning_rate;
    let l2 = opts.l2;
    let mut z = vec![0.0f32; k];
    let mut g = vec![0.0f32; k];
    for _epoch in 0..opts.epochs {
        rng.shuffle(&mut order);
        for &ri in &order {
            let r = &rows[ri];
            w.logits(&r.ids, r.value, &r.dense, &mut z);
            add_offset(&mut z, r.offset);
            softmax_masked(&mut z, r.mask);
            let scale = r.weight * class_w[r.label as usize];
            for c in 0..k {
                let y = if c == r.label as usize { 1.0 } else { 0.0 };
                g[c] = (z[c] - y) * scale;
            }
            // sparse rows
            let gg: f32 = g.iter().map(|x| x * x).sum::<f32>() * r.value * r.value;
            for &id in &r.ids {
                let b = id as usize;
                g2[b] += gg;
                let step = lr / (g2[b].sqrt() + 1e-6);
                let row = &mut w.w[b * k..b * k + k];
                for c in 0..k {
                    let a = anchor.as_ref().map_or(0.0, |a| a.w[b * k + c]);
                    row[c] -= step * (g[c] * r.value + l2 * (row[c] - a));
                }
            }
            // dense weights and bias
            for (j, x) in r.dense.iter().enumerate() {
                if *x == 0.0 {
                    continue;
                }
                for c in 0..k {
                    let i = j * k + c;
                    let gi = g[c] * x;
                    g2_dense[i] += gi * gi;
                    let a = anchor.as_ref().map_or(0.0, |a| a.dense[i]);
                    w.dense[i] -= lr / (g2_dense[i].sqrt() + 1e-6) * (gi + l2 * (w.dense[i] - a));
                }
            }
            for c in 0..k {
                let i = N_DENSE * k + c;
                g2_dense[i] += g[c] * g[c];
                w.bias[c] -= lr / (g2_dense[i].sqrt() + 1e-6) * g[c];
            }
        }
    }
    w
}

/// Fit a temperature T (probabilities = softmax(z / T)) minimising the
/// negative log-likelihood of `(logits, label, mask)`; golden-section search
/// over log T in [ln 0.1, ln 10].
pub(crate) fn fit_temperature(items: &[(Vec<f32>, u8, u64)]) -> f32 {
    if items.is_empty() {
        return 1.0;
    }
    let nll = |t: f32| -> f64 {
        let mut total = 0.0f64;
        let mut z = Vec::new();
        for (logits, label, mask) in items {
            z.clear();
            z.extend(logits.iter().map(|x| x / t));
            softmax_masked(&mut z, *mask);
            total -= f64::from(z[*label as usize].max(1e-12)).ln();
        }
        total
    };
    let (mut a, mut b) = (0.1f32.ln(), 10.0f32.ln());
    let phi = 0.618_034f32;
    let mut c = b - phi * (b - a);
    let mut dd = a + phi * (b - a);
    let (mut fc, mut fd) = (nll(c.exp()), nll(dd.exp()));
    for _ in 0..40 {
        if fc < fd {
            b = dd;
            dd = c;
            fd = fc;
            c = b - phi * (b - a);
            fc = nll(c.exp());
        } else {
            a = c;
            c = dd;
            fc = fd;
            dd = a + phi * (b - a);
            fd = nll(dd.exp());
        }
    }
    ((a + b) / 2.0).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_recovers_overconfidence() {
        // logits 4x too large for the observed error rate
        let mut items = Vec::new();
        for i in 0..400 {
            let right = i % 4 != 0; // 75% right
            let label = if right { 0 } else { 1 };
            items.push((vec![4.0 * 1.1, 0.0, -10.0], label, 0b011));
        }
        let t = fit_temperature(&items);
        // p(0) = sigmoid(4.4 / T) = 0.75 → T = 4.4 / ln 3 ≈ 4.0
        assert!((t - 4.0).abs() < 0.1, "{t}");
    }

    #[test]
    fn quantisation_round_trip_is_close() {
        let mut w = Weights::zeros(3, 12);
        for (i, x) in w.w.iter_mut().enumerate() {
            *x = ((i * 7919) % 201) as f32 / 100.0 - 1.0;
        }
        let q = Quantised::from_weights(&w);
        let back = q.to_weights();
        let max_err =
            w.w.iter()
                .zip(&back.w)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
        assert!(max_err < 0.01, "{max_err}");
    }
}

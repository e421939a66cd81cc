//! The encoder head: a multinomial logistic regression over a sentence
//! embedding (multilingual-e5-small, 384 floats, L2-normalised; computed by
//! the caller) stacked with the fast model's log-probabilities.
//!
//! Stacking rule: the fast-model probabilities the head is trained on must be
//! **out-of-fold** — each training row scored by a fast model that did not see
//! it ([`oof_fast_probabilities`]). Trained on in-sample probabilities, the
//! head would learn to trust the fast model far more than it deserves on new
//! text.

// Numeric kernels index several arrays by class: plain index loops read best.
#![allow(clippy::needless_range_loop)]

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::codec::{self, Kind, Reader, Writer};
use crate::fast::{FastModel, TrainSet, fold_assignment, verdict_from};
use crate::linear::{SplitMix, fit_temperature, softmax_masked};
use crate::{Contribution, Example, Label, ModelError, Verdict};

static HEAD_BYTES: &[u8] = include_bytes!("../model/encoder-head-v1.bin");

const HEAD_ID: &str = "encoder-v1";

/// Settings of the head's training.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HeadOptions {
    pub epochs: u32,
    pub learning_rate: f32,
    /// L2 strength on the weights (after standardisation of the inputs).
    pub l2: f32,
    pub seed: u64,
    /// Folds for the out-of-fold fast-model probabilities.
    pub stack_folds: u32,
    /// Folds for the temperature (0 or 1: none).
    pub calibration_folds: u32,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            epochs: 40,
            learning_rate: 0.05,
            l2: 1e-3,
            seed: 0xE5,
            stack_folds: 5,
            calibration_folds: 3,
        }
    }
}

/// Examples with their sentence embeddings (same order, same length).
#[derive(Clone, Copy, Debug)]
pub struct HeadSet<'a> {
    pub examples: &'a [Example],
    pub embeddings: &'a [Vec<f32>],
    pub polar_only: bool,
    pub weight: f32,
}

/// See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct EncoderHead {
    id: String,
    dim: usize,
    /// Per-input standardisation (embedding dims then the 3 fast log-probs).
    mean: Vec<f32>,
    inv_sd: Vec<f32>,
    /// `(dim + 3) * 3`, row-major by input.
    w: Vec<f32>,
    bias: [f32; 3],
    temperature: f32,
}

/// (embedding, fast probabilities, label, class mask, weight)
type RawRow<'a> = (&'a [f32], [f32; 3], Label, u64, f32);

/// One training row of the head for [`EncoderHead::train_stacked`].
#[derive(Clone, Copy, Debug)]
pub struct StackedRow<'a> {
    pub embedding: &'a [f32],
    /// The fast model's **out-of-fold** probabilities of the row's text.
    pub fast: [f32; 3],
    pub label: Label,
    /// Polar-only rows (binary reviews) take their loss over negative/positive.
    pub polar_only: bool,
    pub weight: f32,
}

struct HeadRow {
    x: Vec<f32>,
    label: u8,
    mask: u64,
    weight: f32,
}

fn fast_logs(p: &[f32; 3]) -> [f32; 3] {
    let f = |x: f32| {
        if x.is_finite() {
            x.clamp(1e-6, 1.0).ln()
        } else {
            (1.0f32 / 3.0).ln()
        }
    };
    [f(p[0]), f(p[1]), f(p[2])]
}

impl EncoderHead {
    /// The head shipped with this build, if one was trained
    /// (`model/encoder-head-v1.bin` is empty until `vigie train sentiment`
    /// writes it).
    pub fn shipped() -> Option<&'static EncoderHead> {
        static MODEL: OnceLock<Option<EncoderHead>> = OnceLock::new();
        MODEL
            .get_or_init(|| {
                if HEAD_BYTES.is_empty() {
                    None
                } else {
                    // Checked by this crate's tests when the file is present.
                    EncoderHead::from_bytes(HEAD_BYTES).ok()
                }
            })
            .as_ref()
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Embedding length the head was trained on.
    pub fn dim(&self) -> usize {
        self.dim
    }

    fn input(&self, embedding: &[f32], fast: &[f32; 3]) -> Vec<f32> {
        let mut x = Vec::with_capacity(self.dim + 3);
        if embedding.len() == self.dim {
            x.extend(
                embedding
                    .iter()
                    .map(|v| if v.is_finite() { *v } else { 0.0 }),
            );
        } else {
            // A wrong-sized embedding carries no information: the mean.
            x.extend_from_slice(&self.mean[..self.dim]);
        }
        x.extend_from_slice(&fast_logs(fast));
        for (i, v) in x.iter_mut().enumerate() {
            *v = (*v - self.mean[i]) * self.inv_sd[i];
        }
        x
    }

    fn logits(&self, x: &[f32]) -> [f32; 3] {
        let mut z = self.bias;
        for (i, v) in x.iter().enumerate() {
            for (c, zc) in z.iter_mut().enumerate() {
                *zc += self.w[i * 3 + c] * v;
            }
        }
        z
    }

    /// Calibrated `[P(neg), P(neu), P(pos)]` from an embedding and the fast
    /// model's probabilities ([`FastModel::probabilities`]).
    pub fn probabilities(&self, embedding: &[f32], fast: &[f32; 3]) -> [f32; 3] {
        let z = self.logits(&self.input(embedding, fast));
        crate::fast::softmax_t(&z, self.temperature)
    }

    /// The refined verdict. `fast` is the fast model's probabilities (not
    /// logs); `fast_verdict_explanation` its explanation, which is rescaled to
    /// the head's trust in the fast model and joined by a `"sentence encoder"`
    /// contribution (always kept in the at most six reasons). An embedding
    /// of the wrong length (see [`dim`](Self::dim)) is ignored.
    pub fn predict(
        &self,
        embedding: &[f32],
        fast: &[f32; 3],
        fast_verdict_explanation: Vec<Contribution>,
    ) -> Verdict {
        let x = self.input(embedding, fast);
        let z = self.logits(&x);
        let p = crate::fast::softmax_t(&z, self.temperature);
        // The encoder's share of the head's (pos − neg) log-odds.
        let enc: f32 = x
            .iter()
            .take(self.dim)
            .enumerate()
            .map(|(i, v)| (self.w[i * 3 + 2] - self.w[i * 3]) * v)
            .sum();
        let t = self.temperature;
        // The fast model's words keep the direction they pushed it in,
        // scaled by how much the head's log-odds move per unit of the fast
        // model's (pos − neg) log-odds. (Their share of this one verdict,
        // measured from the average training row, can have either sign: a
        // mildly negative fast verdict is "more positive than average".
        // Scaling the words by it turned "pas top" into a reason toward
        // positive for a negative verdict.)
        let trust = self.fast_trust();
        let mut why: Vec<Contribution> = fast_verdict_explanation
            .into_iter()
            .map(|c| Contribution {
                weight: c.weight * trust / t,
                feature: c.feature,
            })
            .filter(|c| c.weight.is_finite() && c.weight.abs() >= 1e-3)
            .collect();
        why.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
        why.truncate(crate::explain::MAX_REASONS - 1);
        why.push(Contribution {
            feature: "sentence encoder".into(),
            weight: if (enc / t).is_finite() { enc / t } else { 0.0 },
        });
        why.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
        verdict_from(p, &self.id, why)
    }

    /// How much the head's (pos − neg) logit moves when the fast model's
    /// log-probability of positive rises by one and of negative falls by
    /// one, per unit of the fast log-odds; never below 0 (a head that read
    /// the fast model backwards would not make its words point the other
    /// way) and at most 4.
    fn fast_trust(&self) -> f32 {
        let slope = |c: usize| {
            let i = self.dim + c;
            (self.w[i * 3 + 2] - self.w[i * 3]) * self.inv_sd[i]
        };
        let trust = (slope(2) - slope(0)) / 2.0;
        if trust.is_finite() {
            trust.clamp(0.0, 4.0)
        } else {
            0.0
        }
    }

    /// Train on `(embedding, fast-model probabilities, label)` rows. The fast
    /// probabilities must be out-of-fold (see the module docs). Deterministic.
    pub fn train(rows: &[(Vec<f32>, [f32; 3], Label)], opts: &HeadOptions) -> EncoderHead {
        let sets: Vec<RawRow<'_>> = rows
            .iter()
            .map(|(e, f, l)| (e.as_slice(), *f, *l, 0b111u64, 1.0f32))
            .collect();
        train_rows(&sets, opts)
    }

    /// [`train`](Self::train) with polar-only rows and per-row weights (what
    /// [`train_encoder_head`] does after computing the out-of-fold fast
    /// probabilities; `opts.stack_folds` is not used). Deterministic.
    pub fn train_stacked(rows: &[StackedRow<'_>], opts: &HeadOptions) -> EncoderHead {
        let raw: Vec<RawRow<'_>> = rows
            .iter()
            .map(|r| {
                let mask = if r.polar_only { 0b101 } else { 0b111 };
                (r.embedding, r.fast, r.label, mask, r.weight)
            })
            .collect();
        train_rows(&raw, opts)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.str(&self.id);
        w.u32(self.dim as u32);
        w.f32s(&self.mean);
        w.f32s(&self.inv_sd);
        w.f32s(&self.w);
        w.f32s(&self.bias);
        w.f32(self.temperature);
        codec::seal(Kind::Head, &w.0)
    }

    pub fn from_bytes(b: &[u8]) -> Result<EncoderHead, ModelError> {
        let payload = codec::open(b, Kind::Head)?;
        let mut r = Reader::new(payload);
        let id = r.str()?;
        let dim = r.u32()? as usize;
        if dim == 0 || dim > 16_384 {
            return Err(ModelError::Invalid(format!("embedding size {dim}")));
        }
        let mean = r.f32s(dim + 3)?;
        let inv_sd = r.f32s(dim + 3)?;
        let w = r.f32s((dim + 3) * 3)?;
        let bias = r.f32s(3)?;
        let temperature = r.f32()?;
        if temperature <= 0.0 {
            return Err(ModelError::Invalid("temperature must be positive".into()));
        }
        r.finish()?;
        Ok(EncoderHead {
            id,
            dim,
            mean,
            inv_sd,
            w,
            bias: [bias[0], bias[1], bias[2]],
            temperature,
        })
    }
}

fn fit(rows: &[HeadRow], d: usize, opts: &HeadOptions) -> (Vec<f32>, [f32; 3]) {
    let mut w = vec![0.0f32; d * 3];
    let mut b = [0.0f32; 3];
    let mut g2 = vec![0.0f32; d * 3];
    let mut g2b = [0.0f32; 3];
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = SplitMix(opts.seed);
    let lr = opts.learning_rate;
    for _ in 0..opts.epochs {
        rng.shuffle(&mut order);
        for &ri in &order {
            let r = &rows[ri];
            let mut z = b;
            for (i, v) in r.x.iter().enumerate() {
                for c in 0..3 {
                    z[c] += w[i * 3 + c] * v;
                }
            }
            softmax_masked(&mut z, r.mask);
            let mut g = [0.0f32; 3];
            for c in 0..3 {
                g[c] = (z[c] - if c == r.label as usize { 1.0 } else { 0.0 }) * r.weight;
            }
            for (i, v) in r.x.iter().enumerate() {
                for c in 0..3 {
                    let j = i * 3 + c;
                    let gj = g[c] * v + opts.l2 * w[j];
                    g2[j] += gj * gj;
                    w[j] -= lr * gj / (g2[j].sqrt() + 1e-6);
                }
            }
            for c in 0..3 {
                g2b[c] += g[c] * g[c];
                b[c] -= lr * g[c] / (g2b[c].sqrt() + 1e-6);
            }
        }
    }
    (w, b)
}

fn train_rows(rows: &[RawRow<'_>], opts: &HeadOptions) -> EncoderHead {
    let dim = rows.first().map_or(0, |r| r.0.len());
    let rows: Vec<&RawRow<'_>> = rows.iter().filter(|r| r.0.len() == dim).collect();
    let d = dim + 3;
    let raw: Vec<Vec<f32>> = rows
        .iter()
        .map(|r| {
            let mut x: Vec<f32> =
                r.0.iter()
                    .map(|v| if v.is_finite() { *v } else { 0.0 })
                    .collect();
            x.extend_from_slice(&fast_logs(&r.1));
            x
        })
        .collect();
    let n = raw.len().max(1) as f32;
    let mut mean = vec![0.0f32; d];
    for x in &raw {
        for (m, v) in mean.iter_mut().zip(x) {
            *m += v / n;
        }
    }
    let mut var = vec![0.0f32; d];
    for x in &raw {
        for i in 0..d {
            var[i] += (x[i] - mean[i]).powi(2) / n;
        }
    }
    let inv_sd: Vec<f32> = var.iter().map(|v| 1.0 / (v.sqrt() + 1e-4)).collect();
    let hrows: Vec<HeadRow> = raw
        .into_iter()
        .zip(&rows)
        .map(|(mut x, r)| {
            for i in 0..d {
                x[i] = (x[i] - mean[i]) * inv_sd[i];
            }
            HeadRow {
                x,
                label: r.2.index() as u8,
                mask: r.3,
                weight: r.4,
            }
        })
        .collect();
    // temperature from out-of-fold head predictions
    let folds = opts.calibration_folds as usize;
    let temperature = if folds >= 2 && hrows.len() >= 2 * folds {
        let fold = fold_assignment(hrows.len(), folds, opts.seed);
        let mut items = Vec::with_capacity(hrows.len());
        for k in 0..folds {
            let tr: Vec<HeadRow> = hrows
                .iter()
                .zip(&fold)
                .filter(|(_, f)| **f != k)
                .map(|(r, _)| HeadRow {
                    x: r.x.clone(),
                    label: r.label,
                    mask: r.mask,
                    weight: r.weight,
                })
                .collect();
            let (w, b) = fit(&tr, d, opts);
            for (r, _) in hrows.iter().zip(&fold).filter(|(_, f)| **f == k) {
                let mut z = b.to_vec();
                for (i, v) in r.x.iter().enumerate() {
                    for c in 0..3 {
                        z[c] += w[i * 3 + c] * v;
                    }
                }
                items.push((z, r.label, r.mask));
            }
        }
        fit_temperature(&items)
    } else {
        1.0
    };
    let (w, bias) = fit(&hrows, d, opts);
    EncoderHead {
        id: HEAD_ID.into(),
        dim,
        mean,
        inv_sd,
        w,
        bias,
        temperature,
    }
}

/// Out-of-fold fast-model probabilities of every example of `sets`: the
/// examples are split into `folds` folds (seeded), and each fold is scored by
/// a model `train_fast` trained on the other folds. Examples the fast model
/// cannot judge get `[1/3; 3]`. Result: one vector per set, in order.
pub fn oof_fast_probabilities(
    sets: &[TrainSet<'_>],
    folds: usize,
    seed: u64,
    train_fast: impl Fn(&[TrainSet<'_>]) -> FastModel,
) -> Vec<Vec<[f32; 3]>> {
    let folds = folds.max(2);
    let total: usize = sets.iter().map(|s| s.examples.len()).sum();
    let fold = fold_assignment(total, folds, seed);
    let mut out: Vec<Vec<[f32; 3]>> = sets
        .iter()
        .map(|s| vec![[1.0 / 3.0; 3]; s.examples.len()])
        .collect();
    for k in 0..folds {
        let mut owned: Vec<Vec<Example>> = Vec::with_capacity(sets.len());
        let mut gi = 0;
        for s in sets {
            let mut v = Vec::new();
            for e in s.examples {
                if fold[gi] != k {
                    v.push(e.clone());
                }
                gi += 1;
            }
            owned.push(v);
        }
        let train: Vec<TrainSet<'_>> = sets
            .iter()
            .zip(&owned)
            .map(|(s, v)| TrainSet {
                examples: v,
                polar_only: s.polar_only,
                weight: s.weight,
            })
            .collect();
        let model = train_fast(&train);
        let mut gi = 0;
        for (si, s) in sets.iter().enumerate() {
            for (ei, e) in s.examples.iter().enumerate() {
                if fold[gi] == k
                    && let Some(p) = model.probabilities(&e.text, &e.lang)
                {
                    out[si][ei] = p;
                }
                gi += 1;
            }
        }
    }
    out
}

/// Everything the `vigie train sentiment` command needs for the head:
/// out-of-fold fast probabilities (`opts.stack_folds` folds, each fold's fast
/// model made by `train_fast`), then the head trained on them and calibrated
/// on its own out-of-fold predictions. Rows whose embedding length differs
/// from the first row's are skipped.
pub fn train_encoder_head(
    sets: &[HeadSet<'_>],
    train_fast: impl Fn(&[TrainSet<'_>]) -> FastModel,
    opts: &HeadOptions,
) -> EncoderHead {
    let tsets: Vec<TrainSet<'_>> = sets
        .iter()
        .map(|s| TrainSet {
            examples: s.examples,
            polar_only: s.polar_only,
            weight: s.weight,
        })
        .collect();
    let oof = oof_fast_probabilities(&tsets, opts.stack_folds as usize, opts.seed, train_fast);
    let mut rows = Vec::new();
    for (s, probs) in sets.iter().zip(&oof) {
        let mask = if s.polar_only { 0b101 } else { 0b111 };
        for ((e, emb), p) in s.examples.iter().zip(s.embeddings).zip(probs) {
            rows.push((emb.as_slice(), *p, e.label, mask, s.weight));
        }
    }
    train_rows(&rows, opts)
}

//! The fast French/English sentiment model.

use std::cell::RefCell;
use std::sync::OnceLock;

use crate::codec::{self, Kind, Reader, Writer};
use crate::explain::{explain, with_rest};
use crate::features::{self, Feats, FeatureOptions, lang_of};
use crate::linear::{self, Quantised, Row, SplitMix, TrainOptions, Weights};
use crate::review::{self, Review};
use crate::{Example, Label, ModelError, Verdict};

/// The shipped model file (`model/fast-v1.bin`, written by
/// `examples/train.rs` or `vigie train sentiment`).
static SHIPPED_BYTES: &[u8] = include_bytes!("../model/fast-v1.bin");

/// Default id of a model trained from scratch.
pub(crate) const FAST_ID: &str = "fast-v1";

/// Direction of the score: positive minus negative.
const SCORE_DIR: [f32; 3] = [-1.0, 0.0, 1.0];

/// The fast sentiment model (see the crate docs).
#[derive(Clone, Debug, PartialEq)]
pub struct FastModel {
    id: String,
    features: FeatureOptions,
    weights: Quantised,
    temperature: f32,
    /// The review scorer mixed into the logits (`review.rs`), if trained.
    review: Option<Review>,
}

/// A group of training examples that share a labelling scheme.
#[derive(Clone, Copy, Debug)]
pub struct TrainSet<'a> {
    pub examples: &'a [Example],
    /// The labels are polar only (binary review datasets): the loss is taken
    /// over negative/positive, so these rows say nothing about neutral.
    pub polar_only: bool,
    /// Weight of each row in the loss.
    pub weight: f32,
}

thread_local! {
    static SCRATCH: RefCell<Feats> = RefCell::new(Feats::default());
}

/// Run `f` with this thread's reusable feature buffers.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Feats) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut feats) => f(&mut feats),
        Err(_) => f(&mut Feats::default()),
    })
}

pub(crate) fn softmax_t(z: &[f32; 3], t: f32) -> [f32; 3] {
    let mut p = [z[0] / t, z[1] / t, z[2] / t];
    linear::softmax_masked(&mut p, 0b111);
    p
}

impl FastModel {
    /// The model shipped with this build.
    pub fn shipped() -> &'static FastModel {
        static MODEL: OnceLock<FastModel> = OnceLock::new();
        MODEL.get_or_init(|| match FastModel::from_bytes(SHIPPED_BYTES) {
            Ok(m) => m,
            // The shipped file is checked by this crate's tests; reaching this
            // means the build embedded a broken file.
            Err(e) => panic!("the shipped sentiment model model/fast-v1.bin is unreadable: {e}"),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Calibration temperature (probabilities are `softmax(logits / T)`).
    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// Feature settings this model was trained with.
    pub fn feature_options(&self) -> &FeatureOptions {
        &self.features
    }

    /// `fr` and `en` (any region or case: `fr-CA`, `EN`).
    pub fn supports(lang: &str) -> bool {
        lang_of(lang).is_some()
    }

    /// Calibrated `[P(negative), P(neutral), P(positive)]`, without an
    /// explanation; `None` when the language is unsupported or there is
    /// nothing to judge.
    pub fn probabilities(&self, text: &str, lang: &str) -> Option<[f32; 3]> {
        let french = lang_of(lang)?;
        with_scratch(|f| {
            if !features::extract(text, french, &self.features, false, f) {
                return None;
            }
            let mut z = [0.0f32; 3];
            self.weights.logits(f, &mut z);
            if let Some(r) = &self.review {
                r.apply(f, &mut z);
            }
            Some(softmax_t(&z, self.temperature))
        })
    }

    /// The verdict with its explanation. `None` when `lang` is unsupported or
    /// the text has nothing to judge (empty, only a URL or a handle): callers
    /// show "unknown".
    pub fn predict(&self, text: &str, lang: &str) -> Option<Verdict> {
        let french = lang_of(lang)?;
        with_scratch(|f| {
            if !features::extract(text, french, &self.features, true, f) {
                return None;
            }
            let mut z = [0.0f32; 3];
            self.weights.logits(f, &mut z);
            if let Some(r) = &self.review {
                r.apply(f, &mut z);
            }
            let p = softmax_t(&z, self.temperature);
            let mut explanation = explain(
                crate::text::capped(text),
                f,
                &self.weights,
                self.review.as_ref(),
                &SCORE_DIR,
                self.temperature,
            );
            let total: f32 = SCORE_DIR.iter().zip(&z).map(|(d, z)| d * z).sum::<f32>() / self.temperature;
            with_rest(&mut explanation, total);
            Some(verdict_from(p, &self.id, explanation))
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.str(&self.id);
        w.features(&self.features);
        w.f32(self.temperature);
        w.quantised(&self.weights);
        // Optional section (absent in files of models without a scorer).
        if let Some(r) = &self.review {
            w.u8(1);
            w.u8(r.bits);
            w.f32(r.scale);
            w.f32(r.bias);
            w.f32(r.mix[0]);
            w.f32(r.mix[1]);
            w.u32(r.q.len() as u32);
            w.0.extend(r.q.iter().map(|q| *q as u8));
        }
        codec::seal(Kind::Fast, &w.0)
    }

    pub fn from_bytes(b: &[u8]) -> Result<FastModel, ModelError> {
        let payload = codec::open(b, Kind::Fast)?;
        let mut r = Reader::new(payload);
        let id = r.str()?;
        let features = r.features()?;
        let temperature = r.f32()?;
        if temperature <= 0.0 {
            return Err(ModelError::Invalid("temperature must be positive".into()));
        }
        let weights = r.quantised(3, features.bits)?;
        let review = if r.remaining() > 0 {
            if r.u8()? != 1 {
                return Err(ModelError::Invalid("review scorer section".into()));
            }
            let bits = r.u8()?;
            if !(12..=24).contains(&bits) {
                return Err(ModelError::Invalid(format!("review table size 2^{bits}")));
            }
            let scale = r.f32()?;
            let bias = r.f32()?;
            let mix = [r.f32()?, r.f32()?];
            let n = r.u32()? as usize;
            if n != 1usize << bits {
                return Err(ModelError::Invalid("review table size".into()));
            }
            let q = r.bytes(n)?.iter().map(|x| *x as i8).collect();
            Some(Review {
                bits,
                q,
                scale,
                bias,
                mix,
            })
        } else {
            None
        };
        r.finish()?;
        Ok(FastModel {
            id,
            features,
            weights,
            temperature,
            review,
        })
    }

    /// Continue training on a project's own labelled mentions (users'
    /// corrections), regularised toward the current weights (`opts.l2` pulls
    /// every touched weight back toward its starting value; see
    /// [`TrainOptions::fine_tune`]). Features and temperature are kept.
    /// Deterministic. The id becomes `opts.model_id`, else `<id>-ft`.
    pub fn fine_tune(&self, examples: &[Example], opts: &TrainOptions) -> FastModel {
        let mut rows = rows_of(
            &[TrainSet {
                examples,
                polar_only: false,
                weight: 1.0,
            }],
            &self.features,
        );
        // The review scorer stays as it is; the weights learn around its term.
        if let Some(r) = &self.review {
            for row in &mut rows {
                row.offset = review_term(r, row);
            }
        }
        let init = self.weights.to_weights();
        let w = linear::train(&rows, 3, self.features.bits, opts, Some(&init));
        let id = opts.model_id.clone().unwrap_or_else(|| {
            if self.id.ends_with("-ft") {
                self.id.clone()
            } else {
                format!("{}-ft", self.id)
            }
        });
        FastModel {
            id,
            features: self.features.clone(),
            weights: Quantised::from_weights(&w),
            temperature: self.temperature,
            review: self.review.clone(),
        }
    }
}

/// The review scorer's term (`a · s`) of a training row.
fn review_term(r: &Review, row: &Row) -> f32 {
    r.mix_weight(&row.dense) * review_score(r, row)
}

/// The review score of a training row.
fn review_score(r: &Review, row: &Row) -> f32 {
    row.ids.iter().map(|id| r.weight(*id)).sum::<f32>() + r.bias
}

pub(crate) fn verdict_from(
    p: [f32; 3],
    model: &str,
    explanation: Vec<crate::Contribution>,
) -> Verdict {
    let mut best = 0;
    for c in 1..3 {
        if p[c] > p[best] {
            best = c;
        }
    }
    let label = Label::from_index(best).unwrap_or(Label::Neutral);
    let mut score = (p[2] - p[0]).clamp(-1.0, 1.0);
    if !score.is_finite() {
        score = 0.0;
    }
    let confidence = if p[best].is_finite() { p[best] } else { 0.0 };
    Verdict {
        label,
        score,
        confidence,
        model: model.to_string(),
        explanation,
    }
}

/// Feature rows of the usable examples (supported language, something to judge).
pub(crate) fn rows_of(sets: &[TrainSet<'_>], opts: &FeatureOptions) -> Vec<Row> {
    rows_flagged(sets, opts).0
}

/// [`rows_of`], with whether each row comes from a polar-only set.
fn rows_flagged(sets: &[TrainSet<'_>], opts: &FeatureOptions) -> (Vec<Row>, Vec<bool>) {
    let mut f = Feats::default();
    let mut rows = Vec::new();
    let mut polar = Vec::new();
    for set in sets {
        let mask = if set.polar_only { 0b101 } else { 0b111 };
        for e in set.examples {
            let Some(french) = lang_of(&e.lang) else {
                continue;
            };
            if !features::extract(&e.text, french, opts, false, &mut f) {
                continue;
            }
            rows.push(Row::from_feats(&f, e.label.index() as u8, mask, set.weight));
            polar.push(set.polar_only);
        }
    }
    (rows, polar)
}

/// Out-of-fold logits of `rows` (fold of row i: a seeded shuffle, then i mod k).
pub(crate) fn fold_assignment(n: usize, folds: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    SplitMix(seed ^ 0xF01D).shuffle(&mut order);
    let mut fold = vec![0; n];
    for (pos, &i) in order.iter().enumerate() {
        fold[i] = pos % folds.max(1);
    }
    fold
}

/// Fit the temperature on out-of-fold predictions.
fn calibrate(rows: &[Row], opts: &TrainOptions) -> f32 {
    let folds = opts.calibration_folds as usize;
    if folds < 2 || rows.len() < 2 * folds {
        return 1.0;
    }
    let fold = fold_assignment(rows.len(), folds, opts.seed);
    let mut items = Vec::with_capacity(rows.len());
    for k in 0..folds {
        let train: Vec<Row> = rows
            .iter()
            .zip(&fold)
            .filter(|(_, f)| **f != k)
            .map(|(r, _)| r.clone())
            .collect();
        let w: Weights = linear::train(&train, 3, opts.features.bits, opts, None);
        let q = Quantised::from_weights(&w).to_weights();
        for (r, _) in rows.iter().zip(&fold).filter(|(_, f)| **f == k) {
            items.push((q.row_logits(r), r.label, r.mask));
        }
    }
    linear::fit_temperature(&items)
}

/// Train a model on examples that all use the three labels.
pub fn train(examples: &[Example], opts: &TrainOptions) -> FastModel {
    train_sets(
        &[TrainSet {
            examples,
            polar_only: false,
            weight: 1.0,
        }],
        opts,
    )
}

/// Train a model on several sets (some polar-only). Deterministic.
pub fn train_sets(sets: &[TrainSet<'_>], opts: &TrainOptions) -> FastModel {
    let (rows, polar) = rows_flagged(sets, &opts.features);
    let (temperature, review) = match &opts.review {
        Some(ro) if polar.iter().any(|p| *p) => {
            let (t, r) = train_review(&rows, &polar, opts, ro);
            (t, Some(r))
        }
        _ => (calibrate(&rows, opts), None),
    };
    let w = linear::train(&rows, 3, opts.features.bits, opts, None);
    FastModel {
        id: opts.model_id.clone().unwrap_or_else(|| FAST_ID.to_string()),
        features: opts.features.clone(),
        weights: Quantised::from_weights(&w),
        temperature,
        review,
    }
}

/// The review scorer (trained on the polar rows) with its mix fitted on
/// out-of-fold predictions of both the scorer and the linear model, and the
/// temperature of the mixed logits fitted on the same predictions (1 if
/// `opts.calibration_folds < 2`).
fn train_review(
    rows: &[Row],
    polar: &[bool],
    opts: &TrainOptions,
    ro: &review::ReviewOptions,
) -> (f32, Review) {
    let bits = ro.bits.clamp(12, opts.features.bits);
    let folds = (ro.folds as usize).max(2);
    let fold = fold_assignment(rows.len(), folds, opts.seed ^ 0x5EE1);
    let mut items = Vec::with_capacity(rows.len());
    for k in 0..folds {
        let train: Vec<Row> = rows
            .iter()
            .zip(&fold)
            .filter(|(_, f)| **f != k)
            .map(|(r, _)| r.clone())
            .collect();
        let polar_train: Vec<&Row> = rows
            .iter()
            .zip(&fold)
            .zip(polar)
            .filter(|((_, f), p)| **f != k && **p)
            .map(|((r, _), _)| r)
            .collect();
        let w = Quantised::from_weights(&linear::train(&train, 3, opts.features.bits, opts, None))
            .to_weights();
        let scorer = review::train(&polar_train, bits, ro, opts.seed).quantise([0.0, 0.0]);
        for (r, _) in rows.iter().zip(&fold).filter(|(_, f)| **f == k) {
            let z = w.row_logits(r);
            let s = review_score(&scorer, r);
            items.push((
                [z[0], z[1], z[2]],
                s,
                r.dense[crate::features::d::LENGTH],
                r.label,
                r.mask,
            ));
        }
    }
    let mix = review::fit_mix(&items, ro.length_mix);
    let polar_rows: Vec<&Row> = rows
        .iter()
        .zip(polar)
        .filter(|(_, p)| **p)
        .map(|(r, _)| r)
        .collect();
    let review = review::train(&polar_rows, bits, ro, opts.seed).quantise(mix);
    let temperature = if opts.calibration_folds >= 2 {
        let mixed: Vec<(Vec<f32>, u8, u64)> = items
            .iter()
            .map(|(z, s, len, label, mask)| {
                let a = (mix[0] + mix[1] * len) * s;
                (vec![z[0] - 0.5 * a, z[1], z[2] + 0.5 * a], *label, *mask)
            })
            .collect();
        linear::fit_temperature(&mixed)
    } else {
        1.0
    };
    (temperature, review)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::ReviewOptions;

    fn ex(text: String, label: Label) -> Example {
        Example {
            text,
            lang: "fr".into(),
            label,
        }
    }

    #[test]
    fn review_section_is_checked() {
        let reviews: Vec<Example> = (0..20)
            .flat_map(|i| {
                [
                    ex(format!("film {i} sublime"), Label::Positive),
                    ex(format!("film {i} navet"), Label::Negative),
                ]
            })
            .collect();
        let opts = TrainOptions {
            features: FeatureOptions {
                bits: 12,
                ..FeatureOptions::default()
            },
            review: Some(ReviewOptions::default()),
            ..TrainOptions::default()
        };
        let m = train_sets(
            &[TrainSet {
                examples: &reviews,
                polar_only: true,
                weight: 1.0,
            }],
            &opts,
        );
        let r = m.review.as_ref().expect("a review scorer");
        assert_eq!(r.q.len(), 1 << 12);
        let good = m.to_bytes();
        let payload = codec::open(&good, Kind::Fast).expect("valid").to_vec();
        // the section: flag, bits, 4 × f32, u32 length, 2^12 bytes
        let at = payload.len() - (1 + 1 + 16 + 4 + (1 << 12));
        assert_eq!(payload[at], 1);
        let reseal = |p: &[u8]| FastModel::from_bytes(&codec::seal(Kind::Fast, p));
        assert_eq!(reseal(&payload).as_ref(), Ok(&m));
        for (offset, value) in [(0, 2u8), (1, 30)] {
            let mut bad = payload.clone();
            bad[at + offset] = value;
            assert!(
                matches!(reseal(&bad), Err(ModelError::Invalid(_))),
                "byte {offset}"
            );
        }
        // a non-finite mix weight
        let mut bad = payload.clone();
        bad[at + 10..at + 14].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(reseal(&bad).is_err());
        // cut short
        assert!(reseal(&payload[..payload.len() - 1]).is_err());
        // without the section: a model without scorer
        let plain = FastModel::from_bytes(&codec::seal(Kind::Fast, &payload[..at])).expect("plain");
        assert!(plain.review.is_none());
    }
}

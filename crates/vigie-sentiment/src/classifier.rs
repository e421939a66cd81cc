//! A linear classifier over the sentiment features with arbitrary classes:
//! department routing of complaints, and whatever else a project labels.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::codec::{self, Kind, Reader, Writer};
use crate::explain::explain;
use crate::fast::{fold_assignment, with_scratch};
use crate::features::{self, Feats, FeatureOptions, lang_of};
use crate::linear::{self, Quantised, Row, TrainOptions};
use crate::{Contribution, ModelError};

static ROUTING_BYTES: &[u8] = include_bytes!("../model/routing-v1.bin");

/// The most classes a classifier may have.
pub const MAX_CLASSES: usize = 64;

/// A text with its class.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ClassExample {
    pub text: String,
    /// `"fr"` or `"en"`.
    pub lang: String,
    pub class: String,
}

/// Multinomial logistic regression over hashed n-grams and the dense
/// sentiment features, with named classes.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearClassifier {
    id: String,
    classes: Vec<String>,
    features: FeatureOptions,
    weights: Quantised,
    temperature: f32,
}

/// The department router shipped with this build (`model/routing-v1.bin`):
/// English complaint tweets → `customer_service`, `delivery_logistics`,
/// `product_quality`, `website_app`, `staff_hr`.
pub type RoutingModel = LinearClassifier;

/// Classes with their probabilities, most likely first.
pub type Ranked = Vec<(String, f32)>;

impl LinearClassifier {
    /// The shipped department router.
    pub fn shipped_routing() -> &'static LinearClassifier {
        static MODEL: OnceLock<LinearClassifier> = OnceLock::new();
        MODEL.get_or_init(|| match LinearClassifier::from_bytes(ROUTING_BYTES) {
            Ok(m) => m,
            // Checked by this crate's tests: a failure means a broken build.
            Err(e) => panic!("the shipped routing model model/routing-v1.bin is unreadable: {e}"),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Train on `examples` (unsupported languages and empty texts skipped).
    /// Classes are the distinct `class` values, sorted. Deterministic.
    /// `opts.balance_classes` weights rare classes up.
    pub fn train(examples: &[ClassExample], opts: &TrainOptions) -> LinearClassifier {
        let mut classes: Vec<String> = examples.iter().map(|e| e.class.clone()).collect();
        classes.sort();
        classes.dedup();
        classes.truncate(MAX_CLASSES);
        let k = classes.len().max(1);
        let mut f = Feats::default();
        let mut rows = Vec::new();
        for e in examples {
            let Some(french) = lang_of(&e.lang) else {
                continue;
            };
            let Ok(label) = classes.binary_search(&e.class) else {
                continue;
            };
            if !features::extract(&e.text, french, &opts.features, false, &mut f) {
                continue;
            }
            let mask = if k >= 64 { u64::MAX } else { (1u64 << k) - 1 };
            rows.push(Row::from_feats(&f, label as u8, mask, 1.0));
        }
        let temperature = calibrate(&rows, k, opts);
        let w = linear::train(&rows, k, opts.features.bits, opts, None);
        LinearClassifier {
            id: opts
                .model_id
                .clone()
                .unwrap_or_else(|| "classifier-v1".into()),
            classes,
            features: opts.features.clone(),
            weights: Quantised::from_weights(&w),
            temperature,
        }
    }

    fn probs(&self, f: &Feats) -> Vec<f32> {
        let k = self.classes.len();
        let mut z = vec![0.0f32; k];
        self.weights.logits(f, &mut z);
        for v in &mut z {
            *v /= self.temperature;
        }
        softmax_all(&mut z);
        z
    }

    fn sorted(&self, p: Vec<f32>) -> Vec<(String, f32)> {
        let mut out: Vec<(String, f32)> = self.classes.iter().cloned().zip(p).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Classes with their calibrated probabilities, most likely first;
    /// `None` for an unsupported language or nothing to judge.
    pub fn predict(&self, text: &str, lang: &str) -> Option<Vec<(String, f32)>> {
        let french = lang_of(lang)?;
        with_scratch(|f| {
            if !features::extract(text, french, &self.features, false, f) {
                return None;
            }
            Some(self.sorted(self.probs(f)))
        })
    }

    /// [`predict`](Self::predict) plus the reasons for the top class
    /// (weights toward the top class against the mean of the others).
    pub fn predict_explained(&self, text: &str, lang: &str) -> Option<(Ranked, Vec<Contribution>)> {
        let french = lang_of(lang)?;
        with_scratch(|f| {
            if !features::extract(text, french, &self.features, true, f) {
                return None;
            }
            let p = self.probs(f);
            let k = p.len();
            let top = (0..k).max_by(|a, b| p[*a].total_cmp(&p[*b])).unwrap_or(0);
            let other = if k > 1 { -1.0 / (k - 1) as f32 } else { 0.0 };
            let dir: Vec<f32> = (0..k).map(|c| if c == top { 1.0 } else { other }).collect();
            let why = explain(
                crate::text::capped(text),
                f,
                &self.weights,
                None,
                &dir,
                self.temperature,
            );
            Some((self.sorted(p), why))
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.str(&self.id);
        w.u32(self.classes.len() as u32);
        for c in &self.classes {
            w.str(c);
        }
        w.features(&self.features);
        w.f32(self.temperature);
        w.quantised(&self.weights);
        codec::seal(Kind::Classifier, &w.0)
    }

    pub fn from_bytes(b: &[u8]) -> Result<LinearClassifier, ModelError> {
        let payload = codec::open(b, Kind::Classifier)?;
        let mut r = Reader::new(payload);
        let id = r.str()?;
        let n = r.u32()? as usize;
        if n == 0 || n > MAX_CLASSES {
            return Err(ModelError::Invalid(format!("{n} classes")));
        }
        let classes = (0..n).map(|_| r.str()).collect::<Result<Vec<_>, _>>()?;
        let features = r.features()?;
        let temperature = r.f32()?;
        if temperature <= 0.0 {
            return Err(ModelError::Invalid("temperature must be positive".into()));
        }
        let weights = r.quantised(n, features.bits)?;
        r.finish()?;
        Ok(LinearClassifier {
            id,
            classes,
            features,
            weights,
            temperature,
        })
    }
}

fn softmax_all(z: &mut [f32]) {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    if sum > 0.0 && sum.is_finite() {
        for v in z.iter_mut() {
            *v /= sum;
        }
    }
}

fn calibrate(rows: &[Row], k: usize, opts: &TrainOptions) -> f32 {
    let folds = opts.calibration_folds as usize;
    if folds < 2 || rows.len() < 2 * folds {
        return 1.0;
    }
    let fold = fold_assignment(rows.len(), folds, opts.seed);
    let mut items = Vec::with_capacity(rows.len());
    for kf in 0..folds {
        let train: Vec<Row> = rows
            .iter()
            .zip(&fold)
            .filter(|(_, f)| **f != kf)
            .map(|(r, _)| r.clone())
            .collect();
        let w = linear::train(&train, k, opts.features.bits, opts, None);
        let q = Quantised::from_weights(&w).to_weights();
        for (r, _) in rows.iter().zip(&fold).filter(|(_, f)| **f == kf) {
            items.push((q.row_logits(r), r.label, r.mask));
        }
    }
    linear::fit_temperature(&items)
}

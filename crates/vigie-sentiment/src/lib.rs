//! Sentiment for Vigie: is a mention negative, neutral or positive, how sure
//! are we, and why.
//!
//! Three models share one feature extractor and one file format:
//!
//! - [`FastModel`] — the verdict every mention gets at ingest: a multinomial
//!   logistic regression over hashed word (1–2) and in-word character (2–5)
//!   n-grams of a social-media-normalized text, plus dense VADER-style lexicon
//!   features (negation scope, boosters and dampeners, emoji, emoticons, ALL
//!   CAPS, elongations, customer-service complaint patterns), for French and
//!   English, with a naive-Bayes-scaled review scorer mixed into its logits
//!   ([`ReviewOptions`]). Tens of thousands of texts per second per core, with an
//!   explanation in the author's words. Other languages are `None`:
//!   "unknown", not a guess.
//! - [`LinearClassifier`] — the same machinery with arbitrary classes
//!   (department routing: [`LinearClassifier::shipped_routing`]).
//! - [`EncoderHead`] — refines a verdict from a sentence embedding
//!   (multilingual-e5-small, computed elsewhere) stacked with the fast model's
//!   out-of-fold log-probabilities; much better on short social text, and
//!   slow, so it runs in the background.
//!
//! Design rules:
//! - **Inference is pure**: no IO, no clock; the shipped models are compiled
//!   in (`include_bytes!`) and decoded once. Only [`data`] reads files, for
//!   training and evaluation.
//! - **Hostile text is bounded**: only the first [`MAX_CHARS`] characters are
//!   looked at; any string gives a verdict or `None`, never a panic.
//! - **Training is deterministic**: same data and options, same bytes.
//! - **Model files are checked**: versioned header, kind, length and checksum;
//!   a corrupt or old file is a [`ModelError`] saying which.
//!
//! The data, splits, scores and limits are in `MODEL_CARD.md`.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod classifier;
mod codec;
pub mod data;
mod explain;
mod fast;
mod features;
mod head;
mod lexicon;
mod linear;
pub mod metrics;
mod review;
mod shipped;
mod text;

pub use explain::REST_LABEL;
pub use classifier::{ClassExample, LinearClassifier, RoutingModel};
pub use fast::{FastModel, TrainSet, train, train_sets};
pub use features::{CharScope, FeatureOptions, LangMode, idiom, stable_hash};
pub use head::{
    EncoderHead, HeadOptions, HeadSet, StackedRow, oof_fast_probabilities, train_encoder_head,
};
pub use linear::TrainOptions;
pub use review::ReviewOptions;
pub use shipped::{
    ShippedOptions, TrainError, TrainedModels, routing_train_options, sentiment_sets,
    sentiment_train_options, train_shipped, train_shipped_with,
};
pub use text::MAX_CHARS;

/// A sentiment class.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Negative,
    Neutral,
    Positive,
}

impl Label {
    /// All labels, in the order of probability arrays (`[neg, neu, pos]`).
    pub const ALL: [Label; 3] = [Label::Negative, Label::Neutral, Label::Positive];

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Negative => "negative",
            Label::Neutral => "neutral",
            Label::Positive => "positive",
        }
    }

    /// Index in probability arrays.
    pub fn index(self) -> usize {
        match self {
            Label::Negative => 0,
            Label::Neutral => 1,
            Label::Positive => 2,
        }
    }

    pub fn from_index(i: usize) -> Option<Label> {
        Label::ALL.get(i).copied()
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `"negative"`, `"neutral"`, `"positive"` (any case, surrounding spaces ignored).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sentiment label {0:?} (expected negative, neutral or positive)")]
pub struct ParseLabelError(pub String);

impl FromStr for Label {
    type Err = ParseLabelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "negative" => Ok(Label::Negative),
            "neutral" => Ok(Label::Neutral),
            "positive" => Ok(Label::Positive),
            _ => Err(ParseLabelError(s.to_string())),
        }
    }
}

/// A model's judgement of one text.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Verdict {
    pub label: Label,
    /// Calibrated `P(positive) − P(negative)`, in [-1, 1]; its sign agrees
    /// with the label unless the label is neutral.
    pub score: f32,
    /// Calibrated probability of the chosen label.
    pub confidence: f32,
    /// `"fast-v1"`, `"encoder-v1"`, or a project's retrained model id.
    pub model: String,
    /// At most six features, largest |weight| first.
    pub explanation: Vec<Contribution>,
}

/// One reason for a verdict.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Contribution {
    /// What the author wrote (`"pas terrible"`, `"not bad"`, `"😡"`, `":("`,
    /// `"still waiting"`), a lexicon hit (`"lexicon: horrible"`) or a style
    /// feature (`"ALL CAPS"`, `"elongation"`, `"!"`, `"negation"`), or
    /// `"sentence encoder"` for the encoder head's share.
    pub feature: String,
    /// In log-odds points after calibration: > 0 pushes toward positive,
    /// < 0 toward negative (for a classifier: toward / away from the top
    /// class).
    pub weight: f32,
}

/// A labelled text for training or fine-tuning.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Example {
    pub text: String,
    /// `"fr"` or `"en"` (other languages are skipped by training).
    pub lang: String,
    pub label: Label,
}

/// Why a model file could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    #[error("not a Vigie sentiment model file (bad magic number or too short)")]
    NotAModel,
    #[error(
        "model file format version {found} is not supported by this build (it reads version {supported}): retrain with `vigie train sentiment`"
    )]
    UnsupportedVersion { found: u16, supported: u16 },
    #[error(
        "model was trained with feature extractor version {found}, this build has version {supported}: retrain with `vigie train sentiment`"
    )]
    FeaturesVersion { found: u16, supported: u16 },
    #[error("expected a {expected} file, found a {found} file")]
    WrongKind {
        expected: &'static str,
        found: &'static str,
    },
    #[error("model file is truncated or has extra bytes")]
    Truncated,
    #[error("model file is corrupt (checksum mismatch)")]
    ChecksumMismatch,
    #[error("model file is invalid: {0}")]
    Invalid(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        for l in Label::ALL {
            assert_eq!(l.as_str().parse::<Label>(), Ok(l));
            assert_eq!(Label::from_index(l.index()), Some(l));
            let json = serde_json::to_string(&l).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", l.as_str()));
        }
        assert_eq!(" Positive ".parse::<Label>(), Ok(Label::Positive));
        assert!("mixed".parse::<Label>().is_err());
    }
}

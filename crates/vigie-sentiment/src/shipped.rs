//! Training the shipped models from the shared data folder, with the
//! hyper-parameters chosen by cross-validation inside the training parts
//! (`examples/tune.rs`, results in MODEL_CARD.md).

use std::path::Path;

use crate::classifier::{ClassExample, LinearClassifier};
use crate::data::{self, DataError, Dataset, Split};
use crate::fast::{FastModel, TrainSet, train_sets};
use crate::linear::TrainOptions;
use crate::review::ReviewOptions;
use crate::{Example, FeatureOptions};

/// The sentiment model's settings (see MODEL_CARD.md for how they were chosen).
pub fn sentiment_train_options() -> TrainOptions {
    TrainOptions {
        review: Some(ReviewOptions::default()),
        ..TrainOptions::default()
    }
}

/// The routing model's settings.
pub fn routing_train_options() -> TrainOptions {
    TrainOptions {
        features: FeatureOptions {
            bits: 18,
            ..FeatureOptions::default()
        },
        balance_classes: true,
        model_id: Some("routing-v1".into()),
        ..TrainOptions::default()
    }
}

/// Everything `train_shipped_with` can vary.
#[derive(Clone, Debug)]
pub struct ShippedOptions {
    pub sentiment: TrainOptions,
    pub routing: TrainOptions,
    /// Loss weight of each dataset's rows (datasets not listed: 1).
    pub dataset_weights: Vec<(Dataset, f32)>,
}

impl Default for ShippedOptions {
    fn default() -> Self {
        ShippedOptions {
            sentiment: sentiment_train_options(),
            routing: routing_train_options(),
            dataset_weights: Vec::new(),
        }
    }
}

impl ShippedOptions {
    pub fn weight_of(&self, ds: Dataset) -> f32 {
        self.dataset_weights
            .iter()
            .find(|(d, _)| *d == ds)
            .map_or(1.0, |(_, w)| *w)
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
}

/// The trained models, ready for `to_bytes`.
#[derive(Clone, Debug)]
pub struct TrainedModels {
    pub sentiment: FastModel,
    pub routing: LinearClassifier,
}

/// The datasets with a train part, in a fixed order.
pub(crate) fn training_datasets() -> impl Iterator<Item = Dataset> {
    Dataset::ALL.into_iter().filter(|d| !d.eval_only())
}

/// Build the train sets of the sentiment model from loaded splits.
pub fn sentiment_sets<'a>(
    splits: &'a [(Dataset, Split<Example>)],
    opts: &ShippedOptions,
) -> Vec<TrainSet<'a>> {
    splits
        .iter()
        .map(|(ds, s)| TrainSet {
            examples: &s.train,
            polar_only: ds.binary(),
            weight: opts.weight_of(*ds),
        })
        .collect()
}

/// Load every train part and train the sentiment and routing models with the
/// shipped settings.
pub fn train_shipped(
    data_dir: &Path,
    progress: impl FnMut(&str),
) -> Result<TrainedModels, TrainError> {
    train_shipped_with(data_dir, &ShippedOptions::default(), progress)
}

/// [`train_shipped`] with other settings (for tuning).
pub fn train_shipped_with(
    data_dir: &Path,
    opts: &ShippedOptions,
    mut progress: impl FnMut(&str),
) -> Result<TrainedModels, TrainError> {
    let mut splits = Vec::new();
    for ds in training_datasets() {
        progress(&format!("loading {}", ds.name()));
        splits.push((ds, data::load(data_dir, ds)?));
    }
    let sets = sentiment_sets(&splits, opts);
    let n: usize = sets.iter().map(|s| s.examples.len()).sum();
    progress(&format!("training the sentiment model on {n} texts"));
    let sentiment = train_sets(&sets, &opts.sentiment);

    progress("loading the routing data");
    let routing = data::airline_routing(data_dir)?;
    let examples: Vec<ClassExample> = routing
        .train
        .into_iter()
        .map(|(text, class)| ClassExample {
            text,
            lang: "en".into(),
            class,
        })
        .collect();
    progress(&format!(
        "training the routing model on {} texts",
        examples.len()
    ));
    let routing = LinearClassifier::train(&examples, &opts.routing);
    Ok(TrainedModels { sentiment, routing })
}

//! The encoder tier: a multilingual sentence encoder (multilingual-e5-small,
//! installed by `vigie models install`) with a small trained head refines the
//! fast model's verdicts. It is slower (tens of texts per second per core),
//! so it works through stored mentions in the background, newest first;
//! without it, mentions keep their fast verdict.

use std::path::Path;
use std::sync::Arc;

use vigie_encoder::Encoder;
use vigie_model::Sentiment;
use vigie_sentiment::{EncoderHead, FastModel, Verdict};
use vigie_store::Store;

use crate::PipelineError;
use crate::analyze::{fast_reading, reading_language, sentiment_text, to_sentiment};
use crate::models::FastRef;

/// Texts embedded per call in the background loop.
pub const REFINE_BATCH: usize = 32;

/// The e5 prefix used for sentiment, at training and at inference alike.
pub const IS_QUERY: bool = true;

/// The encoder and its sentiment head.
pub struct Refiner {
    encoder: Arc<Encoder>,
    head: &'static EncoderHead,
}

impl Refiner {
    /// The refiner if the encoder is installed in `models_dir` and this build
    /// ships a trained head; `None` otherwise (the fast verdicts stand). A
    /// damaged model file is an error, not a silent fallback.
    pub fn load(models_dir: &Path) -> Result<Option<Refiner>, PipelineError> {
        let Some(head) = EncoderHead::shipped() else {
            return Ok(None);
        };
        let path = models_dir.join(vigie_encoder::MODEL_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let encoder = Encoder::load(&path).map_err(|e| {
            PipelineError::Model(format!(
                "the sentence encoder {} is unusable ({e}); run `vigie models install` again",
                path.display()
            ))
        })?;
        Ok(Some(Refiner { encoder: Arc::new(encoder), head }))
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Refined verdicts for `(text, language)` pairs (`None` language: not
    /// identified, read as the ingest step does, see [`fast_reading`]);
    /// `None` where the fast model has no verdict (unsupported language,
    /// nothing to judge).
    pub fn refine_texts(&self, fast: &FastModel, items: &[(String, Option<String>)]) -> Vec<Option<Verdict>> {
        let texts: Vec<&str> = items.iter().map(|(t, _)| t.as_str()).collect();
        let embeddings = self.encoder.embed_batch(&texts, IS_QUERY);
        items
            .iter()
            .zip(embeddings)
            .map(|((text, lang), embedding)| {
                let (verdict, code) = fast_reading(fast, text, lang.as_deref())?;
                let probs = fast.probabilities(text, code)?;
                Some(self.head.predict(&embedding, &probs, verdict.explanation))
            })
            .collect()
    }

    /// Refines up to `limit` stored fast verdicts of a project, newest first,
    /// in batches; returns how many were refined. The CPU work runs on the
    /// blocking pool.
    pub async fn refine_stored(
        self: &Arc<Self>,
        store: &dyn Store,
        project_id: i64,
        fast: FastRef,
        limit: usize,
    ) -> Result<u64, PipelineError> {
        let mut done = 0u64;
        while (done as usize) < limit {
            let want = REFINE_BATCH.min(limit - done as usize) as i64;
            let batch = store.mentions_to_refine(project_id, want).await?;
            if batch.is_empty() {
                break;
            }
            let items: Vec<(i64, String, Option<String>)> = batch
                .iter()
                .map(|m| (m.mention.id, sentiment_text(&m.mention), reading_language(&m.mention).map(str::to_string)))
                .collect();
            let this = Arc::clone(self);
            let fast = fast.clone();
            let verdicts: Vec<(i64, Option<Sentiment>)> = tokio::task::spawn_blocking(move || {
                let pairs: Vec<(String, Option<String>)> =
                    items.iter().map(|(_, t, l)| (t.clone(), l.clone())).collect();
                let refined = this.refine_texts(&fast, &pairs);
                items.iter().zip(refined).map(|((id, _, _), v)| (*id, v.map(to_sentiment))).collect()
            })
            .await
            .map_err(|e| PipelineError::Internal(format!("the encoder stopped: {e}")))?;
            // A mention the encoder cannot judge keeps its stored verdict and
            // leaves the queue (`None` never erases a verdict).
            store.set_sentiments(project_id, &verdicts, 1).await?;
            done += verdicts.len() as u64;
        }
        Ok(done)
    }
}

//! `vigie train sentiment`: a project's own model from its corrections, or
//! (with `--shipped`) the models that ship with Vigie from the labelled data.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use vigie_pipeline::analyze::{label_of, sentiment_text};
use vigie_pipeline::refine::IS_QUERY;
use vigie_sentiment::data::{self, Dataset};
use vigie_sentiment::{
    Example, FastModel, HeadOptions, HeadSet, TrainOptions, TrainSet, sentiment_train_options, stable_hash,
    train_encoder_head, train_sets, train_shipped,
};
use vigie_store::MentionFilter;

use crate::app::{App, usage};
use crate::cli::TrainSentimentArgs;
use crate::embed_cache::EmbeddingCache;

/// Fewest corrections worth retraining on.
pub const MIN_CORRECTIONS: usize = 10;
/// One correction in this many is held back to measure the retrained model.
const HOLD_BACK_EVERY: u64 = 5;

/// Retrains the shipped fast, routing and (if the encoder is installed)
/// encoder-head models, writing them into `args.out`.
pub fn shipped(args: TrainSentimentArgs, models_dir: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    if !args.data.is_dir() {
        return usage(format!("no labelled data in {} (see --data)", args.data.display()));
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut progress = |step: &str| {
        let _ = writeln!(out, "{step}");
        let _ = out.flush();
    };
    let trained = train_shipped(&args.data, &mut progress)?;
    write_atomically(&args.out.join("fast-v1.bin"), &trained.sentiment.to_bytes())?;
    write_atomically(&args.out.join("routing-v1.bin"), &trained.routing.to_bytes())?;
    progress(&format!(
        "wrote {} and {}",
        args.out.join("fast-v1.bin").display(),
        args.out.join("routing-v1.bin").display()
    ));

    let encoder_path = models_dir.join(vigie_encoder::MODEL_FILE);
    if args.no_encoder {
        progress("encoder head skipped (--no-encoder)");
        return Ok(());
    }
    if !encoder_path.exists() {
        progress(&format!(
            "encoder head skipped: the sentence encoder is not installed in {} (`vigie models install`)",
            models_dir.display()
        ));
        return Ok(());
    }
    let encoder = vigie_encoder::Encoder::load(&encoder_path)?;
    let mut cache = EmbeddingCache::open(models_dir)?;
    let mut splits = Vec::new();
    for ds in Dataset::ALL.into_iter().filter(|d| !d.eval_only()) {
        splits.push((ds, data::load(&args.data, ds)?));
    }
    let mut embeddings: Vec<Vec<Vec<f32>>> = Vec::new();
    for (ds, split) in &splits {
        progress(&format!("embedding {} training texts of {}", split.train.len(), ds.name()));
        let texts: Vec<&str> = split.train.iter().map(|e| e.text.as_str()).collect();
        embeddings.push(cache.embed(&encoder, &texts, IS_QUERY, &mut progress)?);
    }
    let sets: Vec<HeadSet<'_>> = splits
        .iter()
        .zip(&embeddings)
        .map(|((ds, split), emb)| HeadSet {
            examples: &split.train,
            embeddings: emb,
            polar_only: ds.binary(),
            weight: 1.0,
        })
        .collect();
    progress("training the encoder head (out-of-fold fast-model probabilities, then calibration)");
    let opts = sentiment_train_options();
    let head = train_encoder_head(&sets, |ts: &[TrainSet<'_>]| train_sets(ts, &opts), &HeadOptions::default());
    write_atomically(&args.out.join("encoder-head-v1.bin"), &head.to_bytes())?;
    progress(&format!("wrote {}", args.out.join("encoder-head-v1.bin").display()));
    progress("rebuild (cargo build --release) to ship the new models");
    Ok(())
}

/// Fine-tunes the fast model on the project's corrections, reports its
/// accuracy on held-back corrections beside the current model's, and saves it
/// as the project's model.
pub async fn project(app: &App, args: TrainSentimentArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let models = app.models();
    let Some(path) = models.project_fast_model_path(app.project.id) else {
        anyhow::bail!("no models directory");
    };
    if args.reset {
        match std::fs::remove_file(&path) {
            Ok(()) => writeln!(out, "removed {}; the project uses the shipped model again", path.display())?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                writeln!(out, "the project has no retrained model; it uses the shipped one")?
            }
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
        return Ok(());
    }
    let examples = corrected_examples(app).await?;
    if examples.len() < MIN_CORRECTIONS {
        return usage(format!(
            "project {:?} has {} usable correction(s); at least {MIN_CORRECTIONS} are needed \
             (correct verdicts with `vigie mention label ID negative|neutral|positive`)",
            app.project.name,
            examples.len()
        ));
    }
    let (mut held, mut train) = (Vec::new(), Vec::new());
    for (id, example) in examples {
        if stable_hash(&id.to_string()).is_multiple_of(HOLD_BACK_EVERY) {
            held.push(example);
        } else {
            train.push(example);
        }
    }
    let base = FastModel::shipped();
    let opts = TrainOptions { model_id: Some(format!("{}+project", base.id())), ..TrainOptions::fine_tune() };
    writeln!(
        out,
        "{} correction(s): {} to learn from, {} held back to measure",
        train.len() + held.len(),
        train.len(),
        held.len()
    )?;
    if held.is_empty() || train.is_empty() {
        writeln!(out, "too few corrections to hold some back: the accuracy cannot be measured yet")?;
    } else {
        let tuned = base.fine_tune(&train, &opts);
        // Against the shipped model: a previously retrained model learned from
        // today's held-back corrections too.
        let before = accuracy(base, &held);
        let after = accuracy(&tuned, &held);
        writeln!(
            out,
            "accuracy on the {} held-back correction(s): shipped model {:.1} %, retrained {:.1} %",
            held.len(),
            before * 100.0,
            after * 100.0
        )?;
        if after < before {
            writeln!(
                out,
                "note: the retrained model does worse on the held-back corrections; keep correcting, or `--reset`"
            )?;
        }
    }
    // The saved model learns from every correction.
    let all: Vec<Example> = train.into_iter().chain(held).collect();
    let model = base.fine_tune(&all, &opts);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_atomically(&path, &model.to_bytes())?;
    writeln!(out, "saved {}: new mentions of this project use it (stored verdicts are kept)", path.display())?;
    Ok(())
}

async fn corrected_examples(app: &App) -> anyhow::Result<Vec<(u64, Example)>> {
    let filter = MentionFilter { corrected_only: true, ..MentionFilter::default() };
    let mut after = 0;
    let mut out = Vec::new();
    loop {
        let page = app.store.mentions_after(app.project.id, &filter, after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = last.mention.id;
        for m in page {
            let (Some(label), Some(lang)) = (m.mention.analysis.corrected, m.mention.lang.clone()) else {
                continue;
            };
            if !FastModel::supports(&lang) {
                continue;
            }
            out.push((m.mention.id as u64, Example { text: sentiment_text(&m.mention), lang, label: label_of(label) }));
        }
    }
    Ok(out)
}

fn accuracy(model: &FastModel, examples: &[Example]) -> f64 {
    let correct = examples.iter().filter(|e| model.predict(&e.text, &e.lang).map(|v| v.label) == Some(e.label)).count();
    correct as f64 / examples.len().max(1) as f64
}

/// Writes a file through a temporary neighbour and a rename, so a crash never
/// leaves half a model.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let mut tmp =
        tempfile::NamedTempFile::new_in(&dir).with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

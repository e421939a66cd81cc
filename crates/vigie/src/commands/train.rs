//! `vigie train sentiment`: a project's own model from its corrections, or
//! (with `--shipped`) the models that ship with Vigie from the labelled data.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::Utc;
use vigie_pipeline::analyze::{label_of, sentiment_text};
use vigie_pipeline::models::PROJECT_FAST_MODEL_KIND;
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
/// Uncorrected mentions of the project, labelled with the shipped model's
/// verdicts, learnt beside the corrections ("anchors"): this many per
/// correction, between the bounds below. Without them, thirty corrections
/// all saying "negative" teach the model that everything is negative.
const ANCHORS_PER_CORRECTION: usize = 10;
const MIN_ANCHORS: usize = 300;
const MAX_ANCHORS: usize = 5_000;
/// Share of the other mentions' verdicts a retrained model may change
/// before it is not saved without `--force`.
const MAX_CHANGED_SHARE: f64 = 0.25;

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
    if args.reset {
        let legacy = models.legacy_fast_model_path(app.project.id).filter(|p| p.exists());
        if let Some(path) = &legacy {
            std::fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
        let had = app.store.set_project_model(app.project.id, PROJECT_FAST_MODEL_KIND, None, Utc::now()).await?;
        if had || legacy.is_some() {
            super::user::audit(
                app,
                Some(app.project.id),
                "model.reset",
                "removed the retrained sentiment model".into(),
            )
            .await?;
            writeln!(out, "removed the project's retrained model; it uses the shipped model again")?;
        } else {
            writeln!(out, "the project has no retrained model; it uses the shipped one")?;
        }
        return Ok(());
    }
    let (examples, unread) = corrected_examples(app).await?;
    if examples.len() < MIN_CORRECTIONS {
        // Not a usage error: the command is right, the project is not ready.
        let skipped = if unread > 0 {
            format!(
                " ({} other correction(s) are of mentions in a language the model does not read, \
                 or whose language is unknown)",
                unread
            )
        } else {
            String::new()
        };
        anyhow::bail!(
            "project {:?} has {} usable correction(s){skipped}; at least {MIN_CORRECTIONS} are needed \
             (correct verdicts with `vigie mention label ID negative|neutral|positive`, or in the web app)",
            app.project.name,
            examples.len()
        );
    }
    let corrections = examples.len();
    let base = FastModel::shipped();
    let anchors = anchor_examples(app, base, corrections).await?;
    let (mut held, mut train) = (Vec::new(), Vec::new());
    for (id, example) in examples {
        if stable_hash(&id.to_string()).is_multiple_of(HOLD_BACK_EVERY) {
            held.push(example);
        } else {
            train.push(example);
        }
    }
    let (mut anchors_held, mut anchors_train) = (Vec::new(), Vec::new());
    for (id, example) in anchors {
        if stable_hash(&format!("anchor {id}")).is_multiple_of(HOLD_BACK_EVERY) {
            anchors_held.push(example);
        } else {
            anchors_train.push(example);
        }
    }
    let opts = TrainOptions { model_id: Some(format!("{}+project", base.id())), ..TrainOptions::fine_tune() };
    writeln!(
        out,
        "{corrections} correction(s): {} to learn from, {} held back to measure; \
         {} other mention(s) of the project keep the shipped model's verdicts as a reference",
        train.len(),
        held.len(),
        anchors_train.len() + anchors_held.len()
    )?;
    if unread > 0 {
        writeln!(
            out,
            "note: {unread} other correction(s) are of mentions in a language the model does not read, or whose \
             language is unknown: left out"
        )?;
    }
    let classes: std::collections::BTreeSet<&str> = train.iter().chain(&held).map(|e| e.label.as_str()).collect();
    if classes.len() == 1 {
        writeln!(
            out,
            "note: every correction says {}; corrections of other kinds teach the model where that stops",
            classes.iter().next().copied().unwrap_or_default()
        )?;
    }
    let learn = |corrections: &[Example], anchors: &[Example]| -> FastModel {
        // Corrections count twice: they are what the model must learn.
        let mut set: Vec<Example> = corrections.iter().chain(corrections).cloned().collect();
        set.extend(anchors.iter().cloned());
        base.fine_tune(&set, &opts)
    };
    if held.is_empty() || train.is_empty() {
        writeln!(out, "too few corrections to hold some back: the accuracy cannot be measured yet")?;
    } else {
        let tuned = learn(&train, &anchors_train);
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
        } else if after == before {
            writeln!(
                out,
                "note: the retrained model gets no more of them right than the shipped one yet (a correction \
                 usually marks a verdict the shipped model got wrong); it is saved, and more corrections \
                 usually help; `--reset` goes back to the shipped model"
            )?;
        }
    }
    // The saved model learns from every correction and every anchor.
    let all: Vec<Example> = train.into_iter().chain(held).collect();
    let model = learn(&all, &anchors_train);
    // What it learned from: not a fair measure (the held-back one above is),
    // but it tells a person whether the mentions they corrected now read as
    // they said.
    let kept = (accuracy(&model, &all) * all.len() as f64).round() as usize;
    writeln!(
        out,
        "the saved model reads {kept} of the {} correction(s) as they were corrected (it learned from them all; \
         one a correction alone cannot turn needs more like it)",
        all.len()
    )?;
    if !anchors_held.is_empty() {
        let changed = 1.0 - accuracy(&model, &anchors_held);
        writeln!(
            out,
            "it changes {:.1} % of the verdicts on {} other mention(s) it did not learn from",
            changed * 100.0,
            anchors_held.len()
        )?;
        if changed > MAX_CHANGED_SHARE && !args.force {
            anyhow::bail!(
                "not saved: the retrained model changes {:.0} % of the verdicts your corrections do not cover \
                 (more than {:.0} %), which usually means the corrections are too few or all of one kind; \
                 correct more varied mentions (all three verdicts), or save it anyway with --force",
                changed * 100.0,
                MAX_CHANGED_SHARE * 100.0
            );
        }
    }
    app.store.set_project_model(app.project.id, PROJECT_FAST_MODEL_KIND, Some(&model.to_bytes()), Utc::now()).await?;
    super::user::audit(
        app,
        Some(app.project.id),
        "model.train",
        format!("retrained the sentiment model on {corrections} correction(s)"),
    )
    .await?;
    // An older version's file of the data directory would otherwise stand
    // beside it, unused.
    if let Some(path) = models.legacy_fast_model_path(app.project.id).filter(|p| p.exists()) {
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    writeln!(
        out,
        "saved in the database: new mentions of this project use it, on every process of this database \
         (stored verdicts are kept)"
    )?;
    Ok(())
}

/// Up to [`MAX_ANCHORS`] uncorrected mentions of the project in a language
/// the model reads, spread over its history by a stable hash of their ids,
/// each labelled with `base`'s verdict.
async fn anchor_examples(app: &App, base: &FastModel, corrections: usize) -> anyhow::Result<Vec<(u64, Example)>> {
    let wanted = (corrections * ANCHORS_PER_CORRECTION).clamp(MIN_ANCHORS, MAX_ANCHORS);
    let total = app.store.summary(app.project.id).await?.total.max(1) as u64;
    // Keep about `wanted` of `total` (twice as many are let through, as
    // some are corrected or in other languages; the walk stops when full).
    let keep_per_mille = ((wanted as u64 * 2000) / total).clamp(1, 1000);
    let mut after = 0;
    let mut out = Vec::new();
    'pages: loop {
        let page = app.store.mentions_after(app.project.id, &MentionFilter::default(), after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = last.mention.id;
        for m in page {
            let id = m.mention.id as u64;
            if m.mention.analysis.corrected.is_some() || stable_hash(&format!("pick {id}")) % 1000 >= keep_per_mille {
                continue;
            }
            let Some(lang) = m.mention.lang.clone().filter(|l| FastModel::supports(l)) else { continue };
            let text = sentiment_text(&m.mention);
            let Some(verdict) = base.predict(&text, &lang) else { continue };
            out.push((id, Example { text, lang, label: verdict.label }));
            if out.len() >= wanted {
                break 'pages;
            }
        }
    }
    Ok(out)
}

/// The project's corrections the model can learn from, and how many others
/// it cannot read (unknown or unsupported language).
async fn corrected_examples(app: &App) -> anyhow::Result<(Vec<(u64, Example)>, usize)> {
    let filter = MentionFilter { corrected_only: true, ..MentionFilter::default() };
    let mut after = 0;
    let (mut out, mut unread) = (Vec::new(), 0);
    loop {
        let page = app.store.mentions_after(app.project.id, &filter, after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = last.mention.id;
        for m in page {
            let Some(label) = m.mention.analysis.corrected else { continue };
            match m.mention.lang.clone() {
                Some(lang) if FastModel::supports(&lang) => out.push((
                    m.mention.id as u64,
                    Example { text: sentiment_text(&m.mention), lang, label: label_of(label) },
                )),
                _ => unread += 1,
            }
        }
    }
    Ok((out, unread))
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

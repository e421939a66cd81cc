//! `vigie models …` and `vigie refine`: the optional sentence encoder.

use std::io::Write;
use std::sync::Arc;

use vigie_encoder::install::{InstallSource, install};
use vigie_pipeline::models::FastRef;
use vigie_pipeline::refine::Refiner;
use vigie_sentiment::{EncoderHead, FastModel, LinearClassifier};

use crate::app::App;
use crate::cli::{ModelsCommand, RefineArgs};

pub async fn run(
    models_dir: &std::path::Path,
    app: Option<&App>,
    command: ModelsCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        ModelsCommand::Install { from } => {
            let source = match from {
                Some(path) => InstallSource::LocalArchive(path),
                None => InstallSource::Registry { url_override: std::env::var("VIGIE_MODELS_URL").ok() },
            };
            writeln!(out, "installing the sentence encoder into {} …", models_dir.display())?;
            out.flush()?;
            let path = install(models_dir, source).await?;
            writeln!(out, "installed {}", path.display())?;
            match Refiner::load(models_dir)? {
                Some(_) => writeln!(
                    out,
                    "the encoder now refines sentiment (`vigie analyze`, `vigie refine`, `vigie collect`)"
                )?,
                None => writeln!(
                    out,
                    "note: this build ships no trained encoder head; run `vigie train sentiment --shipped`"
                )?,
            }
            Ok(())
        }
        ModelsCommand::Status => {
            writeln!(out, "fast sentiment model: {} (shipped)", FastModel::shipped().id())?;
            if let Some(app) = app {
                let models = app.models();
                if let FastRef::Project(model) = models.fast_model(app.store.as_ref(), app.project.id).await? {
                    writeln!(
                        out,
                        "project {:?} uses its retrained model: {} (in the database)",
                        app.project.name,
                        model.id()
                    )?;
                }
                if let Some(found) = models.outdated_fast_model(app.store.as_ref(), app.project.id).await? {
                    writeln!(
                        out,
                        "project {:?} has a retrained model from an earlier version (features version {found}) that this \
                         build cannot use: the shipped model judges its mentions until `vigie train sentiment` retrains it",
                        app.project.name
                    )?;
                }
            }
            writeln!(out, "routing model: {} (shipped)", LinearClassifier::shipped_routing().id())?;
            match EncoderHead::shipped() {
                Some(head) => writeln!(out, "encoder head: {} (shipped)", head.id())?,
                None => writeln!(out, "encoder head: none in this build")?,
            }
            let encoder = models_dir.join(vigie_encoder::MODEL_FILE);
            if encoder.exists() {
                writeln!(out, "sentence encoder: installed ({})", encoder.display())?;
            } else {
                writeln!(
                    out,
                    "sentence encoder: not installed (run `vigie models install`); verdicts come from the fast model"
                )?;
            }
            Ok(())
        }
    }
}

pub async fn refine(app: &App, args: RefineArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let models = app.models();
    let Some(dir) = models.dir() else { anyhow::bail!("no models directory") };
    let Some(refiner) = Refiner::load(dir)? else {
        return crate::app::usage(format!(
            "the sentence encoder is not installed in {}: run `vigie models install`",
            dir.display()
        ));
    };
    let refiner = Arc::new(refiner);
    let fast = models.fast_model(app.store.as_ref(), app.project.id).await?;
    let n = refiner.refine_stored(app.store.as_ref(), app.project.id, fast, args.limit).await?;
    writeln!(out, "{n} verdict(s) refined by the sentence encoder")?;
    Ok(())
}

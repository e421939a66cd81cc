//! Where a project's models come from.
//!
//! The fast sentiment model and the routing model ship inside the binary. A
//! project that retrained the fast model on its own corrections (`vigie train
//! sentiment`) has it in the database (`Store::project_model`, kind
//! [`PROJECT_FAST_MODEL_KIND`]), which then wins: every process on that
//! database, on any machine, uses it, and `vigie migrate` copies it. (Vigie
//! kept it in `<data dir>/projects/<id>/sentiment-fast.bin` before; such a
//! file is moved into the database the first time it is read.) The encoder's weights, installed by `vigie models install`, live
//! in the models directory (`<data dir>/models/` unless `--models-dir` says
//! otherwise), which several data directories may share.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use vigie_sentiment::FastModel;
use vigie_store::{Store, StoreError};

use crate::PipelineError;
use crate::analyze::{Analyzer, RoutingClassifier};
use crate::themes::{CompiledThemes, default_themes};

/// File name of a project's retrained fast model, where it was kept before
/// it lived in the database.
pub const PROJECT_FAST_MODEL: &str = "sentiment-fast.bin";
/// The kind of a project's retrained fast model in the database.
pub const PROJECT_FAST_MODEL_KIND: &str = "sentiment-fast";

/// The fast model a project uses: the shipped one or its own.
#[derive(Clone)]
pub enum FastRef {
    Shipped(&'static FastModel),
    Project(Arc<FastModel>),
}

impl Deref for FastRef {
    type Target = FastModel;

    fn deref(&self) -> &FastModel {
        match self {
            FastRef::Shipped(m) => m,
            FastRef::Project(m) => m,
        }
    }
}

/// Where models are found: the models directory (installed encoder) and the
/// projects directory (projects' retrained models); none: shipped only.
#[derive(Clone, Debug, Default)]
pub struct ProjectModels {
    dir: Option<PathBuf>,
    projects: Option<PathBuf>,
}

impl ProjectModels {
    /// Shipped models only.
    pub fn shipped() -> Self {
        ProjectModels { dir: None, projects: None }
    }

    /// `models_dir`: installed models; `projects_dir`: one folder per
    /// project id of one database (`<data dir>/projects`).
    pub fn new(models_dir: impl Into<PathBuf>, projects_dir: impl Into<PathBuf>) -> Self {
        ProjectModels { dir: Some(models_dir.into()), projects: Some(projects_dir.into()) }
    }

    /// The models directory (installed encoder).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Where a project's retrained fast model was kept before it lived in
    /// the database.
    pub fn legacy_fast_model_path(&self, project_id: i64) -> Option<PathBuf> {
        self.projects.as_ref().map(|d| d.join(project_id.to_string()).join(PROJECT_FAST_MODEL))
    }

    /// The project's retrained fast model if it has one, else the shipped
    /// one. A damaged model is an error saying so, not a silent fallback;
    /// one an earlier version trained with older features (which this build
    /// cannot read) gives way to the shipped model, with a warning, so that
    /// an upgrade never stops the project's collection (`vigie models
    /// status` says so; `vigie train sentiment` retrains it from the stored
    /// corrections). A model file of the data directory (kept there by
    /// earlier versions) is moved into the database.
    pub async fn fast_model(&self, store: &dyn Store, project_id: i64) -> Result<FastRef, PipelineError> {
        let bytes = match store.project_model(project_id, PROJECT_FAST_MODEL_KIND).await? {
            Some(bytes) => bytes,
            None => match self.legacy_fast_model_path(project_id).filter(|p| p.exists()) {
                None => return Ok(FastRef::Shipped(FastModel::shipped())),
                Some(path) => {
                    let bytes = std::fs::read(&path)
                        .map_err(|e| PipelineError::Model(format!("cannot read {}: {e}", path.display())))?;
                    check_fast_model(&bytes)?;
                    store.set_project_model(project_id, PROJECT_FAST_MODEL_KIND, Some(&bytes), Utc::now()).await?;
                    let _ = std::fs::remove_file(&path);
                    tracing::info!(file = %path.display(), project_id, "the project's retrained model moved into the database");
                    bytes
                }
            },
        };
        if let Some(found) = outdated(&bytes) {
            tracing::warn!(
                project_id,
                found,
                "the project's retrained sentiment model was made by an earlier version (features version {found}); \
                 the shipped model is used until `vigie train sentiment` retrains it"
            );
            return Ok(FastRef::Shipped(FastModel::shipped()));
        }
        Ok(FastRef::Project(Arc::new(check_fast_model(&bytes)?)))
    }

    /// Whether the project has a retrained model this build cannot read
    /// because an earlier version made it: its features version, then.
    pub async fn outdated_fast_model(&self, store: &dyn Store, project_id: i64) -> Result<Option<u16>, PipelineError> {
        Ok(store.project_model(project_id, PROJECT_FAST_MODEL_KIND).await?.and_then(|b| outdated(&b)))
    }

    /// The project's analyzer: its fast model, and its themes (seeded with
    /// the default taxonomy the first time, with the default workflow) with
    /// the routing classifier.
    pub async fn analyzer(&self, store: &dyn Store, project_id: i64) -> Result<Analyzer, PipelineError> {
        let fast = self.fast_model(store, project_id).await?;
        seed_defaults(store, project_id, Utc::now()).await?;
        let themes = store.list_themes(project_id).await?;
        let themes = CompiledThemes::new(themes, Some(Box::new(RoutingClassifier::shipped())))
            .map_err(|error| PipelineError::InvalidStoredQuery { watch: "(theme)".into(), error })?;
        Ok(Analyzer::new(fast, themes))
    }
}

/// A new project's defaults: the default taxonomy, and from it the default
/// workflow (departments and routing rules), so that its settings show them
/// before its first mention. Each part is a no-op once the project has it.
pub async fn seed_defaults(store: &dyn Store, project_id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    store.seed_themes(project_id, &default_themes(), now).await?;
    crate::routing::seed_workflow(store, project_id, now).await?;
    Ok(())
}

/// The features version of a model an earlier version made, which this
/// build cannot read (`None` for a readable or a damaged one).
fn outdated(bytes: &[u8]) -> Option<u16> {
    match FastModel::from_bytes(bytes) {
        Err(vigie_sentiment::ModelError::FeaturesVersion { found, supported }) if found < supported => Some(found),
        _ => None,
    }
}

/// A project's retrained model, read; a damaged one says what to do.
fn check_fast_model(bytes: &[u8]) -> Result<FastModel, PipelineError> {
    FastModel::from_bytes(bytes).map_err(|e| {
        PipelineError::Model(format!(
            "the project's retrained sentiment model is unusable ({e}); run `vigie train sentiment` again, \
             or `vigie train sentiment --reset` to go back to the shipped model"
        ))
    })
}

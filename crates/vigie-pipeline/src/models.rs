//! Where a project's models come from.
//!
//! The fast sentiment model and the routing model ship inside the binary. A
//! project that retrained the fast model on its own corrections (`vigie train
//! sentiment`) has it in `<data dir>/projects/<id>/sentiment-fast.bin`, which
//! then wins: it belongs to that database's project, so it lives beside the
//! database. The encoder's weights, installed by `vigie models install`, live
//! in the models directory (`<data dir>/models/` unless `--models-dir` says
//! otherwise), which several data directories may share.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use vigie_sentiment::FastModel;
use vigie_store::Store;

use crate::PipelineError;
use crate::analyze::{Analyzer, RoutingClassifier};
use crate::themes::{CompiledThemes, default_themes};

/// File name of a project's retrained fast model.
pub const PROJECT_FAST_MODEL: &str = "sentiment-fast.bin";

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

    /// Where the project's retrained fast model is (or would be) kept.
    pub fn project_fast_model_path(&self, project_id: i64) -> Option<PathBuf> {
        self.projects.as_ref().map(|d| d.join(project_id.to_string()).join(PROJECT_FAST_MODEL))
    }

    /// The project's retrained fast model if it has one, else the shipped
    /// one. A damaged file is an error naming it, not a silent fallback.
    pub fn fast_model(&self, project_id: i64) -> Result<FastRef, PipelineError> {
        let Some(path) = self.project_fast_model_path(project_id).filter(|p| p.exists()) else {
            return Ok(FastRef::Shipped(FastModel::shipped()));
        };
        let bytes =
            std::fs::read(&path).map_err(|e| PipelineError::Model(format!("cannot read {}: {e}", path.display())))?;
        let model = FastModel::from_bytes(&bytes).map_err(|e| {
            PipelineError::Model(format!(
                "the project's retrained sentiment model {} is unusable ({e}); run `vigie train sentiment` again or remove the file",
                path.display()
            ))
        })?;
        Ok(FastRef::Project(Arc::new(model)))
    }

    /// The project's analyzer: its fast model, and its themes (seeded with
    /// the default taxonomy the first time, with the default workflow) with
    /// the routing classifier.
    pub async fn analyzer(&self, store: &dyn Store, project_id: i64) -> Result<Analyzer, PipelineError> {
        let fast = self.fast_model(project_id)?;
        let now = Utc::now();
        store.seed_themes(project_id, &default_themes(), now).await?;
        // New projects also get the default workflow (departments and
        // routing rules from the themes); a no-op once they have departments.
        crate::routing::seed_workflow(store, project_id, now).await?;
        let themes = store.list_themes(project_id).await?;
        let themes = CompiledThemes::new(themes, Some(Box::new(RoutingClassifier::shipped())))
            .map_err(|error| PipelineError::InvalidStoredQuery { watch: "(theme)".into(), error })?;
        Ok(Analyzer::new(fast, themes))
    }
}

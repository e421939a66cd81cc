//! The one path every mention takes, whatever its source:
//!
//! ```text
//! collect / import → normalize → dedup → match → analyze → store
//! ```
//!
//! - [`ingest`]: the path itself, split into a CPU half run in parallel
//!   (normalize, language, match every watch of the project, full-text index
//!   text) and an IO half (one transaction; the store deduplicates);
//! - [`import`] and [`import_run`]: JSON Lines / CSV import files, streamed;
//! - [`collect_run`]: one collection cycle over the due sources;
//! - [`search`]: full-text pre-filter from the store, confirmed by the same
//!   matcher as the watches, and the backfill of a new watch.
//!
//! - [`analyze`]: sentiment, themes, near-duplicate signature and reach of
//!   each mention, with the project's [`models`] and [`themes`];
//! - [`stories`]: near-duplicate copies grouped into stories after insert;
//! - [`refine`]: the encoder tier, refining stored verdicts in the background;
//! - [`routing`]: new mentions routed to their department's inbox, overdue
//!   ones escalated.

pub mod alerts;
pub mod analyze;
pub mod collect_run;
pub mod export;
pub mod import;
pub mod import_run;
pub mod ingest;
pub mod models;
pub mod notify_run;
pub mod refine;
pub mod routing;
pub mod search;
pub mod sources;
pub mod stories;
pub mod themes;

pub use collect_run::{
    CollectContext, CollectReport, Lease, Reading, RunError, StopSignal, collect_due, collect_sources, read_source,
    release_dead_local_leases, run_pending_rules,
};
pub use import::{ImportFormat, parse_datetime, read_import};
pub use import_run::{ImportSummary, run_import};
pub use ingest::{CompiledWatches, IngestReport, Ingestor, LangFilter, document};
pub use search::{SearchHit, backfill_watch, search};
pub use sources::{Secrets, SourceParams, SourceSpec};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] vigie_store::StoreError),
    #[error("the stored query of watch {watch:?} no longer parses: {error}")]
    InvalidStoredQuery { watch: String, error: String },
    #[error("{0}")]
    Model(String),
    #[error("internal error: {0}")]
    Internal(String),
}

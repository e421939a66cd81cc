//! Text understanding for Vigie.
//!
//! Everything here is a pure function of its input: no IO, no clock (times are
//! passed in), so the pipeline, the evaluation commands and the benchmarks all
//! run the same code.
//!
//! - [`text`]: hostile HTML to clean text;
//! - [`canonical_url`]: one spelling per page;
//! - [`lang`]: language identification with a confidence;
//! - [`normalize`]: a [`vigie_model::RawMention`] into a [`vigie_model::Mention`];
//! - [`neardup`]: near-duplicate signatures and story grouping (copies of one text);
//! - [`reach`]: audience, engagement and a 0–100 reach score comparable across sources.

pub mod canonical_url;
pub mod lang;
pub mod markup;
pub mod neardup;
pub mod normalize;
pub mod reach;
pub mod text;

pub use canonical_url::{UrlError, canonical_url, is_comment_anchor, site_of};
pub use lang::{Detected, RELIABLE_CONFIDENCE, detect_language, normalize_lang_tag};
pub use neardup::{Signature, StoryIndex};
pub use normalize::{NormalizeLimits, Rejection, content_hash, normalize};
pub use reach::{Reach, ReachSignals};
pub use text::{clean_text, html_to_text};

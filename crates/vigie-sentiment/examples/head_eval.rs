//! Design check of the encoder head with embeddings computed outside Rust.
//!
//! `head_eval DATA_DIR EMB_FILE [--write]` where EMB_FILE holds records of
//! `u64 LE FNV-1a(text) ++ 384 × f32 LE` (multilingual-e5-small "passage:"
//! embeddings, L2-normalised). Datasets whose train and eval texts all have an
//! embedding are used: out-of-fold fast probabilities and the head are trained
//! on their train parts (`train_encoder_head`), and the head is scored on
//! their eval parts, stacked on the shipped fast model.

use std::collections::HashMap;
use std::path::PathBuf;

use vigie_sentiment::data::{self, Dataset};
use vigie_sentiment::metrics::{decide, evaluate};
use vigie_sentiment::{
    Example, FastModel, HeadOptions, HeadSet, sentiment_train_options, stable_hash,
    train_encoder_head, train_sets,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        args.first()
            .cloned()
            .unwrap_or_else(|| "../shared/data".into()),
    );
    let emb_path = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "/tmp/e5cache/emb.bin".into());
    let bytes = std::fs::read(&emb_path).unwrap_or_else(|e| panic!("{emb_path}: {e}"));
    let rec = 8 + 384 * 4;
    let mut emb: HashMap<u64, Vec<f32>> = HashMap::new();
    for r in bytes.chunks_exact(rec) {
        let mut h = [0u8; 8];
        h.copy_from_slice(&r[..8]);
        let v = r[8..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        emb.insert(u64::from_le_bytes(h), v);
    }
    println!("{} embeddings", emb.len());
    let mut used: Vec<(Dataset, data::Split)> = Vec::new();
    for ds in Dataset::ALL.into_iter().filter(|d| !d.eval_only()) {
        let Ok(s) = data::load(&dir, ds) else {
            continue;
        };
        let have = |v: &[Example]| v.iter().all(|e| emb.contains_key(&stable_hash(&e.text)));
        if have(&s.train) && have(&s.eval) {
            used.push((ds, s));
        } else {
            println!("skipping {} (embeddings incomplete)", ds.name());
        }
    }
    let embs: Vec<Vec<Vec<f32>>> = used
        .iter()
        .map(|(_, s)| {
            s.train
                .iter()
                .map(|e| emb[&stable_hash(&e.text)].clone())
                .collect()
        })
        .collect();
    let sets: Vec<HeadSet<'_>> = used
        .iter()
        .zip(&embs)
        .map(|((ds, s), e)| HeadSet {
            examples: &s.train,
            embeddings: e,
            polar_only: ds.binary(),
            weight: 1.0,
        })
        .collect();
    let fast_opts = sentiment_train_options();
    let mut hopts = HeadOptions::default();
    for a in &args[2..] {
        if let Some(v) = a.strip_prefix("l2=") {
            hopts.l2 = v.parse().unwrap_or(hopts.l2);
        }
        if let Some(v) = a.strip_prefix("epochs=") {
            hopts.epochs = v.parse().unwrap_or(hopts.epochs);
        }
        if let Some(v) = a.strip_prefix("lr=") {
            hopts.learning_rate = v.parse().unwrap_or(hopts.learning_rate);
        }
    }
    let t0 = std::time::Instant::now();
    let head = train_encoder_head(&sets, |s| train_sets(s, &fast_opts), &hopts);
    println!(
        "head trained in {:.0}s ({:?})",
        t0.elapsed().as_secs_f64(),
        hopts
    );
    if args.iter().any(|a| a == "--write") {
        let out = concat!(env!("CARGO_MANIFEST_DIR"), "/model/encoder-head-v1.bin");
        std::fs::write(out, head.to_bytes()).unwrap_or_else(|e| panic!("{e}"));
    }
    let fast = FastModel::shipped();
    println!("| dataset | fast acc | fast macro-F1 | head acc | head macro-F1 |");
    println!("|---|---|---|---|---|");
    for (ds, s) in &used {
        let (mut g, mut pf, mut ph) = (Vec::new(), Vec::new(), Vec::new());
        for e in &s.eval {
            let p = fast
                .probabilities(&e.text, &e.lang)
                .unwrap_or([1.0 / 3.0; 3]);
            let h = head.probabilities(&emb[&stable_hash(&e.text)], &p);
            g.push(e.label);
            pf.push(decide(p, ds.binary()));
            ph.push(decide(h, ds.binary()));
        }
        let (rf, rh) = (evaluate(&g, &pf), evaluate(&g, &ph));
        println!(
            "| {} | {:.4} | {:.4} | {:.4} | {:.4} |",
            ds.name(),
            rf.accuracy,
            rf.macro_f1,
            rh.accuracy,
            rh.macro_f1
        );
    }
}

//! Train the shipped models, write them to `model/`, and print the scores on
//! the eval parts of every dataset.
//!
//! `cargo run --release -p vigie-sentiment --example train -- ../shared/data [--no-write]`

use std::path::{Path, PathBuf};
use std::time::Instant;

use vigie_sentiment::data::{self, Dataset};
use vigie_sentiment::metrics::{decide, evaluate, evaluate_classes, pearson};
use vigie_sentiment::{FastModel, LinearClassifier, train_shipped};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        args.iter()
            .find(|a| !a.starts_with("--"))
            .cloned()
            .unwrap_or_else(|| "../shared/data".into()),
    );
    let write = !args.iter().any(|a| a == "--no-write");
    let t0 = Instant::now();
    let models = match train_shipped(&dir, |m| {
        eprintln!("[{:>5.1}s] {m}", t0.elapsed().as_secs_f64())
    }) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("model");
    let fast_bytes = models.sentiment.to_bytes();
    let routing_bytes = models.routing.to_bytes();
    if write {
        for (name, bytes) in [
            ("fast-v1.bin", &fast_bytes),
            ("routing-v1.bin", &routing_bytes),
        ] {
            if let Err(e) = std::fs::write(out.join(name), bytes) {
                eprintln!("error: writing {name}: {e}");
                std::process::exit(1);
            }
            println!("wrote model/{name} ({} bytes)", bytes.len());
        }
    }
    // Score the bytes as shipped (quantised, decoded).
    let fast = FastModel::from_bytes(&fast_bytes).unwrap_or_else(|e| panic!("{e}"));
    let routing = LinearClassifier::from_bytes(&routing_bytes).unwrap_or_else(|e| panic!("{e}"));
    println!("temperature {:.3}", fast.temperature());
    println!("| dataset | eval rows | accuracy | macro-F1 | F1 neg / neu / pos |");
    println!("|---|---|---|---|---|");
    for ds in Dataset::ALL {
        let split = match data::load(&dir, ds) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{}: {e}", ds.name());
                continue;
            }
        };
        let mut gold = Vec::new();
        let mut pred = Vec::new();
        let mut unknown = 0;
        for e in &split.eval {
            match fast.probabilities(&e.text, &e.lang) {
                Some(p) => {
                    gold.push(e.label);
                    pred.push(decide(p, ds.binary()));
                }
                None => unknown += 1,
            }
        }
        let r = evaluate(&gold, &pred);
        let f1: Vec<String> = r.per_class.iter().map(|c| format!("{:.3}", c.f1)).collect();
        println!(
            "| {}{} | {} | {:.4} | {:.4} | {} |",
            ds.name(),
            if ds.binary() { " (binary)" } else { "" },
            split.eval.len(),
            r.accuracy,
            r.macro_f1,
            f1.join(" / ")
        );
        if unknown > 0 {
            println!("  ({unknown} eval texts had nothing to judge)");
        }
    }
    if let Ok(graded) = data::vader_graded(&dir) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (t, v) in &graded {
            if let Some(vd) = fast.predict(t, "en") {
                a.push(vd.score);
                b.push(*v);
            }
        }
        println!(
            "vader-icwsm2014 graded: Pearson r(score, human valence) = {:.4} over {}",
            pearson(&a, &b),
            a.len()
        );
    }
    if let Ok(split) = data::airline_routing(&dir) {
        let classes = routing.classes().to_vec();
        let mut gold = Vec::new();
        let mut pred = Vec::new();
        for (t, c) in &split.eval {
            let Some(p) = routing.predict(t, "en") else {
                continue;
            };
            let Some(gi) = classes.iter().position(|x| x == c) else {
                continue;
            };
            let pi = classes.iter().position(|x| *x == p[0].0).unwrap_or(0);
            gold.push(gi);
            pred.push(pi);
        }
        let r = evaluate_classes(&gold, &pred, &classes);
        println!(
            "routing eval: n={} accuracy={:.4} macro-F1={:.4}",
            r.n, r.accuracy, r.macro_f1
        );
        for c in &r.per_class {
            println!(
                "  {:<20} P={:.3} R={:.3} F1={:.3} n={}",
                c.class, c.precision, c.recall, c.f1, c.support
            );
        }
    }
    println!("total {:.1}s", t0.elapsed().as_secs_f64());
}

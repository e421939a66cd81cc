//! Hyper-parameter selection by k-fold cross-validation INSIDE the training
//! parts (the eval parts are never read here).
//!
//! `cargo run --release -p vigie-sentiment --example tune -- ../shared/data [key=value …]`
//! keys: bits cmin cmax scope(word|text) bigrams trigrams neg lang(shared|separate|both)
//! sqrt idioms epochs lr l2 balance folds w.<dataset-name>=weight
//! Prints per-dataset CV scores: accuracy for binary datasets and the airline
//! tweets, macro-F1 for the other 3-class sets.

use std::path::PathBuf;
use std::time::Instant;

use vigie_sentiment::data::{self, Dataset};
use vigie_sentiment::metrics::{decide, evaluate};
use vigie_sentiment::{CharScope, Example, LangMode, TrainOptions, TrainSet, train_sets};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "../shared/data".into()));
    let mut o = TrainOptions {
        calibration_folds: 0,
        ..TrainOptions::default()
    };
    let mut folds = 3usize;
    let mut weights: Vec<(Dataset, f32)> = Vec::new();
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            continue;
        };
        let f = &mut o.features;
        match k {
            "bits" => f.bits = v.parse().unwrap_or(f.bits),
            "cmin" => f.char_min = v.parse().unwrap_or(f.char_min),
            "cmax" => f.char_max = v.parse().unwrap_or(f.char_max),
            "scope" => {
                f.char_scope = if v == "text" {
                    CharScope::Text
                } else {
                    CharScope::Word
                }
            }
            "bigrams" => f.word_bigrams = v == "1",
            "trigrams" => f.word_trigrams = v == "1",
            "neg" => f.negation_marking = v == "1",
            "idioms" => f.idioms = v.parse().unwrap_or(f.idioms),
            "sqrt" => f.sqrt_norm = v == "1",
            "lang" => {
                f.lang = match v {
                    "separate" => LangMode::Separate,
                    "both" => LangMode::Both,
                    _ => LangMode::Shared,
                }
            }
            "epochs" => o.epochs = v.parse().unwrap_or(o.epochs),
            "lr" => o.learning_rate = v.parse().unwrap_or(o.learning_rate),
            "l2" => o.l2 = v.parse().unwrap_or(o.l2),
            "balance" => o.balance_classes = v == "1",
            "review" => {
                o.review = (v == "1").then(vigie_sentiment::ReviewOptions::default);
            }
            "r_epochs" | "r_lr" | "r_l2" | "r_alpha" | "r_len" | "r_bits" => {
                let r = o.review.get_or_insert_with(Default::default);
                match k {
                    "r_bits" => r.bits = v.parse().unwrap_or(r.bits),
                    "r_epochs" => r.epochs = v.parse().unwrap_or(r.epochs),
                    "r_lr" => r.learning_rate = v.parse().unwrap_or(r.learning_rate),
                    "r_l2" => r.l2 = v.parse().unwrap_or(r.l2),
                    "r_alpha" => r.alpha = v.parse().unwrap_or(r.alpha),
                    _ => r.length_mix = v == "1",
                }
            }
            "folds" => folds = v.parse().unwrap_or(folds),
            _ if k.starts_with("w.") => {
                if let Some(ds) = Dataset::ALL.iter().find(|d| d.name() == &k[2..]) {
                    weights.push((*ds, v.parse().unwrap_or(1.0)));
                }
            }
            _ => eprintln!("unknown key {k}"),
        }
    }
    let splits: Vec<(Dataset, Vec<Example>)> = Dataset::ALL
        .into_iter()
        .filter(|d| !d.eval_only())
        .map(|d| (d, data::load(&dir, d).map(|s| s.train).unwrap_or_default()))
        .collect();
    // fold of each row: stable hash of its text (duplicates stay together)
    let fold_of = |e: &Example| (data::split_bucket(&e.text) as usize * 7919 / 13) % folds;
    let mut preds: Vec<Vec<(usize, [f32; 3])>> = vec![Vec::new(); splits.len()];
    let t0 = Instant::now();
    for k in 0..folds {
        let parts: Vec<Vec<Example>> = splits
            .iter()
            .map(|(_, v)| v.iter().filter(|e| fold_of(e) != k).cloned().collect())
            .collect();
        let sets: Vec<TrainSet<'_>> = splits
            .iter()
            .zip(&parts)
            .map(|((d, _), p)| TrainSet {
                examples: p,
                polar_only: d.binary(),
                weight: weights.iter().find(|(w, _)| w == d).map_or(1.0, |x| x.1),
            })
            .collect();
        let m = train_sets(&sets, &o);
        for (si, (_, v)) in splits.iter().enumerate() {
            for (i, e) in v.iter().enumerate() {
                if fold_of(e) == k {
                    let p = m
                        .probabilities(&e.text, &e.lang)
                        .unwrap_or([0.34, 0.33, 0.33]);
                    preds[si].push((i, p));
                }
            }
        }
    }
    // Hand-written phrases (not dataset rows), read by a model trained on
    // every train row: `PHRASES=1`.
    if std::env::var_os("PHRASES").is_some() {
        let sets: Vec<TrainSet<'_>> = splits
            .iter()
            .map(|(d, v)| TrainSet {
                examples: v,
                polar_only: d.binary(),
                weight: weights.iter().find(|(w, _)| w == d).map_or(1.0, |x| x.1),
            })
            .collect();
        let m = train_sets(&sets, &o);
        for (t, l) in PHRASES {
            if let Some(v) = m.predict(t, l) {
                println!("phrase {:>8} {:+.2} {t}", format!("{:?}", v.label), v.score);
            }
        }
    }
    let (mut fr_ok, mut fr_n) = (0usize, 0usize);
    let mut line = String::new();
    let mut total = 0.0;
    for (si, (d, v)) in splits.iter().enumerate() {
        let gold: Vec<_> = preds[si].iter().map(|(i, _)| v[*i].label).collect();
        let pred: Vec<_> = preds[si]
            .iter()
            .map(|(_, p)| decide(*p, d.binary()))
            .collect();
        let r = evaluate(&gold, &pred);
        if d.binary() {
            fr_ok += gold.iter().zip(&pred).filter(|(a, b)| a == b).count();
            fr_n += gold.len();
        }
        let (name, s) = if d.binary() || *d == Dataset::Airline {
            ("acc", r.accuracy)
        } else {
            ("mF1", r.macro_f1)
        };
        total += s;
        line.push_str(&format!("{}:{}={:.4} ", &d.name()[..8], name, s));
    }
    println!(
        "{line}| FR reviews={:.4} | mean={:.4} | {:.0}s | {:?} epochs={} lr={} l2={} bal={} w={:?} review={:?}",
        fr_ok as f64 / fr_n.max(1) as f64,
        total / splits.len() as f64,
        t0.elapsed().as_secs_f64(),
        o.features,
        o.epochs,
        o.learning_rate,
        o.l2,
        o.balance_classes,
        weights,
        o.review
    );
}

const PHRASES: &[(&str, &str)] = &[
    ("not bad", "en"),
    ("not bad at all", "en"),
    ("C'est pas mal du tout", "fr"),
    ("Aucun problème avec Acme", "fr"),
    ("Pas de problème avec Acme, livré à l'heure", "fr"),
    ("Acme never disappoints", "en"),
    ("jamais déçu", "fr"),
    ("SAV Acme très réactif, problème réglé en 24h", "fr"),
    ("Toujours pas reçu ma commande Acme", "fr"),
    ("Je ne recommande pas Acme", "fr"),
    ("Le SAV d'Acme est injoignable", "fr"),
    ("Acme m'a facturé deux fois", "fr"),
    ("pas terrible", "fr"),
    ("jamais reçu ma commande", "fr"),
    ("still waiting for my refund, 3 weeks", "en"),
    ("not good at all", "en"),
    ("c'est pas bon du tout", "fr"),
    ("no problem at all, thanks for the quick help", "en"),
    ("Acme charged me twice", "en"),
    ("I would not recommend Acme", "en"),
    ("pas mal de problèmes avec Acme", "fr"),
    ("Acme, bof, pas terrible, je déconseille", "fr"),
];

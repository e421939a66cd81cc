//! `vigie bench analyze`: the whole per-mention analysis (cleaning, language,
//! sentiment with its explanation, themes with the routing classifier,
//! near-duplicate signature, reach) on tweet-length text, one core, beside
//! the Python VADER pipeline on the same texts.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context as _;
use chrono::Utc;
use rayon::prelude::*;
use vigie_model::{RawMention, Theme};
use vigie_nlp::{NormalizeLimits, normalize};
use vigie_pipeline::analyze::{Analyzer, RoutingClassifier, signature_of};
use vigie_pipeline::models::FastRef;
use vigie_pipeline::themes::{CompiledThemes, default_themes};
use vigie_sentiment::FastModel;

use crate::bench_synth::{Rng, make_doc, make_watches};
use crate::commands::bench::memory_mib;
use crate::commands::demo::CORPUS;

/// The demo corpus's tweets (real airline tweets, English).
fn demo_texts() -> anyhow::Result<Vec<String>> {
    let reader = BufReader::new(flate2::read::GzDecoder::new(CORPUS));
    let mut out = Vec::new();
    for line in reader.lines() {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        if let Some(t) = v["text"].as_str() {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

fn analyzer() -> anyhow::Result<Analyzer> {
    let themes: Vec<Theme> = default_themes()
        .into_iter()
        .enumerate()
        .map(|(i, t)| Theme { id: i as i64, key: t.key, name: t.name, department: t.department, query: t.query })
        .collect();
    let compiled =
        CompiledThemes::new(themes, Some(Box::new(RoutingClassifier::shipped()))).map_err(anyhow::Error::msg)?;
    Ok(Analyzer::new(FastRef::Shipped(FastModel::shipped()), compiled))
}

struct Timing {
    normalize: f64,
    analyze: f64,
    signature: f64,
}

/// One core: every stage over every text, timed per stage.
fn one_core(analyzer: &Analyzer, texts: &[String]) -> Timing {
    let now = Utc::now();
    let limits = NormalizeLimits::default();
    let mut t = Timing { normalize: 0.0, analyze: 0.0, signature: 0.0 };
    for text in texts {
        let raw = RawMention { text: text.clone(), plain_text: true, ..RawMention::default() };
        let a = Instant::now();
        let Ok(mut m) = normalize(raw, now, &limits) else {
            continue;
        };
        let b = Instant::now();
        m.analysis = analyzer.analyze(&m, &Default::default());
        let c = Instant::now();
        std::hint::black_box(signature_of(&m));
        let d = Instant::now();
        t.normalize += (b - a).as_secs_f64();
        t.analyze += (c - b).as_secs_f64();
        t.signature += (d - c).as_secs_f64();
        std::hint::black_box(&m);
    }
    t
}

fn all_cores(analyzer: &Analyzer, texts: &[String]) -> f64 {
    let now = Utc::now();
    let limits = NormalizeLimits::default();
    let start = Instant::now();
    let n: usize = texts
        .par_iter()
        .map(|text| {
            let raw = RawMention { text: text.clone(), plain_text: true, ..RawMention::default() };
            let Ok(mut m) = normalize(raw, now, &limits) else {
                return 0;
            };
            m.analysis = analyzer.analyze(&m, &Default::default());
            std::hint::black_box(signature_of(&m));
            1
        })
        .sum();
    n as f64 / start.elapsed().as_secs_f64()
}

/// Rows per second of scripts/vader_baseline.py's scoring loop.
fn vader_rate(python: &Path, texts: &[String]) -> anyhow::Result<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/vader_baseline.py");
    let mut child = Command::new(python)
        .arg(&script)
        .arg("--bench")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", python.display()))?;
    let mut input = String::new();
    for (i, t) in texts.iter().enumerate() {
        input.push_str(&serde_json::json!({"id": i, "text": t, "lang": "en"}).to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().context("no stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output()?;
    writer.join().map_err(|_| anyhow::anyhow!("writer stopped"))??;
    anyhow::ensure!(output.status.success(), "the VADER baseline failed; is vaderSentiment installed?");
    let v: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    Ok(v["rows"].as_f64().unwrap_or(0.0) / v["seconds"].as_f64().unwrap_or(1.0).max(1e-9))
}

/// Texts per second of the encoder tier (embedding + head), all cores.
fn encoder_rate(models_dir: &Path, texts: &[String]) -> anyhow::Result<Option<(f64, usize)>> {
    let Some(refiner) = vigie_pipeline::refine::Refiner::load(models_dir)? else { return Ok(None) };
    let sample: Vec<(String, Option<String>)> =
        texts.iter().take(1_000).map(|t| (t.clone(), Some("en".to_string()))).collect();
    let fast = FastModel::shipped();
    let start = Instant::now();
    for chunk in sample.chunks(vigie_pipeline::refine::REFINE_BATCH) {
        std::hint::black_box(refiner.refine_texts(fast, chunk));
    }
    Ok(Some((sample.len() as f64 / start.elapsed().as_secs_f64(), sample.len())))
}

pub fn run(
    count: usize,
    python: Option<&Path>,
    models_dir: &Path,
    report: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (rss0, _) = memory_mib();
    let analyzer = analyzer()?;
    // Decoding the shipped models happens on first use.
    let warm = RawMention { text: "warm up the models, merci".into(), plain_text: true, ..RawMention::default() };
    if let Ok(m) = normalize(warm, Utc::now(), &NormalizeLimits::default()) {
        std::hint::black_box(analyzer.analyze(&m, &Default::default()));
    }
    let (rss_models, _) = memory_mib();

    let demo = demo_texts()?;
    let real: Vec<String> = demo.iter().cycle().take(count.max(1)).cloned().collect();
    let mut r = Rng(0x5EED_2026);
    let (_, brands) = make_watches(&mut r, 1_000);
    let synthetic: Vec<String> = (0..count.max(1)).map(|_| make_doc(&mut r, &brands)).collect();

    let mut s = String::new();
    writeln!(s, "## Analysis (`vigie bench analyze`)\n")?;
    writeln!(
        s,
        "`cargo run --release -- bench analyze --python .venv-vader/bin/python --report docs/BENCHMARKS.md` on {}, {}. \
         Per mention, what the pipeline runs: cleaning and language identification, the fast sentiment model with its \
         explanation, themes (keywords and the routing classifier), the near-duplicate signature and reach. One core \
         unless said otherwise. Corpora: the {} real airline tweets of the demo (English, average {:.0} characters), \
         cycled to {count}; and {count} synthetic tweet-length French and English texts (`vigie bench corpus`).\n",
        crate::commands::bench::machine(),
        Utc::now().format("%Y-%m-%d"),
        demo.len(),
        demo.iter().map(|t| t.chars().count()).sum::<usize>() as f64 / demo.len().max(1) as f64,
    )?;
    writeln!(
        s,
        "| corpus | mentions | whole analysis, 1 core | cleaning + language | sentiment + themes + reach | signature | all cores |"
    )?;
    writeln!(s, "|---|---|---|---|---|---|---|")?;
    for (name, texts) in [("demo airline tweets", &real), ("synthetic FR/EN", &synthetic)] {
        eprintln!("timing {name}…");
        let t = one_core(&analyzer, texts);
        let total = t.normalize + t.analyze + t.signature;
        let n = texts.len() as f64;
        let par = all_cores(&analyzer, texts);
        writeln!(
            s,
            "| {name} | {} | **{:.0}/s** | {:.1} µs | {:.1} µs | {:.1} µs | {:.0}/s |",
            texts.len(),
            n / total,
            t.normalize / n * 1e6,
            t.analyze / n * 1e6,
            t.signature / n * 1e6,
            par
        )?;
    }
    let (rss, peak) = memory_mib();
    writeln!(
        s,
        "\nMemory: {rss0:.0} MiB resident at start, {rss_models:.0} MiB once the shipped models are decoded \
         (sentiment and routing weights), {rss:.0} MiB after the runs (the corpora in memory), peak {peak:.0} MiB.\n"
    )?;
    eprintln!("timing the encoder tier…");
    match encoder_rate(models_dir, &demo)? {
        Some((rate, n)) => writeln!(
            s,
            "Encoder tier (multilingual-e5-small 4-bit, Rust port, and the sentiment head), {n} demo tweets in batches \
             of {}, all cores: **{rate:.0} texts/s**, the rate at which stored verdicts are refined in the background.\n",
            vigie_pipeline::refine::REFINE_BATCH
        )?,
        None => writeln!(s, "The encoder tier was not timed (not installed: `vigie models install`).\n")?,
    }
    match python {
        Some(python) => {
            eprintln!("timing the Python VADER baseline…");
            let vader = vader_rate(python, &real)?;
            let t = one_core(&analyzer, &real);
            let ours = real.len() as f64 / (t.normalize + t.analyze + t.signature);
            writeln!(
                s,
                "Python VADER (`vaderSentiment`, the scoring loop alone, no cleaning, language, themes or \
                 duplicates) on the same demo tweets: **{vader:.0}/s** on one core. Vigie's whole analysis is \
                 **{:.1}×** faster.\n",
                ours / vader
            )?;
        }
        None => writeln!(s, "The Python VADER comparison was not run (give `--python`).\n")?,
    }
    match report {
        Some(path) => {
            crate::report::write_section(path, "analyze", &s, crate::report::BENCHMARKS_HEADER)?;
            writeln!(out, "analysis benchmark written to {}", path.display())?;
        }
        None => out.write_all(s.as_bytes())?,
    }
    Ok(())
}

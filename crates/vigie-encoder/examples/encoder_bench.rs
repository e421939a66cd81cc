//! Throughput of the encoder on a file of texts, one per line.
//!
//! ```text
//! cargo run --release -p vigie-encoder --example encoder_bench -- MODEL TEXTS [REPEATS]
//! ```
//!
//! Prints the best of REPEATS (default 3) runs of `embed` on each text in
//! turn (one thread) and of `embed_batch` on all of them (rayon's pool:
//! set `RAYON_NUM_THREADS`).

use std::time::Instant;

use vigie_encoder::Encoder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(model), Some(texts)) = (args.next(), args.next()) else {
        return Err("usage: bench MODEL TEXTS [REPEATS]".into());
    };
    let repeats: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(3);
    let t = Instant::now();
    let enc = Encoder::load(model.as_ref())?;
    println!("loaded in {:.2}s: {enc:?}", t.elapsed().as_secs_f64());
    let body = std::fs::read_to_string(&texts)?;
    let texts: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    let tokens: usize = texts.iter().map(|t| enc.token_count(t, false)).sum();
    enc.embed_batch(&texts[..texts.len().min(8)], false);
    let report = |mode: &str, secs: f64| {
        println!(
            "{mode}: {secs:.3}s for {} texts ({tokens} tokens): {:.1} texts/s, {:.0} tokens/s",
            texts.len(),
            texts.len() as f64 / secs,
            tokens as f64 / secs
        );
    };
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let t = Instant::now();
        for text in &texts {
            std::hint::black_box(enc.embed(text, false));
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    report("embed (one thread)", best);
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let t = Instant::now();
        std::hint::black_box(enc.embed_batch(&texts, false));
        best = best.min(t.elapsed().as_secs_f64());
    }
    report(
        &format!("embed_batch ({} threads)", rayon::current_num_threads()),
        best,
    );
    Ok(())
}

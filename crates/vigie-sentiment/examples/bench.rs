//! Single-thread speed of the fast model on tweet-length texts.
//! `cargo run --release -p vigie-sentiment --example bench -- ../shared/data`

use std::path::PathBuf;
use std::time::Instant;

use vigie_sentiment::FastModel;
use vigie_sentiment::data::{self, Dataset};

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../shared/data".into()),
    );
    let mut texts: Vec<(String, &str)> = Vec::new();
    for ds in [Dataset::Airline, Dataset::Deft, Dataset::TweetEval] {
        if let Ok(s) = data::load(&dir, ds) {
            texts.extend(
                s.train
                    .into_iter()
                    .chain(s.eval)
                    .map(|e| (e.text, ds.lang())),
            );
        }
    }
    let m = FastModel::shipped();
    let mean_len =
        texts.iter().map(|t| t.0.chars().count()).sum::<usize>() as f64 / texts.len().max(1) as f64;
    println!("{} tweets, mean {:.0} characters", texts.len(), mean_len);
    for (name, explain) in [("probabilities", false), ("predict + explanation", true)] {
        let mut best = f64::MAX;
        let mut best_cpu = f64::MAX;
        let mut sink = 0.0f32;
        for _ in 0..8 {
            let t = Instant::now();
            let c0 = thread_cpu_seconds();
            for (text, lang) in &texts {
                if explain {
                    if let Some(v) = m.predict(text, lang) {
                        sink += v.score + v.explanation.len() as f32;
                    }
                } else if let Some(p) = m.probabilities(text, lang) {
                    sink += p[0];
                }
            }
            best = best.min(t.elapsed().as_secs_f64());
            best_cpu = best_cpu.min(thread_cpu_seconds() - c0);
        }
        println!(
            "{name:<24} {:>9.0} texts/s wall, {:>9.0} texts/s of CPU time (one thread) [{sink:.0}]",
            texts.len() as f64 / best,
            texts.len() as f64 / best_cpu
        );
    }
}

/// This thread's user+system CPU time (Linux `/proc/thread-self/stat`, clock
/// ticks of 10 ms): on a loaded machine, wall time understates the speed.
fn thread_cpu_seconds() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/thread-self/stat") else {
        return f64::NAN;
    };
    let Some(after) = s.rsplit_once(')').map(|x| x.1) else {
        return f64::NAN;
    };
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // fields 14 and 15 of stat; after ")" the first field is 3 (state)
    (ticks(11) + ticks(12)) / 100.0
}

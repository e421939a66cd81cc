//! Speed and memory of `vigie_nlp::neardup`, on one core:
//! `cargo bench -p vigie-nlp --bench neardup_speed`.
//!
//! Texts: the labelled pairs of `testdata/neardup.tsv` (tweets, forum posts,
//! news items with titles) and, when `../shared` is there, the airline tweets.
//! The numbers in the module docs of `neardup` come from this program.

use std::hint::black_box;
use std::io::Read;
use std::time::Instant;

use vigie_nlp::neardup::{Signature, StoryIndex, signature};

fn testdata_texts() -> Vec<(Option<String>, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/neardup.tsv");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("text_a\t") && !l.trim().is_empty())
        .flat_map(|l| l.split('\t').take(2).map(str::to_owned).collect::<Vec<_>>())
        .map(|f| match f.split_once(" || ") {
            Some((t, b)) => (Some(t.to_owned()), b.to_owned()),
            None => (None, f),
        })
        .collect()
}

fn airline_tweets() -> Option<Vec<String>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/twitter-us-airline-sentiment/tweets-dev.csv.gz"
    );
    let file = std::fs::File::open(path).ok()?;
    let mut csv_text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut csv_text)
        .ok()?;
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    Some(
        reader
            .records()
            .filter_map(Result::ok)
            .map(|r| r[4].to_owned())
            .collect(),
    )
}

/// Resident memory of this process, from /proc (Linux), in bytes.
fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn per_second(n: usize, secs: f64) -> String {
    format!(
        "{:>10.0}/s  ({:.2} µs each)",
        n as f64 / secs,
        secs * 1e6 / n as f64
    )
}

fn time_signatures(label: &str, texts: &[(Option<String>, String)], rounds: usize) {
    let words: usize = texts
        .iter()
        .map(|(t, b)| {
            b.split_whitespace().count() + t.as_ref().map_or(0, |t| t.split_whitespace().count())
        })
        .sum();
    let start = Instant::now();
    let mut some = 0usize;
    for _ in 0..rounds {
        for (title, text) in texts {
            some += usize::from(black_box(signature(title.as_deref(), text)).is_some());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "signature, {label:<38} {}   ({} texts, {:.0} words avg, {} signed per round)",
        per_second(texts.len() * rounds, secs),
        texts.len(),
        words as f64 / texts.len() as f64,
        some / rounds
    );
}

fn main() {
    let labelled = testdata_texts();
    let (short, long): (Vec<_>, Vec<_>) = labelled
        .iter()
        .cloned()
        .partition(|(t, b)| t.is_none() && b.split_whitespace().count() <= 40);
    time_signatures("labelled tweets and short posts", &short, 2_000);
    time_signatures("labelled articles and long posts", &long, 2_000);
    let tweets = airline_tweets();
    match &tweets {
        Some(t) => {
            let texts: Vec<_> = t.iter().map(|t| (None, t.clone())).collect();
            time_signatures("airline tweets (real)", &texts, 30);
        }
        None => println!("(airline tweets not found: ../shared is absent)"),
    }

    let base: Vec<String> = match &tweets {
        Some(t) => t.clone(),
        None => short.iter().map(|(_, b)| b.clone()).collect(),
    };
    let n = 1_000_000usize;
    // Copy-heavy: each tweet again and again with a few words appended (two
    // thirds of the mentions join a story; many candidates to check).
    let copies: Vec<Signature> = (0..n)
        .filter_map(|i| {
            signature(
                None,
                &format!(
                    "{} case {} ref {}",
                    base[i % base.len()],
                    i / base.len(),
                    i * 7919
                ),
            )
        })
        .collect();
    // Distinct: every third word replaced by one unique to the mention, so no
    // two mentions share a shingle (band collisions only by chance).
    let distinct: Vec<Signature> = (0..n)
        .filter_map(|i| {
            let text: Vec<String> = base[i % base.len()]
                .split_whitespace()
                .enumerate()
                .map(|(k, w)| {
                    if k % 3 == 1 {
                        format!("u{i}x{k}")
                    } else {
                        w.to_owned()
                    }
                })
                .collect();
            signature(None, &text.join(" "))
        })
        .collect();
    for capacity in [200_000, 1 << 20] {
        run_index("distinct mentions", &distinct, capacity);
        run_index("copy-heavy mentions", &copies, capacity);
    }
}

fn run_index(label: &str, sigs: &[Signature], capacity: usize) {
    let rss_before = rss_bytes();
    let mut index = StoryIndex::new(capacity);
    let fill = capacity.min(sigs.len());
    let start = Instant::now();
    let mut joined = 0usize;
    for (i, s) in sigs.iter().enumerate().take(fill) {
        joined += usize::from(index.assign(i as i64, s) != i as i64);
    }
    let filling = start.elapsed().as_secs_f64();
    let rss_full = rss_bytes();
    let start = Instant::now();
    for (i, s) in sigs.iter().enumerate().skip(fill) {
        joined += usize::from(index.assign(i as i64, s) != i as i64);
    }
    let evicting = start.elapsed().as_secs_f64();
    println!(
        "index of {capacity}, {label} ({joined} of {} joined a story):",
        sigs.len()
    );
    println!(
        "  assign while filling:            {}",
        per_second(fill, filling)
    );
    if sigs.len() > fill {
        println!(
            "  assign when full (evicting):     {}",
            per_second(sigs.len() - fill, evicting)
        );
    }
    // The band cells are allocated for the whole capacity up front.
    print!(
        "  memory: {} bytes per indexed mention (heap, {} of {capacity} held)",
        index.heap_bytes() / index.len().max(1),
        index.len()
    );
    if let (Some(before), Some(after)) = (rss_before, rss_full) {
        print!(
            ", resident memory +{} bytes per mention",
            after.saturating_sub(before) / fill.max(1)
        );
    }
    println!(
        "; a stored signature is {} bytes",
        vigie_nlp::neardup::SIGNATURE_BYTES
    );
}

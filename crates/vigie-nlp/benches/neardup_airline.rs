//! Story grouping on real tweets: the 11,681 airline tweets of
//! `../shared/data/twitter-us-airline-sentiment` (not in this repository),
//! grouped oldest first with the default rule. Prints the counts, the biggest
//! stories, the merges with the lowest similarity (the ones closest to the
//! rule's edge) and the closest pairs the rule left apart, to read by eye:
//! `cargo bench -p vigie-nlp --bench neardup_airline`.

use std::collections::HashMap;
use std::io::Read;

use vigie_nlp::neardup::{Signature, StoryIndex, same_story, signature, similarity};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/twitter-us-airline-sentiment/tweets-dev.csv.gz"
);

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn main() {
    let Ok(file) = std::fs::File::open(DATA) else {
        println!("{DATA} not found: this report needs ../shared beside the repository");
        return;
    };
    let mut csv_text = String::new();
    if let Err(e) = flate2::read::GzDecoder::new(file).read_to_string(&mut csv_text) {
        println!("{DATA}: {e}");
        return;
    }
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    // (tweet id, text); ids grow with time, so sorting by id replays the stream.
    let mut tweets: Vec<(u64, String)> = reader
        .records()
        .filter_map(Result::ok)
        .filter_map(|r| Some((r[0].parse().ok()?, r[4].to_owned())))
        .collect();
    tweets.sort_by_key(|t| t.0);
    let exact_copies = {
        let mut seen = HashMap::new();
        tweets
            .iter()
            .filter(|t| seen.insert(t.1.as_str(), ()).is_some())
            .count()
    };

    let signatures: Vec<Option<Signature>> = tweets.iter().map(|t| signature(None, &t.1)).collect();
    let mut index = StoryIndex::new(200_000);
    let mut members: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, sig) in signatures.iter().enumerate() {
        if let Some(sig) = sig {
            members
                .entry(index.assign(i as i64, sig))
                .or_default()
                .push(i);
        }
    }
    let signed = signatures.iter().flatten().count();
    let mut stories: Vec<&Vec<usize>> = members.values().filter(|m| m.len() > 1).collect();
    stories.sort_by_key(|m| (std::cmp::Reverse(m.len()), m[0]));
    println!(
        "{} tweets ({exact_copies} exact repeats of an earlier text), {} too short for a signature, {signed} signed",
        tweets.len(),
        tweets.len() - signed,
    );
    println!(
        "{} stories; {} with copies, holding {} copies",
        members.len(),
        stories.len(),
        stories.iter().map(|m| m.len() - 1).sum::<usize>()
    );

    println!("\n## Biggest stories");
    for m in stories.iter().take(12) {
        println!("- {} mentions", m.len());
        for &i in m.iter().take(4) {
            println!("    {}", one_line(&tweets[i].1));
        }
    }

    // Each copy with the earlier member of its story it is most similar to.
    let sig = |i: usize| signatures[i].as_ref();
    let mut merges: Vec<(f32, usize, usize)> = Vec::new();
    for m in &stories {
        for (k, &i) in m.iter().enumerate().skip(1) {
            let best = m[..k]
                .iter()
                .filter_map(|&j| Some((similarity(sig(i)?, sig(j)?), j)))
                .fold((0.0f32, m[0]), |a, b| if b.0 > a.0 { b } else { a });
            merges.push((best.0, i, best.1));
        }
    }
    merges.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!("\n## Merges with the lowest similarity");
    for &(j, a, b) in merges.iter().take(15) {
        println!(
            "- {j:.3}\n    {}\n    {}",
            one_line(&tweets[a].1),
            one_line(&tweets[b].1)
        );
    }

    // The closest pairs left apart: every pair, by brute force (61M pairs).
    let story_of: HashMap<usize, i64> = members
        .iter()
        .flat_map(|(story, m)| m.iter().map(move |&i| (i, *story)))
        .collect();
    let signed_ids: Vec<usize> = (0..tweets.len())
        .filter(|&i| signatures[i].is_some())
        .collect();
    let mut apart: Vec<(f32, usize, usize)> = Vec::new();
    let mut rule_pairs_apart = 0usize;
    for (x, &i) in signed_ids.iter().enumerate() {
        for &j in &signed_ids[x + 1..] {
            let (Some(a), Some(b)) = (sig(i), sig(j)) else {
                continue;
            };
            if story_of.get(&i) == story_of.get(&j) {
                continue;
            }
            if same_story(a, b) {
                // One story by the rule, two in the index: an LSH miss, or a
                // mention that matched another story first.
                rule_pairs_apart += 1;
                continue;
            }
            let s = similarity(a, b);
            if s >= 0.45 {
                apart.push((s, i, j));
            }
        }
    }
    apart.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("\n{rule_pairs_apart} pairs the rule calls one story are in two stories of the index");
    println!(
        "\n## Closest pairs left apart ({} pairs at 0.45 or more)",
        apart.len()
    );
    for &(j, a, b) in apart.iter().take(15) {
        println!(
            "- {j:.3} ({} and {} shingles)\n    {}\n    {}",
            sig(a).map_or(0, Signature::shingle_count),
            sig(b).map_or(0, Signature::shingle_count),
            one_line(&tweets[a].1),
            one_line(&tweets[b].1)
        );
    }
}

//! Throughput of [`WatchSet::match_document`]: 1,000 varied watches against 100k synthetic
//! tweet-length mentions, on one core.
//!
//! Run with `cargo run --release -p vigie-query --example match_throughput`.
//! Optional arguments: number of watches, number of documents.

use std::time::Instant;

use vigie_query::{Document, WatchSet, parse};

/// SplitMix64: a tiny seeded generator, so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const REAL_BRANDS: &[&str] = &[
    "sncf",
    "ouigo",
    "tgv",
    "ratp",
    "airfrance",
    "easyjet",
    "ryanair",
    "transavia",
    "vueling",
    "lufthansa",
    "bnp",
    "boursorama",
    "lcl",
    "fortuneo",
    "revolut",
    "qonto",
    "carrefour",
    "leclerc",
    "auchan",
    "intermarche",
    "lidl",
    "fnac",
    "darty",
    "decathlon",
    "ikea",
    "orange",
    "bouygues",
    "sfr",
    "free",
    "sosh",
    "kitkat",
    "nutella",
    "danone",
    "michelin",
    "renault",
    "peugeot",
    "tesla",
    "amazon",
    "cdiscount",
    "vinted",
    "leboncoin",
    "doctolib",
    "alan",
    "blablacar",
    "uber",
    "deliveroo",
    "backmarket",
    "veepee",
    "sephora",
    "yvesrocher",
];

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "ve", "to", "zu", "ne", "pi", "sa", "do", "re", "fa", "li", "mo",
    "tra", "vel", "nor", "dex", "qua", "bri", "sto", "gen", "lux", "fin", "cap", "ora", "vi",
    "xel", "tek",
];

const WORDS: &[&str] = &[
    "le",
    "la",
    "les",
    "un",
    "une",
    "des",
    "de",
    "du",
    "et",
    "ou",
    "mais",
    "donc",
    "pas",
    "plus",
    "très",
    "trop",
    "encore",
    "toujours",
    "jamais",
    "déjà",
    "merci",
    "bonjour",
    "vraiment",
    "franchement",
    "service",
    "client",
    "retard",
    "annulé",
    "train",
    "vol",
    "avion",
    "gare",
    "colis",
    "commande",
    "livraison",
    "reçu",
    "remboursement",
    "rembourser",
    "panne",
    "bug",
    "appli",
    "site",
    "compte",
    "carte",
    "banque",
    "virement",
    "frais",
    "prix",
    "promo",
    "offre",
    "magasin",
    "caisse",
    "attente",
    "heure",
    "heures",
    "minutes",
    "aujourd'hui",
    "hier",
    "demain",
    "je",
    "tu",
    "il",
    "nous",
    "vous",
    "ils",
    "suis",
    "est",
    "sont",
    "ai",
    "avez",
    "ont",
    "fait",
    "dit",
    "peut",
    "the",
    "a",
    "an",
    "and",
    "but",
    "not",
    "my",
    "your",
    "flight",
    "delayed",
    "cancelled",
    "refund",
    "still",
    "waiting",
    "order",
    "never",
    "arrived",
    "customer",
    "support",
    "great",
    "terrible",
    "love",
    "hate",
    "app",
    "down",
    "again",
    "today",
    "why",
    "please",
    "help",
    "grève",
    "manif",
    "job",
    "recrute",
    "stage",
    "cdi",
    "bravo",
    "nul",
    "honte",
    "scandale",
    "génial",
    "super",
    "top",
    "lol",
    "mdr",
    "😡",
    "🙏",
    "!!",
    "?",
    ",",
    ".",
];

const ISSUES: &[&str] = &[
    "retard",
    "annulé",
    "rembours*",
    "panne",
    "bug",
    "\"service client\"",
    "arnaque",
    "grève",
];

fn pseudo_brand(r: &mut Rng) -> String {
    let n = 2 + r.below(2);
    (0..n).map(|_| r.pick(SYLLABLES)).collect()
}

fn make_watches(r: &mut Rng, n: usize) -> (Vec<String>, Vec<String>) {
    let mut brands: Vec<String> = REAL_BRANDS.iter().map(|s| (*s).to_string()).collect();
    while brands.len() < 400 {
        brands.push(pseudo_brand(r));
    }
    let mut watches = Vec::with_capacity(n);
    for i in 0..n {
        let b = brands[r.below(brands.len())].clone();
        let b2 = brands[r.below(brands.len())].clone();
        let issue = r.pick(ISSUES);
        let issue2 = r.pick(ISSUES);
        let q = match i % 12 {
            0 => b.clone(),
            1 => format!("{b} OR @{b} OR #{b}"),
            2 => format!("\"{b} {}\" OR {b2}", r.pick(WORDS)),
            3 => format!("{b} AND ({issue} OR {issue2} OR rembours*)"),
            4 => format!("{b} NEAR/3 (panne OR bug OR \"service client\")"),
            5 => format!("(#{b} OR {b}) -job -recrute -stage"),
            6 => format!("title:{b} OR text:\"{b} {}\"", r.pick(WORDS)),
            7 => format!("{}* lang:fr", &b[..b.len().min(4)]),
            8 => format!("\"toujours pas reçu\" AND (@{b} OR {b})"),
            9 => format!("{b} NOT (site:{b}.fr OR source:forum)"),
            10 => format!("({b} OR {b2}) NEAR/5f {issue}"),
            _ => format!("{b} {b2} OR (@{b} -\"{b2} {}\")", r.pick(WORDS)),
        };
        watches.push(q);
    }
    (watches, brands)
}

fn make_doc(r: &mut Rng, brands: &[String]) -> String {
    let len = 18 + r.below(14);
    let mut words: Vec<String> = Vec::with_capacity(len);
    for _ in 0..len {
        let w = if r.chance(6) {
            let b = &brands[r.below(brands.len())];
            match r.below(4) {
                0 => format!("@{b}"),
                1 => format!("#{b}"),
                2 => b.to_uppercase(),
                _ => b.clone(),
            }
        } else {
            r.pick(WORDS).to_string()
        };
        words.push(w);
    }
    words.join(" ")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n_watches: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let n_docs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let mut r = Rng(0x5EED_2026);

    let (watch_src, brands) = make_watches(&mut r, n_watches);
    let t0 = Instant::now();
    let mut queries = Vec::new();
    for (i, q) in watch_src.iter().enumerate() {
        match parse(q) {
            Ok(q) => queries.push((i as i64, q)),
            Err(e) => eprintln!("watch {i} rejected: {q}: {e}"),
        }
    }
    let parsed = queries.len();
    let ws = WatchSet::new(queries);
    let build = t0.elapsed();

    let docs: Vec<String> = (0..n_docs).map(|_| make_doc(&mut r, &brands)).collect();
    let avg_tokens = docs
        .iter()
        .take(1000)
        .map(|d| vigie_query::tokenize(d).len())
        .sum::<usize>() as f64
        / docs.len().min(1000) as f64;

    // Warm-up, then the measured run.
    for d in docs.iter().take(1000) {
        std::hint::black_box(ws.match_document(&Document {
            text: d,
            lang: Some("fr"),
            source: Some("twitter"),
            ..Default::default()
        }));
    }
    let t1 = Instant::now();
    let mut matched_docs = 0usize;
    let mut matches = 0usize;
    for d in &docs {
        let doc = Document {
            text: d,
            lang: Some("fr"),
            source: Some("twitter"),
            ..Default::default()
        };
        let m = ws.match_document(&doc);
        matched_docs += usize::from(!m.is_empty());
        matches += m.len();
        std::hint::black_box(m);
    }
    let secs = t1.elapsed().as_secs_f64();
    println!(
        "watches: {parsed} parsed of {n_watches}, compiled in {:.1} ms",
        build.as_secs_f64() * 1e3
    );
    println!("documents: {n_docs}, {avg_tokens:.1} tokens on average");
    println!("matched documents: {matched_docs}, total matches: {matches}");
    println!(
        "time: {secs:.3} s, throughput: {:.0} mentions/s",
        n_docs as f64 / secs
    );
}

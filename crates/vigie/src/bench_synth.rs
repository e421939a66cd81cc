//! Synthetic corpora for benchmarks: watches and mentions drawn from a seeded
//! generator, so that every run measures the same work.
//!
//! The text mixes real French and English words with real and made-up brand
//! names, as `@handle`, `#hashtag`, upper case or plain words, at tweet
//! length; the watches cover every construct of the query language.

/// SplitMix64: a tiny seeded generator, so runs are comparable.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
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
    "ka", "lo", "mi", "ra", "ve", "to", "zu", "ne", "pi", "sa", "do", "re", "fa", "li", "mo", "tra", "vel", "nor",
    "dex", "qua", "bri", "sto", "gen", "lux", "fin", "cap", "ora", "vi", "xel", "tek",
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

const ISSUES: &[&str] = &["retard", "annulé", "rembours*", "panne", "bug", "\"service client\"", "arnaque", "grève"];

fn pseudo_brand(r: &mut Rng) -> String {
    let n = 2 + r.below(2);
    (0..n).map(|_| r.pick(SYLLABLES)).collect()
}

pub fn make_watches(r: &mut Rng, n: usize) -> (Vec<String>, Vec<String>) {
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

pub fn make_doc(r: &mut Rng, brands: &[String]) -> String {
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
            // Skewed towards the head of the list, as word frequencies are.
            let u = (r.next() % 10_000) as f64 / 10_000.0;
            WORDS[((u * u) * WORDS.len() as f64) as usize].to_string()
        };
        words.push(w);
    }
    words.join(" ")
}

/// Words of the corpus vocabulary, for search queries.
pub fn vocabulary() -> &'static [&'static str] {
    WORDS
}

const AUTHORS: &[&str] =
    &["marie", "jdupont", "alex_b", "traveler42", "sophie.l", "k_martin", "lea", "tom", "nadia", "pierre"];
const KINDS: &[&str] =
    &["twitter", "twitter", "twitter", "news", "blog", "forum", "review", "reddit", "mastodon", "facebook"];

/// One mention of the import schema as a JSON line. `i` makes it unique;
/// publication times spread over the 30 days before `end_epoch`.
pub fn make_mention_json(r: &mut Rng, brands: &[String], i: u64, end_epoch: i64) -> String {
    make_mention_json_with(r, brands, i, |r| end_epoch - (r.next() % (30 * 86_400)) as i64)
}

/// One mention as [`make_mention_json`] writes it, published at the time
/// (seconds since the epoch) `published` draws.
pub fn make_mention_json_with(
    r: &mut Rng,
    brands: &[String],
    i: u64,
    published: impl FnOnce(&mut Rng) -> i64,
) -> String {
    let text = make_doc(r, brands);
    let kind = r.pick(KINDS);
    let published = published(r);
    let site = match kind {
        "twitter" => "twitter.com".to_string(),
        "reddit" => "reddit.com".to_string(),
        "mastodon" => "mastodon.social".to_string(),
        "facebook" => "facebook.com".to_string(),
        other => format!("{}-{other}.example", brands[r.below(brands.len())]),
    };
    let value = serde_json::json!({
        "id": i.to_string(),
        "url": format!("https://{site}/m/{i}"),
        "text": text,
        "author": r.pick(AUTHORS),
        "published_at": chrono::DateTime::from_timestamp(published, 0).map(|t| t.to_rfc3339()),
        "source": kind,
        "reach": r.next() % 50_000,
    });
    value.to_string()
}

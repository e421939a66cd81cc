//! Regenerates `lexicons/*.tsv` from the upstream lexicons in the shared data
//! folder (`cargo run -p vigie-sentiment --example build_lexicons -- ../shared/data`).
//!
//! What is kept: every VADER (English) entry, every VADER-FR entry, every
//! Pattern-FR adjective with a non-zero polarity, and one valence per emoji
//! (the VADER method: the sum of the English lexicon's valences of the words of
//! the emoji's description, clamped to ±3.5; a handful of frequent
//! complaint/praise emoji whose descriptions carry no lexicon word get a
//! hand-set value, listed below). See `lexicons/LICENSES.md`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Emoji whose description ("pouting face", "thumbs down") has no or the wrong
/// lexicon words. Values on VADER's -4..4 scale, set by the Vigie authors.
const EMOJI_OVERRIDES: &[(&str, f32)] = &[
    ("😡", -2.8),
    ("🤬", -3.0),
    ("😠", -2.3),
    ("👎", -2.0),
    ("👍", 2.0),
    ("🙄", -1.5),
    ("😒", -1.8),
    ("😤", -1.6),
    ("💔", -2.5),
    ("😞", -2.0),
    ("😩", -2.0),
    ("😫", -2.0),
    ("🤮", -2.8),
    ("🤢", -2.0),
    ("😱", -1.5),
    ("😢", -2.1),
    ("😭", -2.1),
    ("😂", 1.9),
    ("🤣", 2.0),
    ("🙏", 1.2),
    ("👏", 2.0),
    ("🔥", 1.0),
    ("💯", 1.8),
    ("✅", 1.0),
    ("❌", -1.2),
    ("🤔", -0.3),
    ("😐", -0.4),
    ("😑", -0.6),
];

fn gz_lines(path: &Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    BufReader::new(flate2::read::GzDecoder::new(file))
        .lines()
        .map(|l| l.unwrap_or_default())
        .collect()
}

fn clean(token: &str) -> Option<String> {
    let t = token.trim();
    if t.is_empty() || t.contains('\t') || t.contains('\n') {
        return None;
    }
    Some(t.to_string())
}

fn main() {
    let data: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data"));
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("lexicons");

    // English VADER: token \t mean \t std \t ratings
    let mut en: BTreeMap<String, f32> = BTreeMap::new();
    for line in gz_lines(&data.join("vader-lexicon-en/vader_lexicon.txt.gz")) {
        let mut f = line.split('\t');
        let (Some(tok), Some(v)) = (f.next(), f.next()) else {
            continue;
        };
        if let (Some(tok), Ok(v)) = (clean(tok), v.trim().parse::<f32>()) {
            en.insert(tok, v);
        }
    }
    // French VADER: token->valence
    let mut fr: BTreeMap<String, f32> = BTreeMap::new();
    for line in gz_lines(&data.join("vader-fr-lexicon/fr_lexicon.txt.gz")) {
        let Some((tok, v)) = line.rsplit_once("->") else {
            continue;
        };
        if let (Some(tok), Ok(v)) = (clean(tok), v.trim().parse::<f32>()) {
            fr.insert(tok.to_lowercase(), v);
        }
    }
    // Pattern FR: <word form="x" ... polarity="p" .../>
    let mut pattern: BTreeMap<String, f32> = BTreeMap::new();
    for line in gz_lines(&data.join("pattern-fr-sentiment-lexicon/fr-sentiment.xml.gz")) {
        let attr = |name: &str| -> Option<String> {
            let key = format!(" {name}=\"");
            let start = line.find(&key)? + key.len();
            let end = line[start..].find('"')? + start;
            Some(line[start..end].to_string())
        };
        let (Some(form), Some(pol)) = (attr("form"), attr("polarity")) else {
            continue;
        };
        let Ok(pol) = pol.parse::<f32>() else {
            continue;
        };
        if pol.abs() >= 0.05
            && let Some(form) = clean(&form)
        {
            // Several senses of one form: keep the mean.
            let e = pattern.entry(form.to_lowercase()).or_insert(f32::NAN);
            *e = if e.is_nan() { pol } else { (*e + pol) / 2.0 };
        }
    }
    // Emoji: valence of the English description, VADER-style.
    let mut emoji: BTreeMap<String, f32> = BTreeMap::new();
    for line in gz_lines(&data.join("vader-lexicon-en/emoji_utf8_lexicon.txt.gz")) {
        let Some((e, desc)) = line.split_once('\t') else {
            continue;
        };
        let v: f32 = desc
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter_map(|w| en.get(&w.to_lowercase()))
            .sum();
        if v != 0.0
            && let Some(e) = clean(e)
        {
            emoji.insert(e, v.clamp(-3.5, 3.5));
        }
    }
    for (e, v) in EMOJI_OVERRIDES {
        emoji.insert((*e).to_string(), *v);
    }

    let write = |name: &str, header: &str, map: &BTreeMap<String, f32>| {
        let path = out.join(name);
        let mut f =
            std::fs::File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        writeln!(f, "# {header}").ok();
        for (k, v) in map {
            writeln!(f, "{k}\t{v:.2}").ok();
        }
        println!("{}: {} entries", path.display(), map.len());
    };
    write(
        "en_vader.tsv",
        "VADER English lexicon (C.J. Hutto, MIT), token<TAB>mean valence -4..4",
        &en,
    );
    write(
        "fr_vader.tsv",
        "VADER-FR lexicon (O. Deprez, T. EK / 7 Lieues, MIT), token<TAB>valence",
        &fr,
    );
    write(
        "fr_pattern.tsv",
        "Pattern French adjectives (T. De Smedt, W. Daelemans, fabelier.org, PDDL), form<TAB>polarity -1..1",
        &pattern,
    );
    write(
        "emoji.tsv",
        "Emoji valence from VADER's emoji descriptions (MIT) scored with the VADER English lexicon, plus Vigie's overrides",
        &emoji,
    );
}

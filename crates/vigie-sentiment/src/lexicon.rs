//! Sentiment lexicons and the VADER-style rules that read them.
//!
//! The lexicons (`lexicons/*.tsv`, see `lexicons/LICENSES.md`) are compiled
//! into the binary and parsed once. Keys are folded like text (lower-case, no
//! accents), so `decu` finds `déçu`.
//!
//! Rules (after Hutto & Gilbert 2014, MIT, extended to French):
//! - a negator among the three previous words flips and damps a valence
//!   (× −0.74): `pas bon`, `not good`, `jamais reçu`; the scope stops at
//!   punctuation and at `but`/`mais`;
//! - a booster (`très`, `really`) or dampener (`un peu`, `kind of`) among the
//!   three previous words adds ±0.293 (decaying with distance) in the
//!   valence's direction;
//! - an ALL CAPS word in a text that is not all caps, or an elongated word,
//!   adds 0.733 in its direction;
//! - valences before `but`/`mais` count half, after it one and a half.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use crate::text::{Kind, Tokens, fold};

const EN_VADER: &str = include_str!("../lexicons/en_vader.tsv");
const FR_VADER: &str = include_str!("../lexicons/fr_vader.tsv");
const FR_PATTERN: &str = include_str!("../lexicons/fr_pattern.tsv");
const EMOJI: &str = include_str!("../lexicons/emoji.tsv");

const B_INCR: f32 = 0.293;
const B_DECR: f32 = -0.293;
const C_INCR: f32 = 0.733;
const N_SCALAR: f32 = -0.74;

/// FNV-1a: lexicon keys are short and trusted, SipHash buys nothing here.
#[derive(Default)]
pub(crate) struct Fnv(u64);
impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

pub(crate) struct Lexicons {
    pub en: FastMap<Box<str>, f32>,
    pub fr: FastMap<Box<str>, f32>,
    /// Pattern polarity is −1..1; stored ×4 to share VADER's scale.
    pub fr_pattern: FastMap<Box<str>, f32>,
    pub emoji: FastMap<Box<str>, f32>,
    pub boosters_en: FastMap<&'static str, f32>,
    pub boosters_fr: FastMap<&'static str, f32>,
}

fn parse(tsv: &str, scale: f32) -> FastMap<Box<str>, f32> {
    let mut map = FastMap::default();
    for line in tsv.lines() {
        if line.starts_with("# ") {
            continue;
        }
        let Some((k, v)) = line.split_once('\t') else {
            continue;
        };
        let Ok(v) = v.trim().parse::<f32>() else {
            continue;
        };
        let key = fold(k).replace(['\u{fe0f}', '\u{fe0e}'], "");
        // Folding can merge forms (pâte/pate): keep the first, they agree in sign
        // almost always.
        map.entry(key.into_boxed_str()).or_insert(v * scale);
    }
    map
}

pub(crate) fn lexicons() -> &'static Lexicons {
    static LEX: OnceLock<Lexicons> = OnceLock::new();
    LEX.get_or_init(|| Lexicons {
        en: parse(EN_VADER, 1.0),
        fr: parse(FR_VADER, 1.0),
        fr_pattern: parse(FR_PATTERN, 4.0),
        emoji: parse(EMOJI, 1.0),
        boosters_en: EN_BOOSTERS.iter().copied().collect(),
        boosters_fr: FR_BOOSTERS.iter().copied().collect(),
    })
}

// VADER's booster list (MIT), single words; two-word dampeners are handled in
// `booster_before`.
const EN_BOOSTERS: &[(&str, f32)] = &[
    ("absolutely", B_INCR),
    ("amazingly", B_INCR),
    ("awfully", B_INCR),
    ("completely", B_INCR),
    ("considerably", B_INCR),
    ("decidedly", B_INCR),
    ("deeply", B_INCR),
    ("effing", B_INCR),
    ("enormously", B_INCR),
    ("entirely", B_INCR),
    ("especially", B_INCR),
    ("exceptionally", B_INCR),
    ("extremely", B_INCR),
    ("fabulously", B_INCR),
    ("freaking", B_INCR),
    ("fucking", B_INCR),
    ("greatly", B_INCR),
    ("hella", B_INCR),
    ("highly", B_INCR),
    ("hugely", B_INCR),
    ("incredibly", B_INCR),
    ("intensely", B_INCR),
    ("majorly", B_INCR),
    ("more", B_INCR),
    ("most", B_INCR),
    ("particularly", B_INCR),
    ("purely", B_INCR),
    ("quite", B_INCR),
    ("really", B_INCR),
    ("remarkably", B_INCR),
    ("so", B_INCR),
    ("soo", B_INCR),
    ("substantially", B_INCR),
    ("super", B_INCR),
    ("thoroughly", B_INCR),
    ("too", B_INCR),
    ("totally", B_INCR),
    ("tremendously", B_INCR),
    ("unbelievably", B_INCR),
    ("unusually", B_INCR),
    ("utterly", B_INCR),
    ("very", B_INCR),
    ("almost", B_DECR),
    ("barely", B_DECR),
    ("hardly", B_DECR),
    ("kinda", B_DECR),
    ("less", B_DECR),
    ("little", B_DECR),
    ("marginally", B_DECR),
    ("occasionally", B_DECR),
    ("partly", B_DECR),
    ("scarcely", B_DECR),
    ("slightly", B_DECR),
    ("somewhat", B_DECR),
    ("sorta", B_DECR),
];

// VADER-FR's booster list (MIT), folded, plus colloquial intensifiers.
const FR_BOOSTERS: &[(&str, f32)] = &[
    ("absolument", B_INCR),
    ("beaucoup", B_INCR),
    ("carrement", B_INCR),
    ("completement", B_INCR),
    ("considerablement", B_INCR),
    ("diablement", B_INCR),
    ("drolement", B_INCR),
    ("entierement", B_INCR),
    ("exceptionnellement", B_INCR),
    ("excessivement", B_INCR),
    ("extra", B_INCR),
    ("extremement", B_INCR),
    ("grave", B_INCR),
    ("grandement", B_INCR),
    ("hyper", B_INCR),
    ("incroyablement", B_INCR),
    ("infiniment", B_INCR),
    ("particulierement", B_INCR),
    ("profondement", B_INCR),
    ("rudement", B_INCR),
    ("sacrement", B_INCR),
    ("si", B_INCR),
    ("super", B_INCR),
    ("tellement", B_INCR),
    ("terriblement", B_INCR),
    ("totalement", B_INCR),
    ("trop", B_INCR),
    ("tres", B_INCR),
    ("ultra", B_INCR),
    ("vachement", B_INCR),
    ("vraiment", B_INCR),
    ("enormement", B_INCR),
    ("assez", B_DECR),
    ("guere", B_DECR),
    ("legerement", B_DECR),
    ("moins", B_DECR),
    ("peu", B_DECR),
    ("plutot", B_DECR),
    ("presque", B_DECR),
    ("quasi", B_DECR),
    ("quasiment", B_DECR),
    ("rarement", B_DECR),
];

/// Negators (folded). "plus" negates only after "ne"/"n'" (`n'est plus bon`
/// but `plus beau`).
fn is_negator(w: &str, french: bool) -> bool {
    if french {
        matches!(
            w,
            "pas"
                | "jamais"
                | "rien"
                | "aucun"
                | "aucune"
                | "aucunement"
                | "nullement"
                | "sans"
                | "ni"
                | "non"
                | "guere"
                | "personne"
        )
    } else {
        matches!(
            w,
            "not"
                | "no"
                | "never"
                | "none"
                | "nope"
                | "nor"
                | "neither"
                | "nothing"
                | "nowhere"
                | "nobody"
                | "without"
                | "cannot"
                | "cant"
                | "dont"
                | "doesnt"
                | "didnt"
                | "isnt"
                | "wasnt"
                | "arent"
                | "werent"
                | "wont"
                | "wouldnt"
                | "couldnt"
                | "shouldnt"
                | "havent"
                | "hasnt"
                | "hadnt"
                | "aint"
                | "rarely"
                | "seldom"
                | "despite"
        ) || w.ends_with("n't")
    }
}

/// Words that end a negation scope and split a text VADER-style.
pub(crate) fn is_contrast(w: &str) -> bool {
    matches!(
        w,
        "but"
            | "however"
            | "although"
            | "though"
            | "yet"
            | "mais"
            | "cependant"
            | "pourtant"
            | "toutefois"
            | "neanmoins"
    )
}

/// Which lexicon an attribution comes from; indexes [`LexScores`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Source {
    En = 0,
    Fr = 1,
    FrPattern = 2,
    Emoji = 3,
}

/// Per-text lexicon result: signed sums split by sign, per source, and each
/// contributing token's adjusted valence.
#[derive(Default, Debug)]
pub(crate) struct LexScores {
    pub pos: [f32; 4],
    pub neg: [f32; 4],
    /// (token index, source, adjusted valence, negated)
    pub hits: Vec<(u32, Source, f32, bool)>,
    pub negations: u32,
    /// Which tokens are inside a negation scope, and the token index of their negator.
    pub negated_by: Vec<Option<u32>>,
}

/// Emoticon valences (VADER's values where it has them).
fn emoticon_valence(canon: &str) -> f32 {
    match canon {
        ":)" => 2.0,
        ":D" => 2.3,
        ";)" => 1.1,
        ":p" => 1.2,
        "<3" => 1.9,
        "^^" => 1.5,
        ":(" => -1.9,
        ":'(" => -2.1,
        ":/" => -1.4,
        ":|" => -0.7,
        ":s" => -1.1,
        ":o" => -0.4,
        "</3" => -2.2,
        "-_-" => -1.0,
        _ => 0.0,
    }
}

fn lookup(map: &FastMap<Box<str>, f32>, word: &str, elongated: bool) -> Option<f32> {
    if let Some(v) = map.get(word) {
        return Some(*v);
    }
    if elongated {
        // "troop" (from "trooop") → "trop"
        let mut s = String::with_capacity(word.len());
        let mut last = None;
        for c in word.chars() {
            if Some(c) != last {
                s.push(c);
            }
            last = Some(c);
        }
        return map.get(s.as_str()).copied();
    }
    None
}

/// Score a tokenized text with the lexicons of `french`/English.
pub(crate) fn score(toks: &Tokens, french: bool, out: &mut LexScores) {
    let lex = lexicons();
    out.pos = [0.0; 4];
    out.neg = [0.0; 4];
    out.hits.clear();
    out.negations = 0;
    out.negated_by.clear();
    out.negated_by.resize(toks.toks.len(), None);
    let all_caps = toks.letter_words >= 3 && toks.caps_words * 10 >= toks.letter_words * 7;
    let contrast_at = toks
        .toks
        .iter()
        .position(|t| t.kind == Kind::Word && is_contrast(toks.norm_of(t)));

    // Negation scopes: up to three words after a negator.
    let mut scope_left = 0u32;
    let mut negator = 0u32;
    let mut saw_ne = 0u32; // words left in which "plus" counts as a negator
    for (i, t) in toks.toks.iter().enumerate() {
        match t.kind {
            Kind::Punct | Kind::Url => {
                scope_left = 0;
                saw_ne = 0;
                continue;
            }
            Kind::Word | Kind::Hashtag => {}
            _ => continue,
        }
        let w = toks.norm_of(t);
        if is_contrast(w) {
            scope_left = 0;
            continue;
        }
        if scope_left > 0 {
            out.negated_by[i] = Some(negator);
            scope_left -= 1;
        }
        let neg = is_negator(w, french) || (french && w == "plus" && saw_ne > 0);
        if french && (w == "ne" || w == "n'") {
            saw_ne = 4;
        } else {
            saw_ne = saw_ne.saturating_sub(1);
        }
        if neg {
            out.negations += 1;
            scope_left = 3;
            negator = i as u32;
        }
    }

    for (i, t) in toks.toks.iter().enumerate() {
        let w = toks.norm_of(t);
        let candidates: [(Source, Option<f32>); 2] = match t.kind {
            Kind::Word | Kind::Hashtag => {
                if french {
                    [
                        (Source::Fr, lookup(&lex.fr, w, t.elongated)),
                        (Source::FrPattern, lookup(&lex.fr_pattern, w, t.elongated)),
                    ]
                } else {
                    [
                        (Source::En, lookup(&lex.en, w, t.elongated)),
                        (Source::En, None),
                    ]
                }
            }
            Kind::Emoji => [
                (Source::Emoji, lex.emoji.get(w).copied()),
                (Source::Emoji, None),
            ],
            Kind::Emoticon => [
                (Source::Emoji, Some(emoticon_valence(w))),
                (Source::Emoji, None),
            ],
            _ => continue,
        };
        // Boosters modify the next words; they carry no valence of their own
        // ("trop" is negative in VADER-FR, "trop bien" is not).
        if matches!(t.kind, Kind::Word | Kind::Hashtag)
            && booster_value(w, t.elongated, french, lex).is_some()
        {
            continue;
        }
        for (source, v) in candidates {
            let Some(mut v) = v else { continue };
            if v == 0.0 {
                continue;
            }
            let sign = v.signum();
            let negated = out.negated_by[i].is_some();
            if matches!(t.kind, Kind::Word | Kind::Hashtag) {
                v += sign * booster_before(toks, i, french, lex);
                if (t.caps && !all_caps) || t.elongated {
                    v += sign * C_INCR;
                }
                if negated {
                    v *= N_SCALAR;
                }
            }
            if let Some(c) = contrast_at {
                v *= if i < c { 0.5 } else { 1.5 };
            }
            let s = source as usize;
            if v > 0.0 {
                out.pos[s] += v;
            } else {
                out.neg[s] += v;
            }
            out.hits.push((i as u32, source, v, negated));
        }
    }
}

/// Booster value of a word (`trooop` finds `trop`).
fn booster_value(w: &str, elongated: bool, french: bool, lex: &Lexicons) -> Option<f32> {
    let map = if french {
        &lex.boosters_fr
    } else {
        &lex.boosters_en
    };
    if let Some(b) = map.get(w) {
        return Some(*b);
    }
    if elongated {
        let mut s = String::with_capacity(w.len());
        let mut last = None;
        for c in w.chars() {
            if Some(c) != last {
                s.push(c);
            }
            last = Some(c);
        }
        return map.get(s.as_str()).copied();
    }
    None
}

/// Booster/dampener among the three previous words, decaying with distance.
fn booster_before(toks: &Tokens, i: usize, french: bool, lex: &Lexicons) -> f32 {
    let mut total = 0.0;
    let mut seen = 0;
    let mut j = i;
    while j > 0 && seen < 3 {
        j -= 1;
        let t = &toks.toks[j];
        if !matches!(t.kind, Kind::Word | Kind::Hashtag) {
            break;
        }
        let w = toks.norm_of(t);
        let decay = [1.0, 0.95, 0.9][seen];
        seen += 1;
        let mut b = booster_value(w, t.elongated, french, lex).unwrap_or(0.0);
        // two-word dampeners: "un peu", "kind of", "sort of"
        if j > 0 {
            let prev = toks.norm_of(&toks.toks[j - 1]);
            if (french && prev == "un" && w == "peu")
                || (!french && (prev == "kind" || prev == "sort") && w == "of")
            {
                b = B_DECR;
            }
        }
        total += b * decay;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    fn net(text: &str, fr: bool) -> f32 {
        let mut t = Tokens::default();
        tokenize(text, fr, &mut t);
        let mut s = LexScores::default();
        score(&t, fr, &mut s);
        s.pos.iter().sum::<f32>() + s.neg.iter().sum::<f32>()
    }

    #[test]
    fn lexicons_load() {
        let l = lexicons();
        assert!(l.en.len() > 7000 && l.fr.len() > 8000 && l.fr_pattern.len() > 3000);
        assert!(l.en["horrible"] < 0.0 && l.fr["decu"] < 0.0 && l.fr_pattern["bon"] > 0.0);
        assert!(l.emoji["😡"] < 0.0 && l.emoji["❤"] > 0.0);
    }

    #[test]
    fn negation_flips() {
        assert!(net("good", false) > 0.0 && net("not good", false) < 0.0);
        assert!(net("bad", false) < 0.0 && net("not bad", false) > 0.0);
        assert!(net("bon", true) > 0.0 && net("pas bon", true) < 0.0);
        assert!(net("c'est pas bon", true) < 0.0);
        assert!(net("ce n'est plus bon", true) < 0.0);
        // "plus" without "ne" is a comparative
        assert!(net("plus bon", true) > 0.0);
        // the scope stops at punctuation
        assert!(net("not really. good", false) > 0.0);
    }

    #[test]
    fn boosters_and_dampeners() {
        assert!(net("very good", false) > net("good", false));
        assert!(net("sort of good", false) < net("good", false));
        assert!(net("slightly good", false) < net("good", false));
        assert!(net("très bon", true) > net("bon", true));
        assert!(net("un peu bon", true) < net("bon", true));
    }

    #[test]
    fn caps_and_elongation_emphasise() {
        assert!(net("this is GOOD ok", false) > net("this is good ok", false));
        assert!(net("sooo goood", false) > net("so good", false));
        // "trooop" finds "trop" only as a booster, but "nuuul" finds "nul"
        assert!(net("nuuul", true) < 0.0);
    }

    #[test]
    fn emoji_and_emoticons_have_valence() {
        assert!(net("😡", false) < 0.0 && net("😍", true) > 0.0);
        assert!(net(":)", false) > 0.0 && net(":(", true) < 0.0);
    }

    #[test]
    fn but_shifts_weight_to_the_second_clause() {
        assert!(net("good but terrible", false) < 0.0);
        assert!(net("mauvais mais génial", true) > 0.0);
    }
}

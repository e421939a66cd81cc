//! From a tokenized text to model inputs: hashed sparse n-gram features plus a
//! small vector of dense features (lexicon valences, negation, emphasis,
//! complaint patterns). Each hashed feature remembers the *unit* it came from
//! (a word, a word pair, a negated word, a complaint pattern), so a prediction
//! can be explained in the author's own words.

use serde::{Deserialize, Serialize};

use crate::lexicon::{self, LexScores};
use crate::text::{self, Kind, Tokens};

/// The feature extractor's version, written in every model file: a model is
/// only read by the extractor it was trained with.
pub(crate) const FEATURES_VERSION: u16 = 2;

/// How hashed features see the language of the text.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LangMode {
    /// One set of weights for both languages (language is a dense feature).
    Shared,
    /// Every hashed feature is salted with the language: separate weights.
    Separate,
    /// Both a shared and a language-salted copy of every feature.
    Both,
}

/// Where character n-grams are taken.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CharScope {
    /// Inside each word, with `<` and `>` boundary marks (fastText style).
    Word,
    /// Over the normalized words joined by single spaces (n-grams may span words).
    Text,
}

/// Feature extraction settings, stored in the model file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FeatureOptions {
    /// The hashed weight table has `2^bits` rows (12..=24).
    pub bits: u8,
    /// Character n-gram lengths; `char_max == 0` disables them.
    pub char_min: u8,
    pub char_max: u8,
    pub char_scope: CharScope,
    pub word_bigrams: bool,
    /// Word trigrams too (only with `word_bigrams`).
    #[serde(default)]
    pub word_trigrams: bool,
    /// Add a "negated" copy of each word in a negation scope (`pas` + `bon`).
    pub negation_marking: bool,
    pub lang: LangMode,
    /// Each hashed feature counts `1/sqrt(n)` (n = number of hashed features
    /// of the text) instead of 1: long reviews and short tweets land on the
    /// same scale.
    pub sqrt_norm: bool,
    /// Idiom and extra pattern features, a bit set of [`idiom`] flags
    /// (0: the complaint patterns of the first design only; files of
    /// features version 1 had none).
    #[serde(default)]
    pub idioms: u8,
}

/// Flags of [`FeatureOptions::idioms`].
pub mod idiom {
    /// Negated negatives ("not bad", "pas mal", "aucun problème", "jamais
    /// déçu" …) as pattern features whose concept is shared by French and
    /// English, like the complaint patterns.
    pub const POSITIVE: u8 = 1;
    /// The words of a matched idiom get no "negated" copy.
    pub const NO_NEG_MARK: u8 = 2;
    /// More complaint patterns ("injoignable", "facturé deux fois", "ne
    /// recommande pas", "charged twice" …).
    pub const MORE_COMPLAINTS: u8 = 4;
    /// The words of a matched idiom emit no unigram either (pairs stay).
    pub const NO_UNIGRAMS: u8 = 8;
    /// The negator of a matched idiom is not counted as a negation (dense).
    pub const NO_NEG_COUNT: u8 = 16;
    pub const ALL: u8 = 31;
}

impl Default for FeatureOptions {
    fn default() -> Self {
        FeatureOptions {
            bits: 20,
            char_min: 2,
            // Character n-grams did not help in cross-validation (MODEL_CARD.md)
            // and cost two thirds of the time: off by default.
            char_max: 0,
            char_scope: CharScope::Word,
            word_bigrams: true,
            word_trigrams: false,
            negation_marking: true,
            lang: LangMode::Both,
            sqrt_norm: true,
            // cross-validated against 0 (the first design): MODEL_CARD.md
            idioms: idiom::ALL,
        }
    }
}

/// Number of dense features.
pub(crate) const N_DENSE: usize = 20;

/// Dense feature slots.
pub(crate) mod d {
    pub const LEX_EN_POS: usize = 0;
    pub const EMOJI_NEG: usize = 7;
    pub const NEGATIONS: usize = 8;
    pub const EXCLAIM: usize = 9;
    pub const QUESTION: usize = 10;
    pub const ALL_CAPS: usize = 11;
    pub const CAPS_WORDS: usize = 12;
    pub const ELONGATION: usize = 13;
    pub const COMPLAINT: usize = 14;
    pub const LENGTH: usize = 15;
    pub const LANG_FR: usize = 16;
    pub const LANG_EN: usize = 17;
    pub const URL: usize = 18;
    pub const HANDLE: usize = 19;
}

/// Human-readable name of a dense feature in an explanation; `None` for the
/// priors (length, language, placeholders) that explain nothing.
pub(crate) fn dense_label(i: usize) -> Option<&'static str> {
    Some(match i {
        d::NEGATIONS => "negation",
        d::EXCLAIM => "!",
        d::QUESTION => "?",
        d::ALL_CAPS => "ALL CAPS",
        d::CAPS_WORDS => "CAPS words",
        d::ELONGATION => "elongation",
        _ => return None,
    })
}

/// What a hashed feature is explained by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum UnitKind {
    /// Word, word pair or negated word: the original text of the span.
    Text,
    /// A lexicon hit: "lexicon: <original text>".
    Lexicon,
    /// A complaint pattern: the original text of the match.
    Pattern,
    /// A dense feature with a fixed label.
    Dense(u8),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Unit {
    pub kind: UnitKind,
    pub start: u32,
    pub end: u32,
}

/// Extracted features of one text (reused between texts).
#[derive(Default, Debug)]
pub(crate) struct Feats {
    pub ids: Vec<u32>,
    /// Unit of each id (only filled when explaining).
    pub id_units: Vec<u32>,
    pub units: Vec<Unit>,
    /// Value of every hashed feature (1 or 1/sqrt(n)).
    pub value: f32,
    pub dense: [f32; N_DENSE],
    /// Per-unit share of each dense feature value: (dense index, unit, share).
    pub dense_attr: Vec<(u8, u32, f32)>,
    pub tokens: Tokens,
    pub lex: LexScores,
    chars: Vec<(u32, u32)>,
    matches: Vec<(u32, u32, u8, u8)>,
    in_idiom: Vec<bool>,
}

/// Supported language of a tag ("fr", "fr-CA", "EN" …); `None` otherwise.
pub(crate) fn lang_of(tag: &str) -> Option<bool> {
    let primary = tag.split(['-', '_']).next().unwrap_or("");
    if primary.eq_ignore_ascii_case("fr") {
        Some(true)
    } else if primary.eq_ignore_ascii_case("en") {
        Some(false)
    } else {
        None
    }
}

// --- hashing -------------------------------------------------------------

const P: u64 = 0x0000_0100_0000_01B3;
const K_WORD: u64 = 0x9E37_79B9_7F4A_7C15;
const K_BIGRAM: u64 = 0xC2B2_AE3D_27D4_EB4F;
const K_TRIGRAM: u64 = 0xD6E8_FEB8_6659_FD93;
const K_NEG: u64 = 0x1656_67B1_9E37_79F9;
const K_CHAR: u64 = 0x27D4_EB2F_1656_67C5;
const K_PATTERN: u64 = 0x85EB_CA77_C2B2_AE63;
const K_IDIOM: u64 = 0x7FEB_352D_846C_A68B;
const K_LANG: [u64; 2] = [0x5851_F42D_4C95_7F2D, 0x1405_7B7E_F767_814F];

#[inline]
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[inline]
fn hash_bytes(seed: u64, s: &[u8]) -> u64 {
    let mut h = seed ^ 0xcbf2_9ce4_8422_2325;
    for b in s {
        h ^= u64::from(*b);
        h = h.wrapping_mul(P);
    }
    h
}

/// Stable 64-bit FNV-1a of a string (also used for the data splits).
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(P);
    }
    h
}

// --- complaint patterns ----------------------------------------------------

/// Customer-service complaint phrases, folded; `#` matches any number. The
/// number after each phrase is its *concept*: French and English phrases of
/// one concept share a hashed feature ("jamais reçu" ≡ "never received"), so
/// what the English complaint tweets teach carries over to French.
/// (words, concept, group): group 0 the first design's complaint patterns, 1
/// later complaint patterns ([`idiom::MORE_COMPLAINTS`]), 2 positive idioms
/// ([`idiom::POSITIVE`]; their concepts are separate from the complaints').
type Pattern = (&'static [&'static str], u8, u8);
const PATTERNS_EN: &[Pattern] = &[
    (&["still", "waiting"], 1, 0),
    (&["been", "waiting"], 1, 0),
    (&["waiting", "for"], 1, 0),
    (&["still", "no"], 2, 0),
    (&["still", "not"], 2, 0),
    (&["still", "haven't"], 2, 0),
    (&["still", "havent"], 2, 0),
    (&["no", "answer"], 3, 0),
    (&["no", "response"], 3, 0),
    (&["no", "reply"], 3, 0),
    (&["no", "one"], 3, 0),
    (&["nobody"], 3, 0),
    (&["never", "received"], 4, 0),
    (&["never", "got"], 4, 0),
    (&["never", "arrived"], 4, 0),
    (&["haven't", "received"], 4, 0),
    (&["havent", "received"], 4, 0),
    (&["hasn't", "arrived"], 4, 0),
    (&["on", "hold"], 5, 0),
    (&["can't", "get", "through"], 5, 0),
    (&["#", "hours"], 6, 0),
    (&["#", "hrs"], 6, 0),
    (&["#", "hr"], 6, 0),
    (&["#", "days"], 6, 0),
    (&["#", "weeks"], 6, 0),
    (&["#", "minutes"], 6, 0),
    (&["#", "mins"], 6, 0),
    (&["customer", "service"], 7, 0),
    (&["refund"], 8, 0),
    (&["please", "help"], 9, 0),
    (&["lost", "my"], 10, 0),
    (&["unacceptable"], 11, 0),
    (&["scam"], 11, 0),
    (&["delayed"], 12, 0),
    (&["cancelled"], 13, 0),
    (&["canceled"], 13, 0),
    // later complaint patterns (idiom::MORE_COMPLAINTS)
    (&["can't", "reach"], 5, 1),
    (&["cant", "reach"], 5, 1),
    (&["cannot", "reach"], 5, 1),
    (&["unreachable"], 5, 1),
    (&["not", "delivered"], 4, 1),
    (&["never", "delivered"], 4, 1),
    (&["charged", "twice"], 14, 1),
    (&["charged", "me", "twice"], 14, 1),
    (&["billed", "twice"], 14, 1),
    (&["double", "charged"], 14, 1),
    (&["not", "recommend"], 15, 1),
    (&["don't", "recommend"], 15, 1),
    (&["dont", "recommend"], 15, 1),
    (&["wouldn't", "recommend"], 15, 1),
    (&["wouldnt", "recommend"], 15, 1),
    (&["won't", "recommend"], 15, 1),
    (&["never", "recommend"], 15, 1),
    // positive idioms, mostly negated negatives (idiom::POSITIVE)
    (&["not", "bad"], 20, 2),
    (&["not", "too", "bad"], 20, 2),
    (&["not", "that", "bad"], 20, 2),
    (&["no", "problem"], 21, 2),
    (&["no", "problems"], 21, 2),
    (&["no", "issue"], 21, 2),
    (&["no", "issues"], 21, 2),
    (&["not", "a", "problem"], 21, 2),
    (&["no", "worries"], 21, 2),
    (&["never", "disappoints"], 22, 2),
    (&["never", "disappoint"], 22, 2),
    (&["never", "disappointed"], 22, 2),
    (&["not", "disappointed"], 22, 2),
    (&["wasn't", "disappointed"], 22, 2),
    (&["wasnt", "disappointed"], 22, 2),
    (&["not", "disappoint"], 22, 2),
    (&["no", "regrets"], 23, 2),
    (&["no", "regret"], 23, 2),
    (&["don't", "regret"], 23, 2),
    (&["dont", "regret"], 23, 2),
    (&["won't", "regret"], 23, 2),
    (&["no", "complaints"], 23, 2),
    (&["can't", "complain"], 23, 2),
    (&["cant", "complain"], 23, 2),
    (&["problem", "solved"], 24, 2),
    (&["problem", "resolved"], 24, 2),
    (&["problem", "fixed"], 24, 2),
    (&["issue", "resolved"], 24, 2),
    (&["issue", "solved"], 24, 2),
    (&["issue", "fixed"], 24, 2),
];
const PATTERNS_FR: &[Pattern] = &[
    (&["toujours", "en", "attente"], 1, 0),
    (&["en", "attente"], 1, 0),
    (&["j'", "attends"], 1, 0),
    (&["toujours", "pas"], 2, 0),
    (&["toujours", "rien"], 2, 0),
    (&["aucune", "reponse"], 3, 0),
    (&["pas", "de", "reponse"], 3, 0),
    (&["sans", "reponse"], 3, 0),
    (&["personne", "ne"], 3, 0),
    (&["jamais", "recu"], 4, 0),
    (&["pas", "recu"], 4, 0),
    (&["rien", "recu"], 4, 0),
    (&["#", "semaines"], 6, 0),
    (&["#", "jours"], 6, 0),
    (&["#", "heures"], 6, 0),
    (&["#", "h"], 6, 0),
    (&["#", "mois"], 6, 0),
    (&["#", "minutes"], 6, 0),
    (&["depuis", "#"], 6, 0),
    (&["service", "client"], 7, 0),
    (&["remboursement"], 8, 0),
    (&["rembourser"], 8, 0),
    (&["rembourse"], 8, 0),
    (&["aidez", "moi"], 9, 0),
    (&["perdu", "mon"], 10, 0),
    (&["perdu", "ma"], 10, 0),
    (&["inadmissible"], 11, 0),
    (&["inacceptable"], 11, 0),
    (&["arnaque"], 11, 0),
    (&["en", "retard"], 12, 0),
    (&["annule"], 13, 0),
    (&["annulee"], 13, 0),
    // later complaint patterns (idiom::MORE_COMPLAINTS)
    (&["injoignable"], 5, 1),
    (&["injoignables"], 5, 1),
    (&["impossible", "de", "joindre"], 5, 1),
    (&["impossible", "de", "les", "joindre"], 5, 1),
    (&["impossible", "de", "contacter"], 5, 1),
    (&["jamais", "livre"], 4, 1),
    (&["pas", "livre"], 4, 1),
    (&["jamais", "arrive"], 4, 1),
    (&["facture", "deux", "fois"], 14, 1),
    (&["preleve", "deux", "fois"], 14, 1),
    (&["debite", "deux", "fois"], 14, 1),
    (&["paye", "deux", "fois"], 14, 1),
    (&["double", "prelevement"], 14, 1),
    (&["double", "facturation"], 14, 1),
    (&["recommande", "pas"], 15, 1),
    (&["conseille", "pas"], 15, 1),
    (&["deconseille"], 15, 1),
    (&["a", "eviter"], 15, 1),
    (&["fuyez"], 15, 1),
    // positive idioms, mostly negated negatives (idiom::POSITIVE)
    (&["pas", "mal"], 20, 2),
    (&["pas", "mauvais"], 20, 2),
    (&["aucun", "probleme"], 21, 2),
    (&["pas", "de", "probleme"], 21, 2),
    (&["pas", "de", "problemes"], 21, 2),
    (&["sans", "probleme"], 21, 2),
    (&["sans", "problemes"], 21, 2),
    (&["aucun", "souci"], 21, 2),
    (&["aucun", "soucis"], 21, 2),
    (&["pas", "de", "souci"], 21, 2),
    (&["pas", "de", "soucis"], 21, 2),
    (&["sans", "souci"], 21, 2),
    (&["sans", "soucis"], 21, 2),
    (&["jamais", "decu"], 22, 2),
    (&["jamais", "decue"], 22, 2),
    (&["jamais", "decus"], 22, 2),
    (&["pas", "decu"], 22, 2),
    (&["pas", "decue"], 22, 2),
    (&["pas", "decus"], 22, 2),
    (&["jamais", "decevant"], 22, 2),
    (&["pas", "decevant"], 22, 2),
    (&["decoit", "pas"], 22, 2),
    (&["decoit", "jamais"], 22, 2),
    (&["regrette", "pas"], 23, 2),
    (&["regrette", "rien"], 23, 2),
    (&["aucun", "regret"], 23, 2),
    (&["pas", "de", "regret"], 23, 2),
    (&["sans", "regret"], 23, 2),
    (&["rien", "a", "redire"], 23, 2),
    (&["probleme", "regle"], 24, 2),
    (&["probleme", "resolu"], 24, 2),
    (&["souci", "regle"], 24, 2),
    (&["souci", "resolu"], 24, 2),
];

/// Patterns by their first word, per language (0 English, 1 French).
fn pattern_index() -> &'static [crate::lexicon::FastMap<&'static str, Vec<usize>>; 2] {
    static INDEX: std::sync::OnceLock<[crate::lexicon::FastMap<&'static str, Vec<usize>>; 2]> =
        std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let build = |pats: &'static [Pattern]| {
            let mut m = crate::lexicon::FastMap::<&'static str, Vec<usize>>::default();
            for (i, (p, _, _)) in pats.iter().enumerate() {
                if let Some(first) = p.first() {
                    m.entry(*first).or_default().push(i);
                }
            }
            m
        };
        [build(PATTERNS_EN), build(PATTERNS_FR)]
    })
}

fn pattern_matches(toks: &Tokens, at: usize, pat: &[&str]) -> bool {
    if at + pat.len() > toks.toks.len() {
        return false;
    }
    pat.iter().enumerate().all(|(j, p)| {
        let t = &toks.toks[at + j];
        if *p == "#" {
            t.kind == Kind::Number
        } else {
            matches!(t.kind, Kind::Word | Kind::Hashtag) && toks.norm_of(t) == *p
        }
    })
}

/// The VADER normalization: a sum into (-1, 1).
#[inline]
fn squash(s: f32) -> f32 {
    s / (s * s + 15.0).sqrt()
}

impl Feats {
    fn unit(&mut self, explain: bool, kind: UnitKind, start: u32, end: u32) -> u32 {
        if !explain {
            return 0;
        }
        self.units.push(Unit { kind, start, end });
        (self.units.len() - 1) as u32
    }

    #[inline]
    fn emit(&mut self, explain: bool, opts: &FeatureOptions, lang: usize, h: u64, unit: u32) {
        let shift = 64 - u32::from(opts.bits);
        match opts.lang {
            LangMode::Shared => self.ids.push((fmix(h) >> shift) as u32),
            LangMode::Separate => self.ids.push((fmix(h ^ K_LANG[lang]) >> shift) as u32),
            LangMode::Both => {
                self.ids.push((fmix(h) >> shift) as u32);
                self.ids.push((fmix(h ^ K_LANG[lang]) >> shift) as u32);
                if explain {
                    self.id_units.push(unit);
                }
            }
        }
        if explain {
            self.id_units.push(unit);
        }
    }
}

/// Extract the features of `text` (capped at [`text::MAX_CHARS`]).
/// Returns false when there is nothing to judge.
pub(crate) fn extract(
    text: &str,
    french: bool,
    opts: &FeatureOptions,
    explain: bool,
    f: &mut Feats,
) -> bool {
    let text = text::capped(text);
    f.ids.clear();
    f.id_units.clear();
    f.units.clear();
    f.dense_attr.clear();
    f.dense = [0.0; N_DENSE];
    let mut toks = std::mem::take(&mut f.tokens);
    text::tokenize(text, french, &mut toks);
    if !toks.judgeable() {
        f.tokens = toks;
        return false;
    }
    let mut lex = std::mem::take(&mut f.lex);
    lexicon::score(&toks, french, &mut lex);
    let lang = usize::from(french);

    // Pattern matches (emitted after the words, in this order):
    // (token index, length, concept, group).
    let patterns = if french { PATTERNS_FR } else { PATTERNS_EN };
    let index = &pattern_index()[lang];
    let mut matches = std::mem::take(&mut f.matches);
    matches.clear();
    f.in_idiom.clear();
    for i in 0..toks.toks.len() {
        let t = &toks.toks[i];
        let first = match t.kind {
            Kind::Number => "#",
            Kind::Word | Kind::Hashtag => toks.norm_of(t),
            _ => continue,
        };
        let Some(candidates) = index.get(first) else {
            continue;
        };
        for &pi in candidates {
            let (pat, concept, group) = &patterns[pi];
            let on = match group {
                0 => true,
                1 => opts.idioms & idiom::MORE_COMPLAINTS != 0,
                _ => opts.idioms & idiom::POSITIVE != 0,
            };
            if on && pattern_matches(&toks, i, pat) {
                matches.push((i as u32, pat.len() as u32, *concept, *group));
                if *group == 2 {
                    if f.in_idiom.is_empty() {
                        f.in_idiom.resize(toks.toks.len(), false);
                    }
                    f.in_idiom[i..i + pat.len()].fill(true);
                }
            }
        }
    }
    let in_idiom = |f: &Feats, i: usize, flag: u8| {
        opts.idioms & flag != 0 && f.in_idiom.get(i).copied().unwrap_or(false)
    };
    // Negators inside an idiom ("not" of "not bad") are not negations.
    if opts.idioms & idiom::NO_NEG_COUNT != 0 && !f.in_idiom.is_empty() {
        let inside = (0..toks.toks.len())
            .filter(|&i| f.in_idiom[i])
            .filter(|&i| lex.negated_by.contains(&Some(i as u32)))
            .count() as u32;
        lex.negations = lex.negations.saturating_sub(inside);
    }

    // Unigrams, char n-grams, negated words.
    let mut prev: Option<(u64, u32)> = None; // (word hash, start) for bigrams
    let mut prev2: Option<(u64, u32)> = None; // the word before, for trigrams
    for (i, t) in toks.toks.iter().enumerate() {
        let w = toks.norm_of(t);
        if t.kind == Kind::Punct && w == "." {
            prev = None;
            prev2 = None;
            continue;
        }
        let hw = hash_bytes(K_WORD, w.as_bytes());
        let u = f.unit(explain, UnitKind::Text, t.orig.0, t.orig.1);
        let skip_uni = in_idiom(f, i, idiom::NO_UNIGRAMS);
        if !skip_uni {
            f.emit(explain, opts, lang, hw, u);
        }
        if opts.word_bigrams
            && let Some((hp, start)) = prev
        {
            let ub = f.unit(explain, UnitKind::Text, start, t.orig.1);
            let hb = hp.wrapping_mul(K_BIGRAM) ^ hw;
            f.emit(explain, opts, lang, hb, ub);
            if opts.word_trigrams
                && let Some((hq, start2)) = prev2
            {
                let ut = f.unit(explain, UnitKind::Text, start2, t.orig.1);
                f.emit(explain, opts, lang, fmix(hq ^ K_TRIGRAM).wrapping_add(hb), ut);
            }
        }
        prev2 = prev;
        prev = Some((hw, t.orig.0));
        if opts.negation_marking
            && !skip_uni
            && !in_idiom(f, i, idiom::NO_NEG_MARK)
            && let Some(n) = lex.negated_by.get(i).copied().flatten()
        {
            let start = toks.toks[n as usize].orig.0;
            let un = f.unit(explain, UnitKind::Text, start, t.orig.1);
            f.emit(explain, opts, lang, hw ^ K_NEG, un);
        }
        if opts.char_max > 0
            && opts.char_scope == CharScope::Word
            && matches!(t.kind, Kind::Word | Kind::Hashtag)
        {
            f.chars.clear();
            f.chars.push(('<' as u32, u));
            f.chars.extend(w.chars().map(|c| (c as u32, u)));
            f.chars.push(('>' as u32, u));
            char_ngrams(f, explain, opts, lang);
        }
    }
    if opts.char_max > 0 && opts.char_scope == CharScope::Text {
        f.chars.clear();
        f.chars.push((' ' as u32, 0));
        for t in toks.toks.iter() {
            if !matches!(t.kind, Kind::Word | Kind::Hashtag) {
                continue;
            }
            // the unit of a word's char n-grams is its unigram unit
            let u = if explain {
                f.units
                    .iter()
                    .rposition(|x| x.start == t.orig.0 && x.end == t.orig.1)
                    .unwrap_or(0) as u32
            } else {
                0
            };
            f.chars
                .extend(toks.norm_of(t).chars().map(|c| (c as u32, u)));
            f.chars.push((' ' as u32, u));
        }
        char_ngrams(f, explain, opts, lang);
    }

    // Complaint patterns and idioms.
    let mut complaints = 0u32;
    for &(i, len, concept, group) in &matches {
        let (i, len) = (i as usize, len as usize);
        let (s, e) = (toks.toks[i].orig.0, toks.toks[i + len - 1].orig.1);
        let u = f.unit(explain, UnitKind::Pattern, s, e);
        if group == 2 {
            f.emit(explain, opts, lang, K_IDIOM ^ (u64::from(concept) << 8), u);
            continue;
        }
        complaints += 1;
        f.emit(
            explain,
            opts,
            lang,
            K_PATTERN ^ (u64::from(concept) << 8),
            u,
        );
        if explain {
            f.dense_attr.push((d::COMPLAINT as u8, u, 1.0));
        }
    }
    f.matches = matches;

    // Dense features.
    let n = |x: u32, cap: u32| x.min(cap) as f32 / cap as f32;
    for s in 0..4 {
        let (p, q) = (lex.pos[s], lex.neg[s]);
        f.dense[d::LEX_EN_POS + 2 * s] = squash(p);
        f.dense[d::LEX_EN_POS + 2 * s + 1] = squash(q);
    }
    debug_assert_eq!(d::LEX_EN_POS + 7, d::EMOJI_NEG);
    if explain {
        for &(ti, source, v, _) in &lex.hits {
            let slot = d::LEX_EN_POS + 2 * (source as usize) + usize::from(v < 0.0);
            let total = if v < 0.0 {
                lex.neg[source as usize]
            } else {
                lex.pos[source as usize]
            };
            let share = if total != 0.0 { v / total } else { 0.0 };
            let t = toks.toks[ti as usize];
            let start = match lex.negated_by[ti as usize] {
                Some(n) => toks.toks[n as usize].orig.0,
                None => t.orig.0,
            };
            let u = f.unit(explain, UnitKind::Lexicon, start, t.orig.1);
            f.dense_attr.push((slot as u8, u, share * f.dense[slot]));
        }
    }
    f.dense[d::NEGATIONS] = n(lex.negations, 3);
    f.dense[d::EXCLAIM] = n(toks.exclamations, 3);
    f.dense[d::QUESTION] = n(toks.questions, 3);
    let all_caps = toks.letter_words >= 3 && toks.caps_words * 10 >= toks.letter_words * 7;
    f.dense[d::ALL_CAPS] = if all_caps { 1.0 } else { 0.0 };
    f.dense[d::CAPS_WORDS] = if all_caps { 0.0 } else { n(toks.caps_words, 3) };
    f.dense[d::ELONGATION] = n(toks.elongated, 2);
    f.dense[d::COMPLAINT] = n(complaints, 3);
    f.dense[d::LENGTH] = ((1 + toks.toks.len()) as f32).ln() / 6.0;
    f.dense[if french { d::LANG_FR } else { d::LANG_EN }] = 1.0;
    f.dense[d::URL] = f32::from(u8::from(toks.toks.iter().any(|t| t.kind == Kind::Url)));
    f.dense[d::HANDLE] = f32::from(u8::from(toks.toks.iter().any(|t| t.kind == Kind::Handle)));
    if explain {
        // Complaint shares: the dense value split evenly between matches.
        let c = complaints.max(1) as f32;
        let v = f.dense[d::COMPLAINT];
        for a in f
            .dense_attr
            .iter_mut()
            .filter(|a| a.0 == d::COMPLAINT as u8)
        {
            a.2 = v / c;
        }
        for i in [
            d::NEGATIONS,
            d::EXCLAIM,
            d::QUESTION,
            d::ALL_CAPS,
            d::CAPS_WORDS,
            d::ELONGATION,
        ] {
            if f.dense[i] != 0.0 {
                let u = f.unit(explain, UnitKind::Dense(i as u8), 0, 0);
                f.dense_attr.push((i as u8, u, f.dense[i]));
            }
        }
    }
    f.value = if opts.sqrt_norm {
        1.0 / (f.ids.len().max(1) as f32).sqrt()
    } else {
        1.0
    };
    f.tokens = toks;
    f.lex = lex;
    true
}

fn char_ngrams(f: &mut Feats, explain: bool, opts: &FeatureOptions, lang: usize) {
    let (lo, hi) = (
        usize::from(opts.char_min.max(1)),
        usize::from(opts.char_max),
    );
    let chars = std::mem::take(&mut f.chars);
    for s in 0..chars.len() {
        let mut h = K_CHAR;
        for len in 1..=hi {
            let Some(&(c, _)) = chars.get(s + len - 1) else {
                break;
            };
            h = (h ^ u64::from(c)).wrapping_mul(P);
            if len >= lo {
                // the boundary-only n-gram "<>" or "  " carries nothing
                f.emit(explain, opts, lang, h ^ len as u64, chars[s].1);
            }
        }
    }
    f.chars = chars;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages() {
        assert_eq!(lang_of("fr"), Some(true));
        assert_eq!(lang_of("fr-CA"), Some(true));
        assert_eq!(lang_of("EN"), Some(false));
        assert_eq!(lang_of("de"), None);
        assert_eq!(lang_of(""), None);
    }

    #[test]
    fn features_are_deterministic_and_bounded() {
        let o = FeatureOptions::default();
        let mut a = Feats::default();
        let mut b = Feats::default();
        assert!(extract(
            "Toujours pas reçu ma commande 😡",
            true,
            &o,
            true,
            &mut a
        ));
        assert!(extract(
            "Toujours pas reçu ma commande 😡",
            true,
            &o,
            false,
            &mut b
        ));
        assert_eq!(a.ids, b.ids);
        assert_eq!(a.ids.len(), a.id_units.len());
        assert!(a.ids.iter().all(|&i| i < (1 << o.bits)));
        assert!(a.dense[d::COMPLAINT] > 0.0);
        assert!(a.dense.iter().all(|x| x.is_finite() && x.abs() <= 1.5));
    }

    #[test]
    fn idioms_are_one_concept_across_languages() {
        let o = FeatureOptions::default();
        let off = FeatureOptions {
            idioms: 0,
            ..FeatureOptions::default()
        };
        let ids = |text: &str, french: bool, o: &FeatureOptions| {
            let mut f = Feats::default();
            assert!(extract(text, french, o, false, &mut f));
            (f.ids.clone(), f.dense[d::NEGATIONS])
        };
        let shared = |a: &[u32], b: &[u32]| a.iter().filter(|x| b.contains(x)).count();
        // "aucun problème" and "no problem" share the concept's feature
        let (fr, _) = ids("aucun problème", true, &o);
        let (en, neg) = ids("no problem", false, &o);
        assert!(shared(&fr, &en) >= 1);
        let (fr0, _) = ids("aucun problème", true, &off);
        let (en0, neg0) = ids("no problem", false, &off);
        assert_eq!(shared(&fr0, &en0), 0);
        // the idiom's negator is not counted as a negation, and its words
        // emit no unigram nor negated copy
        assert_eq!(neg, 0.0);
        assert!(neg0 > 0.0);
        let (no, _) = ids("no", false, &o);
        assert!(!en.contains(&no[0]));
        assert!(en0.contains(&no[0]));
        // a complaint pattern added with the idioms
        let mut f = Feats::default();
        assert!(extract("Le SAV est injoignable", true, &o, false, &mut f));
        assert!(f.dense[d::COMPLAINT] > 0.0);
        assert!(extract("Le SAV est injoignable", true, &off, false, &mut f));
        assert_eq!(f.dense[d::COMPLAINT], 0.0);
    }

    #[test]
    fn nothing_to_judge() {
        let mut f = Feats::default();
        let o = FeatureOptions::default();
        assert!(!extract("", false, &o, false, &mut f));
        assert!(!extract("https://t.co/abc", false, &o, false, &mut f));
        assert!(extract("👍", false, &o, false, &mut f));
    }
}

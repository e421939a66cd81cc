//! Language identification.
//!
//! whatlang (trigram profiles, no model files) on the text with the parts that
//! say nothing about the language removed: URLs, @handles, #hashtags' `#`,
//! digits. Short social text is hard: the confidence is returned with the
//! code, and below [`MIN_CONFIDENCE`] the language is reported as unknown
//! rather than guessed.

use whatlang::{Detector, Lang};

/// Below this whatlang confidence the language is left unknown.
pub const MIN_CONFIDENCE: f64 = 0.2;

/// A detected language: ISO 639-1 code where one exists (ISO 639-3 otherwise)
/// and whatlang's confidence in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Detected {
    pub code: &'static str,
    pub confidence: f32,
}

/// ISO 639-1 for the languages whatlang knows that have one.
fn iso639_1(lang: Lang) -> &'static str {
    match lang {
        Lang::Eng => "en",
        Lang::Fra => "fr",
        Lang::Spa => "es",
        Lang::Por => "pt",
        Lang::Ita => "it",
        Lang::Deu => "de",
        Lang::Nld => "nl",
        Lang::Rus => "ru",
        Lang::Ukr => "uk",
        Lang::Pol => "pl",
        Lang::Ces => "cs",
        Lang::Slk => "sk",
        Lang::Slv => "sl",
        Lang::Hrv => "hr",
        Lang::Srp => "sr",
        Lang::Bul => "bg",
        Lang::Ron => "ro",
        Lang::Hun => "hu",
        Lang::Swe => "sv",
        Lang::Dan => "da",
        Lang::Nob => "nb",
        Lang::Fin => "fi",
        Lang::Est => "et",
        Lang::Lav => "lv",
        Lang::Lit => "lt",
        Lang::Ell => "el",
        Lang::Tur => "tr",
        Lang::Ara => "ar",
        Lang::Heb => "he",
        Lang::Pes => "fa",
        Lang::Urd => "ur",
        Lang::Hin => "hi",
        Lang::Ben => "bn",
        Lang::Cmn => "zh",
        Lang::Jpn => "ja",
        Lang::Kor => "ko",
        Lang::Vie => "vi",
        Lang::Tha => "th",
        Lang::Ind => "id",
        Lang::Epo => "eo",
        Lang::Lat => "la",
        Lang::Cat => "ca",
        Lang::Afr => "af",
        Lang::Aze => "az",
        Lang::Bel => "be",
        Lang::Kat => "ka",
        Lang::Hye => "hy",
        Lang::Tgl => "tl",
        Lang::Zul => "zu",
        Lang::Yid => "yi",
        other => other.code(),
    }
}

/// Strips what carries no language signal (URLs, handles, digits) and keeps
/// hashtag words (often real words: `#retard`, `#delayed`).
fn language_bearing_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        let word = word.trim_start_matches(|c: char| !c.is_alphanumeric() && c != '@' && c != '#');
        if word.starts_with('@') || word.contains("://") || word.starts_with("www.") {
            continue;
        }
        let word = word.trim_start_matches('#');
        if word.chars().all(|c| !c.is_alphabetic()) {
            continue;
        }
        out.push_str(word);
        out.push(' ');
    }
    out
}

/// Detects the language of `text`; `None` when there is too little text or
/// whatlang is not confident enough.
pub fn detect_language(text: &str) -> Option<Detected> {
    // Bound the work on huge posts: the first few kilobytes tell the language.
    let mut end = text.len().min(4096);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cleaned = language_bearing_text(&text[..end]);
    if cleaned.chars().filter(|c| c.is_alphabetic()).count() < 3 {
        return None;
    }
    let info = Detector::new().detect(&cleaned);
    let whatlang = info.map(|i| Detected { code: iso639_1(i.lang()), confidence: i.confidence() as f32 });
    // Short social text: trigram statistics hesitate (whatlang calls many
    // English tweets French), but French and English function words settle it.
    let vote = stopword_vote(&cleaned);
    match (vote, whatlang) {
        (Some((v, strength)), _) if strength >= STRONG_VOTE => Some(v),
        (Some((v, _)), Some(w)) if f64::from(w.confidence) >= RELIABLE_CONFIDENCE && w.code != v.code => {
            if matches!(w.code, "fr" | "en") { Some(v) } else { Some(w) }
        }
        (_, Some(w)) if f64::from(w.confidence) >= RELIABLE_CONFIDENCE => Some(w),
        // A weak vote does not overrule whatlang's pick of a third language
        // (Spanish and Italian share `de`, `la`, `no` with French and English).
        // A weak French vote may be Spanish, Italian or Portuguese (they share
        // `de`, `la`, `que`): whatlang's pick of a third language stands,
        // with its (low) confidence.
        (Some((v, _)), Some(w)) if v.code == "fr" && !matches!(w.code, "fr" | "en") => Some(w),
        (Some((v, _)), _) => Some(v),
        (None, w) => w.filter(|d| f64::from(d.confidence) >= MIN_CONFIDENCE),
    }
}

/// Function words of one language that outweigh whatlang's verdict.
const STRONG_VOTE: usize = 3;

/// At or above this whatlang confidence, whatlang is trusted over the
/// function-word vote.
const RELIABLE_CONFIDENCE: f64 = 0.5;

const FRENCH_FUNCTION_WORDS: &[&str] = &[
    "le", "la", "les", "de", "des", "du", "un", "une", "et", "est", "pas", "je", "j", "c", "ce", "mon",
    "ma", "mes", "à", "au", "aux", "pour", "que", "qui", "avec", "sur", "dans", "ne", "n", "vous",
    "nous", "il", "elle", "ils", "on", "toujours", "merci", "très", "mais", "ou", "d", "l", "qu", "se",
    "sont", "leur", "été", "fait", "cette", "plus", "tout", "rien", "ça", "en", "encore", "alors",
    "chez", "sans", "parce", "comme", "votre", "vos", "notre", "nos", "aussi", "déjà", "jamais",
];
const ENGLISH_FUNCTION_WORDS: &[&str] = &[
    "the", "to", "is", "and", "you", "my", "for", "of", "in", "on", "it", "i", "not", "thanks",
    "thank", "with", "this", "that", "are", "was", "be", "have", "your", "we", "at", "me", "can", "no",
    "but", "just", "still", "why", "what", "how", "will", "an", "so", "do", "get", "from", "again",
    "our", "us", "they", "he", "she", "his", "her", "been", "has", "had", "would", "could", "should",
    "there", "their", "them", "if", "or", "all", "about", "any", "up", "out", "when", "who", "which",
    "s", "t", "m", "ll", "ve", "re", "don", "doesn", "didn", "isn", "wasn", "won", "please",
];

/// Counts French and English function words; decides when one language has
/// at least two of them and twice as many as the other. Returns the verdict
/// and the winner's count.
fn stopword_vote(text: &str) -> Option<(Detected, usize)> {
    let (mut fr, mut en) = (0usize, 0usize);
    for word in text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()) {
        let lower = word.to_lowercase();
        fr += usize::from(FRENCH_FUNCTION_WORDS.contains(&lower.as_str()));
        en += usize::from(ENGLISH_FUNCTION_WORDS.contains(&lower.as_str()));
    }
    let (code, winner, loser) = if fr > en { ("fr", fr, en) } else { ("en", en, fr) };
    if winner >= 2 && winner >= 2 * loser {
        let share = winner as f32 / (winner + loser) as f32;
        let confidence = (0.3 + 0.1 * winner.min(5) as f32) * share;
        return Some((Detected { code, confidence }, winner));
    }
    None
}

/// Normalizes a language tag given by a source (`fr-FR`, `FR`, `fra`) to the
/// code Vigie stores, or `None` if it is not a plausible tag.
pub fn normalize_lang_tag(tag: &str) -> Option<String> {
    let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    if primary.len() == 3 {
        if let Some(lang) = Lang::from_code(&primary) {
            return Some(iso639_1(lang).to_string());
        }
    }
    Some(primary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_and_english_are_told_apart() {
        let fr = detect_language("Toujours pas reçu mon colis, trois semaines que j'attends, c'est scandaleux").unwrap();
        assert_eq!(fr.code, "fr");
        let en = detect_language("@united still waiting for my bag, three days and nobody answers the phone").unwrap();
        assert_eq!(en.code, "en");
        assert!(en.confidence > 0.2);
        assert_eq!(detect_language("@united thanks a lot for the help").map(|d| d.code), Some("en"));
        assert_eq!(detect_language("@SouthwestAir Just DMed you my confirmation number.").map(|d| d.code), Some("en"));
        assert_eq!(detect_language("“@JetBlue: Our fleet's on fleek. http://t.co/clu5pdPrHP” :(").map(|d| d.code), Some("en"));
        let es = detect_language("No tengo ninguna noticia de mi maleta desde el lunes, qué vergüenza de servicio").unwrap();
        assert_eq!(es.code, "es");
        let short_fr = detect_language("Retard & annulation Mon train SNCF a encore 2h de retard, c'est inadmissible !");
        assert_eq!(short_fr.map(|d| d.code), Some("fr"));
    }

    #[test]
    fn too_little_text_is_unknown() {
        assert_eq!(detect_language("@delta 👍 https://t.co/x"), None);
        assert_eq!(detect_language(""), None);
        assert_eq!(detect_language("1234 5678"), None);
    }

    #[test]
    fn source_tags_are_normalized() {
        assert_eq!(normalize_lang_tag("fr-FR").as_deref(), Some("fr"));
        assert_eq!(normalize_lang_tag("EN").as_deref(), Some("en"));
        assert_eq!(normalize_lang_tag("fra").as_deref(), Some("fr"));
        assert_eq!(normalize_lang_tag("français"), None);
        assert_eq!(normalize_lang_tag(""), None);
    }
}

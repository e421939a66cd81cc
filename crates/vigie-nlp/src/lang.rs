//! Language identification.
//!
//! whatlang (trigram profiles, no model files) on the text with the parts that
//! say nothing about the language removed: URLs, @handles, #hashtags' `#`,
//! digits. Short social text is hard: the confidence is returned with the
//! code, and below [`MIN_CONFIDENCE`] the language is reported as unknown
//! rather than guessed.

use std::collections::HashSet;
use std::sync::LazyLock;

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
        // The two-letter code wherever one exists (`sna` → `sn`): what a
        // `lang` attribute and most tools expect.
        other => isolang::Language::from_639_3(other.code()).and_then(|l| l.to_639_1()).unwrap_or(other.code()),
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
    // French and English function words settle most French and English
    // text at a fraction of whatlang's cost, and where whatlang hesitates on
    // short social text (it calls many English tweets French).
    let (fr, en) = function_words(&cleaned);
    let vote = stopword_vote(fr, en);
    if let Some((v, strength)) = &vote
        && *strength >= STRONG_VOTE {
            return Some(v.clone());
        }
    // Two or three words, each a French one of the lists ("jamais reçu"):
    // French, whatever trigram statistics make of so little text.
    let words = cleaned.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()).count();
    if let Some((v, strength)) = &vote
        && v.code == "fr"
        && *strength == words
    {
        return Some(v.clone());
    }
    let info = Detector::new().detect(&cleaned);
    let whatlang = info.map(|i| Detected { code: iso639_1(i.lang()), confidence: i.confidence() as f32 });
    match (vote, whatlang) {
        (Some((v, _)), Some(w)) if f64::from(w.confidence) >= RELIABLE_CONFIDENCE && w.code != v.code => {
            if matches!(w.code, "fr" | "en") { Some(v) } else { Some(w) }
        }
        (_, Some(w)) if f64::from(w.confidence) >= RELIABLE_CONFIDENCE => Some(w),
        // A weak French vote against whatlang's pick of a third language:
        // the pick stands, with its (low) confidence, unless whatlang has
        // next to no confidence in it (French typed without accents,
        // "toujours pas recu ma commande", looks Portuguese to it at 0.04).
        (Some((v, _)), Some(w))
            if v.code == "fr" && !matches!(w.code, "fr" | "en") && f64::from(w.confidence) >= MIN_CONFIDENCE =>
        {
            Some(w)
        }
        (Some((v, _)), _) => Some(v),
        // A hesitant French (English) pick against the function words of
        // the other language and none of its own: the short English tweet
        // "never lets me down!!!" is not French. As unsure as the pick.
        (None, Some(w)) if f64::from(w.confidence) >= MIN_CONFIDENCE && w.code == "fr" && en > 0 && fr == 0 => {
            Some(Detected { code: "en", confidence: w.confidence })
        }
        (None, Some(w)) if f64::from(w.confidence) >= MIN_CONFIDENCE && w.code == "en" && fr > 0 && en == 0 => {
            Some(Detected { code: "fr", confidence: w.confidence })
        }
        // A few words, one of them surely French (English) and none of the
        // other language's, where whatlang has next to no idea ("Super pain
        // chez Lemoine", "Accueil génial"): the word says more than
        // trigrams of so little text. Read in that language alone — read as
        // English too, "pain" is suffering. Only words no other common
        // language writes alike count here ("on", "je", "is", "my" do not).
        (None, w)
            if words <= FEW_WORDS
                && fr + en > 0
                && w.as_ref().is_none_or(|w| f64::from(w.confidence) < MIN_CONFIDENCE)
                && let (sure_fr, sure_en) = sure_words(&cleaned)
                && (sure_fr == 0) != (sure_en == 0)
                && if sure_fr > 0 { en == 0 } else { fr == 0 } =>
        {
            let code = if sure_fr > 0 { "fr" } else { "en" };
            Some(Detected { code, confidence: w.map_or(0.0, |w| w.confidence) })
        }
        (None, w) => w.filter(|d| f64::from(d.confidence) >= MIN_CONFIDENCE),
    }
}

/// Function words of one language that outweigh whatlang's verdict.
const STRONG_VOTE: usize = 3;

/// Texts this short are decided by a single function word of one language
/// when whatlang has next to no confidence.
const FEW_WORDS: usize = 8;

/// At or above this whatlang confidence, whatlang is trusted over the
/// function-word vote (and a detected language is taken as sure: below it,
/// the analysis also reads the text as French and as English).
pub const RELIABLE_CONFIDENCE: f64 = 0.5;

/// French function words that Spanish, Italian, Portuguese and English do not
/// share (`de`, `la`, `que`, `en`, `il`, `mais` would mislead the vote).
const FRENCH_FUNCTION_WORDS: &[&str] = &[
    "le", "les", "des", "du", "une", "est", "pas", "je", "j", "c", "ce", "mon", "mes", "au", "aux",
    "pour", "qui", "avec", "sur", "dans", "ne", "n", "vous", "nous", "elle", "ils", "toujours",
    "merci", "très", "d", "l", "qu", "sont", "leur", "été", "fait", "cette", "plus", "tout", "rien",
    "ça", "encore", "alors", "chez", "sans", "parce", "comme", "votre", "vos", "notre", "nos",
    "aussi", "déjà", "jamais", "et", "oui", "avez", "ai", "suis", "était", "mais", "depuis", "aucun",
    "aucune", "personne",
    // Words of customers' messages, as frequent there as function words and
    // spelled alike in no other common language: a three-word complaint
    // ("colis jamais reçu", "commande jamais livrée") is French, not
    // Portuguese or unknown.
    "commande", "commandé", "colis", "livraison", "livré", "livrée", "reçu", "reçue", "recu",
    "remboursement", "remboursé", "facture", "facturé", "panne",
    // …and of their praise and disappointment.
    "accueil", "génial", "géniale", "déçu", "déçue", "déception", "vendeuse", "arnaque",
];
/// English function words that the other common Latin-script languages do
/// not share (`in`, `no`, `so`, `me`, `an` would mislead the vote).
const ENGLISH_FUNCTION_WORDS: &[&str] = &[
    "the", "to", "is", "and", "you", "my", "for", "of", "on", "it", "i", "not", "thanks", "thank",
    "with", "this", "that", "are", "was", "be", "have", "your", "we", "at", "can", "but", "just",
    "still", "why", "what", "how", "will", "get", "from", "again", "our", "us", "they", "he", "she",
    "his", "her", "been", "has", "had", "would", "could", "should", "there", "their", "them", "if",
    "or", "about", "any", "up", "out", "when", "who", "which", "s", "t", "ll", "ve", "re", "don",
    "doesn", "didn", "isn", "wasn", "won", "please", "did", "does", "were", "by", "only", "where",
    "after", "very", "really", "never", "because", "than",
];

/// Words of French (English) that no other common language writes alike,
/// enough alone to call a few words French (English).
const SURELY_FRENCH: &[&str] = &[
    "chez", "très", "été", "ça", "toujours", "jamais", "déjà", "avez", "suis", "était", "vous", "votre",
    "aucun", "aucune", "parce", "commande", "commandé", "colis", "livraison", "livré",
    "livrée", "reçu", "reçue", "remboursement", "remboursé", "facture", "facturé", "accueil", "génial",
    "géniale", "déçu", "déçue", "déception", "vendeuse", "arnaque",
];
const SURELY_ENGLISH: &[&str] = &[
    "the", "and", "you", "your", "with", "this", "that", "thanks", "thank", "please", "have", "been",
    "would", "could", "should", "there", "their", "they", "what", "why", "which", "really", "never",
    "because", "didn", "doesn", "isn", "wasn",
];

/// How many words of [`SURELY_FRENCH`] and of [`SURELY_ENGLISH`] the text has.
fn sure_words(text: &str) -> (usize, usize) {
    let (mut fr, mut en) = (0, 0);
    for word in text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty() && w.len() <= 16) {
        let lower = word.to_lowercase();
        fr += usize::from(SURELY_FRENCH.contains(&lower.as_str()));
        en += usize::from(SURELY_ENGLISH.contains(&lower.as_str()));
    }
    (fr, en)
}

/// How many French and how many English function words the text has.
fn function_words(text: &str) -> (usize, usize) {
    static FRENCH: LazyLock<HashSet<&'static str>> = LazyLock::new(|| FRENCH_FUNCTION_WORDS.iter().copied().collect());
    static ENGLISH: LazyLock<HashSet<&'static str>> = LazyLock::new(|| ENGLISH_FUNCTION_WORDS.iter().copied().collect());
    let (mut fr, mut en) = (0usize, 0usize);
    let mut lower = String::with_capacity(16);
    // No listed word is longer than 13 letters ("remboursement").
    for word in text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty() && w.len() <= 16) {
        lower.clear();
        lower.extend(word.chars().flat_map(char::to_lowercase));
        fr += usize::from(FRENCH.contains(lower.as_str()));
        en += usize::from(ENGLISH.contains(lower.as_str()));
    }
    (fr, en)
}

/// Decides between French and English from their function-word counts
/// when one language has at least two of them and twice as many as the
/// other. Returns the verdict and the winner's count.
fn stopword_vote(fr: usize, en: usize) -> Option<(Detected, usize)> {
    let (code, winner, loser) = if fr > en { ("fr", fr, en) } else { ("en", en, fr) };
    if winner >= 2 && winner >= 2 * loser {
        let share = winner as f32 / (winner + loser) as f32;
        let confidence = (0.3 + 0.1 * winner.min(5) as f32) * share;
        return Some((Detected { code, confidence }, winner));
    }
    None
}

/// Normalizes a language tag given by a source or typed by a user (`fr-FR`,
/// `FR`, `fra`) to the code Vigie stores: the ISO 639-1 code when the
/// language has one, else its ISO 639-3 code. `None` when the tag names no
/// language (`xx`, `und`, `mul`, `zxx`, `english`).
pub fn normalize_lang_tag(tag: &str) -> Option<String> {
    let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    if primary.len() == 2 {
        return isolang::Language::from_639_1(&primary).map(|_| primary);
    }
    if let Some(lang) = Lang::from_code(&primary) {
        return Some(iso639_1(lang).to_string());
    }
    // Special codes: undetermined, multiple, uncoded, no linguistic content.
    if ["und", "mul", "mis", "zxx"].contains(&primary.as_str()) {
        return None;
    }
    let lang = isolang::Language::from_639_3(&primary)?;
    Some(lang.to_639_1().map_or(primary, str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_word_of_a_language_decides_a_few_words_trigrams_cannot() {
        for t in [
            "Super pain chez Lemoine",
            "Accueil génial chez Lemoine",
            "Super accueil",
            "la vendeuse m'a souri, super accueil",
            "Remboursement refusé",
        ] {
            assert_eq!(detect_language(t).map(|d| d.code), Some("fr"), "{t}");
        }
        assert_eq!(detect_language("Lemoine's bread is great").map(|d| d.code), Some("en"));
        // Nothing of either language: still unknown rather than guessed.
        assert_eq!(detect_language("Lemoine pain frais").map(|d| d.code), None);
        // Words other languages write alike decide nothing.
        for t in [
            "On adore Lemoine",
            "Super, on reviendra",
            "Het is goed",
            "Mam kota i psa",
            "Bist du da",
            "L'amore è bello",
            "Ik hou van je",
            "Plus size dresses",
            "Un mes perfecto",
            "Het was goed",
            "Was ist los",
            "Don Pepe muy rico",
            "Danke, merci",
        ] {
            assert!(!matches!(detect_language(t).map(|d| d.code), Some("fr" | "en")), "{t}: {:?}", detect_language(t));
        }
    }

    #[test]
    fn french_and_english_are_told_apart() {
        let fr = detect_language("Toujours pas reçu mon colis, trois semaines que j'attends, c'est scandaleux").unwrap();
        assert_eq!(fr.code, "fr");
        let en = detect_language("@united still waiting for my bag, three days and nobody answers the phone").unwrap();
        assert_eq!(en.code, "en");
        // Short sarcasm with few function words is still English.
        let en = detect_language("Wow @acmeco, only 3 weeks to deliver a blender. Amazing.").unwrap();
        assert_eq!(en.code, "en");
        assert!(en.confidence > 0.2);
        assert_eq!(detect_language("@united thanks a lot for the help").map(|d| d.code), Some("en"));
        assert_eq!(detect_language("@SouthwestAir Just DMed you my confirmation number.").map(|d| d.code), Some("en"));
        assert_eq!(detect_language("“@JetBlue: Our fleet's on fleek. http://t.co/clu5pdPrHP” :(").map(|d| d.code), Some("en"));
        // Trigram profiles hesitantly call these French; one English
        // function word against none of French settles it, as unsure.
        for text in ["@SouthwestAir never lets me down!!!", "@JetBlue whatever your lil #mint heart desires!"] {
            let en = detect_language(text).unwrap();
            assert_eq!(en.code, "en", "{text}");
            assert!(f64::from(en.confidence) < RELIABLE_CONFIDENCE, "{text}: {en:?}");
        }
        for (text, code) in [
            ("No tengo ninguna noticia de mi maleta desde el lunes, y nadie en el aeropuerto quiere ayudarme con el problema", "es"),
            ("Non ho ancora ricevuto il mio pacco, il servizio clienti non risponde mai", "it"),
            ("Ainda não recebi a minha encomenda, o serviço de apoio não responde", "pt"),
            ("Ich warte immer noch auf mein Paket, der Kundendienst antwortet nicht", "de"),
        ] {
            assert_eq!(detect_language(text).map(|d| d.code), Some(code), "{text}");
        }
        // French typed without accents, which trigram profiles call
        // Portuguese with next to no confidence.
        for text in ["toujours pas recu ma commande acme", "Je recommande pas", "colis jamais reçu", "Colis jamais recu", "commande jamais livrée", "jamais reçu", "Toujours rien !"] {
            assert_eq!(detect_language(text).map(|d| d.code), Some("fr"), "{text}");
        }
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
        // Every language with a two-letter code is stored with it (a page's
        // `lang` attribute needs the shortest tag).
        assert_eq!(normalize_lang_tag("sna").as_deref(), Some("sn"));
        assert_eq!(normalize_lang_tag("cym").as_deref(), Some("cy"));
        assert_eq!(normalize_lang_tag("jav").as_deref(), Some("jv"));
        assert_eq!(normalize_lang_tag("français"), None);
        assert_eq!(normalize_lang_tag("ga").as_deref(), Some("ga"), "languages detection does not know are kept");
        assert_eq!(normalize_lang_tag("gsw").as_deref(), Some("gsw"), "no ISO 639-1 code: the 639-3 one");
        assert_eq!(normalize_lang_tag("deu").as_deref(), Some("de"));
        for no_language in ["xx", "zz", "qq", "und", "mul", "zxx", "qaa"] {
            assert_eq!(normalize_lang_tag(no_language), None, "{no_language}");
        }
        assert_eq!(normalize_lang_tag(""), None);
    }
}

//! Social-media aware tokenizer: the one view of a text that every feature reads.
//!
//! - The text considered is capped at [`MAX_CHARS`] characters (a 1 MB paste
//!   costs the same as a long review).
//! - Words are lower-cased and accent-folded (`reçu` and `recu` match), digits
//!   become `0`, and runs of three or more identical characters are capped at
//!   two (`trooop` → `troop`, `sooo` → `soo`) with an elongation flag.
//! - URLs become `http`, @handles become `@user` (the placeholders the public
//!   tweet datasets use), `#hashtags` become their words (`#CustomerService`
//!   → `customer`, `service`).
//! - Emoji and emoticons are tokens of their own; `!` and `?` runs are kept.
//! - French elisions are split (`n'est` → `n'`, `est`); English contractions
//!   are kept whole (`don't`).
//!
//! Tokens keep their byte range in the original text so explanations can
//! quote what the author wrote.

/// Characters of a text that are looked at; the rest is ignored.
pub const MAX_CHARS: usize = 4000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Word,
    Number,
    Hashtag,
    Handle,
    Url,
    Emoji,
    Emoticon,
    /// `!`, `?`, `.`, `,`, `;`, `:`, … (runs collapsed to one token).
    Punct,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub kind: Kind,
    /// Byte range in the original text.
    pub orig: (u32, u32),
    /// Byte range in [`Tokens::norm`].
    pub norm: (u32, u32),
    /// At least two letters, all upper-case.
    pub caps: bool,
    pub elongated: bool,
}

/// Reusable tokenizer output.
#[derive(Default, Debug)]
pub(crate) struct Tokens {
    pub norm: String,
    pub toks: Vec<Token>,
    /// Words with at least two letters.
    pub letter_words: u32,
    pub caps_words: u32,
    pub elongated: u32,
    pub exclamations: u32,
    pub questions: u32,
}

impl Tokens {
    pub fn norm_of(&self, t: &Token) -> &str {
        self.norm
            .get(t.norm.0 as usize..t.norm.1 as usize)
            .unwrap_or("")
    }

    /// True when there is something to judge: a word, an emoji or an emoticon.
    pub fn judgeable(&self) -> bool {
        self.toks.iter().any(|t| {
            matches!(
                t.kind,
                Kind::Word | Kind::Hashtag | Kind::Emoji | Kind::Emoticon
            )
        })
    }
}

/// The text actually considered: at most [`MAX_CHARS`] characters.
pub fn capped(text: &str) -> &str {
    match text.char_indices().nth(MAX_CHARS) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// Emoticons, longest first, with their canonical spelling.
const EMOTICONS: &[(&str, &str)] = &[
    (":'-(", ":'("),
    (":-))", ":)"),
    (":-((", ":("),
    ("^_^", "^^"),
    ("-_-", "-_-"),
    ("</3", "</3"),
    (":'(", ":'("),
    (":))", ":)"),
    (":((", ":("),
    (":-)", ":)"),
    (":-(", ":("),
    (":-D", ":D"),
    (":-P", ":p"),
    (":-p", ":p"),
    (":-/", ":/"),
    (":-|", ":|"),
    (";-)", ";)"),
    (":)", ":)"),
    (":(", ":("),
    (":D", ":D"),
    (":P", ":p"),
    (":p", ":p"),
    (":/", ":/"),
    (":|", ":|"),
    (":o", ":o"),
    (":O", ":o"),
    (":s", ":s"),
    (":S", ":s"),
    (";)", ";)"),
    (";D", ";)"),
    ("=)", ":)"),
    ("=(", ":("),
    ("=D", ":D"),
    ("<3", "<3"),
    ("^^", "^^"),
];

/// French elided prefixes that are split from their word (`n'est` → `n'`, `est`).
const FR_ELISIONS: &[&str] = &[
    "l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu",
];

pub(crate) fn is_emoji(c: char) -> bool {
    let u = c as u32;
    (0x1F000..=0x1FAFF).contains(&u)
        || (0x2600..=0x27BF).contains(&u)
        || (0x2B00..=0x2BFF).contains(&u)
        || (0x231A..=0x23FF).contains(&u)
}

/// Joiners and modifiers that belong to the preceding emoji.
fn is_emoji_modifier(c: char) -> bool {
    let u = c as u32;
    u == 0xFE0F || u == 0xFE0E || u == 0x200D || u == 0x20E3 || (0x1F3FB..=0x1F3FF).contains(&u)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Lower-case and fold the accents of one character into `out`.
pub(crate) fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    let lower = if c.is_uppercase() {
        c.to_lowercase().next().unwrap_or(c)
    } else {
        c
    };
    let folded = match lower {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' => 'i',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => 'u',
        'ý' | 'ÿ' => 'y',
        'ś' | 'š' => 's',
        'ź' | 'ż' | 'ž' => 'z',
        'œ' => {
            out.push_str("oe");
            return;
        }
        'æ' => {
            out.push_str("ae");
            return;
        }
        'ß' => {
            out.push_str("ss");
            return;
        }
        '’' | 'ʼ' | '`' | '´' => '\'',
        other => other,
    };
    out.push(folded);
}

/// Fold a whole string (lexicon keys are folded the same way as text).
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        fold_char(c, &mut out);
    }
    out
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }
    fn peek_at(&self, j: usize) -> Option<char> {
        self.s.get(j..).and_then(|r| r.chars().next())
    }
}

/// Tokenize `text` (already capped) into `out` (cleared first).
pub(crate) fn tokenize(text: &str, french: bool, out: &mut Tokens) {
    out.norm.clear();
    out.toks.clear();
    out.letter_words = 0;
    out.caps_words = 0;
    out.elongated = 0;
    out.exclamations = 0;
    out.questions = 0;
    let mut cur = Cursor { s: text, i: 0 };
    let mut prev_was_word = false;
    while let Some(c) = cur.peek() {
        let start = cur.i;
        let rest = &text[start..];
        if c.is_whitespace() {
            cur.i += c.len_utf8();
            prev_was_word = false;
            continue;
        }
        // URL
        if starts_with_ci(rest, "http") || starts_with_ci(rest, "www.") {
            let end = rest
                .find(char::is_whitespace)
                .map_or(text.len(), |e| start + e);
            push_fixed(out, Kind::Url, start, end, "http");
            cur.i = end;
            prev_was_word = false;
            continue;
        }
        // @handle
        if c == '@' && cur.peek_at(start + 1).is_some_and(is_word_char) {
            let mut end = start + 1;
            while let Some(d) = cur.peek_at(end).filter(|d| is_word_char(*d)) {
                end += d.len_utf8();
            }
            push_fixed(out, Kind::Handle, start, end, "@user");
            cur.i = end;
            prev_was_word = false;
            continue;
        }
        // #hashtag → its words
        if c == '#' && cur.peek_at(start + 1).is_some_and(|d| d.is_alphanumeric()) {
            let mut end = start + 1;
            while let Some(d) = cur.peek_at(end).filter(|d| is_word_char(*d)) {
                end += d.len_utf8();
            }
            push_hashtag(out, text, start + 1, end);
            cur.i = end;
            prev_was_word = false;
            continue;
        }
        // emoticon (not glued to a preceding word: "http:/" is a URL, "a:b" is not a smiley)
        if !prev_was_word
            && !c.is_alphanumeric()
            && let Some((pat, canon)) = EMOTICONS.iter().find(|(p, _)| rest.starts_with(p))
            && !cur
                .peek_at(start + pat.len())
                .is_some_and(|d| d.is_alphanumeric())
        {
            push_fixed(out, Kind::Emoticon, start, start + pat.len(), canon);
            cur.i = start + pat.len();
            prev_was_word = false;
            continue;
        }
        if is_word_char(c) {
            cur.i = push_word(out, text, start, french);
            prev_was_word = true;
            continue;
        }
        if is_emoji(c) {
            let mut end = start + c.len_utf8();
            while let Some(d) = cur.peek_at(end).filter(|d| is_emoji_modifier(*d)) {
                end += d.len_utf8();
            }
            let n0 = out.norm.len();
            out.norm.push(c);
            out.toks.push(Token {
                kind: Kind::Emoji,
                orig: (start as u32, end as u32),
                norm: (n0 as u32, out.norm.len() as u32),
                caps: false,
                elongated: false,
            });
            cur.i = end;
            prev_was_word = false;
            continue;
        }
        if is_emoji_modifier(c) {
            cur.i += c.len_utf8();
            continue;
        }
        if matches!(
            c,
            '!' | '?' | '.' | ',' | ';' | ':' | '(' | ')' | '…' | '¡' | '¿'
        ) {
            let mut end = start;
            let (mut ex, mut qu) = (0u32, 0u32);
            while let Some(d) = cur.peek_at(end).filter(|d| {
                matches!(
                    d,
                    '!' | '?' | '.' | ',' | ';' | ':' | '(' | ')' | '…' | '¡' | '¿'
                )
            }) {
                if d == '!' {
                    ex += 1;
                }
                if d == '?' {
                    qu += 1;
                }
                end += d.len_utf8();
            }
            out.exclamations += ex;
            out.questions += qu;
            let canon = if ex > 0 {
                "!"
            } else if qu > 0 {
                "?"
            } else {
                "."
            };
            push_fixed(out, Kind::Punct, start, end, canon);
            cur.i = end;
            prev_was_word = false;
            continue;
        }
        // Anything else (symbols, quotes, control characters) only separates.
        cur.i += c.len_utf8();
        prev_was_word = false;
    }
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn push_fixed(out: &mut Tokens, kind: Kind, start: usize, end: usize, norm: &str) {
    let n0 = out.norm.len();
    out.norm.push_str(norm);
    out.toks.push(Token {
        kind,
        orig: (start as u32, end as u32),
        norm: (n0 as u32, out.norm.len() as u32),
        caps: false,
        elongated: false,
    });
}

/// Normalize `text[start..end]` as one word token (lower-case, folded, digits
/// to `0`, runs capped at two).
fn push_norm_word(out: &mut Tokens, text: &str, start: usize, end: usize, kind: Kind) {
    let src = &text[start..end];
    let n0 = out.norm.len();
    let (mut upper, mut lower, mut letters, mut digits) = (0u32, 0u32, 0u32, 0u32);
    let mut elongated = false;
    let mut last: Option<char> = None;
    let mut run = 0u32;
    for c in src.chars() {
        if c.is_alphabetic() {
            letters += 1;
            if c.is_uppercase() {
                upper += 1;
            } else if c.is_lowercase() {
                lower += 1;
            }
        }
        let c = if c.is_ascii_digit() {
            digits += 1;
            '0'
        } else {
            c
        };
        let before = out.norm.len();
        fold_char(c, &mut out.norm);
        // Cap runs of one (folded) character at two.
        let folded = out.norm[before..].chars().next();
        if folded == last && out.norm.len() - before == folded.map_or(0, char::len_utf8) {
            run += 1;
            if run >= 3 {
                out.norm.truncate(before);
                if c != '0' {
                    elongated = true;
                }
            }
        } else {
            run = 1;
            last = folded;
        }
    }
    let kind = if letters == 0 && digits > 0 && kind == Kind::Word {
        Kind::Number
    } else {
        kind
    };
    if kind == Kind::Number {
        out.norm.truncate(n0);
        out.norm.push('0');
    }
    let caps = letters >= 2 && lower == 0 && upper >= 2;
    if letters >= 2 {
        out.letter_words += 1;
        if caps {
            out.caps_words += 1;
        }
    }
    if elongated {
        out.elongated += 1;
    }
    out.toks.push(Token {
        kind,
        orig: (start as u32, end as u32),
        norm: (n0 as u32, out.norm.len() as u32),
        caps,
        elongated,
    });
}

/// A word starting at `start`; returns where it ends.
fn push_word(out: &mut Tokens, text: &str, start: usize, french: bool) -> usize {
    let mut seg_start = start;
    let mut i = start;
    let bytes_len = text.len();
    while i < bytes_len {
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        if is_word_char(c) {
            i += c.len_utf8();
            continue;
        }
        if matches!(c, '\'' | '’') {
            let after = i + c.len_utf8();
            let next_is_letter = text[after..]
                .chars()
                .next()
                .is_some_and(|d| d.is_alphabetic());
            if !next_is_letter {
                break;
            }
            let prefix = fold(&text[seg_start..i]);
            if french && FR_ELISIONS.contains(&prefix.as_str()) {
                // "n'" as its own token, then the word.
                push_norm_word(out, text, seg_start, i, Kind::Word);
                if let Some(t) = out.toks.last_mut() {
                    t.orig.1 = after as u32;
                }
                out.norm.push('\'');
                if let Some(t) = out.toks.last_mut() {
                    t.norm.1 = out.norm.len() as u32;
                }
                seg_start = after;
            }
            i = after;
            continue;
        }
        break;
    }
    if i > seg_start {
        // "xD" is a smiley, not a word.
        let w = &text[seg_start..i];
        if seg_start == start && matches!(w, "xD" | "XD" | "xd") {
            push_fixed(out, Kind::Emoticon, seg_start, i, ":D");
        } else {
            push_norm_word(out, text, seg_start, i, Kind::Word);
        }
    }
    i
}

/// `#UnitedAirlines` → `united`, `airlines`; `#retard` → `retard`.
fn push_hashtag(out: &mut Tokens, text: &str, start: usize, end: usize) {
    let s = &text[start..end];
    let mut seg = start;
    let mut prev: Option<char> = None;
    for (off, c) in s.char_indices() {
        let at = start + off;
        let boundary = match prev {
            Some(p) => {
                (p.is_lowercase() && c.is_uppercase())
                    || (p.is_alphabetic() && c.is_ascii_digit())
                    || (p.is_ascii_digit() && c.is_alphabetic())
                    || c == '_'
            }
            None => false,
        };
        if boundary && at > seg {
            push_hashtag_part(out, text, seg, at);
            seg = at;
        }
        if c == '_' {
            seg = at + 1;
        }
        prev = Some(c);
    }
    if end > seg {
        push_hashtag_part(out, text, seg, end);
    }
}

fn push_hashtag_part(out: &mut Tokens, text: &str, start: usize, end: usize) {
    push_norm_word(out, text, start, end, Kind::Hashtag);
    // A hashtag word is never "shouted".
    if let Some(t) = out.toks.last_mut()
        && t.caps
    {
        t.caps = false;
        out.caps_words = out.caps_words.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norms(text: &str, fr: bool) -> Vec<(Kind, String)> {
        let mut t = Tokens::default();
        tokenize(text, fr, &mut t);
        t.toks
            .iter()
            .map(|k| (k.kind, t.norm_of(k).to_string()))
            .collect()
    }

    fn words(text: &str, fr: bool) -> Vec<String> {
        norms(text, fr).into_iter().map(|(_, w)| w).collect()
    }

    #[test]
    fn folds_accents_and_case() {
        assert_eq!(words("Très DÉÇU", true), ["tres", "decu"]);
        assert_eq!(words("cœur", true), ["coeur"]);
    }

    #[test]
    fn caps_elongations_at_two() {
        let mut t = Tokens::default();
        tokenize("trooop sooooo good", false, &mut t);
        assert_eq!(t.norm_of(&t.toks[0]), "troop");
        assert_eq!(t.norm_of(&t.toks[1]), "soo");
        assert!(t.toks[0].elongated && t.toks[1].elongated && !t.toks[2].elongated);
        assert_eq!(t.elongated, 2);
        // "coffee" is not elongated
        tokenize("coffee", false, &mut t);
        assert!(!t.toks[0].elongated);
    }

    #[test]
    fn placeholders_and_hashtags() {
        assert_eq!(
            norms("@united https://t.co/x #CustomerService", false),
            [
                (Kind::Handle, "@user".to_string()),
                (Kind::Url, "http".to_string()),
                (Kind::Hashtag, "customer".to_string()),
                (Kind::Hashtag, "service".to_string()),
            ]
        );
    }

    #[test]
    fn french_elisions_split_english_contractions_kept() {
        assert_eq!(
            words("n'est pas l'avion aujourd'hui", true),
            ["n'", "est", "pas", "l'", "avion", "aujourd'hui"]
        );
        assert_eq!(words("I don't know", false), ["i", "don't", "know"]);
    }

    #[test]
    fn emoji_and_emoticons() {
        let n = norms("super :-) 😡😡 ❤️ xD :(", true);
        let kinds: Vec<Kind> = n.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [
                Kind::Word,
                Kind::Emoticon,
                Kind::Emoji,
                Kind::Emoji,
                Kind::Emoji,
                Kind::Emoticon,
                Kind::Emoticon
            ]
        );
        assert_eq!(n[1].1, ":)");
        assert_eq!(n[4].1, "❤");
        // "http://" is a URL, not ":/"
        assert_eq!(norms("voir http://a.b/c", true)[1].0, Kind::Url);
    }

    #[test]
    fn numbers_and_punctuation() {
        let mut t = Tokens::default();
        tokenize("3 semaines!!! vraiment?", true, &mut t);
        assert_eq!(t.toks[0].kind, Kind::Number);
        assert_eq!(t.norm_of(&t.toks[0]), "0");
        assert_eq!(t.exclamations, 3);
        assert_eq!(t.questions, 1);
        assert_eq!(t.toks[2].kind, Kind::Punct);
    }

    #[test]
    fn all_caps_words_counted() {
        let mut t = Tokens::default();
        tokenize("WORST AIRLINE EVER ok", false, &mut t);
        assert_eq!((t.caps_words, t.letter_words), (3, 4));
    }

    #[test]
    fn cap_is_on_characters() {
        let long = "é".repeat(MAX_CHARS + 10);
        assert_eq!(capped(&long).chars().count(), MAX_CHARS);
        assert_eq!(capped("abc"), "abc");
    }

    #[test]
    fn nothing_to_judge() {
        let mut t = Tokens::default();
        tokenize("https://example.com   @someone !!!", false, &mut t);
        assert!(!t.judgeable());
        tokenize("😡", false, &mut t);
        assert!(t.judgeable());
    }
}

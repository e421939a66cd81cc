//! The one tokenizer shared by queries, matching and indexing.
//!
//! Rules (also in the crate docs):
//! - a *token character* is a Unicode letter or digit (`char::is_alphanumeric`); combining marks
//!   continue the current token and are dropped; everything else separates tokens
//!   (so `l'avion` is `l` + `avion`, `wi-fi` is `wi` + `fi`, `12:30` is `12` + `30`);
//! - normalization: compatibility decomposition (NFKD, so `ﬁ` → `fi`, full-width letters → ASCII),
//!   lower-casing, accents stripped, and a few folds NFKD does not do: `œ`→`oe`, `æ`→`ae`,
//!   `ß`→`ss`, `ø`→`o`, `đ`/`ð`→`d`, `ł`→`l`, `þ`→`th`, `ı`→`i`;
//! - `#` or `@` directly followed by a token character, and not preceded by one, starts a
//!   hashtag / mention; its body is token characters and `_` (trailing `_` excluded). The
//!   token text is the normalized body without the sigil, its byte span includes the sigil.
//!   `contact@sncf.fr` is therefore three words, not a mention.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A plain word (letters and digits).
    Word,
    /// `#hashtag` (text stored without the `#`).
    Hashtag,
    /// `@handle` (text stored without the `@`).
    Mention,
}

/// One token of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Normalized text (lower-case, no accents, ligatures folded; no sigil for hashtags/mentions).
    pub text: String,
    /// Word, hashtag or mention.
    pub kind: TokenKind,
    /// 0-based index of the token in the text.
    pub position: u32,
    /// Byte offset of the token's first byte in the original text (the sigil for hashtags).
    pub byte_start: usize,
    /// Byte offset one past the token's last byte in the original text.
    pub byte_end: usize,
}

/// Split `text` into normalized tokens (see the module docs for the rules).
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut position = 0u32;
    scan(text, |norm, kind, byte_start, byte_end| {
        out.push(Token {
            text: norm.to_owned(),
            kind,
            position,
            byte_start,
            byte_end,
        });
        position = position.saturating_add(1);
    });
    out
}

/// Normalized token string for full-text indexing: tokens separated by single spaces.
///
/// Every token of [`tokenize`] becomes exactly one space-free run of letters and digits, so an
/// FTS engine that splits on non-alphanumerics (SQLite FTS5 `unicode61`, PostgreSQL `simple`)
/// sees the same tokens at the same positions. Hashtags and mentions lose their sigil and
/// their underscores (`#Air_France` → `airfrance`) so that they stay one token there too.
pub fn index_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    scan(s, |norm, kind, _, _| {
        if !out.is_empty() {
            out.push(' ');
        }
        match kind {
            TokenKind::Word => out.push_str(norm),
            TokenKind::Hashtag | TokenKind::Mention => {
                out.extend(norm.chars().filter(|&c| c != '_'));
            }
        }
    });
    out
}

/// Fold one token text the way [`index_text`] writes it (hashtag underscores removed).
pub(crate) fn index_form(text: &str, kind: TokenKind) -> String {
    match kind {
        TokenKind::Word => text.to_owned(),
        TokenKind::Hashtag | TokenKind::Mention => text.chars().filter(|&c| c != '_').collect(),
    }
}

/// Whether `c` starts or continues a token.
#[inline]
fn is_token_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        c.is_alphanumeric()
    }
}

/// Whether `c` is a combining mark (never true for ASCII; checked first for speed).
#[inline]
fn is_mark(c: char) -> bool {
    !c.is_ascii() && is_combining_mark(c)
}

/// Append the normalized form of `c` (a token character or combining mark) to `buf`.
#[inline]
fn push_folded(buf: &mut String, c: char) {
    if c.is_ascii() {
        if c.is_ascii_alphanumeric() {
            buf.push(c.to_ascii_lowercase());
        }
        return;
    }
    for lower in c.to_lowercase() {
        decompose_compatible(lower, |d| {
            if is_combining_mark(d) {
                return;
            }
            // NFKD can yield upper-case (e.g. some compatibility forms): lower again.
            for l in d.to_lowercase() {
                match l {
                    'œ' => buf.push_str("oe"),
                    'æ' => buf.push_str("ae"),
                    'ß' => buf.push_str("ss"),
                    'ø' => buf.push('o'),
                    'đ' | 'ð' => buf.push('d'),
                    'ł' => buf.push('l'),
                    'þ' => buf.push_str("th"),
                    'ı' => buf.push('i'),
                    _ if l.is_alphanumeric() => buf.push(l),
                    _ => {}
                }
            }
        });
    }
}

/// Core scanner: calls `emit(normalized, kind, byte_start, byte_end)` for each token, reusing
/// one buffer (no allocation per token). Tokens whose normalized form is empty are skipped.
pub(crate) fn scan(text: &str, mut emit: impl FnMut(&str, TokenKind, usize, usize)) {
    let mut buf = String::with_capacity(32);
    let mut iter = text.char_indices().peekable();
    // Whether the previous character was a token character (or a mark inside a token).
    let mut prev_token_char = false;
    while let Some((i, c)) = iter.next() {
        if is_token_char(c) {
            // A plain word.
            buf.clear();
            push_folded(&mut buf, c);
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = iter.peek() {
                if is_token_char(d) || is_mark(d) {
                    push_folded(&mut buf, d);
                    end = j + d.len_utf8();
                    iter.next();
                } else {
                    break;
                }
            }
            if !buf.is_empty() {
                emit(&buf, TokenKind::Word, i, end);
            }
            prev_token_char = true;
            continue;
        }
        if (c == '#' || c == '@')
            && !prev_token_char
            && let Some(&(_, first)) = iter.peek()
            && is_token_char(first)
        {
            let kind = if c == '#' {
                TokenKind::Hashtag
            } else {
                TokenKind::Mention
            };
            buf.clear();
            let mut end = i + 1;
            // Body: token chars, marks and '_'; trailing '_' excluded from the token.
            let mut committed_len = 0usize;
            while let Some(&(j, d)) = iter.peek() {
                if is_token_char(d) || is_mark(d) {
                    push_folded(&mut buf, d);
                    end = j + d.len_utf8();
                    committed_len = buf.len();
                    iter.next();
                } else if d == '_' {
                    buf.push('_');
                    iter.next();
                } else {
                    break;
                }
            }
            let trailing_underscore = buf.len() != committed_len;
            buf.truncate(committed_len);
            if !buf.is_empty() {
                emit(&buf, kind, i, end);
            }
            prev_token_char = !trailing_underscore;
            continue;
        }
        prev_token_char = is_mark(c) && prev_token_char;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        tokenize(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn folds_case_accents_and_ligatures() {
        assert_eq!(
            texts("Déroute à l'Œuvre, ÆRO Straße"),
            ["deroute", "a", "l", "oeuvre", "aero", "strasse"]
        );
        assert_eq!(texts("ﬁnance ＫｉｔＫａｔ"), ["finance", "kitkat"]);
        // decomposed input (e + combining acute) gives the same token
        assert_eq!(texts("De\u{301}route"), ["deroute"]);
    }

    #[test]
    fn separators() {
        assert_eq!(
            texts("wi-fi 12:30 l’avion"),
            ["wi", "fi", "12", "30", "l", "avion"]
        );
        assert_eq!(texts("!!! 😡 ..."), Vec::<String>::new());
    }

    #[test]
    fn hashtags_and_mentions() {
        let toks = tokenize("Merci @SNCF pour le #Retard_TGV_ ! contact@sncf.fr #");
        let kinds: Vec<_> = toks.iter().map(|t| (t.text.as_str(), t.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("merci", TokenKind::Word),
                ("sncf", TokenKind::Mention),
                ("pour", TokenKind::Word),
                ("le", TokenKind::Word),
                ("retard_tgv", TokenKind::Hashtag),
                ("contact", TokenKind::Word),
                ("sncf", TokenKind::Word),
                ("fr", TokenKind::Word),
            ]
        );
        let tag = &toks[4];
        assert_eq!(
            &"Merci @SNCF pour le #Retard_TGV_ ! contact@sncf.fr #"[tag.byte_start..tag.byte_end],
            "#Retard_TGV"
        );
        assert_eq!(
            toks.iter().map(|t| t.position).collect::<Vec<_>>(),
            (0..8).collect::<Vec<_>>()
        );
    }

    #[test]
    fn byte_offsets_point_into_original() {
        let s = "Très déçu par Air France";
        for t in tokenize(s) {
            let orig = &s[t.byte_start..t.byte_end];
            assert_eq!(texts(orig), std::slice::from_ref(&t.text));
        }
    }

    #[test]
    fn index_text_is_space_joined_and_one_token_per_token() {
        assert_eq!(
            index_text("  Vol #Air_France annulé, merci @easyJet!! "),
            "vol airfrance annule merci easyjet"
        );
        let s = "Ça a l'air d'être #top_du_top @x_y";
        assert_eq!(index_text(s).split(' ').count(), tokenize(s).len());
    }
}

//! Query lexer: splits the query string into operators, words, phrases and fields.

use crate::QueryError;

/// Longest accepted `NEAR/n` distance.
pub(crate) const MAX_NEAR: u32 = 1000;

/// The fields a query may use, in the order error messages list them.
pub(crate) const KNOWN_FIELDS: &str = "title, text, author, site, url, lang, source";

/// A field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Title,
    Text,
    Author,
    Site,
    Url,
    Lang,
    Source,
}

impl Field {
    fn from_name(name: &str) -> Option<Field> {
        Some(match name.to_ascii_lowercase().as_str() {
            "title" => Field::Title,
            "text" => Field::Text,
            "author" => Field::Author,
            "site" => Field::Site,
            "url" => Field::Url,
            "lang" => Field::Lang,
            "source" => Field::Source,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Text => "text",
            Field::Author => "author",
            Field::Site => "site",
            Field::Url => "url",
            Field::Lang => "lang",
            Field::Source => "source",
        }
    }

    /// Fields whose value is a raw string (not words).
    fn is_raw(self) -> bool {
        matches!(self, Field::Site | Field::Url | Field::Lang | Field::Source)
    }
}

/// A lexical token of the query language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    LParen,
    RParen,
    And,
    Or,
    Not,
    /// `-` directly before a term.
    Minus,
    Near {
        distance: u32,
        ordered: bool,
    },
    /// A bare word as written (may end with `*`).
    Word(&'a str),
    /// The content of a quoted phrase (quotes excluded).
    Phrase(&'a str),
    /// `title:`, `text:`, `author:` — followed directly by a word, phrase or `(`.
    TextField(Field),
    /// `site:v`, `url:v`, `lang:v`, `source:v` with the raw value (quotes stripped).
    RawField(Field, &'a str),
}

/// A token with its byte span in the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lexeme<'a> {
    pub tok: Tok<'a>,
    pub start: usize,
    pub end: usize,
}

/// 1-based character column of byte offset `byte` in `src`.
pub(crate) fn column(src: &str, byte: usize) -> usize {
    src.get(..byte)
        .map_or(src.chars().count(), |s| s.chars().count())
        + 1
}

fn err(src: &str, byte: usize, en: impl Into<String>, fr: impl Into<String>) -> QueryError {
    QueryError::new(en, fr, Some(column(src, byte)))
}

/// Characters that end a bare word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')') || closing_quote(c).is_some()
}

/// For an opening quote character, the characters that close it.
fn closing_quote(c: char) -> Option<&'static [char]> {
    match c {
        '"' => Some(&['"']),
        '\u{201C}' | '\u{201D}' => Some(&['\u{201D}', '\u{201C}', '"']),
        '«' => Some(&['»', '"']),
        _ => None,
    }
}

/// Lex `src` into lexemes.
pub(crate) fn lex(src: &str) -> Result<Vec<Lexeme<'_>>, QueryError> {
    let mut out = Vec::new();
    let mut i = 0;
    let bytes_len = src.len();
    while i < bytes_len {
        let Some(c) = src[i..].chars().next() else {
            break;
        };
        let clen = c.len_utf8();
        if c.is_whitespace() {
            i += clen;
            continue;
        }
        match c {
            '(' => {
                out.push(Lexeme {
                    tok: Tok::LParen,
                    start: i,
                    end: i + 1,
                });
                i += 1;
            }
            ')' => {
                out.push(Lexeme {
                    tok: Tok::RParen,
                    start: i,
                    end: i + 1,
                });
                i += 1;
            }
            '-' => {
                let next = src[i + 1..].chars().next();
                match next {
                    Some(n) if !n.is_whitespace() && n != ')' && n != '-' => {
                        out.push(Lexeme {
                            tok: Tok::Minus,
                            start: i,
                            end: i + 1,
                        });
                        i += 1;
                    }
                    _ => {
                        return Err(err(
                            src,
                            i,
                            "expected a term right after '-' (write -word to exclude a word)",
                            "il manque un terme juste après '-' (écrivez -mot pour exclure un mot)",
                        ));
                    }
                }
            }
            _ if closing_quote(c).is_some() => {
                let (content, end) = quoted(src, i)?;
                out.push(Lexeme {
                    tok: Tok::Phrase(content),
                    start: i,
                    end,
                });
                i = end;
            }
            _ => {
                let end = word_end(src, i);
                let word = &src[i..end];
                let lexeme = classify(src, i, word)?;
                i = lexeme.end;
                out.push(lexeme);
            }
        }
    }
    Ok(out)
}

/// Byte offset where the bare word starting at `start` ends.
fn word_end(src: &str, start: usize) -> usize {
    src[start..]
        .char_indices()
        .find(|&(_, c)| ends_word(c))
        .map_or(src.len(), |(j, _)| start + j)
}

/// Read a quoted string whose opening quote is at `start`; returns (content, end after quote).
fn quoted(src: &str, start: usize) -> Result<(&str, usize), QueryError> {
    let open = src[start..].chars().next().unwrap_or('"');
    let closers = closing_quote(open).unwrap_or(&['"']);
    let body_start = start + open.len_utf8();
    match src[body_start..]
        .char_indices()
        .find(|(_, c)| closers.contains(c))
    {
        Some((j, close)) => Ok((
            &src[body_start..body_start + j],
            body_start + j + close.len_utf8(),
        )),
        None => Err(err(src, start, "unclosed quote opened", "guillemet ouvert ici et jamais fermé")),
    }
}

/// Turn a bare word at `start` into an operator, a field or a word.
fn classify<'a>(src: &'a str, start: usize, word: &'a str) -> Result<Lexeme<'a>, QueryError> {
    let end = start + word.len();
    let simple = |tok| Ok(Lexeme { tok, start, end });
    match word {
        "AND" => return simple(Tok::And),
        "OR" => return simple(Tok::Or),
        "NOT" => return simple(Tok::Not),
        "NEAR" => return Err(err(src, start, "NEAR needs a distance, e.g. NEAR/3", "NEAR demande une distance, par exemple NEAR/3")),
        "&&" => return Err(err(src, start, "use AND instead of '&&'", "écrivez AND au lieu de '&&'")),
        "||" => return Err(err(src, start, "use OR instead of '||'", "écrivez OR au lieu de '||'")),
        _ => {}
    }
    if let Some(rest) = word.strip_prefix("NEAR/") {
        let digits = rest.trim_end_matches('f');
        let ordered = digits.len() + 1 == rest.len();
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || rest.len() > digits.len() + 1
        {
            return Err(err(src, start, "NEAR/ needs a number", "NEAR/ doit être suivi d'un nombre"));
        }
        let distance = match digits.parse::<u32>() {
            Ok(d) if d <= MAX_NEAR => d,
            _ => {
                return Err(err(
                    src,
                    start,
                    format!("NEAR distance must be at most {MAX_NEAR}"),
                    format!("la distance de NEAR est au plus {MAX_NEAR}"),
                ));
            }
        };
        return simple(Tok::Near { distance, ordered });
    }
    let lower = word.to_ascii_lowercase();
    if lower.starts_with("near/") {
        return Err(err(
            src,
            start,
            format!("operators are upper-case: write {}", word.to_ascii_uppercase()),
            format!("les opérateurs s'écrivent en majuscules : {}", word.to_ascii_uppercase()),
        ));
    }
    // Field prefix: ASCII letters then ':'.
    let name_len = word.bytes().take_while(u8::is_ascii_alphabetic).count();
    if name_len > 0 && word.as_bytes().get(name_len) == Some(&b':') {
        let name = &word[..name_len];
        let Some(field) = Field::from_name(name) else {
            let link = matches!(lower.as_str(), s if s.starts_with("http:") || s.starts_with("https:"));
            let (hint, hint_fr) = if link { ("; to match a link use url:", " ; pour un lien, écrivez url:") } else { ("", "") };
            return Err(err(
                src,
                start,
                format!("unknown field '{name}' (known fields: {KNOWN_FIELDS}{hint})"),
                format!("champ inconnu '{name}' (champs connus : {KNOWN_FIELDS}{hint_fr})"),
            ));
        };
        let value_start = start + name_len + 1;
        let next = src[value_start..].chars().next();
        let missing = || {
            err(
                src,
                start,
                format!("expected a value after '{}:'", field.name()),
                format!("il manque une valeur après '{}:'", field.name()),
            )
        };
        match next {
            None => return Err(missing()),
            Some(c) if c.is_whitespace() || c == ')' => return Err(missing()),
            _ => {}
        }
        if !field.is_raw() {
            return Ok(Lexeme {
                tok: Tok::TextField(field),
                start,
                end: value_start,
            });
        }
        if next == Some('(') {
            return Err(err(
                src,
                start,
                format!("{0}: takes a single value; write ({0}:a OR {0}:b) to allow several", field.name()),
                format!("{0}: prend une seule valeur ; écrivez ({0}:a OR {0}:b) pour en accepter plusieurs", field.name()),
            ));
        }
        if next.is_some_and(|c| closing_quote(c).is_some()) {
            let (content, qend) = quoted(src, value_start)?;
            return Ok(Lexeme {
                tok: Tok::RawField(field, content),
                start,
                end: qend,
            });
        }
        // Raw value: up to whitespace or ')'.
        let vend = src[value_start..]
            .char_indices()
            .find(|&(_, c)| c.is_whitespace() || c == ')')
            .map_or(src.len(), |(j, _)| value_start + j);
        return Ok(Lexeme {
            tok: Tok::RawField(field, &src[value_start..vend]),
            start,
            end: vend,
        });
    }
    simple(Tok::Word(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok<'_>> {
        lex(s)
            .map(|v| v.into_iter().map(|l| l.tok).collect())
            .unwrap_or_default()
    }

    #[test]
    fn operators_words_and_fields() {
        assert_eq!(
            toks("sncf AND (retard OR -grève) NEAR/3f title:\"vol annulé\" site:lemonde.fr"),
            vec![
                Tok::Word("sncf"),
                Tok::And,
                Tok::LParen,
                Tok::Word("retard"),
                Tok::Or,
                Tok::Minus,
                Tok::Word("grève"),
                Tok::RParen,
                Tok::Near {
                    distance: 3,
                    ordered: true
                },
                Tok::TextField(Field::Title),
                Tok::Phrase("vol annulé"),
                Tok::RawField(Field::Site, "lemonde.fr"),
            ]
        );
        assert_eq!(
            toks("and or not"),
            vec![Tok::Word("and"), Tok::Word("or"), Tok::Word("not")]
        );
        assert_eq!(
            toks("url:https://x.fr/a?b=c&d=e)"),
            vec![
                Tok::RawField(Field::Url, "https://x.fr/a?b=c&d=e"),
                Tok::RParen
            ]
        );
        assert_eq!(toks("wi-fi"), vec![Tok::Word("wi-fi")]);
        assert_eq!(toks("“smart quotes”"), vec![Tok::Phrase("smart quotes")]);
    }

    #[test]
    fn errors_have_columns() {
        let e = lex("abc \"def").err();
        assert_eq!(
            e.map(|e| e.to_string()),
            Some("unclosed quote opened at column 5".into())
        );
        let e = lex("abc NEAR/x d").err();
        assert_eq!(
            e.map(|e| e.to_string()),
            Some("NEAR/ needs a number at column 5".into())
        );
        let e = lex("éé foo:bar").err();
        assert_eq!(e.and_then(|e| e.column), Some(4));
    }
}

//! The full-text pre-filter on PostgreSQL: an SQLite FTS5 `MATCH` expression
//! (what `vigie_query::Query::fts5_prefilter` writes) turned into `tsquery`s
//! that find a superset of what FTS5 finds, itself a superset of what the
//! Rust matcher accepts.
//!
//! # The index
//!
//! Each mention keeps `fts`, `to_tsvector('vigie_fts', …)` of its index title
//! (weight A) and index text (weight B). `vigie_fts` is the `simple`
//! configuration (no stemming, no stop words) behind `unaccent`: the strings
//! are `vigie_query::index_text` already (lower case, accents folded, one
//! space between tokens), so every token is one lexeme, at its position, as
//! in FTS5's `unicode61 remove_diacritics 2` table. French and English
//! configurations are not used: a stemmer drops stop words ("pas", "not") and
//! rewrites the ends of words, so a phrase or a prefix could miss a mention
//! the matcher accepts; the matcher has no stemming, so they could only add
//! candidates that it then rejects.
//!
//! PostgreSQL forgets positions past 16,383 and past the 255th of one
//! lexeme; a mention that would lose one is indexed in `fts_loose` instead,
//! without positions, and searched with phrases turned into ANDs. A mention
//! whose index strings are too large for a `tsvector` is not indexed at all
//! and is a candidate of every search (see `vigie_fts_index` in the
//! migration).
//!
//! # The translation
//!
//! 1. [`parse`] reads the FTS5 expression: quoted strings and barewords,
//!    `*` prefixes, `+` concatenation, `^`, `NEAR(…, n)`, `AND`, `OR`, `NOT`,
//!    implicit AND, parentheses, column filters (`{title} :`, `text :`,
//!    `- {title} :`). Anything else is an error (the store answers
//!    [`crate::StoreError::Corrupt`], "full-text pre-filter rejected", as it
//!    does for an expression FTS5 refuses).
//! 2. Every string is normalized by PostgreSQL itself (`to_tsvector('vigie_fts',
//!    string)` in one round trip, [`NORMALIZE_SQL`]), so the query's lexemes
//!    and relative positions are the ones the same words have in a document
//!    (whose words are separated by spaces, where the parser always cuts),
//!    whatever the parser or the dictionaries do with them. Strings joined by
//!    `+` follow each other.
//! 3. [`render`] writes two `tsquery`s: `strict` for `fts` (phrases with
//!    `<->`/`<N>`, prefixes `:*`, column filters as weights `:A`/`:B`) and
//!    `loose` for `fts_loose` (phrases as ANDs of their lexemes).
//!
//! Widening, never narrowing: `NEAR(a b, n)` becomes `a & b`; `a NOT b`
//! becomes `a`; `^` is ignored; a string that normalizes to nothing (too long
//! to index, no word characters) is "true" (dropped from an AND, making an OR
//! true) and a phrase holding one becomes the AND of its other lexemes; a
//! phrase may match across the end of the title and the start of the text. An
//! expression that is "true" as a whole is no filter at all.

use std::collections::HashMap;

/// Which columns a phrase may match in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Columns {
    Both,
    Title,
    Text,
}

impl Columns {
    /// The columns of a filter inside another: their intersection (an empty
    /// one matches nothing in FTS5; both columns is the safe superset).
    fn within(self, outer: Columns) -> Columns {
        match (outer, self) {
            (Columns::Both, inner) => inner,
            (outer, Columns::Both) => outer,
            (a, b) if a == b => a,
            _ => Columns::Both,
        }
    }

    fn weight(self) -> &'static str {
        match self {
            Columns::Both => "",
            Columns::Title => "A",
            Columns::Text => "B",
        }
    }
}

/// One string of a phrase and whether its last token is a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Segment {
    pub text: String,
    pub prefix: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Node {
    /// Strings joined by `+` (one phrase), in some columns.
    Phrase {
        segments: Vec<Segment>,
        columns: Columns,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
}

impl Node {
    /// Every string to normalize, in order of appearance.
    pub(super) fn strings<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Node::Phrase { segments, .. } => out.extend(segments.iter().map(|s| s.text.as_str())),
            Node::And(children) | Node::Or(children) => children.iter().for_each(|c| c.strings(out)),
        }
    }
}

/// Lexemes of one normalized string: `(position, lexemes at that position)`,
/// by position.
pub(super) type Lexemes = Vec<(i32, Vec<String>)>;

/// Lexemes of every string of a query, found with [`NORMALIZE_SQL`].
pub(super) type Normalized = HashMap<String, Lexemes>;

/// Normalizes strings (`$1`, a text array) the way documents are indexed:
/// rows `(string number from 1, position, lexeme)`.
pub(super) const NORMALIZE_SQL: &str = "SELECT s.i, x.pos, x.lexeme FROM unnest($1::text[]) WITH ORDINALITY AS s(str, i) \
     CROSS JOIN LATERAL (SELECT u.lexeme, p.pos FROM unnest(to_tsvector('vigie_fts', s.str)) AS u, \
     unnest(u.positions) AS p(pos)) AS x ORDER BY s.i, x.pos, x.lexeme";

// ---------------------------------------------------------------------------
// Parsing the FTS5 expression.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A quoted string or a bareword.
    Str {
        text: String,
        bare: bool,
    },
    Star,
    Plus,
    Caret,
    Colon,
    Minus,
    Comma,
    LParen,
    RParen,
    LBrace,
    RBrace,
}

/// FTS5's bareword characters: ASCII letters and digits, `_`, 0x1A and
/// everything outside ASCII.
fn is_bare(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '\u{1a}' || !c.is_ascii()
}

fn lex(expr: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = expr.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let tok = match c {
            ' ' | '\t' | '\n' | '\r' => continue,
            '*' => Tok::Star,
            '+' => Tok::Plus,
            '^' => Tok::Caret,
            ':' => Tok::Colon,
            '-' => Tok::Minus,
            ',' => Tok::Comma,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            '"' => {
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some((_, '"')) if chars.peek().is_some_and(|(_, d)| *d == '"') => {
                            chars.next();
                            text.push('"');
                        }
                        Some((_, '"')) => break,
                        Some((_, d)) => text.push(d),
                        None => return Err(format!("unterminated string at {i}")),
                    }
                }
                Tok::Str { text, bare: false }
            }
            c if is_bare(c) => {
                let mut text = c.to_string();
                while let Some(&(_, d)) = chars.peek() {
                    if !is_bare(d) {
                        break;
                    }
                    text.push(d);
                    chars.next();
                }
                Tok::Str { text, bare: true }
            }
            c => return Err(format!("syntax error near {c:?} at {i}")),
        };
        out.push(tok);
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
    depth: usize,
}

/// Nesting bound (the expressions vigie-query writes are a few levels deep).
const MAX_DEPTH: usize = 200;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.at + n)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect(&mut self, tok: &Tok) -> Result<(), String> {
        match self.next() {
            Some(t) if &t == tok => Ok(()),
            Some(t) => Err(format!("expected {tok:?}, found {t:?}")),
            None => Err(format!("expected {tok:?} at the end")),
        }
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Str { text, bare: true }) if text == word)
    }

    /// `NEAR` is a keyword only before `(`.
    fn near_keyword(&self) -> bool {
        self.keyword("NEAR") && self.peek_at(1) == Some(&Tok::LParen)
    }

    /// Whether the next token starts a unit (an operand of implicit AND).
    fn starts_unit(&self) -> bool {
        match self.peek() {
            Some(Tok::Str { text, bare }) => !(*bare && matches!(text.as_str(), "AND" | "OR" | "NOT")),
            Some(Tok::LParen | Tok::LBrace | Tok::Minus | Tok::Caret) => true,
            _ => false,
        }
    }

    fn or_expr(&mut self, columns: Columns) -> Result<Node, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("expression nested too deeply".into());
        }
        let mut parts = vec![self.and_expr(columns)?];
        while self.keyword("OR") {
            self.next();
            parts.push(self.and_expr(columns)?);
        }
        self.depth -= 1;
        Ok(if parts.len() == 1 { parts.remove(0) } else { Node::Or(parts) })
    }

    fn and_expr(&mut self, columns: Columns) -> Result<Node, String> {
        let mut parts = vec![self.not_expr(columns)?];
        while self.keyword("AND") {
            self.next();
            parts.push(self.not_expr(columns)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Node::And(parts) })
    }

    /// `a NOT b` is `a` as far as a superset goes; `b` is still parsed.
    fn not_expr(&mut self, columns: Columns) -> Result<Node, String> {
        let kept = self.sequence(columns)?;
        while self.keyword("NOT") {
            self.next();
            self.sequence(columns)?;
        }
        Ok(kept)
    }

    /// Units side by side: an implicit AND (tighter than NOT, as in FTS5).
    fn sequence(&mut self, columns: Columns) -> Result<Node, String> {
        let mut parts = vec![self.unit(columns)?];
        while self.starts_unit() {
            parts.push(self.unit(columns)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Node::And(parts) })
    }

    fn unit(&mut self, columns: Columns) -> Result<Node, String> {
        if let Some(filter) = self.column_filter()? {
            let columns = filter.within(columns);
            return match self.peek() {
                Some(Tok::LParen) => self.group(columns),
                _ if self.near_keyword() => self.near(columns),
                _ => self.phrase(columns),
            };
        }
        match self.peek() {
            Some(Tok::LParen) => self.group(columns),
            _ if self.near_keyword() => self.near(columns),
            _ => self.phrase(columns),
        }
    }

    fn group(&mut self, columns: Columns) -> Result<Node, String> {
        self.expect(&Tok::LParen)?;
        let node = self.or_expr(columns)?;
        self.expect(&Tok::RParen)?;
        Ok(node)
    }

    /// `[-] name :` or `[-] { name … } :`; None (nothing consumed) if the
    /// next tokens are not a column filter.
    fn column_filter(&mut self) -> Result<Option<Columns>, String> {
        let start = self.at;
        let negated = self.peek() == Some(&Tok::Minus);
        if negated {
            self.next();
        }
        let mut names = Vec::new();
        match self.peek() {
            Some(Tok::LBrace) => {
                self.next();
                loop {
                    match self.next() {
                        Some(Tok::RBrace) => break,
                        Some(Tok::Str { text, bare: true }) => names.push(text),
                        other => return Err(format!("bad column list: {other:?}")),
                    }
                }
            }
            Some(Tok::Str { text, bare: true }) if self.peek_at(1) == Some(&Tok::Colon) => {
                names.push(text.clone());
                self.next();
            }
            _ if negated => return Err("'-' without a column filter".into()),
            _ => {
                self.at = start;
                return Ok(None);
            }
        }
        self.expect(&Tok::Colon)?;
        let (mut title, mut text) = (false, false);
        for name in &names {
            match name.to_ascii_lowercase().as_str() {
                "title" => title = true,
                "text" => text = true,
                _ => return Err(format!("no such column: {name}")),
            }
        }
        if negated {
            (title, text) = (!title, !text);
        }
        Ok(Some(match (title, text) {
            (true, false) => Columns::Title,
            (false, true) => Columns::Text,
            _ => Columns::Both,
        }))
    }

    /// `NEAR(phrase phrase … [, n])`: the AND of its phrases.
    fn near(&mut self, columns: Columns) -> Result<Node, String> {
        self.next();
        self.expect(&Tok::LParen)?;
        let mut phrases = Vec::new();
        loop {
            match self.peek() {
                Some(Tok::RParen) => {
                    self.next();
                    break;
                }
                Some(Tok::Comma) => {
                    self.next();
                    match self.next() {
                        Some(Tok::Str { text, bare: true }) if text.bytes().all(|b| b.is_ascii_digit()) => {}
                        other => return Err(format!("bad NEAR distance: {other:?}")),
                    }
                    self.expect(&Tok::RParen)?;
                    break;
                }
                Some(_) => phrases.push(self.phrase(columns)?),
                None => return Err("unterminated NEAR".into()),
            }
        }
        match phrases.len() {
            0 => Err("empty NEAR".into()),
            1 => Ok(phrases.remove(0)),
            _ => Ok(Node::And(phrases)),
        }
    }

    /// `[^] string [*] ( + [^] string [*] )*`
    fn phrase(&mut self, columns: Columns) -> Result<Node, String> {
        let mut segments = Vec::new();
        loop {
            if self.peek() == Some(&Tok::Caret) {
                self.next();
            }
            match self.next() {
                Some(Tok::Str { text, bare }) => {
                    if bare && matches!(text.as_str(), "AND" | "OR" | "NOT") {
                        return Err(format!("syntax error near {text}"));
                    }
                    let prefix = self.peek() == Some(&Tok::Star);
                    if prefix {
                        self.next();
                    }
                    segments.push(Segment { text, prefix });
                }
                other => return Err(format!("expected a phrase, found {other:?}")),
            }
            if self.peek() != Some(&Tok::Plus) {
                break;
            }
            self.next();
        }
        Ok(Node::Phrase { segments, columns })
    }
}

/// Reads an FTS5 expression.
pub(super) fn parse(expr: &str) -> Result<Node, String> {
    let toks = lex(expr)?;
    if toks.is_empty() {
        return Err("empty expression".into());
    }
    let mut parser = Parser { toks, at: 0, depth: 0 };
    let node = parser.or_expr(Columns::Both)?;
    match parser.peek() {
        None => Ok(node),
        Some(t) => Err(format!("syntax error near {t:?}")),
    }
}

// ---------------------------------------------------------------------------
// Writing the tsqueries.

/// The two tsqueries of an expression: for `fts` (with positions) and for
/// `fts_loose` (without).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TsQueries {
    pub strict: String,
    pub loose: String,
}

/// A lexeme as a tsquery operand: quoted, with its prefix mark and weight.
fn operand(lexeme: &str, prefix: bool, weight: &str) -> String {
    let quoted = lexeme.replace('\\', "\\\\").replace('\'', "''");
    let star = if prefix { "*" } else { "" };
    if star.is_empty() && weight.is_empty() { format!("'{quoted}'") } else { format!("'{quoted}':{star}{weight}") }
}

fn join(mut parts: Vec<String>, op: &str) -> String {
    if parts.len() == 1 { parts.remove(0) } else { format!("({})", parts.join(op)) }
}

/// The queries for a node; None when the index cannot narrow it ("true").
pub(super) fn render(node: &Node, lexemes: &Normalized) -> Option<TsQueries> {
    match node {
        Node::And(children) => {
            let parts: Vec<TsQueries> = children.iter().filter_map(|c| render(c, lexemes)).collect();
            if parts.is_empty() {
                return None;
            }
            let (strict, loose) = parts.into_iter().map(|q| (q.strict, q.loose)).unzip();
            Some(TsQueries { strict: join(strict, " & "), loose: join(loose, " & ") })
        }
        Node::Or(children) => {
            let parts = children.iter().map(|c| render(c, lexemes)).collect::<Option<Vec<_>>>()?;
            let (strict, loose) = parts.into_iter().map(|q| (q.strict, q.loose)).unzip();
            Some(TsQueries { strict: join(strict, " | "), loose: join(loose, " | ") })
        }
        Node::Phrase { segments, columns } => phrase(segments, *columns, lexemes),
    }
}

fn phrase(segments: &[Segment], columns: Columns, lexemes: &Normalized) -> Option<TsQueries> {
    let weight = columns.weight();
    // (distance from the previous item, its operand) for the phrase's items.
    let mut items: Vec<(i32, String)> = Vec::new();
    let mut complete = true;
    for segment in segments {
        let groups = lexemes.get(&segment.text).map(Vec::as_slice).unwrap_or_default();
        if groups.is_empty() {
            // Nothing the index knows (too long, no word characters): this
            // part of the phrase is "true".
            complete = false;
            continue;
        }
        let mut previous: Option<i32> = None;
        for (n, (position, alternatives)) in groups.iter().enumerate() {
            let prefix = segment.prefix && n + 1 == groups.len();
            let alternatives: Vec<String> = alternatives.iter().map(|l| operand(l, prefix, weight)).collect();
            let distance = previous.map_or(1, |p| (position - p).max(1));
            previous = Some(*position);
            items.push((distance, join(alternatives, " | ")));
        }
    }
    if items.is_empty() {
        return None;
    }
    let loose = join(items.iter().map(|(_, o)| o.clone()).collect(), " & ");
    let strict = if !complete {
        loose.clone()
    } else {
        let mut out = String::new();
        for (n, (distance, operand)) in items.iter().enumerate() {
            if n > 0 {
                match distance {
                    1 => out.push_str(" <-> "),
                    d => out.push_str(&format!(" <{d}> ")),
                }
            }
            out.push_str(operand);
        }
        if items.len() > 1 { format!("({out})") } else { out }
    };
    Some(TsQueries { strict, loose })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Lexemes as `to_tsvector('vigie_fts', s)` gives them for these tests:
    /// one per word, lower case; words of 30 bytes or more are skipped but
    /// keep their position.
    fn normalize(node: &Node) -> Normalized {
        let mut strings = Vec::new();
        node.strings(&mut strings);
        strings
            .into_iter()
            .map(|s| {
                let groups = s
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .enumerate()
                    .filter(|(_, w)| w.len() < 30)
                    .map(|(i, w)| (i as i32 + 1, vec![w.to_lowercase()]))
                    .collect();
                (s.to_string(), groups)
            })
            .collect()
    }

    fn tsq(expr: &str) -> Option<(String, String)> {
        let node = parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        render(&node, &normalize(&node)).map(|q| (q.strict, q.loose))
    }

    fn strict(expr: &str) -> String {
        tsq(expr).unwrap().0
    }

    #[test]
    fn what_vigie_query_writes() {
        assert_eq!(tsq("\"deroute\""), Some(("'deroute'".into(), "'deroute'".into())));
        assert_eq!(
            tsq("(\"rembours\"* AND \"vol\"* + \"annule\")"),
            Some(("('rembours':* & ('vol':* <-> 'annule'))".into(), "('rembours':* & ('vol':* & 'annule'))".into()))
        );
        assert_eq!(strict("(\"airfrance\" OR \"sncf\")"), "('airfrance' | 'sncf')");
        assert_eq!(strict("({title} : \"retard\" OR {title} : \"annule\")"), "('retard':A | 'annule':A)");
        assert_eq!(strict("NEAR(\"sncf\" \"retard\", 3)"), "('sncf' & 'retard')");
        assert_eq!(
            strict("(NEAR(\"sncf\" \"retard\", 2) OR NEAR(\"ouigo\" \"retard\", 2))"),
            "(('sncf' & 'retard') | ('ouigo' & 'retard'))"
        );
        assert_eq!(strict("{text} : NEAR(\"a b\" \"c\"*, 10)"), "(('a':B <-> 'b':B) & 'c':*B)");
        assert_eq!(strict("\"near and\""), "('near' <-> 'and')");
        assert_eq!(
            tsq("\"toujours pas recu\"*"),
            Some(("('toujours' <-> 'pas' <-> 'recu':*)".into(), "('toujours' & 'pas' & 'recu':*)".into()))
        );
    }

    #[test]
    fn the_rest_of_fts5() {
        // Implicit AND, NOT dropped, barewords, lower-case keywords are words.
        assert_eq!(strict("sncf retard NOT greve"), "('sncf' & 'retard')");
        assert_eq!(strict("a OR b AND c"), "('a' | ('b' & 'c'))");
        assert_eq!(strict("and or"), "('and' & 'or')");
        assert_eq!(strict("NEAR near"), "('near' & 'near')");
        // Column filters: names, lists, negation, nesting.
        assert_eq!(strict("title : x"), "'x':A");
        assert_eq!(strict("{title text} : x"), "'x'");
        assert_eq!(strict("- {title} : x"), "'x':B");
        assert_eq!(strict("{TITLE} : (x OR text : y)"), "('x':A | 'y')");
        assert_eq!(strict("^\"x y\""), "('x' <-> 'y')");
        assert_eq!(strict("\"say \"\"hi\"\"\""), "('say' <-> 'hi')");
        // A string the index cannot see is "true".
        assert_eq!(tsq("\"!!!\""), None);
        assert_eq!(strict("x AND \"!!!\""), "'x'");
        assert_eq!(tsq("x OR \"!!!\""), None);
        // A word the index skips inside a string keeps its place; a whole
        // string of them leaves the AND of the rest.
        let long = "z".repeat(40);
        assert_eq!(tsq(&format!("\"a {long} b\"")), Some(("('a' <2> 'b')".into(), "('a' & 'b')".into())));
        assert_eq!(tsq(&format!("\"a\" + \"{long}\" + \"b\"")), Some(("('a' & 'b')".into(), "('a' & 'b')".into())));
        // Lexemes are quoted.
        assert_eq!(operand("l'x\\", true, "A"), "'l''x\\\\':*A");
    }

    #[test]
    fn gaps_and_alternatives_from_the_normalizer() {
        let node = parse("\"a b c\"").unwrap();
        let lexemes: Normalized =
            [("a b c".to_string(), vec![(1, vec!["a".to_string()]), (3, vec!["c".to_string(), "cc".to_string()])])]
                .into_iter()
                .collect();
        let q = render(&node, &lexemes).unwrap();
        assert_eq!(q.strict, "('a' <2> ('c' | 'cc'))");
        assert_eq!(q.loose, "('a' & ('c' | 'cc'))");
    }

    #[test]
    fn errors() {
        for bad in ["", "\"open", "a AND", "(a", "a)", "foo : x", "{title", "NEAR(a b, x)", "a . b", "OR a", "- a"] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
        let deep = format!("{}a{}", "(".repeat(500), ")".repeat(500));
        assert!(parse(&deep).is_err());
    }
}

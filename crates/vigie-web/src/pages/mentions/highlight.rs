//! Highlighting the terms a search matched, HTML-safe: the text is cut into
//! segments at the matches' byte offsets (from the same tokenizer the matcher
//! uses, so case, accents and word boundaries agree with what matched) and
//! each segment goes through maud's escaping; only `<mark>` is added.

use std::ops::Range;

use maud::{Markup, html};
use vigie_query::{Atom, Expr, Query, Scope, Term, tokenize};

/// Longest part of a text scanned for matches in a list (a 1 MB post is
/// shown clipped anyway).
pub const SCAN_BYTES: usize = 64 * 1024;

/// Which field a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Text,
}

/// The token patterns to mark, from the terms that matched.
#[derive(Debug, Clone, Default)]
pub struct Highlighter {
    /// (scope, consecutive atoms) of each term to mark.
    terms: Vec<(Scope, Vec<Atom>)>,
}

impl Highlighter {
    /// The terms of `query` listed in `matched` (as `Query::matches` writes
    /// them), outside negations. Metadata filters and author terms mark nothing.
    pub fn new(query: &Query, matched: &[String]) -> Self {
        let mut terms = Vec::new();
        collect(query.ast(), matched, &mut terms);
        Highlighter { terms }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Byte ranges of `text` to mark, sorted, not overlapping. Only the first
    /// [`SCAN_BYTES`] are looked at.
    pub fn spans(&self, text: &str, field: Field) -> Vec<Range<usize>> {
        if self.terms.is_empty() || text.is_empty() {
            return Vec::new();
        }
        let text = &text[..floor_boundary(text, SCAN_BYTES)];
        let tokens = tokenize(text);
        let mut spans: Vec<Range<usize>> = Vec::new();
        for (scope, atoms) in &self.terms {
            let applies = match scope {
                Scope::TitleOrText => true,
                Scope::Title => field == Field::Title,
                Scope::Text => field == Field::Text,
                Scope::Author => false,
            };
            if !applies || atoms.is_empty() || atoms.len() > tokens.len() {
                continue;
            }
            for start in 0..=tokens.len() - atoms.len() {
                let window = &tokens[start..start + atoms.len()];
                if atoms.iter().zip(window).all(|(a, t)| a.matches(&t.text, t.kind)) {
                    // Each word of a phrase is marked on its own (the
                    // punctuation between them is not).
                    spans.extend(window.iter().map(|t| t.byte_start..t.byte_end));
                }
            }
        }
        merge(spans)
    }

    /// The whole text with its matches marked.
    pub fn render(&self, text: &str, field: Field) -> Markup {
        let spans = self.spans(text, field);
        segments(text, &spans)
    }

    /// At most `max` characters of the text, around the first match when it
    /// lies beyond the start, with the matches marked.
    pub fn snippet(&self, text: &str, field: Field, max: usize) -> Markup {
        let spans = self.spans(text, field);
        let total_chars = text.chars().count();
        if total_chars <= max {
            return segments(text, &spans);
        }
        // Start a little before the first match if it would not be visible.
        let mut start = 0;
        if let Some(first) = spans.first() {
            let chars_before = text[..first.start].chars().count();
            if chars_before + 20 > max {
                let back = chars_before.saturating_sub(60);
                start = text.char_indices().nth(back).map(|(i, _)| i).unwrap_or(0);
                // Begin on a word.
                if let Some(space) = text[start..first.start].find(char::is_whitespace) {
                    start += space;
                    start += text[start..].chars().next().map(char::len_utf8).unwrap_or(0);
                }
            }
        }
        let end = text[start..].char_indices().nth(max).map(|(i, _)| start + i).unwrap_or(text.len());
        let window: Vec<Range<usize>> =
            spans.iter().filter(|s| s.start >= start && s.end <= end).map(|s| s.start - start..s.end - start).collect();
        html! {
            @if start > 0 { "…" }
            (segments(&text[start..end], &window))
            @if end < text.len() { "…" }
        }
    }
}

fn collect(expr: &Expr, matched: &[String], out: &mut Vec<(Scope, Vec<Atom>)>) {
    let term = |t: &Term, out: &mut Vec<(Scope, Vec<Atom>)>| {
        if matched.contains(&t.written) {
            out.push((t.scope, t.atoms.clone()));
        }
    };
    match expr {
        Expr::Term(t) => term(t, out),
        Expr::Filter(_) | Expr::Not(_) => {}
        Expr::And(children) | Expr::Or(children) => {
            for c in children {
                collect(c, matched, out);
            }
        }
        Expr::Near(near) => {
            for t in near.left.iter().chain(&near.right) {
                term(t, out);
            }
        }
    }
}

/// Sorts and joins overlapping ranges.
fn merge(mut spans: Vec<Range<usize>>) -> Vec<Range<usize>> {
    spans.sort_by_key(|s| (s.start, s.end));
    let mut out: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// The text cut at `spans` (sorted, disjoint, on character boundaries),
/// each piece escaped, the spans inside `<mark>`.
pub fn segments(text: &str, spans: &[Range<usize>]) -> Markup {
    let mut pieces: Vec<(&str, bool)> = Vec::with_capacity(spans.len() * 2 + 1);
    let mut at = 0;
    for s in spans {
        let (start, end) = (s.start.max(at).min(text.len()), s.end.min(text.len()));
        if start >= end || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        if start > at {
            pieces.push((&text[at..start], false));
        }
        pieces.push((&text[start..end], true));
        at = end;
    }
    if at < text.len() {
        pieces.push((&text[at..], false));
    }
    html! {
        @for (piece, marked) in pieces {
            @if marked { mark { (piece) } } @else { (piece) }
        }
    }
}

/// The largest character boundary at or below `max`.
pub fn floor_boundary(text: &str, max: usize) -> usize {
    if max >= text.len() {
        return text.len();
    }
    let mut i = max;
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(q: &str, text: &str) -> String {
        let query = vigie_query::parse(q).unwrap_or_else(|e| panic!("{e}"));
        let doc = vigie_query::Document { text, ..Default::default() };
        let terms = query.matches(&doc).unwrap_or_default();
        Highlighter::new(&query, &terms).render(text, Field::Text).into_string()
    }

    #[test]
    fn marks_words_ignoring_case_and_accents_on_word_boundaries() {
        assert_eq!(marked("deroute", "La Déroute, déroutes"), "La <mark>Déroute</mark>, déroutes");
        assert_eq!(marked("sncf", "Merci @SNCF et sncfx"), "Merci <mark>@SNCF</mark> et sncfx");
    }

    #[test]
    fn marks_phrases_word_by_word_and_prefixes() {
        assert_eq!(
            marked("\"pas reçu\" OR rembours*", "Toujours PAS recu, remboursement demandé"),
            "Toujours <mark>PAS</mark> <mark>recu</mark>, <mark>remboursement</mark> demandé"
        );
    }

    #[test]
    fn escapes_everything_else_and_skips_negated_terms() {
        assert_eq!(marked("alert -script", "<b>alert</b>(1)"), "&lt;b&gt;<mark>alert</mark>&lt;/b&gt;(1)");
    }

    #[test]
    fn snippets_start_near_the_first_match() {
        let text = format!("{} cible à la fin", "mot ".repeat(200));
        let query = vigie_query::parse("cible").unwrap_or_else(|e| panic!("{e}"));
        let h = Highlighter::new(&query, &["cible".to_string()]);
        let s = h.snippet(&text, Field::Text, 100).into_string();
        assert!(s.starts_with('…') && s.contains("<mark>cible</mark>"), "{s}");
    }

    #[test]
    fn boundaries_are_characters() {
        assert_eq!(floor_boundary("éa", 1), 0);
        assert_eq!(floor_boundary("éa", 9), 3);
    }
}

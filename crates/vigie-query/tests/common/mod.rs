//! Shared test helpers: the TSV tables and a small in-Rust evaluator for the FTS5 subset that
//! `Query::fts5_prefilter` emits (phrases, prefixes, `+`, AND, OR, NEAR(…, n), `{col} :`),
//! run over `index_text` of the title and text, as SQLite would see them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use vigie_query::{Document, index_text};

/// An owned document for tables and generators.
#[derive(Debug, Clone, Default)]
pub struct Doc {
    pub title: Option<String>,
    pub text: String,
    pub author: Option<String>,
    pub site: Option<String>,
    pub url: Option<String>,
    pub lang: Option<String>,
    pub source: Option<String>,
}

impl Doc {
    pub fn view(&self) -> Document<'_> {
        Document {
            title: self.title.as_deref(),
            text: &self.text,
            author: self.author.as_deref(),
            site: self.site.as_deref(),
            url: self.url.as_deref(),
            lang: self.lang.as_deref(),
            source: self.source.as_deref(),
        }
    }
}

/// Non-comment, non-blank lines of a testdata file, with their 1-based line numbers.
pub fn table(name: &str) -> Vec<(usize, String)> {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("read table");
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// FTS5 subset evaluator

#[derive(Debug, Clone, PartialEq)]
enum Tk {
    LParen,
    RParen,
    Comma,
    Colon,
    Star,
    Plus,
    Col(String),
    Str(String),
    Bare(String),
}

fn lex(s: &str) -> Vec<Tk> {
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < cs.len() {
        let c = cs[i];
        match c {
            ' ' => i += 1,
            '(' => {
                out.push(Tk::LParen);
                i += 1
            }
            ')' => {
                out.push(Tk::RParen);
                i += 1
            }
            ',' => {
                out.push(Tk::Comma);
                i += 1
            }
            ':' => {
                out.push(Tk::Colon);
                i += 1
            }
            '*' => {
                out.push(Tk::Star);
                i += 1
            }
            '+' => {
                out.push(Tk::Plus);
                i += 1
            }
            '{' => {
                let j = cs[i..]
                    .iter()
                    .position(|&c| c == '}')
                    .expect("closing brace")
                    + i;
                out.push(Tk::Col(cs[i + 1..j].iter().collect()));
                i = j + 1;
            }
            '"' => {
                let mut v = String::new();
                i += 1;
                loop {
                    assert!(i < cs.len(), "unterminated FTS string in {s}");
                    if cs[i] == '"' {
                        if cs.get(i + 1) == Some(&'"') {
                            v.push('"');
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    v.push(cs[i]);
                    i += 1;
                }
                out.push(Tk::Str(v));
            }
            _ => {
                let j = cs[i..]
                    .iter()
                    .position(|c| " (),:*+{\"".contains(*c))
                    .map_or(cs.len(), |p| p + i);
                out.push(Tk::Bare(cs[i..j].iter().collect()));
                i = j;
            }
        }
    }
    out
}

#[derive(Debug, Clone)]
enum Fx {
    /// Tokens with prefix flags.
    Phrase(Vec<(String, bool)>),
    Near(Vec<Vec<(String, bool)>>, usize),
    And(Box<Fx>, Box<Fx>),
    Or(Box<Fx>, Box<Fx>),
    Col(Vec<String>, Box<Fx>),
}

struct P {
    t: Vec<Tk>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tk> {
        self.t.get(self.i)
    }
    fn next(&mut self) -> Tk {
        let t = self.t[self.i].clone();
        self.i += 1;
        t
    }
    fn or(&mut self) -> Fx {
        let mut l = self.and();
        while self.peek() == Some(&Tk::Bare("OR".into())) {
            self.i += 1;
            l = Fx::Or(Box::new(l), Box::new(self.and()));
        }
        l
    }
    fn and(&mut self) -> Fx {
        let mut l = self.unary();
        while self.peek() == Some(&Tk::Bare("AND".into())) {
            self.i += 1;
            l = Fx::And(Box::new(l), Box::new(self.unary()));
        }
        l
    }
    fn unary(&mut self) -> Fx {
        match self.next() {
            Tk::Col(c) => {
                assert_eq!(self.next(), Tk::Colon);
                Fx::Col(
                    c.split(' ').map(str::to_string).collect(),
                    Box::new(self.unary()),
                )
            }
            Tk::LParen => {
                let e = self.or();
                assert_eq!(self.next(), Tk::RParen);
                e
            }
            Tk::Bare(b) if b == "NEAR" => {
                assert_eq!(self.next(), Tk::LParen);
                let mut phrases = Vec::new();
                while matches!(self.peek(), Some(Tk::Str(_))) {
                    phrases.push(self.phrase_rest());
                }
                assert_eq!(self.next(), Tk::Comma);
                let n = match self.next() {
                    Tk::Bare(n) => n.parse().expect("NEAR distance"),
                    t => panic!("{t:?}"),
                };
                assert_eq!(self.next(), Tk::RParen);
                Fx::Near(phrases, n)
            }
            Tk::Str(s) => {
                self.i -= 1;
                let _ = s;
                Fx::Phrase(self.phrase_rest())
            }
            t => panic!("unexpected FTS token {t:?}"),
        }
    }
    fn phrase_rest(&mut self) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        loop {
            let Tk::Str(s) = self.next() else {
                panic!("string expected")
            };
            let mut toks: Vec<(String, bool)> = s
                .split(' ')
                .filter(|t| !t.is_empty())
                .map(|t| (t.to_string(), false))
                .collect();
            if self.peek() == Some(&Tk::Star) {
                self.i += 1;
                if let Some(l) = toks.last_mut() {
                    l.1 = true;
                }
            }
            out.extend(toks);
            if self.peek() == Some(&Tk::Plus) {
                self.i += 1;
            } else {
                break;
            }
        }
        out
    }
}

fn spans(p: &[(String, bool)], col: &[String]) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    if p.is_empty() || col.len() < p.len() {
        return v;
    }
    for s in 0..=col.len() - p.len() {
        if p.iter().enumerate().all(|(k, (t, pre))| {
            if *pre {
                col[s + k].starts_with(t.as_str())
            } else {
                col[s + k] == *t
            }
        }) {
            v.push((s, s + p.len() - 1));
        }
    }
    v
}

fn eval(e: &Fx, cols: &[(&str, Vec<String>)], allowed: &[String]) -> bool {
    let active = || cols.iter().filter(|(n, _)| allowed.iter().any(|a| a == n));
    match e {
        Fx::Phrase(p) => active().any(|(_, c)| !spans(p, c).is_empty()),
        Fx::Near(ps, n) => {
            assert_eq!(ps.len(), 2, "only 2-phrase NEAR is emitted");
            active().any(|(_, c)| {
                let (a, b) = (spans(&ps[0], c), spans(&ps[1], c));
                a.iter().any(|&(s1, e1)| {
                    b.iter().any(|&(s2, e2)| {
                        (e1 < s2 && s2 - e1 - 1 <= *n) || (e2 < s1 && s1 - e2 - 1 <= *n)
                    })
                })
            })
        }
        Fx::And(a, b) => eval(a, cols, allowed) && eval(b, cols, allowed),
        Fx::Or(a, b) => eval(a, cols, allowed) || eval(b, cols, allowed),
        Fx::Col(c, inner) => {
            let narrowed: Vec<String> = allowed.iter().filter(|a| c.contains(a)).cloned().collect();
            eval(inner, cols, &narrowed)
        }
    }
}

/// Evaluate an FTS5 expression (as emitted by the crate) over a document's indexed columns.
pub fn fts_matches(expr: &str, doc: &Document<'_>) -> bool {
    let mut p = P { t: lex(expr), i: 0 };
    let e = p.or();
    assert_eq!(p.i, p.t.len(), "trailing FTS input in {expr}");
    let split = |s: &str| {
        index_text(s)
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let cols = [
        ("title", split(doc.title.unwrap_or(""))),
        ("text", split(doc.text)),
    ];
    eval(&e, &cols, &["title".to_string(), "text".to_string()])
}

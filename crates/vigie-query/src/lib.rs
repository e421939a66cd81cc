//! Vigie's boolean query language: the watches users write and the search box.
//!
//! # Design
//!
//! A watch is a boolean query (Brandwatch-style) that is parsed once, checked, and then matched
//! against every incoming mention. The crate is pure — no IO, no clock — so it is cheap to test
//! and to benchmark. It has four parts, in data-flow order:
//!
//! 1. **one tokenizer** ([`tokenize()`]) shared by query terms, document matching, the
//!    full-text index ([`index_text`]) and the NLP crate, so a term and a text always agree on
//!    what a word is (case, accents, ligatures, hashtags);
//! 2. **a parser** ([`parse`]) that never panics, limits recursion, points at the 1-based
//!    character column of any mistake with a message written for the person who typed the
//!    query, and rejects queries that can match everything or nothing;
//! 3. **matchers**: [`Query::matches`] for one query, and [`WatchSet`] which tokenizes a mention
//!    once, finds candidate queries through a term dictionary and evaluates only those. Both
//!    share the same evaluation code (see `matcher.rs`);
//! 4. **an SQL pre-filter** ([`Query::fts5_prefilter`]): an SQLite FTS5 expression that finds a
//!    superset of the matching stored mentions, which are then confirmed with `matches`.
//!
//! **Invariant** (checked at parse time, relied on by [`WatchSet`]): an accepted query is false
//! for a document containing none of its terms and filters. Hence a query needs at least one of
//! its leaves present to match, and the watch set only evaluates queries one of whose leaves it
//! has seen.
//!
//! # Example
//!
//! ```
//! use vigie_query::{Document, WatchSet, parse};
//!
//! let q = parse(r#"(sncf OR @sncf) NEAR/3 (retard OR annul*) -"offre d'emploi""#).unwrap();
//! let doc = Document { text: "Merci @SNCF, train annulé et aucun message", ..Document::default() };
//! assert_eq!(q.matches(&doc), Some(vec!["sncf".to_string(), "@sncf".into(), "annul*".into()]));
//! assert_eq!(q.fts5_prefilter().as_deref(), Some(r#"(NEAR("sncf" "retard", 3) OR NEAR("sncf" "annul"*, 3))"#));
//!
//! let err = parse("(sncf OR ouigo").unwrap_err();
//! assert_eq!(err.to_string(), "expected ')' at column 15");
//!
//! let watches = WatchSet::new([(1, q), (2, parse("ouigo").unwrap())]);
//! assert_eq!(watches.match_document(&doc).len(), 1);
//! ```
//!
//! # Grammar (EBNF)
//!
//! ```text
//! query     = or_expr ;
//! or_expr   = and_expr , { "OR" , and_expr } ;
//! and_expr  = unary , { [ "AND" ] , unary } ;          (* juxtaposition is AND *)
//! unary     = ( "NOT" | "-" ) , unary | near ;          (* "-" directly before its operand *)
//! near      = primary , [ near_op , primary ] ;         (* both operands: term or OR-group of terms *)
//! near_op   = "NEAR/" , digits , [ "f" ] ;
//! primary   = "(" , or_expr , ")" | term | field ;
//! field     = text_field , ":" , ( term | "(" , or_expr , ")" )   (* no space after ':' *)
//!           | meta_field , ":" , ( value | quoted ) ;
//! text_field = "title" | "text" | "author" ;
//! meta_field = "site" | "url" | "lang" | "source" ;
//! term      = word | quoted ;
//! word      = { any char except whitespace, "(", ")", quotes } ;   (* may end with "*" *)
//! quoted    = '"' , { any char except '"' } , '"' ;    (* also “…” and «…» *)
//! value     = { any char except whitespace and ")" } ;
//! ```
//!
//! Precedence, tightest first: `NEAR`, `NOT`/`-`, `AND`/juxtaposition, `OR`. So
//! `a OR b c` is `a OR (b AND c)` and `-a NEAR/3 b` is `NOT (a NEAR/3 b)`. Operators are
//! upper-case only: `and`, `or`, `not` are ordinary words ("or" is French). Nesting deeper than
//! 64 levels and queries longer than 10,000 characters are rejected.
//!
//! # Semantics
//!
//! - **Words** match whole tokens, ignoring case and accents (`deroute` matches `Déroute`;
//!   `œ`→`oe`, `æ`→`ae`, `ß`→`ss` are folded). A word the tokenizer splits (`wi-fi`, `l'avion`,
//!   `12:30`) is searched as a phrase of its parts.
//! - **Prefixes** `rembours*` match tokens starting with at least 2 given characters; `*` is
//!   only allowed at the end of a word.
//! - **Phrases** `"toujours pas reçu"` match consecutive tokens within one field; a phrase word
//!   may be a prefix (`"vol* annulé"`). Punctuation inside a phrase is ignored, as in texts.
//! - **Hashtags and handles** `#kitkat`, `@sncf` match only that hashtag/handle. A plain word
//!   matches the word *and* hashtags/handles of the same text: `kitkat` matches `KitKat`,
//!   `#KitKat` and `@kitkat`, but `#kitkat` does not match the plain word `kitkat`. Hashtag
//!   bodies may contain `_`; `#air_france` is one token (not `air` + `france`).
//! - **`NEAR/n`**: a left and a right operand occur in the same field with **at most `n`
//!   tokens strictly between them** (`NEAR/0` = adjacent), in either order; `NEAR/nf`
//!   requires the left one first. The two matches may not overlap. Hashtags and handles count
//!   as tokens; punctuation does not.
//! - **Fields**: unqualified terms search the title and the text. `title:`, `text:` restrict
//!   a term, phrase or group; `author:` token-matches the author name (`author:"Jean Dupont"`).
//!   `site:lemonde.fr` matches the domain and its subdomains (`www.`, `m.`) but not
//!   `notlemonde.fr`; it reads the document's `site`, or the host of its `url`. `url:` is a
//!   case-insensitive substring of the URL. `lang:fr` matches `fr` and `fr-CA`; `source:` is
//!   the source kind name (`twitter`, `forum`, `news`), case-insensitive.
//! - **Rejected as meaningless**: a query true for a document containing none of its terms
//!   (`NOT x`, `a OR NOT b`), and one that can never be true because it requires and excludes
//!   the same thing (`a AND NOT a`; checked exactly for up to 12 distinct leaves).
//! - **Matched terms**: [`Query::matches`] returns the terms that made the query true, as
//!   written in the query (without field prefix; phrases with their quotes), deduplicated, in
//!   query order. Negated terms and metadata filters are never listed.

mod ast;
mod fts;
mod lexer;
mod matcher;
mod parser;
mod tokenize;
mod watchset;

pub use ast::{Atom, Expr, Filter, Near, Scope, Term};
pub use parser::{MAX_DEPTH, MAX_QUERY_CHARS, SOURCE_KINDS};
pub use tokenize::{Token, TokenKind, index_text, tokenize};
pub use watchset::WatchSet;

use matcher::{LocalView, Program};

/// A query syntax or meaning error, with the 1-based character column when it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", column.map(|c| format!(" at column {c}")).unwrap_or_default())]
pub struct QueryError {
    /// What is wrong, for the person who typed the query (English).
    pub message: String,
    /// The same in French (the web app shows the reader's language).
    pub message_fr: String,
    /// 1-based character column in the query, if the error has a position.
    pub column: Option<usize>,
}

impl QueryError {
    pub(crate) fn new(en: impl Into<String>, fr: impl Into<String>, column: Option<usize>) -> QueryError {
        QueryError { message: en.into(), message_fr: fr.into(), column }
    }

    /// The message in French (`french`) or English, with the column when it has one.
    pub fn describe(&self, french: bool) -> String {
        match (french, self.column) {
            (true, Some(c)) => format!("{} (colonne {c})", self.message_fr),
            (true, None) => self.message_fr.clone(),
            (false, _) => self.to_string(),
        }
    }
}

/// A parsed, validated and compiled query.
#[derive(Debug, Clone)]
pub struct Query {
    source: String,
    ast: Expr,
    pub(crate) program: Program,
}

/// The parts of a mention a query looks at.
#[derive(Debug, Clone, Copy, Default)]
pub struct Document<'a> {
    /// Title (articles, forum threads); None for tweets.
    pub title: Option<&'a str>,
    /// Body text.
    pub text: &'a str,
    /// Author name or handle.
    pub author: Option<&'a str>,
    /// Domain of the page (`www.lemonde.fr`); when None, the host of `url` is used.
    pub site: Option<&'a str>,
    /// Canonical URL.
    pub url: Option<&'a str>,
    /// Language code (`fr`, `en`, `fr-CA`).
    pub lang: Option<&'a str>,
    /// Source kind name (`twitter`, `forum`, `news`…).
    pub source: Option<&'a str>,
}

/// Parse and validate a query.
pub fn parse(input: &str) -> Result<Query, QueryError> {
    let ast = parser::parse_expr(input)?;
    let program = Program::compile(&ast);
    Ok(Query {
        source: input.to_owned(),
        ast,
        program,
    })
}

impl Query {
    /// The query as typed.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The syntax tree.
    pub fn ast(&self) -> &Expr {
        &self.ast
    }

    /// Some(terms that matched, as written in the query, deduplicated, in query order) when
    /// the document matches.
    pub fn matches(&self, doc: &Document<'_>) -> Option<Vec<String>> {
        self.program.run(&LocalView::new(&self.program, doc))
    }

    /// FTS5 MATCH expression against the index produced by [`index_text`] that is a superset
    /// pre-filter of [`Query::matches`]; None when no pre-filter is possible (e.g. only
    /// `site:`/`lang:`/`url:` terms). See `fts.rs` for the translation rules.
    pub fn fts5_prefilter(&self) -> Option<String> {
        fts::prefilter(&self.ast)
    }
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

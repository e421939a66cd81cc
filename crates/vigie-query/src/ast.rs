//! The public syntax tree produced by [`crate::parse`].

use crate::tokenize::TokenKind;

/// A parsed query expression.
///
/// `And`/`Or` are flattened (an `And` never directly contains an `And`) and always have at
/// least two children. Every leaf is a [`Term`], a [`Filter`] or a [`Near`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A word, prefix, phrase, hashtag or handle, restricted to a [`Scope`].
    Term(Term),
    /// A metadata filter (`site:`, `url:`, `lang:`, `source:`).
    Filter(Filter),
    /// All children must match.
    And(Vec<Expr>),
    /// At least one child must match.
    Or(Vec<Expr>),
    /// The child must not match (`NOT x`, `-x`).
    Not(Box<Expr>),
    /// Proximity: `left NEAR/n right` or `left NEAR/nf right`.
    Near(Near),
}

/// Which part of a document a [`Term`] is searched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Unqualified term: the title or the text (a phrase never spans the two).
    TitleOrText,
    /// `title:`
    Title,
    /// `text:`
    Text,
    /// `author:` (token match on the author's name).
    Author,
}

/// One token pattern of a term.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Atom {
    /// `Word` matches a token of any kind with the same text (so `kitkat` also matches
    /// `#KitKat` and `@kitkat`); `Hashtag` and `Mention` match only that kind.
    pub kind: TokenKind,
    /// Normalized text (see [`crate::tokenize()`]), without sigil.
    pub text: String,
    /// `true` for `prefix*`: matches tokens starting with `text`.
    pub prefix: bool,
}

impl Atom {
    /// Whether this atom matches a document token.
    #[inline]
    pub fn matches(&self, text: &str, kind: TokenKind) -> bool {
        (self.kind == TokenKind::Word || self.kind == kind)
            && if self.prefix {
                text.starts_with(self.text.as_str())
            } else {
                text == self.text
            }
    }
}

/// A searchable term: one atom (word, prefix, hashtag, handle) or several consecutive ones
/// (a phrase, or a word the tokenizer splits such as `wi-fi` or `l'avion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Where it is searched.
    pub scope: Scope,
    /// Consecutive token patterns (never empty).
    pub atoms: Vec<Atom>,
    /// The term as written in the query, without field prefix (`Déroute`, `"toujours pas reçu"`).
    pub written: String,
    /// 1-based character column of the term in the query.
    pub column: usize,
}

/// A metadata filter. Values are normalized at parse time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    /// `site:lemonde.fr`: the domain or any subdomain (`www.` and scheme/path stripped).
    Site(String),
    /// `url:…`: case-insensitive substring of the canonical URL (stored lower-case).
    Url(String),
    /// `lang:fr`: the language code (lower-case); `fr` also matches `fr-CA`.
    Lang(String),
    /// `source:twitter`: the source kind name (lower-case).
    Source(String),
}

/// `left NEAR/distance right`: a left term and a right term occur in the same field with at
/// most `distance` tokens strictly between them (non-overlapping); when `ordered`, the left one
/// comes first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Near {
    /// Alternatives for the left operand (a single term or an OR-group).
    pub left: Vec<Term>,
    /// Alternatives for the right operand.
    pub right: Vec<Term>,
    /// Maximum number of tokens between the two.
    pub distance: u32,
    /// `NEAR/nf`: left must come before right.
    pub ordered: bool,
}

/// A leaf of an expression, for generic evaluation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Leaf<'a> {
    Term(&'a Term),
    Filter(&'a Filter),
    Near(&'a Near),
}

impl Expr {
    /// Evaluate the boolean structure with `leaf` deciding each leaf.
    pub(crate) fn eval_with(&self, leaf: &mut dyn FnMut(Leaf<'_>) -> bool) -> bool {
        match self {
            Expr::Term(t) => leaf(Leaf::Term(t)),
            Expr::Filter(f) => leaf(Leaf::Filter(f)),
            Expr::Near(n) => leaf(Leaf::Near(n)),
            Expr::And(cs) => cs.iter().all(|c| c.eval_with(leaf)),
            Expr::Or(cs) => cs.iter().any(|c| c.eval_with(leaf)),
            Expr::Not(c) => !c.eval_with(leaf),
        }
    }

    /// Visit every leaf, in query order.
    pub(crate) fn for_each_leaf<'a>(&'a self, f: &mut dyn FnMut(Leaf<'a>)) {
        match self {
            Expr::Term(t) => f(Leaf::Term(t)),
            Expr::Filter(x) => f(Leaf::Filter(x)),
            Expr::Near(n) => f(Leaf::Near(n)),
            Expr::And(cs) | Expr::Or(cs) => cs.iter().for_each(|c| c.for_each_leaf(f)),
            Expr::Not(c) => c.for_each_leaf(f),
        }
    }
}

impl Leaf<'_> {
    /// A key identifying the leaf's meaning (not its position), for satisfiability checks.
    pub(crate) fn key(&self) -> String {
        match self {
            Leaf::Term(t) => format!("T{:?}{:?}", t.scope, t.atoms),
            Leaf::Filter(f) => format!("F{f:?}"),
            Leaf::Near(n) => {
                let side = |ts: &[Term]| {
                    ts.iter()
                        .map(|t| format!("{:?}{:?}", t.scope, t.atoms))
                        .collect::<Vec<_>>()
                };
                format!(
                    "N{:?}{:?}{}{}",
                    side(&n.left),
                    side(&n.right),
                    n.distance,
                    n.ordered
                )
            }
        }
    }
}

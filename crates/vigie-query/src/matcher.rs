//! Compiled form of a query and its evaluation against one document.
//!
//! A [`Program`] refers to atoms and filters by number. The numbers are local to the query for
//! [`crate::Query::matches`] and global (shared dictionary) inside [`crate::WatchSet`]; the
//! evaluation only sees a [`DocView`] that answers "where does atom N occur" and "is filter N
//! true", so both paths run the very same evaluation code.

use std::collections::HashMap;

use crate::Document;
use crate::ast::{Atom, Expr, Filter, Near, Scope, Term};
use crate::parser::normalize_host;
use crate::tokenize::scan;

/// Field numbers used in occurrences.
pub(crate) const F_TITLE: u8 = 0;
pub(crate) const F_TEXT: u8 = 1;
pub(crate) const F_AUTHOR: u8 = 2;

/// One occurrence of an atom: field and token position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Occ {
    pub field: u8,
    pub pos: u32,
}

/// What the evaluator needs to know about a document.
pub(crate) trait DocView {
    /// Occurrences of `atom`, sorted by (field, pos).
    fn occurrences(&self, atom: u32) -> &[Occ];
    /// Whether filter `filter` holds.
    fn filter(&self, filter: u32) -> bool;
}

/// A compiled term: consecutive atoms in a scope.
#[derive(Debug, Clone)]
pub(crate) struct CTerm {
    pub scope: Scope,
    pub atoms: Vec<u32>,
}

/// Compiled expression tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Term(u32),
    Filter(u32),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Near {
        left: Vec<u32>,
        right: Vec<u32>,
        distance: u32,
        ordered: bool,
    },
}

/// A query compiled for evaluation.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    /// Distinct atoms (local numbering).
    pub atoms: Vec<Atom>,
    /// Distinct filters (local numbering).
    pub filters: Vec<Filter>,
    /// Terms in query order.
    pub terms: Vec<CTerm>,
    /// For each term, the index in `written` of its text as written.
    pub term_written: Vec<u32>,
    /// Distinct written forms, in query order.
    pub written: Vec<String>,
    pub root: Node,
}

impl Program {
    pub(crate) fn compile(expr: &Expr) -> Program {
        let mut b = Builder::default();
        let root = b.node(expr);
        Program {
            atoms: b.atoms,
            filters: b.filters,
            terms: b.terms,
            term_written: b.term_written,
            written: b.written,
            root,
        }
    }

    /// Evaluate; on a match, return the matched terms as written (deduplicated, query order).
    pub(crate) fn run(&self, view: &impl DocView) -> Option<Vec<String>> {
        if !self.eval(&self.root, view) {
            return None;
        }
        let mut hit = Vec::new();
        self.collect(&self.root, view, &mut hit);
        let mut idx: Vec<u32> = hit
            .into_iter()
            .filter_map(|t| self.term_written.get(t as usize).copied())
            .collect();
        idx.sort_unstable();
        idx.dedup();
        Some(
            idx.into_iter()
                .filter_map(|i| self.written.get(i as usize).cloned())
                .collect(),
        )
    }

    fn term(&self, t: u32) -> Option<&CTerm> {
        self.terms.get(t as usize)
    }

    pub(crate) fn eval(&self, node: &Node, view: &impl DocView) -> bool {
        match node {
            Node::Term(t) => self.term(*t).is_some_and(|t| term_true(t, view)),
            Node::Filter(f) => view.filter(*f),
            Node::And(cs) => cs.iter().all(|c| self.eval(c, view)),
            Node::Or(cs) => cs.iter().any(|c| self.eval(c, view)),
            Node::Not(c) => !self.eval(c, view),
            Node::Near {
                left,
                right,
                distance,
                ordered,
            } => self.near(left, right, *distance, *ordered, view),
        }
    }

    fn near(
        &self,
        left: &[u32],
        right: &[u32],
        distance: u32,
        ordered: bool,
        view: &impl DocView,
    ) -> bool {
        let spans = |ts: &[u32]| {
            let mut v = Vec::new();
            for t in ts.iter().filter_map(|&t| self.term(t)) {
                term_spans(t, view, &mut |field, start, end| {
                    v.push((field, start, end))
                });
            }
            v
        };
        let ls = spans(left);
        if ls.is_empty() {
            return false;
        }
        let rs = spans(right);
        ls.iter().any(|&(lf, lstart, lend)| {
            rs.iter().any(|&(rf, rstart, rend)| {
                if lf != rf {
                    return false;
                }
                if lend < rstart {
                    rstart - lend - 1 <= distance
                } else if !ordered && rend < lstart {
                    lstart - rend - 1 <= distance
                } else {
                    false
                }
            })
        })
    }

    /// Collect the terms that made a true node true.
    fn collect(&self, node: &Node, view: &impl DocView, out: &mut Vec<u32>) {
        match node {
            Node::Term(t) => out.push(*t),
            Node::Filter(_) | Node::Not(_) => {}
            Node::And(cs) => cs.iter().for_each(|c| self.collect(c, view, out)),
            Node::Or(cs) => {
                for c in cs {
                    if self.eval(c, view) {
                        self.collect(c, view, out);
                    }
                }
            }
            Node::Near { left, right, .. } => {
                for &t in left.iter().chain(right) {
                    if self.term(t).is_some_and(|ct| term_true(ct, view)) {
                        out.push(t);
                    }
                }
            }
        }
    }
}

fn scope_allows(scope: Scope, field: u8) -> bool {
    match scope {
        Scope::TitleOrText => field == F_TITLE || field == F_TEXT,
        Scope::Title => field == F_TITLE,
        Scope::Text => field == F_TEXT,
        Scope::Author => field == F_AUTHOR,
    }
}

/// Call `f(field, first_pos, last_pos)` for every match of the term.
fn term_spans(t: &CTerm, view: &impl DocView, f: &mut dyn FnMut(u8, u32, u32)) {
    let Some((&first, rest)) = t.atoms.split_first() else {
        return;
    };
    for o in view.occurrences(first) {
        if !scope_allows(t.scope, o.field) {
            continue;
        }
        let all = rest.iter().enumerate().all(|(i, &a)| {
            let want = Occ {
                field: o.field,
                pos: o.pos.saturating_add(i as u32 + 1),
            };
            view.occurrences(a).binary_search(&want).is_ok()
        });
        if all {
            f(o.field, o.pos, o.pos + rest.len() as u32);
        }
    }
}

fn term_true(t: &CTerm, view: &impl DocView) -> bool {
    let Some((&first, rest)) = t.atoms.split_first() else {
        return false;
    };
    view.occurrences(first).iter().any(|o| {
        scope_allows(t.scope, o.field)
            && rest.iter().enumerate().all(|(i, &a)| {
                let want = Occ {
                    field: o.field,
                    pos: o.pos.saturating_add(i as u32 + 1),
                };
                view.occurrences(a).binary_search(&want).is_ok()
            })
    })
}

#[derive(Default)]
struct Builder {
    atoms: Vec<Atom>,
    atom_ids: HashMap<Atom, u32>,
    filters: Vec<Filter>,
    filter_ids: HashMap<Filter, u32>,
    terms: Vec<CTerm>,
    term_written: Vec<u32>,
    written: Vec<String>,
    written_ids: HashMap<String, u32>,
}

impl Builder {
    fn node(&mut self, e: &Expr) -> Node {
        match e {
            Expr::Term(t) => Node::Term(self.term(t)),
            Expr::Filter(f) => {
                let n = self.filters.len() as u32;
                let id = *self.filter_ids.entry(f.clone()).or_insert(n);
                if id == n {
                    self.filters.push(f.clone());
                }
                Node::Filter(id)
            }
            Expr::And(cs) => Node::And(cs.iter().map(|c| self.node(c)).collect()),
            Expr::Or(cs) => Node::Or(cs.iter().map(|c| self.node(c)).collect()),
            Expr::Not(c) => Node::Not(Box::new(self.node(c))),
            Expr::Near(Near {
                left,
                right,
                distance,
                ordered,
            }) => Node::Near {
                left: left.iter().map(|t| self.term(t)).collect(),
                right: right.iter().map(|t| self.term(t)).collect(),
                distance: *distance,
                ordered: *ordered,
            },
        }
    }

    fn term(&mut self, t: &Term) -> u32 {
        let atoms = t
            .atoms
            .iter()
            .map(|a| {
                let n = self.atoms.len() as u32;
                let id = *self.atom_ids.entry(a.clone()).or_insert(n);
                if id == n {
                    self.atoms.push(a.clone());
                }
                id
            })
            .collect();
        let n = self.written.len() as u32;
        let w = *self.written_ids.entry(t.written.clone()).or_insert(n);
        if w == n {
            self.written.push(t.written.clone());
        }
        self.terms.push(CTerm {
            scope: t.scope,
            atoms,
        });
        self.term_written.push(w);
        self.terms.len() as u32 - 1
    }
}

/// Lower-case language code with `_` → `-`.
pub(crate) fn normalize_lang(l: &str) -> String {
    l.trim().to_lowercase().replace('_', "-")
}

/// The hosts of a document: its `site` and the host of its `url`. Both count:
/// an import may give `site` as a name ("Le Monde") while the URL holds the
/// domain.
pub(crate) fn doc_hosts(doc: &Document<'_>) -> Vec<String> {
    let mut hosts: Vec<String> =
        [doc.site, doc.url].into_iter().flatten().map(normalize_host).filter(|h| !h.is_empty()).collect();
    hosts.dedup();
    hosts
}

/// Direct evaluation of one filter against a document.
pub(crate) fn filter_holds(f: &Filter, doc: &Document<'_>) -> bool {
    match f {
        Filter::Site(v) => doc_hosts(doc).iter().any(|h| {
            h == v
                || (h.len() > v.len()
                    && h.ends_with(v.as_str())
                    && h.as_bytes()[h.len() - v.len() - 1] == b'.')
        }),
        Filter::Url(v) => doc
            .url
            .is_some_and(|u| u.to_lowercase().contains(v.as_str())),
        Filter::Lang(v) => doc
            .lang
            .map(normalize_lang)
            .is_some_and(|l| l == *v || l.split('-').next() == Some(v)),
        Filter::Source(v) => doc.source.is_some_and(|s| s.trim().to_lowercase() == *v),
    }
}

/// Calls `f(field, token_text, kind, position)` for every token of the searchable fields.
pub(crate) fn for_each_doc_token(
    doc: &Document<'_>,
    mut f: impl FnMut(u8, &str, crate::TokenKind, u32),
) {
    let fields = [
        (F_TITLE, doc.title),
        (F_TEXT, Some(doc.text)),
        (F_AUTHOR, doc.author),
    ];
    for (field, text) in fields {
        let Some(text) = text else { continue };
        let mut pos = 0u32;
        scan(text, |norm, kind, _, _| {
            f(field, norm, kind, pos);
            pos = pos.saturating_add(1);
        });
    }
}

/// A document seen through one query's own (local) atoms: a linear scan, fine for one query.
pub(crate) struct LocalView {
    occ: Vec<Vec<Occ>>,
    filters: Vec<bool>,
}

impl LocalView {
    pub(crate) fn new(p: &Program, doc: &Document<'_>) -> LocalView {
        let mut occ = vec![Vec::new(); p.atoms.len()];
        for_each_doc_token(doc, |field, text, kind, pos| {
            for (i, a) in p.atoms.iter().enumerate() {
                if a.matches(text, kind)
                    && let Some(v) = occ.get_mut(i)
                {
                    v.push(Occ { field, pos });
                }
            }
        });
        let filters = p.filters.iter().map(|f| filter_holds(f, doc)).collect();
        LocalView { occ, filters }
    }
}

impl DocView for LocalView {
    fn occurrences(&self, atom: u32) -> &[Occ] {
        self.occ.get(atom as usize).map_or(&[], Vec::as_slice)
    }
    fn filter(&self, filter: u32) -> bool {
        self.filters.get(filter as usize).copied().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Document, parse};

    fn m(q: &str, text: &str) -> Option<Vec<String>> {
        parse(q)
            .map_err(|e| e.to_string())
            .map(|q| {
                q.matches(&Document {
                    text,
                    ..Document::default()
                })
            })
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn near_counts_tokens_between() {
        // "a x x b": 2 tokens between
        assert!(m("a NEAR/2 b", "a x x b").is_some());
        assert!(m("a NEAR/1 b", "a x x b").is_none());
        assert!(m("b NEAR/2 a", "a x x b").is_some());
        assert!(m("b NEAR/2f a", "a x x b").is_none());
        assert!(m("a NEAR/0 b", "a b").is_some());
        assert!(m("\"a x\" NEAR/1 b", "a x y b").is_some());
        // the same token cannot be both operands
        assert!(m("retard NEAR/5 ret*", "un retard").is_none());
    }

    #[test]
    fn matched_terms_in_query_order_deduplicated() {
        assert_eq!(
            m(
                "(Retard OR annulé OR retard) AND sncf",
                "SNCF: train annulé et retard"
            ),
            Some(vec![
                "Retard".to_string(),
                "annulé".into(),
                "retard".into(),
                "sncf".into()
            ])
        );
        assert_eq!(m("sncf OR sncf", "sncf"), Some(vec!["sncf".to_string()]));
        assert_eq!(m("sncf -grève", "sncf"), Some(vec!["sncf".to_string()]));
    }
}

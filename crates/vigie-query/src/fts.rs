//! Translation of a query into an SQLite FTS5 `MATCH` expression that is a superset
//! pre-filter of [`crate::Query::matches`].
//!
//! The FTS table indexes [`crate::index_text`] of the title and of the text in columns `title`
//! and `text` (tokenizer `unicode61 remove_diacritics 2`). `index_text` writes one FTS token per
//! [`crate::tokenize()`] token, so positions agree and `NEAR(…, n)` keeps its meaning.
//!
//! Rules: each term becomes a quoted FTS phrase (`"toujours pas recu"`, prefix `"rembours"*`,
//! a prefix inside a phrase uses `+` concatenation: `"vol"* + "annule"`); hashtags and handles
//! become their index form; `title:`/`text:` become `{title} : …`/`{text} : …`. Everything
//! the index cannot check — NOT subtrees, `author:`, `site:`, `url:`, `lang:`, `source:` — is
//! "true": dropped from an AND, and making an OR true. A NEAR between single terms becomes
//! `NEAR(a b, n)` (ordered `NEAR/nf` too: FTS5 NEAR is unordered, a superset); a NEAR with
//! OR-group operands is expanded into an OR of NEARs when that stays small, otherwise it
//! becomes the AND of its operands. Every token is quoted, so FTS keywords typed by a user
//! (`AND`, `NEAR`…) are only ever searched as words.

use crate::ast::{Expr, Near, Scope, Term};
use crate::tokenize::index_form;

/// Largest number of NEAR groups one NEAR is expanded into.
const MAX_NEAR_EXPANSION: usize = 16;

/// The pre-filter, or None when every document may match as far as the index can tell.
pub(crate) fn prefilter(expr: &Expr) -> Option<String> {
    tr(expr)
}

fn tr(e: &Expr) -> Option<String> {
    match e {
        Expr::Term(t) => term(t),
        Expr::Filter(_) | Expr::Not(_) => None,
        Expr::And(cs) => {
            let parts: Vec<String> = cs.iter().filter_map(tr).collect();
            join(parts, " AND ")
        }
        Expr::Or(cs) => {
            let parts = cs.iter().map(tr).collect::<Option<Vec<String>>>()?;
            join(parts, " OR ")
        }
        Expr::Near(n) => near(n),
    }
}

fn join(mut parts: Vec<String>, op: &str) -> Option<String> {
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(format!("({})", parts.join(op))),
    }
}

/// The FTS phrase for a term's atoms, without column filter.
fn phrase(t: &Term) -> String {
    let n = t.atoms.len();
    let inner_prefix = t.atoms.iter().take(n.saturating_sub(1)).any(|a| a.prefix);
    if inner_prefix {
        t.atoms
            .iter()
            .map(|a| {
                format!(
                    "\"{}\"{}",
                    index_form(&a.text, a.kind),
                    if a.prefix { "*" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join(" + ")
    } else {
        let words: Vec<String> = t
            .atoms
            .iter()
            .map(|a| index_form(&a.text, a.kind))
            .collect();
        let star = if t.atoms.last().is_some_and(|a| a.prefix) {
            "*"
        } else {
            ""
        };
        format!("\"{}\"{star}", words.join(" "))
    }
}

fn column(scope: Scope) -> Option<Option<&'static str>> {
    match scope {
        Scope::TitleOrText => Some(None),
        Scope::Title => Some(Some("title")),
        Scope::Text => Some(Some("text")),
        Scope::Author => None,
    }
}

fn with_column(col: Option<&str>, s: String) -> String {
    match col {
        Some(c) => format!("{{{c}}} : {s}"),
        None => s,
    }
}

fn term(t: &Term) -> Option<String> {
    let col = column(t.scope)?;
    Some(with_column(col, phrase(t)))
}

fn near(n: &Near) -> Option<String> {
    let checkable = |ts: &[Term]| ts.iter().all(|t| column(t.scope).is_some());
    let or_of = |ts: &[Term]| {
        ts.iter()
            .map(term)
            .collect::<Option<Vec<_>>>()
            .and_then(|v| join(v, " OR "))
    };
    if !checkable(&n.left)
        || !checkable(&n.right)
        || n.left.len() * n.right.len() > MAX_NEAR_EXPANSION
    {
        return join(
            [or_of(&n.left), or_of(&n.right)]
                .into_iter()
                .flatten()
                .collect(),
            " AND ",
        );
    }
    let mut groups = Vec::new();
    for l in &n.left {
        for r in &n.right {
            let (lc, rc) = (column(l.scope).flatten(), column(r.scope).flatten());
            let col = match (lc, rc) {
                (Some(a), Some(b)) if a != b => {
                    // Never true in the matcher (a NEAR is within one field); keep a superset.
                    groups.push(format!(
                        "({} AND {})",
                        with_column(lc, phrase(l)),
                        with_column(rc, phrase(r))
                    ));
                    continue;
                }
                (a, b) => a.or(b),
            };
            let g = with_column(
                col,
                format!("NEAR({} {}, {})", phrase(l), phrase(r), n.distance),
            );
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
    }
    join(groups, " OR ")
}

#[cfg(test)]
mod tests {
    use crate::parse;

    fn pf(q: &str) -> Option<String> {
        parse(q)
            .map_err(|e| e.to_string())
            .map(|q| q.fts5_prefilter())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn translations() {
        assert_eq!(pf("Déroute"), Some("\"deroute\"".into()));
        assert_eq!(pf("sncf -grève"), Some("\"sncf\"".into()));
        assert_eq!(pf("sncf OR lang:fr"), None);
        assert_eq!(pf("site:lemonde.fr"), None);
        assert_eq!(
            pf("rembours* \"vol* annulé\""),
            Some("(\"rembours\"* AND \"vol\"* + \"annule\")".into())
        );
        assert_eq!(
            pf("#Air_France OR @SNCF"),
            Some("(\"airfrance\" OR \"sncf\")".into())
        );
        assert_eq!(
            pf("title:(retard OR annulé)"),
            Some("({title} : \"retard\" OR {title} : \"annule\")".into())
        );
        assert_eq!(
            pf("sncf NEAR/3f retard"),
            Some("NEAR(\"sncf\" \"retard\", 3)".into())
        );
        assert_eq!(
            pf("(sncf OR ouigo) NEAR/2 retard"),
            Some("(NEAR(\"sncf\" \"retard\", 2) OR NEAR(\"ouigo\" \"retard\", 2))".into())
        );
        // user text that looks like FTS syntax stays quoted words
        assert_eq!(pf("\"NEAR AND\""), Some("\"near and\"".into()));
    }
}

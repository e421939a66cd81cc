//! Recursive-descent parser: lexemes → [`Expr`], then semantic checks.

use std::collections::HashMap;

use crate::QueryError;
use crate::ast::{Atom, Expr, Filter, Leaf, Near, Scope, Term};
use crate::lexer::{Field, Lexeme, Tok, column, lex};
use crate::tokenize::{TokenKind, tokenize};

/// Longest accepted query, in characters.
pub const MAX_QUERY_CHARS: usize = 10_000;
/// Deepest accepted nesting of parentheses, NOT and field groups.
pub const MAX_DEPTH: usize = 64;
/// Satisfiability is checked by enumeration up to this many distinct leaves.
const MAX_SAT_LEAVES: usize = 12;

pub(crate) const MATCHES_EVERYTHING: &str = "this query would match mentions that contain none of its terms \
(NOT needs something to subtract from, e.g. `brand NOT job`)";
const MATCHES_EVERYTHING_FR: &str = "cette requête trouverait des mentions qui ne contiennent aucun de ses termes \
(NOT doit retirer quelque chose d'un ensemble, par exemple `marque NOT emploi`)";
pub(crate) const MATCHES_NOTHING: &str =
    "this query can never match: it requires and excludes the same thing (e.g. `a AND NOT a`)";
const MATCHES_NOTHING_FR: &str =
    "cette requête ne peut jamais rien trouver : elle exige et exclut la même chose (par exemple `a AND NOT a`)";

/// Parse and validate a query.
pub(crate) fn parse_expr(src: &str) -> Result<Expr, QueryError> {
    let chars = src.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(QueryError::new(
            format!("query is too long ({chars} characters, at most {MAX_QUERY_CHARS})"),
            format!("requête trop longue ({chars} caractères, au plus {MAX_QUERY_CHARS})"),
            None,
        ));
    }
    let lexemes = lex(src)?;
    if lexemes.is_empty() {
        return Err(QueryError::new("empty query", "requête vide", None));
    }
    let mut p = Parser {
        src,
        lx: lexemes,
        pos: 0,
        depth: 0,
        scope: None,
    };
    let expr = p.parse_or()?;
    if let Some(l) = p.peek() {
        let (en, fr) = match l.tok {
            Tok::RParen => UNMATCHED_CLOSE,
            _ => ("unexpected input", "texte inattendu"),
        };
        return Err(p.err_at(l.start, en, fr));
    }
    check_semantics(&expr)?;
    Ok(expr)
}

/// Reject queries that match everything or nothing.
fn check_semantics(expr: &Expr) -> Result<(), QueryError> {
    if expr.eval_with(&mut |_| false) {
        return Err(QueryError::new(MATCHES_EVERYTHING, MATCHES_EVERYTHING_FR, None));
    }
    let mut keys: HashMap<String, usize> = HashMap::new();
    let mut too_many = false;
    expr.for_each_leaf(&mut |leaf| {
        let n = keys.len();
        keys.entry(leaf.key()).or_insert(n);
        too_many |= keys.len() > MAX_SAT_LEAVES;
    });
    if too_many {
        return Ok(());
    }
    let n = keys.len();
    let satisfiable = (0u32..(1u32 << n)).any(|bits| {
        expr.eval_with(&mut |leaf: Leaf<'_>| {
            keys.get(&leaf.key()).is_some_and(|&i| bits & (1 << i) != 0)
        })
    });
    if satisfiable {
        Ok(())
    } else {
        Err(QueryError::new(MATCHES_NOTHING, MATCHES_NOTHING_FR, None))
    }
}

struct Parser<'a> {
    src: &'a str,
    lx: Vec<Lexeme<'a>>,
    pos: usize,
    depth: usize,
    /// The enclosing `title:(…)`-style group, if any.
    scope: Option<(Field, usize)>,
}

fn op_name(tok: &Tok<'_>) -> Option<String> {
    Some(match tok {
        Tok::And => "AND".into(),
        Tok::Or => "OR".into(),
        Tok::Not => "NOT".into(),
        Tok::Minus => "'-'".into(),
        Tok::Near { distance, ordered } => {
            format!("NEAR/{distance}{}", if *ordered { "f" } else { "" })
        }
        Tok::TextField(f) => format!("'{}:'", f.name()),
        _ => return None,
    })
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Lexeme<'a>> {
        self.lx.get(self.pos)
    }

    fn err_at(&self, byte: usize, en: impl Into<String>, fr: impl Into<String>) -> QueryError {
        QueryError::new(en, fr, Some(column(self.src, byte)))
    }

    fn enter(&mut self, byte: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err_at(
                byte,
                format!("too deeply nested (more than {MAX_DEPTH} levels)"),
                format!("trop de parenthèses imbriquées (plus de {MAX_DEPTH} niveaux)"),
            ));
        }
        Ok(())
    }

    fn starts_unary(tok: &Tok<'_>) -> bool {
        matches!(
            tok,
            Tok::LParen
                | Tok::Not
                | Tok::Minus
                | Tok::Word(_)
                | Tok::Phrase(_)
                | Tok::TextField(_)
                | Tok::RawField(..)
        )
    }

    fn parse_or(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.parse_and()?];
        while let Some(Tok::Or) = self.peek().map(|l| &l.tok) {
            self.pos += 1;
            items.push(self.parse_and()?);
        }
        Ok(flatten(items, false))
    }

    fn parse_and(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.parse_unary()?];
        loop {
            match self.peek().map(|l| &l.tok) {
                Some(Tok::And) => {
                    self.pos += 1;
                    items.push(self.parse_unary()?);
                }
                Some(t) if Self::starts_unary(t) => items.push(self.parse_unary()?),
                _ => break,
            }
        }
        Ok(flatten(items, true))
    }

    fn parse_unary(&mut self) -> Result<Expr, QueryError> {
        match self.peek() {
            Some(l) if matches!(l.tok, Tok::Not | Tok::Minus) => {
                let start = l.start;
                self.enter(start)?;
                self.pos += 1;
                let inner = self.parse_unary()?;
                self.depth -= 1;
                Ok(Expr::Not(Box::new(inner)))
            }
            _ => self.parse_near(),
        }
    }

    fn parse_near(&mut self) -> Result<Expr, QueryError> {
        let left_start = self.peek().map_or(self.src.len(), |l| l.start);
        let left = self.parse_primary()?;
        let Some(&Lexeme {
            tok: Tok::Near { distance, ordered },
            ..
        }) = self.peek()
        else {
            return Ok(left);
        };
        self.pos += 1;
        let right_start = self.peek().map_or(self.src.len(), |l| l.start);
        let right = self.parse_primary()?;
        if let Some(l) = self.peek().filter(|l| matches!(l.tok, Tok::Near { .. })) {
            return Err(self.err_at(
                l.start,
                "NEAR cannot be chained: combine with AND, e.g. (a NEAR/3 b) AND (b NEAR/3 c)",
                "NEAR ne s'enchaîne pas : combinez avec AND, par exemple (a NEAR/3 b) AND (b NEAR/3 c)",
            ));
        }
        let name = format!("NEAR/{distance}{}", if ordered { "f" } else { "" });
        let left = self.near_operand(left, left_start, &name)?;
        let right = self.near_operand(right, right_start, &name)?;
        Ok(Expr::Near(Near {
            left,
            right,
            distance,
            ordered,
        }))
    }

    fn near_operand(&self, e: Expr, start: usize, name: &str) -> Result<Vec<Term>, QueryError> {
        let bad = || {
            self.err_at(
                start,
                format!("{name} operands must be a word, phrase or an OR-group of them like (a OR b)"),
                format!("{name} relie des mots, des expressions ou des groupes OR comme (a OR b)"),
            )
        };
        match e {
            Expr::Term(t) => Ok(vec![t]),
            Expr::Or(cs) => cs
                .into_iter()
                .map(|c| {
                    if let Expr::Term(t) = c {
                        Ok(t)
                    } else {
                        Err(bad())
                    }
                })
                .collect(),
            _ => Err(bad()),
        }
    }

    /// Error for a missing term at the current position.
    fn missing_term(&self) -> QueryError {
        let prev = self.pos.checked_sub(1).and_then(|i| self.lx.get(i));
        let cur = self.peek();
        if let Some(p) = prev {
            if let Some(op) = op_name(&p.tok) {
                return self.err_at(p.start, format!("expected a term after {op}"), format!("il manque un terme après {op}"));
            }
            if p.tok == Tok::LParen && cur.is_some_and(|c| c.tok == Tok::RParen) {
                return self.err_at(p.start, EMPTY_PARENS.0, EMPTY_PARENS.1);
            }
        }
        match cur {
            Some(c) => match (&c.tok, op_name(&c.tok)) {
                (Tok::RParen, _) => self.err_at(c.start, UNMATCHED_CLOSE.0, UNMATCHED_CLOSE.1),
                (_, Some(op)) => {
                    self.err_at(c.start, format!("expected a term before {op}"), format!("il manque un terme avant {op}"))
                }
                _ => self.err_at(c.start, MISSING_TERM.0, MISSING_TERM.1),
            },
            None => self.err_at(self.src.len(), MISSING_TERM.0, MISSING_TERM.1),
        }
    }

    fn parse_primary(&mut self) -> Result<Expr, QueryError> {
        let Some(l) = self.peek().cloned() else {
            return Err(self.missing_term());
        };
        match l.tok {
            Tok::LParen => {
                self.enter(l.start)?;
                self.pos += 1;
                if self.peek().is_some_and(|n| n.tok == Tok::RParen) {
                    return Err(self.err_at(l.start, EMPTY_PARENS.0, EMPTY_PARENS.1));
                }
                let inner = self.parse_or()?;
                match self.peek() {
                    Some(n) if n.tok == Tok::RParen => self.pos += 1,
                    Some(n) => return Err(self.err_at(n.start, MISSING_CLOSE.0, MISSING_CLOSE.1)),
                    None => return Err(self.err_at(self.src.len(), MISSING_CLOSE.0, MISSING_CLOSE.1)),
                }
                self.depth -= 1;
                Ok(inner)
            }
            Tok::Word(w) => {
                self.pos += 1;
                let term = self.word_term(w, l.start)?;
                Ok(self.with_handle_forms(term))
            }
            Tok::Phrase(content) => {
                self.pos += 1;
                self.phrase_term(content, l.start, l.end).map(Expr::Term)
            }
            Tok::TextField(field) => self.text_field(field, &l),
            Tok::RawField(field, value) => {
                self.pos += 1;
                self.check_not_nested(field.name(), l.start)?;
                let value_col = l.start + field.name().len() + 1;
                raw_filter(field, value)
                    .map(Expr::Filter)
                    .map_err(|(en, fr)| self.err_at(value_col, en, fr))
            }
            _ => Err(self.missing_term()),
        }
    }

    /// A field inside another field's group (`title:(author:x)`) is an error.
    fn check_not_nested(&self, field: &str, start: usize) -> Result<(), QueryError> {
        match self.scope {
            Some((outer, _)) => {
                Err(self.err_at(
                    start,
                    format!("{field}: cannot be used inside {}:(…)", outer.name()),
                    format!("{field}: ne peut pas être utilisé dans {}:(…)", outer.name()),
                ))
            }
            None => Ok(()),
        }
    }

    fn text_field(&mut self, field: Field, l: &Lexeme<'a>) -> Result<Expr, QueryError> {
        self.check_not_nested(field.name(), l.start)?;
        self.pos += 1;
        let Some(next) = self.peek().cloned().filter(|n| n.start == l.end) else {
            let (en, fr) = value_after(field);
            return Err(self.err_at(l.start, en, fr));
        };
        self.scope = Some((field, l.start));
        let result = match next.tok {
            Tok::LParen => self.parse_primary(),
            Tok::Word(_) | Tok::Phrase(_) => self.parse_primary(),
            _ => {
                let (en, fr) = value_after(field);
                Err(self.err_at(l.start, en, fr))
            }
        };
        self.scope = None;
        result
    }

    fn current_scope(&self) -> Scope {
        match self.scope {
            Some((Field::Title, _)) => Scope::Title,
            Some((Field::Text, _)) => Scope::Text,
            Some((Field::Author, _)) => Scope::Author,
            _ => Scope::TitleOrText,
        }
    }

    fn word_term(&self, word: &str, start: usize) -> Result<Term, QueryError> {
        if word.chars().all(|c| c == '*') {
            return Err(self.err_at(
                start,
                "'*' alone would match everything: put at least 2 letters before it, e.g. rembours*",
                "'*' seul trouverait tout : mettez au moins 2 lettres devant, par exemple rembours*",
            ));
        }
        let atoms = self.word_atoms(word, start)?;
        Ok(Term {
            scope: self.current_scope(),
            atoms,
            written: word.to_owned(),
            column: column(self.src, start),
        })
    }

    /// A bare word with underscores (`sncf_direct`) is also the handle and the
    /// hashtag it spells (`@SNCF_Direct`, `#sncf_direct`): the tokenizer reads
    /// it as the words `sncf direct`, which a handle, one token, never holds.
    fn with_handle_forms(&self, term: Term) -> Expr {
        let body = term.written.strip_suffix('*').unwrap_or(&term.written);
        let spelled = body.contains('_')
            && !body.starts_with(['_', '#', '@'])
            && body.chars().all(|c| c == '_' || c.is_alphanumeric());
        let handle = if spelled { tokenize(&format!("@{body}")) } else { Vec::new() };
        match handle.as_slice() {
            [t] if t.kind == TokenKind::Mention => {
                let prefix = term.written.ends_with('*');
                let form = |kind| {
                    Expr::Term(Term {
                        atoms: vec![Atom { kind, text: t.text.clone(), prefix }],
                        ..term.clone()
                    })
                };
                let words = Expr::Term(term.clone());
                Expr::Or(vec![words, form(TokenKind::Mention), form(TokenKind::Hashtag)])
            }
            _ => Expr::Term(term),
        }
    }

    /// Atoms of one whitespace-free word (possibly ending in `*`).
    fn word_atoms(&self, word: &str, start: usize) -> Result<Vec<Atom>, QueryError> {
        let (body, prefix) = match word.strip_suffix('*') {
            Some(b) => (b, true),
            None => (word, false),
        };
        if let Some(i) = body.find('*') {
            return Err(self.err_at(
                start + i,
                "'*' is only allowed at the end of a word, e.g. rembours*",
                "'*' n'est permis qu'à la fin d'un mot, par exemple rembours*",
            ));
        }
        let toks = tokenize(body);
        if toks.is_empty() {
            return Err(self.err_at(
                start,
                format!("'{word}' has no letters or digits to search for"),
                format!("'{word}' ne contient ni lettre ni chiffre à chercher"),
            ));
        }
        // `c++`, `C+`, `c#`: the symbols are not searched, and what is left,
        // one letter, would match "c'est" and "vitamine C" everywhere.
        if let [t] = toks.as_slice()
            && t.text.chars().count() == 1
            && body.chars().any(|c| !c.is_alphanumeric() && !matches!(c, '\'' | '’' | '-' | '.' | '_'))
        {
            return Err(self.err_at(
                start,
                format!(
                    "'{word}' would be searched as the single letter '{}': symbols such as + and # are not \
                     searched; write the name as mentions spell it in words",
                    t.text
                ),
                format!(
                    "'{word}' serait cherché comme la seule lettre '{}' : les symboles comme + et # ne sont pas \
                     cherchés ; écrivez le nom comme les mentions l'écrivent en toutes lettres",
                    t.text
                ),
            ));
        }
        let mut atoms: Vec<Atom> = toks
            .into_iter()
            .map(|t| Atom {
                kind: t.kind,
                text: t.text,
                prefix: false,
            })
            .collect();
        if prefix {
            let ends_in_letter = body.chars().last().is_some_and(char::is_alphanumeric);
            let long_enough = atoms.last().is_some_and(|a| a.text.chars().count() >= 2);
            if !ends_in_letter || !long_enough {
                return Err(self.err_at(
                    start,
                    format!("a prefix needs at least 2 letters right before '*' (in '{word}')"),
                    format!("un préfixe demande au moins 2 lettres juste avant '*' (dans '{word}')"),
                ));
            }
            if let Some(last) = atoms.last_mut() {
                last.prefix = true;
            }
        }
        Ok(atoms)
    }

    fn phrase_term(&self, content: &str, start: usize, end: usize) -> Result<Term, QueryError> {
        let content_start = start + self.src[start..].chars().next().map_or(1, char::len_utf8);
        let mut atoms = Vec::new();
        let mut offset = 0;
        for part in content.split_whitespace() {
            let rel = content[offset..].find(part).map_or(offset, |i| offset + i);
            offset = rel + part.len();
            let part_start = content_start + rel;
            if part.chars().all(|c| c == '*') {
                return Err(self.err_at(
                    part_start,
                    "'*' alone is not allowed in a phrase",
                    "'*' seul n'est pas permis dans une expression",
                ));
            }
            // Punctuation-only parts (e.g. " - ") are separators, like in documents.
            if !part.contains('*') && tokenize(part).is_empty() {
                continue;
            }
            atoms.extend(self.word_atoms(part, part_start)?);
        }
        if atoms.is_empty() {
            let (en, fr) = if content.trim().is_empty() {
                ("empty phrase", "expression vide")
            } else {
                ("phrase has no letters or digits to search for", "l'expression ne contient ni lettre ni chiffre à chercher")
            };
            return Err(self.err_at(start, en, fr));
        }
        Ok(Term {
            scope: self.current_scope(),
            atoms,
            written: self.src[start..end].to_owned(),
            column: column(self.src, start),
        })
    }
}

const UNMATCHED_CLOSE: (&str, &str) =
    ("unexpected ')' (no matching '(')", "')' inattendue (aucune '(' ne lui correspond)");
const EMPTY_PARENS: (&str, &str) = ("empty parentheses", "parenthèses vides");
const MISSING_TERM: (&str, &str) = ("expected a term", "il manque un terme");
const MISSING_CLOSE: (&str, &str) = ("expected ')'", "il manque une ')'");

/// The source kinds a mention can have (`vigie_model::SourceKind`'s names;
/// a test of the pipeline checks they agree): `source:` takes one of them.
pub const SOURCE_KINDS: [&str; 17] = [
    "news", "blog", "forum", "review", "twitter", "facebook", "instagram", "linkedin", "tiktok", "mastodon",
    "bluesky", "reddit", "youtube", "hackernews", "rss", "web", "other",
];

/// The error for a field written without its value.
fn value_after(field: Field) -> (String, String) {
    (
        format!("expected a value after '{}:'", field.name()),
        format!("il manque une valeur après '{}:'", field.name()),
    )
}

/// Build an And/Or, flattening nested nodes of the same kind.
fn flatten(items: Vec<Expr>, and: bool) -> Expr {
    if items.len() == 1 {
        if let Some(only) = items.into_iter().next() {
            return only;
        }
        return Expr::And(Vec::new());
    }
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        match it {
            Expr::And(cs) if and => out.extend(cs),
            Expr::Or(cs) if !and => out.extend(cs),
            other => out.push(other),
        }
    }
    if and { Expr::And(out) } else { Expr::Or(out) }
}

/// Validate and normalize a metadata filter value.
fn raw_filter(field: Field, value: &str) -> Result<Filter, (String, String)> {
    let v = value.trim().to_lowercase();
    if v.is_empty() {
        return Err(value_after(field));
    }
    match field {
        Field::Site => {
            let host = normalize_host(&v);
            let ok = !host.is_empty()
                && !host.starts_with('.')
                && !host.contains("..")
                && host
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
            if ok {
                Ok(Filter::Site(host))
            } else {
                Err((
                    format!("'{value}' is not a domain name (site: expects e.g. lemonde.fr)"),
                    format!("'{value}' n'est pas un nom de domaine (site: attend par exemple lemonde.fr)"),
                ))
            }
        }
        Field::Url => Ok(Filter::Url(v)),
        Field::Lang => {
            let v = v.replace('_', "-");
            let mut parts = v.split('-');
            let primary_ok = parts.next().is_some_and(|p| {
                (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_lowercase())
            });
            let rest_ok = parts.all(|p| {
                (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric())
            });
            if primary_ok && rest_ok {
                Ok(Filter::Lang(v))
            } else {
                Err((
                    format!("lang: expects a language code like fr or en, not '{value}'"),
                    format!("lang: attend un code de langue comme fr ou en, pas '{value}'"),
                ))
            }
        }
        Field::Source => {
            if SOURCE_KINDS.contains(&v.as_str()) {
                Ok(Filter::Source(v))
            } else if v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                Err((
                    format!("source: unknown source kind '{value}' (known: {})", SOURCE_KINDS.join(", ")),
                    format!("source: type de source inconnu '{value}' (connus : {})", SOURCE_KINDS.join(", ")),
                ))
            } else {
                Err((
                    format!("source: expects a source kind like twitter, forum or news, not '{value}'"),
                    format!("source: attend un type de source comme twitter, forum ou news, pas '{value}'"),
                ))
            }
        }
        Field::Title | Field::Text | Field::Author => {
            Err((
                format!("{}: is not a metadata field", field.name()),
                format!("{}: n'est pas un champ de métadonnées", field.name()),
            ))
        }
    }
}

/// Host of a domain-or-URL, lower-case, without scheme, user, port, path, `www.` or final dot.
pub(crate) fn normalize_host(v: &str) -> String {
    let v = v.trim().to_lowercase();
    let v = v.split_once("://").map_or(v.as_str(), |(_, rest)| rest);
    let v = v.split(['/', '?', '#']).next().unwrap_or("");
    let v = v.rsplit_once('@').map_or(v, |(_, h)| h);
    let v = v.split(':').next().unwrap_or("");
    let v = v.trim_end_matches('.');
    v.strip_prefix("www.").unwrap_or(v).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(q: &str) -> Expr {
        match parse_expr(q) {
            Ok(e) => e,
            Err(e) => panic!("{q}: {e}"),
        }
    }

    fn err(q: &str) -> String {
        match parse_expr(q) {
            Ok(e) => panic!("{q} parsed as {e:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn shape(e: &Expr) -> String {
        match e {
            Expr::Term(t) => {
                let s = t
                    .atoms
                    .iter()
                    .map(|a| format!("{}{}", a.text, if a.prefix { "*" } else { "" }));
                let s = s.collect::<Vec<_>>().join(" ");
                match t.scope {
                    Scope::TitleOrText => s,
                    other => format!("{other:?}:{s}"),
                }
            }
            Expr::Filter(f) => format!("{f:?}"),
            Expr::And(cs) => format!(
                "(AND {})",
                cs.iter().map(shape).collect::<Vec<_>>().join(" ")
            ),
            Expr::Or(cs) => format!(
                "(OR {})",
                cs.iter().map(shape).collect::<Vec<_>>().join(" ")
            ),
            Expr::Not(c) => format!("(NOT {})", shape(c)),
            Expr::Near(n) => format!("(NEAR{} {} {})", n.distance, n.left.len(), n.right.len()),
        }
    }

    #[test]
    fn precedence() {
        assert_eq!(shape(&ok("a OR b c")), "(OR a (AND b c))");
        assert_eq!(shape(&ok("a b OR c")), "(OR (AND a b) c)");
        assert_eq!(shape(&ok("a NOT b OR c")), "(OR (AND a (NOT b)) c)");
        assert_eq!(shape(&ok("a -(b OR c)")), "(AND a (NOT (OR b c)))");
        assert_eq!(shape(&ok("(a OR b) NEAR/3 c")), "(NEAR3 2 1)");
        assert_eq!(
            shape(&ok("title:(Déroute OR rembours*) lang:fr")),
            "(AND (OR Title:deroute Title:rembours*) Lang(\"fr\"))"
        );
        assert_eq!(shape(&ok("l'avion")), "l avion");
    }

    #[test]
    fn errors() {
        assert_eq!(err("(sncf OR ouigo"), "expected ')' at column 15");
        assert_eq!(err("sncf AND"), "expected a term after AND at column 6");
        assert_eq!(
            err("a*"),
            "a prefix needs at least 2 letters right before '*' (in 'a*') at column 1"
        );
        assert_eq!(err("NOT x"), MATCHES_EVERYTHING);
        assert_eq!(err("a AND NOT a"), MATCHES_NOTHING);
        assert!(err(&"(".repeat(100)).starts_with("too deeply nested"));
        for symbol in ["c++", "\"C+\"", "canal OR c#", "\"le C+ de\""] {
            assert!(err(symbol).contains("would be searched as the single letter 'c'"), "{symbol}: {}", err(symbol));
        }
        // Letters kept, or one letter as written: searched as they are.
        for fine in ["canal+", "c", "\"vitamine C\"", "l'Oréal", "a.b", "e-mail"] {
            ok(fine);
        }
    }

    #[test]
    fn host_normalization() {
        assert_eq!(
            normalize_host("https://WWW.LeMonde.fr:443/a/b?c"),
            "lemonde.fr"
        );
        assert_eq!(normalize_host("m.lemonde.fr."), "m.lemonde.fr");
    }
}

//! Many queries compiled into one matcher.
//!
//! Construction interns every atom and filter of every query into global dictionaries and
//! picks, per query, a small *trigger set*: leaves such that the query can only be true when
//! one of them is present (see [`triggers`]). Matching a document then:
//! 1. tokenizes title, text and author once, looking each token up in the exact-text map and
//!    each of its prefixes (2 chars up to the longest prefix pattern) in the prefix map;
//! 2. evaluates the metadata filters through maps (site suffixes, lang, source) and one
//!    Aho-Corasick automaton (url substrings);
//! 3. gathers the queries whose triggers were seen, and evaluates only those trees.
//!
//! Correctness of step 3 rests on the parse-time guarantee that no accepted query is true
//! for a document containing none of its leaves.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use aho_corasick::{AhoCorasick, MatchKind};

use crate::ast::{Atom, Filter};
use crate::matcher::{
    DocView, Node, Occ, Program, doc_hosts, filter_holds, for_each_doc_token, normalize_lang,
};
use crate::tokenize::TokenKind;
use crate::{Document, Query};

/// FxHash (as in rustc): a fast non-cryptographic hasher for short keys. The keys are the
/// queries' own terms, so there is no untrusted-key flooding concern.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A leaf of a trigger set (local numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trig {
    Atom(u32),
    Filter(u32),
}

/// Many queries compiled into one matcher (see the module docs).
#[derive(Debug, Clone)]
pub struct WatchSet {
    /// (id, program with global numbering), sorted by id.
    programs: Vec<(i64, Program)>,
    /// Per program: necessary condition in conjunctive form, global numbering: every group
    /// must have one leaf present, else the query cannot match (checked before evaluating).
    required: Vec<Vec<Vec<Trig>>>,
    /// Bit set over the first two bytes of prefix patterns: a token whose first two bytes are
    /// not in it needs no prefix look-up.
    prefix_gate: Vec<u64>,
    /// Global atoms.
    atoms: Vec<Atom>,
    /// Exact token text → global atom ids.
    exact: FxMap<Box<str>, Vec<u32>>,
    /// Prefix text → global atom ids of prefix atoms.
    prefix: FxMap<Box<str>, Vec<u32>>,
    /// Longest prefix pattern, in chars.
    max_prefix_chars: usize,
    /// Global filters.
    filters: Vec<Filter>,
    site: FxMap<Box<str>, Vec<u32>>,
    lang: FxMap<Box<str>, Vec<u32>>,
    source: FxMap<Box<str>, Vec<u32>>,
    /// (automaton over url patterns, filter id per pattern); None if no url filter.
    url: Option<(Option<AhoCorasick>, Vec<u32>)>,
    /// Global atom id → queries it triggers.
    atom_triggers: Vec<Vec<u32>>,
    /// Global filter id → queries it triggers.
    filter_triggers: Vec<Vec<u32>>,
}

impl WatchSet {
    /// Compile `queries` (id, query). Duplicate ids are kept (each reported on its own).
    pub fn new(queries: impl IntoIterator<Item = (i64, Query)>) -> Self {
        let mut list: Vec<(i64, Query)> = queries.into_iter().collect();
        list.sort_by_key(|(id, _)| *id);
        let mut ws = WatchSet {
            programs: Vec::with_capacity(list.len()),
            required: Vec::with_capacity(list.len()),
            prefix_gate: vec![0; 1024],
            atoms: Vec::new(),
            exact: FxMap::default(),
            prefix: FxMap::default(),
            max_prefix_chars: 0,
            filters: Vec::new(),
            site: FxMap::default(),
            lang: FxMap::default(),
            source: FxMap::default(),
            url: None,
            atom_triggers: Vec::new(),
            filter_triggers: Vec::new(),
        };
        let mut atom_ids: HashMap<Atom, u32> = HashMap::new();
        let mut filter_ids: HashMap<Filter, u32> = HashMap::new();
        for (qi, (id, q)) in list.into_iter().enumerate() {
            let local = &q.program;
            let amap: Vec<u32> = local
                .atoms
                .iter()
                .map(|a| ws.intern_atom(&mut atom_ids, a))
                .collect();
            let fmap: Vec<u32> = local
                .filters
                .iter()
                .map(|f| ws.intern_filter(&mut filter_ids, f))
                .collect();
            let trig = triggers(local, &local.root).unwrap_or_else(|| all_leaves(local));
            for t in trig {
                let (list, gid) = match t {
                    Trig::Atom(a) => (&mut ws.atom_triggers, amap.get(a as usize)),
                    Trig::Filter(f) => (&mut ws.filter_triggers, fmap.get(f as usize)),
                };
                if let Some(v) = gid.and_then(|&g| list.get_mut(g as usize))
                    && v.last() != Some(&(qi as u32))
                {
                    v.push(qi as u32);
                }
            }
            let mut p = local.clone();
            for t in &mut p.terms {
                for a in &mut t.atoms {
                    *a = amap.get(*a as usize).copied().unwrap_or(u32::MAX);
                }
            }
            let req = required(local, &local.root)
                .into_iter()
                .map(|g| {
                    g.into_iter()
                        .filter_map(|t| match t {
                            Trig::Atom(a) => amap.get(a as usize).map(|&g| Trig::Atom(g)),
                            Trig::Filter(f) => fmap.get(f as usize).map(|&g| Trig::Filter(g)),
                        })
                        .collect()
                })
                .collect();
            ws.required.push(req);
            remap_filters(&mut p.root, &fmap);
            ws.programs.push((id, p));
        }
        ws.build_url();
        ws
    }

    fn intern_atom(&mut self, ids: &mut HashMap<Atom, u32>, a: &Atom) -> u32 {
        if let Some(&id) = ids.get(a) {
            return id;
        }
        let id = self.atoms.len() as u32;
        ids.insert(a.clone(), id);
        self.atoms.push(a.clone());
        self.atom_triggers.push(Vec::new());
        let map = if a.prefix {
            &mut self.prefix
        } else {
            &mut self.exact
        };
        map.entry(a.text.as_str().into()).or_default().push(id);
        if a.prefix {
            self.max_prefix_chars = self.max_prefix_chars.max(a.text.chars().count());
            let k = gate_key(&a.text);
            if let Some(w) = self.prefix_gate.get_mut(k / 64) {
                *w |= 1 << (k % 64);
            }
        }
        id
    }

    fn intern_filter(&mut self, ids: &mut HashMap<Filter, u32>, f: &Filter) -> u32 {
        if let Some(&id) = ids.get(f) {
            return id;
        }
        let id = self.filters.len() as u32;
        ids.insert(f.clone(), id);
        self.filters.push(f.clone());
        self.filter_triggers.push(Vec::new());
        match f {
            Filter::Site(v) => self.site.entry(v.as_str().into()).or_default().push(id),
            Filter::Lang(v) => self.lang.entry(v.as_str().into()).or_default().push(id),
            Filter::Source(v) => self.source.entry(v.as_str().into()).or_default().push(id),
            Filter::Url(_) => {}
        }
        id
    }

    fn build_url(&mut self) {
        let (pats, ids): (Vec<&str>, Vec<u32>) = self
            .filters
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f {
                Filter::Url(v) => Some((v.as_str(), i as u32)),
                _ => None,
            })
            .unzip();
        if ids.is_empty() {
            return;
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&pats)
            .ok();
        self.url = Some((ac, ids));
    }

    /// Number of queries.
    pub fn len(&self) -> usize {
        self.programs.len()
    }

    /// Whether the set holds no query.
    pub fn is_empty(&self) -> bool {
        self.programs.is_empty()
    }

    /// (id, matched terms) for every query that matches, in id order.
    pub fn match_document(&self, doc: &Document<'_>) -> Vec<(i64, Vec<String>)> {
        if self.programs.is_empty() {
            return Vec::new();
        }
        let mut occ: Vec<(u32, Occ)> = Vec::with_capacity(64);
        let max_prefix = self.max_prefix_chars;
        for_each_doc_token(doc, |field, text, kind, pos| {
            let o = Occ { field, pos };
            if let Some(ids) = self.exact.get(text) {
                for &id in ids {
                    if self.kind_ok(id, kind) {
                        occ.push((id, o));
                    }
                }
            }
            let k = gate_key(text);
            let gated = self
                .prefix_gate
                .get(k / 64)
                .is_some_and(|w| w & (1 << (k % 64)) != 0);
            if gated && max_prefix >= 2 {
                for (n, (i, c)) in text.char_indices().enumerate() {
                    // n = number of chars before index i; prefix text[..i+len(c)] has n+1 chars.
                    let chars = n + 1;
                    if chars > max_prefix {
                        break;
                    }
                    if chars < 2 {
                        continue;
                    }
                    if let Some(ids) = self.prefix.get(&text[..i + c.len_utf8()]) {
                        for &id in ids {
                            if self.kind_ok(id, kind) {
                                occ.push((id, o));
                            }
                        }
                    }
                }
            }
        });
        occ.sort_unstable();
        let true_filters = self.true_filters(doc);

        let mut candidates: Vec<u32> = Vec::new();
        let mut ranges: Vec<(u32, u32, u32)> = Vec::with_capacity(occ.len());
        let mut present = vec![0u64; self.atoms.len() / 64 + 1];
        for (i, &(a, _)) in occ.iter().enumerate() {
            match ranges.last_mut() {
                Some(r) if r.0 == a => r.2 = i as u32 + 1,
                _ => {
                    ranges.push((a, i as u32, i as u32 + 1));
                    if let Some(w) = present.get_mut(a as usize / 64) {
                        *w |= 1 << (a % 64);
                    }
                    if let Some(qs) = self.atom_triggers.get(a as usize) {
                        candidates.extend_from_slice(qs);
                    }
                }
            }
        }
        for &f in &true_filters {
            if let Some(qs) = self.filter_triggers.get(f as usize) {
                candidates.extend_from_slice(qs);
            }
        }
        if candidates.is_empty() {
            return Vec::new();
        }
        candidates.sort_unstable();
        candidates.dedup();

        let occs: Vec<Occ> = occ.iter().map(|&(_, o)| o).collect();
        let leaf_present = |t: &Trig| match *t {
            Trig::Atom(a) => present
                .get(a as usize / 64)
                .is_some_and(|w| w & (1 << (a % 64)) != 0),
            Trig::Filter(f) => true_filters.binary_search(&f).is_ok(),
        };
        let view = GlobalView {
            ranges: &ranges,
            occs: &occs,
            filters: &true_filters,
        };
        let mut out = Vec::new();
        for qi in candidates {
            let possible = self
                .required
                .get(qi as usize)
                .is_none_or(|groups| groups.iter().all(|g| g.iter().any(leaf_present)));
            if !possible {
                continue;
            }
            if let Some((id, p)) = self.programs.get(qi as usize)
                && let Some(terms) = p.run(&view)
            {
                out.push((*id, terms));
            }
        }
        out
    }

    #[inline]
    fn kind_ok(&self, atom: u32, kind: TokenKind) -> bool {
        self.atoms
            .get(atom as usize)
            .is_some_and(|a| a.kind == TokenKind::Word || a.kind == kind)
    }

    /// Ids of the filters that hold for `doc`, sorted.
    fn true_filters(&self, doc: &Document<'_>) -> Vec<u32> {
        let mut out = Vec::new();
        if self.filters.is_empty() {
            return out;
        }
        if !self.site.is_empty() {
            for host in doc_hosts(doc) {
                let mut rest = host.as_str();
                loop {
                    if let Some(ids) = self.site.get(rest) {
                        out.extend_from_slice(ids);
                    }
                    match rest.split_once('.') {
                        Some((_, r)) if !r.is_empty() => rest = r,
                        _ => break,
                    }
                }
            }
        }
        if !self.lang.is_empty()
            && let Some(l) = doc.lang.map(normalize_lang)
        {
            if let Some(ids) = self.lang.get(l.as_str()) {
                out.extend_from_slice(ids);
            }
            if let Some((primary, _)) = l.split_once('-')
                && let Some(ids) = self.lang.get(primary)
            {
                out.extend_from_slice(ids);
            }
        }
        if !self.source.is_empty()
            && let Some(s) = doc.source.map(|s| s.trim().to_lowercase())
            && let Some(ids) = self.source.get(s.as_str())
        {
            out.extend_from_slice(ids);
        }
        if let (Some((ac, ids)), Some(url)) = (&self.url, doc.url) {
            let lower = url.to_lowercase();
            match ac {
                Some(ac) => out.extend(
                    ac.find_overlapping_iter(lower.as_str())
                        .filter_map(|m| ids.get(m.pattern().as_usize()).copied()),
                ),
                None => out.extend(ids.iter().copied().filter(|&id| {
                    self.filters
                        .get(id as usize)
                        .is_some_and(|f| filter_holds(f, doc))
                })),
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The document's atom occurrences, sorted by (atom, field, pos), with an index of the
/// distinct atoms: (atom, start, end) ranges into `occs`.
struct GlobalView<'a> {
    ranges: &'a [(u32, u32, u32)],
    occs: &'a [Occ],
    filters: &'a [u32],
}

impl DocView for GlobalView<'_> {
    #[inline]
    fn occurrences(&self, atom: u32) -> &[Occ] {
        match self.ranges.binary_search_by_key(&atom, |r| r.0) {
            Ok(i) => self
                .ranges
                .get(i)
                .and_then(|&(_, a, b)| self.occs.get(a as usize..b as usize))
                .unwrap_or(&[]),
            Err(_) => &[],
        }
    }
    #[inline]
    fn filter(&self, filter: u32) -> bool {
        self.filters.binary_search(&filter).is_ok()
    }
}

/// Index into the prefix gate: the first two bytes of `text` (a prefix has at least 2 chars,
/// so at least 2 bytes).
#[inline]
fn gate_key(text: &str) -> usize {
    let b = text.as_bytes();
    match (b.first(), b.get(1)) {
        (Some(&x), Some(&y)) => (usize::from(x) << 8 | usize::from(y)) & 0xFFFF,
        _ => 0,
    }
}

/// A necessary condition for `node` in conjunctive form: every returned group must contain a
/// present leaf for `node` to be true. An empty list means "no known condition".
fn required(p: &Program, node: &Node) -> Vec<Vec<Trig>> {
    let term_groups = |t: u32| -> Vec<Vec<Trig>> {
        p.terms.get(t as usize).map_or(Vec::new(), |ct| {
            ct.atoms.iter().map(|&a| vec![Trig::Atom(a)]).collect()
        })
    };
    // One group that any of `terms` being true satisfies: the cheapest atom of each term.
    let any_of = |ts: &[u32]| -> Option<Vec<Trig>> {
        ts.iter()
            .map(|&t| {
                let ct = p.terms.get(t as usize)?;
                ct.atoms
                    .iter()
                    .copied()
                    .map(Trig::Atom)
                    .min_by_key(|&a| trig_cost(p, a))
            })
            .collect()
    };
    match node {
        Node::Term(t) => term_groups(*t),
        Node::Filter(f) => vec![vec![Trig::Filter(*f)]],
        Node::Not(_) => Vec::new(),
        Node::And(cs) => cs.iter().flat_map(|c| required(p, c)).collect(),
        Node::Or(cs) => {
            let mut group = Vec::new();
            for c in cs {
                let groups = required(p, c);
                let Some(best) = groups
                    .into_iter()
                    .min_by_key(|g| g.iter().map(|&t| trig_cost(p, t)).sum::<u32>())
                else {
                    return Vec::new();
                };
                group.extend(best);
            }
            vec![group]
        }
        Node::Near { left, right, .. } => [any_of(left), any_of(right)]
            .into_iter()
            .flatten()
            .collect(),
    }
}

fn remap_filters(n: &mut Node, fmap: &[u32]) {
    match n {
        Node::Filter(f) => *f = fmap.get(*f as usize).copied().unwrap_or(u32::MAX),
        Node::And(cs) | Node::Or(cs) => cs.iter_mut().for_each(|c| remap_filters(c, fmap)),
        Node::Not(c) => remap_filters(c, fmap),
        Node::Term(_) | Node::Near { .. } => {}
    }
}

/// Every atom and filter of a program (always a valid trigger set for an accepted query).
fn all_leaves(p: &Program) -> Vec<Trig> {
    (0..p.atoms.len() as u32)
        .map(Trig::Atom)
        .chain((0..p.filters.len() as u32).map(Trig::Filter))
        .collect()
}

/// Estimated cost of a trigger leaf: how often it is likely to be seen.
fn trig_cost(p: &Program, t: Trig) -> u32 {
    match t {
        Trig::Atom(a) => p.atoms.get(a as usize).map_or(1000, |a| {
            let base = 1000 / (a.text.chars().count() as u32 + 1);
            if a.prefix { base * 4 } else { base }
        }),
        Trig::Filter(f) => match p.filters.get(f as usize) {
            Some(Filter::Site(_)) => 20,
            Some(Filter::Url(_)) => 50,
            Some(Filter::Lang(_) | Filter::Source(_)) | None => 2000,
        },
    }
}

/// A set of leaves of which at least one is present whenever `node` is true; None when no
/// such set is known (e.g. under NOT).
fn triggers(p: &Program, node: &Node) -> Option<Vec<Trig>> {
    let term_trigger = |t: u32| -> Option<Trig> {
        let ct = p.terms.get(t as usize)?;
        ct.atoms
            .iter()
            .copied()
            .map(Trig::Atom)
            .min_by_key(|&a| trig_cost(p, a))
    };
    match node {
        Node::Term(t) => term_trigger(*t).map(|t| vec![t]),
        Node::Filter(f) => Some(vec![Trig::Filter(*f)]),
        Node::Not(_) => None,
        Node::Near { left, right, .. } => {
            let side = |ts: &[u32]| {
                ts.iter()
                    .map(|&t| term_trigger(t))
                    .collect::<Option<Vec<_>>>()
            };
            let cost = |v: &Vec<Trig>| v.iter().map(|&t| trig_cost(p, t)).sum::<u32>();
            match (side(left), side(right)) {
                (Some(l), Some(r)) => Some(if cost(&l) <= cost(&r) { l } else { r }),
                (l, r) => l.or(r),
            }
        }
        Node::And(cs) => cs
            .iter()
            .filter_map(|c| triggers(p, c))
            .min_by_key(|v| v.iter().map(|&t| trig_cost(p, t)).sum::<u32>()),
        Node::Or(cs) => {
            let mut all = Vec::new();
            for c in cs {
                all.extend(triggers(p, c)?);
            }
            Some(all)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn ws(qs: &[&str]) -> WatchSet {
        WatchSet::new(
            qs.iter()
                .enumerate()
                .map(|(i, q)| (i as i64, parse(q).unwrap_or_else(|e| panic!("{q}: {e}")))),
        )
    }

    fn ids(w: &WatchSet, doc: &Document<'_>) -> Vec<i64> {
        w.match_document(doc)
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }

    #[test]
    fn matches_in_id_order_with_prefixes_and_filters() {
        let w = ws(&[
            "sncf",
            "rembours*",
            "site:lemonde.fr",
            "lang:fr sncf",
            "url:/economie/",
            "#sncf",
        ]);
        assert_eq!(w.len(), 6);
        let doc = Document {
            text: "#SNCF remboursement",
            site: Some("m.lemonde.fr"),
            url: Some("https://m.lemonde.fr/ECONOMIE/x"),
            lang: Some("fr-FR"),
            ..Document::default()
        };
        assert_eq!(ids(&w, &doc), [0, 1, 2, 3, 4, 5]);
        assert_eq!(
            ids(
                &w,
                &Document {
                    text: "rien",
                    site: Some("notlemonde.fr"),
                    ..Document::default()
                }
            ),
            Vec::<i64>::new()
        );
        assert!(WatchSet::new([]).is_empty());
    }

    #[test]
    fn required_groups_skip_impossible_candidates() {
        let w = ws(&["\"toujours pas reçu\" AND (sncf OR ouigo)"]);
        let Some(groups) = w.required.first() else {
            panic!("no program")
        };
        // three phrase atoms + one group for the OR
        assert_eq!(groups.len(), 4);
        assert_eq!(
            ids(
                &w,
                &Document {
                    text: "toujours pas reçu, merci Ouigo",
                    ..Document::default()
                }
            ),
            [0]
        );
        assert_eq!(
            ids(
                &w,
                &Document {
                    text: "toujours pas reçu",
                    ..Document::default()
                }
            ),
            Vec::<i64>::new()
        );
    }

    #[test]
    fn fx_hasher_distinguishes_short_keys() {
        let h = |s: &str| {
            let mut x = FxHasher::default();
            x.write(s.as_bytes());
            x.finish()
        };
        assert_ne!(h("ab"), h("ba"));
        assert_ne!(h("sncf"), h("sncf1"));
    }
}

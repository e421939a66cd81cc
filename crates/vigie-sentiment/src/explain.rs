//! Turning feature weights into a short list of reasons.

use crate::Contribution;
use crate::features::{Feats, UnitKind, dense_label};
use crate::linear::Quantised;
use crate::review::Review;

/// Most reasons shown for one verdict.
pub(crate) const MAX_REASONS: usize = 6;

/// The reason that stands for what the listed ones leave out: the other
/// words and features, and the model's baseline.
pub const REST_LABEL: &str = "everything else";

/// Smallest share of the verdict left out of the listed reasons that is
/// shown as [`REST_LABEL`].
const MIN_REST: f32 = 0.1;

/// Adds to `reasons` (largest |weight| first) one for what they leave out of
/// `total`, the explained quantity of the whole verdict, when it matters:
/// many small words, or the baseline, can outweigh the largest reasons (a
/// press release read negative while each of its top words leans positive).
/// It comes on top of the [`MAX_REASONS`] reasons.
pub(crate) fn with_rest(reasons: &mut Vec<Contribution>, total: f32) {
    let listed: f32 = reasons.iter().map(|c| c.weight).sum();
    let rest = total - listed;
    if !rest.is_finite() || rest.abs() < MIN_REST {
        return;
    }
    reasons.push(Contribution { feature: REST_LABEL.to_string(), weight: rest });
    reasons.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
}
const MAX_LABEL_CHARS: usize = 60;

/// Contributions of `f`'s units along `dir` (a weight per class: the
/// explained quantity is `Σ_c dir[c] · logit_c / temperature`), the largest
/// |weight| first, at most [`MAX_REASONS`].
pub(crate) fn explain(
    text: &str,
    f: &Feats,
    w: &Quantised,
    review: Option<&Review>,
    dir: &[f32],
    temperature: f32,
) -> Vec<Contribution> {
    let k = w.k;
    let mut acc = vec![0.0f32; f.units.len()];
    // The review scorer adds `a · v_id / 2` to the positive logit and takes it
    // from the negative one, for every occurrence of a hashed feature.
    if let (Some(r), 3) = (review, dir.len()) {
        let a = 0.5 * r.mix_weight(&f.dense) * (dir[2] - dir[0]);
        for (id, u) in f.ids.iter().zip(&f.id_units) {
            if let Some(x) = acc.get_mut(*u as usize) {
                *x += a * r.weight(*id);
            }
        }
    }
    for (id, u) in f.ids.iter().zip(&f.id_units) {
        let mut s = 0.0;
        for (c, d) in dir.iter().enumerate().take(k) {
            if *d != 0.0 {
                s += d * w.hashed(*id, c);
            }
        }
        if let Some(a) = acc.get_mut(*u as usize) {
            *a += s * f.value;
        }
    }
    for &(j, u, share) in &f.dense_attr {
        let mut s = 0.0;
        for (c, d) in dir.iter().enumerate().take(k) {
            s += d * w.dense[j as usize * k + c];
        }
        if let Some(a) = acc.get_mut(u as usize) {
            *a += s * share;
        }
    }
    // Merge units with the same key (a word pair and a negated word often
    // cover the same span).
    let mut items: Vec<(UnitKind, u32, u32, f32)> = f
        .units
        .iter()
        .zip(&acc)
        .map(|(u, a)| (u.kind, u.start, u.end, *a / temperature))
        .collect();
    items.sort_by_key(|a| (a.0, a.1, a.2));
    let mut merged: Vec<(UnitKind, u32, u32, f32)> = Vec::with_capacity(items.len());
    for it in items {
        match merged.last_mut() {
            Some(m) if (m.0, m.1, m.2) == (it.0, it.1, it.2) => m.3 += it.3,
            _ => merged.push(it),
        }
    }
    merged.retain(|m| m.3.abs() >= 1e-3 && m.3.is_finite());
    merged.sort_by(|a, b| b.3.abs().total_cmp(&a.3.abs()));
    let mut out: Vec<Contribution> = Vec::with_capacity(MAX_REASONS);
    for (kind, start, end, weight) in merged {
        if out.len() == MAX_REASONS {
            break;
        }
        let feature = match kind {
            UnitKind::Text | UnitKind::Pattern => span_label(text, start, end),
            UnitKind::Lexicon => format!("lexicon: {}", span_label(text, start, end)),
            UnitKind::Dense(i) => match dense_label(i as usize) {
                Some(l) => l.to_string(),
                None => continue,
            },
        };
        if feature.is_empty() {
            continue;
        }
        // Two units can print the same (a hashtag word and its unigram):
        // keep one line per label.
        if let Some(o) = out.iter_mut().find(|o| o.feature == feature) {
            o.weight += weight;
            continue;
        }
        out.push(Contribution { feature, weight });
    }
    out
}

/// The author's text of a span: lower-cased, whitespace collapsed, bounded;
/// links and handles shown as placeholders.
fn span_label(text: &str, start: u32, end: u32) -> String {
    let Some(s) = text.get(start as usize..end as usize) else {
        return String::new();
    };
    let mut out = String::new();
    let mut n = 0;
    for (wi, word) in s.split_whitespace().enumerate() {
        if wi > 0 {
            out.push(' ');
        }
        let lw = word.to_lowercase();
        if lw.starts_with("http") || lw.starts_with("www.") {
            out.push_str("URL");
            continue;
        }
        if word.starts_with('@') && word.len() > 1 {
            out.push_str("@user");
            continue;
        }
        for c in lw.chars() {
            if n >= MAX_LABEL_CHARS {
                out.push('…');
                return out;
            }
            if !c.is_control() {
                out.push(c);
                n += 1;
            }
        }
    }
    out
}

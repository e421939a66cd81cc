//! How deep the elements of hostile markup nest, found by a linear scan.
//!
//! html5ever's tree builder slows down quadratically with nesting depth, so
//! markup nested deeper than a limit must not reach it. The scan mirrors the
//! tree builder closely enough that markup cannot pass for shallow while the
//! builder nests it deep: an end tag closes the nearest open element of its
//! name and those opened after it; an end tag with no open element of its
//! name is ignored (`</b>` closes nothing); `/>` closes only inside SVG and
//! MathML (`<div/>` opens a div, as in HTML); comments and the content of
//! `script`, `style` and the like are skipped.

use std::collections::HashMap;

/// Elements that never have content.
const VOID: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input",
    "keygen", "link", "meta", "param", "source", "track", "wbr",
];
/// Elements whose content is text, not markup, up to their end tag.
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
];
/// Elements closed implicitly by the next of their kind or by their parent's
/// end: not counted (lists and tables nest through their `ul`/`table`).
const AUTO_CLOSED: &[&str] = &[
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot", "rb",
    "rp", "rt", "rtc",
];
/// Elements that a new one of the same name closes instead of nesting in.
const NOT_SELF_NESTING: &[&str] = &["a", "nobr", "button", "form"];

/// Whether the elements of `html` nest deeper than `limit`, by a linear scan
/// of the tags that mirrors the tree builder closely enough: an end tag closes
/// the nearest open element of its name and those opened after it; an end tag
/// with no open element of its name is ignored; comments and the content of
/// `script`, `style` and the like are skipped; a self-closing tag closes only
/// inside SVG and MathML, as in HTML.
pub fn nesting_exceeds(html: &str, limit: usize) -> bool {
    let b = html.as_bytes();
    let mut stack: Vec<String> = Vec::new();
    let mut open: HashMap<String, usize> = HashMap::new();
    let mut i = 0;
    while let Some(offset) = b[i..].iter().position(|c| *c == b'<') {
        let lt = i + offset;
        let rest = &b[lt + 1..];
        if rest.starts_with(b"!--") {
            i = find(&b[lt + 4..], b"-->").map_or(b.len(), |e| lt + 4 + e + 3);
            continue;
        }
        if matches!(rest.first(), Some(b'!' | b'?')) {
            i = b[lt..]
                .iter()
                .position(|c| *c == b'>')
                .map_or(b.len(), |e| lt + e + 1);
            continue;
        }
        let closing = rest.first() == Some(&b'/');
        let name_start = lt + 1 + usize::from(closing);
        if !b.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            i = lt + 1;
            continue;
        }
        let name_end = b[name_start..]
            .iter()
            .position(|c| c.is_ascii_whitespace() || matches!(c, b'/' | b'>'))
            .map_or(b.len(), |e| name_start + e);
        let name = String::from_utf8_lossy(&b[name_start..name_end.min(name_start + 32)])
            .to_ascii_lowercase();
        let (tag_end, self_closing) = scan_tag_end(b, name_end);
        i = tag_end;
        if closing {
            if open.get(&name).is_some_and(|n| *n > 0) {
                while let Some(top) = stack.pop() {
                    if let Some(n) = open.get_mut(&top) {
                        *n = n.saturating_sub(1);
                    }
                    if top == name {
                        break;
                    }
                }
            }
            continue;
        }
        if VOID.contains(&name.as_str()) || AUTO_CLOSED.contains(&name.as_str()) {
            continue;
        }
        let foreign = ["svg", "math"]
            .iter()
            .any(|f| open.get(*f).is_some_and(|n| *n > 0));
        if self_closing && foreign {
            continue;
        }
        if RAW_TEXT.contains(&name.as_str()) {
            let end_tag = format!("</{name}");
            i = b[i..]
                .windows(end_tag.len())
                .position(|w| w.eq_ignore_ascii_case(end_tag.as_bytes()))
                .map_or(b.len(), |e| i + e);
            continue;
        }
        if name == "plaintext" {
            break;
        }
        if NOT_SELF_NESTING.contains(&name.as_str()) && open.get(&name).is_some_and(|n| *n > 0) {
            continue;
        }
        *open.entry(name.clone()).or_default() += 1;
        stack.push(name);
        if stack.len() > limit {
            return true;
        }
    }
    false
}

/// The index after a tag's `>` (quoted attribute values may hold `>`), and
/// whether it ends with `/>`.
fn scan_tag_end(b: &[u8], from: usize) -> (usize, bool) {
    let mut j = from;
    let mut after_eq = false;
    let mut slash = false;
    while j < b.len() {
        match b[j] {
            b'>' => return (j + 1, slash),
            q @ (b'"' | b'\'') if after_eq => {
                j = b[j + 1..]
                    .iter()
                    .position(|c| *c == q)
                    .map_or(b.len(), |e| j + 1 + e + 1);
                after_eq = false;
                slash = false;
                continue;
            }
            b'=' => {
                after_eq = true;
                slash = false;
            }
            c if c.is_ascii_whitespace() => {}
            b'/' => {
                slash = true;
                after_eq = false;
            }
            _ => {
                after_eq = false;
                slash = false;
            }
        }
        j += 1;
    }
    (b.len(), false)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_scan_follows_the_tree_builder() {
        assert!(!nesting_exceeds(&"<div>x</div>".repeat(10_000), 512));
        assert!(nesting_exceeds(&"<div>".repeat(600), 512));
        assert!(
            nesting_exceeds(&"<section/>".repeat(600), 512),
            "`/>` does not close an HTML element"
        );
        assert!(!nesting_exceeds(
            &format!("<svg>{}</svg>", "<path/>".repeat(2000)),
            512
        ));
        // Unclosed spans closed by their parent's end tag.
        assert!(!nesting_exceeds(
            &"<div><span>a<span>b</div>".repeat(2000),
            512
        ));
        // Implicitly closed paragraphs and list items; repeated unclosed links.
        assert!(!nesting_exceeds(&"<p>a<li>b<a href=x>c".repeat(2000), 512));
        // Tags inside scripts, comments and attribute values are not tags.
        let hidden = format!(
            "<script>{}</script><!-- {} --><a title=\"{}\">x</a>",
            "<div>".repeat(1000),
            "<div>".repeat(1000),
            "<div>".repeat(1000)
        );
        assert!(!nesting_exceeds(&hidden, 512));
        // An unterminated quote or comment ends the scan without a panic.
        assert!(!nesting_exceeds("<div title=\"x>", 512));
        assert!(!nesting_exceeds("<!-- <div>", 512));
        assert!(!nesting_exceeds("<", 512));
        assert!(!nesting_exceeds("</", 512));
    }

    #[test]
    fn markup_that_looks_shallow_but_nests_is_seen() {
        assert!(nesting_exceeds(&"<div/>".repeat(600), 512));
        assert!(
            nesting_exceeds(&"<div></b>".repeat(600), 512),
            "an end tag of nothing open closes nothing"
        );
        assert!(!nesting_exceeds(&"<b>x</b>".repeat(10_000), 512));
    }
}

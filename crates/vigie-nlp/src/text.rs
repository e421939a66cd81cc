//! Markup to clean text.
//!
//! Mention text is hostile HTML from the internet. We never render it: we parse
//! it with html5ever (through `scraper`), keep only the text nodes that a
//! reader would see, and drop everything executable or invisible. The result
//! is plain text, Unicode NFC, with invisible and direction-override
//! characters removed and whitespace collapsed (paragraph breaks are kept as a
//! single newline).

use scraper::{Html, Node};
use unicode_normalization::UnicodeNormalization;

/// Elements whose content a reader never sees as text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math", "head",
    "title", "canvas", "select", "button",
];

/// Elements after which a line break stands in the text.
const BLOCKS: &[&str] = &[
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
    "blockquote", "pre", "section", "article", "header", "footer", "hr", "dd", "dt", "figcaption",
];

/// Markup nested deeper than this is not given to the HTML parser: html5ever's
/// tree builder slows down quadratically with nesting depth, so a hostile post
/// of 400,000 nested `<div>`s would take minutes. Such text goes through the
/// linear [`strip_tags`] fallback instead.
pub const MAX_MARKUP_DEPTH: usize = 256;

/// Turns HTML (or plain text with entities) into clean text.
///
/// Plain text without `<` or `&` skips the HTML parser: tweets and most
/// imported text take the fast path.
pub fn html_to_text(input: &str) -> String {
    if !input.contains('<') && !input.contains('&') {
        return clean_text(input);
    }
    if crate::markup::nesting_exceeds(input, MAX_MARKUP_DEPTH) {
        return clean_text(&strip_tags(input));
    }
    let fragment = Html::parse_fragment(input);
    let mut out = String::with_capacity(input.len());
    // An `<svg>` or `<math>` never closed is no drawing but stray markup
    // in the author's text (`"><svg onload=…> je porte plainte`): the parser
    // puts the rest of the text inside it, which is kept.
    let lower = input.to_ascii_lowercase();
    let unclosed = |tag: &str| lower.contains(&format!("<{tag}")) && !lower.contains(&format!("</{tag}"));
    let kept: Vec<&str> = ["svg", "math"].into_iter().filter(|t| unclosed(t)).collect();
    collect_text(fragment.tree.root(), &kept, &mut out);
    clean_text(&out)
}

/// The linear fallback for pathological markup: drops every tag (and the
/// content of `<script>` and `<style>`), decodes the common entities.
pub fn strip_tags(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(open) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..open]));
        let after = &rest[open..];
        let lower_head: String = after.chars().take(8).collect::<String>().to_ascii_lowercase();
        // The end tag is searched from here on, without copying the rest:
        // each search stops at the end tag it finds, so the whole is linear.
        let skip_to = if lower_head.starts_with("<script") {
            find_ignore_case(after, "</script").map(|i| i + "</script".len())
        } else if lower_head.starts_with("<style") {
            find_ignore_case(after, "</style").map(|i| i + "</style".len())
        } else {
            Some(0)
        };
        let Some(skip_to) = skip_to else { return out };
        match after[skip_to..].find('>') {
            Some(close) => {
                out.push(' ');
                rest = &after[skip_to + close + 1..];
            }
            None => return out,
        }
    }
    out.push_str(&decode_entities(rest));
    out
}

/// The byte offset of the first `needle` (ASCII) in `haystack`, any case.
fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let name = &after[..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => {
                    let code = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                        u32::from_str_radix(hex, 16).ok()
                    } else {
                        name.strip_prefix('#').and_then(|d| d.parse().ok())
                    };
                    code.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Walks the tree with an explicit stack: no recursion, whatever the depth.
/// The text a reader sees under `root`; `kept`: elements of [`SKIPPED`]
/// whose own text (not their children's) is kept all the same.
fn collect_text(root: ego_tree::NodeRef<'_, Node>, kept: &[&str], out: &mut String) {
    enum Step<'a> {
        Enter(ego_tree::NodeRef<'a, Node>),
        Leave(&'static str),
    }
    let mut stack: Vec<Step<'_>> = root.children().rev().map(Step::Enter).collect();
    while let Some(step) = stack.pop() {
        let node = match step {
            Step::Leave(sep) => {
                out.push_str(sep);
                continue;
            }
            Step::Enter(node) => node,
        };
        match node.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(element) => {
                let name = element.name();
                if SKIPPED.contains(&name) {
                    // Of a kept one, only the text right under it: the
                    // author's, not a drawing's labels or descriptions.
                    if kept.contains(&name) {
                        for child in node.children() {
                            if let Node::Text(text) = child.value() {
                                out.push_str(text);
                            }
                        }
                    }
                    continue;
                }
                let block = BLOCKS.contains(&name);
                if block {
                    out.push('\n');
                }
                if name == "img" {
                    // The alternative text is what a reader without images sees.
                    if let Some(alt) = element.attr("alt") {
                        out.push(' ');
                        out.push_str(alt);
                        out.push(' ');
                    }
                }
                let after = if block {
                    "\n"
                } else if matches!(name, "td" | "th") {
                    " "
                } else {
                    ""
                };
                stack.push(Step::Leave(after));
                stack.extend(node.children().rev().map(Step::Enter));
            }
            _ => {}
        }
    }
}

/// Characters that carry no visible text and are used to hide or spoof it:
/// zero-width space, word joiner, BOM, soft hyphen, and the bidirectional
/// embedding/override/isolate controls. The zero-width (non-)joiners are kept:
/// emoji sequences and Persian text need them.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}'
        | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// NFC, invisible and control characters removed, whitespace collapsed: runs
/// of spaces become one space, runs containing a line break become one `\n`,
/// and the ends are trimmed.
pub fn clean_text(input: &str) -> String {
    // Most text is already NFC (all ASCII text is): the quick check skips the
    // composition machinery, which otherwise costs more than the rest.
    if unicode_normalization::is_nfc_quick(input.chars()) == unicode_normalization::IsNormalized::Yes {
        clean_chars(input.chars(), input.len())
    } else {
        clean_chars(input.nfc(), input.len())
    }
}

fn clean_chars(chars: impl Iterator<Item = char>, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity);
    let mut pending: Option<char> = None; // ' ' or '\n' waiting to be written
    for c in chars {
        if c.is_whitespace() {
            let newline = matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{0B}' | '\u{0C}');
            pending = match (pending, newline) {
                (Some('\n'), _) | (_, true) => Some('\n'),
                _ => Some(' '),
            };
            continue;
        }
        if is_invisible(c) || c.is_control() {
            continue;
        }
        if let Some(sep) = pending.take()
            && !out.is_empty()
        {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_styles_and_tags_are_removed() {
        let html = r#"<p>Bonjour <b>Air&nbsp;France</b> &amp; co</p><script>alert(1)</script>
            <style>p{color:red}</style><p>Deuxième&#233; ligne</p><!-- hidden -->"#;
        assert_eq!(html_to_text(html), "Bonjour Air France & co\nDeuxièmeé ligne");
    }

    #[test]
    fn text_after_a_stray_svg_tag_is_kept_and_a_drawing_is_not() {
        // Hostile markup in a complaint: the parser would put the rest of
        // the text inside the never-closed <svg>.
        let stray = r#"Air France "><svg onload=alert(3)> remboursement refusé, je porte plainte"#;
        assert_eq!(html_to_text(stray), r#"Air France "> remboursement refusé, je porte plainte"#);
        // A real drawing (closed) says nothing to a reader; of a stray one,
        // only the text right under it is kept.
        let icon = r#"<p>Acme <svg viewBox="0 0 1 1"><title>logo</title><text>A</text></svg> répond</p>"#;
        assert_eq!(html_to_text(icon), "Acme répond");
        let cut = r#"Acme <svg onload=x> ça va <desc>caché</desc><text>label</text> bien"#;
        assert_eq!(html_to_text(cut), "Acme ça va bien");
    }

    #[test]
    fn entities_in_plain_text_are_decoded() {
        assert_eq!(html_to_text("AT&amp;T &lt;3 you"), "AT&T <3 you");
    }

    #[test]
    fn plain_text_takes_the_fast_path_and_is_cleaned() {
        assert_eq!(html_to_text("  trop   bien\t\n\n  merci  "), "trop bien\nmerci");
    }

    #[test]
    fn invisible_and_bidi_override_characters_are_dropped() {
        let s = "pay\u{200B}pal \u{202E}gnp.exe\u{202C} ok\u{FEFF}";
        assert_eq!(clean_text(s), "paypal gnp.exe ok");
        // The ZWJ of an emoji family is kept.
        assert_eq!(clean_text("👨\u{200D}👩"), "👨\u{200D}👩");
    }

    #[test]
    fn output_is_nfc() {
        let decomposed = "De\u{301}route";
        assert_eq!(clean_text(decomposed), "Déroute");
    }

    #[test]
    fn deeply_nested_markup_takes_the_linear_path_quickly() {
        let hostile = format!("{}bonjour &amp; merci{}", "<div>".repeat(400_000), "</div>".repeat(10));
        let started = std::time::Instant::now();
        assert_eq!(html_to_text(&hostile), "bonjour & merci");
        // Bounded time, not a benchmark: the HTML parser would take minutes.
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        let nested_ok = format!("{}x{}", "<span>".repeat(100), "</span>".repeat(100));
        assert!(!crate::markup::nesting_exceeds(&nested_ok, MAX_MARKUP_DEPTH));
        assert_eq!(html_to_text(&nested_ok), "x");
        // Markup that only looks shallow: `<div/>` opens a div, `</b>` of
        // nothing open closes nothing. Both take the linear path too.
        for piece in ["<div/>", "<div></b>"] {
            let hostile = format!("acme {}", piece.repeat(200_000));
            let started = std::time::Instant::now();
            assert_eq!(html_to_text(&hostile), "acme");
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "{piece}");
        }
    }

    #[test]
    fn the_fallback_drops_scripts_and_decodes_entities() {
        assert_eq!(strip_tags("a<script>alert('<b>')</script>b &lt;3 &#233;&#xE9; &bogus; &"), "a b <3 éé &bogus; &");
        assert_eq!(strip_tags("a<SCRIPT>x</Script>b<style>y</STYLE>c"), "a b c");
        // Many scripts: each end tag is found from where its script starts.
        let many = format!("x{}y", "<script></script>".repeat(100_000));
        let started = std::time::Instant::now();
        assert_eq!(clean_text(&strip_tags(&many)), "x y");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn right_to_left_text_is_kept() {
        assert_eq!(html_to_text("<p>שלום עולם</p>"), "שלום עולם");
    }

    #[test]
    fn image_alt_text_is_kept_and_unclosed_markup_is_tolerated() {
        assert_eq!(html_to_text("<div>Vu <img src=x alt='un avion'> hier<div"), "Vu un avion hier");
    }
}

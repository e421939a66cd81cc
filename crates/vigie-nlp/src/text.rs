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

/// Turns HTML (or plain text with entities) into clean text.
///
/// Plain text without `<` or `&` skips the HTML parser: tweets and most
/// imported text take the fast path.
pub fn html_to_text(input: &str) -> String {
    if !input.contains('<') && !input.contains('&') {
        return clean_text(input);
    }
    let fragment = Html::parse_fragment(input);
    let mut out = String::with_capacity(input.len());
    collect_text(fragment.tree.root(), &mut out);
    clean_text(&out)
}

fn collect_text(node: ego_tree::NodeRef<'_, Node>, out: &mut String) {
    for child in node.children() {
        match child.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(element) => {
                let name = element.name();
                if SKIPPED.contains(&name) {
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
                collect_text(child, out);
                if block {
                    out.push('\n');
                } else if matches!(name, "td" | "th") {
                    out.push(' ');
                }
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
    let mut out = String::with_capacity(input.len());
    let mut pending: Option<char> = None; // ' ' or '\n' waiting to be written
    for c in input.nfc() {
        if c.is_whitespace() {
            let newline = matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{0B}' | '\u{0C}');
            pending = match (pending, newline) {
                (Some('\n'), _) | (_, true) => Some('\n'),
                _ => Some(' '),
            };
            continue;
        }
        if is_invisible(c) || (c.is_control()) {
            continue;
        }
        if let Some(sep) = pending.take()
            && !out.is_empty() {
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
    fn right_to_left_text_is_kept() {
        assert_eq!(html_to_text("<p>שלום עולם</p>"), "שלום עולם");
    }

    #[test]
    fn image_alt_text_is_kept_and_unclosed_markup_is_tolerated() {
        assert_eq!(html_to_text("<div>Vu <img src=x alt='un avion'> hier<div"), "Vu un avion hier");
    }
}

//! HTML pages read with CSS selectors: review sites and forums without feeds.
//!
//! The person who adds the source names, with CSS selectors, the element that
//! holds one review or post (`item`) and, inside it, its title, text, author,
//! date and link ([`Selectors`]). [`Selectors::compile`] checks them once;
//! [`extract`] then reads a fetched page into [`RawMention`]s. Like the feeds,
//! this is *parse, then adapt*, and pure: bytes in, value or error out, no IO,
//! no clock (`now` is passed in for relative dates).
//!
//! # Selectors
//!
//! Each field selector is matched among the item's descendants (`:scope` is
//! the item); the first match in document order is used, except for `text`,
//! where every match (not nested in an earlier one) is read, one per line. A
//! selector may end with `@attribute` to read that attribute instead of the
//! text (`a.review-link@href`, `span.stars@aria-label`); `@attribute` alone
//! reads the item's own attribute.
//!
//! | `RawMention` field | taken from |
//! | --- | --- |
//! | `title` | the `title` match's text; none without a `title` selector |
//! | `text` | the `text` matches' text; without a `text` selector, the item's whole text |
//! | `author` | the `author` match's text |
//! | `published_at` | the `date` match's `datetime`, else `content`, else `title` attribute, else its text, read by [`parse_date`] |
//! | `url` | the `link` match's `href` (or the first link inside it); without a `link` selector, the item itself when it is a link, else the title when it is a link; resolved against the page's `<base href>` (else its address; a bare `#anchor` always against the address), http(s) only |
//! | `source_item_id` | the link; without one, a SHA-256 of the title, text and author |
//! | `source_kind` | the `kind` the person chose (review site, forum…) |
//! | `site` | the page's host |
//!
//! Text is plain text (`plain_text: true`): the content of `script`, `style`,
//! `noscript`, `template`, embedded objects, forms' buttons and selects is
//! dropped, block elements become line breaks, other whitespace is collapsed
//! to one space (titles, authors and dates fit on one line), control
//! characters are removed, and every field is bounded ([`MAX_TEXT_BYTES`],
//! [`MAX_TITLE_BYTES`], [`MAX_AUTHOR_BYTES`]).
//!
//! A link to an anchor of the page itself (`#review-123`) becomes the item's
//! id but not its `url`: the store deduplicates on the canonical URL, which
//! has no fragment, and would fold every review of the page into one.
//! Items whose id repeats an earlier one, and items with neither title nor
//! text, are left out and listed in [`ParsedPage::skipped`].
//!
//! # Dates
//!
//! [`parse_date`] reads machine formats (RFC 3339, RFC 2822, Unix seconds or
//! milliseconds), numeric dates (`2026-03-12`, day first: `12/03/2026`,
//! `12.03.26`), French and English month names with or without accents,
//! abbreviations and ordinals (`1er février 2026 à 14h30`, `March 12th, 2026,
//! 2:30 pm`, `mar. 12 mars`), and relative forms (`il y a 3 jours`, `hier à
//! 18:05`, `2 hours ago`, `yesterday`, `3 j`). A time without an offset is
//! read as UTC (pages seldom say their zone; the error is the site's offset,
//! an hour or two). A date the page gives without a year is in the last
//! twelve months. A date more than a day in the future is left out with a
//! warning: a typo on the page must not pin a mention at the top of the inbox.
//!
//! # Hostile pages
//!
//! The page is untrusted. Nothing in it is executed. Bodies over
//! [`MAX_PAGE_BYTES`] are refused; so are pages whose elements nest deeper
//! than [`MAX_DEPTH`] (html5ever's tree builder is quadratic in the nesting
//! depth: 40,000 nested `<div>`s take seconds, a million take hours), which a
//! linear scan of the tags detects before parsing. At most [`MAX_ITEMS`]
//! items are read, and a budget of visited nodes bounds the work when item
//! elements nest in one another. Every tree walk uses an explicit stack.
//!
//! The charset comes from the `Content-Type` header, else a `<meta charset>`
//! or `http-equiv` declaration in the first 1024 bytes, else UTF-8; a byte
//! order mark wins over both, as in browsers. Undecodable bytes are replaced
//! and said in a warning.

use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use ego_tree::NodeRef;
use ego_tree::iter::Edge;
use encoding_rs::Encoding;
use scraper::{ElementRef, Html, Node, Selector};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;
use vigie_model::{RawMention, SourceKind};

/// Largest page read, in bytes (before decoding).
pub const MAX_PAGE_BYTES: usize = 5 * 1024 * 1024;
/// Items read from one page at most; a warning says when there were more.
pub const MAX_ITEMS: usize = 1000;
/// Deepest element nesting accepted (estimated before parsing).
pub const MAX_DEPTH: usize = 512;
/// Longest text of one item, in bytes; longer text is cut and ends with `…`.
pub const MAX_TEXT_BYTES: usize = 100 * 1024;
/// Longest title, in bytes.
pub const MAX_TITLE_BYTES: usize = 1024;
/// Longest author name, in bytes.
pub const MAX_AUTHOR_BYTES: usize = 256;
/// Longest date value read, in bytes.
const MAX_DATE_BYTES: usize = 256;
/// Longest link kept, in bytes.
const MAX_LINK_BYTES: usize = 4096;
/// Longest selector accepted, in bytes.
const MAX_SELECTOR_BYTES: usize = 1024;
/// Nodes visited at most while reading the items of one page.
const NODE_BUDGET: usize = 4_000_000;
/// Warnings kept per page; the rest are counted in a last one.
const MAX_WARNINGS: usize = 50;

/// Elements whose content a reader never sees as text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math", "canvas", "select",
    "button", "head",
];

/// Elements after which a line break stands in the text.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "blockquote",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "aside",
    "nav",
    "hr",
    "dd",
    "dt",
    "dl",
    "figure",
    "figcaption",
    "details",
    "summary",
    "address",
    "main",
];

/// Stands for a block boundary in collected text until whitespace is collapsed.
const BREAK: char = '\u{2029}';

/// The selectors of an HTML source, as the person wrote them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selectors {
    /// The element that holds one review, post or comment.
    pub item: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Without it, the text is the item's whole text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl Selectors {
    /// Compiles every selector; the error names the field ("date selector
    /// `div[`: …") and what is wrong. A blank optional selector counts as
    /// absent.
    pub fn compile(&self) -> Result<CompiledSelectors, HtmlError> {
        let item_source = self.item.trim();
        if item_source.is_empty() {
            return Err(HtmlError::Selector {
                field: Field::Item.name(),
                selector: String::new(),
                reason: "name the element that holds one review or post (e.g. `article.review`)".into(),
            });
        }
        let item = match compile_field(Field::Item, item_source)? {
            FieldSelector { selector: Some(selector), attr: None, .. } => selector,
            _ => {
                return Err(HtmlError::Selector {
                    field: Field::Item.name(),
                    selector: item_source.to_string(),
                    reason: "`@attribute` is for the field selectors; the item selector picks elements".into(),
                });
            }
        };
        let optional = |field: Field, source: &Option<String>| -> Result<Option<FieldSelector>, HtmlError> {
            match source.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(s) => compile_field(field, s).map(Some),
            }
        };
        Ok(CompiledSelectors {
            item,
            item_source: item_source.to_string(),
            title: optional(Field::Title, &self.title)?,
            text: optional(Field::Text, &self.text)?,
            author: optional(Field::Author, &self.author)?,
            date: optional(Field::Date, &self.date)?,
            link: optional(Field::Link, &self.link)?,
        })
    }
}

/// [`Selectors`] checked and compiled, reusable across pages.
#[derive(Debug, Clone)]
pub struct CompiledSelectors {
    item: Selector,
    item_source: String,
    title: Option<FieldSelector>,
    text: Option<FieldSelector>,
    author: Option<FieldSelector>,
    date: Option<FieldSelector>,
    link: Option<FieldSelector>,
}

/// One field's selector: the elements to match (`None`: the item itself) and
/// the attribute to read (`None`: the text).
#[derive(Debug, Clone)]
struct FieldSelector {
    selector: Option<Selector>,
    attr: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Item,
    Title,
    Text,
    Author,
    Date,
    Link,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Item => "item",
            Field::Title => "title",
            Field::Text => "text",
            Field::Author => "author",
            Field::Date => "date",
            Field::Link => "link",
        }
    }
}

fn compile_field(field: Field, source: &str) -> Result<FieldSelector, HtmlError> {
    let error = |reason: String| HtmlError::Selector { field: field.name(), selector: source.to_string(), reason };
    if source.len() > MAX_SELECTOR_BYTES {
        return Err(error(format!("longer than {MAX_SELECTOR_BYTES} bytes")));
    }
    let (css, attr) = split_attr(source).map_err(error)?;
    let selector =
        if css.is_empty() { None } else { Some(Selector::parse(css).map_err(|e| error(selector_reason(&e)))?) };
    Ok(FieldSelector { selector, attr: attr.map(str::to_ascii_lowercase) })
}

/// Splits a trailing `@attribute` off a selector. An `@` followed by
/// something that is not an attribute name belongs to the selector (inside
/// a quoted attribute value, say) and is left to the CSS parser.
fn split_attr(source: &str) -> Result<(&str, Option<&str>), String> {
    let Some((css, attr)) = source.rsplit_once('@') else { return Ok((source, None)) };
    let attr = attr.trim();
    if attr.is_empty() {
        return Err("nothing after `@`: name the attribute to read (e.g. `a@href`)".into());
    }
    let valid = attr.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && attr.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
    if valid { Ok((css.trim(), Some(attr))) } else { Ok((source, None)) }
}

/// scraper's parse errors, in words a person can act on.
fn selector_reason(e: &scraper::error::SelectorErrorKind) -> String {
    use scraper::error::SelectorErrorKind as K;
    match e {
        K::UnexpectedToken => "unexpected character or word; is it valid CSS?".into(),
        K::EndOfLine => {
            "the selector ends too early (an unclosed `[`, `(` or quote, or a combinator with nothing after it)".into()
        }
        K::InvalidAtRule | K::InvalidAtRuleBody => {
            "`@` rules are not selectors; `@attribute` goes at the very end".into()
        }
        K::QualRuleInvalid => "not a valid selector".into(),
        K::TooManyNestedBlocks => "too many nested brackets".into(),
        K::ExpectedColonOnPseudoElement | K::ExpectedIdentityOnPseudoElement => {
            "malformed pseudo-element (`::name`)".into()
        }
        K::UnexpectedSelectorParseError(inner) => {
            let debug = format!("{inner:?}");
            let name = debug.split(['(', ' ']).next().unwrap_or_default();
            let hint = match name {
                "EmptySelector" => "empty selector (a stray comma?)",
                "DanglingCombinator" => "a combinator (`>`, `+`, `~`) with nothing after it",
                "UnsupportedPseudoClassOrElement" | "UnexpectedIdent" => "unsupported pseudo-class or pseudo-element",
                "ClassNeedsIdent" => "`.` must be followed by a class name",
                "NoQualifiedNameInAttributeSelector" => "`[` must be followed by an attribute name",
                "ExpectedBarInAttr"
                | "BadValueInAttr"
                | "InvalidQualNameInAttr"
                | "UnexpectedTokenInAttributeSelector" => {
                    "malformed attribute selector (`[name]`, `[name=\"value\"]`…)"
                }
                "PseudoElementInComplexSelector" | "InvalidPseudoElementAfterSlotted" => "misplaced pseudo-element",
                _ => "",
            };
            if hint.is_empty() { format!("invalid selector ({debug})") } else { hint.to_string() }
        }
    }
}

/// A page read: its items adapted to [`RawMention`], the elements left out
/// with the reason, and what was noticed on the way (a date not understood,
/// a link dropped, a cap reached), for `vigie source test` and the source's
/// health record.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ParsedPage {
    /// The page's `<title>`, to tell a captcha or login page from the expected one.
    pub title: Option<String>,
    pub items: Vec<RawMention>,
    pub skipped: Vec<SkippedItem>,
    pub warnings: Vec<String>,
}

/// An item element that did not become a [`RawMention`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedItem {
    /// Position of the element among the item selector's matches (0-based).
    pub index: usize,
    /// The id it would have had, when it had one.
    pub id: Option<String>,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// An earlier item of the page has the same link (or, without links, the
    /// same title, text and author); the first is kept.
    DuplicateId,
    /// Neither a title nor any text: nothing to match a watch against.
    NoTitleNorText,
}

impl fmt::Display for SkippedItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "item {}", self.index + 1)?;
        if let Some(id) = &self.id {
            write!(f, " ({id})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::DuplicateId => "duplicate (an earlier item of the page has the same link or content)",
            SkipReason::NoTitleNorText => "no title and no text",
        })
    }
}

/// Why a page or its selectors cannot be read. The `Display` text is meant for
/// the person who added the source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HtmlError {
    /// A selector does not compile; names the field.
    #[error("{field} selector {}: {reason}", quoted(.selector))]
    Selector { field: &'static str, selector: String, reason: String },
    #[error("empty response body")]
    Empty,
    #[error("the page is {size} bytes, over the {} limit; it is not read", human_bytes(*.limit))]
    TooLarge { size: usize, limit: usize },
    #[error("the page nests its elements more than {limit} deep; it is not read (broken or hostile markup)")]
    TooDeep { limit: usize },
}

fn quoted(selector: &str) -> String {
    if selector.is_empty() { "(empty)".to_string() } else { format!("`{selector}`") }
}

fn human_bytes(n: usize) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    } else if n >= 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}

/// Reads the items of a fetched page.
///
/// `content_type` is the HTTP `Content-Type` (for its charset); `page_url`
/// the page's address after redirects, against which links are resolved;
/// `kind` the platform kind the person chose for the source; `now` the time
/// relative dates count from.
pub fn extract(
    body: &[u8],
    content_type: Option<&str>,
    page_url: &Url,
    selectors: &CompiledSelectors,
    kind: SourceKind,
    now: DateTime<Utc>,
) -> Result<ParsedPage, HtmlError> {
    extract_with_budget(body, content_type, page_url, selectors, kind, now, NODE_BUDGET)
}

fn extract_with_budget(
    body: &[u8],
    content_type: Option<&str>,
    page_url: &Url,
    selectors: &CompiledSelectors,
    kind: SourceKind,
    now: DateTime<Utc>,
    mut budget: usize,
) -> Result<ParsedPage, HtmlError> {
    if body.len() > MAX_PAGE_BYTES {
        return Err(HtmlError::TooLarge { size: body.len(), limit: MAX_PAGE_BYTES });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(HtmlError::Empty);
    }
    let mut warnings = Warnings::default();
    let (text, encoding, had_errors) = decode(body, content_type);
    if had_errors {
        warnings
            .push(format!("the page is not valid {}: bytes that could not be decoded were replaced", encoding.name()));
    }
    if vigie_nlp::markup::nesting_exceeds(&text, MAX_DEPTH) {
        return Err(HtmlError::TooDeep { limit: MAX_DEPTH });
    }
    let document = Html::parse_document(&text);
    drop(text);

    let page_title = document
        .root_element()
        .descendent_elements()
        .find(|e| e.value().name() == "title")
        .map(|e| element_text(e, false, MAX_TITLE_BYTES, &mut 100_000).0)
        .filter(|t| !t.is_empty());

    let mut elements: Vec<ElementRef<'_>> = document.select(&selectors.item).take(MAX_ITEMS + 1).collect();
    if elements.len() > MAX_ITEMS {
        elements.truncate(MAX_ITEMS);
        warnings.push(format!(
            "the item selector `{}` matches more than {MAX_ITEMS} elements; only the first {MAX_ITEMS} were read",
            selectors.item_source
        ));
    }
    if elements.is_empty() {
        let titled = page_title.as_deref().map(|t| format!(" (page titled {t:?})")).unwrap_or_default();
        warnings.push(format!("no element matches the item selector `{}`{titled}", selectors.item_source));
    }

    let base = base_url(&document, page_url);
    let page_at = PageAt { url: page_url, base: &base };
    let site = page_url.host_str().map(str::to_string);
    let mut page = ParsedPage { title: page_title, ..ParsedPage::default() };
    let mut read = Vec::with_capacity(elements.len());
    for (index, element) in elements.into_iter().enumerate() {
        let mut item_warnings = Vec::new();
        let Some(fields) = read_item(element, selectors, &page_at, now, &mut budget, &mut item_warnings) else {
            warnings.push(format!(
                "the page is too large to read whole: stopped after {index} items (does the item selector \
                 match elements nested in one another?)"
            ));
            break;
        };
        for w in item_warnings {
            warnings.push(format!("item {}: {w}", index + 1));
        }
        read.push(fields);
    }
    // A link that items with different content share (every review links
    // to the product, or to its author's profile) names none of them: those
    // items are told apart by their content, and the shared link is not
    // kept as theirs (it would make them one mention).
    let mut by_link: HashMap<&str, Vec<&ItemFields>> = HashMap::new();
    for fields in read.iter().filter(|f| f.url.is_some()) {
        by_link.entry(fields.id.as_str()).or_default().push(fields);
    }
    let mut shared: Vec<String> = by_link
        .iter()
        .filter(|(_, items)| items.iter().any(|f| !same_item(items[0], f)))
        .map(|(link, _)| link.to_string())
        .collect();
    shared.sort_unstable();
    if let Some(link) = shared.first() {
        warnings.push(format!(
            "items with different content link to the same page ({link}{}): they are told apart by their \
             content and that link is not kept (does the link selector pick a link of each item's own?)",
            if shared.len() > 1 { format!(" and {} other(s)", shared.len() - 1) } else { String::new() }
        ));
    }
    let shared: HashSet<String> = shared.into_iter().collect();
    let mut seen_ids = HashSet::new();
    for (index, mut fields) in read.into_iter().enumerate() {
        if fields.url.is_some() && shared.contains(&fields.id) {
            fields.id = content_id(fields.title.as_deref(), &fields.text, fields.author.as_deref());
            fields.url = None;
        }
        let id = fields.id.clone();
        if !seen_ids.insert(id.clone()) {
            page.skipped.push(SkippedItem { index, id: Some(id), reason: SkipReason::DuplicateId });
            continue;
        }
        if fields.title.is_none() && fields.text.is_empty() {
            page.skipped.push(SkippedItem { index, id: Some(id), reason: SkipReason::NoTitleNorText });
            continue;
        }
        page.items.push(RawMention {
            source_item_id: Some(id),
            url: fields.url,
            title: fields.title,
            text: fields.text,
            plain_text: true,
            author: fields.author,
            published_at: fields.published_at,
            source_kind: Some(kind),
            site: site.clone(),
            ..RawMention::default()
        });
    }
    page.warnings = warnings.finish();
    if !page.skipped.is_empty() {
        tracing::debug!(kept = page.items.len(), skipped = page.skipped.len(), "page items skipped");
    }
    Ok(page)
}

#[derive(Default)]
struct Warnings {
    kept: Vec<String>,
    dropped: usize,
}

impl Warnings {
    fn push(&mut self, w: String) {
        if self.kept.len() < MAX_WARNINGS {
            self.kept.push(w);
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.kept.push(format!("… and {} more warnings", self.dropped));
        }
        self.kept
    }
}

/// Whether two items with one link are the same item shown twice (a
/// featured review repeated in the list, perhaps cut short there): the same
/// author, or texts that begin alike.
fn same_item(a: &ItemFields, b: &ItemFields) -> bool {
    if let (Some(x), Some(y)) = (&a.author, &b.author) {
        return x == y;
    }
    let start = |t: &str| -> String {
        t.split_whitespace().collect::<Vec<_>>().join(" ").trim_end_matches(['…', '.']).to_lowercase()
    };
    let (x, y) = (start(&a.text), start(&b.text));
    let n = x.chars().count().min(y.chars().count()).min(40);
    if n < 10 {
        return x == y && a.title == b.title;
    }
    x.chars().take(n).eq(y.chars().take(n))
}

/// One item's fields, read and cleaned.
struct ItemFields {
    id: String,
    url: Option<String>,
    title: Option<String>,
    text: String,
    author: Option<String>,
    published_at: Option<DateTime<Utc>>,
}

/// The first match of each single-valued field and every text match.
#[derive(Default)]
struct Matches<'a> {
    title: Option<ElementRef<'a>>,
    author: Option<ElementRef<'a>>,
    date: Option<ElementRef<'a>>,
    link: Option<ElementRef<'a>>,
    text: Vec<ElementRef<'a>>,
}

/// Reads one item; `None` when the node budget ran out.
fn read_item(
    item: ElementRef<'_>,
    sel: &CompiledSelectors,
    page_at: &PageAt<'_>,
    now: DateTime<Utc>,
    budget: &mut usize,
    warnings: &mut Vec<String>,
) -> Option<ItemFields> {
    let m = match_fields(item, sel, budget)?;
    let title = match pick(&sel.title, item, m.title) {
        Some((el, attr)) => single_line(el, attr, MAX_TITLE_BYTES, budget)?,
        None => None,
    };
    let author = match pick(&sel.author, item, m.author) {
        Some((el, attr)) => single_line(el, attr, MAX_AUTHOR_BYTES, budget)?,
        None => None,
    };

    let text = match &sel.text {
        None => {
            let (t, cut) = element_text(item, true, MAX_TEXT_BYTES, budget);
            if *budget == 0 {
                return None;
            }
            if cut {
                warnings.push(format!("text cut at {}", human_bytes(MAX_TEXT_BYTES)));
            }
            t
        }
        Some(f) => {
            let els: Vec<ElementRef<'_>> = if f.selector.is_none() { vec![item] } else { m.text };
            let mut parts: Vec<String> = Vec::new();
            let mut used = 0usize;
            let mut cut = false;
            for el in els {
                if used >= MAX_TEXT_BYTES {
                    cut = true;
                    break;
                }
                let (part, part_cut) = match &f.attr {
                    Some(a) => (el.value().attr(a).map(|v| collapse(v, false)).unwrap_or_default(), false),
                    None => element_text(el, true, MAX_TEXT_BYTES - used, budget),
                };
                if *budget == 0 {
                    return None;
                }
                cut |= part_cut;
                if !part.is_empty() {
                    used += part.len() + 1;
                    parts.push(part);
                }
            }
            let mut t = parts.join("\n");
            if truncate(&mut t, MAX_TEXT_BYTES) || cut {
                warnings.push(format!("text cut at {}", human_bytes(MAX_TEXT_BYTES)));
            }
            t
        }
    };

    let published_at = match pick(&sel.date, item, m.date) {
        Some((el, attr)) => {
            // Without `@attribute`: `datetime`, `content`, `title`, then the
            // text, the first that reads as a date (a `title` may be a tooltip).
            let mut candidates: Vec<String> = match attr {
                Some(a) => el.value().attr(a).map(|v| collapse(v, false)).into_iter().collect(),
                None => ["datetime", "content", "title"]
                    .iter()
                    .filter_map(|a| el.value().attr(a))
                    .map(|v| collapse(v, false))
                    .chain(single_line(el, None, MAX_DATE_BYTES, budget)?)
                    .collect(),
            };
            candidates.retain(|c| !c.is_empty());
            date_or_warn(&candidates, now, warnings)
        }
        None => None,
    };

    let link_raw: Option<String> = match &sel.link {
        Some(f) => {
            let el = if f.selector.is_none() { Some(item) } else { m.link };
            match (el, f.attr.as_deref()) {
                (Some(el), Some(a)) => el.value().attr(a).map(str::to_string),
                (Some(el), None) => href_of(el, budget),
                (None, _) => None,
            }
        }
        None => {
            if item.value().name() == "a" {
                item.value().attr("href").map(str::to_string)
            } else {
                m.title.filter(|t| t.value().name() == "a").and_then(|t| t.value().attr("href")).map(str::to_string)
            }
        }
    };
    if *budget == 0 {
        return None;
    }
    let link = match link_raw.as_deref().map(|raw| resolve_link(raw, page_at)) {
        Some(Ok(link)) => link,
        Some(Err(w)) => {
            warnings.push(w);
            None
        }
        None => None,
    };

    let (id, url) = match link {
        Some(Link::Page(u)) => (u.clone(), Some(u)),
        Some(Link::Anchor(u)) => (u, None),
        None => (content_id(title.as_deref(), &text, author.as_deref()), None),
    };
    Some(ItemFields { id, url, title, text, author, published_at })
}

/// The element a field reads (the item itself for an `@attribute`-only
/// selector) and the attribute to read, when the field has a selector and it matched.
fn pick<'a, 'f>(
    field: &'f Option<FieldSelector>,
    item: ElementRef<'a>,
    found: Option<ElementRef<'a>>,
) -> Option<(ElementRef<'a>, Option<&'f str>)> {
    let f = field.as_ref()?;
    let el = if f.selector.is_none() { item } else { found? };
    Some((el, f.attr.as_deref()))
}

fn css(field: &Option<FieldSelector>) -> Option<&Selector> {
    field.as_ref().and_then(|f| f.selector.as_ref())
}

/// One walk over the item's descendants, testing every field selector.
/// `None` when the node budget ran out.
fn match_fields<'a>(item: ElementRef<'a>, sel: &CompiledSelectors, budget: &mut usize) -> Option<Matches<'a>> {
    let (title, author, date, link, text) =
        (css(&sel.title), css(&sel.author), css(&sel.date), css(&sel.link), css(&sel.text));
    let mut m = Matches::default();
    if title.is_none() && author.is_none() && date.is_none() && link.is_none() && text.is_none() {
        return Some(m);
    }
    let mut inside_text: Option<ego_tree::NodeId> = None;
    for edge in item.traverse().skip(1) {
        match edge {
            Edge::Open(node) => {
                *budget = budget.checked_sub(1)?;
                let Some(el) = ElementRef::wrap(node) else { continue };
                let hit = |s: Option<&Selector>| s.is_some_and(|s| s.matches_with_scope(&el, Some(item)));
                if m.title.is_none() && hit(title) {
                    m.title = Some(el);
                }
                if m.author.is_none() && hit(author) {
                    m.author = Some(el);
                }
                if m.date.is_none() && hit(date) {
                    m.date = Some(el);
                }
                if m.link.is_none() && hit(link) {
                    m.link = Some(el);
                }
                if inside_text.is_none() && hit(text) {
                    m.text.push(el);
                    inside_text = Some(node.id());
                }
            }
            Edge::Close(node) => {
                if inside_text == Some(node.id()) {
                    inside_text = None;
                }
            }
        }
    }
    Some(m)
}

/// An element's text or attribute on one line, bounded; `Some(None)` when
/// empty, `None` when the budget ran out.
fn single_line(el: ElementRef<'_>, attr: Option<&str>, cap: usize, budget: &mut usize) -> Option<Option<String>> {
    let mut value = match attr {
        Some(a) => el.value().attr(a).map(|v| collapse(v, false)).unwrap_or_default(),
        None => {
            let (t, _) = element_text(el, false, cap, budget);
            if *budget == 0 {
                return None;
            }
            t
        }
    };
    truncate(&mut value, cap);
    Some((!value.is_empty()).then_some(value))
}

/// The `href` of a link element, else of the first link inside it.
fn href_of(el: ElementRef<'_>, budget: &mut usize) -> Option<String> {
    if let Some(href) = el.value().attr("href") {
        return Some(href.to_string());
    }
    for node in el.descendants().skip(1) {
        *budget = budget.checked_sub(1)?;
        if let Some(e) = node.value().as_element()
            && e.name() == "a"
            && let Some(href) = e.attr("href")
        {
            return Some(href.to_string());
        }
    }
    None
}

enum Link {
    /// Another page: the item's `url` and id.
    Page(String),
    /// An anchor of the page itself: the item's id only.
    Anchor(String),
}

/// Where a page is: its own address (after redirects) and the base its
/// relative links are resolved against (its `<base href>`, else itself).
struct PageAt<'a> {
    url: &'a Url,
    base: &'a Url,
}

/// The page's base address: the first `<base href>` of the document,
/// resolved against the page's address, when it is http(s); else the
/// page's address (as browsers do, but only web addresses are taken).
fn base_url(document: &Html, page_url: &Url) -> Url {
    document
        .root_element()
        .descendent_elements()
        .find(|e| e.value().name() == "base" && e.value().attr("href").is_some())
        .and_then(|e| e.value().attr("href"))
        .map(str::trim)
        .filter(|href| href.len() <= MAX_LINK_BYTES)
        .and_then(|href| page_url.join(href).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .unwrap_or_else(|| page_url.clone())
}

/// Resolves a link against the page's base; `Err` is a warning for a link
/// that is dropped, `Ok(None)` a link to the page itself without an anchor.
fn resolve_link(raw: &str, page_at: &PageAt<'_>) -> Result<Option<Link>, String> {
    let page_url = page_at.url;
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.len() > MAX_LINK_BYTES {
        return Err(format!("link longer than {} dropped", human_bytes(MAX_LINK_BYTES)));
    }
    let url =
        // `#anchor` names a place of this page, even under a `<base href>`.
        if raw.starts_with('#') { page_url } else { page_at.base }.join(raw).map_err(|e| format!("link `{}` is not a valid address ({e}); dropped", shorten(raw)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("link `{}` is not an http(s) address; dropped", shorten(raw)));
    }
    let mut bare = url.clone();
    bare.set_fragment(None);
    let mut page = page_url.clone();
    page.set_fragment(None);
    if bare == page {
        return Ok(url.fragment().filter(|f| !f.is_empty()).map(|_| Link::Anchor(url.to_string())));
    }
    Ok(Some(Link::Page(url.to_string())))
}

/// A value quoted in a warning: one line, at most 80 characters.
fn shorten(s: &str) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match one_line.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// Hex SHA-256 of the title, text and author: the id of an item without a
/// link. The author is part of it so that two people's identical two-word
/// reviews stay two mentions; the date is not, since relative dates
/// ("il y a 3 jours") change from one fetch to the next.
fn content_id(title: Option<&str>, text: &str, author: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(title.unwrap_or_default().as_bytes());
    h.update([0x1f]);
    h.update(text.as_bytes());
    h.update([0x1f]);
    h.update(author.unwrap_or_default().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The latest publication time accepted: a day of clock skew and time zones.
fn a_day_after(now: DateTime<Utc>) -> DateTime<Utc> {
    now.checked_add_signed(TimeDelta::days(1)).unwrap_or(now)
}

fn date_or_warn(candidates: &[String], now: DateTime<Utc>, warnings: &mut Vec<String>) -> Option<DateTime<Utc>> {
    let first = candidates.first()?;
    match candidates.iter().find_map(|c| parse_date(c, now).map(|t| (c, t))) {
        None => {
            warnings.push(format!("date `{}` not understood; left empty", shorten(first)));
            None
        }
        Some((raw, t)) if t > a_day_after(now) => {
            warnings.push(format!("date `{}` is in the future ({t}); left empty", shorten(raw)));
            None
        }
        Some((_, t)) => Some(t),
    }
}

// --- Text ------------------------------------------------------------------

/// The text a reader sees in `el`, whitespace collapsed (`multiline`: block
/// boundaries kept as line breaks), bounded by `cap` bytes; the flag says it
/// was cut. Stops early when the budget runs out (then it is 0).
fn element_text(el: ElementRef<'_>, multiline: bool, cap: usize, budget: &mut usize) -> (String, bool) {
    enum Step<'a> {
        Enter(NodeRef<'a, Node>),
        Leave(bool),
    }
    // Collapsing shrinks the text; stop collecting well past the cap.
    let raw_cap = cap.saturating_mul(2).saturating_add(1024);
    let mut raw = String::new();
    let mut stack: Vec<Step<'_>> = el.children().rev().map(Step::Enter).collect();
    let mut stopped = false;
    while let Some(step) = stack.pop() {
        let node = match step {
            Step::Leave(block) => {
                if block {
                    raw.push(BREAK);
                }
                continue;
            }
            Step::Enter(node) => node,
        };
        let Some(left) = budget.checked_sub(1) else {
            stopped = true;
            break;
        };
        *budget = left;
        match node.value() {
            Node::Text(text) => {
                raw.push_str(text);
                if raw.len() > raw_cap {
                    stopped = true;
                    break;
                }
            }
            Node::Element(element) => {
                let name = element.name();
                if SKIPPED.contains(&name) {
                    continue;
                }
                let block = BLOCKS.contains(&name);
                if block {
                    raw.push(BREAK);
                } else if matches!(name, "td" | "th") {
                    raw.push(' ');
                }
                stack.push(Step::Leave(block));
                stack.extend(node.children().rev().map(Step::Enter));
            }
            _ => {}
        }
    }
    let mut text = collapse(&raw, multiline);
    let cut = truncate(&mut text, cap) || (stopped && *budget > 0);
    (text, cut)
}

/// Collapses whitespace: runs containing a block break become one `\n`
/// (`multiline`) or a space, other runs one space; ends trimmed; control and
/// invisible formatting characters dropped.
fn collapse(raw: &str, multiline: bool) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_TEXT_BYTES * 2));
    let mut pending: Option<char> = None;
    for c in raw.chars() {
        if c.is_whitespace() {
            let sep = if c == BREAK && multiline { '\n' } else { ' ' };
            pending = Some(if pending == Some('\n') { '\n' } else { sep });
            continue;
        }
        if c.is_control() || is_invisible(c) {
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

/// Zero-width and direction-override characters, used to hide or spoof text.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}'
        | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// Cuts `s` to at most `cap` bytes at a character boundary, ending with `…`.
fn truncate(s: &mut String, cap: usize) -> bool {
    if s.len() <= cap {
        return false;
    }
    let mut cut = cap.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    let trimmed = s.trim_end().len();
    s.truncate(trimmed);
    s.push('…');
    true
}

// --- Charset ---------------------------------------------------------------

/// Decodes the body: byte order mark, else the `Content-Type` charset, else
/// a `<meta>` declaration in the first 1024 bytes, else UTF-8.
fn decode(body: &[u8], content_type: Option<&str>) -> (String, &'static Encoding, bool) {
    let (encoding, bom_len) = match Encoding::for_bom(body) {
        Some((encoding, len)) => (encoding, len),
        None => {
            let declared = content_type.and_then(charset_from_content_type).or_else(|| charset_from_meta(body));
            (declared.unwrap_or(encoding_rs::UTF_8), 0)
        }
    };
    let (text, had_errors) = encoding.decode_without_bom_handling(&body[bom_len..]);
    (text.into_owned(), encoding, had_errors)
}

/// The charset a `Content-Type` names (`text/html; charset=ISO-8859-1`), if
/// it is one a browser knows.
pub(crate) fn charset_from_content_type(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let label = value.trim().trim_matches(['"', '\'']);
        Encoding::for_label_no_replacement(label.as_bytes())
    })
}

/// The charset of a `<meta charset>` or `<meta http-equiv="Content-Type"
/// content="…; charset=…">` in the first 1024 bytes. UTF-16 declared in a
/// page readable as ASCII means UTF-8, as browsers read it.
fn charset_from_meta(body: &[u8]) -> Option<&'static Encoding> {
    let head = body[..body.len().min(1024)].to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = find(&head[from..], b"<meta") {
        let start = from + pos + 5;
        let end = head[start..].iter().position(|b| *b == b'>').map_or(head.len(), |e| start + e);
        let tag = &head[start..end];
        let mut at = 0;
        while let Some(c) = find(&tag[at..], b"charset") {
            let mut rest = &tag[at + c + 7..];
            at += c + 7;
            rest = trim_ascii_start(rest);
            let Some(value) = rest.strip_prefix(b"=") else { continue };
            let value = trim_ascii_start(value);
            let value = value.strip_prefix(b"\"").or_else(|| value.strip_prefix(b"'")).unwrap_or(value);
            let len = value
                .iter()
                .position(|b| matches!(b, b'"' | b'\'' | b';' | b'/' | b'>') || b.is_ascii_whitespace())
                .unwrap_or(value.len());
            if let Some(encoding) = Encoding::for_label_no_replacement(&value[..len]) {
                let utf16 = encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE;
                return Some(if utf16 { encoding_rs::UTF_8 } else { encoding });
            }
        }
        from = end;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn trim_ascii_start(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    &b[start..]
}

// --- Nesting depth ---------------------------------------------------------

// --- Dates -----------------------------------------------------------------

/// Reads a date as pages write them (see the module documentation); `None`
/// when it is not understood. Relative forms count back from `now`. Does not
/// reject future dates: [`extract`] does.
pub fn parse_date(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match machine_date(value) {
        MachineDate::Read(t) => t,
        MachineDate::Words(s) => {
            let toks = tokenize(s);
            absolute(&toks, Some(now)).or_else(|| relative(&toks, now))
        }
    }
}

/// What the machine forms (RFC 3339, RFC 2822, Unix seconds) make of a
/// date, or its bounded text to read as words.
enum MachineDate<'a> {
    Read(Option<DateTime<Utc>>),
    Words(&'a str),
}

fn machine_date(value: &str) -> MachineDate<'_> {
    let mut s = value.trim();
    if s.len() > MAX_DATE_BYTES {
        let mut cut = MAX_DATE_BYTES;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s = &s[..cut];
    }
    if s.is_empty() {
        return MachineDate::Read(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return MachineDate::Read(Some(t.with_timezone(&Utc)));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return MachineDate::Read(Some(t.with_timezone(&Utc)));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return MachineDate::Read(epoch(s));
    }
    MachineDate::Words(s)
}

/// Reads a date that needs no clock: the machine and written-out forms of
/// [`parse_date`] that give a year (`Mon, 16 Nov 2026 08:00:00 CET`, `lun.,
/// 23 nov. 2026 08:00`), not relative nor year-less ones. The feed reader's
/// fallback when feed-rs does not understand a date.
pub(crate) fn parse_absolute_date(value: &str) -> Option<DateTime<Utc>> {
    match machine_date(value) {
        MachineDate::Read(t) => t,
        MachineDate::Words(s) => absolute(&tokenize(s), None),
    }
}

/// Unix time in seconds (9–10 digits) or milliseconds (12–13 digits).
fn epoch(digits: &str) -> Option<DateTime<Utc>> {
    let n: i64 = digits.parse().ok()?;
    match digits.len() {
        9 | 10 => DateTime::from_timestamp(n, 0),
        12 | 13 => DateTime::from_timestamp_millis(n),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num { value: u64, digits: usize },
    Word(String),
    Punct(char),
}

/// Numbers, words (lower-case, accents folded) and punctuation; whitespace separates.
fn tokenize(s: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) {
            let (mut value, mut digits) = (u64::from(d), 1usize);
            while let Some(d) = chars.peek().filter(|c| c.is_ascii_digit()).and_then(|c| c.to_digit(10)) {
                value = value.saturating_mul(10).saturating_add(u64::from(d));
                digits += 1;
                chars.next();
            }
            toks.push(Tok::Num { value, digits });
        } else if c.is_alphabetic() {
            let mut word = String::new();
            word.extend(c.to_lowercase().map(fold));
            while let Some(c) = chars.peek().copied().filter(|c| c.is_alphabetic()) {
                word.extend(c.to_lowercase().map(fold));
                chars.next();
            }
            toks.push(Tok::Word(word));
        } else if !c.is_whitespace() {
            toks.push(Tok::Punct(c));
        }
    }
    toks
}

fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        c => c,
    }
}

fn month(word: &str) -> Option<u32> {
    Some(match word {
        "janvier" | "janv" | "jan" | "january" => 1,
        "fevrier" | "fevr" | "fev" | "feb" | "february" => 2,
        "mars" | "mar" | "march" => 3,
        "avril" | "avr" | "apr" | "april" => 4,
        "mai" | "may" => 5,
        "juin" | "jun" | "june" => 6,
        "juillet" | "juil" | "jul" | "july" => 7,
        "aout" | "aug" | "august" => 8,
        "septembre" | "sept" | "sep" | "september" => 9,
        "octobre" | "oct" | "october" => 10,
        "novembre" | "nov" | "november" => 11,
        "decembre" | "dec" | "december" => 12,
        _ => return None,
    })
}

/// A calendar date found in the tokens, the year possibly missing.
#[derive(Debug, Clone, Copy)]
struct DateHit {
    year: Option<i32>,
    month: u32,
    day: u32,
    start: usize,
    end: usize,
}

fn num(toks: &[Tok], i: usize) -> Option<(u64, usize)> {
    match toks.get(i) {
        Some(Tok::Num { value, digits }) => Some((*value, *digits)),
        _ => None,
    }
}

fn word(toks: &[Tok], i: usize) -> Option<&str> {
    match toks.get(i) {
        Some(Tok::Word(w)) => Some(w.as_str()),
        _ => None,
    }
}

fn punct(toks: &[Tok], i: usize) -> Option<char> {
    match toks.get(i) {
        Some(Tok::Punct(c)) => Some(*c),
        _ => None,
    }
}

fn small(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn year_of(value: u64, digits: usize) -> Option<i32> {
    match digits {
        4 => i32::try_from(value).ok().filter(|y| (1900..=2999).contains(y)),
        2 => i32::try_from(value).ok().map(|y| 2000 + y),
        _ => None,
    }
}

/// Every calendar date in the tokens, in order.
fn date_hits(toks: &[Tok]) -> Vec<DateHit> {
    let mut hits = Vec::new();
    for i in 0..toks.len() {
        // YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD
        if let (Some((y, 4)), Some(s1), Some((m, 1..=2)), Some(s2), Some((d, 1..=2))) =
            (num(toks, i), punct(toks, i + 1), num(toks, i + 2), punct(toks, i + 3), num(toks, i + 4))
            && s1 == s2
            && matches!(s1, '-' | '/' | '.')
            && let Some(year) = year_of(y, 4)
        {
            hits.push(DateHit { year: Some(year), month: small(m), day: small(d), start: i, end: i + 5 });
            continue;
        }
        // DD/MM/YYYY, DD.MM.YY, DD-MM-YYYY: day first; month first only when
        // the day-first reading is impossible (03/25/2026).
        if let (Some((a, 1..=2)), Some(s1), Some((b, 1..=2)), Some(s2), Some((y, yd @ (2 | 4)))) =
            (num(toks, i), punct(toks, i + 1), num(toks, i + 2), punct(toks, i + 3), num(toks, i + 4))
            && s1 == s2
            && matches!(s1, '-' | '/' | '.')
            && let Some(year) = year_of(y, yd)
        {
            let (day, month) = if b > 12 && a <= 12 { (b, a) } else { (a, b) };
            hits.push(DateHit { year: Some(year), month: small(month), day: small(day), start: i, end: i + 5 });
            continue;
        }
        // 12 mars 2026, 1er février, 3rd of March 2026, 12 Mar. 2026
        if let Some((d, 1..=2)) = num(toks, i) {
            let mut j = i + 1;
            if word(toks, j).is_some_and(|w| matches!(w, "er" | "st" | "nd" | "rd" | "th" | "e" | "eme")) {
                j += 1;
            }
            if punct(toks, j) == Some('.') {
                j += 1;
            }
            if word(toks, j) == Some("of") {
                j += 1;
            }
            if let Some(m) = word(toks, j).and_then(month) {
                let (year, end) = year_after(toks, j + 1);
                hits.push(DateHit { year, month: m, day: small(d), start: i, end });
                continue;
            }
        }
        // March 12, 2026; Mar 12th 2026
        if let Some(m) = word(toks, i).and_then(month) {
            let mut j = i + 1;
            if punct(toks, j) == Some('.') {
                j += 1;
            }
            if let Some((d, 1..=2)) = num(toks, j) {
                // "mars 14:30" is a time, not a day.
                if !matches!(punct(toks, j + 1), Some(':')) && word(toks, j + 1) != Some("h") {
                    let mut k = j + 1;
                    if word(toks, k).is_some_and(|w| matches!(w, "st" | "nd" | "rd" | "th" | "er")) {
                        k += 1;
                    }
                    let (year, end) = year_after(toks, k);
                    hits.push(DateHit { year, month: m, day: small(d), start: i, end });
                }
            }
        }
    }
    hits
}

/// A four-digit year at `j` (after an optional `,` or `.`), and where the date ends.
fn year_after(toks: &[Tok], j: usize) -> (Option<i32>, usize) {
    let k = if matches!(punct(toks, j), Some(',' | '.')) { j + 1 } else { j };
    match num(toks, k) {
        // Not the hour of "12 mars 14:30".
        Some((y, 4)) if punct(toks, k + 1) != Some(':') => match year_of(y, 4) {
            Some(year) => (Some(year), k + 1),
            None => (None, j),
        },
        _ => (None, j),
    }
}

/// A time of day in `toks[from..to]`: hour, minute, second and, when given,
/// the UTC offset in seconds.
fn find_time(toks: &[Tok], from: usize, to: usize) -> Option<(NaiveTime, Option<i32>)> {
    (from..to.min(toks.len())).find_map(|i| time_at(toks, i))
}

fn time_at(toks: &[Tok], i: usize) -> Option<(NaiveTime, Option<i32>)> {
    let (h, hd) = num(toks, i)?;
    if hd > 2 {
        return None;
    }
    let (mut minute, mut second) = (0u64, 0u64);
    let mut j;
    if punct(toks, i + 1) == Some(':') {
        let (m, 2) = num(toks, i + 2)? else { return None };
        minute = m;
        j = i + 3;
        if punct(toks, j) == Some(':')
            && let Some((s, 2)) = num(toks, j + 1)
        {
            second = s;
            j += 2;
            // Fractions of a second.
            if matches!(punct(toks, j), Some('.' | ',')) && num(toks, j + 1).is_some() {
                j += 2;
            }
        }
    } else if word(toks, i + 1) == Some("h") {
        j = i + 2;
        if let Some((m, 2)) = num(toks, j) {
            minute = m;
            j += 1;
            if word(toks, j).is_some_and(|w| matches!(w, "min" | "mn")) {
                j += 1;
            }
        }
    } else if word(toks, i + 1).is_some_and(|w| matches!(w, "am" | "pm" | "a" | "p")) {
        j = i + 1;
    } else {
        return None;
    }
    let mut hour = h;
    let (meridiem, after) = meridiem(toks, j);
    if let Some(pm) = meridiem {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = match (pm, hour) {
            (false, 12) => 0,
            (true, 12) => 12,
            (true, h) => h + 12,
            (false, h) => h,
        };
        j = after;
    } else if punct(toks, i + 1) != Some(':') && word(toks, i + 1) != Some("h") {
        return None;
    }
    let time = NaiveTime::from_hms_opt(small(hour), small(minute), small(second.min(59)))?;
    Some((time, offset_at(toks, j)))
}

/// `am`, `pm`, `a.m.`, `p.m.` at `j`: whether it is afternoon, and the index after it.
fn meridiem(toks: &[Tok], j: usize) -> (Option<bool>, usize) {
    match word(toks, j) {
        Some("am") => (Some(false), j + 1),
        Some("pm") => (Some(true), j + 1),
        Some(w @ ("a" | "p")) if punct(toks, j + 1) == Some('.') && word(toks, j + 2) == Some("m") => {
            let end = if punct(toks, j + 3) == Some('.') { j + 4 } else { j + 3 };
            (Some(w == "p"), end)
        }
        _ => (None, j),
    }
}

/// A UTC offset at `j`: `Z`, `UTC`, `GMT` (optionally followed by an offset),
/// `+01:00`, `-0500`, or a common zone abbreviation.
fn offset_at(toks: &[Tok], j: usize) -> Option<i32> {
    let named = match word(toks, j) {
        Some("z" | "utc" | "gmt" | "ut") => Some(0),
        Some("cet" | "bst" | "wat") => Some(3600),
        Some("cest" | "eet") => Some(7200),
        Some("est" | "cdt") => Some(-5 * 3600),
        Some("edt") => Some(-4 * 3600),
        Some("cst" | "mdt") => Some(-6 * 3600),
        Some("mst" | "pdt") => Some(-7 * 3600),
        Some("pst") => Some(-8 * 3600),
        _ => None,
    };
    let k = if named.is_some() { j + 1 } else { j };
    let sign = match punct(toks, k) {
        Some('+') => 1,
        Some('-' | '−') => -1,
        _ => return named,
    };
    let (hours, minutes) = match (num(toks, k + 1), punct(toks, k + 2), num(toks, k + 3)) {
        (Some((h, 1..=2)), Some(':'), Some((m, 2))) => (h, m),
        (Some((hm, 4)), _, _) => (hm / 100, hm % 100),
        (Some((h, 1..=2)), _, _) => (h, 0),
        _ => return named,
    };
    if hours > 14 || minutes > 59 {
        return named;
    }
    i32::try_from(hours * 3600 + minutes * 60).ok().map(|secs| sign * secs)
}

/// A date written out (numbers or month names), with its time when given.
/// Without `now`, only a date that gives its year is read.
fn absolute(toks: &[Tok], now: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    let hits = date_hits(toks);
    let valid = |h: &&DateHit| {
        let year = h.year.unwrap_or(2000); // a leap year, for 29 February
        NaiveDate::from_ymd_opt(year, h.month, h.day).is_some()
    };
    let with_year = hits.iter().filter(valid).find(|h| h.year.is_some());
    let hit = *match now {
        Some(_) => with_year.or_else(|| hits.iter().find(valid)),
        None => with_year,
    }?;
    let (time, offset) = find_time(toks, hit.end, toks.len())
        .or_else(|| find_time(toks, 0, hit.start))
        .map_or((NaiveTime::MIN, None), |(t, o)| (t, o));
    let at = |year: i32| -> Option<DateTime<Utc>> {
        let local = NaiveDateTime::new(NaiveDate::from_ymd_opt(year, hit.month, hit.day)?, time);
        let offset = FixedOffset::east_opt(offset.unwrap_or(0))?;
        offset.from_local_datetime(&local).single().map(|t| t.with_timezone(&Utc))
    };
    match hit.year {
        Some(year) => at(year),
        // Without a year: the latest such date that is not in the future.
        None => {
            let now = now?;
            let this_year = at(now.year());
            match this_year {
                Some(t) if t <= a_day_after(now) => Some(t),
                _ => at(now.year() - 1),
            }
        }
    }
}

/// A quantity word or number at `i`.
fn quantity(toks: &[Tok], i: usize) -> Option<u64> {
    if let Some((n, _)) = num(toks, i) {
        return Some(n);
    }
    Some(match word(toks, i)? {
        "un" | "une" | "a" | "an" | "one" => 1,
        "deux" | "two" => 2,
        "trois" | "three" | "quelques" | "few" | "several" | "plusieurs" => 3,
        "quatre" | "four" => 4,
        "cinq" | "five" => 5,
        "six" => 6,
        "sept" | "seven" => 7,
        "huit" | "eight" => 8,
        "neuf" | "nine" => 9,
        "dix" | "ten" => 10,
        _ => return None,
    })
}

/// A duration unit at `i`, in seconds.
fn unit(toks: &[Tok], i: usize) -> Option<i64> {
    Some(match word(toks, i)? {
        "s" | "sec" | "secs" | "seconde" | "secondes" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "mn" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "heure" | "heures" | "hour" | "hours" => 3600,
        "j" | "jour" | "jours" | "d" | "day" | "days" => 86_400,
        "sem" | "semaine" | "semaines" | "w" | "wk" | "wks" | "week" | "weeks" => 7 * 86_400,
        "mois" | "mo" | "month" | "months" => 30 * 86_400,
        "an" | "ans" | "annee" | "annees" | "y" | "yr" | "yrs" | "year" | "years" => 365 * 86_400,
        _ => return None,
    })
}

/// `il y a 3 jours`, `2 hours ago`, `hier à 14h30`, `yesterday`, `3 j`…
fn relative(toks: &[Tok], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let has = |w: &str| toks.iter().any(|t| matches!(t, Tok::Word(x) if x == w));
    if has("instant") || has("now") || has("maintenant") {
        return Some(now);
    }
    let days_back = if has("avant") && has("hier") {
        Some(2)
    } else if has("hier") || has("yesterday") {
        Some(1)
    } else if has("aujourdhui") || (has("aujourd") && has("hui")) || has("today") {
        Some(0)
    } else {
        None
    };
    if let Some(days) = days_back {
        let day = now.checked_sub_signed(TimeDelta::try_days(days)?)?;
        return Some(match find_time(toks, 0, toks.len()) {
            Some((time, offset)) => {
                let local = NaiveDateTime::new(day.date_naive(), time);
                FixedOffset::east_opt(offset.unwrap_or(0))?.from_local_datetime(&local).single()?.with_timezone(&Utc)
            }
            None => day,
        });
    }

    // Sum of "quantity unit" pairs: "1 jour et 3 heures".
    let mut seconds: i64 = 0;
    let mut pairs = 0;
    let mut covered = 0;
    let mut i = 0;
    while i < toks.len() {
        if let (Some(q), Some(u)) = (quantity(toks, i), unit(toks, i + 1)) {
            if q > 100_000 {
                return None;
            }
            seconds = seconds.checked_add(i64::try_from(q).ok()?.checked_mul(u)?)?;
            pairs += 1;
            covered += 2;
            i += 2;
        } else {
            if matches!(word(toks, i), Some("et" | "and")) || matches!(punct(toks, i), Some(',' | '-')) {
                covered += 1;
            }
            i += 1;
        }
    }
    if pairs == 0 {
        return None;
    }
    let il_y_a = toks.windows(3).any(|w| {
        matches!((&w[0], &w[1], &w[2]), (Tok::Word(a), Tok::Word(b), Tok::Word(c)) if a == "il" && b == "y" && c == "a")
    });
    let marked = il_y_a || has("ago") || has("depuis");
    if !marked && covered != toks.len() {
        return None;
    }
    now.checked_sub_signed(TimeDelta::try_seconds(seconds)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 15, 10, 0, 0).unwrap()
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[track_caller]
    fn date(s: &str) -> Option<DateTime<Utc>> {
        parse_date(s, now())
    }

    #[test]
    fn machine_formats() {
        assert_eq!(date("2026-03-12T14:30:00+01:00"), Some(at(2026, 3, 12, 13, 30)));
        assert_eq!(date("2026-03-12T14:30:00Z"), Some(at(2026, 3, 12, 14, 30)));
        assert_eq!(date("Thu, 12 Mar 2026 14:30:00 +0100"), Some(at(2026, 3, 12, 13, 30)));
        assert_eq!(date("2026-03-12"), Some(at(2026, 3, 12, 0, 0)));
        assert_eq!(date("2026-03-12 14:30"), Some(at(2026, 3, 12, 14, 30)));
        assert_eq!(date("2026-03-12T14:30:05.123"), Some(at(2026, 3, 12, 14, 30) + TimeDelta::seconds(5)));
        assert_eq!(date("1773325800"), Some(at(2026, 3, 12, 14, 30)));
        assert_eq!(date("1773325800000"), Some(at(2026, 3, 12, 14, 30)));
    }

    #[test]
    fn numeric_dates_are_day_first() {
        assert_eq!(date("12/03/2026"), Some(at(2026, 3, 12, 0, 0)));
        assert_eq!(date("03/12/2025"), Some(at(2025, 12, 3, 0, 0)));
        assert_eq!(date("12.03.2026 à 14:30"), Some(at(2026, 3, 12, 14, 30)));
        assert_eq!(date("Le 12/03/26 à 9h05"), Some(at(2026, 3, 12, 9, 5)));
        // Day first is impossible: month first.
        assert_eq!(date("03/25/2025"), Some(at(2025, 3, 25, 0, 0)));
        assert_eq!(date("31/02/2026"), None);
    }

    #[test]
    fn month_names_in_french_and_english() {
        assert_eq!(date("12 mars 2026"), Some(at(2026, 3, 12, 0, 0)));
        assert_eq!(date("1er février 2026 à 14h30"), Some(at(2026, 2, 1, 14, 30)));
        assert_eq!(date("1er fevrier 2026 a 14h"), Some(at(2026, 2, 1, 14, 0)));
        assert_eq!(date("Publié le mardi 3 févr. 2026, 08:15"), Some(at(2026, 2, 3, 8, 15)));
        assert_eq!(date("mar. 10 mars 2026"), Some(at(2026, 3, 10, 0, 0)));
        assert_eq!(date("15 AOÛT 2025"), Some(at(2025, 8, 15, 0, 0)));
        assert_eq!(date("March 12, 2026"), Some(at(2026, 3, 12, 0, 0)));
        assert_eq!(date("Mar 12th, 2026 at 2:30 pm"), Some(at(2026, 3, 12, 14, 30)));
        assert_eq!(date("12 Mar 2026"), Some(at(2026, 3, 12, 0, 0)));
        assert_eq!(date("Posted on 3rd of March 2026, 11:05 a.m."), Some(at(2026, 3, 3, 11, 5)));
        assert_eq!(date("12 March 2026 18:00 CET"), Some(at(2026, 3, 12, 17, 0)));
        assert_eq!(date("12 mars 2026 14:30 +02:00"), Some(at(2026, 3, 12, 12, 30)));
    }

    #[test]
    fn a_date_without_year_is_within_the_last_twelve_months() {
        assert_eq!(date("12 mars"), Some(at(2026, 3, 12, 0, 0)));
        assert_eq!(date("le 20 mars à 10h"), Some(at(2025, 3, 20, 10, 0)));
        assert_eq!(date("December 24"), Some(at(2025, 12, 24, 0, 0)));
    }

    #[test]
    fn relative_dates_count_back_from_now() {
        let n = now();
        assert_eq!(date("il y a 3 jours"), Some(n - TimeDelta::days(3)));
        assert_eq!(date("Il y a 2 h"), Some(n - TimeDelta::hours(2)));
        assert_eq!(date("il y a une heure"), Some(n - TimeDelta::hours(1)));
        assert_eq!(date("Publié il y a 1 jour et 3 heures"), Some(n - TimeDelta::hours(27)));
        assert_eq!(date("il y a 2 semaines"), Some(n - TimeDelta::days(14)));
        assert_eq!(date("il y a 1 an"), Some(n - TimeDelta::days(365)));
        assert_eq!(date("3 days ago"), Some(n - TimeDelta::days(3)));
        assert_eq!(date("an hour ago"), Some(n - TimeDelta::hours(1)));
        assert_eq!(date("2 hours ago"), Some(n - TimeDelta::hours(2)));
        assert_eq!(date("3d"), Some(n - TimeDelta::days(3)));
        assert_eq!(date("5 min"), Some(n - TimeDelta::minutes(5)));
        assert_eq!(date("hier"), Some(n - TimeDelta::days(1)));
        assert_eq!(date("Yesterday"), Some(n - TimeDelta::days(1)));
        assert_eq!(date("hier à 18h05"), Some(at(2026, 3, 14, 18, 5)));
        assert_eq!(date("avant-hier, 09:30"), Some(at(2026, 3, 13, 9, 30)));
        assert_eq!(date("aujourd'hui à 08:00"), Some(at(2026, 3, 15, 8, 0)));
        assert_eq!(date("Aujourd’hui"), Some(n));
        assert_eq!(date("today at 7:45 am"), Some(at(2026, 3, 15, 7, 45)));
        assert_eq!(date("à l'instant"), Some(n));
        assert_eq!(date("just now"), Some(n));
    }

    #[test]
    fn nonsense_is_not_a_date() {
        for s in ["", "   ", "bientôt", "3 étoiles sur 5", "12", "2026", "le 45 mars 2026", "il y a longtemps", "x:y"]
        {
            assert_eq!(date(s), None, "{s:?}");
        }
        // Absurd quantities do not overflow.
        assert_eq!(date("il y a 99999999999999999999 ans"), None);
        assert_eq!(date("il y a 99999 ans"), now().checked_sub_signed(TimeDelta::days(99_999 * 365)));
    }

    #[test]
    fn no_date_string_panics() {
        let samples = ["12:", "h", "12 h", "1/2/", "il y a", "ago", "- 3 +", "99:99", "12 mars 14:", "pm", "a.m."];
        for s in samples {
            let _ = date(s);
        }
        // Every prefix of a rich string.
        let rich = "Publié le 1er février 2026 à 14h30:05.12 +01:00 (il y a 3 jours)";
        for (i, _) in rich.char_indices() {
            let _ = date(&rich[..i]);
        }
    }

    #[test]
    fn deep_pages_are_refused_quickly() {
        let sel = Selectors { item: "div".into(), ..Selectors::default() }.compile().unwrap();
        let page = Url::parse("https://example.org/").unwrap();
        let body = "<div>".repeat(1_000_000);
        let started = Instant::now();
        let err = extract(body.as_bytes(), None, &page, &sel, SourceKind::Web, now()).unwrap_err();
        assert_eq!(err, HtmlError::TooDeep { limit: MAX_DEPTH });
        assert!(started.elapsed().as_secs() < 10, "took {:?}", started.elapsed());
    }

    #[test]
    fn nested_items_stop_at_the_work_budget() {
        // 100 nested items, each holding 100 elements: walking every item's
        // whole subtree visits about a million nodes.
        let body =
            format!("{}{}", format!("<div class=n>{}", "<i>x</i>".repeat(100)).repeat(100), "</div>".repeat(100));
        let sel =
            Selectors { item: "div.n".into(), title: Some("b".into()), ..Selectors::default() }.compile().unwrap();
        let page_url = Url::parse("https://example.org/").unwrap();
        let run = |budget| extract_with_budget(body.as_bytes(), None, &page_url, &sel, SourceKind::Web, now(), budget);
        let whole = run(NODE_BUDGET).unwrap();
        assert_eq!(whole.items.len(), 100);
        assert!(whole.warnings.is_empty(), "{:?}", whole.warnings);
        let cut = run(400_000).unwrap();
        assert!((5..30).contains(&cut.items.len()), "{}", cut.items.len());
        assert_eq!(
            cut.warnings,
            [format!(
                "the page is too large to read whole: stopped after {} items (does the item selector match \
                 elements nested in one another?)",
                cut.items.len()
            )]
        );
    }

    #[test]
    fn whitespace_is_collapsed_and_text_bounded() {
        assert_eq!(collapse("  a \n\t b\u{2029} \u{2029}c\u{7}\u{202E}d  ", true), "a b\ncd");
        assert_eq!(collapse("a\u{2029}b", false), "a b");
        let mut s = "é".repeat(10);
        assert!(truncate(&mut s, 9));
        assert_eq!(s, "ééé…");
        assert!(s.len() <= 9);
    }

    #[test]
    fn charset_labels() {
        assert_eq!(charset_from_content_type("text/html; charset=\"ISO-8859-1\""), Some(encoding_rs::WINDOWS_1252));
        assert_eq!(charset_from_content_type("text/html"), None);
        assert_eq!(charset_from_meta(b"<html><head><meta charset='windows-1252'>"), Some(encoding_rs::WINDOWS_1252));
        assert_eq!(
            charset_from_meta(b"<meta name=x content=\"charset of\"><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=utf-16\">"),
            Some(encoding_rs::UTF_8)
        );
        let late = format!("<html>{}<meta charset=iso-8859-15>", " ".repeat(1100));
        assert_eq!(charset_from_meta(late.as_bytes()), None);
    }

    #[test]
    fn selector_attribute_suffix() {
        assert_eq!(split_attr("a.link@href"), Ok(("a.link", Some("href"))));
        assert_eq!(split_attr("@datetime"), Ok(("", Some("datetime"))));
        assert_eq!(split_attr("a[href*=\"@\"]"), Ok(("a[href*=\"@\"]", None)));
        assert!(split_attr("a@").is_err());
    }
}

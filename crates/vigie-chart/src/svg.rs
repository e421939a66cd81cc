//! Writing SVG text: escaping, number formats, and the few elements the
//! charts use.

use crate::Color;
use crate::Lang;

/// Body text size, in user units.
pub(crate) const FONT: f64 = 11.0;
/// Estimated width of one character of body text (0.6 em).
pub(crate) const CHAR_W: f64 = FONT * 0.6;
pub(crate) const TITLE_FONT: f64 = 14.0;
/// Baseline of the chart title.
pub(crate) const TITLE_Y: f64 = 18.0;
/// Top of the first row below the title.
pub(crate) const BELOW_TITLE: f64 = 28.0;
pub(crate) const PAD: f64 = 8.0;
const INK: &str = "#333333";
const LEGEND_ROW: f64 = 18.0;

/// Escapes text for XML content (and attribute values): `& < > " '` become
/// entities, tab/CR/newline become spaces, other characters XML 1.0 forbids
/// (control characters, U+FFFE, U+FFFF) are dropped.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Trims and shortens `s` to at most `max` characters, ending with "…" when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    let s = s.trim();
    let max = max.max(1);
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Estimated width of `s` in body text.
pub(crate) fn text_width(s: &str) -> f64 {
    s.chars().count() as f64 * CHAR_W
}

/// A value as data: finite, else 0.
pub(crate) fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// Rounds to one decimal, as coordinates are written.
pub(crate) fn round1(v: f64) -> f64 {
    (finite(v) * 10.0).round() / 10.0
}

/// A coordinate: at most one decimal, no trailing zeros, never "-0".
pub(crate) fn c(v: f64) -> String {
    fixed(finite(v), 1)
}

fn fixed(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    if s == "-0" { "0".to_owned() } else { s.to_owned() }
}

const UNITS: [(f64, &str); 3] = [(1e9, "G"), (1e6, "M"), (1e3, "k")];

/// Compact number: `1200` → "1.2k", `3_400_000` → "3.4M", `0.25` → "0.25"
/// (in French "1,2k", "0,25").
pub(crate) fn num(v: f64, lang: Lang) -> String {
    lang.decimal(compact(v, |div| if div > 1.0 { 1 } else { 2 }))
}

/// A tick value, with as many decimals as the tick step needs
/// (`1500` with a step of 500 → "1.5k").
pub(crate) fn tick_label(v: f64, step: f64, lang: Lang) -> String {
    lang.decimal(compact(v, |div| {
        let rel = step / div;
        if rel >= 1.0 || !rel.is_finite() || rel <= 0.0 { 0 } else { ((-rel.log10()) - 1e-9).ceil().min(9.0) as usize }
    }))
}

/// Writes `v` with the largest unit it reaches once rounded (999 960 →
/// "1M", not "1000k"), `decimals(divisor)` giving the decimals to keep.
fn compact(v: f64, decimals: impl Fn(f64) -> usize) -> String {
    let v = finite(v);
    let sign = if v < 0.0 { "-" } else { "" };
    let a = v.abs();
    for (div, unit) in UNITS {
        let d = decimals(div);
        let p = 10f64.powi(d as i32);
        let shown = (a / div * p).round() / p;
        if shown >= 1.0 {
            return format!("{sign}{}{unit}", fixed(shown, d));
        }
    }
    fixed(v, decimals(1.0))
}

/// A share in percent: "45 %", "4.5 %", "<0.1 %" (in French "4,5 %").
pub(crate) fn pct(p: f64, lang: Lang) -> String {
    let p = finite(p);
    let text = if p >= 10.0 {
        format!("{p:.0} %")
    } else if p > 0.0 && p < 0.05 {
        "<0.1 %".to_owned()
    } else {
        format!("{} %", fixed(p, 1))
    };
    lang.decimal(text)
}

/// Shares of `values` in percent, written so that they add up to 100: each
/// is rounded to whole percents (tenths when one is under 10 %), and the
/// rounding's leftovers go to the largest remainders. A positive share that
/// rounds to nothing is "<1 %" ("<0.1 %").
pub(crate) fn shares(values: &[f64], lang: Lang) -> Vec<String> {
    let total: f64 = values.iter().map(|v| finite(*v).max(0.0)).sum();
    if total <= 0.0 {
        return values.iter().map(|_| pct(0.0, lang)).collect();
    }
    let exact: Vec<f64> = values.iter().map(|v| finite(*v).max(0.0) / total * 100.0).collect();
    let tenths = exact.iter().any(|p| *p > 0.0 && *p < 10.0);
    let unit = if tenths { 10.0 } else { 1.0 };
    let scaled: Vec<f64> = exact.iter().map(|p| p * unit).collect();
    let mut units: Vec<i64> = scaled.iter().map(|x| x.floor() as i64).collect();
    let missing = (100.0 * unit) as i64 - units.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| (scaled[*b] - scaled[*b].floor()).total_cmp(&(scaled[*a] - scaled[*a].floor())));
    for i in order.into_iter().take(missing.max(0) as usize) {
        units[i] += 1;
    }
    units
        .iter()
        .zip(&exact)
        .map(|(u, p)| {
            let text = match (*u, tenths) {
                (0, true) if *p > 0.0 => "<0.1 %".to_owned(),
                (0, false) if *p > 0.0 => "<1 %".to_owned(),
                (u, true) => format!("{} %", fixed(u as f64 / 10.0, 1)),
                (u, false) => format!("{u} %"),
            };
            lang.decimal(text)
        })
        .collect()
}

/// A legend's layout: one swatch and name per item, wrapped into rows.
pub(crate) struct Legend {
    items: Vec<(f64, f64, String, Color)>,
    pub height: f64,
}

impl Legend {
    /// Lays `items` (names already shortened) out from `top`, between `PAD`
    /// and `width - PAD`.
    pub fn new(items: &[(&str, Color)], top: f64, width: f64) -> Legend {
        let (mut x, mut row) = (PAD, 0.0);
        let mut out = Vec::with_capacity(items.len());
        for (name, color) in items {
            let w = 14.0 + text_width(name);
            if x > PAD && x + w > width - PAD {
                x = PAD;
                row += 1.0;
            }
            out.push((x, top + row * LEGEND_ROW, (*name).to_owned(), *color));
            x += w + 12.0;
        }
        let height = if out.is_empty() { 0.0 } else { (row + 1.0) * LEGEND_ROW };
        Legend { items: out, height }
    }

    pub fn draw(&self, svg: &mut Svg) {
        for (x, y, name, color) in &self.items {
            svg.rect(*x, y + 3.0, 10.0, 10.0, *color, None);
            svg.text(x + 14.0, y + 12.0, "start", "", name);
        }
    }
}

/// An SVG document being written.
pub(crate) struct Svg {
    out: String,
}

impl Svg {
    /// Opens the root with its `<title>` and `<desc>`, and writes the visible
    /// title (shortened to fit).
    pub fn new(width: f64, height: f64, title: &str, desc: &str) -> Svg {
        let mut out = String::with_capacity(4096);
        out.push_str(&format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" font-family="system-ui, sans-serif" font-size="{FONT}">"#,
            c(width),
            c(height)
        ));
        out.push_str(&format!("<title>{}</title><desc>{}</desc>", escape(title), escape(desc)));
        let mut svg = Svg { out };
        let fit = ((width - 2.0 * PAD) / (TITLE_FONT * 0.6)).max(1.0) as usize;
        let attrs = format!(r#" font-size="{TITLE_FONT}" font-weight="bold""#);
        svg.text(PAD, TITLE_Y, "start", &attrs, &truncate(title, fit));
        svg
    }

    /// A filled rectangle, with an optional tooltip.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, color: Color, tip: Option<&str>) {
        let head =
            format!(r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}""#, c(x), c(y), c(w), c(h), color.hex());
        self.out.push_str(&head);
        self.close_with_tip("rect", tip);
    }

    /// A filled circle, with a tooltip.
    pub fn circle(&mut self, x: f64, y: f64, r: f64, color: Color, tip: &str) {
        let head = format!(r#"<circle cx="{}" cy="{}" r="{}" fill="{}""#, c(x), c(y), c(r), color.hex());
        self.out.push_str(&head);
        self.close_with_tip("circle", Some(tip));
    }

    fn close_with_tip(&mut self, element: &str, tip: Option<&str>) {
        match tip {
            Some(tip) => self.out.push_str(&format!("><title>{}</title></{element}>", escape(tip))),
            None => self.out.push_str("/>"),
        }
    }

    /// A straight line in a fixed grey (`stroke` is ours, never user text).
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str) {
        self.out.push_str(&format!(
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{stroke}" stroke-width="1"/>"#,
            c(x1),
            c(y1),
            c(x2),
            c(y2)
        ));
    }

    /// An open line through `points`.
    pub fn polyline(&mut self, points: &[(f64, f64)], color: Color) {
        let pts: Vec<String> = points.iter().map(|(x, y)| format!("{},{}", c(*x), c(*y))).collect();
        self.out.push_str(&format!(
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round"/>"#,
            pts.join(" "),
            color.hex()
        ));
    }

    /// Text (escaped here); `attrs` are extra attributes of ours.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, attrs: &str, content: &str) {
        self.out.push_str(&format!(
            r#"<text x="{}" y="{}" text-anchor="{anchor}" fill="{INK}"{attrs}>{}</text>"#,
            c(x),
            c(y),
            escape(content)
        ));
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// An empty chart: the title and a "—".
pub(crate) fn empty(width: f64, height: f64, title: &str, lang: crate::Lang) -> String {
    let mut svg = Svg::new(width, height, title, lang.t("Aucune donnée.", "No data."));
    svg.text(width / 2.0, (BELOW_TITLE + height) / 2.0 + 7.0, "middle", r#" font-size="20""#, "—");
    svg.finish()
}

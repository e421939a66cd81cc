//! Charts drawn on the server as standalone SVG strings: stacked bars
//! (mentions per day by sentiment), lines (net sentiment, volumes),
//! horizontal bars (top sources, themes) and one share bar (share of voice).
//!
//! # Design
//!
//! **Why server-side SVG.** Vigie ships as one binary. Drawing the charts
//! where the data already is means no JavaScript bundle, no charting library
//! to vendor and audit, nothing for a strict Content-Security-Policy to allow
//! (`script-src 'none'` stays possible), pages that work with JavaScript off,
//! and the very same code for the web overview and the downloadable reports:
//! the caller embeds the returned string inline in its HTML.
//!
//! **Pure.** No IO, no clock, no dependencies beyond `std`, no hash maps:
//! the same input always gives the same string, byte for byte, so charts can
//! be snapshot-tested.
//!
//! **The output.** One `<svg>` root with `xmlns`, a `viewBox` and
//! `width="100%"` (it scales to a phone screen; the height follows the
//! aspect ratio), `role="img"`, a `<title>` (the chart title: its accessible
//! name) and a `<desc>` summarising the data. Each bar, segment and point
//! carries a `<title>` child, shown as a tooltip: "label · series: value".
//! Styling uses presentation attributes only (`fill`, `font-size`, …): no
//! `style` attribute or element, no `<script>`, no event attribute, no
//! external reference, no `id` (two charts on one page cannot clash).
//!
//! **Escaping.** Titles, labels, series names and suffixes come from user
//! data (watch names, page titles, hosts). Every such text goes through one
//! escaper that turns `& < > " '` into entities and drops the characters
//! XML 1.0 forbids (control characters; tab, CR and newline become spaces),
//! so hostile text such as `<script>` or `"onload=` comes out as inert text.
//! User text is only ever written as element content, never as an attribute
//! value; attribute values are numbers and colours of our own palette.
//!
//! **Robust to bad data.** Non-finite values (NaN, ±∞) count as 0; negative
//! values are clamped to 0 where a length cannot be negative (stacked bars,
//! horizontal bars, share bar), while line charts draw them (net sentiment
//! runs from -1 to 1). A series shorter than the labels is padded with 0,
//! extra values are ignored. No labels, no series, or nothing to draw gives
//! an empty chart with a "—". Sizes are clamped to a sane range.
//!
//! **Axes.** The y axis of bar and line charts spans exactly the data
//! (from 0, or the given bounds), so the highest bar touches the plot top;
//! it carries 3 to 5 "nice" ticks (steps of 1, 2 or 5 × 10ⁿ) with grid
//! lines. X labels are shortened and thinned (every k-th shown, k from the
//! plot width and the longest label) so they never overlap. Numbers are
//! compact (`1.2k`, `3.4M`, `0.25`), coordinates carry at most one decimal.
//! Text widths are estimated (0.6 em per character): good for Latin text,
//! short for wide CJK glyphs.

mod chart;
mod scale;
mod svg;
mod table;
#[cfg(test)]
mod tests;

pub use table::{Chart, DataTable};

/// A colour from the chart palette; the sentiment colours and the accents
/// come from the Okabe–Ito palette, readable with the common colour-vision
/// deficiencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// Negative sentiment (vermilion).
    Negative,
    /// Neutral sentiment (mid grey).
    Neutral,
    /// Positive sentiment (bluish green).
    Positive,
    /// Not analysed or undecided (light grey).
    Unknown,
    /// The i-th accent colour, modulo the [`ACCENTS`] palette's length.
    Accent(u8),
}

/// Accent colours for series that are not sentiments (competitors, sources):
/// Okabe–Ito, distinct for the common colour-vision deficiencies.
pub const ACCENTS: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

impl Color {
    /// The colour as `#RRGGBB`, e.g. for an HTML legend next to a chart.
    pub fn hex(self) -> &'static str {
        match self {
            Color::Negative => "#D55E00",
            Color::Neutral => "#8C8C8C",
            Color::Positive => "#009E73",
            Color::Unknown => "#C8C8C8",
            Color::Accent(i) => ACCENTS[usize::from(i) % ACCENTS.len()],
        }
    }
}

/// The language of the words a chart writes itself (its `<desc>` for screen
/// readers, "no data"); labels and titles come from the caller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    pub(crate) fn t(self, fr: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }

    /// A number written with a decimal point, the reader's way (a comma in
    /// French).
    pub(crate) fn decimal(self, written: String) -> String {
        match self {
            Lang::Fr => written.replace('.', ","),
            Lang::En => written,
        }
    }
}

/// One named series of values, one per label.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub color: Color,
    /// In a line chart, NaN is a gap (no point; the line breaks there).
    pub values: Vec<f64>,
}

/// Vertical bars, one per label, each stacking the series in order from the
/// bottom (e.g. negative, neutral, positive mentions per day).
#[derive(Clone, Debug, PartialEq)]
pub struct StackedBars {
    pub title: String,
    /// The language of the chart's own words.
    pub lang: Lang,
    /// X labels, one per bar.
    pub labels: Vec<String>,
    /// Each series' `values.len()` should equal `labels.len()`.
    pub series: Vec<Series>,
    pub width: u32,
    pub height: u32,
}

/// Lines, one per series, over the labels.
#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    pub title: String,
    /// The language of the chart's own words.
    pub lang: Lang,
    pub labels: Vec<String>,
    pub series: Vec<Series>,
    pub width: u32,
    pub height: u32,
    /// Lower bound of the y axis (e.g. -1 for net sentiment), widened if the
    /// data go below; `None`: from the data, including 0.
    pub y_min: Option<f64>,
    /// Upper bound of the y axis, widened if the data go above; `None`: from
    /// the data, including 0.
    pub y_max: Option<f64>,
    /// Draw a darker line at y = 0 when 0 is within the axis.
    pub zero_line: bool,
}

/// Horizontal bars, one row per `(label, value)`, the value written after
/// the bar; the height follows the number of rows.
#[derive(Clone, Debug, PartialEq)]
pub struct HBars {
    pub title: String,
    /// The language of the chart's own words.
    pub lang: Lang,
    pub rows: Vec<(String, f64)>,
    pub color: Color,
    pub width: u32,
    /// Appended to each written value, e.g. `" %"` or `""`.
    pub value_suffix: String,
}

/// One 100 % bar split into parts, with a legend giving each part's share
/// (share of voice).
#[derive(Clone, Debug, PartialEq)]
pub struct ShareBar {
    pub title: String,
    /// The language of the chart's own words.
    pub lang: Lang,
    pub parts: Vec<(String, f64, Color)>,
    pub width: u32,
}

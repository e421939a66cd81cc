//! The four charts.

use crate::scale::{label_step, nice_ticks};
use crate::svg::{
    BELOW_TITLE, CHAR_W, Legend, PAD, Svg, empty, finite, num, round1, shares, text_width, tick_label, truncate,
};
use crate::{Color, HBars, Lang, LineChart, Series, ShareBar, StackedBars};

const X_LABEL_CHARS: usize = 14;
const LEGEND_CHARS: usize = 24;
const GRID: &str = "#E5E5E5";
const AXIS: &str = "#999999";
const ZERO: &str = "#555555";
/// Values beyond this are clamped, so sums stay finite.
const LIMIT: f64 = 1e15;
const MIN_WIDTH: u32 = 200;
const MIN_HEIGHT: u32 = 100;
const ROW: f64 = 22.0;

fn size(v: u32, min: u32) -> f64 {
    f64::from(v.clamp(min, 4000))
}

/// A value for a line: finite, within ±`LIMIT`.
pub(crate) fn line_value(v: Option<&f64>) -> f64 {
    v.map_or(0.0, |v| finite(*v).clamp(-LIMIT, LIMIT))
}

/// A value for a length: finite, within 0..=`LIMIT`.
pub(crate) fn bar_value(v: Option<&f64>) -> f64 {
    line_value(v).max(0.0)
}

fn tip(label: &str, series: &str, value: f64, lang: Lang) -> String {
    format!("{} · {}: {}", label.trim(), series.trim(), num(value, lang))
}

fn names(series: &[Series]) -> String {
    series.iter().map(|s| s.name.trim()).collect::<Vec<_>>().join(", ")
}

/// The plot area of a bar or line chart, its y axis (`lo..=hi`, exactly),
/// its x labels and legend.
pub(crate) struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    step: f64,
    labels: Vec<String>,
    /// Every `every`-th label is shown, counted back from the last one.
    pub every: usize,
    legend: Legend,
    lang: Lang,
}

impl Frame {
    fn new(labels: &[String], series: &[Series], width: u32, height: u32, lo: f64, hi: f64, lang: Lang) -> Frame {
        let width = size(width, MIN_WIDTH);
        let names: Vec<String> = series.iter().map(|s| truncate(&s.name, LEGEND_CHARS)).collect();
        let items: Vec<(&str, Color)> = names.iter().zip(series).map(|(n, s)| (n.as_str(), s.color)).collect();
        let legend = Legend::new(&items, BELOW_TITLE, width);
        let top = BELOW_TITLE + legend.height + 10.0;
        let height = size(height, MIN_HEIGHT).max(top + 62.0);
        let bottom = height - 22.0;
        let (ticks, step) = nice_ticks(lo, hi);
        let tick_w = ticks.iter().map(|t| text_width(&tick_label(*t, step, lang))).fold(0.0, f64::max);
        let labels: Vec<String> = labels.iter().map(|l| truncate(l, X_LABEL_CHARS)).collect();
        let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        // Half the widest label: the first and last labels stay inside.
        let half = widest as f64 * CHAR_W / 2.0 + 2.0;
        let left = (tick_w + 10.0).max(half).max(PAD);
        let right = width - half.max(12.0);
        let every = label_step(labels.len(), right - left, widest);
        Frame { width, height, left, right, top, bottom, lo, hi, ticks, step, labels, every, legend, lang }
    }

    pub fn slot(&self) -> f64 {
        (self.right - self.left) / self.labels.len().max(1) as f64
    }

    /// Centre of the i-th label's slot.
    pub fn x(&self, i: usize) -> f64 {
        self.left + (i as f64 + 0.5) * self.slot()
    }

    pub fn y(&self, v: f64) -> f64 {
        self.bottom - (v - self.lo) / (self.hi - self.lo) * (self.bottom - self.top)
    }

    /// Legend, grid lines with tick labels, baseline and the shown x labels.
    fn draw(&self, svg: &mut Svg) {
        self.legend.draw(svg);
        for t in &self.ticks {
            let y = self.y(*t);
            if (y - self.bottom).abs() > 0.5 {
                svg.line(self.left, y, self.right, y, GRID);
            }
            svg.text(self.left - 6.0, y + 4.0, "end", "", &tick_label(*t, self.step, self.lang));
        }
        svg.line(self.left, self.bottom, self.right, self.bottom, AXIS);
        let n = self.labels.len();
        for (i, label) in self.labels.iter().enumerate() {
            if (n - 1 - i).is_multiple_of(self.every) {
                svg.text(self.x(i), self.bottom + 15.0, "middle", "", label);
            }
        }
    }
}

impl StackedBars {
    /// The frame and each bar's total; `None` when there is nothing to draw.
    pub(crate) fn layout(&self) -> Option<(Frame, Vec<f64>)> {
        let totals: Vec<f64> =
            (0..self.labels.len()).map(|i| self.series.iter().map(|s| bar_value(s.values.get(i))).sum()).collect();
        let max = totals.iter().copied().fold(0.0, f64::max);
        if max <= 0.0 || self.series.is_empty() {
            return None;
        }
        Some((Frame::new(&self.labels, &self.series, self.width, self.height, 0.0, max, self.lang), totals))
    }

    pub fn to_svg(&self) -> String {
        let Some((frame, totals)) = self.layout() else {
            return empty(size(self.width, MIN_WIDTH), size(self.height, MIN_HEIGHT), &self.title, self.lang);
        };
        let (mut imax, mut max) = (0, 0.0);
        for (i, t) in totals.iter().enumerate() {
            if *t > max {
                (imax, max) = (i, *t);
            }
        }
        let desc = match self.lang {
            Lang::En => format!(
                "Stacked bar chart: {} bars; series: {}. Highest total {} at {}.",
                totals.len(),
                names(&self.series),
                num(max, self.lang),
                self.labels[imax].trim()
            ),
            Lang::Fr => format!(
                "Histogramme empilé : {} barres ; séries : {}. Total le plus haut {} à {}.",
                totals.len(),
                names(&self.series),
                num(max, self.lang),
                self.labels[imax].trim()
            ),
        };
        let mut svg = Svg::new(frame.width, frame.height, &self.title, &desc);
        frame.draw(&mut svg);
        let bar_w = (frame.slot() * 0.8).max(0.5);
        for (i, label) in self.labels.iter().enumerate() {
            let mut acc = 0.0;
            for s in &self.series {
                let v = bar_value(s.values.get(i));
                if v <= 0.0 {
                    continue;
                }
                // Rounded ends, shared by neighbours: no gap, no overlap.
                let (top, bottom) = (round1(frame.y(acc + v)), round1(frame.y(acc)));
                svg.rect(
                    frame.x(i) - bar_w / 2.0,
                    top,
                    bar_w,
                    bottom - top,
                    s.color,
                    Some(&tip(label, &s.name, v, self.lang)),
                );
                acc += v;
            }
        }
        svg.finish()
    }
}

impl LineChart {
    pub fn to_svg(&self) -> String {
        let n = self.labels.len();
        if n == 0 || self.series.is_empty() {
            return empty(size(self.width, MIN_WIDTH), size(self.height, MIN_HEIGHT), &self.title, self.lang);
        }
        // A NaN (or a missing value) is a gap: no point, the line broken there.
        let points_of = |s: &Series| {
            (0..n)
                .map(|i| s.values.get(i).filter(|v| !v.is_nan()).map(|v| line_value(Some(v))))
                .collect::<Vec<Option<f64>>>()
        };
        let values = |s: &Series| points_of(s).into_iter().flatten().collect::<Vec<_>>();
        let mut all: Vec<f64> = self.series.iter().flat_map(values).collect();
        if all.is_empty() {
            all.push(0.0);
        }
        let dmin = all.iter().copied().fold(f64::INFINITY, f64::min);
        let dmax = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let bound = |b: Option<f64>| b.filter(|b| b.is_finite()).map(|b| b.clamp(-LIMIT, LIMIT));
        let lo = bound(self.y_min).unwrap_or(0.0).min(dmin);
        let mut hi = bound(self.y_max).unwrap_or(0.0).max(dmax);
        if hi <= lo {
            hi = lo + lo.abs().max(1.0);
        }
        let frame = Frame::new(&self.labels, &self.series, self.width, self.height, lo, hi, self.lang);
        let desc = match self.lang {
            Lang::En => format!(
                "Line chart: {n} points; series: {}. Values from {} to {}.",
                names(&self.series),
                num(dmin, self.lang),
                num(dmax, self.lang)
            ),
            Lang::Fr => format!(
                "Courbe : {n} points ; séries : {}. Valeurs de {} à {}.",
                names(&self.series),
                num(dmin, self.lang),
                num(dmax, self.lang)
            ),
        };
        let mut svg = Svg::new(frame.width, frame.height, &self.title, &desc);
        frame.draw(&mut svg);
        if self.zero_line && lo < 0.0 && hi > 0.0 {
            svg.line(frame.left, frame.y(0.0), frame.right, frame.y(0.0), ZERO);
        }
        let r = if n > 60 { 1.5 } else { 3.0 };
        for s in &self.series {
            let points: Vec<Option<(f64, f64, f64)>> =
                points_of(s).iter().enumerate().map(|(i, v)| v.map(|v| (frame.x(i), frame.y(v), v))).collect();
            // One polyline per run of values between gaps.
            for run in points.split(Option::is_none) {
                let run: Vec<(f64, f64)> = run.iter().flatten().map(|(x, y, _)| (*x, *y)).collect();
                if run.len() > 1 {
                    svg.polyline(&run, s.color);
                }
            }
            for (point, label) in points.iter().zip(self.labels.iter()) {
                if let Some((x, y, v)) = point {
                    svg.circle(*x, *y, r, s.color, &tip(label, &s.name, *v, self.lang));
                }
            }
        }
        svg.finish()
    }
}

impl HBars {
    pub fn to_svg(&self) -> String {
        let width = size(self.width, MIN_WIDTH);
        if self.rows.is_empty() {
            return empty(width, 70.0, &self.title, self.lang);
        }
        let values: Vec<f64> = self.rows.iter().map(|(_, v)| bar_value(Some(v))).collect();
        let max = values.iter().copied().fold(0.0, f64::max);
        let texts: Vec<String> =
            values.iter().map(|v| format!("{}{}", num(*v, self.lang), self.value_suffix)).collect();
        let value_w = texts.iter().map(|t| text_width(t)).fold(0.0, f64::max) + PAD;
        let widest = self.rows.iter().map(|(l, _)| l.trim().chars().count()).max().unwrap_or(0);
        let label_w = (widest as f64 * CHAR_W + 2.0 * PAD).min(width * 0.4);
        let fit = ((label_w - 2.0 * PAD) / CHAR_W).max(3.0) as usize;
        let bar_max = (width - label_w - value_w - PAD).max(10.0);
        let first = BELOW_TITLE + 2.0;
        let height = first + self.rows.len() as f64 * ROW + 6.0;
        let best = values.iter().position(|v| *v >= max).unwrap_or(0);
        let desc = match self.lang {
            Lang::En => format!(
                "Horizontal bar chart: {} rows. Highest: {} ({}).",
                self.rows.len(),
                self.rows[best].0.trim(),
                texts[best]
            ),
            Lang::Fr => format!(
                "Barres horizontales : {} lignes. La plus haute : {} ({}).",
                self.rows.len(),
                self.rows[best].0.trim(),
                texts[best]
            ),
        };
        let mut svg = Svg::new(width, height, &self.title, &desc);
        for (i, ((label, _), (v, text))) in self.rows.iter().zip(values.iter().zip(&texts)).enumerate() {
            let y = first + i as f64 * ROW;
            svg.text(PAD, y + 15.0, "start", "", &truncate(label, fit));
            let len = if max > 0.0 { round1(v / max * bar_max) } else { 0.0 };
            if len > 0.0 {
                svg.rect(label_w, y + 4.0, len, 14.0, self.color, Some(&format!("{}: {text}", label.trim())));
            }
            svg.text(label_w + len + 4.0, y + 15.0, "start", "", text);
        }
        svg.finish()
    }
}

impl ShareBar {
    pub fn to_svg(&self) -> String {
        let width = size(self.width, MIN_WIDTH);
        let values: Vec<f64> = self.parts.iter().map(|(_, v, _)| bar_value(Some(v))).collect();
        let total: f64 = values.iter().sum();
        if total <= 0.0 {
            return empty(width, 80.0, &self.title, self.lang);
        }
        let shares: Vec<String> = shares(&values, self.lang);
        let items: Vec<(String, Color)> = self
            .parts
            .iter()
            .zip(&shares)
            .map(|((name, _, color), share)| (format!("{} {share}", truncate(name, LEGEND_CHARS + 8)), *color))
            .collect();
        let refs: Vec<(&str, Color)> = items.iter().map(|(s, c)| (s.as_str(), *c)).collect();
        let bar_y = BELOW_TITLE + 2.0;
        let legend = Legend::new(&refs, bar_y + 32.0, width);
        let height = bar_y + 32.0 + legend.height + 6.0;
        let parts = items.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>().join(", ");
        let desc = match self.lang {
            Lang::En => format!("Share bar: {parts}."),
            Lang::Fr => format!("Barre de répartition : {parts}."),
        };
        let mut svg = Svg::new(width, height, &self.title, &desc);
        let bar_w = width - 2.0 * PAD;
        let mut acc = 0.0;
        for ((name, _, color), (v, share)) in self.parts.iter().zip(values.iter().zip(&shares)) {
            if *v <= 0.0 {
                continue;
            }
            let x0 = round1(PAD + acc / total * bar_w);
            acc += v;
            let x1 = round1(PAD + acc / total * bar_w);
            let tip = format!("{}: {share} ({})", name.trim(), num(*v, self.lang));
            svg.rect(x0, bar_y, x1 - x0, 24.0, *color, Some(&tip));
        }
        legend.draw(&mut svg);
        svg.finish()
    }
}

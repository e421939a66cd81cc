//! Every chart's data as a table of text: the text alternative a page puts
//! beside the drawing, for screen readers, keyboards and anyone who wants
//! the exact figures (the drawing's labels are compact and its tooltips
//! need a mouse).

use crate::chart::{bar_value, line_value};
use crate::svg::{finite, shares};
use crate::{HBars, Lang, LineChart, ShareBar, StackedBars};

/// A chart's values as text: one row per label (bar, point, part), one
/// column per series. Texts are raw (user text included): the caller
/// escapes them as it writes its markup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataTable {
    /// The chart's title.
    pub title: String,
    /// The headers of the value columns (the label column's is the caller's).
    pub columns: Vec<String>,
    /// Each row's label and its values, as many as `columns`.
    pub rows: Vec<(String, Vec<String>)>,
}

/// A chart: its drawing and its data.
pub trait Chart {
    /// The chart as one standalone `<svg>` element.
    fn to_svg(&self) -> String;
    /// The values the drawing shows, exactly.
    fn data_table(&self) -> DataTable;
}

impl Chart for StackedBars {
    fn to_svg(&self) -> String {
        StackedBars::to_svg(self)
    }

    fn data_table(&self) -> DataTable {
        let mut columns: Vec<String> = self.series.iter().map(|s| s.name.trim().to_owned()).collect();
        columns.push(self.lang.t("Total", "Total").to_owned());
        let rows = self
            .labels
            .iter()
            .enumerate()
            .map(|(i, label)| {
                let values: Vec<f64> = self.series.iter().map(|s| bar_value(s.values.get(i))).collect();
                let total = values.iter().sum();
                let mut cells: Vec<String> = values.into_iter().map(|v| exact(v, self.lang)).collect();
                cells.push(exact(total, self.lang));
                (label.trim().to_owned(), cells)
            })
            .collect();
        DataTable { title: self.title.clone(), columns, rows }
    }
}

impl Chart for LineChart {
    fn to_svg(&self) -> String {
        LineChart::to_svg(self)
    }

    fn data_table(&self) -> DataTable {
        let columns = self.series.iter().map(|s| s.name.trim().to_owned()).collect();
        let rows = self
            .labels
            .iter()
            .enumerate()
            .map(|(i, label)| {
                let cells = self
                    .series
                    .iter()
                    .map(|s| match s.values.get(i) {
                        // A gap in the line is no value, not zero.
                        Some(v) if !v.is_nan() => exact(line_value(Some(v)), self.lang),
                        _ => "—".to_owned(),
                    })
                    .collect();
                (label.trim().to_owned(), cells)
            })
            .collect();
        DataTable { title: self.title.clone(), columns, rows }
    }
}

impl Chart for HBars {
    fn to_svg(&self) -> String {
        HBars::to_svg(self)
    }

    fn data_table(&self) -> DataTable {
        let rows = self
            .rows
            .iter()
            .map(|(label, v)| {
                (
                    label.trim().to_owned(),
                    vec![format!("{}{}", exact(bar_value(Some(v)), self.lang), self.value_suffix)],
                )
            })
            .collect();
        DataTable { title: self.title.clone(), columns: vec![self.lang.t("Valeur", "Value").to_owned()], rows }
    }
}

impl Chart for ShareBar {
    fn to_svg(&self) -> String {
        ShareBar::to_svg(self)
    }

    fn data_table(&self) -> DataTable {
        let values: Vec<f64> = self.parts.iter().map(|(_, v, _)| bar_value(Some(v))).collect();
        let total: f64 = values.iter().sum();
        // The legend's shares, which add up to 100 %.
        let shares = if total > 0.0 { shares(&values, self.lang) } else { vec!["—".to_owned(); values.len()] };
        let rows = self
            .parts
            .iter()
            .zip(values.iter().zip(shares))
            .map(|((name, _, _), (v, share))| (name.trim().to_owned(), vec![share, exact(*v, self.lang)]))
            .collect();
        DataTable {
            title: self.title.clone(),
            columns: vec![self.lang.t("Part", "Share").to_owned(), self.lang.t("Valeur", "Value").to_owned()],
            rows,
        }
    }
}

/// A value written in full: whole numbers with their thousands grouped
/// ("12,345"; in French "12 345" with a narrow no-break space), others with
/// at most two decimals ("0.25"; "0,25").
pub(crate) fn exact(v: f64, lang: Lang) -> String {
    let v = finite(v);
    let rounded = (v * 100.0).round() / 100.0;
    let written = format!("{:.2}", rounded.abs());
    let (whole, frac) = written.split_once('.').unwrap_or((&written, ""));
    let frac = frac.trim_end_matches('0');
    let sep = lang.t("\u{202f}", ",");
    let mut grouped = String::new();
    for (i, d) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push_str(sep);
        }
        grouped.push(d);
    }
    let sign = if rounded < 0.0 { "-" } else { "" };
    if frac.is_empty() { format!("{sign}{grouped}") } else { format!("{sign}{grouped}{}{frac}", lang.t(",", ".")) }
}

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::scale::{LABEL_GAP, label_step, nice_ticks};
use crate::svg::{CHAR_W, c, escape, num, pct, tick_label};
use crate::{Color, HBars, Lang, LineChart, Series, ShareBar, StackedBars};

const ELEMENTS: &[&str] = &["svg", "title", "desc", "rect", "line", "polyline", "circle", "text"];
#[rustfmt::skip]
const ATTRIBUTES: &[&str] = &[
    "xmlns", "viewBox", "width", "height", "role", "font-family", "font-size", "font-weight", "fill", "stroke",
    "stroke-width", "stroke-linejoin", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "points", "text-anchor",
];

/// A small well-formedness check: one `<svg>` root, balanced tags, known
/// elements and attributes only (no `on*`, no `style`, no `href`), quoted
/// attribute values, only our five entities, no NaN or infinity.
fn check(svg: &str) {
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 "), "{svg}");
    assert!(svg.contains(r#"width="100%" role="img""#));
    assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    let entities = |text: &str| {
        for (i, _) in text.match_indices('&') {
            let rest = &text[i..];
            assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"].iter().any(|e| rest.starts_with(e)), "{rest}");
        }
    };
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let text = &rest[..start];
        assert!(!text.contains('>') && !text.contains('"'), "raw text {text:?}");
        assert!(text.trim().is_empty() || !stack.is_empty(), "text outside the root");
        entities(text);
        let end = start + rest[start..].find('>').unwrap();
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name), "unbalanced </{name}>");
            continue;
        }
        assert!(stack.is_empty() == (tag.starts_with("svg ")), "one root: {tag}");
        let closed = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, mut attrs) = tag.split_once(' ').unwrap_or((tag, ""));
        assert!(ELEMENTS.contains(&name), "element {name}");
        while !attrs.trim().is_empty() {
            let (attr, value) = attrs.trim_start().split_once("=\"").unwrap();
            assert!(ATTRIBUTES.contains(&attr), "attribute {attr}");
            let (value, after) = value.split_once('"').unwrap();
            assert!(!value.contains('<'));
            entities(value);
            attrs = after;
        }
        if !closed {
            stack.push(name);
        }
    }
    assert!(stack.is_empty() && rest.is_empty(), "unclosed {stack:?}");
}

fn series(name: &str, color: Color, values: &[f64]) -> Series {
    Series { name: name.to_owned(), color, values: values.to_vec() }
}

fn strings(labels: &[&str]) -> Vec<String> {
    labels.iter().map(|s| (*s).to_owned()).collect()
}

fn bars(labels: &[&str], series: Vec<Series>) -> StackedBars {
    StackedBars { title: "Mentions".into(), lang: Lang::En, labels: strings(labels), series, width: 640, height: 240 }
}

fn lines(labels: &[&str], series: Vec<Series>) -> LineChart {
    LineChart {
        title: "Net sentiment".into(),
        lang: Lang::En,
        labels: strings(labels),
        series,
        width: 640,
        height: 240,
        y_min: Some(-1.0),
        y_max: Some(1.0),
        zero_line: true,
    }
}

fn hbars(rows: &[(&str, f64)]) -> HBars {
    let rows = rows.iter().map(|(l, v)| ((*l).to_owned(), *v)).collect();
    HBars {
        title: "Top sources".into(),
        lang: Lang::En,
        rows,
        color: Color::Accent(0),
        width: 480,
        value_suffix: " %".into(),
    }
}

fn share(parts: &[(&str, f64)]) -> ShareBar {
    let parts = parts.iter().enumerate().map(|(i, (l, v))| ((*l).to_owned(), *v, Color::Accent(i as u8))).collect();
    ShareBar { title: "Share of voice".into(), lang: Lang::En, parts, width: 480 }
}

/// `[x, y, width, height]` of every rect carrying a tooltip (a bar, not a
/// legend swatch).
fn bar_rects(svg: &str) -> Vec<[f64; 4]> {
    svg.split("<rect ")
        .skip(1)
        .filter(|r| r.split("</rect>").next().unwrap().contains("<title>"))
        .map(|r| {
            let attr =
                |a: &str| r.split(&format!("{a}=\"")).nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
            [attr("x"), attr("y"), attr("width"), attr("height")]
        })
        .collect()
}

#[test]
fn hostile_text_comes_out_inert() {
    let evil = "<script>alert(1)</script>\"onload=alert(1) x='&";
    let s = vec![series(evil, Color::Negative, &[1.0, 2.0])];
    let charts = [
        StackedBars { title: evil.into(), ..bars(&[evil, "b"], s.clone()) }.to_svg(),
        LineChart { title: evil.into(), ..lines(&[evil, "b"], s) }.to_svg(),
        HBars { title: evil.into(), value_suffix: evil.into(), ..hbars(&[(evil, 3.0)]) }.to_svg(),
        ShareBar { title: evil.into(), ..share(&[(evil, 3.0), ("b", 1.0)]) }.to_svg(),
    ];
    for svg in charts {
        check(&svg);
        assert!(!svg.contains("<script") && svg.contains("&lt;script&gt;"), "{svg}");
        assert!(!svg.contains("\"onload") && svg.contains("&quot;onload="));
        assert!(svg.contains("x=&#39;&amp;"));
    }
    assert_eq!(escape("a\u{0}b\nc\u{7}\u{FFFF}d"), "ab cd");
}

#[test]
fn a_line_breaks_where_a_value_is_missing() {
    let s = vec![series("net", Color::Accent(0), &[0.5, f64::NAN, -0.2, 0.1])];
    let svg = lines(&["a", "b", "c", "d"], s).to_svg();
    check(&svg);
    assert_eq!(svg.matches("<polyline").count(), 1, "a lone first point, then one line c-d: {svg}");
    assert_eq!(svg.matches("<circle").count(), 3, "no point for the gap: {svg}");
    assert!(!svg.contains("NaN"), "{svg}");
    let all_missing = lines(&["a", "b"], vec![series("net", Color::Accent(0), &[f64::NAN, f64::NAN])]).to_svg();
    check(&all_missing);
    assert_eq!(all_missing.matches("<circle").count(), 0);
}

#[test]
fn nice_ticks_step_by_1_2_5() {
    assert_eq!(nice_ticks(0.0, 7.0).0, [0.0, 2.0, 4.0, 6.0]);
    assert_eq!(nice_ticks(-1.0, 1.0).0, [-1.0, -0.5, 0.0, 0.5, 1.0]);
    assert_eq!(nice_ticks(0.0, 1.0).0, [0.0, 0.5, 1.0]);
    assert_eq!(nice_ticks(0.0, 1234.0).0, [0.0, 500.0, 1000.0]);
    for hi in [0.003, 0.7, 1.0, 3.0, 9.99, 10.0, 11.0, 47.0, 99.0, 100.0, 101.0, 250.0, 1e6, 3.7e9] {
        let (ticks, step) = nice_ticks(0.0, hi);
        assert!((3..=5).contains(&ticks.len()), "{hi}: {ticks:?}");
        let mantissa = step / 10f64.powf(step.log10().floor());
        assert!([1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-9), "{hi}: step {step}");
        assert!(ticks.iter().all(|t| *t >= 0.0 && *t <= hi * (1.0 + 1e-9)));
    }
    assert!(nice_ticks(1.0, 1.0).0.is_empty() && nice_ticks(0.0, f64::NAN).0.is_empty());
}

#[test]
fn numbers_are_compact() {
    assert_eq!(num(1200.0, Lang::En), "1.2k");
    assert_eq!(num(3_400_000.0, Lang::En), "3.4M");
    assert_eq!(num(0.25, Lang::En), "0.25");
    assert_eq!(num(1000.0, Lang::En), "1k");
    assert_eq!(num(999_960.0, Lang::En), "1M");
    assert_eq!(num(-1500.0, Lang::En), "-1.5k");
    assert_eq!(num(42.0, Lang::En), "42");
    assert_eq!(num(f64::NAN, Lang::En), "0");
    assert_eq!(c(12.345), "12.3");
    assert_eq!(c(-0.04), "0");
    assert_eq!(c(f64::INFINITY), "0");
    assert_eq!(tick_label(1500.0, 500.0, Lang::En), "1.5k");
    assert_eq!(tick_label(500.0, 500.0, Lang::En), "500");
    assert_eq!(tick_label(0.3 * 1.0000000000000002, 0.1, Lang::En), "0.3");
    assert_eq!(tick_label(-0.5, 0.5, Lang::En), "-0.5");
    assert_eq!(pct(75.0, Lang::En), "75 %");
    assert_eq!(pct(4.54, Lang::En), "4.5 %");
    assert_eq!(pct(0.01, Lang::En), "<0.1 %");
    // French readers get a decimal comma.
    assert_eq!(num(1200.0, Lang::Fr), "1,2k");
    assert_eq!(num(-0.43, Lang::Fr), "-0,43");
    assert_eq!(tick_label(1500.0, 500.0, Lang::Fr), "1,5k");
    assert_eq!(pct(4.54, Lang::Fr), "4,5 %");
}

#[test]
fn shares_add_up_to_a_hundred() {
    use crate::svg::shares;
    // 81 / 10.55 / 8.45: rounded each on its own, 81 % + 11 % + 8.5 % (or
    // 10.6 % + 8.5 %) is more than 100.
    assert_eq!(shares(&[162.0, 21.1, 16.9], Lang::En), ["81 %", "10.6 %", "8.4 %"]);
    assert_eq!(shares(&[162.0, 21.1, 16.9], Lang::Fr), ["81 %", "10,6 %", "8,4 %"]);
    assert_eq!(shares(&[1.0, 1.0, 1.0], Lang::En), ["34 %", "33 %", "33 %"]);
    // The chart's data table gives the legend's shares.
    use crate::Chart;
    let t = share(&[("a", 1.0), ("b", 1.0), ("c", 1.0)]).data_table();
    assert_eq!(t.rows.iter().map(|r| r.1[0].as_str()).collect::<Vec<_>>(), ["34 %", "33 %", "33 %"]);
    assert_eq!(shares(&[2.0, 1.0], Lang::En), ["67 %", "33 %"]);
    assert_eq!(shares(&[100_000.0, 1.0], Lang::En), ["100 %", "<0.1 %"]);
    assert_eq!(shares(&[0.0, 0.0], Lang::En), ["0 %", "0 %"]);
    for parts in [[5.0, 7.0, 11.0, 13.0], [1.0, 2.0, 3.0, 94.0], [33.0, 33.0, 33.0, 1.0]] {
        let total: f64 = shares(&parts, Lang::En)
            .iter()
            .map(|s| s.trim_end_matches(" %").trim_start_matches('<').parse::<f64>().unwrap())
            .sum();
        assert!((total - 100.0).abs() < 1e-9, "{parts:?}: {total}");
    }
}

#[test]
fn x_labels_are_thinned_so_they_never_overlap() {
    assert_eq!(label_step(5, 600.0, 10), 1);
    assert_eq!(label_step(0, 600.0, 10), 1);
    let k = label_step(100, 600.0, 10);
    let need = 10.0 * CHAR_W + LABEL_GAP;
    assert!(k as f64 * 6.0 >= need && (k - 1) as f64 * 6.0 < need, "{k}");

    let labels: Vec<String> = (0..365).map(|i| format!("d{i:03}")).collect();
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let chart = bars(&refs, vec![series("n", Color::Neutral, &[1.0; 365])]);
    let (frame, _) = chart.layout().unwrap();
    let svg = chart.to_svg();
    check(&svg);
    let shown: Vec<usize> = (0..365).filter(|i| svg.contains(&format!(">d{i:03}</text>"))).collect();
    assert!(shown.contains(&364), "the last label is always shown");
    assert!(shown.len() > 1 && shown.len() < 365);
    for pair in shown.windows(2) {
        assert!((pair[1] - pair[0]) as f64 * frame.slot() >= 4.0 * CHAR_W + LABEL_GAP);
    }
}

#[test]
fn empty_and_non_finite_inputs_draw_without_nan() {
    let bad = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e308, -1e308];
    let svgs = [
        bars(&[], vec![]).to_svg(),
        bars(&["a", "b"], vec![]).to_svg(),
        bars(&["a", "b"], vec![series("s", Color::Unknown, &[0.0, 0.0])]).to_svg(),
        bars(&["a"; 5], vec![series("s", Color::Positive, &bad), series("t", Color::Negative, &bad)]).to_svg(),
        bars(&["a", "b", "c"], vec![series("short", Color::Positive, &[1.0])]).to_svg(),
        lines(&[], vec![series("s", Color::Accent(3), &[])]).to_svg(),
        lines(&["a"; 5], vec![series("s", Color::Accent(200), &bad)]).to_svg(),
        LineChart {
            y_min: Some(f64::NAN),
            y_max: Some(f64::NEG_INFINITY),
            ..lines(&["a"], vec![series("s", Color::Neutral, &[0.5])])
        }
        .to_svg(),
        LineChart { y_min: None, y_max: None, ..lines(&["a", "b"], vec![series("s", Color::Neutral, &[0.0, 0.0])]) }
            .to_svg(),
        hbars(&[]).to_svg(),
        hbars(&[("a", f64::NAN), ("b", 0.0), ("c", -3.0)]).to_svg(),
        share(&[]).to_svg(),
        share(&[("a", 0.0), ("b", f64::NAN)]).to_svg(),
        share(&[("a", f64::INFINITY), ("b", 1.0)]).to_svg(),
        StackedBars { width: 0, height: 0, ..bars(&["a"], vec![series("s", Color::Neutral, &[1.0])]) }.to_svg(),
    ];
    for svg in &svgs {
        check(svg);
    }
    assert!(svgs[0].contains("—") && svgs[0].contains("<desc>No data.</desc>"));
    assert!(svgs[2].contains("—"));
}

#[test]
fn a_french_chart_describes_itself_in_french() {
    let data = vec![series("négatif", Color::Negative, &[1.0, 4.0]), series("positif", Color::Positive, &[2.0, 1.0])];
    let fr = |svg: String| {
        check(&svg);
        svg.split("<desc>").nth(1).and_then(|d| d.split("</desc>").next()).unwrap().to_owned()
    };
    assert_eq!(
        fr(StackedBars { lang: Lang::Fr, ..bars(&["lun.", "mar."], data.clone()) }.to_svg()),
        "Histogramme empilé : 2 barres ; séries : négatif, positif. Total le plus haut 5 à mar.."
    );
    assert!(fr(LineChart { lang: Lang::Fr, ..lines(&["a", "b"], data) }.to_svg()).starts_with("Courbe : 2 points"));
    assert!(
        fr(HBars { lang: Lang::Fr, ..hbars(&[("x.fr", 3.0)]) }.to_svg()).starts_with("Barres horizontales : 1 lignes")
    );
    assert!(
        fr(ShareBar { lang: Lang::Fr, ..share(&[("Acme", 3.0)]) }.to_svg()).starts_with("Barre de répartition : Acme")
    );
    assert_eq!(fr(ShareBar { lang: Lang::Fr, ..share(&[]) }.to_svg()), "Aucune donnée.");
}

#[test]
fn stacked_bars_reach_the_plot_top_at_the_max_total() {
    let chart = bars(
        &["a", "b", "c"],
        vec![series("neg", Color::Negative, &[1.0, 2.0, 3.0]), series("pos", Color::Positive, &[2.0, -5.0, 4.0])],
    );
    let (frame, totals) = chart.layout().unwrap();
    assert_eq!(totals, [3.0, 2.0, 7.0]);
    let svg = chart.to_svg();
    check(&svg);
    let rects = bar_rects(&svg);
    assert_eq!(rects.len(), 5, "the negative value draws nothing");
    assert!(rects.iter().all(|r| r[3] > 0.0));
    let highest = rects.iter().map(|r| r[1]).fold(f64::INFINITY, f64::min);
    assert!((highest - frame.top).abs() <= 0.05, "{highest} vs {}", frame.top);
    // The segments of bar "c" stack without gaps, from the baseline up.
    let plot = frame.bottom - frame.top;
    assert!((rects[3][1] + rects[3][3] - frame.bottom).abs() <= 0.05);
    assert!((rects[4][1] + rects[4][3] - rects[3][1]).abs() <= 0.05);
    assert!((rects[3][3] - plot * 3.0 / 7.0).abs() <= 0.1);
    assert!(svg.contains("<title>c · pos: 4</title>"));
    assert!(svg.contains("Highest total 7 at c."));
}

#[test]
fn line_chart_draws_negative_values_and_the_zero_line() {
    let chart = lines(&["mon", "tue", "wed"], vec![series("net", Color::Accent(1), &[-0.5, 0.25, 0.8])]);
    let svg = chart.to_svg();
    check(&svg);
    assert!(svg.contains(">-0.5</text>") && svg.contains(">1</text>") && svg.contains(">-1</text>"));
    assert!(svg.contains("stroke=\"#555555\"") && svg.contains("<polyline "));
    assert!(svg.contains("<title>tue · net: 0.25</title>"));
    assert_eq!(svg.matches("<circle ").count(), 3);
}

#[test]
fn hbars_and_share_bar_write_values_and_shares() {
    let svg = hbars(&[("example.org", 1200.0), ("news.test", 300.0)]).to_svg();
    check(&svg);
    assert!(svg.contains(">1.2k %</text>") && svg.contains("<title>news.test: 300 %</title>"));
    let svg = share(&[("Us", 3.0), ("Them", 1.0)]).to_svg();
    check(&svg);
    assert!(svg.contains(">Us 75 %</text>") && svg.contains("<title>Them: 25 % (1)</title>"));
    let widths: f64 = bar_rects(&svg).iter().map(|r| r[2]).sum();
    assert!((widths - (480.0 - 16.0)).abs() <= 0.1, "the parts fill the bar: {widths}");
}

#[test]
fn output_is_deterministic() {
    let make = || {
        let s = vec![series("a", Color::Accent(0), &[1.0, 2.5, 3.0]), series("b", Color::Accent(9), &[0.5, 0.0, 7.0])];
        [
            bars(&["x", "y", "z"], s.clone()).to_svg(),
            lines(&["x", "y", "z"], s).to_svg(),
            hbars(&[("x", 1.0)]).to_svg(),
            share(&[("x", 1.0), ("y", 2.0)]).to_svg(),
        ]
    };
    assert_eq!(make(), make());
    assert_eq!(Color::Accent(9).hex(), Color::Accent(1).hex());
}

#[test]
fn every_chart_gives_its_exact_values_as_a_table() {
    use crate::Chart;
    let s =
        vec![series("neg", Color::Negative, &[1234.0, f64::NAN, -3.0]), series("pos", Color::Positive, &[0.5, 2.0])];
    let t = bars(&[" mon ", "tue", "wed"], s.clone()).data_table();
    assert_eq!(t.title, "Mentions");
    assert_eq!(t.columns, ["neg", "pos", "Total"]);
    // Full figures (not "1.2k"); what the bars clamp, the table clamps; a
    // short series is padded with 0 as it is drawn.
    assert_eq!(t.rows[0], ("mon".to_owned(), vec!["1,234".to_owned(), "0.5".to_owned(), "1,234.5".to_owned()]));
    assert_eq!(t.rows[1].1, ["0", "2", "2"]);
    assert_eq!(t.rows[2].1, ["0", "0", "0"]);

    // A line's gap is no value, not 0; negative values stay.
    let t = lines(&["mon", "tue", "wed"], vec![series("net", Color::Accent(0), &[-0.256, f64::NAN])]).data_table();
    assert_eq!(t.rows.iter().map(|r| r.1[0].as_str()).collect::<Vec<_>>(), ["-0.26", "—", "—"]);

    let t = hbars(&[("<b>example.org</b>", 1_234_567.0)]).data_table();
    assert_eq!(t.columns, ["Value"]);
    assert_eq!(t.rows, [("<b>example.org</b>".to_owned(), vec!["1,234,567 %".to_owned()])], "raw: the page escapes");

    let t = share(&[("Us", 3.0), ("Them", 1.0)]).data_table();
    assert_eq!(t.columns, ["Share", "Value"]);
    assert_eq!(t.rows[1], ("Them".to_owned(), vec!["25 %".to_owned(), "1".to_owned()]));
    let t = share(&[("Us", 0.0)]).data_table();
    assert_eq!(t.rows[0].1, ["—", "0"], "no share of nothing");

    // French: comma decimals, narrow no-break spaces between thousands.
    let mut french = bars(&["lun"], vec![series("négatif", Color::Negative, &[12345.75])]);
    french.lang = Lang::Fr;
    assert_eq!(french.data_table().rows[0].1, ["12\u{202f}345,75", "12\u{202f}345,75"]);
}

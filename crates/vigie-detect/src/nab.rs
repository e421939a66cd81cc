//! The Numenta Anomaly Benchmark's scoring, as NAB's `sweeper.py`,
//! `labeler.py` and `runner.py` compute it (Ahmad, Lavin, Purdy & Agha,
//! 2017), for detections given as one alert flag per row.
//!
//! - Windows: each label gets a window of `int(0.10 · rows / labels)` rows
//!   centred on it ([`windows_from_labels`]); overlapping windows merge.
//! - The first `min(floor(0.15 · rows), 750)` rows are a probationary period:
//!   not scored ([`probation_length`]).
//! - A detection at relative position `y` in a window (−1 left edge, 0 right
//!   edge: `y = −(right − i + 1) / width`) is worth
//!   `tp · (2·sigmoid(−5y) − 1) / (2·sigmoid(5) − 1)`; a window counts once,
//!   with its best (earliest) detection; a window without detection costs `−fn`.
//! - A detection outside every window costs
//!   `fp · (2·sigmoid(−5y) − 1)` with `y = (i − previous right edge) / (previous width − 1)`
//!   (−1 from `y ≥ 3`), or `−fp` before the first window.
//! - Normalised score: `100 · (raw − null) / (perfect − null)`, with the null
//!   detector (no detection: `−fn` per window) and the perfect one (`tp` per window).
//!
//! One difference from `../shared/tools/nab_score.py`, none on NAB's files: as
//! NAB does, a window entirely inside the probationary period is not counted.

use serde::{Deserialize, Serialize};

/// NAB's `windowSize`: the windows of a file cover 10% of its rows.
pub const WINDOW_SIZE: f64 = 0.10;
/// NAB's `probationPercent`.
pub const PROBATION_PERCENT: f64 = 0.15;

/// A profile's weights (`profiles.json`'s `CostMatrix`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CostMatrix {
    pub tp_weight: f64,
    pub fp_weight: f64,
    pub fn_weight: f64,
    #[serde(default = "one")]
    pub tn_weight: f64,
}

fn one() -> f64 {
    1.0
}

impl CostMatrix {
    /// The standard profile.
    pub const STANDARD: CostMatrix = CostMatrix { tp_weight: 1.0, fp_weight: 0.11, fn_weight: 1.0, tn_weight: 1.0 };
    /// The profile that rewards a low false-positive rate.
    pub const LOW_FP: CostMatrix = CostMatrix { tp_weight: 1.0, fp_weight: 0.22, fn_weight: 1.0, tn_weight: 1.0 };
    /// The profile that rewards a low false-negative rate.
    pub const LOW_FN: CostMatrix = CostMatrix { tp_weight: 1.0, fp_weight: 0.11, fn_weight: 2.0, tn_weight: 1.0 };
}

/// A window: the first and last row it covers (inclusive).
pub type Window = (usize, usize);

/// Why a file cannot be scored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NabError {
    #[error("window {index} ({start}..={end}) is outside the {rows} rows or reversed")]
    BadWindow { index: usize, start: usize, end: usize, rows: usize },
    #[error("window {index} starts before window {previous} ends: windows must be sorted and disjoint")]
    Overlap { index: usize, previous: usize },
    #[error("label at row {row} is outside the {rows} rows")]
    BadLabel { row: usize, rows: usize },
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// NAB's `scaledSigmoid`.
pub fn scaled_sigmoid(position: f64) -> f64 {
    if position >= 3.0 { -1.0 } else { 2.0 * sigmoid(-5.0 * position) - 1.0 }
}

/// The number of unscored rows at the start of a file of `rows` rows.
pub fn probation_length(rows: usize) -> usize {
    let percent = (PROBATION_PERCENT * rows as f64).floor();
    percent.min(PROBATION_PERCENT * 5000.0) as usize
}

/// NAB's windows for labels at these rows (`labeler.py`: `applyWindows`,
/// then `checkWindows`: a first window starting inside the probationary
/// period is dropped, and a window overlapping the next merges with it).
pub fn windows_from_labels(rows: usize, labels: &[usize]) -> Result<Vec<Window>, NabError> {
    if let Some(&row) = labels.iter().find(|&&r| r >= rows) {
        return Err(NabError::BadLabel { row, rows });
    }
    if labels.is_empty() {
        return Ok(Vec::new());
    }
    let length = (WINDOW_SIZE * rows as f64 / labels.len() as f64) as usize;
    let half = length / 2;
    let mut windows: Vec<Window> =
        labels.iter().map(|&a| (a.saturating_sub(half), (a + half).min(rows.saturating_sub(1)))).collect();
    if windows.first().is_some_and(|w| w.0 < probation_length(rows)) {
        windows.remove(0);
    }
    // As NAB: one pass, a merged window is not compared with the one after next.
    let mut i = 0;
    while i + 1 < windows.len() {
        if windows[i + 1].0 <= windows[i].1 {
            windows[i].1 = windows[i + 1].1;
            windows.remove(i + 1);
        }
        i += 1;
    }
    Ok(windows)
}

/// The score of one file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileScore {
    /// The raw score (the sum NAB reports per file).
    pub raw: f64,
    /// NAB's counts of scored rows: alerts in a window, rows without alert
    /// outside windows, alerts outside windows, rows without alert in a window.
    pub tp: usize,
    pub tn: usize,
    pub fp: usize,
    pub fn_: usize,
    /// Windows counted, and those with at least one scored detection.
    pub windows: usize,
    pub detected: usize,
    /// Raw score of the null detector (no detection) and of a perfect one.
    pub null: f64,
    pub perfect: f64,
}

impl FileScore {
    /// `100 · (raw − null) / (perfect − null)` (0 = null detector, 100 = perfect).
    pub fn normalised(&self) -> f64 {
        normalised(self.raw, self.null, self.perfect)
    }

    /// Adds another file's score (a corpus total).
    pub fn add(&mut self, other: &FileScore) {
        self.raw += other.raw;
        self.tp += other.tp;
        self.tn += other.tn;
        self.fp += other.fp;
        self.fn_ += other.fn_;
        self.windows += other.windows;
        self.detected += other.detected;
        self.null += other.null;
        self.perfect += other.perfect;
    }
}

/// NAB's normalisation.
pub fn normalised(raw: f64, null: f64, perfect: f64) -> f64 {
    if perfect > null { 100.0 * (raw - null) / (perfect - null) } else { 0.0 }
}

/// Scores one file's alerts (one flag per row) against its windows.
pub fn score(alerts: &[bool], windows: &[Window], cost: &CostMatrix) -> Result<FileScore, NabError> {
    let rows = alerts.len();
    for (index, &(start, end)) in windows.iter().enumerate() {
        if start > end || end >= rows {
            return Err(NabError::BadWindow { index, start, end, rows });
        }
        if index > 0 && start <= windows[index - 1].1 {
            return Err(NabError::Overlap { index, previous: index - 1 });
        }
    }
    let probation = probation_length(rows);
    let max_tp = scaled_sigmoid(-1.0);
    let mut result = FileScore::default();
    let mut fp_sum = 0.0;
    // Best detection per window; None = missed (or not counted if unscored).
    let mut best: Vec<Option<f64>> = vec![None; windows.len()];
    let mut counted = vec![false; windows.len()];
    let mut current = 0usize; // the next window not yet passed
    let mut previous: Option<(usize, f64)> = None; // right edge and width of the last window passed
    for (i, &alert) in alerts.iter().enumerate() {
        let inside = windows.get(current).filter(|w| w.0 <= i && i <= w.1).copied();
        if i >= probation {
            match inside {
                Some((start, end)) => {
                    counted[current] = true;
                    if alert {
                        result.tp += 1;
                        let width = (end - start + 1) as f64;
                        let position = -((end - i + 1) as f64) / width;
                        let value = scaled_sigmoid(position) * cost.tp_weight / max_tp;
                        let slot = &mut best[current];
                        *slot = Some(slot.map_or(value, |b: f64| b.max(value)));
                    } else {
                        result.fn_ += 1;
                    }
                }
                None if alert => {
                    result.fp += 1;
                    let position = match previous {
                        None => 3.0,
                        Some((right, width)) => (i - right) as f64 / (width - 1.0),
                    };
                    fp_sum += scaled_sigmoid(position) * cost.fp_weight;
                }
                None => result.tn += 1,
            }
        }
        if let Some((start, end)) = inside
            && i == end
        {
            previous = Some((end, (end - start + 1) as f64));
            current += 1;
        }
    }
    let mut window_sum = 0.0;
    for (b, &c) in best.iter().zip(&counted) {
        if c {
            result.windows += 1;
            match b {
                Some(v) => {
                    result.detected += 1;
                    window_sum += v;
                }
                None => window_sum -= cost.fn_weight,
            }
        }
    }
    result.raw = window_sum + fp_sum;
    result.null = -cost.fn_weight * result.windows as f64;
    result.perfect = cost.tp_weight * result.windows as f64;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alerts_at(rows: usize, at: &[usize]) -> Vec<bool> {
        let mut a = vec![false; rows];
        for &i in at {
            a[i] = true;
        }
        a
    }

    #[test]
    fn probation_and_window_lengths_are_nab_s() {
        assert_eq!(probation_length(1000), 150);
        assert_eq!(probation_length(15_902), 750);
        // 15,902 rows (the realTweets AAPL file): 2 labels → windows of 795 rows.
        let w = windows_from_labels(15_902, &[2000, 5000]).unwrap();
        assert_eq!(w, vec![(2000 - 397, 2000 + 397), (5000 - 397, 5000 + 397)]);
        // 4 labels → 397 rows; overlapping windows merge.
        let w = windows_from_labels(15_902, &[2000, 2100, 9000, 9100]).unwrap();
        assert_eq!(w, vec![(2000 - 198, 2100 + 198), (9000 - 198, 9100 + 198)]);
        // A first window reaching into the probationary period is dropped.
        assert_eq!(windows_from_labels(1000, &[100, 600]).unwrap(), vec![(575, 625)]);
    }

    /// Expected values computed with `../shared/tools/nab_score.py`'s
    /// `score_file` on the same rows, windows and alerts.
    #[test]
    fn scores_match_the_reference_scorer() {
        let windows = [(300, 399), (600, 649)];
        let cases: &[(&[usize], f64)] = &[
            (&[], -2.0),
            (&[300], 0.0),
            (&[350, 620, 700, 900, 10, 200], 1.448423343527697),
            (&[399, 649], 0.07597008077699326),
            (&[160, 420, 450, 999], -2.3678600937458643),
            (&[10, 300, 301, 700], -0.1087979038104947),
        ];
        for (at, expected) in cases {
            let s = score(&alerts_at(1000, at), &windows, &CostMatrix::STANDARD).unwrap();
            assert!((s.raw - expected).abs() < 1e-9, "{at:?}: {} vs {expected}", s.raw);
        }
    }

    #[test]
    fn counts_and_normalisation() {
        let s =
            score(&alerts_at(1000, &[10, 300, 301, 700]), &[(300, 399), (600, 649)], &CostMatrix::STANDARD).unwrap();
        // Row 10 is in the probationary period (150 rows): not scored.
        assert_eq!((s.tp, s.fp, s.windows, s.detected), (2, 1, 2, 1));
        assert_eq!(s.tp + s.tn + s.fp + s.fn_, 1000 - 150);
        assert_eq!((s.null, s.perfect), (-2.0, 2.0));
        assert!((normalised(s.null, s.null, s.perfect)).abs() < 1e-12);
        assert!((normalised(s.perfect, s.null, s.perfect) - 100.0).abs() < 1e-12);
    }

    #[test]
    fn bad_windows_are_errors() {
        let a = alerts_at(100, &[]);
        assert!(matches!(score(&a, &[(50, 100)], &CostMatrix::STANDARD), Err(NabError::BadWindow { .. })));
        assert!(matches!(score(&a, &[(10, 20), (20, 30)], &CostMatrix::STANDARD), Err(NabError::Overlap { .. })));
        assert!(matches!(windows_from_labels(100, &[100]), Err(NabError::BadLabel { .. })));
    }
}

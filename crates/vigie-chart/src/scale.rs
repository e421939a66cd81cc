//! Axis arithmetic: nice ticks and x-label thinning.

use crate::svg::CHAR_W;

/// Room kept between two x labels.
pub(crate) const LABEL_GAP: f64 = 8.0;

/// Ticks within `[lo, hi]` at a "nice" step (1, 2 or 5 × 10ⁿ): the smallest
/// such step giving at most 5 ticks, which gives at least 3 when the range
/// starts on a tick (as it does from 0). Returns the ticks and the step;
/// none for an empty or non-finite range.
pub(crate) fn nice_ticks(lo: f64, hi: f64) -> (Vec<f64>, f64) {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return (Vec::new(), 1.0);
    }
    // A step of span/10 or less gives 11 ticks or more: start there, grow.
    let mut magnitude = 10f64.powf(((hi - lo) / 10.0).log10().floor());
    for _ in 0..40 {
        for m in [1.0, 2.0, 5.0] {
            let step = m * magnitude;
            let first = (lo / step - 1e-9).ceil() as i64;
            let last = (hi / step + 1e-9).floor() as i64;
            if last - first < 5 {
                return ((first..=last).map(|i| i as f64 * step).collect(), step);
            }
        }
        magnitude *= 10.0;
    }
    (vec![lo, hi], hi - lo)
}

/// Shows every k-th of `count` labels (k returned) so labels of up to
/// `max_chars` characters, centred on slots of `plot_width / count`, never
/// overlap.
pub(crate) fn label_step(count: usize, plot_width: f64, max_chars: usize) -> usize {
    if count == 0 {
        return 1;
    }
    let slot = plot_width / count as f64;
    if slot <= 0.0 || !slot.is_finite() {
        return count;
    }
    let need = max_chars as f64 * CHAR_W + LABEL_GAP;
    ((need / slot).ceil() as usize).clamp(1, count)
}

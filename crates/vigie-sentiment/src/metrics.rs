//! Accuracy, per-class precision/recall/F1, macro-F1, confusion matrix.
//!
//! Binary datasets (reviews labelled only negative/positive) are scored by
//! deciding between negative and positive only — the argmax over those two
//! probabilities ([`decide`] with `binary = true`): a model that hesitates
//! toward "neutral" on a review is still asked which side it leans to.

use serde::Serialize;

use crate::Label;

/// The label a model's probabilities `[neg, neu, pos]` stand for; with
/// `binary`, the argmax over negative and positive only.
pub fn decide(p: [f32; 3], binary: bool) -> Label {
    if binary {
        if p[2] >= p[0] {
            Label::Positive
        } else {
            Label::Negative
        }
    } else {
        let mut best = 0;
        for c in 1..3 {
            if p[c] > p[best] {
                best = c;
            }
        }
        Label::from_index(best).unwrap_or(Label::Neutral)
    }
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ClassScores {
    pub class: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Report {
    pub n: usize,
    pub accuracy: f64,
    /// Mean F1 over the classes present in the gold labels.
    pub macro_f1: f64,
    pub per_class: Vec<ClassScores>,
    /// `confusion[gold][predicted]`.
    pub confusion: Vec<Vec<usize>>,
}

/// Scores of class-index predictions over `classes`.
pub fn evaluate_classes(gold: &[usize], pred: &[usize], classes: &[String]) -> Report {
    let k = classes.len();
    let mut confusion = vec![vec![0usize; k]; k];
    let mut correct = 0;
    for (g, p) in gold.iter().zip(pred) {
        if *g < k && *p < k {
            confusion[*g][*p] += 1;
        }
        if g == p {
            correct += 1;
        }
    }
    let n = gold.len().min(pred.len());
    let mut per_class = Vec::with_capacity(k);
    let (mut f1_sum, mut present) = (0.0, 0);
    for c in 0..k {
        let tp = confusion[c][c] as f64;
        let predicted: usize = (0..k).map(|g| confusion[g][c]).sum();
        let support: usize = confusion[c].iter().sum();
        let precision = if predicted > 0 {
            tp / predicted as f64
        } else {
            0.0
        };
        let recall = if support > 0 {
            tp / support as f64
        } else {
            0.0
        };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        if support > 0 {
            f1_sum += f1;
            present += 1;
        }
        per_class.push(ClassScores {
            class: classes[c].clone(),
            precision,
            recall,
            f1,
            support,
        });
    }
    Report {
        n,
        accuracy: if n > 0 {
            correct as f64 / n as f64
        } else {
            0.0
        },
        macro_f1: if present > 0 {
            f1_sum / present as f64
        } else {
            0.0
        },
        per_class,
        confusion,
    }
}

/// Scores of sentiment predictions.
pub fn evaluate(gold: &[Label], pred: &[Label]) -> Report {
    let classes: Vec<String> = Label::ALL.iter().map(|l| l.as_str().to_string()).collect();
    let g: Vec<usize> = gold.iter().map(|l| l.index()).collect();
    let p: Vec<usize> = pred.iter().map(|l| l.index()).collect();
    evaluate_classes(&g, &p, &classes)
}

/// Pearson correlation (0 when either side is constant or empty).
pub fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let ma = a[..n].iter().map(|x| f64::from(*x)).sum::<f64>() / n as f64;
    let mb = b[..n].iter().map(|x| f64::from(*x)).sum::<f64>() / n as f64;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (x, y) = (f64::from(a[i]) - ma, f64::from(b[i]) - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    if saa <= 0.0 || sbb <= 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Label::*;

    #[test]
    fn scores_by_hand() {
        let gold = [Negative, Negative, Neutral, Positive, Positive, Positive];
        let pred = [Negative, Neutral, Neutral, Positive, Positive, Negative];
        let r = evaluate(&gold, &pred);
        assert!((r.accuracy - 4.0 / 6.0).abs() < 1e-9);
        // neg: P 1/2 R 1/2 F 1/2; neu: P 1/2 R 1 F 2/3; pos: P 1 R 2/3 F 4/5
        let f = [0.5, 2.0 / 3.0, 0.8];
        for (c, want) in r.per_class.iter().zip(f) {
            assert!((c.f1 - want).abs() < 1e-9, "{c:?}");
        }
        assert!((r.macro_f1 - (0.5 + 2.0 / 3.0 + 0.8) / 3.0).abs() < 1e-9);
        assert_eq!(r.confusion[2][0], 1);
    }

    #[test]
    fn absent_classes_do_not_count_in_macro_f1() {
        let r = evaluate(&[Negative, Positive], &[Negative, Positive]);
        assert!((r.macro_f1 - 1.0).abs() < 1e-9);
    }

    #[test]
    fn binary_decision_ignores_neutral() {
        assert_eq!(decide([0.2, 0.5, 0.3], true), Positive);
        assert_eq!(decide([0.2, 0.5, 0.3], false), Neutral);
        assert_eq!(decide([0.4, 0.5, 0.1], true), Negative);
    }

    #[test]
    fn correlation() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-9);
        assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-9);
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
    }
}

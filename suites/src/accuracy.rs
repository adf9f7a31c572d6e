//! The accuracy suite: top-1, top-5, balanced accuracy (Brodersen et al. 2010, mean per-class
//! recall), per-class precision / recall / F1 with support, macro and micro averages, each
//! headline number with a 95% Wilson interval (when it is a binomial proportion) and a seeded
//! percentile-bootstrap interval; and McNemar's exact test between two models on the same
//! images (Dietterich 1998, "Approximate Statistical Tests for Comparing Supervised
//! Classification Learning Algorithms").
//!
//! Definitions follow scikit-learn (checked against it in `tests/golden_sklearn.rs`):
//! - top-k: the true class is among the k largest logits, k = min(5, C); on exactly tied logits
//!   the lower class index ranks first (as the top-1 arg-max).
//! - precision / recall / F1 with `zero_division = 0`; F1 = 2TP / (2TP + FP + FN).
//! - macro averages run over the classes that occur as a true or predicted label (scikit-learn's
//!   `labels=None`); micro precision = recall = F1 = top-1 accuracy for single-label data.
//! - balanced accuracy: mean recall over classes with at least one true example.

use std::collections::HashMap;

use results::records::MetricRecord;
use serde::Serialize;

use crate::predictions::Predictions;
use crate::stats::{mcnemar_exact, wilson95, Bootstrap};
use crate::{metric, Interval, RecordMeta, SuiteConfig, SuiteError, SuiteInfo};

/// Registry entry.
pub const INFO: SuiteInfo = SuiteInfo {
    name: "accuracy",
    version: 1,
    description: "top-1/top-5, balanced accuracy, per-class and macro/micro precision, recall, F1 \
                  with Wilson and bootstrap intervals; McNemar's exact test between models",
};

/// Per-class numbers (one row of the per-class table).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub class: String,
    /// True examples of the class.
    pub support: u64,
    /// Predictions of the class.
    pub predicted: u64,
    pub true_positives: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub precision_ci: Option<Interval>,
    pub recall_ci: Option<Interval>,
}

/// Headline numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccuracySummary {
    pub n: u64,
    /// k used for `top5_acc` (min(5, C)).
    pub k: usize,
    pub top1: f64,
    pub top5: f64,
    pub balanced: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub micro_f1: f64,
}

/// Output of [`run`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccuracyReport {
    pub metrics: Vec<MetricRecord>,
    pub summary: AccuracySummary,
    pub per_class: Vec<ClassMetrics>,
}

/// Per-row facts every accuracy statistic is a function of.
struct Rows {
    labels: Vec<usize>,
    preds: Vec<usize>,
    topk_hit: Vec<bool>,
    c: usize,
}

/// Whether the true class is among the `k` largest logits (ties: lower index first).
pub fn in_top_k(z: &[f64], y: usize, k: usize) -> bool {
    let zy = z[y];
    let ahead = z
        .iter()
        .enumerate()
        .filter(|&(j, &v)| v > zy || (v == zy && j < y))
        .count();
    ahead < k
}

/// Counts per class from the rows selected by `idx`.
struct Counts {
    tp: Vec<u64>,
    support: Vec<u64>,
    predicted: Vec<u64>,
    correct: u64,
    topk: u64,
    n: u64,
}

impl Rows {
    fn counts(&self, idx: impl Iterator<Item = usize>) -> Counts {
        let mut c = Counts {
            tp: vec![0; self.c],
            support: vec![0; self.c],
            predicted: vec![0; self.c],
            correct: 0,
            topk: 0,
            n: 0,
        };
        for i in idx {
            let (y, p) = (self.labels[i], self.preds[i]);
            c.support[y] += 1;
            c.predicted[p] += 1;
            if y == p {
                c.tp[y] += 1;
                c.correct += 1;
            }
            if self.topk_hit[i] {
                c.topk += 1;
            }
            c.n += 1;
        }
        c
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl Counts {
    fn precision(&self, k: usize) -> f64 {
        ratio(self.tp[k], self.predicted[k])
    }
    fn recall(&self, k: usize) -> f64 {
        ratio(self.tp[k], self.support[k])
    }
    fn f1(&self, k: usize) -> f64 {
        let fp = self.predicted[k] - self.tp[k];
        let fn_ = self.support[k] - self.tp[k];
        ratio(2 * self.tp[k], 2 * self.tp[k] + fp + fn_)
    }
    /// [top1, top5, balanced, macro_p, macro_r, macro_f1]
    fn headline(&self) -> [f64; 6] {
        let present: Vec<usize> = (0..self.tp.len())
            .filter(|&k| self.support[k] > 0 || self.predicted[k] > 0)
            .collect();
        let with_support: Vec<usize> = (0..self.tp.len())
            .filter(|&k| self.support[k] > 0)
            .collect();
        let avg = |f: &dyn Fn(usize) -> f64, set: &[usize]| {
            if set.is_empty() {
                f64::NAN
            } else {
                set.iter().map(|&k| f(k)).sum::<f64>() / set.len() as f64
            }
        };
        [
            ratio(self.correct, self.n),
            ratio(self.topk, self.n),
            avg(&|k| self.recall(k), &with_support),
            avg(&|k| self.precision(k), &present),
            avg(&|k| self.recall(k), &present),
            avg(&|k| self.f1(k), &present),
        ]
    }
}

/// Runs the accuracy suite on one group of predictions.
pub fn run(preds: &Predictions, cfg: &SuiteConfig) -> Result<AccuracyReport, SuiteError> {
    if preds.is_empty() {
        return Err(SuiteError::Empty { suite: INFO.name });
    }
    let c = preds.num_classes();
    let k = c.min(5);
    let rows = Rows {
        labels: preds.labels.clone(),
        preds: preds.top1(),
        topk_hit: (0..preds.len())
            .map(|i| in_top_k(preds.logits_row(i), preds.labels[i], k))
            .collect(),
        c,
    };
    let n = preds.len();
    let counts = rows.counts(0..n);
    let h = counts.headline();
    let bs = Bootstrap {
        resamples: cfg.bootstrap_resamples,
        seed: cfg.seed,
    };
    let boot = bs.percentile_intervals(n, 6, |idx| {
        rows.counts(idx.iter().copied()).headline().to_vec()
    });

    let meta = &preds.meta;
    let nn = n as u64;
    let mut m = Vec::new();
    let frac = "fraction";
    // Proportions: Wilson row plus a bootstrap row.
    for (name, value, succ, bi) in [
        ("top1_acc", h[0], counts.correct, 0),
        ("top5_acc", h[1], counts.topk, 1),
        ("micro_precision", h[0], counts.correct, 0),
        ("micro_recall", h[0], counts.correct, 0),
        ("micro_f1", h[0], counts.correct, 0),
    ] {
        let params = if name == "top5_acc" {
            format!("k={k}")
        } else {
            String::new()
        };
        m.push(metric(
            meta,
            &INFO,
            name,
            params.clone(),
            value,
            wilson95(succ, nn),
            nn,
            frac,
        ));
        let bparams = if params.is_empty() {
            "ci=bootstrap".to_string()
        } else {
            format!("{params};ci=bootstrap")
        };
        m.push(metric(
            meta, &INFO, name, bparams, value, boot[bi], nn, frac,
        ));
    }
    for (name, j) in [
        ("balanced_acc", 2),
        ("macro_precision", 3),
        ("macro_recall", 4),
        ("macro_f1", 5),
    ] {
        m.push(metric(meta, &INFO, name, "", h[j], boot[j], nn, frac));
    }

    let mut per_class = Vec::with_capacity(c);
    for (kk, class) in preds.classes.iter().enumerate() {
        let row = ClassMetrics {
            class: class.clone(),
            support: counts.support[kk],
            predicted: counts.predicted[kk],
            true_positives: counts.tp[kk],
            precision: counts.precision(kk),
            recall: counts.recall(kk),
            f1: counts.f1(kk),
            precision_ci: wilson95(counts.tp[kk], counts.predicted[kk]),
            recall_ci: wilson95(counts.tp[kk], counts.support[kk]),
        };
        let p = format!("class={class}");
        m.push(metric(
            meta,
            &INFO,
            "precision",
            p.clone(),
            row.precision,
            row.precision_ci,
            row.predicted,
            frac,
        ));
        m.push(metric(
            meta,
            &INFO,
            "recall",
            p.clone(),
            row.recall,
            row.recall_ci,
            row.support,
            frac,
        ));
        m.push(metric(
            meta,
            &INFO,
            "f1",
            p.clone(),
            row.f1,
            None,
            row.support,
            frac,
        ));
        m.push(metric(
            meta,
            &INFO,
            "support",
            p,
            row.support as f64,
            None,
            row.support,
            "images",
        ));
        per_class.push(row);
    }
    Ok(AccuracyReport {
        metrics: m,
        summary: AccuracySummary {
            n: nn,
            k,
            top1: h[0],
            top5: h[1],
            balanced: h[2],
            macro_precision: h[3],
            macro_recall: h[4],
            macro_f1: h[5],
            micro_f1: h[0],
        },
        per_class,
    })
}

/// McNemar's exact test between two models on the same images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct McNemar {
    pub model_a: String,
    pub model_b: String,
    pub n: u64,
    pub both_correct: u64,
    /// A right, B wrong.
    pub only_a: u64,
    /// A wrong, B right.
    pub only_b: u64,
    pub both_wrong: u64,
    pub acc_a: f64,
    pub acc_b: f64,
    pub p_value: f64,
}

impl McNemar {
    /// The `metrics.csv` row: metric `mcnemar_p`, params `a=<model>;b=<model>`, carried on A's
    /// identifying columns.
    pub fn metric(&self, meta_a: &RecordMeta) -> MetricRecord {
        metric(
            meta_a,
            &INFO,
            "mcnemar_p",
            format!("a={};b={}", self.model_a, self.model_b),
            self.p_value,
            None,
            self.n,
            "p",
        )
    }
}

/// McNemar's exact test; rows are matched by `image_id`. Errors if the class lists or the image
/// sets differ.
pub fn mcnemar(a: &Predictions, b: &Predictions) -> Result<McNemar, SuiteError> {
    if a.classes != b.classes {
        return Err(SuiteError::ClassesDiffer { context: "mcnemar" });
    }
    let pos_b = match_images("mcnemar", a, b)?;
    let (mut both, mut only_a, mut only_b, mut neither) = (0, 0, 0, 0);
    for (i, &j) in pos_b.iter().enumerate() {
        let ra = a.argmax(i) == a.labels[i];
        let rb = b.argmax(j) == b.labels[j];
        match (ra, rb) {
            (true, true) => both += 1,
            (true, false) => only_a += 1,
            (false, true) => only_b += 1,
            (false, false) => neither += 1,
        }
    }
    let n = a.len() as u64;
    Ok(McNemar {
        model_a: a.meta.model.clone(),
        model_b: b.meta.model.clone(),
        n,
        both_correct: both,
        only_a,
        only_b,
        both_wrong: neither,
        acc_a: ratio(both + only_a, n),
        acc_b: ratio(both + only_b, n),
        p_value: mcnemar_exact(only_a, only_b),
    })
}

/// For each row of `a`, the row of `b` with the same image id; errors if the sets differ.
pub(crate) fn match_images(
    context: &'static str,
    a: &Predictions,
    b: &Predictions,
) -> Result<Vec<usize>, SuiteError> {
    let index: HashMap<&str, usize> = b
        .image_ids
        .iter()
        .enumerate()
        .map(|(j, id)| (id.as_str(), j))
        .collect();
    let mut pos = Vec::with_capacity(a.len());
    let mut missing = Vec::new();
    for id in &a.image_ids {
        match index.get(id.as_str()) {
            Some(&j) => pos.push(j),
            None => missing.push(id.clone()),
        }
    }
    let only_b = b.len() - pos.len();
    if !missing.is_empty() || only_b > 0 {
        let example = missing.first().cloned().unwrap_or_else(|| {
            let in_a: std::collections::HashSet<&str> =
                a.image_ids.iter().map(|s| s.as_str()).collect();
            b.image_ids
                .iter()
                .find(|id| !in_a.contains(id.as_str()))
                .cloned()
                .unwrap_or_default()
        });
        let label = |p: &Predictions| format!("{}/{}", p.meta.model, p.meta.backend);
        return Err(SuiteError::ImageSetsDiffer {
            context,
            a: label(a),
            b: label(b),
            only_a: missing.len(),
            only_b,
            example,
        });
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preds(model: &str, labels: &[usize], logits: &[[f64; 3]]) -> Predictions {
        Predictions::from_parts(
            RecordMeta {
                model: model.into(),
                ..Default::default()
            },
            vec!["a".into(), "b".into(), "c".into()],
            (0..labels.len()).map(|i| format!("img{i}")).collect(),
            labels.to_vec(),
            logits.iter().map(|z| z.to_vec()).collect(),
        )
        .unwrap()
    }

    #[test]
    fn hand_computed_case() {
        // y    = a a a b b c
        // pred = a a b b c c   (from the logits)
        // class a: support 3, predicted 2, tp 2 → P 1, R 2/3, F1 = 4/(4+0+1) = 0.8
        // class b: support 2, predicted 2, tp 1 → P ½, R ½, F1 ½
        // class c: support 1, predicted 2, tp 1 → P ½, R 1, F1 = 2/(2+1+0) = 2/3
        // top1 = 4/6; balanced = (2/3 + 1/2 + 1)/3 = 13/18; macro F1 = (0.8 + 0.5 + 2/3)/3
        let p = preds(
            "m",
            &[0, 0, 0, 1, 1, 2],
            &[
                [3.0, 1.0, 0.0],
                [2.0, 0.0, 1.0],
                [1.0, 2.0, 0.0],
                [0.0, 2.0, 1.0],
                [0.0, 1.0, 2.0],
                [0.0, 1.0, 5.0],
            ],
        );
        let r = run(
            &p,
            &SuiteConfig {
                bootstrap_resamples: 50,
                ..Default::default()
            },
        )
        .unwrap();
        let s = &r.summary;
        assert_eq!(s.k, 3);
        assert!((s.top1 - 4.0 / 6.0).abs() < 1e-15);
        assert_eq!(s.top5, 1.0); // k = C = 3: always a hit
        assert!((s.balanced - 13.0 / 18.0).abs() < 1e-15);
        assert!((s.macro_precision - 2.0 / 3.0).abs() < 1e-15);
        assert!((s.macro_recall - 13.0 / 18.0).abs() < 1e-15);
        assert!((s.macro_f1 - (0.8 + 0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-15);
        assert_eq!(r.per_class[0].support, 3);
        assert_eq!(r.per_class[2].predicted, 2);
        let top1_rows: Vec<_> = r
            .metrics
            .iter()
            .filter(|m| m.metric == "top1_acc")
            .collect();
        assert_eq!(top1_rows.len(), 2);
        assert_eq!(top1_rows[0].ci_method, "wilson");
        assert_eq!(top1_rows[1].ci_method, "bootstrap");
        assert_eq!(top1_rows[1].params, "ci=bootstrap");
        let f1b = r
            .metrics
            .iter()
            .find(|m| m.metric == "f1" && m.params == "class=b")
            .unwrap();
        assert_eq!(f1b.value, 0.5);
        assert!(r
            .metrics
            .iter()
            .all(|m| m.suite == "accuracy" && m.suite_version == 1));
    }

    #[test]
    fn top_k_ties_go_to_lower_index() {
        assert!(in_top_k(&[1.0, 1.0, 0.0], 0, 1));
        assert!(!in_top_k(&[1.0, 1.0, 0.0], 1, 1));
        assert!(in_top_k(&[1.0, 1.0, 0.0], 1, 2));
        assert!(!in_top_k(&[3.0, 2.0, 1.0, 0.0], 3, 3));
    }

    #[test]
    fn mcnemar_matches_by_image_and_checks_sets() {
        // A right on rows 0..4, B right only on row 0 and 4 → only_a = 3 (rows 1..3), only_b = 0
        // (row 4: A wrong? no — see logits). p = 2·(1/8) = 0.25.
        let labels = [0, 0, 0, 0, 1];
        let right = [2.0, 0.0, 0.0];
        let wrong = [0.0, 0.0, 2.0];
        let a = preds("A", &labels, &[right, right, right, right, wrong]);
        let b = preds("B", &labels, &[right, wrong, wrong, wrong, wrong]);
        // Shuffle B's rows: matching is by image id, not position.
        let b = b.select(&[4, 3, 2, 1, 0]);
        let t = mcnemar(&a, &b).unwrap();
        assert_eq!(
            (t.both_correct, t.only_a, t.only_b, t.both_wrong),
            (1, 3, 0, 1)
        );
        assert!((t.p_value - 0.25).abs() < 1e-12);
        let row = t.metric(&a.meta);
        assert_eq!(row.params, "a=A;b=B");
        let fewer = b.select(&[0, 1, 2]);
        let e = mcnemar(&a, &fewer).unwrap_err();
        assert!(e.to_string().contains("image sets differ"), "{e}");
    }
}

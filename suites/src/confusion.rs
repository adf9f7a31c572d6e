//! The confusion suite: the confusion matrix (rows = true class, columns = predicted class, as
//! scikit-learn's `confusion_matrix`) in long format with counts and row-normalized rates;
//! named class pairs tracked in both directions (rate P(pred = b | true = a) with a 95% Wilson
//! interval and the image ids involved); and the most-confused off-diagonal cells, ranked.
//!
//! Pair metric rows: metric `pair_rate`, params `from=<a>;to=<b>`, `n` = images of class a.
//! A row with no true examples has rate 0 in the long table (and no interval for a pair).

use results::records::MetricRecord;
use serde::Serialize;

use crate::predictions::Predictions;
use crate::stats::wilson95;
use crate::{metric, ClassPair, Interval, PairSpec, SuiteConfig, SuiteError, SuiteInfo};

/// Registry entry.
pub const INFO: SuiteInfo = SuiteInfo {
    name: "confusion",
    version: 1,
    description: "confusion matrix (counts, row-normalized) in long format, named class pairs \
                  with Wilson intervals and image ids, most-confused pairs ranked",
};

/// One cell of the confusion matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfusionCell {
    pub true_label: String,
    pub pred_label: String,
    pub count: u64,
    /// `count / (images of true_label)`; 0 when the class has no images.
    pub rate: f64,
}

/// One direction of a tracked pair: how often class `from` is predicted as `to`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairRate {
    pub from: String,
    pub to: String,
    pub count: u64,
    /// Images whose true class is `from`.
    pub n_from: u64,
    pub rate: f64,
    pub ci: Option<Interval>,
    /// The images of class `from` predicted as `to`, in input order.
    pub image_ids: Vec<String>,
}

/// Output of [`run`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfusionReport {
    pub metrics: Vec<MetricRecord>,
    /// All C × C cells, row-major in class order.
    pub cells: Vec<ConfusionCell>,
    /// Both directions of each tracked pair (a→b, then b→a).
    pub pairs: Vec<PairRate>,
    /// Default pairs left out because the run lacks one of their classes.
    pub skipped_pairs: Vec<ClassPair>,
    /// Off-diagonal cells with a nonzero count, most confused first (count, then rate, then
    /// class order), at most `SuiteConfig::top_confusions`.
    pub top_confusions: Vec<ConfusionCell>,
}

/// The C × C count matrix, `m[true][pred]`.
pub fn confusion_matrix(preds: &Predictions) -> Vec<Vec<u64>> {
    let c = preds.num_classes();
    let mut m = vec![vec![0u64; c]; c];
    for i in 0..preds.len() {
        m[preds.labels[i]][preds.argmax(i)] += 1;
    }
    m
}

/// Class-index pairs that resolved, and default pairs that were skipped.
type ResolvedPairs = (Vec<(usize, usize)>, Vec<ClassPair>);

/// Resolves the configured pairs against the class list.
fn resolve_pairs(spec: &PairSpec, classes: &[String]) -> Result<ResolvedPairs, SuiteError> {
    let find = |name: &str| classes.iter().position(|c| c == name);
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    match spec {
        PairSpec::Default => {
            // Datasets spell multi-word classes `living room` or `living_room`: the default
            // pairs match either.
            let find_loose = |name: &str| {
                let norm = |s: &str| s.replace('_', " ").to_lowercase();
                classes.iter().position(|c| norm(c) == norm(name))
            };
            for p in PairSpec::default_pairs() {
                match (find_loose(&p.a), find_loose(&p.b)) {
                    (Some(a), Some(b)) => out.push((a, b)),
                    _ => skipped.push(p),
                }
            }
        }
        PairSpec::Explicit(pairs) => {
            for p in pairs {
                let get = |name: &str| {
                    find(name).ok_or_else(|| SuiteError::UnknownPairClass {
                        pair: format!("{}:{}", p.a, p.b),
                        class: name.to_string(),
                        classes: classes.join(", "),
                    })
                };
                out.push((get(&p.a)?, get(&p.b)?));
            }
        }
    }
    Ok((out, skipped))
}

/// Runs the confusion suite on one group of predictions.
pub fn run(preds: &Predictions, cfg: &SuiteConfig) -> Result<ConfusionReport, SuiteError> {
    if preds.is_empty() {
        return Err(SuiteError::Empty { suite: INFO.name });
    }
    let (pairs, skipped_pairs) = resolve_pairs(&cfg.pairs, &preds.classes)?;
    let m = confusion_matrix(preds);
    let classes = &preds.classes;
    let c = classes.len();
    let row_total: Vec<u64> = m.iter().map(|r| r.iter().sum()).collect();
    let rate = |t: usize, p: usize| {
        if row_total[t] == 0 {
            0.0
        } else {
            m[t][p] as f64 / row_total[t] as f64
        }
    };
    let mut cells = Vec::with_capacity(c * c);
    for t in 0..c {
        for p in 0..c {
            cells.push(ConfusionCell {
                true_label: classes[t].clone(),
                pred_label: classes[p].clone(),
                count: m[t][p],
                rate: rate(t, p),
            });
        }
    }
    let preds_top1 = preds.top1();
    let mut pair_rates = Vec::new();
    let mut metrics = Vec::new();
    for &(a, b) in &pairs {
        for (from, to) in [(a, b), (b, a)] {
            let image_ids: Vec<String> = (0..preds.len())
                .filter(|&i| preds.labels[i] == from && preds_top1[i] == to)
                .map(|i| preds.image_ids[i].clone())
                .collect();
            let pr = PairRate {
                from: classes[from].clone(),
                to: classes[to].clone(),
                count: m[from][to],
                n_from: row_total[from],
                rate: rate(from, to),
                ci: wilson95(m[from][to], row_total[from]),
                image_ids,
            };
            metrics.push(metric(
                &preds.meta,
                &INFO,
                "pair_rate",
                format!("from={};to={}", pr.from, pr.to),
                pr.rate,
                pr.ci,
                pr.n_from,
                "fraction",
            ));
            pair_rates.push(pr);
        }
    }
    let mut off: Vec<(usize, usize)> = (0..c)
        .flat_map(|t| (0..c).map(move |p| (t, p)))
        .filter(|&(t, p)| t != p && m[t][p] > 0)
        .collect();
    off.sort_by(|&(t1, p1), &(t2, p2)| {
        m[t2][p2]
            .cmp(&m[t1][p1])
            .then(rate(t2, p2).total_cmp(&rate(t1, p1)))
            .then((t1, p1).cmp(&(t2, p2)))
    });
    let top_confusions = off
        .into_iter()
        .take(cfg.top_confusions)
        .map(|(t, p)| cells[t * c + p].clone())
        .collect();
    Ok(ConfusionReport {
        metrics,
        cells,
        pairs: pair_rates,
        skipped_pairs,
        top_confusions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecordMeta;

    fn preds() -> Predictions {
        // classes: bedroom, living room, office
        // y:    lr lr lr lr bed bed office
        // pred: lr bed bed lr bed lr office
        let classes = vec!["bedroom".into(), "living room".into(), "office".into()];
        let onehot = |k: usize| {
            let mut z = vec![0.0; 3];
            z[k] = 1.0;
            z
        };
        let y = [1, 1, 1, 1, 0, 0, 2];
        let p = [1, 0, 0, 1, 0, 1, 2];
        Predictions::from_parts(
            RecordMeta::default(),
            classes,
            (0..7).map(|i| format!("i{i}")).collect(),
            y.to_vec(),
            p.iter().map(|&k| onehot(k)).collect(),
        )
        .unwrap()
    }

    #[test]
    fn hand_computed_pairs_and_matrix() {
        let r = run(&preds(), &SuiteConfig::default()).unwrap();
        // living room → bedroom: 2 of 4 (i1, i2); bedroom → living room: 1 of 2 (i5).
        assert_eq!(r.pairs.len(), 2);
        let lr_bed = &r.pairs[0];
        assert_eq!(
            (lr_bed.from.as_str(), lr_bed.to.as_str()),
            ("living room", "bedroom")
        );
        assert_eq!((lr_bed.count, lr_bed.n_from, lr_bed.rate), (2, 4, 0.5));
        assert_eq!(lr_bed.image_ids, vec!["i1", "i2"]);
        assert_eq!(r.pairs[1].image_ids, vec!["i5"]);
        assert_eq!(r.pairs[1].rate, 0.5);
        // office:restaurant skipped (no restaurant class).
        assert_eq!(
            r.skipped_pairs,
            vec![ClassPair::new("office", "restaurant")]
        );
        assert_eq!(r.metrics[0].params, "from=living room;to=bedroom");
        assert_eq!(r.metrics[0].metric, "pair_rate");
        assert_eq!(r.metrics[0].ci_method, "wilson");
        // Long table: 9 cells; row "living room" rates 0.5, 0.5, 0.
        assert_eq!(r.cells.len(), 9);
        let lr: Vec<f64> = r.cells[3..6].iter().map(|c| c.rate).collect();
        assert_eq!(lr, vec![0.5, 0.5, 0.0]);
        // Ranking: lr→bed (2) before bed→lr (1).
        assert_eq!(r.top_confusions.len(), 2);
        assert_eq!(r.top_confusions[0].count, 2);
        assert_eq!(r.top_confusions[0].true_label, "living room");
    }

    #[test]
    fn unknown_explicit_pair_lists_classes() {
        let cfg = SuiteConfig {
            pairs: PairSpec::Explicit(vec![ClassPair::new("office", "kitchen")]),
            ..Default::default()
        };
        let e = run(&preds(), &cfg).unwrap_err().to_string();
        assert!(e.contains("\"kitchen\""), "{e}");
        assert!(e.contains("bedroom, living room, office"), "{e}");
    }
}

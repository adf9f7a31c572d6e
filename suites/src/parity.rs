//! The parity suite: the same model run on several backends over the same images (in the
//! spirit of tract's `test-rt`, one suite for every runtime with a named tolerance). For each
//! pair of backends: max |Δlogit| and mean |Δlogit| over all images × classes, and top-1
//! agreement with a 95% Wilson interval; rows are matched by `image_id`.
//!
//! Metric rows: `max_abs_dlogit`, `mean_abs_dlogit`, `top1_agreement`, with `backend` =
//! `"<a> vs <b>"` and params `a=<a>;b=<b>`, where a backend label is `backend` or
//! `backend/compute_unit` when a compute unit is set (CoreML).

use results::records::MetricRecord;
use serde::Serialize;

use crate::accuracy::match_images;
use crate::predictions::Predictions;
use crate::stats::wilson95;
use crate::{metric, Interval, RecordMeta, SuiteError, SuiteInfo};

/// Registry entry.
pub const INFO: SuiteInfo = SuiteInfo {
    name: "parity",
    version: 1,
    description: "same model on every backend: max and mean |Δlogit| and top-1 agreement per \
                  pair of backends",
};

/// One pair of backends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParityPair {
    pub a: String,
    pub b: String,
    pub n: u64,
    pub max_abs_dlogit: f64,
    pub mean_abs_dlogit: f64,
    pub top1_agree: u64,
    pub top1_agreement: f64,
    pub top1_agreement_ci: Option<Interval>,
    /// The image with the largest |Δlogit|.
    pub worst_image: String,
}

/// Output of [`run`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParityReport {
    pub metrics: Vec<MetricRecord>,
    pub pairs: Vec<ParityPair>,
}

/// `backend` or `backend/compute_unit`.
pub fn backend_label(meta: &RecordMeta) -> String {
    if meta.compute_unit.is_empty() {
        meta.backend.clone()
    } else {
        format!("{}/{}", meta.backend, meta.compute_unit)
    }
}

/// Compares every pair of prediction sets (one per backend, same model and images), in the
/// order given.
pub fn run(sets: &[Predictions]) -> Result<ParityReport, SuiteError> {
    if sets.len() < 2 {
        return Err(SuiteError::TooFewBackends {
            got: sets.iter().map(|s| backend_label(&s.meta)).collect(),
        });
    }
    let mut report = ParityReport {
        metrics: Vec::new(),
        pairs: Vec::new(),
    };
    for i in 0..sets.len() {
        for j in i + 1..sets.len() {
            let (a, b) = (&sets[i], &sets[j]);
            if a.classes != b.classes {
                return Err(SuiteError::ClassesDiffer { context: "parity" });
            }
            if a.is_empty() {
                return Err(SuiteError::Empty { suite: INFO.name });
            }
            let pos = match_images("parity", a, b)?;
            let (mut max, mut sum, mut agree) = (0.0f64, 0.0, 0u64);
            let mut worst = 0;
            for (r, &q) in pos.iter().enumerate() {
                for (x, y) in a.logits_row(r).iter().zip(b.logits_row(q)) {
                    let d = (x - y).abs();
                    sum += d;
                    if d > max {
                        max = d;
                        worst = r;
                    }
                }
                agree += (a.argmax(r) == b.argmax(q)) as u64;
            }
            let n = a.len() as u64;
            let (la, lb) = (backend_label(&a.meta), backend_label(&b.meta));
            let pair = ParityPair {
                a: la.clone(),
                b: lb.clone(),
                n,
                max_abs_dlogit: max,
                mean_abs_dlogit: sum / (a.len() * a.num_classes()) as f64,
                top1_agree: agree,
                top1_agreement: agree as f64 / n as f64,
                top1_agreement_ci: wilson95(agree, n),
                worst_image: a.image_ids[worst].clone(),
            };
            let meta = RecordMeta {
                backend: format!("{la} vs {lb}"),
                compute_unit: String::new(),
                ..a.meta.clone()
            };
            let params = format!("a={la};b={lb}");
            for (name, v, ci, unit) in [
                ("max_abs_dlogit", pair.max_abs_dlogit, None, "logit"),
                ("mean_abs_dlogit", pair.mean_abs_dlogit, None, "logit"),
                (
                    "top1_agreement",
                    pair.top1_agreement,
                    pair.top1_agreement_ci,
                    "fraction",
                ),
            ] {
                report
                    .metrics
                    .push(metric(&meta, &INFO, name, params.clone(), v, ci, n, unit));
            }
            report.pairs.push(pair);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(backend: &str, logits: &[[f64; 2]], ids: &[&str]) -> Predictions {
        Predictions::from_parts(
            RecordMeta {
                backend: backend.into(),
                model: "m".into(),
                ..Default::default()
            },
            vec!["x".into(), "y".into()],
            ids.iter().map(|s| s.to_string()).collect(),
            vec![0; ids.len()],
            logits.iter().map(|z| z.to_vec()).collect(),
        )
        .unwrap()
    }

    #[test]
    fn hand_computed_pair() {
        // a: [1, 0], [0, 1], [2, 2]; b (rows shuffled): i0 → [1.5, 0], i1 → [0, 0.75],
        // i2 → [2, 1.9]. |Δ| = 0.5, 0, 0, 0.25, 0, 0.1 → max 0.5 (i0), mean 0.85/6.
        // top-1: i0 x/x, i1 y/y, i2 x (tie → lower index)/x → 3 of 3.
        let a = set(
            "candle",
            &[[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]],
            &["i0", "i1", "i2"],
        );
        let b = set(
            "ort",
            &[[2.0, 1.9], [1.5, 0.0], [0.0, 0.75]],
            &["i2", "i0", "i1"],
        );
        let r = run(&[a.clone(), b]).unwrap();
        let p = &r.pairs[0];
        assert_eq!(p.max_abs_dlogit, 0.5);
        assert!((p.mean_abs_dlogit - 0.85 / 6.0).abs() < 1e-12);
        assert_eq!((p.top1_agree, p.n), (3, 3));
        assert_eq!(p.worst_image, "i0");
        assert_eq!(r.metrics[0].backend, "candle vs ort");
        assert_eq!(r.metrics[0].params, "a=candle;b=ort");
        let c = set("tract", &[[0.0, 1.0]], &["i0"]);
        assert!(run(&[a.clone(), c]).is_err());
        assert!(run(&[a]).is_err());
    }
}

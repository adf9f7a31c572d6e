//! Parsed predictions: one (model, backend, compute_unit, split) group of `predictions.csv`
//! rows (`docs/SCHEMAS.md`) turned into class indices and a dense logit matrix.
//!
//! Probabilities are always recomputed as `softmax(logits / T)` from the `logits` column (never
//! taken from `confidence` / `top5_probs`), so temperature scaling and every metric work the
//! same on uploaded device CSVs. Top-1 is the arg-max with ties going to the lowest class index
//! (as `numpy.argmax`).

use std::collections::{BTreeMap, HashMap, HashSet};

use results::records::PredictionRecord;
use serde::Serialize;

use crate::SuiteError;

/// The identifying columns shared by every row of a group (copied into each metric row).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RecordMeta {
    pub run_id: String,
    pub model: String,
    pub backend: String,
    pub device: String,
    pub compute_unit: String,
    pub split: String,
}

impl RecordMeta {
    fn of(r: &PredictionRecord) -> Self {
        Self {
            run_id: r.run_id.clone(),
            model: r.model.clone(),
            backend: r.backend.clone(),
            device: r.device.clone(),
            compute_unit: r.compute_unit.clone(),
            split: r.split.clone(),
        }
    }
}

/// One group of predictions, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    pub meta: RecordMeta,
    /// The run's class list (logit order).
    pub classes: Vec<String>,
    pub image_ids: Vec<String>,
    /// True class index per row.
    pub labels: Vec<usize>,
    /// Row-major `len() x classes.len()` logits.
    logits: Vec<f64>,
}

/// Splits rows into groups by (run_id, model, backend, device, compute_unit, split), in
/// sorted key order, keeping row order inside each group.
pub fn group_records(records: &[PredictionRecord]) -> Vec<(RecordMeta, Vec<&PredictionRecord>)> {
    let mut groups: BTreeMap<RecordMeta, Vec<&PredictionRecord>> = BTreeMap::new();
    for r in records {
        groups.entry(RecordMeta::of(r)).or_default().push(r);
    }
    groups.into_iter().collect()
}

/// Parses a `;`-separated list of floats (the `logits` column).
pub fn parse_float_list(cell: &str) -> Result<Vec<f64>, String> {
    if cell.trim().is_empty() {
        return Ok(Vec::new());
    }
    cell.split(';')
        .enumerate()
        .map(|(i, s)| {
            let v: f64 = s
                .trim()
                .parse()
                .map_err(|e| format!("item {i} ({s:?}) is not a float: {e}"))?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(format!("item {i} ({s:?}) is not finite"))
            }
        })
        .collect()
}

impl Predictions {
    /// Parses one group of rows. Errors if the rows mix groups, name a class outside
    /// `classes`, repeat an image id, or carry a logit vector of the wrong length.
    pub fn from_records<'a>(
        records: impl IntoIterator<Item = &'a PredictionRecord>,
        classes: &[String],
    ) -> Result<Self, SuiteError> {
        let index: HashMap<&str, usize> = classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let mut meta: Option<RecordMeta> = None;
        let mut seen = HashSet::new();
        let mut image_ids = Vec::new();
        let mut labels = Vec::new();
        let mut logits = Vec::new();
        for (row, r) in records.into_iter().enumerate() {
            let m = RecordMeta::of(r);
            match &meta {
                None => meta = Some(m),
                Some(first) => check_same_group(row, first, &m)?,
            }
            let label =
                *index
                    .get(r.true_label.as_str())
                    .ok_or_else(|| SuiteError::UnknownLabel {
                        row,
                        image_id: r.image_id.clone(),
                        label: r.true_label.clone(),
                        classes: classes.join(", "),
                    })?;
            let z = parse_float_list(&r.logits).map_err(|reason| SuiteError::BadLogits {
                row,
                image_id: r.image_id.clone(),
                reason,
            })?;
            if z.len() != classes.len() {
                return Err(SuiteError::BadLogits {
                    row,
                    image_id: r.image_id.clone(),
                    reason: format!(
                        "{} values but the run has {} classes",
                        z.len(),
                        classes.len()
                    ),
                });
            }
            if !seen.insert(r.image_id.clone()) {
                return Err(SuiteError::DuplicateImage {
                    image_id: r.image_id.clone(),
                });
            }
            image_ids.push(r.image_id.clone());
            labels.push(label);
            logits.extend_from_slice(&z);
        }
        let meta = meta.ok_or(SuiteError::Empty {
            suite: "predictions",
        })?;
        Ok(Self {
            meta,
            classes: classes.to_vec(),
            image_ids,
            labels,
            logits,
        })
    }

    /// Builds predictions directly (tests, benches, in-process evaluation).
    pub fn from_parts(
        meta: RecordMeta,
        classes: Vec<String>,
        image_ids: Vec<String>,
        labels: Vec<usize>,
        logits: Vec<Vec<f64>>,
    ) -> Result<Self, SuiteError> {
        let c = classes.len();
        let mut flat = Vec::with_capacity(logits.len() * c);
        if image_ids.len() != labels.len() || labels.len() != logits.len() {
            return Err(SuiteError::BadConfig {
                field: "predictions",
                reason: format!(
                    "{} image ids, {} labels, {} logit rows",
                    image_ids.len(),
                    labels.len(),
                    logits.len()
                ),
            });
        }
        for (row, (z, &y)) in logits.iter().zip(&labels).enumerate() {
            if z.len() != c || z.iter().any(|v| !v.is_finite()) {
                return Err(SuiteError::BadLogits {
                    row,
                    image_id: image_ids[row].clone(),
                    reason: format!("{} values (need {c} finite values)", z.len()),
                });
            }
            if y >= c {
                return Err(SuiteError::UnknownLabel {
                    row,
                    image_id: image_ids[row].clone(),
                    label: y.to_string(),
                    classes: classes.join(", "),
                });
            }
            flat.extend_from_slice(z);
        }
        let mut seen = HashSet::new();
        for id in &image_ids {
            if !seen.insert(id) {
                return Err(SuiteError::DuplicateImage {
                    image_id: id.clone(),
                });
            }
        }
        Ok(Self {
            meta,
            classes,
            image_ids,
            labels,
            logits: flat,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// Logits of row `i`.
    pub fn logits_row(&self, i: usize) -> &[f64] {
        let c = self.classes.len();
        &self.logits[i * c..(i + 1) * c]
    }

    /// Top-1 class index of row `i` (lowest index wins ties).
    pub fn argmax(&self, i: usize) -> usize {
        argmax(self.logits_row(i))
    }

    /// Top-1 class index of every row.
    pub fn top1(&self) -> Vec<usize> {
        (0..self.len()).map(|i| self.argmax(i)).collect()
    }

    /// Row-major probabilities `softmax(logits / temperature)`.
    pub fn probs(&self, temperature: f64) -> Vec<f64> {
        let c = self.classes.len();
        let mut out = Vec::with_capacity(self.logits.len());
        for i in 0..self.len() {
            let start = out.len();
            out.resize(start + c, 0.0);
            softmax_into(self.logits_row(i), temperature, &mut out[start..]);
        }
        out
    }

    /// Rows reordered by `order` (a permutation or any index list); used by property tests.
    pub fn select(&self, order: &[usize]) -> Self {
        let mut logits = Vec::with_capacity(order.len() * self.num_classes());
        for &i in order {
            logits.extend_from_slice(self.logits_row(i));
        }
        Self {
            meta: self.meta.clone(),
            classes: self.classes.clone(),
            image_ids: order.iter().map(|&i| self.image_ids[i].clone()).collect(),
            labels: order.iter().map(|&i| self.labels[i]).collect(),
            logits,
        }
    }
}

fn check_same_group(row: usize, first: &RecordMeta, m: &RecordMeta) -> Result<(), SuiteError> {
    let cols: [(&'static str, &String, &String); 6] = [
        ("run_id", &first.run_id, &m.run_id),
        ("model", &first.model, &m.model),
        ("backend", &first.backend, &m.backend),
        ("device", &first.device, &m.device),
        ("compute_unit", &first.compute_unit, &m.compute_unit),
        ("split", &first.split, &m.split),
    ];
    for (column, expected, got) in cols {
        if expected != got {
            return Err(SuiteError::MixedGroup {
                row,
                column,
                expected: expected.clone(),
                got: got.clone(),
            });
        }
    }
    Ok(())
}

/// Index of the largest value, lowest index on ties.
pub fn argmax(z: &[f64]) -> usize {
    let mut best = 0;
    for (k, &v) in z.iter().enumerate() {
        if v > z[best] {
            best = k;
        }
    }
    best
}

/// `softmax(z / t)` written into `out` (max-subtracted for stability).
pub fn softmax_into(z: &[f64], t: f64, out: &mut [f64]) {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for (o, &v) in out.iter_mut().zip(z) {
        *o = ((v - m) / t).exp();
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

/// `log softmax(z / t)[k]`, computed stably.
pub fn log_softmax_at(z: &[f64], t: f64, k: usize) -> f64 {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lse: f64 = z.iter().map(|&v| ((v - m) / t).exp()).sum::<f64>().ln();
    (z[k] - m) / t - lse
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, label: &str, logits: &str) -> PredictionRecord {
        PredictionRecord {
            schema_version: 1,
            run_id: "r".into(),
            model: "m".into(),
            backend: "candle".into(),
            device: "cpu".into(),
            compute_unit: String::new(),
            split: "test".into(),
            image_id: id.into(),
            true_label: label.into(),
            pred_label: String::new(),
            confidence: 0.0,
            true_prob: 0.0,
            top5_labels: String::new(),
            top5_probs: String::new(),
            logits: logits.into(),
        }
    }

    fn classes() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn parses_and_softmaxes() {
        let rows = [rec("x", "b", "0;0"), rec("y", "a", "1.5; -0.5")];
        let p = Predictions::from_records(&rows, &classes()).unwrap();
        assert_eq!(p.labels, vec![1, 0]);
        assert_eq!(p.top1(), vec![0, 0]); // tie -> lowest index
        let pr = p.probs(1.0);
        assert_eq!(&pr[..2], &[0.5, 0.5]);
        // softmax([1.5, -0.5]) = 1 / (1 + e^-2) = 0.8807970779778823
        assert!((pr[2] - 0.8807970779778823).abs() < 1e-15);
        assert!(
            (log_softmax_at(p.logits_row(1), 1.0, 0) - 0.8807970779778823f64.ln()).abs() < 1e-15
        );
    }

    #[test]
    fn errors_name_the_fault() {
        let e = Predictions::from_records(&[rec("x", "c", "0;0")], &classes()).unwrap_err();
        assert!(e.to_string().contains("unknown class \"c\""), "{e}");
        assert!(e.to_string().contains("a, b"), "{e}");
        let e = Predictions::from_records(&[rec("x", "a", "0;0;1")], &classes()).unwrap_err();
        assert!(e.to_string().contains("3 values"), "{e}");
        let e = Predictions::from_records(&[rec("x", "a", "0;nan")], &classes()).unwrap_err();
        assert!(e.to_string().contains("not finite"), "{e}");
        let e =
            Predictions::from_records(&[rec("x", "a", "0;0"), rec("x", "a", "0;0")], &classes())
                .unwrap_err();
        assert!(matches!(e, SuiteError::DuplicateImage { .. }));
        let mut other = rec("y", "a", "0;0");
        other.backend = "ort".into();
        let e = Predictions::from_records(&[rec("x", "a", "0;0"), other], &classes()).unwrap_err();
        assert!(e.to_string().contains("`backend`"), "{e}");
        assert!(Predictions::from_records(&[], &classes()).is_err());
    }
}

//! Record types, one per long-format CSV (`docs/SCHEMAS.md`). Field order is column order.
//! Probabilities are `softmax(logits)` (Bridle 1990); `from_logits` is the one place rows are built.

use serde::{Deserialize, Serialize};

/// Version of every CSV schema in `docs/SCHEMAS.md`.
pub const SCHEMA_VERSION: u32 = 1;

/// One prediction: a row of `predictions.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    pub schema_version: u32,
    pub run_id: String,
    pub model: String,
    pub backend: String,
    pub device: String,
    pub compute_unit: String,
    pub split: String,
    pub image_id: String,
    pub true_label: String,
    pub pred_label: String,
    pub confidence: f64,
    pub true_prob: f64,
    /// `;`-separated class names, most probable first.
    pub top5_labels: String,
    /// `;`-separated probabilities matching `top5_labels`.
    pub top5_probs: String,
    /// `;`-separated logits in the run's class order.
    pub logits: String,
}

/// One timed event: a row of `latency_samples.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySample {
    pub schema_version: u32,
    pub run_id: String,
    pub model: String,
    pub backend: String,
    pub engine_version: String,
    pub device: String,
    pub compute_unit: String,
    pub precision: String,
    pub threads: u32,
    pub batch_size: u32,
    /// `model` or `e2e`.
    pub mode: String,
    /// `load`, `warmup` or `measure`.
    pub phase: String,
    pub iteration: u32,
    pub latency_ms: f64,
}

/// One number: a row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRecord {
    pub schema_version: u32,
    pub run_id: String,
    pub model: String,
    pub backend: String,
    pub device: String,
    pub compute_unit: String,
    pub split: String,
    pub suite: String,
    pub suite_version: u32,
    pub metric: String,
    /// `key=value;key=value` qualifiers.
    pub params: String,
    pub value: f64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub ci_method: String,
    pub n: u64,
    pub unit: String,
}

/// The columns of `predictions.csv`, in order (`docs/SCHEMAS.md`).
pub const PREDICTION_COLUMNS: &[&str] = &[
    "schema_version",
    "run_id",
    "model",
    "backend",
    "device",
    "compute_unit",
    "split",
    "image_id",
    "true_label",
    "pred_label",
    "confidence",
    "true_prob",
    "top5_labels",
    "top5_probs",
    "logits",
];

/// The columns of `latency_samples.csv`, in order (`docs/SCHEMAS.md`).
pub const LATENCY_COLUMNS: &[&str] = &[
    "schema_version",
    "run_id",
    "model",
    "backend",
    "engine_version",
    "device",
    "compute_unit",
    "precision",
    "threads",
    "batch_size",
    "mode",
    "phase",
    "iteration",
    "latency_ms",
];

/// The columns of `metrics.csv`, in order (`docs/SCHEMAS.md`).
pub const METRIC_COLUMNS: &[&str] = &[
    "schema_version",
    "run_id",
    "model",
    "backend",
    "device",
    "compute_unit",
    "split",
    "suite",
    "suite_version",
    "metric",
    "params",
    "value",
    "ci_low",
    "ci_high",
    "ci_method",
    "n",
    "unit",
];

/// The identifying columns shared by every prediction of one evaluation
/// (`run_id`, `model`, `backend`, `device`, `compute_unit`, `split`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PredictionContext {
    pub run_id: String,
    pub model: String,
    pub backend: String,
    pub device: String,
    pub compute_unit: String,
    pub split: String,
}

/// Numerically stable softmax (max-subtracted), in f64.
pub fn softmax(logits: &[f64]) -> Vec<f64> {
    if logits.is_empty() {
        return Vec::new();
    }
    let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logits.iter().map(|&z| (z - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

/// Splits a `;`-separated list cell; an empty cell is an empty list.
pub fn split_list(cell: &str) -> Vec<&str> {
    if cell.is_empty() {
        Vec::new()
    } else {
        cell.split(';').collect()
    }
}

/// Parses a `;`-separated list of floats; an empty cell is an empty list.
pub fn parse_float_list(cell: &str) -> Result<Vec<f64>, String> {
    split_list(cell)
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.trim()
                .parse::<f64>()
                .map_err(|e| format!("item {} `{s}` is not a number ({e})", i + 1))
        })
        .collect()
}

fn join_f64(xs: &[f64]) -> String {
    xs.iter()
        .map(|x| format!("{x:?}"))
        .collect::<Vec<_>>()
        .join(";")
}

impl PredictionRecord {
    /// Builds a row from a model's logits: probabilities are `softmax(logits)` (f64),
    /// `pred_label` is the argmax (lowest index on ties), `top5_*` are the min(5, C) most probable
    /// classes in descending order (ties by class index), logits are written in shortest
    /// round-trip f32 form. Errors if `logits.len() != classes.len()`, a logit is not finite, or
    /// `true_label` is not a class.
    pub fn from_logits(
        ctx: &PredictionContext,
        image_id: &str,
        true_label: &str,
        logits: &[f32],
        classes: &[String],
    ) -> Result<PredictionRecord, crate::ResultsError> {
        let err = |reason: String| crate::ResultsError::Record {
            image_id: image_id.to_string(),
            reason,
        };
        if logits.len() != classes.len() {
            return Err(err(format!(
                "{} logits for {} classes",
                logits.len(),
                classes.len()
            )));
        }
        if classes.is_empty() {
            return Err(err("empty class list".into()));
        }
        if let Some(i) = logits.iter().position(|z| !z.is_finite()) {
            return Err(err(format!("logit {i} is {}", logits[i])));
        }
        let ti = classes
            .iter()
            .position(|c| c == true_label)
            .ok_or_else(|| err(format!("true label `{true_label}` is not a class")))?;
        let z: Vec<f64> = logits.iter().map(|&x| x as f64).collect();
        let p = softmax(&z);
        let mut order: Vec<usize> = (0..p.len()).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
        let k = order.len().min(5);
        let top = &order[..k];
        Ok(PredictionRecord {
            schema_version: SCHEMA_VERSION,
            run_id: ctx.run_id.clone(),
            model: ctx.model.clone(),
            backend: ctx.backend.clone(),
            device: ctx.device.clone(),
            compute_unit: ctx.compute_unit.clone(),
            split: ctx.split.clone(),
            image_id: image_id.to_string(),
            true_label: true_label.to_string(),
            pred_label: classes[order[0]].clone(),
            confidence: p[order[0]],
            true_prob: p[ti],
            top5_labels: top
                .iter()
                .map(|&i| classes[i].as_str())
                .collect::<Vec<_>>()
                .join(";"),
            top5_probs: join_f64(&top.iter().map(|&i| p[i]).collect::<Vec<_>>()),
            logits: logits
                .iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(";"),
        })
    }

    /// The logit vector parsed from the `logits` cell.
    pub fn logits_vec(&self) -> Result<Vec<f64>, String> {
        parse_float_list(&self.logits)
    }

    /// `softmax(logits)`: the probabilities analysis should use.
    pub fn probs(&self) -> Result<Vec<f64>, String> {
        Ok(softmax(&self.logits_vec()?))
    }

    /// The class names of the `top5_labels` cell.
    pub fn top5_labels_vec(&self) -> Vec<&str> {
        split_list(&self.top5_labels)
    }

    /// The probabilities of the `top5_probs` cell.
    pub fn top5_probs_vec(&self) -> Result<Vec<f64>, String> {
        parse_float_list(&self.top5_probs)
    }

    /// Whether the top-1 prediction is right.
    pub fn is_correct(&self) -> bool {
        self.pred_label == self.true_label
    }
}

impl MetricRecord {
    /// The `key=value` pairs of `params`, in order.
    pub fn params_pairs(&self) -> Vec<(&str, &str)> {
        parse_params(&self.params)
    }

    /// The value of one `params` key.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params_pairs()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

/// Splits `key=value;key=value`; an item without `=` has an empty value.
pub fn parse_params(params: &str) -> Vec<(&str, &str)> {
    split_list(params)
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .collect()
}

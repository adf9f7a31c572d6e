//! Record types, one per long-format CSV (`docs/SCHEMAS.md`). Field order is column order.

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

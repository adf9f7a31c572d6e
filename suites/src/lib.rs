//! scenebench evaluation suites: accuracy, confusion, calibration, latency and parity, plus
//! the statistics they share (Wilson intervals, seeded bootstrap, McNemar's exact test,
//! percentiles).
//!
//! Suites take typed records in (`results::records::{PredictionRecord, LatencySample}`, the
//! rows of `predictions.csv` / `latency_samples.csv`, see `docs/SCHEMAS.md`) and emit
//! [`MetricRecord`]s (rows of `metrics.csv`) plus typed derived tables (`Serialize` structs).
//! They do no file IO and no formatting: the `results` crate writes and renders, so a CSV
//! uploaded from an iPhone is analysed by exactly the same code as a desktop run.
//!
//! Every suite is listed in one explicit registry ([`registry`]) with a version that is bumped
//! whenever one of its definitions changes; the version lands in `metrics.csv`'s
//! `suite_version` column.

pub mod accuracy;
pub mod calibration;
pub mod confusion;
pub mod latency;
pub mod parity;
pub mod predictions;
pub mod stats;

use results::records::{MetricRecord, SCHEMA_VERSION};
use serde::{Deserialize, Serialize};

pub use predictions::{group_records, Predictions, RecordMeta};

/// The three prediction suites on one model's test split (and its validation split for
/// temperature scaling), in registry order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionAnalysis {
    pub accuracy: accuracy::AccuracyReport,
    pub confusion: confusion::ConfusionReport,
    pub calibration: calibration::CalibrationReport,
}

impl PredictionAnalysis {
    /// Every metric row of the three suites, accuracy first.
    pub fn metrics(&self) -> Vec<MetricRecord> {
        let mut m = self.accuracy.metrics.clone();
        m.extend(self.confusion.metrics.iter().cloned());
        m.extend(self.calibration.metrics.iter().cloned());
        m
    }
}

/// Runs accuracy, confusion and calibration on `test`; `val` (same model, validation split)
/// fits the temperature.
pub fn analyze_predictions(
    test: &Predictions,
    val: Option<&Predictions>,
    cfg: &SuiteConfig,
) -> Result<PredictionAnalysis, SuiteError> {
    cfg.validate()?;
    Ok(PredictionAnalysis {
        accuracy: accuracy::run(test, cfg)?,
        confusion: confusion::run(test, cfg)?,
        calibration: calibration::run(test, val, cfg)?,
    })
}

/// Errors of the suites. Each variant names the record, column, class or suite at fault.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("no prediction records given to the {suite} suite")]
    Empty { suite: &'static str },
    #[error("predictions row {row} (image_id {image_id:?}): column `logits`: {reason}")]
    BadLogits {
        row: usize,
        image_id: String,
        reason: String,
    },
    #[error(
        "predictions row {row} (image_id {image_id:?}): column `true_label`: unknown class {label:?}; the run's classes are: {classes}"
    )]
    UnknownLabel {
        row: usize,
        image_id: String,
        label: String,
        classes: String,
    },
    #[error(
        "predictions row {row}: column `{column}` is {got:?} but earlier rows have {expected:?}; pass one (model, backend, compute_unit, split) group at a time"
    )]
    MixedGroup {
        row: usize,
        column: &'static str,
        expected: String,
        got: String,
    },
    #[error("predictions: image_id {image_id:?} appears more than once in one group")]
    DuplicateImage { image_id: String },
    #[error("{context}: the image sets differ ({only_a} images only in {a:?}, {only_b} only in {b:?}, e.g. {example:?})")]
    ImageSetsDiffer {
        context: &'static str,
        a: String,
        b: String,
        only_a: usize,
        only_b: usize,
        example: String,
    },
    #[error("{context}: class lists differ between the two prediction sets")]
    ClassesDiffer { context: &'static str },
    #[error("confusion pair {pair:?}: unknown class {class:?}; the run's classes are: {classes}")]
    UnknownPairClass {
        pair: String,
        class: String,
        classes: String,
    },
    #[error("confusion pair {spec:?}: expected `a:b` with two class names")]
    BadPairSpec { spec: String },
    #[error("suite config: {field}: {reason}")]
    BadConfig { field: &'static str, reason: String },
    #[error("latency samples row {row}: {reason}")]
    BadLatency { row: usize, reason: String },
    #[error("parity: need predictions from at least two backends, got {got:?}")]
    TooFewBackends { got: Vec<String> },
}

/// One suite in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SuiteInfo {
    /// Value of `metrics.csv`'s `suite` column.
    pub name: &'static str,
    /// Value of `metrics.csv`'s `suite_version` column.
    pub version: u32,
    pub description: &'static str,
}

/// Every suite scenebench runs, in report order. The one place suites are listed.
pub fn registry() -> &'static [SuiteInfo] {
    &REGISTRY
}

/// Looks a suite up by name in [`registry`].
pub fn suite_info(name: &str) -> Option<&'static SuiteInfo> {
    REGISTRY.iter().find(|s| s.name == name)
}

static REGISTRY: [SuiteInfo; 5] = [
    accuracy::INFO,
    confusion::INFO,
    calibration::INFO,
    latency::INFO,
    parity::INFO,
];

/// An ordered pair of class names whose confusion is tracked in both directions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassPair {
    pub a: String,
    pub b: String,
}

impl ClassPair {
    pub fn new(a: impl Into<String>, b: impl Into<String>) -> Self {
        Self {
            a: a.into(),
            b: b.into(),
        }
    }
}

impl std::str::FromStr for ClassPair {
    type Err = SuiteError;
    /// Parses `a:b` (the CLI's `--pair a:b`); surrounding spaces are trimmed.
    fn from_str(spec: &str) -> Result<Self, SuiteError> {
        let bad = || SuiteError::BadPairSpec {
            spec: spec.to_string(),
        };
        let (a, b) = spec.split_once(':').ok_or_else(bad)?;
        let (a, b) = (a.trim(), b.trim());
        if a.is_empty() || b.is_empty() || b.contains(':') {
            return Err(bad());
        }
        Ok(Self::new(a, b))
    }
}

/// Which confusion pairs to track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PairSpec {
    /// `living room`↔`bedroom` and `office`↔`restaurant`; a pair whose classes the run does
    /// not have is skipped (and listed in the report), since the default must fit any dataset.
    Default,
    /// Pairs the user asked for (`--pair a:b`); an unknown class name is an error.
    Explicit(Vec<ClassPair>),
}

impl PairSpec {
    /// The default pairs.
    pub fn default_pairs() -> Vec<ClassPair> {
        vec![
            ClassPair::new("living room", "bedroom"),
            ClassPair::new("office", "restaurant"),
        ]
    }
}

/// Knobs of the prediction suites. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteConfig {
    /// Confusion pairs (default `living room:bedroom`, `office:restaurant`).
    pub pairs: PairSpec,
    /// Confidence thresholds τ of the selective-prediction metrics (default `[0.40]`, the app's).
    pub thresholds: Vec<f64>,
    /// Bootstrap resamples (default 1,000).
    pub bootstrap_resamples: usize,
    /// Seed of the bootstrap RNG (ChaCha8).
    pub seed: u64,
    /// Selective accuracy for which the lowest reaching threshold is reported (default 0.9).
    pub target_selective_acc: Vec<f64>,
    /// How many of the most-confused off-diagonal cells to rank (default 10).
    pub top_confusions: usize,
}

impl Default for SuiteConfig {
    fn default() -> Self {
        Self {
            pairs: PairSpec::Default,
            thresholds: vec![0.40],
            bootstrap_resamples: 1000,
            seed: 0,
            target_selective_acc: vec![0.9],
            top_confusions: 10,
        }
    }
}

impl SuiteConfig {
    /// Checks ranges: thresholds and targets in [0, 1].
    pub fn validate(&self) -> Result<(), SuiteError> {
        for &t in &self.thresholds {
            if !(0.0..=1.0).contains(&t) {
                return Err(SuiteError::BadConfig {
                    field: "thresholds",
                    reason: format!("{t} is outside [0, 1]"),
                });
            }
        }
        for &t in &self.target_selective_acc {
            if !(0.0..=1.0).contains(&t) {
                return Err(SuiteError::BadConfig {
                    field: "target_selective_acc",
                    reason: format!("{t} is outside [0, 1]"),
                });
            }
        }
        Ok(())
    }
}

/// An interval with the method that produced it (`wilson`, `bootstrap`, `exact`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
    pub method: &'static str,
}

/// Builds one `metrics.csv` row for `meta`; `suite` gives name and version.
#[allow(clippy::too_many_arguments)]
pub(crate) fn metric(
    meta: &RecordMeta,
    suite: &SuiteInfo,
    name: impl Into<String>,
    params: impl Into<String>,
    value: f64,
    ci: Option<Interval>,
    n: u64,
    unit: &str,
) -> MetricRecord {
    MetricRecord {
        schema_version: SCHEMA_VERSION,
        run_id: meta.run_id.clone(),
        model: meta.model.clone(),
        backend: meta.backend.clone(),
        device: meta.device.clone(),
        compute_unit: meta.compute_unit.clone(),
        split: meta.split.clone(),
        suite: suite.name.to_string(),
        suite_version: suite.version,
        metric: name.into(),
        params: params.into(),
        value,
        ci_low: ci.map(|c| c.low),
        ci_high: ci.map(|c| c.high),
        ci_method: ci.map(|c| c.method.to_string()).unwrap_or_default(),
        n,
        unit: unit.to_string(),
    }
}

/// Formats a threshold for a metric name: two decimals when that is exact (`0.40`), else the
/// shortest round-trip form (`0.425`).
pub fn format_threshold(t: f64) -> String {
    let two = format!("{t:.2}");
    if two.parse::<f64>().ok() == Some(t) {
        two
    } else {
        format!("{t}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_versioned() {
        let names: Vec<_> = registry().iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            ["accuracy", "confusion", "calibration", "latency", "parity"]
        );
        assert!(registry().iter().all(|s| s.version >= 1));
        assert_eq!(suite_info("parity").unwrap().name, "parity");
        assert!(suite_info("nope").is_none());
    }

    #[test]
    fn pair_parsing() {
        let p: ClassPair = "living room:bedroom".parse().unwrap();
        assert_eq!(p, ClassPair::new("living room", "bedroom"));
        assert!("nocolon".parse::<ClassPair>().is_err());
        assert!(":b".parse::<ClassPair>().is_err());
        assert!("a:b:c".parse::<ClassPair>().is_err());
    }

    #[test]
    fn threshold_names() {
        assert_eq!(format_threshold(0.4), "0.40");
        assert_eq!(format_threshold(0.9), "0.90");
        assert_eq!(format_threshold(0.425), "0.425");
    }
}

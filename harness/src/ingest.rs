//! Device-run ingestion: turns the uploads `scenebench serve` stored under
//! `<runs>/device/<upload_id>/` (`docs/SCHEMAS.md`, "Upload") into `metrics.csv` files, computed
//! by the same `suites` code as a desktop run — accuracy, confusion and calibration from
//! `predictions.csv` (probabilities recomputed from the logits), latency summaries from
//! `latency_samples.csv` — so `scenebench report` shows CoreML per compute unit on the phone
//! next to candle / ORT / tract on the desktop.
//!
//! Each (model, backend, device, compute_unit) group's `test` split is analysed, with its `val`
//! split (when uploaded) used to fit the temperature; a run with no `test` rows analyses each of
//! its other splits on its own. Ingestion is idempotent: `metrics.csv` is rewritten atomically
//! every time from the stored CSVs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use results::csv_io::{
    read_latency, read_predictions, write_csv, LATENCY_CSV, METRICS_CSV, PREDICTIONS_CSV,
};
use results::manifest::Manifest;
use results::{MetricRecord, PredictionRecord};
use suites::{analyze_predictions, group_records, Predictions, RecordMeta, SuiteConfig};

use crate::serve::DEVICE_DIR;

/// One ingested device run.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestedRun {
    /// The upload id (directory name).
    pub upload_id: String,
    /// `<run_root>/device/<upload_id>`.
    pub dir: PathBuf,
    /// The `metrics.csv` written.
    pub metrics_path: PathBuf,
    /// Rows in `predictions.csv` / `latency_samples.csv` (0 when the file was not uploaded).
    pub predictions: usize,
    pub latency_samples: usize,
    /// Rows written to `metrics.csv`.
    pub metrics: usize,
    /// Prediction groups analysed, as `model/backend/compute_unit/split`.
    pub groups: Vec<String>,
}

/// Ingests every `device/<id>/` under `run_root` (sorted by id; directories whose name starts
/// with `.` — in-flight uploads — are skipped). A missing `device/` directory gives an empty
/// list. The first run that cannot be read or analysed is an error naming its directory.
pub fn ingest_device_runs(run_root: &Path) -> anyhow::Result<Vec<IngestedRun>> {
    ingest_device_runs_with(run_root, &SuiteConfig::default())
}

/// [`ingest_device_runs`] with explicit suite settings (thresholds, bootstrap, pairs).
pub fn ingest_device_runs_with(
    run_root: &Path,
    cfg: &SuiteConfig,
) -> anyhow::Result<Vec<IngestedRun>> {
    let device = run_root.join(DEVICE_DIR);
    let entries = match std::fs::read_dir(&device) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", device.display())),
    };
    let mut dirs = Vec::new();
    for e in entries {
        let e = e.with_context(|| format!("listing {}", device.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !e.file_type()?.is_dir() {
            continue;
        }
        dirs.push(e.path());
    }
    dirs.sort();
    dirs.iter()
        .map(|d| ingest_device_run(d, cfg).with_context(|| format!("ingesting {}", d.display())))
        .collect()
}

/// Ingests one stored upload directory: validates its CSVs against its manifest, runs the
/// suites, and writes `<dir>/metrics.csv`.
pub fn ingest_device_run(dir: &Path, cfg: &SuiteConfig) -> anyhow::Result<IngestedRun> {
    let manifest = Manifest::read_dir(dir)?;
    let classes = &manifest.classes;
    let pred_path = dir.join(PREDICTIONS_CSV);
    let lat_path = dir.join(LATENCY_CSV);
    let preds = if pred_path.exists() {
        read_predictions(&pred_path, Some(classes))?
    } else {
        Vec::new()
    };
    let samples = if lat_path.exists() {
        read_latency(&lat_path)?
    } else {
        Vec::new()
    };
    let (mut metrics, groups) = prediction_metrics(&preds, classes, cfg)
        .with_context(|| format!("analysing {}", pred_path.display()))?;
    if !samples.is_empty() {
        let lat = suites::latency::analyze(&samples, cfg)
            .with_context(|| format!("analysing {}", lat_path.display()))?;
        metrics.extend(lat.metrics);
    }
    let metrics_path = dir.join(METRICS_CSV);
    write_csv(&metrics_path, &metrics)?;
    Ok(IngestedRun {
        upload_id: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        dir: dir.to_path_buf(),
        metrics_path,
        predictions: preds.len(),
        latency_samples: samples.len(),
        metrics: metrics.len(),
        groups,
    })
}

/// Runs accuracy, confusion and calibration on every analysed group (see the module docs).
pub fn prediction_metrics(
    preds: &[PredictionRecord],
    classes: &[String],
    cfg: &SuiteConfig,
) -> anyhow::Result<(Vec<MetricRecord>, Vec<String>)> {
    let grouped = group_records(preds);
    // (run_id, model, backend, device, compute_unit) → split → rows.
    let mut by_eval: BTreeMap<RecordMeta, BTreeMap<String, Vec<&PredictionRecord>>> =
        BTreeMap::new();
    for (meta, rows) in grouped {
        let key = RecordMeta {
            split: String::new(),
            ..meta.clone()
        };
        by_eval.entry(key).or_default().insert(meta.split, rows);
    }
    let mut metrics = Vec::new();
    let mut names = Vec::new();
    for (key, splits) in &by_eval {
        let targets: Vec<&String> = if splits.contains_key("test") {
            vec![splits.keys().find(|s| *s == "test").expect("present")]
        } else {
            splits.keys().collect()
        };
        for split in targets {
            let test = Predictions::from_records(splits[split].iter().copied(), classes)?;
            let val = match (split.as_str(), splits.get("val")) {
                ("test", Some(v)) => Some(Predictions::from_records(v.iter().copied(), classes)?),
                _ => None,
            };
            let analysis = analyze_predictions(&test, val.as_ref(), cfg)?;
            metrics.extend(analysis.metrics());
            names.push(format!(
                "{}/{}/{}/{split}",
                key.model, key.backend, key.compute_unit
            ));
        }
    }
    Ok((metrics, names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use results::PredictionContext;

    fn rows(split: &str, cu: &str, n: usize) -> Vec<PredictionRecord> {
        let classes: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let ctx = PredictionContext {
            run_id: "r".into(),
            model: "m".into(),
            backend: "coreml".into(),
            device: "iPhone15,2".into(),
            compute_unit: cu.into(),
            split: split.into(),
        };
        (0..n)
            .map(|i| {
                // Rows with i % 3 == 0 put the top logit on the next class (wrong); the rest
                // on the true class.
                let top = if i % 3 == 0 { (i + 1) % 3 } else { i % 3 };
                let mut z = [0.0f32; 3];
                z[top] = 2.0;
                PredictionRecord::from_logits(&ctx, &format!("{i}"), &classes[i % 3], &z, &classes)
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn test_split_uses_val_for_temperature_and_val_is_not_reported() {
        let classes: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let mut recs = rows("val", "all", 9);
        recs.extend(rows("test", "all", 6));
        recs.extend(rows("test", "cpuOnly", 6));
        let cfg = SuiteConfig {
            bootstrap_resamples: 20,
            ..SuiteConfig::default()
        };
        let (ms, groups) = prediction_metrics(&recs, &classes, &cfg).unwrap();
        assert_eq!(groups, ["m/coreml/all/test", "m/coreml/cpuOnly/test"]);
        assert!(ms.iter().all(|m| m.split == "test"));
        // Only the compute unit with a val split gets a fitted temperature (fit on 9 val rows).
        let temps: Vec<_> = ms.iter().filter(|m| m.metric == "temperature").collect();
        assert_eq!(temps.len(), 1);
        assert_eq!((temps[0].compute_unit.as_str(), temps[0].n), ("all", 9));
        // Rows 0 and 3 of 6 are wrong.
        let acc = ms
            .iter()
            .find(|m| m.metric == "top1_acc" && m.compute_unit == "cpuOnly" && m.params.is_empty())
            .unwrap();
        assert_eq!((acc.value, acc.n), (4.0 / 6.0, 6));
    }

    #[test]
    fn a_run_without_test_rows_analyses_its_other_splits() {
        let classes: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let cfg = SuiteConfig {
            bootstrap_resamples: 10,
            ..SuiteConfig::default()
        };
        let (ms, groups) = prediction_metrics(&rows("val", "all", 3), &classes, &cfg).unwrap();
        assert_eq!(groups, ["m/coreml/all/val"]);
        assert!(ms
            .iter()
            .any(|m| m.metric == "top1_acc" && m.split == "val"));
    }

    #[test]
    fn missing_device_dir_is_empty_and_hidden_dirs_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        assert!(ingest_device_runs(d.path()).unwrap().is_empty());
        std::fs::create_dir_all(d.path().join("device/.tmp-x-123")).unwrap();
        assert!(ingest_device_runs(d.path()).unwrap().is_empty());
        // A stored run without a manifest is an error naming the directory.
        std::fs::create_dir_all(d.path().join("device/broken")).unwrap();
        let e = format!("{:#}", ingest_device_runs(d.path()).unwrap_err());
        assert!(e.contains("device/broken"), "{e}");
    }
}

//! Plots and galleries of a run directory, made from its records (`plots/`, `gallery/`).

use std::path::{Path, PathBuf};

use anyhow::Result;
use results::records::{LatencySample, PredictionRecord};

/// Reliability diagram and confusion heatmap per model (candle, test), latency distribution,
/// training curves. PNG and SVG.
pub fn write_plots(
    dir: &Path,
    preds: &[PredictionRecord],
    lat: &[LatencySample],
    classes: &[String],
    trained: &[(String, PathBuf)],
) -> Result<()> {
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots)?;
    for (name, _) in trained {
        let test: Vec<PredictionRecord> = preds
            .iter()
            .filter(|r| &r.model == name && r.backend == "candle" && r.split == "test")
            .cloned()
            .collect();
        if test.is_empty() {
            continue;
        }
        let conf: Vec<f64> = test.iter().map(|r| r.confidence).collect();
        let correct: Vec<bool> = test.iter().map(|r| r.pred_label == r.true_label).collect();
        let (bins, ece) = results::plot::reliability_bins(&conf, &correct, 15);
        let counts = results::plot::confusion_counts(&test, classes);
        for ext in ["png", "svg"] {
            results::plot::reliability_diagram(
                &plots.join(format!("reliability_{name}.{ext}")),
                &format!("{name} — reliability (test, n={})", test.len()),
                &bins,
                ece,
            )?;
            results::plot::confusion_heatmap(
                &plots.join(format!("confusion_{name}.{ext}")),
                &format!("{name} — confusion (test, row-normalized)"),
                classes,
                &counts,
            )?;
        }
        let log = dir.join("train").join(name).join("train_log.csv");
        if log.exists() {
            let rows = results::plot::read_train_log(&log)?;
            for ext in ["png", "svg"] {
                results::plot::training_curves(
                    &plots.join(format!("training_{name}.{ext}")),
                    &format!("{name} — training"),
                    &rows,
                )?;
            }
        }
    }
    let groups = results::plot::latency_groups(lat);
    if !groups.is_empty() {
        for ext in ["png", "svg"] {
            results::plot::latency_distribution(
                &plots.join(format!("latency.{ext}")),
                "latency per iteration (model only)",
                &groups,
            )?;
        }
    }
    Ok(())
}

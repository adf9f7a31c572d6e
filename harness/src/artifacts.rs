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
                "latency per iteration (mode: model = tensor → logits, e2e = JPEG bytes → logits)",
                &groups,
            )?;
        }
    }
    Ok(())
}

/// `gallery/<model>_predictions.png`: a grid of test images captioned with the prediction and
/// its confidence (green right, red wrong), half correct and half wrong where possible; and
/// `gallery/<model>_<true>_as_<pred>.png` for each named confusion pair that occurred, with
/// Grad-CAM overlays for the predicted class.
pub fn write_galleries(
    dir: &Path,
    trained: &[(String, PathBuf)],
    test: &models::data::Dataset,
    preds: &[PredictionRecord],
    quiet: bool,
) -> Result<()> {
    use models::gallery::{render_gallery, save_png, GalleryOptions, Tile};
    let gdir = dir.join("gallery");
    std::fs::create_dir_all(&gdir)?;
    let index: std::collections::HashMap<&str, usize> = test
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.as_str(), i))
        .collect();
    let load = |id: &str| index.get(id).and_then(|&i| test.load(i).ok());
    for (name, path) in trained {
        let rows: Vec<&PredictionRecord> = preds
            .iter()
            .filter(|r| &r.model == name && r.backend == "candle" && r.split == "test")
            .collect();
        let (right, wrong): (Vec<_>, Vec<_>) =
            rows.iter().partition(|r| r.pred_label == r.true_label);
        let pick: Vec<&&PredictionRecord> =
            right.iter().take(8).chain(wrong.iter().take(8)).collect();
        let tiles: Vec<Tile> = pick
            .iter()
            .filter_map(|r| {
                let img = load(&r.image_id)?;
                Some(Tile::prediction(
                    img,
                    &r.pred_label,
                    r.confidence as f32,
                    Some(&r.true_label),
                ))
            })
            .collect();
        if !tiles.is_empty() {
            let opts = GalleryOptions {
                columns: 4,
                tile_size: 160,
                title: Some(format!(
                    "{name}: test predictions (first 8 right, first 8 wrong)"
                )),
            };
            save_png(
                &render_gallery(&tiles, &opts)?,
                &gdir.join(format!("{name}_predictions.png")),
            )?;
        }
        // Named confusion pairs, both directions, with Grad-CAM for the wrongly predicted class.
        let ck = models::checkpoint::Checkpoint::load(path)?;
        let model =
            models::vit::VisionTransformer::from_checkpoint(&ck, &candle_core::Device::Cpu)?;
        let norm = |s: &str| s.replace('_', " ").to_lowercase();
        for (a, b) in [
            ("living room", "bedroom"),
            ("bedroom", "living room"),
            ("office", "restaurant"),
            ("restaurant", "office"),
        ] {
            let (Some(ca), Some(cb)) = (
                ck.classes.iter().find(|c| norm(c) == a),
                ck.classes.iter().find(|c| norm(c) == b),
            ) else {
                continue;
            };
            let imgs: Vec<image::RgbImage> = rows
                .iter()
                .filter(|r| &r.true_label == ca && &r.pred_label == cb)
                .take(8)
                .filter_map(|r| load(&r.image_id))
                .collect();
            if imgs.is_empty() {
                continue;
            }
            let opts = GalleryOptions {
                columns: 4,
                tile_size: 160,
                title: Some(format!(
                    "{name}: {ca} predicted as {cb} (Grad-CAM for {cb})"
                )),
            };
            let g = models::gallery::confusion_pair_gallery(
                &model,
                &ck.classes,
                &ck.preprocess,
                &imgs,
                ca,
                cb,
                &opts,
                &candle_core::Device::Cpu,
            )?;
            let file = format!(
                "{name}_{}_as_{}.png",
                a.replace(' ', "_"),
                b.replace(' ', "_")
            );
            save_png(&g, &gdir.join(&file))?;
            if !quiet {
                eprintln!("  gallery: {file} ({} images)", imgs.len());
            }
        }
    }
    Ok(())
}

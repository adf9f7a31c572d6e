//! Plots: every kind renders to a valid PNG (decoded back with `image`, expected size, not
//! blank) and SVG; reliability bins and box statistics against hand-computed cases; a run
//! directory produces its plot set. Set `SCENEBENCH_PLOT_DIR=DIR` to keep the images for viewing.

use std::path::{Path, PathBuf};

use results::csv_io::write_csv;
use results::plot::{
    confusion_counts, confusion_heatmap, latency_distribution, plot_run_dir, read_train_log,
    reliability_bins, reliability_diagram, training_curves, BoxStats,
};
use results::{PredictionContext, PredictionRecord};

fn out_dir(tmp: &Path) -> PathBuf {
    match std::env::var_os("SCENEBENCH_PLOT_DIR") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            PathBuf::from(d)
        }
        None => tmp.to_path_buf(),
    }
}

/// Decodes a PNG and checks its size and that it is not a single colour.
fn check_png(p: &Path, w: u32, h: u32) {
    let img = image::open(p).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (w, h), "{}", p.display());
    let first = *img.get_pixel(0, 0);
    let distinct = img.pixels().filter(|px| **px != first).count();
    assert!(
        distinct > (w * h / 100) as usize,
        "{} looks blank",
        p.display()
    );
}

fn check_svg(p: &Path, w: u32, h: u32) {
    let s = std::fs::read_to_string(p).unwrap();
    assert!(
        s.contains("<svg")
            && s.contains(&format!("width=\"{w}\""))
            && s.contains(&format!("height=\"{h}\"")),
        "{}",
        p.display()
    );
    assert!(s.contains("<text"), "no text in {}", p.display());
}

#[test]
fn reliability_bins_hand_computed() {
    // 3 bins: (0,1/3], (1/3,2/3], (2/3,1]; conf 0.2 wrong, 0.5 right, 0.6 wrong, 0.9 right, 1.0 right
    let conf = [0.2, 0.5, 0.6, 0.9, 1.0];
    let ok = [false, true, false, true, true];
    let (b, ece) = reliability_bins(&conf, &ok, 3);
    assert_eq!(b.iter().map(|x| x.count).collect::<Vec<_>>(), [1, 2, 2]);
    assert!((b[1].mean_confidence - 0.55).abs() < 1e-12 && (b[1].accuracy - 0.5).abs() < 1e-12);
    // ECE = 1/5·|0−0.2| + 2/5·|0.5−0.55| + 2/5·|1−0.95| = 0.04 + 0.02 + 0.02
    assert!((ece - 0.08).abs() < 1e-12, "{ece}");
    // Exactly 1/3 falls in the first bin (right-closed).
    let (b, _) = reliability_bins(&[1.0 / 3.0, 0.0], &[true, true], 3);
    assert_eq!(b[0].count, 2);
}

#[test]
fn box_stats_hand_computed() {
    // numpy: percentile([1..=8, 100], [25,50,75]) = 3, 5, 7; IQR 4 → fences −3, 13
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 100.0];
    let b = BoxStats::of(&x).unwrap();
    assert_eq!((b.q1, b.median, b.q3), (3.0, 5.0, 7.0));
    assert_eq!((b.whisker_lo, b.whisker_hi), (1.0, 8.0));
    assert!(BoxStats::of(&[]).is_none());
}

#[test]
fn all_plot_kinds_render_png_and_svg() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = out_dir(tmp.path());
    // Reliability: an over-confident synthetic model.
    let n = 600;
    let conf: Vec<f64> = (0..n).map(|i| 0.3 + 0.7 * (i as f64 / n as f64)).collect();
    let ok: Vec<bool> = (0..n)
        .map(|i| (i * 7919) % 100 < (30 + 55 * i / n))
        .collect();
    let (bins, ece) = reliability_bins(&conf, &ok, 15);
    for ext in ["png", "svg"] {
        let p = dir.join(format!("reliability.{ext}"));
        reliability_diagram(
            &p,
            "Reliability: finetune / candle / test (n=600)",
            &bins,
            ece,
        )
        .unwrap();
        if ext == "png" {
            check_png(&p, 900, 900)
        } else {
            check_svg(&p, 900, 900)
        }
    }
    // Confusion heatmap over 10 scene classes.
    let classes: Vec<String> = [
        "beach",
        "bedroom",
        "forest",
        "kitchen",
        "living room",
        "mountain",
        "office",
        "restaurant",
        "street",
        "desert",
    ]
    .map(String::from)
    .to_vec();
    let counts: Vec<Vec<u64>> = (0..10)
        .map(|i| {
            (0..10)
                .map(|j| {
                    if i == j {
                        40 + i as u64
                    } else {
                        ((i * 3 + j * 5) % 7) as u64
                    }
                })
                .collect()
        })
        .collect();
    for ext in ["png", "svg"] {
        let p = dir.join(format!("confusion.{ext}"));
        confusion_heatmap(&p, "Confusion: finetune / candle / test", &classes, &counts).unwrap();
        if ext == "png" {
            check_png(&p, 960, 960)
        } else {
            check_svg(&p, 960, 960)
        }
    }
    assert!(confusion_heatmap(&dir.join("bad.png"), "x", &classes, &counts[..3]).is_err());
    // Latency: CoreML on the phone and desktop backends, spanning > 30× (log axis).
    let mk = |base: f64, k: usize| -> Vec<f64> {
        (0..k)
            .map(|i| base * (1.0 + 0.002 * ((i * 37) % 50) as f64))
            .collect()
    };
    let groups = vec![
        (
            "finetune coreml cpuAndNeuralEngine b1 model fp16".to_string(),
            mk(3.4, 200),
        ),
        (
            "finetune coreml cpuOnly b1 model fp16".to_string(),
            mk(31.0, 200),
        ),
        (
            "finetune candle t2 b1 model fp32".to_string(),
            mk(48.0, 100),
        ),
        ("finetune ort t2 b1 model fp32".to_string(), mk(21.5, 100)),
        ("finetune tract t2 b1 model fp32".to_string(), mk(140.0, 50)),
    ];
    for ext in ["png", "svg"] {
        let p = dir.join(format!("latency.{ext}"));
        latency_distribution(&p, "Latency per iteration (warm-up excluded)", &groups).unwrap();
        let h = 5 * 48 + 190;
        if ext == "png" {
            check_png(&p, 1100, h)
        } else {
            check_svg(&p, 1100, h)
        }
    }
    // Training curves from a train_log.csv.
    let log = dir.join("train_log.csv");
    let mut text =
        String::from("epoch,lr,train_loss,train_acc,val_loss,val_acc,seconds,images_per_sec\n");
    for e in 0..8 {
        let t = e as f64;
        text.push_str(&format!(
            "{e},0.001,{},{},{},{},12.5,80\n",
            2.3 / (1.0 + t),
            0.2 + 0.09 * t,
            2.4 / (1.0 + 0.8 * t),
            0.18 + 0.085 * t
        ));
    }
    text.push_str("8,0.0005,0.2,0.93,,,12.5,80\n");
    std::fs::write(&log, text).unwrap();
    let rows = read_train_log(&log).unwrap();
    assert_eq!(rows.len(), 9);
    assert_eq!(rows[8].val_acc, None);
    for ext in ["png", "svg"] {
        let p = dir.join(format!("training.{ext}"));
        training_curves(&p, "Training: finetune", &rows).unwrap();
        if ext == "png" {
            check_png(&p, 1200, 500)
        } else {
            check_svg(&p, 1200, 500)
        }
    }
    assert!(training_curves(&dir.join("t.gif"), "x", &rows).is_err());
}

#[test]
fn run_dir_plot_set() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let classes: Vec<String> = ["beach", "bedroom", "forest"].map(String::from).to_vec();
    let ctx = PredictionContext {
        run_id: "r".into(),
        model: "finetune".into(),
        backend: "candle".into(),
        device: "cpu".into(),
        compute_unit: String::new(),
        split: "test".into(),
    };
    let preds: Vec<PredictionRecord> = (0..30)
        .map(|i| {
            let t = i % 3;
            let mut z = [0.0f32; 3];
            z[(t + (i % 5 == 0) as usize) % 3] = 1.0 + (i % 4) as f32;
            PredictionRecord::from_logits(&ctx, &format!("{i}.jpg"), &classes[t], &z, &classes)
                .unwrap()
        })
        .collect();
    write_csv(&run.join("predictions.csv"), &preds).unwrap();
    let counts = confusion_counts(&preds, &classes);
    assert_eq!(
        counts
            .iter()
            .map(|r| r.iter().sum::<u64>())
            .collect::<Vec<_>>(),
        [10, 10, 10]
    );
    assert_eq!(
        counts.iter().enumerate().map(|(i, r)| r[i]).sum::<u64>(),
        preds.iter().filter(|p| p.is_correct()).count() as u64
    );
    let files = plot_run_dir(&run, &classes).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "reliability_finetune_candle_test.png",
            "confusion_finetune_candle_test.png",
            "reliability_finetune_candle_test.svg",
            "confusion_finetune_candle_test.svg"
        ]
    );
    for f in &files {
        assert!(std::fs::metadata(f).unwrap().len() > 1000);
    }
}

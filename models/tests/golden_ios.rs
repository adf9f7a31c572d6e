//! Golden vectors shared with the Swift package `ios-bench/` (issue 7).
//!
//! The Swift tests (`ios-bench/Tests/SceneBenchTests/GoldenTests.swift`) read the files under
//! `fixtures/golden/` and must reproduce them; this test recomputes every file from the Rust
//! definitions and fails when a committed file no longer matches, so the two sides cannot drift:
//!
//! - `preprocess.json`: small deterministic images → the evaluation transform of
//!   `docs/checkpoint-format.md` ([`models::preprocess::Preprocess`]: resize shorter side with the
//!   `image` crate's Catmull-Rom filter, center crop, `(x/255 - mean)/std`, CHW) for several settings,
//!   with the 8-bit intermediate images;
//! - `softmax.json`: logits → softmax probabilities, top-k (ties → lower index first) and the
//!   0.40 low-confidence flag;
//! - `csv_input.json` → `predictions.csv` / `latency_samples.csv`: the exact bytes the harness
//!   writes (`results::records::PredictionRecord::from_logits` + `results::csv_io::to_csv_string`,
//!   `docs/SCHEMAS.md`).
//!
//! Regenerate with `UPDATE_GOLDEN=1 cargo test -p models --test golden_ios`.

use image::RgbImage;
use models::preprocess::{Preprocess, IMAGENET_MEAN, IMAGENET_STD, INCEPTION_MEAN, INCEPTION_STD};
use results::csv_io::to_csv_string;
use results::records::{
    softmax, LatencySample, PredictionContext, PredictionRecord, SCHEMA_VERSION,
};
use serde_json::{json, Value};
use std::path::PathBuf;

/// The low-confidence threshold of the app and of the selective-accuracy metrics.
const LOW_CONFIDENCE: f64 = 0.40;

fn golden_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/golden"))
}

/// Compare `content` with the committed file, or rewrite it when `UPDATE_GOLDEN=1`.
fn check_or_update(name: &str, content: &str) {
    let path = golden_dir().join(name);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, content).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert!(
        committed == content,
        "{} differs from what Rust computes now; rerun with UPDATE_GOLDEN=1 and rerun the Swift tests",
        path.display()
    );
}

/// A deterministic test pattern with sharp edges (so Catmull-Rom overshoots and clamps) and
/// smooth gradients.
fn pattern(w: u32, h: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let r = (x * 37 + y * 91 + seed * 11) % 256;
        let g = if (x / 3 + y / 2 + seed) % 2 == 0 {
            250
        } else {
            5
        };
        let b = ((x * x + 3 * y * y + 7 * x * y + seed) ^ (x * 29)) % 256;
        image::Rgb([r as u8, g as u8, b as u8])
    })
}

fn bytes(img: &RgbImage) -> Value {
    json!(img.as_raw())
}

#[test]
fn preprocess_golden() {
    let images = [
        ("landscape_37x23", pattern(37, 23, 0)),
        ("portrait_19x30", pattern(19, 30, 5)),
    ];
    let settings = [
        Preprocess::with(16, 0.875, INCEPTION_MEAN, INCEPTION_STD),
        Preprocess::with(8, 1.0, IMAGENET_MEAN, IMAGENET_STD),
        // upscaling (resize_shorter 35 > 23): the filter support is not widened
        Preprocess::with(32, 0.9, IMAGENET_MEAN, IMAGENET_STD),
    ];
    let mut cases = Vec::new();
    for (name, img) in &images {
        for p in &settings {
            let out = p.resize_and_crop(img);
            let tensor = p.apply(img);
            assert_eq!(tensor.len(), 3 * p.crop_size * p.crop_size);
            // The resized (uncropped) image, for debugging a mismatch on the Swift side.
            let (w, h) = img.dimensions();
            let s = p.resize_shorter as u32;
            let (nw, nh) = if w <= h {
                (
                    s,
                    ((h as f64) * s as f64 / w as f64).round().max(1.0) as u32,
                )
            } else {
                (
                    ((w as f64) * s as f64 / h as f64).round().max(1.0) as u32,
                    s,
                )
            };
            let resized = image::imageops::resize(img, nw, nh, p.interpolation.filter());
            cases.push(json!({
                "image": name,
                "preprocess": p,
                "resized_width": nw,
                "resized_height": nh,
                "resized_rgb": bytes(&resized),
                "cropped_rgb": bytes(&out),
                "tensor": tensor,
            }));
        }
    }
    let doc = json!({
        "generator": "models/tests/golden_ios.rs",
        "images": images.iter().map(|(name, img)| json!({
            "name": name, "width": img.width(), "height": img.height(), "rgb": bytes(img),
        })).collect::<Vec<_>>(),
        "cases": cases,
    });
    check_or_update(
        "preprocess.json",
        &(serde_json::to_string(&doc).unwrap() + "\n"),
    );
}

/// FNV-1a 64-bit over bytes: a checksum both sides can compute without a crypto library.
fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// Full-size cases (a 640x480 photo-sized pattern through the real ViT-B/16 settings), stored as
/// checksums of the 8-bit crop and of the f32 tensor's little-endian bytes, since the values
/// themselves would be megabytes; the Swift side regenerates the pattern with the same formula.
#[test]
fn preprocess_large_golden() {
    let mut cases = Vec::new();
    for (w, h, seed) in [(640u32, 480u32, 1u32), (480, 640, 2), (333, 500, 3)] {
        let img = pattern(w, h, seed);
        for p in [
            Preprocess::timm_vit(224),
            Preprocess::imagenet(224),
            Preprocess::with(256, 0.95, INCEPTION_MEAN, INCEPTION_STD),
        ] {
            let crop = p.resize_and_crop(&img);
            let tensor = p.apply(&img);
            cases.push(json!({
                "width": w, "height": h, "seed": seed,
                "preprocess": p,
                "cropped_fnv1a64": fnv1a64(crop.as_raw().iter().copied()),
                "tensor_fnv1a64": fnv1a64(tensor.iter().flat_map(|v| v.to_le_bytes())),
                "tensor_sum": tensor.iter().map(|&v| v as f64).sum::<f64>(),
            }));
        }
    }
    let doc = json!({
        "generator": "models/tests/golden_ios.rs",
        "pattern": "r = (x*37 + y*91 + seed*11) % 256; g = 250 if (x/3 + y/2 + seed) % 2 == 0 else 5; b = ((x*x + 3*y*y + 7*x*y + seed) ^ (x*29)) % 256",
        "cases": cases,
    });
    check_or_update(
        "preprocess_large.json",
        &(serde_json::to_string_pretty(&doc).unwrap() + "\n"),
    );
}

/// Indices of the `k` largest probabilities, descending; ties keep the lower index first.
fn top_k(p: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

#[test]
fn softmax_golden() {
    let cases: Vec<Vec<f64>> = vec![
        vec![2.0, 1.0, 0.1],
        vec![0.0, 0.0, 0.0, 0.0],
        vec![1000.0, 999.0, -1000.0],
        vec![-3.5, 7.25, 7.25, 0.0, -1e-3, 2.0, 1.5],
        vec![0.3, 0.2, 0.25, 0.1, 0.15, 0.05, 0.4, 0.35, 0.0, 0.12],
        vec![5.0],
    ];
    // Hand-computed check of the reference itself: softmax([2,1,0.1]).
    let e = [1.0, (-1.0f64).exp(), (-1.9f64).exp()];
    let s: f64 = e.iter().sum();
    let p = softmax(&cases[0]);
    for i in 0..3 {
        assert!((p[i] - e[i] / s).abs() < 1e-15);
    }
    assert!((p[0] - 0.6590011388859679).abs() < 1e-12);

    let out: Vec<Value> = cases
        .iter()
        .map(|logits| {
            let probs = softmax(logits);
            let top = top_k(&probs, 5);
            json!({
                "logits": logits,
                "probs": probs,
                "top5": top,
                "top3": top_k(&probs, 3),
                "low_confidence": probs[top[0]] < LOW_CONFIDENCE,
            })
        })
        .collect();
    let doc = json!({
        "generator": "models/tests/golden_ios.rs",
        "low_confidence_threshold": LOW_CONFIDENCE,
        "cases": out,
    });
    check_or_update(
        "softmax.json",
        &(serde_json::to_string_pretty(&doc).unwrap() + "\n"),
    );
}

#[test]
fn csv_golden() {
    let classes: Vec<String> = [
        "beach",
        "living room",
        "forest",
        "kitchen",
        "mountain",
        "office",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // f32 logits, as a model outputs them; the values cover the float forms that differ between
    // Rust's Debug/Display/ryu and Swift's description (exponents, integral values, 0.1).
    let rows: Vec<(&str, &str, Vec<f32>)> = vec![
        (
            "val/beach/0001.jpg",
            "beach",
            vec![3.0, 0.5, -1.0, 0.0, 1.0, -2.0],
        ),
        (
            "val/living room/a,b \"c\".jpg",
            "living room",
            vec![0.1, 0.2, 0.15, 0.12, 0.11, 0.1],
        ),
        (
            "parquet-0#17",
            "forest",
            vec![-1e-7, 12.5, 1e-5, -30.0, 2.0e-4, 7.0],
        ),
        (
            "val/office/\u{fc}.png",
            "office",
            vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ),
        (
            "val/kitchen/k.jpg",
            "kitchen",
            vec![-0.0, 123456.79, 1e-4, 3.4028235e38, 0.33333334, -1.5e-5],
        ),
    ];
    let input_rows: Vec<Value> = rows
        .iter()
        .map(|(id, t, l)| json!({"image_id": id, "true_label": t, "logits": l}))
        .collect();
    let latencies: Vec<(&str, u32, f64)> = vec![
        ("load", 0, 812.25),
        ("warmup", 0, 35.0),
        ("warmup", 1, 12.345678901234567),
        ("measure", 0, 1e-7),
        ("measure", 1, 0.00001),
        ("measure", 2, 12345678901234567.0),
        ("measure", 3, 1e22),
        ("measure", 4, 3.3333333333333335),
        ("measure", 5, 0.1),
    ];
    let ctx = PredictionContext {
        run_id: "golden-run".into(),
        model: "finetune".into(),
        backend: "coreml".into(),
        device: "iPhone15,2".into(),
        compute_unit: "cpuAndNeuralEngine".into(),
        split: "val".into(),
    };
    let input = json!({
        "generator": "models/tests/golden_ios.rs",
        "run_id": ctx.run_id,
        "model": ctx.model,
        "backend": ctx.backend,
        "device": ctx.device,
        "compute_unit": ctx.compute_unit,
        "split": ctx.split,
        "classes": classes,
        "engine_version": "coreml iOS 18.1",
        "precision": "fp16",
        "threads": 0,
        "batch_size": 1,
        "mode": "model",
        "predictions": input_rows,
        "latency": latencies.iter().map(|(p, i, v)| json!({"phase": p, "iteration": i, "latency_ms": v})).collect::<Vec<_>>(),
    });

    let records: Vec<PredictionRecord> = rows
        .iter()
        .map(|(id, t, logits)| {
            PredictionRecord::from_logits(&ctx, id, t, logits, &classes).unwrap()
        })
        .collect();
    // The reference softmax/top-k agree with the harness's rows.
    for (r, (_, _, logits)) in records.iter().zip(&rows) {
        let p = softmax(&logits.iter().map(|&x| x as f64).collect::<Vec<_>>());
        let top = top_k(&p, 5);
        assert_eq!(r.pred_label, classes[top[0]]);
        assert_eq!(r.confidence, p[top[0]]);
    }
    let predictions = to_csv_string(&records).unwrap();

    let latency_rows: Vec<LatencySample> = latencies
        .iter()
        .map(|(phase, iteration, ms)| LatencySample {
            schema_version: SCHEMA_VERSION,
            run_id: ctx.run_id.clone(),
            model: ctx.model.clone(),
            backend: ctx.backend.clone(),
            engine_version: "coreml iOS 18.1".into(),
            device: ctx.device.clone(),
            compute_unit: ctx.compute_unit.clone(),
            precision: "fp16".into(),
            threads: 0,
            batch_size: 1,
            mode: "model".into(),
            phase: phase.to_string(),
            iteration: *iteration,
            latency_ms: *ms,
        })
        .collect();
    let latency = to_csv_string(&latency_rows).unwrap();

    // The quoting and float forms the Swift writer must reproduce.
    assert!(predictions.contains("\"val/living room/a,b \"\"c\"\".jpg\""));
    assert!(latency.contains(",1e-7\n") && latency.contains(",0.00001\n"));
    assert!(latency.contains(",1.2345678901234568e16\n") && latency.contains(",1e22\n"));

    check_or_update(
        "csv_input.json",
        &(serde_json::to_string_pretty(&input).unwrap() + "\n"),
    );
    check_or_update("predictions.csv", &predictions);
    check_or_update("latency_samples.csv", &latency);
}

/// The run the Swift package produces (`fixtures/golden/swift_run/`, written by
/// `ios-bench/Tests/SceneBenchTests/SuiteRunnerTests.swift`) is valid for the harness: its
/// manifest parses with a device block, both CSVs pass the harness's validation against the
/// manifest's classes, every prediction row is exactly what `PredictionRecord::from_logits`
/// builds from the same f32 logits, and `upload.json` carries the same files.
#[test]
fn swift_run_is_valid_for_the_harness() {
    use results::csv_io::{parse_csv_str, Validation};
    use results::manifest::Manifest;
    use std::path::Path;

    let dir = golden_dir().join("swift_run");
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let manifest: Manifest = serde_json::from_str(&read("manifest.json")).unwrap();
    let device = manifest.device.as_ref().expect("device block");
    assert_eq!(device.model, "iPhone15,2");
    assert_eq!(manifest.schema_version, SCHEMA_VERSION);
    let v = Validation {
        classes: Some(&manifest.classes),
    };

    let predictions_csv = read("predictions.csv");
    let preds: Vec<PredictionRecord> =
        parse_csv_str(&predictions_csv, Path::new("predictions.csv"), &v).unwrap();
    assert_eq!(preds.len(), 16);
    for r in &preds {
        assert_eq!(r.backend, "coreml");
        let logits: Vec<f32> = r.logits.split(';').map(|s| s.parse().unwrap()).collect();
        let ctx = PredictionContext {
            run_id: r.run_id.clone(),
            model: r.model.clone(),
            backend: r.backend.clone(),
            device: r.device.clone(),
            compute_unit: r.compute_unit.clone(),
            split: r.split.clone(),
        };
        let rust = PredictionRecord::from_logits(
            &ctx,
            &r.image_id,
            &r.true_label,
            &logits,
            &manifest.classes,
        )
        .unwrap();
        assert_eq!(&rust, r, "Swift row differs from from_logits");
    }
    // Byte-identical too (the Rust writer on the parsed rows).
    assert_eq!(to_csv_string(&preds).unwrap(), predictions_csv);

    let latency_csv = read("latency_samples.csv");
    let lat: Vec<LatencySample> =
        parse_csv_str(&latency_csv, Path::new("latency_samples.csv"), &v).unwrap();
    let units: std::collections::BTreeSet<&str> =
        lat.iter().map(|s| s.compute_unit.as_str()).collect();
    assert_eq!(
        units.into_iter().collect::<Vec<_>>(),
        ["all", "cpuAndGPU", "cpuAndNeuralEngine", "cpuOnly"]
    );
    assert_eq!(lat.iter().filter(|s| s.phase == "load").count(), 4);
    assert_eq!(to_csv_string(&lat).unwrap(), latency_csv);

    let upload: Value = serde_json::from_str(&read("upload.json")).unwrap();
    assert_eq!(upload["schema_version"], 1);
    assert_eq!(upload["upload_id"], manifest.run_id.as_str());
    assert_eq!(upload["files"]["predictions.csv"], predictions_csv.as_str());
    assert_eq!(upload["files"]["latency_samples.csv"], latency_csv.as_str());
    let m2: Manifest = serde_json::from_value(upload["manifest"].clone()).unwrap();
    assert_eq!(m2.run_id, manifest.run_id);
}

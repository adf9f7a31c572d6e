//! End-to-end CLI tests: `scenebench run --profile smoke`, `report` on its output, `predict`,
//! `export onnx`, and the errors a person sees for bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_scenebench"));
    c.env(
        "SCENEBENCH_ROOT",
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".."),
    );
    c
}

fn run_ok(c: &mut Command) -> (String, String) {
    let out = c.output().expect("spawn scenebench");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "scenebench failed: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        c
    );
    (stdout, stderr)
}

fn smoke_run(dir: &Path, name: &str) -> PathBuf {
    run_ok(
        bin()
            .args([
                "run",
                "--profile",
                "smoke",
                "--quiet",
                "--name",
                name,
                "--out",
            ])
            .arg(dir),
    );
    dir.join(name)
}

#[test]
fn smoke_run_writes_records_reports_and_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let run = smoke_run(tmp.path(), "smoke");
    for f in [
        "predictions.csv",
        "latency_samples.csv",
        "metrics.csv",
        "manifest.json",
        "report.md",
        "report.tex",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    for f in [
        "reliability_finetune.png",
        "confusion_scratch.svg",
        "latency.png",
        "training_finetune.png",
    ] {
        assert!(run.join("plots").join(f).is_file(), "plots/{f} missing");
    }

    assert!(run.join("gallery/finetune_predictions.png").is_file());
    assert!(std::fs::read_to_string(run.join("report.md"))
        .unwrap()
        .contains("gallery/finetune_predictions.png"));

    // The manifest says what ran on what.
    let m = results::manifest::Manifest::read(&run.join("manifest.json")).unwrap();
    assert!(
        m.dataset.synthetic,
        "the default data must be marked synthetic"
    );
    assert_eq!(m.classes.len(), 10);
    assert_eq!(m.models.len(), 2);
    assert!(m.models.iter().all(|x| x.sha256.len() == 64));
    assert!(
        m.engines
            .get("ort")
            .is_some_and(|v| v.starts_with("onnxruntime 1.31")),
        "{:?}",
        m.engines
    );
    assert!(!m.finished_at.is_empty() && !m.tool.git_sha.is_empty());

    // Raw records parse with the harness's own validation (what an upload must pass too).
    let preds =
        results::csv_io::read_predictions(&run.join("predictions.csv"), Some(&m.classes)).unwrap();
    let test_candle: Vec<_> = preds
        .iter()
        .filter(|p| p.backend == "candle" && p.split == "test" && p.model == "finetune")
        .collect();
    assert_eq!(test_candle.len(), m.dataset.splits["test"] as usize);
    let lat = results::csv_io::read_latency(&run.join("latency_samples.csv")).unwrap();
    for backend in ["candle", "ort", "tract"] {
        assert!(
            lat.iter()
                .any(|s| s.backend == backend && s.phase == "measure"),
            "no {backend} latency samples"
        );
        assert!(lat
            .iter()
            .any(|s| s.backend == backend && s.phase == "load"));
    }

    // Headline metrics carry n and an interval; the three backends agree.
    let metrics = results::csv_io::read_metrics(&run.join("metrics.csv")).unwrap();
    let top1 = metrics
        .iter()
        .find(|r| {
            r.metric == "top1_acc"
                && r.model == "finetune"
                && r.backend == "candle"
                && r.ci_method == "wilson"
        })
        .expect("top1_acc row");
    assert_eq!(top1.n as usize, test_candle.len());
    assert!(top1.ci_low.unwrap() <= top1.value && top1.value <= top1.ci_high.unwrap());
    let parity: Vec<_> = metrics
        .iter()
        .filter(|r| r.metric == "max_abs_dlogit")
        .collect();
    assert_eq!(parity.len(), 2 * 3, "3 backend pairs per model");
    for p in parity {
        assert!(
            p.value < 1e-4,
            "backends disagree: {} {} = {}",
            p.backend,
            p.metric,
            p.value
        );
    }
    for name in [
        "ece_15",
        "coverage@0.40",
        "errors_flagged@0.40",
        "aurc",
        "p50_ms",
    ] {
        assert!(
            metrics.iter().any(|r| r.metric == name),
            "metric {name} missing"
        );
    }

    // Reports from the CSVs alone.
    let (md, _) = run_ok(bin().args(["report", "--format", "md"]).arg(&run));
    assert!(
        md.contains("SYNTHETIC"),
        "the report must say the data is synthetic"
    );
    assert!(md.contains("top-1"));
    let (tex, _) = run_ok(bin().args(["report", "--format", "latex"]).arg(&run));
    assert!(tex.contains("\\toprule") && tex.contains("\\bottomrule"));
    let (csv, _) = run_ok(bin().args(["report", "--format", "csv"]).arg(&run));
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .starts_with("schema_version,run_id,model"));

    // Resuming a finished run retrains nothing and reproduces the same selected models.
    let before = std::fs::read(run.join("train/finetune/best.safetensors")).unwrap();
    run_ok(
        bin()
            .args([
                "run",
                "--profile",
                "smoke",
                "--quiet",
                "--resume",
                "--name",
                "smoke",
                "--out",
            ])
            .arg(tmp.path()),
    );
    let after = std::fs::read(run.join("train/finetune/best.safetensors")).unwrap();
    assert_eq!(before, after);
}

#[test]
fn predict_and_export_on_the_fixture_model() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let model = root.join("fixtures/vit_test/timm.safetensors");
    let img = root.join("../shared/data/scene15/test/coast");
    let first = std::fs::read_dir(&img)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut outs = Vec::new();
    for backend in ["candle", "ort", "tract"] {
        let (stdout, _) = run_ok(
            bin()
                .args([
                    "predict",
                    "--config",
                    "vit_test_patch8_32",
                    "--json",
                    "--backend",
                    backend,
                    "--model",
                ])
                .arg(&model)
                .arg(&first),
        );
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(v["backend"], backend);
        assert_eq!(v["top"].as_array().unwrap().len(), 5);
        outs.push(v["top"][0]["label"].as_str().unwrap().to_string());
    }
    assert!(
        outs.windows(2).all(|w| w[0] == w[1]),
        "top-1 differs across backends: {outs:?}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let onnx = tmp.path().join("m.onnx");
    run_ok(
        bin()
            .args([
                "export",
                "onnx",
                "--config",
                "vit_test_patch8_32",
                "--model",
            ])
            .arg(&model)
            .arg("--out")
            .arg(&onnx),
    );
    assert!(std::fs::metadata(&onnx).unwrap().len() > 100_000);
}

#[test]
fn bad_input_gives_clear_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a model").unwrap();
    let out = bin()
        .args(["predict", "--model"])
        .arg(&junk)
        .arg("x.jpg")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("junk.safetensors"), "{err}");

    let bad_img = tmp.path().join("broken.jpg");
    std::fs::write(&bad_img, b"\xff\xd8\xff\xe0 truncated").unwrap();
    let out = bin()
        .args(["predict", "--config", "vit_test_patch8_32", "--model"])
        .arg(root.join("fixtures/vit_test/timm.safetensors"))
        .arg(&bad_img)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.jpg"), "{err}");

    let out = bin().args(["run", "--profile", "nope"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown profile"));
    let out = bin()
        .args([
            "run",
            "--profile",
            "smoke",
            "--data",
            "folder:/nonexistent/dir",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dir"));
}

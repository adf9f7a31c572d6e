//! The suites against scikit-learn / numpy / scipy reference values.
//!
//! Inputs and expected values: `fixtures/golden/metrics/{inputs,expected}.json`, written by
//! `tools/golden/make_metrics_golden.py` (500 seeded test predictions over the seed project's
//! 10 classes, a second model on the same images, 300 validation predictions, 237 latency
//! samples). Tolerance 1e-9; 1e-6 for the fitted temperature and metrics computed at it.

use serde_json::Value;
use suites::accuracy;
use suites::calibration::{self, RowStats};
use suites::confusion;
use suites::latency::{self, LatencyMeta};
use suites::stats;
use suites::{ClassPair, PairSpec, Predictions, RecordMeta, SuiteConfig};

fn load(name: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/golden/metrics/");
    let text = std::fs::read_to_string(format!("{path}{name}"))
        .unwrap_or_else(|e| panic!("reading {path}{name}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(f).collect()
}

fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, scikit-learn/numpy {want} (|Δ| = {:e} > {tol:e})",
        (got - want).abs()
    );
}

struct Golden {
    inputs: Value,
    expected: Value,
    classes: Vec<String>,
}

impl Golden {
    fn new() -> Self {
        let inputs = load("inputs.json");
        let classes = inputs["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        Self {
            inputs,
            expected: load("expected.json"),
            classes,
        }
    }

    fn preds(&self, model: &str, split: &str, logits_key: &str, ids_key: &str) -> Predictions {
        let part = &self.inputs[ids_key];
        Predictions::from_parts(
            RecordMeta {
                model: model.into(),
                split: split.into(),
                ..Default::default()
            },
            self.classes.clone(),
            part["image_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect(),
            part["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect(),
            self.inputs[logits_key]["logits"]
                .as_array()
                .unwrap()
                .iter()
                .map(floats)
                .collect(),
        )
        .unwrap()
    }

    fn test(&self) -> Predictions {
        self.preds("a", "test", "test", "test")
    }
}

fn cfg() -> SuiteConfig {
    SuiteConfig {
        bootstrap_resamples: 100,
        ..Default::default()
    }
}

#[test]
fn accuracy_matches_sklearn() {
    let g = Golden::new();
    let e = &g.expected["accuracy"];
    let r = accuracy::run(&g.test(), &cfg()).unwrap();
    let s = &r.summary;
    close("top1_acc", s.top1, f(&e["top1_acc"]), 1e-12);
    close("top5_acc", s.top5, f(&e["top5_acc"]), 1e-12);
    close("balanced_acc", s.balanced, f(&e["balanced_acc"]), 1e-9);
    close(
        "macro_precision",
        s.macro_precision,
        f(&e["macro_precision"]),
        1e-9,
    );
    close("macro_recall", s.macro_recall, f(&e["macro_recall"]), 1e-9);
    close("macro_f1", s.macro_f1, f(&e["macro_f1"]), 1e-9);
    close("micro_f1", s.micro_f1, f(&e["micro_f1"]), 1e-12);
    for key in ["micro_precision", "micro_recall", "micro_f1"] {
        let row = r
            .metrics
            .iter()
            .find(|m| m.metric == key && m.params.is_empty())
            .unwrap();
        close(key, row.value, f(&e[key]), 1e-12);
    }
    let (p, rc, f1, sup) = (
        floats(&e["precision"]),
        floats(&e["recall"]),
        floats(&e["f1"]),
        floats(&e["support"]),
    );
    for (k, c) in r.per_class.iter().enumerate() {
        close(&format!("precision[{}]", c.class), c.precision, p[k], 1e-9);
        close(&format!("recall[{}]", c.class), c.recall, rc[k], 1e-9);
        close(&format!("f1[{}]", c.class), c.f1, f1[k], 1e-9);
        assert_eq!(c.support as f64, sup[k]);
    }
    // Wilson interval on top-1 (formula with scipy's norm.ppf(0.975)).
    let top1 = r
        .metrics
        .iter()
        .find(|m| m.metric == "top1_acc" && m.params.is_empty())
        .unwrap();
    let w = floats(&e["top1_wilson"]);
    close("top1 wilson low", top1.ci_low.unwrap(), w[0], 1e-12);
    close("top1 wilson high", top1.ci_high.unwrap(), w[1], 1e-12);
    // The bootstrap interval brackets the estimate and is of plausible width (±~4.4 points
    // at n = 500, p = 0.55).
    let boot = r
        .metrics
        .iter()
        .find(|m| m.metric == "top1_acc" && m.params == "ci=bootstrap")
        .unwrap();
    let (lo, hi) = (boot.ci_low.unwrap(), boot.ci_high.unwrap());
    assert!(
        lo < s.top1 && s.top1 < hi && hi - lo > 0.05 && hi - lo < 0.12,
        "{lo}..{hi}"
    );
}

#[test]
fn mcnemar_matches_scipy_binomtest() {
    let g = Golden::new();
    let e = &g.expected["accuracy"]["mcnemar"];
    let a = g.test();
    let b = g.preds("b", "test", "test_b", "test");
    let t = accuracy::mcnemar(&a, &b).unwrap();
    assert_eq!(t.only_a, e["only_a"].as_u64().unwrap());
    assert_eq!(t.only_b, e["only_b"].as_u64().unwrap());
    close("mcnemar p", t.p_value, f(&e["p_value"]), 1e-9);
}

#[test]
fn confusion_matches_sklearn() {
    let g = Golden::new();
    let want: Vec<Vec<u64>> = g.expected["confusion_matrix"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect()
        })
        .collect();
    let p = g.test();
    assert_eq!(confusion::confusion_matrix(&p), want);
    let r = confusion::run(&p, &cfg()).unwrap();
    // Default pairs exist in the seed project's classes.
    assert!(r.skipped_pairs.is_empty());
    let e = &g.expected["pair_rate_living_room_to_bedroom"];
    let pr = &r.pairs[0];
    assert_eq!(
        (pr.from.as_str(), pr.to.as_str()),
        ("living room", "bedroom")
    );
    assert_eq!(pr.count, e["count"].as_u64().unwrap());
    assert_eq!(pr.n_from, e["n"].as_u64().unwrap());
    assert_eq!(pr.image_ids.len() as u64, pr.count);
    close("pair rate", pr.rate, f(&e["rate"]), 1e-12);
    let w = floats(&e["wilson"]);
    let ci = pr.ci.unwrap();
    close("pair wilson low", ci.low, w[0], 1e-12);
    close("pair wilson high", ci.high, w[1], 1e-12);
    // Row-normalized rates of the long table follow the matrix.
    for cell in &r.cells {
        let t = g
            .classes
            .iter()
            .position(|c| *c == cell.true_label)
            .unwrap();
        let q = g
            .classes
            .iter()
            .position(|c| *c == cell.pred_label)
            .unwrap();
        let row: u64 = want[t].iter().sum();
        assert_eq!(cell.count, want[t][q]);
        close("row rate", cell.rate, want[t][q] as f64 / row as f64, 1e-15);
    }
    // Explicit pairs parse and resolve.
    let cfg2 = SuiteConfig {
        pairs: PairSpec::Explicit(vec!["office:restaurant".parse::<ClassPair>().unwrap()]),
        ..cfg()
    };
    let r2 = confusion::run(&p, &cfg2).unwrap();
    assert_eq!(r2.pairs.len(), 2);
    assert_eq!(r2.pairs[0].count, want[7][6]);
}

fn check_setting(
    label: &str,
    s: &calibration::CalibrationSummary,
    r: &calibration::CalibrationReport,
    e: &Value,
    tol: f64,
) {
    close(&format!("{label} ece_15"), s.ece_15, f(&e["ece_15"]), tol);
    close(
        &format!("{label} ece_15_mass"),
        s.ece_15_mass,
        f(&e["ece_15_mass"]),
        tol,
    );
    close(&format!("{label} mce_15"), s.mce_15, f(&e["mce_15"]), tol);
    close(&format!("{label} brier"), s.brier, f(&e["brier"]), tol);
    close(&format!("{label} nll"), s.nll, f(&e["nll"]), tol);
    close(
        &format!("{label} nll vs sklearn log_loss"),
        s.nll,
        f(&e["nll_sklearn_log_loss"]),
        tol,
    );
    close(&format!("{label} aurc"), s.aurc, f(&e["aurc"]), tol);
    let params = format!("calibrated={}", s.calibrated);
    let get = |name: &str| {
        r.metrics
            .iter()
            .find(|m| m.metric == name && m.params == params)
            .unwrap_or_else(|| panic!("no {name} {params}"))
            .value
    };
    for key in [
        "coverage",
        "selective_acc",
        "errors_flagged",
        "correct_flagged",
    ] {
        close(
            &format!("{label} {key}@0.40"),
            get(&format!("{key}@0.40")),
            f(&e[key]),
            tol,
        );
    }
    let tt = r
        .target_thresholds
        .iter()
        .find(|t| t.calibrated == s.calibrated)
        .unwrap();
    close(
        &format!("{label} threshold"),
        tt.threshold.unwrap(),
        f(&e["threshold_for_selective_acc"]),
        tol,
    );
    // Reliability diagram (equal width): count, mean confidence, accuracy per bin.
    let bins: Vec<_> = r
        .reliability
        .iter()
        .filter(|b| b.calibrated == s.calibrated && b.binning == "equal_width")
        .collect();
    for (b, want) in bins
        .iter()
        .zip(e["reliability_equal_width"].as_array().unwrap())
    {
        assert_eq!(b.count, want[0].as_u64().unwrap(), "{label} bin {}", b.bin);
        if b.count > 0 {
            close(
                "bin confidence",
                b.mean_confidence.unwrap(),
                f(&want[1]),
                tol,
            );
            close("bin accuracy", b.accuracy.unwrap(), f(&want[2]), tol);
        }
    }
}

#[test]
fn calibration_matches_numpy_and_scipy() {
    let g = Golden::new();
    let e = &g.expected["calibration"];
    let test = g.test();
    let val = g.preds("a", "val", "val", "val");
    let r = calibration::run(&test, Some(&val), &cfg()).unwrap();
    close(
        "temperature",
        r.temperature.unwrap(),
        f(&e["temperature"]),
        1e-6,
    );
    check_setting(
        "uncalibrated",
        &r.summaries[0],
        &r,
        &e["uncalibrated"],
        1e-9,
    );
    check_setting("calibrated", &r.summaries[1], &r, &e["calibrated"], 1e-6);
    // Temperature scaling leaves top-1 alone.
    let a = RowStats::new(&test, 1.0);
    let b = RowStats::new(&test, r.temperature.unwrap());
    assert_eq!(a.correct, b.correct);
}

#[test]
fn latency_statistics_match_numpy() {
    let g = Golden::new();
    let e = &g.expected["latency"];
    let x = floats(&g.inputs["latency_ms"]);
    let meta = LatencyMeta {
        batch_size: 1,
        ..Default::default()
    };
    let samples: Vec<_> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| meta.sample("measure", i as u32, v))
        .collect();
    let r = latency::analyze(&samples, &cfg()).unwrap();
    let s = &r.summaries[0];
    close("p50", s.p50_ms, f(&e["p50"]), 1e-9);
    close("p90", s.p90_ms, f(&e["p90"]), 1e-9);
    close("p99", s.p99_ms, f(&e["p99"]), 1e-9);
    close("mean", s.mean_ms, f(&e["mean"]), 1e-9);
    close("std", s.std_ms, f(&e["std"]), 1e-9);
    close("min", s.min_ms, f(&e["min"]), 0.0);
    close("max", s.max_ms, f(&e["max"]), 0.0);
    close(
        "percentile()",
        stats::percentile(&x, 0.9),
        f(&e["p90"]),
        1e-9,
    );
}

/// The CSV path: rows with `;`-separated logits (Rust's shortest round-trip floats, as
/// `results` writes them) parse back to the same predictions, and the combined analysis emits
/// every metric name the schema promises.
#[test]
fn records_path_and_metric_names() {
    let g = Golden::new();
    let p = g.test();
    let rows: Vec<results::records::PredictionRecord> = (0..p.len())
        .map(|i| results::records::PredictionRecord {
            schema_version: results::records::SCHEMA_VERSION,
            run_id: "golden".into(),
            model: "a".into(),
            backend: "candle".into(),
            device: "cpu".into(),
            compute_unit: String::new(),
            split: "test".into(),
            image_id: p.image_ids[i].clone(),
            true_label: g.classes[p.labels[i]].clone(),
            pred_label: g.classes[p.argmax(i)].clone(),
            confidence: 0.0,
            true_prob: 0.0,
            top5_labels: String::new(),
            top5_probs: String::new(),
            logits: p
                .logits_row(i)
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(";"),
        })
        .collect();
    let groups = suites::group_records(&rows);
    assert_eq!(groups.len(), 1);
    let q = Predictions::from_records(groups[0].1.iter().copied(), &g.classes).unwrap();
    assert_eq!(q.labels, p.labels);
    for i in 0..p.len() {
        assert_eq!(q.logits_row(i), p.logits_row(i));
    }
    let val = g.preds("a", "val", "val", "val");
    let a = suites::analyze_predictions(&q, Some(&val), &cfg()).unwrap();
    let m = a.metrics();
    for name in [
        "top1_acc",
        "top5_acc",
        "balanced_acc",
        "macro_f1",
        "micro_f1",
        "ece_15",
        "ece_15_mass",
        "mce_15",
        "brier",
        "nll",
        "temperature",
        "coverage@0.40",
        "selective_acc@0.40",
        "errors_flagged@0.40",
        "correct_flagged@0.40",
        "aurc",
        "pair_rate",
    ] {
        assert!(m.iter().any(|r| r.metric == name), "no {name}");
    }
    assert!(m
        .iter()
        .all(|r| r.run_id == "golden" && r.backend == "candle" && r.split == "test"));
    // Four pair directions with the default pairs.
    assert_eq!(m.iter().filter(|r| r.metric == "pair_rate").count(), 4);
}

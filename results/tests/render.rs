//! Golden Markdown / LaTeX / terminal tables for a fixed set of metric rows, LaTeX escaping,
//! and a report over a temporary run directory with an iPhone upload under `device/`.
//! Regenerate the golden files with `UPDATE_GOLDEN=1 cargo test -p results --test render` and
//! review the diff.

use std::path::{Path, PathBuf};

use results::csv_io::write_csv;
use results::manifest::{DeviceInfo, Manifest};
use results::report::{render, render_with, write_markdown_report, Format, RenderOptions};
use results::table::{
    comparison_table, default_summary_columns, latency_table, latex_escape, pairs_table,
    summary_table, CiStyle, MetricColumn,
};
use results::MetricRecord;

#[allow(clippy::too_many_arguments)]
fn m(
    run: &str,
    model: &str,
    backend: &str,
    device: &str,
    cu: &str,
    split: &str,
    suite: &str,
    metric: &str,
    params: &str,
    value: f64,
    ci: Option<(f64, f64)>,
    n: u64,
    unit: &str,
) -> MetricRecord {
    MetricRecord {
        schema_version: 1,
        run_id: run.into(),
        model: model.into(),
        backend: backend.into(),
        device: device.into(),
        compute_unit: cu.into(),
        split: split.into(),
        suite: suite.into(),
        suite_version: 1,
        metric: metric.into(),
        params: params.into(),
        value,
        ci_low: ci.map(|c| c.0),
        ci_high: ci.map(|c| c.1),
        // As the suites crate does: Wilson for proportions, bootstrap for the rest.
        ci_method: match ci {
            None => String::new(),
            Some(_)
                if suite == "latency"
                    || (suite == "calibration" && !metric.contains('@'))
                    || params.contains("ci=bootstrap") =>
            {
                "bootstrap".into()
            }
            Some(_) => "wilson".into(),
        },
        n,
        unit: unit.into(),
    }
}

/// Desktop run `r1`: two models on candle, latency on candle and ort.
fn desktop() -> Vec<MetricRecord> {
    let f = "fraction";
    vec![
        m(
            "r1",
            "finetune",
            "candle",
            "cpu",
            "",
            "test",
            "accuracy",
            "top1_acc",
            "",
            0.852,
            Some((0.839, 0.865)),
            2000,
            f,
        ),
        m(
            "r1",
            "finetune",
            "candle",
            "cpu",
            "",
            "test",
            "accuracy",
            "top1_acc",
            "ci=bootstrap",
            0.852,
            Some((0.838, 0.866)),
            2000,
            f,
        ),
        m(
            "r1",
            "finetune",
            "candle",
            "cpu",
            "",
            "test",
            "accuracy",
            "top5_acc",
            "k=5",
            0.981,
            Some((0.975, 0.986)),
            2000,
            f,
        ),
        m(
            "r1",
            "finetune",
            "candle",
            "cpu",
            "",
            "test",
            "accuracy",
            "f1",
            "class=beach",
            0.9,
            None,
            200,
            f,
        ),
        m(
            "r1",
            "finetune",
            "candle",
            "cpu",
            "",
            "test",
            "calibration",
            "ece_15",
            "calibrated=false",
            0.0412,
            Some((0.031, 0.052)),
            2000,
            f,
        ),
        m(
            "r1",
            "finetune",
            "candle",
            "cpu",
            "",
            "test",
            "calibration",
            "ece_15",
            "calibrated=true",
            0.0153,
            Some((0.010, 0.022)),
            2000,
            f,
        ),
        m(
            "r1",
            "finetune",
            "candle",
            "cpu",
            "",
            "test",
            "calibration",
            "nll",
            "calibrated=false",
            0.4821,
            Some((0.45, 0.51)),
            2000,
            "nats",
        ),
        m(
            "r1",
            "finetune",
            "candle",
            "cpu",
            "",
            "test",
            "calibration",
            "temperature",
            "fit_split=val",
            1.384,
            None,
            1000,
            "",
        ),
        m(
            "r1",
            "finetune",
            "candle",
            "cpu",
            "",
            "test",
            "calibration",
            "selective_acc@0.40",
            "calibrated=false",
            0.901,
            Some((0.886, 0.914)),
            1790,
            f,
        ),
        m(
            "r1",
            "scratch",
            "candle",
            "cpu",
            "",
            "test",
            "accuracy",
            "top1_acc",
            "",
            0.4415,
            Some((0.4198, 0.4634)),
            2000,
            f,
        ),
        m(
            "r1",
            "scratch",
            "candle",
            "cpu",
            "",
            "test",
            "calibration",
            "ece_15",
            "calibrated=false",
            0.1203,
            Some((0.105, 0.136)),
            2000,
            f,
        ),
        m(
            "r1",
            "finetune",
            "candle",
            "cpu",
            "",
            "test",
            "confusion",
            "pair_rate",
            "from=living room;to=bedroom",
            0.12,
            Some((0.08, 0.17)),
            200,
            f,
        ),
        m(
            "r1",
            "finetune",
            "candle",
            "cpu",
            "",
            "test",
            "confusion",
            "pair_rate",
            "from=office;to=restaurant",
            0.035,
            Some((0.017, 0.07)),
            200,
            f,
        ),
        m(
            "r1",
            "finetune",
            "candle",
            "cpu (Intel Xeon)",
            "",
            "",
            "latency",
            "p50_ms",
            "threads=2;batch=1;mode=model;precision=fp32;engine=candle 0.11.1",
            48.25,
            Some((47.9, 48.6)),
            100,
            "ms",
        ),
        m(
            "r1",
            "finetune",
            "candle",
            "cpu (Intel Xeon)",
            "",
            "",
            "latency",
            "p90_ms",
            "threads=2;batch=1;mode=model;precision=fp32;engine=candle 0.11.1",
            51.0,
            None,
            100,
            "ms",
        ),
        m(
            "r1",
            "finetune",
            "candle",
            "cpu (Intel Xeon)",
            "",
            "",
            "latency",
            "throughput",
            "threads=2;batch=1;mode=model;precision=fp32;engine=candle 0.11.1",
            20.61,
            None,
            100,
            "images/s",
        ),
        m(
            "r1",
            "finetune",
            "candle",
            "cpu (Intel Xeon)",
            "",
            "",
            "latency",
            "load_ms",
            "threads=2;batch=1;mode=model;precision=fp32;engine=candle 0.11.1",
            130.0,
            None,
            1,
            "ms",
        ),
        m(
            "r1",
            "finetune",
            "ort",
            "cpu (Intel Xeon)",
            "",
            "",
            "latency",
            "p50_ms",
            "threads=2;batch=1;mode=model;precision=fp32;engine=onnxruntime 1.31.0",
            21.5,
            Some((21.2, 21.9)),
            100,
            "ms",
        ),
    ]
}

/// iPhone upload `u1`: CoreML on two compute units.
fn device() -> Vec<MetricRecord> {
    let f = "fraction";
    vec![
        m(
            "u1",
            "finetune",
            "coreml",
            "iPhone15,2",
            "cpuAndNeuralEngine",
            "test",
            "accuracy",
            "top1_acc",
            "",
            0.8505,
            Some((0.8341, 0.8656)),
            2000,
            f,
        ),
        m(
            "u1",
            "finetune",
            "coreml",
            "iPhone15,2",
            "cpuAndNeuralEngine",
            "",
            "latency",
            "p50_ms",
            "threads=0;batch=1;mode=model;precision=fp16;engine=coreml iOS 18.1",
            3.42,
            Some((3.38, 3.47)),
            200,
            "ms",
        ),
        m(
            "u1",
            "finetune",
            "coreml",
            "iPhone15,2",
            "cpuOnly",
            "",
            "latency",
            "p50_ms",
            "threads=0;batch=1;mode=model;precision=fp16;engine=coreml iOS 18.1",
            31.7,
            Some((31.1, 32.3)),
            200,
            "ms",
        ),
    ]
}

fn golden(name: &str, got: &str) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&p, got).unwrap();
    }
    let want = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", p.display()));
    assert_eq!(got, want, "golden {name} differs");
}

#[test]
fn golden_summary_tables() {
    let ms = desktop();
    let t = summary_table(&ms, &default_summary_columns(), CiStyle::PlusMinus);
    // Only columns with data; bootstrap and per-class rows never leak into the summary.
    assert_eq!(
        t.header,
        [
            "model",
            "backend",
            "device",
            "compute unit",
            "split",
            "n",
            "top-1 (%)",
            "top-5 (%)",
            "ECE-15 (%)",
            "ECE-15 (T) (%)",
            "NLL (nats)",
            "T",
            "sel. acc@0.40 (%)"
        ]
    );
    assert_eq!(t.rows.len(), 2);
    // 0.852 with [0.839, 0.865] → 85.2 ± 1.3 (hand-computed half width 0.013).
    assert_eq!(t.rows[0][6], "85.2 ± 1.3");
    assert_eq!(t.rows[0][12], "90.1 ± 1.4 (n=1790)");
    assert_eq!(t.rows[1][7], "—");
    golden("summary.md", &t.to_markdown());
    golden("summary.tex", &t.to_latex());
    golden("summary.txt", &t.to_terminal());
    let b = summary_table(&ms, &default_summary_columns(), CiStyle::Bracket);
    assert_eq!(b.rows[0][6], "85.2 [83.9, 86.5]");
    assert!(b.to_latex().contains("\\toprule") && b.to_latex().contains("\\bottomrule"));
    let csv = t.to_csv();
    assert!(csv.starts_with("model,backend,device,compute unit,split,n,top-1 (%)"));
}

#[test]
fn golden_latency_and_pairs_with_device_rows() {
    let mut ms = desktop();
    ms.extend(device());
    let t = latency_table(&ms, CiStyle::PlusMinus);
    let backends: Vec<(&str, &str)> = t
        .rows
        .iter()
        .map(|r| (r[2].as_str(), r[3].as_str()))
        .collect();
    // Same model/mode: fp16 CoreML rows and fp32 desktop rows side by side in one table.
    assert_eq!(
        backends,
        [
            ("coreml", "cpuAndNeuralEngine"),
            ("coreml", "cpuOnly"),
            ("candle", "—"),
            ("ort", "—")
        ]
    );
    assert_eq!(t.header[0], "run");
    golden("latency.md", &t.to_markdown());
    golden("latency.tex", &t.to_latex());
    let p = pairs_table(&ms, CiStyle::Bracket);
    assert_eq!(p.rows.len(), 2);
    assert_eq!(p.rows[0][5], "living room");
    assert_eq!(p.rows[0][8], "12.0 [8.0, 17.0]");
    golden("pairs.md", &p.to_markdown());
    let c = comparison_table(
        &ms,
        &MetricColumn::new("top-1", "top1_acc", &[]),
        CiStyle::PlusMinus,
    );
    assert_eq!(c.header[5..], ["r1", "u1"]);
    golden("compare_top1.md", &c.to_markdown());
}

#[test]
fn latex_escaping() {
    assert_eq!(
        latex_escape("top1_acc 85% & #1 $x$ {a}"),
        "top1\\_acc 85\\% \\& \\#1 \\$x\\$ \\{a\\}"
    );
    assert_eq!(
        latex_escape("1.0 ± 0.2 — a\\b"),
        "1.0 $\\pm$ 0.2 --- a\\textbackslash{}b"
    );
}

fn manifest(run_id: &str, synthetic: bool) -> Manifest {
    let mut m = Manifest {
        run_id: run_id.into(),
        classes: ["beach", "bedroom"].map(String::from).to_vec(),
        ..Manifest::default()
    };
    m.dataset.synthetic = synthetic;
    m.dataset.source = if synthetic {
        "synthetic".into()
    } else {
        "sun397".into()
    };
    m.dataset.splits.insert("test".into(), 2000);
    m
}

fn run_dir(root: &Path) -> PathBuf {
    let run = root.join("default-20261204T2130Z");
    manifest("r1", true)
        .write(&run.join("manifest.json"))
        .unwrap();
    write_csv(&run.join("metrics.csv"), &desktop()).unwrap();
    let up = run.join("device/u1");
    let mut dm = manifest("u1", true);
    dm.device = Some(DeviceInfo {
        model: "iPhone15,2".into(),
        os: "iOS 18.1".into(),
        thermal_start: "nominal".into(),
        thermal_end: "fair".into(),
        app_version: "1.0".into(),
    });
    dm.write(&up.join("manifest.json")).unwrap();
    write_csv(&up.join("metrics.csv"), &device()).unwrap();
    std::fs::write(
        up.join("latency_samples.csv"),
        results::records::LATENCY_COLUMNS.join(",") + "\n",
    )
    .unwrap();
    std::fs::create_dir_all(run.join("plots")).unwrap();
    std::fs::write(run.join("plots/reliability_finetune.png"), b"png").unwrap();
    std::fs::create_dir_all(run.join("gallery")).unwrap();
    std::fs::write(run.join("gallery/beach_001.png"), b"png").unwrap();
    run
}

#[test]
fn report_merges_device_upload_with_desktop_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let run = run_dir(tmp.path());
    let md = render(std::slice::from_ref(&run), Format::Markdown).unwrap();
    if let Some(out) = std::env::var_os("SCENEBENCH_REPORT_OUT") {
        std::fs::write(out, &md).unwrap();
    }
    assert!(md.contains("**Dataset: SYNTHETIC scenes (generated) — not real photographs; 2 classes; test 2000**"), "{md}");
    assert!(md.contains("u1 — iPhone15,2, iOS 18.1, thermal nominal → fair; files: latency_samples.csv; 3 metric rows"), "{md}");
    // Headline with n and interval, desktop and device.
    assert!(md.contains("- finetune · candle · cpu · test [r1]: top-1 85.2% (95% CI 83.9–86.5%, wilson), n = 2000"), "{md}");
    assert!(md.contains("- finetune · coreml · cpuAndNeuralEngine · iPhone15,2 · test [u1]: top-1 85.0% (95% CI 83.4–86.6%, wilson), n = 2000"), "{md}");
    // Latency table rows: CoreML directly above candle/ort in the same table.
    let lat = md
        .split("## Latency")
        .nth(1)
        .unwrap()
        .split("## ")
        .next()
        .unwrap();
    let i_cm = lat.find("| coreml | cpuAndNeuralEngine |").expect(lat);
    let i_cd = lat.find("| candle |").expect(lat);
    let i_ort = lat.find("| ort |").expect(lat);
    assert!(i_cm < i_cd && i_cd < i_ort);
    assert!(md.contains(&format!(
        "![reliability_finetune]({})",
        run.join("plots/reliability_finetune.png").display()
    )));
    assert!(md.contains("## Gallery"));

    // report.md links relative to the run directory.
    let p = write_markdown_report(&run).unwrap();
    let text = std::fs::read_to_string(p).unwrap();
    assert!(text.contains("![reliability_finetune](plots/reliability_finetune.png)"));

    let tex = render(std::slice::from_ref(&run), Format::Latex).unwrap();
    assert!(tex.contains("% Dataset: SYNTHETIC scenes"));
    assert!(tex.contains("coreml & cpuAndNeuralEngine"), "{tex}");
    let txt = render(std::slice::from_ref(&run), Format::Table).unwrap();
    assert!(txt.contains("Dataset: SYNTHETIC") && txt.contains("cpuAndNeuralEngine"));
    let csv = render(std::slice::from_ref(&run), Format::Csv).unwrap();
    assert_eq!(csv.lines().count(), 1 + desktop().len() + device().len());

    // Two runs side by side: the run column appears; an empty dir is an error naming it.
    let other = tmp.path().join("other");
    manifest("r2", false)
        .write(&other.join("manifest.json"))
        .unwrap();
    let mut r2 = desktop();
    for x in &mut r2 {
        x.run_id = "r2".into();
    }
    write_csv(&other.join("metrics.csv"), &r2).unwrap();
    let both = render_with(&[run, other], Format::Markdown, &RenderOptions::default()).unwrap();
    assert!(
        both.contains("| run | model |")
            && both.contains("**Dataset: sun397; 2 classes; test 2000**")
    );
    assert!(
        both.contains("## top-1 (%) by run")
            && both.contains("| model | backend | device | compute unit | split | r1 | u1 | r2 |"),
        "{both}"
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = render(std::slice::from_ref(&empty), Format::Markdown).unwrap_err();
    assert!(e.to_string().contains(&empty.display().to_string()));
    assert_eq!("md".parse::<Format>().unwrap(), Format::Markdown);
    assert!("html".parse::<Format>().is_err());
}

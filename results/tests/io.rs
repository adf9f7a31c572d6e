//! CSV round trips and validation errors (file, line, column), `from_logits` against
//! hand-computed softmax values, manifest round trip and /proc parsing.

use std::path::{Path, PathBuf};

use results::csv_io::{
    parse_csv_str, read_csv, read_latency, read_metrics, read_predictions, write_csv, CsvAppender,
    Validation,
};
use results::manifest::{parse_cpuinfo, parse_meminfo, DeviceInfo, Manifest};
use results::records::{softmax, LATENCY_COLUMNS, PREDICTION_COLUMNS};
use results::{LatencySample, MetricRecord, PredictionContext, PredictionRecord, ResultsError};

fn classes() -> Vec<String> {
    ["beach", "bedroom", "forest"].map(String::from).to_vec()
}

fn ctx() -> PredictionContext {
    PredictionContext {
        run_id: "r1".into(),
        model: "finetune".into(),
        backend: "candle".into(),
        device: "cpu".into(),
        compute_unit: String::new(),
        split: "test".into(),
    }
}

fn pred(id: &str, label: &str, logits: &[f32]) -> PredictionRecord {
    PredictionRecord::from_logits(&ctx(), id, label, logits, &classes()).unwrap()
}

fn lat(phase: &str, it: u32, ms: f64) -> LatencySample {
    LatencySample {
        schema_version: 1,
        run_id: "r1".into(),
        model: "finetune".into(),
        backend: "coreml".into(),
        engine_version: "coreml iOS 18.1".into(),
        device: "iPhone15,2".into(),
        compute_unit: "cpuAndNeuralEngine".into(),
        precision: "fp16".into(),
        threads: 0,
        batch_size: 1,
        mode: "model".into(),
        phase: phase.into(),
        iteration: it,
        latency_ms: ms,
    }
}

#[test]
fn from_logits_matches_hand_computed_softmax() {
    // softmax([1,2,3]) = [e^-2, e^-1, 1] / (1 + e^-1 + e^-2)
    let z = 1.0 + (-1f64).exp() + (-2f64).exp();
    let want = [(-2f64).exp() / z, (-1f64).exp() / z, 1.0 / z];
    assert!((want[2] - 0.665_240_955_774_821_5).abs() < 1e-15);
    let r = pred("a.jpg", "bedroom", &[1.0, 2.0, 3.0]);
    assert_eq!(r.pred_label, "forest");
    assert!((r.confidence - want[2]).abs() < 1e-12);
    assert!((r.true_prob - want[1]).abs() < 1e-12);
    assert_eq!(r.top5_labels, "forest;bedroom;beach");
    let tp = r.top5_probs_vec().unwrap();
    for (a, b) in tp.iter().zip([want[2], want[1], want[0]]) {
        assert!((a - b).abs() < 1e-12);
    }
    assert_eq!(r.logits, "1.0;2.0;3.0");
    assert_eq!(r.logits_vec().unwrap(), vec![1.0, 2.0, 3.0]);
    let p = r.probs().unwrap();
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    // Stable for huge logits.
    let s = softmax(&[1000.0, 1000.0]);
    assert_eq!(s, vec![0.5, 0.5]);
    // Ties: lowest class index first.
    let t = pred("t.jpg", "beach", &[0.0, 0.0, 0.0]);
    assert_eq!(t.pred_label, "beach");
    assert_eq!(t.top5_labels, "beach;bedroom;forest");
}

#[test]
fn from_logits_rejects_bad_input() {
    let e = PredictionRecord::from_logits(&ctx(), "x.jpg", "beach", &[1.0, 2.0], &classes())
        .unwrap_err();
    assert!(e.to_string().contains("x.jpg") && e.to_string().contains("2 logits for 3 classes"));
    let e = PredictionRecord::from_logits(&ctx(), "x.jpg", "moon", &[1.0, 2.0, 3.0], &classes())
        .unwrap_err();
    assert!(e.to_string().contains("`moon`"), "{e}");
    let e =
        PredictionRecord::from_logits(&ctx(), "x.jpg", "beach", &[1.0, f32::NAN, 3.0], &classes())
            .unwrap_err();
    assert!(e.to_string().contains("NaN"), "{e}");
}

#[test]
fn round_trips_all_three_files_and_appends() {
    let dir = tempfile::tempdir().unwrap();
    let cls = classes();
    let preds = vec![
        pred("img/a, with comma.jpg", "beach", &[2.5, -1.0, 0.125]),
        pred("img/\"quoted\".jpg", "forest", &[0.1, 0.2, 0.3]),
    ];
    let p = dir.path().join("predictions.csv");
    write_csv(&p, &preds).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.starts_with(&PREDICTION_COLUMNS.join(",")));
    assert_eq!(read_predictions(&p, Some(&cls)).unwrap(), preds);

    let lats = vec![
        lat("load", 0, 812.5),
        lat("warmup", 0, 9.0),
        lat("measure", 0, 4.25),
    ];
    let l = dir.path().join("latency_samples.csv");
    write_csv(&l, &lats).unwrap();
    assert_eq!(read_latency(&l).unwrap(), lats);

    let ms = vec![MetricRecord {
        schema_version: 1,
        run_id: "r1".into(),
        model: "m".into(),
        backend: "ort".into(),
        device: "cpu".into(),
        compute_unit: String::new(),
        split: "test".into(),
        suite: "accuracy".into(),
        suite_version: 1,
        metric: "top1_acc".into(),
        params: String::new(),
        value: 0.75,
        ci_low: None,
        ci_high: None,
        ci_method: String::new(),
        n: 4,
        unit: "fraction".into(),
    }];
    let m = dir.path().join("metrics.csv");
    write_csv(&m, &ms).unwrap();
    assert_eq!(read_metrics(&m).unwrap(), ms);
    // No temp files left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");

    // Append mode: header once, rows accumulate across reopenings.
    let a = dir.path().join("stream/latency_samples.csv");
    {
        let mut w = CsvAppender::<LatencySample>::open(&a).unwrap();
        w.push(&lats[0]).unwrap();
    }
    {
        let mut w = CsvAppender::<LatencySample>::open(&a).unwrap();
        w.push(&lats[1]).unwrap();
        w.push(&lats[2]).unwrap();
        assert_eq!(w.rows_written(), 2);
    }
    assert_eq!(read_latency(&a).unwrap(), lats);
    let text = std::fs::read_to_string(&a).unwrap();
    assert_eq!(text.matches("schema_version").count(), 1);
    // Appending to a file with another schema is refused.
    let e = CsvAppender::<PredictionRecord>::open(&a).err().unwrap();
    assert!(matches!(e, ResultsError::Header { .. }), "{e}");
}

/// Writes `text` as `name` and reads it as predictions with the class list.
fn bad_preds(text: &str) -> ResultsError {
    let name = PathBuf::from("upload/predictions.csv");
    let cls = classes();
    parse_csv_str::<PredictionRecord>(
        text,
        &name,
        &Validation {
            classes: Some(&cls),
        },
    )
    .unwrap_err()
}

fn good_pred_line() -> String {
    let p = pred("a.jpg", "beach", &[2.0, 1.0, 0.0]);
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(vec![]);
    w.serialize(&p).unwrap();
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

fn header() -> String {
    PREDICTION_COLUMNS.join(",") + "\n"
}

fn assert_field(e: &ResultsError, line: u64, column: &str, needle: &str) {
    match e {
        ResultsError::Field {
            path,
            line: l,
            column: c,
            reason,
        } => {
            assert_eq!(path, Path::new("upload/predictions.csv"));
            assert_eq!((*l, c.as_str()), (line, column), "{e}");
            assert!(reason.contains(needle), "{e}");
            let msg = e.to_string();
            assert!(msg.starts_with("upload/predictions.csv: line"), "{msg}");
        }
        other => panic!("expected a field error, got {other}"),
    }
}

#[test]
fn validation_errors_name_file_line_and_column() {
    let good = good_pred_line();
    // Sanity: the good file parses.
    let ok = header() + &good + &good;
    let cls = classes();
    assert_eq!(
        parse_csv_str::<PredictionRecord>(
            &ok,
            Path::new("x"),
            &Validation {
                classes: Some(&cls)
            }
        )
        .unwrap()
        .len(),
        2
    );
    let with = |f: &dyn Fn(&mut Vec<String>)| {
        let mut cells: Vec<String> = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(good.as_bytes())
            .records()
            .next()
            .unwrap()
            .unwrap()
            .iter()
            .map(String::from)
            .collect();
        f(&mut cells);
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(vec![]);
        w.write_record(&cells).unwrap();
        // good row on line 2, bad row on line 3
        header() + &good + &String::from_utf8(w.into_inner().unwrap()).unwrap()
    };
    assert_field(
        &bad_preds(&with(&|c| c[0] = "2".into())),
        3,
        "schema_version",
        "schema_version 2",
    );
    assert_field(
        &bad_preds(&with(&|c| c[10] = "high".into())),
        3,
        "confidence",
        "cannot parse `high`",
    );
    assert_field(
        &bad_preds(&with(&|c| c[10] = "1.5".into())),
        3,
        "confidence",
        "outside [0, 1]",
    );
    assert_field(
        &bad_preds(&with(&|c| c[11] = "-0.1".into())),
        3,
        "true_prob",
        "outside [0, 1]",
    );
    assert_field(
        &bad_preds(&with(&|c| c[14] = "1;2".into())),
        3,
        "logits",
        "2 logits but the run has 3",
    );
    assert_field(
        &bad_preds(&with(&|c| c[14] = "1;x;2".into())),
        3,
        "logits",
        "item 2 `x`",
    );
    assert_field(
        &bad_preds(&with(&|c| c[8] = "moon".into())),
        3,
        "true_label",
        "`moon`",
    );
    assert_field(
        &bad_preds(&with(&|c| c[9] = "sea".into())),
        3,
        "pred_label",
        "`sea`",
    );
    assert_field(
        &bad_preds(&with(&|c| c[13] = "0.5;0.5".into())),
        3,
        "top5_probs",
        "2 probabilities for 3",
    );
    assert_field(
        &bad_preds(&with(&|c| c[5] = "neural".into())),
        3,
        "compute_unit",
        "unknown compute unit",
    );

    // Header: wrong order, missing column, empty file.
    let mut cols: Vec<&str> = PREDICTION_COLUMNS.to_vec();
    cols.swap(8, 9);
    let e = bad_preds(&(cols.join(",") + "\n" + &good));
    assert!(matches!(e, ResultsError::Header { line: 1, .. }), "{e}");
    assert!(
        e.to_string()
            .contains("upload/predictions.csv: line 1: wrong header"),
        "{e}"
    );
    let e = bad_preds(&(PREDICTION_COLUMNS[..14].join(",") + "\n"));
    assert!(matches!(e, ResultsError::Header { .. }), "{e}");
    let e = bad_preds("");
    assert!(e.to_string().contains("(empty file)"), "{e}");
    // Ragged row.
    let e = bad_preds(&(header() + &good + "1,r1,m\n"));
    match &e {
        ResultsError::Row { line, reason, .. } => {
            assert_eq!(*line, 3);
            assert!(reason.contains("3 fields, expected 15"), "{e}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn latency_validation() {
    let head = LATENCY_COLUMNS.join(",") + "\n";
    let row = |phase: &str, mode: &str, ms: &str| {
        format!("1,r,m,coreml,coreml iOS 18.1,iPhone15,cpuOnly,fp16,0,1,{mode},{phase},0,{ms}\n")
    };
    let f = Path::new("dev/latency_samples.csv");
    let v = Validation::default();
    // device "iPhone15" without comma inside: fine
    let ok = head.clone() + &row("measure", "model", "3.5");
    assert_eq!(parse_csv_str::<LatencySample>(&ok, f, &v).unwrap().len(), 1);
    let cases = [
        (row("measure", "model", "-1"), "latency_ms", "finite time"),
        (
            row("measure", "model", "fast"),
            "latency_ms",
            "cannot parse",
        ),
        (
            row("cooldown", "model", "1"),
            "phase",
            "unknown phase `cooldown`",
        ),
        (row("measure", "batch", "1"), "mode", "unknown mode `batch`"),
    ];
    for (r, col, needle) in cases {
        let e = parse_csv_str::<LatencySample>(
            &(head.clone() + &row("load", "model", "100") + &r),
            f,
            &v,
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("dev/latency_samples.csv: line 3, column `{col}`"))
                && msg.contains(needle),
            "{msg}"
        );
    }
    // Through the file API: the path is in the message.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("latency_samples.csv");
    std::fs::write(&p, head + &row("measure", "model", "-2")).unwrap();
    let e = read_csv::<LatencySample>(&p, &v).unwrap_err();
    assert!(e.to_string().contains(&p.display().to_string()), "{e}");
}

#[test]
fn manifest_round_trip_and_collection() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = Manifest::start(
        "default-20261204T2130Z",
        "scenebench",
        "0.1.0",
        Some(Path::new(env!("CARGO_MANIFEST_DIR"))),
    );
    assert_eq!(m.schema_version, 1);
    assert!(!m.started_at.is_empty() && m.started_at.ends_with('Z'));
    assert!(m.host.cores >= 1);
    // In this repository git is present; elsewhere the sha is "unknown" with a note.
    assert!(m.tool.git_sha.len() == 40 || (m.tool.git_sha == "unknown" && !m.notes.is_empty()));
    m.classes = classes();
    m.dataset.synthetic = true;
    m.dataset.source = "synthetic".into();
    m.dataset.splits.insert("test".into(), 30);
    m.device = Some(DeviceInfo {
        model: "iPhone15,2".into(),
        os: "iOS 18.1".into(),
        ..Default::default()
    });
    m.finish();
    let p = dir.path().join("manifest.json");
    m.write(&p).unwrap();
    let back = Manifest::read(&p).unwrap();
    assert_eq!(back, m);
    assert!(back
        .dataset_statement()
        .starts_with("SYNTHETIC scenes (generated) — not real photographs; 3 classes; test 30"));

    // A sparse device manifest (as the Swift app writes) parses with defaults.
    let sparse = r#"{"schema_version":1,"run_id":"u1","classes":["a","b"],
        "device":{"model":"iPhone15,2","os":"iOS 18.1"},"extra_field":1}"#;
    let s = Manifest::from_json(sparse, Path::new("u1/manifest.json")).unwrap();
    assert_eq!(s.device.unwrap().model, "iPhone15,2");
    let e =
        Manifest::from_json(r#"{"schema_version":2}"#, Path::new("u2/manifest.json")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("u2/manifest.json: schema_version 2"),
        "{e}"
    );
    let e = Manifest::from_json("{", Path::new("u3/manifest.json")).unwrap_err();
    assert!(e.to_string().starts_with("u3/manifest.json:"), "{e}");
}

#[test]
fn proc_parsers() {
    let cpu = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8488C\nflags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512bw amx_tile\n\nprocessor\t: 1\n";
    let (m, f) = parse_cpuinfo(cpu);
    assert_eq!(m.as_deref(), Some("Intel(R) Xeon(R) Platinum 8488C"));
    assert_eq!(
        f,
        ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "amx_tile"]
    );
    let arm = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp sve i8mm\n";
    assert_eq!(parse_cpuinfo(arm).1, ["asimd", "asimddp", "i8mm", "sve"]);
    assert_eq!(
        parse_meminfo("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
        Some(24_576_000 * 1024)
    );
}

#[test]
fn upload_validation_classifies_400_and_422() {
    use results::csv_io::{to_csv_string, validate_upload};
    let cls = classes();
    let preds = vec![pred("a.jpg", "beach", &[2.0, 1.0, 0.0])];
    let text = to_csv_string(&preds).unwrap();
    let ok = validate_upload(&cls, Some(&text), None).unwrap();
    assert_eq!(ok.predictions, preds);
    assert!(validate_upload(&cls, None, None).is_err());
    // Unknown label: well-formed but breaks the schema → 422.
    let e = validate_upload(&cls[..2], Some(&text), None).unwrap_err();
    assert!(!e.is_malformed(), "{e}");
    assert!(
        e.to_string()
            .starts_with("predictions.csv: line 2, column `top5_labels`: label `forest`"),
        "{e}"
    );
    // Unparsable number → 400.
    let bad = text.replace("0.66", "x.66");
    let e = validate_upload(&cls, Some(&bad), None).unwrap_err();
    assert!(e.is_malformed(), "{e}");
    // Ragged row → 400; wrong schema_version → 422.
    let e =
        validate_upload(&cls, None, Some(&(LATENCY_COLUMNS.join(",") + "\n1,2\n"))).unwrap_err();
    assert!(
        e.is_malformed() && e.to_string().starts_with("latency_samples.csv: line 2"),
        "{e}"
    );
    let row = "2,r,m,coreml,coreml iOS 18.1,iPhone15,cpuOnly,fp16,0,1,model,measure,0,3.5\n";
    let e =
        validate_upload(&cls, None, Some(&(LATENCY_COLUMNS.join(",") + "\n" + row))).unwrap_err();
    assert!(
        !e.is_malformed() && e.to_string().contains("column `schema_version`"),
        "{e}"
    );
}

mod prop {
    use proptest::prelude::*;
    use results::csv_io::{parse_csv_str, to_csv_string, Validation};
    use results::MetricRecord;
    use std::path::Path;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any strings (commas, quotes, newlines, unicode) and any finite floats survive a
        /// write → read round trip bit for bit.
        #[test]
        fn metric_rows_round_trip(
            run in "\\PC{0,12}", model in "[a-z ,\"\n]{1,10}", params in "[a-z=;,]{0,16}",
            value in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL,
            lo in proptest::option::of(-1e6f64..1e6), n in 0u64..u64::MAX,
        ) {
            let m = MetricRecord {
                schema_version: 1, run_id: run, model, backend: "ort".into(), device: "cpu".into(),
                compute_unit: String::new(), split: "test".into(), suite: "accuracy".into(),
                suite_version: 3, metric: "top1_acc".into(), params, value,
                ci_low: lo, ci_high: lo.map(|x| x + 1.0), ci_method: "wilson".into(), n,
                unit: "fraction".into(),
            };
            let text = to_csv_string(std::slice::from_ref(&m)).unwrap();
            let back: Vec<MetricRecord> = parse_csv_str(&text, Path::new("m.csv"), &Validation::default()).unwrap();
            prop_assert_eq!(back.len(), 1);
            prop_assert_eq!(back[0].value.to_bits(), value.to_bits());
            prop_assert_eq!(&back[0], &m);
        }
    }
}

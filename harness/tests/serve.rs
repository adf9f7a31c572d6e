//! `scenebench serve` over real HTTP on 127.0.0.1 (ephemeral port), driven with a blocking
//! client: the upload contract of `docs/SCHEMAS.md` ("Upload") — status codes, error reasons,
//! bytes on disk, idempotency, concurrency — and ingestion of the stored runs into
//! `metrics.csv` with hand-computed expectations.
//!
//! Fixtures: `fixtures/golden/swift_run/upload.json` is produced by the Swift package's tests
//! (`ios-bench`); `fixtures/uploads/minimal.json` is hand-written (`make_minimal.py`). The
//! concurrent uploads are built with `results`' own writer.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::ingest::ingest_device_runs;
use harness::serve::{start, upload_body, RunningServer, ServeConfig};
use results::csv_io::{read_metrics, to_csv_string};
use results::records::{LatencySample, PredictionContext, PredictionRecord, SCHEMA_VERSION};
use results::MetricRecord;
use serde_json::{json, Value};

const TOKEN: &str = "test-token-0123456789";
const SWIFT_UPLOAD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/golden/swift_run/upload.json"
);
const SWIFT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/golden/swift_run");
const MINIMAL_UPLOAD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/uploads/minimal.json"
);

struct Srv {
    rt: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    dir: tempfile::TempDir,
    base: String,
    agent: ureq::Agent,
}

impl Srv {
    fn start(max_body_bytes: usize) -> Srv {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = ServeConfig::new(dir.path(), TOKEN);
        cfg.bind = "127.0.0.1:0".parse().unwrap();
        cfg.max_body_bytes = max_body_bytes;
        let server = rt.block_on(start(cfg)).unwrap();
        let base = format!("http://{}", server.local_addr());
        Srv {
            rt,
            server: Some(server),
            dir,
            base,
            agent: agent(),
        }
    }

    fn device_dir(&self) -> PathBuf {
        self.dir.path().join("device")
    }

    /// Names in `<dir>/device/` (including hidden temporaries).
    fn stored(&self) -> BTreeSet<String> {
        std::fs::read_dir(self.device_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    fn post(&self, auth: Option<&str>, body: &[u8]) -> (u16, Value) {
        post(&self.agent, &self.base, auth, body)
    }

    fn upload(&self, body: &Value) -> (u16, Value) {
        self.post(
            Some(&format!("Bearer {TOKEN}")),
            body.to_string().as_bytes(),
        )
    }
}

impl Drop for Srv {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let r = self.rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(20), s.shutdown()).await
            });
            if !std::thread::panicking() {
                r.expect("server shut down within 20 s").unwrap();
            }
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn post(agent: &ureq::Agent, base: &str, auth: Option<&str>, body: &[u8]) -> (u16, Value) {
    let mut req = agent
        .post(format!("{base}/api/v1/uploads"))
        .header("Content-Type", "application/json");
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let mut resp = req.send(body).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {text:?}"));
    (status, v)
}

fn read_json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn minimal() -> Value {
    read_json(MINIMAL_UPLOAD)
}

/// The error reason of a 4xx body.
fn reason(v: &Value) -> &str {
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error field in {v}"))
}

/// Replaces the `n`-th line (1-based) of one uploaded file.
fn edit_line(body: &mut Value, file: &str, n: usize, f: impl Fn(&str) -> String) {
    let text = body["files"][file].as_str().unwrap().to_string();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[n - 1] = f(&lines[n - 1]);
    body["files"][file] = Value::String(lines.join("\n") + "\n");
}

/// Replaces cell `col` (0-based) of line `n` in one uploaded file (no quoted commas before it).
fn edit_cell(body: &mut Value, file: &str, n: usize, col: usize, value: &str) {
    edit_line(body, file, n, |l| {
        // The `device` cell is quoted ("iPhone15,2"); split with the csv crate to be safe.
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(l.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        let mut cells: Vec<String> = rec.iter().map(str::to_string).collect();
        cells[col] = value.to_string();
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        w.write_record(&cells).unwrap();
        String::from_utf8(w.into_inner().unwrap())
            .unwrap()
            .trim_end()
            .to_string()
    });
}

fn metric<'a>(ms: &'a [MetricRecord], name: &str, cu: &str) -> &'a MetricRecord {
    // Latency metrics carry `threads=…;batch=…` params; the others' headline row has none.
    let mut found = ms.iter().filter(|m| {
        m.metric == name && m.compute_unit == cu && (m.suite == "latency" || m.params.is_empty())
    });
    let m = found
        .next()
        .unwrap_or_else(|| panic!("no metric {name} for compute unit {cu}"));
    assert!(found.next().is_none(), "several {name} rows for {cu}");
    m
}

#[test]
fn health_and_unknown_routes() {
    let s = Srv::start(1 << 20);
    let mut r = s
        .agent
        .get(format!("{}/api/v1/health", s.base))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(v, json!({"status": "ok", "schema_version": 1}));

    let mut r = s
        .agent
        .get(format!("{}/api/v1/nope", s.base))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(reason(&v), "not found");

    let mut r = s
        .agent
        .get(format!("{}/api/v1/uploads", s.base))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert!(v["error"].is_string());
}

#[test]
fn swift_upload_is_stored_byte_identical_and_ingested() {
    let s = Srv::start(64 << 20);
    let body_text = std::fs::read(SWIFT_UPLOAD).expect("Swift-produced fixture");
    let body: Value = serde_json::from_slice(&body_text).unwrap();
    let id = body["upload_id"].as_str().unwrap().to_string();
    // Send the Swift bytes unchanged (its pretty-printed JSON, key order and all).
    let (st, v) = s.post(Some(&format!("Bearer {TOKEN}")), &body_text);
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["upload_id"], json!(id));
    assert_eq!(v["duplicate"], json!(false));
    let run_dir = s.device_dir().join(&id);
    assert_eq!(Path::new(v["run_dir"].as_str().unwrap()), run_dir);
    for f in ["predictions.csv", "latency_samples.csv"] {
        let stored = std::fs::read(run_dir.join(f)).unwrap();
        let swift = std::fs::read(Path::new(SWIFT_DIR).join(f)).unwrap();
        assert_eq!(stored, swift, "{f} differs from the Swift fixture");
        assert_eq!(stored, body["files"][f].as_str().unwrap().as_bytes());
    }
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest, body["manifest"]);
    assert_eq!(s.stored(), BTreeSet::from([id.clone()]));

    // Same bytes again: idempotent.
    let (st, v) = s.post(Some(&format!("Bearer {TOKEN}")), &body_text);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["duplicate"], json!(true));

    // Ingest: metrics computed by the suites, checked against values read off the fixture by hand.
    let runs = ingest_device_runs(s.dir.path()).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].upload_id, id);
    assert_eq!((runs[0].predictions, runs[0].latency_samples), (16, 24));
    assert_eq!(runs[0].groups.len(), 4);
    let ms = read_metrics(&run_dir.join("metrics.csv")).unwrap();
    assert_eq!(ms.len(), runs[0].metrics);
    // Each compute unit: 4 test images, only the bedroom image right; 3 measured iterations
    // 0.125 ms apart whose middle one is the median; one load row.
    for (cu, p50, load) in [
        ("all", 20.5, 850.5),
        ("cpuAndNeuralEngine", 21.25, 856.5),
        ("cpuAndGPU", 22.0, 862.5),
        ("cpuOnly", 22.75, 868.5),
    ] {
        let acc = metric(&ms, "top1_acc", cu);
        assert_eq!(acc.value, 0.25, "{cu}");
        assert_eq!(acc.n, 4);
        assert_eq!(
            (
                acc.backend.as_str(),
                acc.device.as_str(),
                acc.split.as_str()
            ),
            ("coreml", "iPhone15,2", "test")
        );
        assert!(
            (metric(&ms, "p50_ms", cu).value - p50).abs() < 1e-12,
            "{cu}"
        );
        assert_eq!(metric(&ms, "p50_ms", cu).n, 3);
        assert!(
            (metric(&ms, "load_ms", cu).value - load).abs() < 1e-12,
            "{cu}"
        );
        assert!(ms
            .iter()
            .any(|m| m.compute_unit == cu && m.suite == "calibration"));
    }
    // `scenebench report` over the runs directory shows the phone's CoreML rows per compute unit.
    let report = results::report::render(
        &[s.dir.path().to_path_buf()],
        results::report::Format::Markdown,
    )
    .unwrap();
    assert!(
        report.contains("swift-fixture-run — iPhone15,2, iOS 18.1"),
        "{report}"
    );
    for (cu, p50, load) in [
        ("all", "20.50", "850.5"),
        ("cpuAndNeuralEngine", "21.25", "856.5"),
        ("cpuAndGPU", "22.00", "862.5"),
        ("cpuOnly", "22.75", "868.5"),
    ] {
        let row = report
            .lines()
            .find(|l| l.contains(&format!("| coreml | {cu} | iPhone15,2 | coreml iOS 18.1 |")))
            .unwrap_or_else(|| panic!("no latency row for {cu} in\n{report}"));
        assert!(
            row.contains(&format!("| {p50} [")) && row.ends_with(&format!("| {load} |")),
            "{row}"
        );
    }
    // Re-ingesting rewrites the same metrics.
    let before = std::fs::read(run_dir.join("metrics.csv")).unwrap();
    ingest_device_runs(s.dir.path()).unwrap();
    assert_eq!(std::fs::read(run_dir.join("metrics.csv")).unwrap(), before);
}

#[test]
fn hand_written_upload_duplicate_and_conflict() {
    let s = Srv::start(1 << 20);
    let body = minimal();
    let (st, v) = s.upload(&body);
    assert_eq!(st, 201, "{v}");
    let run_dir = s.device_dir().join("hand-upload-1");
    let pred_before = std::fs::read(run_dir.join("predictions.csv")).unwrap();
    let lat_before = std::fs::read(run_dir.join("latency_samples.csv")).unwrap();
    assert_eq!(
        pred_before,
        body["files"]["predictions.csv"]
            .as_str()
            .unwrap()
            .as_bytes()
    );

    let (st, v) = s.upload(&body);
    assert_eq!((st, &v["duplicate"]), (200, &json!(true)), "{v}");

    // Same id, one latency changed: 409, nothing replaced.
    let mut changed = body.clone();
    edit_cell(&mut changed, "latency_samples.csv", 4, 13, "10.5");
    let (st, v) = s.upload(&changed);
    assert_eq!(st, 409, "{v}");
    assert!(reason(&v).contains("latency_samples.csv differs"), "{v}");
    // Same id, a file left out: also a conflict.
    let mut fewer = body.clone();
    fewer["files"]
        .as_object_mut()
        .unwrap()
        .remove("latency_samples.csv");
    let (st, v) = s.upload(&fewer);
    assert_eq!(st, 409, "{v}");
    assert_eq!(
        std::fs::read(run_dir.join("latency_samples.csv")).unwrap(),
        lat_before
    );
    assert_eq!(
        std::fs::read(run_dir.join("predictions.csv")).unwrap(),
        pred_before
    );
    assert_eq!(s.stored(), BTreeSet::from(["hand-upload-1".to_string()]));

    // Hand-computed (fixtures/uploads/make_minimal.py): 2 of 3 right; measured 10, 12, 11, 15 ms.
    let runs = ingest_device_runs(s.dir.path()).unwrap();
    let ms = read_metrics(&runs[0].metrics_path).unwrap();
    let cu = "cpuAndNeuralEngine";
    assert!((metric(&ms, "top1_acc", cu).value - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(metric(&ms, "p50_ms", cu).value, 11.5);
    assert_eq!(metric(&ms, "mean_ms", cu).value, 12.0);
    assert_eq!(metric(&ms, "load_ms", cu).value, 900.0);
}

#[test]
fn token_is_required_and_checked() {
    let s = Srv::start(1 << 20);
    let body = minimal().to_string();
    for auth in [
        None,
        Some("Bearer wrong-token".to_string()),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Basic {TOKEN}")),
        Some(TOKEN.to_string()),
        Some("Bearer ".to_string()),
    ] {
        let (st, v) = s.post(auth.as_deref(), body.as_bytes());
        assert_eq!(st, 401, "{auth:?}: {v}");
        assert!(v["error"].is_string());
    }
    assert!(
        s.stored().is_empty(),
        "a refused upload wrote {:?}",
        s.stored()
    );
}

#[test]
fn malformed_json_is_400() {
    let s = Srv::start(1 << 20);
    let auth = format!("Bearer {TOKEN}");
    let (st, v) = s.post(Some(&auth), b"{\"schema_version\": 1, \"upload_id\": ");
    assert_eq!(st, 400, "{v}");
    assert!(
        reason(&v).contains("malformed upload JSON") && reason(&v).contains("line 1"),
        "{v}"
    );
    let (st, v) = s.post(Some(&auth), b"[1, 2]");
    assert_eq!(st, 400, "{v}");
    // Structurally wrong: files is not an object of strings.
    let mut body = minimal();
    body["files"] = json!({"predictions.csv": 3});
    let (st, v) = s.upload(&body);
    assert_eq!(st, 400, "{v}");
    assert!(reason(&v).contains("invalid type"), "{v}");
    assert!(s.stored().is_empty());
}

#[test]
fn malformed_csv_is_400_naming_file_and_line() {
    let s = Srv::start(1 << 20);
    // An extra field on line 3.
    let mut body = minimal();
    edit_line(&mut body, "predictions.csv", 3, |l| format!("{l},extra"));
    let (st, v) = s.upload(&body);
    assert_eq!(st, 400, "{v}");
    let r = reason(&v);
    assert!(
        r.contains("predictions.csv") && r.contains("line 3") && r.contains("16 fields"),
        "{r}"
    );
    // A number that does not parse, line 5 of the latency file.
    let mut body = minimal();
    edit_cell(&mut body, "latency_samples.csv", 5, 13, "fast");
    let (st, v) = s.upload(&body);
    assert_eq!(st, 400, "{v}");
    let r = reason(&v);
    assert!(
        r.contains("latency_samples.csv") && r.contains("line 5") && r.contains("`latency_ms`"),
        "{r}"
    );
    assert!(s.stored().is_empty());
}

#[test]
fn schema_violations_are_422_naming_file_line_column() {
    let s = Srv::start(1 << 20);
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, Vec<&str>)> = vec![
        (
            "upload schema_version 2",
            Box::new(|b| b["schema_version"] = json!(2)),
            vec!["schema_version 2"],
        ),
        (
            "no upload schema_version",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("schema_version");
            }),
            vec!["schema_version"],
        ),
        (
            "csv schema_version 2",
            Box::new(|b| edit_cell(b, "predictions.csv", 2, 0, "2")),
            vec!["predictions.csv", "line 2", "`schema_version`"],
        ),
        (
            "unknown true label",
            Box::new(|b| edit_cell(b, "predictions.csv", 4, 8, "bathroom")),
            vec!["predictions.csv", "line 4", "`true_label`", "bathroom"],
        ),
        (
            "wrong logit count",
            Box::new(|b| edit_cell(b, "predictions.csv", 3, 14, "0.25;1.5")),
            vec!["predictions.csv", "line 3", "`logits`", "2 logits"],
        ),
        (
            "negative latency",
            Box::new(|b| edit_cell(b, "latency_samples.csv", 6, 13, "-1.0")),
            vec!["latency_samples.csv", "line 6", "`latency_ms`"],
        ),
        (
            "unknown phase",
            Box::new(|b| edit_cell(b, "latency_samples.csv", 3, 11, "cooldown")),
            vec!["latency_samples.csv", "line 3", "`phase`"],
        ),
        (
            "coreml without compute unit",
            Box::new(|b| edit_cell(b, "latency_samples.csv", 4, 6, "")),
            vec!["latency_samples.csv", "line 4", "`compute_unit`"],
        ),
        (
            "coreml prediction without compute unit",
            Box::new(|b| edit_cell(b, "predictions.csv", 2, 5, "")),
            vec!["predictions.csv", "line 2", "`compute_unit`"],
        ),
        (
            "wrong header",
            Box::new(|b| {
                edit_line(b, "predictions.csv", 1, |l| {
                    l.replace("true_prob", "p_true")
                })
            }),
            vec!["predictions.csv", "line 1", "header"],
        ),
        (
            "duplicate image",
            Box::new(|b| edit_cell(b, "predictions.csv", 3, 7, "img/beach_1.jpg")),
            vec!["predictions.csv", "img/beach_1.jpg"],
        ),
        (
            "manifest without device",
            Box::new(|b| b["manifest"]["device"] = Value::Null),
            vec!["manifest", "device"],
        ),
        (
            "manifest without classes",
            Box::new(|b| {
                b["manifest"].as_object_mut().unwrap().remove("classes");
            }),
            vec!["manifest", "classes"],
        ),
        (
            "manifest schema_version 2",
            Box::new(|b| b["manifest"]["schema_version"] = json!(2)),
            vec!["manifest", "schema_version"],
        ),
        (
            "no files",
            Box::new(|b| b["files"] = json!({})),
            vec!["at least one"],
        ),
        (
            "unknown file",
            Box::new(|b| b["files"]["metrics.csv"] = json!("x")),
            vec!["metrics.csv"],
        ),
    ];
    for (name, edit, needles) in cases {
        let mut body = minimal();
        edit(&mut body);
        let (st, v) = s.upload(&body);
        assert_eq!(st, 422, "{name}: {v}");
        for n in needles {
            assert!(
                reason(&v).contains(n),
                "{name}: {:?} lacks {n:?}",
                reason(&v)
            );
        }
    }
    assert!(s.stored().is_empty(), "{:?}", s.stored());
}

#[test]
fn oversized_body_is_413() {
    let limit = 64 * 1024;
    let s = Srv::start(limit);
    let mut body = minimal();
    body["manifest"]["notes"] = json!(["x".repeat(limit)]);
    let (st, v) = s.upload(&body);
    assert_eq!(st, 413, "{v}");
    assert!(reason(&v).contains("65536"), "{v}");
    // Far over the limit (12 MiB): the server drains the body so the client still reads the 413
    // rather than a broken pipe.
    for _ in 0..3 {
        let big = vec![b' '; 12 << 20];
        let (st, v) = s.post(Some(&format!("Bearer {TOKEN}")), &big);
        assert_eq!(st, 413, "{v}");
    }
    assert!(s.stored().is_empty());
    // Just under the limit is fine.
    let mut body = minimal();
    let size = body.to_string().len();
    body["manifest"]["notes"] = json!(["y".repeat(limit - size - 16)]);
    assert!(body.to_string().len() <= limit);
    let (st, v) = s.upload(&body);
    assert_eq!(st, 201, "{v}");
}

#[test]
fn unsafe_upload_ids_are_rejected() {
    let s = Srv::start(1 << 20);
    for id in [
        "../evil", "..", ".", "a/b", "/tmp/x", ".hidden", "a\\b", "", "x y", "é",
    ] {
        let mut body = minimal();
        body["upload_id"] = json!(id);
        let (st, v) = s.upload(&body);
        assert_eq!(st, 400, "{id:?}: {v}");
        assert!(reason(&v).contains("upload_id"), "{v}");
    }
    assert!(s.stored().is_empty());
    let top: BTreeSet<String> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(top, BTreeSet::from(["device".to_string()]));
}

/// An upload whose predictions and latencies are built with `results`' writer.
fn generated_upload(id: &str, k: usize) -> Value {
    let classes: Vec<String> = ["beach", "forest", "kitchen", "office"]
        .map(String::from)
        .to_vec();
    let ctx = PredictionContext {
        run_id: id.into(),
        model: "finetune".into(),
        backend: "coreml".into(),
        device: "iPhone15,2".into(),
        compute_unit: "cpuOnly".into(),
        split: "test".into(),
    };
    let preds: Vec<PredictionRecord> = (0..6)
        .map(|i| {
            let logits: Vec<f32> = (0..4)
                .map(|c| ((i * 7 + c * 3 + k) % 5) as f32 * 0.5)
                .collect();
            PredictionRecord::from_logits(
                &ctx,
                &format!("img/{i}.jpg"),
                &classes[i % 4],
                &logits,
                &classes,
            )
            .unwrap()
        })
        .collect();
    let lat: Vec<LatencySample> = (0..5)
        .map(|i| LatencySample {
            schema_version: SCHEMA_VERSION,
            run_id: id.into(),
            model: "finetune".into(),
            backend: "coreml".into(),
            engine_version: "coreml iOS 18.1".into(),
            device: "iPhone15,2".into(),
            compute_unit: "cpuOnly".into(),
            precision: "fp16".into(),
            threads: 0,
            batch_size: 1,
            mode: "model".into(),
            phase: if i == 0 { "load" } else { "measure" }.into(),
            iteration: i,
            latency_ms: 10.0 + k as f64 + i as f64 * 0.25,
        })
        .collect();
    let mut manifest = minimal()["manifest"].clone();
    manifest["classes"] = json!(classes);
    manifest["run_id"] = json!(id);
    upload_body(
        id,
        &manifest,
        Some(&to_csv_string(&preds).unwrap()),
        Some(&to_csv_string(&lat).unwrap()),
    )
}

#[test]
fn concurrent_uploads_lose_nothing() {
    let s = Srv::start(1 << 20);
    let distinct: Vec<(String, Value)> = (0..32)
        .map(|k| {
            let id = uuid::Uuid::new_v4().to_string();
            let b = generated_upload(&id, k);
            (id, b)
        })
        .collect();
    let same_id = "same-id-eight-times";
    let same = generated_upload(same_id, 99);
    let mut jobs: Vec<(String, Value)> = distinct.clone();
    jobs.extend((0..8).map(|_| (same_id.to_string(), same.clone())));
    let base = s.base.clone();
    let results: Vec<(String, u16, Value)> = std::thread::scope(|sc| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(id, body)| {
                let base = base.clone();
                sc.spawn(move || {
                    let a = agent();
                    let (st, v) = post(
                        &a,
                        &base,
                        Some(&format!("Bearer {TOKEN}")),
                        body.to_string().as_bytes(),
                    );
                    (id.clone(), st, v)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (id, st, v) in &results[..32] {
        assert_eq!(*st, 201, "{id}: {v}");
    }
    let same_statuses: Vec<u16> = results[32..].iter().map(|r| r.1).collect();
    assert_eq!(
        same_statuses.iter().filter(|&&c| c == 201).count(),
        1,
        "{same_statuses:?}"
    );
    assert_eq!(
        same_statuses.iter().filter(|&&c| c == 200).count(),
        7,
        "{same_statuses:?}"
    );

    let mut want: BTreeSet<String> = distinct.iter().map(|(id, _)| id.clone()).collect();
    want.insert(same_id.to_string());
    assert_eq!(s.stored(), want, "missing uploads or leftover temporaries");
    for (id, body) in distinct
        .iter()
        .chain(std::iter::once(&(same_id.to_string(), same.clone())))
    {
        for f in ["predictions.csv", "latency_samples.csv"] {
            let stored = std::fs::read(s.device_dir().join(id).join(f)).unwrap();
            assert_eq!(
                stored,
                body["files"][f].as_str().unwrap().as_bytes(),
                "{id}/{f}"
            );
        }
    }
    let runs = ingest_device_runs(s.dir.path()).unwrap();
    assert_eq!(runs.len(), 33);
    assert!(runs
        .iter()
        .all(|r| r.predictions == 6 && r.latency_samples == 5 && r.metrics > 0));
}

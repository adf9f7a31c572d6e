//! The ONNX writer and the ONNX Runtime / tract backends against independent references.
//!
//! * A random `vit_test_patch8_32` checkpoint is exported; ORT and tract must match candle's
//!   logits within 1e-4 (max abs) with the same top-1, at batch 1 and batch 3 (dynamic batch).
//! * The timm fixture (`fixtures/vit_test/`, made by `tools/fixtures/make_timm_fixture.py`) is
//!   exported and run by ORT and tract against timm's own reference logits, also at 48×48 with
//!   resampled position embeddings.
//! * The written file is decoded again: names, shapes, opset, metadata, initializers.
//! * A missing / unusable ONNX Runtime library is a clear `OrtLibrary` error (checked in a child
//!   process, because ONNX Runtime is loaded once per process).
//!
//! Needs the ONNX Runtime library: run `scripts/fetch-onnxruntime.sh` first (CI does).

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use models::backend::{self, BackendError, BackendKind, ModelSource, PrepareOptions};
use models::onnx::{self, proto::type_proto};
use models::{Checkpoint, Preprocess, VisionTransformer, VitConfig};

const TOL: f32 = 1e-4;

fn fixture_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/vit_test"))
}

/// Deterministic inputs in [-2, 2) (a 64-bit LCG; no dependence on `rand`'s stream).
fn inputs(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect()
}

fn random_checkpoint(classes: usize, seed: u64) -> Checkpoint {
    let cfg = VitConfig::vit_test_patch8_32(classes);
    let names = (0..classes).map(|i| format!("class_{i}")).collect();
    Checkpoint::random(cfg, names, Preprocess::timm_vit(32), seed).expect("random checkpoint")
}

fn candle_logits(ck: &Checkpoint, x: &[f32], batch: usize) -> Vec<f32> {
    let s = ck.config.image_size;
    let vit = VisionTransformer::from_checkpoint(ck, &Device::Cpu).expect("candle model");
    let t = Tensor::from_vec(x.to_vec(), (batch, 3, s, s), &Device::Cpu).unwrap();
    vit.forward(&t)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap()
}

/// Max |a - b| within `TOL` and the same top-1 per row. The top-1 check is skipped only for a row
/// whose reference has two logits closer than 2·TOL (a tie within the tolerance).
fn assert_close(what: &str, got: &[f32], want: &[f32], classes: usize) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let max = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        max <= TOL,
        "{what}: max |Δlogit| = {max:e} > {TOL:e}\n got {got:?}\nwant {want:?}"
    );
    for (r, (g, w)) in got.chunks(classes).zip(want.chunks(classes)).enumerate() {
        let mut sorted = w.to_vec();
        sorted.sort_by(|a, b| b.total_cmp(a));
        if sorted[0] - sorted[1] > 2.0 * TOL {
            assert_eq!(argmax(g), argmax(w), "{what}: top-1 of row {r}");
        }
    }
}

fn opts(threads: usize, batch_size: usize) -> PrepareOptions {
    PrepareOptions {
        threads,
        batch_size,
        device: "cpu".into(),
    }
}

fn read_f32(st: &safetensors::SafeTensors, name: &str) -> (Vec<usize>, Vec<f32>) {
    let t = st
        .tensor(name)
        .unwrap_or_else(|e| panic!("io.safetensors: {name}: {e}"));
    let v = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (t.shape().to_vec(), v)
}

fn write_model(ck: &Checkpoint, dir: &Path, name: &str) -> ModelSource {
    let checkpoint = dir.join(format!("{name}.safetensors"));
    ck.save(&checkpoint).expect("save checkpoint");
    let path = dir.join(format!("{name}.onnx"));
    onnx::write_onnx(ck, &path).expect("write onnx");
    ModelSource {
        checkpoint,
        onnx: Some(path),
    }
}

#[test]
fn exported_model_reads_back_with_names_shapes_and_metadata() {
    let ck = random_checkpoint(5, 11);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.onnx");
    onnx::write_onnx(&ck, &path).unwrap();
    let m = onnx::read_model(&path).unwrap();

    assert_eq!(m.ir_version, onnx::IR_VERSION);
    assert_eq!(m.opset_import.len(), 1);
    assert_eq!(
        (m.opset_import[0].domain.as_str(), m.opset_import[0].version),
        ("", 17)
    );
    let g = m.graph.as_ref().expect("graph");
    assert_eq!(g.input.len(), 1);
    assert_eq!(g.output.len(), 1);
    assert_eq!(g.input[0].name, "image");
    assert_eq!(g.output[0].name, "logits");
    let Some(type_proto::Value::TensorType(t)) =
        g.input[0].r#type.as_ref().and_then(|t| t.value.clone())
    else {
        panic!("input is not a tensor")
    };
    assert_eq!(t.elem_type, onnx::proto::data_type::FLOAT);
    let n = || Err::<i64, String>("N".to_string());
    assert_eq!(
        onnx::value_dims(&g.input[0]),
        vec![n(), Ok(3), Ok(32), Ok(32)]
    );
    assert_eq!(onnx::value_dims(&g.output[0]), vec![n(), Ok(5)]);

    // Every checkpoint tensor is an initializer (linear weights transposed), bit-exact.
    for (name, tensor) in &ck.tensors {
        let transposed = name.ends_with(".weight") && tensor.rank() == 2 && name != "head.weight";
        let key = if transposed {
            format!("{name}_t")
        } else {
            name.clone()
        };
        let init = g
            .initializer
            .iter()
            .find(|i| i.name == key)
            .unwrap_or_else(|| panic!("no initializer {key}"));
        let (shape, values) = ck.tensor_f32(name).unwrap();
        let want_dims: Vec<i64> = if transposed {
            vec![shape[1] as i64, shape[0] as i64]
        } else {
            shape.iter().map(|&d| d as i64).collect()
        };
        assert_eq!(init.dims, want_dims, "{key} dims");
        assert_eq!(
            init.raw_data.len(),
            values.len() * 4,
            "{key} raw_data length"
        );
        let got: Vec<f32> = init
            .raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if transposed {
            let (o, i) = (shape[0], shape[1]);
            // element [r, c] of W is element [c, r] of Wᵀ
            for (r, c) in [
                (0, 0),
                (o - 1, 0),
                (0, i - 1),
                (o / 2, i / 3),
                (o - 1, i - 1),
            ] {
                assert_eq!(got[c * o + r], values[r * i + c], "{key}[{c},{r}]");
            }
        } else {
            assert_eq!(got, values, "{key} values");
        }
    }

    // Metadata round-trips.
    let classes: Vec<String> =
        serde_json::from_str(onnx::metadata(&m, "scenebench.classes").unwrap()).unwrap();
    assert_eq!(classes, ck.classes);
    let cfg: VitConfig =
        serde_json::from_str(onnx::metadata(&m, "scenebench.config").unwrap()).unwrap();
    assert_eq!(cfg, ck.config);
    let pre: Preprocess =
        serde_json::from_str(onnx::metadata(&m, "scenebench.preprocess").unwrap()).unwrap();
    assert_eq!(pre, ck.preprocess);

    // The atomic write leaves no temporary file behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("m.onnx")]);
}

#[test]
fn ort_and_tract_match_candle_at_batch_1_and_3() {
    let classes = 7;
    let ck = random_checkpoint(classes, 3);
    let dir = tempfile::tempdir().unwrap();
    let source = write_model(&ck, dir.path(), "rand");
    let s = ck.config.image_size;
    let x3 = inputs(3 * 3 * s * s, 5);
    let want3 = candle_logits(&ck, &x3, 3);
    let want1 = candle_logits(&ck, &x3[..3 * s * s], 1);

    // ORT: one session, batch 1 then 3 (dynamic batch).
    let mut ort = backend::prepare(BackendKind::Ort, &source, &opts(1, 1)).expect("ort prepare");
    assert_eq!((ort.num_classes(), ort.image_size()), (classes, s));
    let info = ort.info().clone();
    assert_eq!(info.kind, BackendKind::Ort);
    // The version comes from the loaded library itself, e.g. `onnxruntime 1.31.1`.
    let version = info
        .engine_version
        .strip_prefix("onnxruntime ")
        .expect("engine name");
    let minor: u32 = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .expect("x.y.z");
    assert!(
        version.starts_with("1.") && minor >= 31,
        "{}",
        info.engine_version
    );
    assert_eq!((info.device.as_str(), info.threads), ("cpu", 1));
    assert_close(
        "ort batch 1",
        &ort.run(&x3[..3 * s * s], 1).unwrap(),
        &want1,
        classes,
    );
    assert_close("ort batch 3", &ort.run(&x3, 3).unwrap(), &want3, classes);

    // tract: prepared for batch 3 with 2 threads, batch 1 prepared lazily.
    let mut tract =
        backend::prepare(BackendKind::Tract, &source, &opts(2, 3)).expect("tract prepare");
    assert_eq!((tract.num_classes(), tract.image_size()), (classes, s));
    assert_eq!(
        tract.info().engine_version,
        format!("tract {}", backend::tract::TRACT_VERSION)
    );
    assert_eq!(tract.info().threads, 2);
    assert_close(
        "tract batch 3",
        &tract.run(&x3, 3).unwrap(),
        &want3,
        classes,
    );
    assert_close(
        "tract batch 1",
        &tract.run(&x3[..3 * s * s], 1).unwrap(),
        &want1,
        classes,
    );

    // Without an ONNX file both export the checkpoint in memory: same numbers.
    let from_ck = ModelSource {
        checkpoint: source.checkpoint.clone(),
        onnx: None,
    };
    let mut ort2 = backend::prepare(BackendKind::Ort, &from_ck, &opts(2, 1)).unwrap();
    assert_close(
        "ort from checkpoint",
        &ort2.run(&x3, 3).unwrap(),
        &want3,
        classes,
    );
    let mut tract1 = backend::prepare(BackendKind::Tract, &from_ck, &opts(1, 1)).unwrap();
    assert_close(
        "tract from checkpoint",
        &tract1.run(&x3[..3 * s * s], 1).unwrap(),
        &want1,
        classes,
    );

    // A wrong input length is an error, not a crash.
    assert!(matches!(
        ort.run(&x3[1..], 3),
        Err(BackendError::InputShape { .. })
    ));
    assert!(matches!(
        tract.run(&x3[1..], 3),
        Err(BackendError::InputShape { .. })
    ));
}

#[test]
fn ort_and_tract_match_timm_reference_logits() {
    let dir = fixture_dir();
    let io_bytes =
        std::fs::read(dir.join("io.safetensors")).expect("fixtures/vit_test/io.safetensors");
    let io = safetensors::SafeTensors::deserialize(&io_bytes).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // SCENEBENCH_KEEP_ONNX=<dir> keeps the exported files there, to inspect them with other tools
    // (e.g. `onnx.checker.check_model(path, full_check=True)` in Python).
    let out_dir = match std::env::var_os("SCENEBENCH_KEEP_ONNX") {
        Some(d) => PathBuf::from(d),
        None => tmp.path().to_path_buf(),
    };

    let ck = Checkpoint::load(&dir.join("timm.safetensors")).expect("timm fixture");
    let (shape, x) = read_f32(&io, "input");
    let (_, want) = read_f32(&io, "logits");
    let batch = shape[0];
    let classes = want.len() / batch;
    let source = write_model(&ck, &out_dir, "timm");
    for kind in [BackendKind::Ort, BackendKind::Tract] {
        let mut b = backend::prepare(kind, &source, &opts(1, batch)).unwrap();
        assert_close(
            &format!("{kind} vs timm"),
            &b.run(&x, batch).unwrap(),
            &want,
            classes,
        );
        // Row by row (batch 1) as well.
        for r in 0..batch {
            let n = x.len() / batch;
            let got = b.run(&x[r * n..(r + 1) * n], 1).unwrap();
            assert_close(
                &format!("{kind} vs timm row {r}"),
                &got,
                &want[r * classes..(r + 1) * classes],
                classes,
            );
        }
    }

    // At 48×48 with the position embeddings resampled by the checkpoint loader.
    let opts48 = models::checkpoint::LoadOptions {
        image_size: Some(48),
        ..Default::default()
    };
    let ck48 =
        Checkpoint::load_with(&dir.join("timm.safetensors"), &opts48).expect("timm fixture at 48");
    let (_, x48) = read_f32(&io, "input48");
    let (_, want48) = read_f32(&io, "logits48");
    let source48 = write_model(&ck48, &out_dir, "timm48");
    let m = onnx::read_model(source48.onnx.as_ref().unwrap()).unwrap();
    let dims48 = onnx::value_dims(&m.graph.unwrap().input[0]);
    assert_eq!(dims48[2..].to_vec(), vec![Ok::<i64, String>(48), Ok(48)]);
    for kind in [BackendKind::Ort, BackendKind::Tract] {
        let mut b = backend::prepare(kind, &source48, &opts(1, 1)).unwrap();
        assert_eq!(b.image_size(), 48);
        assert_close(
            &format!("{kind} vs timm at 48"),
            &b.run(&x48, 1).unwrap(),
            &want48,
            classes,
        );
    }
}

/// Runs `missing_library_child` in a fresh process with a bogus `ORT_DYLIB_PATH`: ONNX Runtime is
/// loaded once per process, so this cannot share a process with the tests that load it.
#[test]
fn missing_onnxruntime_library_is_a_clear_error() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "missing_library_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SCENEBENCH_ORT_CHILD", "1")
        .env(
            "ORT_DYLIB_PATH",
            "/nonexistent/scenebench/libonnxruntime.so",
        )
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(text.contains("1 passed"), "child did not run:\n{text}");
}

#[test]
fn missing_library_child() {
    if std::env::var_os("SCENEBENCH_ORT_CHILD").is_none() {
        return; // only meaningful in the child process started above
    }
    let ck = random_checkpoint(3, 1);
    let dir = tempfile::tempdir().unwrap();
    let source = write_model(&ck, dir.path(), "m");

    // ORT_DYLIB_PATH points nowhere.
    let err = backend::prepare(BackendKind::Ort, &source, &opts(1, 1))
        .err()
        .expect("prepare must fail without the library");
    let msg = err.to_string();
    assert!(matches!(err, BackendError::OrtLibrary(_)), "{err:?}");
    assert!(
        msg.contains("/nonexistent/scenebench/libonnxruntime.so"),
        "{msg}"
    );
    assert!(
        msg.contains("scripts/fetch-onnxruntime.sh") && msg.contains("ORT_DYLIB_PATH"),
        "{msg}"
    );

    // A file that is not a shared library.
    let fake = dir.path().join("libonnxruntime.so");
    std::fs::write(&fake, b"not a library").unwrap();
    let err = backend::ort::init_runtime(&fake).unwrap_err();
    assert!(matches!(err, BackendError::OrtLibrary(_)), "{err:?}");
    assert!(
        err.to_string().contains("scripts/fetch-onnxruntime.sh"),
        "{err}"
    );
    // Nothing was loaded; the other backends are unaffected.
    assert!(backend::ort::loaded_runtime().is_none());
    let mut tract = backend::prepare(BackendKind::Tract, &source, &opts(1, 1)).unwrap();
    assert_eq!(tract.run(&inputs(3 * 32 * 32, 2), 1).unwrap().len(), 3);
}

#[test]
fn export_errors_name_the_tensor_and_shapes() {
    let mut ck = random_checkpoint(4, 9);
    let bad = Tensor::zeros((10, 64), candle_core::DType::F32, &Device::Cpu).unwrap();
    ck.tensors.insert("blocks.1.attn.qkv.weight".into(), bad);
    let msg = onnx::to_onnx_bytes(&ck).unwrap_err().to_string();
    assert!(
        msg.contains("blocks.1.attn.qkv.weight")
            && msg.contains("[192, 64]")
            && msg.contains("[10, 64]"),
        "{msg}"
    );

    let mut ck = random_checkpoint(4, 9);
    ck.tensors.remove("norm.bias");
    let msg = onnx::to_onnx_bytes(&ck).unwrap_err().to_string();
    assert!(msg.contains("norm.bias"), "{msg}");

    let mut ck = random_checkpoint(4, 9);
    ck.classes.pop();
    let msg = onnx::to_onnx_bytes(&ck).unwrap_err().to_string();
    assert!(msg.contains("3 class names for 4 classes"), "{msg}");

    // A failed write leaves nothing behind.
    let dir = tempfile::tempdir().unwrap();
    assert!(onnx::write_onnx(&ck, &dir.path().join("x.onnx")).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

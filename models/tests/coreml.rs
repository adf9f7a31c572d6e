//! CoreML export (issue 6): export the tiny timm fixture (`fixtures/vit_test`, made by
//! `tools/fixtures/make_timm_fixture.py`) as fp32, fp16, fp16 + int8 weights and with an image input;
//! check each package's spec (input/output names, types, shapes, metadata, labels, precision, ops)
//! and its numbers: the `coreml-mil-numpy` reference evaluation of the saved program against timm's
//! logits (fp32 within 1e-4; fp16 within 1e-2 with top-1 agreement) and against candle's.
//!
//! These tests need the project's Python environment (`bash scripts/setup-python.sh`, which CI runs
//! first). Without it they fail with a message that says so; they are never skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use models::coreml::{
    self, CoreMlError, CoreMlTool, ExportOptions, InputKind, PackageSpec, Precision, Quantize,
};
use sha2::{Digest, Sha256};

const N_CLASSES: usize = 10;
const SIZE: usize = 32;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/vit_test")
        .join(name)
}

fn tool() -> CoreMlTool {
    CoreMlTool::locate().unwrap_or_else(|e| panic!("CoreML tooling unavailable: {e}"))
}

/// A float32 tensor of `fixtures/vit_test/io.safetensors`.
fn io_tensor(name: &str) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(fixture("io.safetensors")).expect("read io.safetensors");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("parse io.safetensors");
    let view = st
        .tensor(name)
        .unwrap_or_else(|e| panic!("io.safetensors: `{name}`: {e}"));
    assert_eq!(view.dtype(), safetensors::Dtype::F32, "`{name}` dtype");
    let values = view
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    (view.shape().to_vec(), values)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn argmax_rows(v: &[f32], cols: usize) -> Vec<usize> {
    v.chunks(cols)
        .map(|r| {
            r.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i)
                .unwrap()
        })
        .collect()
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn export(
    dir: &Path,
    name: &str,
    ck: &Path,
    opts: ExportOptions,
) -> (PathBuf, coreml::ExportSummary) {
    let out = dir.join(name);
    let summary = tool()
        .export(ck, &out, &opts)
        .unwrap_or_else(|e| panic!("export {name}: {e}"));
    assert!(
        out.join("Manifest.json").is_file(),
        "{name}: no Manifest.json in the package"
    );
    (out, summary)
}

/// The checks every package of the fixture model must pass, whatever its options.
fn check_common_spec(spec: &PackageSpec, input: InputKind, precision: &str) {
    assert_eq!(spec.model_type, "mlProgram");
    assert!(
        spec.spec_version >= 7,
        "spec version {} < 7 (iOS 16)",
        spec.spec_version
    );
    assert_eq!(spec.opset.as_deref(), Some("CoreML6"), "iOS 16 opset");
    assert_eq!(spec.inputs.len(), 1);
    let i = &spec.inputs[0];
    assert_eq!(i.name, "image");
    assert_eq!(i.shape, vec![1, 3, SIZE, SIZE]);
    match input {
        InputKind::Tensor => {
            assert_eq!(i.kind, "tensor");
            assert_eq!(i.dtype.as_deref(), Some("float32"));
        }
        InputKind::Image => {
            assert_eq!(i.kind, "image");
            assert_eq!(i.color_space.as_deref(), Some("RGB"));
        }
    }
    assert_eq!(spec.outputs.len(), 1);
    let o = &spec.outputs[0];
    assert_eq!((o.name.as_str(), o.kind.as_str()), ("logits", "tensor"));
    assert_eq!(o.dtype.as_deref(), Some("float32"));
    assert_eq!(o.shape, vec![1, N_CLASSES]);
    assert_eq!(spec.precision.as_deref(), Some(precision));

    let classes = spec.classes().unwrap();
    assert_eq!(
        classes,
        (0..N_CLASSES)
            .map(|i| format!("class_{i}"))
            .collect::<Vec<_>>()
    );
    let pre = spec.preprocess().unwrap();
    assert_eq!(
        (pre.mean, pre.std, pre.crop_size),
        ([0.5; 3], [0.5; 3], SIZE)
    );
    let cfg = spec.config().unwrap();
    assert_eq!(
        (cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.mlp_dim),
        (64, 2, 4, 128)
    );
    assert_eq!(
        spec.metadata["scenebench.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        spec.metadata["scenebench.input"],
        if input == InputKind::Image {
            "image"
        } else {
            "tensor"
        }
    );
    assert_eq!(
        spec.metadata["scenebench.model_sha256"],
        sha256_hex(&fixture("timm.safetensors"))
    );
    assert!(
        spec.short_description.contains("logits"),
        "{}",
        spec.short_description
    );

    // The graph: one conv patch embedding, per block 2 layer norms, 2 matmuls, 1 softmax, 1 exact
    // GELU, 4 linears; final norm, CLS slice and head.
    let ops: &BTreeMap<String, usize> = &spec.op_counts;
    for (op, n) in [
        ("conv", 1),
        ("layer_norm", 5),
        ("matmul", 4),
        ("softmax", 2),
        ("gelu", 2),
        ("linear", 9),
        ("slice_by_index", 1),
    ] {
        assert_eq!(
            ops.get(op).copied().unwrap_or(0),
            n,
            "count of `{op}` ops in {ops:?}"
        );
    }
}

#[test]
fn fp32_tensor_export_matches_timm_and_candle() {
    let dir = tempfile::tempdir().unwrap();
    let ck = fixture("timm.safetensors");
    let opts = ExportOptions {
        precision: Precision::Fp32,
        ..Default::default()
    };
    let (pkg, summary) = export(dir.path(), "fp32.mlpackage", &ck, opts);
    assert_eq!(
        (summary.precision, summary.quantize, summary.input),
        (Precision::Fp32, Quantize::None, InputKind::Tensor)
    );
    assert_eq!((summary.image_size, summary.num_classes), (SIZE, N_CLASSES));
    assert_eq!(summary.model_sha256, sha256_hex(&ck));
    assert_eq!(summary.minimum_deployment_target, "iOS16");

    let spec = tool().inspect(&pkg).unwrap();
    check_common_spec(&spec, InputKind::Tensor, "fp32");
    assert_eq!(spec.weight_quantization.as_deref(), Some("none"));
    assert_eq!(spec.bytes, summary.bytes);

    let (shape, x) = io_tensor("input");
    let (_, want) = io_tensor("logits");
    let got = tool().reference_eval(&pkg, &x, shape[0], SIZE).unwrap();
    let diff = max_abs_diff(&got, &want);
    eprintln!("{} fp32 vs timm: max |Δ| = {diff:.2e}", coreml::BACKEND);
    assert!(
        diff <= 1e-4,
        "fp32 package vs timm logits: max |Δ| = {diff}"
    );
    assert_eq!(argmax_rows(&got, N_CLASSES), argmax_rows(&want, N_CLASSES));

    // candle's logits for the same checkpoint and input.
    let ckpt = models::Checkpoint::load(&ck).unwrap();
    let vit = models::VisionTransformer::from_checkpoint(&ckpt, &Device::Cpu).unwrap();
    let xt = Tensor::from_vec(x.clone(), shape.as_slice(), &Device::Cpu).unwrap();
    let candle: Vec<f32> = vit
        .forward(&xt)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let diff = max_abs_diff(&got, &candle);
    eprintln!("{} fp32 vs candle: max |Δ| = {diff:.2e}", coreml::BACKEND);
    assert!(
        diff <= 1e-4,
        "fp32 package vs candle logits: max |Δ| = {diff}"
    );
}

#[test]
fn fp16_and_int8_exports_agree_within_tolerance() {
    let dir = tempfile::tempdir().unwrap();
    let ck = fixture("timm.safetensors");
    let (shape, x) = io_tensor("input");
    let (_, want) = io_tensor("logits");
    let want_top1 = argmax_rows(&want, N_CLASSES);

    let (fp16, s16) = export(dir.path(), "fp16.mlpackage", &ck, ExportOptions::default());
    let spec16 = tool().inspect(&fp16).unwrap();
    check_common_spec(&spec16, InputKind::Tensor, "fp16");
    assert_eq!(spec16.metadata["scenebench.precision"], "fp16");
    let got16 = tool().reference_eval(&fp16, &x, shape[0], SIZE).unwrap();
    let d16 = max_abs_diff(&got16, &want);
    let top16 = argmax_rows(&got16, N_CLASSES);
    let agree16 = top16.iter().zip(&want_top1).filter(|(a, b)| a == b).count();
    eprintln!(
        "fp16 vs timm: max |Δ| = {d16:.2e}, top-1 agreement {agree16}/{}",
        want_top1.len()
    );
    assert!(d16 <= 1e-2, "fp16 package vs timm: max |Δ| = {d16}");
    // fp16 rounding must show: an fp16 export that silently ran in fp32 would be off by < 1e-6.
    assert!(
        d16 > 1e-5,
        "fp16 package agrees with timm to {d16}: is it really fp16?"
    );
    assert_eq!(top16, want_top1, "fp16 top-1");

    let opts = ExportOptions {
        quantize: Quantize::Int8,
        ..Default::default()
    };
    let (int8, s8) = export(dir.path(), "int8.mlpackage", &ck, opts);
    let spec8 = tool().inspect(&int8).unwrap();
    check_common_spec(&spec8, InputKind::Tensor, "fp16");
    assert!(
        spec8
            .weight_quantization
            .as_deref()
            .unwrap_or("")
            .starts_with("int8"),
        "{:?}",
        spec8.weight_quantization
    );
    // patch embedding + 4 linears per block carry weights over coremltools' 2048-element threshold.
    assert_eq!(
        spec8.op_counts.get("constexpr_affine_dequantize"),
        Some(&9),
        "{:?}",
        spec8.op_counts
    );
    assert_eq!(spec8.metadata["scenebench.quantize"], "int8");
    assert!(
        s8.bytes < s16.bytes * 3 / 4,
        "int8 package {} B vs fp16 {} B",
        s8.bytes,
        s16.bytes
    );
    let got8 = tool().reference_eval(&int8, &x, shape[0], SIZE).unwrap();
    let d8 = max_abs_diff(&got8, &want);
    eprintln!("fp16+int8 vs timm: max |Δ| = {d8:.2e}");
    assert!(d8 <= 5e-2, "int8 package vs timm: max |Δ| = {d8}");
    assert_eq!(argmax_rows(&got8, N_CLASSES), want_top1, "int8 top-1");
}

#[test]
fn image_input_normalizes_inside_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let ck = fixture("timm.safetensors");
    let opts = ExportOptions {
        precision: Precision::Fp32,
        input: InputKind::Image,
        ..Default::default()
    };
    let (img_pkg, _) = export(dir.path(), "image.mlpackage", &ck, opts);
    let spec = tool().inspect(&img_pkg).unwrap();
    check_common_spec(&spec, InputKind::Image, "fp32");

    let opts = ExportOptions {
        precision: Precision::Fp32,
        ..Default::default()
    };
    let (tensor_pkg, _) = export(dir.path(), "tensor.mlpackage", &ck, opts);

    // 8-bit RGB pixels (a fixed pseudo-random pattern) and their normalized tensor, mean = std = 0.5.
    let batch = 2;
    let pixels: Vec<f32> = (0..batch * 3 * SIZE * SIZE)
        .map(|i| ((i * 7919 + 13) % 256) as f32)
        .collect();
    let normalized: Vec<f32> = pixels.iter().map(|p| (p / 255.0 - 0.5) / 0.5).collect();
    let from_pixels = tool()
        .reference_eval(&img_pkg, &pixels, batch, SIZE)
        .unwrap();
    let from_tensor = tool()
        .reference_eval(&tensor_pkg, &normalized, batch, SIZE)
        .unwrap();
    let diff = max_abs_diff(&from_pixels, &from_tensor);
    eprintln!("image input vs tensor input: max |Δ| = {diff:.2e}");
    assert!(
        diff <= 1e-4,
        "image-input package vs tensor-input package: max |Δ| = {diff}"
    );
    // Feeding the normalized tensor to the image package must NOT match (the scale is really there).
    let wrong = tool()
        .reference_eval(&img_pkg, &normalized, batch, SIZE)
        .unwrap();
    assert!(max_abs_diff(&wrong, &from_tensor) > 1e-2);
}

#[test]
fn hf_layout_and_scenebench_metadata() {
    let dir = tempfile::tempdir().unwrap();
    // Hugging Face layout, no metadata: q/k/v merged, config inferred (4 heads: the fixture config).
    let opts = ExportOptions {
        precision: Precision::Fp32,
        ..Default::default()
    };
    let (pkg, summary) = export(
        dir.path(),
        "hf.mlpackage",
        &fixture("hf.safetensors"),
        opts.clone(),
    );
    assert_eq!(summary.config.num_heads, 4);
    let (shape, x) = io_tensor("input");
    let (_, want) = io_tensor("logits");
    let got = tool().reference_eval(&pkg, &x, shape[0], SIZE).unwrap();
    // HF's LayerNorm eps is 1e-12 (the fixture was made with timm's 1e-6): ~1e-6 apart.
    let diff = max_abs_diff(&got, &want);
    assert!(diff <= 1e-4, "HF-layout package vs timm: max |Δ| = {diff}");

    // A scenebench checkpoint carries class names and preprocessing into the package.
    let mut ck = models::Checkpoint::load(&fixture("timm.safetensors")).unwrap();
    let names: Vec<String> = [
        "beach",
        "bedroom",
        "coast",
        "desert",
        "forest",
        "kitchen",
        "living_room",
        "mountain",
        "office",
        "street",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    ck.classes = names.clone();
    ck.preprocess.mean = [0.485, 0.456, 0.406];
    ck.preprocess.std = [0.229, 0.224, 0.225];
    let ck_path = dir.path().join("named.safetensors");
    ck.save(&ck_path).unwrap();
    let opts = ExportOptions {
        input: InputKind::Image,
        ..Default::default()
    };
    let (pkg, summary) = export(dir.path(), "named.mlpackage", &ck_path, opts);
    assert_eq!(summary.model_sha256, sha256_hex(&ck_path));
    let spec = tool().inspect(&pkg).unwrap();
    assert_eq!(spec.classes().unwrap(), names);
    let pre = spec.preprocess().unwrap();
    assert_eq!(
        (pre.mean, pre.std),
        ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    );
    assert_eq!(
        spec.metadata["scenebench.model_sha256"],
        sha256_hex(&ck_path)
    );
}

#[test]
fn errors_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let t = tool();
    let missing = dir.path().join("nope.safetensors");
    let err = t
        .export(
            &missing,
            &dir.path().join("x.mlpackage"),
            &ExportOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(err, CoreMlError::Command { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.safetensors"), "{err}");

    // A checkpoint without `norm.bias`: the error names the tensor and its expected shape.
    let bytes = std::fs::read(fixture("timm.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| n != "norm.bias")
        .collect();
    let broken = dir.path().join("broken.safetensors");
    safetensors::serialize_to_file(kept, None, &broken).unwrap();
    let err = t
        .export(
            &broken,
            &dir.path().join("y.mlpackage"),
            &ExportOptions::default(),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("norm.bias") && err.to_string().contains("[64]"),
        "{err}"
    );

    let err = t
        .reference_eval(&dir.path().join("none.mlpackage"), &[0.0; 5], 1, SIZE)
        .unwrap_err();
    assert!(
        matches!(err, CoreMlError::InputShape { got: 5, .. }),
        "{err:?}"
    );
    let err = t.inspect(&dir.path().join("none.mlpackage")).unwrap_err();
    assert!(err.to_string().contains("none.mlpackage"), "{err}");
}

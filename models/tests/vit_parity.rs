//! The candle ViT against timm: logits of the fixture model (timm and Hugging Face layouts),
//! position-embedding resampling, and checkpoint errors. Golden values: fixtures/vit_test/,
//! made by tools/fixtures/make_timm_fixture.py with PyTorch/timm.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use models::checkpoint::{Checkpoint, Layout, LoadOptions};
use models::config::VitConfig;
use models::vit::VisionTransformer;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/vit_test")
        .join(name)
}

fn io() -> std::collections::HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture("io.safetensors"), &Device::Cpu).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn opts() -> LoadOptions {
    LoadOptions {
        config: Some(VitConfig::vit_test_patch8_32(10)),
        ..Default::default()
    }
}

#[test]
fn timm_layout_matches_timm_logits() {
    let ck = Checkpoint::load_with(&fixture("timm.safetensors"), &opts()).unwrap();
    assert_eq!(ck.layout, Layout::Timm);
    assert_eq!(ck.config, VitConfig::vit_test_patch8_32(10));
    let model = VisionTransformer::from_checkpoint(&ck, &Device::Cpu).unwrap();
    let io = io();
    let logits = model.forward(&io["input"]).unwrap();
    let d = max_abs_diff(&logits, &io["logits"]);
    assert!(d < 1e-4, "max |Δlogit| = {d}");
    let top: Vec<u32> = logits.argmax(1).unwrap().to_vec1().unwrap();
    assert_eq!(top, vec![7, 1]);
}

#[test]
fn fused_inference_kernels_match_timm() {
    let ck = Checkpoint::load_with(&fixture("timm.safetensors"), &opts()).unwrap();
    let mut model = VisionTransformer::from_checkpoint(&ck, &Device::Cpu).unwrap();
    model.use_inference_kernels(true);
    let io = io();
    let d = max_abs_diff(&model.forward(&io["input"]).unwrap(), &io["logits"]);
    assert!(d < 1e-4, "max |Δlogit| = {d}");
}

#[test]
fn hf_layout_matches_timm_logits() {
    let ck = Checkpoint::load_with(&fixture("hf.safetensors"), &opts()).unwrap();
    assert_eq!(ck.layout, Layout::HuggingFace);
    let model = VisionTransformer::from_checkpoint(&ck, &Device::Cpu).unwrap();
    let io = io();
    let d = max_abs_diff(&model.forward(&io["input"]).unwrap(), &io["logits"]);
    assert!(d < 1e-4, "max |Δlogit| = {d}");
}

#[test]
fn resampled_pos_embed_matches_timm() {
    let o = LoadOptions {
        image_size: Some(48),
        ..opts()
    };
    let ck = Checkpoint::load_with(&fixture("timm.safetensors"), &o).unwrap();
    assert_eq!(ck.config.image_size, 48);
    assert_eq!(ck.preprocess.crop_size, 48);
    let io = io();
    let d = max_abs_diff(&ck.tensors["pos_embed"], &io["pos_embed48"]);
    assert!(d < 1e-5, "pos_embed max |Δ| = {d}");
    let model = VisionTransformer::from_checkpoint(&ck, &Device::Cpu).unwrap();
    let d = max_abs_diff(&model.forward(&io["input48"]).unwrap(), &io["logits48"]);
    assert!(d < 1e-4, "max |Δlogit| = {d}");
}

#[test]
fn saved_checkpoint_round_trips_with_metadata() {
    let ck = Checkpoint::load_with(&fixture("timm.safetensors"), &opts()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    ck.save(&path).unwrap();
    // No options needed: the config (with its 4 heads) is in the metadata now.
    let back = Checkpoint::load(&path).unwrap();
    assert_eq!(back.layout, Layout::Scenebench);
    assert_eq!(back.config, ck.config);
    assert_eq!(back.preprocess, ck.preprocess);
    let io = io();
    let model = VisionTransformer::from_checkpoint(&back, &Device::Cpu).unwrap();
    assert!(max_abs_diff(&model.forward(&io["input"]).unwrap(), &io["logits"]) < 1e-4);
}

#[test]
fn new_class_count_replaces_the_head_only() {
    let classes: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let o = LoadOptions {
        classes: Some(classes.clone()),
        head_seed: 3,
        ..opts()
    };
    let ck = Checkpoint::load_with(&fixture("timm.safetensors"), &o).unwrap();
    assert_eq!(ck.config.num_classes, 3);
    assert_eq!(ck.classes, classes);
    assert_eq!(ck.tensors["head.weight"].dims(), &[3, 64]);
    let orig = Checkpoint::load_with(&fixture("timm.safetensors"), &opts()).unwrap();
    assert_eq!(
        ck.tensor_f32("blocks.1.mlp.fc2.weight").unwrap(),
        orig.tensor_f32("blocks.1.mlp.fc2.weight").unwrap()
    );
}

#[test]
fn wrong_config_names_the_tensor() {
    // ViT-Ti/16 expects 192-wide tensors: the first mismatch is named with both shapes.
    let o = LoadOptions {
        config: Some(VitConfig::vit_tiny_patch16_224(10)),
        ..Default::default()
    };
    let err = Checkpoint::load_with(&fixture("timm.safetensors"), &o)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not match") || err.contains("shape"),
        "{err}"
    );

    let err = Checkpoint::load(Path::new("/nonexistent/x.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/x.safetensors"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"definitely not safetensors").unwrap();
    let err = Checkpoint::load(&junk).unwrap_err().to_string();
    assert!(
        err.contains("junk.safetensors") && err.contains("not a safetensors file"),
        "{err}"
    );
}

#[test]
fn random_init_is_deterministic_and_trainable_shapes() {
    let cfg = VitConfig::vit_micro_patch8_64(10);
    let classes = models::checkpoint::default_classes(10);
    let a = Checkpoint::random(
        cfg.clone(),
        classes.clone(),
        models::Preprocess::timm_vit(64),
        7,
    )
    .unwrap();
    let b = Checkpoint::random(cfg.clone(), classes, models::Preprocess::timm_vit(64), 7).unwrap();
    assert_eq!(
        a.tensor_f32("pos_embed").unwrap(),
        b.tensor_f32("pos_embed").unwrap()
    );
    assert_eq!(a.num_params(), cfg.num_params());
    let model = VisionTransformer::from_checkpoint(&a, &Device::Cpu).unwrap();
    let x = Tensor::zeros((2, 3, 64, 64), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert_eq!(model.forward(&x).unwrap().dims(), &[2, 10]);
}

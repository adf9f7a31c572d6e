//! Grad-CAM against PyTorch: the grid and channel weights of the tiny timm fixture model
//! (`fixtures/vit_test/io.safetensors`, made by `tools/fixtures/make_timm_fixture.py`, which hooks
//! `blocks[-1].norm1` like pytorch-grad-cam), plus hand-computed checks of the display path
//! (bilinear upsampling, jet, crop window, orientation) and the errors a user can hit.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use image::RgbImage;
use models::checkpoint::{Checkpoint, LoadOptions};
use models::config::VitConfig;
use models::gradcam::{self, CamMap, ClassChoice, GradcamError};
use models::preprocess::Preprocess;
use models::vit::VisionTransformer;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/vit_test")
        .join(name)
}

fn shared_data() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
}

fn io() -> std::collections::HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture("io.safetensors"), &Device::Cpu).unwrap()
}

fn checkpoint() -> Checkpoint {
    let opts = LoadOptions {
        config: Some(VitConfig::vit_test_patch8_32(10)),
        ..Default::default()
    };
    Checkpoint::load_with(&fixture("timm.safetensors"), &opts).unwrap()
}

fn model(ck: &Checkpoint) -> VisionTransformer {
    VisionTransformer::from_checkpoint(ck, &Device::Cpu).unwrap()
}

fn vec_f32(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn grid_and_weights_match_pytorch() {
    let ck = checkpoint();
    let m = model(&ck);
    let io = io();
    let x = io["input"].narrow(0, 0, 1).unwrap();
    let cams = gradcam::gradcam(&m, &x, &[None]).unwrap();
    let cam = &cams[0];
    let want_class = io["gradcam_class"].to_vec1::<i64>().unwrap()[0] as usize;
    assert_eq!(cam.class, want_class);
    assert_eq!(cam.grid_size, 4);
    let want_grid = vec_f32(&io["gradcam_grid"]);
    let want_w = vec_f32(&io["gradcam_weights"]);
    let dg = max_abs_diff(&cam.grid, &want_grid);
    let dw = max_abs_diff(&cam.weights, &want_w);
    eprintln!("Grad-CAM vs PyTorch: grid max|Δ| {dg:e}, weights max|Δ| {dw:e}");
    assert!(
        dg < 1e-4,
        "grid differs by {dg}: {:?} vs {want_grid:?}",
        cam.grid
    );
    assert!(dw < 1e-4, "weights differ by {dw}");
    // The reference is not trivial: some patches are zeroed by the ReLU, some are not.
    assert!(want_grid.iter().any(|&v| v > 1e-3));
    // The logits are the model's.
    let want_logits = vec_f32(&io["logits"].narrow(0, 0, 1).unwrap());
    assert!(max_abs_diff(&cam.logits, &want_logits) < 1e-4);
}

#[test]
fn batch_rows_are_independent_and_class_choice_matters() {
    let ck = checkpoint();
    let m = model(&ck);
    let io = io();
    let both = gradcam::gradcam(&m, &io["input"], &[None]).unwrap();
    let single = gradcam::gradcam(&m, &io["input"].narrow(0, 1, 1).unwrap(), &[None]).unwrap();
    assert_eq!(both.len(), 2);
    assert_eq!((both[0].class, both[1].class), (7, 1));
    assert!(max_abs_diff(&both[0].grid, &vec_f32(&io["gradcam_grid"])) < 1e-4);
    assert!(max_abs_diff(&both[1].grid, &single[0].grid) < 1e-5);
    assert!(max_abs_diff(&both[1].weights, &single[0].weights) < 1e-5);

    // Per-image classes: row 0 explained for class 1, row 1 for class 7.
    let swapped = gradcam::gradcam(&m, &io["input"], &[Some(1), Some(7)]).unwrap();
    assert_eq!((swapped[0].class, swapped[1].class), (1, 7));
    assert!(max_abs_diff(&swapped[0].weights, &both[0].weights) > 1e-3);

    // A named class resolves to its index and gives the same map as that index.
    let k = ClassChoice::Name("class_7".into())
        .resolve(&ck.classes)
        .unwrap();
    assert_eq!(k, Some(7));
    let named = gradcam::gradcam(&m, &io["input"].narrow(0, 0, 1).unwrap(), &[k]).unwrap();
    assert!(max_abs_diff(&named[0].grid, &both[0].grid) < 1e-5);
    assert_eq!("top1".parse::<ClassChoice>().unwrap(), ClassChoice::Top1);
    assert_eq!(
        "kitchen".parse::<ClassChoice>().unwrap(),
        ClassChoice::Name("kitchen".into())
    );
}

#[test]
fn unknown_class_name_lists_the_valid_ones() {
    let ck = checkpoint();
    let err = ClassChoice::Name("kitchenette".into())
        .resolve(&ck.classes)
        .unwrap_err();
    assert!(matches!(err, GradcamError::UnknownClass { .. }));
    let msg = err.to_string();
    assert!(msg.contains("\"kitchenette\""), "{msg}");
    assert!(
        msg.contains("class_0") && msg.contains("class_9"),
        "valid classes missing from: {msg}"
    );
    // Through the CLI entry point too, before any image is read.
    let dir = tempfile::tempdir().unwrap();
    let err = gradcam::gradcam_images(
        &ck,
        &[PathBuf::from("/nonexistent.jpg")],
        ClassChoice::Name("kitchenette".into()),
        dir.path(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("kitchenette"));
    // Out-of-range indices are refused as well.
    let m = model(&ck);
    let x = io()["input"].narrow(0, 0, 1).unwrap();
    let err = gradcam::gradcam(&m, &x, &[Some(10)]).unwrap_err();
    assert!(err.to_string().contains("10"), "{err}");
}

#[test]
fn unreadable_images_are_named() {
    let ck = checkpoint();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let missing = dir.path().join("no_such_image.jpg");
    let err = gradcam::gradcam_images(&ck, std::slice::from_ref(&missing), ClassChoice::Top1, &out)
        .unwrap_err();
    assert!(matches!(err, GradcamError::Image { .. }), "{err:?}");
    assert!(
        err.to_string().contains("no_such_image.jpg"),
        "error does not name the file: {err}"
    );
    let garbage = dir.path().join("garbage.png");
    std::fs::write(&garbage, b"this is not a PNG at all").unwrap();
    let err = gradcam::gradcam_images(&ck, &[garbage], ClassChoice::Top1, &out).unwrap_err();
    assert!(err.to_string().contains("garbage.png"), "{err}");
    assert!(!out.exists(), "nothing may be written when an input is bad");
}

#[test]
fn writes_overlay_png_and_grid_csv_for_a_real_image() {
    let ck = checkpoint();
    let img = shared_data().join("scene15/test/coast/image_0001.jpg");
    let dir = tempfile::tempdir().unwrap();
    let outs = gradcam::gradcam_images(
        &ck,
        &[img.clone(), img.clone()],
        ClassChoice::Name("class_3".into()),
        dir.path(),
    )
    .unwrap();
    assert_eq!(outs.len(), 2);
    let o = &outs[0];
    assert_eq!(o.class_name, "class_3");
    assert_eq!(o.cam.class, 3);
    assert!(o.overlay_png.ends_with("image_0001_gradcam.png"));
    assert!(outs[1].overlay_png.ends_with("image_0001_2_gradcam.png"));
    let overlay = image::open(&o.overlay_png).unwrap();
    assert_eq!((overlay.width(), overlay.height()), (224, 224));
    let original = models::data::decode_path(&img).unwrap();
    let full = image::open(&o.full_png).unwrap();
    assert_eq!(full.width(), original.width());
    assert_eq!(full.height(), original.height());
    // The CSV holds the raw grid exactly (shortest round-trip floats), 4 rows of 4.
    let text = std::fs::read_to_string(&o.grid_csv).unwrap();
    let rows: Vec<Vec<f32>> = text
        .lines()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.len() == 4));
    assert_eq!(rows.concat(), o.cam.grid);
}

#[test]
fn bilinear_upsampling_uses_half_pixel_centres() {
    // F.interpolate(torch.tensor([[[[0.,1],[2,3]]]]), size=4, mode="bilinear",
    // align_corners=False), worked by hand: source coordinate (i + 0.5) / 2 - 0.5, clamped.
    let up = gradcam::upsample_bilinear(&[0.0, 1.0, 2.0, 3.0], 2, 2, 4, 4);
    let want = [
        0.0, 0.25, 0.75, 1.0, //
        0.5, 0.75, 1.25, 1.5, //
        1.5, 1.75, 2.25, 2.5, //
        2.0, 2.25, 2.75, 3.0,
    ];
    assert!(max_abs_diff(&up, &want) < 1e-6, "{up:?}");
    // Same size is the identity.
    let g = [0.3, 0.1, 0.9, 0.4, 0.2, 0.7, 0.5, 0.6, 0.8];
    assert_eq!(gradcam::upsample_bilinear(&g, 3, 3, 3, 3), g.to_vec());
}

#[test]
fn jet_and_normalize_hand_computed() {
    assert_eq!(gradcam::jet(0.0), [0, 0, 128]);
    assert_eq!(gradcam::jet(0.25), [0, 128, 255]);
    assert_eq!(gradcam::jet(0.5), [128, 255, 128]);
    assert_eq!(gradcam::jet(1.0), [128, 0, 0]);
    assert_eq!(gradcam::jet(7.0), gradcam::jet(1.0));
    assert_eq!(gradcam::normalize(&[2.0, 4.0, 3.0]), vec![0.0, 1.0, 0.5]);
    assert_eq!(gradcam::normalize(&[5.0, 5.0]), vec![0.0, 0.0]);
}

#[test]
fn crop_window_hand_computed() {
    // 400×300 with timm's ViT-B/16 preprocessing: shorter side 300 → 248, width round(330.67) =
    // 331; crop 224 at (53, 12) in resized pixels; back in original pixels ×400/331, ×300/248.
    let pre = Preprocess::timm_vit(224);
    let (x, y, w, h) = gradcam::crop_window(&pre, 400, 300);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(close(x, 53.0 * 400.0 / 331.0), "{x}");
    assert!(close(y, 12.0 * 300.0 / 248.0), "{y}");
    assert!(close(w, 224.0 * 400.0 / 331.0), "{w}");
    assert!(close(h, 224.0 * 300.0 / 248.0), "{h}");
}

fn hot_top_left(g: usize) -> CamMap {
    let mut grid = vec![0.0; g * g];
    grid[0] = 1.0;
    CamMap {
        class: 0,
        grid_size: g,
        grid,
        weights: vec![],
        logits: vec![0.0],
    }
}

#[test]
fn overlays_keep_orientation() {
    let grey = RgbImage::from_pixel(64, 64, image::Rgb([100, 100, 100]));
    let cam = hot_top_left(4);
    let out = gradcam::overlay_on_crop(&cam, &grey, 0.5);
    // Top-left: jet(1) = dark red blended with grey; bottom-right: jet(0) = dark blue.
    assert_eq!(out.get_pixel(0, 0).0, [114, 50, 50]);
    assert_eq!(out.get_pixel(63, 63).0, [50, 50, 114]);
    assert_eq!(out.get_pixel(63, 0).0, [50, 50, 114]);

    // On a wide original the heat covers only the centre crop; outside it is dimmed, uncoloured.
    let pre = Preprocess::timm_vit(32);
    let wide = RgbImage::from_pixel(120, 60, image::Rgb([100, 100, 100]));
    let full = gradcam::overlay_on_original(&cam, &wide, &pre, 0.5);
    assert_eq!(full.dimensions(), (120, 60));
    let (x0, y0, w, h) = gradcam::crop_window(&pre, 120, 60);
    assert!(x0 > 20.0 && w < 60.0);
    assert_eq!(full.get_pixel(0, 0).0, [50, 50, 50]);
    assert_eq!(full.get_pixel(119, 59).0, [50, 50, 50]);
    let (hx, hy) = ((x0 + 1.0) as u32, (y0 + 1.0) as u32);
    assert_eq!(full.get_pixel(hx, hy).0, [114, 50, 50]);
    let (cx, cy) = ((x0 + w - 2.0) as u32, (y0 + h - 2.0) as u32);
    assert_eq!(full.get_pixel(cx, cy).0, [50, 50, 114]);
}

#[test]
fn display_crop_shows_what_the_model_sees() {
    // A diagonal gradient: a window shifted by a few original pixels changes every value.
    let img = RgbImage::from_fn(120, 60, |x, y| {
        image::Rgb([(2 * x) as u8, (3 * y) as u8, (x + y) as u8])
    });
    let pre = Preprocess::timm_vit(32);
    let model_view = pre.resize_and_crop(&img);
    let shown = gradcam::display_crop(&pre, &img, 32);
    let mad = |a: &RgbImage, b: &RgbImage| {
        let s: f64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(&p, &q)| (p as f64 - q as f64).abs())
            .sum();
        s / a.as_raw().len() as f64
    };
    let d = mad(&model_view, &shown);
    assert!(
        d < 2.0,
        "display crop differs from the model's crop by {d} levels on average"
    );
    // The same comparison against the uncentred window is far off.
    let left = image::imageops::resize(
        &image::imageops::crop_imm(&img, 0, 0, 55, 55).to_image(),
        32,
        32,
        image::imageops::FilterType::Triangle,
    );
    assert!(mad(&model_view, &left) > 10.0);
}

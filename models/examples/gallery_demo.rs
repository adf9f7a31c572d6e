//! Writes example Grad-CAM overlays and galleries (random or given ViT, real images from
//! ../shared/data) to look at: `GALLERY_DEMO_DIR=/tmp/demo [GALLERY_DEMO_MODEL=m.safetensors]
//! [GALLERY_DEMO_PAIR=true:predicted] cargo run -p models --example gallery_demo`.

use std::path::PathBuf;

use candle_core::Device;
use image::RgbImage;
use models::checkpoint::Checkpoint;
use models::config::VitConfig;
use models::gallery::{self, GalleryOptions, Tile};
use models::gradcam::{self, ClassChoice};
use models::preprocess::Preprocess;
use models::vit::VisionTransformer;

fn shared_data() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
}

fn main() {
    let Ok(out) = std::env::var("GALLERY_DEMO_DIR") else {
        return;
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out).unwrap();
    let data = shared_data();
    let classes: Vec<String> = [
        "bedroom",
        "coast",
        "forest",
        "highway",
        "industrial",
        "inside_city",
        "kitchen",
        "living_room",
        "mountain",
        "office",
        "open_country",
        "store",
        "street",
        "suburb",
        "tall_building",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let ck_path = std::env::var("GALLERY_DEMO_MODEL").ok();
    let ck = match &ck_path {
        Some(p) => Checkpoint::load(std::path::Path::new(p)).unwrap(),
        None => Checkpoint::random(
            VitConfig::vit_micro_patch8_64(15),
            classes.clone(),
            Preprocess::timm_vit(64),
            1,
        )
        .unwrap(),
    };
    let mut paths = vec![
        data.join("scene15/test/coast/image_0001.jpg"),
        data.join("sun-images/desert/sun_aafqfjpechscyidz.jpg"),
    ];
    if let Ok(extra) = std::env::var("GALLERY_DEMO_IMAGES") {
        paths.extend(extra.split(':').map(PathBuf::from));
    }
    let outs = gradcam::gradcam_images(&ck, &paths, ClassChoice::Top1, &out).unwrap();
    for o in &outs {
        eprintln!(
            "{} -> {} ({}, {:?})",
            o.image.display(),
            o.overlay_png.display(),
            o.class_name,
            o.cam.grid
        );
    }
    let dev = Device::Cpu;
    let model = VisionTransformer::from_checkpoint(&ck, &dev).unwrap();
    // Scene15 test images of the model's classes (all 15 for the random model), 2 per class.
    let test_dir = data.join("scene15/test");
    let files_of = |class: &str, n: usize| -> Vec<PathBuf> {
        let mut f: Vec<_> = std::fs::read_dir(test_dir.join(class))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        f.sort();
        f.truncate(n);
        f
    };
    let mut tiles = Vec::new();
    for class in ck.classes.iter().take(6) {
        for p in files_of(class, 2) {
            let img = models::data::decode_path(&p).unwrap();
            let cams = gradcam::gradcam_rgb(
                &model,
                &ck.preprocess,
                std::slice::from_ref(&img),
                None,
                &dev,
            )
            .unwrap();
            let top = cams[0].top1();
            tiles.push(Tile::prediction(
                img,
                &ck.classes[top],
                cams[0].probability(),
                Some(class),
            ));
        }
    }
    let g = gallery::render_gallery(
        &tiles,
        &GalleryOptions {
            columns: 4,
            tile_size: 160,
            title: Some("scene15 test images".into()),
        },
    )
    .unwrap();
    gallery::save_png(&g, &out.join("gallery.png")).unwrap();
    let pair = std::env::var("GALLERY_DEMO_PAIR").unwrap_or_else(|_| "living_room:bedroom".into());
    let (from, to) = pair
        .split_once(':')
        .expect("GALLERY_DEMO_PAIR=true:predicted");
    let images: Vec<RgbImage> = files_of(from, 6)
        .iter()
        .map(|p| models::data::decode_path(p).unwrap())
        .collect();
    let g = gallery::confusion_pair_gallery(
        &model,
        &ck.classes,
        &ck.preprocess,
        &images,
        from,
        to,
        &GalleryOptions {
            columns: 3,
            tile_size: 160,
            title: None,
        },
        &dev,
    )
    .unwrap();
    gallery::save_png(&g, &out.join(format!("confusion_{from}_{to}.png"))).unwrap();
}

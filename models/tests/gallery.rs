//! Galleries: layout arithmetic, tiles placed the right way up, border and caption colours,
//! captions actually inked (and kept inside their tile), PNG writing, and the confusion-pair
//! gallery on real images with the fixture model.
//!
//! Example images to look at: `GALLERY_DEMO_DIR=/tmp/demo cargo run -p models --example gallery_demo`.

use std::path::PathBuf;

use candle_core::Device;
use image::{Rgb, RgbImage};
use models::checkpoint::{Checkpoint, LoadOptions};
use models::config::VitConfig;
use models::gallery::{self, GalleryOptions, Layout, Tile, CORRECT, NEUTRAL, TEXT, WRONG};
use models::gradcam;
use models::vit::VisionTransformer;

fn shared_data() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
}

/// A square image with four coloured quadrants: red, green / blue, yellow.
fn quadrants(size: u32) -> RgbImage {
    RgbImage::from_fn(size, size, |x, y| match (x < size / 2, y < size / 2) {
        (true, true) => Rgb([255, 0, 0]),
        (false, true) => Rgb([0, 255, 0]),
        (true, false) => Rgb([0, 0, 255]),
        (false, false) => Rgb([255, 255, 0]),
    })
}

fn tiles() -> Vec<Tile> {
    vec![
        Tile::prediction(quadrants(80), "kitchen", 0.8712, Some("kitchen")),
        Tile::prediction(quadrants(80), "bedroom", 0.51, Some("living_room")),
        Tile::prediction(quadrants(80), "coast", 0.33, None),
        Tile {
            image: quadrants(80),
            caption: String::new(),
            detail: None,
            correct: Some(true),
        },
        Tile::prediction(
            quadrants(80),
            "a_very_long_class_name_that_cannot_possibly_fit_in_one_tile",
            1.0,
            Some("forest"),
        ),
    ]
}

fn opts() -> GalleryOptions {
    GalleryOptions {
        columns: 3,
        tile_size: 96,
        title: Some("sample predictions".into()),
    }
}

/// Pixels in a rectangle that satisfy `pred`.
fn count(img: &RgbImage, x: u32, y: u32, w: u32, h: u32, pred: impl Fn([u8; 3]) -> bool) -> usize {
    let mut n = 0;
    for yy in y..y + h {
        for xx in x..x + w {
            if pred(img.get_pixel(xx, yy).0) {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn tile_prediction_captions() {
    let t = Tile::prediction(RgbImage::new(2, 2), "kitchen", 0.8712, Some("kitchen"));
    assert_eq!(t.caption, "kitchen 87%");
    assert_eq!(t.detail.as_deref(), Some("true: kitchen"));
    assert_eq!(t.correct, Some(true));
    let t = Tile::prediction(RgbImage::new(2, 2), "bedroom", 0.5, Some("living_room"));
    assert_eq!(t.caption, "bedroom 50%");
    assert_eq!(t.correct, Some(false));
    let t = Tile::prediction(RgbImage::new(2, 2), "coast", 0.999, None);
    assert_eq!(
        (t.caption.as_str(), t.detail, t.correct),
        ("coast 100%", None, None)
    );
}

#[test]
fn layout_and_tiles_right_way_up() {
    let tiles = tiles();
    let img = gallery::render_gallery(&tiles, &opts()).unwrap();
    let l = Layout::new(tiles.len(), true, &opts());
    assert_eq!((l.columns, l.rows), (3, 2));
    // Hand-computed: border 3, cell 96 + 6 = 102 wide; 3 cells and 2 gaps of 10 plus margins.
    assert_eq!(l.cell_width, 102);
    assert_eq!(l.width, 2 * 10 + 3 * 102 + 2 * 10);
    assert_eq!(img.dimensions(), (l.width, l.height));
    for i in 0..tiles.len() {
        let (x, y) = l.image_origin(i);
        let s = l.tile_size;
        // Quadrants land where they were: no flip, no transpose.
        assert_eq!(
            img.get_pixel(x + 5, y + 5).0,
            [255, 0, 0],
            "tile {i} top-left"
        );
        assert_eq!(
            img.get_pixel(x + s - 6, y + 5).0,
            [0, 255, 0],
            "tile {i} top-right"
        );
        assert_eq!(
            img.get_pixel(x + 5, y + s - 6).0,
            [0, 0, 255],
            "tile {i} bottom-left"
        );
        assert_eq!(img.get_pixel(x + s - 6, y + s - 6).0, [255, 255, 0]);
    }
    // Border colours: correct, wrong, unknown truth.
    let border = |i: usize| {
        let (x, y) = l.cell_origin(i);
        img.get_pixel(x + 1, y + 1).0
    };
    assert_eq!(border(0), CORRECT);
    assert_eq!(border(1), WRONG);
    assert_eq!(border(2), NEUTRAL);
    assert_eq!(border(4), WRONG);
    // The unused sixth cell stays background.
    let (x, y) = l.cell_origin(5);
    assert_eq!(
        count(&img, x, y, l.cell_width, l.cell_height, |p| p
            != [255, 255, 255]),
        0
    );
}

#[test]
fn captions_are_inked_in_their_colours_and_stay_inside_the_tile() {
    let tiles = tiles();
    let img = gallery::render_gallery(&tiles, &opts()).unwrap();
    let l = Layout::new(tiles.len(), true, &opts());
    let band = |i: usize, line: u32| {
        let (x, y) = l.cell_origin(i);
        (
            x,
            y + l.cell_width + 2 + line * l.line_height,
            l.cell_width,
            l.line_height,
        )
    };
    let greenish = |p: [u8; 3]| p[1] > 60 && p[0] < 80 && p[2] < 80;
    let reddish = |p: [u8; 3]| p[0] > 100 && p[1] < 80 && p[2] < 80;
    let greyish = |p: [u8; 3]| p[0] < 160 && p[0] == p[1] && p[1] == p[2];
    let (x, y, w, h) = band(0, 0);
    assert!(
        count(&img, x, y, w, h, greenish) > 30,
        "correct caption not green"
    );
    assert_eq!(count(&img, x, y, w, h, reddish), 0);
    let (x, y, w, h) = band(1, 0);
    assert!(
        count(&img, x, y, w, h, reddish) > 30,
        "wrong caption not red"
    );
    assert_eq!(count(&img, x, y, w, h, greenish), 0);
    let (x, y, w, h) = band(1, 1);
    assert!(
        count(&img, x, y, w, h, greyish) > 30,
        "true-label line missing"
    );
    // An empty caption draws nothing.
    let (x, y, w, h) = band(3, 0);
    assert_eq!(count(&img, x, y, w, h, |p| p != [255, 255, 255]), 0);
    // Longer text, more ink: "kitchen 87%" vs "coast 33%" in the same colour family is not
    // comparable, so compare the truncated long caption with a short one.
    let (x, y, w, h) = band(4, 0);
    let long_ink = count(&img, x, y, w, h, |p| p != [255, 255, 255]);
    let (x, y, w, h) = band(1, 0);
    assert!(long_ink > count(&img, x, y, w, h, |p| p != [255, 255, 255]));
    // The long caption is truncated: the gaps between cells and the right margin stay blank.
    for i in [0usize, 1, 3, 4] {
        let (cx, cy) = l.cell_origin(i);
        let gx = cx + l.cell_width;
        assert_eq!(
            count(
                &img,
                gx,
                cy,
                l.gap.min(img.width() - gx),
                l.cell_height,
                |p| p != [255, 255, 255]
            ),
            0,
            "ink right of cell {i}"
        );
    }
    // The title is drawn in the text colour in the top band.
    let title_ink = count(&img, 0, 0, img.width(), l.title_height, |p| {
        p != [255, 255, 255]
    });
    assert!(title_ink > 50);
    assert!(
        count(&img, 0, 0, img.width(), l.title_height, |p| p[0] < 100
            && greyish(p))
            > 10
    );
    let _ = TEXT;
}

#[test]
fn text_width_behaves() {
    let font =
        ab_glyph::FontRef::try_from_slice(include_bytes!("../../results/assets/DejaVuSans.ttf"))
            .unwrap();
    let w = |s: &str| gallery::text_width(&font, 20.0, s);
    assert_eq!(w(""), 0.0);
    assert!(w("ii") < w("WW"));
    assert!(w("kitchen 87%") > w("kitchen"));
    // ab_glyph's PxScale is the font's ascent − descent in pixels; DejaVu Sans (2048 units/em)
    // has hhea ascent 1901, descent −483 and digit advance 1303: 10 digits at 20 px =
    // 10 · 1303 · 20 / 2384 = 109.312 px.
    let digits = w("0123456789");
    assert!(
        (digits - 10.0 * 1303.0 * 20.0 / 2384.0).abs() < 0.01,
        "{digits}"
    );
}

#[test]
fn empty_gallery_and_bad_options() {
    let img = gallery::render_gallery(&[], &GalleryOptions::default()).unwrap();
    assert!(
        img.pixels().any(|p| p.0 != [255, 255, 255]),
        "no '(no images)' text"
    );
    let bad = GalleryOptions {
        tile_size: 4,
        ..Default::default()
    };
    assert!(gallery::render_gallery(&tiles(), &bad).is_err());
}

#[test]
fn save_png_round_trip_and_error_names_the_file() {
    let img = gallery::render_gallery(&tiles(), &opts()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gallery.png");
    gallery::save_png(&img, &path).unwrap();
    let back = image::open(&path).unwrap().to_rgb8();
    assert_eq!(back, img);
    let bad = dir.path().join("missing_dir").join("g.png");
    let err = gallery::save_png(&img, &bad).unwrap_err();
    assert!(err.to_string().contains("missing_dir"), "{err}");
}

fn fixture_checkpoint() -> Checkpoint {
    let opts = LoadOptions {
        config: Some(VitConfig::vit_test_patch8_32(10)),
        ..Default::default()
    };
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/vit_test/timm.safetensors");
    Checkpoint::load_with(&path, &opts).unwrap()
}

#[test]
fn confusion_pair_gallery_on_real_images() {
    let ck = fixture_checkpoint();
    let dev = Device::Cpu;
    let model = VisionTransformer::from_checkpoint(&ck, &dev).unwrap();
    let dir = shared_data().join("scene15/test/living_room");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let images: Vec<RgbImage> = files[..3]
        .iter()
        .map(|p| models::data::decode_path(p).unwrap())
        .collect();
    let opts = GalleryOptions {
        columns: 3,
        tile_size: 64,
        title: None,
    };
    let img = gallery::confusion_pair_gallery(
        &model,
        &ck.classes,
        &ck.preprocess,
        &images,
        "class_1",
        "class_7",
        &opts,
        &dev,
    )
    .unwrap();
    let l = Layout::new(3, true, &opts);
    assert_eq!((l.rows, l.columns), (1, 3));
    assert!(l.title_height == 0);
    // The title is filled in, so the real layout is taller by a title band.
    assert_eq!(img.width(), l.width);
    assert!(img.height() > l.height);
    // Tiles are Grad-CAM overlays: the crop's pixels are blended with the jet map, so nearly
    // every pixel differs clearly from the plain crop.
    let lt = Layout::new(
        3,
        true,
        &GalleryOptions {
            title: Some("x".into()),
            ..opts.clone()
        },
    );
    let plain = gradcam::display_crop(&ck.preprocess, &images[0], 64);
    let (x, y) = lt.image_origin(0);
    let mut changed = 0;
    for yy in 0..64 {
        for xx in 0..64 {
            let a = img.get_pixel(x + xx, y + yy).0;
            let b = plain.get_pixel(xx, yy).0;
            if (0..3).any(|c| (a[c] as i32 - b[c] as i32).abs() > 10) {
                changed += 1;
            }
        }
    }
    assert!(
        changed > 64 * 64 * 9 / 10,
        "tile is not an overlay ({changed} changed pixels)"
    );
    // Unknown class names are refused with the valid list.
    let err = gallery::confusion_pair_gallery(
        &model,
        &ck.classes,
        &ck.preprocess,
        &images,
        "living room",
        "class_7",
        &opts,
        &dev,
    )
    .unwrap_err();
    assert!(err.to_string().contains("living room") && err.to_string().contains("class_0"));
}

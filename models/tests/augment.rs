//! Augmentation: torchvision semantics checked on hand-computed cases, and determinism (same
//! seed → byte-identical output).

use image::{Rgb, RgbImage};
use models::augment::{
    apply_jitter_ops, center_crop_fallback, random_resized_crop_params, ColorJitter, JitterOp,
    TrainAugment,
};
use models::preprocess::Preprocess;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn test_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 7 % 256) as u8,
            (y * 5 % 256) as u8,
            ((x + y) * 3 % 256) as u8,
        ])
    })
}

#[test]
fn same_seed_same_bytes_different_seed_differs() {
    let aug = TrainAugment::imagenet(&Preprocess::imagenet(32));
    let img = test_image(90, 70);
    let a = aug.apply(&img, &mut ChaCha8Rng::seed_from_u64(42));
    let b = aug.apply(&img, &mut ChaCha8Rng::seed_from_u64(42));
    assert_eq!(a.len(), 3 * 32 * 32);
    let ab: Vec<u32> = a.iter().map(|v| v.to_bits()).collect();
    let bb: Vec<u32> = b.iter().map(|v| v.to_bits()).collect();
    assert_eq!(ab, bb, "same seed must give identical output bits");
    let c = aug.apply(&img, &mut ChaCha8Rng::seed_from_u64(43));
    assert_ne!(
        a, c,
        "a different seed should give a different augmentation"
    );
}

#[test]
fn crop_params_respect_scale_and_ratio() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (w, h) = (200u32, 150u32);
    for _ in 0..500 {
        let (x, y, cw, ch) =
            random_resized_crop_params(w, h, (0.08, 1.0), (0.75, 4.0 / 3.0), &mut rng);
        assert!(x + cw <= w && y + ch <= h, "crop inside the image");
        assert!(cw > 0 && ch > 0);
        let frac = (cw * ch) as f64 / (w * h) as f64;
        let r = cw as f64 / ch as f64;
        // Sampled crops satisfy the ranges up to rounding; the fallback (full image, ratio 4/3)
        // also does here.
        assert!((0.07..=1.0 + 1e-9).contains(&frac), "area fraction {frac}");
        assert!((0.70..=1.40).contains(&r), "ratio {r}");
    }
}

#[test]
fn fallback_is_torchvision_center_crop() {
    // Hand-computed from torchvision's get_params fallback.
    // 400x100 (ratio 4 > 4/3): h = 100, w = round(100 * 4/3) = 133, j = (400-133)//2 = 133.
    assert_eq!(
        center_crop_fallback(400, 100, (0.75, 4.0 / 3.0)),
        (133, 0, 133, 100)
    );
    // 100x400 (ratio 0.25 < 3/4): w = 100, h = round(100 / 0.75) = 133, i = (400-133)//2 = 133.
    assert_eq!(
        center_crop_fallback(100, 400, (0.75, 4.0 / 3.0)),
        (0, 133, 100, 133)
    );
    // In range: whole image.
    assert_eq!(
        center_crop_fallback(120, 100, (0.75, 4.0 / 3.0)),
        (0, 0, 120, 100)
    );
    // A scale range that can never fit (area > 1) forces the fallback after 10 attempts.
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    assert_eq!(
        random_resized_crop_params(400, 100, (2.0, 3.0), (0.75, 4.0 / 3.0), &mut rng),
        (133, 0, 133, 100)
    );
}

#[test]
fn jitter_ops_match_hand_computation() {
    // One pixel (200, 100, 50); luma = 0.299*200 + 0.587*100 + 0.114*50 = 124.2.
    let px = RgbImage::from_pixel(1, 1, Rgb([200, 100, 50]));
    let mut a = px.clone();
    apply_jitter_ops(&mut a, &[JitterOp::Brightness(1.5)]);
    assert_eq!(a.get_pixel(0, 0).0, [255, 150, 75]); // 300 clamps to 255
    let mut b = px.clone();
    apply_jitter_ops(&mut b, &[JitterOp::Saturation(0.0)]);
    assert_eq!(b.get_pixel(0, 0).0, [124, 124, 124]);
    let mut c = px.clone();
    apply_jitter_ops(&mut c, &[JitterOp::Saturation(2.0)]);
    // 2*v - 124.2: 275.8 -> 255, 75.8 -> 76, -24.2 -> 0
    assert_eq!(c.get_pixel(0, 0).0, [255, 76, 0]);
    // Contrast blends with the image-wide mean luma: two pixels, lumas 0 and 255 -> mean 127.5.
    let mut d = RgbImage::from_fn(2, 1, |x, _| {
        if x == 0 {
            Rgb([0, 0, 0])
        } else {
            Rgb([255, 255, 255])
        }
    });
    apply_jitter_ops(&mut d, &[JitterOp::Contrast(0.5)]);
    // 0.5*0 + 0.5*127.5 = 63.75 -> 64; 0.5*255 + 63.75 = 191.25 -> 191
    assert_eq!(d.get_pixel(0, 0).0, [64, 64, 64]);
    assert_eq!(d.get_pixel(1, 0).0, [191, 191, 191]);
}

#[test]
fn jitter_factors_in_torchvision_ranges() {
    let j = ColorJitter {
        brightness: 0.4,
        contrast: 0.2,
        saturation: 1.5,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut orders = std::collections::HashSet::new();
    for _ in 0..300 {
        let ops = j.sample(&mut rng);
        assert_eq!(ops.len(), 3);
        let mut order = Vec::new();
        for op in &ops {
            match *op {
                JitterOp::Brightness(f) => {
                    assert!((0.6..=1.4).contains(&f));
                    order.push(0)
                }
                JitterOp::Contrast(f) => {
                    assert!((0.8..=1.2).contains(&f));
                    order.push(1)
                }
                // max(0, 1 - 1.5) = 0
                JitterOp::Saturation(f) => {
                    assert!((0.0..=2.5).contains(&f));
                    order.push(2)
                }
            }
        }
        orders.insert(order);
    }
    assert_eq!(orders.len(), 6, "all 3! op orders occur");
}

#[test]
fn flip_probability_is_respected() {
    // No crop change (scale 1, ratio of the image), no jitter: output is the image or its mirror.
    let img = test_image(16, 16);
    let aug = TrainAugment {
        size: 16,
        scale: (1.0, 1.0),
        ratio: (1.0, 1.0),
        hflip: 0.5,
        brightness: 0.0,
        contrast: 0.0,
        saturation: 0.0,
        mean: [0.0; 3],
        std: [1.0; 3],
        interpolation: models::preprocess::Interpolation::Bilinear,
    };
    let mirrored = image::imageops::flip_horizontal(&img);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut flips = 0;
    for _ in 0..400 {
        let out = aug.apply_rgb(&img, &mut rng);
        if out == mirrored {
            flips += 1;
        } else {
            assert_eq!(out, img);
        }
    }
    assert!((150..250).contains(&flips), "{flips} flips out of 400");
}

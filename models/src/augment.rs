//! Training-time augmentation, following torchvision's `transforms` (v0.x semantics):
//!
//! - `RandomResizedCrop(size, scale=(0.08, 1), ratio=(3/4, 4/3))` (Szegedy et al., "Going Deeper
//!   with Convolutions", CVPR 2015): up to 10 attempts to sample an area fraction and a
//!   log-uniform aspect ratio that fit, otherwise a center crop clamped to the ratio range;
//! - `ColorJitter(brightness, contrast, saturation)`: factors drawn uniformly from
//!   `[max(0, 1 - x), 1 + x]`, applied in a random order; brightness blends with black, contrast
//!   with the mean of the grayscale image, saturation with the grayscale image (ITU-R 601-2 luma
//!   weights 0.299/0.587/0.114 as in torchvision's `rgb_to_grayscale`), clamped to [0, 255];
//! - `RandomHorizontalFlip(p=0.5)`;
//! - normalisation with the model's mean/std to CHW float32.
//!
//! Every random choice comes from the RNG passed in (ChaCha8), so the same seed gives byte-identical
//! output. The jitter is computed in f32 and rounded to 8 bits once at the end (torchvision on
//! uint8 tensors truncates after each op; results differ by at most a grey level or two).
//! Evaluation uses [`crate::preprocess::Preprocess::apply`], not this module.

use image::{imageops, RgbImage};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::preprocess::{Interpolation, Preprocess};

/// Parameters of the training transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainAugment {
    /// Output side length.
    pub size: usize,
    /// Area fraction range of RandomResizedCrop.
    pub scale: (f64, f64),
    /// Aspect ratio range of RandomResizedCrop.
    pub ratio: (f64, f64),
    /// Probability of a horizontal flip.
    pub hflip: f64,
    /// ColorJitter strengths (0 disables each).
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub interpolation: Interpolation,
}

impl TrainAugment {
    /// torchvision's ImageNet recipe at `size` with the mean/std (and interpolation) of a model's
    /// preprocessing: scale 0.08–1, ratio 3/4–4/3, flip 0.5, jitter 0.4/0.4/0.4.
    pub fn imagenet(pre: &Preprocess) -> Self {
        Self {
            size: pre.crop_size,
            scale: (0.08, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            hflip: 0.5,
            brightness: 0.4,
            contrast: 0.4,
            saturation: 0.4,
            mean: pre.mean,
            std: pre.std,
            interpolation: Interpolation::Bilinear,
        }
    }

    /// Crop, resize, jitter and flip: an 8-bit `size`×`size` image.
    pub fn apply_rgb<R: Rng + ?Sized>(&self, img: &RgbImage, rng: &mut R) -> RgbImage {
        let (w, h) = img.dimensions();
        let (x, y, cw, ch) = random_resized_crop_params(w, h, self.scale, self.ratio, rng);
        let s = self.size as u32;
        let view = imageops::crop_imm(img, x, y, cw, ch);
        let mut out = if (cw, ch) == (s, s) {
            view.to_image()
        } else {
            imageops::resize(&*view, s, s, self.interpolation.filter())
        };
        let jitter = ColorJitter {
            brightness: self.brightness,
            contrast: self.contrast,
            saturation: self.saturation,
        };
        jitter.apply(&mut out, rng);
        if rng.random::<f64>() < self.hflip {
            imageops::flip_horizontal_in_place(&mut out);
        }
        out
    }

    /// The full training transform: CHW float32 of `3*size*size` values.
    pub fn apply<R: Rng + ?Sized>(&self, img: &RgbImage, rng: &mut R) -> Vec<f32> {
        let out = self.apply_rgb(img, rng);
        normalize_chw(&out, self.mean, self.std)
    }
}

/// `(x/255 - mean)/std` into CHW float32.
pub fn normalize_chw(img: &RgbImage, mean: [f32; 3], std: [f32; 3]) -> Vec<f32> {
    let plane = (img.width() * img.height()) as usize;
    let mut out = vec![0f32; 3 * plane];
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (p.0[c] as f32 / 255.0 - mean[c]) / std[c];
        }
    }
    out
}

/// torchvision `RandomResizedCrop.get_params`: returns `(x, y, width, height)` of the crop.
pub fn random_resized_crop_params<R: Rng + ?Sized>(
    width: u32,
    height: u32,
    scale: (f64, f64),
    ratio: (f64, f64),
    rng: &mut R,
) -> (u32, u32, u32, u32) {
    let area = width as f64 * height as f64;
    let (lr0, lr1) = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target_area = area * uniform(rng, scale.0, scale.1);
        let aspect = uniform(rng, lr0, lr1).exp();
        let w = (target_area * aspect).sqrt().round() as i64;
        let h = (target_area / aspect).sqrt().round() as i64;
        if 0 < w && w <= width as i64 && 0 < h && h <= height as i64 {
            let (w, h) = (w as u32, h as u32);
            let y = rng.random_range(0..=height - h);
            let x = rng.random_range(0..=width - w);
            return (x, y, w, h);
        }
    }
    center_crop_fallback(width, height, ratio)
}

/// The fallback of `RandomResizedCrop.get_params` after 10 failed attempts: the whole image,
/// narrowed to the nearest allowed aspect ratio, centred.
pub fn center_crop_fallback(width: u32, height: u32, ratio: (f64, f64)) -> (u32, u32, u32, u32) {
    let in_ratio = width as f64 / height as f64;
    let (lo, hi) = (ratio.0.min(ratio.1), ratio.0.max(ratio.1));
    let (w, h) = if in_ratio < lo {
        (width, ((width as f64 / lo).round() as u32).max(1))
    } else if in_ratio > hi {
        (((height as f64 * hi).round() as u32).max(1), height)
    } else {
        (width, height)
    };
    ((width - w) / 2, (height - h) / 2, w, h)
}

fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    if hi > lo {
        lo + (hi - lo) * rng.random::<f64>()
    } else {
        lo
    }
}

/// torchvision `ColorJitter` without hue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorJitter {
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
}

/// One of the jitter operations with its factor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JitterOp {
    Brightness(f32),
    Contrast(f32),
    Saturation(f32),
}

impl ColorJitter {
    /// Draw the operations in torchvision's way: a random permutation of the op order, then a
    /// factor per enabled op from `U[max(0, 1 - x), 1 + x]`.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<JitterOp> {
        let mut order = [0usize, 1, 2];
        // Fisher–Yates with our RNG (torch.randperm equivalent in distribution).
        for i in (1..3).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        let mut draw = |x: f32| uniform(rng, (1.0 - x).max(0.0) as f64, 1.0 + x as f64) as f32;
        let b = (self.brightness > 0.0).then(|| draw(self.brightness));
        let c = (self.contrast > 0.0).then(|| draw(self.contrast));
        let s = (self.saturation > 0.0).then(|| draw(self.saturation));
        order
            .iter()
            .filter_map(|&k| match k {
                0 => b.map(JitterOp::Brightness),
                1 => c.map(JitterOp::Contrast),
                _ => s.map(JitterOp::Saturation),
            })
            .collect()
    }

    /// Sample and apply in place.
    pub fn apply<R: Rng + ?Sized>(&self, img: &mut RgbImage, rng: &mut R) {
        let ops = self.sample(rng);
        if !ops.is_empty() {
            apply_jitter_ops(img, &ops);
        }
    }
}

const LUMA: [f32; 3] = [0.299, 0.587, 0.114];

/// Apply jitter operations in order (f32 internally, clamped after each op as torchvision does,
/// rounded to 8 bits at the end).
pub fn apply_jitter_ops(img: &mut RgbImage, ops: &[JitterOp]) {
    let mut px: Vec<f32> = img.as_raw().iter().map(|&v| v as f32).collect();
    let n = px.len() / 3;
    for op in ops {
        match *op {
            JitterOp::Brightness(f) => {
                for v in px.iter_mut() {
                    *v = (*v * f).clamp(0.0, 255.0);
                }
            }
            JitterOp::Contrast(f) => {
                let mean: f32 = px
                    .chunks_exact(3)
                    .map(|p| LUMA[0] * p[0] + LUMA[1] * p[1] + LUMA[2] * p[2])
                    .sum::<f32>()
                    / n.max(1) as f32;
                for v in px.iter_mut() {
                    *v = (f * *v + (1.0 - f) * mean).clamp(0.0, 255.0);
                }
            }
            JitterOp::Saturation(f) => {
                for p in px.chunks_exact_mut(3) {
                    let g = LUMA[0] * p[0] + LUMA[1] * p[1] + LUMA[2] * p[2];
                    for v in p.iter_mut() {
                        *v = (f * *v + (1.0 - f) * g).clamp(0.0, 255.0);
                    }
                }
            }
        }
    }
    for (d, s) in img.iter_mut().zip(px) {
        *d = s.round() as u8;
    }
}

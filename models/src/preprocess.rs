//! Evaluation preprocessing: resize the shorter side, center crop, normalize, CHW float32.
//!
//! This is the single definition shared by evaluation, export metadata, the iOS app and CoreML
//! (`docs/checkpoint-format.md`). It follows timm's eval transform
//! (`timm.data.transforms_factory.transforms_imagenet_eval`: `Resize(floor(size / crop_pct))`,
//! `CenterCrop(size)`, `Normalize(mean, std)`).

use image::{imageops::FilterType, RgbImage};
use serde::{Deserialize, Serialize};

/// ImageNet channel means (torchvision / timm `IMAGENET_DEFAULT_MEAN`).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Inception-style normalization used by timm / Hugging Face ViT-B/16 (`augreg`, `google/vit-*`).
pub const INCEPTION_MEAN: [f32; 3] = [0.5, 0.5, 0.5];
/// See [`INCEPTION_MEAN`].
pub const INCEPTION_STD: [f32; 3] = [0.5, 0.5, 0.5];

/// Resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    Bicubic,
    Bilinear,
    Nearest,
}

impl Interpolation {
    /// The `image` crate filter used for this interpolation.
    pub fn filter(self) -> FilterType {
        match self {
            Interpolation::Bicubic => FilterType::CatmullRom,
            Interpolation::Bilinear => FilterType::Triangle,
            Interpolation::Nearest => FilterType::Nearest,
        }
    }
}

/// Preprocessing parameters, stored with the model (`scenebench.preprocess`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Output side length.
    pub crop_size: usize,
    /// Fraction of the resized image kept by the center crop.
    pub crop_pct: f64,
    /// Shorter side after resizing: `floor(crop_size / crop_pct)`.
    pub resize_shorter: usize,
    pub interpolation: Interpolation,
}

impl Preprocess {
    /// timm's defaults for ViT-B/16 (`augreg` weights) at a given crop size: mean = std = 0.5,
    /// bicubic, crop_pct 0.9.
    pub fn timm_vit(crop_size: usize) -> Self {
        Self::with(crop_size, 0.9, INCEPTION_MEAN, INCEPTION_STD)
    }

    /// ImageNet mean/std, bicubic, crop_pct 0.9.
    pub fn imagenet(crop_size: usize) -> Self {
        Self::with(crop_size, 0.9, IMAGENET_MEAN, IMAGENET_STD)
    }

    /// Build from a crop size and crop_pct.
    pub fn with(crop_size: usize, crop_pct: f64, mean: [f32; 3], std: [f32; 3]) -> Self {
        Self {
            mean,
            std,
            crop_size,
            crop_pct,
            resize_shorter: (crop_size as f64 / crop_pct).floor() as usize,
            interpolation: Interpolation::Bicubic,
        }
    }

    /// Resize the shorter side to `resize_shorter` and center crop to `crop_size` (8-bit RGB).
    pub fn resize_and_crop(&self, img: &RgbImage) -> RgbImage {
        let (w, h) = img.dimensions();
        let s = self.resize_shorter as u32;
        let (nw, nh) = if w <= h {
            (
                s,
                ((h as f64) * s as f64 / w as f64).round().max(1.0) as u32,
            )
        } else {
            (
                ((w as f64) * s as f64 / h as f64).round().max(1.0) as u32,
                s,
            )
        };
        let resized = if (nw, nh) == (w, h) {
            img.clone()
        } else {
            image::imageops::resize(img, nw, nh, self.interpolation.filter())
        };
        let c = self.crop_size as u32;
        let (cw, ch) = (c.min(nw), c.min(nh));
        let x0 = (nw - cw) / 2;
        let y0 = (nh - ch) / 2;
        let cropped = image::imageops::crop_imm(&resized, x0, y0, cw, ch).to_image();
        if (cw, ch) == (c, c) {
            cropped
        } else {
            image::imageops::resize(&cropped, c, c, self.interpolation.filter())
        }
    }

    /// Normalize an 8-bit RGB image of any size into CHW float32 (`(x/255 - mean)/std`).
    pub fn normalize_chw(&self, img: &RgbImage) -> Vec<f32> {
        let (w, h) = img.dimensions();
        let plane = (w * h) as usize;
        let mut out = vec![0f32; 3 * plane];
        for (i, p) in img.pixels().enumerate() {
            for c in 0..3 {
                out[c * plane + i] = (p.0[c] as f32 / 255.0 - self.mean[c]) / self.std[c];
            }
        }
        out
    }

    /// The full evaluation transform: an 8-bit RGB image → CHW float32 of `3*crop*crop` values.
    pub fn apply(&self, img: &RgbImage) -> Vec<f32> {
        self.normalize_chw(&self.resize_and_crop(img))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_keeps_aspect_and_crops_center() {
        let p = Preprocess::timm_vit(224);
        assert_eq!(p.resize_shorter, 248);
        let img = RgbImage::from_fn(400, 300, |x, _| image::Rgb([(x % 256) as u8, 0, 0]));
        let out = p.resize_and_crop(&img);
        assert_eq!(out.dimensions(), (224, 224));
    }

    #[test]
    fn normalize_hand_computed() {
        let p = Preprocess::imagenet(1);
        let img = RgbImage::from_pixel(1, 1, image::Rgb([255, 0, 128]));
        let v = p.normalize_chw(&img);
        assert!((v[0] - (1.0 - 0.485) / 0.229).abs() < 1e-6);
        assert!((v[1] - (0.0 - 0.456) / 0.224).abs() < 1e-6);
        assert!((v[2] - (128.0 / 255.0 - 0.406) / 0.225).abs() < 1e-6);
    }
}

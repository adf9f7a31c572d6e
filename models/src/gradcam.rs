//! Grad-CAM for the Vision Transformer: which patches pushed the model towards a class.
//!
//! Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
//! Localization", ICCV 2017, applied to ViT tokens the way `pytorch-grad-cam` does for timm models
//! (`target_layers=[model.blocks[-1].norm1]`, `reshape_transform` = patch tokens → grid):
//!
//! - A = the patch tokens (CLS excluded) of the **last block's `norm1` output**, `[P, D]`;
//! - G = ∂ logit\[k\] / ∂A, taken with candle's autograd through this crate's own
//!   [`VisionTransformer`] (no second implementation of the model): `norm1`'s output is wrapped in
//!   a [`Var`] and the rest of the last block, the final norm and the head run on it;
//! - w = mean of G over the P patch tokens (one weight per channel);
//! - cam = ReLU(A·w), reshaped row-major to the G×G patch grid (token t → row t / G, col t % G).
//!
//! **Why `norm1` and not the last block's output.** The head reads only the CLS token (after a
//! per-token LayerNorm), so the *patch* tokens the last block outputs never reach the logits: their
//! gradient is identically zero and so would be the CAM. `norm1`'s output is what the last block's
//! attention reads, so the CLS token's final update depends on every patch token through it
//! (`fixtures/vit_test/README.md` has the reference values for both layers).
//!
//! For display the grid is min-max normalized to \[0, 1\], upsampled bilinearly with half-pixel
//! centres (`cv2.resize` / `F.interpolate(align_corners=False)`, as pytorch-grad-cam), coloured
//! with MATLAB's "jet" map (cv2's `COLORMAP_JET`, pytorch-grad-cam's default) and alpha-blended
//! over the 8-bit image. [`gradcam_images`] is what `scenebench gradcam` runs.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use candle_core::{DType, Device, Tensor, Var, D};
use image::RgbImage;

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::data::DataError;
use crate::preprocess::Preprocess;
use crate::vit::VisionTransformer;

/// Errors from Grad-CAM; each names the image, class or file involved.
#[derive(Debug, thiserror::Error)]
pub enum GradcamError {
    #[error("unknown class {name:?}; the model's classes are: {}", .valid.join(", "))]
    UnknownClass { name: String, valid: Vec<String> },
    #[error("class index {index} is out of range for a model with {num_classes} classes")]
    ClassIndex { index: usize, num_classes: usize },
    /// `source` names the file as well (`DataError` messages start with the path).
    #[error("cannot read image: {source}")]
    Image {
        path: PathBuf,
        #[source]
        source: DataError,
    },
    #[error("{}: cannot write: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot encode PNG: {message}", .path.display())]
    Png { path: PathBuf, message: String },
    #[error("Grad-CAM input: {0}")]
    Input(String),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("Grad-CAM: {0}")]
    Candle(#[from] candle_core::Error),
}

type Res<T> = Result<T, GradcamError>;

/// Which class to explain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClassChoice {
    /// The model's top-1 prediction for each image.
    #[default]
    Top1,
    /// A class index into the model's classes.
    Index(usize),
    /// A class name from the model's classes (`scenebench.classes`).
    Name(String),
}

impl FromStr for ClassChoice {
    type Err = std::convert::Infallible;

    /// `top1` (or `top-1`) → [`ClassChoice::Top1`]; anything else is a class name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "top1" | "top-1" => ClassChoice::Top1,
            name => ClassChoice::Name(name.to_string()),
        })
    }
}

impl fmt::Display for ClassChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClassChoice::Top1 => write!(f, "top1"),
            ClassChoice::Index(i) => write!(f, "#{i}"),
            ClassChoice::Name(n) => write!(f, "{n}"),
        }
    }
}

impl ClassChoice {
    /// Resolve against the model's class names: `None` = top-1 (decided per image).
    pub fn resolve(&self, classes: &[String]) -> Res<Option<usize>> {
        match self {
            ClassChoice::Top1 => Ok(None),
            ClassChoice::Index(i) if *i < classes.len() => Ok(Some(*i)),
            ClassChoice::Index(i) => Err(GradcamError::ClassIndex {
                index: *i,
                num_classes: classes.len(),
            }),
            ClassChoice::Name(name) => {
                classes
                    .iter()
                    .position(|c| c == name)
                    .map(Some)
                    .ok_or_else(|| GradcamError::UnknownClass {
                        name: name.clone(),
                        valid: classes.to_vec(),
                    })
            }
        }
    }
}

/// The Grad-CAM of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct CamMap {
    /// The explained class (index into the model's classes).
    pub class: usize,
    /// Side of the patch grid G.
    pub grid_size: usize,
    /// ReLU(A·w) per patch, row-major G×G, not normalized.
    pub grid: Vec<f32>,
    /// Channel weights w (mean gradient over the patch tokens), length D.
    pub weights: Vec<f32>,
    /// The model's logits for this image.
    pub logits: Vec<f32>,
}

impl CamMap {
    /// softmax(logits)\[class\].
    pub fn probability(&self) -> f32 {
        softmax(&self.logits)[self.class]
    }

    /// The top-1 class of the logits (first maximum).
    pub fn top1(&self) -> usize {
        argmax(&self.logits)
    }

    /// The grid min-max normalized to \[0, 1\] (all zeros when it is constant).
    pub fn normalized(&self) -> Vec<f32> {
        normalize(&self.grid)
    }

    /// `grid[row][col]`.
    pub fn at(&self, row: usize, col: usize) -> f32 {
        self.grid[row * self.grid_size + col]
    }
}

/// Softmax of a logit vector (max-shifted).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|&v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// Index of the first maximum (NaNs are never chosen unless everything is NaN).
fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] || (v[best].is_nan() && !x.is_nan()) {
            best = i;
        }
    }
    best
}

/// Grad-CAM for a batch `x` of normalized images `[N,3,H,W]`. `classes` holds one entry per image
/// (`None` = that image's top-1) or a single entry applied to all.
///
/// Images in a batch are independent in a ViT (LayerNorm is per token, attention within an
/// image), so the gradient of Σᵢ logit\[i, kᵢ\] with respect to image i's tokens is the gradient of
/// its own logit alone: one backward pass serves the whole batch.
pub fn gradcam(
    model: &VisionTransformer,
    x: &Tensor,
    classes: &[Option<usize>],
) -> Res<Vec<CamMap>> {
    let (n, _, _, _) = x.dims4()?;
    if classes.len() != n && classes.len() != 1 {
        return Err(GradcamError::Input(format!(
            "{} class choices for a batch of {n} images",
            classes.len()
        )));
    }
    let cfg = model.config();
    let g = cfg.grid();
    let (block_in, normed) = model.last_block_inputs(x)?;
    let block_in = block_in.detach();
    let var = Var::from_tensor(&normed.detach())?;
    let logits = model.forward_from_last_norm1(&block_in, var.as_tensor())?; // [N, C]
    let c = logits.dim(1)?;
    let logit_rows = logits.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    let mut targets = Vec::with_capacity(n);
    let mut mask = vec![0f32; n * c];
    for (i, row) in logit_rows.iter().enumerate() {
        let choice = if classes.len() == 1 {
            classes[0]
        } else {
            classes[i]
        };
        let k = match choice {
            Some(k) if k >= c => {
                return Err(GradcamError::ClassIndex {
                    index: k,
                    num_classes: c,
                })
            }
            Some(k) => k,
            None => argmax(row),
        };
        mask[i * c + k] = 1.0;
        targets.push(k);
    }
    let mask = Tensor::from_vec(mask, (n, c), x.device())?.to_dtype(logits.dtype())?;
    let objective = (&logits * &mask)?.sum_all()?;
    let grads = objective.backward()?;
    let t = cfg.num_tokens();
    let p = t - 1;
    let grad = match grads.get(var.as_tensor()) {
        Some(gr) => gr.clone(),
        // Unreachable for a ViT (the head always depends on norm1's output), but a zero
        // gradient is the mathematically right answer if it ever were.
        None => var.as_tensor().zeros_like()?,
    };
    let a = var.as_tensor().narrow(1, 1, p)?; // [N, P, D]
    let gr = grad.narrow(1, 1, p)?;
    let w = gr.mean(1)?; // [N, D]
    let cam = a.broadcast_mul(&w.unsqueeze(1)?)?.sum(D::Minus1)?.relu()?; // [N, P]
    let cam = cam.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    let w = w.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    Ok((0..n)
        .map(|i| CamMap {
            class: targets[i],
            grid_size: g,
            grid: cam[i].clone(),
            weights: w[i].clone(),
            logits: logit_rows[i].clone(),
        })
        .collect())
}

/// Preprocess 8-bit images with the model's parameters into a `[N,3,S,S]` tensor.
pub fn preprocess_batch(pre: &Preprocess, images: &[RgbImage], device: &Device) -> Res<Tensor> {
    let s = pre.crop_size;
    let mut data = Vec::with_capacity(images.len() * 3 * s * s);
    for img in images {
        data.extend(pre.apply(img));
    }
    Ok(Tensor::from_vec(data, (images.len(), 3, s, s), device)?)
}

/// Grad-CAM of 8-bit images (preprocessed with `pre`), in chunks of 8.
pub fn gradcam_rgb(
    model: &VisionTransformer,
    pre: &Preprocess,
    images: &[RgbImage],
    class: Option<usize>,
    device: &Device,
) -> Res<Vec<CamMap>> {
    let mut out = Vec::with_capacity(images.len());
    for chunk in images.chunks(8) {
        let x = preprocess_batch(pre, chunk, device)?;
        out.extend(gradcam(model, &x, &[class])?);
    }
    Ok(out)
}

/// Min-max normalize to \[0, 1\]; a constant (or empty) input gives zeros.
pub fn normalize(v: &[f32]) -> Vec<f32> {
    let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let range = hi - lo;
    if range.is_nan() || range <= 0.0 || range.is_infinite() {
        return vec![0.0; v.len()];
    }
    v.iter().map(|&x| (x - lo) / range).collect()
}

/// Sample a row-major `gw`×`gh` grid at continuous coordinates (`u`, `v`) in grid cells, cell
/// centres at integer + 0.5 (half-pixel convention); clamped at the borders.
fn sample_bilinear(grid: &[f32], gw: usize, gh: usize, u: f64, v: f64) -> f32 {
    let sx = (u - 0.5).clamp(0.0, (gw - 1) as f64);
    let sy = (v - 0.5).clamp(0.0, (gh - 1) as f64);
    let x0 = sx.floor() as usize;
    let y0 = sy.floor() as usize;
    let x1 = (x0 + 1).min(gw - 1);
    let y1 = (y0 + 1).min(gh - 1);
    let fx = (sx - x0 as f64) as f32;
    let fy = (sy - y0 as f64) as f32;
    let top = grid[y0 * gw + x0] * (1.0 - fx) + grid[y0 * gw + x1] * fx;
    let bottom = grid[y1 * gw + x0] * (1.0 - fx) + grid[y1 * gw + x1] * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Bilinear upsampling of a row-major `gw`×`gh` grid to `out_w`×`out_h` with half-pixel centres,
/// as `F.interpolate(mode="bilinear", align_corners=False)` and `cv2.resize(INTER_LINEAR)`.
pub fn upsample_bilinear(
    grid: &[f32],
    gw: usize,
    gh: usize,
    out_w: usize,
    out_h: usize,
) -> Vec<f32> {
    assert_eq!(grid.len(), gw * gh, "grid length");
    let mut out = Vec::with_capacity(out_w * out_h);
    for y in 0..out_h {
        let v = (y as f64 + 0.5) * gh as f64 / out_h as f64;
        for x in 0..out_w {
            let u = (x as f64 + 0.5) * gw as f64 / out_w as f64;
            out.push(sample_bilinear(grid, gw, gh, u, v));
        }
    }
    out
}

/// MATLAB's "jet" colour map (cv2 `COLORMAP_JET`): 0 → dark blue, 0.5 → green-ish, 1 → dark red.
/// Channel c is `clamp(1.5 − |4t − k_c|, 0, 1)` with k = 3 (red), 2 (green), 1 (blue).
pub fn jet(t: f32) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let ch = |k: f32| ((1.5 - (4.0 * t - k).abs()).clamp(0.0, 1.0) * 255.0).round() as u8;
    [ch(3.0), ch(2.0), ch(1.0)]
}

fn blend(px: [u8; 3], heat: f32, alpha: f32) -> [u8; 3] {
    let h = jet(heat);
    let mut out = [0u8; 3];
    for c in 0..3 {
        out[c] = (alpha * h[c] as f32 + (1.0 - alpha) * px[c] as f32)
            .round()
            .clamp(0.0, 255.0) as u8;
    }
    out
}

/// Blend a heat map (values in \[0, 1\], one per pixel of `image`, row-major) over `image`:
/// `alpha · jet(heat) + (1 − alpha) · image`.
pub fn overlay(image: &RgbImage, heat: &[f32], alpha: f32) -> RgbImage {
    let (w, h) = image.dimensions();
    assert_eq!(heat.len(), (w * h) as usize, "heat map size");
    RgbImage::from_fn(w, h, |x, y| {
        let p = image.get_pixel(x, y).0;
        image::Rgb(blend(p, heat[(y * w + x) as usize], alpha))
    })
}

/// The overlay on the model's input: `crop` is the resized, center-cropped 8-bit image
/// ([`Preprocess::resize_and_crop`]); the normalized grid is upsampled to its size.
pub fn overlay_on_crop(cam: &CamMap, crop: &RgbImage, alpha: f32) -> RgbImage {
    let (w, h) = crop.dimensions();
    let heat = upsample_bilinear(
        &cam.normalized(),
        cam.grid_size,
        cam.grid_size,
        w as usize,
        h as usize,
    );
    overlay(crop, &heat, alpha)
}

/// The rectangle `(x, y, width, height)`, in the original image's pixels, that
/// [`Preprocess::resize_and_crop`] keeps (the same arithmetic: shorter side resized to
/// `resize_shorter` with the longer side rounded, integer center crop, mapped back).
pub fn crop_window(pre: &Preprocess, width: u32, height: u32) -> (f64, f64, f64, f64) {
    let (w, h) = (width as f64, height as f64);
    let s = pre.resize_shorter as f64;
    let (nw, nh) = if width <= height {
        (s, (h * s / w).round().max(1.0))
    } else {
        ((w * s / h).round().max(1.0), s)
    };
    let c = pre.crop_size as u64;
    let (nwu, nhu) = (nw as u64, nh as u64);
    let (cw, ch) = (c.min(nwu), c.min(nhu));
    let x0 = (nwu - cw) / 2;
    let y0 = (nhu - ch) / 2;
    let (sx, sy) = (w / nw, h / nh);
    (
        x0 as f64 * sx,
        y0 as f64 * sy,
        cw as f64 * sx,
        ch as f64 * sy,
    )
}

/// The part of `original` the model sees ([`crop_window`], rounded to whole pixels) resized to
/// `side`×`side`: a sharp stand-in for the model's low-resolution input when displaying overlays
/// (within half an original pixel of [`Preprocess::resize_and_crop`]'s window).
pub fn display_crop(pre: &Preprocess, original: &RgbImage, side: u32) -> RgbImage {
    let (w, h) = original.dimensions();
    let (x0, y0, cw, ch) = crop_window(pre, w, h);
    let x = (x0.round() as u32).min(w.saturating_sub(1));
    let y = (y0.round() as u32).min(h.saturating_sub(1));
    let cw = (cw.round() as u32).clamp(1, w - x);
    let ch = (ch.round() as u32).clamp(1, h - y);
    let crop = image::imageops::crop_imm(original, x, y, cw, ch).to_image();
    if crop.dimensions() == (side, side) {
        crop
    } else {
        image::imageops::resize(&crop, side, side, image::imageops::FilterType::Triangle)
    }
}

/// The overlay at the original image's resolution: the heat map covers the center-crop window
/// the model saw ([`crop_window`]); pixels outside it, which the model never saw, are dimmed to
/// half brightness and left uncoloured.
pub fn overlay_on_original(
    cam: &CamMap,
    original: &RgbImage,
    pre: &Preprocess,
    alpha: f32,
) -> RgbImage {
    let (w, h) = original.dimensions();
    let (x0, y0, cw, ch) = crop_window(pre, w, h);
    let grid = cam.normalized();
    let g = cam.grid_size;
    RgbImage::from_fn(w, h, |x, y| {
        let p = original.get_pixel(x, y).0;
        let (cx, cy) = (x as f64 + 0.5, y as f64 + 0.5);
        if cx < x0 || cy < y0 || cx > x0 + cw || cy > y0 + ch {
            return image::Rgb([p[0] / 2, p[1] / 2, p[2] / 2]);
        }
        let u = (cx - x0) / cw * g as f64;
        let v = (cy - y0) / ch * g as f64;
        image::Rgb(blend(p, sample_bilinear(&grid, g, g, u, v), alpha))
    })
}

/// Default blend weight of the heat map (pytorch-grad-cam's `show_cam_on_image` uses 0.5).
pub const DEFAULT_ALPHA: f32 = 0.5;

/// Smallest side of the crop overlay written by [`gradcam_images`]: tiny models (32 or 64 px
/// inputs) are shown enlarged so the file can be looked at.
pub const MIN_OVERLAY_SIDE: u32 = 224;

/// What [`gradcam_images`] produced for one image.
#[derive(Debug, Clone)]
pub struct GradcamOutput {
    /// The input image.
    pub image: PathBuf,
    /// `<stem>_gradcam.png`: the overlay on the model's center crop ([`display_crop`], at least
    /// [`MIN_OVERLAY_SIDE`] pixels wide).
    pub overlay_png: PathBuf,
    /// `<stem>_gradcam_full.png`: the overlay at the original resolution ([`overlay_on_original`]).
    pub full_png: PathBuf,
    /// `<stem>_gradcam.csv`: the raw grid, G lines of G comma-separated values.
    pub grid_csv: PathBuf,
    /// Name of the explained class.
    pub class_name: String,
    /// The Grad-CAM itself.
    pub cam: CamMap,
}

/// Write a PNG, naming the file on failure.
pub fn save_png(img: &RgbImage, path: &Path) -> Res<()> {
    let png = |message: String| GradcamError::Png {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::create(path).map_err(|source| GradcamError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    let mut w = std::io::BufWriter::new(file);
    img.write_to(&mut w, image::ImageFormat::Png)
        .map_err(|e| png(e.to_string()))?;
    w.flush().map_err(|source| GradcamError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The raw grid as CSV text: one line per grid row, values in Rust's shortest round-trip form.
pub fn grid_csv(cam: &CamMap) -> String {
    let mut s = String::new();
    for row in cam.grid.chunks(cam.grid_size) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    s
}

/// Grad-CAM of image files with a checkpoint (on the CPU): per image, writes into `out_dir`
/// `<stem>_gradcam.png`, `<stem>_gradcam_full.png` and `<stem>_gradcam.csv` (a repeated stem
/// gets `_2`, `_3`, … appended). Every image is decoded first (EXIF orientation applied), so an
/// unreadable one fails before anything is written; the error names the file.
pub fn gradcam_images(
    ck: &Checkpoint,
    paths: &[PathBuf],
    class: ClassChoice,
    out_dir: &Path,
) -> Res<Vec<GradcamOutput>> {
    gradcam_images_on(ck, paths, class, out_dir, &Device::Cpu)
}

/// [`gradcam_images`] on a given device.
pub fn gradcam_images_on(
    ck: &Checkpoint,
    paths: &[PathBuf],
    class: ClassChoice,
    out_dir: &Path,
    device: &Device,
) -> Res<Vec<GradcamOutput>> {
    let class_idx = class.resolve(&ck.classes)?;
    let images = paths
        .iter()
        .map(|p| {
            crate::data::decode_path(p).map_err(|source| GradcamError::Image {
                path: p.clone(),
                source,
            })
        })
        .collect::<Res<Vec<_>>>()?;
    let model = VisionTransformer::from_checkpoint(ck, device)?;
    let cams = gradcam_rgb(&model, &ck.preprocess, &images, class_idx, device)?;
    std::fs::create_dir_all(out_dir).map_err(|source| GradcamError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(paths.len());
    for ((path, img), cam) in paths.iter().zip(&images).zip(cams) {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let count = seen.entry(stem.clone()).or_insert(0);
        *count += 1;
        let stem = if *count == 1 {
            stem
        } else {
            format!("{stem}_{count}")
        };
        let side = (ck.preprocess.crop_size as u32).max(MIN_OVERLAY_SIDE);
        let crop = display_crop(&ck.preprocess, img, side);
        let overlay_png = out_dir.join(format!("{stem}_gradcam.png"));
        save_png(&overlay_on_crop(&cam, &crop, DEFAULT_ALPHA), &overlay_png)?;
        let full_png = out_dir.join(format!("{stem}_gradcam_full.png"));
        save_png(
            &overlay_on_original(&cam, img, &ck.preprocess, DEFAULT_ALPHA),
            &full_png,
        )?;
        let grid_csv_path = out_dir.join(format!("{stem}_gradcam.csv"));
        std::fs::write(&grid_csv_path, grid_csv(&cam)).map_err(|source| GradcamError::Write {
            path: grid_csv_path.clone(),
            source,
        })?;
        out.push(GradcamOutput {
            image: path.clone(),
            overlay_png,
            full_png,
            grid_csv: grid_csv_path,
            class_name: ck.classes[cam.class].clone(),
            cam,
        });
    }
    Ok(out)
}

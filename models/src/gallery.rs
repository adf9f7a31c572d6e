//! Prediction galleries as PNG images: a grid of evaluation images, each captioned with the
//! predicted label and its confidence ("kitchen 87%"), green when right and red when wrong, with
//! an optional second line for the true label; and a gallery per confusion pair (e.g. living rooms
//! predicted as bedrooms) whose tiles are Grad-CAM overlays ([`crate::gradcam`]).
//!
//! The layout follows the usual "sample predictions" figure (torchvision tutorials, the seed
//! project's matplotlib grid): fixed-size square tiles, a coloured border and caption per tile.
//! Text is rendered from the bundled DejaVu Sans (`results/assets/DejaVuSans.ttf`, Bitstream Vera
//! licence) with `ab_glyph` (TrueType outlines, anti-aliased coverage blended onto the pixels).

use std::path::Path;

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};
use candle_core::Device;
use image::{imageops::FilterType, Rgb, RgbImage};

use crate::gradcam::{self, ClassChoice, GradcamError};
use crate::preprocess::Preprocess;
use crate::vit::VisionTransformer;

/// DejaVu Sans, embedded.
static FONT_BYTES: &[u8] = include_bytes!("../../results/assets/DejaVuSans.ttf");

/// Caption and border colour of a correct prediction.
pub const CORRECT: [u8; 3] = [0, 128, 0];
/// Caption and border colour of a wrong prediction.
pub const WRONG: [u8; 3] = [200, 0, 0];
/// Caption and border colour when the truth is unknown.
pub const NEUTRAL: [u8; 3] = [90, 90, 90];
/// Colour of the second caption line and the title.
pub const TEXT: [u8; 3] = [40, 40, 40];
/// Page background.
pub const BACKGROUND: [u8; 3] = [255, 255, 255];

/// Title size relative to the captions.
const TITLE_SCALE: f32 = 1.15;

/// Errors from building or writing a gallery; each names the file or class involved.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    #[error("bundled font results/assets/DejaVuSans.ttf cannot be read: {0}")]
    Font(String),
    #[error("gallery options: {0}")]
    Options(String),
    #[error(transparent)]
    Gradcam(#[from] GradcamError),
}

type Res<T> = Result<T, GalleryError>;

/// One tile: an image and its caption.
#[derive(Debug, Clone)]
pub struct Tile {
    pub image: RgbImage,
    /// First caption line, e.g. `kitchen 87%`.
    pub caption: String,
    /// Optional second line, e.g. `true: bedroom`.
    pub detail: Option<String>,
    /// Green (`Some(true)`), red (`Some(false)`) or grey (`None`: truth unknown).
    pub correct: Option<bool>,
}

impl Tile {
    /// A prediction tile: caption `"{predicted} {confidence·100:.0}%"`; with a truth, the second
    /// line `true: {truth}` and the colour say whether the prediction is right.
    pub fn prediction(
        image: RgbImage,
        predicted: &str,
        confidence: f32,
        truth: Option<&str>,
    ) -> Self {
        Self {
            image,
            caption: format!("{predicted} {:.0}%", confidence * 100.0),
            detail: truth.map(|t| format!("true: {t}")),
            correct: truth.map(|t| t == predicted),
        }
    }

    fn colour(&self) -> [u8; 3] {
        match self.correct {
            Some(true) => CORRECT,
            Some(false) => WRONG,
            None => NEUTRAL,
        }
    }
}

/// Layout of a gallery.
#[derive(Debug, Clone, PartialEq)]
pub struct GalleryOptions {
    /// Tiles per row (fewer if there are fewer tiles).
    pub columns: usize,
    /// Side of each square image, in pixels.
    pub tile_size: u32,
    /// Optional heading above the grid.
    pub title: Option<String>,
}

impl Default for GalleryOptions {
    /// 5 columns of 192-pixel tiles, no title.
    fn default() -> Self {
        Self {
            columns: 5,
            tile_size: 192,
            title: None,
        }
    }
}

/// Pixel geometry of a gallery, derived from the options (public so tests can find tiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub margin: u32,
    pub gap: u32,
    pub border: u32,
    pub font_px: u32,
    pub line_height: u32,
    pub title_height: u32,
    pub caption_lines: u32,
    pub columns: u32,
    pub rows: u32,
    pub tile_size: u32,
    /// Width of a tile's cell: image + 2 borders.
    pub cell_width: u32,
    /// Height of a cell: image + 2 borders + caption band.
    pub cell_height: u32,
    pub width: u32,
    pub height: u32,
}

impl Layout {
    /// The geometry for `n` tiles, `two_lines` if any tile has a detail line.
    pub fn new(n: usize, two_lines: bool, opts: &GalleryOptions) -> Self {
        let tile = opts.tile_size;
        let margin = 10;
        let gap = 10;
        let border = (tile / 48).max(3);
        let font_px = ((tile as f32 * 0.085).round() as u32).clamp(11, 28);
        let line_height = (font_px as f32 * 1.25).ceil() as u32;
        let title_height = if opts.title.is_some() {
            (font_px as f32 * TITLE_SCALE * 1.25).ceil() as u32 + margin
        } else {
            0
        };
        let caption_lines = if two_lines { 2 } else { 1 };
        let columns = (opts.columns.max(1).min(n.max(1))) as u32;
        let rows = (n.max(1) as u32).div_ceil(columns);
        let cell_width = tile + 2 * border;
        let cell_height = tile + 2 * border + caption_lines * line_height + 4;
        let width = 2 * margin + columns * cell_width + (columns - 1) * gap;
        let height = 2 * margin + title_height + rows * cell_height + (rows - 1) * gap;
        Self {
            margin,
            gap,
            border,
            font_px,
            line_height,
            title_height,
            caption_lines,
            columns,
            rows,
            tile_size: tile,
            cell_width,
            cell_height,
            width,
            height,
        }
    }

    /// Top-left corner of tile `i`'s cell (its border's outer corner).
    pub fn cell_origin(&self, i: usize) -> (u32, u32) {
        let (r, c) = (i as u32 / self.columns, i as u32 % self.columns);
        (
            self.margin + c * (self.cell_width + self.gap),
            self.margin + self.title_height + r * (self.cell_height + self.gap),
        )
    }

    /// Top-left corner of tile `i`'s image.
    pub fn image_origin(&self, i: usize) -> (u32, u32) {
        let (x, y) = self.cell_origin(i);
        (x + self.border, y + self.border)
    }
}

fn font() -> Res<FontRef<'static>> {
    FontRef::try_from_slice(FONT_BYTES).map_err(|e| GalleryError::Font(e.to_string()))
}

/// Width in pixels of `text` at `px` (advances plus kerning).
pub fn text_width(font: &FontRef, px: f32, text: &str) -> f32 {
    let sf = font.as_scaled(PxScale::from(px));
    let mut w = 0.0;
    let mut prev: Option<GlyphId> = None;
    for ch in text.chars() {
        let id = sf.glyph_id(ch);
        if let Some(p) = prev {
            w += sf.kern(p, id);
        }
        w += sf.h_advance(id);
        prev = Some(id);
    }
    w
}

/// `text`, or its longest prefix followed by "…" that fits in `max_width` pixels.
fn fit_text(font: &FontRef, px: f32, text: &str, max_width: f32) -> String {
    if text_width(font, px, text) <= max_width {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    for n in (0..chars.len()).rev() {
        let s: String = chars[..n].iter().collect::<String>() + "…";
        if text_width(font, px, &s) <= max_width {
            return s;
        }
    }
    String::new()
}

/// Draw `text` with its top-left at (`x`, `y_top`), blending the glyph coverage over the pixels;
/// anything outside the image is clipped.
pub fn draw_text(
    img: &mut RgbImage,
    font: &FontRef,
    px: f32,
    x: f32,
    y_top: f32,
    text: &str,
    colour: [u8; 3],
) {
    let scale = PxScale::from(px);
    let sf = font.as_scaled(scale);
    let baseline = y_top + sf.ascent();
    let mut caret = x;
    let mut prev: Option<GlyphId> = None;
    let (w, h) = img.dimensions();
    for ch in text.chars() {
        let id = sf.glyph_id(ch);
        if let Some(p) = prev {
            caret += sf.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scale, point(caret, baseline));
        caret += sf.h_advance(id);
        prev = Some(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let b = outline.px_bounds();
        outline.draw(|gx, gy, cov| {
            let xx = b.min.x as i64 + gx as i64;
            let yy = b.min.y as i64 + gy as i64;
            if xx < 0 || yy < 0 || xx >= w as i64 || yy >= h as i64 {
                return;
            }
            let cov = cov.clamp(0.0, 1.0);
            let p = img.get_pixel_mut(xx as u32, yy as u32);
            for (dst, &src) in p.0.iter_mut().zip(&colour) {
                *dst = (cov * src as f32 + (1.0 - cov) * *dst as f32).round() as u8;
            }
        });
    }
}

/// Center-crop to a square and resize to `size`×`size`.
pub fn fit_square(img: &RgbImage, size: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let s = w.min(h).max(1);
    let sq =
        image::imageops::crop_imm(img, (w - s.min(w)) / 2, (h - s.min(h)) / 2, s, s).to_image();
    if sq.dimensions() == (size, size) {
        sq
    } else {
        image::imageops::resize(&sq, size, size, FilterType::Triangle)
    }
}

fn fill(img: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, colour: [u8; 3]) {
    for yy in y..(y + h).min(img.height()) {
        for xx in x..(x + w).min(img.width()) {
            img.put_pixel(xx, yy, Rgb(colour));
        }
    }
}

/// Render tiles into one image: `opts.columns` per row, each image center-cropped to a square of
/// `opts.tile_size` inside a coloured border, captions centred below (truncated with "…" when too
/// long for the tile). No tiles gives a small image saying "(no images)".
pub fn render_gallery(tiles: &[Tile], opts: &GalleryOptions) -> Res<RgbImage> {
    if opts.tile_size < 16 {
        return Err(GalleryError::Options(format!(
            "tile_size {} is too small (minimum 16)",
            opts.tile_size
        )));
    }
    let font = font()?;
    let two_lines = tiles.iter().any(|t| t.detail.is_some());
    let l = Layout::new(tiles.len(), two_lines, opts);
    let mut img = RgbImage::from_pixel(l.width, l.height, Rgb(BACKGROUND));
    let px = l.font_px as f32;
    if let Some(title) = &opts.title {
        let tpx = px * TITLE_SCALE;
        let t = fit_text(&font, tpx, title, (l.width - 2 * l.margin) as f32);
        draw_text(
            &mut img,
            &font,
            tpx,
            l.margin as f32,
            l.margin as f32,
            &t,
            TEXT,
        );
    }
    if tiles.is_empty() {
        let (x, y) = l.cell_origin(0);
        draw_text(&mut img, &font, px, x as f32, y as f32, "(no images)", TEXT);
        return Ok(img);
    }
    for (i, tile) in tiles.iter().enumerate() {
        let (cx, cy) = l.cell_origin(i);
        let colour = tile.colour();
        fill(&mut img, cx, cy, l.cell_width, l.cell_width, colour);
        let (ix, iy) = l.image_origin(i);
        let sq = fit_square(&tile.image, l.tile_size);
        image::imageops::replace(&mut img, &sq, ix as i64, iy as i64);
        let max_w = l.cell_width as f32;
        let mut y = (cy + l.cell_width + 2) as f32;
        let lines = std::iter::once((tile.caption.as_str(), colour))
            .chain(tile.detail.as_deref().map(|d| (d, TEXT)));
        for (text, col) in lines {
            let t = fit_text(&font, px, text, max_w);
            let tw = text_width(&font, px, &t);
            let x = cx as f32 + ((max_w - tw) / 2.0).max(0.0);
            draw_text(&mut img, &font, px, x, y, &t, col);
            y += l.line_height as f32;
        }
    }
    Ok(img)
}

/// Write a gallery (or any RGB image) as PNG; errors name the file.
pub fn save_png(img: &RgbImage, path: &Path) -> Res<()> {
    Ok(gradcam::save_png(img, path)?)
}

/// A gallery of one confusion pair: images whose true class is `true_class` and that were
/// predicted as `predicted_class`, each shown as the Grad-CAM overlay for `predicted_class` (what
/// in the image argued for the wrong class) on the model's center crop. Captions give the model's
/// own top-1 and confidence, the second line the true class; the title names the pair.
#[allow(clippy::too_many_arguments)]
pub fn confusion_pair_gallery(
    model: &VisionTransformer,
    classes: &[String],
    pre: &Preprocess,
    images: &[RgbImage],
    true_class: &str,
    predicted_class: &str,
    opts: &GalleryOptions,
    device: &Device,
) -> Res<RgbImage> {
    ClassChoice::Name(true_class.to_string()).resolve(classes)?;
    let k = ClassChoice::Name(predicted_class.to_string()).resolve(classes)?;
    let cams = gradcam::gradcam_rgb(model, pre, images, k, device)?;
    let tiles = images
        .iter()
        .zip(&cams)
        .map(|(img, cam)| {
            let crop = gradcam::display_crop(pre, img, opts.tile_size);
            let top1 = cam.top1();
            let p = gradcam::softmax(&cam.logits)[top1];
            Tile::prediction(
                gradcam::overlay_on_crop(cam, &crop, gradcam::DEFAULT_ALPHA),
                &classes[top1],
                p,
                Some(true_class),
            )
        })
        .collect::<Vec<_>>();
    let mut opts = opts.clone();
    if opts.title.is_none() {
        opts.title = Some(format!(
            "{true_class} → {predicted_class}: {} images, Grad-CAM for {predicted_class}",
            images.len()
        ));
    }
    render_gallery(&tiles, &opts)
}

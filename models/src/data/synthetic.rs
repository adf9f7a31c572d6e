//! Synthetic scenes: the offline default dataset. A deterministic generator (class, seed → image)
//! of scene-like pictures for the 10 `sun10` classes. **These are synthetic images, not
//! photographs**; results on them say nothing about accuracy on real scenes.
//!
//! Each class is a small scene grammar drawn with a 2-D rasteriser: sky gradients and horizon
//! lines, sea/sand/grass/foliage textures (value noise, stripes, blobs), mountain ridges, street
//! perspective (vanishing point, converging façades, lane marks), rooms (wall, floor line, windows)
//! with furniture-like shapes. Every image gets random placement and scale, a random palette drawn
//! from ranges shared between classes, a global lighting change (brightness and colour
//! temperature) and pixel noise. Confusions are designed in: bedrooms and living rooms both hold a
//! large soft piece of furniture (bed or sofa, drawn from the same parts and palette) with lamps and
//! rugs; offices and restaurants both hold tables and chairs (monitors vs plates are small cues);
//! kitchens sometimes have a dining table; parks and forests share trees; mountains may have lakes
//! and beaches may have palm trees. The aim is a task a small ViT learns well but not perfectly.
//!
//! Versioned by [`SCENES_VERSION`]: any change to the drawing code changes the pixels, so bump it.

use std::sync::Arc;

use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Generator, Item, ItemSource, RawSplits, SkipReport};

/// Generator version, part of the item ids and dataset hash.
pub const SCENES_VERSION: u32 = 1;

/// The 10 classes, in `sun10` label order.
pub const SCENE_CLASSES: [&str; 10] = [
    "beach",
    "forest",
    "mountain",
    "kitchen",
    "bedroom",
    "street",
    "restaurant",
    "office",
    "living room",
    "park",
];

/// The scene generator at a given output size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SceneGenerator {
    pub size: u32,
}

impl Default for SceneGenerator {
    fn default() -> Self {
        Self { size: 64 }
    }
}

impl Generator for SceneGenerator {
    fn name(&self) -> String {
        format!("synthetic-scenes-v{SCENES_VERSION}-{}px", self.size)
    }
    fn generate(&self, label: u32, seed: u64) -> RgbImage {
        render_scene(label, seed, self.size)
    }
}

/// Options for the synthetic scene dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticOptions {
    pub size: u32,
    /// Train images per class (val is carved from these).
    pub train_per_class: usize,
    /// Test images per class (disjoint seeds).
    pub test_per_class: usize,
    pub seed: u64,
}

impl Default for SyntheticOptions {
    fn default() -> Self {
        Self {
            size: 64,
            train_per_class: 300,
            test_per_class: 100,
            seed: 0,
        }
    }
}

/// Build the synthetic dataset: items are generated on demand from their seeds.
pub fn load(opts: &SyntheticOptions) -> RawSplits {
    let generator: Arc<dyn Generator> = Arc::new(SceneGenerator { size: opts.size });
    let name = generator.name();
    let mk = |split: &str, per_class: usize, offset: u64| -> Vec<Item> {
        let mut v = Vec::with_capacity(per_class * SCENE_CLASSES.len());
        for (label, class) in SCENE_CLASSES.iter().enumerate() {
            for i in 0..per_class {
                // Distinct seed space per split: test seeds never equal train seeds.
                let seed = opts
                    .seed
                    .wrapping_mul(0x2545_F491_4F6C_DD1D)
                    .wrapping_add(offset + i as u64);
                v.push(Item {
                    id: format!("{name}/{split}/{}/{i:05}", class.replace(' ', "_")),
                    label: label as u32,
                    source: ItemSource::Generated {
                        generator: generator.clone(),
                        seed,
                    },
                });
            }
        }
        v
    };
    RawSplits {
        classes: SCENE_CLASSES.iter().map(|s| s.to_string()).collect(),
        train: mk("train", opts.train_per_class, 0),
        val: None,
        test: Some(mk("test", opts.test_per_class, 1 << 40)),
        skipped: SkipReport::default(),
    }
}

// ---------------------------------------------------------------------------------------------
// Rasteriser
// ---------------------------------------------------------------------------------------------

type Rgb = [f32; 3];

struct Canvas {
    s: usize,
    px: Vec<Rgb>,
}

fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn scale(a: Rgb, f: f32) -> Rgb {
    [a[0] * f, a[1] * f, a[2] * f]
}

impl Canvas {
    fn new(s: usize) -> Self {
        Self {
            s,
            px: vec![[0.0; 3]; s * s],
        }
    }

    /// Pixel range covering `[a, b)` in unit coordinates.
    fn span(&self, a: f32, b: f32) -> (usize, usize) {
        let s = self.s as f32;
        let lo = (a.min(b) * s).round().clamp(0.0, s) as usize;
        let hi = (a.max(b) * s).round().clamp(0.0, s) as usize;
        (lo, hi)
    }

    fn vgrad(&mut self, y0: f32, y1: f32, top: Rgb, bottom: Rgb) {
        self.vgrad_rect(0.0, y0, 1.0, y1, top, bottom);
    }

    fn vgrad_rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, top: Rgb, bottom: Rgb) {
        let (a, b) = self.span(y0, y1);
        let (xa, xb) = self.span(x0, x1);
        let n = (b - a).max(1) as f32;
        for y in a..b {
            let c = mix(top, bottom, (y - a) as f32 / n);
            for x in xa..xb {
                self.px[y * self.s + x] = c;
            }
        }
    }

    fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, c: Rgb) {
        let (xa, xb) = self.span(x0, x1);
        let (ya, yb) = self.span(y0, y1);
        for y in ya..yb {
            for x in xa..xb {
                self.px[y * self.s + x] = c;
            }
        }
    }

    /// Rectangle blended with alpha.
    fn rect_a(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, c: Rgb, a: f32) {
        let (xa, xb) = self.span(x0, x1);
        let (ya, yb) = self.span(y0, y1);
        for y in ya..yb {
            for x in xa..xb {
                let p = &mut self.px[y * self.s + x];
                *p = mix(*p, c, a);
            }
        }
    }

    fn ellipse(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, c: Rgb) {
        let s = self.s as f32;
        let (xa, xb) = self.span(cx - rx, cx + rx);
        let (ya, yb) = self.span(cy - ry, cy + ry);
        for y in ya..yb {
            let dy = ((y as f32 + 0.5) / s - cy) / ry.max(1e-4);
            for x in xa..xb {
                let dx = ((x as f32 + 0.5) / s - cx) / rx.max(1e-4);
                if dx * dx + dy * dy <= 1.0 {
                    self.px[y * self.s + x] = c;
                }
            }
        }
    }

    /// Filled polygon (even–odd rule).
    fn polygon(&mut self, pts: &[(f32, f32)], c: Rgb) {
        if pts.len() < 3 {
            return;
        }
        let s = self.s as f32;
        let (mut x0, mut x1, mut y0, mut y1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for &(x, y) in pts {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        let (xa, xb) = self.span(x0, x1);
        let (ya, yb) = self.span(y0, y1);
        let mut xs: Vec<f32> = Vec::with_capacity(8);
        for y in ya..yb {
            let py = (y as f32 + 0.5) / s;
            xs.clear();
            for i in 0..pts.len() {
                let (ax, ay) = pts[i];
                let (bx, by) = pts[(i + 1) % pts.len()];
                if (ay <= py && by > py) || (by <= py && ay > py) {
                    xs.push(ax + (py - ay) / (by - ay) * (bx - ax));
                }
            }
            xs.sort_by(|a, b| a.total_cmp(b));
            for pair in xs.chunks_exact(2) {
                let a = ((pair[0] * s - 0.5).ceil().max(xa as f32)) as usize;
                let b = ((pair[1] * s - 0.5).floor() + 1.0).min(xb as f32).max(0.0) as usize;
                for x in a..b.max(a) {
                    self.px[y * self.s + x] = c;
                }
            }
        }
    }

    /// Thick line segment.
    fn line(&mut self, a: (f32, f32), b: (f32, f32), w: f32, c: Rgb) {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-6);
        let (nx, ny) = (-dy / len * w * 0.5, dx / len * w * 0.5);
        self.polygon(
            &[
                (a.0 + nx, a.1 + ny),
                (b.0 + nx, b.1 + ny),
                (b.0 - nx, b.1 - ny),
                (a.0 - nx, a.1 - ny),
            ],
            c,
        );
    }

    /// Multiply a region by low-frequency value noise (a texture), amplitude `amp`.
    fn texture<R: Rng>(&mut self, rng: &mut R, y0: f32, y1: f32, cells: usize, amp: f32) {
        let g = cells.max(1) + 1;
        let grid: Vec<f32> = (0..g * g)
            .map(|_| rng.random::<f32>() * 2.0 - 1.0)
            .collect();
        let (ya, yb) = self.span(y0, y1);
        let s = self.s as f32;
        for y in ya..yb {
            let fy = y as f32 / s * (g - 1) as f32;
            let iy = (fy as usize).min(g - 2);
            let ty = fy - iy as f32;
            for x in 0..self.s {
                let fx = x as f32 / s * (g - 1) as f32;
                let ix = (fx as usize).min(g - 2);
                let tx = fx - ix as f32;
                let v = grid[iy * g + ix] * (1.0 - tx) * (1.0 - ty)
                    + grid[iy * g + ix + 1] * tx * (1.0 - ty)
                    + grid[(iy + 1) * g + ix] * (1.0 - tx) * ty
                    + grid[(iy + 1) * g + ix + 1] * tx * ty;
                let p = &mut self.px[y * self.s + x];
                *p = scale(*p, 1.0 + amp * v);
            }
        }
    }

    /// Horizontal stripes in a rectangle (waves, wood floors, blinds).
    #[allow(clippy::too_many_arguments)]
    fn hstripes(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, period: f32, c: Rgb, a: f32) {
        let (xa, xb) = self.span(x0, x1);
        let (ya, yb) = self.span(y0, y1);
        let per = (period * self.s as f32).max(2.0) as usize;
        for y in ya..yb {
            if (y - ya) % per < per / 2 {
                continue;
            }
            for x in xa..xb {
                let p = &mut self.px[y * self.s + x];
                *p = mix(*p, c, a);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn vstripes(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, period: f32, c: Rgb, a: f32) {
        let (xa, xb) = self.span(x0, x1);
        let (ya, yb) = self.span(y0, y1);
        let per = (period * self.s as f32).max(2.0) as usize;
        for y in ya..yb {
            for x in xa..xb {
                if (x - xa) % per < per / 2 {
                    continue;
                }
                let p = &mut self.px[y * self.s + x];
                *p = mix(*p, c, a);
            }
        }
    }

    fn finish<R: Rng>(mut self, rng: &mut R) -> RgbImage {
        // Global lighting: brightness, colour temperature, optional vignette, pixel noise.
        let bright = rng.random_range(0.65..1.3f32);
        let warm = rng.random_range(-0.12..0.12f32);
        let tint = [1.0 + warm, 1.0, 1.0 - warm];
        let vignette = if rng.random_bool(0.4) {
            rng.random_range(0.1..0.45f32)
        } else {
            0.0
        };
        let noise = rng.random_range(0.01..0.06f32);
        let s = self.s;
        let mut out = RgbImage::new(s as u32, s as u32);
        for y in 0..s {
            for x in 0..s {
                let dx = (x as f32 + 0.5) / s as f32 - 0.5;
                let dy = (y as f32 + 0.5) / s as f32 - 0.5;
                let v = 1.0 - vignette * (dx * dx + dy * dy) * 2.0;
                let p = &mut self.px[y * s + x];
                let n = (rng.random::<f32>() - 0.5) * 2.0 * noise;
                let o = out.get_pixel_mut(x as u32, y as u32);
                for c in 0..3 {
                    let val = (p[c] * bright * tint[c] * v + n) * 255.0;
                    o.0[c] = val.clamp(0.0, 255.0) as u8;
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Palettes and shared elements
// ---------------------------------------------------------------------------------------------

fn jit<R: Rng>(rng: &mut R, c: Rgb, amt: f32) -> Rgb {
    [
        (c[0] + rng.random_range(-amt..amt)).clamp(0.0, 1.0),
        (c[1] + rng.random_range(-amt..amt)).clamp(0.0, 1.0),
        (c[2] + rng.random_range(-amt..amt)).clamp(0.0, 1.0),
    ]
}

fn jitp<R: Rng>(rng: &mut R, options: &[Rgb], amt: f32) -> Rgb {
    let c = pick(rng, options);
    jit(rng, c, amt)
}

fn pick<R: Rng>(rng: &mut R, options: &[Rgb]) -> Rgb {
    options[rng.random_range(0..options.len())]
}

const SKIES: [Rgb; 5] = [
    [0.35, 0.6, 0.95],
    [0.55, 0.75, 0.95],
    [0.7, 0.72, 0.75],
    [0.95, 0.65, 0.45],
    [0.45, 0.55, 0.8],
];
const WALLS: [Rgb; 7] = [
    [0.92, 0.88, 0.8],
    [0.85, 0.85, 0.85],
    [0.8, 0.72, 0.6],
    [0.7, 0.8, 0.75],
    [0.75, 0.78, 0.88],
    [0.95, 0.93, 0.9],
    [0.6, 0.5, 0.45],
];
const FLOORS: [Rgb; 6] = [
    [0.55, 0.38, 0.22],
    [0.7, 0.55, 0.38],
    [0.45, 0.45, 0.48],
    [0.8, 0.78, 0.72],
    [0.35, 0.25, 0.18],
    [0.6, 0.6, 0.55],
];
const FABRICS: [Rgb; 8] = [
    [0.7, 0.2, 0.2],
    [0.25, 0.35, 0.6],
    [0.85, 0.82, 0.75],
    [0.4, 0.55, 0.35],
    [0.5, 0.45, 0.55],
    [0.3, 0.3, 0.32],
    [0.8, 0.6, 0.3],
    [0.6, 0.7, 0.8],
];
const WOODS: [Rgb; 4] = [
    [0.45, 0.3, 0.18],
    [0.65, 0.5, 0.32],
    [0.3, 0.2, 0.12],
    [0.85, 0.85, 0.82],
];

fn sky<R: Rng>(c: &mut Canvas, rng: &mut R, horizon: f32) {
    let top = jitp(rng, &SKIES, 0.08);
    let bottom = mix(top, [0.95, 0.95, 0.95], rng.random_range(0.2..0.7));
    c.vgrad(0.0, horizon, top, bottom);
    // Clouds.
    for _ in 0..rng.random_range(0..4) {
        let cx = rng.random_range(0.0..1.0);
        let cy = rng.random_range(0.03..(horizon * 0.8).max(0.05));
        let w = rng.random_range(0.06..0.2);
        let cl = jit(rng, [0.95, 0.95, 0.97], 0.05);
        c.ellipse(cx, cy, w, w * 0.35, cl);
        c.ellipse(cx + w * 0.5, cy + 0.01, w * 0.6, w * 0.3, cl);
    }
}

fn tree<R: Rng>(c: &mut Canvas, rng: &mut R, x: f32, base: f32, h: f32, palm: bool) {
    let trunk = jit(rng, [0.35, 0.22, 0.12], 0.06);
    let tw = h * rng.random_range(0.06..0.12);
    c.rect(x - tw / 2.0, base - h * 0.6, x + tw / 2.0, base, trunk);
    let leaf = jitp(
        rng,
        &[[0.2, 0.5, 0.15], [0.15, 0.4, 0.1], [0.35, 0.55, 0.2]],
        0.06,
    );
    if palm {
        for k in 0..5 {
            let a = -2.6 + k as f32 * 0.55;
            let top = (x, base - h * 0.6);
            let tip = (
                x + a.cos() * h * 0.35,
                base - h * 0.6 + a.sin().abs() * -h * 0.1 + 0.05,
            );
            c.line(top, tip, h * 0.06, leaf);
        }
    } else {
        for _ in 0..rng.random_range(2..5) {
            let r = h * rng.random_range(0.2..0.32);
            let cx = x + rng.random_range(-0.15..0.15) * h;
            let cy = base - h * rng.random_range(0.6..0.85);
            c.ellipse(
                cx,
                cy,
                r,
                r * rng.random_range(0.8..1.1),
                jit(rng, leaf, 0.05),
            );
        }
    }
}

fn lamp<R: Rng>(c: &mut Canvas, rng: &mut R, x: f32, floor: f32, h: f32) {
    let pole = jit(rng, [0.2, 0.2, 0.2], 0.05);
    c.rect(x - 0.006, floor - h, x + 0.006, floor, pole);
    let shade = jit(rng, [0.95, 0.85, 0.6], 0.08);
    let w = h * 0.3;
    c.polygon(
        &[
            (x - w * 0.35, floor - h - w * 0.6),
            (x + w * 0.35, floor - h - w * 0.6),
            (x + w * 0.55, floor - h),
            (x - w * 0.55, floor - h),
        ],
        shade,
    );
    // Glow on the wall.
    c.rect_a(
        x - w * 1.2,
        floor - h - w * 1.3,
        x + w * 1.2,
        floor - h + w * 0.4,
        [1.0, 0.95, 0.7],
        0.15,
    );
}

fn rug<R: Rng>(c: &mut Canvas, rng: &mut R, cx: f32, cy: f32, w: f32) {
    let col = jitp(rng, &FABRICS, 0.08);
    if rng.random_bool(0.5) {
        c.ellipse(cx, cy, w, w * 0.22, col);
    } else {
        c.polygon(
            &[
                (cx - w * 0.8, cy - w * 0.18),
                (cx + w * 0.8, cy - w * 0.18),
                (cx + w, cy + w * 0.18),
                (cx - w, cy + w * 0.18),
            ],
            col,
        );
        c.hstripes(
            cx - w * 0.8,
            cy - w * 0.18,
            cx + w * 0.8,
            cy + w * 0.18,
            0.04,
            jit(rng, col, 0.2),
            0.5,
        );
    }
}

/// Wall, floor, optional window and picture; returns the floor line.
fn room<R: Rng>(c: &mut Canvas, rng: &mut R) -> f32 {
    let floor_y = rng.random_range(0.55..0.75);
    let wall = jitp(rng, &WALLS, 0.06);
    c.vgrad(0.0, floor_y, scale(wall, 0.9), wall);
    let floor = jitp(rng, &FLOORS, 0.06);
    c.vgrad(floor_y, 1.0, scale(floor, 0.85), floor);
    match rng.random_range(0..3) {
        0 => c.hstripes(0.0, floor_y, 1.0, 1.0, 0.05, scale(floor, 0.8), 0.5),
        1 => c.texture(rng, floor_y, 1.0, 6, 0.15),
        _ => {}
    }
    c.texture(rng, 0.0, floor_y, 3, 0.06);
    if rng.random_bool(0.6) {
        let wx = rng.random_range(0.05..0.7);
        let ww = rng.random_range(0.15..0.3);
        let wy = rng.random_range(0.08..0.2);
        let wh = rng.random_range(0.2..0.35f32).min(floor_y - wy - 0.05);
        let frame = jit(rng, [0.95, 0.95, 0.95], 0.1);
        c.rect(
            wx - 0.015,
            wy - 0.015,
            wx + ww + 0.015,
            wy + wh + 0.015,
            frame,
        );
        let skyc = jitp(rng, &SKIES, 0.1);
        c.vgrad_rect(
            wx,
            wy,
            wx + ww,
            wy + wh,
            skyc,
            mix(skyc, [1.0, 1.0, 1.0], 0.4),
        );
        c.rect(
            wx + ww / 2.0 - 0.008,
            wy,
            wx + ww / 2.0 + 0.008,
            wy + wh,
            frame,
        );
    }
    if rng.random_bool(0.4) {
        let px = rng.random_range(0.1..0.85);
        let py = rng.random_range(0.1..0.3);
        let pw = rng.random_range(0.08..0.16);
        c.rect(
            px,
            py,
            px + pw,
            py + pw * 0.75,
            jit(rng, [0.2, 0.15, 0.1], 0.05),
        );
        c.rect(
            px + 0.01,
            py + 0.01,
            px + pw - 0.01,
            py + pw * 0.75 - 0.01,
            jitp(rng, &FABRICS, 0.2),
        );
    }
    floor_y
}

fn table<R: Rng>(c: &mut Canvas, rng: &mut R, cx: f32, top_y: f32, w: f32, cloth: bool) -> Rgb {
    let wood = jitp(rng, &WOODS, 0.06);
    let h = w * rng.random_range(0.35..0.5);
    c.rect(
        cx - w * 0.45,
        top_y,
        cx - w * 0.4,
        top_y + h,
        scale(wood, 0.7),
    );
    c.rect(
        cx + w * 0.4,
        top_y,
        cx + w * 0.45,
        top_y + h,
        scale(wood, 0.7),
    );
    if cloth {
        let cl = jitp(
            rng,
            &[[0.95, 0.95, 0.95], [0.7, 0.2, 0.2], [0.9, 0.85, 0.7]],
            0.05,
        );
        c.rect(
            cx - w * 0.5,
            top_y - 0.02,
            cx + w * 0.5,
            top_y + h * 0.45,
            cl,
        );
        cl
    } else {
        c.rect(
            cx - w * 0.5,
            top_y - 0.02,
            cx + w * 0.5,
            top_y + 0.015,
            wood,
        );
        wood
    }
}

fn chair<R: Rng>(c: &mut Canvas, rng: &mut R, cx: f32, seat_y: f32, w: f32, facing_left: bool) {
    let col = jitp(
        rng,
        &[
            [0.3, 0.3, 0.32],
            [0.45, 0.3, 0.18],
            [0.6, 0.2, 0.2],
            [0.2, 0.3, 0.5],
        ],
        0.06,
    );
    let h = w * 1.1;
    c.rect(cx - w / 2.0, seat_y, cx + w / 2.0, seat_y + 0.02, col);
    c.rect(
        cx - w / 2.0,
        seat_y,
        cx - w / 2.0 + 0.012,
        seat_y + h * 0.8,
        col,
    );
    c.rect(
        cx + w / 2.0 - 0.012,
        seat_y,
        cx + w / 2.0,
        seat_y + h * 0.8,
        col,
    );
    let bx = if facing_left {
        cx + w / 2.0 - 0.02
    } else {
        cx - w / 2.0
    };
    c.rect(bx, seat_y - h, bx + 0.02, seat_y, col);
}

/// A big soft piece of furniture: `bed = true` draws headboard + mattress + pillows + blanket,
/// otherwise back + seat + arms + cushions. Same parts, same palette.
fn soft_furniture<R: Rng>(c: &mut Canvas, rng: &mut R, cx: f32, floor: f32, w: f32, bed: bool) {
    let fabric = jitp(rng, &FABRICS, 0.08);
    let frame = jitp(rng, &WOODS, 0.06);
    let h = w * rng.random_range(0.35..0.5);
    if bed {
        // Headboard, mattress seen slightly from above (deeper), blanket, pillows.
        c.rect(
            cx - w / 2.0,
            floor - h * 1.5,
            cx - w / 2.0 + w * 0.06,
            floor,
            frame,
        );
        c.rect(
            cx - w / 2.0,
            floor - h * 0.7,
            cx + w / 2.0,
            floor,
            scale(fabric, 0.8),
        );
        c.polygon(
            &[
                (cx - w * 0.35, floor - h * 0.95),
                (cx + w * 0.55, floor - h * 0.95),
                (cx + w * 0.5, floor - h * 0.4),
                (cx - w * 0.35, floor - h * 0.4),
            ],
            fabric,
        );
        if rng.random_bool(0.6) {
            c.hstripes(
                cx - w * 0.3,
                floor - h * 0.95,
                cx + w * 0.5,
                floor - h * 0.4,
                0.05,
                jit(rng, fabric, 0.25),
                0.5,
            );
        }
        let pil = jit(rng, [0.95, 0.95, 0.92], 0.05);
        for k in 0..rng.random_range(1..3) {
            c.ellipse(
                cx - w * 0.38,
                floor - h * (0.95 + 0.25 * k as f32),
                w * 0.06,
                h * 0.22,
                pil,
            );
        }
    } else {
        c.rect(
            cx - w / 2.0,
            floor - h * 1.3,
            cx + w / 2.0,
            floor - h * 0.55,
            scale(fabric, 0.85),
        );
        c.rect(
            cx - w / 2.0,
            floor - h * 0.6,
            cx + w / 2.0,
            floor - h * 0.1,
            fabric,
        );
        c.rect(
            cx - w / 2.0 - w * 0.05,
            floor - h * 0.9,
            cx - w / 2.0 + w * 0.05,
            floor - h * 0.1,
            scale(fabric, 0.75),
        );
        c.rect(
            cx + w / 2.0 - w * 0.05,
            floor - h * 0.9,
            cx + w / 2.0 + w * 0.05,
            floor - h * 0.1,
            scale(fabric, 0.75),
        );
        c.rect(cx - w / 2.0, floor - h * 0.1, cx + w / 2.0, floor, frame);
        let n = rng.random_range(0..4);
        for k in 0..n {
            let px = cx - w * 0.35 + k as f32 * w * 0.25;
            c.ellipse(
                px,
                floor - h * 0.8,
                w * 0.07,
                h * 0.2,
                jitp(rng, &FABRICS, 0.1),
            );
        }
        if rng.random_bool(0.3) {
            // A throw blanket over the seat, as on beds.
            c.hstripes(
                cx - w * 0.2,
                floor - h * 0.6,
                cx + w * 0.3,
                floor - h * 0.1,
                0.05,
                jitp(rng, &FABRICS, 0.1),
                0.7,
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scene grammars
// ---------------------------------------------------------------------------------------------

/// Render class `label` (index into [`SCENE_CLASSES`]) with `seed` at `size`×`size`.
pub fn render_scene(label: u32, seed: u64, size: u32) -> RgbImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((label as u64 + 1) << 56) ^ 0x005C_E7E5);
    let mut c = Canvas::new(size.max(8) as usize);
    match label % 10 {
        0 => beach(&mut c, &mut rng),
        1 => forest(&mut c, &mut rng),
        2 => mountain(&mut c, &mut rng),
        3 => kitchen(&mut c, &mut rng),
        4 => bedroom(&mut c, &mut rng),
        5 => street(&mut c, &mut rng),
        6 => restaurant(&mut c, &mut rng),
        7 => office(&mut c, &mut rng),
        8 => living_room(&mut c, &mut rng),
        _ => park(&mut c, &mut rng),
    }
    c.finish(&mut rng)
}

fn beach<R: Rng>(c: &mut Canvas, rng: &mut R) {
    let horizon = rng.random_range(0.3..0.55);
    sky(c, rng, horizon);
    let shore = horizon + rng.random_range(0.1..0.3);
    let sea = jitp(
        rng,
        &[[0.1, 0.4, 0.65], [0.15, 0.55, 0.6], [0.2, 0.35, 0.5]],
        0.06,
    );
    c.vgrad(
        horizon,
        shore,
        scale(sea, 0.8),
        mix(sea, [0.6, 0.85, 0.85], 0.3),
    );
    c.hstripes(
        0.0,
        horizon,
        1.0,
        shore,
        rng.random_range(0.03..0.07),
        [0.9, 0.95, 1.0],
        0.25,
    );
    let sand = jitp(
        rng,
        &[[0.9, 0.82, 0.62], [0.8, 0.7, 0.5], [0.85, 0.8, 0.72]],
        0.05,
    );
    // Wavy shoreline.
    let mut pts = vec![(0.0, 1.0)];
    let k = rng.random_range(2.0..6.0f32);
    let ph = rng.random_range(0.0..std::f32::consts::TAU);
    for i in 0..=16 {
        let x = i as f32 / 16.0;
        pts.push((x, shore + 0.02 * (x * k * std::f32::consts::PI + ph).sin()));
    }
    pts.push((1.0, 1.0));
    c.polygon(&pts, sand);
    c.texture(rng, shore, 1.0, 8, 0.12);
    for _ in 0..rng.random_range(0..3) {
        let x = rng.random_range(0.1..0.9);
        let y = rng.random_range(shore + 0.05..0.95);
        let w = rng.random_range(0.08..0.15);
        c.rect(x - 0.006, y - w, x + 0.006, y, [0.3, 0.3, 0.3]);
        c.polygon(
            &[(x - w, y - w), (x + w, y - w), (x, y - w * 1.5)],
            jitp(rng, &FABRICS, 0.1),
        );
    }
    if rng.random_bool(0.3) {
        let x = rng.random_range(0.05..0.95);
        let a1 = rng.random_range(shore..0.95);
        let a2 = rng.random_range(0.3..0.55);
        tree(c, rng, x, a1, a2, true);
    }
}

fn forest<R: Rng>(c: &mut Canvas, rng: &mut R) {
    let gap = rng.random_range(0.0..0.3f32);
    sky(c, rng, gap.max(0.05));
    let dark = jit(rng, [0.12, 0.25, 0.1], 0.05);
    c.vgrad(gap, 1.0, dark, jit(rng, [0.25, 0.2, 0.12], 0.05));
    let n = rng.random_range(5..10);
    for _ in 0..n {
        let x = rng.random_range(0.0..1.0);
        let tw = rng.random_range(0.02..0.07);
        c.rect(x, gap, x + tw, 1.0, jit(rng, [0.3, 0.2, 0.12], 0.07));
    }
    let blobs = rng.random_range(12..25);
    for _ in 0..blobs {
        let cx = rng.random_range(-0.1..1.1);
        let cy = rng.random_range(0.0..0.75);
        let r = rng.random_range(0.06..0.18);
        let g = jitp(
            rng,
            &[
                [0.15, 0.4, 0.12],
                [0.25, 0.5, 0.18],
                [0.1, 0.3, 0.1],
                [0.4, 0.55, 0.2],
            ],
            0.06,
        );
        c.ellipse(cx, cy, r, r * rng.random_range(0.7..1.2), g);
    }
    c.texture(rng, 0.0, 1.0, 10, 0.3);
    if rng.random_bool(0.25) {
        // A path, as in parks.
        let x = rng.random_range(0.3..0.7);
        c.polygon(
            &[
                (x - 0.02, 0.6),
                (x + 0.02, 0.6),
                (x + 0.25, 1.0),
                (x - 0.25, 1.0),
            ],
            jit(rng, [0.55, 0.45, 0.3], 0.06),
        );
    }
}

fn mountain<R: Rng>(c: &mut Canvas, rng: &mut R) {
    let horizon = rng.random_range(0.45..0.7);
    sky(c, rng, horizon + 0.05);
    let ranges = rng.random_range(1..4);
    for r in 0..ranges {
        let base = horizon + 0.02 * r as f32;
        let peak_h = rng.random_range(0.15..0.4) / (1.0 + r as f32 * 0.4);
        let col = jitp(
            rng,
            &[
                [0.45, 0.45, 0.5],
                [0.35, 0.4, 0.5],
                [0.5, 0.42, 0.35],
                [0.3, 0.35, 0.3],
            ],
            0.06,
        );
        let col = scale(col, 1.0 - 0.12 * r as f32);
        let mut pts = vec![(0.0, base)];
        let mut ridge = vec![];
        let steps = 12;
        let peak_x = rng.random_range(0.1..0.9f32);
        for i in 0..=steps {
            let x = i as f32 / steps as f32;
            let d = 1.0 - ((x - peak_x).abs() * rng.random_range(1.2..2.2)).min(1.0);
            let y = base - peak_h * d - rng.random_range(0.0..0.04);
            pts.push((x, y));
            ridge.push((x, y));
        }
        pts.push((1.0, base));
        c.polygon(&pts, col);
        if rng.random_bool(0.5) {
            let snow = base - peak_h * 0.7;
            let mut cap = vec![];
            for &(x, y) in &ridge {
                cap.push((x, y));
            }
            for &(x, _) in ridge.iter().rev() {
                cap.push((x, snow));
            }
            // Only the part above the snow line: clip by drawing ridge→snow line polygon where above.
            let cap: Vec<(f32, f32)> = cap.into_iter().map(|(x, y)| (x, y.min(snow))).collect();
            c.polygon(&cap, jit(rng, [0.95, 0.95, 0.97], 0.03));
        }
    }
    let ground = jitp(
        rng,
        &[[0.3, 0.5, 0.2], [0.5, 0.45, 0.3], [0.4, 0.45, 0.25]],
        0.06,
    );
    c.vgrad(horizon + 0.05, 1.0, ground, scale(ground, 0.8));
    c.texture(rng, horizon, 1.0, 8, 0.2);
    if rng.random_bool(0.25) {
        let lake = jit(rng, [0.2, 0.4, 0.6], 0.06);
        c.ellipse(
            rng.random_range(0.3..0.7),
            horizon + 0.12,
            rng.random_range(0.2..0.4),
            0.05,
            lake,
        );
    }
    for _ in 0..rng.random_range(0..3) {
        let x = rng.random_range(0.0..1.0);
        let a1 = rng.random_range(horizon + 0.15..1.0);
        let a2 = rng.random_range(0.1..0.25);
        tree(c, rng, x, a1, a2, false);
    }
}

fn park<R: Rng>(c: &mut Canvas, rng: &mut R) {
    let horizon = rng.random_range(0.35..0.6);
    sky(c, rng, horizon);
    if rng.random_bool(0.3) {
        // Distant buildings, as in streets.
        for _ in 0..rng.random_range(2..5) {
            let x = rng.random_range(0.0..0.9);
            let h = rng.random_range(0.05..0.2);
            c.rect(
                x,
                horizon - h,
                x + rng.random_range(0.05..0.15),
                horizon,
                jit(rng, [0.6, 0.6, 0.65], 0.1),
            );
        }
    }
    let grass = jitp(
        rng,
        &[[0.3, 0.6, 0.2], [0.4, 0.65, 0.25], [0.35, 0.5, 0.2]],
        0.06,
    );
    c.vgrad(horizon, 1.0, scale(grass, 0.85), grass);
    c.texture(rng, horizon, 1.0, 10, 0.2);
    if rng.random_bool(0.7) {
        let x0 = rng.random_range(0.2..0.8);
        let x1 = rng.random_range(0.1..0.9);
        let path = jit(rng, [0.75, 0.68, 0.5], 0.06);
        c.polygon(
            &[
                (x0 - 0.02, horizon),
                (x0 + 0.02, horizon),
                (x1 + 0.2, 1.0),
                (x1 - 0.2, 1.0),
            ],
            path,
        );
    }
    for _ in 0..rng.random_range(1..5) {
        let x = rng.random_range(0.0..1.0);
        let base = rng.random_range(horizon + 0.05..1.0);
        let a2 = rng.random_range(0.2..0.5) * (0.5 + base);
        tree(c, rng, x, base, a2, false);
    }
    if rng.random_bool(0.5) {
        let x = rng.random_range(0.1..0.8);
        let y = rng.random_range(horizon + 0.1..0.95);
        let wood = jit(rng, [0.45, 0.3, 0.18], 0.05);
        c.rect(x, y - 0.04, x + 0.15, y - 0.025, wood);
        c.rect(x, y - 0.015, x + 0.15, y, wood);
        c.rect(x + 0.01, y, x + 0.02, y + 0.03, [0.2, 0.2, 0.2]);
        c.rect(x + 0.13, y, x + 0.14, y + 0.03, [0.2, 0.2, 0.2]);
    }
}

fn street<R: Rng>(c: &mut Canvas, rng: &mut R) {
    let vx = rng.random_range(0.3..0.7);
    let vy = rng.random_range(0.35..0.5);
    sky(c, rng, vy + 0.05);
    let road = jit(rng, [0.35, 0.35, 0.37], 0.06);
    let side = jit(rng, [0.6, 0.58, 0.55], 0.06);
    c.rect(0.0, vy, 1.0, 1.0, side);
    let spread = rng.random_range(0.3..0.6);
    c.polygon(
        &[
            (vx - 0.01, vy),
            (vx + 0.01, vy),
            (0.5 + spread + 0.3, 1.0),
            (0.5 - spread - 0.3, 1.0),
        ],
        road,
    );
    c.texture(rng, vy, 1.0, 8, 0.1);
    // Lane marks.
    let mark = jitp(rng, &[[0.95, 0.95, 0.9], [0.95, 0.8, 0.2]], 0.03);
    for k in 0..6 {
        let t0 = 0.15 + k as f32 * 0.15;
        let t1 = t0 + 0.07;
        let p = |t: f32| (vx + (0.5 - vx) * t, vy + (1.0 - vy) * t);
        c.line(p(t0), p(t1), 0.004 + 0.02 * t0, mark);
    }
    // Façades converging to the vanishing point, with window grids.
    for left in [true, false] {
        if rng.random_bool(0.15) {
            continue;
        }
        let edge = if left { 0.0 } else { 1.0 };
        let near_top = rng.random_range(-0.2..0.15);
        let near_bot = rng.random_range(0.7..0.9);
        let col = jitp(
            rng,
            &[
                [0.7, 0.55, 0.45],
                [0.6, 0.6, 0.62],
                [0.8, 0.75, 0.65],
                [0.45, 0.35, 0.3],
            ],
            0.08,
        );
        let depth = rng.random_range(0.55..0.85f32);
        let fx = edge + (vx - edge) * depth;
        let fy_top = near_top + (vy - near_top) * depth;
        let fy_bot = near_bot + (vy - near_bot) * depth;
        c.polygon(
            &[
                (edge, near_top),
                (fx, fy_top),
                (fx, fy_bot),
                (edge, near_bot),
            ],
            col,
        );
        let win = jitp(
            rng,
            &[[0.25, 0.3, 0.4], [0.8, 0.85, 0.9], [0.9, 0.8, 0.5]],
            0.05,
        );
        let cols = rng.random_range(3..7);
        let rows = rng.random_range(3..7);
        for i in 0..cols {
            let t = (i as f32 + 0.3) / cols as f32 * depth;
            let x = edge + (vx - edge) * t;
            let top = near_top + (vy - near_top) * t;
            let bot = near_bot + (vy - near_bot) * t;
            let w = (1.0 - t) * 0.05;
            for j in 0..rows {
                let y = top + (bot - top) * (j as f32 + 0.3) / rows as f32;
                let hgt = (bot - top) / rows as f32 * 0.45;
                c.rect(x - w / 2.0, y, x + w / 2.0, y + hgt, win);
            }
        }
    }
    for _ in 0..rng.random_range(0..3) {
        let t = rng.random_range(0.3..0.9f32);
        let x = vx + (rng.random_range(0.2..0.8) - vx) * t;
        let y = vy + (1.0 - vy) * t;
        let w = 0.2 * t;
        let car = jitp(rng, &FABRICS, 0.1);
        c.rect(x - w / 2.0, y - w * 0.35, x + w / 2.0, y, car);
        c.rect(
            x - w * 0.3,
            y - w * 0.55,
            x + w * 0.3,
            y - w * 0.35,
            scale(car, 0.7),
        );
    }
    if rng.random_bool(0.3) {
        let x = rng.random_range(0.0..1.0);
        let a1 = rng.random_range(0.7..1.0);
        let a2 = rng.random_range(0.2..0.4);
        tree(c, rng, x, a1, a2, false);
    }
}

fn kitchen<R: Rng>(c: &mut Canvas, rng: &mut R) {
    let floor = room(c, rng);
    let counter_top = floor - rng.random_range(0.15..0.25);
    let cab = jitp(
        rng,
        &[
            [0.9, 0.9, 0.88],
            [0.55, 0.4, 0.25],
            [0.4, 0.5, 0.55],
            [0.75, 0.7, 0.6],
        ],
        0.06,
    );
    let x0 = rng.random_range(-0.1..0.2);
    let x1 = rng.random_range(0.6..1.1);
    // Backsplash tiles.
    c.rect(
        x0,
        counter_top - 0.15,
        x1,
        counter_top,
        jit(rng, [0.85, 0.85, 0.85], 0.1),
    );
    c.vstripes(
        x0,
        counter_top - 0.15,
        x1,
        counter_top,
        0.05,
        [0.6, 0.6, 0.6],
        0.3,
    );
    c.hstripes(
        x0,
        counter_top - 0.15,
        x1,
        counter_top,
        0.05,
        [0.6, 0.6, 0.6],
        0.3,
    );
    // Lower cabinets with doors and handles, countertop.
    c.rect(x0, counter_top, x1, floor, cab);
    c.rect(
        x0,
        counter_top - 0.02,
        x1,
        counter_top + 0.01,
        jit(rng, [0.3, 0.3, 0.3], 0.1),
    );
    let doors = rng.random_range(3..7);
    for d in 0..doors {
        let dx = x0 + (x1 - x0) * d as f32 / doors as f32;
        c.rect(dx, counter_top + 0.01, dx + 0.006, floor, scale(cab, 0.7));
        c.rect(
            dx + 0.02,
            counter_top + 0.03,
            dx + 0.04,
            counter_top + 0.04,
            [0.3, 0.3, 0.3],
        );
    }
    // Upper cabinets.
    if rng.random_bool(0.7) {
        let top = rng.random_range(0.02..0.12);
        c.rect(x0, top, x1, counter_top - 0.2, cab);
        for d in 0..doors {
            let dx = x0 + (x1 - x0) * d as f32 / doors as f32;
            c.rect(dx, top, dx + 0.006, counter_top - 0.2, scale(cab, 0.7));
        }
    }
    // Fridge or oven.
    if rng.random_bool(0.6) {
        let fx = if rng.random_bool(0.5) {
            rng.random_range(0.0..0.15)
        } else {
            rng.random_range(0.7..0.85)
        };
        let fr = jit(rng, [0.85, 0.85, 0.88], 0.08);
        c.rect(fx, floor - 0.55, fx + 0.16, floor, fr);
        c.rect(
            fx + 0.13,
            floor - 0.45,
            fx + 0.14,
            floor - 0.3,
            [0.3, 0.3, 0.3],
        );
    } else {
        let ox = rng.random_range(x0.max(0.0)..(x1 - 0.2).max(x0.max(0.0) + 0.01));
        c.rect(
            ox,
            counter_top + 0.03,
            ox + 0.18,
            floor - 0.02,
            [0.15, 0.15, 0.15],
        );
    }
    if rng.random_bool(0.3) {
        // A dining table, as in restaurants.
        let tx = rng.random_range(0.2..0.8);
        let ty = floor + rng.random_range(0.05..0.15);
        table(c, rng, tx, ty, 0.35, false);
        chair(c, rng, tx - 0.25, ty + 0.05, 0.1, false);
    }
}

fn bedroom<R: Rng>(c: &mut Canvas, rng: &mut R) {
    let floor = room(c, rng);
    let w = rng.random_range(0.45..0.8);
    let cx = rng.random_range(0.3..0.7);
    let fy = floor + rng.random_range(0.1..0.25);
    if rng.random_bool(0.5) {
        let a0 = cx + rng.random_range(-0.2..0.2);
        let a2 = rng.random_range(0.2..0.35);
        rug(c, rng, a0, fy + 0.05, a2);
    }
    soft_furniture(c, rng, cx, fy, w, true);
    if rng.random_bool(0.7) {
        let lx = if rng.random_bool(0.5) {
            cx - w / 2.0 - 0.08
        } else {
            cx + w / 2.0 + 0.08
        };
        let nst = jitp(rng, &WOODS, 0.05);
        c.rect(lx - 0.05, fy - 0.12, lx + 0.05, fy, nst);
        let a2 = rng.random_range(0.08..0.15);
        lamp(c, rng, lx, fy - 0.12, a2);
    }
    if rng.random_bool(0.25) {
        // An armchair, as in living rooms.
        let ax = rng.random_range(0.05..0.95);
        soft_furniture(c, rng, ax, fy + 0.1, 0.18, false);
    }
    if rng.random_bool(0.3) {
        // Wardrobe.
        let x = if rng.random_bool(0.5) { 0.0 } else { 0.8 };
        let wood = jitp(rng, &WOODS, 0.05);
        c.rect(x, floor - 0.5, x + 0.2, floor + 0.05, wood);
        c.rect(
            x + 0.098,
            floor - 0.5,
            x + 0.102,
            floor + 0.05,
            scale(wood, 0.6),
        );
    }
}

fn living_room<R: Rng>(c: &mut Canvas, rng: &mut R) {
    let floor = room(c, rng);
    let w = rng.random_range(0.4..0.75);
    let cx = rng.random_range(0.3..0.7);
    let fy = floor + rng.random_range(0.08..0.2);
    if rng.random_bool(0.6) {
        let a2 = rng.random_range(0.25..0.4);
        rug(c, rng, cx, fy + 0.12, a2);
    }
    if rng.random_bool(0.5) {
        // TV on a low cabinet or on the wall.
        let tx = rng.random_range(0.1..0.7);
        let ty = floor - rng.random_range(0.2..0.35);
        c.rect(tx, ty, tx + 0.22, ty + 0.13, [0.08, 0.08, 0.1]);
        c.rect(
            tx + 0.01,
            ty + 0.01,
            tx + 0.21,
            ty + 0.12,
            jit(rng, [0.2, 0.25, 0.35], 0.1),
        );
    }
    soft_furniture(c, rng, cx, fy, w, false);
    if rng.random_bool(0.6) {
        let tx = cx + rng.random_range(-0.15..0.15);
        table(c, rng, tx, fy + 0.1, 0.25, false);
    }
    if rng.random_bool(0.7) {
        let lx = if rng.random_bool(0.5) {
            cx - w / 2.0 - 0.1
        } else {
            cx + w / 2.0 + 0.1
        };
        let a2 = rng.random_range(0.2..0.4);
        lamp(c, rng, lx, fy, a2);
    }
    if rng.random_bool(0.2) {
        // A daybed: the bed shape, as in bedrooms.
        let ax = rng.random_range(0.1..0.9);
        soft_furniture(c, rng, ax, fy + 0.12, 0.3, true);
    }
    if rng.random_bool(0.3) {
        // Bookshelf.
        let x = if rng.random_bool(0.5) { 0.02 } else { 0.8 };
        let wood = jitp(rng, &WOODS, 0.05);
        c.rect(x, floor - 0.45, x + 0.18, floor + 0.02, wood);
        for k in 0..4 {
            let y = floor - 0.42 + k as f32 * 0.11;
            c.vstripes(
                x + 0.01,
                y,
                x + 0.17,
                y + 0.08,
                0.03,
                jitp(rng, &FABRICS, 0.1),
                0.9,
            );
        }
    }
}

fn tables_and_chairs<R: Rng>(
    c: &mut Canvas,
    rng: &mut R,
    floor: f32,
    n: usize,
    cloth_p: f64,
) -> Vec<(f32, f32, f32)> {
    let mut out = Vec::new();
    for i in 0..n {
        let depth = rng.random_range(0.0..1.0f32);
        let ty = floor + 0.05 + depth * (0.95 - floor - 0.1);
        let w = 0.18 + depth * 0.25;
        let tx = (i as f32 + rng.random_range(0.2..0.8)) / n as f32;
        let cloth = rng.random_bool(cloth_p);
        table(c, rng, tx, ty, w, cloth);
        if rng.random_bool(0.8) {
            chair(c, rng, tx - w * 0.6, ty + 0.02, w * 0.35, false);
        }
        if rng.random_bool(0.6) {
            chair(c, rng, tx + w * 0.6, ty + 0.02, w * 0.35, true);
        }
        out.push((tx, ty, w));
    }
    out
}

fn restaurant<R: Rng>(c: &mut Canvas, rng: &mut R) {
    let floor = room(c, rng);
    // Warm pendant lamps.
    for _ in 0..rng.random_range(0..4) {
        let x = rng.random_range(0.05..0.95);
        let y = rng.random_range(0.1..0.3);
        c.rect(x - 0.003, 0.0, x + 0.003, y, [0.15, 0.15, 0.15]);
        c.ellipse(x, y, 0.04, 0.025, jit(rng, [0.95, 0.75, 0.4], 0.08));
    }
    if rng.random_bool(0.35) {
        // Bar counter.
        let y = floor - 0.05;
        c.rect(
            0.0,
            y - 0.15,
            rng.random_range(0.3..0.7),
            y + 0.05,
            jitp(rng, &WOODS, 0.05),
        );
    }
    let n = rng.random_range(2..5);
    let tables = tables_and_chairs(c, rng, floor, n, 0.6);
    for (tx, ty, w) in tables {
        for k in 0..rng.random_range(0..3) {
            let px = tx - w * 0.3 + k as f32 * w * 0.3;
            c.ellipse(
                px,
                ty - 0.02,
                w * 0.1,
                w * 0.04,
                jit(rng, [0.97, 0.97, 0.95], 0.03),
            );
        }
        if rng.random_bool(0.3) {
            c.rect(
                tx - 0.005,
                ty - 0.08,
                tx + 0.005,
                ty - 0.02,
                jit(rng, [0.5, 0.1, 0.15], 0.1),
            );
        }
    }
    if rng.random_bool(0.15) {
        // A wall-mounted screen, as in offices.
        let x = rng.random_range(0.1..0.7);
        c.rect(x, 0.15, x + 0.2, 0.28, [0.08, 0.08, 0.1]);
    }
}

fn office<R: Rng>(c: &mut Canvas, rng: &mut R) {
    let floor = room(c, rng);
    // Cool ceiling lights.
    if rng.random_bool(0.6) {
        for k in 0..rng.random_range(1..4) {
            let x = 0.1 + k as f32 * 0.3 + rng.random_range(-0.05..0.05);
            c.rect(x, 0.02, x + 0.18, 0.045, jit(rng, [0.95, 0.97, 1.0], 0.03));
        }
    }
    if rng.random_bool(0.5) {
        // Filing cabinet / shelves.
        let x = rng.random_range(0.0..0.85);
        let col = jit(rng, [0.55, 0.57, 0.6], 0.08);
        c.rect(x, floor - 0.35, x + 0.14, floor + 0.02, col);
        for k in 1..4 {
            let y = floor - 0.35 + k as f32 * 0.09;
            c.rect(x, y, x + 0.14, y + 0.006, scale(col, 0.6));
        }
    }
    let n = rng.random_range(1..4);
    let tables = tables_and_chairs(c, rng, floor, n, 0.1);
    for (tx, ty, w) in tables {
        if rng.random_bool(0.8) {
            let mw = w * rng.random_range(0.3..0.45);
            let mh = mw * 0.65;
            c.rect(
                tx - 0.004,
                ty - 0.05,
                tx + 0.004,
                ty - 0.02,
                [0.15, 0.15, 0.15],
            );
            c.rect(
                tx - mw / 2.0,
                ty - 0.05 - mh,
                tx + mw / 2.0,
                ty - 0.05,
                [0.1, 0.1, 0.12],
            );
            c.rect(
                tx - mw / 2.0 + 0.008,
                ty - 0.05 - mh + 0.008,
                tx + mw / 2.0 - 0.008,
                ty - 0.058,
                jit(rng, [0.4, 0.6, 0.85], 0.15),
            );
        }
        if rng.random_bool(0.3) {
            // Papers or a mug, as plates on restaurant tables.
            c.ellipse(
                tx + w * 0.3,
                ty - 0.02,
                w * 0.07,
                w * 0.03,
                jit(rng, [0.95, 0.95, 0.95], 0.03),
            );
        }
    }
}

//! FractalDB-style formula-driven pretraining images.
//!
//! Follows Kataoka et al., "Pre-training without Natural Images", ACCV 2020 (FractalDB), with the
//! map sampling of Anderson & Farrell, "Improving Fractal Pre-training", WACV 2022:
//!
//! - a **class** is an iterated function system (IFS) of N ∈ {2, 3, 4} affine maps
//!   `w_i(p) = A_i p + b_i`. Each `A_i = R(θ_i) diag(σ_i1, σ_i2) R(φ_i) D_i` with random rotations,
//!   random reflections `D_i = diag(±1, ±1)` and singular values drawn under the *sigma-factor*
//!   constraint `Σ_i (σ_i1 + 2 σ_i2) = α`, `α ~ U[(5 + N)/2, (6 + N)/2]`, `1 ≥ σ_i1 ≥ σ_i2 ≥ 0`,
//!   which keeps the systems contractive and non-degenerate; `b_i ~ U[-1, 1]²`;
//! - a class is kept only if its render covers at least 10% of the canvas (the *filling rate*
//!   of FractalDB), measured at the configured size with 1-pixel points;
//! - map probabilities are proportional to `|det A_i|`;
//! - an **instance** multiplies one of the 6N parameters by U[0.8, 1.2] (FractalDB's intra-class
//!   parameter weighting), and is drawn with a random flip, scale and position, random per-map
//!   colours on black, and 1-pixel or 2×2 point rendering;
//! - rendering is the chaos game: 512 chains of 40 iterations from random starts, the first 8
//!   iterations of each chain discarded.
//!
//! Everything is a pure function of the seed: [`FractalDb::new`] samples the classes, and
//! [`FractalDb`] implements [`Generator`] so instances are rendered on the fly by the data loader.

use std::sync::Arc;

use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{Generator, Item, ItemSource, RawSplits, SkipReport};

/// One affine map `p ↦ A p + b` with `A = [[a, b], [c, d]]`, `b = [e, f]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Affine {
    pub a: f32,
    pub b: f32,
    pub c: f32,
    pub d: f32,
    pub e: f32,
    pub f: f32,
}

impl Affine {
    pub fn det(&self) -> f32 {
        self.a * self.d - self.b * self.c
    }
    #[inline]
    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        (
            self.a * x + self.b * y + self.e,
            self.c * x + self.d * y + self.f,
        )
    }
    fn param_mut(&mut self, k: usize) -> &mut f32 {
        match k % 6 {
            0 => &mut self.a,
            1 => &mut self.b,
            2 => &mut self.c,
            3 => &mut self.d,
            4 => &mut self.e,
            _ => &mut self.f,
        }
    }
}

/// An iterated function system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ifs {
    pub maps: Vec<Affine>,
}

impl Ifs {
    /// Map probabilities ∝ |det A_i| (uniform if all determinants vanish).
    pub fn probabilities(&self) -> Vec<f32> {
        let dets: Vec<f32> = self.maps.iter().map(|m| m.det().abs()).collect();
        let sum: f32 = dets.iter().sum();
        if sum <= 1e-12 {
            vec![1.0 / self.maps.len() as f32; self.maps.len()]
        } else {
            dets.iter().map(|d| d / sum).collect()
        }
    }

    /// Sigma factor `Σ_i (σ_i1 + 2 σ_i2)` from the singular values of each `A_i`.
    pub fn sigma_factor(&self) -> f32 {
        self.maps
            .iter()
            .map(|m| {
                let (s1, s2) = singular_values(m);
                s1 + 2.0 * s2
            })
            .sum()
    }
}

/// Singular values (σ1 ≥ σ2) of a map's 2×2 matrix.
pub fn singular_values(m: &Affine) -> (f32, f32) {
    let (a, b, c, d) = (m.a as f64, m.b as f64, m.c as f64, m.d as f64);
    let s = a * a + b * b + c * c + d * d;
    let det = (a * d - b * c).abs();
    let disc = (s * s - 4.0 * det * det).max(0.0).sqrt();
    let s1 = ((s + disc) / 2.0).sqrt();
    let s2 = ((s - disc) / 2.0).max(0.0).sqrt();
    (s1 as f32, s2 as f32)
}

/// Sample `n` pairs of singular values with `Σ (σ1 + 2σ2) = alpha`, `1 ≥ σ1 ≥ σ2 ≥ 0`
/// (Anderson & Farrell 2022, Algorithm 1: each pair is drawn from the range that keeps the rest
/// of the budget feasible; the last pair takes what remains).
pub fn sample_singular_values<R: Rng + ?Sized>(
    n: usize,
    alpha: f32,
    rng: &mut R,
) -> Vec<(f32, f32)> {
    let mut out = Vec::with_capacity(n);
    let mut a = alpha;
    for i in 0..n {
        let rest = (n - i - 1) as f32; // maps after this one, each can take at most 3
        if i + 1 < n {
            let lo1 = ((a - 3.0 * rest) / 3.0).max(0.0);
            let hi1 = a.min(1.0);
            let s1 = uniform(rng, lo1, hi1.max(lo1));
            let lo2 = ((a - 3.0 * rest - s1) / 2.0).max(0.0);
            let hi2 = s1.min((a - s1) / 2.0).max(lo2);
            let s2 = uniform(rng, lo2, hi2);
            a -= s1 + 2.0 * s2;
            out.push((s1, s2));
        } else {
            let lo1 = (a / 3.0).max(0.0);
            let hi1 = a.min(1.0).max(lo1);
            let s1 = uniform(rng, lo1, hi1);
            let s2 = ((a - s1) / 2.0).max(0.0);
            out.push((s1, s2));
        }
    }
    out
}

fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f32, hi: f32) -> f32 {
    if hi > lo {
        lo + (hi - lo) * rng.random::<f32>()
    } else {
        lo
    }
}

/// Sample a random IFS with the sigma-factor rule.
pub fn sample_ifs<R: Rng + ?Sized>(rng: &mut R) -> Ifs {
    let n = rng.random_range(2..=4usize);
    let alpha = uniform(rng, 0.5 * (5.0 + n as f32), 0.5 * (6.0 + n as f32));
    let svs = sample_singular_values(n, alpha, rng);
    let maps = svs
        .into_iter()
        .map(|(s1, s2)| {
            let th = uniform(rng, 0.0, std::f32::consts::TAU);
            let ph = uniform(rng, 0.0, std::f32::consts::TAU);
            let d1 = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            let d2 = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            // R(θ) Σ R(φ) D
            let (ct, st) = (th.cos(), th.sin());
            let (cp, sp) = (ph.cos(), ph.sin());
            // Σ R(φ) = [[s1 cp, -s1 sp], [s2 sp, s2 cp]]
            let m00 = s1 * cp;
            let m01 = -s1 * sp;
            let m10 = s2 * sp;
            let m11 = s2 * cp;
            // R(θ) · that
            let a = ct * m00 - st * m10;
            let b = ct * m01 - st * m11;
            let c = st * m00 + ct * m10;
            let d = st * m01 + ct * m11;
            Affine {
                a: a * d1,
                b: b * d2,
                c: c * d1,
                d: d * d2,
                e: uniform(rng, -1.0, 1.0),
                f: uniform(rng, -1.0, 1.0),
            }
        })
        .collect();
    Ifs { maps }
}

/// Chaos-game settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChaosGame {
    pub chains: usize,
    pub iterations: usize,
    pub burn_in: usize,
}

impl Default for ChaosGame {
    fn default() -> Self {
        Self {
            chains: 512,
            iterations: 40,
            burn_in: 8,
        }
    }
}

/// Run the chaos game; returns the points after burn-in and the index of the map that produced
/// each.
pub fn chaos_game<R: Rng + ?Sized>(
    ifs: &Ifs,
    game: &ChaosGame,
    rng: &mut R,
) -> (Vec<(f32, f32)>, Vec<u8>) {
    let probs = ifs.probabilities();
    let mut cum = Vec::with_capacity(probs.len());
    let mut acc = 0.0;
    for p in &probs {
        acc += p;
        cum.push(acc);
    }
    let keep = game.iterations.saturating_sub(game.burn_in);
    let mut pts = Vec::with_capacity(game.chains * keep);
    let mut which = Vec::with_capacity(game.chains * keep);
    let last = ifs.maps.len() - 1;
    for _ in 0..game.chains {
        let mut x = uniform(rng, -1.0, 1.0);
        let mut y = uniform(rng, -1.0, 1.0);
        for it in 0..game.iterations {
            let u: f32 = rng.random();
            let k = cum.iter().position(|&c| u < c).unwrap_or(last);
            (x, y) = ifs.maps[k].apply(x, y);
            if it >= game.burn_in {
                pts.push((x, y));
                which.push(k as u8);
            }
        }
    }
    (pts, which)
}

/// How to place and draw a point set on the canvas.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// Fraction of the canvas the longer side of the point cloud spans.
    pub scale: f32,
    /// Offset of the cloud's centre from the canvas centre, as a fraction of the free margin
    /// (−1..1).
    pub offset: (f32, f32),
    pub flip_x: bool,
    pub flip_y: bool,
    /// Draw 2×2 squares instead of single pixels.
    pub thick: bool,
    /// Colour per map.
    pub colours: Vec<[u8; 3]>,
}

/// Rasterise points on a black `size`×`size` canvas. Non-finite points are ignored.
pub fn draw(pts: &[(f32, f32)], which: &[u8], size: u32, pl: &Placement) -> RgbImage {
    let mut img = RgbImage::new(size, size);
    let finite = pts.iter().filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for &(x, y) in finite {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return img;
    }
    let s = size as f32;
    let extent = (x1 - x0).max(y1 - y0).max(1e-6);
    let k = pl.scale * (s - 2.0) / extent;
    let (w, h) = ((x1 - x0) * k, (y1 - y0) * k);
    let cx = s / 2.0 + pl.offset.0 * (s - w).max(0.0) / 2.0;
    let cy = s / 2.0 + pl.offset.1 * (s - h).max(0.0) / 2.0;
    let (mx, my) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let max = size as i64 - 1;
    for (i, &(x, y)) in pts.iter().enumerate() {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        let mut dx = (x - mx) * k;
        let mut dy = (y - my) * k;
        if pl.flip_x {
            dx = -dx;
        }
        if !pl.flip_y {
            dy = -dy; // y up in the IFS plane
        }
        let px = (cx + dx).floor() as i64;
        let py = (cy + dy).floor() as i64;
        let col = pl.colours[which[i] as usize % pl.colours.len()];
        let r = if pl.thick { 1 } else { 0 };
        for yy in py..=py + r {
            for xx in px..=px + r {
                if (0..=max).contains(&xx) && (0..=max).contains(&yy) {
                    img.put_pixel(xx as u32, yy as u32, Rgb(col));
                }
            }
        }
    }
    img
}

/// Fraction of non-black pixels.
pub fn coverage(img: &RgbImage) -> f64 {
    let n = img.pixels().filter(|p| p.0 != [0, 0, 0]).count();
    n as f64 / (img.width() as f64 * img.height() as f64)
}

/// Configuration of a FractalDB-style dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FractalConfig {
    pub classes: usize,
    pub instances: usize,
    pub size: u32,
    pub seed: u64,
    /// Minimum filling rate of a class's base render.
    pub min_coverage: f64,
    pub game: ChaosGame,
}

impl Default for FractalConfig {
    /// 100 classes × 200 instances at 64×64, seed 0, filling rate ≥ 0.1.
    fn default() -> Self {
        Self {
            classes: 100,
            instances: 200,
            size: 64,
            seed: 0,
            min_coverage: 0.1,
            game: ChaosGame::default(),
        }
    }
}

/// The sampled classes of a FractalDB; renders instances on demand.
#[derive(Debug, Clone)]
pub struct FractalDb {
    pub config: FractalConfig,
    pub systems: Vec<Ifs>,
    /// How many candidate systems were sampled to find the kept ones.
    pub candidates_tried: usize,
}

fn rng_for(seed: u64, a: u64, b: u64) -> ChaCha8Rng {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8..16].copy_from_slice(&a.to_le_bytes());
    s[16..24].copy_from_slice(&b.to_le_bytes());
    s[24..].copy_from_slice(b"FRACTALS");
    ChaCha8Rng::from_seed(s)
}

impl FractalDb {
    /// Sample `config.classes` systems that pass the filling-rate filter (deterministic from the
    /// seed; candidates are tried in parallel batches but accepted in candidate order).
    pub fn new(config: FractalConfig) -> Self {
        use rayon::prelude::*;
        let mut systems = Vec::with_capacity(config.classes);
        let mut tried = 0usize;
        let base = Placement {
            scale: 1.0,
            offset: (0.0, 0.0),
            flip_x: false,
            flip_y: false,
            thick: false,
            colours: vec![[255, 255, 255]],
        };
        while systems.len() < config.classes {
            let chunk = (config.classes - systems.len()).max(8) * 2;
            let cands: Vec<(Ifs, bool)> = (tried..tried + chunk)
                .into_par_iter()
                .map(|i| {
                    let mut rng = rng_for(config.seed, 0xC1A55, i as u64);
                    let ifs = sample_ifs(&mut rng);
                    let (pts, which) = chaos_game(&ifs, &config.game, &mut rng);
                    let img = draw(&pts, &which, config.size, &base);
                    let ok = coverage(&img) >= config.min_coverage;
                    (ifs, ok)
                })
                .collect();
            for (j, (ifs, ok)) in cands.into_iter().enumerate() {
                if ok && systems.len() < config.classes {
                    systems.push(ifs);
                    if systems.len() == config.classes {
                        tried += j + 1;
                        break;
                    }
                }
                if j + 1 == chunk {
                    tried += chunk;
                }
            }
            if tried > 1000 * config.classes.max(1) {
                break; // pathological settings (e.g. min_coverage near 1): keep what we have
            }
        }
        Self {
            config,
            systems,
            candidates_tried: tried,
        }
    }

    /// Class names `fractal_000`, ….
    pub fn class_names(&self) -> Vec<String> {
        (0..self.systems.len())
            .map(|i| format!("fractal_{i:03}"))
            .collect()
    }

    /// Render instance `seed` of class `label`.
    pub fn render_instance(&self, label: u32, seed: u64) -> RgbImage {
        let mut rng = rng_for(self.config.seed, 0x1A57 + label as u64, seed);
        let mut ifs = self.systems[label as usize % self.systems.len()].clone();
        let k = rng.random_range(0..6 * ifs.maps.len());
        let w = uniform(&mut rng, 0.8, 1.2);
        *ifs.maps[k / 6].param_mut(k % 6) *= w;
        let colours = (0..ifs.maps.len())
            .map(|_| {
                hsv_to_rgb(
                    rng.random::<f32>(),
                    uniform(&mut rng, 0.5, 1.0),
                    uniform(&mut rng, 0.7, 1.0),
                )
            })
            .collect();
        let pl = Placement {
            scale: uniform(&mut rng, 0.6, 1.0),
            offset: (uniform(&mut rng, -1.0, 1.0), uniform(&mut rng, -1.0, 1.0)),
            flip_x: rng.random_bool(0.5),
            flip_y: rng.random_bool(0.5),
            thick: rng.random_bool(0.5),
            colours,
        };
        let (pts, which) = chaos_game(&ifs, &self.config.game, &mut rng);
        draw(&pts, &which, self.config.size, &pl)
    }

    /// All `classes × instances` items (instance seed = instance index), as a train pool; carve
    /// val with [`crate::data::split::make_splits`] (set `test_fraction` to 0 for pretraining).
    pub fn into_raw_splits(self) -> RawSplits {
        let classes = self.class_names();
        let instances = self.config.instances;
        let generator: Arc<dyn Generator> = Arc::new(self);
        let name = generator.name();
        let mut train = Vec::with_capacity(classes.len() * instances);
        for (label, class) in classes.iter().enumerate() {
            for i in 0..instances {
                train.push(Item {
                    id: format!("{name}/{class}/{i:05}"),
                    label: label as u32,
                    source: ItemSource::Generated {
                        generator: generator.clone(),
                        seed: i as u64,
                    },
                });
            }
        }
        RawSplits {
            classes,
            train,
            val: None,
            test: None,
            skipped: SkipReport::default(),
        }
    }
}

impl Generator for FractalDb {
    fn name(&self) -> String {
        format!(
            "fractaldb-v1-s{}-c{}-{}px",
            self.config.seed,
            self.systems.len(),
            self.config.size
        )
    }
    fn generate(&self, label: u32, seed: u64) -> RgbImage {
        self.render_instance(label, seed)
    }
}

fn hsv_to_rgb(h: f32, s: f32, v: f32) -> [u8; 3] {
    let h6 = (h.fract() * 6.0).max(0.0);
    let i = h6.floor() as u32 % 6;
    let f = h6 - h6.floor();
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    let (r, g, b) = match i {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    };
    [(r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8]
}

//! FractalDB generator: the sigma-factor rule, map probabilities, the chaos game against the
//! Sierpinski triangle (a hand-known attractor), filling-rate filter and determinism.

use models::data::{make_splits, DataSource, SplitConfig};
use models::fractal::{
    chaos_game, coverage, draw, sample_ifs, sample_singular_values, singular_values, Affine,
    ChaosGame, FractalConfig, FractalDb, Ifs, Placement,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn map(a: f32, b: f32, c: f32, d: f32, e: f32, f: f32) -> Affine {
    Affine { a, b, c, d, e, f }
}

#[test]
fn singular_values_hand_cases() {
    let (s1, s2) = singular_values(&map(0.5, 0.0, 0.0, -0.25, 0.0, 0.0));
    assert!((s1 - 0.5).abs() < 1e-6 && (s2 - 0.25).abs() < 1e-6);
    // Rotation by 30° times diag(0.8, 0.3): same singular values.
    let (c, s) = (30f32.to_radians().cos(), 30f32.to_radians().sin());
    let (s1, s2) = singular_values(&map(c * 0.8, -s * 0.3, s * 0.8, c * 0.3, 0.0, 0.0));
    assert!(
        (s1 - 0.8).abs() < 1e-5 && (s2 - 0.3).abs() < 1e-5,
        "{s1} {s2}"
    );
}

#[test]
fn sigma_factor_rule_holds() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for n in 2..=4 {
        for _ in 0..200 {
            let alpha = 0.5 * (5.0 + n as f32) + 0.3;
            let sv = sample_singular_values(n, alpha, &mut rng);
            let sum: f32 = sv.iter().map(|(a, b)| a + 2.0 * b).sum();
            assert!((sum - alpha).abs() < 1e-4, "sum {sum} alpha {alpha}");
            for (s1, s2) in sv {
                assert!(
                    (0.0..=1.0 + 1e-6).contains(&s1) && s2 >= 0.0 && s2 <= s1 + 1e-6,
                    "{s1} {s2}"
                );
            }
        }
    }
    // Whole systems: the sigma factor recomputed from the matrices (via SVD) is in range.
    for _ in 0..300 {
        let ifs = sample_ifs(&mut rng);
        let n = ifs.maps.len() as f32;
        assert!((2.0..=4.0).contains(&n));
        let sf = ifs.sigma_factor();
        assert!(
            sf >= 0.5 * (5.0 + n) - 1e-3 && sf <= 0.5 * (6.0 + n) + 1e-3,
            "n {n} sigma {sf}"
        );
        assert!(ifs.maps.iter().all(|m| singular_values(m).0 <= 1.0 + 1e-4));
    }
}

#[test]
fn probabilities_follow_determinants() {
    let ifs = Ifs {
        maps: vec![
            map(0.5, 0.0, 0.0, 0.5, 0.0, 0.0),
            map(0.0, 0.5, -0.25, 0.0, 1.0, 0.0),
        ],
    };
    // |det| = 0.25 and 0.125 -> 2/3, 1/3.
    let p = ifs.probabilities();
    assert!((p[0] - 2.0 / 3.0).abs() < 1e-6 && (p[1] - 1.0 / 3.0).abs() < 1e-6);
}

#[test]
fn chaos_game_converges_to_sierpinski() {
    // w1 = p/2, w2 = p/2 + (1/2, 0), w3 = p/2 + (0, 1/2): the attractor is the set of (x, y) in
    // [0,1]^2 whose binary digits never both equal 1 at the same position, so on a 64 grid a point
    // lands in cell (i, j) with i & j == 0.
    let ifs = Ifs {
        maps: vec![
            map(0.5, 0.0, 0.0, 0.5, 0.0, 0.0),
            map(0.5, 0.0, 0.0, 0.5, 0.5, 0.0),
            map(0.5, 0.0, 0.0, 0.5, 0.0, 0.5),
        ],
    };
    let game = ChaosGame {
        chains: 256,
        iterations: 40,
        burn_in: 24,
    };
    let (pts, which) = chaos_game(&ifs, &game, &mut ChaCha8Rng::seed_from_u64(1));
    assert_eq!(pts.len(), 256 * 16);
    assert_eq!(which.len(), pts.len());
    let bad = pts
        .iter()
        .filter(|(x, y)| {
            let (i, j) = ((x * 64.0).floor() as i64, (y * 64.0).floor() as i64);
            !(0..64).contains(&i) || !(0..64).contains(&j) || (i & j) != 0
        })
        .count();
    assert!(
        bad * 1000 <= pts.len(),
        "{bad} of {} points off the attractor",
        pts.len()
    );
    // Map usage ~ 1/3 each (equal determinants).
    for k in 0..3u8 {
        let f = which.iter().filter(|&&w| w == k).count() as f64 / which.len() as f64;
        assert!((f - 1.0 / 3.0).abs() < 0.03, "map {k}: {f}");
    }
    // With enough points every attractor cell of the 64 grid is visited: (3/4)^6 of the cells.
    let game = ChaosGame {
        chains: 2048,
        iterations: 60,
        burn_in: 24,
    };
    let (pts, which) = chaos_game(&ifs, &game, &mut ChaCha8Rng::seed_from_u64(2));
    let cells: std::collections::HashSet<(i64, i64)> = pts
        .iter()
        .map(|(x, y)| ((x * 64.0).floor() as i64, (y * 64.0).floor() as i64))
        .collect();
    assert_eq!(cells.len(), 729);
    // Drawn at scale 1 the cloud spans the canvas (1-pixel margin) and stays inside it.
    let pl = Placement {
        scale: 1.0,
        offset: (0.0, 0.0),
        flip_x: false,
        flip_y: false,
        thick: false,
        colours: vec![[255, 255, 255]],
    };
    let img = draw(&pts, &which, 66, &pl);
    let lit: Vec<(u32, u32)> = img
        .enumerate_pixels()
        .filter(|p| p.2 .0 != [0, 0, 0])
        .map(|p| (p.0, p.1))
        .collect();
    let (xmin, xmax) = (
        lit.iter().map(|p| p.0).min().unwrap(),
        lit.iter().map(|p| p.0).max().unwrap(),
    );
    assert!(xmin <= 1 && xmax >= 64, "{xmin} {xmax}");
    // The corner cell (0,0) of the triangle is lit (bottom-left, y up), the opposite one is not.
    assert!(img.get_pixel(2, 63).0 != [0, 0, 0] || img.get_pixel(1, 64).0 != [0, 0, 0]);
    assert_eq!(img.get_pixel(62, 2).0, [0, 0, 0]);
}

#[test]
fn fractaldb_is_deterministic_and_filtered() {
    let cfg = FractalConfig {
        classes: 6,
        instances: 4,
        size: 32,
        seed: 5,
        ..Default::default()
    };
    let a = FractalDb::new(cfg.clone());
    let b = FractalDb::new(cfg.clone());
    assert_eq!(a.systems, b.systems);
    assert_eq!(a.systems.len(), 6);
    assert!(a.candidates_tried >= 6);
    let base = Placement {
        scale: 1.0,
        offset: (0.0, 0.0),
        flip_x: false,
        flip_y: false,
        thick: false,
        colours: vec![[255, 255, 255]],
    };
    for (c, ifs) in a.systems.iter().enumerate() {
        // Kept classes pass the filling-rate filter (re-rendered with the class search's stream
        // is not needed: any chaos-game run of the same system covers about the same area).
        let (pts, which) = chaos_game(ifs, &cfg.game, &mut ChaCha8Rng::seed_from_u64(c as u64));
        assert!(
            coverage(&draw(&pts, &which, 32, &base)) >= 0.07,
            "class {c}"
        );
        assert_eq!(
            a.render_instance(c as u32, 3),
            b.render_instance(c as u32, 3)
        );
        assert_ne!(
            a.render_instance(c as u32, 3),
            a.render_instance(c as u32, 4)
        );
    }
    let other = FractalDb::new(FractalConfig { seed: 6, ..cfg });
    assert_ne!(a.systems, other.systems);
}

#[test]
fn fractal_source_feeds_the_split_machinery() {
    let raw = DataSource::parse("fractal:classes=4,instances=10,size=24,seed=1")
        .unwrap()
        .open()
        .unwrap();
    assert_eq!(raw.classes.len(), 4);
    assert_eq!(raw.train.len(), 40);
    let s = make_splits(
        raw,
        &SplitConfig {
            val_fraction: 0.2,
            test_fraction: 0.0,
            seed: 0,
        },
    );
    assert_eq!(s.val.class_counts(), vec![2, 2, 2, 2]);
    assert!(s.test.is_empty());
    let img = s.train.load(0).unwrap();
    assert_eq!(img.dimensions(), (24, 24));
    assert!(coverage(&img) > 0.0);
}

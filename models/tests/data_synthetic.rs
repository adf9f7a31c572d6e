//! Synthetic scenes (generated images, not photographs): determinism, sizes, class structure,
//! and a difficulty check — a nearest-centroid classifier on 8×8 thumbnails must do clearly better
//! than chance but far from perfectly, so the designed confusions are real.

use models::data::synthetic::{
    load, render_scene, SceneGenerator, SyntheticOptions, SCENE_CLASSES,
};
use models::data::{make_splits, Generator, SplitConfig};

fn thumb(label: u32, seed: u64) -> Vec<f32> {
    let img = render_scene(label, seed, 32);
    let t = image::imageops::resize(&img, 8, 8, image::imageops::FilterType::Triangle);
    t.as_raw().iter().map(|&v| v as f32 / 255.0).collect()
}

#[test]
fn deterministic_and_sized() {
    let g = SceneGenerator { size: 40 };
    for label in 0..10 {
        let a = g.generate(label, 11);
        assert_eq!(a.dimensions(), (40, 40));
        assert_eq!(a, g.generate(label, 11), "class {label} not deterministic");
        assert_ne!(a, g.generate(label, 12));
    }
    assert_ne!(render_scene(0, 5, 32), render_scene(1, 5, 32));
    assert!(g.name().contains("synthetic"));
}

#[test]
fn dataset_layout_and_disjoint_test_seeds() {
    let raw = load(&SyntheticOptions {
        size: 16,
        train_per_class: 7,
        test_per_class: 3,
        seed: 2,
    });
    assert_eq!(raw.classes, SCENE_CLASSES.map(String::from).to_vec());
    assert_eq!(raw.train.len(), 70);
    let test = raw.test.clone().unwrap();
    assert_eq!(test.len(), 30);
    let s = make_splits(raw, &SplitConfig::default());
    assert_eq!(s.val.class_counts(), vec![1; 10]);
    // No test image equals a train image.
    let train_h: std::collections::HashSet<[u8; 32]> = s
        .train
        .items
        .iter()
        .chain(&s.val.items)
        .map(|i| i.content_sha256().unwrap())
        .collect();
    assert!(s
        .test
        .items
        .iter()
        .all(|i| !train_h.contains(&i.content_sha256().unwrap())));
}

#[test]
fn learnable_but_not_trivial() {
    let (n_train, n_test) = (40u64, 20u64);
    let dim = 8 * 8 * 3;
    let mut centroids = vec![vec![0f32; dim]; 10];
    for label in 0..10u32 {
        for s in 0..n_train {
            for (c, v) in centroids[label as usize].iter_mut().zip(thumb(label, s)) {
                *c += v / n_train as f32;
            }
        }
    }
    let mut correct = 0;
    let mut confusion = vec![vec![0u32; 10]; 10];
    for label in 0..10u32 {
        for s in 0..n_test {
            let x = thumb(label, 100_000 + s);
            let pred = (0..10)
                .min_by(|&a, &b| {
                    let da: f32 = centroids[a]
                        .iter()
                        .zip(&x)
                        .map(|(c, v)| (c - v) * (c - v))
                        .sum();
                    let db: f32 = centroids[b]
                        .iter()
                        .zip(&x)
                        .map(|(c, v)| (c - v) * (c - v))
                        .sum();
                    da.total_cmp(&db)
                })
                .unwrap();
            confusion[label as usize][pred] += 1;
            if pred == label as usize {
                correct += 1;
            }
        }
    }
    let acc = correct as f64 / (10 * n_test) as f64;
    eprintln!("nearest-centroid accuracy on 8x8 thumbnails: {acc:.3}");
    for (i, row) in confusion.iter().enumerate() {
        eprintln!("{:>12} {:?}", SCENE_CLASSES[i], row);
    }
    assert!(acc > 0.3, "should be learnable: {acc}");
    assert!(acc < 0.85, "should not be trivially separable: {acc}");
}

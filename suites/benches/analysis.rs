//! Suite analysis time: accuracy + confusion + calibration (with temperature fitted on a
//! validation set) over 40,000 synthetic predictions of 10 classes, 1,000 bootstrap resamples
//! each — the number quoted in the README. Run with `cargo bench -p suites --bench analysis`.

use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use suites::{accuracy, calibration, confusion, Predictions, RecordMeta, SuiteConfig};

const CLASSES: usize = 10;

fn synthetic(n: usize, seed: u64, split: &str) -> Predictions {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..CLASSES)).collect();
    let logits = labels
        .iter()
        .map(|&y| {
            (0..CLASSES)
                .map(|k| {
                    let noise: f64 = rng.random_range(-2.0..2.0);
                    2.5 * (noise
                        + if k == y {
                            rng.random_range(0.0..3.0)
                        } else {
                            0.0
                        })
                })
                .collect()
        })
        .collect();
    Predictions::from_parts(
        RecordMeta {
            model: "synthetic".into(),
            split: split.into(),
            ..Default::default()
        },
        (0..CLASSES).map(|k| format!("class{k}")).collect(),
        (0..n).map(|i| format!("{split}/{i}")).collect(),
        labels,
        logits,
    )
    .expect("synthetic predictions are well formed")
}

fn analysis(c: &mut Criterion) {
    let test = synthetic(40_000, 1, "test");
    let val = synthetic(4_000, 2, "val");
    let cfg = SuiteConfig::default();
    assert_eq!(cfg.bootstrap_resamples, 1000);
    let mut group = c.benchmark_group("suites");
    group.sample_size(10);
    group.bench_function("accuracy+confusion+calibration/40k/1000-bootstrap", |b| {
        b.iter(|| {
            let a = accuracy::run(&test, &cfg).unwrap();
            let m = confusion::run(&test, &cfg).unwrap();
            let k = calibration::run(&test, Some(&val), &cfg).unwrap();
            (a.metrics.len(), m.cells.len(), k.metrics.len())
        })
    });
    // Breakdown of the total.
    group.bench_function("accuracy/40k/1000-bootstrap", |b| {
        b.iter(|| accuracy::run(&test, &cfg).unwrap().metrics.len())
    });
    group.bench_function("calibration/40k/1000-bootstrap", |b| {
        b.iter(|| {
            calibration::run(&test, Some(&val), &cfg)
                .unwrap()
                .metrics
                .len()
        })
    });
    group.finish();
}

criterion_group!(benches, analysis);
criterion_main!(benches);

//! Batch-1 inference latency of the three backends (candle, ONNX Runtime, tract) at 1 and 2
//! threads, on `vit_micro_patch8_64` and ViT-B/16 (`vit_base_patch16_224`) with random weights.
//!
//! `cargo bench -p models --bench backends` runs it under criterion (small sample sizes). With
//! `SCENEBENCH_BENCH_TABLE=<iterations>` it instead measures every case in one process (3 warm-up
//! runs, then `<iterations>` timed runs each, monotonic clock; the three backends at one thread
//! count are loaded together and timed in interleaved blocks of 5 runs) and prints the median per case, its
//! ratio to ONNX Runtime at the same thread count, and the largest logit difference from ONNX
//! Runtime's output on the same input, as a Markdown table.
//! `SCENEBENCH_BENCH_CONFIGS=vit_micro_patch8_64` restricts the configs.
//!
//! Needs the ONNX Runtime library (`scripts/fetch-onnxruntime.sh`).

use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion};
use models::backend::{self, Backend, BackendKind, ModelSource, PrepareOptions};
use models::{Checkpoint, Preprocess, VitConfig};

const CONFIGS: [&str; 2] = ["vit_micro_patch8_64", "vit_base_patch16_224"];
const THREADS: [usize; 2] = [1, 2];
/// Timed runs per backend before switching to the next one in table mode.
const BLOCK: usize = 5;

struct Model {
    config: VitConfig,
    source: ModelSource,
    input: Vec<f32>,
    _dir: tempfile::TempDir,
}

fn configs() -> Vec<String> {
    match std::env::var("SCENEBENCH_BENCH_CONFIGS") {
        Ok(s) if !s.is_empty() => s.split(',').map(str::to_string).collect(),
        _ => CONFIGS.iter().map(|s| s.to_string()).collect(),
    }
}

fn model(name: &str) -> Model {
    let config = VitConfig::by_name(name, 10).unwrap_or_else(|| panic!("unknown config {name}"));
    let classes = (0..10).map(|i| format!("c{i}")).collect();
    let ck = Checkpoint::random(
        config.clone(),
        classes,
        Preprocess::timm_vit(config.image_size),
        0,
    )
    .expect("random checkpoint");
    let dir = tempfile::tempdir().expect("temp dir");
    let checkpoint = dir.path().join("model.safetensors");
    ck.save(&checkpoint).expect("save checkpoint");
    let onnx = dir.path().join("model.onnx");
    models::onnx::write_onnx(&ck, &onnx).expect("export onnx");
    let s = config.image_size;
    let input = (0..3 * s * s)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
        .collect();
    Model {
        config,
        source: ModelSource {
            checkpoint,
            onnx: Some(onnx),
        },
        input,
        _dir: dir,
    }
}

fn prepare(m: &Model, kind: BackendKind, threads: usize) -> Box<dyn Backend> {
    let opts = PrepareOptions {
        threads,
        batch_size: 1,
        device: "cpu".into(),
    };
    let b = backend::prepare(kind, &m.source, &opts)
        .unwrap_or_else(|e| panic!("{kind} on {}: {e}", m.config.name));
    assert_eq!(b.info().threads, threads);
    b
}

fn bench_backends(c: &mut Criterion) {
    for name in configs() {
        let m = model(&name);
        let mut group = c.benchmark_group(format!("batch1/{name}"));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(if name.contains("base") {
            6
        } else {
            2
        }));
        for kind in BackendKind::ALL {
            for threads in THREADS {
                let mut b = prepare(&m, kind, threads);
                group.bench_function(
                    BenchmarkId::new(kind.as_str(), format!("{threads}t")),
                    |bench| bench.iter(|| b.run(&m.input, 1).expect("run")),
                );
            }
        }
        group.finish();
    }
}

fn table(iterations: usize) {
    println!(
        "| config | backend | engine | threads | median ms | p10 ms | p90 ms | × ORT | max abs Δlogit vs ORT |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for name in configs() {
        let m = model(&name);
        let mut rows = Vec::new();
        let mut reference: Option<Vec<f32>> = None;
        for threads in THREADS {
            // The three backends at this thread count, timed in interleaved blocks of BLOCK runs
            // so that a change in machine load hits all of them alike.
            let mut cases = Vec::new();
            for kind in [BackendKind::Ort, BackendKind::Candle, BackendKind::Tract] {
                let mut b = prepare(&m, kind, threads);
                let logits = b.run(&m.input, 1).expect("first run");
                let reference = reference.get_or_insert_with(|| logits.clone());
                let diff = logits
                    .iter()
                    .zip(reference.iter())
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                for _ in 0..2 {
                    b.run(&m.input, 1).expect("warm-up");
                }
                cases.push((b, diff, Vec::with_capacity(iterations)));
            }
            while cases[0].2.len() < iterations {
                for (b, _, ms) in cases.iter_mut() {
                    for _ in 0..BLOCK.min(iterations - ms.len()) {
                        let t = Instant::now();
                        std::hint::black_box(b.run(&m.input, 1).expect("run"));
                        ms.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                }
            }
            for (b, diff, mut ms) in cases {
                ms.sort_by(f64::total_cmp);
                let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
                rows.push((
                    b.info().kind,
                    b.info().engine_version.clone(),
                    threads,
                    q(0.5),
                    q(0.1),
                    q(0.9),
                    diff,
                ));
            }
        }
        for &(kind, ref engine, threads, med, p10, p90, diff) in &rows {
            let ort = rows
                .iter()
                .find(|r| r.0 == BackendKind::Ort && r.2 == threads)
                .map(|r| r.3)
                .unwrap_or(f64::NAN);
            println!(
                "| {name} | {kind} | {engine} | {threads} | {med:.1} | {p10:.1} | {p90:.1} | {:.2} | {diff:.1e} |",
                med / ort
            );
        }
    }
}

criterion_group!(benches, bench_backends);

fn main() {
    if let Ok(n) = std::env::var("SCENEBENCH_BENCH_TABLE") {
        let n = n
            .parse()
            .expect("SCENEBENCH_BENCH_TABLE must be a number of iterations");
        table(n);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

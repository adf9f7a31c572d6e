//! Training: the AdamW update and cosine schedule against hand-computed values, learning on a
//! toy problem, and resume equivalence (a run stopped after epoch 1 and resumed reaches the same
//! weights, bit for bit, as an uninterrupted run).

use std::collections::BTreeMap;

use candle_core::{Device, Tensor, Var};
use models::checkpoint::{default_classes, Checkpoint};
use models::config::VitConfig;
use models::preprocess::Preprocess;
use models::train::{train, AdamW, BatchSource, Progress, TrainBatch, TrainConfig};
use rand::{Rng, SeedableRng};

#[test]
fn adamw_step_matches_hand_computation() {
    // One parameter p = 1, loss = 0.5 * p  =>  g = 0.5.
    // m = 0.1*0.5 = 0.05, v = 0.001*0.25 = 0.00025; bias-corrected m̂ = 0.5, v̂ = 0.25;
    // p ← p(1 - lr·wd) - lr·m̂/(√v̂ + eps) = 1·(1 - 0.1·0.01) - 0.1·0.5/0.5 = 0.899.
    let p = Var::from_tensor(&Tensor::new(&[[1f32]], &Device::Cpu).unwrap()).unwrap();
    let mut vars = BTreeMap::new();
    vars.insert("w".to_string(), p.clone());
    let cfg = TrainConfig {
        weight_decay: 0.01,
        ..TrainConfig::default()
    };
    let mut opt = AdamW::new(&vars, &cfg).unwrap();
    let loss = (p.as_tensor().sum_all().unwrap() * 0.5).unwrap();
    let norm = opt.apply(&loss.backward().unwrap(), 0.1, None).unwrap();
    assert!((norm - 0.5).abs() < 1e-9);
    let v: f32 = p
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()[0];
    assert!((v - 0.899).abs() < 1e-6, "{v}");

    // Rank-1 parameters (biases, norms) get no weight decay: 1 - 0.1 = 0.9.
    let b = Var::from_tensor(&Tensor::new(&[1f32], &Device::Cpu).unwrap()).unwrap();
    let mut vars = BTreeMap::new();
    vars.insert("head.bias".to_string(), b.clone());
    let mut opt = AdamW::new(&vars, &cfg).unwrap();
    let loss = (b.as_tensor().sum_all().unwrap() * 0.5).unwrap();
    opt.apply(&loss.backward().unwrap(), 0.1, None).unwrap();
    let v: f32 = b.as_tensor().to_vec1::<f32>().unwrap()[0];
    assert!((v - 0.9).abs() < 1e-6, "{v}");
}

#[test]
fn cosine_schedule_with_warmup() {
    let cfg = TrainConfig {
        epochs: 10,
        lr: 1e-3,
        warmup_epochs: 1.0,
        ..TrainConfig::default()
    };
    // 4 steps per epoch: warm-up over steps 0..4 (lr·(s+1)/4), then cosine over 36 steps.
    assert!((cfg.lr_at(0, 4) - 2.5e-4).abs() < 1e-12);
    assert!((cfg.lr_at(3, 4) - 1e-3).abs() < 1e-12);
    assert!((cfg.lr_at(4, 4) - 1e-3).abs() < 1e-12);
    assert!((cfg.lr_at(22, 4) - 5e-4).abs() < 1e-12); // halfway through the cosine
    assert!(cfg.lr_at(40, 4).abs() < 1e-12);
}

/// A deterministic toy task: class k is an image of brightness level k (plus noise).
struct Toy {
    n: usize,
    batch: usize,
    seed: u64,
}

impl Toy {
    fn make(&self, epoch: usize, val: bool) -> Vec<TrainBatch> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
            self.seed * 1000 + epoch as u64 + if val { 999 } else { 0 },
        );
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.n {
            let b = self.batch.min(self.n - i);
            let mut images = vec![0f32; b * 3 * 32 * 32];
            let mut labels = Vec::new();
            for j in 0..b {
                let k: u32 = rng.random_range(0..4);
                labels.push(k);
                let level = -1.0 + 2.0 * k as f32 / 3.0;
                for v in &mut images[j * 3072..(j + 1) * 3072] {
                    *v = level + 0.5 * (rng.random::<f32>() - 0.5);
                }
            }
            out.push(TrainBatch { images, labels });
            i += b;
        }
        out
    }
}

impl BatchSource for Toy {
    fn train_epoch(
        &self,
        epoch: usize,
    ) -> Box<dyn Iterator<Item = Result<TrainBatch, String>> + '_> {
        Box::new(self.make(epoch, false).into_iter().map(Ok))
    }
    fn val(&self) -> Box<dyn Iterator<Item = Result<TrainBatch, String>> + '_> {
        Box::new(self.make(0, true).into_iter().map(Ok))
    }
    fn train_batches(&self) -> usize {
        self.n.div_ceil(self.batch)
    }
    fn train_images(&self) -> usize {
        self.n
    }
}

struct StopAfter(usize, usize);

impl Progress for StopAfter {
    fn should_stop(&mut self) -> bool {
        self.1 += 1;
        self.1 >= self.0
    }
}

fn init() -> Checkpoint {
    let cfg = VitConfig {
        num_classes: 4,
        ..VitConfig::vit_test_patch8_32(4)
    };
    Checkpoint::random(cfg, default_classes(4), Preprocess::timm_vit(32), 3).unwrap()
}

#[test]
fn learns_the_toy_task_and_resume_is_exact() {
    let data = Toy {
        n: 256,
        batch: 16,
        seed: 1,
    };
    let cfg = TrainConfig {
        epochs: 12,
        batch_size: 16,
        lr: 1e-3,
        grad_clip: Some(1.0),
        label_smoothing: 0.1,
        seed: 5,
        ..TrainConfig::default()
    };
    let dir_a = tempfile::tempdir().unwrap();
    let a = train(
        &init(),
        &data,
        &cfg,
        dir_a.path(),
        &Device::Cpu,
        false,
        &mut (),
    )
    .unwrap();
    assert_eq!(a.log.len(), 12);
    assert!(
        a.log[2].train_loss < a.log[0].train_loss,
        "loss did not fall: {:?}",
        a.log
    );
    for l in &a.log {
        eprintln!(
            "epoch {} loss {:.3} acc {:.3} val {:.3} {:.3}",
            l.epoch, l.train_loss, l.train_acc, l.val_loss, l.val_acc
        );
    }
    assert!(
        a.best_val_acc > 0.9,
        "val acc {} on a 4-class toy task",
        a.best_val_acc
    );
    assert!(dir_a.path().join("train_log.csv").is_file());

    // Interrupted after epoch 1, then resumed.
    let dir_b = tempfile::tempdir().unwrap();
    let part = train(
        &init(),
        &data,
        &cfg,
        dir_b.path(),
        &Device::Cpu,
        false,
        &mut StopAfter(1, 0),
    )
    .unwrap();
    assert_eq!(part.log.len(), 1);
    let b = train(
        &init(),
        &data,
        &cfg,
        dir_b.path(),
        &Device::Cpu,
        true,
        &mut (),
    )
    .unwrap();
    assert_eq!(b.log.len(), 12);
    assert_eq!(a.best_epoch, b.best_epoch);
    let wa = Checkpoint::load(&a.last_path).unwrap();
    let wb = Checkpoint::load(&b.last_path).unwrap();
    for name in wa.tensors.keys() {
        assert_eq!(
            wa.tensor_f32(name).unwrap(),
            wb.tensor_f32(name).unwrap(),
            "tensor {name} differs after resume"
        );
    }
    // Resume with other hyper-parameters is refused with a reason.
    let other = TrainConfig {
        seed: 6,
        ..cfg.clone()
    };
    let err = train(
        &init(),
        &data,
        &other,
        dir_b.path(),
        &Device::Cpu,
        true,
        &mut (),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("seed"), "{err}");
}

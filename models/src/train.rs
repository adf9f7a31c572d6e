//! Training: AdamW with decoupled weight decay (Loshchilov & Hutter, ICLR 2019), cosine annealing
//! with optional linear warm-up (Loshchilov & Hutter, ICLR 2017, without restarts), label
//! smoothing (Szegedy et al., CVPR 2016) and global-norm gradient clipping, over scenebench's ViT.
//!
//! The optimizer is written out here (not candle-nn's `AdamW`) because its moments must be saved
//! with every epoch checkpoint: a killed run resumed with `resume` reaches the same weights as an
//! uninterrupted one (on CPU, same seed). As in timm, weight decay is not applied to biases,
//! LayerNorm parameters, the CLS token and the position embeddings.
//!
//! Model selection uses the validation split only; the test split never enters this module.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{write_atomic, Checkpoint, CheckpointError};
use crate::vit::VisionTransformer;

/// Errors from training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("data: {0}")]
    Data(String),
    #[error("resume: {0}")]
    Resume(String),
    #[error("training diverged at epoch {epoch} step {step}: loss is {loss}")]
    Diverged {
        epoch: usize,
        step: usize,
        loss: f32,
    },
}

type Res<T> = Result<T, TrainError>;

/// Which recipe produced a model (recorded in provenance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recipe {
    /// From pretrained weights, new head.
    Finetune,
    /// Same architecture, random init.
    Scratch,
    /// Formula-driven supervised pretraining (FractalDB).
    Pretrain,
}

impl Recipe {
    pub fn as_str(self) -> &'static str {
        match self {
            Recipe::Finetune => "finetune",
            Recipe::Scratch => "scratch",
            Recipe::Pretrain => "pretrain",
        }
    }
}

impl std::str::FromStr for Recipe {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "finetune" => Ok(Recipe::Finetune),
            "scratch" => Ok(Recipe::Scratch),
            "pretrain" => Ok(Recipe::Pretrain),
            other => Err(format!(
                "unknown recipe {other:?} (expected finetune, scratch or pretrain)"
            )),
        }
    }
}

/// Hyper-parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    pub recipe: Recipe,
    pub epochs: usize,
    pub batch_size: usize,
    /// Peak learning rate (AdamW), default 1e-4.
    pub lr: f64,
    /// Decoupled weight decay, default 0.01.
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Linear warm-up length in epochs (may be fractional), then cosine to `min_lr`.
    pub warmup_epochs: f64,
    pub min_lr: f64,
    /// Clip the global gradient norm to this value.
    pub grad_clip: Option<f64>,
    pub label_smoothing: f64,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            recipe: Recipe::Finetune,
            epochs: 15,
            batch_size: 32,
            lr: 1e-4,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            warmup_epochs: 0.0,
            min_lr: 0.0,
            grad_clip: None,
            label_smoothing: 0.0,
            seed: 0,
        }
    }
}

impl TrainConfig {
    /// Learning rate at a (fractional) epoch position: linear warm-up, then cosine annealing.
    pub fn lr_at(&self, step: usize, steps_per_epoch: usize) -> f64 {
        let total = (self.epochs * steps_per_epoch).max(1) as f64;
        let warm = self.warmup_epochs * steps_per_epoch as f64;
        let s = step as f64;
        if s < warm {
            return self.lr * (s + 1.0) / warm;
        }
        let progress = ((s - warm) / (total - warm).max(1.0)).clamp(0.0, 1.0);
        self.min_lr
            + 0.5 * (self.lr - self.min_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

/// A batch of preprocessed images `[B,3,S,S]` and their labels.
#[derive(Debug, Clone)]
pub struct TrainBatch {
    pub images: Vec<f32>,
    pub labels: Vec<u32>,
}

/// Where batches come from. `train_epoch(e)` must be a deterministic function of `e` (and the
/// source's seed) so that a resumed run sees the same data as an uninterrupted one.
pub trait BatchSource {
    /// Batches of one training epoch (shuffled and augmented).
    fn train_epoch(
        &self,
        epoch: usize,
    ) -> Box<dyn Iterator<Item = Result<TrainBatch, String>> + '_>;
    /// Batches of the validation set (eval transform, fixed order).
    fn val(&self) -> Box<dyn Iterator<Item = Result<TrainBatch, String>> + '_>;
    /// Number of training batches per epoch.
    fn train_batches(&self) -> usize;
    /// Number of training images per epoch.
    fn train_images(&self) -> usize;
}

/// One row of `train_log.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub lr: f64,
    pub train_loss: f64,
    pub train_acc: f64,
    pub val_loss: f64,
    pub val_acc: f64,
    pub seconds: f64,
    pub images_per_sec: f64,
}

/// Progress callbacks (the CLI shows a bar; tests pass `()`).
pub trait Progress {
    fn epoch_start(&mut self, _epoch: usize, _epochs: usize, _batches: usize) {}
    fn step(&mut self, _loss: f32) {}
    fn epoch_end(&mut self, _log: &EpochLog) {}
    /// Asked after each epoch's checkpoint is written: `true` ends training there, as if the
    /// process had been killed (`resume` continues it).
    fn should_stop(&mut self) -> bool {
        false
    }
}

impl Progress for () {}

/// Result of a training run.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub best_epoch: usize,
    pub best_val_acc: f64,
    pub log: Vec<EpochLog>,
    /// The selected (best-on-val) model.
    pub best_path: PathBuf,
    pub last_path: PathBuf,
    pub seconds: f64,
}

/// AdamW state for one parameter.
struct Slot {
    name: String,
    var: Var,
    m: Tensor,
    v: Tensor,
    decay: bool,
}

/// AdamW (PyTorch's `torch.optim.AdamW` update rule).
pub struct AdamW {
    slots: Vec<Slot>,
    step: usize,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
}

fn no_decay(name: &str, rank: usize) -> bool {
    rank <= 1 || name == "cls_token" || name == "pos_embed"
}

impl AdamW {
    /// State for `vars` (named as the checkpoint's tensors) with `cfg`'s betas, eps and decay.
    pub fn new(vars: &BTreeMap<String, Var>, cfg: &TrainConfig) -> Res<Self> {
        let slots = vars
            .iter()
            .map(|(name, var)| {
                Ok(Slot {
                    name: name.clone(),
                    m: var.zeros_like()?,
                    v: var.zeros_like()?,
                    decay: !no_decay(name, var.rank()),
                    var: var.clone(),
                })
            })
            .collect::<Res<Vec<_>>>()?;
        Ok(Self {
            slots,
            step: 0,
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            eps: cfg.eps,
            weight_decay: cfg.weight_decay,
        })
    }

    /// One update with learning rate `lr`, clipping the global gradient norm to `clip`.
    /// Returns the global gradient norm before clipping.
    pub fn apply(
        &mut self,
        grads: &candle_core::backprop::GradStore,
        lr: f64,
        clip: Option<f64>,
    ) -> Res<f64> {
        // Global gradient norm (always computed: it is logged, and clipping needs it).
        let mut sq = 0f64;
        for s in &self.slots {
            if let Some(g) = grads.get(s.var.as_tensor()) {
                sq += g
                    .sqr()?
                    .sum_all()?
                    .to_dtype(DType::F64)?
                    .to_scalar::<f64>()?;
            }
        }
        let norm = sq.sqrt();
        let scale = match clip {
            Some(c) if norm > c => c / (norm + 1e-6),
            _ => 1.0,
        };
        self.step += 1;
        let t = self.step as i32;
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2 = 1.0 - self.beta2.powi(t);
        for s in &mut self.slots {
            let Some(g) = grads.get(s.var.as_tensor()) else {
                continue;
            };
            let g = if scale != 1.0 {
                (g * scale)?
            } else {
                g.clone()
            };
            s.m = ((&s.m * self.beta1)? + (&g * (1.0 - self.beta1))?)?;
            s.v = ((&s.v * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
            let m_hat = (&s.m / bc1)?;
            let v_hat = (&s.v / bc2)?;
            let update = (m_hat / (v_hat.sqrt()? + self.eps)?)?;
            let theta = s.var.as_tensor();
            let decayed = if s.decay && self.weight_decay > 0.0 {
                (theta * (1.0 - lr * self.weight_decay))?
            } else {
                theta.clone()
            };
            s.var.set(&(decayed - (update * lr)?)?)?;
        }
        Ok(norm)
    }

    fn state_tensors(&self) -> BTreeMap<String, Tensor> {
        let mut out = BTreeMap::new();
        for s in &self.slots {
            out.insert(format!("adamw.m.{}", s.name), s.m.clone());
            out.insert(format!("adamw.v.{}", s.name), s.v.clone());
        }
        out
    }

    fn load_state(&mut self, state: &HashMap<String, Tensor>, step: usize) -> Res<()> {
        for s in &mut self.slots {
            for (which, slot) in [("m", &mut s.m), ("v", &mut s.v)] {
                let key = format!("adamw.{which}.{}", s.name);
                let t = state
                    .get(&key)
                    .ok_or_else(|| TrainError::Resume(format!("optimizer state lacks `{key}`")))?;
                if t.dims() != slot.dims() {
                    return Err(TrainError::Resume(format!(
                        "optimizer tensor `{key}` has shape {:?}, expected {:?}",
                        t.dims(),
                        slot.dims()
                    )));
                }
                *slot = t.to_device(slot.device())?;
            }
        }
        self.step = step;
        Ok(())
    }
}

/// Cross-entropy with label smoothing over `[B,C]` logits; returns (mean loss, correct count).
pub fn cross_entropy(
    logits: &Tensor,
    labels: &Tensor,
    smoothing: f64,
) -> candle_core::Result<Tensor> {
    let c = logits.dim(D::Minus1)?;
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let logp = shifted.broadcast_sub(&lse)?; // [B,C]
    let nll = logp.gather(&labels.unsqueeze(1)?, 1)?.squeeze(1)?.neg()?; // [B]
    let loss = if smoothing > 0.0 {
        let uniform = logp.mean(D::Minus1)?.neg()?;
        ((nll * (1.0 - smoothing))? + (uniform * smoothing)?)?
    } else {
        nll
    };
    let _ = c;
    loss.mean_all()
}

fn argmax_rows(logits: &Tensor) -> candle_core::Result<Vec<u32>> {
    logits.argmax(D::Minus1)?.to_vec1::<u32>()
}

/// Evaluate loss and accuracy over the validation batches (no gradients).
pub fn evaluate(
    model: &VisionTransformer,
    batches: &mut dyn Iterator<Item = Result<TrainBatch, String>>,
    device: &Device,
    image_size: usize,
) -> Res<(f64, f64, usize)> {
    let (mut loss_sum, mut correct, mut n) = (0f64, 0usize, 0usize);
    for b in batches {
        let b = b.map_err(TrainError::Data)?;
        let bs = b.labels.len();
        if bs == 0 {
            continue;
        }
        let x = Tensor::from_slice(&b.images, (bs, 3, image_size, image_size), device)?;
        let y = Tensor::from_slice(&b.labels, bs, device)?;
        let logits = model.forward(&x)?.detach();
        loss_sum += cross_entropy(&logits, &y, 0.0)?.to_scalar::<f32>()? as f64 * bs as f64;
        correct += argmax_rows(&logits)?
            .iter()
            .zip(&b.labels)
            .filter(|(p, t)| p == t)
            .count();
        n += bs;
    }
    if n == 0 {
        return Ok((f64::NAN, f64::NAN, 0));
    }
    Ok((loss_sum / n as f64, correct as f64 / n as f64, n))
}

/// Files in a training output directory.
pub struct RunFiles {
    pub dir: PathBuf,
}

impl RunFiles {
    pub fn last(&self) -> PathBuf {
        self.dir.join("last.safetensors")
    }
    pub fn best(&self) -> PathBuf {
        self.dir.join("best.safetensors")
    }
    pub fn state(&self) -> PathBuf {
        self.dir.join("train_state.safetensors")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("train_log.csv")
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ResumeMeta {
    /// Epochs completed.
    epochs_done: usize,
    step: usize,
    best_epoch: usize,
    best_val_acc: f64,
    best_val_loss: f64,
    log: Vec<EpochLog>,
    config: TrainConfig,
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::File {
        path: path.into(),
        message: e.to_string(),
    }
}

fn write_log(path: &Path, log: &[EpochLog]) -> Res<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in log {
        w.serialize(row).map_err(|e| file_err(path, e))?;
    }
    let bytes = w.into_inner().map_err(|e| file_err(path, e))?;
    write_atomic(path, &bytes)?;
    Ok(())
}

/// Train `init` on `data`, writing checkpoints into `out_dir` after every epoch.
///
/// With `resume`, continues from `out_dir/train_state.safetensors` if present.
pub fn train(
    init: &Checkpoint,
    data: &dyn BatchSource,
    cfg: &TrainConfig,
    out_dir: &Path,
    device: &Device,
    resume: bool,
    progress: &mut dyn Progress,
) -> Res<TrainOutcome> {
    let files = RunFiles {
        dir: out_dir.to_path_buf(),
    };
    std::fs::create_dir_all(out_dir).map_err(|e| file_err(out_dir, e))?;
    let image_size = init.config.image_size;

    // Parameters as Vars, named as the checkpoint's tensors.
    let varmap = VarMap::new();
    let mut vars = BTreeMap::new();
    {
        let mut data_lock = varmap.data().lock().expect("varmap lock");
        for (name, t) in &init.tensors {
            let var = Var::from_tensor(&t.to_device(device)?)?;
            data_lock.insert(name.clone(), var.clone());
            vars.insert(name.clone(), var);
        }
    }
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
    let model = VisionTransformer::new(&init.config, vb)?;
    let mut opt = AdamW::new(&vars, cfg)?;

    let mut meta = ResumeMeta {
        epochs_done: 0,
        step: 0,
        best_epoch: 0,
        best_val_acc: f64::NEG_INFINITY,
        best_val_loss: f64::INFINITY,
        log: Vec::new(),
        config: cfg.clone(),
    };
    if resume && files.state().exists() {
        let path = files.state();
        let bytes = std::fs::read(&path).map_err(|e| file_err(&path, e))?;
        let (_, header) =
            safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| file_err(&path, e))?;
        let m = header.metadata().clone().unwrap_or_default();
        let json = m.get("scenebench.train_state").ok_or_else(|| {
            TrainError::Resume(format!("{}: no train state metadata", path.display()))
        })?;
        let saved: ResumeMeta = serde_json::from_str(json).map_err(|e| file_err(&path, e))?;
        if saved.config.seed != cfg.seed
            || saved.config.batch_size != cfg.batch_size
            || saved.config.epochs != cfg.epochs
        {
            return Err(TrainError::Resume(format!(
                "{}: saved run used seed {}, batch {}, {} epochs; this run asks for seed {}, batch {}, {} epochs",
                path.display(), saved.config.seed, saved.config.batch_size, saved.config.epochs, cfg.seed, cfg.batch_size, cfg.epochs
            )));
        }
        let tensors = candle_core::safetensors::load_buffer(&bytes, device)?;
        for (name, var) in &vars {
            let t = tensors
                .get(&format!("model.{name}"))
                .ok_or_else(|| TrainError::Resume(format!("state lacks model tensor `{name}`")))?;
            var.set(t)?;
        }
        opt.load_state(&tensors, saved.step)?;
        meta = saved;
    }

    let steps_per_epoch = data.train_batches().max(1);
    let started = Instant::now();
    for epoch in meta.epochs_done..cfg.epochs {
        let t0 = Instant::now();
        progress.epoch_start(epoch, cfg.epochs, steps_per_epoch);
        let (mut loss_sum, mut correct, mut seen) = (0f64, 0usize, 0usize);
        let mut lr = cfg.lr;
        for batch in data.train_epoch(epoch) {
            let b = batch.map_err(TrainError::Data)?;
            let bs = b.labels.len();
            if bs == 0 {
                continue;
            }
            lr = cfg.lr_at(meta.step, steps_per_epoch);
            let x = Tensor::from_slice(&b.images, (bs, 3, image_size, image_size), device)?;
            let y = Tensor::from_slice(&b.labels, bs, device)?;
            let logits = model.forward(&x)?;
            let loss = cross_entropy(&logits, &y, cfg.label_smoothing)?;
            let loss_v = loss.to_scalar::<f32>()?;
            if !loss_v.is_finite() {
                return Err(TrainError::Diverged {
                    epoch,
                    step: meta.step,
                    loss: loss_v,
                });
            }
            let grads = loss.backward()?;
            opt.apply(&grads, lr, cfg.grad_clip)?;
            meta.step += 1;
            loss_sum += loss_v as f64 * bs as f64;
            correct += argmax_rows(&logits.detach())?
                .iter()
                .zip(&b.labels)
                .filter(|(p, t)| p == t)
                .count();
            seen += bs;
            progress.step(loss_v);
        }
        let train_secs = t0.elapsed().as_secs_f64();
        let (val_loss, val_acc, _) = evaluate(&model, &mut data.val(), device, image_size)?;
        let row = EpochLog {
            epoch: epoch + 1,
            lr,
            train_loss: loss_sum / seen.max(1) as f64,
            train_acc: correct as f64 / seen.max(1) as f64,
            val_loss,
            val_acc,
            seconds: t0.elapsed().as_secs_f64(),
            images_per_sec: seen as f64 / train_secs.max(1e-9),
        };
        progress.epoch_end(&row);
        meta.log.push(row);
        meta.epochs_done = epoch + 1;

        // Snapshot the weights.
        let mut ck = init.clone();
        for (name, var) in &vars {
            ck.tensors.insert(
                name.clone(),
                var.as_tensor().to_device(&Device::Cpu)?.detach(),
            );
        }
        ck.layout = crate::checkpoint::Layout::Scenebench;
        ck.provenance = serde_json::json!({
            "recipe": cfg.recipe.as_str(),
            "parent": init.provenance,
            "epoch": epoch + 1,
            "train_config": cfg,
        });
        // Best on val (ties: lower val loss). NaN val (no val set) keeps the last epoch.
        let better = val_acc > meta.best_val_acc
            || (val_acc == meta.best_val_acc && val_loss < meta.best_val_loss)
            || (val_acc.is_nan() && meta.best_val_acc == f64::NEG_INFINITY);
        if better || val_acc.is_nan() {
            meta.best_epoch = epoch + 1;
            meta.best_val_acc = val_acc;
            meta.best_val_loss = val_loss;
            ck.save(&files.best())?;
        }
        ck.save(&files.last())?;
        write_log(&files.log(), &meta.log)?;
        // Resume state last: if the process dies before this, the epoch is redone.
        let mut state: Vec<(String, Tensor)> = Vec::new();
        for (name, var) in &vars {
            state.push((
                format!("model.{name}"),
                var.as_tensor().to_device(&Device::Cpu)?,
            ));
        }
        for (k, t) in opt.state_tensors() {
            state.push((k, t.to_device(&Device::Cpu)?));
        }
        let mut meta_map = HashMap::new();
        meta_map.insert(
            "scenebench.train_state".to_string(),
            serde_json::to_string(&meta).expect("serializes"),
        );
        let tmp = files.state().with_extension("tmp");
        candle_core::safetensors::save(&state.into_iter().collect::<HashMap<_, _>>(), &tmp)?;
        // candle's save has no metadata: rewrite with it.
        let bytes = std::fs::read(&tmp).map_err(|e| file_err(&tmp, e))?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| file_err(&tmp, e))?;
        let with_meta = safetensors::tensor::serialize(st.tensors(), Some(meta_map))
            .map_err(|e| file_err(&tmp, e))?;
        write_atomic(&files.state(), &with_meta)?;
        let _ = std::fs::remove_file(&tmp);
        if progress.should_stop() {
            break;
        }
    }
    Ok(TrainOutcome {
        best_epoch: meta.best_epoch,
        best_val_acc: meta.best_val_acc,
        log: meta.log,
        best_path: files.best(),
        last_path: files.last(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

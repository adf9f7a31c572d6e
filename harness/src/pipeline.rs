//! The end-to-end pipeline behind `scenebench run`, and the building blocks the other
//! subcommands share: opening data, training, predicting a split on a backend, measuring latency,
//! analysing and reporting.
//!
//! Measurement, analysis and reporting stay apart: this module produces records
//! (`results::records`), the `suites` crate turns them into metrics, and `results` writes CSVs,
//! tables and plots from them.

use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::Device;
use models::augment::TrainAugment;
use models::backend::{self, Backend, BackendKind, ModelSource, PrepareOptions};
use models::checkpoint::Checkpoint;
use models::config::VitConfig;
use models::data::{
    self, DataSource, Dataset, Loader, LoaderConfig, SplitConfig, Splits, Transform,
};
use models::preprocess::Preprocess;
use models::train::{
    BatchSource, EpochLog, Progress, Recipe, TrainBatch, TrainConfig, TrainOutcome,
};
use results::records::{LatencySample, MetricRecord, PredictionContext, PredictionRecord};
use suites::latency::{LatencyMeta, RunPlan};

/// Opened, split data plus how to describe it.
pub struct DataBundle {
    pub spec: String,
    pub source: DataSource,
    pub description: String,
    pub synthetic: bool,
    pub splits: Splits,
}

/// Open a `--data` spec and split it (val carved from train, stratified and seeded).
pub fn open_data(spec: &str, split: &SplitConfig) -> Result<DataBundle> {
    let source = DataSource::parse(spec).with_context(|| format!("--data {spec}"))?;
    let raw = source
        .open()
        .with_context(|| format!("opening --data {spec}"))?;
    let splits = data::make_splits(raw, split);
    if splits.train.is_empty() {
        bail!("--data {spec}: the training split is empty");
    }
    Ok(DataBundle {
        spec: spec.to_string(),
        synthetic: matches!(source, DataSource::Synthetic(_) | DataSource::Fractal(_)),
        description: source.describe(),
        source,
        splits,
    })
}

/// The split policy every command shares: val carved from train (`val_fraction`, stratified,
/// seeded); where a source has no test split, 25% held out as test.
pub fn split_config(val_fraction: f64, seed: u64) -> SplitConfig {
    SplitConfig {
        val_fraction,
        test_fraction: 0.25,
        seed,
    }
}

/// Exact duplicates across train, val and test (content sha256).
pub fn leaks(splits: &Splits) -> data::DuplicateReport {
    data::find_duplicates(&[
        ("train", &splits.train),
        ("val", &splits.val),
        ("test", &splits.test),
    ])
}

/// A [`BatchSource`] over two loaders (augmented train, eval-transformed val).
pub struct LoaderBatches {
    pub train: Loader,
    pub val: Option<Loader>,
}

impl LoaderBatches {
    pub fn new(
        train: &Dataset,
        val: &Dataset,
        pre: &Preprocess,
        batch_size: usize,
        seed: u64,
        workers: usize,
    ) -> Result<Self> {
        let aug = TrainAugment::imagenet(pre);
        let train = Loader::new(
            Arc::new(train.clone()),
            Transform::Train(aug),
            LoaderConfig {
                batch_size,
                shuffle: true,
                drop_last: false,
                seed,
                workers,
                ..Default::default()
            },
        )?;
        let val = if val.is_empty() {
            None
        } else {
            Some(Loader::new(
                Arc::new(val.clone()),
                Transform::Eval(pre.clone()),
                LoaderConfig {
                    batch_size,
                    shuffle: false,
                    drop_last: false,
                    seed,
                    workers,
                    ..Default::default()
                },
            )?)
        };
        Ok(Self { train, val })
    }
}

fn to_train_batch(b: data::Batch) -> Result<TrainBatch, String> {
    Ok(TrainBatch {
        images: b.images,
        labels: b.labels,
    })
}

impl BatchSource for LoaderBatches {
    fn train_epoch(
        &self,
        epoch: usize,
    ) -> Box<dyn Iterator<Item = Result<TrainBatch, String>> + '_> {
        Box::new(self.train.epoch(epoch as u64).map(to_train_batch))
    }
    fn val(&self) -> Box<dyn Iterator<Item = Result<TrainBatch, String>> + '_> {
        match &self.val {
            Some(v) => Box::new(v.epoch(0).map(to_train_batch)),
            None => Box::new(std::iter::empty()),
        }
    }
    fn train_batches(&self) -> usize {
        self.train.num_batches()
    }
    fn train_images(&self) -> usize {
        self.train.dataset().len()
    }
}

/// Progress on a terminal (indicatif), or plain lines when not a terminal.
pub struct BarProgress {
    label: String,
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
}

impl BarProgress {
    pub fn new(label: &str, quiet: bool) -> Self {
        Self {
            label: label.to_string(),
            bar: None,
            quiet,
        }
    }
}

impl Progress for BarProgress {
    fn epoch_start(&mut self, epoch: usize, epochs: usize, batches: usize) {
        if self.quiet {
            return;
        }
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            let bar = indicatif::ProgressBar::new(batches as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("{} epoch {}/{}", self.label, epoch + 1, epochs));
            self.bar = Some(bar);
        }
    }
    fn step(&mut self, loss: f32) {
        if let Some(b) = &self.bar {
            b.set_message(format!("loss {loss:.3}"));
            b.inc(1);
        }
    }
    fn epoch_end(&mut self, log: &EpochLog) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        if !self.quiet {
            eprintln!(
                "  {} epoch {:>2}: lr {:.2e}  train loss {:.3} acc {:.1}%  val loss {:.3} acc {:.1}%  {:.1}s  {:.0} img/s",
                self.label,
                log.epoch,
                log.lr,
                log.train_loss,
                100.0 * log.train_acc,
                log.val_loss,
                100.0 * log.val_acc,
                log.seconds,
                log.images_per_sec
            );
        }
    }
}

/// Train one model and return the outcome.
#[allow(clippy::too_many_arguments)]
pub fn train_model(
    label: &str,
    init: &Checkpoint,
    splits: &Splits,
    cfg: &TrainConfig,
    out_dir: &Path,
    resume: bool,
    workers: usize,
    quiet: bool,
) -> Result<TrainOutcome> {
    let batches = LoaderBatches::new(
        &splits.train,
        &splits.val,
        &init.preprocess,
        cfg.batch_size,
        cfg.seed,
        workers,
    )?;
    let mut progress = BarProgress::new(label, quiet);
    let outcome = models::train::train(
        init,
        &batches,
        cfg,
        out_dir,
        &Device::Cpu,
        resume,
        &mut progress,
    )
    .with_context(|| format!("training {label} into {}", out_dir.display()))?;
    let skipped = batches.train.skipped();
    if !skipped.is_empty() {
        eprintln!(
            "  {label}: {} training images skipped (unreadable): {:?}",
            skipped.count(),
            skipped.ids()
        );
    }
    Ok(outcome)
}

/// Run `backend` over every image of `dataset` and return one prediction record per image.
pub fn predict_dataset(
    backend: &mut dyn Backend,
    dataset: &Dataset,
    pre: &Preprocess,
    classes: &[String],
    ctx: &PredictionContext,
    batch_size: usize,
) -> Result<(Vec<PredictionRecord>, data::SkipReport)> {
    let loader = Loader::new(
        Arc::new(dataset.clone()),
        Transform::Eval(pre.clone()),
        LoaderConfig {
            batch_size,
            shuffle: false,
            drop_last: false,
            workers: 1,
            ..Default::default()
        },
    )?;
    let c = backend.num_classes();
    let mut out = Vec::with_capacity(dataset.len());
    for b in loader.epoch(0) {
        let n = b.labels.len();
        if n == 0 {
            continue;
        }
        let logits = backend.run(&b.images, n)?;
        for i in 0..n {
            let truth = &dataset.classes[b.labels[i] as usize];
            out.push(PredictionRecord::from_logits(
                ctx,
                &b.ids[i],
                truth,
                &logits[i * c..(i + 1) * c],
                classes,
            )?);
        }
    }
    Ok((out, loader.skipped()))
}

/// Latency of one backend at one (threads, batch) point, model-only mode.
pub fn measure_latency(
    kind: BackendKind,
    source: &ModelSource,
    opts: &PrepareOptions,
    plan: &RunPlan,
    run_id: &str,
    model: &str,
) -> Result<Vec<LatencySample>> {
    let mut meta = LatencyMeta {
        run_id: run_id.into(),
        model: model.into(),
        backend: kind.as_str().into(),
        engine_version: String::new(),
        device: opts.device.clone(),
        compute_unit: String::new(),
        precision: "fp32".into(),
        threads: opts.threads as u32,
        batch_size: opts.batch_size as u32,
        mode: "model".into(),
    };
    let t0 = Instant::now();
    let mut b = backend::prepare(kind, source, opts)
        .with_context(|| format!("loading {model} on {kind}"))?;
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;
    let info = b.info().clone();
    meta.engine_version = info.engine_version.clone();
    meta.threads = info.threads as u32;
    meta.device = info.device.clone();
    let s = b.image_size();
    let input: Vec<f32> = (0..opts.batch_size * 3 * s * s)
        .map(|i| ((i % 255) as f32 / 127.5) - 1.0)
        .collect();
    let mut samples = vec![meta.sample("load", 0, load_ms)];
    samples.extend(suites::latency::measure(
        || b.run(&input, opts.batch_size).map(|_| ()),
        plan,
        &meta,
    )?);
    Ok(samples)
}

/// End-to-end latency (encoded JPEG bytes → decode → preprocess → logits) on one backend.
pub fn measure_e2e_latency(
    backend: &mut dyn Backend,
    jpeg: &[u8],
    pre: &Preprocess,
    plan: &RunPlan,
    meta: &LatencyMeta,
) -> Result<Vec<LatencySample>> {
    let samples = suites::latency::measure(
        || -> Result<()> {
            let img = data::decode_bytes(jpeg, "e2e.jpg")?;
            let x = pre.apply(&img);
            backend.run(&x, 1)?;
            Ok(())
        },
        plan,
        meta,
    )?;
    Ok(samples)
}

/// Metrics of one group of predictions (test), with val for temperature scaling.
pub fn analyze(
    test: &[PredictionRecord],
    val: Option<&[PredictionRecord]>,
    classes: &[String],
    cfg: &suites::SuiteConfig,
) -> Result<(suites::PredictionAnalysis, Vec<MetricRecord>)> {
    let t = suites::Predictions::from_records(test.iter(), classes)?;
    let v = match val {
        Some(v) if !v.is_empty() => Some(suites::Predictions::from_records(v.iter(), classes)?),
        _ => None,
    };
    let analysis = suites::analyze_predictions(&t, v.as_ref(), cfg)?;
    let metrics = analysis.metrics();
    Ok((analysis, metrics))
}

/// The run profiles of `scenebench run`.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: &'static str,
    /// Model configuration for both arms.
    pub config: VitConfig,
    /// Default data when `--data` is not given.
    pub default_data: String,
    /// Fractal pretraining data spec and epochs (None: needs `--weights`).
    pub pretrain: Option<(String, TrainConfig)>,
    pub finetune: TrainConfig,
    pub scratch: TrainConfig,
    pub latency: RunPlan,
    pub threads: Vec<usize>,
    pub batch_sizes: Vec<usize>,
    pub bootstrap: usize,
    /// Test images for the CoreML reference check (0: skipped).
    pub coreml_images: usize,
}

fn tc(recipe: Recipe, epochs: usize, batch: usize, lr: f64, wd: f64, warmup: f64) -> TrainConfig {
    TrainConfig {
        recipe,
        epochs,
        batch_size: batch,
        lr,
        weight_decay: wd,
        warmup_epochs: warmup,
        grad_clip: Some(1.0),
        ..TrainConfig::default()
    }
}

impl Profile {
    /// `smoke`, `default` or `paper`.
    pub fn by_name(name: &str) -> Result<Profile> {
        Ok(match name {
            "smoke" => Profile {
                name: "smoke",
                config: VitConfig::vit_test_patch8_32(10),
                default_data: "synthetic:size=32,train=16,test=8,seed=0".into(),
                pretrain: Some((
                    "fractal:classes=8,instances=16,size=32,seed=0".into(),
                    tc(Recipe::Pretrain, 1, 32, 1e-3, 0.05, 0.0),
                )),
                finetune: tc(Recipe::Finetune, 1, 32, 1e-4, 0.01, 0.0),
                scratch: tc(Recipe::Scratch, 1, 32, 1e-4, 0.01, 0.0),
                latency: RunPlan {
                    warmup: 1,
                    min_iterations: 3,
                    min_duration: std::time::Duration::ZERO,
                    stop: suites::latency::StopRule::WhicheverLater,
                    max_iterations: Some(3),
                },
                threads: vec![1],
                batch_sizes: vec![1],
                bootstrap: 200,
                coreml_images: 0,
            },
            "default" => Profile {
                name: "default",
                config: VitConfig::vit_micro_patch8_64(10),
                default_data: "synthetic:size=64,train=50,test=25,seed=0".into(),
                pretrain: Some((
                    "fractal:classes=20,instances=40,size=64,seed=0".into(),
                    tc(Recipe::Pretrain, 3, 32, 1e-3, 0.05, 0.5),
                )),
                // The brief's recipe (AdamW, wd 0.01, cosine) in miniature: candle trains this
                // config at ~10-20 images/s on 2 cores, so the whole run gets ~4,000 image-steps
                // to stay within 10 minutes. With ~80 steps per arm, lr 1e-4 would leave both arms
                // at chance; 5e-4 with half an epoch of warm-up is used instead (the `paper`
                // profile keeps 1e-4).
                finetune: tc(Recipe::Finetune, 3, 16, 5e-4, 0.01, 0.5),
                scratch: tc(Recipe::Scratch, 3, 16, 5e-4, 0.01, 0.5),
                latency: RunPlan::quick(),
                threads: vec![1, 2],
                batch_sizes: vec![1],
                bootstrap: 1000,
                coreml_images: 8,
            },
            "paper" => Profile {
                name: "paper",
                config: VitConfig::vit_base_patch16_224(10),
                default_data: String::new(),
                pretrain: None,
                finetune: tc(Recipe::Finetune, 15, 32, 1e-4, 0.01, 0.0),
                scratch: tc(Recipe::Scratch, 15, 32, 1e-4, 0.01, 0.0),
                latency: RunPlan::normal(),
                threads: vec![1, 2],
                batch_sizes: vec![1, 8],
                bootstrap: 1000,
                coreml_images: 4,
            },
            other => bail!("unknown profile {other:?} (expected smoke, default or paper)"),
        })
    }
}

/// Repository root ([`models::repo_root`]), else the current directory.
pub fn repo_root() -> PathBuf {
    models::repo_root()
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The exported CoreML program on `n` test images, evaluated op by op with coremltools' numpy
/// evaluator (backend `coreml-mil-numpy-<precision>`: a reference evaluation of the exported
/// program, not the CoreML runtime), next to candle's predictions of the same images.
/// Returns `Ok(None)` with the reason when the Python environment is missing.
#[allow(clippy::too_many_arguments)]
pub fn coreml_reference(
    checkpoint: &Path,
    ck: &Checkpoint,
    dataset: &Dataset,
    n: usize,
    out_dir: &Path,
    ctx: &PredictionContext,
) -> Result<std::result::Result<Vec<PredictionRecord>, String>> {
    use models::coreml::{CoreMlError, CoreMlTool, ExportOptions, InputKind, Precision, Quantize};
    let tool = match CoreMlTool::locate() {
        Ok(t) => t,
        Err(
            e @ (CoreMlError::PythonMissing { .. }
            | CoreMlError::EnvBroken { .. }
            | CoreMlError::RepoNotFound { .. }),
        ) => return Ok(Err(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    let n = n.min(dataset.len());
    let s = ck.config.image_size;
    let mut input = Vec::with_capacity(n * 3 * s * s);
    let mut ids = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let img = dataset.load(i)?;
        input.extend(ck.preprocess.apply(&img));
        ids.push(dataset.items[i].id.clone());
        labels.push(dataset.classes[dataset.items[i].label as usize].clone());
    }
    let mut out = Vec::new();
    for precision in [Precision::Fp32, Precision::Fp16] {
        let tag = match precision {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
        };
        let pkg = out_dir.join(format!("{}-{tag}.mlpackage", ctx.model));
        let opts = ExportOptions {
            precision,
            quantize: Quantize::None,
            input: InputKind::Tensor,
            config: None,
            num_heads: None,
        };
        tool.export(checkpoint, &pkg, &opts)?;
        let logits = tool.reference_eval(&pkg, &input, n, s)?;
        let c = ck.classes.len();
        let ctx = PredictionContext {
            backend: format!("{}-{tag}", models::coreml::BACKEND),
            device: "cpu (numpy)".into(),
            ..ctx.clone()
        };
        for i in 0..n {
            out.push(PredictionRecord::from_logits(
                &ctx,
                &ids[i],
                &labels[i],
                &logits[i * c..(i + 1) * c],
                &ck.classes,
            )?);
        }
    }
    Ok(Ok(out))
}

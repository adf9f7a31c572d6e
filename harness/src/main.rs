//! `scenebench`: train, evaluate, benchmark, export and report Vision Transformer scene
//! classifiers for iPhone. See README.md; `scenebench <command> --help` for each command.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use harness::pipeline::{self, open_data, predict_dataset, train_model};
use harness::run::RunOptions;
use models::backend::{self, BackendKind, ModelSource, PrepareOptions};
use models::checkpoint::{default_classes, file_sha256, Checkpoint, LoadOptions};
use models::config::VitConfig;
use models::preprocess::Preprocess;
use models::train::{Recipe, TrainConfig};
use results::records::PredictionContext;

#[derive(Parser)]
#[command(
    name = "scenebench",
    version,
    about = "Benchmark and evaluation harness for ViT scene classifiers on iPhone"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole pipeline: (pretrain) → train finetune + scratch → all suites → latency → reports.
    /// With no arguments: the embedded offline default (synthetic scenes, small ViT).
    Run(RunArgs),
    /// Train one model (recipes: finetune, scratch, pretrain).
    Train(TrainArgs),
    /// Evaluate a model on a split with every prediction suite.
    Eval(EvalArgs),
    /// Latency of a model on candle, ONNX Runtime and tract.
    Bench(BenchArgs),
    /// Classify images and print the top-k labels.
    Predict(PredictArgs),
    /// Export a model to ONNX or CoreML.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Grad-CAM heatmaps of images (overlay PNG + raw grid CSV per image).
    Gradcam(GradcamArgs),
    /// Render reports from run directories (CSV files only; no model needed).
    Report(ReportArgs),
    /// Receive uploads from the iOS app (POST /api/v1/uploads).
    Serve(ServeArgs),
    /// Inspect a data source: counts, unreadable files, cross-split duplicates.
    Data(DataArgs),
}

/// How to read a model file that may lack scenebench metadata.
#[derive(Args, Clone)]
struct ModelArgs {
    /// Model checkpoint (scenebench, timm or Hugging Face safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Configuration name for files without metadata (e.g. vit_base_patch16_224).
    #[arg(long)]
    config: Option<String>,
    /// Use ImageNet mean/std instead of the family default (0.5) for files without metadata.
    #[arg(long)]
    imagenet_norm: bool,
}

impl ModelArgs {
    fn load(&self) -> Result<Checkpoint> {
        let mut lo = LoadOptions::default();
        if let Some(name) = &self.config {
            // num_classes is taken from the file's head.
            lo.config = Some(VitConfig::by_name(name, 1).with_context(|| {
                format!(
                    "--config {name}: unknown (known: {})",
                    VitConfig::NAMES.join(", ")
                )
            })?);
        }
        let mut ck = Checkpoint::load_with(&self.model, &lo)
            .with_context(|| format!("--model {}", self.model.display()))?;
        if self.imagenet_norm {
            ck.preprocess = Preprocess {
                interpolation: ck.preprocess.interpolation,
                ..Preprocess::imagenet(ck.config.image_size)
            };
        }
        Ok(ck)
    }
}

#[derive(Args)]
struct RunArgs {
    /// smoke (< 1 min, used by tests), default (≤ 10 min on 2 cores), paper (ViT-B/16 at 224, 15 epochs).
    #[arg(long, default_value = "default")]
    profile: String,
    /// Data source (synthetic, folder:DIR, sun397:DIR, hf:DIR, or a directory). Default: the profile's.
    #[arg(long)]
    data: Option<String>,
    /// Pretrained weights for the finetune arm (timm/HF/scenebench safetensors). Default: the
    /// project's own fractal pretraining.
    #[arg(long)]
    weights: Option<PathBuf>,
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// Run name (directory under --out). Default: <profile>-<UTC timestamp>.
    #[arg(long)]
    name: Option<String>,
    #[arg(long, value_delimiter = ',', default_value = "candle,ort,tract")]
    backends: Vec<BackendKind>,
    #[arg(long, value_delimiter = ',')]
    threads: Option<Vec<usize>>,
    /// Override the profile's epochs for both arms.
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Continue interrupted training runs in this run directory.
    #[arg(long)]
    resume: bool,
    #[arg(long)]
    quiet: bool,
    /// Confusion pair to track, `a:b` (repeatable). Default: living room:bedroom, office:restaurant.
    #[arg(long = "pair")]
    pairs: Vec<String>,
    /// Low-confidence threshold(s) τ (repeatable). Default 0.40, the app's.
    #[arg(long = "threshold")]
    thresholds: Vec<f64>,
    /// Pretraining data for the finetune arm when no --weights are given (default: the profile's fractal set).
    #[arg(long)]
    pretrain_data: Option<String>,
    /// Pretraining epochs (default: the profile's).
    #[arg(long)]
    pretrain_epochs: Option<usize>,
}

#[derive(Args)]
struct TrainArgs {
    #[arg(long)]
    recipe: Recipe,
    #[arg(long)]
    data: String,
    #[arg(long)]
    out: PathBuf,
    /// Model configuration (scratch/pretrain; finetune takes the weights' config).
    #[arg(long, default_value = "vit_micro_patch8_64")]
    config: String,
    /// Pretrained weights (finetune).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Input size (position embeddings of --weights are resampled to it).
    #[arg(long)]
    image_size: Option<usize>,
    #[arg(long, default_value_t = 15)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f64,
    #[arg(long, default_value_t = 0.0)]
    warmup_epochs: f64,
    #[arg(long)]
    grad_clip: Option<f64>,
    #[arg(long, default_value_t = 0.0)]
    label_smoothing: f64,
    #[arg(long, default_value_t = 0.1)]
    val_fraction: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    resume: bool,
    /// Use ImageNet mean/std (default: 0.5/0.5 as timm ViT-B/16).
    #[arg(long)]
    imagenet_norm: bool,
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

#[derive(Args)]
struct EvalArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long)]
    data: String,
    #[arg(long, default_value = "test")]
    split: String,
    #[arg(long, default_value = "candle")]
    backend: BackendKind,
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Args)]
struct BenchArgs {
    /// Model checkpoint; without it a randomly initialised --config is benchmarked.
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, default_value = "vit_micro_patch8_64")]
    config: String,
    #[arg(long, value_delimiter = ',', default_value = "candle,ort,tract")]
    backends: Vec<BackendKind>,
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
    #[arg(long, value_delimiter = ',', default_value = "1")]
    batch: Vec<usize>,
    /// quick or normal (MLPerf-Mobile-like presets).
    #[arg(long, default_value = "quick")]
    preset: String,
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    #[arg(long)]
    name: Option<String>,
}

#[derive(Args)]
struct PredictArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[arg(long, default_value = "candle")]
    backend: BackendKind,
    #[arg(long, default_value_t = 5)]
    top_k: usize,
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print JSON lines instead of text.
    #[arg(long)]
    json: bool,
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum ExportCommand {
    /// ONNX (opset 17, dynamic batch, input `image` [N,3,H,W], output `logits`), written by scenebench.
    Onnx {
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long)]
        out: PathBuf,
    },
    /// CoreML ML Program (.mlpackage) through coremltools' MIL builder (needs scripts/setup-python.sh).
    Coreml {
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "fp16")]
        precision: String,
        /// Weight quantization: int8.
        #[arg(long)]
        quantize: Option<String>,
        /// tensor (float32 [1,3,H,W], caller preprocesses) or image (CVPixelBuffer, normalization in the graph).
        #[arg(long, default_value = "tensor")]
        input: String,
    },
}

#[derive(Args)]
struct GradcamArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// top1 or a class name.
    #[arg(long, default_value = "top1")]
    class: String,
    #[arg(long)]
    out: PathBuf,
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

#[derive(Args)]
struct ReportArgs {
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// table, md, latex or csv.
    #[arg(long, default_value = "table")]
    format: String,
    /// Write to a file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long, default_value = "runs")]
    dir: PathBuf,
    /// File holding the bearer token the app must send.
    #[arg(long)]
    token_file: PathBuf,
    #[arg(long, default_value = "127.0.0.1:8787")]
    bind: std::net::SocketAddr,
    /// Largest accepted body in MiB.
    #[arg(long, default_value_t = 64)]
    max_body_mib: usize,
}

#[derive(Args)]
struct DataArgs {
    #[arg(long)]
    data: String,
    #[arg(long, default_value_t = 0.1)]
    val_fraction: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Decode every image and report the unreadable ones.
    #[arg(long)]
    decode: bool,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = dispatch(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(a) => {
            harness::run::run(&RunOptions {
                profile: a.profile,
                data: a.data,
                weights: a.weights,
                out_root: a.out,
                name: a.name,
                backends: a.backends,
                threads: a.threads,
                epochs: a.epochs,
                seed: a.seed,
                resume: a.resume,
                quiet: a.quiet,
                pairs: a.pairs,
                thresholds: a.thresholds,
                pretrain_data: a.pretrain_data,
                pretrain_epochs: a.pretrain_epochs,
            })?;
            Ok(())
        }
        Command::Train(a) => cmd_train(a),
        Command::Eval(a) => cmd_eval(a),
        Command::Bench(a) => cmd_bench(a),
        Command::Predict(a) => cmd_predict(a),
        Command::Export(ExportCommand::Onnx { model, out }) => {
            let ck = model.load()?;
            models::onnx::write_onnx(&ck, &out)?;
            eprintln!(
                "wrote {} ({} classes, input image [N,3,{s},{s}], output logits)",
                out.display(),
                ck.classes.len(),
                s = ck.config.image_size
            );
            Ok(())
        }
        Command::Export(ExportCommand::Coreml {
            model,
            out,
            precision,
            quantize,
            input,
        }) => cmd_export_coreml(model, out, precision, quantize, input),
        Command::Gradcam(a) => cmd_gradcam(a),
        Command::Report(a) => {
            let format: results::report::Format = a.format.parse().map_err(anyhow::Error::msg)?;
            for r in &a.runs {
                if r.join("device").is_dir() {
                    harness::ingest::ingest_device_runs(r)?;
                }
            }
            let text = results::report::render(&a.runs, format)?;
            match a.out {
                Some(p) => {
                    results::csv_io::write_atomic(&p, text.as_bytes())?;
                    eprintln!("wrote {}", p.display());
                }
                None => println!("{text}"),
            }
            Ok(())
        }
        Command::Serve(a) => {
            let token = std::fs::read_to_string(&a.token_file)
                .with_context(|| format!("--token-file {}", a.token_file.display()))?
                .trim()
                .to_string();
            if token.is_empty() {
                bail!(
                    "--token-file {}: the token is empty",
                    a.token_file.display()
                );
            }
            let cfg = harness::serve::ServeConfig {
                dir: a.dir,
                token,
                bind: a.bind,
                max_body_bytes: a.max_body_mib << 20,
            };
            tokio::runtime::Runtime::new()?.block_on(harness::serve::serve(cfg))
        }
        Command::Data(a) => cmd_data(a),
    }
}

fn cmd_train(a: TrainArgs) -> Result<()> {
    let data = open_data(&a.data, &pipeline::split_config(a.val_fraction, a.seed))?;
    let classes = data.splits.classes().to_vec();
    eprintln!(
        "data: {}{} — train {} / val {} / test {} (test is not used here)",
        data.description,
        if data.synthetic { " (SYNTHETIC)" } else { "" },
        data.splits.train.len(),
        data.splits.val.len(),
        data.splits.test.len()
    );
    let init = match (a.recipe, &a.weights) {
        (Recipe::Finetune, None) => bail!("--recipe finetune needs --weights"),
        (Recipe::Finetune, Some(w)) => {
            let lo = LoadOptions {
                classes: Some(classes.clone()),
                image_size: a.image_size,
                head_seed: a.seed,
                ..Default::default()
            };
            let mut ck = Checkpoint::load_with(w, &lo)
                .with_context(|| format!("--weights {}", w.display()))?;
            ck.provenance = serde_json::json!({"recipe": "finetune", "parent": w.display().to_string(), "parent_sha256": file_sha256(w)?});
            if a.imagenet_norm {
                ck.preprocess = Preprocess::imagenet(ck.config.image_size);
            }
            ck
        }
        (_, _) => {
            let mut cfg = VitConfig::by_name(&a.config, classes.len()).with_context(|| {
                format!(
                    "--config {}: unknown (known: {})",
                    a.config,
                    VitConfig::NAMES.join(", ")
                )
            })?;
            if let Some(s) = a.image_size {
                cfg.image_size = s;
            }
            let pre = if a.imagenet_norm {
                Preprocess::imagenet(cfg.image_size)
            } else {
                Preprocess::timm_vit(cfg.image_size)
            };
            Checkpoint::random(cfg, classes.clone(), pre, a.seed)?
        }
    };
    let cfg = TrainConfig {
        recipe: a.recipe,
        epochs: a.epochs,
        batch_size: a.batch_size,
        lr: a.lr,
        weight_decay: a.weight_decay,
        warmup_epochs: a.warmup_epochs,
        grad_clip: a.grad_clip,
        label_smoothing: a.label_smoothing,
        seed: a.seed,
        ..TrainConfig::default()
    };
    let out = train_model(
        a.recipe.as_str(),
        &init,
        &data.splits,
        &cfg,
        &a.out,
        a.resume,
        a.workers,
        false,
    )?;
    eprintln!(
        "best epoch {} (val acc {:.2}%), {:.0}s; model: {} (sha256 {})",
        out.best_epoch,
        100.0 * out.best_val_acc,
        out.seconds,
        out.best_path.display(),
        file_sha256(&out.best_path)?
    );
    Ok(())
}

/// ONNX for a checkpoint, exported once into `.cache/onnx/<sha256>.onnx`.
fn onnx_for(ck: &Checkpoint) -> Result<PathBuf> {
    let bytes = ck.to_bytes()?;
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let path = pipeline::repo_root()
        .join(".cache/onnx")
        .join(format!("{}.onnx", &sha[..16]));
    if !path.exists() {
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        models::onnx::write_onnx(ck, &path)?;
    }
    Ok(path)
}

/// Write the checkpoint (as loaded, with metadata) into a cache file so every backend reads
/// the same model.
fn source_for(ck: &Checkpoint, kinds: &[BackendKind]) -> Result<ModelSource> {
    let bytes = ck.to_bytes()?;
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let path = pipeline::repo_root()
        .join(".cache/models")
        .join(format!("{}.safetensors", &sha[..16]));
    if !path.exists() {
        ck.save(&path)?;
    }
    // ORT and tract read the ONNX export; candle alone does not need one.
    let onnx = if kinds.iter().any(|k| *k != BackendKind::Candle) {
        Some(onnx_for(ck)?)
    } else {
        None
    };
    Ok(ModelSource {
        checkpoint: path,
        onnx,
    })
}

fn cmd_predict(a: PredictArgs) -> Result<()> {
    let ck = a.model.load()?;
    let source = source_for(&ck, &[a.backend])?;
    let mut b = backend::prepare(
        a.backend,
        &source,
        &PrepareOptions {
            threads: a.threads,
            batch_size: 1,
            device: "cpu".into(),
        },
    )?;
    let info = b.info().clone();
    if !a.json {
        eprintln!(
            "{} on {} ({} threads)",
            a.model.model.display(),
            info.engine_version,
            info.threads
        );
    }
    let mut failed = 0;
    for path in &a.images {
        let img = match models::data::decode_path(path) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
                continue;
            }
        };
        let logits = b.run(&ck.preprocess.apply(&img), 1)?;
        let probs =
            results::records::softmax(&logits.iter().map(|&x| x as f64).collect::<Vec<_>>());
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_by(|&i, &j| probs[j].total_cmp(&probs[i]));
        let top: Vec<(String, f64)> = order
            .iter()
            .take(a.top_k)
            .map(|&i| (ck.classes[i].clone(), probs[i]))
            .collect();
        let low = top[0].1 < 0.40;
        if a.json {
            let j = serde_json::json!({
                "image": path.display().to_string(),
                "backend": info.kind.as_str(),
                "engine": info.engine_version,
                "top": top.iter().map(|(l, p)| serde_json::json!({"label": l, "prob": p})).collect::<Vec<_>>(),
                "low_confidence": low,
            });
            println!("{j}");
        } else {
            println!("{}", path.display());
            for (l, p) in &top {
                println!("  {:>6.2}%  {l}", 100.0 * p);
            }
            if low {
                println!("  (low confidence: top-1 below 40%)");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} images could not be read", a.images.len());
    }
    Ok(())
}

fn cmd_eval(a: EvalArgs) -> Result<()> {
    let ck = a.model.load()?;
    let data = open_data(&a.data, &pipeline::split_config(0.1, a.seed))?;
    if data.splits.classes() != ck.classes.as_slice() {
        bail!(
            "the data's classes {:?} differ from the model's {:?}",
            data.splits.classes(),
            ck.classes
        );
    }
    let source = source_for(&ck, &[a.backend])?;
    let mut b = backend::prepare(
        a.backend,
        &source,
        &PrepareOptions {
            threads: a.threads,
            batch_size: 16,
            device: "cpu".into(),
        },
    )?;
    let run_id = a
        .out
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "eval".into());
    let model = a
        .model
        .model
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut all = Vec::new();
    for split in ["val", a.split.as_str()] {
        let ds = match split {
            "val" => &data.splits.val,
            "test" => &data.splits.test,
            "train" => &data.splits.train,
            other => bail!("--split {other}: expected train, val or test"),
        };
        let ctx = PredictionContext {
            run_id: run_id.clone(),
            model: model.clone(),
            backend: a.backend.as_str().into(),
            device: b.info().device.clone(),
            compute_unit: String::new(),
            split: split.into(),
        };
        let (recs, skipped) =
            predict_dataset(b.as_mut(), ds, &ck.preprocess, &ck.classes, &ctx, 16)?;
        if !skipped.is_empty() {
            eprintln!(
                "{split}: {} images skipped (unreadable): {:?}",
                skipped.count(),
                skipped.ids()
            );
        }
        all.extend(recs);
        if split == a.split {
            break;
        }
    }
    let test: Vec<_> = all.iter().filter(|r| r.split == a.split).cloned().collect();
    let val: Vec<_> = all
        .iter()
        .filter(|r| r.split == "val" && a.split != "val")
        .cloned()
        .collect();
    let (_, metrics) = pipeline::analyze(
        &test,
        Some(&val),
        &ck.classes,
        &suites::SuiteConfig {
            seed: a.seed,
            ..Default::default()
        },
    )?;
    std::fs::create_dir_all(&a.out)?;
    results::csv_io::write_csv(&a.out.join("predictions.csv"), &all)?;
    results::csv_io::write_csv(&a.out.join("metrics.csv"), &metrics)?;
    let mut manifest = results::manifest::Manifest::start(
        &run_id,
        "scenebench",
        env!("CARGO_PKG_VERSION"),
        Some(&pipeline::repo_root()),
    );
    manifest.classes = ck.classes.clone();
    manifest.dataset.source = a.data.clone();
    manifest.dataset.synthetic = data.synthetic;
    manifest.dataset.classes = ck.classes.clone();
    manifest.finish();
    manifest.write(&a.out.join("manifest.json"))?;
    println!(
        "{}",
        results::report::render(&[a.out.clone()], results::report::Format::Table)?
    );
    Ok(())
}

fn cmd_bench(a: BenchArgs) -> Result<()> {
    let ck = match &a.model {
        Some(p) => Checkpoint::load(p).with_context(|| format!("--model {}", p.display()))?,
        None => {
            let cfg = VitConfig::by_name(&a.config, 10)
                .with_context(|| format!("--config {}: unknown", a.config))?;
            eprintln!(
                "benchmarking a randomly initialised {} (latency does not depend on the weights)",
                cfg.name
            );
            let s = cfg.image_size;
            Checkpoint::random(cfg, default_classes(10), Preprocess::timm_vit(s), 0)?
        }
    };
    let source = source_for(&ck, &a.backends)?;
    let plan = suites::latency::RunPlan::preset(&a.preset)?;
    let run_id = a.name.clone().unwrap_or_else(|| {
        format!(
            "bench-{}-{}",
            ck.config.name,
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        )
    });
    let dir = a.out.join(&run_id);
    std::fs::create_dir_all(&dir)?;
    let mut manifest = results::manifest::Manifest::start(
        &run_id,
        "scenebench",
        env!("CARGO_PKG_VERSION"),
        Some(&pipeline::repo_root()),
    );
    let mut samples = Vec::new();
    for &kind in &a.backends {
        for &t in &a.threads {
            for &bs in &a.batch {
                eprintln!("{} {kind} threads={t} batch={bs}", ck.config.name);
                let s = pipeline::measure_latency(
                    kind,
                    &source,
                    &PrepareOptions {
                        threads: t,
                        batch_size: bs,
                        device: "cpu".into(),
                    },
                    &plan,
                    &run_id,
                    &ck.config.name,
                )?;
                if let Some(v) = s.first() {
                    manifest
                        .engines
                        .insert(kind.as_str().into(), v.engine_version.clone());
                }
                samples.extend(s);
            }
        }
    }
    let report = suites::latency::analyze(&samples, &suites::SuiteConfig::default())?;
    results::csv_io::write_csv(&dir.join("latency_samples.csv"), &samples)?;
    results::csv_io::write_csv(&dir.join("metrics.csv"), &report.metrics)?;
    manifest.threads = a.threads.iter().map(|&t| t as u32).collect();
    manifest.models.push(results::manifest::ModelInfo {
        name: ck.config.name.clone(),
        path: source.checkpoint.display().to_string(),
        sha256: file_sha256(&source.checkpoint)?,
        config: serde_json::to_value(&ck.config)?,
        preprocess: serde_json::to_value(&ck.preprocess)?,
    });
    manifest.finish();
    manifest.write(&dir.join("manifest.json"))?;
    println!(
        "{}",
        results::report::render(&[dir.clone()], results::report::Format::Table)?
    );
    eprintln!("raw samples: {}", dir.join("latency_samples.csv").display());
    Ok(())
}

fn cmd_export_coreml(
    model: ModelArgs,
    out: PathBuf,
    precision: String,
    quantize: Option<String>,
    input: String,
) -> Result<()> {
    let ck = model.load()?;
    let src = source_for(&ck, &[])?;
    use models::coreml::{ExportOptions, InputKind, Precision, Quantize};
    let opts = ExportOptions {
        precision: match precision.as_str() {
            "fp16" => Precision::Fp16,
            "fp32" => Precision::Fp32,
            other => bail!("--precision {other}: expected fp16 or fp32"),
        },
        quantize: match quantize.as_deref() {
            None | Some("none") => Quantize::None,
            Some("int8") => Quantize::Int8,
            Some(other) => bail!("--quantize {other}: expected int8"),
        },
        input: match input.as_str() {
            "tensor" => InputKind::Tensor,
            "image" => InputKind::Image,
            other => bail!("--input {other}: expected tensor or image"),
        },
        config: None,
        num_heads: None,
    };
    let summary = models::coreml::export(&src.checkpoint, &out, &opts)?;
    eprintln!("wrote {}: {summary:?}", out.display());
    eprintln!("CoreML fixes compute units when the model is LOADED (MLModelConfiguration.computeUnits), not at export: ios-bench measures each unit.");
    Ok(())
}

fn cmd_gradcam(a: GradcamArgs) -> Result<()> {
    let ck = a.model.load()?;
    let choice: models::gradcam::ClassChoice = a.class.parse().expect("infallible");
    let outs = models::gradcam::gradcam_images(&ck, &a.images, choice, &a.out)?;
    for o in outs {
        eprintln!("{o:?}");
    }
    Ok(())
}

fn cmd_data(a: DataArgs) -> Result<()> {
    let data = open_data(&a.data, &pipeline::split_config(a.val_fraction, a.seed))?;
    println!(
        "{}{}",
        data.description,
        if data.synthetic { " — SYNTHETIC" } else { "" }
    );
    println!(
        "classes ({}): {}",
        data.splits.classes().len(),
        data.splits.classes().join(", ")
    );
    for (name, ds) in [
        ("train", &data.splits.train),
        ("val", &data.splits.val),
        ("test", &data.splits.test),
    ] {
        println!(
            "{name:>5}: {} images, per class {:?}",
            ds.len(),
            ds.class_counts()
        );
    }
    if !data.splits.skipped.is_empty() {
        println!("skipped while indexing: {}", data.splits.skipped.count());
    }
    let dups = pipeline::leaks(&data.splits);
    println!("cross-split exact duplicates: {}", dups.leak_count());
    for d in dups.cross_split.iter().take(50) {
        println!("  {d:?}");
    }
    if a.decode {
        let mut bad = 0;
        for ds in [&data.splits.train, &data.splits.val, &data.splits.test] {
            for i in 0..ds.len() {
                if let Err(e) = ds.load(i) {
                    bad += 1;
                    println!("unreadable: {e}");
                }
            }
        }
        println!("unreadable images: {bad}");
    }
    let _ = Path::new(".");
    Ok(())
}

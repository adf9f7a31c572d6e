//! `scenebench run`: (pretrain if needed) → train `finetune` and `scratch` → evaluate both on
//! test with every suite → latency on every backend → reports, all under `runs/<name>/`.
//!
//! With no arguments it runs the embedded default (synthetic scenes, `vit_micro_patch8_64`,
//! fractal pretraining done by the project itself) and says so; `--data`/`--weights` run the
//! real thing (e.g. SUN397 + timm ViT-B/16 with `--profile paper`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use models::backend::{self, BackendKind, ModelSource, PrepareOptions};
use models::checkpoint::{file_sha256, Checkpoint, LoadOptions};
use models::data::SplitConfig;
use models::preprocess::Preprocess;
use results::manifest::{DatasetInfo, Manifest, ModelInfo};
use results::records::{LatencySample, MetricRecord, PredictionContext, PredictionRecord};

use crate::pipeline::{self, analyze, open_data, predict_dataset, train_model, Profile};

/// Options of `scenebench run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub profile: String,
    pub data: Option<String>,
    pub weights: Option<PathBuf>,
    pub out_root: PathBuf,
    pub name: Option<String>,
    pub backends: Vec<BackendKind>,
    pub threads: Option<Vec<usize>>,
    pub epochs: Option<usize>,
    pub seed: u64,
    pub resume: bool,
    pub quiet: bool,
    pub pairs: Vec<String>,
    pub thresholds: Vec<f64>,
    /// Override the profile's pretraining data spec (e.g. `fractal:classes=100,instances=200`).
    pub pretrain_data: Option<String>,
    /// Override the profile's pretraining epochs.
    pub pretrain_epochs: Option<usize>,
}

fn say(quiet: bool, msg: impl AsRef<str>) {
    if !quiet {
        eprintln!("{}", msg.as_ref());
    }
}

/// Pretrained checkpoint for the finetune arm: `--weights`, or the project's own fractal
/// pretraining (cached by its spec under `.cache/pretrained/`).
fn pretrained(profile: &Profile, opts: &RunOptions, cache: &Path) -> Result<(Checkpoint, String)> {
    if let Some(w) = &opts.weights {
        let lo = LoadOptions {
            config: None,
            image_size: Some(profile.config.image_size),
            ..Default::default()
        };
        let ck =
            Checkpoint::load_with(w, &lo).with_context(|| format!("--weights {}", w.display()))?;
        return Ok((ck, format!("{} (sha256 {})", w.display(), file_sha256(w)?)));
    }
    let Some((spec, cfg)) = &profile.pretrain else {
        bail!("profile {} needs --weights (ImageNet weights, e.g. a timm vit_base_patch16_224 safetensors file)", profile.name);
    };
    let key = format!(
        "{}-{}-e{}-s{}",
        profile.config.name,
        spec.replace([':', ',', '='], "_"),
        cfg.epochs,
        opts.seed
    );
    let dir = cache.join("pretrained").join(&key);
    let best = dir.join("best.safetensors");
    if best.exists() {
        let ck = Checkpoint::load(&best)?;
        say(
            opts.quiet,
            format!(
                "pretrained model: cached {} (sha256 {})",
                best.display(),
                file_sha256(&best)?
            ),
        );
        return Ok((
            ck,
            format!("fractal pretraining {spec}, cached at {}", best.display()),
        ));
    }
    say(
        opts.quiet,
        format!(
            "pretraining {} on {spec} (formula-driven, FractalDB; done once, then cached)",
            profile.config.name
        ),
    );
    let data = open_data(
        spec,
        &SplitConfig {
            val_fraction: 0.1,
            test_fraction: 0.0,
            seed: opts.seed,
        },
    )?;
    let classes = data.splits.classes().to_vec();
    let cfg_model = models::VitConfig {
        num_classes: classes.len(),
        ..profile.config.clone()
    };
    let init = Checkpoint::random(
        cfg_model,
        classes,
        Preprocess::timm_vit(profile.config.image_size),
        opts.seed ^ 0xF4AC,
    )?;
    let tcfg = models::train::TrainConfig {
        seed: opts.seed,
        ..cfg.clone()
    };
    let out = train_model(
        "pretrain",
        &init,
        &data.splits,
        &tcfg,
        &dir,
        true,
        2,
        opts.quiet,
    )?;
    say(
        opts.quiet,
        format!(
            "pretraining done: best pretext val acc {:.1}% at epoch {} ({:.0}s)",
            100.0 * out.best_val_acc,
            out.best_epoch,
            out.seconds
        ),
    );
    Ok((
        Checkpoint::load(&best)?,
        format!(
            "fractal pretraining {spec} (sha256 {})",
            file_sha256(&best)?
        ),
    ))
}

/// Run the whole pipeline. Returns the run directory.
pub fn run(opts: &RunOptions) -> Result<PathBuf> {
    let started = Instant::now();
    let mut profile = Profile::by_name(&opts.profile)?;
    if let Some(e) = opts.epochs {
        profile.finetune.epochs = e;
        profile.scratch.epochs = e;
    }
    if let Some((spec, cfg)) = profile.pretrain.as_mut() {
        if let Some(d) = &opts.pretrain_data {
            *spec = d.clone();
        }
        if let Some(e) = opts.pretrain_epochs {
            cfg.epochs = e;
        }
    }
    let threads = opts
        .threads
        .clone()
        .unwrap_or_else(|| profile.threads.clone());
    let data_spec = match &opts.data {
        Some(d) => d.clone(),
        None if profile.default_data.is_empty() => bail!(
            "profile {} needs --data (e.g. --data sun397:/data/SUN397)",
            profile.name
        ),
        None => profile.default_data.clone(),
    };
    let run_id = opts.name.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            profile.name,
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        )
    });
    let dir = opts.out_root.join(&run_id);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let root = pipeline::repo_root();
    let mut manifest = Manifest::start(
        &run_id,
        "scenebench",
        env!("CARGO_PKG_VERSION"),
        Some(&root),
    );

    // Data.
    let data = open_data(&data_spec, &pipeline::split_config(0.1, opts.seed))?;
    let classes = data.splits.classes().to_vec();
    let banner = if data.synthetic {
        format!("DATA: {} — SYNTHETIC, generated by scenebench; numbers are not comparable to real photographs", data.description)
    } else {
        format!("DATA: {}", data.description)
    };
    say(
        opts.quiet,
        format!(
            "scenebench run — profile {} — run {}\n{banner}",
            profile.name, run_id
        ),
    );
    say(opts.quiet, format!(
        "splits: train {} / val {} / test {} images, {} classes (val carved from train; test never used for selection)",
        data.splits.train.len(), data.splits.val.len(), data.splits.test.len(), classes.len()
    ));
    let dups = pipeline::leaks(&data.splits);
    if dups.leak_count() > 0 {
        say(
            opts.quiet,
            format!(
                "WARNING: {} exact duplicates across splits (leaks)",
                dups.leak_count()
            ),
        );
        manifest.notes.push(format!(
            "{} exact cross-split duplicates found",
            dups.leak_count()
        ));
    }
    let mut splits_n = BTreeMap::new();
    splits_n.insert("train".to_string(), data.splits.train.len() as u64);
    splits_n.insert("val".to_string(), data.splits.val.len() as u64);
    splits_n.insert("test".to_string(), data.splits.test.len() as u64);
    manifest.dataset = DatasetInfo {
        source: data.spec.clone(),
        synthetic: data.synthetic,
        root: None,
        splits: splits_n,
        classes: classes.clone(),
        content_sha256: data.splits.test.identity_sha256().unwrap_or_default(),
    };
    manifest.classes = classes.clone();
    manifest.threads = threads.iter().map(|&t| t as u32).collect();
    manifest.seeds.insert("data".into(), opts.seed);
    manifest.seeds.insert("train".into(), opts.seed);
    manifest.seeds.insert("bootstrap".into(), opts.seed);
    manifest.notes.push(banner.clone());

    // Models.
    let cache = root.join(".cache");
    let (pre_ck, pre_desc) = pretrained(&profile, opts, &cache)?;
    manifest
        .notes
        .push(format!("finetune starts from: {pre_desc}"));
    let size = profile.config.image_size;
    let lo = LoadOptions {
        classes: Some(classes.clone()),
        head_seed: opts.seed,
        image_size: Some(size),
        ..Default::default()
    };
    let mut ft_init = Checkpoint::from_bytes(&pre_ck.to_bytes()?, Path::new("pretrained"), &lo)?;
    ft_init.provenance = serde_json::json!({"recipe": "finetune", "parent": pre_desc});
    let scratch_cfg = models::VitConfig {
        num_classes: classes.len(),
        ..profile.config.clone()
    };
    let scratch_init = Checkpoint::random(
        scratch_cfg,
        classes.clone(),
        ft_init.preprocess.clone(),
        opts.seed ^ 0x5C,
    )?;

    let mut trained: Vec<(String, PathBuf)> = Vec::new();
    for (name, init, tcfg) in [
        ("finetune", &ft_init, &profile.finetune),
        ("scratch", &scratch_init, &profile.scratch),
    ] {
        let tcfg = models::train::TrainConfig {
            seed: opts.seed,
            ..tcfg.clone()
        };
        say(
            opts.quiet,
            format!(
                "training {name}: {} epochs, AdamW lr {:.0e} wd {}, cosine, batch {}",
                tcfg.epochs, tcfg.lr, tcfg.weight_decay, tcfg.batch_size
            ),
        );
        let out = train_model(
            name,
            init,
            &data.splits,
            &tcfg,
            &dir.join("train").join(name),
            opts.resume,
            2,
            opts.quiet,
        )?;
        say(
            opts.quiet,
            format!(
                "  {name}: best val acc {:.1}% at epoch {} ({:.0}s)",
                100.0 * out.best_val_acc,
                out.best_epoch,
                out.seconds
            ),
        );
        trained.push((name.to_string(), out.best_path));
    }

    // Evaluate.
    let suite_cfg = suites::SuiteConfig {
        bootstrap_resamples: profile.bootstrap,
        seed: opts.seed,
        thresholds: if opts.thresholds.is_empty() {
            vec![0.40]
        } else {
            opts.thresholds.clone()
        },
        pairs: if opts.pairs.is_empty() {
            suites::PairSpec::Default
        } else {
            suites::PairSpec::Explicit(
                opts.pairs
                    .iter()
                    .map(|p| p.parse())
                    .collect::<Result<Vec<suites::ClassPair>, _>>()?,
            )
        },
        ..Default::default()
    };
    let mut all_preds: Vec<PredictionRecord> = Vec::new();
    let mut all_metrics: Vec<MetricRecord> = Vec::new();
    let mut all_lat: Vec<LatencySample> = Vec::new();
    let models_dir = dir.join("models");
    std::fs::create_dir_all(&models_dir)?;
    for (name, path) in &trained {
        let ck = Checkpoint::load(path)?;
        let onnx = models_dir.join(format!("{name}.onnx"));
        models::onnx::write_onnx(&ck, &onnx)
            .with_context(|| format!("exporting {name} to ONNX"))?;
        manifest.models.push(ModelInfo {
            name: name.clone(),
            path: path.display().to_string(),
            sha256: file_sha256(path)?,
            config: serde_json::to_value(&ck.config)?,
            preprocess: serde_json::to_value(&ck.preprocess)?,
        });
        let source = ModelSource {
            checkpoint: path.clone(),
            onnx: Some(onnx),
        };
        let mut per_backend = Vec::new();
        for &kind in &opts.backends {
            let popts = PrepareOptions {
                threads: *threads.iter().max().unwrap_or(&1),
                batch_size: 16,
                device: "cpu".into(),
            };
            let mut b = backend::prepare(kind, &source, &popts)
                .with_context(|| format!("loading {name} on {kind}"))?;
            manifest
                .engines
                .insert(kind.as_str().into(), b.info().engine_version.clone());
            let mut recs = Vec::new();
            for (split, ds) in [("val", &data.splits.val), ("test", &data.splits.test)] {
                if kind != BackendKind::Candle && split == "val" {
                    continue; // parity and headline metrics are on test; val only fits the temperature
                }
                let ctx = PredictionContext {
                    run_id: run_id.clone(),
                    model: name.clone(),
                    backend: kind.as_str().into(),
                    device: b.info().device.clone(),
                    compute_unit: String::new(),
                    split: split.into(),
                };
                let (r, skipped) =
                    predict_dataset(b.as_mut(), ds, &ck.preprocess, &classes, &ctx, 16)?;
                if !skipped.is_empty() {
                    say(
                        opts.quiet,
                        format!(
                            "  {} {split} images skipped (unreadable): {:?}",
                            skipped.count(),
                            skipped.ids()
                        ),
                    );
                }
                recs.extend(r);
            }
            per_backend.push((kind, recs));
        }
        for (kind, recs) in &per_backend {
            let test: Vec<_> = recs.iter().filter(|r| r.split == "test").cloned().collect();
            let val: Vec<PredictionRecord> = per_backend
                .iter()
                .find(|(k, _)| *k == BackendKind::Candle)
                .map(|(_, r)| {
                    r.iter()
                        .filter(|r| r.split == "val")
                        .cloned()
                        .map(|mut r| {
                            r.backend = kind.as_str().into();
                            r
                        })
                        .collect()
                })
                .unwrap_or_default();
            let (_, m) = analyze(&test, Some(&val), &classes, &suite_cfg)?;
            all_metrics.extend(m);
        }
        // Parity across backends on test.
        let sets = per_backend
            .iter()
            .map(|(_, recs)| {
                let test: Vec<_> = recs.iter().filter(|r| r.split == "test").collect();
                suites::Predictions::from_records(test.into_iter(), &classes)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if sets.len() > 1 {
            all_metrics.extend(suites::parity::run(&sets)?.metrics);
        }
        // The exported CoreML program, checked on Linux against candle on the same images.
        if profile.coreml_images > 0 {
            let ctx = PredictionContext {
                run_id: run_id.clone(),
                model: name.clone(),
                backend: String::new(),
                device: String::new(),
                compute_unit: String::new(),
                split: "test".into(),
            };
            say(opts.quiet, format!("  CoreML export of {name} (fp32, fp16) and its reference evaluation on {} test images", profile.coreml_images));
            match pipeline::coreml_reference(
                path,
                &ck,
                &data.splits.test,
                profile.coreml_images,
                &models_dir,
                &ctx,
            )? {
                Ok(cm) => {
                    let ids: std::collections::HashSet<&str> =
                        cm.iter().map(|r| r.image_id.as_str()).collect();
                    let candle_subset: Vec<&PredictionRecord> = per_backend
                        .iter()
                        .filter(|(k, _)| *k == BackendKind::Candle)
                        .flat_map(|(_, r)| r.iter())
                        .filter(|r| r.split == "test" && ids.contains(r.image_id.as_str()))
                        .collect();
                    let base =
                        suites::Predictions::from_records(candle_subset.into_iter(), &classes)?;
                    for backend in [
                        format!("{}-fp32", models::coreml::BACKEND),
                        format!("{}-fp16", models::coreml::BACKEND),
                    ] {
                        let set = suites::Predictions::from_records(
                            cm.iter().filter(|r| r.backend == backend),
                            &classes,
                        )?;
                        all_metrics.extend(suites::parity::run(&[base.clone(), set])?.metrics);
                    }
                    all_preds.extend(cm);
                }
                Err(why) => {
                    say(opts.quiet, format!("  CoreML check skipped: {why}"));
                    manifest
                        .notes
                        .push(format!("CoreML reference check skipped: {why}"));
                }
            }
        }
        for (_, recs) in per_backend {
            all_preds.extend(recs);
        }

        // End to end (JPEG bytes → decode → preprocess → logits) at the largest thread count.
        if let Some(item) = data.splits.test.items.first() {
            let img = data.splits.test.load(0)?;
            let jpeg = match item.path() {
                Some(p)
                    if p.extension().is_some_and(|e| {
                        e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg")
                    }) =>
                {
                    std::fs::read(p)?
                }
                _ => {
                    let mut buf = std::io::Cursor::new(Vec::new());
                    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 90)
                        .encode_image(&img)?;
                    buf.into_inner()
                }
            };
            let t = *threads.iter().max().unwrap_or(&1);
            for &kind in &opts.backends {
                let popts = PrepareOptions {
                    threads: t,
                    batch_size: 1,
                    device: "cpu".into(),
                };
                let mut b = backend::prepare(kind, &source, &popts)?;
                let meta = suites::latency::LatencyMeta {
                    run_id: run_id.clone(),
                    model: name.clone(),
                    backend: kind.as_str().into(),
                    engine_version: b.info().engine_version.clone(),
                    device: b.info().device.clone(),
                    compute_unit: String::new(),
                    precision: b.info().precision.clone(),
                    threads: b.info().threads as u32,
                    batch_size: 1,
                    mode: "e2e".into(),
                };
                say(
                    opts.quiet,
                    format!(
                        "  latency {name} {kind} threads={t} batch=1 end-to-end ({} byte JPEG)",
                        jpeg.len()
                    ),
                );
                all_lat.extend(pipeline::measure_e2e_latency(
                    b.as_mut(),
                    &jpeg,
                    &ck.preprocess,
                    &profile.latency,
                    &meta,
                )?);
            }
        }

        // Latency: every backend × threads × batch, model-only.
        for &kind in &opts.backends {
            for &t in &threads {
                for &bs in &profile.batch_sizes {
                    let popts = PrepareOptions {
                        threads: t,
                        batch_size: bs,
                        device: "cpu".into(),
                    };
                    say(
                        opts.quiet,
                        format!("  latency {name} {kind} threads={t} batch={bs}"),
                    );
                    all_lat.extend(pipeline::measure_latency(
                        kind,
                        &source,
                        &popts,
                        &profile.latency,
                        &run_id,
                        name,
                    )?);
                }
            }
        }
    }
    // McNemar's exact test, finetune vs scratch, on the same test images (candle).
    let test_of = |model: &str| {
        suites::Predictions::from_records(
            all_preds
                .iter()
                .filter(|r| r.model == model && r.backend == "candle" && r.split == "test"),
            &classes,
        )
    };
    if opts.backends.contains(&BackendKind::Candle) {
        let (a, b) = (test_of("finetune")?, test_of("scratch")?);
        let m = suites::accuracy::mcnemar(&a, &b)?;
        all_metrics.push(m.metric(&a.meta));
    }
    let lat_report = suites::latency::analyze(&all_lat, &suite_cfg)?;
    all_metrics.extend(lat_report.metrics.iter().cloned());
    if let Some(rss) = suites::latency::peak_rss_bytes() {
        manifest.notes.push(format!(
            "peak RSS of the run: {:.0} MiB",
            rss as f64 / 1048576.0
        ));
    }

    // Write records, then reports from them.
    results::csv_io::write_csv(&dir.join("predictions.csv"), &all_preds)?;
    results::csv_io::write_csv(&dir.join("latency_samples.csv"), &all_lat)?;
    results::csv_io::write_csv(&dir.join("metrics.csv"), &all_metrics)?;
    crate::artifacts::write_plots(&dir, &all_preds, &all_lat, &classes, &trained)?;
    crate::artifacts::write_galleries(&dir, &trained, &data.splits.test, &all_preds, opts.quiet)?;
    manifest
        .notes
        .push(format!("wall time {:.0}s", started.elapsed().as_secs_f64()));
    manifest.finish();
    manifest.write(&dir.join("manifest.json"))?;
    let md = results::report::write_markdown_report(&dir)?;
    let tex = results::report::render(&[dir.clone()], results::report::Format::Latex)?;
    results::csv_io::write_atomic(&dir.join("report.tex"), tex.as_bytes())?;
    if !opts.quiet {
        println!(
            "{}",
            results::report::render(&[dir.clone()], results::report::Format::Table)?
        );
    }
    say(
        opts.quiet,
        format!(
            "{banner}\nrun written to {} (report: {}) in {:.0}s",
            dir.display(),
            md.display(),
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(dir)
}

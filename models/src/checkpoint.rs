//! Checkpoints: scenebench's own safetensors format (timm tensor names + metadata), plain timm
//! files, and Hugging Face `ViTForImageClassification` / `ViTModel` files.
//!
//! Format: `docs/checkpoint-format.md`; safetensors: <https://github.com/huggingface/safetensors>.
//! Position embeddings are resampled to a new grid exactly as timm's `resample_abs_pos_embed`
//! (bicubic with antialias, i.e. PyTorch's `_upsample_bicubic2d_aa`, Keys kernel a = −0.5, as
//! Pillow). A checkpoint whose class count differs from the requested one gets a fresh head
//! (fine-tuning).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use safetensors::tensor::{Dtype as StDtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::VitConfig;
use crate::preprocess::Preprocess;

/// Errors from reading, checking or writing a checkpoint. Each names the file and/or tensor.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a safetensors file: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: metadata key `{key}` is invalid: {message}")]
    Metadata {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("missing tensor `{tensor}` (expected shape {expected:?})")]
    Missing {
        tensor: String,
        expected: Vec<usize>,
    },
    #[error("unexpected tensor `{tensor}` with shape {shape:?} (not part of a {config} ViT)")]
    Unexpected {
        tensor: String,
        shape: Vec<usize>,
        config: String,
    },
    #[error("tensor `{tensor}` has shape {found:?}, expected {expected:?}")]
    Shape {
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("tensor `{tensor}` has unsupported dtype {dtype}")]
    Dtype { tensor: String, dtype: String },
    #[error("cannot infer the model configuration: {0}")]
    Infer(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("{0} class names given for a head of {1} classes")]
    Classes(usize, usize),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

type Res<T> = Result<T, CheckpointError>;

/// Which parameter layout a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// scenebench's own (timm names + `scenebench.*` metadata).
    Scenebench,
    /// A plain timm `VisionTransformer` state dict.
    Timm,
    /// Hugging Face `ViTForImageClassification` / `ViTModel`.
    HuggingFace,
}

/// How to interpret a file that may lack metadata, and what to adapt it to.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Use this configuration instead of the file's (or the inferred one): every tensor is
    /// checked against it. Its `image_size` triggers position-embedding resampling; its
    /// `num_classes` is ignored (the head is replaced only through `classes`).
    pub config: Option<VitConfig>,
    /// Resample the position embeddings to this input size.
    pub image_size: Option<usize>,
    /// Class names; a count different from the head's replaces the head.
    pub classes: Option<Vec<String>>,
    /// Preprocessing to record (a file without metadata gets its family's default).
    pub preprocess: Option<Preprocess>,
    /// Seed for a replaced head.
    pub head_seed: u64,
}

/// A ViT checkpoint in memory: timm-named f32 tensors on the CPU plus what the model needs to be
/// used correctly (config, class names, preprocessing).
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub config: VitConfig,
    pub classes: Vec<String>,
    pub preprocess: Preprocess,
    /// Free-form provenance (recipe, parent weights, dataset, seed, …).
    pub provenance: serde_json::Value,
    pub tensors: BTreeMap<String, Tensor>,
    /// Layout of the file it was read from.
    pub layout: Layout,
}

/// Metadata keys.
pub const KEY_FORMAT_VERSION: &str = "scenebench.format_version";
pub const KEY_CONFIG: &str = "scenebench.config";
pub const KEY_CLASSES: &str = "scenebench.classes";
pub const KEY_PREPROCESS: &str = "scenebench.preprocess";
pub const KEY_PROVENANCE: &str = "scenebench.provenance";

/// The timm names and shapes of every parameter of `cfg`, in a stable order.
pub fn expected_shapes(cfg: &VitConfig) -> Vec<(String, Vec<usize>)> {
    let d = cfg.embed_dim;
    let m = cfg.mlp_dim;
    let p = cfg.patch_size;
    let mut v = vec![
        (
            "patch_embed.proj.weight".to_string(),
            vec![d, cfg.in_chans, p, p],
        ),
        ("patch_embed.proj.bias".into(), vec![d]),
        ("cls_token".into(), vec![1, 1, d]),
        ("pos_embed".into(), vec![1, cfg.num_tokens(), d]),
    ];
    for i in 0..cfg.depth {
        let b = format!("blocks.{i}");
        v.extend([
            (format!("{b}.norm1.weight"), vec![d]),
            (format!("{b}.norm1.bias"), vec![d]),
            (format!("{b}.attn.qkv.weight"), vec![3 * d, d]),
            (format!("{b}.attn.qkv.bias"), vec![3 * d]),
            (format!("{b}.attn.proj.weight"), vec![d, d]),
            (format!("{b}.attn.proj.bias"), vec![d]),
            (format!("{b}.norm2.weight"), vec![d]),
            (format!("{b}.norm2.bias"), vec![d]),
            (format!("{b}.mlp.fc1.weight"), vec![m, d]),
            (format!("{b}.mlp.fc1.bias"), vec![m]),
            (format!("{b}.mlp.fc2.weight"), vec![d, m]),
            (format!("{b}.mlp.fc2.bias"), vec![d]),
        ]);
    }
    v.extend([
        ("norm.weight".to_string(), vec![d]),
        ("norm.bias".into(), vec![d]),
        ("head.weight".into(), vec![cfg.num_classes, d]),
        ("head.bias".into(), vec![cfg.num_classes]),
    ]);
    v
}

/// Default class names `class_0 … class_{n-1}`.
pub fn default_classes(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("class_{i}")).collect()
}

/// SHA-256 of a file, hex.
pub fn file_sha256(path: &Path) -> Res<String> {
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.into(),
        source,
    })?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

fn tensor_from_view(name: &str, view: &TensorView) -> Res<Tensor> {
    let shape = view.shape().to_vec();
    let data = view.data();
    let values: Vec<f32> = match view.dtype() {
        StDtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        StDtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        StDtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        StDtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        other => {
            return Err(CheckpointError::Dtype {
                tensor: name.into(),
                dtype: format!("{other:?}"),
            })
        }
    };
    Ok(Tensor::from_vec(values, shape, &Device::Cpu)?)
}

/// Map Hugging Face ViT names to timm names; q/k/v are concatenated afterwards.
fn hf_to_timm(name: &str) -> Option<String> {
    let n = name.strip_prefix("vit.").unwrap_or(name);
    let direct = match n {
        "embeddings.cls_token" => Some("cls_token".to_string()),
        "embeddings.position_embeddings" => Some("pos_embed".into()),
        "embeddings.patch_embeddings.projection.weight" => Some("patch_embed.proj.weight".into()),
        "embeddings.patch_embeddings.projection.bias" => Some("patch_embed.proj.bias".into()),
        "layernorm.weight" => Some("norm.weight".into()),
        "layernorm.bias" => Some("norm.bias".into()),
        "classifier.weight" => Some("head.weight".into()),
        "classifier.bias" => Some("head.bias".into()),
        _ => None,
    };
    if direct.is_some() {
        return direct;
    }
    let rest = n.strip_prefix("encoder.layer.")?;
    let (idx, tail) = rest.split_once('.')?;
    let idx: usize = idx.parse().ok()?;
    let mapped = match tail {
        "layernorm_before.weight" => "norm1.weight",
        "layernorm_before.bias" => "norm1.bias",
        "layernorm_after.weight" => "norm2.weight",
        "layernorm_after.bias" => "norm2.bias",
        "attention.output.dense.weight" => "attn.proj.weight",
        "attention.output.dense.bias" => "attn.proj.bias",
        "intermediate.dense.weight" => "mlp.fc1.weight",
        "intermediate.dense.bias" => "mlp.fc1.bias",
        "output.dense.weight" => "mlp.fc2.weight",
        "output.dense.bias" => "mlp.fc2.bias",
        "attention.attention.query.weight" => "attn.q.weight",
        "attention.attention.query.bias" => "attn.q.bias",
        "attention.attention.key.weight" => "attn.k.weight",
        "attention.attention.key.bias" => "attn.k.bias",
        "attention.attention.value.weight" => "attn.v.weight",
        "attention.attention.value.bias" => "attn.v.bias",
        _ => return None,
    };
    Some(format!("blocks.{idx}.{mapped}"))
}

fn convert_hf(raw: BTreeMap<String, Tensor>) -> Res<BTreeMap<String, Tensor>> {
    let mut out = BTreeMap::new();
    for (name, t) in raw {
        // The pooler of `ViTModel` is not used by the classification path.
        if name.starts_with("pooler.") || name.starts_with("vit.pooler.") {
            continue;
        }
        match hf_to_timm(&name) {
            Some(mapped) => {
                out.insert(mapped, t);
            }
            None => {
                return Err(CheckpointError::Unexpected {
                    tensor: name,
                    shape: t.dims().to_vec(),
                    config: "Hugging Face".into(),
                })
            }
        }
    }
    // Fuse q, k, v into timm's qkv (rows q, then k, then v).
    let blocks: Vec<String> = out
        .keys()
        .filter_map(|k| k.strip_suffix(".attn.q.weight").map(str::to_string))
        .collect();
    for b in blocks {
        for suffix in ["weight", "bias"] {
            let mut parts = Vec::new();
            for which in ["q", "k", "v"] {
                let key = format!("{b}.attn.{which}.{suffix}");
                let t = out.remove(&key).ok_or_else(|| CheckpointError::Missing {
                    tensor: key.clone(),
                    expected: vec![],
                })?;
                parts.push(t);
            }
            out.insert(format!("{b}.attn.qkv.{suffix}"), Tensor::cat(&parts, 0)?);
        }
    }
    Ok(out)
}

/// Infer a config from timm-named tensor shapes. `num_heads` cannot be seen in shapes: the
/// standard ViTs use heads of width 64, which is assumed (pass a config to override).
pub fn infer_config(tensors: &BTreeMap<String, Tensor>, eps: f64) -> Res<VitConfig> {
    let dims = |name: &str| -> Res<Vec<usize>> {
        tensors
            .get(name)
            .map(|t| t.dims().to_vec())
            .ok_or_else(|| CheckpointError::Infer(format!("no tensor `{name}`")))
    };
    let pw = dims("patch_embed.proj.weight")?;
    if pw.len() != 4 {
        return Err(CheckpointError::Infer(format!(
            "`patch_embed.proj.weight` has shape {pw:?}"
        )));
    }
    let (d, in_chans, p) = (pw[0], pw[1], pw[2]);
    let pos = dims("pos_embed")?;
    let t = pos.get(1).copied().unwrap_or(0);
    let grid = ((t.saturating_sub(1)) as f64).sqrt().round() as usize;
    if grid * grid + 1 != t {
        return Err(CheckpointError::Infer(format!(
            "`pos_embed` has {t} tokens, not 1 + a square"
        )));
    }
    let depth = (0..)
        .take_while(|i| tensors.contains_key(&format!("blocks.{i}.norm1.weight")))
        .count();
    let mlp_dim = dims("blocks.0.mlp.fc1.weight")?[0];
    let num_classes = dims("head.weight")?[0];
    let mut cfg = VitConfig {
        name: "custom".into(),
        image_size: grid * p,
        patch_size: p,
        in_chans,
        embed_dim: d,
        depth,
        num_heads: (d / 64).max(1),
        mlp_dim,
        num_classes,
        layer_norm_eps: eps,
    };
    for name in VitConfig::NAMES {
        let known = VitConfig::by_name(name, num_classes).expect("known name");
        let same = VitConfig {
            name: known.name.clone(),
            num_heads: known.num_heads,
            layer_norm_eps: eps,
            ..cfg.clone()
        };
        let known_eps = VitConfig {
            layer_norm_eps: eps,
            ..known.clone()
        };
        if same == known_eps {
            cfg.name = known.name;
            cfg.num_heads = known.num_heads;
        }
    }
    Ok(cfg)
}

fn meta_json<T: for<'de> Deserialize<'de>>(
    path: &Path,
    meta: &HashMap<String, String>,
    key: &str,
) -> Res<Option<T>> {
    match meta.get(key) {
        None => Ok(None),
        Some(s) => serde_json::from_str(s)
            .map(Some)
            .map_err(|e| CheckpointError::Metadata {
                path: path.into(),
                key: key.into(),
                message: e.to_string(),
            }),
    }
}

impl Checkpoint {
    /// Load a scenebench, timm or Hugging Face file with default options.
    pub fn load(path: &Path) -> Res<Self> {
        Self::load_with(path, &LoadOptions::default())
    }

    /// Load and adapt a checkpoint (config override, resampling, new head).
    pub fn load_with(path: &Path, opts: &LoadOptions) -> Res<Self> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
            path: path.into(),
            source,
        })?;
        Self::from_bytes(&bytes, path, opts)
    }

    /// Parse from the bytes of a safetensors file (`path` is only used in messages).
    pub fn from_bytes(bytes: &[u8], path: &Path, opts: &LoadOptions) -> Res<Self> {
        let fmt_err = |e: safetensors::SafeTensorError| CheckpointError::Format {
            path: path.into(),
            message: e.to_string(),
        };
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(fmt_err)?;
        let meta = header.metadata().clone().unwrap_or_default();
        let st = SafeTensors::deserialize(bytes).map_err(fmt_err)?;
        let mut raw = BTreeMap::new();
        for (name, view) in st.tensors() {
            let t = tensor_from_view(&name, &view)?;
            raw.insert(name, t);
        }
        let is_hf = raw.keys().any(|k| k.contains("embeddings.cls_token"));
        let has_meta = meta.contains_key(KEY_CONFIG);
        let layout = if is_hf {
            Layout::HuggingFace
        } else if has_meta {
            Layout::Scenebench
        } else {
            Layout::Timm
        };
        let tensors = if is_hf { convert_hf(raw)? } else { raw };
        let family_eps = if is_hf { 1e-12 } else { 1e-6 };

        let file_config: Option<VitConfig> = meta_json(path, &meta, KEY_CONFIG)?;
        let file_classes: Option<Vec<String>> = meta_json(path, &meta, KEY_CLASSES)?;
        let file_pre: Option<Preprocess> = meta_json(path, &meta, KEY_PREPROCESS)?;
        let provenance: serde_json::Value =
            meta_json(path, &meta, KEY_PROVENANCE)?.unwrap_or(serde_json::Value::Null);

        // The configuration the stored tensors have.
        let stored = match (&file_config, &opts.config) {
            (Some(c), _) => c.clone(),
            // A requested config is checked tensor by tensor (so a mismatch names the tensor),
            // keeping only what adapts: the stored head size and the stored position grid.
            (None, Some(over)) => {
                let head = tensors.get("head.weight").map(|t| t.dims()[0]);
                let grid = tensors.get("pos_embed").and_then(|t| {
                    let n = t.dims().get(1).copied()?.checked_sub(1)?;
                    let g = (n as f64).sqrt().round() as usize;
                    (g * g == n).then_some(g)
                });
                VitConfig {
                    num_classes: head.unwrap_or(over.num_classes),
                    image_size: grid.map(|g| g * over.patch_size).unwrap_or(over.image_size),
                    ..over.clone()
                }
            }
            (None, None) => infer_config(&tensors, family_eps)?,
        };
        stored.validate().map_err(CheckpointError::Config)?;
        let mut ck = Checkpoint {
            classes: file_classes.unwrap_or_else(|| default_classes(stored.num_classes)),
            preprocess: file_pre.unwrap_or_else(|| Preprocess::timm_vit(stored.image_size)),
            config: stored,
            provenance,
            tensors,
            layout,
        };
        ck.check()?;
        if ck.classes.len() != ck.config.num_classes {
            return Err(CheckpointError::Classes(
                ck.classes.len(),
                ck.config.num_classes,
            ));
        }

        // Adapt: image size, classes, config override.
        let target_size = opts
            .image_size
            .or(opts.config.as_ref().map(|c| c.image_size))
            .unwrap_or(ck.config.image_size);
        if target_size != ck.config.image_size {
            ck.resize_image(target_size)?;
        }
        if let Some(over) = &opts.config {
            let comparable = VitConfig {
                name: ck.config.name.clone(),
                num_classes: ck.config.num_classes,
                image_size: ck.config.image_size,
                ..over.clone()
            };
            if comparable != ck.config {
                return Err(CheckpointError::Config(format!(
                    "the file's configuration {:?} does not match the requested {:?}",
                    ck.config, over
                )));
            }
            ck.config.name = over.name.clone();
        }
        let want_classes = opts.classes.clone();
        if let Some(classes) = want_classes {
            if classes.len() != ck.config.num_classes {
                ck.replace_head(classes.len(), opts.head_seed)?;
            }
            ck.classes = classes;
        }
        if let Some(pre) = &opts.preprocess {
            ck.preprocess = pre.clone();
        } else if ck.preprocess.crop_size != ck.config.image_size {
            let p = &ck.preprocess;
            ck.preprocess = Preprocess {
                interpolation: p.interpolation,
                ..Preprocess::with(ck.config.image_size, p.crop_pct, p.mean, p.std)
            };
        }
        Ok(ck)
    }

    /// Check that the tensors are exactly those of `self.config`, with the right shapes.
    pub fn check(&self) -> Res<()> {
        let expected = expected_shapes(&self.config);
        for (name, shape) in &expected {
            match self.tensors.get(name) {
                None => {
                    return Err(CheckpointError::Missing {
                        tensor: name.clone(),
                        expected: shape.clone(),
                    })
                }
                Some(t) if t.dims() != shape.as_slice() => {
                    return Err(CheckpointError::Shape {
                        tensor: name.clone(),
                        expected: shape.clone(),
                        found: t.dims().to_vec(),
                    })
                }
                Some(_) => {}
            }
        }
        if self.tensors.len() != expected.len() {
            let known: std::collections::HashSet<&str> =
                expected.iter().map(|(n, _)| n.as_str()).collect();
            if let Some((name, t)) = self
                .tensors
                .iter()
                .find(|(n, _)| !known.contains(n.as_str()))
            {
                return Err(CheckpointError::Unexpected {
                    tensor: name.clone(),
                    shape: t.dims().to_vec(),
                    config: self.config.name.clone(),
                });
            }
        }
        Ok(())
    }

    /// A freshly initialised model (timm-like init), deterministic in `seed`.
    pub fn random(
        config: VitConfig,
        classes: Vec<String>,
        preprocess: Preprocess,
        seed: u64,
    ) -> Res<Self> {
        config.validate().map_err(CheckpointError::Config)?;
        if classes.len() != config.num_classes {
            return Err(CheckpointError::Classes(classes.len(), config.num_classes));
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut tensors = BTreeMap::new();
        for (name, shape) in expected_shapes(&config) {
            let n: usize = shape.iter().product();
            let fan_in = config.in_chans * config.patch_size * config.patch_size;
            let values = init_values(&name, n, fan_in, &mut rng);
            tensors.insert(name, Tensor::from_vec(values, shape, &Device::Cpu)?);
        }
        Ok(Self {
            config,
            classes,
            preprocess,
            provenance: serde_json::json!({"init": "random", "seed": seed}),
            tensors,
            layout: Layout::Scenebench,
        })
    }

    /// Replace the head with a freshly initialised one of `num_classes` outputs.
    pub fn replace_head(&mut self, num_classes: usize, seed: u64) -> Res<()> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x4ead);
        let d = self.config.embed_dim;
        let w = init_values("head.weight", num_classes * d, d, &mut rng);
        self.tensors.insert(
            "head.weight".into(),
            Tensor::from_vec(w, (num_classes, d), &Device::Cpu)?,
        );
        self.tensors.insert(
            "head.bias".into(),
            Tensor::zeros(num_classes, DType::F32, &Device::Cpu)?,
        );
        self.config.num_classes = num_classes;
        Ok(())
    }

    /// Resample the position embeddings for a new input size (same patch size).
    pub fn resize_image(&mut self, image_size: usize) -> Res<()> {
        let p = self.config.patch_size;
        if image_size % p != 0 {
            return Err(CheckpointError::Config(format!(
                "image size {image_size} is not a multiple of the patch size {p}"
            )));
        }
        let old_grid = self.config.grid();
        let new_grid = image_size / p;
        let pos = self.tensors.get("pos_embed").expect("checked");
        let d = self.config.embed_dim;
        let values: Vec<f32> = pos.flatten_all()?.to_vec1()?;
        let (cls, grid) = values.split_at(d);
        let resampled = resample_pos_embed(grid, old_grid, new_grid, d);
        let mut out = cls.to_vec();
        out.extend(resampled);
        self.tensors.insert(
            "pos_embed".into(),
            Tensor::from_vec(out, (1, new_grid * new_grid + 1, d), &Device::Cpu)?,
        );
        self.config.image_size = image_size;
        Ok(())
    }

    /// One tensor as `(shape, f32 values)`.
    pub fn tensor_f32(&self, name: &str) -> Res<(Vec<usize>, Vec<f32>)> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| CheckpointError::Missing {
                tensor: name.into(),
                expected: vec![],
            })?;
        Ok((t.dims().to_vec(), t.flatten_all()?.to_vec1()?))
    }

    /// The metadata written into the safetensors header.
    pub fn metadata(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        m.insert("format".into(), "pt".into());
        m.insert(KEY_FORMAT_VERSION.into(), "1".into());
        m.insert(
            KEY_CONFIG.into(),
            serde_json::to_string(&self.config).expect("config serializes"),
        );
        m.insert(
            KEY_CLASSES.into(),
            serde_json::to_string(&self.classes).expect("classes serialize"),
        );
        m.insert(
            KEY_PREPROCESS.into(),
            serde_json::to_string(&self.preprocess).expect("serializes"),
        );
        m.insert(KEY_PROVENANCE.into(), self.provenance.to_string());
        m
    }

    /// Serialize to safetensors bytes.
    pub fn to_bytes(&self) -> Res<Vec<u8>> {
        let mut buffers: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (name, t) in &self.tensors {
            let v: Vec<f32> = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            buffers.push((name.clone(), t.dims().to_vec(), bytes));
        }
        let views = buffers
            .iter()
            .map(|(n, s, b)| TensorView::new(StDtype::F32, s.clone(), b).map(|v| (n.clone(), v)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CheckpointError::Format {
                path: PathBuf::new(),
                message: e.to_string(),
            })?;
        safetensors::tensor::serialize(views, Some(self.metadata())).map_err(|e| {
            CheckpointError::Format {
                path: PathBuf::new(),
                message: e.to_string(),
            }
        })
    }

    /// Write atomically (temporary file in the same directory, then rename). Returns the sha256.
    pub fn save(&self, path: &Path) -> Res<String> {
        let bytes = self.to_bytes()?;
        write_atomic(path, &bytes)?;
        Ok(hex::encode(Sha256::digest(&bytes)))
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        self.tensors.values().map(|t| t.elem_count()).sum()
    }
}

/// Write `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Res<()> {
    let io = |source| CheckpointError::Io {
        path: path.into(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|source| CheckpointError::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(io)
}

fn init_values(name: &str, n: usize, fan_in: usize, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f32> {
    let normal = |std: f64, rng: &mut rand_chacha::ChaCha8Rng| {
        let d = Normal::new(0.0, std).expect("valid std");
        (0..n)
            .map(|_| {
                // trunc_normal(std, a=-2, b=2) as timm: redraw outside ±2 (absolute, as timm).
                loop {
                    let x: f64 = d.sample(rng);
                    if x.abs() <= 2.0 {
                        return x as f32;
                    }
                }
            })
            .collect::<Vec<f32>>()
    };
    if name.ends_with("norm1.weight") || name.ends_with("norm2.weight") || name == "norm.weight" {
        vec![1.0; n]
    } else if name == "cls_token" {
        normal(1e-6, rng)
    } else if name.starts_with("patch_embed") {
        // PyTorch's Conv2d default init: U(±1/√fan_in) for weight and bias alike.
        let bound = 1.0 / (fan_in as f64).sqrt();
        (0..n)
            .map(|_| (rand::Rng::random::<f64>(rng) * 2.0 - 1.0) as f32 * bound as f32)
            .collect()
    } else if name.ends_with(".bias") {
        vec![0.0; n]
    } else {
        normal(0.02, rng)
    }
}

/// Keys' cubic kernel with a = −0.5 (Pillow / PyTorch antialiased bicubic).
fn cubic_aa(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Weights of a 1-D antialiased bicubic resampling from `n_in` to `n_out` samples
/// (PyTorch `_upsample_bicubic2d_aa`, `align_corners=False`): for each output, the first input
/// index and the normalized weights.
fn aa_weights(n_in: usize, n_out: usize) -> Vec<(usize, Vec<f64>)> {
    let scale = n_in as f64 / n_out as f64;
    let support_scale = scale.max(1.0);
    let support = 2.0 * support_scale;
    (0..n_out)
        .map(|i| {
            let center = scale * (i as f64 + 0.5);
            let xmin = ((center - support + 0.5).floor().max(0.0)) as usize;
            let xmax = ((center + support + 0.5).floor() as usize).min(n_in);
            let mut w: Vec<f64> = (xmin..xmax)
                .map(|j| cubic_aa((j as f64 - center + 0.5) / support_scale))
                .collect();
            let total: f64 = w.iter().sum();
            if total != 0.0 {
                w.iter_mut().for_each(|x| *x /= total);
            }
            (xmin, w)
        })
        .collect()
}

/// Resample a `[g_old*g_old, d]` grid of position embeddings to `[g_new*g_new, d]` as timm's
/// `resample_abs_pos_embed(..., interpolation='bicubic', antialias=True)`.
pub fn resample_pos_embed(grid: &[f32], g_old: usize, g_new: usize, d: usize) -> Vec<f32> {
    let w = aa_weights(g_old, g_new);
    // Horizontal pass: [g_old rows, g_new cols, d]
    let mut tmp = vec![0f64; g_old * g_new * d];
    for r in 0..g_old {
        for (c, (start, ws)) in w.iter().enumerate() {
            for (k, wk) in ws.iter().enumerate() {
                let src = (r * g_old + start + k) * d;
                let dst = (r * g_new + c) * d;
                for ch in 0..d {
                    tmp[dst + ch] += wk * grid[src + ch] as f64;
                }
            }
        }
    }
    // Vertical pass.
    let mut out = vec![0f64; g_new * g_new * d];
    for (r, (start, ws)) in w.iter().enumerate() {
        for c in 0..g_new {
            for (k, wk) in ws.iter().enumerate() {
                let src = ((start + k) * g_new + c) * d;
                let dst = (r * g_new + c) * d;
                for ch in 0..d {
                    out[dst + ch] += wk * tmp[src + ch];
                }
            }
        }
    }
    out.into_iter().map(|x| x as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_resample_is_exact() {
        let grid: Vec<f32> = (0..4 * 4 * 2).map(|x| x as f32).collect();
        let out = resample_pos_embed(&grid, 4, 4, 2);
        for (a, b) in grid.iter().zip(&out) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    #[test]
    fn roundtrip_and_errors() {
        let cfg = VitConfig::vit_test_patch8_32(3);
        let ck = Checkpoint::random(cfg.clone(), default_classes(3), Preprocess::timm_vit(32), 1)
            .unwrap();
        let bytes = ck.to_bytes().unwrap();
        let back =
            Checkpoint::from_bytes(&bytes, Path::new("x.safetensors"), &LoadOptions::default())
                .unwrap();
        assert_eq!(back.config, cfg);
        assert_eq!(back.layout, Layout::Scenebench);
        assert_eq!(
            back.tensor_f32("blocks.1.attn.qkv.weight").unwrap(),
            ck.tensor_f32("blocks.1.attn.qkv.weight").unwrap()
        );

        let mut bad = ck.clone();
        bad.tensors.insert(
            "blocks.0.mlp.fc1.weight".into(),
            Tensor::zeros((5, 64), DType::F32, &Device::Cpu).unwrap(),
        );
        let err = bad.check().unwrap_err().to_string();
        assert!(
            err.contains("blocks.0.mlp.fc1.weight")
                && err.contains("[5, 64]")
                && err.contains("[128, 64]"),
            "{err}"
        );

        let mut missing = ck.clone();
        missing.tensors.remove("norm.bias");
        assert!(missing
            .check()
            .unwrap_err()
            .to_string()
            .contains("missing tensor `norm.bias`"));

        let mut extra = ck.clone();
        extra.tensors.insert(
            "blocks.9.norm1.weight".into(),
            Tensor::zeros(64, DType::F32, &Device::Cpu).unwrap(),
        );
        assert!(extra
            .check()
            .unwrap_err()
            .to_string()
            .contains("unexpected tensor `blocks.9.norm1.weight`"));
    }
}

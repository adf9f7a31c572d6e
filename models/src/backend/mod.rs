//! Inference backends: one trait, three engines (candle, ONNX Runtime, tract).
//!
//! Loading is not running (tract's `Runtime::prepare` / `Runnable` split): [`prepare`] loads and
//! compiles a model and is timed as `load`; [`Backend::run`] is inference and is timed as latency.
//! Every backend reports exactly what ran ([`BackendInfo`]) and never falls back to another
//! engine or device: a failure to get what was asked for is an error.

pub mod candle;
pub mod ort;
pub mod tract;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Candle,
    Ort,
    Tract,
}

impl BackendKind {
    pub const ALL: [BackendKind; 3] = [BackendKind::Candle, BackendKind::Ort, BackendKind::Tract];

    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Candle => "candle",
            BackendKind::Ort => "ort",
            BackendKind::Tract => "tract",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BackendKind {
    type Err = BackendError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "candle" => Ok(BackendKind::Candle),
            "ort" | "onnxruntime" => Ok(BackendKind::Ort),
            "tract" => Ok(BackendKind::Tract),
            other => Err(BackendError::Unsupported(format!(
                "unknown backend {other:?} (expected candle, ort or tract)"
            ))),
        }
    }
}

/// What actually ran. Written into every latency and prediction row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendInfo {
    pub kind: BackendKind,
    /// Engine name and version, e.g. `candle 0.11.1`, `onnxruntime 1.31.0`, `tract 0.23.9`.
    pub engine_version: String,
    /// Device, e.g. `cpu`, `cuda:0`.
    pub device: String,
    /// Intra-op threads actually configured.
    pub threads: usize,
    /// `fp32` (all desktop engines run fp32).
    pub precision: String,
}

/// What to load.
#[derive(Debug, Clone)]
pub struct ModelSource {
    /// scenebench checkpoint (safetensors) — used by candle.
    pub checkpoint: PathBuf,
    /// ONNX file exported from that checkpoint — used by ORT and tract.
    pub onnx: Option<PathBuf>,
}

/// Options common to every backend.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    /// Intra-op threads (>= 1).
    pub threads: usize,
    /// Largest batch the caller will run (tract optimizes for a concrete batch).
    pub batch_size: usize,
    /// Device for candle: `cpu` or `cuda:N`.
    pub device: String,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        Self {
            threads: 1,
            batch_size: 1,
            device: "cpu".into(),
        }
    }
}

/// Errors from loading or running a backend.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{0}")]
    Unsupported(String),
    #[error("ONNX Runtime library not available: {0}")]
    OrtLibrary(String),
    #[error("{engine}: {message}")]
    Engine {
        engine: &'static str,
        message: String,
    },
    #[error("input has {got} values, expected {expected} (batch {batch} × 3 × {size} × {size})")]
    InputShape {
        got: usize,
        expected: usize,
        batch: usize,
        size: usize,
    },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
}

/// A loaded model on one engine.
pub trait Backend: Send {
    /// What ran.
    fn info(&self) -> &BackendInfo;
    /// Number of classes (logits per image).
    fn num_classes(&self) -> usize;
    /// Input side length.
    fn image_size(&self) -> usize;
    /// Run a batch: `input` is `[batch, 3, H, W]` float32 row-major (already preprocessed);
    /// returns `[batch, num_classes]` logits row-major.
    fn run(&mut self, input: &[f32], batch: usize) -> Result<Vec<f32>, BackendError>;
}

/// Load `source` on `kind`.
pub fn prepare(
    kind: BackendKind,
    source: &ModelSource,
    opts: &PrepareOptions,
) -> Result<Box<dyn Backend>, BackendError> {
    match kind {
        BackendKind::Candle => Ok(Box::new(candle::CandleBackend::prepare(source, opts)?)),
        BackendKind::Ort => Ok(Box::new(ort::OrtBackend::prepare(source, opts)?)),
        BackendKind::Tract => Ok(Box::new(tract::TractBackend::prepare(source, opts)?)),
    }
}

/// Check an input buffer's length.
pub fn check_input(input: &[f32], batch: usize, size: usize) -> Result<(), BackendError> {
    let expected = batch * 3 * size * size;
    if input.len() != expected {
        return Err(BackendError::InputShape {
            got: input.len(),
            expected,
            batch,
            size,
        });
    }
    Ok(())
}

//! The candle backend: scenebench's own ViT ([`crate::vit`]) on candle's CPU (or CUDA) device.
//!
//! Thread control: candle's matmuls run on rayon; each backend owns a rayon pool of exactly
//! `threads` workers and runs inside it, so the reported thread count is what ran. The AVX-512
//! matrix kernels come from the `gemm` crate's `x86-v4` feature (unified through the workspace);
//! gemm selects kernels at run time, so CPUs without AVX-512 use their AVX2/SSE paths.

use candle_core::{Device, Tensor};

use super::{
    check_input, Backend, BackendError, BackendInfo, BackendKind, ModelSource, PrepareOptions,
};
use crate::checkpoint::Checkpoint;
use crate::vit::VisionTransformer;

/// candle's version (the one this crate is built against).
pub const CANDLE_VERSION: &str = "0.11.1";

/// A ViT on candle.
pub struct CandleBackend {
    model: VisionTransformer,
    device: Device,
    pool: rayon::ThreadPool,
    info: BackendInfo,
}

fn engine_err(e: impl std::fmt::Display) -> BackendError {
    BackendError::Engine {
        engine: "candle",
        message: e.to_string(),
    }
}

/// Parse `cpu` / `cuda` / `cuda:N` into a candle device. A CUDA request on a build without the
/// `cuda` feature is an error, never a silent CPU run.
pub fn parse_device(spec: &str) -> Result<Device, BackendError> {
    match spec {
        "cpu" => Ok(Device::Cpu),
        s if s == "cuda" || s.starts_with("cuda:") => {
            let ordinal: usize = s
                .strip_prefix("cuda:")
                .unwrap_or("0")
                .parse()
                .map_err(|_| {
                    BackendError::Unsupported(format!("bad device {s:?} (expected cpu or cuda:N)"))
                })?;
            if !candle_core::utils::cuda_is_available() {
                return Err(BackendError::Unsupported(format!(
                    "device {s} requested but this build has no CUDA support (rebuild with --features cuda)"
                )));
            }
            Device::new_cuda(ordinal).map_err(engine_err)
        }
        other => Err(BackendError::Unsupported(format!(
            "unknown device {other:?} (expected cpu or cuda:N)"
        ))),
    }
}

impl CandleBackend {
    /// Load from a checkpoint.
    pub fn prepare(source: &ModelSource, opts: &PrepareOptions) -> Result<Self, BackendError> {
        let ck = Checkpoint::load(&source.checkpoint)?;
        Self::from_checkpoint(&ck, opts)
    }

    /// Build from a checkpoint already in memory.
    pub fn from_checkpoint(ck: &Checkpoint, opts: &PrepareOptions) -> Result<Self, BackendError> {
        let threads = opts.threads.max(1);
        let device = parse_device(&opts.device)?;
        let mut model = VisionTransformer::from_checkpoint(ck, &device)?;
        model.use_inference_kernels(true);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("candle-{i}"))
            .build()
            .map_err(engine_err)?;
        Ok(Self {
            model,
            info: BackendInfo {
                kind: BackendKind::Candle,
                engine_version: format!("candle {CANDLE_VERSION}"),
                device: opts.device.clone(),
                threads,
                precision: "fp32".into(),
            },
            device,
            pool,
        })
    }

    /// The model.
    pub fn model(&self) -> &VisionTransformer {
        &self.model
    }
}

impl Backend for CandleBackend {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn num_classes(&self) -> usize {
        self.model.config().num_classes
    }

    fn image_size(&self) -> usize {
        self.model.config().image_size
    }

    fn run(&mut self, input: &[f32], batch: usize) -> Result<Vec<f32>, BackendError> {
        let s = self.image_size();
        check_input(input, batch, s)?;
        let device = &self.device;
        let model = &self.model;
        self.pool.install(|| {
            let x = Tensor::from_slice(input, (batch, 3, s, s), device).map_err(engine_err)?;
            let y = model.forward(&x).map_err(engine_err)?;
            y.flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(engine_err)
        })
    }
}

//! tract backend: the exported ONNX model run by `tract-onnx` 0.23 (Sonos' pure-Rust inference
//! engine, <https://github.com/sonos/tract>), fp32 on the CPU.
//!
//! tract optimizes for concrete shapes, so [`TractBackend::prepare`] fixes the batch dimension to
//! [`PrepareOptions::batch_size`], then runs tract's `into_optimized` and builds a runnable plan
//! (the work timed as `load`). A batch of another size is prepared lazily on first use and kept;
//! that first call includes the optimization time, so benchmarks should prepare the batch size they
//! time.
//!
//! Threads: tract's matrix kernels are multi-threaded through `tract-linalg`'s `multithread-mm`
//! feature and an `Executor`. Each plan carries its own executor (`RunOptions::executor`, applied by
//! tract as a thread-local override while that plan runs): a private rayon pool of
//! [`PrepareOptions::threads`] threads, or the single-threaded executor for 1. Nothing is set
//! process-wide, so backends with different thread counts coexist. Only the matrix products are
//! parallel; element-wise ops, softmax and layer norm run on the calling thread.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tract_linalg::multithread::Executor;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::runtime::RunOptions;

use super::{
    check_input, Backend, BackendError, BackendInfo, BackendKind, ModelSource, PrepareOptions,
};

/// Version of `tract-onnx` this crate is built against (checked against `Cargo.lock` by a test).
pub const TRACT_VERSION: &str = "0.23.9";

type Plan = Arc<TypedRunnableModel>;

fn engine(e: impl std::fmt::Display) -> BackendError {
    BackendError::Engine {
        engine: "tract",
        message: format!("{e:#}"),
    }
}

/// A model prepared by tract, one optimized plan per batch size.
pub struct TractBackend {
    info: BackendInfo,
    /// The decoded ONNX model with a symbolic batch, kept to prepare other batch sizes.
    model: InferenceModel,
    plans: HashMap<usize, Plan>,
    executor: Executor,
    num_classes: usize,
    image_size: usize,
    origin: PathBuf,
}

impl std::fmt::Debug for TractBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TractBackend")
            .field("info", &self.info)
            .field("batches", &self.plans.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl TractBackend {
    /// Load `source.onnx`, or, when there is none, export `source.checkpoint` to ONNX in memory;
    /// optimize for `opts.batch_size`.
    pub fn prepare(source: &ModelSource, opts: &PrepareOptions) -> Result<Self, BackendError> {
        if opts.device != "cpu" {
            return Err(BackendError::Unsupported(format!(
                "the tract backend runs on the CPU only (asked for device {:?})",
                opts.device
            )));
        }
        if opts.threads == 0 || opts.batch_size == 0 {
            return Err(BackendError::Unsupported(
                "threads and batch size must be at least 1".into(),
            ));
        }
        // The model's bytes: the file, or the checkpoint exported in memory.
        let (bytes, origin) = match &source.onnx {
            Some(path) => {
                let b = std::fs::read(path).map_err(|e| BackendError::File {
                    path: path.clone(),
                    message: format!("cannot read: {e}"),
                })?;
                (b, path.clone())
            }
            None => {
                let ck = crate::checkpoint::Checkpoint::load(&source.checkpoint)?;
                let b = crate::onnx::to_onnx_bytes(&ck).map_err(|e| BackendError::File {
                    path: source.checkpoint.clone(),
                    message: format!("ONNX export failed: {e}"),
                })?;
                (b, source.checkpoint.clone())
            }
        };
        let bad = |message: String| BackendError::File {
            path: origin.clone(),
            message,
        };
        // Input/output shapes from the protobuf itself (tract's inference facts keep the symbolic
        // batch, which is what `with_input_fact` replaces below).
        let io =
            crate::onnx::graph_io(&bytes).map_err(|e| bad(format!("not an ONNX model: {e}")))?;
        if io.input.len() != 1 || io.output.len() != 1 {
            return Err(bad(format!(
                "expected 1 input and 1 output, found {} and {}",
                io.input.len(),
                io.output.len()
            )));
        }
        let image_size = match crate::onnx::value_dims(&io.input[0]).as_slice() {
            [_, Ok(3), Ok(h), Ok(w)] if h == w && *h > 0 => *h as usize,
            other => {
                return Err(bad(format!(
                    "input {} has shape {other:?}, expected [N,3,S,S] with S fixed",
                    io.input[0].name
                )))
            }
        };
        let model = tract_onnx::onnx()
            .model_for_read(&mut bytes.as_slice())
            .map_err(|e| bad(format!("tract could not load the model: {e:#}")))?;
        drop(bytes);
        let executor = if opts.threads == 1 {
            Executor::SingleThread
        } else {
            Executor::multithread_with_name(opts.threads, "scenebench-tract")
        };
        let mut backend = Self {
            info: BackendInfo {
                kind: BackendKind::Tract,
                engine_version: format!("tract {TRACT_VERSION}"),
                device: "cpu".into(),
                threads: opts.threads,
                precision: "fp32".into(),
            },
            model,
            plans: HashMap::new(),
            executor,
            num_classes: 0,
            image_size,
            origin: origin.clone(),
        };
        let plan = backend.plan_for(opts.batch_size)?;
        let out = plan.model().output_fact(0).map_err(engine)?;
        backend.num_classes = match out.shape.as_concrete() {
            Some(&[n, c]) if n == opts.batch_size && c > 0 => c,
            other => {
                return Err(bad(format!(
                    "output shape {other:?}, expected [{}, C]",
                    opts.batch_size
                )))
            }
        };
        Ok(backend)
    }

    /// The plan optimized for `batch`, built on first use.
    fn plan_for(&mut self, batch: usize) -> Result<Plan, BackendError> {
        if let Some(p) = self.plans.get(&batch) {
            return Ok(p.clone());
        }
        let s = self.image_size;
        let typed = self
            .model
            .clone()
            .with_input_fact(0, f32::fact([batch, 3, s, s]).into())
            .and_then(|m| m.into_optimized())
            .map_err(|e| BackendError::File {
                path: self.origin.clone(),
                message: format!("tract could not optimize the model for batch {batch}: {e:#}"),
            })?;
        let options = RunOptions {
            executor: Some(self.executor.clone()),
            ..Default::default()
        };
        let plan = typed.into_runnable_with_options(&options).map_err(engine)?;
        self.plans.insert(batch, plan.clone());
        Ok(plan)
    }

    /// Batch sizes that have an optimized plan.
    pub fn prepared_batches(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.plans.keys().copied().collect();
        v.sort_unstable();
        v
    }
}

impl Backend for TractBackend {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn image_size(&self) -> usize {
        self.image_size
    }

    fn run(&mut self, input: &[f32], batch: usize) -> Result<Vec<f32>, BackendError> {
        let s = self.image_size;
        check_input(input, batch, s)?;
        let plan = self.plan_for(batch)?;
        let x = Tensor::from_shape(&[batch, 3, s, s], input).map_err(engine)?;
        let out = plan.run(tvec!(x.into())).map_err(engine)?;
        let y = out
            .first()
            .ok_or_else(|| engine("the model produced no output"))?;
        if y.shape() != [batch, self.num_classes] {
            return Err(engine(format!(
                "output has shape {:?}, expected [{batch}, {}]",
                y.shape(),
                self.num_classes
            )));
        }
        Ok(y.to_plain_array_view::<f32>()
            .map_err(engine)?
            .iter()
            .copied()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reported engine version must be the one that is linked.
    #[test]
    fn tract_version_matches_cargo_lock() {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
            .expect("Cargo.lock");
        let entry = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"tract-onnx\"\n"))
            .expect("tract-onnx in Cargo.lock");
        assert!(
            entry.contains(&format!("version = \"{TRACT_VERSION}\"")),
            "TRACT_VERSION {TRACT_VERSION} does not match Cargo.lock: {entry}"
        );
    }
}

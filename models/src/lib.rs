//! scenebench models: the Vision Transformer written out in candle, its checkpoints (timm and
//! Hugging Face layouts), evaluation preprocessing, datasets and augmentation, training, the ONNX
//! writer, Grad-CAM, CoreML export and the inference backends (candle, ONNX Runtime, tract).
//!
//! The ViT follows Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021, with timm's
//! `VisionTransformer` parameter layout (see `docs/checkpoint-format.md`).

pub mod augment;
pub mod backend;
pub mod checkpoint;
pub mod config;
pub mod coreml;
pub mod data;
pub mod fractal;
pub mod gallery;
pub mod gradcam;
pub mod onnx;
pub mod preprocess;
pub mod train;
pub mod vit;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use config::VitConfig;
pub use preprocess::Preprocess;
pub use vit::VisionTransformer;

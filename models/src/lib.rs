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

/// The scenebench checkout whose `.cache/` (ONNX Runtime, pretrained models, exports) commands
/// use: `SCENEBENCH_ROOT`, else the first directory at or above the current one that holds
/// `.cache/onnxruntime` or a workspace `Cargo.toml`.
pub fn repo_root() -> Option<std::path::PathBuf> {
    if let Some(root) = std::env::var_os("SCENEBENCH_ROOT").filter(|s| !s.is_empty()) {
        return Some(std::path::PathBuf::from(root));
    }
    let cwd = std::env::current_dir().ok()?;
    for dir in cwd.ancestors() {
        if dir.join(backend::ort::CACHE_DIR).is_dir() {
            return Some(dir.to_path_buf());
        }
        if let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) {
            if text.lines().any(|l| l.trim() == "[workspace]") {
                return Some(dir.to_path_buf());
            }
        }
    }
    None
}

//! ViT configurations, named after the checkpoints they match (timm's `vit_*_patch*_*` names).
//!
//! Dosovitskiy et al., ICLR 2021 (ViT-B/16); Touvron et al., ICML 2021 (DeiT-Ti/S sizes, which timm
//! uses for `vit_tiny` / `vit_small`). `vit_micro_patch8_64` is scenebench's own CPU config for the
//! offline default (see [`VitConfig::vit_micro_patch8_64`]).

use serde::{Deserialize, Serialize};

/// Hyper-parameters of a ViT. Serialized into every checkpoint's metadata (`scenebench.config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VitConfig {
    /// Configuration name (timm model name for the standard sizes).
    pub name: String,
    /// Input height = width in pixels.
    pub image_size: usize,
    /// Patch height = width in pixels (the patch-embedding conv's kernel and stride).
    pub patch_size: usize,
    /// Input channels (3).
    pub in_chans: usize,
    /// Token width D.
    pub embed_dim: usize,
    /// Number of encoder blocks L.
    pub depth: usize,
    /// Attention heads; `embed_dim` must be divisible by it.
    pub num_heads: usize,
    /// Hidden width of the MLP.
    pub mlp_dim: usize,
    /// Classes of the linear head.
    pub num_classes: usize,
    /// LayerNorm epsilon: 1e-6 in timm, 1e-12 in Hugging Face `ViTModel`.
    pub layer_norm_eps: f64,
}

impl VitConfig {
    fn named(
        name: &str,
        image_size: usize,
        patch_size: usize,
        embed_dim: usize,
        depth: usize,
        num_heads: usize,
        num_classes: usize,
    ) -> Self {
        Self {
            name: name.to_string(),
            image_size,
            patch_size,
            in_chans: 3,
            embed_dim,
            depth,
            num_heads,
            mlp_dim: 4 * embed_dim,
            num_classes,
            layer_norm_eps: 1e-6,
        }
    }

    /// ViT-B/16 at 224 (86M parameters, 17.6 GMACs = 35.1 GFLOP per image).
    pub fn vit_base_patch16_224(num_classes: usize) -> Self {
        Self::named("vit_base_patch16_224", 224, 16, 768, 12, 12, num_classes)
    }

    /// ViT-S/16 at 224 (22M parameters).
    pub fn vit_small_patch16_224(num_classes: usize) -> Self {
        Self::named("vit_small_patch16_224", 224, 16, 384, 12, 6, num_classes)
    }

    /// ViT-Ti/16 at 224 (5.7M parameters).
    pub fn vit_tiny_patch16_224(num_classes: usize) -> Self {
        Self::named("vit_tiny_patch16_224", 224, 16, 192, 12, 3, num_classes)
    }

    /// scenebench's CPU config for the offline default: 64×64 input, 8×8 patches (an 8×8 grid, 65
    /// tokens), width 192, depth 6, 3 heads of 64, MLP 768: about 2.7M parameters and 0.36 GFLOP
    /// per image. It is the size of the measured PyTorch reference for fractal pretraining
    /// (`shared/reference/fdsl-pretraining.md`), so scenebench's numbers can be compared with
    /// it, and it keeps ViT-B/16's head width of 64 so attention behaves like the big model's.
    /// A forward+backward step costs ~1/100 of ViT-B/16's, which lets pretraining, two training
    /// runs and the suites fit the default run's budget on 2 cores.
    pub fn vit_micro_patch8_64(num_classes: usize) -> Self {
        Self::named("vit_micro_patch8_64", 64, 8, 192, 6, 3, num_classes)
    }

    /// A tiny config for tests and fixtures (matches `tools/fixtures/make_timm_fixture.py`).
    pub fn vit_test_patch8_32(num_classes: usize) -> Self {
        Self {
            mlp_dim: 128,
            ..Self::named("vit_test_patch8_32", 32, 8, 64, 2, 4, num_classes)
        }
    }

    /// Look a configuration up by name.
    pub fn by_name(name: &str, num_classes: usize) -> Option<Self> {
        Some(match name {
            "vit_base_patch16_224" => Self::vit_base_patch16_224(num_classes),
            "vit_small_patch16_224" => Self::vit_small_patch16_224(num_classes),
            "vit_tiny_patch16_224" => Self::vit_tiny_patch16_224(num_classes),
            "vit_micro_patch8_64" => Self::vit_micro_patch8_64(num_classes),
            "vit_test_patch8_32" => Self::vit_test_patch8_32(num_classes),
            _ => return None,
        })
    }

    /// Names accepted by [`VitConfig::by_name`].
    pub const NAMES: [&'static str; 5] = [
        "vit_base_patch16_224",
        "vit_small_patch16_224",
        "vit_tiny_patch16_224",
        "vit_micro_patch8_64",
        "vit_test_patch8_32",
    ];

    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Tokens per image including CLS.
    pub fn num_tokens(&self) -> usize {
        self.grid() * self.grid() + 1
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.embed_dim / self.num_heads
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        let d = self.embed_dim;
        let m = self.mlp_dim;
        let p = self.patch_size;
        let embed = d * self.in_chans * p * p + d + d + self.num_tokens() * d;
        let block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (m * d + m) + (d * m + d);
        embed + self.depth * block + 2 * d + self.num_classes * d + self.num_classes
    }

    /// Forward FLOPs for one image (2 per multiply-add; matmuls and convolution only).
    pub fn flops_per_image(&self) -> f64 {
        let d = self.embed_dim as f64;
        let m = self.mlp_dim as f64;
        let t = self.num_tokens() as f64;
        let g2 = (self.grid() * self.grid()) as f64;
        let p2 = (self.patch_size * self.patch_size * self.in_chans) as f64;
        let patch = 2.0 * g2 * p2 * d;
        let block = 2.0 * t * (3.0 * d * d + d * d + 2.0 * d * m) + 2.0 * 2.0 * t * t * d;
        patch + self.depth as f64 * block + 2.0 * d * self.num_classes as f64
    }

    /// Check internal consistency.
    pub fn validate(&self) -> Result<(), String> {
        if self.patch_size == 0 || self.image_size % self.patch_size != 0 {
            return Err(format!(
                "image_size {} is not a multiple of patch_size {}",
                self.image_size, self.patch_size
            ));
        }
        if self.num_heads == 0 || self.embed_dim % self.num_heads != 0 {
            return Err(format!(
                "embed_dim {} is not divisible by num_heads {}",
                self.embed_dim, self.num_heads
            ));
        }
        if self.num_classes == 0 || self.depth == 0 {
            return Err("num_classes and depth must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vit_b16_matches_published_size() {
        let c = VitConfig::vit_base_patch16_224(1000);
        // timm reports 86,567,656 parameters for vit_base_patch16_224.
        assert_eq!(c.num_params(), 86_567_656);
        // 17.56 GMACs (timm / fvcore) = 35.1 GFLOP.
        let gflop = c.flops_per_image() / 1e9;
        assert!((gflop - 35.1).abs() < 0.2, "{gflop}");
    }
}

//! The Vision Transformer, written out layer by layer on candle tensors.
//!
//! Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition at
//! Scale", ICLR 2021, in the pre-norm form and parameter layout of timm's `VisionTransformer`
//! (`timm/models/vision_transformer.py`): a Conv2d patch embedding with kernel = stride = patch
//! size, a learnable `[CLS]` token, learnable position embeddings, `depth` encoder blocks
//! `x + Attn(LN(x))`, `x + MLP(LN(x))`, a final LayerNorm and a linear head on the CLS token.
//!
//! Every layer here is plain tensor algebra (matmul, reductions, `exp`, `erf`-GELU) so candle's
//! autograd differentiates through all of it — training and Grad-CAM use this same code.

use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{Init, VarBuilder};

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::config::VitConfig;

/// `y = x Wᵀ + b` over the last dimension of a tensor of any rank.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    fn new(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints((out_dim, in_dim), "weight", trunc_normal_002())?;
        let bias = vb.get_with_hints(out_dim, "bias", Init::Const(0.0))?;
        Ok(Self { weight, bias })
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let in_dim = *dims.last().expect("linear input has rank >= 1");
        let rows = x.elem_count() / in_dim;
        let y = x
            .reshape((rows, in_dim))?
            .matmul(&self.weight.t()?)?
            .broadcast_add(&self.bias)?;
        let mut out_dims = dims;
        *out_dims.last_mut().expect("rank >= 1") = self.weight.dim(0)?;
        y.reshape(out_dims)
    }
}

/// Layer normalization over the last dimension (Ba et al., 2016):
/// `(x - mean) / sqrt(var + eps) * weight + bias`, biased variance as in PyTorch.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
    /// Use candle's fused kernel (inference only: it has no backward).
    fused: bool,
}

impl LayerNorm {
    fn new(dim: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints(dim, "weight", Init::Const(1.0))?;
        let bias = vb.get_with_hints(dim, "bias", Init::Const(0.0))?;
        Ok(Self {
            weight,
            bias,
            eps,
            fused: false,
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.fused {
            return candle_nn::ops::layer_norm(
                &x.contiguous()?,
                &self.weight,
                &self.bias,
                self.eps as f32,
            );
        }
        let mean = x.mean_keepdim(D::Minus1)?;
        let centered = x.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        normed
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

/// Softmax over the last dimension, shifted by the (detached) row maximum for stability.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

/// Multi-head self-attention with a fused qkv projection:
/// `softmax(Q Kᵀ / √d_k) V` per head (Vaswani et al., NeurIPS 2017), then an output projection.
#[derive(Debug, Clone)]
pub struct Attention {
    qkv: Linear,
    proj: Linear,
    num_heads: usize,
    head_dim: usize,
    fused: bool,
}

impl Attention {
    fn new(cfg: &VitConfig, vb: VarBuilder) -> Result<Self> {
        let d = cfg.embed_dim;
        Ok(Self {
            qkv: Linear::new(d, 3 * d, vb.pp("qkv"))?,
            proj: Linear::new(d, d, vb.pp("proj"))?,
            num_heads: cfg.num_heads,
            head_dim: cfg.head_dim(),
            fused: false,
        })
    }
}

impl Module for Attention {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (n, t, d) = x.dims3()?;
        // [N, T, 3D] -> [N, T, 3, H, dh] -> [3, N, H, T, dh]
        let qkv = self
            .qkv
            .forward(x)?
            .reshape((n, t, 3, self.num_heads, self.head_dim))?
            .permute((2, 0, 3, 1, 4))?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let q = (qkv.get(0)?.contiguous()? * scale)?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let scores = q.matmul(&k.t()?)?; // [N, H, T, T]
        let attn = if self.fused {
            candle_nn::ops::softmax_last_dim(&scores)?
        } else {
            softmax_last_dim(&scores)?
        };
        let y = attn.matmul(&v)?; // [N, H, T, dh]
        let y = y.transpose(1, 2)?.contiguous()?.reshape((n, t, d))?;
        self.proj.forward(&y)
    }
}

/// The MLP of a block: `fc2(GELU(fc1(x)))` with the exact (erf) GELU.
#[derive(Debug, Clone)]
pub struct Mlp {
    fc1: Linear,
    fc2: Linear,
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.fc2.forward(&self.fc1.forward(x)?.gelu_erf()?)
    }
}

/// A pre-norm encoder block.
#[derive(Debug, Clone)]
pub struct Block {
    norm1: LayerNorm,
    attn: Attention,
    norm2: LayerNorm,
    mlp: Mlp,
}

impl Block {
    fn new(cfg: &VitConfig, vb: VarBuilder) -> Result<Self> {
        let d = cfg.embed_dim;
        Ok(Self {
            norm1: LayerNorm::new(d, cfg.layer_norm_eps, vb.pp("norm1"))?,
            attn: Attention::new(cfg, vb.pp("attn"))?,
            norm2: LayerNorm::new(d, cfg.layer_norm_eps, vb.pp("norm2"))?,
            mlp: Mlp {
                fc1: Linear::new(d, cfg.mlp_dim, vb.pp("mlp").pp("fc1"))?,
                fc2: Linear::new(cfg.mlp_dim, d, vb.pp("mlp").pp("fc2"))?,
            },
        })
    }
}

impl Block {
    /// The first LayerNorm's output: the tokens this block's attention reads.
    pub fn norm1_out(&self, x: &Tensor) -> Result<Tensor> {
        self.norm1.forward(x)
    }

    /// Finish the block from its input `x` and a given `norm1(x)` (which may be a variable, so
    /// that gradients with respect to it can be taken).
    pub fn forward_from_norm1(&self, x: &Tensor, normed: &Tensor) -> Result<Tensor> {
        let x = (x + self.attn.forward(normed)?)?;
        &x + self.mlp.forward(&self.norm2.forward(&x)?)?
    }
}

impl Module for Block {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.norm1.forward(x)?)?)?;
        &x + self.mlp.forward(&self.norm2.forward(&x)?)?
    }
}

/// The whole model. Parameter paths are timm's (`patch_embed.proj`, `blocks.N.attn.qkv`, …).
#[derive(Debug, Clone)]
pub struct VisionTransformer {
    config: VitConfig,
    patch_weight: Tensor,
    patch_bias: Tensor,
    cls_token: Tensor,
    pos_embed: Tensor,
    blocks: Vec<Block>,
    norm: LayerNorm,
    head: Linear,
}

fn trunc_normal_002() -> Init {
    // timm initialises linear layers and position embeddings with trunc_normal(std=0.02);
    // candle has no truncated normal, and at 0.02 the truncation at ±2 is irrelevant here
    // (the fixture tests load weights, they never depend on the init).
    Init::Randn {
        mean: 0.0,
        stdev: 0.02,
    }
}

impl VisionTransformer {
    /// Build from a `VarBuilder` whose paths follow timm's names. With a `VarMap`-backed builder
    /// missing parameters are created with timm-like initialisation (training from scratch).
    pub fn new(config: &VitConfig, vb: VarBuilder) -> Result<Self> {
        config.validate().map_err(candle_core::Error::msg)?;
        let d = config.embed_dim;
        let p = config.patch_size;
        let fan_in = (config.in_chans * p * p) as f64;
        let bound = 1.0 / fan_in.sqrt();
        let patch_weight = vb.get_with_hints(
            (d, config.in_chans, p, p),
            "patch_embed.proj.weight",
            Init::Uniform {
                lo: -bound,
                up: bound,
            },
        )?;
        let patch_bias = vb.get_with_hints(
            d,
            "patch_embed.proj.bias",
            Init::Uniform {
                lo: -bound,
                up: bound,
            },
        )?;
        let cls_token = vb.get_with_hints(
            (1, 1, d),
            "cls_token",
            Init::Randn {
                mean: 0.0,
                stdev: 1e-6,
            },
        )?;
        let pos_embed =
            vb.get_with_hints((1, config.num_tokens(), d), "pos_embed", trunc_normal_002())?;
        let blocks = (0..config.depth)
            .map(|i| Block::new(config, vb.pp(format!("blocks.{i}"))))
            .collect::<Result<Vec<_>>>()?;
        let norm = LayerNorm::new(d, config.layer_norm_eps, vb.pp("norm"))?;
        let head = Linear::new(d, config.num_classes, vb.pp("head"))?;
        Ok(Self {
            config: config.clone(),
            patch_weight,
            patch_bias,
            cls_token,
            pos_embed,
            blocks,
            norm,
            head,
        })
    }

    /// Build from a loaded checkpoint on a device.
    pub fn from_checkpoint(
        ck: &Checkpoint,
        device: &Device,
    ) -> std::result::Result<Self, CheckpointError> {
        let tensors = ck
            .tensors
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.to_device(device)?)))
            .collect::<Result<std::collections::HashMap<_, _>>>()?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        Ok(Self::new(&ck.config, vb)?)
    }

    /// Switch LayerNorm and the attention softmax to candle's fused kernels (same math, fewer
    /// passes over memory). They have no backward, so this is for inference only: training and
    /// Grad-CAM keep the written-out ops.
    pub fn use_inference_kernels(&mut self, on: bool) {
        for b in &mut self.blocks {
            b.norm1.fused = on;
            b.norm2.fused = on;
            b.attn.fused = on;
        }
        self.norm.fused = on;
    }

    /// The configuration.
    pub fn config(&self) -> &VitConfig {
        &self.config
    }

    /// Patch embedding + CLS + position embedding: `[N,3,H,W]` → `[N,T,D]`.
    pub fn embed(&self, x: &Tensor) -> Result<Tensor> {
        let (n, _c, h, w) = x.dims4()?;
        if h != self.config.image_size || w != self.config.image_size {
            candle_core::bail!(
                "input is {h}×{w}, the model expects {}×{}",
                self.config.image_size,
                self.config.image_size
            );
        }
        // The patch embedding is a Conv2d with kernel = stride = P. With non-overlapping
        // windows that convolution is exactly "cut into P×P patches, then one matrix product"
        // (im2col + GEMM, which is how CPU convolutions are computed anyway), written out here
        // because candle's conv2d backward also computes the input gradient with a slow
        // transposed convolution that training never needs.
        let p = self.config.patch_size;
        let g = self.config.grid();
        let c = self.config.in_chans;
        let d = self.config.embed_dim;
        let patches = x
            .reshape((n, c, g, p, g, p))?
            .permute((0, 2, 4, 1, 3, 5))? // [N, G, G, C, P, P]
            .contiguous()?
            .reshape((n * g * g, c * p * p))?;
        let w = self.patch_weight.reshape((d, c * p * p))?;
        let patches = patches
            .matmul(&w.t()?)?
            .broadcast_add(&self.patch_bias)?
            .reshape((n, g * g, d))?;
        let cls = self.cls_token.broadcast_as((n, 1, d))?;
        Tensor::cat(&[&cls, &patches], 1)?.broadcast_add(&self.pos_embed)
    }

    /// Output tokens of the last encoder block (before the final norm): `[N,T,D]`.
    pub fn forward_tokens(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = self.embed(x)?;
        for block in &self.blocks {
            x = block.forward(&x)?;
        }
        Ok(x)
    }

    /// Final norm and head on the CLS token of the last block's output: `[N,T,D]` → `[N,C]`.
    pub fn head_from_tokens(&self, tokens: &Tensor) -> Result<Tensor> {
        // LayerNorm is per token, so normalizing only the CLS token is the same as timm's
        // `norm(x)[:, 0]`.
        let cls = tokens.narrow(1, 0, 1)?.squeeze(1)?;
        self.head.forward(&self.norm.forward(&cls)?)
    }

    /// The input of the last block and that block's `norm1` output (Grad-CAM's target layer).
    pub fn last_block_inputs(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let mut x = self.embed(x)?;
        let (last, rest) = self.blocks.split_last().expect("depth >= 1");
        for block in rest {
            x = block.forward(&x)?;
        }
        let normed = last.norm1_out(&x)?;
        Ok((x, normed))
    }

    /// Logits from the last block's input and its `norm1` output (see [`Self::last_block_inputs`]).
    pub fn forward_from_last_norm1(&self, block_in: &Tensor, normed: &Tensor) -> Result<Tensor> {
        let last = self.blocks.last().expect("depth >= 1");
        self.head_from_tokens(&last.forward_from_norm1(block_in, normed)?)
    }

    /// `[N,3,H,W]` normalized images → `[N,C]` logits.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.head_from_tokens(&self.forward_tokens(x)?)
    }
}

impl Module for VisionTransformer {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        VisionTransformer::forward(self, x)
    }
}

//! The ONNX writer: a scenebench checkpoint as an ONNX model, written by the project (no Python).
//!
//! Follows the ONNX IR specification (<https://github.com/onnx/onnx/blob/main/docs/IR.md>) and the
//! operator definitions of the default domain at opset 17
//! (<https://github.com/onnx/onnx/blob/main/docs/Operators.md>). The protobuf messages are the
//! hand-written subset in [`proto`], encoded with `prost`.
//!
//! The graph is timm's `VisionTransformer.forward` (Dosovitskiy et al., ICLR 2021), pre-norm:
//!
//! ```text
//! image [N,3,H,W] → Conv(k = s = P) → Reshape [N,D,G²] → Transpose [N,G²,D]
//!   → Concat(Expand(cls_token, [N,1,D]), ·) → + pos_embed
//!   → L × { x += proj(attn(LayerNorm₁(x)));  x += fc2(gelu(fc1(LayerNorm₂(x)))) }
//!   → LayerNorm → token 0 → Gemm(head) → logits [N,C]
//! ```
//!
//! * Attention: `qkv = x·Wᵀ + b` → Reshape `[N,T,3,H,dₕ]` → q, k, v by `Gather` on axis 2 →
//!   `softmax((q/√dₕ)·kᵀ)·v` → `[N,T,D]` → output projection.
//! * GELU is the exact erf form `0.5·x·(1 + erf(x/√2))` (the `Gelu` operator is opset 20).
//! * LayerNorm is `LayerNormalization` (opset 17) with the checkpoint's epsilon.
//! * The batch dimension is the symbolic `N`: reshapes use 0 ("copy this dimension") and −1, and
//!   the `[CLS]` token is expanded to the runtime batch with `Shape`/`Slice`/`Concat`/`Expand`.
//! * Weights are initializers with timm's names (linear weights stored transposed, `…weight_t`)
//!   as little-endian f32 `raw_data`.
//! * The checkpoint's config, class names, preprocessing and provenance go into
//!   `metadata_props` under the same keys as the safetensors header (`scenebench.config`, …).

pub mod proto;

use std::io::Write;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::checkpoint::{
    Checkpoint, CheckpointError, KEY_CLASSES, KEY_CONFIG, KEY_FORMAT_VERSION, KEY_PREPROCESS,
    KEY_PROVENANCE,
};
use crate::config::VitConfig;
use proto::{
    attribute_type, data_type, tensor_shape_proto, type_proto, AttributeProto, GraphProto,
    ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};

/// Default-domain opset the graph is written for.
pub const OPSET: i64 = 17;
/// ONNX IR version that goes with opset 17 (ONNX 1.12).
pub const IR_VERSION: i64 = 8;
/// Name of the graph input, `[N,3,H,W]` float32.
pub const INPUT_NAME: &str = "image";
/// Name of the graph output, `[N,C]` float32.
pub const OUTPUT_NAME: &str = "logits";
/// Symbolic name of the batch dimension.
pub const BATCH_DIM: &str = "N";

/// Errors from writing or reading an ONNX file.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("config {name}: {message}")]
    Config { name: String, message: String },
    #[error("tensor {name}: expected shape {expected:?}, found {found:?}")]
    Shape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a readable ONNX model: {message}")]
    Decode { path: PathBuf, message: String },
    #[error("metadata {key}: {message}")]
    Metadata { key: String, message: String },
}

/// Encode `ck` as an ONNX model (see the module docs for the graph).
pub fn to_onnx_bytes(ck: &Checkpoint) -> Result<Vec<u8>, OnnxError> {
    Ok(build_model(ck)?.encode_to_vec())
}

/// Write `ck` as an ONNX model to `path`, atomically (a temporary file in the same directory,
/// synced, then renamed over `path`).
pub fn write_onnx(ck: &Checkpoint, path: &Path) -> Result<(), OnnxError> {
    let bytes = to_onnx_bytes(ck)?;
    let io = |source| OnnxError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path.file_name().ok_or_else(|| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "path has no file name",
        ))
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// Decode an ONNX model (e.g. one written by [`write_onnx`]) into the [`proto`] subset.
pub fn read_model(path: &Path) -> Result<ModelProto, OnnxError> {
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    ModelProto::decode(bytes.as_slice()).map_err(|e| OnnxError::Decode {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The graph inputs and outputs of an encoded ONNX model, decoded without its weights.
pub fn graph_io(bytes: &[u8]) -> Result<proto::GraphIoProto, prost::DecodeError> {
    Ok(proto::ModelIoProto::decode(bytes)?
        .graph
        .unwrap_or_default())
}

/// Value of a `metadata_props` entry.
pub fn metadata<'a>(model: &'a ModelProto, key: &str) -> Option<&'a str> {
    model
        .metadata_props
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.value.as_str())
}

/// Dimensions of a graph input or output: `Ok(n)` for a fixed size, `Err(name)` for a symbolic one.
pub fn value_dims(v: &ValueInfoProto) -> Vec<Result<i64, String>> {
    let Some(TypeProto {
        value: Some(type_proto::Value::TensorType(t)),
        ..
    }) = &v.r#type
    else {
        return Vec::new();
    };
    let Some(shape) = &t.shape else {
        return Vec::new();
    };
    shape
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(tensor_shape_proto::dimension::Value::DimValue(n)) => Ok(*n),
            Some(tensor_shape_proto::dimension::Value::DimParam(s)) => Err(s.clone()),
            None => Err(String::new()),
        })
        .collect()
}

/// Builds the graph node by node, naming intermediate values uniquely.
struct GraphBuilder<'a> {
    ck: &'a Checkpoint,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
}

impl<'a> GraphBuilder<'a> {
    fn node(&mut self, op: &str, name: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        let output = name.to_string();
        let attribute = attrs
            .into_iter()
            .map(|(k, a)| {
                let mut p = AttributeProto {
                    name: k.to_string(),
                    ..Default::default()
                };
                match a {
                    Attr::Int(i) => {
                        p.r#type = attribute_type::INT;
                        p.i = Some(i);
                    }
                    Attr::Ints(v) => {
                        p.r#type = attribute_type::INTS;
                        p.ints = v;
                    }
                    Attr::Float(f) => {
                        p.r#type = attribute_type::FLOAT;
                        p.f = Some(f);
                    }
                }
                p
            })
            .collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            name: format!("{name}/{op}"),
            op_type: op.to_string(),
            attribute,
            ..Default::default()
        });
        output
    }

    fn f32_init(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len());
        let mut raw = Vec::with_capacity(data.len() * 4);
        for v in data {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: data_type::FLOAT,
            name: name.to_string(),
            raw_data: raw,
            ..Default::default()
        });
        name.to_string()
    }

    fn i64_init(&mut self, name: &str, dims: &[usize], data: &[i64]) -> String {
        let mut raw = Vec::with_capacity(data.len() * 8);
        for v in data {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: data_type::INT64,
            name: name.to_string(),
            raw_data: raw,
            ..Default::default()
        });
        name.to_string()
    }

    /// A checkpoint tensor with its shape checked, stored as-is.
    fn weight(&mut self, name: &str, expected: &[usize]) -> Result<String, OnnxError> {
        let (shape, data) = self.ck.tensor_f32(name)?;
        if shape != expected {
            return Err(OnnxError::Shape {
                name: name.into(),
                expected: expected.to_vec(),
                found: shape,
            });
        }
        Ok(self.f32_init(name, &shape, &data))
    }

    /// A `[out, in]` linear weight stored transposed as `[in, out]` (for `MatMul`).
    fn weight_t(&mut self, name: &str, out: usize, inp: usize) -> Result<String, OnnxError> {
        let (shape, data) = self.ck.tensor_f32(name)?;
        if shape != [out, inp] {
            return Err(OnnxError::Shape {
                name: name.into(),
                expected: vec![out, inp],
                found: shape,
            });
        }
        let mut t = vec![0f32; data.len()];
        for o in 0..out {
            for i in 0..inp {
                t[i * out + o] = data[o * inp + i];
            }
        }
        Ok(self.f32_init(&format!("{name}_t"), &[inp, out], &t))
    }

    /// `x·Wᵀ + b` for a timm `nn.Linear` called `prefix` on a `[N,T,in]` value.
    fn linear(
        &mut self,
        x: &str,
        prefix: &str,
        out: usize,
        inp: usize,
    ) -> Result<String, OnnxError> {
        let w = self.weight_t(&format!("{prefix}.weight"), out, inp)?;
        let b = self.weight(&format!("{prefix}.bias"), &[out])?;
        let mm = self.node("MatMul", &format!("{prefix}/matmul"), &[x, &w], vec![]);
        Ok(self.node("Add", &format!("{prefix}/out"), &[&mm, &b], vec![]))
    }

    fn layer_norm(
        &mut self,
        x: &str,
        prefix: &str,
        d: usize,
        eps: f32,
    ) -> Result<String, OnnxError> {
        let w = self.weight(&format!("{prefix}.weight"), &[d])?;
        let b = self.weight(&format!("{prefix}.bias"), &[d])?;
        Ok(self.node(
            "LayerNormalization",
            &format!("{prefix}/out"),
            &[x, &w, &b],
            vec![("axis", Attr::Int(-1)), ("epsilon", Attr::Float(eps))],
        ))
    }
}

fn config_error(c: &VitConfig, message: impl Into<String>) -> OnnxError {
    OnnxError::Config {
        name: c.name.clone(),
        message: message.into(),
    }
}

fn tensor_value(name: &str, dims: &[Result<i64, &str>]) -> ValueInfoProto {
    use tensor_shape_proto::{dimension::Value as D, Dimension};
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| Dimension {
                            value: Some(match d {
                                Ok(n) => D::DimValue(*n),
                                Err(s) => D::DimParam(s.to_string()),
                            }),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Build the [`ModelProto`] for `ck`.
pub fn build_model(ck: &Checkpoint) -> Result<ModelProto, OnnxError> {
    let c = &ck.config;
    c.validate().map_err(|m| config_error(c, m))?;
    if c.in_chans != 3 {
        return Err(config_error(
            c,
            format!("in_chans is {}, the ONNX input is RGB (3)", c.in_chans),
        ));
    }
    if ck.classes.len() != c.num_classes {
        return Err(config_error(
            c,
            format!(
                "{} class names for {} classes",
                ck.classes.len(),
                c.num_classes
            ),
        ));
    }
    let (d, p, t) = (c.embed_dim, c.patch_size, c.num_tokens());
    let (h, dh, m, nc) = (c.num_heads, c.head_dim(), c.mlp_dim, c.num_classes);
    let eps = c.layer_norm_eps as f32;
    let mut b = GraphBuilder {
        ck,
        nodes: Vec::new(),
        initializers: Vec::new(),
    };

    // Constants shared by every block.
    let idx = [0i64, 1, 2].map(|i| b.i64_init(&format!("const.index{i}"), &[], &[i]));
    let shape_qkv = b.i64_init("const.shape_qkv", &[5], &[0, 0, 3, h as i64, dh as i64]);
    let shape_merge = b.i64_init("const.shape_merge_heads", &[3], &[0, 0, d as i64]);
    let scale = b.f32_init("const.attn_scale", &[], &[1.0 / (dh as f32).sqrt()]);
    let one = b.f32_init("const.one", &[], &[1.0]);
    let half = b.f32_init("const.half", &[], &[0.5]);
    let sqrt2 = b.f32_init("const.sqrt2", &[], &[std::f32::consts::SQRT_2]);

    // Patch embedding: Conv with kernel = stride = P, then [N,D,G,G] → [N,G²,D].
    let pw = b.weight("patch_embed.proj.weight", &[d, 3, p, p])?;
    let pb = b.weight("patch_embed.proj.bias", &[d])?;
    let conv = b.node(
        "Conv",
        "patch_embed/conv",
        &[INPUT_NAME, &pw, &pb],
        vec![
            ("kernel_shape", Attr::Ints(vec![p as i64, p as i64])),
            ("strides", Attr::Ints(vec![p as i64, p as i64])),
        ],
    );
    let shape_flat = b.i64_init("const.shape_flatten", &[3], &[0, d as i64, -1]);
    let flat = b.node(
        "Reshape",
        "patch_embed/flatten",
        &[&conv, &shape_flat],
        vec![],
    );
    let tokens = b.node(
        "Transpose",
        "patch_embed/tokens",
        &[&flat],
        vec![("perm", Attr::Ints(vec![0, 2, 1]))],
    );

    // [CLS] expanded to [N,1,D], N read from the input's shape at run time.
    let cls = b.weight("cls_token", &[1, 1, d])?;
    let in_shape = b.node("Shape", "cls/input_shape", &[INPUT_NAME], vec![]);
    let zero1 = b.i64_init("const.slice_start", &[1], &[0]);
    let one1 = b.i64_init("const.slice_end", &[1], &[1]);
    let batch = b.node("Slice", "cls/batch", &[&in_shape, &zero1, &one1], vec![]);
    let tail = b.i64_init("const.cls_tail", &[2], &[1, d as i64]);
    let cls_shape = b.node(
        "Concat",
        "cls/shape",
        &[&batch, &tail],
        vec![("axis", Attr::Int(0))],
    );
    let cls_n = b.node("Expand", "cls/expand", &[&cls, &cls_shape], vec![]);
    let seq = b.node(
        "Concat",
        "embed/concat",
        &[&cls_n, &tokens],
        vec![("axis", Attr::Int(1))],
    );
    let pos = b.weight("pos_embed", &[1, t, d])?;
    let mut x = b.node("Add", "embed/out", &[&seq, &pos], vec![]);

    for i in 0..c.depth {
        let pre = format!("blocks.{i}");
        // Attention.
        let n1 = b.layer_norm(&x, &format!("{pre}.norm1"), d, eps)?;
        let qkv = b.linear(&n1, &format!("{pre}.attn.qkv"), 3 * d, d)?;
        let qkv5 = b.node(
            "Reshape",
            &format!("{pre}.attn/qkv5"),
            &[&qkv, &shape_qkv],
            vec![],
        );
        let gather = |b: &mut GraphBuilder, which: usize, nm: &str| {
            b.node(
                "Gather",
                &format!("{pre}.attn/{nm}_ntd"),
                &[&qkv5, &idx[which]],
                vec![("axis", Attr::Int(2))],
            )
        };
        let (q, k, v) = (
            gather(&mut b, 0, "q"),
            gather(&mut b, 1, "k"),
            gather(&mut b, 2, "v"),
        );
        let perm = |v: Vec<i64>| vec![("perm", Attr::Ints(v))];
        let q = b.node(
            "Transpose",
            &format!("{pre}.attn/q"),
            &[&q],
            perm(vec![0, 2, 1, 3]),
        );
        let kt = b.node(
            "Transpose",
            &format!("{pre}.attn/k_t"),
            &[&k],
            perm(vec![0, 2, 3, 1]),
        );
        let v = b.node(
            "Transpose",
            &format!("{pre}.attn/v"),
            &[&v],
            perm(vec![0, 2, 1, 3]),
        );
        let qs = b.node(
            "Mul",
            &format!("{pre}.attn/q_scaled"),
            &[&q, &scale],
            vec![],
        );
        let scores = b.node("MatMul", &format!("{pre}.attn/scores"), &[&qs, &kt], vec![]);
        let attn = b.node(
            "Softmax",
            &format!("{pre}.attn/softmax"),
            &[&scores],
            vec![("axis", Attr::Int(-1))],
        );
        let ctx = b.node(
            "MatMul",
            &format!("{pre}.attn/context"),
            &[&attn, &v],
            vec![],
        );
        let ctx = b.node(
            "Transpose",
            &format!("{pre}.attn/context_t"),
            &[&ctx],
            perm(vec![0, 2, 1, 3]),
        );
        let ctx = b.node(
            "Reshape",
            &format!("{pre}.attn/merge_heads"),
            &[&ctx, &shape_merge],
            vec![],
        );
        let proj = b.linear(&ctx, &format!("{pre}.attn.proj"), d, d)?;
        x = b.node("Add", &format!("{pre}/residual1"), &[&x, &proj], vec![]);

        // MLP with exact GELU.
        let n2 = b.layer_norm(&x, &format!("{pre}.norm2"), d, eps)?;
        let h1 = b.linear(&n2, &format!("{pre}.mlp.fc1"), m, d)?;
        let s = b.node(
            "Div",
            &format!("{pre}.mlp.gelu/div"),
            &[&h1, &sqrt2],
            vec![],
        );
        let e = b.node("Erf", &format!("{pre}.mlp.gelu/erf"), &[&s], vec![]);
        let e1 = b.node("Add", &format!("{pre}.mlp.gelu/add"), &[&e, &one], vec![]);
        let g1 = b.node("Mul", &format!("{pre}.mlp.gelu/mul"), &[&h1, &e1], vec![]);
        let gl = b.node("Mul", &format!("{pre}.mlp.gelu/out"), &[&g1, &half], vec![]);
        let h2 = b.linear(&gl, &format!("{pre}.mlp.fc2"), d, m)?;
        x = b.node("Add", &format!("{pre}/residual2"), &[&x, &h2], vec![]);
    }

    let xn = b.layer_norm(&x, "norm", d, eps)?;
    let cls_out = b.node(
        "Gather",
        "pool/cls",
        &[&xn, &idx[0]],
        vec![("axis", Attr::Int(1))],
    );
    let hw = b.weight("head.weight", &[nc, d])?;
    let hb = b.weight("head.bias", &[nc])?;
    let logits = b.node(
        "Gemm",
        "head/gemm",
        &[&cls_out, &hw, &hb],
        vec![("transB", Attr::Int(1))],
    );
    // Rename the head's output to the public output name.
    let last = b.nodes.last_mut().expect("head node");
    debug_assert_eq!(last.output[0], logits);
    last.output[0] = OUTPUT_NAME.to_string();

    let size = c.image_size as i64;
    let graph = GraphProto {
        node: b.nodes,
        name: c.name.clone(),
        initializer: b.initializers,
        doc_string: format!("{} ({} classes), exported by scenebench", c.name, nc),
        input: vec![tensor_value(
            INPUT_NAME,
            &[Err(BATCH_DIM), Ok(3), Ok(size), Ok(size)],
        )],
        output: vec![tensor_value(OUTPUT_NAME, &[Err(BATCH_DIM), Ok(nc as i64)])],
        value_info: Vec::new(),
    };

    let json = |key: &str, v: Result<String, serde_json::Error>| {
        v.map(|value| StringStringEntryProto {
            key: key.into(),
            value,
        })
        .map_err(|e| OnnxError::Metadata {
            key: key.into(),
            message: e.to_string(),
        })
    };
    let metadata_props = vec![
        StringStringEntryProto {
            key: KEY_FORMAT_VERSION.into(),
            value: "1".into(),
        },
        json(KEY_CONFIG, serde_json::to_string(&ck.config))?,
        json(KEY_CLASSES, serde_json::to_string(&ck.classes))?,
        json(KEY_PREPROCESS, serde_json::to_string(&ck.preprocess))?,
        json(KEY_PROVENANCE, serde_json::to_string(&ck.provenance))?,
    ];

    Ok(ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        producer_name: "scenebench".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        domain: String::new(),
        model_version: 1,
        doc_string: format!(
            "Vision Transformer {} (timm layout) exported by scenebench; input `{INPUT_NAME}` \
             [N,3,{size},{size}] preprocessed as in scenebench.preprocess, output `{OUTPUT_NAME}` [N,{nc}]",
            c.name
        ),
        graph: Some(graph),
        metadata_props,
    })
}

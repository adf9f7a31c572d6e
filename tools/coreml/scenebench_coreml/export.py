"""Build the ViT as a CoreML ML Program with the coremltools MIL builder, from numpy weights.

Graph (per Dosovitskiy et al. 2021, timm's VisionTransformer): conv patch embedding (kernel = stride
= patch) -> reshape/transpose to tokens -> concat CLS -> add pos_embed -> L x [layer_norm -> linear
qkv -> split -> per-head reshape/transpose -> matmul(q, k, transpose_y) * 1/sqrt(d_head) -> softmax
-> matmul v -> linear proj -> residual; layer_norm -> linear -> gelu(EXACT) -> linear -> residual]
-> layer_norm -> slice_by_index (CLS) -> linear head = `logits`.

Input `tensor`: float32 [1,3,H,W] named `image`, normalized by the caller. Input `image`: an
ImageType (RGB, scale 1/255, bias 0) and (x - mean) / std done in the graph, as a per-channel std
cannot be expressed through ImageType's scalar scale. Minimum deployment target iOS 16.
Compute units are NOT part of the package: they are chosen where the model is loaded.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from . import __version__ as module_version
from .checkpoint import Checkpoint
from .quiet import captured_stderr, import_coremltools


def _repo_version() -> str:
    """scenebench's version from the workspace Cargo.toml (used when the caller passes none)."""
    here = Path(__file__).resolve()
    for d in here.parents:
        toml = d / "Cargo.toml"
        if toml.is_file() and "[workspace.package]" in toml.read_text():
            sect = toml.read_text().split("[workspace.package]", 1)[1]
            for line in sect.splitlines():
                if line.strip().startswith("version"):
                    return line.split("=", 1)[1].strip().strip('"')
    return "unknown"


def build_program(ck: Checkpoint, input_kind: str):
    ct = import_coremltools()
    from coremltools.converters.mil import Builder as mb

    cfg, t = ck.config, ck.tensors
    size, p, d, h = cfg["image_size"], cfg["patch_size"], cfg["embed_dim"], cfg["num_heads"]
    g, hd, eps = size // p, d // h, float(cfg["layer_norm_eps"])
    T = g * g + 1
    f = lambda name: np.ascontiguousarray(t[name], dtype=np.float32)  # noqa: E731

    mean = np.asarray(ck.preprocess["mean"], np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(ck.preprocess["std"], np.float32).reshape(1, 3, 1, 1)

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 3, size, size), dtype=ct.converters.mil.mil.types.fp32)],
                opset_version=ct.target.iOS16)
    def prog(image):
        x = image
        if input_kind == "image":
            # pixels/255 arrive from the ImageType; normalize per channel here.
            x = mb.mul(x=x, y=(1.0 / std).astype(np.float32), name="normalize_scale")
            x = mb.add(x=x, y=(-mean / std).astype(np.float32), name="normalize_shift")
        x = mb.conv(x=x, weight=f("patch_embed.proj.weight"), bias=f("patch_embed.proj.bias"),
                    strides=[p, p], pad_type="valid", name="patch_embed")
        x = mb.reshape(x=x, shape=[1, d, g * g], name="patch_flatten")
        x = mb.transpose(x=x, perm=[0, 2, 1], name="patch_tokens")
        x = mb.concat(values=[f("cls_token"), x], axis=1, name="with_cls")
        x = mb.add(x=x, y=f("pos_embed"), name="with_pos")
        scale = np.float32(1.0 / np.sqrt(hd))
        for i in range(cfg["depth"]):
            b = f"blocks.{i}."
            n = f"blocks_{i}_"
            y = mb.layer_norm(x=x, axes=[-1], gamma=f(b + "norm1.weight"), beta=f(b + "norm1.bias"),
                              epsilon=eps, name=n + "norm1")
            qkv = mb.linear(x=y, weight=f(b + "attn.qkv.weight"), bias=f(b + "attn.qkv.bias"), name=n + "qkv")
            q, k, v = mb.split(x=qkv, num_splits=3, axis=-1, name=n + "qkv_split")
            heads = []
            for nm, z in (("q", q), ("k", k), ("v", v)):
                z = mb.reshape(x=z, shape=[1, T, h, hd], name=n + nm + "_heads")
                heads.append(mb.transpose(x=z, perm=[0, 2, 1, 3], name=n + nm + "_bhtd"))
            q, k, v = heads
            att = mb.matmul(x=q, y=k, transpose_y=True, name=n + "qk")
            att = mb.mul(x=att, y=scale, name=n + "qk_scaled")
            att = mb.softmax(x=att, axis=-1, name=n + "attn")
            o = mb.matmul(x=att, y=v, name=n + "attn_v")
            o = mb.transpose(x=o, perm=[0, 2, 1, 3], name=n + "attn_bthd")
            o = mb.reshape(x=o, shape=[1, T, d], name=n + "attn_merge")
            o = mb.linear(x=o, weight=f(b + "attn.proj.weight"), bias=f(b + "attn.proj.bias"), name=n + "proj")
            x = mb.add(x=x, y=o, name=n + "res1")
            y = mb.layer_norm(x=x, axes=[-1], gamma=f(b + "norm2.weight"), beta=f(b + "norm2.bias"),
                              epsilon=eps, name=n + "norm2")
            y = mb.linear(x=y, weight=f(b + "mlp.fc1.weight"), bias=f(b + "mlp.fc1.bias"), name=n + "fc1")
            y = mb.gelu(x=y, mode="EXACT", name=n + "gelu")
            y = mb.linear(x=y, weight=f(b + "mlp.fc2.weight"), bias=f(b + "mlp.fc2.bias"), name=n + "fc2")
            x = mb.add(x=x, y=y, name=n + "res2")
        x = mb.layer_norm(x=x, axes=[-1], gamma=f("norm.weight"), beta=f("norm.bias"), epsilon=eps, name="norm")
        x = mb.slice_by_index(x=x, begin=[0, 0, 0], end=[1, 1, d], name="cls_slice")
        x = mb.reshape(x=x, shape=[1, d], name="cls")
        return mb.linear(x=x, weight=f("head.weight"), bias=f("head.bias"), name="logits")

    return prog


def export(ck: Checkpoint, out: Path, precision: str = "fp16", quantize: str | None = None,
           input_kind: str = "tensor", scenebench_version: str | None = None) -> dict:
    if precision not in ("fp16", "fp32"):
        raise ValueError(f"--precision must be fp16 or fp32, not {precision!r}")
    if quantize not in (None, "none", "int8"):
        raise ValueError(f"--quantize must be int8, not {quantize!r}")
    if input_kind not in ("tensor", "image"):
        raise ValueError(f"--input must be tensor or image, not {input_kind!r}")
    quantize = None if quantize == "none" else quantize
    ct = import_coremltools()
    size = ck.config["image_size"]
    t0 = time.perf_counter()
    prog = build_program(ck, input_kind)
    if input_kind == "image":
        inputs = [ct.ImageType(name="image", shape=(1, 3, size, size), scale=1.0 / 255.0,
                               bias=[0.0, 0.0, 0.0], color_layout=ct.colorlayout.RGB)]
    else:
        inputs = [ct.TensorType(name="image", shape=(1, 3, size, size), dtype=np.float32)]
    with captured_stderr():
        model = ct.convert(
            prog, convert_to="mlprogram", inputs=inputs,
            outputs=[ct.TensorType(name="logits", dtype=np.float32)],
            minimum_deployment_target=ct.target.iOS16,
            compute_precision=ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32,
        )
        if quantize == "int8":
            from coremltools.optimize.coreml import (OpLinearQuantizerConfig, OptimizationConfig,
                                                     linear_quantize_weights)
            qcfg = OptimizationConfig(global_config=OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8"))
            model = linear_quantize_weights(model, config=qcfg)
    version = scenebench_version or _repo_version()
    meta = {
        "scenebench.version": version,
        "scenebench.exporter": f"scenebench_coreml {module_version}, coremltools {ct.__version__}",
        "scenebench.model_sha256": ck.sha256,
        "scenebench.model_file": ck.path.name,
        "scenebench.config": json.dumps(ck.config),
        "scenebench.classes": json.dumps(ck.classes),
        "scenebench.preprocess": json.dumps(ck.preprocess),
        "scenebench.input": input_kind,
        "scenebench.precision": precision,
        "scenebench.quantize": quantize or "none",
    }
    model.user_defined_metadata.update(meta)
    model.short_description = (
        f"scenebench ViT {ck.config['name']} ({ck.config['num_classes']} classes, {size}x{size}, "
        f"{precision}{', int8 weights' if quantize else ''}); input `image` "
        + ("RGB image, normalized in the graph" if input_kind == "image" else
           "float32 [1,3,H,W] normalized with scenebench.preprocess")
        + "; output `logits`. Compute units are chosen when the model is loaded.")
    model.author = "scenebench"
    model.version = version
    model.input_description["image"] = (
        "RGB image, scale 1/255 then (x - mean) / std inside the model" if input_kind == "image"
        else "float32 [1,3,H,W], (pixel/255 - mean) / std per channel, CHW")
    model.output_description["logits"] = "class scores (pre-softmax), index = scenebench.classes"
    out = Path(out)
    if out.exists():
        import shutil
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    with captured_stderr():
        model.save(str(out))
    seconds = time.perf_counter() - t0
    return {
        "package": str(out),
        "bytes": package_bytes(out),
        "seconds": round(seconds, 3),
        "precision": precision,
        "quantize": quantize or "none",
        "input": input_kind,
        "image_size": size,
        "num_classes": ck.config["num_classes"],
        "config": ck.config,
        "model_sha256": ck.sha256,
        "scenebench_version": version,
        "coremltools_version": ct.__version__,
        "minimum_deployment_target": "iOS16",
    }


def package_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total

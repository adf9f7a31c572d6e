"""Read a scenebench / timm / Hugging Face ViT safetensors checkpoint into numpy (docs/checkpoint-format.md).

The safetensors header is parsed here (8-byte little-endian length + JSON) so F16 and BF16 tensors
load without torch. HF ``ViTForImageClassification`` names are mapped to timm's (q/k/v concatenated
into qkv). A file without scenebench metadata gets its config from tensor shapes (heads of width 64,
as in the standard ViTs, unless the shapes match a named scenebench config) and timm's ViT
preprocessing (mean = std = 0.5, bicubic, crop_pct 0.9).
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message names the file and tensor/key."""


_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": None}

# Named configs of models/src/config.rs (name: image, patch, dim, depth, heads, mlp).
KNOWN = {
    "vit_base_patch16_224": (224, 16, 768, 12, 12, 3072),
    "vit_small_patch16_224": (224, 16, 384, 12, 6, 1536),
    "vit_tiny_patch16_224": (224, 16, 192, 12, 3, 768),
    "vit_micro_patch8_64": (64, 8, 192, 6, 3, 768),
    "vit_test_patch8_32": (32, 8, 64, 2, 4, 128),
}


@dataclass
class Checkpoint:
    path: Path
    sha256: str
    config: dict
    classes: list
    preprocess: dict
    tensors: dict = field(repr=False)
    has_metadata: bool = False

    @property
    def grid(self) -> int:
        return self.config["image_size"] // self.config["patch_size"]


def read_safetensors(path: Path) -> tuple[dict, dict, bytes]:
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise CheckpointError(f"{path}: not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise CheckpointError(f"{path}: header length {n} exceeds the file size {len(data)}")
    try:
        header = json.loads(data[8 : 8 + n])
    except ValueError as e:
        raise CheckpointError(f"{path}: header is not JSON: {e}") from e
    meta = header.pop("__metadata__", None) or {}
    body = memoryview(data)[8 + n :]
    tensors = {}
    for name, info in header.items():
        dt, shape, (a, b) = info["dtype"], info["shape"], info["data_offsets"]
        if dt not in _DTYPES:
            raise CheckpointError(f"{path}: tensor `{name}` has dtype {dt}; F32, F16, BF16 or F64 expected")
        raw = body[a:b]
        if dt == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(_DTYPES[dt]).newbyteorder("<"))
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise CheckpointError(f"{path}: tensor `{name}` holds {arr.size} values for shape {shape}")
        tensors[name] = arr.reshape(shape).astype(np.float32)
    return tensors, meta, bytes(data)


_HF_DIRECT = {
    "embeddings.cls_token": "cls_token",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
    "classifier.weight": "head.weight",
    "classifier.bias": "head.bias",
}
_HF_BLOCK = {
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
    "attention.output.dense": "attn.proj",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
    "attention.attention.query": "attn.q",
    "attention.attention.key": "attn.k",
    "attention.attention.value": "attn.v",
}


def hf_to_timm(tensors: dict, path: Path) -> dict:
    out = {}
    for name, t in tensors.items():
        n = name[4:] if name.startswith("vit.") else name
        if n in _HF_DIRECT:
            out[_HF_DIRECT[n]] = t
            continue
        m = re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)", n)
        if not m or m.group(2) not in _HF_BLOCK:
            if n.startswith("pooler."):
                continue  # ViTModel's pooler is not used by the classifier
            raise CheckpointError(f"{path}: unexpected Hugging Face tensor `{name}`")
        out[f"blocks.{m.group(1)}.{_HF_BLOCK[m.group(2)]}.{m.group(3)}"] = t
    for key in [k for k in out if k.endswith("attn.q.weight") or k.endswith("attn.q.bias")]:
        pre, kind = key.rsplit(".q.", 1)
        parts = [out.pop(f"{pre}.{x}.{kind}", None) for x in ("q", "k", "v")]
        if any(p is None for p in parts):
            raise CheckpointError(f"{path}: `{pre}` lacks one of query/key/value {kind}")
        out[f"{pre}.qkv.{kind}"] = np.concatenate(parts, axis=0)
    return out


def infer_config(t: dict, eps: float, path: Path) -> dict:
    def shape(name):
        if name not in t:
            raise CheckpointError(f"{path}: cannot infer the config: no tensor `{name}`")
        return t[name].shape

    d, cin, p, _ = shape("patch_embed.proj.weight")
    tokens = shape("pos_embed")[1]
    g = int(round(math.sqrt(tokens - 1)))
    if g * g + 1 != tokens:
        raise CheckpointError(f"{path}: `pos_embed` has {tokens} tokens, not 1 + a square")
    depth = 0
    while f"blocks.{depth}.norm1.weight" in t:
        depth += 1
    cfg = {
        "name": "custom", "image_size": g * p, "patch_size": p, "in_chans": cin, "embed_dim": d,
        "depth": depth, "num_heads": max(d // 64, 1), "mlp_dim": shape("blocks.0.mlp.fc1.weight")[0],
        "num_classes": shape("head.weight")[0], "layer_norm_eps": eps,
    }
    for name, (img, pp, dd, dep, heads, mlp) in KNOWN.items():
        if (img, pp, dd, dep, mlp, cin) == (cfg["image_size"], p, d, depth, cfg["mlp_dim"], 3):
            cfg["name"], cfg["num_heads"] = name, heads
    return cfg


def expected_shapes(cfg: dict) -> dict:
    d, m, p, c = cfg["embed_dim"], cfg["mlp_dim"], cfg["patch_size"], cfg["num_classes"]
    g = cfg["image_size"] // p
    s = {
        "patch_embed.proj.weight": (d, cfg["in_chans"], p, p), "patch_embed.proj.bias": (d,),
        "cls_token": (1, 1, d), "pos_embed": (1, 1 + g * g, d),
        "norm.weight": (d,), "norm.bias": (d,), "head.weight": (c, d), "head.bias": (c,),
    }
    for i in range(cfg["depth"]):
        b = f"blocks.{i}."
        s.update({
            b + "norm1.weight": (d,), b + "norm1.bias": (d,),
            b + "attn.qkv.weight": (3 * d, d), b + "attn.qkv.bias": (3 * d,),
            b + "attn.proj.weight": (d, d), b + "attn.proj.bias": (d,),
            b + "norm2.weight": (d,), b + "norm2.bias": (d,),
            b + "mlp.fc1.weight": (m, d), b + "mlp.fc1.bias": (m,),
            b + "mlp.fc2.weight": (d, m), b + "mlp.fc2.bias": (d,),
        })
    return s


def default_preprocess(size: int) -> dict:
    crop_pct = 0.9
    return {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "crop_size": size, "crop_pct": crop_pct,
            "resize_shorter": int(math.floor(size / crop_pct)), "interpolation": "bicubic"}


def _meta_json(meta: dict, key: str, path: Path):
    try:
        return json.loads(meta[key])
    except ValueError as e:
        raise CheckpointError(f"{path}: metadata `{key}` is not valid JSON: {e}") from e


def load(path: Path, num_heads: int | None = None, config: dict | None = None) -> Checkpoint:
    path = Path(path)
    try:
        tensors, meta, raw = read_safetensors(path)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read: {e}") from e
    family_eps = 1e-6
    if any(k.startswith("vit.") or k.startswith("classifier.") for k in tensors):
        tensors = hf_to_timm(tensors, path)
        family_eps = 1e-12
    has_meta = "scenebench.config" in meta
    if config is not None:
        cfg = dict(config)
    elif has_meta:
        cfg = _meta_json(meta, "scenebench.config", path)
    else:
        cfg = infer_config(tensors, family_eps, path)
    if num_heads is not None:
        cfg["num_heads"] = num_heads
    if cfg["embed_dim"] % cfg["num_heads"]:
        raise CheckpointError(f"{path}: embed_dim {cfg['embed_dim']} is not divisible by num_heads {cfg['num_heads']}")
    want = expected_shapes(cfg)
    for name, shp in want.items():
        if name not in tensors:
            raise CheckpointError(f"{path}: missing tensor `{name}` (expected shape {list(shp)})")
        if tuple(tensors[name].shape) != shp:
            raise CheckpointError(f"{path}: tensor `{name}` has shape {list(tensors[name].shape)}, expected {list(shp)}")
    extra = sorted(set(tensors) - set(want))
    if extra:
        raise CheckpointError(f"{path}: unexpected tensor `{extra[0]}`" + (f" (+{len(extra) - 1} more)" if len(extra) > 1 else ""))
    classes = _meta_json(meta, "scenebench.classes", path) if "scenebench.classes" in meta else [
        f"class_{i}" for i in range(cfg["num_classes"])]
    if len(classes) != cfg["num_classes"]:
        raise CheckpointError(f"{path}: {len(classes)} class names for a head of {cfg['num_classes']} classes")
    pre = _meta_json(meta, "scenebench.preprocess", path) if "scenebench.preprocess" in meta else default_preprocess(cfg["image_size"])
    return Checkpoint(path=path, sha256=hashlib.sha256(raw).hexdigest(), config=cfg, classes=classes,
                      preprocess=pre, tensors=tensors, has_metadata=has_meta)

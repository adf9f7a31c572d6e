"""Reference evaluation of a saved ML Program on Linux, where CoreML itself cannot run.

The package's MIL program is loaded back from its protobuf and weight blob (coremltools'
``milproto`` frontend) and walked op by op in program order. Each op is computed by coremltools' own
per-op numpy implementation (``Operation.value_inference``, used by the converter for constant
folding; ``materialized_val_inference`` for the ``constexpr_*`` int8 weight ops), so the arithmetic
is coremltools', not scenebench's. The ops it lacks are computed here in numpy: ``conv`` and
``batch_norm`` (coremltools fuses the in-graph mean/std normalization of an image input into one).
fp16 programs run in fp16 wherever the program says (its ``cast`` ops), so fp16 rounding shows.

This is a reference evaluation of the exported program, not the CoreML runtime: it proves the
package computes the intended function; it says nothing about speed or about the Neural Engine's
own numerics.

For an ``image`` input the program itself starts with the ImageType's scale (``image__scaled__``),
so the input here is RGB pixel values 0..255 in [N,3,H,W] float; for a ``tensor`` input it is the
normalized tensor.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .quiet import captured_stderr, import_coremltools


class EvalError(Exception):
    """An op or program that this evaluator cannot compute."""


def _conv(op, x):
    w = op.weight.val
    b = op.bias.val if op.bias is not None else None
    strides = [int(s) for s in op.strides.val]
    dil = [int(s) for s in op.dilations.val]
    groups = int(op.groups.val)
    pad_type = op.pad_type.val
    if x.ndim != 4:
        raise EvalError(f"conv `{op.name}`: only 2-D convolution is supported, got input rank {x.ndim}")
    n, cin, hh, ww = x.shape
    cout, cpg, kh, kw = w.shape
    ekh, ekw = (kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1
    if pad_type == "valid":
        pads = [0, 0, 0, 0]
    elif pad_type == "custom":
        pads = [int(v) for v in op.pad.val]
    elif pad_type in ("same", "same_lower"):
        pads = []
        for size, k, s in ((hh, ekh, strides[0]), (ww, ekw, strides[1])):
            out = -(-size // s)
            total = max((out - 1) * s + k - size, 0)
            lo = total // 2 if pad_type == "same" else total - total // 2
            pads += [lo, total - lo]
    else:
        raise EvalError(f"conv `{op.name}`: pad_type {pad_type!r} not supported")
    acc = np.float32 if x.dtype != np.float64 else np.float64
    xp = np.pad(x.astype(acc), ((0, 0), (0, 0), (pads[0], pads[1]), (pads[2], pads[3])))
    oh = (xp.shape[2] - ekh) // strides[0] + 1
    ow = (xp.shape[3] - ekw) // strides[1] + 1
    out = np.empty((n, cout, oh, ow), dtype=acc)
    opg = cout // groups
    for gi in range(groups):
        xs = xp[:, gi * cpg : (gi + 1) * cpg]
        # im2col: [n, cpg, kh, kw, oh, ow]
        cols = np.empty((n, cpg, kh, kw, oh, ow), dtype=acc)
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dil[0], j * dil[1]
                cols[:, :, i, j] = xs[:, :, r0 : r0 + strides[0] * (oh - 1) + 1 : strides[0],
                                      c0 : c0 + strides[1] * (ow - 1) + 1 : strides[1]]
        wg = w[gi * opg : (gi + 1) * opg].astype(acc).reshape(opg, -1)
        out[:, gi * opg : (gi + 1) * opg] = np.einsum("ok,nkp->nop", wg, cols.reshape(n, -1, oh * ow)).reshape(n, opg, oh, ow)
    if b is not None:
        out += b.astype(acc).reshape(1, -1, 1, 1)
    return out.astype(x.dtype)


def _batch_norm(op, x):
    shape = [1, -1] + [1] * (x.ndim - 2)
    acc = np.float32
    mean = op.mean.val.astype(acc).reshape(shape)
    var = op.variance.val.astype(acc).reshape(shape)
    gamma = op.gamma.val.astype(acc).reshape(shape) if op.gamma is not None else 1.0
    beta = op.beta.val.astype(acc).reshape(shape) if op.beta is not None else 0.0
    eps = float(op.epsilon.val)
    y = (x.astype(acc) - mean) / np.sqrt(var + eps) * gamma + beta
    return y.astype(x.dtype)


OWN = {"conv": lambda op: _conv(op, op.x.val), "batch_norm": lambda op: _batch_norm(op, op.x.val)}


def _set(var, value):
    sym = var.sym_type()
    sym.val = value
    var._sym_val = sym


def load_program(pkg: Path):
    ct = import_coremltools()
    from coremltools.converters.mil.frontend.milproto.load import load as milproto_load

    with captured_stderr():
        model = ct.models.MLModel(str(pkg), skip_model_load=True)
        spec = model.get_spec()
        if spec.WhichOneof("Type") != "mlProgram":
            raise EvalError(f"{pkg}: not an ML Program (found {spec.WhichOneof('Type')})")
        prog = milproto_load(spec, spec.specificationVersion, file_weights_dir=model.weights_dir)
    return spec, prog


def run_program(prog, feeds: dict) -> dict:
    """Evaluate the `main` function on one set of inputs; returns {output name: array}."""
    from coremltools.converters.mil.mil import types

    func = prog.functions["main"]
    for name, var in func.inputs.items():
        if name not in feeds:
            raise EvalError(f"no value for program input `{name}`")
        want = tuple(int(s) for s in var.shape)
        arr = np.asarray(feeds[name])
        if tuple(arr.shape) != want:
            raise EvalError(f"input `{name}` has shape {list(arr.shape)}, the program wants {list(want)}")
        _set(var, arr.astype(types.nptype_from_builtin(var.dtype)))
    ops = list(func.operations)
    # Free an intermediate value after its last consumer ran (ViT-B/16 would otherwise hold ~1 GB).
    keep = {id(v) for v in func.outputs}
    last_use = {}
    for i, op in enumerate(ops):
        for var in _inputs_of(op):
            last_use[id(var)] = i
    computed, computed_ids = [], set()
    try:
        for i, op in enumerate(ops):
            if all(o.val is not None for o in op.outputs):
                continue  # const, or folded from consts at load
            if op.op_type in OWN:
                vals = OWN[op.op_type](op)
            elif op.op_type.startswith("constexpr_"):
                vals = op.materialized_val_inference()
            else:
                try:
                    vals = op.value_inference()
                except NotImplementedError as e:
                    raise EvalError(f"op `{op.name}` ({op.op_type}) has no numpy evaluator") from e
            if not isinstance(vals, tuple):
                vals = (vals,)
            for var, v in zip(op.outputs, vals):
                dt = types.nptype_from_builtin(var.dtype)
                _set(var, np.asarray(v).astype(dt, copy=False))
                computed.append(var)
                computed_ids.add(id(var))
            for var in _inputs_of(op):
                if last_use.get(id(var)) == i and id(var) not in keep and id(var) in computed_ids:
                    var._sym_val = None
        return {v.name: np.array(v.val) for v in func.outputs}
    finally:
        for var in computed:
            var._sym_val = None
        for var in func.inputs.values():
            var._sym_val = None


def _inputs_of(op):
    for v in op.inputs.values():
        if isinstance(v, (list, tuple)):
            yield from v
        else:
            yield v


def evaluate(pkg: Path, x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Run the package's program on a batch [N,3,H,W], one image at a time; returns logits [N,C]."""
    spec, prog = load_program(pkg)
    func = prog.functions["main"]
    (in_name,) = list(func.inputs)
    out_names = [v.name for v in func.outputs]
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[None]
    rows = []
    for i in range(x.shape[0]):
        outs = run_program(prog, {in_name: x[i : i + 1]})
        rows.append(outs[out_names[0]].astype(np.float32))
    kind = spec.description.input[0].type.WhichOneof("Type")
    info = {"input": in_name, "input_type": "image" if kind == "imageType" else "tensor",
            "output": out_names[0], "batch": int(x.shape[0])}
    return np.concatenate(rows, axis=0), info

"""Describe a saved .mlpackage as JSON: inputs/outputs (names, types, shapes), metadata, spec
version, deployment opset, precision of the program, weight quantization, op counts and size."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from .export import package_bytes
from .quiet import captured_stderr, import_coremltools

_ARRAY_DTYPES = {65568: "float32", 65552: "float16", 65600: "float64", 131104: "int32", 131080: "int8"}


def _feature(f) -> dict:
    kind = f.type.WhichOneof("Type")
    d = {"name": f.name, "description": f.shortDescription}
    if kind == "multiArrayType":
        a = f.type.multiArrayType
        d.update(type="tensor", dtype=_ARRAY_DTYPES.get(a.dataType, str(a.dataType)), shape=[int(s) for s in a.shape])
    elif kind == "imageType":
        im = f.type.imageType
        ct = import_coremltools()
        space = ct.proto.FeatureTypes_pb2.ImageFeatureType.ColorSpace.Name(im.colorSpace)
        d.update(type="image", color_space=space, shape=[1, 3 if space in ("RGB", "BGR") else 1, int(im.height), int(im.width)])
    else:
        d.update(type=kind or "unknown", shape=[])
    return d


def _walk_ops(block):
    for op in block.operations:
        yield op
        for b in op.blocks:
            yield from _walk_ops(b)


def inspect(pkg: Path) -> dict:
    ct = import_coremltools()
    pkg = Path(pkg)
    if not pkg.exists():
        raise FileNotFoundError(f"{pkg}: no such package")
    with captured_stderr():
        spec = ct.models.MLModel(str(pkg), skip_model_load=True).get_spec()
    desc = spec.description
    out = {
        "package": str(pkg),
        "bytes": package_bytes(pkg),
        "spec_version": int(spec.specificationVersion),
        "model_type": spec.WhichOneof("Type"),
        "inputs": [_feature(f) for f in desc.input],
        "outputs": [_feature(f) for f in desc.output],
        "short_description": desc.metadata.shortDescription,
        "author": desc.metadata.author,
        "version": desc.metadata.versionString,
        "metadata": dict(desc.metadata.userDefined),
    }
    if spec.WhichOneof("Type") == "mlProgram":
        func = spec.mlProgram.functions["main"]
        block = func.block_specializations[func.opset]
        ops = list(_walk_ops(block))
        counts = Counter(op.type for op in ops)
        # dtype of every float tensor an op produces (consts included) says the precision.
        dtypes = Counter()
        for op in ops:
            for o in op.outputs:
                tt = o.type.tensorType if o.type.WhichOneof("type") == "tensorType" else None
                if tt is not None:
                    dtypes[ct.proto.MIL_pb2.DataType.Name(tt.dataType)] += 1
        compute = [op for op in ops if op.type not in ("const", "cast") and not op.type.startswith("constexpr_")]
        comp_dtypes = Counter()
        for op in compute:
            for o in op.outputs:
                if o.type.WhichOneof("type") == "tensorType":
                    comp_dtypes[ct.proto.MIL_pb2.DataType.Name(o.type.tensorType.dataType)] += 1
        f16, f32 = comp_dtypes.get("FLOAT16", 0), comp_dtypes.get("FLOAT32", 0)
        # An fp16 program keeps a few fp32 ops at its edges (the image input's scale); the
        # majority of the compute ops' output types names the precision.
        precision = "fp16" if f16 and f16 >= f32 else ("fp32" if f32 else "unknown")
        quant = sorted({op.type for op in ops if op.type.startswith("constexpr_")})
        out.update(
            opset=func.opset,
            precision=precision,
            weight_quantization=("int8 (" + ", ".join(quant) + ")") if quant else "none",
            op_counts=dict(sorted(counts.items())),
            num_ops=len(ops),
            tensor_dtypes=dict(sorted(dtypes.items())),
            compute_dtypes=dict(sorted(comp_dtypes.items())),
        )
    return out


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(json.dumps(inspect(Path(sys.argv[1])), indent=1))

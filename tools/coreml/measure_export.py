#!/usr/bin/env python3
"""Measure the CoreML export of a checkpoint: export time and package size for fp32, fp16 and
fp16 + int8 weights, and the max |logit difference| between the numpy reference evaluation of each
exported program and a reference (e.g. timm's, from tools/fixtures/make_vit_b16_random.py).

    PYTHONPATH=tools/coreml .venv/bin/python tools/coreml/measure_export.py \
        --weights /tmp/vitb16/vit_b16.safetensors --input /tmp/vitb16/input.npy \
        --reference /tmp/vitb16/logits_timm.npy --out /tmp/vitb16
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from scenebench_coreml import checkpoint, evaluate, export

ap = argparse.ArgumentParser()
ap.add_argument("--weights", type=Path, required=True)
ap.add_argument("--input", type=Path, required=True)
ap.add_argument("--reference", type=Path, required=True)
ap.add_argument("--out", type=Path, required=True)
args = ap.parse_args()
x, ref = np.load(args.input), np.load(args.reference)
ck = checkpoint.load(args.weights)
rows = []
for prec, q in (("fp32", None), ("fp16", None), ("fp16", "int8")):
    pkg = args.out / f"model_{prec}_{q or 'none'}.mlpackage"
    s = export.export(ck, pkg, prec, q, "tensor")
    t0 = time.perf_counter()
    y, _ = evaluate.evaluate(pkg, x)
    rows.append({
        "precision": prec, "quantize": q or "none", "export_s": s["seconds"],
        "package_MB": round(s["bytes"] / 1e6, 1), "eval_s": round(time.perf_counter() - t0, 1),
        "max_abs_diff_vs_reference": float(np.abs(y - ref).max()),
        "top1_equal": bool((y.argmax(-1) == ref.argmax(-1)).all()),
    })
    print(json.dumps(rows[-1]), flush=True)

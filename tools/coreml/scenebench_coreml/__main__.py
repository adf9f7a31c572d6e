"""Command line: ``python -m scenebench_coreml {export,inspect,eval} ...``; prints one JSON object on
stdout on success; on failure prints `error: ...` on stderr and exits 2 (bad checkpoint / input /
package) or 1 (anything else)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m scenebench_coreml", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="build an .mlpackage from a safetensors checkpoint")
    e.add_argument("--weights", required=True, type=Path, help="scenebench / timm / HF ViT safetensors")
    e.add_argument("--out", required=True, type=Path, help="output .mlpackage folder")
    e.add_argument("--precision", choices=["fp16", "fp32"], default="fp16")
    e.add_argument("--quantize", choices=["none", "int8"], default="none")
    e.add_argument("--input", dest="input_kind", choices=["tensor", "image"], default="tensor")
    e.add_argument("--num-heads", type=int, default=None, help="override the head count (not visible in shapes)")
    e.add_argument("--config", default=None, help="VitConfig JSON overriding the file's/inferred config")
    e.add_argument("--scenebench-version", default=None)
    i = sub.add_parser("inspect", help="describe an .mlpackage as JSON")
    i.add_argument("package", type=Path)
    v = sub.add_parser("eval", help="reference-evaluate an .mlpackage's program with numpy")
    v.add_argument("--model", required=True, type=Path)
    v.add_argument("--input", required=True, type=Path, help=".npy float32 [N,3,H,W] (pixels 0..255 for an image input)")
    v.add_argument("--out", required=True, type=Path, help=".npy float32 [N,C] logits")
    args = ap.parse_args(argv)

    from .checkpoint import CheckpointError
    from .evaluate import EvalError

    try:
        if args.cmd == "export":
            from . import checkpoint, export

            cfg = json.loads(args.config) if args.config else None
            ck = checkpoint.load(args.weights, num_heads=args.num_heads, config=cfg)
            summary = export.export(ck, args.out, args.precision, args.quantize, args.input_kind,
                                    args.scenebench_version)
        elif args.cmd == "inspect":
            from .inspect_pkg import inspect

            summary = inspect(args.package)
        else:
            from .evaluate import evaluate

            x = np.load(args.input)
            y, info = evaluate(args.model, x)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            np.save(args.out, y.astype(np.float32))
            summary = dict(info, out=str(args.out), shape=list(y.shape),
                           backend="coreml-mil-numpy",
                           note="reference evaluation of the exported program, not the CoreML runtime")
    except (CheckpointError, EvalError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

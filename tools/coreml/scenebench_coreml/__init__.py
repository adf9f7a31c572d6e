"""scenebench's CoreML export: a ViT ML Program built with the coremltools MIL builder straight from
a scenebench / timm safetensors checkpoint (no PyTorch), its inspection, and a reference evaluation
of the exported program on Linux.

Run as ``PYTHONPATH=tools/coreml python -m scenebench_coreml {export,inspect,eval} ...``; the
environment is made by ``scripts/setup-python.sh``. The model follows Dosovitskiy et al., "An Image
is Worth 16x16 Words" (ICLR 2021) with timm's ``VisionTransformer`` layout
(docs/checkpoint-format.md); the package format is Apple's ML Program (coremltools 9.0, iOS 16).
"""

__all__ = ["__version__"]
__version__ = "0.1.0"

"""executorch-tensorrt: run PyTorch models on NVIDIA TensorRT through ExecuTorch.

Importing the package loads the delegate library, which registers the
``ExecutorchTensorRTBackend`` with ExecuTorch's runtime, so programs loaded
through ``executorch.runtime``, C++ ``Module`` or
``executorch_tensorrt.runtime`` in this process can use it.
"""

from __future__ import annotations

from typing import Any

from . import _native

BACKEND_ID = _native.BACKEND_ID

__all__ = ["BACKEND_ID", "save", "export", "inspect_program", "load"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The exporter pulls in torch.export, ONNX and TensorRT builders; load it
    # only when asked so `import executorch_tensorrt` stays cheap for serving.
    if name in ("save", "export", "inspect_program"):
        from . import exporter

        return getattr(exporter, name)
    if name == "load":
        from .runtime import load

        return load
    raise AttributeError(f"module 'executorch_tensorrt' has no attribute {name!r}")

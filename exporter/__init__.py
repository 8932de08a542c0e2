"""Export PyTorch models to ExecuTorch programs that run on NVIDIA TensorRT.

Names load on first use: ``inspect`` reads programs without torch, and the
command line's ``inspect`` should not wait for torch.export, ONNX and the
engine builders to import.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the submodule defining it
_WHERE = {
    "ExportedTensorRTProgram": "api",
    "Method": "methods",
    "SavedProgram": "api",
    "export": "api",
    "save": "api",
    "ExecutorchTensorRTBackend": "backend_details",
    "BuiltEngine": "builders",
    "EngineBuilder": "builders",
    "EngineBuildRequest": "builders",
    "get_engine_builder": "builders",
    "register_engine_builder": "builders",
    "unregister_engine_builder": "builders",
    "TensorRTCompileSpec": "compile_specs",
    "EngineTensor": "engine_sources",
    "save_engine": "engine_sources",
    "save_onnx": "engine_sources",
    "ProgramReport": "inspect",
    "format_report": "inspect",
    "inspect_program": "inspect",
    "ExportSummary": "summary",
    "PhaseSeconds": "summary",
    "TensorRTPartitioner": "partitioner",
    "Tolerance": "validate",
    "ValidationError": "validate",
    "ValidationReport": "validate",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list:
    return sorted({*globals(), *_WHERE})

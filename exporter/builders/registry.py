"""Name -> engine builder: registered builders, the built-in TensorRT ones, and ``auto``."""

from __future__ import annotations

import importlib

from ..builder_registry import registered_engine_builder, registered_engine_builders
from .base import EngineBuilder, EngineBuilderUnavailableError
from .tensorrt import TensorRTEngineBuilder

_BUILTIN = ("tensorrt", "tensorrt_rtx")
# One instance each: the partitioner's support query and the backend's builds
# must meet the same builder (the builds reuse the query's ONNX).
_BUILTIN_INSTANCES = {name: TensorRTEngineBuilder(name) for name in _BUILTIN}
# Engines given to save_engine()/save_onnx(): recorded in the .pte, built by no builder.
PREBUILT_BUILDER = "prebuilt"

INSTALL_HINT = "install TensorRT-RTX (`pip install tensorrt-rtx-cu13`) or TensorRT (`pip install tensorrt`)"


def _importable(module_name: str) -> bool:
    try:
        importlib.import_module(module_name)
    except (ImportError, OSError):  # OSError: the package is there but its libraries fail to load
        return False
    return True


def resolve_engine_builder_name(name: str) -> str:
    """``auto`` -> ``tensorrt`` when importable, else ``tensorrt_rtx`` when importable."""
    if name != "auto":
        return name
    for candidate in ("tensorrt", "tensorrt_rtx"):
        if _importable(candidate):
            return candidate
    raise EngineBuilderUnavailableError(
        f"engine_builder='auto' found neither `tensorrt` nor `tensorrt_rtx` in this Python environment; {INSTALL_HINT}"
    )


def get_engine_builder(name: str) -> EngineBuilder:
    """The builder for ``name`` (``auto``, a built-in or a registered name)."""
    resolved = resolve_engine_builder_name(name)
    builder = registered_engine_builder(resolved)
    if builder is not None:
        return builder  # type: ignore[return-value]
    if resolved in _BUILTIN_INSTANCES:
        return _BUILTIN_INSTANCES[resolved]
    if resolved == PREBUILT_BUILDER:
        raise ValueError("engine_builder='prebuilt' marks engines written by save_engine()/save_onnx(); it builds nothing")
    known = ", ".join(("auto", *_BUILTIN, *registered_engine_builders()))
    raise ValueError(f"unknown engine builder {name!r}; expected one of: {known}")

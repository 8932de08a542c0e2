"""Name -> engine builder registry, and the ``auto`` resolution."""

from __future__ import annotations

import importlib
import re
import threading
from typing import Dict, List

from .base import EngineBuilder, EngineBuilderUnavailableError

_BUILTIN = ("tensorrt", "tensorrt_rtx")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")  # same rule as TensorRTCompileSpec

_lock = threading.Lock()
_registered: Dict[str, EngineBuilder] = {}

INSTALL_HINT = "install TensorRT-RTX (`pip install tensorrt-rtx-cu13`) or TensorRT (`pip install tensorrt`)"


def register_engine_builder(name: str, builder: EngineBuilder) -> None:
    """Make ``builder`` selectable as ``TensorRTCompileSpec(engine_builder=name)``.

    Registering a name again replaces the previous builder; registering
    ``tensorrt`` or ``tensorrt_rtx`` overrides the built-in one.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"engine builder name {name!r} must be lowercase ASCII letters, digits, '_', '.', '-' "
            "(at most 64 characters)"
        )
    if name == "auto":
        raise ValueError("'auto' is reserved: it picks tensorrt or tensorrt_rtx")
    if not callable(getattr(builder, "build", None)):
        raise TypeError(f"engine builder {name!r} must have a build(request) method, got {builder!r}")
    with _lock:
        _registered[name] = builder


def unregister_engine_builder(name: str) -> None:
    """Remove a registered builder; unknown names are ignored."""
    with _lock:
        _registered.pop(name, None)


def registered_engine_builders() -> List[str]:
    with _lock:
        return sorted(_registered)


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
    with _lock:
        builder = _registered.get(resolved)
    if builder is not None:
        return builder
    if resolved in _BUILTIN:
        from .tensorrt import TensorRTEngineBuilder

        return TensorRTEngineBuilder(resolved)
    if resolved == "prebuilt":
        from ..engine_sources import PrebuiltEngineBuilder

        return PrebuiltEngineBuilder()
    known = ", ".join(("auto", *_BUILTIN, "prebuilt", *registered_engine_builders()))
    raise ValueError(f"unknown engine builder {name!r}; expected one of: {known}")

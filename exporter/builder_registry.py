"""Engine builders registered by name (``register_engine_builder``).

Holds only the registrations, so the compile-spec checks can ask which names
exist without importing the builders themselves; ``builders.registry`` adds
the built-in ones and the ``auto`` resolution.
"""

from __future__ import annotations

import re
import threading
from typing import Dict, List, Optional

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")  # same rule as TensorRTCompileSpec

_lock = threading.Lock()
_registered: Dict[str, object] = {}


def register_engine_builder(name: str, builder: object) -> None:
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


def registered_engine_builder(name: str) -> Optional[object]:
    """The builder registered under ``name``, or None."""
    with _lock:
        return _registered.get(name)

"""User-facing options of the TensorRT delegate and their compile-spec form.

The options travel into the ``.pte`` as ExecuTorch ``CompileSpec`` entries and
reach the C++ delegate's ``init()`` unchanged, so the encoding is part of the
on-disk contract:

=====================  =====================================================
key                    value (plain ASCII)
=====================  =====================================================
``engine_builder``     builder name, e.g. ``auto``, ``tensorrt_rtx``
``device_index``       decimal integer >= 0, e.g. ``0``
``workspace_bytes``    decimal integer >= 0; the key is absent when unset
``version_compatible`` ``0`` or ``1``
=====================  =====================================================

Decimal integers have no sign, no leading ``+`` and no whitespace.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional

from executorch.exir.backend.compile_spec_schema import CompileSpec

BUILTIN_ENGINE_BUILDERS = ("auto", "tensorrt", "tensorrt_rtx")

# Builder names end up in the .pte; keeping them to a small ASCII alphabet
# keeps them printable and safe for the C++ side to log.
ENGINE_BUILDER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")

_INT32_MAX = 2**31 - 1  # device_index is an i32 in the delegate blob
_INT64_MAX = 2**63 - 1
_DECIMAL_RE = re.compile(r"^(0|[1-9][0-9]*)$")

KEY_ENGINE_BUILDER = "engine_builder"
KEY_DEVICE_INDEX = "device_index"
KEY_WORKSPACE_BYTES = "workspace_bytes"
KEY_VERSION_COMPATIBLE = "version_compatible"
KNOWN_KEYS = (KEY_ENGINE_BUILDER, KEY_DEVICE_INDEX, KEY_WORKSPACE_BYTES, KEY_VERSION_COMPATIBLE)


def _check_int(name: str, value: object, upper: int) -> None:
    # bool is a subclass of int; `device_index=True` is almost surely a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    if value > upper:
        raise ValueError(f"{name} must be <= {upper}, got {value}")


@dataclass(frozen=True)
class TensorRTCompileSpec:
    """How to build the TensorRT engine of each delegated partition.

    Attributes:
        engine_builder: ``auto`` (TensorRT when ``import tensorrt`` works, else
            TensorRT-RTX), ``tensorrt``, ``tensorrt_rtx``, or a name registered
            with ``register_engine_builder``.
        device_index: CUDA device the delegate runs the engine on.
        workspace_bytes: TensorRT workspace memory-pool limit; ``None`` keeps
            TensorRT's default.
        version_compatible: build a version-compatible engine (TensorRT's
            ``VERSION_COMPATIBLE`` builder flag).
    """

    engine_builder: str = "auto"
    device_index: int = 0
    workspace_bytes: Optional[int] = None
    version_compatible: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.engine_builder, str):
            raise TypeError(
                f"engine_builder must be a str, got {type(self.engine_builder).__name__}: {self.engine_builder!r}"
            )
        if not ENGINE_BUILDER_NAME_RE.match(self.engine_builder):
            raise ValueError(
                f"engine_builder {self.engine_builder!r} is not a valid builder name "
                "(lowercase ASCII letters, digits, '_', '.', '-'; at most 64 characters)"
            )
        # Imported here: the builders package imports this module.
        from .builders.registry import registered_engine_builders

        known = (*BUILTIN_ENGINE_BUILDERS, *registered_engine_builders())
        if self.engine_builder not in known:
            raise ValueError(
                f"unknown engine_builder {self.engine_builder!r}; expected one of: {', '.join(known)} "
                "(custom builders must be registered with register_engine_builder first)"
            )
        _check_int("device_index", self.device_index, _INT32_MAX)
        if self.workspace_bytes is not None:
            _check_int("workspace_bytes", self.workspace_bytes, _INT64_MAX)
        if not isinstance(self.version_compatible, bool):
            raise TypeError(
                f"version_compatible must be a bool, got {type(self.version_compatible).__name__}: "
                f"{self.version_compatible!r}"
            )

    @classmethod
    def field_names(cls) -> List[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def to_compile_specs(self) -> List[CompileSpec]:
        """The ExecuTorch compile specs that carry this spec into the ``.pte``."""
        values: Dict[str, str] = {
            KEY_ENGINE_BUILDER: self.engine_builder,
            KEY_DEVICE_INDEX: str(self.device_index),
        }
        if self.workspace_bytes is not None:
            values[KEY_WORKSPACE_BYTES] = str(self.workspace_bytes)
        values[KEY_VERSION_COMPATIBLE] = "1" if self.version_compatible else "0"
        return [CompileSpec(key, value.encode("ascii")) for key, value in values.items()]

    @classmethod
    def from_compile_specs(cls, specs: Iterable[CompileSpec]) -> "TensorRTCompileSpec":
        """Parse what ``to_compile_specs`` produced; absent keys keep their defaults."""
        raw = decode_compile_specs(specs)
        unknown = sorted(set(raw) - set(KNOWN_KEYS))
        if unknown:
            raise ValueError(
                f"unknown TensorRT compile spec key(s): {', '.join(unknown)}; known keys: {', '.join(KNOWN_KEYS)}"
            )
        kwargs: Dict[str, object] = {}
        if KEY_ENGINE_BUILDER in raw:
            kwargs["engine_builder"] = raw[KEY_ENGINE_BUILDER]
        if KEY_DEVICE_INDEX in raw:
            kwargs["device_index"] = _parse_decimal(KEY_DEVICE_INDEX, raw[KEY_DEVICE_INDEX])
        if KEY_WORKSPACE_BYTES in raw:
            kwargs["workspace_bytes"] = _parse_decimal(KEY_WORKSPACE_BYTES, raw[KEY_WORKSPACE_BYTES])
        if KEY_VERSION_COMPATIBLE in raw:
            flag = raw[KEY_VERSION_COMPATIBLE]
            if flag not in ("0", "1"):
                raise ValueError(f"compile spec {KEY_VERSION_COMPATIBLE} must be '0' or '1', got {flag!r}")
            kwargs["version_compatible"] = flag == "1"
        return cls(**kwargs)  # type: ignore[arg-type]


def decode_compile_specs(specs: Iterable[CompileSpec]) -> Dict[str, str]:
    """Compile specs as ``{key: ASCII value}``, refusing duplicates and non-ASCII.

    Does not interpret the values, so ``inspect`` can show specs written by a
    newer exporter or naming a builder registered only in another process.
    """
    if isinstance(specs, (str, bytes)) or not isinstance(specs, Iterable):
        raise TypeError(f"compile specs must be a list of CompileSpec, got {type(specs).__name__}")
    raw: Dict[str, str] = {}
    duplicated: List[str] = []
    for spec in specs:
        key = getattr(spec, "key", None)
        value = getattr(spec, "value", None)
        if not isinstance(key, str) or not isinstance(value, (bytes, bytearray)):
            raise TypeError(f"expected CompileSpec(key: str, value: bytes), got {spec!r}")
        try:
            text = bytes(value).decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(f"compile spec {key!r} has a non-ASCII value {bytes(value)!r}") from None
        if key in raw and key not in duplicated:
            duplicated.append(key)
        raw[key] = text
    if duplicated:
        raise ValueError(f"compile spec key(s) given more than once: {', '.join(duplicated)}")
    return raw


def _parse_decimal(key: str, text: str) -> int:
    if not _DECIMAL_RE.match(text):
        raise ValueError(f"compile spec {key} must be a non-negative decimal integer, got {text!r}")
    return int(text)

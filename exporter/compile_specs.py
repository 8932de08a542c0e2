"""User-facing options of the TensorRT delegate and their compile-spec form.

The options travel into the ``.pte`` as ExecuTorch ``CompileSpec`` entries and
reach the C++ delegate's ``init()`` unchanged, so the encoding is part of the
on-disk contract (``backend/delegate_options.h``; any key the delegate does not
know makes its ``init()`` fail):

===========================  ==================================================
key                          value (plain ASCII); absent when unset
===========================  ==================================================
``engine_builder``           builder name, e.g. ``auto``, ``tensorrt_rtx``
``device_index``             decimal integer >= 0, e.g. ``0``
``workspace_bytes``          decimal integer >= 0
``version_compatible``       ``0`` or ``1`` (always written)
``precision``                ``fp32``, ``fp16`` or ``bf16``
``optimization_level``       decimal integer 0..5
``timing_cache``             path of the timing-cache file used for the build
``enable_weight_streaming``  ``1`` (written only when enabled)
``compute_capabilities``     comma-separated TensorRT-RTX targets, e.g. ``sm89,sm120``
``optimization_profiles``    JSON: ``[{"s0": [min, opt, max], ...}, ...]``
``weight_streaming_budget``  decimal bytes (read by the delegate)
``init_policy``              ``eager``, ``deferred``, ``deferred_context`` (read by the delegate)
``output_buffers``           ``reuse`` or ``fresh`` (read by the delegate)
``batch_engines``            ``max_batch`` or ``per_range`` (always written)
``execution_memory``         ``private``, ``program`` or ``process`` (read by the delegate)
===========================  ==================================================

Decimal integers have no sign, no leading ``+``/zeros and no whitespace. The
delegate reads ``weight_streaming_budget``, ``init_policy``, ``output_buffers``
and ``execution_memory``; it accepts and ignores the others, which record how
the engines were built (``executorch-tensorrt inspect`` shows them).

``batch_engines``: ``max_batch`` builds one engine holding every optimization
profile; ``per_range`` builds one engine per profile, all in one delegate blob
(format version 2), and the delegate picks the smallest that holds a call's
shapes. ``execution_memory``: ``private``, each engine's execution context owns
its memory; ``program``, the program's engines on one device share one pool
sized to the largest need (the delegate's default when unset); ``process``,
one pool per device shared by every program of the process that asks for it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from executorch.exir.backend.compile_spec_schema import CompileSpec

from .builder_registry import registered_engine_builders

# "prebuilt" marks engines given to save_engine()/save_onnx() rather than built from a graph.
BUILTIN_ENGINE_BUILDERS = ("auto", "tensorrt", "tensorrt_rtx", "prebuilt")

# Builder names end up in the .pte; keeping them to a small ASCII alphabet
# keeps them printable and safe for the C++ side to log.
ENGINE_BUILDER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")

PRECISIONS = ("fp32", "fp16", "bf16")
INIT_POLICIES = ("eager", "deferred", "deferred_context")
OUTPUT_BUFFER_POLICIES = ("reuse", "fresh", "reuse_profile_max")
BATCH_ENGINES = ("max_batch", "per_range")
EXECUTION_MEMORY_POLICIES = ("private", "program", "process")
# TensorRT-RTX ComputeCapability members, lowercased (SM75 ... SM121).
COMPUTE_CAPABILITY_RE = re.compile(r"^sm[0-9]{2,3}$")
MAX_OPTIMIZATION_LEVEL = 5

_INT32_MAX = 2**31 - 1  # device_index is an i32 in the delegate blob
_INT64_MAX = 2**63 - 1  # TensorRT takes budgets and pool sizes as int64
_DECIMAL_RE = re.compile(r"^(0|[1-9][0-9]*)$")

KEY_ENGINE_BUILDER = "engine_builder"
KEY_DEVICE_INDEX = "device_index"
KEY_WORKSPACE_BYTES = "workspace_bytes"
KEY_VERSION_COMPATIBLE = "version_compatible"
KEY_PRECISION = "precision"
KEY_OPTIMIZATION_LEVEL = "optimization_level"
KEY_TIMING_CACHE = "timing_cache"
KEY_ENABLE_WEIGHT_STREAMING = "enable_weight_streaming"
KEY_COMPUTE_CAPABILITIES = "compute_capabilities"
KEY_OPTIMIZATION_PROFILES = "optimization_profiles"
KEY_WEIGHT_STREAMING_BUDGET = "weight_streaming_budget"
KEY_INIT_POLICY = "init_policy"
KEY_OUTPUT_BUFFERS = "output_buffers"
KEY_BATCH_ENGINES = "batch_engines"
KEY_EXECUTION_MEMORY = "execution_memory"

# Shape range of one symbolic dimension in one profile: (min, opt, max).
DimRange = Tuple[int, int, int]
Profile = Mapping[str, DimRange]


def check_int(name: str, value: object, upper: int, lower: int = 0) -> None:
    # bool is a subclass of int; `device_index=True` is almost surely a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if value < lower:
        raise ValueError(f"{name} must be >= {lower}, got {value}")
    if value > upper:
        raise ValueError(f"{name} must be <= {upper}, got {value}")


def check_weight_streaming_budget(name: str, value: object) -> None:
    """Bytes as a plain int in 0 .. 2**63-1 (TensorRT's int64)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be an int number of bytes, got {type(value).__name__}: {value!r}"
            + ("; write e.g. 2 * 1024**3, not 2e9" if isinstance(value, float) else "")
        )
    if value < 0:
        raise ValueError(f"{name} must be >= 0 bytes, got {value}")
    if value > _INT64_MAX:
        raise ValueError(f"{name} must be below 2**63 bytes (TensorRT takes an int64), got {value}")


def _check_choice(name: str, value: object, choices: Tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def check_profiles(profiles: object) -> Tuple[Dict[str, DimRange], ...]:
    if not isinstance(profiles, (tuple, list)):
        raise TypeError(
            f"optimization_profiles must be a list of {{dim: (min, opt, max)}}, got {type(profiles).__name__}"
        )
    checked = []
    for index, profile in enumerate(profiles):
        if not isinstance(profile, Mapping) or not profile:
            raise TypeError(f"optimization_profiles[{index}] must be a non-empty dict {{dim: (min, opt, max)}}")
        ranges: Dict[str, DimRange] = {}
        for dim, bounds in profile.items():
            where = f"optimization_profiles[{index}][{dim!r}]"
            if not isinstance(dim, str) or not dim:
                raise TypeError(f"{where}: dimension names must be non-empty strings")
            if not isinstance(bounds, (tuple, list)) or len(bounds) != 3:
                raise TypeError(f"{where} must be (min, opt, max), got {bounds!r}")
            for value in bounds:
                check_int(where, value, _INT64_MAX)
            low, opt, high = (int(b) for b in bounds)
            if not low <= opt <= high:
                raise ValueError(f"{where} must satisfy min <= opt <= max, got {tuple(bounds)}")
            ranges[dim] = (low, opt, high)
        checked.append(ranges)
    return tuple(checked)


@dataclass(frozen=True)
class TensorRTCompileSpec:
    """How to build the TensorRT engine of each delegated partition, and the
    run-time policies baked into each delegate.

    Attributes:
        engine_builder: ``auto`` (TensorRT when ``import tensorrt`` works, else
            TensorRT-RTX), ``tensorrt``, ``tensorrt_rtx``, or a name registered
            with ``register_engine_builder``.
        device_index: CUDA device the delegate runs the engine on.
        workspace_bytes: TensorRT workspace memory-pool limit; ``None`` keeps
            TensorRT's default.
        version_compatible: build a version-compatible engine (TensorRT's
            ``VERSION_COMPATIBLE`` builder flag).
        precision: the recorded compute precision; ``save``/``export`` convert
            the model to it before export (networks are strongly typed).
        optimization_level: TensorRT builder optimization level 0..5.
        timing_cache: timing-cache file, read if it exists and written back.
        enable_weight_streaming: build with ``BuilderFlag.WEIGHT_STREAMING``.
        weight_streaming_budget: default budget in bytes baked per engine.
        compute_capabilities: TensorRT-RTX targets such as ``("sm89",)``.
        optimization_profiles: per profile, ``{symbol: (min, opt, max)}`` for
            the program's symbolic dimensions (``s0``...).
        init_policy / output_buffers: run-time policies read by the delegate.
        batch_engines: ``max_batch`` (one engine with every profile) or
            ``per_range`` (one engine per profile in the delegate).
        execution_memory: ``private``, ``program`` or ``process``: who shares
            the engines' execution-context memory (read by the delegate).
    """

    engine_builder: str = "auto"
    device_index: int = 0
    workspace_bytes: Optional[int] = None
    version_compatible: bool = False
    precision: Optional[str] = None
    optimization_level: Optional[int] = None
    timing_cache: Optional[str] = None
    enable_weight_streaming: bool = False
    compute_capabilities: Tuple[str, ...] = ()
    optimization_profiles: Tuple[Profile, ...] = ()
    weight_streaming_budget: Optional[int] = None
    init_policy: Optional[str] = None
    output_buffers: Optional[str] = None
    batch_engines: str = "max_batch"
    execution_memory: Optional[str] = None

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
        known = (*BUILTIN_ENGINE_BUILDERS, *registered_engine_builders())
        if self.engine_builder not in known:
            raise ValueError(
                f"unknown engine_builder {self.engine_builder!r}; expected one of: {', '.join(known)} "
                "(custom builders must be registered with register_engine_builder first)"
            )
        check_int("device_index", self.device_index, _INT32_MAX)
        if self.workspace_bytes is not None:
            check_int("workspace_bytes", self.workspace_bytes, _INT64_MAX)
        for name in ("version_compatible", "enable_weight_streaming"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, got {type(value).__name__}: {value!r}")
        if self.precision is not None:
            _check_choice("precision", self.precision, PRECISIONS)
        if self.optimization_level is not None:
            check_int("optimization_level", self.optimization_level, MAX_OPTIMIZATION_LEVEL)
        if self.timing_cache is not None:
            if not isinstance(self.timing_cache, str) or not self.timing_cache:
                raise TypeError(f"timing_cache must be a non-empty path string, got {self.timing_cache!r}")
            if not self.timing_cache.isascii():
                raise ValueError(f"timing_cache path must be ASCII (it is recorded in the .pte): {self.timing_cache!r}")
        if isinstance(self.compute_capabilities, str) or not isinstance(self.compute_capabilities, (tuple, list)):
            raise TypeError(
                f"compute_capabilities must be a tuple of names like 'sm89', got {self.compute_capabilities!r}"
            )
        for target in self.compute_capabilities:
            if not isinstance(target, str) or not COMPUTE_CAPABILITY_RE.match(target):
                raise ValueError(f"compute capability {target!r} must look like 'sm89' or 'sm120'")
        object.__setattr__(self, "compute_capabilities", tuple(self.compute_capabilities))
        object.__setattr__(self, "optimization_profiles", check_profiles(self.optimization_profiles))
        if self.weight_streaming_budget is not None:
            check_weight_streaming_budget("weight_streaming_budget", self.weight_streaming_budget)
        if self.init_policy is not None:
            _check_choice("init_policy", self.init_policy, INIT_POLICIES)
        if self.output_buffers is not None:
            _check_choice("output_buffers", self.output_buffers, OUTPUT_BUFFER_POLICIES)
        _check_choice("batch_engines", self.batch_engines, BATCH_ENGINES)
        if self.execution_memory is not None:
            _check_choice("execution_memory", self.execution_memory, EXECUTION_MEMORY_POLICIES)

    @classmethod
    def field_names(cls) -> List[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def replace(self, **changes: Any) -> "TensorRTCompileSpec":
        return dataclasses.replace(self, **changes)

    def to_compile_specs(self) -> List[CompileSpec]:
        """The ExecuTorch compile specs that carry this spec into the ``.pte``."""
        specs = []
        for codec in _CODECS:
            value = getattr(self, codec.field)
            if codec.written(value):
                specs.append(CompileSpec(codec.key, codec.encode(value).encode("ascii")))
        return specs

    @classmethod
    def from_compile_specs(cls, specs: Iterable[CompileSpec]) -> "TensorRTCompileSpec":
        """Parse what ``to_compile_specs`` produced; absent keys keep their defaults."""
        raw = decode_compile_specs(specs)
        codecs = {codec.key: codec for codec in _CODECS}
        unknown = sorted(set(raw) - set(codecs))
        if unknown:
            raise ValueError(
                f"unknown TensorRT compile spec key(s): {', '.join(unknown)}; known keys: {', '.join(codecs)}"
            )
        return cls(**{codecs[key].field: codecs[key].decode(key, text) for key, text in raw.items()})


@dataclass(frozen=True)
class _Codec:
    key: str
    field: str
    encode: Callable[[Any], str]
    decode: Callable[[str, str], Any]
    written: Callable[[Any], bool] = lambda value: value is not None


def _parse_decimal(key: str, text: str) -> int:
    if not _DECIMAL_RE.match(text):
        raise ValueError(f"compile spec {key} must be a non-negative decimal integer, got {text!r}")
    return int(text)


def _parse_flag(key: str, text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError(f"compile spec {key} must be '0' or '1', got {text!r}")
    return text == "1"


def _parse_profiles(key: str, text: str) -> Tuple[Dict[str, DimRange], ...]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"compile spec {key} is not valid JSON: {err}") from None
    return check_profiles([{k: tuple(v) if isinstance(v, list) else v for k, v in p.items()} for p in value])


def _encode_profiles(profiles: Tuple[Profile, ...]) -> str:
    return json.dumps([{k: list(v) for k, v in p.items()} for p in profiles], separators=(",", ":"), sort_keys=True)


def _text(key: str, text: str) -> str:
    return text


_CODECS = (
    _Codec(KEY_ENGINE_BUILDER, "engine_builder", str, _text),
    _Codec(KEY_DEVICE_INDEX, "device_index", str, _parse_decimal),
    _Codec(KEY_WORKSPACE_BYTES, "workspace_bytes", str, _parse_decimal),
    _Codec(KEY_VERSION_COMPATIBLE, "version_compatible", lambda v: "1" if v else "0", _parse_flag, lambda v: True),
    _Codec(KEY_PRECISION, "precision", str, _text),
    _Codec(KEY_OPTIMIZATION_LEVEL, "optimization_level", str, _parse_decimal),
    _Codec(KEY_TIMING_CACHE, "timing_cache", str, _text),
    _Codec(KEY_ENABLE_WEIGHT_STREAMING, "enable_weight_streaming", lambda v: "1", _parse_flag, bool),
    _Codec(KEY_COMPUTE_CAPABILITIES, "compute_capabilities", ",".join, lambda k, t: tuple(t.split(",")), bool),
    _Codec(KEY_OPTIMIZATION_PROFILES, "optimization_profiles", _encode_profiles, _parse_profiles, bool),
    _Codec(KEY_WEIGHT_STREAMING_BUDGET, "weight_streaming_budget", str, _parse_decimal),
    _Codec(KEY_INIT_POLICY, "init_policy", str, _text),
    _Codec(KEY_OUTPUT_BUFFERS, "output_buffers", str, _text),
    _Codec(KEY_BATCH_ENGINES, "batch_engines", str, _text, lambda v: True),
    _Codec(KEY_EXECUTION_MEMORY, "execution_memory", str, _text),
)
KNOWN_KEYS = tuple(codec.key for codec in _CODECS)


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

"""``TensorRTCompileSpec``: the export options recorded in the ``.pte``, and their compile-spec form.

Its fields, their values and defaults are rows of the option table
(``executorch_tensorrt/option_table.py``, shown in docs/options.md). The specs
reach the C++ delegate's ``init()`` unchanged, so their ASCII encoding
(decimals, ``0``/``1`` flags, names, ``sm89,sm120``, JSON profiles) is part of
the on-disk contract; the delegate reads the ``compile_spec`` rows and accepts
and ignores the ``record`` rows (any other key fails its ``init()``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Tuple

# KEY_* are imported from here by the exporter's other modules.
from ..option_table import BYTES, CHOICE, COMPILE_SPEC, DECIMAL_RE, FLAG, INT, INT64_MAX, NAME, PATH, PROFILES, TARGETS
from ..option_table import KEY_BATCH_ENGINES, KEY_DEVICE_INDEX, KEY_EXECUTION_MEMORY, KEY_INIT_POLICY  # noqa: F401
from ..option_table import KEY_OUTPUT_BUFFERS, KEY_WEIGHT_STREAMING_BUDGET, Option, spec_fields  # noqa: F401
from ..option_table import KEY_DIM_NAMES, KEY_INPUT_NAMES, OPTIONS, RECORD  # noqa: F401
from .builder_registry import registered_engine_builders

if TYPE_CHECKING:  # ExecuTorch's package imports torch, which `inspect` (decode_compile_specs) does without
    from executorch.exir.backend.compile_spec_schema import CompileSpec

# "prebuilt" marks engines given to save_engine()/save_onnx() rather than built from a graph.
BUILTIN_ENGINE_BUILDERS = ("auto", "tensorrt", "tensorrt_rtx", "prebuilt")

# Builder names end up in the .pte; keeping them to a small ASCII alphabet
# keeps them printable and safe for the C++ side to log.
ENGINE_BUILDER_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
# TensorRT-RTX ComputeCapability members, lowercased (SM75 ... SM121).
COMPUTE_CAPABILITY_RE = re.compile(r"sm[0-9]{2,3}")

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


def check_bytes(name: str, value: object) -> None:
    """Bytes as a plain int in 0 .. 2**63-1 (TensorRT's int64)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be an int number of bytes, got {type(value).__name__}: {value!r}"
            + ("; write e.g. 2 * 1024**3, not 2e9" if isinstance(value, float) else "")
        )
    if value < 0:
        raise ValueError(f"{name} must be >= 0 bytes, got {value}")
    if value > INT64_MAX:
        raise ValueError(f"{name} must be below 2**63 bytes (TensorRT takes an int64), got {value}")


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
                check_int(where, value, INT64_MAX)
            low, opt, high = (int(b) for b in bounds)
            if not low <= opt <= high:
                raise ValueError(f"{where} must satisfy min <= opt <= max, got {tuple(bounds)}")
            ranges[dim] = (low, opt, high)
        checked.append(ranges)
    return tuple(checked)


def _check_builder(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"engine_builder must be a str, got {type(value).__name__}: {value!r}")
    if not ENGINE_BUILDER_NAME_RE.fullmatch(value):
        raise ValueError(
            f"engine_builder {value!r} is not a valid builder name "
            "(lowercase ASCII letters, digits, '_', '.', '-'; at most 64 characters)"
        )
    known = (*BUILTIN_ENGINE_BUILDERS, *registered_engine_builders())
    if value not in known:
        raise ValueError(
            f"unknown engine_builder {value!r}; expected one of: {', '.join(known)} "
            "(custom builders must be registered with register_engine_builder first)"
        )
    return value


def _check_targets(value: object) -> Tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        raise TypeError(f"compute_capabilities must be a tuple of names like 'sm89', got {value!r}")
    for target in value:
        if not isinstance(target, str) or not COMPUTE_CAPABILITY_RE.fullmatch(target):
            raise ValueError(f"compute capability {target!r} must look like 'sm89' or 'sm120'")
    return tuple(value)


def field_default(option: Option) -> Any:
    """The default of an export keyword: policies the delegate reads stay unset (not written) unless given."""
    return None if COMPILE_SPEC in option.sources else option.default


def check_option(option: Option, value: Any) -> Any:
    """``value`` checked against its row of the option table; returns it normalized."""
    name = option.key
    if value is None and field_default(option) is None:
        return None  # unset: the delegate's (or TensorRT's) default applies
    if option.kind == NAME:
        return _check_builder(value)
    if option.kind == INT:
        check_int(name, value, option.maximum, option.minimum)
    elif option.kind == BYTES:
        check_bytes(name, value)
    elif option.kind == FLAG and not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}: {value!r}")
    elif option.kind == CHOICE and (not isinstance(value, str) or value not in option.choices):
        raise ValueError(f"{name} must be one of {option.accepted()}; got {value!r}")
    elif option.kind == PATH:
        if not isinstance(value, str) or not value:
            raise TypeError(f"{name} must be a non-empty path string, got {value!r}")
        if not value.isascii():
            raise ValueError(f"{name} path must be ASCII (it is recorded in the .pte): {value!r}")
    elif option.kind == TARGETS:
        return _check_targets(value)
    elif option.kind == PROFILES:
        return check_profiles(value)
    return value


class _CompileSpecMethods:
    """Validation and encoding of the generated ``TensorRTCompileSpec``."""

    def __post_init__(self) -> None:
        for option in spec_fields():
            object.__setattr__(self, option.key, check_option(option, getattr(self, option.key)))

    @classmethod
    def field_names(cls) -> List[str]:
        return [option.key for option in spec_fields()]

    def replace(self, **changes: Any) -> Any:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_compile_specs(self) -> List[CompileSpec]:
        """The ExecuTorch compile specs that carry this spec into the ``.pte``."""
        from executorch.exir.backend.compile_spec_schema import CompileSpec  # see TYPE_CHECKING above

        specs = []
        for option in spec_fields():
            value = getattr(self, option.key)
            if option.always_recorded or not (value is None or value is False or value == ()):
                specs.append(CompileSpec(option.key, encode_value(option, value).encode("ascii")))
        return specs

    @classmethod
    def from_compile_specs(cls, specs: Iterable[CompileSpec]) -> Any:
        """Parse what ``to_compile_specs`` produced; absent keys keep their defaults
        and the keys recorded only for ``inspect`` are skipped."""
        raw = {k: v for k, v in decode_compile_specs(specs).items() if k not in RECORDED_ONLY_KEYS}
        unknown = sorted(set(raw) - set(KNOWN_KEYS))
        if unknown:
            raise ValueError(
                f"unknown TensorRT compile spec key(s): {', '.join(unknown)}; known keys: {', '.join(KNOWN_KEYS)}"
            )
        fields = {option.key: option for option in spec_fields()}
        return cls(**{key: decode_value(fields[key], text) for key, text in raw.items()})


TensorRTCompileSpec = dataclasses.make_dataclass(
    "TensorRTCompileSpec",
    [(o.key, Any, dataclasses.field(default=field_default(o))) for o in spec_fields()],
    bases=(_CompileSpecMethods,),
    frozen=True,
    namespace={
        "__module__": __name__,
        "__doc__": "How to build the TensorRT engine of each delegated partition, and the run-time policies "
        "baked into each delegate.\n\nAttributes:\n"
        + "".join(f"    {o.key}: {o.doc}.\n" for o in spec_fields()),
    },
)
KNOWN_KEYS = tuple(option.key for option in spec_fields())
# Written by the partitioner for inspect and ExecuTorch; no spec field holds them.
RECORDED_ONLY_KEYS = tuple(option.key for option in OPTIONS if option.sources == (RECORD,))


def encode_value(option: Option, value: Any) -> str:
    """A spec value as its compile-spec text."""
    if option.kind == FLAG:
        return "1" if value else "0"
    if option.kind == TARGETS:
        return ",".join(value)
    if option.kind == PROFILES:
        return json.dumps([{k: list(v) for k, v in p.items()} for p in value], separators=(",", ":"), sort_keys=True)
    return str(value)


def decode_value(option: Option, text: str) -> Any:
    """Compile-spec text back to a spec value (checked by the spec itself)."""
    key = option.key
    if option.kind in (INT, BYTES):
        if not DECIMAL_RE.fullmatch(text):
            raise ValueError(f"compile spec {key} must be a non-negative decimal integer, got {text!r}")
        return int(text)
    if option.kind == FLAG:
        if text not in ("0", "1"):
            raise ValueError(f"compile spec {key} must be '0' or '1', got {text!r}")
        return text == "1"
    if option.kind == TARGETS:
        return tuple(text.split(","))
    if option.kind == PROFILES:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"compile spec {key} is not valid JSON: {err}") from None
        return check_profiles([{k: tuple(v) if isinstance(v, list) else v for k, v in p.items()} for p in value])
    return text


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

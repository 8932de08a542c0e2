"""What a ``.pte`` holds for TensorRT: engines, their signatures and options."""

from __future__ import annotations

import dataclasses
import json
import mmap
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .._native import BACKEND_ID
from ..option_table import COMPILE_SPEC, KEY_DIM_NAMES, KEY_INPUT_NAMES, KEY_OPTIMIZATION_PROFILES, keys
from . import blob
from .state_section import KeptWeights, states_and_weights
from .compile_specs import KEY_BATCH_ENGINES, KEY_EXECUTION_MEMORY, decode_compile_specs
from .pte_file import DELEGATE_CALL, PteFile, PtePlan, read_pte

# Compile specs the delegate reads at init(); load-time options override them.
RUNTIME_KEYS = keys(COMPILE_SPEC)
# Why an engine's execution memory is not in the file, per flavour (blob.Flavour labels).
UNKNOWN_NEED_TEXTS = {
    "tensorrt_rtx": "known at load (TensorRT-RTX compiles for the device)",
    "tensorrt": "known at load (TensorRT reports it only from the engine deserialized on a GPU)",
}
UNKNOWN_NEED_TEXT = "known at load"  # other flavours
# Compile specs the text report shows as names and profiles rather than raw JSON.
_SHOWN_APART = (KEY_INPUT_NAMES, KEY_DIM_NAMES, KEY_OPTIMIZATION_PROFILES)


@dataclass(frozen=True)
class TensorReport:
    name: str  # the user's name where the export recorded it (forward() argument...), else the engine's
    dtype: str
    # One "[1, 16]" (static) or "[1, 16]..[8, 16]" per optimization profile.
    shapes: List[str]
    engine_name: str = ""  # the engine's tensor name, when ``name`` is the user's


@dataclass(frozen=True)
class EngineReport:
    engine_bytes: int
    flavour: str
    builder_version: str
    version_compatible: bool
    device_index: int
    num_profiles: int
    inputs: List[TensorReport]
    outputs: List[TensorReport]
    # The engine's execution-context memory need as the builder measured it;
    # -1: known only at load.
    execution_memory_bytes: int = blob.UNKNOWN_EXECUTION_MEMORY
    # Where the bytes are when the program's named data holds them (named_engines), else "".
    named_key: str = ""


@dataclass(frozen=True)
class DelegateReport:
    index: int
    backend_id: str
    size_bytes: int
    # Only for ExecutorchTensorRTBackend delegates:
    compile_specs: Dict[str, str] = field(default_factory=dict)
    engine: Optional[EngineReport] = None  # the first (smallest) of ``engines``
    error: Optional[str] = None  # why the blob or specs could not be read
    # Every engine of the delegate in blob order (several with batch_engines="per_range").
    engines: List[EngineReport] = field(default_factory=list)
    # Per optimization profile: {dimension: [min, opt, max]}, keyed by the
    # torch.export.Dim names given at export where recorded.
    profiles: List[Dict[str, List[int]]] = field(default_factory=list)
    # The mutable buffers the delegate owns (blob section ``state``), e.g.
    # "cache float32 [2, 3] (in state_in_0, out state_out_0)".
    states: List[str] = field(default_factory=list)
    # Weights kept outside the engines, in the program's named data (.ptd):
    # refitted at load or read by the engines as inputs.
    kept_weights: KeptWeights = KeptWeights()


@dataclass(frozen=True)
class MethodReport:
    name: str
    delegates: List[DelegateReport]
    non_delegated_operators: int  # kernel calls ExecuTorch runs outside delegates
    operator_names: List[str]  # the distinct operators of those calls
    # The partition in execution order: "delegate <i>" or the CPU operator run.
    steps: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProgramReport:
    size_bytes: int
    methods: List[MethodReport]

    @property
    def tensorrt_delegates(self) -> List[DelegateReport]:
        return [d for m in self.methods for d in m.delegates if d.backend_id == BACKEND_ID]

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def execution_memory_needs(self) -> List[int]:
        """The known execution-memory needs of every TensorRT engine of the program."""
        needs = [e.execution_memory_bytes for d in self.tensorrt_delegates for e in d.engines]
        return [need for need in needs if need >= 0]


def _shape_text(shape_range: blob.ShapeRange) -> str:
    low, high = list(shape_range.min), list(shape_range.max)
    if low == high:
        return str(low)
    return f"{low}..{high} (opt {list(shape_range.opt)})"


def _tensor_report(spec: blob.TensorSpec) -> TensorReport:
    return TensorReport(spec.name, spec.dtype_name, [_shape_text(r) for r in spec.ranges])


def _engine_report(entry: blob.EngineEntry) -> EngineReport:
    meta = entry.blob.metadata
    return EngineReport(
        engine_bytes=entry.engine_bytes,
        flavour=meta.flavour.label,
        builder_version=meta.builder_version,
        version_compatible=meta.version_compatible,
        device_index=meta.device_index,
        num_profiles=meta.num_profiles,
        inputs=[_tensor_report(s) for s in meta.inputs],
        outputs=[_tensor_report(s) for s in meta.outputs],
        execution_memory_bytes=entry.execution_memory_bytes,
        named_key=entry.named_key,
    )


def _read(path_or_bytes: Union[str, os.PathLike, bytes, bytearray, memoryview]) -> Union[bytes, mmap.mmap]:
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes)
    if isinstance(path_or_bytes, (str, os.PathLike)):
        # Mapped, not read: inspect touches only the flatbuffer and the blobs'
        # metadata, so a program of several GiB costs a few pages.
        with open(path_or_bytes, "rb") as file:
            if os.fstat(file.fileno()).st_size == 0:
                return b""
            return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    raise TypeError(f"expected a path or bytes, got {type(path_or_bytes).__name__}")


def _steps(plan: PtePlan) -> List[str]:
    steps: List[str] = []
    for kind, index in plan.calls:
        if kind == DELEGATE_CALL:
            steps.append(f"delegate {index}")
        elif 0 <= index < len(plan.operators):
            name, overload = plan.operators[index]
            steps.append(f"{name}.{overload}" if overload else name)
        else:
            steps.append(f"operator #{index} (not in the operator table)")
    return steps


def _tensorrt_delegate(pte: PteFile, data: bytes, plan_index: int, delegate_index: int) -> DelegateReport:
    delegate = pte.plans[plan_index].delegates[delegate_index]
    payload = pte.delegate_payload(data, plan_index, delegate_index)
    specs: Dict[str, str] = {}
    engines: List[EngineReport] = []
    states: List[str] = []
    errors: List[str] = []
    # A bad blob or bad specs is reported, not raised: inspect is for
    # looking at programs that may well be broken.
    try:
        specs = decode_compile_specs(delegate.compile_specs)
    except (TypeError, ValueError) as err:
        errors.append(f"compile specs: {err}")
    weights = KeptWeights()
    try:
        entries, sections = blob.decode_delegate(payload)
        engines = [_engine_report(entry) for entry in entries]
        owned, weights = states_and_weights(sections, entries[0].blob.metadata)
        states = [state.describe() for state in owned]
    except blob.BlobFormatError as err:
        errors.append(f"delegate blob: {err}")
    profiles: List[Dict[str, List[int]]] = []
    try:
        engines = [_named_inputs(e, specs) for e in engines]
        profiles = _profiles(specs)
    except ValueError as err:
        errors.append(f"recorded names: {err}")
    first = engines[0] if engines else None
    error = "; ".join(errors) or None
    return DelegateReport(
        delegate_index, delegate.id, len(payload), specs, first, error, engines, profiles, states, weights
    )


def _named_inputs(engine: EngineReport, specs: Mapping[str, str]) -> EngineReport:
    """``engine`` with its inputs under the names the export recorded (``user_names.py``)."""
    if KEY_INPUT_NAMES not in specs:
        return engine
    names = _recorded(specs, KEY_INPUT_NAMES, list)
    if len(names) != len(engine.inputs):
        raise ValueError(f"{len(names)} input names recorded for {len(engine.inputs)} engine inputs")
    inputs = [dataclasses.replace(t, name=n, engine_name=t.name) for t, n in zip(engine.inputs, names, strict=True)]
    return dataclasses.replace(engine, inputs=inputs)


def _recorded(specs: Mapping[str, str], key: str, kind: type) -> Any:
    """The JSON value of compile spec ``key`` (the option table says its form)."""
    try:
        value = json.loads(specs[key])
    except json.JSONDecodeError as err:
        raise ValueError(f"{key} is not valid JSON: {err}") from None
    if not isinstance(value, kind):
        raise ValueError(f"{key} must be a JSON {'list' if kind is list else 'object'}, got {specs[key]!r}")
    return value


def _profiles(specs: Mapping[str, str]) -> List[Dict[str, List[int]]]:
    if KEY_OPTIMIZATION_PROFILES not in specs:
        return []
    dims = _recorded(specs, KEY_DIM_NAMES, dict) if KEY_DIM_NAMES in specs else {}
    profiles = _recorded(specs, KEY_OPTIMIZATION_PROFILES, list)
    if not all(isinstance(p, dict) for p in profiles):
        raise ValueError(f"{KEY_OPTIMIZATION_PROFILES} is not a JSON list of objects")
    return [{dims.get(symbol, symbol): list(bounds) for symbol, bounds in p.items()} for p in profiles]


def inspect_program(path_or_bytes: Union[str, os.PathLike, bytes, bytearray, memoryview]) -> ProgramReport:
    """Describe a ``.pte`` (path or bytes); reads the flatbuffer directly (no torch)."""
    data = _read(path_or_bytes)
    pte = read_pte(data)
    methods: List[MethodReport] = []
    for plan_index, plan in enumerate(pte.plans):
        delegates: List[DelegateReport] = []
        for delegate_index, delegate in enumerate(plan.delegates):
            if delegate.id == BACKEND_ID:
                delegates.append(_tensorrt_delegate(pte, data, plan_index, delegate_index))
            else:
                payload = pte.delegate_payload(data, plan_index, delegate_index)
                delegates.append(DelegateReport(delegate_index, delegate.id, len(payload)))
        steps = _steps(plan)
        cpu_ops = [step for step in steps if not step.startswith("delegate ")]
        methods.append(MethodReport(plan.name, delegates, len(cpu_ops), sorted(set(cpu_ops)), steps))
    return ProgramReport(len(data), methods)


def _tensor_lines(kind: str, tensors: Sequence[TensorReport]) -> List[str]:
    width = max((len(t.name) for t in tensors), default=0)
    lines = [f"      {kind}:"]
    for t in tensors:
        engine = f"  (engine {t.engine_name})" if t.engine_name and t.engine_name != t.name else ""
        lines.append(f"        {t.name:<{width}}  {t.dtype:<8}  {' | '.join(t.shapes)}{engine}")
    return lines


def _compress(steps: Sequence[str]) -> List[str]:
    """Runs of CPU operators as one ``CPU[op, op]`` step; delegates as they are."""
    out: List[str] = []
    run: List[str] = []
    for step in [*steps, ""]:
        if step and not step.startswith("delegate "):
            run.append(step)
            continue
        if run:
            out.append(f"CPU[{', '.join(run)}]" if len(run) <= 4 else f"CPU[{len(run)} ops]")
            run = []
        if step:
            out.append(step)
    return out


def format_report(report: ProgramReport, title: str = "file") -> str:
    """A human-readable summary of ``report``."""
    lines = [f"{title}: {report.size_bytes:,} bytes, {len(report.methods)} method(s)"]
    for method in report.methods:
        lines.append(
            f"  method {method.name!r}: {len(method.delegates)} delegate(s), "
            f"{method.non_delegated_operators} non-delegated operator call(s)"
        )
        if method.operator_names:
            lines.append(f"    non-delegated operators: {', '.join(method.operator_names)}")
        if method.steps and method.non_delegated_operators and method.delegates:
            lines.append(f"    partition (execution order): {' -> '.join(_compress(method.steps))}")
        for d in method.delegates:
            lines.append(f"    delegate {d.index}: {d.backend_id} ({d.size_bytes:,} bytes)")
            if d.backend_id != BACKEND_ID:
                continue
            lines += _engine_lines(d)
            runtime = {k: v for k, v in d.compile_specs.items() if k in RUNTIME_KEYS}
            if runtime:
                lines.append("      run-time defaults: " + ", ".join(f"{k}={v}" for k, v in runtime.items()))
            for index, profile in enumerate(d.profiles):
                ranges = ", ".join(f"{dim} {low}..{high} (opt {opt})" for dim, (low, opt, high) in profile.items())
                lines.append(f"      profile {index}: {ranges}")
            shown = {k: v for k, v in d.compile_specs.items() if k not in _SHOWN_APART}
            if shown:
                specs = ", ".join(f"{k}={v}" for k, v in shown.items())
                lines.append(f"      compile specs: {specs}")
            if d.error:
                lines.append(f"      error: {d.error}")
    needs = report.execution_memory_needs()
    if needs:
        lines.append(
            f"  execution memory (known needs of {len(needs)} engine(s)): {sum(needs):,} bytes if private, "
            f"{max(needs):,} bytes in one shared pool"
        )
    return "\n".join(lines)


def need_text(need: int, flavour: str) -> str:
    """How ``inspect`` shows an engine's execution memory need (-1: not in the file)."""
    return f"{need:,} bytes" if need >= 0 else UNKNOWN_NEED_TEXTS.get(flavour, UNKNOWN_NEED_TEXT)


def _engine_lines(d: DelegateReport) -> List[str]:
    """The delegate's engines: the first with its signature, each with its ranges and memory need."""
    if d.engine is None:
        return []
    e = d.engine
    # With several engines the signature below is engine 0's; every engine's
    # ranges follow under the engines line.
    which = f"engine 0 of {len(d.engines)}" if len(d.engines) > 1 else "engine"
    lines = [
        f"      {which}: {e.engine_bytes:,} bytes, {e.flavour} {e.builder_version}, "
        f"device {e.device_index}, version-compatible: {'yes' if e.version_compatible else 'no'}, "
        f"{e.num_profiles} profile(s)"
    ]
    lines += _tensor_lines("inputs", e.inputs)
    lines += _tensor_lines("outputs", e.outputs)
    baked = [f"{k}={d.compile_specs[k]}" for k in (KEY_BATCH_ENGINES, KEY_EXECUTION_MEMORY) if k in d.compile_specs]
    lines.append(f"      engines: {len(d.engines)}" + (f" ({', '.join(baked)})" if baked else ""))
    if d.kept_weights.count:
        lines.append(
            f"      external weights: {d.kept_weights.count} ({d.kept_weights.nbytes:,} bytes) in the program's "
            f".ptd, {d.kept_weights.how}"
        )
    for index, engine in enumerate(d.engines):
        ranges = ", ".join(f"{t.name} {' | '.join(t.shapes)}" for t in engine.inputs) or "no inputs"
        where = f" (named data {engine.named_key})" if engine.named_key else ""
        lines.append(
            f"        engine {index}: {engine.engine_bytes:,} bytes{where}, execution memory "
            f"{need_text(engine.execution_memory_bytes, engine.flavour)}; {ranges}"
        )
    lines += [f"      owns state: {state}" for state in d.states]
    return lines

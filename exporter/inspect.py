"""What a ``.pte`` holds for TensorRT: engines, their signatures and options."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from executorch.exir._serialize._program import _get_extended_header, deserialize_pte_binary
from executorch.exir.schema import DataLocation, DelegateCall, KernelCall, Program

from . import blob
from ..option_table import COMPILE_SPEC, keys
from .compile_specs import KEY_BATCH_ENGINES, KEY_EXECUTION_MEMORY, decode_compile_specs
from .delegates import BACKEND_ID

# Compile specs the delegate reads at init(); load-time options override them.
RUNTIME_KEYS = keys(COMPILE_SPEC)
UNKNOWN_NEED_TEXT = "known at load (TensorRT-RTX compiles for the device)"


@dataclass(frozen=True)
class TensorReport:
    name: str
    dtype: str
    # One "[1, 16]" (static) or "[1, 16]..[8, 16]" per optimization profile.
    shapes: List[str]


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
        engine_bytes=len(entry.blob.engine),
        flavour=meta.flavour.label,
        builder_version=meta.builder_version,
        version_compatible=meta.version_compatible,
        device_index=meta.device_index,
        num_profiles=meta.num_profiles,
        inputs=[_tensor_report(s) for s in meta.inputs],
        outputs=[_tensor_report(s) for s in meta.outputs],
        execution_memory_bytes=entry.execution_memory_bytes,
    )


def delegate_payload(program: Program, data: bytes, plan_index: int, delegate_index: int) -> bytes:
    """The processed bytes of one delegate, inline in the program or in a segment."""
    reference = program.execution_plan[plan_index].delegates[delegate_index].processed
    where = f"method {program.execution_plan[plan_index].name!r} delegate {delegate_index}"
    if reference.location == DataLocation.INLINE:
        if not 0 <= reference.index < len(program.backend_delegate_data):
            raise ValueError(f"{where}: inline data index {reference.index} out of range")
        return bytes(program.backend_delegate_data[reference.index].data)
    if reference.location == DataLocation.SEGMENT:
        # deserialize_pte_binary normally moves segments inline; read them from
        # the file for programs where it has not.
        header = _get_extended_header(data)
        if header is None or not 0 <= reference.index < len(program.segments):
            raise ValueError(f"{where}: segment {reference.index} is not in the file")
        segment = program.segments[reference.index]
        start = header.segment_base_offset + segment.offset
        if start + segment.size > len(data):
            raise ValueError(f"{where}: segment {reference.index} runs past the end of the file")
        return bytes(data[start : start + segment.size])
    raise ValueError(f"{where}: unknown data location {reference.location!r}")


def _read(path_or_bytes: Union[str, os.PathLike, bytes, bytearray, memoryview]) -> bytes:
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes)
    if isinstance(path_or_bytes, (str, os.PathLike)):
        return Path(path_or_bytes).read_bytes()
    raise TypeError(f"expected a path or bytes, got {type(path_or_bytes).__name__}")


def _steps(program: Program, plan_index: int) -> List[str]:
    plan = program.execution_plan[plan_index]
    steps: List[str] = []
    for chain in plan.chains:
        for instruction in chain.instructions:
            if isinstance(instruction.instr_args, KernelCall):
                op = plan.operators[instruction.instr_args.op_index]
                steps.append(f"{op.name}.{op.overload}" if op.overload else op.name)
            elif isinstance(instruction.instr_args, DelegateCall):
                steps.append(f"delegate {instruction.instr_args.delegate_index}")
    return steps


def inspect_program(path_or_bytes: Union[str, os.PathLike, bytes, bytearray, memoryview]) -> ProgramReport:
    """Describe a ``.pte`` (path or bytes) using ExecuTorch's own deserializer."""
    data = _read(path_or_bytes)
    # The flatbuffer file identifier ("ET" + schema version) sits at bytes 4..8;
    # without it the deserializer may "succeed" on garbage.
    if len(data) < 8 or data[4:6] != b"ET":
        raise ValueError(f"not a readable ExecuTorch program ({len(data)} bytes): no 'ET..' file identifier")
    try:
        program = deserialize_pte_binary(data).program
        plans = list(program.execution_plan)
    except Exception as err:
        raise ValueError(f"not a readable ExecuTorch program ({len(data)} bytes): {err}") from None
    methods: List[MethodReport] = []
    for plan_index, plan in enumerate(plans):
        delegates: List[DelegateReport] = []
        for delegate_index, delegate in enumerate(plan.delegates):
            payload = delegate_payload(program, data, plan_index, delegate_index)
            if delegate.id != BACKEND_ID:
                delegates.append(DelegateReport(delegate_index, delegate.id, len(payload)))
                continue
            specs: Dict[str, str] = {}
            engines: List[EngineReport] = []
            errors: List[str] = []
            # A bad blob or bad specs is reported, not raised: inspect is for
            # looking at programs that may well be broken.
            try:
                specs = decode_compile_specs(delegate.compile_specs)
            except (TypeError, ValueError) as err:
                errors.append(f"compile specs: {err}")
            try:
                engines = [_engine_report(entry) for entry in blob.decode_engines(payload)]
            except blob.BlobFormatError as err:
                errors.append(f"delegate blob: {err}")
            error = "; ".join(errors) or None
            first = engines[0] if engines else None
            delegates.append(DelegateReport(delegate_index, delegate.id, len(payload), specs, first, error, engines))
        steps = _steps(program, plan_index)
        cpu_ops = [step for step in steps if not step.startswith("delegate ")]
        methods.append(MethodReport(plan.name, delegates, len(cpu_ops), sorted(set(cpu_ops)), steps))
    return ProgramReport(len(data), methods)


def _tensor_lines(kind: str, tensors: Sequence[TensorReport]) -> List[str]:
    width = max((len(t.name) for t in tensors), default=0)
    lines = [f"      {kind}:"]
    for t in tensors:
        lines.append(f"        {t.name:<{width}}  {t.dtype:<8}  {' | '.join(t.shapes)}")
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


def format_report(report: ProgramReport, title: str = "program") -> str:
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
            if d.compile_specs:
                specs = ", ".join(f"{k}={v}" for k, v in d.compile_specs.items())
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


def _need_text(need: int) -> str:
    return f"{need:,} bytes" if need >= 0 else UNKNOWN_NEED_TEXT


def _engine_lines(d: DelegateReport) -> List[str]:
    """The delegate's engines: the first with its signature, each with its ranges and memory need."""
    if d.engine is None:
        return []
    e = d.engine
    # With several engines the signature below is engine 0's; every engine's
    # ranges follow under "engines".
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
    for index, engine in enumerate(d.engines):
        ranges = ", ".join(f"{t.name} {' | '.join(t.shapes)}" for t in engine.inputs) or "no inputs"
        lines.append(
            f"        engine {index}: {engine.engine_bytes:,} bytes, execution memory "
            f"{_need_text(engine.execution_memory_bytes)}; {ranges}"
        )
    return lines

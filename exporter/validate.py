"""The accuracy check of an export (``save(..., validate=True)``, ``--validate``).

Three comparisons on the example inputs, each per output with its max abs
and max rel error:

1. each TensorRT partition's ONNX (what TensorRT's parser reads), run in
   ONNX Runtime on the CPU, against the partition's PyTorch graph on the
   inputs the partition sees when the program runs;
2. the whole program with every partition run by ONNX Runtime (the CPU
   operators by PyTorch) against eager PyTorch;
3. the ``.pte`` itself, through the delegate, against eager PyTorch, where
   every engine can run in this process (skipped, saying why, elsewhere:
   no TensorRT engine runs without a GPU).

An output passes when every element satisfies ``|got - want| <= atol +
rtol * |want|``; the defaults depend on the precision (``DEFAULT_TOLERANCES``).
``keep_onnx=DIR`` writes each partition's ONNX as ``<method>_delegate<i>.onnx``
(``i``: the delegate's index in ``inspect``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from executorch.exir import EdgeProgramManager, ExecutorchProgramManager
from executorch.exir.lowered_backend_module import LoweredBackendModule
from torch.export import ExportedProgram
from torch.export.graph_signature import ExportGraphSignature, InputKind, OutputKind
from torch.utils._pytree import tree_leaves, tree_map

from ..runtime import DelegateError, load
from .backend_details import EngineGraph, build_request, engine_graph
from .builders import get_engine_builder
from .builders.onnx_export import request_onnx
from .builders.tensorrt import serialized_onnx
from .compile_specs import TensorRTCompileSpec
from .delegates import is_tensorrt_delegate
from .device_planning import builder_specs
from .io_specs import example_inputs


@dataclass(frozen=True)
class Tolerance:
    """An element passes when ``|got - want| <= atol + rtol * |want|``."""

    atol: float
    rtol: float

    def __post_init__(self) -> None:
        for name in ("atol", "rtol"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"Tolerance.{name} must be a finite number >= 0, got {value!r}")


# Per precision: float32 keeps ~7 digits, but the order of a sum differs between
# runtimes; float16 keeps ~3, bfloat16 ~2.
DEFAULT_TOLERANCES: Dict[str, Tolerance] = {
    "fp32": Tolerance(atol=1e-4, rtol=1e-3),
    "fp16": Tolerance(atol=1e-2, rtol=1e-2),
    "bf16": Tolerance(atol=5e-2, rtol=5e-2),
}


def resolve_tolerance(validate: Union[bool, Tolerance], precision: Optional[str]) -> Optional[Tolerance]:
    """``save``'s ``validate`` argument -> the tolerance to check, None: no check."""
    if not isinstance(validate, (bool, Tolerance)):
        raise TypeError(
            f"validate must be True, False or a Tolerance(atol=..., rtol=...), got {type(validate).__name__}"
        )
    if validate is False:
        return None
    if importlib.util.find_spec("onnxruntime") is None:
        raise ImportError("validate runs each TensorRT partition's ONNX in ONNX Runtime: pip install onnxruntime")
    return validate if isinstance(validate, Tolerance) else DEFAULT_TOLERANCES[precision or "fp32"]


@dataclass(frozen=True)
class Comparison:
    """One output of one check."""

    check: str  # e.g. "forward delegate 0: ONNX Runtime vs PyTorch"
    output: str
    max_abs: float
    max_rel: float
    passed: bool


@dataclass(frozen=True)
class ValidationReport:
    tolerance: Optional[Tolerance]  # None: nothing compared, the partitions' ONNX only kept
    comparisons: Tuple[Comparison, ...] = ()
    # Checks that could not run here, each with the reason.
    skipped: Tuple[str, ...] = ()
    onnx_files: Tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.comparisons)

    @property
    def failures(self) -> List[Comparison]:
        return [c for c in self.comparisons if not c.passed]

    def format_lines(self) -> List[str]:
        tol = self.tolerance
        lines = []
        if tol is not None:
            verdict = "passed" if self.passed else f"FAILED ({len(self.failures)} output(s) out of tolerance)"
            lines.append(f"validation {verdict}: atol={tol.atol:g} rtol={tol.rtol:g}, {self.seconds:.2f} s")
        for c in self.comparisons:
            mark = "ok" if c.passed else "FAIL"
            lines.append(f"  {c.check}, {c.output}: max abs {c.max_abs:.3g}, max rel {c.max_rel:.3g} [{mark}]")
        lines += [f"  skipped: {reason}" for reason in self.skipped]
        lines += [f"  kept ONNX: {path}" for path in self.onnx_files]
        return lines


class ValidationError(ValueError):
    """The exported program's outputs differ from PyTorch's beyond the tolerance."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        worst = "; ".join(
            f"{c.check}, {c.output}: max abs {c.max_abs:.3g}, max rel {c.max_rel:.3g}" for c in report.failures[:5]
        )
        tol = report.tolerance or Tolerance(0.0, 0.0)
        super().__init__(
            f"validation failed (atol={tol.atol:g}, rtol={tol.rtol:g}): {worst}. "
            "Look at the partition's ONNX (keep_onnx=DIR), keep the operators involved on the CPU "
            "(torch_executed_ops), or pass a looser validate=Tolerance(atol=..., rtol=...)"
        )


def compare(got: torch.Tensor, want: torch.Tensor, tolerance: Tolerance) -> Tuple[float, float, bool]:
    """(max abs error, max rel error, passed) of ``got`` against the reference ``want``.

    The relative error divides by ``max(|want|, atol)`` so that elements near
    zero do not report huge ratios for tiny differences.
    """
    if tuple(got.shape) != tuple(want.shape):
        return math.inf, math.inf, False
    if not want.is_floating_point():
        equal = bool(torch.equal(got.to(want.dtype), want))
        return (0.0 if equal else math.inf), (0.0 if equal else math.inf), equal
    got64, want64 = got.detach().to(torch.float64), want.detach().to(torch.float64)
    if got64.numel() == 0:
        return 0.0, 0.0, True
    same_nan = torch.isnan(got64) == torch.isnan(want64)
    if not bool(same_nan.all()):
        return math.nan, math.nan, False
    finite = ~torch.isnan(want64)
    # inf == inf counts as equal; inf vs a number is an infinite error.
    diff = torch.where(got64 == want64, torch.zeros_like(got64), (got64 - want64).abs())[finite]
    scale = want64.abs()[finite]
    if diff.numel() == 0:
        return 0.0, 0.0, True
    max_abs = float(diff.max())
    max_rel = float((diff / scale.clamp(min=max(tolerance.atol, 1e-30))).max())
    passed = bool((diff <= tolerance.atol + tolerance.rtol * scale).all())
    return max_abs, max_rel, passed


class Example(NamedTuple):
    """A method's example inputs and what eager PyTorch makes of them (``eager_outputs``)."""

    args: Tuple[Any, ...]  # flattened, as given (no run here changes them)
    outputs: List[torch.Tensor]  # the user outputs, flattened
    # The inputs after the eager run: a model may write into them (``x.add_(1)``).
    args_after: Tuple[Any, ...] = ()


def eager_outputs(exported: ExportedProgram) -> Example:
    """The example inputs of ``exported`` and its outputs in PyTorch (flattened).

    Call before lowering: the reference comes from the program as torch.export traced it.
    """
    examples = exported.example_inputs
    if examples is None:
        raise ValueError(
            "validate=True needs the example inputs, and this ExportedProgram has none (a deserialized "
            "program?): pass the nn.Module with inputs=..., or export with torch.export.export(model, args)"
        )
    # A model may write into its inputs: every run here gets copies, so each
    # sees the inputs as given (and the caller's tensors stay as they were).
    pristine = tuple(tree_leaves(examples))
    args, kwargs = tree_map(_copy_tensor, examples)
    with torch.no_grad():
        outputs = unmutating_module(exported)(*args, **kwargs)
    return Example(pristine, _tensors(outputs), tuple(tree_leaves((args, kwargs))))


def _written_inputs(signature: ExportGraphSignature, example: Example) -> List[Tuple[str, torch.Tensor]]:
    """The inputs a lowered program writes into, each with its value after the eager run, in the
    order an ExecuTorch method returns them: first, before the user outputs."""
    user_inputs = [s.arg.name for s in signature.input_specs if s.kind == InputKind.USER_INPUT]
    return [
        (s.target, example.args_after[user_inputs.index(s.target)])
        for s in signature.output_specs
        if s.kind == OutputKind.USER_INPUT_MUTATION and s.target in user_inputs
    ]


def _copy_tensor(value: Any) -> Any:
    return value.clone() if isinstance(value, torch.Tensor) else value


def _copies(args: Sequence[Any]) -> List[Any]:
    return [_copy_tensor(a) for a in args]


DelegateRunner = Callable[[LoweredBackendModule, Tuple[torch.Tensor, ...]], Any]


class _ProgramRun(torch.fx.Interpreter):
    """Runs a lowered program's graph, each delegate call through ``run_delegate``."""

    def __init__(self, module: torch.fx.GraphModule, run_delegate: DelegateRunner) -> None:
        super().__init__(module)
        self._run_delegate = run_delegate

    def call_function(self, target: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        if getattr(target, "__name__", "") != "executorch_call_delegate":
            return super().call_function(target, args, kwargs)
        return self._run_delegate(args[0], tuple(args[1:]))


def _tensors(value: Any) -> List[torch.Tensor]:
    return [t for t in tree_leaves(value) if isinstance(t, torch.Tensor)]


def unmutating_module(program: ExportedProgram) -> torch.fx.GraphModule:
    """``program.module()`` with its own copies of the program's buffers:
    ``ExportedProgram.module()`` shares them (and so the user's model's), and
    a check must change neither (an owned state's initial value is the
    program's buffer). Every buffer, not only ``buffers_to_mutate``: a program
    torch.export has not decomposed yet writes them with in-place ops."""
    module = program.module()
    for fqn, buffer in list(module.named_buffers()):
        owner, _, name = fqn.rpartition(".")
        module.get_submodule(owner).register_buffer(name, buffer.clone())
    return module


def _run_program(program: ExportedProgram, args: Sequence[Any], run_tensorrt: DelegateRunner) -> List[torch.Tensor]:
    """The program's outputs with its TensorRT delegates run by ``run_tensorrt``
    (in call order, which is ``tensorrt_delegates``' order) and any other
    backend's delegate by its PyTorch graph; every run starts from the
    program's buffers as they are."""

    def run(lowered: LoweredBackendModule, inputs: Tuple[torch.Tensor, ...]) -> Any:
        if is_tensorrt_delegate(lowered.backend_id):
            return run_tensorrt(lowered, inputs)
        return unmutating_module(lowered.original_module)(*inputs)

    with torch.no_grad():
        return _tensors(_ProgramRun(unmutating_module(program), run).run(*_copies(args)))


@dataclass
class _Partition:
    """One TensorRT delegate of a method, with what the PyTorch run saw."""

    index: int  # among the method's TensorRT delegates, in call order
    inputs: Tuple[torch.Tensor, ...]
    outputs: Any  # as the delegate returns them
    onnx: Any  # ONNXProgram: what the delegate's builder gives TensorRT's parser
    output_names: List[str]  # the engine's: the delegate's outputs, then each owned state's new value
    # The buffers the delegate owns: the engine reads each after the inputs
    # (their values before the call) and writes its new value after the
    # outputs (a weight read as an input: read only).
    state_values: Tuple[torch.Tensor, ...] = ()
    state_updates: Tuple[torch.Tensor, ...] = ()
    session: Any = None  # onnxruntime.InferenceSession
    problem: str = ""  # why ONNX Runtime cannot run it


def _partition_onnx(lowered: LoweredBackendModule) -> Tuple[Any, EngineGraph]:
    """The delegate's ONNX as its TensorRT builder makes it (one engine for
    all its profiles: same names, dynamic axes and example values), and the graph it is of."""
    spec = TensorRTCompileSpec.from_compile_specs(builder_specs(list(lowered.compile_specs)))
    graph = engine_graph(lowered.original_module, spec)
    request = build_request(spec, graph.module, graph.io, example_inputs(graph.io), tuple(range(graph.num_profiles)))
    return _builders_onnx(spec.engine_builder, request), graph


def _builders_onnx(engine_builder: str, request: Any) -> Any:
    """The ONNX the build parsed: cut out of the support query's ONNX when the
    builder kept it (``node_support.SupportProbe``), else converted again."""
    try:
        onnx_of = getattr(get_engine_builder(engine_builder), "onnx_of", None)
    except (ValueError, ImportError):
        onnx_of = None
    return onnx_of(request) if callable(onnx_of) else request_onnx(request)


def _partitions(program: ExportedProgram, args: Sequence[Any]) -> List[_Partition]:
    """Each TensorRT delegate with the inputs it gets and the outputs its
    PyTorch graph gives (and its owned states before and after the call)."""
    partitions: List[_Partition] = []

    def run(lowered: LoweredBackendModule, inputs: Tuple[torch.Tensor, ...]) -> Any:
        module = unmutating_module(lowered.original_module)
        onnx, graph = _partition_onnx(lowered)
        given = tuple(t.clone() for t in inputs)  # before a partition that writes its inputs runs
        before = tuple(s.value.clone() for s in graph.states)
        outputs = module(*inputs)
        after = tuple(module.get_buffer(s.fqn).clone() for s in graph.states if not s.constant)
        names = [s.name for s in graph.io.outputs]
        partitions.append(_Partition(len(partitions), given, outputs, onnx, names, before, after))
        return outputs

    _run_program(program, args, run)
    return partitions


def _open_session(partition: _Partition, scratch: Path) -> None:
    import onnxruntime  # an optional dependency: resolve_tolerance checked that it is installed

    if any(t.dtype == torch.bfloat16 for t in partition.inputs):
        partition.problem = "ONNX Runtime cannot take bfloat16 inputs from numpy"
        return
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are about CPU provider choices
    try:
        model: Any = serialized_onnx(partition.onnx.model_proto)
        if model is None:
            model = str(scratch / f"delegate{partition.index}.onnx")
            partition.onnx.save(model, external_data=True)
        partition.session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as err:  # e.g. a float16 op the CPU provider has no kernel for
        partition.problem = f"ONNX Runtime cannot run it on the CPU: {str(err).splitlines()[0]}"


def _run_onnx(partition: _Partition, inputs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    names = [i.name for i in partition.session.get_inputs()]
    feeds = {name: t.detach().contiguous().numpy() for name, t in zip(names, inputs, strict=True)}
    return [torch.from_numpy(value) for value in partition.session.run(None, feeds)]


def _as_returned(like: Any, tensors: List[torch.Tensor]) -> Any:
    return tensors[0] if isinstance(like, torch.Tensor) else type(like)(tensors) if isinstance(like, tuple) else tensors


def _compare_all(
    check: str, names: Sequence[str], got: Sequence[torch.Tensor], want: Sequence[torch.Tensor], tolerance: Tolerance
) -> List[Comparison]:
    if len(got) != len(want):
        return [Comparison(check, f"{len(got)} outputs (expected {len(want)})", math.inf, math.inf, False)]
    comparisons = []
    for name, g, w in zip(names, got, want, strict=True):
        max_abs, max_rel, passed = compare(g, w, tolerance)
        comparisons.append(Comparison(check, name, max_abs, max_rel, passed))
    return comparisons


def onnx_file_name(method: str, index: int) -> str:
    """``keep_onnx``'s name for TensorRT delegate ``index`` of ``method`` (``inspect``'s delegate index)."""
    return f"{method}_delegate{index}.onnx"


def _keep(partition: _Partition, method: str, directory: Path) -> str:
    path = directory / onnx_file_name(method, partition.index)
    large = serialized_onnx(partition.onnx.model_proto) is None
    partition.onnx.save(str(path), external_data=large)
    return str(path)


def check_partitions(
    manager: EdgeProgramManager,
    examples: Mapping[str, Example],
    tolerance: Optional[Tolerance],
    keep_onnx: Optional[Path],
) -> ValidationReport:
    """Checks 1 and 2 (see the module doc) for each method of ``examples``;
    with ``tolerance`` None only writes the partitions' ONNX to ``keep_onnx``."""
    reports = [_check_method(manager, method, example, tolerance, keep_onnx) for method, example in examples.items()]
    return ValidationReport(
        tolerance,
        tuple(c for r in reports for c in r.comparisons),
        tuple(s for r in reports for s in r.skipped),
        tuple(f for r in reports for f in r.onnx_files),
    )


def _check_method(
    manager: EdgeProgramManager,
    method: str,
    example: Example,
    tolerance: Optional[Tolerance],
    keep_onnx: Optional[Path],
) -> ValidationReport:
    args, eager = example.args, example.outputs
    program = manager.exported_program(method)
    comparisons: List[Comparison] = []
    skipped: List[str] = []
    partitions = _partitions(program, args)
    kept = [_keep(p, method, keep_onnx) for p in partitions] if keep_onnx is not None else []
    if tolerance is None:
        return ValidationReport(None, onnx_files=tuple(kept))
    with tempfile.TemporaryDirectory(prefix="executorch_tensorrt_validate_") as scratch:
        for partition in partitions:
            _open_session(partition, Path(scratch))
            check = f"{method} delegate {partition.index}: ONNX Runtime vs PyTorch"
            if partition.session is None:
                skipped.append(f"{check}: {partition.problem}")
                continue
            got = _run_onnx(partition, (*partition.inputs, *partition.state_values))
            want = [*_tensors(partition.outputs), *partition.state_updates]
            comparisons += _compare_all(check, partition.output_names, got, want, tolerance)
        check = f"{method}: program with ONNX Runtime partitions vs eager PyTorch"
        if all(p.session is not None for p in partitions):
            order = iter(partitions)

            def run(lowered: LoweredBackendModule, inputs: Tuple[torch.Tensor, ...]) -> Any:
                partition = next(order)
                got = _run_onnx(partition, (*inputs, *partition.state_values))
                return _as_returned(partition.outputs, got[: len(got) - len(partition.state_updates)])

            got = _run_program(program, args, run)
            comparisons += _compare_all(check, _output_names(len(eager)), got, eager, tolerance)
        else:
            skipped.append(f"{check}: not every partition runs in ONNX Runtime")
    return ValidationReport(tolerance, tuple(comparisons), tuple(skipped), tuple(kept))


def _output_names(count: int) -> List[str]:
    return [f"output {i}" for i in range(count)]


def check_program_file(
    report: ValidationReport, program: ExecutorchProgramManager, examples: Mapping[str, Example]
) -> ValidationReport:
    """``report`` with check 3 for each method: the ``.pte`` run through the
    delegate, where its engines can run here. Each method runs on a program
    loaded for it: state the methods share starts from its initial value, as
    in the eager reference."""
    if report.tolerance is None:
        return report
    with tempfile.TemporaryDirectory(prefix="executorch_tensorrt_validate_") as scratch:
        path = Path(scratch) / "program.pte"
        path.write_bytes(program.buffer)
        # With external weights, the .ptd the program is loaded with.
        program.write_tensor_data_to_file(scratch)
        data = sorted(Path(scratch).glob("*.ptd"))
        data_path = data[0] if len(data) == 1 else None
        for method, example in examples.items():
            written = _written_inputs(program.exported_program(method).graph_signature, example)
            eager = [t for _, t in written] + example.outputs
            names = [f"input {name} as written" for name, _ in written] + _output_names(len(example.outputs))
            check = f"{method}: the .pte through the delegate vs eager PyTorch"
            try:
                outputs = load(path, data_path=data_path).run(method, _copies(example.args))
            except DelegateError as err:
                reason = str(err).splitlines()[0] if str(err) else type(err).__name__
                skipped = f"{check}: the engines cannot run in this process ({reason})"
                report = dataclasses.replace(report, skipped=(*report.skipped, skipped))
                continue
            compared = _compare_all(check, names, _tensors(outputs), eager, report.tolerance)
            report = dataclasses.replace(report, comparisons=(*report.comparisons, *compared))
    return report

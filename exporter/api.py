"""One-call export: model -> ``.pte`` whose graph runs on TensorRT."""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

import torch
from executorch.exir import (
    EdgeProgramManager,
    ExecutorchBackendConfig,
    ExecutorchProgramManager,
    to_edge_transform_and_lower,
)
from torch.export import ExportedProgram

from ..option_table import KEY_EXTERNAL_WEIGHTS, KEY_NAMED_ENGINES
from .builders import EngineBuildError, get_engine_builder
from .cpu_kernels import missing_kernels, missing_kernels_message, runtime_kernels
from .copy_broadcast import broadcast_copy_sources
from .data_dependent import RemoveGraphAssertsPass, row_major_nonzero
from .delegates import EngineBuildRecord, build_record, tensorrt_delegates
from .device_planning import DevicePlanning, resolve_device_planning
from .export_limits import refuse_complex_tensors, specialized_dim_hint
from .files import Content, checked_target, write_all_atomically
from .export_options import ExportOptions, convert_precision, parse_options, profiles_from_dims, resolve_profiles
from .methods import DEFAULT_METHOD, Method, check_methods, shared_profiles
from .partitioner import PartitionReport, TensorRTPartitioner, source_line
from .stale_views import is_stale_view_error, stale_view_message, views_as_reshapes
from .summary import ExportSummary, PhaseSeconds
from .validate import Tolerance, ValidationError, check_partitions, check_program_file, eager_outputs
from .validate import resolve_tolerance

OUTPUT_FORMATS = ("executorch",)
_LOG = logging.getLogger("executorch_tensorrt.exporter")

ModelLike = Union[torch.nn.Module, ExportedProgram]


def _check_inputs(inputs: object) -> tuple:
    if not isinstance(inputs, (tuple, list)):
        raise TypeError(
            f"inputs must be a tuple or list of torch.Tensor (one per positional argument of forward), "
            f"got {type(inputs).__name__}; e.g. inputs=(torch.randn(1, 16),)"
        )
    for index, value in enumerate(inputs):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"inputs[{index}] must be a torch.Tensor, got {type(value).__name__}")
        if value.dtype == torch.float64:
            # Caught again per delegate input; here it can name the model's input.
            raise ValueError(
                f"inputs[{index}] is float64, which TensorRT cannot take as input; "
                "convert the model and its inputs to float32 (e.g. `model.float()`, `x.float()`)"
            )
    return tuple(inputs)


def _to_exported_program(
    model: object, inputs: Optional[Sequence[torch.Tensor]], options: ExportOptions, dynamic_shapes: Any = None
) -> ExportedProgram:
    if isinstance(model, ExportedProgram):
        if inputs is not None or dynamic_shapes is not None:
            raise ValueError(
                "inputs and dynamic_shapes are only used to export an nn.Module; an ExportedProgram already "
                "fixes them, so leave them out"
            )
        convert_precision(model, (), options.spec.precision)  # refuses a precision change
        return model
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module or a torch.export.ExportedProgram, got {type(model).__name__}"
        )
    if inputs is None:
        raise TypeError("inputs is required to export an nn.Module: a tuple of example tensors for forward()")
    module, args = convert_precision(model, _check_inputs(inputs), options.spec.precision)
    # Inference export: dropout off, batch-norm statistics frozen. The caller's
    # train/eval flags are restored afterwards.
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        return torch.export.export(module, args, dynamic_shapes=dynamic_shapes, strict=False)
    except Exception as err:  # torch.export raises several types; only one is explained
        hint = specialized_dim_hint(err)
        if hint is None:
            raise
        raise ValueError(f"{hint}. torch.export said: {err}") from err
    finally:
        for m, training in modes.items():
            m.training = training


def _to_exported_programs(
    model: object,
    inputs: Optional[Sequence[torch.Tensor]],
    methods: Optional[Mapping[str, Union[Sequence[torch.Tensor], Method]]],
    options: ExportOptions,
) -> Dict[str, ExportedProgram]:
    """``{method name: ExportedProgram}``: ``forward`` alone, or one per entry of ``methods``."""
    if methods is None:
        return {DEFAULT_METHOD: _to_exported_program(model, inputs, options, options.dynamic_shapes)}
    if inputs is not None:
        raise TypeError("give inputs= (one method, forward) or methods= (several), not both")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"methods= exports an nn.Module's forward once per method; got {type(model).__name__} "
            "(lower several ExportedPrograms with ExecuTorch's to_edge_transform_and_lower directly)"
        )
    return {
        name: _to_exported_program(model, method.inputs, options, method.dynamic_shapes)
        for name, method in check_methods(methods, options.dynamic_shapes).items()
    }


# How many times a failed TensorRT build may move operators to the CPU and rebuild.
MAX_BUILD_FALLBACKS = 8


@dataclass(frozen=True)
class ExportedTensorRTProgram:
    """``export``'s result: the ExecuTorch program and what the export did."""

    program: ExecutorchProgramManager
    summary: ExportSummary

    @property
    def buffer(self) -> bytes:
        """The ``.pte`` bytes."""
        return self.program.buffer


@dataclass(frozen=True)
class SavedProgram(os.PathLike):
    """``save``'s result: where the ``.pte`` is (usable as a path) and what the export did."""

    path: Path
    summary: ExportSummary
    external_data: Tuple[Path, ...] = ()  # the .ptd file(s) with external_weights=True

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)


def export(
    model_or_exported_program: ModelLike,
    inputs: Optional[Sequence[torch.Tensor]] = None,
    *,
    methods: Optional[Mapping[str, Union[Sequence[torch.Tensor], Method]]] = None,
    device_planning: Union[bool, DevicePlanning] = False,
    strict: bool = False,
    validate: Union[bool, Tolerance] = False,
    keep_onnx: Optional[Union[str, os.PathLike]] = None,
    **options: Any,
) -> ExportedTensorRTProgram:
    """Export a model to an ExecuTorch program whose supported operators run on TensorRT.

    Args:
        model_or_exported_program: an ``nn.Module`` (exported with
            ``torch.export.export(..., strict=False)`` in eval mode) or an
            ``ExportedProgram``.
        inputs: example tensors for ``forward``; required for an ``nn.Module``.
        methods: instead of ``inputs``, several methods of one program:
            ``{name: example inputs or Method(inputs, dynamic_shapes)}``, each
            the model's ``forward`` exported on its inputs; engines go to the
            program's named data, identical ones stored, built and loaded
            once (``exporter/methods.py``).
        **options: ``TensorRTCompileSpec`` fields and the export options
            ``dynamic_shapes``, ``torch_executed_ops``, ``min_block_size``,
            ``optimization_profiles``, ``weight_streaming_budget_total``
            (see ``docs/exporter.md``).
        device_planning: True plans delegate inputs/outputs in device memory
            so tensors between TensorRT delegates never visit the host;
            ``DevicePlanning(device_io=True)`` also keeps the method's inputs
            and outputs on the device (``exporter/device_planning.py``).
        strict: fail when TensorRT refuses to build an operator instead of
            moving it to the CPU (``ExportSummary.fallbacks`` lists those moved).
        validate: True checks the program's accuracy on the example inputs
            (``exporter/validate.py``) with the precision's default tolerance,
            a ``Tolerance(atol, rtol)`` with that one; an output out of
            tolerance raises ``ValidationError``.
        keep_onnx: a directory to write each TensorRT partition's ONNX to,
            as ``forward_delegate<i>.onnx``.

    Returns:
        ``.program`` (the ``ExecutorchProgramManager``), ``.buffer`` (the
        ``.pte`` bytes) and ``.summary``.
    """
    _check_bool("strict", strict)
    plan = resolve_device_planning(device_planning)
    parsed = _with_methods(parse_options(options, "export"), methods, options)
    checks = _checks(validate, keep_onnx, parsed)
    manager, summary = _export(model_or_exported_program, inputs, methods, parsed, plan, strict, checks)
    return ExportedTensorRTProgram(manager, summary)


def save(
    model_or_exported_program: ModelLike,
    path: Union[str, os.PathLike],
    inputs: Optional[Sequence[torch.Tensor]] = None,
    output_format: str = "executorch",
    external_weights: bool = False,
    *,
    methods: Optional[Mapping[str, Union[Sequence[torch.Tensor], Method]]] = None,
    device_planning: Union[bool, DevicePlanning] = False,
    strict: bool = False,
    validate: Union[bool, Tolerance] = False,
    keep_onnx: Optional[Union[str, os.PathLike]] = None,
    verbose: bool = False,
    **options: Any,
) -> SavedProgram:
    """``export`` and write the ``.pte`` to ``path`` atomically.

    Either the complete file appears at ``path`` or (on any failure) nothing
    there changes. ``external_weights=True`` writes the engines' weights,
    with the constants left on the CPU, to ``<path stem>.ptd`` beside it
    (ExecuTorch's external data file): a builder that can build refittable
    engines builds them weight-stripped and the delegate refits them from it
    at load; one that cannot (TensorRT-RTX without a GPU) builds engines that
    read the weights as inputs, which the delegate keeps on the device.
    ``methods`` writes a program of several methods (``export``'s).
    ``validate`` and ``keep_onnx`` are ``export``'s (a failed validation
    writes nothing); ``verbose=True`` prints the summary as the command line does.
    Returns a ``SavedProgram``: a path-like with ``.path`` and ``.summary``.
    """
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output_format {output_format!r} is not supported; supported: {', '.join(OUTPUT_FORMATS)}")
    _check_bool(KEY_EXTERNAL_WEIGHTS, external_weights)
    _check_bool("strict", strict)
    _check_bool("verbose", verbose)
    # Everything cheap is checked before the (slow) export starts.
    parsed = _with_methods(parse_options(options, "save"), methods, options)
    parsed = dataclasses.replace(parsed, spec=parsed.spec.replace(external_weights=external_weights))
    plan = resolve_device_planning(device_planning)
    checks = _checks(validate, keep_onnx, parsed)
    target = checked_target(path)
    manager, summary = _export(model_or_exported_program, inputs, methods, parsed, plan, strict, checks)
    started = time.perf_counter()
    # Written from the program's pieces: no contiguous copy of the whole file first.
    files: Dict[Path, Content] = {target: manager.write_to_file}
    if external_weights:
        files.update(_external_data(manager, target))
    write_all_atomically(files)
    phases = dataclasses.replace(summary.phases, write=time.perf_counter() - started)
    summary = dataclasses.replace(summary, phases=phases)
    if verbose:
        print(summary.format())
    return SavedProgram(target, summary, tuple(p for p in files if p != target))


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")


@dataclass(frozen=True)
class _Checks:
    """What to check and keep besides the program (``validate``, ``keep_onnx``)."""

    tolerance: Optional[Tolerance] = None  # None: no accuracy check
    keep_onnx: Optional[Path] = None

    @property
    def wanted(self) -> bool:
        return self.tolerance is not None or self.keep_onnx is not None


def _with_methods(options: ExportOptions, methods: object, given: Mapping[str, Any]) -> ExportOptions:
    """A multi-method export keeps its engines in named data unless told otherwise."""
    if methods is None or KEY_NAMED_ENGINES in given:
        return options
    return dataclasses.replace(options, spec=options.spec.replace(named_engines=True))


def _checks(
    validate: Union[bool, Tolerance],
    keep_onnx: Optional[Union[str, os.PathLike]],
    options: ExportOptions,
) -> _Checks:
    directory = None
    if keep_onnx is not None:
        if not isinstance(keep_onnx, (str, os.PathLike)):
            raise TypeError(f"keep_onnx must be a directory path, got {type(keep_onnx).__name__}")
        directory = Path(keep_onnx)
        if not directory.is_dir():
            raise NotADirectoryError(f"keep_onnx={str(directory)!r} is not a directory; create it first")
    return _Checks(resolve_tolerance(validate, options.spec.precision), directory)


def _export(
    model: object,
    inputs: Optional[Sequence[torch.Tensor]],
    methods: Optional[Mapping[str, Union[Sequence[torch.Tensor], Method]]],
    options: ExportOptions,
    plan: Optional[DevicePlanning],
    strict: bool,
    checks: _Checks,
) -> Tuple[ExecutorchProgramManager, ExportSummary]:
    started = time.perf_counter()
    programs = _to_exported_programs(model, inputs, methods, options)
    for name, exported in programs.items():
        refuse_complex_tensors(exported, name)
    exported_at = time.perf_counter()
    # The reference comes from the program as torch.export traced it, before lowering.
    examples = {name: eager_outputs(program) for name, program in programs.items()} if checks.wanted else None
    lowering_at = time.perf_counter()
    specs = _method_specs(programs, methods, options)
    spec = next(iter(specs.values()))
    try:
        edge, report, redone = _lower_with_views_retried(programs, options, specs, plan, strict)
        records = [build_record(d) for d in tensorrt_delegates(edge)]
        lowered_at = time.perf_counter()
        # (validate and keep_onnx take each partition's ONNX from the support query's, as the builds did)
        validation = check_partitions(edge, examples, checks.tolerance, checks.keep_onnx) if examples else None
    finally:
        _forget_support_probe(spec.engine_builder)
    emit_at = time.perf_counter()
    manager = edge.to_executorch(_backend_config(plan, bool(spec.external_weights)))
    emitted_at = time.perf_counter()
    if validation is not None and examples:
        validation = check_program_file(validation, manager, examples)
    validating = (lowering_at - exported_at) + (emit_at - lowered_at) + (time.perf_counter() - emitted_at)
    validating = validating if checks.wanted else 0.0
    phases = _phases(records, report.seconds, redone, exported_at - started, lowered_at - lowering_at)
    phases = dataclasses.replace(phases, emit=emitted_at - emit_at, validation=validating)
    if validation is not None:
        validation = dataclasses.replace(validation, seconds=validating)
    summary = ExportSummary.of(records, report, phases, validation)
    _LOG.info("export summary: %s", summary.format())
    if validation is not None and not validation.passed:
        raise ValidationError(validation)
    return manager, summary


def _method_specs(
    programs: Mapping[str, ExportedProgram], methods: object, options: ExportOptions
) -> Dict[str, Any]:
    """Each method's compile spec: its optimization profiles (the user's, by
    Dim name, or one from the Dims' bounds; across methods a Dim's ``opt`` is
    the first method's, so the same partition in two methods asks for the
    same engine)."""
    profiles = {}
    for name, exported in programs.items():
        if options.optimization_profiles:
            profiles[name] = resolve_profiles(options.optimization_profiles, exported)
        else:
            shapes = options.dynamic_shapes if methods is None else check_methods(methods, options.dynamic_shapes)[name].dynamic_shapes
            profiles[name] = profiles_from_dims(shapes, exported)
    if len(programs) > 1:
        profiles = shared_profiles(profiles, programs)
    return {name: options.spec.replace(optimization_profiles=p) for name, p in profiles.items()}


def _merged(reports: Sequence[PartitionReport]) -> PartitionReport:
    """The methods' partition reports as one (methods in program order)."""
    merged = PartitionReport()
    for report in reports:
        merged.engines += report.engines
        merged.cpu_nodes += report.cpu_nodes
        merged.fallbacks += report.fallbacks
        merged.seconds += report.seconds
    return merged


def _phases(
    records: List[EngineBuildRecord], partitioning: float, redone: float, exporting: float, lowering: float
) -> PhaseSeconds:
    """The seconds of torch.export and of the lowering, split into its parts (pure)."""
    onnx = sum(r.onnx_seconds for r in records)
    building = sum(r.seconds for r in records)
    return PhaseSeconds(
        torch_export=exporting,
        partitioning=partitioning,
        onnx_export=onnx,
        tensorrt_build=building - onnx,
        executorch_lowering=lowering - redone - partitioning - building,
        fallback_rounds=redone,
    )


def _lower(
    programs: Mapping[str, ExportedProgram],
    options: ExportOptions,
    specs: Mapping[str, Any],
    plan: Optional[DevicePlanning],
    strict: bool,
) -> Tuple[EdgeProgramManager, PartitionReport, float]:
    """Partition, build and lower; then make sure the CPU side can run.
    Also returns the seconds of the rounds that had to be redone.

    A partition TensorRT refuses to build has the nodes the builder blamed
    moved to the CPU, and the program is partitioned and built again (at most
    ``MAX_BUILD_FALLBACKS`` times). A CPU operator without a kernel goes back
    to TensorRT when only ``min_block_size`` kept it off; otherwise the export
    fails naming it.
    """
    moved: Dict[str, str] = {}
    keep: Set[str] = set()
    redone = 0.0
    for _ in range(MAX_BUILD_FALLBACKS + 1):
        round_started = time.perf_counter()
        partitioners = {
            name: TensorRTPartitioner(
                specs[name], options.torch_executed_ops, options.min_block_size,
                options.weight_streaming_budget_total, moved, keep, plan is not None,
                {**exported.state_dict, **exported.constants},
            )
            for name, exported in programs.items()
        }
        try:
            edge = to_edge_transform_and_lower(
                dict(programs),
                transform_passes=[RemoveGraphAssertsPass(), row_major_nonzero, broadcast_copy_sources],
                partitioner={name: [p] for name, p in partitioners.items()},
            )
        except EngineBuildError as err:
            moved.update(_fallback(err, moved, strict))
            redone += time.perf_counter() - round_started
            continue
        report = _merged([p.report for p in partitioners.values()])
        cpu_nodes = {n.name: n for n in report.cpu_nodes}
        graphs = [edge.exported_program(m).graph for m in edge.methods]
        sources = {name: node.source for name, node in cpu_nodes.items()}
        missing = missing_kernels(graphs, runtime_kernels(), sources)
        movable = {m.node for m in missing if m.node in cpu_nodes and cpu_nodes[m.node].tensorrt_can_run} - keep
        if movable:
            keep |= movable
            redone += time.perf_counter() - round_started
            continue
        if missing:
            raise ValueError(missing_kernels_message(missing, {k: n.reason for k, n in cpu_nodes.items()}))
        return edge, report, redone
    raise RuntimeError(
        f"TensorRT still refused the program after moving {len(moved)} operator(s) to the CPU in "
        f"{MAX_BUILD_FALLBACKS} rounds ({', '.join(sorted(moved))}); keep more on the CPU with torch_executed_ops"
    )


def _lower_with_views_retried(
    programs: Mapping[str, ExportedProgram], *rest: Any
) -> Tuple[EdgeProgramManager, PartitionReport, float]:
    """``_lower(programs, *rest)``, retried once with views as reshapes where ExecuTorch's
    decomposition invalidates one (exporter/stale_views.py)."""
    try:
        return _lower(programs, *rest)
    except (ValueError, RuntimeError) as err:
        if not is_stale_view_error(err):
            raise
        retried = views_as_reshapes(programs)
        if retried is None:
            raise ValueError(stale_view_message(err)) from err
        _LOG.warning("ExecuTorch's decomposition invalidated a view; lowering again with views as reshapes")
    try:
        return _lower(retried, *rest)
    except (ValueError, RuntimeError) as err:
        if is_stale_view_error(err):
            raise ValueError(stale_view_message(err)) from err
        raise


def _forget_support_probe(engine_builder: str) -> None:
    """The builds are done: the support query's ONNX (a copy of the weights) can go."""
    try:
        builder = get_engine_builder(engine_builder)
    except (ValueError, ImportError):  # no builder, nothing kept (the export reports why)
        return
    forget = getattr(builder, "forget_support_probe", None)
    if callable(forget):
        forget()


def _fallback(err: EngineBuildError, moved: Dict[str, str], strict: bool) -> Dict[str, str]:
    """``{node: reason}`` to move to the CPU after ``err``; raises when none can be."""
    blamed = [n for n in err.nodes if n not in moved]
    if strict:
        named = f" (it blames {', '.join(blamed)})" if blamed else ""
        raise ValueError(
            f"strict=True: TensorRT refused to build a partition{named}, and strict exports move nothing to "
            f"the CPU; leave strict off to let those operators fall back, or keep them on the CPU with "
            f"torch_executed_ops:\n{err}"
        ) from err
    if not blamed:
        raise err
    reason = f"TensorRT refused to build it: {err.reason}"
    _LOG.warning("moving %s to the CPU: %s", ", ".join(blamed), reason)
    return {name: reason for name in blamed}


def _backend_config(plan: Optional[DevicePlanning], external_weights: bool) -> Optional[ExecutorchBackendConfig]:
    """``to_executorch()``'s config: device planning's and external constants' wishes together."""
    config = plan.backend_config() if plan is not None else None
    if external_weights:
        config = config or ExecutorchBackendConfig()
        config.external_constants = True
    return config



def _external_data(manager: ExecutorchProgramManager, target: Path) -> dict:
    """``{path: bytes}`` of the ``.ptd`` files ExecuTorch made for the external
    constants and the engines' weights (one file: both use one external tag)."""
    with tempfile.TemporaryDirectory(prefix="executorch_tensorrt_ptd_") as tmp:
        manager.write_tensor_data_to_file(tmp)
        produced = sorted(Path(tmp).glob("*.ptd"))
        if len(produced) > 1:
            return {target.parent / p.name: p.read_bytes() for p in produced}
        return {target.with_suffix(".ptd"): p.read_bytes() for p in produced}

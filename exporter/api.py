"""One-call export: model -> ``.pte`` whose graph runs on TensorRT."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

import torch
from executorch.exir import (
    EdgeProgramManager,
    ExecutorchBackendConfig,
    ExecutorchProgramManager,
    to_edge_transform_and_lower,
)
from torch.export import ExportedProgram

from .builders import EngineBuildError
from .cpu_kernels import missing_kernels, missing_kernels_message, runtime_kernels
from .delegates import build_record, tensorrt_delegates
from .device_planning import DevicePlanning, resolve_device_planning
from .files import checked_target, write_all_atomically
from .export_options import ExportOptions, convert_precision, parse_options, profiles_from_dims, resolve_profiles
from .partitioner import TensorRTPartitioner, source_line
from .summary import ExportSummary

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
    model: object, inputs: Optional[Sequence[torch.Tensor]], options: ExportOptions
) -> ExportedProgram:
    if isinstance(model, ExportedProgram):
        if inputs is not None or options.dynamic_shapes is not None:
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
        return torch.export.export(module, args, dynamic_shapes=options.dynamic_shapes, strict=False)
    finally:
        for m, training in modes.items():
            m.training = training


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
    device_planning: Union[bool, DevicePlanning] = False,
    strict: bool = False,
    **options: Any,
) -> ExportedTensorRTProgram:
    """Export a model to an ExecuTorch program whose supported operators run on TensorRT.

    Args:
        model_or_exported_program: an ``nn.Module`` (exported with
            ``torch.export.export(..., strict=False)`` in eval mode) or an
            ``ExportedProgram``.
        inputs: example tensors for ``forward``; required for an ``nn.Module``.
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

    Returns:
        ``.program`` (the ``ExecutorchProgramManager``), ``.buffer`` (the
        ``.pte`` bytes) and ``.summary``.
    """
    _check_strict(strict)
    plan = resolve_device_planning(device_planning)
    parsed = parse_options(options, "export")
    manager, summary = _export(model_or_exported_program, inputs, parsed, plan, strict, external_weights=False)
    return ExportedTensorRTProgram(manager, summary)


def save(
    model_or_exported_program: ModelLike,
    path: Union[str, os.PathLike],
    inputs: Optional[Sequence[torch.Tensor]] = None,
    output_format: str = "executorch",
    external_weights: bool = False,
    *,
    device_planning: Union[bool, DevicePlanning] = False,
    strict: bool = False,
    **options: Any,
) -> SavedProgram:
    """``export`` and write the ``.pte`` to ``path`` atomically.

    Either the complete file appears at ``path`` or (on any failure) nothing
    there changes. ``external_weights=True`` writes the constants left on the
    CPU to ``<path stem>.ptd`` beside it (ExecuTorch's external data file).
    Returns a ``SavedProgram``: a path-like with ``.path`` and ``.summary``.
    """
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output_format {output_format!r} is not supported; supported: {', '.join(OUTPUT_FORMATS)}")
    if not isinstance(external_weights, bool):
        raise TypeError(f"external_weights must be a bool, got {type(external_weights).__name__}")
    _check_strict(strict)
    # Everything cheap is checked before the (slow) export starts.
    parsed = parse_options(options, "save")
    plan = resolve_device_planning(device_planning)
    target = checked_target(path)
    manager, summary = _export(model_or_exported_program, inputs, parsed, plan, strict, external_weights)
    files = {target: manager.buffer}
    if external_weights:
        files.update(_external_data(manager, target))
    write_all_atomically(files)
    return SavedProgram(target, summary, tuple(p for p in files if p != target))


def _check_strict(strict: object) -> None:
    if not isinstance(strict, bool):
        raise TypeError(f"strict must be a bool, got {type(strict).__name__}")


def _export(
    model: object,
    inputs: Optional[Sequence[torch.Tensor]],
    options: ExportOptions,
    plan: Optional[DevicePlanning],
    strict: bool,
    external_weights: bool,
) -> Tuple[ExecutorchProgramManager, ExportSummary]:
    exported = _to_exported_program(model, inputs, options)
    if options.optimization_profiles:
        profiles = resolve_profiles(options.optimization_profiles, exported)
    else:
        profiles = profiles_from_dims(options.dynamic_shapes, exported)
    spec = options.spec.replace(optimization_profiles=profiles)
    edge, partitioner = _lower(exported, options, spec, plan, strict)
    summary = ExportSummary.of([build_record(d) for d in tensorrt_delegates(edge)], partitioner.report)
    _LOG.info("export summary: %s", summary.format())
    return edge.to_executorch(_backend_config(plan, external_weights)), summary


def _lower(
    exported: ExportedProgram,
    options: ExportOptions,
    spec: Any,
    plan: Optional[DevicePlanning],
    strict: bool,
) -> Tuple[EdgeProgramManager, TensorRTPartitioner]:
    """Partition, build and lower; then make sure the CPU side can run.

    A partition TensorRT refuses to build has the nodes the builder blamed
    moved to the CPU, and the program is partitioned and built again (at most
    ``MAX_BUILD_FALLBACKS`` times). A CPU operator without a kernel goes back
    to TensorRT when only ``min_block_size`` kept it off; otherwise the export
    fails naming it.
    """
    moved: Dict[str, str] = {}
    keep: Set[str] = set()
    for _ in range(MAX_BUILD_FALLBACKS + 1):
        partitioner = TensorRTPartitioner(
            spec, options.torch_executed_ops, options.min_block_size, options.weight_streaming_budget_total,
            moved, keep, plan is not None,
        )
        try:
            edge = to_edge_transform_and_lower(exported, partitioner=[partitioner])
        except EngineBuildError as err:
            moved.update(_fallback(err, moved, strict))
            continue
        cpu_nodes = {n.name: n for n in partitioner.report.cpu_nodes}
        graphs = [edge.exported_program(m).graph for m in edge.methods]
        sources = {name: node.source for name, node in cpu_nodes.items()}
        missing = missing_kernels(graphs, runtime_kernels(), sources)
        movable = {m.node for m in missing if m.node in cpu_nodes and cpu_nodes[m.node].tensorrt_can_run} - keep
        if movable:
            keep |= movable
            continue
        if missing:
            raise ValueError(missing_kernels_message(missing, {k: n.reason for k, n in cpu_nodes.items()}))
        return edge, partitioner
    raise RuntimeError(
        f"TensorRT still refused the program after moving {len(moved)} operator(s) to the CPU in "
        f"{MAX_BUILD_FALLBACKS} rounds ({', '.join(sorted(moved))}); keep more on the CPU with torch_executed_ops"
    )


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
    """``{path: bytes}`` of the ``.ptd`` files ExecuTorch made for the external constants."""
    with tempfile.TemporaryDirectory(prefix="executorch_tensorrt_ptd_") as tmp:
        manager.write_tensor_data_to_file(tmp)
        produced = sorted(Path(tmp).glob("*.ptd"))
        if len(produced) > 1:
            return {target.parent / p.name: p.read_bytes() for p in produced}
        return {target.with_suffix(".ptd"): p.read_bytes() for p in produced}

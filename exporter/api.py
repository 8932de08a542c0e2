"""One-call export: model -> ``.pte`` whose graph runs on TensorRT."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Optional, Sequence, Tuple, Union

import torch
from executorch.exir import ExecutorchBackendConfig, ExecutorchProgramManager, to_edge_transform_and_lower
from torch.export import ExportedProgram

from .build_records import collect_builds
from .device_planning import DevicePlanning, plan_delegates_on_device, resolve_device_planning
from .files import checked_target, write_all_atomically
from .export_options import ExportOptions, convert_precision, parse_options, profiles_from_dims, resolve_profiles
from .partitioner import TensorRTPartitioner
from .program_policies import bake
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


def export(
    model_or_exported_program: ModelLike,
    inputs: Optional[Sequence[torch.Tensor]] = None,
    *,
    device_planning: Union[bool, DevicePlanning] = False,
    **options: Any,
) -> ExecutorchProgramManager:
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

    Returns:
        The ``ExecutorchProgramManager``; ``.buffer`` holds the ``.pte`` bytes.
    """
    plan = resolve_device_planning(device_planning)
    return export_with_summary(model_or_exported_program, inputs, parse_options(options, "export"), plan=plan)[0]


def export_with_summary(
    model: object,
    inputs: Optional[Sequence[torch.Tensor]],
    options: ExportOptions,
    external_weights: bool = False,
    plan: Optional[DevicePlanning] = None,
) -> Tuple[ExecutorchProgramManager, ExportSummary]:
    exported = _to_exported_program(model, inputs, options)
    if options.optimization_profiles:
        profiles = resolve_profiles(options.optimization_profiles, exported)
    else:
        profiles = profiles_from_dims(options.dynamic_shapes, exported)
    spec = options.spec.replace(optimization_profiles=profiles)
    partitioner = TensorRTPartitioner(spec, options.torch_executed_ops, options.min_block_size)
    with collect_builds() as records:
        edge = to_edge_transform_and_lower(exported, partitioner=[partitioner])
    ordered = bake(edge, spec, records, options.weight_streaming_budget_total)
    summary = ExportSummary.of(ordered, partitioner.report)
    _LOG.info("export summary: %s", summary.format())
    if plan is not None:
        plan_delegates_on_device(edge)
    return edge.to_executorch(_backend_config(plan, external_weights)), summary


def _backend_config(plan: Optional[DevicePlanning], external_weights: bool) -> Optional[ExecutorchBackendConfig]:
    """``to_executorch()``'s config: device planning's and external constants' wishes together."""
    config = plan.backend_config() if plan is not None else None
    if external_weights:
        config = config or ExecutorchBackendConfig()
        config.external_constants = True
    return config


def save(
    model_or_exported_program: ModelLike,
    path: Union[str, os.PathLike],
    inputs: Optional[Sequence[torch.Tensor]] = None,
    output_format: str = "executorch",
    external_weights: bool = False,
    *,
    device_planning: Union[bool, DevicePlanning] = False,
    **options: Any,
) -> Path:
    """``export`` and write the ``.pte`` to ``path`` atomically.

    Either the complete file appears at ``path`` or (on any failure) nothing
    there changes. ``external_weights=True`` writes the constants left on the
    CPU to ``<path stem>.ptd`` beside it (ExecuTorch's external data file).
    """
    return save_with_summary(
        model_or_exported_program, path, inputs, output_format, external_weights, device_planning=device_planning, **options
    )[0]


def save_with_summary(
    model: ModelLike,
    path: Union[str, os.PathLike],
    inputs: Optional[Sequence[torch.Tensor]] = None,
    output_format: str = "executorch",
    external_weights: bool = False,
    *,
    device_planning: Union[bool, DevicePlanning] = False,
    **options: Any,
) -> Tuple[Path, ExportSummary]:
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output_format {output_format!r} is not supported; supported: {', '.join(OUTPUT_FORMATS)}")
    if not isinstance(external_weights, bool):
        raise TypeError(f"external_weights must be a bool, got {type(external_weights).__name__}")
    # Everything cheap is checked before the (slow) export starts.
    parsed = parse_options(options, "save")
    plan = resolve_device_planning(device_planning)
    target = checked_target(path)
    manager, summary = export_with_summary(model, inputs, parsed, external_weights, plan)
    files = {target: manager.buffer}
    if external_weights:
        files.update(_external_data(manager, target))
    write_all_atomically(files)
    return target, summary


def _external_data(manager: ExecutorchProgramManager, target: Path) -> dict:
    """``{path: bytes}`` of the ``.ptd`` files ExecuTorch made for the external constants."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="executorch_tensorrt_ptd_") as tmp:
        manager.write_tensor_data_to_file(tmp)
        produced = sorted(Path(tmp).glob("*.ptd"))
        if len(produced) > 1:
            return {target.parent / p.name: p.read_bytes() for p in produced}
        return {target.with_suffix(".ptd"): p.read_bytes() for p in produced}

"""One-call export: model -> ``.pte`` whose graph runs on TensorRT."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import torch
from executorch.exir import ExecutorchProgramManager, to_edge_transform_and_lower
from torch.export import ExportedProgram

from .compile_specs import TensorRTCompileSpec
from .device_planning import DevicePlanning, plan_delegates_on_device, resolve_device_planning
from .partitioner import TensorRTPartitioner

OUTPUT_FORMATS = ("executorch",)

ModelLike = Union[torch.nn.Module, ExportedProgram]


def _compile_spec(spec_kwargs: Dict[str, Any], function: str) -> TensorRTCompileSpec:
    accepted = TensorRTCompileSpec.field_names()
    unknown = sorted(set(spec_kwargs) - set(accepted))
    if unknown:
        raise TypeError(
            f"{function}() got unexpected keyword argument(s): {', '.join(unknown)}; "
            f"accepted: inputs, {', '.join(accepted)}" + (", output_format" if function == "save" else "")
        )
    return TensorRTCompileSpec(**spec_kwargs)


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


def _to_exported_program(model: object, inputs: Optional[Sequence[torch.Tensor]]) -> ExportedProgram:
    if isinstance(model, ExportedProgram):
        if inputs is not None:
            raise ValueError(
                "inputs is only used to export an nn.Module; an ExportedProgram already fixes its inputs, "
                "so leave inputs out"
            )
        return model
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module or a torch.export.ExportedProgram, got {type(model).__name__}"
        )
    if inputs is None:
        raise TypeError("inputs is required to export an nn.Module: a tuple of example tensors for forward()")
    args = _check_inputs(inputs)
    # Inference export: dropout off, batch-norm statistics frozen. The caller's
    # train/eval flags are restored afterwards.
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        return torch.export.export(model, args, strict=False)
    finally:
        for module, training in modes.items():
            module.training = training


def export(
    model_or_exported_program: ModelLike,
    inputs: Optional[Sequence[torch.Tensor]] = None,
    *,
    device_planning: Union[bool, DevicePlanning] = False,
    **spec_kwargs: Any,
) -> ExecutorchProgramManager:
    """Export a model to an ExecuTorch program whose graph runs on TensorRT.

    Args:
        model_or_exported_program: an ``nn.Module`` (exported with
            ``torch.export.export(..., strict=False)`` in eval mode) or an
            ``ExportedProgram``.
        inputs: example tensors for ``forward``; required for an ``nn.Module``.
        **spec_kwargs: ``TensorRTCompileSpec`` fields (``engine_builder``,
            ``device_index``, ``workspace_bytes``, ``version_compatible``).
        device_planning: True plans delegate inputs/outputs in device memory
            so tensors between TensorRT delegates never visit the host;
            ``DevicePlanning(device_io=True)`` also keeps the method's inputs
            and outputs on the device (``exporter/device_planning.py``).

    Returns:
        The ``ExecutorchProgramManager``; ``.buffer`` holds the ``.pte`` bytes.
    """
    return _export(model_or_exported_program, inputs, _compile_spec(spec_kwargs, "export"), device_planning)


def _export(
    model: object,
    inputs: Optional[Sequence[torch.Tensor]],
    spec: TensorRTCompileSpec,
    device_planning: Union[bool, DevicePlanning] = False,
) -> ExecutorchProgramManager:
    plan = resolve_device_planning(device_planning)  # exporter/device_planning.py
    exported = _to_exported_program(model, inputs)
    edge = to_edge_transform_and_lower(exported, partitioner=[TensorRTPartitioner(spec)])
    if plan is None:
        return edge.to_executorch()
    plan_delegates_on_device(edge)
    return edge.to_executorch(plan.backend_config())


def save(
    model_or_exported_program: ModelLike,
    path: Union[str, os.PathLike],
    inputs: Optional[Sequence[torch.Tensor]] = None,
    output_format: str = "executorch",
    *,
    device_planning: Union[bool, DevicePlanning] = False,
    **spec_kwargs: Any,
) -> Path:
    """``export`` and write the ``.pte`` to ``path`` atomically.

    Either the complete file appears at ``path`` or (on any failure) nothing
    there changes.
    """
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output_format {output_format!r} is not supported; supported: {', '.join(OUTPUT_FORMATS)}")
    # Everything cheap is checked before the (slow) export starts.
    spec = _compile_spec(spec_kwargs, "save")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a directory; give the path of the .pte file to write")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"directory {target.parent} does not exist; create it first")
    manager = _export(model_or_exported_program, inputs, spec, device_planning)
    _write_atomically(target, manager.buffer)
    return target


def _write_atomically(target: Path, data: bytes) -> None:
    # Same directory as the target, so os.replace is a rename on one filesystem.
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    # 0o666 filtered by the umask, like a plain open(); mkstemp would make it 0600.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

"""torch -> ONNX, the format TensorRT's parser reads. No op lowering of our own."""

from __future__ import annotations

import contextlib
import logging
import warnings
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch

from ..blob import TensorSpec
from .base import EngineBuildRequest

# Loggers torch.onnx reports through; quieted while exporting because their
# messages (e.g. "torchvision is not installed") do not concern our users.
_NOISY_LOGGERS = ("torch.onnx", "torch.export", "torch._export", "onnxscript", "onnx_ir")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    saved = {}
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # e.g. "Exporting a model while it is in training mode": the module is
            # an already-captured graph, whose train/eval flag means nothing.
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _aten_view_for(target: object) -> object:
    """``aten.select_copy.int`` -> ``aten.select.int`` (None when there is no such view op)."""
    op = getattr(target, "_op", target)  # ExecuTorch's EdgeOpOverload wraps the aten op
    if not isinstance(op, torch._ops.OpOverload):
        return None
    namespace, _, name = op._schema.name.partition("::")
    if namespace != "aten" or not name.endswith("_copy"):
        return None
    packet = getattr(torch.ops.aten, name[: -len("_copy")], None)
    return getattr(packet, op._overloadname, None) if packet is not None else None


def dynamic_axes(spec: TensorSpec) -> List[int]:
    """The axes of ``spec`` whose size differs between a profile's min and max."""
    return [axis for axis in range(spec.rank) if any(r.min[axis] != r.max[axis] for r in spec.ranges)]


def _dynamic_shapes(specs: Sequence[TensorSpec]) -> Optional[Tuple[Dict[int, Any], ...]]:
    """torch.export dynamic-shape spec for the dims whose ranges are not fixed."""
    dims = [{axis: torch.export.Dim.DYNAMIC for axis in dynamic_axes(s)} for s in specs]
    return tuple(d or None for d in dims) if any(dims) else None  # type: ignore[return-value]


def request_onnx(request: EngineBuildRequest) -> "torch.onnx.ONNXProgram":
    """The ONNX of a build request, as TensorRT's parser reads it (the
    TensorRT builders build from it; ``validate`` and ``keep_onnx`` use it too)."""
    return export_onnx(
        request.module,
        request.example_inputs,
        [s.name for s in request.input_specs],
        [s.name for s in request.output_specs],
        dynamic_shapes=_dynamic_shapes(request.input_specs),
    )


def use_view_ops(module: torch.nn.Module) -> None:
    """Edge programs use the ``*_copy`` forms of view ops (``select_copy``,
    ``permute_copy``...), several of which the ONNX exporter cannot translate.
    In a functional graph (no mutation) the view op computes the same values,
    so the graph's calls are switched to it, in place."""
    graph = getattr(module, "graph", None)
    if graph is None:
        return
    for node in graph.nodes:
        if node.op == "call_function":
            view = _aten_view_for(node.target)
            if view is not None:
                node.target = view
    module.recompile()  # type: ignore[operator]


def _forget_provenance(module: torch.nn.Module) -> None:
    """Drops each node's ``from_node`` history (what it was traced from, every
    earlier trace nested in it). Every trace of the ONNX export deep-copies
    that history per node, which dominated the export of graphs traced many
    times already. The exporter's trace of ``module`` still records its nodes
    as the origins, which is all ``build_failures`` follows. ``module`` is the
    caller's copy; the meta dicts are replaced, not changed, as they may be
    shared with the program it was made from."""
    graph = getattr(module, "graph", None)
    for node in graph.nodes if graph is not None else ():
        if "from_node" in node.meta:
            node.meta = {key: value for key, value in node.meta.items() if key != "from_node"}


def export_onnx(
    module: torch.nn.Module,
    example_inputs: Tuple[torch.Tensor, ...],
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_shapes: Optional[Tuple[Any, ...]] = None,
) -> "torch.onnx.ONNXProgram":
    """Convert ``module`` with the dynamo-based ONNX exporter.

    Returns the ``ONNXProgram``; its ``model_proto`` is the in-memory model and
    ``save`` writes it with external data when it is too large for protobuf.
    """
    use_view_ops(module)
    _forget_provenance(module)
    try:
        with _quiet(), torch.no_grad():
            program = torch.onnx.export(
                module,
                tuple(example_inputs),
                dynamo=True,
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_shapes=dynamic_shapes,
                verbose=False,
                report=False,
            )
    except Exception as err:
        raise RuntimeError(f"converting the delegated graph to ONNX for TensorRT failed: {err}") from err
    if program is None:  # only when an `f=` path is given, which we never do
        raise RuntimeError("torch.onnx.export returned no program")
    # ``model_proto`` serializes the whole model (weights too) at each use;
    # the names are read from the in-memory model.
    graph = program.model.graph
    got_inputs = [value.name for value in graph.inputs]
    got_outputs = [value.name for value in graph.outputs]
    if got_inputs != list(input_names) or got_outputs != list(output_names):
        raise RuntimeError(
            "the ONNX export does not have the delegate's inputs/outputs: "
            f"expected inputs {list(input_names)} and outputs {list(output_names)}, "
            f"got inputs {got_inputs} and outputs {got_outputs}"
        )
    return program

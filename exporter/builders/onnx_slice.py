"""A partition's ONNX cut out of the support query's ONNX of the whole graph.

The support query (``node_support``) converts the whole candidate graph to
ONNX once, every node's result a graph output. A partition's graph is the
part of it between the values of the partition's inputs and those of its
outputs, so the build takes it from there instead of converting the
partition again (one ONNX export per program instead of one more per
partition). Anything the cut cannot do exactly (a value outside the
partition is needed, a subgraph attribute, a name clash) returns None and
the builder converts the partition itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

# onnx.AttributeProto.GRAPH and GRAPHS: bodies that may read outer values by name.
_GRAPH_ATTRIBUTE_TYPES = (5, 10)


@dataclass(frozen=True)
class TracedGraph:
    """Stands for ``ONNXProgram.exported_program``: the graph the ONNX was translated from."""

    graph: Any


@dataclass(frozen=True)
class OnnxSlice:
    """What the builder reads of an ``ONNXProgram``, for a cut-out model.

    Like ``ONNXProgram.model_proto``, each read of ``model_proto`` makes the
    model afresh, so no copy of the weights outlives its use (the build
    parses it, then holds none while TensorRT builds)."""

    make: Callable[[], Any]
    exported_program: Optional[TracedGraph] = None

    @property
    def model_proto(self) -> Any:
        return self.make()

    def save(self, destination: str, external_data: bool = False) -> None:
        import onnx

        location = os.path.basename(destination) + ".data" if external_data else None
        onnx.save_model(self.model_proto, destination, save_as_external_data=external_data, location=location)


def _needed(
    graph: Any, outputs: Sequence[str], boundary: Set[str], initializers: Set[str]
) -> Optional[Tuple[List[int], Set[str]]]:
    """Indices of the nodes computing ``outputs`` from ``boundary`` values and
    initializers, and the initializers used; None when more is needed."""
    producer: Dict[str, int] = {name: i for i, node in enumerate(graph.node) for name in node.output if name}
    nodes: Set[int] = set()
    used: Set[str] = set()
    seen: Set[str] = set()
    stack = list(outputs)
    while stack:
        value = stack.pop()
        if not value or value in seen or value in boundary:
            continue
        seen.add(value)
        if value in initializers:
            used.add(value)
            continue
        index = producer.get(value)
        if index is None:
            return None  # a graph input the partition is not given
        node = graph.node[index]
        if any(a.type in _GRAPH_ATTRIBUTE_TYPES for a in node.attribute):
            return None
        nodes.add(index)
        stack.extend(node.input)
    return sorted(nodes), used


def _initializer(name: str, value: Any) -> Optional[Any]:
    """An ONNX TensorProto of torch tensor ``value``; None for dtypes numpy lacks (bfloat16)."""
    from onnx import numpy_helper

    try:
        array = value.detach().cpu().contiguous().numpy()
    except TypeError:
        return None
    return numpy_helper.from_array(array, name=name)


def slice_model(
    model: Any,
    inputs: Sequence[Tuple[str, str]],
    outputs: Sequence[Tuple[str, str]],
    constants: Optional[Mapping[str, Any]] = None,
) -> Optional[Any]:
    """The part of ONNX ``model`` computing the ``outputs`` values from the
    ``inputs`` values, each pair ``(value in model, name in the cut)``; the
    cut's graph inputs and outputs carry the new names, in the order given.
    ``constants``: ``{value: torch tensor}``, values (graph inputs of
    ``model``) the cut holds as initializers instead. None when it cannot be
    cut exactly."""
    make = slice_maker(model, inputs, outputs, constants)
    return make() if make is not None else None


def slice_maker(
    model: Any,
    inputs: Sequence[Tuple[str, str]],
    outputs: Sequence[Tuple[str, str]],
    constants: Optional[Mapping[str, Any]] = None,
    held: Optional[Mapping[str, Callable[[], Any]]] = None,
) -> Optional[Callable[[], Any]]:
    """``slice_model``'s checks now, and a function making the cut (each
    call a new model: no copy of the weights is kept in between); None when
    it cannot be cut exactly. ``held``: initializers of ``model`` kept out
    of it, name -> a function making its TensorProto."""
    constants = dict(constants or {})
    held = dict(held or {})
    graph = model.graph
    infos = {v.name: v for v in (*graph.input, *graph.output, *graph.value_info)}
    initializers = {t.name for t in graph.initializer} | set(held)
    values = {name for node in graph.node for name in node.output} | set(initializers) | set(infos)
    for value, name in (*inputs, *outputs):
        if value not in infos or (name != value and name in values):
            return None
    found = _needed(graph, [v for v, _ in outputs], {v for v, _ in inputs} | set(constants), set(initializers))
    if found is None:
        return None
    if any(_initializer(name, value) is None for name, value in constants.items()):
        return None
    indices, used = found
    return lambda: _make_cut(model, inputs, outputs, constants, indices, sorted(used), held)


def _make_cut(
    model: Any,
    inputs: Sequence[Tuple[str, str]],
    outputs: Sequence[Tuple[str, str]],
    constants: Mapping[str, Any],
    indices: Sequence[int],
    used: Sequence[str],
    held: Mapping[str, Callable[[], Any]],
) -> Any:
    graph = model.graph
    infos = {v.name: v for v in (*graph.input, *graph.output)}
    initializers = {t.name: t for t in graph.initializer}
    cut = type(model)()
    cut.ir_version = model.ir_version
    cut.opset_import.extend(model.opset_import)
    cut.functions.extend(model.functions)
    cut.producer_name = model.producer_name
    cut.producer_version = model.producer_version
    cut.graph.name = graph.name
    for value, name in inputs:
        cut.graph.input.add().CopyFrom(infos[value])
        cut.graph.input[-1].name = name
        if name != value:
            cut.graph.node.add(op_type="Identity", input=[name], output=[value], name=f"{name}_identity")
    cut.graph.node.extend(graph.node[i] for i in indices)
    cut.graph.initializer.extend(initializers[name] if name in initializers else held[name]() for name in used)
    cut.graph.initializer.extend(_initializer(name, value) for name, value in sorted(constants.items()))
    for value, name in outputs:
        cut.graph.output.add().CopyFrom(infos[value])
        cut.graph.output[-1].name = name
        if name != value:
            cut.graph.node.add(op_type="Identity", input=[value], output=[name], name=f"{name}_identity")
    return cut

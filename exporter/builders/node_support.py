"""Which graph nodes a TensorRT builder really accepts, asked of the converter.

The whole candidate graph is converted to ONNX once with every node's result
as an extra graph output, then handed to TensorRT's ONNX parser support query
(``supports_model_v2``). Each parser error names the ONNX node it refused; the
nearest graph outputs downstream of that node name the FX node it came from.
No operator list of our own decides anything.

That ONNX is kept (``SupportProbe``): when it was converted with the
program's real weights, each partition's build cuts its ONNX out of it
(``onnx_slice``) instead of converting the partition again.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import torch
from torch._subclasses.fake_tensor import FakeTensor
from torch.export import ExportedProgram

from ..io_specs import hint_shape
from ..op_selection import node_op, op_label
from .base import EngineBuildRequest
from .onnx_export import _aten_view_for, dynamic_axes, export_onnx
from .onnx_slice import OnnxSlice, TracedGraph, slice_maker

_LOG = logging.getLogger("executorch_tensorrt.exporter")

# Results TensorRT cannot hold at all; refused before asking the parser.
_NO_TENSORRT_DTYPES = {torch.float64: "float64", torch.complex64: "complex64", torch.complex128: "complex128"}


def _hint_tensor(value: torch.Tensor) -> torch.Tensor:
    """A real tensor of ``value``'s example shape and dtype (ones: no division by zero)."""
    fill = torch.ones if value.dtype.is_floating_point else torch.zeros
    return fill(hint_shape(value), dtype=value.dtype)


def dtype_problem(node: torch.fx.Node) -> str:
    """Why TensorRT cannot hold this node's result or arguments, or ''."""
    values = [node.meta.get("val")]
    values += [a.meta.get("val") for a in node.all_input_nodes]
    for value in values:
        for item in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(item, torch.Tensor) and item.dtype in _NO_TENSORRT_DTYPES:
                return f"uses {_NO_TENSORRT_DTYPES[item.dtype]}, which TensorRT does not support"
    return ""


# torch dtype -> ONNX TensorProto elem_type, to check a cut's I/O against the request.
_ONNX_ELEM_TYPES = {
    torch.float32: 1, torch.uint8: 2, torch.int8: 3, torch.int16: 5, torch.int32: 6, torch.int64: 7,
    torch.bool: 9, torch.float16: 10, torch.float64: 11, torch.bfloat16: 16,
}


def _same_weight(converted: Tuple[torch.Tensor, int], value: torch.Tensor) -> bool:
    """Whether ``value`` holds what the probe converted: ``converted`` is the
    tensor it read and that tensor's version counter then (unchanged: no
    in-place write since). The backend's copy of a weight need not share
    its storage, so values are compared (far cheaper than a conversion)."""
    tensor, version = converted
    if tensor._version != version or tensor.shape != value.shape or tensor.dtype != value.dtype:
        return False
    return tensor is value or tensor.data_ptr() == value.data_ptr() or bool(torch.equal(tensor, value))


def _target_label(target: object) -> str:
    return str(_aten_view_for(target) or target)


def _value_matches(info: Any, shape: Sequence[int], dtype: torch.dtype) -> bool:
    tensor_type = info.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
    return tensor_type.elem_type == _ONNX_ELEM_TYPES.get(dtype) and dims == [int(d) for d in shape]


@dataclass(frozen=True)
class SupportProbe:
    """The support query's ONNX of the whole candidate graph, converted with
    the program's real weights, from which each partition's ONNX is cut."""

    model: Any  # onnx.ModelProto
    values: Mapping[str, str]  # graph node name -> ONNX value (graph input or probe output)
    targets: Mapping[str, str]  # call_function node name -> its target (view ops as the exporter saw them)
    # (call_function node name, index among its input nodes) -> the weight it
    # reads there: (tensor converted, its _version then), or the name of the
    # graph input that feeds it (a constant with no real value at the query).
    # Keyed by use, not by attribute name: the backend may name a lifted
    # constant differently.
    weights: Mapping[Tuple[str, int], Any]
    traced: Any  # the graph the ONNX exporter translated (build failures map ONNX nodes back through it)
    # The ONNX IR's initializers, name -> the tensor each serializes from (a
    # weight of the program itself, or a constant the exporter folded): once
    # the support query is done ``model`` holds none (``holding_weights``),
    # and a cut serializes the ones it needs from these.
    initializers: Mapping[str, Any] = field(default_factory=dict)

    def holding_weights(self) -> "SupportProbe":
        """This probe with ``model``'s initializers taken out (``initializers``
        makes them again), so it holds no copy of the weights while the
        engines build; itself when one of them has no IR tensor."""
        model = self.model
        if any(t.name not in self.initializers for t in model.graph.initializer):
            return self
        model.graph.ClearField("initializer")
        # Copied into a new message: the old one's memory, the initializers' bytes with it, goes with it.
        stripped = type(model)()
        stripped.CopyFrom(model)
        return dataclasses.replace(self, model=stripped)

    def _held(self) -> Dict[str, Callable[[], Any]]:
        """Initializers no longer in ``model``: name -> makes its TensorProto."""
        from onnx_ir import serde

        def make(name: str) -> Callable[[], Any]:
            def proto() -> Any:
                tensor = serde.serialize_tensor(self.initializers[name])
                tensor.name = name
                return tensor

            return proto

        inside = {t.name for t in self.model.graph.initializer}
        return {name: make(name) for name in self.initializers if name not in inside}

    def partition_onnx(self, request: EngineBuildRequest) -> Optional[OnnxSlice]:
        """The request's ONNX cut out of this one; None unless it is exactly
        the request's graph (same nodes and weights, static shapes)."""
        if any(dynamic_axes(s) for s in request.input_specs):
            return None  # the probe was converted for the example shapes only
        graph = getattr(request.module, "graph", None)
        if graph is None:
            return None
        constants: Dict[str, torch.Tensor] = {}  # ONNX input value -> the real constant feeding it
        for node in graph.nodes:
            if node.op != "call_function":
                continue
            if self.targets.get(node.name) != _target_label(node.target):
                return None
            for index, arg in enumerate(node.all_input_nodes):
                value = _attribute(request.module, arg.target) if arg.op == "get_attr" else None
                if not isinstance(value, torch.Tensor):
                    continue
                converted = self.weights.get((node.name, index))
                if isinstance(converted, str) and converted in self.values:
                    constants[self.values[converted]] = value
                elif not isinstance(converted, tuple) or not _same_weight(converted, value):
                    return None
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        returned = next(n for n in graph.nodes if n.op == "output").args[0]
        if len(placeholders) != len(request.input_specs) or not isinstance(returned, (tuple, list)):
            return None
        if len(returned) != len(request.output_specs) or not all(isinstance(r, torch.fx.Node) for r in returned):
            return None
        infos = {v.name: v for v in (*self.model.graph.input, *self.model.graph.output)}
        pairs = []
        for nodes, specs, shapes in (
            (placeholders, request.input_specs, [tuple(t.shape) for t in request.example_inputs]),
            (returned, request.output_specs, [s.ranges[0].opt for s in request.output_specs]),
        ):
            named = []
            for node, spec, shape in zip(nodes, specs, shapes, strict=True):
                value = self.values.get(node.name)
                val = node.meta.get("val")
                if value not in infos or not isinstance(val, torch.Tensor):
                    return None
                if not _value_matches(infos[value], shape, val.dtype):
                    return None
                named.append((value, spec.name))
            pairs.append(named)
        make = slice_maker(self.model, pairs[0], pairs[1], constants, self._held())
        return OnnxSlice(make, TracedGraph(self.traced)) if make is not None else None


def _probe_module(
    program: ExportedProgram, probed: Sequence[torch.fx.Node], cut: Set[str]
) -> Tuple[torch.fx.GraphModule, List[str], Dict[Tuple[str, int], Any]]:
    """The program's module returning every probed node's result, and what
    each use of a weight reads (see ``SupportProbe.weights``). Nodes in ``cut`` (refused already)
    become graph inputs, so what follows them is still asked about."""
    module = program.module()
    graph = torch.fx.Graph()
    env: Dict[str, torch.fx.Node] = {}
    nodes = [n for n in module.graph.nodes if n.op != "output" and n.target != "_guards_fn"]
    # Placeholders first, as FX wants them: the program's, then the cut nodes'.
    for node in nodes:
        if node.op == "placeholder":
            env[node.name] = graph.node_copy(node, lambda n: env[n.name])
    for node in nodes:
        if node.name in cut:
            env[node.name] = graph.placeholder(node.name)
            env[node.name].meta["val"] = node.meta["val"]
    # Scalar constants with no real value here (ExecuTorch's edge passes lift
    # scalars of elementwise ops into tensors after the user's export; the
    # partitioner's real weights lack them) are fed as inputs, so the build's
    # cut can hold the real ones (a hint folded into the ONNX could not be
    # undone). Larger fake weights (no real weights given) stay hints: some
    # parser checks want weights constant; their partitions convert again.
    for node in nodes:
        value = _attribute(module, node.target) if node.op == "get_attr" else None
        if isinstance(value, FakeTensor) and value.numel() <= 1:
            env[node.name] = graph.placeholder(node.name)
            env[node.name].meta["val"] = value
    for node in nodes:
        if node.name not in env:
            env[node.name] = graph.node_copy(node, lambda n: env[n.name])
    names = [n.name for n in probed if n.name in env and n.name not in cut]
    # The results of the nodes not asked about (kept on the CPU) are returned
    # too: a partition after them gets them as inputs, which a build's cut
    # of this ONNX must find; and a refusal is blamed on the nearest node.
    asked = set(names)
    names += [
        n.name for n in nodes
        if n.op == "call_function" and n.name not in asked and n.name not in cut
        and isinstance(n.meta.get("val"), torch.Tensor)
    ]
    graph.output(tuple(env[name] for name in names))
    graph.eliminate_dead_code()
    # During partitioning the weights may be fake tensors; the support query
    # needs values of the right shape and dtype only, a build real ones.
    attributes = {}
    for node in graph.nodes:
        if node.op == "get_attr":
            value = _attribute(module, node.target)
            attributes[node.target] = _hint_tensor(value) if isinstance(value, FakeTensor) else value
    weights: Dict[Tuple[str, int], Any] = {}
    lifted = {n.name for n in nodes if n.op == "get_attr" and env[n.name].op == "placeholder"}
    for node in graph.nodes:
        for index, arg in enumerate(node.all_input_nodes if node.op == "call_function" else ()):
            value = attributes.get(arg.target) if arg.op == "get_attr" else None
            if isinstance(value, torch.Tensor) and not isinstance(_attribute(module, arg.target), FakeTensor):
                weights[(node.name, index)] = (value, value._version)
            elif arg.op == "placeholder" and arg.name in lifted:
                weights[(node.name, index)] = arg.name  # fed as an input
    return torch.fx.GraphModule(attributes, graph), names, weights


# How the ONNX exporter names the node it could not translate.
_UNTRANSLATABLE_RE = re.compile(r"Error when translating node .*?target=torch\.ops\.(\w+)\.(\w+)\.(\w+)")
_MAX_CUTS = 16


def _untranslatable(error: BaseException, nodes: Iterable[torch.fx.Node]) -> List[torch.fx.Node]:
    """The nodes calling the operator the ONNX exporter failed on (tensor results only)."""
    match = _UNTRANSLATABLE_RE.search(str(error))
    if match is None:
        return []
    wanted = (f"{match.group(1)}::{match.group(2)}", match.group(3))
    return [n for n in nodes if node_op(n) == wanted and isinstance(n.meta.get("val"), torch.Tensor)]


def _export_probe(
    program: ExportedProgram, probed: List[torch.fx.Node], reasons: Dict[str, str]
) -> Optional[Tuple[SupportProbe, List[str], List[str]]]:
    """(probe, probed names, output names); operators the ONNX exporter
    cannot translate are added to ``reasons`` and cut out. None: give up."""
    cut: Set[str] = set()
    for _ in range(_MAX_CUTS):
        module, names, weights = _probe_module(program, probed, cut)
        if not names:
            return None
        placeholders = [n for n in module.graph.nodes if n.op == "placeholder"]
        inputs = tuple(_hint_tensor(n.meta["val"]) for n in placeholders)
        input_names = [f"in_{i}" for i in range(len(inputs))]
        output_names = [f"probe_{i}" for i in range(len(names))]
        values = {**dict(zip([n.name for n in placeholders], input_names)), **dict(zip(names, output_names))}
        targets = {n.name: _target_label(n.target) for n in module.graph.nodes if n.op == "call_function"}
        try:
            onnx_program = export_onnx(module, inputs, input_names, output_names)
            traced = getattr(getattr(onnx_program, "exported_program", None), "graph", None)
            initializers = {
                name: value.const_value
                for name, value in onnx_program.model.graph.initializers.items()
                if value.const_value is not None
            }
            probe = SupportProbe(onnx_program.model_proto, values, targets, weights, traced, initializers)
            return probe, names, output_names
        except RuntimeError as err:
            failing = _untranslatable(err, [n for n in probed if n.name not in cut])
            if not failing:
                # Nothing can be said per node; the build reports the conversion error.
                _LOG.warning("TensorRT support query skipped: %s", str(err).splitlines()[0])
                return None
            for node in failing:
                reasons[node.name] = f"the ONNX exporter has no conversion for {op_label(node)}"
                cut.add(node.name)
    return None


def _attribute(module: torch.nn.Module, target: str) -> Any:
    owner: Any = module
    for part in target.split("."):
        owner = getattr(owner, part)
    return owner


def _downstream_owners(onnx_graph: Any, start: int, output_owner: Dict[str, str]) -> Set[str]:
    """FX nodes whose results are the first probe outputs reached from ONNX node ``start``."""
    consumers: Dict[str, List[int]] = collections.defaultdict(list)
    for index, onnx_node in enumerate(onnx_graph.node):
        for name in onnx_node.input:
            consumers[name].append(index)
    owners: Set[str] = set()
    seen = {start}
    queue = collections.deque([start])
    while queue:
        for value in onnx_graph.node[queue.popleft()].output:
            if value in output_owner:
                owners.add(output_owner[value])
                continue
            for nxt in consumers.get(value, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
    return owners


def unsupported_by_onnx_parser(
    trt: ModuleType, logger: Any, program: ExportedProgram, nodes: Iterable[torch.fx.Node]
) -> Tuple[Dict[str, str], Optional[SupportProbe]]:
    """``{fx node name: reason}`` for the nodes TensorRT's ONNX parser
    refuses, and the probe it asked about (None when none was converted)."""
    reasons: Dict[str, str] = {}
    probed: List[torch.fx.Node] = []
    for node in nodes:
        problem = dtype_problem(node)
        if problem:
            reasons[node.name] = problem
        elif isinstance(node.meta.get("val"), torch.Tensor):
            probed.append(node)
    if not probed:
        return reasons, None
    exported = _export_probe(program, probed, reasons)
    if exported is None:
        return reasons, None
    probe, names, output_names = exported
    model = probe.model
    # The builder and network must outlive the parser, which points into them.
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if parser.supports_model_v2(model.SerializeToString()):
        return reasons, probe.holding_weights()
    output_owner = dict(zip(output_names, names, strict=True))
    for i in range(parser.num_errors):
        error = parser.get_error(i)
        index = error.node()
        if not 0 <= index < len(model.graph.node):
            continue
        onnx_node = model.graph.node[index]
        desc = str(error.desc()).strip()
        check = desc if desc not in ("", "false") else str(error.func())
        detail = f"{trt.__name__} {trt.__version__} ONNX parser refuses its {onnx_node.op_type} ({check})"
        for owner in _downstream_owners(model.graph, index, output_owner):
            reasons.setdefault(owner, detail)
    return reasons, probe.holding_weights()

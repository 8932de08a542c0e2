"""Which graph nodes a TensorRT builder really accepts, asked of the converter.

The whole candidate graph is converted to ONNX once with every node's result
as an extra graph output, then handed to TensorRT's ONNX parser support query
(``supports_model_v2``). Each parser error names the ONNX node it refused; the
nearest graph outputs downstream of that node name the FX node it came from.
No operator list of our own decides anything.
"""

from __future__ import annotations

import collections
import logging
import re
from types import ModuleType
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import torch
from torch.export import ExportedProgram

from ..io_specs import hint_shape
from ..op_selection import node_op, op_label
from .onnx_export import export_onnx

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


def _probe_module(
    program: ExportedProgram, probed: Sequence[torch.fx.Node], cut: Set[str]
) -> Tuple[torch.fx.GraphModule, List[str]]:
    """The program's module returning every probed node's result. Nodes in
    ``cut`` (refused already) become graph inputs, so what follows them is
    still asked about."""
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
    for node in nodes:
        if node.name not in env:
            env[node.name] = graph.node_copy(node, lambda n: env[n.name])
    names = [n.name for n in probed if n.name in env and n.name not in cut]
    graph.output(tuple(env[name] for name in names))
    graph.eliminate_dead_code()
    # During partitioning the weights may be fake tensors; the support query
    # needs values of the right shape and dtype only.
    attributes = {}
    for node in graph.nodes:
        if node.op == "get_attr":
            value = _attribute(module, node.target)
            attributes[node.target] = _hint_tensor(value) if isinstance(value, torch.Tensor) else value
    return torch.fx.GraphModule(attributes, graph), names


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
) -> Optional[Tuple[Any, List[str], List[str]]]:
    """(ONNX model, probed names, output names); operators the ONNX exporter
    cannot translate are added to ``reasons`` and cut out. None: give up."""
    cut: Set[str] = set()
    for _ in range(_MAX_CUTS):
        module, names = _probe_module(program, probed, cut)
        if not names:
            return None
        placeholders = [n for n in module.graph.nodes if n.op == "placeholder"]
        inputs = tuple(_hint_tensor(n.meta["val"]) for n in placeholders)
        output_names = [f"probe_{i}" for i in range(len(names))]
        try:
            onnx_program = export_onnx(module, inputs, [f"in_{i}" for i in range(len(inputs))], output_names)
            return onnx_program.model_proto, names, output_names
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
) -> Dict[str, str]:
    """``{fx node name: reason}`` for the nodes TensorRT's ONNX parser refuses."""
    reasons: Dict[str, str] = {}
    probed: List[torch.fx.Node] = []
    for node in nodes:
        problem = dtype_problem(node)
        if problem:
            reasons[node.name] = problem
        elif isinstance(node.meta.get("val"), torch.Tensor):
            probed.append(node)
    if not probed:
        return reasons
    exported = _export_probe(program, probed, reasons)
    if exported is None:
        return reasons
    model, names, output_names = exported
    # The builder and network must outlive the parser, which points into them.
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if parser.supports_model_v2(model.SerializeToString()):
        return reasons
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
    return reasons

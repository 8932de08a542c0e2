"""Which graph nodes a failed TensorRT build is about.

TensorRT names the layer it refused, and its ONNX parser names each layer
after the ONNX node it came from. The ONNX exporter records, per ONNX node,
the node of the graph it translated (``pkg.torch.onnx.name_scopes``), and
that graph's nodes record the nodes they were traced from (``from_node``),
which leads back to the module the builder was given. When the message names
no layer, builds of ever shorter prefixes of the ONNX graph find the first
node whose addition makes the build fail.
"""

from __future__ import annotations

import ast
import collections
import re
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import torch

_NAME_SCOPES = "pkg.torch.onnx.name_scopes"


def named_onnx_nodes(messages: Iterable[str], onnx_graph: Any) -> List[Any]:
    """The ONNX nodes whose names appear in ``messages`` (whole words), in graph order."""
    text = "\n".join(messages)
    words = set(re.findall(r"[A-Za-z0-9_./-]+", text))
    return [node for node in onnx_graph.node if node.name and node.name in words]


def _scope_name(onnx_node: Any) -> Optional[str]:
    for prop in onnx_node.metadata_props:
        if prop.key == _NAME_SCOPES:
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                return None
            return str(scopes[-1]) if scopes else None
    return None


def _origins(node: torch.fx.Node) -> List[str]:
    """Names of the nodes ``node`` was traced from, nearest first."""
    names: List[str] = []
    queue: Deque[Any] = collections.deque(node.meta.get("from_node") or ())
    while queue:
        source = queue.popleft()
        name = getattr(source, "name", None)
        if isinstance(name, str):
            names.append(name)
        queue.extend(getattr(source, "from_node", None) or ())
    return names


def fx_nodes_of(onnx_nodes: Sequence[Any], traced: Optional[torch.fx.Graph], module: torch.nn.Module) -> Tuple[str, ...]:
    """Names, in ``module``'s graph, of the calls the ONNX nodes translate.

    ``traced`` is the graph the ONNX exporter translated (its
    ``exported_program.graph``), traced from ``module``.
    """
    graph = getattr(module, "graph", None)
    if graph is None:
        return ()
    wanted = {n.name for n in graph.nodes if n.op == "call_function"}
    by_name: Dict[str, torch.fx.Node] = {n.name: n for n in traced.nodes} if traced is not None else {}
    found: List[str] = []
    seen: Set[str] = set()
    for onnx_node in onnx_nodes:
        scope = _scope_name(onnx_node)
        if scope is None:
            continue
        candidates = [scope] + (_origins(by_name[scope]) if scope in by_name else [])
        name = next((c for c in candidates if c in wanted), None)
        if name is not None and name not in seen:
            seen.add(name)
            found.append(name)
    return tuple(found)


def first_failing_prefix(length: int, fails: Callable[[int], bool]) -> int:
    """The shortest prefix ``1..length`` of the graph's nodes whose build
    ``fails``, given that the whole graph's does; its last node is the culprit.
    Binary search: about log2(length) builds."""
    low, high = 1, length
    while low < high:
        middle = (low + high) // 2
        if fails(middle):
            high = middle
        else:
            low = middle + 1
    return high


def prefix_model(model: Any, length: int) -> Any:
    """A copy of ONNX ``model`` with its first ``length`` nodes, returning every
    value of theirs that later nodes or the graph's outputs use."""
    prefix = type(model)()
    prefix.CopyFrom(model)
    graph = prefix.graph
    later = {name for node in model.graph.node[length:] for name in node.input}
    later |= {value.name for value in model.graph.output}
    kept = [name for node in model.graph.node[:length] for name in node.output if name and name in later]
    known = {value.name: value for value in (*model.graph.value_info, *model.graph.output)}
    del graph.node[length:]
    del graph.output[:]
    for name in kept:
        output = graph.output.add()
        if name in known:
            output.CopyFrom(known[name])
        else:
            output.name = name
    return prefix

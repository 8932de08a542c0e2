"""``aten.copy(self, src)`` with a ``src`` of another shape (``y[:, 0] = 0.0``).

``copy`` broadcasts ``src`` to ``self``'s shape, but the ONNX translation
(onnxscript's ``aten_copy``: ``CastLike(src, self)``) keeps ``src``'s shape,
so a partition whose output is such a copy gives TensorRT a network output of
the wrong shape (``y[:, 0] = 0.0`` on a ``[2, 8]`` tensor: ``[]`` instead of
``[2]``), and one that uses it inside computes on the wrong shape. Before
partitioning, each such ``src`` is expanded to ``self``'s shape, which every
consumer (TensorRT, ONNX Runtime, ExecuTorch's kernels) reads the same way.
"""

from __future__ import annotations

from typing import List, Union

import torch
from executorch.exir.dialects._ops import ops as exir_ops
from torch.fx.passes.infra.pass_base import PassResult

__all__ = ["broadcast_copy_sources"]

_COPY = exir_ops.edge.aten.copy.default
_EXPAND = exir_ops.edge.aten.expand_copy.default
_SYM_SIZE = torch.ops.aten.sym_size.int


def broadcast_copy_sources(graph_module: torch.fx.GraphModule) -> PassResult:
    """Routes every ``copy``'s ``src`` whose shape differs from ``self``'s through an ``expand_copy``."""
    graph = graph_module.graph
    changed = False
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target != _COPY or len(node.args) < 2:
            continue
        target, source = node.args[0], node.args[1]
        if not isinstance(target, torch.fx.Node) or not isinstance(source, torch.fx.Node):
            continue
        want, have = target.meta.get("val"), source.meta.get("val")
        if not isinstance(want, torch.Tensor) or not isinstance(have, torch.Tensor):
            continue
        if have.dim() == want.dim() and all(_same(a, b) for a, b in zip(have.shape, want.shape)):
            continue
        with graph.inserting_before(node):
            sizes = _sizes(graph, target, want)
            expanded = graph.call_function(_EXPAND, (source, sizes))
        expanded.meta = {**source.meta, "val": _expand_like(have, want)}
        node.replace_input_with(source, expanded)
        changed = True
    if changed:
        graph_module.recompile()
    return PassResult(graph_module, changed)


def _same(a: Union[int, torch.SymInt], b: Union[int, torch.SymInt]) -> bool:
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return str(a) == str(b)  # symbolic sizes: the same expression (no guard added)


def _sizes(graph: torch.fx.Graph, target: torch.fx.Node, want: torch.Tensor) -> List[Union[int, torch.fx.Node]]:
    """``want``'s shape as ``expand_copy``'s sizes: ints, and ``sym_size`` nodes for dynamic dimensions."""
    sizes: List[Union[int, torch.fx.Node]] = []
    for dim, size in enumerate(want.shape):
        if isinstance(size, int):
            sizes.append(size)
            continue
        node = graph.call_function(_SYM_SIZE, (target, dim))
        node.meta = {"val": size}
        sizes.append(node)
    return sizes


def _expand_like(have: torch.Tensor, want: torch.Tensor) -> torch.Tensor:
    fake_mode = getattr(have, "fake_mode", None)
    if fake_mode is None:
        return have.expand(want.shape).clone()
    with fake_mode:
        return have.expand(want.shape).clone()

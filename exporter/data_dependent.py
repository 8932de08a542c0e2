"""Outputs whose shape is known only after the run (``torch.nonzero``).

torch gives nonzero's ``[count, rank]`` result column-major strides, and
ExecuTorch plans it with dim order ``[1, 0]`` while every kernel and engine
(ExecuTorch's own nonzero kernel, TensorRT's NonZero) writes it row-major.
Before partitioning, each nonzero result therefore goes through a clone to
the contiguous dim order, so the tensor that leaves a TensorRT partition (or
reaches the next operator) is row-major like the bytes in it; a builder takes
the clone with the nonzero (tests/engine/test_engine_builder.py does).

torch.export also checks the count against its bounds (``u0 <= 32``) with
runtime asserts on its size. ExecuTorch removes them in to_executorch
(RemoveGraphAssertsPass); the exporter runs that pass before partitioning
instead, so the size check is no CPU user of the delegate's output (which
would add a copy of it to the host) and the delegate enforces the bound.
"""

from __future__ import annotations

from typing import Dict, Iterable

import torch
from executorch.exir.dialects._ops import ops as exir_ops
from executorch.exir.passes.remove_graph_asserts_pass import RemoveGraphAssertsPass
from torch.fx.passes.infra.pass_base import PassResult

__all__ = ["RemoveGraphAssertsPass", "row_major_nonzero", "with_nonzero_copies"]

_NONZERO = (exir_ops.edge.aten.nonzero.default, torch.ops.aten.nonzero.default)
_ROW_MAJOR_COPY = exir_ops.edge.dim_order_ops._clone_dim_order.default


def row_major_nonzero(graph_module: torch.fx.GraphModule) -> PassResult:
    """Routes every nonzero result through a clone to the contiguous dim order."""
    graph = graph_module.graph
    changed = False
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target not in _NONZERO:
            continue
        value = node.meta.get("val")
        if not isinstance(value, torch.Tensor):
            continue
        with graph.inserting_after(node):
            clone = graph.call_function(
                _ROW_MAJOR_COPY,
                (node,),
                {"dim_order": list(range(value.dim()))},
            )
        clone.meta = {**node.meta, "val": _contiguous_like(value)}
        node.replace_all_uses_with(clone, delete_user_cb=lambda user: user is not clone)
        changed = True
    if changed:
        graph_module.recompile()
    return PassResult(graph_module, changed)


def _contiguous_like(value: torch.Tensor) -> torch.Tensor:
    fake_mode = getattr(value, "fake_mode", None)
    if fake_mode is None:
        return value.clone(memory_format=torch.contiguous_format)
    with fake_mode:
        return value.clone(memory_format=torch.contiguous_format)


def with_nonzero_copies(reasons: Dict[str, str], nodes: Iterable[torch.fx.Node]) -> Dict[str, str]:
    """``reasons`` (node name -> why a builder refuses it) plus the row-major
    copy of each refused nonzero: alone in a partition it would take a
    column-major input (TensorRT-RTX's ONNX parser has no NonZero)."""
    out = dict(reasons)
    for node in nodes:
        source = node.args[0] if node.target == _ROW_MAJOR_COPY and node.args else None
        if isinstance(source, torch.fx.Node) and source.target in _NONZERO and source.name in reasons:
            out.setdefault(node.name, f"the row-major copy of {source.name}, which stays on the CPU")
    return out

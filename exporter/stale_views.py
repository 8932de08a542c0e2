"""``view`` nodes that stop being valid when ExecuTorch decomposes the graph.

``torch.export`` records ``x.reshape(...)`` / ``.contiguous()`` as a plain
``view`` when the strides it sees at trace time allow one. ExecuTorch's
``to_edge`` then decomposes operators to core ATen, and some decompositions
give other strides than the operator's own meta function: with a dynamic
dimension, ``scaled_dot_product_attention`` followed by
``transpose(1, 2).reshape(...)`` and a ``view`` (GPT-2's attention, a dynamic
batch) fails with "Cannot view a tensor with shape ... and strides ...".

The exporter then retries once with every ``view`` of the exported graph
replaced by ``reshape`` (equal values; a copy only where the strides need
one) and decomposed to core ATen in one trace, so each reshape is resolved
against the strides the decomposed operators give. That is only done in a
graph without in-place operators, where no view is written through;
otherwise, or if the retry fails too, the error says what to change.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional

import torch
from torch.export import ExportedProgram

__all__ = ["is_stale_view_error", "stale_view_message", "views_as_reshapes"]

_VIEW = torch.ops.aten.view.default
_RESHAPE = torch.ops.aten.reshape.default


def is_stale_view_error(error: BaseException) -> bool:
    text = str(error)
    return isinstance(error, (ValueError, RuntimeError)) and "Cannot view a tensor with shape" in text


def _writes_in_place(graph: torch.fx.Graph) -> bool:
    for node in graph.nodes:
        schema = getattr(node.target, "_schema", None) if node.op == "call_function" else None
        if schema is not None and schema.is_mutable:
            return True
    return False


def views_as_reshapes(programs: Mapping[str, ExportedProgram]) -> Optional[Dict[str, ExportedProgram]]:
    """Copies of ``programs`` with each ``aten.view`` as ``aten.reshape``; None when a
    graph writes in place (a view may be written through) or has no view."""
    if any(_writes_in_place(p.graph) for p in programs.values()):
        return None
    changed: Dict[str, ExportedProgram] = {}
    count = 0
    for name, program in programs.items():
        graph = torch.fx.Graph()
        graph.output(graph.graph_copy(program.graph, {}))  # same names; node meta shared
        for node in graph.nodes:
            if node.op == "call_function" and node.target == _VIEW:
                node.target = _RESHAPE
                count += 1
        module = torch.fx.GraphModule(program.graph_module, graph)  # the same weights, a new graph
        # Decomposed here in one trace, each reshape is resolved against the strides
        # the decomposed operators give (ExecuTorch's own first pass would turn it
        # back into the view that fails).
        changed[name] = program._update(module, program.graph_signature).run_decompositions()
    return changed if count else None


def stale_view_message(error: BaseException) -> str:
    return (
        "ExecuTorch's decomposition to core ATen (to_edge) could not keep a view that torch.export recorded "
        "(known with scaled_dot_product_attention followed by transpose/reshape/view and a dynamic dimension); "
        "the exporter's retry with views as reshapes was not possible (the graph writes in place) or failed too. "
        "Make that dimension static, use .reshape instead of .view after the attention (for Hugging Face models, "
        f"attn_implementation='eager'), or keep the attention out of the dynamic part. torch said: {error}"
    )

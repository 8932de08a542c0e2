"""Every operator left on the CPU must have a kernel where the program runs.

ExecuTorch runs an operator outside a delegate through the out-variant
kernel registered under its name (``aten::sigmoid.out``). Our loaders and
runner link ExecuTorch's kernel library (``libexecutorch_kernels_optimized``,
with the portable kernels under it), the same one that importing
``executorch.extension.pybindings.portable_lib`` registers in this process, so
its operator names are the kernels a program written here will find. An
operator without one fails every load with ``OperatorMissing``; the exporter
checks before writing the file instead.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import FrozenSet, Iterable, List, Mapping, Optional

import torch
from executorch.exir.operator.convert import to_out_variant
from executorch.exir.passes import to_out_var_skiplist

from .op_selection import op_label


@dataclass(frozen=True)
class MissingKernel:
    node: str
    op: str  # the operator as the graph calls it, e.g. aten::sort.default
    kernel: str  # the out variant the runtime would look up; '' when the op has none
    source: str = ""


@functools.lru_cache(maxsize=1)
def runtime_kernels() -> FrozenSet[str]:
    """Operator names with a kernel in ExecuTorch's kernel library."""
    # Loaded on first use, not at import: it loads ExecuTorch's runtime and kernels.
    from executorch.extension.pybindings import portable_lib

    return frozenset(portable_lib._get_operator_names())


def out_variant_name(target: object) -> Optional[str]:
    """``aten::sort.values`` for ``aten.sort.default``; None when the operator has no out variant."""
    try:
        # ExecuTorch's EdgeOpOverload converts itself; a plain OpOverload goes through the table.
        convert = getattr(target, "to_out_variant", None)
        out = convert() if convert is not None else to_out_variant(target)[0]  # type: ignore[arg-type]
    except (RuntimeError, AssertionError, KeyError):
        return None
    return f"{out._schema.name}.{out._schema.overload_name}" if out._schema.overload_name else out._schema.name


def _runs_on_cpu_kernel(node: torch.fx.Node) -> bool:
    target = node.target
    if node.op != "call_function" or target in to_out_var_skiplist:
        return False
    # Python arithmetic on sizes becomes ExecuTorch's own prim ops.
    return getattr(target, "__module__", None) not in ("builtins", "_operator")


def missing_kernels(
    graphs: Iterable[torch.fx.Graph], kernels: FrozenSet[str], sources: Mapping[str, str] = {}
) -> List[MissingKernel]:
    """The operators of ``graphs`` (outside delegates) with no kernel in ``kernels``, one per node."""
    missing: List[MissingKernel] = []
    for graph in graphs:
        for node in graph.nodes:
            if not _runs_on_cpu_kernel(node):
                continue
            name = out_variant_name(node.target)
            if name is None or name not in kernels:
                missing.append(MissingKernel(node.name, op_label(node), name or "", sources.get(node.name, "")))
    return missing


def _remedy(missing: MissingKernel, reason: str) -> str:
    if not missing.kernel:
        namespace, _, name = missing.op.partition("::")
        base = name.split(".")[0]
        return (
            f"it has no out variant, which ExecuTorch needs to run it: register one, e.g. "
            f"torch.library.custom_op(\"{namespace}::{base}.out\", mutates_args=(\"out\",)) taking the same "
            "arguments plus `out`, and an ExecuTorch kernel for it in the runtime "
            f"(EXECUTORCH_LIBRARY({namespace}, \"{base}.out\", ...)); or make TensorRT run it"
        )
    hint = (
        "remove it from torch_executed_ops so TensorRT runs it"
        if reason.startswith("kept on the CPU by torch_executed_ops")
        else "rewrite that part of the model with operators ExecuTorch has kernels for"
    )
    return (
        f"ExecuTorch's kernel library has no kernel {missing.kernel} for it; {hint}, "
        "or link a kernel library that registers it into the runtime"
    )


def missing_kernels_message(missing: List[MissingKernel], reasons: Mapping[str, str]) -> str:
    """The export error: each operator, why it is on the CPU, and what to do."""
    lines = []
    for item in missing:
        where = f" at {item.source}" if item.source else ""
        why = reasons.get(item.node, "")
        because = f" (on the CPU because: {why})" if why else ""
        lines.append(f"  {item.op} ({item.node}{where}){because}: {_remedy(item, why)}")
    return (
        "the program would not load: operator(s) left on the CPU have no ExecuTorch kernel "
        "(every loader would fail with OperatorMissing):\n" + "\n".join(lines)
    )

"""Which parts of an edge program go to TensorRT, and why the rest stays on the CPU.

Support is decided per node by the chosen engine builder (for TensorRT: its
ONNX parser's support query, see ``builders/node_support.py``), minus the
operators the user keeps on the CPU (``torch_executed_ops``). Supported nodes
are grouped into partitions by ``CapabilityBasedPartitioner``; partitions with
fewer than ``min_block_size`` operators stay on the CPU too.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import torch
from executorch.exir.backend.partitioner import DelegationSpec, Partitioner, PartitionResult
from executorch.exir.backend.utils import get_non_lowered_nodes, tag_constant_data
from torch.export import ExportedProgram
from torch.fx.passes.infra.partitioner import CapabilityBasedPartitioner
from torch.fx.passes.operator_support import OperatorSupportBase

from .backend_details import ExecutorchTensorRTBackend
from .build_records import expect_engines
from .builders import get_engine_builder
from .compile_specs import TensorRTCompileSpec, check_int
from .op_selection import OpLike, is_selected, normalize_ops, op_label

REASON_USER = "kept on the CPU by torch_executed_ops"


@dataclass(frozen=True)
class CpuNode:
    name: str
    op: str
    reason: str


@dataclass
class PartitionReport:
    """What ``partition`` decided; read by ``save``'s summary."""

    engines: List[List[str]] = field(default_factory=list)  # per partition: its operators
    cpu_nodes: List[CpuNode] = field(default_factory=list)


class _Supported(OperatorSupportBase):
    def __init__(self, supported: "set[torch.fx.Node]") -> None:
        super().__init__()
        self._supported = supported

    def is_node_supported(self, submodules: Mapping[str, torch.nn.Module], node: torch.fx.Node) -> bool:
        return node in self._supported


def _counts_toward_block(node: torch.fx.Node) -> bool:
    # Tuple unpacking is bookkeeping, not work TensorRT does.
    return node.target is not operator.getitem


def _refusals(
    program: ExportedProgram, candidates: List[torch.fx.Node], spec: TensorRTCompileSpec, user_ops: frozenset
) -> Dict[torch.fx.Node, str]:
    reasons: Dict[torch.fx.Node, str] = {n: REASON_USER for n in candidates if is_selected(n, user_ops)}
    # Tuple elements are asked about too: they carry the results of the
    # tuple-producing node (layer norm, max pool with indices) to the probe.
    asked = [n for n in candidates if n not in reasons]
    builder = get_engine_builder(spec.engine_builder)
    query = getattr(builder, "unsupported_nodes", None)
    if callable(query) and asked:
        by_name = {n.name: n for n in asked}
        for name, reason in query(program, asked, spec).items():
            if name in by_name:
                reasons[by_name[name]] = reason
    # A tuple element lives where the node producing the tuple does, and a
    # refused element means its producer is refused.
    for node in candidates:
        if node.target is operator.getitem and node in reasons:
            reasons.setdefault(node.args[0], reasons[node])  # type: ignore[arg-type]
    for node in candidates:
        if node.target is operator.getitem and node.args[0] in reasons:
            reasons[node] = reasons[node.args[0]]  # type: ignore[index]
    return reasons


class TensorRTPartitioner(Partitioner):
    """Tags the operators TensorRT accepts for ``ExecutorchTensorRTBackend``."""

    def __init__(
        self,
        compile_spec: Optional[TensorRTCompileSpec] = None,
        torch_executed_ops: Iterable[OpLike] = (),
        min_block_size: int = 1,
    ) -> None:
        if compile_spec is None:
            compile_spec = TensorRTCompileSpec()
        if not isinstance(compile_spec, TensorRTCompileSpec):
            raise TypeError(f"compile_spec must be a TensorRTCompileSpec, got {type(compile_spec).__name__}")
        check_int("min_block_size", min_block_size, 2**31 - 1, lower=1)
        super().__init__()
        self.compile_spec = compile_spec
        self.torch_executed_ops = normalize_ops(torch_executed_ops)
        self.min_block_size = min_block_size
        self.delegation_spec = DelegationSpec(ExecutorchTensorRTBackend.__name__, compile_spec.to_compile_specs())
        self.report = PartitionReport()

    def partition(self, exported_program: ExportedProgram) -> PartitionResult:
        graph_module = exported_program.graph_module
        if not any(node.op == "call_function" for node in graph_module.graph.nodes):
            raise ValueError(
                "nothing to delegate to TensorRT: the exported graph has no operators "
                "(it only returns its inputs or constants)"
            )
        # Nodes another partitioner already lowered are not ours to take.
        candidates = [n for n in get_non_lowered_nodes(graph_module.graph) if n.op == "call_function"]
        reasons = _refusals(exported_program, candidates, self.compile_spec, self.torch_executed_ops)
        supported = {n for n in candidates if n not in reasons}
        order = {n: i for i, n in enumerate(candidates)}
        partitioner = CapabilityBasedPartitioner(graph_module, _Supported(supported), allows_single_node_partition=True)
        self.report = PartitionReport()
        partition_tags: Dict[str, DelegationSpec] = {}
        # In graph order, so tag k is the k-th engine the method calls.
        proposed = [sorted(p.nodes, key=order.__getitem__) for p in partitioner.propose_partitions()]
        for nodes in sorted(proposed, key=lambda nodes: order[nodes[0]]):
            work = [n for n in nodes if _counts_toward_block(n)]
            if len(work) < self.min_block_size:
                for node in nodes:
                    reasons[node] = (
                        f"in a TensorRT block of {len(work)} operator(s) < min_block_size={self.min_block_size}"
                    )
                continue
            tag = f"tensorrt_{len(partition_tags)}"
            partition_tags[tag] = self.delegation_spec
            self.report.engines.append([op_label(n) for n in work])
            for node in nodes:
                node.meta["delegation_tag"] = tag
        self.report.cpu_nodes = [
            CpuNode(n.name, op_label(n), reasons[n]) for n in candidates if n in reasons and _counts_toward_block(n)
        ]
        if not partition_tags:
            raise ValueError(_nothing_left_message(self.report.cpu_nodes))
        expect_engines(len(partition_tags))
        # Weights used only inside a partition move into it, so TensorRT
        # embeds them in the engine instead of the .pte keeping a copy.
        tag_constant_data(exported_program)
        return PartitionResult(tagged_exported_program=exported_program, partition_tags=partition_tags)


def _nothing_left_message(cpu_nodes: List[CpuNode]) -> str:
    shown = cpu_nodes[:10]
    lines = [f"  {n.name} ({n.op}): {n.reason}" for n in shown]
    if len(cpu_nodes) > len(shown):
        lines.append(f"  ... and {len(cpu_nodes) - len(shown)} more")
    return (
        "nothing to delegate to TensorRT: every operator stays on the CPU; change the model, "
        "torch_executed_ops or min_block_size:\n" + "\n".join(lines)
    )


def summarize_cpu_nodes(cpu_nodes: List[CpuNode]) -> List[Tuple[str, int, str]]:
    """``(op, count, reason)`` per distinct operator and reason, for summaries."""
    counts: Dict[Tuple[str, str], int] = {}
    for node in cpu_nodes:
        counts[(node.op, node.reason)] = counts.get((node.op, node.reason), 0) + 1
    return [(op, count, reason) for (op, reason), count in counts.items()]

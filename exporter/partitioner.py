"""Which parts of an edge program go to TensorRT."""

from __future__ import annotations

from typing import Dict, Mapping, Optional

import torch
from executorch.exir.backend.partitioner import DelegationSpec, Partitioner, PartitionResult
from executorch.exir.backend.utils import get_non_lowered_nodes, tag_constant_data
from torch.export import ExportedProgram
from torch.fx.passes.infra.partitioner import CapabilityBasedPartitioner
from torch.fx.passes.operator_support import OperatorSupportBase

from .backend_details import ExecutorchTensorRTBackend
from .compile_specs import TensorRTCompileSpec


class TensorRTOperatorSupport(OperatorSupportBase):
    """Every operator not yet claimed by another delegate.

    Per-operator support (what the ONNX exporter and TensorRT can take) comes
    later; for now the whole graph becomes one engine.
    """

    def __init__(self, candidates: "set[torch.fx.Node]") -> None:
        super().__init__()
        self._candidates = candidates

    def is_node_supported(self, submodules: Mapping[str, torch.nn.Module], node: torch.fx.Node) -> bool:
        return node.op == "call_function" and node in self._candidates


class TensorRTPartitioner(Partitioner):
    """Tags the program's operators for ``ExecutorchTensorRTBackend``."""

    def __init__(self, compile_spec: Optional[TensorRTCompileSpec] = None) -> None:
        if compile_spec is None:
            compile_spec = TensorRTCompileSpec()
        if not isinstance(compile_spec, TensorRTCompileSpec):
            raise TypeError(f"compile_spec must be a TensorRTCompileSpec, got {type(compile_spec).__name__}")
        super().__init__()
        self.compile_spec = compile_spec
        self.delegation_spec = DelegationSpec(ExecutorchTensorRTBackend.__name__, compile_spec.to_compile_specs())

    def partition(self, exported_program: ExportedProgram) -> PartitionResult:
        graph_module = exported_program.graph_module
        if not any(node.op == "call_function" for node in graph_module.graph.nodes):
            raise ValueError(
                "nothing to delegate to TensorRT: the exported graph has no operators "
                "(it only returns its inputs or constants)"
            )
        # Nodes another partitioner already lowered are not ours to take.
        candidates = set(get_non_lowered_nodes(graph_module.graph))
        partitioner = CapabilityBasedPartitioner(
            graph_module, TensorRTOperatorSupport(candidates), allows_single_node_partition=True
        )
        partition_tags: Dict[str, DelegationSpec] = {}
        for partition in partitioner.propose_partitions():
            tag = f"tensorrt_{partition.id}"
            partition_tags[tag] = self.delegation_spec
            for node in partition.nodes:
                node.meta["delegation_tag"] = tag
        # Weights used only inside a partition move into it, so TensorRT
        # embeds them in the engine instead of the .pte keeping a copy.
        tag_constant_data(exported_program)
        return PartitionResult(tagged_exported_program=exported_program, partition_tags=partition_tags)

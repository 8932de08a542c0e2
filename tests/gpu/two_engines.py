"""A partitioner that splits a graph's ops into two back-to-back delegates:
the programs of device planning between delegates, on the CPU test engine
(tests/test_execute_device_planning.py) and on the GPU double (make_programs.py)."""

from __future__ import annotations

from executorch.exir.backend.partitioner import DelegationSpec, Partitioner, PartitionResult
from executorch_tensorrt.exporter import TensorRTCompileSpec
from executorch_tensorrt.exporter.delegates import BACKEND_ID
from executorch_tensorrt.exporter.device_planning import on_device


class TwoEnginePartitioner(Partitioner):
    """Splits the ops into two back-to-back delegates (first half, second half)."""

    def __init__(self, spec: TensorRTCompileSpec, device_planning: bool = False) -> None:
        super().__init__()
        specs = spec.to_compile_specs()
        self.delegation_spec = DelegationSpec(
            BACKEND_ID, on_device(specs, spec.device_index) if device_planning else specs
        )

    def partition(self, exported_program):  # type: ignore[no-untyped-def]
        ops = [n for n in exported_program.graph_module.graph.nodes if n.op == "call_function"]
        for index, node in enumerate(ops):
            node.meta["delegation_tag"] = "first" if index < len(ops) // 2 else "second"
        tags = {"first": self.delegation_spec, "second": self.delegation_spec}
        return PartitionResult(tagged_exported_program=exported_program, partition_tags=tags)

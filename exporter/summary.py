"""The end-of-export summary: engines, their sizes, and what stayed on the CPU and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Sequence

from .delegates import EngineBuildRecord
from .partitioner import CpuNode, PartitionReport, summarize_cpu_nodes


@dataclass(frozen=True)
class ExportSummary:
    engines: List[EngineBuildRecord] = field(default_factory=list)
    engine_operators: List[List[str]] = field(default_factory=list)
    cpu_nodes: List[CpuNode] = field(default_factory=list)
    # Operators moved to the CPU because TensorRT refused to build them.
    fallbacks: List[CpuNode] = field(default_factory=list)

    @classmethod
    def of(cls, records: Sequence[EngineBuildRecord], report: PartitionReport) -> "ExportSummary":
        return cls(list(records), [list(ops) for ops in report.engines], list(report.cpu_nodes), list(report.fallbacks))

    def format(self) -> str:
        lines = [f"{len(self.engines)} TensorRT engine(s), {len(self.cpu_nodes)} operator(s) on the CPU"]
        for index, record in enumerate(self.engines):
            ops = self.engine_operators[index] if index < len(self.engine_operators) else []
            lines.append(
                f"  engine {index}: {record.engine_bytes:,} bytes ({record.weight_bytes:,} of weights), "
                f"{record.flavour} via {record.builder}, {record.num_profiles} profile(s), "
                f"{len(ops)} operator(s), built in {record.seconds:.2f} s"
            )
            if len(record.engines) > 1:
                for k, engine in enumerate(record.engines):
                    need = (
                        f"{engine.execution_memory_bytes:,} bytes"
                        if engine.execution_memory_bytes >= 0
                        else "known at load"
                    )
                    lines.append(
                        f"    range engine {k}: {engine.ranges}; {engine.engine_bytes:,} bytes, execution memory {need}"
                    )
        moved = {n.name for n in self.fallbacks}
        for op, count, reason in summarize_cpu_nodes([n for n in self.cpu_nodes if n.name not in moved]):
            lines.append(f"  on the CPU: {op} x{count}: {reason}")
        for node in self.fallbacks:
            where = f" at {node.source}" if node.source else ""
            lines.append(f"  moved to the CPU: {node.op}{where}: {node.reason}")
        return "\n".join(lines)

"""The end-of-export summary: engines, their sizes, and what stayed on the CPU and why."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import List, Optional, Sequence

from .delegates import EngineBuildRecord
from .partitioner import CpuNode, PartitionReport, summarize_cpu_nodes
from .validate import ValidationReport


@dataclass(frozen=True)
class PhaseSeconds:
    """Wall seconds of each phase of one export."""

    torch_export: float = 0.0
    partitioning: float = 0.0  # includes the TensorRT parser's support query (an ONNX export of the graph)
    onnx_export: float = 0.0  # the partitions' ONNX, for TensorRT's parser
    tensorrt_build: float = 0.0  # parsing the ONNX and building the engines
    executorch_lowering: float = 0.0  # to_edge and delegate lowering, less the three above
    fallback_rounds: float = 0.0  # partition-and-build rounds redone after TensorRT refused a node
    emit: float = 0.0  # to_executorch: memory planning and serialization
    validation: float = 0.0
    write: float = 0.0

    @property
    def total(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self))

    @property
    def outside_builder(self) -> float:
        return self.total - self.tensorrt_build

    def format(self) -> str:
        parts = [f"{f.name.replace('_', ' ')} {getattr(self, f.name):.2f}" for f in fields(self) if getattr(self, f.name)]
        return (
            f"phases (s): {', '.join(parts)}; total {self.total:.2f}, "
            f"outside the TensorRT builder {self.outside_builder:.2f}"
        )


@dataclass(frozen=True)
class ExportSummary:
    engines: List[EngineBuildRecord] = field(default_factory=list)
    engine_operators: List[List[str]] = field(default_factory=list)
    cpu_nodes: List[CpuNode] = field(default_factory=list)
    # Operators moved to the CPU because TensorRT refused to build them.
    fallbacks: List[CpuNode] = field(default_factory=list)
    phases: PhaseSeconds = field(default_factory=PhaseSeconds)
    validation: Optional[ValidationReport] = None  # with validate=True or keep_onnx

    @classmethod
    def of(
        cls,
        records: Sequence[EngineBuildRecord],
        report: PartitionReport,
        phases: PhaseSeconds,
        validation: Optional[ValidationReport],
    ) -> "ExportSummary":
        operators = [list(ops) for ops in report.engines]
        return cls(list(records), operators, list(report.cpu_nodes), list(report.fallbacks), phases, validation)

    def format(self) -> str:
        lines = [f"{len(self.engines)} TensorRT engine(s), {len(self.cpu_nodes)} operator(s) on the CPU"]
        for index, record in enumerate(self.engines):
            ops = self.engine_operators[index] if index < len(self.engine_operators) else []
            external = (
                f", {record.kept_weights.count} external weights ({record.kept_weights.nbytes:,} bytes) in the .ptd"
                + (f", {record.kept_weights.how}" if record.kept_weights.as_inputs else "")
                if record.kept_weights.count
                else ""
            )
            lines.append(
                f"  engine {index}: {record.engine_bytes:,} bytes ({record.weight_bytes:,} of weights{external}), "
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
            for state in record.states:
                lines.append(f"    owns state {state.describe()}, kept and updated on the device")
        moved = {n.name for n in self.fallbacks}
        for op, count, reason in summarize_cpu_nodes([n for n in self.cpu_nodes if n.name not in moved]):
            lines.append(f"  on the CPU: {op} x{count}: {reason}")
        for node in self.fallbacks:
            where = f" at {node.source}" if node.source else ""
            lines.append(f"  moved to the CPU: {node.op}{where}: {node.reason}")
        if self.phases.total:
            lines.append(f"  {self.phases.format()}")
        if self.validation is not None:
            lines += [f"  {line}" for line in self.validation.format_lines()]
        return "\n".join(lines)

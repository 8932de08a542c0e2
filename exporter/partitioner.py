"""Which parts of an edge program go to TensorRT, and why the rest stays on the CPU.

Support is decided per node by the chosen engine builder (for TensorRT: its
ONNX parser's support query, see ``builders/node_support.py``), minus the
operators the user keeps on the CPU (``torch_executed_ops``) and those a
failed build moved there (``cpu_fallback``). Supported nodes are grouped into
partitions by ``CapabilityBasedPartitioner``; partitions with fewer than
``min_block_size`` operators stay on the CPU too, unless they hold a node that
must stay on TensorRT (``keep_on_tensorrt``: no CPU kernel exists for it).
Each partition then gets its own compile specs, with the program-level values
decided (``program_policies``).
"""

from __future__ import annotations

import contextlib
import json
import operator
import time
from dataclasses import dataclass, field
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Set, Tuple

import torch
from torch._subclasses.fake_tensor import FakeTensor
from executorch.exir.backend.partitioner import DelegationSpec, Partitioner, PartitionResult
from executorch.exir.backend.utils import get_non_lowered_nodes, tag_constant_data
from torch.export import ExportedProgram
from torch.fx.passes.infra.partitioner import CapabilityBasedPartitioner
from torch.fx.passes.operator_support import OperatorSupportBase

from .backend_details import ExecutorchTensorRTBackend
from .builders import get_engine_builder
from ..option_table import BY_KEY, KEY_MIN_BLOCK_SIZE, KEY_WEIGHT_STREAMING_BUDGET_TOTAL
from .compile_specs import KEY_DIM_NAMES, KEY_INPUT_NAMES, TensorRTCompileSpec, check_option
from .control_flow import control_flow_refusals
from .device_planning import on_device
from .engine_ranges import profile_groups
from .export_options import dim_names
from .io_specs import delegate_profiles
from .op_selection import OpLike, is_selected, normalize_ops, op_label
from .program_policies import delegate_overrides, partition_tag, with_overrides
from .state import tag_owned_state

REASON_USER = "kept on the CPU by torch_executed_ops"


@dataclass(frozen=True)
class CpuNode:
    name: str
    op: str
    reason: str
    source: str = ""  # "file.py:12: code" where the graph recorded the user's line
    tensorrt_can_run: bool = False  # TensorRT accepts it; only min_block_size kept it off


def source_line(node: torch.fx.Node) -> str:
    """The user's line that made ``node`` (last frame of its stack trace), or ''."""
    trace = str(node.meta.get("stack_trace") or "").strip().splitlines()
    frames = [i for i, line in enumerate(trace) if line.strip().startswith("File ")]
    if not frames:
        return ""
    where = trace[frames[-1]].strip()
    code = trace[frames[-1] + 1].strip() if frames[-1] + 1 < len(trace) else ""
    parts = where.split('"')
    place = f"{parts[1]}:{where.split('line ')[-1].split(',')[0]}" if len(parts) > 2 and "line " in where else where
    return f"{place}: {code}" if code else place


@dataclass
class PartitionReport:
    """What ``partition`` decided; read by ``save``'s summary."""

    engines: List[List[str]] = field(default_factory=list)  # per partition: its operators
    cpu_nodes: List[CpuNode] = field(default_factory=list)
    # The nodes a failed TensorRT build moved to the CPU (also in cpu_nodes).
    fallbacks: List[CpuNode] = field(default_factory=list)
    seconds: float = 0.0  # spent deciding (the export summary's partitioning phase)
    owned_state: List[str] = field(default_factory=list)  # FQNs of the mutated buffers delegates own


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
    program: ExportedProgram,
    candidates: List[torch.fx.Node],
    spec: TensorRTCompileSpec,
    user_ops: frozenset,
    fallback: Mapping[str, str],
) -> Dict[torch.fx.Node, str]:
    reasons: Dict[torch.fx.Node, str] = {n: REASON_USER for n in candidates if is_selected(n, user_ops)}
    for node in candidates:
        if node.name in fallback:
            reasons.setdefault(node, fallback[node.name])
    for node, reason in control_flow_refusals(candidates).items():
        reasons.setdefault(node, reason)
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


@contextlib.contextmanager
def _real_weights(program: ExportedProgram, weights: Mapping[str, torch.Tensor]) -> Iterator[None]:
    """ExecuTorch partitions a copy of the program whose weights are fake
    tensors; while the support query runs, the real ones (same name, shape
    and dtype) stand in for them, so its ONNX can serve the builds too. The
    fakes are put back afterwards: the program is ExecuTorch's."""
    saved = []
    for table in (program.state_dict, program.constants):
        for name, fake in table.items():
            real = weights.get(name)
            if isinstance(fake, FakeTensor) and _same_kind(real, fake):
                saved.append((table, name, fake))
                table[name] = real
    try:
        yield
    finally:
        for table, name, fake in saved:
            table[name] = fake


def _same_kind(real: object, fake: torch.Tensor) -> bool:
    return isinstance(real, torch.Tensor) and not isinstance(real, FakeTensor) and (
        real.shape == fake.shape and real.dtype == fake.dtype
    )


class TensorRTPartitioner(Partitioner):
    """Tags the operators TensorRT accepts for ``ExecutorchTensorRTBackend``."""

    def __init__(
        self,
        compile_spec: Optional[TensorRTCompileSpec] = None,
        torch_executed_ops: Iterable[OpLike] = (),
        min_block_size: int = 1,
        weight_streaming_budget_total: Optional[int] = None,
        cpu_fallback: Optional[Mapping[str, str]] = None,
        keep_on_tensorrt: Iterable[str] = (),
        device_planning: bool = False,
        real_weights: Optional[Mapping[str, torch.Tensor]] = None,
    ) -> None:
        """``cpu_fallback``: ``{node name: reason}`` of nodes a failed build
        moved to the CPU; ``keep_on_tensorrt``: names of nodes no CPU kernel
        can run, delegated even in blocks under ``min_block_size``;
        ``real_weights``: the program's state dict and constants (ExecuTorch
        hands the partitioner fake weights), so the support query's ONNX can be the builds'."""
        if compile_spec is None:
            compile_spec = TensorRTCompileSpec()
        if not isinstance(compile_spec, TensorRTCompileSpec):
            raise TypeError(f"compile_spec must be a TensorRTCompileSpec, got {type(compile_spec).__name__}")
        check_option(BY_KEY[KEY_MIN_BLOCK_SIZE], min_block_size)
        check_option(BY_KEY[KEY_WEIGHT_STREAMING_BUDGET_TOTAL], weight_streaming_budget_total)
        super().__init__()
        self.compile_spec = compile_spec
        self.torch_executed_ops = normalize_ops(torch_executed_ops)
        self.min_block_size = min_block_size
        self.weight_streaming_budget_total = weight_streaming_budget_total
        self.cpu_fallback = dict(cpu_fallback or {})
        self.keep_on_tensorrt = frozenset(keep_on_tensorrt)
        self.device_planning = device_planning
        self.real_weights = real_weights or {}
        self.report = PartitionReport()

    def partition(self, exported_program: ExportedProgram) -> PartitionResult:
        started = time.perf_counter()
        graph_module = exported_program.graph_module
        if not any(node.op == "call_function" for node in graph_module.graph.nodes):
            raise ValueError(
                "nothing to delegate to TensorRT: the exported graph has no operators "
                "(it only returns its inputs or constants); such a program needs no TensorRT: write it with "
                "ExecuTorch directly (executorch.exir.to_edge(torch.export.export(model, inputs)).to_executorch())"
            )
        # Nodes another partitioner already lowered are not ours to take.
        candidates = [n for n in get_non_lowered_nodes(graph_module.graph) if n.op == "call_function"]
        with _real_weights(exported_program, self.real_weights):
            reasons = _refusals(
                exported_program, candidates, self.compile_spec, self.torch_executed_ops, self.cpu_fallback
            )
        supported = {n for n in candidates if n not in reasons}
        order = {n: i for i, n in enumerate(candidates)}
        partitioner = CapabilityBasedPartitioner(graph_module, _Supported(supported), allows_single_node_partition=True)
        self.report = PartitionReport()
        partitions: List[List[torch.fx.Node]] = []
        small: Set[torch.fx.Node] = set()
        # In graph order, so tag k is the k-th engine the method calls.
        proposed = [sorted(p.nodes, key=order.__getitem__) for p in partitioner.propose_partitions()]
        for nodes in sorted(proposed, key=lambda nodes: order[nodes[0]]):
            work = [n for n in nodes if _counts_toward_block(n)]
            needed = any(n.name in self.keep_on_tensorrt for n in nodes)
            if len(work) < self.min_block_size and not needed:
                small.update(nodes)
                for node in nodes:
                    reasons[node] = (
                        f"in a TensorRT block of {len(work)} operator(s) < min_block_size={self.min_block_size}"
                    )
                continue
            partitions.append(nodes)
            self.report.engines.append([op_label(n) for n in work])
        for index, nodes in enumerate(partitions):
            for node in nodes:
                node.meta["delegation_tag"] = partition_tag(index, len(partitions))
        self.report.cpu_nodes = [
            CpuNode(n.name, op_label(n), reasons[n], source_line(n), n in small)
            for n in candidates
            if n in reasons and _counts_toward_block(n)
        ]
        self.report.fallbacks = [n for n in self.report.cpu_nodes if n.name in self.cpu_fallback]
        if not partitions:
            raise ValueError(_nothing_left_message(self.report.cpu_nodes))
        # Weights used only inside a partition move into it, so TensorRT
        # embeds them in the engine instead of the .pte keeping a copy.
        tag_constant_data(exported_program)
        # Mutated buffers read and written only inside one partition go into
        # it, where the builder can build engines that update them (state.py).
        if getattr(get_engine_builder(self.compile_spec.engine_builder), "builds_state", False):
            self.report.owned_state = tag_owned_state(exported_program)
        tags = self._specs(exported_program, partitions)
        self.report.seconds = time.perf_counter() - started
        return PartitionResult(tagged_exported_program=exported_program, partition_tags=tags)

    def _specs(self, program: ExportedProgram, partitions: List[List[torch.fx.Node]]) -> Dict[str, DelegationSpec]:
        """Each partition's own compile specs, with the program-level values decided."""
        spec = self.compile_spec
        symbols = {s: name for name, found in dim_names(program).items() for s in found if s != name}
        partition_of = {n: index for index, nodes in enumerate(partitions) for n in nodes}
        owned = set(self.report.owned_state)
        state = {name for name, fqn in program.graph_signature.inputs_to_buffers.items() if fqn in owned}
        weights, engines, recorded = [], [], []
        for index, nodes in enumerate(partitions):
            inside = set(nodes)
            outside = {a for n in nodes for a in n.all_input_nodes if a not in inside}
            tag = partition_tag(index, len(partitions))
            # Constants tagged into the partition are what its engine embeds
            # (owned state is the delegate's device buffer, not weights).
            embedded = [a for a in outside if a.meta.get("delegation_tag") == tag and a.name not in state]
            weights.append(sum(_bytes(a) for a in embedded))
            values = [a.meta.get("val") for a in outside if a.meta.get("delegation_tag") != tag]
            profiles = delegate_profiles(values, spec.optimization_profiles)
            engines.append(len(profile_groups(len(profiles), spec.batch_engines)))
            names = {KEY_INPUT_NAMES: json.dumps(_input_names(program, nodes, tag, partition_of))}
            dims = {s: symbols[s] for p in profiles for s in p if s in symbols}
            if dims:
                names[KEY_DIM_NAMES] = json.dumps(dims, sort_keys=True)
            recorded.append(names)
        overrides = delegate_overrides(spec, weights, self.weight_streaming_budget_total, engines)
        backend = ExecutorchTensorRTBackend.__name__
        tags: Dict[str, DelegationSpec] = {}
        for index, values in enumerate(overrides):
            values.update(recorded[index])
            specs = with_overrides(spec, values)
            tags[partition_tag(index, len(partitions))] = DelegationSpec(
                backend, on_device(specs, spec.device_index) if self.device_planning else specs
            )
        return tags


def _input_names(
    program: ExportedProgram, nodes: List[torch.fx.Node], tag: str, partition_of: Mapping[torch.fx.Node, int]
) -> List[str]:
    """What each delegate input of the partition is to the user, in the order
    ExecuTorch passes them (first use in graph order, as ``fuse_as_graphmodule``
    makes the submodule's placeholders): the ``forward()`` argument (torch.export
    names user inputs after them), the parameter or buffer, or the operator
    (and delegate) whose output it is."""
    signature = program.graph_signature
    constants = {
        **signature.inputs_to_parameters,
        **signature.inputs_to_buffers,
        **signature.inputs_to_lifted_tensor_constants,
    }
    inside = set(nodes)
    seen: List[torch.fx.Node] = []
    for node in nodes:
        for arg in node.all_input_nodes:
            if arg not in inside and arg.meta.get("delegation_tag") != tag and arg not in seen:
                seen.append(arg)
    names = []
    for arg in seen:
        producer, suffix = (arg.args[0], f" {arg.args[1]}") if arg.target is operator.getitem else (arg, "")
        if arg.op == "placeholder":
            names.append(constants.get(arg.name, arg.name))
        elif producer in partition_of:
            names.append(f"delegate {partition_of[producer]}: {op_label(producer)} output{suffix}")  # type: ignore[index]
        else:
            names.append(f"{op_label(producer)} output{suffix}")  # type: ignore[arg-type]
    return names


def _bytes(node: torch.fx.Node) -> int:
    value = node.meta.get("val")
    return value.numel() * value.element_size() if isinstance(value, torch.Tensor) else 0


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

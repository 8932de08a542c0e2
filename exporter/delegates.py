"""The program's TensorRT delegates, in program order, and what each holds.

``tensorrt_delegates`` is the one finder of an exported program's delegates
(the export summary reads it; device planning and the program-level policies
need none, the partitioner sets them per partition). It walks methods in the
program's order and, inside a method, delegates in the order its graph calls
them, the order ``inspect`` reads a written program in (with ``BACKEND_ID``),
so "delegate k" means the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

from executorch.exir import EdgeProgramManager
from executorch.exir.lowered_backend_module import LoweredBackendModule

from . import blob
from .backend_details import DelegateBuildInfo, ExecutorchTensorRTBackend
from .engine_ranges import ranges_text
from .state_section import KeptWeights, StateSpec, states_and_weights

BACKEND_ID = ExecutorchTensorRTBackend.__name__
# Where ExecuTorch keeps PreprocessResult._delegate_info_meta on the lowered module.
_BUILD_INFO_KEY = "_delegate_info_meta"


def is_tensorrt_delegate(backend_id: str) -> bool:
    return backend_id == BACKEND_ID


def tensorrt_delegates(manager: EdgeProgramManager) -> List[LoweredBackendModule]:
    """The program's TensorRT lowered modules: methods in program order, each
    method's in the order its graph calls them."""
    found: List[LoweredBackendModule] = []
    for method in manager.methods:
        module = manager.exported_program(method).graph_module
        for node in module.graph.nodes:
            if node.op != "get_attr":
                continue
            lowered = getattr(module, str(node.target), None)
            if isinstance(lowered, LoweredBackendModule) and is_tensorrt_delegate(lowered.backend_id):
                found.append(lowered)
    return found


@dataclass(frozen=True)
class RangeEngineRecord:
    """One engine of a delegate (several with ``batch_engines="per_range"``)."""

    ranges: str  # the engine's input shape ranges, e.g. "input_0 [1, 4]..[8, 4]"
    engine_bytes: int
    execution_memory_bytes: int  # -1: known only at load


@dataclass(frozen=True)
class EngineBuildRecord:
    """What one TensorRT delegate of an exported program holds and cost to build."""

    builder: str
    flavour: str
    engine_bytes: int
    weight_bytes: int
    num_profiles: int
    seconds: float
    engines: Tuple[RangeEngineRecord, ...] = ()  # in blob order; engine_bytes is their sum
    onnx_seconds: float = 0.0  # of ``seconds``: the builder's conversion to ONNX
    states: Tuple[StateSpec, ...] = ()  # the mutable buffers the delegate owns (blob section ``state``)
    # Weights kept outside the engines, in the .ptd (external_weights=True).
    kept_weights: KeptWeights = KeptWeights()


def build_record(lowered: LoweredBackendModule) -> EngineBuildRecord:
    """The delegate's record: sizes and needs from its blob, builder and time
    from what ``preprocess`` returned beside it."""
    # A view: the engines are measured, not copied.
    entries, sections = blob.decode_delegate(memoryview(lowered.processed_bytes))
    states, weights = states_and_weights(sections, entries[0].blob.metadata)
    info = (lowered.meta or {}).get(_BUILD_INFO_KEY)
    if not isinstance(info, DelegateBuildInfo):
        raise RuntimeError(
            "a TensorRT delegate of the program was not lowered by this exporter's backend "
            "(lower models with save()/export() only)"
        )
    engines = tuple(
        RangeEngineRecord(ranges_text(e.blob.metadata.inputs), e.engine_bytes, e.execution_memory_bytes)
        for e in entries
    )
    return EngineBuildRecord(
        builder=info.builder,
        flavour=entries[0].blob.metadata.flavour.label,
        engine_bytes=sum(e.engine_bytes for e in engines),
        weight_bytes=info.weight_bytes,  # moves to the blob's per-engine field with the single blob format
        num_profiles=sum(e.blob.metadata.num_profiles for e in entries),
        seconds=info.seconds,
        engines=engines,
        onnx_seconds=info.onnx_seconds,
        states=states,
        kept_weights=weights,
    )

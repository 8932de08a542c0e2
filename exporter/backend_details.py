"""The ExecuTorch backend: edge program -> delegate blob (docs/blob_format.md:
one signature, one or more engines; ``batch_engines`` decides how many)."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, final

import torch
from executorch.exir.backend.backend_details import BackendDetails, PreprocessResult
from executorch.exir.backend.compile_spec_schema import CompileSpec
from executorch.exir._serialize._named_data_store import NamedDataStore
from torch.export import ExportedProgram

from . import blob
from .builders import BuiltEngine, EngineBuilder, EngineBuildError, EngineBuildRequest, get_engine_builder
from .compile_specs import TensorRTCompileSpec
from .device_planning import builder_specs
from .engine_ranges import ProfileGroup, ascending, engine_examples, profile_groups, select_profiles
from .external_weights import external_weights_section
from .io_specs import DelegateIO, derive_io, example_inputs, with_state_io
from .state import (
    OwnedState,
    builder_module,
    engine_weights,
    owned_states,
    state_input_name,
    state_output_name,
    state_specs,
)
from .state_section import encode_state_section
from .program_policies import partition_position

_LOG = logging.getLogger("executorch_tensorrt.exporter")


@dataclass(frozen=True)
class DelegateBuildInfo:
    """What ``preprocess`` learned building a delegate that its blob does not
    record; ExecuTorch keeps it as ``lowered_module.meta["_delegate_info_meta"]``
    (``PreprocessResult._delegate_info_meta``, not written to the ``.pte``)."""

    builder: str
    seconds: float
    # Bytes of weights one engine embeds: the builder's report, else the partition's constants.
    weight_bytes: int
    onnx_seconds: float = 0.0  # of ``seconds``: the builder's conversion to ONNX (BuiltEngine.onnx_seconds)


@final
class ExecutorchTensorRTBackend(BackendDetails):
    """ExecuTorch stores this class's *name* as the backend id in the ``.pte``;
    the C++ delegate registers under the same id (``backend/backend_id.h``).
    Do not rename it.

    ``preprocess`` takes everything from its compile specs (the partitioner
    gives each partition its own, with the program-level values already
    decided) and returns the blob plus a ``DelegateBuildInfo``; nothing flows
    back any other way.
    """

    @classmethod
    def copy_exported_program_for_preprocess(
        cls, edge_program: ExportedProgram, compile_specs: List[CompileSpec]
    ) -> ExportedProgram:
        """The partition's program itself: ``preprocess`` only reads it (builders
        get its ``module()``, a graph of their own over the same weights), so
        ExecuTorch's default deep copy, a copy of every weight, is not needed."""
        return edge_program

    @staticmethod
    def preprocess(edge_program: ExportedProgram, compile_specs: List[CompileSpec]) -> PreprocessResult:
        spec = TensorRTCompileSpec.from_compile_specs(builder_specs(compile_specs))
        graph = engine_graph(edge_program, spec)
        states, user_io, io, module = graph.states, graph.user_io, graph.io, graph.module
        builder = get_engine_builder(spec.engine_builder)
        if graph.weights_as_inputs:
            # The engine holds no weights (they are its inputs): nothing to strip.
            spec = dataclasses.replace(spec, external_weights=False)
        name = getattr(builder, "name", type(builder).__name__)
        num_profiles = graph.num_profiles
        examples = example_inputs(io)
        groups = profile_groups(num_profiles, spec.batch_engines)
        operators = [n.name for n in edge_program.graph.nodes if n.op == "call_function"]
        _LOG.info(
            "building %d TensorRT engine(s) with %s: %d operator(s), %d input(s)",
            len(groups), name, len(operators), len(io.inputs),
        )
        title = _title(edge_program)
        start = time.perf_counter()
        entries: List[blob.EngineEntry] = []
        weights: Optional[int] = None
        external: Tuple[Tuple[str, torch.Tensor], ...] = ()
        onnx_seconds = 0.0
        for index, group in enumerate(groups):
            label = f"{title}, range {index + 1}/{len(groups)}" if len(groups) > 1 else title
            try:
                entry, built = _build_engine(builder, name, spec, module, io, examples, group, label)
            except EngineBuildError as err:
                raise EngineBuildError(str(err), err.nodes, err.reason, tuple(operators)) from err
            entries.append(entry)
            onnx_seconds += built.onnx_seconds
            # Every engine of the delegate embeds the same weights: one report serves.
            weights = built.weight_bytes if weights is None else weights
            external = _same_external_weights(external, built.external_weights, index)
        seconds = time.perf_counter() - start
        entries, state_names = _split_state(entries, len(user_io.inputs), len(user_io.outputs), states)
        ordered = ascending(entries)
        # One store for the delegate's named data: its external weights (to the
        # .ptd), its state's initial values and, with named_engines, its
        # engines (in the .pte).
        store = NamedDataStore()
        records = state_specs(states, [t.dtype for t in io.inputs[len(user_io.inputs):]], state_names, store)
        if records and external:
            raise ValueError(
                "a delegate owning state (mutable buffers) with refitted external weights is not supported yet: "
                "export with external_weights=False or without mutable buffers"
            )
        sections, _records = external_weights_section(external, store)
        if records:
            sections = [encode_state_section(records)]
        data = blob.encode_engines(ordered, sections, named_engines=spec.named_engines)
        if spec.named_engines:
            # Keyed by their SHA-256 (the keys the blob records; its metadata
            # is all it holds): ExecuTorch stores each distinct key once,
            # however many delegates (of any method) hold it.
            recorded, _sections = blob.decode_delegate(data)
            for entry, named in zip(ordered, recorded, strict=True):
                store.add_named_data(named.named_key, entry.blob.engine, blob.ENGINE_ALIGNMENT)
        info = DelegateBuildInfo(
            name, seconds, constant_bytes(edge_program) if weights is None else weights, onnx_seconds
        )
        total = sum(len(e.blob.engine) for e in ordered) if spec.named_engines else len(data)
        _LOG.info("built %d engine(s) of %s bytes in %.2f s", len(entries), f"{total:,}", seconds)
        named_data = store.get_named_data_store_output() if (external or records or spec.named_engines) else None
        return PreprocessResult(processed_bytes=data, data_store_output=named_data, _delegate_info_meta=info)


@dataclass(frozen=True)
class EngineGraph:
    """What a partition's engine computes: ``module`` takes ``io.inputs``
    (the delegate's arguments, then each owned state's value) and returns
    ``io.outputs`` (its results, then each written state's new value);
    ``user_io`` is the delegate's own arguments and results. With
    ``weights_as_inputs`` the states end with the partition's weights."""

    module: torch.nn.Module
    io: DelegateIO
    user_io: DelegateIO
    states: Tuple[OwnedState, ...]
    weights_as_inputs: bool = False

    @property
    def num_profiles(self) -> int:
        return len(self.user_io.inputs[0].ranges) if self.user_io.inputs else 1


def engine_graph(program: ExportedProgram, spec: TensorRTCompileSpec) -> EngineGraph:
    """The engine's graph of a partition's program (``preprocess`` builds it;
    ``validate`` checks the same graph's ONNX)."""
    states = owned_states(program)
    user_io = derive_io(program, spec.optimization_profiles, [s.fqn for s in states])
    as_inputs = weights_as_inputs(spec)
    if as_inputs:
        states += engine_weights(program)
    if not states:
        # Edge ops are callable and dispatch to aten, so the unlifted module
        # (weights as attributes, user inputs as arguments) runs as aten.
        return EngineGraph(program.module(), user_io, user_io, states)
    num_profiles = len(user_io.inputs[0].ranges) if user_io.inputs else 1
    named = [
        (state_input_name(k), None if s.constant else state_output_name(k), s.value) for k, s in enumerate(states)
    ]
    io = with_state_io(user_io, named, num_profiles)
    return EngineGraph(builder_module(program, states), io, user_io, states, as_inputs)


def weights_as_inputs(spec: TensorRTCompileSpec) -> bool:
    """Whether ``external_weights`` makes the partition's weights engine
    inputs: when its builder cannot build refittable engines here (else the
    engines are weight-stripped and refitted at load)."""
    if not spec.external_weights:
        return False
    return not bool(getattr(get_engine_builder(spec.engine_builder), "builds_refittable_engines", True))


def _split_state(
    entries: List[blob.EngineEntry], num_inputs: int, num_outputs: int, states: Sequence[OwnedState]
) -> Tuple[List[blob.EngineEntry], List[Tuple[str, str]]]:
    """The engines with only the delegate's arguments in their signature, and
    the engine's (input, output) tensor names of each state after them (as
    the builder named them; output "" for a weight, which the engine only
    reads): ExecuTorch never passes the state."""
    meta = entries[0].blob.metadata
    written = iter(meta.outputs[num_outputs:])
    names = [
        (i.name, "" if s.constant else next(written).name)
        for i, s in zip(meta.inputs[num_inputs:], states, strict=True)
    ]
    split = []
    for entry in entries:
        m = entry.blob.metadata
        trimmed = dataclasses.replace(m, inputs=m.inputs[:num_inputs], outputs=m.outputs[:num_outputs])
        split.append(dataclasses.replace(entry, blob=blob.DelegateBlob(trimmed, entry.blob.engine)))
    return split, names


def _same_external_weights(
    before: Tuple[Tuple[str, torch.Tensor], ...], now: Tuple[Tuple[str, torch.Tensor], ...], index: int
) -> Tuple[Tuple[str, torch.Tensor], ...]:
    """The delegate's external weights: every engine of it (one per batch
    range) is refitted from one list, so they must name the same weights."""
    if index == 0:
        return tuple(now)
    if [n for n, _ in before] != [n for n, _ in now]:
        raise RuntimeError(
            f"engine {index} of the delegate names other external weights than engine 0 "
            f"({[n for n, _ in now]} vs {[n for n, _ in before]}); its engines share one list of external weights"
        )
    return before


def _title(edge_program: ExportedProgram) -> str:
    """``TensorRT engine 2/3`` when the partitioner's tag on the nodes says which partition this is."""
    tags = {n.meta.get("delegation_tag") for n in edge_program.graph.nodes if n.op == "call_function"}
    positions = {partition_position(tag) for tag in tags} - {None}
    if len(positions) != 1:
        return "TensorRT"
    k, n = positions.pop()  # type: ignore[misc]
    return f"TensorRT engine {k}/{n}"


def build_request(
    spec: TensorRTCompileSpec,
    module: torch.nn.Module,
    io: DelegateIO,
    examples: Tuple[torch.Tensor, ...],
    group: ProfileGroup,
    label: str = "TensorRT",
) -> EngineBuildRequest:
    """What the builder of the engine holding the delegate's profiles ``group`` is given."""
    inputs = select_profiles(io.inputs, group)
    if spec.optimization_profiles and len(group) < len(spec.optimization_profiles):
        spec = spec.replace(optimization_profiles=tuple(spec.optimization_profiles[i] for i in group))
    return EngineBuildRequest(
        module=module,
        example_inputs=engine_examples(examples, inputs),
        input_specs=inputs,
        output_specs=select_profiles(io.outputs, group),
        compile_spec=spec,
        progress_label=label,
    )


def _build_engine(
    builder: EngineBuilder,
    name: str,
    spec: TensorRTCompileSpec,
    module: torch.nn.Module,
    io: DelegateIO,
    examples: Tuple[torch.Tensor, ...],
    group: ProfileGroup,
    label: str,
) -> Tuple[blob.EngineEntry, BuiltEngine]:
    """Builds the engine holding the delegate's profiles ``group``."""
    request = build_request(spec, module, io, examples, group, label)
    spec = request.compile_spec
    built = builder.build(request)
    _check_built(name, built, spec)
    inputs, outputs = _named(request.input_specs, request.output_specs, built.io_names)
    metadata = blob.EngineMetadata(
        flavour=built.flavour,
        builder_version=built.builder_version,
        inputs=inputs,
        outputs=outputs,
        device_index=spec.device_index,
        version_compatible=built.version_compatible,
        num_profiles=len(group),
    )
    need = built.execution_memory_bytes
    hint = blob.UNKNOWN_EXECUTION_MEMORY if need is None else need
    weights = blob.UNKNOWN_WEIGHT_BYTES if built.weight_bytes is None else built.weight_bytes
    return blob.EngineEntry(blob.DelegateBlob(metadata, built.engine), hint, weights), built


def _named(
    inputs: Tuple[blob.TensorSpec, ...],
    outputs: Tuple[blob.TensorSpec, ...],
    names: Optional[Tuple[Tuple[str, ...], Tuple[str, ...]]],
) -> Tuple[Tuple[blob.TensorSpec, ...], Tuple[blob.TensorSpec, ...]]:
    """The delegate's tensors under the engine's own names, when it has them."""
    if names is None:
        return inputs, outputs
    if (len(names[0]), len(names[1])) != (len(inputs), len(outputs)):
        raise RuntimeError(
            f"the engine names {len(names[0])} inputs and {len(names[1])} outputs; "
            f"the delegate has {len(inputs)} and {len(outputs)}"
        )
    renamed_inputs = tuple(dataclasses.replace(s, name=n) for s, n in zip(inputs, names[0], strict=True))
    renamed_outputs = tuple(dataclasses.replace(s, name=n) for s, n in zip(outputs, names[1], strict=True))
    return renamed_inputs, renamed_outputs


def constant_bytes(edge_program: ExportedProgram) -> int:
    """Bytes of the weights and constants the partition holds (what its engine embeds)."""
    tensors = list(edge_program.state_dict.values()) + list(edge_program.constants.values())
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def _check_built(name: str, built: object, spec: TensorRTCompileSpec) -> None:
    if not isinstance(built, BuiltEngine):
        raise TypeError(f"engine builder {name!r} returned {type(built).__name__}, expected BuiltEngine")
    if not isinstance(built.engine, (bytes, bytearray)) or not built.engine:
        raise RuntimeError(f"engine builder {name!r} returned no engine bytes")
    if not isinstance(built.flavour, blob.Flavour):
        raise TypeError(f"engine builder {name!r} returned flavour {built.flavour!r}, expected a blob.Flavour")
    need = built.execution_memory_bytes
    if need is not None and (isinstance(need, bool) or not isinstance(need, int) or not 0 <= need < 2**63):
        raise ValueError(
            f"engine builder {name!r} returned execution_memory_bytes={need!r}; expected None or bytes in 0..2**63-1"
        )
    if spec.version_compatible and not built.version_compatible:
        raise RuntimeError(f"version_compatible=True was asked but engine builder {name!r} built an engine that is not")

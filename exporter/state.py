"""Mutable buffers a TensorRT delegate owns ("state in place", README).

A lifted buffer that the program mutates (a static KV cache updated with
``index_put_``/``copy_``), whose every reader and writer lies in one TensorRT
partition, goes into that delegate: the partitioner tags it there
(``tag_owned_state``, over ExecuTorch's ``tag_mutated_buffer``), so the
partition's program holds it as a BUFFER input and a BUFFER_MUTATION output.
``preprocess`` gives the engine the buffer as an extra input and its new value
as an extra output (``owned_states``, ``builder_module``), records them in the
blob's ``state`` section and the initial value in the program's named data;
ExecuTorch never passes them, the delegate keeps the buffer on the device.
A buffer read or written outside the partition stays ExecuTorch's.

With ``external_weights=True`` and a builder that cannot build refittable
engines on this machine (TensorRT-RTX without a CUDA GPU), the partition's
weights take the same road as read-only state (``engine_weights``): engine
inputs the delegate binds to one device copy per program, uploaded from the
``.ptd`` at the first call, so the engine holds no weight bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from executorch.exir._serialize._named_data_store import NamedDataStore
from executorch.exir.backend.utils import tag_mutated_buffer
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind, OutputKind

from ..dtypes import TENSORRT_IO
from .external_weights import EXTERNAL_TAG, WEIGHT_ALIGNMENT, weights_digest
from .state_section import NAMED_DATA_PREFIX, WEIGHT_KEY_PREFIX, InitialValue, StateSpec


def state_input_name(index: int) -> str:
    return f"state_in_{index}"


def state_output_name(index: int) -> str:
    return f"state_out_{index}"


def state_aliases(output_names: Sequence[str]) -> List[Tuple[str, str]]:
    """(output, input) for each engine output that writes a state's new value
    (``state_out_<k>``, read as ``state_in_<k>``): what a builder declares
    aliased when its engines update state in place."""
    prefix = state_output_name(0)[:-1]
    return [(n, state_input_name(int(n[len(prefix):]))) for n in output_names if n.startswith(prefix)]


def _mutations(program: ExportedProgram) -> Dict[str, torch.fx.Node]:
    """{buffer FQN: the node whose value the program writes back into it}."""
    output = next(n for n in program.graph.nodes if n.op == "output")
    returned = list(output.args[0])  # type: ignore[arg-type]
    return {
        str(spec.target): returned[i]
        for i, spec in enumerate(program.graph_signature.output_specs)
        if spec.kind == OutputKind.BUFFER_MUTATION and isinstance(returned[i], torch.fx.Node)
    }


def tag_owned_state(program: ExportedProgram) -> List[str]:
    """Tags each mutated buffer whose readers and writer all lie in one
    partition with that partition's tag (the delegate then owns it); a
    buffer used across partitions or by the CPU is left untagged and stays an
    ExecuTorch mutable buffer. Call after every operator is tagged. Returns
    the FQNs of the owned buffers."""
    tag_mutated_buffer(program)
    buffers = program.graph_signature.inputs_to_buffers
    writers = _mutations(program)
    owned = []
    for node in program.graph.nodes:
        target = buffers.get(node.name) if node.op == "placeholder" else None
        if target not in writers:
            continue
        tag = node.meta.get("delegation_tag")
        writer = writers[target]
        inside = [*node.users, writer, *(u for u in writer.users if u.op != "output")]
        if tag is not None and all(n.meta.get("delegation_tag") == tag for n in inside):
            owned.append(str(target))
        else:
            node.meta.pop("delegation_tag", None)
    return owned


@dataclass(frozen=True)
class OwnedState:
    """One buffer in a partition's program: its placeholder, the node writing
    its new value (None: a weight the engine only reads), and its value at
    export (the initial value)."""

    fqn: str
    placeholder: torch.fx.Node
    writer: Optional[torch.fx.Node]
    value: torch.Tensor

    @property
    def constant(self) -> bool:
        return self.writer is None


def owned_states(program: ExportedProgram) -> Tuple[OwnedState, ...]:
    """The buffers a partition's program reads as BUFFER inputs and writes as
    BUFFER_MUTATION outputs (the partitioner put them there), in input order."""
    writers = _mutations(program)
    placeholders = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    found = []
    for spec in program.graph_signature.input_specs:
        if spec.kind != InputKind.BUFFER or str(spec.target) not in writers:
            continue
        fqn = str(spec.target)
        value = program.state_dict.get(fqn, program.constants.get(fqn))
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"state buffer {fqn!r} has no value in the partition's program; re-export the model")
        found.append(OwnedState(fqn, placeholders[spec.arg.name], writers[fqn], value))
    return tuple(found)


def engine_weights(program: ExportedProgram) -> Tuple[OwnedState, ...]:
    """The partition's floating-point parameters, buffers and lifted
    constants that no op writes, as read-only state: what the engine reads
    as inputs when its weights are kept outside it without a refit. Integer
    tensors (indices, shape data) stay inside the engine: TensorRT needs some
    of them at build time and they are not weights."""
    writers = _mutations(program)
    placeholders = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
    kinds = (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR)
    found = []
    for spec in program.graph_signature.input_specs:
        if spec.kind not in kinds or str(spec.target) in writers:
            continue
        fqn = str(spec.target)
        value = program.state_dict.get(fqn, program.constants.get(fqn))
        if isinstance(value, torch.Tensor) and value.is_floating_point() and _engine_dtype(value) and value.numel() > 0:
            found.append(OwnedState(fqn, placeholders[spec.arg.name], None, value))
    return tuple(found)


def _engine_dtype(value: torch.Tensor) -> bool:
    return any(getattr(torch, t.name) == value.dtype for t in TENSORRT_IO)


def builder_module(program: ExportedProgram, states: Sequence[OwnedState]) -> torch.fx.GraphModule:
    """The partition as a module taking its user inputs then each state's
    value, and returning its user outputs then each written state's new
    value (its other weights and constants as attributes): what the engine
    computes."""
    signature = program.graph_signature
    graph = torch.fx.Graph()
    root = torch.nn.Module()
    env: Dict[torch.fx.Node, torch.fx.Node] = {}
    placeholders = [n for n in program.graph.nodes if n.op == "placeholder"]
    by_name = {n.name: n for n in placeholders}
    state_nodes = [s.placeholder for s in states]
    for node in [by_name[name] for name in signature.user_inputs] + state_nodes:
        env[node] = graph.placeholder(node.name)
        env[node].meta = dict(node.meta)
    lifted = {**signature.inputs_to_parameters, **signature.inputs_to_buffers, **signature.inputs_to_lifted_tensor_constants}
    for index, node in enumerate(n for n in placeholders if n not in env):
        target = lifted[node.name]
        value = program.state_dict.get(target, program.constants.get(target))
        attribute = f"_constant_{index}"
        root.register_buffer(attribute, value)
        env[node] = graph.get_attr(attribute)
        env[node].meta = dict(node.meta)
    for node in program.graph.nodes:
        if node.op == "call_function":
            env[node] = graph.node_copy(node, lambda arg: env[arg])
    output = next(n for n in program.graph.nodes if n.op == "output")
    returned = list(output.args[0])  # type: ignore[arg-type]
    user = [env[returned[i]] for i, spec in enumerate(signature.output_specs) if spec.kind == OutputKind.USER_OUTPUT]
    graph.output(tuple(user + [env[s.writer] for s in states if s.writer is not None]))
    return torch.fx.GraphModule(root, graph)


def state_specs(
    states: Sequence[OwnedState],
    dtype_codes: Sequence[int],
    names: Sequence[Tuple[str, str]],
    store: NamedDataStore,
) -> Tuple[StateSpec, ...]:
    """The blob's record of each state (engine tensor ``names``: (input,
    output) each, output "" for a weight); the initial values that are not
    all zeros are added to ``store`` (the delegate's named data; a KV cache
    starts as zeros and stores nothing). A weight always goes to the
    ``.ptd`` with its layout (so a changed one is refused naming it), under
    a key holding a digest of its bytes: lifted constants of two methods may
    share a name, never a key with other bytes."""
    specs = []
    for state, dtype, (input_name, output_name) in zip(states, dtype_codes, names, strict=True):
        value = state.value.detach().contiguous()
        if state.constant:
            key = f"{WEIGHT_KEY_PREFIX}{weights_digest([(state.fqn, value)])}.{state.fqn}"
            store.add_named_data(key, value, alignment=WEIGHT_ALIGNMENT, external_tag=EXTERNAL_TAG)
            initial, initial_key = InitialValue.NAMED_DATA, key
        elif bool(torch.any(value != 0)):
            key = NAMED_DATA_PREFIX + state.fqn
            store.add_named_data(key, value.view(torch.uint8).reshape(-1).numpy().tobytes())
            initial, initial_key = InitialValue.NAMED_DATA, key
        else:
            initial, initial_key = InitialValue.ZEROS, ""
        specs.append(StateSpec(state.fqn, input_name, output_name, dtype, tuple(value.shape), initial, initial_key))
    return tuple(specs)

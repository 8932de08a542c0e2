"""The blob's ``state`` section (docs/blob_format.md, "Sections"): the mutable
buffers a delegate owns, each with the engine tensors that read and write it
and where its initial value is. The C++ reader is ``backend/blob/state_section.cpp``.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ..dtypes import ITEMSIZES, DtypeAndShape
from .blob import (
    MAX_NAME_BYTES,
    MAX_RANK,
    MAX_TENSOR_BYTES,
    BlobFormatError,
    BlobSection,
    EngineMetadata,
    SectionKind,
    _encode_str,
    _Reader,
    external_weights_of,
)

# Buffers and weights of one delegate (a model's weights can number thousands).
MAX_STATES = 1 << 16
# The named-data key of a buffer's initial value (ExecuTorch's NamedDataStore),
# and of a weight the engine reads as an input (in the .ptd).
NAMED_DATA_PREFIX = "etrt.state."
WEIGHT_KEY_PREFIX = "etrt.weight."


class InitialValue(enum.IntEnum):
    ZEROS = 0  # every byte 0: nothing stored
    NAMED_DATA = 1  # the bytes under ``initial_key`` in the program's named data


@dataclass(frozen=True)
class StateSpec(DtypeAndShape):
    """One buffer a delegate owns: ``name`` is the buffer's fully qualified
    name in the model; the engine reads it as input ``input`` and writes its
    new value as output ``output``; ``output`` "": a weight, which the
    engine only reads."""

    name: str
    input: str
    output: str
    dtype: int  # ExecuTorch ScalarType code
    shape: Tuple[int, ...]
    initial: InitialValue = InitialValue.ZEROS
    initial_key: str = ""  # with NAMED_DATA

    @property
    def constant(self) -> bool:
        return not self.output

    def describe(self) -> str:
        """``cache float32 [2, 3] (in state_in_0, out state_out_0)``."""
        if self.constant:
            return f"{self.name} {self.dtype_name} {list(self.shape)} (in {self.input}, read only)"
        return f"{self.name} {self.dtype_name} {list(self.shape)} (in {self.input}, out {self.output})"


def _check(spec: StateSpec) -> None:
    if spec.dtype not in ITEMSIZES:
        raise ValueError(f"state {spec.name!r} has unsupported dtype code {spec.dtype}")
    if len(spec.shape) > MAX_RANK or any(d < 0 for d in spec.shape):
        raise ValueError(f"state {spec.name!r} has shape {list(spec.shape)}; rank <= {MAX_RANK}, dims >= 0")
    if spec.nbytes >= MAX_TENSOR_BYTES:
        raise ValueError(f"state {spec.name!r} holds {spec.nbytes} bytes, more than a 64-bit size can count")
    if spec.constant and spec.initial != InitialValue.NAMED_DATA:
        raise ValueError(f"weight {spec.name!r}: a read-only state's value must be in named data")
    if spec.input == spec.output:
        raise ValueError(f"state {spec.name!r}: its engine input and output must differ, both are {spec.input!r}")
    if (spec.initial == InitialValue.NAMED_DATA) != bool(spec.initial_key):
        raise ValueError(f"state {spec.name!r}: a named-data initial value needs a key, zeros none")


def encode_state_section(states: Sequence[StateSpec]) -> BlobSection:
    if not 1 <= len(states) <= MAX_STATES:
        raise ValueError(f"a delegate owns 1..{MAX_STATES} state buffers, got {len(states)}")
    names = [s.name for s in states]
    tensors = [t for s in states for t in (s.input, s.output) if t]
    if len(set(names)) != len(names) or len(set(tensors)) != len(tensors):
        raise ValueError(f"state names and engine tensor names must be unique: {names}, {tensors}")
    out = bytearray(struct.pack("<II", len(states), 0))
    for spec in states:
        _check(spec)
        for text, what in ((spec.name, "state name"), (spec.input, "state input")):
            out += _encode_str(text, MAX_NAME_BYTES, what)
        # An empty output: a weight the engine only reads.
        out += _encode_str(spec.output, MAX_NAME_BYTES, "state output") if spec.output else struct.pack("<I", 0)
        out += struct.pack("<BBBB", spec.dtype, len(spec.shape), int(spec.initial), 0)
        out += struct.pack(f"<{len(spec.shape)}q", *spec.shape)
        if spec.initial == InitialValue.NAMED_DATA:
            out += _encode_str(spec.initial_key, MAX_NAME_BYTES, "state initial-value key")
    return BlobSection(SectionKind.STATE, bytes(out))


def decode_state_section(payload: bytes, taken: Sequence[str] = ()) -> Tuple[StateSpec, ...]:
    """The section's buffers; ``taken``: the delegate's own tensor names,
    which no state tensor may reuse."""
    reader = _Reader(payload)
    count, _reserved = reader.take("<II")
    # Each entry takes at least 18 bytes: a tiny payload cannot claim thousands.
    if not 1 <= count <= MAX_STATES or count * 18 > len(payload) - 8:
        raise BlobFormatError(f"state section: {count} buffers in {len(payload)} bytes, expected 1..{MAX_STATES}")
    states: List[StateSpec] = []
    for _ in range(count):
        name = reader.text(MAX_NAME_BYTES, "state name")
        input_name = reader.text(MAX_NAME_BYTES, "state input")
        output_name = reader.text(MAX_NAME_BYTES, "state output", allow_empty=True)
        dtype, rank, initial, _pad = reader.take("<BBBB")
        if dtype not in ITEMSIZES or rank > MAX_RANK:
            raise BlobFormatError(f"state {name!r}: dtype code {dtype} or rank {rank} not supported")
        shape = reader.take(f"<{rank}q")
        try:
            kind = InitialValue(initial)
        except ValueError:
            raise BlobFormatError(f"state {name!r}: unknown initial-value kind {initial}") from None
        key = reader.text(MAX_NAME_BYTES, "state initial-value key") if kind == InitialValue.NAMED_DATA else ""
        spec = StateSpec(name, input_name, output_name, dtype, tuple(shape), kind, key)
        try:
            _check(spec)
        except ValueError as err:
            raise BlobFormatError(str(err)) from None
        if any(s.name == name for s in states):
            raise BlobFormatError(f"state {name!r} appears twice")
        used = {t for s in states for t in (s.input, s.output) if t} | set(taken)
        if input_name in used or output_name in used:
            raise BlobFormatError(f"state {name!r}: an engine tensor name is used twice (by another state or an argument)")
        states.append(spec)
    reader.done()
    return tuple(states)


def delegate_states(sections: Sequence[BlobSection], signature: Optional[EngineMetadata] = None) -> Tuple[StateSpec, ...]:
    """The states a delegate's sections declare (none without a state
    section), checked against the delegate's ``signature`` when given."""
    taken = [t.name for t in (*signature.inputs, *signature.outputs)] if signature is not None else []
    for section in sections:
        if section.kind == SectionKind.STATE:
            return decode_state_section(section.payload, taken)
    return ()


@dataclass(frozen=True)
class KeptWeights:
    """The weights a delegate keeps outside its engines, in the ``.ptd``:
    refitted at load (section ``external_weights``) or read by the engines as
    inputs (read-only entries of section ``state``)."""

    count: int = 0
    nbytes: int = 0
    as_inputs: bool = False

    @property
    def how(self) -> str:
        return "read by the engines as inputs" if self.as_inputs else "refitted at load"


def states_and_weights(
    sections: Sequence[BlobSection], signature: Optional[EngineMetadata] = None
) -> Tuple[Tuple[StateSpec, ...], KeptWeights]:
    """The mutable buffers a delegate owns, and the weights it keeps in the ``.ptd``."""
    states = delegate_states(sections, signature)
    read_only = [s for s in states if s.constant]
    refitted = external_weights_of(sections)
    weights = KeptWeights(
        len(read_only) + len(refitted), sum(s.nbytes for s in (*read_only, *refitted)), bool(read_only)
    )
    return tuple(s for s in states if not s.constant), weights
